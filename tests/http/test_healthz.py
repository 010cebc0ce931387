"""/healthz answers from counters and registry sizes, whatever the number of portals."""

from __future__ import annotations

import requests

from connector.bitrix.store import ACTIVE, NEEDS_REINSTALL, Portal
from connector.routes import REINSTALL_LISTED
from tests.conftest import Stack

WALKS = {"scan", "keys", "lrange", "smembers", "sscan", "zrange", "zrangebyscore", "zscan"}


def health(stack: Stack) -> dict:
    resp = requests.get(f"{stack.app_url}/healthz", timeout=5)
    assert resp.status_code == 200
    return resp.json()


def test_healthz_counts_without_walking_portals_or_jobs(installed: Stack):
    s = installed.app.extensions["connector"]
    at_risk = REINSTALL_LISTED + 5
    for n in range(at_risk):
        s.store.save(Portal(member_id=f"m{n:03}", domain=f"p{n}.bitrix24.test"))
        s.store.set_status(f"m{n:03}", NEEDS_REINSTALL, "refresh refused (invalid_grant)")
    for n in range(3):
        s.queues.enqueue("connector.jobs.run_maintenance", ["no_such_task", "m000"], f"bad-{n}",
                         queue="maintenance", member_id="m000", retry=False)
    installed.run_worker()  # three dead letters
    installed.redis.config_resetstat()

    body = health(installed)

    stats = installed.redis.info("commandstats")
    assert {c for c in WALKS if stats.get(f"cmdstat_{c}", {}).get("calls")} == set()
    assert body["portals"] == at_risk + 1
    assert body["failed_jobs"] == 3
    assert body["needs_reinstall_count"] == at_risk
    assert len(body["needs_reinstall"]) == REINSTALL_LISTED
    for row in body["needs_reinstall"]:
        n = int(row["member_id"][1:])
        assert row == {"member_id": f"m{n:03}", "domain": f"p{n}.bitrix24.test",
                       "reason": "refresh refused (invalid_grant)"}


def test_the_reinstall_index_follows_every_status_change(installed: Stack):
    s = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    s.store.set_status(member_id, NEEDS_REINSTALL, "refresh refused")
    assert [p["member_id"] for p in health(installed)["needs_reinstall"]] == [member_id]
    portal = s.store.get(member_id)
    portal.status = ACTIVE  # what a reinstall saves
    s.store.save(portal)
    assert health(installed)["needs_reinstall_count"] == 0
    s.store.set_status(member_id, NEEDS_REINSTALL, "refresh refused")
    s.store.delete(member_id)
    assert health(installed)["needs_reinstall_count"] == 0
