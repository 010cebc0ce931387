"""Fair distribution's admin panels: a dry run on a chosen item, the audit of assignments with
filters, and the fairness chart per manager.

The dry run is engine.dry_run (the CLI's too): the same reads and decision as a real
assignment, nothing written. The audit and the chart read only the app's own state; names
come from the portal's catalog (view.name), else from one read of the people concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connector.capability import AdminView, Panel, whole
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import ConnectorError
from connector.history import kind_label
from connector.i18n import N_, t
from robots.distribution import config, policy
from robots.distribution.engine import (
    DistributionError,
    dry_run,
    env_for,
    resolve_members,
    state_for,
)
from robots.distribution.entities import label
from robots.distribution.fairness_chart import ManagerLoad, fairness_svg

LATEST = 10  # latest items offered for a dry run
AUDIT_SCAN = 2000  # entries of the date range read before the other filters
AUDIT_SHOWN = 100
STATUSES = ("assigned", "pending", "skipped", "kept")  # kept: a reassignment nobody took
DAY_WORKING = N_("working")


def day_text(lang: str, day: str) -> str:
    return t(lang, DAY_WORKING) if day == policy.OPENED else policy.skip_text(lang, day)


def names(ctx: JobContext, view: AdminView, ids: list[int]) -> dict[int, str]:
    """Each user's name from the catalog; the ones it lacks from one read of the people."""
    out = {uid: view.name("user", uid) for uid in ids}
    missing = tuple(uid for uid, name in out.items() if name.startswith("#"))
    if missing:
        try:
            people = ctx.crm.read({"p": crm.GetPeople(missing)}).get("p") or {}
        except (crm.CrmError, ConnectorError):
            people = {}
        out.update({uid: p.name for uid, p in people.items() if p.name})
    return out


def _chosen_group(groups: list[config.Group], wanted: str) -> config.Group:
    return next((g for g in groups if g.id == wanted), groups[0])


# dry run ----------------------------------------------------------------------------------
def dry_run_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    groups = config.groups(ctx.settings)
    if not groups:
        return {"groups": []}
    lang = view.lang(ctx.lang)
    group = _chosen_group(groups, view.values.get("group", ""))
    kind = view.values.get("kind", "")
    kind = kind if kind in group.entity_types else group.entity_types[0]
    try:
        latest = ctx.crm.read({"l": crm.LatestItems(kind, LATEST)}).get("l") or []
    except (crm.CrmError, ConnectorError):
        latest = []
    facts: dict[str, Any] = {
        "groups": [{"id": g.id, "name": g.name} for g in groups], "group": group.id,
        "kinds": [{"id": k, "name": kind_label(lang, k)} for k in group.entity_types],
        "kind": kind, "latest": [{"id": i.ref.id, "title": i.title} for i in latest],
        "item": view.values.get("item", ""), "item_id": view.values.get("item_id", ""),
        "caps": {"in_work": group.max_in_work, "per_day": group.max_per_day},
        "rule": policy.rule_text(group.rule, lang), "result": None, "error": ""}
    if "item" not in view.values and "item_id" not in view.values:
        return facts  # the form was not sent yet
    ref = crm.ItemRef(kind, whole(view.values.get("item_id")) or whole(view.values.get("item")))
    try:
        run = dry_run(replace(env_for(ctx), lang=lang), group, ref)
    except (DistributionError, crm.CrmError, ConnectorError) as exc:
        facts["error"] = str(exc)
        return facts
    people = names(ctx, view, [c.member.user_id for c in run.candidates])
    facts["result"] = {
        "item": label(lang, ref) if ref.id else t(lang, N_("the group's next item")),
        "title": run.title if ref.id else "", "status": run.outcome.status,
        "user": people.get(run.outcome.user_id or 0, "") if run.outcome.user_id else "",
        "reason": run.outcome.reason,
        "rows": [{"name": people.get(c.member.user_id) or c.member.label(lang),
                  "day": day_text(lang, c.member.day), "in_work": c.member.in_work,
                  "today": c.member.today, "month": c.member.month,
                  "weight": f"{c.member.weight:g}", "chosen": c.chosen, "pinned": c.pinned,
                  "skip": policy.skip_text(lang, c.skip) if c.skip else ""}
                 for c in run.candidates]}
    return facts


# audit ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilter:
    """What the admin asked to see of the assignments' audit; empty fields match all."""

    group: str = ""
    user_id: int = 0
    status: str = ""
    item: str = ""  # "lead/12", or just "12"
    since: float = 0.0
    until: float = float("inf")

    @classmethod
    def parse(cls, values: Any, tz: str) -> AuditFilter:
        """From the page's query: audit_group, audit_user, audit_status, audit_item and the
        dates audit_from / audit_to (YYYY-MM-DD, whole days in the portal's zone)."""
        zone = ZoneInfo(tz)

        def day(name: str) -> datetime | None:
            try:
                return datetime.strptime(str(values.get(name, "")), "%Y-%m-%d").replace(
                    tzinfo=zone)
            except ValueError:
                return None

        start, end = day("audit_from"), day("audit_to")
        status = str(values.get("audit_status", ""))
        return cls(group=str(values.get("audit_group", "")),
                   user_id=whole(values.get("audit_user")),
                   status=status if status in STATUSES else "",
                   item=str(values.get("audit_item", "")).strip().lower().replace(" ", ""),
                   since=start.timestamp() if start else 0.0,
                   until=(end + timedelta(days=1)).timestamp() - 0.001 if end
                   else float("inf"))

    def matches(self, row: dict[str, Any]) -> bool:
        item = str(row.get("item", ""))
        return ((not self.group or row.get("group") == self.group)
                and (not self.user_id or whole(row.get("user_id")) == self.user_id)
                and (not self.status or row.get("status") == self.status)
                and (not self.item or item == self.item or item.endswith(f"/{self.item}"))
                and self.since <= float(row.get("ts", 0)) <= self.until)


def filtered(rows: list[dict[str, Any]], wanted: AuditFilter, most: int = AUDIT_SHOWN
             ) -> list[dict[str, Any]]:
    return [r for r in rows if wanted.matches(r)][:most]


def _ref(item: str) -> crm.ItemRef:
    kind, _, number = item.rpartition("/")
    return crm.ItemRef(kind or "lead", whole(number))


def audit_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    wanted = AuditFilter.parse(view.values, ctx.tz)
    groups = config.groups(ctx.settings)
    rows = filtered(state_for(ctx).audit_between(wanted.since, wanted.until, AUDIT_SCAN),
                    wanted)
    group_names = {g.id: g.name for g in groups}
    users = sorted({u for g in groups for u in g.users} | {
        whole(r.get("user_id")) for r in rows if r.get("user_id")})
    people = names(ctx, view, users)
    shown = []
    for row in rows:
        ref = _ref(str(row.get("item", "")))
        uid = whole(row.get("user_id"))
        shown.append({"ts": row.get("ts", 0), "item": label(lang, ref),
                      "link": ctx.crm.item_link(ref) if ref.id else "",
                      "group": group_names.get(row.get("group", ""), row.get("group", "")),
                      "user": people.get(uid, f"#{uid}") if uid else "",
                      "status": row.get("status", ""), "reason": row.get("reason", ""),
                      "trigger": row.get("trigger", "")})
    return {"rows": shown, "groups": [{"id": g.id, "name": g.name} for g in groups],
            "users": [{"id": u, "name": people.get(u, f"#{u}")} for u in users],
            "statuses": STATUSES, "most": AUDIT_SHOWN,
            "filter": {k: view.values.get(k, "") for k in (
                "audit_group", "audit_user", "audit_status", "audit_item", "audit_from",
                "audit_to")}}


# fairness chart ---------------------------------------------------------------------------
def fairness_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    env = env_for(ctx)
    headings = (t(lang, N_("Received today")), t(lang, N_("This month")),
                t(lang, N_("In work")))
    charts = []
    for group in config.groups(ctx.settings):
        try:
            members = resolve_members(env, group)
        except (crm.CrmError, ConnectorError):
            members = list(group.users)
        loads = env.state.loads(group.id, members)
        people = names(ctx, view, members)
        rows = [ManagerLoad(people.get(uid, f"#{uid}"), loads[uid].today, loads[uid].month,
                            loads[uid].in_work) for uid in members]
        title = t(lang, N_("Load per manager in {group}"), group=group.name)
        charts.append({"id": group.id, "name": group.name, "title": title, "rows": rows,
                       "svg": fairness_svg(rows, title, headings, f"fair-{group.id}")})
    return {"charts": charts, "headings": headings}


def attention(ctx: JobContext) -> list[dict[str, Any]]:
    """For the overview's list: items held because nobody could take them."""
    state = state_for(ctx)
    held = sum(state.pending_count(g.id) for g in config.groups(ctx.settings))
    return [{"rank": 60, "msgid": N_("Items waiting because nobody could take them: {count}."),
             "params": {"count": held}}] if held else []


PANELS = (
    Panel("dry_run", N_("Dry run"), dry_run_facts, "panels/distribution_dry_run.html"),
    Panel("audit", N_("Assignments"), audit_facts, "panels/distribution_audit.html"),
    Panel("fairness", N_("Fairness per manager"), fairness_facts,
          "panels/distribution_fairness.html"),
)
