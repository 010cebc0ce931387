"""Each portal's Telegram bot: its token, stored encrypted, and the state an admin reads.

The token is the bot's password (whoever has it speaks as the bot), so it is kept with the
same Fernet key as the Bitrix24 tokens, never logged, never in job arguments: a job names
the portal and the chat, and reads the token here. Connecting checks it with getMe and
keeps the bot's @username; a token Telegram refuses later (401 on a send) marks the
connection "needs a new token", so the admin sees that once instead of a stream of failed
jobs, and later sends stop at once without asking Telegram.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from connector.crm.port import Tenant, tenant_of
from connector.errors import Permanent
from connector.services import Services
from connector.telegram.client import BotClient
from connector.telegram.errors import TelegramUnauthorized

# @BotFather's tokens: "<bot id>:<35 characters>" (https://core.telegram.org/bots/api#authorizing-your-bot)
TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,100}$")
CONNECTED, NEEDS_TOKEN, NOT_CONNECTED = "connected", "needs_token", "not_connected"


class TelegramNotConnected(Permanent):
    """No usable bot for this portal: the admin enters (a new) token on the app's page."""


class TokenMalformed(ValueError):
    """What was entered is not a bot token at all (refused before asking Telegram)."""


def _tenant(tenant: Tenant | str) -> Tenant:
    return tenant if isinstance(tenant, Tenant) else tenant_of(tenant)


def key(services: Services, tenant: Tenant | str) -> str:
    return f"{services.settings.queue_prefix}:telegram:{_tenant(tenant).key}:connection"


def client(services: Services, token: str) -> BotClient:
    return BotClient(token, services.settings.telegram_api_root, session=services.session)


def connect(services: Services, tenant: Tenant | str, token: str) -> dict[str, Any]:
    """Check the token with getMe and keep it; TokenMalformed or TelegramUnauthorized when
    it is no bot's, a Retryable when Telegram cannot be asked now. The bot's facts back."""
    token = token.strip()
    if not TOKEN.match(token):
        raise TokenMalformed("not a bot token")
    bot = client(services, token).get_me()
    record = {"secret": services.store.fernet.encrypt(token.encode()).decode(),
              "bot_id": bot.id, "username": bot.username, "name": bot.name,
              "connected_at": time.time(), "status": CONNECTED, "reason": ""}
    services.redis.set(key(services, tenant), json.dumps(record))
    return status(services, tenant)


def status(services: Services, tenant: Tenant | str) -> dict[str, Any]:
    """The connection as a page shows it (never the token)."""
    raw = services.redis.get(key(services, tenant))
    if not raw:
        return {"status": NOT_CONNECTED}
    data = json.loads(raw)
    data.pop("secret", None)
    return data


def mark_revoked(services: Services, tenant: Tenant | str, reason: str) -> None:
    raw = services.redis.get(key(services, tenant))
    if raw:
        data = json.loads(raw)
        data.update(status=NEEDS_TOKEN, reason=reason[:300], revoked_at=time.time())
        services.redis.set(key(services, tenant), json.dumps(data))


def disconnect(services: Services, tenant: Tenant | str) -> bool:
    """Forget the token; True if there was one."""
    return bool(services.redis.delete(key(services, tenant)))


def bot_for(services: Services, tenant: Tenant | str) -> BotClient:
    """This portal's bot; TelegramNotConnected when there is none or its token was refused."""
    raw = services.redis.get(key(services, tenant))
    if not raw:
        raise TelegramNotConnected("no Telegram bot is connected: an admin enters the bot's "
                                   "token on the app's page")
    data = json.loads(raw)
    if data.get("status") == NEEDS_TOKEN:
        raise TelegramNotConnected(f"Telegram refused the bot's token ({data.get('reason')}): "
                                   "an admin enters a new token")
    token = services.store.fernet.decrypt(data["secret"].encode()).decode()
    return client(services, token)


def guarded(services: Services, tenant: Tenant | str, fn: Any) -> Any:
    """Run fn(bot); a 401 marks the connection revoked before it is raised."""
    bot = bot_for(services, tenant)
    try:
        return fn(bot)
    except TelegramUnauthorized as exc:
        mark_revoked(services, tenant, exc.description or "Unauthorized")
        raise
