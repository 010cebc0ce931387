"""reconcile(): make the portal's robots, event bindings and placements match the registries.

List, diff, apply — in two batches (one to read, one to write), idempotent, run on install
and on every ONAPPUPDATE because an app update deletes its robots. The installer page and the
ONAPPINSTALL/ONAPPUPDATE job can run it for one portal at the same moment, so it runs under a
per-portal Redis lock: the second run waits, then reads what the first registered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from connector.bitrix.errors import BitrixError, BitrixRetryableError
from connector.bitrix.events import BOUND_LIFECYCLE, bitrix_events
from connector.bitrix.rest import BitrixClient, Command
from connector.capability import Registry
from placements.registry import PLACEMENTS

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


def desired_events(registry: Registry, base_url: str, offline: bool
                   ) -> set[tuple[str, str, bool]]:
    """Online bindings for every event a capability listens to, and their offline twins."""
    handler = f"{base_url}/events"
    crm_events = bitrix_events(registry.events())
    wanted = {(name, handler, False) for name in (*crm_events, *BOUND_LIFECYCLE)}
    if offline:
        wanted |= {(name, "", True) for name in crm_events}
    return wanted


def plan(registry: Registry, state: dict[str, Any], base_url: str, auth_user_id: str,
         offline: bool) -> Plan:
    """Pure diff of what the portal has against what the capabilities want."""
    out = Plan()
    robots = list(registry.triggers.values())
    have_robots = set(state.get("robots") or [])
    for spec in robots:
        fields = spec.registration(f"{base_url}/robots/{spec.code}", auth_user_id)
        if spec.code in have_robots:
            out.add(f"robot_update_{spec.code}", "bizproc.robot.update",
                    {"CODE": spec.code, "FIELDS": fields})
        else:
            out.add(f"robot_add_{spec.code}", "bizproc.robot.add", {"CODE": spec.code, **fields})
    for code in sorted(have_robots - {s.code for s in robots}):
        out.add(f"robot_delete_{code}", "bizproc.robot.delete", {"CODE": code})

    have_events = {
        (str(e.get("event", "")).upper(), str(e.get("handler") or ""), bool(int(
            e.get("offline") or 0)))
        for e in state.get("events") or []
    }
    wanted = desired_events(registry, base_url, offline)
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


def already_registered(err: BitrixError) -> bool:
    """A duplicate registration: the thing is there, which is what we wanted.

    event.bind and placement.bind answer ERROR_CORE "… Handler already binded" (the core's
    RestException; api-reference/events/event-bind.md lists no own code for it);
    bizproc.robot.add answers ERROR_ACTIVITY_ALREADY_INSTALLED
    (api-reference/bizproc/bizproc-robot/bizproc-robot-add.md).
    """
    if err.code == "ERROR_ACTIVITY_ALREADY_INSTALLED":
        return True
    return err.code == "ERROR_CORE" and "already binded" in err.description.lower()


LOCK_TIMEOUT_S = 120.0


def reconcile(registry: Registry, client: BitrixClient, base_url: str, auth_user_id: str = "",
              offline: bool = True, *, redis: Redis | None = None,
              lock_timeout: float = LOCK_TIMEOUT_S) -> Outcome:
    """Register what the registries want, one run per portal at a time.

    The lock lives in `redis` (by default the Redis of the client's own token manager, so
    every existing caller is serialised without passing anything) under the store's
    `lock_key(member_id, "reconcile")`. A run that cannot get it within `lock_timeout`
    raises BitrixRetryableError (the job retries; the installer page shows the error).
    """
    store = client.tokens.store
    lock = (redis or client.tokens.redis).lock(
        store.lock_key(client.member_id, "reconcile"), timeout=lock_timeout,
        blocking_timeout=lock_timeout)
    if not lock.acquire():
        raise BitrixRetryableError("RECONCILE_LOCK_TIMEOUT",
                                   "another registration run is still going", 0)
    try:
        return _reconcile(registry, client, base_url.rstrip("/"), auth_user_id, offline)
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - an expired lock is not ours any more
            log.warning("reconcile lock for %s expired before release", client.member_id)


def _reconcile(registry: Registry, client: BitrixClient, base_url: str, auth_user_id: str,
               offline: bool) -> Outcome:
    todo = plan(registry, read_state(client), base_url, auth_user_id, offline)
    if not todo.commands:
        return Outcome([], {})
    res = client.batch(todo.commands)
    errors = {}
    for key, err in res.errors.items():
        if already_registered(err):
            continue
        errors[key] = f"{err.code}: {err.description}"
    if errors:
        log.warning("reconcile of %s: %s", client.member_id, errors)
    return Outcome([k for k in todo.commands if k not in errors], errors)
