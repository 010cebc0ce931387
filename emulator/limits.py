"""The two Bitrix24 REST limits: the per-portal leaky bucket and per-method operating time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class LeakyBucket:
    """Counter +1 per request, drains ``drain`` per second; full bucket rejects (503).

    A rejected request does not add to the counter, as on a real portal.
    """

    counter: float = 0.0
    last: float = 0.0

    def level(self, now: float, drain: float) -> float:
        if self.last:
            self.counter = max(0.0, self.counter - (now - self.last) * drain)
        self.last = now
        return self.counter

    def try_acquire(self, now: float, drain: float, threshold: float) -> bool:
        if self.level(now, drain) >= threshold:
            return False
        self.counter += 1
        return True

    def reset(self) -> None:
        self.counter = 0.0
        self.last = 0.0


@dataclass
class OperatingTime:
    """Seconds spent per method in 10 one-minute buckets (the documented accounting)."""

    buckets: dict[int, float] = field(default_factory=dict)

    def _prune(self, now: float) -> None:
        current = int(now // 60)
        for minute in [m for m in self.buckets if m <= current - 10]:
            del self.buckets[minute]

    def used(self, now: float) -> float:
        self._prune(now)
        return sum(self.buckets.values())

    def add(self, now: float, seconds: float) -> None:
        self._prune(now)
        minute = int(now // 60)
        self.buckets[minute] = self.buckets.get(minute, 0.0) + seconds

    def reset_at(self, now: float) -> int:
        """When the oldest minute still counted falls out of the window."""
        self._prune(now)
        if not self.buckets:
            return int(math.ceil(now))
        return (min(self.buckets) + 10) * 60
