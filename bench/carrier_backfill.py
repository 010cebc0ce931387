"""Carrier index backfill: the whole generated market (10,000 carriers, 50,000 offers,
100,000 won requests as smart-process items) read from an emulated portal with its real
2 requests/s limit, by our backfill and by fast-bitrix24.

Ours is the capability's own pass (robots.carriers.sync.run_backfill, chunk after chunk, as
the workers run it: ID cursor with pages chained by `$result` references inside one batch,
records resolved and written to Redis); fast-bitrix24's is `get_all` on crm.item.list for
each of the three smart processes (a counted first page, then `start=` pages in batches),
only reading. Requests are the emulator's own count.

    .venv/bin/python -m bench.carrier_backfill [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

from bench.carrier_market import Market, market
from bench.common import Stack, cpu_count, emit, load_average, reset_app_bucket, running_stack

NAME = "carrier_backfill"
SEED_CHUNK = 5_000


def _context(stack: Stack, member_id: str) -> Any:
    from connector.config import load_settings
    from connector.context import JobContext
    from wiring import build_services

    services = build_services(load_settings(stack.env))
    services.portal_settings.put(member_id, {"carriers": {"enabled": True}})
    ctx = JobContext.load(services, member_id, "bench", "carriers")
    assert ctx is not None
    return ctx


def seed(stack: Stack, ctx: Any, m: Market) -> dict[str, int]:
    """The market into the portal's three smart processes, without events."""
    from connector.bitrix import smart_processes as spa
    from connector.crm import port as crm
    from robots.carriers import sync

    sp = sync.processes(ctx)
    ids: dict[int, int] = {}

    def put(source: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None
            ) -> list[int]:
        process = sp[source]
        made: list[int] = []
        for start in range(0, len(rows), SEED_CHUNK):
            items = [{**spa.item_fields(process, r), **(extra or {})}
                     for r in rows[start:start + SEED_CHUNK]]
            made += stack.control("POST", f"seed-items/{process.entity_type_id}",
                                  {"items": items}, timeout=600)["ids"]
        return made

    carriers = put("carriers", [{
        "title": c.name, "phone": ", ".join(c.phones), "capacity_t": c.capacity_t or None,
        "volume_m3": c.volume_m3 or None, "body": list(c.bodies), "adr": c.adr,
        "oversize": c.oversize, "home_city": c.home_text,
        "location_city": c.location_text or None, "location_date": c.location_date or None,
        "regions": c.regions_text or None, "blacklisted": c.blacklisted,
        "blacklist_note": c.note or None} for c in m.carriers])
    ids = dict(zip([c.id for c in m.carriers], carriers, strict=True))
    kind = sp["carriers"].kind
    etid = sp["requests"].entity_type_id
    category = ctx.crm.rest.call("crm.category.list", {"entityTypeId": etid})["categories"][0]
    won = {"STAGE_ID": f"DT{etid}_{category['id']}:SUCCESS"}
    put("offers", [{
        "title": f"{o.origin_text} — {o.destination_text}",
        "carrier": crm.ItemRef(kind, ids[o.carrier_id]), "from_city": o.origin_text,
        "to_city": o.destination_text, "offer_date": o.day,
        "rate": crm.Money(str(int(o.rate))) if o.rate else None, "vat": o.vat or None}
        for o in m.offers])
    put("requests", [{
        "title": f"{t.origin_text} — {t.destination_text}",
        "carrier": crm.ItemRef(kind, ids[t.carrier_id]), "from_city": t.origin_text,
        "to_city": t.destination_text, "loading_date": t.day,
        "rate": crm.Money(str(int(t.rate))) if t.rate else None,
        "weight_t": t.weight_t or None, "body": t.body or None} for t in m.trips], won)
    return {"carriers": len(m.carriers), "offers": len(m.offers), "requests": len(m.trips)}


def ours(ctx: Any) -> dict[str, Any]:
    """The capability's backfill pass, chunk after chunk, in this process."""
    from robots.carriers import sync

    sync.start_backfill(ctx, "bench")
    chunks = 0
    while (run := sync.state(ctx).get("pass")) and run.get("running"):
        sync.run_backfill(ctx, {"pass": run["id"]})
        chunks += 1
    st = sync.state(ctx)
    return {"chunks": chunks, **st.get("counts", {})}


def fast_bitrix24(stack: Stack, ctx: Any) -> dict[str, Any]:
    """The same three smart processes through fast-bitrix24's get_all, only read."""
    from fast_bitrix24 import Bitrix

    from robots.carriers import sync

    token = ctx.services.tokens.current(ctx.portal.member_id).access_token

    async def token_func() -> str:
        return token

    bx = Bitrix(str(stack.portal()["client_endpoint"]), token_func=token_func, verbose=False)
    counts = {}
    for source, process in sync.processes(ctx).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = bx.get_all("crm.item.list", params={
                "entityTypeId": process.entity_type_id, "useOriginalUfNames": "Y",
                "select": ["*", "UF_*"]})
        counts[source] = len(rows)
    return counts


def measure(stack: Stack, ctx: Any, label: str, run: Any) -> dict[str, Any]:
    member_id = ctx.portal.member_id
    stack.reset_limits()
    reset_app_bucket(stack.env, member_id)
    stack.reset_stats()
    t0 = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - t0
    stats = stack.stats()
    result = {"client": label, "seconds": round(seconds, 2),
              "http_requests": int(stats["requests"]),
              "query_limit_exceeded": int(stats["query_limit_exceeded"]), **out}
    emit(NAME, "run", **result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.carrier_backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the market")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    m = market(carriers=10_000 // scale, offers=50_000 // scale, deals=100_000 // scale)
    with running_stack(web=True) as stack:
        limits = stack.control("POST", "limits", {"enabled": True})
        emit(NAME, "stack", emulator_limits=limits, cpus=cpu_count(),
             load_average=load_average())
        member_id = stack.install()["member_id"]
        ctx = _context(stack, member_id)
        t0 = time.perf_counter()
        seeded = seed(stack, ctx, m)
        emit(NAME, "seed", seconds=round(time.perf_counter() - t0, 1), **seeded)
        a = measure(stack, ctx, "ours", lambda: ours(ctx))
        b = measure(stack, ctx, "fast_bitrix24", lambda: fast_bitrix24(stack, ctx))
    emit(NAME, "summary", items=sum(seeded.values()),
         requests_ours=a["http_requests"], seconds_ours=a["seconds"],
         requests_fast_bitrix24=b["http_requests"], seconds_fast_bitrix24=b["seconds"],
         indexed_carriers=a.get("carriers"), indexed_offers=a.get("offers"),
         indexed_trips=a.get("trips"), read_fast_bitrix24=b,
         query_limit_exceeded_ours=a["query_limit_exceeded"],
         query_limit_exceeded_fast_bitrix24=b["query_limit_exceeded"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
