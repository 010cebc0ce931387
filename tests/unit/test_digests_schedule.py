"""When a digest is due and which days it covers, across time zones and clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from robots.digests import schedule as sch


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_weekly_monday_digest_at_nine_moscow_time():
    # Wednesday 4 March 2026, noon in Moscow: the next is Monday the 9th, 09:00 +03:00
    now = ts("2026-03-04T12:00:00+03:00")
    nxt = sch.next_slot(now, "Europe/Moscow", sch.WEEKLY, 1, 9)
    assert nxt.isoformat() == "2026-03-09T09:00:00+03:00"
    last = sch.last_slot(now, "Europe/Moscow", sch.WEEKLY, 1, 9)
    assert last.isoformat() == "2026-03-02T09:00:00+03:00"
    assert sch.slot_key(last) == "2026-03-02T09"


def test_the_slot_itself_is_the_last_one_not_the_next():
    at = ts("2026-03-02T09:00:00+03:00")
    assert sch.last_slot(at, "Europe/Moscow", sch.WEEKLY, 1, 9).timestamp() == at
    assert sch.next_slot(at, "Europe/Moscow", sch.WEEKLY, 1, 9).timestamp() == at + 7 * 86400


def test_daily_slots_follow_the_portal_zone_not_the_server():
    now = ts("2026-03-04T05:30:00+00:00")  # 08:30 in Moscow, 14:30 in Vladivostok
    assert sch.next_slot(now, "Europe/Moscow", sch.DAILY, 1, 9).isoformat() == \
        "2026-03-04T09:00:00+03:00"
    assert sch.next_slot(now, "Asia/Vladivostok", sch.DAILY, 1, 9).isoformat() == \
        "2026-03-05T09:00:00+10:00"
    assert sch.last_slot(now, "Asia/Vladivostok", sch.DAILY, 1, 9).isoformat() == \
        "2026-03-04T09:00:00+10:00"


def test_a_clock_change_keeps_the_wall_clock_hour():
    # Berlin moves to summer time on Sunday 29 March 2026: 09:00 is +01:00 before, +02:00 after
    before = sch.next_slot(ts("2026-03-28T10:00:00+01:00"), "Europe/Berlin", sch.DAILY, 1, 9)
    assert before.isoformat() == "2026-03-29T09:00:00+02:00"
    assert before.astimezone(UTC).hour == 7
    week = sch.next_slot(ts("2026-03-24T10:00:00+01:00"), "Europe/Berlin", sch.WEEKLY, 1, 9)
    assert week.isoformat() == "2026-03-30T09:00:00+02:00"
    # the week across the change is 167 hours long, not 168
    first = sch.last_slot(ts("2026-03-24T10:00:00+01:00"), "Europe/Berlin", sch.WEEKLY, 1, 9)
    assert week.timestamp() - first.timestamp() == 167 * 3600


def test_an_hour_the_clock_skips_becomes_the_first_after_it_and_a_doubled_one_counts_once():
    # 02:00 does not exist in Berlin on 29 March 2026; 02:00 happens twice on 25 October
    skipped = sch.at_hour(date(2026, 3, 29), 2, "Europe/Berlin")
    assert skipped.isoformat() == "2026-03-29T03:00:00+02:00"
    doubled = sch.at_hour(date(2026, 10, 25), 2, "Europe/Berlin")
    assert doubled.isoformat() == "2026-10-25T02:00:00+02:00"  # the first time
    after = sch.next_slot(doubled.timestamp(), "Europe/Berlin", sch.DAILY, 1, 2)
    assert after.isoformat() == "2026-10-26T02:00:00+01:00"  # not again an hour later


def test_new_york_weekly_across_its_november_change():
    # the US leaves summer time on Sunday 1 November 2026
    now = ts("2026-10-30T12:00:00-04:00")
    nxt = sch.next_slot(now, "America/New_York", sch.WEEKLY, 1, 8)
    assert nxt.isoformat() == "2026-11-02T08:00:00-05:00"


@pytest.mark.parametrize("kind, day, first, last", [
    (sch.DAY, date(2026, 3, 2), date(2026, 3, 1), date(2026, 3, 1)),
    (sch.WEEK, date(2026, 3, 2), date(2026, 2, 23), date(2026, 3, 1)),
    (sch.MONTH, date(2026, 3, 15), date(2026, 2, 15), date(2026, 3, 14)),
    (sch.MONTH, date(2026, 3, 31), date(2026, 2, 28), date(2026, 3, 30)),
    (sch.WEEK, date(2026, 1, 3), date(2025, 12, 27), date(2026, 1, 2)),
])
def test_periods_are_whole_days_before_the_digests_day(kind, day, first, last):
    period = sch.period_before(day, kind, "Europe/Moscow")
    assert (period.first, period.last) == (first, last)
    before = sch.previous(period, kind)
    assert before.end == period.first


def test_a_period_holds_its_days_in_the_portal_zone():
    period = sch.period_before(date(2026, 3, 29), sch.WEEK, "Europe/Berlin")
    assert period.holds(ts("2026-03-22T00:00:00+01:00"))
    assert not period.holds(ts("2026-03-21T23:59:59+01:00"))
    assert period.holds(ts("2026-03-28T23:59:59+01:00"))
    assert not period.holds(ts("2026-03-29T00:00:00+01:00"))


def test_the_chart_week_is_the_seven_days_before():
    days = sch.chart_days(date(2026, 3, 2))
    assert days[0] == date(2026, 2, 23) and days[-1] == date(2026, 3, 1) and len(days) == 7
