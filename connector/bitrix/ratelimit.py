"""A leaky bucket per portal in Redis, shared by every web and worker process.

Bitrix24 counts requests per portal: the counter drains by `drain` per second and requests
above `capacity` get 503 QUERY_LIMIT_EXCEEDED. We keep our own copy of that counter, a few
requests below the portal's threshold, so the portal never has to refuse us. The clock is
Redis's, so processes on different hosts agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from connector.ratelimit import wait_for_slot

# KEYS[1] bucket; ARGV: drain per second, capacity. Returns wait in microseconds (0 = taken).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local drain = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or 0
local ts = tonumber(state[2]) or now
level = math.max(0, level - (now - ts) * drain)
if level + 1 <= capacity then
  redis.call('HSET', KEYS[1], 'level', tostring(level + 1), 'ts', tostring(now))
  redis.call('EXPIRE', KEYS[1], math.ceil(capacity / drain) + 10)
  return 0
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', tostring(now))
return math.ceil((level + 1 - capacity) / drain * 1000000)
"""


@dataclass(frozen=True)
class Plan:
    """The portal's bucket: standard plans 2/s over 50, Enterprise 5/s over 250."""

    drain: float = 2.0
    threshold: int = 50
    headroom: int = 5

    @property
    def capacity(self) -> int:
        return max(1, self.threshold - self.headroom)


STANDARD = Plan()
ENTERPRISE = Plan(drain=5.0, threshold=250, headroom=10)


def plan_for(license_family: str) -> Plan:
    return ENTERPRISE if license_family.lower().startswith("ent") else STANDARD


class LeakyBucket:
    """Blocks the caller until the portal's shared budget has room for one more request."""

    def __init__(self, redis: Redis, prefix: str = "cc"):
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_ACQUIRE)

    def key(self, member_id: str) -> str:
        return f"{self.prefix}:bucket:{member_id}"

    def try_acquire(self, member_id: str, plan: Plan = STANDARD) -> float:
        """Take one slot now (0.0) or say how many seconds to wait before trying again."""
        wait_us = int(self._script(keys=[self.key(member_id)], args=[plan.drain, plan.capacity]))
        return wait_us / 1_000_000

    def acquire(self, member_id: str, plan: Plan = STANDARD, max_wait: float = 120.0) -> float:
        """Wait for a slot; returns the seconds waited. Raises TimeoutError past max_wait."""
        return wait_for_slot(lambda: self.try_acquire(member_id, plan),
                             f"rate budget of portal {member_id}", max_wait)

    def reset(self, member_id: str) -> None:
        self.redis.delete(self.key(member_id))
