"""Both credential kinds obtain tokens from the fake's /token; revocation and consent flow."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connector.gdrive.credentials import (
    DRIVE_FILE_SCOPE,
    consent_url,
    exchange_code,
    new_state,
    service_account_credentials,
    state_matches,
    user_credentials,
)
from connector.gdrive.errors import DrivePermanent, GoogleAccessRevoked
from connector.gdrive.mirror import DriveStore
from connector.gdrive.service import build_drive, discovery_document
from fakedrive import FakeDrive
from tests.gdrive.helpers import REFRESH_TOKEN, SA_EMAIL, pieces, retries


def bearer_calls(fake: FakeDrive) -> list[str]:
    return [e["auth"] for e in fake.log if e["path"].startswith("/drive/")]


def test_user_refresh_token_gets_an_access_token(fake: FakeDrive, store: DriveStore) -> None:
    store.ensure_folder("x", None, {"k": "v"})
    assert fake.counters["token"] == 1
    auth = bearer_calls(fake)
    assert auth and all(a and a.startswith("Bearer ya29.fake-") for a in auth)


def test_service_account_uses_the_jwt_grant_and_a_shared_drive(
        fake: FakeDrive, sa_info: dict[str, str], sleeps: list[float]) -> None:
    creds = service_account_credentials(sa_info, token_uri=fake.token_uri)
    drive_id = fake.add_shared_drive("Mirror")
    store = DriveStore(build_drive(creds, root_url=fake.url), drive_id, retry=retries(0),
                       sleep=sleeps.append)
    folder = store.ensure_folder("42", None, {"b24_deal": "42"})
    store.upload_stream(pieces(b"data"), 4, "a.txt", folder, {"b24_file": "1"})
    token_requests = [e for e in fake.log if e["path"] == "/token"]
    assert len(token_requests) == 1
    assert fake.find(b24_file="1")[0]["owner"] == SA_EMAIL


def test_service_account_cannot_store_in_my_drive(fake: FakeDrive, sa_info: dict[str, str],
                                                  sleeps: list[float]) -> None:
    creds = service_account_credentials(sa_info, token_uri=fake.token_uri)
    store = DriveStore(build_drive(creds, root_url=fake.url), None, retry=retries(3),
                       sleep=sleeps.append)
    with pytest.raises(DrivePermanent) as caught:
        store.upload_stream(pieces(b"data"), 4, "a.txt", None, {"b24_file": "1"})
    assert caught.value.reason == "storageQuotaExceeded" and "shared drive" in str(caught.value)


def test_revoked_refresh_token_asks_to_reconnect(fake: FakeDrive, store: DriveStore) -> None:
    store.ensure_folder("x", None, {"k": "v"})
    fake.revoke_refresh_token(REFRESH_TOKEN)  # the user removed the app's access
    with pytest.raises(GoogleAccessRevoked) as caught:
        store.ensure_folder("y", None, {"k": "w"})
    assert "reconnect" in str(caught.value)


def test_revoked_before_first_use(fake: FakeDrive, sleeps: list[float]) -> None:
    fake.revoke_refresh_token("1//gone")
    creds = user_credentials("1//gone", "cid", "secret", token_uri=fake.token_uri)
    store = DriveStore(build_drive(creds, root_url=fake.url), retry=retries(2),
                       sleep=sleeps.append)
    with pytest.raises(GoogleAccessRevoked):
        store.find_file("b24_file", "1")
    assert sleeps == []


def test_revoked_service_account_key(fake: FakeDrive, sa_info: dict[str, str]) -> None:
    fake.revoke_service_account(SA_EMAIL)
    creds = service_account_credentials(sa_info, token_uri=fake.token_uri)
    store = DriveStore(build_drive(creds, root_url=fake.url), fake.add_shared_drive("D"),
                       retry=retries(0))
    with pytest.raises(GoogleAccessRevoked):
        store.ensure_folder("x", None, {"k": "v"})


def test_consent_url_asks_for_offline_access() -> None:
    state = new_state()
    url = consent_url("cid.apps.googleusercontent.com", "https://app.test/gdrive/callback",
                      state)
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://accounts.google.com/o/oauth2/v2/auth")
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["scope"] == DRIVE_FILE_SCOPE and params["response_type"] == "code"
    assert params["state"] == state and state_matches(state, params["state"])
    assert not state_matches(state, "forged") and not state_matches(None, None)


def test_consent_and_code_exchange_against_the_fake(fake: FakeDrive) -> None:
    redirect = "http://127.0.0.1:9/gdrive/callback"
    url = consent_url("cid", redirect, "st8", auth_uri=fake.auth_uri)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    back = {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}
    assert back["state"] == "st8"
    grant = exchange_code(back["code"], "cid", "secret", redirect, token_uri=fake.token_uri)
    assert grant.refresh_token and grant.access_token
    creds = user_credentials(grant.refresh_token, "cid", "secret", token_uri=fake.token_uri)
    DriveStore(build_drive(creds, root_url=fake.url), retry=retries(0)).ensure_folder("x", None)
    with pytest.raises(GoogleAccessRevoked):  # a code works once
        exchange_code(back["code"], "cid", "secret", redirect, token_uri=fake.token_uri)


def test_static_discovery_document_is_rerooted(fake: FakeDrive) -> None:
    doc: dict[str, Any] = discovery_document(fake.url)
    assert doc["rootUrl"] == fake.url and doc["servicePath"] == "drive/v3/"
    assert discovery_document()["rootUrl"] == "https://www.googleapis.com/"
