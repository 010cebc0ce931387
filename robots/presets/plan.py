"""What a preset changes on this portal: pure, no I/O.

The preset's values are filled in for this admin and department and written in the
portal's language, merged into the stored settings (a rule list by its ids), and validated
by each section's own schema, so the preview shows exactly what the store will keep and a
preset that would be refused is refused before anything is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.settings_audit import Change, diff
from connector.settings_schema import Schema
from robots.presets.catalog import DEPARTMENT, ME, Preset, Words


@dataclass(frozen=True)
class Plan:
    sections: dict[str, dict[str, Any]]  # every section the preset touches, as it will be
    changes: dict[str, list[Change]]  # per section, the fields that change (none: empty)
    skipped: tuple[str, ...] = ()  # sections left out: they need a department not chosen

    @property
    def empty(self) -> bool:
        return not any(self.changes.values())


def fill(value: Any, me: int, department: int, words: Callable[[str], str]) -> Any:
    """The markers replaced: ME by the admin, DEPARTMENT by theirs (dropped when none)."""
    if isinstance(value, Words):
        return words(value.msgid)
    if isinstance(value, Mapping):
        return {k: fill(v, me, department, words) for k, v in value.items()}
    if isinstance(value, list | tuple):
        out = []
        for v in value:
            if v == ME:
                out.append(me)
            elif v == DEPARTMENT:
                if department:
                    out.append(department)
            else:
                out.append(fill(v, me, department, words))
        return out
    return value


def _wants_department(value: Any) -> bool:
    if value == DEPARTMENT:
        return True
    if isinstance(value, Mapping):
        return any(_wants_department(v) for v in value.values())
    return isinstance(value, list | tuple) and any(_wants_department(v) for v in value)


def _rules(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, Mapping) and "id" in v for v in value)


def merge(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """`wanted` over `current`; a list of rules merged by id (a rule the portal has is
    updated in place, a new one appended), so a preset applied twice adds nothing."""
    out = dict(current)
    for name, value in wanted.items():
        have = current.get(name)
        if _rules(value) and isinstance(have, list):
            rules = [dict(r) for r in have]
            at = {r.get("id"): i for i, r in enumerate(rules) if isinstance(r, Mapping)}
            for rule in value:
                if rule["id"] in at:
                    rules[at[rule["id"]]] = {**rules[at[rule["id"]]], **rule}
                else:
                    rules.append(dict(rule))
            out[name] = rules
        else:
            out[name] = value
    return out


def plan(preset: Preset, stored: Mapping[str, Mapping[str, Any]],
         schemas: Mapping[str, Schema], me: int, department: int,
         words: Callable[[str], str]) -> Plan:
    """The sections after the preset, validated (SettingsInvalid names what is refused)."""
    sections, changes, skipped = {}, {}, []
    for name, wanted in preset.settings.items():
        if name not in schemas:
            continue  # a capability not loaded in this process: nothing of it is changed
        if not department and _wants_department(wanted):
            skipped.append(name)  # a group with nobody in it would be refused, or idle
            continue
        before = dict(stored.get(name) or {})
        after = schemas[name].validate(merge(before, fill(wanted, me, department, words)))
        sections[name] = after
        changes[name] = diff(before, after)
    return Plan(sections, changes, tuple(skipped))
