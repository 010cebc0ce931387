"""The car registry: a smart process in the portal, so the dealership finds, filters and
counts its cars in Bitrix24 itself (make, model, VIN, year, mileage, price, status), each
card linked to the deal it was made from."""

from __future__ import annotations

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_
from connector.triggers import RobotError
from robots.registries.config import NAME
from robots.registries.mapping import IN_STOCK, ON_COMMISSION, SOLD

STATUSES = ((IN_STOCK, N_("In stock")), (ON_COMMISSION, N_("On commission")),
            (SOLD, N_("Sold")))
STATUS_TITLES = dict(STATUSES)

SPEC = crm.SmartProcessSpec("cc_car_registry", N_("Car registry"), (
    crm.FieldSpec("make", N_("Car make"), "text"),
    crm.FieldSpec("model", N_("Car model"), "text"),
    crm.FieldSpec("vin", N_("VIN"), "text"),
    crm.FieldSpec("year", N_("Year"), "number"),
    crm.FieldSpec("mileage", N_("Mileage, km"), "number"),
    crm.FieldSpec("price", N_("Price"), "money"),
    crm.FieldSpec("status", N_("Status"), "choice", options=STATUSES),
    crm.FieldSpec("deal", N_("Deal"), "item_link"),
))

MAPPED_GONE = N_("the smart process {id} chosen in the app's settings for the car registry "
                 "is not on the portal: choose another there, or 0 to let the app make its "
                 "own")


def process(ctx: JobContext) -> crm.SmartProcess:
    """The portal's registry, made the first time it is needed (the port remembers it)."""
    existing = int(ctx.settings[NAME]["registry_process"] or 0)
    try:
        return ctx.crm.ensure_smart_process(SPEC, existing, ctx.lang)
    except crm.NotFound as exc:  # the admin's own smart process, deleted since
        raise RobotError(MAPPED_GONE, id=existing) from exc


def by_deal(sp: crm.SmartProcess, deal: crm.ItemRef) -> crm.FindItems:
    """The card made from this deal (its "deal" field), found again after a lost link."""
    return crm.FindItems(sp, (("deal", "=", deal),), (("id", "asc"),), limit=1)


def by_id(sp: crm.SmartProcess, card_id: int) -> crm.FindItems:
    return crm.FindItems(sp, (("id", "=", card_id),), limit=1)
