"""The deal tab's carriers: the last search's suggestions for the deal (kept in Redis by
robots.carriers.find, never read from the CRM), with phones and the evidence, and two
buttons: search again, and record what a carrier offered on the phone (the same as the
robot record_carrier_offer: an offer item and a comment in the deal).

The offer form posts its fields (CardAction.form): the carrier comes from the viewer's
browser, so it must be one of the suggestions shown, and the rate a number; otherwise
nothing is queued.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from connector.capability import CardAction, CardSection
from connector.context import JobContext
from connector.crm.port import ItemRef
from connector.i18n import N_
from robots.carriers import bases, config, find, sync
from robots.carriers.config import NAME

FIND_TASK, OFFER_TASK = "find_from_tab", "offer_from_tab"
OFFER_FIELDS = ("carrier", "rate", "vat", "payment", "deferral_days", "executor")


def card_facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    section = ctx.settings[NAME]
    on = bool(section["enabled"]) and section["requests"] == config.DEALS
    found = ctx.redis.get(find.found_key(ctx, ItemRef("deal", deal_id))) if on else None
    last = json.loads(found) if found else None
    return {"on": on, "last": last, "ready": sync.state(ctx)["status"] == "ready",
            "vat": list(bases.VAT_OPTIONS), "payment": list(bases.PAYMENT_OPTIONS)}


def search_again(ctx: JobContext, deal_id: int) -> str:
    section = ctx.settings[NAME]
    if not (section["enabled"] and section["requests"] == config.DEALS):
        return ""
    return ctx.enqueue_job(FIND_TASK, {"id": deal_id, "token": uuid.uuid4().hex},
                           "deal", deal_id, "find")


def record_offer(ctx: JobContext, deal_id: int, value: str) -> str:
    """Queue the offer when the form names a carrier the tab showed and a sane rate."""
    try:
        form = json.loads(value)
    except ValueError:
        return ""
    if not isinstance(form, dict):
        return ""
    raw = ctx.redis.get(find.found_key(ctx, ItemRef("deal", deal_id)))
    shown = {str(s["id"]) for s in (json.loads(raw)["suggestions"] if raw else [])}
    carrier = str(form.get("carrier") or "").strip().lstrip("#")
    rate = str(form.get("rate") or "").strip()
    if carrier not in shown or (rate and not sync.number(rate)):
        return ""
    props = {k: str(form.get(k) or "") for k in OFFER_FIELDS}
    props["carrier"] = f"#{carrier}"
    props["executor"] = "Y" if props["executor"] in ("Y", "on", "1") else "N"
    return ctx.enqueue_job(OFFER_TASK, {"id": deal_id, "props": props,
                                        "token": uuid.uuid4().hex},
                           "deal", deal_id, "offer", carrier)


def run_find_from_tab(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    out = find.find_for(ctx, ItemRef("deal", int(arg["id"])), f"tab:{arg['token']}")
    return {k: out[k] for k in ("count", "fitting", "best_carrier")}


def run_offer_from_tab(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    from robots.carriers import entries

    return entries.record_offer(ctx, ItemRef("deal", int(arg["id"])), dict(arg["props"]),
                                f"tab:{arg['token']}")


CARD_ACTIONS = (
    CardAction("search", N_("Find carriers"), search_again,
               lambda facts: bool(facts["on"])),
    CardAction("offer", N_("Record offer"), record_offer,
               lambda facts: bool(facts["last"] and facts["last"]["suggestions"]),
               form=OFFER_FIELDS),
)

CARD_SECTIONS = (CardSection("carriers", N_("Carriers"), card_facts, "sections/carriers.html",
                             CARD_ACTIONS),)
