"""Timers: a job at a time, keyed by a business key, moved or cancelled when the item changes.

A key (tenant, capability, key) has one small Redis hash: a generation, the due time, the
state and the current job id. Every schedule or cancel bumps the generation, and the job
carries the generation it was scheduled with; when it fires, `fire` runs the capability's
function only if that generation is still current. So a job that escapes a move or a cancel
(the scheduler had already taken it) does nothing, and correctness never depends on
removing the old job in time. The job id is the key's id plus its generation: stable for a
given schedule, and never the id of a job that may still be running (a timer that
reschedules itself from inside its own run would otherwise reuse its own id).

The jobs are ordinary RQ jobs on the maintenance queue (Queues.enqueue_at): the same
retries, the same permanent-error callback, the same failed registry. A retry keeps its
generation, so it runs; once the function has returned, the timer is marked fired and any
duplicate of it is dropped. After downtime an overdue timer fires once: RQ's scheduler
moves what is due, however late, in one pass.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from typing import Any

from redis import Redis

from connector import queue as q
from connector.queue import Queues

RETENTION_S = q.FAILED_TTL_S + 24 * 3600  # a key outlives its jobs' dead letters

# KEYS[1] timer hash; ARGV: at, ttl, job id stem, queue -> {gen, old job, old queue}
_SCHEDULE = """
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
local old = redis.call('HMGET', KEYS[1], 'job', 'queue')
redis.call('HSET', KEYS[1], 'job', ARGV[3] .. '-' .. gen, 'at', ARGV[1], 'state', 'pending',
           'queue', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {gen, old[1] or '', old[2] or ''}
"""

# KEYS[1] timer hash -> {was pending (0/1), old job, old queue}
_CANCEL = """
local old = redis.call('HMGET', KEYS[1], 'job', 'queue', 'state')
if not old[3] then return {0, '', ''} end
redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'state', 'cancelled')
redis.call('HDEL', KEYS[1], 'at', 'job')
return {old[3] == 'pending' and 1 or 0, old[1] or '', old[2] or ''}
"""

# KEYS[1] timer hash; ARGV[1] generation -> 1 when it was still current
_FIRED = """
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'fired')
  redis.call('HDEL', KEYS[1], 'at', 'job')
  return 1
end
return 0
"""


def resolve(path: str) -> Callable[..., Any]:
    """'package.module.function' -> the function (job functions are module level)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


class Timers:
    """Schedule, move and cancel one job per business key."""

    def __init__(self, queues: Queues, redis: Redis, prefix: str):
        self.queues = queues
        self.redis = redis
        self.prefix = prefix
        self._schedule = redis.register_script(_SCHEDULE)
        self._cancel = redis.register_script(_CANCEL)
        self._fired = redis.register_script(_FIRED)

    def key(self, tenant: str, capability: str, key: str) -> str:
        return f"{self.prefix}:timer:{tenant}:{capability}:{key}"

    @staticmethod
    def stem(tenant: str, capability: str, key: str) -> str:
        """The key's job id without its generation."""
        return q.job_id("timer", tenant, capability, key)

    def schedule(self, tenant: str, capability: str, key: str, at: float, func: str,
                 args: list[Any], queue: str = q.MAINTENANCE) -> str:
        """Run `func(*args)` at unix time `at`; the same key again moves it. Returns the job id.

        `args` must be JSON-able (they are stored as JSON); a TypeError says so at once,
        not in the worker.
        """
        json.dumps(args)
        ttl = int(max(at - time.time(), 0) + RETENTION_S)
        gen, old, old_queue = self._schedule(
            keys=[self.key(tenant, capability, key)],
            args=[repr(float(at)), ttl, self.stem(tenant, capability, key), queue])
        jid = self.queues.enqueue_at("connector.timers.fire",
                                     [tenant, capability, key, int(gen), func, list(args)],
                                     f"{self.stem(tenant, capability, key)}-{int(gen)}", at,
                                     queue=queue, member_id=tenant)
        if old:
            self.queues.unschedule(old.decode())
        return jid

    def cancel(self, tenant: str, capability: str, key: str) -> bool:
        """Forget the key's timer; True when one was pending."""
        pending, old, _ = self._cancel(keys=[self.key(tenant, capability, key)])
        if old:
            self.queues.unschedule(old.decode())
        return bool(pending)

    def when(self, tenant: str, capability: str, key: str) -> float | None:
        """The pending timer's due time, None when there is none (never set, fired, cancelled)."""
        state, at = self.redis.hmget(self.key(tenant, capability, key), "state", "at")
        return float(at) if state == b"pending" and at else None

    def fire_guard(self, tenant: str, capability: str, key: str, token: int) -> bool:
        """May the job scheduled with generation `token` run? Only if nothing moved it since."""
        gen, state = self.redis.hmget(self.key(tenant, capability, key), "gen", "state")
        return state == b"pending" and gen is not None and int(gen) == int(token)

    def fired(self, tenant: str, capability: str, key: str, token: int) -> bool:
        """Mark the timer done once its function returned (a later duplicate is dropped)."""
        return bool(self._fired(keys=[self.key(tenant, capability, key)], args=[int(token)]))

    def cancel_tenant(self, tenant: str, batch: int = 500) -> int:
        """Uninstall: cancel every timer of a tenant (SCAN of its own keys only)."""
        cancelled = 0
        pattern = self.key(_glob(tenant), "*", "*")
        for raw in self.redis.scan_iter(match=pattern, count=batch):
            _, old, _ = self._cancel(keys=[raw])
            if old:
                self.queues.unschedule(old.decode())
                cancelled += 1
            self.redis.delete(raw)
        return cancelled


def _glob(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def fire(tenant: str, capability: str, key: str, token: int, func: str,
         args: list[Any]) -> Any:
    """The RQ job of every timer: run `func(*args)` unless the timer was moved or cancelled."""
    from connector.services import worker_services

    services = worker_services()
    timers = Timers(services.queues, services.redis, services.settings.queue_prefix)
    if not timers.fire_guard(tenant, capability, key, token):
        return {"skipped": "moved or cancelled"}
    result = resolve(func)(*args)
    timers.fired(tenant, capability, key, token)
    return result
