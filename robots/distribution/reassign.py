"""Reassignment for other capabilities: the next person of a group, never who missed it.

Watchdogs escalate a missed reaction time ("reassign through fair distribution") and move a
deal past its stage limit to "a new responsible". The item is assigned already, so the
normal distribution would stop at its "done" record or at "assigned by hand, left as it
is"; this path takes the group's rule over the members minus the excluded people and the
current responsible. Each call is recorded per (item, call key) together with the move of
the workload counters, in one Redis transaction: a retry after a crash applies the same
person and counts nothing twice. Costs one read and one write, as a distribution does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t
from robots.distribution import config, policy
from robots.distribution.engine import (
    DistributionError,
    Env,
    _chat,
    _item_link,
    _pinned,
    build_members,
    caps,
    env_for,
    queries,
    resolve_members,
)
from robots.distribution.entities import label
from robots.distribution.state import item_key

ASSIGNED, KEPT = "assigned", "kept"


def call_key(group_id: str, exclude: Iterable[int], reason: str, key: str = "") -> str:
    """One call's identity: the caller's key, else what it asked (group, excluded, reason)."""
    what = key or json.dumps([group_id, sorted(exclude), reason], ensure_ascii=False)
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def group_for(settings: dict[str, Any], group_id: str, kind: str) -> config.Group | None:
    """The named group; "" = the only group, or the first one that serves `kind`."""
    groups = config.groups(settings)
    if group_id:
        return next((g for g in groups if g.id == group_id), None)
    if len(groups) == 1:
        return groups[0]
    return next((g for g in groups if kind in g.entity_types), None)


def _answer(status: str, user_id: int, reason: str) -> dict[str, Any]:
    return {"status": status, "user_id": int(user_id or 0), "reason": reason}


def _name(people: dict[int, crm.Person], uid: int, lang: str) -> str:
    person = people.get(uid)
    return policy.Member(uid, person.name if person else "").label(lang)


def _kept(env: Env, group_id: str, ref: crm.ItemRef, key: str, user_id: int,
          text: str) -> dict[str, Any]:
    """Nobody can take it: it stays where it is, and the decision log says why (once)."""
    if env.state.first_time(key):
        env.state.audit({"item": item_key(ref.kind, ref.id), "group": group_id,
                         "trigger": "reassign", "status": KEPT, "user_id": user_id or None,
                         "reason": text}, env.audit_days)
    return _answer(KEPT, user_id, text)


def reassign_item(env: Env, group: config.Group, ref: crm.ItemRef, exclude: tuple[int, ...],
                  why: str, call: str) -> dict[str, Any]:
    """Hand `ref` to the next member of `group` by its rule, outside `exclude` and its
    current responsible; {"status": "assigned"|"kept", "user_id", "reason"}."""
    lang = env.lang
    key = env.state.reassign_key(ref.kind, ref.id, call)
    record = env.state.get_reassign(key)
    if record and record["applied"]:
        return _answer(ASSIGNED, record["user_id"], record["reason"])
    members = resolve_members(env, group)
    reading = env.crm.read(queries(env, ref, list(dict.fromkeys([*members, *exclude]))))
    try:
        item = reading.get("item")
    except crm.NotFound:
        return _kept(env, group.id, ref, key, 0, t(
            lang, N_("{why}; {item} not found (deleted?)"), why=why, item=label(lang, ref)))
    if ref.kind not in group.entity_types:
        return _kept(env, group.id, ref, key, item.assigned, t(
            lang, N_("{why}; group '{group}' does not serve {kind} items"), why=why,
            group=group.id, kind=ref.kind))
    if record is None:  # else chosen before a crash: the same person
        record = _choose(env, group, members, reading, item, exclude, why, key)
        if record["status"] == KEPT:
            return _kept(env, group.id, ref, key, item.assigned, record["reason"])
    return _apply(env, group, ref, item, record, key)


def _choose(env: Env, group: config.Group, members: list[int], reading: crm.Reading,
            item: crm.Item, exclude: tuple[int, ...], why: str, key: str) -> dict[str, Any]:
    """Under the group's lock: the rule's choice, recorded with the counters' move; a
    {"status": "kept"} record (not stored) when nobody can take it."""
    lang = env.lang
    old = item.assigned
    barred = {*exclude, old}
    people: dict[int, crm.Person] = reading.values.get("people") or {}
    others = [_name(people, uid, lang) for uid in dict.fromkeys(exclude) if uid != old]
    barring = t(lang, N_("; excluded: {people}"), people=", ".join(others)) if others else ""

    def kept(choice: str) -> dict[str, Any]:
        return {"status": KEPT, "reason": t(lang, N_("{why}; kept with {old}: {choice}"),
                                            why=why, old=_name(people, old, lang),
                                            choice=choice) + barring}

    with env.state.group_lock(group.id):
        loads = env.state.loads(group.id, members)
        try:
            team = [m for m in build_members(group, members, reading, loads)
                    if m.user_id not in barred]
        except DistributionError as exc:
            return kept(t(lang, str(exc)))
        if not team:
            return kept(t(lang, N_("nobody else in the group")))
        pinned = _pinned(env, item, reading.values.get("dups") or {})
        decision = policy.decide(team, group.rule, caps(group),
                                 None if pinned in barred else pinned, lang=lang)
        if not decision.assigned:
            return kept(decision.reason)
        counted = old if old in members and loads[old].in_work > 0 else None
        record = {"status": ASSIGNED, "user_id": decision.user_id, "from": old,
                  "counted_from": counted, "applied": False, "group": group.id,
                  "name": next(m.name for m in team if m.user_id == decision.user_id),
                  "reason": t(lang, N_("{why}; reassigned from {old}: {choice}"), why=why,
                              old=_name(people, old, lang), choice=decision.reason)
                  + barring,
                  "skipped": {str(k): v for k, v in decision.skipped.items()}}
        env.state.begin_reassign(group.id, key, record, counted, decision.user_id)
    return record


def _apply(env: Env, group: config.Group, ref: crm.ItemRef, item: crm.Item,
           record: dict[str, Any], key: str) -> dict[str, Any]:
    """Write the recorded choice (the same on a retry); then distribution's own records."""
    new = int(record["user_id"])
    ops: dict[str, crm.Op] = {"assign": crm.Assign(ref, new)}
    chat_id = _chat(env, group)
    if chat_id:
        ops["chat"] = crm.PostToChat(chat_id, f"{_item_link(env, ref, item.title)} → "
                                              f"{env.crm.mention(new)}: {record['reason']}")
    done = env.crm.apply(ops, halt=True)
    if "assign" in done.errors:
        err = done.errors["assign"]
        if not isinstance(err, crm.NotFound):
            raise err  # retried: the record keeps the choice and the counters as they are
        env.state.begin_reassign(group.id, key, record, record.get("counted_from"), new,
                                 undo=True)
        return _kept(env, group.id, ref, key, 0, t(
            env.lang, N_("{item} disappeared before it could be assigned"),
            item=label(env.lang, ref)))
    env.state.put_done(ref.kind, ref.id, {"user_id": new, "name": record["name"],
                                          "reason": record["reason"], "applied": True,
                                          "group": group.id})
    env.state.audit({"item": item_key(ref.kind, ref.id), "group": group.id,
                     "trigger": "reassign", "status": ASSIGNED, "user_id": new,
                     "from": record["from"], "reason": record["reason"],
                     "skipped": record["skipped"]}, env.audit_days)
    env.state.put_reassign(key, {**record, "applied": True})
    return _answer(ASSIGNED, new, record["reason"])


def reassign(ctx: JobContext, ref: crm.ItemRef, group_id: str, exclude: tuple[int, ...],
             reason: str, *, key: str = "") -> dict[str, Any]:
    """The published service "reassign" (ctx is the caller's job context).

    Idempotent per (item, call key): `key` names the caller's step (e.g. the watchdog's
    rule, step and due time); without it the call is known by group, exclude and reason.
    Returns {"status": "assigned"|"kept", "user_id": int, "reason": str}; "kept" leaves
    the item with its current responsible (user_id, 0 when the item is gone) and says why.
    """
    exclude = tuple(int(u) for u in exclude)
    call = call_key(group_id, exclude, reason, key)
    env = env_for(ctx)
    group = group_for(ctx.settings, group_id, ref.kind)
    if group is None:
        try:
            current = ctx.crm.item(ref).assigned
        except crm.NotFound:
            current = 0
        why = t(env.lang, N_("{why}; unknown distribution group '{group}'"), why=reason,
                group=group_id) if group_id else t(
            env.lang, N_("{why}; no distribution group serves {kind} items"), why=reason,
            kind=ref.kind)
        out = _kept(env, group_id, ref, env.state.reassign_key(ref.kind, ref.id, call),
                    current, why)
    else:
        out = reassign_item(env, group, ref, exclude, reason, call)
    if out["status"] == ASSIGNED:
        ctx.remember(ref, N_("Responsible changed: {reason}"), reason=out["reason"],
                     identity=f"reassigned:{call}")
    else:
        ctx.remember(ref, N_("Responsible kept: {reason}"), reason=out["reason"],
                     identity=f"kept:{call}")
    return out
