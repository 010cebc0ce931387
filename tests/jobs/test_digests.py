"""Management digests end to end: deals made on the emulated portal at past moments (its clock
shifted), the digest saved as the admin page saves it, real burst workers, the fake Telegram
Bot API over HTTP; what was sent is read from the portal's chats and the fake's record."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.context import JobContext
from connector.crm.port import PipelineNames
from connector.telegram import connection
from faketelegram import FakeTelegram
from robots.digests import log, panels, send
from robots.digests import schedule as sch
from tests.conftest import Stack
from tests.jobs.test_watchdogs import deal, portal_clock, update_deal, work

pytestmark = pytest.mark.fake_telegram

TOKEN = "7000002:AAH-test-token-for-digest-bot-0002"
BOARD_TG = -1001000000888
DAY = 86400
TZ = "Europe/Moscow"


def services(s: Stack) -> Any:
    return s.app.extensions["connector"]


def member(s: Stack) -> str:
    return s.portal()["member_id"]


def configure(s: Stack, **section: Any) -> None:
    """Daily at this hour (so today's slot has passed), the seven days before."""
    hour = datetime.now(ZoneInfo(TZ)).hour
    services(s).portal_settings.put(member(s), {
        "general": {"language": "ru", "timezone": TZ},
        "digests": {"enabled": True, "frequency": "daily", "hour": hour, "period": "week",
                    **section}})


def ctx(s: Stack) -> JobContext:
    found = JobContext.load(services(s), member(s), "test", "digests")
    assert found is not None
    return found


def chat(s: Stack, title: str = "Руководство") -> int:
    return int(s.control("POST", "chats", json={"TITLE": title, "USERS": [1, 3]})["ID"])


def chat_texts(s: Stack, chat_id: int) -> list[str]:
    return [str(m.get("MESSAGE") or "") for m in s.control("GET", f"chats/{chat_id}")["messages"]]


def digests_in(s: Stack, chat_id: int) -> list[str]:
    return [m for m in chat_texts(s, chat_id) if m.startswith("[B]Сводка по сделкам")]


def seed(s: Stack) -> dict[str, int]:
    """Deals of the last fortnight: what each counts as is in its name."""
    ids: dict[str, int] = {}
    with portal_clock(s, -10 * DAY):
        ids["won_before"] = deal(s, "Прошлый период, выиграна", OPPORTUNITY=2500,
                                 CURRENCY_ID="RUB")
    with portal_clock(s, -9 * DAY):
        update_deal(s, ids["won_before"], STAGE_ID="WON")
    with portal_clock(s, -4 * DAY):
        ids["lost"] = deal(s, "Опт, проиграна", OPPORTUNITY=50000, CURRENCY_ID="RUB",
                           CATEGORY_ID=1)
    with portal_clock(s, -3 * DAY):
        ids["usd_won"] = deal(s, "Поставка в долларах", OPPORTUNITY=100, CURRENCY_ID="USD")
    with portal_clock(s, -2 * DAY):
        ids["in_work"] = deal(s, "Ремонт КПП", OPPORTUNITY=10000, CURRENCY_ID="RUB")
        update_deal(s, ids["lost"], STAGE_ID="C1:LOSE")
    with portal_clock(s, -1 * DAY):
        update_deal(s, ids["usd_won"], STAGE_ID="WON")
    ids["today"] = deal(s, "Сегодняшняя", OPPORTUNITY=700, CURRENCY_ID="RUB")
    return ids


def slot_due(s: Stack) -> None:
    """As if the check before ran before today's slot: the slot has passed since then."""
    c = ctx(s)
    sec = c.settings["digests"]
    slot = sch.last_slot(time.time(), TZ, sec["frequency"], sec["weekday"], sec["hour"])
    c.redis.set(c.key("checked"), repr(slot.timestamp() - 60))


def check_job(s: Stack, n: int) -> None:
    """The periodic task's job, as its slot chain queues it (connector.periodic.run_slot)."""
    services(s).queues.enqueue("connector.jobs.run_maintenance",
                               ["digests.check", member(s), None], f"test-digest-check-{n}",
                               member_id=member(s))


@pytest.fixture
def bot(installed: Stack, fake_telegram: FakeTelegram) -> FakeTelegram:
    fake_telegram.add_bot(TOKEN, "board_bot", "Сводки")
    fake_telegram.add_chat(BOARD_TG, "supergroup", "Руководство")
    connection.connect(services(installed), member(installed), TOKEN)
    return fake_telegram


def test_the_figures_per_pipeline_from_the_portal_with_a_dollar_deal_converted(
        installed: Stack):
    s = installed
    configure(s)
    today = datetime.now(ZoneInfo(TZ)).date()
    demo = {line.category: line.in_work for line in send.build(ctx(s), today, "ru").figures.lines}
    seed(s)
    report = send.build(ctx(s), today, "ru")
    fig = report.figures
    assert (fig.period.first, fig.period.end) == (date.fromordinal(today.toordinal() - 7), today)
    lines = {line.category: line for line in fig.lines}
    assert set(lines) == {"0", "1"}
    common, wholesale = lines["0"], lines["1"]
    # new: the dollar deal (100 USD at 68.79, crm-currency-list.md's sample) and the repair
    assert (common.new.count, common.new.total) == (2, Decimal("16879.00"))
    assert (common.won.count, common.won.total) == (1, Decimal("6879.00"))
    assert common.lost.count == 0
    # in work: the repair and today's deal, beside the demo portal's own open deals
    assert common.in_work.count - demo["0"].count == 2
    assert common.in_work.total - demo["0"].total == Decimal("10700.00")
    assert (common.new_before.count, common.won_before.count) == (1, 1)
    assert common.won_before.total == Decimal("2500.00")
    assert (wholesale.new.count, wholesale.lost.count) == (1, 1)
    assert wholesale.lost.total == Decimal("50000.00")
    assert (fig.total.new.count, fig.total.won.count, fig.total.lost.count) == (3, 1, 1)
    assert sum(d.new for d in fig.days) == 3 and sum(d.won for d in fig.days) == 1
    assert report.png.startswith(b"\x89PNG")
    assert report.overdue is None  # no watchdog rule waits for people


def test_the_digest_goes_to_the_chat_and_to_telegram_with_its_chart_once_per_slot(
        installed: Stack, bot: FakeTelegram):
    s = installed
    room = chat(s)
    configure(s, chat_id=room, telegram_chats=f"{BOARD_TG}")
    seed(s)
    work(s)  # the seeded deals' own events
    slot_due(s)
    check_job(s, 1)
    check_job(s, 2)  # a second check of the same slot (another worker, a retry)
    work(s)
    [text] = digests_in(s, room)
    names = ctx(s).crm.read({"p": PipelineNames()}).get("p")  # the emulator's: "General"…
    assert (f"\n[B]{names['0']}[/B]\nНовые: 2 на сумму 16\xa0879,00\xa0₽ "
            "(в прошлом периоде: 1)") in text
    assert "Выиграны: 1 на сумму 6\xa0879,00\xa0₽ (в прошлом периоде: 1)" in text
    assert "Проиграны: 1 на сумму 50\xa0000,00\xa0₽ (в прошлом периоде: 0)" in text
    assert "[B]Все воронки[/B]" in text
    assert "График за неделю: [URL=http" in text  # the PNG in the shared storage
    sent = bot.sent(BOARD_TG)
    assert [r["method"] for r in sent] == ["sendMessage", "sendPhoto"]
    assert sent[0]["parse_mode"] == "HTML" and sent[0]["raw"].startswith(
        "<b>Сводка по сделкам за ")
    assert sent[1]["photo_png"] and sent[1]["photo_size"] > 5000
    assert sent[1]["text"].startswith("Новые и выигранные сделки по дням")

    # the check runs again, twice at once: the slot is taken, nothing more is sent
    c = ctx(s)
    slot_due(s)
    assert send.check(c)["skipped"].endswith("is queued already")
    slot_due(s)
    check_job(s, 3)
    work(s)
    assert len(digests_in(s, room)) == 1 and len(bot.sent(BOARD_TG)) == 2
    [entry] = log.recent(c)
    assert [(r["kind"], r["ok"]) for r in entry["results"]] == [("chat", True),
                                                                ("telegram", True)]


def test_a_revoked_telegram_token_is_reported_and_the_chat_still_gets_it(
        installed: Stack, bot: FakeTelegram):
    s = installed
    room = chat(s)
    configure(s, chat_id=room, telegram_chats=f"{BOARD_TG}")
    bot.revoke(TOKEN)
    slot_due(s)
    check_job(s, 1)
    work(s)
    assert len(digests_in(s, room)) == 1
    assert not bot.sent(BOARD_TG)
    c = ctx(s)
    [entry] = log.recent(c)
    tg = [r for r in entry["results"] if r["kind"] == "telegram"][0]
    assert not tg["ok"] and "token" in tg["words"]
    [job] = send.parked(c)  # the job is parked in the failed registry, as the page shows
    view = panels.AdminView(1, {"LANG": "ru"})
    facts = panels.facts(c, view)
    assert "Telegram не принимает токен бота" in facts["parked"][0]["words"]
    row = facts["rows"][0]["results"]
    assert row[0]["ok"] and not row[1]["ok"]
    assert "Telegram не принимает токен бота" in row[1]["words"]
    assert job.id


def test_send_now_from_the_panel_and_the_preview(installed: Stack, bot: FakeTelegram):
    s = installed
    room = chat(s)
    configure(s, chat_id=room)
    seed(s)
    c = ctx(s)
    facts = panels.facts(c, panels.AdminView(1, {"LANG": "ru"}))
    preview = facts["preview"]
    assert preview["chart"] and preview["rows"][-1]["name"] == "Все воронки"
    assert "Сводка по сделкам" in str(preview["message"])
    outcome = panels.send_now(c, panels.AdminView(1, {}))
    assert outcome.ok, outcome
    work(s)
    assert len(digests_in(s, room)) == 1
    assert log.recent(c)[0]["manual"] is True


def test_the_watchdogs_overdue_deals_are_named_with_links(installed: Stack):
    s = installed
    room = chat(s)
    configure(s, chat_id=room, overdue_shown=5)
    doc = services(s).portal_settings.get(member(s))
    doc["watchdogs"] = {**doc.get("watchdogs", {}), "reaction": [{
        "id": "deals", "name": "Реакция на сделку", "entity": "deal", "due_minutes": 60,
        "working_time": False, "steps": [
            {"after_minutes": 0, "action": "remind"},
            {"after_minutes": 600, "action": "supervisors", "users": [1],
             "channel": "notify"}]}]}
    services(s).portal_settings.put(member(s), doc)
    with portal_clock(s, -2 * 3600):
        missed = deal(s, "Поставка масла 20 т", OPPORTUNITY=1000, CURRENCY_ID="RUB")
    work(s)  # the first reminder goes out; the escalation waits
    slot_due(s)
    check_job(s, 1)
    work(s)
    [text] = digests_in(s, room)
    assert "[B]Просрочено (контроль сроков): 1[/B]" in text
    assert (f"• [URL=https://{s.portal()['domain']}/crm/deal/details/{missed}/]"
            "Поставка масла 20 т[/URL] — Реакция на сделку (1 напоминание)") in text
