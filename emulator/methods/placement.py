"""Widgets: placement.bind/unbind/get/list (admin, app context)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import RestError
from ..registry import CallContext, as_dict, method, up
from .urls import check_handler

PLACEMENT_RE = re.compile(
    r"^(CRM_[A-Z0-9_]+|TASK_[A-Z0-9_]+|IM_[A-Z0-9_]+|USER_PROFILE_[A-Z0-9_]+|CALENDAR_[A-Z0-9_]+"
    r"|SONET_GROUP_[A-Z0-9_]+|TELEPHONY_[A-Z0-9_]+|LEFT_MENU|REST_APP_URI|REST_APP_WIZARD"
    r"|PAGE_BACKGROUND_WORKER|BIZPROC_ACTIVITY_PROPERTIES_DIALOG|CONTACT_CENTER"
    r"|LANDING_[A-Z0-9_]+|MAIN_[A-Z0-9_]+|DISK_[A-Z0-9_]+)$"
)
# api-reference/widgets/universal/index.md: these two take one registration per app, and a
# second placement.bind answers ERROR_PLACEMENT_MAX_COUNT; no other placement has a cap
SINGLE_REGISTRATION = {"REST_APP_URI", "PAGE_BACKGROUND_WORKER"}


@method("placement.bind", scope="placement", admin=True)
def bind(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    code = str(p.get("PLACEMENT") or "").upper()
    if not PLACEMENT_RE.match(code):
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    handler = check_handler(str(p.get("HANDLER") or ""), ctx.emu.config.allow_local_handlers,
                            "EMPTY_ERROR_HANDLER_URL")
    # api-reference/widgets/placement-bind.md lists ERROR_PLACEMENT_USER_MODE and
    # ERROR_PLACEMENT_MAX_COUNT with HTTP status 200 (an error body on a 200 answer)
    if p.get("USER_ID") and code != "PAGE_BACKGROUND_WORKER":
        raise RestError("ERROR_PLACEMENT_USER_MODE", "User mode is not available", 200)
    items = ctx.portal.app.placements
    same = [b for b in items if b["placement"] == code]
    if same and code in SINGLE_REGISTRATION:
        raise RestError("ERROR_PLACEMENT_MAX_COUNT", "Placement max count exceeded", 200)
    if any(b["handler"] == handler for b in same):
        # the same handler twice: the core's ERROR_CORE (shared/reference corrections table)
        raise RestError("ERROR_CORE", "Unable to set placement handler: Handler already binded",
                        400)
    items.append({
        "placement": code, "handler": handler, "title": str(p.get("TITLE") or ""),
        "description": str(p.get("DESCRIPTION") or ""), "groupName": p.get("GROUP_NAME"),
        "options": as_dict(p.get("OPTIONS")) or [], "langAll": as_dict(p.get("LANG_ALL")) or [],
    })
    return True


@method("placement.unbind", scope="placement", admin=True)
def unbind(ctx: CallContext, params: dict[str, Any]) -> dict[str, int]:
    p = up(params)
    code = str(p.get("PLACEMENT") or "").upper()
    if not code:
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    handler = str(p.get("HANDLER") or "")
    before = ctx.portal.app.placements
    keep = [b for b in before
            if not (b["placement"] == code and (not handler or b["handler"] == handler))]
    ctx.portal.app.placements = keep
    return {"count": len(before) - len(keep)}


@method("placement.get", scope="placement", admin=True)
def get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(b) for b in ctx.portal.app.placements]


@method("placement.list", scope="placement")
def list_(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """Placement codes available to the app (what a portal with these scopes offers)."""
    codes = ["REST_APP_URI", "LEFT_MENU", "PAGE_BACKGROUND_WORKER"]
    if "crm" in ctx.emu.config.scope_list():
        for ent in ("LEAD", "DEAL", "CONTACT", "COMPANY"):
            codes += [f"CRM_{ent}_DETAIL_TAB", f"CRM_{ent}_DETAIL_TOOLBAR",
                      f"CRM_{ent}_DETAIL_ACTIVITY", f"CRM_{ent}_LIST_MENU",
                      f"CRM_{ent}_LIST_TOOLBAR", f"CRM_{ent}_ACTIVITY_TIMELINE_MENU",
                      f"CRM_{ent}_DOCUMENTGENERATOR_BUTTON", f"CRM_{ent}_ROBOT_DESIGNER_TOOLBAR"]
        codes.append("CRM_FUNNELS_TOOLBAR")
    return codes
