"""Alembic migrations, applied programmatically (on start and by `wagate migrate`)."""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def script_heads() -> set[str]:
    """The heads of the migration scripts, read without importing alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if not isinstance(target, ast.Name):
                continue
            if target.id == "revision":
                revisions.add(ast.literal_eval(value))
            elif target.id == "down_revision":
                down = ast.literal_eval(value)
                parents.update([down] if isinstance(down, str) else down or ())
    return revisions - parents


async def at_heads(engine: AsyncEngine) -> bool:
    """Whether the database already has every head applied (so alembic need not load)."""
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            applied = {row[0] for row in rows}
    except Exception:  # no alembic_version table yet: a new database
        return False
    return applied == script_heads()


_apart = False


def in_child_process() -> None:
    """From now on, pending migrations run in a child process: the server calls this, so
    alembic (and mako), some 12 MB once loaded, never stay in a long-running process."""
    global _apart
    _apart = True


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the database to `revision` (every head by default). Alembic, a start-up cost in
    time and memory, is loaded only when some migration is pending."""
    if revision == "heads" and await at_heads(engine):
        return
    if _apart:
        await _upgrade_in_child(engine, revision)
        return
    from alembic import command

    def run(conn: Connection) -> None:
        command.upgrade(alembic_config(conn), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _upgrade_in_child(engine: AsyncEngine, revision: str) -> None:
    """`upgrade` in `python -m wagate.store.migrate`; the URL (it may hold a password) goes
    through its stdin, never its command line."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wagate.store.migrate",
        revision,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = engine.url.render_as_string(hide_password=False)
    _, err = await child.communicate(url.encode())
    if child.returncode != 0:  # its traceback, as an in-process failure would have logged
        detail = err.decode(errors="replace").strip()[-8000:]
        raise MigrationFailed(detail or f"exit status {child.returncode}")


class MigrationFailed(Exception):
    """The database migrations could not be applied (the child process's last words)."""


def _child_main() -> None:
    """The child: read the URL from stdin, upgrade in this process, exit."""
    from wagate.store.db import make_engine

    url = sys.stdin.read().strip()
    revision = sys.argv[1] if len(sys.argv) > 1 else "heads"

    async def run() -> None:
        engine = make_engine(url)
        try:
            await upgrade(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def current(engine: AsyncEngine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    def read(conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    async with engine.connect() as conn:
        return await conn.run_sync(read)


if __name__ == "__main__":
    _child_main()
