"""Who changed which setting, when: a per-field diff of every saved section.

Each saved section adds one entry (who, when, which section, and the changed fields as
dotted paths with their old and new values) to a capped Redis list under the core's
keyspace of the tenant; the General page shows the latest ones.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from connector.crm.port import BITRIX24, Tenant
from connector.i18n import N_, t, when
from connector.settings_schema import ListOf, PerUser

KEEP = 200  # entries kept per portal
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def steps(path: str) -> list[str | int]:
    """`groups[0].auto[1].entity` → ["groups", 0, "auto", 1, "entity"]."""
    return [int(i) if i else name for name, i in _STEP.findall(path)]


@dataclass(frozen=True)
class Change:
    path: str  # inside the section: groups[0].max_in_work
    old: Any
    new: Any


@dataclass(frozen=True)
class Entry:
    at: float
    user_id: str
    section: str
    changes: tuple[Change, ...]


def key(services: Any, member_id: str) -> str:
    return (f"{services.settings.queue_prefix}:core:{Tenant(BITRIX24, member_id).key}"
            ":settings-audit")


_MISSING: Any = object()


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Objects and lists of objects are walked; a list of ids is one value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def diff(before: Any, after: Any) -> list[Change]:
    """The fields whose values differ, old → new (absent on one side: None)."""
    old, new = dict(_leaves(before, "")), dict(_leaves(after, ""))
    empty = (_MISSING, None, [], {})
    return [Change(p, old.get(p), new.get(p)) for p in dict.fromkeys([*old, *new])
            if old.get(p, _MISSING) != new.get(p, _MISSING)
            and not (old.get(p, _MISSING) in empty and new.get(p, _MISSING) in empty)]


def record(services: Any, member_id: str, user_id: Any, section: str, before: Any,
           after: Any, now: Callable[[], float] = time.time) -> bool:
    """Write an entry when something changed; whether it did."""
    changes = diff(before, after)
    if not changes:
        return False
    entry = {"at": now(), "user_id": str(user_id), "section": section,
             "changes": [[c.path, c.old, c.new] for c in changes]}
    where = key(services, member_id)
    with services.redis.pipeline() as pipe:
        pipe.lpush(where, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(where, 0, KEEP - 1)
        pipe.execute()
    return True


def entries(services: Any, member_id: str, limit: int = 20) -> list[Entry]:
    """The latest entries first."""
    out = []
    for raw in services.redis.lrange(key(services, member_id), 0, limit - 1):
        e = json.loads(raw)
        out.append(Entry(e["at"], e["user_id"], e["section"],
                         tuple(Change(*c) for c in e["changes"])))
    return out


# the General page's panel ---------------------------------------------------------------
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
            "when": when(e.at, lang, ctx.tz, "short"), "who": view.name("user", e.user_id),
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
