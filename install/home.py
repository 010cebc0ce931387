"""The app's home page (the portal opens the app after it is installed) and its one form.

Anyone on the portal may open the app; what they see depends on who the portal says they
are (placements.frame): every user sees the robots and the Google connection's state, a
portal admin also gets the Google connect link, how missed events are re-read on this
portal's plan (connector.bitrix.offline) and the "check registrations again" form.
Both carry a frame token signed for (portal, that admin); the form also carries its CSRF
value. The form answers with the home page again, so it never needs the frame's AUTH_ID.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext

from connector import frames
from connector import queue as q
from connector.bitrix import offline
from connector.bitrix.store import Portal
from connector.bitrix.viewer import Viewer
from placements.frame import Refused, follow_up, framed, open_frame, page_token, services
from robots.drive_mirror import connection

RECONCILE_PATH = "/app/reconcile"


def offline_mode(svc: Any, member_id: str) -> str:
    """The drain mode the portal's plan allows, as the drain cached it; "" = not known yet."""
    raw = svc.redis.get(offline.mode_key(svc.settings.queue_prefix, member_id))
    value = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    return value if value in ("reserve", "clear") else ""


def render_home(portal: Portal, viewer: Viewer, notice: str = "", status: int = 200) -> Any:
    svc = services()
    base = svc.settings.public_base_url
    token = page_token(portal, viewer) if viewer.admin else ""
    link = (f"{base}/google/connect?t={page_token(portal, viewer, frames.GOOGLE_CONNECT)}"
            if viewer.admin else "")
    html = render_template(
        "app_home.html", portal=portal, robots=list(svc.registry.triggers.values()),
        google=connection.status(svc, portal.member_id), google_link=link, notice=notice,
        form_action=f"{base}{RECONCILE_PATH}", frame_token=token,
        offline_mode=offline_mode(svc, portal.member_id) if viewer.admin else None,
        offline_page=offline.PAGE, offline_feature=offline.FEATURE,
        csrf=frames.csrf_for(svc.settings.secret_key, token) if token else "")
    return framed(html, portal, status)


def from_frame(form: Any) -> Any:
    """The home page for a frame the portal POSTed."""
    try:
        frame = open_frame(form)
    except Refused as refused:
        return refused.answer()
    return render_home(frame.portal, frame.viewer)


def reconcile_requested(form: Any) -> Any:
    """An admin's "check registrations again": signed token, CSRF, then one queued job."""
    svc = services()
    try:
        claims, portal = follow_up(str(form.get("t", "")), frames.PAGE)
    except Refused as refused:
        return refused.answer()
    if not frames.csrf_ok(svc.settings.secret_key, str(form.get("t", "")),
                          str(form.get("csrf", ""))):
        return Refused(403, gettext("The form has expired: open the app in Bitrix24 again."),
                       claims.member_id).answer()
    if not claims.admin:
        return Refused(403, gettext("Only a portal administrator can do this."),
                       claims.member_id).answer()
    svc.queues.enqueue("connector.jobs.run_maintenance", ["reconcile", portal.member_id],
                       q.job_id("reconcile", portal.member_id, "app-page"),
                       queue=q.MAINTENANCE, member_id=portal.member_id, until_started=True)
    viewer = Viewer(claims.user_id, claims.admin)
    return render_home(portal, viewer, notice=gettext(
        "Registrations will be checked again in a moment; whatever is missing is added."))

