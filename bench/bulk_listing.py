"""Bulk listing: every deal of a large portal, read by our client and by fast-bitrix24.

Exports and reconciliations read whole tables. Requests are what the portal's rate limit
counts, so we compare HTTP requests (from the emulator's own stats) and wall time for
BitrixClient.iter_by_id (ID cursor, pages chained by `$result` references inside one batch)
and fast-bitrix24's get_all (a counted first page, then `start=` pages in batches), in one
run, against the same emulated portal with its real rate limit on.

    .venv/bin/python -m bench.bulk_listing [--quick] [--deals 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from bench.common import (
    Stack,
    cpu_count,
    emit,
    load_average,
    reset_app_bucket,
    running_stack,
)

NAME = "bulk_listing"
METHOD = "crm.deal.list"
SELECT = ["ID", "TITLE"]


def list_ours(stack: Stack, member_id: str) -> list[dict[str, Any]]:
    """All deals through the app's own client, as a job would read them."""
    from connector.config import load_settings
    from wiring import build_services

    services = build_services(load_settings(stack.env))
    try:
        client = services.client(member_id)
        return list(client.iter_by_id(METHOD, {"select": list(SELECT)}))
    finally:
        services.redis.close()
        services.session.close()


def list_fast_bitrix24(stack: Stack, member_id: str) -> list[dict[str, Any]]:
    """All deals through fast-bitrix24, with the app's OAuth token handed over by token_func.

    fast-bitrix24 takes a base URL and appends the method name; with a token_func it sends
    the token as `auth` in the JSON body, which the portal (and the emulator) accepts.
    """
    from fast_bitrix24 import Bitrix

    from connector.config import load_settings
    from wiring import build_services

    services = build_services(load_settings(stack.env))
    try:
        token = services.tokens.current(member_id).access_token
    finally:
        services.redis.close()
        services.session.close()

    async def token_func() -> str:
        return token

    endpoint = str(stack.portal()["client_endpoint"])
    bx = Bitrix(endpoint, token_func=token_func, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = bx.get_all(METHOD, params={"select": list(SELECT)})
    return list(rows) if isinstance(rows, list) else list(rows.values())


def measure(stack: Stack, member_id: str, label: str,
            reader: Callable[[Stack, str], list[dict[str, Any]]]) -> dict[str, Any]:
    """Fresh buckets and counters, then one full read; figures from the emulator's stats."""
    stack.reset_limits()
    reset_app_bucket(stack.env, member_id)
    stack.reset_stats()
    t0 = time.perf_counter()
    rows = reader(stack, member_id)
    seconds = time.perf_counter() - t0
    stats = stack.stats()
    ids = [int(r["ID"]) for r in rows]
    result = {
        "client": label,
        "rows": len(rows),
        "unique_ids": len(set(ids)),
        "seconds": round(seconds, 3),
        "http_requests": int(stats["requests"]),
        "http_by_method": stats["http_by_method"],
        "list_subcalls": int(stats["by_method"].get(METHOD, 0)),
        "query_limit_exceeded": int(stats["query_limit_exceeded"]),
        "token_calls": int(stats["token_calls"]),
        "rows_per_s": round(len(rows) / seconds) if seconds else None,
    }
    emit(NAME, "run", **result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk_listing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 deals instead of 100,000")
    parser.add_argument("--deals", type=int, default=None, help="deals to seed (100000)")
    parser.add_argument("--fast-first", action="store_true", help="run fast-bitrix24 first")
    args = parser.parse_args(argv)
    deals = args.deals if args.deals is not None else (5_000 if args.quick else 100_000)
    deals = max(0, min(deals, 1_000_000))

    with running_stack(web=True) as stack:
        limits = stack.control("POST", "limits", {"enabled": True})
        emit(NAME, "stack", emulator_url=stack.emu_url, emulator_limits=limits,
             cpus=cpu_count(), load_average=load_average())
        stack.install()
        seeded = stack.control("POST", "seed", {"deals": deals}, timeout=600)
        portal = stack.portal()
        member_id = portal["member_id"]
        expected = int(portal["counts"]["deals"])
        emit(NAME, "seed", seeded=deals, deals_on_portal=expected,
             seed_seconds=seeded.get("seconds"))
        readers: list[tuple[str, Callable[[Stack, str], list[dict[str, Any]]]]] = [
            ("ours", list_ours), ("fast_bitrix24", list_fast_bitrix24)]
        if args.fast_first:
            readers.reverse()
        results = {label: measure(stack, member_id, label, fn) for label, fn in readers}

    ours, fast = results["ours"], results["fast_bitrix24"]
    emit(NAME, "summary",
         rows=expected,
         requests_ours=ours["http_requests"], seconds_ours=ours["seconds"],
         requests_fast_bitrix24=fast["http_requests"], seconds_fast_bitrix24=fast["seconds"],
         rows_ours=ours["rows"], rows_fast_bitrix24=fast["rows"],
         unique_ids_ours=ours["unique_ids"], unique_ids_fast_bitrix24=fast["unique_ids"],
         query_limit_exceeded_ours=ours["query_limit_exceeded"],
         query_limit_exceeded_fast_bitrix24=fast["query_limit_exceeded"],
         all_rows_seen=bool(ours["unique_ids"] == expected == fast["unique_ids"]),
         order=[label for label, _ in readers], load_average=load_average())
    return 0


if __name__ == "__main__":
    sys.exit(main())
