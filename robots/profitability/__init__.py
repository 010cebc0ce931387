"""Deal profitability: every deal's margin from its amount and its costs (the carrier's rate,
other expense fields the admin maps), written to a field and shown in the deal tab."""

from __future__ import annotations

from connector.capability import Capability, Subscription, Task
from connector.i18n import N_
from robots.profitability import config, work
from robots.profitability.card import CARD_SECTIONS
from robots.profitability.config import NAME
from robots.profitability.panels import PANELS

CAPABILITY = Capability(
    name=NAME,
    title=N_("Deal profitability"),
    settings=config.SCHEMAS,
    subscriptions=tuple(
        Subscription(event, f"margin_{event.replace('.', '_')}", work.on_deal, work.wants,
                     work.reads) for event in ("deal.created", "deal.updated")),
    tasks=(Task("recompute", work.recompute, title=N_("Work out a deal's margin again")),),
    card_sections=CARD_SECTIONS,
    panels=PANELS,
    scopes=frozenset({"crm"}),
)
