"""`crm-connector watchdogs …`: what the rules plan for an item, what is pending, the audit,
and the backfill — the same functions the admin page uses, for an operator's shell."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from connector.capability import Command
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import t
from robots.watchdogs import audit, watch
from robots.watchdogs.config import NAME


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


def _ref(text: str) -> crm.ItemRef:
    kind, _, raw = text.rpartition("/")
    if kind not in ("lead", "deal") and not kind.startswith("item:") or not raw.isdigit():
        raise SystemExit(f"an item is lead/12, deal/7 or item:128/3, not {text!r}")
    return crm.ItemRef(kind, int(raw))


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["plan", "upcoming", "audit", "backfill"])
    p.add_argument("member_id")
    p.add_argument("--item", default="", help="plan: the item, e.g. lead/12 or deal/7")
    p.add_argument("--rule", default="", help="upcoming / audit: only this rule")
    p.add_argument("--kind", default="deal", help="backfill: lead, deal or item:<type>")
    p.add_argument("--limit", type=int, default=50)


def run(services: Any, args: argparse.Namespace) -> int:
    ctx = JobContext.load(services, args.member_id, "cli:watchdogs", NAME)
    if ctx is None:
        print(f"unknown portal {args.member_id}", file=sys.stderr)
        return 2
    if args.action == "plan":
        for row in watch.preview(ctx, _ref(args.item)):
            p, rule = row["plan"], row["rule"]
            state = "watching" if p.watching else f"not watching: {t('en', p.why, **p.params)}"
            print(f"{rule['id']:16} {row['kind']:15} {state}")
            for due in sorted(p.dues, key=lambda d: d.at):
                print(f"    step {due.step:10} due {_when(due.at)}  ({due.anchor})")
        return 0
    if args.action == "upcoming":
        for row in watch.upcoming(ctx, args.limit, args.rule):
            print(f"{_when(row['at'])}  {row['rule']:16} {row['ref']:14} step {row['step']:8} "
                  f"users {','.join(map(str, row['users']))}")
        return 0
    if args.action == "audit":
        for e in audit.entries(ctx.redis, ctx.key("audit"), args.rule, limit=args.limit):
            print(f"{_when(e['ts'])}  {e['rule']:16} {e['ref']:14} {e['step']:8} "
                  f"{e['outcome']:8} {t('en', e['msgid'], **e['params'])}")
        return 0
    ctx.enqueue("backfill", {"kind": args.kind}, args.kind, "cli")
    print(f"queued: the rules are applied to every {args.kind} in the background")
    return 0


COMMAND = Command("watchdogs", "Watchdogs: plan for an item, pending steps, audit, backfill",
                  configure, run)
