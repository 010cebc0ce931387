"""bench.watchdogs at a small size: reminders on three emulated portals at their real limits,
in steady state and across a kill -9 of the workers and the web tier down, made once each."""

from __future__ import annotations

from bench.watchdogs import run


def test_reminders_are_neither_missed_nor_doubled_across_a_kill_and_an_outage():
    steady, faulted = run(45, 3, 10.0, 15.0, 2.0)
    for line in (steady, faulted):
        assert line["missed"] == 0 and line["duplicates"] == 0, line
        assert line["lateness_p99_s"] <= 60, line
    assert faulted["faults"]["worker_kill_at_s"] is not None, faulted
