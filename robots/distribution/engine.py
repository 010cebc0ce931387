"""Distribution I/O: one batch to read, the pure decision, one batch to write and answer.

At steady state a distribution costs two HTTP requests however large the group: the read
batch fetches the item, every member's work-day status, their active flags and the client's
duplicates by phone/e-mail; the write batch assigns, posts the reason to the supervisors'
chat and answers the robot (with halt, so a failed assignment is never reported as done).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from connector.bitrix.errors import BitrixError
from connector.bitrix.rest import BitrixClient, Command
from connector.errors import Permanent
from robots.distribution import policy
from robots.distribution.config import Group
from robots.distribution.entities import EntityKind, ItemFacts
from robots.distribution.state import DistributionState, item_key

log = logging.getLogger(__name__)
TIMEMAN_STATES = {"OPENED", "PAUSED", "CLOSED", "EXPIRED"}


class DistributionError(Permanent):
    """A problem the admin must fix (scope, settings); its text is the robot's answer."""


@dataclass
class Outcome:
    status: str  # assigned | pending | skipped
    user_id: int | None
    reason: str
    answered: bool = False

    def robot_values(self) -> dict[str, Any]:
        return {"assigned_user_id": self.user_id or "", "reason": self.reason,
                "status": self.status, "error": ""}


@dataclass
class Env:
    """What the engine needs from the job: REST, state, portal facts. Built by the caller."""

    rest: BitrixClient
    state: DistributionState
    domain: str
    answered: Any  # callable(token) -> bool
    mark_answered: Any  # callable(token) -> None
    audit_days: int = 90


def _name(user: dict[str, Any]) -> str:
    full = f"{user.get('NAME') or ''} {user.get('LAST_NAME') or ''}".strip()
    return full or f"user {user.get('ID')}"


def _active(user: dict[str, Any]) -> bool:
    return user.get("ACTIVE") in (True, "Y", "1", 1, "true")


def resolve_members(env: Env, group: Group) -> list[int]:
    """Users and department members (active ones), cached for ten minutes."""
    cached = env.state.cached_members(group.id)
    if cached is not None:
        return cached
    ids = list(dict.fromkeys(group.users))
    if group.departments:
        cmds: dict[str, Command] = {
            f"d{d}": ("user.get", {"FILTER": {"UF_DEPARTMENT": d, "ACTIVE": True}})
            for d in group.departments}
        res = env.rest.batch(cmds)
        for key in cmds:
            for user in res.result.get(key) or []:
                uid = int(user["ID"])
                if uid not in ids and _active(user):
                    ids.append(uid)
    env.state.cache_members(group.id, ids)
    return ids


def read(env: Env, kind: EntityKind, item_id: int, members: list[int]) -> dict[str, Any]:
    cmds: dict[str, Command] = {"item": kind.get(item_id)} if item_id else {}
    if kind.name == "lead" and item_id:
        for comm in ("PHONE", "EMAIL"):
            cmds[f"dup_{comm}"] = ("crm.duplicate.findbycomm", {
                "type": comm, "values": [f"$result[item][{comm}][0][VALUE]"]})
    if members:
        cmds["users"] = ("user.get", {"FILTER": {"ID": members}})
    for uid in members:
        cmds[f"tm{uid}"] = ("timeman.status", {"USER_ID": uid})
    res = env.rest.batch(cmds)
    return {"res": res, "cmds": cmds}


def _pinned(env: Env, facts: Any, res: Any) -> int | None:
    for cid in facts.contact_ids:
        if (uid := env.state.pinned("contact", cid)) is not None:
            return uid
    if facts.company_id and (uid := env.state.pinned("company", facts.company_id)) is not None:
        return uid
    for comm in ("PHONE", "EMAIL"):
        found = res.result.get(f"dup_{comm}")
        if isinstance(found, dict):
            for kind, key in (("CONTACT", "contact"), ("COMPANY", "company")):
                for cid in found.get(kind) or []:
                    if (uid := env.state.pinned(key, int(cid))) is not None:
                        return uid
    return None


def build_members(group: Group, members: list[int], res: Any, loads: dict[int, Any]
                  ) -> list[policy.Member]:
    users = {int(u["ID"]): u for u in (res.result.get("users") or []) if isinstance(u, dict)}
    out = []
    for uid in members:
        tm_err = res.errors.get(f"tm{uid}")
        if tm_err is not None and tm_err.code in ("insufficient_scope", "ERROR_METHOD_NOT_FOUND"):
            raise DistributionError(
                "the app has no access to time tracking (scope 'timeman'): grant it in the "
                "app's settings and reinstall")
        tm = res.result.get(f"tm{uid}") or {}
        day = str(tm.get("STATUS") or "") if isinstance(tm, dict) else ""
        if day == "CLOSED" and not (tm.get("TIME_START") if isinstance(tm, dict) else None):
            day = policy.NOT_STARTED
        elif day not in TIMEMAN_STATES:
            day = "unknown" if tm_err is not None else policy.NOT_STARTED
        user = users.get(uid)
        load = loads[uid]
        out.append(policy.Member(
            user_id=uid, name=_name(user) if user else "", day=day,
            active=bool(user) and _active(user), weight=group.weight(uid),
            in_work=load.in_work, today=load.today, month=load.month,
            last_assigned_at=load.last))
    return out


def _chat(env: Env, group: Group) -> int:
    """The supervisors' chat: configured, or created once and remembered."""
    if group.chat_id:
        return group.chat_id
    chat_id = env.state.chat_id(group.id)
    if chat_id or not group.supervisors:
        return chat_id
    chat_id = int(env.rest.call("im.chat.add", {
        "TYPE": "CHAT", "USERS": list(group.supervisors),
        "TITLE": f"Distribution: {group.name}",
        "DESCRIPTION": "Every assignment of this group with its reason, and items waiting "
                       "for someone to start the work day.",
    }))
    env.state.set_chat_id(group.id, chat_id)
    return chat_id


def _chat_post(env: Env, group: Group, kind: EntityKind, item_id: int, title: str,
               text: str) -> Command | None:
    """A message about one item for the supervisors' chat, or None when there is no chat."""
    chat_id = _chat(env, group)
    if not chat_id:
        return None
    link = kind.link(env.domain, item_id)
    return "im.message.add", {
        "DIALOG_ID": f"chat{chat_id}", "URL_PREVIEW": "N",
        "MESSAGE": text.replace("{item}", f"[URL={link}]{kind.label(item_id)} {title}[/URL]")}


def _pending_entry(kind: EntityKind, item_id: int, event_token: str) -> dict[str, Any]:
    return {"entity": kind.name, "id": item_id, "token": event_token}


def _answer_cmd(token: str, values: dict[str, Any], message: str) -> Command:
    return "bizproc.event.send", {"EVENT_TOKEN": token, "RETURN_VALUES": values,
                                  "LOG_MESSAGE": message[:900]}


def distribute(env: Env, group: Group, kind: EntityKind, item_id: int, *,
               event_token: str = "", force: bool = False, trigger: str = "robot",
               dry_run: bool = False) -> Outcome:
    """Assign one item of a group, or queue it when nobody can receive. Idempotent per item."""
    ikey = item_key(kind.name, item_id)
    done = env.state.get_done(kind.name, item_id)
    if done and done.get("applied") and not dry_run:
        outcome = Outcome("assigned", done["user_id"], done["reason"])
        _finish_robot(env, event_token, outcome)
        return outcome
    if kind.name not in group.entity_types:
        raise DistributionError(f"group '{group.id}' does not serve {kind.name} items")
    members = resolve_members(env, group)
    if not members:
        raise DistributionError(f"group '{group.id}' has no active members")
    data = read(env, kind, item_id, members)
    res = data["res"]
    item_err = res.errors.get("item")
    if item_err is not None and item_err.code not in ("ERROR_NOT_FOUND", "NOT_FOUND",
                                                       "ERROR_ARGUMENT", "ERROR_CORE"):
        raise item_err
    facts = kind.facts(res.result.get("item")) if item_id else ItemFacts(True, "(next item)")
    if not facts.exists:
        outcome = Outcome("skipped", None, f"{kind.label(item_id)} not found (deleted?)")
        return _close(env, group, kind, item_id, outcome, event_token, trigger, dry_run)
    placeholders = set(group.placeholder_user_ids) or {facts.created_by}
    if not force and item_id and facts.assigned and facts.assigned not in placeholders and not (
            done and done.get("user_id") == facts.assigned):
        outcome = Outcome("skipped", facts.assigned,
                          f"{kind.label(item_id)} was already assigned by hand to user "
                          f"{facts.assigned}; left as it is")
        return _close(env, group, kind, item_id, outcome, event_token, trigger, dry_run)
    if done and not dry_run:  # decided earlier, the write did not finish: same decision
        decision = policy.Decision(done["user_id"], done["reason"], group.rule)
        return _apply(env, group, kind, item_id, facts.title, decision, event_token, trigger,
                      ikey)
    pinned = _pinned(env, facts, res)
    with env.state.group_lock(group.id):
        loads = env.state.loads(group.id, members)
        team = build_members(group, members, res, loads)
        decision = policy.decide(team, group.rule,
                                 policy.Caps(group.max_in_work, group.max_per_day), pinned)
        if dry_run:
            status = "assigned" if decision.assigned else "pending"
            return Outcome(status, decision.user_id, decision.reason)
        if decision.assigned:
            env.state.bump(group.id, decision.user_id)
            env.state.put_done(kind.name, item_id, {"user_id": decision.user_id,
                                                    "reason": decision.reason, "applied": False,
                                                    "group": group.id})
    if not decision.assigned:
        return _park(env, group, kind, item_id, facts.title, decision, event_token, trigger)
    return _apply(env, group, kind, item_id, facts.title, decision, event_token, trigger, ikey)


def _apply(env: Env, group: Group, kind: EntityKind, item_id: int, title: str,
           decision: policy.Decision, event_token: str, trigger: str, ikey: str) -> Outcome:
    outcome = Outcome("assigned", decision.user_id, decision.reason)
    cmds: dict[str, Command] = {"assign": kind.assign(item_id, decision.user_id)}
    post = _chat_post(env, group, kind, item_id, title,
                      f"{{item}} → [USER={decision.user_id}][/USER]: {decision.reason}")
    if post:
        cmds["chat"] = post
    answer = bool(event_token) and not env.answered(event_token)
    if answer:
        cmds["answer"] = _answer_cmd(event_token, outcome.robot_values(), decision.reason)
    try:
        res = env.rest.batch(cmds, halt=True)
    except BitrixError:
        raise  # retryable: the 'decided' record makes the next run reuse this decision
    if "assign" in res.errors:
        err = res.errors["assign"]
        env.state.bump(group.id, decision.user_id, -1)
        env.state.drop_done(kind.name, item_id)
        if err.code in ("ERROR_NOT_FOUND", "NOT_FOUND"):
            outcome = Outcome("skipped", None, f"{kind.label(item_id)} disappeared before "
                                               "it could be assigned")
            return _close(env, group, kind, item_id, outcome, event_token, trigger, False)
        raise err
    env.state.put_done(kind.name, item_id, {"user_id": decision.user_id,
                                            "reason": decision.reason, "applied": True,
                                            "group": group.id})
    if answer and "answer" not in res.errors:
        env.mark_answered(event_token)
        outcome.answered = True
    elif answer:
        _finish_robot(env, event_token, outcome)
    env.state.remove_pending(group.id, _pending_entry(kind, item_id, event_token))
    env.state.audit({"item": ikey, "group": group.id, "trigger": trigger, "status": "assigned",
                     "user_id": decision.user_id, "reason": decision.reason,
                     "skipped": {str(k): v for k, v in decision.skipped.items()},
                     "repeat_client": decision.repeat_client}, env.audit_days)
    return outcome


def _park(env: Env, group: Group, kind: EntityKind, item_id: int, title: str,
          decision: policy.Decision, event_token: str, trigger: str) -> Outcome:
    """Nobody can receive: keep the item pending, tell the supervisors once, re-check later."""
    reason = (f"{decision.reason}. Not assigned: it waits in the queue and is re-checked every "
              f"{group.recheck_minutes} min")
    outcome = Outcome("pending", None, reason)
    first = env.state.add_pending(group.id, _pending_entry(kind, item_id, event_token))
    if first:
        cmds: dict[str, Command] = {}
        post = _chat_post(env, group, kind, item_id, title, f"[B]Waiting:[/B] {{item}} — {reason}")
        if post:
            cmds["chat"] = post
        elif group.supervisors:
            for uid in group.supervisors:
                cmds[f"notify{uid}"] = ("im.notify.system.add", {
                    "USER_ID": uid, "MESSAGE": f"{kind.label(item_id)} waits: {reason}",
                    "TAG": f"cc-dist-{group.id}-{kind.name}-{item_id}"})
        if event_token:
            cmds["log"] = ("bizproc.activity.log", {"EVENT_TOKEN": event_token,
                                                    "LOG_MESSAGE": reason[:900]})
        if cmds:
            env.rest.batch(cmds)
        env.state.audit({"item": item_key(kind.name, item_id), "group": group.id,
                         "trigger": trigger, "status": "pending", "user_id": None,
                         "reason": reason,
                         "skipped": {str(k): v for k, v in decision.skipped.items()}},
                        env.audit_days)
    return outcome


def _close(env: Env, group: Group, kind: EntityKind, item_id: int, outcome: Outcome,
           event_token: str, trigger: str, dry_run: bool) -> Outcome:
    """An item that will not be distributed: answer, drop from pending, log why."""
    if dry_run:
        return outcome
    env.state.remove_pending(group.id, _pending_entry(kind, item_id, event_token))
    _finish_robot(env, event_token, outcome)
    env.state.audit({"item": item_key(kind.name, item_id), "group": group.id,
                     "trigger": trigger, "status": outcome.status, "user_id": outcome.user_id,
                     "reason": outcome.reason}, env.audit_days)
    return outcome


def _finish_robot(env: Env, event_token: str, outcome: Outcome) -> None:
    if not event_token or env.answered(event_token):
        return
    try:
        env.rest.call(*_answer_cmd(event_token, outcome.robot_values(), outcome.reason))
    except BitrixError as exc:
        if exc.code != "ACCESS_DENIED":
            raise
    env.mark_answered(event_token)
    outcome.answered = True
