"""Distribution state in Redis: load counters, pins, pending queues, decisions, the audit log.

Counters change under the group's lock together with the decision, so two items that arrive
at once never both go to the same person on stale numbers. "Received today/this month" are
our own counts of assignments (by the portal's calendar); "in work" is also recounted from
the CRM periodically, because people close and reassign items by hand.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis
from redis.exceptions import LockError

DONE_TTL_S = 30 * 24 * 3600


@dataclass(frozen=True)
class Load:
    in_work: int = 0
    today: int = 0
    month: int = 0
    last: float = 0.0


def item_key(entity: str, item_id: int) -> str:
    return f"{entity}/{item_id}"


class DistributionState:
    """`base` is the capability's key space for one tenant (JobContext.key())."""

    def __init__(self, redis: Redis, base: str, timezone: str = "UTC",
                 clock: Any = time.time):
        self.redis = redis
        self.base = base
        self.tz = ZoneInfo(timezone)
        self.clock = clock

    # calendar ---------------------------------------------------------------------------
    def day(self, now: float | None = None) -> str:
        return datetime.fromtimestamp(now or self.clock(), self.tz).strftime("%Y-%m-%d")

    def month(self, now: float | None = None) -> str:
        return datetime.fromtimestamp(now or self.clock(), self.tz).strftime("%Y-%m")

    def g(self, gid: str, what: str) -> str:
        return f"{self.base}:g:{gid}:{what}"

    # lock -------------------------------------------------------------------------------
    @contextmanager
    def group_lock(self, gid: str, timeout: float = 30) -> Iterator[None]:
        lock = self.redis.lock(self.g(gid, "lock"), timeout=timeout, blocking_timeout=timeout)
        if not lock.acquire():
            raise TimeoutError(f"distribution group {gid} is busy")
        try:
            yield
        finally:
            with suppress(LockError):  # expired: the work is already done
                lock.release()

    # loads ------------------------------------------------------------------------------
    def loads(self, gid: str, user_ids: list[int]) -> dict[int, Load]:
        keys = [self.g(gid, "inwork"), self.g(gid, f"day:{self.day()}"),
                self.g(gid, f"month:{self.month()}"), self.g(gid, "last")]
        pipe = self.redis.pipeline()
        fields = [str(u) for u in user_ids]
        for key in keys:
            pipe.hmget(key, fields)
        in_work, today, month, last = pipe.execute() if fields else ([], [], [], [])
        out = {}
        for i, uid in enumerate(user_ids):
            out[uid] = Load(int(in_work[i] or 0), int(today[i] or 0), int(month[i] or 0),
                            float(last[i] or 0))
        return out

    def bump(self, gid: str, user_id: int, delta: int = 1) -> None:
        """Count one assignment (or undo one with delta=-1)."""
        pipe = self.redis.pipeline()
        self._count(pipe, gid, user_id, delta)
        pipe.execute()

    def _count(self, pipe: Any, gid: str, user_id: int, delta: int,
               received: bool = True) -> None:
        """In work by `delta`; with `received`, also received today and this month."""
        uid = str(user_id)
        pipe.hincrby(self.g(gid, "inwork"), uid, delta)
        if not received:
            return
        day_key, month_key = self.g(gid, f"day:{self.day()}"), self.g(gid, f"month:{self.month()}")
        pipe.hincrby(day_key, uid, delta)
        pipe.expire(day_key, 3 * 86400)
        pipe.hincrby(month_key, uid, delta)
        pipe.expire(month_key, 40 * 86400)
        if delta > 0:
            pipe.hset(self.g(gid, "last"), uid, repr(self.clock()))

    def set_in_work(self, gid: str, counts: dict[int, int]) -> None:
        key = self.g(gid, "inwork")
        pipe = self.redis.pipeline()
        pipe.delete(key)
        if counts:
            pipe.hset(key, mapping={str(k): v for k, v in counts.items()})
        pipe.execute()

    def in_work_counts(self, gid: str) -> dict[int, int]:
        return {int(k): int(v) for k, v in self.redis.hgetall(self.g(gid, "inwork")).items()}

    # decisions per item (idempotency) -----------------------------------------------------
    def done_key(self, entity: str, item_id: int) -> str:
        return f"{self.base}:done:{item_key(entity, item_id)}"

    def get_done(self, entity: str, item_id: int) -> dict[str, Any] | None:
        raw = self.redis.get(self.done_key(entity, item_id))
        return json.loads(raw) if raw else None

    def put_done(self, entity: str, item_id: int, record: dict[str, Any]) -> None:
        self.redis.set(self.done_key(entity, item_id), json.dumps(record), ex=DONE_TTL_S)

    def drop_done(self, entity: str, item_id: int) -> None:
        self.redis.delete(self.done_key(entity, item_id))

    # reassignments asked by other capabilities (per item and call) ------------------------
    def reassign_key(self, entity: str, item_id: int, call: str) -> str:
        return f"{self.base}:reassign:{item_key(entity, item_id)}:{call}"

    def get_reassign(self, key: str) -> dict[str, Any] | None:
        raw = self.redis.get(key)
        return json.loads(raw) if raw else None

    def put_reassign(self, key: str, record: dict[str, Any]) -> None:
        self.redis.set(key, json.dumps(record), ex=DONE_TTL_S)

    def begin_reassign(self, gid: str, key: str, record: dict[str, Any], old: int | None,
                       new: int, undo: bool = False) -> None:
        """Record the choice and move the load from `old` (in work only: they did receive it)
        to `new` in one transaction, so a retry finds the choice and never counts twice;
        `undo` takes both back (the item vanished before the write)."""
        sign = -1 if undo else 1
        pipe = self.redis.pipeline()  # MULTI/EXEC
        if undo:
            pipe.delete(key)
        else:
            pipe.set(key, json.dumps(record), ex=DONE_TTL_S)
        self._count(pipe, gid, new, sign)
        if old:
            self._count(pipe, gid, old, -sign, received=False)
        pipe.execute()

    def first_time(self, key: str) -> bool:
        """True once per key (a kept reassignment is logged once, however often retried)."""
        return bool(self.redis.set(f"{key}:logged", "1", nx=True, ex=DONE_TTL_S))

    # pins ---------------------------------------------------------------------------------
    def pin_key(self, kind: str, cid: int) -> str:
        return f"{self.base}:pin:{kind}:{cid}"

    def pinned(self, kind: str, cid: int) -> int | None:
        raw = self.redis.get(self.pin_key(kind, cid))
        return int(raw) if raw else None

    def pin(self, kind: str, cid: int, user_id: int, overwrite: bool = False) -> bool:
        made = bool(self.redis.set(self.pin_key(kind, cid), user_id, nx=not overwrite))
        if made:
            self.redis.incr(f"{self.base}:pins")
        return made

    def has_pins(self) -> bool:
        """Whether any client is pinned: only then are a lead's duplicates worth reading."""
        return bool(int(self.redis.get(f"{self.base}:pins") or 0))

    # pending queue ---------------------------------------------------------------------------
    def add_pending(self, gid: str, entry: dict[str, Any]) -> bool:
        """Queue an item nobody could take; True the first time (tell supervisors once)."""
        member = json.dumps(entry, sort_keys=True)
        return bool(self.redis.zadd(self.g(gid, "pending"), {member: self.clock()}, nx=True))

    def pending(self, gid: str, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.redis.zrange(self.g(gid, "pending"), 0, limit - 1)]

    def remove_pending(self, gid: str, entry: dict[str, Any]) -> None:
        self.redis.zrem(self.g(gid, "pending"), json.dumps(entry, sort_keys=True))

    def pending_count(self, gid: str) -> int:
        return int(self.redis.zcard(self.g(gid, "pending")))

    def due(self, gid: str, every_s: float) -> bool:
        """At most one re-check per interval per group, whoever asks."""
        return bool(self.redis.set(self.g(gid, "recheck"), "1", nx=True, ex=max(1, int(every_s))))

    # supervisors' chat ------------------------------------------------------------------------
    def chat_id(self, gid: str) -> int:
        raw = self.redis.get(self.g(gid, "chat"))
        return int(raw) if raw else 0

    def set_chat_id(self, gid: str, chat_id: int) -> None:
        self.redis.set(self.g(gid, "chat"), chat_id)

    # members cache ----------------------------------------------------------------------------
    def cached_members(self, gid: str) -> list[int] | None:
        raw = self.redis.get(self.g(gid, "members"))
        return json.loads(raw) if raw else None

    def cache_members(self, gid: str, user_ids: list[int], ttl_s: int = 600) -> None:
        self.redis.set(self.g(gid, "members"), json.dumps(user_ids), ex=ttl_s)

    # audit ------------------------------------------------------------------------------------
    @property
    def audit_key(self) -> str:
        return f"{self.base}:audit"

    def audit(self, entry: dict[str, Any], keep_days: int = 90) -> None:
        now = self.clock()
        entry = {"ts": now, **entry}
        pipe = self.redis.pipeline()
        pipe.zadd(self.audit_key, {json.dumps(entry, ensure_ascii=False): now})
        pipe.zremrangebyscore(self.audit_key, "-inf", now - keep_days * 86400)
        pipe.execute()

    def audit_entries(self, limit: int = 50, item: str | None = None) -> list[dict[str, Any]]:
        rows = [json.loads(r) for r in self.redis.zrevrange(self.audit_key, 0,
                                                             (limit if not item else 5000) - 1)]
        if item:
            rows = [r for r in rows if r.get("item") == item][:limit]
        return rows

    def audit_between(self, since: float, until: float, limit: int = 2000
                      ) -> list[dict[str, Any]]:
        """Audit entries from `since` to `until` (unix times), newest first (the admin page)."""
        top = "+inf" if until == float("inf") else until
        return [json.loads(r) for r in self.redis.zrevrangebyscore(
            self.audit_key, top, since, start=0, num=limit)]
