"""Catalogs («Списки», {DOCS}/crm/platform/catalogs-api): catalogs, their fields, elements in
batches, filters and pages, and elements linked to leads (entity-links-api)."""

from __future__ import annotations

import requests


def _catalog(amo, name="Реестр документов", **extra):
    r = amo.call("POST", "/api/v4/catalogs", json=[{"name": name, "request_id": "c1", **extra}])
    assert r.status_code == 200, r.text
    row = r.json()["_embedded"]["catalogs"][0]
    assert row["request_id"] == "c1"
    return row


def _fields(amo, cid, items):
    r = amo.call("POST", f"/api/v4/catalogs/{cid}/custom_fields", json=items)
    assert r.status_code == 200, r.text
    return r.json()["_embedded"]["custom_fields"]


def test_catalogs_list_get_edit_and_at_most_ten(amo):
    made = _catalog(amo)
    assert made["type"] == "regular" and made["can_link_multiple"] is True
    assert made["_links"]["self"]["href"].endswith(f"/api/v4/catalogs/{made['id']}")
    got = amo.call("GET", f"/api/v4/catalogs/{made['id']}").json()
    assert got["name"] == "Реестр документов" and got["account_id"] == amo.acc.id
    assert amo.call("GET", "/api/v4/catalogs/1").status_code == 204
    r = amo.call("PATCH", f"/api/v4/catalogs/{made['id']}", json={"name": "Документы"})
    assert r.status_code == 200 and r.json()["name"] == "Документы"
    r = amo.call("PATCH", "/api/v4/catalogs", json=[{"id": made["id"], "name": "Д"}])
    assert r.json()["_embedded"]["catalogs"][0]["name"] == "Д"
    listed = amo.call("GET", "/api/v4/catalogs").json()["_embedded"]["catalogs"]
    assert [c["id"] for c in listed] == [made["id"]]
    bad = amo.call("POST", "/api/v4/catalogs", json=[{"name": ""}, {"name": "x",
                                                                    "type": "bogus"}])
    assert bad.status_code == 400
    errs = bad.json()["validation-errors"]
    assert [e["request_id"] for e in errs] == ["0", "1"]
    assert amo.call("POST", "/api/v4/catalogs", json=[{"name": f"С{i}"} for i in range(9)]
                    ).status_code == 200
    over = amo.call("POST", "/api/v4/catalogs", json=[{"name": "одиннадцатый"}])
    assert over.status_code == 400  # at most 10 catalogs in an account
    assert len(amo.call("GET", "/api/v4/catalogs").json()["_embedded"]["catalogs"]) == 10


def test_catalog_fields_with_codes_enums_and_pages(amo):
    cid = _catalog(amo)["id"]
    made = _fields(amo, cid, [
        {"name": "Номер", "type": "text", "code": "NUMBER"},
        {"name": "Статус", "type": "select", "code": "STATUS",
         "enums": [{"value": "Черновик", "sort": 1, "code": "draft"},
                   {"value": "Подписан", "sort": 2, "code": "signed"}]}])
    assert made[1]["enums"][1]["code"] == "signed" and made[0]["catalog_id"] == cid
    assert made[0]["entity_type"] == "catalogs"
    no_enums = amo.call("POST", f"/api/v4/catalogs/{cid}/custom_fields",
                        json=[{"name": "Выбор", "type": "select"}])
    assert no_enums.status_code == 400
    multitext = amo.call("POST", f"/api/v4/catalogs/{cid}/custom_fields",
                         json=[{"name": "Телефон", "type": "multitext"}])
    assert multitext.status_code == 400  # not a catalog's type (custom-fields table)
    old = made[1]["enums"]
    r = amo.call("PATCH", f"/api/v4/catalogs/{cid}/custom_fields", json=[
        {"id": made[1]["id"], "enums": [*old, {"value": "Аннулирован", "sort": 3,
                                                "code": "void"}]}])
    enums = r.json()["_embedded"]["custom_fields"][0]["enums"]
    assert [e["id"] for e in enums[:2]] == [e["id"] for e in old]
    assert enums[2]["code"] == "void"
    _fields(amo, cid, [{"name": f"Поле {i}", "type": "numeric"} for i in range(60)])
    first = amo.call("GET", f"/api/v4/catalogs/{cid}/custom_fields").json()
    assert len(first["_embedded"]["custom_fields"]) == 50 and "next" in first["_links"]
    assert first["_total_items"] == 62
    manager = next(u for u in amo.acc.users if not u.is_admin)
    token = amo.emu.long_lived_token(amo.acc.id, user_id=manager.id)
    denied = amo.call("POST", f"/api/v4/catalogs/{cid}/custom_fields", token=token,
                      json=[{"name": "x", "type": "text"}])
    assert denied.status_code == 403
    assert amo.call("GET", "/api/v4/catalogs/1/custom_fields").status_code == 404


def test_elements_batches_filters_query_and_pages(amo):
    cid = _catalog(amo)["id"]
    number, status = _fields(amo, cid, [
        {"name": "Номер", "type": "text", "code": "NUMBER"},
        {"name": "Статус", "type": "select",
         "enums": [{"value": "Черновик", "sort": 1, "code": "draft"}]}])
    r = amo.call("POST", f"/api/v4/catalogs/{cid}/elements", json=[
        {"name": "Договор № 1", "request_id": "a", "custom_fields_values": [
            {"field_code": "NUMBER", "values": [{"value": "Д-2026-00001"}]},
            {"field_id": status["id"], "values": [{"enum_code": "draft"}]}]},
        {"name": "Счёт № 7"}])
    assert r.status_code == 200, r.text
    rows = r.json()["_embedded"]["elements"]
    assert [x["request_id"] for x in rows] == ["a", "1"]
    first = rows[0]
    assert first["catalog_id"] == cid and first["is_deleted"] is False
    values = {v["field_id"]: v["values"][0] for v in first["custom_fields_values"]}
    assert values[number["id"]]["value"] == "Д-2026-00001"
    assert values[status["id"]]["enum_code"] == "draft"
    assert rows[1]["custom_fields_values"] is None  # null when empty
    found = amo.call("GET", f"/api/v4/catalogs/{cid}/elements?query=2026-00001").json()
    assert [e["id"] for e in found["_embedded"]["elements"]] == [first["id"]]
    by_id = amo.call("GET", f"/api/v4/catalogs/{cid}/elements",
                     params={"filter[id][]": [rows[1]["id"]]}).json()
    assert [e["name"] for e in by_id["_embedded"]["elements"]] == ["Счёт № 7"]
    assert amo.call("GET", f"/api/v4/catalogs/{cid}/elements?query=нет такого"
                    ).status_code == 204
    refused = amo.call("POST", f"/api/v4/catalogs/{cid}/elements", json=[
        {"name": "ok"}, {"name": "bad", "custom_fields_values": [
            {"field_id": status["id"], "values": [{"value": "Нет такого"}]}]}])
    assert refused.status_code == 400  # all or nothing
    assert refused.json()["validation-errors"][0]["request_id"] == "1"
    assert len(amo.acc.catalog_elements[cid]) == 2
    r = amo.call("PATCH", f"/api/v4/catalogs/{cid}/elements", json=[
        {"id": first["id"], "custom_fields_values": [
            {"field_id": number["id"], "values": None}]}])
    assert r.status_code == 200
    one = amo.call("GET", f"/api/v4/catalogs/{cid}/elements/{first['id']}").json()
    assert one["name"] == "Договор № 1"
    assert [v["field_id"] for v in one["custom_fields_values"]] == [status["id"]]
    r = amo.call("PATCH", f"/api/v4/catalogs/{cid}/elements/{first['id']}",
                 json={"name": "Договор № 1 (изм.)"})
    assert r.json()["name"] == "Договор № 1 (изм.)"
    assert amo.call("PATCH", f"/api/v4/catalogs/{cid}/elements",
                    json=[{"id": 1, "name": "x"}]).status_code == 400
    amo.call("POST", f"/api/v4/catalogs/{cid}/elements",
             json=[{"name": f"Э{i}"} for i in range(250)])
    page = amo.call("GET", f"/api/v4/catalogs/{cid}/elements?limit=500").json()
    assert len(page["_embedded"]["elements"]) == 250
    nxt = requests.get(page["_links"]["next"]["href"], timeout=10,
                       headers={"Authorization": f"Bearer {amo.token}"}).json()
    assert len(nxt["_embedded"]["elements"]) == 2


def test_elements_linked_to_a_lead(amo):
    cid = _catalog(amo)["id"]
    eid = amo.call("POST", f"/api/v4/catalogs/{cid}/elements", json=[{"name": "Э"}]
                   ).json()["_embedded"]["elements"][0]["id"]
    lead = amo.call("POST", "/api/v4/leads", json=[{"name": "Сделка"}]
                    ).json()["_embedded"]["leads"][0]["id"]
    r = amo.call("POST", f"/api/v4/leads/{lead}/link", json=[
        {"to_entity_id": eid, "to_entity_type": "catalog_elements",
         "metadata": {"quantity": 1, "catalog_id": cid}}])
    assert r.status_code == 200, r.text
    row = r.json()["_embedded"]["links"][0]
    assert row["metadata"] == {"quantity": 1, "catalog_id": cid}
    links = amo.call("GET", f"/api/v4/leads/{lead}/links",
                     params={"filter[to_catalog_id]": cid}).json()["_embedded"]["links"]
    assert [(x["to_entity_id"], x["to_entity_type"]) for x in links] == \
        [(eid, "catalog_elements")]
    bad = amo.call("POST", f"/api/v4/leads/{lead}/link", json=[
        {"to_entity_id": 1, "to_entity_type": "catalog_elements",
         "metadata": {"catalog_id": cid}}])
    assert bad.status_code == 400
    assert amo.call("POST", f"/api/v4/leads/{lead}/unlink", json=[
        {"to_entity_id": eid, "to_entity_type": "catalog_elements",
         "metadata": {"catalog_id": cid}}]).status_code == 204
    assert amo.call("GET", f"/api/v4/leads/{lead}/links",
                    params={"filter[to_catalog_id]": cid}).status_code == 204
