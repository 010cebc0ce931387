"""Queues, the retry policy, deterministic job ids and the one enqueue function.

Job ids come from the business key (an event's object id and timestamp, a robot's event
token), and a SET NX marker makes the enqueue itself idempotent: a duplicated delivery is
answered 200 but never becomes a second job. Permanent errors skip the retries and land in
the failed registry, which is our dead-letter list. Deliveries from the web go through the
inbox (connector.inbox, one Lua call) and become jobs in the workers (connector.pump); they
count as waiting on `inbound` from the moment they are accepted.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Callback, Queue, Retry
from rq import Worker as RQWorker
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Dependency, Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import release_lock
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.utils import parse_composite_key, utcformat

from connector import claims, liveness
from connector.errors import Permanent
from connector.inbox import JOB_FUNC, Inbox, Record
from connector.liveness import Liveness

log = logging.getLogger(__name__)

INBOUND = "inbound"
MAINTENANCE = "maintenance"
FILES = "files"  # long file transfers, so they never hold up events and robots
DOCUMENTS = "documents"  # PDF conversions (seconds each): their own worker (decision 32)
# a worker's default queues, in its priority: a document a person waits for before a copy
QUEUE_NAMES = (INBOUND, MAINTENANCE, DOCUMENTS, FILES)
DEDUP_TTL_S = 3 * 24 * 3600
JOB_TIMEOUT_S = 600
FILE_JOB_TIMEOUT_S = 6 * 3600  # a multi-GB copy on a slow link
FAILED_TTL_S = 30 * 24 * 3600
# a finished job (its hash and RQ's result stream) is read only by the deal tab following
# the job its button queued, for a minute or two: kept an hour, a busy deployment held an
# hour of jobs in Redis (~200 MiB per 30 minutes in bench.soak)
RESULT_TTL_S = 600


def job_id(kind: str, member_id: str, *parts: Any) -> str:
    """A stable id for one piece of business: same inputs, same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"{kind}-{member_id[:32]}-{digest}"


def stop_retrying_permanent(job: Job, connection: Redis, exc_type: type, exc: BaseException,
                            tb: Any) -> None:
    """RQ failure callback: a Permanent error goes to the failed registry without retries; a
    failure that says when to try again (`retry_after_s`: a server's Retry-After longer than
    the in-process retries wait) has its next retry wait at least that long.

    (Jobs in Redis name this callback by its path: it keeps its name.)"""
    if isinstance(exc, Permanent):
        job.retries_left = 0
        log.warning("job %s failed permanently: %s", job.id, exc)
        return
    wait = getattr(exc, "retry_after_s", None)
    if wait and job.retries_left and job.retry_intervals:
        intervals = list(job.retry_intervals)
        index = max(len(intervals) - job.retries_left, 0)  # RQ's get_retry_interval
        if intervals[index] < wait:
            intervals[index] = math.ceil(wait)
            job.retry_intervals = intervals


@dataclass
class Enqueued:
    job_id: str
    created: bool


@dataclass(frozen=True)
class JobView:
    """A job as the admin pages show it: RQ's Job stays inside this module."""

    id: str
    func: str
    args: tuple[Any, ...]
    queue: str
    at: float  # when it failed (a dead letter) or was queued
    error: str = ""  # a dead letter's exception, its last line: "module.Class: message"
    scheduled: bool = False  # waits for its time (a retry, a timer, a periodic slot)


def _marker(member_id: str) -> str:
    """What every job id of this portal contains (job_id() embeds the member id)."""
    return f"-{member_id[:32]}-"


def job_view(job: Job) -> JobView:
    result = job.latest_result() if job.is_failed else None
    lines = ((result.exc_string if result else "") or job.exc_info or "").strip().splitlines()
    moment = job.ended_at or job.enqueued_at or job.created_at
    return JobView(job.id, job.func_name, tuple(job.args or ()), job.origin,
                   moment.timestamp() if moment else 0.0, lines[-1] if lines else "",
                   job.is_scheduled)


class Queues:
    """The app's RQ queues with JSON-serialised, JSON-able arguments only."""

    def __init__(self, redis: Redis, prefix: str = "cc",
                 retry_intervals: Sequence[int] = (10, 60, 300, 1800)):
        self.redis = redis
        self.prefix = prefix
        self.retry_intervals = list(retry_intervals)
        self.queues: dict[str, Queue] = {
            name: claims.ClaimingQueue(f"{prefix}-{name}", connection=redis,
                                       serializer=JSONSerializer) for name in QUEUE_NAMES}
        self.inbox = Inbox(redis, prefix)
        # a fan-out's markers only have to outlive the retries of the delivery that made them
        self.fanout_dedup_ttl_s = (sum(self.retry_intervals) + 3600
                                   + (len(self.retry_intervals) + 1) * JOB_TIMEOUT_S)

    def __getitem__(self, name: str) -> Queue:
        """The queue `name`; KeyError naming the queues there are (a Task's or a worker's
        misspelt queue is found at once, not as a job nobody takes)."""
        try:
            return self.queues[name]
        except KeyError:
            raise KeyError(f"unknown queue {name!r}: the queues are "
                           f"{', '.join(QUEUE_NAMES)}") from None

    @property
    def names(self) -> list[str]:
        return [q.name for q in self.queues.values()]

    def dedup_key(self, jid: str) -> str:
        return f"{self.prefix}:dedup:{jid}"

    def enqueue(self, func: str, args: list[Any], key: str, queue: str = INBOUND,
                member_id: str = "", retry: bool = True, at_front: bool = False,
                until_started: bool = False, after: Sequence[str] = (),
                dedup_ttl_s: int = DEDUP_TTL_S) -> Enqueued:
        """Queue `func(*args)` once per business key; later calls with the same key do nothing
        (for `dedup_ttl_s`).

        until_started=True merges duplicates only while the job waits: once it starts (and
        re-reads the CRM), a new delivery of the same key is new work. That is right for
        CRM events, whose payload is just an id and a one-second timestamp, so two real
        changes within a second look the same as one delivery sent twice.

        `after` names jobs (just created, so they exist) this one waits for; it starts when
        they have ended, failed ones included.
        """
        target = self[queue]  # an unknown queue is refused before the key is taken
        jid = f"{key}-{secrets.token_hex(4)}" if until_started else key
        if not self.redis.set(self.dedup_key(key), jid, nx=True, ex=dedup_ttl_s):
            return Enqueued(key, False)
        if after:  # runs once those jobs ended, however they ended, ahead of the queue
            target.enqueue_call(
                func, args=args, job_id=jid,
                timeout=FILE_JOB_TIMEOUT_S if queue == FILES else JOB_TIMEOUT_S,
                depends_on=Dependency(jobs=list(after), allow_failure=True,
                                      enqueue_at_front=True),
                **self._policy(member_id, retry, key if until_started else ""))
            return Enqueued(jid, True)
        with self.redis.pipeline() as pipe:  # job hash, status and queue push: one round trip
            target.enqueue_call(
                func, args=args, job_id=jid, at_front=at_front, pipeline=pipe,
                timeout=FILE_JOB_TIMEOUT_S if queue == FILES else JOB_TIMEOUT_S,
                **self._policy(member_id, retry, key if until_started else ""),
            )
            pipe.execute()
        return Enqueued(jid, True)

    def admit(self, kind: str, name: str, member_id: str, payload: dict[str, Any], key: str,
              until_started: bool = False) -> Enqueued:
        """enqueue() of a delivery on the request path: the same marker and job id, but the
        record goes to the inbox in one Redis call and a worker's pump makes the job."""
        jid = f"{key}-{secrets.token_hex(4)}" if until_started else key
        record = Record(kind, name, member_id, payload, jid, key if until_started else "",
                        time.time())
        if not self.inbox.admit(record, self.dedup_key(key), jid, DEDUP_TTL_S):
            return Enqueued(key, False)
        return Enqueued(jid, True)

    def enqueue_record(self, pipe: Pipeline, record: Record) -> None:
        """Queue an inbox record's job on `pipe` (the pump's transaction), as enqueue() would
        have: same id, policy and merge-while-waiting key."""
        self.queues[INBOUND].enqueue_call(
            JOB_FUNC, args=[record.kind, record.name, record.member_id, record.payload],
            job_id=record.job, pipeline=pipe, timeout=JOB_TIMEOUT_S,
            **self._policy(record.member_id, True, record.dedup))

    @staticmethod
    def job_key(jid: str) -> str:
        return Job.key_for(jid)

    def _policy(self, member_id: str, retry: bool, dedup: str = "") -> dict[str, Any]:
        """What every job gets, queued now or later: retries, the permanent-error callback,
        how long its result and its dead letter are kept, and whose job it is."""
        intervals = self.retry_intervals
        return {
            "failure_ttl": FAILED_TTL_S, "result_ttl": RESULT_TTL_S,
            "retry": Retry(max=len(intervals), interval=intervals) if retry and intervals
            else None,
            "on_failure": Callback(stop_retrying_permanent),
            "meta": {"member_id": member_id, "dedup": dedup},
        }

    # scheduled jobs ---------------------------------------------------------------------
    def enqueue_at(self, func: str, args: list[Any], jid: str, at: float,
                   queue: str = MAINTENANCE, member_id: str = "", retry: bool = True) -> str:
        """Schedule `func(*args)` as job `jid` at unix time `at`, with the usual policy.

        The same id again moves the job (the registry is a sorted set keyed by id). RQ keeps
        whole seconds, so `at` is rounded up: a job never starts before its time.
        """
        when = datetime.fromtimestamp(math.ceil(at), UTC)
        with self.redis.pipeline() as pipe:
            self[queue].enqueue_at(
                when, func, args=args, job_id=jid, pipeline=pipe,
                job_timeout=FILE_JOB_TIMEOUT_S if queue == FILES else JOB_TIMEOUT_S,
                **self._policy(member_id, retry),
            )
            pipe.execute()
        return jid

    def unschedule(self, jid: str) -> bool:
        """Drop a job that has not started (scheduled or waiting); a started one is left alone.

        A job the scheduler moves to its queue while this runs may still start: callers
        guard their jobs (a generation token), so such a straggler does nothing.
        """
        status = self.status(jid)
        if status not in ("scheduled", "queued", "deferred"):
            return False
        try:
            job = Job.fetch(jid, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return False
        job.delete()
        return True

    def status(self, jid: str) -> str | None:
        """The job's RQ status ("scheduled", "queued", "started", ...), None when it is gone."""
        raw = self.redis.hget(Job.key_for(jid), "status")
        return raw.decode() if raw else None

    def scheduled_ids(self, queue: str = MAINTENANCE) -> list[str]:
        """Ids waiting in one queue's scheduled registry (tests and benchmarks)."""
        return list(ScheduledJobRegistry(queue=self[queue]).get_job_ids())

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

    def requeue_among(self, allowed: Sequence[str], wanted: str = "") -> int:
        """Requeue the dead letter `wanted` if it is among `allowed`, or all of `allowed`
        when none is named (an admin page's "requeue" and "requeue all": a page may only
        move its own portal's jobs). How many were moved."""
        chosen = [wanted] if wanted in allowed else ([] if wanted else list(allowed))
        return sum(len(self.requeue_failed(jid)) for jid in chosen)

    def failed_of(self, member_id: str) -> list[JobView]:
        """One portal's dead letters, newest first (the admin's operations page)."""
        marker = _marker(member_id)
        mine: list[JobView] = []
        for q in self.queues.values():  # the ids say whose a job is: only those are loaded
            ids = [i for i in FailedJobRegistry(queue=q).get_job_ids() if marker in i]
            mine += [job_view(j) for j in Job.fetch_many(ids, connection=self.redis,
                                                         serializer=JSONSerializer)
                     if j and (j.meta or {}).get("member_id") == member_id]
        return sorted(mine, key=lambda v: v.at, reverse=True)

    def waiting_of(self, member_id: str) -> list[JobView]:
        """One portal's jobs waiting in a queue or for their retry, and its deliveries in the
        inbox, which are jobs about to be made (admin pages)."""
        inbound = self.queues[INBOUND].name
        return [JobView(r.job, JOB_FUNC, (r.kind, r.name, r.member_id, r.payload), inbound,
                        r.at) for r in self.inbox.records_of(member_id)] + [
            job_view(j) for jobs in self._portal_jobs(member_id) for j in jobs]

    def _portal_jobs(self, member_id: str, batch: int = 1000) -> Iterator[list[Job]]:
        """A portal's waiting and scheduled jobs, a slice at a time.

        No other portal's job is loaded: ids come from job_id(), which embeds the member id,
        and are matched in slices of each queue and by ZSCAN MATCH on each scheduled
        registry; only those candidates are loaded and checked by their meta. A job with
        another kind of id, or one a worker pops while a slice is read, is not seen.
        """
        marker = _marker(member_id)
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
        for start in range(0, len(candidates), batch):
            jobs = Job.fetch_many(candidates[start:start + batch], connection=self.redis,
                                  serializer=JSONSerializer)
            yield [j for j in jobs if j and (j.meta or {}).get("member_id") == member_id]

    def purge_portal(self, member_id: str, batch: int = 1000) -> int:
        """Drop a portal's waiting and scheduled jobs (uninstall clean-up); returns how many.

        Only an optimisation: a job of an uninstalled portal drops itself when it runs, so a
        job _portal_jobs does not see is left to drop itself.
        """
        removed = 0
        for jobs in self._portal_jobs(member_id, batch):
            with self.redis.pipeline() as pipe:
                for job in jobs:
                    job.delete(pipeline=pipe)
                pipe.execute()
            removed += len(jobs)
        return removed

    def depth(self) -> dict[str, int]:
        """Jobs waiting per queue; inbox records count on `inbound`, since each is one."""
        counts = {q.name: q.count for q in self.queues.values()}
        counts[self.queues[INBOUND].name] += self.inbox.waiting()
        return counts

    def scheduler_health(self, now: float | None = None) -> dict[str, Any]:
        """Whether delayed work is moving (/healthz): the queues no worker's scheduler holds,
        (or whose holder stopped refreshing it), and the jobs whose time passed OVERDUE_S
        ago still waiting to be queued (a dead scheduler, every worker down). Two commands a
        queue, no walk."""
        at = time.time() if now is None else now
        without, overdue = [], 0
        for q in self.queues.values():
            # RQ sets the lock's TTL to its interval + 60 s at every pass: less than
            # FRESH_LOCK_MS left means its holder stopped refreshing it (killed, frozen)
            if self.redis.pttl(RQScheduler.get_locking_key(q.name)) < FRESH_LOCK_MS:
                without.append(q.name)
            overdue += int(self.redis.zcount(ScheduledJobRegistry(queue=q).key, 0,
                                             at - OVERDUE_S))
        return {"ok": not without and not overdue, "queues_without_scheduler": without,
                "overdue_jobs": overdue}


REAP_EVERY_S = 2.0  # how often the scheduler looks for jobs of dead workers
OVERDUE_S = 60.0  # a scheduled job this late means nobody is moving the scheduled registry
FRESH_LOCK_MS = 50_000
CLEANING_LOCK_S = 30  # our hold on RQ's registry-cleaning lock (RQ's own holds it 899 s)
RQ_CLEANING_LOCK_S = 899
CLEANING_STUCK_S = 120  # RQ's lock held this long: its holder died in its maintenance


def expire_executions(redis: Redis, by_registry: dict[str, list[str]]) -> int:
    """Mark executions (`job:execution` entries of started registries) as expired now, so
    RQ's own StartedJobRegistry.cleanup treats their jobs as abandoned at its next pass:
    the failure callback, a retry by the job's policy, or the failed registry. ZADD XX: an
    execution that ended meanwhile is not brought back. How many were marked."""
    with redis.pipeline(transaction=False) as pipe:
        for key, entries in by_registry.items():
            if entries:
                pipe.zadd(key, dict.fromkeys(entries, 0), xx=True, ch=True)
        return sum(pipe.execute())


def dead_workers_executions(redis: Redis, prefix: str, registry_key: str,
                            now: float | None = None) -> dict[str, list[str]]:
    """The entries of one started registry whose worker is gone (its alive key expired),
    by worker name; entries RQ already counts as expired are left to RQ."""
    at = time.time() if now is None else now
    entries = [e.decode() for e in redis.zrangebyscore(registry_key, at, "+inf")]
    if not entries:
        return {}
    with redis.pipeline(transaction=False) as pipe:
        for entry in entries:
            job, execution = parse_composite_key(entry)
            pipe.hget(Execution(execution, job, redis).key, "worker_name")
        owners = pipe.execute()
    by_worker: dict[str, list[str]] = {}
    for entry, owner in zip(entries, owners, strict=True):
        if owner:
            by_worker.setdefault(owner.decode(), []).append(entry)
    dead = liveness.gone(redis, prefix, by_worker)
    return {name: held for name, held in by_worker.items() if name in dead}


class Worker(RQWorker):
    """RQ's worker with an alive key (connector.liveness) and a work-horse that dies with it.

    So a worker killed with -9 is known dead within seconds and the scheduler's reaper
    retries its jobs, and no orphaned horse finishes a job that already runs elsewhere.
    A worker started under the name of such a dead one takes the name over at once, where
    RQ alone refuses it until the old heartbeat expires (about 70 s).
    """

    def __init__(self, *args: Any, liveness: Liveness | None = None, **kwargs: Any) -> None:
        super().__init__(*args, queue_class=claims.ClaimingQueue, **kwargs)
        self.liveness = liveness
        self._worker_pid = os.getpid()

    def register_birth(self) -> None:
        if self.liveness is not None:
            self._bury_predecessor(self.liveness.prefix)
        super().register_birth()
        if self.liveness is not None:
            self.liveness.start(self.name)

    def register_death(self) -> None:
        if self.liveness is not None:
            self.liveness.stop()
        super().register_death()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ quits its work loop on any error outside its dequeue, a heartbeat that meets a
        Redis outage included: a heartbeat is best effort (the alive key and the reaper's
        grace cover an outage), so a worker outlives Redis restarting."""
        try:
            super().heartbeat(timeout, pipeline)
        except RedisConnectionError as exc:
            log.warning("worker %s: heartbeat failed (%s); carrying on", self.name, exc)

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        try:
            super().maintain_heartbeats(job, execution)
        except RedisConnectionError as exc:
            log.warning("worker %s: job heartbeat failed (%s); carrying on", self.name, exc)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """A job that ends while Redis is away (its horse could not record how it ended, RQ
        cannot read its status) is handed to the reaper once Redis is back, and the worker
        carries on: RQ alone would quit its work loop."""
        try:
            super().execute_job(job, queue)
        except RedisConnectionError as exc:
            log.warning("worker %s: Redis went away while job %s ran (%s); the job is retried "
                        "once Redis is back", self.name, job.id, exc)
            while True:
                time.sleep(1.0)
                try:
                    held = [m.decode() for m in self.connection.smembers(self.executions_key)]
                    break
                except RedisConnectionError:
                    continue
            mine = [e for e in held if e.startswith(f"{job.id}:")]
            key = StartedJobRegistry(queue.name, connection=self.connection).key
            expire_executions(self.connection, {key: mine})

    def reorder_queues(self, reference_queue: Queue) -> None:
        """Events first, never only events: after an `inbound` job the next take looks at
        `maintenance` first (timers come due there, and delayed retries), after any other
        job the worker's own order again. So a burst of events (a mass import, an offline
        drain) shares the worker with the reminders due meanwhile instead of starving them
        (bench.watchdogs: timers waited behind 5,000 creation events); documents and files
        stay behind both."""
        order = list(self.queues)
        if reference_queue.name.endswith(f"-{INBOUND}"):
            early = [q for q in order if q.name.endswith(f"-{MAINTENANCE}")]
            order = early + [q for q in order if q not in early]
        self._ordered_queues = order

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False
                              ) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        claims.started(self.connection, job.id)  # in the started registry: the reaper's now

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        liveness.die_with_parent(self._worker_pid)
        super().main_work_horse(job, queue)

    def _bury_predecessor(self, prefix: str) -> None:
        """A dead worker of this name left its hash: its jobs are abandoned, it is dead."""
        conn = self.connection
        if not conn.exists(self.key) or conn.hexists(self.key, "death"):
            return
        if self.name not in liveness.gone(conn, prefix, [self.name]):
            return  # alive (RQ refuses the name), or it never beat: RQ decides
        held = [m.decode() for m in conn.smembers(self.executions_key)]
        with conn.pipeline(transaction=False) as pipe:
            for entry in held:
                pipe.hget(Job.key_for(parse_composite_key(entry)[0]), "origin")
            origins = pipe.execute()
        by_registry: dict[str, list[str]] = {}
        for entry, origin in zip(held, origins, strict=True):
            if origin:
                key = StartedJobRegistry(origin.decode(), connection=conn).key
                by_registry.setdefault(key, []).append(entry)
        marked = expire_executions(conn, by_registry)
        marked += len(claims.give_back(conn, prefix, [self.name]))
        conn.hset(self.key, "death", utcformat(datetime.now(UTC)))
        log.warning("worker %s was dead (its alive key expired): took its name over, %d job(s) "
                    "it held are retried", self.name, marked)


class Scheduler:
    """RQ's scheduler (its per-queue lock, its registries) run as a thread of our worker.

    Why not `Worker.work(with_scheduler=True)`: its interval is fixed at 1 s, its scheduler
    is a forked process that outlives a killed worker, and a worker that finds the lock held
    only tries again at its 10-minute maintenance, so after a crash (lock left for 61 s)
    timers would wait up to ten minutes. Here the thread dies with its worker, a worker
    without the lock asks for it on every pass, and a lock whose holder stopped refreshing
    it for `stale_after` seconds is taken over. A takeover that turns out premature costs at
    most one doubled enqueue, which the timers' generation guard turns into a no-op.

    The lock holder also retries abandoned jobs: every REAP_EVERY_S it marks the jobs of
    workers whose alive key expired (connector.liveness: dead for about 10 s) as expired
    and has RQ's own clean-up of the started registry retry them, instead of waiting for
    RQ's execution heartbeat (70 s) or some worker's 10-minute maintenance. After its own
    Redis trouble it judges nobody for one alive-key TTL, so that live workers beat again.
    """

    def __init__(self, queues: Queues, names: Sequence[str] = QUEUE_NAMES,
                 interval: float = 1.0, logging_level: str | int = "INFO"):
        self.queues = queues
        self.interval = max(0.05, float(interval))
        self.stale_after = max(3 * self.interval, 3.0)
        self.rq = RQScheduler([queues[n] for n in names], connection=queues.redis,
                              interval=max(1, math.ceil(self.interval)),  # RQ's TTLs: int s
                              serializer=JSONSerializer, logging_level=logging_level)
        self._lock_ttl = self.rq.interval + 60  # what RQ sets on every refresh
        self._names = {queues[n].name: n for n in names}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reap = 0.0
        self._last_forget = 0.0
        self._trouble_at = -math.inf  # monotonic time of this scheduler's last failed pass

    @property
    def owned(self) -> set[str]:
        return set(self.rq.acquired_locks)

    def _take_over_stale(self) -> None:
        """Delete locks not refreshed for `stale_after` s (Redis' own clock: the key's TTL)."""
        conn = self.rq.connection
        for name in set(self._names) - self.owned:
            key = self.rq.get_locking_key(name)
            holder = conn.get(key)
            if holder is None or holder.decode() == self.rq.name:
                continue
            ttl_ms = conn.pttl(key)
            if ttl_ms >= 0 and self._lock_ttl - ttl_ms / 1000 > self.stale_after \
                    and release_lock(conn, key, holder.decode()):
                log.warning("scheduler lock of %s was not refreshed for %.0f s: taking over",
                            name, self._lock_ttl - ttl_ms / 1000)

    def _reap_abandoned(self) -> None:
        """Retry (or dead-letter) the jobs of dead workers and those RQ counts as abandoned,
        with RQ's own clean-up, under RQ's registry-cleaning lock."""
        conn, prefix = self.queues.redis, self.queues.prefix
        judge = time.monotonic() - self._trouble_at > liveness.ALIVE_TTL_MS / 1000
        for name in self.owned:
            queue = self.queues[self._names[name]]
            # a thread cannot take SIGALRM: RQ's failure callbacks get a timer instead
            registry = StartedJobRegistry(queue=queue, death_penalty_class=TimerDeathPenalty)
            dead = dead_workers_executions(conn, prefix, registry.key) if judge else {}
            if dead:
                marked = expire_executions(conn, {registry.key: sum(dead.values(), [])})
                log.warning("%s: worker(s) %s died (alive key expired): %d job(s) retried",
                            name, ", ".join(sorted(dead)), marked)
            if self._cleaning_lock(queue):
                try:
                    registry.cleanup()
                finally:
                    release_lock(conn, queue.registry_cleaning_key, self.rq.name)
        if judge and self.owned:
            self._give_back_claims()
        if judge and time.monotonic() - self._last_forget > 60:
            self._last_forget = time.monotonic()
            self._forget_departed()

    def _give_back_claims(self) -> None:
        """Jobs that dead workers had taken and never started go back to their queues."""
        conn, prefix = self.queues.redis, self.queues.prefix
        names = [m.decode() for m in conn.smembers(liveness.beaters_key(prefix))]
        back = claims.give_back(conn, prefix, liveness.gone(conn, prefix, names))
        if back:
            log.warning("%d job(s) taken by dead workers and never started are queued again: "
                        "%s", len(back), ", ".join(back))

    def _cleaning_lock(self, queue: Queue) -> bool:
        """RQ's lock on a queue's registry clean-up, for CLEANING_LOCK_S (so a reaper killed
        here blocks nobody for long); RQ's own 15-minute hold is broken after
        CLEANING_STUCK_S, as its holder must have died in the middle of its maintenance."""
        conn, key = self.queues.redis, queue.registry_cleaning_key
        if conn.set(key, self.rq.name, nx=True, ex=CLEANING_LOCK_S):
            return True
        ttl = int(conn.ttl(key))
        if ttl > CLEANING_LOCK_S and RQ_CLEANING_LOCK_S - ttl > CLEANING_STUCK_S:
            log.warning("%s: RQ's registry-cleaning lock was held for %d s: taking it",
                        queue.name, RQ_CLEANING_LOCK_S - ttl)
            conn.delete(key)
            return bool(conn.set(key, self.rq.name, nx=True, ex=CLEANING_LOCK_S))
        return False

    def _forget_departed(self) -> None:
        """Dead workers leave the set of beating ones once RQ forgot them too (its worker
        hash expired), so the set holds live and recently dead workers only."""
        conn, prefix = self.queues.redis, self.queues.prefix
        names = [m.decode() for m in conn.smembers(liveness.beaters_key(prefix))]
        dead = liveness.gone(conn, prefix, names)
        with conn.pipeline(transaction=False) as pipe:
            for name in sorted(dead):
                pipe.exists(RQWorker.redis_worker_namespace_prefix + name)
            present = pipe.execute()
        liveness.forget(conn, prefix, [n for n, p in zip(sorted(dead), present, strict=True)
                                       if not p])

    def run_once(self) -> set[str]:
        """One pass: lock, heartbeat, move due jobs to their queues; returns the queues owned."""
        if self.owned != set(self._names):
            self._take_over_stale()
            self.rq.acquire_locks()
        self.rq.heartbeat()
        if self.owned:
            self.rq.enqueue_scheduled_jobs()
            now = time.monotonic()
            if now - self._last_reap >= REAP_EVERY_S:
                self._last_reap = now
                self._reap_abandoned()
        return self.owned

    def _loop(self) -> None:
        self.rq.register_birth()
        try:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Exception:  # noqa: BLE001 - a Redis blip must not end scheduling
                    self._trouble_at = time.monotonic()
                    log.exception("scheduler pass failed")
                self._stop.wait(self.interval)
        finally:
            self.release()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="scheduler")
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def release(self) -> None:
        """Give the locks back at once, so another worker takes over without waiting."""
        try:
            self.rq.release_locks()
            self.rq.register_death()
        except Exception:  # noqa: BLE001 - shutting down anyway; the lock expires by itself
            log.warning("could not release scheduler locks", exc_info=True)
