"""Each preset applied to a fresh emulated portal as an admin applies it, then the
business's main scenario run end to end with real workers, every step's outcome read back
from the portal; and a second apply changes nothing, an undo puts the settings back."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from connector.context import JobContext
from connector.crm import port as crm
from robots.presets import apply
from robots.presets.catalog import BY_ID, PRESETS
from robots.watchdogs.panels import check
from tests.conftest import Stack
from tests.distribution_support import day
from tests.jobs.test_carriers import Portal
from tests.jobs.test_carriers import robot as run_robot
from tests.jobs.test_documents import answer, call, new_deal
from tests.jobs.test_lead_hygiene import add, phone
from tests.jobs.test_watchdogs import comments_on, deal, notices_to, update_deal, work

SALES, LOGISTICS = 2, 3  # the demo portal's departments (emulator/seed.py)


def services(s: Stack) -> Any:
    return s.app.extensions["connector"]


def ctx(s: Stack) -> JobContext:
    found = JobContext.load(services(s), s.portal()["member_id"], "test", "presets")
    assert found is not None
    return found


def stored(s: Stack) -> dict[str, Any]:
    return services(s).portal_settings.get(s.portal()["member_id"])


def applied(s: Stack, preset_id: str, department: int = 0) -> dict[str, Any]:
    """The preset applied by the admin (user 1), its set-up job run."""
    services(s).portal_settings.put(s.portal()["member_id"], {"general": {"language": "ru"}})
    done = apply.apply(ctx(s), BY_ID[preset_id], 1, department)
    assert done["changed"] > 0 and done["job"], done
    work(s)
    return done


def deal_row(s: Stack, deal_id: int) -> dict[str, Any]:
    return call(s, "crm.deal.get", id=deal_id)


@pytest.mark.parametrize("preset", [p.id for p in PRESETS])
def test_a_preset_applied_twice_changes_nothing_the_second_time_and_undo_restores(
        installed: Stack, preset: str):
    s = installed
    before = stored(s)
    applied(s, preset, SALES if BY_ID[preset].needs_department else 0)
    again = apply.plan_for(ctx(s), BY_ID[preset], 1, SALES)
    assert again.empty, again.changes
    assert apply.prepared(ctx(s), preset) is not None  # its fields and processes are made
    undone = apply.undo(ctx(s), BY_ID[preset])
    assert undone["kept"] == [] and undone["undone"]
    after = stored(s)
    for name in BY_ID[preset].settings:
        if name != "general":
            assert after[name] == before[name], name


def test_undo_leaves_a_section_the_admin_changed_after_the_preset(installed: Stack):
    s = installed
    applied(s, "repair_shop")
    doc = stored(s)
    doc["digests"]["hour"] = 8  # the admin's own change afterwards
    services(s).portal_settings.put(s.portal()["member_id"], doc)
    done = apply.undo(ctx(s), BY_ID["repair_shop"])
    assert "digests" in done["kept"] and "client_value" in done["undone"]
    now = stored(s)
    assert now["digests"]["hour"] == 8 and now["digests"]["enabled"]
    assert not now["client_value"]["enabled"]


def test_freight_a_request_is_distributed_gets_its_folder_chat_carriers_margin_invoice(
        installed: Stack):
    s = installed
    applied(s, "freight", LOGISTICS)
    made = apply.prepared(ctx(s), "freight")["made"]
    assert "База перевозчиков" in made and "Предложения перевозчиков" in made, made
    doc = stored(s)
    doc["documents"] = {**doc["documents"], "checker": 6, "pdf": False}  # PDFs: their own test
    services(s).portal_settings.put(s.portal()["member_id"], doc)
    market = Portal(s)
    volga = market.carrier("ООО «Волга-Транс»", phone="+7 917 555-01-01", capacity_t=20,
                           body=["tent"], home_city="Москва")
    market.offer(volga, "Москва", "Казань", 2, 82000)
    day(s, u6="OPENED", u7="OPENED", u8="OPENED", u9="OPENED")
    work(s)

    loading = (date.today() + timedelta(days=3)).isoformat()
    request = new_deal(s, "Москва — Казань, 18 т", UF_CRM_CC_FROM="Москва",
                       UF_CRM_CC_TO="Казань", UF_CRM_CC_LOADING_DATE=loading,
                       UF_CRM_CC_WEIGHT=18, UF_CRM_CC_BODY="тент", rows=[{
                           "productName": "Перевозка Москва — Казань, 18 т", "price": 120000,
                           "quantity": 1, "taxRate": 20, "taxIncluded": "Y",
                           "measureName": "усл. ед."}])
    work(s)
    row = deal_row(s, request)
    assert int(row["ASSIGNED_BY_ID"]) in (6, 7, 8, 9), row["ASSIGNED_BY_ID"]  # a logist
    assert row["UF_CRM_CC_FOLDER"] and row["UF_CRM_CC_CHAT"]  # its folder and chat
    watched = check(ctx(s).of("watchdogs"), crm.ItemRef("deal", request), "ru", str)
    (loading_rule,) = [r for r in watched["rules"] if r["id"] == "loading"]
    assert loading_rule["watching"] and loading_rule["steps"], loading_rule
    # two hours before the loading day's working start (09:00, the portal's time)
    day_of = (date.today() + timedelta(days=3)).strftime("%d.%m.%Y")
    assert loading_rule["steps"][0]["when"] == f"{day_of}, 07:00", loading_rule

    ref = crm.ItemRef("deal", request)
    token = run_robot(s, "find_carriers", ref)
    work(s)
    found = answer(s, token)
    if "строится" in found.get("error", ""):  # the first search starts the index
        work(s)
        token = run_robot(s, "find_carriers", ref)
        work(s)
        found = answer(s, token)
    assert found["error"] == "" and found["best_carrier"] == "ООО «Волга-Транс»", found
    token = run_robot(s, "record_carrier_offer", ref, carrier="Волга Транс", rate="84 000",
                      vat="with_vat", payment="bank", executor="Y")
    work(s)
    assert answer(s, token)["error"] == ""
    row = deal_row(s, request)
    assert float(row["UF_CRM_CC_CARRIER_RATE"]) == 84000
    assert float(str(row["UF_CRM_CC_MARGIN"]).split("|")[0]) == 36000  # 120 000 − 84 000

    from tests.jobs.test_documents import robot as document
    token = document(s, request, "invoice")
    work(s)
    got = answer(s, token)
    assert got["error"] == "" and got["number"].startswith("СЧ-"), got
    assert deal_row(s, request)["UF_CRM_CC_DOCUMENT"] == got["file_url"]


def test_car_dealer_a_repeat_lead_is_attached_a_car_gets_its_card_and_the_won_deal_told(
        installed: Stack):
    s = installed
    applied(s, "car_dealer", SALES)
    day(s, u2="OPENED", u3="OPENED", u4="OPENED")
    ivan = add(s, "contact", NAME="Иван", PHONE=phone("+7 912 345-67-89"))
    lead = add(s, "lead", TITLE="Instagram: Kia Rio", PHONE=phone("8 912 345 67 89"),
               ASSIGNED_BY_ID=1)
    work(s)
    row = call(s, "crm.lead.get", id=lead)
    assert int(row["CONTACT_ID"]) == ivan and int(row["ASSIGNED_BY_ID"]) in (2, 3, 4)
    sale = deal(s, "Продажа Kia Rio", user=3, CONTACT_IDS=[ivan], OPPORTUNITY=1450000,
                CURRENCY_ID="RUB", UF_CRM_CAR_MAKE="Kia", UF_CRM_CAR_MODEL="Rio",
                UF_CRM_CAR_VIN="Z94CB41AAGR323020", UF_CRM_CAR_YEAR=2019,
                UF_CRM_CAR_MILEAGE=45000)
    update_deal(s, sale, STAGE_ID="PREPARATION")
    work(s)
    ctx_registry = ctx(s).of("registries")
    from robots.registries import sync as registry_sync
    assert registry_sync.linked(ctx_registry, sale)
    update_deal(s, sale, STAGE_ID="WON")
    work(s)
    assert any("Продажа Kia Rio" in n for n in notices_to(s, 1))  # the won deal, to the admin
    contact = call(s, "crm.contact.get", id=ivan)
    assert int(contact["UF_CRM_CC_WON_DEALS"]) == 1


def test_interior_a_repeat_request_folds_into_the_deal_and_a_deal_without_a_step_is_seen(
        installed: Stack):
    s = installed
    applied(s, "interior", SALES)
    anna = add(s, "contact", NAME="Анна", EMAIL=[{"VALUE": "anna@interior.ru",
                                                   "VALUE_TYPE": "WORK"}])
    curtains = deal(s, "Шторы в гостиную", user=4, CONTACT_IDS=[anna])
    work(s)
    lead = add(s, "lead", TITLE="Ещё тюль", EMAIL=[{"VALUE": "ANNA@interior.ru",
                                                    "VALUE_TYPE": "WORK"}])
    work(s)
    assert call(s, "crm.lead.get", id=lead)["STATUS_ID"] == "JUNK"
    assert any(f"#{lead}" in c for c in comments_on(s, "deal", curtains))
    watched = check(ctx(s).of("watchdogs"), crm.ItemRef("deal", curtains), "ru", str)
    (rule,) = [r for r in watched["rules"] if r["id"] == "next_step"]
    assert rule["watching"], rule  # no activity planned: the next step is asked for


def test_repair_shop_finance_is_told_and_a_repair_in_work_is_checked_on(installed: Stack):
    s = installed
    applied(s, "repair_shop")
    client = add(s, "contact", NAME="Пётр")
    repair = deal(s, "Удаление вмятины, Toyota Camry", user=3, CONTACT_IDS=[client],
                  OPPORTUNITY=15000, CURRENCY_ID="RUB")
    update_deal(s, repair, STAGE_ID="EXECUTING")
    work(s)
    watched = check(ctx(s).of("watchdogs"), crm.ItemRef("deal", repair), "ru", str)
    (rule,) = [r for r in watched["rules"] if r["id"] == "repair_check"]
    assert rule["watching"], rule
    update_deal(s, repair, STAGE_ID="WON")
    work(s)
    assert any("Удаление вмятины" in n for n in notices_to(s, 1))
    assert int(call(s, "crm.contact.get", id=client)["UF_CRM_CC_WON_DEALS"]) == 1


def test_distributor_a_new_lead_is_distributed_watched_and_spam_kept_out(installed: Stack):
    s = installed
    applied(s, "distributor", SALES)
    doc = stored(s)
    doc["lead_hygiene"]["exclusions"] = "@spam-oil.ru"
    services(s).portal_settings.put(s.portal()["member_id"], doc)
    day(s, u2="OPENED", u3="OPENED", u4="OPENED")
    lead = add(s, "lead", TITLE="Масло 20 бочек", PHONE=phone("+7 903 111-22-33"),
               ASSIGNED_BY_ID=1)
    spam = add(s, "lead", TITLE="Реклама", EMAIL=[{"VALUE": "x@spam-oil.ru",
                                                   "VALUE_TYPE": "WORK"}], ASSIGNED_BY_ID=1)
    work(s)
    assert int(call(s, "crm.lead.get", id=lead)["ASSIGNED_BY_ID"]) in (2, 3, 4)
    spam_row = call(s, "crm.lead.get", id=spam)
    assert spam_row["STATUS_ID"] == "JUNK" and spam_row["ASSIGNED_BY_ID"] == "1"
    watched = check(ctx(s).of("watchdogs"), crm.ItemRef("lead", lead), "ru", str)
    (rule,) = [r for r in watched["rules"] if r["id"] == "new_lead"]
    assert rule["watching"], rule
