"""A worker killed with SIGKILL in the middle of a watchdog's step (its task made, the step not
yet recorded) leaves exactly one task: the job comes back once the worker's alive key expires
(connector.liveness, ~10 s; its work-horse died with it), and the retry finds the task by its
tag. Slow by nature, so apart from tests/jobs/test_watchdogs.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from devstack.processes import ROOT, wait_for
from tests.conftest import Stack
from tests.jobs.test_watchdogs import (
    HOUR,
    STEPS,
    audit_of,
    configure,
    lead,
    portal_clock,
    tasks_of,
    work,
)


def test_a_worker_killed_mid_step_leaves_exactly_one_task(installed: Stack):
    s = installed
    configure(s, reaction=[{"id": "leads", "name": "Проверка лида", "entity": "lead",
                            "due_minutes": 60, "working_time": False, "steps": STEPS[:1]}])
    with portal_clock(s, -2 * HOUR):
        lead_id = lead(s, "Масло 40 т")
    work(s, 1)  # the lead's event: its timer is set, due an hour ago
    # the step's batch: the task is made, then its timeline note hangs until the kill
    s.control("POST", "faults", json={"method": "crm.timeline.comment.add", "latency_ms": 8000})
    s.settle()
    worker = subprocess.Popen([sys.executable, "-m", "wiring", "worker", "--burst"],
                              env=s.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: tasks_of(s, f"L_{lead_id}"), 20, 0.1, "the step's task")
        time.sleep(0.5)
        os.killpg(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(10)
    s.control("DELETE", "faults")
    assert audit_of(s, f"lead/{lead_id}") == []  # killed before the step was recorded

    def retried() -> bool:
        work(s, 1)
        return bool(audit_of(s, f"lead/{lead_id}"))

    wait_for(retried, 150, 5, "the killed step retried")
    assert len(tasks_of(s, f"L_{lead_id}")) == 1
    assert audit_of(s, f"lead/{lead_id}")[0][:2] == ("0", "done")
    # the killed attempt's note landed on the portal: it was found, not taken for a reaction
    # nor written again
    notes = [c for c in s.control("GET", "notifications")["timeline"]
             if int(c.get("ENTITY_ID") or 0) == lead_id
             and str(c.get("ENTITY_TYPE") or "").lower() == "lead"]
    assert len(notes) == 1, notes
