"""Placement pages (deal-card tab): who is looking, whether they may see the deal, then what
the workers recorded.

The portal POSTs member_id, APPLICATION_TOKEN and the viewer's AUTH_ID
(api-reference/widgets/crm/detail-tab.md). placements.frame checks the first two against
the store and has the portal confirm the third; the deal is shown only when the portal
answers the viewer's own `crm.deal.get` (a user without the right gets a page that names
nothing of the deal). Everything else on the tab is read from Redis: at most two REST
requests per render, one when the viewer was confirmed within the last minute.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import get_locale, gettext

from connector.bitrix.errors import BitrixRetryableError
from connector.bitrix.viewer import may_read
from connector.context import JobContext
from connector.i18n import t
from connector.journal import entries
from placements.frame import Refused, framed, open_frame
from placements.registry import PLACEMENTS_BY_NAME

bp = Blueprint("placements", __name__)


def card_sections(services: Any, member_id: str, deal_id: int, lang: str) -> list[dict[str, Any]]:
    """Each capability's part of the deal tab, from what its workers recorded.

    Read from Redis only: the tab never waits for the CRM's API.
    """
    out = []
    for cap, section in services.registry.card_sections():
        ctx = JobContext.load(services, member_id, "deal-tab", cap.name)
        if ctx is None:
            break
        out.append({"name": f"{cap.name}-{section.name}", "title": t(lang, section.title),
                    "template": section.template, "facts": section.facts(ctx, deal_id)})
    return out


@bp.post("/placements/<name>")
def placement(name: str) -> Any:
    spec = PLACEMENTS_BY_NAME.get(name)
    if spec is None:
        abort(404)
    try:
        frame = open_frame(request.form)
    except Refused as refused:
        return refused.answer()
    services = current_app.extensions["connector"]
    member_id = frame.portal.member_id
    try:
        options = json.loads(request.form.get("PLACEMENT_OPTIONS") or "{}")
    except ValueError:
        options = {}
    entity_id = str(options.get("ID", "")) if isinstance(options, dict) else ""
    if not entity_id.isdigit():
        return framed(render_template("placement_no_access.html"), frame.portal, 404)
    try:
        allowed = may_read(services, frame.portal, frame.auth_id, spec.read_method,
                           int(entity_id))
    except BitrixRetryableError:
        return Refused(503, gettext("Bitrix24 did not answer in time: reload the page."),
                       member_id).answer()
    portal = services.store.get(member_id) or frame.portal  # a rename may have been learnt
    if not allowed:
        return framed(render_template("placement_no_access.html"), portal, 403)
    events = [e for e in entries(services, member_id, 200)
              if str(e.get("id")) == entity_id and "DEAL" in e.get("event", "")]
    sections = card_sections(services, member_id, int(entity_id), str(get_locale()))
    return framed(render_template("deal_tab.html", portal=portal, deal_id=entity_id,
                                  events=events[:20], sections=sections), portal)
