"""When each rule's steps come due for one item: pure decisions, no Redis, no CRM.

The engine reads the item (and, for the rules that need them, its reactions and open
activities) into `Facts`, hands them with the rule, the working time and what it remembers of
the pair (`Memory`) to `plan()`, and gets back a `Plan`: the steps still to do with their due
times, or why the item is not (or no longer) watched. The same function answers an event (set or
move the timer), a timer (is this step still due?) and the admin's dry run, so the three can
never disagree.

An `anchor` names what the due times count from (the item's creation, its entry into a stage at a
time, a date's value, the moment it was first seen without an activity). A step done under one
anchor is done for good; a new anchor (the deal came back to the stage, the date moved) starts
the steps again, which is how reminders follow a moved date and follow-ups loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from connector.crm import port as crm
from connector.i18n import N_, Msg
from connector.settings_schema import in_pipelines
from robots.watchdogs import config as c

GRACE_PAST_S = 24 * 3600  # a date further in the past than this is not reminded of any more
NO_FIELD = N_("the deal has no field {field} (deleted?)")
NO_INTERVAL = N_("the deal's field gives no interval")
# reasons that mean the rule cannot work as set up: logged and audited, not just left
PROBLEMS = (NO_FIELD, NO_INTERVAL)


@dataclass(frozen=True)
class Facts:
    """What was read about one item at `now`; None for what was not asked."""

    item: crm.Item | None  # None: the item is gone (deleted, merged)
    now: float
    reactions: Sequence[Mapping[str, Any]] | None = None
    open_activities: Sequence[Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Memory:
    """What the engine keeps per (rule, item) between evaluations."""

    first_stage: str = ""  # the stage the item was first seen in (a stage change is a reaction)
    since: float = 0.0  # next_activity: first seen without an open activity; 0 = not now
    stage_since: float = 0.0  # when the item was first seen in its current stage
    stage: str = ""
    done: frozenset[str] = frozenset()  # "<anchor>|<step>" of the steps done
    ours: frozenset[str] = frozenset()  # "comment:<id>", "task:<id>" the app itself wrote


@dataclass(frozen=True)
class Due:
    step: str  # "offer", "0", "1"… (a step's index), "move", "slot:<n>", "task"
    at: float
    anchor: str

    @property
    def key(self) -> str:
        return f"{self.anchor}|{self.step}"


@dataclass(frozen=True)
class Plan:
    watching: bool
    dues: tuple[Due, ...] = ()
    why: Msg = ""  # when not watching (or nothing is due): the reason, for the audit
    params: Mapping[str, Any] = field(default_factory=dict)
    reacted_by: int = 0  # reaction: who reacted first (for "the first of N takes it")
    # what the engine should remember now
    memory: Memory = field(default_factory=Memory)

    @property
    def next(self) -> Due | None:
        return min(self.dues, key=lambda d: d.at) if self.dues else None

    def due_now(self, now: float) -> list[Due]:
        return sorted((d for d in self.dues if d.at <= now), key=lambda d: d.at)


def stopped(why: Msg, memory: Memory, **params: Any) -> Plan:
    return Plan(False, why=why, params=params, memory=memory)


# facts of an item ---------------------------------------------------------------------------
def parse_time(value: Any, tz: str, day_start_s: int = 9 * 3600) -> float | None:
    """A CRM date or date-time as unix time; a bare date counts from the start of work."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:  # "2026-12-01"
            day = datetime.fromisoformat(text).date()
            start = time(day_start_s // 3600 % 24, day_start_s // 60 % 60)
            return datetime.combine(day, start, ZoneInfo(tz)).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.timestamp()


def closed(item: crm.Item) -> bool:
    """Won or lost: the CRM's own semantics (adapter: Item.closed), the stage id as a fallback."""
    flag = getattr(item, "closed", None)
    if flag is not None:
        return bool(flag)
    return item.won or item.stage.split(":")[-1] in ("LOSE", "JUNK", "FAIL", "APOLOGY")


def moved_at(item: crm.Item, tz: str, memory: Memory, now: float) -> float:
    """When the item entered its current stage: the CRM's MOVED_TIME (movedTime on items),
    else the moment the engine first saw it in that stage."""
    for name in ("MOVED_TIME", "movedTime"):
        at = parse_time(item.fields.get(name), tz)
        if at:
            return at
    if memory.stage == item.stage and memory.stage_since:
        return memory.stage_since
    return now


def remembered(memory: Memory, item: crm.Item, now: float, **changes: Any) -> Memory:
    """Memory with the stage bookkeeping brought up to date."""
    base = {"first_stage": memory.first_stage or item.stage, "since": memory.since,
            "stage_since": memory.stage_since if memory.stage == item.stage else now,
            "stage": item.stage, "done": memory.done, "ours": memory.ours}
    return Memory(**{**base, **changes})


# the kinds -------------------------------------------------------------------------------
def plan(kind: str, rule: Mapping[str, Any], facts: Facts, wt: Any, memory: Memory,
         tz: str) -> Plan:
    """The steps still due for this item under this rule (see the module docstring)."""
    item = facts.item
    if item is None:
        return stopped(N_("the item is gone (deleted or merged)"), memory)
    return KINDS[kind](rule, item, facts, _clock(kind, rule, wt), memory, tz)


def _clock(kind: str, rule: Mapping[str, Any], wt: Any) -> Any:
    """Working time when the rule asks (follow-ups count working days by definition); else
    calendar time in the portal's zone, whose day still starts with work (a bare date)."""
    if rule.get("working_time") or kind == "follow_ups":
        return wt
    return replace(wt.always(wt.tz), start=wt.start)


def _undone(memory: Memory, dues: list[Due]) -> tuple[Due, ...]:
    return tuple(d for d in dues if d.key not in memory.done)


def _reaction(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any, memory: Memory,
              tz: str) -> Plan:
    mem = remembered(memory, item, facts.now)
    if closed(item):
        return stopped(N_("the item is closed"), mem)
    if not _matches(rule, item, mem.first_stage):
        return stopped(N_("the item does not match the rule's filter"), mem)
    created = parse_time(item.created_at, tz) or facts.now
    who = _first_reaction(rule, facts, mem, created)
    if who is not None:
        return Plan(False, why=N_("reacted in time"), reacted_by=who, memory=mem)
    anchor = "created"
    due = wt.add(created, rule["due_minutes"] * 60)
    dues = [Due(str(i), wt.add(due, step["after_minutes"] * 60), anchor)
            for i, step in enumerate(rule["steps"])]
    if len(rule["first_of"]) >= 2:
        dues.insert(0, Due("offer", created, anchor))
    return Plan(True, _undone(mem, dues), memory=mem)


def _matches(rule: Mapping[str, Any], item: crm.Item, first_stage: str) -> bool:
    if item.ref.kind != rule["entity"]:
        return False
    if not in_pipelines(rule["category_ids"], item.category):
        return False
    if rule["stage_ids"] and first_stage not in rule["stage_ids"]:
        return False
    return not (rule["source_ids"] and item.source not in rule["source_ids"])


def _first_reaction(rule: Mapping[str, Any], facts: Facts, mem: Memory, created: float
                    ) -> int | None:
    """Who reacted first (0 when unknown: a stage change), or None when nobody has."""
    kinds = set(rule["reactions"])
    item = facts.item
    assert item is not None
    for r in facts.reactions or ():
        if str(r.get("id", "")) in mem.ours:
            continue  # the app's own step comment is not a reaction (nor its tasks, below)
        kind = str(r.get("kind", ""))
        counted = kind in kinds or (kind in ("todo", "meeting", "activity") and
                                    "activity" in kinds)
        at = parse_time(r.get("at"), "UTC") or 0.0
        if counted and kind != "task" and at >= created - 60:
            return int(r.get("author") or 0)
    if "stage" in kinds and mem.first_stage and item.stage != mem.first_stage:
        return 0
    return None


def _next_activity(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any,
                   memory: Memory, tz: str) -> Plan:
    mem = remembered(memory, item, facts.now)
    if item.ref.kind != "deal" or not in_pipelines(rule["category_ids"], item.category):
        return stopped(N_("the item does not match the rule's filter"), mem)
    if closed(item):
        return stopped(N_("the item is closed"), remembered(mem, item, facts.now, since=0.0))
    planned = [a for a in facts.open_activities or ()
               if f"task:{a.get('task_id') or 0}" not in mem.ours]  # not the app's reminders
    if planned:
        return stopped(N_("it has an open activity"),
                       remembered(mem, item, facts.now, since=0.0))
    since = mem.since or facts.now
    mem = remembered(mem, item, facts.now, since=since)
    anchor = f"since:{int(since)}"
    start = wt.add(since, rule["grace_minutes"] * 60)
    dues = [Due(str(i), wt.add(start, step["after_minutes"] * 60), anchor)
            for i, step in enumerate(rule["steps"])]
    return Plan(True, _undone(mem, dues), memory=mem)


def _in_stage(rule: Mapping[str, Any], item: crm.Item, facts: Facts, memory: Memory,
              tz: str) -> tuple[Memory, float | None]:
    mem = remembered(memory, item, facts.now)
    if item.ref.kind != "deal" or item.stage not in rule["stage_ids"]:
        return mem, None
    return mem, moved_at(item, tz, mem, facts.now)


def _stage_limit(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any,
                 memory: Memory, tz: str) -> Plan:
    mem, since = _in_stage(rule, item, facts, memory, tz)
    if since is None:
        return stopped(N_("not in a watched stage"), mem)
    anchor = f"{item.stage}@{int(since)}"
    return Plan(True, _undone(mem, [Due("move", wt.add(since, rule["limit_minutes"] * 60),
                                        anchor)]), memory=mem)


def _date(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any, memory: Memory,
          tz: str, field_name: str, before_s: int, step: str) -> Plan:
    mem = remembered(memory, item, facts.now)
    if field_name not in item.fields and field_name not in ("CLOSEDATE", "BEGINDATE"):
        return stopped(NO_FIELD, mem, field=field_name)
    raw = item.fields.get(field_name)
    when = parse_time(raw, tz, int(getattr(wt, "start", 9 * 3600)))
    if when is None:
        return stopped(N_("the date field {field} is empty"), mem, field=field_name)
    if when < facts.now - GRACE_PAST_S:
        return stopped(N_("the date {date} has passed"), mem, date=str(raw))
    anchor = f"date:{int(when)}"
    return Plan(True, _undone(mem, [Due(step, when - before_s, anchor)]), memory=mem)


def _date_reminder(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any,
                   memory: Memory, tz: str) -> Plan:
    if item.ref.kind != "deal" or not in_pipelines(rule["category_ids"], item.category):
        return stopped(N_("the item does not match the rule's filter"), memory)
    if closed(item):
        return stopped(N_("the item is closed"), memory)
    return _date(rule, item, facts, wt, memory, tz, rule["field"], rule["before_minutes"] * 60,
                 "remind")


def interval_s(rule: Mapping[str, Any], item: crm.Item) -> int | None:
    """A check-in rule's interval for this deal, None when its field gives none."""
    if rule["interval_from"] == c.FIXED:
        return int(rule["every_minutes"]) * 60
    if rule["interval_from"] == c.FROM_FIELD:
        hours = _number(item.fields.get(rule["interval_field"]))
        return int(hours * 3600) if hours and hours > 0 else None
    km = _number(item.fields.get(rule["distance_field"]))
    if km is None:
        return None
    fitting = [row for row in rule["by_distance"] if km >= row["from_km"]]
    if not fitting:
        return None
    return int(max(fitting, key=lambda row: row["from_km"])["every_minutes"]) * 60


def _number(value: Any) -> float | None:
    text = str(value if value is not None else "").split("|")[0].replace(",", ".").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _check_in(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any, memory: Memory,
              tz: str) -> Plan:
    mem, since = _in_stage(rule, item, facts, memory, tz)
    if since is None:
        return stopped(N_("not in a watched stage"), mem)
    every = interval_s(rule, item)
    if every is None:
        return stopped(NO_INTERVAL, mem)
    anchor = f"{item.stage}@{int(since)}"
    elapsed = wt.between(since, facts.now) if facts.now > since else 0
    current = int(elapsed // every)  # slots already begun; a missed run of them fires once
    if current >= 1 and f"{anchor}|slot:{current}" not in mem.done:
        return Plan(True, (Due(f"slot:{current}", wt.add(since, current * every), anchor),),
                    memory=mem)
    return Plan(True, (Due(f"slot:{current + 1}", wt.add(since, (current + 1) * every),
                           anchor),), memory=mem)


def _follow_up(rule: Mapping[str, Any], item: crm.Item, facts: Facts, wt: Any, memory: Memory,
               tz: str) -> Plan:
    if item.ref.kind != "deal":
        return stopped(N_("the item does not match the rule's filter"), memory)
    if rule["mode"] == c.ON_DATE:
        if closed(item):
            return stopped(N_("the item is closed"), memory)
        return _date(rule, item, facts, wt, memory, tz, rule["date_field"], 0, "task")
    mem, since = _in_stage(rule, item, facts, memory, tz)
    if since is None:
        return stopped(N_("not in a watched stage"), mem)
    anchor = f"{item.stage}@{int(since)}"
    return Plan(True, _undone(mem, [Due("task", wt.add_days(since, rule["working_days"]),
                                        anchor)]), memory=mem)


KINDS = {"reaction": _reaction, "next_activity": _next_activity, "stage_limits": _stage_limit,
         "date_reminders": _date_reminder, "check_ins": _check_in, "follow_ups": _follow_up}
assert tuple(KINDS) == c.KINDS
