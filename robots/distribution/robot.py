"""Fair distribution, declared: the robot, the event triggers, re-check and recount, the CLI."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from connector.capability import Capability, CardSection, Command, Event, Periodic, Subscription
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_
from connector.triggers import (
    DEAL,
    DYNAMIC,
    LEAD,
    Answered,
    Prop,
    RobotCall,
    RobotError,
    RobotSpec,
)
from robots.distribution import config
from robots.distribution.engine import (
    NAME,
    DistributionError,
    Outcome,
    distribute,
    dry_run,
    env_for,
    queries,
    resolve_members,
    state_for,
)
from robots.distribution.entities import from_document
from robots.distribution.panels import PANELS, attention
from robots.distribution.reassign import reassign


def run(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    ref = from_document(call.document_id)
    group_id = str(call.properties.get("group") or "").strip()
    groups = config.groups(ctx.settings)
    if not group_id and len(groups) == 1:
        group_id = groups[0].id
    group = config.group_by_id(ctx.settings, group_id)
    if group is None:
        raise RobotError(N_("unknown distribution group '{group}' (groups: {known})"),
                         group=group_id, known=", ".join(g.id for g in groups) or "—")
    force = str(call.properties.get("force") or "N").upper() in ("Y", "1", "TRUE")
    try:
        outcome = distribute(env_for(ctx), group, ref, event_token=call.event_token,
                             force=force, trigger="robot")
    except DistributionError as exc:
        raise RobotError(str(exc)) from exc
    tell(ctx, ref, outcome)
    return Answered(outcome.robot_values())


SPEC = RobotSpec(
    code="fair_distribution",
    name=N_("Fair distribution"),
    description=N_("Assigns by workload and work-day status, and explains the choice"),
    run=run,
    properties={
        "group": Prop(N_("Distribution group"), "string",
                      description=N_("Group id from the app's settings; empty = the only "
                                     "group")),
        "force": Prop(N_("Redistribute even if assigned by hand"), "bool", default="N"),
    },
    return_properties={
        "assigned_user_id": Prop(N_("Assigned user"), "user"),
        "reason": Prop(N_("Reason"), "text"),
        "status": Prop(N_("Status"), "string",
                       description=N_("assigned, pending (nobody working) or skipped")),
    },
    document_types=(LEAD, DEAL, DYNAMIC),
)


# event triggers --------------------------------------------------------------------------
def _auto_groups(ctx: JobContext, kind: str) -> list[config.Group]:
    return [g for g in config.groups(ctx.settings) if any(a.entity == kind for a in g.auto)]


def wants_new(ctx: JobContext, event: Event) -> bool:
    return bool(_auto_groups(ctx, event.ref.kind))


def reads_new(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    """The item and the first candidate group's people: read once for the delivery."""
    candidates = _auto_groups(ctx, event.ref.kind)
    if not candidates:
        return {}
    env = env_for(ctx)
    return queries(env, event.ref, resolve_members(env, candidates[0]))


def on_item_added(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    verdict = ctx.service("lead_verdict")  # lead hygiene's, which runs first when it is on
    if (said := verdict(ctx, event.ref) if verdict else None) and said["action"] in (
            "spam", "fold"):
        return {"skipped": f"{event.ref.label} is {said['action']}: no one to assign"}
    candidates = _auto_groups(ctx, event.ref.kind)
    needs_facts = any(a.category_ids or a.source_ids for g in candidates for a in g.auto)
    item = None
    if needs_facts:
        try:
            item = reading.get("item") if reading.ok("item") else ctx.crm.item(event.ref)
        except crm.NotFound:
            return {"skipped": f"{event.ref.label} not found"}
    for i, group in enumerate(candidates):
        for rule in group.auto:
            if rule.entity == event.ref.kind and (
                    item is None or rule.matches(rule.entity, item.category, item.source)):
                outcome = distribute(env_for(ctx), group, event.ref, trigger="event",
                                     reading=reading if i == 0 else None)
                tell(ctx, event.ref, outcome)
                return {"status": outcome.status, "user_id": outcome.user_id}
    return {"skipped": "no rule matched"}


def wants_pin(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings["distribution"]["pin_on_won"] and config.groups(ctx.settings))


def on_deal_update(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    """Pin the client to the manager of their first won deal (if the portal wants it)."""
    try:
        deal = reading.get("item")
    except crm.NotFound:
        return {"skipped": "deal gone"}
    if not deal.won or not deal.assigned:
        return {"skipped": "not won"}
    state = state_for(ctx)
    for cid in deal.contact_ids:
        state.pin("contact", cid, deal.assigned)
    if deal.company_id:
        state.pin("company", deal.company_id, deal.assigned)
    return {"pinned_to": deal.assigned}


def tell(ctx: JobContext, ref: crm.ItemRef, outcome: Outcome) -> None:
    """The item's history: whom it went to and why, or why it waits (once each)."""
    if outcome.status == "assigned":
        ctx.remember(ref, N_("Responsible chosen: {reason}"), reason=outcome.reason,
                     identity=f"assigned:{outcome.user_id}")
    elif outcome.status == "pending":
        ctx.remember(ref, N_("Waiting for a responsible: {reason}"), reason=outcome.reason,
                     identity="pending")


# periodic ---------------------------------------------------------------------------------
def recheck(ctx: JobContext) -> dict[str, Any]:
    """Hand out pending items oldest first while someone can take them."""
    env = env_for(ctx)
    handed = 0
    for group in config.groups(ctx.settings):
        if not env.state.pending_count(group.id) or not env.state.due(
                group.id, group.recheck_minutes * 60 - 5):
            continue
        for entry in env.state.pending(group.id):
            outcome: Outcome = distribute(env, group, crm.ItemRef(entry["entity"],
                                                                  int(entry["id"])),
                                          event_token=entry.get("token", ""),
                                          trigger="recheck")
            tell(ctx, crm.ItemRef(entry["entity"], int(entry["id"])), outcome)
            if outcome.status == "pending":
                break
            env.state.remove_pending(group.id, entry)
            handed += outcome.status == "assigned"
    return {"assigned": handed}


def reconcile_counters(ctx: JobContext) -> dict[str, Any]:
    """Recount 'in work' from the CRM: people close and reassign items by hand."""
    env = env_for(ctx)
    changed = {}
    for group in config.groups(ctx.settings):
        members = resolve_members(env, group)
        wanted = {f"{kind}|{uid}": crm.CountInWork(kind, uid, tuple(group.in_work.get(kind, ())))
                  for kind in group.entity_types for uid in members}
        counts: dict[int, int] = {uid: 0 for uid in members}
        with env.state.group_lock(group.id):  # no assignment may slip between count and set
            reading = ctx.crm.read(wanted)
            for key in wanted:
                counts[int(key.split("|")[1])] += int(reading.get(key) or 0)
            before = env.state.in_work_counts(group.id)
            env.state.set_in_work(group.id, counts)
        changed[group.id] = {u: (before.get(u, 0), c) for u, c in counts.items()
                             if before.get(u, 0) != c}
    return {"changed": changed}


def _every_minute(doc: dict[str, Any]) -> int | None:
    return 60 if doc["distribution"]["groups"] else None


def _every_reconcile(doc: dict[str, Any]) -> int | None:
    dist = doc["distribution"]
    return dist["reconcile_minutes"] * 60 if dist["groups"] else None


# published service --------------------------------------------------------------------------
def assignee(ctx: JobContext, ref: crm.ItemRef) -> crm.Person | None:
    """Whom distribution assigned this item to (applied in the CRM), for other capabilities."""
    done = state_for(ctx).get_done(ref.kind, ref.id)
    if not done or not done.get("applied") or not done.get("user_id"):
        return None
    return crm.Person(int(done["user_id"]), str(done.get("name") or ""))


# deal tab and CLI --------------------------------------------------------------------------
def card_facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    return {"decisions": state_for(ctx).audit_entries(5, f"deal/{deal_id}")}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _configure_cli(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["dry-run", "audit", "pending"])
    p.add_argument("member_id")
    p.add_argument("--group", default="")
    p.add_argument("--item", default=None, help="audit of one item, e.g. lead/12")
    p.add_argument("--item-id", type=int, default=0, help="dry run against this item")
    p.add_argument("--limit", type=int, default=50)


def cli(services: Any, args: argparse.Namespace) -> int:
    """Dry run, audit log and pending queue of the fair distribution."""
    import sys

    ctx = JobContext.load(services, args.member_id, "cli:distribution", NAME)
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
    ref = crm.ItemRef(group.entity_types[0], args.item_id or 0)
    try:
        run = dry_run(env, group, ref)
    except DistributionError as exc:
        print(f"cannot distribute: {exc}", file=sys.stderr)
        return 2
    outcome = run.outcome
    who = f"user {outcome.user_id}" if outcome.user_id else "nobody"
    print(f"next {group.id} item would go to {who}: {outcome.reason}")
    for row in run.candidates:
        m = row.member
        mark = "*" if row.chosen else " "
        print(f" {mark} user {m.user_id:<6} {m.day:8} in work {m.in_work:<4} today {m.today:<4} "
              f"month {m.month:<5} weight {m.weight:g}  {row.skip or ''}")
    return 0


def _new_item_subscription(event: str) -> Subscription:
    # a new lead waits for lead hygiene's verdict: a repeat folded away or spam is no one's
    after = ("lead_hygiene.check",) if event == "lead.created" else ()
    return Subscription(event, f"assign_{event.split('.')[0]}", on_item_added, wants_new,
                        reads_new, after=after)


CAPABILITY = Capability(
    name=NAME,
    legacy_keyspace="dist",
    title=N_("Fair distribution"),
    settings=config.SCHEMAS,
    triggers=(SPEC,),
    subscriptions=(
        _new_item_subscription("lead.created"),
        _new_item_subscription("deal.created"),
        _new_item_subscription("item.created"),
        Subscription("deal.updated", "pin_on_won", on_deal_update, wants_pin,
                     lambda ctx, event: {"item": crm.GetItem(event.ref)}),
    ),
    periodic=(Periodic("recheck", _every_minute, recheck,
                       N_("Re-check the items waiting for a responsible")),
              Periodic("reconcile", _every_reconcile, reconcile_counters,
                       N_("Reconcile the workload counters with the CRM"))),
    card_sections=(CardSection("assignments", N_("Assignments"), card_facts,
                               "sections/distribution.html"),),
    panels=PANELS,
    cli=(Command("distribution", "dry run, audit log, pending items", _configure_cli, cli),),
    scopes=frozenset({"crm", "user", "timeman", "im"}),
    provides={"assignee": assignee, "reassign": reassign, f"attention:{NAME}": attention},
)
