"""The reconnect backoff: 1 s doubling to 60 s by default, jittered, never above the cap."""

from __future__ import annotations

import random

import pytest

from wagate.config import Settings
from wagate.core.reconnect import Backoff


def test_defaults_double_from_one_second_to_sixty() -> None:
    b = Backoff(jitter=0.0)
    assert [b.delay(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_the_settings_defaults_are_the_issue_s() -> None:
    fields = Settings.model_fields
    defaults = {name: fields[name].default for name in fields if name.startswith("reconnect_")}
    assert defaults == {
        "reconnect_initial": 1.0,
        "reconnect_max": 60.0,
        "reconnect_jitter": 0.2,
        "reconnect_max_failures": 10,
    }


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 7, 50, 10_000])
def test_jitter_stays_within_its_band_and_under_the_cap(attempt: int) -> None:
    b = Backoff(initial=1.0, maximum=60.0, jitter=0.2)
    base = min(2.0 ** (attempt - 1) if attempt < 64 else 60.0, 60.0)
    rng = random.Random(attempt)
    delays = [b.delay(attempt, rng) for _ in range(500)]
    assert all(base * 0.8 - 1e-9 <= d <= min(base * 1.2, 60.0) + 1e-9 for d in delays)
    assert len({round(d, 6) for d in delays}) > 100  # actually jittered


def test_configurable() -> None:
    b = Backoff(initial=0.5, maximum=3.0, jitter=0.0)
    assert [b.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_never_a_tight_loop() -> None:
    b = Backoff()
    rng = random.Random(7)
    assert min(b.delay(1, rng) for _ in range(1000)) >= 0.8
