"""crm.requisite.* with bank details, addresses, presets and links, and "my companies", over
HTTP, each compared with the sample the docs print (tests/fixtures/docs,
api-reference/crm/requisites/)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from emulator.registry import METHODS
from tests.fixtures.docs import load

RQ = "api-reference__crm__requisites__"


def ok(resp: Any) -> Any:
    body = resp.json()
    assert resp.status_code == 200 and "error" not in body, body
    return body["result"]


def err(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    return {"error": body["error"], "error_description": body["error_description"]}


def company(emu_call, title: str = "ООО «Тест»", **fields: Any) -> int:
    return int(ok(emu_call("crm.company.add", {"fields": {"TITLE": title, **fields}})))


def requisite(emu_call, owner: int, etype: int = 4, **fields: Any) -> int:
    return int(ok(emu_call("crm.requisite.add", {"fields": {
        "ENTITY_TYPE_ID": etype, "ENTITY_ID": owner, "PRESET_ID": 1, "NAME": "Организация",
        **fields}})))


def test_every_new_method_needs_the_crm_scope():
    names = [n for n in METHODS if n.startswith(("crm.requisite.", "crm.address.",
                                                  "crm.item.productrow.", "crm.enum.address"))]
    assert len(names) == 34 and {METHODS[n].scope for n in names} == {"crm"}


def test_a_requisite_reads_back_in_the_documented_shape(emu_call):
    owner = company(emu_call)
    sample = load(RQ + "universal__crm-requisite-get.md__result")["result"]
    fields = {k: v for k, v in sample.items() if k.startswith("RQ_") and v is not None}
    rid = requisite(emu_call, owner, XML_ID=sample["XML_ID"], **fields)
    got = ok(emu_call("crm.requisite.get", {"id": rid}))
    assert set(got) == set(sample)
    assert {k: got[k] for k in fields} == fields
    assert (got["ENTITY_TYPE_ID"], got["ENTITY_ID"], got["PRESET_ID"], got["SORT"]) == (
        "4", str(owner), "1", "500")
    assert got["RQ_VAT_PAYER"] == "N" and got["RQ_CEO_NAME"] is None
    described = ok(emu_call("crm.requisite.fields"))
    sample_fields = load(RQ + "universal__crm-requisite-fields.md__result")
    assert set(sample_fields["result"]) - set(described) <= {
        k for k in sample_fields["result"] if k.startswith("UF_CRM_")}
    assert described["ENTITY_ID"] == sample_fields["result"]["ENTITY_ID"]


def test_requisite_errors_are_the_documented_ones(emu_call):
    assert err(emu_call("crm.requisite.get", {"id": 27})) == load(
        RQ + "universal__crm-requisite-get.md__not-found")
    assert err(emu_call("crm.requisite.add", {"fields": {"ENTITY_ID": 1, "PRESET_ID": 1,
                                                         "NAME": "x"}})) == load(
        RQ + "universal__crm-requisite-add.md__no-entity-type")
    assert err(emu_call("crm.requisite.add", {"fields": {
        "ENTITY_TYPE_ID": 4, "ENTITY_ID": 999, "PRESET_ID": 1, "NAME": "x"}}))[
        "error_description"] == "Entity not found."
    assert err(emu_call("crm.requisite.add", {"fields": {
        "ENTITY_TYPE_ID": 4, "ENTITY_ID": 1, "PRESET_ID": 77, "NAME": "x"}}))[
        "error_description"] == "PRESET_ID is not defined or invalid."
    rid = requisite(emu_call, company(emu_call))
    # owner and preset are immutable (crm-requisite-fields.md), the rest changes
    assert err(emu_call("crm.requisite.update", {"id": rid, "fields": {"ENTITY_ID": 2}}))[
        "error_description"] == "ENTITY_ID is not defined or invalid."
    assert ok(emu_call("crm.requisite.update", {"id": rid, "fields": {"RQ_INN": 7701234567,
                                                                      "SORT": 10}})) is True
    got = ok(emu_call("crm.requisite.get", {"id": rid}))
    assert (got["RQ_INN"], got["SORT"], got["MODIFY_BY_ID"]) == ("7701234567", "10", "1")
    assert ok(emu_call("crm.requisite.delete", {"id": rid})) is True
    assert err(emu_call("crm.requisite.update", {"id": rid, "fields": {"NAME": "y"}}))[
        "error_description"] == f"The Requisite with ID '{rid}' is not found"


def test_requisite_list_filters_orders_selects_and_pages(emu_call):
    owner = company(emu_call)
    cmd = {f"r{i}": "crm.requisite.add?" + urlencode({
        "fields[ENTITY_TYPE_ID]": 4, "fields[ENTITY_ID]": owner, "fields[PRESET_ID]": 1,
        "fields[NAME]": f"Реквизит {i}", "fields[SORT]": 600 - i}) for i in range(52)}
    made = {**ok(emu_call("batch", {"cmd": dict(list(cmd.items())[:26])}))["result"],
            **ok(emu_call("batch", {"cmd": dict(list(cmd.items())[26:])}))["result"]}
    ids = [int(made[f"r{i}"]) for i in range(52)]
    first = emu_call("crm.requisite.list", {
        "filter": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": owner}, "order": {"SORT": "ASC"},
        "select": ["ENTITY_TYPE_ID", "ENTITY_ID", "ID", "NAME"]}).json()
    sample = load(RQ + "universal__crm-requisite-list.md__result")
    assert set(first["result"][0]) == set(sample["result"][0])
    assert first["total"] == 52 and first["next"] == 50 and len(first["result"]) == 50
    assert first["result"][0]["ID"] == str(ids[-1])  # the lowest SORT first
    second = emu_call("crm.requisite.list", {"filter": {"ENTITY_ID": owner},
                                             "order": {"SORT": "ASC"}, "start": 50}).json()
    assert [r["ID"] for r in second["result"]] == [str(ids[1]), str(ids[0])]
    assert "next" not in second
    like = ok(emu_call("crm.requisite.list", {"filter": {"%NAME": "Реквизит 5"},
                                              "select": ["NAME"]}))
    assert sorted(r["NAME"] for r in like) == ["Реквизит 5", "Реквизит 50", "Реквизит 51"]
    assert set(like[0]) == {"NAME"}  # crm-requisite-list.md's second sample: no ID unasked


def test_bank_details_of_a_requisite(emu_call):
    rid = requisite(emu_call, company(emu_call))
    sample = load(RQ + "bank-detail__crm-requisite-bank-detail-get.md__result")["result"]
    rq = {k: v for k, v in sample.items() if k.startswith("RQ_") and v is not None}
    bid = int(ok(emu_call("crm.requisite.bankdetail.add", {"fields": {
        "ENTITY_ID": rid, "NAME": sample["NAME"], "SORT": 600, **rq}})))
    got = ok(emu_call("crm.requisite.bankdetail.get", {"id": bid}))
    assert set(got) == set(sample)
    assert {k: got[k] for k in rq} == rq and (got["ENTITY_ID"], got["COUNTRY_ID"]) == (
        str(rid), "1")
    listed = ok(emu_call("crm.requisite.bankdetail.list", {"filter": {"ENTITY_ID": rid},
                                                           "select": ["ENTITY_ID", "ID",
                                                                      "NAME"]}))
    assert listed == [{"ENTITY_ID": str(rid), "ID": str(bid), "NAME": "ПАО Супербанк"}]
    assert ok(emu_call("crm.requisite.bankdetail.update", {"id": bid, "fields": {
        "RQ_ACC_NUM": "40702810000000000001"}})) is True
    assert ok(emu_call("crm.requisite.bankdetail.get", {"id": bid}))["RQ_ACC_NUM"] == (
        "40702810000000000001")
    assert err(emu_call("crm.requisite.bankdetail.add", {"fields": {"ENTITY_ID": 9999,
                                                                    "NAME": "x"}})) == load(
        RQ + "bank-detail__crm-requisite-bank-detail-add.md__no-entity")
    ok(emu_call("crm.requisite.delete", {"id": rid}))  # takes its bank details along
    missing = err(emu_call("crm.requisite.bankdetail.get", {"id": bid}))
    assert missing == {**load(RQ + "bank-detail__crm-requisite-bank-detail-get.md__not-found"),
                       "error_description": f"The RequisiteBankDetail with ID '{bid}' is not "
                       "found"}


def test_addresses_of_a_requisite(emu_call):
    contact = int(ok(emu_call("crm.contact.add", {"fields": {"NAME": "Анна"}})))
    rid = requisite(emu_call, contact, etype=3)
    sample = load(RQ + "addresses__crm-address-list.md__result")["result"][0]
    text = {k: sample[k] for k in ("ADDRESS_1", "ADDRESS_2", "CITY", "POSTAL_CODE", "REGION",
                                   "PROVINCE", "COUNTRY")}
    added = emu_call("crm.address.add", {"fields": {"TYPE_ID": 1, "ENTITY_TYPE_ID": 8,
                                                    "ENTITY_ID": rid, **text}})
    assert ok(added) is load(RQ + "addresses__crm-address-add.md__result")["result"]
    assert err(emu_call("crm.address.add", {"fields": {"TYPE_ID": 1, "ENTITY_TYPE_ID": 8,
                                                       "ENTITY_ID": rid}}))[
        "error_description"] == "TypeAddress exists"
    ok(emu_call("crm.address.add", {"fields": {"TYPE_ID": 6, "ENTITY_TYPE_ID": 8,
                                               "ENTITY_ID": rid, "CITY": "Москва"}}))
    listed = ok(emu_call("crm.address.list", {"filter": {"ENTITY_TYPE_ID": 8,
                                                         "ENTITY_ID": rid}}))
    assert set(listed[0]) == set(sample) and len(listed) == 2
    assert {k: listed[0][k] for k in text} == text
    assert (listed[0]["ANCHOR_TYPE_ID"], listed[0]["ANCHOR_ID"]) == ("3", str(contact))
    assert ok(emu_call("crm.address.update", {"fields": {
        "TYPE_ID": 6, "ENTITY_TYPE_ID": 8, "ENTITY_ID": rid, "ADDRESS_1": "ул. Ленина, д. 1"}}))
    legal = ok(emu_call("crm.address.list", {"filter": {"TYPE_ID": 6, "ENTITY_ID": rid}}))
    assert [(a["CITY"], a["ADDRESS_1"]) for a in legal] == [("Москва", "ул. Ленина, д. 1")]
    assert ok(emu_call("crm.address.delete", {"fields": {"TYPE_ID": 6, "ENTITY_TYPE_ID": 8,
                                                         "ENTITY_ID": rid}})) is True
    assert err(emu_call("crm.address.delete", {"fields": {
        "TYPE_ID": 6, "ENTITY_TYPE_ID": 8, "ENTITY_ID": rid}})) == load(
        RQ + "addresses__crm-address-delete.md__not-found")
    assert err(emu_call("crm.address.add", {"fields": {"TYPE_ID": 1, "ENTITY_TYPE_ID": 8,
                                                       "ENTITY_ID": 99999}})) == load(
        RQ + "addresses__crm-address-add.md__no-entity")
    assert err(emu_call("crm.address.add", {"fields": {"TYPE_ID": 5, "ENTITY_TYPE_ID": 8,
                                                       "ENTITY_ID": rid}}))[
        "error_description"] == "TYPE_ID is not defined or invalid."
    types = ok(emu_call("crm.enum.addresstype"))
    assert types == load("api-reference__crm__auxiliary__enum__crm-enum-address-type.md__result"
                         )["result"]


def test_presets_and_countries_are_the_documented_ones(emu_call):
    listed = ok(emu_call("crm.requisite.preset.list", {"select": ["ID", "NAME"],
                                                       "filter": {"COUNTRY_ID": 1}}))
    assert listed == load(RQ + "presets__crm-requisite-preset-list.md__result")["result"]
    got = ok(emu_call("crm.requisite.preset.get", {"id": 2}))
    assert set(got) == set(load(RQ + "presets__crm-requisite-preset-get.md__result")["result"])
    assert (got["NAME"], got["ENTITY_TYPE_ID"], got["COUNTRY_ID"]) == ("ИП", "8", "1")
    assert err(emu_call("crm.requisite.preset.get", {"id": 347})) == load(
        RQ + "presets__crm-requisite-preset-get.md__not-found")
    assert ok(emu_call("crm.requisite.preset.countries")) == load(
        RQ + "presets__crm-requisite-preset-countries.md__result")["result"]
    assert ok(emu_call("crm.requisite.preset.fields"))["COUNTRY_ID"]["isImmutable"] is True


def test_my_companies_are_kept_and_filtered(emu_call):
    ours = company(emu_call, "ООО «Наша»", IS_MY_COMPANY="Y")
    theirs = company(emu_call, "ООО «Чужая»")
    mine = ok(emu_call("crm.company.list", {"filter": {"IS_MY_COMPANY": "Y"},
                                            "select": ["ID", "TITLE", "IS_MY_COMPANY"]}))
    assert {"ID": str(ours), "TITLE": "ООО «Наша»", "IS_MY_COMPANY": "Y"} in mine
    assert str(theirs) not in {r["ID"] for r in mine}
    assert ok(emu_call("crm.company.get", {"id": theirs}))["IS_MY_COMPANY"] == "N"
    items = ok(emu_call("crm.item.list", {"entityTypeId": 4, "filter": {"isMyCompany": "Y"},
                                          "select": ["id", "title", "isMyCompany"]}))["items"]
    assert {"id": ours, "title": "ООО «Наша»", "isMyCompany": "Y"} in items
    assert theirs not in {i["id"] for i in items}


def test_links_check_whose_requisites_they_name(emu_call):
    client = company(emu_call, "ООО «Клиент»")
    ours = company(emu_call, "ООО «Наша»", IS_MY_COMPANY="Y")
    other = company(emu_call, "ООО «Другая»")
    deal = int(ok(emu_call("crm.deal.add", {"fields": {"TITLE": "Сделка", "COMPANY_ID": client}})))
    crq, orq, xrq = (requisite(emu_call, c) for c in (client, ours, other))
    cbd, obd = (int(ok(emu_call("crm.requisite.bankdetail.add", {"fields": {
        "ENTITY_ID": r, "NAME": "Банк"}}))) for r in (crq, orq))

    def register(**ids: int) -> Any:
        return emu_call("crm.requisite.link.register", {"fields": {
            "ENTITY_TYPE_ID": 2, "ENTITY_ID": deal, "REQUISITE_ID": 0, "BANK_DETAIL_ID": 0,
            "MC_REQUISITE_ID": 0, "MC_BANK_DETAIL_ID": 0, **ids}})

    def text(resp: Any) -> str:
        return err(resp)["error_description"]

    assert text(register(REQUISITE_ID=xrq)) == (
        f"The Requisite with ID '{xrq}' is not assigned to Company with ID '{client}'")
    assert text(register(REQUISITE_ID=9999)) == "The Requisite with ID '9999' is not found"
    assert text(register(REQUISITE_ID=crq, BANK_DETAIL_ID=obd)) == (
        f"The BankDetail with ID '{obd}' is not assigned to Requisite with ID '{crq}'")
    assert text(register(MC_REQUISITE_ID=xrq)) == (
        f"The Requisite with ID '{xrq}' is not assigned to your company with ID '{other}'")
    assert text(register(MC_REQUISITE_ID=orq, MC_BANK_DETAIL_ID=cbd)) == (
        f"The BankDetail of your company with ID '{cbd}' is not assigned to Requisite of "
        f"your company with ID '{orq}'")
    assert text(register(MC_REQUISITE_ID=9999)) == (
        "The Requisite of your company with ID '9999' is not found")
    assert err(emu_call("crm.requisite.link.register", {"fields": {
        "ENTITY_TYPE_ID": 2, "ENTITY_ID": 99999, "REQUISITE_ID": 0, "BANK_DETAIL_ID": 0,
        "MC_REQUISITE_ID": 0, "MC_BANK_DETAIL_ID": 0}})) == load(
        RQ + "links__crm-requisite-link-register.md__entity-not-found")
    assert err(emu_call("crm.requisite.link.get", {"entityTypeId": 2, "entityId": deal})) == (
        load(RQ + "links__crm-requisite-link-get.md__not-found"))
    assert ok(register(REQUISITE_ID=crq, BANK_DETAIL_ID=cbd, MC_REQUISITE_ID=orq,
                       MC_BANK_DETAIL_ID=obd)) is True
    got = ok(emu_call("crm.requisite.link.get", {"entityTypeId": 2, "entityId": deal}))
    sample = load(RQ + "links__crm-requisite-link-get.md__result")["result"]
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in sample.items()}
    assert got == {"ENTITY_TYPE_ID": 2, "ENTITY_ID": deal, "REQUISITE_ID": str(crq),
                   "BANK_DETAIL_ID": str(cbd), "MC_REQUISITE_ID": str(orq),
                   "MC_BANK_DETAIL_ID": str(obd)}
    listed = ok(emu_call("crm.requisite.link.list", {"filter": {"ENTITY_TYPE_ID": 2,
                                                                "ENTITY_ID": deal}}))
    list_sample = load(RQ + "links__crm-requisite-link-list.md__result")["result"][0]
    assert [{k: type(v) for k, v in r.items()} for r in listed] == [
        {k: type(v) for k, v in list_sample.items()}]
    assert listed[0]["ENTITY_ID"] == str(deal)
    assert ok(emu_call("crm.requisite.link.unregister", {"entityTypeId": 2,
                                                         "entityId": deal})) is True
    assert err(emu_call("crm.requisite.link.get", {"entityTypeId": 2, "entityId": deal}))[
        "error_description"] == "Not found"
    assert err(emu_call("crm.requisite.link.unregister", {"entityTypeId": 2})) == {
        **load(RQ + "links__crm-requisite-link-unregister.md__no-entity-id")}


def test_the_demo_deal_is_linked_to_our_company_and_its_client(emu_call):
    ours = ok(emu_call("crm.company.list", {"filter": {"IS_MY_COMPANY": "Y"},
                                            "select": ["ID", "TITLE"]}))
    assert [r["TITLE"] for r in ours] == ["ООО «Ромашка»"]
    link = ok(emu_call("crm.requisite.link.get", {"entityTypeId": 2, "entityId": 2}))
    mine = ok(emu_call("crm.requisite.get", {"id": link["MC_REQUISITE_ID"]}))
    assert (mine["ENTITY_ID"], mine["RQ_INN"], mine["RQ_DIRECTOR"], mine["RQ_CEO_WORK_POS"],
            mine["RQ_BASE_DOC"]) == (ours[0]["ID"], "7701234567", "Иванов Иван Иванович",
                                     "Генеральный директор", "Устава")
    bank = ok(emu_call("crm.requisite.bankdetail.get", {"id": link["MC_BANK_DETAIL_ID"]}))
    assert (bank["RQ_BIK"], bank["RQ_ACC_NUM"], bank["RQ_COR_ACC_NUM"]) == (
        "044525225", "40702810938000060473", "30101810400000000225")
    deal = ok(emu_call("crm.deal.get", {"id": 2}))
    theirs = ok(emu_call("crm.requisite.get", {"id": link["REQUISITE_ID"]}))
    assert theirs["ENTITY_ID"] == deal["COMPANY_ID"] and theirs["RQ_KPP"] == "540801001"
    legal = ok(emu_call("crm.address.list", {"filter": {"ENTITY_TYPE_ID": 8, "TYPE_ID": 6,
                                                        "ENTITY_ID": mine["ID"]}}))
    assert [(a["POSTAL_CODE"], a["CITY"]) for a in legal] == [("123456", "Москва")]
