"""ONAPPUNINSTALL: O(1) on the request path, then a clean-up job with batched SCAN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from connector.bitrix.store import UNINSTALLED, Portal
from connector.queue import INBOUND, MAINTENANCE, job_id
from install.cleanup import purge_portal
from install.lifecycle import uninstall
from tests.bodies import body
from tests.conftest import Stack, wait_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# commands that read a whole list, set, sorted set or the keyspace
WALKS = {"scan", "keys", "lrange", "smembers", "sscan", "zrange", "zrangebyscore", "zscan"}


def services(stack: Stack):
    return stack.app.extensions["connector"]


def walks(redis: Redis) -> set[str]:
    """The walking commands Redis ran since the last CONFIG RESETSTAT."""
    stats = redis.info("commandstats")
    return {name for name in WALKS if stats.get(f"cmdstat_{name}", {}).get("calls")}


def queue_robot(stack: Stack, member_id: str, token: str) -> str:
    """A queued robot job as ingress makes it (same id scheme, same meta)."""
    return services(stack).queues.enqueue(
        "connector.jobs.run_inbound", ["robot", "timeline_note", member_id, {}],
        job_id("robot", member_id, token), member_id=member_id).job_id


def schedule_timer(stack: Stack, member_id: str, n: int) -> str:
    """A job waiting in the scheduled registry (a retry or a timer) for the portal."""
    jid = job_id("timer", member_id, n)
    services(stack).queues[MAINTENANCE].enqueue_at(
        datetime.now(UTC) + timedelta(hours=1), "connector.jobs.run_maintenance",
        args=["reconcile", member_id], job_id=jid, meta={"member_id": member_id})
    return jid


def exists(stack: Stack, jid: str) -> bool:
    return Job.exists(jid, connection=stack.redis)


def test_uninstall_refuses_the_token_at_once_and_walks_nothing(installed: Stack):
    member_id = installed.portal()["member_id"]
    app_token = installed.portal()["application_token"]
    s = services(installed)
    robot = queue_robot(installed, member_id, "before-uninstall")
    installed.redis.config_resetstat()
    installed.control("POST", "uninstall", json={"clean": True})
    installed.settle()
    assert walks(installed.redis) == set()
    assert s.store.get(member_id).status == UNINSTALLED
    assert s.store.get_tokens(member_id) is None
    assert not s.store.application_token_matches(member_id, app_token)
    resp = requests.post(f"{installed.app_url}/events", headers=FORM, data=body(
        "ONCRMDEALADD__basic", member_id=member_id, application_token=app_token), timeout=10)
    assert resp.status_code == 401
    # the clean-up is queued, not done: the robot job and the record are still there
    assert exists(installed, robot)
    assert s.queues[MAINTENANCE].count == 1
    installed.run_worker()
    assert not s.store.exists(member_id)
    assert installed.queued() == 0


def test_cleanup_removes_only_that_portals_jobs_and_keys(installed: Stack):
    member_id = installed.portal()["member_id"]
    s = services(installed)
    prefix = s.settings.queue_prefix
    # a neighbour whose member id contains ours: SCAN's glob matches its keys, we must not
    other = "0" + member_id
    s.store.save(Portal(member_id=other, domain="other.bitrix24.test"))
    s.portal_settings.put(other, {})
    installed.redis.set(f"{prefix}:journal:{other}", "keep")
    installed.redis.set(f"{prefix}:journal:{member_id}", "drop")
    ours = [queue_robot(installed, member_id, "t1"), schedule_timer(installed, member_id, 1)]
    theirs = [queue_robot(installed, other, "t1"), schedule_timer(installed, other, 1)]
    cleanup_job = uninstall(s, member_id, clean=True)
    uninstall(s, member_id, clean=True)  # a repeated delivery while queued: one clean-up
    assert s.queues[MAINTENANCE].get_job_ids() == [cleanup_job]

    outcome = purge_portal(s, member_id, clean=True)

    # ours: the robot, the timer, and the periodic slot jobs the install scheduled
    assert outcome["jobs"] >= 2 and outcome["keys"] >= 1
    assert not any(exists(installed, j) for j in ours)
    assert all(exists(installed, j) for j in theirs)
    assert s.queues[INBOUND].get_job_ids() == [theirs[0]]
    assert exists(installed, cleanup_job)  # a clean-up never purges another clean-up
    assert not s.store.exists(member_id)
    left = [k for k in installed.redis.scan_iter(f"{prefix}:*{member_id}*")
            if other.encode() not in k]
    assert left == []
    assert installed.redis.get(f"{prefix}:journal:{other}") == b"keep"
    assert s.store.get(other).domain == "other.bitrix24.test"
    assert s.store.member_ids() == [other]


def test_cleanup_keeps_a_portal_that_was_installed_again(installed: Stack):
    member_id = installed.portal()["member_id"]
    s = services(installed)
    s.portal_settings.put(member_id, {"general": {"language": "en"}})
    jid = job_id("robot", member_id, "t2")
    uninstall(s, member_id, clean=True)
    installed.install(event="after")  # the admin installs the app again at once
    wait_for(lambda: s.store.get_tokens(member_id))
    queue_robot(installed, member_id, "t2")

    assert purge_portal(s, member_id, clean=True) == {"skipped": "installed again"}
    assert s.store.get(member_id).status == "active"
    assert s.portal_settings.get(member_id)["general"]["language"] == "en"
    assert Job.fetch(jid, connection=installed.redis, serializer=JSONSerializer)
