"""`wagate doctor` in a real terminal: what passes, and what it says to fix."""

from __future__ import annotations

import re

import pexpect
import pytest

from tests.live import WAGATE, LiveServer, free_port


def doctor(env: dict[str, str], cwd: str) -> tuple[int, str]:
    child = pexpect.spawn(WAGATE, ["doctor"], env=env, cwd=cwd, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None
    return child.exitstatus, str(child.before).replace("\r\n", "\n")


def test_a_healthy_installation(live: LiveServer) -> None:
    code, out = doctor(live.env, str(live.data_dir.parent))
    lines = out.splitlines()
    assert code == 0, out
    assert lines[0].startswith("✓ config") and "database sqlite, engine sim" in lines[0]
    assert any(x.startswith("✓ api key") and "AUTHENTICATION_API_KEY is set" in x for x in lines)
    assert any(x.startswith("✓ database") and "wagate.db" in x for x in lines)
    assert any(x.startswith("✓ migrations") and "up to date" in x for x in lines)
    assert any(x.startswith("✓ server") and f"answering at {live.url}" in x for x in lines)
    # asked of the server: sim is a warning, not a failure
    assert any(x.startswith("! engine") and "the server runs sim on sqlite" in x for x in lines)
    assert "fix: set WAGATE_ENGINE=neonize" in out
    # this machine has no route to WhatsApp; the sim does not need one
    assert any(x.startswith(("✓ whatsapp", "! whatsapp")) for x in lines), out
    assert "All checks passed" not in out
    assert lines[-1].startswith("No problems to fix; ") and "warning(s)" in lines[-1]


def test_the_engine_is_the_servers_not_this_environments(live: LiveServer) -> None:
    env = {**live.env, "WAGATE_ENGINE": "neonize"}
    code, out = doctor(env, str(live.data_dir.parent))
    assert code == 0, out
    flat = " ".join(out.split())
    assert "! engine the server runs sim on sqlite" in flat
    assert "this environment says engine neonize (WAGATE_ENGINE)" in flat
    assert "fix: run doctor with the server's environment" in flat
    assert "All checks passed" not in out


def test_what_to_fix(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    where = tmp_path_factory.mktemp("doctor")
    dead = free_port()
    env = {
        **live.env,
        "WAGATE_DATA_DIR": str(where / "data"),
        "AUTHENTICATION_API_KEY": "",
        "DATABASE_PROVIDER": "postgresql",
        "DATABASE_CONNECTION_URI": f"postgresql://wagate:hunter2secret@127.0.0.1:{dead}/wagate",
        "RABBITMQ_ENABLED": "true",
        "RABBITMQ_URI": f"amqp://guest:guest@127.0.0.1:{dead}/",
        "SERVER_PORT": str(live.port),  # taken by the live server: doctor finds a wagate there
    }
    code, out = doctor(env, str(where))
    flat = " ".join(out.split(" "))
    while "  " in flat:
        flat = flat.replace("  ", " ")
    assert code == 1, out
    assert f"✗ database cannot use postgresql+asyncpg://wagate:***@127.0.0.1:{dead}" in flat
    assert "hunter2secret" not in out
    assert "fix: check DATABASE_PROVIDER and DATABASE_CONNECTION_URI" in out
    assert f"✗ rabbitmq 127.0.0.1:{dead} does not answer" in flat
    assert "fix: start that service or correct RABBITMQ_URI" in out
    assert "! api key" in out and "first start generates one" in out
    assert "problem(s) to fix" in out.splitlines()[-1]


def test_invalid_settings_and_a_busy_port(
    live: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    where = tmp_path_factory.mktemp("doctor-bad")
    env = {**live.env, "WAGATE_DATA_DIR": str(where / "data"), "QRCODE_LIMIT": "many"}
    code, out = doctor(env, str(where))
    assert code == 1
    assert "Invalid setting QRCODE_LIMIT='many'" in out.splitlines()[0]
    assert out.startswith("✗ config")
    assert "fix: correct the variables named above" in out

    with_port = {**live.env, "WAGATE_DATA_DIR": str(where / "data")}
    busy = pexpect.spawn(
        "python3",
        [
            "-c",
            "import socket,time;s=socket.socket();"
            "s.bind(('127.0.0.1',0));s.listen();"
            "print(s.getsockname()[1],flush=True);time.sleep(60)",
        ],
        encoding="utf-8",
        timeout=10,
    )
    busy.expect(r"(\d+)")
    assert isinstance(busy.match, re.Match)
    try:
        with_port["SERVER_PORT"] = busy.match.group(1)
        code, out = doctor(with_port, str(where))
    finally:
        busy.terminate(force=True)
    assert code == 1, out
    assert "✗ server" in out and "cannot be used" in out
    assert "fix: set SERVER_PORT to a free port" in out
    assert "! database" in out and "does not exist yet" in out
