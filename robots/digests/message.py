"""The digest's text in the portal's language: BBCode for Bitrix24, HTML for Telegram. Pure.

One text, two markups: the words are written once and `Marks` says how a bold line and a
link look in each. What comes from the CRM (a pipeline's or a deal's name) is only ever text:
its codes are disarmed for Bitrix24 and escaped for Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from connector.i18n import N_, NP_, money, nt, t
from connector.telegram import html
from robots.digests.figures import Figures, Line, Tally
from robots.digests.schedule import Period

TITLE = N_("Deals digest for {period}")
COMPARED = N_("compared with {period}")
NEW = N_("New: {count} for {sum}")
WON = N_("Won: {count} for {sum}")
LOST = N_("Lost: {count} for {sum}")
IN_WORK = N_("In work now: {count} for {sum}")
WAS = N_("(before: {count})")
TOTAL = N_("All pipelines")
NOTHING = N_("No deals were created or closed in this period.")
OVERDUE = N_("Overdue (watchdogs): {count}")
NO_OVERDUE = N_("Overdue (watchdogs): none")
OVERDUE_ITEM = N_("{item} — {rule}")
MISSED = NP_("{n} reminder", "{n} reminders")
MORE = N_("…and {count} more")
CHART_LINK = N_("Chart of the week: {link}")
CHART_OPEN = N_("open")
UNCONVERTED = N_("Deals in {currency} without a rate in the CRM: {count}; their sums are "
                 "not included.")
CHART_TITLE = N_("New and won deals, {period}")
CHART_NEW = N_("New")
CHART_WON = N_("Won")
DAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
CAPTION = N_("New and won deals by day, {period}")

_CODE = re.compile(r"\[(/?[A-Za-z])")


@dataclass(frozen=True)
class Marks:
    """How one markup writes text from the CRM, a bold line and a link."""

    text: Callable[[str], str]
    bold: Callable[[str], str]
    link: Callable[[str, str], str]


def _bb_text(text: str) -> str:
    return _CODE.sub("[\u200b\\1", text)  # "[B" from a deal's name is no code


BBCODE = Marks(_bb_text, lambda s: f"[B]{s}[/B]", lambda url, s: f"[URL={url}]{_bb_text(s)}[/URL]")
TELEGRAM = Marks(html.escape, lambda s: f"<b>{s}</b>", html.link)


def days_words(period: Period) -> str:
    """The period as people write it: 01.03.2026, or 23.02–01.03.2026."""
    first, last = period.first, period.last
    if first == last:
        return f"{first:%d.%m.%Y}"
    left = f"{first:%d.%m}" if first.year == last.year else f"{first:%d.%m.%Y}"
    return f"{left}–{last:%d.%m.%Y}"


def _sum(tally: Tally, currency: str, lang: str) -> str:
    return money(tally.total, currency, lang)


def _line(lang: str, msgid: str, now: Tally, before: Tally | None, currency: str,
          esc: Callable[[str], str]) -> str:
    text = t(lang, msgid, count=now.count, sum=_sum(now, currency, lang))
    if before is not None:
        text += " " + t(lang, WAS, count=before.count)
    return esc(text)


def _block(lang: str, line: Line, name: str, currency: str, m: Marks) -> list[str]:
    return [m.bold(m.text(name)),
            _line(lang, NEW, line.new, line.new_before, currency, m.text),
            _line(lang, WON, line.won, line.won_before, currency, m.text),
            _line(lang, LOST, line.lost, line.lost_before, currency, m.text),
            _line(lang, IN_WORK, line.in_work, None, currency, m.text)]


def render(fig: Figures, lang: str, m: Marks, *,
           overdue: Mapping[str, Any] | None = None, chart_url: str = "") -> str:
    """The whole digest. `overdue` is the watchdogs' {"count", "items": [{"title", "url",
    "rule", "missed"}]} (None: watchdogs are off, the section is left out)."""
    out = [m.bold(m.text(t(lang, TITLE, period=days_words(fig.period)))),
           m.text(t(lang, COMPARED, period=days_words(fig.before)))]
    if not fig.lines:
        out += ["", m.text(t(lang, NOTHING))]
    for line in fig.lines:
        out += ["", *_block(lang, line, line.name, fig.currency, m)]
    if len(fig.lines) > 1:
        out += ["", *_block(lang, fig.total, t(lang, TOTAL), fig.currency, m)]
    if overdue is not None:
        out += ["", *_overdue(lang, overdue, m)]
    for currency, count in sorted(fig.unconverted.items()):
        out += ["", m.text(t(lang, UNCONVERTED, currency=currency, count=count))]
    if chart_url:
        out += ["", t(lang, CHART_LINK, link=m.link(chart_url, t(lang, CHART_OPEN)))]
    return "\n".join(out).strip()


def _overdue(lang: str, overdue: Mapping[str, Any], m: Marks) -> list[str]:
    count = int(overdue.get("count") or 0)
    if not count:
        return [m.text(t(lang, NO_OVERDUE))]
    out = [m.bold(m.text(t(lang, OVERDUE, count=count)))]
    items: Sequence[Mapping[str, Any]] = overdue.get("items") or []
    for item in items:
        name = m.link(item["url"], item["title"]) if item.get("url") else m.text(item["title"])
        missed = nt(lang, *MISSED, int(item.get("missed") or 1))
        out.append("• " + t(lang, OVERDUE_ITEM, item=name, rule=m.text(
            f"{item['rule']} ({missed})")))
    if count > len(items) and items:
        out.append(m.text(t(lang, MORE, count=count - len(items))))
    return out


def chart_words(lang: str, period_days: Sequence[date]) -> dict[str, Any]:
    """The chart's labels in the reader's language."""
    label = f"{period_days[0]:%d.%m}–{period_days[-1]:%d.%m.%Y}" if period_days else ""
    return {"title": t(lang, CHART_TITLE, period=label), "new_label": t(lang, CHART_NEW),
            "won_label": t(lang, CHART_WON), "day_names": [t(lang, d) for d in DAY_NAMES],
            "caption": t(lang, CAPTION, period=label)}
