"""Files and documents on amoCRM through the same capability code as on Bitrix24: a manager
adds a photo to a lead (an attachment note, a file on the lead's Files tab), amoCRM posts
its webhook, and the Drive mirror copies it to the deal's Google Drive folder (a new version
as a revision); an admin's pipeline step makes a document, numbers it in the registry (an
amoCRM catalog), files it on the lead's Files tab and links it in the lead."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from datetime import date
from typing import Any

import pytest
import requests

from connector.amocrm.adapter_files import card_folder
from fakedrive import FakeDrive
from robots.drive_mirror import connection
from tests.amoflow.conftest import AmoStack

pytestmark = pytest.mark.fake_drive

FOLDER_MIME = "application/vnd.google-apps.folder"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG's first bytes, then data
PHOTO_V2 = b"\xff\xd8\xff\xe0" + bytes(reversed(range(256))) * 50


def connect_google(s: AmoStack) -> None:
    """The admin's path: the signed link the app's Drive page gives the admin (an amoCRM
    account's record names no installing user, so the viewer's id is given) → consent →
    callback."""
    token = connection.connect_token(s.services, s.member, user_id=str(s.acc.admin_id))
    resp = requests.get(f"{s.app_url}/google/connect?t={token}", timeout=10)
    assert resp.status_code == 200 and "Google Диск подключён" in resp.text, resp.text
    assert connection.status(s.services, s.member)["status"] == "connected"


@pytest.fixture
def mirrored(connected: AmoStack, fake_drive: FakeDrive) -> AmoStack:
    connected.configure("drive_mirror", enabled=True)
    connect_google(connected)
    return connected


def on_drive(drive: FakeDrive) -> list[dict[str, Any]]:
    return [f for f in drive.files if f["mimeType"] != FOLDER_MIME]


def notes_of(s: AmoStack, lead_id: int) -> list[str]:
    return [str((n.get("params") or {}).get("text") or "")
            for n in s.emu.notes(s.acc.id, "leads", lead_id) if n["note_type"] == "common"]


def field_of(s: AmoStack, lead_id: int, code: str) -> Any:
    lead = s.emu.lead(s.acc.id, lead_id) or {}
    for f in lead.get("custom_fields_values") or []:
        if f.get("field_code") == code:
            return (f.get("values") or [{}])[0].get("value")
    return None


# the Drive mirror ---------------------------------------------------------------------------
def test_a_photo_noted_on_a_lead_lands_in_its_drive_folder_and_a_new_version_is_a_revision(
        mirrored: AmoStack, fake_drive: FakeDrive):
    s = mirrored
    lead = s.emu.create_lead(s.acc.id, name="Вмятина на двери", price=18000)["id"]
    s.run_worker()
    photo = s.emu.upload_file(s.acc.id, "дверь.jpg", PHOTO, "image/jpeg")
    s.emu.add_note(s.acc.id, "leads", lead, note_type="attachment",
                   params={"file_uuid": photo["uuid"], "file_name": "дверь.jpg"})  # note_lead
    s.run_worker()
    (copied,) = on_drive(fake_drive)
    assert copied["name"] == "дверь.jpg"
    assert copied["md5Checksum"] == hashlib.md5(PHOTO).hexdigest()
    assert int(copied["size"]) == len(PHOTO)
    (folder,) = [f for f in fake_drive.files if f["id"] in copied["parents"]]
    assert folder["name"] == f"{lead} Вмятина на двери"
    assert folder["appProperties"]["srcdeal"] == f"amo:{s.acc.id}:{lead}"

    s.emu.update_lead(s.acc.id, lead, price=19000)  # nothing new: nothing copied again
    s.run_worker()
    (again,) = on_drive(fake_drive)
    assert len(again["revisions"]) == 1

    s.emu.upload_file(s.acc.id, "дверь.jpg", PHOTO_V2, "image/jpeg", file_uuid=photo["uuid"])
    s.emu.update_lead(s.acc.id, lead, price=20000)  # the manager edits the lead: update_lead
    s.run_worker()
    (revised,) = on_drive(fake_drive)  # the same Drive file, a second revision
    assert revised["id"] == copied["id"]
    assert [r["md5Checksum"] for r in revised["revisions"]] == [
        hashlib.md5(PHOTO).hexdigest(), hashlib.md5(PHOTO_V2).hexdigest()]


def test_a_file_on_the_leads_files_tab_is_mirrored_once_beside_the_noted_one(
        mirrored: AmoStack, fake_drive: FakeDrive):
    s = mirrored
    lead = s.emu.create_lead(s.acc.id, name="Замена стекла")["id"]
    s.run_worker()
    noted = s.emu.upload_file(s.acc.id, "скол.jpg", PHOTO, "image/jpeg")
    s.emu.add_note(s.acc.id, "leads", lead, note_type="attachment",
                   params={"file_uuid": noted["uuid"]})
    s.emu.link_file(s.acc.id, "leads", lead, noted["uuid"])  # on the Files tab as well
    tab = s.emu.upload_file(s.acc.id, "смета.pdf", b"%PDF-1.4 estimate", "application/pdf")
    s.emu.link_file(s.acc.id, "leads", lead, tab["uuid"])
    s.emu.update_lead(s.acc.id, lead, price=7000)
    s.run_worker()
    names = sorted(f["name"] for f in on_drive(fake_drive))
    assert names == ["скол.jpg", "смета.pdf"]  # each file once, however the card shows it
    s.emu.update_lead(s.acc.id, lead, price=7500)
    s.run_worker()
    assert sorted(f["name"] for f in on_drive(fake_drive)) == names


def test_a_photo_of_a_lead_in_a_pipeline_not_mirrored_stays_in_amocrm(
        mirrored: AmoStack, fake_drive: FakeDrive):
    s = mirrored
    other = s.emu.add_pipeline(s.acc.id, "Страховые", ["Заявка", "Осмотр"])
    s.configure("drive_mirror", category_ids=[next(
        p["id"] for p in s.emu.account(s.acc.id).pipelines.values() if p["is_main"])])
    lead = s.emu.create_lead(s.acc.id, name="ОСАГО", pipeline_id=other["id"])["id"]
    main = s.emu.create_lead(s.acc.id, name="Покраска крыла")["id"]
    s.run_worker()
    for target, name in ((lead, "осмотр.jpg"), (main, "крыло.jpg")):
        photo = s.emu.upload_file(s.acc.id, name, PHOTO, "image/jpeg")
        s.emu.add_note(s.acc.id, "leads", target, note_type="attachment",
                       params={"file_uuid": photo["uuid"]})
    s.run_worker()
    assert [f["name"] for f in on_drive(fake_drive)] == ["крыло.jpg"]


# documents at a pipeline stage ----------------------------------------------------------------
def pdf_text(content: bytes, tmp_path: Any) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return re.sub(r"[\u00a0\u202f]", " ", out)


def test_a_deal_folder_on_amocrm_is_the_leads_own_files(mirrored: AmoStack,
                                                       fake_drive: FakeDrive):
    """Deal folders switched on (as the demo does): amoCRM keeps a lead's files on the lead,
    so that is its folder; nothing is made elsewhere, no field is added for a link to the
    lead's own page, and the mirror copies each file once."""
    s = mirrored
    s.configure("deal_folders", enabled=True)
    lead = s.emu.create_lead(s.acc.id, name="Рихтовка капота")["id"]
    s.run_worker()
    (key,) = s.redis.keys(f"cc:deal_workspace:amo:{s.acc.id}:deal:{lead}")
    record = json.loads(s.redis.get(key))
    assert record["folder_id"] == card_folder("leads", lead)
    assert record["folder_url"] == f"https://{s.acc.domain}/leads/detail/{lead}"
    codes = [f.get("code") for f in s.emu.account(s.acc.id).custom_fields.get("leads", [])]
    assert "UF_CRM_CC_FOLDER" not in codes
    photo = s.emu.upload_file(s.acc.id, "капот.jpg", PHOTO, "image/jpeg")
    s.emu.add_note(s.acc.id, "leads", lead, note_type="attachment",
                   params={"file_uuid": photo["uuid"]})
    s.emu.link_file(s.acc.id, "leads", lead, photo["uuid"])
    s.run_worker()
    s.emu.update_lead(s.acc.id, lead, price=5000)  # the folder is scanned as well
    s.run_worker()
    (copied,) = on_drive(fake_drive)
    assert copied["name"] == "капот.jpg" and len(copied["revisions"]) == 1


def documents_ready(s: AmoStack, **values: Any) -> int:
    """Our company in the account, its requisites in company fields the admin added by
    name (amoCRM keeps no requisites nor "my companies": the admin names ours)."""
    fields = {name: s.emu.add_field(s.acc.id, "companies", name, "text")["id"]
              for name in ("ИНН", "КПП", "Расчётный счёт", "БИК", "Банк", "Корр. счёт")}
    values_of = {"ИНН": "7701234567", "КПП": "770101001", "Расчётный счёт":
                 "40702810900000012345", "БИК": "044525225", "Банк": "ПАО Сбербанк",
                 "Корр. счёт": "30101810400000000225"}
    ours = s.emu.create_company(s.acc.id, name="ООО «Вмятин.нет»", custom_fields_values=[
        {"field_id": fields[k], "values": [{"value": v}]} for k, v in values_of.items()])
    s.configure("documents", my_company=ours["id"], pdf=True, **values)
    return int(ours["id"])


def run_step(s: AmoStack, lead: int, **settings: Any) -> None:
    """amoCRM runs our widget's step at the lead's stage (amocrm.md §3.1)."""
    status, body = s.emu.run_dp_action(s.acc.id, lead, {"robot": "generate_document",
                                                         **settings},
                                       webhook_url=f"{s.app_url}/amocrm/dp")
    assert status == 200, body
    s.run_worker()


def tab_files(s: AmoStack, lead: int) -> dict[str, dict[str, Any]]:
    """The lead's Files tab by file name."""
    return {f["name"]: f for f in (s.emu.file(u) for u in
                                   s.emu.entity_files(s.acc.id, "leads", lead)) if f}


def docx_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        xml = z.read("word/document.xml").decode()
    return re.sub(r"[\u00a0\u202f]", " ", re.sub(r"<[^>]+>", "", xml))


def test_a_pipeline_step_makes_an_invoice_for_a_lead_with_only_an_amount(
        connected: AmoStack, tmp_path: Any):
    s = connected
    documents_ready(s)
    client = s.emu.create_company(s.acc.id, name="ООО «Ромашка»")
    lead = s.emu.create_lead(s.acc.id, name="Ремонт бампера", price=12500,
                             _embedded={"companies": [{"id": client["id"]}]})["id"]
    s.run_worker()
    run_step(s, lead, template="invoice")
    number = f"СЧ-{date.today().year}-00001"
    files = tab_files(s, lead)  # on the lead's card, where managers look
    docx, pdf = files[f"Счёт на оплату № {number}.docx"], files[f"Счёт на оплату № {number}.pdf"]
    text = docx_text(docx["content"])
    assert "1Ремонт бампера1усл. ед.12 500,00Без НДС" in text  # the amount as its one row
    assert "ООО «Ромашка»" in text and "044525225" in text
    printed = pdf_text(pdf["content"], tmp_path)
    assert number in printed and "12 500,00" in printed
    link = field_of(s, lead, "UF_CRM_CC_DOCUMENT")
    assert link and docx["uuid"] in link
    (note,) = notes_of(s, lead)
    assert note == f"Создан документ «Счёт на оплату» № {number}: открыть ({link})", note
    (element,) = [e for elements in s.emu.account(s.acc.id).catalog_elements.values()
                  for e in elements.values()]
    assert element["name"] == f"Счёт на оплату № {number}"
    assert {"id": element["id"], "catalog_id": element["catalog_id"]}.items() <= next(
        iter(s.emu.lead(s.acc.id, lead)["catalog_elements"])).items()

    run_step(s, lead, template="invoice")  # the step again: the same document, no new file
    assert len(tab_files(s, lead)) == 2 and len(notes_of(s, lead)) == 1
    run_step(s, lead, template="invoice", new_version="Y")
    names = set(tab_files(s, lead))
    assert f"Счёт на оплату № {number} (версия 2).docx" in names, names
    assert len(notes_of(s, lead)) == 2


def test_a_step_that_cannot_make_its_document_says_why_on_the_lead(connected: AmoStack):
    s = connected
    documents_ready(s)
    lead = s.emu.create_lead(s.acc.id, name="Диагностика")["id"]  # no amount, no client
    s.run_worker()
    run_step(s, lead, template="invoice")
    (note,) = notes_of(s, lead)
    assert "Сначала заполните" in note and "[" not in note, note
    assert tab_files(s, lead) == {} and field_of(s, lead, "UF_CRM_CC_DOCUMENT") is None


def test_the_document_link_goes_to_the_url_field_the_admin_chose(connected: AmoStack):
    s = connected
    chosen = s.emu.add_field(s.acc.id, "leads", "Заказ-наряд", "url", code="UF_CRM_WORK_ORDER")
    documents_ready(s, templates=[{"code": "order", "kind": "work_order",
                                   "link_field": "UF_CRM_WORK_ORDER", "registry": True}])
    person = s.emu.create_contact(s.acc.id, name="Пётр Сидоров", phone="+79120001122")
    lead = s.emu.create_lead(s.acc.id, name="Покраска двери", price=8000,
                             _embedded={"contacts": [{"id": person["id"]}]})["id"]
    s.run_worker()
    run_step(s, lead, template="order")
    link = field_of(s, lead, "UF_CRM_WORK_ORDER")
    (name,) = [n for n in tab_files(s, lead) if n.endswith(".docx")]
    assert link and tab_files(s, lead)[name]["uuid"] in link
    assert field_of(s, lead, "UF_CRM_CC_DOCUMENT") is None and chosen["id"]
    assert "Покраска двери" in docx_text(tab_files(s, lead)[name]["content"])


# the pure parts ------------------------------------------------------------------------------
def test_bb_codes_become_plain_text_for_amocrm_notes():
    from connector.amocrm.mapping import plain_text

    assert plain_text("[B]Выиграна:[/B] [URL=https://a.example/1]Сделка 1[/URL][BR]Сумма") == \
        "Выиграна: Сделка 1 (https://a.example/1)\nСумма"
    assert plain_text("[url]https://a.example[/url] [USER=5]Анна[/USER] [i]x[/i]") == \
        "https://a.example Анна x"
    assert plain_text("[URL=https://a.example]https://a.example[/URL]") == "https://a.example"
    assert plain_text("цена [за шт.] 5") == "цена [за шт.] 5"  # not a code: kept


def test_an_amount_is_one_row_and_no_amount_is_none():
    from connector.crm.port import Item, ItemRef
    from robots.documents.context import amount_rows

    (row,) = amount_rows(Item(ref=ItemRef("deal", 7), title=" Ремонт ", amount="12500.5"))
    assert (row.name, row.quantity, row.price, row.tax_rate) == ("Ремонт", "1", "12500.50", None)
    assert amount_rows(Item(ref=ItemRef("deal", 7), title="Ремонт", amount="0")) == []
    (untitled,) = amount_rows(Item(ref=ItemRef("deal", 7), amount=100))
    assert untitled.name == "№ 7"
