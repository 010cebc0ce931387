"""The amoCRM widget's backend: which of our pages its areas frame, and the manager's "away"
switch. Every call carries amoCRM's own short-lived `X-Auth-Token` (amocrm.md §1.6).

amoCRM has no AUTH_ID to confirm: the widget's script (amocrm_widget/script.js) calls these
endpoints with `$authorizedAjax`, which adds a one-time JWT signed with our client secret
and naming the account, the user and whether they are an admin. Once verified (signature,
times, our client id, aud, the account a tenant whose stored domain is the `iss`, the `jti`
not seen before), `/open` answers the address of an existing page signed with our own frame
token — the admin pages (`page=settings`, admins only) or the lead's tab (`page=card`, for a
user whose amoCRM rights let them view that lead) — and the script puts it in an iframe.
The pages are the Bitrix24 ones, unchanged: only how the viewer is vouched for differs.

The script runs on the account's own pages, so the browser asks first (CORS): only
`https://{a tenant's domain}` is allowed, and an answer names the token's tenant only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, g, jsonify, request

from connector import frames
from connector.amocrm import presence
from connector.amocrm.domains import DomainRefused, account_domain, member_id
from connector.amocrm.errors import AmoError
from connector.amocrm.widget_token import TokenRefused, WidgetClaims, verify_widget_token
from connector.bitrix.store import ACTIVE, Portal
from connector.crm.port import AMOCRM, AMOCRM_MEMBER_PREFIX, crm_of
from connector.errors import AuthLost
from connector.i18n import N_, language, t

bp = Blueprint("amocrm_widget", __name__, url_prefix="/amocrm/widget")
log = logging.getLogger(__name__)
HEADER = "X-Auth-Token"
PREFLIGHT_MAX_AGE_S = 600

REFUSALS = {
    "off": (404, N_("amoCRM is not connected to this app.")),
    "bad_token": (401, N_("amoCRM did not vouch for you (the token is invalid or has "
                          "expired): reload the page in amoCRM.")),
    "not_installed": (403, N_("The integration is not installed on this amoCRM account: "
                              "an administrator installs it in amoCRM → amoMarket.")),
    "admins_only": (403, N_("Only an amoCRM administrator can open the app's settings.")),
    "no_access": (403, N_("You have no access to this lead in amoCRM.")),
    "no_lead": (404, N_("There is no such lead in amoCRM.")),
    "bad_request": (400, N_("The widget sent a request the app does not understand: "
                            "update the widget.")),
    "unavailable": (503, N_("amoCRM did not answer in time: try again in a minute.")),
}


def _services() -> Any:
    return current_app.extensions["connector"]


def _lang(body: Mapping[str, Any] | None = None) -> str:
    value = (body or {}).get("lang") or request.args.get("LANG") or \
        request.accept_languages.best_match(("ru", "en")) or "ru"
    return language(value)


def refuse(reason: str, lang: str, portal: Portal | None = None) -> Any:
    status, msgid = REFUSALS[reason]
    return _cors(jsonify({"error": reason, "message": t(lang, msgid)}), portal), status


# CORS --------------------------------------------------------------------------------------
def _origin_host() -> str:
    """The host of the request's Origin when it is an https amoCRM account, else ""."""
    origin = request.headers.get("Origin", "")
    parts = urlsplit(origin)
    if parts.scheme != "https" or origin != f"https://{parts.netloc}":
        return ""
    try:
        return account_domain(parts.netloc)
    except DomainRefused:
        return ""


def _tenant_domain(host: str) -> bool:
    """Whether an active amoCRM tenant is stored under this domain (preflights carry no
    token, so the account is known only by its address)."""
    store = _services().store
    for mid in store.member_ids():
        if mid.startswith(AMOCRM_MEMBER_PREFIX):
            portal = store.get(mid)
            if portal is not None and portal.status == ACTIVE and portal.domain == host:
                return True
    return False


def _cors(resp: Any, portal: Portal | None) -> Any:
    """Let the tenant's own pages read this answer, nobody else's."""
    resp.headers["Vary"] = "Origin"
    resp.headers["Cache-Control"] = "no-store"
    host = _origin_host()
    if portal is not None and host and host == portal.domain:
        resp.headers["Access-Control-Allow-Origin"] = f"https://{host}"
    return resp


def preflight() -> Any:
    resp = current_app.make_response(("", 204))
    resp.headers["Vary"] = "Origin"
    host = _origin_host()
    if not host or not _tenant_domain(host):
        return current_app.make_response(("", 403))
    resp.headers.update({
        "Access-Control-Allow-Origin": f"https://{host}",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": f"{HEADER}, Content-Type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S)})
    return resp


# who is asking -------------------------------------------------------------------------------
class Refusal(Exception):
    def __init__(self, reason: str, portal: Portal | None = None):
        super().__init__(reason)
        self.reason, self.portal = reason, portal


def _first_use(claims: WidgetClaims) -> bool:
    """amocrm.md §1.6: the token is one-time; a `jti` seen before is a replay."""
    if not claims.jti:
        return False
    svc = _services()
    key = f"{svc.settings.queue_prefix}:core:amo:{claims.account_id}:widget-jti:{claims.jti}"
    return bool(svc.redis.set(key, "1", nx=True, exat=claims.expires_at + 60))


def viewer() -> tuple[WidgetClaims, Portal]:
    """The verified claims and the active tenant of this request's X-Auth-Token."""
    svc = _services()
    s = svc.settings
    if not s.amocrm_enabled:
        raise Refusal("off")
    stored: dict[str, Portal | None] = {}

    def domain_of(account_id: int) -> str | None:
        portal = svc.store.get(member_id(account_id))
        stored["portal"] = portal
        return portal.domain if portal is not None else None

    try:
        claims = verify_widget_token(request.headers.get(HEADER, ""),
                                     client_id=s.amocrm_client_id,
                                     client_secret=s.amocrm_client_secret,
                                     domain_of=domain_of, redirect_uri=s.amocrm_redirect_uri)
    except TokenRefused as exc:
        log.info("widget token refused: %s", exc)
        # the signature held and the account was looked up: it is not one of ours
        raise Refusal("not_installed" if "portal" in stored and stored["portal"] is None
                      else "bad_token") from None
    portal = stored.get("portal")
    if portal is None or portal.status != ACTIVE:
        raise Refusal("not_installed")
    if not _first_use(claims):
        raise Refusal("bad_token", portal)
    g.member_id = portal.member_id
    return claims, portal


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True) if request.data else {}
    return body if isinstance(body, dict) else {}


def guarded(fn: Callable[..., Any]) -> Any:
    """Answer a preflight, or run `fn(claims, portal, body, lang)` for a verified viewer."""
    if request.method == "OPTIONS":
        return preflight()
    body = _body()
    lang = _lang(body)
    try:
        claims, portal = viewer()
        return fn(claims, portal, body, lang)
    except Refusal as refused:
        return refuse(refused.reason, lang, refused.portal)


# pages -------------------------------------------------------------------------------------
def may_view(user: Mapping[str, Any] | None, lead: Mapping[str, Any]) -> bool:
    """Whether an amoCRM user may view a lead, by their `rights.leads.view`: "A" every lead,
    "G" their group's, "M" their own, "D" none; admins every lead; an inactive user none.
    https://www.amocrm.ru/developers/content/crm_platform/users-api (amocrm.md §4.4)."""
    rights = (user or {}).get("rights") or {}
    if not rights.get("is_active", True):
        return False
    if rights.get("is_admin"):
        return True
    view = str(((rights.get("leads") or {}).get("view")) or "D")
    if view == "A":
        return True
    if view == "M":
        return int(lead.get("responsible_user_id") or 0) == int((user or {}).get("id") or -1)
    if view == "G":
        group = rights.get("group_id")
        return group is not None and int(lead.get("group_id") or 0) == int(group)
    return False


def _lead_for(portal: Portal, claims: WidgetClaims, lead_id: int) -> str:
    """"" when the viewer may open the lead's tab, else the refusal's reason."""
    client = _services().amo().client(portal.member_id)
    try:
        lead = client.get(f"/api/v4/leads/{lead_id}")
        if not isinstance(lead, dict):
            return "no_lead"
        if claims.is_admin:
            return ""
        user = client.get(f"/api/v4/users/{claims.user_id}")
    except AuthLost:
        return "not_installed"
    except AmoError as exc:
        log.info("lead %s of %s not checked: %s", lead_id, portal.member_id, exc)
        return "no_lead" if getattr(exc, "status", 0) == 404 else "unavailable"
    return "" if may_view(user if isinstance(user, dict) else None, lead) else "no_access"


def settings_url(portal: Portal, claims: WidgetClaims, lang: str) -> str:
    from admin import catalog

    svc = _services()
    token = frames.sign(svc.settings.secret_key, portal.member_id, str(claims.user_id),
                        frames.PAGE, admin=claims.is_admin)
    catalog.remember_through_port(svc, portal.member_id, str(claims.user_id), lang)
    return f"{svc.settings.public_base_url}/app/overview?" + urlencode({"t": token,
                                                                        "LANG": lang})


def card_url(portal: Portal, claims: WidgetClaims, lead_id: int, lang: str) -> str:
    from placements.views import TAB

    svc = _services()
    token = frames.sign(svc.settings.secret_key, portal.member_id, str(claims.user_id),
                        frames.deal_tab(lead_id), admin=claims.is_admin)
    return f"{svc.settings.public_base_url}{TAB}/view?" + urlencode(
        {"t": token, "deal": lead_id, "LANG": lang})


def _open(claims: WidgetClaims, portal: Portal, body: dict[str, Any], lang: str) -> Any:
    page = str(body.get("page", ""))
    if page == "settings":
        if not claims.is_admin:
            return refuse("admins_only", lang, portal)
        return _cors(jsonify({"url": settings_url(portal, claims, lang)}), portal)
    lead = str(body.get("lead_id", ""))
    if page != "card" or not lead.isdigit() or int(lead) <= 0:
        return refuse("bad_request", lang, portal)
    if reason := _lead_for(portal, claims, int(lead)):
        return refuse(reason, lang, portal)
    return _cors(jsonify({"url": card_url(portal, claims, int(lead), lang)}), portal)


@bp.route("/open", methods=["POST", "OPTIONS"])
def open_page() -> Any:
    """{"page": "settings"} or {"page": "card", "lead_id": N} → {"url": the page to frame}."""
    return guarded(_open)


# the away switch ---------------------------------------------------------------------------
def _away(claims: WidgetClaims, portal: Portal, body: dict[str, Any], lang: str) -> Any:
    svc = _services()
    prefix, mid, uid = svc.settings.queue_prefix, portal.member_id, claims.user_id
    if request.method == "POST":
        if not isinstance(body.get("away"), bool):
            return refuse("bad_request", lang, portal)
        presence.set_away(svc.redis, prefix, mid, uid, body["away"])
    since = presence.away_since(svc.redis, prefix, mid, uid)
    state = presence.presence_for(svc, mid)((uid,))[uid]
    return _cors(jsonify({"away": bool(since), "since": since or None, "availability": state,
                          "label": t(lang, AVAILABILITY_LABELS.get(state, UNKNOWN_LABEL))}),
                 portal)


AVAILABILITY_LABELS = {"working": N_("At work: new leads can come to you."),
                       "paused": N_("Away: new leads go to others."),
                       "closed": N_("Outside your working hours: new leads go to others.")}
UNKNOWN_LABEL = N_("Your working hours are not known to the app.")


@bp.route("/away", methods=["GET", "POST", "OPTIONS"])
def away() -> Any:
    """The viewer's own switch: GET reads it, POST {"away": true|false} sets it; both answer
    {"away", "since", "availability", "label"}."""
    return guarded(_away)


@bp.app_context_processor
def on_amocrm() -> dict[str, bool]:
    """Pages framed in amoCRM skip Bitrix24's script and say "account" for the tenant."""
    return {"on_amocrm": crm_of(str(g.get("member_id", "") or "")) == AMOCRM}
