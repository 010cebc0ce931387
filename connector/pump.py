"""The pump: a thread of every worker that turns inbox records into RQ jobs, exactly once.

A pump first moves records from the inbox to its own `taken` list (a script of LMOVEs), then
creates their jobs and removes them from `taken` in one MULTI/EXEC that WATCHes that list and
the jobs' keys. So a record leaves `taken` exactly when its job comes to exist:

- killed after taking, before the EXEC: the records wait in `taken`; once its alive key has
  expired, any pump puts them back at the head of the inbox (a script that checks and moves
  at once) and they are moved again: nothing lost;
- only frozen, and it wakes after its records were given back: its WATCH sees the list
  changed, it re-reads it, finds them gone and creates nothing: nothing doubled;
- a record whose job already exists (it was created by a pump that lost the race) is only
  removed. Any number of pumps may run: each takes different records.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from redis.exceptions import WatchError

from connector.inbox import Record
from connector.queue import Queues

log = logging.getLogger(__name__)

TAKE = """
-- KEYS[1] the inbox, KEYS[2] this pump's taken list, KEYS[3] the count of taken records
-- ARGV[1] at most this many records
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local raw = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not raw then break end
  out[i] = raw
end
if #out > 0 then redis.call('INCRBY', KEYS[3], #out) end
return out
"""

GIVE_BACK = """
-- KEYS[1] a pump's taken list, KEYS[2] the inbox, KEYS[3] the pumps set, KEYS[4] its alive
-- key, KEYS[5] the count of taken records; ARGV[1] its name.
-- A pump still alive keeps its records; else they go back to the inbox's head, in order.
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do n = n + 1 end
if n > 0 then redis.call('DECRBY', KEYS[5], n) end
redis.call('SREM', KEYS[3], ARGV[1])
return n
"""

ALIVE_S = 10.0  # a pump silent this long is taken for dead: its records go back
RECOVER_EVERY_S = 5.0
WATCH_TRIES = 20


class Pump:
    """Moves the deployment's inbox into RQ: `start()` in a worker, `drain()` in burst mode."""

    def __init__(self, queues: Queues, name: str | None = None, batch: int = 100,
                 wait_s: float = 1.0, alive_s: float = ALIVE_S):
        self.queues = queues
        self.inbox = queues.inbox
        self.redis = queues.redis
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.batch = max(1, batch)
        self.wait_s = max(0.05, wait_s)
        self.alive_s = max(0.1, alive_s)
        self.taken_key = self.inbox.taken_key(self.name)
        self._take = self.redis.register_script(TAKE)
        self._give_back = self.redis.register_script(GIVE_BACK)
        self._holding = False  # a move failed: records may still sit in `taken`
        self._beaten = self._recovered = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # steps ------------------------------------------------------------------------------
    def beat(self) -> None:
        """Say this pump is alive (and may hold records)."""
        with self.redis.pipeline() as pipe:
            pipe.sadd(self.inbox.pumps_key, self.name)
            pipe.set(self.inbox.alive_key(self.name), 1, px=int(self.alive_s * 1000))
            pipe.execute()
        self._beaten = time.monotonic()

    def take(self, block_s: float = 0.0) -> list[bytes]:
        """Records for this pump: those it still holds, else up to `batch` new ones (waiting
        up to `block_s` for the first)."""
        if self._holding:
            held = list(self.redis.lrange(self.taken_key, 0, -1))
            if held:
                return held
            self._holding = False
        keys = [self.inbox.key, self.taken_key, self.inbox.taken_count_key]
        raws = list(self._take(keys=keys, args=[self.batch]))
        # wait for the first record without taking it: BLMOVE of the inbox's head onto
        # itself changes nothing, so a pump killed while waiting holds nothing uncounted
        if not raws and block_s > 0 and self.redis.blmove(
                self.inbox.key, self.inbox.key, block_s, "LEFT", "LEFT") is not None:
            raws = list(self._take(keys=keys, args=[self.batch]))
        return raws

    def move(self, raws: list[bytes]) -> int:
        """Create the jobs of records this pump took and drop the records, atomically.

        Returns how many jobs it created; records no longer in `taken` are left alone."""
        self._holding = True
        records = [(raw, _decoded(raw)) for raw in raws]
        job_keys = [self.queues.job_key(r.job) for _, r in records if r is not None]
        for _ in range(WATCH_TRIES):
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(self.taken_key, *job_keys)
                    with self.redis.pipeline(transaction=False) as look:
                        look.lrange(self.taken_key, 0, -1)
                        for key in job_keys:
                            look.exists(key)
                        held, *existing = look.execute()
                    held_now, exists = set(held), iter(existing)
                    pipe.multi()
                    created = removed = 0
                    for raw, record in records:
                        there = bool(next(exists)) if record is not None else False
                        if raw not in held_now:
                            continue  # given back while this pump looked dead
                        if record is None:
                            log.error("unreadable inbox record kept in %s: %r",
                                      self.inbox.unreadable_key, raw[:200])
                            pipe.rpush(self.inbox.unreadable_key, raw)
                        elif not there:
                            self.queues.enqueue_record(pipe, record)
                            created += 1
                        pipe.lrem(self.taken_key, 1, raw)
                        removed += 1
                    if removed:
                        pipe.decrby(self.inbox.taken_count_key, removed)
                    pipe.execute()
                except WatchError:
                    continue
            self._holding = False
            return created
        raise RuntimeError(f"inbox pump {self.name}: taken list kept changing")

    def recover(self) -> int:
        """Put the records of pumps that stopped beating back at the inbox's head."""
        self._recovered = time.monotonic()
        back = 0
        for name in self.inbox.pumps():
            if name == self.name:
                continue
            n = int(self._give_back(keys=self._give_back_keys(name), args=[name]))
            if n > 0:
                log.warning("inbox pump %s stopped holding %d records: back in the inbox",
                            name, n)
                back += n
        return back

    def _give_back_keys(self, name: str) -> list[str]:
        inbox = self.inbox
        return [inbox.taken_key(name), inbox.key, inbox.pumps_key, inbox.alive_key(name),
                inbox.taken_count_key]

    def run_once(self, block_s: float = 0.0) -> int:
        """One pass: beat and recover when due, take a batch, move it; jobs created."""
        now = time.monotonic()
        if now - self._beaten >= self.alive_s / 3:
            self.beat()
        if now - self._recovered >= RECOVER_EVERY_S:
            self.recover()
        raws = self.take(block_s)
        return self.move(raws) if raws else 0

    def drain(self) -> int:
        """Move everything waiting now, then retire (a burst worker, tests)."""
        self.beat()
        self.recover()
        created = 0
        try:
            while raws := self.take():
                created += self.move(raws)
        finally:
            self.retire()
        return created

    def retire(self) -> None:
        """Stop being a pump: whatever this one still holds goes back to the inbox now."""
        try:
            self.redis.delete(self.inbox.alive_key(self.name))
            self._give_back(keys=self._give_back_keys(self.name), args=[self.name])
        except Exception:  # noqa: BLE001 - shutting down; another pump recovers them later
            log.warning("inbox pump %s could not give its records back", self.name,
                        exc_info=True)

    # thread -----------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.run_once(self.wait_s)
                except Exception:  # noqa: BLE001 - a Redis blip must not end the pump
                    log.exception("inbox pump pass failed")
                    self._stop.wait(1.0)
        finally:
            self.retire()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="inbox-pump")
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _decoded(raw: bytes) -> Record | None:
    try:
        return Record.decode(raw)
    except (ValueError, KeyError, TypeError):
        return None
