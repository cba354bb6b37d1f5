"""Named sequences of the lifecycle model, replayed step by step.

Each replays, through `LifecycleMachine` (the real supervisor over the sim engine on a virtual
clock, invariants checked after every step), an interleaving that a random run once reported,
so that what was decided about it stays decided: the behaviour, and what the checker accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.property.test_lifecycle_machine import POLICY, LifecycleMachine
from wagate.core import lifecycle as lc
from wagate.domain.close import Cause, CloseCode
from wagate.engines.base import Closed, Qr

QR_INTERVAL = 20.0  # the machine's sim rotates the QR every 20 virtual seconds


@pytest.fixture
def machine() -> Iterator[LifecycleMachine]:
    m = LifecycleMachine()
    m.create(seed=1)
    m.seven_invariants()
    yield m
    m.teardown()


def _pairing_with_qrs(m: LifecycleMachine, shown: int) -> lc.Instance:
    """Connect, and let the phone leave `shown` QR codes unscanned."""
    m.connect(number=None)
    m.seven_invariants()
    m.time_passes(seconds=QR_INTERVAL * (shown - 1) + 5.0)
    m.seven_invariants()
    assert m.sup is not None
    inst = m.sup.inst
    assert (inst.state, inst.qr_count, inst.failures) == (
        lc.State.AWAITING_PAIRING,
        shown,
        0,
    )
    return inst


def _refusals(m: LifecycleMachine) -> list[tuple[str, int]]:
    assert m.sup is not None
    return [
        (e["data"]["state"], e["data"]["statusReason"])
        for e in m.w.events.get(m.sup.instance_id, [])
        if e["event"] == "connection.update"
    ]


def test_515_once_the_qr_limit_is_used_up_restarts_and_is_refused(
    machine: LifecycleMachine,
) -> None:
    """Found by the model (`inv4: transient 515 from awaiting_pairing did not reconnect`).

    Every QR of the limit shown, none scanned, then the server asks for a restart (515). The
    restart happens at once, but the count runs across automatic reconnects (only an
    explicit connect starts a new one), so the new session's first QR is refused: the QR
    limit, a terminal condition, legitimately wins the reconnect. Not a lifecycle bug; the
    checker now accepts exactly this outcome."""
    m = machine
    before = _pairing_with_qrs(m, POLICY.qr_limit)
    starts = len(m.w.starts)

    m.server_closes(code=CloseCode.RESTART_REQUIRED, times=1)
    m.seven_invariants()  # strict: raises on any violation, inv4 included

    assert m.sup is not None
    after = m.sup.inst
    assert [cause for _, _, cause in m.w.starts[starts:]] == [Closed.__name__]  # reconnected
    assert after.epoch == before.epoch + 3  # close retired, restart, refusal retired
    assert (after.state, after.reason, after.cause, after.detail) == (
        lc.State.IDLE,
        428,
        Cause.QR_LIMIT,
        "QR code limit reached",
    )
    assert _refusals(m) == [("connecting", 200), ("refused", 428), ("close", 428)]
    row = m.w.rows[m.sup.instance_id]
    assert (row.connection_status, row.lifecycle_state, row.reason) == ("close", "idle", 428)
    assert m.sup.timer_count() == 0 and m.sup.session is None
    m.time_passes(seconds=300.0)
    m.seven_invariants()
    assert len(m.w.starts) == starts + 1  # stays closed until someone connects again

    m.connect(number=None)  # an explicit connect starts a new count
    m.seven_invariants()
    assert m.sup.inst.state is lc.State.AWAITING_PAIRING and m.sup.inst.qr_count == 1


def test_515_with_a_qr_left_restarts_into_pairing(machine: LifecycleMachine) -> None:
    """One QR short of the limit, the same 515 restarts and the new session shows the last
    QR of the count: still pairing, nothing refused."""
    m = machine
    _pairing_with_qrs(m, POLICY.qr_limit - 1)

    m.server_closes(code=CloseCode.RESTART_REQUIRED, times=1)
    m.seven_invariants()

    assert m.sup is not None
    inst = m.sup.inst
    assert (inst.state, inst.qr_count, inst.failures) == (
        lc.State.AWAITING_PAIRING,
        POLICY.qr_limit,
        1,
    )
    assert ("refused", 428) not in _refusals(m)


def test_the_checker_still_catches_a_515_refused_without_a_restart(
    machine: LifecycleMachine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accepted outcome is precise: a reducer that answered the 515 with the QR limit's
    refusal without starting a session (no reconnect at all) is reported as inv4."""
    real: Callable[..., lc.Decision] = lc.decide

    def refuses_at_the_close(inst: lc.Instance, event: lc.Input, policy: lc.Policy) -> lc.Decision:
        if isinstance(event, Closed) and event.code == CloseCode.RESTART_REQUIRED:
            return real(inst, Qr(inst.epoch, "2@refused"), policy)
        return real(inst, event, policy)

    m = machine
    m.strict = False
    _pairing_with_qrs(m, POLICY.qr_limit)
    monkeypatch.setattr(lc, "decide", refuses_at_the_close)

    m.server_closes(code=CloseCode.RESTART_REQUIRED, times=1)

    assert m.sup is not None and m.sup.inst.state is lc.State.IDLE
    assert [p.split(":")[0] for p in m.w.problems] == ["inv4", "inv4"]
    assert "515 restarted []" in m.w.problems[0]
    assert "did not reconnect" in m.w.problems[1]
