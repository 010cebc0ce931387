"""Distribution I/O through the CRM port: one read, the pure decision, one write and answer.

At steady state a distribution costs two requests however large the group (Bitrix24: one
read batch, one write batch): the read fetches the item, every member and their work-day
status (and, once some client is pinned to a manager, the client's duplicates by phone and
e-mail); the write assigns, posts the reason to the supervisors' chat and answers the robot
(halting at the first failure, so a failed assignment is never reported as done).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import Permanent
from connector.i18n import N_, t
from connector.once import once
from connector.triggers import already_answered, mark_answered
from robots.distribution import policy
from robots.distribution.config import Group
from robots.distribution.entities import label
from robots.distribution.state import DistributionState, item_key

log = logging.getLogger(__name__)
DAY = {"working": policy.OPENED, "paused": policy.PAUSED, "closed": policy.CLOSED,
       "expired": policy.EXPIRED, "not_started": policy.NOT_STARTED, "unknown": "unknown"}


class DistributionError(Permanent):
    """A problem the admin must fix (scope, settings); its text is the robot's answer."""


@dataclass
class Outcome:
    status: str  # assigned | pending | skipped
    user_id: int | None
    reason: str
    answered: bool = False

    def robot_values(self) -> dict[str, Any]:
        """Return values; a `user` value is `user_<id>` in the workflow engine."""
        return {"assigned_user_id": f"user_{self.user_id}" if self.user_id else "",
                "reason": self.reason, "status": self.status, "error": ""}


@dataclass
class Env:
    """What the engine needs from the job: the CRM, state, language. Built by the caller."""

    crm: crm.CrmPort
    state: DistributionState
    answered: Callable[[str], bool]
    mark_answered: Callable[[str], None]
    lang: str = "ru"
    audit_days: int = 90


NAME = "distribution"


def state_for(ctx: JobContext) -> DistributionState:
    return DistributionState(ctx.redis, ctx.of(NAME).key(), ctx.tz)


def env_for(ctx: JobContext) -> Env:
    return Env(ctx.crm, state_for(ctx),
               answered=lambda token: already_answered(ctx, token),
               mark_answered=lambda token: mark_answered(ctx, token),
               lang=ctx.lang, audit_days=ctx.settings["distribution"]["audit_days"])


def _membership(group: Group) -> str:
    """The members cache's name: per group and membership, so a saved change of its users or
    departments takes effect at once (only who joined a department waits for the cache)."""
    digest = hashlib.sha256(json.dumps([group.users, group.departments]).encode())
    return f"{group.id}:{digest.hexdigest()[:12]}"


def resolve_members(env: Env, group: Group) -> list[int]:
    """Users and department members (active ones), cached for ten minutes."""
    cached = env.state.cached_members(_membership(group))
    if cached is not None:
        return cached
    ids = list(dict.fromkeys(group.users))
    if group.departments:
        found = env.crm.read({"d": crm.DepartmentMembers(tuple(group.departments))}).get("d")
        ids += [p.id for p in found if p.id not in ids]
    env.state.cache_members(_membership(group), ids)
    return ids


def queries(env: Env, ref: crm.ItemRef, members: list[int]) -> dict[str, crm.Query]:
    """What one distribution reads; also what an event delivery reads on its behalf."""
    out: dict[str, crm.Query] = {"item": crm.GetItem(ref)} if ref.id else {}
    if ref.kind == "lead" and ref.id and env.state.has_pins():
        out["dups"] = crm.Duplicates(ref)
    if members:
        out["people"] = crm.GetPeople(tuple(members), availability=True)
    return out


def _pinned(env: Env, item: crm.Item, dups: Mapping[str, list[int]]) -> int | None:
    for cid in item.contact_ids:
        if (uid := env.state.pinned("contact", cid)) is not None:
            return uid
    if item.company_id and (uid := env.state.pinned("company", item.company_id)) is not None:
        return uid
    for kind in ("contact", "company"):
        for cid in dups.get(kind) or []:
            if (uid := env.state.pinned(kind, cid)) is not None:
                return uid
    return None


def build_members(group: Group, members: list[int], reading: crm.Reading,
                  loads: dict[int, Any]) -> list[policy.Member]:
    try:
        people: dict[int, crm.Person] = reading.get("people") or {}
    except crm.MissingScope as exc:
        raise DistributionError(N_(
            "the app has no access to time tracking (scope 'timeman'): grant it in the "
            "app's settings and reinstall")) from exc
    out = []
    for uid in members:
        person = people.get(uid) or crm.Person(uid, active=False)
        load = loads[uid]
        out.append(policy.Member(
            user_id=uid, name=person.name, day=DAY.get(person.availability, "unknown"),
            active=person.active, weight=group.weight(uid), in_work=load.in_work,
            today=load.today, month=load.month, last_assigned_at=load.last))
    return out


def _chat(env: Env, group: Group) -> int:
    """The supervisors' chat: configured, or created once per group (items of one group
    distributed at once by several workers share one chat) and remembered."""
    if group.chat_id:
        return group.chat_id
    if not group.supervisors:
        return env.state.chat_id(group.id)

    def make() -> int:
        chat_id = env.crm.create_chat(
            t(env.lang, N_("Distribution: {group}"), group=group.name),
            tuple(group.supervisors),
            t(env.lang, N_("Every assignment of this group with its reason, and items waiting "
                           "for someone to start the work day.")))
        env.state.set_chat_id(group.id, chat_id)
        return chat_id

    return once(env.state.redis, env.state.g(group.id, "chat-lock"),
                lambda: env.state.chat_id(group.id), make)


def _item_link(env: Env, ref: crm.ItemRef, title: str) -> str:
    return env.crm.link(env.crm.item_link(ref), f"{label(env.lang, ref)} {title}".strip())


def _pending_entry(ref: crm.ItemRef, event_token: str) -> dict[str, Any]:
    return {"entity": ref.kind, "id": ref.id, "token": event_token}


def _team(env: Env, group: Group, members: list[int], reading: crm.Reading,
          pinned: int | None) -> tuple[list[policy.Member], policy.Decision]:
    """The members with their loads now, and the rule's choice among them."""
    team = build_members(group, members, reading, env.state.loads(group.id, members))
    return team, policy.decide(team, group.rule, caps(group), pinned, lang=env.lang)


def caps(group: Group) -> policy.Caps:
    return policy.Caps(group.max_in_work, group.max_per_day)


@dataclass(frozen=True)
class Candidate:
    """One member in a dry run: the facts the rule read and what it made of them."""

    member: policy.Member
    skip: str | None  # a policy.SKIP_TEXT key: why they cannot receive now; None = eligible
    chosen: bool
    pinned: bool  # the item's client is pinned to them


@dataclass(frozen=True)
class DryRun:
    """Whom the rule would choose for an item now and why; nothing assigned or written."""

    ref: crm.ItemRef
    title: str
    outcome: Outcome
    candidates: tuple[Candidate, ...] = ()
    pinned: int | None = None


def dry_run(env: Env, group: Group, ref: crm.ItemRef) -> DryRun:
    """The same reads and decision as a real distribution (ref.id 0: the group's next item),
    without the lock, the counters or any write to the CRM (the admin page and the CLI)."""
    lang = env.lang
    if ref.kind not in group.entity_types:
        raise DistributionError(t(lang, N_("group '{group}' does not serve {kind} items"),
                                  group=group.id, kind=ref.kind))
    members = resolve_members(env, group)
    reading = env.crm.read(queries(env, ref, members))
    item = crm.Item(ref, t(lang, N_("(next item)")))
    if ref.id:
        try:
            item = reading.get("item")
        except crm.NotFound:
            return DryRun(ref, "", Outcome("skipped", None, t(
                lang, N_("{item} not found (deleted?)"), item=label(lang, ref))))
    pinned = _pinned(env, item, reading.values.get("dups") or {}) if ref.id else None
    team, decision = _team(env, group, members, reading, pinned)
    limits = caps(group)
    rows = tuple(Candidate(m, policy.skip_reason(m, limits), m.user_id == decision.user_id,
                           m.user_id == pinned) for m in team)
    status = "assigned" if decision.assigned else "pending"
    return DryRun(ref, item.title, Outcome(status, decision.user_id, decision.reason), rows,
                  pinned)


def distribute(env: Env, group: Group, ref: crm.ItemRef, *, event_token: str = "",
               force: bool = False, trigger: str = "robot",
               reading: crm.Reading | None = None) -> Outcome:
    """Assign one item of a group, or queue it when nobody can receive. Idempotent per item.

    `reading` may hold what an event delivery already read for this item and group.
    """
    lang = env.lang
    done = env.state.get_done(ref.kind, ref.id)
    if done and done.get("applied"):
        outcome = Outcome("assigned", done["user_id"], done["reason"])
        _finish_robot(env, event_token, outcome)
        return outcome
    if ref.kind not in group.entity_types:
        raise DistributionError(t(lang, N_("group '{group}' does not serve {kind} items"),
                                  group=group.id, kind=ref.kind))
    members = resolve_members(env, group)
    if not members:
        raise DistributionError(t(lang, N_("group '{group}' has no active members"),
                                  group=group.id))
    wanted = queries(env, ref, members)
    if reading is None or any(k not in reading.values and k not in reading.errors
                              for k in wanted):
        reading = env.crm.read(wanted)
    if ref.id:
        try:
            item = reading.get("item")
        except crm.NotFound:
            outcome = Outcome("skipped", None, t(lang, N_("{item} not found (deleted?)"),
                                                 item=label(lang, ref)))
            return _close(env, group, ref, outcome, event_token, trigger)
    else:
        item = crm.Item(ref, t(lang, N_("(next item)")))
    placeholders = set(group.placeholder_user_ids) or {item.created_by}
    if not force and ref.id and item.assigned and item.assigned not in placeholders and not (
            done and done.get("user_id") == item.assigned):
        outcome = Outcome("skipped", item.assigned, t(
            lang, N_("{item} was already assigned by hand to user {user}; left as it is"),
            item=label(lang, ref), user=item.assigned))
        return _close(env, group, ref, outcome, event_token, trigger)
    if done:  # decided earlier, the write did not finish: same decision
        decision = policy.Decision(done["user_id"], done["reason"], group.rule)
        return _apply(env, group, ref, item.title, decision, event_token, trigger)
    pinned = _pinned(env, item, reading.values.get("dups") or {})
    with env.state.group_lock(group.id):
        team, decision = _team(env, group, members, reading, pinned)
        if decision.assigned:
            env.state.bump(group.id, decision.user_id)
            name = next((m.name for m in team if m.user_id == decision.user_id), "")
            env.state.put_done(ref.kind, ref.id, {"user_id": decision.user_id, "name": name,
                                                  "reason": decision.reason, "applied": False,
                                                  "group": group.id})
    if not decision.assigned:
        return _park(env, group, ref, item.title, decision, event_token, trigger)
    return _apply(env, group, ref, item.title, decision, event_token, trigger)


def _apply(env: Env, group: Group, ref: crm.ItemRef, title: str, decision: policy.Decision,
           event_token: str, trigger: str) -> Outcome:
    outcome = Outcome("assigned", decision.user_id, decision.reason)
    ops: dict[str, crm.Op] = {"assign": crm.Assign(ref, decision.user_id)}
    chat_id = _chat(env, group)
    if chat_id:
        ops["chat"] = crm.PostToChat(chat_id, f"{_item_link(env, ref, title)} → "
                                              f"{env.crm.mention(decision.user_id)}: "
                                              f"{decision.reason}")
    answer = bool(event_token) and not env.answered(event_token)
    if answer:
        ops["answer"] = crm.AnswerTrigger(event_token, outcome.robot_values(), t(
            env.lang, N_("Responsible chosen: {reason}"), reason=decision.reason))
    done = env.crm.apply(ops, halt=True)  # a failed request is retried; the decision is kept
    if "assign" in done.errors:
        err = done.errors["assign"]
        env.state.bump(group.id, decision.user_id, -1)
        env.state.drop_done(ref.kind, ref.id)
        if isinstance(err, crm.NotFound):
            outcome = Outcome("skipped", None, t(
                env.lang, N_("{item} disappeared before it could be assigned"),
                item=label(env.lang, ref)))
            return _close(env, group, ref, outcome, event_token, trigger)
        raise err
    before = env.state.get_done(ref.kind, ref.id) or {}
    env.state.put_done(ref.kind, ref.id, {"user_id": decision.user_id,
                                          "name": before.get("name", ""),
                                          "reason": decision.reason, "applied": True,
                                          "group": group.id})
    if answer and "answer" not in done.errors:
        env.mark_answered(event_token)
        outcome.answered = True
    elif answer:
        _finish_robot(env, event_token, outcome)
    env.state.remove_pending(group.id, _pending_entry(ref, event_token))
    env.state.audit({"item": item_key(ref.kind, ref.id), "group": group.id, "trigger": trigger,
                     "status": "assigned", "user_id": decision.user_id,
                     "reason": decision.reason,
                     "skipped": {str(k): v for k, v in decision.skipped.items()},
                     "repeat_client": decision.repeat_client}, env.audit_days)
    return outcome


def _park(env: Env, group: Group, ref: crm.ItemRef, title: str, decision: policy.Decision,
          event_token: str, trigger: str) -> Outcome:
    """Nobody can receive: keep the item pending, tell the supervisors once, re-check later."""
    lang = env.lang
    reason = decision.reason + t(lang, N_(". Not assigned: it waits in the queue and is "
                                          "re-checked every {minutes} min"),
                                 minutes=group.recheck_minutes)
    outcome = Outcome("pending", None, reason)
    first = env.state.add_pending(group.id, _pending_entry(ref, event_token))
    if first:
        ops: dict[str, crm.Op] = {}
        chat_id = _chat(env, group)
        if chat_id:
            ops["chat"] = crm.PostToChat(chat_id, t(lang, N_("[B]Waiting:[/B] {item} — {reason}"),
                                                    item=_item_link(env, ref, title),
                                                    reason=reason))
        else:
            for uid in group.supervisors:
                ops[f"notify{uid}"] = crm.NotifyUser(uid, t(
                    lang, N_("{item} waits: {reason}"), item=label(lang, ref), reason=reason),
                    f"cc-dist-{group.id}-{ref.kind}-{ref.id}")
        if event_token:
            ops["log"] = crm.LogToTrigger(event_token, reason)
        env.crm.apply(ops)
        env.state.audit({"item": item_key(ref.kind, ref.id), "group": group.id,
                         "trigger": trigger, "status": "pending", "user_id": None,
                         "reason": reason,
                         "skipped": {str(k): v for k, v in decision.skipped.items()}},
                        env.audit_days)
    return outcome


def _close(env: Env, group: Group, ref: crm.ItemRef, outcome: Outcome, event_token: str,
           trigger: str) -> Outcome:
    """An item that will not be distributed: answer, drop from pending, log why."""
    env.state.remove_pending(group.id, _pending_entry(ref, event_token))
    _finish_robot(env, event_token, outcome)
    env.state.audit({"item": item_key(ref.kind, ref.id), "group": group.id,
                     "trigger": trigger, "status": outcome.status, "user_id": outcome.user_id,
                     "reason": outcome.reason}, env.audit_days)
    return outcome


def _finish_robot(env: Env, event_token: str, outcome: Outcome) -> None:
    if not event_token or env.answered(event_token):
        return
    with contextlib.suppress(crm.TriggerGone):
        env.crm.answer_trigger(event_token, outcome.robot_values(), outcome.reason)
    env.mark_answered(event_token)
    outcome.answered = True
