"""REST gateway: auth, tokens, params, errors, batch, lists, limits, faults."""

from __future__ import annotations

import time

import requests

from emulator import Emulator, EmulatorConfig, EmulatorServer

CREDS = {"client_id": "local.demo", "client_secret": "demo-secret"}


def test_refresh_is_single_use(emu_url, emu_tokens):
    data = {"grant_type": "refresh_token", "refresh_token": emu_tokens["refresh_token"], **CREDS}
    first = requests.get(f"{emu_url}/oauth/token/", params=data)
    assert first.status_code == 200
    new = first.json()
    assert new["client_endpoint"] == f"{emu_url}/rest/"
    assert new["server_endpoint"] == f"{emu_url}/oauth-server/rest/"
    assert new["member_id"] and new["expires_in"] == 3600 and new["refresh_token"]
    again = requests.get(f"{emu_url}/oauth-server/oauth/token/", params=data)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    bad = requests.get(f"{emu_url}/oauth/token/", params={**data, "client_secret": "x",
                                                          "refresh_token": new["refresh_token"]})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    # the old access token died with its refresh token; the new one works
    old = requests.get(f"{emu_url}/rest/profile", params={"auth": emu_tokens["access_token"]})
    assert old.status_code == 401 and old.json()["error"] == "expired_token"
    ok = requests.get(f"{emu_url}/rest/profile", params={"auth": new["access_token"]})
    assert ok.status_code == 200 and ok.json()["result"]["ADMIN"] is True
    stats = requests.get(f"{emu_url}/_emulator/stats").json()
    assert stats["token_calls"] == 3


def test_expired_token_and_no_auth(emu_app_stub):
    server = EmulatorServer(Emulator(EmulatorConfig(app_url=emu_app_stub.url, token_ttl=0.3)))
    server.start()
    try:
        tok = requests.post(f"{server.url}/_emulator/tokens", json={}).json()
        assert requests.get(f"{server.url}/rest/profile",
                            params={"auth": tok["access_token"]}).status_code == 200
        time.sleep(0.4)
        r = requests.get(f"{server.url}/rest/profile", params={"auth": tok["access_token"]})
        assert r.status_code == 401
        assert r.json() == {"error": "expired_token",
                            "error_description": "The access token provided has expired"}
        info = requests.get(f"{server.url}/oauth-server/rest/app.info",
                            params={"auth": tok["access_token"]})
        assert info.status_code == 401 and info.json()["error"] == "expired_token"
    finally:
        server.stop()


def test_no_auth_found_and_unknown_method(emu_url, emu_call):
    r = requests.get(f"{emu_url}/rest/profile")
    assert r.status_code == 401 and r.json()["error"] == "NO_AUTH_FOUND"
    r = requests.get(f"{emu_url}/rest/profile", params={"auth": "nope"})
    assert r.status_code == 401 and r.json()["error"] == "NO_AUTH_FOUND"
    r = emu_call("crm.nothing.here")
    assert r.status_code == 404 and r.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_case_insensitive_suffix_bearer_and_forms(emu_url, emu_tokens):
    token = emu_tokens["access_token"]
    r = requests.get(f"{emu_url}/rest/USER.Current.json",
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["result"]["ID"] == "1"
    assert set(r.json()["time"]) >= {"start", "finish", "duration", "processing", "date_start",
                                     "date_finish", "operating_reset_at", "operating"}
    r = requests.post(f"{emu_url}/rest/crm.deal.add",
                      data={"auth": token, "fields[TITLE]": "Form deal",
                            "fields[UF_CRM_X]": "1", "fields[OPPORTUNITY]": "12.5"})
    deal_id = r.json()["result"]
    got = requests.post(f"{emu_url}/rest/crm.deal.get.json",
                        json={"auth": token, "id": deal_id}).json()["result"]
    assert got["TITLE"] == "Form deal" and got["UF_CRM_X"] == "1"
    assert got["OPPORTUNITY"] == "12.50" and got["STAGE_SEMANTIC_ID"] == "P"
    assert "+03:00" in got["DATE_CREATE"]
    r = requests.get(f"{emu_url}/rest/crm.deal.get", params={"access_token": token, "id": 999999})
    assert r.status_code == 400 and r.json()["error"] == ""  # crm-deal-get.md: empty code


def test_batch_references_halt_and_limits(emu_call):
    r = emu_call("batch", {"halt": 0, "cmd": {
        "add": "crm.deal.add?fields[TITLE]=Batched",
        "get": "crm.deal.get?id=$result[add]",
        "list": "crm.deal.list?filter[>ID]=5&order[ID]=ASC&start=-1",
        "first": "crm.deal.get?id=$result[list][0][ID]",
        "bad": "no.such.method",
        "title": "crm.deal.list?filter[TITLE]=$result[get][TITLE]",
    }})
    assert r.status_code == 200
    res = r.json()["result"]
    assert res["result"]["get"]["TITLE"] == "Batched"
    assert res["result"]["first"]["ID"] == "6"
    assert res["result_error"]["bad"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert res["result_total"]["title"] == 1
    assert "list" not in res["result_total"]
    assert set(res["result_time"]) == {"add", "get", "list", "first", "title"}
    halted = emu_call("batch", {"halt": 1, "cmd": ["no.such", "profile"]}).json()["result"]
    assert halted["result"] == [] and halted["result_error"][0]["error"]
    nested = emu_call("batch", {"cmd": {"x": "batch?cmd[y]=profile"}}).json()["result"]
    assert nested["result_error"]["x"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"
    too_many = emu_call("batch", {"cmd": ["profile"] * 51})
    assert too_many.status_code == 400
    assert too_many.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_list_paging_and_fast_listing(emu_url, emu_call):
    requests.post(f"{emu_url}/_emulator/seed", json={"deals": 100})  # 30 seeded + 100
    p1 = emu_call("crm.deal.list", {"order": {"ID": "ASC"}}).json()
    assert len(p1["result"]) == 50 and p1["next"] == 50 and p1["total"] == 130
    p3 = emu_call("crm.deal.list", {"start": 100}).json()
    assert len(p3["result"]) == 30 and "next" not in p3 and p3["total"] == 130
    fast = emu_call("crm.deal.list", {"start": -1, "filter": {">ID": 120},
                                      "order": {"ID": "ASC"}, "select": ["ID"]}).json()
    assert [d["ID"] for d in fast["result"]] == [str(i) for i in range(121, 131)]
    assert "total" not in fast and "next" not in fast
    desc = emu_call("crm.deal.list", {"order": {"ID": "DESC"}, "start": -1}).json()
    assert desc["result"][0]["ID"] == "130"


def test_filter_operators(emu_call):
    for i, (title, amount) in enumerate([("Alpha one", 10), ("beta TWO", 200), ("Gamma", 3000)]):
        emu_call("crm.lead.add", {"fields": {"TITLE": title, "OPPORTUNITY": amount,
                                             "ASSIGNED_BY_ID": 4 + i}})

    def titles(flt):
        res = emu_call("crm.lead.list", {"filter": {**flt, ">ID": 30}}).json()["result"]
        return sorted(r["TITLE"] for r in res)

    assert titles({">OPPORTUNITY": 100}) == ["Gamma", "beta TWO"]
    assert titles({"<=OPPORTUNITY": 200}) == ["Alpha one", "beta TWO"]
    assert titles({"%TITLE": "two"}) == ["beta TWO"]
    assert titles({"@ASSIGNED_BY_ID": [4, 6]}) == ["Alpha one", "Gamma"]
    assert titles({"!@ASSIGNED_BY_ID": [4, 6]}) == ["beta TWO"]
    assert titles({"!ASSIGNED_BY_ID": 5}) == ["Alpha one", "Gamma"]
    assert titles({"=TITLE": "Gamma"}) == ["Gamma"]
    assert titles({"=%TITLE": "Al%"}) == ["Alpha one"]
    users = emu_call("user.get", {"FILTER": {"ACTIVE": True, "UF_DEPARTMENT": 2}}).json()
    assert {u["ID"] for u in users["result"]} == {"2", "3", "4"}


def test_leaky_bucket_rejects_above_threshold(emu_url, emu_call):
    statuses = [emu_call("profile").status_code for _ in range(55)]
    assert statuses[:50] == [200] * 50
    assert 503 in statuses[50:]
    r = emu_call("profile")
    assert r.status_code == 503 and r.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    stats = requests.get(f"{emu_url}/_emulator/stats").json()
    assert stats["query_limit_exceeded"] >= 1
    requests.post(f"{emu_url}/_emulator/reset-limits")
    assert emu_call("profile").status_code == 200


def test_fault_injection_also_inside_batch(emu_url, emu_call):
    requests.post(f"{emu_url}/_emulator/faults",
                  json={"method": "crm.deal.get", "error": "INTERNAL_SERVER_ERROR", "count": 2})
    r = emu_call("crm.deal.get", {"id": 1})
    assert r.status_code == 500 and r.json()["error"] == "INTERNAL_SERVER_ERROR"
    res = emu_call("batch", {"cmd": {"a": "crm.deal.get?id=1"}}).json()["result"]
    assert res["result_error"]["a"]["error"] == "INTERNAL_SERVER_ERROR"
    assert emu_call("crm.deal.get", {"id": 1}).status_code == 200
    requests.post(f"{emu_url}/_emulator/faults", json={"latency_ms": 150, "method": "profile"})
    t = time.monotonic()
    emu_call("profile")
    assert time.monotonic() - t >= 0.15
    requests.delete(f"{emu_url}/_emulator/faults")


def test_operating_time_limit_blocks_one_method(emu_url, emu_call):
    requests.post(f"{emu_url}/_emulator/limits", json={
        "operating_enabled": True, "operating_limit_s": 5, "operating_cost_s": 2})
    codes = [emu_call("crm.deal.get", {"id": 1}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = emu_call("crm.deal.get", {"id": 1})
    assert r.json()["error"] == "OPERATION_TIME_LIMIT"
    ok = emu_call("crm.lead.get", {"id": 1})
    assert ok.status_code == 200 and ok.json()["time"]["operating"] >= 2
    assert ok.json()["time"]["operating_reset_at"] > time.time()


def test_scope_and_admin_checks(emu_url, emu_app_stub):
    cfg = EmulatorConfig(app_url=emu_app_stub.url, scopes="crm")
    server = EmulatorServer(Emulator(cfg)).start()
    try:
        tok = requests.post(f"{server.url}/_emulator/tokens", json={"user_id": 3}).json()
        r = requests.get(f"{server.url}/rest/bizproc.robot.list",
                         params={"auth": tok["access_token"]})
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
        r = requests.get(f"{server.url}/rest/app.option.set",
                         params={"auth": tok["access_token"], "options[a]": "1"})
        assert r.status_code == 403 and r.json()["error"] == "ACCESS_DENIED"
    finally:
        server.stop()
