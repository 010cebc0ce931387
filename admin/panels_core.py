"""The core's own panels: the overview every user sees and the operations page."""

from __future__ import annotations

import time
from typing import Any

from admin import audit
from admin.attention import Snapshot, attention, notes_from
from connector import queue as q
from connector.bitrix import offline
from connector.bitrix.ratelimit import ENTERPRISE, plan_for
from connector.capability import AdminView, Outcome, Panel
from connector.failures import reason
from connector.i18n import N_, language, t
from connector.journal import entries


def _mode(ctx: Any) -> str:
    """The drain mode the portal's plan allows, as the drain cached it; "" = not known yet."""
    svc = ctx.services
    raw = svc.redis.get(offline.mode_key(svc.settings.queue_prefix, ctx.member_id))
    value = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    return value if value in ("reserve", "clear") else ""


def overview(ctx: Any, view: AdminView) -> dict[str, Any]:
    return {"robots": list(ctx.services.registry.triggers.values()),
            "offline_mode": _mode(ctx), "offline_page": offline.PAGE,
            "offline_feature": offline.FEATURE}


def reconcile(ctx: Any, view: AdminView) -> Outcome:
    """"Check registrations again": one queued job (the page never waits for the portal)."""
    ctx.services.queues.enqueue(
        "connector.jobs.run_maintenance", ["reconcile", ctx.member_id],
        q.job_id("reconcile", ctx.member_id, "app-page"), queue=q.MAINTENANCE,
        member_id=ctx.member_id, until_started=True)
    return Outcome(True, N_("Registrations will be checked again in a moment; whatever is "
                            "missing is added."))


# operations ---------------------------------------------------------------------------------
FAILED_SHOWN = 100


def _lang(ctx: Any, view: AdminView) -> str:
    return language(view.values.get("LANG") or ctx.lang)


def job_words(registry: Any, lang: str, job: q.JobView) -> str:
    """What a job was doing, from its function and arguments (no capability named here)."""
    args = list(job.args)
    func = job.func.rsplit(".", 1)[-1]
    if func == "run_inbound" and len(args) > 1:
        what = N_("Robot {name}") if args[0] == "robot" else N_("Event {name}")
        return t(lang, what, name=args[1])
    if func == "run_subscriber" and len(args) > 3:
        cap = registry.by_name.get(args[0])
        payload = args[3] if isinstance(args[3], dict) else {}
        return t(lang, N_("{capability}: {event} of {kind} {id}"),
                 capability=t(lang, cap.title) if cap else args[0],
                 event=payload.get("event", args[1]), kind=payload.get("kind", ""),
                 id=payload.get("id", ""))
    if func == "run_maintenance" and args:
        name, _, task = str(args[0]).partition(".")
        cap = registry.by_name.get(name)
        arg = args[2] if len(args) > 2 and isinstance(args[2], dict) else {}
        deal = t(lang, N_(", deal {id}"), id=arg["deal_id"]) if arg.get("deal_id") else ""
        if cap:
            found = registry.tasks.get(args[0]) or registry.periodic.get(args[0])
            title = found[1].title if found else ""
            return f"{t(lang, cap.title)}: {t(lang, title) if title else task}{deal}"
        return t(lang, N_("Maintenance: {task}"), task=args[0])
    return job.func


def failed_facts(ctx: Any, view: AdminView) -> dict[str, Any]:
    lang = _lang(ctx, view)
    jobs = ctx.services.queues.failed_of(ctx.member_id)
    rows = []
    for job in jobs[:FAILED_SHOWN]:
        why = reason(job.error)
        rows.append({"id": job.id, "what": job_words(ctx.services.registry, lang, job),
                     "at": job.at, "words": t(lang, why.words), "detail": why.detail})
    return {"jobs": rows, "count": len(jobs), "most": FAILED_SHOWN}


def requeue(ctx: Any, view: AdminView) -> Outcome:
    """Run a dead letter of this portal again: one (`job`), or all when none is named."""
    mine = [j.id for j in ctx.services.queues.failed_of(ctx.member_id)]
    moved = ctx.services.queues.requeue_among(mine, view.values.get("job", ""))
    if not moved:
        return Outcome(False, N_("There was no failed job to requeue."))
    return Outcome(True, N_("Jobs queued again: {count}. They run in a moment."),
                   {"count": moved})


def missing_scopes(ctx: Any) -> tuple[str, ...]:
    """Scopes the capabilities declare and the portal did not grant (as reconcile reports)."""
    granted = {s.strip() for s in (ctx.portal.scope or "").split(",") if s.strip()}
    return tuple(sorted(ctx.services.registry.scopes() - granted)) if granted else ()


def _bucket_level(ctx: Any, drain: float) -> float:
    """The shared rate limit's fill now: the stored level drained since its last request."""
    raw = ctx.redis.hmget(ctx.services.bucket.key(ctx.member_id), "level", "ts")
    level, ts = float(raw[0] or 0), float(raw[1] or 0)
    return max(0.0, level - max(0.0, time.time() - ts) * drain) if ts else 0.0


def state_facts(ctx: Any, view: AdminView) -> dict[str, Any]:
    svc = ctx.services
    portal = ctx.portal
    tokens = svc.store.get_tokens(ctx.member_id)
    last = entries(svc, ctx.member_id, 1)
    plan = plan_for(portal.license_family)
    prefix = svc.settings.queue_prefix
    waiting = svc.queues.waiting_of(ctx.member_id)
    return {"status": portal.status, "status_reason": portal.status_reason,
            "needs_reinstall": portal.needs_reinstall, "has_tokens": tokens is not None,
            "expires_at": tokens.expires_at if tokens else 0, "last_event": last[0] if last
            else None, "waiting": sum(not j.scheduled for j in waiting),
            "scheduled": sum(j.scheduled for j in waiting),
            "depth": sum(svc.queues.depth().values()), "offline_mode": _mode(ctx),
            "offline_unconfirmed": bool(svc.redis.exists(offline.process_key(
                prefix, ctx.member_id))),
            "plan": {"family": portal.license_family, "enterprise": plan == ENTERPRISE,
                     "drain": f"{plan.drain:g}",
                     "burst": plan.threshold, "capacity": plan.capacity,
                     "used": round(_bucket_level(ctx, plan.drain))},
            "missing_scopes": missing_scopes(ctx), "installed_at": portal.installed_at}


def snapshot(ctx: Any) -> Snapshot:
    """The portal's state as attention() reads it; capabilities add their own notes."""
    notes: tuple = ()
    for name, service in ctx.services.registry.services.items():
        if name.startswith("attention:"):
            page = name.split(":", 1)[1]
            notes += notes_from(page, service(ctx.of(page)))
    return Snapshot(ctx.portal.needs_reinstall,
                    len(ctx.services.queues.failed_of(ctx.member_id)), missing_scopes(ctx),
                    notes)


def attention_facts(ctx: Any, view: AdminView) -> dict[str, Any]:
    lang = _lang(ctx, view)
    return {"items": [{"text": t(lang, n.msgid, **n.params), "page": n.page}
                      for n in attention(snapshot(ctx))]}


OVERVIEW_PANELS = (
    Panel("attention", N_("Needs your attention"), attention_facts,
          "panels/overview_attention.html", admin_only=True),
    Panel("robots", N_("Robots for automation rules"), overview, "panels/overview.html",
          actions={"reconcile": reconcile}),
)
OPERATIONS_PANELS = (
    Panel("failed", N_("Failed jobs"), failed_facts, "panels/operations_failed.html",
          actions={"requeue": requeue}),
    Panel("state", N_("The portal's state"), state_facts, "panels/operations_state.html"),
)
# the General page: who changed which setting, when (engineer A: admin.audit)
GENERAL_PANELS = (
    Panel("settings_audit", N_("Changes to the settings"), audit.trail,
          "admin/settings_audit.html"),
)
