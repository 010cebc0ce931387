"""Token refresh under a per-portal lock, and proof of whose token we hold (app.info).

Refresh tokens are single-use: two workers refreshing the same pair would invalidate each
other. So a refresh takes a Redis lock, re-reads the stored pair inside it, and only calls
the OAuth server if nobody rotated the pair meanwhile (connector.tokens, shared with
amoCRM). One /oauth/token/ call per expiry.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from redis import Redis

from connector.bitrix.errors import (
    BitrixError,
    BitrixPermanentError,
    BitrixRetryableError,
    InvalidGrant,
    error_for,
)
from connector.bitrix.store import PortalStore, Tokens
from connector.config import Settings
from connector.tokens import RotatingTokens

log = logging.getLogger(__name__)


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


@dataclass
class OAuthClient:
    """Talks to the OAuth server named by B24_OAUTH_SERVER, never to one named in a request."""

    settings: Settings
    session: requests.Session

    def refresh_grant(self, refresh_token: str) -> dict[str, Any]:
        params = {
            "grant_type": "refresh_token",
            "client_id": self.settings.b24_client_id,
            "client_secret": self.settings.b24_client_secret,
            "refresh_token": refresh_token,
        }
        try:  # settings/oauth/auto-renewal.md: a GET request to the OAuth server
            resp = self.session.get(
                self.settings.oauth_token_url, params=params,
                timeout=self.settings.rest_timeout_s, allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise BitrixRetryableError("NETWORK", str(exc), 0, "oauth/token") from exc
        body = _json(resp)
        if resp.status_code != 200 or "access_token" not in body:
            code = body.get("error") or f"HTTP_{resp.status_code}"
            raise error_for(code, body.get("error_description", ""), resp.status_code,
                            "oauth/token")
        return body

    def app_info(self, access_token: str) -> dict[str, Any]:
        """Ask the OAuth server which app, portal and domain this access token belongs to."""
        try:  # GET like every OAuth-server call (settings/oauth/simple-way.md, b24pysdk)
            resp = self.session.get(
                self.settings.oauth_rest_url + "app.info", params={"auth": access_token},
                timeout=self.settings.rest_timeout_s, allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise BitrixRetryableError("NETWORK", str(exc), 0, "app.info") from exc
        body = _json(resp)
        if resp.status_code != 200 or not isinstance(body.get("result"), dict):
            raise error_for(body.get("error") or f"HTTP_{resp.status_code}",
                            body.get("error_description", ""), resp.status_code, "app.info")
        return body["result"]


class InstallProofError(BitrixPermanentError):
    """The OAuth server did not confirm that a token belongs to this app and portal."""


def prove_install(oauth: OAuthClient, access_token: str, member_id: str, domain: str | None
                  ) -> dict[str, Any]:
    """Return the OAuth server's install block if the token is ours for this portal.

    Used for ONAPPINSTALL and the installer page, where there is no stored token to compare
    with. The endpoint and domain we trust afterwards come from this answer, not the request.
    """
    try:
        info = oauth.app_info(access_token)
    except BitrixError as exc:
        raise InstallProofError("PROOF_FAILED", f"app.info refused the token: {exc.code}",
                                401, "app.info") from exc
    install = info.get("install") or {}
    if str(info.get("client_id", "")) != oauth.settings.b24_client_id:
        raise InstallProofError("PROOF_FAILED", "token issued to another app", 401, "app.info")
    if str(install.get("member_id", "")) != member_id:
        raise InstallProofError("PROOF_FAILED", "token belongs to another portal", 401,
                                "app.info")
    if domain is not None and str(install.get("domain", "")).lower() != domain.lower():
        raise InstallProofError("PROOF_FAILED", "domain does not match the token", 401,
                                "app.info")
    return info


class TokenManager(RotatingTokens):
    """Hands out a valid access token for a portal, refreshing it at most once per expiry
    (the lock, re-read and save-before-release are connector.tokens')."""

    def __init__(self, store: PortalStore, redis: Redis, oauth: OAuthClient,
                 lock_timeout: float = 30.0):
        super().__init__(store, redis, lock_timeout)
        self.oauth = oauth

    def missing(self, member_id: str, why: str, reinstall: bool = False) -> InvalidGrant:
        if reinstall:
            return InvalidGrant("invalid_grant", why, 401)
        return InvalidGrant("NO_TOKENS", "portal has no stored tokens", 401, "")

    def busy(self, member_id: str) -> BitrixRetryableError:
        return BitrixRetryableError("REFRESH_LOCK_TIMEOUT", "token refresh lock busy", 0)

    def refused(self, exc: Exception) -> bool:
        return isinstance(exc, InvalidGrant)

    def refusal_reason(self, exc: Exception) -> str:
        assert isinstance(exc, InvalidGrant)
        return f"refresh refused ({exc.description or exc.code})"

    def grant(self, member_id: str, tokens: Tokens) -> tuple[Tokens, dict[str, Any]]:
        body = self.oauth.refresh_grant(tokens.refresh_token)
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=time.time() + float(body.get("expires_in") or 3600),
        ), body

    def saved(self, member_id: str, tokens: Tokens, answer: dict[str, Any]) -> None:
        # the refresh answer names the portal's current REST address
        # (settings/oauth/auto-renewal.md): a renamed portal moves with it
        endpoint = str(answer.get("client_endpoint") or "")
        if endpoint.startswith(("https://", "http://")):
            self.store.move_endpoint(member_id, endpoint)
