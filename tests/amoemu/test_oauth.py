"""OAuth (amocrm.md §1): code exchange, single-use refresh, long-lived tokens, the
disable hook, widget tokens, the consent page."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from amoemu import app_env
from tests.amoemu.conftest import CLIENT_ID, CLIENT_SECRET


def exchange(amo, code, form=False, **extra):
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": amo.emu.state.redirect_uri, **extra}
    url = f"{amo.base}/oauth2/access_token"
    return requests.post(url, data=body, timeout=10) if form else \
        requests.post(url, json=body, timeout=10)


def refresh(amo, token, form=False):
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token", "refresh_token": token,
            "redirect_uri": amo.emu.state.redirect_uri}
    url = f"{amo.base}/oauth2/access_token"
    return requests.post(url, data=body, timeout=10) if form else \
        requests.post(url, json=body, timeout=10)


def test_app_env():
    assert app_env("http://127.0.0.1:9/") == {"AMOCRM_URL_TEMPLATE": "http://127.0.0.1:9/{domain}"}


def test_code_exchange_json_and_form(amo):
    for form in (False, True):
        grant = amo.emu.authorize(amo.acc.id, state="xyz")
        assert grant["referer"] == "autoservis.amocrm.ru" and grant["platform"] == "1"
        assert grant["state"] == "xyz"
        r = exchange(amo, grant["code"], form=form)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("application/json")
        out = r.json()
        assert out["token_type"] == "Bearer" and out["expires_in"] == 86400
        claims = jwt.decode(out["access_token"], options={"verify_signature": False})
        assert claims["account_id"] == amo.acc.id and claims["api_domain"] == "api-a.amocrm.ru"
        assert claims["exp"] - claims["iat"] == 86400
        me = amo.call("GET", "/api/v4/account", token=out["access_token"])
        assert me.status_code == 200 and me.json()["id"] == amo.acc.id
        # a code is single use
        again = exchange(amo, grant["code"], form=form)
        assert again.status_code == 400
        assert again.json()["hint"] == "Cannot decrypt the authorization code"


def test_bad_client_redirect_and_expired_code(amo):
    grant = amo.emu.authorize(amo.acc.id)
    bad = exchange(amo, grant["code"], client_secret="wrong")
    assert bad.status_code == 401
    assert bad.json() == {"title": "Некорректный клиент",
                          "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
                          "status": 401, "detail": "Авторизация клиента не прошла"}
    assert exchange(amo, grant["code"], redirect_uri="http://elsewhere/").status_code == 400
    now = amo.emu.clock()
    amo.emu.clock = lambda: now + 20 * 60 + 1  # codes live 20 minutes (§1.2)
    assert exchange(amo, grant["code"]).status_code == 400


def test_refresh_is_single_use(amo):
    tokens = exchange(amo, amo.emu.authorize(amo.acc.id)["code"]).json()
    first = refresh(amo, tokens["refresh_token"], form=True)
    assert first.status_code == 200, first.text
    second = refresh(amo, tokens["refresh_token"])
    assert second.status_code == 401
    body = second.json()
    assert body["hint"] == "Token has been revoked" and body["status"] == 401
    assert body["title"] == "Некорректный запрос"
    # the new pair works, and its refresh token refreshes once more
    assert refresh(amo, first.json()["refresh_token"]).status_code == 200


def test_access_expires_and_refresh_lives_three_months(amo):
    tokens = exchange(amo, amo.emu.authorize(amo.acc.id)["code"]).json()
    now = amo.emu.clock()
    amo.emu.clock = lambda: now + 86401
    assert amo.call("GET", "/api/v4/account", token=tokens["access_token"]).status_code == 401
    amo.emu.clock = lambda: now + 91 * 86400
    assert refresh(amo, tokens["refresh_token"]).status_code == 401


def test_current_subdomain_by_refresh_token(amo):
    tokens = exchange(amo, amo.emu.authorize(amo.acc.id)["code"]).json()
    r = requests.get(f"{amo.emu.url}/api-a.amocrm.ru/oauth2/account/current/subdomain",
                     headers={"X-Refresh-Token": tokens["refresh_token"]}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"id": amo.acc.id, "subdomain": "autoservis",
                        "domain": "autoservis.amocrm.ru", "top_level_domain": "ru"}
    r = requests.get(f"{amo.emu.url}/api-a.amocrm.ru/oauth2/account/current/subdomain",
                     headers={"X-Refresh-Token": "nope"}, timeout=10)
    assert r.status_code == 401


def test_long_lived_token_never_refreshes(amo):
    token = amo.emu.long_lived_token(amo.acc.id, days=1)
    assert amo.call("GET", "/api/v4/account", token=token).status_code == 200
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86400
    now = amo.emu.clock()
    amo.emu.clock = lambda: now + 86401
    assert amo.call("GET", "/api/v4/account", token=token).status_code == 401


def test_disable_revokes_and_signs_the_hook(amo):
    tokens = exchange(amo, amo.emu.authorize(amo.acc.id)["code"]).json()
    assert amo.emu.disable(amo.acc.id) == 200
    [hit] = amo.receiver.at("/amocrm/disabled")
    assert hit["method"] == "GET"
    args = hit["args"]
    assert args["account_id"] == str(amo.acc.id) and args["client_uuid"] == CLIENT_ID
    want = hmac.new(CLIENT_SECRET.encode(), f"{CLIENT_ID}|{amo.acc.id}".encode(),
                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(args["signature"], want)
    for token in (tokens["access_token"], amo.token):
        assert amo.call("GET", "/api/v4/leads", token=token).status_code == 401
    assert refresh(amo, tokens["refresh_token"]).status_code == 401


def test_widget_token_claims(amo):
    user = amo.acc.users[1]
    token = amo.emu.widget_token(amo.acc.id, user.id)
    base = "{0.scheme}://{0.netloc}".format(urlsplit(amo.emu.state.redirect_uri))
    claims = jwt.decode(token, CLIENT_SECRET, algorithms=["HS256"], audience=base)
    assert claims["iss"] == "https://autoservis.amocrm.ru"
    assert claims["account_id"] == amo.acc.id and claims["user_id"] == user.id
    assert claims["client_uuid"] == CLIENT_ID and claims["subdomain"] == "autoservis"
    assert claims["exp"] - claims["nbf"] == 1800 and claims["jti"]


def test_consent_page_allow_and_deny(amo):
    url = f"{amo.emu.url}/www.amocrm.ru/oauth"
    page = requests.get(url, params={"client_id": CLIENT_ID, "state": "s1",
                                     "mode": "post_message"}, timeout=10)
    assert page.status_code == 200 and "Разрешить" in page.text
    allow = requests.post(f"{url}/decide", data={"client_id": CLIENT_ID, "state": "s1",
                                                 "mode": "post_message",
                                                 "account_id": amo.acc.id,
                                                 "decision": "allow"},
                          allow_redirects=False, timeout=10)
    assert allow.status_code == 302
    q = parse_qs(urlsplit(allow.headers["Location"]).query)
    assert q["state"] == ["s1"] and q["referer"] == ["autoservis.amocrm.ru"]
    assert exchange(amo, q["code"][0]).status_code == 200
    deny = requests.post(f"{url}/decide", data={"state": "s2", "decision": "deny"},
                         allow_redirects=False, timeout=10)
    assert parse_qs(urlsplit(deny.headers["Location"]).query) == {
        "error": ["access_denied"], "state": ["s2"]}
    assert requests.get(url, params={"client_id": "other"}, timeout=10).status_code == 400


def test_authorize_delivers_to_redirect_uri(amo):
    grant = amo.emu.authorize(amo.acc.id, state="xyz", deliver=True)
    [hit] = amo.receiver.at("/amocrm/oauth")
    assert hit["args"] == {"code": grant["code"], "referer": "autoservis.amocrm.ru",
                           "platform": "1", "state": "xyz"}


def test_unknown_account_is_401_code_101(amo):
    r = requests.get(f"{amo.emu.url}/nobody.amocrm.ru/api/v4/account", timeout=10)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["code"] == 101
