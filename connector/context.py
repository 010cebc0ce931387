"""JobContext: what a handler or robot gets — the portal, its REST client, its settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from connector.bitrix.rest import BitrixClient
from connector.bitrix.store import Portal
from connector.services import Services


@dataclass
class JobContext:
    portal: Portal
    rest: BitrixClient
    settings: dict[str, Any]
    services: Services
    log: logging.LoggerAdapter
    final_attempt: bool = True

    @property
    def member_id(self) -> str:
        return self.portal.member_id

    @classmethod
    def load(cls, services: Services, member_id: str, job: str = "") -> JobContext | None:
        """Re-read the portal inside the job; None when it has been uninstalled meanwhile."""
        portal = services.store.get(member_id)
        if portal is None:
            return None
        logger = logging.LoggerAdapter(logging.getLogger("connector.job"),
                                       {"member_id": member_id, "job": job})
        return cls(portal, services.client(member_id), services.portal_settings.get(member_id),
                   services, logger)
