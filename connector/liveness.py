"""Which workers are alive, told by a short-lived key each one keeps fresh.

RQ learns that a worker died only when its heartbeats stop for the job monitoring interval
plus a fixed 60 s, so a job held by a worker killed with -9 waited some 70 s before anyone
ran it again. Each worker here also keeps `<prefix>:alive:<name>` alive (TTL ALIVE_TTL_MS,
refreshed every BEAT_EVERY_S from a thread), and names itself in the set `<prefix>:alive`:
a name in the set whose key has expired is a worker that is gone, seen by Redis' own clock
within seconds. Workers that never beat (another version, a plain `rq worker`) are not in
the set and are never judged here; RQ's own expiry still covers them.

The app's Redis locks (per deal, per robot call, per file: TTLs up to 120 s) name the run
that holds them (worker, job, horse), and one whose run is gone is broken by the next that
wants it, so a retried job is not held back by the lock its killed first run left behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import redis
from redis.lock import Lock
from rq.job import Job

log = logging.getLogger(__name__)

ALIVE_TTL_MS = 10_000
BEAT_EVERY_S = 2.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
JUDGE_EVERY_S = 1.0  # how often a waiting lock asks whether its holder is still alive
_ME = {"prefix": "", "name": ""}  # this worker (inherited by its work-horses through fork)


def whoami() -> tuple[str, str] | None:
    """(prefix, name) of the beating worker this process is (or is a horse of), else None."""
    return (_ME["prefix"], _ME["name"]) if _ME["name"] else None


def alive_key(prefix: str, name: str) -> str:
    return f"{prefix}:alive:{name}"


def beaters_key(prefix: str) -> str:
    """The set of the names of workers that keep an alive key."""
    return f"{prefix}:alive"


class Liveness:
    """One worker's alive key, refreshed by a daemon thread until `stop()`."""

    def __init__(self, redis: redis.Redis, prefix: str, every_s: float = BEAT_EVERY_S,
                 ttl_ms: int = ALIVE_TTL_MS) -> None:
        self.redis = redis
        self.prefix = prefix
        self.every_s = every_s
        self.ttl_ms = ttl_ms
        self.name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(alive_key(self.prefix, self.name), os.getpid(), px=self.ttl_ms)
            pipe.sadd(beaters_key(self.prefix), self.name)
            pipe.execute()

    def start(self, name: str) -> None:
        """Beat now (so the key exists before the first job) and then every `every_s`;
        from now on this process's locks name it as their holder."""
        self.name = name
        _ME.update(prefix=self.prefix, name=name)
        self.beat()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="liveness")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a Redis blip must not end the beats
                log.warning("liveness beat of %s failed", self.name, exc_info=True)

    def stop(self) -> None:
        """A clean exit: no more beats, and the worker leaves at once (not after the TTL)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.name:
            try:
                with self.redis.pipeline(transaction=False) as pipe:
                    pipe.delete(alive_key(self.prefix, self.name))
                    pipe.srem(beaters_key(self.prefix), self.name)
                    pipe.execute()
            except redis.RedisError:  # Redis is down: the key expires by itself
                log.warning("could not remove the alive key of %s", self.name, exc_info=True)
        if _ME["name"] == self.name:
            _ME.update(prefix="", name="")


def gone(redis: redis.Redis, prefix: str, names: Iterable[str]) -> set[str]:
    """Those of `names` that kept an alive key and let it expire: dead workers."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    with redis.pipeline(transaction=False) as pipe:
        for name in wanted:
            pipe.sismember(beaters_key(prefix), name)
            pipe.exists(alive_key(prefix, name))
        answers = pipe.execute()
    return {name for name, beats, alive in zip(wanted, answers[::2], answers[1::2],
                                               strict=True) if beats and not alive}


def forget(redis: redis.Redis, prefix: str, names: Iterable[str]) -> None:
    """Drop dead workers from the set once nothing of theirs is left to judge."""
    names = list(names)
    if names:
        redis.srem(beaters_key(prefix), *names)


def die_with_parent(parent: int) -> None:
    """In a work-horse forked by the worker `parent`: be killed when that worker dies.

    Otherwise a horse outlives a worker killed with -9 and finishes its job while the job,
    judged abandoned, already runs again elsewhere. Linux only (prctl); elsewhere the horse
    may outlive its worker, as with plain RQ.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(1)


class WorkerLock(Lock):
    """redis-py's lock, whose token names the run holding it — the worker, the job and the
    work-horse's pid — so a waiter can tell a holder that is gone and break its lock
    (compare-and-delete), checked at most once per JUDGE_EVERY_S while it waits:
    - the holder's worker is dead (its alive key expired);
    - the holder was an earlier run of the waiter's own job (a retry waits on the lock its
      killed first run left: a job runs once at a time);
    - the holder's job is no longer running (its horse died, e.g. while Redis was away,
      and the job was handed back: the worker itself lives on)."""

    _judged = 0.0

    def acquire(self, sleep: float | None = None, blocking: bool | None = None,
                blocking_timeout: float | None = None, token: Any = None) -> bool:
        if token is None and _ME["name"]:
            token = "|".join((_ME["name"], _current_job(), str(os.getpid()), uuid.uuid4().hex))
        self._judged = 0.0
        return bool(super().acquire(sleep, blocking, blocking_timeout, token))

    def do_acquire(self, token: Any) -> bool:
        if super().do_acquire(token):
            return True
        prefix, now = _ME["prefix"], time.monotonic()
        if not prefix or now - self._judged < JUDGE_EVERY_S:
            return False
        self._judged = now
        holder = self.redis.get(self.name)
        why = _holder_gone(self.redis, prefix, holder) if holder else ""
        if not why:
            return False
        if self.lua_release(keys=[self.name], args=[holder], client=self.redis):
            log.warning("lock %s was held by %s: broken", self.name, why)
        return bool(super().do_acquire(token))


def _current_job() -> str:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else ""


def _holder_gone(conn: redis.Redis, prefix: str, holder: bytes) -> str:
    """Why the run named by a lock token cannot be holding it any more, or ""."""
    parts = holder.decode(errors="replace").split("|")
    if len(parts) == 2:  # a token of the version before: worker|random
        parts = [parts[0], "", "", parts[1]]
    if len(parts) != 4:
        return ""
    worker, job, pid, _ = parts
    if worker and gone(conn, prefix, [worker]):
        return f"worker {worker}, which is dead"
    if not job:
        return ""
    if job == _current_job() and pid != str(os.getpid()):
        return f"an earlier run of this job ({job}, pid {pid})"
    status = conn.hget(Job.key_for(job), "status")
    if status != b"started":
        return f"job {job}, which is not running ({(status or b'gone').decode()})"
    return ""


class LockingRedis(redis.Redis):
    """The app's Redis client: its locks are WorkerLocks unless told otherwise."""

    def lock(self, name: Any, timeout: float | None = None, sleep: float = 0.1,
             blocking: bool = True, blocking_timeout: float | None = None,
             lock_class: Any = None, thread_local: bool = True,
             raise_on_release_error: bool = True) -> Lock:
        return super().lock(name, timeout=timeout, sleep=sleep, blocking=blocking,
                            blocking_timeout=blocking_timeout,
                            lock_class=lock_class or WorkerLock, thread_local=thread_local,
                            raise_on_release_error=raise_on_release_error)
