"""CRM activities with Disk attachments and deal file user fields (downloads stream)."""

from __future__ import annotations

import base64
from urllib.parse import urljoin

import requests


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _auth(url: str, token: str) -> str:
    """Fill the empty ``auth=`` the portal leaves for the caller's own access token."""
    assert "auth=&" in url or url.endswith("auth="), url
    return url.replace("auth=", f"auth={token}", 1)


def _events(stub, name: str) -> list[dict]:
    return [r["form"] for r in stub.requests if r["form"].get("event") == name]


def test_activity_with_files_fires_events_and_lists_files(emu_url, emu_call, emu_app_stub,
                                                          emu_tokens):
    token = emu_tokens["access_token"]
    hook = f"{emu_app_stub.url}/events"
    for ev in ("ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYDELETE"):
        assert emu_call("event.bind", {"event": ev, "handler": hook}).json()["result"]
    assert emu_call("event.bind", {"event": "ONCRMACTIVITYADD", "event_type": "offline"}
                    ).json()["result"]
    disk_file = requests.post(f"{emu_url}/_emulator/disk/files",
                              json={"name": "invoice.pdf", "size": 300_000}).json()
    no_comm = emu_call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": 1, "TYPE_ID": 4, "SUBJECT": "Invoice"}})
    assert no_comm.status_code == 400 and no_comm.json()["error"] == "ERROR_CORE"
    bad_owner = emu_call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": 99999, "TYPE_ID": 6, "PROVIDER_ID": "REST_APP"}})
    assert bad_owner.status_code == 400
    aid = emu_call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": 1, "TYPE_ID": 4, "SUBJECT": "Invoice",
        "DESCRIPTION": "Please find attached", "DIRECTION": 1, "RESPONSIBLE_ID": 3,
        "COMMUNICATIONS": [{"VALUE": "client@mail.test", "ENTITY_ID": 1, "ENTITY_TYPE_ID": 3}],
        "STORAGE_TYPE_ID": 3, "STORAGE_ELEMENT_IDS": [disk_file["id"]],
        "FILES": [{"fileData": ["photo.jpg", _b64(b"\xff\xd8jpeg-bytes")]}],
    }}).json()["result"]
    emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMACTIVITYADD")
    assert _events(emu_app_stub, "ONCRMACTIVITYADD")[0]["data"]["FIELDS"]["ID"] == str(aid)
    got = emu_call("crm.activity.get", {"id": aid}).json()["result"]
    assert got["OWNER_TYPE_ID"] == "2" and got["OWNER_ID"] == "1" and got["TYPE_ID"] == "4"
    assert got["PROVIDER_ID"] == "CRM_EMAIL" and got["DIRECTION"] == "1"
    assert got["RESPONSIBLE_ID"] == "3" and got["COMPLETED"] == "N"
    assert got["BINDINGS"] == [{"OWNER_ID": "1", "OWNER_TYPE_ID": "2"}]
    assert got["COMMUNICATIONS"][0]["TYPE"] == "EMAIL"
    files = got["FILES"]
    assert [f["id"] for f in files][0] == disk_file["id"] and len(files) == 2
    assert requests.get(_auth(files[1]["url"], token)).content == b"\xff\xd8jpeg-bytes"
    first = requests.get(_auth(files[0]["url"], token))
    assert first.status_code == 200 and len(first.content) == 300_000
    # without a token the portal sends its login page (a redirect), never the file
    bare = requests.get(files[0]["url"], allow_redirects=False)
    assert bare.status_code == 302 and "/auth/" in bare.headers["Location"]
    # the uploaded attachment lives in the responsible user's "Uploaded files" folder
    photo = emu_call("disk.file.get", {"id": files[1]["id"]}).json()["result"]
    folder = emu_call("disk.folder.get", {"id": photo["PARENT_ID"]}).json()["result"]
    assert folder["NAME"] == "Uploaded files"
    # a second activity through the control API (an e-mail arriving), then list by owner
    ctl = requests.post(f"{emu_url}/_emulator/crm/activity", json={"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": 1, "TYPE_ID": 6, "PROVIDER_ID": "IMOPENLINES_SESSION",
        "SUBJECT": "Chat", "STORAGE_ELEMENT_IDS": [photo["ID"]]}}).json()
    assert ctl["fields"]["FILES"][0]["id"] == photo["ID"]
    listed = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2, "OWNER_ID": 1},
                                            "order": {"ID": "ASC"}}).json()
    assert listed["total"] == 2 and [r["ID"] for r in listed["result"]] == [str(aid),
                                                                             str(ctl["id"])]
    assert len(listed["result"][0]["FILES"]) == 2
    by_type = emu_call("crm.activity.list", {"filter": {"TYPE_ID": 6}}).json()
    assert [r["ID"] for r in by_type["result"]] == [str(ctl["id"])]
    assert emu_call("crm.activity.update", {"id": aid, "fields": {"COMPLETED": "Y"}}
                    ).json()["result"] is True
    done = emu_call("crm.activity.get", {"id": aid}).json()["result"]
    assert done["COMPLETED"] == "Y" and done["STATUS"] == "2"
    assert emu_call("crm.activity.delete", {"id": ctl["id"]}).json()["result"] is True
    emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMACTIVITYDELETE")
    upd = _events(emu_app_stub, "ONCRMACTIVITYUPDATE")
    assert upd and upd[0]["data"]["FIELDS"]["ID"] == str(aid)
    offline = emu_call("event.offline.get", {"clear": 0}).json()["result"]
    assert {e["EVENT_DATA"]["FIELDS"]["ID"] for e in offline["events"]} >= {aid, ctl["id"]}
    assert emu_call("crm.activity.fields").json()["result"]["FILES"]["isMultiple"] is True


def test_deal_file_field_download_url_streams(emu_url, emu_call, emu_tokens):
    for name, utype, multiple in (("DOCS", "file", "Y"), ("CONTRACT", "file", "N"),
                                  ("FOLDER_URL", "url", "N")):
        res = emu_call("crm.deal.userfield.add", {"fields": {
            "FIELD_NAME": name, "USER_TYPE_ID": utype, "MULTIPLE": multiple}})
        assert res.status_code == 200, res.text
    deal = emu_call("crm.deal.add", {"fields": {
        "TITLE": "With files", "UF_CRM_FOLDER_URL": "https://demo.bitrix24.test/docs/path/x",
        "UF_CRM_CONTRACT": {"fileData": ["contract.pdf", _b64(b"%PDF-contract")]},
        "UF_CRM_DOCS": [{"fileData": ["a.txt", _b64(b"alpha")]},
                        {"fileData": ["b.txt", _b64(b"beta")]}],
    }}).json()["result"]
    got = emu_call("crm.deal.get", {"id": deal}).json()["result"]
    assert got["UF_CRM_FOLDER_URL"] == "https://demo.bitrix24.test/docs/path/x"
    contract = got["UF_CRM_CONTRACT"]
    assert set(contract) == {"id", "showUrl", "downloadUrl"} and isinstance(contract["id"], int)
    # like the real portal the links are portal-relative: join them with the portal address
    base = emu_tokens["client_endpoint"].rsplit("/rest/", 1)[0] + "/"
    assert contract["downloadUrl"].startswith("/bitrix/components/bitrix/crm.deal.show/")
    token = emu_tokens["access_token"]

    def url(value: dict) -> str:
        return urljoin(base, _auth(value["downloadUrl"], token))

    dl = requests.get(url(contract))
    assert dl.status_code == 200 and dl.content == b"%PDF-contract"
    assert dl.headers["Content-Type"] == "application/pdf"
    login = requests.get(urljoin(base, contract["showUrl"]), allow_redirects=False)
    assert login.status_code == 302  # no token: the login page
    assert requests.get(login.headers["Location"]).headers["Content-Type"].startswith(
        "text/html")
    docs = got["UF_CRM_DOCS"]
    assert [requests.get(url(d)).content for d in docs] == [b"alpha", b"beta"]
    # keep one file by id, replace the single one; the removed file's link stops working
    old_url = url(docs[1])
    emu_call("crm.deal.update", {"id": deal, "fields": {
        "UF_CRM_DOCS": [{"id": docs[0]["id"]}],
        "UF_CRM_CONTRACT": {"fileData": ["v2.pdf", _b64(b"%PDF-v2")]}}})
    again = emu_call("crm.deal.get", {"id": deal}).json()["result"]
    assert [d["id"] for d in again["UF_CRM_DOCS"]] == [docs[0]["id"]]
    assert again["UF_CRM_CONTRACT"]["id"] != contract["id"]
    assert requests.get(old_url).status_code == 404
    listed = emu_call("crm.deal.list", {"filter": {"ID": deal},
                                        "select": ["ID", "UF_CRM_CONTRACT"]}).json()
    assert requests.get(url(listed["result"][0]["UF_CRM_CONTRACT"])).content == b"%PDF-v2"
    emu_call("crm.deal.delete", {"id": deal})
    assert requests.get(url(again["UF_CRM_CONTRACT"])).status_code == 404
