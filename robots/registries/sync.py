"""Registries' work: on each change of a deal, its car's card made once (at the chosen
stage) or brought up to date, only the fields that differ written; and the backfill that
makes cards for the deals already at the stage.

Once: the deal → card link is kept in Redis, and the card is made under a per-deal lock
after looking for it by its "deal" field (a job that made the card and died before keeping
the link finds it there when retried), so duplicate events, concurrent workers and retries
make one card. Nothing changed: what was last written from the deal is kept too (the
ledger), and a deal event whose card fields are the same asks the CRM nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from connector import capped
from connector.capability import Event
from connector.context import JobContext
from connector.crm import port as crm
from connector.crm_fields import item_fields
from connector.i18n import N_, t
from connector.once import once
from connector.triggers import RobotError
from robots.registries import registry
from robots.registries.config import NAME, OPPORTUNITY, mapping_of
from robots.registries.mapping import (
    IN_STOCK,
    as_json,
    card_fields,
    changes,
    due,
    in_pipeline,
    missing,
    status_of,
    title_of,
)

NOTED_S = 30 * 24 * 3600
RECENT = 30  # cards made or updated, kept for the admin page
CHUNK = 500  # deals a backfill job looks at before it hands on to the next

MISSING_NOTE = N_("No card was made in the car registry for this deal: the app's settings "
                  "fill the card from the deal field {fields}, and the portal has no such "
                  "field. The admin maps the card onto existing fields (or creates the "
                  "field) on the app's Car registry page; the card is made with the deal's "
                  "next change.")


# events ----------------------------------------------------------------------------------
def wants(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings[NAME]["enabled"]) and event.ref.kind == "deal"


def reads(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return {"deal": crm.GetItem(event.ref)}


def on_deal(ctx: JobContext, event: Event, reading: crm.Reading) -> dict[str, Any]:
    try:
        deal: crm.Item = reading.get("deal")
    except crm.NotFound:
        return {"skipped": "deal gone"}
    return sync(ctx, deal)


# one deal --------------------------------------------------------------------------------
def sync(ctx: JobContext, deal: crm.Item) -> dict[str, Any]:
    """Make the deal's card, or bring it up to date; refuse a mapping to a missing field."""
    section = ctx.settings[NAME]
    if not in_pipeline(deal.category, section["category_ids"]):
        return {"skipped": "another pipeline"}
    card_id = linked(ctx, deal.ref.id)
    if not card_id and not due(deal.stage, deal.won, section):
        return {"skipped": "not at a stage with a card"}
    if ctx.redis.sismember(ctx.key("deleted"), deal.ref.id):
        return {"skipped": "its card was deleted in the registry"}
    mapping = mapping_of(section)
    lacking = [f for f in missing(mapping, deal.fields) if f != OPPORTUNITY]
    if lacking and (lacking := [f for f in lacking if f not in item_fields(ctx)]):
        return refuse(ctx, deal, lacking)
    wanted = card_fields(deal.fields, deal.amount, deal.currency, mapping, deal.ref)
    if status := status_of(deal.stage, deal.won, section):
        wanted["status"] = status
    wanted["title"] = title_of(wanted, deal.title)
    try:
        sp = registry.process(ctx)
    except RobotError as exc:
        return problem(ctx, "process", {"text": exc.msgid, "params": exc.params})
    ctx.redis.hdel(ctx.key("problems"), "process")
    if not card_id:
        return create(ctx, sp, deal, wanted)
    return update(ctx, sp, deal, card_id, wanted)


def create(ctx: JobContext, sp: crm.SmartProcess, deal: crm.Item, wanted: dict[str, Any]
           ) -> dict[str, Any]:
    """The deal's card, made once however many jobs get here at the same moment."""
    made: dict[str, bool] = {}

    def make() -> int:
        found = ctx.crm.read({"card": registry.by_deal(sp, deal.ref)}).get("card")
        if found:  # made by a job that died before it kept the link
            card_id = found[0].ref.id
        else:
            fields = {**wanted, "status": wanted.get("status") or IN_STOCK}
            done = ctx.crm.apply({"card": crm.CreateItem(sp, fields)})
            if "card" in done.errors:
                raise done.errors["card"]
            card_id = int(done.values["card"])
            made["created"] = True
            ledger(ctx, deal.ref.id, fields)
        ctx.redis.hset(ctx.key("cards"), str(deal.ref.id), card_id)
        return card_id

    card_id = once(ctx.redis, ctx.key("lock", deal.ref.id),
                   lambda: linked(ctx, deal.ref.id), make)
    if not made:  # another job (or an earlier run of this one) made it: bring it up to date
        return update(ctx, sp, deal, card_id, wanted)
    fields = {**wanted, "status": wanted.get("status") or IN_STOCK}
    solved(ctx, deal.ref.id)
    show(ctx, deal.ref.id, {**fields, "kind": sp.kind})
    remember(ctx, deal, sp, card_id, "created", sorted(fields), fields)
    return {"deal": deal.ref.id, "card": card_id, "created": True}


def update(ctx: JobContext, sp: crm.SmartProcess, deal: crm.Item, card_id: int,
           wanted: dict[str, Any]) -> dict[str, Any]:
    """Write what of the card differs from the deal; nothing when nothing does."""
    solved(ctx, deal.ref.id)
    if last_written(ctx, deal.ref.id) == as_json(wanted):
        return {"deal": deal.ref.id, "card": card_id, "written": []}
    found = ctx.crm.read({"card": registry.by_id(sp, card_id)}).get("card")
    if not found:
        return deleted(ctx, deal.ref.id, card_id)
    card = found[0]
    diff = changes({**card.values, "title": card.title}, wanted)
    if diff:
        done = ctx.crm.apply({"card": crm.UpdateItem(card.ref, diff, process=sp)})
        if "card" in done.errors:
            if isinstance(done.errors["card"], crm.NotFound):
                return deleted(ctx, deal.ref.id, card_id)
            raise done.errors["card"]
        remember(ctx, deal, sp, card_id, "updated", sorted(diff),
                 {**card.values, **wanted})
    show(ctx, deal.ref.id, {**card.values, "title": card.title, **wanted, "kind": sp.kind})
    ledger(ctx, deal.ref.id, wanted)
    return {"deal": deal.ref.id, "card": card_id, "written": sorted(diff)}


def deleted(ctx: JobContext, deal_id: int, card_id: int) -> dict[str, Any]:
    """Someone deleted the card in the registry: it is not made again behind their back."""
    pipe = ctx.redis.pipeline()
    pipe.hdel(ctx.key("cards"), str(deal_id))
    pipe.hdel(ctx.key("written"), str(deal_id))
    pipe.hdel(ctx.key("shown"), str(deal_id))
    pipe.sadd(ctx.key("deleted"), deal_id)
    pipe.execute()
    return {"deal": deal_id, "card": card_id, "skipped": "card deleted in the registry"}


# what is kept ----------------------------------------------------------------------------
def linked(ctx: JobContext, deal_id: int) -> int:
    """The deal's card id, 0 when it has none."""
    raw = ctx.redis.hget(ctx.key("cards"), str(deal_id))
    return int(raw) if raw else 0


def ledger(ctx: JobContext, deal_id: int, fields: dict[str, Any]) -> None:
    ctx.redis.hset(ctx.key("written"), str(deal_id), json.dumps(as_json(fields),
                                                                sort_keys=True))


def last_written(ctx: JobContext, deal_id: int) -> dict[str, Any] | None:
    raw = ctx.redis.hget(ctx.key("written"), str(deal_id))
    if not raw:
        return None
    return json.loads(raw)


def refuse(ctx: JobContext, deal: crm.Item, fields: list[str]) -> dict[str, Any]:
    """A mapping to a field the portal lacks: no card (one with empty data would look
    right and be wrong); the admin page names the field, the deal's timeline says why, once."""
    problem(ctx, f"deal/{deal.ref.id}", {"deal": deal.ref.id, "title": deal.title,
                                          "fields": fields})
    if ctx.redis.set(ctx.key("noted", deal.ref.id, ",".join(fields)), 1, nx=True,
                     ex=NOTED_S):
        ctx.crm.apply({"note": crm.AddComment(deal.ref, t(
            ctx.lang, MISSING_NOTE, fields=", ".join(fields)))})
    return {"deal": deal.ref.id, "refused": "missing", "fields": fields}


def problem(ctx: JobContext, key: str, data: dict[str, Any]) -> dict[str, Any]:
    ctx.redis.hset(ctx.key("problems"), key, json.dumps({**data, "at": time.time()}))
    return {"refused": key, **data}


def solved(ctx: JobContext, deal_id: int) -> None:
    ctx.redis.hdel(ctx.key("problems"), f"deal/{deal_id}")


def problems(ctx: JobContext) -> dict[str, dict[str, Any]]:
    return {(k.decode() if isinstance(k, bytes) else k): json.loads(v)
            for k, v in ctx.redis.hgetall(ctx.key("problems")).items()}


def remember(ctx: JobContext, deal: crm.Item, sp: crm.SmartProcess, card_id: int, what: str,
             written: list[str], card: dict[str, Any]) -> None:
    entry = {"deal": deal.ref.id, "title": deal.title, "card": card_id, "kind": sp.kind,
             "what": what, "fields": [f for f in written if f != "deal"], "at": time.time(),
             "name": card.get("title") or deal.title, "status": card.get("status") or ""}
    capped.add(ctx.redis, ctx.key("recent"), entry, RECENT)


def recent(ctx: JobContext) -> list[dict[str, Any]]:
    return capped.latest(ctx.redis, ctx.key("recent"), RECENT)


def show(ctx: JobContext, deal_id: int, card: dict[str, Any]) -> None:
    """The card as it stands after the app's write, for the deal tab."""
    ctx.redis.hset(ctx.key("shown"), str(deal_id), json.dumps(as_json(card)))


def card_of(ctx: JobContext, deal_id: int) -> dict[str, Any] | None:
    """The deal's card as the app last saw it, with its id (the deal tab's section)."""
    card_id = linked(ctx, deal_id)
    if not card_id:
        return None
    raw = ctx.redis.hget(ctx.key("shown"), str(deal_id))
    return {**(json.loads(raw) if raw else {}), "card": card_id}


# the deals already at the stage ----------------------------------------------------------
def start_backfill(ctx: JobContext, by: str) -> bool:
    """Make the cards of the deals already at the stage: False when a pass runs already."""
    if not ctx.redis.set(ctx.key("pass", "running"), json.dumps(
            {"started": time.time(), "by": by, "read": 0, "made": 0}), nx=True, ex=6 * 3600):
        return False
    ctx.enqueue("backfill", {"after": 0}, "pass", 0)
    return True


def backfill(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """One step: up to CHUNK deals above `after` looked at, a card made for each deal at a
    stage with a card; the next step queued until every deal has been seen."""
    after, read, made, refused, last = int(arg.get("after") or 0), 0, 0, 0, 0
    section = ctx.settings[NAME]
    for deal in ctx.crm.list_items("deal", after=after):
        read, last = read + 1, deal.ref.id
        if not linked(ctx, deal.ref.id) and due(deal.stage, deal.won, section):
            out = sync(ctx, deal)  # another pipeline's deal is skipped there
            made += 1 if out.get("created") else 0
            refused += 1 if out.get("refused") else 0
        if read >= CHUNK:
            break
    key = ctx.key("pass", "running")
    state = json.loads(ctx.redis.get(key) or "{}")
    state.update(read=state.get("read", 0) + read, made=state.get("made", 0) + made,
                 refused=state.get("refused", 0) + refused)
    if read >= CHUNK:
        ctx.redis.set(key, json.dumps(state), ex=6 * 3600)
        ctx.enqueue("backfill", {"after": last}, "pass", last)
        return {"read": read, "made": made, "last": last}
    state["finished"] = time.time()
    pipe = ctx.redis.pipeline()
    pipe.set(ctx.key("pass", "last"), json.dumps(state))
    pipe.delete(key)
    pipe.execute()
    return {"read": read, "made": made, "done": True}


def progress(ctx: JobContext) -> dict[str, Any]:
    raw = ctx.redis.get(ctx.key("pass", "running"))
    last = ctx.redis.get(ctx.key("pass", "last"))
    return {"running": json.loads(raw) if raw else None,
            "last": json.loads(last) if last else None}
