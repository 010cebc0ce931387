"""Classic CRM activities (``crm.activity.*``): e-mails, calls, open-line sessions with files.

Attachments live on Disk (``STORAGE_TYPE_ID`` 3): ``STORAGE_ELEMENT_IDS`` binds existing Disk
files, ``FILES`` with ``fileData`` uploads new ones into the responsible user's "Uploaded
files" folder. ``FILES`` comes back as ``[{id: <Disk file id>, url: <download URL>}]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import disk
from ..errors import RestError
from ..listing import parse_start, select_fields
from ..registry import CallContext, as_dict, as_int, method, up

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

F, T = False, True
ACTIVITY_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", F, T, F, "ID"),
    "OWNER_ID": ("integer", T, F, F, "Owner ID"),
    "OWNER_TYPE_ID": ("integer", T, F, F, "Owner type"),
    "TYPE_ID": ("crm_enum_activitytype", T, F, F, "Type"),
    "PROVIDER_ID": ("string", F, F, F, "Provider"),
    "PROVIDER_TYPE_ID": ("string", F, F, F, "Provider type"),
    "PROVIDER_GROUP_ID": ("string", F, F, F, "Provider group"),
    "ASSOCIATED_ENTITY_ID": ("integer", F, F, F, "Associated entity"),
    "SUBJECT": ("string", T, F, F, "Subject"),
    "START_TIME": ("datetime", F, F, F, "Start time"),
    "END_TIME": ("datetime", F, F, F, "End time"),
    "DEADLINE": ("datetime", F, F, F, "Deadline"),
    "COMPLETED": ("char", F, F, F, "Completed"),
    "STATUS": ("crm_enum_activitystatus", F, F, F, "Status"),
    "RESPONSIBLE_ID": ("user", T, F, F, "Responsible person"),
    "PRIORITY": ("crm_enum_activitypriority", F, F, F, "Priority"),
    "NOTIFY_TYPE": ("crm_enum_activitynotifytype", F, F, F, "Notification type"),
    "NOTIFY_VALUE": ("integer", F, F, F, "Notification value"),
    "DESCRIPTION": ("string", F, F, F, "Description"),
    "DESCRIPTION_TYPE": ("crm_enum_contenttype", F, F, F, "Description type"),
    "DIRECTION": ("crm_enum_activitydirection", F, F, F, "Direction"),
    "LOCATION": ("string", F, F, F, "Location"),
    "CREATED": ("datetime", F, T, F, "Created on"),
    "AUTHOR_ID": ("user", F, T, F, "Created by"),
    "LAST_UPDATED": ("datetime", F, T, F, "Modified on"),
    "EDITOR_ID": ("user", F, T, F, "Modified by"),
    "SETTINGS": ("object", F, F, F, "Settings"),
    "ORIGIN_ID": ("string", F, F, F, "Item ID in data source"),
    "ORIGINATOR_ID": ("string", F, F, F, "Data source"),
    "RESULT_STATUS": ("integer", F, F, F, "Result status"),
    "RESULT_STREAM": ("integer", F, F, F, "Result stream"),
    "RESULT_SOURCE_ID": ("string", F, F, F, "Result source"),
    "PROVIDER_PARAMS": ("object", F, F, F, "Provider parameters"),
    "PROVIDER_DATA": ("string", F, F, F, "Provider data"),
    "BINDINGS": ("crm_activity_binding", F, T, T, "Bindings"),
    "COMMUNICATIONS": ("crm_activity_communication", T, F, T, "Communications"),
    "FILES": ("diskfile", F, F, T, "Files"),
    "STORAGE_TYPE_ID": ("integer", F, F, F, "Storage type"),
    "STORAGE_ELEMENT_IDS": ("integer", F, F, T, "Storage element IDs"),
    "IS_INCOMING_CHANNEL": ("char", F, T, F, "Incoming channel"),
}
CLASSIC_TABLES = {1: "lead", 2: "deal", 3: "contact", 4: "company"}
TYPE_MEETING, TYPE_CALL, TYPE_TASK, TYPE_EMAIL, TYPE_ACTION, TYPE_PROVIDER = 1, 2, 3, 4, 5, 6
DEFAULT_PROVIDER = {1: ("CRM_MEETING", "MEETING"), 2: ("VOXIMPLANT_CALL", "CALL"),
                    3: ("CRM_TASKS_TASK", "TASK"), 4: ("CRM_EMAIL", "EMAIL"),
                    5: ("CRM_REQUEST", "REQUEST")}
# the modern portal's provider of task activities (Bitrix\Crm\Activity\Provider\Tasks\Task);
# the docs name only TYPE_ID 3 for them (crm-activity-add.md), not the provider's id
TASK_PROVIDER = "TASKS_TASK"
# api-reference/crm/timeline/activities/todo/index.md: to-dos are listed with PROVIDER_ID
TODO_PROVIDER = "CRM_TODO"
STANDARD = [k for k in ACTIVITY_FIELDS
            if k not in ("BINDINGS", "COMMUNICATIONS", "STORAGE_ELEMENT_IDS")]
STORAGE_DISK = "3"
COMM_TYPE = {TYPE_EMAIL: "EMAIL", TYPE_CALL: "PHONE", TYPE_MEETING: ""}


def owner_exists(portal: Portal, type_id: int, owner_id: int) -> bool:
    if type_id in CLASSIC_TABLES:
        return portal.table(CLASSIC_TABLES[type_id]).get(owner_id) is not None
    table = portal.items.get(type_id)
    return table is not None and table.get(owner_id) is not None


def _file_ids(
    emu: Emulator, portal: Portal, fields: dict[str, Any], row: dict[str, Any], user_id: int
) -> list[int] | None:
    """Disk file IDs from STORAGE_ELEMENT_IDS / FILES; None when neither was given."""
    if "STORAGE_ELEMENT_IDS" not in fields and "FILES" not in fields:
        return None
    ids: list[int] = []
    raw = fields.get("STORAGE_ELEMENT_IDS")
    for v in (raw if isinstance(raw, list) else list(as_dict(raw).values()) if raw else []):
        fid = as_int(v, "STORAGE_ELEMENT_IDS")
        disk.get_object(portal, fid, "file")
        if fid not in ids:
            ids.append(fid)
    files = fields.get("FILES")
    items = files if isinstance(files, list) else list(as_dict(files).values()) if files else []
    for item in items:
        if isinstance(item, dict) and ("fileData" in item or "FILEDATA" in up(item)):
            name, data = disk.decode_file_content(up(item)["FILEDATA"])
            folder = disk.uploaded_files_folder(emu, portal, int(row["RESPONSIBLE_ID"]))
            blob = disk.blob_store(emu).from_bytes(data)
            obj = disk.add_file(emu, portal, folder.id, name, blob, user_id, unique=True)
            ids.append(obj.id)
        elif isinstance(item, dict) and item.get("id") is not None:
            fid = as_int(item["id"], "FILES")
            disk.get_object(portal, fid, "file")
            if fid not in ids:
                ids.append(fid)
        elif isinstance(item, int | str) and str(item).isdigit():
            fid = int(item)
            disk.get_object(portal, fid, "file")
            if fid not in ids:
                ids.append(fid)
    return ids


def _communications(row: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else list(as_dict(value).values())
    out = []
    for i, item in enumerate(items, start=1):
        c = up(as_dict(item))
        out.append({
            "ID": str(int(row["ID"]) * 10 + i), "TYPE": str(c.get("TYPE") or COMM_TYPE.get(
                int(row.get("TYPE_ID") or 0), "")),
            "VALUE": str(c.get("VALUE") or ""), "ENTITY_ID": str(c.get("ENTITY_ID") or ""),
            "ENTITY_TYPE_ID": str(c.get("ENTITY_TYPE_ID") or ""), "ENTITY_SETTINGS": [],
        })
    return out


def _apply(
    emu: Emulator, portal: Portal, row: dict[str, Any], fields: dict[str, Any], user_id: int,
    creating: bool, strict: bool,
) -> None:
    """Validate and write fields the way the classic activity REST proxy does."""
    fields = up(fields)
    for key, value in fields.items():
        if key not in ACTIVITY_FIELDS or ACTIVITY_FIELDS[key][2]:
            continue
        if key in ("FILES", "STORAGE_ELEMENT_IDS", "COMMUNICATIONS"):
            continue
        if key in ("SETTINGS", "PROVIDER_PARAMS"):
            row[key] = value if isinstance(value, dict) else as_dict(value)
        elif key == "COMPLETED":
            row[key] = "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"
        else:
            row[key] = None if value is None else str(value)
    if creating:
        type_id = int(row.get("TYPE_ID") or 0)
        owner_type = int(row.get("OWNER_TYPE_ID") or 0)
        owner_id = int(row.get("OWNER_ID") or 0)
        if not owner_type or not owner_id:
            raise RestError("ERROR_CORE", "The field 'OWNER_ID' or 'OWNER_TYPE_ID' is not "
                            "defined or invalid.", 400)
        if type_id not in (1, 2, 3, 4, 5, 6):
            raise RestError("ERROR_CORE", "The field 'TYPE_ID' is not defined or invalid.", 400)
        if not owner_exists(portal, owner_type, owner_id):
            raise RestError("ERROR_NOT_FOUND", "Owner entity is not found.", 400)
        if type_id == TYPE_PROVIDER and not row.get("PROVIDER_ID"):
            raise RestError("ERROR_CORE", "The field 'PROVIDER_ID' is not defined.", 400)
        provider, ptype = DEFAULT_PROVIDER.get(type_id, ("", ""))
        row["PROVIDER_ID"] = row.get("PROVIDER_ID") or provider
        row["PROVIDER_TYPE_ID"] = row.get("PROVIDER_TYPE_ID") or ptype or row["PROVIDER_ID"]
        comm = fields.get("COMMUNICATIONS")
        if strict and type_id in (TYPE_CALL, TYPE_EMAIL, TYPE_MEETING) and not comm:
            raise RestError("ERROR_CORE", "The field 'COMMUNICATIONS' is not defined or "
                            "invalid.", 400)
        if not row.get("SUBJECT"):
            row["SUBJECT"] = {TYPE_EMAIL: "E-mail", TYPE_CALL: "Call"}.get(type_id, "Activity")
        row["BINDINGS"] = [{"OWNER_ID": str(owner_id), "OWNER_TYPE_ID": str(owner_type)}]
    if "COMMUNICATIONS" in fields:
        row["COMMUNICATIONS"] = _communications(row, fields["COMMUNICATIONS"])
    if row.get("COMPLETED") == "Y":
        row["STATUS"] = "2"
    elif row.get("STATUS") == "2" and "COMPLETED" in fields:
        row["STATUS"] = "1"
    ids = _file_ids(emu, portal, fields, row, user_id)
    if ids is not None:
        row["STORAGE_ELEMENT_IDS"] = ids
        row["STORAGE_TYPE_ID"] = STORAGE_DISK
    row["LAST_UPDATED"] = emu.iso()
    row["EDITOR_ID"] = str(user_id)


def activity_add(
    emu: Emulator, portal: Portal, fields: dict[str, Any], user_id: int, strict: bool = True,
    bindings: list[tuple[int, int]] | None = None,
) -> int:
    """Create an activity as ``user_id`` and fire ONCRMACTIVITYADD.

    `bindings` (type id, id) bind it to more items than its owner: timeline/activities/
    index.md, an activity bound to several items is in each one's timeline.
    """
    with emu.lock:
        table = portal.activities
        row_id = table.next_id()
        stamp = emu.iso()
        row: dict[str, Any] = dict.fromkeys(STANDARD)
        row.update({
            "ID": str(row_id), "COMPLETED": "N", "STATUS": "1", "PRIORITY": "2",
            "DIRECTION": "0", "DESCRIPTION": "", "DESCRIPTION_TYPE": "1", "RESPONSIBLE_ID":
            str(user_id), "AUTHOR_ID": str(user_id), "CREATED": stamp, "START_TIME": stamp,
            "END_TIME": stamp, "DEADLINE": stamp, "NOTIFY_TYPE": "0", "NOTIFY_VALUE": "0",
            "STORAGE_TYPE_ID": STORAGE_DISK, "STORAGE_ELEMENT_IDS": [], "COMMUNICATIONS": [],
            "SETTINGS": {}, "PROVIDER_PARAMS": {}, "IS_INCOMING_CHANNEL": "N",
        })
        f = up(fields)
        if f.get("TYPE_ID") is not None and int(str(f["TYPE_ID"]) or 0) in (TYPE_CALL,
                                                                             TYPE_EMAIL):
            row["DIRECTION"] = "1"
        _apply(emu, portal, row, f, user_id, creating=True, strict=strict)
        row["IS_INCOMING_CHANNEL"] = "Y" if row.get("DIRECTION") == "1" else "N"
        for type_id, owner_id in (bindings or [])[1:]:
            row["BINDINGS"].append({"OWNER_ID": str(owner_id), "OWNER_TYPE_ID": str(type_id)})
        table.put(row_id, row)
        emu.fire_event(portal, "ONCRMACTIVITYADD", {"FIELDS": {"ID": row_id}}, user_id)
        return row_id


def activity_change(emu: Emulator, portal: Portal, row: dict[str, Any], fields: dict[str, Any],
                    user_id: int) -> None:
    """Change an activity and fire ONCRMACTIVITYUPDATE with the sample's data
    (timeline/activities/events/on-crm-activity-update.md: {"FIELDS": {"ID"}})."""
    with emu.lock:
        _apply(emu, portal, row, fields, user_id, creating=False, strict=False)
    emu.fire_event(portal, "ONCRMACTIVITYUPDATE", {"FIELDS": {"ID": int(row["ID"])}}, user_id)


def activity_out(emu: Emulator, portal: Portal, row: dict[str, Any]) -> dict[str, Any]:
    """What ``crm.activity.get`` returns: FILES as ``[{id, url}]`` for files still on Disk.

    api-reference/crm/timeline/activities/activity-base/crm-activity-list.md: ``url`` is
    ``http://<portal>/bitrix/tools/crm_show_file.php?fileId=…&ownerTypeId=6&ownerId=…&auth=``,
    the empty ``auth=`` to be filled with the caller's access token.
    """
    out = {k: v for k, v in row.items() if k != "STORAGE_ELEMENT_IDS"}
    files = []
    base = f"{emu.url}/bitrix/tools/crm_show_file.php"
    for fid in row.get("STORAGE_ELEMENT_IDS") or []:
        obj = portal.disk.objects.get(fid)
        if obj is not None and obj.type == "file":
            files.append({"id": fid, "url": f"{base}?fileId={fid}&ownerTypeId=6"
                                            f"&ownerId={row['ID']}&auth="})
    out["FILES"] = files
    out["BINDINGS"] = [dict(b) for b in row.get("BINDINGS") or []]
    out["COMMUNICATIONS"] = [dict(c) for c in row.get("COMMUNICATIONS") or []]
    return out


def _get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = ctx.portal.activities.get(as_int(up(params).get("ID")))
    if row is None:
        # api-reference/crm/timeline/activities/activity-base/crm-activity-get.md: an empty
        # code (the sample: {"error": "", ...}) and "Activity is not found", HTTP 400
        raise RestError("", "Activity is not found", 400)
    return row


@method("crm.activity.add", scope="crm")
def add(ctx: CallContext, params: dict[str, Any]) -> int:
    return activity_add(ctx.emu, ctx.portal, as_dict(up(params).get("FIELDS")), ctx.user_id)


@method("crm.activity.get", scope="crm")
def get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return activity_out(ctx.emu, ctx.portal, _get(ctx, params))


@method("crm.activity.update", scope="crm")
def update(ctx: CallContext, params: dict[str, Any]) -> bool:
    row = _get(ctx, params)
    fields = as_dict(up(params).get("FIELDS"))
    _apply(ctx.emu, ctx.portal, row, fields, ctx.user_id, creating=False, strict=True)
    ctx.emu.fire_event(ctx.portal, "ONCRMACTIVITYUPDATE", {"FIELDS": {"ID": int(row["ID"])}},
                       ctx.user_id)
    return True


@method("crm.activity.todo.add", scope="crm")
def todo_add(ctx: CallContext, params: dict[str, Any]) -> dict[str, int]:
    """api-reference/crm/timeline/activities/todo/crm-activity-todo-add.md: ownerTypeId,
    ownerId and deadline required (100), an unknown item NOT_FOUND, a bad date
    WRONG_DATETIME_FORMAT; the answer {"id": …}. Listed as TYPE_ID 6, PROVIDER_ID CRM_TODO."""
    p = {str(k).lower(): v for k, v in params.items()}
    if any(p.get(k) in (None, "") for k in ("ownertypeid", "ownerid", "deadline")):
        raise RestError("100", "Required fields are missing", 400)
    from ..listing import _parse_dt

    if _parse_dt(str(p["deadline"])) is None:
        raise RestError("WRONG_DATETIME_FORMAT", "Wrong datetime format", 400)
    owner_type, owner_id = as_int(p["ownertypeid"], "ownerTypeId"), as_int(p["ownerid"],
                                                                           "ownerId")
    if not owner_exists(ctx.portal, owner_type, owner_id):
        raise RestError("NOT_FOUND", "Not found.", 400)
    responsible = int(str(p.get("responsibleid") or ctx.user_id))
    if responsible not in ctx.portal.users:
        raise RestError("NOT_FOUND", "Not found.", 400)
    deadline = _parse_dt(str(p["deadline"]))
    assert deadline is not None
    row_id = activity_add(ctx.emu, ctx.portal, {
        "OWNER_TYPE_ID": owner_type, "OWNER_ID": owner_id, "TYPE_ID": TYPE_PROVIDER,
        "PROVIDER_ID": TODO_PROVIDER, "PROVIDER_TYPE_ID": "TODO",
        "SUBJECT": str(p.get("title") or ""), "DESCRIPTION": str(p.get("description") or ""),
        "RESPONSIBLE_ID": responsible, "DEADLINE": ctx.emu.iso(deadline.timestamp()),
    }, ctx.user_id, strict=False)
    return {"id": row_id}


@method("crm.activity.delete", scope="crm")
def delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    row = _get(ctx, params)
    ctx.portal.activities.delete(int(row["ID"]))
    ctx.emu.fire_event(ctx.portal, "ONCRMACTIVITYDELETE", {"FIELDS": {"ID": int(row["ID"])}},
                       ctx.user_id)
    return True


@method("crm.activity.list", scope="crm")
def list_(ctx: CallContext, params: dict[str, Any]) -> Any:
    p = up(params)
    res = ctx.portal.activities.query(p.get("FILTER"), p.get("ORDER"),
                                      parse_start(p.get("START", 0)))
    res.items = [select_fields(activity_out(ctx.emu, ctx.portal, r), p.get("SELECT"), STANDARD)
                 for r in res.items]
    return res


@method("crm.activity.fields", scope="crm")
def fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return {name: {"type": t, "isRequired": req, "isReadOnly": ro, "isImmutable": False,
                   "isMultiple": multi, "isDynamic": False, "title": title}
            for name, (t, req, ro, multi, title) in ACTIVITY_FIELDS.items()}
