"""Drive primitives the mirror feature calls: idempotent folders, lookups, streamed uploads.

Idempotency rests on `appProperties` (private to our OAuth client): look up first, create with
the same properties otherwise. Uploads are resumable and fed from a non-seekable byte stream,
keeping only the chunk in flight in memory, and are verified against Drive's size and MD5.
Every Google/transport failure leaves as `Retryable` or `Permanent` (see errors.py).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest, MediaUpload

from connector.errors import ConnectorError, Retryable
from connector.gdrive.errors import (
    ChecksumMismatch,
    DriveRetryable,
    StreamSizeMismatch,
    classify,
    translated,
)
from connector.retry import RetryPolicy

log = logging.getLogger(__name__)

FOLDER_MIME = "application/vnd.google-apps.folder"
GRANULE = 256 * 1024  # Drive wants every non-final chunk to be a multiple of this
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_MIME = "application/octet-stream"
FILE_FIELDS = ("id,name,mimeType,parents,size,md5Checksum,appProperties,headRevisionId,"
               "createdTime,modifiedTime")


def q_literal(value: str) -> str:
    """A quoted string for Drive's `q` (backslash and single quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def app_props_query(app_props: Mapping[str, str]) -> list[str]:
    return [f"appProperties has {{ key={q_literal(k)} and value={q_literal(str(v))} }}"
            for k, v in sorted(app_props.items())]


def _normalize(item: dict[str, Any]) -> dict[str, Any]:
    """Drive sends `size` as a string; callers compare numbers."""
    out = dict(item)
    if out.get("size") is not None:
        out["size"] = int(out["size"])
    out.setdefault("appProperties", {})
    return out


class UploadRestartNeeded(DriveRetryable):
    """Drive asked for bytes already dropped from memory: the upload must start over."""


class StreamMedia(MediaUpload):
    """A resumable MediaUpload over a one-pass byte iterator.

    googleapiclient asks for `getbytes(offset, chunksize)` in increasing order; only the bytes
    from the last confirmed offset on are kept, so a chunk can be re-sent after a failure
    (also from the middle, when Drive confirmed part of it) without ever re-reading the source.
    """

    def __init__(self, chunks: Iterable[bytes], size: int, mimetype: str,
                 chunksize: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._size = size
        self._mimetype = mimetype
        self._chunksize = chunksize
        self._buf = bytearray()
        self._buf_start = 0
        self._md5 = hashlib.md5()
        self.pulled = 0

    def chunksize(self) -> int:
        return self._chunksize

    def mimetype(self) -> str:
        return self._mimetype

    def size(self) -> int:
        return self._size

    def resumable(self) -> bool:
        return True

    def has_stream(self) -> bool:
        return False

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    def _next_piece(self) -> bytes | None:
        for piece in self._chunks:
            if piece:
                self._md5.update(piece)
                self.pulled += len(piece)
                return bytes(piece)
        return None

    def getbytes(self, begin: int, length: int) -> bytes:
        if not self._buf_start <= begin <= self._buf_start + len(self._buf):
            raise UploadRestartNeeded(
                f"Drive asked for byte {begin} but only bytes from {self._buf_start} are "
                "still in memory: the upload has to start over")
        del self._buf[:begin - self._buf_start]
        self._buf_start = begin
        want = max(0, min(length, self._size - begin))
        while len(self._buf) < want:
            piece = self._next_piece()
            if piece is None:
                raise StreamSizeMismatch(f"the source ended after {self.pulled} bytes, "
                                         f"{self._size} were announced")
            self._buf.extend(piece)
        if begin + want >= self._size and (len(self._buf) > want or self._next_piece()):
            raise StreamSizeMismatch(f"the source is longer than the announced {self._size} "
                                     "bytes")
        return bytes(self._buf[:want])


DRIVE_RETRY = RetryPolicy(max_retries=6, backoff_s=1.0, max_backoff_s=8.0, max_wait_s=60.0)


class DriveStore:
    """Folders and files in one Drive space: My Drive ("root") or the shared drive `drive_id`.

    One layer of retries: every request, and every chunk of an upload (which resumes the
    session instead of starting over), is retried here by `retry` (connector.retry: Retry-After
    honoured, else exponential pauses) on 5xx, 429, rate-limit 403 and network trouble.
    googleapiclient's own retries are off (`num_retries=0`): they did not honour Retry-After
    and multiplied with these and with the job's retries.
    """

    def __init__(self, service: Resource, drive_id: str | None = None, *,
                 retry: RetryPolicy = DRIVE_RETRY,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.service = service
        self.drive_id = drive_id
        self.retry = retry
        self._sleep = sleep

    @property
    def root_id(self) -> str:
        return self.drive_id or "root"

    def _pause(self, err: ConnectorError, attempt: int, action: str) -> bool:
        """Sleep before the next try of a failed call; False when it is not to be retried
        here (not transient, out of attempts, or Google asked for a longer wait)."""
        if not isinstance(err, Retryable):
            return False
        wait = self.retry.wait(attempt, getattr(err, "retry_after_s", None))
        if wait is None:
            return False
        wait *= 1.0 if getattr(err, "retry_after_s", None) is not None else \
            0.5 + random.random() / 2
        log.warning("%s; %s in %.1fs (attempt %d of %d)", err, action, wait, attempt + 1,
                    self.retry.max_retries)
        self._sleep(wait)
        return True

    def _execute(self, request: HttpRequest) -> Any:
        attempt = 0
        while True:
            try:
                return request.execute(num_retries=0)
            except Exception as exc:
                err = classify(exc, "calling Google Drive")
                if err is None or not self._pause(err, attempt, "retrying"):
                    raise
                attempt += 1

    def _search(self, clauses: list[str], fields: str) -> list[dict[str, Any]]:
        scope: dict[str, Any] = {"supportsAllDrives": True, "includeItemsFromAllDrives": True}
        if self.drive_id:
            scope.update(corpora="drive", driveId=self.drive_id)
        else:
            scope.update(corpora="user")
        found: list[dict[str, Any]] = []
        token = None
        while True:
            page = self._execute(self.service.files().list(
                q=" and ".join(clauses), fields=f"nextPageToken,files({fields})",
                pageSize=100, pageToken=token, **scope))
            found += page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                break
        # Oldest first, so racing duplicates always resolve to the same item.
        return sorted(found, key=lambda f: (f.get("createdTime", ""), f.get("id", "")))

    def ensure_folder(self, name: str, parent_id: str | None = None,
                      app_props: Mapping[str, str] | None = None) -> str:
        """Id of the folder under `parent_id` carrying `app_props` (by name if none); creates
        it with them when missing."""
        parent = parent_id or self.root_id
        props = {k: str(v) for k, v in (app_props or {}).items()}
        clauses = app_props_query(props) if props else [f"name = {q_literal(name)}"]
        clauses += [f"{q_literal(parent)} in parents", f"mimeType = '{FOLDER_MIME}'",
                    "trashed = false"]
        with translated(f"looking for folder {name!r}"):
            found = self._search(clauses, "id,createdTime")
            if found:
                return str(found[0]["id"])
            body = {"name": name, "mimeType": FOLDER_MIME, "parents": [parent],
                    "appProperties": props}
            created = self._execute(self.service.files().create(
                body=body, fields="id", supportsAllDrives=True))
        return str(created["id"])

    def find_folder(self, app_key: str, app_value: str, parent_id: str | None = None
                    ) -> str | None:
        """The id of the non-trashed folder tagged `app_key=app_value` (oldest), or None."""
        clauses = app_props_query({app_key: app_value})
        clauses += [f"{q_literal(parent_id or self.root_id)} in parents",
                    f"mimeType = '{FOLDER_MIME}'", "trashed = false"]
        with translated(f"looking for folder {app_key}={app_value}"):
            found = self._search(clauses, "id,createdTime")
        return str(found[0]["id"]) if found else None

    def find_file(self, app_key: str, app_value: str,
                  parent_id: str | None = None) -> dict[str, Any] | None:
        """The non-trashed file tagged `app_key=app_value` (oldest if several), size as int."""
        clauses = app_props_query({app_key: app_value})
        if parent_id:
            clauses.append(f"{q_literal(parent_id)} in parents")
        clauses += [f"mimeType != '{FOLDER_MIME}'", "trashed = false"]
        with translated(f"looking for file {app_key}={app_value}"):
            found = self._search(clauses, FILE_FIELDS)
        return _normalize(found[0]) if found else None

    def upload_stream(self, chunks: Iterable[bytes], size: int, name: str,
                      parent_id: str | None, app_props: Mapping[str, str] | None,
                      mime: str = DEFAULT_MIME, existing_file_id: str | None = None,
                      chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, Any]:
        """Resumable upload of exactly `size` bytes from `chunks`; returns the file (size int).

        With `existing_file_id` the content becomes a new revision of that file; its
        appProperties are updated only after the content is verified.
        """
        if chunk_size <= 0 or chunk_size % GRANULE:
            raise ValueError(f"chunk_size must be a positive multiple of {GRANULE}")
        if size < 0:
            raise ValueError("size must not be negative")
        props = {k: str(v) for k, v in (app_props or {}).items()}
        media = StreamMedia(chunks, size, mime, chunk_size)
        files = self.service.files()
        action = f"uploading {name!r}"
        if existing_file_id:
            request = files.update(fileId=existing_file_id, body={"name": name},
                                   media_body=media, fields=FILE_FIELDS,
                                   supportsAllDrives=True)
        else:
            body = {"name": name, "mimeType": mime, "parents": [parent_id or self.root_id],
                    "appProperties": props}
            request = files.create(body=body, media_body=media, fields=FILE_FIELDS,
                                   supportsAllDrives=True)
        result = self._run_resumable(request, action)
        self._verify(result, media, size, existing_file_id, action)
        if existing_file_id and props:
            with translated(f"tagging {name!r}"):
                result = self._execute(files.update(
                    fileId=existing_file_id, body={"appProperties": props},
                    fields=FILE_FIELDS, supportsAllDrives=True))
        return _normalize(result)

    def _run_resumable(self, request: HttpRequest, action: str) -> dict[str, Any]:
        failures = 0
        progress = -1
        while True:
            try:
                _status, response = request.next_chunk(num_retries=0)
            except ConnectorError:
                raise  # the source stream's own problem: resuming cannot fix it
            except Exception as exc:
                err = classify(exc, action)
                if err is None:
                    raise
                if (request.resumable_uri is not None and isinstance(exc, HttpError)
                        and exc.resp.status in (404, 410)):
                    raise DriveRetryable(f"Drive forgot the upload session while {action}: "
                                         "the upload starts over", status=exc.resp.status
                                         ) from exc
                if not self._pause(err, failures, "resuming"):
                    raise err from exc
                failures += 1
                continue
            if response is not None:
                return dict(response)
            if request.resumable_progress != progress:
                progress = request.resumable_progress
                failures = 0

    def _verify(self, result: dict[str, Any], media: StreamMedia, size: int,
                existing_file_id: str | None, action: str) -> None:
        got_size = int(result.get("size", -1))
        got_md5 = result.get("md5Checksum")
        if got_size == size and got_md5 == media.md5_hex:
            return
        if got_size == size and not got_md5:
            log.warning("Drive returned no md5Checksum while %s; size matches", action)
            return
        self._discard_bad_upload(result, existing_file_id)
        raise ChecksumMismatch(
            f"Drive stored {got_size} bytes with MD5 {got_md5} while {action}, but {size} "
            f"bytes with MD5 {media.md5_hex} were sent; the bad copy was removed",
            reason="checksumMismatch")

    def _discard_bad_upload(self, result: dict[str, Any], existing_file_id: str | None) -> None:
        """Best effort: a bad new file must not be found as 'already mirrored' later."""
        try:
            if existing_file_id and result.get("headRevisionId"):
                self._execute(self.service.revisions().delete(
                    fileId=existing_file_id, revisionId=result["headRevisionId"]))
            elif not existing_file_id and result.get("id"):
                self._execute(self.service.files().delete(
                    fileId=result["id"], supportsAllDrives=True))
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the mismatch
            log.warning("could not remove a mismatched upload: %s", exc)
