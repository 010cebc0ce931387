"""Registries end to end: a car dealer's deals on the emulated portal, their events delivered
to the app, real workers making each deal's card in the smart process «Car registry» once at
the chosen stage, carrying later changes over (only what differs), the status following the
stage, and a mapping to a deal field the portal lacks refused in words with no card."""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView
from connector.context import JobContext
from robots.registries import registry, sync
from robots.registries.panels import facts
from tests.conftest import Stack
from tests.jobs.test_documents import call
from tests.jobs.test_watchdogs import comments_on, deal, update_deal, work

CAR = {"UF_CRM_CAR_MAKE": "Kia", "UF_CRM_CAR_MODEL": "Rio", "UF_CRM_CAR_VIN": "z94cb41aag123456",
       "UF_CRM_CAR_YEAR": "2019", "UF_CRM_CAR_MILEAGE": "45 000 км"}


def configure(s: Stack, **section: Any) -> None:
    services = s.app.extensions["connector"]
    services.portal_settings.put(s.portal()["member_id"], {
        "general": {"language": "ru"}, "registries": {
            "enabled": True, "stage_ids": ["PREPARATION"], "stock_stage_ids": ["PREPARATION"],
            "commission_stage_ids": ["EXECUTING"], **section}})


def context(s: Stack) -> JobContext:
    ctx = JobContext.load(s.app.extensions["connector"], s.portal()["member_id"], "test",
                          "registries")
    assert ctx is not None
    return ctx


def car_fields(s: Stack, *names: str) -> None:
    for name in names or tuple(CAR):
        call(s, "crm.deal.userfield.add", fields={"FIELD_NAME": name.removeprefix("UF_CRM_"),
                                                  "USER_TYPE_ID": "string"})


def cards(s: Stack) -> list[dict[str, Any]]:
    """The registry's cards, as the CRM holds them, by our field codes."""
    ctx = context(s)
    sp = registry.process(ctx)
    rows = call(s, "crm.item.list", entityTypeId=sp.entity_type_id, useOriginalUfNames="Y",
                select=["*", "UF_*"])["items"]
    keys = {v: k for k, v in sp.options["status"].items()}
    out = []
    for row in rows:
        card = {code: row.get(name) for code, name in sp.fields.items()}
        card["status"] = keys.get(str(card["status"]), card["status"])
        out.append({**card, "title": row["title"], "id": row["id"]})
    return out


def writes(s: Stack) -> int:
    return len(s.control("GET", "calls", params={"method": "crm.item.add"})) + len(
        s.control("GET", "calls", params={"method": "crm.item.update"}))


def test_car_dealer_a_card_made_once_at_the_stage_kept_up_to_date_and_sold_on_won(
        installed: Stack):
    s = installed
    car_fields(s)
    configure(s)
    sale = deal(s, "Продажа Kia Rio", OPPORTUNITY=1450000, CURRENCY_ID="RUB", **CAR)
    work(s)
    assert cards(s) == []  # a new deal: not at the stage yet

    update_deal(s, sale, STAGE_ID="PREPARATION")
    update_deal(s, sale, STAGE_ID="PREPARATION")  # the same event twice
    work(s)
    (card,) = cards(s)
    assert card["title"] == "Kia Rio, 2019"
    assert (card["make"], card["model"], card["vin"]) == ("Kia", "Rio", "Z94CB41AAG123456")
    assert float(card["year"]) == 2019 and float(card["mileage"]) == 45000
    assert card["price"] == "1450000.00|RUB" and card["status"] == "in_stock"
    assert card["deal"] == f"D_{sale}"

    # a job that made the card and died before keeping the link: its retry finds the card
    ctx = context(s)
    ctx.redis.hdel(ctx.key("cards"), str(sale))
    ctx.redis.hdel(ctx.key("written"), str(sale))
    update_deal(s, sale, UF_CRM_CAR_MILEAGE="46 200")
    work(s)
    (card,) = cards(s)
    assert float(card["mileage"]) == 46200

    before = writes(s)
    update_deal(s, sale, COMMENTS="Клиент приедет в субботу")  # nothing of the card changed
    work(s)
    assert writes(s) == before
    updates = s.control("GET", "calls", params={"method": "crm.item.update"})
    update_deal(s, sale, STAGE_ID="EXECUTING", OPPORTUNITY=1400000)  # on commission, cheaper
    work(s)
    (card,) = cards(s)
    assert card["status"] == "on_commission" and card["price"] == "1400000.00|RUB"
    last = s.control("GET", "calls", params={"method": "crm.item.update"})[len(updates):]
    (one,) = last
    assert set(one["params"]["fields"]) == {registry_field(s, "status"),
                                            registry_field(s, "price")}, one

    update_deal(s, sale, STAGE_ID="WON")
    work(s)
    (card,) = cards(s)
    assert card["status"] == "sold"
    shown = facts(context(s), AdminView(1, {}))
    assert [r["what"] for r in shown["recent"]][:2] == ["обновлена", "обновлена"], shown
    assert shown["recent"][0]["card_url"].endswith(f"/details/{card['id']}/")
    assert not shown["problems"]


def registry_field(s: Stack, code: str) -> str:
    return registry.process(context(s)).fields[code]


def test_a_deal_that_skips_the_stage_gets_its_card_where_a_status_is_set(installed: Stack):
    s = installed
    car_fields(s)
    configure(s)
    sale = deal(s, "Kia Rio сразу в работу", OPPORTUNITY=900000, **CAR)
    update_deal(s, sale, STAGE_ID="EXECUTING")
    work(s)
    (card,) = cards(s)
    assert card["status"] == "on_commission"


def test_a_mapping_to_a_missing_field_is_refused_in_words_and_no_card_is_made(
        installed: Stack):
    s = installed
    car_fields(s, "UF_CRM_CAR_MAKE", "UF_CRM_CAR_MODEL", "UF_CRM_CAR_YEAR")
    configure(s)  # VIN and mileage are mapped onto fields the portal does not have
    sale = deal(s, "Продажа Hyundai Solaris", OPPORTUNITY=1100000,
                UF_CRM_CAR_MAKE="Hyundai", UF_CRM_CAR_MODEL="Solaris")
    update_deal(s, sale, STAGE_ID="PREPARATION")
    update_deal(s, sale, TITLE="Продажа Hyundai Solaris (синий)")
    work(s)
    assert cards(s) == []
    notes = [c for c in comments_on(s, "deal", sale) if "реестр" in c]
    assert len(notes) == 1, notes  # once, however many events
    assert "UF_CRM_CAR_VIN, UF_CRM_CAR_MILEAGE" in notes[0]
    shown = facts(context(s), AdminView(1, {}))
    (problem,) = shown["problems"]
    assert "нет поля сделки UF_CRM_CAR_VIN, UF_CRM_CAR_MILEAGE" in problem["text"], problem
    marked = {m["field"] for m in shown["mapping"] if m["missing"]}
    assert marked == {"UF_CRM_CAR_VIN", "UF_CRM_CAR_MILEAGE"}

    # the admin leaves VIN and mileage empty: the next change makes the card, the problem goes
    configure(s, vin_field="", mileage_field="")
    update_deal(s, sale, TITLE="Продажа Hyundai Solaris")
    work(s)
    (card,) = cards(s)
    assert card["make"] == "Hyundai" and not card["vin"]
    assert not facts(context(s), AdminView(1, {}))["problems"]


def test_the_backfill_makes_cards_for_the_deals_already_at_the_stage(installed: Stack):
    s = installed
    car_fields(s)
    early = [deal(s, f"Kia Rio №{n}", OPPORTUNITY=1000000 + n, STAGE_ID="PREPARATION", **CAR)
             for n in range(3)]
    fresh = deal(s, "Ещё новая", **CAR)  # not at the stage: no card
    work(s)  # the registry was off when they got there
    configure(s)
    ctx = context(s)
    assert sync.start_backfill(ctx, "test")
    assert not sync.start_backfill(ctx, "test")  # one pass at a time
    work(s)
    made = {c["deal"] for c in cards(s)}  # the demo portal's own deals at the stage too
    assert {f"D_{d}" for d in early} <= made and f"D_{fresh}" not in made
    assert sync.progress(ctx)["last"]["made"] == len(made)
    assert sync.start_backfill(ctx, "test")  # a second pass makes no second card
    work(s)
    assert len(cards(s)) == len(made)
