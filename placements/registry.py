"""The placement registry: which widgets the app binds and which page answers each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlacementSpec:
    code: str  # Bitrix24 placement code
    name: str  # our route: /placements/<name>
    title_ru: str
    title_en: str


PLACEMENTS: list[PlacementSpec] = [
    PlacementSpec("CRM_DEAL_DETAIL_TAB", "deal_tab", "Коннектор", "Connector"),
]
PLACEMENTS_BY_NAME = {p.name: p for p in PLACEMENTS}
