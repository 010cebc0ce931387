"""The capabilities of crm-connector: one package each, and this one list that names them.

Adding a capability is one package that exports a `Capability` and one line here.
"""

from __future__ import annotations

from connector.capability import Capability
from robots import timeline_note
from robots.carriers import CAPABILITY as CARRIERS
from robots.client_value import CAPABILITY as CLIENT_VALUE
from robots.deal_workspace.robot import CAPABILITY as DEAL_WORKSPACE
from robots.digests import CAPABILITY as DIGESTS
from robots.distribution.robot import CAPABILITY as DISTRIBUTION
from robots.documents import CAPABILITY as DOCUMENTS
from robots.drive_mirror.robot import CAPABILITY as DRIVE_MIRROR
from robots.lead_hygiene import CAPABILITY as LEAD_HYGIENE
from robots.notices import CAPABILITY as NOTICES
from robots.presets import CAPABILITY as PRESETS
from robots.profitability import CAPABILITY as PROFITABILITY
from robots.registries import CAPABILITY as REGISTRIES
from robots.watchdogs import CAPABILITY as WATCHDOGS

CAPABILITIES: list[Capability] = [
    timeline_note.CAPABILITY,
    PRESETS,
    DISTRIBUTION,
    DEAL_WORKSPACE,
    DRIVE_MIRROR,
    WATCHDOGS,
    DOCUMENTS,
    CARRIERS,
    CLIENT_VALUE,
    PROFITABILITY,
    REGISTRIES,
    NOTICES,
    DIGESTS,
    LEAD_HYGIENE,
]
