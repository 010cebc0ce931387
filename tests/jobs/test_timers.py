"""Timers and periodic tasks against a real redis-server and real `crm-connector worker`s.

The scheduler interval is 0.2 s here, so a timer fires within a fraction of a second and the
whole module runs in seconds. The job functions below run inside the worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from redis import Redis

from connector import periodic
from connector.queue import QUEUE_NAMES, Queues, job_id
from connector.timers import Timers
from devstack.processes import ROOT, wait_for

FIRED = "test:timers:fired"
RECORD = "tests.jobs.test_timers.record"
RECORD_TASK = "tests.jobs.test_timers.record_task"
REMEMBER = "tests.jobs.test_timers.remember"
CALLS: list[tuple[str, str]] = []


def record(label: str) -> str:
    """A timer's function (in the worker): note what fired and when."""
    Redis.from_url(os.environ["REDIS_URL"]).rpush(FIRED, json.dumps([label, time.time()]))
    return label


def record_task(task: str, tenant: str) -> None:
    """A periodic task's function (in the worker)."""
    record(f"{tenant}/{task}")


def remember(task: str, tenant: str) -> None:
    """A periodic task's function for calls made in this process."""
    CALLS.append((task, tenant))


def fired(redis: Redis) -> list[tuple[str, float]]:
    return [tuple(json.loads(raw)) for raw in redis.lrange(FIRED, 0, -1)]  # type: ignore[misc]


def labels(redis: Redis) -> list[str]:
    return [label for label, _ in fired(redis)]


@pytest.fixture
def env(redis_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("B24_", "CONNECTOR_"))},
        "REDIS_URL": redis_url,
        "CONNECTOR_SECRET_KEY": "test-signing-key",
        "CONNECTOR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CONNECTOR_JOB_RETRY_INTERVALS": "0,0",
        "CONNECTOR_SCHEDULER_INTERVAL": "0.2",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def queues(redis: Redis) -> Queues:
    return Queues(redis, "cc", (0, 0))


@pytest.fixture
def timers(queues: Queues, redis: Redis) -> Timers:
    return Timers(queues, redis, "cc")


class Workers:
    """Long-running workers, each in its own process group so a test can SIGKILL all of it."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = tempfile.NamedTemporaryFile(prefix="cc-timers-", suffix=".log")  # noqa: SIM115

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "wiring", "worker",
                                 "--sweep-check-every", "3600"], env=self.env, cwd=ROOT,
                                stdout=self.log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)

    def burst(self) -> None:
        done = subprocess.run([sys.executable, "-m", "wiring", "worker", "--burst"],
                              env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[Workers]:
    pool = Workers(env)
    yield pool
    pool.stop()


def wait_fired(redis: Redis, n: int, workers: Workers, timeout: float = 15) -> None:
    try:
        wait_for(lambda: len(fired(redis)) >= n, timeout, 0.05, f"{n} timers fired")
    except TimeoutError:
        raise AssertionError(f"fired {labels(redis)}; worker log:\n{workers.output()}") from None


# timers -----------------------------------------------------------------------------------
def test_schedule_move_cancel(redis: Redis, timers: Timers, queues: Queues,
                              workers: Workers) -> None:
    now = time.time()
    first = timers.schedule("t1", "cap", "deal-1", now + 3600, RECORD, ["first"])
    assert timers.when("t1", "cap", "deal-1") == pytest.approx(now + 3600)
    moved = timers.schedule("t1", "cap", "deal-1", now + 0.5, RECORD, ["moved"])
    assert moved != first and queues.status(first) is None
    assert queues.scheduled_ids() == [moved]
    assert timers.when("t1", "cap", "deal-1") == pytest.approx(now + 0.5)

    timers.schedule("t1", "cap", "deal-2", now + 0.5, RECORD, ["cancelled"])
    assert timers.cancel("t1", "cap", "deal-2") is True
    assert timers.cancel("t1", "cap", "deal-2") is False
    assert timers.when("t1", "cap", "deal-2") is None
    assert queues.scheduled_ids() == [moved]
    with pytest.raises(TypeError):
        timers.schedule("t1", "cap", "deal-3", now, RECORD, [object()])

    workers.start()
    wait_fired(redis, 1, workers)
    time.sleep(1.0)  # the cancelled one was due too: it must not come
    ((label, at),) = fired(redis)
    assert label == "moved" and at >= now + 0.5
    assert timers.when("t1", "cap", "deal-1") is None  # fired


def test_a_straggler_of_a_moved_timer_does_nothing(redis: Redis, timers: Timers,
                                                   queues: Queues, workers: Workers) -> None:
    """The scheduler took the old job before the move: it still runs, and does nothing."""
    now = time.time()
    timers.schedule("t1", "cap", "k", now - 1, RECORD, ["stale"])
    queues.enqueue_at("connector.timers.fire", ["t1", "cap", "k", 1, RECORD, ["stale"]],
                      "straggler", now - 1)
    timers.schedule("t1", "cap", "k", now - 1, RECORD, ["current"])
    assert not timers.fire_guard("t1", "cap", "k", 1)
    assert timers.fire_guard("t1", "cap", "k", 2)
    workers.burst()
    assert labels(redis) == ["current"]
    assert queues.status("straggler") == "finished"  # it ran, as a no-op
    assert not timers.fire_guard("t1", "cap", "k", 2)  # fired: a duplicate is dropped too


def test_an_overdue_timer_fires_once(redis: Redis, timers: Timers, queues: Queues,
                                     workers: Workers) -> None:
    """Due two minutes ago while no worker ran: the first worker fires it, once."""
    timers.schedule("t1", "cap", "late", time.time() - 120, RECORD, ["overdue"])
    workers.burst()
    workers.burst()
    assert labels(redis) == ["overdue"]
    assert queues.scheduled_ids() == []


def test_a_killed_worker_loses_no_timer(redis: Redis, timers: Timers, workers: Workers
                                        ) -> None:
    """SIGKILL of the worker and its children leaves RQ's scheduler lock behind for a minute;
    the restarted worker takes it over within seconds and fires what came due meanwhile."""
    first = workers.start()
    now = time.time()
    for i in range(10):
        timers.schedule("t1", "cap", f"before-{i}", now + 0.5, RECORD, [f"before-{i}"])
    wait_fired(redis, 10, workers)
    time.sleep(0.3)  # let the worker finish its bookkeeping for the last job
    workers.kill(first)
    assert redis.get("rq:scheduler-lock:cc-maintenance")  # the dead worker still holds it
    killed_at = time.time()
    for i in range(20):
        timers.schedule("t1", "cap", f"after-{i}", killed_at + 0.1 * i, RECORD, [f"after-{i}"])
    time.sleep(1.0)
    workers.start()
    wait_fired(redis, 30, workers, timeout=20)
    time.sleep(0.5)
    got = labels(redis)
    assert sorted(got) == sorted([f"before-{i}" for i in range(10)]
                                 + [f"after-{i}" for i in range(20)])
    lateness = [at - (killed_at + 0.1 * int(label.split("-")[1]))
                for label, at in fired(redis) if label.startswith("after-")]
    assert max(lateness) < 10, lateness  # stale lock (3 s) + restart, not RQ's 61 s


# periodic tasks ---------------------------------------------------------------------------
def periodic_jobs(queues: Queues, tenant: str, task: str) -> list[str]:
    return [j for j in queues.scheduled_ids() if j.startswith(job_id("periodic", tenant, task))]


def test_ensure_is_idempotent_and_concurrent_calls_start_one_chain(queues: Queues) -> None:
    assert periodic.ensure(queues, "t1", {"a": 60, "b": None}, REMEMBER) == {
        "a": "started", "b": "off"}
    assert periodic.ensure(queues, "t1", {"a": 60, "b": None}, REMEMBER) == {
        "a": "kept", "b": "off"}
    assert len(queues.scheduled_ids()) == 1

    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def sweep() -> None:
        barrier.wait()
        outcomes.append(periodic.ensure(queues, "t2", {"a": 60}, REMEMBER)["a"])

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert outcomes.count("started") == 1 and outcomes.count("kept") == 7
    assert len(queues.scheduled_ids()) == 2  # one per tenant


def test_sweep_slot_is_claimed_once(redis: Redis) -> None:
    assert periodic.claim_sweep(redis, "cc", 600, now=6000)
    assert not periodic.claim_sweep(redis, "cc", 600, now=6599)  # another worker, same slot
    assert periodic.claim_sweep(redis, "cc", 600, now=6600)


def test_a_slot_runs_once_then_the_chain_moves_on(redis: Redis, queues: Queues) -> None:
    CALLS.clear()
    every = 5
    periodic.ensure(queues, "t3", {"a": every}, REMEMBER, now=1000)
    (job,) = queues.scheduled_ids()
    offset = periodic.phase("t3", "a", every)
    slot = periodic.slot_after(1000, every, offset)
    assert job == periodic.slot_job_id("t3", "a", 1, slot)
    assert 1000 < periodic.slot_time(slot, every, offset) <= 1000 + every
    queues.unschedule(job)  # we play the worker here

    at = periodic.slot_time(slot, every, offset)
    periodic.run_slot_with(queues, "t3", "a", 1, slot, every, REMEMBER, now=at)
    assert CALLS == [("a", "t3")]
    assert queues.scheduled_ids() == [periodic.slot_job_id("t3", "a", 1, slot + 1)]
    # a second copy of the same slot (two schedulers, a late sweep): nothing, nothing new
    out = periodic.run_slot_with(queues, "t3", "a", 1, slot, every, REMEMBER, now=at)
    assert out == {"skipped": f"slot {slot} already ran"} and CALLS == [("a", "t3")]
    assert len(queues.scheduled_ids()) == 1

    # interval changed in the settings: a new chain; the old one's job is gone, and a
    # straggler of it does nothing
    assert periodic.ensure(queues, "t3", {"a": 7}, REMEMBER, now=at)["a"] == "started"
    (job7,) = queues.scheduled_ids()
    assert "-g2-" in job7
    out = periodic.run_slot_with(queues, "t3", "a", 1, slot + 1, every, REMEMBER, now=at + 5)
    assert out == {"skipped": "turned off or rescheduled"} and len(CALLS) == 1

    assert periodic.ensure(queues, "t3", {"a": None}, REMEMBER)["a"] == "stopped"
    assert queues.scheduled_ids() == []
    assert periodic.ensure(queues, "t3", {"a": None}, REMEMBER)["a"] == "off"


def test_periodic_chain_in_a_worker_after_downtime(redis: Redis, queues: Queues,
                                                   workers: Workers) -> None:
    """The chain was set up long ago and no worker ran since: the overdue slot fires once,
    then one run per second; sweeps meanwhile change nothing."""
    periodic.ensure(queues, "t1", {"tick": 1}, RECORD_TASK, now=time.time() - 300)
    workers.start()
    wait_fired(redis, 1, workers)
    started = time.time()
    for _ in range(3):  # sweeps and settings saves while it runs
        assert periodic.ensure(queues, "t1", {"tick": 1}, RECORD_TASK)["tick"] == "kept"
        time.sleep(1.0)
    runs = fired(redis)
    elapsed = time.time() - started
    assert all(label == "t1/tick" for label, _ in runs)
    assert 1 + elapsed - 2 <= len(runs) <= 1 + elapsed + 1, (len(runs), elapsed)
    assert len(periodic_jobs(queues, "t1", "tick")) <= 1
    times = sorted(at for _, at in runs)
    assert all(b - a > 0.5 for a, b in zip(times[1:], times[2:], strict=False)), times


def test_cancel_tenant_stops_timers_and_chains(queues: Queues, timers: Timers) -> None:
    timers.schedule("t9", "cap", "a", time.time() + 60, RECORD, ["a"])
    timers.schedule("t9", "cap", "b", time.time() + 60, RECORD, ["b"])
    timers.schedule("t8", "cap", "a", time.time() + 60, RECORD, ["other"])
    periodic.ensure(queues, "t9", {"x": 60}, REMEMBER)
    assert timers.cancel_tenant("t9") == 2
    assert periodic.cancel_tenant(queues, "t9") == 1
    assert timers.when("t8", "cap", "a") is not None
    assert len(queues.scheduled_ids()) == 1


def test_healthz_tells_when_nobody_moves_delayed_work(redis: Redis, queues: Queues,
                                                      timers: Timers, workers: Workers) -> None:
    """Retries, timers and periodic slots move only while some worker's scheduler runs: with
    none (or one that stopped refreshing its lock) the health says so, with the jobs late."""
    down = queues.scheduler_health()
    assert not down["ok"] and len(down["queues_without_scheduler"]) == len(QUEUE_NAMES)
    timers.schedule("t1", "cap", "late", time.time() - 120, RECORD, ["late"])
    assert queues.scheduler_health()["overdue_jobs"] == 1
    workers.start()
    wait_fired(redis, 1, workers)
    assert labels(redis) == ["late"]
    wait_for(lambda: queues.scheduler_health()["ok"], 20, 0.2, "a scheduler moving work")
    lock = "rq:scheduler-lock:cc-files"
    redis.set(lock, redis.get(lock), px=30_000)  # as if its holder froze 30 s ago
    frozen = queues.scheduler_health()
    assert frozen["queues_without_scheduler"] == ["cc-files"] and not frozen["ok"]
