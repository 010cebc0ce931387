"""The public surface over real HTTP: what is refused, what is queued, and how often."""

from __future__ import annotations

import socket
import threading

import requests
from werkzeug.serving import make_server

from devstack.processes import free_port
from tests.bodies import body
from tests.conftest import Stack

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post(stack: Stack, path: str, data: bytes, headers: dict[str, str] | None = None
         ) -> requests.Response:
    return requests.post(f"{stack.app_url}{path}", data=data, headers=headers or FORM, timeout=10)


def app_token(stack: Stack) -> str:
    return stack.portal()["application_token"]


def test_install_registers_robots_events_and_placements(installed: Stack):
    robots = installed.rest("bizproc.robot.list").json()["result"]
    assert "timeline_note" in robots
    events = installed.rest("event.get").json()["result"]
    online = {(e["event"].upper(), e["handler"]) for e in events if not int(e.get("offline", 0))}
    assert ("ONCRMDEALADD", f"{installed.app_url}/events") in online
    assert ("ONAPPUNINSTALL", f"{installed.app_url}/events") in online
    offline = {e["event"].upper() for e in events if int(e.get("offline", 0))}
    assert "ONCRMDEALADD" in offline
    placements = installed.rest("placement.get").json()["result"]
    assert any(p["placement"] == "CRM_DEAL_DETAIL_TAB" for p in placements)
    assert installed.portal()["installed"] is True


def test_reinstall_is_idempotent(installed: Stack):
    before = installed.rest("event.get").json()["result"]
    again = installed.install(event="none")
    assert again["installed"]
    after = installed.rest("event.get").json()["result"]
    assert len(after) == len(before)


def test_forged_application_token_gets_401_and_nothing_is_queued(installed: Stack):
    member_id = installed.portal()["member_id"]
    resp = post(installed, "/events", body("ONCRMDEALADD__basic", member_id=member_id,
                                           application_token="forged"))
    assert resp.status_code == 401
    assert installed.queued() == 0


def test_refused_deliveries_write_nothing_to_redis(installed: Stack):
    portal = installed.portal()
    good = {"member_id": portal["member_id"], "application_token": app_token(installed),
            "ts": 1700000000}
    post(installed, "/events", body("ONCRMDEALADD__basic", **good))  # digests cached now
    keys = set(installed.redis.keys("*"))
    inbox = installed.redis.lrange(installed.app.extensions["connector"].queues.inbox.key, 0,
                                   -1)
    refused = [
        post(installed, "/events", body("ONCRMDEALADD__basic", member_id=portal["member_id"],
                                        application_token="forged", id=8)),
        post(installed, "/robots/timeline_note", body(
            "ROBOT__timeline_note__basic", member_id="f" * 32,
            application_token=good["application_token"], event_token="t9")),
        post(installed, "/robots/other_code", body(
            "ROBOT__timeline_note__basic", event_token="t10", **good)),
        post(installed, "/events", body("ONCRMDEALADD__basic", **good) + b"&data=text"),
        post(installed, "/events", body("ONCRMDEALADD__basic", **good)),  # a duplicate
    ]
    assert [r.status_code for r in refused] == [401, 401, 400, 400, 200]
    assert refused[-1].json()["duplicate"] is True
    assert set(installed.redis.keys("*")) == keys
    assert installed.redis.lrange(installed.app.extensions["connector"].queues.inbox.key, 0,
                                  -1) == inbox


def test_a_body_shorter_than_its_content_length_is_refused(installed: Stack):
    data = body("ROBOT__timeline_note__basic", member_id=installed.portal()["member_id"],
                application_token=app_token(installed), event_token="cut")
    host, port = installed.app_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /robots/timeline_note HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(data) + 50, data))
        sock.shutdown(socket.SHUT_WR)  # the client goes away before the rest
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400") and b"body cut short" in answer
    assert installed.queued() == 0


def test_redis_out_of_reach_is_a_503_not_a_500(stack: Stack):
    from connector.config import load_settings
    from wiring import create_app

    app = create_app(load_settings({**stack.env,
                                    "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}))
    server = make_server("127.0.0.1", 0, app, threaded=True)  # bound at once: never taken
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        resp = requests.post(f"http://127.0.0.1:{port}/events", data=body(
            "ONCRMDEALADD__basic", member_id="a" * 32, application_token="b"), headers=FORM,
            timeout=30)
    finally:
        server.shutdown()
    assert resp.status_code == 503 and resp.json()["error"] == "unavailable"


def test_unknown_portal_gets_401(installed: Stack):
    resp = post(installed, "/events", body("ONCRMDEALADD__basic", member_id="f" * 32,
                                           application_token=app_token(installed)))
    assert resp.status_code == 401
    assert installed.queued() == 0


def test_event_becomes_one_job_and_a_duplicate_does_not(installed: Stack):
    values = {"member_id": installed.portal()["member_id"],
              "application_token": app_token(installed), "id": 5, "ts": 1700000000}
    first = post(installed, "/events", body("ONCRMDEALADD__basic", **values))
    second = post(installed, "/events", body("ONCRMDEALADD__basic", **values))
    assert first.status_code == second.status_code == 200
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
    assert installed.queued() == 1
    queues = installed.app.extensions["connector"].queues
    stored = installed.redis.lrange(queues.inbox.key, 0, -1)
    assert len(stored) == 1 and b"s3cr3t" not in stored[0]  # nor in the inbox
    assert installed.pump() == 1 and installed.queued() == 1
    job = queues["inbound"].jobs[0]
    assert job.id == first.json()["job"]
    assert "s3cr3t" not in str(job.args)  # tokens never in job arguments


def test_unknown_event_from_a_verified_portal_is_ignored(installed: Stack):
    data = body("ONCRMDEALADD__basic", member_id=installed.portal()["member_id"],
                application_token=app_token(installed)).replace(b"ONCRMDEALADD", b"ONCRMXYZ")
    resp = post(installed, "/events", data)
    assert resp.status_code == 200 and resp.json()["ignored"] == "ONCRMXYZ"
    assert installed.queued() == 0


def test_structural_checks(installed: Stack):
    good = body("ONCRMDEALADD__basic", member_id=installed.portal()["member_id"],
                application_token=app_token(installed))
    assert requests.get(f"{installed.app_url}/events", timeout=5).status_code == 405
    assert post(installed, "/events", good, {"Content-Type": "text/plain"}).status_code == 415
    assert post(installed, "/events", b"{not json", {"Content-Type": "application/json"}
                ).status_code == 400
    assert post(installed, "/events", b"event=ONCRMDEALADD").status_code == 401
    huge = good + b"&pad=" + b"x" * 2_000_000
    assert post(installed, "/events", huge).status_code == 413
    assert installed.queued() == 0


def test_json_bodies_are_accepted_too(installed: Stack):
    payload = {"event": "ONCRMDEALADD", "data": {"FIELDS": {"ID": "9"}}, "ts": "1",
               "auth": {"member_id": installed.portal()["member_id"],
                        "application_token": app_token(installed)}}
    resp = requests.post(f"{installed.app_url}/events", json=payload, timeout=5)
    assert resp.status_code == 200 and installed.queued() == 1


def test_robot_code_must_match_the_url(installed: Stack):
    data = body("ROBOT__timeline_note__basic", member_id=installed.portal()["member_id"],
                application_token=app_token(installed), event_token="t1")
    assert post(installed, "/robots/other_code", data).status_code == 400
    assert installed.queued() == 0


def test_healthz_reports_redis_and_queues(installed: Stack):
    resp = requests.get(f"{installed.app_url}/healthz", timeout=5).json()
    assert resp["ok"] and resp["redis"] == "up" and resp["portals"] == 1
    assert resp["needs_reinstall"] == []


def test_installer_page_refuses_a_token_the_oauth_server_does_not_know(stack: Stack):
    resp = requests.post(f"{stack.app_url}/install?DOMAIN=demo.bitrix24.test", data={
        "AUTH_ID": "made-up", "REFRESH_ID": "x", "member_id": stack.portal()["member_id"],
        "APPLICATION_TOKEN": "evil", "AUTH_EXPIRES": "3600"}, timeout=10)
    assert resp.status_code == 401
    assert "installFinish" not in resp.text
    assert stack.app.extensions["connector"].store.get(stack.portal()["member_id"]) is None


def test_forged_onappinstall_cannot_rekey_an_installed_portal(installed: Stack):
    member_id = installed.portal()["member_id"]
    store = installed.app.extensions["connector"].store
    data = {"event": "ONAPPINSTALL", "auth[member_id]": member_id,
            "auth[access_token]": "not-a-real-token", "auth[refresh_token]": "x",
            "auth[domain]": "demo.bitrix24.test", "auth[application_token]": "attacker",
            "auth[client_endpoint]": "http://evil.test/rest/"}
    resp = requests.post(f"{installed.app_url}/events", data=data, timeout=10)
    assert resp.status_code == 401
    assert not store.application_token_matches(member_id, "attacker")
    assert store.application_token_matches(member_id, app_token(installed))
    assert store.get(member_id).client_endpoint.startswith(installed.emu_url)


def test_placement_page_needs_the_application_token(installed: Stack):
    member_id = installed.portal()["member_id"]
    ok = requests.post(f"{installed.app_url}/placements/deal_tab", data={
        "member_id": member_id, "APPLICATION_TOKEN": app_token(installed),
        "AUTH_ID": installed.control("POST", "tokens", json={})["access_token"],
        "PLACEMENT": "CRM_DEAL_DETAIL_TAB", "PLACEMENT_OPTIONS": '{"ID":"3"}'}, timeout=5)
    assert ok.status_code == 200 and "deal 3" in ok.text
    assert "X-Frame-Options" not in ok.headers
    assert "frame-ancestors" in ok.headers["Content-Security-Policy"]
    denied = requests.post(f"{installed.app_url}/placements/deal_tab", data={
        "member_id": member_id, "APPLICATION_TOKEN": "nope"}, timeout=5)
    assert denied.status_code == 401
