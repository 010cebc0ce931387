"""Client value's work: which clients a deal's change touches, counting one client again
from its deals, and the backfill that counts every client of the portal once.

A deal event compares what of the deal makes a value (won in a counted pipeline, amount,
currency, date, clients) with what the previous event saw (the ledger, in Redis); only a
change queues a recount, one job per client however many events arrive meanwhile.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from connector import capped
from connector.capability import Event
from connector.context import JobContext
from connector.crm import port as crm
from connector.currency import forget_rates, portal_rates
from connector.i18n import N_, t
from robots.client_value import config
from robots.client_value.config import NAME
from robots.client_value.value import Value, clients, state_of, value_of

FIELD_CHECKED_S = 24 * 3600
RECENT = 30  # recounts kept for the admin page
CHUNK = 5000  # won deals a backfill job reads (two requests)
WRITES = 500  # clients a backfill job writes (ten batch requests)
BATCH = 50  # operations in one CRM batch

UNCONVERTED_NOTE = N_("The client's value was not counted again: this deal is in {currency}, "
                      "and the portal has no rate for it (CRM settings → Currencies). Once "
                      "the rate is there, the admin counts the values again on the app's "
                      "Client value page.")


def ref_of(label: str) -> crm.ItemRef:
    kind, _, rid = label.partition("/")
    return crm.ItemRef(kind, int(rid))


# currencies and fields -----------------------------------------------------------------
def rates(ctx: JobContext) -> tuple[str, dict[str, Decimal]]:
    """(the currency values are kept in, every currency's rate)."""
    base, known = portal_rates(ctx)
    return ctx.settings[NAME]["currency"] or base, known


def ensure_fields(ctx: JobContext, kind: str) -> dict[str, str]:
    """What → field of a contact or company, each made once when missing (checked daily)."""
    out = {}
    for what, (name, type_, label) in config.fields_of(ctx.settings[NAME], kind).items():
        ready = ctx.key("field", kind, name)
        if not ctx.redis.exists(ready):
            ctx.crm.ensure_item_field(kind, name, type_, t(ctx.lang, label))
            ctx.redis.set(ready, 1, ex=FIELD_CHECKED_S)
        out[what] = name
    return out


def write_op(ctx: JobContext, client: crm.ItemRef, value: Value) -> crm.UpdateItem | None:
    names = ensure_fields(ctx, client.kind)
    figures = value.fields()
    fields = {name: figures[what] for what, name in names.items()}
    return crm.UpdateItem(client, fields) if fields else None


# events ----------------------------------------------------------------------------------
def wants(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings[NAME]["enabled"])


def reads(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return {"deal": crm.GetItem(event.ref, contacts=True)}


def on_deal(ctx: JobContext, event: Event, reading: crm.Reading) -> dict[str, Any]:
    """Queue a recount of every client whose value this change of the deal moves."""
    try:
        deal: crm.Item = reading.get("deal")
    except crm.NotFound:
        return {"skipped": "deal gone"}
    ledger = ctx.key("ledger")
    raw = ctx.redis.hget(ledger, str(deal.ref.id))
    before = json.loads(raw) if raw else None
    now = state_of(deal, ctx.settings[NAME]["category_ids"])
    if before == now:
        return {"skipped": "nothing that counts changed"}
    if now is None:
        ctx.redis.hdel(ledger, str(deal.ref.id))
    else:
        ctx.redis.hset(ledger, str(deal.ref.id), json.dumps(now))
    touched = sorted(set((before or {}).get("clients", [])) | set((now or {}).get("clients", [])))
    for label in touched:
        queue_recount(ctx, label, deal.ref.id)
    return {"recount": touched}


def queue_recount(ctx: JobContext, label: str, deal_id: int = 0) -> None:
    if ctx.redis.exists(ctx.key("pass", "running")):
        # the pass under way leaves this client to its own recount, which reads later data
        ctx.redis.sadd(ctx.key("pass", "touched"), label)
    ctx.enqueue("recount", {"client": label, "deal": deal_id}, label, until_started=True)


# one client ------------------------------------------------------------------------------
def recount(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """Count the client's won deals again and write the figures to its fields."""
    client = ref_of(str(arg["client"]))
    currency, known = rates(ctx)
    section = ctx.settings[NAME]
    value = value_of(ctx.crm.deals(client, won=True), section["category_ids"], currency, known)
    if value.unconverted:
        return refuse(ctx, client, value)
    op = write_op(ctx, client, value)
    if op is not None:
        done = ctx.crm.apply({"write": op})
        if "write" in done.errors:
            err = done.errors["write"]
            if isinstance(err, crm.NotFound):
                return {"skipped": f"{client.label} is gone"}
            raise err
    ctx.redis.hdel(ctx.key("problems"), client.label)
    remember(ctx, client, value)
    return {"client": client.label, **value.as_json()}


def refuse(ctx: JobContext, client: crm.ItemRef, value: Value) -> dict[str, Any]:
    """A deal in a currency without a rate: nothing is written (a value without it would be
    wrong, and look right); the admin page lists it, the deal's timeline says why, once."""
    ctx.redis.hset(ctx.key("problems"), client.label, json.dumps(
        {"at": time.time(), "deals": {str(k): v for k, v in value.unconverted.items()}}))
    ops: dict[str, crm.Op] = {}
    for deal_id, currency in value.unconverted.items():
        if ctx.redis.set(ctx.key("noted", deal_id, currency), 1, nx=True, ex=30 * 24 * 3600):
            ops[f"note{deal_id}"] = crm.AddComment(crm.ItemRef("deal", deal_id), t(
                ctx.lang, UNCONVERTED_NOTE, currency=currency))
    if ops:
        ctx.crm.apply(ops)
    return {"client": client.label, "refused": value.as_json()["unconverted"]}


def remember(ctx: JobContext, client: crm.ItemRef, value: Value) -> None:
    capped.add(ctx.redis, ctx.key("recent"),
               {"client": client.label, "at": time.time(), **value.as_json()}, RECENT)


def recent(ctx: JobContext) -> list[dict[str, Any]]:
    return capped.latest(ctx.redis, ctx.key("recent"), RECENT)


def problems(ctx: JobContext) -> dict[str, dict[str, Any]]:
    return {k.decode() if isinstance(k, bytes) else k: json.loads(v)
            for k, v in ctx.redis.hgetall(ctx.key("problems")).items()}


# every client ----------------------------------------------------------------------------
def start_backfill(ctx: JobContext, by: str, chunk: int = CHUNK) -> bool:
    """Count every client again: False when a pass runs already."""
    if not ctx.redis.set(ctx.key("pass", "running"), json.dumps(
            {"started": time.time(), "by": by, "read": 0, "written": 0, "phase": "read"}),
            nx=True, ex=6 * 3600):
        return False
    pipe = ctx.redis.pipeline()
    pipe.delete(ctx.key("pass", "agg"), ctx.key("pass", "touched"), ctx.key("pass", "queue"))
    pipe.execute()
    forget_rates(ctx)  # an admin counting everyone again may just have added a rate
    ctx.enqueue("backfill", {"after": 0, "chunk": chunk}, "read", 0)
    return True


def progress(ctx: JobContext) -> dict[str, Any]:
    raw = ctx.redis.get(ctx.key("pass", "running"))
    last = ctx.redis.get(ctx.key("pass", "last"))
    return {"running": json.loads(raw) if raw else None, "last": json.loads(last) if last
            else None}


def _update(ctx: JobContext, **changes: Any) -> dict[str, Any]:
    key = ctx.key("pass", "running")
    state = json.loads(ctx.redis.get(key) or "{}")
    for name, delta in changes.items():
        state[name] = state.get(name, 0) + delta if isinstance(delta, int) else delta
    ctx.redis.set(key, json.dumps(state), ex=6 * 3600)
    return state


def backfill(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """One step of the pass: read CHUNK won deals into per-client sums, or write WRITES
    clients' figures; the next step is queued until both phases are over."""
    if arg.get("phase") == "write":
        return _write_step(ctx, arg)
    currency, known = rates(ctx)
    section = ctx.settings[NAME]
    after, read, chunk = int(arg.get("after") or 0), 0, int(arg.get("chunk") or CHUNK)
    sums: dict[str, Value] = {}
    ledger: dict[str, str] = {}
    last = after
    for deal in ctx.crm.deals(after=after, won=True):
        read, last = read + 1, deal.ref.id
        state = state_of(deal, section["category_ids"])
        if state is not None:
            ledger[str(deal.ref.id)] = json.dumps(state)
            for label in clients(deal):
                sums.setdefault(label, Value(currency=currency)).add(deal, known)
        if read >= chunk:
            break
    _merge(ctx, sums, ledger)
    _update(ctx, read=read)
    if read >= chunk:
        ctx.enqueue("backfill", {"after": last, "chunk": chunk}, "read", last)
        return {"read": read, "clients": len(sums), "last": last}
    agg, queue = ctx.key("pass", "agg"), ctx.key("pass", "queue")
    labels = sorted(k.decode() if isinstance(k, bytes) else k for k in ctx.redis.hkeys(agg))
    pipe = ctx.redis.pipeline()
    pipe.delete(queue)
    if labels:
        pipe.rpush(queue, *labels)
    pipe.execute()
    _update(ctx, phase="write", clients=len(labels))
    ctx.enqueue("backfill", {"phase": "write", "step": 0}, "write", 0)
    return {"read": read, "clients": len(sums), "last": last}


def _merge(ctx: JobContext, sums: dict[str, Value], ledger: dict[str, str]) -> None:
    agg = ctx.key("pass", "agg")
    labels = list(sums)
    old = ctx.redis.hmget(agg, labels) if labels else []
    pipe = ctx.redis.pipeline()
    for label, raw in zip(labels, old, strict=True):
        mine = sums[label]
        if raw:
            was = json.loads(raw)
            mine.won += was["won"]
            mine.total += Decimal(was["total"])
            mine.last = max(mine.last, was["last"])
            mine.unconverted.update({int(k): v for k, v in was["unconverted"].items()})
        pipe.hset(agg, label, json.dumps(mine.as_json()))
    if ledger:
        pipe.hset(ctx.key("ledger"), mapping=ledger)
    pipe.execute()


def _write_step(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    agg, queue = ctx.key("pass", "agg"), ctx.key("pass", "queue")
    # read, written, then dropped from the queue: a step that fails is retried on the same
    # clients (their writes are idempotent), none is lost
    batch = [b.decode() if isinstance(b, bytes) else b
             for b in ctx.redis.lrange(queue, 0, WRITES - 1)]
    touched = {m.decode() if isinstance(m, bytes) else m
               for m in ctx.redis.smembers(ctx.key("pass", "touched"))}
    written = refused = 0
    ops: dict[str, crm.Op] = {}
    for label in batch:
        if label in touched:
            continue  # an event's own recount has counted it from later data
        data = json.loads(ctx.redis.hget(agg, label) or "{}")
        value = Value(data["won"], Decimal(data["total"]), data["last"], data["currency"],
                      {int(k): v for k, v in data["unconverted"].items()})
        client = ref_of(label)
        if value.unconverted:
            refuse(ctx, client, value)
            refused += 1
            continue
        if (op := write_op(ctx, client, value)) is not None:
            ops[label] = op
        if len(ops) >= BATCH:
            written += _apply(ctx, ops)
            ctx.redis.hdel(ctx.key("problems"), *ops)
            ops = {}
    written += _apply(ctx, ops)
    if ops:
        ctx.redis.hdel(ctx.key("problems"), *ops)
    ctx.redis.ltrim(queue, len(batch), -1)
    _update(ctx, written=written, refused=refused)
    if ctx.redis.llen(queue):
        step = int(arg.get("step") or 0) + 1
        ctx.enqueue("backfill", {"phase": "write", "step": step}, "write", step)
        return {"written": written, "refused": refused}
    state = _update(ctx, finished=time.time())
    pipe = ctx.redis.pipeline()
    pipe.set(ctx.key("pass", "last"), json.dumps(state))
    pipe.delete(ctx.key("pass", "running"), agg, queue)
    pipe.execute()
    return {"written": written, "refused": refused, "done": True}


def _apply(ctx: JobContext, ops: dict[str, crm.Op]) -> int:
    if not ops:
        return 0
    done = ctx.crm.apply(ops)
    hard = [e for e in done.errors.values() if not isinstance(e, crm.NotFound)]
    if hard:
        raise hard[0]
    return len(ops) - len(done.errors)
