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


@dataclass(slots=True)
class CodeView:
    """What /instance/connect serves while pairing."""

    code: str | None = None
    base64: str | None = None
    """The QR code as a PNG data URI."""
    pairing_code: str | None = None
    count: int = 0


@dataclass(frozen=True, slots=True)
class Subject:
    """The instance an announcement is about, as its events name it."""

    name: str
    instance_id: str
    sender: str | None
    """The account's bare JID once known."""
    profile_name: str | None


class Announcer(Protocol):
    """How the lifecycle's announcements become events (Evolution's payloads are built on the
    events side, events/connection.py), and how they go out."""

    def connection(
        self, subject: Subject, state: str, reason: int, lifecycle: dict[str, Any]
    ) -> list[Envelope]:
        """The events of one state change: connection.update with `state` ('open',
        'connecting', 'close' or 'refused', after qrcode.updated's limit message)."""

    def code(self, subject: Subject, code: CodeView) -> list[Envelope]:
        """qrcode.updated for the code now served."""

    def qr_image(self, qr: str) -> str:
        """The QR code as a PNG data URI."""

    async def write(self, events: Sequence[Envelope]) -> None:
        """Put `events` in the outbox in their own transaction. Raises on failure."""

    async def published(self, events: Sequence[Envelope]) -> None:
        """After `events` were committed: hand them to the live sinks and the dispatcher."""
