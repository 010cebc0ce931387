"""What to mirror for a deal, and mirroring one file: streamed, verified, never duplicated.

A deal's sources are its Disk folder (the deal_workspace capability's published
`deal_folder` service), its file fields and the attachments of its activities (e-mails,
open-line chats). Each file becomes its own job, keyed by the CRM's file; the version it
copied is recorded, so a retry, a second delivery or a rescan of an unchanged file uploads
nothing, and a changed one a revision. On Drive every file carries `appProperties`
src=<crm>:<account>:<source key> (files mirrored before carry b24=<account>:<key>, and are
found by that too): the record in Redis is the fast path, the Drive search is how a run
that died after uploading finds its own work. Nothing is ever deleted on Drive: it is the
archive.
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

import requests
from redis.exceptions import LockError

from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import Permanent, Retryable
from connector.gdrive.errors import DrivePermanent
from connector.once import once
from connector.templating import folder_name, item_values
from robots.drive_mirror import connection

log = logging.getLogger(__name__)
DOWNLOAD_CHUNK = 1024 * 1024
RECORD_TTL_S = 5 * 365 * 24 * 3600
ON_DRIVE = "files-on-drive"  # a sorted set: each copied file's key, scored by its record's end


def keep_record(ctx: JobContext, source_key: str, drive_id: str, version: str) -> None:
    """A file is on Drive: its record (what was copied, so it is not copied again) and its
    place in the portal's count of copied files (the admin's Drive page reads ZCOUNT, never
    a scan of the keyspace)."""
    until = time.time() + RECORD_TTL_S
    with ctx.redis.pipeline() as pipe:
        pipe.set(ctx.key("file", source_key), json.dumps({"drive_id": drive_id,
                                                          "version": version}),
                 ex=RECORD_TTL_S)
        pipe.zadd(ctx.key(ON_DRIVE), {source_key: until})
        pipe.expire(ctx.key(ON_DRIVE), RECORD_TTL_S)
        pipe.execute()


def on_drive_count(ctx: JobContext) -> int:
    """How many files have a live record of their copy on Drive."""
    redis, where = ctx.redis, ctx.key(ON_DRIVE)
    if not redis.exists(where):  # records from before the count existed: once, by a scan
        prefix = ctx.key("file", "")
        found = {k.decode()[len(prefix):]: time.time() + max(redis.ttl(k), 0)
                 for k in redis.scan_iter(match=ctx.key("file", "*"), count=1000)}
        if not found:
            return 0
        redis.zadd(where, found)
    redis.zremrangebyscore(where, "-inf", time.time())
    return int(redis.zcard(where))
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


def _tag(ctx: JobContext, key: str) -> str:
    """The CRM-neutral appProperties value naming a source (or a deal) on Drive."""
    return f"{ctx.tenant.crm}:{ctx.tenant.account[:16]}:{key}"


def _old_tag(ctx: JobContext, key: str) -> str:
    """How files mirrored before the CRM port were tagged (b24=<member16>:<key>)."""
    return f"{ctx.tenant.account[:16]}:{key}"


def attachment_sources(deal: crm.Item) -> list[Source]:
    return [Source(f"uf:{a.field}:{a.id}", url=a.url, name=f"{a.field.lower()}-{a.id}")
            for a in deal.attachments]


def activity_sources(activities: list[dict[str, Any]]) -> list[Source]:
    return [Source(f"disk:{fid}", disk_id=fid) for act in activities or []
            for fid in act.get("files") or []]


def _folder_of(ctx: JobContext, deal_id: int) -> int:
    service = ctx.service("deal_folder")
    return int(service(ctx, deal_id) or 0) if service else 0


def scan_queries(ctx: JobContext, event: Any) -> dict[str, crm.Query]:
    """The deal, its activities and its Disk folder's entries: read once per delivery.

    A new deal's Disk folder is left out: the app is making it right now, empty, and the
    echo of that change (deal.updated) scans it. So the answer does not depend on which
    subscriber of the delivery ran first.
    """
    return deal_queries(ctx, event.ref.id, disk=event.name != "deal.created")


def deal_queries(ctx: JobContext, deal_id: int, disk: bool = True) -> dict[str, crm.Query]:
    cfg = ctx.settings["drive_mirror"]
    out: dict[str, crm.Query] = {"deal": crm.GetItem(crm.ItemRef("deal", deal_id))}
    if cfg["activities"]:
        out["acts"] = crm.ItemActivities(crm.ItemRef("deal", deal_id))
    folder_id = _folder_of(ctx, deal_id) if cfg["disk_folder"] and disk else 0
    if folder_id:
        out["disk"] = crm.FolderChildren(folder_id)
    return out


def scan_deal(ctx: JobContext, deal_id: int, reading: crm.Reading | None = None,
              disk: bool = True) -> tuple[crm.Item | None, list[Source]]:
    """The deal and its files, in one read (plus one per Disk subfolder level)."""
    cfg = ctx.settings["drive_mirror"]
    wanted = deal_queries(ctx, deal_id, disk)
    if reading is None or any(not reading.ok(k) and k not in reading.errors for k in wanted):
        reading = ctx.crm.read(wanted)
    try:
        deal: crm.Item = reading.get("deal")
    except crm.NotFound:
        return None, []
    sources: list[Source] = []
    if cfg["file_fields"]:
        sources += attachment_sources(deal)
    if cfg["activities"] and reading.ok("acts"):
        sources += activity_sources(reading.get("acts"))
    if reading.ok("disk"):
        sources += [Source(f"disk:{f.id}", disk_id=f.id, name=f.name)
                    for f in ctx.crm.walk(reading.get("disk"), 5)]
    unique = {s.key: s for s in sources}
    return deal, list(unique.values())


def _folder_key(ctx: JobContext, deal_id: int) -> str:
    return ctx.key("folder", deal_id)


def drive_folder_of(ctx: JobContext, deal_id: int) -> str:
    raw = ctx.redis.get(_folder_key(ctx, deal_id))
    return raw.decode() if raw else ""


def drive_folder(ctx: JobContext, store: Any, deal: crm.Item) -> str:
    """The deal's Drive folder: created once under a per-deal lock (the deal's file jobs run
    side by side, and Drive itself lets two folders of one name exist), found again by its
    appProperties."""
    def make() -> str:
        cfg = ctx.settings["drive_mirror"]
        values = item_values(deal, ctx.tz, ctx.crm.item_link(deal.ref))
        name = folder_name(cfg["folder_name_template"], values, 200)
        parent = cfg["root_folder_id"] or cfg["shared_drive_id"] or None
        folder = store.find_folder("b24deal", _old_tag(ctx, str(deal.ref.id)), parent) or \
            store.ensure_folder(name, parent, {"srcdeal": _tag(ctx, str(deal.ref.id))})
        ctx.redis.set(_folder_key(ctx, deal.ref.id), folder, ex=RECORD_TTL_S)
        return folder

    return once(ctx.redis, ctx.key("lock", "folder", deal.ref.id),
                lambda: drive_folder_of(ctx, deal.ref.id), make)


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
    upload the same file twice. The lock is renewed while bytes flow and names its worker
    (connector.liveness), so the lock of a worker killed mid-copy is broken by the retry.
    """
    lock = ctx.redis.lock(ctx.key("lock", source.key), timeout=LOCK_TTL_S,
                          blocking_timeout=5)
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
    redis = ctx.redis
    rec_key = ctx.key("file", source.key)
    record = json.loads(redis.get(rec_key) or "{}")
    url, name, size, version = source.url, source.name, -1, ""
    if source.disk_id:
        try:
            info = ctx.crm.file(source.disk_id)
        except crm.NotFound:
            return {"skipped": f"{source.key}: gone from the CRM (kept on Drive)"}
        url, name, size, version = info.download_url, info.name or name, info.size, info.version
        if info.deleted:
            return {"skipped": f"{source.key}: in the CRM's trash (kept on Drive)"}
    else:
        version = source.key  # a file field's id changes whenever its file does
    if version and record.get("version") == version:
        return {"skipped": f"{source.key}: this version is already on Drive", "on_drive": True,
                "name": name}
    if size > cfg["max_file_mb"] * 1024 * 1024:
        reason = f"{name}: {size} bytes is over drive_mirror.max_file_mb; not mirrored"
        log.warning("portal %s deal %s: %s", ctx.member_id, deal_id, reason)
        return {"skipped": reason, "too_large_mb": cfg["max_file_mb"], "name": name}
    try:
        deal = ctx.crm.item(crm.ItemRef("deal", deal_id))
    except crm.NotFound:
        return {"skipped": f"deal {deal_id} is gone; {source.key} not mirrored"}
    store = connection.drive_for(ctx.services, ctx.tenant, cfg["shared_drive_id"])
    folder = drive_folder(ctx, store, deal)
    props = {"src": _tag(ctx, source.key)}
    existing = record.get("drive_id") or None
    if existing is None:
        found = store.find_file("src", props["src"], folder) or store.find_file(
            "b24", _old_tag(ctx, source.key), folder)
        if found is not None:
            existing = found["id"]
            tags = found.get("appProperties", {})
            if version and version in (tags.get("srcv"), tags.get("b24v")):
                keep_record(ctx, source.key, existing, version)
                return {"skipped": f"{source.key}: found on Drive (an earlier run)",
                        "on_drive": True, "name": name}
    try:
        resp = ctx.crm.download(url, size if size >= 0 else None)
    except requests.RequestException as exc:
        raise Retryable(f"download of {name or source.key} failed: {exc}") from exc
    except crm.NotFound:
        return {"skipped": f"{source.key}: the CRM no longer serves it; nothing to mirror"}
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
            return {"skipped": f"{source.key}: {size} bytes is over drive_mirror.max_file_mb",
                    "too_large_mb": cfg["max_file_mb"], "name": name}
        if not source.disk_id:  # a file field: the real name comes with the download
            name = _filename(resp, source.name or source.key)
        try:
            result = store.upload_stream(
                _renewing(resp.iter_content(DOWNLOAD_CHUNK), lock), size, name, folder,
                {**props, "srcv": version or f"{size}"},
                mime=resp.headers.get("Content-Type", "application/octet-stream").split(";")[0],
                existing_file_id=existing)
        except DrivePermanent as exc:
            if exc.status == 404:  # the deal folder (or file) was removed on Drive
                redis.delete(_folder_key(ctx, deal_id), rec_key)
                redis.zrem(ctx.key(ON_DRIVE), source.key)
                raise Retryable(f"{name}: its Drive folder is gone; it is recreated on retry"
                                ) from exc
            raise
    keep_record(ctx, source.key, result["id"], version or str(size))
    return {"mirrored": source.key, "drive_id": result["id"], "size": size,
            "revision": bool(existing), "name": name}
