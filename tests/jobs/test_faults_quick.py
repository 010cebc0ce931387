"""The fault suite's quick part (bench/faults.py at small sizes): real redis-server,
gunicorn, the emulator and workers on loopback, counted from what the portal holds.
The long part, kill -9 and the storms included, is `python -m bench.faults`."""

from __future__ import annotations

from bench.faults import concurrent_first_deals, redis_restart


def test_first_deals_at_once_lose_and_double_nothing():
    line = concurrent_first_deals(deals=8, workers=3)
    assert (line["sent"], line["completed"]) == (8, 8), line
    assert line["lost"] == 0 and line["duplicated"] == 0, line
    assert line["http_5xx"] == 0, line


def test_a_redis_restart_loses_no_timer_and_no_job():
    line = redis_restart(timers=10, deals=2, down_s=3.0)
    assert line["sent"] == 12 and line["completed"] == 12, line
    assert line["lost"] == 0 and line["duplicated"] == 0, line
    assert line["recovery_s"] < 30, line
