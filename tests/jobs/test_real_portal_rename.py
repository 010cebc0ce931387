"""A renamed portal (settings/how-to-call-rest-api/change-domen.md): the old address answers
302, the transport re-sends the POST to the new one and stores it; refreshes keep it too."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from connector.bitrix.rest import moved_endpoint
from tests.conftest import Stack


def test_the_old_address_answers_302_to_the_new_one(installed: Stack):
    token = installed.control("POST", "tokens", json={})["access_token"]
    moved = installed.control("POST", "rename", json={"domain": "renamed.bitrix24.test"})
    old = requests.post(f"{installed.emu_url}/rest/profile.json", json={"auth": token},
                        allow_redirects=False, timeout=10)
    assert old.status_code == 302
    assert old.headers["Location"] == moved["client_endpoint"] + "profile.json"
    again = requests.post(old.headers["Location"], json={"auth": token}, timeout=10)
    assert again.status_code == 200 and again.json()["result"]["ID"]


def test_the_transport_follows_the_rename_and_stores_it(installed: Stack):
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    client = services.client(member_id)
    moved = installed.control("POST", "rename", json={"domain": "renamed.bitrix24.test"})
    deal = client.call("crm.deal.add", {"fields": {"TITLE": "after the rename"}})
    token = installed.control("POST", "tokens", json={})["access_token"]
    got = requests.post(moved["client_endpoint"] + "crm.deal.get.json",
                        json={"id": deal, "auth": token}, timeout=10).json()
    assert got["result"]["TITLE"] == "after the rename"  # the POST body reached the new host
    portal = services.store.get(member_id)
    assert portal.client_endpoint == moved["client_endpoint"]
    assert portal.domain == urlsplit(moved["client_endpoint"]).netloc
    assert client.endpoint == moved["client_endpoint"]
    log = installed.control("GET", "log", params={"since": 0})
    assert [e["status"] for e in log if e["status"] == 302] == [302]
    assert services.client(member_id).call("profile")["ID"]  # no redirect any more
    assert len([e for e in installed.control("GET", "log", params={"since": 0})
                if e["status"] == 302]) == 1


def test_a_refresh_answer_moves_the_stored_endpoint(installed: Stack):
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    moved = installed.control("POST", "rename", json={"domain": "renamed.bitrix24.test"})
    services.tokens.refresh(member_id, services.store.get_tokens(member_id))
    assert services.store.get(member_id).client_endpoint == moved["client_endpoint"]


def _answer(status: int, location: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers["Location"] = location
    return resp


@pytest.mark.parametrize(("status", "location", "new"), [
    (302, "https://new.bitrix24.ru/rest/profile.json", "https://new.bitrix24.ru/rest/"),
    (301, "https://new.bitrix24.ru/rest/profile.json?x=1", "https://new.bitrix24.ru/rest/"),
    (302, "https://new.bitrix24.ru/auth/?backurl=/rest/profile.json", None),  # a login page
    (302, "https://old.bitrix24.ru/rest/other.json", None),
    (302, "/rest/profile.json", None),  # same host
    (302, "http://new.bitrix24.ru/rest/profile.json", None),  # https to http: no
    (303, "https://new.bitrix24.ru/rest/profile.json", None),  # POST would become GET
    (200, "https://new.bitrix24.ru/rest/profile.json", None),
])
def test_only_a_move_to_the_same_path_on_another_host_is_followed(status, location, new):
    url = "https://old.bitrix24.ru/rest/profile.json"
    assert moved_endpoint(url, "https://old.bitrix24.ru/rest/", _answer(status, location)) == new

