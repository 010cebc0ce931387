"""Which pages the app's admin area has: declared by the registry, not written by hand.

Each capability with settings or panels gets one page: its settings forms (one per Schema
section it declares) and then its panels. The core adds an overview every user may open,
the portal-wide settings, and the operations page. The order is the registry's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connector.capability import Panel, Registry
from connector.crm.port import AMOCRM, BITRIX24
from connector.i18n import N_, Msg
from connector.settings_schema import CORE_SCHEMAS, Schema

CORE = "core"  # the JobContext capability of the core's own panels
OVERVIEW = "overview"
# core sections about one CRM only: Bitrix24's offline events, amoCRM's managers' hours
ONLY_ON = {"events": BITRIX24, "amocrm": AMOCRM}


def shown_on(section: str, crm: str) -> bool:
    """Whether a settings section belongs on a tenant of this CRM's pages."""
    return ONLY_ON.get(section, crm) == crm


@dataclass(frozen=True)
class Page:
    name: str  # the URL's last part: /app/<name>
    title: Msg
    capability: str  # whose JobContext the panels get; CORE for the core's pages
    schemas: tuple[Schema, ...] = ()
    panels: tuple[Panel, ...] = ()
    admin_only: bool = True


def pages(registry: Registry, overview: Sequence[Panel] = (),
          operations: Sequence[Panel] = (), general: Sequence[Panel] = ()) -> list[Page]:
    """The overview, the general settings, a page per capability, operations."""
    out = [Page(OVERVIEW, N_("Overview"), CORE, panels=tuple(overview), admin_only=False),
           Page("general", N_("General"), CORE, schemas=CORE_SCHEMAS,
                panels=tuple(general))]
    out += [Page(cap.name, cap.title, cap.name, tuple(cap.settings), tuple(cap.panels))
            for cap in registry.capabilities if cap.settings or cap.panels]
    out.append(Page("operations", N_("Operations"), CORE, panels=tuple(operations)))
    names = [p.name for p in out]
    if len(names) != len(set(names)):
        raise ValueError(f"two admin pages share a name: {names}")
    return out
