"""The `wagate` command: serve, migrate."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from wagate.config import Settings, SettingsError, load_settings

app = typer.Typer(help="wagate: a multi-instance WhatsApp API gateway.", no_args_is_help=True)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        print(f"wagate: cannot start.\n{exc}", file=sys.stderr)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run the HTTP server (migrations are applied on start)."""
    overrides: dict[str, object] = {}
    if host:
        overrides["server_host"] = host
    if port:
        overrides["server_port"] = port
    settings = _settings(**overrides)
    import uvicorn

    from wagate.app import asgi_app
    from wagate.config import resolve_api_key
    from wagate.observability.logging import configure

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
    uvicorn.run(
        asgi_app(settings),
        host=settings.server_host,
        port=settings.server_port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations and exit."""
    settings = _settings()
    from wagate.store import migrate as m
    from wagate.store.db import database_url, make_engine

    async def run() -> set[str]:
        engine = make_engine(
            database_url(settings.database_provider, settings.database_uri, settings.data_dir)
        )
        try:
            await m.upgrade(engine)
            return await m.current(engine)
        finally:
            await engine.dispose()

    heads = asyncio.run(run())
    print(f"database at {', '.join(sorted(heads))}")


def main() -> None:
    app()
