"""connector.telegram against the fake Bot API over real HTTP: the methods, flood control
waited out or handed to the job, each refusal as its own error, the token kept secret."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from connector import telegram
from connector.config import load_settings
from connector.crm.port import Tenant
from connector.errors import Permanent, Retryable
from connector.telegram import connection, errors, html
from connector.telegram.client import BotClient
from faketelegram import FakeTelegram

TOKEN = "5550001:AAH-client-test-token-000000000001"
GROUP, PERSON = -1001234567890, 424242
TENANT = Tenant("b24", "m-telegram")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as bot_api:
        bot_api.add_bot(TOKEN, "finance_bot", "Финансы")
        bot_api.add_chat(GROUP, "supergroup", "Финансы")
        bot_api.add_chat(PERSON, "private", "Бухгалтер")
        yield bot_api


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def bot(fake: FakeTelegram, sleeps: list[float]) -> BotClient:
    return BotClient(TOKEN, fake.url, sleep=sleeps.append)


def png() -> bytes:
    """A real 1×1 PNG, made here."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_get_me_names_the_bot(bot: BotClient):
    me = bot.get_me()
    assert (me.id, me.username, me.name) == (5550001, "finance_bot", "Финансы")


def test_a_message_in_html_mode_reads_as_its_plain_text(bot: BotClient, fake: FakeTelegram):
    title = "Ремонт <КПП> & «масло»"
    bot.send_message(GROUP, f"<b>Выиграна:</b> {html.link('https://p.ru/d/1/?a=1&b=2', title)}")
    [sent] = fake.sent(GROUP)
    assert sent["parse_mode"] == "HTML"
    assert sent["text"] == "Выиграна: Ремонт <КПП> & «масло»"
    assert 'href="https://p.ru/d/1/?a=1&amp;b=2"' in sent["raw"]
    assert html.link("javascript:alert(1)", "x<") == "x&lt;"


def test_a_photo_goes_up_as_multipart_bytes_with_its_caption(bot: BotClient, fake: FakeTelegram):
    image = png()
    assert bot.send_photo(GROUP, image, "<b>Неделя</b> 1&lt;2") > 0
    [sent] = fake.sent(GROUP)
    assert sent["method"] == "sendPhoto" and sent["text"] == "Неделя 1<2"
    assert sent["photo_png"] and sent["photo_size"] == len(image)
    assert sent["photo_sha256"] == hashlib.sha256(image).hexdigest()


def test_a_short_flood_wait_is_slept_and_the_call_repeated(bot: BotClient, fake: FakeTelegram,
                                                           sleeps: list[float]):
    fake.fail_next(2, code=429, retry_after=2)
    assert bot.send_message(PERSON, "раз") > 0
    assert sleeps == [2.0, 2.0] and len(fake.sent(PERSON)) == 1


def test_a_long_flood_wait_is_the_jobs_to_wait(bot: BotClient, fake: FakeTelegram,
                                               sleeps: list[float]):
    fake.fail_next(1, code=429, retry_after=40)
    with pytest.raises(errors.TelegramRateLimited) as err:
        bot.send_message(PERSON, "раз")
    assert isinstance(err.value, Retryable) and err.value.retry_after_s == 40.0
    assert sleeps == [] and fake.sent() == []


def test_flood_waits_are_bounded_in_number(bot: BotClient, fake: FakeTelegram,
                                           sleeps: list[float]):
    fake.fail_next(10, code=429, retry_after=1)
    with pytest.raises(errors.TelegramRateLimited):
        bot.send_message(PERSON, "раз")
    assert sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(("setup", "chat", "kind", "words"), [
    (lambda f: f.revoke(TOKEN), GROUP, errors.TelegramUnauthorized, "Unauthorized"),
    (lambda f: f.add_chat(PERSON, "private", blocked=True), PERSON, errors.TelegramForbidden,
     "Forbidden: bot was blocked by the user"),
    (lambda f: f.add_chat(GROUP, "supergroup", blocked=True), GROUP, errors.TelegramForbidden,
     "Forbidden: bot was kicked from the group chat"),
    (lambda f: None, -100999, errors.TelegramChatNotFound, "Bad Request: chat not found"),
    (lambda f: f.fail_next(1, code=502, description="Bad Gateway"), GROUP,
     errors.TelegramUnavailable, "Bad Gateway"),
])
def test_each_refusal_is_its_own_error(bot: BotClient, fake: FakeTelegram, setup: Any,
                                       chat: int, kind: type, words: str):
    setup(fake)
    with pytest.raises(kind) as err:
        bot.send_message(chat, "текст")
    assert err.value.description == words
    assert isinstance(err.value, Retryable if kind is errors.TelegramUnavailable else Permanent)


def test_markup_telegram_cannot_parse_is_a_bad_request(bot: BotClient):
    with pytest.raises(errors.TelegramBadRequest) as err:
        bot.send_message(GROUP, "<b>не закрыт")
    assert "can't parse entities" in err.value.description
    with pytest.raises(errors.TelegramBadRequest):
        bot.send_message(GROUP, "x" * 4097)


def test_the_token_is_never_in_an_error_or_a_repr(fake: FakeTelegram):
    gone = BotClient(TOKEN, "http://127.0.0.1:9", timeout_s=2)  # nobody listens there
    with pytest.raises(errors.TelegramUnavailable) as err:
        gone.get_me()
    assert TOKEN not in str(err.value) and TOKEN not in repr(gone)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    with pytest.raises(errors.TelegramUnauthorized):  # not of a token's form: 404 Not Found
        BotClient("nonsense", fake.url).get_me()


# the fake's own flood control, as Telegram's FAQ puts it ---------------------------------
def test_the_fake_limits_a_chat_to_a_message_a_second_and_a_group_to_twenty_a_minute(
        fake: FakeTelegram):
    now = [1000.0]
    fake.state.clock = lambda: now[0]
    bot = BotClient(TOKEN, fake.url, max_waits=0)
    bot.send_message(PERSON, "1")
    with pytest.raises(errors.TelegramRateLimited) as err:
        bot.send_message(PERSON, "2")
    assert err.value.retry_after_s == 1.0 and err.value.description.startswith(
        "Too Many Requests: retry after")
    for _ in range(20):
        now[0] += 1.5
        bot.send_message(GROUP, "в группу")
    now[0] += 1.5
    with pytest.raises(errors.TelegramRateLimited) as group:
        bot.send_message(GROUP, "21-е за минуту")
    assert 25 <= group.value.retry_after_s <= 60
    fake.limits(enabled=False)
    bot.send_message(GROUP, "без лимитов")


# the portal's bot: connect, send, revoked -------------------------------------------------
@pytest.fixture
def services(redis_url: str, redis: Any, fake: FakeTelegram) -> Any:
    from wiring import build_services

    return build_services(load_settings({
        "REDIS_URL": redis_url, "CONNECTOR_SECRET_KEY": "s",
        "CONNECTOR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "TELEGRAM_API_ROOT": fake.url}))


def test_a_token_is_checked_kept_encrypted_and_never_shown(services: Any, redis: Any):
    with pytest.raises(connection.TokenMalformed):
        connection.connect(services, TENANT, "hello")
    with pytest.raises(errors.TelegramUnauthorized):
        connection.connect(services, TENANT, "5550002:AAH-nobody-has-this-token-0000002")
    assert connection.status(services, TENANT) == {"status": "not_connected"}
    state = connection.connect(services, TENANT, f"  {TOKEN}\n")
    assert state["username"] == "finance_bot" and state["status"] == "connected"
    assert "secret" not in state
    raw = b"".join(redis.get(k) or b"" for k in redis.keys("*"))
    assert TOKEN.encode() not in raw


def test_send_escapes_plain_text_and_a_revoked_token_stops_the_next_sends(
        services: Any, fake: FakeTelegram):
    connection.connect(services, TENANT, TOKEN)
    telegram.send(services, TENANT, GROUP, "1 < 2 & <b>не тег</b>")
    assert fake.sent(GROUP)[0]["text"] == "1 < 2 & <b>не тег</b>"
    telegram.send(services, TENANT, PERSON, "график", photo=png())
    assert fake.sent(PERSON)[0]["method"] == "sendPhoto"
    fake.revoke(TOKEN)
    with pytest.raises(errors.TelegramUnauthorized):
        telegram.send(services, TENANT, GROUP, "ещё")
    assert connection.status(services, TENANT)["status"] == "needs_token"
    calls = len(fake.calls())
    with pytest.raises(connection.TelegramNotConnected) as err:
        telegram.send(services, TENANT, GROUP, "и ещё")
    assert "refused" in str(err.value) and len(fake.calls()) == calls
    assert connection.disconnect(services, TENANT) and not connection.disconnect(services, TENANT)


def test_the_fake_answers_in_the_bot_apis_shape(fake: FakeTelegram):
    import requests

    resp = requests.post(f"{fake.url}/bot{TOKEN}/sendMessage", data={"chat_id": "-1"},
                         timeout=5)
    assert resp.status_code == 400
    assert resp.json() == {"ok": False, "error_code": 400,
                           "description": "Bad Request: chat not found"}
    fake.fail_next(1, code=429, retry_after=7)
    flood = requests.get(f"{fake.url}/bot{TOKEN}/getMe", timeout=5).json()
    assert flood["parameters"] == {"retry_after": 7}
    assert json.loads(requests.get(f"{fake.url}/_fake/state", timeout=5).text)["bots"][0][
        "username"] == "finance_bot"
