"""The fault suite: real processes on loopback, a fault each, then what the portal holds.

Every scenario prints one JSON line {"scenario", "sent", "completed", "lost", "duplicated",
"recovery_s", ...}; the run ends with {"lost", "duplicated", "recovery_s_max", "http_5xx"}.
"lost" and "duplicated" are read from the emulator (Disk folders, chats, timeline comments,
robot answers) and the fake Drive (files by their source tag), never from the app.
"http_5xx" counts the app's 5xx answers to the portal (the emulator's deliveries).

  concurrent_first_deals  deals at once on a freshly enabled portal, several workers racing
  worker_kill             kill -9 of the worker (and its horse) mid-job, a new worker at once
  redis_restart           redis-server (AOF) stopped and started on its port, timers pending
  rest_storms             every REST call answers 503, then 429, for a while
  web_down                gunicorn stopped while deals are made; the offline queue catches up
  drive_storms            the fake Drive answers 429, then 503, for a while, to a deal's files
  drive_burst             the next 12 Drive requests answer 429, the 12 after them 503

Run: .venv/bin/python -m bench.faults [--quick] [--only name,name]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench.common import emit
from bench.faults_rig import (
    QUIET,
    WORKSPACE,
    Rig,
    add_counts,
    app_5xx,
    folders,
    new_deals,
    rig,
    robot_counts,
    run_robots,
    wait_until,
    workspace_counts,
)

BENCH = "faults"


def _line(name: str, r: Rig, counts: dict[str, int], recovery_s: float | None,
          **extra: Any) -> dict[str, Any]:
    return {"scenario": name, **counts,
            "recovery_s": None if recovery_s is None else round(recovery_s, 2),
            "http_5xx": app_5xx(r.stack), **extra}


def _all_done(count: Callable[[], dict[str, int]]) -> Callable[[], bool]:
    def done() -> bool:
        c = count()
        return c["completed"] + c["duplicated"] >= c["sent"]
    return done


def concurrent_first_deals(deals: int = 8, workers: int = 3) -> dict[str, Any]:
    """Deals at once on a new portal, `workers` racing over its fields, folders and chats."""
    with rig({**WORKSPACE, **QUIET}) as r:
        # a slow field creation widens the window between "is it there?" and "it is"
        r.stack.control("POST", "faults", {"method": "crm.deal.userfield.add",
                                           "latency_ms": 1500})
        made = new_deals(r.stack, deals, "Race")  # queued before any worker runs
        sent_at = time.time()
        r.start_workers(workers)
        count = lambda: workspace_counts(r.stack, made)  # noqa: E731
        done_at = wait_until(_all_done(count), 120, "a folder and a chat per deal")
        r.quiet()
        return _line("concurrent_first_deals", r, count(), done_at - sent_at,
                     workers=workers)


def _started_jobs(r: Rig) -> int:
    from rq.registry import StartedJobRegistry

    return sum(StartedJobRegistry(queue=q).count for q in r.app.services.queues.queues.values())


def worker_kill(deals: int = 3, robots: int = 3) -> dict[str, Any]:
    """kill -9 of the only worker and its work-horse while a slow job runs; a new one starts
    at once. The job the dead worker held is retried once its alive key expired (10 s)."""
    with rig({**WORKSPACE, **QUIET}) as r:
        r.start_workers(1)
        r.quiet()
        deal_id = next(iter(new_deals(r.stack, 1, "Robots")))
        r.quiet()
        r.stack.control("POST", "faults", {"method": "im.chat.add", "latency_ms": 4000})
        r.stack.control("POST", "faults", {"method": "crm.timeline.comment.add",
                                           "latency_ms": 4000})
        runs = run_robots(r.stack, deal_id, [f"Kill note {i}" for i in range(robots)])
        made = new_deals(r.stack, deals, "Kill")
        wait_until(lambda: _started_jobs(r) > 0, 30, "a job in flight")
        time.sleep(1.0)  # inside the slow REST call
        r.kill_workers()
        killed_at = time.time()
        r.stack.control("DELETE", "faults")
        r.start_workers(1)
        count = lambda: add_counts(workspace_counts(r.stack, made),  # noqa: E731
                                   robot_counts(r.stack, runs))
        done_at = wait_until(_all_done(count), 200, "every job after the kill")
        r.quiet(180)
        return _line("worker_kill", r, count(), done_at - killed_at,
                     deals=workspace_counts(r.stack, made), robots=robot_counts(r.stack, runs))


def redis_restart(timers: int = 20, deals: int = 3, down_s: float = 5.0) -> dict[str, Any]:
    """redis-server (AOF) stopped and started on its port under a running worker, with
    timers due before, during and after the outage and deals' jobs in flight."""
    from connector.timers import Timers

    with rig({**WORKSPACE, **QUIET}) as r:
        r.start_workers(1)
        r.quiet()
        services = r.app.services
        tm = Timers(services.queues, services.redis, services.settings.queue_prefix)
        first = time.time() + 3
        window = down_s + 8
        due = {n: first + window * n / timers for n in range(timers)}
        for n, at in due.items():
            tm.schedule(r.member_id, "faults", f"t{n}", at, "bench.timers.record", ["redis", n])
        r.stack.control("POST", "faults", {"method": "im.chat.add", "latency_ms": 1000})
        made = new_deals(r.stack, deals, "Outage")
        time.sleep(max(0.0, first + 1 - time.time()))  # a timer fired, chats in flight
        up_at = r.restart_redis(down_s)
        r.stack.control("DELETE", "faults")

        def fired() -> dict[int, float]:
            raw = services.redis.hgetall("bench:timers:redis:start")
            return {int(k): float(v) for k, v in raw.items()}

        ok_at = wait_until(lambda: r.healthz().get("scheduler", {}).get("ok"), 120,
                           "/healthz scheduler.ok again")
        count = lambda: add_counts(workspace_counts(r.stack, made), {  # noqa: E731
            "sent": timers, "completed": len(fired()), "lost": timers - len(fired()),
            "duplicated": 0})
        wait_until(lambda: len(fired()) >= timers and _all_done(count)(), 200,
                   "every timer and deal after the restart")
        r.quiet(180)
        runs = services.redis.hgetall("bench:timers:redis:runs")
        doubled = sum(1 for v in runs.values() if int(v) > 1)
        starts = fired()
        overdue = [starts[n] - up_at for n, at in due.items() if at <= up_at and n in starts]
        c = count()
        c["duplicated"] += doubled
        return _line("redis_restart", r, c, max([ok_at - up_at, *overdue]), down_s=down_s,
                     scheduler_ok_after_s=round(ok_at - up_at, 2))


def rest_storms(storm_s: float = 15.0, deals: int = 3, robots: int = 3) -> dict[str, Any]:
    """Every REST call answers 503 QUERY_LIMIT_EXCEEDED for `storm_s`, then 429 for as long,
    while robots run and deals arrive; each must complete once after the storm."""
    with rig({**WORKSPACE, **QUIET}) as r:
        r.start_workers(1)
        r.quiet()
        deal_id = next(iter(new_deals(r.stack, 1, "Storm")))
        r.quiet()
        runs: dict[str, str] = {}
        made: dict[int, str] = {}
        for code, status in (("QUERY_LIMIT_EXCEEDED", 503), ("OPERATION_TIME_LIMIT", 429)):
            r.stack.control("POST", "faults", {"method": "*", "error": code, "status": status,
                                               "count": 10**6})
            runs.update(run_robots(r.stack, deal_id,
                                   [f"Storm {status} note {i}" for i in range(robots)]))
            made.update(new_deals(r.stack, deals, f"Storm {status}"))
            time.sleep(storm_s)
            r.stack.control("DELETE", "faults")
        ended_at = time.time()
        count = lambda: add_counts(workspace_counts(r.stack, made),  # noqa: E731
                                   robot_counts(r.stack, runs))
        done_at = wait_until(_all_done(count), 200, "every job after the storms")
        r.quiet(180)
        return _line("rest_storms", r, count(), done_at - ended_at, storm_s=storm_s,
                     failed_jobs=r.app.services.queues.failed_count())


def web_down(down_s: float = 15.0, deals: int = 4) -> dict[str, Any]:
    """gunicorn stopped while deals are made: the portal keeps their events in its offline
    queue and the workers' drain turns them into jobs once the web tier is back."""
    settings = {**WORKSPACE, "events": {"offline_backup": True, "drain_every_s": 10}}
    with rig(settings) as r:
        r.start_workers(1)
        r.quiet()
        made = r.restart_web(down_s, lambda: new_deals(r.stack, deals, "Offline"))
        up_at = time.time()
        queued = r.stack.portal()["offline_queue"]
        count = lambda: workspace_counts(r.stack, made)  # noqa: E731
        done_at = wait_until(_all_done(count), 120, "every deal after the web is back")
        r.quiet(60)
        return _line("web_down", r, count(), done_at - up_at, down_s=down_s,
                     offline_queued=queued)


def connect_google(r: Rig, drive: Any) -> None:
    """The admin's path (signed link, the fake's consent, the app's callback), judged by the
    stored connection, not by the page's words (it speaks the portal's language)."""
    from robots.drive_mirror import connection

    token = connection.connect_token(drive.services, r.member_id)
    resp = r.stack.http.get(f"{r.stack.app_url}/google/connect?t={token}", timeout=30)
    state = connection.status(drive.services, r.member_id)["status"]
    if resp.status_code != 200 or state != "connected":
        raise RuntimeError(f"Google connect failed: HTTP {resp.status_code}, {state!r}")


def _drive_rig(files: int, fault: Callable[[Any, Callable[[], None]], float]
               ) -> dict[str, Any]:
    """A deal with `files` Disk files on a portal mirroring to the fake Drive; `fault(fake,
    touch)` breaks the Drive, has the deal's files copied (`touch()`) and returns the time
    the fault ended. Returns the counts, `recovery_s` from that end to the last file on the
    Drive, how many requests the fake failed and the app's 5xx answers."""
    from bench.drive_mirror import App, FakeDriveProcess, b24_tag, touch

    fake = FakeDriveProcess()
    settings = {"deal_folders": {"enabled": True}, "drive_mirror": {"enabled": True}, **QUIET}
    with rig(settings, env=fake.app_env(),
             prepare=lambda stack, app, mid: fake.start(stack.workdir)) as r:
        try:
            drive = App(r.stack, r.member_id)
            connect_google(r, drive)
            r.start_workers(1)
            ((deal_id, name),) = new_deals(r.stack, 1, "Drive").items()
            wait_until(lambda: folders(r.stack).get(name), 60, "the deal's folder")
            (folder_id,) = folders(r.stack)[name]
            r.quiet()
            disk = [r.stack.control("POST", "disk/files", {
                "folder_id": folder_id, "name": f"scan-{i}.pdf", "size": 256 * 1024,
                "seed": i})["id"] for i in range(files)]

            def count() -> dict[str, int]:
                """Per file, the Drive files of that source (src=b24:<account16>:disk:<id>)."""
                tagged = [len(fake.tagged(b24_tag(r.member_id, d))) for d in disk]
                return {"sent": files, "completed": sum(1 for n in tagged if n == 1),
                        "lost": sum(1 for n in tagged if n == 0),
                        "duplicated": sum(1 for n in tagged if n > 1)}

            ended_at = fault(fake, lambda: touch(r.stack, deal_id, "files added"))
            done_at = wait_until(_all_done(count), 300, "every file on the Drive")
            r.quiet(120)
            return {**count(), "recovery_s": round(done_at - ended_at, 2),
                    "http_5xx": app_5xx(r.stack),
                    "faults_served": fake.state().get("counters", {}).get("faults")}
        finally:
            fake.stop()


def _fail_next(fake: Any, **fault: Any) -> None:
    import requests

    requests.post(fake.url + "_fake/fail_next", json=fault, timeout=10).raise_for_status()


def drive_storms(files: int = 4, storm_s: float = 15.0) -> dict[str, Any]:
    """The fake Drive answers every request with 429 (Retry-After: 2 s) for `storm_s`, then
    with 503 for as long, while a deal's files are copied: each file must be on the Drive
    exactly once, soon after the storm ends (recovery_s counts from its end)."""
    def storm(fake: Any, touch: Callable[[], None]) -> float:
        _fail_next(fake, seconds=storm_s, status=429, reason="rateLimitExceeded",
                   retry_after=2)
        touch()
        time.sleep(storm_s)
        _fail_next(fake, seconds=storm_s, status=503, reason="backendError")
        time.sleep(storm_s)
        return time.time()

    return {"scenario": "drive_storms", **_drive_rig(files, storm), "storm_s": storm_s}


def drive_burst(files: int = 4, faults: int = 12, retry_after: int | None = 1
                ) -> dict[str, Any]:
    """The next `faults` Drive requests answer 429 (with `Retry-After: retry_after` s), the
    `faults` after them 503, while a deal's files are copied (the issue's figure: recovery_s
    counts from the copies' start: how long the client takes to get through the failures)."""
    def burst(fake: Any, touch: Callable[[], None]) -> float:
        _fail_next(fake, n=faults, status=429, reason="rateLimitExceeded",
                   retry_after=retry_after)
        _fail_next(fake, n=faults, status=503, reason="backendError")
        touch()
        return time.time()

    return {"scenario": "drive_burst", **_drive_rig(files, burst)}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "concurrent_first_deals": concurrent_first_deals, "worker_kill": worker_kill,
    "redis_restart": redis_restart, "rest_storms": rest_storms, "web_down": web_down,
    "drive_storms": drive_storms, "drive_burst": drive_burst}
QUICK: dict[str, dict[str, Any]] = {  # sizes for --quick (about a minute less in all)
    "concurrent_first_deals": {"deals": 8}, "worker_kill": {"deals": 2, "robots": 2},
    "redis_restart": {"timers": 10, "deals": 2, "down_s": 3.0},
    "rest_storms": {"storm_s": 6.0, "deals": 2, "robots": 2},
    "web_down": {"down_s": 6.0, "deals": 3}, "drive_storms": {"files": 3, "storm_s": 6.0},
    "drive_burst": {"files": 3, "faults": 6}}
FULL: dict[str, dict[str, Any]] = {
    "concurrent_first_deals": {"deals": 16, "workers": 3}}


def summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    recoveries = [x["recovery_s"] for x in lines if x.get("recovery_s") is not None]
    return {"lost": sum(x["lost"] for x in lines),
            "duplicated": sum(x["duplicated"] for x in lines),
            "recovery_s_max": max(recoveries, default=None),
            "http_5xx": sum(x.get("http_5xx", 0) for x in lines)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter faults")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    sizes = QUICK if args.quick else FULL
    lines = []
    for name in names:
        started = time.monotonic()
        line = SCENARIOS[name](**sizes.get(name, {}))
        lines.append(emit(BENCH, name, **line, seconds=round(time.monotonic() - started, 1)))
    out = summary(lines)
    emit(BENCH, "summary", **out)
    return 0 if out["lost"] == 0 and out["duplicated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
