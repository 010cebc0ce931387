"""Placement pages (deal-card tab): verify the portal, then render what the worker produced.

A placement POST carries member_id and APPLICATION_TOKEN in its body; both are checked
against the store before anything is shown. Pages are framed by the portal, so instead of
X-Frame-Options we send a frame-ancestors policy naming the portal's own domain.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from handlers.crm import journal_key
from placements.registry import PLACEMENTS_BY_NAME

bp = Blueprint("placements", __name__)


def deal_facts(services: Any, portal: Any, deal_id: int) -> dict[str, Any]:
    """What the workers recorded for this deal: folder, chat, Drive folder, assignments.

    Read from Redis only: the tab never waits for the portal's REST API.
    """
    from robots.deal_workspace.setup import Workspace
    from robots.distribution.state import DistributionState

    prefix = services.settings.queue_prefix
    record = Workspace(services.redis, prefix, portal.member_id).record(deal_id)
    drive = services.redis.get(f"{prefix}:gdrive:{portal.member_id}:folder:{deal_id}")
    audit = DistributionState(services.redis, prefix, portal.member_id).audit_entries(
        5, f"deal/{deal_id}")
    return {"folder_url": record.get("folder_url", ""), "chat_id": record.get("chat_id", 0),
            "drive_folder": drive.decode() if drive else "", "decisions": audit}


@bp.post("/placements/<name>")
def placement(name: str) -> Any:
    spec = PLACEMENTS_BY_NAME.get(name)
    if spec is None:
        abort(404)
    services = current_app.extensions["connector"]
    member_id = request.form.get("member_id", "")
    token = request.form.get("APPLICATION_TOKEN", "")
    if not member_id or not services.store.application_token_matches(member_id, token):
        return render_template("placement_denied.html"), 401
    portal = services.store.get(member_id)
    try:
        options = json.loads(request.form.get("PLACEMENT_OPTIONS") or "{}")
    except ValueError:
        options = {}
    entity_id = str(options.get("ID", "")) if isinstance(options, dict) else ""
    events = []
    for raw in services.redis.lrange(journal_key(services.settings.queue_prefix, member_id),
                                     0, 200):
        entry = json.loads(raw)
        if str(entry.get("id")) == entity_id and "DEAL" in entry.get("event", ""):
            events.append(entry)
    facts: dict[str, Any] = {}
    if entity_id.isdigit() and portal is not None:
        facts = deal_facts(services, portal, int(entity_id))
    resp = current_app.make_response(render_template(
        "deal_tab.html", portal=portal, deal_id=entity_id, events=events[:20], **facts))
    resp.headers["Content-Security-Policy"] = (
        f"frame-ancestors https://{portal.domain} http://{portal.domain}" if portal else
        "frame-ancestors 'none'")
    return resp
