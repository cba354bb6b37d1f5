"""whatsmeow's signals as wagate's close codes (shared/reference/neonize.md §3.4-3.5).

Pure functions over plain values, so they are tested without loading the Go library. The codes
are `CloseCode`s (domain/close.py, which also says what each one means for the lifecycle);
a connect that cannot reach WhatsApp is 428 with the cause `no_route` (transient in every
state), never 408.
"""

from __future__ import annotations

from collections.abc import Iterable

from wagate.domain.close import Cause, CloseCode

# neonize renumbers whatsmeow's ConnectFailureReason 1..10; unknown reasons arrive unset (= 1).
FAILURE_REASONS: dict[int, CloseCode] = {
    1: CloseCode.GENERIC,
    2: CloseCode.LOGGED_OUT,
    3: CloseCode.TEMP_BANNED,
    4: CloseCode.FORBIDDEN,
    5: CloseCode.BANNED,
    6: CloseCode.CLIENT_OUTDATED,
    7: CloseCode.BAD_USER_AGENT,
    8: CloseCode.INTERNAL,
    9: CloseCode.EXPERIMENTAL,
    10: CloseCode.UNAVAILABLE,
}
LOGOUT_CODES = (CloseCode.LOGGED_OUT, CloseCode.FORBIDDEN, CloseCode.BANNED)
"""The ConnectFailureReasons whatsmeow's LoggedOut event carries (its IsLoggedOut)."""
TEMP_BAN_REASONS: dict[int, str] = {
    1: "sent to too many people",
    2: "blocked by users",
    3: "created too many groups",
    4: "sent too many of the same message",
    5: "broadcast list",
}
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
    return FAILURE_REASONS.get(reason, CloseCode.INTERNAL)


def logged_out_code(reason: int) -> CloseCode:
    """LoggedOut's reason as a close code (401, 403 main device gone, 406 banned)."""
    code = FAILURE_REASONS.get(reason, CloseCode.LOGGED_OUT)
    return code if code in LOGOUT_CODES else CloseCode.LOGGED_OUT


def temp_ban_detail(code: int, expire_seconds: int) -> str:
    """A human line for a TemporaryBan event."""
    why = TEMP_BAN_REASONS.get(code, f"reason {code}")
    return f"temporarily banned ({why}); expires in {expire_seconds} s"


OUTDATED = "WhatsApp rejected this client version: upgrade neonize"


def login_status(status: str) -> tuple[CloseCode, str] | None:
    """The QR loop's terminal status as (code, detail); None when pairing succeeded."""
    match status:
        case "success" | "code":
            return None
        case "timeout":
            return CloseCode.TIMED_OUT, "the QR code expired before a phone scanned it"
        case "err-client-outdated":
            return CloseCode.CLIENT_OUTDATED, OUTDATED
        case "err-scanned-without-multidevice":
            return CloseCode.INTERNAL, "the phone scanned without multi-device enabled"
    return CloseCode.INTERNAL, f"pairing failed ({status})"


def connect_error(message: str) -> tuple[CloseCode, str, Cause | None]:
    """A failed connect as (code, detail, cause): no route is 428 `no_route` (transient in
    every state)."""
    low = message.lower()
    if any(m in low for m in STORE_MARKERS) and "websocket" not in low:
        return CloseCode.INTERNAL, f"session store error: {message}", None
    if any(m in low for m in NETWORK_MARKERS):
        return Cause.NO_ROUTE.code, f"no route to WhatsApp: {message}", Cause.NO_ROUTE
    return CloseCode.INTERNAL, message, None


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
