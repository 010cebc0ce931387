"""The three smart processes of carrier search, as the app makes them on a portal that has
none (crm.type.add and its fields, decision 29); an admin may map each to one of theirs on
the admin page, its fields matched by title.

- the carrier base: company and contacts, the truck, home, where it is now or next, the
  regions it serves, the blacklist;
- the offers base: what a carrier offered on a call (lane, day, rate, VAT, payment,
  deferral, vehicle, driver), linked to the request it was for;
- transport requests: the freight to move (a portal may use deals of a pipeline instead).
"""

from __future__ import annotations

from connector.crm import port as crm
from connector.i18n import N_
from robots.carriers.records import BODIES

BODY_TITLES = dict(zip(BODIES, (
    N_("Tent"), N_("Refrigerator"), N_("Isotherm"), N_("Container"), N_("Flatbed"),
    N_("Board"), N_("Tanker"), N_("Car carrier"), N_("Van"), N_("Other")), strict=True))
BODY_OPTIONS = tuple(BODY_TITLES.items())
VAT_OPTIONS = (("with_vat", N_("With VAT")), ("without_vat", N_("Without VAT")))
PAYMENT_OPTIONS = (("bank", N_("Bank transfer")), ("cash", N_("Cash")),
                   ("card", N_("Card")), ("fuel_card", N_("Fuel card")))

CARRIERS = crm.SmartProcessSpec("cc_carriers", N_("Carrier base"), (
    crm.FieldSpec("company", N_("Company"), "item_link"),
    crm.FieldSpec("contact", N_("Contact"), "item_link"),
    crm.FieldSpec("phone", N_("Phone"), "text"),
    crm.FieldSpec("vehicle", N_("Vehicle"), "text"),
    crm.FieldSpec("capacity_t", N_("Capacity, t"), "number"),
    crm.FieldSpec("volume_m3", N_("Volume, m³"), "number"),
    crm.FieldSpec("body", N_("Body type"), "choice", multiple=True, options=BODY_OPTIONS),
    crm.FieldSpec("adr", N_("Dangerous goods (ADR)"), "bool"),
    crm.FieldSpec("oversize", N_("Oversize"), "bool"),
    crm.FieldSpec("home_city", N_("Home city"), "text"),
    crm.FieldSpec("regions", N_("Regions and directions"), "text"),
    crm.FieldSpec("location_city", N_("Current or next location"), "text"),
    crm.FieldSpec("location_date", N_("Location from"), "date"),
    crm.FieldSpec("blacklisted", N_("Blacklisted"), "bool"),
    crm.FieldSpec("blacklist_note", N_("Blacklist note"), "text"),
))

OFFERS = crm.SmartProcessSpec("cc_carrier_offers", N_("Carrier offers"), (
    crm.FieldSpec("carrier", N_("Carrier"), "item_link"),
    crm.FieldSpec("request", N_("Request"), "item_link"),
    crm.FieldSpec("from_city", N_("From"), "text"),
    crm.FieldSpec("to_city", N_("To"), "text"),
    crm.FieldSpec("offer_date", N_("Date"), "date"),
    crm.FieldSpec("rate", N_("Rate"), "money"),
    crm.FieldSpec("vat", N_("VAT"), "choice", options=VAT_OPTIONS),
    crm.FieldSpec("payment", N_("Payment form"), "choice", options=PAYMENT_OPTIONS),
    crm.FieldSpec("deferral_days", N_("Deferral, days"), "number"),
    crm.FieldSpec("vehicle", N_("Vehicle"), "text"),
    crm.FieldSpec("driver", N_("Driver"), "text"),
    crm.FieldSpec("executor", N_("Executor"), "bool"),
))

REQUESTS = crm.SmartProcessSpec("cc_transport_requests", N_("Transport requests"), (
    crm.FieldSpec("from_city", N_("From"), "text"),
    crm.FieldSpec("to_city", N_("To"), "text"),
    crm.FieldSpec("loading_date", N_("Loading date"), "date"),
    crm.FieldSpec("weight_t", N_("Weight, t"), "number"),
    crm.FieldSpec("volume_m3", N_("Volume, m³"), "number"),
    crm.FieldSpec("body", N_("Body type"), "choice", options=BODY_OPTIONS),
    crm.FieldSpec("dangerous", N_("Dangerous goods"), "bool"),
    crm.FieldSpec("oversize", N_("Oversize"), "bool"),
    crm.FieldSpec("carrier", N_("Carrier"), "item_link"),
    crm.FieldSpec("rate", N_("Carrier's rate"), "money"),
))

SPECS = (CARRIERS, OFFERS, REQUESTS)
