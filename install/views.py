"""The installer page: prove the admin's token, save it, register everything, finish.

This is one of two places that work synchronously: the admin is looking at it. If any
registration fails, the page says which and does not call installFinish, so the portal
keeps showing the installer until it succeeds.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext

from admin.views import open_app
from connector.bitrix.errors import BitrixError
from install.lifecycle import Grant, accept_grant, lifetime_s
from install.registrations import reconcile
from placements.frame import Refused, open_frame

bp = Blueprint("install", __name__)
log = logging.getLogger(__name__)


@bp.route("/install", methods=["GET", "POST"])
def installer() -> Any:
    services = current_app.extensions["connector"]
    settings = services.settings
    form = request.form
    if request.method == "GET" or not form.get("AUTH_ID"):
        return render_template("install_info.html", base=settings.public_base_url), 200
    member_id = form.get("member_id", "")
    portal = services.store.get(member_id) if member_id else None
    if (portal is not None and portal.status == "active"
            and services.store.application_token_matches(member_id,
                                                         form.get("APPLICATION_TOKEN", ""))
            and services.store.get_tokens(member_id) is not None):
        # an installed portal opening the app: its pages, for the user the portal confirms
        try:
            return open_app(open_frame(form))
        except Refused as refused:
            return refused.answer()
    try:
        expires_in = lifetime_s(form.get("AUTH_EXPIRES"), "AUTH_EXPIRES")
    except ValueError:
        return render_template("install_error.html", reason=gettext(
            "The portal sent a token lifetime (AUTH_EXPIRES) that is not a number of seconds: "
            "open the app from the portal again."), errors={}), 400
    grant = Grant(
        member_id=form.get("member_id", ""),
        domain=request.args.get("DOMAIN") or None,
        access_token=form.get("AUTH_ID", ""),
        refresh_token=form.get("REFRESH_ID", ""),
        expires_in=expires_in,
        application_token=form.get("APPLICATION_TOKEN", ""),
        scope=form.get("APPLICATION_SCOPE", ""),
        language=request.values.get("LANG", ""),
    )
    try:
        portal = accept_grant(services, grant, from_frame=True)
    except BitrixError as exc:
        log.warning("installer refused for %s: %s", grant.member_id[:40], exc.description)
        status = exc.status if exc.status in (401, 403) else 401
        return render_template("install_error.html", reason=gettext(exc.description),
                               errors={}), status
    doc = services.portal_settings.get(portal.member_id)
    try:
        outcome = reconcile(services.registry, services.client(portal.member_id),
                            settings.public_base_url, portal.user_id,
                            doc["events"]["offline_backup"])
    except BitrixError as exc:
        return render_template("install_error.html", reason=str(exc), errors={}), 502
    from connector.jobs import ensure_periodic

    ensure_periodic(services, portal.member_id)
    if not outcome.ok:
        return render_template("install_error.html", reason=gettext("Some registrations failed."),
                               errors=outcome.errors), 502
    return render_template("install_done.html", portal=portal, applied=outcome.applied), 200
