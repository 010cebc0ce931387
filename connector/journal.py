"""A short per-portal journal of the CRM events that reached the app (CLI, deal tab)."""

from __future__ import annotations

import time
from typing import Any

from connector import capped

JOURNAL_LEN = 500


def journal_key(prefix: str, member_id: str) -> str:
    return f"{prefix}:journal:{member_id}"


def record(services: Any, member_id: str, event: str, item_id: int, subscribers: int) -> None:
    key = journal_key(services.settings.queue_prefix, member_id)
    capped.add(services.redis, key, {"ts": time.time(), "event": event, "id": item_id,
                                     "subscribers": subscribers}, JOURNAL_LEN)


def entries(services: Any, member_id: str, limit: int = 50) -> list[dict[str, Any]]:
    key = journal_key(services.settings.queue_prefix, member_id)
    return capped.latest(services.redis, key, limit)
