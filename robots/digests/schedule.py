"""When a digest is due and which days it covers, in the portal's time zone: pure.

A slot is a wall-clock hour of the portal (every day, or one weekday), so a digest set for
09:00 Moscow stays at 09:00 whatever the server's zone, and one set for 09:00 Berlin moves
with daylight saving time. An hour that a clock change skips (02:00 on the spring night)
becomes the first hour after it; one that happens twice counts once, the first time.

A period is whole local days ending at midnight before the slot's day: "day" is the day
before, "week" the seven days before, "month" the month before (from the same date of the
month before: 15 March covers 15 February to 14 March). The previous period is the one of
the same length just before it, for comparison.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY, WEEKLY = "daily", "weekly"
DAY, WEEK, MONTH = "day", "week", "month"
CHART_DAYS = 7


def at_hour(day: date, hour: int, tz: str) -> datetime:
    """`hour`:00 of `day` in `tz`; a skipped hour becomes the moment just after the gap."""
    zone = ZoneInfo(tz)
    local = datetime.combine(day, time(hour % 24), zone)
    return local.astimezone(UTC).astimezone(zone)  # normalises a time inside a gap


def _is_slot_day(day: date, frequency: str, weekday: int) -> bool:
    return frequency != WEEKLY or day.isoweekday() == weekday


def last_slot(now: float, tz: str, frequency: str, weekday: int, hour: int) -> datetime:
    """The latest slot at or before `now` (weekday: ISO, 1 = Monday)."""
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    for back in range(0, 15):
        day = today - timedelta(days=back)
        if _is_slot_day(day, frequency, weekday) and at_hour(day, hour, tz).timestamp() <= now:
            return at_hour(day, hour, tz)
    raise ValueError(f"no slot within two weeks of {now}")  # a weekday outside 1-7


def next_slot(now: float, tz: str, frequency: str, weekday: int, hour: int) -> datetime:
    """The first slot strictly after `now`."""
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).date()
    for ahead in range(0, 15):
        day = today + timedelta(days=ahead)
        if _is_slot_day(day, frequency, weekday) and at_hour(day, hour, tz).timestamp() > now:
            return at_hour(day, hour, tz)
    raise ValueError(f"no slot within two weeks of {now}")


def slot_key(slot: datetime) -> str:
    """The slot as the portal's clock names it ("2026-03-02T09"): one digest per key."""
    return slot.strftime("%Y-%m-%dT%H")


@dataclass(frozen=True)
class Period:
    """Local days [first, end): `first` included, `end` (the day after the last) not."""

    first: date
    end: date
    tz: str

    @property
    def start_ts(self) -> float:
        return at_hour(self.first, 0, self.tz).timestamp()

    @property
    def end_ts(self) -> float:
        return at_hour(self.end, 0, self.tz).timestamp()

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def holds(self, ts: float) -> bool:
        return self.start_ts <= ts < self.end_ts


def month_before(day: date) -> date:
    """The same date a month earlier (31 March → 28 or 29 February)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _start(end: date, kind: str) -> date:
    if kind == MONTH:
        return month_before(end)
    return end - timedelta(days=7 if kind == WEEK else 1)


def period_before(day: date, kind: str, tz: str) -> Period:
    """The period a digest of `day` covers: whole days up to the midnight that starts it."""
    return Period(_start(day, kind), day, tz)


def previous(period: Period, kind: str) -> Period:
    """The period of the same kind just before `period`."""
    return Period(_start(period.first, kind), period.first, period.tz)


def chart_days(end: date) -> list[date]:
    """The week the chart shows: the seven days before `end`, oldest first."""
    return [end - timedelta(days=n) for n in range(CHART_DAYS, 0, -1)]
