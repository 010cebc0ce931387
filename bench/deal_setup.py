"""Deal set-up benchmark: REST cost and event-to-link latency of a new deal's folder and chat.

  requests_per_deal  HTTP requests to the portal's /rest/ per new deal (folder, link, chat and
                     the echo of our own crm.deal.update), at steady state: the worst of N
                     deals created one by one after a warm-up deal. Target <= 3.
  p95_s              ONCRMDEALADD leaving the emulator (its delivery timestamp) -> the
                     crm.deal.update that writes UF_CRM_CC_FOLDER reaching the emulator (its
                     call timestamp), under the real 2 req/s limit at one deal every 2 s.
                     Target <= 2 s.

Everything the benchmark watches goes through the emulator's control API (/_emulator/...),
which the emulator does not count as REST requests, so watching never changes the count.
One long-lived worker runs with periodic tasks pushed out of the window (--sweep-check-every 3600).

Run: .venv/bin/python -m bench.deal_setup [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import (
    Stack,
    cpu_count,
    emit,
    latency_summary,
    load_average,
    percentile,
    reset_app_bucket,
    running_stack,
)
from devstack.processes import spawn, stop, wait_for, worker_args

BENCH = "deal_setup"
LINK_FIELD = "UF_CRM_CC_FOLDER"
CHAT_FIELD = "UF_CRM_CC_CHAT"
SETTINGS = {"deal_folders": {"enabled": True}, "deal_chats": {"enabled": True},
            # no offline-queue drains during the measurement: they add requests of their own
            "events": {"offline_backup": False}}


class AppView:
    """The app's own services on the stack's Redis: settings in, queue state out."""

    def __init__(self, env: dict[str, str]) -> None:
        from connector.config import load_settings
        from wiring import build_services

        self.services = build_services(load_settings(env))

    def put_settings(self, member_id: str, doc: dict[str, Any]) -> None:
        self.services.portal_settings.put(member_id, doc)

    def busy(self) -> int:
        """Deliveries in the inbox, and jobs waiting, running or due within seconds (retries)."""
        from rq.registry import ScheduledJobRegistry, StartedJobRegistry

        total = self.services.queues.inbox.waiting()  # deliveries not yet jobs
        soon = time.time() + 5  # periodic chains always have a slot scheduled: not "busy"
        for queue in self.services.queues.queues.values():
            total += queue.count
            total += StartedJobRegistry(queue=queue).count
            total += self.services.redis.zcount(ScheduledJobRegistry(queue=queue).key, 0, soon)
        return total

    def close(self) -> None:
        self.services.redis.close()


def as_list(data: Any, key: str) -> list[dict[str, Any]]:
    """Control answers are either a bare list or {key: [...]}."""
    if isinstance(data, dict):
        return list(data.get(key) or [])
    return list(data or [])


def call_deal_id(call: dict[str, Any]) -> int:
    params = call.get("params") or {}
    try:
        return int(params.get("id") or params.get("ID") or 0)
    except (TypeError, ValueError):
        return 0


def call_fields(call: dict[str, Any]) -> dict[str, Any]:
    fields = (call.get("params") or {}).get("fields") or {}
    return fields if isinstance(fields, dict) else {}


def link_writes(stack: Stack) -> dict[int, dict[str, Any]]:
    """Per deal: its first crm.deal.update carrying the folder link, and what it wrote."""
    out: dict[int, dict[str, Any]] = {}
    for call in as_list(stack.control("GET", "calls?method=crm.deal.update"), "calls"):
        fields = call_fields(call)
        deal_id = call_deal_id(call)
        if deal_id and fields.get(LINK_FIELD) and deal_id not in out:
            out[deal_id] = {"ts": float(call["ts"]), "fields": fields}
    return out


def delivery_deal_id(delivery: dict[str, Any]) -> int:
    body = delivery.get("body") or {}
    if not isinstance(body, dict):
        return 0
    fields = (body.get("data") or {}).get("FIELDS") or {}
    try:
        return int(fields.get("ID") or 0)
    except (TypeError, ValueError):
        return 0


def deal_add_sent(stack: Stack) -> dict[int, float]:
    """Per deal: when its ONCRMDEALADD left the emulator (first delivery)."""
    sent: dict[int, float] = {}
    for d in as_list(stack.control("GET", "deliveries"), "deliveries"):
        if d.get("event") == "ONCRMDEALADD":
            deal_id = delivery_deal_id(d)
            if deal_id:
                sent.setdefault(deal_id, float(d["ts"]))
    return sent


def wait_quiet(stack: Stack, app: AppView, settle_s: float = 1.0, timeout: float = 60.0
               ) -> int:
    """Wait until nothing is in flight: deliveries sent, queues empty, REST count steady.

    Returns the emulator's REST request count at that point.
    """
    deadline = time.monotonic() + timeout
    last = -1
    steady_since = time.monotonic()
    while time.monotonic() < deadline:
        stack.control("GET", "deliveries?wait=5&since=999999999")  # waits for async posts
        count = int(stack.stats()["requests"])
        if count != last or app.busy():
            last, steady_since = count, time.monotonic()
        elif time.monotonic() - steady_since >= settle_s:
            return count
        time.sleep(0.1)
    raise TimeoutError(f"the stack did not go quiet within {timeout:.0f}s")


def new_deal(stack: Stack, title: str) -> int:
    res = stack.control("POST", "crm/deal", {"fields": {
        "TITLE": title, "OPPORTUNITY": 125000, "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": 1}})
    return int(res["id"])


def rest_cost(stack: Stack, app: AppView, deals: int) -> dict[str, Any]:
    """(a) Requests per deal, one deal at a time, each measured from quiet to quiet."""
    counts: list[int] = []
    methods: Counter[str] = Counter()
    for n in range(deals + 1):  # n == 0 is the warm-up: user fields, parent folder
        stack.reset_limits()
        before = wait_quiet(stack, app)
        by_method_before = Counter(stack.stats().get("http_by_method") or {})
        deal_id = new_deal(stack, f"Cost deal {n}")

        def linked(deal_id: int = deal_id) -> bool:
            write = link_writes(stack).get(deal_id)
            return bool(write and write["fields"].get(CHAT_FIELD))

        wait_for(linked, 60, 0.1, what=f"folder link and chat id on deal {deal_id}")
        after = wait_quiet(stack, app)
        if n:
            counts.append(after - before)
            methods.update(Counter(stack.stats().get("http_by_method") or {})
                           - by_method_before)
        else:
            emit(BENCH, "warm_up", deal_id=deal_id, requests=after - before)
    emit(BENCH, "rest_cost", deals=deals, per_deal=counts,
         mean=round(sum(counts) / len(counts), 3), max=max(counts),
         http_by_method_total=dict(methods), target_max=3)
    return {"requests_per_deal": max(counts)}


def latency(stack: Stack, app: AppView, member_id: str, deals: int) -> dict[str, Any]:
    """(b) ONCRMDEALADD delivery -> link written, one deal every 2 s, 2 req/s enforced."""
    wait_quiet(stack, app)
    limits = stack.control("POST", "limits", {})  # an empty change answers the settings
    stack.reset_limits()
    reset_app_bucket(stack.env, member_id)
    created: list[int] = []
    started = time.time()
    for n in range(deals):
        t0 = time.time()
        created.append(new_deal(stack, f"Latency deal {n}"))
        time.sleep(max(0.0, 2.0 - (time.time() - t0)))
    wait_for(lambda: all(d in link_writes(stack) for d in created), 120, 0.2,
             what="links on every latency deal")
    wait_quiet(stack, app)
    writes, sent = link_writes(stack), deal_add_sent(stack)
    latencies = sorted(writes[d]["ts"] - sent[d] for d in created if d in sent)
    stats = stack.stats()
    emit(BENCH, "latency", deals=deals, measured=len(latencies),
         seconds=round(time.time() - started, 1), **latency_summary(latencies),
         p95_ms=round(percentile(latencies, 95) * 1000, 3),
         query_limit_exceeded=stats.get("query_limit_exceeded"),
         rate_limit_enabled=limits.get("enabled"), drain_per_s=limits.get("drain"),
         threshold=limits.get("threshold"))
    return {"p95_s": round(percentile(latencies, 95), 3)}


@contextmanager
def measured_portal(bench: str, settings: dict[str, Any], prepare: Any = None
                    ) -> Iterator[tuple[Stack, AppView, str]]:
    """A stack with the demo portal installed, `settings` saved and one long-lived worker
    (periodic tasks kept out of the measurement window), quiet and ready to measure.

    `prepare(stack)` runs before the worker starts. On a failure the worker's log is shown.
    """
    with running_stack() as stack:
        member_id = stack.install()["member_id"]
        app = AppView(stack.env)
        worker = None
        try:
            app.put_settings(member_id, settings)
            if prepare is not None:
                prepare(stack)
            worker = spawn(worker_args("--sweep-check-every", "3600"), stack.env,
                           stack.workdir / "worker.log")
            stack.logs["worker"] = stack.workdir / "worker.log"
            wait_quiet(stack, app, timeout=120)  # the install's reconcile job runs first
            emit(bench, "environment", cpus=cpu_count(), load_1m=load_average())
            yield stack, app, member_id
        except Exception:
            print(stack.log_tail("worker", 60), flush=True)
            raise
        finally:
            if worker is not None:
                stop([worker])
            app.close()


def run(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with measured_portal(BENCH, SETTINGS) as (stack, app, member_id):
        out.update(rest_cost(stack, app, 5 if quick else 20))
        out.update(latency(stack, app, member_id, 10 if quick else 60))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.deal_setup")
    parser.add_argument("--quick", action="store_true", help="fewer deals (5 + 10)")
    args = parser.parse_args()
    emit(BENCH, "summary", **run(args.quick))


if __name__ == "__main__":
    main()
