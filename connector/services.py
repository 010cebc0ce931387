"""The long-lived objects a process needs, built once from Settings (web and worker alike)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import requests
from redis import Redis

from connector.bitrix.oauth import OAuthClient, TokenManager
from connector.bitrix.ratelimit import LeakyBucket, plan_for
from connector.bitrix.rest import BitrixClient, RetryPolicy
from connector.bitrix.store import PortalStore
from connector.config import Settings, load_settings
from connector.queue import Queues
from connector.settings_schema import CORE_SCHEMAS, Schema, SettingsStore, schema_map


@dataclass
class Services:
    settings: Settings
    redis: Redis
    store: PortalStore
    bucket: LeakyBucket
    oauth: OAuthClient
    tokens: TokenManager
    queues: Queues
    portal_settings: SettingsStore
    session: requests.Session

    def client(self, member_id: str) -> BitrixClient:
        """A REST client for the portal, aimed at the client_endpoint the OAuth server gave."""
        portal = self.store.get(member_id)
        if portal is None:
            from connector.bitrix.errors import InvalidGrant

            raise InvalidGrant("PORTAL_UNKNOWN", f"portal {member_id} is not installed", 401)
        s = self.settings
        return BitrixClient(
            member_id, portal.client_endpoint, self.tokens, self.bucket, self.session,
            plan=plan_for(portal.license_family),
            retry=RetryPolicy(max_retries=s.rest_max_retries, backoff_s=s.rest_backoff_s),
            timeout=s.rest_timeout_s,
        )


def load_registries() -> dict[str, Schema]:
    """The settings sections of this process: the core's and each capability's.

    Transitional: the capability list will supply them (`schema_map(CORE_SCHEMAS,
    registry.schemas())`); until then the capabilities' config modules are named here.
    """
    import handlers  # noqa: F401
    import robots  # noqa: F401
    from robots.deal_workspace import config as deal_workspace
    from robots.distribution import config as distribution
    from robots.drive_mirror import config as drive_mirror

    return schema_map(CORE_SCHEMAS, distribution.SCHEMAS, deal_workspace.SCHEMAS,
                      drive_mirror.SCHEMAS)


def build_services(settings: Settings, web: bool = False) -> Services:
    """`web=True` lets the process cache application-token digests (ingress hot path)."""
    schemas = load_registries()
    redis = Redis.from_url(settings.redis_url)
    session = requests.Session()
    session.headers["User-Agent"] = "crm-connector/0.1"
    store = PortalStore(redis, settings.encryption_key, settings.secret_key, settings.queue_prefix,
                        digest_cache_s=settings.token_cache_s if web else 0.0)
    oauth = OAuthClient(settings, session)
    return Services(
        settings=settings,
        redis=redis,
        store=store,
        bucket=LeakyBucket(redis, settings.queue_prefix),
        oauth=oauth,
        tokens=TokenManager(store, redis, oauth),
        queues=Queues(redis, settings.queue_prefix, settings.job_retry_intervals),
        portal_settings=SettingsStore(redis, settings.queue_prefix, schemas),
        session=session,
    )


@functools.cache
def worker_services() -> Services:
    """Services of a worker process, from its environment; built on first use."""
    return build_services(load_settings())
