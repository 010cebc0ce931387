"""The Google Drive mirror's admin panel: the connection (connect, disconnect), the folder in
use, and the files mirrored, waiting and parked with their reason, with a requeue of parked
files.

Read from the app's own state only (the connection record, the file records, this portal's
queued and failed file jobs): the page never waits for Google or the CRM.
"""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.failures import reason
from connector.i18n import N_, language, t
from connector.queue import JobView
from robots.drive_mirror import connection
from robots.drive_mirror.mirror import on_drive_count

FILE_TASK = "drive_mirror.file"  # the capability's file task, as run_maintenance names it
SHOWN = 50


def _lang(ctx: JobContext, view: AdminView) -> str:
    return language(view.values.get("LANG") or ctx.lang)


def _file_jobs(jobs: list[JobView]) -> list[JobView]:
    return [j for j in jobs if j.args and j.args[0] == FILE_TASK]


def _file(job: JobView) -> dict[str, Any]:
    """Which file of which deal a file job copies (its argument)."""
    arg = job.args[2] if len(job.args) > 2 and isinstance(job.args[2], dict) else {}
    source = arg.get("source") or {}
    return {"id": job.id, "deal_id": arg.get("deal_id", ""),
            "name": source.get("name") or source.get("key", ""), "at": job.at}


def parked(ctx: JobContext) -> list[JobView]:
    return _file_jobs(ctx.services.queues.failed_of(ctx.member_id))


def drive_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = _lang(ctx, view)
    svc = ctx.services
    cfg = ctx.settings["drive_mirror"]
    token = connection.connect_token(svc, ctx.member_id, user_id=str(view.user_id))
    waiting = _file_jobs(svc.queues.waiting_of(ctx.member_id))
    failed = parked(ctx)
    stuck = []
    for job in failed[:SHOWN]:
        why = reason(job.error)
        stuck.append({**_file(job), "words": t(lang, why.words), "detail": why.detail})
    return {"google": connection.status(svc, ctx.tenant), "enabled": cfg["enabled"],
            "connect_url": f"{svc.settings.public_base_url}/google/connect?t={token}",
            "root": cfg["root_folder_id"], "shared_drive": cfg["shared_drive_id"],
            "mirrored": on_drive_count(ctx), "waiting": len(waiting),
            "waiting_files": [_file(j) for j in waiting[:SHOWN]],
            "parked": stuck, "parked_count": len(failed)}


def disconnect(ctx: JobContext, view: AdminView) -> Outcome:
    if not connection.disconnect(ctx.services, ctx.tenant):
        return Outcome(False, N_("Google Drive was not connected."))
    ctx.log.info("Google Drive disconnected by user %s", view.user_id)
    return Outcome(True, N_("Google Drive is disconnected. The files already copied stay "
                            "on Drive."))


def requeue(ctx: JobContext, view: AdminView) -> Outcome:
    """Copy the parked files again: one (`job`) or all of this portal's."""
    moved = ctx.services.queues.requeue_among([j.id for j in parked(ctx)],
                                              view.values.get("job", ""))
    if not moved:
        return Outcome(False, N_("There was no parked file to copy again."))
    return Outcome(True, N_("Files to copy again: {count}. They are copied in a moment."),
                   {"count": moved})


def attention(ctx: JobContext) -> list[dict[str, Any]]:
    """For the overview's list: Google refused or missing while mirroring is on; parked files."""
    out: list[dict[str, Any]] = []
    status = connection.status(ctx.services, ctx.tenant)["status"]
    if status == "needs_reconnect":
        out.append({"rank": 30, "msgid": N_("Google refused the app's access: connect the "
                                            "Google account again.")})
    elif status == "not_connected" and ctx.settings["drive_mirror"]["enabled"]:
        out.append({"rank": 30, "msgid": N_("Mirroring to Google Drive is on, but no Google "
                                            "account is connected.")})
    if count := len(parked(ctx)):
        out.append({"rank": 40, "msgid": N_("Files that could not be copied to Google Drive: "
                                            "{count}."), "params": {"count": count}})
    return out


PANELS = (
    Panel("google", N_("Google Drive"), drive_facts, "panels/drive_mirror.html",
          actions={"disconnect": disconnect, "requeue": requeue}),
)
