"""The portal towards the app: install, events, offline queue, robots, update, uninstall."""

from __future__ import annotations

import requests


def _control(url: str, method: str, path: str, **kw):
    resp = requests.request(method, f"{url}/_emulator/{path}", timeout=10, **kw)
    assert resp.status_code < 500, resp.text
    return resp.json()


def test_install_flow_posts_installer_and_onappinstall(emu_url, emu_app_stub):
    result = _control(emu_url, "POST", "install", json={"event": "after"})
    assert result["status_code"] == 200 and result["installed"] is True
    page = emu_app_stub.wait_for(lambda r: r["path"] == "/install")
    portal = _control(emu_url, "GET", "portal")
    assert page["query"]["DOMAIN"] == portal["domain"] == "demo.bitrix24.test"
    assert page["query"]["PROTOCOL"] == "1" and page["query"]["APP_SID"]  # https (cloud)
    form = page["form"]
    assert form["member_id"] == portal["member_id"] and form["PLACEMENT"] == "DEFAULT"
    assert form["APPLICATION_TOKEN"] == portal["application_token"]
    assert form["SERVER_ENDPOINT"] == f"{emu_url}/oauth-server/rest/"
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONAPPINSTALL")
    assert ev["path"] == "/events"
    assert ev["form"]["data"] == {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y",
                                  "LANGUAGE_ID": "en"}
    auth = ev["form"]["auth"]
    assert auth["refresh_token"] and auth["application_token"] == portal["application_token"]
    assert " " in auth["scope"] and auth["client_endpoint"] == f"{emu_url}/rest/"
    # the installer's token proves itself on the OAuth server
    info = requests.get(f"{emu_url}/oauth-server/rest/app.info",
                        params={"auth": form["AUTH_ID"]}).json()["result"]
    assert info["install"]["member_id"] == portal["member_id"]
    assert info["install"]["domain"] == portal["domain"] and info["install"]["installed"]
    app_info = requests.get(f"{emu_url}/rest/app.info", params={"auth": form["AUTH_ID"]}).json()
    assert app_info["result"]["INSTALLED"] is True


def test_install_without_install_finish_is_not_installed(emu_url, emu_app_stub):
    emu_app_stub.install_html = "<p>oops</p>"
    result = _control(emu_url, "POST", "install", json={"event": "none"})
    assert result["installed"] is False
    assert not any(r["path"] == "/events" for r in emu_app_stub.requests)


def test_online_event_delivery_after_deal_add(emu_url, emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    assert emu_call("event.bind", {"event": "ONCRMDEALADD", "handler": hook}).json()["result"]
    dup = emu_call("event.bind", {"event": "onCrmDealAdd", "handler": hook})
    assert dup.status_code == 400 and dup.json() == {
        "error": "ERROR_CORE",
        "error_description": "Unable to set event handler: Handler already binded"}
    assert emu_call("event.bind", {"event": "ONNOPE", "handler": hook}).json()["error"] == (
        "ERROR_EVENT_NOT_FOUND")
    bound = emu_call("event.get").json()["result"]
    assert bound == [{"event": "ONCRMDEALADD", "handler": hook, "auth_type": "0", "offline": 0}]
    deal_id = emu_call("crm.deal.add", {"fields": {"TITLE": "Ping"}}).json()["result"]
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMDEALADD")
    form = ev["form"]
    assert form["data"]["FIELDS"]["ID"] == str(deal_id)
    assert form["event_handler_id"] and form["ts"]
    assert form["auth"]["access_token"] and "refresh_token" not in form["auth"]
    portal = _control(emu_url, "GET", "portal")
    assert form["auth"]["application_token"] == portal["application_token"]
    assert form["auth"]["member_id"] == portal["member_id"]
    deliveries = _control(emu_url, "GET", "deliveries", params={"wait": 2})
    assert any(d["event"] == "ONCRMDEALADD" and d["status_code"] == 200 for d in deliveries)
    # control API change also fires
    _control(emu_url, "POST", "crm/deal", json={"fields": {"TITLE": "From control"}})
    emu_app_stub.wait_for(lambda r: r["form"].get("data", {}).get("FIELDS", {}).get("ID")
                          == str(deal_id + 1))


def test_offline_queue_reserve_and_clear(emu_call):
    assert emu_call("event.bind", {"event": "ONCRMDEALUPDATE",
                                   "event_type": "offline"}).json()["result"]
    for _ in range(3):
        emu_call("crm.deal.update", {"id": 1, "fields": {"TITLE": "x"}})
    emu_call("crm.deal.update", {"id": 2, "fields": {"TITLE": "y"}})
    got = emu_call("event.offline.get", {"clear": 0, "limit": 10}).json()["result"]
    events = got["events"]
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in events] == [1, 2]  # latest state per object
    assert set(events[0]) == {"ID", "TIMESTAMP_X", "EVENT_NAME", "EVENT_DATA",
                              "EVENT_ADDITIONAL", "MESSAGE_ID"}
    assert emu_call("event.offline.get", {"clear": 0}).json()["result"]["events"] == []
    again = emu_call("event.offline.get", {"process_id": got["process_id"], "clear": 0})
    assert len(again.json()["result"]["events"]) == 2
    emu_call("event.offline.clear", {"process_id": got["process_id"],
                                     "message_id": [events[0]["MESSAGE_ID"]]})
    listed = emu_call("event.offline.list").json()
    assert listed["total"] == 1
    emu_call("event.offline.clear", {"process_id": got["process_id"]})
    assert emu_call("event.offline.list").json()["total"] == 0
    missing = emu_call("event.offline.clear", {})
    assert missing.status_code == 400


def test_robot_run_and_event_send(emu_url, emu_call, emu_app_stub):
    handler = f"{emu_app_stub.url}/robots/assign"
    robot = {"CODE": "assign_lead", "HANDLER": handler, "NAME": {"en": "Assign"},
             "USE_SUBSCRIPTION": "Y",
             "PROPERTIES": {"mode": {"Name": "Mode", "Type": "string"}},
             "RETURN_PROPERTIES": {"user": {"Name": "User", "Type": "user"}}}
    assert emu_call("bizproc.robot.add", robot).json()["result"] is True
    assert emu_call("bizproc.robot.add", robot).json()["error"] == (
        "ERROR_ACTIVITY_ALREADY_INSTALLED")
    bad = emu_call("bizproc.robot.add", {**robot, "CODE": "bad code!"}).json()
    assert bad["error"] == "ERROR_ACTIVITY_VALIDATION_FAILURE"
    assert emu_call("bizproc.robot.list").json()["result"] == ["assign_lead"]
    run = _control(emu_url, "POST", "robots/run", json={
        "code": "assign_lead", "document_id": ["crm", "CCrmDocumentLead", "LEAD_5"],
        "properties": {"mode": "round"}})
    assert run["status_code"] == 200
    req = emu_app_stub.wait_for(lambda r: r["path"] == "/robots/assign")
    form = req["form"]
    assert form["event_token"] == run["event_token"] and form["code"] == "assign_lead"
    assert form["document_id"] == ["crm", "CCrmDocumentLead", "LEAD_5"]
    assert form["document_type"] == ["crm", "CCrmDocumentLead", "LEAD"]
    assert form["properties"] == {"mode": "round"} and form["use_subscription"] == "Y"
    assert form["auth"]["refresh_token"] and form["workflow_id"]
    ok = emu_call("bizproc.event.send", {"EVENT_TOKEN": run["event_token"],
                                         "RETURN_VALUES": {"user": "user_3"}})
    assert ok.json()["result"] is True
    second = emu_call("bizproc.event.send", {"EVENT_TOKEN": run["event_token"]})
    assert second.status_code == 403 and second.json()["error"] == "ACCESS_DENIED"
    res = _control(emu_url, "GET", "robots/results", params={"event_token": run["event_token"]})
    assert res["completed"] is True and len(res["calls"]) == 2
    assert res["calls"][0]["RETURN_VALUES"] == {"user": "user_3"} and res["calls"][0]["ok"]
    unknown = emu_call("bizproc.event.send", {"EVENT_TOKEN": "zzz"})
    assert unknown.status_code == 403
    assert len(_control(emu_url, "GET", "robots/results",
                        params={"event_token": "zzz"})["calls"]) == 1


def test_update_wipes_robots_and_uninstall_revokes(emu_url, emu_call, emu_tokens, emu_app_stub):
    emu_call("bizproc.robot.add", {"CODE": "r1", "HANDLER": f"{emu_app_stub.url}/robots/r1",
                                   "NAME": "R1"})
    emu_call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB",
                                "HANDLER": f"{emu_app_stub.url}/placements/tab", "TITLE": "Tab"})
    emu_call("app.option.set", {"options": {"k": "v"}})
    before = _control(emu_url, "GET", "portal")["application_token"]
    upd = _control(emu_url, "POST", "update", json={"version": 2})
    assert upd["version"] == 2 and upd["application_token"] != before
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONAPPUPDATE")
    assert ev["form"]["data"]["PREVIOUS_VERSION"] == "1"
    assert emu_call("bizproc.robot.list").json()["result"] == []
    assert len(emu_call("placement.get").json()["result"]) == 1
    _control(emu_url, "POST", "uninstall", json={"clean": True})
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONAPPUNINSTALL")
    assert ev["form"]["data"]["CLEAN"] == "1"
    assert "access_token" not in ev["form"]["auth"]
    assert ev["form"]["auth"]["application_token"] == upd["application_token"]
    r = emu_call("profile")
    assert r.status_code == 401
    refresh = requests.get(f"{emu_url}/oauth/token/", params={
        "grant_type": "refresh_token", "client_id": "local.demo", "client_secret": "demo-secret",
        "refresh_token": emu_tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"
    portal = _control(emu_url, "GET", "portal")
    assert portal["installed"] is False and portal["options"] == {}
    assert portal["placements"] == [] and portal["event_bindings"] == []


def test_timeman_and_notifications(emu_url, emu_call):
    _control(emu_url, "POST", "timeman", json={"user_id": 3, "status": "PAUSED"})
    st = emu_call("timeman.status", {"USER_ID": 3}).json()["result"]
    assert st["STATUS"] == "PAUSED" and st["ACTIVE"] is True
    assert emu_call("im.notify.system.add", {"USER_ID": 3, "MESSAGE": "hi"}).json()["result"]
    note = _control(emu_url, "GET", "notifications")["notifications"][0]
    assert note["USER_ID"] == 3 and note["MESSAGE"] == "hi"
    assert emu_call("crm.timeline.comment.add", {"FIELDS": {"ENTITY_ID": 1}}).status_code == 400
    ok = emu_call("crm.timeline.comment.add", {"fields": {
        "ENTITY_ID": 1, "ENTITY_TYPE": "deal", "COMMENT": "note"}})
    assert ok.json()["result"] == 1


def test_bulk_seed_and_cursor_listing_are_fast(emu_url, emu_call):
    import time

    res = _control(emu_url, "POST", "seed", json={"deals": 100000})
    assert res["deals"] == 100030  # speed is measured by bench.bulk_listing, not here
    requests.post(f"{emu_url}/_emulator/limits", json={"enabled": False})
    t = time.perf_counter()
    last, pages = 99000, 0
    while pages < 20:
        rows = emu_call("crm.deal.list", {"order": {"ID": "ASC"}, "filter": {">ID": last},
                                          "select": ["ID"], "start": -1}).json()["result"]
        pages += 1
        last = int(rows[-1]["ID"])
    assert time.perf_counter() - t < 2
    assert last == 99000 + 20 * 50


def test_second_portal_is_isolated_and_expire_tokens(emu_url, emu_call):
    other = _control(emu_url, "POST", "portals", json={"domain": "second.bitrix24.test"})
    default = _control(emu_url, "GET", "portal")
    assert other["member_id"] != default["member_id"] and other["counts"]["deals"] == 0
    tok = _control(emu_url, "POST", "tokens", json={"member_id": other["member_id"]})
    assert tok["member_id"] == other["member_id"]
    r = requests.post(f"{emu_url}/rest/crm.deal.list", json={"auth": tok["access_token"]})
    assert r.json()["result"] == [] and r.json()["total"] == 0
    assert emu_call("crm.deal.list").json()["total"] == 30
    assert _control(emu_url, "POST", "expire-tokens", json={})["expired"] >= 2
    r = emu_call("profile")
    assert r.status_code == 401 and r.json()["error"] == "expired_token"
    fresh = requests.get(f"{emu_url}/oauth/token/", params={
        "grant_type": "refresh_token", "client_id": "local.demo", "client_secret": "demo-secret",
        "refresh_token": tok["refresh_token"]}).json()
    ok = requests.post(f"{emu_url}/rest/profile", json={"auth": fresh["access_token"]})
    assert ok.status_code == 200
    log = _control(emu_url, "GET", "log", params={"since": 0})
    assert any(e["method"] == "oauth.token" for e in log)
    assert any(e["status"] == 401 and e["error"] == "expired_token" for e in log)
