"""Notices in real Chromium, in Russian: an admin connects the portal's Telegram bot on the
Notices page (a token Telegram refuses is told in words), sends a test message, and reads
the log of a won deal told to the finance chat and to Telegram. Screenshots kept, axe-core
finds nothing."""

from __future__ import annotations

import pytest

from faketelegram import FakeTelegram
from tests.conftest import Stack
from tests.e2e.browser import ARTEFACTS, accessibility_problems, browser_page, open_app, shoot
from tests.jobs.test_notices import (
    FINANCE_TG,
    TOKEN,
    chat,
    configure,
    deal,
    to_telegram,
    update_deal,
    won_finance,
)

pytestmark = pytest.mark.fake_telegram
PAGE = "Уведомления"


def test_an_admin_connects_the_bot_tests_it_and_reads_the_log(installed: Stack,
                                                                 fake_telegram: FakeTelegram):
    s = installed
    fake_telegram.add_bot(TOKEN, "finance_bot", "Финансы бот")
    fake_telegram.add_chat(FINANCE_TG, "supergroup", "Финансы")
    room = chat(s)
    configure(s, won_finance(room), to_telegram())
    with browser_page("ru-RU", width=1100) as page:
        open_app(s, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name=PAGE, exact=True).click()
        areas = page.locator("textarea")  # a message of several lines keeps its line breaks
        assert any("\n" in areas.nth(i).input_value() for i in range(areas.count()))
        page.fill("#telegram-token", "7000002:AAH-a-token-telegram-does-not-know-000")
        with page.expect_navigation(wait_until="load"):
            page.click("#telegram-connect")
        assert "Telegram не принял этот токен" in page.locator("body").inner_text()
        page.fill("#telegram-token", TOKEN)
        with page.expect_navigation(wait_until="load"):
            page.click("#telegram-connect")
        assert "@finance_bot" in page.locator("#telegram-state").inner_text()
        page.fill("#telegram-test-chat", str(FINANCE_TG))
        with page.expect_navigation(wait_until="load"):
            page.click("#telegram-test")
        assert fake_telegram.sent(FINANCE_TG), "the test message reached the chat"

        deal_id = deal(s, "Ремонт КПП Toyota", OPPORTUNITY=150000, CURRENCY_ID="RUB")
        update_deal(s, deal_id, STAGE_ID="WON")
        s.run_worker()
        page.reload(wait_until="load")
        log = page.locator("#notice-log").inner_text()
        assert log.count("Ремонт КПП Toyota") == 2 and "отправлено" in log, log
        shoot(page, "admin_notices.ru")
        page.locator("#notice-log").screenshot(path=str(ARTEFACTS / "admin_notices_log.ru.png"))
        assert accessibility_problems(page) == []
