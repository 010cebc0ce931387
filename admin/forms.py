"""Settings forms rendered from a Schema, and their submissions.

Every input is named by its field's path inside the section (`groups[0].max_in_work`), the
same path a SettingsInvalid names, so a refusal is shown next to the input it is about.
References are picked by name from the portal's catalog; when a kind could not be read the
input takes ids instead. Lists (distribution groups, their auto rules) are edited without
JavaScript: "add" and "remove" are submit buttons (`_edit`) that re-render the form with
what the admin typed, nothing stored until "Save".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from admin.catalog import Catalog
from connector import settings_audit
from connector.capability import Outcome
from connector.i18n import LANGUAGES, N_, t
from connector.settings_audit import steps
from connector.settings_schema import (
    REQUIRED,
    Bool,
    Choice,
    CrmField,
    Dates,
    DiskStorage,
    Duration,
    EntityTypes,
    Field,
    ListOf,
    Number,
    PerUser,
    Reference,
    Schema,
    SettingsInvalid,
    StagesByEntity,
    Template,
    Text,
    TimeZone,
    walk,
)

NOT_SAVED = N_("Not saved: correct the field marked below.")
NO_SUCH_FIELD = N_("the portal has no field {name}")
SAVED = N_("Saved. The change takes effect at once.")
UNCHANGED = N_("Nothing has changed.")
EDIT = "_edit"  # "add:<list path>" or "remove:<item path>"
COUNT = "~n"  # suffix of a list's hidden item count
OTHER = "~other"  # suffix of a time zone's or a field's free text
ZONES = ("Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg",
         "Asia/Omsk", "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk",
         "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka", "Europe/Minsk", "Asia/Almaty",
         "Asia/Tashkent", "Europe/Kyiv", "Asia/Tbilisi", "Asia/Yerevan", "Asia/Baku",
         "Europe/Berlin", "Europe/London", "UTC")
FIELD_NAMES = {"COMMENTS": N_("The deal's comment"), "OPPORTUNITY": N_("The deal's amount")}


@dataclass(frozen=True)
class Saved:
    """What a submission did: stored (`outcome`), refused (`error`), or an edit of the draft
    (neither); `submitted` is the draft to show again in the last two cases."""

    outcome: Outcome | None = None
    error: SettingsInvalid | None = None
    submitted: Any = None


# paths ----------------------------------------------------------------------------------
def html_id(section: str, path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"f-{section}-{path}").strip("-")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


# parsing a posted form ----------------------------------------------------------------------
def _number(text: str, whole: bool) -> Any:
    text = text.strip().replace(",", ".")
    try:
        return int(text) if re.fullmatch(r"-?\d+", text) else (
            text if whole else float(text))
    except ValueError:
        return text  # kept as typed: validation names the field


def _ids(numeric: bool, raw: list[str]) -> list[Any]:
    """Picked or typed ids ("3, 4" when the names are unknown), as the field stores them."""
    parts = [p.strip() for r in raw for p in re.split(r"[,\s]+", r) if p.strip()]
    return [int(p) if numeric and p.lstrip("-").isdigit() else p for p in parts]


def _one_id(f: Reference, raw: str) -> Any:
    raw = raw.strip()
    if not raw:
        return 0 if f.numeric else ""
    return int(raw) if f.numeric and raw.lstrip("-").isdigit() else raw


def parse_field(f: Field, form: Any, path: str, siblings: Mapping[str, Any]) -> Any:
    """One field's value from the form; `...` leaves it out (its default applies)."""
    text = str(form.get(path, ""))
    if isinstance(f, Bool):
        return path in form
    if isinstance(f, Number | Duration):
        if not text.strip():
            return ...
        return _number(text, isinstance(f, Duration) or f.whole)
    if isinstance(f, Choice) and f.many:
        picked = set(form.getlist(path))
        return [o.value for o in f.options if str(o.value) in picked]
    if isinstance(f, Choice):
        return next((o.value for o in f.options if str(o.value) == text), text)
    if isinstance(f, Dates):
        return [d for d in re.split(r"[\s,;]+", text) if d]
    if isinstance(f, Template) and text in _default_shown(f):
        return f.default  # left as shown: still the default, written in the portal's language
    if isinstance(f, TimeZone):
        return str(form.get(path + OTHER, "")).strip() or text
    if isinstance(f, CrmField):
        return str(form.get(path + OTHER, "")).strip().upper() or text
    if isinstance(f, DiskStorage):
        return int(text) if text.strip().isdigit() else text.strip()
    if isinstance(f, EntityTypes):
        return form.getlist(path) if f.many else text
    if isinstance(f, Reference):
        return _ids(f.numeric, form.getlist(path)) if f.many else _one_id(f, text)
    if isinstance(f, PerUser):
        assert f.value is not None
        out = {}
        for uid in form.getlist(path + "~users"):
            weight = str(form.get(f"{path}.{uid}", "")).strip()
            if weight:
                out[uid] = _number(weight, False)
        new_user, new_value = str(form.get(path + "~new", "")), str(
            form.get(path + "~newvalue", "")).strip()
        if new_user and new_value:
            out[new_user] = _number(new_value, False)
        return out
    if isinstance(f, StagesByEntity):
        entities = siblings.get(f.entities_from) or [] if f.entities_from else []
        ids = [e for e in form.getlist(path + "~entities")] or list(entities)
        out_stages = {e: _ids(False, form.getlist(f"{path}.{e}")) for e in ids}
        return {e: s for e, s in out_stages.items() if s}
    if isinstance(f, ListOf):
        assert f.item is not None
        count = int(str(form.get(path + COUNT, "0")) or 0)
        return [parse_fields(f.item, form, f"{path}[{i}].") for i in range(count)]
    return text


def _default_shown(f: Template) -> set[str]:
    """A template's default as any reader was shown it (its msgid, or a translation)."""
    if f.default is REQUIRED:
        return set()
    return {f.default, *(t(lang, f.default) for lang in LANGUAGES)}


def parse_fields(schema: Schema, form: Any, prefix: str = "") -> dict[str, Any]:
    """The section (or a list item) as typed, ready for `Schema.validate`."""
    out: dict[str, Any] = {}
    for f in schema.fields:
        value = parse_field(f, form, prefix + f.name, out)
        if value is ... or (f.default_from and value == ""):
            continue
        out[f.name] = value
    return out


def edit(schema: Schema, draft: dict[str, Any], action: str) -> dict[str, Any]:
    """Apply "add:<list>" (a new item with its defaults) or "remove:<item>" to the draft."""
    verb, _, path = action.partition(":")
    where = steps(path)
    if not where:
        return draft
    node: Any = draft
    fields: Schema | None = schema
    for step in where[:-1]:
        if isinstance(step, str) and fields is not None:
            f = fields.by_name.get(step)
            fields = f.item if isinstance(f, ListOf) else None
        node = node[step] if isinstance(step, int) else node.setdefault(step, [])
    last = where[-1]
    if verb == "remove" and isinstance(last, int) and isinstance(node, list) and \
            last < len(node):
        del node[last]
    elif verb == "add" and isinstance(last, str) and fields is not None:
        f = fields.by_name.get(last)
        if isinstance(f, ListOf) and f.item is not None:
            node.setdefault(last, []).append(f.item.defaults())
    return draft


def missing_fields(schema: Schema, draft: dict[str, Any], catalog: Catalog | None) -> None:
    """Refuse a rule on a field the portal does not have (when its fields could be read)."""
    if catalog is None or not catalog.knows("crm_field"):
        return
    try:
        clean = schema.validate(draft)
    except SettingsInvalid:
        return  # the store says what is wrong first
    for path, f, value in walk(schema, clean):
        if isinstance(f, CrmField) and f.existing and value and value not in f.also:
            known = {v for v, _ in catalog.options("crm_field", f.entity)}
            if value not in known:
                raise SettingsInvalid(f"{schema.name}.{path}", NO_SUCH_FIELD, name=value)


def save(services: Any, member_id: str, user_id: str, schema: Schema, form: Any,
         catalog: Catalog | None) -> Saved:
    """Store the posted section (the whole document with it replaced) and audit the change,
    or say why not; an "add"/"remove" button only edits the draft."""
    draft = parse_fields(schema, form)
    if form.get(EDIT):
        return Saved(submitted=edit(schema, draft, str(form[EDIT])))
    doc = services.portal_settings.get(member_id)
    try:
        missing_fields(schema, draft, catalog)
        after = settings_audit.save(services, member_id, {**doc, schema.name: draft}, user_id)
    except SettingsInvalid as exc:
        return Saved(error=exc, submitted=draft)
    changed = after[schema.name] != doc.get(schema.name)
    return Saved(outcome=Outcome(True, SAVED if changed else UNCHANGED))


# rendering --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Render:
    section: str
    lang: str
    catalog: Catalog | None
    error_path: str  # relative to the section; "" = none
    error_text: str

    def error_for(self, path: str, children: tuple[str, ...] = ()) -> str:
        """The refusal when it is about this input (or a part of it no input of its own has)."""
        if not self.error_path or not _under(self.error_path, path):
            return ""
        return "" if any(_under(self.error_path, c) for c in children) else self.error_text

    def picker(self, kind: str) -> bool:
        return self.catalog is not None and self.catalog.knows(kind)

    def options(self, kind: str, entity: str, chosen: list[Any]) -> list[dict[str, Any]]:
        """Named options, plus whatever is chosen but unknown to the catalog (kept, by id)."""
        known = self.catalog.options(kind, entity) if self.catalog else []
        values = {str(v) for v in chosen}
        out = [{"value": v, "label": label, "selected": v in values} for v, label in known]
        seen = {o["value"] for o in out}
        out += [{"value": str(v), "label": f"#{v}", "selected": True} for v in chosen
                if str(v) not in seen and str(v) not in ("", "0")]
        return out


def _entity_of(f: Any, siblings: Mapping[str, Any]) -> str:
    entity = getattr(f, "entity", "") or ""
    source = getattr(f, "entity_from", "")
    if source:
        value = siblings.get(source)
        entity = value if isinstance(value, str) else ""
    return entity


def _widget(r: _Render, f: Field, value: Any, path: str, siblings: Mapping[str, Any]
            ) -> dict[str, Any]:
    d = f.describe(r.lang)
    w: dict[str, Any] = {"kind": f.kind, "name": path, "id": html_id(r.section, path),
                         "label": d["label"], "help": d["help"], "value": value,
                         "required": d["required"], "error": r.error_for(path)}
    if isinstance(f, Bool):
        w["kind"] = "bool"
    elif isinstance(f, Number | Duration):
        w.update(kind="number", min=d.get("min"), max=d.get("max"),
                 step="1" if isinstance(f, Duration) or f.whole else "any",
                 unit=t(r.lang, N_("seconds")) if d.get("unit") == "s" else
                 t(r.lang, N_("minutes")) if d.get("unit") == "min" else "")
    elif isinstance(f, Choice):
        chosen = [str(v) for v in value] if f.many and isinstance(value, list) else [str(value)]
        w.update(kind="choices" if f.many else "choice",
                 options=[{"value": str(o["value"]), "label": o["label"],
                           "selected": str(o["value"]) in chosen} for o in d["options"]])
    elif isinstance(f, Dates):
        w.update(kind="dates", value=", ".join(value) if isinstance(value, list) else value)
    elif isinstance(f, TimeZone):
        w.update(kind="timezone", zones=list(ZONES), other=value not in ZONES,
                 other_id=html_id(r.section, path + OTHER), other_name=path + OTHER)
    elif isinstance(f, Template):
        w.update(kind="template", placeholders=["{" + p + "}" for p in f.placeholders],
                 long=f.long)
        if value == f.default:  # a default msgid: shown in the reader's language
            w["value"] = t(r.lang, value)
    elif isinstance(f, CrmField):
        names = r.catalog.options("crm_field", f.entity) if r.picker("crm_field") else []
        fixed = [(a, t(r.lang, FIELD_NAMES.get(a, a))) for a in f.also]
        options = ([("", t(r.lang, N_("None")))] if f.blank else []) + fixed + names
        if value and value not in {v for v, _ in options}:
            options.append((value, value if f.existing else
                            t(r.lang, N_("{name} (the app creates it)"), name=value)))
        w.update(kind="crm_field", other_id=html_id(r.section, path + OTHER),
                 other_name=path + OTHER,
                 options=[{"value": v, "label": label, "selected": v == value}
                          for v, label in options])
    elif isinstance(f, EntityTypes):
        chosen = value if isinstance(value, list) else [value]
        w.update(kind="entity_types", many=f.many,
                 options=r.options("entity_type", "", chosen) if r.catalog else [
                     {"value": e, "label": e, "selected": e in chosen}
                     for e in dict.fromkeys(["lead", "deal", *chosen])])
    elif isinstance(f, Reference):
        kind = d["reference"]["type"]
        chosen = value if isinstance(value, list) else [value]
        if kind == "chat" or not r.picker(kind):
            w.update(kind="ids", many=f.many,
                     text=", ".join(str(v) for v in chosen if str(v) not in ("", "0")),
                     unknown=kind != "chat")
        else:
            entity = _entity_of(f, siblings)
            w.update(kind="picker", many=f.many,
                     options=r.options(kind, entity, chosen), optional=f.optional,
                     groups=_stage_groups(r, entity, chosen) if kind == "stage" else None)
    elif isinstance(f, PerUser):
        users = value if isinstance(value, dict) else {}
        rows = [{"user": uid, "name": _named(r, "user", uid), "value": v,
                 "id": html_id(r.section, f"{path}.{uid}"), "name_attr": f"{path}.{uid}",
                 "error": r.error_for(f"{path}.{uid}")} for uid, v in users.items()]
        w.update(kind="per_user", rows=rows, new_id=html_id(r.section, path + "~new"),
                 new_value_id=html_id(r.section, path + "~newvalue"),
                 new_name=path + "~new", new_value_name=path + "~newvalue",
                 users=r.options("user", "", []) if r.picker("user") else None,
                 error=r.error_for(path, tuple(f"{path}.{uid}" for uid in users)))
    elif isinstance(f, StagesByEntity):
        by_entity = value if isinstance(value, dict) else {}
        entities = list(dict.fromkeys([*(siblings.get(f.entities_from) or []), *by_entity]))
        parts = []
        for entity in entities:
            chosen = list(by_entity.get(entity, []))
            sub = f"{path}.{entity}"
            parts.append({"entity": entity, "label": _named(r, "entity_type", entity),
                          "id": html_id(r.section, sub), "name": sub,
                          "error": r.error_for(sub),
                          "groups": _stage_groups(r, entity, chosen)
                          if r.picker("stage") else None,
                          "text": ", ".join(chosen)})
        w.update(kind="stages_by_entity", parts=parts,
                 error=r.error_for(path, tuple(f"{path}.{e}" for e in entities)))
    elif isinstance(f, ListOf):
        assert f.item is not None
        items = value if isinstance(value, list) else []
        w.update(kind="list", count_name=path + COUNT, count=len(items),
                 add=f"add:{path}", item_title=t(r.lang, f.item.title),
                 entries=[{"path": f"{path}[{i}]", "remove": f"remove:{path}[{i}]",
                         "legend": _legend(r, f.item, item, i),
                         "fields": _widgets(r, f.item, item, f"{path}[{i}].")}
                        for i, item in enumerate(items)],
                 error=r.error_for(path, tuple(f"{path}[{i}]" for i in range(len(items)))))
    else:
        w.update(kind="text", long=isinstance(f, Text) and f.long)
    return w


def _named(r: _Render, kind: str, value: Any) -> str:
    found = r.catalog.name(kind, value) if r.catalog else None
    return found or f"#{value}" if kind != "entity_type" else found or str(value)


def _stage_groups(r: _Render, entity: str, chosen: list[Any]) -> list[dict[str, Any]]:
    """Stages by pipeline for an optgroup each; chosen ids unknown to the catalog kept."""
    values = {str(c) for c in chosen}
    groups = r.catalog.stage_groups(entity) if r.catalog else []
    out = [{"label": name or t(r.lang, N_("Stages")),
            "options": [{"value": v, "label": label, "selected": v in values}
                        for v, label in opts]} for name, opts in groups]
    known = {o["value"] for g in out for o in g["options"]}
    unknown = [{"value": c, "label": f"#{c}", "selected": True} for c in values - known]
    return out + ([{"label": t(r.lang, N_("Not on the portal")), "options": unknown}]
                  if unknown else [])


def _legend(r: _Render, item: Schema, values: Mapping[str, Any], i: int) -> str:
    name = str(values.get("name") or values.get("id") or "").strip()
    if not name and "entity" in values:
        name = _named(r, "entity_type", values["entity"])
    return f"{t(r.lang, item.title)} {i + 1}" + (f": {name}" if name else "")


def _widgets(r: _Render, schema: Schema, values: Mapping[str, Any], prefix: str
             ) -> list[dict[str, Any]]:
    values = values if isinstance(values, Mapping) else {}
    out = []
    for f in schema.fields:
        default = None if f.default is REQUIRED else f.default
        value = values.get(f.name, values.get(f.default_from, "") if f.default_from
                           else default)
        out.append(_widget(r, f, value if value is not None else "", prefix + f.name, values))
    return out


def section(schema: Schema, values: Any, lang: str, catalog: Catalog | None, submitted: Any,
            error: Any) -> dict[str, Any]:
    """What admin/section.html needs: the section's inputs with their values (what was
    typed, after a refusal or an edit) and the refusal next to its input."""
    path, text = "", ""
    if isinstance(error, SettingsInvalid) and _under(error.path, schema.name):
        path = error.path.removeprefix(schema.name).lstrip(".")
        text = t(lang, error.reason_msgid, **error.params)
    if catalog is not None:
        catalog = replace(catalog, lang=lang)
    r = _Render(schema.name, lang, catalog, path or ("." if text else ""), text)
    shown = submitted if submitted is not None else values
    fields = _widgets(r, schema, shown, "")
    placed = any(_error_placed(w) for w in fields)
    return {"name": schema.name, "title": t(lang, schema.title),
            "help": t(lang, schema.help) if schema.help else "", "fields": fields,
            "error": text if text and not placed else "",
            "names_missing": sorted(catalog.missing) if catalog is not None else [],
            "edit": EDIT}


def _error_placed(w: Mapping[str, Any]) -> bool:
    if w.get("error"):
        return True
    nested = [*w.get("rows", []), *w.get("parts", [])]
    nested += [f for item in w.get("entries", []) for f in item["fields"]]
    return any(_error_placed(n) for n in nested)
