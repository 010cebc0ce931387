"""The worker's entry points. Arguments are JSON-able primitives; state is re-read here."""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import get_current_job

from connector import queue as q
from connector.context import JobContext
from connector.services import Services, worker_services

log = logging.getLogger("connector.jobs")


def _final_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _started(services: Services) -> None:
    job = get_current_job()
    if job is not None:
        services.queues.started(job)


def run_inbound(kind: str, name: str, member_id: str, payload: dict[str, Any]) -> Any:
    """Run one event handler or robot for one portal."""
    services = worker_services()
    _started(services)
    ctx = JobContext.load(services, member_id, f"{kind}:{name}")
    if ctx is None or ctx.portal.status == "uninstalled":
        log.info("dropping %s %s: portal %s is not installed", kind, name, member_id)
        return {"dropped": "portal not installed"}
    ctx.final_attempt = _final_attempt()
    if kind == "event":
        from handlers import EVENTS

        handler = EVENTS.get(name)
        if handler is None:
            return {"ignored": name}
        handler(ctx, payload.get("data") or {})
        return {"handled": name}
    if kind == "robot":
        from robots.runner import run_robot

        return run_robot(ctx, payload)
    raise ValueError(f"unknown inbound kind {kind!r}")


def run_maintenance(task: str, member_id: str, arg: Any = None) -> Any:
    """Per-portal work that is not an inbound event: housekeeping, file transfers."""
    services = worker_services()
    _started(services)
    if arg is None:
        return MAINTENANCE[task](services, member_id)
    return MAINTENANCE[task](services, member_id, arg)


def reconcile_portal(services: Services, member_id: str) -> dict[str, Any]:
    from install.registrations import reconcile

    portal = services.store.get(member_id)
    if portal is None or portal.status == "uninstalled":
        return {"skipped": "not installed"}
    doc = services.portal_settings.get(member_id)
    outcome = reconcile(services.client(member_id), services.settings.public_base_url,
                        portal.user_id, doc["events"]["offline_backup"])
    return {"applied": outcome.applied, "errors": outcome.errors}


def drain_offline(services: Services, member_id: str, max_batches: int = 20) -> dict[str, Any]:
    """Turn offline-queue records into ordinary event jobs, then clear them.

    clear=0 reserves the records under a process_id; they are cleared only after every one of
    them is safely queued, so a crash in between means they are read again, never lost.
    """
    from handlers import EVENTS

    portal = services.store.get(member_id)
    if portal is None or portal.status != "active":
        return {"skipped": "not active"}
    client = services.client(member_id)
    reserved_key = f"{services.settings.queue_prefix}:offline-process:{member_id}"
    queued = 0
    for _ in range(max_batches):
        unfinished = services.redis.get(reserved_key)
        params: dict[str, Any] = {"clear": 0, "limit": 50}
        if unfinished:  # a run that died between reading and clearing: finish its batch
            params["process_id"] = unfinished.decode()
        res = client.call("event.offline.get", params)
        events = (res or {}).get("events") or []
        process_id = (res or {}).get("process_id")
        if not events:
            if unfinished:
                services.redis.delete(reserved_key)
                continue
            break
        services.redis.set(reserved_key, str(process_id), ex=30 * 24 * 3600)
        for record in events:
            name = str(record.get("EVENT_NAME", "")).upper()
            if name not in EVENTS:
                continue
            data = record.get("EVENT_DATA") or {}
            jid = q.job_id("offline", member_id, record.get("ID"), record.get("MESSAGE_ID"))
            payload = {"event": name, "data": data, "ts": record.get("TIMESTAMP_X"),
                       "auth": {"member_id": member_id}, "offline": True}
            if services.queues.enqueue("connector.jobs.run_inbound",
                                       ["event", name, member_id, payload], jid,
                                       member_id=member_id, until_started=True).created:
                queued += 1
        client.call("event.offline.clear", {"process_id": process_id})
        services.redis.delete(reserved_key)
        if len(events) < 50 and not unfinished:
            break
    return {"queued": queued}


def _active(services: Services, member_id: str, job: str) -> JobContext | None:
    """The job's context, or None when the portal is gone or not usable (work is dropped)."""
    ctx = JobContext.load(services, member_id, job)
    if ctx is None or ctx.portal.status != "active":
        log.info("skipping %s: portal %s is not active", job, member_id)
        return None
    return ctx


SKIPPED = {"skipped": "portal not active"}


def distribution_recheck(services: Services, member_id: str) -> dict[str, Any]:
    from robots.distribution.robot import recheck

    ctx = _active(services, member_id, "distribution:recheck")
    return recheck(ctx) if ctx else SKIPPED


def distribution_reconcile(services: Services, member_id: str) -> dict[str, Any]:
    from robots.distribution.robot import reconcile_counters

    ctx = _active(services, member_id, "distribution:reconcile")
    return reconcile_counters(ctx) if ctx else SKIPPED


def drive_mirror_file(services: Services, member_id: str, arg: dict[str, Any]) -> Any:
    from robots.drive_mirror import connection
    from robots.drive_mirror.mirror import Source, mirror_file

    ctx = _active(services, member_id, "drive:file")
    if ctx is None:
        return SKIPPED
    try:
        return mirror_file(ctx, int(arg["deal_id"]), Source(**arg["source"]))
    except Exception as exc:
        from connector.gdrive.errors import GoogleAccessRevoked

        if isinstance(exc, GoogleAccessRevoked):
            connection.mark_revoked(services, member_id, str(exc))
        raise


def drive_mirror_deal(services: Services, member_id: str, arg: dict[str, Any]) -> Any:
    from robots.drive_mirror.robot import mirror_deal

    ctx = _active(services, member_id, "drive:deal")
    return mirror_deal(ctx, int(arg["deal_id"])) if ctx else SKIPPED


def purge_portal(services: Services, member_id: str, clean: bool) -> dict[str, Any]:
    from install.cleanup import purge_portal as purge

    return purge(services, member_id, bool(clean))


MAINTENANCE = {
    "purge_portal": purge_portal,
    "drive_mirror_file": drive_mirror_file,
    "drive_mirror_deal": drive_mirror_deal,
    "reconcile": reconcile_portal,
    "drain_offline": drain_offline,
    "distribution_recheck": distribution_recheck,
    "distribution_reconcile": distribution_reconcile,
}


def periodic_tasks(doc: dict[str, Any]) -> list[tuple[str, int]]:
    """(task, every seconds) due for a portal with these settings."""
    tasks = []
    if doc["events"]["offline_backup"]:
        tasks.append(("drain_offline", doc["events"]["drain_every_s"]))
    if doc["distribution"]["groups"]:
        tasks.append(("distribution_recheck", 60))
        tasks.append(("distribution_reconcile", doc["distribution"]["reconcile_minutes"] * 60))
    return tasks


def tick(services: Services, now: float | None = None) -> int:
    """Enqueue the periodic jobs that are due; ids are per time slot, so many tickers agree."""
    now = time.time() if now is None else now
    enqueued = 0
    for portal in services.store.all():
        if portal.status != "active":
            continue
        for task, every in periodic_tasks(services.portal_settings.get(portal.member_id)):
            jid = q.job_id(task, portal.member_id, int(now // every))
            if services.queues.enqueue("connector.jobs.run_maintenance", [task, portal.member_id],
                                       jid, queue=q.MAINTENANCE,
                                       member_id=portal.member_id).created:
                enqueued += 1
    return enqueued
