"""The Presets page in real Chromium, in Russian: an admin picks «Транспортная компания»,
chooses the logistics department, reads what will change, applies it, sees it applied; a
second look shows nothing left to change; undo puts the settings back. Screenshots kept,
axe-core finds nothing."""

from __future__ import annotations

from tests.conftest import Stack
from tests.e2e.browser import ARTEFACTS, accessibility_problems, browser_page, open_app, shoot

PAGE = "Готовые настройки"


def settings(s: Stack) -> dict:
    return s.app.extensions["connector"].portal_settings.get(s.portal()["member_id"])


def test_an_admin_previews_applies_and_undoes_the_freight_preset(installed: Stack):
    s = installed
    s.app.extensions["connector"].portal_settings.put(s.portal()["member_id"], {
        "general": {"language": "ru"}})  # names the preset writes are in the portal's language
    with browser_page("ru-RU", width=1100) as page:
        open_app(s, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name=PAGE, exact=True).click()
        cards = page.locator("#presets").inner_text()
        for title in ("Автосалон", "Транспортная компания", "Поставщик для интерьера",
                      "Автосервис", "Дистрибьютор"):
            assert title in cards
        shoot(page, "admin_presets.ru")
        with page.expect_navigation(wait_until="load"):
            page.click("#preset-show-freight")
        skipped = page.locator("#preset-skipped").inner_text()
        assert "Справедливое распределение" in skipped
        page.select_option("#preset-department", label="Logistics")
        with page.expect_navigation(wait_until="load"):
            page.click("#preset-department-show")
        text = page.locator("#panel-presets-presets").inner_text()
        assert "Логисты" in text and "Logistics" in text and "Поиск перевозчиков" in text
        assert "Напоминание о погрузке" in text and "Подобрать перевозчиков" in text
        shoot(page, "admin_presets_freight_preview.ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.click("#preset-apply")
        assert "Готовая настройка «Транспортная компания» применена" in page.locator(
            "body").inner_text()
        doc = settings(s)
        assert doc["carriers"]["enabled"] and doc["deal_chats"]["enabled"]
        assert doc["distribution"]["groups"][0]["departments"] == [3]
        with page.expect_navigation(wait_until="load"):
            page.click("#preset-show-freight")
        page.select_option("#preset-department", label="Logistics")
        with page.expect_navigation(wait_until="load"):
            page.click("#preset-department-show")
        assert page.locator("#preset-nothing").is_visible()
        shoot(page, "admin_presets_freight_applied.ru")
        with page.expect_navigation(wait_until="load"):
            page.click("#preset-undo")
        assert "Отменено" in page.locator("body").inner_text()
        doc = settings(s)
        assert not doc["carriers"]["enabled"] and doc["distribution"]["groups"] == []
        page.locator("#panel-presets-presets").screenshot(
            path=str(ARTEFACTS / "admin_presets_panel.ru.png"))
