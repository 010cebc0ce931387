"""The deal tab's car registry section: the deal's card as the app last wrote it, with a
link to it in the registry — from Redis, never the CRM."""

from __future__ import annotations

from typing import Any

from connector.capability import CardSection
from connector.context import JobContext
from connector.crm.port import ItemRef
from connector.i18n import N_
from robots.registries import config, registry, sync
from robots.registries.config import NAME


def facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    section = ctx.settings[NAME]
    card = sync.card_of(ctx, deal_id)
    if not card:
        return {"on": bool(section["enabled"]), "card": None}
    fields = []
    for _n, code, label, _d in config.MAPPING:
        value = card.get(code)
        if value in (None, ""):
            continue
        amount, _, currency = str(value).partition("|")  # a price: "1500000.00|RUB"
        if code == "mileage" and amount.replace(".", "", 1).isdigit():
            amount = f"{int(float(amount)):,}".replace(",", "\u00a0")  # 46 200
        fields.append({"label": label, "value": amount, "currency": currency})
    kind = card.get("kind")
    url = ctx.crm.item_link(ItemRef(kind, card["card"])) if kind else ""
    return {"on": bool(section["enabled"]), "card": card, "url": url, "fields": fields,
            "status": registry.STATUS_TITLES.get(card.get("status") or "", "")}


CARD_SECTIONS = (CardSection("car", N_("Car registry"), facts, "sections/registries.html"),)
