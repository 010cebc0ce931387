"""The trust steps every framed page takes, and the answers it gives when one fails.

A frame is trusted only in this order: the portal is known and active, the frame's
APPLICATION_TOKEN matches its stored digest, and its AUTH_ID is confirmed by the portal as
one of its users (connector.bitrix.viewer). A follow-up request from a page instead carries
a signed frame token (connector.frames). Every framed answer — refusals too — gets the
frame policy naming the portal's current stored domain, read after the checks, which may
have learnt a renamed portal's new address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g, render_template
from flask_babel import gettext

from connector import frames
from connector.bitrix.errors import BitrixRetryableError
from connector.bitrix.store import ACTIVE, Portal
from connector.bitrix.viewer import Viewer, confirm


@dataclass(frozen=True)
class Frame:
    portal: Portal
    viewer: Viewer
    auth_id: str


class Refused(Exception):
    """A framed request that must not be served; `answer()` is the page to send instead."""

    def __init__(self, status: int, reason: str, member_id: str = ""):
        super().__init__(reason)
        self.status, self.reason, self.member_id = status, reason, member_id

    def answer(self) -> Any:
        services = current_app.extensions["connector"]
        portal = services.store.get(self.member_id) if self.member_id else None
        template = "placement_unavailable.html" if self.status == 503 else "placement_denied.html"
        return framed(render_template(template, reason=self.reason), portal, self.status)


def services() -> Any:
    return current_app.extensions["connector"]


def open_frame(form: Any) -> Frame:
    """The portal and the confirmed viewer of a frame the portal POSTed, or Refused."""
    svc = services()
    member_id = str(form.get("member_id", ""))
    if not member_id or not svc.store.application_token_matches(
            member_id, str(form.get("APPLICATION_TOKEN", ""))):
        raise Refused(401, gettext("This page opens only inside the Bitrix24 portal the app "
                                   "is installed on."))
    portal = svc.store.get(member_id)
    if portal is None or portal.status != ACTIVE:
        raise Refused(401, gettext("The app is not installed on this portal."), member_id)
    auth_id = str(form.get("AUTH_ID", ""))
    try:
        viewer = confirm(svc, portal, auth_id)
    except BitrixRetryableError:
        raise Refused(503, gettext("Bitrix24 did not answer in time: reload the page."),
                      member_id) from None
    if viewer is None:
        raise Refused(401, gettext("Bitrix24 did not confirm who you are: reload the page."),
                      member_id)
    g.member_id = member_id
    return Frame(svc.store.get(member_id) or portal, viewer, auth_id)


def follow_up(token: str, purpose: str) -> tuple[frames.Claims, Portal]:
    """The claims and active portal of a signed follow-up token, or Refused (401)."""
    svc = services()
    claims = frames.verify(svc.settings.secret_key, token, purpose)
    portal = svc.store.get(claims.member_id) if claims else None
    if claims is None or portal is None or portal.status != ACTIVE:
        raise Refused(401, gettext("This link is invalid or has expired: open the app in "
                                   "Bitrix24 again."))
    g.member_id = claims.member_id
    return claims, portal


def page_token(frame_portal: Portal, viewer: Viewer, purpose: str = frames.PAGE) -> str:
    return frames.sign(services().settings.secret_key, frame_portal.member_id, viewer.user_id,
                       purpose, admin=viewer.admin, confirmed=viewer.confirmed or None)


def framed(html: str, portal: Portal | None, status: int = 200) -> Any:
    """`html` as a response only `portal`'s own pages may frame."""
    resp = current_app.make_response((html, status))
    resp.headers["Content-Security-Policy"] = (
        frames.frame_ancestors(portal.domain, portal.client_endpoint) if portal
        else "frame-ancestors 'none'")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # signed tokens stay out of Referer
    return resp
