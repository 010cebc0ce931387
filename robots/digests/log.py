"""The last digests sent or refused, newest first, for the admin panel (a capped list)."""

from __future__ import annotations

import json
import time
from typing import Any

KEEP = 50


def _key(ctx: Any) -> str:
    return ctx.of("digests").key("log")


def add(ctx: Any, entry: dict[str, Any]) -> None:
    with ctx.redis.pipeline() as pipe:
        pipe.lpush(_key(ctx), json.dumps({"at": time.time(), **entry}, ensure_ascii=False))
        pipe.ltrim(_key(ctx), 0, KEEP - 1)
        pipe.execute()


def recent(ctx: Any, limit: int = 20) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in ctx.redis.lrange(_key(ctx), 0, limit - 1)]
