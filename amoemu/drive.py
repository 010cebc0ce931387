"""The Files host (`drive-b.amocrm.ru`, `drive-c.kommo.com`): upload sessions, chunked
parts, file models and downloads (amocrm.md §4.10;
https://www.amocrm.ru/developers/content/files/files-api). Answers application/json."""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from amoemu.state import ApiError, uuid4

if TYPE_CHECKING:
    from amoemu.server import AmoEmulator

MAX_FILE_SIZE = 314572800  # amocrm.md §4.10: the example's max_file_size
MAX_PART_SIZE = 524288  # amocrm.md §4.10: the ru example's max_part_size


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status,
                    content_type="application/json")


def file_model(emu: AmoEmulator, base: str, f: dict[str, Any]) -> dict[str, Any]:
    """The file model (amocrm.md §4.10): uuid, version_uuid, name, sanitized_name, size,
    type, is_trashed, _links.download.href …"""
    out = {k: v for k, v in f.items() if k not in ("content", "account_id", "versions")}
    dl = f"{base}/download/{f['uuid']}/{f['version_uuid']}/{f['sanitized_name']}"
    out["_links"] = {"self": {"href": f"{base}/v1.0/files/{f['uuid']}"},
                     "download": {"href": dl}, "download_version": {"href": dl}}
    return out


def store_file(emu: AmoEmulator, account_id: int, user_id: int, name: str, content: bytes,
               content_type: str = "application/octet-stream",
               file_uuid: str | None = None) -> dict[str, Any]:
    st = emu.state
    with st.lock:
        now = st.now()
        sanitized = re.sub(r"[^\w.\-]+", "_", name) or "file"
        f = st.files.get(file_uuid or "")
        version = uuid4()
        if f is None:
            f = {"uuid": file_uuid or uuid4(), "account_id": account_id, "created_at": now,
                 "created_by": {"id": user_id, "type": "user"}, "versions": []}
            st.files[f["uuid"]] = f
        f.update({"version_uuid": version, "name": name, "sanitized_name": sanitized,
                  "size": len(content), "type": "file", "is_trashed": False,
                  "source_id": None, "updated_at": now,
                  "updated_by": {"id": user_id, "type": "user"}, "deleted_at": None,
                  "deleted_by": None, "has_multiple_versions": bool(f["versions"]),
                  "metadata": {"extension": name.rsplit(".", 1)[-1] if "." in name else "",
                               "mime_type": content_type}, "previews": [],
                  "content": content})
        f["versions"].append({"uuid": version, "size": len(content), "created_at": now,
                              "content": content})
        return f


def drive(emu: AmoEmulator, req: Request, host: str, rest: str) -> Response:
    st = emu.state
    base = req.host_url.rstrip("/") + "/" + host
    acc, user = st.check_token(req.headers.get("Authorization")) if not \
        rest.startswith("/download/") else (None, None)
    if acc is not None:
        st.count(acc, req.method, rest)
    path = rest.rstrip("/")
    with st.lock:
        if path == "/v1.0/sessions" and req.method == "POST":
            body = req.get_json(silent=True, force=True) or {}
            name, size = body.get("file_name"), body.get("file_size")
            if not name or not isinstance(size, int) or size < 0:
                raise ApiError(400, "Bad Request", "file_name and file_size are required")
            if size > MAX_FILE_SIZE:
                raise ApiError(400, "Bad Request", "File is too big")
            sid = st.next_id("session")
            token = secrets.token_urlsafe(16)
            st.sessions[token] = {"session_id": sid, "account_id": acc.id, "user_id": user.id,
                                  "file_name": name, "file_size": size,
                                  "file_uuid": body.get("file_uuid"),
                                  "content_type": body.get("content_type") or
                                  "application/octet-stream", "data": b""}
            return _json({"max_file_size": MAX_FILE_SIZE, "max_part_size": MAX_PART_SIZE,
                          "session_id": sid,
                          "upload_url": f"{base}/v1.0/sessions/upload/{token}"})
        m = re.fullmatch(r"/v1\.0/sessions/upload/([\w-]+)", path)
        if m and req.method == "POST":
            s = st.sessions.pop(m.group(1), None)
            if s is None or s["account_id"] != acc.id:
                raise ApiError(404, "Not Found", "Session not found")  # amocrm.md §4.10
            part = req.get_data()
            if len(part) > MAX_PART_SIZE:
                st.sessions[m.group(1)] = s
                raise ApiError(400, "Bad Request", "Part is bigger than max_part_size")
            s["data"] += part
            if len(s["data"]) < s["file_size"]:
                token = secrets.token_urlsafe(16)
                st.sessions[token] = s
                return _json({"session_id": s["session_id"],
                              "next_url": f"{base}/v1.0/sessions/upload/{token}"})
            f = store_file(emu, acc.id, s["user_id"], s["file_name"], s["data"],
                           s["content_type"], s["file_uuid"])
            return _json(file_model(emu, base, f))
        m = re.fullmatch(r"/v1\.0/files/([\w-]+)(/versions)?", path)
        if m and req.method == "GET":
            f = st.files.get(m.group(1))
            if f is None or f["account_id"] != acc.id:
                return Response(b"", 204)
            if m.group(2):
                return _json({"_embedded": {"versions": [
                    {"uuid": v["uuid"], "size": v["size"], "created_at": v["created_at"]}
                    for v in f["versions"]]}})
            return _json(file_model(emu, base, f))
        if path == "/v1.0/files" and req.method == "GET":
            # files-api "Получение файлов": trashed files only with filter[deleted]
            deleted = "filter[deleted]" in req.args
            rows = [file_model(emu, base, f) for f in st.files.values()
                    if f["account_id"] == acc.id and f["is_trashed"] == deleted]
            # filter[uuid]: "UUID'ы файлов, перечисленные через запятую" (the array form too)
            uu = [u for raw in req.args.getlist("filter[uuid][]") + req.args.getlist(
                "filter[uuid]") for u in raw.split(",") if u]
            if uu:
                rows = [r for r in rows if r["uuid"] in uu]
            if not rows:
                return Response(b"", 204)
            return _json({"_embedded": {"files": rows}})
        if path == "/v1.0/files" and req.method == "DELETE":
            # files-api "Удаление файлов": [{"uuid"}] → 204; the files go to the trash
            # (is_trashed, deleted_at, deleted_by of the file model; restorable)
            body = req.get_json(silent=True, force=True)
            if not isinstance(body, list) or not all(
                    isinstance(i, dict) and i.get("uuid") for i in body):
                raise ApiError(400, "Bad Request", "an array of {uuid} is required")
            for item in body:
                f = st.files.get(str(item["uuid"]))
                if f is not None and f["account_id"] == acc.id:
                    f.update({"is_trashed": True, "deleted_at": st.now(),
                              "deleted_by": {"id": user.id, "type": "user"}})
            return Response(b"", 204)
        m = re.fullmatch(r"/download/([\w-]+)/([\w-]+)/[^/]*", path)
        if m and req.method == "GET":
            # amocrm.md §10.15: whether downloads need the Bearer token is UNCONFIRMED;
            # the emulator serves them with or without it
            f = st.files.get(m.group(1))
            v = next((v for v in f["versions"] if v["uuid"] == m.group(2)), None) if f else None
            if v is None:
                raise ApiError(404, "Not Found", "File not found")
            return Response(v["content"], 200,
                            content_type=f["metadata"]["mime_type"])
    raise ApiError(404, "Not Found", "")
