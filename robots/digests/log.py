"""The last digests sent or refused, newest first, for the admin panel (a capped list)."""

from __future__ import annotations

import time
from typing import Any

from connector import capped

KEEP = 50


def _key(ctx: Any) -> str:
    return ctx.of("digests").key("log")


def add(ctx: Any, entry: dict[str, Any]) -> None:
    capped.add(ctx.redis, _key(ctx), {"at": time.time(), **entry}, KEEP)


def recent(ctx: Any, limit: int = 20) -> list[dict[str, Any]]:
    return capped.latest(ctx.redis, _key(ctx), limit)
