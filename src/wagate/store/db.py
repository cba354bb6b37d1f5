"""Database engine and session factory for SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
}


def database_url(provider: str, uri: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL for DATABASE_PROVIDER / DATABASE_CONNECTION_URI."""
    if provider == "sqlite" and not uri:
        return f"sqlite+aiosqlite:///{(data_dir / 'wagate.db').resolve()}"
    if not uri:
        raise ValueError(f"DATABASE_CONNECTION_URI is required for DATABASE_PROVIDER={provider}")
    url = make_url(uri)
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend == "mariadb":
        backend = "mysql"
    if backend != provider:
        raise ValueError(
            f"DATABASE_CONNECTION_URI is a {backend} URI but DATABASE_PROVIDER={provider}"
        )
    url = url.set(drivername=_DRIVERS[provider])
    if provider == "postgresql" and "schema" in url.query:  # Prisma-style ?schema=public
        url = url.difference_update_query(["schema"])
    return url.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    kwargs: dict[str, Any] = {"pool_pre_ping": not url.startswith("sqlite")}
    if url.startswith("sqlite"):
        db_path = url.split(":///", 1)[1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            # Keep what concurrent requests opened: each aiosqlite connection is a thread,
            # and an overflow connection would be reopened (and its PRAGMAs rerun) per request.
            kwargs.update(pool_size=2 * pool_size, max_overflow=pool_size)
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    engine = create_async_engine(url, **kwargs)
    commits_of(engine)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Commits:
    """The transactions committed through one engine, so that a cache of reads can tell
    whether a commit may have changed what it holds.

    Every COMMIT the engine sends (ORM sessions, Core connections, connections held across
    transactions) goes through its dialect's `do_commit`, which this wraps: `generation` moves
    as a COMMIT is sent and again once it has returned, and `in_flight` counts the COMMITs
    sent and not yet returned. A read that starts with no COMMIT in flight and ends at the
    generation it started with saw the latest committed state. Not seen: writes made outside
    this engine (another process) or on AUTOCOMMIT connections (wagate only reads on those)."""

    __slots__ = ("generation", "in_flight")

    def __init__(self) -> None:
        self.generation = 0
        self.in_flight = 0

    def watch(self, engine: Engine) -> None:
        dialect = engine.dialect  # one per engine: the wrapper affects this engine only
        commit = dialect.do_commit

        def do_commit(dbapi_connection: Any) -> None:
            self.in_flight += 1
            self.generation += 1
            try:
                commit(dbapi_connection)
            finally:
                self.in_flight -= 1
                self.generation += 1

        dialect.do_commit = do_commit  # type: ignore[method-assign]


_COMMITS: WeakKeyDictionary[Engine, Commits] = WeakKeyDictionary()


def commits_of(engine: AsyncEngine) -> Commits:
    """The engine's commit counter (installed on first use; one per engine)."""
    sync = engine.sync_engine
    commits = _COMMITS.get(sync)
    if commits is None:
        commits = _COMMITS[sync] = Commits()
        commits.watch(sync)
    return commits
