"""The exception tree of wagate.

    WagateError                      base of everything wagate raises on purpose
    ├── BadRequest                   the caller sent something invalid (HTTP 400)
    ├── Unauthorized                 missing or wrong API key (HTTP 401)
    ├── Forbidden                    the key is valid but may not do this (HTTP 403)
    ├── NotFound                     the instance or resource does not exist (HTTP 404)
    ├── Conflict                     the request clashes with the instance's state (HTTP 409)
    ├── UpstreamFailed               the engine failed a call on a connected instance (HTTP 502)
    ├── StoreUnavailable             the database failed after retries (HTTP 503)
    ├── NotSupported                 the engine has no such call (HTTP 501)
    └── EngineError                  a WhatsApp engine call failed; classified:
        ├── EngineUnavailable        transient: network down, socket closed, timeout
        ├── EngineAuthFailed         credentials rejected: the account must pair again
        └── EngineFatal              permanent: banned, client outdated

Routers map these to Evolution's error envelope in one place (api/errors.py); the lifecycle
maps engine errors to close codes by each class's `code` (domain/close.py says what they mean).
"""

from __future__ import annotations

from wagate.domain.close import Cause, CloseCode


class WagateError(Exception):
    """Base of every error wagate raises on purpose."""

    status = 500

    def __init__(self, *messages: object) -> None:
        super().__init__(*messages)
        self.messages: list[object] = list(messages)


class BadRequest(WagateError):
    """The caller sent something invalid."""

    status = 400


class Unauthorized(WagateError):
    """Missing or wrong API key."""

    status = 401


class Forbidden(WagateError):
    """The key is valid but may not do this."""

    status = 403


class NotFound(WagateError):
    """The instance or resource does not exist."""

    status = 404


class Conflict(WagateError):
    """The request clashes with the instance's current state."""

    status = 409


class StoreUnavailable(WagateError):
    """The database failed even after retries."""

    status = 503


class NotSupported(WagateError):
    """The instance's engine cannot do this (yet)."""

    status = 501


class UpstreamFailed(WagateError):
    """WhatsApp (through the engine) refused or failed a call on a connected instance."""

    status = 502


class EngineError(WagateError):
    """A WhatsApp engine call failed. `code` is the close code it maps to, `cause` the finer
    cause when one code covers several."""

    status = 503
    code: int = CloseCode.INTERNAL
    cause: Cause | None = None


class EngineUnavailable(EngineError):
    """Transient: the network is down, the socket is closed, or the call timed out."""

    code = Cause.NO_ROUTE.code
    cause = Cause.NO_ROUTE


class EngineAuthFailed(EngineError):
    """The credentials were rejected; the account must pair again."""

    code = CloseCode.LOGGED_OUT


class EngineFatal(EngineError):
    """Permanent: banned, client outdated, or similar."""

    code = CloseCode.FORBIDDEN
