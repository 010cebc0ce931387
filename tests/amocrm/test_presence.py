"""Availability on amoCRM: the schedules' edges, the time zone, the away switch winning, and
presence_for reading the stored settings and switches (a real Redis)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connector.amocrm.presence import (
    availability,
    away_of,
    away_since,
    presence_for,
    schedules,
    set_away,
)
from connector.crm.port import AVAILABILITY
from connector.settings_schema import SettingsInvalid
from robots.watchdogs.worktime import from_settings

MSK = ZoneInfo("Europe/Moscow")


def at(text: str, zone: ZoneInfo = MSK) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def doc(rows: list[dict] | None = None, tz: str = "Europe/Moscow", **work_time) -> dict:
    return {"general": {"timezone": tz},
            "work_time": {"start": "09:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5],
                          "production_calendar": True, "days_off": [], "workdays": [],
                          "use_portal_calendar": False, **work_time},
            "amocrm": {"schedules": rows or []}}


def test_start_is_inclusive_and_end_exclusive():
    company, _ = schedules(doc(), from_settings)
    # Tuesday 2026-03-03
    assert availability(at("2026-03-03T08:59:59"), company, False) == "closed"
    assert availability(at("2026-03-03T09:00:00"), company, False) == "working"
    assert availability(at("2026-03-03T17:59:59"), company, False) == "working"
    assert availability(at("2026-03-03T18:00:00"), company, False) == "closed"


def test_a_manager_schedule_replaces_the_company_hours_and_days():
    company, own = schedules(doc([{"user_id": 7, "weekdays": [6, 7], "start": "12:00",
                                   "end": "24:00"}]), from_settings)
    saturday, monday = "2026-03-07", "2026-03-16"
    assert availability(at(f"{saturday}T11:59"), own[7], False) == "closed"
    assert availability(at(f"{saturday}T12:00"), own[7], False) == "working"
    assert availability(at(f"{saturday}T23:59:59"), own[7], False) == "working"
    assert availability(at(f"{monday}T10:00"), own[7], False) == "closed"  # a day off
    assert availability(at(f"{saturday}T12:00"), company, False) == "closed"
    assert availability(at(f"{monday}T10:00"), company, False) == "working"


def test_holidays_of_the_company_apply_to_a_manager_schedule():
    rows = [{"user_id": 7, "weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}]
    _, own = schedules(doc(rows, days_off=["2026-03-03"]), from_settings)
    assert availability(at("2026-03-03T10:00"), own[7], False) == "closed"
    # 2026-01-01..08 are public holidays in the Russian production calendar
    assert availability(at("2026-01-05T10:00"), own[7], False) == "closed"


def test_the_tenant_time_zone_decides_the_hour():
    company, _ = schedules(doc(tz="Asia/Vladivostok"), from_settings)  # UTC+10
    moment = at("2026-03-03T08:30", MSK)  # 15:30 in Vladivostok, 08:30 in Moscow
    assert availability(moment, company, False) == "working"
    moscow, _ = schedules(doc(), from_settings)
    assert availability(moment, moscow, False) == "closed"
    late = at("2026-03-03T11:00", MSK)  # 18:00 in Vladivostok: the end is not working
    assert availability(late, company, False) == "closed"


def test_away_wins_inside_and_outside_the_hours():
    company, _ = schedules(doc(), from_settings)
    assert availability(at("2026-03-03T10:00"), company, True) == "paused"
    assert availability(at("2026-03-07T10:00"), company, True) == "paused"
    assert {"working", "paused", "closed"} <= set(AVAILABILITY)


def test_the_schedule_section_refuses_what_makes_no_sense():
    from connector.settings_schema import AMOCRM

    good = AMOCRM.validate({"schedules": [{"user_id": 3}]})
    assert good["schedules"] == [{"user_id": 3, "weekdays": [1, 2, 3, 4, 5], "start": "09:00",
                                  "end": "18:00"}]
    for bad, where in (({"user_id": 3, "start": "18:00", "end": "09:00"}, "end"),
                       ({"user_id": 3, "weekdays": []}, "weekdays"),
                       ({"user_id": 3, "start": "9:00"}, "start"),
                       ({"user_id": 3, "end": "24:30"}, "end")):
        with pytest.raises(SettingsInvalid) as refused:
            AMOCRM.validate({"schedules": [bad]})
        assert refused.value.path.endswith(where)
    with pytest.raises(SettingsInvalid):
        AMOCRM.validate({"schedules": [{"user_id": 3}, {"user_id": 3}]})


def test_the_switch_round_trip_in_redis(redis):
    member = "amo-31000001"
    assert away_of(redis, "t", member, [5, 6]) == set()
    set_away(redis, "t", member, 5, True, now=1_700_000_000)
    assert away_of(redis, "t", member, [5, 6]) == {5}
    assert away_since(redis, "t", member, 5) == 1_700_000_000
    assert away_of(redis, "t", "amo-31000002", [5]) == set()  # another tenant
    set_away(redis, "t", member, 5, False)
    assert away_of(redis, "t", member, [5, 6]) == set()


def test_presence_for_reads_the_stored_schedules_and_switches(world):
    from wiring import build_services

    services = build_services(world.settings)
    member = world.connect()
    night_owl = {"user_id": 8, "weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "00:00",
                 "end": "24:00"}
    never = {"user_id": 9, "weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "00:00",
             "end": "00:01"}
    services.portal_settings.put(member, {**services.portal_settings.get(member),
                                          "amocrm": {"schedules": [night_owl, never]},
                                          "work_time": {**doc()["work_time"],
                                                        "production_calendar": False}})
    ask = presence_for(services, member)
    seen = ask((8, 9))
    assert seen[8] == "working"
    # 00:00–00:01 works one minute a day: closed unless the test runs in that minute
    now = datetime.now(MSK)
    assert seen[9] == ("working" if (now.hour, now.minute) == (0, 0) else "closed")
    set_away(services.redis, services.settings.queue_prefix, member, 8, True)
    assert ask((8,)) == {8: "paused"}
    assert set(ask((8, 9, 10)).values()) <= set(AVAILABILITY)
