"""Carrier search in real Chromium, in Russian: the deal tab of a logistics deal with the
last search's carriers, phones and reasons, an offer recorded from its form and followed to
its result (an offers-base item and a comment in the deal); the admin page's panels: the
index with a name it could not resolve, and a trial search typed as a logist types it.
Screenshots kept, axe-core finds nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from robots.carriers import find, places, store, sync
from robots.carriers.records import Carrier, Trip
from tests.conftest import Stack
from tests.e2e.browser import (
    ARTEFACTS,
    accessibility_problems,
    browser_page,
    open_app,
    post_frame,
    shoot,
)
from tests.e2e.test_documents_in_browser import frame
from tests.jobs.test_documents import call

ADMIN = 1
TODAY = date.today()


def services(stack: Stack) -> Any:
    return stack.app.extensions["connector"]


def setup(stack: Stack) -> JobContext:
    """Requests are deals of the default pipeline; the index holds a small market."""
    services(stack).portal_settings.put(stack.portal()["member_id"], {
        "general": {"language": "ru"},
        "carriers": {"enabled": True, "requests": "deals", "deal_pipeline": 0}})
    ctx = JobContext.load(services(stack), stack.portal()["member_id"], "test", "carriers")
    assert ctx is not None
    sync.processes(ctx)  # the smart processes and the deal fields
    assert sync.start_backfill(ctx)
    while (run := sync.state(ctx).get("pass")) and run.get("running"):
        sync.run_backfill(ctx, {"pass": run["id"]})
    msk, kazan, podolsk = (places.resolve(n) for n in ("Москва", "Казань", "Подольск"))
    carriers = [Carrier(1, "ООО «Волга-Транс»", ("+7 917 555-01-01",), capacity_t=20,
                        bodies=("tent",), home=msk, home_text="Москва"),
                Carrier(2, "ИП Сидоров", ("+7 903 555-02-02",), capacity_t=20,
                        bodies=("tent", "flatbed"), home=podolsk, home_text="Подольск"),
                Carrier(3, "ИП Малый", ("+7 900 555-03-03",), capacity_t=5, bodies=("tent",),
                        home=msk, home_text="Москва")]
    trips = [Trip(f"deal/{900 + n}", 1, msk, kazan, (TODAY - timedelta(days=d)).isoformat(),
                  85000) for n, d in enumerate((40, 20, 10))]
    trips.append(Trip("deal/950", 3, msk, kazan, (TODAY - timedelta(days=15)).isoformat()))
    sync.store(ctx).write(carriers=carriers, trips=trips)
    ctx.redis.hset(sync.unresolved_key(ctx), "Абырвалгск", 2)
    return ctx


def test_the_deal_tab_shows_carriers_and_records_an_offer(installed: Stack):
    ctx = setup(installed)
    deal = int(call(installed, "crm.deal.add", fields={
        "TITLE": "Москва — Казань, 18 т", "UF_CRM_CC_FROM": "Москва", "UF_CRM_CC_TO": "Казань",
        "UF_CRM_CC_WEIGHT": 18, "UF_CRM_CC_BODY": "тент",
        "UF_CRM_CC_LOADING_DATE": (TODAY + timedelta(days=2)).isoformat()}))
    store.forget_copies()
    answer = find.find_for(ctx, crm.ItemRef("deal", deal), "e2e-first")
    assert answer["best_carrier"] == "ООО «Волга-Транс»", answer
    with browser_page("ru-RU", width=1100) as page:
        post_frame(page, f"{installed.app_url}/placements/deal_tab?LANG=ru",
                   frame(installed, deal))
        section = page.locator("#section-carriers-carriers")
        text = section.inner_text()
        assert "Москва → Казань" in text and "ООО «Волга-Транс»" in text
        assert "+7 917 555-01-01" in text and "3 выигранные перевозки" in text
        assert "грузоподъёмность меньше 18 т — 1" in text.replace("\u00a0", " ")
        shoot(page, "deal_tab_carriers.ru")
        assert accessibility_problems(page) == []
        page.select_option("#cc-offer-carrier", "2")
        page.fill("#cc-offer-rate", "83 500")
        page.select_option("#cc-offer-vat", "without_vat")
        page.fill("#cc-offer-deferral", "7")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Записать предложение").click()
        assert page.get_by_role("status").first.inner_text().startswith("В очереди")
        installed.run_worker()
        page.get_by_text("Готово.").wait_for(timeout=20000)
        shoot(page, "deal_tab_carriers_offer.ru")
    notes = [r["COMMENT"].replace("\u00a0", " ") for r in call(
        installed, "crm.timeline.comment.list", filter={"ENTITY_ID": deal,
                                                        "ENTITY_TYPE": "deal"})]
    assert any(n.startswith("Предложение от ИП Сидоров: 83 500 ₽, без НДС, отсрочка 7 дней")
               for n in notes), notes
    offers = sync.store(ctx).ids("o")
    assert len(offers) == 1


def test_the_admin_page_shows_the_index_and_a_trial_search(installed: Stack):
    setup(installed)
    with browser_page("ru-RU", width=1100) as page:
        open_app(installed, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name="Поиск перевозчиков", exact=True).click()
        index = page.locator("#panel-carriers-index").inner_text()
        assert "готов" in index and "Абырвалгск" in index
        page.fill("#try-from", "москвы")
        page.fill("#try-to", "Казани")
        page.fill("#try-weight", "18")
        with page.expect_navigation(wait_until="load"):
            page.click("#try-run")
        result = page.locator("#try-result").inner_text()
        assert "Москва → Казань" in result and "ООО «Волга-Транс»" in result
        assert "ИП Малый" not in result
        shoot(page, "admin_carriers.ru")
        for name in ("index", "try"):
            page.locator(f"#panel-carriers-{name}").screenshot(
                path=str(ARTEFACTS / f"admin_carriers_{name}.ru.png"))
        assert accessibility_problems(page) == []
        page.fill("#try-from", "Кировск")
        with page.expect_navigation(wait_until="load"):
            page.click("#try-run")
        assert "может быть несколько мест" in page.locator("#panel-carriers-try").inner_text()
