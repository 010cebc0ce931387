"""The long-lived objects a process needs, built once from Settings (web and worker alike)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from redis import Redis

from connector.bitrix.oauth import OAuthClient, TokenManager
from connector.bitrix.ratelimit import LeakyBucket, plan_for
from connector.bitrix.rest import BitrixClient, RetryPolicy
from connector.bitrix.store import PortalStore
from connector.capability import Registry
from connector.config import Settings, load_settings
from connector.liveness import LockingRedis
from connector.queue import Queues
from connector.settings_schema import CORE_SCHEMAS, SettingsStore, schema_map


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
    registry: Registry = field(default_factory=lambda: Registry([]))
    # core per-portal jobs the composition root adds (reconcile, clean-up): name → fn
    tasks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # install proof and uninstall (install.lifecycle), handed in by the composition root
    lifecycle: Any = None

    def crm(self, member_id: str, known: dict[str, Any] | None = None) -> Any:
        """The CRM port for a tenant, Bitrix24's or amoCRM's by its member id; `known` =
        raw answers already read (an event delivery's)."""
        from connector.bitrix.adapter import BitrixCrm
        from connector.crm.port import AMOCRM, crm_of

        portal = self.store.get(member_id)
        if crm_of(member_id) == AMOCRM:
            from connector.amocrm.adapter import AmoCrm
            from connector.amocrm.presence import presence_for

            return AmoCrm(self.amo().client(member_id), portal.domain if portal else "",
                          known, self.redis, self.settings.queue_prefix,
                          presence_for(self, member_id))
        return BitrixCrm(self.client(member_id), portal.domain if portal else "", known,
                         self.redis, self.settings.queue_prefix)

    def amo(self) -> Any:
        """The amoCRM parts (connector.amocrm.service.Amo), built on first use; amoCRM is
        off (AMOCRM_CLIENT_ID unset) unless settings.amocrm_enabled."""
        built = self.__dict__.get("_amo")
        if built is None:
            from connector.amocrm.service import Amo

            built = self.__dict__["_amo"] = Amo.build(self.settings, self.redis, self.store,
                                                      self.session)
        return built

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


def build_services(settings: Settings, web: bool = False, registry: Registry | None = None,
                   tasks: dict[str, Callable[..., Any]] | None = None,
                   lifecycle: Any = None) -> Services:
    """`web=True` lets the process cache application-token digests (ingress hot path).

    The registry (the capabilities) and the core tasks come from the composition root; a
    process built without them still reads and keeps every stored settings section.
    """
    registry = registry or Registry([])
    schemas = schema_map(CORE_SCHEMAS, registry.schemas())
    redis = LockingRedis.from_url(settings.redis_url)
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
        registry=registry,
        tasks=dict(tasks or {}),
        lifecycle=lifecycle,
    )


_ASSEMBLY: list[Callable[[], Services]] = []


def assemble_with(fn: Callable[[], Services]) -> None:
    """The composition root says how a worker builds its Services (with capabilities)."""
    _ASSEMBLY[:] = [fn]
    worker_services.cache_clear()


@functools.cache
def worker_services() -> Services:
    """Services of a worker process, from its environment; built on first use."""
    return _ASSEMBLY[0]() if _ASSEMBLY else build_services(load_settings())
