"""The watchdogs' admin panels: what is watched now and what comes next, the audit of steps,
a dry run on one item, the backfill, and the working time in effect.

The dry run is the engine's own preview (`watch.preview`: `plan.plan()` over one read and
the pair's memory), so the page and the timers can never disagree; nothing is written and
no timer is set. The other
panels read the app's state; names come from the portal's catalog (view.name).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from connector import history
from connector.capability import AdminView, Outcome, Panel, whole
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import ConnectorError
from connector.history import kind_label
from connector.i18n import N_, Msg, t, when
from robots.watchdogs import audit, config, steps, watch
from robots.watchdogs.config import NAME

UPCOMING = 30  # pending steps listed, soonest first
AUDIT_SHOWN = 100
LATEST = 10  # latest items offered for a dry run
OUTCOMES = {"done": N_("done"), "skipped": N_("skipped"), "stopped": N_("stopped")}
ACTION_WORDS = {config.REMIND: N_("reminder to the responsible"),
                config.SUPERVISORS: N_("tell the supervisors"),
                config.REASSIGN: N_("reassign through fair distribution"),
                config.PEOPLE: N_("tell the named people")}
STEP_WORDS = {"offer": N_("offer to the first who reacts"),
              "taken": N_("taken by the first to react"),
              "move": N_("move to the follow-up pipeline"),
              "remind": N_("reminder before the date"),
              "task": N_("follow-up task"),
              "-": N_("the watch ended")}
DAY_AND_TIME = "EEEE, d MMMM y, HH:mm"  # "Monday, 7 December 2026, 09:00": the weekday shows
MENTION = re.compile(r"\[USER=(\d+)\](.*?)\[/USER\]", re.I)


# words ------------------------------------------------------------------------------------
def kind_words(lang: str, kind: str) -> str:
    """A rule kind by the title of its form ("Reaction watchdog")."""
    item = config.WATCHDOGS.by_name[kind].item
    return t(lang, item.title) if item is not None else kind


def step_words(lang: str, kind: str, rule: Mapping[str, Any] | None, step: str) -> str:
    """What a step does, as a person says it: "step 2: tell the supervisors", "check-in №3"."""
    if step.startswith("slot:"):
        return t(lang, N_("check-in #{n}"), n=step.removeprefix("slot:"))
    if step.isdigit():
        actions = (rule or {}).get("steps") or []
        action = actions[int(step)]["action"] if int(step) < len(actions) else ""
        what = t(lang, ACTION_WORDS[action]) if action in ACTION_WORDS else ""
        return t(lang, N_("step {n}: {what}"), n=int(step) + 1, what=what or "—")
    return t(lang, STEP_WORDS[step]) if step in STEP_WORDS else step


def named(text: str, name: Callable[[int], str]) -> str:
    """A CRM mention ([USER=5][/USER]) as the person's name, for a page (not a timeline)."""
    return MENTION.sub(lambda m: name(int(m[1])) or m[2] or f"#{m[1]}", str(text))


def _known(entry: Mapping[str, Any], name: Callable[[int], str]) -> Callable[[int], str]:
    """A person's name as the step recorded it, else as the page can tell."""
    names = entry.get("names") or {}
    return lambda uid: str(names.get(str(uid)) or name(uid))


def ref_of(label: str) -> crm.ItemRef:
    """"deal/7" (ItemRef.label) back to its ref."""
    kind, _, number = str(label).rpartition("/")
    return crm.ItemRef(kind or "deal", whole(number))


def item_text(lang: str, ref: crm.ItemRef, title: str = "") -> str:
    words = steps.item_words(lang, ref)
    return f"{words} «{title}»" if title else words


def rules_by_id(settings: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every rule, on or off, by its id: (kind, rule)."""
    section = settings.get(NAME) or {}
    return {r["id"]: (kind, r) for kind in config.KINDS for r in section.get(kind, [])}


def _rule_options(settings: Mapping[str, Any], lang: str) -> list[dict[str, str]]:
    return [{"id": rid, "name": f"{r['name']} ({kind_words(lang, kind)})"}
            for rid, (kind, r) in rules_by_id(settings).items()]


def _titles(ctx: JobContext, refs: list[crm.ItemRef]) -> dict[crm.ItemRef, str]:
    """The items' titles in one read; an item that cannot be read is named by its number."""
    if not refs:
        return {}
    keys = {f"i{n}": ref for n, ref in enumerate(dict.fromkeys(refs))}
    try:
        reading = ctx.crm.read({k: crm.GetItem(ref) for k, ref in keys.items()})
    except (crm.CrmError, ConnectorError):
        return {}
    return {ref: reading.values[k].title for k, ref in keys.items()
            if reading.ok(k) and reading.values[k] is not None}


# watching now -----------------------------------------------------------------------------
def watching_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    rules = rules_by_id(ctx.settings)
    wanted = view.values.get("watch_rule", "")
    wanted = wanted if wanted in rules else ""
    counts = watch.watched(ctx)
    pending = watch.upcoming(ctx, UPCOMING, rule_id=wanted)
    titles = _titles(ctx, [ref_of(p["ref"]) for p in pending])
    rows = []
    for p in pending:
        ref = ref_of(p["ref"])
        kind, rule = rules.get(p["rule"], ("", None))
        rows.append({"rule": rule["name"] if rule else p["rule"],
                     "item": item_text(lang, ref, titles.get(ref, "")),
                     "link": ctx.crm.item_link(ref),
                     "step": step_words(lang, kind, rule, p["step"]),
                     "when": when(p["at"], lang, ctx.tz, "short"),
                     "late": p["at"] < time.time(),
                     "whom": ", ".join(view.name("user", u) for u in p["users"]) or "—"})
    return {"rules": [{"id": rid, "name": r["name"], "kind": kind_words(lang, kind),
                       "enabled": r.get("enabled", True), "count": counts.get(rid, 0)}
                      for rid, (kind, r) in rules.items()],
            "rows": rows, "most": UPCOMING, "rule": wanted,
            "options": _rule_options(ctx.settings, lang)}


# audit ------------------------------------------------------------------------------------
def audit_rows(ctx: JobContext, lang: str, entries: list[dict[str, Any]],
               name: Callable[[int], str]) -> list[dict[str, Any]]:
    """Audit entries as a reader sees them: the rule's name, the step and reason in words."""
    rules = rules_by_id(ctx.settings)
    out = []
    for e in entries:
        ref = ref_of(e["ref"])
        kind, rule = rules.get(e["rule"], (e.get("kind", ""), None))
        out.append({"ts": e["ts"], "rule": rule["name"] if rule else e["rule"],
                    # the words the step itself wrote (with the title), else the number
                    "item": str((e.get("params") or {}).get("item") or item_text(lang, ref)),
                    "link": ctx.crm.item_link(ref),
                    "step": step_words(lang, kind, rule, str(e.get("step", ""))),
                    "outcome": e["outcome"],
                    "outcome_words": t(lang, OUTCOMES.get(e["outcome"], e["outcome"])),
                    "reason": named(history.render(e, lang), _known(e, name))})
    return out


def audit_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    rule = view.values.get("audit_rule", "")
    outcome = view.values.get("audit_outcome", "")
    outcome = outcome if outcome in OUTCOMES else ""
    entries = audit.entries(ctx.redis, watch.audit_key(ctx), rule, outcome, AUDIT_SHOWN)
    return {"rows": audit_rows(ctx, lang, entries, lambda uid: view.name("user", uid)),
            "options": _rule_options(ctx.settings, lang), "rule": rule, "outcome": outcome,
            "outcomes": [{"id": k, "name": t(lang, v)} for k, v in OUTCOMES.items()],
            "most": AUDIT_SHOWN}


# dry run ----------------------------------------------------------------------------------
def watched_kinds(settings: Mapping[str, Any]) -> list[str]:
    """The kinds of item some rule watches: deals first, then leads and smart processes."""
    kinds = ["deal"] if any(k != "reaction" for k, _ in config.all_rules(settings)) else []
    kinds += [r["entity"] for k, r in config.all_rules(settings) if k == "reaction"]
    return list(dict.fromkeys(kinds))


def check(ctx: JobContext, ref: crm.ItemRef, lang: str, name: Callable[[int], str]
          ) -> dict[str, Any]:
    """What every rule plans for the item now (watch.preview: one read, nothing written)."""
    now = time.time()
    previews = watch.preview(ctx, ref)
    item = next((p["item"] for p in previews if p["item"] is not None), None)
    if previews and item is None:
        raise crm.NotFound(ref.label)
    rules = []
    for row in previews:
        kind, rule, p = row["kind"], row["rule"], row["plan"]
        dues = sorted(p.dues, key=lambda d: d.at) if p.watching else []
        rules.append({
            "id": rule["id"], "name": rule["name"], "kind": kind_words(lang, kind),
            "watching": bool(dues),
            "why": t(lang, p.why or N_("nothing more is due"), **p.params),
            "steps": [{"step": step_words(lang, kind, rule, d.step),
                       "when": when(d.at, lang, ctx.tz, "short"), "late": d.at < now,
                       "whom": ", ".join(name(u) for u in steps.recipients(kind, rule, d, item)
                                         if u) or "—"}
                      for d in dues]})
    return {"item": item_text(lang, ref, item.title if item else ""),
            "link": ctx.crm.item_link(ref), "rules": rules}


def check_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    kinds = watched_kinds(ctx.settings)
    if not kinds:
        return {"kinds": []}
    kind = view.values.get("check_kind", "")
    kind = kind if kind in kinds else kinds[0]
    try:
        latest = ctx.crm.read({"l": crm.LatestItems(kind, LATEST)}).get("l") or []
    except (crm.CrmError, ConnectorError):
        latest = []
    facts: dict[str, Any] = {
        "kinds": [{"id": k, "name": kind_label(lang, k)} for k in kinds], "kind": kind,
        "latest": [{"id": i.ref.id, "title": i.title} for i in latest],
        "item": view.values.get("check_item", ""),
        "item_id": view.values.get("check_item_id", ""), "result": None, "error": ""}
    number = whole(facts["item_id"]) or whole(facts["item"])
    if not number:
        return facts
    try:
        facts["result"] = check(ctx, crm.ItemRef(kind, number), lang,
                                lambda uid: view.name("user", uid))
    except crm.NotFound:
        facts["error"] = t(lang, N_("{item} was not found on the portal."),
                           item=steps.item_words(lang, crm.ItemRef(kind, number)))
    except (crm.CrmError, ConnectorError) as exc:
        facts["error"] = str(exc)
    return facts


def backfill(ctx: JobContext, view: AdminView) -> Outcome:
    """Queue the backfill of every kind the rules watch (a second click queues nothing)."""
    kinds = watched_kinds(ctx.settings)
    if not kinds:
        return Outcome(False, N_("There is no rule switched on: add one in the settings above."))
    for kind in kinds:
        ctx.enqueue("backfill", {"kind": kind}, kind, "start")
    lang = view.lang(ctx.lang)
    return Outcome(True, N_("Queued: the rules are being applied to the existing {kinds}. "
                            "The audit shows each step as it is done."),
                   {"kinds": ", ".join(kind_label(lang, k).lower() for k in kinds)})


# working time -----------------------------------------------------------------------------
def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def work_time_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    """The working time in effect, in words, and the next moment that counts."""
    lang = view.lang(ctx.lang)
    section = ctx.settings["work_time"]
    wt = watch.worktime(ctx)
    days = [t(lang, o.label) for o in config.WEEKDAYS if int(o.value) in wt.weekdays]
    now = time.time()
    calendars: list[Msg] = []
    if wt.production_calendar:
        calendars.append(N_("the Russian production calendar"))
    if section["use_portal_calendar"]:
        calendars.append(N_("the portal's working time") if wt.yearly_off or wt.yearly_work
                         else N_("the portal's working time (not read yet)"))
    return {"hours": f"{_clock(wt.start)}–{_clock(wt.end)}", "days": ", ".join(days),
            "calendars": ", ".join(t(lang, c) for c in calendars) or t(lang, N_("none")),
            "days_off": ", ".join(section["days_off"]),
            "workdays": ", ".join(section["workdays"]),
            "tz": ctx.tz, "now": when(now, lang, ctx.tz, "short"),
            "working_now": wt.is_working(now),
            "next": when(wt.next_working(now), lang, ctx.tz, DAY_AND_TIME)}


PANELS = (
    Panel("work_time", N_("Working time in effect"), work_time_facts,
          "panels/watchdogs_work_time.html"),
    Panel("watching", N_("Watching now"), watching_facts, "panels/watchdogs_watching.html",
          actions={"backfill": backfill}),
    Panel("check", N_("Check an item"), check_facts, "panels/watchdogs_check.html"),
    Panel("audit", N_("Audit"), audit_facts, "panels/watchdogs_audit.html"),
)
