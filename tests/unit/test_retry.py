"""One layer of in-process retries, Retry-After honoured in the call and by the job's retry."""

from __future__ import annotations

import time
from email.utils import formatdate

from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from connector import queue as q
from connector.errors import Retryable
from connector.retry import RetryPolicy, retry_after_s


class SlowDown(Retryable):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"come back in {seconds} s")
        self.retry_after_s = seconds


def ask_to_wait(seconds: float) -> None:
    """A job whose server answered "Retry-After: seconds"."""
    raise SlowDown(seconds)


def test_retry_after_wins_over_the_backoff_up_to_its_cap():
    policy = RetryPolicy(max_retries=3, backoff_s=1.0, max_backoff_s=4.0, max_wait_s=30.0)
    assert [policy.wait(n) for n in range(4)] == [1.0, 2.0, 4.0, None]
    assert policy.wait(0, retry_after=7.0) == 7.0
    assert policy.wait(2, retry_after=0.0) == 0.0
    assert policy.wait(0, retry_after=31.0) is None  # longer: the job's retry waits instead
    assert policy.wait(3, retry_after=1.0) is None


def test_retry_after_header_forms():
    now = time.time()
    assert retry_after_s("120") == 120.0
    assert retry_after_s(b" 5 ") == 5.0
    assert abs(retry_after_s(formatdate(now + 90, usegmt=True), now=now) - 90) < 1.5
    assert retry_after_s(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None


def test_the_job_retry_waits_at_least_the_retry_after(redis):
    queues = q.Queues(redis, "t", (1, 1))
    jid = queues.enqueue("tests.unit.test_retry.ask_to_wait", [45], "slow-1").job_id
    asked = time.time()
    SimpleWorker([queues[q.INBOUND]], connection=redis,
                 serializer=JSONSerializer).work(burst=True)
    registry = ScheduledJobRegistry(queue=queues[q.INBOUND])
    assert jid in registry.get_job_ids()
    assert redis.zscore(registry.key, jid) >= asked + 44  # not the 1 s interval
    other = queues.enqueue("tests.unit.test_retry.ask_to_wait", [0], "slow-2").job_id
    SimpleWorker([queues[q.INBOUND]], connection=redis,
                 serializer=JSONSerializer).work(burst=True)
    assert redis.zscore(registry.key, other) <= time.time() + 2  # nothing asked: 1 s
