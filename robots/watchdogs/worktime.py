"""Working time for watchdog timers: which moments count, and moving through them.

Pure logic (no I/O): moments are unix seconds (float in, float out), as timers store them.

A working day has one interval, [start, end) on the local wall clock of the portal's time
zone (so DST in other zones moves the interval, not the hours). Whether a local date is a
working day is decided by the first rule that names it (the most specific wins; on one level
a day off beats a working day):

1. the admin's extra days off, then the admin's extra working days (exact dates);
2. the calendars: a holiday of the Russian production calendar (``holidays.RU``, when
   ``production_calendar``) or of the portal's own calendar (yearly "day.month", when it is
   used) is off; then a working day moved onto a weekend by the production calendar (e.g.
   Saturday 2025-11-01) or a portal workday is working;
3. the weekly pattern: the company's working weekdays (ISO 1..7).

When the portal's calendar is used and was read, its hours and weekend replace the company's
hours and weekdays (each only where the portal gave one); without an answer (no scope, read
failed) the company's settings stand alone. Shortened pre-holiday days are not modelled:
every working day has the same hours.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

DAY = 86400
ALL_WEEK = frozenset(range(1, 8))
_MAX_IDLE_DAYS = 3 * 366  # a calendar with no working day this long has none at all

MonthDay = tuple[int, int]  # (month, day): the portal's yearly days


@dataclass(frozen=True)
class WorkTime:
    """Resolved working-time rules of one portal (see the module docstring for the order)."""

    start: int = 9 * 3600  # seconds after local midnight
    end: int = 18 * 3600  # up to DAY ("24:00")
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    tz: str = "Europe/Moscow"
    production_calendar: bool = True
    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    yearly_off: frozenset[MonthDay] = frozenset()
    yearly_work: frozenset[MonthDay] = frozenset()
    counts_all: bool = False  # always(): every moment counts, calendar time

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY:
            raise ValueError(f"working hours must start before they end: {self.start}-{self.end}")
        if not self.weekdays <= ALL_WEEK:
            raise ValueError(f"weekdays are ISO 1..7: {sorted(self.weekdays)}")
        _zone(self.tz)  # an unknown zone fails here, not in a timer

    @classmethod
    def always(cls, tz: str = "UTC") -> WorkTime:
        """Working time switched off: every second counts and days are calendar days."""
        return cls(start=0, end=DAY, weekdays=ALL_WEEK, tz=tz, production_calendar=False,
                   counts_all=True)

    @classmethod
    def build(cls, *, start: str = "09:00", end: str = "18:00",
              weekdays: Iterable[int] = (1, 2, 3, 4, 5), tz: str = "Europe/Moscow",
              production_calendar: bool = True, days_off: Iterable[date] = (),
              workdays: Iterable[date] = (), portal: Mapping | None = None) -> WorkTime:
        """From the company's settings and, when given, the portal's `WorkCalendar` answer
        ({"start", "end", "weekend", "holidays", "workdays"}), whose hours and weekend win."""
        portal = portal or {}
        week = set(weekdays)
        if portal.get("weekend") is not None:
            week = set(ALL_WEEK) - {int(d) for d in portal["weekend"]}
        return cls(
            start=parse_clock(portal.get("start") or start),
            end=parse_clock(portal.get("end") or end),
            weekdays=frozenset(week), tz=tz, production_calendar=production_calendar,
            days_off=frozenset(days_off), workdays=frozenset(workdays),
            yearly_off=_portal_days(portal.get("holidays") or ()),
            yearly_work=_portal_days(portal.get("workdays") or ()),
        )

    # days -----------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        """Whether a local date has working hours at all."""
        if self.counts_all:
            return True
        if day in self.days_off:
            return False
        if day in self.workdays:
            return True
        month_day = (day.month, day.day)
        ru_off, ru_work = _ru_year(day.year) if self.production_calendar else ((), ())
        if day in ru_off or month_day in self.yearly_off:
            return False
        if day in ru_work or month_day in self.yearly_work:
            return True
        return day.isoweekday() in self.weekdays

    def hours_of(self, day: date) -> tuple[float, float]:
        """The unix interval [start, end) of a local date's working hours."""
        zone = _zone(self.tz)
        return (_at(day, self.start, zone), _at(day, self.end, zone))

    def _days(self, day: date) -> Iterator[tuple[float, float]]:
        """Working days from `day` on, in order, with their hours; whole days are skipped
        at once, so a year of hours is a few hundred steps."""
        idle = 0
        while True:
            if self.is_working_day(day):
                idle = 0
                a, b = self.hours_of(day)
                if b > a:
                    yield a, b
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ValueError("no working day in three years: check the calendar")
            day += timedelta(days=1)

    def _date(self, t: float) -> date:
        return datetime.fromtimestamp(t, _zone(self.tz)).date()

    # moments --------------------------------------------------------------------------
    def is_working(self, t: float) -> bool:
        """Whether the moment t is inside working hours (the end itself is not)."""
        if self.counts_all:
            return True
        day = self._date(t)
        if not self.is_working_day(day):
            return False
        a, b = self.hours_of(day)
        return a <= t < b

    def next_working(self, t: float) -> float:
        """t when it is working time, else the next start of working hours."""
        if self.counts_all:
            return t
        for a, b in self._days(self._date(t)):
            if t < b:
                return max(t, a)
        raise AssertionError("unreachable: _days never ends")

    def add(self, t: float, seconds: float) -> float:
        """The moment `seconds` working seconds after t (t itself for 0). A result is inside
        working hours or exactly at an end ("by the end of the day"), never a next start."""
        if seconds < 0:
            raise ValueError(f"cannot add negative working time: {seconds}")
        if self.counts_all or seconds == 0:
            return t + seconds
        left = seconds
        for a, b in self._days(self._date(t)):
            if t >= b:
                continue
            begin = max(t, a)
            if left <= b - begin:
                return begin + left
            left -= b - begin
        raise AssertionError("unreachable: _days never ends")

    def add_days(self, t: float, n: int) -> float:
        """N working days later at the same clock time. A moment outside working hours counts
        from the next start, so Friday 20:00 plus one day is Tuesday 09:00 (as is Monday
        09:00 plus one); n=0 is `next_working(t)`."""
        if n < 0:
            raise ValueError(f"cannot go back working days: {n}")
        if self.counts_all:
            zone = _zone(self.tz)
            return (datetime.fromtimestamp(t, zone) + timedelta(days=n)).timestamp()
        begin = self.next_working(t)
        first = self._date(begin)
        clock = begin - self.hours_of(first)[0]
        days = self._days(first)
        for _ in range(n + 1):
            a, b = next(days)
        return min(a + clock, b)

    def between(self, a: float, b: float) -> float:
        """Working seconds from a to b (negative when b is before a)."""
        if b < a:
            return -self.between(b, a)
        if self.counts_all:
            return b - a
        total = 0.0
        for start, end in self._days(self._date(a)):
            if start >= b:
                return total
            total += max(0.0, min(end, b) - max(start, a))
        raise AssertionError("unreachable: _days never ends")


def from_settings(section: Mapping, tz: str, portal: Mapping | None) -> WorkTime:
    """The watchdogs' working-time section ({"start", "end", "weekdays",
    "production_calendar", "days_off", "workdays" as "YYYY-MM-DD", "use_portal_calendar"})
    with the portal's `WorkCalendar` answer, which counts only when the section asks."""
    return WorkTime.build(
        start=section.get("start") or "09:00",
        end=section.get("end") or "18:00",
        weekdays=[int(d) for d in _given(section, "weekdays", (1, 2, 3, 4, 5))],
        tz=tz,
        production_calendar=bool(_given(section, "production_calendar", True)),
        days_off=_dates(section.get("days_off")),
        workdays=_dates(section.get("workdays")),
        portal=portal if section.get("use_portal_calendar") else None,
    )


def parse_clock(text: str) -> int:
    """"09:00" (or "9:00", "24:00" for midnight at the end) as seconds after midnight."""
    try:
        hours, minutes = (int(part) for part in str(text).strip().split(":"))
    except ValueError:
        raise ValueError(f"a time is HH:MM: {text!r}") from None
    if not (0 <= minutes < 60 and 0 <= hours * 60 + minutes <= 24 * 60):
        raise ValueError(f"a time is HH:MM: {text!r}")
    return hours * 3600 + minutes * 60


def _given(section: Mapping, key: str, default: object) -> Any:
    """A section's value, the default only where it is absent (an empty list stays empty)."""
    value = section.get(key)
    return default if value is None else value


def _dates(values: Iterable[str | date] | None) -> frozenset[date]:
    return frozenset(v if isinstance(v, date) else date.fromisoformat(str(v).strip())
                     for v in values or ())


def _portal_days(values: Iterable[str]) -> frozenset[MonthDay]:
    """The portal's yearly days, "d.mm" or "dd.mm" as Bitrix24 writes them."""
    days: set[MonthDay] = set()
    for value in values:
        try:
            day, month = (int(part) for part in str(value).strip().split("."))
            date(2000, month, day)  # a leap year: 29.02 is a valid yearly day
        except ValueError:
            raise ValueError(f"a portal day is day.month: {value!r}") from None
        days.add((month, day))
    return frozenset(days)


@functools.lru_cache(maxsize=64)
def _ru_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """The Russian production calendar of a year: its days off and its moved working days
    (weekend days it makes working, which `is_working_day` knows)."""
    calendar = holidays.RU(years=year)
    off = frozenset(calendar)
    first = date(year, 1, 1)
    weekend = (first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days))
    work = frozenset(d for d in weekend
                     if d.weekday() in calendar.weekend and calendar.is_working_day(d))
    return off, work


@functools.lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {name!r}") from None


def _at(day: date, seconds: int, zone: ZoneInfo) -> float:
    """The unix moment of a local wall-clock time on a date (24:00 is the next midnight)."""
    day += timedelta(days=seconds // DAY)
    seconds %= DAY
    clock = datetime(day.year, day.month, day.day, seconds // 3600, seconds % 3600 // 60,
                     seconds % 60, tzinfo=zone)
    return clock.timestamp()
