"""Carrier search for logistics, declared: a carrier base, an offers base and transport
requests as smart processes of the portal; an index of carriers, offers and won trips that a
search reads without a CRM call; the robots find_carriers, record_carrier_offer and
add_to_carrier_base; the deal tab's suggestions; the admin page's index and trial search
(see docs/carriers.md).

Modules: records (what the index holds), bases (the smart processes), places and geo (the
gazetteer), index (the columns in memory), store (Redis, and each process's copy), sync
(backfill, events, reconcile), rank (the score) and explain (its words), requests, find
and entries (the robots), card and panels.
"""

from __future__ import annotations

from typing import Any

from connector.capability import Capability, Event, Periodic, Subscription, Task
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_
from connector.triggers import DEAL, DYNAMIC, Prop, RobotSpec
from robots.carriers import card, config, entries, find, sync
from robots.carriers.card import CARD_SECTIONS
from robots.carriers.config import NAME
from robots.carriers.panels import PANELS

FIND = RobotSpec(
    code="find_carriers",
    name=N_("Find carriers"),
    description=N_("Suggests carriers for the transport request from the company's own won "
                   "trips, offers and carrier base, with phones and the reasons, in the "
                   "request's timeline"),
    run=find.run_find,
    properties={},
    return_properties={
        "count": Prop(N_("Carriers suggested"), "int"),
        "fitting": Prop(N_("Carriers that fit"), "int"),
        "best_carrier": Prop(N_("Best carrier"), "string"),
        "best_carrier_id": Prop(N_("Best carrier's ID in the carrier base"), "int"),
        "best_phone": Prop(N_("Best carrier's phone"), "string"),
        "summary": Prop(N_("Suggestions"), "text"),
    },
    document_types=(DEAL, DYNAMIC),
)

RECORD_OFFER = RobotSpec(
    code="record_carrier_offer",
    name=N_("Record a carrier's offer"),
    description=N_("What the logist heard on the phone: an item in the offers base and a "
                   "comment in the request; the carrier becomes the executor when it takes "
                   "the job"),
    run=entries.run_record_offer,
    properties={
        "carrier": Prop(N_("Carrier"), "string", required=True,
                        description=N_("Its number in the carrier base (#12), phone or name")),
        "rate": Prop(N_("Rate, ₽"), "string"),
        "vat": Prop(N_("VAT"), "select", options={"with_vat": "С НДС",
                                                  "without_vat": "Без НДС"}),
        "payment": Prop(N_("Payment form"), "select", options={
            "bank": "Безналичный расчёт", "cash": "Наличные", "card": "Карта",
            "fuel_card": "Топливная карта"}),
        "deferral_days": Prop(N_("Deferral, days"), "int"),
        "vehicle": Prop(N_("Vehicle"), "string"),
        "driver": Prop(N_("Driver"), "string"),
        "executor": Prop(N_("Executor"), "bool", default="N",
                         description=N_("The carrier takes the request")),
        "offer_date": Prop(N_("Date"), "date"),
        "from_city": Prop(N_("From"), "string", description=N_("Empty: the request's")),
        "to_city": Prop(N_("To"), "string", description=N_("Empty: the request's")),
    },
    return_properties={
        "offer_id": Prop(N_("Offer ID"), "int"),
        "carrier_id": Prop(N_("Carrier's ID in the carrier base"), "int"),
        "carrier": Prop(N_("Carrier"), "string"),
    },
    document_types=(DEAL, DYNAMIC),
)

ADD_TO_BASE = RobotSpec(
    code="add_to_carrier_base",
    name=N_("Add to the carrier base"),
    description=N_("A carrier into the base with its truck and where it is now or will be; "
                   "a carrier already there (same phone or company) is updated instead"),
    run=entries.run_add_to_base,
    properties={
        "name": Prop(N_("Carrier"), "string", description=N_("The company or person")),
        "phone": Prop(N_("Phone"), "string"),
        "company_id": Prop(N_("Company ID"), "int"),
        "contact_id": Prop(N_("Contact ID"), "int"),
        "vehicle": Prop(N_("Vehicle"), "string"),
        "capacity_t": Prop(N_("Capacity, t"), "double"),
        "volume_m3": Prop(N_("Volume, m³"), "double"),
        "body": Prop(N_("Body type"), "string",
                     description=N_("tent, refrigerator, container, board…")),
        "adr": Prop(N_("Dangerous goods (ADR)"), "bool"),
        "home_city": Prop(N_("Home city"), "string"),
        "regions": Prop(N_("Regions and directions"), "string"),
        "location_city": Prop(N_("Current or next location"), "string"),
        "location_date": Prop(N_("Location from"), "date"),
    },
    return_properties={
        "carrier_id": Prop(N_("Carrier's ID in the carrier base"), "int"),
        "created": Prop(N_("Newly added"), "bool"),
    },
    document_types=(DEAL, DYNAMIC),
)


def wants_item(ctx: JobContext, event: Event) -> bool:
    section = ctx.settings[NAME]
    return bool(section["enabled"]) and event.ref.kind in sync.known_kinds(ctx).values()


def wants_deal(ctx: JobContext, event: Event) -> bool:
    section = ctx.settings[NAME]
    return bool(section["enabled"]) and config.uses_deals(section)


def on_change(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    return sync.refresh(ctx, event.ref)


def _backfill(ctx: JobContext, arg: dict[str, Any]) -> Any:
    return sync.run_backfill(ctx, arg)


def setup(ctx: Any) -> list[str]:
    """Published as "setup:carriers" (a preset asks it): the smart processes and the deal
    fields made now rather than at the first search; their titles."""
    return [sp.title for sp in sync.processes(ctx.of(NAME)).values()]


CAPABILITY = Capability(
    name=NAME,
    title=N_("Carrier search"),
    settings=config.SCHEMAS,
    triggers=(FIND, RECORD_OFFER, ADD_TO_BASE),
    subscriptions=(Subscription("item.created", "index_item", on_change, wants_item),
                   Subscription("item.updated", "index_item", on_change, wants_item),
                   Subscription("deal.updated", "index_deal", on_change, wants_deal)),
    periodic=(Periodic(sync.RECONCILE, sync.reconcile_every, sync.run_reconcile,
                       title=N_("Read the carrier base, offers and won trips again")),),
    tasks=(Task(sync.BACKFILL_TASK, _backfill, title=N_("Build the carrier index")),
           Task(card.FIND_TASK, card.run_find_from_tab,
                title=N_("Find carriers (from the deal tab)")),
           Task(card.OFFER_TASK, card.run_offer_from_tab,
                title=N_("Record a carrier's offer (from the deal tab)"))),
    card_sections=CARD_SECTIONS,
    panels=PANELS,
    scopes=frozenset({"crm", "userfieldconfig"}),
    provides={f"setup:{NAME}": setup},
)
