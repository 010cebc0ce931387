"""Connecting a portal's Google account for the Drive mirror (OAuth consent, state checked).

The app's Google Drive page gives a portal admin a link signed for (portal, that admin) and valid
15 minutes (connector.frames, purpose google.connect); a link for a non-admin is never made
and would be refused. The link starts Google's consent with an unguessable `state`
remembered in Redis for ten minutes and usable once, so a callback can neither be forged
nor replayed, and it lands on the portal that asked.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request
from flask_babel import gettext

from connector import frames
from connector.bitrix.store import ACTIVE
from connector.errors import ConnectorError
from connector.gdrive.credentials import consent_url, exchange_code, new_state
from robots.drive_mirror import connection

bp = Blueprint("google", __name__)
log = logging.getLogger(__name__)
STATE_TTL_S = 600


def _state_key(prefix: str, state: str) -> str:
    return f"{prefix}:gstate:{state}"


@bp.get("/google/connect")
def connect() -> Any:
    services = current_app.extensions["connector"]
    s = services.settings
    claims = frames.verify(s.secret_key, request.args.get("t", ""), frames.GOOGLE_CONNECT)
    portal = services.store.get(claims.member_id) if claims else None
    if claims is None or not claims.admin or portal is None or portal.status != ACTIVE:
        return render_template("google_result.html", ok=False, reason=gettext(
            "This link is invalid or has expired: open the app in Bitrix24 again and use "
            "the new link.")), 403
    member_id = g.member_id = claims.member_id  # the page speaks the portal's language
    if not s.google_client_id:
        return render_template("google_result.html", ok=False,
                               reason=gettext(
                                   "The operator has not configured GOOGLE_CLIENT_ID.")), 503
    state = new_state()
    services.redis.set(_state_key(s.queue_prefix, state), member_id, ex=STATE_TTL_S)
    log.info("Google consent started for portal %s by user %s", member_id, claims.user_id)
    return redirect(consent_url(s.google_client_id, f"{s.public_base_url}/google/callback",
                                state, auth_uri=s.google_auth_uri), code=302)


@bp.get("/google/callback")
def callback() -> Any:
    services = current_app.extensions["connector"]
    s = services.settings
    state = request.args.get("state", "")
    member_id = services.redis.getdel(_state_key(s.queue_prefix, state)) if state else None
    if not member_id:
        return render_template("google_result.html", ok=False,
                               reason=gettext("Unknown or already used sign-in attempt: "
                                              "start again from the app.")), 400
    member_id = g.member_id = member_id.decode()
    if request.args.get("error"):
        return render_template("google_result.html", ok=False,
                               reason=gettext("Google said: %(error)s",
                                              error=request.args["error"])), 400
    try:
        grant = exchange_code(request.args.get("code", ""), s.google_client_id,
                              s.google_client_secret, f"{s.public_base_url}/google/callback",
                              token_uri=s.google_token_uri, session=services.session)
    except ConnectorError as exc:
        log.warning("Google connect for %s failed: %s", member_id, exc)
        return render_template("google_result.html", ok=False, reason=str(exc)), 502
    if not grant.refresh_token:
        return render_template("google_result.html", ok=False,
                               reason=gettext("Google returned no refresh token; try again.")), 502
    connection.save(services, member_id, "user", {"refresh_token": grant.refresh_token})
    log.info("Google Drive connected for portal %s", member_id)
    return render_template("google_result.html", ok=True, reason=""), 200
