"""The lifecycle block the API answers (`lifecycle` in connect, connectionState and
fetchInstances), with the cause put in words where the engine's detail names it.

The supervisor's view says what state the instance is in; when WhatsApp cannot be reached at
all, its generic "connection lost … wait" hides the cause that the engine put in `detail`
("no route to WhatsApp: …"). Here that becomes the message, with the action to take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wagate.core import status
from wagate.domain.close import Cause

if TYPE_CHECKING:
    from wagate.core.supervisor import Supervisor

NO_ROUTE = "no route to WhatsApp"
CHECK_NETWORK = "check_network"
"""The action for a machine that cannot reach WhatsApp: its DNS, firewall or proxy."""
OWN_LOGOUT = "logged out"
"""The lifecycle's detail for a logout asked through the API (not the phone unlinking)."""
_CAUSES = (
    (("proxyconnect", "proxy"), "proxy unreachable"),
    (("no such host", "name resolution", "name or service not known", "nodename nor servname",
      "server misbehaving", "lookup "), "DNS lookup failed"),
    (("connection refused",), "connection refused"),
    (("network is unreachable", "no route to host"), "network unreachable"),
    (("i/o timeout", "timed out", "deadline exceeded"), "connection timed out"),
)  # fmt: skip


def no_route(detail: str | None, cause: str | None = None) -> str | None:
    """The short cause when WhatsApp could not be reached (the lifecycle's cause is no_route,
    or the engine's detail says so), else None."""
    if not detail or (cause != Cause.NO_ROUTE and NO_ROUTE.lower() not in detail.lower()):
        return None
    low = detail.lower()
    for markers, cause in _CAUSES:
        if any(m in low for m in markers):
            return cause
    return "WhatsApp's servers did not answer"


def lifecycle_view(sup: Supervisor, *, history: bool = True) -> dict[str, Any]:
    transitions = sup.stats.transitions if history else None
    return explained(status.lifecycle_view(sup.inst, transitions))


def explained(view: dict[str, Any]) -> dict[str, Any]:
    """The view with the no-route cause and an honest logout message put in words."""
    detail = view.get("detail") or ""
    cause = no_route(detail, view.get("cause"))
    if cause is not None and view.get("state") in ("connecting", "reconnecting", "failed", "idle"):
        underlying = detail.split(":", 1)[1].strip() if detail.startswith(NO_ROUTE) else detail
        retry = {
            "reconnecting": f" wagate retries with backoff (attempt {view.get('failures')}).",
            "failed": " wagate stopped retrying; connect again once the network is back.",
        }.get(str(view.get("state")), "")
        view["message"] = f"No route to WhatsApp: {cause} ({underlying}).{retry}"
        view["action"] = CHECK_NETWORK
    elif view.get("state") == "logged_out" and detail == OWN_LOGOUT:
        view["message"] = "Logged out; connect again to pair a phone."
        view["action"] = "connect"
    return view
