"""A real wagate server (`wagate serve` in a subprocess on a free loopback port), for the tests
that need a browser or a terminal on the other end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
WAGATE = str(Path(sys.executable).with_name("wagate"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, key: str = API_KEY) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, headers={"apikey": key}, timeout=10)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.client() as c:
            res = c.request(method, path, **kwargs)
        assert res.status_code < 400, f"{method} {path}: {res.status_code} {res.text}"
        return res.json()


def server_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "WAGATE_"))}
    env.update(
        AUTHENTICATION_API_KEY=API_KEY,
        SERVER_HOST="127.0.0.1",
        SERVER_PORT=str(port),
        WAGATE_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        WAGATE_ENGINE="sim",  # these servers are driven through the /sim routes
    )
    env.update(extra)
    return env


def run_server(tmp: Path, **extra: str) -> Iterator[LiveServer]:
    """Start `wagate serve`, wait for /health, yield, then stop it and show its log on failure."""
    port = free_port()
    data_dir = tmp / "data"
    env = server_env(data_dir, port, **extra)
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [WAGATE, "serve"], env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"wagate serve exited: {log.read_text()}")
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"wagate serve did not answer in time: {log.read_text()}")
            time.sleep(0.1)
        yield LiveServer(url, port, data_dir, env, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
