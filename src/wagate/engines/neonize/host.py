"""A neonize host: one OS process that runs the sessions of one shard of instances.

Run by the API process as `python -m wagate.engines.neonize.host '<json config>'`; it speaks
the framed protocol of wire.py on stdin and on a private copy of stdout (Go and neonize print
to stdout, so fd 1 is pointed at stderr before neonize is imported).

Inside (shared/reference/neonize.md §5, §9.2):
- the event loop is created and set explicitly, and neonize's global event loop is pointed at
  it; the loop's default executor is our own pool, sized for the shard;
- every FFI call holds one side of a readers/writer lock (connect and stop are writers) and runs
  to completion in a task of its own, so a caller's timeout never releases the lock early;
- neonize handlers only enqueue; one worker per session translates, makes follow-up calls
  (get_me, PairPhone) and reports engine events;
- our own timers cover what whatsmeow does not report: connect deadline, QR expiry, and a
  reconnect grace after a disconnect.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wagate.domain.close import Cause, CloseCode
from wagate.engines.neonize import inbound, translate
from wagate.engines.neonize.calls import CallFailed, Calls
from wagate.engines.neonize.hostconfig import HostConfig
from wagate.engines.neonize.rwlock import ReadWriteLock
from wagate.engines.neonize.wire import Frame, encode, read_frame

T = TypeVar("T")
_log = logging.getLogger("wagate.neonize.host")


@dataclass(slots=True)
class Slot:
    """One session of one instance inside this host."""

    sid: str
    epoch: int
    pairing_number: str | None
    client: Any = None
    task: asyncio.Task[Any] | None = None
    queue: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[Any] | None = None
    timer: asyncio.Task[Any] | None = None
    closed: bool = False
    stopping: bool = False
    paired: bool = False
    connected: bool = False
    pair_requested: bool = False
    qr_count: int = 0
    acking: asyncio.Future[bool] | None = None
    """The handler of the event the worker is translating waits on this (see Durable)."""
    ack_id: int | None = None
    """The `ack` id of the last frame reported for that event."""
    waiting: set[asyncio.Future[bool]] = field(default_factory=set)
    """Every handler still waiting for its event to be durable; told False when the slot
    stops."""


@dataclass(slots=True)
class Durable:
    """A message, receipt or history sync whose whatsmeow handler waits until the API process
    says it is durable: `done` gets True then, False when it could not be stored or the
    session stops."""

    event: Any
    done: asyncio.Future[bool]


DURABLE_KINDS = frozenset({"message", "receipt", "history"})
"""Events whatsmeow's handler returns from only once they are durable."""


class Host:
    """The command loop and the sessions of one host process."""

    def __init__(self, config: HostConfig, proto_fd: int) -> None:
        self.config = config
        self.lock = ReadWriteLock()
        self.slots: dict[str, Slot] = {}
        self._proto_fd = proto_fd
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._exit = asyncio.Event()
        self.nz: Any = None
        self.calls = Calls(self)
        self._acks: dict[int, asyncio.Future[bool]] = {}
        """Reported event frames waiting for the API process's `ack`, by their `ack` id."""
        self._ack_ids = 0

    # --- process loop ---------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="neonize")
        )
        self.nz = _load_neonize()
        self.nz.events.event_global_loop = loop  # events go to this loop, whatever ran first
        reader = asyncio.StreamReader(limit=2**16)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0)
        )
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(self._proto_fd, "wb", buffering=0)
        )
        self._writer = asyncio.StreamWriter(transport, protocol, None, loop)
        self.send({"ev": "ready", "pid": os.getpid()})
        read = self.spawn(self._read_commands(reader), "commands")
        await asyncio.wait(
            {read, self.spawn(self._exit.wait(), "exit")}, return_when="FIRST_COMPLETED"
        )
        await self._stop_all(self.config.stop_deadline)
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer.drain(), 2.0)
            except Exception:
                pass
        return 0

    async def _read_commands(self, reader: asyncio.StreamReader) -> None:
        while True:
            frame = await read_frame(reader)
            if frame is None:  # the API process is gone
                return
            self.spawn(self._serve(frame), f"serve:{frame.head.get('op')}")

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Every task of the host starts here: named, referenced until done, failure logged.
        The host keeps its own helper rather than wagate.runtime.tasks.spawn because it runs
        in a child process that logs through stdlib logging to stderr, which the API process
        relays (structlog is configured only there)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("host task %s failed: %r", task.get_name(), task.exception())

    def send(self, head: dict[str, Any], body: bytes = b"") -> None:
        """Write one frame to the API process (never blocks; the pipe buffers)."""
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode(Frame(head, body)))

    async def _serve(self, frame: Frame) -> None:
        head = frame.head
        op = head.get("op")
        if op == "ack":  # no reply: the API process does not wait for one
            done = self._acks.pop(int(head.get("ack", -1)), None)
            if done is not None and not done.done():
                done.set_result(bool(head.get("ok")))
            return
        handler = {
            "start": self.op_start,
            "stop": self.op_stop,
            "logout": self.op_logout,
            "presence": self.op_presence,
            "exit": self.op_exit,
        }.get(str(op))
        body = b""
        try:
            if str(op) in self.calls.ops:
                result, body = await self.calls.serve(head, frame.body)
            elif handler is None:
                raise CallFailed(f"unknown command {op!r}", "fatal")
            else:
                result = await handler(head)
        except CallFailed as exc:
            self.send({"re": head.get("id"), "ok": False, "error": str(exc), "kind": exc.kind})
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            reply = {"ok": False, "error": message, "kind": translate.error_kind(message)}
            self.send({"re": head.get("id"), **reply})
        else:
            self.send({"re": head.get("id"), "ok": True, **result}, body)

    # --- FFI discipline -------------------------------------------------------------------

    def ffi(self, call: Callable[[], Awaitable[T]], *, write: bool = False) -> asyncio.Task[T]:
        """Run one FFI call under the lock, to completion, in its own task."""

        async def locked() -> T:
            async with self.lock.write() if write else self.lock.read():
                return await call()

        return self.spawn(locked(), "ffi")

    async def call(
        self, fn: Callable[[], Awaitable[T]], *, write: bool = False, timeout: float | None = None
    ) -> T:
        """Await an FFI call; a timeout or cancel leaves it running (and locked) to the end."""
        task = self.ffi(fn, write=write)
        if timeout is None:
            return await asyncio.shield(task)
        return await asyncio.wait_for(asyncio.shield(task), timeout)

    # --- commands -------------------------------------------------------------------------

    async def op_start(self, head: dict[str, Any]) -> dict[str, Any]:
        sid, epoch = str(head["sid"]), int(head["epoch"])
        old = self.slots.pop(sid, None)
        if old is not None:  # never two sessions of one instance
            await self._stop_slot(old)
        slot = Slot(sid, epoch, head.get("pairing_number") or None)
        self.slots[sid] = slot
        slot.worker = self.spawn(self._work(slot), f"worker:{sid}")
        nz = self.nz
        proxy = head.get("proxy")

        async def connect() -> None:
            props = nz.DeviceProps(
                os=self.config.device_os,
                platformType=getattr(nz.DeviceProps, self.config.device_platform),
                requireFullSync=bool(head.get("full_history")),  # syncFullHistory, at pairing
            )
            client = nz.NewAClient(str(head["db"]), props=props, uuid=f"{sid}-{epoch}")
            client._stop_finalizer.detach()  # a collected client must never Stop a newer one
            self._hook(client, slot)
            slot.client = client
            settings = nz.ProxySettings(proxy_address=proxy) if proxy else None
            slot.task = await client.connect(settings)
            slot.task.add_done_callback(lambda t: slot.queue.put_nowait(("task_done", t)))
            # Go registers the client in its maps in the first moments of Neonize(): hold the
            # writer side until then (or until the connect already ended).
            await asyncio.wait({slot.task}, timeout=self.config.connect_grace)

        await self.call(connect, write=True)
        self._arm(slot, self.config.connect_deadline, "connect deadline", Cause.CONNECT_DEADLINE)
        return {}

    async def op_stop(self, head: dict[str, Any]) -> dict[str, Any]:
        slot = self.slots.pop(str(head["sid"]), None)
        if slot is not None and slot.epoch <= int(head.get("epoch", slot.epoch)):
            await self._stop_slot(slot)
        elif slot is not None:  # a stop for an older epoch must not stop a newer session
            self.slots[slot.sid] = slot
        return {}

    async def op_logout(self, head: dict[str, Any]) -> dict[str, Any]:
        slot = self._live(head)
        connected = await self.call(lambda: slot.client.is_connected)
        if not connected:
            raise CallFailed("websocket not connected: remote unlink skipped", "unavailable")
        try:
            await self.call(slot.client.logout, timeout=float(head.get("deadline", 10.0)))
        except TimeoutError:
            raise CallFailed("remote unlink timed out", "unavailable") from None
        except Exception as exc:
            raise CallFailed(str(exc)) from None
        return {"remote": True}

    async def op_presence(self, head: dict[str, Any]) -> dict[str, Any]:
        slot = self._live(head)
        name = str(head.get("presence", "")).lower()
        presence = {"available": "AVAILABLE", "unavailable": "UNAVAILABLE"}.get(name)
        if presence is None:
            raise CallFailed(f"presence {name!r} needs a chat; use available or unavailable")
        value = getattr(self.nz.Presence, presence)
        try:
            await self.call(lambda: slot.client.send_presence(value))
        except Exception as exc:
            raise CallFailed(str(exc)) from None
        return {}

    async def op_exit(self, head: dict[str, Any]) -> dict[str, Any]:
        self._exit.set()
        return {}

    def _live(self, head: dict[str, Any]) -> Slot:
        slot = self.slots.get(str(head["sid"]))
        if slot is None or slot.client is None or slot.epoch != int(head["epoch"]):
            raise CallFailed("client is nil: no live session", "unavailable")
        return slot

    async def _stop_slot(self, slot: Slot) -> None:
        slot.stopping = slot.closed = True
        slot.connected = False
        self._disarm(slot)
        slot.queue.put_nowait(("end", None))
        for ack_id, done in list(self._acks.items()):
            if done in slot.waiting:
                del self._acks[ack_id]
        for done in list(slot.waiting):
            if not done.done():
                done.set_result(False)
        if slot.client is not None:
            await self.call(slot.client.stop, write=True)
        if slot.task is not None:
            await asyncio.wait({slot.task}, timeout=5.0)

    async def _stop_all(self, deadline: float) -> None:
        slots, self.slots = list(self.slots.values()), {}
        if slots:
            stops = [self.spawn(self._stop_slot(s), f"stop:{s.sid}") for s in slots]
            await asyncio.wait(stops, timeout=deadline)

    # --- events: handlers enqueue, the worker translates ------------------------------------

    def _hook(self, client: Any, slot: Slot) -> None:
        """Register every handler before connect (Go filters on the list it gets then)."""
        nz = self.nz
        kinds = {
            "pair": nz.PairStatusEv,
            "connected": nz.ConnectedEv,
            "disconnected": nz.DisconnectedEv,
            "logged_out": nz.LoggedOutEv,
            "replaced": nz.StreamReplacedEv,
            "temp_ban": nz.TemporaryBanEv,
            "failure": nz.ConnectFailureEv,
            "outdated": nz.ClientOutdatedEv,
            "stream_error": nz.StreamErrorEv,
            "keepalive_timeout": nz.KeepAliveTimeoutEv,
            "keepalive_restored": nz.KeepAliveRestoredEv,
            "message": nz.MessageEv,
            "receipt": nz.ReceiptEv,
            "presence": nz.PresenceEv,
            "chat_presence": nz.ChatPresenceEv,
            "joined_group": nz.JoinedGroupEv,
            "group_info": nz.GroupInfoEv,
            "history": nz.HistorySyncEv,
            "call_offer": nz.CallOfferEv,
            "picture": nz.PictureEv,
        }
        bound = self.config.ack_timeout
        for kind, cls in kinds.items():
            if kind in DURABLE_KINDS:
                client.event(cls)(_durable_enqueuer(slot, kind, bound))
            else:
                client.event(cls)(_enqueuer(slot, kind))
        client.event.qr(_enqueuer(slot, "qr"))
        loop = asyncio.get_running_loop()
        durable_codes = frozenset(
            nz.events.EVENT_TO_INT[kinds[k]]
            for k in DURABLE_KINDS
            if kinds[k] in nz.events.EVENT_TO_INT
        )
        # neonize hands whatsmeow's event to the loop and returns at once; for these events
        # the Go thread (whatsmeow's handler) waits until the API process has them durable.
        client.event.execute = _blocking_execute(
            nz.events, client.event, durable_codes, loop, bound
        )

        def on_login_status(_uuid: int, status: int) -> None:  # a Go thread
            text = ctypes.string_at(status).decode(errors="replace") if status else ""
            loop.call_soon_threadsafe(slot.queue.put_nowait, ("login", text))

        # neonize builds the login-status callback from this (name-mangled) attribute.
        client._NewAClient__onLoginStatus = on_login_status

    async def _work(self, slot: Slot) -> None:
        while True:
            kind, payload = await slot.queue.get()
            if kind == "end" or slot.stopping:
                if isinstance(payload, Durable) and not payload.done.done():
                    payload.done.set_result(False)
                return
            durable = payload if isinstance(payload, Durable) else None
            slot.acking, slot.ack_id = (None if durable is None else durable.done), None
            try:
                await self._handle(slot, kind, payload if durable is None else durable.event)
            except Exception as exc:
                _log.error("event %s of %s failed: %r", kind, slot.sid, exc)
            finally:
                slot.acking = None
            reported = slot.ack_id is not None
            if durable is not None and not reported and not durable.done.done():
                durable.done.set_result(True)  # nothing was reported: nothing to wait for

    async def _handle(self, slot: Slot, kind: str, ev: Any) -> None:
        match kind:
            case "qr":
                slot.qr_count += 1
                self.emit(slot, "qr", code=bytes(ev).decode())
                self._arm(slot, self.config.qr_timeout, "QR code expired", CloseCode.TIMED_OUT)
                if slot.pairing_number and not slot.pair_requested:
                    slot.pair_requested = True
                    await self._pair_phone(slot)
            case "login":
                outcome = translate.login_status(str(ev))
                if outcome is not None:
                    self.close(slot, *outcome)
            case "pair":
                if int(ev.Status) == 2:
                    slot.paired = True
                    jid = f"{ev.ID.User}@{ev.ID.Server}"
                    self.emit(slot, "creds", jid=jid, business_name=ev.BusinessName)
                    self._arm(slot, self.config.connect_deadline, "login", Cause.CONNECT_DEADLINE)
                else:
                    self.close(slot, CloseCode.INTERNAL, f"pairing failed: {ev.Error}")
            case "connected":
                self._disarm(slot)
                slot.connected = True
                await self._opened(slot)
            case "disconnected":
                slot.connected = False
                self._arm(
                    slot, self.config.reconnect_grace, "connection lost", CloseCode.TIMED_OUT
                )
            case "stream_error":
                self._arm(
                    slot,
                    self.config.reconnect_grace,
                    f"stream error {ev.Code}",
                    CloseCode.INTERNAL,
                )
            case "logged_out":
                code = translate.logged_out_code(int(ev.Reason))
                if code is CloseCode.LOGGED_OUT:
                    self.emit(slot, "logged_out", detail="the device was unlinked")
                    slot.closed, slot.connected = True, False
                    self._disarm(slot)
                else:
                    self.close(slot, code, "logged out by WhatsApp")
            case "replaced":
                self.close(
                    slot, CloseCode.REPLACED, "another client connected with this account's keys"
                )
            case "temp_ban":
                detail = translate.temp_ban_detail(int(ev.Code), int(ev.Expire))
                self.close(slot, CloseCode.TEMP_BANNED, detail)
            case "failure":
                attrs = [(a.name, _attr_value(a)) for a in ev.Raw.Attrs]
                failed = translate.failure_code(int(ev.Reason), attrs)
                self.close(slot, failed, f"connect failure: {ev.Message or failed}")
            case "outdated":
                self.close(slot, CloseCode.CLIENT_OUTDATED, translate.OUTDATED)
            case "keepalive_timeout":
                _log.warning("keepalive timeout on %s (%s errors)", slot.sid, ev.ErrorCount)
            case "task_done":
                self._task_done(slot, ev)
            case "message":
                frame = inbound.message(ev)
                if frame is not None and "pollUpdateMessage" in frame["content"]:
                    frame = await self.calls.poll_vote_event(slot, ev, frame)
                self.report(slot, frame)
            case "receipt":
                self.report(slot, inbound.receipt(ev))
            case "presence":
                self.report(slot, inbound.presence(ev))
            case "chat_presence":
                self.report(slot, inbound.chat_presence(ev))
            case "call_offer":
                self.report(slot, inbound.call_offer(ev))
            case "picture":
                self.report(slot, await self.calls.picture_event(slot, ev))
            case "joined_group":
                self.report(slot, inbound.joined(ev))
            case "group_info":
                for head in await self.calls.group_info_event(slot, ev):
                    self.report(slot, head)
            case "history":
                for head in inbound.history(ev):
                    self.report(slot, head)

    def _task_done(self, slot: Slot, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.close(slot, CloseCode.INTERNAL, "the session was cancelled")
            return
        exc = task.exception()
        if exc is not None:
            self.close(slot, *translate.connect_error(str(exc)))
        elif not slot.stopping:
            self.close(slot, CloseCode.CONNECTION_CLOSED, "the session ended")

    async def _opened(self, slot: Slot) -> None:
        """Connected: report the account (get_me is safe now: the client is registered)."""
        try:
            me = await self.call(slot.client.get_me, timeout=10.0)
        except Exception as exc:
            _log.warning("get_me failed on %s: %r", slot.sid, exc)
            self.emit(slot, "opened", jid=None, push_name=None)
            return
        jid = f"{me.JID.User}@{me.JID.Server}" if me.JID.User else None
        self.emit(slot, "opened", jid=jid, push_name=me.PushName or None)

    async def _pair_phone(self, slot: Slot) -> None:
        nz, number = self.nz, slot.pairing_number
        try:
            code = await self.call(
                lambda: slot.client.PairPhone(
                    number, True, nz.ClientName.LINUX, nz.ClientType.CHROME
                ),
                timeout=15.0,
            )
        except Exception as exc:
            _log.warning("pairing code for %s failed: %r", slot.sid, exc)
            return
        self.emit(slot, "pair_code", code=str(code))

    def emit(self, slot: Slot, ev: str, **fields: Any) -> None:
        if not slot.closed and not slot.stopping:
            self.send({"ev": ev, "sid": slot.sid, "epoch": slot.epoch, **fields})

    def report(self, slot: Slot, head: dict[str, Any] | None) -> None:
        """Send an inbound frame (inbound.py's shape) tagged with the session."""
        if head is None:
            return
        fields = {k: v for k, v in head.items() if k != "ev"}
        if slot.acking is not None and not slot.closed and not slot.stopping:
            # Acks come in the order frames went: the last frame's covers the event.
            if slot.ack_id is not None:
                self._acks.pop(slot.ack_id, None)
            self._ack_ids += 1
            self._acks[self._ack_ids] = slot.acking
            slot.ack_id = fields["ack"] = self._ack_ids
        self.emit(slot, str(head["ev"]), **fields)

    def close(self, slot: Slot, code: int, detail: str, cause: Cause | None = None) -> None:
        """Report the session closed, once; the API process then stops it."""
        slot.connected = False
        if slot.closed or slot.stopping:
            return
        self.send({"ev": "closed", "sid": slot.sid, "epoch": slot.epoch, "code": int(code),
                   "detail": detail, "cause": cause})  # fmt: skip
        slot.closed = True
        self._disarm(slot)

    def _arm(self, slot: Slot, delay: float, what: str, code: CloseCode | Cause) -> None:
        """Close the session with `code` (or the cause and its code) unless WhatsApp says
        something within `delay` seconds."""
        self._disarm(slot)
        cause = code if isinstance(code, Cause) else None
        wire = code.code if isinstance(code, Cause) else code

        async def fire() -> None:
            await asyncio.sleep(delay)
            self.close(slot, wire, f"{what}: nothing from WhatsApp within {delay:g} s", cause)

        slot.timer = self.spawn(fire(), f"timer:{slot.sid}:{what}")

    def _disarm(self, slot: Slot) -> None:
        if slot.timer is not None:
            slot.timer.cancel()
            slot.timer = None


def _enqueuer(slot: Slot, kind: str) -> Callable[[Any, Any], Awaitable[None]]:
    async def handler(_client: Any, event: Any) -> None:
        slot.queue.put_nowait((kind, event))

    return handler


def _durable_enqueuer(
    slot: Slot, kind: str, bound: float
) -> Callable[[Any, Any], Awaitable[None]]:
    """A handler that returns once the event is durable in the API process, or after
    `bound` seconds (then whatsmeow goes on and acknowledges it: logged)."""

    async def handler(_client: Any, event: Any) -> None:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        slot.waiting.add(done)
        slot.queue.put_nowait((kind, Durable(event, done)))
        try:
            stored = await asyncio.wait_for(asyncio.shield(done), bound)
        except TimeoutError:
            _log.warning(
                "%s of %s not durable within %g s: whatsmeow goes on and acknowledges it",
                kind, slot.sid, bound,
            )  # fmt: skip
            return
        finally:
            slot.waiting.discard(done)
        if not stored and not slot.stopping:
            _log.error("%s of %s was not stored; whatsmeow acknowledges it", kind, slot.sid)

    return handler


def _blocking_execute(
    events: Any,
    dispatcher: Any,
    codes: frozenset[int],
    loop: asyncio.AbstractEventLoop,
    bound: float,
) -> Callable[[int, int, int, int], None]:
    """neonize's event callback, run by whatsmeow's Go thread: for `codes` it waits for the
    handler (bounded) instead of only scheduling it, so whatsmeow's handler returns once the
    event is durable; every other event goes through neonize's own callback."""
    plain = dispatcher.execute

    def execute(uuid: int, binary: int, size: int, code: int) -> None:
        handler = dispatcher.list_func.get(code)
        if code not in codes or handler is None:
            plain(uuid, binary, size, code)
            return
        event = events.INT_TO_EVENT[code].FromString(ctypes.string_at(binary, size))
        future = asyncio.run_coroutine_threadsafe(handler(dispatcher.client, event), loop)
        try:
            future.result(bound + 5.0)
        except Exception as exc:  # the handler's bound passed, or the loop is gone
            _log.warning("event handler did not finish: %r", exc)

    return execute


def _attr_value(attr: Any) -> int | str | None:
    which = attr.WhichOneof("Value")
    if which == "integer":
        return int(attr.integer)
    if which == "text":
        return str(attr.text)
    return None


class _Neonize:
    """The parts of neonize a host uses, imported once logging is set up."""

    def __init__(self) -> None:
        import neonize.aioze.events as events  # type: ignore[import-untyped]
        from neonize._binder import ProxySettings  # type: ignore[import-untyped]
        from neonize.aioze.client import NewAClient  # type: ignore[import-untyped]
        from neonize.proto.Neonize_pb2 import (  # type: ignore[import-untyped]
            JID,
            GetProfilePictureParams,
        )
        from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import (  # type: ignore[import-untyped]
            DeviceProps,
        )
        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (  # type: ignore[import-untyped]
            Message,
        )
        from neonize.utils.enum import (  # type: ignore[import-untyped]
            BlocklistAction,
            ChatPresence,
            ChatPresenceMedia,
            ClientName,
            ClientType,
            MediaType,
            ParticipantChange,
            Presence,
            PrivacySetting,
            PrivacySettingType,
            ReceiptType,
        )

        self.events = events
        self.NewAClient = NewAClient
        self.ProxySettings = ProxySettings
        self.DeviceProps = DeviceProps
        self.ClientName = ClientName
        self.ClientType = ClientType
        self.Presence = Presence
        self.JID = JID
        self.Message = Message
        self.GetProfilePictureParams = GetProfilePictureParams
        self.BlocklistAction = BlocklistAction
        self.ChatPresence = ChatPresence
        self.ChatPresenceMedia = ChatPresenceMedia
        self.MediaType = MediaType
        self.ParticipantChange = ParticipantChange
        self.PrivacySetting = PrivacySetting
        self.PrivacySettingType = PrivacySettingType
        self.ReceiptType = ReceiptType
        self.MessageEv = events.MessageEv
        self.ReceiptEv = events.ReceiptEv
        self.PresenceEv = events.PresenceEv
        self.ChatPresenceEv = events.ChatPresenceEv
        self.JoinedGroupEv = events.JoinedGroupEv
        self.GroupInfoEv = events.GroupInfoEv
        self.HistorySyncEv = events.HistorySyncEv
        self.CallOfferEv = events.CallOfferEv
        self.PictureEv = events.PictureEv
        self.PairStatusEv = events.PairStatusEv
        self.ConnectedEv = events.ConnectedEv
        self.DisconnectedEv = events.DisconnectedEv
        self.LoggedOutEv = events.LoggedOutEv
        self.StreamReplacedEv = events.StreamReplacedEv
        self.TemporaryBanEv = events.TemporaryBanEv
        self.ConnectFailureEv = events.ConnectFailureEv
        self.ClientOutdatedEv = events.ClientOutdatedEv
        self.StreamErrorEv = events.StreamErrorEv
        self.KeepAliveTimeoutEv = events.KeepAliveTimeoutEv
        self.KeepAliveRestoredEv = events.KeepAliveRestoredEv


def _load_neonize() -> _Neonize:
    return _Neonize()


def _configure_logging(level: str) -> None:
    """Before neonize is imported: its basicConfig(INFO) is then a no-op."""
    numeric = getattr(logging, level.upper(), logging.WARNING)
    logging.basicConfig(
        level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for name in ("whatsmeow", "Whatsmeow", "neonize"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


def main() -> None:
    proto_fd = os.dup(1)
    os.dup2(2, 1)  # Go and neonize print to stdout: keep it away from the protocol
    config = HostConfig.from_json(sys.argv[1] if len(sys.argv) > 1 else "")
    _configure_logging(config.log_level)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    code = 1
    try:
        code = loop.run_until_complete(Host(config, proto_fd).run())
    finally:
        # Never wait for Go's threads at interpreter exit (a live session would block forever).
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
