"""Event fan-out benchmark: what a new deal and a new lead cost when every capability listens.

  requests_per_new_deal  HTTP requests to the portal's /rest/ per new deal with fair
                         distribution (deals), the deal folder, the deal chat and the Drive
                         mirror all on, from quiet to quiet: the shared read of the delivery,
                         each subscriber's writes, and the echo (ONCRMDEALUPDATE) of the app's
                         own changes. The worst of N deals after a warm-up. Target <= 4.
  requests_per_new_lead  The same for a new lead (distribution only listens). No target.

Each (event, subscriber) is its own job; the delivery reads once what all of them need, so
isolation does not multiply reads. Everything the benchmark watches goes through the
emulator's control API, which is not counted as REST requests.

Run: .venv/bin/python -m bench.event_fanout [--quick]
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from bench.common import Stack, emit
from bench.deal_setup import CHAT_FIELD, AppView, link_writes, measured_portal, wait_quiet
from devstack.processes import wait_for

BENCH = "event_fanout"
GROUP = {"id": "sales", "name": "Sales", "entity_types": ["lead", "deal"], "departments": [2],
         "supervisors": [1], "placeholder_user_ids": [1],
         "auto": [{"entity": "lead"}, {"entity": "deal"}]}
SETTINGS = {"distribution": {"groups": [GROUP]},
            "deal_folders": {"enabled": True}, "deal_chats": {"enabled": True},
            "drive_mirror": {"enabled": True},
            "events": {"offline_backup": False}}  # drains would add requests of their own


def open_work_days(stack: Stack) -> None:
    for user in stack.control("GET", "portal")["users"]:
        stack.control("POST", "timeman", {"user_id": int(user["ID"]), "status": "OPENED"})


def assigned(stack: Stack, kind: str, item_id: int) -> bool:
    calls = stack.control("GET", f"calls?method=crm.{kind}.update")
    calls = calls.get("calls", calls) if isinstance(calls, dict) else calls
    return any(int((c.get("params") or {}).get("id") or 0) == item_id
               and "ASSIGNED_BY_ID" in ((c.get("params") or {}).get("fields") or {})
               for c in calls)


def cost(stack: Stack, app: AppView, kind: str, n: int) -> list[int]:
    """Requests per new item of `kind`, each measured from quiet to quiet."""
    counts: list[int] = []
    methods: Counter[str] = Counter()
    for i in range(n + 1):  # i == 0 warms caches: members, user fields, parent folder
        stack.reset_limits()
        before = wait_quiet(stack, app)
        by_method = Counter(stack.stats().get("http_by_method") or {})
        res = stack.control("POST", f"crm/{kind}", {"fields": {
            "TITLE": f"Fan-out {kind} {i}", "OPPORTUNITY": 50000, "CURRENCY_ID": "RUB",
            "ASSIGNED_BY_ID": 1}})
        item_id = int(res["id"])
        wait_for(lambda item_id=item_id: assigned(stack, kind, item_id), 60, 0.1,
                 what=f"{kind} {item_id} assigned")
        if kind == "deal":
            wait_for(lambda item_id=item_id: bool(
                (link_writes(stack).get(item_id) or {}).get("fields", {}).get(CHAT_FIELD)),
                60, 0.1, what=f"deal {item_id} set up")
        after = wait_quiet(stack, app)
        if i:
            counts.append(after - before)
            methods.update(Counter(stack.stats().get("http_by_method") or {}) - by_method)
    emit(BENCH, f"new_{kind}", items=n, per_item=counts, max=max(counts),
         mean=round(sum(counts) / len(counts), 3), http_by_method_total=dict(methods))
    return counts


def run(quick: bool) -> dict[str, Any]:
    n = 5 if quick else 15
    with measured_portal(BENCH, SETTINGS, prepare=open_work_days) as (stack, app, _):
        deals = cost(stack, app, "deal", n)
        leads = cost(stack, app, "lead", n)
    return {"requests_per_new_deal": max(deals), "requests_per_new_lead": max(leads),
            "target_per_new_deal": 4}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.event_fanout")
    parser.add_argument("--quick", action="store_true", help="5 items of each kind, not 15")
    args = parser.parse_args()
    emit(BENCH, "summary", **run(args.quick))


if __name__ == "__main__":
    main()
