"""Smart processes made at run time: crm.type.add/update/delete/fields, userfieldconfig.*,
typed user fields in crm.item.*, and the events of a type made after start. Requests and
answers are the docs' own samples (tests/fixtures/docs)."""

from __future__ import annotations

import base64
import copy

import requests

from tests.fixtures.docs import load

DOCS = "api-reference__crm__universal__"
TYPE_ADD = f"{DOCS}user-defined-object-types__crm-type-add.md__"
UF_ADD = f"{DOCS}userfieldconfig__userfieldconfig-add.md__"
ITEM_ADD = f"{DOCS}crm-item-add.md__"


def user_token(emu_url: str, user_id: int = 3) -> str:
    return requests.post(f"{emu_url}/_emulator/tokens", json={"user_id": user_id}).json()[
        "access_token"]


def new_type(emu_call, **fields) -> dict:
    r = emu_call("crm.type.add", {"fields": {"title": "Реестр документов", **fields}})
    assert r.status_code == 200, r.text
    return r.json()["result"]["type"]


def test_crm_type_add_answers_the_documented_sample(emu_call):
    sent = load(f"{TYPE_ADD}request")
    got = emu_call("crm.type.add", sent).json()["result"]["type"]
    doc = load(f"{TYPE_ADD}result")["type"]
    assert set(got) == set(doc) | {"code", "isInitialized"}
    for key in ("title", "entityTypeId", "isCategoriesEnabled", "isClientEnabled",
                "isUseInUserfieldEnabled", "isSetOpenPermissions", "isPaymentsEnabled",
                "linkedUserFields", "customSections", "customSectionId"):
        assert got[key] == doc[key], key
    # relations: the client field's predefined parents first, "true"/"false" read as Y/N
    key = ("entityTypeId", "isChildrenListEnabled", "isPredefined")
    assert [tuple(r[k] for k in key) for r in got["relations"]["parent"]] == [
        tuple(r[k] for k in key) for r in doc["relations"]["parent"]]
    assert got["relations"]["child"] == doc["relations"]["child"]
    again = emu_call("crm.type.add", sent)
    assert again.status_code == 400 and again.json()["error"] == "INVALID_ARG_VALUE"


def test_crm_type_add_refuses_as_the_docs_print(emu_url, emu_call):
    out = emu_call("crm.type.add", {"fields": {"title": "X", "entityTypeId": 200}})
    assert (out.status_code, out.json()) == (400, load(f"{TYPE_ADD}out-of-range"))
    nofields = emu_call("crm.type.add", {})
    assert nofields.status_code == 400 and nofields.json()["error"] == "100"
    untitled = emu_call("crm.type.add", {"fields": {"title": " "}})
    assert untitled.status_code == 400 and untitled.json()["error"] == "BX_EMPTY_REQUIRED"
    manager = emu_call("crm.type.add", {"fields": {"title": "X"}}, token=user_token(emu_url))
    assert manager.status_code == 400 and manager.json() == {
        "error": "ACCESS_DENIED", "error_description": "Доступ запрещен"}
    # from 128 upwards: the seed has 128, the next one is 129; the ordinal id follows on
    made = new_type(emu_call)
    assert (made["entityTypeId"], made["id"], made["isStagesEnabled"]) == (129, 2, "N")
    assert made["isSetOpenPermissions"] == "Y" and made["code"] == ""


def test_type_update_get_list_fields_and_delete(emu_call):
    made = new_type(emu_call, code="cc_documents")
    upd = emu_call("crm.type.update", {"id": made["id"], "fields": {
        "title": "Реестр", "isClientEnabled": "Y", "entityTypeId": 150}}).json()["result"]
    assert upd["type"]["title"] == "Реестр" and upd["type"]["entityTypeId"] == 129
    assert [r["entityTypeId"] for r in upd["type"]["relations"]["parent"]] == [3, 4]
    found = emu_call("crm.type.list", {"filter": {"code": "cc_documents"}}).json()
    assert [t["id"] for t in found["result"]["types"]] == [made["id"]] and found["total"] == 1
    like = emu_call("crm.type.list", {"filter": {"%title": "реест"}, "order": {"id": "DESC"}})
    assert [t["id"] for t in like.json()["result"]["types"]] == [made["id"]]
    bad = emu_call("crm.type.list", {"filter": {"colour": "red"}})
    assert bad.status_code == 400 and bad.json()["error_description"] == (
        "Invalid filter: field 'colour' is not allowed in filter")
    by_etid = emu_call("crm.type.getByEntityTypeId", {"entityTypeId": 129}).json()
    assert by_etid["result"]["type"]["id"] == made["id"]
    missing = emu_call("crm.type.get", {"id": 999})
    assert (missing.status_code, missing.json()) == (
        400, load(f"{DOCS}user-defined-object-types__crm-type-get.md__not-found"))
    fields = emu_call("crm.type.fields").json()["result"]["fields"]
    assert fields["code"]["upperName"] == "CODE" and not fields["code"]["isReadOnly"]
    assert fields["isBizProcEnabled"]["upperName"] == "IS_BIZ_PROC_ENABLED"
    emu_call("crm.item.add", {"entityTypeId": 129, "fields": {"title": "Д-1"}})
    busy = emu_call("crm.type.delete", {"id": made["id"]})
    assert (busy.status_code, busy.json()) == (
        400, load(f"{DOCS}user-defined-object-types__crm-type-delete.md__has-items"))
    item = emu_call("crm.item.list", {"entityTypeId": 129}).json()["result"]["items"][0]
    emu_call("crm.item.delete", {"entityTypeId": 129, "id": item["id"]})
    assert emu_call("crm.type.delete", {"id": made["id"]}).json()["result"] == []
    assert emu_call("crm.type.get", {"id": made["id"]}).status_code == 400
    gone = emu_call("crm.item.list", {"entityTypeId": 129})
    assert gone.json()["error_description"] == "Смарт-процесс не найден"


def _sample_field(type_id: int) -> dict:
    """The docs' userfieldconfig.add request, aimed at our type instead of CRM_7."""
    sent = copy.deepcopy(load(f"{UF_ADD}request"))
    sent["field"]["entityId"] = f"CRM_{type_id}"
    sent["field"]["fieldName"] = sent["field"]["fieldName"].replace("UF_CRM_7_",
                                                                    f"UF_CRM_{type_id}_")
    return sent


def test_userfieldconfig_add_answers_the_documented_sample(emu_call):
    made = new_type(emu_call)
    got = emu_call("userfieldconfig.add", _sample_field(made["id"])).json()["result"]["field"]
    doc = load(f"{UF_ADD}result")["field"]
    assert set(got) == set(doc)
    for key in ("userTypeId", "xmlId", "sort", "multiple", "mandatory", "showFilter",
                "showInList", "editInList", "isSearchable", "settings", "languageId",
                "editFormLabel", "listColumnLabel", "helpMessage"):
        assert got[key] == doc[key], key
    assert [(e["value"], e["def"], e["sort"]) for e in got["enum"]] == [
        (e["value"], e["def"], e["sort"]) for e in doc["enum"]]
    assert all(e["userFieldId"] == got["id"] and len(e["xmlId"]) == 32 for e in got["enum"])
    listed = emu_call("userfieldconfig.list", {"moduleId": "crm", "filter": {
        "entityId": f"CRM_{made['id']}"}}).json()
    assert listed["total"] == 1 and listed["result"]["fields"][0] == got
    ru = emu_call("userfieldconfig.list", {"moduleId": "crm", "select": {"0": "*",
                                                                         "language": "ru"},
                                           "filter": {"multiple": "Y"}}).json()
    assert ru["result"]["fields"][0]["editFormLabel"] == "Список характеристик"
    assert emu_call("userfieldconfig.get", {"moduleId": "crm", "id": got["id"]}).json()[
        "result"]["field"] == got


def test_userfieldconfig_refuses_as_the_docs_print(emu_url, emu_call):
    made = new_type(emu_call)
    sent = _sample_field(made["id"])
    emu_call("userfieldconfig.add", sent)

    def error(params: dict, token: str | None = None) -> tuple[int, str, str]:
        r = emu_call("userfieldconfig.add", params, token=token)
        return r.status_code, r.json()["error"], r.json()["error_description"]

    name = sent["field"]["fieldName"]
    assert error(sent) == (400, "", f"Поле {name} для объекта CRM_{made['id']} уже существует")
    assert error({**sent, "field": {**sent["field"], "fieldName": "UF_CRM_7_X"}})[2] == (
        "Вы не можете создавать пользовательские поля")
    assert error({**sent, "field": {**sent["field"], "userTypeId": ""}})[2] == (
        "The 'USER_TYPE_ID' field is not found")
    assert error({**sent, "field": {**sent["field"], "fieldName": ""}})[2] == (
        "The 'FIELD_NAME' field is not found")
    assert error(sent, token=user_token(emu_url))[2] == "Access denied"
    assert error({**sent, "moduleId": "tasks"})[2] == "No settings for UserFieldAccess"
    types = emu_call("userfieldconfig.getTypes", {"moduleId": "crm"}).json()["result"]["types"]
    assert {"string", "integer", "double", "boolean", "date", "datetime", "enumeration",
            "url", "file", "money", "employee", "crm"} <= set(types)


def test_userfieldconfig_update_and_delete(emu_call):
    made = new_type(emu_call)
    field = emu_call("userfieldconfig.add", _sample_field(made["id"])).json()["result"]["field"]
    first, second = field["enum"]
    upd = emu_call("userfieldconfig.update", {"moduleId": "crm", "id": field["id"], "field": {
        "mandatory": "Y", "multiple": "N", "editFormLabel": {"ru": "Характеристики"},
        "userTypeId": "enumeration", "enum": [{"id": first["id"], "del": "Y"},
                                              {"value": "Характеристика 3", "xmlId": "three"}]}})
    got = upd.json()["result"]["field"]
    assert got["mandatory"] == "Y" and got["multiple"] == "Y"  # multiple never changes
    assert got["editFormLabel"] == {"en": "List of characteristics", "ru": "Характеристики"}
    assert [(e["value"], e["xmlId"]) for e in got["enum"]] == [
        ("Характеристика 2", second["xmlId"]), ("Характеристика 3", "three")]
    assert emu_call("userfieldconfig.delete", {"moduleId": "crm", "id": field["id"]}).json()[
        "result"] is None
    again = emu_call("userfieldconfig.get", {"moduleId": "crm", "id": field["id"]})
    assert again.status_code == 400 and again.json()["error_description"] == (
        "Вы не можете просматривать настройки пользовательских полей")


def _docs_sample_type(emu_call) -> tuple[dict, dict, dict]:
    """A type with the fields of crm-item-add.md's smart-process sample (same names, under
    our type's id): (type, {camel name in the docs: our camel name}, the docs' fields)."""
    made = new_type(emu_call)
    described = load(f"{ITEM_ADD}spa-fields")
    ours = {}
    for camel, desc in described.items():
        name = desc["upperName"].replace("UF_CRM_44_", f"UF_CRM_{made['id']}_")
        field = {"entityId": f"CRM_{made['id']}", "fieldName": name,
                 "userTypeId": desc["type"], "multiple": "Y" if desc["isMultiple"] else "N",
                 "editFormLabel": {"ru": desc["title"]}, "settings": desc["settings"]}
        if desc["type"] == "enumeration":
            field["enum"] = [{"value": i["VALUE"]} for i in desc["items"]]
        r = emu_call("userfieldconfig.add", {"moduleId": "crm", "field": field})
        assert r.status_code == 200, r.text
        ours[camel] = camel.replace("ufCrm44_", f"ufCrm{made['id']}_")
    return made, ours, described


def test_an_item_with_every_field_type_round_trips_as_the_docs_show(emu_url, emu_call,
                                                                    emu_tokens):
    made, ours, described = _docs_sample_type(emu_call)
    etid = made["entityTypeId"]
    fields = emu_call("crm.item.fields", {"entityTypeId": etid}).json()["result"]["fields"]
    enum_name = ours["ufCrm44_1721812814433"]
    items = fields[enum_name]["items"]
    assert [i["VALUE"] for i in items] == [i["VALUE"] for i in described[
        "ufCrm44_1721812814433"]["items"]]
    for camel, desc in described.items():
        got = fields[ours[camel]]
        assert {k: got[k] for k in ("type", "isMultiple", "isDynamic", "title")} == {
            k: desc[k] for k in ("type", "isMultiple", "isDynamic", "title")}
    sample = load(f"{ITEM_ADD}spa-request")["fields"]
    sent = {ours[k]: v for k, v in sample.items()}
    sent[enum_name] = int(items[2]["ID"])  # the docs' 81 is the third item of their list
    item = emu_call("crm.item.add", {"entityTypeId": etid, "fields": sent}).json()[
        "result"]["item"]
    got = emu_call("crm.item.get", {"entityTypeId": etid, "id": item["id"]}).json()[
        "result"]["item"]
    assert got == item
    assert got[ours["ufCrm44_1721812760630"]] == sample["ufCrm44_1721812760630"]
    assert got[enum_name] == int(items[2]["ID"])
    assert got[ours["ufCrm44_1721812853419"]] == "2024-07-24"
    assert got[ours["ufCrm44_1721812885588"]] == ["example.com", "second-example.com"]
    assert got[ours["ufCrm44_1721812915476"]] == "300|RUB"
    assert got[ours["ufCrm44_1721812935209"]] == "Y"
    assert got[ours["ufCrm44_1721812948498"]] == 9999.9
    file = got[ours["ufCrm44_1721812898903"]]
    assert set(file) == {"id", "url", "urlMachine"}  # object-fields.md
    body = requests.get(emu_url + file["urlMachine"].replace(
        "auth=", f"auth={emu_tokens['access_token']}"), timeout=10)
    assert body.status_code == 200
    assert body.content == base64.b64decode(sample["ufCrm44_1721812898903"][1])
    orig = emu_call("crm.item.get", {"entityTypeId": etid, "id": item["id"],
                                     "useOriginalUfNames": "Y"}).json()["result"]["item"]
    assert orig[f"UF_CRM_{made['id']}_1721812915476"] == "300|RUB"
    # a file field keeps its file with {"id"}, another id clears it (crm-item-update.md)
    file_name = ours["ufCrm44_1721812898903"]
    kept = emu_call("crm.item.update", {"entityTypeId": etid, "id": item["id"], "fields": {
        file_name: {"id": file["id"]}}}).json()["result"]["item"]
    assert kept[file_name]["id"] == file["id"]
    cleared = emu_call("crm.item.update", {"entityTypeId": etid, "id": item["id"], "fields": {
        file_name: {"id": file["id"] + 1}}}).json()["result"]["item"]
    assert cleared[file_name] is None


def test_values_are_checked_by_type_and_a_refused_write_changes_nothing(emu_call):
    made, ours, _ = _docs_sample_type(emu_call)
    etid = made["entityTypeId"]
    number, links = ours["ufCrm44_1721812948498"], ours["ufCrm44_1721812885588"]
    money, enum_name = ours["ufCrm44_1721812915476"], ours["ufCrm44_1721812814433"]
    item = emu_call("crm.item.add", {"entityTypeId": etid, "fields": {
        number: 1.5}}).json()["result"]["item"]

    def refused(fields: dict) -> tuple[str, str]:
        r = emu_call("crm.item.update", {"entityTypeId": etid, "id": item["id"],
                                         "fields": {number: 7, **fields}})
        assert r.status_code == 400, r.text
        return r.json()["error"], r.json()["error_description"]

    code, text = refused({money: "lots"})
    assert code == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    assert text == 'Неверное значение поля "Пользовательское поле (деньги)"'
    assert refused({enum_name: 999999})[0] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    assert refused({number: "many"})[0] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    assert refused({links: "one.example"}) == (
        "100", "Expected iterable value for multiple field, but got str instead")
    still = emu_call("crm.item.get", {"entityTypeId": etid, "id": item["id"]}).json()
    assert still["result"]["item"][number] == 1.5  # nothing of the refused writes was kept
    field_id = emu_call("userfieldconfig.list", {"moduleId": "crm", "filter": {
        "fieldName": money.replace(f"ufCrm{made['id']}_", f"UF_CRM_{made['id']}_")}}).json()[
        "result"]["fields"][0]["id"]
    emu_call("userfieldconfig.update", {"moduleId": "crm", "id": field_id,
                                        "field": {"mandatory": "Y"}})
    required = emu_call("crm.item.add", {"entityTypeId": etid, "fields": {number: 2}})
    assert required.json() == {"error": "CRM_FIELD_ERROR_REQUIRED", "error_description":
                               'Поле "Пользовательское поле (деньги)" обязательно для заполнения'}


def test_list_filters_on_user_fields(emu_call):
    made = new_type(emu_call)
    n, etid = made["id"], made["entityTypeId"]
    for name, utype, extra in (("STATUS", "enumeration", {"enum": [
            {"value": "Черновик", "xmlId": "draft"}, {"value": "Подписан", "xmlId": "signed"}]}),
            ("TITLE", "string", {}), ("SIGNED", "boolean", {}), ("DATE", "date", {}),
            ("DEAL", "crm", {"settings": {"DEAL": "Y", "COMPANY": "Y"}})):
        emu_call("userfieldconfig.add", {"moduleId": "crm", "field": {
            "entityId": f"CRM_{n}", "fieldName": f"UF_CRM_{n}_{name}", "userTypeId": utype,
            **extra}})
    status = emu_call("userfieldconfig.list", {"moduleId": "crm", "filter": {
        "fieldName": f"UF_CRM_{n}_STATUS"}}).json()["result"]["fields"][0]["enum"]
    draft, signed = (int(e["id"]) for e in status)
    rows = [("Договор поставки", signed, "Y", "2026-11-22", "CO_3"),
            ("Договор аренды", draft, "N", "22.10.2026", "CO_3"),
            ("Акт", signed, "Y", "2026-12-01", "D_5")]
    ids = []
    for title, st, flag, day, deal in rows:
        item = emu_call("crm.item.add", {"entityTypeId": etid, "fields": {
            f"ufCrm{n}Title": title, f"ufCrm{n}Status": st, f"ufCrm{n}Signed": flag,
            f"ufCrm{n}Date": day, f"ufCrm{n}Deal": deal}}).json()["result"]["item"]
        ids.append(item["id"])

    def found(flt: dict) -> list[int]:
        r = emu_call("crm.item.list", {"entityTypeId": etid, "filter": flt,
                                       "order": {f"ufCrm{n}Date": "ASC"}})
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["result"]["items"]]

    assert found({f"=ufCrm{n}Status": signed}) == [ids[0], ids[2]]
    assert found({f"%ufCrm{n}Title": "договор"}) == [ids[1], ids[0]]
    assert found({f"ufCrm{n}Signed": 1, f"ufCrm{n}Deal": "CO_3"}) == [ids[0]]
    assert found({f"ufCrm{n}Signed": "Y"}) == []  # crm-item-list.md: 1/0, never Y/N
    assert found({f">=ufCrm{n}Date": "2026-11-01"}) == [ids[0], ids[2]]
    assert found({f"UF_CRM_{n}_STATUS": draft}) == [ids[1]]
    bad = emu_call("crm.item.list", {"entityTypeId": etid, "filter": {"ufCrm99Nope": 1}})
    assert bad.status_code == 400 and bad.json() == {
        "error": "INVALID_ARG_VALUE",
        "error_description": "Invalid filter: field 'ufCrm99Nope' is not allowed in filter"}
    wrong = emu_call("crm.item.add", {"entityTypeId": etid, "fields": {
        f"ufCrm{n}Deal": "deal 5"}})
    assert wrong.json()["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"


def test_events_fire_for_a_type_made_at_run_time(emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    for event in ("ONCRMTYPEADD", "ONCRMTYPEUSERFIELDADD", "ONCRMDYNAMICITEMADD"):
        assert emu_call("event.bind", {"event": event, "handler": hook}).json()["result"]
    made = new_type(emu_call)
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMTYPEADD")
    assert ev["form"]["data"] == {"FIELDS": {"ID": str(made["id"])}}
    etid = made["entityTypeId"]
    per_type = f"ONCRMDYNAMICITEMADD_{etid}"
    assert per_type in emu_call("events").json()["result"]
    for event in (per_type, f"ONCRMDYNAMICITEMUPDATE_{etid}"):
        assert emu_call("event.bind", {"event": event, "handler": hook}).json()["result"]
    emu_call("userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": f"CRM_{made['id']}", "fieldName": f"UF_CRM_{made['id']}_NUMBER",
        "userTypeId": "string"}})
    uf = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMTYPEUSERFIELDADD")
    assert uf["form"]["data"]["FIELDS"]["FIELD_NAME"] == f"UF_CRM_{made['id']}_NUMBER"
    item = emu_call("crm.item.add", {"entityTypeId": etid, "fields": {
        "title": "Д-1"}}).json()["result"]["item"]
    doc = load(f"{DOCS}events__on-crm-dynamic-item-add.md__event")
    for event in ("ONCRMDYNAMICITEMADD", per_type):
        got = emu_app_stub.wait_for(lambda r, e=event: r["form"].get("event") == e)
        assert set(got["form"]["data"]["FIELDS"]) == set(doc["data"]["FIELDS"])
        assert got["form"]["data"]["FIELDS"] == {"ID": str(item["id"]),
                                                 "ENTITY_TYPE_ID": str(etid)}
