"""Keeping the carrier index current: CRM items become records (`carrier_of`, `offer_of`,
`trip_of_request`, `trip_of_deal`, pure), a backfill reads every carrier, offer and won
request of the portal by ID cursor (resumable, a chunk per job), item and deal events write
the one that changed, and a periodic reconcile reads everything again to catch what events
missed — deletions included — writing only what differs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t
from connector.triggers import RobotError
from robots.carriers import bases, config, places
from robots.carriers.records import BODIES, Carrier, Offer, Place, Trip
from robots.carriers.store import Store

MAPPED_GONE = N_("the smart process {id} set in the app's settings for «{what}» is not on "
                 "the portal: choose another there, or 0 to let the app make its own")
STALE_S = 1800  # a pass whose chunk has not moved for this long died: the next one starts
CHUNK = 10_000  # items one backfill job reads before it hands on to the next
SOURCES = ("carriers", "offers", "requests", "deals")
BACKFILL_TASK, RECONCILE = "backfill", "reconcile"


# what a source is on this portal ------------------------------------------------------
def processes(ctx: JobContext) -> dict[str, crm.SmartProcess]:
    """The three smart processes (made the first time; the port remembers them)."""
    section = ctx.settings[config.NAME]
    wanted = [("carriers", bases.CARRIERS, "carrier_process"),
              ("offers", bases.OFFERS, "offer_process")]
    if section["requests"] == config.PROCESS:
        wanted.append(("requests", bases.REQUESTS, "request_process"))
    out: dict[str, crm.SmartProcess] = {}
    for source, spec, setting in wanted:
        existing = int(section[setting] or 0)
        try:
            out[source] = ctx.crm.ensure_smart_process(spec, existing, ctx.lang)
        except crm.NotFound as exc:  # the admin's own smart process, deleted since
            raise RobotError(MAPPED_GONE, id=existing, what=t(ctx.lang, spec.title)) from exc
    if config.uses_deals(section):
        ensure_deal_fields(ctx, section)
    kinds = {source: sp.kind for source, sp in out.items()}
    if kinds != known_kinds(ctx):
        ctx.redis.set(ctx.key("kinds"), json.dumps(kinds))
    return out


FIELD_CHECKED_S = 86400


def ensure_deal_fields(ctx: JobContext, section: dict[str, Any]) -> None:
    """The logistics deal fields the settings name exist (made when missing; checked once a
    day, not once per search)."""
    for name, label, _default, type_ in config.DEAL_FIELDS:
        field = section[name]
        if not field:
            continue
        ready = ctx.key("field", field)
        if not ctx.redis.exists(ready):
            ctx.crm.ensure_item_field("deal", field, type_, t(ctx.lang, label))
            ctx.redis.set(ready, 1, ex=FIELD_CHECKED_S)


def known_kinds(ctx: JobContext) -> dict[str, str]:
    """Source → item kind of the processes the app has made or mapped (from Redis: an
    event's `wants` asks the CRM nothing)."""
    raw = ctx.redis.get(ctx.key("kinds"))
    return json.loads(raw) if raw else {}


def store(ctx: JobContext) -> Store:
    return Store(ctx.redis, ctx.key("index"))


# items -> records (pure) ----------------------------------------------------------------
def _place(text: Any) -> Place | None:
    found = places.resolve(str(text or ""))
    return found if isinstance(found, Place) else None


def number(value: Any) -> float:
    if isinstance(value, crm.Money):
        value = value.amount
    if isinstance(value, list):
        value = value[0] if value else ""
    text = str(value or "").split("|")[0].replace(",", ".").replace("\u00a0", "").replace(
        " ", "")
    try:
        return float(Decimal(text)) if text else 0.0
    except InvalidOperation:
        return 0.0


def _ref_id(value: Any) -> int:
    """An item link as the CRM holds it: an ItemRef, "T<hex>_<id>", "<id>"."""
    if isinstance(value, crm.ItemRef):
        return value.id
    if isinstance(value, list):
        value = value[0] if value else ""
    text = str(value or "").strip().lstrip("#")
    tail = text.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _phones(text: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip())


def body_of(text: Any) -> str:
    """A body type as our key, from a key or its Russian or English title ("тент")."""
    word = str(text or "").strip().lower()
    if word in BODIES:
        return word
    from connector.i18n import t

    for key, title in bases.BODY_TITLES.items():
        if word in (title.lower(), t("ru", title).lower()):
            return key
    return ""


def carrier_of(item: crm.Item) -> Carrier:
    v = item.values
    regions, _unknown = places.resolve_list(str(v.get("regions") or ""))
    bodies = v.get("body") or []
    return Carrier(
        id=item.ref.id, name=item.title, phones=_phones(v.get("phone")) + tuple(item.phones),
        company_id=_ref_id(v.get("company")), contact_id=_ref_id(v.get("contact")),
        capacity_t=number(v.get("capacity_t")), volume_m3=number(v.get("volume_m3")),
        bodies=tuple(b for b in (bodies if isinstance(bodies, list) else [bodies])
                     if b in BODIES),
        adr=bool(v.get("adr")), oversize=bool(v.get("oversize")),
        home=_place(v.get("home_city")), home_text=str(v.get("home_city") or ""),
        location=_place(v.get("location_city")),
        location_text=str(v.get("location_city") or ""),
        location_date=str(v.get("location_date") or "")[:10], regions=tuple(regions),
        regions_text=str(v.get("regions") or ""), blacklisted=bool(v.get("blacklisted")),
        note=str(v.get("blacklist_note") or ""))


def offer_of(item: crm.Item) -> Offer:
    v = item.values
    request = v.get("request")
    return Offer(
        id=item.ref.id, carrier_id=_ref_id(v.get("carrier")),
        origin=_place(v.get("from_city")), destination=_place(v.get("to_city")),
        day=str(v.get("offer_date") or item.created_at or "")[:10],
        rate=number(v.get("rate")), vat=str(v.get("vat") or ""),
        request=request.label if isinstance(request, crm.ItemRef) else "",
        executor=bool(v.get("executor")), origin_text=str(v.get("from_city") or ""),
        destination_text=str(v.get("to_city") or ""))


def trip_of_request(item: crm.Item) -> Trip | None:
    """A won request with its carrier is a trip; any other is none."""
    v = item.values
    carrier = _ref_id(v.get("carrier"))
    if not (item.won and carrier):
        return None
    return Trip(ref=item.ref.label, carrier_id=carrier, origin=_place(v.get("from_city")),
                destination=_place(v.get("to_city")),
                day=str(v.get("loading_date") or item.created_at or "")[:10],
                rate=number(v.get("rate")), origin_text=str(v.get("from_city") or ""),
                destination_text=str(v.get("to_city") or ""),
                weight_t=number(v.get("weight_t")), volume_m3=number(v.get("volume_m3")),
                body=body_of(v.get("body")))


def trip_of_deal(item: crm.Item, section: dict[str, Any]) -> Trip | None:
    """A won deal of the logistics pipeline with its carrier field set, by the admin's map."""
    f = config.deal_fields(section)

    def get(name: str) -> Any:
        return item.fields.get(f[name]) if name in f else None

    carrier = _ref_id(get("carrier_field"))
    if not (item.won and carrier):
        return None
    return Trip(ref=item.ref.label, carrier_id=carrier, origin=_place(get("from_field")),
                destination=_place(get("to_field")),
                day=str(get("date_field") or item.fields.get("CLOSEDATE") or "")[:10],
                rate=number(get("rate_field")), origin_text=str(get("from_field") or ""),
                destination_text=str(get("to_field") or ""),
                weight_t=number(get("weight_field")), volume_m3=number(get("volume_field")),
                body=body_of(get("body_field")))


# backfill and reconcile --------------------------------------------------------------------
def _state_key(ctx: JobContext) -> str:
    return ctx.key("index", "state")


def state(ctx: JobContext) -> dict[str, Any]:
    """The index's build: status ("empty" | "building" | "ready"), cursors, counts, times."""
    raw = ctx.redis.get(_state_key(ctx))
    return json.loads(raw) if raw else {"status": "empty"}


def _save(ctx: JobContext, st: dict[str, Any]) -> None:
    ctx.redis.set(_state_key(ctx), json.dumps(st))


def sources(ctx: JobContext) -> list[str]:
    section = ctx.settings[config.NAME]
    out = ["carriers", "offers"]
    if section["requests"] == config.PROCESS:
        out.append("requests")
    if config.uses_deals(section):
        out.append("deals")
    return out


def _items(ctx: JobContext, source: str, sp: dict[str, crm.SmartProcess], after: int
           ) -> Iterator[crm.Item]:
    if source == "deals":
        section = ctx.settings[config.NAME]
        return ctx.crm.list_items("deal", after=after, category=str(section["deal_pipeline"]),
                                  won=True)
    process = sp[source]
    return ctx.crm.list_items(process.kind, process, after=after)


def _records(ctx: JobContext, source: str, items: list[crm.Item]) -> dict[str, list[Any]]:
    if source == "carriers":
        return {"carriers": [carrier_of(i) for i in items]}
    if source == "offers":
        return {"offers": [offer_of(i) for i in items]}
    section = ctx.settings[config.NAME]
    made = [trip_of_request(i) if source == "requests" else trip_of_deal(i, section)
            for i in items]
    return {"trips": [t for t in made if t is not None]}


KIND_OF = {"carriers": "c", "offers": "o", "requests": "t", "deals": "t"}


def start_backfill(ctx: JobContext, reason: str = "backfill") -> bool:
    """Queue a pass over the portal unless one runs; True when a new pass was queued."""
    st = state(ctx)
    run = st.get("pass") or {}
    if run.get("running") and time.time() - run.get("touched", run.get("started", 0)) < STALE_S:
        return False
    st["pass"] = {"running": True, "reason": reason, "started": time.time(), "touched": time.time(),
                  "source": 0, "after": 0, "read": 0, "written": 0, "id": int(time.time())}
    if st["status"] == "empty":
        st["status"] = "building"
    _save(ctx, st)
    ctx.enqueue(BACKFILL_TASK, {"pass": st["pass"]["id"]}, "pass", st["pass"]["id"], 0)
    return True


def run_backfill(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """One chunk of a pass: up to CHUNK items of the current source from its cursor, written
    (only what differs), their ids remembered for the pass; then the next chunk is queued, or
    the pass ends by dropping what it did not see."""
    st = state(ctx)
    run = st.get("pass") or {}
    if not run.get("running") or run.get("id") != arg.get("pass"):
        return {"skipped": "no such pass"}
    order = sources(ctx)
    sp = processes(ctx)
    idx = store(ctx)
    seen_key = ctx.key("index", "seen", run["id"])
    while run["source"] < len(order):
        source = order[run["source"]]
        items: list[crm.Item] = []
        last = run["after"]
        for item in _items(ctx, source, sp, run["after"]):
            items.append(item)
            last = item.ref.id
            if len(items) >= CHUNK:
                break
        records = _records(ctx, source, items)
        note_unresolved(ctx, records, ctx.key("index", "unresolved", run["id"]))
        run["written"] += idx.write(**records, only_changed=True)
        run["read"] += len(items)
        kind = KIND_OF[source]
        if items:
            ctx.redis.sadd(seen_key, *[f"{kind}:{i.ref.label if kind == 't' else i.ref.id}"
                                       for i in items])
            ctx.redis.expire(seen_key, 7 * 86400)
        if len(items) >= CHUNK:
            run["after"] = last
            run["touched"] = time.time()
            _save(ctx, st)
            ctx.enqueue(BACKFILL_TASK, {"pass": run["id"]}, "pass", run["id"], run["read"])
            return {"read": run["read"], "source": source, "after": last}
        run["source"] += 1
        run["after"] = 0
    gone = _unseen(ctx, idx, seen_key)
    idx.write(gone=gone)
    ctx.redis.delete(seen_key)
    pending = ctx.key("index", "unresolved", run["id"])
    if ctx.redis.exists(pending):
        ctx.redis.rename(pending, unresolved_key(ctx))
    else:
        ctx.redis.delete(unresolved_key(ctx))
    counts = idx.counts()
    st.update({"status": "ready", "built": time.time(), "counts": counts,
               "last_pass": {**run, "running": False, "finished": time.time(),
                             "dropped": len(gone)}})
    st.pop("pass", None)
    _save(ctx, st)
    return {"read": run["read"], "written": run["written"], "dropped": len(gone), **counts}


def unresolved_key(ctx: JobContext) -> str:
    return ctx.key("index", "unresolved")


def note_unresolved(ctx: JobContext, records: dict[str, list[Any]], key: str) -> None:
    """Count the place names a pass could not resolve (the admin page lists them to fix):
    such a record stays in the index but cannot be scored on its lane or nearness."""
    texts: list[str] = []
    for carrier in records.get("carriers", []):
        texts += [text for text, place in ((carrier.home_text, carrier.home),
                                           (carrier.location_text, carrier.location))
                  if text.strip() and place is None]
    for record in records.get("offers", []) + records.get("trips", []):
        texts += [text for text, place in ((record.origin_text, record.origin),
                                           (record.destination_text, record.destination))
                  if text.strip() and place is None]
    if not texts:
        return
    pipe = ctx.redis.pipeline(transaction=False)
    for text in texts:
        pipe.hincrby(key, text.strip()[:100], 1)
    pipe.expire(key, 8 * 86400)
    pipe.execute()


def unresolved(ctx: JobContext, most: int = 30) -> list[tuple[str, int]]:
    """The unresolved names of the last pass, most frequent first."""
    raw = ctx.redis.hgetall(unresolved_key(ctx))
    pairs = [(k.decode(), int(v)) for k, v in raw.items()]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))[:most]


def _unseen(ctx: JobContext, idx: Store, seen_key: str) -> list[tuple[str, str]]:
    """Records in the index a whole pass did not read: deleted in the CRM, or no longer won.
    A trip's key is its request's label; a deal's and a request's both live under "t"."""
    seen = {m.decode() for m in ctx.redis.smembers(seen_key)}
    gone: list[tuple[str, str]] = []
    for kind in ("c", "o"):
        gone += [(kind, i) for i in idx.ids(kind) if f"{kind}:{i}" not in seen]
    gone += [("t", ref) for ref in idx.ids("t") if f"t:{ref}" not in seen]
    return gone


def reconcile_every(settings: Any) -> int | None:
    section = settings.get(config.NAME)
    return 24 * 3600 if section and section.get("enabled") else None


def run_reconcile(ctx: JobContext) -> dict[str, Any]:
    """The daily pass (and the first one, on a portal never indexed)."""
    return {"queued": start_backfill(ctx, "reconcile")}


# events -----------------------------------------------------------------------------------
def source_of(ctx: JobContext, kind: str) -> str:
    """Which source an item of this kind is ("" : none of ours), from remembered processes."""
    section = ctx.settings[config.NAME]
    if not section["enabled"]:
        return ""
    if kind == "deal":
        return "deals" if config.uses_deals(section) else ""
    return next((s for s, k in known_kinds(ctx).items() if k == kind), "")


def refresh(ctx: JobContext, ref: crm.ItemRef) -> str:
    """Read one item again and write what it now is to the index (an event, a robot)."""
    source = source_of(ctx, ref.kind)
    if not source:
        return ""
    idx = store(ctx)
    kind = KIND_OF[source]
    if (run := state(ctx).get("pass")) and run.get("running"):
        # written while a pass runs: the pass's end must not drop it as unseen
        ctx.redis.sadd(ctx.key("index", "seen", run["id"]),
                       f"{kind}:{ref.label if kind == 't' else ref.id}")
    if source == "deals":
        section = ctx.settings[config.NAME]
        item = ctx.crm.item(ref)
        if str(item.category or "0") != str(section["deal_pipeline"]):
            return ""
        items = [item]
    else:
        process = processes(ctx)[source]
        items = ctx.crm.read({"i": crm.FindItems(process, (("id", "=", ref.id),), limit=1)}
                             ).get("i")
    if not items:
        idx.write(gone=[(kind, ref.label if kind == "t" else str(ref.id))])
        return "gone"
    records = _records(ctx, source, items)
    if kind == "t" and not records["trips"]:  # reopened, lost, or the carrier taken off
        idx.write(gone=[("t", ref.label)])
        return "not a trip"
    idx.write(**records, only_changed=True)
    return source
