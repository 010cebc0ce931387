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

    @app.route("/bitrix/components/bitrix/<component>/show_file.php", methods=["GET"])
    def show_file(component: str) -> Response:
        """CRM file fields: ``downloadUrl`` of ``{id, showUrl, downloadUrl}`` values."""
        args = request.args
        try:
            fields = disk.read_token(emu, args.get("auth", ""))
            kind, member_id, file_id, extra = fields[0], fields[1], fields[2], fields[3]
            owner, field_name = args.get("ownerId", ""), args.get("fieldName", "")
            if kind != "b" or file_id != args.get("fileId") or extra != f"{owner}|{field_name}":
                raise RestError("ACCESS_DENIED", "Access denied", 403)
            with emu.lock:
                portal = emu.portals.get(member_id)
                entity = component.split(".")[1] if component.count(".") >= 2 else "deal"
                row = None
                if portal is not None and entity in ("deal", "lead", "contact", "company"):
                    row = portal.table(entity).get(int(owner or 0))
                value = row.get(field_name.upper()) if row else None
                held = value if isinstance(value, list) else [value]
                rec = portal.disk.bfiles.get(int(file_id)) if portal else None
                if rec is None or int(file_id) not in [int(v) for v in held if v]:
                    raise RestError("ERROR_NOT_FOUND", "File not found", 404)
        except (RestError, ValueError) as err:
            if isinstance(err, ValueError):
                return _error("ACCESS_DENIED", "Access denied", 403)
            return _error(err.code, err.description, err.status)
        return stream_blob(emu, rec.blob, rec.name, rec.content_type, {file_id, f"b{file_id}"},
                           f"b{file_id}")

    @app.route("/rest/upload.json", methods=["POST"])
    def upload() -> Response:
        """The ``uploadUrl`` of ``disk.folder.uploadfile``: multipart, field ``file``."""
        try:
            fields = disk.read_token(emu, request.args.get("token", ""))
            if fields[0] != "u":
                raise RestError("ACCESS_DENIED", "Access denied", 403)
            member_id, key = fields[1], fields[2]
            with emu.lock:
                portal = emu.portals.get(member_id)
                session = portal.disk.uploads.get(key) if portal else None
            if portal is None or session is None:
                raise RestError("ERROR_NOT_FOUND", "Upload session not found or used", 404)
            storage = request.files.get("file") or next(iter(request.files.values()), None)
            if storage is None:
                raise RestError("ERROR_ARGUMENT", "File is not uploaded (field 'file')", 400)
            blob = disk.blob_store(emu).from_stream(storage.stream)  # streamed to disk
            name = session.get("name") or storage.filename or "file"
            try:
                with emu.lock:
                    obj = disk.add_file(emu, portal, session["folder_id"], name, blob,
                                        int(session["user_id"]), bool(session.get("unique")))
                    portal.disk.uploads.pop(key, None)
                    result = disk.object_api(emu, portal, obj)
            except RestError:
                blob.release()
                raise
        except RestError as err:
            emu.add_log(path="/rest/upload.json", method="disk.upload", status=err.status,
                        error=err.code, portal=None)
            return _error(err.code, err.description, err.status)
        emu.add_log(path="/rest/upload.json", method="disk.upload", status=200, error=None,
                    portal=member_id)
        return Response(json.dumps({"result": result}, ensure_ascii=False), status=200,
                        mimetype="application/json")
