"""Per-portal settings: one validated JSON document with a section per capability.

Capabilities declare their section once with `register_section`; the document is checked
as a whole and an invalid one is refused with the field path and the reason, leaving the
stored document untouched.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

Check = Callable[[Any], str | None]


class SettingsInvalid(ValueError):
    """Names the offending field (dotted path) and says why."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class FieldSpec:
    kind: type | tuple[type, ...]
    default: Any
    doc: str = ""
    check: Check | None = None
    item: type | None = None  # element type for lists


@dataclass(frozen=True)
class Section:
    name: str
    doc: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], tuple[str, str] | None] | None = None


SECTIONS: dict[str, Section] = {}


def register_section(section: Section) -> Section:
    SECTIONS[section.name] = section
    return section


def one_of(*allowed: Any) -> Check:
    return lambda v: None if v in allowed else f"must be one of {', '.join(map(str, allowed))}"


def in_range(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}"


def _timezone(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "is not an IANA time zone such as Europe/Moscow"
    return None


register_section(Section(
    "general",
    "Portal-wide choices every capability reads.",
    {
        "timezone": FieldSpec(str, "Europe/Moscow", "time zone for 'today' and 'this month'",
                              _timezone),
        "language": FieldSpec(str, "ru", "language of messages the app writes", one_of("ru", "en")),
        "admin_user_ids": FieldSpec(list, [], "who is told about failures", item=int),
    },
))
register_section(Section(
    "events",
    "How CRM events reach the app.",
    {
        "offline_backup": FieldSpec(bool, True, "also bind CRM events as offline events"),
        "drain_every_s": FieldSpec(int, 60, "seconds between offline-queue drains",
                                   in_range(10, 3600)),
    },
))


def _check_value(path: str, spec: FieldSpec, value: Any) -> Any:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise SettingsInvalid(path, f"must be {'/'.join(k.__name__ for k in kinds)}, not a bool")
    if int in kinds and float not in kinds and isinstance(value, float):
        raise SettingsInvalid(path, "must be a whole number")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise SettingsInvalid(path, f"must be {names}, got {type(value).__name__}")
    if spec.item is not None and isinstance(value, list):
        for i, element in enumerate(value):
            if isinstance(element, bool) or not isinstance(element, spec.item):
                raise SettingsInvalid(f"{path}[{i}]", f"must be {spec.item.__name__}")
    if spec.check and (reason := spec.check(value)):
        raise SettingsInvalid(path, reason)
    return value


def validate(doc: Any) -> dict[str, Any]:
    """Return the full document with defaults filled in, or raise SettingsInvalid."""
    if not isinstance(doc, dict):
        raise SettingsInvalid("$", "the settings document must be a JSON object")
    for name in doc:
        if name not in SECTIONS:
            raise SettingsInvalid(name, f"unknown section (known: {', '.join(sorted(SECTIONS))})")
    out: dict[str, Any] = {}
    for name, section in SECTIONS.items():
        given = doc.get(name, {})
        if not isinstance(given, dict):
            raise SettingsInvalid(name, "must be an object")
        for key in given:
            if key not in section.fields:
                raise SettingsInvalid(f"{name}.{key}", "unknown field")
        values = {}
        for key, spec in section.fields.items():
            value = given.get(key, spec.default)
            values[key] = _check_value(f"{name}.{key}", spec, value)
        if section.check and (problem := section.check(values)):
            raise SettingsInvalid(f"{name}.{problem[0]}", problem[1])
        out[name] = values
    return out


def defaults() -> dict[str, Any]:
    return validate({})


class SettingsStore:
    """Stores each portal's document; reads always return a complete, valid document."""

    def __init__(self, redis: Redis, prefix: str = "cc"):
        self.redis = redis
        self.prefix = prefix

    def key(self, member_id: str) -> str:
        return f"{self.prefix}:settings:{member_id}"

    def get(self, member_id: str) -> dict[str, Any]:
        raw = self.redis.get(self.key(member_id))
        stored = json.loads(raw) if raw else {}
        # sections added by newer versions get their defaults; unknown old ones are dropped
        stored = {k: v for k, v in stored.items() if k in SECTIONS}
        for name, values in stored.items():
            known = SECTIONS[name].fields
            stored[name] = {k: v for k, v in values.items() if k in known}
        return validate(stored)

    def put(self, member_id: str, doc: Any) -> dict[str, Any]:
        clean = validate(doc)
        self.redis.set(self.key(member_id), json.dumps(clean, ensure_ascii=False))
        return clean

    def delete(self, member_id: str) -> None:
        self.redis.delete(self.key(member_id))
