"""Automation robots (bizproc.robot.*) and returning their results (bizproc.event.send)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import RestError
from ..registry import CallContext, as_dict, method, up
from .urls import check_handler

CODE_RE = re.compile(r"^[a-zA-Z0-9._-]+$")
PROP_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
PROP_TYPES = {"bool", "date", "datetime", "double", "file", "int", "select", "string", "text",
              "user"}
ROBOT_KEYS = ("HANDLER", "AUTH_USER_ID", "USE_SUBSCRIPTION", "NAME", "DESCRIPTION", "PROPERTIES",
              "RETURN_PROPERTIES", "DOCUMENT_TYPE", "FILTER", "USE_PLACEMENT", "PLACEMENT_HANDLER")


def _fail(text: str) -> RestError:
    return RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", text, 400)


def _check_props(value: Any, what: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _fail(f"Wrong {what} array!")
    for key, prop in value.items():
        if not PROP_KEY_RE.match(str(key)) or not isinstance(prop, dict):
            raise _fail(f"Wrong {what} array!")
        ptype = str(prop.get("Type") or prop.get("TYPE") or "string")
        if ptype not in PROP_TYPES and not ptype.startswith("UF:"):
            raise _fail(f"Wrong property type: {ptype}")
    return value


def _validate(ctx: CallContext, data: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    allow_local = ctx.emu.config.allow_local_handlers
    if "HANDLER" in data or not partial:
        out["HANDLER"] = check_handler(str(data.get("HANDLER") or ""), allow_local)
    if "NAME" in data or not partial:
        name = data.get("NAME")
        if not name or (isinstance(name, dict) and not any(name.values())):
            raise _fail("Empty activity name!")
        out["NAME"] = name
    if "PROPERTIES" in data:
        out["PROPERTIES"] = _check_props(data.get("PROPERTIES"), "properties")
    if "RETURN_PROPERTIES" in data:
        out["RETURN_PROPERTIES"] = _check_props(data.get("RETURN_PROPERTIES"),
                                                "return properties")
    if data.get("DOCUMENT_TYPE") not in (None, ""):
        dt = data["DOCUMENT_TYPE"]
        if not isinstance(dt, list) or len(dt) != 3:
            raise _fail("Wrong activity DOCUMENT_TYPE!")
        out["DOCUMENT_TYPE"] = dt
    if str(data.get("USE_PLACEMENT") or "").upper() == "Y":
        out["PLACEMENT_HANDLER"] = check_handler(str(data.get("PLACEMENT_HANDLER") or ""),
                                                 allow_local)
    for key in ROBOT_KEYS:
        if key in data and key not in out:
            out[key] = data[key]
    return out


@method("bizproc.robot.add", scope="bizproc", admin=True)
def robot_add(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    code = str(p.get("CODE") or "")
    if not code:
        raise _fail("Empty activity code!")
    if not CODE_RE.match(code):
        raise _fail("Wrong activity code!")
    robots = ctx.portal.app.robots
    if code in robots:
        raise RestError("ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Robot already installed!",
                        400)
    robot = _validate(ctx, p, partial=False)
    robot["CODE"] = code
    robots[code] = robot
    return True


@method("bizproc.robot.update", scope="bizproc", admin=True)
def robot_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    code = str(p.get("CODE") or "")
    robot = ctx.portal.app.robots.get(code)
    if robot is None:
        raise RestError("ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!", 400)
    fields = up(as_dict(p.get("FIELDS")))
    if not fields:
        raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "No fields to update.", 400)
    robot.update(_validate(ctx, fields, partial=True))
    return True


@method("bizproc.robot.delete", scope="bizproc", admin=True)
def robot_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    code = str(up(params).get("CODE") or "")
    if ctx.portal.app.robots.pop(code, None) is None:
        raise RestError("ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!", 400)
    return True


@method("bizproc.robot.list", scope="bizproc", admin=True)
def robot_list(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    return list(ctx.portal.app.robots)


USER_VALUE_RE = re.compile(r"^user_[1-9][0-9]*$")
INT_RE = re.compile(r"^-?[0-9]+$")


def _value_ok(ptype: str, value: Any, prop: dict[str, Any]) -> bool:
    """Whether one return value has its declared type's documented form.

    api-reference/bizproc/bizproc-workflow-start.md: a value of type user ("Привязка к
    пользователю") is written `user_<ID>`, e.g. `user_14`; a bare id is not a user there.
    An empty value means "not set" and fits every type.
    """
    if value in (None, ""):
        return True
    if isinstance(value, dict | list):
        return False
    text = str(value).strip()
    if ptype == "user":
        return bool(USER_VALUE_RE.match(text))
    if ptype == "int":
        return bool(INT_RE.match(text))
    if ptype == "double":
        try:
            float(text.replace(",", "."))
        except ValueError:
            return False
        return True
    if ptype == "bool":
        return text.upper() in ("Y", "N", "1", "0", "TRUE", "FALSE")
    if ptype == "select":
        options = prop.get("Options") or prop.get("OPTIONS") or {}
        return not options or text in {str(k) for k in as_dict(options)}
    return True


def check_return_values(robot: dict[str, Any], values: Any) -> str | None:
    """Why RETURN_VALUES do not fit the robot's RETURN_PROPERTIES, or None if they do.

    Keys the robot did not declare are ignored, as the workflow engine only reads declared
    return properties (api-reference/bizproc/bizproc-activity/index.md).
    """
    declared = as_dict(robot.get("RETURN_PROPERTIES"))
    for key, value in as_dict(values).items():
        prop = declared.get(key)
        if not isinstance(prop, dict):
            continue
        ptype = str(prop.get("Type") or prop.get("TYPE") or "string")
        multiple = str(prop.get("Multiple") or prop.get("MULTIPLE") or "N").upper() == "Y"
        items = value if multiple and isinstance(value, list) else [value]
        if not all(_value_ok(ptype, item, prop) for item in items):
            return f"Wrong value of return property {key} (type {ptype}): {str(value)[:40]}"
    return None


def _run_for(ctx: CallContext, token: str) -> Any:
    run = ctx.emu.robot_runs.get(token)
    if run is None or run.member_id != ctx.portal.member_id:
        return None
    return run


@method("bizproc.event.send", scope="bizproc")
def event_send(ctx: CallContext, params: dict[str, Any]) -> bool:
    """Completes a waiting robot step once; every attempt is recorded, even refused ones."""
    p = up(params)
    token = str(p.get("EVENT_TOKEN") or "")
    values = p.get("RETURN_VALUES")
    call = {"RETURN_VALUES": values, "LOG_MESSAGE": p.get("LOG_MESSAGE"),
            "user_id": ctx.user_id, "ts": ctx.emu.now(), "ok": False, "error": None}
    run = _run_for(ctx, token)
    if run is None:
        call["error"] = "ACCESS_DENIED"
        ctx.emu.orphan_event_sends.append({"event_token": token, **call})
        raise RestError("ACCESS_DENIED", "Access denied!", 403)
    run.calls.append(call)
    if run.completed:
        call["error"] = "ACCESS_DENIED"
        raise RestError("ACCESS_DENIED", "Access denied!", 403)
    wrong = check_return_values(ctx.portal.app.robots.get(run.code) or {}, values)
    if wrong is not None:
        # bizproc-event-send.md documents only ACCESS_DENIED; a real engine would take the
        # value and the rule would get no user. The emulator refuses it loudly instead (and
        # leaves the step waiting) so a wrong form fails a test, not a customer's rule.
        call["error"] = "ERROR_ARGUMENT"
        raise RestError("ERROR_ARGUMENT", wrong, 400)
    run.completed = True
    call["ok"] = True
    if p.get("LOG_MESSAGE"):
        run.logs.append(str(p["LOG_MESSAGE"]))
    return True


@method("bizproc.activity.log", scope="bizproc")
def activity_log(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    token = str(p.get("EVENT_TOKEN") or "")
    if not token or not p.get("LOG_MESSAGE"):
        raise RestError("ERROR_ARGUMENT", "EVENT_TOKEN and LOG_MESSAGE are required", 400)
    run = _run_for(ctx, token)
    if run is None or run.completed:
        raise RestError("ACCESS_DENIED", "Access denied!", 403)
    run.logs.append(str(p["LOG_MESSAGE"]))
    return True
