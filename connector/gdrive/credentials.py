"""Google credentials for the mirror: service account (shared drive) or a user's refresh token.

Also the two pure-ish steps of the user consent flow (consent URL, code exchange); the web
routes that store state and the encrypted refresh token live elsewhere.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from google.oauth2 import credentials as user_creds
from google.oauth2 import service_account

from connector.gdrive.errors import DrivePermanent, DriveRetryable, GoogleAccessRevoked

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"


def service_account_credentials(info: Mapping[str, Any], *, token_uri: str | None = None,
                                scopes: Sequence[str] = (DRIVE_SCOPE,),
                                subject: str | None = None) -> service_account.Credentials:
    """From the JSON key's content; `token_uri` overrides the key's (tests: the fake)."""
    data = dict(info)
    if token_uri:
        data["token_uri"] = token_uri
    creds = service_account.Credentials.from_service_account_info(data, scopes=list(scopes))
    return creds.with_subject(subject) if subject else creds


def user_credentials(refresh_token: str, client_id: str, client_secret: str, *,
                     token_uri: str = GOOGLE_TOKEN_URI,
                     scopes: Sequence[str] | None = None) -> user_creds.Credentials:
    """From a stored refresh token; the first API call fetches the access token."""
    return user_creds.Credentials(token=None, refresh_token=refresh_token, token_uri=token_uri,
                                  client_id=client_id, client_secret=client_secret,
                                  scopes=list(scopes) if scopes else None)


def new_state() -> str:
    """An unguessable `state` value to bind the consent redirect to the admin's session."""
    return secrets.token_urlsafe(32)


def state_matches(expected: str | None, received: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    return bool(expected) and bool(received) and hmac.compare_digest(
        str(expected), str(received))


def consent_url(client_id: str, redirect_uri: str, state: str, *,
                scope: str = DRIVE_FILE_SCOPE, auth_uri: str = GOOGLE_AUTH_URI,
                login_hint: str | None = None) -> str:
    """Where to send the admin: offline access + forced consent so Google returns a refresh
    token every time (without prompt=consent a re-connect yields none)."""
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
              "scope": scope, "access_type": "offline", "prompt": "consent",
              "include_granted_scopes": "true", "state": state}
    if login_hint:
        params["login_hint"] = login_hint
    return f"{auth_uri}?{urlencode(params)}"


@dataclass(frozen=True)
class TokenGrant:
    """What the code exchange yields; only `refresh_token` needs storing (encrypted)."""

    refresh_token: str
    access_token: str
    expires_in: int
    scope: str


def exchange_code(code: str, client_id: str, client_secret: str, redirect_uri: str, *,
                  token_uri: str = GOOGLE_TOKEN_URI, timeout: float = 30,
                  session: requests.Session | None = None) -> TokenGrant:
    """Trade the consent redirect's `code` for tokens (form POST to the token endpoint)."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": client_secret, "redirect_uri": redirect_uri}
    http = session or requests
    try:
        resp = http.post(token_uri, data=form, timeout=timeout)
    except requests.RequestException as exc:
        raise DriveRetryable(f"Google sign-in: cannot reach the token endpoint ({exc})") from exc
    if resp.status_code >= 500 or resp.status_code == 429:
        raise DriveRetryable(f"Google sign-in: token endpoint answered {resp.status_code}",
                             status=resp.status_code)
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        error = body.get("error", "unknown") if isinstance(body, dict) else "unknown"
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        if error == "invalid_grant":
            raise GoogleAccessRevoked(
                "Google sign-in: the authorization code was refused (expired or already used): "
                "start the connection again", status=resp.status_code, reason=error)
        raise DrivePermanent(f"Google sign-in failed: {error} {description}".strip(),
                             status=resp.status_code, reason=error)
    if not body.get("refresh_token"):
        raise DrivePermanent("Google sign-in returned no refresh token: remove the app's access "
                             "in the Google account and connect again", reason="no_refresh_token")
    return TokenGrant(refresh_token=body["refresh_token"],
                      access_token=body.get("access_token", ""),
                      expires_in=int(body.get("expires_in", 0)), scope=body.get("scope", ""))
