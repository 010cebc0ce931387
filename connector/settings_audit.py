"""Who changed which setting, when: a per-field diff of every saved section, and the one way
a portal's settings are saved.

`save(services, member_id, doc, actor)` is what the admin pages and the CLI both call:
validate and store the document (SettingsStore.put), write one audit entry per section that
changed (who, when, the changed fields as dotted paths with their old and new values, in a
capped Redis list under the core's keyspace of the tenant), and bring the portal's periodic
tasks in line with the new intervals at once. The General page shows the trail
(admin/audit.py renders it by name).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from connector import capped
from connector.crm.port import tenant_of

KEEP = 200  # entries kept per portal
CLI = "cli"  # the actor of a change made with `crm-connector settings`
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
    return (f"{services.settings.queue_prefix}:core:{tenant_of(member_id).key}"
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
    capped.add(services.redis, where, entry, KEEP)
    return True


def entries(services: Any, member_id: str, limit: int = 20) -> list[Entry]:
    """The latest entries first."""
    out = []
    for raw in services.redis.lrange(key(services, member_id), 0, limit - 1):
        e = json.loads(raw)
        out.append(Entry(e["at"], e["user_id"], e["section"],
                         tuple(Change(*c) for c in e["changes"])))
    return out


def save(services: Any, member_id: str, doc: Any, actor: str) -> dict[str, Any]:
    """Store a whole settings document (SettingsInvalid when refused: nothing changes), audit
    each section it changes, re-plan the periodic tasks; the stored document."""
    from connector.jobs import ensure_periodic

    before = services.portal_settings.get(member_id)
    after = services.portal_settings.put(member_id, doc)
    for section, values in after.items():
        record(services, member_id, actor, section, before.get(section, {}), values)
    ensure_periodic(services, member_id)  # intervals follow the settings at once
    return after
