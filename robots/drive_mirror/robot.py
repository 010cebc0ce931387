"""The Google Drive mirror, declared: new and changed deals, new activities, the file jobs,
the backfill and the connection commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from connector.capability import (
    Capability,
    CardAction,
    CardSection,
    Command,
    Event,
    Subscription,
    Task,
)
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import Permanent
from connector.i18n import N_
from connector.settings_schema import in_pipelines
from robots.drive_mirror import config, connection, files_state
from robots.drive_mirror.mirror import (
    Source,
    activity_sources,
    drive_folder_of,
    mirror_file,
    scan_deal,
    scan_queries,
)
from robots.drive_mirror.panels import PANELS, attention

NAME = "drive_mirror"
FILE_TASK = "file"
DEAL_TASK = "deal"


def _in_pipeline(ctx: JobContext, category: str) -> bool:
    return in_pipelines(ctx.settings[NAME]["category_ids"], category)


def _enqueue(ctx: JobContext, deal_id: int, sources: list[Source]) -> int:
    files_state.queued(ctx, deal_id, sources)
    return sum(ctx.enqueue(FILE_TASK, {"deal_id": deal_id, "source": src.as_arg()}, src.key,
                           deal_id, queue="files", until_started=True) for src in sources)


def mirror_deal(ctx: JobContext, deal_id: int, reading: crm.Reading | None = None,
                disk: bool = True) -> dict[str, Any]:
    """Queue a copy of every file of the deal (each file is its own idempotent job)."""
    deal, sources = scan_deal(ctx, deal_id, reading, disk)
    if deal is None:
        return {"skipped": f"deal {deal_id} not found"}
    if not _in_pipeline(ctx, deal.category):
        return {"skipped": "pipeline not mirrored"}
    return {"files": len(sources), "queued": _enqueue(ctx, deal_id, sources)}


def wants_deal(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings[NAME]["enabled"])


def on_deal_change(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    return mirror_deal(ctx, event.ref.id, reading, disk=event.name != "deal.created")


def wants_activity(ctx: JobContext, event: Event) -> bool:
    cfg = ctx.settings[NAME]
    return bool(cfg["enabled"] and cfg["activities"])


def on_activity_add(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    try:
        act = reading.get("activity")
    except crm.NotFound:
        return {"skipped": "activity gone"}
    if act["owner_type"] != 2:
        return {"skipped": "not a deal's activity"}
    try:
        deal = ctx.crm.item(crm.ItemRef("deal", act["owner_id"]))
    except crm.NotFound:
        return {"skipped": "deal gone"}
    if not _in_pipeline(ctx, deal.category):
        return {"skipped": "pipeline not mirrored"}
    return {"queued": _enqueue(ctx, deal.ref.id, activity_sources([act]))}


def run_file(ctx: JobContext, arg: dict[str, Any]) -> Any:
    from connector.gdrive.errors import GoogleAccessRevoked

    deal_id, source = int(arg["deal_id"]), Source(**arg["source"])
    try:
        result = mirror_file(ctx, deal_id, source)
    except Exception as exc:
        if isinstance(exc, GoogleAccessRevoked):
            connection.mark_revoked(ctx.services, ctx.tenant, str(exc))
        if isinstance(exc, Permanent) or ctx.final_attempt:  # no retry follows: say why
            files_state.failed(ctx, deal_id, source, exc)
        raise
    files_state.finished(ctx, deal_id, source, result)
    return result


def run_deal(ctx: JobContext, arg: dict[str, Any]) -> Any:
    return mirror_deal(ctx, int(arg["deal_id"]))


def card_facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    return {"drive_folder": drive_folder_of(ctx, deal_id), "enabled": ctx.settings[NAME]["enabled"],
            "google": connection.status(ctx.services, ctx.tenant).get("status", ""),
            "files": files_state.summary(ctx, deal_id)}


def mirror_now(ctx: JobContext, deal_id: int) -> str:
    """The deal's files queued again now (the deal tab's button): unchanged files cost nothing."""
    return ctx.enqueue_job(DEAL_TASK, {"deal_id": deal_id}, "now", deal_id)


CARD_ACTIONS = (CardAction("mirror", N_("Mirror to Drive now"), mirror_now,
                           lambda facts: facts["google"] == "connected"),)


# CLI ----------------------------------------------------------------------------------------
def _configure_cli(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["status", "connect-url", "service-account", "backfill",
                                      "mirror-deal"])
    p.add_argument("member_id")
    p.add_argument("value", nargs="?", help="key file (service-account) or deal id")
    p.add_argument("--restart", action="store_true", help="backfill from the first deal")


def cli(services: Any, args: argparse.Namespace) -> int:
    """The Google Drive mirror: connection, backfill of existing deals, one deal now."""
    ctx = JobContext.load(services, args.member_id, "cli:drive", NAME)
    if ctx is None:
        print(f"unknown portal {args.member_id}", file=sys.stderr)
        return 2
    if args.action == "status":
        print(json.dumps(connection.status(services, args.member_id), indent=2))
        return 0
    if args.action == "connect-url":
        token = connection.connect_token(services, args.member_id)
        print(f"{services.settings.public_base_url}/google/connect?t={token}  (valid 15 minutes)")
        return 0
    if args.action == "service-account":
        if not args.value:
            print("give the path of the service account's JSON key", file=sys.stderr)
            return 2
        with open(args.value, encoding="utf-8") as fh:
            info = json.load(fh)
        if info.get("type") != "service_account" or "private_key" not in info:
            print("not a service account key (type/private_key missing)", file=sys.stderr)
            return 2
        connection.save(services, args.member_id, "service_account", info,
                        info.get("client_email", ""))
        print(f"stored service account {info.get('client_email')}; set drive_mirror."
              "shared_drive_id: service accounts have no My Drive storage")
        return 0
    if args.action == "mirror-deal":
        deal_id = int(args.value or 0)
        ctx.enqueue(DEAL_TASK, {"deal_id": deal_id}, deal_id, time.time())
        print(f"queued deal {deal_id}")
        return 0
    return _backfill(ctx, args)


def _backfill(ctx: JobContext, args: argparse.Namespace) -> int:
    """Queue every existing deal, resumably: the last queued deal id is kept in Redis."""
    cursor_key = ctx.key("backfill")
    generation_key = f"{cursor_key}:generation"
    redis = ctx.redis
    if args.restart:  # a new generation of job ids, so deals queued before go again
        redis.delete(cursor_key)
        redis.incr(generation_key)
    generation = int(redis.get(generation_key) or 0)
    start = int(redis.get(cursor_key) or 0)
    queued = 0
    for deal_id in ctx.crm.item_ids("deal", after=start):
        queued += ctx.enqueue(DEAL_TASK, {"deal_id": deal_id}, "backfill", deal_id, generation)
        redis.set(cursor_key, deal_id)
        if queued and queued % 500 == 0:
            print(f"queued {queued} deals (last id {deal_id})", flush=True)
    print(f"backfill queued {queued} deals; resume point: deal {int(redis.get(cursor_key) or 0)}"
          " (run again to continue, --restart to start over)")
    return 0


CAPABILITY = Capability(
    name=NAME,
    legacy_keyspace="gdrive",
    title=N_("Google Drive mirror"),
    settings=config.SCHEMAS,
    subscriptions=(
        Subscription("deal.created", "scan", on_deal_change, wants_deal, scan_queries),
        Subscription("deal.updated", "scan", on_deal_change, wants_deal, scan_queries),
        Subscription("activity.created", "attachments", on_activity_add, wants_activity,
                     lambda ctx, event: {"activity": crm.GetActivity(event.ref.id)}),
    ),
    tasks=(Task(FILE_TASK, run_file, queue="files", title=N_("Copy a file to Google Drive")),
           Task(DEAL_TASK, run_deal, title=N_("Look for a deal's files to copy"))),
    card_sections=(CardSection("drive", N_("Google Drive"), card_facts,
                               "sections/drive_mirror.html", CARD_ACTIONS),),
    panels=PANELS,
    provides={f"attention:{NAME}": attention},
    cli=(Command("drive", "Google Drive mirror: status, connect, backfill", _configure_cli, cli),),
    scopes=frozenset({"crm", "disk"}),
)
