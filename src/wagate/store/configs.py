"""The event-sink configs: each instance's webhook (`webhooks`, created with the instance) and
its websocket / rabbitmq / nats switches (`event_transports`). The routes that set them keep
events/routing.py's copy in memory up to date; delivery lives in events/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from wagate.store.models import Base, Webhook, new_cuid, utcnow
from wagate.store.repos import set_instance_row


class TransportConfig(Base):
    """Per-instance config of websocket / rabbitmq / nats (Evolution's `{enabled, events}`)."""

    __tablename__ = "event_transports"
    __table_args__ = (UniqueConstraint("instance_id", "transport"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    transport: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    """A transport's own settings (Pusher's appId, key, secret, cluster, useTLS)."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class SinkConfigs:
    """The webhook and transport config tables over one async sessionmaker."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def webhooks(self, instance_id: str | None = None) -> list[Webhook]:
        """Every instance's webhook, or one instance's."""
        q = select(Webhook)
        if instance_id is not None:
            q = q.where(Webhook.instance_id == instance_id)
        async with self._sessions() as s:
            return list((await s.scalars(q)).all())

    async def set_webhook(self, instance_id: str, values: dict[str, Any]) -> Webhook:
        return await set_instance_row(self._sessions, Webhook, instance_id, values)

    async def transports(
        self, instance_id: str | None = None, transport: str | None = None
    ) -> list[TransportConfig]:
        q = select(TransportConfig)
        if instance_id is not None:
            q = q.where(TransportConfig.instance_id == instance_id)
        if transport is not None:
            q = q.where(TransportConfig.transport == transport)
        async with self._sessions() as s:
            return list((await s.scalars(q)).all())

    async def set_transport(
        self,
        instance_id: str,
        transport: str,
        enabled: bool,
        events: list[str],
        options: dict[str, Any] | None = None,
    ) -> TransportConfig:
        async with self._sessions.begin() as s:
            row = await s.scalar(
                select(TransportConfig).where(
                    TransportConfig.instance_id == instance_id,
                    TransportConfig.transport == transport,
                )
            )
            if row is None:
                row = TransportConfig(
                    instance_id=instance_id,
                    transport=transport,
                    enabled=enabled,
                    events=events,
                    options=options,
                )
                s.add(row)
            else:
                row.enabled, row.events, row.updated_at = enabled, events, utcnow()
                row.options = options
            await s.flush()
            await s.refresh(row)
            return row
