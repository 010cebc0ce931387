"""amoCRM OAuth: code exchange, refresh, long-lived tokens, the disable hook, tenant status.

The token endpoint is the account's own `https://{domain}/oauth2/access_token` (research
notes §1.3), called with a JSON body: `client_id`, `client_secret`, `grant_type`
(`authorization_code` + `code`, or `refresh_token` + `refresh_token`) and `redirect_uri`.
The answer's `expires_in` is read (the JWT's `exp` if it is missing), never assumed.

Refresh tokens are single-use, so `AmoTokens` rotates them the one way the app does it
(connector.tokens: the tenant's Redis lock, a re-read inside it, save before release),
and ahead of expiry (`PROACTIVE_S`) so a busy tenant rarely meets a 401. Long-lived tokens
(private integrations, §1.4) are stored with no refresh token and never refreshed.

A domain is always validated (connector.amocrm.domains) before our secret is sent to it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from redis import Redis

from connector.amocrm.domains import Hosts, account_domain, member_id
from connector.amocrm.errors import (
    AmoAuthLost,
    AmoBlocked,
    AmoError,
    AmoPermanentError,
    AmoRetryableError,
    Problem,
    error_for,
    network_error,
)
from connector.bitrix.store import (
    ACTIVE,
    NEEDS_REINSTALL,
    UNINSTALLED,
    Portal,
    PortalStore,
    Tokens,
)
from connector.config import Settings
from connector.tokens import RotatingTokens

log = logging.getLogger(__name__)

OAUTH_TIMEOUT = (5.0, 15.0)  # the SDK's: connect 5 s, OAuth calls 15 s
PROACTIVE_S = 600.0  # refresh when the access token has less than 10 minutes left
BLOCKED = "blocked"  # amoCRM answered 403: no call is sent until an admin re-enables
OAUTH = "oauth"
LONG_LIVED = "long_lived"


def _expires_at(body: dict[str, Any], now: float) -> float:
    """When an access token expires: `expires_in` of the answer, else the JWT's `exp`."""
    raw = body.get("expires_in")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 0:
        return now + float(raw)
    if isinstance(raw, str) and raw.isdigit() and int(raw) > 0:
        return now + float(raw)
    exp = jwt_expiry(str(body.get("access_token", "")))
    if exp is None:
        raise AmoPermanentError(Problem(0, title="token answer names no expiry"),
                                "POST", "/oauth2/access_token")
    return exp


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT-shaped token, read without verifying (it is amoCRM's own, for
    amoCRM: we read what it says about itself, never trust it for access); {} if none."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT-shaped token."""
    exp = jwt_claims(token).get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


@dataclass
class AmoOAuth:
    """Talks to an account's token endpoint; sends the secret only to validated hosts."""

    settings: Settings
    session: requests.Session
    hosts: Hosts
    # the accounts' rate windows (connector.ratelimit): a token call counts like any other
    window: Any = None

    def _token(self, domain: str, grant: dict[str, str]) -> dict[str, Any]:
        s = self.settings
        if not s.amocrm_enabled:
            raise AmoPermanentError(Problem(0, title="amoCRM is not configured"))
        url = self.hosts.base(account_domain(domain)) + "/oauth2/access_token"
        payload = {"client_id": s.amocrm_client_id, "client_secret": s.amocrm_client_secret,
                   "redirect_uri": s.amocrm_redirect_uri, **grant}
        path = "/oauth2/access_token"
        if self.window is not None:
            from connector.amocrm.rest import window_key

            self.window.acquire(window_key(domain))
        try:
            resp = self.session.post(url, json=payload, timeout=OAUTH_TIMEOUT,
                                     allow_redirects=False)
        except requests.RequestException as exc:
            raise network_error(exc, "POST", path) from exc
        if resp.status_code == 200:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("access_token"):
                return body
        err = error_for(resp.status_code, resp.content, resp.headers.get("Content-Type", ""),
                        "POST", path)
        if resp.status_code in (400, 401):
            # a used or revoked refresh token, a bad code, wrong client: reconnect (§1.3)
            raise AmoAuthLost(err.problem, "POST", path) from err
        raise err

    def exchange_code(self, domain: str, code: str) -> dict[str, Any]:
        return self._token(domain, {"grant_type": "authorization_code", "code": code})

    def refresh_grant(self, domain: str, refresh_token: str) -> dict[str, Any]:
        return self._token(domain, {"grant_type": "refresh_token",
                                    "refresh_token": refresh_token})


def tokens_from(body: dict[str, Any], now: float | None = None) -> Tokens:
    now = time.time() if now is None else now
    refresh = str(body.get("refresh_token") or "")
    if not refresh:
        raise AmoPermanentError(Problem(0, title="token answer has no refresh_token"),
                                "POST", "/oauth2/access_token")
    return Tokens(access_token=str(body["access_token"]), refresh_token=refresh,
                  expires_at=_expires_at(body, now))


class AmoTokens(RotatingTokens):
    """A tenant's access token: refreshed under its lock, ahead of expiry, at most once."""

    def __init__(self, store: PortalStore, redis: Redis, oauth: AmoOAuth,
                 lock_timeout: float = 30.0, proactive_s: float = PROACTIVE_S):
        super().__init__(store, redis, lock_timeout)
        self.oauth = oauth
        self.proactive_s = proactive_s

    def missing(self, member_id: str, why: str, reinstall: bool = False) -> AmoError:
        return AmoAuthLost(Problem(401, title=why))

    def busy(self, member_id: str) -> AmoError:
        return AmoRetryableError(Problem(0, title="token refresh lock busy"))

    def refused(self, exc: Exception) -> bool:
        return isinstance(exc, AmoAuthLost)

    def refusal_reason(self, exc: Exception) -> str:
        problem = exc.problem if isinstance(exc, AmoError) else None
        words = (problem.hint or problem.detail or problem.title) if problem else str(exc)
        return f"amoCRM refused the refresh token ({words}): reconnect the integration"

    def grant(self, member_id: str, tokens: Tokens) -> tuple[Tokens, dict[str, Any]]:
        if not tokens.refresh_token:
            raise AmoAuthLost(Problem(401, title="a long-lived token cannot be refreshed"))
        portal = self.store.get(member_id)
        domain = portal.domain if portal else ""
        try:
            body = self.oauth.refresh_grant(domain, tokens.refresh_token)
        except AmoBlocked as exc:  # the gateway's 403: the account's API is blocked (§5)
            block(self.store, member_id, f"amoCRM refused the token refresh with 403 (API "
                  f"access blocked; {exc.problem.title}). No request is sent until an admin "
                  f"re-enables the tenant")
            raise
        return tokens_from(body), body

    def valid(self, member_id: str, now: float | None = None) -> Tokens:
        """The current token, refreshed first when it expires within `proactive_s`."""
        tokens = self.current(member_id)
        if not tokens.expired(now, margin=self.proactive_s):
            return tokens
        if not tokens.refresh_token:
            if tokens.expired(now):
                self.store.set_status(member_id, NEEDS_REINSTALL,
                                      "the long-lived token expired: issue a new one")
                raise AmoAuthLost(Problem(401, title="long-lived token expired"))
            return tokens  # a long-lived token near its end still works until then
        return self.refresh(member_id, tokens)


# tenancy ----------------------------------------------------------------------------------
def save_tenant(store: PortalStore, account_id: int, domain: str, tokens: Tokens, kind: str,
                extra: dict[str, str] | None = None) -> Portal:
    """Create or update the account's record under `amo-{account_id}` and store its tokens."""
    mid = member_id(account_id)
    portal = store.get(mid) or Portal(member_id=mid, installed_at=time.time())
    portal.domain = account_domain(domain)
    portal.status = ACTIVE
    portal.status_reason = ""
    portal.extra = {**portal.extra, **(extra or {}), "crm": "amo",
                    "account_id": str(account_id), "kind": kind}
    store.save(portal)
    store.save_tokens(mid, tokens)
    return portal


def connect_with_code(store: PortalStore, oauth: AmoOAuth, referer: str, code: str,
                      account_of: Any) -> Portal:
    """Exchange an authorization code from `referer` and store the account.

    `account_of(domain, access_token)` returns the account's `GET /api/v4/account` answer
    (the REST client's `fetch_account`): the id the tenant is keyed by comes from amoCRM,
    never from the redirect's parameters.
    """
    domain = account_domain(referer)
    body = oauth.exchange_code(domain, code)
    tokens = tokens_from(body)
    account = account_of(domain, tokens.access_token)
    return save_tenant(store, int(account["id"]), domain, tokens, OAUTH,
                       {"drive_url": str(account.get("drive_url") or "")})


def connect_long_lived(store: PortalStore, domain: str, token: str, account_of: Any,
                       expires_at: float | None = None) -> Portal:
    """Store a long-lived token (no refresh token; its expiry from the JWT or given)."""
    domain = account_domain(domain)
    exp = expires_at if expires_at is not None else jwt_expiry(token)
    if exp is None:
        raise ValueError("a long-lived token's expiry is needed (its JWT names none)")
    account = account_of(domain, token)
    return save_tenant(store, int(account["id"]), domain,
                       Tokens(access_token=token, refresh_token="", expires_at=exp),
                       LONG_LIVED, {"drive_url": str(account.get("drive_url") or "")})


def block(store: PortalStore, member: str, reason: str) -> None:
    store.set_status(member, BLOCKED, reason)


def unblock(store: PortalStore, member: str) -> None:
    """An admin re-enables a blocked tenant once amoCRM support lifted the ban."""
    store.set_status(member, ACTIVE, "")


# the disable hook (§1.5) -----------------------------------------------------------------
def disable_signature(client_uuid: str, account_id: str, client_secret: str) -> str:
    return hmac.new(client_secret.encode(), f"{client_uuid}|{account_id}".encode(),
                    hashlib.sha256).hexdigest()


def verify_disable_hook(args: Any, client_id: str, client_secret: str) -> int:
    """The account id of a genuine "integration disabled" GET, else ValueError."""
    client_uuid = str(args.get("client_uuid") or "")
    account_id = str(args.get("account_id") or "")
    signature = str(args.get("signature") or "").lower()
    expected = disable_signature(client_uuid, account_id, client_secret)
    ok = hmac.compare_digest(expected, signature)
    ok = hmac.compare_digest(client_uuid.encode(), client_id.encode()) and ok
    if not ok or not client_id or not client_secret or not account_id.isdigit():
        raise ValueError("disable hook signature does not verify")
    return int(account_id)


def on_disabled(store: PortalStore, account_id: int) -> bool:
    """Local clean-up only: amoCRM already revoked the tokens. False: not a tenant."""
    mid = member_id(account_id)
    if not store.exists(mid):
        return False
    store.set_status(mid, UNINSTALLED, "the integration was switched off in amoCRM")
    store.drop_tokens(mid)
    return True
