"""`wagate doctor`: check the configuration, the database, the services, the engine and the
server, and say what to fix."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx2

from wagate.config import MIN_KEY_LENGTH, Settings, SettingsError, load_settings
from wagate.console.client import say

OK, WARN, FAIL = "ok", "warn", "fail"
MARKS = {OK: "✓", WARN: "!", FAIL: "✗"}
DEFAULT_PORTS = {
    "redis": 6379,
    "rediss": 6380,
    "amqp": 5672,
    "amqps": 5671,
    "nats": 4222,
    "mqtt": 1883,
    "http": 80,
    "https": 443,
    "postgresql": 5432,
    "mysql": 3306,
}


@dataclass(frozen=True, slots=True)
class Finding:
    status: str
    what: str
    detail: str
    fix: str = ""


def check_all(settings_factory: Callable[[], Settings] = load_settings) -> list[Finding]:
    try:
        settings = settings_factory()
    except SettingsError as exc:
        return [
            Finding(FAIL, "config", str(exc), "correct the variables named above (env or .env)")
        ]
    found = [
        Finding(
            OK,
            "config",
            f"valid (database {settings.database_provider}, engine {settings.engine}, "
            f"public URL {settings.public_url})",
        )
    ]
    found.append(_api_key(settings))
    found.append(_data_dir(settings.data_dir))
    found.extend(asyncio.run(_database(settings)))
    found.extend(_services(settings))
    found.append(_engine(settings))
    found.append(_server(settings))
    return found


def _api_key(settings: Settings) -> Finding:
    if settings.api_key:
        return Finding(OK, "api key", "AUTHENTICATION_API_KEY is set")
    path = settings.data_dir / "api-key"
    if path.exists():
        if len(path.read_text().strip()) >= MIN_KEY_LENGTH:
            return Finding(OK, "api key", f"using the key saved in {path}")
        return Finding(
            FAIL, "api key", f"{path} holds a key that is too short", f"delete {path} or set one"
        )
    return Finding(
        WARN,
        "api key",
        "none set yet: the first start generates one and saves it in " + str(path),
        "set AUTHENTICATION_API_KEY to choose your own",
    )


def _data_dir(path: Path) -> Finding:
    probe = path if path.exists() else path.parent
    if not probe.exists():
        return Finding(FAIL, "data dir", f"{path} and its parent do not exist", "create it")
    if not os.access(probe, os.W_OK):
        return Finding(FAIL, "data dir", f"{probe} is not writable", "fix its permissions")
    note = "" if path.exists() else " (created at first start)"
    return Finding(OK, "data dir", f"{path} is writable{note}")


async def _database(settings: Settings) -> list[Finding]:
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from wagate.store import migrate
    from wagate.store.db import database_url, make_engine

    try:
        url = database_url(settings.database_provider, settings.database_uri, settings.data_dir)
    except ValueError as exc:
        return [Finding(FAIL, "database", str(exc), "correct DATABASE_CONNECTION_URI")]
    where = _redact(url)
    if settings.database_provider == "sqlite":
        file = url.split("///", 1)[-1]
        if file and file != ":memory:" and not await asyncio.to_thread(Path(file).exists):
            return [
                Finding(
                    WARN,
                    "database",
                    f"{where} does not exist yet",
                    "it is created at the first start, or by `wagate migrate`",
                )
            ]
    engine = make_engine(url)
    try:
        async with asyncio.timeout(8):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            current = await migrate.current(engine)
    except Exception as exc:
        return [
            Finding(
                FAIL,
                "database",
                f"cannot use {where}: {type(exc).__name__}: {_first_line(exc)}",
                "check DATABASE_PROVIDER and DATABASE_CONNECTION_URI, and that the server runs",
            )
        ]
    finally:
        await engine.dispose()
    heads = set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())
    if current != heads:
        missing = ", ".join(sorted(heads - current)) or "?"
        return [
            Finding(OK, "database", f"reachable: {where}"),
            Finding(
                WARN,
                "migrations",
                f"not applied: {missing}",
                "run `wagate migrate` (the server also applies them at start)",
            ),
        ]
    return [
        Finding(OK, "database", f"reachable: {where}"),
        Finding(OK, "migrations", f"up to date ({', '.join(sorted(heads))})"),
    ]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _services(settings: Settings) -> list[Finding]:
    """Every configured service URL (…_URI / …_URL) whose feature is enabled answers on TCP."""
    found: list[Finding] = []
    values = settings.model_dump()
    for name, value in sorted(values.items()):
        if not name.endswith(("_uri", "_url")) or name in ("server_url", "database_uri"):
            continue
        if not isinstance(value, str) or "://" not in value:
            continue
        prefix = name.rsplit("_", 1)[0]
        enabled = values.get(f"{prefix}_enabled")
        label = prefix.replace("_", " ")
        if enabled is False:
            found.append(Finding(OK, label, "not enabled"))
            continue
        parts = urlsplit(value)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        if not port:
            continue
        try:
            with socket.create_connection((host, port), timeout=2):
                found.append(Finding(OK, label, f"{host}:{port} answers"))
        except OSError as exc:
            env = name.upper()
            found.append(
                Finding(
                    FAIL,
                    label,
                    f"{host}:{port} does not answer ({exc.strerror or exc})",
                    f"start that service or correct {env}",
                )
            )
    if not found:
        found.append(Finding(OK, "services", "none configured besides the database"))
    return found


def _engine(settings: Settings) -> Finding:
    if settings.engine == "sim":
        return Finding(
            WARN,
            "engine",
            "sim: the simulated network; nothing connects to real WhatsApp",
            "set WAGATE_ENGINE to a WhatsApp engine for production",
        )
    return Finding(OK, "engine", settings.engine)


def _server(settings: Settings) -> Finding:
    url = settings.public_url.rstrip("/")
    try:
        res = httpx2.get(f"{url}/health", timeout=3)
    except httpx2.HTTPError:
        return _port_free(settings, url)
    try:
        body = res.json()
    except ValueError:
        body = {}
    if res.status_code == 200 and body.get("ready"):
        return Finding(OK, "server", f"answering at {url} ({body.get('instances', 0)} instances)")
    if isinstance(body, dict) and "ready" in body:
        return Finding(
            FAIL,
            "server",
            f"{url} is up but not ready: {(body.get('database') or {}).get('error')}",
            "see the server log; the database is not reachable from it",
        )
    return Finding(
        FAIL,
        "server",
        f"{url}/health answered {res.status_code}: another program is on that address",
        "set SERVER_PORT (and SERVER_URL) to a free port",
    )


def _port_free(settings: Settings, url: str) -> Finding:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.server_host, settings.server_port))
        except OSError as exc:
            return Finding(
                FAIL,
                "server",
                f"not running, and {settings.server_host}:{settings.server_port} "
                f"cannot be used ({exc.strerror or exc})",
                "set SERVER_PORT to a free port, or stop what holds it",
            )
    return Finding(
        WARN,
        "server",
        f"not running at {url}",
        "start it with `wagate serve` (the instance commands need it)",
    )


def report(found: list[Finding], out: TextIO) -> int:
    width = max(len(f.what) for f in found)
    for f in found:
        say(f"{MARKS[f.status]} {f.what.ljust(width)}  {f.detail}", file=out)
        if f.fix and f.status != OK:
            say(f"  {' ' * width}  fix: {f.fix}", file=out)
    failures = sum(f.status == FAIL for f in found)
    warnings = sum(f.status == WARN for f in found)
    if failures:
        say(f"\n{failures} problem(s) to fix, {warnings} warning(s).", file=out)
        return 1
    say(f"\nAll checks passed ({warnings} warning(s)).", file=out)
    return 0
