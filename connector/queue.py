"""Queues, the retry policy, deterministic job ids and the one enqueue function.

Job ids come from the business key (an event's object id and timestamp, a robot's event
token), and a SET NX marker makes the enqueue itself idempotent: a duplicated delivery is
answered 200 but never becomes a second job. Permanent errors skip the retries and land in
the failed registry, which is our dead-letter list.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from connector.errors import Permanent

log = logging.getLogger(__name__)

INBOUND = "inbound"
MAINTENANCE = "maintenance"
FILES = "files"  # long file transfers, so they never hold up events and robots
QUEUE_NAMES = (INBOUND, MAINTENANCE, FILES)
DEDUP_TTL_S = 3 * 24 * 3600
JOB_TIMEOUT_S = 600
FILE_JOB_TIMEOUT_S = 6 * 3600  # a multi-GB copy on a slow link
FAILED_TTL_S = 30 * 24 * 3600


def job_id(kind: str, member_id: str, *parts: Any) -> str:
    """A stable id for one piece of business: same inputs, same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"{kind}-{member_id[:32]}-{digest}"


def stop_retrying_permanent(job: Job, connection: Redis, exc_type: type, exc: BaseException,
                            tb: Any) -> None:
    """RQ failure callback: a Permanent error goes to the failed registry without retries."""
    if isinstance(exc, Permanent):
        job.retries_left = 0
        log.warning("job %s failed permanently: %s", job.id, exc)


@dataclass
class Enqueued:
    job_id: str
    created: bool


class Queues:
    """The app's RQ queues with JSON-serialised, JSON-able arguments only."""

    def __init__(self, redis: Redis, prefix: str = "cc",
                 retry_intervals: Sequence[int] = (10, 60, 300, 1800)):
        self.redis = redis
        self.prefix = prefix
        self.retry_intervals = list(retry_intervals)
        self.queues = {name: Queue(f"{prefix}-{name}", connection=redis,
                                   serializer=JSONSerializer) for name in QUEUE_NAMES}

    def __getitem__(self, name: str) -> Queue:
        return self.queues[name]

    @property
    def names(self) -> list[str]:
        return [q.name for q in self.queues.values()]

    def dedup_key(self, jid: str) -> str:
        return f"{self.prefix}:dedup:{jid}"

    def enqueue(self, func: str, args: list[Any], key: str, queue: str = INBOUND,
                member_id: str = "", retry: bool = True, at_front: bool = False,
                until_started: bool = False) -> Enqueued:
        """Queue `func(*args)` once per business key; later calls with the same key do nothing.

        until_started=True merges duplicates only while the job waits: once it starts (and
        re-reads the CRM), a new delivery of the same key is new work. That is right for
        CRM events, whose payload is just an id and a one-second timestamp, so two real
        changes within a second look the same as one delivery sent twice.
        """
        jid = f"{key}-{secrets.token_hex(4)}" if until_started else key
        if not self.redis.set(self.dedup_key(key), jid, nx=True, ex=DEDUP_TTL_S):
            return Enqueued(key, False)
        intervals = self.retry_intervals
        with self.redis.pipeline() as pipe:  # job hash, status and queue push: one round trip
            self.queues[queue].enqueue_call(
                func, args=args, job_id=jid,
                timeout=FILE_JOB_TIMEOUT_S if queue == FILES else JOB_TIMEOUT_S,
                failure_ttl=FAILED_TTL_S,
                result_ttl=3600, at_front=at_front,
                retry=Retry(max=len(intervals), interval=intervals) if retry and intervals
                else None,
                on_failure=Callback(stop_retrying_permanent),
                meta={"member_id": member_id, "dedup": key if until_started else ""},
                pipeline=pipe,
            )
            pipe.execute()
        return Enqueued(jid, True)

    def forget(self, key: str) -> None:
        self.redis.delete(self.dedup_key(key))

    def started(self, job: Job) -> None:
        """A job that merges duplicates only while waiting has started: release its key."""
        key = (job.meta or {}).get("dedup")
        if key and self.redis.get(self.dedup_key(key)) == job.id.encode():
            self.redis.delete(self.dedup_key(key))

    # dead letters -----------------------------------------------------------------------
    def failed(self) -> list[Job]:
        jobs: list[Job] = []
        for q in self.queues.values():
            registry = FailedJobRegistry(queue=q)
            ids = registry.get_job_ids()
            jobs.extend(j for j in Job.fetch_many(ids, connection=self.redis,
                                                  serializer=JSONSerializer) if j)
        return jobs

    def failed_count(self) -> int:
        """Dead letters on all queues, from the registries' sizes (no job is loaded)."""
        return sum(FailedJobRegistry(queue=q).count for q in self.queues.values())

    def requeue_failed(self, jid: str | None = None) -> list[str]:
        """Put one failed job (or all of them) back on its queue; returns the ids moved."""
        moved: list[str] = []
        for q in self.queues.values():
            registry = FailedJobRegistry(queue=q)
            for candidate in registry.get_job_ids():
                if jid is None or candidate == jid:
                    registry.requeue(candidate)
                    moved.append(candidate)
        return moved

    def purge_portal(self, member_id: str, batch: int = 1000) -> int:
        """Drop a portal's waiting and scheduled jobs (uninstall clean-up); returns how many.

        Only an optimisation: a job of an uninstalled portal drops itself when it runs. So
        no other portal's job is loaded: ids come from job_id(), which embeds the member id,
        and are matched in slices of each queue and by ZSCAN MATCH on each scheduled
        registry; only those candidates are loaded and checked by their meta. A job with
        another kind of id, or one a worker pops while a slice is read, is left to drop itself.
        """
        marker = f"-{member_id[:32]}-"
        glob = "".join(f"\\{c}" if c in "*?[]\\" else c for c in marker)
        candidates: list[str] = []
        for q in self.queues.values():
            offset = 0
            while ids := q.get_job_ids(offset, batch):
                candidates.extend(i for i in ids if marker in i)
                offset += len(ids)
            scheduled = ScheduledJobRegistry(queue=q).key
            candidates.extend(m.decode() for m, _ in self.redis.zscan_iter(
                scheduled, match=f"*{glob}*", count=batch))
        candidates = list(dict.fromkeys(candidates))
        removed = 0
        for start in range(0, len(candidates), batch):
            jobs = Job.fetch_many(candidates[start:start + batch], connection=self.redis,
                                  serializer=JSONSerializer)
            with self.redis.pipeline() as pipe:
                for job in jobs:
                    if job and (job.meta or {}).get("member_id") == member_id:
                        job.delete(pipeline=pipe)
                        removed += 1
                pipe.execute()
        return removed

    def depth(self) -> dict[str, int]:
        return {q.name: q.count for q in self.queues.values()}
