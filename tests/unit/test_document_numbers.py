"""Document numbers: gapless, never doubled, nothing consumed by a failure (real Redis)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from redis import Redis

from connector.errors import Retryable
from connector.liveness import LockingRedis
from robots.documents.numbers import (
    Numbers,
    PatternInvalid,
    Sequence,
    check_pattern,
    format_number,
    period_of,
)

SEQ = Sequence("contract", 7, "2026")


def numbers(client: Redis) -> Numbers:
    return Numbers(client, lambda *parts: "t:documents:" + ":".join(parts))


def test_patterns_and_periods():
    day = date(2026, 11, 22)
    assert format_number("Д-{YYYY}-{NNNNN}", 42, day) == "Д-2026-00042"
    assert format_number("{N}/{MM}-{YY}", 7, day) == "7/11-26"
    assert format_number("АКТ-{DD}.{MM}.{YYYY}-{NNN}", 1234, day) == "АКТ-22.11.2026-1234"
    assert [period_of(r, day) for r in ("never", "year", "month")] == ["", "2026", "2026-11"]
    for bad in ("Д-{YYYY}", "{N}-{N}", "{N}-{X}", "{N}-}", "{" + "N" * 13 + "}"):
        with pytest.raises(PatternInvalid):
            check_pattern(bad)
    assert check_pattern("Д-{YYYY}-{NNNNN}") == "Д-{YYYY}-{NNNNN}"


def test_a_failure_consumes_no_number_and_a_commit_moves_on(redis: Redis):
    nums = numbers(redis)
    with pytest.raises(RuntimeError, match="upload failed"), nums.taking(SEQ) as taking:
        assert taking.n == 1
        raise RuntimeError("upload failed")
    with nums.taking(SEQ) as taking:
        assert taking.n == 1
        taking.commit()
    with nums.taking(SEQ) as taking:
        assert taking.n == 2  # left without a commit: 2 is still free
    assert nums.last(SEQ) == 1
    other = Sequence("contract", 8, "2026")  # another legal entity counts on its own
    with nums.taking(other) as taking:
        assert taking.n == 1


def test_a_restored_counter_is_seeded_from_what_the_registry_holds(redis: Redis):
    nums = numbers(redis)
    nums.seed(SEQ, 41)
    nums.seed(SEQ, 12)  # never lowers it
    with nums.taking(SEQ) as taking:
        assert taking.n == 42


def test_two_hundred_concurrent_requests_get_distinct_gapless_numbers(redis_url: str):
    """Each request takes its number, 'makes' the document (one in ten fails and is asked
    again), commits: 200 documents, numbers 1..200, each once."""
    client = LockingRedis.from_url(redis_url, max_connections=256)  # a connection a request
    client.flushall()
    nums = numbers(client)
    made: list[int] = []
    guard = threading.Lock()
    failures = [0]

    def request(i: int) -> None:
        while True:
            try:
                with nums.taking(SEQ, wait_s=60) as taking:
                    if i % 10 == 0 and failures[0] < 20 and taking.n % 3 == 0:
                        failures[0] += 1
                        raise OSError("the portal did not answer")
                    taking.commit()
                    with guard:
                        made.append(taking.n)
                    return
            except (OSError, Retryable):
                continue  # the job's retry (a failed upload; the sequence busy too long)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(200)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert sorted(made) == list(range(1, 201))
    assert failures[0] > 0
    client.close()
