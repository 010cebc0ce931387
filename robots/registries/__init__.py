"""Registries from deal data: a car dealer's registry of cars (a smart process) whose cards
are made from the deals' fields at a chosen stage, once, kept up to date with the deal, and
their status following its stage."""

from __future__ import annotations

from typing import Any

from connector.capability import Capability, Subscription, Task
from connector.i18n import N_
from robots.registries import config, registry, sync
from robots.registries.card import CARD_SECTIONS
from robots.registries.config import NAME
from robots.registries.panels import PANELS


def setup(ctx: Any) -> list[str]:
    """Published as "setup:registries" (a preset asks it): the car registry made now."""
    return [registry.process(ctx.of(NAME)).title]


CAPABILITY = Capability(
    name=NAME,
    title=N_("Car registry"),
    settings=config.SCHEMAS,
    subscriptions=tuple(
        Subscription(event, f"card_{event.replace('.', '_')}", sync.on_deal, sync.wants,
                     sync.reads) for event in ("deal.created", "deal.updated")),
    tasks=(Task("backfill", sync.backfill,
                title=N_("Make cards for the deals already at the stage")),),
    card_sections=CARD_SECTIONS,
    panels=PANELS,
    scopes=frozenset({"crm"}),
    provides={f"setup:{NAME}": setup},
)
