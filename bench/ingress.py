"""Ingress answer time: POST /events and POST /robots/timeline_note under concurrent clients.

Bitrix24 waits for our answer (and gives up on slow handlers), so what matters is the time
from sending a delivery to having the 200 back, with every delivery really verified and
enqueued. The bodies are the raw ones a portal sends (tests/fixtures), each made distinct
(own ID/ts, own event_token) so the deduplication never short-cuts a request.

The floor is measured in the same run: a bare Flask app (bench.bare_app, which only reads
the body) behind its own gunicorn of the same shape, driven by the same client with the same
bodies. Rounds alternate which of the two goes first (bare, app; app, bare; ...), so a load
that drifts during the run weighs on both alike. `ratio` is app rps / bare rps.

    .venv/bin/python -m bench.ingress [--quick] [--requests N] [--clients N] [--rounds N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench.common import (
    Stack,
    cpu_count,
    emit,
    latency_summary,
    load_average,
    running_stack,
    wait_up,
)
from devstack.processes import free_port, gunicorn_args, spawn

NAME = "ingress"
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
EVENT_FIXTURE = "ONCRMDEALADD__basic"
ROBOT_FIXTURE = "ROBOT__timeline_note__basic"
ROBOT_CODE = "timeline_note"
FORM = "application/x-www-form-urlencoded"
TARGET_P99_MS = 20.0
TARGET_RATIO = 0.7
BARE_APP = "bench.bare_app:app"


@dataclass(frozen=True)
class Delivery:
    """One prepared request: the path it goes to and its raw form body."""

    path: str
    body: bytes


@dataclass
class Outcome:
    """What one client thread saw: latencies per path and every kind of failure."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    app_seconds: list[float] = field(default_factory=list)  # the app's own Server-Timing
    errors: Counter[str] = field(default_factory=Counter)


def fill(template: str, values: dict[str, Any]) -> bytes:
    """Put URL-encoded values into a fixture's {placeholders}, as a portal would send them."""
    text = template
    for key, value in values.items():
        text = text.replace("{" + key + "}", quote(str(value), safe=""))
    if "{" in text:
        raise ValueError(f"unfilled placeholder in fixture: {text[text.index('{'):][:40]}")
    return text.encode()


def prepare(count: int, first_id: int, portal: dict[str, Any]) -> list[Delivery]:
    """`count` distinct deliveries, events and robots alternating, built before timing."""
    event_tpl = (FIXTURES / f"{EVENT_FIXTURE}.txt").read_text().strip()
    robot_tpl = (FIXTURES / f"{ROBOT_FIXTURE}.txt").read_text().strip()
    base_ts = int(time.time())
    common = {"domain": portal["domain"], "member_id": portal["member_id"],
              "application_token": portal["application_token"]}
    out: list[Delivery] = []
    for n in range(count):
        i = first_id + n
        values = {**common, "id": i, "ts": base_ts + i}
        if n % 2 == 0:
            out.append(Delivery("/events", fill(event_tpl, values)))
        else:
            values["event_token"] = f"{secrets.token_hex(8)}|{i}|bench"
            out.append(Delivery(f"/robots/{ROBOT_CODE}", fill(robot_tpl, values)))
    return out


def drive(app_url: str, deliveries: list[Delivery], clients: int, enqueues: bool = True
          ) -> tuple[Outcome, float]:
    """Send every delivery once over `clients` keep-alive connections; returns wall seconds.

    With `enqueues` each 200 must also say the delivery was taken as new work."""
    parts = urlsplit(app_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lock = threading.Lock()
    cursor = iter(deliveries)
    start = threading.Barrier(clients + 1)
    outcomes = [Outcome() for _ in range(clients)]

    def take() -> Delivery | None:
        with lock:
            return next(cursor, None)

    def client(out: Outcome) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        start.wait()
        try:
            while (d := take()) is not None:
                headers = {"Content-Type": FORM, "Content-Length": str(len(d.body))}
                t0 = time.perf_counter()
                try:
                    conn.request("POST", d.path, d.body, headers)
                    resp = conn.getresponse()
                    raw = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    out.errors[f"{d.path}:{type(exc).__name__}"] += 1
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                    continue
                elapsed = time.perf_counter() - t0
                path = d.path
                out.latencies.setdefault(path, []).append(elapsed)
                timing = resp.getheader("Server-Timing") or ""
                if "dur=" in timing:
                    out.app_seconds.append(float(timing.split("dur=")[1]) / 1000)
                if resp.status != 200:
                    out.errors[f"{path}:HTTP {resp.status}"] += 1
                    continue
                if not enqueues:
                    continue
                try:
                    answer = json.loads(raw)
                except ValueError:
                    out.errors[f"{path}:not JSON"] += 1
                    continue
                if not answer.get("ok") or answer.get("duplicate") is not False:
                    out.errors[f"{path}:not enqueued"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(o,), daemon=True) for o in outcomes]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - t0
    return merge(outcomes), wall


def merge(outcomes: list[Outcome]) -> Outcome:
    merged = Outcome()
    for o in outcomes:
        for path, values in o.latencies.items():
            merged.latencies.setdefault(path, []).extend(values)
        merged.app_seconds.extend(o.app_seconds)
        merged.errors.update(o.errors)
    return merged


def queued(stack: Stack) -> dict[str, int]:
    """Work waiting per queue: the proof that each accepted delivery became a job."""
    from connector.config import load_settings
    from wiring import build_services

    services = build_services(load_settings(stack.env))
    try:
        return services.queues.depth()
    finally:
        services.redis.close()


def start_bare(stack: Stack, workers: int, threads: int) -> str:
    """The floor's gunicorn beside the app's, same shape; stopped with the stack."""
    port = free_port()
    log = stack.workdir / "bare.log"
    proc = spawn(gunicorn_args(port, workers, threads, app=BARE_APP), stack.env, log)
    stack.procs.append(proc)
    stack.logs["bare"] = log
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/healthz", proc, "bare gunicorn")
    return url


def measure(stack: Stack, bare_url: str, portal: dict[str, Any], total: int, clients: int,
            rounds: int) -> tuple[Outcome, float, Outcome, float]:
    """`total` deliveries to the app and as many to the bare app, in alternating rounds."""
    app, bare = [], []
    app_wall = bare_wall = 0.0
    per_round = max(1, total // rounds)
    for r in range(rounds):
        count = per_round if r < rounds - 1 else total - per_round * (rounds - 1)
        first = 1_000_000 + r * per_round
        order = ("bare", "app") if r % 2 == 0 else ("app", "bare")
        for which in order:
            if which == "bare":
                out, wall = drive(bare_url, prepare(count, first, portal), clients, False)
                bare.append(out)
                bare_wall += wall
            else:
                out, wall = drive(stack.app_url, prepare(count, first, portal), clients)
                app.append(out)
                app_wall += wall
    return merge(app), app_wall, merge(bare), bare_wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingress", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run (a few seconds)")
    parser.add_argument("--requests", type=int, default=None, help="measured requests (5000)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=None, help="unmeasured requests first")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating rounds of bare and app (6; 1 with --quick)")
    args = parser.parse_args(argv)
    total = args.requests or (400 if args.quick else 5000)
    warmup = args.warmup if args.warmup is not None else (50 if args.quick else 200)
    total = max(1, min(total, 200_000))
    clients = max(1, min(args.clients, 256))
    rounds = max(1, min(args.rounds or (1 if args.quick else 6), total))

    with running_stack(web=True, web_workers=args.web_workers,
                       web_threads=args.web_threads) as stack:
        emit(NAME, "stack", app_url=stack.app_url, emulator_url=stack.emu_url,
             gunicorn={"workers": args.web_workers, "threads": args.web_threads,
                       "worker_class": "gthread"},
             cpus=cpu_count(), clients=clients, load_average=load_average())
        install = stack.install()
        portal = stack.portal()
        emit(NAME, "install", member_id=portal["member_id"], installed=install["installed"])
        bare_url = start_bare(stack, args.web_workers, args.web_threads)
        if warmup:
            drive(bare_url, prepare(warmup, 1, portal), clients, False)
            warm, warm_wall = drive(stack.app_url, prepare(warmup, 1, portal), clients)
            emit(NAME, "warmup", requests=warmup, seconds=round(warm_wall, 3),
                 errors=sum(warm.errors.values()), **latency_summary(
                     [x for v in warm.latencies.values() for x in v]))

        before = queued(stack)
        outcome, wall, bare, bare_wall = measure(stack, bare_url, portal, total, clients,
                                                 rounds)
        all_latencies = [x for v in outcome.latencies.values() for x in v]
        by_path: dict[str, Any] = {}
        for path, values in sorted(outcome.latencies.items()):
            by_path[path] = latency_summary(values)
            emit(NAME, "path", path=path, **by_path[path])
        after = queued(stack)
        new_jobs = sum(after.values()) - sum(before.values())
        errors = sum(outcome.errors.values())
        bare_errors = sum(bare.errors.values())
        overall = latency_summary(all_latencies)
        floor = latency_summary([x for v in bare.latencies.values() for x in v])
        rps = round(total / wall, 1) if wall else None
        bare_rps = round(total / bare_wall, 1) if bare_wall else None
        ratio = round(rps / bare_rps, 3) if rps and bare_rps else None
        emit(NAME, "bare", note="the floor: Flask reading the body, same gunicorn and client",
             requests=total, seconds=round(bare_wall, 3), errors=bare_errors,
             error_kinds=dict(bare.errors), **floor)
        in_app = latency_summary(outcome.app_seconds)
        emit(NAME, "in_app", note="time inside the app (Server-Timing), without queueing",
             **in_app)
        emit(NAME, "run", requests=total, seconds=round(wall, 3), errors=errors,
             error_kinds=dict(outcome.errors), jobs_enqueued=new_jobs, **overall)
        emit(NAME, "summary",
             rps=rps, bare_rps=bare_rps, ratio=ratio, p99_ms=overall["p99_ms"],
             bare_p99_ms=floor["p99_ms"], errors=errors, bare_errors=bare_errors,
             p50_ms=overall["p50_ms"], bare_p50_ms=floor["p50_ms"], requests=total,
             rounds=rounds,
             mean_ms=overall["mean_ms"], p90_ms=overall["p90_ms"], max_ms=overall["max_ms"],
             by_path={p: {"n": s["n"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"]}
                      for p, s in by_path.items()},
             app_p50_ms=in_app.get("p50_ms"), app_p99_ms=in_app.get("p99_ms"),
             jobs_enqueued=new_jobs, warmup_requests=warmup, clients=clients,
             gunicorn=f"{args.web_workers} workers x {args.web_threads} gthreads",
             cpus=cpu_count(), load_average=load_average(), target_ratio=TARGET_RATIO,
             target_met=bool(ratio is not None and ratio >= TARGET_RATIO and errors == 0
                             and new_jobs == total), target_p99_ms=TARGET_P99_MS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
