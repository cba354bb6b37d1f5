"""whatsmeow signals to close codes, without the Go library."""

from __future__ import annotations

import pytest

from wagate.domain.close import Cause
from wagate.engines.neonize import translate as t


def test_connect_failure_code_comes_from_the_raw_node_first() -> None:
    assert t.failure_code(1, [("location", "frc"), ("reason", 415)]) == 415
    assert t.failure_code(1, [("reason", " 418 ")]) == 418
    assert t.failure_code(3, [("reason", None)]) == 402  # the renumbered enum
    assert t.failure_code(99, []) == 500


@pytest.mark.parametrize(("reason", "code"), [(2, 401), (4, 403), (5, 406), (1, 401), (8, 401)])
def test_logged_out_codes(reason: int, code: int) -> None:
    assert t.logged_out_code(reason) == code


def test_login_status() -> None:
    assert t.login_status("success") is None
    assert t.login_status("timeout") == (408, "the QR code expired before a phone scanned it")
    assert t.login_status("err-client-outdated")[0] == 405  # type: ignore[index]
    assert t.login_status("err-unexpected-state") == (500, "pairing failed (err-unexpected-state)")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("failed to dial whatsapp web websocket: … proxyconnect tcp: connection refused", 428),
        ("failed to dial whatsapp web websocket: lookup web.whatsapp.com: no such host", 428),
        ("failed to dial whatsapp web websocket: context deadline exceeded", 428),
        ("pq: SSL is not enabled on the server (sslmode)", 500),
        ("failed to upgrade database: disk I/O error", 500),
        ("something else entirely", 500),
    ],
)
def test_connect_errors_never_look_like_an_expired_qr(message: str, code: int) -> None:
    got, detail, cause = t.connect_error(message)
    assert got == code and message in detail
    assert (cause is Cause.NO_ROUTE) == (code == 428)


def test_error_kinds() -> None:
    assert t.error_kind("error sending logout request: websocket not connected") == "unavailable"
    assert t.error_kind("client is nil") == "unavailable"
    assert t.error_kind("the store doesn't contain a device JID") == "auth"
    assert t.error_kind("presence 'typing' needs a chat") == "fatal"


def test_exit_reasons_name_the_cause() -> None:
    assert "SIGABRT" in t.exit_reason(-6, [])
    assert "SIGABRT" in t.exit_reason(134, [])
    assert "SIGKILL" in t.exit_reason(-9, [])
    go = t.exit_reason(2, ["goroutine 1", "fatal error: concurrent map writes"])
    assert "Go runtime fatal error" in go and "concurrent map writes" in go
    assert t.exit_reason(0, []) == "engine host exited with status 0"
    assert t.exit_reason(None, []) == "engine host was lost"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("not connected to WhatsApp", "unavailable"),
        ("failed to send usync query: websocket not connected", "unavailable"),
        ("info query timed out", "unavailable"),
        ("failed to get group info: item-not-found", "not_found"),
        ("failed to update group participants: forbidden", "forbidden"),
        ("server returned error 401: not-authorized", "forbidden"),
        ("bad-request: 400", "bad"),
        ("the store doesn't contain a device JID", "auth"),
        ("something odd", "fatal"),
    ],
)
def test_messaging_call_errors_are_classified(message: str, kind: str) -> None:
    assert t.call_error_kind(message) == kind


def test_a_host_close_frame_keeps_its_cause_across_the_wire() -> None:
    """The host process reports a close as a frame; the cause (finer than 428) survives it,
    and a cause this build does not know is dropped rather than trusted."""
    from wagate.engines.base import Closed
    from wagate.engines.neonize.engine import _engine_event
    from wagate.engines.neonize.wire import Frame, decode, encode

    frame = {
        "ev": "closed",
        "code": 428,
        "detail": "connect deadline",
        "cause": Cause.CONNECT_DEADLINE,
    }
    sent, _ = decode(encode(Frame(frame)))
    assert sent is not None and sent.head["cause"] == "connect_deadline"
    assert _engine_event(4, sent.head) == Closed(
        4, 428, "connect deadline", Cause.CONNECT_DEADLINE
    )
    unknown = {**frame, "cause": "something new"}
    assert _engine_event(4, unknown) == Closed(4, 428, "connect deadline", None)
    assert _engine_event(4, {"ev": "closed", "code": 405}) == Closed(4, 405, "", None)
