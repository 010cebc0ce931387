"""The inbox: verified deliveries as the request path leaves them for the workers.

Answering Bitrix24 must cost one Redis call, so the web process does not build an RQ job:
one Lua script checks the dedup marker, sets it and appends the record (kind, name, portal,
scrubbed payload, the job id it will become) to one list per deployment. The pump in the
workers (connector.pump) turns records into RQ jobs. A duplicate is refused by the marker
before anything is written; a record is in Redis, and the marker with it, before the 200.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from redis import Redis

from connector.fast_script import FastScript

JOB_FUNC = "connector.jobs.run_inbound"  # what every record becomes
STALE_S = 60.0  # a record this old in the inbox: nothing moves it
ADMIT = """
-- KEYS[1] the dedup marker, KEYS[2] the inbox
-- ARGV[1] the marker's value (the job id), ARGV[2] its TTL in s, ARGV[3] the record
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('RPUSH', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Record:
    """One verified inbound delivery, as stored: everything its job needs, no secret."""

    kind: str  # "event" | "robot"
    name: str
    member_id: str
    payload: dict[str, Any]
    job: str  # the RQ job id it becomes
    dedup: str = ""  # the marker's key to release when the job starts ("" = keep it)
    at: float = 0.0  # when it was accepted (unix s)

    def encode(self) -> str:
        return json.dumps({"kind": self.kind, "name": self.name, "member_id": self.member_id,
                           "payload": self.payload, "job": self.job, "dedup": self.dedup,
                           "at": self.at}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: bytes | str) -> Record:
        """The stored record; ValueError (or KeyError, TypeError) when it is not one."""
        doc = json.loads(raw)
        return cls(str(doc["kind"]), str(doc["name"]), str(doc["member_id"]),
                   dict(doc["payload"]), str(doc["job"]), str(doc.get("dedup") or ""),
                   float(doc.get("at") or 0.0))


class Inbox:
    """Keys and the request path's one call; counts for /healthz and the admin pages."""

    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.key = f"{prefix}:inbox"
        self.pumps_key = f"{prefix}:inbox:pumps"  # names of pumps that may hold records
        self.unreadable_key = f"{prefix}:inbox:unreadable"  # kept for an operator, never run
        # how many records all pumps hold: changed in the same script or transaction as
        # the lists, so /healthz counts them without walking the pumps
        self.taken_count_key = f"{prefix}:inbox:taken"
        self._admit = FastScript(redis, ADMIT)

    def taken_key(self, pump: str) -> str:
        """Records one pump took and has not yet turned into jobs."""
        return f"{self.key}:taken:{pump}"

    def alive_key(self, pump: str) -> str:
        return f"{self.key}:alive:{pump}"

    def admit(self, record: Record, dedup_key: str, marker: str, ttl_s: int) -> bool:
        """Append `record` unless `dedup_key` is set (then nothing is written): one EVALSHA."""
        return bool(self._admit(keys=[dedup_key, self.key],
                                args=[marker, ttl_s, record.encode()]))

    def pumps(self) -> list[str]:
        return sorted(m.decode() for m in self.redis.smembers(self.pumps_key))

    def waiting(self) -> int:
        """Records not yet jobs, in the inbox or taken by a pump: two counters, no walk."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.key)
            pipe.get(self.taken_count_key)
            queued, taken = pipe.execute()
        return int(queued) + max(0, int(taken or 0))

    def health(self, now: float | None = None) -> dict[str, Any]:
        """What /healthz shows: how many wait and how long the oldest has waited. A minute
        means no pump moves them (no worker runs, or none reaches Redis)."""
        at = time.time() if now is None else now
        head = self.redis.lindex(self.key, 0)
        oldest = 0.0
        if head is not None:
            try:
                oldest = max(0.0, at - Record.decode(head).at)
            except (ValueError, KeyError, TypeError):
                oldest = 0.0
        return {"ok": oldest < STALE_S, "waiting": self.waiting(), "oldest_s": round(oldest, 1)}

    def records_of(self, member_id: str, batch: int = 1000) -> Iterator[Record]:
        """One portal's waiting records, a slice at a time (the admin pages; normally none).

        Others' are skipped by a byte search for the portal's id before any is decoded.
        A record a pump moves while a slice is read is not seen.
        """
        needle = b'"member_id":' + json.dumps(member_id).encode()
        for key in [self.key] + [self.taken_key(p) for p in self.pumps()]:
            start = 0
            while raws := self.redis.lrange(key, start, start + batch - 1):
                for raw in raws:
                    if needle not in raw:
                        continue
                    try:
                        record = Record.decode(raw)
                    except (ValueError, KeyError, TypeError):
                        continue
                    if record.member_id == member_id:
                        yield record
                start += len(raws)
