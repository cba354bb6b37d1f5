"""Close codes in one place: every code's outcome, the causes that share 428, and the
`lifecycle` block's message and action for each (domain/close.py, core/status.py)."""

from __future__ import annotations

import ast
import inspect
from dataclasses import replace
from enum import Enum

import pytest

from wagate.core import lifecycle as lc
from wagate.core.status import Action, explain, lifecycle_view
from wagate.domain.close import Cause, CloseCode, Outcome, cause_name, classify
from wagate.domain.errors import EngineAuthFailed, EngineError, EngineFatal, EngineUnavailable
from wagate.engines.base import Closed, Qr

S = lc.State
OUTCOMES = {
    CloseCode.LOGGED_OUT: Outcome.LOGS_OUT,
    CloseCode.TEMP_BANNED: Outcome.PERMANENT,
    CloseCode.FORBIDDEN: Outcome.PERMANENT,
    CloseCode.CLIENT_OUTDATED: Outcome.PERMANENT,
    CloseCode.BANNED: Outcome.PERMANENT,
    CloseCode.REPLACED: Outcome.PERMANENT,
    CloseCode.RESTART_REQUIRED: Outcome.RESTART,
}


@pytest.mark.parametrize("code", list(CloseCode))
def test_every_code_has_one_outcome_whatever_the_pairing_but_408(code: CloseCode) -> None:
    expected = OUTCOMES.get(code, Outcome.TRANSIENT)
    if code is CloseCode.TIMED_OUT:
        assert classify(code, paired=False) is Outcome.EXPIRED
        assert classify(code, paired=True) is Outcome.TRANSIENT
    else:
        assert classify(code, paired=False) is classify(code, paired=True) is expected


@pytest.mark.parametrize("enum", [CloseCode, Cause, Outcome])
def test_every_member_has_a_one_line_docstring(enum: type[Enum]) -> None:
    cls = ast.parse(inspect.getsource(enum)).body[0]
    assert isinstance(cls, ast.ClassDef)
    body = cls.body
    documented = {
        a.targets[0].id
        for a, doc in zip(body, body[1:], strict=False)
        if isinstance(a, ast.Assign)
        and isinstance(a.targets[0], ast.Name)
        and isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
        and "\n" not in doc.value.value
    }
    assert documented == set(enum.__members__)


def test_codes_the_table_does_not_name_are_transient() -> None:
    for code in (0, 413, 418, 999, 1000):
        assert CloseCode.known(code) is None
        assert classify(code, paired=True) is Outcome.TRANSIENT
        assert cause_name(code, None) == f"code_{code}"


def test_only_restart_and_transient_are_recoverable() -> None:
    assert {o for o in Outcome if o.recoverable} == {Outcome.RESTART, Outcome.TRANSIENT}


def test_causes_share_428_on_the_wire_and_have_names_of_their_own() -> None:
    assert {c.code for c in Cause} == {CloseCode.CONNECTION_CLOSED}
    names = {cause_name(428, c) for c in Cause} | {cause_name(428, None)}
    assert names == {"qr_limit", "no_route", "connect_deadline", "connection_closed"}
    assert cause_name(200, None) is None
    assert cause_name(405, None) == "client_outdated"


def test_engine_errors_carry_their_code_and_cause() -> None:
    assert (EngineError.code, EngineError.cause) == (500, None)
    assert (EngineUnavailable.code, EngineUnavailable.cause) == (428, Cause.NO_ROUTE)
    assert (EngineAuthFailed.code, EngineFatal.code) == (401, 403)


def _open() -> lc.Instance:
    return lc.Instance(state=S.OPEN, epoch=3, jid="1@s.whatsapp.net", has_credentials=True)


def test_405_is_permanent_and_says_to_upgrade() -> None:
    d = lc.decide(_open(), Closed(3, 405, "client outdated"))
    assert d.instance.state is S.FAILED and d.instance.reason == 405
    assert not any(isinstance(e, lc.StartSession | lc.ScheduleReconnect) for e in d.effects)
    assert d.instance.has_credentials  # not a logout: the account stays paired
    view = lifecycle_view(d.instance)
    assert (view["cause"], view["action"]) == ("client_outdated", "upgrade")
    assert view["message"] == "Stopped: WhatsApp rejected this client version."


@pytest.mark.parametrize(
    ("cause", "words", "waiting", "stopped"),
    [
        # no route: the machine's network is what to check, while retrying and after
        (Cause.NO_ROUTE, "No route to WhatsApp", Action.CHECK_NETWORK, Action.CHECK_NETWORK),
        (
            Cause.CONNECT_DEADLINE,
            "did not answer the connect in time",
            Action.WAIT,
            Action.CONNECT,
        ),
        (None, "428", Action.WAIT, Action.CONNECT),
    ],
)
def test_a_transient_428_keeps_its_cause_while_reconnecting_and_after_giving_up(
    cause: Cause | None, words: str, waiting: Action, stopped: Action
) -> None:
    inst = replace(_open(), state=S.CONNECTING)
    d = lc.decide(inst, Closed(3, 428, "x", cause), lc.Policy(max_failures=2))
    assert (d.instance.state, d.instance.reason, d.instance.cause) == (S.RECONNECTING, 428, cause)
    message, action = explain(d.instance)
    assert words in message and action is waiting
    assert not any(isinstance(e, lc.Persist) and e.announce for e in d.effects)  # connecting

    again = lc.decide(replace(d.instance, state=S.CONNECTING), Closed(4, 428, "y", cause),
                      lc.Policy(max_failures=2))  # fmt: skip
    assert again.instance.state is S.FAILED
    message, action = explain(again.instance)
    assert words in message and action is stopped
    assert lc.Persist((lc.Announce("close", 428),)) in again.effects  # the wire code: 428


def test_the_qr_limit_is_its_own_cause_and_a_new_session_clears_it() -> None:
    pairing = lc.Instance(state=S.AWAITING_PAIRING, epoch=2, qr_count=3)
    d = lc.decide(pairing, Qr(2, "2@x"), lc.Policy(qr_limit=3))
    assert (d.instance.state, d.instance.reason, d.instance.cause) == (S.IDLE, 428, Cause.QR_LIMIT)
    assert explain(d.instance) == (
        "The QR code limit was reached before a phone scanned it.",
        Action.CONNECT,
    )
    assert lc.decide(d.instance, lc.Connect()).instance.cause is None


def test_a_restored_close_428_without_a_cause_is_not_called_the_qr_limit() -> None:
    """Boot reconciles an instance without credentials to close/428: nothing about QR codes."""
    inst = lc.decide(lc.Instance(), lc.Boot("open", False)).instance
    assert (inst.reason, inst.cause) == (428, None)
    assert explain(inst) == ("Not connected.", Action.CONNECT)
