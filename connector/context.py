"""JobContext: what a capability's code gets — the tenant, its CRM port, settings, language."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from connector import history
from connector.bitrix.store import Portal
from connector.crm.port import CrmPort, ItemRef, Tenant
from connector.i18n import Plural, portal_language
from connector.queue import MAINTENANCE
from connector.services import Services


@dataclass
class JobContext:
    portal: Portal
    crm: CrmPort
    settings: dict[str, Any]
    services: Services
    log: logging.LoggerAdapter
    capability: str = ""
    final_attempt: bool = True

    @property
    def member_id(self) -> str:
        return self.portal.member_id

    @property
    def tenant(self) -> Tenant:
        return self.crm.tenant

    @property
    def domain(self) -> str:
        return self.crm.domain

    @property
    def lang(self) -> str:
        """The language the app writes in for this portal (setting, else the portal's own)."""
        return portal_language(self.settings["general"]["language"], self.portal.language)

    @property
    def tz(self) -> str:
        return self.settings["general"]["timezone"]

    @property
    def redis(self) -> Any:
        return self.services.redis

    def key(self, *parts: Any) -> str:
        """A Redis key of this capability for this tenant: <prefix>:<capability>:<crm>:<id>:…"""
        tail = ":".join(str(p) for p in parts)
        base = f"{self.services.settings.queue_prefix}:{self.capability}:{self.tenant.key}"
        return f"{base}:{tail}" if tail else base

    def service(self, name: str) -> Any:
        """A service another capability publishes (None when it is not loaded here)."""
        return self.services.registry.service(name)

    def enqueue(self, task: str, arg: dict[str, Any], *key: Any, queue: str = "",
                until_started: bool = False) -> bool:
        """Queue this capability's task `task` once per business key; True if newly queued.
        It goes to `queue`, else to the queue its Task declares (`maintenance` by default)."""
        return self._enqueue(task, arg, key, queue, until_started).created

    def enqueue_job(self, task: str, arg: dict[str, Any], *key: Any,
                    queue: str = "") -> str:
        """Queue `task` unless the same key waits already; the id of the job that will do it
        (new or waiting), so a page can follow it. Once that job starts, the key is free."""
        res = self._enqueue(task, arg, key, queue, True)
        if res.created:
            return res.job_id
        waiting = self.redis.get(self.services.queues.dedup_key(res.job_id))
        return waiting.decode() if waiting else ""

    def _enqueue(self, task: str, arg: dict[str, Any], key: tuple[Any, ...], queue: str,
                 until_started: bool) -> Any:
        from connector.queue import job_id

        name = f"{self.capability}.{task}"
        return self.services.queues.enqueue(
            "connector.jobs.run_maintenance", [name, self.member_id, arg],
            job_id(name.replace(".", "-"), self.member_id, *key),
            queue=queue or self.queue_of(task), member_id=self.member_id,
            until_started=until_started)

    def queue_of(self, task: str) -> str:
        """The queue this capability's task `task` declares (Task.queue); `maintenance` for
        a name no Task declares (a periodic task's, run as a timer)."""
        found = self.services.registry.tasks.get(f"{self.capability}.{task}")
        return found[1].queue if found else MAINTENANCE

    # the item's history in words (connector.history) -------------------------------------
    def history_key(self, ref: ItemRef) -> str:
        return history.history_key(self.services.settings.queue_prefix, self.tenant.key,
                                   ref.kind, ref.id)

    def remember(self, ref: ItemRef, msgid: str | Plural, *, identity: str = "",
                 **params: Any) -> bool:
        """Tell the item's readers what happened: `msgid` (N_(), or NP_() with `n=`) and its
        placeholders, rendered in each reader's language; once per `identity` if given."""
        return history.remember(self.redis, self.history_key(ref), msgid, params,
                                identity=identity)

    # timers: this capability's task at a time, by business key --------------------------
    def _timers(self) -> Any:
        from connector.timers import Timers

        return Timers(self.services.queues, self.redis, self.services.settings.queue_prefix)

    def schedule(self, key: str, at: float, task: str, arg: dict[str, Any]) -> str:
        """Run this capability's task `task` at unix time `at`, on the queue its Task
        declares; the same key again moves it."""
        return self._timers().schedule(
            self.member_id, self.capability, key, at, "connector.jobs.run_maintenance",
            [f"{self.capability}.{task}", self.member_id, arg], queue=self.queue_of(task))

    def cancel_timer(self, key: str) -> bool:
        """Forget the timer of this key (the item changed); True when one was pending."""
        return self._timers().cancel(self.member_id, self.capability, key)

    def timer_due(self, key: str) -> float | None:
        return self._timers().when(self.member_id, self.capability, key)

    def of(self, capability: str) -> JobContext:
        """The same job seen as another capability (for its published services' keys)."""
        return replace(self, capability=capability)

    @classmethod
    def load(cls, services: Services, member_id: str, job: str = "", capability: str = "",
             known: dict[str, Any] | None = None) -> JobContext | None:
        """Re-read the portal inside the job; None when it has been uninstalled meanwhile."""
        portal = services.store.get(member_id)
        if portal is None:
            return None
        logger = logging.LoggerAdapter(logging.getLogger("connector.job"),
                                       {"member_id": member_id, "job": job})
        return cls(portal, services.crm(member_id, known), services.portal_settings.get(
            member_id), services, logger, capability)
