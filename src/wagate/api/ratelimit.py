"""Request rates: token buckets per key and per instance's sends, kept in this process.

A bucket holds up to `burst` tokens and gains `rate` a second; a request takes one, and a
request that finds less than one is refused with the seconds until one is there
(`Retry-After`). Checking costs a dict lookup and a little arithmetic; with no limit set the
guard never calls in here.

Keys are the `apikey` header as sent (a request without one counts against its client
address). Buckets that have refilled are dropped once there are more than MAX_BUCKETS, so
requests with made-up keys cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, MutableMapping
from typing import Any

MAX_BUCKETS = 100_000
SEND_PREFIX = "/message/send"

Scope = MutableMapping[str, Any]


class Buckets:
    """Token buckets by name: `rate` tokens a second, at most `burst` held."""

    __slots__ = ("_buckets", "_clock", "burst", "rate")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}

    def take(self, name: str) -> int | None:
        """Take a token from `name`'s bucket: None when there was one, else the whole
        seconds until there will be (at least 1)."""
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            self._buckets[name] = [self.burst - 1.0, now]
            return None
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return None
        bucket[0] = tokens
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _prune(self, now: float) -> None:
        full = [
            name
            for name, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for name in full:
            del self._buckets[name]
        if len(self._buckets) >= MAX_BUCKETS:  # none refilled: forget the oldest half
            ordered = sorted(self._buckets.items(), key=lambda item: item[1][1])
            for name, _ in ordered[: len(ordered) // 2]:
                del self._buckets[name]


class RateLimits:
    """WAGATE_RATE_LIMIT_PER_KEY and WAGATE_RATE_LIMIT_SENDS_PER_INSTANCE, each off when
    unset; `take` is called once per request by the request guard."""

    __slots__ = ("keys", "sends")

    def __init__(self, keys: Buckets | None, sends: Buckets | None) -> None:
        self.keys = keys
        self.sends = sends

    @classmethod
    def of(cls, settings: Any) -> RateLimits | None:
        per_key = settings.rate_limit_per_key
        per_instance = settings.rate_limit_sends_per_instance
        if not per_key and not per_instance:
            return None
        seconds = settings.rate_limit_burst_seconds
        return cls(
            Buckets(per_key, per_key * seconds) if per_key else None,
            Buckets(per_instance, per_instance * seconds) if per_instance else None,
        )

    def take(self, scope: Scope, client: str) -> tuple[str, int] | None:
        """None when the request may go on, else (why, seconds to wait)."""
        if self.keys is not None:
            key = None
            for name, value in scope["headers"]:
                if name == b"apikey":
                    key = value.decode("latin-1")
                    break
            wait = self.keys.take(("k:" + key) if key is not None else ("c:" + client))
            if wait is not None:
                return (
                    f"More than {_shown(self.keys.rate)} requests a second with this key",
                    wait,
                )
        if self.sends is not None:
            path: str = scope["path"]
            if path.startswith(SEND_PREFIX):
                instance = path.rsplit("/", 1)[-1]
                wait = self.sends.take(instance)
                if wait is not None:
                    return (
                        f"More than {_shown(self.sends.rate)} sends a second "
                        f'from the "{instance}" instance',
                        wait,
                    )
        return None


def _shown(rate: float) -> str:
    return str(int(rate)) if rate == int(rate) else str(rate)
