"""How large a statement the database takes, and whether a row's INSERT fits in it.

MySQL/MariaDB refuse a statement larger than their `max_allowed_packet` (the server drops the
connection and the transaction fails, with every write it carried); wagate's large columns are
LONGTEXT (4 GiB), so that is the bound. PostgreSQL and SQLite have none short of a gigabyte.

One `PayloadBudget` is made per database engine, read once at start-up, and handed to what
writes rows that may be large: the outbox (an event for one destination) and the message store
(a message); the bus and the message pipeline ask the outbox how large an event may be.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import orjson
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_log = structlog.get_logger("wagate.store")
PACKET_MARGIN = 1_024
"""Kept free under max_allowed_packet: the command byte, and rounding."""
FALLBACK_PACKET = 1 << 20
"""max_allowed_packet assumed until the server's was read: the lowest default of MySQL and
MariaDB releases (1 MiB; now 16 MiB on MariaDB, 64 MiB on MySQL 8)."""
_ESCAPED = (b"\\", b"'", b'"', b"\n", b"\r", b"\x00", b"\x1a")


def literal_bytes(value: str | None) -> int:
    """The size of `value` as a MySQL string literal, as the driver writes it into a statement:
    UTF-8 in quotes, a backslash before each quote, backslash, NUL, CR, LF and Ctrl-Z (at most
    twice its size; base64 only gains its quotes).

    The driver sends several rows of an executemany in one INSERT only while it stays under
    1 MB, a larger row alone: so a row whose INSERT fits is never refused for its size."""
    if value is None:
        return 4  # NULL
    data = value.encode("utf-8", "surrogateescape")
    return len(data) + sum(data.count(c) for c in _ESCAPED) + 2


class PayloadBudget:
    """The largest statement the database takes (`packet`, MySQL's max_allowed_packet; None:
    no bound a row could reach), and the size checks made against it."""

    __slots__ = ("packet",)

    def __init__(self, packet: int | None) -> None:
        self.packet = packet

    @classmethod
    def of(cls, engine: AsyncEngine) -> PayloadBudget:
        """The budget for `engine`'s database before `read`: the lowest default on
        MySQL/MariaDB, no limit elsewhere."""
        bounded = engine.dialect.name in ("mysql", "mariadb")
        return cls(FALLBACK_PACKET if bounded else None)

    async def read(self, engine: AsyncEngine) -> None:
        """Read the server's max_allowed_packet (MySQL/MariaDB; start-up). If it cannot be
        read, the value held stays (logged)."""
        if self.packet is None:
            return
        try:
            async with engine.connect() as conn:
                value = (await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one()
        except Exception as exc:
            _log.warning(
                "max_allowed_packet not read; assuming the lowest default",
                packet=self.packet,
                error=repr(exc),
            )
            return
        self.packet = int(value)
        if self.packet < 1_048_576:
            _log.warning(
                "max_allowed_packet is below 1 MiB: the driver's batched inserts may not fit",
                packet=self.packet,
            )

    def room(self, fixed: int) -> int | None:
        """The bytes left for a statement's literals besides `fixed` bytes of the rest of it;
        None: no limit."""
        if self.packet is None:
            return None
        return max(self.packet - PACKET_MARGIN - fixed, 0)

    def fits(
        self, fixed: int, texts: Sequence[str | None] = (), documents: Sequence[object] = ()
    ) -> bool:
        """Whether a statement takes `fixed` bytes besides its `texts` (string literals, None
        as NULL) and its JSON `documents` (written as json.dumps writes them: non-ASCII as
        \\uXXXX, then escaped). Costs nothing without a limit, and little for the usual row:
        no value takes more than 4 bytes per character of its own or of orjson's encoding,
        which answers before the exact (slower) measure is needed."""
        if self.packet is None:
            return True
        room = self.packet - PACKET_MARGIN - fixed
        try:
            quick = sum(4 if t is None else 4 * len(t) + 2 for t in texts) + sum(
                4 * len(orjson.dumps(d)) + 2 for d in documents
            )
        except TypeError:  # what orjson does not write (a huge int): json.dumps decides
            pass
        else:
            if quick <= room:
                return True
        return statement_bytes(0, texts, documents) <= room


def statement_bytes(
    fixed: int, texts: Sequence[str | None] = (), documents: Sequence[object] = ()
) -> int:
    """The exact size of `PayloadBudget.fits`'s statement as the driver writes it."""
    written = sum(map(literal_bytes, texts))
    return fixed + written + sum(literal_bytes(json.dumps(d)) for d in documents)
