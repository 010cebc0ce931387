"""crm-connector command line: portals, settings, dead letters, reconcile, worker.

The production CLI: it never imports the development tools (emulator, fakedrive, bench,
devstack), which are not installed; run the emulator with `python -m emulator`.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from connector.config import ConfigError, load_settings
from connector.services import Services, build_services


def _services() -> Services:
    return build_services(load_settings())


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def cmd_portals(args: argparse.Namespace) -> int:
    s = _services()
    rows = list(s.store.all())
    if args.json:
        print(json.dumps([{"member_id": p.member_id, "domain": p.domain, "status": p.status,
                           "reason": p.status_reason, "installed_at": p.installed_at}
                          for p in rows], indent=2))
        return 0
    if not rows:
        print("no portals installed")
    for p in rows:
        tokens = "tokens" if s.store.get_tokens(p.member_id) else "NO TOKENS"
        reason = f" ({p.status_reason})" if p.status_reason else ""
        print(f"{p.member_id}  {p.domain:30}  {p.status}{reason}  {tokens}  "
              f"installed {_when(p.installed_at)}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    """Show, export, import, set or describe settings; input is checked by the same schema."""
    from connector.i18n import N_, language, t
    from connector.settings_schema import SettingsInvalid, describe

    # the operator's terminal language unless --lang says otherwise; no locale reads English
    lang = args.lang or language(os.environ.get("LC_ALL") or os.environ.get("LANG") or "en")
    s = _services()
    if args.action == "describe":
        print(json.dumps(describe(s.portal_settings.schemas, lang), indent=2,
                         ensure_ascii=False))
        return 0
    if not args.member_id or not s.store.exists(args.member_id):
        print(t(lang, N_("unknown portal {member_id}"), member_id=args.member_id or "-"),
              file=sys.stderr)
        return 2
    if args.action in ("show", "export"):
        print(json.dumps(s.portal_settings.get(args.member_id), indent=2, ensure_ascii=False))
        return 0
    if args.file in (None, "-"):
        raw = sys.stdin.read()
    else:
        with open(args.file, encoding="utf-8") as fh:
            raw = fh.read()
    try:
        doc = json.loads(raw)
        if args.action == "set":  # merge one section over the current document
            if not isinstance(doc, dict):
                raise SettingsInvalid("$", N_("the settings document must be a JSON object"))
            current = s.portal_settings.get(args.member_id)
            for section, values in doc.items():
                if isinstance(values, dict) and isinstance(current.get(section), dict):
                    current[section].update(values)
                else:
                    current[section] = values
            doc = current
        s.portal_settings.put(args.member_id, doc)
    except json.JSONDecodeError as exc:
        print(t(lang, N_("not JSON: {error}"), error=exc), file=sys.stderr)
        return 2
    except SettingsInvalid as exc:
        print(t(lang, N_("refused, settings unchanged: {reason}"), reason=exc.message(lang)),
              file=sys.stderr)
        return 2
    print(t(lang, N_("saved")))
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    s = _services()
    if args.action == "requeue":
        moved = s.queues.requeue_failed(None if args.all else args.job_id)
        print(f"requeued {len(moved)}: {' '.join(moved)}")
        return 0 if moved or args.all else 1
    jobs = s.queues.failed()
    if not jobs:
        print("no failed jobs")
    for job in jobs:
        last = (job.latest_result().exc_string if job.latest_result() else "") or ""
        reason = last.strip().splitlines()[-1] if last.strip() else "?"
        print(f"{job.id}  {job.func_name}  {job.args[:2]}  {reason[:160]}")
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from connector.jobs import reconcile_portal

    print(json.dumps(reconcile_portal(_services(), args.member_id), indent=2))
    return 0


def cmd_journal(args: argparse.Namespace) -> int:
    from handlers.crm import journal_key

    s = _services()
    for raw in s.redis.lrange(journal_key(s.settings.queue_prefix, args.member_id), 0,
                              args.limit - 1):
        entry = json.loads(raw)
        print(f"{_when(entry['ts'])}  {entry['event']:20} {entry['id']}")
    return 0


def cmd_distribution(args: argparse.Namespace) -> int:
    """Dry run, audit log and pending queue of the fair distribution."""
    from connector.context import JobContext
    from robots.distribution import config
    from robots.distribution.engine import DistributionError, distribute
    from robots.distribution.entities import EntityKind
    from robots.distribution.robot import env_for

    s = _services()
    ctx = JobContext.load(s, args.member_id, "cli:distribution")
    if ctx is None:
        print(f"unknown portal {args.member_id}", file=sys.stderr)
        return 2
    env = env_for(ctx)
    if args.action == "audit":
        for row in env.state.audit_entries(args.limit, args.item):
            who = row.get("user_id") or "-"
            print(f"{_when(row['ts'])}  {row['item']:14} {row['group']:10} {row['status']:8} "
                  f"{who!s:6} {row['reason']}")
        return 0
    groups = config.groups(ctx.settings)
    if args.action == "pending":
        for g in groups:
            for entry in env.state.pending(g.id):
                print(f"{g.id:12} {entry['entity']}/{entry['id']}")
        return 0
    group = config.group_by_id(ctx.settings, args.group or (groups[0].id if groups else ""))
    if group is None:
        print(f"unknown group {args.group!r}; groups: {[g.id for g in groups]}", file=sys.stderr)
        return 2
    kind = EntityKind(group.entity_types[0])
    try:
        outcome = distribute(env, group, kind, args.item_id or 0, dry_run=True, force=True)
    except DistributionError as exc:
        print(f"cannot distribute: {exc}", file=sys.stderr)
        return 2
    who = f"user {outcome.user_id}" if outcome.user_id else "nobody"
    print(f"next {group.id} item would go to {who}: {outcome.reason}")
    return 0


def cmd_drive(args: argparse.Namespace) -> int:
    """The Google Drive mirror: connection, backfill of existing deals, one deal now."""
    from robots.drive_mirror import connection

    s = _services()
    if not s.store.exists(args.member_id):
        print(f"unknown portal {args.member_id}", file=sys.stderr)
        return 2
    if args.action == "status":
        print(json.dumps(connection.status(s, args.member_id), indent=2))
        return 0
    if args.action == "connect-url":
        token = connection.connect_token(s, args.member_id)
        print(f"{s.settings.public_base_url}/google/connect?t={token}  (valid 15 minutes)")
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
        connection.save(s, args.member_id, "service_account", info, info.get("client_email", ""))
        print(f"stored service account {info.get('client_email')}; set drive_mirror."
              "shared_drive_id: service accounts have no My Drive storage")
        return 0
    if args.action == "mirror-deal":
        from connector.queue import MAINTENANCE, job_id

        deal_id = int(args.value or 0)
        res = s.queues.enqueue("connector.jobs.run_maintenance",
                               ["drive_mirror_deal", args.member_id, {"deal_id": deal_id}],
                               job_id("gdrive-deal", args.member_id, deal_id, time.time()),
                               queue=MAINTENANCE, member_id=args.member_id)
        print(f"queued {res.job_id}")
        return 0
    return _drive_backfill(s, args)


def _drive_backfill(s: Services, args: argparse.Namespace) -> int:
    """Queue every existing deal, resumably: the last queued deal id is kept in Redis."""
    from connector.queue import MAINTENANCE, job_id

    cursor_key = f"{s.settings.queue_prefix}:gdrive:{args.member_id}:backfill"
    generation_key = f"{cursor_key}:generation"
    if args.restart:  # a new generation of job ids, so deals queued before go again
        s.redis.delete(cursor_key)
        s.redis.incr(generation_key)
    generation = int(s.redis.get(generation_key) or 0)
    start = int(s.redis.get(cursor_key) or 0)
    client = s.client(args.member_id)
    params: dict[str, Any] = {"select": ["ID"]}
    if start:
        params["filter"] = {">ID": start}
    queued = 0
    for row in client.iter_by_id("crm.deal.list", params):
        deal_id = int(row["ID"])
        res = s.queues.enqueue("connector.jobs.run_maintenance",
                               ["drive_mirror_deal", args.member_id, {"deal_id": deal_id}],
                               job_id("gdrive-backfill", args.member_id, deal_id, generation),
                               queue=MAINTENANCE, member_id=args.member_id)
        s.redis.set(cursor_key, deal_id)
        queued += res.created
        if queued % 500 == 0:
            print(f"queued {queued} deals (last id {deal_id})", flush=True)
    print(f"backfill queued {queued} deals; resume point: deal {int(s.redis.get(cursor_key) or 0)}"
          " (run again to continue, --restart to start over)")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """An RQ worker on our queues, with the scheduler thread (timers, retries) and the ticker.

    The ticker still enqueues today's periodic tasks every --tick-every seconds; it goes once
    connector.periodic is wired in (docs/decisions.md, "Timers are RQ scheduled jobs").
    """
    from rq import Worker
    from rq.serializers import JSONSerializer

    from connector.jobs import tick
    from connector.queue import Scheduler
    from connector.services import worker_services

    s = worker_services()  # built before the jobs fork, so each job inherits it
    logging.basicConfig(level=s.settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    if not args.burst:
        def ticker() -> None:
            while not stop.wait(args.tick_every):
                try:
                    tick(s)
                except Exception:  # noqa: BLE001 - the ticker must outlive a Redis blip
                    logging.getLogger("connector.tick").exception("tick failed")

        threading.Thread(target=ticker, daemon=True, name="ticker").start()
    names = args.queues.split(",") if args.queues else ["inbound", "maintenance", "files"]
    scheduler = Scheduler(s.queues, names, s.settings.scheduler_interval_s,
                          s.settings.log_level)
    if args.burst:  # what is due now goes to the queues once, as RQ's burst mode does
        scheduler.run_once()
        scheduler.release()
    else:
        scheduler.start()
    # a 10 s job heartbeat: a job whose worker was killed is retried ~70 s later, not 90
    worker = Worker([s.queues[n] for n in names], connection=s.redis,
                    serializer=JSONSerializer, name=args.name, job_monitoring_interval=10)
    gc.freeze()  # a forked job then copies fewer pages: ~20 % more jobs per second
    try:
        worker.work(burst=args.burst, logging_level=s.settings.log_level)
    finally:
        stop.set()
        scheduler.stop()
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    from connector.jobs import tick

    print(f"enqueued {tick(_services())}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crm-connector", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("portals", help="list installed portals and their state")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_portals)

    sp = sub.add_parser("settings", help="show, export, import or set a portal's settings, "
                        "or describe every settings field")
    sp.add_argument("action", choices=["show", "export", "import", "set", "describe"])
    sp.add_argument("member_id", nargs="?", help="the portal (not for describe)")
    sp.add_argument("file", nargs="?", help="JSON file for import/set ('-' = stdin)")
    sp.add_argument("--lang", choices=["ru", "en"], default=None,
                    help="language of labels and refusals (default: from LANG)")
    sp.set_defaults(func=cmd_settings)

    sp = sub.add_parser("failed", help="list failed jobs (dead letters) or requeue them")
    sp.add_argument("action", nargs="?", choices=["list", "requeue"], default="list")
    sp.add_argument("job_id", nargs="?")
    sp.add_argument("--all", action="store_true")
    sp.set_defaults(func=cmd_failed)

    sp = sub.add_parser("reconcile", help="re-register robots, events and placements now")
    sp.add_argument("member_id")
    sp.set_defaults(func=cmd_reconcile)

    sp = sub.add_parser("journal", help="recent events received from a portal")
    sp.add_argument("member_id")
    sp.add_argument("--limit", type=int, default=50)
    sp.set_defaults(func=cmd_journal)

    sp = sub.add_parser("distribution", help="dry run, audit log, pending items")
    sp.add_argument("action", choices=["dry-run", "audit", "pending"])
    sp.add_argument("member_id")
    sp.add_argument("--group", default="")
    sp.add_argument("--item", default=None, help="audit of one item, e.g. lead/12")
    sp.add_argument("--item-id", type=int, default=0, help="dry run against this item")
    sp.add_argument("--limit", type=int, default=50)
    sp.set_defaults(func=cmd_distribution)

    sp = sub.add_parser("drive", help="Google Drive mirror: status, connect, backfill")
    sp.add_argument("action", choices=["status", "connect-url", "service-account", "backfill",
                                       "mirror-deal"])
    sp.add_argument("member_id")
    sp.add_argument("value", nargs="?", help="key file (service-account) or deal id")
    sp.add_argument("--restart", action="store_true", help="backfill from the first deal")
    sp.set_defaults(func=cmd_drive)

    sp = sub.add_parser("worker", help="run a worker (jobs, retries, periodic tasks)")
    sp.add_argument("--burst", action="store_true", help="drain the queues and exit")
    sp.add_argument("--name", default=None)
    sp.add_argument("--tick-every", type=float, default=10.0)
    sp.add_argument("--queues", default="", help="comma-separated: inbound,maintenance,files "
                    "(default all, in that priority)")
    sp.set_defaults(func=cmd_worker)

    sp = sub.add_parser("tick", help="enqueue due periodic jobs once")
    sp.set_defaults(func=cmd_tick)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


