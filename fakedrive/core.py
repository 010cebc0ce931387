"""The fake's state and Drive semantics, free of HTTP so the Flask layer stays thin.

Blobs live in temp files (one per revision); only metadata is kept in memory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from fakedrive.errors import ApiError, not_found
from fakedrive.query import compile_query

FOLDER = "application/vnd.google-apps.folder"
GRANULE = 256 * 1024
PROPERTY_LIMIT = 124
WRITABLE_ON_CREATE = {"id", "name", "mimeType", "parents", "appProperties", "properties",
                      "description", "starred", "modifiedTime", "originalFilename"}
WRITABLE_ON_UPDATE = WRITABLE_ON_CREATE - {"id", "parents"} | {"trashed"}


def now() -> str:
    """RFC 3339 with milliseconds, like Drive."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id() -> str:
    """A Drive-looking id (33 url-safe characters)."""
    return "1" + secrets.token_urlsafe(24)[:32]


def flag(args: dict[str, str], name: str) -> bool:
    return str(args.get(name, "false")).lower() == "true"


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to: a user (refresh token) or a service account (JWT grant)."""

    kind: str
    email: str


@dataclass
class Revision:
    id: str
    size: int
    md5: str
    sha256: str
    path: str
    mime: str
    modified: str
    original_filename: str

    def resource(self) -> dict[str, Any]:
        return {"kind": "drive#revision", "id": self.id, "mimeType": self.mime,
                "modifiedTime": self.modified, "keepForever": False, "published": False,
                "originalFilename": self.original_filename, "md5Checksum": self.md5,
                "sha256Checksum": self.sha256, "size": str(self.size)}


@dataclass
class FileRec:
    id: str
    name: str
    mime: str
    parents: list[str]
    owner: str
    created: str
    modified: str
    drive_id: str | None = None
    app_props: dict[str, str] = field(default_factory=dict)
    props: dict[str, str] = field(default_factory=dict)
    trashed: bool = False
    description: str | None = None
    starred: bool = False
    revisions: list[Revision] = field(default_factory=list)
    version: int = 1
    is_root: bool = False

    @property
    def head(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    def resource(self) -> dict[str, Any]:
        """The full Drive v3 file resource (callers project it with `fields`)."""
        out: dict[str, Any] = {
            "kind": "drive#file", "id": self.id, "name": self.name, "mimeType": self.mime,
            "parents": list(self.parents), "trashed": self.trashed, "starred": self.starred,
            "createdTime": self.created, "modifiedTime": self.modified,
            "version": str(self.version), "spaces": ["drive"],
        }
        if self.drive_id:
            out["driveId"] = self.drive_id
        else:
            out["owners"] = [{"kind": "drive#user", "emailAddress": self.owner, "me": False}]
        if self.app_props:
            out["appProperties"] = dict(self.app_props)
        if self.props:
            out["properties"] = dict(self.props)
        if self.description is not None:
            out["description"] = self.description
        head = self.head
        if head is not None:
            out.update(size=str(head.size), md5Checksum=head.md5, sha256Checksum=head.sha256,
                       headRevisionId=head.id, originalFilename=head.original_filename,
                       quotaBytesUsed=str(head.size))
        return out


class BlobWriter:
    """Appends to a temp file while hashing, so uploads cost disk, not RAM."""

    def __init__(self, directory: str) -> None:
        fd, self.path = tempfile.mkstemp(dir=directory, suffix=".blob")
        self.file: IO[bytes] = os.fdopen(fd, "wb")
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.md5.update(data)
        self.sha256.update(data)
        self.size += len(data)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


@dataclass
class Plan:
    """What an upload will create or replace once its content has fully arrived."""

    who: Identity
    metadata: dict[str, Any]
    media_mime: str
    target_id: str | None
    parent_id: str | None
    drive_id: str | None


@dataclass
class Session:
    id: str
    plan: Plan
    total: int | None
    writer: BlobWriter
    fields: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    result: str | None = None

    @property
    def received(self) -> int:
        return self.writer.size


@dataclass
class Fault:
    """One armed failure: answer `status`/`reason` to the next matching requests."""

    remaining: int
    status: int
    reason: str | None
    message: str | None = None
    methods: frozenset[str] | None = None
    path: str | None = None
    after: int = 0
    retry_after: int | None = None  # seconds, sent as Retry-After
    until: float | None = None  # a storm: every matching request fails until this time.time()

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.path is None:
            return path.startswith(("/drive/", "/upload/"))
        return self.path in path


class State:
    """Everything the fake knows; all mutation happens under one lock."""

    def __init__(self, sa_needs_shared_drive: bool = True) -> None:
        self.lock = threading.RLock()
        self.tmpdir = tempfile.mkdtemp(prefix="fakedrive-")
        self.files: dict[str, FileRec] = {}
        self.drives: dict[str, dict[str, Any]] = {}
        self.roots: dict[str, str] = {}
        self.access: dict[str, Identity] = {}
        self.access_source: dict[str, str] = {}
        self.refresh: dict[str, Identity] = {}
        self.revoked_refresh: set[str] = set()
        self.revoked_accounts: set[str] = set()
        self.auth_codes: dict[str, tuple[str, str | None]] = {}
        self.sessions: dict[str, Session] = {}
        self.faults: list[Fault] = []
        self.breaks: list[int] = []
        self.log: list[dict[str, Any]] = []
        self.counters: Counter[str] = Counter()
        self.sa_needs_shared_drive = sa_needs_shared_drive
        self.deny_consent = False
        self.corrupt_uploads = 0

    def close(self) -> None:
        for session in self.sessions.values():
            session.writer.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ---- auth -----------------------------------------------------------------------------

    def issue_access(self, who: Identity, source: str = "") -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.lock:
            self.access[token] = who
            self.access_source[token] = source
        return token

    def user_for_refresh(self, refresh_token: str) -> Identity:
        with self.lock:
            if refresh_token in self.revoked_refresh:
                raise PermissionError(refresh_token)
            who = self.refresh.get(refresh_token)
            if who is None:
                digest = hashlib.sha1(refresh_token.encode()).hexdigest()[:8]
                who = self.refresh[refresh_token] = Identity("user", f"user-{digest}@fake.test")
            return who

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """Like a user removing the app's access: refresh fails and issued tokens stop working."""
        with self.lock:
            self.revoked_refresh.add(refresh_token)
            for token, source in list(self.access_source.items()):
                if source == "refresh:" + refresh_token:
                    self.access.pop(token, None)

    def revoke_service_account(self, email: str) -> None:
        """Like deleting a service account key: its JWT grants fail with invalid_grant."""
        with self.lock:
            self.revoked_accounts.add(email)
            for token, who in list(self.access.items()):
                if who.email == email and who.kind == "service_account":
                    self.access.pop(token, None)

    def new_auth_code(self, refresh_token: str | None = None,
                      redirect_uri: str | None = None) -> str:
        code = "4/fake-" + secrets.token_urlsafe(16)
        with self.lock:
            self.auth_codes[code] = (refresh_token or "1//fake-" + secrets.token_urlsafe(24),
                                     redirect_uri)
        return code

    def authenticate(self, header: str | None) -> Identity:
        scheme, _, token = (header or "").partition(" ")
        with self.lock:
            who = self.access.get(token.strip()) if scheme.lower() == "bearer" else None
        if who is None:
            raise ApiError(401, "authError",
                           "Request had invalid authentication credentials. Expected OAuth 2 "
                           "access token, login cookie or other valid authentication "
                           "credential.", location="Authorization", locationType="header")
        return who

    # ---- faults ---------------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            now = time.time()
            self.faults = [f for f in self.faults if f.until is None or f.until > now]
            for fault in self.faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.remaining -= 1
                    self.faults = [f for f in self.faults if f.remaining > 0]
                    self.counters["faults"] += 1
                    return fault
        return None

    def break_allowance(self) -> int | None:
        """Upload bytes still allowed before the armed drop (None: nothing armed)."""
        with self.lock:
            return self.breaks[0] if self.breaks else None

    def spend_break(self, n: int, fired: bool = False) -> None:
        with self.lock:
            if self.breaks:
                self.breaks[0] -= n
                if fired:
                    self.breaks.pop(0)

    # ---- lookup ---------------------------------------------------------------------------

    def root_of(self, who: Identity) -> FileRec:
        with self.lock:
            root_id = self.roots.get(who.email)
            if root_id is None:
                stamp = now()
                rec = FileRec(id=new_id(), name="My Drive", mime=FOLDER, parents=[],
                              owner=who.email, created=stamp, modified=stamp, is_root=True)
                self.files[rec.id] = rec
                root_id = self.roots[who.email] = rec.id
            return self.files[root_id]

    def get(self, file_id: str, who: Identity, args: dict[str, str]) -> FileRec:
        """A file the caller may address (shared-drive items need supportsAllDrives=true)."""
        with self.lock:
            if file_id == "root":
                return self.root_of(who)
            rec = self.files.get(file_id)
            if rec is None or (rec.drive_id and not flag(args, "supportsAllDrives")):
                raise not_found(file_id)
            return rec

    def add_shared_drive(self, name: str) -> str:
        stamp = now()
        drive_id = "0A" + secrets.token_urlsafe(12)[:17]
        with self.lock:
            self.drives[drive_id] = {"kind": "drive#drive", "id": drive_id, "name": name,
                                     "createdTime": stamp, "hidden": False}
            self.files[drive_id] = FileRec(id=drive_id, name=name, mime=FOLDER, parents=[],
                                           owner="", created=stamp, modified=stamp,
                                           drive_id=drive_id, is_root=True)
        return drive_id

    # ---- list -----------------------------------------------------------------------------

    def list(self, args: dict[str, str], who: Identity) -> tuple[list[dict[str, Any]], str | None]:
        corpora = args.get("corpora", "user")
        drive_id = args.get("driveId")
        all_drives = flag(args, "includeItemsFromAllDrives")
        if drive_id and corpora != "drive" or corpora == "drive" and not drive_id:
            raise ApiError(400, "invalid", "The driveId parameter must be specified if and only "
                           "if corpora is set to drive.", location="driveId",
                           locationType="parameter")
        if (corpora in ("drive", "allDrives")) and not all_drives:
            raise ApiError(400, "invalid", "The includeItemsFromAllDrives parameter must be set "
                           "to true when corpora is drive or allDrives.",
                           location="includeItemsFromAllDrives", locationType="parameter")
        if (drive_id or all_drives) and not flag(args, "supportsAllDrives"):
            raise ApiError(403, "teamDrivesSupportRequired", "The supportsAllDrives parameter "
                           "must be true to list shared drive items.")
        if drive_id and drive_id not in self.drives:
            raise ApiError(404, "notFound", f"Shared drive not found: {drive_id}")
        if corpora not in ("user", "drive", "allDrives"):
            raise ApiError(400, "invalid", f"Invalid corpora: {corpora}")
        predicate = compile_query(args.get("q"), {"root": self.root_of(who).id})
        try:
            size = int(args.get("pageSize", "100"))
        except ValueError:
            raise ApiError(400, "invalid", "Invalid pageSize") from None
        if not 1 <= size <= 1000:
            raise ApiError(400, "invalid", f"Invalid value '{size}'. Values must be within the "
                           "range: [1, 1000]", location="pageSize", locationType="parameter")
        start = _decode_page_token(args.get("pageToken"))
        with self.lock:
            found = []
            for rec in self.files.values():
                if rec.is_root:
                    continue
                if corpora == "drive" and rec.drive_id != drive_id:
                    continue
                if corpora == "user" and rec.drive_id and not all_drives:
                    continue
                resource = rec.resource()
                if predicate(resource):
                    found.append(resource)
        page = found[start:start + size]
        nxt = start + size
        return page, (_encode_page_token(nxt) if nxt < len(found) else None)

    # ---- metadata -------------------------------------------------------------------------

    def _check_props(self, body: dict[str, Any]) -> None:
        for key in ("appProperties", "properties"):
            for name, value in (body.get(key) or {}).items():
                if value is None:
                    continue
                if len(name.encode()) + len(str(value).encode()) > PROPERTY_LIMIT:
                    raise ApiError(400, "invalidProperty",
                                   f"The limit for this property is {PROPERTY_LIMIT} bytes "
                                   f"(key + value): {name}", location=key,
                                   locationType="other")

    def plan(self, body: dict[str, Any], args: dict[str, str], who: Identity,
             target_id: str | None = None, media_mime: str | None = None,
             with_content: bool = False) -> Plan:
        """Validate a create/update before any content is accepted."""
        allowed = WRITABLE_ON_UPDATE if target_id else WRITABLE_ON_CREATE
        extra = set(body) - allowed
        if extra:
            raise ApiError(403, "fieldNotWritable", "The resource body includes fields which "
                           f"are not directly writable: {', '.join(sorted(extra))}")
        self._check_props(body)
        with self.lock:
            if target_id:
                target = self.get(target_id, who, args)
                if target.mime == FOLDER and with_content:
                    raise ApiError(400, "badContent", "Folders cannot have content.")
                parent_id, drive_id = None, target.drive_id
            else:
                parents = body.get("parents") or [self.root_of(who).id]
                if len(parents) != 1:
                    raise ApiError(403, "cannotAddParent",
                                   "Increasing the number of parents is not allowed.")
                parent = self.get(parents[0], who, args)
                if parent.mime != FOLDER:
                    raise ApiError(400, "invalid", f"Parent {parent.id} is not a folder.")
                parent_id, drive_id = parent.id, parent.drive_id
                if body.get("id") and body["id"] in self.files:
                    raise ApiError(409, "duplicate", "A file already exists with the provided "
                                   "ID.")
        if (with_content and who.kind == "service_account" and drive_id is None
                and self.sa_needs_shared_drive):
            raise ApiError(403, "storageQuotaExceeded",
                           "Service Accounts do not have storage quota. Leverage shared drives "
                           "(https://developers.google.com/workspace/drive/api/guides/about-"
                           "shareddrives), or use OAuth delegation instead.")
        return Plan(who=who, metadata=dict(body),
                    media_mime=media_mime or "application/octet-stream",
                    target_id=target_id, parent_id=parent_id, drive_id=drive_id)

    def commit(self, plan: Plan, blob: BlobWriter | None) -> FileRec:
        """Create the file (or add a revision) once its content is complete."""
        stamp = now()
        revision = None
        meta = plan.metadata
        if blob is not None:
            blob.close()
            with self.lock:
                corrupt = self.corrupt_uploads > 0 and blob.size > 0
                self.corrupt_uploads -= 1 if corrupt else 0
            if corrupt:
                _corrupt(blob)
            revision = Revision(id="0B" + secrets.token_urlsafe(18), size=blob.size,
                                md5=blob.md5.hexdigest(), sha256=blob.sha256.hexdigest(),
                                path=blob.path, mime=plan.media_mime, modified=stamp,
                                original_filename=meta.get("name", "Untitled"))
        with self.lock:
            if plan.target_id:
                rec = self.files.get(plan.target_id)
                if rec is None:
                    if blob is not None:
                        blob.discard()
                    raise not_found(plan.target_id)
                self._apply(rec, meta)
                if revision is not None:
                    revision.original_filename = meta.get("originalFilename", rec.name)
                    rec.revisions.append(revision)
                rec.version += 1
                rec.modified = stamp
                return rec
            mime = meta.get("mimeType") or (plan.media_mime if blob else None)
            rec = FileRec(id=meta.get("id") or new_id(), name=meta.get("name", "Untitled"),
                          mime=mime or "application/octet-stream",
                          parents=[plan.parent_id] if plan.parent_id else [],
                          owner=plan.who.email, created=stamp, modified=stamp,
                          drive_id=plan.drive_id, description=meta.get("description"),
                          starred=bool(meta.get("starred")))
            rec.app_props = {k: str(v) for k, v in (meta.get("appProperties") or {}).items()
                             if v is not None}
            rec.props = {k: str(v) for k, v in (meta.get("properties") or {}).items()
                         if v is not None}
            if revision is not None:
                rec.revisions.append(revision)
            self.files[rec.id] = rec
            return rec

    def _apply(self, rec: FileRec, meta: dict[str, Any]) -> None:
        for key, attr in (("appProperties", "app_props"), ("properties", "props")):
            target = getattr(rec, attr)
            for name, value in (meta.get(key) or {}).items():
                if value is None:
                    target.pop(name, None)
                else:
                    target[name] = str(value)
        if "name" in meta:
            rec.name = meta["name"]
        if "mimeType" in meta:
            rec.mime = meta["mimeType"]
        if "description" in meta:
            rec.description = meta["description"]
        if "trashed" in meta:
            rec.trashed = bool(meta["trashed"])
        if "starred" in meta:
            rec.starred = bool(meta["starred"])

    def move(self, rec: FileRec, args: dict[str, str], who: Identity) -> None:
        add = [p for p in args.get("addParents", "").split(",") if p]
        remove = [p for p in args.get("removeParents", "").split(",") if p]
        with self.lock:
            parents = [p for p in rec.parents if p not in remove]
            for pid in add:
                parent = self.get(pid, who, args)
                if parent.mime != FOLDER:
                    raise ApiError(400, "invalid", f"Parent {pid} is not a folder.")
                parents.append(parent.id)
            if len(parents) > 1:
                raise ApiError(403, "cannotAddParent",
                               "Increasing the number of parents is not allowed.")
            rec.parents = parents

    def delete(self, rec: FileRec) -> None:
        with self.lock:
            doomed = [rec.id]
            i = 0
            while i < len(doomed):
                doomed += [f.id for f in self.files.values() if doomed[i] in f.parents]
                i += 1
            for fid in doomed:
                gone = self.files.pop(fid, None)
                for rev in gone.revisions if gone else []:
                    with contextlib.suppress(OSError):
                        os.unlink(rev.path)

    # ---- resumable sessions ---------------------------------------------------------------

    def open_session(self, plan: Plan, total: int | None, fields: str | None) -> Session:
        session = Session(id=secrets.token_urlsafe(24), plan=plan, total=total,
                          writer=BlobWriter(self.tmpdir), fields=fields)
        with self.lock:
            self.sessions[session.id] = session
        return session

    # ---- snapshots for tests --------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """Plain dicts of every non-root file, handy for assertions."""
        with self.lock:
            out = []
            for rec in self.files.values():
                if rec.is_root:
                    continue
                head = rec.head
                out.append({
                    "id": rec.id, "name": rec.name, "mimeType": rec.mime,
                    "parents": list(rec.parents), "driveId": rec.drive_id,
                    "appProperties": dict(rec.app_props), "properties": dict(rec.props),
                    "trashed": rec.trashed, "owner": rec.owner,
                    "md5Checksum": head.md5 if head else None,
                    "size": head.size if head else None,
                    "revisions": [{"id": r.id, "md5Checksum": r.md5, "size": r.size}
                                  for r in rec.revisions],
                })
            return out


def _corrupt(blob: BlobWriter) -> None:
    """Flip the first byte on disk and rehash, as if storage had mangled the upload."""
    with open(blob.path, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))
    blob.md5, blob.sha256 = hashlib.md5(), hashlib.sha256()
    with open(blob.path, "rb") as fh:
        while piece := fh.read(1024 * 1024):
            blob.md5.update(piece)
            blob.sha256.update(piece)


def _encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "invalid", "Invalid Value", location="pageToken",
                       locationType="parameter") from None
