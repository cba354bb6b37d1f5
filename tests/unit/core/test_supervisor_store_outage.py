"""A store that stays down past the retries: the teardown still finishes, the caller hears of
the failure, and the state (with its events, in order) lands once the store is back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from wagate.core import lifecycle as lc
from wagate.core.ports import StatusSnapshot
from wagate.core.reconnect import Backoff
from wagate.core.supervisor import Supervisor, Timing
from wagate.domain.errors import StoreUnavailable
from wagate.engines.sim import SimEngine, SimNetwork
from wagate.events.connection import ConnectionEvents
from wagate.runtime.clock import VirtualClock


class FlakyStore:
    """Status rows, credentials and published events in memory; writes fail while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.rows: dict[str, StatusSnapshot] = {}
        self.creds: dict[str, dict[str, Any]] = {}
        self.outbox: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    async def save_status(self, instance_id: str, snap: StatusSnapshot) -> None:
        if self.down:
            raise OSError("database unreachable")
        self.rows[instance_id] = snap

    async def save_status_with_events(
        self, instance_id: str, snap: StatusSnapshot, events: Sequence[dict[str, Any]]
    ) -> None:
        await self.save_status(instance_id, snap)
        self.outbox.extend(events)

    async def forget(self, instance_id: str) -> None:
        self.rows.pop(instance_id, None)

    async def load(self, instance_id: str) -> dict[str, Any] | None:
        return self.creds.get(instance_id)

    async def save(self, instance_id: str, creds: dict[str, Any]) -> None:
        self.creds[instance_id] = creds

    async def delete(self, instance_id: str) -> None:
        self.creds.pop(instance_id, None)

    # Announcer
    def envelope(self, name: str, iid: str, event: str, data: Any, sender: str | None) -> Any:
        return {"event": event, "instance": name, "data": data}

    async def write(self, events: Sequence[dict[str, Any]]) -> None:
        if self.down:
            raise OSError("database unreachable")
        self.outbox.extend(events)

    async def published(self, events: Sequence[dict[str, Any]]) -> None:
        self.sent.extend(events)


async def _open_instance(store: FlakyStore, clock: VirtualClock) -> tuple[Supervisor, SimNetwork]:
    net = SimNetwork(clock, qr_interval=20.0)
    sup = Supervisor(
        instance_id="iid", name="outage", engine=SimEngine(net), creds=store, store=store,
        announcer=ConnectionEvents(store), clock=clock, policy=lc.Policy(),
        backoff=Backoff(jitter=0.0),
        timing=Timing(persist_retries=2, persist_retry_delay=0.001),
    )  # fmt: skip
    sup.start()
    await sup.submit(lc.Connect())
    await clock.advance(0.01)
    net.scan("outage", "5511999990009")
    await clock.advance(0.01)
    await sup.wait_quiescent()
    assert sup.external_state == "open"
    return sup, net


async def test_logout_finishes_and_the_state_lands_when_the_store_returns() -> None:
    store, clock = FlakyStore(), VirtualClock()
    sup, net = await _open_instance(store, clock)
    store.down = True

    with pytest.raises(StoreUnavailable):
        await sup.submit(lc.Logout())

    # The teardown was carried out in full despite the store.
    assert sup.inst.state is lc.State.LOGGED_OUT
    assert net.stats_of("outage").live_sessions == 0
    assert "iid" not in store.creds or store.down  # purge retried against a down store
    assert store.rows["iid"].connection_status == "open"  # not yet written ...
    assert not sup.store_in_step and not sup.quiescent  # ... and known to be behind
    closes = [e for e in store.sent if e["data"].get("state") == "close"]
    assert closes == []  # nothing announced that is not persisted

    store.down = False
    await clock.advance(1.0)
    for _ in range(50):
        if sup.store_in_step:
            break
        await asyncio.sleep(0)
    assert sup.store_in_step and sup.quiescent
    assert store.rows["iid"].connection_status == "close"
    assert store.rows["iid"].reason == 401
    updates = [e["data"]["state"] for e in store.sent if e["event"] == "connection.update"]
    assert updates == ["connecting", "open", "close"]  # once each, in order
    await sup.shutdown()


async def test_a_later_change_carries_the_unsaved_events_first() -> None:
    store, clock = FlakyStore(), VirtualClock()
    sup, _ = await _open_instance(store, clock)
    store.down = True
    with pytest.raises(StoreUnavailable):
        await sup.submit(lc.Logout())
    store.down = False
    await sup.submit(lc.Connect())  # before the repair timer fires
    updates = [e["data"]["state"] for e in store.sent if e["event"] == "connection.update"]
    assert updates == ["connecting", "open", "close", "connecting"]
    assert store.rows["iid"].connection_status == "connecting"
    assert sup.store_in_step
    await sup.shutdown()
