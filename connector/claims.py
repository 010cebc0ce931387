"""A worker claims the job it takes, so a kill -9 between taking and starting loses nothing.

RQ takes a job from several queues with LPOP/BLPOP: from then until the work-horse marks
it started (after a fork, some milliseconds) the job's id is in no list and no registry.
A worker killed in that window lost the job for good: its hash said "queued" and nothing
would ever run it (bench.watchdogs under load: one reminder in 45 never made). Here the
take is one Lua call that pops the id and writes it, in the same step, as the worker's
claim (`<prefix>:claim:<worker>`); the horse clears the claim once the job is in RQ's
started registry, from where the reaper (connector.queue.Scheduler) already retries the
jobs of dead workers. The reaper also gives the claim of a dead worker back to the front of
its queue when the job is still "queued" (taken, never started).

Redis has no blocking pop that moves from several lists, so an idle worker asks again
after a pause that grows from POLL_MIN_S to POLL_MAX_S: at most ten cheap calls a second
per idle worker, and no pause at all while there is work.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DequeueTimeout
from rq.job import Job

from connector import liveness

POLL_MIN_S = 0.005
POLL_MAX_S = 0.1

# KEYS: queue keys in order, then the claim key -> {queue key, job id} or nil
_TAKE = """
local claim = KEYS[#KEYS]
for i = 1, #KEYS - 1 do
  local id = redis.call('LPOP', KEYS[i])
  if id then
    redis.call('SET', claim, KEYS[i] .. '|' .. id)
    return {KEYS[i], id}
  end
end
redis.call('DEL', claim)
return nil
"""

# KEYS[1] claim, KEYS[2] the claimed job's hash; ARGV[1] the claim's value -> 1 when given back
_GIVE_BACK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
local sep = string.find(ARGV[1], '|', 1, true)
local queue, id = string.sub(ARGV[1], 1, sep - 1), string.sub(ARGV[1], sep + 1)
if redis.call('HGET', KEYS[2], 'status') ~= 'queued' then return 0 end
if redis.call('LPOS', queue, id) then return 0 end
redis.call('LPUSH', queue, id)
return 1
"""

# KEYS[1] claim; ARGV[1] job id: the claim goes once its job has started
_STARTED = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, -#ARGV[1] - 1) == '|' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


def claim_key(prefix: str, worker: str) -> str:
    return f"{prefix}:claim:{worker}"


def _mine() -> str:
    """This process's claim key: set in a worker that beats (and its horses), else ""."""
    me = liveness.whoami()
    return claim_key(*me) if me else ""


def take(connection: Redis, queue_keys: Sequence[str], timeout: float | None
         ) -> tuple[str, str] | None:
    """The first job id of the first non-empty queue, claimed; waits up to `timeout`
    seconds (None: not at all), then DequeueTimeout, as RQ's BLPOP does."""
    key = _mine()
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = POLL_MIN_S
    while True:
        got = connection.eval(_TAKE, len(queue_keys) + 1, *queue_keys, key)
        if got:
            return got[0].decode(), got[1].decode()
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise DequeueTimeout(timeout, queue_keys)
        time.sleep(min(pause, left))
        pause = min(pause * 2, POLL_MAX_S)


def started(connection: Redis, job_id: str) -> None:
    """The job is in the started registry now: the claim has done its part."""
    key = _mine()
    if key:
        connection.eval(_STARTED, 1, key, job_id)


def give_back(connection: Redis, prefix: str, workers: Iterable[str]) -> list[str]:
    """The jobs the dead `workers` had taken but not started, back at the front of their
    queues; returns their ids. A claim whose job started (or is gone) is just dropped."""
    names = sorted(set(workers))
    if not names:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.get(claim_key(prefix, name))
        claims = pipe.execute()
    back = []
    for name, value in zip(names, claims, strict=True):
        if value is None:
            continue
        job_id = value.decode().split("|", 1)[1]
        if connection.eval(_GIVE_BACK, 2, claim_key(prefix, name), Job.key_for(job_id),
                           value):
            back.append(job_id)
    return back


class ClaimingQueue(Queue):
    """RQ's queue whose worker-side take is `take` (when this process is a beating worker;
    plain RQ otherwise, e.g. a SimpleWorker in a test)."""

    @classmethod
    def lpop(cls, queue_keys: Sequence[str], timeout: int | None,
             connection: Redis | None = None) -> Any:
        if connection is None or not _mine():
            return super().lpop(queue_keys, timeout, connection=connection)
        return take(connection, queue_keys, timeout)

    @classmethod
    def lmove(cls, connection: Redis, queue_key: str, timeout: int | None) -> Any:
        if not _mine():
            return super().lmove(connection, queue_key, timeout)
        return take(connection, [queue_key], timeout)
