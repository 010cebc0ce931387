"""The file's bytes go only to an upload address on the portal's own host."""

from __future__ import annotations

import pytest

from connector.bitrix.rest import same_portal

ENDPOINT = "https://romashka.bitrix24.ru/rest/"


@pytest.mark.parametrize(("url", "ok"), [
    # the shape of the uploadUrl in api-reference/disk/folder/disk-folder-upload-file.md
    ("https://romashka.bitrix24.ru/rest/upload.json?auth=929b&token=disk%7CaWQ9", True),
    ("https://elsewhere.example/rest/upload.json?token=disk%7C", False),
    ("https://romashka.bitrix24.ru.evil.example/rest/upload.json", False),
    ("http://romashka.bitrix24.ru/rest/upload.json", False),  # no downgrade from https
    ("/rest/upload.json?token=x", False),  # a relative address names no host
])
def test_only_the_portals_own_host(url: str, ok: bool):
    assert same_portal(url, ENDPOINT) is ok


def test_a_plain_http_endpoint_may_upload_over_http():
    assert same_portal("http://127.0.0.1:5000/rest/upload.json", "http://127.0.0.1:5000/rest/")
