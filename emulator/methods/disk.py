"""``disk.*``: storages, folders and files (UPPER_CASE fields, as the Disk module answers).

Parameter names (``id``, ``data``, ``fileContent``, ``generateUniqueName``, ``userId``,
``taskName``, ``newName``) are read case-insensitively.
"""

from __future__ import annotations

from typing import Any

from .. import disk
from ..errors import RestError
from ..listing import (
    ListResult,
    compile_filter,
    page,
    parse_order,
    parse_start,
    row_matches,
    sort_rows,
)
from ..registry import CallContext, as_dict, method, up, yes

_TYPE_CODES = {"2": "folder", "3": "file"}


def low(params: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in params.items()}


def _id(p: dict[str, Any], n: int = 0) -> Any:
    value = p.get("id")
    if value in (None, ""):
        raise disk.bad_param(n)
    return value


def _name(p: dict[str, Any]) -> Any:
    data = up(as_dict(p.get("data")))
    if not data.get("NAME"):
        raise disk.bad_param(1)
    return data["NAME"]


def _filtered(rows: list[dict[str, Any]], p: dict[str, Any]) -> ListResult:
    """filter / order / start over API rows, 50 per page."""
    flt = p.get("filter")
    if isinstance(flt, dict):
        flt = {k: (_TYPE_CODES.get(str(v), v) if str(k).lstrip("!=").upper() == "TYPE" else v)
               for k, v in flt.items()}
    conds = compile_filter(flt)
    rows = [r for r in rows if row_matches(r, conds)]
    if isinstance(p.get("order"), dict):
        rows = sort_rows(rows, parse_order(p["order"]))
    start = parse_start(p.get("start", 0))
    return page(rows, start, None if start < 0 else len(rows))


def _children(ctx: CallContext, folder_id: int, p: dict[str, Any]) -> ListResult:
    emu, portal = ctx.emu, ctx.portal
    rows = [disk.object_api(emu, portal, o) for o in disk.live_children(portal, folder_id)]
    return _filtered(rows, p)


# ------------------------------------------------------------------ storages
@method("disk.storage.getlist", scope="disk")
def storage_list(ctx: CallContext, params: dict[str, Any]) -> ListResult:
    disk.ensure_storages(ctx.emu, ctx.portal)
    rows = [dict(s) for s in ctx.portal.disk.storages.values()]
    return _filtered(rows, low(params))


@method("disk.storage.get", scope="disk")
def storage_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return dict(disk.get_storage(ctx.emu, ctx.portal, _id(low(params))))


@method("disk.storage.gettypes", scope="disk")
def storage_types(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    return ["user", "common", "group"]


@method("disk.storage.getforapp", scope="disk", admin=True)
def storage_for_app(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return dict(disk.app_storage(ctx.emu, ctx.portal, ctx.user_id))


@method("disk.storage.getchildren", scope="disk")
def storage_children(ctx: CallContext, params: dict[str, Any]) -> ListResult:
    p = low(params)
    storage = disk.get_storage(ctx.emu, ctx.portal, _id(p))
    return _children(ctx, int(storage["ROOT_OBJECT_ID"]), p)


@method("disk.storage.addfolder", scope="disk")
def storage_add_folder(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    p = low(params)
    storage = disk.get_storage(ctx.emu, ctx.portal, _id(p))
    obj = disk.add_folder(ctx.emu, ctx.portal, storage["ROOT_OBJECT_ID"], _name(p), ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


# ------------------------------------------------------------------ folders
@method("disk.folder.get", scope="disk")
def folder_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    obj = disk.get_object(ctx.portal, _id(low(params)), "folder")
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.folder.getfields", scope="disk")
def folder_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    names = ("ID", "NAME", "CODE", "STORAGE_ID", "TYPE", "REAL_OBJECT_ID", "PARENT_ID",
             "DELETED_TYPE", "CREATE_TIME", "UPDATE_TIME", "DELETE_TIME", "CREATED_BY",
             "UPDATED_BY", "DELETED_BY")
    return {n: {"TYPE": "datetime" if n.endswith("_TIME") else "string",
                "USE_IN_FILTER": True, "USE_IN_SHOW": True} for n in names}


@method("disk.folder.addsubfolder", scope="disk")
def folder_add_sub(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    p = low(params)
    obj = disk.add_folder(ctx.emu, ctx.portal, _id(p), _name(p), ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.folder.getchildren", scope="disk")
def folder_children(ctx: CallContext, params: dict[str, Any]) -> ListResult:
    p = low(params)
    folder = disk.get_object(ctx.portal, _id(p), "folder")
    return _children(ctx, folder.id, p)


@method("disk.folder.uploadfile", scope="disk")
def folder_upload(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """With ``fileContent``: the file (``data.NAME`` required, DISK_BASE_SERVICE_22001);
    without: ``{field, uploadUrl}`` for a multipart POST, where ``data`` is optional and the
    part's file name names the file (api-reference/disk/folder/disk-folder-upload-file.md).
    A taken name without ``generateUniqueName`` is DISK_OBJ_22000 (the code Disk gives a
    non-unique name in disk-file-rename.md, disk-folder-add-subfolder.md)."""
    emu, portal = ctx.emu, ctx.portal
    p = low(params)
    folder = disk.get_object(portal, _id(p), "folder")
    if folder.deleted_type != disk.DELETED_NONE:
        raise disk.not_found(folder.id)
    data = up(as_dict(p.get("data")))
    unique = yes(p.get("generateuniquename", "N"))
    content = p.get("filecontent")
    if content in (None, "", [], {}):
        if data.get("NAME"):
            disk.check_name(data["NAME"])
        session = {"folder_id": folder.id, "name": data.get("NAME"), "user_id": ctx.user_id,
                   "unique": unique, "rights": p.get("rights")}
        return {"field": "file", "uploadUrl": disk.upload_url(emu, portal, session,
                                                               ctx.token.access_token)}
    if not data.get("NAME"):
        raise RestError("DISK_BASE_SERVICE_22001",
                        "Error: required parameter NAME (DISK_BASE_SERVICE_22001)", 400)
    _fname, raw = disk.decode_file_content(content)
    blob = disk.blob_store(emu).from_bytes(raw)
    try:
        obj = disk.add_file(emu, portal, folder.id, data["NAME"], blob, ctx.user_id, unique)
    except RestError:
        blob.release()
        raise
    disk.apply_rights(obj, p.get("rights"))
    return disk.object_api(emu, portal, obj, "upload")


@method("disk.folder.sharetouser", scope="disk")
def folder_share(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = low(params)
    obj = disk.get_object(ctx.portal, _id(p), "folder")
    try:
        uid = int(str(p.get("userid")))
    except (TypeError, ValueError):
        raise disk.bad_param(1) from None
    if uid not in ctx.portal.users:
        raise RestError("ERROR_NOT_FOUND", f"Could not find user with id '{uid}'", 400)
    task = str(p.get("taskname") or "")
    if task not in disk.TASKS:
        raise RestError("ERROR_ARGUMENT", f"Invalid value of parameter {{taskName}}: {task}",
                        400)
    obj.rights = [r for r in obj.rights if r["ACCESS_CODE"] != f"U{uid}"]
    obj.rights.append({"ACCESS_CODE": f"U{uid}", "TASK_NAME": task})
    return True


def _external_link(ctx: CallContext, obj: disk.DiskObject) -> str:
    if obj.external_link is None:
        obj.external_link = f"https://{ctx.portal.domain}/~{disk._hex(4)}"
    return obj.external_link


@method("disk.folder.getexternallink", scope="disk")
def folder_link(ctx: CallContext, params: dict[str, Any]) -> str:
    return _external_link(ctx, disk.get_object(ctx.portal, _id(low(params)), "folder"))


@method("disk.folder.deletetree", scope="disk")
def folder_delete_tree(ctx: CallContext, params: dict[str, Any]) -> bool:
    disk.destroy(ctx.emu, ctx.portal, disk.get_object(ctx.portal, _id(low(params)), "folder"))
    return True


@method("disk.folder.markdeleted", scope="disk")
def folder_mark_deleted(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    obj = disk.get_object(ctx.portal, _id(low(params)), "folder")
    disk.mark_deleted(ctx.emu, ctx.portal, obj, ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.folder.restore", scope="disk")
def folder_restore(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    obj = disk.get_object(ctx.portal, _id(low(params)), "folder")
    disk.restore(ctx.emu, ctx.portal, obj, ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.folder.rename", scope="disk")
def folder_rename(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    p = low(params)
    obj = disk.get_object(ctx.portal, _id(p), "folder")
    disk.rename(ctx.emu, ctx.portal, obj, p.get("newname"), ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


# ------------------------------------------------------------------ files
@method("disk.file.get", scope="disk")
def file_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    obj = disk.get_object(ctx.portal, _id(low(params)), "file")
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.file.delete", scope="disk")
def file_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    disk.destroy(ctx.emu, ctx.portal, disk.get_object(ctx.portal, _id(low(params)), "file"))
    return True


@method("disk.file.markdeleted", scope="disk")
def file_mark_deleted(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    obj = disk.get_object(ctx.portal, _id(low(params)), "file")
    disk.mark_deleted(ctx.emu, ctx.portal, obj, ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.file.restore", scope="disk")
def file_restore(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    obj = disk.get_object(ctx.portal, _id(low(params)), "file")
    disk.restore(ctx.emu, ctx.portal, obj, ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.file.rename", scope="disk")
def file_rename(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    p = low(params)
    obj = disk.get_object(ctx.portal, _id(p), "file")
    disk.rename(ctx.emu, ctx.portal, obj, p.get("newname"), ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj)


@method("disk.file.uploadversion", scope="disk")
def file_upload_version(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    p = low(params)
    obj = disk.get_object(ctx.portal, _id(p), "file")
    if p.get("filecontent") in (None, "", [], {}):
        # "{Parameter #0}" for a missing id or fileContent alike (disk-file-upload-version.md)
        raise disk.bad_param(0)
    # the file keeps its name: fileContent's name only names the upload (the docs' sample
    # sends the name the file already has, api-reference/disk/file/disk-file-upload-version.md)
    _fname, raw = disk.decode_file_content(p["filecontent"])
    blob = disk.blob_store(ctx.emu).from_bytes(raw)
    disk.add_version(ctx.emu, ctx.portal, obj.id, blob, ctx.user_id)
    return disk.object_api(ctx.emu, ctx.portal, obj, "version")


@method("disk.file.getversions", scope="disk")
def file_versions(ctx: CallContext, params: dict[str, Any]) -> ListResult:
    p = low(params)
    obj = disk.get_object(ctx.portal, _id(p), "file")
    rows = [disk.version_api(ctx.emu, ctx.portal, obj, v) for v in reversed(obj.versions)]
    return _filtered(rows, p)


@method("disk.file.getexternallink", scope="disk")
def file_link(ctx: CallContext, params: dict[str, Any]) -> str:
    return _external_link(ctx, disk.get_object(ctx.portal, _id(low(params)), "file"))
