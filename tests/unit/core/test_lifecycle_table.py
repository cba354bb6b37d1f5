"""The reducer, exhaustively: every (state, input) pair has a written-down result.

`TABLE` is the specification. Each row is a state (with or without credentials, where that
matters), each column an input, each cell the next state or DROP (the input is meaningless
there and is dropped on purpose). The tests check the reducer against every cell, that the
table covers every state x input type, and that no pair is dropped except where the table says.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from wagate.core import lifecycle as lc
from wagate.core.lifecycle import State as S
from wagate.engines.base import Closed, CredsUpdate, LoggedOut, Opened, PairCode, Qr

DROP = "drop"
EPOCH = 3
POLICY = lc.Policy(qr_limit=3, max_failures=4)

# One representative input per column; engine events and timers carry the current epoch.
COLUMNS: dict[str, lc.Input] = {
    "connect": lc.Connect(),
    "restart": lc.Restart(),
    "logout": lc.Logout(),
    "delete": lc.Delete(),
    "boot": lc.Boot("open", True),
    "reconnect_due": lc.ReconnectDue(EPOCH),
    "stable_due": lc.StableDue(EPOCH),
    "qr": Qr(EPOCH, "2@ref"),
    "pair_code": PairCode(EPOCH, "ABCD-EFGH"),
    "opened": Opened(EPOCH, "5511@s.whatsapp.net", "Ana"),
    "opened_anon": Opened(EPOCH, None),
    "closed": Closed(EPOCH, 428, "stream end"),
    "logged_out": LoggedOut(EPOCH),
    "creds": CredsUpdate(EPOCH, {"jid": "5511@s.whatsapp.net"}),
}

__ = DROP
Id, Cn, AP, AI, Op = S.IDLE, S.CONNECTING, S.AWAITING_PAIRING, S.AWAITING_IDENTITY, S.OPEN
Rc, LO, Fa, De = S.RECONNECTING, S.LOGGED_OUT, S.FAILED, S.DELETED
# fmt: off
# columns:      conn rest lout del boot rdue sdue qr pair open anon clos gone cred
TABLE: dict[tuple[S, bool], tuple[object, ...]] = {
    (Id, False):     (Cn, Id, Id, De, Cn, __, __, __, __, __, __, __, __, __),
    (Id, True):      (Cn, Cn, LO, De, Cn, __, __, __, __, __, __, __, __, __),
    (Cn, False):     (Cn, Cn, LO, De, __, __, __, AP, AP, Op, AI, Rc, LO, Cn),
    (Cn, True):      (Cn, Cn, LO, De, __, __, __, AP, AP, Op, AI, Rc, LO, Cn),
    (AP, False):     (AP, Cn, LO, De, __, __, __, AP, AP, Op, AI, Rc, LO, AP),
    (AI, True):      (AI, Cn, LO, De, __, __, __, __, __, Op, __, Rc, LO, AI),
    (Op, True):      (Op, Cn, LO, De, __, __, Op, __, __, __, __, Rc, LO, Op),
    (Rc, True):      (Rc, Cn, LO, De, __, Cn, __, __, __, __, __, __, __, __),
    (LO, False):     (Cn, LO, LO, De, __, __, __, __, __, __, __, __, __, __),
    (Fa, False):     (Cn, Fa, Fa, De, __, __, __, __, __, __, __, __, __, __),
    (Fa, True):      (Cn, Cn, LO, De, __, __, __, __, __, __, __, __, __, __),
    (De, False):     (__, __, __, __, __, __, __, __, __, __, __, __, __, __),
}
# fmt: on


def announced(d: lc.Decision) -> list[lc.Announce]:
    """The connection.updates of a decision: each one goes out with the write that persists it."""
    return [a for e in d.effects if isinstance(e, lc.Persist) for a in e.announce]


def persists(d: lc.Decision) -> list[lc.Persist]:
    return [e for e in d.effects if isinstance(e, lc.Persist)]


def representative(state: S, creds: bool) -> lc.Instance:
    """An instance in `state`; non-live states have never started a session in this process
    (epoch 0, so a boot restore applies to them), live ones are on session EPOCH."""
    live = state in lc.UP
    return lc.Instance(
        state=state,
        epoch=EPOCH if live else 0,
        reason=200 if state is not S.FAILED else 440,
        jid="5511@s.whatsapp.net" if creds and state is not S.IDLE else None,
        has_credentials=creds,
        qr_count=1,
        failures=1 if state is S.RECONNECTING else 0,
    )


def _input_for(column: str, inst: lc.Instance) -> lc.Input:
    event = COLUMNS[column]
    if hasattr(event, "epoch"):  # the timers and events of a non-live instance's last epoch
        event = replace(event, epoch=inst.epoch)  # type: ignore[arg-type]
    return event


CELLS = [
    pytest.param(state, creds, column, TABLE[(state, creds)][i], id=f"{state}-{creds}-{column}")
    for (state, creds) in TABLE
    for i, column in enumerate(COLUMNS)
]


@pytest.mark.parametrize(("state", "creds", "column", "expected"), CELLS)
def test_every_cell_of_the_table(state: S, creds: bool, column: str, expected: object) -> None:
    inst = representative(state, creds)
    decision = lc.decide(inst, _input_for(column, inst), POLICY)
    if expected == DROP:
        assert decision.dropped, f"{state}+{column} should be dropped explicitly"
        assert decision.instance == inst and decision.effects == ()
        assert state not in lc.ACCEPTS[type(COLUMNS[column])] or column == "opened_anon"
    else:
        assert not decision.dropped, f"{state}+{column} should be handled"
        assert decision.instance.state is expected


def test_the_table_covers_every_state_and_input_type() -> None:
    assert {state for state, _ in TABLE} == set(S)
    assert {type(event) for event in COLUMNS.values()} == set(lc.INPUT_TYPES)
    assert set(lc.ACCEPTS) == set(lc.INPUT_TYPES)


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("kind", lc.INPUT_TYPES, ids=lambda t: t.__name__)
def test_outside_accepts_every_input_is_dropped_and_changes_nothing(state: S, kind: type) -> None:
    """The acceptance table is the only reason an input is dropped for its state."""
    inst = representative(state, state in (S.OPEN, S.AWAITING_IDENTITY, S.RECONNECTING))
    event = next(e for e in COLUMNS.values() if type(e) is kind)
    decision = lc.decide(inst, _input_for_event(event, inst), POLICY)
    if state not in lc.ACCEPTS[kind]:
        assert decision.dropped and decision.instance == inst and not decision.effects
    elif not (kind is Opened and state is S.AWAITING_IDENTITY):
        assert not decision.dropped


def _input_for_event(event: lc.Input, inst: lc.Instance) -> lc.Input:
    if hasattr(event, "epoch"):
        return replace(event, epoch=inst.epoch)  # type: ignore[arg-type]
    return event


@pytest.mark.parametrize("state", sorted(lc.UP | {S.OPEN}))
@pytest.mark.parametrize(
    "event",
    [
        Qr(EPOCH - 1, "old"),
        PairCode(EPOCH - 1, "OLD"),
        Opened(EPOCH - 1, "x@s.whatsapp.net"),
        Opened(EPOCH - 1, None),
        Closed(EPOCH - 1, 401),
        Closed(EPOCH - 1, 515),
        LoggedOut(EPOCH - 1),
        CredsUpdate(EPOCH - 1, {}),
        lc.ReconnectDue(EPOCH - 1),
        lc.StableDue(EPOCH - 1),
        Closed(EPOCH + 1, 428),
    ],
    ids=repr,
)
def test_events_of_another_epoch_are_dropped(state: S, event: lc.Input) -> None:
    inst = representative(state, True)
    decision = lc.decide(inst, event, POLICY)
    assert decision.dropped and decision.instance == inst and not decision.effects


def test_boot_after_anything_happened_is_dropped() -> None:
    """A boot restore fires after a stagger; a connect or logout meanwhile wins."""
    started = lc.decide(lc.Instance(has_credentials=True), lc.Connect(), POLICY).instance
    closed = lc.decide(started, Closed(started.epoch, 408), POLICY).instance
    for inst in (started, closed, replace(closed, state=S.IDLE)):
        assert lc.decide(inst, lc.Boot("open", True), POLICY).dropped
    logged_out = lc.decide(lc.Instance(has_credentials=True), lc.Logout(), POLICY).instance
    assert lc.decide(logged_out, lc.Boot("open", True), POLICY).dropped


# --- close codes: classified by code and state ----------------------------------------------

TERMINAL = {
    401: S.LOGGED_OUT,
    402: S.FAILED,
    403: S.FAILED,
    405: S.FAILED,
    406: S.FAILED,
    440: S.FAILED,
}
TRANSIENT = [400, 409, 411, 428, 500, 501, 503, 1000, 0]


def _live(state: S, *, creds: bool, failures: int = 0) -> lc.Instance:
    return replace(representative(state, creds), failures=failures)


@pytest.mark.parametrize("code", sorted(TERMINAL))
@pytest.mark.parametrize(
    ("state", "creds"),
    [(Cn, False), (Cn, True), (AP, False), (AI, True), (Op, True)],
)
def test_terminal_codes_never_reconnect(code: int, state: S, creds: bool) -> None:
    d = lc.decide(_live(state, creds=creds), Closed(EPOCH, code), POLICY)
    assert d.instance.state is TERMINAL[code]
    assert d.instance.reason == code
    assert not any(isinstance(e, lc.StartSession | lc.ScheduleReconnect) for e in d.effects)
    assert lc.Announce("close", code) in announced(d)
    if code == 401:
        assert lc.PurgeCredentials() in d.effects and not d.instance.has_credentials


@pytest.mark.parametrize(("state", "creds"), [(Cn, False), (AP, False)])
def test_408_before_pairing_is_an_expired_qr_and_terminal(state: S, creds: bool) -> None:
    d = lc.decide(_live(state, creds=creds), Closed(EPOCH, 408), POLICY)
    assert d.instance.state is S.IDLE and d.instance.reason == 408
    assert not any(isinstance(e, lc.StartSession | lc.ScheduleReconnect) for e in d.effects)
    assert lc.PurgeCredentials() not in d.effects


@pytest.mark.parametrize(("state", "creds"), [(Cn, True), (AI, True), (Op, True)])
def test_408_after_login_is_a_lost_connection_and_transient(state: S, creds: bool) -> None:
    d = lc.decide(_live(state, creds=creds), Closed(EPOCH, 408), POLICY)
    assert d.instance.state is S.RECONNECTING and d.instance.has_credentials
    assert lc.ScheduleReconnect(d.instance.epoch, 1) in d.effects


@pytest.mark.parametrize("code", TRANSIENT)
@pytest.mark.parametrize(("state", "creds"), [(Cn, False), (AP, False), (AI, True), (Op, True)])
def test_other_codes_are_transient_with_backoff(code: int, state: S, creds: bool) -> None:
    d = lc.decide(_live(state, creds=creds, failures=1), Closed(EPOCH, code), POLICY)
    assert d.instance.state is S.RECONNECTING and d.instance.failures == 2
    assert lc.ScheduleReconnect(d.instance.epoch, 2) in d.effects
    assert not any(isinstance(e, lc.StartSession) for e in d.effects)


def test_515_restarts_at_once_only_for_the_first_failure() -> None:
    d = lc.decide(_live(Op, creds=True), Closed(EPOCH, 515), POLICY)
    assert d.instance.state is S.CONNECTING
    starts = [e for e in d.effects if isinstance(e, lc.StartSession)]
    assert starts == [lc.StartSession(d.instance.epoch, None)]
    # The restarted session says 515 again: now it waits like any other transient close.
    again = lc.decide(d.instance, Closed(d.instance.epoch, 515), POLICY)
    assert again.instance.state is S.RECONNECTING
    assert lc.ScheduleReconnect(again.instance.epoch, 2) in again.effects


def test_after_max_failures_the_instance_fails_and_stops() -> None:
    inst = _live(Cn, creds=True, failures=POLICY.max_failures - 1)
    d = lc.decide(inst, Closed(EPOCH, 428, "stream end"), POLICY)
    assert d.instance.state is S.FAILED and d.instance.failures == POLICY.max_failures
    assert "gave up after 4 consecutive failures" in d.instance.detail
    assert not any(isinstance(e, lc.ScheduleReconnect | lc.StartSession) for e in d.effects)
    assert lc.Announce("close", 428) in announced(d)
    # ...until a new explicit connect, which starts afresh.
    again = lc.decide(d.instance, lc.Connect(), POLICY)
    assert again.reply == "started" and again.instance.failures == 0


def test_a_stable_open_resets_the_failure_count() -> None:
    inst = _live(Op, creds=True, failures=3)
    assert lc.decide(inst, lc.StableDue(EPOCH), POLICY).instance.failures == 0


def test_a_reconnect_keeps_the_failure_count() -> None:
    inst = _live(Rc, creds=True, failures=2)
    d = lc.decide(inst, lc.ReconnectDue(EPOCH), POLICY)
    assert d.instance.state is S.CONNECTING and d.instance.failures == 2


# --- QR limit ---------------------------------------------------------------------------------


def test_qr_limit_sends_refused_then_close() -> None:
    inst = replace(_live(AP, creds=False), qr_count=POLICY.qr_limit)
    d = lc.decide(inst, Qr(EPOCH, "one too many"), POLICY)
    assert d.instance.state is S.IDLE and d.instance.reason == 428
    assert d.effects == (
        lc.CancelTimers(),
        lc.StopSession(EPOCH),
        lc.Persist((lc.Announce("refused", 428), lc.Announce("close", 428))),
    )


def test_qrs_below_the_limit_are_shown_and_counted() -> None:
    inst = replace(_live(Cn, creds=False), qr_count=0)
    for n in range(1, POLICY.qr_limit + 1):
        d = lc.decide(inst, Qr(EPOCH, f"qr{n}"), POLICY)
        assert lc.ShowCode(qr=f"qr{n}") in d.effects
        inst = d.instance
        assert inst.qr_count == n and inst.state is S.AWAITING_PAIRING


# --- intents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "creds"), [(Cn, False), (AP, False), (AI, True), (Op, True)])
def test_logout_sets_intent_down_first_and_purges_whatever_the_engine_says(
    state: S, creds: bool
) -> None:
    d = lc.decide(_live(state, creds=creds), lc.Logout(), POLICY)
    fx = d.effects
    assert fx[0] == lc.CancelTimers()
    assert lc.StopSession(EPOCH) in fx and lc.PurgeCredentials() in fx
    assert (lc.RemoteLogout(EPOCH) in fx) == (state in (AI, Op))
    if lc.RemoteLogout(EPOCH) in fx:
        assert fx.index(lc.RemoteLogout(EPOCH)) < fx.index(lc.StopSession(EPOCH))
    assert fx[-1] == lc.Persist((lc.Announce("close", 401),))  # after the teardown
    assert d.instance.state is S.LOGGED_OUT and d.instance.reason == 401
    assert d.reply == "logged_out"


def test_logout_of_a_closed_instance_succeeds() -> None:
    d = lc.decide(lc.Instance(), lc.Logout(), POLICY)
    assert d.reply == "already_closed" and not d.dropped
    assert d.instance.state is S.IDLE and announced(d) == []


def test_logout_while_reconnecting_cancels_the_timer_and_announces_close() -> None:
    d = lc.decide(_live(Rc, creds=True), lc.Logout(), POLICY)
    assert d.effects[0] == lc.CancelTimers()
    assert not any(isinstance(e, lc.StopSession | lc.RemoteLogout) for e in d.effects)
    assert lc.Announce("close", 401) in announced(d) and d.instance.state is S.LOGGED_OUT


@pytest.mark.parametrize("state", sorted(set(S) - {S.DELETED}))
def test_delete_from_every_state_forgets_last(state: S) -> None:
    creds = state in (AI, Op, Rc)
    d = lc.decide(representative(state, creds), lc.Delete(), POLICY)
    assert d.instance.state is S.DELETED and d.reply == "deleted"
    assert d.effects[0] == lc.CancelTimers()
    assert d.effects[-2:] == (lc.PurgeCredentials(), lc.Forget())
    assert announced(d) == ([lc.Announce("close", 401)] if state in lc.UP else [])


def test_connect_while_up_never_starts_a_second_session() -> None:
    for state in lc.UP:
        d = lc.decide(representative(state, True), lc.Connect(), POLICY)
        assert d.reply == "already" and d.effects == () and not d.dropped


def test_opened_without_identity_waits_for_it() -> None:
    d = lc.decide(_live(Cn, creds=True), Opened(EPOCH, None), POLICY)
    assert d.instance.state is S.AWAITING_IDENTITY
    assert announced(d) == []  # still 'connecting'
    d2 = lc.decide(d.instance, Opened(EPOCH, "5511@s.whatsapp.net", "Ana"), POLICY)
    assert d2.instance.state is S.OPEN and d2.instance.jid == "5511@s.whatsapp.net"
    assert lc.Announce("open", 200) in announced(d2)


# --- boot -------------------------------------------------------------------------------------


def test_boot_restores_instances_that_were_up_and_have_credentials() -> None:
    d = lc.decide(lc.Instance(has_credentials=True), lc.Boot("open", True), POLICY)
    assert d.instance.state is S.CONNECTING
    assert d.effects == (
        lc.Persist((lc.Announce("connecting", 200),)),
        lc.CancelTimers(),
        lc.StartSession(1, None),
    )
    quiet = lc.decide(lc.Instance(has_credentials=True), lc.Boot("connecting", True), POLICY)
    assert announced(quiet) == []


def test_a_staggered_boot_waits_as_reconnecting_and_says_so_at_once() -> None:
    d = lc.decide(lc.Instance(has_credentials=True), lc.Boot("open", True, 0.4), POLICY)
    assert d.instance.state is S.RECONNECTING and d.instance.epoch == 0
    assert d.effects == (
        lc.Persist((lc.Announce("connecting", 200),)),
        lc.ScheduleReconnect(0, 0, after=0.4),
    )
    started = lc.decide(d.instance, lc.ReconnectDue(0), POLICY)
    assert started.instance.state is S.CONNECTING and started.instance.failures == 0
    # A logout during the stagger wins: the timer is cancelled, nothing reconnects.
    out = lc.decide(d.instance, lc.Logout(), POLICY)
    assert out.effects[0] == lc.CancelTimers() and out.instance.state is S.LOGGED_OUT
    assert lc.decide(out.instance, lc.ReconnectDue(0), POLICY).dropped


@pytest.mark.parametrize("persisted", ["open", "connecting"])
def test_boot_reconciles_instances_without_credentials_to_close(persisted: str) -> None:
    d = lc.decide(lc.Instance(), lc.Boot(persisted, False), POLICY)
    assert d.instance.state is S.IDLE and d.reply == "reconciled"
    assert d.effects == (lc.Persist((lc.Announce("close", d.instance.reason),)),)


def test_boot_of_a_closed_instance_does_nothing() -> None:
    d = lc.decide(lc.Instance(has_credentials=True), lc.Boot("close", True), POLICY)
    assert d.effects == () and d.instance.state is S.IDLE


@pytest.mark.parametrize("state", list(S))
def test_restored_never_starts_live(state: S) -> None:
    inst = lc.restored(state.value, 200, None, True)
    assert inst.state not in lc.UP and inst.state is not S.DELETED and inst.epoch == 0
    assert lc.restored("garbage", 200, None, False).state is S.IDLE


# --- the effect rules, over every cell --------------------------------------------------------


@pytest.mark.parametrize(("state", "creds", "column", "expected"), CELLS)
def test_effects_obey_the_house_rules(
    state: S, creds: bool, column: str, expected: object
) -> None:
    inst = representative(state, creds)
    d = lc.decide(inst, _input_for(column, inst), POLICY)
    fx = list(d.effects)
    announces = announced(d)  # each with the write that persists it
    assert len(persists(d)) <= 1
    states = [a.state for a in announces if a.state != "refused"]
    assert len(states) <= 1
    if states:  # announced once, and only when the external state changed
        assert states[0] == lc.EXTERNAL[d.instance.state] != lc.EXTERNAL[inst.state]
    elif d.instance.state is not S.DELETED:
        assert lc.EXTERNAL[d.instance.state] == lc.EXTERNAL[inst.state] or column == "boot"
    starts = [e for e in fx if isinstance(e, lc.StartSession)]
    assert len(starts) <= 1
    if starts:  # a new session always gets a new epoch and leaves the old one stopped
        assert starts[0].epoch == d.instance.epoch > inst.epoch
        if inst.state in lc.LIVE:
            assert fx.index(lc.StopSession(inst.epoch)) < fx.index(starts[0])
    if d.instance.state in lc.LIVE and inst.state in lc.LIVE:
        assert d.instance.epoch == inst.epoch or starts
