"""A separate process calling one amoCRM tenant N times (the limiter and refresh tests)."""

from __future__ import annotations

import os
import sys

from redis import Redis

from connector.amocrm.service import Amo
from connector.bitrix.store import PortalStore
from tests.amocrm.conftest import app_settings


def main() -> int:
    settings = app_settings(os.environ["AMO_EMU"], os.environ["REDIS_URL"],
                            os.environ["AMO_KEY"])
    redis = Redis.from_url(settings.redis_url)
    store = PortalStore(redis, settings.encryption_key, settings.secret_key, "t")
    client = Amo.build(settings, redis, store).client(os.environ["AMO_MEMBER"])
    for _ in range(int(os.environ["AMO_N"])):
        client.get("/api/v4/account")
    return 0


if __name__ == "__main__":
    sys.exit(main())
