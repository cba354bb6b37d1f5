"""The connection lifecycle as a pure reducer: decide(instance, input) -> Decision.

No I/O, no awaits, no clock. The supervisor (core/supervisor.py) feeds it API intents, engine
events and timer firings, and carries out the effects it returns, in order.

Rules (shared/DESIGN.md "The connection lifecycle"):
- `ACCEPTS` says in which states each input means something. Anywhere else the input is
  dropped on purpose (`Decision.dropped`), never by accident; so is an input of a stale epoch.
- Every session gets a new epoch; stopping a session retires its epoch, so anything it still
  reports is stale and dropped here.
- Close codes are classified in one place, `domain.close.classify`, by code *and* state: 408
  before pairing is an expired QR (terminal), 408 after pairing is a lost connection
  (transient). 515 restarts at once, but only once per streak of failures: a second one waits
  for the backoff like any other transient close.
- The QR limit counts every QR of a pairing attempt, across its automatic reconnects (a 515
  restart, a backoff reconnect); only an explicit intent starts a new count, as only it resets
  the failures. So a transient close once the limit is used up still reconnects, and the new
  session is refused at its first QR: the limit is decided in one place, on the QR, because
  only the engine knows whether a session needs one.
- Logout and delete set the intent down first: timers are cancelled before any teardown, the
  remote unlink is attempted only on a live paired session, and credentials are purged whatever
  the engine said.
- A state change is persisted before it is announced; CONNECTION_UPDATE is announced once per
  change of the external state (open / connecting / close).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from wagate.domain.close import Cause, CloseCode, Outcome, classify
from wagate.engines.base import Closed, CredsUpdate, LoggedOut, Opened, PairCode, Qr


class State(StrEnum):
    IDLE = "idle"
    """No session and nothing scheduled: never connected, QR expired, or closed on purpose."""
    CONNECTING = "connecting"
    """A session is starting."""
    AWAITING_PAIRING = "awaiting_pairing"
    """A QR or pairing code is live; waiting for the phone."""
    AWAITING_IDENTITY = "awaiting_identity"
    """The engine said open but not which account; waiting for it before announcing open."""
    OPEN = "open"
    """Connected as `jid`."""
    RECONNECTING = "reconnecting"
    """A transient loss; a backoff timer will start the next session."""
    LOGGED_OUT = "logged_out"
    """Credentials are gone; connecting again shows a new QR."""
    FAILED = "failed"
    """Stopped for a permanent cause or after too many failures, until the next connect."""
    DELETED = "deleted"
    """Absorbing: the instance is gone."""


LIVE = frozenset({State.CONNECTING, State.AWAITING_PAIRING, State.AWAITING_IDENTITY, State.OPEN})
"""States with an engine session."""
UP = LIVE | {State.RECONNECTING}
"""States in which the instance intends to be connected."""
EXISTING = frozenset(State) - {State.DELETED}
PAIRING = frozenset({State.CONNECTING, State.AWAITING_PAIRING})
EXTERNAL: dict[State, str] = {
    State.IDLE: "close",
    State.CONNECTING: "connecting",
    State.AWAITING_PAIRING: "connecting",
    State.AWAITING_IDENTITY: "connecting",
    State.OPEN: "open",
    State.RECONNECTING: "connecting",
    State.LOGGED_OUT: "close",
    State.FAILED: "close",
    State.DELETED: "close",
}


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    number: str | None = None


@dataclass(frozen=True, slots=True)
class Restart:
    pass


@dataclass(frozen=True, slots=True)
class Logout:
    pass


@dataclass(frozen=True, slots=True)
class Delete:
    pass


@dataclass(frozen=True, slots=True)
class Boot:
    """Restore from the store: `persisted` is the stored connectionStatus. An instance to
    reconnect waits `stagger` seconds first (as `reconnecting`), so a restart does not open
    every session at once."""

    persisted: str
    has_credentials: bool
    stagger: float = 0.0


@dataclass(frozen=True, slots=True)
class ReconnectDue:
    epoch: int


@dataclass(frozen=True, slots=True)
class StableDue:
    epoch: int


Intent = Connect | Restart | Logout | Delete | Boot
EngineInput = Qr | PairCode | Opened | Closed | LoggedOut | CredsUpdate
Input = Intent | EngineInput | ReconnectDue | StableDue
INPUT_TYPES: tuple[type, ...] = (
    Connect,
    Restart,
    Logout,
    Delete,
    Boot,
    Qr,
    PairCode,
    Opened,
    Closed,
    LoggedOut,
    CredsUpdate,
    ReconnectDue,
    StableDue,
)


# --- effects (carried out in order by the supervisor) ---------------------------------------


@dataclass(frozen=True, slots=True)
class StartSession:
    epoch: int
    number: str | None


@dataclass(frozen=True, slots=True)
class StopSession:
    """Stop the session of `epoch`; a failure is ignored."""

    epoch: int


@dataclass(frozen=True, slots=True)
class RemoteLogout:
    """Unlink the device remotely, bounded in time; a failure is logged, not raised."""

    epoch: int


@dataclass(frozen=True, slots=True)
class PurgeCredentials:
    pass


@dataclass(frozen=True, slots=True)
class SaveCredentials:
    creds: dict[str, object]


@dataclass(frozen=True, slots=True)
class ShowCode:
    """A QR or pairing code to serve on /instance/connect and announce as qrcode.updated."""

    qr: str | None = None
    pairing: str | None = None


@dataclass(frozen=True, slots=True)
class Announce:
    """A connection.update with `state` ('open' | 'connecting' | 'close' | 'refused')."""

    state: str
    reason: int


@dataclass(frozen=True, slots=True)
class Persist:
    """Write the status, and the events of `announce` with it in one transaction; then they
    go out. A state change is announced only through the write that persists it."""

    announce: tuple[Announce, ...] = ()


@dataclass(frozen=True, slots=True)
class ScheduleReconnect:
    """Fire `ReconnectDue(epoch)` after the backoff for `attempt`, or after `after` seconds."""

    epoch: int
    attempt: int
    after: float | None = None


@dataclass(frozen=True, slots=True)
class ScheduleStable:
    epoch: int


@dataclass(frozen=True, slots=True)
class CancelTimers:
    pass


@dataclass(frozen=True, slots=True)
class Forget:
    """Remove the instance's rows, credentials, timers and tasks."""


Effect = (
    StartSession
    | StopSession
    | RemoteLogout
    | PurgeCredentials
    | SaveCredentials
    | ShowCode
    | Persist
    | ScheduleReconnect
    | ScheduleStable
    | CancelTimers
    | Forget
)


# --- the instance as the reducer sees it ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    qr_limit: int = 30
    max_failures: int = 10


@dataclass(frozen=True, slots=True)
class Instance:
    state: State = State.IDLE
    epoch: int = 0
    reason: int = CloseCode.OK
    """The status reason: Evolution's `statusReason` (a `CloseCode`, or a code WhatsApp sent)."""
    detail: str = ""
    cause: Cause | None = None
    """Finer than `reason` where one code covers several causes; not persisted."""
    jid: str | None = None
    has_credentials: bool = False
    qr_count: int = 0
    failures: int = 0
    number: str | None = None


class Reply(StrEnum):
    """What a decision answers the intent that caused it."""

    OK = "ok"
    """An engine event or timer was handled."""
    IGNORED = "ignored"
    """The input was stale or meant nothing in this state (`Decision.dropped`)."""
    STARTED = "started"
    """Connect: a session is starting."""
    ALREADY = "already"
    """Connect: a session is up or coming already; nothing changed."""
    RESTARTED = "restarted"
    """Restart: a new session is starting."""
    NOT_CONNECTED = "not_connected"
    """Restart: nothing to restart (closed, and no credentials)."""
    LOGGED_OUT = "logged_out"
    """Logout: the instance was up and is now logged out."""
    ALREADY_CLOSED = "already_closed"
    """Logout: the instance was closed already (its credentials, if any, are purged)."""
    DELETED = "deleted"
    """Delete: the instance is gone (also the answer to anything sent after)."""
    RESTORING = "restoring"
    """Boot: the instance reconnects (after its stagger)."""
    RECONCILED = "reconciled"
    """Boot: the store said up, but without credentials the instance is closed."""
    IDLE = "idle"
    """Boot: the instance was closed and stays so."""


@dataclass(frozen=True, slots=True)
class Decision:
    instance: Instance
    effects: tuple[Effect, ...] = ()
    reply: Reply = Reply.OK
    dropped: bool = False
    """True when the input was stale or meaningless in this state and changed nothing."""


ACCEPTS: dict[type, frozenset[State]] = {
    Connect: EXISTING,
    Restart: EXISTING,
    Logout: EXISTING,
    Delete: EXISTING,
    Boot: frozenset({State.IDLE}),
    ReconnectDue: frozenset({State.RECONNECTING}),
    StableDue: frozenset({State.OPEN}),
    Qr: PAIRING,
    PairCode: PAIRING,
    Opened: PAIRING | {State.AWAITING_IDENTITY},
    Closed: LIVE,
    LoggedOut: LIVE,
    CredsUpdate: LIVE,
}
"""The states in which each input means something; everywhere else it is dropped."""


def restored(state: str, reason: int, jid: str | None, has_credentials: bool) -> Instance:
    """The instance as a restart finds it: nothing is live any more, so live states are idle."""
    found = State(state) if state in State._value2member_map_ else State.IDLE
    if found in UP or found is State.DELETED:
        found = State.IDLE
    return Instance(state=found, reason=reason, jid=jid, has_credentials=has_credentials)


def decide(inst: Instance, event: Input, policy: Policy = Policy()) -> Decision:
    """The next instance and the effects that get there. Total: every (state, input) pair."""
    if inst.state not in ACCEPTS[type(event)] or _stale(inst, event):
        return Decision(
            inst,
            reply=Reply.DELETED if inst.state is State.DELETED else Reply.IGNORED,
            dropped=True,
        )
    match event:
        case Connect(number):
            if inst.state in UP:  # one session at most: answer with the current state
                return Decision(inst, reply=Reply.ALREADY)
            return _finish(inst, _start(inst, number, fresh=True), reply=Reply.STARTED)
        case Restart():
            if inst.state in UP:
                new, fx = _teardown(inst)
                started, fx2 = _start(new, inst.number, fresh=True)
                return _finish(inst, (started, fx + fx2), reply=Reply.RESTARTED)
            if inst.has_credentials:
                return _finish(inst, _start(inst, inst.number, fresh=True), reply=Reply.RESTARTED)
            return Decision(inst, reply=Reply.NOT_CONNECTED)
        case Logout():
            new, fx = _teardown(inst, remote=True)
            if inst.state not in UP and not inst.has_credentials:
                return Decision(inst, fx, reply=Reply.ALREADY_CLOSED)
            gone = _logged_out(new, "logged out")
            reply = Reply.LOGGED_OUT if inst.state in UP else Reply.ALREADY_CLOSED
            return _finish(inst, (gone, (*fx, PurgeCredentials())), reply=reply)
        case Delete():
            new, fx = _teardown(inst, remote=True)
            if inst.state in UP:  # announce the close before the instance disappears
                new = _logged_out(new, "deleted")
                fx = _finish(inst, (new, fx)).effects
            dead = replace(new, state=State.DELETED, has_credentials=False, jid=None)
            return Decision(dead, (*fx, PurgeCredentials(), Forget()), reply=Reply.DELETED)
        case Boot(_, has_creds):
            return _boot(replace(inst, has_credentials=has_creds), event)
        case ReconnectDue():
            return _finish(inst, _start(inst, inst.number, fresh=False))
        case StableDue():
            return Decision(replace(inst, failures=0))
        case _:
            return _on_engine(inst, event, policy)


def _boot(inst: Instance, boot: Boot) -> Decision:
    """Restore after a restart, announcing what changed since the store's last word."""
    if inst.has_credentials and boot.persisted in ("open", "connecting"):
        if boot.stagger > 0:  # wait as `reconnecting`: the store never says `open` meanwhile
            new = replace(inst, state=State.RECONNECTING, detail="restoring after restart")
            fx: tuple[Effect, ...] = (ScheduleReconnect(inst.epoch, 0, after=boot.stagger),)
        else:
            new, fx = _start(inst, None, fresh=True)
        reply = Reply.RESTORING
    elif boot.persisted != "close":
        closed = CloseCode.CONNECTION_CLOSED
        new, fx = replace(inst, reason=closed, detail="not restored: no credentials"), ()
        reply = Reply.RECONCILED
    else:
        return Decision(inst, reply=Reply.IDLE)
    changed = boot.persisted != EXTERNAL[new.state]
    announce = (Announce(EXTERNAL[new.state], new.reason),) if changed else ()
    return Decision(new, (Persist(announce), *fx), reply=reply)


def _stale(inst: Instance, event: Input) -> bool:
    """From a session or timer of an older epoch (a boot restores only an untouched instance)."""
    if isinstance(event, Boot):
        return inst.epoch != 0
    epoch = getattr(event, "epoch", None)
    return epoch is not None and epoch != inst.epoch


def _on_engine(inst: Instance, event: Input, policy: Policy) -> Decision:
    match event:
        case Qr(_, code):
            if inst.qr_count >= policy.qr_limit:
                new, fx = _teardown(inst)
                new = replace(
                    new,
                    state=State.IDLE,
                    reason=Cause.QR_LIMIT.code,
                    cause=Cause.QR_LIMIT,
                    detail="QR code limit reached",
                )
                refused = Persist((Announce("refused", new.reason), Announce("close", new.reason)))
                return Decision(new, (*fx, refused))
            new = replace(inst, state=State.AWAITING_PAIRING, qr_count=inst.qr_count + 1)
            return _finish(inst, (new, (ShowCode(qr=code),)))
        case PairCode(_, code):
            new = replace(inst, state=State.AWAITING_PAIRING)
            return _finish(inst, (new, (ShowCode(pairing=code),)))
        case CredsUpdate(_, creds):
            return Decision(replace(inst, has_credentials=True), (SaveCredentials(dict(creds)),))
        case Opened(epoch, None):
            if inst.state is State.AWAITING_IDENTITY:
                return Decision(inst, reply=Reply.IGNORED, dropped=True)
            return _finish(inst, (replace(inst, state=State.AWAITING_IDENTITY), ()))
        case Opened(epoch, jid):
            new = replace(
                inst,
                state=State.OPEN,
                jid=jid,
                has_credentials=True,
                qr_count=0,
                reason=CloseCode.OK,
                detail="",
                cause=None,
            )
            return _finish(inst, (new, (ScheduleStable(epoch),)))
        case LoggedOut(epoch, detail):
            return _on_close(
                inst, CloseCode.LOGGED_OUT, detail or "logged out remotely", None, policy
            )
        case Closed(_, code, detail, cause):
            return _on_close(inst, code, detail, cause, policy)
    raise TypeError(f"not a lifecycle input: {event!r}")  # pragma: no cover


def _on_close(
    inst: Instance, code: int, detail: str, cause: Cause | None, policy: Policy
) -> Decision:
    new, fx = _teardown(inst)
    new = replace(new, reason=code, detail=detail, cause=cause)
    outcome = classify(code, paired=inst.has_credentials)
    if outcome is Outcome.LOGS_OUT:
        return _finish(inst, (_logged_out(new, detail), (*fx, PurgeCredentials())))
    if outcome is Outcome.PERMANENT:
        return _finish(inst, (replace(new, state=State.FAILED), fx))
    if outcome is Outcome.EXPIRED:
        return _finish(inst, (replace(new, state=State.IDLE, detail=detail or "QR expired"), fx))
    failures = inst.failures + 1
    if outcome is Outcome.RESTART and failures == 1:
        started, fx2 = _start(replace(new, failures=failures), inst.number, fresh=False)
        return _finish(inst, (started, fx + fx2))
    if failures >= policy.max_failures:
        failed = replace(
            new,
            state=State.FAILED,
            failures=failures,
            detail=f"gave up after {failures} consecutive failures: {detail}",
        )
        return _finish(inst, (failed, fx))
    waiting = replace(new, state=State.RECONNECTING, failures=failures)
    return _finish(inst, (waiting, (*fx, ScheduleReconnect(waiting.epoch, failures))))


def _logged_out(inst: Instance, detail: str) -> Instance:
    return replace(
        inst,
        state=State.LOGGED_OUT,
        reason=CloseCode.LOGGED_OUT,
        detail=detail,
        cause=None,
        has_credentials=False,
        jid=None,
    )


def _start(
    inst: Instance, number: str | None, *, fresh: bool
) -> tuple[Instance, tuple[Effect, ...]]:
    """A new session with a new epoch. `fresh` (an explicit intent) resets the counters."""
    epoch = inst.epoch + 1
    new = replace(
        inst,
        state=State.CONNECTING,
        epoch=epoch,
        number=number,
        reason=CloseCode.OK,
        detail="",
        cause=None,
        qr_count=0 if fresh else inst.qr_count,
        failures=0 if fresh else inst.failures,
    )
    return new, (CancelTimers(), StartSession(epoch, number))


def _teardown(inst: Instance, *, remote: bool = False) -> tuple[Instance, tuple[Effect, ...]]:
    """Intent down first (timers), then the remote unlink if paired and live, then stop."""
    fx: list[Effect] = [CancelTimers()]
    if inst.state in LIVE:
        if remote and inst.has_credentials and inst.state in (State.OPEN, State.AWAITING_IDENTITY):
            fx.append(RemoteLogout(inst.epoch))
        fx.append(StopSession(inst.epoch))
    # Retiring the epoch makes every later event of the stopped session stale.
    return replace(inst, epoch=inst.epoch + 1), tuple(fx)


def _finish(
    old: Instance, change: tuple[Instance, tuple[Effect, ...]], reply: Reply = Reply.OK
) -> Decision:
    """Persist what changed, announcing once per change of the external state (with the
    write: a change of the external state is always a change of what is persisted)."""
    new, fx = change
    if _persisted(old) == _persisted(new):
        return Decision(new, fx, reply=reply)
    external = EXTERNAL[new.state]
    announce = (Announce(external, new.reason),) if EXTERNAL[old.state] != external else ()
    return Decision(new, (*fx, Persist(announce)), reply=reply)


def _persisted(inst: Instance) -> tuple[object, ...]:
    return (inst.state, inst.reason, inst.detail, inst.jid)
