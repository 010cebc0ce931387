"""Bad input on every public route: a 4xx with a short reason, never a 5xx, and nothing
queued by a request that did not prove itself (issue 13, item 3).

Generated requests (tests/bad_requests.py) go raw over loopback to the app's real server;
bench/fuzz_routes.py sends 10,000 of the same kind to gunicorn.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bad_requests import ROUTES, RawRequest, jobs_waiting, nested_json, raw_requests, send
from tests.bodies import body
from tests.conftest import Stack

LIMIT = 16384
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def app_env_overrides() -> dict[str, str]:
    return {"CONNECTOR_MAX_BODY_BYTES": str(LIMIT)}


def _send(stack: Stack, req: RawRequest) -> int:
    url = urlsplit(stack.app_url)
    return send(url.hostname or "127.0.0.1", url.port or 80, req)


def _post(stack: Stack, path: str, data: bytes, ctype: str = FORM, framing: str = "length"
          ) -> int:
    return _send(stack, RawRequest("POST", path, (("Content-Type", ctype),), data, framing,
                                   verified=False))


def _queues(stack: Stack) -> Any:
    return stack.app.extensions["connector"].queues


def test_the_generator_covers_every_route_of_the_url_map(installed: Stack):
    rules = {rule.rule for rule in installed.app.url_map.iter_rules()}
    assert rules == set(ROUTES)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_generated_requests_get_no_5xx_and_unverified_ones_queue_nothing(installed: Stack,
                                                                         data: st.DataObject):
    portal = installed.portal()
    req = data.draw(raw_requests(portal, LIMIT))
    before = jobs_waiting(_queues(installed))
    status = _send(installed, req)
    assert 0 < status < 500, req
    if not req.verified:
        assert jobs_waiting(_queues(installed)) == before, req


def _event(stack: Stack, name: str = "ONCRMDEALADD", **values: Any) -> bytes:
    portal = stack.portal()
    return body(f"{name}__basic", member_id=portal["member_id"],
                application_token=portal["application_token"], **values)


def _install_event(stack: Stack, name: str, extra: str) -> bytes:
    member_id = stack.portal()["member_id"]
    return (f"event={name}&auth[member_id]={member_id}&auth[access_token]=a&"
            f"auth[application_token]=x&{extra}").encode()


@pytest.mark.parametrize("extra", ["auth[expires_in]=soon", "auth[expires_in][]=1",
                                   "auth[expires_in]=%D9%A3%D9%A6%D9%A0%D9%A0",
                                   "auth[expires_in]=1e309"])
@pytest.mark.parametrize("name", ["ONAPPINSTALL", "ONAPPUPDATE"])
def test_install_events_with_a_bad_lifetime_are_400_before_any_proof(installed: Stack,
                                                                      name: str, extra: str):
    before = installed.stats()
    resp = requests.post(f"{installed.app_url}/events", data=_install_event(installed, name,
                                                                             extra),
                         headers={"Content-Type": FORM}, timeout=10)
    assert resp.status_code == 400 and "expires_in" in resp.json()["detail"]
    assert installed.stats().get("oauth", before.get("oauth")) == before.get("oauth")
    assert installed.queued() == 0


def test_installer_page_with_a_bad_auth_expires_is_400(stack: Stack):
    resp = requests.post(f"{stack.app_url}/install", data={
        "AUTH_ID": "a", "member_id": stack.portal()["member_id"], "APPLICATION_TOKEN": "x",
        "AUTH_EXPIRES": "an hour"}, timeout=10)
    assert resp.status_code == 400 and "AUTH_EXPIRES" in resp.text


@pytest.mark.parametrize("t", ["\u0444\u0444.\u0444\u0444", "a.\u00e9", "\u00e9"])
def test_signed_links_with_non_ascii_tokens_are_refused(installed: Stack, t: str):
    for path in ("/google/connect", "/app/overview", "/placements/deal_tab/view"):
        resp = requests.get(f"{installed.app_url}{path}?t={quote(t)}&deal=1", timeout=10)
        assert resp.status_code in (401, 403), (path, resp.status_code)


def test_bracket_keys_with_unicode_digits_are_plain_keys(installed: Stack):
    data = _event(installed) + "&a[\u0660]=1&a[0]=2&a[01]=3".encode()
    assert _post(installed, "/events", data) == 200
    assert installed.queued() == 1


def test_json_nested_a_thousand_levels_is_400(installed: Stack):
    assert _post(installed, "/events", nested_json(2000).encode(), "application/json") == 400
    assert installed.queued() == 0


def test_verified_uninstall_with_data_as_a_text_is_400_and_keeps_the_portal(installed: Stack):
    pairs = _event(installed, "ONAPPUNINSTALL", clean=1).split(b"&")
    data = b"&".join(p for p in pairs if not p.startswith(b"data")) + b"&data=yes"
    assert _post(installed, "/events", data) == 400
    member_id = installed.portal()["member_id"]
    assert installed.app.extensions["connector"].store.get(member_id).status == "active"
    assert installed.queued() == 0


def test_verified_placement_with_deep_options_is_refused_in_words(installed: Stack):
    portal = installed.portal()
    token = installed.control("POST", "tokens", json={})["access_token"]
    resp = requests.post(f"{installed.app_url}/placements/deal_tab", data={
        "member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
        "AUTH_ID": token, "PLACEMENT_OPTIONS": "[" * 1100 + "]" * 1100}, timeout=10)
    assert resp.status_code == 404 and "<html" in resp.text.lower()


def test_a_chunked_event_is_accepted_like_any_other(installed: Stack):
    assert _post(installed, "/events", _event(installed), framing="chunked") == 200
    assert installed.queued() == 1


def test_a_chunked_body_over_the_limit_is_413_and_queues_nothing(installed: Stack):
    data = _event(installed) + b"&pad=" + b"x" * LIMIT
    assert _post(installed, "/events", data, framing="chunked") == 413
    assert installed.queued() == 0


def test_a_malformed_chunked_body_is_400(installed: Stack):
    assert _post(installed, "/events", _event(installed), framing="broken-chunked") == 400
    assert installed.queued() == 0


def test_the_installer_refusal_reads_in_russian(stack: Stack):
    from tests.e2e.browser import accessibility_problems, browser_page, post_frame, shoot

    with browser_page("ru-RU") as page:
        post_frame(page, f"{stack.app_url}/install?LANG=ru", {
            "AUTH_ID": "a", "member_id": stack.portal()["member_id"],
            "APPLICATION_TOKEN": "x", "AUTH_EXPIRES": "час"})
        shoot(page, "install-bad-auth-expires-ru")
        assert "не является числом секунд" in page.content()
        assert accessibility_problems(page) == []
