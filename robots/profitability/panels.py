"""Deal profitability's admin panel: the latest margins and what kept one from being made."""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView, Panel
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t
from robots.profitability import work
from robots.profitability.config import NAME

PROBLEMS = {
    "missing": N_("Deal {deal} «{title}» has no field {fields}: check the costs in the "
                  "settings above (the field may have been deleted or renamed)."),
    "no_rate": N_("Deal {deal} «{title}» has a cost in {currency}, and the portal has no rate "
                  "for it: add the rate in the CRM settings (Currencies)."),
}


def facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    problems = []
    for kind, p in sorted(work.problems(ctx).items()):
        words = t(lang, PROBLEMS[kind], deal="#" + str(p["deal"]), title=p.get("title", ""),
                  fields=", ".join(p.get("fields", [])), currency=p.get("currency", ""))
        problems.append({"text": words, "at": p["at"],
                         "url": ctx.crm.item_link(crm.ItemRef("deal", p["deal"]))})
    rows = [{**r, "url": ctx.crm.item_link(crm.ItemRef("deal", r["deal"]))}
            for r in work.recent(ctx)]
    return {"enabled": bool(ctx.settings[NAME]["enabled"]), "problems": problems,
            "recent": rows}


PANELS = (Panel("margins", N_("Latest margins"), facts, "panels/profitability.html"),)
