"""Working time of watchdogs: the production calendar, the portal's calendar, time zones and
the arithmetic timers rely on (add, between, add_days)."""

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robots.watchdogs.worktime import ALL_WEEK, WorkTime, from_settings, parse_clock

H = 3600
MSK = "Europe/Moscow"


def at(text: str, tz: str = MSK) -> float:
    """A unix moment from a local "YYYY-MM-DD HH:MM"."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def local(t: float, tz: str = MSK) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


OFFICE = WorkTime.build()  # 09:00-18:00, Monday to Friday, Moscow, production calendar
PLAIN = WorkTime.build(production_calendar=False)


# the production calendar ----------------------------------------------------------------
@pytest.mark.parametrize(("moment", "working"), [
    ("2025-11-01 12:00", True),  # Saturday moved to work
    ("2025-11-03 12:00", False),  # Monday off in its place
    ("2025-11-04 12:00", False),  # Unity Day
    ("2025-11-05 12:00", True),
    ("2025-05-01 12:00", False), ("2025-05-02 12:00", False), ("2025-05-05 12:00", True),
    ("2025-05-08 12:00", False), ("2025-05-09 12:00", False), ("2025-05-12 12:00", True),
    ("2026-05-04 12:00", True), ("2026-05-11 12:00", False),  # Victory Day observed
    ("2024-12-28 12:00", True),  # Saturday moved to work
    ("2025-01-08 12:00", False), ("2025-01-09 12:00", True),
    ("2025-12-31 12:00", False), ("2026-01-09 12:00", False), ("2026-01-12 12:00", True),
    ("2025-10-31 08:59", False), ("2025-10-31 09:00", True), ("2025-10-31 17:59", True),
    ("2025-10-31 18:00", False),  # the end is not working time
])
def test_the_production_calendar_decides_the_day(moment, working):
    assert OFFICE.is_working(at(moment)) is working


def test_without_the_calendar_only_the_week_counts():
    assert not PLAIN.is_working(at("2025-11-01 12:00"))
    assert PLAIN.is_working(at("2025-11-03 12:00"))
    assert PLAIN.is_working(at("2025-05-08 12:00"))


@pytest.mark.parametrize(("start", "hours", "end", "wt"), [
    ("2025-10-17 17:00", 22, "2025-10-22 12:00", OFFICE),  # Friday evening to Wednesday
    ("2025-10-17 17:00", 22, "2025-10-21 15:00", WorkTime.build(end="21:00")),  # to Tuesday
    ("2025-10-31 17:00", 22, "2025-11-06 12:00", OFFICE),  # Saturday works, Mon-Tue off
    ("2025-10-31 17:00", 22, "2025-11-05 12:00", PLAIN),
    ("2025-04-30 17:00", 2, "2025-05-05 10:00", OFFICE),  # the first May holidays
    ("2025-05-07 17:30", 1, "2025-05-12 09:30", OFFICE),  # the second ones
    ("2026-05-08 17:00", 2, "2026-05-12 10:00", OFFICE),  # Victory Day on a Saturday
    ("2024-12-28 17:00", 2, "2025-01-09 10:00", OFFICE),  # a working Saturday, New Year
    ("2025-12-30 17:00", 9, "2026-01-12 17:00", OFFICE),  # 31.12 off, back on the 12th
    ("2025-10-17 09:00", 9, "2025-10-17 18:00", OFFICE),  # a full day ends at its end
    ("2025-10-18 03:00", 1, "2025-10-20 10:00", OFFICE),  # from a weekend night
])
def test_add_counts_working_hours_only(start, hours, end, wt):
    due = wt.add(at(start), hours * H)
    assert local(due) == end
    assert wt.between(at(start), due) == hours * H


def test_next_working_skips_holidays():
    assert local(OFFICE.next_working(at("2025-12-30 18:00"))) == "2026-01-12 09:00"
    assert local(OFFICE.next_working(at("2025-12-30 18:30"))) == "2026-01-12 09:00"
    assert OFFICE.next_working(at("2025-10-17 10:15")) == at("2025-10-17 10:15")
    assert OFFICE.between(at("2025-12-30 09:00"), at("2026-01-12 18:00")) == 18 * H


def test_between_is_signed_and_zero_off_hours():
    a, b = at("2025-10-17 10:00"), at("2025-10-20 11:00")
    assert OFFICE.between(a, b) == 10 * H  # 8 on Friday, 2 on Monday
    assert OFFICE.between(b, a) == -10 * H
    assert OFFICE.between(at("2025-10-18 10:00"), at("2025-10-19 23:00")) == 0


# add_days -------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "n", "end"), [
    ("2025-10-17 15:00", 1, "2025-10-20 15:00"),  # Friday to Monday, same clock
    ("2025-10-17 20:00", 1, "2025-10-21 09:00"),  # after hours counts from Monday's start
    ("2025-10-18 11:00", 1, "2025-10-21 09:00"),  # so does a weekend
    ("2025-10-20 07:00", 1, "2025-10-21 09:00"),  # and an early morning
    ("2025-10-31 15:00", 1, "2025-11-01 15:00"),  # the working Saturday
    ("2025-10-31 15:00", 2, "2025-11-05 15:00"),
    ("2025-10-18 11:00", 0, "2025-10-20 09:00"),  # 0 days is the next working moment
    ("2025-12-29 10:30", 2, "2026-01-12 10:30"),  # over 31.12 and 1-11.01
])
def test_add_days_keeps_the_clock(start, n, end):
    assert local(OFFICE.add_days(at(start), n)) == end


# time zones -----------------------------------------------------------------------------
def test_hours_follow_the_local_clock():
    ekb = WorkTime.build(tz="Asia/Yekaterinburg")
    start = datetime(2025, 10, 17, 4, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # 09:00 +05
    assert ekb.is_working(start) and not ekb.is_working(start - 1)
    assert not OFFICE.is_working(start)  # 07:00 in Moscow
    assert local(ekb.add(at("2025-10-31 17:00", "Asia/Yekaterinburg"), 22 * H),
                 "Asia/Yekaterinburg") == "2025-11-06 12:00"


def test_a_zone_that_changed_its_offset_keeps_the_wall_clock():
    """Almaty moved from +06 to +05 on 2024-03-01: 09:00 stays 09:00 on both days."""
    almaty = WorkTime.build(tz="Asia/Almaty", production_calendar=False)
    a, b = at("2024-02-29 09:00", "Asia/Almaty"), at("2024-03-01 18:00", "Asia/Almaty")
    assert almaty.is_working(a) and almaty.is_working(at("2024-03-01 09:00", "Asia/Almaty"))
    assert almaty.between(a, b) == 18 * H
    assert local(almaty.add(a, 10 * H), "Asia/Almaty") == "2024-03-01 10:00"


def test_a_dst_night_does_not_change_working_hours():
    berlin = WorkTime.build(tz="Europe/Berlin", weekdays=ALL_WEEK, production_calendar=False)
    a = at("2025-03-29 09:00", "Europe/Berlin")  # the clocks go forward that night
    assert berlin.between(a, at("2025-03-30 18:00", "Europe/Berlin")) == 18 * H
    assert local(berlin.add(a, 10 * H), "Europe/Berlin") == "2025-03-30 10:00"
    assert local(berlin.add_days(a, 1), "Europe/Berlin") == "2025-03-30 09:00"


# settings and the portal's calendar -----------------------------------------------------
SECTION = {"start": "09:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5],
           "production_calendar": True, "days_off": [], "workdays": [],
           "use_portal_calendar": False}
PORTAL = {"start": "10:00", "end": "19:00", "weekend": [7], "holidays": ["1.01", "08.03"],
          "workdays": ["28.12", "01.11"]}


def test_the_admin_days_win_over_every_calendar():
    wt = from_settings({**SECTION, "days_off": ["2025-11-01", "2025-10-20"],
                        "workdays": ["2025-11-03", "2025-10-19"]}, MSK, None)
    assert not wt.is_working(at("2025-11-01 12:00"))  # beats a moved working Saturday
    assert not wt.is_working(at("2025-10-20 12:00"))
    assert wt.is_working(at("2025-11-03 12:00"))  # beats a calendar holiday
    assert wt.is_working(at("2025-10-19 12:00"))  # a Sunday
    both = from_settings({**SECTION, "days_off": ["2025-10-21"], "workdays": ["2025-10-21"]},
                         MSK, None)
    assert not both.is_working(at("2025-10-21 12:00"))


def test_the_portal_calendar_counts_only_when_asked():
    assert from_settings(SECTION, MSK, PORTAL) == from_settings(SECTION, MSK, None)
    asked = {**SECTION, "use_portal_calendar": True}
    wt = from_settings(asked, MSK, PORTAL)
    assert not wt.is_working(at("2025-10-17 09:30"))  # the portal's hours win
    assert wt.is_working(at("2025-10-17 18:30"))
    assert wt.is_working(at("2025-10-18 12:00"))  # its weekend is Sunday only
    assert not wt.is_working(at("2027-03-08 12:00"))  # its yearly holiday (a Monday)
    assert wt.is_working(at("2025-12-28 12:00"))  # its yearly workday on a Sunday
    assert not wt.is_working(at("2025-11-04 12:00"))  # the production calendar still counts
    assert from_settings(asked, MSK, None) == from_settings(SECTION, MSK, None)  # unread


def test_a_calendar_holiday_beats_a_calendar_workday():
    """The portal names 01.11 a workday; the production calendar's 2025-11-04 is a holiday:
    between two calendars a day off wins (the Saturday 01.11 is working anyway)."""
    wt = from_settings({**SECTION, "use_portal_calendar": True},
                       MSK, {**PORTAL, "workdays": ["04.11"]})
    assert not wt.is_working(at("2025-11-04 12:00"))
    assert wt.is_working(at("2025-11-01 12:00"))


def test_settings_read_as_the_form_stores_them():
    wt = from_settings({"start": "8:30", "end": "24:00", "weekdays": ["1", "6"],
                        "production_calendar": False, "days_off": ["2025-10-20"],
                        "workdays": [], "use_portal_calendar": False}, "Asia/Almaty", None)
    assert wt == WorkTime(start=parse_clock("08:30"), end=24 * H, weekdays=frozenset({1, 6}),
                          tz="Asia/Almaty", production_calendar=False,
                          days_off=frozenset({date(2025, 10, 20)}))
    assert wt.is_working(at("2025-10-18 23:59", "Asia/Almaty"))  # Saturday to midnight
    assert local(wt.add(at("2025-10-18 23:00", "Asia/Almaty"), 2 * H),
                 "Asia/Almaty") == "2025-10-25 09:30"  # Monday the 20th is off


@pytest.mark.parametrize("bad", [
    {"start": "25:00"}, {"start": "9"}, {"start": "18:00", "end": "09:00"},
    {"start": "09:00", "end": "09:00"}, {"weekdays": [0]}, {"tz": "Mars/Olympus"},
])
def test_bad_settings_fail_when_built(bad):
    with pytest.raises(ValueError):
        WorkTime.build(**bad)


def test_bad_input_fails_clearly():
    with pytest.raises(ValueError, match="day.month"):
        WorkTime.build(portal={"holidays": ["32.01"]})
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(0.0, -1)
    with pytest.raises(ValueError):
        OFFICE.add_days(0.0, -1)
    with pytest.raises(ValueError, match="no working day"):
        WorkTime.build(weekdays=[], production_calendar=False).next_working(at("2025-10-17 12:00"))


def test_always_counts_calendar_time():
    wt = WorkTime.always()
    t = at("2025-11-03 03:00")  # a holiday night
    assert wt.is_working(t) and wt.next_working(t) == t
    assert wt.add(t, 22 * H) == t + 22 * H
    assert wt.between(t, t + 5) == 5
    assert wt.add_days(t, 3) == t + 3 * 86400
    assert local(WorkTime.always(MSK).add_days(t, 1)) == "2025-11-04 03:00"


def test_a_year_of_hours_skips_whole_days():
    t = at("2025-01-01 00:00")
    year = OFFICE.between(t, at("2026-01-01 00:00"))
    assert year == 247 * 9 * H  # the production calendar's 247 working days of 2025
    began = time.perf_counter()
    assert local(OFFICE.add(t, year)) == "2025-12-30 18:00"
    assert time.perf_counter() - began < 1.0


# properties -----------------------------------------------------------------------------
ZONES = st.sampled_from([MSK, "Asia/Yekaterinburg", "Asia/Almaty", "Europe/Berlin",
                         "America/New_York"])
CLOCKS = st.integers(0, 47).map(lambda half: half * 1800)
MOMENTS = st.floats(at("2023-06-01 00:00"), at("2027-06-01 00:00"), allow_nan=False)
SECONDS = st.floats(0, 120 * 9 * H, allow_nan=False)


@st.composite
def worktimes(draw) -> WorkTime:
    start, end = sorted(draw(st.lists(CLOCKS, min_size=2, max_size=2, unique=True)))
    return WorkTime(start=start, end=end if draw(st.booleans()) else 24 * H,
                    weekdays=frozenset(draw(st.sets(st.integers(1, 7), min_size=1))),
                    tz=draw(ZONES), production_calendar=draw(st.booleans()))


def at_an_end(wt: WorkTime, t: float) -> bool:
    day = datetime.fromtimestamp(t, ZoneInfo(wt.tz)).date()
    return any(wt.is_working_day(d) and wt.hours_of(d)[1] == t
               for d in (day, day - timedelta(days=1)))


PROPERTY = settings(deadline=None, max_examples=150)


@PROPERTY
@given(worktimes(), MOMENTS, SECONDS)
def test_add_then_between_gives_the_seconds_back(wt, t, s):
    assert wt.between(t, wt.add(t, s)) == pytest.approx(s, abs=1e-3)


@PROPERTY
@given(worktimes(), MOMENTS, st.floats(1e-3, 120 * 9 * H))
def test_results_are_in_working_time_or_at_an_end(wt, t, s):
    due = wt.add(t, s)
    assert due > t
    assert wt.is_working(due) or at_an_end(wt, due)
    nxt = wt.next_working(t)
    assert nxt >= t and wt.is_working(nxt) and wt.between(t, nxt) == 0


@PROPERTY
@given(worktimes(), MOMENTS, MOMENTS, SECONDS, SECONDS, st.integers(0, 30), st.integers(0, 30))
def test_everything_is_monotone(wt, t1, t2, s1, s2, n1, n2):
    (t1, t2), (s1, s2), (n1, n2) = sorted((t1, t2)), sorted((s1, s2)), sorted((n1, n2))
    assert wt.add(t1, s1) <= wt.add(t1, s2)
    assert wt.add(t1, s1) <= wt.add(t2, s1)
    assert wt.add_days(t1, n1) <= wt.add_days(t1, n2)
    assert wt.add_days(t1, n1) <= wt.add_days(t2, n1)
    assert 0 <= wt.between(t1, t2) <= t2 - t1
    later = wt.add_days(t1, n1)
    assert wt.is_working(later) or at_an_end(wt, later)
