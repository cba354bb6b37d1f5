"""SQLAlchemy 2 models. Table and column names are wagate's; the API shapes are Evolution's."""

from __future__ import annotations

import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_B36 = string.digits + string.ascii_lowercase
LONG_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
"""Text of any length: MySQL/MariaDB's TEXT stops at 65,535 bytes (migration 0006)."""


def utcnow() -> datetime:
    """Naive UTC (MySQL DATETIME keeps no zone; every row is UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_cuid() -> str:
    """A 25-character collision-resistant id starting with 'c', like Prisma's cuid()."""
    ms = int(time.time() * 1000)
    head = ""
    while ms:
        ms, r = divmod(ms, 36)
        head = _B36[r] + head
    return "c" + head[-8:].rjust(8, "0") + "".join(secrets.choice(_B36) for _ in range(16))


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Instance(Base):
    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    integration: Mapped[str] = mapped_column(String(32), default="WHATSAPP-BAILEYS")
    token_hash: Mapped[str] = mapped_column(String(64), index=True)
    token_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    """The token sealed under the operator's key (store/tokens.py); NULL for instances
    created before tokens were kept sealed."""
    client_name: Mapped[str] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(100), default=None)
    business_id: Mapped[str | None] = mapped_column(String(100), default=None)
    connection_status: Mapped[str] = mapped_column(String(16), default="close")
    lifecycle_state: Mapped[str] = mapped_column(String(32), default="idle")
    status_reason: Mapped[int] = mapped_column(Integer, default=200)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    owner_jid: Mapped[str | None] = mapped_column(String(100), default=None)
    profile_name: Mapped[str | None] = mapped_column(String(255), default=None)
    profile_pic_url: Mapped[str | None] = mapped_column(Text, default=None)
    disconnection_reason_code: Mapped[int | None] = mapped_column(Integer, default=None)
    disconnection_object: Mapped[str | None] = mapped_column(Text, default=None)
    disconnection_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Setting(Base):
    __tablename__ = "settings"

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), unique=True
    )
    reject_call: Mapped[bool] = mapped_column(Boolean, default=False)
    msg_call: Mapped[str] = mapped_column(Text, default="")
    groups_ignore: Mapped[bool] = mapped_column(Boolean, default=False)
    always_online: Mapped[bool] = mapped_column(Boolean, default=False)
    read_messages: Mapped[bool] = mapped_column(Boolean, default=False)
    read_status: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_full_history: Mapped[bool] = mapped_column(Boolean, default=False)
    wavoip_token: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Session(Base):
    """An instance's engine credentials (Evolution's `Session`)."""

    __tablename__ = "sessions"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    creds: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(LONG_TEXT)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    by_events: Mapped[bool] = mapped_column(Boolean, default=False)
    base64: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str | None] = mapped_column(LONG_TEXT, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Proxy(Base):
    """An instance's proxy (Evolution's `Proxy`): engines that support one read it when they
    start a session."""

    __tablename__ = "proxies"

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[str] = mapped_column(String(16), default="")
    protocol: Mapped[str] = mapped_column(String(16), default="")
    username: Mapped[str] = mapped_column(Text, default="")
    password: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
