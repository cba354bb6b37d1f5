"""Request rates (api/ratelimit.py): per key and per instance's sends, 429 in Evolution's
envelope with Retry-After; requests within the limit pass; off when unset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from wagate.api import ratelimit
from wagate.api.ratelimit import Buckets
from wagate.config import SettingsError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    b = Buckets(rate=2.0, burst=4.0, clock=clock)
    assert [b.take("k") for _ in range(4)] == [None] * 4
    assert b.take("k") == 1  # half a second to the next token, shown as whole seconds
    assert b.take("other") is None, "buckets are per name"
    clock.now += 0.5
    assert b.take("k") is None
    assert b.take("k") == 1
    clock.now += 10
    assert [b.take("k") for _ in range(4)] == [None] * 4, "refills up to the burst only"
    assert b.take("k") == 1
    slow = Buckets(rate=0.1, burst=1.0, clock=clock)
    assert slow.take("s") is None and slow.take("s") == 10


def test_made_up_keys_do_not_grow_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_BUCKETS", 100)
    clock = Clock()
    b = Buckets(rate=1.0, burst=1.0, clock=clock)
    for i in range(1000):
        b.take(f"key-{i}")
        clock.now += 0.001
    assert len(b._buckets) <= 100
    clock.now += 5  # all refilled: pruned at once
    b.take("new")
    assert len(b._buckets) <= 2


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, rate_limit_per_key=1000, rate_limit_sends_per_instance=2)
    h, ctx = await start_harness(settings)
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


async def test_sends_per_instance(limited: Harness) -> None:
    h = limited
    await h.create("fast")
    await h.create("calm")
    body = {"number": "5511999990001", "text": "hi"}
    codes = [
        (await h.client.post("/message/sendText/fast", json=body)).status_code for _ in range(2)
    ]
    assert 429 not in codes  # (400: not connected; the limit let them through)
    r = await h.client.post("/message/sendText/fast", json=body)
    assert r.status_code == 429
    assert r.json() == {
        "status": 429,
        "error": "Too Many Requests",
        "response": {"message": ['More than 2 sends a second from the "fast" instance']},
    }
    assert r.headers["retry-after"] == "1"
    assert r.headers["connection"] == "close", "its body was never read"
    # another instance, and the instance's other routes, are not held back
    assert (await h.client.post("/message/sendText/calm", json=body)).status_code != 429
    assert (await h.client.get("/instance/connectionState/fast")).status_code == 200


async def test_per_key(tmp_path: Path) -> None:
    h, ctx = await start_harness(make_settings(tmp_path, rate_limit_per_key=3))
    try:
        created = await h.create("k")
        token = created["hash"]
        # the burst is one second's worth (3) and create took one of the global key's
        codes = [(await h.client.get("/instance/connectionState/k")).status_code for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        r = await h.client.get("/instance/connectionState/k")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "connection" not in r.headers
        assert r.json()["response"]["message"] == ["More than 3 requests a second with this key"]
        # the instance's token has its own bucket; so does a request without a key
        for _ in range(3):
            r = await h.client.get("/instance/connectionState/k", headers={"apikey": token})
            assert r.status_code == 200
        r = await h.client.get("/instance/connectionState/k", headers={"apikey": token})
        assert r.status_code == 429
        r = await h.client.get("/health", headers={"apikey": ""})
        assert r.status_code != 429
    finally:
        await stop_harness(h, ctx)


async def test_off_by_default(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("many")
    for _ in range(200):
        assert (await h.client.get("/instance/connectionState/many")).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_limit_per_key", -1),
        ("rate_limit_sends_per_instance", -0.5),
        ("rate_limit_burst_seconds", 0),
    ],
)
def test_bad_settings_refuse_start_up(tmp_path: Path, field: str, value: float) -> None:
    with pytest.raises(SettingsError, match="WAGATE_RATE_LIMIT_"):
        make_settings(tmp_path, "sqlite", **{field: value})
