"""Reconnect backoff as a pure function of the attempt number."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: initial, 2x initial, 4x … up to `maximum`."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect number `attempt` (1-based)."""
        base = float(min(self.initial * (2 ** max(0, attempt - 1)), self.maximum))
        if not self.jitter:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return float(max(0.0, min(self.maximum, base * (1.0 + spread))))
