"""Who is at work on an amoCRM account: amoCRM has no time tracking, so availability comes
from the admin's schedules and each manager's own "away" switch on the widget."""

from __future__ import annotations

from typing import Any


def presence_for(services: Any, member_id: str) -> Any:
    """A callable user ids → availability (connector.crm.port.AVAILABILITY) for the tenant."""

    def unknown(ids: tuple[int, ...]) -> dict[int, str]:
        return dict.fromkeys(ids, "unknown")

    return unknown
