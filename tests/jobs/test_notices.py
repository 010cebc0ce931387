"""Notices end to end: rules saved as the admin page saves them, deals changed in the
emulator, real burst workers, the fake Telegram Bot API over HTTP; what was sent is read
from the portal's chats and from the fake's record."""

from __future__ import annotations

from typing import Any

import pytest

from connector.context import JobContext
from connector.telegram import connection
from faketelegram import FakeTelegram
from robots.notices import log, panels
from tests.conftest import Stack

pytestmark = pytest.mark.fake_telegram

TOKEN = "7000001:AAH-test-token-for-finance-bot-0001"
FINANCE_TG = -1001000000777


def member(s: Stack) -> str:
    return s.portal()["member_id"]


def services(s: Stack) -> Any:
    return s.app.extensions["connector"]


def configure(s: Stack, *rules: dict[str, Any], lang: str = "ru") -> None:
    services(s).portal_settings.put(member(s), {"general": {"language": lang},
                                                "notices": {"rules": list(rules)}})


def ctx(s: Stack) -> JobContext:
    found = JobContext.load(services(s), member(s), "test", "notices")
    assert found is not None
    return found


def chat(s: Stack, title: str = "Финансы") -> int:
    return int(s.control("POST", "chats", json={"TITLE": title, "USERS": [1, 3]})["ID"])


def chat_texts(s: Stack, chat_id: int) -> list[str]:
    return [str(m.get("MESSAGE") or "") for m in s.control("GET", f"chats/{chat_id}")["messages"]]


def company(s: Stack, title: str) -> int:
    return int(s.control("POST", "crm/company", json={"fields": {"TITLE": title}})["id"])


def deal(s: Stack, title: str, **fields: Any) -> int:
    return int(s.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": 3, **fields}})["id"])


def update_deal(s: Stack, deal_id: int, **fields: Any) -> None:
    s.control("POST", f"crm/deal/{deal_id}", json={"fields": fields})


def won_finance(chat_id: int = 0, **more: Any) -> dict[str, Any]:
    """The preset rule as an admin switches it on: the finance chat chosen."""
    return {"id": "won_finance", "name": "Won deal → finance", "enabled": True,
            "event": "deal_won", "destination": "chat", "chat_id": chat_id,
            "template": "[B]Deal won:[/B] {DEAL}\nAmount: {AMOUNT}\nClient: {CLIENT}\n"
                        "Responsible: {RESPONSIBLE}\nPipeline: {PIPELINE}, stage: {STAGE}",
            **more}


def to_telegram(chat_id: int | str = FINANCE_TG, **more: Any) -> dict[str, Any]:
    return {"id": "won_tg", "name": "Выигрыш в Telegram", "event": "deal_won",
            "destination": "telegram", "telegram_chat": str(chat_id),
            "template": "[B]Выиграна:[/B] {DEAL} — {AMOUNT}", **more}


@pytest.fixture
def bot(installed: Stack, fake_telegram: FakeTelegram) -> FakeTelegram:
    fake_telegram.add_bot(TOKEN, "finance_bot", "Финансы бот")
    fake_telegram.add_chat(FINANCE_TG, "supergroup", "Финансы")
    connection.connect(services(installed), member(installed), TOKEN)
    return fake_telegram


def test_a_won_deal_tells_finance_in_the_chat_and_in_telegram(installed: Stack,
                                                               bot: FakeTelegram):
    s = installed
    room = chat(s)
    configure(s, won_finance(room), to_telegram())
    client = company(s, "ООО «Ромашка» & сыновья")
    deal_id = deal(s, "Ремонт КПП <Toyota>", OPPORTUNITY=150000, CURRENCY_ID="RUB",
                   COMPANY_ID=client)
    s.run_worker()
    assert not bot.sent() and not [m for m in chat_texts(s, room) if "выиграна" in m]

    update_deal(s, deal_id, STAGE_ID="WON")
    s.run_worker()
    [message] = [m for m in chat_texts(s, room) if "Сделка выиграна" in m]
    assert f"/crm/deal/details/{deal_id}/]Ремонт КПП <Toyota>[/URL]" in message
    assert "Сумма: 150\xa0000,00\xa0₽" in message
    assert "Клиент: ООО «Ромашка» & сыновья" in message
    assert "Ответственный: " in message and "—" not in message.split("Ответственный: ")[1][:2]
    [sent] = bot.sent(FINANCE_TG)
    assert sent["parse_mode"] == "HTML"
    assert sent["raw"].startswith("<b>Выиграна:</b> <a href=\"")
    assert "Ремонт КПП &lt;Toyota&gt;" in sent["raw"]
    assert sent["text"].startswith("Выиграна: Ремонт КПП <Toyota> — 150")
    entries = log.recent(ctx(s))
    assert [(e["rule"], e["ok"]) for e in entries] == [("won_tg", True), ("won_finance", True)]

    update_deal(s, deal_id, COMMENTS="оплачено")  # still won: no news
    s.run_worker()
    assert len(bot.sent(FINANCE_TG)) == 1
    assert len([m for m in chat_texts(s, room) if "Сделка выиграна" in m]) == 1


def test_a_deal_won_reopened_and_won_again_is_told_twice(installed: Stack, bot: FakeTelegram):
    s = installed
    configure(s, to_telegram())
    bot.limits(enabled=False)
    deal_id = deal(s, "Кузовной ремонт", OPPORTUNITY=5000, CURRENCY_ID="RUB")
    s.run_worker()
    for stage in ("WON", "EXECUTING", "WON"):
        update_deal(s, deal_id, STAGE_ID=stage)
        s.run_worker()
    assert len(bot.sent(FINANCE_TG)) == 2


def test_a_retried_job_sends_each_message_once(installed: Stack, bot: FakeTelegram):
    s = installed
    room = chat(s)
    configure(s, won_finance(room), to_telegram())
    deal_id = deal(s, "Замена масла", OPPORTUNITY=3200, CURRENCY_ID="RUB")
    s.run_worker()
    bot.fail_next(1, code=500, method="sendMessage")  # Telegram fails once: the job retries
    update_deal(s, deal_id, STAGE_ID="WON")
    s.run_worker()
    assert len(bot.calls("sendMessage")) == 2
    assert len(bot.sent(FINANCE_TG)) == 1
    assert len([m for m in chat_texts(s, room) if "Сделка выиграна" in m]) == 1
    assert services(s).queues.failed_of(member(s)) == []


def test_flood_control_is_waited_out(installed: Stack, bot: FakeTelegram):
    s = installed
    configure(s, to_telegram())
    deal_id = deal(s, "Шиномонтаж", OPPORTUNITY=2400, CURRENCY_ID="RUB")
    s.run_worker()
    bot.fail_next(1, code=429, retry_after=1, method="sendMessage")
    update_deal(s, deal_id, STAGE_ID="WON")
    s.run_worker()
    calls = bot.calls("sendMessage")
    assert len(calls) == 2 and calls[1]["at"] - calls[0]["at"] >= 0.9
    assert len(bot.sent(FINANCE_TG)) == 1


def test_a_revoked_token_is_shown_and_the_job_parked(installed: Stack, bot: FakeTelegram):
    s = installed
    configure(s, to_telegram())
    bot.revoke(TOKEN)
    first = deal(s, "Диагностика", OPPORTUNITY=1000, CURRENCY_ID="RUB")
    s.run_worker()
    update_deal(s, first, STAGE_ID="WON")
    s.run_worker()
    assert connection.status(services(s), member(s))["status"] == "needs_token"
    [parked] = services(s).queues.failed_of(member(s))
    assert "TelegramUnauthorized" in parked.error
    facts = panels.log_facts(ctx(s), _view())
    assert facts["problems"][0]["words"].startswith("Telegram не принимает токен бота")
    assert facts["rows"][0]["words"].startswith("Telegram не принимает токен бота")
    assert facts["parked"] and facts["parked"][0]["words"]

    calls = len(bot.calls())
    second = deal(s, "Развал-схождение", OPPORTUNITY=1500, CURRENCY_ID="RUB")
    s.run_worker()
    update_deal(s, second, STAGE_ID="WON")
    s.run_worker()
    assert len(bot.calls()) == calls  # no more tries with a token known to be refused
    assert len(services(s).queues.failed_of(member(s))) == 2


def test_a_rule_without_destination_and_an_unknown_chat_are_parked_in_words(
        installed: Stack, bot: FakeTelegram):
    s = installed
    configure(s, won_finance(0), to_telegram(-1009999999999))
    deal_id = deal(s, "Покраска бампера", OPPORTUNITY=7000, CURRENCY_ID="RUB")
    s.run_worker()
    update_deal(s, deal_id, STAGE_ID="WON")
    s.run_worker()
    [parked] = services(s).queues.failed_of(member(s))
    assert "NoticeNotSent" in parked.error
    words = {e["rule"]: e["words"] for e in panels.log_facts(ctx(s), _view())["rows"]}
    assert words["won_finance"].startswith("Правилу некуда отправлять")
    assert words["won_tg"].startswith("Telegram не знает такого чата")


def _view() -> Any:
    from connector.capability import AdminView

    return AdminView(1, {})
