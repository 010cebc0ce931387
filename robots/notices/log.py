"""The last notices sent or refused, newest first, for the admin page (a capped list)."""

from __future__ import annotations

import time
from typing import Any

from connector import capped

KEEP = 200


def _key(ctx: Any) -> str:
    return ctx.of("notices").key("log")


def add(ctx: Any, entry: dict[str, Any]) -> None:
    capped.add(ctx.redis, _key(ctx), {"at": time.time(), **entry}, KEEP)


def recent(ctx: Any, limit: int = 50) -> list[dict[str, Any]]:
    return capped.latest(ctx.redis, _key(ctx), limit)
