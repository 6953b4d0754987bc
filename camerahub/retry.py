"""Capped exponential backoff with jitter: the one retry schedule of every loop that waits.

Used by the uploader between attempts and by the recorder between camera sessions. This
module imports nothing of ours, so storage and video (which import nothing else of ours)
may use it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays that double (by `factor`) from initial_s up to max_s, each jittered ±jitter."""

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.25

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        try:
            nominal = min(self.initial_s * self.factor ** (attempt - 1), self.max_s)
        except OverflowError:
            nominal = self.max_s  # a thousand attempts into an outage: long since capped
        # Jitter spreads out many waiters (workers, cameras) that failed at the same moment.
        return nominal * (1 + random.uniform(-self.jitter, self.jitter))

    def delays(self) -> Iterator[float]:
        """The delays before retry 1, 2, 3...: a fresh iterator starts over."""
        return (self.delay(attempt) for attempt in itertools.count(1))
