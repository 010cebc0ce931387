"""Uploads through the CRM port's Bitrix24 adapter, against the emulator over HTTP: a made
document goes up in two requests (uploadUrl + a multipart POST), comes back byte-equal, gets
a unique name or AlreadyExists, and a new version keeps the file's id."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from docx import Document
from docx.shared import Cm

from connector.bitrix.adapter import BitrixCrm
from connector.crm import port as crm
from tests.conftest import Stack

NAME = "Договор №12 от 02.12.2026.docx"


def port(stack: Stack) -> BitrixCrm:
    services = stack.app.extensions["connector"]
    return BitrixCrm(services.client(stack.portal()["member_id"]), stack.portal()["domain"])


def last_n(stack: Stack) -> int:
    return max((e["n"] for e in stack.control("GET", "log")), default=0)


def requests_made(stack: Stack, since: int) -> list[str]:
    return [e["method"] for e in stack.control("GET", "log") if e["n"] > since]


def png(width: int, height: int, seed: int) -> bytes:
    """A real PNG of noise (it does not compress, so the document keeps its size)."""
    rnd = random.Random(seed)
    rows = b"".join(b"\x00" + rnd.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def contract(seed: int = 1) -> bytes:
    """A .docx of a few hundred KB: Russian text, a table and a scanned-stamp picture."""
    doc = Document()
    doc.add_heading("Договор поставки № 12", level=1)
    for n in range(1, 41):
        doc.add_paragraph(f"{n}. Поставщик обязуется передать в собственность Покупателя "
                          "товар, а Покупатель — принять и оплатить его в порядке и в сроки, "
                          "установленные настоящим Договором.")
    table = doc.add_table(rows=1, cols=3)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Товар", "Кол-во"
    doc.add_picture(io.BytesIO(png(300, 300, seed)), width=Cm(5))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.fixture
def folder(installed: Stack) -> crm.Folder:
    p = port(installed)
    made, _created = p.subfolder(p.storage_root("common"), "Сделка 12 — Ромашка")
    return made


def test_a_document_goes_up_in_two_requests_and_comes_back_byte_equal(installed: Stack,
                                                                      folder: crm.Folder):
    data = contract()
    assert 250_000 < len(data) < 400_000
    p = port(installed)
    n, sent = last_n(installed), p.rest.http_requests
    entry = p.upload(folder.id, NAME, data)
    assert requests_made(installed, n) == ["disk.folder.uploadfile", "disk.upload"]
    assert p.rest.http_requests - sent == 2  # the POST is counted like any request
    assert (entry.name, entry.size, entry.is_folder, entry.deleted) == (NAME, len(data),
                                                                       False, False)
    assert entry.url == f"https://{installed.portal()['domain']}/docs/file/{folder.name}/{NAME}"
    got = p.file(entry.id)
    assert (got.id, got.name, got.size, got.url) == (entry.id, NAME, len(data), entry.url)
    with p.download(got.download_url, got.size) as resp:
        body = resp.content
    assert body == data
    assert Document(io.BytesIO(body)).paragraphs[0].text == "Договор поставки № 12"
    assert [f.id for f in p.folder_files(folder.id)] == [entry.id]


def test_a_taken_name_is_made_unique_or_refused(installed: Stack, folder: crm.Folder):
    p = port(installed)
    first = p.upload(folder.id, NAME, b"first")
    second = p.upload(folder.id, NAME, b"second")
    assert second.name == "Договор №12 от 02.12.2026 (1).docx" and second.id != first.id
    with pytest.raises(crm.AlreadyExists):
        p.upload(folder.id, NAME, b"third", unique=False)
    kept = {f.name: f.size for f in p.folder_files(folder.id)}
    assert kept == {NAME: 5, second.name: 6}  # the refused one left nothing behind
    with p.download(p.file(first.id).download_url) as resp:
        assert resp.content == b"first"


def test_a_folder_in_the_trash_or_deleted_is_not_found(installed: Stack, folder: crm.Folder):
    p = port(installed)
    installed.rest("disk.folder.markdeleted", {"id": folder.id})
    with pytest.raises(crm.NotFound):
        p.upload(folder.id, NAME, b"x")
    installed.rest("disk.folder.deletetree", {"id": folder.id})
    with pytest.raises(crm.NotFound):
        p.upload(folder.id, NAME, b"x")
    with pytest.raises(crm.NotFound):
        p.upload_version(987654, b"x", NAME)


def test_a_new_version_keeps_the_id_and_changes_the_version(installed: Stack,
                                                            folder: crm.Folder):
    p = port(installed)
    first = p.upload(folder.id, NAME, contract(1))
    remade = contract(2)
    n = last_n(installed)
    again = p.upload_version(first.id, remade, NAME)
    assert requests_made(installed, n) == ["disk.file.uploadversion"]
    assert (again.id, again.name, again.size) == (first.id, NAME, len(remade))
    assert again.version != first.version and again.url == first.url
    with p.download(p.file(first.id).download_url, len(remade)) as resp:
        assert resp.content == remade
    versions = installed.rest("disk.file.getversions", {"id": first.id}).json()["result"]
    assert len(versions) == 2
    # without a name it keeps its own (read first); with another one it is renamed
    n = last_n(installed)
    kept = p.upload_version(first.id, b"v3")
    assert requests_made(installed, n) == ["disk.file.get", "disk.file.uploadversion"]
    assert kept.name == NAME and kept.size == 2
    renamed = p.upload_version(first.id, b"v4", "Договор №12 (исправленный).docx")
    assert (renamed.id, renamed.name) == (first.id, "Договор №12 (исправленный).docx")
    assert p.file(first.id).name == renamed.name
    other = p.upload(folder.id, "Акт.docx", b"act")
    with pytest.raises(crm.AlreadyExists):  # the name is taken: the content is in, the name stays
        p.upload_version(other.id, b"act, remade", renamed.name)
    assert (p.file(other.id).name, p.file(other.id).size) == ("Акт.docx", len(b"act, remade"))


def test_failures_in_neutral_terms(installed: Stack, folder: crm.Folder):
    p = port(installed)
    installed.control("POST", "faults", json={"method": "disk.upload",
                                              "error": "INTERNAL_SERVER_ERROR", "count": 1})
    with pytest.raises(crm.CrmRetryable):  # the outcome is unknown: not retried in place
        p.upload(folder.id, NAME, b"x")
    installed.control("POST", "faults", json={"method": "disk.folder.uploadfile",
                                              "error": "ACCESS_DENIED", "count": 1})
    with pytest.raises(crm.AccessDenied):
        p.upload(folder.id, NAME, b"x")
    assert p.folder_files(folder.id) == []
    with pytest.raises(crm.CrmPermanent, match="BX_INVALID_VALUE"):
        p.upload(folder.id, "a/b.docx", b"x")  # Disk refuses the name before any upload


def test_a_rate_refusal_of_the_post_is_retried_in_place(installed: Stack, folder: crm.Folder):
    p = port(installed)
    installed.control("POST", "faults", json={"method": "disk.upload",
                                              "error": "QUERY_LIMIT_EXCEEDED", "count": 1})
    n = last_n(installed)
    entry = p.upload(folder.id, NAME, b"after a refusal")
    assert requests_made(installed, n) == ["disk.folder.uploadfile", "disk.upload",
                                           "disk.upload"]
    assert [f.id for f in p.folder_files(folder.id)] == [entry.id]


def test_an_upload_address_whose_token_expired_is_asked_for_again(installed: Stack,
                                                                  folder: crm.Folder):
    p = port(installed)
    installed.control("POST", "faults", json={"method": "disk.upload",
                                              "error": "expired_token", "count": 1})
    n = last_n(installed)
    entry = p.upload(folder.id, NAME, b"fresh")
    assert requests_made(installed, n) == ["disk.folder.uploadfile", "disk.upload",
                                           "disk.folder.uploadfile", "disk.upload"]
    assert [(f.id, f.name) for f in p.folder_files(folder.id)] == [(entry.id, NAME)]


def test_an_expired_token_is_refreshed_before_the_upload(installed: Stack, folder: crm.Folder):
    p = port(installed)
    installed.control("POST", "expire-tokens", json={})
    entry = p.upload(folder.id, NAME, b"after refresh")
    with p.download(p.file(entry.id).download_url) as resp:
        assert resp.content == b"after refresh"


@pytest.mark.parametrize("emulator_overrides", [
    {"scopes": "crm,user,department,bizproc,placement,im,task,calendar"}])
def test_without_the_disk_scope_the_error_says_so(installed: Stack):
    with pytest.raises(crm.MissingScope):
        port(installed).upload(1, NAME, b"x")
    with pytest.raises(crm.MissingScope):
        port(installed).upload_version(1, b"x", NAME)
