"""Watchdogs benchmark: items under watch on several emulated portals, reminders 0 minutes
before a date field whose values are spread over a window, at the emulator's real limits.

  lateness_p99_s             due time → the reminder task created in the emulator (target ≤ 60)
  rest_requests_per_reminder REST requests the portals received while reminders came due,
                             per reminder (reads of the item, people and task tag; the write)
  duplicates                 deals with more than one reminder task (target 0)
  missed                     deals with none by the end (target 0)
  watch_set_s                the deals made → every one of them under watch (its reminder's
                             timer set from its creation event); watched_at_first_due: how
                             many were by the first due time

The second run is the same across a kill -9 of every worker (new ones at once) at 30 % of the
window and the web tier down for `--outage-s` from 40 %.

Run: .venv/bin/python -m bench.watchdogs [--items 5000 --portals 10] [--quick] [--outage-s 300]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import emit, load_average, percentile
from bench.faults_rig import QUIET, Rig, rig
from devstack.processes import wait_for

BENCH = "watchdogs"
FIELD = "UF_CRM_BENCH_DUE"
RULE = {"watchdogs": {"date_reminders": [{"id": "due", "name": "Bench", "field": FIELD,
                                          "before_minutes": 0}]}}
MSK = ZoneInfo("Europe/Moscow")


def add_portals(r: Rig, n: int) -> list[str]:
    """The demo portal and n-1 more, each with the app installed and the rule saved."""
    from connector.settings_audit import save

    members = [r.member_id]
    for i in range(1, n):
        portal = r.stack.control("POST", "portals", {"domain": f"bench{i}.bitrix24.test"})
        r.stack.control("POST", "install", {"member_id": portal["member_id"],
                                            "event": "after"})
        members.append(portal["member_id"])
    store = r.app.services.store
    wait_for(lambda: all(store.get_tokens(m) for m in members), 30, 0.2, "tokens stored")
    for m in members[1:]:  # like the demo portal: events online, no offline drains
        save(r.app.services, m, {**RULE, **QUIET}, "bench")
    return members


def make_items(r: Rig, members: list[str], count: int, first_due: float, window_s: float,
               tag: str) -> dict[tuple[str, int], float]:
    """`count` deals round-robin over the portals, due evenly over the window: {(m, id): due}."""
    def one(n: int) -> tuple[tuple[str, int], float]:
        member = members[n % len(members)]
        due = float(int(first_due + window_s * n / count))
        stamp = datetime.fromtimestamp(due, MSK).isoformat()
        got = r.stack.control("POST", "crm/deal", {"member_id": member, "fields": {
            "TITLE": f"{tag} {n}", "ASSIGNED_BY_ID": 1, FIELD: stamp}})
        return (member, int(got["id"])), due

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, range(count)))


def reminders(r: Rig, members: list[str]) -> dict[tuple[str, int], list[float]]:
    """The reminder tasks each deal has in its portal, as their creation times."""
    out: dict[tuple[str, int], list[float]] = {}
    for m in members:
        tasks = r.stack.http.get(f"{r.stack.emu_url}/_emulator/tasks",
                                 params={"member_id": m}, timeout=120).json()
        for task in tasks:
            for bound in task.get("ufCrmTask") or ():
                if str(bound).startswith("D_"):
                    created = datetime.fromisoformat(str(task["createdDate"])).timestamp()
                    out.setdefault((m, int(str(bound)[2:])), []).append(created)
    return out


def watching(r: Rig, due: dict[tuple[str, int], float]) -> int:
    """How many of the deals have their reminder pending (the engine's due set)."""
    from connector.context import JobContext
    from robots.watchdogs import watch

    by_member: dict[str, list[int]] = {}
    for m, deal_id in due:
        by_member.setdefault(m, []).append(deal_id)
    redis, n = r.app.services.redis, 0
    for m, ids in by_member.items():
        ctx = JobContext.load(r.app.services, m, capability="watchdogs")
        assert ctx is not None
        scores = redis.zmscore(watch.due_key(ctx), [f"due|deal|{i}" for i in ids])
        n += sum(1 for s in scores if s is not None)
    return n


def one_run(r: Rig, members: list[str], count: int, window_s: float, lead_s: float,
            tag: str, outage_s: float = 0.0) -> dict[str, Any]:
    first_due = time.time() + lead_s
    due = make_items(r, members, count, first_due, window_s, tag)
    made_at = time.time()
    r.stack.reset_stats()
    faulted = outage_s > 0
    killed_at = down_at = watch_set_at = None
    watched_at_first_due = None
    deadline = first_due + window_s + 120 + outage_s
    while time.time() < deadline:
        now = time.time()
        if watch_set_at is None and watched_at_first_due is None:  # before reminders fire
            watched = watching(r, due)
            if watched == count:
                watch_set_at = now
            elif now >= first_due:
                watched_at_first_due = watched
        if faulted and killed_at is None and now >= first_due + 0.3 * window_s:
            r.kill_workers()
            r.start_workers(WORKERS)
            killed_at = now
        if faulted and down_at is None and now >= first_due + 0.4 * window_s:
            down_at = now
            r.restart_web(outage_s, lambda: None)
        if now > first_due + window_s:
            got = reminders(r, members)
            if all(k in got for k in due):
                break
            time.sleep(2)
        time.sleep(0.25)
    got = reminders(r, members)
    stats = r.stack.stats()
    lateness = sorted(min(got[k]) - at for k, at in due.items() if k in got)
    made = sum(len(v) for k, v in got.items() if k in due)
    return {
        "items": count, "portals": len(members), "window_s": window_s,
        "faults": {"worker_kill_at_s": round(killed_at - first_due, 1) if killed_at else None,
                   "web_down_s": outage_s if down_at else 0},
        "set_up_s": round(made_at - (first_due - lead_s), 1),
        "watch_set_s": round(watch_set_at - made_at, 1) if watch_set_at else None,
        "watched_at_first_due": count if watch_set_at else watched_at_first_due,
        "lateness_p50_s": round(percentile(lateness, 50), 1),
        "lateness_p99_s": round(percentile(lateness, 99), 1),
        "lateness_max_s": round(lateness[-1], 1) if lateness else None,
        "rest_requests_per_reminder": round(int(stats["requests"]) / made, 2) if made else None,
        "query_limit_exceeded": stats.get("query_limit_exceeded"),
        "duplicates": sum(1 for k in due if len(got.get(k, ())) > 1),
        "missed": sum(1 for k in due if k not in got),
        "load_1m": load_average(),
    }


WORKERS = 4
SET_UP_PER_S = 8.0  # deals made → under watch, all four workers on it (10.7/s measured)


def run(items: int, portals: int, window_s: float, lead_s: float, outage_s: float,
        phases: tuple[str, ...] = ("steady", "kill_and_outage")) -> list[dict[str, Any]]:
    lines = []
    with rig(RULE) as r:
        r.start_workers(WORKERS)
        members = add_portals(r, portals)
        r.quiet(120)
        if "steady" in phases:
            lines.append(emit(BENCH, "steady", **one_run(r, members, items, window_s, lead_s,
                                                         "Steady")))
            r.quiet(300)
        if "kill_and_outage" in phases:
            lines.append(emit(BENCH, "kill_and_outage", **one_run(
                r, members, items, window_s, lead_s, "Faulted", outage_s=outage_s)))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--portals", type=int, default=10)
    parser.add_argument("--window-s", type=float, default=900.0,
                        help="due times spread over this window")
    parser.add_argument("--outage-s", type=float, default=300.0,
                        help="how long the web tier is down in the second run")
    parser.add_argument("--phases", default="steady,kill_and_outage",
                        help="which runs: steady, kill_and_outage (comma-separated)")
    parser.add_argument("--quick", action="store_true",
                        help="90 items on 3 portals over 20 s, a 3 s outage")
    args = parser.parse_args(argv)
    if args.quick:
        run(90, 3, 20.0, 25.0, 3.0)
    else:
        # the items are under watch before the first comes due: setting a timer costs a read
        # per item at 2 req/s per portal (after a burst of 50) and two jobs per item, which the
        # workers do at about SET_UP_PER_S items a second on the 2-core development machine
        lead = max(30.0, (args.items / args.portals - 50) / 2 + 30,
                   args.items / SET_UP_PER_S + 30)
        run(args.items, args.portals, args.window_s, lead, args.outage_s,
            tuple(args.phases.split(",")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
