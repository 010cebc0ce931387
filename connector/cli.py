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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from connector.capability import Command
from connector.config import ConfigError, load_settings
from connector.services import Services, build_services

_BUILD: list[Callable[[], Services]] = []


def _services() -> Services:
    """This process's Services, as the composition root (wiring) builds them."""
    return _BUILD[0]() if _BUILD else build_services(load_settings())


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
        from connector import settings_audit

        settings_audit.save(s, args.member_id, doc, settings_audit.CLI)
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
    from connector.jobs import run_task

    print(json.dumps(run_task(_services(), "reconcile", args.member_id), indent=2))
    return 0


def cmd_journal(args: argparse.Namespace) -> int:
    from connector.journal import entries

    for entry in entries(_services(), args.member_id, args.limit):
        print(f"{_when(entry['ts'])}  {entry['event']:20} {entry['id']}")
    return 0


def preload() -> list[str]:
    """Import, in the worker, every module of the packages the worker has loaded from this
    project (the core and the capabilities its registry named), so a work-horse (forked per
    job) imports nothing itself. Lazy imports inside job code otherwise ran in every horse,
    and where byte code is not written (PYTHONDONTWRITEBYTECODE, as many container images
    set) each horse compiled the Bitrix24 adapter from source: a third of a job's CPU
    (bench.watchdogs' set-up, py-spy). Returns the modules that could not be imported."""
    import importlib
    import pkgutil
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    packages = sorted({name.split(".")[0] for name, module in list(sys.modules.items())
                       if (path := getattr(module, "__file__", None))
                       and Path(path).resolve().is_relative_to(root)
                       and (root / name.split(".")[0]).is_dir()})
    failed = []
    for top in packages:
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if info.name.rsplit(".", 1)[-1] == "__main__":
                continue  # a command's entry: importing it runs the command
            try:
                importlib.import_module(info.name)
            except ImportError as exc:  # an optional part this deployment lacks
                logging.getLogger("connector.worker").warning("not preloaded: %s (%s)",
                                                              info.name, exc)
                failed.append(info.name)
    return failed


def cmd_worker(args: argparse.Namespace) -> int:
    """An RQ worker on our queues, with the scheduler thread (timers, retries, periodic slots)
    and the inbox pump (the web's accepted deliveries become jobs here; burst: once, first).

    Periodic tasks are chains of scheduled jobs (connector.periodic); every minute a worker
    checks whether it won this 10-minute slot of the deployment and then queues the safety
    sweep that repairs missing chains. Nothing walks the portals more often than that.
    """
    from rq.serializers import JSONSerializer

    from connector.jobs import maybe_sweep
    from connector.liveness import Liveness
    from connector.migrations import migrate_all
    from connector.pump import Pump
    from connector.queue import QUEUE_NAMES, Scheduler, Worker
    from connector.services import worker_services

    names = args.queues.split(",") if args.queues else list(QUEUE_NAMES)
    unknown = [n for n in names if n not in QUEUE_NAMES]
    if unknown:
        print(f"unknown queue(s): {', '.join(unknown)}; the queues are "
              f"{','.join(QUEUE_NAMES)}", file=sys.stderr)
        return 2
    s = worker_services()  # built before the jobs fork, so each job inherits it
    logging.basicConfig(level=s.settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    migrate_all(s)  # once per deployment: keys of older versions move to where we look
    stop = threading.Event()
    if not args.burst:
        def sweeper() -> None:
            while not stop.wait(args.sweep_check_every):
                try:
                    maybe_sweep(s)
                except Exception:  # noqa: BLE001 - the sweeper must outlive a Redis blip
                    logging.getLogger("connector.sweep").exception("sweep check failed")

        threading.Thread(target=sweeper, daemon=True, name="sweeper").start()
    scheduler = Scheduler(s.queues, names, s.settings.scheduler_interval_s,
                          s.settings.log_level)
    pump = Pump(s.queues)
    if args.burst:  # what is due now goes to the queues once, as RQ's burst mode does
        pump.drain()
        scheduler.run_once()
        scheduler.release()
    else:
        pump.start()
        scheduler.start()
    # a job whose worker was killed is retried once the worker's alive key expires (~10 s);
    # RQ's own 10 s job heartbeat (+60 s) stays the fallback for workers that do not beat
    worker = Worker([s.queues[n] for n in names], connection=s.redis,
                    serializer=JSONSerializer, name=args.name, job_monitoring_interval=10,
                    liveness=Liveness(s.redis, s.queues.prefix))
    preload()
    gc.freeze()  # a forked job then copies fewer pages: ~20 % more jobs per second
    try:
        worker.work(burst=args.burst, logging_level=s.settings.log_level)
    finally:
        stop.set()
        pump.stop()
        scheduler.stop()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from connector.migrations import migrate_all

    moved = migrate_all(_services(), force=True)
    print(f"moved {sum(moved.values())} keys of {len(moved)} portals to CRM-neutral names")
    return 0


def cmd_periodic(args: argparse.Namespace) -> int:
    """Start or repair a portal's periodic chains now (what install and the sweep do)."""
    from connector.jobs import ensure_periodic

    print(json.dumps(ensure_periodic(_services(), args.member_id), indent=2))
    return 0


def build_parser(commands: Sequence[Command] = ()) -> argparse.ArgumentParser:
    """The core commands, then each capability's own (from the registry)."""
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

    sp = sub.add_parser("worker", help="run a worker (jobs, retries, periodic tasks)")
    sp.add_argument("--burst", action="store_true", help="drain the queues and exit")
    sp.add_argument("--name", default=None)
    sp.add_argument("--sweep-check-every", type=float, default=60.0,
                    help="seconds between checks whether this worker runs the periodic sweep")
    sp.add_argument("--queues", default="", help="comma-separated, in priority: "
                    "inbound,maintenance,documents,files (default: all, in that order)")
    sp.set_defaults(func=cmd_worker)

    sp = sub.add_parser("periodic", help="start or repair a portal's periodic tasks now")
    sp.add_argument("member_id")
    sp.set_defaults(func=cmd_periodic)

    sp = sub.add_parser("migrate", help="move keys of older versions to their new names")
    sp.set_defaults(func=cmd_migrate)

    for command in commands:
        sp = sub.add_parser(command.name, help=command.help)
        command.configure(sp)
        sp.set_defaults(func=lambda args, c=command: c.run(_services(), args))
    return p


def main(argv: list[str] | None = None, build: Callable[[], Services] | None = None,
         commands: Sequence[Command] = ()) -> int:
    """`build` and `commands` come from the composition root (python -m wiring)."""
    if build is not None:
        _BUILD[:] = [build]
    args = build_parser(commands).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2




