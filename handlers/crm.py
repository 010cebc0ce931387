"""CRM object events: fan out to the capabilities that subscribe to them.

The capabilities that listen to each event are listed in handlers/__init__.py; each gets
(ctx, entity_id, data) and must be idempotent, because the same change can arrive online
and again from the offline queue. Every event is also kept in a short per-portal journal
the CLI shows, so an admin can see what reached the app.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

Subscriber = Callable[[Any, int, dict[str, Any]], None]
JOURNAL_LEN = 500


def journal_key(prefix: str, member_id: str) -> str:
    return f"{prefix}:journal:{member_id}"


def entity_id(data: dict[str, Any]) -> int:
    fields = data.get("FIELDS") or {}
    raw = fields.get("ID") if isinstance(fields, dict) else None
    if raw is None or not str(raw).isdigit():
        raise ValueError(f"event data carries no numeric FIELDS[ID]: {str(data)[:200]}")
    return int(raw)


def make_handler(event: str, subscribers: list[Subscriber]
                 ) -> Callable[[Any, dict[str, Any]], None]:
    def handle(ctx: Any, data: dict[str, Any]) -> None:
        item_id = entity_id(data)
        redis = ctx.services.redis
        key = journal_key(ctx.services.settings.queue_prefix, ctx.member_id)
        redis.lpush(key, json.dumps({"ts": time.time(), "event": event, "id": item_id,
                                     "subscribers": len(subscribers)}))
        redis.ltrim(key, 0, JOURNAL_LEN - 1)
        failures: list[Exception] = []
        for fn in subscribers:  # one capability failing must not starve the others
            try:
                fn(ctx, item_id, data)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the rest ran
                ctx.log.warning("%s on %s %s failed: %s", fn.__name__, event, item_id, exc)
                failures.append(exc)
        if failures:
            raise failures[0]

    handle.__name__ = f"on_{event.lower()}"
    return handle


CRM_EVENTS = (
    "ONCRMLEADADD", "ONCRMLEADUPDATE",
    "ONCRMDEALADD", "ONCRMDEALUPDATE",
    "ONCRMDYNAMICITEMADD",
    "ONCRMACTIVITYADD",
)
