"""The `distribution` settings section and the Group it describes.

Declared once here; the settings store validates every group with the field path and the
reason, so an admin importing a broken document learns exactly what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connector.portal_settings import (
    FieldSpec,
    Section,
    SettingsInvalid,
    in_range,
    register_section,
)
from robots.distribution.policy import LEAST_LOADED, WEIGHTED

ENTITY_RE = re.compile(r"^(lead|deal|item:\d+)$")
GROUP_ID_RE = re.compile(r"^[a-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class AutoRule:
    """Distribute automatically when an item of this entity (and category/source) is added."""

    entity: str
    category_ids: tuple[int, ...] = ()
    source_ids: tuple[str, ...] = ()

    def matches(self, entity: str, category_id: Any, source_id: Any) -> bool:
        if entity != self.entity:
            return False
        if self.category_ids and _int(category_id) not in self.category_ids:
            return False
        return not (self.source_ids and str(source_id or "") not in self.source_ids)


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    entity_types: tuple[str, ...] = ("lead",)
    users: tuple[int, ...] = ()
    departments: tuple[int, ...] = ()
    in_work: dict[str, tuple[str, ...]] = field(default_factory=dict)
    weights: dict[int, float] = field(default_factory=dict)
    max_in_work: int = 0
    max_per_day: int = 0
    rule: str = LEAST_LOADED
    supervisors: tuple[int, ...] = ()
    chat_id: int = 0
    recheck_minutes: int = 10
    auto: tuple[AutoRule, ...] = ()
    placeholder_user_ids: tuple[int, ...] = ()

    def weight(self, user_id: int) -> float:
        return self.weights.get(user_id, 1.0)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ints(path: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0
                                          for v in value):
        raise SettingsInvalid(path, "must be a list of positive user/department ids")
    return tuple(value)


GROUP_KEYS = {
    "id", "name", "entity_types", "users", "departments", "in_work", "weights", "max_in_work",
    "max_per_day", "rule", "supervisors", "chat_id", "recheck_minutes", "auto",
    "placeholder_user_ids",
}


def parse_group(path: str, raw: Any) -> Group:
    """One group from the settings document, or SettingsInvalid naming the field."""
    if not isinstance(raw, dict):
        raise SettingsInvalid(path, "must be an object")
    for key in raw:
        if key not in GROUP_KEYS:
            raise SettingsInvalid(f"{path}.{key}", "unknown field")
    gid = raw.get("id")
    if not isinstance(gid, str) or not GROUP_ID_RE.match(gid):
        raise SettingsInvalid(f"{path}.id", "must be 1-40 of a-z, 0-9, _ or -")
    name = raw.get("name", gid)
    if not isinstance(name, str) or not name.strip():
        raise SettingsInvalid(f"{path}.name", "must be a non-empty string")
    entities = raw.get("entity_types", ["lead"])
    if not isinstance(entities, list) or not entities or not all(
            isinstance(e, str) and ENTITY_RE.match(e) for e in entities):
        raise SettingsInvalid(f"{path}.entity_types",
                              "must list 'lead', 'deal' or 'item:<entityTypeId>'")
    users = _ints(f"{path}.users", raw.get("users", []))
    departments = _ints(f"{path}.departments", raw.get("departments", []))
    if not users and not departments:
        raise SettingsInvalid(f"{path}.users", "a group needs users or departments")
    in_work_raw = raw.get("in_work", {})
    if not isinstance(in_work_raw, dict):
        raise SettingsInvalid(f"{path}.in_work", "must map an entity type to status ids")
    in_work: dict[str, tuple[str, ...]] = {}
    for entity, statuses in in_work_raw.items():
        if entity not in entities:
            raise SettingsInvalid(f"{path}.in_work.{entity}", "entity type not served by the group")
        if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
            raise SettingsInvalid(f"{path}.in_work.{entity}", "must be a list of status ids")
        in_work[entity] = tuple(statuses)
    weights_raw = raw.get("weights", {})
    if not isinstance(weights_raw, dict):
        raise SettingsInvalid(f"{path}.weights", "must map user id to a weight")
    weights: dict[int, float] = {}
    for key, value in weights_raw.items():
        uid = _int(key)
        if uid is None or isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 < value <= 100):
            raise SettingsInvalid(f"{path}.weights.{key}", "weight must be a number in (0, 100]")
        weights[uid] = float(value)
    numbers = {}
    for key, low, high, default in (("max_in_work", 0, 100000, 0), ("max_per_day", 0, 100000, 0),
                                    ("chat_id", 0, 10**12, 0), ("recheck_minutes", 1, 1440, 10)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsInvalid(f"{path}.{key}", f"must be a whole number {low}..{high}")
        numbers[key] = value
    rule = raw.get("rule", LEAST_LOADED)
    if rule not in (LEAST_LOADED, WEIGHTED):
        raise SettingsInvalid(f"{path}.rule", f"must be {LEAST_LOADED} or {WEIGHTED}")
    autos = []
    for i, item in enumerate(raw.get("auto", []) or []):
        ap = f"{path}.auto[{i}]"
        if not isinstance(item, dict) or item.get("entity") not in entities:
            raise SettingsInvalid(f"{ap}.entity", "must be one of the group's entity types")
        cats = item.get("category_ids", [])
        if not isinstance(cats, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                 for c in cats):
            raise SettingsInvalid(f"{ap}.category_ids", "must be a list of category ids")
        sources = item.get("source_ids", [])
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise SettingsInvalid(f"{ap}.source_ids", "must be a list of source ids")
        autos.append(AutoRule(item["entity"], tuple(cats), tuple(sources)))
    return Group(
        id=gid, name=name.strip(), entity_types=tuple(entities), users=users,
        departments=departments, in_work=in_work, weights=weights, rule=rule,
        supervisors=_ints(f"{path}.supervisors", raw.get("supervisors", [])),
        auto=tuple(autos),
        placeholder_user_ids=_ints(f"{path}.placeholder_user_ids",
                                   raw.get("placeholder_user_ids", [])),
        **numbers,
    )


def _check_groups(value: list[Any]) -> str | None:
    seen: set[str] = set()
    for i, raw in enumerate(value):
        group = parse_group(f"distribution.groups[{i}]", raw)
        if group.id in seen:
            raise SettingsInvalid(f"distribution.groups[{i}].id", f"duplicate group id {group.id}")
        seen.add(group.id)
    return None


SECTION = register_section(Section(
    "distribution",
    "Fair distribution groups: who receives what, by which rule, who is told.",
    {
        "groups": FieldSpec(list, [], "distribution groups", _check_groups),
        "pin_on_won": FieldSpec(bool, True,
                                "pin a client to the manager of their first won deal"),
        "audit_days": FieldSpec(int, 90, "days the decision log is kept", in_range(1, 365)),
        "reconcile_minutes": FieldSpec(int, 15, "minutes between counter reconciliations",
                                       in_range(1, 1440)),
    },
))


def groups(settings: dict[str, Any]) -> list[Group]:
    section = settings.get("distribution") or {}
    return [parse_group(f"distribution.groups[{i}]", g)
            for i, g in enumerate(section.get("groups", []))]


def group_by_id(settings: dict[str, Any], group_id: str) -> Group | None:
    return next((g for g in groups(settings) if g.id == group_id), None)
