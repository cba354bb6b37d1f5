"""The engine boundary: what every WhatsApp engine implements and the events it reports.

Engines translate; they never decide. An engine turns library callbacks into the typed events
below, each tagged with the session epoch it came from, and turns the supervisor's effects into
library calls. A failing call raises a classified `EngineError` (domain/errors.py).

The messaging half (sending, receipts, presence, groups, profile, media, and the inbound
`Message`, `Receipt` … events) is in engines/messaging.py: a session that can message also
implements `engines.messaging.Messaging`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wagate.domain.close import Cause
from wagate.domain.errors import EngineError
from wagate.engines.messaging import (
    Call,
    ChatChange,
    ContactUpdate,
    GroupChange,
    History,
    LabelChange,
    Message,
    Presence,
    Receipt,
)

__all__ = [
    "Closed",
    "CredentialStore",
    "CredsUpdate",
    "Engine",
    "EngineError",
    "EngineEvent",
    "EngineSession",
    "EventSink",
    "InboundEvent",
    "LoggedOut",
    "Opened",
    "PairCode",
    "Qr",
    "SessionSpec",
]


@dataclass(frozen=True, slots=True)
class Qr:
    """A new QR code to show. Emitted on every rotation while the account is not paired."""

    epoch: int
    code: str


@dataclass(frozen=True, slots=True)
class PairCode:
    """A pairing code for the number given at connect. Not emitted without a number."""

    epoch: int
    code: str


@dataclass(frozen=True, slots=True)
class Opened:
    """The session is open. `jid` is None when the library has not told us the account yet;
    the lifecycle then waits for a second `Opened` carrying it."""

    epoch: int
    jid: str | None
    push_name: str | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection dropped or could not be made. `code` is a `CloseCode` (domain/close.py)
    or another code WhatsApp sent; `cause` tells apart causes that share one code. Not emitted
    for a stop the supervisor asked for."""

    epoch: int
    code: int
    detail: str = ""
    cause: Cause | None = None


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """The account was unlinked from the phone side. Not emitted for our own logout."""

    epoch: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CredsUpdate:
    """The account's credentials changed (paired, or keys rotated): persist them."""

    epoch: int
    creds: dict[str, Any] = field(default_factory=dict)


EngineEvent = Qr | PairCode | Opened | Closed | LoggedOut | CredsUpdate
"""Events that drive the connection lifecycle (core/lifecycle.py)."""
InboundEvent = (
    Message
    | Receipt
    | Presence
    | ContactUpdate
    | ChatChange
    | GroupChange
    | LabelChange
    | History
    | Call
)
"""Events about messages, contacts, chats, presence, groups, labels and the account's history
(the message pipeline)."""
EventSink = Callable[[EngineEvent | InboundEvent], None]


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """Everything an engine needs to start one session of one instance."""

    instance_id: str
    instance_name: str
    epoch: int
    creds: dict[str, Any] | None
    pairing_number: str | None = None
    full_history: bool = False
    """Ask WhatsApp for the account's full history when pairing (the instance's
    `syncFullHistory`); otherwise a newly paired device gets only the recent history."""
    durable: Callable[[], Awaitable[None]] | None = None
    """Returns once every inbound event the session handed to its sink so far is durable
    (stored with the events that report it); raises when one could not be. An engine
    acknowledges a message to its network only after this (None: nothing to wait for)."""
    proxy: str | None = None
    """The proxy URL the session dials WhatsApp through (the instance's /proxy/set, else
    Evolution's PROXY_*); None: direct. A proxy that cannot be reached is a failed start
    (`EngineUnavailable` with cause no_route), never a hang."""


class EngineSession(Protocol):
    """One live connection of one instance. Every method is bounded by the caller's deadline."""

    epoch: int

    async def logout_remote(self) -> None:
        """Unlink this device on WhatsApp's side. Raises EngineError when it cannot."""

    async def stop(self) -> None:
        """Close the connection. Idempotent; may raise if the socket is already gone."""

    async def set_presence(self, presence: str) -> None:
        """Send the account's presence (available, unavailable, composing …)."""


class Engine(Protocol):
    """A WhatsApp engine: starts sessions and forgets credentials."""

    name: str

    async def start(self, spec: SessionSpec, sink: EventSink) -> EngineSession:
        """Start connecting. Raises EngineUnavailable when no connection can be made at all."""

    async def purge(self, instance_id: str, instance_name: str) -> None:
        """Delete any credentials the engine keeps on its own for this instance."""

    async def close(self) -> None:
        """Stop everything at shutdown."""


class CredentialStore(Protocol):
    """Where an instance's credentials live (the store's `session` table)."""

    async def load(self, instance_id: str) -> dict[str, Any] | None: ...

    async def save(self, instance_id: str, creds: dict[str, Any]) -> None: ...

    async def delete(self, instance_id: str) -> None: ...
