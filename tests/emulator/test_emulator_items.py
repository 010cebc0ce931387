"""Smart processes: crm.type.list, crm.item.* (also over leads/deals), stages, events."""

from __future__ import annotations

import requests


def test_type_list_categories_and_stages(emu_url, emu_call):
    types = emu_call("crm.type.list").json()
    spa = types["result"]["types"][0]
    assert types["total"] == 1
    assert spa["entityTypeId"] == 128 and spa["title"] == "Transport requests"
    assert spa["isCategoriesEnabled"] == "Y" and spa["isStagesEnabled"] == "Y"
    cats = emu_call("crm.category.list", {"entityTypeId": 128}).json()["result"]["categories"]
    assert [(c["id"], c["isDefault"]) for c in cats] == [(3, "Y"), (4, "N")]
    stages = emu_call("crm.status.list", {"filter": {"ENTITY_ID": "DYNAMIC_128_STAGE_3"}}).json()
    assert [(s["STATUS_ID"], s["SEMANTICS"]) for s in stages["result"]] == [
        ("DT128_3:NEW", None), ("DT128_3:PREPARATION", None), ("DT128_3:SUCCESS", "S"),
        ("DT128_3:FAIL", "F")]
    assert all({"NAME", "SORT"} <= set(s) for s in stages["result"])
    deal1 = emu_call("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_1"}}).json()
    assert deal1["result"][0]["STATUS_ID"] == "C1:NEW" and deal1["result"][0]["SEMANTICS"] is None
    assert emu_call("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}}).json()[
        "result"][3]["SEMANTICS"] == "S"
    tok = requests.post(f"{emu_url}/_emulator/tokens", json={"user_id": 3}).json()
    r = emu_call("crm.type.list", token=tok["access_token"])  # crm-type-list.md: 400
    assert r.status_code == 400 and r.json() == {"error": "ACCESS_DENIED",
                                                 "error_description": "Доступ запрещен"}


def test_smart_process_items_crud_list_and_events(emu_url, emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    for ev in ("ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE"):
        assert emu_call("event.bind", {"event": ev, "handler": hook}).json()["result"]
    assert emu_call("event.bind", {"event": "ONCRMDYNAMICITEMADD_128",
                                   "handler": hook}).json()["result"]
    r = emu_call("crm.item.add", {"entityTypeId": 128, "fields": {
        "title": "Moscow → Kazan", "assignedById": 7, "categoryId": 3, "contactId": 2,
        "opportunity": 1500}})
    item = r.json()["result"]["item"]
    assert item["title"] == "Moscow → Kazan" and item["assignedById"] == 7
    assert item["stageId"] == "DT128_3:NEW" and item["categoryId"] == 3
    assert item["contactId"] == 2 and item["opportunity"] == 1500 and item["entityTypeId"] == 128
    assert item["createdTime"].endswith("+03:00") and item["updatedTime"]
    ev = emu_app_stub.wait_for(lambda x: x["form"].get("event") == "ONCRMDYNAMICITEMADD")
    assert ev["form"]["data"]["FIELDS"] == {"ID": str(item["id"]), "ENTITY_TYPE_ID": "128"}
    emu_app_stub.wait_for(lambda x: x["form"].get("event") == "ONCRMDYNAMICITEMADD_128")
    upd = emu_call("crm.item.update", {"entityTypeId": 128, "id": item["id"], "fields": {
        "stageId": "DT128_3:SUCCESS"}}).json()["result"]["item"]
    assert upd["stageId"] == "DT128_3:SUCCESS" and upd["previousStageId"] == "DT128_3:NEW"
    assert upd["stageSemanticId"] == "S"
    bad = emu_call("crm.item.update", {"entityTypeId": 128, "id": item["id"],
                                       "fields": {"stageId": "DT128_4:NEW"}})
    assert bad.status_code == 400 and bad.json()["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    emu_app_stub.wait_for(lambda x: x["form"].get("event") == "ONCRMDYNAMICITEMUPDATE")
    got = emu_call("crm.item.get", {"entityTypeId": 128, "id": item["id"]}).json()["result"]
    assert got["item"]["stageId"] == "DT128_3:SUCCESS"
    # list: camelCase filter with operators, select, total/next
    lst = emu_call("crm.item.list", {"entityTypeId": 128, "select": ["id", "stageId"],
                                     "filter": {"assignedById": 7, "@stageId": [
                                         "DT128_3:NEW", "DT128_3:SUCCESS"]}}).json()
    assert item["id"] in [x["id"] for x in lst["result"]["items"]]
    assert set(lst["result"]["items"][0]) == {"id", "stageId"} and lst["total"] >= 1
    seeded = emu_call("crm.item.list", {"entityTypeId": 128, "filter": {">id": 0},
                                        "order": {"id": "DESC"}}).json()
    assert seeded["total"] == 11 and seeded["result"]["items"][0]["id"] == item["id"]
    assert emu_call("crm.item.delete", {"entityTypeId": 128,
                                        "id": item["id"]}).json()["result"] == []
    emu_app_stub.wait_for(lambda x: x["form"].get("event") == "ONCRMDYNAMICITEMDELETE")
    gone = emu_call("crm.item.get", {"entityTypeId": 128, "id": item["id"]})
    assert gone.status_code == 400 and gone.json()["error"] == "NOT_FOUND"
    nope = emu_call("crm.item.list", {"entityTypeId": 999})
    assert nope.status_code == 400 and nope.json()["error"] == "NOT_FOUND"
    fields = emu_call("crm.item.fields", {"entityTypeId": 128}).json()["result"]["fields"]
    assert fields["stageId"]["type"] == "crm_status" and fields["assignedById"]["isRequired"]


def test_item_api_over_leads_and_deals(emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    emu_call("event.bind", {"event": "ONCRMLEADADD", "handler": hook})
    emu_call("event.bind", {"event": "ONCRMDYNAMICITEMADD", "handler": hook})
    lead = emu_call("crm.item.add", {"entityTypeId": 1, "fields": {
        "title": "Via item", "assignedById": 4, "statusId": "IN_PROCESS", "sourceId": "WEB",
        "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+7 900 222 33 44"}]}})
    item = lead.json()["result"]["item"]
    assert item["statusId"] == "IN_PROCESS" and item["assignedById"] == 4
    assert item["fm"][0]["value"] == "+7 900 222 33 44" and item["entityTypeId"] == 1
    classic = emu_call("crm.lead.get", {"id": item["id"]}).json()["result"]
    assert classic["TITLE"] == "Via item" and classic["STATUS_SEMANTIC_ID"] == "P"
    assert classic["SOURCE_ID"] == "WEB" and classic["PHONE"][0]["VALUE"] == "+7 900 222 33 44"
    emu_app_stub.wait_for(lambda x: x["form"].get("event") == "ONCRMLEADADD")
    deal = emu_call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Deal via item", "categoryId": 1, "stageId": "C1:PREPARATION",
        "contactIds": [1, 2], "companyId": 3, "currencyId": "EUR"}}).json()["result"]["item"]
    assert deal["stageId"] == "C1:PREPARATION" and deal["categoryId"] == 1
    assert deal["contactIds"] == [1, 2] and deal["contactId"] == 1 and deal["companyId"] == 3
    assert deal["stageSemanticId"] == "P" and deal["currencyId"] == "EUR"
    listed = emu_call("crm.item.list", {"entityTypeId": 2, "filter": {
        "categoryId": 1, "stageSemanticId": "P", "assignedById": 1}}).json()
    assert deal["id"] in [d["id"] for d in listed["result"]["items"]]
    n = emu_call("crm.deal.list", {"filter": {"CATEGORY_ID": 1, "STAGE_SEMANTIC_ID": "P",
                                              "ASSIGNED_BY_ID": 1}}).json()["total"]
    assert listed["total"] == n
    assert emu_call("crm.item.get", {"entityTypeId": 3, "id": 1}).json()["result"]["item"][
        "companyIds"] == [1]
    # no ONCRMDYNAMICITEM* for leads/deals
    assert not [r for r in emu_app_stub.requests
                if r["form"].get("event") == "ONCRMDYNAMICITEMADD"]


def test_control_items_route(emu_url, emu_call, emu_app_stub):
    emu_call("event.bind", {"event": "ONCRMDYNAMICITEMADD", "handler": f"{emu_app_stub.url}/e"})
    made = requests.post(f"{emu_url}/_emulator/items/128", json={
        "fields": {"title": "From control", "categoryId": 4}, "user_id": 8}).json()
    assert made["item"]["stageId"] == "DT128_4:NEW" and made["item"]["createdBy"] == 8
    ev = emu_app_stub.wait_for(lambda x: x["form"].get("event") == "ONCRMDYNAMICITEMADD")
    assert ev["form"]["data"]["FIELDS"]["ID"] == str(made["item"]["id"])
    moved = requests.post(f"{emu_url}/_emulator/items/128/{made['item']['id']}", json={
        "fields": {"stageId": "DT128_4:FAIL"}}).json()
    assert moved["item"]["stageSemanticId"] == "F"
    assert requests.post(f"{emu_url}/_emulator/items/999", json={}).status_code == 400
