"""Capped lists of JSON entries in Redis, newest first: the logs pages read (the event
journal, an item's history, the settings audit, what each capability did lately). One
way to write them, so each stays bounded however long a portal runs."""

from __future__ import annotations

import json
from typing import Any


def push(pipe: Any, key: str, entry: Any, keep: int, ttl_s: int = 0) -> None:
    """Queue the entry on a pipeline the caller executes (with its own writes, at once)."""
    pipe.lpush(key, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(key, 0, keep - 1)
    if ttl_s:
        pipe.expire(key, ttl_s)


def add(redis: Any, key: str, entry: Any, keep: int, ttl_s: int = 0) -> None:
    with redis.pipeline() as pipe:
        push(pipe, key, entry, keep, ttl_s)
        pipe.execute()


def latest(redis: Any, key: str, limit: int) -> list[Any]:
    """The newest `limit` entries, newest first."""
    return [json.loads(raw) for raw in redis.lrange(key, 0, limit - 1)]
