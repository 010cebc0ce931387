"""Where a portal's carrier index lives: Redis, as JSON records by id, with a revision and a
log of changes, so every worker keeps the index in memory and catches up with what others
wrote in one small read (decision 37).

    <key>:carriers  hash  carrier id -> Carrier JSON
    <key>:trips     hash  request ref -> Trip JSON
    <key>:offers    hash  offer id -> Offer JSON
    <key>:rev       int   bumped by every write
    <key>:log       stream  one entry per record written or dropped

`snapshot(store)` is the per-process copy: a query reads the revision (one GET); when it
moved, the log since the copy's place says which records to read again; a log trimmed past
that place, or a process that has none yet, reads everything.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from robots.carriers.index import Snapshot
from robots.carriers.records import Carrier, Offer, Trip, from_json, to_json

LOG_MAX = 200_000  # log entries kept: a worker further behind reads everything
SNAPSHOTS = 8  # portals' indexes one process keeps in memory
COMPACT_AT = 0.3  # dead rows share that makes a process rebuild its copy
KINDS = {"c": ("carriers", Carrier), "t": ("trips", Trip), "o": ("offers", Offer)}


def _after(a: str, b: str) -> bool:
    """Whether stream id `a` comes after `b`."""
    def parts(x: str) -> tuple[int, int]:
        ms, _, seq = x.partition("-")
        return int(ms), int(seq or 0)
    return parts(a) > parts(b)


def _id(kind: str, record: Any) -> str:
    return record.ref if kind == "t" else str(record.id)


class Store:
    """One portal's index in Redis (`base`: the capability's key for the tenant)."""

    def __init__(self, redis: Any, base: str):
        self.redis = redis
        self.base = base

    def key(self, name: str) -> str:
        return f"{self.base}:{name}"

    def write(self, carriers: Iterable[Carrier] = (), trips: Iterable[Trip] = (),
              offers: Iterable[Offer] = (), gone: Iterable[tuple[str, str]] = (),
              only_changed: bool = False) -> int:
        """Put records and drop (kind, id) pairs in one transaction; how many changed.
        With `only_changed` a record equal to the stored one is not written (a reconcile
        that re-reads the whole portal leaves the log quiet)."""
        puts: list[tuple[str, str, str]] = []
        for kind, records in (("c", carriers), ("t", trips), ("o", offers)):
            puts += [(kind, _id(kind, r), json.dumps(to_json(r), ensure_ascii=False,
                                                     sort_keys=True)) for r in records]
        gone = list(gone)
        if only_changed and puts:
            stored = self._get_many([(k, i) for k, i, _ in puts])
            puts = [p for p, old in zip(puts, stored, strict=True) if old != p[2].encode()]
        if not puts and not gone:
            return 0
        pipe = self.redis.pipeline(transaction=True)
        for kind, ident, raw in puts:
            pipe.hset(self.key(KINDS[kind][0]), ident, raw)
        for kind, ident in gone:
            pipe.hdel(self.key(KINDS[kind][0]), ident)
        for kind, ident in [(k, i) for k, i, _ in puts] + gone:
            pipe.xadd(self.key("log"), {"k": kind, "i": ident}, maxlen=LOG_MAX,
                      approximate=True)
        pipe.incr(self.key("rev"))  # last: a reader that sees it finds the log written
        pipe.execute()
        return len(puts) + len(gone)

    def _get_many(self, pairs: list[tuple[str, str]]) -> list[bytes | None]:
        pipe = self.redis.pipeline(transaction=False)
        for kind, ident in pairs:
            pipe.hget(self.key(KINDS[kind][0]), ident)
        return pipe.execute()

    def get(self, kind: str, ident: str | int) -> Any:
        raw = self.redis.hget(self.key(KINDS[kind][0]), str(ident))
        return from_json(KINDS[kind][1], json.loads(raw)) if raw else None

    def ids(self, kind: str) -> set[str]:
        return {k.decode() for k in self.redis.hkeys(self.key(KINDS[kind][0]))}

    def counts(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for name, _ in KINDS.values():
            pipe.hlen(self.key(name))
        return dict(zip([n for n, _ in KINDS.values()], pipe.execute(), strict=True))

    def rev(self) -> int:
        return int(self.redis.get(self.key("rev")) or 0)

    def read_all(self) -> tuple[int, str, dict[str, list[Any]]]:
        """Everything, with the revision and log position it is at least as new as."""
        rev, last = self.rev(), self._last_log_id()
        out: dict[str, list[Any]] = {}
        for kind, (name, cls) in KINDS.items():
            out[kind] = [from_json(cls, json.loads(raw))
                         for raw in self.redis.hvals(self.key(name))]
        return rev, last, out

    def _last_log_id(self) -> str:
        last = self.redis.xrevrange(self.key("log"), count=1)
        return last[0][0].decode() if last else "0-0"

    def changes_since(self, log_id: str) -> tuple[str, dict[str, set[str]]] | None:
        """The records changed after `log_id` by kind, with the newest log id; None when the
        log no longer reaches back there (trimmed, or dropped: read everything)."""
        first = self.redis.xrange(self.key("log"), count=1)
        if not first or _after(first[0][0].decode(), log_id):
            return None
        entries = self.redis.xrange(self.key("log"), min=f"({log_id}", count=LOG_MAX)
        out: dict[str, set[str]] = {k: set() for k in KINDS}
        for _entry, fields in entries:
            out[fields[b"k"].decode()].add(fields[b"i"].decode())
        return (entries[-1][0].decode() if entries else log_id), out

    def records(self, kind: str, idents: Iterable[str]) -> tuple[list[Any], list[str]]:
        """(present records, idents gone) of one kind."""
        idents = list(idents)
        if not idents:
            return [], []
        name, cls = KINDS[kind]
        raws = self.redis.hmget(self.key(name), idents)
        found = [from_json(cls, json.loads(r)) for r in raws if r]
        gone = [i for i, r in zip(idents, raws, strict=True) if not r]
        return found, gone

    def drop_all(self) -> None:
        self.redis.delete(*(self.key(n) for n, _ in KINDS.values()))
        self.redis.incr(self.key("rev"))
        self.redis.delete(self.key("log"))


@dataclass
class _Copy:
    rev: int
    log_id: str
    snapshot: Snapshot


_copies: OrderedDict[str, _Copy] = OrderedDict()
_lock = threading.Lock()


def snapshot(store: Store) -> Snapshot:
    """This process's copy of the portal's index, brought up to date."""
    with _lock:
        copy = _copies.get(store.base)
        rev = store.rev()
        if copy is not None and copy.rev == rev:
            _copies.move_to_end(store.base)
            return copy.snapshot
        changes = store.changes_since(copy.log_id) if copy else None
        if copy is None or changes is None:
            rev, log_id, everything = store.read_all()
            copy = _Copy(rev, log_id, Snapshot.build(everything["c"], everything["t"],
                                                      everything["o"]))
        else:
            copy.log_id, changed = changes
            copy.rev = rev
            carriers, gone_c = store.records("c", changed["c"])
            trips, gone_t = store.records("t", changed["t"])
            offers, gone_o = store.records("o", changed["o"])
            copy.snapshot.changed(carriers, trips, offers, [int(i) for i in gone_c], gone_t,
                                  [int(i) for i in gone_o])
            if copy.snapshot.dead_share > COMPACT_AT:
                copy.snapshot = copy.snapshot.compacted()
        _copies[store.base] = copy
        _copies.move_to_end(store.base)
        while len(_copies) > SNAPSHOTS:
            _copies.popitem(last=False)
        return copy.snapshot


def forget_copies() -> None:
    """Drop this process's copies (tests)."""
    with _lock:
        _copies.clear()
