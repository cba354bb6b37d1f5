"""whatsmeow's signals as wagate's close codes (shared/reference/neonize.md §3.4-3.5).

Pure functions over plain values, so they are tested without loading the Go library. Codes are
Baileys-style, as the lifecycle expects: 401 logged out, 402 temporary ban, 403 main device
gone, 405 client outdated, 406 banned, 408 QR expired, 428 connection closed (no route; always
transient), 440 replaced, 500 anything else.
"""

from __future__ import annotations

from collections.abc import Iterable

# neonize renumbers whatsmeow's ConnectFailureReason 1..10; unknown reasons arrive unset (= 1).
FAILURE_REASONS: dict[int, int] = {
    1: 400,
    2: 401,
    3: 402,
    4: 403,
    5: 406,
    6: 405,
    7: 409,
    8: 500,
    9: 501,
    10: 503,
}
TEMP_BAN_REASONS: dict[int, str] = {
    1: "sent to too many people",
    2: "blocked by users",
    3: "created too many groups",
    4: "sent too many of the same message",
    5: "broadcast list",
}
NO_ROUTE = 428
EXPIRED = 408
STORE_MARKERS = ("sslmode", "database", "sql:", "sqlite", "sqlstore", "upgrade", "pq:", "schema")
NETWORK_MARKERS = (
    "dial",
    "no such host",
    "proxyconnect",
    "connection refused",
    "deadline exceeded",
    "timeout",
    "timed out",
    "websocket",
    "tls",
    "eof",
    "unreachable",
    "connection reset",
)
NOT_CONNECTED_MARKERS = ("websocket not connected", "client is nil", "not connected")
NOT_LOGGED_IN_MARKERS = ("not logged in", "doesn't contain a device jid")


def failure_code(reason: int, attrs: Iterable[tuple[str, int | str | None]]) -> int:
    """A ConnectFailure's real code: the raw node's `reason` attribute, else the enum."""
    for name, value in attrs:
        if name != "reason" or value is None:
            continue
        if isinstance(value, int) and value > 0:
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
    return FAILURE_REASONS.get(reason, 500)


def logged_out_code(reason: int) -> int:
    """LoggedOut's reason as a close code (401, 403 main device gone, 406 banned)."""
    code = FAILURE_REASONS.get(reason, 401)
    return code if code in (401, 403, 406) else 401


def temp_ban_detail(code: int, expire_seconds: int) -> str:
    """A human line for a TemporaryBan event."""
    why = TEMP_BAN_REASONS.get(code, f"reason {code}")
    return f"temporarily banned ({why}); expires in {expire_seconds} s"


def login_status(status: str) -> tuple[int, str] | None:
    """The QR loop's terminal status as (code, detail); None when pairing succeeded."""
    match status:
        case "success" | "code":
            return None
        case "timeout":
            return EXPIRED, "the QR code expired before a phone scanned it"
        case "err-client-outdated":
            return 405, "WhatsApp rejected this client version: upgrade neonize"
        case "err-scanned-without-multidevice":
            return 500, "the phone scanned without multi-device enabled"
    return 500, f"pairing failed ({status})"


def connect_error(message: str) -> tuple[int, str]:
    """A failed connect as (code, detail): no route is 428 (transient in every state)."""
    low = message.lower()
    if any(m in low for m in STORE_MARKERS) and "websocket" not in low:
        return 500, f"session store error: {message}"
    if any(m in low for m in NETWORK_MARKERS):
        return NO_ROUTE, f"no route to WhatsApp: {message}"
    return 500, message


def error_kind(message: str) -> str:
    """How a failed call is classified for the API process: unavailable, auth or fatal."""
    low = message.lower()
    if any(m in low for m in NOT_LOGGED_IN_MARKERS):
        return "auth"
    if any(m in low for m in NOT_CONNECTED_MARKERS) or any(m in low for m in NETWORK_MARKERS):
        return "unavailable"
    return "fatal"


NOT_FOUND_MARKERS = ("item-not-found", "not found", "404", "no such", "doesn't exist")
FORBIDDEN_MARKERS = ("forbidden", "not-authorized", "403", "not an admin", "not allowed")
BAD_MARKERS = ("bad-request", "400", "invalid", "not-acceptable", "406")


def call_error_kind(message: str) -> str:
    """How a failed messaging call is classified: the connection's kinds first, then what
    WhatsApp answered (not_found, forbidden, bad), else fatal."""
    kind = error_kind(message)
    if kind != "fatal":
        return kind
    low = message.lower()
    for kind, markers in (
        ("not_found", NOT_FOUND_MARKERS),
        ("forbidden", FORBIDDEN_MARKERS),
        ("bad", BAD_MARKERS),
    ):
        if any(m in low for m in markers):
            return kind
    return "fatal"


def exit_reason(returncode: int | None, stderr_tail: Iterable[str]) -> str:
    """Why a host process ended, for the instance's status."""
    fatal = next((line for line in stderr_tail if line.startswith("fatal error:")), "")
    if returncode is None:
        what = "was lost"
    elif returncode in (-6, 134):
        what = "aborted (SIGABRT, a Go runtime abort)"
    elif returncode in (-9, 137):
        what = "was killed (SIGKILL)"
    elif returncode < 0:
        what = f"was killed by signal {-returncode}"
    elif returncode == 2 and fatal:
        what = "died of a Go runtime fatal error"
    else:
        what = f"exited with status {returncode}"
    return f"engine host {what}" + (f": {fatal}" if fatal else "")
