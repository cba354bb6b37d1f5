"""The in-process event bus: builds Evolution's envelope once and hands it to every sink."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from wagate.events.ids import new_event_id

Envelope = dict[str, Any]
Subscriber = Callable[[Envelope], Awaitable[None]]

_log = structlog.get_logger("wagate.events")


def wire_to_key(event: str) -> str:
    """'group-participants.update' -> 'GROUP_PARTICIPANTS_UPDATE' (Evolution's normalisation)."""
    return event.replace(".", "_").replace("-", "_").upper()


class EventBus:
    """Implements core.ports.Announcer. Sinks subscribe; a failing sink never stops the others."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def envelope(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> Envelope:
        env: Envelope = {
            "id": new_event_id(),
            "event": event,
            "instance": instance_name,
            "instanceId": instance_id,
            "data": data,
            "date_time": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "server_url": self.server_url,
            "apikey": None,
        }
        if sender is not None:
            env["sender"] = sender
        return env

    async def emit(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> None:
        env = self.envelope(instance_name, instance_id, event, data, sender)
        _log.debug("event", instance=instance_name, event_name=event, id=env["id"])
        for subscriber in list(self._subscribers):
            try:
                await subscriber(env)
            except Exception as exc:
                _log.error("event sink failed", event_name=event, error=repr(exc))
