"""The amoCRM port's files against the emulator over HTTP: a lead's files from its Files tab
and its attachment notes, facts, streamed downloads, uploads, versions, folders."""

from __future__ import annotations

import threading

import pytest

from connector.amocrm.adapter import AmoCrm
from connector.amocrm.adapter_files import FOLDER, ROOT, folder_kind, unique_name
from connector.crm import port as p
from robots.drive_mirror.mirror import activity_sources


@pytest.fixture
def amo(world):
    member = world.connect()
    port = AmoCrm(world.amo.client(member), world.acc.domain, None, world.redis, "t")
    lead = world.emu.create_lead(world.acc.id, name="Ремонт КПП")["id"]
    return world, port, lead


def _upload(world, name: str, content: bytes) -> str:
    return world.emu.upload_file(world.acc.id, name, content)["uuid"]


def _note(world, lead: int, uuid: str) -> int:
    return world.emu.add_note(world.acc.id, "leads", lead, note_type="attachment",
                              params={"file_uuid": uuid})["id"]


def _stream(port: AmoCrm, entry: p.FileEntry) -> bytes:
    with port.download(entry.download_url, entry.size) as resp:
        return b"".join(resp.iter_content(1000))


def _read(port: AmoCrm, query: p.Query):
    return port.read({"q": query}).get("q")


# pure -----------------------------------------------------------------------------------
def test_unique_names_are_the_first_free_variant():
    assert unique_name("Счёт.docx", ["акт.docx"]) == "Счёт.docx"
    assert unique_name("Счёт.docx", ["счёт.docx", "Счёт (1).docx"]) == "Счёт (2).docx"
    assert unique_name("README", ["README"]) == "README (1)"
    assert unique_name(".env", [".env"]) == ".env (1)"


def test_folder_ids_say_what_they_are():
    assert folder_kind(1 * FOLDER + 17) == ("leads", 17)
    assert folder_kind(3 * FOLDER + 5) == ("companies", 5)
    assert folder_kind(ROOT) == ("root", 0)
    for bad in (17, 1 * FOLDER, 5 * FOLDER + 1):
        with pytest.raises(ValueError):
            folder_kind(bad)


# a lead's files -----------------------------------------------------------------------------
def test_a_leads_files_come_from_its_files_tab_and_its_notes_each_once(amo):
    world, port, lead = amo
    tab = _upload(world, "смета.xlsx", b"tab only")
    noted = _upload(world, "фото.jpg", b"note only")
    both = _upload(world, "акт.pdf", b"tab and note")
    for uuid in (tab, both):
        world.emu.link_file(world.acc.id, "leads", lead, uuid)
    for uuid in (noted, both):
        _note(world, lead, uuid)
    world.emu.add_note(world.acc.id, "leads", lead, "a plain comment")

    folder = port.item_folder(p.ItemRef("deal", lead))
    entries = _read(port, p.FolderChildren(folder.id))
    assert sorted(e.name for e in entries) == ["акт.pdf", "смета.xlsx", "фото.jpg"]
    assert len({e.id for e in entries}) == 3 and not any(e.is_folder for e in entries)
    assert folder.url == f"https://{world.acc.domain}/leads/detail/{lead}"

    acts = _read(port, p.ItemActivities(p.ItemRef("deal", lead)))
    assert [a["kind"] for a in acts] == ["attachment", "attachment", "files"]
    assert all(a["owner_type"] == 2 and a["owner_id"] == lead for a in acts)
    files = [f for a in acts for f in a["files"]]
    assert sorted(files) == sorted(e.id for e in entries)  # each once, none left out
    # the Drive mirror's own reading of them: every file of the lead once, as a CRM file
    sources = {s.key for s in activity_sources(acts)}
    assert sources == {f"disk:{e.id}" for e in entries}
    assert port.folder_files(folder.id) == port.walk(entries, 5) and len(entries) == 3


def test_a_note_is_an_activity_with_its_file(amo):
    world, port, lead = amo
    uuid = _upload(world, "договор.pdf", b"%PDF-1.4")
    note = _note(world, lead, uuid)
    act = _read(port, p.GetActivity(note))
    assert act == {"id": note, "kind": "attachment", "owner_type": 2, "owner_id": lead,
                   "files": [port.file_id(uuid)]}
    reading = port.read({"gone": p.GetActivity(note + 1000)})
    assert isinstance(reading.errors["gone"], p.NotFound)


def test_file_facts_and_a_streamed_download_of_the_same_bytes(amo):
    world, port, lead = amo
    content = bytes(range(256)) * 3000  # 768000 bytes: more than one upload part
    model = world.emu.upload_file(world.acc.id, "скан.pdf", content, "application/pdf")
    entry = port.file(port.file_id(model["uuid"]))
    assert (entry.name, entry.size, entry.version) == ("скан.pdf", len(content),
                                                       model["version_uuid"])
    assert not entry.deleted and not entry.is_folder
    assert entry.download_url == model["_links"]["download_version"]["href"]
    assert entry.url == model["_links"]["download"]["href"]
    with port.download(entry.download_url, entry.size) as resp:
        assert int(resp.headers["Content-Length"]) == len(content)
        assert b"".join(resp.iter_content(64 * 1024)) == content
    with pytest.raises(p.CrmRetryable):  # the declared size is not what comes
        port.download(entry.download_url, entry.size + 1)
    with pytest.raises(p.CrmPermanent):  # our token goes only to amoCRM's hosts
        port.download("https://files.example.com/x.pdf")


def test_one_uuid_gets_one_number_whoever_asks_first(amo):
    world, port, _ = amo
    uuid = _upload(world, "a.txt", b"a")
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(port.file_id(uuid)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and port.file_uuid(got[0]) == uuid
    assert port.file_id(_upload(world, "b.txt", b"b")) != got[0]


# uploads -------------------------------------------------------------------------------------
def test_an_upload_into_a_leads_folder_is_on_the_lead(amo):
    world, port, lead = amo
    folder = port.item_folder(p.ItemRef("deal", lead)).id
    assert _read(port, p.FolderChildren(folder)) == []  # read (and kept in seen) before
    made = port.upload(folder, "Счёт № 7.docx", b"docx bytes")
    assert made.name == "Счёт № 7.docx" and made.size == 10
    assert world.emu.entity_files(world.acc.id, "leads", lead) == [port.file_uuid(made.id)]
    assert [e.id for e in _read(port, p.FolderChildren(folder))] == [made.id]
    assert _stream(port, port.file(made.id)) == b"docx bytes"


def test_a_taken_name_gets_a_variant_or_is_refused(amo):
    world, port, lead = amo
    folder = port.item_folder(p.ItemRef("deal", lead)).id
    first = port.upload(folder, "Акт.docx", b"1")
    second = port.upload(folder, "Акт.docx", b"2")
    assert (first.name, second.name) == ("Акт.docx", "Акт (1).docx")
    with pytest.raises(p.AlreadyExists):
        port.upload(folder, "акт.docx", b"3", unique=False)
    assert len(world.emu.entity_files(world.acc.id, "leads", lead)) == 2


def test_a_new_version_keeps_the_id_and_changes_the_version(amo):
    world, port, lead = amo
    folder = port.item_folder(p.ItemRef("deal", lead)).id
    made = port.upload(folder, "Договор № 3.docx", b"first")
    other = port.upload(folder, "Акт № 3.docx", b"act")
    again = port.upload_version(made.id, b"second, longer")
    assert again.id == made.id and again.version != made.version
    assert (again.name, again.size) == ("Договор № 3.docx", 14)
    assert _stream(port, port.file(made.id)) == b"second, longer"
    renamed = port.upload_version(made.id, b"third", "Договор № 3 (версия 2).docx")
    assert renamed.name == "Договор № 3 (версия 2).docx" and renamed.version != again.version
    with pytest.raises(p.AlreadyExists):  # another file of the lead has that name
        port.upload_version(made.id, b"fourth", other.name)
    kept = port.file(made.id)
    assert kept.name == "Договор № 3 (версия 2).docx" and kept.size == len(b"fourth")
    assert len(world.emu.file(port.file_uuid(made.id))["versions"]) == 4


def test_a_missing_or_trashed_file_is_not_found(amo):
    world, port, lead = amo
    with pytest.raises(p.NotFound):
        port.file(987_654)
    folder = port.item_folder(p.ItemRef("deal", lead)).id
    made = port.upload(folder, "удалить.txt", b"x")
    drive = port.client.drive_url()
    port.client.delete(f"{drive}/v1.0/files", [{"uuid": port.file_uuid(made.id)}])
    assert port.file(made.id).deleted  # in the trash: the mirror keeps its copy
    assert _read(port, p.FolderChildren(folder)) == []
    with pytest.raises(p.NotFound):
        port.upload_version(made.id, b"y")
    world.emu.state.files.pop(port.file_uuid(made.id))  # gone from the account for good
    with pytest.raises(p.NotFound):
        port.file(made.id)


# folders (the documents' flow) ------------------------------------------------------------
def test_named_folders_under_the_root_hold_what_is_put_there(amo):
    world, port, lead = amo
    root = port.storage_root("common")
    top, created = port.subfolder(root, "Документы")
    assert created and port.subfolder(root, "Документы") == (top, False)
    own, _ = port.subfolder(top.id, f"Сделка {lead}")
    assert port.find_subfolder(top.id, f"Сделка {lead}") == own
    assert port.find_subfolder(top.id, "нет такой") is None
    made = port.upload(own.id, "Счёт № 1.docx", b"doc")
    assert [e.name for e in _read(port, p.FolderChildren(own.id))] == ["Счёт № 1.docx"]
    assert [e.id for e in port.folder_files(root)] == [made.id]
    assert world.emu.entity_files(world.acc.id, "leads", lead) == []  # on no card
    assert port.upload(own.id, "Счёт № 1.docx", b"doc 2").name == "Счёт № 1 (1).docx"
    done = port.apply({"dup": p.CreateFolder(top.id, f"Сделка {lead}"),
                       "new": p.CreateFolder(top.id, "Архив")})
    assert isinstance(done.errors["dup"], p.AlreadyExists) and done.values["new"].id > own.id
    with pytest.raises(p.NotFound):
        port.storage_root("17")
    with pytest.raises(p.CrmPermanent):
        port.subfolder(port.item_folder(p.ItemRef("deal", lead)).id, "sub")
    assert isinstance(port.read({"x": p.FolderChildren(8 * FOLDER + 999)}).errors["x"],
                      p.NotFound)


# attachments (file custom fields) ---------------------------------------------------------
def test_file_fields_are_the_leads_attachments(amo):
    world, port, _ = amo
    field = world.emu.add_field(world.acc.id, "leads", "Скан паспорта", "file")["id"]
    model = world.emu.upload_file(world.acc.id, "паспорт.jpg", b"jpeg")
    value = {"file_uuid": model["uuid"], "version_uuid": model["version_uuid"],
             "file_name": "паспорт.jpg", "file_size": 4}
    lead = world.emu.create_lead(world.acc.id, name="С файлом", custom_fields_values=[
        {"field_id": field, "values": [{"value": value}]}])["id"]
    got = port.attachments_of(lead)
    assert got == [p.Attachment(str(field), model["version_uuid"],
                                model["_links"]["download_version"]["href"])]
    with port.download(got[0].url) as resp:
        assert resp.content == b"jpeg"
