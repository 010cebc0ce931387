"""Client value end to end: deals won, lost and reopened on the emulated portal, their events
delivered to the app, real workers counting each client again from its deals, and the figures
read back from the contact's and the company's own fields."""

from __future__ import annotations

from typing import Any

from connector.context import JobContext
from robots.client_value import recount
from tests.conftest import Stack
from tests.jobs.test_documents import call
from tests.jobs.test_watchdogs import deal, update_deal, work


def configure(s: Stack, **section: Any) -> None:
    services = s.app.extensions["connector"]
    services.portal_settings.put(s.portal()["member_id"], {
        "general": {"language": "ru"}, "client_value": {"enabled": True, **section}})


def context(s: Stack) -> JobContext:
    ctx = JobContext.load(s.app.extensions["connector"], s.portal()["member_id"], "test",
                          "client_value")
    assert ctx is not None
    return ctx


def client(s: Stack, kind: str, title: str) -> int:
    fields = {"TITLE": title} if kind == "company" else {"NAME": title}
    return int(s.control("POST", f"crm/{kind}", json={"fields": fields})["id"])


def figures(s: Stack, kind: str, item_id: int) -> tuple[Any, str, str]:
    row = call(s, f"crm.{kind}.get", id=item_id)
    count = row.get("UF_CRM_CC_WON_DEALS")
    return (None if count in (None, "") else int(count),
            str(row.get("UF_CRM_CC_LIFETIME_VALUE") or ""),
            str(row.get("UF_CRM_CC_LAST_PURCHASE") or "")[:10])


def test_repair_shop_a_won_deal_counts_for_its_contacts_and_company_and_a_reopen_undoes_it(
        installed: Stack):
    s = installed
    configure(s)
    ivan, anna = client(s, "contact", "Иван"), client(s, "contact", "Анна")
    firm = client(s, "company", "ООО Кузовной")
    first = deal(s, "Ремонт крыла", OPPORTUNITY=15000, CURRENCY_ID="RUB",
                 CONTACT_IDS=[ivan, anna], COMPANY_ID=firm, CLOSEDATE="2026-11-20")
    second = deal(s, "Покраска бампера", OPPORTUNITY=100, CURRENCY_ID="USD",
                  CONTACT_IDS=[ivan], CLOSEDATE="2026-11-25")
    update_deal(s, first, STAGE_ID="WON")
    update_deal(s, second, STAGE_ID="WON")
    work(s)
    # 100 USD at the portal's rate of 68.79 (crm-currency-list.md's sample) is 6,879 RUB
    assert figures(s, "contact", ivan) == (2, "21879.00|RUB", "2026-11-25")
    assert figures(s, "contact", anna) == (1, "15000.00|RUB", "2026-11-20")
    assert figures(s, "company", firm) == (1, "15000.00|RUB", "2026-11-20")

    update_deal(s, first, STAGE_ID="EXECUTING")  # reopened: undone for all three
    work(s)
    assert figures(s, "contact", ivan) == (1, "6879.00|RUB", "2026-11-25")
    assert figures(s, "contact", anna)[:2] == (0, "0.00|RUB")
    assert figures(s, "company", firm)[:2] == (0, "0.00|RUB")

    update_deal(s, second, TITLE="Покраска бампера и крыла")  # nothing that counts changed
    before = s.control("GET", "calls")
    work(s)
    assert figures(s, "contact", ivan) == (1, "6879.00|RUB", "2026-11-25")
    assert before is not None


def test_a_deal_in_a_currency_without_a_rate_is_refused_in_words_and_nothing_is_written(
        installed: Stack):
    s = installed
    configure(s)
    ivan = client(s, "contact", "Иван")
    ok = deal(s, "Ремонт", OPPORTUNITY=5000, CONTACT_IDS=[ivan], CURRENCY_ID="RUB")
    odd = deal(s, "Ремонт в тенге", OPPORTUNITY=90000, CONTACT_IDS=[ivan], CURRENCY_ID="KZT")
    update_deal(s, ok, STAGE_ID="WON")
    work(s)
    assert figures(s, "contact", ivan)[:2] == (1, "5000.00|RUB")
    update_deal(s, odd, STAGE_ID="WON")
    work(s)
    assert figures(s, "contact", ivan)[:2] == (1, "5000.00|RUB")  # left as it was
    ctx = context(s)
    assert recount.problems(ctx)[f"contact/{ivan}"]["deals"] == {str(odd): "KZT"}
    notes = [r["COMMENT"] for r in call(s, "crm.timeline.comment.list", filter={
        "ENTITY_ID": odd, "ENTITY_TYPE": "deal"}, select=["ID", "COMMENT"])]
    assert len(notes) == 1 and "KZT" in notes[0] and "курса" in notes[0], notes

    call(s, "crm.currency.add", fields={"CURRENCY": "KZT", "AMOUNT_CNT": 100,
                                         "AMOUNT": 18.0})
    assert recount.start_backfill(ctx, "test")
    work(s, runs=1)
    # 90,000 KZT at 18 RUB per 100 is 16,200 RUB
    assert figures(s, "contact", ivan)[:2] == (2, "21200.00|RUB")
    assert recount.problems(ctx) == {}


def test_the_backfill_counts_existing_clients_in_chunks_and_a_contact_with_many_deals(
        installed: Stack):
    s = installed
    configure(s, enabled=False)  # the deals are there before client value is switched on
    ivan, firm = client(s, "contact", "Иван"), client(s, "company", "ООО Масло")
    for n in range(7):
        deal(s, f"Поставка {n}", OPPORTUNITY=1000 * (n + 1), CONTACT_IDS=[ivan],
             COMPANY_ID=firm, STAGE_ID="WON" if n % 2 == 0 else "NEW",
             CLOSEDATE=f"2026-10-0{n + 1}")
    deal(s, "Другая воронка", OPPORTUNITY=999, CONTACT_IDS=[ivan], STAGE_ID="C1:WON",
         CATEGORY_ID=1)
    work(s, runs=1)
    configure(s, category_ids=[0])
    ctx = context(s)
    assert recount.start_backfill(ctx, "test", chunk=2)
    assert not recount.start_backfill(ctx, "test")  # one pass at a time
    work(s, runs=1)
    # won: 1,000 + 3,000 + 5,000 + 7,000 in the chosen pipeline; the other pipeline not
    assert figures(s, "contact", ivan) == (4, "16000.00|RUB", "2026-10-07")
    assert figures(s, "company", firm) == (4, "16000.00|RUB", "2026-10-07")
    last = recount.progress(ctx)["last"]
    # every won deal of the portal is read (its seeded ones too), in chunks of two
    won = call(s, "crm.deal.list", filter={"STAGE_SEMANTIC_ID": "S"}, select=["ID"])
    assert last["read"] == len(won) and last["written"] >= 2, last
