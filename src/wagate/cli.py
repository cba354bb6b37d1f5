"""The `wagate` command. A plain `wagate serve [--host H] [--port P]` is parsed and run here,
so the server never loads the command-line toolkit (typer, click's help, rich); everything
else, `--help` included, goes to the typer app in console/commands.py."""

from __future__ import annotations

import gc
import sys


def main() -> None:
    options = serve_options(sys.argv[1:])
    if options is None:
        from wagate.console.commands import app

        app()
        return
    serve(*options)


def serve_options(argv: list[str]) -> tuple[str | None, int | None] | None:
    """(host, port) when `argv` is a serve command this parser fully understands, else None
    (typer then parses it, and reports what is wrong in its own words)."""
    if not argv or argv[0] != "serve":
        return None
    found: dict[str, str] = {}
    rest = iter(argv[1:])
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name not in ("--host", "--port") or name in found:
            return None
        if not eq:
            value = next(rest, "")
            if not value or value.startswith("-"):
                return None
        found[name] = value
    port = found.get("--port")
    if port is not None and not (port.isascii() and port.isdigit()):
        return None
    return found.get("--host") or None, int(port) if port else None


def serve(host: str | None = None, port: int | None = None) -> None:
    """Run the HTTP server (migrations are applied on start)."""
    # Start-up allocates a few hundred thousand long-lived objects (modules, classes, schemas):
    # the cyclic collector would rescan them again and again. It runs again once the app is
    # built, with those objects set aside (frozen), which later collections then skip.
    gc.disable()
    _structlog_without_rich()
    from wagate.config import SettingsError, load_settings

    overrides: dict[str, object] = {}
    if host:
        overrides["server_host"] = host
    if port:
        overrides["server_port"] = port
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"wagate: cannot start.\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    import uvicorn

    from wagate.api.server import protocol
    from wagate.app import asgi_app
    from wagate.config import resolve_api_key
    from wagate.observability.logging import configure
    from wagate.store import migrate

    migrate.in_child_process()

    configure(settings.log_level, settings.log_format)
    key, generated = resolve_api_key(settings)
    if generated:
        print(
            f"\n  No AUTHENTICATION_API_KEY was set. Generated one (saved in "
            f"{settings.data_dir / 'api-key'}):\n\n    {key}\n",
            file=sys.stderr,
        )
    elif not settings.api_key:
        print(f"  Using the API key saved in {settings.data_dir / 'api-key'}", file=sys.stderr)
    app = asgi_app(settings)
    gc.freeze()
    gc.enable()
    uvicorn.run(
        app,
        host=settings.server_host,
        port=settings.server_port,
        loop="uvloop",
        http=protocol(settings.header_timeout),  # httptools, with a deadline for the headers
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,  # live event streams never hold a shutdown for long
    )


def _structlog_without_rich() -> None:
    """Load structlog as if rich were absent: structlog imports rich (and pygments) for its
    pretty tracebacks when it is installed (typer brings it), which wagate's log lines never
    use (observability/logging.py renders tracebacks without it), at ~5 MB and ~70 ms a
    start. rich stays importable afterwards for whoever wants it."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # makes `import rich` fail
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]
