"""reconcile(): make the portal's robots, event bindings and placements match the registries.

List, diff, apply — in two batches (one to read, one to write), idempotent, run on install
and on every ONAPPUPDATE because an app update deletes its robots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from connector.bitrix.rest import BitrixClient, Command
from handlers import BOUND_LIFECYCLE, EVENTS, OFFLINE_EVENTS
from placements.registry import PLACEMENTS
from robots import ROBOTS

log = logging.getLogger(__name__)


@dataclass
class Plan:
    commands: dict[str, Command] = field(default_factory=dict)

    def add(self, key: str, method: str, params: dict[str, Any]) -> None:
        self.commands[key] = (method, params)


@dataclass
class Outcome:
    applied: list[str]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def desired_events(base_url: str, offline: bool) -> set[tuple[str, str, bool]]:
    handler = f"{base_url}/events"
    wanted = {(name, handler, False) for name in (*EVENTS, *BOUND_LIFECYCLE)}
    if offline:
        wanted |= {(name, "", True) for name in OFFLINE_EVENTS}
    return wanted


def plan(state: dict[str, Any], base_url: str, auth_user_id: str, offline: bool) -> Plan:
    """Pure diff of what the portal has against what the registries want."""
    out = Plan()
    have_robots = set(state.get("robots") or [])
    for spec in ROBOTS:
        fields = spec.registration(f"{base_url}/robots/{spec.code}", auth_user_id)
        if spec.code in have_robots:
            out.add(f"robot_update_{spec.code}", "bizproc.robot.update",
                    {"CODE": spec.code, "FIELDS": fields})
        else:
            out.add(f"robot_add_{spec.code}", "bizproc.robot.add", {"CODE": spec.code, **fields})
    for code in sorted(have_robots - {s.code for s in ROBOTS}):
        out.add(f"robot_delete_{code}", "bizproc.robot.delete", {"CODE": code})

    have_events = {
        (str(e.get("event", "")).upper(), str(e.get("handler") or ""), bool(int(
            e.get("offline") or 0)))
        for e in state.get("events") or []
    }
    wanted = desired_events(base_url, offline)
    for name, handler, is_offline in sorted(wanted - have_events):
        params: dict[str, Any] = {"event": name}
        if is_offline:
            params["event_type"] = "offline"
        else:
            params["handler"] = handler
        out.add(f"bind_{'off' if is_offline else 'on'}_{name}", "event.bind", params)
    for name, handler, is_offline in sorted(have_events - wanted):
        ours = is_offline or handler.startswith(base_url)
        if ours:
            params = {"event": name, "handler": handler} if handler else {"event": name,
                                                                          "event_type": "offline"}
            out.add(f"unbind_{'off' if is_offline else 'on'}_{name}", "event.unbind", params)

    have_places = {(str(p.get("placement", "")).upper(), str(p.get("handler", "")))
                   for p in state.get("placements") or []}
    for spec in PLACEMENTS:
        handler = f"{base_url}/placements/{spec.name}"
        if (spec.code, handler) not in have_places:
            out.add(f"place_{spec.code}", "placement.bind", {
                "PLACEMENT": spec.code, "HANDLER": handler, "TITLE": spec.title_en,
                "LANG_ALL": {"ru": {"TITLE": spec.title_ru}, "en": {"TITLE": spec.title_en}},
            })
    wanted_places = {(s.code, f"{base_url}/placements/{s.name}") for s in PLACEMENTS}
    for code, handler in sorted(have_places - wanted_places):
        if handler.startswith(base_url):
            out.add(f"unplace_{code}", "placement.unbind", {"PLACEMENT": code,
                                                            "HANDLER": handler})
    return out


def read_state(client: BitrixClient) -> dict[str, Any]:
    res = client.batch({
        "robots": ("bizproc.robot.list", {}),
        "events": ("event.get", {}),
        "placements": ("placement.get", {}),
    })
    return {"robots": res.get("robots"), "events": res.get("events"),
            "placements": res.get("placements")}


def reconcile(client: BitrixClient, base_url: str, auth_user_id: str = "",
              offline: bool = True) -> Outcome:
    base_url = base_url.rstrip("/")
    todo = plan(read_state(client), base_url, auth_user_id, offline)
    if not todo.commands:
        return Outcome([], {})
    res = client.batch(todo.commands)
    errors = {}
    for key, err in res.errors.items():
        if err.code in ("ERROR_HANDLER_ALREADY_EXIST", "ERROR_ACTIVITY_ALREADY_INSTALLED"):
            continue
        errors[key] = f"{err.code}: {err.description}"
    if errors:
        log.warning("reconcile of %s: %s", client.member_id, errors)
    return Outcome([k for k in todo.commands if k not in errors], errors)
