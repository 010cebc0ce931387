"""The core's own panels: the overview every user sees and the operations page."""

from __future__ import annotations

from typing import Any

from admin import audit
from connector import queue as q
from connector.bitrix import offline
from connector.capability import AdminView, Outcome, Panel
from connector.i18n import N_


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


OVERVIEW_PANELS = (
    Panel("robots", N_("Robots for automation rules"), overview, "panels/overview.html",
          actions={"reconcile": reconcile}),
)
OPERATIONS_PANELS: tuple[Panel, ...] = ()
# the General page: who changed which setting, when (engineer A: admin.audit)
GENERAL_PANELS = (
    Panel("settings_audit", N_("Changes to the settings"), audit.trail,
          "admin/settings_audit.html"),
)
