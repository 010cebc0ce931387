"""Client value: REST requests one recount of a client costs, and the seconds a contact with
10,000 deals takes, on an emulated portal with its real 2 requests/s limit.

Three clients are counted again by the capability's own job (robots.client_value.recount.
recount, as a worker runs it): a contact with one won deal, a company with 50, and a contact
with 10,000 deals (a third of them won, some in dollars). Requests are the emulator's own
count: once as the portal's first recount meets it (rates read, the three client fields
checked and made), then as every later one does (rates cached ten minutes, fields checked
daily). Then the backfill counts every client of the portal.

    .venv/bin/python -m bench.client_value
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench.common import Stack, cpu_count, emit, load_average, reset_app_bucket, running_stack

NAME = "client_value"
SEED_CHUNK = 5_000


def _context(stack: Stack, member_id: str) -> Any:
    from connector.config import load_settings
    from connector.context import JobContext
    from wiring import build_services

    services = build_services(load_settings(stack.env))
    services.portal_settings.put(member_id, {"client_value": {"enabled": True}})
    ctx = JobContext.load(services, member_id, "bench", "client_value")
    assert ctx is not None
    return ctx


def deals(n: int, contact: int = 0, company: int = 0, won_every: int = 3) -> list[dict[str, Any]]:
    return [{"title": f"Заказ {i}", "opportunity": 1000 + i % 500,
             "currencyId": "USD" if i % 10 == 0 else "RUB",
             "stageId": "WON" if i % won_every == 0 else "NEW",
             "contactIds": [contact] if contact else [], "companyId": company,
             "closedate": f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}"} for i in range(n)]


def seed(stack: Stack, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), SEED_CHUNK):
        stack.control("POST", "seed-items/2", {"items": rows[start:start + SEED_CHUNK]},
                      timeout=600)


def measure(stack: Stack, ctx: Any, label: str, run: Any, cold: bool = False
            ) -> dict[str, Any]:
    """One run's requests and seconds; `cold` as the portal's first recount meets it: no
    rates cached, the client fields not yet checked (they are made then)."""
    from connector.currency import forget_rates

    if cold:
        forget_rates(ctx)
        for key in ctx.redis.scan_iter(ctx.key("field", "*")):
            ctx.redis.delete(key)
    stack.reset_limits()
    reset_app_bucket(stack.env, ctx.portal.member_id)
    stack.reset_stats()
    t0 = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - t0
    stats = stack.stats()
    result = {"case": label, "seconds": round(seconds, 2),
              "requests": int(stats["requests"]),
              "query_limit_exceeded": int(stats["query_limit_exceeded"]), **out}
    emit(NAME, "run", **result)
    return result


def backfill(ctx: Any) -> dict[str, Any]:
    """The pass's steps in this process, in the order its jobs would run (the jobs it queues
    for a worker are left unrun)."""
    from robots.client_value import recount

    assert recount.start_backfill(ctx, "bench")
    arg: dict[str, Any] = {"after": 0, "chunk": recount.CHUNK}
    while True:
        out = recount.backfill(ctx, arg)
        if "read" in out:
            arg = ({"after": out["last"], "chunk": recount.CHUNK} if out["read"] >= recount.CHUNK
                   else {"phase": "write", "step": 0})
        elif out.get("done"):
            break
        else:
            arg = {"phase": "write", "step": int(arg.get("step", 0)) + 1}
    last = recount.progress(ctx)["last"]
    return {"read": last["read"], "written": last.get("written", 0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_value", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=10_000, help="deals of the big contact")
    args = parser.parse_args(argv)
    from robots.client_value import recount

    with running_stack(web=True) as stack:
        limits = stack.control("POST", "limits", {"enabled": True})
        emit(NAME, "stack", emulator_limits=limits, cpus=cpu_count(),
             load_average=load_average())
        member_id = stack.install()["member_id"]
        ctx = _context(stack, member_id)
        rest = ctx.crm.rest
        small = int(rest.call("crm.contact.add", {"fields": {"NAME": "Иван"}}))
        firm = int(rest.call("crm.company.add", {"fields": {"TITLE": "ООО Ромашка"}}))
        big = int(rest.call("crm.contact.add", {"fields": {"NAME": "Оптовик"}}))
        t0 = time.perf_counter()
        seed(stack, deals(1, contact=small, won_every=1))
        seed(stack, deals(50, company=firm, won_every=1))
        seed(stack, deals(args.deals, contact=big))
        emit(NAME, "seed", seconds=round(time.perf_counter() - t0, 1), deals=args.deals + 51)
        runs = {}
        for label, client in (("cold_contact_1_deal", f"contact/{small}"),
                              ("contact_1_deal", f"contact/{small}"),
                              ("company_50_deals", f"company/{firm}"),
                              (f"contact_{args.deals}_deals", f"contact/{big}")):
            runs[label] = measure(stack, ctx, label, lambda c=client: {
                k: v for k, v in recount.recount(ctx, {"client": c}).items()
                if k in ("won", "total", "currency")}, cold=label.startswith("cold"))
        bigrun = runs[f"contact_{args.deals}_deals"]
        every = measure(stack, ctx, "backfill_every_client", lambda: backfill(ctx))
        emit(NAME, "summary",
             requests_per_recompute=runs["contact_1_deal"]["requests"],
             requests_per_recompute_cold=runs["cold_contact_1_deal"]["requests"],
             requests_per_recompute_50=runs["company_50_deals"]["requests"],
             requests_per_recompute_10k=bigrun["requests"],
             seconds_for_10k_deals=bigrun["seconds"], won_of_10k=bigrun["won"],
             backfill_requests=every["requests"], backfill_seconds=every["seconds"],
             backfill_deals_read=every["read"], backfill_clients_written=every["written"],
             query_limit_exceeded=sum(r["query_limit_exceeded"] for r in runs.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
