"""Frames: who may see what, over real HTTP, with the deal tab's request as the docs print it.

The portal (the emulator) confirms each frame's AUTH_ID with `profile` and answers the
viewer's own `crm.deal.get`; follow-ups carry signed frame tokens and forms a CSRF value;
ONAPPUNINSTALL revokes the app token in the request that carries it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from connector import frames
from devstack.processes import free_port, gunicorn_args, spawn, stop, wait_for
from tests.bodies import body
from tests.conftest import Stack
from tests.fixtures.docs import load
from tests.fixtures.docs.widgets import frame_request, sample

SECRET = "test-signing-key"  # CONNECTOR_SECRET_KEY of the test stack
MANAGER = 3  # a user of the demo portal who is not an admin


@pytest.fixture
def app_env_overrides() -> dict[str, str]:
    return {"GOOGLE_CLIENT_ID": "g-client.apps.test", "GOOGLE_CLIENT_SECRET": "g-secret"}


def user_token(stack: Stack, user_id: int = 1, member_id: str | None = None) -> str:
    body_ = {"user_id": user_id, **({"member_id": member_id} if member_id else {})}
    return stack.control("POST", "tokens", json=body_)["access_token"]


def new_deal(stack: Stack, title: str = "Sofa for the lobby") -> int:
    return int(stack.control("POST", "crm/deal", json={"fields": {"TITLE": title}})["id"])


def open_tab(stack: Stack, deal_id: int, auth_id: str, **values: str) -> requests.Response:
    """POST the documented deal-tab request, filled in for the test portal."""
    portal = stack.portal()
    query, form = frame_request(
        deal_id=str(deal_id), DOMAIN=portal["domain"], member_id=portal["member_id"],
        APPLICATION_TOKEN=portal["application_token"], AUTH_ID=auth_id, **values)
    return requests.post(f"{stack.app_url}/placements/deal_tab?{urlencode(query)}", data=form,
                         timeout=15)


def open_home(stack: Stack, auth_id: str, lang: str = "en") -> requests.Response:
    """The app page: the same documented frame data with PLACEMENT=DEFAULT."""
    portal = stack.portal()
    query, form = frame_request(
        DOMAIN=portal["domain"], member_id=portal["member_id"], LANG=lang,
        APPLICATION_TOKEN=portal["application_token"], AUTH_ID=auth_id, PLACEMENT="DEFAULT",
        PLACEMENT_OPTIONS="{}")
    return requests.post(f"{stack.app_url}/install?{urlencode(query)}", data=form, timeout=15)


def calls(stack: Stack, method: str) -> int:
    return int(stack.stats()["by_method"].get(method, 0))


def hidden_link_token(html: str) -> str:
    """The signed token a page's tab links carry (a manager's page has no form)."""
    match = re.search(r'/app/[a-z_]+\?t=([^&"]+)', html)
    assert match, "no tab link"
    return match[1]


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match[1]


def test_the_documented_frame_request_shows_the_deal_to_a_user_who_may_read_it(
        installed: Stack):
    assert sample()["PLACEMENT"] == "CRM_DEAL_DETAIL_TAB"
    deal = new_deal(installed)
    installed.run_worker()
    token = user_token(installed, MANAGER)
    before = calls(installed, "profile"), calls(installed, "crm.deal.get")
    first = open_tab(installed, deal, token)
    assert first.status_code == 200, first.text
    assert f"сделка {deal}" in first.text  # the sample's LANG=ru
    assert "Сделка создана" in first.text  # the journal of this deal
    after_first = calls(installed, "profile"), calls(installed, "crm.deal.get")
    assert (after_first[0] - before[0], after_first[1] - before[1]) == (1, 1)
    second = open_tab(installed, deal, token)  # within a minute: the viewer is cached
    assert second.status_code == 200
    assert (calls(installed, "profile"), calls(installed, "crm.deal.get")) == (
        after_first[0], after_first[1] + 1)


def test_a_forged_auth_id_gets_the_401_page(installed: Stack):
    deal = new_deal(installed, "Secret deal")
    forged = open_tab(installed, deal, sample()["AUTH_ID"])  # the docs' token: never issued
    assert forged.status_code == 401
    assert "Не авторизован" in forged.text or "Доступ запрещён" in forged.text
    assert f"{deal}" not in forged.text.split("<body>")[1]
    missing = open_tab(installed, deal, "")
    assert missing.status_code == 401


def test_a_token_of_another_portal_is_refused_at_this_portals_address(installed: Stack):
    host = f"localhost:{installed.emu_url.rsplit(':', 1)[1]}"
    other = installed.control("POST", "portals", json={"domain": "other.bitrix24.test",
                                                       "host": host})
    foreign = user_token(installed, 1, other["member_id"])  # an admin, of the other portal
    # the other portal itself knows its token; ours (the stored endpoint) does not
    assert requests.post(f"http://{host}/rest/profile.json", json={"auth": foreign},
                         timeout=10).json()["result"]["ID"] == "1"
    deal = new_deal(installed)
    resp = open_tab(installed, deal, foreign)
    assert resp.status_code == 401
    assert "Sofa for the lobby" not in resp.text and f"сделка {deal}" not in resp.text
    assert open_home(installed, foreign).status_code == 401


def test_a_user_who_may_not_read_the_deal_sees_nothing_of_it(installed: Stack):
    deal = new_deal(installed, "Confidential merger")
    installed.run_worker()
    installed.control("POST", "crm-access", json={"user_id": MANAGER, "entity": "deal",
                                                  "id": deal, "read": False})
    resp = open_tab(installed, deal, user_token(installed, MANAGER), LANG="en")
    assert resp.status_code == 403
    assert "No access" in resp.text
    page = resp.text.split("<body>")[1]
    for leak in (str(deal), "Confidential", "Deal created", "section-", "Disk"):
        assert leak not in page
    admin = open_tab(installed, deal, user_token(installed, 1), LANG="en")
    assert admin.status_code == 200 and f"deal {deal}" in admin.text


def test_a_dismissed_user_is_not_confirmed(installed: Stack):
    token = user_token(installed, MANAGER)
    installed.control("POST", f"users/{MANAGER}", json={"ACTIVE": False})
    # api-reference/common/users/profile.md: an inactive user's result is empty
    assert installed.rest("profile", token=token).json()["result"] == []
    assert open_tab(installed, new_deal(installed), token).status_code == 401


def test_profile_answers_as_documented(installed: Stack):
    doc = load("api-reference__common__users__profile.md__result")["result"]
    got = installed.rest("profile", token=user_token(installed, MANAGER)).json()["result"]
    assert set(got) <= set(doc) | {"PERSONAL_PHOTO"}
    assert {k: type(v) for k, v in got.items()} == {k: type(doc[k]) for k in got}
    assert got["ID"] == str(MANAGER) and got["ADMIN"] is False


def test_only_an_admin_gets_the_google_link_and_the_form(installed: Stack):
    manager = open_home(installed, user_token(installed, MANAGER))
    assert manager.status_code == 200 and "Robots for automation rules" in manager.text
    assert "/google/connect" not in manager.text and 'name="csrf"' not in manager.text
    assert "/app/drive_mirror?" not in manager.text  # no admin page in a manager's tabs
    as_manager = requests.get(f"{installed.app_url}/app/drive_mirror", timeout=10,
                              params={"t": hidden_link_token(manager.text)})
    assert as_manager.status_code == 403 and "/google/connect" not in as_manager.text
    admin = open_home(installed, user_token(installed, 1))
    assert 'name="csrf"' in admin.text  # the overview's "check registrations again"
    drive_tab = re.search(r'href="([^"]*/app/drive_mirror\?[^"]+)"', admin.text)[1]  # type: ignore[index]
    drive = requests.get(drive_tab.replace("&amp;", "&"), timeout=10).text
    link = re.search(r'href="([^"]*/google/connect\?t=[^"]+)"', drive)[1]  # type: ignore[index]
    member_id = installed.portal()["member_id"]
    claims = frames.verify(SECRET, link.split("t=")[1], frames.GOOGLE_CONNECT)
    assert claims is not None and (claims.member_id, claims.user_id) == (member_id, "1")
    started = requests.get(link, allow_redirects=False, timeout=10)
    assert started.status_code == 302 and "state=" in started.headers["Location"]


@pytest.mark.parametrize("kind", ["forged", "expired", "not-admin", "other-purpose",
                                  "other-key"])
def test_a_bad_google_link_is_refused(installed: Stack, kind: str):
    member_id = installed.portal()["member_id"]
    token = {
        "forged": lambda: f"{member_id}.9999999999.deadbeef",
        "expired": lambda: frames.sign(SECRET, member_id, "1", frames.GOOGLE_CONNECT,
                                       admin=True, now=time.time() - 3600),
        "not-admin": lambda: frames.sign(SECRET, member_id, str(MANAGER),
                                         frames.GOOGLE_CONNECT),
        "other-purpose": lambda: frames.sign(SECRET, member_id, "1", frames.PAGE, admin=True),
        "other-key": lambda: frames.sign("another-key", member_id, "1", frames.GOOGLE_CONNECT,
                                         admin=True),
    }[kind]()
    resp = requests.get(f"{installed.app_url}/google/connect", params={"t": token},
                        headers={"Accept-Language": "en"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 403 and "invalid or has expired" in resp.text


def test_the_admin_form_needs_its_signed_token_and_csrf(installed: Stack):
    home = open_home(installed, user_token(installed, 1)).text
    action = re.search(r'<form method="post" action="([^"]+)"', home)[1]  # type: ignore[index]
    t, csrf = hidden(home, "t"), hidden(home, "csrf")
    maintenance = installed.app.extensions["connector"].queues["maintenance"]
    queued = maintenance.count

    def post(**data: str) -> requests.Response:  # the overview panel's action
        return requests.post(action.replace("&amp;", "&"),
                             data={"_action": "robots.reconcile", **data}, timeout=10)

    assert post(t=t, csrf="0" * 43).status_code == 403  # wrong CSRF
    assert post(t=t).status_code == 403  # none
    other = hidden(open_home(installed, user_token(installed, 1)).text, "csrf")
    assert other != csrf and post(t=t, csrf=other).status_code == 403  # another render's
    assert post(t="forged", csrf=csrf).status_code == 401
    member_id = installed.portal()["member_id"]
    expired = frames.sign(SECRET, member_id, "1", frames.PAGE, admin=True,
                          now=time.time() - 3600)
    assert post(t=expired, csrf=frames.csrf_for(SECRET, expired)).status_code == 401
    manager = frames.sign(SECRET, member_id, str(MANAGER), frames.PAGE, admin=False)
    assert post(t=manager, csrf=frames.csrf_for(SECRET, manager)).status_code == 403
    assert maintenance.count == queued  # nothing refused was queued
    ok = post(t=t, csrf=csrf)
    assert ok.status_code == 200 and 'id="notice"' in ok.text
    assert "frame-ancestors" in ok.headers["Content-Security-Policy"]
    assert maintenance.count == queued + 1


def test_the_frame_policy_names_the_portals_current_domain(installed: Stack):
    deal = new_deal(installed)
    token = user_token(installed, 1)
    before = open_tab(installed, deal, token)
    assert before.headers["Content-Security-Policy"] == (
        "frame-ancestors https://demo.bitrix24.test http://demo.bitrix24.test")
    moved = installed.control("POST", "rename", json={"domain": "renamed.bitrix24.test"})
    new_host = moved["client_endpoint"].split("/")[2]
    after = open_tab(installed, deal, user_token(installed, 1))
    assert after.status_code == 200
    policy = after.headers["Content-Security-Policy"]
    assert policy == f"frame-ancestors https://{new_host} http://{new_host}"
    assert "demo.bitrix24.test" not in policy
    store = installed.app.extensions["connector"].store
    assert store.get(installed.portal()["member_id"]).domain == new_host
    refused = open_tab(installed, deal, "forged-token")  # a refusal names it too
    assert refused.status_code == 401 and new_host in refused.headers["Content-Security-Policy"]


@pytest.fixture
def second_web(installed: Stack) -> Iterator[str]:
    """Another web process (gunicorn) on the same Redis, caching digests for 2 seconds."""
    port = free_port()
    proc = spawn(gunicorn_args(port, workers=1, threads=2),
                 {**installed.env, "CONNECTOR_TOKEN_CACHE_S": "2"})
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url), 30, 0.2, "the second web process")
    yield url
    stop([proc])


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code < 500
    except requests.RequestException:
        return False


def test_uninstall_revokes_the_app_token_at_once_here_and_within_the_ttl_elsewhere(
        installed: Stack, second_web: str):
    portal = installed.portal()
    event = body("ONCRMDEALADD__basic", member_id=portal["member_id"],
                 application_token=portal["application_token"], id=7, ts=1700000000)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for url in (installed.app_url, second_web):  # both processes now cache the digest
        assert requests.post(f"{url}/events", data=event, headers=form,
                             timeout=10).status_code == 200
    queues = installed.app.extensions["connector"].queues
    waiting = queues.depth()[queues["inbound"].name]  # jobs and inbox records alike
    delivered = installed.control("POST", "uninstall", json={})  # ONAPPUNINSTALL, over HTTP
    assert delivered["status_code"] == 200
    again = requests.post(f"{installed.app_url}/events", data=event, headers=form, timeout=10)
    assert again.status_code == 401  # the process that handled it: at once, no worker ran
    started = time.monotonic()
    while requests.post(f"{second_web}/events", data=event, headers=form,
                        timeout=10).status_code != 401:
        assert time.monotonic() - started < 2 + 1.5, "the other process still accepts"
        time.sleep(0.1)
    assert queues.depth()[queues["inbound"].name] == waiting
    tab = open_tab(installed, 1, user_token(installed, 1))  # the frames are refused as well
    assert tab.status_code == 401


def test_re_signed_pages_end_an_hour_after_the_portal_confirmed_the_viewer(installed: Stack):
    """Each render re-signs its token, but never past the portal's confirmation: an admin
    demoted since (or a manager who lost a deal) must open the app again to go on."""
    member_id = installed.portal()["member_id"]
    confirmed = time.time() - frames.CONFIRMED_MAX_S + 60
    fresh = frames.sign(SECRET, member_id, "1", frames.PAGE, admin=True, confirmed=confirmed)
    page = requests.get(f"{installed.app_url}/app/general", params={"t": fresh}, timeout=10)
    assert page.status_code == 200
    again = frames.verify(SECRET, hidden(page.text, "t"), frames.PAGE)
    assert again is not None and again.confirmed == int(confirmed)  # carried, not renewed
    stale = frames.sign(SECRET, member_id, "1", frames.PAGE, admin=True,
                        confirmed=time.time() - frames.CONFIRMED_MAX_S - 1)
    assert requests.get(f"{installed.app_url}/app/general", params={"t": stale},
                        timeout=10).status_code == 401
