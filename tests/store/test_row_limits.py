"""How large a row MySQL/MariaDB takes (an outbox row, a message): the size of its INSERT as the
driver writes it, the server's max_allowed_packet read at start-up; and delivery errors kept
short on every database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncmy.converters import escape_item
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, text
from sqlalchemy.dialects.mysql import asyncmy as mysql_asyncmy
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.store.conftest import fresh_engine
from wagate.store import budget, messages, outbox
from wagate.store.budget import PACKET_MARGIN, PayloadBudget, literal_bytes
from wagate.store.db import make_engine, make_sessionmaker
from wagate.store.models import utcnow
from wagate.store.outbox import PENDING, ROW_BYTES, Delivery, Outbox, Outcome, row_bytes

CHARS = st.text(st.characters(codec="utf-8"), max_size=300)


def delivery(
    payload: str = "{}",
    target: str = "http://127.0.0.1:1/h",
    secret: str | None = None,
    headers: dict[str, str] | None = None,
    name: str = "inst",
) -> Delivery:
    return Delivery(
        "0" * 26, "i" * 36, name, "messages.upsert", "l" * 120, "webhook", "instance", target,
        payload, headers, secret,
    )  # fmt: skip


def _driver_literal(value: object) -> int:
    return len(escape_item(value, "utf8mb4").encode("utf-8", "surrogateescape"))


@given(CHARS)
def test_a_literal_is_as_large_as_the_driver_writes_it(value: str) -> None:
    assert literal_bytes(value) == _driver_literal(value)
    assert literal_bytes(None) == _driver_literal(None)


def test_the_rest_of_a_row_fits_in_its_allowance() -> None:
    """The INSERT of the largest row the other columns allow (a 255-character name of quotes,
    the longest lane and event), as asyncmy writes it, stays within ROW_BYTES."""
    d = delivery(name='"' * 255, payload="", target="", secret="")
    row = outbox._row(d, utcnow())
    compiled = outbox._INSERT.compile(dialect=mysql_asyncmy.dialect(), column_keys=list(row))
    statement = str(compiled)
    prefix = statement[: statement.index("VALUES") + len("VALUES ")]
    assert compiled.positiontup is not None
    values = [row[key] for key in compiled.positiontup]
    written = sum(_driver_literal(v) for v in values) + len(values) + 1  # commas, parentheses
    emptied = sum(literal_bytes(v) for v in ("", None, "", ""))  # target, headers, secret, payload
    assert len(prefix) + written - emptied <= ROW_BYTES


def test_the_rest_of_a_message_row_fits_in_its_allowance() -> None:
    jid = '"' * 128
    key = {"remoteJid": jid, "fromMe": True, "id": jid, "participant": jid,
           "remoteJidAlt": jid, "participantAlt": jid, "addressingMode": "lid"}  # fmt: skip
    row = {"id": "c" * 30, "instance_id": "i" * 36, "key_id": jid, "remote_jid": jid,
           "remote_jid_alt": jid, "from_me": True, "participant": jid, "key": key,
           "push_name": '"' * 255, "message_type": "m" * 64, "message": None,
           "context_info": None, "source": "s" * 16, "message_timestamp": 2**40,
           "status": "DELIVERY_ACK", "created_at": utcnow()}  # fmt: skip
    table = messages._MESSAGES
    compiled = table.insert().compile(dialect=mysql_asyncmy.dialect(), column_keys=list(row))
    statement = str(compiled)
    prefix = statement[: statement.index("VALUES") + len("VALUES ")]
    assert compiled.positiontup is not None
    values = [
        json.dumps(row[k]) if isinstance(table.c[k].type, JSON) else row[k]
        for k in compiled.positiontup
    ]
    written = sum(_driver_literal(v) for v in values) + len(values) + 1
    emptied = 2 * literal_bytes("null")  # message, context_info
    assert len(prefix) + written - emptied <= messages.MESSAGE_ROW_BYTES


JSONS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | CHARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(CHARS, inner, max_size=4),
    max_leaves=12,
)


@given(message=JSONS, context=JSONS, packet=st.integers(9_500, 14_000))
def test_a_message_row_is_measured_as_the_driver_writes_it(
    message: object, context: object, packet: int
) -> None:
    """JSON as SQLAlchemy writes it (json.dumps: non-ASCII as \\uXXXX), escaped; the quick
    answer from orjson's size never says a row fits when it does not."""
    row = {"message": message, "context_info": context}
    exact = sum(_driver_literal(json.dumps(v)) for v in (message, context))
    room = packet - PACKET_MARGIN - messages.MESSAGE_ROW_BYTES
    assert messages.message_fits(row, PayloadBudget(packet)) == (exact <= room)
    assert messages.message_fits(row, PayloadBudget(None))


@settings(max_examples=200)
@given(
    payload=CHARS,
    target=CHARS,
    secret=st.none() | CHARS,
    headers=st.none() | st.dictionaries(CHARS, CHARS, max_size=3),
    packet=st.integers(4_096, 12_000),
)
def test_the_quick_answer_agrees_with_the_exact_size(
    payload: str, target: str, secret: str | None, headers: dict[str, str] | None, packet: int
) -> None:
    d = delivery(payload, target, secret, headers)
    store = Outbox.__new__(Outbox)
    store.budget = PayloadBudget(packet)
    assert store.fits(d) == (row_bytes(d) <= packet - PACKET_MARGIN)


def test_a_row_is_measured_with_its_headers_and_secret() -> None:
    store = Outbox.__new__(Outbox)
    store.budget = PayloadBudget(100_000)
    room = 100_000 - PACKET_MARGIN - ROW_BYTES
    body = "x" * (room - 3 * 2 - 4)  # target "", headers NULL, secret "", the payload's quotes
    assert store.fits(delivery(body, target="", secret=""))
    assert not store.fits(delivery(body + "x", target="", secret=""))
    assert not store.fits(delivery(body[:-1] + '"', target="", secret=""))  # escaped: 2 bytes
    assert not store.fits(delivery(body, target="", secret="", headers={"k": "v"}))
    # '{"k": "v"}' written as '{\"k\": \"v\"}': 16 bytes instead of NULL's 4
    assert row_bytes(delivery(body, target="", secret="", headers={"k": "v"})) == (
        row_bytes(delivery(body, target="", secret="")) + 12
    )
    huge_int: dict[str, Any] = {
        "n": 2**70
    }  # json.dumps writes it, orjson does not: measured exactly
    assert store.fits(delivery("x", headers=huge_int))
    assert not store.fits(delivery(body, target="", secret="", headers=huge_int))
    assert messages.message_fits({"message": huge_int, "context_info": None}, store.budget)
    store.budget.packet = None
    assert store.fits(delivery("x" * 10_000_000)) and store.payload_room is None


async def test_the_limit_is_the_servers(tmp_path: Path, provider: str) -> None:
    """max_allowed_packet on MySQL/MariaDB; none on PostgreSQL and SQLite."""
    async with fresh_engine(provider, tmp_path) as engine:
        limit = PayloadBudget.of(engine)
        await limit.read(engine)
        store = Outbox(make_sessionmaker(engine), limit)
        try:
            if provider != "mysql":
                assert limit.packet is None and store.payload_room is None
                return
            async with engine.connect() as conn:
                packet = (await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one()
            assert limit.packet == packet >= 1 << 20
            assert store.payload_room is not None and 0 < store.payload_room < packet
        finally:
            await store.close()


async def test_an_unreadable_limit_keeps_the_lowest_default() -> None:
    engine = make_engine("mysql+asyncmy://root@127.0.0.1:1/none")  # nothing listens there
    limit = PayloadBudget.of(engine)
    store = Outbox(make_sessionmaker(engine), limit)
    try:
        await limit.read(engine)
        assert limit.packet == budget.FALLBACK_PACKET
        assert store.payload_room is not None and 0 < store.payload_room < limit.packet
    finally:
        await store.close()
        await engine.dispose()


@pytest.fixture
async def engine(tmp_path: Path, provider: str) -> AsyncIterator[AsyncEngine]:
    async with fresh_engine(provider, tmp_path, migrated=True) as e:
        yield e


async def test_a_long_delivery_error_is_kept_short(engine: AsyncEngine) -> None:
    """A sink's error may quote a whole response: more than MySQL's TEXT holds, it would fail
    recording every outcome written with it."""
    store = Outbox(make_sessionmaker(engine), PayloadBudget.of(engine))
    try:
        await store.append([delivery('{"a":1}')])
        (row,) = await store.pending(10)
        await store.record([Outcome(row.seq, PENDING, 1, code=None, error="é" * 100_000)])
        (kept,) = await store.recent(row.instance_id, 10)
        assert kept.last_error == "é" * outbox.ERROR_CHARS and kept.attempts == 1
    finally:
        await store.close()
