"""The amoCRM emulator over real HTTP, the app's settings pointing at it, a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.fernet import Fernet
from redis import Redis

from connector.bitrix.store import PortalStore
from connector.config import Settings, load_settings

CLIENT_ID = "9f5b3c1e-0000-4000-8000-00000000a1b2"
CLIENT_SECRET = "amo-test-secret-" + "0123456789abcdef" * 3
REDIRECT_URI = "https://app.example.com/amocrm/oauth"


def app_settings(emu_url: str, redis_url: str, key: str) -> Settings:
    from amoemu import app_env

    return load_settings({
        "REDIS_URL": redis_url, "CONNECTOR_SECRET_KEY": "test-signing-key",
        "CONNECTOR_ENCRYPTION_KEY": key, "CONNECTOR_REST_BACKOFF": "0.01",
        "AMOCRM_CLIENT_ID": CLIENT_ID, "AMOCRM_CLIENT_SECRET": CLIENT_SECRET,
        "AMOCRM_REDIRECT_URI": REDIRECT_URI, **app_env(emu_url)})


@dataclass
class World:
    emu: Any
    acc: Any
    settings: Settings
    redis: Redis
    store: PortalStore
    amo: Any  # connector.amocrm.service.Amo
    key: str

    def connect(self) -> str:
        """Install through the code flow; the tenant's member id."""
        from connector.amocrm.oauth import connect_with_code

        grant = self.emu.authorize(self.acc.id, state="s1")
        portal = connect_with_code(self.store, self.amo.oauth, grant["referer"], grant["code"],
                                   self.amo.account_of)
        return portal.member_id

    def requests(self) -> int:
        return int(self.emu.stats(self.acc.id)["requests"])

    def token_calls(self) -> int:
        by_path = self.emu.stats(self.acc.id)["by_path"]
        return sum(n for p, n in by_path.items() if "oauth2/access_token" in str(p))


@pytest.fixture
def world(redis_url: str, redis: Redis) -> Iterator[World]:
    from amoemu import AmoEmulator
    from connector.amocrm.service import Amo

    emu = AmoEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      redirect_uri=REDIRECT_URI).start()
    try:
        acc = emu.add_account("autoservis", zone="amocrm.ru")
        key = Fernet.generate_key().decode()
        settings = app_settings(emu.url, redis_url, key)
        store = PortalStore(redis, settings.encryption_key, settings.secret_key, "t")
        amo = Amo.build(settings, redis, store)
        yield World(emu, acc, settings, redis, store, amo, key)
    finally:
        emu.stop()
