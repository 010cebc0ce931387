"""Account webhooks (amocrm.md §2): registration, v2 form bodies, retries on the clock,
auto-disable."""

from __future__ import annotations

from urllib.parse import parse_qsl

from amoemu.state import WON


def subscribe(amo, path="/hooks/amo", settings=None):
    return amo.call("POST", "/api/v4/webhooks", json={
        "destination": amo.receiver.url + path,
        "settings": settings or ["add_lead", "update_lead", "status_lead", "add_contact",
                                 "add_company", "note_lead", "responsible_lead"]})


def form(record):
    return dict(parse_qsl(record["body"], keep_blank_values=True))


def test_register_upsert_list_delete(amo):
    r = subscribe(amo, settings=["add_lead"])
    assert r.status_code == 201
    hook = r.json()
    assert hook["settings"] == ["add_lead"] and hook["disabled"] is False
    again = subscribe(amo, settings=["status_lead"])  # upsert by destination
    assert again.json()["id"] == hook["id"] and again.json()["settings"] == ["status_lead"]
    listed = amo.call("GET", "/api/v4/webhooks").json()
    assert listed["_total_items"] == 1
    assert amo.call("POST", "/api/v4/webhooks", json={
        "destination": "https://x/", "settings": ["nope"]}).status_code == 400
    gone = amo.call("DELETE", "/api/v4/webhooks",
                    json={"destination": amo.receiver.url + "/hooks/amo"})
    assert gone.status_code == 204 and gone.content == b""
    assert amo.call("DELETE", "/api/v4/webhooks",
                    json={"destination": "https://x/"}).status_code == 404


def test_status_change_delivered_form_encoded(amo):
    subscribe(amo)
    contact = amo.emu.create_contact(amo.acc.id, name="Ольга", phone="+79120000002")
    amo.emu.settle()
    lead = amo.emu.create_lead(amo.acc.id, name="Капот", price=35000,
                               _embedded={"contacts": [{"id": contact["id"]}]})
    amo.emu.settle()
    old = lead["status_id"]
    r = amo.call("PATCH", "/api/v4/leads", json=[{"id": lead["id"], "status_id": WON}])
    assert r.status_code == 200
    assert amo.emu.settle()
    got = amo.receiver.at("/hooks/amo")
    assert all(g["content_type"] == "application/x-www-form-urlencoded" for g in got)
    first = dict(parse_qsl(got[0]["body"]))
    assert first["contacts[add][0][type]"] == "contact"
    assert first["contacts[add][0][custom_fields][0][code]"] == "PHONE"
    assert first["contacts[add][0][custom_fields][0][values][0][value]"] == "+79120000002"
    assert "contacts[add][0][custom_fields][0][values][0][enum]" in first
    added = dict(parse_qsl(got[1]["body"]))
    assert added["leads[add][0][name]"] == "Капот"
    assert added["leads[add][0][price]"] == "35000"
    last = dict(parse_qsl(got[-1]["body"]))
    assert last["leads[status][0][id]"] == str(lead["id"])
    assert last["leads[status][0][status_id]"] == str(WON)
    assert last["leads[status][0][old_status_id]"] == str(old)
    assert last["leads[status][0][pipeline_id]"] == str(lead["pipeline_id"])
    assert last["leads[update][0][id]"] == str(lead["id"])
    for key in ("last_modified", "modified_user_id", "created_user_id", "date_create",
                "responsible_user_id", "account_id"):
        assert f"leads[status][0][{key}]" in last
    assert last["account[id]"] == str(amo.acc.id)
    assert last["account[subdomain]"] == "autoservis"
    assert last["account[_links][self]"] == "https://autoservis.amocrm.ru"
    assert not any("custom_fields_values" in k for k in last)
    records = amo.emu.deliveries(amo.acc.id)
    assert [r["status"] for r in records] == [200, 200, 200]
    assert records[-1]["attempt"] == 1 and records[-1]["url"].endswith("/hooks/amo")


def test_company_arrives_under_contacts_and_notes(amo):
    subscribe(amo)
    amo.emu.create_company(amo.acc.id, name="ООО Ромашка")
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    amo.emu.add_note(amo.acc.id, "leads", lead["id"], "Позвонить завтра")
    amo.emu.settle()
    bodies = [form(r) for r in amo.emu.deliveries(amo.acc.id)]
    assert bodies[0]["contacts[add][0][type]"] == "company"
    assert bodies[0]["contacts[add][0][name]"] == "ООО Ромашка"
    note = bodies[2]
    assert note["leads[note][0][note][element_id]"] == str(lead["id"])
    assert note["leads[note][0][note][text]"] == "Позвонить завтра"


def test_batch_carries_several_items(amo):
    subscribe(amo, settings=["add_lead"])
    amo.call("POST", "/api/v4/leads", json=[{"name": "A"}, {"name": "B"}])
    amo.emu.settle()
    [rec] = amo.emu.deliveries(amo.acc.id)
    body = form(rec)
    assert body["leads[add][0][name]"] == "A" and body["leads[add][1][name]"] == "B"


def test_retries_follow_the_table_on_the_clock(amo):
    amo.receiver.status["/hooks/amo"] = 500
    subscribe(amo, settings=["add_lead"])
    now = [amo.emu.clock()]
    amo.emu.clock = lambda: now[0]
    amo.emu.create_lead(amo.acc.id, name="L")
    amo.emu.settle()
    assert len(amo.emu.deliveries(amo.acc.id)) == 1
    for wait, attempts in ((299, 1), (1, 2), (900, 3), (900, 4), (3599, 4), (1, 5),
                           (86400, 5)):
        now[0] += wait
        amo.emu.settle()
        assert len(amo.emu.deliveries(amo.acc.id)) == attempts, wait
    assert [r["attempt"] for r in amo.emu.deliveries(amo.acc.id)] == [1, 2, 3, 4, 5]
    assert all(r["status"] == 500 for r in amo.emu.deliveries(amo.acc.id))


def test_4xx_gets_two_retries_and_2xx_none(amo):
    amo.receiver.status["/hooks/amo"] = 404
    subscribe(amo, settings=["add_lead"])
    now = [amo.emu.clock()]
    amo.emu.clock = lambda: now[0]
    amo.emu.create_lead(amo.acc.id, name="L")
    for _ in range(6):
        amo.emu.settle()
        now[0] += 3600
    assert [r["attempt"] for r in amo.emu.deliveries(amo.acc.id)] == [1, 2, 3]


def test_auto_disable_after_100_invalid_in_two_hours(amo):
    amo.receiver.status["/hooks/amo"] = 400
    subscribe(amo, settings=["add_lead"])
    amo.call("POST", "/api/v4/leads", json=[{"name": "x"}])
    amo.emu.settle()
    for _ in range(100):
        amo.emu.create_lead(amo.acc.id, name="L")
    amo.emu.settle(timeout=60)
    assert len(amo.emu.deliveries(amo.acc.id)) == 101
    assert amo.emu.webhooks(amo.acc.id)[0]["disabled"] is True
    amo.emu.create_lead(amo.acc.id, name="after")
    amo.emu.settle()
    assert len(amo.emu.deliveries(amo.acc.id)) == 101


def test_slow_answer_is_a_timeout(amo):
    amo.receiver.delay = 2.5
    subscribe(amo, settings=["add_lead"])
    amo.emu.create_lead(amo.acc.id, name="L")
    amo.emu.settle()
    [rec] = amo.emu.deliveries(amo.acc.id)
    assert rec["error"] == "timeout" and rec["status"] == 0 and not rec["valid"]
    assert amo.emu.pending(amo.acc.id)[0]["attempt"] == 2
