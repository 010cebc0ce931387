"""Limits (amocrm.md §5), faults, the digital-pipeline and Salesbot calls (§3), the Files
host (§4.10), the control API and the demo account."""

from __future__ import annotations

import json
import time

import jwt
import requests

from amoemu import AmoEmulator
from tests.amoemu.conftest import CLIENT_ID, CLIENT_SECRET

# amocrm.md §3.1: the documented DP widget body (current docs)
DP_SAMPLE = {"event": {"type": 15, "type_code": "lead_appeared_in_status",
                       "data": {"id": 123124, "element_type": 2, "status_id": 654324,
                                "pipeline_id": 654324,
                                "direction_of_movement": "went_to_trigger"},
                       "time": 1491300016},
             "action": {"settings": {"widget": {"settings": {}}}},
             "subdomain": "ivanov", "account_id": 30441694}


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__


def test_429_after_eight_quick_calls_then_block(amo):
    amo.emu.limits(enabled=True, block_after=3)
    codes = [amo.call("GET", "/api/v4/account").status_code for _ in range(8)]
    assert codes[:7] == [200] * 7 and codes[7] == 429
    r = amo.call("GET", "/api/v4/account")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")
    amo.call("GET", "/api/v4/account")
    blocked = amo.call("GET", "/api/v4/account")
    assert blocked.status_code == 403 and "nginx" in blocked.text
    stats = amo.emu.stats(amo.acc.id)
    assert stats["blocked"] and stats["limited_429"] == 3
    assert stats["max_in_one_second"] >= 8
    assert stats["by_path"]["GET /api/v4/account"] == stats["requests"]
    time.sleep(1.1)
    assert amo.call("GET", "/api/v4/account").status_code == 403  # until unblock
    amo.emu.unblock(amo.acc.id)
    assert amo.call("GET", "/api/v4/account").status_code == 200


def test_paced_calls_are_never_limited(amo):
    amo.emu.limits(enabled=True)
    for _ in range(10):
        assert amo.call("GET", "/api/v4/account").status_code == 200
        time.sleep(0.16)
    stats = amo.emu.stats(amo.acc.id)
    assert stats["limited_429"] == 0 and stats["max_in_one_second"] <= 7


def test_block_and_faults(amo):
    amo.emu.block(amo.acc.id)
    assert amo.call("GET", "/api/v4/leads").status_code == 403
    amo.emu.unblock(amo.acc.id)
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    amo.emu.fault(amo.acc.id, method="PATCH", path=r"^/api/v4/leads", status=500, count=1)
    assert amo.call("PATCH", f"/api/v4/leads/{lead['id']}", json={"price": 1}).status_code == 500
    assert amo.call("PATCH", f"/api/v4/leads/{lead['id']}", json={"price": 1}).status_code == 200
    amo.emu.fault(amo.acc.id, path="^/api/v4/account", status=504, body={"title": "GW"})
    r = amo.call("GET", "/api/v4/account")
    assert r.status_code == 504 and r.json() == {"title": "GW"}


def test_dp_action_body(amo, receiver):
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    status, body = amo.emu.run_dp_action(amo.acc.id, lead["id"], settings={"doc": "act"},
                                         webhook_url=receiver.url + "/amocrm/dp")
    assert status == 200 and body == "ok"
    [hit] = receiver.at("/amocrm/dp")
    sent = json.loads(hit["body"])
    assert shape(sent) == shape({**DP_SAMPLE, "action": {"settings": {"widget": {
        "settings": {"doc": "act"}}}}})
    assert sent["event"]["data"]["id"] == lead["id"]
    assert sent["event"]["data"]["status_id"] == lead["status_id"]
    assert sent["action"]["settings"]["widget"]["settings"] == {"doc": "act"}
    assert sent["account_id"] == amo.acc.id and sent["subdomain"] == "autoservis"


def test_salesbot_widget_request_and_continue(amo, receiver):
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    status, _, return_url = amo.emu.salesbot_request(
        amo.acc.id, lead["id"], receiver.url + "/amocrm/bot", data={"x": "1"})
    assert status == 200
    sent = json.loads(receiver.at("/amocrm/bot")[0]["body"])
    claims = jwt.decode(sent["token"], CLIENT_SECRET, algorithms=["HS512"],
                        options={"verify_aud": False})
    assert claims["entity_id"] == lead["id"] and claims["account_id"] == amo.acc.id
    assert sent["data"] == {"x": "1"} and sent["return_url"] == return_url
    auth = {"Authorization": f"Bearer {amo.token}"}
    r = requests.post(return_url, json={"data": {"ok": True}}, headers=auth, timeout=10)
    assert r.status_code == 202
    assert requests.post(return_url, json={}, headers=auth, timeout=10).status_code == 404
    assert amo.emu.salesbot_continued(amo.acc.id)[0]["data"] == {"ok": True}


def test_files_session_chunks_and_links(amo):
    drive = amo.call("GET", "/api/v4/account?with=drive_url").json()["drive_url"]
    auth = {"Authorization": f"Bearer {amo.token}"}
    content = b"x" * 600_000 + b"end"
    s = requests.post(f"{drive}/v1.0/sessions", json={
        "file_name": "акт.pdf", "file_size": len(content), "content_type": "application/pdf"},
        headers=auth, timeout=10).json()
    assert s["max_part_size"] == 524288 and s["upload_url"].startswith(drive)
    part1 = requests.post(s["upload_url"], data=content[:524288], headers=auth,
                          timeout=10).json()
    assert part1["session_id"] == s["session_id"] and "next_url" in part1
    model = requests.post(part1["next_url"], data=content[524288:], headers=auth,
                          timeout=10).json()
    assert model["size"] == len(content) and model["name"] == "акт.pdf"
    got = requests.get(f"{drive}/v1.0/files/{model['uuid']}", headers=auth, timeout=10)
    assert got.headers["Content-Type"] == "application/json"
    assert got.json()["version_uuid"] == model["version_uuid"]
    data = requests.get(model["_links"]["download"]["href"], headers=auth, timeout=10)
    assert data.content == content
    lead = amo.emu.create_lead(amo.acc.id, name="L")
    assert amo.call("GET", f"/api/v4/leads/{lead['id']}/files").status_code == 204
    put = amo.call("PUT", f"/api/v4/leads/{lead['id']}/files",
                   json=[{"file_uuid": model["uuid"]}])
    assert put.status_code == 202
    files = amo.call("GET", f"/api/v4/leads/{lead['id']}/files").json()["_embedded"]["files"]
    assert [f["file_uuid"] for f in files] == [model["uuid"]]
    note = amo.call("POST", f"/api/v4/leads/{lead['id']}/notes", json=[{
        "note_type": "attachment", "params": {"file_uuid": model["uuid"],
                                              "file_name": "акт.pdf"}}])
    assert note.status_code == 200
    assert requests.post(s["upload_url"], data=b"x", headers=auth,
                         timeout=10).status_code == 404


def test_control_api(amo, receiver):
    url = f"{amo.emu.url}/_emulator/accounts/{amo.acc.id}"
    lead = requests.post(f"{url}/leads", json={"name": "Через пульт", "price": 5},
                         timeout=10).json()
    assert lead["name"] == "Через пульт"
    moved = requests.post(f"{url}/leads/{lead['id']}/status", json={"status_id": 142},
                          timeout=10).json()
    assert moved["status_id"] == 142
    tok = requests.post(f"{url}/long_lived_token", json={"days": 2}, timeout=10).json()
    assert amo.call("GET", "/api/v4/account", token=tok["access_token"]).status_code == 200
    grant = requests.post(f"{url}/authorize", json={"state": "z"}, timeout=10).json()
    assert grant["state"] == "z" and grant["code"]
    assert requests.get(f"{url}/stats", timeout=10).json()["requests"] >= 1
    accounts = requests.get(f"{amo.emu.url}/_emulator/accounts", timeout=10).json()
    assert accounts["accounts"][0]["domain"] == "autoservis.amocrm.ru"
    dp = requests.post(f"{url}/dp_action", json={"lead_id": lead["id"], "settings": {},
                                                 "webhook_url": receiver.url + "/dp"},
                       timeout=10).json()
    assert dp["status"] == 200


def test_demo_account_and_kommo_zone():
    with AmoEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, demo=True) as emu:
        acc = next(iter(emu.state.accounts.values()))
        assert acc.domain == "autoservis.amocrm.ru"
        names = [p["name"] for p in acc.pipelines.values()]
        assert names == ["Ремонт", "Повторный контакт"]
        stages = [s["name"] for s in acc.main_pipeline()["statuses"]]
        assert stages[1:6] == ["Заявка", "Осмотр", "Согласование", "В работе", "Готово"]
        from amoemu import demo

        assert acc.name == demo.NAME == "Автосервис Вмятин.нет"
        assert len(acc.leads) == len(demo.LEADS) and all(
            lead["price"] for lead in acc.leads.values())
        assert len([u for u in acc.users if not u.is_admin]) >= 4
        kommo = emu.add_account("dentshop", zone="kommo.com")
        assert kommo.drive_domain == "drive-c.kommo.com"
        assert emu.authorize(kommo.id)["platform"] == "2"
