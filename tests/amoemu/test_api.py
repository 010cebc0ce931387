"""REST v4 (amocrm.md §4, §5): account, users, pipelines, lists and pages, batches,
validation errors, custom fields, tags, status moves, events, tasks, notes."""

from __future__ import annotations

from amoemu.state import LOST, WON


def test_account_with_extras(amo):
    r = amo.call("GET", "/api/v4/account?with=drive_url,is_api_filter_enabled,task_types")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/hal+json"
    out = r.json()
    assert out["drive_url"] == f"{amo.emu.url}/drive-b.amocrm.ru"
    assert out["is_api_filter_enabled"] is True
    assert [t["code"] for t in out["_embedded"]["task_types"]] == ["FOLLOW_UP", "MEETING"]
    assert out["subdomain"] == "autoservis" and out["current_user_id"] == amo.acc.admin_id


def test_users_admin_only(amo):
    r = amo.call("GET", "/api/v4/users")
    users = r.json()["_embedded"]["users"]
    assert {u["id"] for u in users} == {u.id for u in amo.acc.users}
    assert all("is_active" in u["rights"] and "is_free" in u["rights"] for u in users)
    manager = next(u for u in amo.acc.users if not u.is_admin)
    token = amo.emu.long_lived_token(amo.acc.id, user_id=manager.id)
    denied = amo.call("GET", "/api/v4/users", token=token)
    assert denied.status_code == 403
    assert denied.headers["Content-Type"] == "application/problem+json"


def test_pipelines_have_system_statuses(amo):
    out = amo.call("GET", "/api/v4/leads/pipelines").json()
    assert out["_total_items"] == 1
    statuses = out["_embedded"]["pipelines"][0]["_embedded"]["statuses"]
    by_id = {s["id"]: s for s in statuses}
    assert by_id[WON]["sort"] == 10000 and by_id[LOST]["sort"] == 11000
    assert not by_id[WON]["is_editable"]
    assert statuses[0]["type"] == 1  # unsorted


def test_pages_of_250_links_and_204(amo):
    items = [{"name": f"Сделка {i}", "price": i} for i in range(250)]
    assert amo.call("POST", "/api/v4/leads", json=items).status_code == 200
    assert amo.call("POST", "/api/v4/leads", json=items[:10]).status_code == 200
    first = amo.call("GET", "/api/v4/leads?limit=500")  # silently 250
    body = first.json()
    assert len(body["_embedded"]["leads"]) == 250 and body["_page"] == 1
    nxt = body["_links"]["next"]["href"]
    assert "limit=250" in nxt and "page=2" in nxt
    import requests

    second = requests.get(nxt, headers={"Authorization": f"Bearer {amo.token}"}, timeout=10)
    page2 = second.json()
    assert len(page2["_embedded"]["leads"]) == 10 and "next" not in page2["_links"]
    assert "prev" in page2["_links"]
    third = amo.call("GET", "/api/v4/leads?limit=250&page=3")
    assert third.status_code == 204 and third.content == b""
    assert amo.call("GET", "/api/v4/leads/999").status_code == 204


def test_batch_request_id_and_validation_error(amo):
    r = amo.call("POST", "/api/v4/leads", json=[{"name": "A", "request_id": "mine"},
                                                {"name": "B"}])
    out = r.json()["_embedded"]["leads"]
    assert [x["request_id"] for x in out] == ["mine", "1"]
    amo.emu.add_field(amo.acc.id, "leads", "Марка", "select", enums=["Kia", "Lada"])
    field = amo.acc.custom_fields["leads"][-1]
    bad = amo.call("POST", "/api/v4/leads", json=[
        {"name": "ok"},
        {"name": "C", "request_id": "x1", "custom_fields_values": [
            {"field_id": field["id"], "values": [{"value": "Volvo"}]}]}])
    assert bad.status_code == 400
    assert bad.headers["Content-Type"] == "application/problem+json"
    body = bad.json()
    assert body["detail"] == "Request validation failed" and body["status"] == 400
    assert body["validation-errors"] == [{"request_id": "x1", "errors": [{
        "code": "NotSupportedChoice", "path": "custom_fields_values.0.values.0.value",
        "detail": "The value you selected is not a valid choice."}]}]
    assert len(amo.emu.leads(amo.acc.id)) == 2  # nothing of the refused batch stays
    too_many = amo.call("POST", "/api/v4/leads", json=[{"name": "x"}] * 251)
    assert too_many.status_code == 400


def test_custom_fields_write_read_clear(amo):
    url = amo.emu.add_field(amo.acc.id, "leads", "Папка", "url")
    brand = amo.emu.add_field(amo.acc.id, "leads", "Марка", "select", enums=["Kia", "Lada"])
    lead = amo.emu.create_lead(amo.acc.id, name="Вмятина")
    r = amo.call("PATCH", f"/api/v4/leads/{lead['id']}", json={"custom_fields_values": [
        {"field_id": url["id"], "field_code": None, "values": [{"value": "https://d/x"}]},
        {"field_id": brand["id"], "values": [{"enum_id": brand["enums"][1]["id"]}]}]})
    assert r.status_code == 200 and r.json()["id"] == lead["id"]
    got = amo.call("GET", f"/api/v4/leads/{lead['id']}").json()["custom_fields_values"]
    assert {c["field_id"]: c["values"][0]["value"] for c in got} == {
        url["id"]: "https://d/x", brand["id"]: "Lada"}
    amo.call("PATCH", f"/api/v4/leads/{lead['id']}", json={"custom_fields_values": [
        {"field_id": url["id"], "values": None}]})
    got = amo.call("GET", f"/api/v4/leads/{lead['id']}").json()["custom_fields_values"]
    assert [c["field_id"] for c in got] == [brand["id"]]


def test_custom_fields_list_pages_of_50(amo):
    for i in range(60):
        amo.emu.add_field(amo.acc.id, "leads", f"Поле {i}", "text")
    r = amo.call("GET", "/api/v4/leads/custom_fields?limit=250").json()
    assert len(r["_embedded"]["custom_fields"]) == 50 and "next" in r["_links"]


def test_tags_replace_add_delete(amo):
    lead = amo.emu.create_lead(amo.acc.id, name="T", _embedded={"tags": [{"name": "a"}]})
    amo.call("PATCH", "/api/v4/leads", json=[{"id": lead["id"],
                                              "tags_to_add": [{"name": "b"}]}])
    tags = amo.call("GET", f"/api/v4/leads/{lead['id']}").json()["_embedded"]["tags"]
    assert [t["name"] for t in tags] == ["a", "b"]
    amo.call("PATCH", "/api/v4/leads", json=[{"id": lead["id"],
                                              "tags_to_delete": [{"name": "a"}]}])
    tags = amo.call("GET", f"/api/v4/leads/{lead['id']}").json()["_embedded"]["tags"]
    assert [t["name"] for t in tags] == ["b"]


def test_contacts_with_leads_and_filters(amo):
    c = amo.emu.create_contact(amo.acc.id, name="Сергей", phone="+79120000001")
    lead = amo.emu.create_lead(amo.acc.id, name="L", price=100,
                               _embedded={"contacts": [{"id": c["id"]}]})
    amo.emu.create_lead(amo.acc.id, name="Other")
    got = amo.call("GET", f"/api/v4/contacts/{c['id']}?with=leads").json()
    assert [x["id"] for x in got["_embedded"]["leads"]] == [lead["id"]]
    phone = got["custom_fields_values"][0]
    assert phone["field_code"] == "PHONE" and phone["values"][0]["enum_code"] == "WORK"
    lead_out = amo.call("GET", f"/api/v4/leads/{lead['id']}?with=contacts").json()
    assert lead_out["_embedded"]["contacts"][0] == {
        "id": c["id"], "is_main": True,
        "_links": {"self": {"href": f"{amo.base}/api/v4/contacts/{c['id']}"}}}
    one = amo.call("GET", "/api/v4/leads", params={"filter[id][]": lead["id"]}).json()
    assert [x["id"] for x in one["_embedded"]["leads"]] == [lead["id"]]
    pipeline = amo.acc.main_pipeline()
    sid = lead["status_id"]
    r = amo.call("GET", "/api/v4/leads", params={
        "filter[statuses][0][pipeline_id]": pipeline["id"],
        "filter[statuses][0][status_id]": sid, "order[id]": "desc"}).json()
    assert len(r["_embedded"]["leads"]) == 2 and r["_embedded"]["leads"][0]["id"] > lead["id"]


def test_status_moves_closed_at_and_events(amo):
    other = amo.emu.add_pipeline(amo.acc.id, "Повторный контакт", ["Напомнить"])
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    won = amo.call("PATCH", f"/api/v4/leads/{lead['id']}", json={"status_id": WON})
    assert won.status_code == 200
    assert amo.emu.lead(amo.acc.id, lead["id"])["closed_at"] is not None
    # another pipeline needs both pipeline_id and status_id
    only = amo.call("PATCH", f"/api/v4/leads/{lead['id']}", json={"pipeline_id": other["id"]})
    assert only.status_code == 400
    foreign = other["statuses"][1]["id"]
    assert amo.call("PATCH", f"/api/v4/leads/{lead['id']}",
                    json={"status_id": foreign}).status_code == 400
    moved = amo.call("PATCH", f"/api/v4/leads/{lead['id']}",
                     json={"status_id": foreign, "pipeline_id": other["id"]})
    assert moved.status_code == 200
    after = amo.emu.lead(amo.acc.id, lead["id"])
    assert after["pipeline_id"] == other["id"] and after["closed_at"] is None
    for params in ({"filter[type][]": "lead_status_changed", "filter[entity][]": "lead",
                    "filter[entity_id][]": lead["id"]},
                   {"filter[type]": "lead_status_changed,lead_added", "filter[entity]": "lead",
                    "filter[entity_id]": f"{lead['id']}"}):
        events = amo.call("GET", "/api/v4/events", params=params).json()["_embedded"]["events"]
        changes = [e for e in events if e["type"] == "lead_status_changed"]
        assert len(changes) == 2 and isinstance(changes[0]["id"], str)
        assert changes[0]["value_after"] == [{"lead_status": {"id": foreign,
                                                               "pipeline_id": other["id"]}}]
        assert changes[1]["value_after"] == [{"lead_status": {
            "id": WON, "pipeline_id": lead["pipeline_id"]}}]
    target = amo.call("GET", "/api/v4/events", params={
        "filter[type]": "lead_status_changed",
        "filter[value_after][leads_statuses][0][pipeline_id]": other["id"],
        "filter[value_after][leads_statuses][0][status_id]": foreign}).json()
    assert len(target["_embedded"]["events"]) == 1
    assert len(amo.call("GET", "/api/v4/events?limit=500").json()["_embedded"]["events"]) <= 100


def test_tasks_and_notes(amo):
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    bad = amo.call("POST", "/api/v4/tasks", json=[{"text": "Позвонить"}])
    assert bad.status_code == 400
    assert bad.json()["validation-errors"][0]["errors"][0]["path"] == "complete_till"
    ok = amo.call("POST", "/api/v4/tasks", json=[{
        "text": "Позвонить", "complete_till": 2_000_000_000, "entity_type": "leads",
        "entity_id": lead["id"], "task_type_id": 1}])
    assert ok.status_code == 200
    tasks = amo.call("GET", "/api/v4/tasks", params={
        "filter[entity_type]": "leads", "filter[entity_id][]": lead["id"],
        "filter[is_completed]": 0}).json()["_embedded"]["tasks"]
    assert len(tasks) == 1 and tasks[0]["responsible_user_id"] == amo.acc.admin_id
    note = amo.call("POST", f"/api/v4/leads/{lead['id']}/notes", json=[
        {"note_type": "common", "params": {"text": "Клиент перезвонит"}}])
    assert note.status_code == 200
    assert note.json()["_embedded"]["notes"][0]["request_id"] == "0"
    svc = amo.call("POST", "/api/v4/leads/notes", json=[
        {"entity_id": lead["id"], "note_type": "service_message",
         "params": {"service": "Коннектор", "text": "Документ готов"}}])
    assert svc.status_code == 200
    notes = amo.call("GET", f"/api/v4/leads/{lead['id']}/notes").json()["_embedded"]["notes"]
    assert [n["note_type"] for n in notes] == ["common", "service_message"]
    assert amo.call("POST", "/api/v4/leads/notes", json=[
        {"entity_id": lead["id"], "note_type": "nonsense"}]).status_code == 400


def test_unpaid_account_402(amo):
    amo.emu.set_paid(amo.acc.id, False)
    assert amo.call("POST", "/api/v4/leads", json=[{"name": "x"}]).status_code == 402
    assert amo.call("GET", "/api/v4/events").status_code == 402
    assert amo.call("GET", "/api/v4/account").status_code == 200
