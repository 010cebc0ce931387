"""Tokens amoCRM's UI hands our server: the widget's `X-Auth-Token` and Salesbot's. Pure.

`X-Auth-Token` (research notes §1.6): a one-time JWT, HS256 with the integration's client
secret; claims `iss` (the account's address), `aud` (scheme + host of our redirect_uri),
`jti`, `iat`, `nbf`, `exp` (30 minutes), `account_id`, `user_id`, `client_uuid`, and per the
SDK `is_admin`. We check the signature, the times with a small leeway, `client_uuid`
against our client id, `aud` when a redirect URI is known, and that `account_id` is a
tenant we serve whose stored domain is the `iss` host.

Salesbot `widget_request` (§3.2): a JWT in the body's `token`, signed with the client
secret; the SDK verifies HS512 (the docs name no algorithm), so HS512 and HS256 are
accepted (both HMAC with our secret: no algorithm confusion is possible). Claims
`account_id`, `subdomain`, `entity_type`, `entity_id`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from connector.amocrm.domains import DomainRefused, service_host

LEEWAY_S = 30


class TokenRefused(ValueError):
    """The token is forged, expired, for another integration or another account."""


@dataclass(frozen=True)
class WidgetClaims:
    account_id: int
    user_id: int
    domain: str
    is_admin: bool
    jti: str
    expires_at: int


@dataclass(frozen=True)
class BotClaims:
    account_id: int
    subdomain: str
    entity_type: str
    entity_id: int
    expires_at: int


def _audience(redirect_uri: str) -> str | None:
    parts = urlsplit(redirect_uri or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _decode(token: str, secret: str, algorithms: list[str], audience: str | None,
            leeway: float) -> dict[str, Any]:
    if not token or not secret:
        raise TokenRefused("no token")
    options = {"require": ["exp", "iat"], "verify_aud": audience is not None}
    try:
        claims = jwt.decode(token, secret, algorithms=algorithms, audience=audience,
                            leeway=leeway, options=options)
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(claims, dict):
        raise TokenRefused("claims are not an object")
    return claims


def _int(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not str(value).isdigit():
        raise TokenRefused(f"{name} missing or not a number")
    return int(str(value))


def _iss_host(iss: Any) -> str:
    try:
        return service_host(str(iss or ""))
    except DomainRefused as exc:
        raise TokenRefused(f"iss is not an amoCRM address: {iss!r}") from exc


def verify_widget_token(token: str, *, client_id: str, client_secret: str,
                        domain_of: Callable[[int], str | None], redirect_uri: str = "",
                        leeway: float = LEEWAY_S) -> WidgetClaims:
    """The claims of a valid `X-Auth-Token`; `domain_of(account_id)` is the known tenant's
    stored domain (None: not ours)."""
    claims = _decode(token, client_secret, ["HS256"], _audience(redirect_uri), leeway)
    if str(claims.get("client_uuid", "")) != client_id:
        raise TokenRefused("issued to another integration")
    account_id = _int(claims, "account_id")
    user_id = _int(claims, "user_id")
    host = _iss_host(claims.get("iss"))
    known = domain_of(account_id)
    if not known:
        raise TokenRefused(f"account {account_id} is not a tenant")
    if known.lower() != host:
        raise TokenRefused("iss is not the account's domain")
    return WidgetClaims(account_id, user_id, host, bool(claims.get("is_admin")),
                        str(claims.get("jti", "")), int(claims["exp"]))


def verify_bot_token(token: str, *, client_secret: str,
                     domain_of: Callable[[int], str | None],
                     leeway: float = LEEWAY_S) -> BotClaims:
    """The claims of a valid Salesbot `widget_request` token for a known tenant."""
    claims = _decode(token, client_secret, ["HS512", "HS256"], None, leeway)
    account_id = _int(claims, "account_id")
    known = domain_of(account_id)
    if not known:
        raise TokenRefused(f"account {account_id} is not a tenant")
    if claims.get("iss") is not None and _iss_host(claims["iss"]) != known.lower():
        raise TokenRefused("iss is not the account's domain")
    subdomain = str(claims.get("subdomain", ""))
    if subdomain and not known.lower().startswith(subdomain.lower() + "."):
        raise TokenRefused("subdomain is not the account's")
    kind = {"2": "lead", "12": "customer", "1": "contact"}.get(
        str(claims.get("entity_type", "")), str(claims.get("entity_type", "")))
    return BotClaims(account_id, subdomain, kind, _int(claims, "entity_id"),
                     int(claims["exp"]))
