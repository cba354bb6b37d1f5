"""What an instance's settings make it do by itself (Evolution's /settings): reject calls
(`rejectCall`) and answer them (`msgCall`), leave group chats out (`groupsIgnore`), mark what
arrives read (`readMessages`, `readStatus` for status updates) and keep the account online
(`alwaysOnline`).

Each setting acts where it belongs:
- `groupsIgnore` filters the engine's events before the message lane (a group message is
  neither stored nor announced), so it is read synchronously from a copy of every instance's
  settings kept here (loaded at start-up, updated by create and /settings/set);
- calls are announced by the lane (the CALL event) and answered here, through the same
  public operations as the HTTP API (gateway/messenger.py `Messenger`);
- read receipts are a message consumer (messaging/consumers.py): after a batch is stored,
  its live inbound messages are marked read;
- presence follows the lifecycle: each time the instance opens, and when the setting changes
  while it is open, the account announces `available` (alwaysOnline) or `unavailable`.

Engines only translate (a `Call` event, `reject_call`, `read`, `set_presence`); nothing here
is engine-specific.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from wagate.domain.jids import is_group
from wagate.engines.base import InboundEvent
from wagate.engines.messaging import (
    Call,
    GroupChange,
    History,
    Message,
    MessageKey,
    Presence,
    Receipt,
)
from wagate.gateway import Gateway, Registered
from wagate.gateway.messenger import Messenger
from wagate.messaging.consumers import StoredMessage
from wagate.runtime.tasks import spawn

_log = structlog.get_logger("wagate.messaging")
STATUS = "status@broadcast"


@dataclass(frozen=True, slots=True)
class Acting:
    """The settings that act, as /settings/find shows them (Evolution's names)."""

    rejectCall: bool = False
    msgCall: str = ""
    groupsIgnore: bool = False
    alwaysOnline: bool = False
    readMessages: bool = False
    readStatus: bool = False

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> Acting:
        """From Evolution's flat settings object (store/repos.py `setting_view`)."""
        return cls(
            rejectCall=bool(view.get("rejectCall")),
            msgCall=str(view.get("msgCall") or ""),
            groupsIgnore=bool(view.get("groupsIgnore")),
            alwaysOnline=bool(view.get("alwaysOnline")),
            readMessages=bool(view.get("readMessages")),
            readStatus=bool(view.get("readStatus")),
        )


def without_groups(event: InboundEvent) -> InboundEvent | None:
    """`event` with what concerns group chats left out; None when nothing is left."""
    match event:
        case Message():
            return None if is_group(event.key.remote_jid) else event
        case Receipt():
            keys = tuple(k for k in event.keys if not is_group(k.remote_jid))
            return replace(event, keys=keys) if keys else None
        case Presence():
            return None if is_group(event.chat) else event
        case GroupChange():
            return None
        case History():
            return replace(
                event,
                messages=tuple(m for m in event.messages if not is_group(m.key.remote_jid)),
                chats=tuple(c for c in event.chats if not is_group(c.jid)),
            )
    return event


class Behaviour:
    """Every instance's acting settings, and what they do. Also the `settings` consumer."""

    name = "settings"

    def __init__(self, gw: Gateway, messenger: Messenger) -> None:
        self.gw = gw
        self.messenger = messenger
        self._of: dict[str, Acting] = {}

    # --- the settings ---------------------------------------------------------------------

    def of(self, instance_id: str) -> Acting:
        return self._of.get(instance_id) or Acting()

    def set(self, instance_id: str, view: Mapping[str, Any]) -> None:
        """The instance's settings changed (create, /settings/set): they act from now on,
        and a change of alwaysOnline is announced at once when the instance is open."""
        before = self._of.get(instance_id)
        now = self._of[instance_id] = Acting.of(view)
        if before is not None and before.alwaysOnline != now.alwaysOnline:
            self._presence_soon(instance_id)

    async def load(self) -> None:
        """Every instance's settings, before the instances are restored."""
        for instance_id, view in await self.gw.store.all_settings():
            self._of[instance_id] = Acting.of(view)

    def attach(self) -> None:
        self.gw.inbound_gate = self.admit
        self.gw.status_listeners.append(self.on_status)
        self.messenger.pipeline.consumers.register(self)

    # --- before the lane: groups and calls ------------------------------------------------

    def admit(self, instance_id: str, event: InboundEvent) -> InboundEvent | None:
        """What of an engine event goes on to the lane (never blocks)."""
        acting = self.of(instance_id)
        if isinstance(event, Call):
            reg = self.gw.by_id.get(instance_id)
            if reg is not None and (acting.rejectCall or acting.msgCall.strip()):
                spawn(self._answer(reg, event, acting), name=f"call:{reg.name}")
            return event
        return without_groups(event) if acting.groupsIgnore else event

    async def _answer(self, reg: Registered, call: Call, acting: Acting) -> None:
        """As Evolution: the offer is rejected with rejectCall, and msgCall (when set) is
        sent to the caller."""
        if acting.rejectCall:
            try:
                await self.messenger.call(reg, lambda m: m.reject_call(call))
            except Exception as exc:
                _log.warning("call not rejected", instance=reg.name, id=call.id, error=repr(exc))
        if acting.msgCall.strip():
            try:
                text = {"conversation": acting.msgCall}
                await self.messenger.send(reg, call.caller, text, jid=call.caller)
            except Exception as exc:
                _log.warning("msgCall not sent", instance=reg.name, id=call.id, error=repr(exc))

    # --- after the lane: read receipts ----------------------------------------------------

    async def handle(self, messages: Sequence[StoredMessage]) -> None:
        """Live inbound messages are marked read: chats with readMessages, status updates
        with readStatus."""
        if not messages:
            return
        instance_id = messages[0].instance_id
        acting = self.of(instance_id)
        if not (acting.readMessages or acting.readStatus):
            return
        keys: list[MessageKey] = []
        for m in messages:
            if m.from_me or m.kind != "notify":
                continue
            wanted = acting.readStatus if m.key.remote_jid == STATUS else acting.readMessages
            if wanted:
                keys.append(m.key)
        reg = self.gw.by_id.get(instance_id)
        if keys and reg is not None:
            await self.messenger.read(reg, keys)

    # --- presence -------------------------------------------------------------------------

    def on_status(self, instance_id: str, state: str, reason: int) -> None:
        if state == "open":
            self._presence_soon(instance_id)

    def _presence_soon(self, instance_id: str) -> None:
        reg = self.gw.by_id.get(instance_id)
        if reg is not None and reg.supervisor.live_session() is not None:
            spawn(self._presence(reg), name=f"presence:{reg.name}")

    async def _presence(self, reg: Registered) -> None:
        presence = "available" if self.of(reg.id).alwaysOnline else "unavailable"
        try:
            await self.gw.set_presence(reg.name, presence)
        except Exception as exc:
            _log.warning("presence not announced", instance=reg.name, error=repr(exc))
