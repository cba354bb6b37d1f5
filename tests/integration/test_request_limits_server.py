"""The request limits on a real server (uvicorn, httptools): /health keeps answering while
eight clients send 100 MB bodies, and clients that stall in their body or headers are cut at
the configured deadlines. Latency figures are printed; bench/request_limits.py measures them at
length."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.durability import Server
from tests.integration.slowclients import MB, big_bodies, slow_clients

DEADLINE = 1.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = Server(
        tmp_path,
        {
            "WAGATE_BODY_TIMEOUT_SECONDS": str(DEADLINE),
            "WAGATE_HEADER_TIMEOUT_SECONDS": str(DEADLINE),
        },
    )
    await srv.start()
    try:
        yield srv
    finally:
        srv.stop()


async def test_health_answers_while_eight_clients_send_100_mb(server: Server) -> None:
    assert server.proc is not None
    figs = await asyncio.to_thread(big_bodies, server.port, server.key, server.proc.pid, 8, 4.0)
    figs.summary()
    assert figs.health_errors == 0
    assert len(figs.health_ms) >= 20
    assert figs.big_requests >= 8
    assert set(figs.big_answers) <= {"413", "cut"}, figs.big_answers
    assert figs.peak_rss_mb < 400  # every body is refused at its cap, none is held whole
    assert statistics.median(figs.health_ms) < 500  # generous: the figures are the bench's


@pytest.mark.parametrize("kind", ["body", "header"])
async def test_stalled_clients_are_cut_at_the_deadline(server: Server, kind: str) -> None:
    """A body under the cap that stops after 6 bytes is answered 408; half a request line is
    closed. Both at the deadline, not before, and none is held past it."""
    figs = await asyncio.to_thread(
        slow_clients, server.port, server.key, 200, kind, DEADLINE * 10, MB
    )
    assert figs.held_open == 0
    assert len(figs.held_s) == 200
    assert min(figs.held_s) >= DEADLINE * 0.9
    assert figs.statuses == ({"408": 200} if kind == "body" else {"closed": 200})


async def test_a_body_announcing_100_mb_is_refused_at_once(server: Server) -> None:
    figs = await asyncio.to_thread(
        slow_clients, server.port, server.key, 50, "body", DEADLINE * 10
    )
    assert figs.held_open == 0
    assert figs.statuses == {"413": 50}
    assert max(figs.held_s) < DEADLINE
