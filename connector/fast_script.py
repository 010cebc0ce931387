"""A Lua script called over the calling thread's own Redis connection (the request path).

Through redis-py's pool a command costs three times the round trip's own CPU: a lock, a poll
of the socket, metrics bookkeeping and the retry wrapper, on every call. The ingress makes
one call per request, so it sends EVALSHA on a connection each thread keeps (made with the
pool's own settings) and reads the answer. A connection error drops that connection and
tries once more on a new one; NOSCRIPT (a restarted or flushed Redis) loads the script.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError


class FastScript:
    """`script(keys, args)` → the script's reply; safe from any number of threads."""

    def __init__(self, redis: Redis, source: str):
        pool = redis.connection_pool
        self._make = lambda: pool.connection_class(**pool.connection_kwargs)
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._local = threading.local()

    def _connection(self) -> AbstractConnection:
        """This thread's connection; a forked child makes its own."""
        pid, conn = getattr(self._local, "conn", (0, None))
        if conn is None or pid != os.getpid():
            conn = self._make()
            self._local.conn = (os.getpid(), conn)
        return conn

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        for last in (False, True):
            conn = self._connection()
            try:
                return self._call(conn, keys, args)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                conn.disconnect()
                self._local.conn = (0, None)
                if last:
                    raise
        raise AssertionError("unreachable")

    def _call(self, conn: AbstractConnection, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            conn.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
            return conn.read_response()
        except NoScriptError:  # Redis restarted or its scripts were flushed
            conn.send_command("SCRIPT", "LOAD", self.source)
            conn.read_response()
            conn.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
            return conn.read_response()
