"""The settings section `carriers`: which smart processes hold the carrier base, the offers
and the transport requests (the app's own unless the admin maps theirs), whether requests are
deals of a pipeline instead and which deal fields say the lane and the freight, and how
suggestions are handed to the logist.
"""

from __future__ import annotations

from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    Choice,
    CrmField,
    Number,
    Option,
    Pipeline,
    Schema,
    SmartProcess,
)

NAME = "carriers"
PROCESS, DEALS = "process", "deals"

# the deal fields of a logistics pipeline: (setting, label, default field, its type)
DEAL_FIELDS = (
    ("from_field", N_("Loading city"), "UF_CRM_CC_FROM", "string"),
    ("to_field", N_("Unloading city"), "UF_CRM_CC_TO", "string"),
    ("date_field", N_("Loading date"), "UF_CRM_CC_LOADING_DATE", "date"),
    ("weight_field", N_("Weight, t"), "UF_CRM_CC_WEIGHT", "double"),
    ("volume_field", N_("Volume, m³"), "UF_CRM_CC_VOLUME", "double"),
    ("body_field", N_("Body type"), "UF_CRM_CC_BODY", "string"),
    ("dangerous_field", N_("Dangerous goods"), "UF_CRM_CC_DANGEROUS", "boolean"),
    ("carrier_field", N_("Carrier (carrier base item)"), "UF_CRM_CC_CARRIER", "string"),
    ("rate_field", N_("Carrier's rate"), "UF_CRM_CC_CARRIER_RATE", "double"),
)


def _deal_field(name: str, label: str, default: str) -> CrmField:
    return CrmField(name, label, N_("A deal field; empty: not used."), default, entity="deal",
                    blank=True, messages={"invalid": N_("must be empty or UF_CRM_ + A-Z, 0-9, _")})


CARRIERS = Schema(NAME, N_("Carrier search"), (
    Bool("enabled", N_("Carrier search"),
         N_("Keep the carrier base, the offers base and the index of won trips; the robots "
            "find_carriers, record_carrier_offer and add_to_carrier_base."), False),
    SmartProcess("carrier_process", N_("Carrier base"),
                 N_("0: the app makes its own smart process “Carrier base”; or the "
                    "entityTypeId of yours (fields matched by their titles, missing ones "
                    "added)."), 0, optional=True),
    SmartProcess("offer_process", N_("Offers base"),
                 N_("0: the app's own “Carrier offers”; or the entityTypeId of yours."), 0,
                 optional=True),
    Choice("requests", N_("Transport requests are"),
           N_("Where the freight to move is kept, and where won trips are learnt from."),
           PROCESS, options=(Option(PROCESS, N_("Items of the “Transport requests” smart "
                                                "process")),
                             Option(DEALS, N_("Deals of a pipeline")))),
    SmartProcess("request_process", N_("Requests smart process"),
                 N_("0: the app's own “Transport requests”; or the entityTypeId of yours."),
                 0, optional=True),
    Pipeline("deal_pipeline", N_("Logistics pipeline"),
             N_("When requests are deals: the pipeline whose deals they are."), 0),
    *(_deal_field(name, label, default) for name, label, default, _type in DEAL_FIELDS),
    Number("top", N_("Carriers suggested"), N_("How many carriers a search hands the logist."),
           5, low=1, high=20),
    Bool("timeline", N_("Post to the request's timeline"),
         N_("The suggestions with phone numbers as a comment in the request."), True),
    Bool("learn_deals", N_("Learn from won deals too"),
         N_("With requests as smart-process items: also count won deals of the pipeline "
            "above as trips (their deal fields above)."), False),
), help=N_("A carrier base, an offers base and a search over the company's own won trips: "
           "who to call for a request, and why."))

SCHEMAS = (CARRIERS,)


def deal_fields(section: dict[str, Any]) -> dict[str, str]:
    """Setting ("from_field") → the deal field, only those the admin left set."""
    return {name: section[name] for name, *_ in DEAL_FIELDS if section[name]}


def uses_deals(section: dict[str, Any]) -> bool:
    return section["requests"] == DEALS or bool(section["learn_deals"])
