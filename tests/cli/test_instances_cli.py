"""`wagate instances …` in a real terminal against a real server."""

from __future__ import annotations

import subprocess
from typing import Any

import pexpect
import pytest

from tests.conftest import API_KEY
from tests.live import WAGATE, LiveServer, free_port

SPINNER = "[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]"


def env_for(live: LiveServer, key: str = API_KEY, url: str | None = None) -> dict[str, str]:
    return {**live.env, "WAGATE_URL": url or live.url, "WAGATE_APIKEY": key}


def terminal(live: LiveServer, *args: str, **env: Any) -> pexpect.spawn[str]:
    return pexpect.spawn(
        WAGATE,
        list(args),
        env=env_for(live, **env),
        cwd=str(live.data_dir.parent),
        encoding="utf-8",
        timeout=20,
        dimensions=(60, 120),
    )


def run(live: LiveServer, *args: str, **env: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WAGATE, *args],
        env=env_for(live, **env),
        cwd=str(live.data_dir.parent),
        capture_output=True,
        text=True,
        timeout=30,
    )


def finish(child: pexpect.spawn[str]) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None
    return child.exitstatus


def test_connect_draws_the_qr_and_waits_until_open(live: LiveServer) -> None:
    live.call(
        "POST",
        "/instance/create",
        json={"instanceName": "cli-a", "integration": "WHATSAPP-BAILEYS"},
    )
    try:
        child = terminal(live, "instances", "connect", "cli-a", "--timeout", "60")
        child.expect("Scan this QR code for cli-a")
        child.expect("█{8,}")  # the code itself, in block characters
        child.expect("Linked devices")
        child.expect(SPINNER + " Waiting for a phone to scan")
        # The QR rotates every 2 s: a fresh one is drawn without the command being asked.
        child.expect(r"Scan this QR code for cli-a \(code 2\)", timeout=10)
        child.expect(SPINNER)
        live.call("POST", "/sim/cli-a/scan", json={"number": "5511999990077"})
        child.expect("✓ cli-a is connected as 5511999990077.")
        assert finish(child) == 0

        listed = run(live, "instances", "list")
        assert listed.returncode == 0
        line = next(x for x in listed.stdout.splitlines() if x.startswith("cli-a"))
        assert line.split()[:5] == ["cli-a", "open", "open", "200", "5511999990077"]
        again = run(live, "instances", "connect", "cli-a")
        assert again.returncode == 0 and "already connected" in again.stdout
    finally:
        live.call("DELETE", "/instance/delete/cli-a")


def test_connect_says_why_it_stopped(live: LiveServer) -> None:
    live.call(
        "POST",
        "/instance/create",
        json={"instanceName": "cli-b", "integration": "WHATSAPP-BAILEYS"},
    )
    try:
        child = terminal(live, "instances", "connect", "cli-b", "--timeout", "60")
        child.expect("Scan this QR code for cli-b")
        child.expect(SPINNER)
        live.call("POST", "/sim/cli-b/disconnect", json={"code": 403})
        child.expect("✗ cli-b is close: Stopped: the account is forbidden.")
        child.expect("What to do: check the phone")
        assert finish(child) == 1
    finally:
        live.call("DELETE", "/instance/delete/cli-b")


def test_connect_gives_up_after_its_timeout(live: LiveServer) -> None:
    live.call(
        "POST",
        "/instance/create",
        json={"instanceName": "cli-c", "integration": "WHATSAPP-BAILEYS"},
    )
    try:
        child = terminal(live, "instances", "connect", "cli-c", "--timeout", "1")
        child.expect("Timed out after 1s; cli-c is still connecting.")
        assert finish(child) == 1
    finally:
        live.call("DELETE", "/instance/delete/cli-c")


def test_create_state_logout_delete(live: LiveServer) -> None:
    made = run(live, "instances", "create", "cli-d")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split("Its token (shown only now): ")[1].split()[0]
    state = run(live, "instances", "state", "cli-d", key=token)
    assert state.returncode == 0
    assert state.stdout.splitlines()[0] == "cli-d: close (idle, reason 200)"
    assert "wagate instances connect cli-d" in state.stdout
    out = run(live, "instances", "logout", "cli-d")
    assert out.stdout.strip() == "cli-d: Instance was already disconnected"
    refused = terminal(live, "instances", "delete", "cli-d")
    refused.expect(r"Delete cli-d and everything it holds\? \[y/N\]")
    refused.sendline("n")
    assert finish(refused) == 1
    gone = run(live, "instances", "delete", "cli-d", "--yes")
    assert gone.returncode == 0 and gone.stdout.strip() == "cli-d: deleted"
    assert live.call("GET", "/instance/fetchInstances") == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("instances", "state", "nobody"), {}, 'The "nobody" instance does not exist'),
        (("instances", "list"), {"key": "not-the-key-at-all"}, "Unauthorized (check --apikey"),
        (("instances", "create", "x/y"), {}, 'may not contain "/"'),
        (("instances", "connect", "nobody"), {}, 'The "nobody" instance does not exist'),
        (
            ("instances", "list"),
            {"url": f"http://127.0.0.1:{free_port()}"},
            "cannot reach wagate at http://127.0.0.1:",
        ),
    ],
)
def test_failures_are_explained(
    live: LiveServer, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    done = run(live, *args, **env)
    assert done.returncode == 1
    assert done.stderr.startswith("wagate: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr
