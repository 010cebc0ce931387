"""Token refresh under a per-portal lock, and proof of whose token we hold (app.info).

Refresh tokens are single-use: two workers refreshing the same pair would invalidate each
other. So a refresh takes a Redis lock, re-reads the stored pair inside it, and only calls
the OAuth server if nobody rotated the pair meanwhile. One /oauth/token/ call per expiry.
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
from connector.bitrix.store import NEEDS_REINSTALL, PortalStore, Tokens
from connector.config import Settings

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


class TokenManager:
    """Hands out a valid access token for a portal, refreshing it at most once per expiry."""

    def __init__(self, store: PortalStore, redis: Redis, oauth: OAuthClient,
                 lock_timeout: float = 30.0):
        self.store = store
        self.redis = redis
        self.oauth = oauth
        self.lock_timeout = lock_timeout

    def current(self, member_id: str) -> Tokens:
        tokens = self.store.get_tokens(member_id)
        portal = self.store.get(member_id)
        if portal is None or tokens is None:
            raise InvalidGrant("NO_TOKENS", "portal has no stored tokens", 401, "")
        if portal.status == NEEDS_REINSTALL:
            raise InvalidGrant("invalid_grant", portal.status_reason or "reinstall needed", 401)
        return tokens

    def refresh(self, member_id: str, stale: Tokens) -> Tokens:
        """Rotate the pair unless another process already did since `stale` was read."""
        lock = self.redis.lock(self.store.lock_key(member_id, "refresh"),
                               timeout=self.lock_timeout, blocking_timeout=self.lock_timeout)
        if not lock.acquire():
            raise BitrixRetryableError("REFRESH_LOCK_TIMEOUT", "token refresh lock busy", 0)
        try:
            fresh = self.store.get_tokens(member_id)
            if fresh is not None and fresh.version != stale.version:
                return fresh
            if fresh is None:
                raise InvalidGrant("NO_TOKENS", "portal has no stored tokens", 401)
            try:
                body = self.oauth.refresh_grant(fresh.refresh_token)
            except InvalidGrant as exc:
                self.store.set_status(member_id, NEEDS_REINSTALL,
                                      f"refresh refused ({exc.description or exc.code})")
                log.warning("portal %s refresh refused: needs reinstall", member_id)
                raise
            tokens = Tokens(
                access_token=body["access_token"],
                refresh_token=body["refresh_token"],
                expires_at=time.time() + float(body.get("expires_in") or 3600),
            )
            saved = self.store.save_tokens(member_id, tokens)
            # the refresh answer names the portal's current REST address
            # (settings/oauth/auto-renewal.md): a renamed portal moves with it
            endpoint = str(body.get("client_endpoint") or "")
            if endpoint.startswith(("https://", "http://")):
                self.store.move_endpoint(member_id, endpoint)
            return saved
        finally:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - an expired lock is not our problem any more
                log.warning("refresh lock for %s expired before release", member_id)
