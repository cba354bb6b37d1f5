"""The README's walkthrough, run as written (bash and curl) against a sim server: every step
answers, the webhook receiver prints the message, and findMessages finds it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.live import ROOT, LiveServer, free_port


def _walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    part = text.split("## First steps with curl", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", part, flags=re.S)
    script = "\n".join(b for b in blocks if "$URL" in b)
    assert "sendText/friend" in script and "findMessages/demo" in script
    return script


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_walkthrough_runs_as_written(live: LiveServer) -> None:
    port = str(free_port())
    script = _walkthrough().replace("9000", port)
    script = script.replace(
        "export KEY=$(cat data/api-key) URL=http://127.0.0.1:8080",
        f"export KEY={live.env['AUTHENTICATION_API_KEY']} URL={live.url}",
    )
    done = subprocess.run(
        ["bash", "-c", "set -e\n" + script],
        cwd=ROOT,
        env=live.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert '"state":"open"' in out
    assert "webhook set: 201" in out and "sent: 201" in out
    assert "webhook: messages.upsert Hello from friend" in out
    assert '"status":"delivered"' in out
    assert '"conversation":"Hello from friend"' in out
    assert "Instance deleted" in out
    assert max(len(line) for line in out.splitlines()) < 300, out  # no base64 flood
