"""The placement registry: which widgets the app binds and which page answers each."""

from __future__ import annotations

from dataclasses import dataclass

from connector.i18n import N_, t


@dataclass(frozen=True)
class PlacementSpec:
    code: str  # Bitrix24 placement code
    name: str  # our route: /placements/<name>
    title: str  # an English msgid (N_); the portal shows it in each user's language
    read_method: str  # the REST read that says whether the viewer may see the item

    @property
    def title_ru(self) -> str:
        return t("ru", self.title)

    @property
    def title_en(self) -> str:
        return t("en", self.title)


PLACEMENTS: list[PlacementSpec] = [
    PlacementSpec("CRM_DEAL_DETAIL_TAB", "deal_tab", N_("Connector"), "crm.deal.get"),
]
PLACEMENTS_BY_NAME = {p.name: p for p in PLACEMENTS}
