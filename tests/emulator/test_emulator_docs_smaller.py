"""Smaller documented details: scope errors, event auth, uninstall, frame query, event.get,
timeman ACTIVE. Each compares with the sample the docs print (tests/fixtures/docs)."""

from __future__ import annotations

import requests

from emulator import Emulator, EmulatorConfig, EmulatorServer
from tests.fixtures.docs import load


def test_insufficient_scope_is_403(emu_app_stub):
    server = EmulatorServer(Emulator(EmulatorConfig(app_url=emu_app_stub.url, scopes="crm")))
    server.start()
    try:
        tok = requests.post(f"{server.url}/_emulator/tokens", json={}).json()
        r = requests.post(f"{server.url}/rest/timeman.status",
                          json={"auth": tok["access_token"]}, timeout=10)
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    finally:
        server.stop()


def test_an_event_carries_its_own_scope(emu_url, emu_call, emu_app_stub):
    assert emu_call("event.bind", {"event": "ONCRMDEALADD",
                                   "handler": f"{emu_app_stub.url}/events"}).json()["result"]
    emu_call("crm.deal.add", {"fields": {"TITLE": "Scoped"}})
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMDEALADD")
    doc = load("api-reference__events__index.md__event-to-app")
    assert ev["form"]["auth"]["scope"] == doc["auth"]["scope"] == "crm"
    assert set(doc["auth"]) <= set(ev["form"]["auth"])


def test_uninstall_auth_has_exactly_the_documented_keys(emu_url, emu_call, emu_app_stub):
    requests.post(f"{emu_url}/_emulator/install", json={"event": "none"})
    requests.post(f"{emu_url}/_emulator/uninstall", json={})
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONAPPUNINSTALL")
    doc = load("api-reference__common__events__on-app-uninstall.md__event")
    assert set(ev["form"]["auth"]) == set(doc["auth"])  # no status, no token


def test_the_installer_frame_says_https(emu_url, emu_app_stub):
    requests.post(f"{emu_url}/_emulator/install", json={"event": "none"})
    page = emu_app_stub.wait_for(lambda r: r["path"] == "/install")
    assert page["query"]["PROTOCOL"] == "1"


def test_event_get_offline_bindings_name_their_connector(emu_call, emu_app_stub):
    emu_call("event.bind", {"event": "ONCRMLEADADD", "handler": f"{emu_app_stub.url}/events"})
    emu_call("event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    online, offline = emu_call("event.get").json()["result"]
    assert set(online) == set(load("api-reference__events__event-get.md__result")["result"][0])
    assert offline["offline"] == 1 and offline["connector_id"] == ""


def test_timeman_active_means_confirmed_not_working(emu_url, emu_call):
    doc = load("api-reference__timeman__base__timeman-status.md__result")["result"]
    requests.post(f"{emu_url}/_emulator/timeman", json={"user_id": 3, "status": "CLOSED"})
    closed = emu_call("timeman.status", {"USER_ID": 3}).json()["result"]
    assert closed["STATUS"] == "CLOSED" and closed["ACTIVE"] is True
    requests.post(f"{emu_url}/_emulator/timeman",
                  json={"user_id": 3, "status": "OPENED", "active": False})
    waiting = emu_call("timeman.status", {"USER_ID": 3}).json()["result"]
    assert waiting["STATUS"] == "OPENED" and waiting["ACTIVE"] is False
    assert isinstance(doc["ACTIVE"], bool)
