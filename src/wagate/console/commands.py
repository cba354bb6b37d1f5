"""The `wagate` subcommands (typer): serve, migrate, instances, doctor. A plain `wagate serve`
skips this module (cli.py), so the server never loads typer and rich."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from wagate.config import Settings, SettingsError, load_settings
from wagate.console.client import ClientError, Server
from wagate.console.instances import (
    connect_instance,
    create_instance,
    delete_instance,
    fail,
    list_instances,
    logout_instance,
    server_from,
    show_state,
)

app = typer.Typer(help="wagate: a multi-instance WhatsApp API gateway.", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"wagate: cannot start.\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run the HTTP server (migrations are applied on start)."""
    from wagate.cli import serve as run_server

    run_server(host, port)


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
    typer.echo(f"database at {', '.join(sorted(heads))}")


instances = typer.Typer(
    help="Manage the instances of a running wagate server.", no_args_is_help=True
)
app.add_typer(instances, name="instances")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="WAGATE_URL", help="The server (default: SERVER_URL or host:port)"
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--apikey",
        envvar="WAGATE_APIKEY",
        help="The global key or an instance token (default: AUTHENTICATION_API_KEY, or the "
        "key saved in the data dir)",
        show_default=False,
    ),
]


def _server(url: str | None, apikey: str | None) -> Server:
    """Where the server is and which key to use, from the options or the local settings."""
    settings: Settings | None = None
    try:
        settings = load_settings()
    except SettingsError:
        pass
    if url is None:
        url = settings.public_url if settings else "http://127.0.0.1:8080"
    if apikey is None and settings is not None:
        apikey = settings.api_key
        saved = settings.data_dir / "api-key"
        if apikey is None and saved.exists():
            apikey = saved.read_text().strip()
    try:
        return server_from(url, apikey)
    except ClientError as exc:
        raise typer.Exit(fail(exc)) from None


def _run(call: Callable[[], int]) -> None:
    try:
        code = call()
    except ClientError as exc:
        code = fail(exc)
    raise typer.Exit(code)


@instances.command("list")
def instances_list(url: UrlOption = None, apikey: KeyOption = None) -> None:
    """List the instances with their state and what to do next."""
    server = _server(url, apikey)
    _run(lambda: list_instances(server, sys.stdout))


@instances.command("create")
def instances_create(
    name: Annotated[str, typer.Argument(help="The instance name")],
    number: Annotated[str | None, typer.Option(help="The phone number, digits only")] = None,
    url: UrlOption = None,
    apikey: KeyOption = None,
) -> None:
    """Create an instance (global key) and print its token."""
    server = _server(url, apikey)
    _run(lambda: create_instance(server, name, number, sys.stdout))


@instances.command("connect")
def instances_connect(
    name: Annotated[str, typer.Argument(help="The instance name")],
    number: Annotated[
        str | None, typer.Option(help="Ask for a pairing code for this phone number too")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until the instance is open")] = True,
    timeout: Annotated[float, typer.Option(help="Give up waiting after this many seconds")] = 300,
    url: UrlOption = None,
    apikey: KeyOption = None,
) -> None:
    """Draw the QR code in the terminal and wait until a phone links the instance."""
    server = _server(url, apikey)
    _run(
        lambda: connect_instance(server, name, number, wait=wait, timeout=timeout, out=sys.stdout)
    )


@instances.command("state")
def instances_state(
    name: Annotated[str, typer.Argument(help="The instance name")],
    url: UrlOption = None,
    apikey: KeyOption = None,
) -> None:
    """Show the connection state, its reason and what to do."""
    server = _server(url, apikey)
    _run(lambda: show_state(server, name, sys.stdout))


@instances.command("logout")
def instances_logout(
    name: Annotated[str, typer.Argument(help="The instance name")],
    url: UrlOption = None,
    apikey: KeyOption = None,
) -> None:
    """Log the instance out (unlinks the phone; connect again to pair)."""
    server = _server(url, apikey)
    _run(lambda: logout_instance(server, name, sys.stdout))


@instances.command("delete")
def instances_delete(
    name: Annotated[str, typer.Argument(help="The instance name")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    url: UrlOption = None,
    apikey: KeyOption = None,
) -> None:
    """Delete the instance, its session and its data."""
    server = _server(url, apikey)
    if not yes and not typer.confirm(f"Delete {name} and everything it holds?"):
        raise typer.Exit(1)
    _run(lambda: delete_instance(server, name, sys.stdout))


@app.command()
def doctor() -> None:
    """Check the configuration, database, services, engine and server; say what to fix."""
    from wagate.console.doctor import check_all, report

    raise typer.Exit(report(check_all(), sys.stdout))
