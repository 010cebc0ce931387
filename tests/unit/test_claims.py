"""A job a worker took and never started is not lost when the worker dies (real Redis)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from redis import Redis
from rq.exceptions import DequeueTimeout
from rq.serializers import JSONSerializer

from connector import claims, liveness
from connector.liveness import Liveness
from connector.queue import FILES, INBOUND, MAINTENANCE, Queues, Scheduler, Worker

FUNC = "connector.jobs.run_maintenance"


@pytest.fixture
def queues(redis: Redis) -> Queues:
    return Queues(redis, "t")


@contextmanager
def worker_that_dies(redis: Redis, name: str) -> Iterator[None]:
    """Inside: this process is the beating worker `name`; after: it was killed with -9 (its
    alive key expires, nothing is cleaned up)."""
    beat = Liveness(redis, "t", every_s=0.05, ttl_ms=300)
    beat.start(name)
    try:
        yield
    finally:
        beat._stop.set()
        assert beat._thread is not None
        beat._thread.join(2)
        liveness._ME.update(prefix="", name="")
    time.sleep(0.4)


def keys(queues: Queues, *names: str) -> list[str]:
    return [queues[n].key for n in names]


def test_a_job_taken_by_a_worker_killed_before_it_started_goes_back_to_the_front(
        redis: Redis, queues: Queues):
    first = queues.enqueue(FUNC, [], "first", queue=MAINTENANCE).job_id
    second = queues.enqueue(FUNC, [], "second", queue=MAINTENANCE).job_id
    with worker_that_dies(redis, "w-dead"):
        taken = claims.take(redis, keys(queues, INBOUND, MAINTENANCE), None)
        assert taken == (queues[MAINTENANCE].key, first)
        assert redis.get(claims.claim_key("t", "w-dead")) == \
            f"{queues[MAINTENANCE].key}|{first}".encode()
    assert queues[MAINTENANCE].job_ids == [second]  # the window RQ's own pop leaves open
    assert claims.give_back(redis, "t", ["w-dead"]) == [first]
    assert queues[MAINTENANCE].job_ids == [first, second]
    assert not redis.exists(claims.claim_key("t", "w-dead"))
    assert claims.give_back(redis, "t", ["w-dead"]) == []  # once


def test_a_claim_whose_job_started_or_is_queued_again_is_dropped_not_doubled(
        redis: Redis, queues: Queues):
    jid = queues.enqueue(FUNC, [], "one", queue=INBOUND).job_id
    with worker_that_dies(redis, "w-started"):
        claims.take(redis, keys(queues, INBOUND), None)
        redis.hset(f"rq:job:{jid}", "status", "started")  # the horse got as far as RQ's start
    assert claims.give_back(redis, "t", ["w-started"]) == []
    assert queues[INBOUND].job_ids == []  # the started registry's reaper has it
    redis.hset(f"rq:job:{jid}", "status", "queued")
    queues[INBOUND].push_job_id(jid)  # meanwhile queued again under its id
    with worker_that_dies(redis, "w-again"):
        redis.set(claims.claim_key("t", "w-again"), f"{queues[INBOUND].key}|{jid}")
    assert claims.give_back(redis, "t", ["w-again"]) == []
    assert queues[INBOUND].job_ids == [jid]


def test_a_started_job_clears_its_claim_and_an_idle_take_clears_the_last(
        redis: Redis, queues: Queues):
    jid = queues.enqueue(FUNC, [], "one", queue=INBOUND).job_id
    beat = Liveness(redis, "t")
    beat.start("w-live")
    try:
        claims.take(redis, keys(queues, INBOUND), None)
        claims.started(redis, "someone-else")
        assert redis.exists(claims.claim_key("t", "w-live"))
        claims.started(redis, jid)
        assert not redis.exists(claims.claim_key("t", "w-live"))
        redis.set(claims.claim_key("t", "w-live"), "stale|x")
        assert claims.take(redis, keys(queues, INBOUND), None) is None
        assert not redis.exists(claims.claim_key("t", "w-live"))
    finally:
        beat.stop()


def test_a_waiting_take_returns_as_soon_as_a_job_comes_and_times_out_otherwise(
        redis: Redis, queues: Queues):
    started = time.monotonic()
    with pytest.raises(DequeueTimeout):
        claims.take(redis, keys(queues, INBOUND), 0.3)
    assert 0.3 <= time.monotonic() - started < 0.6
    late = threading.Timer(0.2, lambda: queues.enqueue(FUNC, [], "late"))
    late.start()
    started = time.monotonic()
    got = claims.take(redis, keys(queues, INBOUND), 5)
    assert got is not None and got[0] == queues[INBOUND].key
    assert time.monotonic() - started < 0.2 + 2 * claims.POLL_MAX_S


def test_the_scheduler_gives_back_what_dead_workers_took(redis: Redis, queues: Queues):
    jid = queues.enqueue(FUNC, [], "lost", queue=INBOUND).job_id
    with worker_that_dies(redis, "w-gone"):
        claims.take(redis, keys(queues, INBOUND, MAINTENANCE), None)
    scheduler = Scheduler(queues)
    try:
        scheduler.run_once()
    finally:
        scheduler.release()
    assert queues[INBOUND].job_ids == [jid]


def note(tag: str) -> None:
    """A job that only says it ran (for the order test)."""
    Redis.from_url(os.environ["CC_TEST_REDIS"]).rpush("t:ran", tag)


def test_after_an_event_a_worker_looks_at_maintenance_first(redis: Redis, redis_url: str,
                                                             queues: Queues,
                                                             monkeypatch: pytest.MonkeyPatch):
    """A burst of events does not starve the timers due meanwhile: the two queues take
    turns; files wait until both are empty."""
    monkeypatch.setenv("CC_TEST_REDIS", redis_url)
    for n in range(3):
        queues.enqueue(f"{__name__}.note", [f"files{n}"], f"f{n}", queue=FILES)
        queues.enqueue(f"{__name__}.note", [f"event{n}"], f"e{n}", queue=INBOUND)
        queues.enqueue(f"{__name__}.note", [f"timer{n}"], f"t{n}", queue=MAINTENANCE)
    worker = Worker([queues[n] for n in (INBOUND, MAINTENANCE, FILES)], connection=redis,
                    serializer=JSONSerializer)
    worker.work(burst=True)
    assert [x.decode() for x in redis.lrange("t:ran", 0, -1)] == [
        "event0", "timer0", "event1", "timer1", "event2", "timer2", "files0", "files1",
        "files2"]
