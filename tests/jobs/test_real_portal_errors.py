"""The emulator answers missing items and denied reads exactly as the docs print them, and
the transport raises them typed (not as an unknown permanent failure)."""

from __future__ import annotations

import pytest

from connector.bitrix.errors import BitrixAccessDenied, BitrixNotFound, is_not_found
from tests.conftest import Stack
from tests.fixtures.docs import load


@pytest.fixture
def client(installed: Stack):
    return installed.app.extensions["connector"].client(installed.portal()["member_id"])


@pytest.mark.parametrize("entity", ["lead", "deal", "contact", "company"])
def test_missing_classic_item_is_the_documented_answer(installed: Stack, client, entity):
    raw = installed.rest(f"crm.{entity}.get", {"id": 987654})
    assert raw.status_code == 400
    assert raw.json() == load("api-reference__crm__leads__crm-lead-get.md__not-found")
    with pytest.raises(BitrixNotFound) as err:
        client.call(f"crm.{entity}.get", {"id": 987654})
    assert err.value.code == "" and is_not_found(err.value)


def test_missing_items_of_the_other_methods(installed: Stack, client):
    res = client.batch({
        "item": ("crm.item.get", {"entityTypeId": 2, "id": 987654}),
        "activity": ("crm.activity.get", {"id": 987654}),
        "file": ("disk.file.get", {"id": 987654}),
        "folder": ("disk.folder.get", {"id": 987654}),
        "update": ("crm.deal.update", {"id": 987654, "fields": {"TITLE": "x"}}),
    })
    assert set(res.errors) == {"item", "activity", "file", "folder", "update"}
    assert all(isinstance(e, BitrixNotFound) for e in res.errors.values()), res.errors
    assert res.errors["item"].code == "NOT_FOUND"
    assert res.errors["file"].code == "ERROR_NOT_FOUND"


def test_denied_deal_read_is_the_documented_answer(installed: Stack):
    installed.control("POST", "crm-access", json={"user_id": 3, "entity": "deal", "id": 1,
                                                  "read": False})
    token = installed.control("POST", "tokens", json={"user_id": 3})["access_token"]
    denied = installed.rest("crm.deal.get", {"id": 1}, token=token)
    assert denied.status_code == 400
    assert denied.json() == {"error": "", "error_description": "Access denied"}
    item = installed.rest("crm.item.get", {"entityTypeId": 2, "id": 1}, token=token).json()
    assert item["error"] == "ACCESS_DENIED"
    assert installed.rest("crm.deal.get", {"id": 2}, token=token).status_code == 200
    assert installed.rest("crm.deal.get", {"id": 1}).status_code == 200  # the admin may
    installed.control("POST", "crm-access", json={"user_id": 3, "entity": "deal", "id": 1,
                                                  "read": True})
    assert installed.rest("crm.deal.get", {"id": 1}, token=token).status_code == 200


def test_chat_members_only_for_members(installed: Stack, client):
    res = client.batch({"members": ("im.chat.user.list", {"CHAT_ID": 987654})})
    assert isinstance(res.errors["members"], BitrixAccessDenied)
    assert res.errors["members"].code == "ACCESS_ERROR"
