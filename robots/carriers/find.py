"""The robot find_carriers: the request read, its places resolved, the index asked (no CRM
call), the top carriers with their phones and evidence posted to the request's timeline and
kept for the deal tab, the best one answered to the workflow.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, NP_, nt, t
from connector.triggers import RobotCall, RobotError
from robots.carriers import bases, config, explain, rank, requests, store, sync
from robots.carriers.rank import Result

OFF = N_("Carrier search is off: turn it on in the app's settings (Carrier search)")
BUILDING = N_("The carrier index is being built ({read} items read so far); run the robot "
              "again in a few minutes")
HEADER = NP_("Carriers for {lane}{freight}: {shown} of {n} that fit",
             "Carriers for {lane}{freight}: {shown} of {n} that fit")
NONE_FIT = N_("No carrier in the base fits {lane}{freight} ({carriers} in the base).")
NO_PHONE = N_("no phone")
FOUND_TTL_S = 30 * 86400
WRITTEN_TTL_S = 7 * 86400


def enabled(ctx: JobContext) -> None:
    if not ctx.settings[config.NAME]["enabled"]:
        raise RobotError(OFF)


def ready_snapshot(ctx: JobContext) -> Any:
    """The index in memory; a RobotError (and a backfill queued) while it was never built."""
    st = sync.state(ctx)
    if st["status"] != "ready":
        sync.start_backfill(ctx)
        raise RobotError(BUILDING, read=int((sync.state(ctx).get("pass") or {}).get("read", 0)))
    return store.snapshot(sync.store(ctx))


def freight(q: rank.Query, lang: str) -> str:
    parts = []
    if q.weight_t:
        parts.append(t(lang, explain.TONS, n=explain.number(q.weight_t, lang)))
    if q.volume_m3:
        parts.append(t(lang, explain.CUBES, n=explain.number(q.volume_m3, lang)))
    if q.body:
        parts.append(t(lang, explain.BODY_TITLES[q.body]).lower())
    if q.dangerous:
        parts.append("ADR")
    return (", " + ", ".join(parts)) if parts else ""


def lane_text(q: rank.Query) -> str:
    return f"{q.origin.name} → {q.destination.name}"


def comment(ctx: JobContext, q: rank.Query, result: Result, notes: tuple[str, ...]) -> str:
    """The timeline comment: the top carriers with links, phones and evidence (BB code)."""
    lang = ctx.lang
    today = date.today()
    if not result.suggestions:
        lines = [t(lang, NONE_FIT, lane=lane_text(q), freight=freight(q, lang),
                   carriers=result.carriers)]
    else:
        lines = [nt(lang, *HEADER, result.fitting, lane=lane_text(q), freight=freight(q, lang),
                    shown=len(result.suggestions))]
    kind = sync.known_kinds(ctx).get("carriers", "")
    for n, s in enumerate(result.suggestions, 1):
        name = s.carrier.name or f"#{s.carrier.id}"
        if kind:
            name = ctx.crm.link(ctx.crm.item_link(crm.ItemRef(kind, s.carrier.id)), name)
        phones = ", ".join(s.carrier.phones) or t(lang, NO_PHONE)
        lines.append(f"{n}. [B]{name}[/B] — {phones}")
        lines.append("    " + "; ".join(explain.evidence(s, lang, today)))
    if left := explain.left_out(result, q, lang):
        lines.append(left)
    lines += [t(lang, note) for note in notes]
    return "\n".join(lines)


def found_key(ctx: JobContext, ref: crm.ItemRef) -> str:
    return ctx.key("found", ref.kind, ref.id)


def keep(ctx: JobContext, ref: crm.ItemRef, q: rank.Query, result: Result,
         notes: tuple[str, ...]) -> None:
    """What the deal tab shows: the last search's suggestions, as words already made."""
    lang = ctx.lang
    ctx.redis.set(found_key(ctx, ref), json.dumps({
        "at": time.time(), "lane": lane_text(q), "freight": freight(q, lang).lstrip(", "),
        "fitting": result.fitting, "left_out": explain.left_out(result, q, lang),
        "notes": [t(lang, n) for n in notes],
        "suggestions": [{"id": s.carrier.id, "name": s.carrier.name,
                         "phones": list(s.carrier.phones), "score": s.score,
                         "evidence": explain.evidence(s, lang)} for s in result.suggestions],
    }, ensure_ascii=False), ex=FOUND_TTL_S)


def search(ctx: JobContext, ref: crm.ItemRef) -> tuple[rank.Query, Result, tuple[str, ...]]:
    """Read the request, search the index, keep the result for the tab."""
    section = ctx.settings[config.NAME]
    request = requests.read(ctx, ref)
    if ref.kind == "deal":
        labels = section["from_field"], section["to_field"]
    else:
        labels = (t(ctx.lang, bases.REQUESTS.field("from_city").title),
                  t(ctx.lang, bases.REQUESTS.field("to_city").title))
    parsed = requests.parse(request, *labels, ctx.lang)
    snap = ready_snapshot(ctx)
    result = rank.search(snap, parsed.query, limit=int(section["top"]))
    keep(ctx, ref, parsed.query, result, parsed.notes)
    return parsed.query, result, parsed.notes


def run_find(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    return find_for(ctx, call.ref, call.event_token)


def find_for(ctx: JobContext, ref: crm.ItemRef, token: str) -> dict[str, Any]:
    """Search for the request and post the result once per `token` (a robot call's event
    token, a tab click's job id); the robot's answer."""
    enabled(ctx)
    q, result, notes = search(ctx, ref)
    text = comment(ctx, q, result, notes)
    if ctx.settings[config.NAME]["timeline"]:
        _post_once(ctx, ref, text, token)
    best = result.suggestions[0].carrier if result.suggestions else None
    return {"count": len(result.suggestions), "fitting": result.fitting,
            "best_carrier": best.name if best else "",
            "best_carrier_id": best.id if best else 0,
            "best_phone": best.phones[0] if best and best.phones else "",
            "summary": text}


def _post_once(ctx: JobContext, ref: crm.ItemRef, text: str, token: str) -> None:
    """One comment per robot call: a retry after it was written does not write another."""
    run = hashlib.sha256(token.encode()).hexdigest()[:32]
    written = ctx.key("commented", run)
    if not ctx.redis.set(written, 1, nx=True, ex=WRITTEN_TTL_S):
        return
    done = ctx.crm.apply({"note": crm.AddComment(ref, text)})
    if "note" in done.errors:
        ctx.redis.delete(written)
        raise done.errors["note"]
