"""The amoCRM parts a process needs, built once from Settings and the shared Redis/store."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from redis import Redis

from connector.amocrm.domains import Hosts
from connector.amocrm.oauth import AmoOAuth, AmoTokens
from connector.amocrm.rest import AmoClient, account_at
from connector.bitrix.store import PortalStore
from connector.config import Settings
from connector.ratelimit import SlidingWindow
from connector.retry import RetryPolicy


@dataclass
class Amo:
    settings: Settings
    store: PortalStore
    session: requests.Session
    hosts: Hosts
    oauth: AmoOAuth
    tokens: AmoTokens
    window: SlidingWindow

    @classmethod
    def build(cls, settings: Settings, redis: Redis, store: PortalStore,
              session: requests.Session | None = None) -> Amo:
        session = session or requests.Session()
        hosts = Hosts(settings.amocrm_url_template)
        window = SlidingWindow(redis, settings.queue_prefix, "amo-window")
        oauth = AmoOAuth(settings, session, hosts, window)
        return cls(settings, store, session, hosts, oauth, AmoTokens(store, redis, oauth),
                   window)

    def client(self, member_id: str) -> AmoClient:
        s = self.settings
        return AmoClient(member_id, self.tokens, self.window, self.session, self.hosts,
                         retry=RetryPolicy(max_retries=s.rest_max_retries,
                                           backoff_s=s.rest_backoff_s))

    def account_of(self, domain: str, access_token: str) -> dict:
        """For connect_with_code / connect_long_lived: the account a new token opens."""
        return account_at(self.session, self.hosts, domain, access_token, self.window)
