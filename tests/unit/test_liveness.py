"""Alive keys, the judgement of dead workers, and locks that die with their worker (real Redis)."""

from __future__ import annotations

import time

import pytest
from redis import Redis

from connector import liveness
from connector.liveness import Liveness, LockingRedis, alive_key, beaters_key, gone


def test_a_worker_that_stops_beating_is_gone_and_one_that_never_beat_is_not_judged(redis):
    quick = Liveness(redis, "t", every_s=0.05, ttl_ms=300)
    quick.start("w-quick")
    try:
        time.sleep(0.5)  # beats keep the 300 ms key alive
        assert gone(redis, "t", ["w-quick", "w-never"]) == set()
    finally:
        quick._stop.set()  # killed: no clean exit, the key just expires
        quick._thread.join(2)
    time.sleep(0.4)
    assert gone(redis, "t", ["w-quick", "w-never"]) == {"w-quick"}
    liveness.forget(redis, "t", ["w-quick"])
    assert gone(redis, "t", ["w-quick"]) == set()


def test_a_clean_exit_leaves_at_once(redis):
    beat = Liveness(redis, "t")
    beat.start("w-clean")
    assert redis.exists(alive_key("t", "w-clean"))
    beat.stop()
    assert not redis.exists(alive_key("t", "w-clean"))
    assert not redis.sismember(beaters_key("t"), "w-clean")
    assert gone(redis, "t", ["w-clean"]) == set()  # left, not dead: nothing to retry


def test_a_lock_of_a_dead_worker_is_broken_and_of_a_live_one_kept(redis_url: str, redis: Redis):
    client = LockingRedis.from_url(redis_url)
    me = Liveness(client, "t")
    me.start("w-me")
    try:
        redis.set("t:lock:dead", "w-dead|0123", px=120_000)  # its holder was killed with -9
        redis.sadd(beaters_key("t"), "w-dead")
        redis.set("t:lock:live", "w-live|4567", px=120_000)
        redis.sadd(beaters_key("t"), "w-live")
        redis.set(alive_key("t", "w-live"), 1, px=60_000)
        started = time.monotonic()
        broken = client.lock("t:lock:dead", timeout=120, blocking_timeout=5)
        assert broken.acquire() and time.monotonic() - started < 1.0
        assert redis.get("t:lock:dead").startswith(b"w-me|")  # it names its new holder
        broken.release()
        kept = client.lock("t:lock:live", timeout=120, blocking_timeout=1.5)
        assert not kept.acquire()
        assert redis.get("t:lock:live") == b"w-live|4567"
    finally:
        me.stop()
        client.close()


def test_a_lock_of_a_run_that_ended_is_broken_though_its_worker_lives(
        redis_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch):
    """A horse that died while Redis was away leaves its lock behind a worker that lives on:
    its job was handed back (not "started"), or it is the very job now retried."""
    client = LockingRedis.from_url(redis_url)
    me = Liveness(client, "t")
    me.start("w-me")
    redis.set(alive_key("t", "w-other"), 1, px=60_000)
    redis.sadd(beaters_key("t"), "w-other")
    try:
        for job, status in (("j-running", b"started"), ("j-handed-back", b"scheduled")):
            redis.hset(f"rq:job:{job}", "status", status)
            redis.set(f"t:lock:{job}", f"w-other|{job}|4242|abcd", px=120_000)
        kept = client.lock("t:lock:j-running", timeout=120, blocking_timeout=1.5)
        assert not kept.acquire()
        broken = client.lock("t:lock:j-handed-back", timeout=120, blocking_timeout=5)
        assert broken.acquire()
        broken.release()
        # the retry of j-running itself (another horse) breaks what its first run left
        monkeypatch.setattr(liveness, "_current_job", lambda: "j-running")
        retry = client.lock("t:lock:j-running", timeout=120, blocking_timeout=5)
        started = time.monotonic()
        assert retry.acquire() and time.monotonic() - started < 1.5
        assert redis.get("t:lock:j-running").startswith(b"w-me|j-running|")
        retry.release()
    finally:
        me.stop()
        client.close()
