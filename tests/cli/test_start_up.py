"""What a newcomer sees after ./scripts/serve: the start-up log names the Manager and the docs,
says when WhatsApp cannot be reached (suggesting the sim), and ./scripts/wagate is the CLI."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer, run_server


def _log_until(log: Path, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = log.read_text(errors="replace")
        if text in got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the log:\n{log.read_text(errors='replace')}")


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def test_the_banner_names_the_manager_and_the_docs(tmp_path: Path) -> None:
    for live in run_server(tmp_path, LOG_LEVEL="INFO"):
        text = _log_until(live.log, "wagate ready")
        line = next(x for x in text.splitlines() if "wagate ready" in x)
        assert f"{live.url}/manager" in line and f"{live.url}/docs" in line
        assert "engine=sim" in line or '"engine": "sim"' in line


@pytest.mark.skipif(_resolves("web.whatsapp.com"), reason="this machine can resolve WhatsApp")
def test_no_route_at_start_up_suggests_the_sim(tmp_path: Path) -> None:
    for live in run_server(tmp_path, LOG_LEVEL="INFO", WAGATE_ENGINE="neonize"):
        text = _log_until(live.log, "no route to WhatsApp")
        line = next(x for x in text.splitlines() if "no route to WhatsApp" in x)
        assert "DNS lookup of web.whatsapp.com failed" in line
        assert "WAGATE_ENGINE=sim" in line


def test_the_checkouts_cli_wrapper_talks_to_the_server(live: LiveServer) -> None:
    live.call(
        "POST",
        "/instance/create",
        json={"instanceName": "wrapped", "integration": "WHATSAPP-BAILEYS"},
    )
    try:
        done = subprocess.run(
            [str(ROOT / "scripts" / "wagate"), "instances", "list", "--url", live.url],
            env=live.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "wrapped" in done.stdout
    finally:
        live.call("DELETE", "/instance/delete/wrapped")
