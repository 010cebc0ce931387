"""Lead hygiene in real Chromium, in Russian: the settings form with the exclusion list (a bad
line refused with its number), the check of one phone, and the decision log with reasons
and links. Screenshots kept, axe-core finds nothing."""

from __future__ import annotations

from tests.conftest import Stack
from tests.e2e.browser import ARTEFACTS, accessibility_problems, browser_page, open_app, shoot
from tests.jobs.test_lead_hygiene import add, configure, phone
from tests.jobs.test_watchdogs import deal, work


def test_the_admin_page_checks_a_phone_and_shows_each_decision_with_its_reason(
        installed: Stack):
    s = installed
    configure(s, exclusions="+7 495 000-00-00  # автообзвон\n@spam-bot.ru")
    anna = add(s, "contact", NAME="Анна", LAST_NAME="Соколова",
               PHONE=phone("+7 (912) 000-11-22"))
    deal(s, "Шторы в гостиную", user=4, CONTACT_IDS=[anna])
    ivan = add(s, "contact", NAME="Иван", PHONE=phone("+7 903 555-44-33"))
    add(s, "lead", TITLE="Instagram: тюль к шторам", PHONE=phone("89120001122"))
    add(s, "lead", TITLE="Сайт: замер", PHONE=phone("8 903 555 44 33"))
    add(s, "lead", TITLE="Выгодное предложение", PHONE=phone("84950000000"))
    add(s, "lead", TITLE="WhatsApp: карниз", PHONE=phone("+7 999 123-45-67"))
    work(s)
    with browser_page("ru-RU", width=1100) as page:
        open_app(s, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name="Дубли и спам в лидах", exact=True).click()
        panel = page.locator("#panel-lead_hygiene-decisions")
        log = panel.locator("#hygiene-log").inner_text()
        for words in ("объединён", "сделка #", "привязан", f"совпадает с контактом #{ivan}",
                      "спам", "+7 495 000-00-00 — в списке исключений", "новый клиент"):
            assert words in log, (words, log)
        page.fill("#hygiene-probe", "8 (912) 000-11-22")
        with page.expect_navigation(wait_until="load"):
            page.click("#hygiene-check")
        result = page.locator("#hygiene-probe-result").inner_text()
        assert "объединён" in result and "у клиента уже есть сделка" in result, result
        shoot(page, "admin_lead_hygiene.ru")
        page.locator("#panel-lead_hygiene-decisions").screenshot(
            path=str(ARTEFACTS / "admin_lead_hygiene_decisions.ru.png"))
        assert accessibility_problems(page) == []

        area = page.locator("textarea[name='exclusions']")
        area.fill("+7 495 000-00-00\nПетя спамер")
        form = area.locator("xpath=ancestor::form")
        with page.expect_navigation(wait_until="load"):
            form.get_by_role("button", name="Сохранить").last.click()
        body = page.locator("body").inner_text()
        assert "строка 2: «Петя спамер» — не телефон, не e-mail и не @домен" in body
        shoot(page, "admin_lead_hygiene_refused.ru")
