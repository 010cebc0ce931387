"""Control API for Disk files, activities and download faults (tests and benchmarks).

``POST /_emulator/disk/files``            {folder_id?, name, size, seed?} or {content_b64}
``GET  /_emulator/disk/files/<id>``       size, md5, versions, download_url
``POST /_emulator/disk/files/<id>/version`` {size, seed?} or {content_b64}
``DELETE /_emulator/disk/files/<id>``     {trash?: true} (default: permanent)
``GET  /_emulator/disk/tree?folder_id=``  folders and files under a folder (or every storage)
``POST /_emulator/disk/download-url``     {file_id, ttl} a DOWNLOAD_URL with a chosen lifetime
``POST /_emulator/crm/activity``          {fields, user_id?} (fires ONCRMACTIVITYADD)
``POST|GET|DELETE /_emulator/downloads/faults``
    {file_id?, status, count} | {file_id?, abort_after_bytes, count} |
    {file_id?, throttle_bytes_per_s, count?}
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask import Flask, Response

from . import disk
from .blobs import Blob, VirtualBlob
from .core import Emulator
from .errors import RestError
from .methods.activity import activity_add, activity_out
from .state import new_hex


def _blob(emu: Emulator, b: dict[str, Any]) -> Blob:
    if b.get("content_b64") is not None:
        try:
            data = base64.b64decode(str(b["content_b64"]))
        except ValueError:
            raise RestError("ERROR_ARGUMENT", "content_b64 is not valid base64", 400) from None
        return disk.blob_store(emu).from_bytes(data)
    if b.get("size") is None:
        raise RestError("ERROR_ARGUMENT", "size (virtual file) or content_b64 is required", 400)
    size = int(b["size"])
    if size < 0:
        raise RestError("ERROR_ARGUMENT", "size must be >= 0", 400)
    return VirtualBlob(str(b.get("seed") or new_hex(8)), size)


def _info(emu: Emulator, portal: Any, obj: disk.DiskObject, md5: str | None) -> dict[str, Any]:
    head = obj.head
    out = {"id": obj.id, "name": obj.name, "folder_id": obj.parent_id, "size": head.size,
           "version_id": head.id, "versions": len(obj.versions),
           "download_url": disk.download_url(emu, portal, "f", obj.id),
           "deleted_type": obj.deleted_type, "content": head.blob.kind}
    if isinstance(head.blob, VirtualBlob):
        out["seed"] = head.blob.seed
    if md5 is not None:
        out["md5"] = md5
    return out


def register_disk_control(
    app: Flask, emu: Emulator, body: Callable[[], dict[str, Any]],
    json_response: Callable[..., Response],
) -> None:
    """Add the routes listed in the module docstring."""

    def _file(portal: Any, file_id: int) -> disk.DiskObject:
        obj = portal.disk.objects.get(file_id)
        if obj is None or obj.type != "file":
            raise RestError("ERROR_NOT_FOUND", f"No file {file_id}", 404)
        return obj

    @app.post("/_emulator/disk/files")
    def disk_file_new() -> Response:
        b = body()
        portal = emu.portal(b.get("member_id"))
        blob = _blob(emu, b)
        md5 = blob.md5() if b.get("md5", True) else None  # outside the lock: may take seconds
        with emu.lock:
            folder_id = b.get("folder_id") or disk.common_storage(emu, portal)["ROOT_OBJECT_ID"]
            uid = int(b.get("user_id") or portal.admin_user_id)
            obj = disk.add_file(emu, portal, folder_id, b.get("name") or "file.bin", blob, uid,
                                bool(b.get("unique")))
            return json_response(_info(emu, portal, obj, md5))

    @app.get("/_emulator/disk/files/<int:file_id>")
    def disk_file_info(file_id: int) -> Response:
        b = body()
        portal = emu.portal(b.get("member_id"))
        with emu.lock:
            obj = _file(portal, file_id)
            blob = obj.head.blob
        md5 = blob.md5() if str(b.get("md5", "1")).lower() not in ("0", "false", "n") else None
        with emu.lock:
            return json_response(_info(emu, portal, obj, md5))

    @app.post("/_emulator/disk/files/<int:file_id>/version")
    def disk_file_version(file_id: int) -> Response:
        b = body()
        portal = emu.portal(b.get("member_id"))
        blob = _blob(emu, b)
        md5 = blob.md5() if b.get("md5", True) else None
        with emu.lock:
            uid = int(b.get("user_id") or portal.admin_user_id)
            obj = disk.add_version(emu, portal, file_id, blob, uid)
            return json_response(_info(emu, portal, obj, md5))

    @app.delete("/_emulator/disk/files/<int:file_id>")
    def disk_file_delete(file_id: int) -> Response:
        b = body()
        portal = emu.portal(b.get("member_id"))
        with emu.lock:
            obj = _file(portal, file_id)
            trash = str(b.get("trash", "")).lower() in ("1", "true", "y", "yes")
            if trash:
                disk.mark_deleted(emu, portal, obj, portal.admin_user_id)
            else:
                disk.destroy(emu, portal, obj)
            return json_response({"id": file_id, "deleted": True, "trash": trash})

    @app.get("/_emulator/disk/tree")
    def disk_tree() -> Response:
        b = body()
        portal = emu.portal(b.get("member_id"))
        with emu.lock:
            disk.ensure_storages(emu, portal)
            if b.get("folder_id"):
                root = disk.get_object(portal, b["folder_id"], "folder")
                return json_response(disk.tree(emu, portal, root))
            return json_response({"storages": [
                dict(s, tree=disk.tree(emu, portal, portal.disk.objects[int(s["ROOT_OBJECT_ID"])]))
                for s in portal.disk.storages.values()
            ]})

    @app.post("/_emulator/disk/download-url")
    def disk_download_url() -> Response:
        """A download URL with a chosen lifetime (``ttl`` < 0 gives an expired one)."""
        b = body()
        portal = emu.portal(b.get("member_id"))
        with emu.lock:
            obj = _file(portal, int(b.get("file_id") or 0))
            ttl = float(b["ttl"]) if b.get("ttl") is not None else None
            return json_response({"download_url": disk.download_url(emu, portal, "f", obj.id,
                                                                    ttl)})

    @app.post("/_emulator/crm/activity")
    def activity_new() -> Response:
        b = body()
        portal = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or portal.admin_user_id)
        with emu.lock:
            aid = activity_add(emu, portal, b.get("fields") or {}, uid, strict=False)
            return json_response({"id": aid, "fields": activity_out(
                emu, portal, portal.activities.get(aid) or {})})

    @app.post("/_emulator/downloads/faults")
    def download_faults() -> Response:
        b = body()
        fault: dict[str, Any] = {"file_id": None if b.get("file_id") in (None, "", "*")
                                 else str(b["file_id"])}
        if b.get("status"):
            fault.update(status=int(b["status"]), count=int(b.get("count") or 1))
        elif b.get("abort_after_bytes") is not None:
            fault.update(abort_after_bytes=int(b["abort_after_bytes"]),
                         count=int(b.get("count") or 1))
        elif b.get("throttle_bytes_per_s"):
            fault.update(throttle_bytes_per_s=float(b["throttle_bytes_per_s"]),
                         count=None if b.get("count") is None else int(b["count"]))
        else:
            raise RestError("ERROR_ARGUMENT",
                            "status, abort_after_bytes or throttle_bytes_per_s is required", 400)
        with emu.lock:
            emu.download_faults.append(fault)
            return json_response({"faults": list(emu.download_faults)})

    @app.get("/_emulator/downloads/faults")
    def download_faults_get() -> Response:
        with emu.lock:
            return json_response({"faults": list(emu.download_faults)})

    @app.delete("/_emulator/downloads/faults")
    def download_faults_clear() -> Response:
        with emu.lock:
            emu.download_faults.clear()
        return json_response({"faults": []})
