"""What an instance's status means to a user: the additive `lifecycle` block.

connectionState, fetchInstances and connection.update carry it next to Evolution's own keys:
the internal state, the reason (Evolution's `statusReason`), the cause (finer than the reason
where one code covers several, domain/close.py), a human message, the action to take, and the
recent transitions. Pure: built from the reducer's instance and the supervisor's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wagate.core import lifecycle as lc
from wagate.domain.close import Cause, CloseCode, cause_name


class Action(StrEnum):
    """What a user should do about the instance's state."""

    NONE = "none"
    """Nothing: the instance is connected or gone."""
    WAIT = "wait"
    """Nothing yet: wagate is connecting or reconnecting on its own."""
    SCAN = "scan"
    """Scan the QR code or enter the pairing code on the phone."""
    CONNECT = "connect"
    """Connect again (nothing will happen until someone does)."""
    CHECK_PHONE = "check_phone"
    """Look at the phone (the account may be banned or used elsewhere), then connect."""
    UPGRADE = "upgrade"
    """Upgrade wagate's WhatsApp engine (WhatsApp rejected this client version), then connect."""
    CHECK_NETWORK = "check_network"
    """Check this machine's DNS, firewall or proxy: WhatsApp cannot be reached from it."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of the internal state (or of its reason), as the status history shows it."""

    at: float
    src: str
    dst: str
    reason: int
    detail: str
    cause: Cause | None = None


STOPPED: dict[int, tuple[str, Action]] = {
    CloseCode.TEMP_BANNED: ("the account is temporarily banned", Action.CHECK_PHONE),
    CloseCode.FORBIDDEN: ("the account is forbidden", Action.CHECK_PHONE),
    CloseCode.CLIENT_OUTDATED: ("WhatsApp rejected this client version", Action.UPGRADE),
    CloseCode.BANNED: ("the account is banned", Action.CHECK_PHONE),
    CloseCode.REPLACED: ("another client replaced this session", Action.CHECK_PHONE),
}
"""Why an instance stopped for good, by permanent close code."""
CAUSES: dict[Cause, str] = {
    Cause.QR_LIMIT: "the QR code limit was reached",
    Cause.NO_ROUTE: "no route to WhatsApp",
    Cause.CONNECT_DEADLINE: "WhatsApp did not answer the connect in time",
}


NO_ROUTE = "no route to WhatsApp"
"""How an engine's detail begins when WhatsApp could not be reached at all."""
OWN_LOGOUT = "logged out"
"""The lifecycle's detail for a logout asked through the API (not the phone unlinking)."""
_ROUTE_CAUSES = (
    (("proxyconnect", "proxy"), "proxy unreachable"),
    (("no such host", "name resolution", "name or service not known", "nodename nor servname",
      "server misbehaving", "lookup "), "DNS lookup failed"),
    (("connection refused",), "connection refused"),
    (("network is unreachable", "no route to host"), "network unreachable"),
    (("i/o timeout", "timed out", "deadline exceeded"), "connection timed out"),
)  # fmt: skip
_UNROUTED = (lc.State.CONNECTING, lc.State.RECONNECTING, lc.State.FAILED, lc.State.IDLE)


def no_route(detail: str | None, cause: Cause | str | None = None) -> str | None:
    """The short cause when WhatsApp could not be reached (the cause is no_route, or the
    engine's detail says so), else None."""
    if not detail or (cause != Cause.NO_ROUTE and NO_ROUTE.lower() not in detail.lower()):
        return None
    low = detail.lower()
    for markers, named in _ROUTE_CAUSES:
        if any(m in low for m in markers):
            return named
    return "WhatsApp's servers did not answer"


def _unrouted(inst: lc.Instance, cause: str) -> str:
    underlying = (
        inst.detail.split(":", 1)[1].strip() if inst.detail.startswith(NO_ROUTE) else inst.detail
    )
    retry = {
        lc.State.RECONNECTING: f" wagate retries with backoff (attempt {inst.failures}).",
        lc.State.FAILED: " wagate stopped retrying; connect again once the network is back.",
    }.get(inst.state, "")
    return f"No route to WhatsApp: {cause} ({underlying}).{retry}"


def explain(inst: lc.Instance) -> tuple[str, Action]:
    """A human message and the action a user should take, for the instance's state."""
    s = lc.State
    route = no_route(inst.detail, inst.cause)
    if route is not None and inst.state in _UNROUTED:
        return _unrouted(inst, route), Action.CHECK_NETWORK
    if inst.state is s.LOGGED_OUT and inst.detail == OWN_LOGOUT:
        return "Logged out; connect again to pair a phone.", Action.CONNECT
    match inst.state:
        case s.IDLE if inst.cause is Cause.QR_LIMIT:
            return "The QR code limit was reached before a phone scanned it.", Action.CONNECT
        case s.IDLE if inst.reason == CloseCode.TIMED_OUT:
            return "The QR code expired before a phone scanned it.", Action.CONNECT
        case s.IDLE:
            return "Not connected.", Action.CONNECT
        case s.CONNECTING:
            return "Connecting to WhatsApp.", Action.WAIT
        case s.AWAITING_PAIRING:
            return (
                "Waiting for a phone to scan the QR code or enter the pairing code.",
                Action.SCAN,
            )
        case s.AWAITING_IDENTITY:
            return "Connected; waiting for WhatsApp to confirm the account.", Action.WAIT
        case s.OPEN:
            return "Connected.", Action.NONE
        case s.RECONNECTING if inst.failures == 0:
            return "Reconnecting after a restart.", Action.WAIT
        case s.RECONNECTING:
            return (
                f"Connection lost ({_why(inst)}); reconnecting with backoff "
                f"(attempt {inst.failures}).",
                Action.WAIT,
            )
        case s.LOGGED_OUT:
            return "Logged out; the device was unlinked.", Action.SCAN
        case s.FAILED if inst.reason in STOPPED:
            what, action = STOPPED[inst.reason]
            return f"Stopped: {what}.", action
        case s.FAILED:
            return f"Stopped after {inst.failures} failed attempts ({_why(inst)}).", Action.CONNECT
        case s.DELETED:
            return "Deleted.", Action.NONE
    return "", Action.NONE  # pragma: no cover


def _why(inst: lc.Instance) -> str:
    return CAUSES[inst.cause] if inst.cause is not None else str(inst.reason)


def lifecycle_view(
    inst: lc.Instance, transitions: Iterable[Transition] | None = None
) -> dict[str, Any]:
    """The additive status block; with `transitions`, the recent history too."""
    message, action = explain(inst)
    view: dict[str, Any] = {
        "state": inst.state.value,
        "reason": int(inst.reason),
        "cause": cause_name(inst.reason, inst.cause),
        "message": message,
        "action": action.value,
        "detail": inst.detail or None,
        "failures": inst.failures,
    }
    if transitions is not None:
        view["transitions"] = [
            {
                "at": t.at,
                "from": t.src,
                "to": t.dst,
                "reason": t.reason,
                "cause": cause_name(t.reason, t.cause),
                "detail": t.detail,
            }
            for t in transitions
        ]
    return view
