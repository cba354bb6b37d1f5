"""Times a client gives (ISO 8601 text, or a number of seconds or milliseconds since the
epoch), read into values the database can hold, or refused with a 400 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

from wagate.domain.errors import BadRequest

MAX_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z, the last second every database's date types hold."""
MAX_MILLIS = MAX_SECONDS * 1000 + 999
SECONDS_BELOW = 100_000_000_000
"""A number below this is seconds (up to the year 5138); at or above it, milliseconds."""
EPOCH = datetime(1970, 1, 1)


def aware_time(text: str, field: str) -> datetime:
    """ISO 8601 text as an aware UTC time (no offset: UTC)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f'{field} "{text}" is not an ISO 8601 time') from None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise BadRequest(
            f'{field} "{text}" is out of range: from 0001-01-01 to 9999-12-31 UTC'
        ) from None


def epoch_seconds(value: str | int | None, field: str) -> int | None:
    """A time as seconds since the epoch: ISO 8601 text, or a number of seconds or
    milliseconds (as JavaScript's Date gives them) from 0 to the end of 9999."""
    if value is None:
        return None
    if isinstance(value, int):
        if not 0 <= value <= MAX_MILLIS:
            raise BadRequest(
                f"{field} is out of range: seconds or milliseconds since 1970, "
                f"from 0 to {MAX_MILLIS}"
            )
        return value // 1000 if value >= SECONDS_BELOW else value
    return int(aware_time(value, field).timestamp())


def lower_bound(text: str, field: str) -> datetime:
    """A `since` time as the naive UTC datetime the store compares, no earlier than 1970
    (nothing wagate keeps is older, and MySQL's DATETIME starts at the year 1000)."""
    return max(aware_time(text, field).replace(tzinfo=None), EPOCH)
