"""A sliding-window limit per tenant in Redis: never more than N requests in any window.

Why not the Bitrix24 leaky bucket (connector.bitrix.ratelimit): a bucket of capacity C
draining r per second lets C + r requests through in one second after a quiet spell, so a
"7 per second" ceiling (amoCRM, §5 of the research notes) would need C = 1 and r < 7,
which spaces every request evenly and still says nothing exact about a rolling second.
amoCRM's rule is stated as a count per second, and breaking it leads to 429 and then an
account-wide 403 ban, so the limit here is that rule itself: a sorted set per tenant
holding the admission times of the last window; a request is admitted only while fewer
than `limit` are inside `window_s`, atomically in one Lua script, on Redis's clock (every
process on every host agrees). Admission times of any `limit + 1` requests therefore span
more than `window_s`.

The window is made a little longer than a second (WINDOW margin) and the count a little
lower than amoCRM's 7, so scheduling jitter between our admission and the request's
arrival at amoCRM cannot make two requests admitted 1.0 s apart land within one second.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis

# KEYS[1] window set; ARGV: limit, window in microseconds, member.
# Returns 0 when admitted, else the microseconds until the oldest admission leaves.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
"""


@dataclass(frozen=True)
class Window:
    """At most `limit` requests in any `window_s` seconds."""

    limit: int
    window_s: float = 1.0


# amoCRM: "not more than 7 requests per second" — 6 per 1.1 s keeps a margin for jitter.
AMOCRM = Window(limit=6, window_s=1.1)


class SlidingWindow:
    """Blocks the caller until the tenant's window has room for one more request."""

    def __init__(self, redis: Redis, prefix: str = "cc", name: str = "window"):
        self.redis = redis
        self.prefix = prefix
        self.name = name
        self._script = redis.register_script(_ADMIT)

    def key(self, tenant: str) -> str:
        return f"{self.prefix}:{self.name}:{tenant}"

    def try_acquire(self, tenant: str, plan: Window = AMOCRM) -> float:
        """Take a slot now (0.0) or say how many seconds until one may be free."""
        wait_us = int(self._script(keys=[self.key(tenant)],
                                   args=[plan.limit, int(plan.window_s * 1_000_000),
                                         uuid.uuid4().hex]))
        return wait_us / 1_000_000

    def acquire(self, tenant: str, plan: Window = AMOCRM, max_wait: float = 120.0) -> float:
        """Wait for a slot; returns the seconds waited. Raises TimeoutError past max_wait."""
        return wait_for_slot(lambda: self.try_acquire(tenant, plan), f"rate window of {tenant}",
                             max_wait)

    def reset(self, tenant: str) -> None:
        self.redis.delete(self.key(tenant))


def wait_for_slot(try_acquire: Callable[[], float], what: str, max_wait: float) -> float:
    """Sleep as long as `try_acquire` says until it takes a slot; the seconds waited.
    TimeoutError past max_wait. Shared by every limiter (Bitrix24's bucket, this window)."""
    waited = 0.0
    while True:
        wait = try_acquire()
        if wait <= 0:
            return waited
        if waited + wait > max_wait:
            raise TimeoutError(f"{what} busy for {waited:.1f}s")
        time.sleep(wait)
        waited += wait
