"""The Deal folders and chats page's preview: what the current settings give a real deal.

The deal is read through the CRM port as a set-up reads it (setup_queries), and its texts
come from the worker's own functions (item_values, folder_name, path_segments, render), so
the preview shows what the deal would get now, BB codes rendered as the chat shows them.
"""

from __future__ import annotations

from typing import Any

from connector.bbcode import to_html
from connector.capability import AdminView, Panel
from connector.crm import port as crm
from connector.i18n import N_, money, t
from connector.templating import bb_escape, folder_name, item_values, path_segments, render
from robots.deal_workspace.setup import setup_queries


def _deal_id(view: AdminView) -> int:
    raw = str(view.values.get("deal", "")).strip()
    return int(raw) if raw.isdigit() else 0


def preview(ctx: Any, view: AdminView) -> dict[str, Any]:
    recent = view.catalog.options("deal") if view.catalog is not None else []
    deal_id = _deal_id(view) or (int(recent[0][0]) if recent else 0)
    out: dict[str, Any] = {"deal_id": deal_id, "recent": recent, "problem": "",
                           "lang": view.values.get("LANG") or ctx.lang}
    if not deal_id:
        return out
    ref = crm.ItemRef("deal", deal_id)
    reading = ctx.crm.read(setup_queries(ref, chat=True))
    try:
        deal: crm.Item = reading.get("deal")
    except crm.CrmError:
        out["problem"] = t(ctx.lang, N_("Deal {id} could not be read."), id=deal_id)
        return out
    lang, fcfg, ccfg = ctx.lang, ctx.settings["deal_folders"], ctx.settings["deal_chats"]
    responsible = reading.values.get("responsible")
    values = item_values(deal, ctx.tz, ctx.crm.item_link(ref))
    values["RESPONSIBLE"] = bb_escape(responsible.name if responsible else "")
    values["CLIENT"] = bb_escape(reading.values.get("client") or "—")
    values["STAGE"] = bb_escape(reading.values.get("stage") or deal.stage)
    chat_values = {**values, "TITLE": bb_escape(deal.title),
                   "MONEY": money(deal.amount, deal.currency, lang)}
    out.update(
        title=deal.title,
        folder=folder_name(fcfg["name_template"], values, fcfg["max_name_length"]),
        path=" / ".join(path_segments(fcfg["parent_path"], values)),
        chat_title=render(t(lang, ccfg["title_template"]), chat_values)[:255],
        chat_message=to_html(render(t(lang, ccfg["message_template"]), chat_values)))
    return out


PANELS = (Panel("preview", N_("Preview on a deal"), preview,
                "panels/deal_workspace_preview.html"),)
