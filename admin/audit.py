"""The settings trail as the General page shows it: references by name, values in words.

The entries themselves are kept by connector.settings_audit (the admin pages and the CLI save
through it); this module only renders them for the reader.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from connector.i18n import N_, t, when
from connector.settings_audit import CLI, entries, steps
from connector.settings_schema import ListOf, PerUser


def _field_at(schema: Any, path: str) -> Any:
    """The schema field a dotted path ends in (None when it names none)."""
    f = None
    for step in steps(path):
        if isinstance(step, int):
            continue
        if isinstance(f, PerUser):
            return f.value
        fields = schema if f is None else (f.item if isinstance(f, ListOf) else None)
        f = fields.by_name.get(step) if fields is not None else f
        if f is None:
            return None
    return f


def _shown(view: Any, f: Any, value: Any, lang: str) -> str:
    """A value as the admin reads it: references by name, yes/no, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t(lang, N_("yes") if value else N_("no"))
    described = f.describe(lang) if f is not None else {}
    if "options" in described and described["options"] and isinstance(
            described["options"][0], dict):  # a choice: its label
        return next((o["label"] for o in described["options"] if o["value"] == value),
                    str(value))
    kind = (described.get("reference") or {}).get("type")
    items = value if isinstance(value, list) else [value]
    if kind and kind not in ("chat", "disk_storage"):
        items = [view.name(kind, v) if kind != "entity_type" or view.catalog else v
                 for v in items]
    text = ", ".join(str(v) for v in items)
    return text if isinstance(value, list) and value or not isinstance(value, list) else "—"


def trail(ctx: Any, view: Any) -> dict[str, Any]:
    """The latest saved changes, named as the portal names things, in the portal's zone."""
    lang = view.values.get("LANG") or ctx.lang
    if view.catalog is not None:  # entity types named in the reader's language
        view = replace(view, catalog=replace(view.catalog, lang=lang))
    schemas = ctx.services.portal_settings.schemas
    rows = []
    for e in entries(ctx.services, ctx.member_id):
        schema = schemas.get(e.section)
        rows.append({
            "when": when(e.at, lang, ctx.tz, "short"),
            "who": t(lang, N_("an operator (command line)")) if e.user_id == CLI
            else view.name("user", e.user_id),
            "section": t(lang, schema.title) if schema else e.section,
            "changes": [{"path": c.path,
                         "field": _label(schema, c.path, lang),
                         "old": _shown(view, _field_at(schema, c.path), c.old, lang),
                         "new": _shown(view, _field_at(schema, c.path), c.new, lang)}
                        for c in e.changes]})
    return {"entries": rows}


def _label(schema: Any, path: str, lang: str) -> str:
    f = _field_at(schema, path) if schema else None
    return f"{t(lang, f.label)} ({path})" if f is not None else path
