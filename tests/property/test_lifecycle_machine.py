"""Model-based proof of the lifecycle: random sequences against the real supervisor.

A Hypothesis `RuleBasedStateMachine` drives one instance name through the real `Supervisor`
over the sim engine on a `VirtualClock`, with in-memory stores: API intents (alone and
concurrently), phone scans, server closes with every code, the network going down, the sim's
faults, stale events and timers from old epochs, time passing, process restarts, and deleting
then re-creating the name. After every step, at quiescence, it checks the seven invariants of
shared/DESIGN.md "The connection lifecycle".

CI runs the `ci` profile (300 sequences, about half a minute); bench/lifecycle_model.py runs
this same machine for >= 10,000 and counts the sequences that violated anything.

`RegistryMachine` drives the registry above the supervisors: create, delete, connect, restart
and logout of one name through the real app's HTTP API, alone and racing each other, and checks
after every step that fetchInstances, connectionState, the database and the gateway agree.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from wagate.core import lifecycle as lc
from wagate.core.ports import StatusSnapshot
from wagate.core.reconnect import Backoff
from wagate.core.supervisor import Supervisor, Timing, _Item
from wagate.domain.close import Cause, CloseCode, classify
from wagate.engines.base import (
    Closed,
    CredsUpdate,
    EngineEvent,
    EventSink,
    LoggedOut,
    Opened,
    PairCode,
    Qr,
    SessionSpec,
)
from wagate.engines.sim import SimEngine, SimNetwork, SimSession
from wagate.events.connection import ConnectionEvents
from wagate.observability.logging import configure as configure_logging
from wagate.runtime.clock import VirtualClock

NAME = "m"
CODES = [401, 402, 403, 405, 406, 408, 411, 428, 440, 500, 503, 515]
FAULTS = ["logoutFails", "socketAlreadyClosed", "openWithoutIdentity", "persistFailsOnce"]
POLICY = lc.Policy(qr_limit=3, max_failures=4)
BACKOFF = Backoff(initial=1.0, maximum=60.0, jitter=0.2)
TIMING = Timing(persist_retry_delay=0.0, stable_after=60.0)
EXPLICIT = (lc.Connect, lc.Restart, lc.Boot)


class Violation(AssertionError):
    """An invariant of DESIGN.md failed."""


# --- the world around the supervisor: in-memory stores, a recording announcer and engine -----


@dataclass
class World:
    """Everything the supervisor touches, observable; `problems` collects what went wrong."""

    clock: VirtualClock
    sim: SimNetwork
    rows: dict[str, StatusSnapshot] = field(default_factory=dict)
    creds: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    heard: dict[str, str] = field(default_factory=dict)
    """The last connection state announced per instance id (what the world believes)."""
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, list[SimSession]] = field(default_factory=dict)
    starts: list[tuple[str, float, str]] = field(default_factory=list)
    """(instance id, virtual time, the input that caused the start)."""
    down: dict[str, bool] = field(default_factory=dict)
    """Per instance id: a logout or delete was processed and no explicit connect since."""
    gone: set[str] = field(default_factory=set)
    booting: set[str] = field(default_factory=set)
    """Instances restored after a process restart whose first start is still to come (it
    follows the boot stagger, not the backoff)."""
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


class MemoryStatus:
    """StatusStore + CredentialStore in memory, with the sim's persistFailsOnce fault."""

    def __init__(self, world: World) -> None:
        self.w = world

    async def save_status(self, instance_id: str, snap: StatusSnapshot) -> None:
        if instance_id not in self.w.rows:
            self.w.problem(f"write to a forgotten instance {instance_id}: {snap}")
            return
        if self.w.sim.take_persist_fault(self.w.names[instance_id]):
            raise OSError("injected fault: the database write failed")
        self.w.rows[instance_id] = snap

    async def save_status_with_events(
        self, instance_id: str, snap: StatusSnapshot, events: Sequence[dict[str, Any]]
    ) -> None:
        await self.save_status(instance_id, snap)

    async def forget(self, instance_id: str) -> None:
        self.w.rows.pop(instance_id, None)
        self.w.creds.pop(instance_id, None)

    async def load(self, instance_id: str) -> dict[str, Any] | None:
        creds = self.w.creds.get(instance_id)
        return dict(creds) if creds is not None else None

    async def save(self, instance_id: str, creds: dict[str, Any]) -> None:
        if instance_id in self.w.gone:
            self.w.problem(f"credentials saved for a deleted instance {instance_id}")
        self.w.creds[instance_id] = dict(creds)

    async def delete(self, instance_id: str) -> None:
        self.w.creds.pop(instance_id, None)


class Recorder:
    """The Announcer: checks each event as it goes out (persisted first, once, not after
    delete)."""

    def __init__(self, world: World) -> None:
        self.w = world

    def envelope(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> dict[str, Any]:
        return {"event": event, "instance": instance_name, "instanceId": instance_id, "data": data}

    async def emit(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> None:
        self._out(self.envelope(instance_name, instance_id, event, data, sender))

    async def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Events not tied to a state write go to the outbox; nothing to check yet."""

    async def published(self, events: Sequence[dict[str, Any]]) -> None:
        for env in events:
            self._out(env)

    def _out(self, env: dict[str, Any]) -> None:
        iid = env["instanceId"]
        self.w.events.setdefault(iid, []).append(env)
        if iid in self.w.gone:
            self.w.problem(f"inv6: {env['event']} after delete")
        if env["event"] != "connection.update" or env["data"]["state"] == "refused":
            return
        state = env["data"]["state"]
        row = self.w.rows.get(iid)
        if row is None or row.connection_status != state:
            self.w.problem(f"inv2/6: announced {state!r} but the store says {row}")
        if self.w.heard.get(iid, "close") == state:
            self.w.problem(f"inv6: {state!r} announced twice in a row")
        self.w.heard[iid] = state


class WatchedEngine(SimEngine):
    """The sim engine, watched: at most one live session per instance, every start logged."""

    def __init__(self, world: World) -> None:
        super().__init__(world.sim)
        self.w = world
        self.cause: dict[str, str] = {}

    async def start(self, spec: SessionSpec, sink: EventSink) -> SimSession:
        iid = spec.instance_id
        live = [s for s in self.w.sessions.get(iid, []) if s._alive]
        if live:
            self.w.problem(f"inv3: a second session started while {len(live)} live")
        if iid in self.w.gone:
            self.w.problem("inv1/7: a deleted instance connected (zombie)")
        if self.w.down.get(iid):
            self.w.problem(f"inv1: connect after logout/delete ({self.cause.get(iid)})")
        cause = self.cause.get(iid, "?")
        if iid in self.w.booting:
            self.w.booting.discard(iid)
            cause = lc.Boot.__name__
        self.w.starts.append((iid, self.w.clock.now(), cause))
        session = await super().start(spec, sink)
        self.w.sessions.setdefault(iid, []).append(session)
        return session


class Watched(Supervisor):
    """The real supervisor; only tells the world which input it is processing."""

    world: World
    engine: WatchedEngine

    async def _process(self, first: lc.Input) -> lc.Decision:
        self.engine.cause[self.instance_id] = type(first).__name__
        if isinstance(first, lc.Logout | lc.Delete):
            self.world.down[self.instance_id] = True
        elif isinstance(first, lc.Connect | lc.Restart):
            self.world.down[self.instance_id] = False
        elif isinstance(first, lc.Boot):
            self.world.booting.add(self.instance_id)
        return await super()._process(first)


# --- the machine ----------------------------------------------------------------------------


def _refused_on_restart(
    code: int, before: lc.Instance, after: lc.Instance, restarted: list[str], refused: int
) -> bool:
    """The one terminal condition that may legitimately win a transient close within the same
    step: the QR limit. Before pairing, the QR count runs across automatic reconnects (only
    an explicit intent starts a new count), so a 515 that arrives once the limit is used up
    restarts at once and the new session's first QR is refused. True only if exactly that
    happened: no credentials, the count already at the limit, one session started by the
    close, one `refused` announced, and the instance closed with the limit's reason."""
    return (
        code == CloseCode.RESTART_REQUIRED
        and not before.has_credentials
        and before.qr_count >= POLICY.qr_limit
        and restarted == [Closed.__name__]
        and refused == 1
        and after.state is lc.State.IDLE
        and (after.cause, after.qr_count) == (Cause.QR_LIMIT, before.qr_count)
    )


async def _settle(sup: Supervisor, rounds: int = 30) -> None:
    """Let every ready callback run, until the supervisor is idle and stays idle."""
    for _ in range(1000):
        for _ in range(rounds):
            await asyncio.sleep(0)
        if sup.quiescent:
            return
    raise Violation("the supervisor never became idle")


class LifecycleMachine(RuleBasedStateMachine):
    """One instance name, one process at a time; invariants checked after every step."""

    strict: bool = True
    """Raise on the first violation (tests); the bench counts them instead."""
    tally: ClassVar[dict[str, int]] = {"ran": 0, "violated": 0, "steps": 0}
    examples: ClassVar[list[str]] = []

    def __init__(self) -> None:
        super().__init__()
        configure_logging("CRITICAL")
        self.runner = asyncio.Runner()
        self.clock = VirtualClock()
        self.sim = SimNetwork(self.clock, qr_interval=20.0)
        self.w = World(self.clock, self.sim)
        self.engine = WatchedEngine(self.w)
        self.status = MemoryStatus(self.w)
        self.announcer = Recorder(self.w)
        self.sup: Watched | None = None
        self.old: list[Watched] = []
        self.rng = random.Random(0)
        self.generation = 0
        self.steps = 0

    # --- plumbing -------------------------------------------------------------------------

    def _run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        async def step() -> Any:
            result = await make()
            if self.sup is not None:
                await _settle(self.sup)
            return result

        try:
            return self.runner.run(step())
        except Violation as exc:
            if self.strict:
                raise
            self.w.problem(str(exc))
            return None
        except Exception as exc:  # an intent that raised is itself a finding
            self.w.problem(f"a step raised {exc!r}")
            return None

    def _supervisor(self, iid: str, initial: lc.Instance | None = None) -> Watched:
        sup = Watched(
            instance_id=iid,
            name=NAME,
            engine=self.engine,
            creds=self.status,
            store=self.status,
            announcer=ConnectionEvents(self.announcer),
            clock=self.clock,
            policy=POLICY,
            backoff=BACKOFF,
            timing=TIMING,
            rng=self.rng,
            initial=initial,
        )
        sup.world = self.w
        sup.engine = self.engine
        return sup

    def _create(self) -> None:
        self.generation += 1
        iid = f"id-{self.generation}"
        self.sim.reset_instance(NAME)
        self.w.names[iid] = NAME
        self.w.rows[iid] = StatusSnapshot("close", "idle", 200, "", None, None, None)

        async def start() -> None:
            self.sup = self._supervisor(iid)
            self.sup.start()

        self.runner.run(start())

    @property
    def alive(self) -> bool:
        return self.sup is not None and not self.sup.deleted

    def _submit(self, intent: lc.Intent) -> Callable[[], Awaitable[lc.Decision]]:
        sup = self.sup
        assert sup is not None
        return lambda: sup.submit(intent)

    # --- rules ----------------------------------------------------------------------------

    @initialize(seed=st.integers(0, 2**32 - 1))
    def create(self, seed: int) -> None:
        self.rng.seed(seed)
        self._create()

    @precondition(lambda self: self.alive)
    @rule(number=st.sampled_from([None, "5511900000001"]))
    def connect(self, number: str | None) -> None:
        assert self.sup is not None
        before = self.sup.inst
        self._run(self._submit(lc.Connect(number)))
        if before.state in lc.UP:  # connect while up answers with the current state
            self._check(self.sup.inst == before, f"connect while {before.state} changed it")

    @precondition(lambda self: self.alive)
    @rule(number=st.sampled_from(["5511900000001", "5511900000002"]))
    def pair(self, number: str) -> None:
        """The common path: connect, and the phone scans the QR."""
        self._run(self._submit(lc.Connect()))
        session = self.sim.sessions.get(NAME)
        if session is not None and session.awaiting_pairing:

            async def scan() -> None:
                self.sim.scan(NAME, number)

            self._run(scan)

    @precondition(lambda self: self.alive)
    @rule()
    def restart(self) -> None:
        self._run(self._submit(lc.Restart()))

    @precondition(lambda self: self.alive)
    @rule()
    def logout(self) -> None:
        decision = self._run(self._submit(lc.Logout()))
        assert self.sup is not None
        self._check(decision is not None, "inv5: logout failed")
        if decision is not None and not decision.dropped:
            self._check(
                decision.reply in ("logged_out", "already_closed"), f"inv5: {decision.reply}"
            )
            self._check(self.sup.inst.state not in lc.UP, "inv5: still up after logout")
            self._check(
                self.sup.instance_id not in self.w.creds, "inv5: credentials survived logout"
            )

    @precondition(lambda self: self.alive)
    @rule()
    def delete(self) -> None:
        assert self.sup is not None
        iid = self.sup.instance_id
        decision = self._run(self._submit(lc.Delete()))
        self._check(decision is not None and self.sup.deleted, "inv5: delete failed")
        self.w.gone.add(iid)
        self.old.append(self.sup)

    @precondition(lambda self: self.alive)
    @rule(
        intents=st.lists(
            st.sampled_from(["connect", "logout", "delete", "restart"]), min_size=2, max_size=3
        )
    )
    def concurrently(self, intents: list[str]) -> None:
        """Several API calls on one instance at once: the supervisor serializes them."""
        make = {
            "connect": lc.Connect,
            "logout": lc.Logout,
            "delete": lc.Delete,
            "restart": lc.Restart,
        }
        sup = self.sup
        assert sup is not None

        async def together() -> list[Any]:
            return await asyncio.gather(*(sup.submit(make[i]()) for i in intents))

        decisions = self._run(together)
        self._check(decisions is not None, "inv5: a concurrent intent failed")
        if sup.deleted:
            self.w.gone.add(sup.instance_id)
            self.old.append(sup)

    @precondition(lambda self: not self.alive)
    @rule()
    def recreate(self) -> None:
        """A new instance under the deleted one's name (stale events must not touch it)."""
        self._create()

    @precondition(lambda self: self.alive)
    @rule(number=st.sampled_from([None, "5511900000001", "5511900000002"]))
    def phone_scans(self, number: str | None) -> None:
        session = self.sim.sessions.get(NAME)
        if session is None or not session.awaiting_pairing:
            return

        async def scan() -> None:
            self.sim.scan(NAME, number)

        self._run(scan)

    @precondition(lambda self: self.alive)
    @rule(code=st.sampled_from(CODES), times=st.integers(1, 3))
    def server_closes(self, code: int, times: int) -> None:
        """The server drops the connection, `times` times in a row if it comes back."""
        for _ in range(times):
            self._server_close(code)

    def _server_close(self, code: int) -> None:
        sup = self.sup
        assert sup is not None
        before = sup.inst
        session = self.sim.sessions.get(NAME)
        ours = session is not None and session._alive and session.epoch == before.epoch
        starts, heard = len(self.w.starts), len(self.w.events.get(sup.instance_id, []))

        async def drop() -> None:
            self.sim.disconnect(NAME, code)

        self._run(drop)
        after = sup.inst
        if not ours or before.state not in lc.LIVE:
            return
        if not classify(code, paired=before.has_credentials).recoverable:
            self._check(after.state not in lc.UP, f"inv4: terminal {code} left {after.state}")
            self._check(sup.timer_count() == 0, f"inv4: terminal {code} left a timer")
            return
        restarted = [cause for iid, _, cause in self.w.starts[starts:] if iid == sup.instance_id]
        if code == CloseCode.RESTART_REQUIRED and before.failures == 0:
            self._check(restarted == [Closed.__name__], f"inv4: 515 restarted {restarted}")
        refused = [
            env
            for env in self.w.events.get(sup.instance_id, [])[heard:]
            if env["event"] == "connection.update" and env["data"]["state"] == "refused"
        ]
        self._check(
            after.state in lc.UP
            or after.failures >= POLICY.max_failures
            or _refused_on_restart(code, before, after, restarted, len(refused)),
            f"inv4: transient {code} from {before.state} did not reconnect: {after}",
        )

    @precondition(lambda self: self.alive)
    @rule(up=st.booleans())
    def network(self, up: bool) -> None:
        async def switch() -> None:
            self.sim.set_up(up)

        self._run(switch)

    @precondition(lambda self: self.alive)
    @rule(fault=st.sampled_from(FAULTS), on=st.booleans())
    def fault(self, fault: str, on: bool) -> None:
        setattr(self.sim.faults_of(NAME), fault, on)

    @precondition(lambda self: self.alive and self.sup is not None and self.sup.inst.epoch > 0)
    @rule(
        kind=st.sampled_from(["qr", "pair", "open", "anon", "close", "gone", "creds", "due"]),
        back=st.integers(1, 3),
        code=st.sampled_from(CODES),
        future=st.booleans(),
    )
    def stale_event(self, kind: str, back: int, code: int, future: bool) -> None:
        """An event or timer of another epoch changes nothing."""
        sup = self.sup
        assert sup is not None
        epoch = sup.inst.epoch + 1 if future else max(0, sup.inst.epoch - back)
        events: dict[str, EngineEvent | lc.Input] = {
            "qr": Qr(epoch, "2@stale"),
            "pair": PairCode(epoch, "STAL-E000"),
            "open": Opened(epoch, "5511900000009@s.whatsapp.net", "Stale"),
            "anon": Opened(epoch, None),
            "close": Closed(epoch, code, "stale"),
            "gone": LoggedOut(epoch),
            "creds": CredsUpdate(epoch, {"jid": "x"}),
            "due": lc.ReconnectDue(epoch) if code % 2 else lc.StableDue(epoch),
        }
        before = sup.inst
        dropped = sup.stats.dropped_events

        async def inject() -> None:
            sup._queue.put_nowait(_Item(events[kind]))

        self._run(inject)
        self._check(sup.inst == before, f"stale {kind}@{epoch} changed {before} -> {sup.inst}")
        self._check(sup.stats.dropped_events == dropped + 1, "stale event not dropped")

    @precondition(lambda self: self.alive)
    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 5.0, 20.0, 45.0, 61.0, 300.0]))
    def time_passes(self, seconds: float) -> None:
        self._run(lambda: self.clock.advance(seconds, settle=30))

    @precondition(lambda self: self.alive)
    @rule(stagger=st.sampled_from([0.0, 0.5]))
    def process_restarts(self, stagger: float) -> None:
        """The process stops and starts again: the supervisor is rebuilt from the store."""
        sup = self.sup
        assert sup is not None
        iid = sup.instance_id

        async def restart() -> None:
            await sup.shutdown()
            row = self.w.rows[iid]
            has = iid in self.w.creds
            initial = lc.restored(row.lifecycle_state, row.reason, row.owner_jid, has)
            new = self._supervisor(iid, initial)
            new.start()
            new.boot(lc.Boot(row.connection_status, has, stagger))
            self.sup = new

        self._run(restart)

    # --- the seven invariants -------------------------------------------------------------

    def _check(self, ok: bool, text: str) -> None:
        if not ok:
            self.w.problem(text)

    @invariant()
    def seven_invariants(self) -> None:
        self.steps += 1
        if self.sup is None:
            return
        sup, w = self.sup, self.w
        iid = sup.instance_id
        if not sup.deleted:
            inst = sup.inst
            row = w.rows.get(iid)
            # 2. At quiescence the persisted status is the in-memory one (credentials too).
            self._check(
                row is not None
                and row.connection_status == lc.EXTERNAL[inst.state]
                and row.lifecycle_state == inst.state.value,
                f"inv2: store {row} vs memory {inst.state}",
            )
            self._check(
                (iid in w.creds) == inst.has_credentials,
                f"inv2: credentials stored={iid in w.creds} vs memory={inst.has_credentials}",
            )
            # 3. One live session at most, and exactly when the state says so.
            live = [s for s in w.sessions.get(iid, []) if s._alive]
            self._check(len(live) <= 1, f"inv3: {len(live)} live sessions")
            self._check(
                (inst.state in lc.LIVE) == (sup.session is not None),
                f"inv3: state {inst.state} but session {sup.session}",
            )
            session = sup.session
            if session is not None:
                self._check(session.epoch == inst.epoch, "inv3: session of an old epoch")
                self._check(live == [session], "inv3: the live session is not ours")
            else:
                self._check(not live, "inv3: a session lives on without the supervisor")
            # 4. Backoff: reconnecting means exactly one timer, due within the cap.
            timers = [t for t in sup._timers if not t.done()]
            if inst.state is lc.State.RECONNECTING:
                due = self.clock.next_deadline()
                self._check(len(timers) == 1, f"inv4: {len(timers)} timers while reconnecting")
                self._check(
                    due is not None and 0 < due - self.clock.now() <= BACKOFF.maximum,
                    f"inv4: next reconnect at {due} (now {self.clock.now()})",
                )
            elif inst.state is not lc.State.OPEN:
                self._check(not timers, f"inv4: {len(timers)} timers in {inst.state}")
            # 6. Every change announced, in order: the world heard the current state.
            self._check(
                w.heard.get(iid, "close") == lc.EXTERNAL[inst.state],
                f"inv6: heard {w.heard.get(iid)} but the state is {inst.state}",
            )
        self._check_spacing()
        for old in self.old:  # 7. the deleted leave nothing behind
            oid = old.instance_id
            self._check(oid not in w.rows and oid not in w.creds, "inv7: rows left")
            self._check(old.timer_count() == 0, "inv7: timers left")
            self._check(old._worker is not None and old._worker.done(), "inv7: worker left")
            self._check(
                not any(s._alive or s._qr_task for s in w.sessions.get(oid, [])),
                "inv7: a session or its task left",
            )
        if w.problems and self.strict:
            raise Violation("; ".join(w.problems))

    def _check_spacing(self) -> None:
        """4. Automatic reconnects are never a tight loop."""
        floor = BACKOFF.initial * (1 - BACKOFF.jitter) - 1e-9
        last: dict[str, tuple[float, str]] = {}
        for iid, at, cause in self.w.starts:
            prev = last.get(iid)
            auto = cause not in {c.__name__ for c in EXPLICIT}
            if prev is not None and auto and prev[1] not in {c.__name__ for c in EXPLICIT}:
                self._check(at - prev[0] >= floor, f"inv4: reconnects {at - prev[0]:.3f}s apart")
            last[iid] = (at, cause)

    def teardown(self) -> None:
        async def stop() -> None:
            for sup in [self.sup, *self.old]:
                if sup is not None:
                    await sup.shutdown()
            await self.engine.close()

        try:
            self.runner.run(stop())
        finally:
            self.runner.close()
        tally = LifecycleMachine.tally
        tally["ran"] += 1
        tally["steps"] += self.steps
        if self.w.problems:
            tally["violated"] += 1
            if len(LifecycleMachine.examples) < 5:
                LifecycleMachine.examples.append("; ".join(self.w.problems))


settings.register_profile(
    "ci",
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)

TestLifecycle = LifecycleMachine.TestCase
TestLifecycle.settings = settings.get_profile("ci")


# --- the registry: concurrent API operations on one name, through the real app -------------

REGISTRY_OPS = ["create", "delete", "connect", "restart", "logout"]


class RegistryMachine(RuleBasedStateMachine):
    """Create, delete, connect, restart and logout of one name, alone and racing each other,
    through the HTTP API of the real app (SQLite, the sim engine). After every step the
    registry is whole: fetchInstances, connectionState, the database and the gateway agree,
    the instance registered is alive, and no name lock outlives its work."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile
        from pathlib import Path

        from tests.conftest import make_settings

        configure_logging("CRITICAL")
        self.runner = asyncio.Runner()
        self.tmp = tempfile.TemporaryDirectory(prefix="wagate-registry-")
        settings = make_settings(Path(self.tmp.name), connect_wait=0.0, log_level="ERROR")
        self.h: Any = None
        self.ctx: Any = None
        self.exists = False
        """The model: whether NAME is an instance, as the sequential steps say."""

        async def start() -> None:
            from tests.conftest import start_harness

            self.h, self.ctx = await start_harness(settings)

        self.runner.run(start())

    def _call(self, op: str) -> Coroutine[Any, Any, int]:
        c = self.h.client

        async def go() -> int:
            match op:
                case "create":
                    body = {"instanceName": NAME, "integration": "WHATSAPP-BAILEYS"}
                    r = await c.post("/instance/create", json=body)
                case "delete":
                    r = await c.delete(f"/instance/delete/{NAME}")
                case "logout":
                    r = await c.delete(f"/instance/logout/{NAME}")
                case "restart":
                    r = await c.post(f"/instance/restart/{NAME}")
                case _:
                    r = await c.get(f"/instance/connect/{NAME}")
            return int(r.status_code)

        return go()

    def _do(self, op: str) -> int:
        status: int = self.runner.run(self._call(op))
        assert status < 500, f"{op}: {status}"
        return status

    @rule()
    def create(self) -> None:
        status = self._do("create")
        assert status == (403 if self.exists else 201), status
        self.exists = True

    @rule()
    def delete(self) -> None:
        status = self._do("delete")
        assert status == (200 if self.exists else 404), status
        if self.exists:
            assert self._do("delete") == 404  # a second delete finds nothing
            assert self._do("create") == 201  # and the name is free at once
            assert self._do("delete") == 200
        self.exists = False

    @rule(op=st.sampled_from(["connect", "restart", "logout"]))
    def intent(self, op: str) -> None:
        status = self._do(op)
        if not self.exists:
            assert status == 404, status
        else:
            assert status != 404, status

    @precondition(lambda self: self.exists)
    @rule(number=st.sampled_from(["5511900000001", "5511900000002"]))
    def phone_scans(self, number: str) -> None:
        async def scan() -> None:
            await self.h.client.post(f"/sim/{NAME}/scan", json={"number": number})

        self.runner.run(scan())

    @rule(ops=st.lists(st.sampled_from(REGISTRY_OPS), min_size=2, max_size=5))
    def concurrently(self, ops: list[str]) -> None:
        """Several API calls on the name at once: each is whole, none fails with a 5xx."""

        async def together() -> list[int]:
            return list(await asyncio.gather(*(self._call(op) for op in ops)))

        statuses = self.runner.run(together())
        assert all(s < 500 for s in statuses), list(zip(ops, statuses, strict=True))
        deletes = [s for op, s in zip(ops, statuses, strict=True) if op == "delete"]
        creates = [s for op, s in zip(ops, statuses, strict=True) if op == "create"]
        # Each success acts on an instance that was there: one delete per instance, one
        # create per free name.
        assert creates.count(201) <= deletes.count(200) + (0 if self.exists else 1), statuses
        assert deletes.count(200) <= creates.count(201) + (1 if self.exists else 0), statuses
        self.exists = self._registered()

    def _registered(self) -> bool:
        async def state() -> int:
            return int((await self.h.client.get(f"/instance/connectionState/{NAME}")).status_code)

        return bool(self.runner.run(state()) == 200)

    @invariant()
    def registry_is_whole(self) -> None:
        gw = self.h.gateway

        async def views() -> tuple[bool, int, bool]:
            rows = (await self.h.client.get("/instance/fetchInstances")).json()
            state = (await self.h.client.get(f"/instance/connectionState/{NAME}")).status_code
            stored = await gw.store.all_instances(gw.settings.client_name)
            return (
                any(r["name"] == NAME for r in rows),
                int(state),
                any(r.name == NAME for r in stored),
            )

        listed, state, stored = self.runner.run(views())
        assert (listed, state == 200, stored) == (self.exists,) * 3, (listed, state, stored)
        assert (NAME in gw.instances) == self.exists
        assert {r.id for r in gw.instances.values()} == set(gw.by_id)
        if self.exists:
            assert not gw.instances[NAME].supervisor.deleted
        assert len(gw.names) == 0, "a name lock outlived its work"

    def teardown(self) -> None:
        async def stop() -> None:
            from tests.conftest import stop_harness

            if self.h is not None:
                await stop_harness(self.h, self.ctx)

        try:
            self.runner.run(stop())
        finally:
            self.runner.close()
            self.tmp.cleanup()


TestRegistry = RegistryMachine.TestCase
TestRegistry.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
