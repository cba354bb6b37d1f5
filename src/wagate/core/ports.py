"""What the core needs from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


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

    async def forget(self, instance_id: str) -> None:
        """Delete every row the instance owns."""


class Announcer(Protocol):
    async def emit(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> None:
        """Publish one event (wire name, e.g. 'connection.update') for an instance."""
