"""DriveStore against the fake over real HTTP: folders, streamed uploads, resumption, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.errors import Permanent, Retryable
from connector.gdrive.errors import (
    ChecksumMismatch,
    DrivePermanent,
    DriveRetryable,
    StreamSizeMismatch,
)
from connector.gdrive.mirror import FOLDER_MIME, DriveStore
from fakedrive import FakeDrive
from tests.gdrive.helpers import KIB, MIB, md5, payload, pieces, retries

FOLDER_PROPS = {"b24": "deal", "b24_deal": "42"}


def puts(fake: FakeDrive) -> list[dict[str, Any]]:
    return [e for e in fake.log if e["method"] == "PUT"]


def test_ensure_folder_is_idempotent(fake: FakeDrive, store: DriveStore) -> None:
    root = store.ensure_folder("Deals", None, {"b24": "root"})
    first = store.ensure_folder("42 Kitchen", root, FOLDER_PROPS)
    again = store.ensure_folder("42 Kitchen (renamed)", root, FOLDER_PROPS)
    other = store.ensure_folder("43 Bath", root, {"b24": "deal", "b24_deal": "43"})
    assert first == again != other
    folders = [f for f in fake.files if f["mimeType"] == FOLDER_MIME]
    assert len(folders) == 3
    assert fake.file(first)["parents"] == [root]
    assert fake.file(first)["appProperties"] == FOLDER_PROPS


def test_ensure_folder_without_props_matches_by_name(fake: FakeDrive, store: DriveStore) -> None:
    a = store.ensure_folder("It's \\ odd", None)
    assert store.ensure_folder("It's \\ odd", None) == a
    assert len(fake.files) == 1


def test_small_upload_is_verified_and_findable(fake: FakeDrive, store: DriveStore) -> None:
    folder = store.ensure_folder("42", None, FOLDER_PROPS)
    data = b"photo bytes\r\n" * 100
    result = store.upload_stream(pieces(data, 100), len(data), "photo.jpg", folder,
                                 {"b24_file": "777"}, mime="image/jpeg")
    assert result["size"] == len(data) and result["md5Checksum"] == md5(data)
    assert fake.blob(result["id"]) == data
    found = store.find_file("b24_file", "777", folder)
    assert found is not None and found["id"] == result["id"] and found["size"] == len(data)
    assert store.find_file("b24_file", "778", folder) is None
    assert all(e["query"].get("supportsAllDrives") == "true" for e in fake.log
               if e["path"].startswith(("/drive/v3/files", "/upload/")) and e["method"] != "PUT")


def test_multi_chunk_upload(fake: FakeDrive, store: DriveStore) -> None:
    data = payload(3 * MIB + 123)
    result = store.upload_stream(pieces(data, 100 * KIB), len(data), "big.bin", None,
                                 {"b24_file": "1"}, chunk_size=1 * MIB)
    assert result["md5Checksum"] == md5(data)
    assert [e["content_range"] for e in puts(fake)] == [
        f"bytes 0-{MIB - 1}/{len(data)}", f"bytes {MIB}-{2 * MIB - 1}/{len(data)}",
        f"bytes {2 * MIB}-{3 * MIB - 1}/{len(data)}",
        f"bytes {3 * MIB}-{len(data) - 1}/{len(data)}"]
    assert fake.blob(result["id"]) == data


def test_zero_byte_upload(fake: FakeDrive, store: DriveStore) -> None:
    result = store.upload_stream(iter([]), 0, "empty.txt", None, {"b24_file": "0"})
    assert result["size"] == 0 and result["md5Checksum"] == md5(b"")


def test_chunk_size_must_be_a_multiple_of_256k(store: DriveStore) -> None:
    with pytest.raises(ValueError):
        store.upload_stream(iter([b"x"]), 1, "x", None, {}, chunk_size=1000 * KIB)


def test_5xx_mid_upload_resumes_the_session(fake: FakeDrive, store: DriveStore,
                                            sleeps: list[float]) -> None:
    data = payload(1 * MIB + 5)
    fake.fail_next(1, 503, methods=["PUT"], after=1)  # the second chunk fails
    result = store.upload_stream(pieces(data), len(data), "f.bin", None, {"b24_file": "2"},
                                 chunk_size=256 * KIB)
    assert result["md5Checksum"] == md5(data)
    statuses = [(e["content_range"], e["status"]) for e in puts(fake)]
    assert (f"bytes 262144-524287/{len(data)}", 503) in statuses
    assert (f"bytes */{len(data)}", 308) in statuses  # asked Drive where it stopped
    assert len(sleeps) == 1
    assert len(fake.files) == 1


def test_5xx_chunk_is_retried_by_our_backoff_alone(fake: FakeDrive, service: Any,
                                                   sleeps: list[float]) -> None:
    store = DriveStore(service, retry=retries(3), sleep=sleeps.append)
    data = payload(600 * KIB)
    fake.fail_next(2, 500, methods=["PUT"], after=1)
    result = store.upload_stream(pieces(data), len(data), "f.bin", None, {"b24_file": "3"},
                                 chunk_size=256 * KIB)
    assert result["md5Checksum"] == md5(data)
    assert len(sleeps) == 2  # one pause per failure: googleapiclient retries nothing itself
    assert [e["status"] for e in puts(fake)].count(500) == 2


def test_one_layer_of_retries_per_request(fake: FakeDrive, service: Any,
                                          sleeps: list[float]) -> None:
    """Three 503s, three pauses, four requests: no library retry hides behind ours."""
    store = DriveStore(service, retry=retries(5), sleep=sleeps.append)
    fake.fail_next(3, 503, "backendError", methods=["GET"])
    assert store.find_file("b24_file", "nothing") is None
    assert len(sleeps) == 3 and all(0.5 <= s <= 4 for s in sleeps), sleeps
    lists = [e for e in fake.log if e["method"] == "GET" and e["path"] == "/drive/v3/files"]
    assert [e["status"] for e in lists] == [503, 503, 503, 200]


def test_retry_after_is_honoured(fake: FakeDrive, service: Any, sleeps: list[float]) -> None:
    store = DriveStore(service, retry=retries(5), sleep=sleeps.append)
    fake.fail_next(2, 429, "rateLimitExceeded", retry_after=7)
    store.ensure_folder("x", None, {"k": "v"})
    assert sleeps == [7.0, 7.0]  # exactly Google's word, no jitter, no growth


def test_a_longer_retry_after_goes_to_the_job(fake: FakeDrive, service: Any,
                                              sleeps: list[float]) -> None:
    """Waiting over a minute inside the job would hold a worker: the job's retry waits."""
    store = DriveStore(service, retry=retries(5), sleep=sleeps.append)
    fake.fail_next(1, 429, "rateLimitExceeded", retry_after=120)
    with pytest.raises(DriveRetryable) as caught:
        store.ensure_folder("x", None, {"k": "v"})
    assert caught.value.retry_after_s == 120 and sleeps == []


def test_a_chunk_retried_after_retry_after(fake: FakeDrive, service: Any,
                                           sleeps: list[float]) -> None:
    store = DriveStore(service, retry=retries(5), sleep=sleeps.append)
    data = payload(600 * KIB)
    fake.fail_next(1, 503, methods=["PUT"], after=1, retry_after=2)
    result = store.upload_stream(pieces(data), len(data), "f.bin", None, {"b24_file": "ra"},
                                 chunk_size=256 * KIB)
    assert result["md5Checksum"] == md5(data) and sleeps == [2.0]


def test_dropped_connection_resumes(fake: FakeDrive, store: DriveStore) -> None:
    data = payload(2 * MIB)
    # Twice in a row, so httplib2's single silent resend is dropped too and our loop resumes.
    fake.break_upload_after(300 * KIB, times=2)
    result = store.upload_stream(pieces(data), len(data), "cut.bin", None, {"b24_file": "4"},
                                 chunk_size=1 * MIB)
    assert result["md5Checksum"] == md5(data) and result["size"] == len(data)
    assert fake.counters["dropped"] == 2
    assert fake.blob(result["id"]) == data
    assert len(fake.files) == 1 and len(fake.files[0]["revisions"]) == 1


def test_rate_limits_are_retried(fake: FakeDrive, service: Any, sleeps: list[float]) -> None:
    store = DriveStore(service, retry=retries(3), sleep=sleeps.append)
    fake.fail_next(1, 403, "userRateLimitExceeded")
    fake.fail_next(1, 429, "rateLimitExceeded")
    folder = store.ensure_folder("x", None, {"k": "v"})
    assert fake.file(folder)["name"] == "x"
    assert len(sleeps) == 2


def test_rate_limit_without_retries_is_retryable(fake: FakeDrive, service: Any) -> None:
    store = DriveStore(service, retry=retries(0))
    fake.fail_next(1, 403, "userRateLimitExceeded")
    with pytest.raises(DriveRetryable) as caught:
        store.ensure_folder("x", None, {"k": "v"})
    assert isinstance(caught.value, Retryable)
    assert caught.value.status == 403 and caught.value.reason == "userRateLimitExceeded"


@pytest.mark.parametrize(("status", "reason", "words"), [
    (403, "storageQuotaExceeded", "storage"),
    (403, "insufficientFilePermissions", "access"),
    (404, "notFound", "gone"),
])
def test_permanent_errors_are_not_retried(fake: FakeDrive, service: Any, sleeps: list[float],
                                          status: int, reason: str, words: str) -> None:
    store = DriveStore(service, retry=retries(5), sleep=sleeps.append)
    fake.fail_next(1, status, reason, methods=["POST"], path="/upload/")
    data = b"abc"
    with pytest.raises(DrivePermanent) as caught:
        store.upload_stream(pieces(data), len(data), "a.txt", None, {"b24_file": "5"})
    assert isinstance(caught.value, Permanent)
    assert caught.value.reason == reason and words in str(caught.value)
    assert sleeps == [] and fake.files == []


def test_new_revision_keeps_the_file_id(fake: FakeDrive, store: DriveStore) -> None:
    v1, v2 = payload(300 * KIB), payload(700 * KIB)
    first = store.upload_stream(pieces(v1), len(v1), "plan.pdf", None,
                                {"b24_file": "9", "b24_ver": "1"})
    second = store.upload_stream(pieces(v2), len(v2), "plan.pdf", None,
                                 {"b24_file": "9", "b24_ver": "2"},
                                 existing_file_id=first["id"], chunk_size=256 * KIB)
    assert second["id"] == first["id"]
    assert second["md5Checksum"] == md5(v2) and second["appProperties"]["b24_ver"] == "2"
    stored = fake.file(first["id"])
    assert [r["md5Checksum"] for r in stored["revisions"]] == [md5(v1), md5(v2)]
    assert len(fake.files) == 1 and fake.blob(first["id"]) == v2


def test_checksum_mismatch_is_retryable_and_removes_the_copy(fake: FakeDrive,
                                                             store: DriveStore) -> None:
    fake.corrupt_next_upload()
    data = payload(10 * KIB)
    with pytest.raises(ChecksumMismatch) as caught:
        store.upload_stream(pieces(data), len(data), "c.bin", None, {"b24_file": "6"})
    assert isinstance(caught.value, Retryable)
    assert fake.files == []  # not left behind to be taken for "already mirrored"


def test_checksum_mismatch_on_revision_drops_that_revision(fake: FakeDrive,
                                                           store: DriveStore) -> None:
    v1, v2 = b"one", b"two!"
    first = store.upload_stream(pieces(v1), 3, "r.txt", None, {"b24_file": "7", "v": "1"})
    fake.corrupt_next_upload()
    with pytest.raises(ChecksumMismatch):
        store.upload_stream(pieces(v2), 4, "r.txt", None, {"b24_file": "7", "v": "2"},
                            existing_file_id=first["id"])
    stored = fake.file(first["id"])
    assert len(stored["revisions"]) == 1 and stored["appProperties"]["v"] == "1"


@pytest.mark.parametrize("actual", [b"short", b"much too long"])
def test_stream_size_mismatch(fake: FakeDrive, store: DriveStore, actual: bytes) -> None:
    with pytest.raises(StreamSizeMismatch):
        store.upload_stream(iter([actual]), 8, "s.txt", None, {"b24_file": "8"})
    assert fake.files == []


def test_upload_streams_without_buffering_the_source(fake: FakeDrive,
                                                     store: DriveStore) -> None:
    """Bytes pulled from the source never run ahead of Drive by more than a chunk + a piece."""
    size, chunk, piece = 20 * MIB, 2 * MIB, 256 * KIB
    block = payload(piece)
    ahead: list[int] = []

    def source() -> Iterator[bytes]:
        sent = 0
        while sent < size:
            received = sum(s["received"] + (s["total"] or 0) * s["done"]
                           for s in fake.state_json()["sessions"].values())
            ahead.append(sent - min(received, sent))
            sent += piece
            yield block

    result = store.upload_stream(source(), size, "stream.bin", None, {"b24_file": "big"},
                                 chunk_size=chunk)
    assert result["size"] == size and result["md5Checksum"] == md5(block * (size // piece))
    assert max(ahead) <= chunk + piece
    assert len(puts(fake)) == size // chunk


def test_shared_drive_scope_is_sent(fake: FakeDrive, service: Any, sleeps: list[float]) -> None:
    drive_id = fake.add_shared_drive("Archive")
    store = DriveStore(service, drive_id, retry=retries(0), sleep=sleeps.append)
    folder = store.ensure_folder("42", None, FOLDER_PROPS)
    data = b"x" * 1000
    store.upload_stream(pieces(data), len(data), "a", folder, {"b24_file": "1"})
    assert fake.file(folder)["driveId"] == drive_id
    assert fake.find(b24_file="1")[0]["driveId"] == drive_id
    lists = [e["query"] for e in fake.log if e["method"] == "GET"
             and e["path"] == "/drive/v3/files"]
    assert lists and all(q["corpora"] == "drive" and q["driveId"] == drive_id
                         and q["includeItemsFromAllDrives"] == "true" for q in lists)
