"""Contacts, companies, bindings, duplicates, workload counting and the people control API."""

from __future__ import annotations

import requests


def _events(stub, name: str) -> list[dict]:
    return [r["form"] for r in stub.requests if r["form"].get("event") == name]


def test_contact_and_company_crud_with_multifields_and_events(emu_url, emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    for ev in ("ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE", "ONCRMCOMPANYADD"):
        assert emu_call("event.bind", {"event": ev, "handler": hook}).json()["result"]
    company = emu_call("crm.company.add", {"fields": {
        "TITLE": "Fast Freight", "ASSIGNED_BY_ID": 3,
        "EMAIL": [{"VALUE": "office@freight.test", "VALUE_TYPE": "WORK"}]}}).json()["result"]
    contact = emu_call("crm.contact.add", {"fields": {
        "NAME": "Oleg", "LAST_NAME": "Orlov", "COMPANY_ID": company, "ASSIGNED_BY_ID": 4,
        "PHONE": [{"VALUE": "+7 (900) 111-22-33", "VALUE_TYPE": "MOBILE"}]}}).json()["result"]
    got = emu_call("crm.contact.get", {"id": contact}).json()["result"]
    assert got["NAME"] == "Oleg" and got["COMPANY_ID"] == str(company)
    assert got["ASSIGNED_BY_ID"] == "4" and got["HAS_PHONE"] == "Y" and got["HAS_EMAIL"] == "N"
    assert "+03:00" in got["DATE_CREATE"] and got["DATE_MODIFY"]
    phone = got["PHONE"][0]
    assert set(phone) == {"ID", "VALUE_TYPE", "VALUE", "TYPE_ID"}
    assert phone["VALUE"] == "+7 (900) 111-22-33" and phone["TYPE_ID"] == "PHONE"
    assert "EMAIL" not in got
    # multi-field update: ID+VALUE changes, no ID adds, ID with empty VALUE deletes
    emu_call("crm.contact.update", {"id": contact, "fields": {"PHONE": [
        {"ID": phone["ID"], "VALUE": "+79001112244"}, {"VALUE": "+7 900 555 66 77"}]}})
    phones = emu_call("crm.contact.get", {"id": contact}).json()["result"]["PHONE"]
    assert [p["VALUE"] for p in phones] == ["+79001112244", "+7 900 555 66 77"]
    emu_call("crm.contact.update", {"id": contact, "fields": {"PHONE": [
        {"ID": phones[0]["ID"], "VALUE": ""}]}})
    phones = emu_call("crm.contact.get", {"id": contact}).json()["result"]["PHONE"]
    assert [p["VALUE"] for p in phones] == ["+7 900 555 66 77"]
    # list: multi-fields only when named in select
    plain = emu_call("crm.contact.list", {"filter": {"ID": contact}}).json()
    assert plain["total"] == 1 and "PHONE" not in plain["result"][0]
    named = emu_call("crm.contact.list", {"filter": {"ID": contact},
                                          "select": ["ID", "NAME", "PHONE", "EMAIL"]}).json()
    assert named["result"][0]["PHONE"][0]["VALUE"] == "+7 900 555 66 77"
    assert "EMAIL" not in named["result"][0]
    comp = emu_call("crm.company.get", {"id": company}).json()["result"]
    assert comp["TITLE"] == "Fast Freight" and comp["EMAIL"][0]["VALUE"] == "office@freight.test"
    fields = emu_call("crm.contact.fields").json()["result"]
    assert fields["PHONE"]["isMultiple"] is True and fields["COMPANY_ID"]["type"] == "crm_company"
    assert emu_call("crm.company.fields").json()["result"]["TITLE"]["type"] == "string"
    assert emu_call("crm.contact.delete", {"id": contact}).json()["result"] is True
    gone = emu_call("crm.contact.get", {"id": contact})
    # api-reference/crm/contacts/crm-contact-get.md: an empty code, "Not found"
    assert gone.status_code == 400 and gone.json() == {"error": "",
                                                       "error_description": "Not found"}
    emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMCONTACTDELETE")
    adds = _events(emu_app_stub, "ONCRMCONTACTADD")
    assert adds[0]["data"]["FIELDS"]["ID"] == str(contact)
    assert len(_events(emu_app_stub, "ONCRMCONTACTUPDATE")) == 2
    assert _events(emu_app_stub, "ONCRMCOMPANYADD")[0]["data"]["FIELDS"]["ID"] == str(company)


def test_deal_and_lead_bindings(emu_call):
    c1 = emu_call("crm.contact.add", {"fields": {"NAME": "A"}}).json()["result"]
    c2 = emu_call("crm.contact.add", {"fields": {"NAME": "B"}}).json()["result"]
    co = emu_call("crm.company.add", {"fields": {"TITLE": "Co"}}).json()["result"]
    deal = emu_call("crm.deal.add", {"fields": {"TITLE": "Bound", "CONTACT_IDS": [c1, c2],
                                                "COMPANY_ID": co}}).json()["result"]
    got = emu_call("crm.deal.get", {"id": deal}).json()["result"]
    assert got["CONTACT_ID"] == str(c1) and got["COMPANY_ID"] == str(co)
    items = emu_call("crm.deal.contact.items.get", {"id": deal}).json()["result"]
    assert [i["CONTACT_ID"] for i in items] == [c1, c2] and items[0]["IS_PRIMARY"] == "Y"
    found = emu_call("crm.deal.list", {"filter": {"COMPANY_ID": co}}).json()
    assert found["total"] == 1 and found["result"][0]["ID"] == str(deal)
    lead = emu_call("crm.lead.add", {"fields": {
        "TITLE": "Bound lead", "CONTACT_ID": c2, "COMPANY_ID": co,
        "PHONE": [{"VALUE": "8 900 000 00 01", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "Client@Mail.test", "VALUE_TYPE": "WORK"}]}}).json()["result"]
    got = emu_call("crm.lead.get", {"id": lead}).json()["result"]
    assert got["CONTACT_ID"] == str(c2) and got["COMPANY_ID"] == str(co)
    assert got["PHONE"][0]["VALUE"] == "8 900 000 00 01" and got["HAS_EMAIL"] == "Y"
    by_phone = emu_call("crm.lead.list", {"filter": {"PHONE": "8 900 000 00 01"}}).json()
    assert [r["ID"] for r in by_phone["result"]] == [str(lead)]
    emu_call("crm.contact.delete", {"id": c1})
    assert emu_call("crm.deal.get", {"id": deal}).json()["result"]["CONTACT_ID"] == str(c2)


def test_duplicate_findbycomm(emu_url, emu_tokens, emu_call):
    lead = emu_call("crm.lead.add", {"fields": {
        "PHONE": [{"VALUE": "+7 (900) 111-22-33"}],
        "EMAIL": [{"VALUE": "Boss@Client.test"}]}}).json()["result"]
    contact = emu_call("crm.contact.add", {"fields": {
        "NAME": "X", "PHONE": [{"VALUE": "79001112233"}]}}).json()["result"]
    company = emu_call("crm.company.add", {"fields": {
        "TITLE": "Y", "EMAIL": [{"VALUE": "boss@client.test"}]}}).json()["result"]
    r = emu_call("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["79001112233"]})
    assert r.json()["result"] == {"LEAD": [lead], "CONTACT": [contact]}
    r = emu_call("crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["BOSS@client.TEST"],
                                              "entity_type": "COMPANY"})
    assert r.json()["result"] == {"COMPANY": [company]}
    r = emu_call("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+1 555 0000"]})
    assert r.status_code == 200 and r.json()["result"] == []
    # only the first 20 values are looked at
    many = [f"+1 555 {i:04d}" for i in range(20)] + ["79001112233"]
    assert emu_call("crm.duplicate.findbycomm",
                    {"type": "PHONE", "values": many}).json()["result"] == []
    bad = emu_call("crm.duplicate.findbycomm", {"values": ["1"]})
    assert bad.status_code == 400 and bad.json()["error"] == "Communication type is not defined"
    bad = emu_call("crm.duplicate.findbycomm", {"type": "PHONE"})
    assert bad.json()["error"] == "Communication values is not defined"
    bad = emu_call("crm.duplicate.findbycomm", {"type": "FAX", "values": ["1"]})
    assert bad.status_code == 400 and "not supported" in bad.json()["error"]
    form = requests.post(f"{emu_url}/rest/crm.duplicate.findbycomm",
                         data={"auth": emu_tokens["access_token"], "type": "PHONE",
                               "values[]": "+7 900 111 22 33"}).json()
    assert form["result"]["CONTACT"] == [contact]


def test_workload_counting_through_list_filters(emu_url, emu_call, emu_tokens):
    base = emu_call("crm.lead.list", {"filter": {"ASSIGNED_BY_ID": 5, "STATUS_SEMANTIC_ID": "P"},
                                      "start": 0}).json()["total"]
    for status in ("NEW", "IN_PROCESS", "JUNK"):
        emu_call("crm.lead.add", {"fields": {"ASSIGNED_BY_ID": 5, "STATUS_ID": status}})
    r = emu_call("crm.lead.list", {"filter": {"ASSIGNED_BY_ID": 5, "STATUS_SEMANTIC_ID": "P"},
                                   "select": ["ID"], "start": 0}).json()
    assert r["total"] == base + 2
    # PHP-style form arrays: filter[@ASSIGNED_BY_ID][]=..
    form = requests.post(f"{emu_url}/rest/crm.lead.list", data=[
        ("auth", emu_tokens["access_token"]), ("filter[@ASSIGNED_BY_ID][]", "5"),
        ("filter[@ASSIGNED_BY_ID][]", "4"), ("filter[STATUS_SEMANTIC_ID]", "P"),
        ("select[]", "ID"), ("start", "0")]).json()
    four = emu_call("crm.lead.list", {"filter": {"ASSIGNED_BY_ID": 4, "STATUS_SEMANTIC_ID": "P"},
                                      "start": 0}).json()["total"]
    assert form["total"] == base + 2 + four
    # date comparisons are datetime comparisons, offsets included
    created = emu_call("crm.lead.list", {"filter": {"ASSIGNED_BY_ID": 5}, "order": {"ID": "DESC"},
                                         "select": ["ID", "DATE_CREATE"]}).json()["result"][0]
    stamp = created["DATE_CREATE"]  # e.g. 2026-11-23T03:40:00+03:00
    assert stamp.endswith("+03:00")
    utc_same = _shift(stamp, 0)
    later_utc = _shift(stamp, 60)
    n_same = emu_call("crm.lead.list", {"filter": {">=DATE_CREATE": utc_same,
                                                   "ASSIGNED_BY_ID": 5}}).json()["total"]
    n_later = emu_call("crm.lead.list", {"filter": {">=DATE_CREATE": later_utc,
                                                    "ASSIGNED_BY_ID": 5}}).json()["total"]
    assert n_same >= 1 and n_later == 0
    deals = emu_call("crm.deal.list", {"filter": {"STAGE_SEMANTIC_ID": "P", "CATEGORY_ID": 1},
                                       "start": 0}).json()
    assert deals["total"] == sum(1 for _ in _all(emu_call, "crm.deal.list",
                                                  {"STAGE_SEMANTIC_ID": "P", "CATEGORY_ID": 1}))


def _shift(stamp: str, seconds: int) -> str:
    from datetime import UTC, datetime, timedelta

    dt = datetime.fromisoformat(stamp).astimezone(UTC) + timedelta(seconds=seconds)
    return dt.isoformat()


def _all(emu_call, method: str, flt: dict):
    start = 0
    while True:
        page = emu_call(method, {"filter": flt, "start": start}).json()
        yield from page["result"]
        if "next" not in page:
            return
        start = page["next"]


def test_control_users_and_crm_entities(emu_url, emu_call, emu_app_stub):
    u = requests.post(f"{emu_url}/_emulator/users", json={
        "NAME": "Nina", "LAST_NAME": "New", "UF_DEPARTMENT": [2]}).json()
    uid = int(u["ID"])
    got = emu_call("user.get", {"FILTER": {"ID": uid}}).json()["result"][0]
    assert got["NAME"] == "Nina" and got["ACTIVE"] is True and got["UF_DEPARTMENT"] == [2]
    requests.post(f"{emu_url}/_emulator/users/{uid}", json={"ACTIVE": False})
    active = emu_call("user.get", {"FILTER": {"ACTIVE": True, "UF_DEPARTMENT": 2}}).json()
    assert str(uid) not in {x["ID"] for x in active["result"]}
    assert requests.post(f"{emu_url}/_emulator/users/999", json={}).status_code == 404
    hook = f"{emu_app_stub.url}/events"
    emu_call("event.bind", {"event": "ONCRMCOMPANYADD", "handler": hook})
    made = requests.post(f"{emu_url}/_emulator/crm/company",
                         json={"fields": {"TITLE": "Ctl Co"}}).json()
    assert made["fields"]["TITLE"] == "Ctl Co"
    emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMCOMPANYADD")
    c = requests.post(f"{emu_url}/_emulator/crm/contact",
                      json={"fields": {"NAME": "Ctl", "COMPANY_ID": made["id"]}}).json()
    assert emu_call("crm.contact.get", {"id": c["id"]}).json()["result"]["COMPANY_ID"] == str(
        made["id"])
    counts = requests.get(f"{emu_url}/_emulator/portal").json()["counts"]
    assert counts["companies"] >= 1 and counts["contacts"] >= 1


def test_timeman_status_semantics(emu_url, emu_call):
    requests.post(f"{emu_url}/_emulator/timeman", json={"user_id": 4, "status": "EXPIRED"})
    st = emu_call("timeman.status", {"USER_ID": 4}).json()["result"]
    assert st["STATUS"] == "EXPIRED" and st["TIME_START"] and st["TIME_FINISH_DEFAULT"]
    tok = requests.post(f"{emu_url}/_emulator/tokens", json={"user_id": 3}).json()
    other = emu_call("timeman.status", {"USER_ID": 4}, token=tok["access_token"])
    assert other.status_code == 403 and other.json()["error"] == "ACCESS_DENIED"
    own = emu_call("timeman.status", {}, token=tok["access_token"]).json()["result"]
    assert own["STATUS"] == "CLOSED"
