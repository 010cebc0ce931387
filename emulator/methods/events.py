"""event.bind/unbind/get and the offline queue (event.offline.*)."""

from __future__ import annotations

from typing import Any

from ..errors import RestError
from ..listing import compile_filter, parse_order, parse_start, row_matches, sort_rows
from ..registry import CallContext, as_dict, method, up, yes
from ..state import EventBinding, new_hex
from .urls import check_handler

_CRM = []
for _ent in ("LEAD", "DEAL", "CONTACT", "COMPANY", "ACTIVITY", "QUOTE", "INVOICE"):
    _CRM += [f"ONCRM{_ent}ADD", f"ONCRM{_ent}UPDATE", f"ONCRM{_ent}DELETE"]
KNOWN_EVENTS = set(_CRM) | {
    "ONCRMDEALMOVETOCATEGORY", "ONCRMTIMELINECOMMENTADD", "ONCRMTIMELINECOMMENTUPDATE",
    "ONCRMTIMELINECOMMENTDELETE", "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE",
    "ONCRMDYNAMICITEMDELETE", "ONCRMDEALUSERFIELDADD", "ONCRMDEALUSERFIELDUPDATE",
    "ONCRMDEALUSERFIELDDELETE", "ONCRMLEADUSERFIELDADD", "ONCRMLEADUSERFIELDUPDATE",
    "ONCRMLEADUSERFIELDDELETE", "ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL",
    "ONAPPPAYMENT", "ONOFFLINEEVENT", "ONUSERADD", "ONTASKADD", "ONTASKUPDATE",
    "ONTASKDELETE", "ONIMCONNECTORMESSAGEADD", "ONCRMTYPEADD", "ONCRMTYPEUPDATE",
    "ONCRMTYPEDELETE",
    # crm/universal/userfieldconfig/events/: a smart process's user fields
    "ONCRMTYPEUSERFIELDADD", "ONCRMTYPEUSERFIELDUPDATE", "ONCRMTYPEUSERFIELDDELETE",
    "ONCRMTYPEUSERFIELDSETENUMVALUES",
}


def portal_events(ctx: CallContext) -> set[str]:
    """Known events plus the per-type ``ONCRMDYNAMICITEM*_<entityTypeId>`` of this portal's
    types as they are now, those crm.type.add made included (crm/universal/events/index.md:
    check with `events` before binding one)."""
    out = set(KNOWN_EVENTS)
    for type_id in ctx.portal.crm_types:
        out |= {f"ONCRMDYNAMICITEM{k}_{type_id}" for k in ("ADD", "UPDATE", "DELETE")}
    return out


@method("events")
def events(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    return sorted(portal_events(ctx))


@method("event.bind")
def bind(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    event = str(p.get("EVENT") or "").upper()
    if event not in portal_events(ctx):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    offline = str(p.get("EVENT_TYPE") or "online").lower() == "offline"
    auth_type = int(str(p.get("AUTH_TYPE") or 0) or 0)
    if (offline or (auth_type and auth_type != ctx.user_id)) and not ctx.is_admin:
        raise RestError("ACCESS_DENIED", "Access denied! Admin permissions required", 403)
    handler = ""
    if not offline:
        handler = check_handler(
            str(p.get("HANDLER") or ""), ctx.emu.config.allow_local_handlers,
            "ERROR_HANDLER_URL_EMPTY" if not p.get("HANDLER") else "ERROR_WRONG_HANDLER_URL",
        )
    connector = str(p.get("AUTH_CONNECTOR") or "")
    app = ctx.portal.app
    for b in app.bindings:
        if (b.event, b.handler, b.auth_type, b.offline, b.auth_connector) == (
            event, handler, auth_type, offline, connector
        ):
            # api-reference/events/event-bind.md documents no duplicate code; the server
            # (modules/rest/lib/api/event.php) answers ERROR_CORE. ERROR_HANDLER_ALREADY_EXIST
            # is the sale handlers' code, not this method's
            raise RestError("ERROR_CORE", "Unable to set event handler: Handler already binded",
                            400)
    app.next_binding_id += 1
    app.bindings.append(EventBinding(
        id=app.next_binding_id, event=event, handler=handler, auth_type=auth_type,
        offline=offline, auth_connector=connector, options=p.get("OPTIONS"),
    ))
    return True


@method("event.unbind")
def unbind(ctx: CallContext, params: dict[str, Any]) -> dict[str, int]:
    p = up(params)
    event = str(p.get("EVENT") or "").upper()
    if not event:
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    offline = str(p.get("EVENT_TYPE") or "online").lower() == "offline"
    handler = str(p.get("HANDLER") or "")
    auth_type = p.get("AUTH_TYPE")
    app = ctx.portal.app
    keep = []
    count = 0
    for b in app.bindings:
        hit = (
            b.event == event
            and b.offline == offline
            and (offline or not handler or b.handler == handler)
            and (auth_type in (None, "") or b.auth_type == int(str(auth_type)))
        )
        if hit:
            count += 1
        else:
            keep.append(b)
    app.bindings = keep
    return {"count": count}


@method("event.get")
def get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """api-reference/events/event-get.md: event, handler, auth_type, offline; an offline
    binding also names its connector_id (empty when bound without auth_connector)."""
    return [
        {"event": b.event, "handler": b.handler, "auth_type": str(b.auth_type),
         "offline": 1 if b.offline else 0,
         **({"connector_id": b.auth_connector} if b.offline or b.auth_connector else {})}
        for b in ctx.portal.app.bindings
    ]


def _ids(value: Any) -> set[str]:
    if value is None or value == "":
        return set()
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    if isinstance(value, dict):
        return {str(v) for v in value.values()}
    return {str(value)}


@method("event.offline.get", admin=True)
def offline_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """clear=1 deletes what it returns; clear=0 reserves it under a process_id."""
    p = up(params)
    app = ctx.portal.app
    limit = max(1, min(int(str(p.get("LIMIT") or 50)), 1000))
    clear = yes(p.get("CLEAR", 1))
    error = yes(p.get("ERROR", 0))
    process_id = str(p.get("PROCESS_ID") or "")
    if not clear and "rest_offline_extended" not in ctx.emu.config.feature_list():
        # api-reference/events/offline-events.md: reserve-and-confirm (clear=0) exists only on
        # plans with the feature rest_offline_extended; without it the portal answers
        # WRONG_LICENSE (its HTTP status is not documented: RestException's default, 400)
        raise RestError("WRONG_LICENSE", "Your license does not allow this action", 400)
    conds = compile_filter(as_dict(p.get("FILTER")))
    if process_id:
        chosen = [r for r in app.offline if r.process_id == process_id]
    else:
        chosen = [r for r in app.offline if r.process_id is None and r.error == error]
    chosen = [r for r in chosen if row_matches(r.as_api(), conds)]
    order = parse_order(as_dict(p.get("ORDER")), default="TIMESTAMP_X")
    keys = [("_TS" if f == "TIMESTAMP_X" else f, desc) for f, desc in order] + [("ID", False)]
    pairs = sort_rows([{**r.as_api(), "_r": r, "_TS": r.ts} for r in chosen], keys)
    picked = [d["_r"] for d in pairs[:limit]]
    pid = process_id or new_hex(16)
    if clear:
        gone = {id(r) for r in picked}
        app.offline = [r for r in app.offline if id(r) not in gone]
    else:
        for r in picked:
            r.process_id = pid
    return {"process_id": pid, "events": [r.as_api() for r in picked]}


@method("event.offline.clear", admin=True)
def offline_clear(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    pid = str(p.get("PROCESS_ID") or "")
    if not pid:
        raise RestError("ERROR_ARGUMENT", "PROCESS_ID is required", 400)
    ids, msgs = _ids(p.get("ID")), _ids(p.get("MESSAGE_ID"))
    app = ctx.portal.app

    def hit(r: Any) -> bool:
        if r.process_id != pid:
            return False
        if ids or msgs:
            return str(r.id) in ids or r.message_id in msgs
        return True

    app.offline = [r for r in app.offline if not hit(r)]
    return True


@method("event.offline.error", admin=True)
def offline_error(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    pid = str(p.get("PROCESS_ID") or "")
    if not pid:
        raise RestError("ERROR_ARGUMENT", "PROCESS_ID is required", 400)
    msgs = _ids(p.get("MESSAGE_ID"))
    for r in ctx.portal.app.offline:
        if r.process_id == pid and (not msgs or r.message_id in msgs):
            r.error = True
            r.process_id = None
    return True


@method("event.offline.list", admin=True)
def offline_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    from ..listing import page

    p = up(params)
    conds = compile_filter(as_dict(p.get("FILTER")))
    rows = []
    for r in ctx.portal.app.offline:
        row = {**r.as_api(), "PROCESS_ID": r.process_id or "", "ERROR": "Y" if r.error else "N"}
        if row_matches(row, conds):
            rows.append(row)
    rows = sort_rows(rows, parse_order(as_dict(p.get("ORDER"))))
    start = parse_start(p.get("START", 0))
    return page(rows, start, None if start < 0 else len(rows))
