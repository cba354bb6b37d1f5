"""`wagate doctor`: check the configuration, the database, the services, the server and what it
runs (asked of the server, not read from this environment), and whether WhatsApp can be reached
from here; say what to fix, and never that all checks passed when one warned."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
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
    found.extend(_cloud(settings))
    server, running = _server(settings)
    found.append(server)
    found.append(_engine(settings, running))
    engine = str((running or {}).get("engine") or settings.engine)
    found.append(whatsapp(settings.neonize_proxy, engine))
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
        if not name.endswith(("_uri", "_url")) or name in (
            "server_url",
            "database_uri",
            "sqs_base_url",  # checked with SQS (_cloud)
        ):
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
        found.append(_answers(label, host, port, name.upper()))
    if not found:
        found.append(Finding(OK, "services", "none configured besides the database"))
    return found


def _answers(label: str, host: str, port: int, env: str) -> Finding:
    """Whether `host:port` accepts a TCP connection; if not, `env` names what to correct."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return Finding(OK, label, f"{host}:{port} answers")
    except OSError as exc:
        return Finding(
            FAIL,
            label,
            f"{host}:{port} does not answer ({exc.strerror or exc})",
            f"start that service or correct {env}",
        )


def cloud_endpoints(settings: Settings) -> list[tuple[str, str, str]]:
    """(label, URL, variables to correct) of each enabled SQS, S3 and global Pusher endpoint."""
    from wagate.store.objects import endpoint_url

    out: list[tuple[str, str, str]] = []
    if settings.sqs_enabled:
        url = settings.sqs_base_url or f"https://sqs.{settings.sqs_region}.amazonaws.com"
        out.append(("sqs", url, "SQS_BASE_URL or SQS_REGION"))
    if settings.s3_enabled:
        out.append(("s3", endpoint_url(settings), "S3_ENDPOINT, S3_PORT or S3_USE_SSL"))
    if settings.pusher_enabled and (settings.pusher_host or settings.pusher_global_enabled):
        url = settings.pusher_host or f"https://api-{settings.pusher_global_cluster}.pusher.com"
        out.append(("pusher", url, "WAGATE_PUSHER_HOST or PUSHER_GLOBAL_CLUSTER"))
    return out


def _cloud(settings: Settings) -> list[Finding]:
    """SQS, S3 and Pusher, when enabled, answer on TCP at the endpoint wagate will use."""
    found: list[Finding] = []
    for label, url, env in cloud_endpoints(settings):
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
        found.append(_answers(label, host, port, env))
    return found


def _engine(settings: Settings, running: dict[str, Any] | None) -> Finding:
    """What the server runs, as the server says (this environment may say otherwise)."""
    if running is None:
        where = "from this environment (the server is not running to ask)"
        if settings.engine == "sim":
            return Finding(WARN, "engine", f"sim, {where}", SIM_FIX)
        return Finding(OK, "engine", f"{settings.engine}, {where}")
    engine = str(running.get("engine"))
    runs = f"the server runs {engine}"
    if running.get("database"):
        runs += f" on {running['database']}"
    if running.get("sinks"):
        runs += f", events to {', '.join(running['sinks'])}"
    differs = []
    if engine != settings.engine:
        differs.append(f"engine {settings.engine} (WAGATE_ENGINE)")
    if running.get("database") and running["database"] != settings.database_provider:
        differs.append(f"database {settings.database_provider} (DATABASE_PROVIDER)")
    if differs:
        return Finding(
            WARN,
            "engine",
            f"{runs}; this environment says {' and '.join(differs)}",
            "run doctor with the server's environment (or restart the server with this one): "
            "the checks above used this environment's settings",
        )
    if engine == "sim":
        return Finding(
            WARN, "engine", f"{runs}: the simulated network; nothing reaches WhatsApp", SIM_FIX
        )
    return Finding(OK, "engine", runs)


SIM_FIX = "set WAGATE_ENGINE=neonize (the default) to connect real WhatsApp accounts"
WHATSAPP = ("web.whatsapp.com", 443)
Resolve = Callable[[str, int], list[str]]
Dial = Callable[[str, int, float], socket.socket]


def _resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _dial(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def whatsapp(
    proxy: str | None,
    engine: str,
    *,
    resolve: Resolve = _resolve,
    dial: Dial = _dial,
    timeout: float = 3.0,
) -> Finding:
    """Whether WhatsApp Web answers from here: DNS and TCP to web.whatsapp.com:443, or through
    the proxy (an HTTP proxy is asked to CONNECT to it). Unreachable fails for an engine that
    needs WhatsApp, and only warns for the sim."""
    host, port = WHATSAPP
    problem = _route(proxy, resolve, dial, timeout)
    if problem is None:
        via = f" through the proxy {_redact(proxy)}" if proxy else ""
        return Finding(OK, "whatsapp", f"{host}:{port} answers{via}")
    fix = (
        "check this machine's DNS and firewall, or set WAGATE_NEONIZE_PROXY; "
        "to try wagate without WhatsApp, run it with WAGATE_ENGINE=sim"
    )
    if engine == "sim":
        return Finding(WARN, "whatsapp", f"{problem} (the sim engine does not need it)", fix)
    return Finding(FAIL, "whatsapp", f"no route to WhatsApp: {problem}", fix)


def _route(proxy: str | None, resolve: Resolve, dial: Dial, timeout: float) -> str | None:
    """None when WhatsApp answers, else what failed."""
    host, port = WHATSAPP
    if proxy:
        parts = urlsplit(proxy)
        phost = parts.hostname or ""
        pport = parts.port or DEFAULT_PORTS.get(parts.scheme, 1080)
        try:
            with dial(phost, pport, timeout) as sock:
                if parts.scheme not in ("http", "https"):
                    return None  # a SOCKS proxy answers; what it reaches is its business
                sock.settimeout(timeout)
                sock.sendall(
                    f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
                )
                status = sock.recv(256).split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError as exc:
            return f"the proxy {phost}:{pport} does not answer ({exc.strerror or exc})"
        if " 200" not in status:
            return f"the proxy {phost}:{pport} refused to reach {host} ({status or 'no answer'})"
        return None
    try:
        addresses = _bounded(lambda: resolve(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return f"DNS lookup of {host} failed ({_why(exc)})"
    if not addresses:
        return f"DNS lookup of {host} found no address"
    try:
        with dial(addresses[0], port, timeout):
            return None
    except OSError as exc:
        return f"{host} ({addresses[0]}) did not accept a connection on {port} ({_why(exc)})"


def _bounded(call: Callable[[], list[str]], timeout: float) -> list[str]:
    """`call` in a thread, waited for at most `timeout` seconds (getaddrinfo has no timeout)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(call)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"no answer in {timeout:g} s") from None


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


def _server(settings: Settings) -> tuple[Finding, dict[str, Any] | None]:
    """Whether a wagate answers at the public URL, and what it runs (from GET /)."""
    url = settings.public_url.rstrip("/")
    try:
        res = httpx2.get(f"{url}/health", timeout=3)
    except httpx2.HTTPError:
        return _port_free(settings, url), None
    try:
        body = res.json()
    except ValueError:
        body = {}
    if res.status_code == 200 and body.get("ready"):
        running = _running(url) or {"engine": body.get("engine")}
        found = Finding(OK, "server", f"answering at {url} ({body.get('instances', 0)} instances)")
        return found, running
    if isinstance(body, dict) and "ready" in body:
        return Finding(
            FAIL,
            "server",
            f"{url} is up but not ready: {(body.get('database') or {}).get('error')}",
            "see the server log; the database is not reachable from it",
        ), {"engine": body.get("engine")}
    return Finding(
        FAIL,
        "server",
        f"{url}/health answered {res.status_code}: another program is on that address",
        "set SERVER_PORT (and SERVER_URL) to a free port",
    ), None


def _running(url: str) -> dict[str, Any] | None:
    try:
        body = httpx2.get(f"{url}/", timeout=3).json()
    except (httpx2.HTTPError, ValueError):
        return None
    block = body.get("wagate") if isinstance(body, dict) else None
    return block if isinstance(block, dict) and block.get("engine") else None


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
    if warnings:  # a warning is a check that did not pass: never "all passed"
        say(f"\nNo problems to fix; {warnings} warning(s) to read above.", file=out)
        return 0
    say("\nAll checks passed.", file=out)
    return 0
