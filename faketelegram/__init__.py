"""A local fake of the Telegram Bot API (getMe, sendMessage, sendPhoto), reached over real
HTTP by connector.telegram: `FakeTelegram().start()` in tests, `python -m faketelegram
--port N --demo` for `./dev up`; point TELEGRAM_API_ROOT at `FakeTelegram.url`."""

from faketelegram.server import DEMO_CHATS, DEMO_TOKEN, FakeTelegram, app_env

__all__ = ["DEMO_CHATS", "DEMO_TOKEN", "FakeTelegram", "app_env"]
