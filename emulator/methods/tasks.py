"""Tasks (``tasks.task.*``, scope ``task``): add, get, list, update, complete.

Rows are kept with UPPER_CASE keys (the names the filter and select use); answers carry the
camelCase keys of api-reference/tasks/fields.md, values as strings the way the samples print
them. A task bound to CRM items (``UF_CRM_TASK``) is also a CRM activity of type 3 of those
items: api-reference/crm/timeline/activities/activity-base/crm-activity-add.md, TYPE_ID: "to
create an activity of type «task», create or change a task with the CRM item in UF_CRM_TASK".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import _parse_dt, parse_start
from ..registry import CallContext, as_dict, method, up
from . import activity

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

# api-reference/tasks/fields.md, status
PENDING, IN_PROGRESS, SUPPOSEDLY_COMPLETED, COMPLETED, DEFERRED = "2", "3", "4", "5", "6"
STATUSES = {"1", PENDING, IN_PROGRESS, SUPPOSEDLY_COMPLETED, COMPLETED, DEFERRED}
# api-reference/crm/data-types.md#object_type: the short codes UF_CRM_TASK uses
PREFIX_TYPE = {"L": 1, "D": 2, "C": 3, "CO": 4, "SI": 31, "Q": 7}
BINDING = re.compile(r"^(L|D|C|CO|SI|Q|T([0-9a-fA-F]+))_(\d+)$")
# UPPER name -> camelCase answer key (api-reference/tasks/fields.md)
OUT = {
    "ID": "id", "PARENT_ID": "parentId", "TITLE": "title", "DESCRIPTION": "description",
    "MARK": "mark", "PRIORITY": "priority", "MULTITASK": "multitask",
    "NOT_VIEWED": "notViewed", "REPLICATE": "replicate", "STAGE_ID": "stageId",
    "CREATED_BY": "createdBy", "CREATED_DATE": "createdDate",
    "RESPONSIBLE_ID": "responsibleId", "CHANGED_BY": "changedBy",
    "CHANGED_DATE": "changedDate", "STATUS_CHANGED_BY": "statusChangedBy",
    "CLOSED_BY": "closedBy", "CLOSED_DATE": "closedDate", "ACTIVITY_DATE": "activityDate",
    "DATE_START": "dateStart", "DEADLINE": "deadline", "START_DATE_PLAN": "startDatePlan",
    "END_DATE_PLAN": "endDatePlan", "GUID": "guid", "XML_ID": "xmlId",
    "ALLOW_CHANGE_DEADLINE": "allowChangeDeadline", "TASK_CONTROL": "taskControl",
    "MATCH_WORK_TIME": "matchWorkTime", "SITE_ID": "siteId",
    "DESCRIPTION_IN_BBCODE": "descriptionInBbcode", "STATUS": "status",
    "STATUS_CHANGED_DATE": "statusChangedDate", "GROUP_ID": "groupId",
    "AUDITORS": "auditors", "ACCOMPLICES": "accomplices", "TAGS": "tags",
}
# system UF fields: never by default; naming one in select returns all three (fields.md note)
SYSTEM_UF = {"UF_CRM_TASK": "ufCrmTask", "UF_TASK_WEBDAV_FILES": "ufTaskWebdavFiles",
             "UF_MAIL_MESSAGE": "ufMailMessage"}
DEFAULT_GET = [k for k in OUT if k != "TAGS"]
WRITABLE = {"TITLE", "DESCRIPTION", "RESPONSIBLE_ID", "CREATED_BY", "DEADLINE", "PRIORITY",
            "AUDITORS", "ACCOMPLICES", "TAGS", "UF_CRM_TASK", "STATUS", "GROUP_ID",
            "START_DATE_PLAN", "END_DATE_PLAN", "PARENT_ID", "ALLOW_CHANGE_DEADLINE",
            "MATCH_WORK_TIME", "TASK_CONTROL", "XML_ID"}


def core_error(text: str) -> RestError:
    """tasks-task-add.md / tasks-task-update.md: ERROR_CORE with the text and a "<br>"."""
    return RestError("ERROR_CORE", f"{text}<br>", 400)


def not_allowed(suffix: str = " (internal error)") -> RestError:
    """tasks-task-update.md "0 Действие над задачей не разрешено (internal error)": no such
    task or no access; tasks-task-complete.md gives the same text without the suffix."""
    return RestError("0", f"Действие над задачей не разрешено{suffix}", 400)


def binding_owner(value: str) -> tuple[int, int] | None:
    """("D_12" → (2, 12), "Tb1_29" → (177, 29)): the CRM item an UF_CRM_TASK value names."""
    m = BINDING.match(value.strip())
    if m is None:
        return None
    type_id = int(m.group(2), 16) if m.group(2) else PREFIX_TYPE[m.group(1)]
    return type_id, int(m.group(3))


def _ids(value: Any) -> list[str]:
    raw = value if isinstance(value, list) else list(as_dict(value).values()) if isinstance(
        value, dict) else [value]
    return [str(v) for v in raw if str(v).strip() not in ("", "0", "None")]


def _tags(value: Any) -> list[str]:
    """TAGS as an array or a comma-separated string."""
    raw = value.split(",") if isinstance(value, str) else _ids(value)
    return list(dict.fromkeys(t.strip() for t in raw if t.strip()))


def _when(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    dt = _parse_dt(str(value))
    if dt is None:
        raise core_error(f"Неверный формат даты в поле {name}")
    from ..core import PORTAL_TZ

    return dt.astimezone(PORTAL_TZ).replace(microsecond=0).isoformat()


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    fields = up(as_dict(up(params).get("FIELDS")))
    if not fields:
        raise RestError("100", "Could not find value for parameter {fields} (internal error)",
                        400)
    return fields


def _task_id(params: dict[str, Any]) -> int:
    p = {str(k).lower(): v for k, v in params.items()}
    if p.get("taskid") in (None, ""):
        raise RestError("100", "CTaskItem All parameters in the constructor must have real "
                        "class type (internal error)", 400)
    try:
        return int(str(p["taskid"]).strip())
    except ValueError:
        raise RestError("0", "wrong task id", 400) from None


def _write(portal: Portal, row: dict[str, Any], fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key not in WRITABLE and not key.startswith("UF_"):
            continue
        if key in ("AUDITORS", "ACCOMPLICES"):
            row[key] = _ids(value)
        elif key == "TAGS":
            row[key] = _tags(value)
            for tag in row[key]:
                portal.task_tags.setdefault(tag, len(portal.task_tags) + 1)
        elif key == "UF_CRM_TASK":
            row[key] = [str(v) for v in _ids(value)]
        elif key in ("DEADLINE", "START_DATE_PLAN", "END_DATE_PLAN"):
            row[key] = _when(value, key)
        elif key == "STATUS":
            if str(value) not in STATUSES:
                raise core_error("Некорректный статус")
            row[key] = str(value)
        else:
            row[key] = None if value is None else str(value)


def _check(portal: Portal, row: dict[str, Any]) -> None:
    """tasks-task-add.md, error codes: title, then the responsible."""
    if not str(row.get("TITLE") or "").strip():
        raise core_error("Не указано название задачи")
    if not row.get("RESPONSIBLE_ID"):
        raise core_error("Не указан исполнитель")
    if int(str(row["RESPONSIBLE_ID"]) or 0) not in portal.users:
        raise core_error('Пользователь указанный в поле "Исполнитель" не найден')


def task_add(emu: Emulator, portal: Portal, fields: dict[str, Any], user_id: int
             ) -> dict[str, Any]:
    """Create a task as `user_id` (the creator unless CREATED_BY says otherwise)."""
    with emu.lock:
        now = emu.iso()
        row: dict[str, Any] = dict.fromkeys(OUT)
        row.update({
            "PRIORITY": "1", "MULTITASK": "N", "NOT_VIEWED": "N", "REPLICATE": "N",
            "STAGE_ID": "0", "CREATED_BY": str(user_id), "CREATED_DATE": now,
            "CHANGED_BY": str(user_id), "CHANGED_DATE": now, "ACTIVITY_DATE": now,
            "CLOSED_BY": "0", "ALLOW_CHANGE_DEADLINE": "N", "TASK_CONTROL": "N",
            "MATCH_WORK_TIME": "N", "SITE_ID": "s1", "DESCRIPTION": "",
            "DESCRIPTION_IN_BBCODE": "Y", "STATUS": PENDING, "STATUS_CHANGED_DATE": now,
            "GROUP_ID": "0", "AUDITORS": [], "ACCOMPLICES": [], "TAGS": [],
            "UF_CRM_TASK": [], "UF_TASK_WEBDAV_FILES": [], "UF_MAIL_MESSAGE": None,
        })
        _write(portal, row, fields)
        _check(portal, row)
        task_id = portal.tasks.next_id()
        row["ID"] = str(task_id)
        row["GUID"] = "{" + f"{task_id:08x}-0000-4000-8000-{portal.member_id[:12]:0>12}" + "}"
        portal.tasks.put(task_id, row)
        _sync_activity(emu, portal, row, user_id)
        # api-reference/tasks/events-tasks/on-task-add.md: the sample's data, as printed
        emu.fire_event(portal, "ONTASKADD", {
            "FIELDS_BEFORE": "undefined", "FIELDS_AFTER": {"ID": task_id},
            "IS_ACCESSIBLE_BEFORE": "N", "IS_ACCESSIBLE_AFTER": "undefined"}, user_id)
        return row


def task_update(emu: Emulator, portal: Portal, task_id: int, fields: dict[str, Any],
                user_id: int) -> dict[str, Any]:
    with emu.lock:
        row = portal.tasks.get(task_id)
        if row is None:
            raise not_allowed()
        before = dict(row)
        _write(portal, row, fields)
        try:
            _check(portal, row)
        except RestError:
            row.clear()
            row.update(before)
            raise
        now = emu.iso()
        row["CHANGED_BY"], row["CHANGED_DATE"] = str(user_id), now
        if row["STATUS"] != before["STATUS"]:
            row["STATUS_CHANGED_BY"], row["STATUS_CHANGED_DATE"] = str(user_id), now
            done = row["STATUS"] == COMPLETED
            row["CLOSED_BY"] = str(user_id) if done else "0"
            row["CLOSED_DATE"] = now if done else None
        _sync_activity(emu, portal, row, user_id)
        # api-reference/tasks/events-tasks/on-task-update.md
        emu.fire_event(portal, "ONTASKUPDATE", {
            "FIELDS_BEFORE": {"ID": task_id}, "FIELDS_AFTER": {"ID": task_id},
            "IS_ACCESSIBLE_BEFORE": "undefined", "IS_ACCESSIBLE_AFTER": "undefined"}, user_id)
        return row


def _task_activity(portal: Portal, task_id: int) -> dict[str, Any] | None:
    return next((a for a in portal.activities.rows.values()
                 if a.get("PROVIDER_ID") == activity.TASK_PROVIDER
                 and a.get("ASSOCIATED_ENTITY_ID") == str(task_id)), None)


def _sync_activity(emu: Emulator, portal: Portal, row: dict[str, Any], user_id: int) -> None:
    """The CRM activity of a task bound to CRM items: made once, then kept in step."""
    owners = [o for o in (binding_owner(v) for v in row.get("UF_CRM_TASK") or []) if o]
    owners = [o for o in owners if activity.owner_exists(portal, *o)]
    act = _task_activity(portal, int(row["ID"]))
    done = row["STATUS"] == COMPLETED
    if act is None and owners:
        activity.activity_add(emu, portal, {
            "OWNER_TYPE_ID": owners[0][0], "OWNER_ID": owners[0][1],
            "TYPE_ID": activity.TYPE_TASK, "PROVIDER_ID": activity.TASK_PROVIDER,
            "PROVIDER_TYPE_ID": "TASK", "ASSOCIATED_ENTITY_ID": row["ID"],
            "SUBJECT": row["TITLE"], "RESPONSIBLE_ID": row["RESPONSIBLE_ID"],
            "DEADLINE": row.get("DEADLINE") or "", "COMPLETED": "Y" if done else "N",
            "DESCRIPTION": row.get("DESCRIPTION") or "",
        }, int(row["CREATED_BY"] or user_id), strict=False, bindings=owners)
        return
    if act is not None:
        changes = {"SUBJECT": row["TITLE"], "RESPONSIBLE_ID": row["RESPONSIBLE_ID"],
                   "DEADLINE": row.get("DEADLINE") or "", "COMPLETED": "Y" if done else "N"}
        if any(str(act.get(k) or "") != str(v) for k, v in changes.items()):
            activity.activity_change(emu, portal, act, changes, user_id)


def _user(portal: Portal, uid: Any) -> dict[str, Any]:
    u = portal.users.get(int(str(uid or 0) or 0), {})
    return {"id": str(uid), "name": f"{u.get('NAME', '')} {u.get('LAST_NAME', '')}".strip(),
            "link": f"/company/personal/user/{uid}/",
            "workPosition": str(u.get("WORK_POSITION") or "")}


def task_out(portal: Portal, row: dict[str, Any], select: Any = None,
             default: list[str] | None = None) -> dict[str, Any]:
    """The answer's task: the selected fields (UPPER or camelCase names) in camelCase."""
    names = select if isinstance(select, list) else list(as_dict(select).values()) if \
        isinstance(select, dict) else []
    reverse = {v.upper(): k for k, v in {**OUT, **SYSTEM_UF}.items()}
    wanted = [reverse.get(str(n).upper(), str(n).upper()) for n in names]
    if not wanted or "*" in wanted:
        wanted = (default or DEFAULT_GET) + [w for w in wanted if w != "*"]
    if set(wanted) & set(SYSTEM_UF):
        wanted += [k for k in SYSTEM_UF if k not in wanted]
    out: dict[str, Any] = {"id": row["ID"]}
    for name in dict.fromkeys(wanted):
        if name == "TAGS":
            out["tags"] = {str(portal.task_tags[t]): {"id": portal.task_tags[t], "title": t}
                           for t in row.get("TAGS") or [] if t in portal.task_tags}
        elif name in OUT or name in SYSTEM_UF:
            out[OUT.get(name) or SYSTEM_UF[name]] = row.get(name)
        elif name.startswith("UF_"):
            out[name] = row.get(name)
    if "responsibleId" in out:
        out["responsible"] = _user(portal, row["RESPONSIBLE_ID"])
    if "createdBy" in out:
        out["creator"] = _user(portal, row["CREATED_BY"])
    if "auditors" in out:
        out["auditorsData"] = {a: _user(portal, a) for a in row.get("AUDITORS") or []}
    return out


def filter_view(row: dict[str, Any]) -> dict[str, Any]:
    """The names tasks-task-list.md filters by: REAL_STATUS is `status`, TAG a tag."""
    return {**row, "REAL_STATUS": row.get("STATUS"), "TAG": row.get("TAGS") or [],
            "AUDITOR": row.get("AUDITORS") or [], "ACCOMPLICE": row.get("ACCOMPLICES") or []}


# ------------------------------------------------------------------ methods
@method("tasks.task.add", scope="task")
def add(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """api-reference/tasks/tasks-task-add.md: {"task": {...}}."""
    row = task_add(ctx.emu, ctx.portal, _fields(params), ctx.user_id)
    return {"task": task_out(ctx.portal, row)}


@method("tasks.task.get", scope="task")
def get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """api-reference/tasks/tasks-task-get.md: every field but the UF ones unless selected."""
    row = ctx.portal.tasks.get(_task_id(params))
    if row is None:
        raise not_allowed()
    select = {str(k).lower(): v for k, v in params.items()}.get("select")
    if select is not None and not isinstance(select, list | dict):
        raise RestError("100", f"Invalid value {select} to match with parameter {{select}}. "
                        "Should be value of type array. (internal error)", 400)
    return {"task": task_out(ctx.portal, row, select, DEFAULT_GET + ["TAGS"])}


@method("tasks.task.update", scope="task")
def update(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """api-reference/tasks/tasks-task-update.md."""
    task_id = _task_id(params)
    row = task_update(ctx.emu, ctx.portal, task_id, _fields(params), ctx.user_id)
    return {"task": task_out(ctx.portal, row)}


@method("tasks.task.complete", scope="task")
def complete(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """api-reference/tasks/status/tasks-task-complete.md: status 5, closedBy/closedDate."""
    task_id = _task_id(params)
    if ctx.portal.tasks.get(task_id) is None:
        raise not_allowed("")
    row = task_update(ctx.emu, ctx.portal, task_id, {"STATUS": COMPLETED}, ctx.user_id)
    return {"task": task_out(ctx.portal, row)}


@method("tasks.task.list", scope="task")
def list_(ctx: CallContext, params: dict[str, Any]) -> Any:
    """api-reference/tasks/tasks-task-list.md: filter with ! < <= > >= prefixes, ID DESC by
    default, 50 per page with `start`, {"tasks": [...]} and total."""
    from ..listing import compile_filter, page, parse_order, row_matches, sort_rows

    p = {str(k).lower(): v for k, v in params.items()}
    conds = compile_filter(as_dict(p.get("filter")))
    rows = [r for r in ctx.portal.tasks.rows.values() if row_matches(filter_view(r), conds)]
    order = as_dict(p.get("order"))
    rows = sort_rows(rows, parse_order(order) if order else [("ID", True)])
    start = max(parse_start(p.get("start", 0)), 0)
    res = page(rows, start, len(rows))
    res.items = {"tasks": [task_out(ctx.portal, r, p.get("select")) for r in res.items]}
    return res
