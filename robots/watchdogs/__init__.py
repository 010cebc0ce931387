"""Watchdogs, escalation and reminders, declared: nothing waits unseen.

Items are evaluated when they appear or change (their events, their activities' events) and
when one of their timers fires; see robots.watchdogs.watch. A backfill applies new rules to
the items that already exist.
"""

from __future__ import annotations

from typing import Any

from connector.capability import Capability, Event, Subscription, Task
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_
from robots.watchdogs import config, watch
from robots.watchdogs.card import CARD_SECTIONS
from robots.watchdogs.cli import COMMAND
from robots.watchdogs.config import NAME
from robots.watchdogs.overdue import overdue
from robots.watchdogs.panels import PANELS
from robots.watchdogs.worktime import from_settings

ITEM_EVENTS = ("lead.created", "lead.updated", "deal.created", "deal.updated", "item.created",
               "item.updated")
BACKFILL_BATCH = 200


def wants_item(ctx: JobContext, event: Event) -> bool:
    return bool(watch.pairs_for(ctx.settings, event.ref.kind))


def reads_item(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return watch.queries(ctx.of(NAME), event.ref)


def on_item(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    return watch.evaluate(ctx, event.ref, reading)


def wants_activity(ctx: JobContext, event: Event) -> bool:
    return any(kind in ("reaction", "next_activity") for kind, _ in
               config.all_rules(ctx.settings))


def reads_activity(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return {"activity": crm.GetActivity(event.ref.id)}


def on_activity(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    """An activity was added or changed (a call made, a to-do completed): evaluate its item."""
    try:
        activity = reading.get("activity")
    except crm.NotFound:
        return {"skipped": "activity gone"}
    ref = watch.owner_of(activity or {})
    if ref is None or not watch.pairs_for(ctx.settings, ref.kind):
        return {"skipped": "not an item any rule watches"}
    return watch.evaluate(ctx, ref)


def backfill(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """Apply the rules to existing items of a kind, in ID order, a batch per job."""
    kind, after = str(arg.get("kind") or "deal"), int(arg.get("after") or 0)
    seen = last = 0
    for item_id in ctx.crm.item_ids(kind, after):
        watch.evaluate(ctx, crm.ItemRef(kind, item_id))
        seen, last = seen + 1, item_id
        if seen >= BACKFILL_BATCH:
            ctx.enqueue("backfill", {"kind": kind, "after": last}, kind, last)
            break
    return {"kind": kind, "evaluated": seen, "last": last}


def fire(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    return watch.fire(ctx, arg)


SUBSCRIPTIONS = tuple(
    Subscription(name, f"evaluate_{name.replace('.', '_')}", on_item, wants_item, reads_item,
                 # a new item's responsible is chosen first: its reminders name the right person
                 after=("distribution.assign_" + name.split(".")[0],)
                 if name.endswith(".created") else ())
    for name in ITEM_EVENTS
) + (
    Subscription("activity.created", "activity_added", on_activity, wants_activity,
                 reads_activity),
    Subscription("activity.updated", "activity_changed", on_activity, wants_activity,
                 reads_activity),
)

CAPABILITY = Capability(
    name=NAME,
    title=N_("Watchdogs and reminders"),
    settings=config.SCHEMAS,
    subscriptions=SUBSCRIPTIONS,
    tasks=(Task("fire", fire, title=N_("Do a watchdog's due step")),
           Task("backfill", backfill, title=N_("Apply the watchdogs to existing items"))),
    cli=(COMMAND,),
    card_sections=CARD_SECTIONS,
    panels=PANELS,
    scopes=frozenset({"crm", "task", "im", "calendar"}),
    provides={"overdue": overdue,  # what a digest reports (robots.watchdogs.overdue)
              # the company's working-time rules, for amoCRM's presence (schedules)
              "work_time": from_settings},
)
