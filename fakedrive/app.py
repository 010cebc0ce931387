"""HTTP layer of the fake: Drive v3 routes, OAuth token endpoint and the `/_fake/` control API."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, request, send_file
from werkzeug.exceptions import ClientDisconnected, HTTPException

from fakedrive.core import (
    GRANULE,
    BlobWriter,
    Fault,
    FileRec,
    Identity,
    Session,
    State,
    flag,
    new_id,
)
from fakedrive.errors import ApiError, error_body, not_found
from fakedrive.fields import FILE_DEFAULT, REVISION_DEFAULT, parse_fields, project
from fakedrive.multipart import read_multipart

PIECE = 1024 * 1024
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


class Dropped(ConnectionResetError):
    """Raised after shutting the socket so werkzeug treats the request as a dropped connection."""


def _args() -> dict[str, str]:
    return request.args.to_dict()


def _json_body() -> dict[str, Any]:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "parseError", "Parse Error") from None
    if not isinstance(body, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return body


def _file_response(rec: FileRec, fields: str | None) -> Response:
    tree = parse_fields(fields) if fields else FILE_DEFAULT
    return jsonify(project(rec.resource(), tree))


def _oauth_error(status: int, error: str, description: str) -> tuple[Response, int]:
    return jsonify({"error": error, "error_description": description}), status


class _Body:
    """Reads an upload body; drops the connection once the armed upload-byte budget is spent.

    The budget counts upload bytes across requests, so `break_upload_after(100 MiB)` cuts
    whichever chunk carries byte 100 MiB + 1.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self.stream = request.stream
        self.left = request.content_length

    def read(self, n: int) -> bytes:
        if self.left is not None:
            n = min(n, self.left)
        if n <= 0:
            return b""
        budget = self.state.break_allowance()
        if budget is not None:
            if budget <= 0:
                self.state.spend_break(0, fired=True)
                _drop(self.state)
            n = min(n, budget)
        try:
            data = self.stream.read(n)
        except ClientDisconnected:
            data = b""
        if self.left is not None:
            self.left -= len(data)
        if budget is not None:
            self.state.spend_break(len(data))
        return data

    def pump(self, count: int, sink: Callable[[bytes], None]) -> int:
        """Copy up to `count` bytes to sink; returns how many arrived."""
        done = 0
        while done < count:
            data = self.read(min(PIECE, count - done))
            if not data:
                break
            sink(data)
            done += len(data)
        return done


def _drop(state: State) -> None:
    g.entry["status"] = "dropped"
    with state.lock:
        state.counters["dropped"] += 1
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise Dropped("fakedrive dropped the connection on purpose")


def _drain() -> None:
    try:
        while request.stream.read(PIECE):
            pass
    except (ClientDisconnected, OSError):
        pass


def create_app(state: State) -> Flask:
    """Build the Flask app around a State (one app per FakeDrive)."""
    app = Flask("fakedrive")
    app.config["PROPAGATE_EXCEPTIONS"] = True  # an injected drop must reach werkzeug as is

    def count(op: str) -> None:
        with state.lock:
            state.counters[op] += 1

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> tuple[Response, int]:
        _drain()
        resp = jsonify(err.body)
        if getattr(g, "retry_after", None) is not None:
            resp.headers["Retry-After"] = str(g.retry_after)
        return resp, err.code

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Response, int]:
        _drain()
        code = err.code or 500
        return jsonify(error_body(code, None, err.description or err.name)), code

    @app.before_request
    def _before() -> Any:
        entry = {"time": time.time(), "method": request.method, "path": request.path,
                 "query": _args(), "auth": request.headers.get("Authorization"),
                 "content_range": request.headers.get("Content-Range"),
                 "content_length": request.content_length, "status": None}
        g.entry = entry
        if request.path.startswith("/_fake"):
            return None
        with state.lock:
            state.log.append(entry)
        if request.path.startswith(("/drive/", "/upload/")):
            g.who = state.authenticate(request.headers.get("Authorization"))
        fault = state.take_fault(request.method, request.path)
        if fault is not None:
            g.retry_after = fault.retry_after
            raise ApiError(fault.status, fault.reason, fault.message)
        return None

    @app.after_request
    def _after(resp: Response) -> Response:
        entry = getattr(g, "entry", None)
        if entry is not None and entry["status"] is None:
            entry["status"] = resp.status_code
        return resp

    # ---- OAuth ----------------------------------------------------------------------------

    @app.post("/token")
    def token() -> Any:
        count("token")
        form = request.form
        grant = form.get("grant_type")
        if grant == "refresh_token":
            refresh_token = form.get("refresh_token")
            if not refresh_token:
                return _oauth_error(400, "invalid_request", "Missing required parameter: "
                                    "refresh_token")
            try:
                who = state.user_for_refresh(refresh_token)
            except PermissionError:
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            access = state.issue_access(who, "refresh:" + refresh_token)
            return jsonify({"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                            "scope": form.get("scope") or DRIVE_SCOPE})
        if grant == JWT_GRANT:
            try:
                payload_b64 = form.get("assertion", "").split(".")[1]
                payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * 4))
                issuer = payload["iss"]
            except (IndexError, ValueError, KeyError, TypeError):
                return _oauth_error(400, "invalid_grant", "Invalid JWT.")
            if issuer in state.revoked_accounts:
                return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
            who = (Identity("user", payload["sub"]) if payload.get("sub")
                   else Identity("service_account", issuer))
            access = state.issue_access(who, "jwt:" + issuer)
            return jsonify({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})
        if grant == "authorization_code":
            with state.lock:
                found = state.auth_codes.pop(form.get("code", ""), None)
            if found is None:
                return _oauth_error(400, "invalid_grant", "Bad Request")
            refresh_token, redirect_uri = found
            if redirect_uri and form.get("redirect_uri") != redirect_uri:
                return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
            who = state.user_for_refresh(refresh_token)
            access = state.issue_access(who, "refresh:" + refresh_token)
            return jsonify({"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                            "refresh_token": refresh_token, "scope": DRIVE_SCOPE})
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")

    @app.get("/o/oauth2/v2/auth")
    def consent() -> Any:
        """Stand-in for Google's consent screen: approves at once and redirects with a code."""
        count("consent")
        args = _args()
        target = args.get("redirect_uri")
        if not target or not args.get("client_id") or args.get("response_type") != "code":
            return _oauth_error(400, "invalid_request", "client_id, redirect_uri and "
                                "response_type=code are required")
        sep = "&" if "?" in target else "?"
        if state.deny_consent:
            return redirect(target + sep + urlencode({"error": "access_denied",
                                                      "state": args.get("state", "")}))
        code = state.new_auth_code(redirect_uri=target)
        return redirect(target + sep + urlencode({"code": code, "state": args.get("state", ""),
                                                  "scope": args.get("scope", "")}))

    # ---- files ----------------------------------------------------------------------------

    @app.get("/drive/v3/files")
    def files_list() -> Any:
        count("files.list")
        args = _args()
        page, token = state.list(args, g.who)
        out: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False,
                               "files": page}
        if token:
            out["nextPageToken"] = token
        fields = args.get("fields")
        tree = parse_fields(fields) if fields else {
            "kind": None, "incompleteSearch": None, "nextPageToken": None,
            "files": FILE_DEFAULT}
        return jsonify(project(out, tree))

    @app.post("/drive/v3/files")
    def files_create() -> Any:
        count("files.create")
        args = _args()
        plan = state.plan(_json_body(), args, g.who)
        return _file_response(state.commit(plan, None), args.get("fields"))

    @app.get("/drive/v3/files/generateIds")
    def generate_ids() -> Any:
        count("files.generateIds")
        n = int(request.args.get("count", "10"))
        return jsonify({"kind": "drive#generatedIds", "space": "drive",
                        "ids": [new_id() for _ in range(n)]})

    @app.get("/drive/v3/files/<file_id>")
    def files_get(file_id: str) -> Any:
        args = _args()
        rec = state.get(file_id, g.who, args)
        if args.get("alt") == "media":
            count("files.download")
            return _download(rec.head, file_id)
        count("files.get")
        return _file_response(rec, args.get("fields"))

    def _download(rev: Any, file_id: str) -> Any:
        if rev is None:
            raise ApiError(403, "fileNotDownloadable",
                           "Only files with binary content can be downloaded. Use Export with "
                           "Docs Editors files.", location="alt", locationType="parameter")
        return send_file(rev.path, mimetype=rev.mime, conditional=True, etag=False,
                         max_age=None)

    @app.patch("/drive/v3/files/<file_id>")
    def files_update(file_id: str) -> Any:
        count("files.update")
        args = _args()
        body = _json_body()
        plan = state.plan(body, args, g.who, target_id=file_id)
        rec = state.get(file_id, g.who, args)
        state.move(rec, args, g.who)
        return _file_response(state.commit(plan, None), args.get("fields"))

    @app.delete("/drive/v3/files/<file_id>")
    def files_delete(file_id: str) -> Any:
        count("files.delete")
        rec = state.get(file_id, g.who, _args())
        if rec.is_root:
            raise ApiError(403, "insufficientFilePermissions", "The root cannot be deleted.")
        state.delete(rec)
        return Response(status=204)

    # ---- revisions ------------------------------------------------------------------------

    def _revision(rec: FileRec, revision_id: str) -> Any:
        if revision_id == "head" and rec.head:
            return rec.head
        for rev in rec.revisions:
            if rev.id == revision_id:
                return rev
        raise ApiError(404, "notFound", f"Revision not found: {revision_id}.",
                       location="revisionId", locationType="parameter")

    @app.get("/drive/v3/files/<file_id>/revisions")
    def revisions_list(file_id: str) -> Any:
        count("revisions.list")
        args = _args()
        rec = state.get(file_id, g.who, args)
        out = {"kind": "drive#revisionList",
               "revisions": [r.resource() for r in rec.revisions]}
        fields = args.get("fields")
        tree = parse_fields(fields) if fields else {"kind": None, "revisions": REVISION_DEFAULT}
        return jsonify(project(out, tree))

    @app.get("/drive/v3/files/<file_id>/revisions/<revision_id>")
    def revisions_get(file_id: str, revision_id: str) -> Any:
        args = _args()
        rev = _revision(state.get(file_id, g.who, args), revision_id)
        if args.get("alt") == "media":
            count("revisions.download")
            return _download(rev, file_id)
        count("revisions.get")
        fields = args.get("fields")
        return jsonify(project(rev.resource(),
                               parse_fields(fields) if fields else REVISION_DEFAULT))

    @app.delete("/drive/v3/files/<file_id>/revisions/<revision_id>")
    def revisions_delete(file_id: str, revision_id: str) -> Any:
        count("revisions.delete")
        rec = state.get(file_id, g.who, _args())
        rev = _revision(rec, revision_id)
        if len(rec.revisions) == 1:
            raise ApiError(400, "cannotDeleteOnlyRevision",
                           "The revision cannot be deleted because it is the only revision.")
        with state.lock:
            rec.revisions.remove(rev)
        return Response(status=204)

    # ---- shared drives --------------------------------------------------------------------

    @app.get("/drive/v3/drives")
    def drives_list() -> Any:
        count("drives.list")
        with state.lock:
            drives = list(state.drives.values())
        return jsonify({"kind": "drive#driveList", "drives": drives})

    @app.get("/drive/v3/drives/<drive_id>")
    def drives_get(drive_id: str) -> Any:
        count("drives.get")
        with state.lock:
            found = state.drives.get(drive_id)
        if found is None:
            raise ApiError(404, "notFound", f"Shared drive not found: {drive_id}",
                           location="driveId", locationType="parameter")
        return jsonify(found)

    # ---- uploads --------------------------------------------------------------------------

    @app.post("/upload/drive/v3/files")
    @app.patch("/upload/drive/v3/files/<file_id>")
    def upload(file_id: str | None = None) -> Any:
        args = _args()
        kind = args.get("uploadType")
        if kind == "resumable":
            count("upload.start")
            return _start_session(args, file_id)
        if kind == "multipart":
            count("upload.multipart")
            if request.mimetype != "multipart/related" or "boundary" not in \
                    request.mimetype_params:
                raise ApiError(400, "badContent", "Multipart uploads need multipart/related "
                               "with a boundary.")
            writer = BlobWriter(state.tmpdir)
            try:
                meta_raw, headers = read_multipart(_Body(state).read,
                                                   request.mimetype_params["boundary"],
                                                   writer.write)
                try:
                    body = json.loads(meta_raw) if meta_raw.strip() else {}
                except ValueError:
                    raise ApiError(400, "parseError", "Parse Error") from None
                media_mime = headers.get("content-type", "application/octet-stream")
                plan = state.plan(body, args, g.who, target_id=file_id,
                                  media_mime=media_mime, with_content=True)
                rec = state.commit(plan, writer)
            except BaseException:
                writer.discard()
                raise
            return _file_response(rec, args.get("fields"))
        if kind == "media":
            count("upload.media")
            plan = state.plan({}, args, g.who, target_id=file_id,
                              media_mime=request.mimetype or None, with_content=True)
            writer = BlobWriter(state.tmpdir)
            try:
                reader = _Body(state)
                reader.pump(request.content_length or 0, writer.write)
                rec = state.commit(plan, writer)
            except BaseException:
                writer.discard()
                raise
            return _file_response(rec, args.get("fields"))
        raise ApiError(400, "badRequest", f"Invalid uploadType: {kind}",
                       location="uploadType", locationType="parameter")

    def _start_session(args: dict[str, str], file_id: str | None) -> Any:
        body = _json_body()
        total_raw = request.headers.get("X-Upload-Content-Length")
        try:
            total = int(total_raw) if total_raw not in (None, "") else None
        except ValueError:
            raise ApiError(400, "badRequest", "Invalid X-Upload-Content-Length") from None
        mime = request.headers.get("X-Upload-Content-Type") or body.get("mimeType")
        plan = state.plan(body, args, g.who, target_id=file_id, media_mime=mime,
                          with_content=True)
        session = state.open_session(plan, total, args.get("fields"))
        query = {"uploadType": "resumable", "upload_id": session.id}
        if flag(args, "supportsAllDrives"):
            query["supportsAllDrives"] = "true"
        location = request.host_url.rstrip("/") + request.path + "?" + urlencode(query)
        return Response(status=200, headers={"Location": location,
                                             "X-GUploader-UploadID": session.id})

    @app.put("/upload/drive/v3/files")
    @app.put("/upload/drive/v3/files/<file_id>")
    def put_chunk(file_id: str | None = None) -> Any:
        count("upload.put")
        with state.lock:
            session = state.sessions.get(request.args.get("upload_id", ""))
        if session is None:
            raise ApiError(404, "notFound", "Upload session not found or expired.")
        with session.lock:
            return _chunk(session)

    def _finish(session: Session) -> Response:
        if session.result is None:
            rec = state.commit(session.plan, session.writer)
            session.result = rec.id
        with state.lock:
            rec = state.files.get(session.result)
        if rec is None:
            raise not_found(session.result)
        return _file_response(rec, session.fields)

    def _incomplete(session: Session) -> Response:
        headers = {"X-GUploader-UploadID": session.id}
        if session.received:
            headers["Range"] = f"bytes=0-{session.received - 1}"
        return Response(status=308, headers=headers)

    def _chunk(session: Session) -> Response:
        if session.result is not None:
            _drain()
            return _finish(session)
        length = request.content_length or 0
        header = request.headers.get("Content-Range")
        if header is None:
            start, end, total = 0, length - 1, str(length)
        else:
            m = _RANGE.match(header.strip())
            if not m:
                raise ApiError(400, "badContent", f"Invalid Content-Range: {header}")
            start = int(m.group(1)) if m.group(1) is not None else None
            end = int(m.group(2)) if m.group(2) is not None else None
            total = m.group(3)
        if total != "*":
            if session.total is None:
                session.total = int(total)
            elif session.total != int(total):
                raise ApiError(400, "badContent", f"Content-Range total {total} differs from "
                               f"the declared size {session.total}.")
        if start is None or end is None:  # status query: bytes */total
            _drain()
            if session.total is not None and session.received >= session.total:
                return _finish(session)
            return _incomplete(session)
        if end - start + 1 != length:
            raise ApiError(400, "badContent", f"Content-Range {header} does not match the "
                           f"body length {length}.")
        if start > session.received:
            raise ApiError(400, "badContent", f"Chunk starts at {start} but only "
                           f"{session.received} bytes were received.")
        final = session.total is not None and end + 1 == session.total
        if not final and length % GRANULE:
            raise ApiError(400, "badContent", "Non-final chunks must be a multiple of 256 KiB "
                           f"(got {length} bytes).")
        if session.total is not None and end + 1 > session.total:
            raise ApiError(400, "badContent", "Chunk goes past the declared size.")
        reader = _Body(state)
        skip = min(session.received - start, length)
        reader.pump(skip, lambda _data: None)
        reader.pump(length - skip, session.writer.write)
        session.writer.file.flush()
        if session.total is not None and session.received >= session.total:
            return _finish(session)
        return _incomplete(session)

    # ---- control API ----------------------------------------------------------------------

    @app.get("/_fake/state")
    def fake_state() -> Any:
        return jsonify(state_json(state))

    @app.get("/_fake/log")
    def fake_log() -> Any:
        with state.lock:
            return jsonify(list(state.log))

    @app.post("/_fake/fail_next")
    def fake_fail_next() -> Any:
        body = request.get_json(force=True)
        methods = body.get("methods")
        with state.lock:
            storm = body.get("seconds")  # a storm: every matching request for that long
            state.faults.append(Fault(
                remaining=10**9 if storm is not None else int(body.get("n", 1)),
                until=None if storm is None else time.time() + float(storm),
                status=int(body.get("status", 500)),
                reason=body.get("reason"), message=body.get("message"),
                methods=frozenset(m.upper() for m in methods) if methods else None,
                path=body.get("path"), after=int(body.get("after", 0)),
                retry_after=None if body.get("retry_after") is None
                else int(body["retry_after"])))
        return jsonify({"ok": True})

    @app.post("/_fake/break_upload_after")
    def fake_break() -> Any:
        body = request.get_json(force=True)
        with state.lock:
            state.breaks.extend([int(body["bytes"])] * int(body.get("times", 1)))
        return jsonify({"ok": True})

    @app.post("/_fake/corrupt_next_upload")
    def fake_corrupt() -> Any:
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.corrupt_uploads += int(body.get("n", 1))
        return jsonify({"ok": True})

    @app.post("/_fake/revoke")
    def fake_revoke() -> Any:
        body = request.get_json(force=True)
        if body.get("refresh_token"):
            state.revoke_refresh_token(body["refresh_token"])
        if body.get("service_account"):
            state.revoke_service_account(body["service_account"])
        return jsonify({"ok": True})

    @app.post("/_fake/drives")
    def fake_add_drive() -> Any:
        return jsonify({"id": state.add_shared_drive(request.get_json(force=True)["name"])})

    @app.post("/_fake/tokens")
    def fake_token() -> Any:
        body = request.get_json(silent=True) or {}
        who = Identity(body.get("kind", "user"), body.get("email", "tester@fake.test"))
        return jsonify({"access_token": state.issue_access(who, "control")})

    @app.post("/_fake/auth_codes")
    def fake_auth_code() -> Any:
        body = request.get_json(silent=True) or {}
        return jsonify({"code": state.new_auth_code(body.get("refresh_token"),
                                                    body.get("redirect_uri"))})

    @app.post("/_fake/reset_log")
    def fake_reset_log() -> Any:
        with state.lock:
            state.log.clear()
            state.counters.clear()
        return jsonify({"ok": True})

    return app


def state_json(state: State) -> dict[str, Any]:
    """Everything a demo or a test wants to look at, as JSON."""
    with state.lock:
        return {
            "files": state.snapshot(),
            "drives": list(state.drives.values()),
            "counters": dict(state.counters),
            "sessions": {s.id: {"received": s.received, "total": s.total,
                                "done": s.result is not None}
                         for s in state.sessions.values()},
            "pending_faults": [{"n": f.remaining, "status": f.status, "reason": f.reason,
                                "after": f.after, "retry_after": f.retry_after,
                                "until": f.until}
                               for f in state.faults],
            "pending_breaks": list(state.breaks),
            "revoked_refresh_tokens": len(state.revoked_refresh),
            "log_size": len(state.log),
        }
