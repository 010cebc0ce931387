"""Triggers of the Drive mirror: new and changed deals, new activities; the backfill."""

from __future__ import annotations

from typing import Any

from connector.context import JobContext
from robots.deal_workspace.config import wants
from robots.drive_mirror.mirror import Source, activity_sources, scan_deal

FILE_TASK = "drive_mirror_file"


def _enqueue(ctx: JobContext, deal_id: int, sources: list[Source]) -> int:
    from connector.queue import FILES, job_id

    made = 0
    for src in sources:
        jid = job_id("gdrive", ctx.member_id, src.key, deal_id)
        res = ctx.services.queues.enqueue(
            "connector.jobs.run_maintenance", [FILE_TASK, ctx.member_id,
                                               {"deal_id": deal_id, "source": src.as_arg()}],
            jid, queue=FILES, member_id=ctx.member_id, until_started=True)
        made += res.created
    return made


def mirror_deal(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    """Queue a copy of every file of the deal (each file is its own idempotent job)."""
    cfg = ctx.settings["drive_mirror"]
    deal, sources = scan_deal(ctx, deal_id)
    if deal is None:
        return {"skipped": f"deal {deal_id} not found"}
    if not wants(cfg, deal.get("CATEGORY_ID")):
        return {"skipped": "pipeline not mirrored"}
    return {"files": len(sources), "queued": _enqueue(ctx, deal_id, sources)}


def on_deal_change(ctx: JobContext, deal_id: int, data: dict[str, Any]) -> None:
    if ctx.settings["drive_mirror"]["enabled"]:
        mirror_deal(ctx, deal_id)


def on_activity_add(ctx: JobContext, activity_id: int, data: dict[str, Any]) -> None:
    cfg = ctx.settings["drive_mirror"]
    if not cfg["enabled"] or not cfg["activities"]:
        return
    got = ctx.rest.batch({
        "act": ("crm.activity.get", {"id": activity_id}),
        "deal": ("crm.deal.get", {"id": "$result[act][OWNER_ID]"}),
    })
    act = got.result.get("act") or {}
    if str(act.get("OWNER_TYPE_ID")) != "2" or "deal" in got.errors:
        return
    deal = got.result["deal"]
    if wants(cfg, deal.get("CATEGORY_ID")):
        _enqueue(ctx, int(deal["ID"]), activity_sources([act]))
