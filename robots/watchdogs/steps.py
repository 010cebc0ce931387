"""What a due step does, as CRM operations and words: the task or notice, the timeline note.

Pure: given the rule, the step, the item and the people read for it, `build()` returns the
operations to apply and the audit line, or a skip with its reason (a dismissed responsible, a
reassignment with nobody to take it). The engine applies them in one write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta

from connector.crm import port as crm
from connector.history import item_label
from connector.i18n import N_, Msg, t, when
from robots.watchdogs import config as c
from robots.watchdogs.plan import Due

item_words = item_label


def delay_words(lang: str, seconds: float) -> str:
    """"30 minutes" / "22 часа": Babel's words for a duration."""
    return format_timedelta(max(60, int(seconds)), locale=lang, threshold=2,
                            granularity="minute")


@dataclass(frozen=True)
class Audience:
    """Who a step is for: the people to reach, and those skipped with the reason."""

    users: tuple[int, ...]
    skipped: Mapping[int, Msg] = field(default_factory=dict)


def audience(ids: Sequence[int], people: Mapping[int, crm.Person]) -> Audience:
    """Only active people: a dismissed one is skipped with the reason, never silently."""
    users, skipped = [], {}
    for uid in dict.fromkeys(i for i in ids if i):
        person = people.get(uid)
        if person is not None and not person.active:
            skipped[uid] = N_("dismissed")
        else:
            users.append(uid)
    return Audience(tuple(users), skipped)


def recipients(kind: str, rule: Mapping[str, Any], due: Due, item: crm.Item) -> list[int]:
    """The people a step reaches before anyone is checked (the engine reads them)."""
    if kind in ("reaction", "next_activity") and due.step.isdigit():
        step = rule["steps"][int(due.step)]
        if step["action"] == c.REMIND:
            return [item.assigned]
        if step["action"] in (c.SUPERVISORS, c.PEOPLE):
            return list(step["users"])
        return [item.assigned]  # reassign: the one who missed it is told
    if kind == "reaction" and due.step == "offer":
        return list(rule["first_of"])
    if kind == "date_reminders":
        out: list[int] = []
        if c.RESPONSIBLE in rule["recipients"]:
            out.append(item.assigned)
        if c.OBSERVERS in rule["recipients"]:
            out.extend(item.observers)
        if c.PEOPLE in rule["recipients"]:
            out.extend(rule["users"])
        return out
    if kind == "stage_limits":
        return [rule["user"]] if rule["responsible"] == c.NAMED else [item.assigned]
    return [item.assigned]


def tag(tenant: str, rule_id: str, ref: crm.ItemRef, due: Due) -> str:
    """A task tag unique per step of a rule on an item: a retried step finds its task by it."""
    digest = hashlib.sha1(f"{tenant}|{rule_id}|{ref.label}|{due.key}".encode()).hexdigest()
    return f"cc-{digest[:16]}"


@dataclass
class Step:
    """The operations of one due step and what the audit says of it."""

    ops: dict[str, crm.Op] = field(default_factory=dict)
    msgid: Msg = ""
    params: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    reassign: Mapping[str, Any] | None = None  # a hand-over through fair distribution


@dataclass(frozen=True)
class Env:
    """What `build` needs besides the rule: language, zone, links, mentions."""

    lang: str
    tz: str
    tenant: str
    link: str  # the item's link in the CRM, as the CRM's markup
    mention: Any  # user id -> markup that names the person
    now: float


def _deadline(now: float, seconds: float, tz: str) -> str:
    """ISO 8601 with the portal's offset, as tasks.task.add takes DEADLINE."""
    return datetime.fromtimestamp(now + seconds, ZoneInfo(tz)).isoformat(timespec="seconds")


def _reach(env: Env, who: Audience, channel: str, title: str, body: str, rule_id: str,
           ref: crm.ItemRef, due: Due, deadline_s: float) -> dict[str, crm.Op]:
    ops: dict[str, crm.Op] = {}
    mark = tag(env.tenant, rule_id, ref, due)
    for uid in who.users:
        if channel == c.TASK:
            ops[f"task_{uid}"] = crm.CreateTask(title, body, uid, _deadline(env.now, deadline_s,
                                                                             env.tz),
                                                ref, tag=f"{mark}-{uid}")
        else:
            ops[f"notify_{uid}"] = crm.NotifyUser(uid, f"{title}\n{body}", tag=f"{mark}-{uid}")
    return ops


def _names(env: Env, ids: Sequence[int]) -> str:
    return ", ".join(env.mention(uid) for uid in ids)


def build(kind: str, rule: Mapping[str, Any], due: Due, item: crm.Item, who: Audience,
          env: Env) -> Step:
    """The step's operations; the engine adds the timeline note from `msgid`."""
    lang, ref = env.lang, item.ref
    what = f"{item_words(lang, ref)} «{item.title}»" if item.title else item_words(lang, ref)
    params: dict[str, Any] = {"rule": rule["name"], "item": what}
    if kind == "stage_limits":
        return _move(rule, due, item, who, env, params)
    if not who.users:
        skipped = "; ".join(f"{env.mention(uid)}: {t(lang, why)}"
                            for uid, why in who.skipped.items())
        return Step(msgid=N_("Step skipped: nobody to tell ({why})"),
                    params={**params, "why": skipped or "—"}, skipped=True)
    deadline = 3600.0
    if kind in ("reaction", "next_activity") and due.step == "offer":
        title = t(lang, N_("New: {item}. The first to react takes it"), item=what)
        body = env.link
        msgid = N_("Offered to {people}: the first to react takes it")
        channel = c.NOTIFY
    elif kind in ("reaction", "next_activity"):
        step = rule["steps"][int(due.step)]
        channel = step["channel"]
        if kind == "reaction":
            title = t(lang, N_("No reaction for {delay}: {item}"), item=what,
                      delay=delay_words(lang, rule["due_minutes"] * 60 +
                                        step["after_minutes"] * 60))
        else:
            title = t(lang, N_("{item} has no planned activity: plan the next step"),
                      item=what)
        body = t(lang, N_("Rule «{rule}». Responsible: {user}. {link}"), rule=rule["name"],
                 user=env.mention(item.assigned) if item.assigned else "—", link=env.link)
        if step["action"] == c.REASSIGN:
            return Step(_reach(env, who, c.NOTIFY, title, body, rule["id"], ref, due, 0),
                        N_("Reassigned through fair distribution: {people} missed the time"),
                        {**params, "people": _names(env, who.users)},
                        reassign={"group": step["group"], "exclude": [item.assigned]})
        msgid = {c.REMIND: N_("Reminded {people}"),
                 c.SUPERVISORS: N_("Told the supervisors {people}"),
                 c.PEOPLE: N_("Told {people}")}[step["action"]]
    elif kind == "date_reminders":
        title = t(lang, N_("Reminder: {item}, {field} {when}"), item=what,
                  field=rule["name"], when=when(due.at + rule["before_minutes"] * 60, lang,
                                                env.tz, "short"))
        body = env.link
        channel = rule["channel"]
        deadline = rule["before_minutes"] * 60.0 or 3600.0
        msgid = N_("Reminded {people} of the date")
    elif kind == "check_ins":
        title = _task_title(lang, rule, item)
        body = t(lang, N_("Rule «{rule}»: while the deal is in this stage. {link}"),
                 rule=rule["name"], link=env.link)
        channel = rule["channel"]
        msgid = N_("Check-in set for {people}")
    else:  # follow_ups
        title = _task_title(lang, rule, item)
        body = t(lang, N_("Rule «{rule}». {link}"), rule=rule["name"], link=env.link)
        channel = c.TASK
        deadline = rule["task_minutes"] * 60.0
        msgid = N_("Follow-up task set for {people}")
    return Step(_reach(env, who, channel, title, body, rule["id"], ref, due, deadline), msgid,
                {**params, "people": _names(env, who.users)})


def _task_title(lang: str, rule: Mapping[str, Any], item: crm.Item) -> str:
    text = t(lang, rule["task"])
    return text.replace("{TITLE}", item.title or item_words(lang, item.ref)).replace(
        "{ID}", str(item.ref.id))


def _move(rule: Mapping[str, Any], due: Due, item: crm.Item, who: Audience, env: Env,
          params: dict[str, Any]) -> Step:
    """Stage limit: move to the follow-up pipeline, hand over if asked, set a task."""
    ops: dict[str, crm.Op] = {"move": crm.MoveItem(item.ref, str(rule["move_category"]),
                                                   rule["move_stage"])}
    reassign = None
    if rule["responsible"] == c.NAMED and who.users:
        ops["assign"] = crm.Assign(item.ref, who.users[0])
    elif rule["responsible"] == c.DISTRIBUTE:
        reassign = {"group": rule["group"], "exclude": []}
    if rule["with_task"] and rule["responsible"] != c.DISTRIBUTE and who.users:
        ops |= _reach(env, Audience(who.users[:1]), c.TASK, _task_title(env.lang, rule, item),
                      t(env.lang, N_("Rule «{rule}»: the deal stayed too long in its stage. "
                                     "{link}"), rule=rule["name"], link=env.link),
                      rule["id"], item.ref, due, rule["task_minutes"] * 60.0)
    return Step(ops, N_("Moved after {delay} in the stage"),
                {**params, "delay": delay_words(env.lang, rule["limit_minutes"] * 60)},
                reassign=reassign)
