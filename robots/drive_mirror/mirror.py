"""What to mirror for a deal, and mirroring one file: streamed, verified, never duplicated.

A deal's sources are its Disk folder (the deal_folders capability), its file fields and the
attachments of its activities (e-mails, open-line chats). Each file becomes its own job,
keyed by the Bitrix24 file; the version it copied is recorded, so a retry, a second
delivery or a rescan of an unchanged file uploads nothing, and a changed one a revision.
On Drive every file carries `appProperties` b24=<source key>: the record in Redis is the
fast path, the Drive search is how a run that died after uploading finds its own work.
Nothing is ever deleted on Drive: it is the archive.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from redis.exceptions import LockError

from connector.bitrix.errors import BitrixError
from connector.context import JobContext
from connector.errors import Permanent, Retryable
from connector.gdrive.errors import DrivePermanent
from robots.deal_workspace.naming import folder_name
from robots.deal_workspace.setup import Workspace, deal_values
from robots.drive_mirror import connection

log = logging.getLogger(__name__)
DOWNLOAD_CHUNK = 1024 * 1024
RECORD_TTL_S = 5 * 365 * 24 * 3600
LOCK_TTL_S = 120


@dataclass(frozen=True)
class Source:
    """One file of a deal: where it comes from and how to name it on Drive."""

    key: str  # disk:<id> | uf:<FIELD>:<id>
    disk_id: int = 0
    url: str = ""
    name: str = ""

    def as_arg(self) -> dict[str, Any]:
        return {"key": self.key, "disk_id": self.disk_id, "url": self.url, "name": self.name}


def _records(ctx: JobContext) -> str:
    return f"{ctx.services.settings.queue_prefix}:gdrive:{ctx.member_id}"


def portal_base(ctx: JobContext) -> str:
    return ctx.portal.client_endpoint.rsplit("/rest/", 1)[0] + "/"


def file_field_sources(deal: dict[str, Any]) -> list[Source]:
    out = []
    for field, value in deal.items():
        if not field.startswith("UF_CRM_"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and item.get("downloadUrl") and item.get("id"):
                out.append(Source(f"uf:{field}:{item['id']}", url=str(item["downloadUrl"]),
                                  name=f"{field.lower()}-{item['id']}"))
    return out


def activity_sources(activities: list[dict[str, Any]]) -> list[Source]:
    out = []
    for act in activities or []:
        for f in act.get("FILES") or []:
            if isinstance(f, dict) and str(f.get("id", "")).isdigit():
                out.append(Source(f"disk:{int(f['id'])}", disk_id=int(f["id"])))
    return out


def scan_deal(ctx: JobContext, deal_id: int) -> tuple[dict[str, Any] | None, list[Source]]:
    """The deal and its files, in one read batch (plus one per Disk subfolder level)."""
    cfg = ctx.settings["drive_mirror"]
    ws = Workspace(ctx.services.redis, ctx.services.settings.queue_prefix, ctx.member_id)
    folder_id = int(ws.record(deal_id).get("folder_id") or 0)
    cmds: dict[str, Any] = {"deal": ("crm.deal.get", {"id": deal_id})}
    if cfg["activities"]:
        cmds["acts"] = ("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2,
                                                         "OWNER_ID": deal_id},
                                              "select": ["ID", "FILES"]})
    if cfg["disk_folder"] and folder_id:
        cmds["disk"] = ("disk.folder.getchildren", {"id": folder_id})
    res = ctx.rest.batch(cmds)
    if "deal" in res.errors:
        return None, []
    deal = res.result["deal"]
    sources: list[Source] = []
    if cfg["file_fields"]:
        sources += file_field_sources(deal)
    if cfg["activities"]:
        sources += activity_sources(res.result.get("acts") or [])
    if "disk" in res.result:
        sources += disk_sources(ctx, res.result["disk"] or [], depth=0)
    unique = {s.key: s for s in sources}
    return deal, list(unique.values())


def disk_sources(ctx: JobContext, children: list[dict[str, Any]], depth: int) -> list[Source]:
    out = []
    for child in children:
        if int(child.get("DELETED_TYPE") or 0):
            continue
        if child.get("TYPE") == "file":
            out.append(Source(f"disk:{int(child['ID'])}", disk_id=int(child["ID"]),
                              name=str(child.get("NAME") or "")))
        elif child.get("TYPE") == "folder" and depth < 5:
            sub = ctx.rest.call("disk.folder.getchildren", {"id": int(child["ID"])}) or []
            out += disk_sources(ctx, sub, depth + 1)
    return out


def drive_folder(ctx: JobContext, store: Any, deal: dict[str, Any]) -> str:
    """The deal's Drive folder (created once, found again by its appProperties)."""
    cache = f"{_records(ctx)}:folder:{deal['ID']}"
    if hit := ctx.services.redis.get(cache):
        return hit.decode()
    cfg = ctx.settings["drive_mirror"]
    values = deal_values(deal, {}, ctx.settings["general"]["timezone"], ctx.portal.domain)
    name = folder_name(cfg["folder_name_template"], values, 200)
    parent = cfg["root_folder_id"] or cfg["shared_drive_id"] or None
    folder = store.ensure_folder(name, parent, {"b24deal": f"{ctx.member_id[:16]}:{deal['ID']}"})
    ctx.services.redis.set(cache, folder, ex=RECORD_TTL_S)
    return folder


def _filename(resp: requests.Response, fallback: str) -> str:
    disposition = resp.headers.get("Content-Disposition", "")
    match = re.search(r"filename\*=UTF-8''([^;]+)|filename=\"?([^\";]+)", disposition)
    if match:
        from urllib.parse import unquote

        return unquote(match.group(1) or match.group(2))
    return fallback


def mirror_file(ctx: JobContext, deal_id: int, source: Source) -> dict[str, Any]:
    """Copy one file to the deal's Drive folder unless this version is already there.

    One copy of a given file at a time (a per-file lock), so two file workers can never
    upload the same file twice. The lock is short-lived and renewed while bytes flow, so a
    worker killed mid-copy frees the file within a couple of minutes.
    """
    lock = ctx.services.redis.lock(f"{_records(ctx)}:lock:{source.key}",
                                   timeout=LOCK_TTL_S, blocking_timeout=5)
    if not lock.acquire():
        raise Retryable(f"{source.key} is being copied by another worker")
    try:
        return _mirror_file(ctx, deal_id, source, lock)
    finally:
        with suppress(LockError):
            lock.release()


def _renewing(chunks: Iterator[bytes], lock: Any) -> Iterator[bytes]:
    """Pass the download through, renewing the file's lock every LOCK_TTL_S / 4."""
    renewed = time.monotonic()
    for chunk in chunks:
        if time.monotonic() - renewed > LOCK_TTL_S / 4:
            lock.reacquire()
            renewed = time.monotonic()
        yield chunk


def _mirror_file(ctx: JobContext, deal_id: int, source: Source, lock: Any) -> dict[str, Any]:
    cfg = ctx.settings["drive_mirror"]
    redis = ctx.services.redis
    rec_key = f"{_records(ctx)}:file:{source.key}"
    record = json.loads(redis.get(rec_key) or "{}")
    url, name, size, version = source.url, source.name, -1, ""
    if source.disk_id:
        try:
            info = ctx.rest.call("disk.file.get", {"id": source.disk_id})
        except BitrixError as exc:
            if exc.code in ("ERROR_NOT_FOUND", "NOT_FOUND", "DISK_OBJ_22002"):
                return {"skipped": f"{source.key}: gone from Bitrix24 (kept on Drive)"}
            raise
        url, name = str(info.get("DOWNLOAD_URL") or ""), str(info.get("NAME") or name)
        size = int(info.get("SIZE") or 0)
        version = f"{info.get('UPDATE_TIME')}|{size}"
        if int(info.get("DELETED_TYPE") or 0):
            return {"skipped": f"{source.key}: in the Bitrix24 trash (kept on Drive)"}
    if not source.disk_id:
        version = source.key  # a file field's id changes whenever its file does
    if version and record.get("version") == version:
        return {"skipped": f"{source.key}: this version is already on Drive"}
    if size > cfg["max_file_mb"] * 1024 * 1024:
        reason = f"{name}: {size} bytes is over drive_mirror.max_file_mb; not mirrored"
        log.warning("portal %s deal %s: %s", ctx.member_id, deal_id, reason)
        return {"skipped": reason}
    deal = ctx.rest.call("crm.deal.get", {"id": deal_id})
    store = connection.drive_for(ctx.services, ctx.member_id, cfg["shared_drive_id"])
    folder = drive_folder(ctx, store, deal)
    props = {"b24": f"{ctx.member_id[:16]}:{source.key}"}
    existing = record.get("drive_id") or None
    if existing is None:
        found = store.find_file("b24", props["b24"], folder)
        if found is not None:
            existing = found["id"]
            if version and found.get("appProperties", {}).get("b24v") == version:
                redis.set(rec_key, json.dumps({"drive_id": existing, "version": version}),
                          ex=RECORD_TTL_S)
                return {"skipped": f"{source.key}: found on Drive (an earlier run)"}
    download = urljoin(portal_base(ctx), url)
    try:
        resp = ctx.services.session.get(download, stream=True, timeout=60)
    except requests.RequestException as exc:
        raise Retryable(f"download of {name or source.key} failed: {exc}") from exc
    with resp:
        if resp.status_code in (403, 404, 410):
            return {"skipped": f"{source.key}: download answered {resp.status_code} "
                               "(deleted or no longer shared); nothing to mirror"}
        if resp.status_code != 200:
            raise Retryable(f"download of {name or source.key}: HTTP {resp.status_code}")
        length = resp.headers.get("Content-Length")
        if length is None:
            raise Permanent(f"{source.key}: the portal sent no Content-Length")
        size = int(length)
        if size > cfg["max_file_mb"] * 1024 * 1024:
            return {"skipped": f"{source.key}: {size} bytes is over drive_mirror.max_file_mb"}
        if not source.disk_id:  # a file field: the real name comes with the download
            name = _filename(resp, source.name or source.key)
        try:
            result = store.upload_stream(
                _renewing(resp.iter_content(DOWNLOAD_CHUNK), lock), size, name, folder,
                {**props, "b24v": version or f"{size}"},
                mime=resp.headers.get("Content-Type", "application/octet-stream").split(";")[0],
                existing_file_id=existing)
        except DrivePermanent as exc:
            if exc.status == 404:  # the deal folder (or file) was removed on Drive
                redis.delete(f"{_records(ctx)}:folder:{deal_id}", rec_key)
                raise Retryable(f"{name}: its Drive folder is gone; it is recreated on retry"
                                ) from exc
            raise
    redis.set(rec_key, json.dumps({"drive_id": result["id"], "version": version or str(size)}),
              ex=RECORD_TTL_S)
    return {"mirrored": source.key, "drive_id": result["id"], "size": size,
            "revision": bool(existing)}
