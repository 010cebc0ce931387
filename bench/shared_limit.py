"""Shared rate limit: several worker processes hammering one portal share its 2 req/s budget.

Bitrix24 counts requests per portal, not per process, so N workers that each throttle
themselves either waste the budget or overrun it (503 QUERY_LIMIT_EXCEEDED). Our BitrixClient
takes a slot in one Redis leaky bucket per portal before every request; this measures how
much of the portal's budget 4 real processes get through it, and that the portal never
refuses one of them.

    .venv/bin/python -m bench.shared_limit [--quick] [--seconds 60] [--workers 4]

budget_used = requests accepted by the emulator between two stats snapshots taken after the
bucket has filled / (drain x seconds between the snapshots). Once full, the portal lets
through exactly `drain` requests per second, so 1.0 is the ceiling.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from bench.common import (
    Stack,
    cpu_count,
    emit,
    load_average,
    reset_app_bucket,
    running_stack,
)
from devstack.processes import PY, ROOT, stop

NAME = "shared_limit"
WARMUP_S = 3.0
START_DELAY_S = 3.0
TAIL_S = 2.0
PROGRESS_EVERY_S = 10.0
FORMULA = ("budget_used = (accepted(t1) - accepted(t0)) / (drain * (t1 - t0)), "
           "t0 = start + warmup (bucket full), t1 = t0 + seconds; accepted = emulator "
           "stats.requests_accepted")


# ---------------------------------------------------------------------------------- child
def child(member_id: str, method: str, start_at: float, until: float) -> int:
    """One worker process: the app's own client, built from the environment, in a loop."""
    from connector.bitrix.errors import BitrixError
    from connector.config import load_settings
    from wiring import build_services

    services = build_services(load_settings())
    client = services.client(member_id)
    params: dict[str, Any] = {"id": 1} if method.endswith(".get") else {}
    ok = 0
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < until:
        t0 = time.perf_counter()
        try:
            client.call(method, params)
            ok += 1
        except BitrixError as exc:
            errors[exc.code] += 1
        except TimeoutError:
            errors["BUCKET_WAIT_TIMEOUT"] += 1
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    print(json.dumps({"calls_ok": ok, "errors": dict(errors),
                      "http_requests": client.http_requests,
                      "median_call_s": round(latencies[len(latencies) // 2], 3)
                      if latencies else None}), flush=True)
    services.redis.close()
    return 0


# --------------------------------------------------------------------------------- parent
def snapshot(stack: Stack) -> tuple[float, dict[str, Any]]:
    """Emulator stats and the moment they describe (the middle of the round trip)."""
    before = time.time()
    stats = stack.stats()
    return (before + time.time()) / 2, stats


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def run(stack: Stack, workers: int, seconds: float, method: str) -> dict[str, Any]:
    stack.install()
    portal = stack.portal()
    member_id = portal["member_id"]
    limits = stack.control("POST", "limits", {"enabled": True, "operating_enabled": False})
    drain, threshold = float(limits["drain"]), float(limits["threshold"])
    emit(NAME, "stack", member_id=member_id, emulator_limits=limits, workers=workers,
         seconds=seconds, method=method, cpus=cpu_count(), load_average=load_average())

    stack.reset_limits()
    reset_app_bucket(stack.env, member_id)
    stack.reset_stats()
    start_at = time.time() + START_DELAY_S
    t0_target = start_at + WARMUP_S
    t1_target = t0_target + seconds
    until = t1_target + TAIL_S
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [PY, "-m", "bench.shared_limit", "--child", "--member-id", member_id,
                 "--method", method, "--start-at", repr(start_at), "--until", repr(until)],
                env=stack.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        emit(NAME, "workers_started", pids=[p.pid for p in procs])
        sleep_until(t0_target)
        t0, s0 = snapshot(stack)
        emit(NAME, "window_start", accepted=s0["requests_accepted"],
             query_limit_exceeded=s0["query_limit_exceeded"],
             warmup_s=round(t0 - start_at, 3))
        next_progress = t0 + PROGRESS_EVERY_S
        while next_progress < t1_target:
            sleep_until(next_progress)
            t, s = snapshot(stack)
            done = s["requests_accepted"] - s0["requests_accepted"]
            emit(NAME, "progress", elapsed_s=round(t - t0, 2), accepted_in_window=done,
                 rate_per_s=round(done / (t - t0), 3),
                 query_limit_exceeded=s["query_limit_exceeded"])
            next_progress += PROGRESS_EVERY_S
        sleep_until(t1_target)
        t1, s1 = snapshot(stack)
        outputs: list[dict[str, Any]] = []
        for i, p in enumerate(procs):
            try:
                out, err = p.communicate(timeout=max(30.0, until - time.time() + 30))
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            line = out.decode(errors="replace").strip().splitlines()
            result = json.loads(line[-1]) if line else {"error": err.decode()[-500:]}
            result["exit_code"] = p.returncode
            outputs.append(result)
            emit(NAME, "worker", index=i, **result)
    finally:
        stop(procs)
    final = stack.stats()
    window = t1 - t0
    accepted = s1["requests_accepted"] - s0["requests_accepted"]
    budget_used = accepted / (drain * window)
    total_elapsed = t1 - start_at
    budget_used_incl_burst = s1["requests_accepted"] / (threshold + drain * total_elapsed)
    return {
        "budget_used": round(budget_used, 4),
        "query_limit_exceeded": int(final["query_limit_exceeded"]),
        "formula": FORMULA,
        "accepted_in_window": accepted,
        "window_s": round(window, 3),
        "drain_per_s": drain,
        "threshold": threshold,
        "budget_used_incl_burst": round(budget_used_incl_burst, 4),
        "formula_incl_burst": "accepted(start..t1) / (threshold + drain * (t1 - start))",
        "http_requests_total": int(final["requests"]),
        "accepted_total": int(final["requests_accepted"]),
        "worker_calls_ok": [o.get("calls_ok") for o in outputs],
        "worker_errors": sum(sum((o.get("errors") or {}).values()) for o in outputs),
        "worker_exit_codes": [o.get("exit_code") for o in outputs],
        "workers": workers, "seconds": seconds, "method": method,
        "load_average": load_average(),
        "target_met": bool(budget_used >= 0.95 and final["query_limit_exceeded"] == 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_limit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    parser.add_argument("--seconds", type=float, default=None, help="measured window (60)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--method", default="profile", help="a cheap REST method")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--member-id", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        until = min(args.until, time.time() + 3600)
        return child(args.member_id, args.method, args.start_at, until)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    seconds = max(1.0, min(seconds, 3600.0))
    workers = max(1, min(args.workers, 32))
    with running_stack(web=True) as stack:
        summary = run(stack, workers, seconds, args.method)
    emit(NAME, "summary", **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
