"""Repositories of the instances and what each owns (settings, webhook, proxy, credentials),
keyed by instance id. This module is the only writer of the `instances` table: a status that
must commit with its events is handed to the outbox as a write (`Store.status_write`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from wagate.core.ports import StatusSnapshot
from wagate.store.db import commits_of
from wagate.store.messages import counts_columns
from wagate.store.models import Instance, Proxy, Session, Setting, Webhook, utcnow
from wagate.store.writer import Write

SETTING_FIELDS = {
    "rejectCall": "reject_call",
    "msgCall": "msg_call",
    "groupsIgnore": "groups_ignore",
    "alwaysOnline": "always_online",
    "readMessages": "read_messages",
    "readStatus": "read_status",
    "syncFullHistory": "sync_full_history",
    "wavoipToken": "wavoip_token",
}


def hash_token(token: str) -> str:
    """Instance tokens are stored as SHA-256 digests; only create ever sees the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewInstance:
    id: str
    name: str
    integration: str
    token: str
    client_name: str
    number: str | None
    business_id: str | None
    settings: dict[str, Any]
    webhook: dict[str, Any] | None
    token_sealed: str | None = None


class NameTaken(Exception):
    """The instance name is already in the database."""


class InstanceRecord(NamedTuple):
    """An instance as fetchInstances lists it, read without the ORM (a hot path)."""

    id: str
    name: str
    connection_status: str
    owner_jid: str | None
    profile_name: str | None
    profile_pic_url: str | None
    integration: str
    number: str | None
    business_id: str | None
    client_name: str
    disconnection_reason_code: int | None
    disconnection_object: str | None
    disconnection_at: datetime | None
    created_at: datetime
    updated_at: datetime
    token_sealed: str | None


class SettingRecord(NamedTuple):
    """An instance's settings as fetchInstances lists them."""

    id: str
    reject_call: bool
    msg_call: str
    groups_ignore: bool
    always_online: bool
    read_messages: bool
    read_status: bool
    sync_full_history: bool
    wavoip_token: str
    created_at: datetime
    updated_at: datetime


class Counts(NamedTuple):
    """fetchInstances' `_count`: the instance's stored messages, contacts and chats."""

    messages: int
    contacts: int
    chats: int


_INSTANCE_COLUMNS = len(InstanceRecord._fields)
_SETTING_END = _INSTANCE_COLUMNS + len(SettingRecord._fields)
# Built once: composing a statement costs more than running it on a small table.
_FETCH_ALL = (
    select(
        *(Instance.__table__.c[f] for f in InstanceRecord._fields),
        *(Setting.__table__.c[f] for f in SettingRecord._fields),
        *counts_columns(Instance.__table__.c.id),
    )
    .outerjoin(Setting, Setting.instance_id == Instance.id)
    .where(Instance.client_name == bindparam("client_name"))
    .order_by(Instance.created_at, Instance.name)
)
_FETCH_SOME = _FETCH_ALL.where(Instance.id.in_(bindparam("ids", expanding=True)))


FetchedRow = tuple[InstanceRecord, SettingRecord | None, Counts]
_FETCH_CACHE_SIZE = 256
_OWNED = (Session, Setting, Webhook, Proxy)
"""The tables of an instance's own rows that `forget` deletes (the others cascade)."""
_OneRow = TypeVar("_OneRow", Webhook, Proxy)


class Store:
    """The gateway's persistence, over one async sessionmaker."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        bind = sessions.kw.get("bind")
        self._commits = commits_of(bind) if isinstance(bind, AsyncEngine) else None
        # fetchInstances' rows by (client name, ids), with the commit generation they were
        # read at: any commit through the engine (any table, any writer) moves it on.
        self._fetched: dict[tuple[str, tuple[str, ...] | None], tuple[int, list[FetchedRow]]]
        self._fetched = {}

    # --- instances ------------------------------------------------------------------------

    async def create_instance(self, new: NewInstance) -> Instance:
        """Insert the instance with its settings (and webhook) in one transaction."""
        from sqlalchemy.exc import IntegrityError

        row = Instance(
            id=new.id,
            name=new.name,
            integration=new.integration,
            token_hash=hash_token(new.token),
            token_sealed=new.token_sealed,
            client_name=new.client_name,
            number=new.number,
            business_id=new.business_id,
            connection_status="close",
            lifecycle_state="idle",
            status_reason=200,
            status_detail="",
        )
        try:
            async with self._sessions.begin() as s:
                s.add(row)
                await s.flush()
                s.add(Setting(instance_id=new.id, **_setting_columns(new.settings)))
                if new.webhook is not None:
                    s.add(Webhook(instance_id=new.id, **new.webhook))
        except IntegrityError as exc:
            raise NameTaken(new.name) from exc
        return row

    async def all_instances(self, client_name: str) -> Sequence[Instance]:
        async with self._sessions() as s:
            result = await s.scalars(
                select(Instance)
                .where(Instance.client_name == client_name)
                .order_by(Instance.created_at)
            )
            return result.all()

    async def fetch_instances(
        self, client_name: str, ids: Sequence[str] | None = None
    ) -> list[FetchedRow]:
        """Instances with their settings and row counts in one query (no N+1), served from
        memory while no commit has happened since the same rows were read."""
        key = (client_name, None if ids is None else tuple(ids))
        commits = self._commits
        if commits is None:
            return await self._read_instances(client_name, ids)
        cached = self._fetched.get(key)
        if cached is not None and cached[0] == commits.generation:
            return list(cached[1])
        started = commits.generation if commits.in_flight == 0 else None
        rows = await self._read_instances(client_name, ids)
        if started is not None and commits.generation == started:
            if len(self._fetched) >= _FETCH_CACHE_SIZE:
                self._fetched.clear()
            self._fetched[key] = (started, rows)
            return list(rows)
        return rows

    async def _read_instances(
        self, client_name: str, ids: Sequence[str] | None
    ) -> list[FetchedRow]:
        params: dict[str, Any] = {"client_name": client_name}
        if ids is not None:
            params["ids"] = list(ids)
        async with self._sessions() as s:
            rows = await s.execute(_FETCH_SOME if ids is not None else _FETCH_ALL, params)
        n, end = _INSTANCE_COLUMNS, _SETTING_END
        return [
            (
                InstanceRecord._make(row[:n]),
                SettingRecord._make(row[n:end]) if row[n] is not None else None,
                Counts._make(int(x or 0) for x in row[end:]),
            )
            for row in rows
        ]

    async def seal_token(self, instance_id: str, sealed: str) -> None:
        """Keep the instance's token sealed (store/tokens.py), replacing any older copy."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(Instance)
                .where(Instance.id == instance_id)
                .values(token_sealed=sealed, updated_at=Instance.updated_at)
            )

    async def save_status(self, instance_id: str, snap: StatusSnapshot) -> None:
        async with self._sessions.begin() as s:
            await self.status_write(instance_id, snap)(s)

    def status_write(self, instance_id: str, snap: StatusSnapshot) -> Write:
        """The status update as a write for another transaction (the outbox's, so that the
        status and the events announcing it commit together)."""
        statement = update(Instance).where(Instance.id == instance_id)
        statement = statement.values(**status_values(snap))

        async def op(s: AsyncSession) -> None:
            await s.execute(statement)

        return op

    async def forget(self, instance_id: str) -> None:
        """Delete the instance and everything it owns (children first: no reliance on cascades)."""
        async with self._sessions.begin() as s:
            for model in _OWNED:
                await s.execute(delete(model).where(model.instance_id == instance_id))
            await s.execute(delete(Instance).where(Instance.id == instance_id))

    async def ping(self) -> None:
        """Run a trivial query (readiness); raises what the database answered."""
        async with self._sessions() as s:
            await s.execute(text("SELECT 1"))

    async def instance_exists(self, instance_id: str) -> bool:
        async with self._sessions() as s:
            return (await s.get(Instance, instance_id)) is not None

    async def rows_owned(self, instance_id: str) -> int:
        """How many rows in any table still belong to the instance (0 after delete)."""
        from sqlalchemy import func

        total = 0
        async with self._sessions() as s:
            for model in _OWNED:
                total += (
                    await s.scalar(
                        select(func.count())
                        .select_from(model)
                        .where(model.instance_id == instance_id)
                    )
                    or 0
                )
            total += (
                await s.scalar(
                    select(func.count()).select_from(Instance).where(Instance.id == instance_id)
                )
                or 0
            )
        return total

    # --- settings -------------------------------------------------------------------------

    async def get_settings(self, instance_id: str) -> Setting | None:
        async with self._sessions() as s:
            return await s.scalar(select(Setting).where(Setting.instance_id == instance_id))

    async def all_settings(self) -> list[tuple[str, dict[str, Any]]]:
        """(instance id, Evolution's flat settings object) of every instance."""
        async with self._sessions() as s:
            rows = (await s.scalars(select(Setting))).all()
        return [(row.instance_id, setting_view(row)) for row in rows]

    async def set_settings(self, instance_id: str, values: dict[str, Any]) -> Setting:
        async with self._sessions.begin() as s:
            row = await s.scalar(select(Setting).where(Setting.instance_id == instance_id))
            if row is None:
                row = Setting(instance_id=instance_id, **_setting_columns(values))
                s.add(row)
            else:
                for key, value in _setting_columns(values).items():
                    setattr(row, key, value)
            await s.flush()
            return row

    # --- proxy ----------------------------------------------------------------------------

    async def get_proxy(self, instance_id: str) -> Proxy | None:
        async with self._sessions() as s:
            return await s.scalar(select(Proxy).where(Proxy.instance_id == instance_id))

    async def set_proxy(self, instance_id: str, values: dict[str, Any]) -> Proxy:
        return await set_instance_row(self._sessions, Proxy, instance_id, values)


class Credentials:
    """The `sessions` table as the engines' CredentialStore."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def load(self, instance_id: str) -> dict[str, Any] | None:
        async with self._sessions() as s:
            row = await s.get(Session, instance_id)
            return dict(row.creds) if row is not None else None

    async def save(self, instance_id: str, creds: dict[str, Any]) -> None:
        async with self._sessions.begin() as s:
            row = await s.get(Session, instance_id)
            if row is None:
                s.add(Session(instance_id=instance_id, creds=creds))
            else:
                row.creds = creds

    async def delete(self, instance_id: str) -> None:
        async with self._sessions.begin() as s:
            await s.execute(delete(Session).where(Session.instance_id == instance_id))

    async def present(self) -> set[str]:
        async with self._sessions() as s:
            return set((await s.scalars(select(Session.instance_id))).all())


async def set_instance_row(
    sessions: async_sessionmaker[AsyncSession],
    model: type[_OneRow],
    instance_id: str,
    values: dict[str, Any],
) -> _OneRow:
    """Insert or update the instance's single row of `model` (webhook, proxy)."""
    async with sessions.begin() as s:
        row = await s.scalar(select(model).where(model.instance_id == instance_id))
        if row is None:
            row = model(instance_id=instance_id, **values)
            s.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        await s.flush()
        await s.refresh(row)
        return row


def status_values(snap: StatusSnapshot) -> dict[str, Any]:
    """The instance columns a status snapshot writes."""
    values: dict[str, Any] = {
        "connection_status": snap.connection_status,
        "lifecycle_state": snap.lifecycle_state,
        "status_reason": snap.reason,
        "status_detail": snap.detail,
        "owner_jid": snap.owner_jid,
        "profile_name": snap.profile_name,
        "updated_at": utcnow(),
    }
    if snap.disconnected_at is not None:
        values["disconnection_reason_code"] = snap.reason
        values["disconnection_at"] = datetime.fromtimestamp(snap.disconnected_at, UTC).replace(
            tzinfo=None
        )
        values["disconnection_object"] = json.dumps(
            {"statusCode": snap.reason, "detail": snap.detail}
        )
    return values


def _setting_columns(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for api_name, column in SETTING_FIELDS.items():
        if api_name in values and values[api_name] is not None:
            out[column] = values[api_name]
    return out


def setting_view(row: Setting | SettingRecord | None) -> dict[str, Any]:
    """Evolution's flat settings object."""
    if row is None:
        return {
            "rejectCall": False,
            "msgCall": "",
            "groupsIgnore": False,
            "alwaysOnline": False,
            "readMessages": False,
            "readStatus": False,
            "syncFullHistory": False,
            "wavoipToken": "",
        }
    return {api: getattr(row, column) for api, column in SETTING_FIELDS.items()}
