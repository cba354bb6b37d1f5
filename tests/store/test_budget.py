"""The payload budget: the statement size MySQL/MariaDB take (max_allowed_packet, read once at
start-up; none on PostgreSQL and SQLite), the room it leaves and whether a row's INSERT fits,
measured as the driver writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asyncmy.converters import escape_item
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tests.store.conftest import fresh_engine
from wagate.store import budget as budget_module
from wagate.store.budget import (
    FALLBACK_PACKET,
    PACKET_MARGIN,
    PayloadBudget,
    literal_bytes,
    statement_bytes,
)
from wagate.store.db import make_engine

CHARS = st.text(st.characters(codec="utf-8"), max_size=200)
JSONS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | CHARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(CHARS, inner, max_size=4),
    max_leaves=10,
)


def _written(value: str | None) -> int:
    """The literal as asyncmy writes it into a statement."""
    return len(escape_item(value, "utf8mb4").encode("utf-8", "surrogateescape"))


def test_without_a_limit_everything_fits() -> None:
    budget = PayloadBudget(None)
    assert budget.room(10**9) is None
    assert budget.fits(10**12, ("x" * 100_000,), ({"n": 2**80},))


def test_the_room_is_the_packet_less_the_margin_and_the_rest_of_the_statement() -> None:
    budget = PayloadBudget(100_000)
    assert budget.room(8_192) == 100_000 - PACKET_MARGIN - 8_192
    assert budget.room(200_000) == 0  # never negative


def test_a_statement_fits_up_to_the_byte() -> None:
    budget = PayloadBudget(10_000)
    room = 10_000 - PACKET_MARGIN - 1_000
    body = "x" * (room - 2)  # its quotes
    assert budget.fits(1_000, (body,))
    assert not budget.fits(1_000, (body + "x",))
    assert not budget.fits(1_000, (body[:-1] + "'",))  # escaped: two bytes
    assert not budget.fits(1_000, (body, None))  # NULL: four bytes
    assert not budget.fits(1_000, (body,), (None,))  # JSON null: "null" in quotes
    assert budget.fits(1_000 - 6, (body,), (None,))


@given(texts=st.lists(st.none() | CHARS, max_size=3), documents=st.lists(JSONS, max_size=2))
def test_the_statement_is_measured_as_the_driver_writes_it(
    texts: list[str | None], documents: list[object]
) -> None:
    exact = sum(map(_written, texts)) + sum(_written(json.dumps(d)) for d in documents)
    assert statement_bytes(100, texts, documents) == 100 + exact
    assert all(literal_bytes(t) == _written(t) for t in texts)


@given(
    texts=st.lists(st.none() | CHARS, max_size=3),
    documents=st.lists(JSONS, max_size=2),
    packet=st.integers(PACKET_MARGIN, PACKET_MARGIN + 3_000),
)
def test_the_quick_answer_never_differs_from_the_exact_one(
    texts: list[str | None], documents: list[object], packet: int
) -> None:
    """orjson's size answers the usual row; a huge int (orjson refuses it) or a row near the
    limit is measured exactly: either way the answer is the exact size's."""
    exact = statement_bytes(0, texts, documents)
    assert PayloadBudget(packet).fits(0, texts, documents) == (exact <= packet - PACKET_MARGIN)


async def test_an_engine_starts_with_the_lowest_default_only_on_mysql(tmp_path: Path) -> None:
    for url, packet in (
        ("mysql+asyncmy://root@127.0.0.1:1/none", FALLBACK_PACKET),
        ("postgresql+asyncpg://127.0.0.1:1/none", None),
        (f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", None),
    ):
        engine = make_engine(url)
        try:
            assert PayloadBudget.of(engine).packet == packet, url
        finally:
            await engine.dispose()


async def test_the_servers_limit_is_read(tmp_path: Path, provider: str) -> None:
    async with fresh_engine(provider, tmp_path) as engine:
        budget = PayloadBudget.of(engine)
        await budget.read(engine)
        if provider != "mysql":
            assert budget.packet is None  # nothing to read, nothing asked
            return
        async with engine.connect() as conn:
            packet = (await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one()
        assert budget.packet == packet >= 1 << 20


async def test_an_unreadable_limit_keeps_the_lowest_default_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs: list[dict[str, object]] = []

    class Recorder:
        """Stands in for the module's logger: the level filter of whatever logging an earlier
        test configured must not decide what this test sees."""

        def warning(self, event: str, **fields: object) -> None:
            logs.append({"event": event, "log_level": "warning", **fields})

    monkeypatch.setattr(budget_module, "_log", Recorder())
    engine = make_engine("mysql+asyncmy://root@127.0.0.1:1/none")  # nothing listens there
    try:
        budget = PayloadBudget.of(engine)
        await budget.read(engine)
        assert budget.packet == FALLBACK_PACKET
        (line,) = logs
        assert line["log_level"] == "warning" and line["packet"] == FALLBACK_PACKET
        assert "max_allowed_packet not read" in str(line["event"])
    finally:
        await engine.dispose()
