"""Registries' admin panel: the mapping (deal field → card field) with the fields the
portal lacks marked, the deals refused and why, the latest cards made or updated with their
links; and the button that makes the cards of the deals already at the stage."""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.crm import port as crm
from connector.crm_fields import forget_item_fields
from connector.i18n import N_, t
from robots.registries import config, registry, sync
from robots.registries.config import NAME, OPPORTUNITY

OFF = N_("The car registry is off: switch it on in the settings above.")
MISSING = N_("Deal {deal} «{title}»: no card was made, the portal has no deal field "
             "{fields}. Map the card onto existing fields above (or create the field); the "
             "card is made with the deal's next change, or with the button below.")
WHAT = {"created": N_("card made"), "updated": N_("card updated")}
FIELD_TITLES = {**{code: label for _n, code, label, _d in config.MAPPING},
                "status": N_("Status"), "title": N_("Name")}
ORDER = tuple(FIELD_TITLES)  # the fields of an update, in the card's order


def _portal_fields(ctx: JobContext) -> set[str] | None:
    """The portal's deal fields now; None when they cannot be read (the page still shows)."""
    try:
        return set(ctx.crm.read({"f": crm.CustomFields("deal")}).get("f"))
    except crm.CrmError:
        return None


def _stages(view: AdminView, ids: list[str]) -> str:
    return ", ".join(view.name("stage", s) for s in ids)


def facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    section = ctx.settings[NAME]
    have = _portal_fields(ctx) if section["enabled"] else None
    mapping = [{"label": t(lang, label), "field": section[name],
                "missing": bool(section[name]) and section[name] != OPPORTUNITY
                and have is not None and section[name] not in have}
               for name, _code, label, _default in config.MAPPING]
    problems = []
    for key, p in sorted(sync.problems(ctx).items()):
        if key == "process":
            problems.append({"text": t(lang, p["text"], **p.get("params", {})), "at": p["at"],
                             "url": ""})
            continue
        problems.append({"text": t(lang, MISSING, deal="#" + str(p["deal"]),
                                   title=p.get("title", ""), fields=", ".join(p["fields"])),
                         "at": p["at"],
                         "url": ctx.crm.item_link(crm.ItemRef("deal", p["deal"]))})
    rows = []
    for r in sync.recent(ctx):
        rows.append({**r, "what": t(lang, WHAT.get(r["what"], r["what"])),
                     "status": t(lang, registry.STATUS_TITLES.get(r["status"], r["status"]))
                     if r.get("status") else "",
                     "fields": ", ".join(t(lang, FIELD_TITLES[f]) for f in ORDER
                                         if f in r["fields"]) if r["what"] == "updated" else "",
                     "deal_url": ctx.crm.item_link(crm.ItemRef("deal", r["deal"])),
                     "card_url": ctx.crm.item_link(crm.ItemRef(r["kind"], r["card"]))})
    statuses = [f"{t(lang, title)}: {_stages(view, section[name])}"
                for name, title in (("stock_stage_ids", registry.STATUS_TITLES["in_stock"]),
                                    ("commission_stage_ids",
                                     registry.STATUS_TITLES["on_commission"]),
                                    ("sold_stage_ids", registry.STATUS_TITLES["sold"]))
                if section[name]]
    if section["won_sold"]:
        statuses.append(t(lang, N_("A won deal: Sold")))
    return {"enabled": bool(section["enabled"]), "mapping": mapping,
            "fields_known": have is not None, "stages": _stages(view, section["stage_ids"]),
            "statuses": statuses,
            "problems": problems, "recent": rows, "pass": sync.progress(ctx)}


def build_all(ctx: JobContext, view: AdminView) -> Outcome:
    if not ctx.settings[NAME]["enabled"]:
        return Outcome(False, OFF)
    forget_item_fields(ctx)  # the admin may just have created a field
    if not sync.start_backfill(ctx, f"user {view.user_id}"):
        return Outcome(False, N_("Cards are being made for the deals already at the stage."))
    return Outcome(True, N_("Queued: every deal is looked at, and a card is made for each one "
                            "at a stage with a card that has none yet."))


PANELS = (Panel("cards", N_("Car registry cards"), facts, "panels/registries.html",
                actions={"build_all": build_all}),)
