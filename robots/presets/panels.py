"""The Presets page: the five businesses, what a preset will change on this portal before it
changes anything (each setting with its value now and after, the fields and smart processes
it makes, the steps left for the admin in the CRM), apply, and undo."""

from __future__ import annotations

import re
from typing import Any

from connector.capability import AdminView, Outcome, Panel, whole
from connector.context import JobContext
from connector.i18n import N_, t
from connector.settings_schema import (
    Bool,
    Choice,
    Field,
    ListOf,
    Reference,
    Schema,
    SettingsInvalid,
)
from robots.presets import apply
from robots.presets.catalog import BY_ID, PRESETS, Preset

NAMED = {"users": "user", "user": "user", "departments": "department",
         "department": "department", "stages": "stage", "stage": "stage",
         "pipelines": "pipeline", "pipeline": "pipeline", "chat": "chat"}
YES, NO = N_("yes"), N_("no")
ADDED = N_("added: «{name}»")
SETUP_TITLES = {"carriers": N_("Carrier search: the smart processes «Carrier base», «Carrier "
                               "offers» and the logistics deal fields"),
                "registries": N_("The smart process «Car registry»")}


def field_at(schema: Schema, path: str, values: Any) -> tuple[list[str], Field | None]:
    """The labels along a path ("groups[0].departments": the list, the item's name, the
    field) and the field at its end; `values` is the section the path walks."""
    from connector.settings_audit import steps

    labels: list[str] = []
    current: Schema | None = schema
    found: Field | None = None
    for step in steps(path):
        if isinstance(step, int):
            values = values[step] if isinstance(values, list) and step < len(values) else {}
            name = values.get("name") or values.get("id") if isinstance(values, dict) else ""
            if name:
                labels.append(f"«{name}»")
            continue
        found = current.by_name.get(step) if current is not None else None
        if found is None:
            return labels + [step], None
        labels.append(found.label)
        values = values.get(step) if isinstance(values, dict) else None
        current = found.item if isinstance(found, ListOf) else None
    return labels, found


NEW_ITEM = re.compile(r"^(\w+)\[(\d+)\]\.")


def rows_of(lang: str, view: AdminView, schema: Schema, before: dict[str, Any],
            after: dict[str, Any], changes: list[Any]) -> list[dict[str, str]]:
    """One row a changed setting; a rule the preset adds is one row, not one per field."""
    rows, added = [], set()
    for c in changes:
        new = NEW_ITEM.match(c.path)
        if new and int(new.group(2)) >= len(before.get(new.group(1)) or []):
            key = new.group(0)
            if key not in added:
                added.add(key)
                item = after[new.group(1)][int(new.group(2))]
                rows.append({"field": t(lang, schema.by_name[new.group(1)].label),
                             "before": "—", "after": t(lang, ADDED, name=item.get(
                                 "name") or item.get("id"))})
            continue
        labels, f = field_at(schema, c.path, after)
        rows.append({"field": " › ".join(t(lang, x) for x in labels),
                     "before": shown(lang, view, f, c.old), "after": shown(lang, view, f, c.new)})
    return rows


def shown(lang: str, view: AdminView, f: Field | None, value: Any) -> str:
    """A value as the form shows it: yes/no, an option's label, a user or stage by name."""
    if value in (None, "", [], {}):
        return "—"
    if isinstance(f, Bool):
        return t(lang, YES if value else NO)
    if isinstance(f, Choice):
        labels = {o.value: t(lang, o.label) for o in f.options}
        many = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(v, str(v)) for v in many)
    if isinstance(f, Reference) and f.kind in NAMED:
        many = value if isinstance(value, list) else [value]
        return ", ".join(view.name(NAMED[f.kind], v) for v in many)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def preview(ctx: JobContext, view: AdminView, preset: Preset, department: int
            ) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    schemas = ctx.services.portal_settings.schemas
    try:
        found = apply.plan_for(ctx, preset, view.user_id, department)
    except SettingsInvalid as exc:
        return {"error": t(lang, exc.reason_msgid, **exc.params), "path": exc.path}
    stored = ctx.services.portal_settings.get(ctx.member_id)
    sections = []
    for name, changes in found.changes.items():
        rows = rows_of(lang, view, schemas[name], stored.get(name) or {},
                       found.sections[name], changes)
        sections.append({"title": t(lang, schemas[name].title), "rows": rows})
    known = {v for v, _ in view.catalog.options("crm_field", "deal")} if (
        view.catalog is not None and view.catalog.knows("crm_field")) else set()
    return {"sections": sections,
            "skipped": [t(lang, schemas[n].title) for n in found.skipped],
            "fields": [{"code": f.code, "label": t(lang, f.label), "exists": f.code in known}
                       for f in preset.fields],
            "setups": [t(lang, SETUP_TITLES.get(n, n)) for n in preset.setups],
            "manual": [t(lang, m) for m in preset.manual], "empty": found.empty}


def facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    chosen = BY_ID.get(view.values.get("preset", ""))
    department = whole(view.values.get("department", ""))
    departments = view.catalog.options("department") if view.catalog is not None else []
    cards = []
    for p in PRESETS:
        record = apply.applied(ctx, p.id)
        cards.append({"id": p.id, "title": t(lang, p.title), "summary": t(lang, p.summary),
                      "applied": record, "prepared": apply.prepared(ctx, p.id),
                      "playbook": p.playbook, "chosen": chosen is not None and p.id == chosen.id})
    out: dict[str, Any] = {"presets": cards, "chosen": None,
                           "departments": [{"value": v, "label": label,
                                            "selected": str(v) == str(department)}
                                           for v, label in departments]}
    if chosen is not None:
        out["chosen"] = {"id": chosen.id, "title": t(lang, chosen.title),
                         "needs_department": chosen.needs_department,
                         "department": department,
                         **preview(ctx, view, chosen, department)}
    return out


def apply_action(ctx: JobContext, view: AdminView) -> Outcome:
    preset = BY_ID.get(view.values.get("preset", ""))
    if preset is None:
        return Outcome(False, N_("Choose a preset first."))
    try:
        done = apply.apply(ctx, preset, view.user_id, whole(view.values.get("department")))
    except SettingsInvalid as exc:
        return Outcome(False, N_("The preset was not applied: {why}"),
                       {"why": t(view.lang(ctx.lang), exc.reason_msgid, **exc.params)})
    ctx.log.info("preset %s applied by user %s: %s", preset.id, view.user_id, done)
    return Outcome(True, N_("The preset «{title}» is applied: {count} settings changed. The "
                            "fields and smart processes it needs are being made."),
                   {"title": t(view.lang(ctx.lang), preset.title), "count": done["changed"]})


def undo_action(ctx: JobContext, view: AdminView) -> Outcome:
    preset = BY_ID.get(view.values.get("preset", ""))
    if preset is None:
        return Outcome(False, N_("Choose a preset first."))
    done = apply.undo(ctx, preset)
    lang = view.lang(ctx.lang)
    if done.get("none"):
        return Outcome(False, N_("This preset was not applied here."))
    schemas = ctx.services.portal_settings.schemas
    kept = ", ".join(t(lang, schemas[n].title) for n in done["kept"] if n in schemas)
    if kept:
        return Outcome(True, N_("Undone, except what was changed after the preset and is "
                                "left as it is: {kept}. Fields and smart processes it made "
                                "are kept, with their data."), {"kept": kept})
    return Outcome(True, N_("Undone: the settings are as they were before the preset. Fields "
                            "and smart processes it made are kept, with their data."))


PANELS = (Panel("presets", N_("Presets"), facts, "panels/presets.html",
                actions={"apply": apply_action, "undo": undo_action}),)
