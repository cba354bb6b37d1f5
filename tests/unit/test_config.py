"""Configuration: Evolution's variable names, `.env`, refusal of invalid settings naming the
variable, the generated API key, and the two commands (`serve`, `migrate`) as a user runs them."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from wagate.config import SettingsError, load_settings, resolve_api_key

KEY = "config-test-key-0123456789abcdef"
# Variables a developer's shell may carry that would leak into what is tested here.
OURS = (
    "SERVER_",
    "AUTHENTICATION_",
    "DATABASE_",
    "QRCODE_",
    "DEL_INSTANCE",
    "LOG_",
    "CACHE_",
    "WAGATE_",
    "API_AUDIO_CONVERTER",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment and an empty working directory (so no stray `.env` is read)."""
    for name in list(os.environ):
        if name.startswith(OURS):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def _clean_environ(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    environ.update(extra)
    return environ


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wagate(
    *args: str, cwd: Path, timeout: float = 60, **environ: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wagate", *args],
        cwd=cwd,
        env=_clean_environ(**environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- reading the settings -----------------------------------------------------------------


def test_evolution_variable_names_are_honoured(env: pytest.MonkeyPatch) -> None:
    values = {
        "SERVER_URL": "https://api.example.com",
        "SERVER_PORT": "9090",
        "AUTHENTICATION_API_KEY": KEY,
        "DATABASE_PROVIDER": "postgresql",
        "DATABASE_CONNECTION_URI": "postgresql://u@db:5432/evo",
        "DATABASE_CONNECTION_CLIENT_NAME": "evolution_exchange",
        "CACHE_REDIS_ENABLED": "false",
        "CACHE_REDIS_URI": "redis://127.0.0.1:6379/6",
        "QRCODE_LIMIT": "7",
        "QRCODE_COLOR": "#175197",
        "DEL_INSTANCE": "5",
        "LOG_LEVEL": "ERROR,WARN,DEBUG,INFO,LOG,VERBOSE,DARK,WEBHOOKS",
    }
    for name, value in values.items():
        env.setenv(name, value)
    s = load_settings()
    assert s.public_url == "https://api.example.com"
    assert s.server_port == 9090
    assert s.api_key == KEY
    assert (s.database_provider, s.database_uri) == ("postgresql", "postgresql://u@db:5432/evo")
    assert s.client_name == "evolution_exchange"
    assert (s.cache_redis_enabled, s.cache_redis_uri) == (False, "redis://127.0.0.1:6379/6")
    assert (s.qrcode_limit, s.qrcode_color) == (7, "#175197")
    assert s.del_instance == 5
    assert s.log_level == "DEBUG", "Evolution's list: the most verbose level wins"


def test_defaults_are_the_embedded_ones(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.database_provider == "sqlite" and s.database_uri is None
    assert s.data_dir == Path("data")
    assert (s.server_host, s.server_port) == ("127.0.0.1", 8080)
    assert s.public_url == "http://127.0.0.1:8080"
    assert s.api_key is None, "no built-in key: one is generated or start-up refuses"
    assert (s.qrcode_limit, s.del_instance, s.log_level) == (30, None, "INFO")
    assert s.engine == "neonize", "the real engine; WAGATE_ENGINE=sim keeps the simulator"


def test_media_conversion_settings(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.ffmpeg_path, s.audio_converter_url, s.audio_converter_key) == (None, None, None)
    assert s.media_convert_timeout == 60.0
    for name in ("API_AUDIO_CONVERTER", "API_AUDIO_CONVERTER_KEY", "WAGATE_FFMPEG_PATH"):
        env.setenv(name, " ")  # Evolution's .env.example leaves the converter empty
    s = load_settings()
    assert (s.ffmpeg_path, s.audio_converter_url, s.audio_converter_key) == (None, None, None)
    env.setenv("API_AUDIO_CONVERTER", "http://127.0.0.1:4040/process-audio")
    env.setenv("API_AUDIO_CONVERTER_KEY", "converter-secret")
    env.setenv("WAGATE_FFMPEG_PATH", "/opt/ffmpeg/bin/ffmpeg")
    env.setenv("WAGATE_MEDIA_CONVERT_TIMEOUT_SECONDS", "5")
    s = load_settings()
    assert s.audio_converter_url == "http://127.0.0.1:4040/process-audio"
    assert s.audio_converter_key == "converter-secret" and "converter-secret" not in repr(s)
    assert (s.ffmpeg_path, s.media_convert_timeout) == ("/opt/ffmpeg/bin/ffmpeg", 5.0)
    env.setenv("API_AUDIO_CONVERTER", "127.0.0.1:4040")
    with pytest.raises(SettingsError, match="API_AUDIO_CONVERTER='127.0.0.1:4040'.*http://"):
        load_settings()


def test_webhook_ca_file_must_load(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import trustme

    assert load_settings().webhook_ca_file is None
    env.setenv("WAGATE_WEBHOOK_CA_FILE", " ")
    assert load_settings().webhook_ca_file is None
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    env.setenv("WAGATE_WEBHOOK_CA_FILE", str(pem))
    assert load_settings().webhook_ca_file == str(pem)
    (tmp_path / "not.pem").write_text("not a certificate\n")
    for bad in (tmp_path / "missing.pem", tmp_path / "not.pem"):
        env.setenv("WAGATE_WEBHOOK_CA_FILE", str(bad))
        with pytest.raises(SettingsError, match="WAGATE_WEBHOOK_CA_FILE.*cannot load CA"):
            load_settings()


@pytest.mark.parametrize(
    ("raw", "minutes"), [("false", None), ("FALSE", None), ("0", None), ("", None), ("15", 15)]
)
def test_del_instance_is_minutes_or_false(
    env: pytest.MonkeyPatch, raw: str, minutes: int | None
) -> None:
    env.setenv("DEL_INSTANCE", raw)
    assert load_settings().del_instance == minutes


def test_dotenv_is_honoured_and_the_environment_wins(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"AUTHENTICATION_API_KEY={KEY}\nQRCODE_LIMIT=12\nSERVER_PORT=8181\n"
        "DATABASE_CONNECTION_CLIENT_NAME=from_dotenv\n"
    )
    env.setenv("SERVER_PORT", "8282")
    s = load_settings()
    assert (s.api_key, s.qrcode_limit, s.client_name) == (KEY, 12, "from_dotenv")
    assert s.server_port == 8282


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QRCODE_LIMIT", "abc"),
        ("QRCODE_LIMIT", "0"),
        ("QRCODE_COLOR", "green"),
        ("SERVER_PORT", "70000"),
        ("DATABASE_PROVIDER", "oracle"),
        ("DEL_INSTANCE", "soon"),
        ("LOG_LEVEL", "LOUD"),
        ("CACHE_REDIS_ENABLED", "maybe"),
        ("AUTHENTICATION_API_KEY", "BQYHJGJHJ"),  # Evolution's well-known default
        ("AUTHENTICATION_API_KEY", "short-key"),
        ("WAGATE_ENGINE", "baileys"),
        ("WAGATE_LINK_PREVIEW_TIMEOUT_SECONDS", "-1"),
    ],
)
def test_an_invalid_setting_names_its_variable(
    env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert f"Invalid setting {name}=" in str(err.value)


def test_an_invalid_setting_in_dotenv_names_its_variable(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("QRCODE_LIMIT=many\n")
    with pytest.raises(SettingsError, match="Invalid setting QRCODE_LIMIT='many'"):
        load_settings()


def test_a_key_is_generated_once_and_kept_private(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path / "data")
    key, generated = resolve_api_key(s)
    assert generated and len(key) >= 32
    saved = tmp_path / "data" / "api-key"
    assert saved.read_text().strip() == key
    assert saved.stat().st_mode & 0o077 == 0, "only the owner may read the key"
    assert resolve_api_key(s) == (key, False), "the next start reuses it"
    assert resolve_api_key(load_settings(data_dir=tmp_path / "data", api_key=KEY)) == (KEY, False)


# --- the commands, as a user runs them --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"), [("QRCODE_LIMIT", "abc"), ("AUTHENTICATION_API_KEY", "BQYHJGJHJ")]
)
def test_serve_refuses_to_start_with_an_invalid_setting(
    tmp_path: Path, name: str, value: str
) -> None:
    started = time.monotonic()
    setting: dict[str, Any] = {name: value}  # a str each; Any, as a name could be "timeout"
    done = _wagate("serve", "--port", str(_free_port()), cwd=tmp_path, **setting)
    assert done.returncode == 2, done.stderr
    assert "cannot start" in done.stderr
    assert f"Invalid setting {name}=" in done.stderr
    assert time.monotonic() - started < 30, "it stops at once, it does not start serving"
    assert not (tmp_path / "data" / "api-key").exists(), "nothing generated for a refused start"


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    done = _wagate("migrate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("database at ")
    heads = done.stdout.removeprefix("database at ").strip().split(", ")
    with sqlite3.connect(tmp_path / "data" / "wagate.db") as db:
        applied = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert sorted(applied) == sorted(heads)
    assert {"instances", "settings", "webhooks"} <= tables
    again = _wagate("migrate", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, done.stdout), "idempotent"


class _Server:
    """`python -m wagate serve --host 127.0.0.1 --port P` in a subprocess, in a working dir."""

    def __init__(self, cwd: Path, **environ: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wagate",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=cwd,
            env=_clean_environ(**environ),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx2.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer within {timeout} s:\n{self.output()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._out.close()
        return int(self.proc.returncode)

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text()


def test_serve_starts_answers_and_prints_the_generated_key(tmp_path: Path) -> None:
    assert _wagate("migrate", cwd=tmp_path).returncode == 0  # start-up migrates again: idempotent
    server = _Server(tmp_path)
    try:
        server.wait_ready()
        root = httpx2.get(f"{server.url}/", timeout=5.0)
        assert root.status_code == 200
        assert root.json()["message"] == "Welcome to the Evolution API, it is working!"
        assert root.json()["manager"] == f"{server.url}/manager"
        health = httpx2.get(f"{server.url}/health", timeout=5.0).json()
        assert (health["live"], health["ready"], health["database"]["provider"]) == (
            True,
            True,
            "sqlite",
        )
        key = (tmp_path / "data" / "api-key").read_text().strip()
        assert key in server.output(), "the generated key is printed for the operator"
        r = httpx2.get(
            f"{server.url}/instance/fetchInstances", headers={"apikey": key}, timeout=5.0
        )
        assert (r.status_code, r.json()) == (200, [])
        r = httpx2.get(f"{server.url}/instance/fetchInstances", timeout=5.0)
        assert r.status_code == 401
    finally:
        _stopped_gracefully(server)

    configured = _Server(tmp_path, AUTHENTICATION_API_KEY=KEY)  # a configured key wins
    try:
        configured.wait_ready()
        for apikey, status in ((KEY, 200), (key, 401)):
            r = httpx2.get(
                f"{configured.url}/instance/fetchInstances",
                headers={"apikey": apikey},
                timeout=5.0,
            )
            assert r.status_code == status
    finally:
        _stopped_gracefully(configured)
    assert KEY not in configured.output(), "a configured key is never logged"


def _stopped_gracefully(server: _Server) -> None:
    """SIGTERM: uvicorn shuts the app down (lifespan) and exits 0 or re-raises the signal."""
    code = server.stop()
    assert code in (0, -15), server.output()
    assert "Application shutdown complete" in server.output()


def test_a_rejected_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message names the variable but never prints the secret that was refused."""
    monkeypatch.setenv("AUTHENTICATION_API_KEY", "short-secret")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "AUTHENTICATION_API_KEY" in message
    assert "short-secret" not in message
    assert "<hidden>" in message
