"""File transfer endpoints: ``DOWNLOAD_URL``, ``uploadUrl`` and CRM file-field links.

Downloads stream from the blob (never the whole file in memory), send Content-Length and
Content-Type, honour one ``Range`` (206/416), answer 404 for deleted or unknown files and
403 for a forged or expired token. Download faults from the control API apply here: a
status instead of the file, a connection closed after N bytes, or a byte-rate throttle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Flask, Response, request

from . import disk
from .blobs import Blob
from .errors import RestError

if TYPE_CHECKING:
    from .core import Emulator
    from .state import Portal

log = logging.getLogger("emulator.files")


def _error(code: str, text: str, status: int) -> Response:
    return Response(json.dumps({"error": code, "error_description": text}), status=status,
                    mimetype="application/json")


def take_download_fault(emu: Emulator, ids: set[str]) -> dict[str, Any]:
    """Pick the faults that apply to this download (consuming counted ones)."""
    out: dict[str, Any] = {}
    with emu.lock:
        for f in emu.download_faults:
            if f.get("file_id") not in (None, "", "*") and str(f["file_id"]) not in ids:
                continue
            if (f.get("throttle_bytes_per_s") and "throttle" not in out
                    and (f.get("count") is None or f["count"] > 0)):
                out["throttle"] = float(f["throttle_bytes_per_s"])
                if f.get("count") is not None:
                    f["count"] -= 1
            if (f.get("status") or f.get("abort_after_bytes") is not None) and f["count"] > 0:
                if "status" in out or "abort" in out:
                    continue
                f["count"] -= 1
                if f.get("status"):
                    out["status"] = int(f["status"])
                else:
                    out["abort"] = int(f["abort_after_bytes"])
        emu.download_faults[:] = [f for f in emu.download_faults
                                  if f.get("count") is None or f["count"] > 0]
    return out


def stream_blob(
    emu: Emulator, blob: Blob, name: str, content_type: str, ids: set[str], etag: str
) -> Response:
    """The whole download answer for one blob, faults and Range included."""
    fault = take_download_fault(emu, ids)
    if fault.get("status"):
        status = fault["status"]
        return _error("INTERNAL_SERVER_ERROR" if status >= 500 else "ERROR_NOT_FOUND"
                      if status == 404 else "DOWNLOAD_FAULT", "Injected download fault", status)
    size = blob.size
    start, end, status = 0, size, 200
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{etag}"',
               "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    rng = request.range
    if rng is not None and len(rng.ranges) == 1:
        span = rng.range_for_length(size)
        if span is None:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(b"", status=416, headers=headers)
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    abort = fault.get("abort")
    throttle = fault.get("throttle")
    sock = request.environ.get("werkzeug.socket")

    def body() -> Iterator[bytes]:
        sent = 0
        for chunk in blob.iter_range(start, end):
            if abort is not None and sent + len(chunk) >= abort:
                part = chunk[: max(0, abort - sent)]
                if part:
                    yield part
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                raise ConnectionAbortedError("download fault: connection closed mid-stream")
            sent += len(chunk)
            yield chunk
            if throttle:
                time.sleep(len(chunk) / throttle)

    resp = Response(body(), status=status, headers=headers, mimetype=content_type,
                    direct_passthrough=True)
    return resp


def _disk_target(emu: Emulator, fields: list[str]) -> tuple[Portal, Blob, str, set[str], str]:
    kind, member_id, obj_id = fields[0], fields[1], fields[2]
    extra = fields[3] if len(fields) > 3 else ""
    with emu.lock:
        portal = emu.portals.get(member_id)
        if portal is None:
            raise RestError("ERROR_NOT_FOUND", "Portal not found", 404)
        obj = portal.disk.objects.get(int(obj_id))
        if obj is None or obj.type != "file" or obj.deleted_type != disk.DELETED_NONE:
            raise RestError("ERROR_NOT_FOUND", "File not found", 404)
        ver = obj.head
        if kind == "v":
            ver = next((v for v in obj.versions if str(v.id) == extra), None)  # type: ignore
            if ver is None:
                raise RestError("ERROR_NOT_FOUND", "Version not found", 404)
        return portal, ver.blob, obj.name, {str(obj.id)}, f"{obj.id}-{ver.id}"


def register_files(app: Flask, emu: Emulator) -> None:
    """Add the download/upload routes to the emulator's Flask app."""

    @app.route("/rest/download.json", methods=["GET"])
    def download() -> Response:
        try:
            fields = disk.read_token(emu, request.args.get("token", ""))
            if fields[0] not in ("f", "v"):
                raise RestError("ACCESS_DENIED", "Access denied", 403)
            _portal, blob, name, ids, etag = _disk_target(emu, fields)
        except RestError as err:
            return _error(err.code, err.description, err.status)
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        emu.add_log(path="/rest/download.json", method="disk.download", status=200,
                    error=None, portal=fields[1])
        return stream_blob(emu, blob, name, ctype, ids, etag)

    def login_redirect() -> Response:
        """What a portal does with a file link whose ``auth`` is not a valid token of a user
        who may see the file: a 302 to its login page (an HTML form), not a 403. A caller
        that follows it and keeps the body stores a login page instead of the file."""
        emu.add_log(path=request.path, method="crm.file.download", status=302,
                    error="AUTH_REQUIRED", portal=None)
        back = quote(request.full_path, safe="")
        return Response("", status=302, headers={"Location": f"{emu.url}/auth/?backurl={back}"})

    @app.route("/auth/", methods=["GET"])
    def login_page() -> Response:
        return Response("<!DOCTYPE html><html><body><form method=post>Авторизация / Log in"
                        "</form></body></html>", status=200, mimetype="text/html")

    def caller() -> tuple[Portal, int] | None:
        """The portal and user of the ``auth`` access token, or None when it is not one."""
        try:
            rec = emu.check_access(request.args.get("auth") or None)
        except RestError:
            return None
        with emu.lock:
            portal = emu.portals.get(rec.member_id)
        return (portal, rec.user_id) if portal is not None else None

    @app.route("/bitrix/components/bitrix/<component>/show_file.php", methods=["GET"])
    def show_file(component: str) -> Response:
        """CRM file fields' ``downloadUrl``: the caller puts its access token in ``auth=``
        (tutorials/crm/how-to-add-crm-objects/how-to-add-lead-with-files.md)."""
        args = request.args
        who = caller()
        if who is None:
            return login_redirect()
        portal, user_id = who
        entity = component.split(".")[1] if component.count(".") >= 2 else "deal"
        owner, field_name, file_id = (args.get("ownerId", ""), args.get("fieldName", ""),
                                      args.get("fileId", ""))
        with emu.lock:
            try:
                owner_id, fid = int(owner or 0), int(file_id or 0)
            except ValueError:
                return _error("ERROR_ARGUMENT", "Wrong file link", 400)
            row = None
            if entity in ("deal", "lead", "contact", "company"):
                if not portal.may_read(user_id, entity, owner_id):
                    return login_redirect()
                row = portal.table(entity).get(owner_id)
            elif entity == "item":  # a smart process's file field (userfield_values.show)
                etid = int(args.get("entityTypeId") or 0) if str(args.get(
                    "entityTypeId") or "").isdigit() else 0
                if not portal.may_read(user_id, f"dynamic_{etid}", owner_id):
                    return login_redirect()
                table = portal.items.get(etid)
                row = table.get(owner_id) if table is not None else None
            value = row.get(field_name.upper()) if row else None
            held = value if isinstance(value, list) else [value]
            rec = portal.disk.bfiles.get(fid)
            if rec is None or fid not in [int(v) for v in held if v]:
                return _error("ERROR_NOT_FOUND", "File not found", 404)
        emu.add_log(path=request.path, method="crm.file.download", status=200, error=None,
                    portal=portal.member_id)
        return stream_blob(emu, rec.blob, rec.name, rec.content_type, {file_id, f"b{file_id}"},
                           f"b{file_id}")

    @app.route("/bitrix/tools/crm_show_file.php", methods=["GET"])
    def activity_file() -> Response:
        """Activity files' ``url``, with ``auth=`` filled by the caller
        (api-reference/crm/timeline/activities/activity-base/crm-activity-list.md)."""
        who = caller()
        if who is None:
            return login_redirect()
        portal, _user_id = who
        try:
            fid, owner_id = int(request.args.get("fileId") or 0), int(
                request.args.get("ownerId") or 0)
        except ValueError:
            return _error("ERROR_ARGUMENT", "Wrong file link", 400)
        with emu.lock:
            row = portal.activities.get(owner_id)
            obj = portal.disk.objects.get(fid)
            if (row is None or fid not in (row.get("STORAGE_ELEMENT_IDS") or []) or obj is None
                    or obj.type != "file" or obj.deleted_type != disk.DELETED_NONE):
                return _error("ERROR_NOT_FOUND", "File not found", 404)
            ver = obj.head
        ctype = mimetypes.guess_type(obj.name)[0] or "application/octet-stream"
        return stream_blob(emu, ver.blob, obj.name, ctype, {str(obj.id)}, f"{obj.id}-{ver.id}")

    def upload_caller(member_id: str) -> None:
        """The POST is a REST request of the token in its ``auth``: refused like one when that
        token has expired or belongs elsewhere, counted in the portal's rate budget, and open
        to the faults a test injects for "disk.upload"."""
        with emu.lock:
            emu.stats["requests"] += 1
            emu.stats["http_by_method"]["disk.upload"] += 1
            portal = emu.portals.get(member_id)
        rec = emu.check_access(request.args.get("auth") or None)
        if rec.member_id != member_id:
            raise RestError("ACCESS_DENIED", "Access denied", 403)
        if portal is not None:
            emu.charge(portal)
        fault = emu.take_fault("disk.upload")
        if fault is not None:
            raise fault

    @app.route("/rest/upload.json", methods=["POST"])
    def upload() -> Response:
        """The ``uploadUrl`` of ``disk.folder.uploadfile``: multipart, the part named by the
        ``field`` it answered ("file"); the answer is the file as ``disk.folder.uploadfile``
        gives it (api-reference/disk/folder/disk-folder-upload-file.md)."""
        member_id = None
        try:
            fields = disk.read_token(emu, request.args.get("token", ""))
            if fields[0] != "u":
                raise RestError("ACCESS_DENIED", "Access denied", 403)
            member_id, key = fields[1], fields[2]
            upload_caller(member_id)
            with emu.lock:
                portal = emu.portals.get(member_id)
                session = portal.disk.uploads.get(key) if portal else None
            if portal is None or session is None:
                raise RestError("ERROR_NOT_FOUND", "Upload session not found or used", 404)
            storage = request.files.get("file")
            if storage is None:
                raise RestError("ERROR_ARGUMENT", "File is not uploaded (field 'file')", 400)
            blob = disk.blob_store(emu).from_stream(storage.stream)  # streamed to disk
            name = session.get("name") or storage.filename or "file"
            try:
                with emu.lock:
                    obj = disk.add_file(emu, portal, session["folder_id"], name, blob,
                                        int(session["user_id"]), bool(session.get("unique")))
                    disk.apply_rights(obj, session.get("rights"))
                    portal.disk.uploads.pop(key, None)
                    result = disk.object_api(emu, portal, obj, "upload")
            except RestError:
                blob.release()
                raise
        except RestError as err:
            emu.add_log(path="/rest/upload.json", method="disk.upload", status=err.status,
                        error=err.code, portal=member_id)
            return _error(err.code, err.description, err.status)
        emu.add_log(path="/rest/upload.json", method="disk.upload", status=200, error=None,
                    portal=member_id)
        return Response(json.dumps({"result": result}, ensure_ascii=False), status=200,
                        mimetype="application/json")
