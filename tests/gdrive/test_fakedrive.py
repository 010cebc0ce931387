"""The fake itself: wire format details the client tests rely on, and the control API."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

from connector.gdrive.errors import DrivePermanent, classify
from fakedrive import FakeDrive
from tests.gdrive.helpers import md5


def api(fake: FakeDrive) -> tuple[str, dict[str, str]]:
    return fake.url + "drive/v3/", {"Authorization": f"Bearer {fake.issue_token()}"}


def test_unsupported_query_is_a_400_surfaced_as_permanent(fake: FakeDrive,
                                                          service: Any) -> None:
    with pytest.raises(HttpError) as caught:
        service.files().list(q="fullText contains 'invoice'").execute()
    assert caught.value.resp.status == 400
    err = classify(caught.value)
    assert isinstance(err, DrivePermanent) and err.reason == "invalidQuery"


@pytest.mark.parametrize("q", [
    "name contains 'a'", "trashed = false or trashed = true", "not trashed = true",
    "appProperties has { key='k' }", "modifiedTime > '2024-01-01'", "(trashed = false)",
])
def test_query_parser_rejects_what_it_does_not_implement(fake: FakeDrive, q: str) -> None:
    base, auth = api(fake)
    resp = requests.get(base + "files", params={"q": q}, headers=auth, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"]["errors"][0]["reason"] == "invalidQuery"


def test_wire_format_and_search(fake: FakeDrive) -> None:
    base, auth = api(fake)
    body = {"name": "O'Brien", "mimeType": "application/vnd.google-apps.folder",
            "appProperties": {"b24": "it's"}}
    created = requests.post(base + "files", json=body, headers=auth, timeout=10).json()
    assert set(created) == {"kind", "id", "name", "mimeType"}
    q = ("appProperties has { key='b24' and value='it\\'s' } and name = 'O\\'Brien' and "
         "mimeType = 'application/vnd.google-apps.folder' and trashed = false and "
         "'root' in parents")
    found = requests.get(base + "files", params={"q": q, "fields": "files(id,appProperties)"},
                         headers=auth, timeout=10).json()
    assert found == {"files": [{"id": created["id"], "appProperties": {"b24": "it's"}}]}


def test_auth_is_required(fake: FakeDrive) -> None:
    base, _ = api(fake)
    for headers in ({}, {"Authorization": "Bearer made-up"}):
        resp = requests.get(base + "files", headers=headers, timeout=10)
        assert resp.status_code == 401
        assert resp.json()["error"]["status"] == "UNAUTHENTICATED"


def test_multipart_upload_is_byte_exact_and_size_is_a_string(fake: FakeDrive,
                                                             service: Any) -> None:
    data = b"line\r\n--not-a-boundary\r\n" * 50 + b"\r\n"
    result = service.files().create(
        body={"name": "m.txt"}, media_body=MediaIoBaseUpload(io.BytesIO(data), "text/plain"),
        fields="id,size,md5Checksum,mimeType").execute()
    assert result["size"] == str(len(data)) and result["md5Checksum"] == md5(data)
    assert result["mimeType"] == "text/plain"
    assert service.files().get_media(fileId=result["id"]).execute() == data


def test_pagination(fake: FakeDrive) -> None:
    base, auth = api(fake)
    for i in range(5):
        requests.post(base + "files", json={"name": f"f{i}"}, headers=auth, timeout=10)
    names, token = [], None
    while True:
        params = {"pageSize": "2", "fields": "nextPageToken,files(name)"}
        if token:
            params["pageToken"] = token
        page = requests.get(base + "files", params=params, headers=auth, timeout=10).json()
        names += [f["name"] for f in page["files"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert names == [f"f{i}" for i in range(5)]


def test_shared_drive_items_need_supports_all_drives(fake: FakeDrive) -> None:
    base, auth = api(fake)
    drive_id = fake.add_shared_drive("Team")
    resp = requests.post(base + "files", json={"name": "a", "parents": [drive_id]},
                         headers=auth, timeout=10)
    assert resp.status_code == 404
    resp = requests.post(base + "files", params={"supportsAllDrives": "true"},
                         json={"name": "a", "parents": [drive_id]}, headers=auth, timeout=10)
    assert resp.status_code == 200
    drives = requests.get(base + "drives", headers=auth, timeout=10).json()["drives"]
    assert [d["id"] for d in drives] == [drive_id]
    bad = requests.get(base + "files", params={"corpora": "drive", "driveId": drive_id,
                                               "supportsAllDrives": "true"},
                       headers=auth, timeout=10)
    assert bad.status_code == 400  # includeItemsFromAllDrives missing, like Drive


def test_app_property_size_limit(fake: FakeDrive) -> None:
    base, auth = api(fake)
    resp = requests.post(base + "files", json={"name": "a", "appProperties": {"k": "v" * 124}},
                         headers=auth, timeout=10)
    assert resp.status_code == 400


def test_control_api(fake: FakeDrive) -> None:
    base, auth = api(fake)
    requests.post(fake.url + "_fake/fail_next",
                  json={"n": 1, "status": 403, "reason": "insufficientFilePermissions"},
                  timeout=10)
    resp = requests.get(base + "files", headers=auth, timeout=10)
    assert resp.status_code == 403
    err = resp.json()["error"]
    assert err["errors"][0]["reason"] == "insufficientFilePermissions"
    assert set(err) == {"code", "message", "errors", "status"}
    assert requests.get(base + "files", headers=auth, timeout=10).status_code == 200
    state = requests.get(fake.url + "_fake/state", timeout=10).json()
    assert state["counters"]["files.list"] == 1 and state["counters"]["faults"] == 1
    token = requests.post(fake.url + "_fake/tokens", json={}, timeout=10).json()
    assert requests.get(base + "files", timeout=10,
                        headers={"Authorization": "Bearer " + token["access_token"]}).ok


def test_revisions_endpoint(fake: FakeDrive, service: Any) -> None:
    first = service.files().create(
        body={"name": "r"}, media_body=MediaIoBaseUpload(io.BytesIO(b"1"), "text/plain"),
        fields="id").execute()
    service.files().update(
        fileId=first["id"], media_body=MediaIoBaseUpload(io.BytesIO(b"22"), "text/plain",
                                                         resumable=True)).execute()
    revs = service.revisions().list(fileId=first["id"], fields="revisions(id,size)").execute()
    assert [r["size"] for r in revs["revisions"]] == ["1", "2"]
