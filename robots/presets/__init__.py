"""Presets: a portal set up for a car dealer, a freight company, an interior supplier, a
repair shop or a distributor in one step — previewed, applied idempotently, undone
(robots.presets.catalog holds what each sets; the guides are docs/playbooks/)."""

from __future__ import annotations

from connector.capability import Capability, Task
from connector.i18n import N_
from robots.presets import apply
from robots.presets.config import NAME
from robots.presets.panels import PANELS

CAPABILITY = Capability(
    name=NAME,
    title=N_("Presets"),
    tasks=(Task("prepare", apply.prepare,
                title=N_("Make the fields and smart processes of a preset")),),
    panels=PANELS,
    scopes=frozenset({"crm"}),
)
