"""Why a session ends: close codes, what each one means for the lifecycle, and finer causes.

Codes are Baileys-style and HTTP-like, as Evolution's `statusReason` carries them; the
connect-failure codes are WhatsApp's own (whatsmeow's `ConnectFailureReason`). Engines report a
code (and, where one code covers several causes, a `Cause`); `classify` is the one place that
says what a code means, as whatsmeow's `PermanentDisconnect` and Home Assistant's
`recoverable` do:

    outcome     codes                                   the lifecycle
    LOGS_OUT    401                                     purge credentials; pair again
    PERMANENT   402 403 405 406 440                     stop until the next connect
    EXPIRED     408 before pairing                      idle until the next connect
    RESTART     515 (the first of a streak)             start again at once
    TRANSIENT   everything else (428, 500, 503 …)       reconnect with backoff, then give up

408 is the one code classified by state: before pairing completes it is an expired QR
(terminal), after it a lost connection (transient).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Outcome(StrEnum):
    """What a close means for the instance."""

    LOGS_OUT = "logs_out"
    """The device was unlinked: its credentials are purged; connecting again shows a QR."""
    PERMANENT = "permanent"
    """Retrying cannot help: stop until a user acts and connects again."""
    EXPIRED = "expired"
    """The QR code expired before a phone scanned it: idle until the next connect."""
    RESTART = "restart"
    """WhatsApp asks for a new connection: start one at once (once per streak of failures)."""
    TRANSIENT = "transient"
    """A lost or failed connection: reconnect with backoff, and give up after too many."""

    @property
    def recoverable(self) -> bool:
        """True when the instance reconnects on its own."""
        return self in (Outcome.RESTART, Outcome.TRANSIENT)


class CloseCode(IntEnum):
    """A close code an engine reports, or an instance's status reason."""

    OK = 200
    """Not closed: the instance is healthy (the status reason while connecting or open)."""
    GENERIC = 400
    """WhatsApp refused the connection without saying why (whatsmeow ConnectFailureGeneric)."""
    LOGGED_OUT = 401
    """The device was unlinked, from the phone or by WhatsApp."""
    TEMP_BANNED = 402
    """The account is temporarily banned; the detail says until when."""
    FORBIDDEN = 403
    """The main device is gone or the account is locked (whatsmeow MainDeviceGone)."""
    CLIENT_OUTDATED = 405
    """WhatsApp rejected this client's version: the engine must be upgraded."""
    BANNED = 406
    """The account is banned (whatsmeow UnknownLogout)."""
    TIMED_OUT = 408
    """Before pairing: the QR code expired unscanned. After it: the connection was lost."""
    BAD_USER_AGENT = 409
    """WhatsApp rejected the client's user agent."""
    MULTIDEVICE_MISMATCH = 411
    """The phone does not match the multi-device protocol the session expects."""
    CONNECTION_CLOSED = 428
    """The connection closed or could not be made (the `Cause` says which, when known)."""
    REPLACED = 440
    """Another client connected with this account's keys and replaced this session."""
    INTERNAL = 500
    """Anything else failed: the engine, its host process, the pairing, or WhatsApp's server."""
    EXPERIMENTAL = 501
    """WhatsApp's `experimental` connect failure (its meaning is unknown)."""
    UNAVAILABLE = 503
    """WhatsApp's service is unavailable for now."""
    RESTART_REQUIRED = 515
    """WhatsApp asks the client to connect again (after pairing, or a server restart)."""

    @classmethod
    def known(cls, code: int) -> CloseCode | None:
        """The member for `code`, or None for a code this table does not name."""
        return cls._value2member_map_.get(code)  # type: ignore[return-value]


class Cause(StrEnum):
    """A cause finer than its close code, where one code covers several: Evolution's wire
    `statusReason` stays the code, the `lifecycle` block names the cause."""

    QR_LIMIT = "qr_limit"
    """The QR code limit was reached before a phone scanned one (428 on the wire)."""
    NO_ROUTE = "no_route"
    """No connection could be made: the network, DNS or a proxy failed (428 on the wire)."""
    CONNECT_DEADLINE = "connect_deadline"
    """A connect or login got no answer from WhatsApp in time (428 on the wire)."""

    @property
    def code(self) -> CloseCode:
        """The wire code this cause is reported as."""
        return CloseCode.CONNECTION_CLOSED


_OUTCOMES: dict[int, Outcome] = {
    CloseCode.LOGGED_OUT: Outcome.LOGS_OUT,
    CloseCode.TEMP_BANNED: Outcome.PERMANENT,
    CloseCode.FORBIDDEN: Outcome.PERMANENT,
    CloseCode.CLIENT_OUTDATED: Outcome.PERMANENT,
    CloseCode.BANNED: Outcome.PERMANENT,
    CloseCode.REPLACED: Outcome.PERMANENT,
    CloseCode.RESTART_REQUIRED: Outcome.RESTART,
}


def classify(code: int, *, paired: bool) -> Outcome:
    """What a close with `code` means; `paired`: the instance has completed pairing (408 is an
    expired QR, and terminal, only before that)."""
    if code == CloseCode.TIMED_OUT:
        return Outcome.TRANSIENT if paired else Outcome.EXPIRED
    return _OUTCOMES.get(code, Outcome.TRANSIENT)


def cause_name(code: int, cause: Cause | None) -> str | None:
    """The `lifecycle` block's `cause`: the finer cause, else the code's name (`logged_out`,
    `client_outdated` …), else `code_<n>` for a code the table does not name; None when healthy."""
    if cause is not None:
        return cause.value
    if code == CloseCode.OK:
        return None
    member = CloseCode.known(code)
    return member.name.lower() if member is not None else f"code_{code}"
