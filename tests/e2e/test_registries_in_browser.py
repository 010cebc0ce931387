"""The car registry in real Chromium, in Russian: the admin page's panel with the mapping (a
field the portal lacks marked), a deal left without a card and why, the latest cards with
links; and the deal tab's section with the deal's car. Screenshots kept, axe-core finds
nothing."""

from __future__ import annotations

from connector.context import JobContext
from robots.registries import sync
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
from tests.jobs.test_registries import CAR, car_fields, configure
from tests.jobs.test_watchdogs import deal, update_deal, work


def test_the_admin_panel_and_the_deal_tab_show_the_cars(installed: Stack):
    s = installed
    car_fields(s)
    configure(s)
    sale = deal(s, "Продажа Kia Rio", OPPORTUNITY=1450000, CURRENCY_ID="RUB", **CAR)
    update_deal(s, sale, STAGE_ID="PREPARATION")
    work(s)
    update_deal(s, sale, UF_CRM_CAR_MILEAGE="46 200 км", STAGE_ID="EXECUTING")
    work(s)
    configure(s, vin_field="UF_CRM_CAR_CHASSIS")  # a field the portal does not have
    other = deal(s, "Продажа Skoda Octavia", OPPORTUNITY=2100000, UF_CRM_CAR_MAKE="Skoda",
                 UF_CRM_CAR_MODEL="Octavia")
    update_deal(s, other, STAGE_ID="PREPARATION")
    work(s)
    ctx = JobContext.load(s.app.extensions["connector"], s.portal()["member_id"], "test",
                          "registries")
    assert ctx is not None and sync.linked(ctx, sale) and not sync.linked(ctx, other)
    with browser_page("ru-RU", width=1100) as page:
        open_app(s, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name="Реестр автомобилей", exact=True).click()
        panel = page.locator("#panel-registries-cards")
        text = panel.inner_text()
        assert "такого поля на портале нет" in text and "UF_CRM_CAR_CHASSIS" in text
        assert "нет поля сделки UF_CRM_CAR_CHASSIS" in text
        assert "Kia Rio, 2019" in text and "На комиссии" in text
        shoot(page, "admin_registries.ru")
        panel.screenshot(path=str(ARTEFACTS / "admin_registries_cards.ru.png"))
        assert accessibility_problems(page) == []

        post_frame(page, f"{s.app_url}/placements/deal_tab?LANG=ru", frame(s, sale))
        section = page.locator("#section-registries-car").inner_text()
        assert "Kia Rio, 2019" in section and "На комиссии" in section
        assert "46200" in section.replace("\u00a0", "").replace(" ", "")
        shoot(page, "deal_tab_registries.ru")
        assert accessibility_problems(page) == []
