"""Offline events drained in the mode the plan allows (api-reference/events/offline-events.md)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.bitrix.offline import drain, mode_key, process_key
from tests.conftest import Stack
from tests.fixtures.docs import load

PREFIX = "cc"


@pytest.fixture
def portal(installed: Stack) -> dict[str, Any]:
    installed.rest("event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    return {"client": services.client(member_id), "redis": services.redis,
            "member_id": member_id}


def _leads(stack: Stack, n: int) -> None:
    for i in range(n):
        stack.control("POST", "crm/lead", json={"fields": {"TITLE": f"Offline {i}"}})


def _offline_gets(stack: Stack) -> list[dict]:
    return [c["params"] for c in stack.control("GET", "calls",
                                               params={"method": "event.offline.get"})]


def _drain(portal: dict[str, Any], seen: list[dict], **kw: Any) -> dict[str, Any]:
    def enqueue(record: dict) -> bool:
        seen.append(record)
        return record.get("EVENT_NAME") == "ONCRMLEADADD"

    return drain(portal["client"], portal["redis"], PREFIX, portal["member_id"], enqueue, **kw)


def test_with_the_feature_records_are_reserved_then_cleared(installed: Stack, portal):
    _leads(installed, 3)
    seen: list[dict] = []
    out = _drain(portal, seen)
    assert out["mode"] == "reserve" and out["queued"] >= 3
    assert {str(c.get("clear")) for c in _offline_gets(installed)} == {"0"}
    assert installed.portal()["offline_queue"] == 0
    features = installed.stats()["by_method"]["feature.get"]
    _leads(installed, 1)
    assert _drain(portal, [])["queued"] == 1
    assert installed.stats()["by_method"]["feature.get"] == features  # cached for an hour


def test_without_the_feature_the_queue_is_read_with_clear_1(installed: Stack, portal):
    installed.control("POST", "plan", json={"features": {"rest_offline_extended": False}})
    raw = installed.rest("event.offline.get", {"clear": 0})
    assert raw.json()["error"] == "WRONG_LICENSE"
    _leads(installed, 2)
    out = _drain(portal, [])
    assert out["mode"] == "clear" and out["queued"] >= 2
    # only the refused raw call above asked for clear=0; the drain itself used clear=1
    assert [str(c.get("clear")) for c in _offline_gets(installed)][1:] == ["1"]
    assert installed.portal()["offline_queue"] == 0


def test_a_plan_downgraded_within_the_hour_falls_back_to_clear(installed: Stack, portal):
    portal["redis"].set(mode_key(PREFIX, portal["member_id"]), "reserve")
    installed.control("POST", "plan", json={"features": {"rest_offline_extended": False}})
    _leads(installed, 2)
    out = _drain(portal, [])
    assert out["mode"] == "clear" and out["queued"] >= 2
    assert portal["redis"].get(mode_key(PREFIX, portal["member_id"])) == b"clear"


def test_a_crash_before_clearing_rereads_the_same_batch(installed: Stack, portal):
    _leads(installed, 2)

    def crash(record: dict) -> bool:
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        drain(portal["client"], portal["redis"], PREFIX, portal["member_id"], crash)
    pending = portal["redis"].get(process_key(PREFIX, portal["member_id"]))
    assert pending
    seen: list[dict] = []
    out = _drain(portal, seen)
    assert out["queued"] >= 2 and seen
    assert _offline_gets(installed)[-2]["process_id"] == pending.decode()
    assert installed.portal()["offline_queue"] == 0


def test_feature_get_answers_as_documented(installed: Stack):
    assert installed.rest("feature.get", {"CODE": "rest_offline_extended"}).json()[
        "result"] == {"value": "Y"}
    assert installed.rest("feature.get", {}).json() == load(
        "api-reference__common__system__feature-get.md__code-empty")
