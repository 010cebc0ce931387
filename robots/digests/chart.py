"""The digest's chart: the week day by day, new deals beside won ones, as a PNG.

Rendered with matplotlib's Agg backend (no display, safe in a worker) into memory, imported
only when a chart is drawn; the labels
come translated from the caller, so the chart speaks the portal's language. Its own Figure
object (not pyplot's global state), so two jobs in one process never draw on each other.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

NEW_COLOUR = "#2fc6f6"  # Bitrix24's blue
WON_COLOUR = "#9dcf00"  # and its green
INK = "#333333"
GRID = "#e0e4e8"


def week_png(days: Sequence[date], new: Sequence[int], won: Sequence[int], *, title: str,
             new_label: str, won_label: str, day_names: Sequence[str]) -> bytes:
    """Bars of new and won deals per day; `day_names` are the weekdays' short names
    (Monday first) in the reader's language."""
    # imported here, not with the module: every worker process loads the capabilities, and
    # matplotlib's second of import time is paid only by the job that draws a chart
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2), dpi=110)
    ax = fig.add_subplot()
    xs = range(len(days))
    width = 0.38
    bars_new = ax.bar([x - width / 2 for x in xs], new, width, label=new_label,
                      color=NEW_COLOUR)
    bars_won = ax.bar([x + width / 2 for x in xs], won, width, label=won_label,
                      color=WON_COLOUR)
    for bars in (bars_new, bars_won):
        ax.bar_label(bars, labels=[str(v) if v else "" for v in bars.datavalues],
                     padding=2, fontsize=9, color=INK)
    ax.set_xticks(list(xs), [f"{day_names[d.weekday()]}\n{d:%d.%m}" for d in days],
                  fontsize=9, color=INK)
    top = max([*new, *won, 1])
    ax.set_ylim(0, top * 1.15 + 0.2)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="y", labelsize=9, colors=INK)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GRID)
    ax.set_title(title, fontsize=12, color=INK, loc="left", pad=12)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9,
              ncols=2)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
