"""Deal folders and deal chats end to end: exactly one of each, whatever happens."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from tests.bodies import body
from tests.conftest import Stack, wait_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def enable(stack: Stack, folders: dict | None = None, chats: dict | None = None) -> None:
    doc = {"deal_folders": {"enabled": True, **(folders or {})},
           "deal_chats": {"enabled": True, **(chats or {})}}
    stack.app.extensions["connector"].portal_settings.put(stack.portal()["member_id"], doc)


def new_deal(stack: Stack, title: str = "Sofa for the lobby", **fields: object) -> int:
    res = stack.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "OPPORTUNITY": 125000, "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": 3,
        **fields}})
    return int(res["id"])


def deal(stack: Stack, deal_id: int) -> dict:
    return stack.rest("crm.deal.get", {"id": deal_id}).json()["result"]


def chats_of(stack: Stack, deal_id: int) -> list[dict]:
    data = stack.control("GET", "chats")
    chats = data.get("chats", data) if isinstance(data, dict) else data
    return [c for c in chats if str(c.get("ENTITY_ID")) == f"DEAL|{deal_id}"]


def folders_named(stack: Stack, name: str) -> list[dict]:
    """Folders of that name in Deals/<year> of the common storage, read over REST."""
    token = stack.control("POST", "tokens", json={})["access_token"]

    def call(method: str, params: dict) -> object:
        return stack.rest(method, params, token=token).json()["result"]

    root = call("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "common"}})[0]
    folder_id = int(root["ROOT_OBJECT_ID"])
    for segment in ("Deals", str(datetime.now().year)):
        rows = call("disk.folder.getchildren", {"id": folder_id, "filter": {"NAME": segment}})
        if not rows:
            return []
        folder_id = int(rows[0]["ID"])
    rows = call("disk.folder.getchildren", {"id": folder_id, "filter": {"NAME": name}})
    return [r for r in rows if r.get("NAME") == name and r.get("TYPE") == "folder"]


@pytest.fixture
def ws(installed: Stack) -> Stack:
    enable(installed)
    return installed


def test_new_deal_gets_one_folder_with_link_and_one_chat(ws: Stack):
    deal_id = new_deal(ws)
    ws.run_worker()
    d = deal(ws, deal_id)
    assert "/docs/" in str(d["UF_CRM_CC_FOLDER"]) or str(d["UF_CRM_CC_FOLDER"]).startswith("http")
    assert len(folders_named(ws, f"{deal_id} Sofa for the lobby")) == 1
    (chat,) = chats_of(ws, deal_id)
    assert int(d["UF_CRM_CC_CHAT"]) == int(chat["ID"])
    first = chat["messages"][0]["MESSAGE"]
    assert "Sofa for the lobby" in first
    # the amount in the portal's local format, the default text in the portal's language
    assert ("125 000,00 ₽" in first and "Сумма" in first) or (
        "RUB125,000.00" in first and "Amount" in first), first
    assert f"/crm/deal/details/{deal_id}/" in first
    assert 3 in [int(u) for u in chat.get("USERS", chat.get("users", []))]


def test_three_deliveries_and_three_workers_still_make_one_of_each(ws: Stack):
    ws.control("POST", "limits", json={"enabled": False})
    deal_id = new_deal(ws)
    member_id, token = ws.portal()["member_id"], ws.portal()["application_token"]
    for i in range(3):  # the same change delivered again (different delivery timestamps)
        requests.post(f"{ws.app_url}/events", headers=FORM, timeout=10, data=body(
            "ONCRMDEALADD__basic", member_id=member_id, application_token=token, id=deal_id,
            ts=int(time.time()) + i + 1))
    for w in ws.start_workers(3):
        w.wait(timeout=60)
    assert len(folders_named(ws, f"{deal_id} Sofa for the lobby")) == 1
    assert len(chats_of(ws, deal_id)) == 1


def test_a_run_killed_before_it_recorded_anything_reuses_what_it_made(ws: Stack):
    deal_id = new_deal(ws)
    ws.run_worker()
    services = ws.app.extensions["connector"]
    prefix = services.settings.queue_prefix
    records = list(ws.redis.scan_iter(f"{prefix}:deal_workspace:*:deal:{deal_id}"))
    assert len(records) == 1
    ws.redis.delete(*records)  # as if the worker died right after the portal did the work
    res = ws.control("POST", "robots/run", json={
        "code": "create_deal_folder", "document_id": ["crm", "CCrmDocumentDeal",
                                                      f"DEAL_{deal_id}"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"], "properties": {}})
    res2 = ws.control("POST", "robots/run", json={
        "code": "create_deal_chat", "document_id": ["crm", "CCrmDocumentDeal",
                                                    f"DEAL_{deal_id}"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"], "properties": {}})
    ws.run_worker()
    folder_answer = ws.control("GET", "robots/results",
                               params={"event_token": res["event_token"]})["calls"]
    chat_answer = ws.control("GET", "robots/results",
                             params={"event_token": res2["event_token"]})["calls"]
    now = deal(ws, deal_id)
    assert folder_answer[0]["RETURN_VALUES"]["folder_url"] == now["UF_CRM_CC_FOLDER"]
    assert int(chat_answer[0]["RETURN_VALUES"]["chat_id"]) == int(now["UF_CRM_CC_CHAT"])
    assert len(folders_named(ws, f"{deal_id} Sofa for the lobby")) == 1
    assert len(chats_of(ws, deal_id)) == 1


def test_an_existing_folder_of_that_name_is_reused(installed: Stack):
    enable(installed, chats={"enabled": False}, folders={"link_field": "COMMENTS"})
    deal_id = new_deal(installed, "Kitchen")
    installed.run_worker()
    url = str(deal(installed, deal_id)["COMMENTS"])
    services = installed.app.extensions["connector"]
    prefix = services.settings.queue_prefix
    records = list(installed.redis.scan_iter(f"{prefix}:deal_workspace:*:deal:*"))
    assert records
    installed.redis.delete(*records)
    res = installed.control("POST", "robots/run", json={
        "code": "create_deal_folder", "document_id": ["crm", "CCrmDocumentDeal",
                                                      f"DEAL_{deal_id}"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"], "properties": {}})
    installed.run_worker()
    values = installed.control("GET", "robots/results",
                               params={"event_token": res["event_token"]})["calls"][0]
    assert values["RETURN_VALUES"]["error"] == ""
    assert len(folders_named(installed, f"{deal_id} Kitchen")) == 1
    assert str(deal(installed, deal_id)["COMMENTS"]).count("Deal folder:") == 1
    assert url.count("Deal folder:") == 1


@pytest.mark.parametrize("title,expected", [
    ("a" * 2000, None), ("////", "{id}"), ('Sofa: "red" <2 pcs>?', "{id} Sofa red 2 pcs")])
def test_awkward_titles_still_make_valid_names(installed: Stack, title: str, expected: str | None):
    enable(installed, chats={"enabled": False})
    deal_id = new_deal(installed, title)
    installed.run_worker()
    assert deal(installed, deal_id)["UF_CRM_CC_FOLDER"]
    if expected:
        assert len(folders_named(installed, expected.format(id=deal_id))) == 1
    assert installed.app.extensions["connector"].queues.failed() == []


def test_deleted_deal_and_missing_storage_get_clear_answers(installed: Stack):
    enable(installed, folders={"storage": 99999}, chats={"enabled": False})
    deal_id = new_deal(installed)
    installed.run_worker()  # the automatic run fails for good: parked with the reason
    failed = installed.app.extensions["connector"].queues.failed()
    assert len(failed) == 1
    res = installed.control("POST", "robots/run", json={
        "code": "create_deal_folder", "document_id": ["crm", "CCrmDocumentDeal",
                                                      f"DEAL_{deal_id}"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"], "properties": {}})
    gone = installed.control("POST", "robots/run", json={
        "code": "create_deal_chat", "document_id": ["crm", "CCrmDocumentDeal", "DEAL_987654"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"], "properties": {}})
    installed.run_worker()
    err = installed.control("GET", "robots/results",
                            params={"event_token": res["event_token"]})["calls"][0]
    assert "deal_folders.storage" in err["RETURN_VALUES"]["error"]
    err2 = installed.control("GET", "robots/results",
                             params={"event_token": gone["event_token"]})["calls"][0]
    assert "not found" in err2["RETURN_VALUES"]["error"]


def test_chat_members_follow_the_deal(installed: Stack):
    enable(installed, folders={"enabled": False}, chats={"remove_departed": True})
    deal_id = new_deal(installed)
    installed.run_worker()
    (chat,) = chats_of(installed, deal_id)
    installed.control("POST", f"crm/deal/{deal_id}", json={"fields": {"ASSIGNED_BY_ID": 4}})
    wait_for(lambda: installed.queued() >= 1)  # the ONCRMDEALUPDATE delivery is asynchronous
    installed.run_worker()
    (chat,) = chats_of(installed, deal_id)
    users = {int(u) for u in chat.get("USERS", chat.get("users", []))}
    assert 4 in users and 3 not in users


def test_steady_state_cost_is_at_most_three_requests(ws: Stack):
    new_deal(ws)
    ws.run_worker()  # warm: user fields and the parent folder are cached
    new_deal(ws, "Second")
    time.sleep(0.5)
    before = ws.stats()["requests"]
    ws.run_worker()
    log = [e.get("method") for e in ws.control("GET", "log")][-6:]
    assert ws.stats()["requests"] - before <= 3, log


def test_observers_join_the_chat(installed: Stack):
    enable(installed, folders={"enabled": False}, chats={"extra_user_ids": [10]})
    token = installed.control("POST", "tokens", json={})["access_token"]
    made = installed.rest("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Observed deal", "assignedById": 3, "observers": [4]}}, token=token).json()
    deal_id = int(made["result"]["item"]["id"])
    installed.run_worker()
    (chat,) = chats_of(installed, deal_id)
    assert {3, 4, 10} <= {int(u) for u in chat.get("USERS", chat.get("users", []))}
