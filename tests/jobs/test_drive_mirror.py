"""The Google Drive mirror end to end: emulator portal, fake Drive, real workers."""

from __future__ import annotations

import base64
import hashlib

import pytest
import requests

from fakedrive import FakeDrive
from robots.drive_mirror import connection
from tests.conftest import Stack

pytestmark = pytest.mark.fake_drive


def services(stack: Stack):
    return stack.app.extensions["connector"]


def connect_google(stack: Stack) -> None:
    """The admin's path: the signed link from the app's page → consent → callback."""
    member_id = stack.portal()["member_id"]
    token = connection.connect_token(services(stack), member_id)
    resp = requests.get(f"{stack.app_url}/google/connect?t={token}", timeout=10)
    assert resp.status_code == 200 and "is connected" in resp.text, resp.text
    assert connection.status(services(stack), member_id)["status"] == "connected"


@pytest.fixture
def mirrored(installed: Stack, fake_drive: FakeDrive) -> Stack:
    member_id = installed.portal()["member_id"]
    services(installed).portal_settings.put(member_id, {
        "deal_folders": {"enabled": True}, "drive_mirror": {"enabled": True}})
    connect_google(installed)
    return installed


def new_deal(stack: Stack, title: str = "Car repair: Volvo XC90") -> int:
    return int(stack.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": 3}})["id"])


def deal_folder_id(stack: Stack, deal_id: int) -> int:
    prefix = services(stack).settings.queue_prefix
    key = next(stack.redis.scan_iter(f"{prefix}:deal_workspace:*:deal:{deal_id}"))
    import json

    return int(json.loads(stack.redis.get(key))["folder_id"])


def deal_with_folder(stack: Stack) -> tuple[int, int]:
    """A new deal after its set-up job ran, and the id of its Disk folder."""
    deal_id = new_deal(stack)
    stack.run_worker()
    return deal_id, deal_folder_id(stack, deal_id)


def touch(stack: Stack, deal_id: int) -> None:
    stack.control("POST", f"crm/deal/{deal_id}", json={"fields": {"COMMENTS": "photos added"}})


def test_files_of_the_deal_folder_land_on_drive_once_and_verified(mirrored: Stack,
                                                                   fake_drive: FakeDrive):
    deal_id, folder = deal_with_folder(mirrored)
    photo = mirrored.control("POST", "disk/files", json={
        "folder_id": folder, "name": "front.jpg", "size": 3 * 1024 * 1024 + 17, "seed": 7})
    small = mirrored.control("POST", "disk/files", json={
        "folder_id": folder, "name": "empty.txt", "content_b64": ""})
    touch(mirrored, deal_id)
    mirrored.run_worker()
    folder_mime = "application/vnd.google-apps.folder"
    on_drive = [f for f in fake_drive.files if f["mimeType"] != folder_mime]
    by_name = {f["name"]: f for f in on_drive}
    assert by_name["front.jpg"]["md5Checksum"] == photo["md5"]
    assert int(by_name["front.jpg"]["size"]) == photo["size"]
    assert int(by_name["empty.txt"]["size"]) == 0 and small["id"]
    touch(mirrored, deal_id)  # nothing changed: nothing uploaded again
    mirrored.run_worker()
    again = [f for f in fake_drive.files if f["mimeType"] != "application/vnd.google-apps.folder"]
    assert len(again) == len(on_drive)
    from connector.context import JobContext
    from robots.drive_mirror.mirror import on_drive_count

    ctx = JobContext.load(services(mirrored), mirrored.portal()["member_id"], "test",
                          "drive_mirror")
    assert on_drive_count(ctx) == len(on_drive) == 2  # the admin page's count, kept as copied


def test_a_changed_file_becomes_a_revision_and_a_deleted_one_stays(mirrored: Stack,
                                                                   fake_drive: FakeDrive):
    deal_id, folder = deal_with_folder(mirrored)
    doc = mirrored.control("POST", "disk/files", json={
        "folder_id": folder, "name": "estimate.pdf",
        "content_b64": base64.b64encode(b"v1 of the estimate").decode()})
    touch(mirrored, deal_id)
    mirrored.run_worker()
    (first,) = fake_drive.find(src=f"b24:{mirrored.portal()['member_id'][:16]}:disk:{doc['id']}")
    mirrored.control("POST", f"disk/files/{doc['id']}/version",
                     json={"content_b64": base64.b64encode(b"v2, with the discount").decode()})
    touch(mirrored, deal_id)
    mirrored.run_worker()
    (second,) = fake_drive.find(src=f"b24:{mirrored.portal()['member_id'][:16]}:disk:{doc['id']}")
    assert second["id"] == first["id"]
    assert second["md5Checksum"] == hashlib.md5(b"v2, with the discount").hexdigest()
    assert len(second.get("revisions", [])) >= 2 or second["md5Checksum"] != first["md5Checksum"]
    mirrored.control("DELETE", f"disk/files/{doc['id']}")
    touch(mirrored, deal_id)
    mirrored.run_worker()
    assert fake_drive.find(src=f"b24:{mirrored.portal()['member_id'][:16]}:disk:{doc['id']}")


def test_activity_attachments_are_mirrored_as_they_arrive(mirrored: Stack,
                                                          fake_drive: FakeDrive):
    deal_id = new_deal(mirrored)
    mirrored.run_worker()
    mirrored.control("POST", "crm/activity", json={"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal_id, "TYPE_ID": 6, "SUBJECT": "Photos from chat",
        "PROVIDER_ID": "IMOPENLINES_SESSION", "PROVIDER_TYPE_ID": "LINES_CHAT",
        "FILES": [{"fileData": ["dent.png", base64.b64encode(b"\x89PNG fake").decode()]}]}})
    mirrored.run_worker()
    names = [f["name"] for f in fake_drive.files]
    assert "dent.png" in names


def test_rate_limits_are_retried_and_quota_errors_are_parked(mirrored: Stack,
                                                            fake_drive: FakeDrive):
    deal_id, folder = deal_with_folder(mirrored)
    mirrored.control("POST", "disk/files", json={"folder_id": folder, "name": "a.bin",
                                                 "size": 1000, "seed": 1})
    fake_drive.fail_next(2, 403, "userRateLimitExceeded")
    touch(mirrored, deal_id)
    mirrored.run_worker()
    assert "a.bin" in [f["name"] for f in fake_drive.files]
    mirrored.control("POST", "disk/files", json={"folder_id": folder, "name": "b.bin",
                                                 "size": 1000, "seed": 2})
    fake_drive.fail_next(50, 403, "storageQuotaExceeded")
    touch(mirrored, deal_id)
    mirrored.run_worker()
    failed = services(mirrored).queues.failed()
    assert failed and any("storageQuotaExceeded" in (j.latest_result().exc_string or "")
                          or "quota" in (j.latest_result().exc_string or "").lower()
                          for j in failed)


def test_revoked_google_access_asks_for_reconnect(mirrored: Stack, fake_drive: FakeDrive):
    member_id = mirrored.portal()["member_id"]
    import json

    raw = json.loads(mirrored.redis.get(connection.key(services(mirrored), member_id)))
    secret = json.loads(services(mirrored).store.fernet.decrypt(raw["secret"].encode()))
    fake_drive.revoke_refresh_token(secret["refresh_token"])
    deal_id, folder = deal_with_folder(mirrored)
    mirrored.control("POST", "disk/files", json={"folder_id": folder, "name": "c.bin",
                                                 "size": 10, "seed": 3})
    touch(mirrored, deal_id)
    mirrored.run_worker()
    assert connection.status(services(mirrored), member_id)["status"] == "needs_reconnect"


def test_download_that_answers_404_is_a_clear_skip(mirrored: Stack, fake_drive: FakeDrive):
    deal_id, folder = deal_with_folder(mirrored)
    f = mirrored.control("POST", "disk/files", json={"folder_id": folder, "name": "gone.bin",
                                                     "size": 10, "seed": 4})
    mirrored.control("POST", "downloads/faults", json={"file_id": f["id"], "status": 404,
                                                       "count": 5})
    touch(mirrored, deal_id)
    mirrored.run_worker()
    assert "gone.bin" not in [x["name"] for x in fake_drive.files]
    assert services(mirrored).queues.failed() == []


def test_google_callback_refuses_unknown_state(installed: Stack, fake_drive: FakeDrive):
    resp = requests.get(f"{installed.app_url}/google/callback?code=x&state=forged", timeout=10)
    assert resp.status_code == 400
    bad = requests.get(f"{installed.app_url}/google/connect?t=forged.1.x", timeout=10)
    assert bad.status_code == 403


def _service_account_key(fake_drive: FakeDrive) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "demo", "private_key_id": "k1",
            "private_key": pem, "client_email": "mirror@demo.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": fake_drive.token_uri}


def test_service_account_mirrors_into_a_shared_drive(installed: Stack, fake_drive: FakeDrive,
                                                     tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    member_id = installed.portal()["member_id"]
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(_service_account_key(fake_drive)))
    stored = subprocess.run([sys.executable, "-m", "wiring", "drive", "service-account",
                             member_id, str(key_file)], env=installed.env, cwd=ROOT,
                            capture_output=True, text=True)
    assert stored.returncode == 0, stored.stderr
    assert "BEGIN" not in json.dumps(connection.status(services(installed), member_id))
    drive_id = fake_drive.add_shared_drive("Deals archive")
    services(installed).portal_settings.put(member_id, {
        "deal_folders": {"enabled": True},
        "drive_mirror": {"enabled": True, "shared_drive_id": drive_id}})
    deal_id, folder = deal_with_folder(installed)
    installed.control("POST", "disk/files", json={"folder_id": folder, "name": "act.pdf",
                                                  "size": 2048, "seed": 9})
    touch(installed, deal_id)
    installed.run_worker()
    (mirrored_file,) = [f for f in fake_drive.files if f["name"] == "act.pdf"]
    assert mirrored_file.get("driveId") == drive_id


def test_backfill_is_resumable(mirrored: Stack):
    import subprocess
    import sys

    from tests.conftest import ROOT

    member_id = mirrored.portal()["member_id"]

    def backfill(*extra: str) -> str:
        out = subprocess.run([sys.executable, "-m", "wiring", "drive", "backfill",
                              member_id, *extra], env=mirrored.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    total = int(mirrored.rest("crm.deal.list", {"select": ["ID"]}).json()["total"])
    assert f"queued {total} deals" in backfill()
    assert "queued 0 deals" in backfill()  # resumes after the last deal
    new_deal(mirrored)
    assert "queued 1 deals" in backfill()
    assert f"queued {total + 1} deals" in backfill("--restart")


# a portal an older version served -------------------------------------------------------
FOLDER_MIME = "application/vnd.google-apps.folder"


def as_older_version(stack: Stack, fake: FakeDrive, member_id: str) -> None:
    """Put back what the version before the CRM port wrote: its key names and Drive tags."""
    redis = stack.redis
    for capability, legacy in (("distribution", "dist"), ("deal_workspace", "deals"),
                               ("drive_mirror", "gdrive")):
        new = f"cc:{capability}:b24:{member_id}"
        for key in list(redis.scan_iter(f"{new}:*")):
            key = key.decode()
            if key.startswith(f"cc:drive_mirror:b24:{member_id}:file:") or key.startswith(
                    f"cc:drive_mirror:b24:{member_id}:folder:"):
                redis.delete(key)  # lost records: the version must find its files on Drive
                continue
            redis.rename(key, f"cc:{legacy}:{member_id}" + key[len(new):])
    with fake.state.lock:  # the tags that version wrote (b24=<member16>:<source>)
        for rec in fake.state.files.values():
            props = rec.app_props
            if "src" in props:
                rec.app_props = {"b24": props["src"].split(":", 1)[1], "b24v": props["srcv"]}
            elif "srcdeal" in props:
                rec.app_props = {"b24deal": props["srcdeal"].split(":", 1)[1]}
    redis.delete("cc:migrations:crm-neutral-keys")


def test_keys_move_once_and_drive_files_are_found_by_their_old_tags(mirrored: Stack,
                                                                     fake_drive: FakeDrive):
    member_id = mirrored.portal()["member_id"]
    deal_id, folder = deal_with_folder(mirrored)
    mirrored.control("POST", "disk/files", json={
        "folder_id": folder, "name": "act.pdf",
        "content_b64": base64.b64encode(b"inspection act").decode()})
    touch(mirrored, deal_id)
    mirrored.run_worker()
    uploads = [f for f in fake_drive.files if f["mimeType"] != FOLDER_MIME]
    assert len(uploads) == 1
    as_older_version(mirrored, fake_drive, member_id)
    assert mirrored.redis.exists(f"cc:gdrive:{member_id}:connection")
    assert mirrored.redis.exists(f"cc:deals:{member_id}:deal:{deal_id}")

    touch(mirrored, deal_id)
    mirrored.run_worker()  # the first worker of the deployment moves the keys, then works

    assert not list(mirrored.redis.scan_iter(f"cc:gdrive:{member_id}*"))
    assert not list(mirrored.redis.scan_iter(f"cc:deals:{member_id}*"))
    assert mirrored.redis.exists(f"cc:deal_workspace:b24:{member_id}:deal:{deal_id}")
    from robots.drive_mirror import connection

    assert connection.status(services(mirrored), member_id)["status"] == "connected"
    files = [f for f in fake_drive.files if f["mimeType"] != FOLDER_MIME]
    folders = [f for f in fake_drive.files if f["mimeType"] == FOLDER_MIME]
    assert len(files) == 1, "the file the older version uploaded was found, not copied again"
    assert len(folders) == 1, "and so was its deal folder"
    # a key already at its new place is never overwritten by a late legacy copy
    mirrored.redis.set(f"cc:deals:{member_id}:deal:{deal_id}", "stale")
    mirrored.redis.delete("cc:migrations:crm-neutral-keys")
    mirrored.run_worker()
    assert mirrored.redis.get(f"cc:deal_workspace:b24:{member_id}:deal:{deal_id}") != b"stale"
