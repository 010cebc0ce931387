"""Portal-wide set-up made once, however many workers need it at the same moment.

A deal field, a parent folder or a group's chat is shared by every job of a portal. Checking
for it and then creating it is a race: two workers both see nothing and both create (or the
second is refused, "already exists"). `once` closes it: a fast path that reads what is
remembered, then a per-portal Redis lock, a second read under the lock (the winner of the race
has stored its result by then), and only then the creation, which stores what it made before
the lock is released.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from redis.exceptions import LockError

from connector.errors import Retryable

T = TypeVar("T")
WAIT_S = 120  # a creation may wait on the portal's rate limit: longer than any such wait


def once(redis: Any, lock_key: str, read: Callable[[], T | None], make: Callable[[], T],
         wait_s: float = WAIT_S) -> T:
    """`read()` when it knows the thing, else `make()` (which stores it) under `lock_key`."""
    if hit := read():
        return hit
    lock = redis.lock(lock_key, timeout=wait_s, blocking_timeout=wait_s)
    if not lock.acquire():
        raise Retryable(f"{lock_key}: another worker is still setting it up")
    try:
        if hit := read():  # the worker that held the lock made it meanwhile
            return hit
        return make()
    finally:
        with suppress(LockError):  # the lock expired: the work is done all the same
            lock.release()
