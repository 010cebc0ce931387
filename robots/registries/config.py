"""Registries' settings: which deals, at which stages a card is made, which deal field fills
which field of the card, and which stages mean which status of the car."""

from __future__ import annotations

from typing import Any

from connector.i18n import N_
from connector.settings_schema import Bool, CrmField, Pipelines, Schema, SmartProcess, Stages

NAME = "registries"
OPPORTUNITY = "OPPORTUNITY"  # the deal's amount: a standard field, not a UF_CRM_ one

# (setting, the card's field code, label msgid, default deal field)
MAPPING = (
    ("make_field", "make", N_("Car make"), "UF_CRM_CAR_MAKE"),
    ("model_field", "model", N_("Car model"), "UF_CRM_CAR_MODEL"),
    ("vin_field", "vin", N_("VIN"), "UF_CRM_CAR_VIN"),
    ("year_field", "year", N_("Year"), "UF_CRM_CAR_YEAR"),
    ("mileage_field", "mileage", N_("Mileage, km"), "UF_CRM_CAR_MILEAGE"),
    ("price_field", "price", N_("Price"), OPPORTUNITY),
)


def _mapped(name: str, label: str, default: str) -> CrmField:
    also = (OPPORTUNITY,) if name == "price_field" else ()
    return CrmField(name, label,
                    N_("The deal field this field of the card is filled from; empty: left "
                       "empty."), default, entity="deal", blank=True, also=also,
                    existing=True,
                    messages={"invalid": N_("must be empty, OPPORTUNITY or UF_CRM_ + A-Z, "
                                            "0-9, _")})


def _check(section: dict[str, Any]) -> tuple[str, str] | None:
    if section["enabled"] and not section["stage_ids"]:
        return "stage_ids", N_("choose at least one stage at which the card is made")
    if not any(section[name] for name, *_ in MAPPING):
        return "make_field", N_("map at least one deal field onto the card")
    return None


SCHEMA = Schema(NAME, N_("Car registry"), (
    Bool("enabled", N_("Car registry"),
         N_("When a deal comes to one of the stages below, a card of its car is made in the "
            "smart process «Car registry» from the deal's fields, once; later changes of the "
            "deal are carried over to the card, and its status follows the deal's stage."),
         False),
    Pipelines("category_ids", N_("Pipelines"), N_("None chosen means all."), [],
              entity="deal"),
    Stages("stage_ids", N_("Stages at which the card is made"),
           N_("The card is made when the deal comes to one of these stages (or to a stage "
              "that sets a status below, or is won, if it skipped them)."), [],
           entity="deal"),
    SmartProcess("registry_process", N_("Registry smart process"),
                 N_("0: the app makes its own smart process «Car registry»; or the "
                    "entityTypeId of yours (fields are matched by their titles, missing ones "
                    "added)."), 0, optional=True),
    *(_mapped(name, label, default) for name, _code, label, default in MAPPING),
    Stages("stock_stage_ids", N_("Stages meaning «In stock»"),
           N_("At these stages the car's status is «In stock»; a new card is in stock "
              "unless its stage says otherwise."), [], entity="deal"),
    Stages("commission_stage_ids", N_("Stages meaning «On commission»"),
           N_("At these stages the car's status is «On commission»."), [], entity="deal"),
    Stages("sold_stage_ids", N_("Stages meaning «Sold»"),
           N_("At these stages the car's status is «Sold»."), [], entity="deal"),
    Bool("won_sold", N_("A won deal means «Sold»"),
         N_("When the deal is won, the car's status becomes «Sold» whatever its stage."),
         True),
), check=_check, help=N_("A card of every car in the smart process «Car registry» (make, "
                         "model, VIN, year, mileage, price, status), made from the deal's "
                         "fields and kept up to date with the deal."))

SCHEMAS = (SCHEMA,)


def mapping_of(section: dict[str, Any]) -> dict[str, str]:
    """The card's field code → the deal field it is filled from, only those the admin set."""
    return {code: section[name] for name, code, _label, _default in MAPPING if section[name]}
