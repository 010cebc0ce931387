"""Client value's settings: which won deals count, in which currency, into which fields."""

from __future__ import annotations

from typing import Any

from connector.i18n import N_
from connector.settings_schema import Bool, CrmField, Pipelines, Schema, Text

NAME = "client_value"

# (setting, label, the app's own field, its Bitrix24 user-field type, what is written)
FIELDS = (
    ("contact_count", N_("Won deals (contact)"), "UF_CRM_CC_WON_DEALS", "integer", "count",
     "contact"),
    ("contact_value", N_("Lifetime value (contact)"), "UF_CRM_CC_LIFETIME_VALUE", "money",
     "value", "contact"),
    ("contact_last", N_("Last purchase (contact)"), "UF_CRM_CC_LAST_PURCHASE", "date", "last",
     "contact"),
    ("company_count", N_("Won deals (company)"), "UF_CRM_CC_WON_DEALS", "integer", "count",
     "company"),
    ("company_value", N_("Lifetime value (company)"), "UF_CRM_CC_LIFETIME_VALUE", "money",
     "value", "company"),
    ("company_last", N_("Last purchase (company)"), "UF_CRM_CC_LAST_PURCHASE", "date", "last",
     "company"),
)


def _field(name: str, label: str, default: str, entity: str) -> CrmField:
    return CrmField(name, label, N_("Made by the app when missing; empty: not written."),
                    default, entity=entity, blank=True,
                    messages={"invalid": N_("must be empty or UF_CRM_ + A-Z, 0-9, _")})


SCHEMA = Schema(NAME, N_("Client value"), (
    Bool("enabled", N_("Client value"),
         N_("When a deal is won, lost or reopened, its contacts' and company's won deals, "
            "lifetime value and last purchase are counted again from their deals."), False),
    Pipelines("category_ids", N_("Pipelines"),
              N_("Won deals of these pipelines count; none chosen means all."), [],
              entity="deal"),
    Text("currency", N_("Currency"),
         N_("The currency the value is kept in (RUB, USD…); empty: the portal's base "
            "currency. Deals in other currencies are converted at the portal's rates."), "",
         pattern=r"([A-Z]{3})?", messages={"pattern": N_("must be a currency code: three "
                                                         "capital letters, or empty")}),
    *(_field(name, label, default, entity) for name, label, default, _t, _w, entity in FIELDS),
), help=N_("How many deals a client has won with you, for how much, and when they last "
           "bought: kept on the contact and the company, always counted from their deals."))

SCHEMAS = (SCHEMA,)


def fields_of(section: dict[str, Any], kind: str) -> dict[str, tuple[str, str, str]]:
    """What is written on a contact or a company: "count"/"value"/"last" → (field, type,
    label msgid), only the fields the admin left set."""
    return {what: (section[name], type_, label)
            for name, label, _default, type_, what, entity in FIELDS
            if entity == kind and section[name]}
