"""Who is at work on an amoCRM account: amoCRM has no time tracking, so availability comes
from the admin's schedules and each manager's own "away" switch on the widget.

A manager's hours are the `amocrm` settings section's schedule for them (weekdays, start,
end), else the company's working time (`work_time`, the watchdogs' section); either way the
company's calendar (production calendar, extra days off and working days) and the tenant's
time zone (`general.timezone`) apply. The working-time rules are the watchdogs' own
(published by that capability as the `work_time` service): nothing here parses a clock.

`availability` is the decision, pure; `presence_for` reads the settings and the switches.
The answers are port.AVAILABILITY values; distribution reads "working" as an open work day,
"paused" as a break and "closed" as a closed day (robots/distribution/engine.py DAY).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from connector.amocrm.domains import account_id_of
from connector.crm.port import AMOCRM, Tenant

WORKING, PAUSED, CLOSED, UNKNOWN = "working", "paused", "closed", "unknown"
WORK_TIME_SERVICE = "work_time"  # robots.watchdogs: (section, tz, portal calendar) → WorkTime


class Schedule(Protocol):
    def is_working(self, t: float) -> bool: ...


def availability(now: float, schedule: Schedule, away: bool) -> str:
    """"paused" when the manager said away (whatever the hour), else "working" inside their
    hours (start inclusive, end exclusive) and "closed" outside them or on a day off."""
    if away:
        return PAUSED
    return WORKING if schedule.is_working(now) else CLOSED


# the away switch ----------------------------------------------------------------------
def away_key(prefix: str, member_id: str) -> str:
    """One hash per tenant under the core's keyspace: user id → when they went away."""
    tenant = Tenant(AMOCRM, str(account_id_of(member_id)))
    return f"{prefix}:core:{tenant.key}:away"


def set_away(redis: Any, prefix: str, member_id: str, user_id: int, away: bool,
             now: float | None = None) -> None:
    key = away_key(prefix, member_id)
    if away:
        redis.hset(key, str(int(user_id)), str(int(time.time() if now is None else now)))
    else:
        redis.hdel(key, str(int(user_id)))


def away_since(redis: Any, prefix: str, member_id: str, user_id: int) -> int:
    """Unix seconds since the manager is away; 0 when not."""
    raw = redis.hget(away_key(prefix, member_id), str(int(user_id)))
    return int(raw) if raw else 0


def away_of(redis: Any, prefix: str, member_id: str, ids: Iterable[int]) -> set[int]:
    wanted = [int(i) for i in ids]
    if not wanted:
        return set()
    got = redis.hmget(away_key(prefix, member_id), [str(i) for i in wanted])
    return {uid for uid, raw in zip(wanted, got, strict=True) if raw}


# schedules from the settings ----------------------------------------------------------------
def schedules(doc: Mapping[str, Any], make: Callable[..., Schedule]) -> tuple[
        Schedule, dict[int, Schedule]]:
    """The company's schedule and each manager's from a settings document; `make` is the
    watchdogs' `from_settings(section, tz, portal)`."""
    tz = str((doc.get("general") or {}).get("timezone") or "Europe/Moscow")
    company = dict(doc.get("work_time") or {})
    company.pop("use_portal_calendar", None)  # a Bitrix24 portal's calendar: none here
    own = {int(row["user_id"]): make({**company, "weekdays": row["weekdays"],
                                      "start": row["start"], "end": row["end"]}, tz, None)
           for row in (doc.get("amocrm") or {}).get("schedules", [])}
    return make(company, tz, None), own


def presence_for(services: Any, member_id: str) -> Callable[[tuple[int, ...]], dict[int, str]]:
    """A callable user ids → availability (connector.crm.port.AVAILABILITY) for the tenant,
    read when called (a distribution asks once per lead)."""

    def ask(ids: tuple[int, ...]) -> dict[int, str]:
        make = services.registry.service(WORK_TIME_SERVICE)
        if make is None:  # the watchdogs are not loaded: no working time is known
            return dict.fromkeys(ids, UNKNOWN)
        company, own = schedules(services.portal_settings.get(member_id), make)
        away = away_of(services.redis, services.settings.queue_prefix, member_id, ids)
        now = time.time()
        return {uid: availability(now, own.get(int(uid), company), int(uid) in away)
                for uid in ids}

    return ask
