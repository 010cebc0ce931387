"""The worker's entry points. Arguments are JSON-able primitives; state is re-read here.

An event delivery is fanned out: the delivery job journals the event, asks each
subscriber of the capability registry whether it concerns it (settings only), reads once
what all of them need, keeps those answers for a while, and queues one job per subscriber
with its own deterministic id, retries and failed-registry entry. A permanent error in one
subscriber never touches another's retries; a retry re-runs only the one that failed, and
reads afresh.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from rq import get_current_job

from connector import queue as q
from connector.bitrix import events as bitrix_events
from connector.bitrix.events import NEUTRAL
from connector.capability import Event
from connector.context import JobContext
from connector.crm.port import AMOCRM, BITRIX24, ItemRef, NotFound, crm_of
from connector.errors import Permanent
from connector.history import EVENT_WORDS, event_identity
from connector.journal import record
from connector.services import Services, worker_services
from connector.triggers import run_robot

log = logging.getLogger("connector.jobs")
SNAPSHOT_TTL_S = 900
SKIPPED = {"skipped": "portal not active"}


def _first_attempt() -> bool:
    job = get_current_job()
    if job is None:
        return True
    intervals = job.retry_intervals or []
    return job.retries_left is None or job.retries_left >= len(intervals)


def _final_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _started(services: Services) -> None:
    job = get_current_job()
    if job is not None:
        services.queues.started(job)


def _snapshot_key(services: Services, delivery: str) -> str:
    return f"{services.settings.queue_prefix}:delivery:{delivery}"


# inbound ---------------------------------------------------------------------------------
def run_inbound(kind: str, name: str, member_id: str, payload: dict[str, Any]) -> Any:
    """One robot call, or one event delivery (fanned out to its subscribers)."""
    services = worker_services()
    _started(services)
    ctx = JobContext.load(services, member_id, f"{kind}:{name}")
    if ctx is None or ctx.portal.status == "uninstalled":
        log.info("dropping %s %s: portal %s is not installed", kind, name, member_id)
        return {"dropped": "portal not installed"}
    ctx.final_attempt = _final_attempt()
    if kind == "event":
        return deliver(ctx, name, payload)
    if kind == "robot":
        if payload.get("expect") and not _still_there(ctx, payload):
            return {"dropped": "the lead is no longer where the pipeline action named"}
        owner = next((c.name for c in services.registry.capabilities
                      if any(t.code == name for t in c.triggers)), "")
        return run_robot(ctx.of(owner), services.registry.triggers, payload)
    raise ValueError(f"unknown inbound kind {kind!r}")


def events_of(member_id: str) -> Any:
    """The module naming a tenant's CRM events neutrally (NEUTRAL, ref_of)."""
    if crm_of(member_id) == AMOCRM:
        from connector.amocrm import events as amocrm_events

        return amocrm_events
    return bitrix_events


def _still_there(ctx: JobContext, payload: dict[str, Any]) -> bool:
    """An amoCRM pipeline action's body is not signed (amocrm.md §3.1): act only if the
    lead, read again through the API, sits in the status and pipeline the body named."""
    from connector.triggers import call_from_payload

    expect = payload["expect"]
    try:
        item = ctx.crm.item(call_from_payload(payload).ref)
    except NotFound:  # deleted meanwhile: nothing to act on
        return False
    return (str(expect.get("status_id", item.stage)) == item.stage
            and str(expect.get("pipeline_id", item.category)) == item.category)


def deliver(ctx: JobContext, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    events = events_of(ctx.member_id)
    neutral = events.NEUTRAL.get(name)
    if neutral is None:
        return {"ignored": name}
    data = payload.get("data") or {}
    ref = events.ref_of(name, data)
    services = ctx.services
    job = get_current_job()
    delivery = job.id if job is not None else q.job_id("delivery", ctx.member_id, name,
                                                         ref.label, time.time())
    event = Event(neutral, ref, data, delivery)
    chosen = []
    queries: dict[str, Any] = {}
    for cap, sub in services.registry.subscribers.get(neutral, []):
        view = ctx.of(cap.name)
        if not sub.wants(view, event):
            continue
        chosen.append((cap, sub))
        for key, query in sub.reads(view, event).items():
            queries[f"{cap.name}.{sub.name}.{key}"] = query
    record(services, ctx.member_id, name, ref.id, len(chosen))
    if neutral in EVENT_WORDS:  # once per event, however often the portal delivers it
        ctx.remember(ref, EVENT_WORDS[neutral],
                     identity=event_identity(neutral, payload.get("ts")))
    if queries:
        try:
            ctx.crm.read(queries)
            services.redis.set(_snapshot_key(services, delivery), json.dumps(ctx.crm.seen),
                               ex=SNAPSHOT_TTL_S)
        except Permanent as exc:  # each subscriber reads (and fails) on its own
            log.warning("shared read for %s %s failed: %s", name, ref.label, exc)
    made: dict[str, str] = {}  # "capability.subscription" -> the job queued for it now
    for cap, sub in sorted(chosen, key=lambda pair: bool(pair[1].after)):
        args = [cap.name, sub.name, ctx.member_id, {
            "event": neutral, "kind": ref.kind, "id": ref.id, "data": data,
            "delivery": delivery}]
        res = services.queues.enqueue(
            "connector.jobs.run_subscriber", args,
            q.job_id("sub", ctx.member_id, delivery, cap.name, sub.name),
            member_id=ctx.member_id, after=[made[n] for n in sub.after if n in made],
            dedup_ttl_s=services.queues.fanout_dedup_ttl_s)
        if res.created:
            made[f"{cap.name}.{sub.name}"] = res.job_id
    return {"handled": name, "subscribers": list(made)}


def run_subscriber(capability: str, subscription: str, member_id: str,
                   payload: dict[str, Any]) -> Any:
    """One capability's handling of one event delivery."""
    services = worker_services()
    sub = services.registry.subscription(capability, subscription)
    if sub is None:
        log.warning("no subscriber %s.%s in this process", capability, subscription)
        return {"ignored": f"{capability}.{subscription}"}
    known = None
    if _first_attempt():
        raw = services.redis.get(_snapshot_key(services, payload["delivery"]))
        known = json.loads(raw) if raw else None
    ctx = JobContext.load(services, member_id, f"{capability}.{subscription}", capability,
                          known)
    if ctx is None or ctx.portal.status != "active":
        return SKIPPED
    ctx.final_attempt = _final_attempt()
    event = Event(payload["event"], ItemRef(payload["kind"], int(payload["id"])),
                  payload.get("data") or {}, payload["delivery"])
    reading = ctx.crm.read(sub.reads(ctx, event))
    result = sub.handle(ctx, event, reading)
    return result if isinstance(result, dict) else {"handled": f"{capability}.{subscription}"}


# a job a page follows ---------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """Where a queued job is, as a page tells it: waiting, running, done or failed (why)."""

    state: str  # waiting | running | done | failed | gone
    error: str = ""  # a failed job's exception message, without its class name

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed", "gone")


RQ_STATES = {"queued": "waiting", "deferred": "waiting", "scheduled": "waiting",
             "started": "running", "finished": "done", "failed": "failed",
             "stopped": "failed", "canceled": "failed"}


def progress(services: Services, jid: str, member_id: str) -> Progress:
    """The job `jid` of this portal (another portal's job is "gone" to it). A job that ended
    with {"error": text} (a task that says why it could not do its work, e.g. a document
    the deal's data cannot make) is "failed" with that text, for the page to show."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from connector.queue import job_view

    try:
        job = Job.fetch(jid, connection=services.redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return Progress("gone")
    if (job.meta or {}).get("member_id") != member_id:
        return Progress("gone")
    state = RQ_STATES.get(services.queues.status(jid) or "", "waiting")
    if state == "done":  # a task that could not do its work says why: {"error": text}
        result = job.return_value()
        said = result.get("error") if isinstance(result, dict) else None
        return Progress("failed", said) if isinstance(said, str) and said else Progress(state)
    if state != "failed":
        return Progress(state)
    last = job_view(job).error  # the exception's last line, as the failed list shows it
    head, sep, message = last.partition(": ")
    return Progress("failed", message if sep and " " not in head else last)


# per-portal tasks ------------------------------------------------------------------------
def run_maintenance(task: str, member_id: str, arg: Any = None) -> Any:
    """Per-portal work that is not an inbound event: housekeeping, file transfers."""
    services = worker_services()
    _started(services)
    return run_task(services, task, member_id, arg)


# names jobs queued by versions before the capability manifest still carry
RENAMED_TASKS = {"drive_mirror_file": "drive_mirror.file", "drive_mirror_deal": "drive_mirror.deal",
                 "distribution_recheck": "distribution.recheck",
                 "distribution_reconcile": "distribution.reconcile"}


def run_task(services: Services, task: str, member_id: str, arg: Any = None) -> Any:
    """A core task (services.tasks) or a capability's task or periodic task, by name."""
    task = RENAMED_TASKS.get(task, task)
    if task in services.tasks:
        fn = services.tasks[task]
        return fn(services, member_id) if arg is None else fn(services, member_id, arg)
    registry = services.registry
    found = registry.tasks.get(task) or registry.periodic.get(task)
    if found is None:
        raise Permanent(f"unknown task {task!r}")
    cap, spec = found
    ctx = JobContext.load(services, member_id, task, cap.name)
    if ctx is None or ctx.portal.status != "active":
        log.info("skipping %s: portal %s is not active", task, member_id)
        return SKIPPED
    ctx.final_attempt = _final_attempt()
    return spec.run(ctx, arg or {}) if task in registry.tasks else spec.run(ctx)


def drain_offline(services: Services, member_id: str, max_batches: int = 20) -> dict[str, Any]:
    """Turn offline-queue records into ordinary event deliveries (connector.bitrix.offline)."""
    from connector.bitrix.offline import drain

    portal = services.store.get(member_id)
    if portal is None or portal.status != "active":
        return {"skipped": "not active"}
    if crm_of(member_id) != BITRIX24:
        return {"skipped": "Bitrix24's offline queue only"}
    return drain(services.client(member_id), services.redis, services.settings.queue_prefix,
                 member_id, lambda rec: enqueue_offline(services, member_id, rec), max_batches)


def enqueue_offline(services: Services, member_id: str, rec: dict[str, Any]) -> bool:
    """One offline-queue record as an ordinary event delivery; False when not ours."""
    name = str(rec.get("EVENT_NAME", "")).upper()
    if name not in NEUTRAL:
        return False
    jid = q.job_id("offline", member_id, rec.get("ID"), rec.get("MESSAGE_ID"))
    payload = {"event": name, "data": rec.get("EVENT_DATA") or {}, "ts": rec.get("TIMESTAMP_X"),
               "auth": {"member_id": member_id}, "offline": True}
    return services.queues.enqueue("connector.jobs.run_inbound",
                                   ["event", name, member_id, payload], jid,
                                   member_id=member_id, until_started=True).created


def periodic_tasks(services: Services, doc: dict[str, Any]) -> dict[str, int | None]:
    """Every periodic task of the deployment and its interval for a portal (None: off)."""
    events = doc["events"]
    tasks: dict[str, int | None] = {
        "drain_offline": events["drain_every_s"] if events["offline_backup"] else None}
    for name, (_cap, per) in services.registry.periodic.items():
        every = per.every(doc)
        tasks[name] = int(every) if every else None
    return tasks


def ensure_periodic(services: Services, member_id: str) -> dict[str, str]:
    """Make the portal's periodic chains match its settings (install, settings saved, sweep).

    Each (portal, task) is a chain of scheduled slot jobs (connector.periodic): nothing
    walks the portals to find what is due.
    """
    from connector import periodic

    portal = services.store.get(member_id)
    tasks = periodic_tasks(services, services.portal_settings.get(member_id))
    if portal is None or portal.status != "active":
        tasks = dict.fromkeys(tasks)
    return periodic.ensure(services.queues, member_id, tasks, "connector.jobs.run_maintenance")


def sweep_periodic() -> dict[str, int]:
    """The safety sweep (one worker of the deployment, every 10 minutes): repair chains."""
    services = worker_services()
    started = 0
    portals = 0
    for portal in services.store.all():
        portals += 1
        started += sum(v == "started" for v in ensure_periodic(services, portal.member_id)
                       .values())
    return {"portals": portals, "started": started}


def maybe_sweep(services: Services, now: float | None = None) -> bool:
    """Queue the sweep if this process won this 10-minute slot of the deployment."""
    from connector import periodic

    now = time.time() if now is None else now
    if not periodic.claim_sweep(services.redis, services.settings.queue_prefix, now=now):
        return False
    return services.queues.enqueue("connector.jobs.sweep_periodic", [],
                                   q.job_id("sweep", "all", int(now // periodic.SWEEP_EVERY_S)),
                                   queue=q.MAINTENANCE).created
