"""Deal profitability's work: on each change of a deal, its margin worked out and written to
the deal when it differs from what the deal holds (so the write's own update event finds
nothing to do), and kept in Redis for the deal tab."""

from __future__ import annotations

import json
import time
from typing import Any

from connector import capped
from connector.capability import Event
from connector.context import JobContext
from connector.crm import port as crm
from connector.crm_fields import forget_item_fields, item_fields
from connector.currency import NoRate, portal_rates
from connector.i18n import t
from robots.profitability.config import NAME, SCHEMA
from robots.profitability.margin import Margin, margin_of, same, written

FIELD_CHECKED_S = 24 * 3600
KEEP_S = 180 * 24 * 3600  # a deal's last margin, for the tab
RECENT = 30


def wants(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings[NAME]["enabled"]) and event.ref.kind == "deal"


def reads(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return {"deal": crm.GetItem(event.ref)}


def ensure_fields(ctx: JobContext) -> dict[str, str]:
    section = ctx.settings[NAME]
    out = {}
    for what, name, type_ in (("margin", section["margin_field"], "money"),
                              ("percent", section["percent_field"], "double")):
        if not name:
            continue
        ready = ctx.key("field", name)
        if not ctx.redis.exists(ready):
            label = SCHEMA.by_name[f"{what}_field"].label
            ctx.crm.ensure_item_field("deal", name, type_, t(ctx.lang, label))
            ctx.redis.set(ready, 1, ex=FIELD_CHECKED_S)
        out[what] = name
    return out


def on_deal(ctx: JobContext, event: Event, reading: crm.Reading) -> dict[str, Any]:
    try:
        deal: crm.Item = reading.get("deal")
    except crm.NotFound:
        return {"skipped": "deal gone"}
    return update(ctx, deal)


def update(ctx: JobContext, deal: crm.Item) -> dict[str, Any]:
    section = ctx.settings[NAME]
    chosen = {str(c) for c in section["category_ids"]}
    if chosen and str(deal.category or "0") not in chosen:
        return {"skipped": "another pipeline"}
    costs = [c["field"] for c in section["costs"]]
    if missing := [f for f in costs if f not in deal.fields and f not in item_fields(ctx)]:
        return problem(ctx, deal, "missing", fields=missing)
    fields = {**dict.fromkeys(costs, ""), **deal.fields}  # an empty field: no cost
    currency = deal.currency or portal_rates(ctx)[0]
    try:
        m = margin_of(fields, deal.amount, currency, costs, portal_rates(ctx)[1])
    except NoRate as exc:
        return problem(ctx, deal, "no_rate", currency=exc.currency)
    names = ensure_fields(ctx)
    values = written(m)
    changes = {name: values[what] for what, name in names.items()
               if not same(deal.fields.get(name), values[what])}
    if changes:
        done = ctx.crm.apply({"w": crm.UpdateItem(deal.ref, changes)})
        if "w" in done.errors:
            raise done.errors["w"]
    keep(ctx, deal, m)
    return {"deal": deal.ref.id, "margin": values["margin"], "percent": values["percent"],
            "written": sorted(changes)}


def problem(ctx: JobContext, deal: crm.Item, kind: str, **params: Any) -> dict[str, Any]:
    """A deal whose margin cannot be worked out: nothing is written, the admin page says
    why (the newest problem of each kind stays listed until the next margin is made)."""
    ctx.redis.hset(ctx.key("problems"), kind, json.dumps(
        {"deal": deal.ref.id, "title": deal.title, "at": time.time(), **params}))
    ctx.redis.delete(ctx.key("deal", deal.ref.id))
    return {"deal": deal.ref.id, "refused": kind, **params}


def keep(ctx: JobContext, deal: crm.Item, m: Margin) -> None:
    entry = {"deal": deal.ref.id, "title": deal.title, "at": time.time(),
             "amount": f"{m.amount:.2f}", "currency": m.currency,
             "costs": [[f, f"{c:.2f}"] for f, c in m.costs], "cost": f"{m.cost:.2f}",
             "margin": f"{m.margin:.2f}",
             "percent": None if m.percent is None else f"{m.percent}"}
    pipe = ctx.redis.pipeline()
    pipe.set(ctx.key("deal", deal.ref.id), json.dumps(entry), ex=KEEP_S)
    capped.push(pipe, ctx.key("recent"), entry, RECENT)
    pipe.execute()


def of_deal(ctx: JobContext, deal_id: int) -> dict[str, Any] | None:
    raw = ctx.redis.get(ctx.key("deal", deal_id))
    return json.loads(raw) if raw else None


def recent(ctx: JobContext) -> list[dict[str, Any]]:
    return [json.loads(r) for r in ctx.redis.lrange(ctx.key("recent"), 0, RECENT - 1)]


def problems(ctx: JobContext) -> dict[str, dict[str, Any]]:
    return {(k.decode() if isinstance(k, bytes) else k): json.loads(v)
            for k, v in ctx.redis.hgetall(ctx.key("problems")).items()}


def recompute(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """The tab's button: the deal read again and its margin made now."""
    ctx.redis.hdel(ctx.key("problems"), "missing", "no_rate")
    forget_item_fields(ctx)
    return update(ctx, ctx.crm.item(crm.ItemRef("deal", int(arg["deal"]))))
