"""The request path's one Redis call (connector.inbox): dedup marker and inbox record
together, and nothing at all written for a duplicate. Real redis-server."""

from __future__ import annotations

from redis import Redis

from connector import queue as q
from connector.inbox import Record

PAYLOAD = {"event": "ONCRMDEALADD", "data": {"FIELDS": {"ID": "7"}},
           "auth": {"member_id": "m1", "domain": "a.bitrix24.test"}}


def calls(redis: Redis) -> dict[str, int]:
    """Commands the server ran since the last reset, by name."""
    stats = redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def snapshot(redis: Redis) -> dict[bytes, object]:
    """Every key with its value, to prove that nothing was written."""
    out: dict[bytes, object] = {}
    for key in redis.keys("*"):
        kind = redis.type(key)
        out[key] = redis.lrange(key, 0, -1) if kind == b"list" else redis.get(key)
    return out


def test_an_accepted_delivery_is_one_evalsha_that_sets_the_marker_and_appends(redis: Redis):
    queues = q.Queues(redis, "t", (0,))
    key = q.job_id("robot", "m1", "token-1")
    queues.admit("robot", "warm", "m1", {}, q.job_id("robot", "m1", "warm-up"))  # loads it
    redis.config_resetstat()

    res = queues.admit("robot", "timeline_note", "m1", PAYLOAD, key)

    # one EVALSHA, whose SET NX and RPUSH the server counts too; no other command
    assert calls(redis) == {"config|resetstat": 1, "evalsha": 1, "set": 1, "rpush": 1}
    assert res.created and res.job_id == key
    assert redis.get(queues.dedup_key(key)) == key.encode()
    assert 0 < redis.ttl(queues.dedup_key(key)) <= q.DEDUP_TTL_S
    record = Record.decode(redis.lrange(queues.inbox.key, 0, -1)[-1])
    assert (record.kind, record.name, record.member_id, record.job, record.dedup) == (
        "robot", "timeline_note", "m1", key, "")
    assert record.payload == PAYLOAD and record.at > 0


def test_a_duplicate_is_refused_before_anything_is_written(redis: Redis):
    queues = q.Queues(redis, "t", (0,))
    key = q.job_id("evt", "m1", "ONCRMDEALADD", "7")
    first = queues.admit("event", "ONCRMDEALADD", "m1", PAYLOAD, key, until_started=True)
    before = snapshot(redis)

    again = queues.admit("event", "ONCRMDEALADD", "m1", {**PAYLOAD, "ts": "2"}, key,
                         until_started=True)

    assert first.created and not again.created and again.job_id == key
    assert snapshot(redis) == before  # no second record, the marker still names the first
    assert redis.get(queues.dedup_key(key)) == first.job_id.encode()
    assert queues.depth()["t-inbound"] == 1


def test_waiting_counts_the_inbox_and_the_admin_pages_see_a_portals_records(redis: Redis):
    queues = q.Queues(redis, "t", (0,))
    for n in range(3):
        queues.admit("robot", "timeline_note", "m1", PAYLOAD, q.job_id("robot", "m1", n))
    queues.admit("robot", "timeline_note", "m2", PAYLOAD, q.job_id("robot", "m2", 0))
    assert queues.depth() == {"t-inbound": 4, "t-maintenance": 0, "t-documents": 0,
                              "t-files": 0}
    mine = queues.waiting_of("m1")
    assert sorted(v.id for v in mine) == sorted(q.job_id("robot", "m1", n) for n in range(3))
    assert {(v.func, v.queue, v.scheduled) for v in mine} == {
        ("connector.jobs.run_inbound", "t-inbound", False)}
    assert queues.inbox.health()["waiting"] == 4


def test_health_says_how_long_the_oldest_record_waited(redis: Redis):
    queues = q.Queues(redis, "t", (0,))
    assert queues.inbox.health() == {"ok": True, "waiting": 0, "oldest_s": 0.0}
    queues.admit("robot", "timeline_note", "m1", PAYLOAD, q.job_id("robot", "m1", 1))
    at = Record.decode(redis.lindex(queues.inbox.key, 0)).at
    assert queues.inbox.health(now=at + 5)["ok"]
    late = queues.inbox.health(now=at + 61)
    assert not late["ok"] and late["oldest_s"] == 61.0 and late["waiting"] == 1
