"""Disk storages, folders, uploads, downloads (Range, tokens, faults), versions."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator import Emulator, EmulatorConfig, EmulatorServer
from emulator.blobs import BLOCK, VirtualBlob
from tests.fixtures.docs import load

UPLOAD = "api-reference__disk__folder__disk-folder-upload-file.md__"
VERSION = "api-reference__disk__file__disk-file-upload-version.md__"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _common_root(emu_call) -> int:
    res = emu_call("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "common"}}).json()
    assert res["total"] == 1
    storage = res["result"][0]
    assert storage["NAME"] == "Shared drive" and storage["MODULE_ID"] == "disk"
    return int(storage["ROOT_OBJECT_ID"])


def _folder(emu_call, parent: int, name: str) -> dict[str, Any]:
    res = emu_call("disk.folder.addsubfolder", {"id": parent, "data": {"NAME": name}})
    assert res.status_code == 200, res.text
    return res.json()["result"]


def _md5_of(url: str, **kw: Any) -> tuple[str, int]:
    h = hashlib.md5()
    n = 0
    with requests.get(url, stream=True, timeout=30, **kw) as r:
        assert r.status_code == 200, r.text
        for chunk in r.iter_content(1 << 20):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def test_storages_and_seeded_deal_folder(emu_url, emu_call):
    storages = emu_call("disk.storage.getlist").json()
    types = [s["ENTITY_TYPE"] for s in storages["result"]]
    assert types.count("common") == 1 and types.count("user") >= 13
    assert storages["total"] == len(types) and "next" not in storages
    user1 = emu_call("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "user",
                                                         "ENTITY_ID": 1}}).json()["result"]
    assert len(user1) == 1 and user1[0]["NAME"] == "Anna Volkova"
    one = emu_call("disk.storage.get", {"id": user1[0]["ID"]}).json()["result"]
    assert one["ROOT_OBJECT_ID"] == user1[0]["ROOT_OBJECT_ID"]
    app1 = emu_call("disk.storage.getforapp").json()["result"]
    app2 = emu_call("disk.storage.getforapp").json()["result"]
    assert app1["ENTITY_TYPE"] == "restapp" and app1["ID"] == app2["ID"]
    root = _common_root(emu_call)
    top = emu_call("disk.storage.getchildren", {"id": one["ID"]}).json()
    assert top["result"] == [] and top["total"] == 0
    children = emu_call("disk.folder.getchildren", {"id": root}).json()["result"]
    deals = next(c for c in children if c["NAME"] == "Deals")
    assert deals["TYPE"] == "folder" and deals["DETAIL_URL"].endswith("/docs/path/Deals")
    tree = requests.get(f"{emu_url}/_emulator/disk/tree",
                        params={"folder_id": deals["ID"]}).json()
    year = tree["children"][0]
    deal_folder = year["children"][0]
    assert deal_folder["name"] == "1 Deal #1"
    assert sorted(f["name"] for f in deal_folder["children"]) == ["contract.txt", "photos.zip"]
    photos = next(f for f in deal_folder["children"] if f["name"] == "photos.zip")
    got = emu_call("disk.file.get", {"id": photos["id"]}).json()["result"]
    assert got["SIZE"] == str(5 * 1024 * 1024) and got["PARENT_ID"] == str(deal_folder["id"])
    info = requests.get(f"{emu_url}/_emulator/disk/files/{photos['id']}").json()
    assert _md5_of(got["DOWNLOAD_URL"]) == (info["md5"], 5 * 1024 * 1024)


def test_subfolders_names_and_children(emu_call):
    root = _common_root(emu_call)
    folder = _folder(emu_call, root, "Projects")
    assert folder["PARENT_ID"] == str(root) and folder["DELETED_TYPE"] == 0
    assert folder["TYPE"] == "folder" and folder["CREATED_BY"] == "1"
    assert folder["DETAIL_URL"].startswith("https://demo.bitrix24.test/docs/path/Projects")
    got = emu_call("disk.folder.get", {"id": folder["ID"]}).json()["result"]
    assert got["NAME"] == "Projects" and got["STORAGE_ID"] == folder["STORAGE_ID"]
    # the same name again (any case) → DISK_OBJ_22000, HTTP 400: reuse, not duplicate
    for name in ("Projects", "projects"):
        dup = emu_call("disk.folder.addsubfolder", {"id": root, "data": {"NAME": name}})
        assert dup.status_code == 400 and dup.json()["error"] == "DISK_OBJ_22000"
        assert "already exists" in dup.json()["error_description"]
    for bad in ("a/b", 'x"y', "c:d", "q?", "...", "n" * 256):
        res = emu_call("disk.folder.addsubfolder", {"id": folder["ID"], "data": {"NAME": bad}})
        assert res.status_code == 400 and res.json()["error"] == "BX_INVALID_VALUE", bad
    empty = emu_call("disk.folder.addsubfolder", {"id": folder["ID"], "data": {"NAME": ""}})
    assert empty.status_code == 400 and empty.json()["error"] == "ERROR_ARGUMENT"
    missing = emu_call("disk.folder.addsubfolder", {"id": 999999, "data": {"NAME": "x"}})
    assert missing.status_code == 400 and missing.json()["error"] == "ERROR_NOT_FOUND"
    for chunk in (range(50), range(50, 55)):  # batch: the rate limit counts one request
        cmd = {f"f{i}": f"disk.folder.addsubfolder?id={folder['ID']}&data[NAME]=Sub%20{i:02d}"
               for i in chunk}
        res = emu_call("batch", {"halt": 0, "cmd": cmd}).json()["result"]
        assert res["result_error"] == [] and len(res["result"]) == len(chunk)
    emu_call("disk.folder.uploadfile", {"id": folder["ID"], "data": {"NAME": "a.txt"},
                                        "fileContent": ["a.txt", _b64(b"a")]})
    page1 = emu_call("disk.folder.getchildren", {"id": folder["ID"]}).json()
    assert page1["total"] == 56 and len(page1["result"]) == 50 and page1["next"] == 50
    page2 = emu_call("disk.folder.getchildren", {"id": folder["ID"], "start": 50}).json()
    assert len(page2["result"]) == 6 and "next" not in page2
    files = emu_call("disk.folder.getchildren", {"id": folder["ID"],
                                                 "filter": {"TYPE": "file"}}).json()
    assert [f["NAME"] for f in files["result"]] == ["a.txt"]
    named = emu_call("disk.folder.getchildren", {"id": folder["ID"],
                                                 "filter": {"NAME": "Sub 07"}}).json()
    assert named["total"] == 1
    # share, external link, rename, trash, restore, delete
    assert emu_call("disk.folder.sharetouser", {"id": folder["ID"], "userId": 3,
                                                "taskName": "disk_access_edit"}).json()["result"]
    bad_task = emu_call("disk.folder.sharetouser", {"id": folder["ID"], "userId": 3,
                                                    "taskName": "disk_access_root"})
    assert bad_task.status_code == 400
    link = emu_call("disk.folder.getexternallink", {"id": folder["ID"]}).json()["result"]
    assert link.startswith("https://demo.bitrix24.test/~")
    assert emu_call("disk.folder.getexternallink", {"id": folder["ID"]}).json()["result"] == link
    renamed = emu_call("disk.folder.rename", {"id": folder["ID"], "newName": "Projects 2026"})
    assert renamed.json()["result"]["NAME"] == "Projects 2026"
    trashed = emu_call("disk.folder.markdeleted", {"id": folder["ID"]}).json()["result"]
    assert trashed["DELETED_TYPE"] == 3 and trashed["DELETED_BY"] == "1"
    sub = emu_call("disk.folder.get", {"id": page1["result"][0]["ID"]}).json()["result"]
    assert sub["DELETED_TYPE"] == 4
    again = _folder(emu_call, root, "Projects 2026")  # the name is free while in the trash
    restored = emu_call("disk.folder.restore", {"id": folder["ID"]}).json()["result"]
    assert restored["DELETED_TYPE"] == 0 and restored["NAME"] == "Projects 2026 (1)"
    assert emu_call("disk.folder.deletetree", {"id": again["ID"]}).json()["result"] is True
    gone = emu_call("disk.folder.get", {"id": again["ID"]})
    assert gone.status_code == 400 and gone.json()["error"] == "ERROR_NOT_FOUND"


def test_upload_via_upload_url_and_unique_names(emu_call):
    root = _common_root(emu_call)
    folder = _folder(emu_call, root, "Uploads")
    step1 = emu_call("disk.folder.uploadfile", {"id": folder["ID"]}).json()["result"]
    assert step1["field"] == "file" and "/rest/upload.json?" in step1["uploadUrl"]
    content = bytes(range(256)) * 8192  # 2 MiB: streamed to a temp file
    up = requests.post(step1["uploadUrl"], files={step1["field"]: ("scan.pdf", content)})
    assert up.status_code == 200, up.text
    made = up.json()["result"]
    assert made["NAME"] == "scan.pdf" and made["SIZE"] == str(len(content))
    assert requests.get(made["DOWNLOAD_URL"]).content == content
    # the upload URL is single use
    assert requests.post(step1["uploadUrl"], files={"file": ("x", b"x")}).status_code == 404
    dup = emu_call("disk.folder.uploadfile", {"id": folder["ID"], "data": {"NAME": "scan.pdf"},
                                              "fileContent": ["scan.pdf", _b64(b"v2")]})
    assert dup.status_code == 400 and dup.json()["error"] == "DISK_OBJ_22000"
    uniq = emu_call("disk.folder.uploadfile", {
        "id": folder["ID"], "data": {"NAME": "scan.pdf"}, "generateUniqueName": True,
        "fileContent": ["scan.pdf", _b64(b"v2")]}).json()["result"]
    assert uniq["NAME"] == "scan (1).pdf" and uniq["SIZE"] == "2"
    # a named two-step upload that collides fails at the POST
    step = emu_call("disk.folder.uploadfile", {"id": folder["ID"],
                                               "data": {"NAME": "scan.pdf"}}).json()["result"]
    clash = requests.post(step["uploadUrl"], files={"file": ("other.bin", b"zz")})
    assert clash.status_code == 400 and clash.json()["error"] == "DISK_OBJ_22000"
    forged = step["uploadUrl"].replace("token=disk%7C", "token=disk%7CAA")
    assert requests.post(forged, files={"file": ("y", b"y")}).status_code == 403


def test_download_range_headers_and_errors(emu_url, emu_call):
    root = _common_root(emu_call)
    data = bytes((i * 7) % 256 for i in range(200_000))
    f = emu_call("disk.folder.uploadfile", {"id": root, "data": {"NAME": "report.pdf"},
                                            "fileContent": ["report.pdf", _b64(data)]})
    url = f.json()["result"]["DOWNLOAD_URL"]
    assert "auth=" in url and "token=disk" in url
    full = requests.get(url)
    assert full.status_code == 200 and full.content == data
    assert full.headers["Content-Length"] == str(len(data))
    assert full.headers["Content-Type"] == "application/pdf"
    assert full.headers["Accept-Ranges"] == "bytes"
    part = requests.get(url, headers={"Range": "bytes=1000-70999"})
    assert part.status_code == 206 and part.content == data[1000:71000]
    assert part.headers["Content-Range"] == f"bytes 1000-70999/{len(data)}"
    tail = requests.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    bad = requests.get(url, headers={"Range": "bytes=999999-"})
    assert bad.status_code == 416 and bad.headers["Content-Range"] == f"bytes */{len(data)}"
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert requests.get(forged).status_code == 403
    file_id = f.json()["result"]["ID"]
    expired = requests.post(f"{emu_url}/_emulator/disk/download-url",
                            json={"file_id": file_id, "ttl": -1}).json()["download_url"]
    assert requests.get(expired).status_code == 403
    # trash → 404, restore → works again, delete → 404 (and disk.file.get → ERROR_NOT_FOUND)
    emu_call("disk.file.markdeleted", {"id": file_id})
    assert requests.get(url).status_code == 404
    emu_call("disk.file.restore", {"id": file_id})
    assert requests.get(url).status_code == 200
    assert emu_call("disk.file.delete", {"id": file_id}).json()["result"] is True
    assert requests.get(url).status_code == 404
    assert emu_call("disk.file.get", {"id": file_id}).json()["error"] == "ERROR_NOT_FOUND"


def test_virtual_50mb_md5_and_ranges(emu_url, emu_call):
    size = 50 * 1024 * 1024
    made = requests.post(f"{emu_url}/_emulator/disk/files",
                         json={"name": "video.mp4", "size": size, "seed": "s50"}).json()
    assert made["size"] == size and made["content"] == "virtual"
    got = emu_call("disk.file.get", {"id": made["id"]}).json()["result"]
    assert got["SIZE"] == str(size) and got["NAME"] == "video.mp4"
    assert _md5_of(got["DOWNLOAD_URL"]) == (made["md5"], size)
    # the same (seed, size) is the same content; any offset is readable on its own
    blob = VirtualBlob("s50", size)
    start = 3 * BLOCK + 123
    want = b"".join(blob.iter_range(start, start + 100_000))
    part = requests.get(got["DOWNLOAD_URL"], headers={"Range": f"bytes={start}-"
                                                      f"{start + 99_999}"})
    assert part.status_code == 206 and part.content == want
    assert len(set(blob.iter_range(0, 4 * BLOCK))) > 1  # blocks are not repeats


def test_new_version_changes_md5_not_id(emu_url, emu_call):
    root = _common_root(emu_call)
    v1 = emu_call("disk.folder.uploadfile", {"id": root, "data": {"NAME": "plan.txt"},
                                             "fileContent": ["plan.txt", _b64(b"one")]})
    v1 = v1.json()["result"]
    v2 = emu_call("disk.file.uploadversion", {"id": v1["ID"], "fileContent":
                                              ["plan.txt", _b64(b"version two")]}).json()
    v2 = v2["result"]
    # typed as the docs' samples: uploadfile ID 9011 / FILE_ID 32877, uploadversion "9043"
    assert v2["ID"] == str(v1["ID"]) and v2["SIZE"] == "11"
    assert int(v2["FILE_ID"]) != v1["FILE_ID"]
    assert v2["GLOBAL_CONTENT_VERSION"] == 2
    assert requests.get(v1["DOWNLOAD_URL"]).content == b"version two"
    versions = emu_call("disk.file.getversions", {"id": v1["ID"]}).json()["result"]
    assert [v["SIZE"] for v in versions] == ["11", "3"]
    assert requests.get(versions[1]["DOWNLOAD_URL"]).content == b"one"
    # control API: a virtual new version
    before = requests.get(f"{emu_url}/_emulator/disk/files/{v1['ID']}").json()
    after = requests.post(f"{emu_url}/_emulator/disk/files/{v1['ID']}/version",
                          json={"size": 1_000_000, "seed": "v3"}).json()
    assert after["id"] == before["id"] and after["md5"] != before["md5"]
    assert after["versions"] == 3 and after["size"] == 1_000_000
    assert _md5_of(after["download_url"]) == (after["md5"], 1_000_000)
    gone = requests.delete(f"{emu_url}/_emulator/disk/files/{v1['ID']}").json()
    assert gone["deleted"] is True
    assert requests.get(after["download_url"]).status_code == 404


def test_download_faults(emu_url):
    made = requests.post(f"{emu_url}/_emulator/disk/files",
                         json={"name": "big.bin", "size": 2_000_000, "seed": "f"}).json()
    url = made["download_url"]
    requests.post(f"{emu_url}/_emulator/downloads/faults",
                  json={"file_id": made["id"], "status": 500, "count": 1})
    assert requests.get(url).status_code == 500
    assert requests.get(url).status_code == 200
    requests.post(f"{emu_url}/_emulator/downloads/faults",
                  json={"abort_after_bytes": 300_000, "count": 1})
    got = bytearray()
    with (pytest.raises(requests.exceptions.RequestException),
          requests.get(url, stream=True, timeout=10) as r):
        assert r.headers["Content-Length"] == "2000000"
        for chunk in r.iter_content(65536):
            got.extend(chunk)
    assert 0 < len(got) <= 300_000  # the client drops the torn last read
    assert _md5_of(url) == (made["md5"], 2_000_000)  # the next download is whole again
    requests.post(f"{emu_url}/_emulator/downloads/faults",
                  json={"throttle_bytes_per_s": 50_000_000, "count": 1})
    assert requests.get(f"{emu_url}/_emulator/downloads/faults").json()["faults"]
    assert _md5_of(url) == (made["md5"], 2_000_000)
    assert requests.delete(f"{emu_url}/_emulator/downloads/faults").json() == {"faults": []}


@pytest.fixture
def clock_server(emu_app_stub) -> Iterator[tuple[EmulatorServer, list[float]]]:
    """An emulator on a hand-moved clock (no sleeping, no timing in assertions)."""
    now = [1_800_000_000.0]
    cfg = EmulatorConfig(app_url=emu_app_stub.url, rate_limit_enabled=False)
    server = EmulatorServer(Emulator(cfg, clock=lambda: now[0])).start()
    yield server, now
    server.stop()


def test_link_expires_after_an_hour_and_update_time_moves(clock_server):
    server, now = clock_server
    url = server.url
    tok = requests.post(f"{url}/_emulator/install", json={"direct": True}).json()["tokens"]

    def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return requests.post(f"{url}/rest/{method}",
                             json={**params, "auth": tok["access_token"]}).json()

    root = call("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "common"}})
    root_id = root["result"][0]["ROOT_OBJECT_ID"]
    f = call("disk.folder.uploadfile", {"id": root_id, "data": {"NAME": "a.txt"},
                                        "fileContent": ["a.txt", _b64(b"a")]})["result"]
    now[0] += 120
    v2 = call("disk.file.uploadversion", {"id": f["ID"],
                                          "fileContent": ["a.txt", _b64(b"bb")]})["result"]
    assert v2["UPDATE_TIME"] != f["UPDATE_TIME"] and v2["CREATE_TIME"] == f["CREATE_TIME"]
    assert requests.get(f["DOWNLOAD_URL"]).status_code == 200
    now[0] += 3500  # the first link is 3620 s old, the second 3500 s
    expired = requests.get(f["DOWNLOAD_URL"])
    assert expired.status_code == 403 and expired.json()["error"] == "ACCESS_DENIED"
    assert requests.get(v2["DOWNLOAD_URL"]).content == b"bb"  # issued later: still valid


def _types(row: dict[str, Any]) -> dict[str, type]:
    return {k: type(v) for k, v in row.items()}


def test_uploads_answer_as_the_docs_print_them(emu_url, emu_call):
    """The docs' request bodies (their base64 is elided there, so ours is real) and the
    fields and types of their answers: uploadfile's numbers, uploadversion's strings."""
    root = _common_root(emu_call)
    request = load(UPLOAD + "request")
    content = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    made = emu_call("disk.folder.uploadfile", {
        **request, "id": root, "fileContent": [request["fileContent"][0], _b64(content)],
        "rights": [{"TASK_ID": 75, "ACCESS_CODE": "U3"}]}).json()["result"]
    sample = load(UPLOAD + "result")["result"]
    assert list(made) == list(sample)
    # the same types, but where the docs print null (DELETE_TIME, DELETED_BY of a live file)
    assert {k: t for k, t in _types(made).items() if sample[k] is not None} == {
        k: t for k, t in _types(sample).items() if t is not type(None)}
    assert made["NAME"] == "test.png" and made["SIZE"] == str(len(content))
    assert made["DETAIL_URL"].endswith("/docs/file/test.png")
    assert requests.get(made["DOWNLOAD_URL"]).content == content
    again = emu_call("disk.folder.uploadfile", {
        **request, "id": root, "fileContent": [request["fileContent"][0], _b64(b"2")]})
    assert again.json()["result"]["NAME"] == "test (1).png"  # generateUniqueName: true

    vreq = load(VERSION + "request")
    version = emu_call("disk.file.uploadversion", {
        **vreq, "id": made["ID"], "fileContent": [vreq["fileContent"][0], _b64(b"v2")]}
    ).json()["result"]
    vsample = load(VERSION + "result")["result"]
    assert list(version) == list(vsample) and _types(version) == _types(vsample)
    assert version["NAME"] == "test.png"  # the file keeps its name
    assert version["GLOBAL_CONTENT_VERSION"] == 2 and version["DELETED_BY"] == "0"
    missing = emu_call("disk.file.uploadversion", {"id": made["ID"]})
    assert missing.status_code == 400 and missing.json() == load(VERSION + "error-argument")


def test_a_direct_upload_needs_data_name_and_a_gone_folder_is_not_found(emu_call):
    root = _common_root(emu_call)
    unnamed = emu_call("disk.folder.uploadfile", {"id": root,
                                                  "fileContent": ["a.txt", _b64(b"a")]})
    assert unnamed.status_code == 400
    assert unnamed.json()["error"] == "DISK_BASE_SERVICE_22001"
    folder = _folder(emu_call, root, "Trash me")
    emu_call("disk.folder.markdeleted", {"id": folder["ID"]})
    gone = emu_call("disk.folder.uploadfile", {"id": folder["ID"]})
    assert gone.status_code == 400
    assert gone.json()["error"] == load(UPLOAD + "not-found")["error"]


def test_the_upload_address_is_the_callers_rest_request(emu_url, emu_call, emu_tokens):
    """Its ``auth`` is the caller's token, as in the docs' sample: an expired token is
    refused at the POST, and the POST is counted and logged."""
    root = _common_root(emu_call)
    sample = load(UPLOAD + "upload-url")["result"]
    step = emu_call("disk.folder.uploadfile", {"id": root}).json()["result"]
    assert set(step) == set(sample) and step["field"] == sample["field"]
    assert f"auth={emu_tokens['access_token']}&token=disk%7C" in step["uploadUrl"]
    wrong_field = requests.post(step["uploadUrl"], files={"document": ("a.txt", b"a")})
    assert wrong_field.status_code == 400 and wrong_field.json()["error"] == "ERROR_ARGUMENT"
    before = requests.get(f"{emu_url}/_emulator/stats").json()["requests"]
    requests.post(f"{emu_url}/_emulator/expire-tokens", json={})
    late = requests.post(step["uploadUrl"], files={"file": ("a.txt", b"a")})
    assert late.status_code == 401 and late.json()["error"] == "expired_token"
    assert requests.get(f"{emu_url}/_emulator/stats").json()["requests"] == before + 1
    log = requests.get(f"{emu_url}/_emulator/log").json()
    assert log[-1]["method"] == "disk.upload" and log[-1]["error"] == "expired_token"
