"""Reconnect backoff as a pure function of the attempt number."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: initial, 2x initial, 4x … up to `maximum`.

    Jitter spreads each delay by ±`jitter` (a fraction) so instances that lost the network
    together do not come back in lockstep; a delay never exceeds `maximum`."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect number `attempt` (1-based)."""
        doublings = min(max(0, attempt - 1), 64)  # past the cap already; keeps floats finite
        base = float(min(self.initial * 2.0**doublings, self.maximum))
        if not self.jitter:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return float(max(0.0, min(self.maximum, base * (1.0 + spread))))
