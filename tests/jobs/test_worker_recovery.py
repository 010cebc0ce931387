"""A worker killed with -9 mid-job: its job runs again on another worker within seconds.

Real processes: two long-lived `crm-connector worker`s on the test Redis, the emulator
holding the job inside a slow REST call when the first worker and its work-horse are killed.
The bound asserted here is generous; `python -m bench.faults --only worker_kill` prints the
figure itself.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from bench.procs import kill_tree, tree_pids
from connector import liveness
from connector.queue import Queues
from devstack.processes import ROOT, wait_for
from tests.conftest import Stack
from tests.jobs.test_deal_workspace import chats_of, enable, new_deal

RECOVERY_BOUND_S = 45.0


def worker(stack: Stack, name: str, logs: Path) -> subprocess.Popen[bytes]:
    with open(logs / f"{name}.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "wiring", "worker", "--name", name,
                                 "--sweep-check-every", "3600"],
                                env={**stack.env, "LOG_LEVEL": "INFO"}, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def queues(stack: Stack) -> Queues:
    return stack.app.extensions["connector"].queues


def held_by(redis: Redis, stack: Stack, name: str) -> list[str]:
    """Entries of the started registries whose execution belongs to worker `name`."""
    held = []
    for q in queues(stack).queues.values():
        for entry in redis.zrange(StartedJobRegistry(queue=q).key, 0, -1):
            job, execution = entry.decode().split(":", 1)
            owner = redis.hget(f"rq:execution:{job}:{execution}", "worker_name")
            if owner and owner.decode() == name:
                held.append(job)
    return held


def status(redis: Redis, jid: str) -> str:
    raw = redis.hget(Job.key_for(jid), "status")
    return raw.decode() if raw else ""


def named(node: dict, name: str) -> int:
    """Folders called `name` in a disk tree (the control API's, no REST budget spent)."""
    here = 1 if node.get("type") == "folder" and node.get("name") == name else 0
    return here + sum(named(child, name) for child in node.get("children") or ())


def workspace_of(stack: Stack, deal_id: int, title: str) -> tuple[int, int]:
    """(folders, chats) the portal holds for the deal."""
    folders = sum(named(storage["tree"], f"{deal_id} {title}")
                  for storage in stack.control("GET", "disk/tree")["storages"])
    return folders, len(chats_of(stack, deal_id))


def test_a_job_of_a_killed_worker_completes_on_another_worker(installed: Stack, redis: Redis,
                                                               tmp_path: Path):
    s = installed
    enable(s)
    s.control("POST", "faults", json={"method": "im.chat.add", "latency_ms": 6000})
    title = "Killed mid-job"
    deal_id = new_deal(s, title)
    s.settle()
    victim = worker(s, "victim", tmp_path)
    rescuer = None
    try:
        wait_for(lambda: held_by(redis, s, "victim"), 30, 0.05, "the victim inside a job")
        time.sleep(1.0)  # inside the slow im.chat.add of the set-up's write batch
        held = held_by(redis, s, "victim")
        assert held and len(tree_pids(victim.pid)) > 1, "no work-horse to kill"
        kill_tree(victim.pid)
        victim.wait(10)
        killed_at = time.monotonic()
        s.control("DELETE", "faults")
        rescuer = worker(s, "rescuer", tmp_path)
        wait_for(lambda: all(status(redis, jid) == "finished" for jid in held), 90, 0.1,
                 "the killed worker's job finished elsewhere")
        recovery_s = time.monotonic() - killed_at
        assert recovery_s < RECOVERY_BOUND_S, recovery_s
        # the chat the killed batch made is found through the deal, not made again
        assert workspace_of(s, deal_id, title) == (1, 1)
        for jid in held:
            job = Job.fetch(jid, connection=redis, serializer=JSONSerializer)
            assert job.worker_name == "rescuer", jid
        assert liveness.gone(redis, queues(s).prefix, ["victim", "rescuer"]) == {"victim"}
    except Exception:
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name} ---\n" + log.read_text(errors="replace")[-6000:])
        raise
    finally:
        for w in (victim, rescuer):
            if w is not None and w.poll() is None:
                w.terminate()
                w.wait(20)
