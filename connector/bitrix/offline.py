"""Draining the portal's offline-event queue in the mode its plan allows.

api-reference/events/offline-events.md: reading with confirmation (`event.offline.get`
with `clear=0`, then `event.offline.clear` with the `process_id`) exists only where
`feature.get` says `rest_offline_extended` is there; elsewhere the portal answers
WRONG_LICENSE and only `clear=1` works, which deletes records as it hands them out.

- "reserve": records are cleared only after every one of them was given to `enqueue`; a
  crash in between means the same batch is read again (by its process_id): at least once.
- "clear": records are gone from the portal once read; a crash between reading and
  queueing loses that batch (at most 50 records): at most once. docs/operations.md says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from redis import Redis

from connector.bitrix.errors import BitrixError
from connector.bitrix.rest import BitrixClient

log = logging.getLogger(__name__)

FEATURE = "rest_offline_extended"
FEATURE_CACHE_S = 3600
PAGE = 50
PROCESS_TTL_S = 30 * 24 * 3600
Mode = Literal["reserve", "clear"]


def mode_key(prefix: str, member_id: str) -> str:
    return f"{prefix}:offline-mode:{member_id}"


def process_key(prefix: str, member_id: str) -> str:
    """The process_id of a reserved batch not yet cleared (same key as before this module)."""
    return f"{prefix}:offline-process:{member_id}"


def mode(client: BitrixClient, redis: Redis, prefix: str, member_id: str) -> Mode:
    """The drain mode the plan allows, asked with feature.get at most once an hour."""
    cached = redis.get(mode_key(prefix, member_id))
    if cached in (b"reserve", b"clear"):
        return "reserve" if cached == b"reserve" else "clear"
    answer = client.call("feature.get", {"CODE": FEATURE}) or {}
    found: Mode = "reserve" if str(answer.get("value", "")).upper() == "Y" else "clear"
    redis.set(mode_key(prefix, member_id), found, ex=FEATURE_CACHE_S)
    return found


def drain(client: BitrixClient, redis: Redis, prefix: str, member_id: str,
          enqueue: Callable[[dict[str, Any]], bool], max_batches: int = 20) -> dict[str, Any]:
    """Hand every queued offline record to `enqueue` (True = it queued a job); return counts.

    Returns {"queued": n, "mode": "reserve"|"clear", "read": m}.
    """
    how = mode(client, redis, prefix, member_id)
    if how == "reserve":
        try:
            return _drain_reserving(client, redis, prefix, member_id, enqueue, max_batches)
        except BitrixError as exc:
            if exc.code != "WRONG_LICENSE":
                raise
            log.info("portal %s lost %s: draining with clear=1", member_id, FEATURE)
            redis.set(mode_key(prefix, member_id), "clear", ex=FEATURE_CACHE_S)
            redis.delete(process_key(prefix, member_id))
    return _drain_clearing(client, enqueue, max_batches)


def _drain_reserving(client: BitrixClient, redis: Redis, prefix: str, member_id: str,
                     enqueue: Callable[[dict[str, Any]], bool], max_batches: int
                     ) -> dict[str, Any]:
    key = process_key(prefix, member_id)
    queued = read = 0
    for _ in range(max_batches):
        unfinished = redis.get(key)
        params: dict[str, Any] = {"clear": 0, "limit": PAGE}
        if unfinished:  # a run that died between reading and clearing: finish its batch
            params["process_id"] = unfinished.decode()
        res = client.call("event.offline.get", params) or {}
        events = res.get("events") or []
        if not events:
            if unfinished:
                redis.delete(key)
                continue
            break
        process_id = str(res.get("process_id") or "")
        redis.set(key, process_id, ex=PROCESS_TTL_S)
        read += len(events)
        queued += sum(1 for record in events if enqueue(record))
        client.call("event.offline.clear", {"process_id": process_id})
        redis.delete(key)
        if len(events) < PAGE and not unfinished:
            break
    return {"queued": queued, "mode": "reserve", "read": read}


def _drain_clearing(client: BitrixClient, enqueue: Callable[[dict[str, Any]], bool],
                    max_batches: int) -> dict[str, Any]:
    queued = read = 0
    for _ in range(max_batches):
        res = client.call("event.offline.get", {"clear": 1, "limit": PAGE}) or {}
        events = res.get("events") or []
        read += len(events)
        queued += sum(1 for record in events if enqueue(record))
        if len(events) < PAGE:
            break
    return {"queued": queued, "mode": "clear", "read": read}
