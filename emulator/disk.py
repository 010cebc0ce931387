"""The emulated Disk of a portal: storages, folders, files with versions, download tokens.

One object table for folders and files (as ``b_disk_object``), so their IDs share a sequence;
file versions and CRM file-field values get ``b_file`` IDs from a second sequence.
Download and upload URLs carry an HMAC-signed token with the portal, object and expiry, so a
URL works without a REST token, expires like the real one and can't be forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .blobs import Blob, BlobStore
from .errors import RestError

if TYPE_CHECKING:
    from .core import Emulator
    from .state import Portal

DELETED_NONE, DELETED_ROOT, DELETED_CHILD = 0, 3, 4
BAD_CHARS = set('/\\:*?"<>|')
MAX_NAME = 255
TASKS = ("disk_access_read", "disk_access_add", "disk_access_edit", "disk_access_full")
UPLOADED_FILES = "Uploaded files"
_store_lock = threading.Lock()


def _hex(n: int) -> str:
    return secrets.token_hex(n)


@dataclass
class Version:
    id: int
    blob: Blob
    file_id: int
    created_by: int
    create_time: float

    @property
    def size(self) -> int:
        return self.blob.size


@dataclass
class DiskObject:
    """A folder or a file (``TYPE`` folder/file) in one storage."""

    id: int
    type: str
    name: str
    storage_id: int
    parent_id: int | None
    created_by: int
    create_time: float
    update_time: float
    updated_by: int
    code: str | None = None
    deleted_type: int = DELETED_NONE
    delete_time: float | None = None
    deleted_by: int | None = None
    versions: list[Version] = field(default_factory=list)
    rights: list[dict[str, Any]] = field(default_factory=list)
    external_link: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.type == "folder"

    @property
    def head(self) -> Version:
        return self.versions[-1]


@dataclass
class BFile:
    """A ``b_file`` row: what CRM file fields point to."""

    id: int
    name: str
    blob: Blob
    content_type: str


@dataclass
class DiskState:
    storages: dict[int, dict[str, Any]] = field(default_factory=dict)
    objects: dict[int, DiskObject] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    bfiles: dict[int, BFile] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_storage_id: int = 0
    next_object_id: int = 0
    next_bfile_id: int = 0
    next_version_id: int = 0


# ------------------------------------------------------------------ plumbing
def blob_store(emu: Emulator) -> BlobStore:
    """The emulator-wide temp directory for uploaded content (created on first use)."""
    with _store_lock:
        store = getattr(emu, "_blob_store", None)
        if store is None:
            store = BlobStore()
            emu._blob_store = store  # type: ignore[attr-defined]
        return store


def _secret(emu: Emulator) -> bytes:
    with _store_lock:
        secret = getattr(emu, "_disk_secret", None)
        if secret is None:
            secret = _hex(32)
            emu._disk_secret = secret  # type: ignore[attr-defined]
        return secret.encode()


def not_found(obj_id: Any) -> RestError:
    # api-reference/disk/file/disk-file-get.md, disk/folder/disk-folder-get.md: HTTP 400
    return RestError("ERROR_NOT_FOUND", f"Could not find entity with id '{obj_id}'", 400)


def bad_param(n: int) -> RestError:
    return RestError("ERROR_ARGUMENT", f"Invalid value of parameter {{Parameter #{n}}}", 400)


def dup_name() -> RestError:
    return RestError("DISK_OBJ_22000", "A file or folder with this name already exists", 400)


def check_name(name: Any) -> str:
    """Disk's NAME validation: 1-255 chars, no ``/\\:*?"<>|``, not only dots or spaces."""
    text = "" if name is None else str(name)
    if not text.strip():
        raise RestError("ERROR_ARGUMENT", "Empty name", 400)
    if len(text) > MAX_NAME:
        raise RestError("BX_INVALID_VALUE",
                        f'Invalid value of field "NAME": must be {MAX_NAME} characters or less',
                        400)
    if any(ch in BAD_CHARS or ord(ch) < 32 for ch in text) or not text.strip(". "):
        raise RestError("BX_INVALID_VALUE",
                        'Invalid value of field "NAME": the name contains invalid characters',
                        400)
    return text


# ------------------------------------------------------------------ storages
def _new_object(
    emu: Emulator, portal: Portal, kind: str, name: str, storage_id: int, parent_id: int | None,
    user_id: int,
) -> DiskObject:
    d = portal.disk
    d.next_object_id += 1
    now = emu.now()
    obj = DiskObject(id=d.next_object_id, type=kind, name=name, storage_id=storage_id,
                     parent_id=parent_id, created_by=user_id, create_time=now, update_time=now,
                     updated_by=user_id)
    d.objects[obj.id] = obj
    if parent_id is not None:
        d.children.setdefault(parent_id, []).append(obj.id)
    return obj


def _new_storage(
    emu: Emulator, portal: Portal, entity_type: str, entity_id: str, name: str,
    user_id: int, code: str | None = None,
) -> dict[str, Any]:
    d = portal.disk
    d.next_storage_id += 1
    sid = d.next_storage_id
    root = _new_object(emu, portal, "folder", name, sid, None, user_id)
    row = {"ID": str(sid), "NAME": name, "CODE": code, "MODULE_ID": "disk",
           "ENTITY_TYPE": entity_type, "ENTITY_ID": entity_id, "ROOT_OBJECT_ID": str(root.id)}
    d.storages[sid] = row
    return row


def ensure_storages(emu: Emulator, portal: Portal) -> None:
    """The common drive plus a storage per user; new users get theirs on first Disk use."""
    d = portal.disk
    have = {(s["ENTITY_TYPE"], s["ENTITY_ID"]) for s in d.storages.values()}
    if ("common", "shared_files_s1") not in have:
        _new_storage(emu, portal, "common", "shared_files_s1", "Shared drive",
                     portal.admin_user_id, code=None)
    for uid, user in sorted(portal.users.items()):
        if ("user", str(uid)) not in have:
            name = f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}".strip() or f"User {uid}"
            _new_storage(emu, portal, "user", str(uid), name, uid)


def common_storage(emu: Emulator, portal: Portal) -> dict[str, Any]:
    ensure_storages(emu, portal)
    return next(s for s in portal.disk.storages.values() if s["ENTITY_TYPE"] == "common")


def user_storage(emu: Emulator, portal: Portal, user_id: int) -> dict[str, Any]:
    ensure_storages(emu, portal)
    for s in portal.disk.storages.values():
        if s["ENTITY_TYPE"] == "user" and s["ENTITY_ID"] == str(user_id):
            return s
    raise not_found(user_id)


def app_storage(emu: Emulator, portal: Portal, user_id: int) -> dict[str, Any]:
    """``disk.storage.getForApp``: the app's own storage, created once."""
    ensure_storages(emu, portal)
    app_id = emu.config.client_id
    for s in portal.disk.storages.values():
        if s["ENTITY_TYPE"] == "restapp" and s["ENTITY_ID"] == app_id:
            return s
    return _new_storage(emu, portal, "restapp", app_id, app_id, user_id)


def get_storage(emu: Emulator, portal: Portal, storage_id: Any) -> dict[str, Any]:
    ensure_storages(emu, portal)
    try:
        sid = int(str(storage_id))
    except (TypeError, ValueError):
        raise bad_param(0) from None
    row = portal.disk.storages.get(sid)
    if row is None:
        raise not_found(storage_id)
    return row


# ------------------------------------------------------------------ objects
def get_object(portal: Portal, obj_id: Any, kind: str | None = None) -> DiskObject:
    try:
        oid = int(str(obj_id))
    except (TypeError, ValueError):
        raise bad_param(0) from None
    obj = portal.disk.objects.get(oid)
    if obj is None or (kind is not None and obj.type != kind):
        raise not_found(obj_id)
    return obj


def live_children(portal: Portal, folder_id: int) -> list[DiskObject]:
    objs = portal.disk.objects
    return [objs[i] for i in portal.disk.children.get(folder_id, ())
            if i in objs and objs[i].deleted_type == DELETED_NONE]


def find_child(portal: Portal, folder_id: int, name: str) -> DiskObject | None:
    """Names are unique per folder, case-insensitively, among objects not in the trash."""
    key = name.casefold()
    return next((o for o in live_children(portal, folder_id) if o.name.casefold() == key), None)


def unique_name(portal: Portal, folder_id: int, name: str) -> str:
    """``generateUniqueName``: "report.pdf" → "report (1).pdf", "report (2).pdf", ..."""
    if find_child(portal, folder_id, name) is None:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 1
    while True:
        cand = f"{stem} ({n})" + (f".{ext}" if ext else "")
        if find_child(portal, folder_id, cand) is None:
            return cand
        n += 1


def _writable_folder(portal: Portal, folder_id: Any) -> DiskObject:
    folder = get_object(portal, folder_id, "folder")
    if folder.deleted_type != DELETED_NONE:
        raise not_found(folder_id)
    return folder


def add_folder(
    emu: Emulator, portal: Portal, parent_id: Any, name: Any, user_id: int
) -> DiskObject:
    parent = _writable_folder(portal, parent_id)
    text = check_name(name)
    if find_child(portal, parent.id, text) is not None:
        raise dup_name()
    obj = _new_object(emu, portal, "folder", text, parent.storage_id, parent.id, user_id)
    parent.update_time = obj.create_time
    return obj


def _new_version(emu: Emulator, portal: Portal, blob: Blob, user_id: int) -> Version:
    d = portal.disk
    d.next_version_id += 1
    d.next_bfile_id += 1
    return Version(id=d.next_version_id, blob=blob, file_id=d.next_bfile_id,
                   created_by=user_id, create_time=emu.now())


def add_file(
    emu: Emulator, portal: Portal, parent_id: Any, name: Any, blob: Blob, user_id: int,
    unique: bool = False,
) -> DiskObject:
    parent = _writable_folder(portal, parent_id)
    text = check_name(name)
    if find_child(portal, parent.id, text) is not None:
        if not unique:
            raise dup_name()
        text = unique_name(portal, parent.id, text)
    obj = _new_object(emu, portal, "file", text, parent.storage_id, parent.id, user_id)
    obj.versions.append(_new_version(emu, portal, blob, user_id))
    parent.update_time = obj.create_time
    return obj


def add_version(emu: Emulator, portal: Portal, file_id: Any, blob: Blob, user_id: int
                ) -> DiskObject:
    """``disk.file.uploadversion``: same ID, new content, SIZE and UPDATE_TIME."""
    obj = get_object(portal, file_id, "file")
    if obj.deleted_type != DELETED_NONE:
        raise not_found(file_id)
    ver = _new_version(emu, portal, blob, user_id)
    obj.versions.append(ver)
    obj.update_time = max(ver.create_time, obj.update_time + 1e-6)
    obj.updated_by = user_id
    return obj


def rename(emu: Emulator, portal: Portal, obj: DiskObject, new_name: Any, user_id: int) -> None:
    if obj.parent_id is None:
        raise RestError("DISK_OBJ_22000", "Could not rename root folder", 400)
    text = check_name(new_name)
    other = find_child(portal, obj.parent_id, text)
    if other is not None and other.id != obj.id:
        raise dup_name()
    obj.name = text
    obj.update_time = emu.now()
    obj.updated_by = user_id


def _subtree(portal: Portal, obj: DiskObject) -> list[DiskObject]:
    out = [obj]
    objs = portal.disk.objects
    for cid in list(portal.disk.children.get(obj.id, ())):
        if cid in objs:
            out.extend(_subtree(portal, objs[cid]))
    return out


def mark_deleted(emu: Emulator, portal: Portal, obj: DiskObject, user_id: int) -> None:
    """Move to the trash: the object gets DELETED_TYPE 3, its descendants 4."""
    if obj.parent_id is None:
        raise RestError("DISK_OBJ_22000", "Could not delete root folder", 400)
    now = emu.now()
    for o in _subtree(portal, obj):
        if o.deleted_type == DELETED_NONE:
            o.deleted_type = DELETED_ROOT if o is obj else DELETED_CHILD
            o.delete_time = now
            o.deleted_by = user_id


def restore(emu: Emulator, portal: Portal, obj: DiskObject, user_id: int) -> None:
    """Back from the trash; a name taken meanwhile gets a " (1)" suffix."""
    if obj.deleted_type == DELETED_NONE:
        return
    for o in _subtree(portal, obj):
        if o.deleted_type in (DELETED_ROOT, DELETED_CHILD) and (o is obj or o.deleted_type == 4):
            o.deleted_type = DELETED_NONE
            o.delete_time = None
            o.deleted_by = None
    if obj.parent_id is not None:
        others = [o for o in live_children(portal, obj.parent_id) if o.id != obj.id]
        if any(o.name.casefold() == obj.name.casefold() for o in others):
            obj.name = unique_name(portal, obj.parent_id, obj.name)
    obj.update_time = emu.now()
    obj.updated_by = user_id


def destroy(emu: Emulator, portal: Portal, obj: DiskObject) -> None:
    """Permanent delete (``disk.file.delete`` / ``disk.folder.deletetree``)."""
    if obj.parent_id is None:
        raise RestError("DISK_OBJ_22000", "Could not delete root folder", 400)
    d = portal.disk
    for o in _subtree(portal, obj):
        d.objects.pop(o.id, None)
        d.children.pop(o.id, None)
    siblings = d.children.get(obj.parent_id)
    if siblings and obj.id in siblings:
        siblings.remove(obj.id)


# ------------------------------------------------------------------ URLs and tokens
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(emu: Emulator, payload: str) -> str:
    body = _b64(payload.encode())
    sig = hmac.new(_secret(emu), body.encode(), hashlib.sha256).hexdigest()[:40]
    return f"disk|{body}|{sig}"


def read_token(emu: Emulator, token: str) -> list[str]:
    """The payload fields of a token made here, or 403 for anything forged or expired."""
    parts = (token or "").split("|")
    denied = RestError("ACCESS_DENIED", "Access denied", 403)
    if len(parts) != 3 or parts[0] != "disk":
        raise denied
    expect = hmac.new(_secret(emu), parts[1].encode(), hashlib.sha256).hexdigest()[:40]
    if not hmac.compare_digest(expect, parts[2]):
        raise denied
    try:
        fields = _unb64(parts[1]).decode().split(":")
        expires = float(fields[-1])
    except (ValueError, UnicodeDecodeError):
        raise denied from None
    if expires <= emu.now():
        raise RestError("ACCESS_DENIED", "Access denied: the link has expired", 403)
    return fields[:-1]


def link_ttl(emu: Emulator) -> float:
    return float(emu.config.token_ttl)


def download_url(
    emu: Emulator, portal: Portal, kind: str, obj_id: int, ttl: float | None = None,
    extra: str = "",
) -> str:
    """``kind`` f = Disk file, b = b_file (CRM file field); valid ``ttl`` seconds (1 h)."""
    expires = emu.now() + (link_ttl(emu) if ttl is None else ttl)
    token = make_token(emu, f"{kind}:{portal.member_id}:{obj_id}:{extra}:{expires:.3f}")
    return f"{emu.url}/rest/download.json?auth={_hex(16)}&token={quote(token, safe='')}"


def upload_url(emu: Emulator, portal: Portal, session: dict[str, Any], access_token: str
               ) -> str:
    """The ``uploadUrl`` of a two-step upload: on the portal's own address, with the caller's
    access token as ``auth`` (the sample in api-reference/disk/folder/disk-folder-upload-file.md
    carries the same ``auth`` as the DOWNLOAD_URL of that caller), so the POST is the caller's
    REST request and fails like one when that token has expired."""
    key = _hex(12)
    portal.disk.uploads[key] = session
    token = make_token(emu, f"u:{portal.member_id}:{key}::{emu.now() + link_ttl(emu):.3f}")
    base = (portal.rest_base or emu.url).rstrip("/")
    return (f"{base}/rest/upload.json?auth={quote(access_token, safe='')}"
            f"&token={quote(token, safe='')}")


# ------------------------------------------------------------------ API shapes
def _path(portal: Portal, obj: DiskObject) -> str:
    names: list[str] = []
    node: DiskObject | None = obj
    objs = portal.disk.objects
    while node is not None and node.parent_id is not None:
        names.append(node.name)
        node = objs.get(node.parent_id)
    return "/".join(reversed(names))


def detail_url(portal: Portal, obj: DiskObject) -> str:
    """The portal UI link (``/docs/path/...`` for the shared drive, as the real portal)."""
    storage = portal.disk.storages.get(obj.storage_id, {})
    etype = storage.get("ENTITY_TYPE")
    if etype == "user":
        base = f"https://{portal.domain}/company/personal/user/{storage['ENTITY_ID']}/disk"
    elif etype == "restapp":
        base = f"https://{portal.domain}/disk/app/{obj.storage_id}"
    else:
        base = f"https://{portal.domain}/docs"
    return f"{base}/{'file' if obj.type == 'file' else 'path'}/{_path(portal, obj)}"


# The Disk module answers the same fields with different PHP types depending on the method;
# the docs' samples: disk.folder.uploadfile (api-reference/disk/folder/disk-folder-upload-file.md)
# ID 9011, DELETED_TYPE 0, GLOBAL_CONTENT_VERSION 1, FILE_ID 32877 (numbers), DELETED_BY null;
# disk.file.uploadversion (api-reference/disk/file/disk-file-upload-version.md) ID "9043",
# DELETED_TYPE "0", FILE_ID "32987" (strings), GLOBAL_CONTENT_VERSION 7 (a number),
# DELETED_BY "0"; neither prints REAL_OBJECT_ID (only folders' answers do). Other methods
# keep the emulator's long-standing shape.
SHAPES: dict[str, dict[str, type]] = {
    "upload": {"ID": int, "DELETED_TYPE": int, "GLOBAL_CONTENT_VERSION": int, "FILE_ID": int},
    "version": {"ID": str, "DELETED_TYPE": str, "GLOBAL_CONTENT_VERSION": int, "FILE_ID": str,
                "DELETED_BY": str},
}


def object_api(emu: Emulator, portal: Portal, obj: DiskObject, shape: str = "") -> dict[str, Any]:
    """A folder or file as ``disk.folder.get`` / ``disk.file.get`` return it; `shape` "upload"
    or "version" types the fields as those methods' answers do (SHAPES)."""
    out: dict[str, Any] = {
        "ID": obj.id, "NAME": obj.name, "CODE": obj.code, "STORAGE_ID": str(obj.storage_id),
        "TYPE": obj.type, "REAL_OBJECT_ID": obj.id,
        "PARENT_ID": None if obj.parent_id is None else str(obj.parent_id),
        "DELETED_TYPE": obj.deleted_type,
    }
    if obj.type == "file":
        head = obj.head
        out.update({"GLOBAL_CONTENT_VERSION": str(len(obj.versions)),
                    "FILE_ID": str(head.file_id), "SIZE": str(head.size)})
    out.update({
        "CREATE_TIME": emu.iso(obj.create_time), "UPDATE_TIME": emu.iso(obj.update_time),
        "DELETE_TIME": None if obj.delete_time is None else emu.iso(obj.delete_time),
        "CREATED_BY": str(obj.created_by), "UPDATED_BY": str(obj.updated_by),
        "DELETED_BY": None if obj.deleted_by is None else str(obj.deleted_by),
    })
    if obj.type == "file":
        out["DOWNLOAD_URL"] = download_url(emu, portal, "f", obj.id)
    out["DETAIL_URL"] = detail_url(portal, obj)
    if shape in SHAPES:
        out.pop("REAL_OBJECT_ID", None)
    for name, kind in SHAPES.get(shape, {}).items():
        if name == "DELETED_BY" and out[name] is None:
            out[name] = "0"
        elif out.get(name) is not None:
            out[name] = kind(out[name])
    return out


def apply_rights(obj: DiskObject, raw: Any) -> None:
    """``rights`` of an upload: [{"TASK_ID": 42, "ACCESS_CODE": "U35"}, …]
    (api-reference/disk/folder/disk-folder-upload-file.md)."""
    rows = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    for row in rows:
        if not isinstance(row, dict):
            continue
        row = {str(k).upper(): v for k, v in row.items()}
        if row.get("ACCESS_CODE"):
            obj.rights.append({"ACCESS_CODE": str(row["ACCESS_CODE"]),
                               "TASK_ID": str(row.get("TASK_ID") or "")})


def version_api(emu: Emulator, portal: Portal, obj: DiskObject, ver: Version) -> dict[str, Any]:
    return {
        "ID": ver.id, "OBJECT_ID": obj.id, "SIZE": str(ver.size), "NAME": obj.name,
        "CREATE_TIME": emu.iso(ver.create_time), "CREATED_BY": str(ver.created_by),
        "GLOBAL_CONTENT_VERSION": str(obj.versions.index(ver) + 1),
        "DOWNLOAD_URL": download_url(emu, portal, "v", obj.id, extra=str(ver.id)),
    }


# ------------------------------------------------------------------ CRM files
def add_bfile(portal: Portal, name: str, blob: Blob, content_type: str = "") -> BFile:
    import mimetypes

    d = portal.disk
    d.next_bfile_id += 1
    ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    rec = BFile(id=d.next_bfile_id, name=name, blob=blob, content_type=ctype)
    d.bfiles[rec.id] = rec
    return rec


def decode_file_content(value: Any) -> tuple[str, bytes]:
    """``[name, base64]`` (or ``{"0": name, "1": base64}``) → (name, bytes)."""
    if isinstance(value, dict):
        value = [value.get("0", value.get("name")), value.get("1", value.get("content"))]
    if not isinstance(value, list | tuple) or len(value) < 2 or not value[0]:
        raise RestError("ERROR_ARGUMENT", "Invalid value of parameter {fileContent}", 400)
    try:
        data = base64.b64decode(str(value[1]), validate=False)
    except (ValueError, TypeError):
        raise RestError("ERROR_ARGUMENT", "fileContent is not valid base64", 400) from None
    return str(value[0]), data


def uploaded_files_folder(emu: Emulator, portal: Portal, user_id: int) -> DiskObject:
    """The user's "Uploaded files" folder, where attachments sent through CRM land."""
    storage = user_storage(emu, portal, user_id)
    root = int(storage["ROOT_OBJECT_ID"])
    found = find_child(portal, root, UPLOADED_FILES)
    if found is not None and found.is_folder:
        return found
    return add_folder(emu, portal, root, UPLOADED_FILES, user_id)


def tree(emu: Emulator, portal: Portal, obj: DiskObject, deleted: bool = True) -> dict[str, Any]:
    """A folder with everything under it (control API, tests)."""
    node: dict[str, Any] = {"id": obj.id, "name": obj.name, "type": obj.type,
                            "storage_id": obj.storage_id, "parent_id": obj.parent_id,
                            "deleted_type": obj.deleted_type}
    if obj.is_folder:
        objs = portal.disk.objects
        kids = [objs[i] for i in portal.disk.children.get(obj.id, ()) if i in objs]
        node["children"] = [tree(emu, portal, k, deleted) for k in kids
                            if deleted or k.deleted_type == DELETED_NONE]
    else:
        node.update({"size": obj.head.size, "versions": len(obj.versions),
                     "content": obj.head.blob.kind})
    return node

