"""Deal profitability in the deal tab: the amount, each cost, the margin — from Redis."""

from __future__ import annotations

from typing import Any

from connector.capability import CardAction, CardSection
from connector.context import JobContext
from connector.i18n import N_
from robots.profitability import work
from robots.profitability.config import NAME


def facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    section = ctx.settings[NAME]
    labels = {c["field"]: c["label"] for c in section["costs"]}
    last = work.of_deal(ctx, deal_id)
    if last:
        last = {**last, "costs": [{"field": f, "label": labels.get(f) or f, "value": v}
                                  for f, v in last["costs"]]}
    return {"on": bool(section["enabled"]), "last": last}


def run_recompute(ctx: JobContext, deal_id: int) -> str:
    return ctx.enqueue_job("recompute", {"deal": deal_id}, deal_id)


CARD_SECTIONS = (CardSection(
    "margin", N_("Profitability"), facts, "sections/profitability.html",
    actions=(CardAction("recompute", N_("Work out the margin again"), run_recompute,
                        shown=lambda f: bool(f.get("on"))),)),)
