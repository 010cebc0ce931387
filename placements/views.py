"""Placement pages (deal-card tab): who is looking, whether they may see the deal, then what
the workers recorded, and the actions a manager starts from it.

The portal POSTs member_id, APPLICATION_TOKEN and the viewer's AUTH_ID
(api-reference/widgets/crm/detail-tab.md). placements.frame checks the first two against
the store and has the portal confirm the third; the deal is shown only when the portal
answers the viewer's own `crm.deal.get` (a user without the right gets a page that names
nothing of the deal). Everything else on the tab is read from Redis: at most two REST
requests per render, one when the viewer was confirmed within the last minute.

Its buttons post a frame token signed for (portal, viewer, this deal) and its CSRF value to
/placements/deal_tab/act (with a `value` when the button acts on one thing of its section,
decision 36), which queues the capability's job and redirects to the tab again
(/view, so a reload repeats nothing); the tab then follows that job (/progress, JSON
{html, done}, polled by app.js) until its result is recorded. Follow-ups never call the
portal: the token was made only after the portal said this viewer may read this deal.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, redirect, render_template, request
from flask_babel import get_locale, gettext

from connector import bounded_json, frames, history
from connector.bitrix.errors import BitrixRetryableError
from connector.bitrix.store import Portal
from connector.bitrix.viewer import may_read
from connector.capability import CardAction, CardSection
from connector.context import JobContext
from connector.crm.port import ItemRef
from connector.i18n import t
from connector.jobs import Progress, progress
from placements.frame import Refused, follow_up, framed, open_frame, services
from placements.registry import PLACEMENTS_BY_NAME

bp = Blueprint("placements", __name__)
TAB = "/placements/deal_tab"
HISTORY_SHOWN = 30
VALUE_MAX = 200  # an action's value (a document's code): longer is cut, and then unknown


class Tab:
    """One render of a deal's tab for one viewer: the token its follow-ups carry, and how to
    turn what the capabilities recorded into the page's values."""

    def __init__(self, portal: Portal, user_id: str, deal_id: int, admin: bool = False,
                 confirmed: float | None = None):
        svc = services()
        self.portal, self.user_id, self.deal_id = portal, user_id, deal_id
        self.lang = str(get_locale())
        self.token = frames.sign(svc.settings.secret_key, portal.member_id, user_id,
                                 frames.deal_tab(deal_id), admin=admin, confirmed=confirmed)
        self.csrf = frames.csrf_for(svc.settings.secret_key, self.token)
        self.ctx = JobContext.load(svc, portal.member_id, "deal-tab")

    def url(self, path: str, **query: Any) -> str:
        base = services().settings.public_base_url
        return f"{base}{TAB}/{path}?" + urlencode(
            {"t": self.token, "deal": self.deal_id, "LANG": self.lang, **query})

    def tr(self, msgid: str, **params: Any) -> str:
        """A msgid a capability recorded, in the viewer's language (for section templates)."""
        return t(self.lang, msgid, **params)

    def section(self, cap_name: str, section: CardSection, job: str = "") -> dict[str, Any]:
        assert self.ctx is not None
        facts = section.facts(self.ctx.of(cap_name), self.deal_id)
        follow = progress(services(), job, self.portal.member_id) if job else None
        return {"name": f"{cap_name}-{section.name}", "title": t(self.lang, section.title),
                "template": section.template, "facts": facts,
                "actions": [{"key": f"{cap_name}.{section.name}.{a.name}",
                             "label": t(self.lang, a.label)}
                            for a in section.actions
                            if a.shown(facts) and not (a.value or a.form)],
                # an action with a value: its buttons are the section template's (_act.html)
                "keys": {a.name: f"{cap_name}.{section.name}.{a.name}"
                         for a in section.actions if (a.value or a.form) and a.shown(facts)},
                "progress": follow, "poll": self.url("progress", section=f"{cap_name}-"
                                                     f"{section.name}", job=job) if job else "",
                "again": self.url("view", section=f"{cap_name}-{section.name}", job=job)}

    def sections(self, followed: str = "", job: str = "") -> list[dict[str, Any]]:
        return [self.section(cap.name, sec, job if f"{cap.name}-{sec.name}" == followed else "")
                for cap, sec in services().registry.card_sections()]

    def history(self) -> list[dict[str, Any]]:
        assert self.ctx is not None
        key = self.ctx.history_key(ItemRef("deal", self.deal_id))
        return [{"ts": e["ts"], "text": history.render(e, self.lang)}
                for e in history.entries(self.ctx.redis, key, HISTORY_SHOWN)]

    def page(self, followed: str = "", job: str = "", status: int = 200) -> Any:
        if self.ctx is None:
            return Refused(401, gettext("The app is not installed on this portal."),
                           self.portal.member_id).answer()
        return framed(render_template(
            "deal_tab.html", portal=self.portal, deal_id=self.deal_id, tab=self,
            sections=self.sections(followed, job), history=self.history()), self.portal, status)


def _action(key: str) -> tuple[str, CardAction] | None:
    cap_name, _, rest = key.partition(".")
    sec_name, _, act_name = rest.partition(".")
    for cap, sec in services().registry.card_sections():
        if cap.name == cap_name and sec.name == sec_name:
            return next(((cap.name, a) for a in sec.actions if a.name == act_name), None)
    return None


def _follow_up(values: Any) -> Tab:
    """The tab a signed follow-up speaks for (this deal only), or Refused (401)."""
    deal = str(values.get("deal", ""))
    if not deal.isdigit():
        raise Refused(401, gettext("This link is invalid or has expired: open the app in "
                                   "Bitrix24 again."))
    claims, portal = follow_up(str(values.get("t", "")), frames.deal_tab(deal))
    return Tab(portal, claims.user_id, int(deal), claims.admin, claims.confirmed)


@bp.post("/placements/<name>")
def placement(name: str) -> Any:
    spec = PLACEMENTS_BY_NAME.get(name)
    if spec is None:
        abort(404)
    try:
        frame = open_frame(request.form)
    except Refused as refused:
        return refused.answer()
    svc = services()
    member_id = frame.portal.member_id
    try:
        options = bounded_json.loads(request.form.get("PLACEMENT_OPTIONS") or "{}")
    except ValueError:
        options = {}
    entity_id = str(options.get("ID", "")) if isinstance(options, dict) else ""
    if not entity_id.isdigit():
        return framed(render_template("placement_no_access.html"), frame.portal, 404)
    try:
        allowed = may_read(svc, frame.portal, frame.auth_id, spec.read_method, int(entity_id))
    except BitrixRetryableError:
        return Refused(503, gettext("Bitrix24 did not answer in time: reload the page."),
                       member_id).answer()
    portal = svc.store.get(member_id) or frame.portal  # a rename may have been learnt
    if not allowed:
        return framed(render_template("placement_no_access.html"), portal, 403)
    return Tab(portal, frame.viewer.user_id, int(entity_id), frame.viewer.admin,
               frame.viewer.confirmed or None).page()


@bp.post(f"{TAB}/act")
def act() -> Any:
    """A button of the tab: queue its job, then show the tab following it."""
    try:
        tab = _follow_up(request.form)
    except Refused as refused:
        return refused.answer()
    svc = services()
    if not frames.csrf_ok(svc.settings.secret_key, str(request.form.get("t", "")),
                          str(request.form.get("csrf", ""))):
        return Refused(403, gettext("The form has expired: open the tab again."),
                       tab.portal.member_id).answer()
    found = _action(str(request.form.get("action", "")))
    if found is None or tab.ctx is None:
        abort(404)
    cap_name, action = found
    if action.form:  # a small form: its fields as JSON; the capability checks them
        job = action.run(tab.ctx.of(cap_name), tab.deal_id, json.dumps(
            {name: str(request.form.get(name, ""))[:VALUE_MAX] for name in action.form},
            ensure_ascii=False))
    elif action.value:  # the thing of the section it acts on; the capability checks it
        job = action.run(tab.ctx.of(cap_name), tab.deal_id,
                         str(request.form.get("value", ""))[:VALUE_MAX])
    else:
        job = action.run(tab.ctx.of(cap_name), tab.deal_id)
    section = str(request.form.get("action", "")).rsplit(".", 1)[0].replace(".", "-")
    return redirect(tab.url("view", section=section, job=job), code=303)


@bp.get(f"{TAB}/view")
def view() -> Any:
    """The tab again (after an action, or its "refresh" link without JavaScript)."""
    try:
        tab = _follow_up(request.args)
    except Refused as refused:
        return refused.answer()
    return tab.page(request.args.get("section", ""), request.args.get("job", ""))


@bp.get(f"{TAB}/progress")
def follow() -> Any:
    """JSON {html, done}: the tab's body as it is now, until the followed job has ended."""
    try:
        tab = _follow_up(request.args)
    except Refused as refused:
        return jsonify({"html": refused.reason, "done": True}), 401
    wanted, job = request.args.get("section", ""), request.args.get("job", "")
    sections = tab.sections(wanted, job)
    followed = next((sec for sec in sections if sec["name"] == wanted), None)
    if followed is None:
        abort(404)
    state: Progress | None = followed["progress"]
    html = render_template("sections/_tab.html", sections=sections, history=tab.history(),
                           tab=tab, portal=tab.portal)
    resp = jsonify({"html": html, "done": state is None or state.over})
    resp.headers["Cache-Control"] = "no-store"
    return resp
