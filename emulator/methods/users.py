"""People: profile, user.current, user.get, department.get, timeman.status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import Table, parse_start, select_fields
from ..registry import CallContext, as_dict, method, up

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

USER_FIELDS = [
    "ID", "XML_ID", "ACTIVE", "NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "LAST_LOGIN",
    "DATE_REGISTER", "IS_ONLINE", "TIME_ZONE", "TIME_ZONE_OFFSET", "PERSONAL_GENDER",
    "PERSONAL_PHOTO", "WORK_POSITION", "WORK_PHONE", "UF_DEPARTMENT", "UF_PHONE_INNER",
    "USER_TYPE", "TIMESTAMP_X", "LAST_ACTIVITY_DATE", "PERSONAL_BIRTHDAY", "UF_EMPLOYMENT_DATE",
]


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user.get(k) for k in USER_FIELDS}


@method("profile")
def profile(ctx: CallContext, params: dict[str, Any]) -> Any:
    """api-reference/common/users/profile.md: the token's user, no scope needed.

    ID is a string and ADMIN a boolean (the user may manage apps); PERSONAL_PHOTO comes only
    when a photo is uploaded; for an inactive user the result is empty (PHP's empty array,
    which json_encode writes as []). A frame's AUTH_ID is answered for the user who opened
    the frame: that is how an app learns who is looking.
    """
    u = ctx.user
    if not u or not u.get("ACTIVE"):
        return []
    out = {
        "ID": str(u.get("ID")), "ADMIN": bool(u.get("ADMIN")), "NAME": u.get("NAME") or "",
        "LAST_NAME": u.get("LAST_NAME") or "", "PERSONAL_GENDER": u.get("PERSONAL_GENDER") or "",
        "TIME_ZONE": u.get("TIME_ZONE") or "",
    }
    if u.get("PERSONAL_PHOTO"):
        out["PERSONAL_PHOTO"] = u["PERSONAL_PHOTO"]
    return out


@method("user.current", scope="user_brief")
def user_current(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _public(ctx.user)


@method("user.get", scope="user_brief")
def user_get(ctx: CallContext, params: dict[str, Any]) -> Any:
    """FILTER (or top-level field names) with Bitrix prefixes; 50 per page."""
    p = up(params)
    flt = dict(as_dict(p.get("FILTER")))
    for key, value in p.items():
        if key not in ("FILTER", "SORT", "ORDER", "START", "SELECT", "ADMIN_MODE"):
            flt[key] = value
    table = Table()
    for uid in sorted(ctx.portal.users):
        table.put(uid, ctx.portal.users[uid])
    order = None
    if p.get("SORT"):
        order = {str(p["SORT"]): str(p.get("ORDER") or "ASC")}
    res = table.query(flt, order, parse_start(p.get("START", 0)))
    sel = p.get("SELECT")
    res.items = [select_fields(u, sel, USER_FIELDS) if sel else _public(u) for u in res.items]
    return res


@method("department.get", scope="department")
def department_get(ctx: CallContext, params: dict[str, Any]) -> Any:
    p = up(params)
    flt = {k: v for k, v in p.items() if k in ("ID", "NAME", "SORT", "PARENT", "UF_HEAD")}
    table = Table()
    for did in sorted(ctx.portal.departments):
        table.put(did, ctx.portal.departments[did])
    order = {str(p["SORT"]): str(p.get("ORDER") or "ASC")} if p.get("SORT") else None
    res = table.query(flt, order, parse_start(p.get("START", 0)))
    res.items = [dict(d) for d in res.items]
    return res


def set_work_day(emu: Emulator, portal: Portal, user_id: int, status: str,
                 active: bool = True) -> None:
    """A user opens, pauses or closes the work day (the portal's own button); one hour in."""
    now = emu.now()
    with emu.lock:
        portal.timeman[user_id] = {
            "STATUS": status,
            "TIME_START": emu.iso(now - 3600),
            "TIME_FINISH": emu.iso(now) if status == "CLOSED" else None,
            "TIME_FINISH_DEFAULT": emu.iso(now - 3600 * 12) if status == "EXPIRED" else None,
            "DURATION": "01:00:00", "TIME_LEAKS": "00:00:00",
            "ACTIVE": active,
        }


@method("timeman.status", scope="timeman")
def timeman_status(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    p = up(params)
    uid = int(str(p.get("USER_ID") or ctx.user_id))
    if uid != ctx.user_id and not ctx.is_admin:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    if uid not in ctx.portal.users:
        raise RestError("ERROR_NOT_FOUND", "User not found", 400)
    state = ctx.portal.timeman.get(uid) or {"STATUS": "CLOSED"}
    status = state["STATUS"]
    out: dict[str, Any] = {
        "STATUS": status,
        "TIME_START": state.get("TIME_START"),
        "DURATION": state.get("DURATION", "00:00:00"),
        "TIME_LEAKS": state.get("TIME_LEAKS", "00:00:00"),
        # api-reference/timeman/base/timeman-status.md: ACTIVE is "the work day is confirmed";
        # false = a change waits for the manager's confirmation. It says nothing about
        # whether the person works now (that is STATUS). Control API: {"active": false}.
        "ACTIVE": bool(state.get("ACTIVE", True)),
        "IP_OPEN": "", "IP_CLOSE": "",
        "LAT_OPEN": 0, "LON_OPEN": 0, "LAT_CLOSE": 0, "LON_CLOSE": 0,
        "TZ_OFFSET": 10800,
    }
    if status in ("CLOSED", "EXPIRED"):
        out["TIME_FINISH"] = state.get("TIME_FINISH")
    if status == "EXPIRED":
        out["TIME_FINISH_DEFAULT"] = state.get("TIME_FINISH_DEFAULT")
    return out
