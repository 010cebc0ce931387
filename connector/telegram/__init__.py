"""Telegram for every capability: a portal's bot (connection), its Bot API client (client),
its errors (errors) and HTML text (html). Other capabilities call `send`."""

from __future__ import annotations

from connector.crm.port import Tenant
from connector.services import Services
from connector.telegram import connection, html
from connector.telegram.client import Bot, BotClient
from connector.telegram.connection import TelegramNotConnected
from connector.telegram.errors import (
    TelegramBadRequest,
    TelegramChatNotFound,
    TelegramError,
    TelegramForbidden,
    TelegramRateLimited,
    TelegramUnauthorized,
    TelegramUnavailable,
)

__all__ = ["Bot", "BotClient", "TelegramBadRequest", "TelegramChatNotFound", "TelegramError",
           "TelegramForbidden", "TelegramNotConnected", "TelegramRateLimited",
           "TelegramUnauthorized", "TelegramUnavailable", "connection", "html", "send"]


def send(services: Services, tenant: Tenant | str, chat_id: int | str, text: str,
         photo: bytes | None = None, *, as_html: bool = False) -> int:
    """Send `text` (plain, escaped here; or Telegram HTML with as_html=True) to a chat with
    the portal's bot, as a photo's caption when `photo` (PNG bytes) is given; the message id.

    Raises TelegramNotConnected (no bot, or its token refused before), TelegramUnauthorized
    (refused now: the connection is marked), TelegramForbidden, TelegramChatNotFound,
    TelegramBadRequest (Permanent: park the job) or TelegramRateLimited/Unavailable
    (Retryable)."""
    limit = html.MAX_CAPTION if photo is not None else html.MAX_MESSAGE
    # plain text is cut to Telegram's limit before escaping; HTML is the caller's to fit
    body = text if as_html else html.escape(text[:limit])
    if photo is not None:
        return connection.guarded(services, tenant,
                                  lambda bot: bot.send_photo(chat_id, photo, body))
    return connection.guarded(services, tenant, lambda bot: bot.send_message(chat_id, body))
