"""Deal profitability's settings: which deals, which of their fields are costs, where the
margin goes."""

from __future__ import annotations

from connector.i18n import N_
from connector.settings_schema import Bool, CrmField, ListOf, Pipelines, Schema, Text

NAME = "profitability"

COST = Schema("cost", N_("Cost"), (
    CrmField("field", N_("Deal field"),
             N_("A number or money field of the deal that holds a cost (the carrier's rate, "
                "fuel, loaders…)."), entity="deal", existing=True),
    Text("label", N_("Name"), N_("How the deal tab names it; empty: the field's own name."),
         ""),
))

SCHEMA = Schema(NAME, N_("Deal profitability"), (
    Bool("enabled", N_("Deal profitability"),
         N_("Whenever a deal changes, its margin is worked out from its amount and its costs "
            "and written to the fields below."), False),
    Pipelines("category_ids", N_("Pipelines"), N_("None chosen means all."), [],
              entity="deal"),
    ListOf("costs", N_("Costs"),
           N_("The deal fields whose sum is taken off the amount. The carrier's rate that "
              "carrier search writes (UF_CRM_CC_CARRIER_RATE) is one."),
           [{"field": "UF_CRM_CC_CARRIER_RATE", "label": ""}], item=COST, unique="field"),
    CrmField("margin_field", N_("Margin"),
             N_("Money field the margin is written to; made by the app when missing."),
             "UF_CRM_CC_MARGIN", entity="deal", field_type="money"),
    CrmField("percent_field", N_("Margin, %"),
             N_("Number field for the margin as a share of the amount; empty: not written."),
             "UF_CRM_CC_MARGIN_PERCENT", entity="deal", field_type="double", blank=True,
             messages={"invalid": N_("must be empty or UF_CRM_ + A-Z, 0-9, _")}),
), help=N_("The profit of every deal: its amount less its costs, kept in a field of the deal "
           "and shown in the deal tab."))

SCHEMAS = (SCHEMA,)
