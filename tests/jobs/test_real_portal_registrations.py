"""Duplicate registrations answer ERROR_CORE and count as bound; reconcile runs one at a time."""

from __future__ import annotations

import threading

from install.registrations import already_registered, reconcile
from tests.capabilities import ROBOTS
from tests.conftest import Stack


def test_duplicate_binds_are_error_core_and_already_registered(installed: Stack):
    services = installed.app.extensions["connector"]
    client = services.client(installed.portal()["member_id"])
    base = installed.app_url
    res = client.batch({
        "event": ("event.bind", {"event": "ONCRMDEALADD", "handler": f"{base}/events"}),
        "place": ("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB",
                                     "HANDLER": f"{base}/placements/deal_tab", "TITLE": "x"}),
        "robot": ("bizproc.robot.add", {"CODE": ROBOTS[0].code, "HANDLER": f"{base}/r",
                                        "NAME": "x"}),
        "wrong": ("event.bind", {"event": "ONNOSUCHEVENT", "handler": f"{base}/events"}),
    })
    assert res.errors["event"].code == "ERROR_CORE"
    assert res.errors["place"].code == "ERROR_CORE"
    assert all(already_registered(res.errors[k]) for k in ("event", "place", "robot"))
    assert not already_registered(res.errors["wrong"])


def test_the_deal_tab_takes_more_than_ten_handlers(installed: Stack):
    """No cap of 10 per placement: the docs state one only for single-registration points."""
    for i in range(12):
        r = installed.rest("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB",
                                              "HANDLER": f"{installed.app_url}/t{i}",
                                              "TITLE": f"t{i}"})
        assert r.json().get("result") is True, r.json()
    once = {"PLACEMENT": "REST_APP_URI", "HANDLER": f"{installed.app_url}/u", "TITLE": "u"}
    assert installed.rest("placement.bind", once).json()["result"] is True
    again = installed.rest("placement.bind", {**once, "HANDLER": f"{installed.app_url}/v"})
    assert again.json()["error"] == "ERROR_PLACEMENT_MAX_COUNT"


def test_two_reconciles_of_one_portal_run_one_after_the_other(installed: Stack):
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    installed.control("POST", "update", json={})  # an app update wipes the robots
    installed.control("POST", "faults", json={"method": "bizproc.robot.list",
                                              "latency_ms": 400})
    before = installed.stats()["by_method"].get("bizproc.robot.add", 0)
    outcomes = []

    def run() -> None:
        outcomes.append(reconcile(services.registry, services.client(member_id),
                                   installed.app_url, "1", True))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 2 and all(o.ok for o in outcomes), outcomes
    # the second run read what the first registered, so each robot was added once
    added = installed.stats()["by_method"]["bizproc.robot.add"] - before
    assert added == len(ROBOTS)
