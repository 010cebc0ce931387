"""Client value's admin panel: the fields it keeps, the last pass over every client, the
clients it could not count (a deal in a currency the portal has no rate for), the latest
recounts; and the button that counts every client again."""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.i18n import N_, money, t
from robots.client_value import config, recount
from robots.client_value.config import NAME

OFF = N_("Client value is off: switch it on in the settings above.")
KIND_TITLES = {"contact": N_("Contact"), "company": N_("Company")}


def facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    section = ctx.settings[NAME]
    link = ctx.crm.item_link

    def client(label: str) -> dict[str, Any]:
        ref = recount.ref_of(label)
        return {"label": f"{t(lang, KIND_TITLES.get(ref.kind, ref.kind))} #{ref.id}",
                "url": link(ref)}

    rows = []
    for entry in recount.recent(ctx):
        rows.append({**client(entry["client"]), "at": entry["at"], "won": entry["won"],
                     "total": money(entry["total"], entry["currency"], lang),
                     "last": entry["last"]})
    problems = []
    for label, problem in sorted(recount.problems(ctx).items()):
        deals = [{"id": int(d), "currency": c, "url": link(recount.ref_of(f"deal/{d}"))}
                 for d, c in sorted(problem["deals"].items(), key=lambda x: int(x[0]))]
        problems.append({**client(label), "deals": deals})
    fields = [{"label": t(lang, label), "field": section[name]}
              for name, label, *_ in config.FIELDS]
    return {"enabled": bool(section["enabled"]), "fields": fields,
            "currency": section["currency"], "pass": recount.progress(ctx),
            "recent": rows, "problems": problems}


def count_all(ctx: JobContext, view: AdminView) -> Outcome:
    if not ctx.settings[NAME]["enabled"]:
        return Outcome(False, OFF)
    if not recount.start_backfill(ctx, f"user {view.user_id}"):
        return Outcome(False, N_("A pass over every client is running already."))
    return Outcome(True, N_("Queued: every won deal is read, and each client's figures are "
                            "written once the reading is over."))


PANELS = (Panel("values", N_("Client figures"), facts, "panels/client_value.html",
                actions={"count_all": count_all}),)
