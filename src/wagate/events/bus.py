"""The event bus: builds Evolution's envelope once, writes it to the durable outbox, then hands
it to the live subscribers (Socket.IO, tests) and wakes the dispatcher.

Writing and publishing are separate steps so that a state change and the events reporting it
go to the database in one transaction (`write_with`), and only then out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from wagate.events.catalogue import event_key
from wagate.events.ids import new_event_id
from wagate.events.routing import Routes
from wagate.store.outbox import Delivery, Outbox, row_bytes
from wagate.store.writer import Write

Envelope = dict[str, Any]
Subscriber = Callable[[Envelope], Awaitable[None]]

_log = structlog.get_logger("wagate.events")
WRITE_RETRIES = 3


def wire_to_key(event: str) -> str:
    """'group-participants.update' -> 'GROUP_PARTICIPANTS_UPDATE' (Evolution's normalisation)."""
    return event_key(event)


class EventBus:
    """Writes and publishes every event (the lifecycle's through events/connection.py). Sinks
    subscribe; a failing sink never stops the others."""

    def __init__(
        self,
        server_url: str,
        *,
        routes: Routes | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.server_url = server_url
        self.routes = routes
        self.outbox = outbox
        self._subscribers: list[Subscriber] = []
        self._wakers: list[Callable[[], None]] = []
        self.apikey_of: Callable[[str], str | None] = lambda instance_id: None
        """The envelope's `apikey` for an instance: its token when
        AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true (set by the gateway), else null."""

    @property
    def durable(self) -> bool:
        return self.routes is not None and self.outbox is not None

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def on_written(self, wake: Callable[[], None]) -> None:
        """Call `wake` after outbox rows were committed (the dispatcher's doorbell)."""
        self._wakers.append(wake)

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
            "apikey": self.apikey_of(instance_id),
        }
        if sender is not None:
            env["sender"] = sender
        return env

    async def deliveries(self, events: Sequence[Envelope]) -> list[Delivery]:
        """The outbox rows for `events`, in order."""
        if self.routes is None:
            return []
        rows: list[Delivery] = []
        for env in events:
            found = await self.routes.deliveries(env)
            if self.outbox is not None and not all(map(self.outbox.fits, found)):
                found = await self._fitting(env, found)
            rows.extend(found)
            if env["event"] == "remove.instance":
                self.routes.forget(env["instanceId"])
        return rows

    @property
    def payload_room(self) -> int | None:
        """The largest event payload (bytes, as the database writes it) the outbox keeps;
        None: no limit (or no outbox)."""
        return None if self.outbox is None else self.outbox.payload_room

    async def _fitting(self, env: Envelope, found: list[Delivery]) -> list[Delivery]:
        """The rows of an event too large for the outbox (MySQL's max_allowed_packet). With a
        `message.base64` it goes without it (the envelope itself changes, so every destination
        and live subscriber gets the same event); rows that still do not fit are left out,
        logged. Never raises: one event must not fail the writes sharing its transaction."""
        assert self.routes is not None and self.outbox is not None
        data = env.get("data")
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(data, dict) and isinstance(message, dict) and "base64" in message:
            rest = {k: v for k, v in message.items() if k != "base64"}
            env["data"] = {**data, "message": rest}
            _log.warning(
                "media left out of the event: too large for the outbox",
                event_name=env["event"],
                id=env["id"],
                instance=env["instance"],
                packet=self.outbox.budget.packet,
            )
            found = await self.routes.deliveries(env)
        kept = [d for d in found if self.outbox.fits(d)]
        if len(kept) < len(found):
            _log.error(
                "event too large for the outbox: not delivered",
                event_name=env["event"],
                id=env["id"],
                instance=env["instance"],
                row_bytes=max(map(row_bytes, found)),
                packet=self.outbox.budget.packet,
                destinations=len(found) - len(kept),
            )
        return kept

    async def write(self, events: Sequence[Envelope]) -> None:
        """Write `events` to the outbox in their own transaction. Raises if the write fails."""
        if self.outbox is None:
            return
        rows = await self.deliveries(events)
        if rows:
            await self.outbox.append(rows)

    async def write_with(self, op: Write, events: Sequence[Envelope]) -> None:
        """Rows of another table (`op`) and the events reporting them, in one transaction."""
        assert self.outbox is not None
        await self.outbox.write_with(op, await self.deliveries(events))

    async def published(self, events: Sequence[Envelope]) -> None:
        """After the commit: ring the dispatcher, then the live subscribers, in order."""
        if not events:
            return
        for wake in self._wakers:
            wake()
        for env in events:
            for subscriber in list(self._subscribers):
                try:
                    await subscriber(env)
                except Exception as exc:
                    _log.error("event sink failed", event_name=env["event"], error=repr(exc))

    async def emit(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> None:
        """Build, write (retried) and publish one event. A write that keeps failing is logged
        with the event, never raised: callers outside the lifecycle must not fail on it."""
        env = self.envelope(instance_name, instance_id, event, data, sender)
        _log.debug("event", instance=instance_name, event_name=event, id=env["id"])
        delay = 0.05
        for attempt in range(1, WRITE_RETRIES + 1):
            try:
                await self.write([env])
                break
            except Exception as exc:
                if attempt == WRITE_RETRIES:
                    _log.error(
                        "event not written to the outbox",
                        event_name=event,
                        id=env["id"],
                        instance=instance_name,
                        error=repr(exc),
                    )
                    break
                await asyncio.sleep(delay)
                delay *= 2
        await self.published([env])
