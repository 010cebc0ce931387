"""The inbox pump (connector.pump): every accepted record becomes exactly one RQ job, whatever
happens to the pump between taking records and making their jobs. Real redis-server, real
processes killed with SIGKILL, RQ's own job records."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from connector import queue as q
from connector.inbox import Record
from connector.pump import Pump
from devstack.processes import ROOT, free_port, start_redis, stop, wait_for

PREFIX = "t"


def accept(queues: q.Queues, n: int, start: int = 0, member_id: str = "m1") -> list[str]:
    """`n` robot deliveries admitted as the request path does; their job ids."""
    return [queues.admit("robot", "timeline_note", member_id, {"event_token": f"tok-{i}"},
                         q.job_id("robot", member_id, f"tok-{i}")).job_id
            for i in range(start, start + n)]


def queued(queues: q.Queues) -> Counter[str]:
    """Job ids in the inbound queue, with how often each is there (a doubled push shows)."""
    return Counter(i.decode() for i in queues.redis.lrange(queues[q.INBOUND].key, 0, -1))


def assert_exactly_once(queues: q.Queues, ids: list[str]) -> None:
    assert queued(queues) == Counter(ids)
    jobs = Job.fetch_many(ids, connection=queues.redis, serializer=JSONSerializer)
    assert all(j is not None and j.func_name == "connector.jobs.run_inbound" for j in jobs)
    assert queues.inbox.waiting() == 0 and queues.redis.llen(queues.inbox.key) == 0


def test_each_record_becomes_one_job_with_its_id_and_policy(redis: Redis):
    queues = q.Queues(redis, PREFIX, (10, 60))
    ids = accept(queues, 250)  # more than one batch
    merged = queues.admit("event", "ONCRMDEALUPDATE", "m1", {"data": {}}, "evt-m1-x",
                          until_started=True)
    assert queues.depth()["t-inbound"] == 251

    assert Pump(queues, batch=100).drain() == 251

    assert_exactly_once(queues, [*ids, merged.job_id])
    assert queues.depth()["t-inbound"] == 251  # still waiting, now as jobs
    job = Job.fetch(merged.job_id, connection=redis, serializer=JSONSerializer)
    assert job.args == ["event", "ONCRMDEALUPDATE", "m1", {"data": {}}]
    assert job.meta == {"member_id": "m1", "dedup": "evt-m1-x"}  # released when it starts
    assert job.retries_left == 2 and job.timeout == q.JOB_TIMEOUT_S
    queues.started(job)
    assert queues.admit("event", "ONCRMDEALUPDATE", "m1", {}, "evt-m1-x", True).created


def test_a_pump_killed_between_taking_and_making_jobs_loses_and_doubles_nothing(
        redis: Redis, redis_url: str):
    queues = q.Queues(redis, PREFIX, (0,))
    ids = accept(queues, 30)
    victim = subprocess.run([sys.executable, "-c", f"""
import os, signal
from redis import Redis
from connector.queue import Queues
from connector.inbox import Record
from connector.pump import Pump
pump = Pump(Queues(Redis.from_url({redis_url!r}), {PREFIX!r}), name="victim", batch=20,
            alive_s=5)
pump.beat()
assert len(pump.take()) == 20
os.kill(os.getpid(), signal.SIGKILL)  # between reading the records and making their jobs
"""], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=60)
    assert victim.returncode == -9, victim.stderr
    assert redis.llen(queues.inbox.taken_key("victim")) == 20
    assert queues.depth()["t-inbound"] == 30  # nothing looks lost meanwhile

    rescuer = Pump(queues, name="rescuer")
    assert rescuer.drain() == 10  # the victim may still be alive: its records stay with it
    assert redis.llen(queues.inbox.taken_key("victim")) == 20
    wait_for(lambda: not redis.exists(queues.inbox.alive_key("victim")), 15)
    assert Pump(queues, name="rescuer-2").drain() == 20

    assert_exactly_once(queues, ids)
    assert queues.inbox.pumps() == []


def test_a_frozen_pump_that_wakes_after_its_records_were_given_back_makes_no_job(
        redis: Redis):
    queues = q.Queues(redis, PREFIX, (0,))
    ids = accept(queues, 12)
    frozen = Pump(queues, name="frozen", alive_s=0.2)
    frozen.beat()
    taken = frozen.take()
    assert len(taken) == 12
    time.sleep(0.3)  # it stops beating: the others take it for dead
    assert Pump(queues, name="other").drain() == 12

    assert frozen.move(taken) == 0  # wakes and finishes its move: nothing is its own now
    assert_exactly_once(queues, ids)


def test_a_pump_frozen_longer_than_its_jobs_live_makes_none_again(redis: Redis):
    queues = q.Queues(redis, PREFIX, (0,))
    accept(queues, 5)
    frozen = Pump(queues, name="frozen", alive_s=0.2)
    frozen.beat()
    taken = frozen.take()
    time.sleep(0.3)
    assert Pump(queues, name="other").drain() == 5
    for job in queues[q.INBOUND].jobs:  # they ran, and their results expired since
        job.delete()

    assert frozen.move(taken) == 0  # its copies are not records any more
    assert queued(queues) == Counter() and redis.keys("rq:job:*") == []


def test_a_record_whose_job_exists_is_only_removed(redis: Redis):
    queues = q.Queues(redis, PREFIX, (0,))
    jid = q.job_id("robot", "m1", "tok-0")
    with redis.pipeline() as pipe:  # the job exists already, made as a pump makes it
        queues.enqueue_record(pipe, Record("robot", "timeline_note", "m1", {}, jid))
        pipe.execute()
    assert accept(queues, 1) == [jid]  # and its record arrives (again)

    assert Pump(queues).drain() == 0
    assert queued(queues) == Counter([jid]) and queues.inbox.waiting() == 0


def test_an_unreadable_record_is_kept_aside_and_the_rest_move(redis: Redis):
    queues = q.Queues(redis, PREFIX, (0,))
    ids = accept(queues, 2)
    redis.rpush(queues.inbox.key, b"{not a record")
    ids += accept(queues, 2, start=2)

    assert Pump(queues).drain() == 4

    assert_exactly_once(queues, ids)
    assert redis.lrange(queues.inbox.unreadable_key, 0, -1) == [b"{not a record"]


def test_pumps_racing_over_one_inbox_make_each_job_once(redis: Redis):
    queues = q.Queues(redis, PREFIX, (0,))
    ids = accept(queues, 600)
    made: list[int] = []
    pumps = [Pump(queues, name=f"p{n}", batch=25) for n in range(4)]
    threads = [threading.Thread(target=lambda p=p: made.append(p.drain())) for p in pumps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(made) == 600
    assert_exactly_once(queues, ids)


def test_the_pump_thread_outlives_a_redis_restart():
    workdir = Path(tempfile.mkdtemp(prefix="cc-pump-"))
    port = free_port()
    proc = start_redis(port, workdir)
    redis = Redis(port=port, socket_timeout=2)
    queues = q.Queues(redis, PREFIX, (0,))
    pump = Pump(queues, wait_s=0.1)
    pump.start()
    try:
        first = accept(queues, 3)
        wait_for(lambda: queued(queues) == Counter(first), 10, what="the first jobs")
        stop([proc])  # Redis goes away under the running pump ...
        time.sleep(1.5)
        proc = start_redis(port, workdir)  # ... and comes back empty
        later = accept(queues, 3, start=3)
        wait_for(lambda: queued(queues) == Counter(later), 20, what="jobs after the restart")
        assert pump._thread is not None and pump._thread.is_alive()
    finally:
        pump.stop()
        stop([proc])
        shutil.rmtree(workdir, ignore_errors=True)
