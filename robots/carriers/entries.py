"""What a logist enters after a call, as robots: `record_carrier_offer` (an offer item linked
to the request and the carrier, a comment in the request, the carrier as executor when it
took the job) and `add_to_carrier_base` (a new carrier, or the known one's truck and
location brought up to date: a carrier busy today who drives the lane is found next time).

A retried call makes nothing twice: what it made is remembered by its event token, and a
call killed between the write and that memory finds its item again by title and time.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import date, datetime
from typing import Any

from rapidfuzz import fuzz, process

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, NP_, nt, t
from connector.triggers import RobotCall, RobotError
from robots.carriers import bases, config, explain, find, requests, store, sync
from robots.carriers.records import Carrier

NO_CARRIER = N_("name the carrier: its number in the carrier base (#12), its phone or its "
                "name")
UNKNOWN_CARRIER = N_("no carrier «{text}» in the base{candidates}")
WHICH_CARRIER = N_("«{text}» may be several carriers: {candidates}; give its number (#12)")
NO_RATE = N_("the rate is not a number: «{text}»")
NO_NAME = N_("the carrier needs a name")
OFFER_TITLE = N_("Offer: {carrier}, {rate}")
OFFER_NOTE = N_("Offer from {carrier}: {terms}")
EXECUTOR_NOTE = N_("{carrier} takes the request: {terms}")
DEFERRAL = NP_("deferral {n} day", "deferral {n} days")
MADE_TTL_S = 7 * 86400
CLOCK_SKEW_S = 300  # the portal's clock may lag ours
NAME_CUTOFF = 85.0  # a name this alike (rapidfuzz WRatio) is the carrier…
NAME_MARGIN = 5.0  # …when the next best is this far behind


def _stamp(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-10:]


def _refs(ctx: JobContext) -> dict[str, str]:
    return sync.known_kinds(ctx)


def find_carrier(snap: Any, text: str) -> Carrier:
    """The carrier a logist means: "#12" or "12", a phone, or a name (fuzzy, never a guess)."""
    text = text.strip()
    if not text:
        raise RobotError(NO_CARRIER)
    known = [c for c in snap.carriers if c is not None]
    ident = text.lstrip("#№ ")
    if ident.isdigit() and len(ident) < 9:
        if (found := snap.carrier(int(ident))) is not None:
            return found
        raise RobotError(UNKNOWN_CARRIER, text=text, candidates="")
    if len(_digits(text)) == 10:
        same = [c for c in known if any(_digits(p) == _digits(text) for p in c.phones)]
        if len(same) == 1:
            return same[0]
        if same:
            raise RobotError(WHICH_CARRIER, text=text, candidates=_names(same))
    best = process.extract(plain_name(text), {c.id: plain_name(c.name) for c in known},
                           scorer=fuzz.WRatio, limit=3)
    if best and best[0][1] >= NAME_CUTOFF and (len(best) < 2 or best[1][1] < best[0][1]
                                                - NAME_MARGIN):
        return snap.carrier(best[0][2])
    if best and best[0][1] >= NAME_CUTOFF:
        raise RobotError(WHICH_CARRIER, text=text,
                         candidates=_names([snap.carrier(b[2]) for b in best]))
    hint = _names([snap.carrier(b[2]) for b in best if b[1] >= 60])
    raise RobotError(UNKNOWN_CARRIER, text=text, candidates=f" (≈ {hint})" if hint else "")


LEGAL_FORM = re.compile(r"\b(ооо|ип|ао|зао|оао|пао|тк|тэк|llc|ltd)\b", re.IGNORECASE)


def plain_name(name: str) -> str:
    """A carrier's name as people say it: no legal form, quotes or dashes («ООО «Волга-Транс»»
    → «волга транс»)."""
    text = LEGAL_FORM.sub(" ", name.lower().replace("ё", "е"))
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _names(carriers: list[Carrier]) -> str:
    return ", ".join(f"#{c.id} {c.name}" for c in carriers)


def _rate(text: Any) -> float:
    raw = str(text or "").strip()
    value = sync.number(raw)
    if raw and not value:
        raise RobotError(NO_RATE, text=raw)
    return value


def _made(ctx: JobContext, what: str, token: str, process: crm.SmartProcess,
          title: str, fields: dict[str, Any]) -> tuple[int, bool]:
    """Create the item once per robot call: (its id, made now). A call killed after the
    write finds it again: the newest item of that title made since the call began."""
    key, making = ctx.key("made", what, _stamp(token)), ctx.key("making", what, _stamp(token))
    if (known := ctx.redis.get(key)) is not None:
        return int(known), False
    began = ctx.redis.get(making)
    if began is not None:
        found = ctx.crm.read({"f": crm.FindItems(process, (("title", "=", title),),
                                                 (("id", "desc"),), limit=1)}).get("f")
        if found and _since(found[0].created_at) >= float(began) - CLOCK_SKEW_S:
            ctx.redis.set(key, found[0].ref.id, ex=MADE_TTL_S)
            return found[0].ref.id, False
    else:
        ctx.redis.set(making, time.time(), ex=MADE_TTL_S)
    done = ctx.crm.apply({"i": crm.CreateItem(process, {**fields, "title": title})})
    if "i" in done.errors:
        raise done.errors["i"]
    item_id = int(done.values["i"])
    ctx.redis.set(key, item_id, ex=MADE_TTL_S)
    return item_id, True


def _since(created: str) -> float:
    try:
        return datetime.fromisoformat(created).timestamp()
    except ValueError:
        return 0.0


def _terms(ctx: JobContext, rate: float, props: dict[str, Any]) -> str:
    lang = ctx.lang
    parts = []
    if rate:
        parts.append(explain.rate(rate, lang))
    for code, options in (("vat", bases.VAT_OPTIONS), ("payment", bases.PAYMENT_OPTIONS)):
        if label := dict(options).get(str(props.get(code) or "")):
            parts.append(explain.lower_first(t(lang, label)))
    if days := int(sync.number(props.get("deferral_days"))):
        parts.append(nt(lang, *DEFERRAL, days))
    parts += [str(props.get(k)).strip() for k in ("vehicle", "driver") if props.get(k)]
    return ", ".join(parts) or "—"


def run_record_offer(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    return record_offer(ctx, call.ref, call.properties, call.event_token)


def record_offer(ctx: JobContext, ref: crm.ItemRef, props: dict[str, Any], token: str
                 ) -> dict[str, Any]:
    """The offer made once per `token` (a robot call's event token, a tab click's job)."""
    find.enabled(ctx)
    sp = sync.processes(ctx)
    snap = find.ready_snapshot(ctx)
    carrier = find_carrier(snap, str(props.get("carrier") or ""))
    request = requests.read(ctx, ref)
    rate = _rate(props.get("rate"))
    executor = requests.yes(props.get("executor"))
    lang = ctx.lang
    fields = {"carrier": crm.ItemRef(sp["carriers"].kind, carrier.id), "request": ref,
              "from_city": str(props.get("from_city") or request.origin_text),
              "to_city": str(props.get("to_city") or request.destination_text),
              "offer_date": str(props.get("offer_date") or date.today().isoformat())[:10],
              "rate": crm.Money(str(rate), "RUB") if rate else None,
              "vat": str(props.get("vat") or "") or None,
              "payment": str(props.get("payment") or "") or None,
              "deferral_days": int(sync.number(props.get("deferral_days"))) or None,
              "vehicle": str(props.get("vehicle") or ""), "driver": str(props.get("driver") or ""),
              "executor": executor}
    fields = {k: v for k, v in fields.items() if v not in (None, "")}
    title = t(lang, OFFER_TITLE, carrier=carrier.name, rate=explain.rate(rate, lang) if rate
              else "—")
    offer_id, _new = _made(ctx, "offer", token, sp["offers"], title, fields)
    terms = _terms(ctx, rate, props)
    note = t(lang, EXECUTOR_NOTE if executor else OFFER_NOTE, carrier=carrier.name, terms=terms)
    ops: dict[str, crm.Op] = {}
    if not ctx.redis.exists(ctx.key("noted", _stamp(token))):
        ops["note"] = crm.AddComment(ref, note)
    if executor:
        ops["executor"] = _executor_op(ctx, ref, sp, carrier, rate)
    if ops:
        done = ctx.crm.apply(ops)
        if done.errors:
            raise next(iter(done.errors.values()))
        ctx.redis.set(ctx.key("noted", _stamp(token)), 1, ex=MADE_TTL_S)
    sync.refresh(ctx, crm.ItemRef(sp["offers"].kind, offer_id))
    if executor:
        sync.refresh(ctx, ref)
    return {"offer_id": offer_id, "carrier_id": carrier.id, "carrier": carrier.name}


def _executor_op(ctx: JobContext, ref: crm.ItemRef, sp: dict[str, crm.SmartProcess],
                 carrier: Carrier, rate: float) -> crm.Op:
    """The request (or deal) names its carrier and rate: the trip it becomes once won."""
    if ref.kind == "deal":
        section = ctx.settings[config.NAME]
        f = config.deal_fields(section)
        values: dict[str, Any] = {}
        if "carrier_field" in f:
            values[f["carrier_field"]] = str(carrier.id)
        if "rate_field" in f and rate:
            values[f["rate_field"]] = rate
        return crm.UpdateItem(ref, values, quiet=False)
    values = {"carrier": crm.ItemRef(sp["carriers"].kind, carrier.id)}
    if rate:
        values["rate"] = crm.Money(str(rate), "RUB")
    return crm.UpdateItem(ref, values, quiet=False, process=sp["requests"])


def run_add_to_base(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    """A carrier into the base, or the known one (same phone or company) updated."""
    find.enabled(ctx)
    props = call.properties
    sp = sync.processes(ctx)
    snap = store.snapshot(sync.store(ctx))
    name = str(props.get("name") or "").strip()
    phone = str(props.get("phone") or "").strip()
    company = int(sync.number(props.get("company_id")))
    same = [c for c in snap.carriers if c is not None and (
        (phone and len(_digits(phone)) == 10 and any(_digits(p) == _digits(phone)
                                                      for p in c.phones))
        or (company and c.company_id == company))]
    fields: dict[str, Any] = {}
    for code in ("vehicle", "home_city", "regions", "location_city", "blacklist_note"):
        if value := str(props.get(code) or "").strip():
            fields[code] = value
    for code in ("capacity_t", "volume_m3"):
        if value := sync.number(props.get(code)):
            fields[code] = value
    for code in ("home_city", "location_city"):
        if code in fields:
            title = t(ctx.lang, bases.CARRIERS.field(code).title)
            requests.place(fields[code], title, title, ctx.lang)
    if body := [b for b in (sync.body_of(x) for x in _many(props.get("body"))) if b]:
        fields["body"] = body
    if day := str(props.get("location_date") or "").strip()[:10]:
        fields["location_date"] = day
    for code in ("adr", "oversize"):
        if str(props.get(code) or "").strip():
            fields[code] = requests.yes(props.get(code))
    if phone:
        fields["phone"] = phone
    if company:
        fields["company"] = crm.ItemRef("company", company)
    if contact := int(sync.number(props.get("contact_id"))):
        fields["contact"] = crm.ItemRef("contact", contact)
    if same:
        carrier = same[0]
        done = ctx.crm.apply({"u": crm.UpdateItem(crm.ItemRef(sp["carriers"].kind, carrier.id),
                                                  fields, process=sp["carriers"])})
        if done.errors:
            raise next(iter(done.errors.values()))
        sync.refresh(ctx, crm.ItemRef(sp["carriers"].kind, carrier.id))
        return {"carrier_id": carrier.id, "created": "N"}
    if not name:
        raise RobotError(NO_NAME)
    carrier_id, _new = _made(ctx, "carrier", call.event_token, sp["carriers"], name, fields)
    sync.refresh(ctx, crm.ItemRef(sp["carriers"].kind, carrier_id))
    return {"carrier_id": carrier_id, "created": "Y"}


def _many(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [p for p in re.split(r"[,;/]", str(value or "")) if p.strip()]


__all__ = ["run_add_to_base", "run_record_offer"]
