"""An admin opens the Digests page in Chromium, in Russian: the next digest's figures from
deals made on the emulated portal, its chart inline, the message as the chat will show it;
"send now" posts it to the chat and the last digests list it. Screenshots of the page and
of the chart PNG kept; axe-core finds nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from robots.digests import send
from tests.conftest import Stack
from tests.e2e.browser import ARTEFACTS, accessibility_problems, browser_page, open_app, shoot
from tests.jobs.test_digests import TZ, chat, configure, ctx, digests_in, seed
from tests.jobs.test_watchdogs import work

PAGE = "Сводки для руководства"


def test_an_admin_previews_the_digest_and_sends_it_now(installed: Stack):
    s = installed
    room = chat(s)
    configure(s, chat_id=room, frequency="weekly", weekday=1, hour=9)
    seed(s)
    work(s)
    report = send.build(ctx(s), datetime.now(ZoneInfo(TZ)).date(), "ru")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "digest_chart_ru.png").write_bytes(report.png)
    with browser_page("ru-RU", width=1100) as page:
        open_app(s, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name=PAGE, exact=True).click()
        table = page.locator("#digest-figures")
        assert "Все воронки" in table.inner_text()
        assert page.locator("#digest-chart img").evaluate("i => i.naturalWidth") > 600
        assert "Ближайшая сводка:" in page.locator("#digest-next").inner_text()
        assert "Сводки ещё не отправлялись." in page.locator("#digest-log-empty").inner_text()
        page.locator("#digest-message summary").click()
        shoot(page, "admin_digests_preview_ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.click("#digest-send-now")
        assert "Поставлено в очередь" in page.locator("#notice").inner_text()
        work(s)
        assert len(digests_in(s, room)) == 1
        page.reload(wait_until="load")
        assert "отправлено" in page.locator("#digest-log").inner_text()
        shoot(page, "admin_digests_sent_ru")
