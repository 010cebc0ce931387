"""The fair_distribution robot, the event triggers, and the periodic re-check and reconcile."""

from __future__ import annotations

from typing import Any

from connector.context import JobContext
from connector.i18n import N_
from robots.distribution import config
from robots.distribution.engine import DistributionError, Env, Outcome, distribute
from robots.distribution.entities import EntityKind, from_document
from robots.distribution.state import DistributionState
from robots.runner import Answered, already_answered, mark_answered
from robots.spec import DEAL, DYNAMIC, LEAD, Prop, RobotCall, RobotError, RobotSpec


def env_for(ctx: JobContext) -> Env:
    doc = ctx.settings
    state = DistributionState(ctx.services.redis, ctx.services.settings.queue_prefix,
                              ctx.member_id, doc["general"]["timezone"])
    return Env(ctx.rest, state, ctx.portal.domain,
               answered=lambda token: already_answered(ctx, token),
               mark_answered=lambda token: mark_answered(ctx, token),
               audit_days=doc["distribution"]["audit_days"])


def run(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    try:
        kind, item_id = from_document(call.document_id)
    except ValueError as exc:
        raise RobotError(str(exc)) from exc
    group_id = str(call.properties.get("group") or "").strip()
    groups = config.groups(ctx.settings)
    if not group_id and len(groups) == 1:
        group_id = groups[0].id
    group = config.group_by_id(ctx.settings, group_id)
    if group is None:
        known = ", ".join(g.id for g in groups) or "none configured"
        raise RobotError(f"unknown distribution group '{group_id}' (groups: {known})")
    force = str(call.properties.get("force") or "N").upper() in ("Y", "1", "TRUE")
    try:
        outcome = distribute(env_for(ctx), group, kind, item_id, event_token=call.event_token,
                             force=force, trigger="robot")
    except DistributionError as exc:
        raise RobotError(str(exc)) from exc
    return Answered(outcome.robot_values())


SPEC = RobotSpec(
    code="fair_distribution",
    name=N_("Fair distribution"),
    description=N_("Assigns by workload and work-day status, and explains the choice"),
    run=run,
    properties={
        "group": Prop(N_("Distribution group"), "string", description=N_(
            "Group id from the app's settings; empty means the only group")),
        "force": Prop(N_("Redistribute even if assigned by hand"), "bool", default="N"),
    },
    return_properties={
        "assigned_user_id": Prop(N_("Assigned user"), "user"),
        "reason": Prop(N_("Reason"), "text"),
        "status": Prop(N_("Status"), "string", description=N_(
            "assigned, pending (nobody working) or skipped")),
    },
    document_types=(LEAD, DEAL, DYNAMIC),
)


# event triggers --------------------------------------------------------------------------
def _auto_groups(ctx: JobContext, entity: str) -> list[config.Group]:
    return [g for g in config.groups(ctx.settings) if any(a.entity == entity for a in g.auto)]


def on_item_added(ctx: JobContext, item_id: int, data: dict[str, Any], entity: str) -> None:
    candidates = _auto_groups(ctx, entity)
    if not candidates:
        return
    kind = EntityKind(entity)
    needs_facts = any(a.category_ids or a.source_ids for g in candidates for a in g.auto)
    facts = kind.facts(ctx.rest.call(*kind.get(item_id))) if needs_facts else None
    for group in candidates:
        for rule in group.auto:
            if rule.entity == entity and (
                    facts is None or rule.matches(entity, facts.category, facts.source)):
                distribute(env_for(ctx), group, kind, item_id, trigger="event")
                return


def on_lead_add(ctx: JobContext, item_id: int, data: dict[str, Any]) -> None:
    on_item_added(ctx, item_id, data, "lead")


def on_deal_add(ctx: JobContext, item_id: int, data: dict[str, Any]) -> None:
    on_item_added(ctx, item_id, data, "deal")


def on_dynamic_item_add(ctx: JobContext, item_id: int, data: dict[str, Any]) -> None:
    type_id = str((data.get("FIELDS") or {}).get("ENTITY_TYPE_ID", ""))
    if type_id.isdigit():
        on_item_added(ctx, item_id, data, f"item:{type_id}")


def on_deal_update(ctx: JobContext, item_id: int, data: dict[str, Any]) -> None:
    """Pin the client to the manager of their first won deal (if the portal wants it)."""
    if not ctx.settings["distribution"]["pin_on_won"] or not config.groups(ctx.settings):
        return
    deal = ctx.rest.call("crm.deal.get", {"id": item_id})
    if not isinstance(deal, dict) or deal.get("STAGE_SEMANTIC_ID") != "S":
        return
    state = env_for(ctx).state
    owner = int(deal.get("ASSIGNED_BY_ID") or 0)
    if not owner:
        return
    for cid in deal.get("CONTACT_IDS") or ([deal["CONTACT_ID"]] if deal.get("CONTACT_ID")
                                           else []):
        if int(cid or 0):
            state.pin("contact", int(cid), owner)
    if int(deal.get("COMPANY_ID") or 0):
        state.pin("company", int(deal["COMPANY_ID"]), owner)


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
            outcome: Outcome = distribute(env, group, EntityKind(entry["entity"]),
                                          int(entry["id"]), event_token=entry.get("token", ""),
                                          trigger="recheck")
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
        members = env.state.cached_members(group.id)
        if members is None:
            from robots.distribution.engine import resolve_members

            members = resolve_members(env, group)
        cmds = {}
        for entity in group.entity_types:
            kind = EntityKind(entity)
            for uid in members:
                cmds[f"{entity}|{uid}"] = kind.count_in_work(uid, group.in_work.get(entity, ()))
        counts: dict[int, int] = {uid: 0 for uid in members}
        with env.state.group_lock(group.id):  # no assignment may slip between count and set
            res = ctx.rest.batch(cmds)
            for key in cmds:
                counts[int(key.split("|")[1])] += int(res.total.get(key, 0) or 0)
            before = env.state.in_work_counts(group.id)
            env.state.set_in_work(group.id, counts)
        changed[group.id] = {u: (before.get(u, 0), c) for u, c in counts.items()
                             if before.get(u, 0) != c}
    return {"changed": changed}
