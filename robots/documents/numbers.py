"""Document numbers: per kind, per our legal entity, per period, gapless.

A number is taken only when its document is made, and a failure never consumes one. So the
counter is not bumped first and given back on failure (a gap whenever two documents overlap
and the first fails); instead the whole making of a document — render with the next number,
upload, registry entry — runs under the counter's lock, and the counter moves on only when
`commit` says the document exists. Documents of one kind and entity are therefore made one at
a time; documents of different kinds or entities never wait for each other. The lock is a
WorkerLock (connector.liveness): a job killed while holding it does not block the retry,
which takes the same number again because nothing was committed.

The pattern is the admin's: `Д-{YYYY}-{NNNNN}` → `Д-2026-00042`. `{N…}` is the sequence,
padded to as many digits as there are N; `{YYYY}`, `{YY}`, `{MM}`, `{DD}` are the document's
date in the portal's zone; the period the sequence restarts in is "never", "year" or "month".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from typing import Any

from redis.exceptions import LockError

from connector.errors import Retryable
from connector.i18n import N_

RESETS = ("never", "year", "month")
WAIT_S = 300  # a document of the same kind may be uploading: longer than any such upload
HOLD_S = 600  # the lock's life: longer than rendering, converting and uploading one document
_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|N+)\}")

# KEYS[1] counter; ARGV[1] the number just used -> 1 when it moved the counter
_COMMIT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) == cur + 1 then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


class PatternInvalid(ValueError):
    """The admin's number pattern cannot make numbers (a msgid, for the settings form)."""

    def __init__(self, msgid: str):
        super().__init__(msgid)
        self.msgid = msgid


def check_pattern(pattern: str) -> str:
    """The pattern as given when it can number documents, else PatternInvalid."""
    sequences = [m for m in _TOKEN.findall(pattern) if m.startswith("N")]
    if len(sequences) != 1:
        raise PatternInvalid(N_("The pattern needs exactly one {N} for the sequence, "
                                "e.g. Д-{YYYY}-{NNNNN}"))
    if len(sequences[0]) > 12:
        raise PatternInvalid(N_("The sequence may have at most 12 digits"))
    leftover = _TOKEN.sub("", pattern)
    if "{" in leftover or "}" in leftover:
        raise PatternInvalid(N_("Only {YYYY}, {YY}, {MM}, {DD} and {N…} may stand in braces"))
    if len(pattern) > 64:
        raise PatternInvalid(N_("The pattern may be at most 64 characters long"))
    return pattern


def period_of(reset: str, day: date) -> str:
    """The stretch of time a sequence runs in: "" (never restarts), "2026", "2026-11"."""
    if reset == "year":
        return f"{day.year:04d}"
    if reset == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if reset == "never":
        return ""
    raise ValueError(f"unknown reset {reset!r}")


def format_number(pattern: str, n: int, day: date) -> str:
    def one(m: re.Match[str]) -> str:
        token = m.group(1)
        if token.startswith("N"):
            return str(n).zfill(len(token))
        return {"YYYY": f"{day.year:04d}", "YY": f"{day.year % 100:02d}",
                "MM": f"{day.month:02d}", "DD": f"{day.day:02d}"}[token]

    return _TOKEN.sub(one, pattern)


@dataclass(frozen=True)
class Sequence:
    """One counter: a kind of document of one of our legal entities in one period."""

    kind: str
    entity: int  # our company's id (0: the portal has none set up)
    period: str

    @property
    def parts(self) -> tuple[str, ...]:
        return ("num", self.kind, str(self.entity), self.period or "all")


@dataclass
class Taking:
    """The next number of a sequence, held until `commit` (or given up by leaving)."""

    redis: Any
    key: str
    n: int
    committed: bool = False

    def commit(self) -> None:
        """The document with this number exists now: the sequence moves on."""
        if not self.redis.eval(_COMMIT, 1, self.key, self.n):
            raise RuntimeError(f"{self.key}: number {self.n} is no longer the next one")
        self.committed = True


class Numbers:
    """The counters of one portal (keys under the documents capability's prefix)."""

    def __init__(self, redis: Any, key: Any):
        self.redis = redis
        self._key = key  # JobContext.key-like: parts -> Redis key

    def key(self, seq: Sequence) -> str:
        return str(self._key(*seq.parts))

    def last(self, seq: Sequence) -> int:
        """The last number used (0: none yet)."""
        return int(self.redis.get(self.key(seq)) or 0)

    def seed(self, seq: Sequence, at_least: int) -> None:
        """Make the counter no lower than a number known to be used (e.g. the portal's
        registry after Redis was restored from an older backup)."""
        with self.redis.pipeline() as pipe:
            pipe.set(self.key(seq), 0, nx=True)
            pipe.execute()
        script = "if tonumber(redis.call('GET', KEYS[1])) < tonumber(ARGV[1]) then " \
                 "redis.call('SET', KEYS[1], ARGV[1]) end return 0"
        self.redis.eval(script, 1, self.key(seq), int(at_least))

    @contextmanager
    def taking(self, seq: Sequence, wait_s: float = WAIT_S) -> Iterator[Taking]:
        """Hold the sequence and get its next number; `commit()` it once the document
        exists. Leaving without a commit (an error included) uses up nothing."""
        key = self.key(seq)
        # a short poll: documents of a kind hand the sequence on to each other quickly
        lock = self.redis.lock(f"{key}:lock", timeout=HOLD_S, sleep=0.01,
                               blocking_timeout=wait_s)
        if not lock.acquire():
            raise Retryable(f"{key}: another document of this kind is being made")
        try:
            yield Taking(self.redis, key, self.last(seq) + 1)
        finally:
            with suppress(LockError):  # held past HOLD_S: its commit has been refused
                lock.release()
