"""A digest's figures from the deals the CRM gave: pure, no Redis, no CRM.

Per pipeline and in total: deals created in the period (new), won and lost in it, and in
work now, each a count and a sum in one currency; the same for the period before, for
comparison; and the chart's week, day by day. A deal is won or lost when it arrived at its
final stage (the CRM's movedTime; its end date when that is missing). Amounts in other
currencies are converted at the portal's rates; a deal in a currency without a rate is
counted but its amount is not, and the digest says how many such deals there were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from connector.crm.port import Item
from connector.currency import NoRate, convert
from connector.settings_schema import in_pipelines
from robots.digests.schedule import Period, at_hour


@dataclass
class Tally:
    count: int = 0
    total: Decimal = Decimal("0.00")

    def add(self, amount: Decimal | None) -> None:
        self.count += 1
        if amount is not None:
            self.total += amount


@dataclass
class Line:
    """One pipeline's figures (or the total's: category "")."""

    category: str
    name: str
    new: Tally = field(default_factory=Tally)
    won: Tally = field(default_factory=Tally)
    lost: Tally = field(default_factory=Tally)
    in_work: Tally = field(default_factory=Tally)
    new_before: Tally = field(default_factory=Tally)
    won_before: Tally = field(default_factory=Tally)
    lost_before: Tally = field(default_factory=Tally)

    @property
    def empty(self) -> bool:
        return not any(t.count for t in (self.new, self.won, self.lost, self.in_work,
                                         self.new_before, self.won_before, self.lost_before))


@dataclass
class Day:
    day: date
    new: int = 0
    won: int = 0
    won_total: Decimal = Decimal("0.00")


@dataclass
class Figures:
    currency: str
    period: Period
    before: Period
    lines: list[Line]
    total: Line
    days: list[Day]
    unconverted: dict[str, int] = field(default_factory=dict)  # currency -> deals


def moment(value: object, tz: str) -> float | None:
    """A CRM date-time ("2026-03-02T10:15:00+03:00") or date as unix time; None if neither."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return at_hour(date.fromisoformat(text), 0, tz).timestamp()
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (found if found.tzinfo else found.replace(tzinfo=ZoneInfo(tz))).timestamp()


def created_at(item: Item, tz: str) -> float | None:
    return moment(item.fields.get("createdTime") or item.created_at, tz)


def closed_at(item: Item, tz: str) -> float | None:
    """When a closed deal reached its final stage: movedTime, else its end date."""
    return moment(item.fields.get("movedTime"), tz) or moment(item.closed_on, tz)


def count(deals: Iterable[Item], *, period: Period, before: Period, days: list[date],
          currency: str, rates: Mapping[str, Decimal], pipelines: Mapping[str, str],
          chosen: Iterable[object] = ()) -> Figures:
    """The figures of `deals` (each deal once, whatever list it came from). `pipelines`
    names the pipelines by id (their order is the digest's); `chosen` keeps some (none:
    all)."""
    tz = period.tz
    chosen = list(chosen)
    lines: dict[str, Line] = {cid: Line(cid, name) for cid, name in pipelines.items()
                              if in_pipelines(chosen, cid)}
    total = Line("", "")
    by_day = {d: Day(d) for d in days}
    unconverted: dict[str, int] = {}
    seen: set[int] = set()
    for deal in deals:
        if deal.ref.id in seen or not in_pipelines(chosen, deal.category):
            continue
        seen.add(deal.ref.id)
        try:
            amount: Decimal | None = convert(deal.amount, deal.currency, currency, rates)
        except NoRate:
            amount = None
            unconverted[deal.currency] = unconverted.get(deal.currency, 0) + 1
        cid = str(deal.category or "0")
        line = lines.setdefault(cid, Line(cid, pipelines.get(cid) or f"#{cid}"))
        made = created_at(deal, tz)
        tallies: list[str] = []
        if made is not None:
            tallies += ["new"] if period.holds(made) else ["new_before"] if before.holds(
                made) else []
            if (day := _day(made, tz)) in by_day:
                by_day[day].new += 1
        if deal.closed:
            ended = closed_at(deal, tz)
            outcome = "won" if deal.won else "lost"
            if ended is not None:
                tallies += [outcome] if period.holds(ended) else [f"{outcome}_before"] \
                    if before.holds(ended) else []
                if deal.won and (day := _day(ended, tz)) in by_day:
                    by_day[day].won += 1
                    by_day[day].won_total += amount or 0
        elif deal.closed is False:
            tallies.append("in_work")
        for name in tallies:
            getattr(line, name).add(amount)
            getattr(total, name).add(amount)
    busy = [line for line in lines.values() if not line.empty]  # a quiet pipeline is left out
    return Figures(currency, period, before, busy, total, list(by_day.values()), unconverted)


def _day(ts: float, tz: str) -> date:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).date()
