"""What a sink is: something that delivers one outbox row and says how it went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from wagate.store.outbox import Claimed


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one delivery attempt. `code` is the receiver's HTTP status, if any."""

    ok: bool
    code: int | None = None
    error: str | None = None
    retryable: bool = True


class Sink(Protocol):
    async def deliver(self, row: Claimed) -> Result:
        """Deliver one row. Never raises: failures come back as a Result."""

    async def close(self) -> None:
        """Release connections."""
