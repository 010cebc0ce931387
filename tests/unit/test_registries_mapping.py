"""The car registry's pure decisions: a deal's fields as a card, its stage as a status, what
of a card differs, and the mapped fields the portal lacks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.crm.port import ItemRef, Money
from connector.settings_schema import SettingsInvalid
from robots.registries import mapping as m
from robots.registries.config import SCHEMA, mapping_of

RULES = {"stage_ids": ["PREPARATION"], "stock_stage_ids": ["PREPARATION"],
         "commission_stage_ids": ["C2:COMMISSION"], "sold_stage_ids": ["C2:SOLD"],
         "won_sold": True}
MAPPING = {"make": "UF_CRM_CAR_MAKE", "model": "UF_CRM_CAR_MODEL", "vin": "UF_CRM_CAR_VIN",
           "year": "UF_CRM_CAR_YEAR", "mileage": "UF_CRM_CAR_MILEAGE", "price": "OPPORTUNITY"}
DEAL = ItemRef("deal", 7)


def test_a_deal_as_a_card_reads_values_the_way_people_type_them():
    fields = {"UF_CRM_CAR_MAKE": "  Lada ", "UF_CRM_CAR_MODEL": ["Vesta SW", "x"],
              "UF_CRM_CAR_VIN": "xta21180012345678", "UF_CRM_CAR_YEAR": "2021 г.",
              "UF_CRM_CAR_MILEAGE": "120\u00a0000 км"}
    card = m.card_fields(fields, "1250000", "RUB", MAPPING, DEAL)
    assert card == {"deal": DEAL, "make": "Lada", "model": "Vesta SW",
                    "vin": "XTA21180012345678", "year": Decimal(2021),
                    "mileage": Decimal(120000), "price": Money("1250000.00", "RUB")}
    assert m.title_of(card, "Сделка") == "Lada Vesta SW, 2021"


def test_empty_fields_stay_empty_and_a_price_field_keeps_its_own_currency():
    card = m.card_fields({"UF_CRM_PRICE": "15000|USD"}, "0", "RUB",
                         {"make": "UF_CRM_CAR_MAKE", "year": "UF_CRM_CAR_YEAR",
                          "price": "UF_CRM_PRICE"}, DEAL)
    assert card == {"deal": DEAL, "make": "", "year": None, "price": Money("15000.00", "USD")}
    assert m.title_of(card, "Продажа №5") == "Продажа №5"
    assert m.price("", "RUB") is None and m.number("без пробега") is None


@pytest.mark.parametrize(("stage", "won", "status"), [
    ("PREPARATION", False, m.IN_STOCK), ("C2:COMMISSION", False, m.ON_COMMISSION),
    ("C2:SOLD", False, m.SOLD), ("WON", True, m.SOLD), ("NEW", False, None),
    ("EXECUTING", False, None)])
def test_the_stage_sets_the_status(stage: str, won: bool, status: str | None):
    assert m.status_of(stage, won, RULES) == status


def test_a_won_deal_is_sold_only_when_the_admin_says_so():
    assert m.status_of("WON", True, {**RULES, "won_sold": False}) is None
    assert not m.due("WON", True, {**RULES, "won_sold": False})


def test_a_card_is_due_at_its_stage_or_at_a_later_one_that_sets_a_status():
    assert m.due("PREPARATION", False, RULES)
    assert m.due("C2:SOLD", False, RULES) and m.due("WON", True, RULES)
    assert not m.due("NEW", False, RULES)


def test_only_what_differs_is_written():
    current = {"make": "Lada", "year": "2021", "mileage": "120000.0",
               "price": Money("1250000", "rub"), "status": m.IN_STOCK, "deal": DEAL,
               "vin": None, "title": "Lada Vesta, 2021"}
    wanted = {"make": "Lada", "year": Decimal(2021), "mileage": Decimal(121000),
              "price": Money("1250000.00", "RUB"), "status": m.SOLD, "deal": DEAL, "vin": "",
              "title": "Lada Vesta, 2021"}
    assert m.changes(current, wanted) == {"mileage": Decimal(121000), "status": m.SOLD}
    assert m.changes(current, {**wanted, "mileage": Decimal(120000),
                               "status": m.IN_STOCK}) == {}


def test_the_mapped_fields_the_portal_lacks_are_named_in_order():
    assert m.missing(MAPPING, {"UF_CRM_CAR_MAKE", "UF_CRM_CAR_YEAR"}) == [
        "UF_CRM_CAR_MODEL", "UF_CRM_CAR_VIN", "UF_CRM_CAR_MILEAGE", "OPPORTUNITY"]


def test_settings_defaults_map_every_field_and_price_is_the_deals_amount():
    section = SCHEMA.defaults()
    assert mapping_of(section) == MAPPING
    with pytest.raises(SettingsInvalid) as refused:
        SCHEMA.validate({"enabled": True})
    assert refused.value.path == "registries.stage_ids"
    with pytest.raises(SettingsInvalid):
        SCHEMA.validate({"price_field": "PRICE"})
