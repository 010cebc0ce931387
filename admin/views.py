"""The admin area's routes: open from the portal's frame, then signed follow-ups.

The portal opens the app by POSTing a frame (install.views hands it here once the portal is
known): placements.frame confirms the viewer, and every link and form on the pages carries
a frame token signed for (portal, viewer) instead of the viewer's AUTH_ID. A form also
carries its CSRF value. A page is re-signed at each render, so an admin working through the
pages is not cut off mid-form; admin-only pages refuse a token whose viewer is no admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import get_locale, gettext
from werkzeug.datastructures import ImmutableMultiDict

from admin import catalog as names
from admin import forms
from admin.pages import OVERVIEW, Page, pages, shown_on
from admin.panels_core import GENERAL_PANELS, OPERATIONS_PANELS, OVERVIEW_PANELS
from connector import frames
from connector.bitrix.store import Portal
from connector.bitrix.viewer import Viewer
from connector.capability import AdminView, Outcome, PostedFile
from connector.context import JobContext
from connector.crm.port import AMOCRM, crm_of
from connector.i18n import N_, t
from placements.frame import Frame, Refused, follow_up, framed, page_token, services

bp = Blueprint("admin", __name__)
PAGE_PATH = "/app/"
FORM_SLACK = 64 * 1024  # a multipart body beside its file: boundaries, headers, hidden fields
MiB = 1024 * 1024
AMO_NAMES = N_("On amoCRM the app lists pipelines and recent leads by name; users, stages "
               "and fields are typed as ids (amoCRM shows a user's id in Settings → Users, "
               "a stage's in the pipeline's settings).")
TOO_LARGE = N_("The file is {size} MB; this page accepts files up to {limit} MB. Nothing "
               "was saved.")


def page_index() -> dict[str, Page]:
    """The admin pages of this app's registry, made once per app."""
    ext = current_app.extensions
    if "admin_pages" not in ext:
        ext["admin_pages"] = {p.name: p for p in pages(
            services().registry, OVERVIEW_PANELS, OPERATIONS_PANELS, GENERAL_PANELS)}
    return ext["admin_pages"]


def page_url(name: str, token: str, **query: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return (f"{services().settings.public_base_url}{PAGE_PATH}{name}?t={token}"
            f"&LANG={get_locale()}{extra}")


def open_app(frame: Frame) -> Any:
    """The portal opened the app: read the portal's names with an admin's own token, then
    the overview."""
    if frame.viewer.admin:
        names.remember(services(), frame.portal, frame.viewer, frame.auth_id)
    return render(frame.portal, frame.viewer, OVERVIEW)


def _panel_ctx(page: Page, member_id: str) -> JobContext | None:
    return JobContext.load(services(), member_id, f"admin-{page.name}", page.capability)


def render(portal: Portal, viewer: Viewer, name: str, *, notice: Outcome | None = None,
           submitted: Mapping[str, Any] | None = None, error: Any = None,
           values: Mapping[str, str] | None = None, status: int = 200) -> Any:
    index = page_index()
    page = index.get(name)
    if page is None:
        abort(404)
    if page.admin_only and not viewer.admin:
        return Refused(403, gettext("Only a portal administrator can do this."),
                       portal.member_id).answer()
    svc = services()
    lang = str(get_locale())
    token = page_token(portal, viewer)
    catalog = names.recall(svc, portal.member_id, viewer.user_id) if viewer.admin else None
    view = AdminView(viewer.user_id, dict(values or request.args), catalog)
    ctx = _panel_ctx(page, portal.member_id)
    doc = svc.portal_settings.get(portal.member_id)
    crm = crm_of(portal.member_id)
    sections = [forms.section(schema, doc.get(schema.name, {}), lang, catalog,
                              (submitted or {}).get(schema.name), error)
                for schema in page.schemas if shown_on(schema.name, crm)]
    if crm == AMOCRM:  # the page's own note says which names amoCRM gives (crm_note)
        sections = [{**s, "names_missing": []} for s in sections]
    panels = [{"name": f"{page.name}-{panel.name}", "key": panel.name,
               "title": t(lang, panel.title), "template": panel.template,
               "facts": panel.facts(ctx, view) if ctx else {}}
              for panel in page.panels if viewer.admin or not panel.admin_only]
    nav = [{"name": p.name, "title": t(lang, p.title), "url": page_url(p.name, token),
            "current": p.name == page.name}
           for p in index.values() if viewer.admin or not p.admin_only]
    html = render_template(
        "admin/page.html", portal=portal, viewer=viewer, page=page,
        title=t(lang, page.title), nav=nav, sections=sections, panels=panels,
        notice=(t(lang, notice.msgid, **notice.params), notice.ok) if notice else None,
        action=f"{svc.settings.public_base_url}{PAGE_PATH}{page.name}?LANG={lang}",
        frame_token=token, csrf=frames.csrf_for(svc.settings.secret_key, token),
        catalog_missing=viewer.admin and catalog is None and bool(page.schemas),
        crm_note=t(lang, AMO_NAMES) if crm == AMOCRM and viewer.admin and sections else "",
        page_url=lambda n, **q: page_url(n, token, **q))
    return framed(html, portal, status)


def _claims(token: str) -> tuple[frames.Claims, Portal, Viewer]:
    claims, portal = follow_up(token, frames.PAGE)
    return claims, portal, Viewer(claims.user_id, claims.admin, claims.confirmed)


@bp.get(f"{PAGE_PATH}<name>")
def show(name: str) -> Any:
    try:
        _, portal, viewer = _claims(str(request.args.get("t", "")))
    except Refused as refused:
        return refused.answer()
    return render(portal, viewer, name)


def _too_large(name: str) -> Any:
    """A multipart body longer than the page's panels accept, refused before a byte of it
    is read: the upload form's address carries the page token (`?t=`), so the page can say
    why in the admin's language. None when the body may be read (the limit is raised to
    the panels' own for this request only)."""
    page = page_index().get(name)
    limit = max((p.max_upload for p in page.panels), default=0) if page else 0
    length = request.content_length or 0
    if limit and length <= limit + FORM_SLACK:
        request.max_content_length = limit + FORM_SLACK
        return None
    request.form = request.files = ImmutableMultiDict()  # type: ignore[misc] - left unread
    try:
        _, portal, viewer = _claims(str(request.args.get("t", "")))
    except Refused as refused:
        return refused.answer()
    if not limit:
        abort(413)
    resp = render(portal, viewer, name, status=413, values=dict(request.args),
                  notice=Outcome(False, TOO_LARGE, {"size": round(length / MiB, 1),
                                                    "limit": limit // MiB}))
    resp.headers["Connection"] = "close"  # the rest of the body is not read
    return resp


def _files() -> dict[str, PostedFile]:
    """A multipart form's files (werkzeug keeps a large one on disk, not in memory)."""
    return {key: PostedFile(f.filename or "", f.stream.read)
            for key, f in request.files.items() if f.filename}


@bp.post(f"{PAGE_PATH}<name>")
def submit(name: str) -> Any:
    """A settings form (`_section`) or a panel's action (`_action` = "<panel>.<action>");
    a panel's form may carry a file (multipart, at most the page's `Panel.max_upload`)."""
    if request.mimetype == "multipart/form-data" and (refused := _too_large(name)) is not None:
        return refused
    form = request.form
    token = str(form.get("t", ""))
    try:
        claims, portal, viewer = _claims(token)
    except Refused as refused:
        return refused.answer()
    svc = services()
    if not frames.csrf_ok(svc.settings.secret_key, token, str(form.get("csrf", ""))):
        return Refused(403, gettext("The form has expired: open the app in Bitrix24 again."),
                       claims.member_id).answer()
    page = page_index().get(name)
    if page is None:
        abort(404)
    if not viewer.admin:
        return Refused(403, gettext("Only a portal administrator can do this."),
                       claims.member_id).answer()
    if form.get("_section"):
        schema = next((s for s in page.schemas if s.name == form["_section"]), None)
        if schema is None or not shown_on(schema.name, crm_of(portal.member_id)):
            abort(404)
        catalog = names.recall(svc, portal.member_id, viewer.user_id)
        result = forms.save(svc, portal.member_id, viewer.user_id, schema, form, catalog)
        if result.error is not None:
            return render(portal, viewer, name, submitted={schema.name: result.submitted},
                          error=result.error, status=422,
                          notice=Outcome(False, forms.NOT_SAVED))
        if result.outcome is None:  # "add"/"remove" in a list: the draft again, unsaved
            return render(portal, viewer, name, submitted={schema.name: result.submitted})
        return render(portal, viewer, name, notice=result.outcome)
    panel_name, _, action_name = str(form.get("_action", "")).partition(".")
    panel = next((p for p in page.panels if p.name == panel_name), None)
    action = panel.actions.get(action_name) if panel else None
    if action is None:
        abort(404)
    ctx = _panel_ctx(page, portal.member_id)
    if ctx is None:
        abort(404)
    values = {k: v for k, v in form.items() if k not in ("t", "csrf", "_action")}
    view = AdminView(viewer.user_id, values,
                     names.recall(svc, portal.member_id, viewer.user_id), _files())
    outcome = action(ctx, view)
    return render(portal, viewer, name, notice=outcome, values=values,
                  status=200 if outcome.ok else 422)
