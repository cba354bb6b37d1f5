"""Evolution's retry policy: capped exponential delays with jitter, floored at the initial
delay; the non-retryable statuses; the attempt budget; the env list parser."""

from __future__ import annotations

import random

import pytest

from wagate.config import SettingsError, load_settings, parse_codes
from wagate.events.backoff import NON_RETRYABLE, RetryPolicy
from wagate.events.catalogue import env_flags, event_kebab, event_key


def test_delays_double_up_to_the_cap_without_jitter() -> None:
    p = RetryPolicy(jitter=0.0)
    rng = random.Random(1)
    assert [p.delay(n, rng) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]


def test_jitter_stays_within_its_factor_and_the_bounds() -> None:
    p = RetryPolicy(jitter=0.2)
    rng = random.Random(7)
    for attempt in range(1, 15):
        base = min(5 * 2 ** (attempt - 1), 300)
        seen = [p.delay(attempt, rng) for _ in range(200)]
        assert all(max(5, base * 0.8) <= d <= min(300, base * 1.2) for d in seen)
        assert len(set(seen)) > 1


def test_constant_delay_when_exponential_is_off() -> None:
    p = RetryPolicy(exponential=False, jitter=0.0)
    assert {p.delay(n, random.Random()) for n in range(1, 6)} == {5.0}


def test_non_retryable_codes_and_budget() -> None:
    p = RetryPolicy()
    assert p.non_retryable == NON_RETRYABLE == frozenset({400, 401, 403, 404, 422})
    assert not p.retryable(404) and p.retryable(500) and p.retryable(429)
    assert p.retryable(None)  # no answer at all (refused, timed out)
    assert not p.exhausted(9) and p.exhausted(10)


def test_parse_codes() -> None:
    assert parse_codes("400, 401,,403") == {400, 401, 403}
    with pytest.raises(ValueError):
        parse_codes("400,abc")
    with pytest.raises(ValueError):
        parse_codes("42")


def test_bad_env_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES"):
        load_settings(webhook_non_retryable="4xx", api_key="k" * 20)
    with pytest.raises(SettingsError, match="WEBHOOK_RETRY_JITTER_FACTOR"):
        load_settings(webhook_retry_jitter=2, api_key="k" * 20)


def test_event_names() -> None:
    assert event_key("group-participants.update") == "GROUP_PARTICIPANTS_UPDATE"
    assert event_key("groups.update") == "GROUP_UPDATE"  # delivered, unlike Evolution
    assert event_kebab("connection.update") == "connection-update"
    assert event_kebab("group-participants.update") == "group-participants-update"
    flags = env_flags(
        "WEBHOOK_EVENTS_",
        {
            "WEBHOOK_EVENTS_QRCODE_UPDATED": "true",
            "WEBHOOK_EVENTS_GROUPS_UPDATE": "true",
            "WEBHOOK_EVENTS_CALL": "false",
            "WEBHOOK_EVENTS_NOPE": "true",
        },
    )
    assert flags == {"QRCODE_UPDATED", "GROUP_UPDATE"}
