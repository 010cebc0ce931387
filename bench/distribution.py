"""Fair distribution benchmark: REST cost, event-to-assignment latency, and fairness.

  requests_per_distribution  HTTP requests per robot distribution at steady state, group of 16
  p95_s                      ONCRMLEADADD leaving the emulator → responsible set, under the
                             real 2 req/s limit at one lead every 2 s
  spread_today               max − min of "received today" among managers who worked all day,
                             in a simulated day of 1,000 leads for 12 managers (equal weights)
  weighted_max_dev_pp        largest gap, in percentage points, between a manager's share and
                             their weight's share, in a simulated weighted day

Run: .venv/bin/python -m bench.distribution [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from bench.common import emit, latency_summary, percentile, running_stack
from devstack.processes import spawn, stop, wait_for, worker_args
from robots.distribution.policy import (
    CLOSED,
    LEAST_LOADED,
    OPENED,
    PAUSED,
    WEIGHTED,
    Member,
    decide,
)

BENCH = "distribution"


# fairness: a simulated working day, pure policy, no I/O -----------------------------------
def simulate_day(leads: int, managers: int, rule: str, weights: list[float],
                 shifts: dict[int, tuple[float, float]], breaks: dict[int, list[tuple[float,
                                                                                       float]]],
                 seed: int = 7, handle_s: float = 40 * 60.0, jitter_s: float = 0.0
                 ) -> dict[int, int]:
    """Leads over a 10-hour day; each stays in work `handle_s` seconds, then is closed."""
    rng = random.Random(seed)
    team = [Member(user_id=i + 1, weight=weights[i]) for i in range(managers)]
    closing: list[tuple[float, int]] = []
    day_s = 10 * 3600.0
    arrivals = sorted(rng.uniform(0, day_s) for _ in range(leads))
    for t in arrivals:
        for m in team:
            start, end = shifts.get(m.user_id, (0.0, day_s))
            on_break = any(a <= t < b for a, b in breaks.get(m.user_id, []))
            m.day = (PAUSED if on_break else OPENED) if start <= t < end else CLOSED
        still = []
        for when, uid in closing:
            if when <= t:
                team[uid - 1].in_work -= 1
            else:
                still.append((when, uid))
        closing = still
        decision = decide(team, rule)
        if decision.user_id is None:
            continue  # nobody on shift: would wait in the pending queue
        m = team[decision.user_id - 1]
        m.in_work += 1
        m.today += 1
        m.last_assigned_at = t
        closing.append((t + handle_s + rng.uniform(-jitter_s, jitter_s), m.user_id))
    return {m.user_id: m.today for m in team}


def fairness() -> dict[str, Any]:
    hour = 3600.0
    shifts = {11: (0, 5 * hour), 12: (5 * hour, 10 * hour)}  # two half-day managers
    breaks = {i: [(3 * hour + i * 600, 3.5 * hour + i * 600)] for i in range(1, 11)}
    equal = simulate_day(1000, 12, LEAST_LOADED, [1.0] * 12, shifts, breaks)
    full_day = [equal[i] for i in range(1, 11)]
    weights = [1, 1, 1, 2, 2, 2, 3, 3, 1, 1, 2, 1]
    weighted = simulate_day(1000, 12, WEIGHTED, [float(w) for w in weights], {}, {})
    total = sum(weighted.values())
    dev = max(abs(weighted[i + 1] / total - weights[i] / sum(weights)) * 100
              for i in range(12))
    jittery = simulate_day(1000, 12, LEAST_LOADED, [1.0] * 12, shifts, breaks, jitter_s=600)
    jittery_full = [jittery[i] for i in range(1, 11)]
    emit(BENCH, "fairness", received_today=equal, weighted=weighted, weights=weights,
         received_today_handling_30_to_50_min=jittery,
         spread_today_handling_30_to_50_min=max(jittery_full) - min(jittery_full),
         model="10 h day, leads uniform over the day, each in work 40 min; managers 11 and 12 "
               "work half days; 1-10 work all day with a 30-min break each")
    return {"spread_today": max(full_day) - min(full_day), "weighted_max_dev_pp": round(dev, 2)}


# REST cost and latency: the real stack ------------------------------------------------------
def _group(users: list[int], auto: bool) -> dict[str, Any]:
    group: dict[str, Any] = {"id": "bench", "name": "Bench", "entity_types": ["lead"],
                             "users": users, "supervisors": [1], "placeholder_user_ids": [1]}
    if auto:
        group["auto"] = [{"entity": "lead"}]
    # no offline-queue drains during the measurement: they would add their own requests
    return {"distribution": {"groups": [group]}, "events": {"offline_backup": False}}


def _settings(env: dict[str, str], member_id: str, doc: dict[str, Any]) -> None:
    from connector.config import load_settings
    from wiring import build_services

    services = build_services(load_settings(env))
    services.portal_settings.put(member_id, doc)
    services.redis.close()


def stack_phases(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with running_stack() as stack:
        info = stack.install()
        member_id = info["member_id"]
        users = [int(u["ID"]) for u in stack.portal()["users"] if u.get("ACTIVE") in (
            True, "Y")]
        while len(users) < 17:
            new = stack.control("POST", "users", {"NAME": f"Bench{len(users)}",
                                                  "LAST_NAME": "Manager", "UF_DEPARTMENT": [2]})
            users.append(int(new.get("ID") or new.get("id")))
        members = [u for u in users if u != 1][:16]
        for i, uid in enumerate(members):
            stack.control("POST", "timeman", {"user_id": uid,
                                              "status": "OPENED" if i % 4 else "PAUSED"})
        _settings(stack.env, member_id, _group(members, auto=False))
        # no periodic tasks during the measurement: they would add requests of their own
        worker = spawn(worker_args("--sweep-check-every", "3600"), stack.env,
                       stack.workdir / "worker.log")
        try:
            # REST cost: robot distributions, after one warm-up (member cache, chat)
            counts = []
            runs = 4 if quick else 20
            for n in range(runs + 1):
                lead = stack.control("POST", "crm/lead", {"fields": {
                    "TITLE": f"Bench lead {n}", "ASSIGNED_BY_ID": 1}})
                time.sleep(0.3)  # let the ONCRMLEADADD job (journal only) finish
                before = stack.stats()["requests"]
                run = stack.control("POST", "robots/run", {
                    "code": "fair_distribution",
                    "document_id": ["crm", "CCrmDocumentLead", f"LEAD_{lead['id']}"],
                    "document_type": ["crm", "CCrmDocumentLead", "LEAD"],
                    "properties": {"group": "bench"}})
                wait_for(lambda run=run: stack.control(
                    "GET", f"robots/results?event_token={run['event_token']}")["calls"], 30,
                    what="robot answer")
                time.sleep(0.2)
                if n:
                    counts.append(stack.stats()["requests"] - before)
            out["requests_per_distribution"] = max(counts)
            emit(BENCH, "rest_cost", group_size=len(members), runs=runs, per_run=counts,
                 naive=3 * len(members) + 3)

            # latency: automatic distribution on ONCRMLEADADD, one lead every 2 s
            _settings(stack.env, member_id, _group(members, auto=True))
            stack.reset_limits()
            leads = 10 if quick else 60
            created = []
            for n in range(leads):
                t0 = time.time()
                lead = stack.control("POST", "crm/lead", {"fields": {
                    "TITLE": f"Auto lead {n}", "ASSIGNED_BY_ID": 1}})
                created.append((int(lead["id"]), t0))
                time.sleep(max(0.0, 2.0 - (time.time() - t0)))
            time.sleep(3)
            latencies = []
            calls = stack.control("GET", "calls?method=crm.lead.update")
            calls = calls.get("calls", calls) if isinstance(calls, dict) else calls
            updated: dict[int, float] = {}
            for call in calls:
                params = call.get("params") or {}
                lid = int(params.get("id") or params.get("ID") or 0)
                updated.setdefault(lid, float(call["ts"]))
            deliveries = stack.control("GET", "deliveries")
            deliveries = deliveries.get("deliveries", deliveries) if isinstance(
                deliveries, dict) else deliveries
            sent: dict[int, float] = {}
            for d in deliveries:
                if d.get("event") == "ONCRMLEADADD":
                    body = str(d.get("body") or "")
                    for lid, _ in created:
                        if f"%5BID%5D={lid}&" in body or f"[ID]={lid}&" in body:
                            sent.setdefault(lid, float(d.get("ts") or d.get("started") or 0))
            for lid, t0 in created:
                start = sent.get(lid) or t0
                if lid in updated:
                    latencies.append(updated[lid] - start)
            summary = latency_summary(sorted(latencies))
            stats = stack.stats()
            emit(BENCH, "latency", leads=leads, assigned=len(latencies), **summary,
                 query_limit_exceeded=stats.get("query_limit_exceeded"))
            out["p95_s"] = round(percentile(sorted(latencies), 95), 3)
        finally:
            stop([worker])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.distribution")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fairness-only", action="store_true")
    args = parser.parse_args()
    result = fairness()
    if not args.fairness_only:
        result.update(stack_phases(args.quick))
    emit(BENCH, "summary", **result)


if __name__ == "__main__":
    main()
