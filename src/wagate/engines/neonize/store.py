"""Where whatsmeow keeps each instance's session, and how it is read and purged.

SQLite (the default): one file per instance, `<data dir>/neonize/<instance id>/whatsmeow.db`,
so resuming needs no JID (whatsmeow loads the only device in the file) and a purge deletes the
directory. PostgreSQL (when wagate itself runs on PostgreSQL): one schema per instance,
`wagate_wa_<id>`, reached through lib/pq's `search_path`; a purge drops the schema.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from wagate.domain.errors import BadRequest

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
DEVICE_QUERY = "SELECT jid FROM whatsmeow_device WHERE jid IS NOT NULL AND jid <> '' LIMIT 1"


def _checked(instance_id: str) -> str:
    if not _SAFE_ID.match(instance_id):
        raise BadRequest(f"not a usable instance id for the session store: {instance_id!r}")
    return instance_id


class SessionStore(Protocol):
    """whatsmeow's session storage for many instances."""

    kind: str

    def location(self, instance_id: str) -> str:
        """What the host passes to neonize as the database (a path or a lib/pq DSN)."""

    async def prepare(self, instance_id: str) -> None:
        """Make the location usable before the first connect."""

    async def paired_jid(self, instance_id: str) -> str | None:
        """The account stored for this instance, if whatsmeow holds a paired device."""

    async def purge(self, instance_id: str) -> None:
        """Delete everything whatsmeow stored for this instance."""


class SqliteSessions:
    """One SQLite file per instance under `root`."""

    kind = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, instance_id: str) -> Path:
        return self.root / _checked(instance_id)

    def location(self, instance_id: str) -> str:
        return str((self.directory(instance_id) / "whatsmeow.db").resolve())

    async def prepare(self, instance_id: str) -> None:
        self.directory(instance_id).mkdir(parents=True, exist_ok=True)

    async def paired_jid(self, instance_id: str) -> str | None:
        path = Path(self.location(instance_id))
        return await asyncio.to_thread(_sqlite_jid, path)

    async def purge(self, instance_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.directory(instance_id), True)


def _sqlite_jid(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    try:
        row = con.execute(DEVICE_QUERY).fetchone()
    except sqlite3.Error:  # no schema yet
        return None
    finally:
        con.close()
    return str(row[0]) if row else None


class PostgresSessions:
    """One schema per instance in wagate's PostgreSQL database."""

    kind = "postgresql"

    def __init__(self, uri: str) -> None:
        from sqlalchemy.engine import make_url

        url = make_url(uri)
        self._connect_args = {
            "host": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "user": url.username or "postgres",
            "password": url.password,
            "database": url.database or "postgres",
        }
        user = quote(url.username or "postgres", safe="")
        secret = f":{quote(url.password, safe='')}" if url.password else ""
        self._base = (
            f"postgres://{user}{secret}@{url.host or '127.0.0.1'}:{url.port or 5432}/"
            f"{quote(url.database or 'postgres', safe='')}"
        )
        self._sslmode = str(url.query.get("sslmode", "disable"))

    @staticmethod
    def schema(instance_id: str) -> str:
        return "wagate_wa_" + _checked(instance_id).replace("-", "").lower()

    def location(self, instance_id: str) -> str:
        return f"{self._base}?sslmode={self._sslmode}&search_path={self.schema(instance_id)}"

    async def _execute(self, sql: str) -> list[tuple[object, ...]]:
        import asyncpg  # type: ignore[import-untyped]

        con = await asyncpg.connect(**self._connect_args, timeout=10)
        try:
            return [tuple(r) for r in await con.fetch(sql)]
        finally:
            await con.close()

    async def prepare(self, instance_id: str) -> None:
        await self._execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema(instance_id)}"')

    async def paired_jid(self, instance_id: str) -> str | None:
        schema = self.schema(instance_id)
        exists = await self._execute(f"SELECT to_regclass('\"{schema}\".whatsmeow_device')")
        if not exists or exists[0][0] is None:
            return None
        rows = await self._execute(
            DEVICE_QUERY.replace("whatsmeow_device", f'"{schema}".whatsmeow_device')
        )
        return str(rows[0][0]) if rows else None

    async def purge(self, instance_id: str) -> None:
        await self._execute(f'DROP SCHEMA IF EXISTS "{self.schema(instance_id)}" CASCADE')
