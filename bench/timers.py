"""Timers benchmark: 2,000 timers due over two minutes across 20 portals, one worker.

  lateness_p99_s  due time → the timer's function starting, 99th percentile (target ≤ 5)
  lost            timers whose function never started by the deadline (target 0)
  doubled         timers whose function started more than once (should be 0)
  killed          in the second run the worker and its children get SIGKILL at ~40 % of
                  the window and a new worker starts at once; the dead one's scheduler lock
                  is left behind, and a job it was running is retried once RQ's execution
                  heartbeat expires (~70 s)

The timers are scheduled through connector.timers (the bench process), fired by a real
`crm-connector worker` (scheduler interval CONNECTOR_SCHEDULER_INTERVAL, default 1 s), and
each records its first start in Redis (`record` below, run inside the worker).

Run: .venv/bin/python -m bench.timers [--quick]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
from typing import Any

from redis import Redis

from bench.common import emit, load_average, percentile, running_stack
from devstack.processes import ROOT, worker_args

BENCH = "timers"
PORTALS = 20


def record(run: str, n: int) -> None:
    """The timer's function, in the worker: its first start time, and how often it ran."""
    from connector.services import worker_services

    redis = worker_services().redis
    with redis.pipeline() as pipe:
        pipe.hsetnx(f"bench:timers:{run}:start", str(n), repr(time.time()))
        pipe.hincrby(f"bench:timers:{run}:runs", str(n), 1)
        pipe.execute()


def start_worker(env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    """A worker in its own process group, so SIGKILL takes its children with it."""
    return subprocess.Popen(worker_args("--sweep-check-every", "3600"), env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def one_run(env: dict[str, str], workdir: Any, run: str, count: int, window_s: float,
            killed: bool) -> dict[str, Any]:
    from connector.config import load_settings
    from connector.queue import Queues
    from connector.timers import Timers

    settings = load_settings(env)
    redis = Redis.from_url(settings.redis_url)
    queues = Queues(redis, settings.queue_prefix, settings.job_retry_intervals)
    timers = Timers(queues, redis, settings.queue_prefix)
    lead_s = 8.0  # scheduling and worker start-up happen before the first timer is due
    first_due = time.time() + lead_s
    due = {n: first_due + window_s * n / count for n in range(count)}
    began = time.perf_counter()
    for n, at in due.items():
        timers.schedule(f"portal-{n % PORTALS:02d}", "bench", f"item-{n}", at,
                        "bench.timers.record", [run, n])
    schedule_s = time.perf_counter() - began
    log = open(workdir / f"worker-{run}.log", "ab")  # noqa: SIM115 - closed below
    worker = start_worker(env, log)
    kill_at = first_due + 0.4 * window_s
    killed_at = restarted_at = None
    deadline = first_due + window_s + (120 if killed else 30)
    try:
        while time.time() < deadline:
            if killed and killed_at is None and time.time() >= kill_at:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
                killed_at = time.time()
                worker = start_worker(env, log)
                restarted_at = time.time()
            if time.time() > first_due + window_s and \
                    redis.hlen(f"bench:timers:{run}:start") >= count:
                break
            time.sleep(0.25)
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
    starts = {int(k): float(v) for k, v in redis.hgetall(f"bench:timers:{run}:start").items()}
    runs = {int(k): int(v) for k, v in redis.hgetall(f"bench:timers:{run}:runs").items()}
    lateness = sorted(starts[n] - due[n] for n in starts)
    redis.close()
    out: dict[str, Any] = {
        "timers": count, "portals": PORTALS, "window_s": window_s, "killed": killed,
        "lateness_p50_s": round(percentile(lateness, 50), 3),
        "lateness_p99_s": round(percentile(lateness, 99), 3),
        "lateness_max_s": round(lateness[-1], 3) if lateness else None,
        "early": sum(1 for x in lateness if x < 0),
        "lost": count - len(starts),
        "doubled": sum(1 for v in runs.values() if v > 1),
        "schedule_per_s": round(count / schedule_s),
        "scheduler_interval_s": settings.scheduler_interval_s,
        "load_1m": load_average(),
    }
    if killed and killed_at is not None and restarted_at is not None:
        due_while_down = [n for n, at in due.items() if killed_at - 1 <= at <= restarted_at + 5]
        out["kill_at_s"] = round(killed_at - first_due, 1)
        out["late_after_kill_max_s"] = round(max(
            (starts[n] - due[n] for n in due_while_down if n in starts), default=0.0), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="400 timers over 30 s")
    args = parser.parse_args(argv)
    count, window = (400, 30.0) if args.quick else (2000, 120.0)
    with running_stack(web=False) as stack:
        emit(BENCH, "steady", **one_run(stack.env, stack.workdir, "steady", count, window,
                                        killed=False))
        emit(BENCH, "killed", **one_run(stack.env, stack.workdir, "killed", count, window,
                                        killed=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
