"""The fairness chart: each manager's received today, this month and in work as an inline SVG.

Pure: numbers and already translated words in, SVG markup out (the page embeds it, so no
script or third-party chart library is needed). Each measure has its own scale, since a
month's count dwarfs a day's; every bar carries its number, and the page puts a table with
the same numbers beside the picture for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

ROW_H = 26
BAR_H = 16
LABEL_W = 170
COLUMN_W = 150
GAP = 16
TOP = 30
# bar colours with at least 3:1 contrast on white (WCAG non-text contrast)
COLOURS = ("#0154c8", "#1a7f45", "#a04f00")


@dataclass(frozen=True)
class ManagerLoad:
    name: str
    today: int
    month: int
    in_work: int


def _short(name: str, most: int = 24) -> str:
    return name if len(name) <= most else name[:most - 1] + "…"


def _width(value: int, top: int) -> float:
    return 0.0 if top <= 0 else round(COLUMN_W * 0.78 * value / top, 1)


def fairness_svg(rows: Sequence[ManagerLoad], title: str, headings: tuple[str, str, str],
                 chart_id: str) -> str:
    """Three small bar charts side by side (today, this month, in work), one row a manager."""
    width = LABEL_W + 3 * (COLUMN_W + GAP)
    height = TOP + max(1, len(rows)) * ROW_H + 6
    tops = (max((r.today for r in rows), default=0), max((r.month for r in rows), default=0),
            max((r.in_work for r in rows), default=0))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="fairness-chart" role="img" '
           f'aria-labelledby="{chart_id}-title" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" font-size="13" '
           f'font-family="system-ui, sans-serif">',
           f'<title id="{chart_id}-title">{escape(title)}</title>']
    for col, heading in enumerate(headings):
        x = LABEL_W + col * (COLUMN_W + GAP)
        out.append(f'<text x="{x}" y="18" font-weight="600" fill="#333">{escape(heading)}</text>')
    for i, row in enumerate(rows):
        y = TOP + i * ROW_H
        out.append(f'<text x="0" y="{y + BAR_H - 3}" fill="#333">{escape(_short(row.name))}</text>')
        for col, value in enumerate((row.today, row.month, row.in_work)):
            x = LABEL_W + col * (COLUMN_W + GAP)
            w = _width(value, tops[col])
            out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{BAR_H}" rx="3" '
                       f'fill="{COLOURS[col]}"/>')
            out.append(f'<text x="{x + w + 4}" y="{y + BAR_H - 3}" fill="#333">{value}</text>')
    out.append("</svg>")
    return "".join(out)
