"""One supervisor per instance: serializes intents and engine events, carries out effects.

core/lifecycle.py decides; this module does: a queue, the effects and the timers. Inputs (API
intents, engine events, timer firings) go through one queue and one worker task, so nothing
about an instance ever runs concurrently. The supervisor owns every timer and task of its
instance and cancels them all on delete. What the status means to a user is core/status.py;
the events that announce it are built on the events side (core.ports.Announcer).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from wagate.core import lifecycle as lc
from wagate.core.ports import Announcer, CodeView, Envelope, StatusSnapshot, StatusStore, Subject
from wagate.core.reconnect import Backoff
from wagate.core.status import Transition, lifecycle_view
from wagate.domain.close import Cause, CloseCode
from wagate.domain.errors import EngineError, StoreUnavailable
from wagate.domain.ids import bare_jid
from wagate.engines.base import (
    Closed,
    CredentialStore,
    Engine,
    EngineEvent,
    EngineSession,
    InboundEvent,
    Opened,
    SessionSpec,
)
from wagate.runtime.clock import Clock
from wagate.runtime.tasks import retried, spawn


@dataclass(frozen=True, slots=True)
class Timing:
    """Deadlines and delays of the supervisor, all configurable."""

    engine_call: float = 10.0
    remote_logout: float = 5.0
    stop: float = 5.0
    stable_after: float = 60.0
    persist_retries: int = 5
    persist_retry_delay: float = 0.05


@dataclass(slots=True)
class _Item:
    input: lc.Input
    reply: asyncio.Future[lc.Decision] | None = None


@dataclass(slots=True)
class Stats:
    starts: int = 0
    dropped_events: int = 0
    transitions: deque[Transition] = field(default_factory=lambda: deque(maxlen=20))


class Supervisor:
    """Drives one instance's lifecycle. Create with `start()`, end with a `Delete` intent."""

    def __init__(
        self,
        *,
        instance_id: str,
        name: str,
        engine: Engine,
        creds: CredentialStore,
        store: StatusStore,
        announcer: Announcer,
        clock: Clock,
        policy: lc.Policy,
        backoff: Backoff,
        timing: Timing,
        rng: random.Random | None = None,
        initial: lc.Instance | None = None,
        profile_name: str | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.name = name
        self.inst = initial or lc.Instance()
        self.profile_name = profile_name
        self.code = CodeView()
        self.stats = Stats()
        self._engine = engine
        self._creds = creds
        self._store = store
        self._announcer = announcer
        self._clock = clock
        self._policy = policy
        self._backoff = backoff
        self._timing = timing
        self._rng = rng or random.Random()
        self._session: EngineSession | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._timers: set[asyncio.Task[Any]] = set()
        self._worker: asyncio.Task[Any] | None = None
        self._changed = asyncio.Event()
        self._busy = False
        self._write_lock = asyncio.Lock()  # status writes: the worker's and the repair task's
        self._unsaved: list[Envelope] | None = None
        """Events whose state write failed after every retry; None when the store is in step."""
        self._repair: asyncio.Task[Any] | None = None
        self._failure: StoreUnavailable | None = None
        self._log = structlog.get_logger("wagate.supervisor").bind(instance=name)
        self.inbound: Callable[[InboundEvent], None] | None = None
        """Where inbound messaging events of the live session go (set before `start`)."""
        self.durable: Callable[[], Awaitable[None]] | None = None
        """Returns once what went to `inbound` so far is durable (set with `inbound`)."""
        self.full_history: Callable[[], Awaitable[bool]] | None = None
        self.proxy: Callable[[], Awaitable[str | None]] | None = None
        """The proxy URL the next session dials through (None: direct)."""
        """Asked at each session start: whether a pairing asks for the full history
        (the instance's syncFullHistory setting)."""
        self._starting: int | None = None
        """The epoch of the session being started (its inbound events are live already)."""

    # --- public surface -------------------------------------------------------------------

    def start(self) -> None:
        self._worker = spawn(self._run(), name=f"supervisor:{self.name}")

    @property
    def external_state(self) -> str:
        return lc.EXTERNAL[self.inst.state]

    @property
    def deleted(self) -> bool:
        return self.inst.state is lc.State.DELETED

    @property
    def quiescent(self) -> bool:
        return self._queue.empty() and not self._busy and self._unsaved is None

    @property
    def store_in_step(self) -> bool:
        """False while a failed state write is still being retried in the background."""
        return self._unsaved is None

    @property
    def session(self) -> EngineSession | None:
        """The engine session of the current epoch while one runs (the states of `lc.LIVE`:
        connecting, pairing or open), else None."""
        return self._session

    def live_session(self) -> EngineSession | None:
        """The engine session while the instance is open (what messaging goes through); None
        otherwise."""
        return self._session if self.external_state == "open" else None

    def timer_count(self) -> int:
        return sum(1 for t in self._timers if not t.done())

    async def submit(self, intent: lc.Intent) -> lc.Decision:
        """Queue an API intent and wait until it and everything it caused has been done."""
        if self.deleted:
            return lc.Decision(self.inst, reply=lc.Reply.DELETED, dropped=True)
        fut: asyncio.Future[lc.Decision] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(intent, fut))
        return await fut

    def boot(self, boot: lc.Boot) -> None:
        """Queue the restore after a restart (the worker takes it before any later input)."""
        self._queue.put_nowait(_Item(boot))

    def on_engine_event(self, event: EngineEvent | InboundEvent) -> None:
        """The engine's sink: only enqueues, never blocks (engines may call it from callbacks).
        Messages, receipts and the like go to `inbound` (the message pipeline) when they come
        from the live session; the lifecycle never sees them."""
        if isinstance(event, InboundEvent):
            session = self._session
            live = session.epoch if session is not None else self._starting
            if self.inbound is not None and live is not None and event.epoch == live:
                self.inbound(event)
            return
        if not self.deleted:
            self._queue.put_nowait(_Item(event))

    async def wait_changed(self, timeout: float) -> None:
        """Wait until the state or the code changes, at most `timeout` seconds."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    async def wait_quiescent(self, timeout: float = 5.0) -> None:
        async def idle() -> None:
            while not self.quiescent:
                await asyncio.sleep(0)

        await asyncio.wait_for(idle(), timeout)

    def snapshot(self) -> StatusSnapshot:
        inst = self.inst
        closed_with_reason = lc.EXTERNAL[inst.state] == "close" and inst.reason != 200
        return StatusSnapshot(
            connection_status=lc.EXTERNAL[inst.state],
            lifecycle_state=inst.state.value,
            reason=inst.reason,
            detail=inst.detail,
            owner_jid=inst.jid,
            profile_name=self.profile_name,
            disconnected_at=self._clock.wall() if closed_with_reason else None,
        )

    # --- the worker -----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            self._busy = True
            try:
                decision = await self._process(item.input)
            except BaseException as exc:
                if item.reply is not None and not item.reply.done():
                    item.reply.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                self._log.error("input failed", input=repr(item.input), error=repr(exc))
            else:
                if item.reply is not None and not item.reply.done():
                    item.reply.set_result(decision)
            finally:
                self._busy = False
            if self.deleted:
                self._drain()
                return

    def _drain(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item.reply is not None and not item.reply.done():
                item.reply.set_result(lc.Decision(self.inst, reply=lc.Reply.DELETED, dropped=True))

    async def _process(self, first: lc.Input) -> lc.Decision:
        pending: deque[lc.Input] = deque([first])
        result: lc.Decision | None = None
        while pending:
            event = pending.popleft()
            decision = lc.decide(self.inst, event, self._policy)
            result = result or decision
            if decision.dropped:
                self.stats.dropped_events += 1
                self._log.debug(
                    "input dropped", input=type(event).__name__, state=self.inst.state.value
                )
                continue
            old, self.inst = self.inst, decision.instance
            if isinstance(event, Opened) and event.push_name:
                self.profile_name = event.push_name
            if isinstance(event, Opened) and event.jid is None:
                self._log.warning("engine reported open without the account; waiting for it")
            if (old.state, old.reason, old.cause) != (
                self.inst.state,
                self.inst.reason,
                self.inst.cause,
            ):
                self._record(old, self.inst)
            for effect in decision.effects:
                follow = await self._do(effect)
                if follow is not None:
                    pending.append(follow)
            self._changed.set()
        assert result is not None
        if self._failure is not None:  # the work is done; the caller still hears of the failure
            failure, self._failure = self._failure, None
            raise failure
        return result

    def _record(self, old: lc.Instance, new: lc.Instance) -> None:
        t = Transition(
            self._clock.wall(), old.state.value, new.state.value, new.reason, new.detail, new.cause
        )
        self.stats.transitions.append(t)
        self._log.info("state changed", src=t.src, dst=t.dst, reason=t.reason, detail=t.detail)

    # --- effects --------------------------------------------------------------------------

    async def _do(self, effect: lc.Effect) -> lc.Input | None:
        match effect:
            case lc.StartSession(epoch, number):
                return await self._start_session(epoch, number)
            case lc.StopSession(epoch):
                await self._stop_session(epoch)
            case lc.RemoteLogout(epoch):
                await self._remote_logout(epoch)
            case lc.PurgeCredentials():
                await self._persisting("purge credentials", self._purge)
            case lc.SaveCredentials(creds):
                await self._persisting(
                    "save credentials", lambda: self._creds.save(self.instance_id, dict(creds))
                )
            case lc.ShowCode(qr, pairing):
                await self._show_code(qr, pairing)
            case lc.Persist(announce):
                await self._persist(announce)
            case lc.ScheduleReconnect(epoch, attempt, after):
                delay = self._backoff.delay(attempt, self._rng) if after is None else after
                self._log.info("reconnect scheduled", attempt=attempt, delay=round(delay, 3))
                self._timer(delay, lc.ReconnectDue(epoch), "reconnect")
            case lc.ScheduleStable(epoch):
                self._timer(self._timing.stable_after, lc.StableDue(epoch), "stable")
            case lc.CancelTimers():
                self._cancel_timers()
            case lc.Forget():
                if self._repair is not None:
                    self._repair.cancel()
                self._unsaved = None
                self._cancel_timers()
                self.code = CodeView()
                await self._persisting("forget", lambda: self._store.forget(self.instance_id))
        return None

    async def _start_session(self, epoch: int, number: str | None) -> lc.Input | None:
        if self._session is not None:  # never two live sessions: stop a leftover first
            await self._stop_session(self._session.epoch)
        self.code = CodeView()
        self.stats.starts += 1
        try:
            creds = await self._creds.load(self.instance_id)
            full = await self._wants_full_history()
            proxy = await self.proxy() if self.proxy is not None else None
            spec = SessionSpec(
                self.instance_id, self.name, epoch, creds, number, full, self.durable, proxy
            )
            # A session with credentials may open, and report what waited for it, before
            # `start` has returned it: its inbound events count from now on.
            self._starting = epoch
            self._session = await asyncio.wait_for(
                self._engine.start(spec, self.on_engine_event), self._timing.engine_call
            )
        except EngineError as exc:
            self._log.info("connect failed", error=str(exc), code=exc.code)
            return Closed(epoch, exc.code, str(exc) or type(exc).__name__, exc.cause)
        except TimeoutError:  # a lost connection, not an expired QR: not 408
            deadline = Cause.CONNECT_DEADLINE
            return Closed(epoch, deadline.code, "connect timed out", deadline)
        except Exception as exc:  # an engine bug must not kill the instance's worker
            self._log.error("engine start raised", error=repr(exc))
            return Closed(epoch, CloseCode.INTERNAL, repr(exc))
        finally:
            self._starting = None
        return None

    async def _wants_full_history(self) -> bool:
        """The syncFullHistory setting; False when it cannot be read (a connect must not fail
        for it: the recent history still comes)."""
        if self.full_history is None:
            return False
        try:
            return await asyncio.wait_for(self.full_history(), self._timing.engine_call)
        except Exception as exc:
            self._log.warning(
                "syncFullHistory not read; asking for recent history", error=repr(exc)
            )
            return False

    async def _stop_session(self, epoch: int) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await asyncio.wait_for(session.stop(), self._timing.stop)
        except Exception as exc:  # the socket may already be gone: that is fine
            self._log.info("stop failed (ignored)", error=repr(exc), epoch=epoch)

    async def _remote_logout(self, epoch: int) -> None:
        session = self._session
        if session is None:
            return
        try:
            await asyncio.wait_for(session.logout_remote(), self._timing.remote_logout)
        except Exception as exc:
            self._log.warning("remote logout failed; purging locally", error=repr(exc))

    async def _purge(self) -> None:
        await self._creds.delete(self.instance_id)
        try:
            await self._engine.purge(self.instance_id, self.name)
        except Exception as exc:
            self._log.warning("engine purge failed", error=repr(exc))

    async def _persisting(self, what: str, op: Callable[[], Awaitable[None]]) -> None:
        """Run a store write, retried with backoff. Never swallowed: the last error is raised
        as StoreUnavailable."""
        timing = self._timing
        try:
            await retried(
                op, timing.persist_retries, what, self._log, pause=timing.persist_retry_delay
            )
        except Exception as exc:
            raise StoreUnavailable(f"{what} failed: {exc}") from exc

    async def _show_code(self, qr: str | None, pairing: str | None) -> None:
        if qr is not None:
            png = self._announcer.qr_image(qr)
            self.code = CodeView(qr, png, self.code.pairing_code, self.inst.qr_count)
        if pairing is not None:
            self.code.pairing_code = pairing
        await self._send(self._announcer.code(self._subject, self.code))

    async def _persist(self, announce: tuple[lc.Announce, ...]) -> None:
        """The status row and the events of `announce` in one transaction (retried with the
        same envelopes); then they go out.

        If the store still fails after the retries, the rest of the decision is carried out
        anyway (a logout must finish), the write is retried in the background until it lands
        (with its events, in order), and the caller gets StoreUnavailable."""
        view = lifecycle_view(self.inst) if announce else {}
        events = [
            env
            for a in announce
            for env in self._announcer.connection(self._subject, a.state, a.reason, view)
        ]
        try:
            await self._write_status(events)
        except StoreUnavailable as exc:
            self._log.error("state not persisted; retrying in the background", error=str(exc))
            self._unsaved = [*(self._unsaved or []), *events]
            self._failure = exc
            if self._repair is None or self._repair.done():
                self._repair = spawn(self._repair_loop(), name=f"repair:{self.name}")

    async def _write_status(self, events: list[Envelope]) -> None:
        """One status write of the current snapshot, carrying any earlier unsaved events first."""
        async with self._write_lock:
            snap = self.snapshot()
            carried = [*(self._unsaved or []), *events]
            if carried:
                await self._persisting(
                    "persist state",
                    lambda: self._store.save_status_with_events(self.instance_id, snap, carried),
                )
            else:
                await self._persisting(
                    "persist state", lambda: self._store.save_status(self.instance_id, snap)
                )
            self._unsaved = None
        if carried:
            await self._announcer.published(carried)

    async def _repair_loop(self) -> None:
        delay = 0.5
        while self._unsaved is not None and not self.deleted:
            await self._clock.sleep(delay)
            if self._unsaved is None or self.deleted:
                return
            try:
                await self._write_status([])
                self._log.info("state persisted after the store came back")
                self._changed.set()
            except StoreUnavailable:
                delay = min(delay * 2, 30.0)

    async def _send(self, events: list[Envelope]) -> None:
        """Events not tied to a state write: to the outbox in their own transaction, then out."""
        await self._persisting("write events", lambda: self._announcer.write(events))
        await self._announcer.published(events)

    @property
    def _subject(self) -> Subject:
        sender = bare_jid(self.inst.jid) if self.inst.jid else None
        return Subject(self.name, self.instance_id, sender, self.profile_name)

    # --- timers ---------------------------------------------------------------------------

    def _timer(self, delay: float, fire: lc.Input, kind: str) -> None:
        async def wait_then_fire() -> None:
            await self._clock.sleep(delay)
            self._queue.put_nowait(_Item(fire))

        task = spawn(wait_then_fire(), name=f"timer:{kind}:{self.name}")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _cancel_timers(self) -> None:
        for task in list(self._timers):
            task.cancel()
        self._timers.clear()

    async def shutdown(self) -> None:
        """Process exit: stop timers, the session and the worker, keeping persisted state."""
        self._cancel_timers()
        if self._repair is not None:
            self._repair.cancel()
        if self._session is not None:
            await self._stop_session(self._session.epoch)
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass
