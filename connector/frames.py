"""Signed frame tokens: what a page hands its own follow-up requests (links and forms).

A portal opens a frame by POSTing the viewer's AUTH_ID; once that is confirmed, a link or a
form on the page must not need it again (it is the user's REST credential and would leak
into URLs and logs). The page carries instead a short-lived token signed with the app's
SECRET_KEY and bound to (portal, user, purpose), so it cannot be moved to another portal,
another user or another action. Forms also carry a per-render CSRF token derived from the
frame token: no cookie is needed, which matters because a portal's iframe is third-party
and browsers drop its cookies.

Framework-free: plain strings in, claims out; `now` is injectable for tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

FRAME_TTL_S = 15 * 60
# a page re-signs its token at each render, so an admin working through the pages is not cut
# off; but rights are as the portal last confirmed them (an admin demoted, a manager who lost
# a deal), so a chain of re-signed tokens ends this long after that confirmation — the life
# of the frame's own AUTH_ID — and the viewer opens the app again
CONFIRMED_MAX_S = 60 * 60
PAGE = "page"  # follow-ups of an app page (forms)
GOOGLE_CONNECT = "google.connect"  # the admin's link that starts Google's consent


def deal_tab(deal_id: int | str) -> str:
    """The purpose of a deal tab's follow-ups: bound to that deal, so a token a viewer got
    for a deal they may read never opens or acts on another one."""
    return f"deal-tab:{int(deal_id)}"


@dataclass(frozen=True)
class Claims:
    """Who a verified token speaks for."""

    member_id: str
    user_id: str
    admin: bool
    purpose: str
    expires: int
    confirmed: int = 0  # when the portal last confirmed this viewer (unix seconds)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, what: str, message: str) -> str:
    key = hmac.new(secret.encode(), f"crm-connector:{what}".encode(), hashlib.sha256).digest()
    return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())


def sign(secret: str, member_id: str, user_id: str, purpose: str, admin: bool = False,
         ttl_s: int = FRAME_TTL_S, now: float | None = None,
         confirmed: float | None = None) -> str:
    """A token for (portal, user, purpose) valid `ttl_s` seconds; a fresh nonce each call.
    `confirmed`: when the portal confirmed the viewer (a re-signed follow-up keeps the
    first confirmation's time); now when not given."""
    if not member_id or not user_id:
        raise ValueError("a frame token names a portal and a user")
    at = time.time() if now is None else now
    claims = {"m": member_id, "u": str(user_id), "a": bool(admin), "p": purpose,
              "e": int(at + ttl_s), "c": int(at if confirmed is None else confirmed),
              "n": secrets.token_urlsafe(9)}
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(secret, 'frame', body)}"


def verify(secret: str, token: str, purpose: str, now: float | None = None) -> Claims | None:
    """The claims of a good, unexpired token made for `purpose`, else None."""
    body, _, mac = (token or "").partition(".")
    if not body or not mac or not mac.isascii() or not hmac.compare_digest(
            _mac(secret, "frame", body), mac):
        return None
    try:
        raw = json.loads(_unb64(body))
        claims = Claims(str(raw["m"]), str(raw["u"]), bool(raw["a"]), str(raw["p"]),
                        int(raw["e"]), int(raw.get("c", int(raw["e"]) - FRAME_TTL_S)))
    except (ValueError, KeyError, TypeError):
        return None
    at = time.time() if now is None else now
    if claims.purpose != purpose or claims.expires < at:
        return None
    if at - claims.confirmed > CONFIRMED_MAX_S:  # the portal must vouch for the viewer again
        return None
    return claims


def csrf_for(secret: str, frame_token: str) -> str:
    """The CSRF value a form rendered with `frame_token` must send back with it."""
    return _mac(secret, "csrf", frame_token)


def csrf_ok(secret: str, frame_token: str, csrf: str) -> bool:
    return bool(frame_token) and (csrf or "").isascii() and hmac.compare_digest(
        csrf_for(secret, frame_token), csrf or "")


def frame_ancestors(domain: str, client_endpoint: str = "") -> str:
    """The Content-Security-Policy that lets only this portal's pages frame ours.

    A cloud portal is https; an http client_endpoint (a box portal without TLS, the
    emulator) adds the http origin. No known domain: nobody may frame the page.
    """
    host = domain.strip().strip("/")
    if not host or any(c in host for c in " ;,'\"\r\n"):
        return "frame-ancestors 'none'"
    origins = [f"https://{host}"]
    if client_endpoint.startswith("http://"):
        origins.append(f"http://{host}")
    return "frame-ancestors " + " ".join(origins)
