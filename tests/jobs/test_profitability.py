"""Deal profitability end to end: a freight deal with the carrier's rate and other costs in
its fields, its events delivered to the app, the margin written back to the deal by real
workers (once: the write's own event changes nothing), and a cost field that does not exist
refused in words on the admin page."""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView
from connector.context import JobContext
from robots.profitability import work
from robots.profitability.panels import facts
from tests.conftest import Stack
from tests.jobs.test_documents import call
from tests.jobs.test_watchdogs import deal, update_deal
from tests.jobs.test_watchdogs import work as run


def configure(s: Stack, **section: Any) -> None:
    services = s.app.extensions["connector"]
    services.portal_settings.put(s.portal()["member_id"], {
        "general": {"language": "ru"}, "profitability": {"enabled": True, **section}})


def context(s: Stack) -> JobContext:
    ctx = JobContext.load(s.app.extensions["connector"], s.portal()["member_id"], "test",
                          "profitability")
    assert ctx is not None
    return ctx


def field(s: Stack, name: str, type_: str) -> None:
    call(s, "crm.deal.userfield.add", fields={"FIELD_NAME": name.removeprefix("UF_CRM_"),
                                              "USER_TYPE_ID": type_})


COSTS = [{"field": "UF_CRM_CC_CARRIER_RATE", "label": "Ставка перевозчика"},
         {"field": "UF_CRM_LOADERS", "label": "Грузчики"}]


def test_freight_the_margin_of_every_deal_from_its_amount_and_costs(installed: Stack):
    s = installed
    field(s, "UF_CRM_CC_CARRIER_RATE", "double")
    field(s, "UF_CRM_LOADERS", "money")
    configure(s, costs=COSTS)
    trip = deal(s, "Москва → Казань, 20 т", OPPORTUNITY=120000, CURRENCY_ID="RUB",
                UF_CRM_CC_CARRIER_RATE=85000, UF_CRM_LOADERS="50|USD")
    run(s)
    row = call(s, "crm.deal.get", id=trip)
    # 120,000 − 85,000 − 50 USD at 68.79 (3,439.50) = 31,560.50; 26.3 % of the amount
    assert row["UF_CRM_CC_MARGIN"] == "31560.50|RUB", row
    assert float(row["UF_CRM_CC_MARGIN_PERCENT"]) == 26.3
    ctx = context(s)
    kept = work.of_deal(ctx, trip)
    assert kept["costs"] == [["UF_CRM_CC_CARRIER_RATE", "85000.00"],
                             ["UF_CRM_LOADERS", "3439.50"]]

    update_deal(s, trip, UF_CRM_CC_CARRIER_RATE=90000)  # the carrier raised the rate
    run(s)
    assert call(s, "crm.deal.get", id=trip)["UF_CRM_CC_MARGIN"] == "26560.50|RUB"
    updates = s.control("GET", "calls", params={"method": "crm.deal.update"})
    # one write per change; the update events of the app's own writes write nothing
    assert len(updates) == 2, updates


def test_a_cost_field_the_portal_does_not_have_is_named_on_the_admin_page(installed: Stack):
    s = installed
    configure(s, costs=[{"field": "UF_CRM_FUEL", "label": "Топливо"}])
    trip = deal(s, "Самара → Уфа", OPPORTUNITY=50000)
    run(s)
    assert not call(s, "crm.deal.get", id=trip).get("UF_CRM_CC_MARGIN")
    ctx = context(s)
    shown = facts(ctx, AdminView(1, {}))
    (problem,) = shown["problems"]
    assert "UF_CRM_FUEL" in problem["text"] and "нет поля" in problem["text"], problem
