"""OAuth server calls are GET (settings/oauth/auto-renewal.md); the app refreshes with GET."""

from __future__ import annotations

import requests

from tests.conftest import CLIENT_ID, CLIENT_SECRET, Stack
from tests.fixtures.docs import load


def test_the_oauth_server_answers_only_get(stack: Stack):
    tok = stack.control("POST", "tokens", json={})
    params = {"grant_type": "refresh_token", "client_id": CLIENT_ID,
              "client_secret": CLIENT_SECRET, "refresh_token": tok["refresh_token"]}
    for path in ("/oauth/token/", "/oauth-server/oauth/token/"):
        posted = requests.post(stack.emu_url + path, data=params, timeout=10)
        assert posted.status_code == 405 and posted.headers["Allow"] == "GET"
    info = requests.post(f"{stack.emu_url}/oauth-server/rest/app.info",
                         data={"auth": tok["access_token"]}, timeout=10)
    assert info.status_code == 405
    fresh = requests.get(f"{stack.emu_url}/oauth/token/", params=params, timeout=10)
    assert fresh.status_code == 200
    # the emulator answers with exactly the fields of the documented sample
    assert set(fresh.json()) == set(load("settings__oauth__auto-renewal.md__refresh-answer"))


def test_the_app_installs_and_refreshes_with_get(installed: Stack):
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    client = services.client(member_id)
    before = services.store.get_tokens(member_id)
    installed.control("POST", "expire-tokens", json={})
    assert client.call("profile")["ID"]
    assert services.store.get_tokens(member_id).version == before.version + 1
    log = installed.control("GET", "log", params={"since": 0})
    token_calls = [e for e in log if e["method"] == "oauth.token"]
    assert token_calls and all(e["status"] == 200 for e in token_calls)
    assert all(e["status"] == 200 for e in log if e["method"] == "oauth.app.info")
