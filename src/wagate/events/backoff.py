"""Evolution's webhook retry policy (WEBHOOK_RETRY_*), pure: how long to wait, when to stop."""

from __future__ import annotations

import random
from dataclasses import dataclass

NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays in seconds; `max_attempts` counts every attempt, the first included."""

    max_attempts: int = 10
    initial: float = 5.0
    exponential: bool = True
    max_delay: float = 300.0
    jitter: float = 0.2
    non_retryable: frozenset[int] = NON_RETRYABLE

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt number `attempt` (1-based): capped, jittered, floored."""
        base = self.initial
        if self.exponential:
            base = min(self.initial * 2 ** max(attempt - 1, 0), self.max_delay)
        jittered = base * (1 + rng.uniform(-self.jitter, self.jitter))
        return max(self.initial, min(jittered, self.max_delay))

    def retryable(self, code: int | None) -> bool:
        """A failure with this HTTP status (None: no answer) may be tried again."""
        return code is None or code not in self.non_retryable

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
