"""Periodic tasks without a hot loop: each (tenant, task) is a chain of scheduled slot jobs.

Time is cut into slots of `every` seconds, shifted by a per-(tenant, task) phase so that
portals do not all fire on the same second. A slot's job, when it starts, schedules the
next slot's job and then runs the task; so nothing walks the portals to find what is due.

`ensure(tenant, {task: every or None})` is called on install, on every settings save and by
a safety sweep (`claim_sweep`: one worker per deployment per 10 minutes). It is idempotent:
if the chain exists with that interval it does nothing; otherwise it starts a new chain
under a new generation (a compare-and-set on the job id the caller saw, so two concurrent
callers start one chain, not two). Each job carries (generation, slot) and its id is derived
from them, so two schedulers or two sweeps that schedule the same slot schedule the same
job. The job runs only if its generation is current (not turned off, interval unchanged)
and its slot has not completed; a retry of a failed slot runs again and schedules nothing.
After downtime the overdue slot fires once and the chain resumes from the next future slot:
missed slots are not replayed.

State, one hash per (tenant, task): `{prefix}:periodic:{tenant}:{task}` with every, gen,
next (the scheduled slot), job (its id), since (when job was written: for `WRITING_S` a job
not in RQ yet counts as alive, its writer is enqueueing it) and done (the last completed
slot).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from typing import Any

from redis import Redis

from connector import queue as q
from connector.queue import Queues
from connector.timers import resolve

SWEEP_EVERY_S = 600
WRITING_S = 30  # a job id this fresh may not be enqueued yet: its writer is on the way
ALIVE = ("scheduled", "queued", "started", "deferred")

# KEYS[1] state; ARGV: every, job seen by the caller, job id stem, slot, now
# -> {gen, job} of the new chain, or {0, current job} when someone changed it meanwhile
_START = """
local seen = redis.call('HGET', KEYS[1], 'job') or ''
if seen ~= ARGV[2] then return {0, seen} end
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
local job = ARGV[3] .. '-g' .. gen .. '-s' .. ARGV[4]
redis.call('HSET', KEYS[1], 'every', ARGV[1], 'next', ARGV[4], 'job', job, 'since', ARGV[5])
redis.call('HDEL', KEYS[1], 'done')
return {gen, job}
"""

# KEYS[1] state -> {1, old job} when it was on
_STOP = """
local every = redis.call('HGET', KEYS[1], 'every')
if not every or every == '0' then return {0, ''} end
local old = redis.call('HGET', KEYS[1], 'job') or ''
redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'every', '0', 'job', '')
return {1, old}
"""

# KEYS[1] state; ARGV: gen, slot, next slot, next job, now
# -> -1 stale generation, -2 slot already done, 1 run and schedule the next, 0 run only
_CLAIM = """
local s = redis.call('HMGET', KEYS[1], 'gen', 'done', 'next')
if s[1] ~= ARGV[1] then return -1 end
local slot = tonumber(ARGV[2])
if s[2] and tonumber(s[2]) >= slot then return -2 end
if tonumber(s[3] or '-1') <= slot then
  redis.call('HSET', KEYS[1], 'next', ARGV[3], 'job', ARGV[4], 'since', ARGV[5])
  return 1
end
return 0
"""

# KEYS[1] state; ARGV: gen, slot
_DONE = """
local s = redis.call('HMGET', KEYS[1], 'gen', 'done')
if s[1] == ARGV[1] and (not s[2] or tonumber(s[2]) < tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[1], 'done', ARGV[2])
end
return 0
"""


def state_key(prefix: str, tenant: str, task: str) -> str:
    return f"{prefix}:periodic:{tenant}:{task}"


def phase(tenant: str, task: str, every: int) -> int:
    """A stable offset within the interval, so portals spread over it."""
    digest = hashlib.sha256(f"{tenant}\x1f{task}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(1, every)


def slot_after(now: float, every: int, offset: int) -> int:
    """The first slot that starts strictly after `now`."""
    return math.floor((now - offset) / every) + 1


def slot_time(slot: int, every: int, offset: int) -> float:
    return float(slot * every + offset)


def slot_job_id(tenant: str, task: str, gen: int, slot: int) -> str:
    return f"{q.job_id('periodic', tenant, task)}-g{gen}-s{slot}"


def _scripts(redis: Redis) -> dict[str, Any]:
    return {name: redis.register_script(src) for name, src in
            (("start", _START), ("stop", _STOP), ("claim", _CLAIM), ("done", _DONE))}


def _str(raw: bytes | None) -> str:
    return raw.decode() if raw else ""


def ensure(queues: Queues, tenant: str, tasks: Mapping[str, int | None], func: str,
           now: float | None = None) -> dict[str, str]:
    """Make each task's chain match its interval (None or 0: off). Cheap when nothing changes.

    `func` is the job function path, called as `func(task, tenant)` once per slot, e.g.
    "connector.jobs.run_maintenance". Returns {task: "kept" | "started" | "stopped" | "off"}.
    """
    now = time.time() if now is None else now
    scripts = _scripts(queues.redis)
    outcome: dict[str, str] = {}
    for task, every in tasks.items():
        key = state_key(queues.prefix, tenant, task)
        if not every:
            on, old = scripts["stop"](keys=[key])
            if old:
                queues.unschedule(_str(old))
            outcome[task] = "stopped" if on else "off"
            continue
        every = int(every)
        cur_every, cur_job, since = queues.redis.hmget(key, "every", "job", "since")
        if cur_every and int(cur_every) == every and cur_job and (
                now - float(since or 0) < WRITING_S or queues.status(_str(cur_job)) in ALIVE):
            outcome[task] = "kept"
            continue
        offset = phase(tenant, task, every)
        slot = slot_after(now, every, offset)
        gen, job = scripts["start"](keys=[key], args=[
            every, _str(cur_job), q.job_id("periodic", tenant, task), slot, repr(now)])
        if not int(gen):  # another caller restarted it between our read and our write
            outcome[task] = "kept"
            continue
        queues.enqueue_at("connector.periodic.run_slot",
                          [tenant, task, int(gen), slot, every, func], _str(job),
                          slot_time(slot, every, offset), queue=q.MAINTENANCE, member_id=tenant)
        if cur_job:
            queues.unschedule(_str(cur_job))
        outcome[task] = "started"
    return outcome


def cancel_tenant(queues: Queues, tenant: str, batch: int = 500) -> int:
    """Uninstall: stop every chain of a tenant and delete its state (SCAN of its keys only)."""
    scripts = _scripts(queues.redis)
    stopped = 0
    escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in tenant)
    for raw in queues.redis.scan_iter(match=state_key(queues.prefix, escaped, "*"), count=batch):
        on, old = scripts["stop"](keys=[raw])
        if old:
            queues.unschedule(_str(old))
        stopped += int(on)
        queues.redis.delete(raw)
    return stopped


def run_slot(tenant: str, task: str, gen: int, slot: int, every: int, func: str) -> Any:
    """The RQ job of one slot: schedule the next slot, then run `func(task, tenant)`."""
    from connector.services import worker_services

    queues = worker_services().queues
    return run_slot_with(queues, tenant, task, gen, slot, every, func)


def run_slot_with(queues: Queues, tenant: str, task: str, gen: int, slot: int, every: int,
                  func: str, now: float | None = None) -> Any:
    now = time.time() if now is None else now
    scripts = _scripts(queues.redis)
    key = state_key(queues.prefix, tenant, task)
    offset = phase(tenant, task, every)
    nxt = max(slot + 1, slot_after(now, every, offset))
    nxt_job = slot_job_id(tenant, task, gen, nxt)
    claim = int(scripts["claim"](keys=[key], args=[gen, slot, nxt, nxt_job, repr(now)]))
    if claim == -1:
        return {"skipped": "turned off or rescheduled"}
    if claim == -2:
        return {"skipped": f"slot {slot} already ran"}
    if claim == 1:
        queues.enqueue_at("connector.periodic.run_slot", [tenant, task, gen, nxt, every, func],
                          nxt_job, slot_time(nxt, every, offset), queue=q.MAINTENANCE,
                          member_id=tenant)
    result = resolve(func)(task, tenant)
    scripts["done"](keys=[key], args=[gen, slot])
    return result


def claim_sweep(redis: Redis, prefix: str, every_s: int = SWEEP_EVERY_S,
                now: float | None = None) -> bool:
    """True for exactly one caller per `every_s` slot in the deployment (SET NX of the slot)."""
    now = time.time() if now is None else now
    slot = int(now // every_s)
    return bool(redis.set(f"{prefix}:periodic:sweep:{slot}", "1", nx=True, ex=every_s * 2))
