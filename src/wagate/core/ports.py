"""What the core needs from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Envelope = dict[str, Any]
"""An event as every sink sees it (Evolution's envelope plus wagate's `id`)."""


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """The persisted view of an instance's connection, written on every state change."""

    connection_status: str
    lifecycle_state: str
    reason: int
    detail: str
    owner_jid: str | None
    profile_name: str | None
    disconnected_at: float | None
    """Wall-clock seconds of the last close with a reason, else None."""


class StatusStore(Protocol):
    async def save_status(self, instance_id: str, snap: StatusSnapshot) -> None:
        """Persist the snapshot. Raises on failure; the caller retries."""

    async def save_status_with_events(
        self, instance_id: str, snap: StatusSnapshot, events: Sequence[Envelope]
    ) -> None:
        """Persist the snapshot and put `events` in the outbox in the same transaction.
        Raises on failure (nothing written); the caller retries with the same envelopes."""

    async def forget(self, instance_id: str) -> None:
        """Delete every row the instance owns."""


class Announcer(Protocol):
    async def emit(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> None:
        """Publish one event (wire name, e.g. 'connection.update') for an instance."""

    def envelope(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> Envelope:
        """Build one event's envelope (with its unique, sortable `id`) without sending it."""

    async def write(self, events: Sequence[Envelope]) -> None:
        """Put `events` in the outbox in their own transaction. Raises on failure."""

    async def published(self, events: Sequence[Envelope]) -> None:
        """After `events` were committed: hand them to the live sinks and the dispatcher."""
