"""open_download fills the empty auth= with our token and takes only the file itself."""

from __future__ import annotations

import base64

import pytest
import requests

from connector.bitrix.files import (
    DownloadRefused,
    FileGone,
    SizeMismatch,
    open_download,
    with_token,
)
from tests.conftest import Stack


@pytest.fixture
def deal_files(installed: Stack) -> dict:
    installed.rest("crm.deal.userfield.add", {"fields": {
        "FIELD_NAME": "RP_CONTRACT", "USER_TYPE_ID": "file", "MULTIPLE": "N"}})
    data = base64.b64encode(b"%PDF-contract").decode()
    deal = installed.rest("crm.deal.add", {"fields": {
        "TITLE": "With a file", "UF_CRM_RP_CONTRACT": {"fileData": ["c.pdf", data]}}}).json()
    got = installed.rest("crm.deal.get", {"id": deal["result"]}).json()["result"]
    services = installed.app.extensions["connector"]
    client = services.client(installed.portal()["member_id"])
    return {"deal": deal["result"], "value": got["UF_CRM_RP_CONTRACT"], "client": client,
            "session": services.session}


def test_a_file_field_link_is_fetched_with_our_token(deal_files):
    url = deal_files["value"]["downloadUrl"]
    assert "auth=&" in url  # as the docs print it: the caller fills it in
    resp = open_download(deal_files["session"], deal_files["client"], url, 13, 10)
    with resp:
        assert resp.content == b"%PDF-contract"


def test_a_wrong_declared_size_is_refused(deal_files):
    with pytest.raises(SizeMismatch):
        open_download(deal_files["session"], deal_files["client"],
                      deal_files["value"]["downloadUrl"], 999, 10)


def test_a_deleted_file_is_gone(installed: Stack, deal_files):
    installed.rest("crm.deal.delete", {"id": deal_files["deal"]})
    with pytest.raises(FileGone):
        open_download(deal_files["session"], deal_files["client"],
                      deal_files["value"]["downloadUrl"], 13, 10)


def test_a_login_redirect_is_never_followed(installed: Stack, deal_files):
    installed.control("POST", "expire-tokens", json={})  # our stored copy still looks fresh
    with pytest.raises(DownloadRefused, match="login"):
        open_download(deal_files["session"], deal_files["client"],
                      deal_files["value"]["downloadUrl"], 13, 10)


def test_a_web_page_is_not_a_file(installed: Stack, deal_files):
    with pytest.raises(DownloadRefused, match="web page"):
        open_download(deal_files["session"], deal_files["client"], "/auth/", None, 10)


def test_our_token_goes_only_to_the_portal(deal_files):
    with pytest.raises(DownloadRefused, match="away from the portal"):
        open_download(deal_files["session"], deal_files["client"],
                      "https://elsewhere.example/file?auth=", None, 10)


def test_an_activity_file_link_is_fetched_with_our_token(installed: Stack, deal_files):
    disk_file = installed.control("POST", "disk/files", json={"name": "a.bin", "size": 5000})
    aid = installed.rest("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal_files["deal"], "TYPE_ID": 6,
        "PROVIDER_ID": "REST_APP", "SUBJECT": "x", "STORAGE_TYPE_ID": 3,
        "STORAGE_ELEMENT_IDS": [disk_file["id"]]}}).json()["result"]
    got = installed.rest("crm.activity.get", {"id": aid}).json()["result"]
    url = got["FILES"][0]["url"]
    assert url.endswith("&auth=")
    assert requests.get(url, allow_redirects=False, timeout=10).status_code == 302
    with open_download(deal_files["session"], deal_files["client"], url, 5000, 10) as resp:
        assert len(resp.content) == 5000


def test_with_token_keeps_a_token_already_there():
    base = "https://p.bitrix24.ru/"
    assert with_token("/x?auth=&a=1", base, "T") == "https://p.bitrix24.ru/x?a=1&auth=T"
    assert with_token("https://p.bitrix24.ru/rest/download.json?auth=OLD&token=t", base,
                      "T") == "https://p.bitrix24.ru/rest/download.json?auth=OLD&token=t"
