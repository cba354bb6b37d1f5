"""whatsmeow's handler of a message, receipt or history sync returns only once the API process
has the event durable, within WAGATE_INBOUND_ACK_TIMEOUT_SECONDS.

Host side: the handler waits for the `ack` of the last frame the worker reported for the event
(at once when nothing was reported, False when the session stops, on its own after the bound);
neonize's event callback, run by a Go thread, waits for that handler. API side: a frame with an
`ack` is answered once the session's `durable()` returns (ok false when it failed, timed out or
the event was dropped)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
import time
from typing import Any

import pytest

from wagate.engines.base import SessionSpec
from wagate.engines.neonize import HostConfig, NeonizeConfig
from wagate.engines.neonize.engine import NeonizeSession
from wagate.engines.neonize.host import Host, Slot, _blocking_execute, _durable_enqueuer
from wagate.engines.neonize.wire import Frame

RECEIPT = {"ev": "receipt", "keys": [{"remoteJid": "5511@s.whatsapp.net", "fromMe": True,
           "id": "3EB0A"}], "status": "DELIVERY_ACK"}  # fmt: skip


def _host(bound: float = 5.0) -> tuple[Host, Slot, list[dict[str, Any]]]:
    host = Host(HostConfig(ack_timeout=bound), proto_fd=-1)
    sent: list[dict[str, Any]] = []
    host.send = lambda head, body=b"": sent.append(head)  # type: ignore[method-assign]

    async def handle(slot: Slot, kind: str, ev: Any) -> None:
        for head in ev:  # the fake event is the list of frames it translates into
            host.report(slot, head)

    host._handle = handle  # type: ignore[method-assign]
    return host, Slot("inst-1", 4, None), sent


async def _until(check: Any) -> None:
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


async def test_the_handler_returns_once_the_last_frame_is_acknowledged() -> None:
    host, slot, sent = _host()
    worker = asyncio.ensure_future(host._work(slot))
    handler = _durable_enqueuer(slot, "history", 5.0)
    waiting = asyncio.ensure_future(handler(None, [dict(RECEIPT), dict(RECEIPT)]))
    await _until(lambda: len(sent) == 2)
    first, last = sent[0]["ack"], sent[1]["ack"]
    assert sent[1]["sid"] == "inst-1" and sent[1]["epoch"] == 4 and first != last
    await host._serve(Frame({"op": "ack", "ack": first, "ok": True}))  # not the last: no
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await host._serve(Frame({"op": "ack", "ack": last, "ok": True}))
    await asyncio.wait_for(waiting, 2)
    assert len(sent) == 2  # an ack gets no reply
    assert host._acks == {} and slot.waiting == set()
    # an event that reports nothing is not waited for
    await asyncio.wait_for(handler(None, []), 2)
    # events that are not durable kinds carry no ack
    await _until(lambda: slot.queue.empty())
    host.report(slot, dict(RECEIPT))
    assert "ack" not in sent[-1]
    slot.queue.put_nowait(("end", None))
    await worker


async def test_past_the_bound_the_handler_returns_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, slot, sent = _host(bound=0.2)
    worker = asyncio.ensure_future(host._work(slot))
    handler = _durable_enqueuer(slot, "message", 0.2)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="wagate.neonize.host"):
        await asyncio.wait_for(handler(None, [dict(RECEIPT)]), 2)
    assert 0.2 <= time.monotonic() - began < 1.5
    assert "not durable within 0.2 s: whatsmeow goes on and acknowledges it" in caplog.text
    assert "ack" in sent[0]
    slot.queue.put_nowait(("end", None))
    await worker


async def test_a_stopping_session_releases_its_waiting_handlers() -> None:
    host, slot, sent = _host()
    worker = asyncio.ensure_future(host._work(slot))
    handler = _durable_enqueuer(slot, "receipt", 5.0)
    waiting = asyncio.ensure_future(handler(None, [dict(RECEIPT)]))
    await _until(lambda: len(sent) == 1)
    await host._stop_slot(slot)
    await asyncio.wait_for(waiting, 2)
    assert host._acks == {}
    await asyncio.wait_for(worker, 2)


async def test_the_go_thread_waits_for_the_handler() -> None:
    """neonize's callback, as whatsmeow's Go thread runs it: for a durable kind it returns only
    once the handler did; other events go through neonize's own callback."""
    loop = asyncio.get_running_loop()
    release = asyncio.Event()
    handled: list[bytes] = []
    plain: list[int] = []

    class Decoded:
        @staticmethod
        def FromString(raw: bytes) -> bytes:
            return raw

    class Events:
        INT_TO_EVENT = {17: Decoded, 18: Decoded}

    class Dispatcher:
        client = object()

        def __init__(self) -> None:
            async def handler(_client: Any, event: bytes) -> None:
                await release.wait()
                handled.append(event)

            self.list_func = {17: handler}

        def execute(self, uuid: int, binary: int, size: int, code: int) -> None:
            plain.append(code)

    execute = _blocking_execute(Events(), Dispatcher(), frozenset({17}), loop, 5.0)
    raw = ctypes.create_string_buffer(b"proto-bytes")
    returned = threading.Event()

    def go_thread() -> None:
        execute(1, ctypes.addressof(raw), 11, 17)
        returned.set()

    thread = threading.Thread(target=go_thread)
    thread.start()
    await asyncio.sleep(0.2)
    assert not returned.is_set()  # whatsmeow's handler has not returned
    release.set()
    await asyncio.to_thread(returned.wait, 5)
    thread.join(5)
    assert handled == [b"proto-bytes"]
    execute(1, ctypes.addressof(raw), 11, 18)  # not a durable kind: neonize's own path
    assert plain == [18]


class _Host:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, op: str, **fields: Any) -> None:
        self.sent.append({"op": op, **fields})


class _Engine:
    config = NeonizeConfig(host=HostConfig(ack_timeout=0.3))


async def test_the_api_process_acknowledges_once_the_event_is_durable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    durable = asyncio.Event()
    failure: list[Exception] = []

    async def wait_durable() -> None:
        if failure:
            raise failure[0]
        await durable.wait()

    events: list[Any] = []
    spec = SessionSpec("inst-1", "one", 4, None, durable=wait_durable)
    session = NeonizeSession(_Engine(), spec, events.append)  # type: ignore[arg-type]
    host = _Host()
    session.host = host  # type: ignore[assignment]
    session.on_event({**RECEIPT, "sid": "inst-1", "epoch": 4, "ack": 7})
    assert len(events) == 1  # handed to the pipeline at once
    await asyncio.sleep(0.1)
    assert host.sent == []  # not durable yet
    durable.set()
    await _until(lambda: host.sent)
    assert host.sent == [{"op": "ack", "ack": 7, "ok": True}]

    durable.clear()  # the bound passes
    with caplog.at_level(logging.WARNING):
        session.on_event({**RECEIPT, "sid": "inst-1", "epoch": 4, "ack": 8})
        await _until(lambda: len(host.sent) == 2)
    assert host.sent[1] == {"op": "ack", "ack": 8, "ok": False}
    failure.append(OSError("disk I/O error"))  # the batch failed
    session.on_event({**RECEIPT, "sid": "inst-1", "epoch": 4, "ack": 9})
    await _until(lambda: len(host.sent) == 3)
    assert host.sent[2] == {"op": "ack", "ack": 9, "ok": False}
    # dropped frames are answered at once: a stale epoch, a malformed frame, nothing to store
    session.on_event({**RECEIPT, "sid": "inst-1", "epoch": 3, "ack": 10})
    session.on_event({"ev": "receipt", "sid": "inst-1", "epoch": 4, "keys": [{}], "ack": 11})
    session.on_event({**RECEIPT, "keys": [], "sid": "inst-1", "epoch": 4, "ack": 12})
    assert host.sent[3:] == [
        {"op": "ack", "ack": 10, "ok": False},
        {"op": "ack", "ack": 11, "ok": False},
        {"op": "ack", "ack": 12, "ok": True},
    ]
    assert len(events) == 3
