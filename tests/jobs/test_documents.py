"""Documents end to end: the robot generate_document called by the emulated portal, real
burst workers, the emulator's Disk, requisites, product rows, registry smart process and
tasks over HTTP. Numbers are gapless and never doubled, the same request twice gives the
same document, nothing is taken or uploaded by a refusal, and the registry's status follows
the check task and the people who change it."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import date
from typing import Any

import pytest

from connector.crm import port as crm
from tests.conftest import Stack

YEAR = date.today().year
DEAL = ["crm", "CCrmDocumentDeal"]


def services(stack: Stack) -> Any:
    return stack.app.extensions["connector"]


def configure(stack: Stack, **documents: Any) -> None:
    services(stack).portal_settings.put(stack.portal()["member_id"], {
        "documents": {"checker": 4, "pdf": False, **documents}})


def robot(stack: Stack, deal_id: int, template: str, **props: str) -> str:
    res = stack.control("POST", "robots/run", json={
        "code": "generate_document", "document_id": [*DEAL, f"DEAL_{deal_id}"],
        "document_type": [*DEAL, "DEAL"], "properties": {"template": template, **props}})
    assert res["status_code"] == 200, res
    return res["event_token"]


def answer(stack: Stack, token: str) -> dict[str, Any]:
    calls = stack.control("GET", "robots/results", params={"event_token": token})["calls"]
    assert len(calls) == 1, calls
    return calls[0]["RETURN_VALUES"]


def call(stack: Stack, method: str, **params: Any) -> Any:
    """A REST call as a person on the portal; it waits out the portal's request limit
    (the workers may have just used the budget up)."""
    for _ in range(30):
        body = stack.rest(method, params).json()
        if body.get("error") != "QUERY_LIMIT_EXCEEDED":
            break
        time.sleep(0.5)
    assert "error" not in body, (method, body)
    return body["result"]


def files_in(stack: Stack, folder_id: int) -> list[dict[str, Any]]:
    return [r for r in call(stack, "disk.folder.getchildren", id=folder_id)
            if r.get("TYPE") == "file"]


def registry_items(stack: Stack) -> list[dict[str, Any]]:
    types = call(stack, "crm.type.list")["types"]
    ours = [t for t in types if "Реестр" in t["title"] or "registry" in t["title"].lower()]
    if not ours:
        return []
    return call(stack, "crm.item.list", entityTypeId=ours[0]["entityTypeId"])["items"]


def key_of(stack: Stack) -> Any:
    """The documents capability's Redis keys for the demo portal, as JobContext.key makes
    them."""
    member = stack.portal()["member_id"]
    prefix = services(stack).settings.queue_prefix
    return lambda *p: ":".join([f"{prefix}:documents:b24:{member}", *map(str, p)])


def records(stack: Stack, deal_id: int) -> dict[str, Any]:
    from robots.documents.records import Records

    return Records(stack.redis, key_of(stack)).all(crm.ItemRef("deal", deal_id))


def new_deal(stack: Stack, title: str, company: int = 7, rows: list[dict] | None = None,
             **fields: Any) -> int:
    deal_id = int(call(stack, "crm.deal.add", fields={
        "TITLE": title, "COMPANY_ID": company, "ASSIGNED_BY_ID": 1, "OPPORTUNITY": 15000,
        "CURRENCY_ID": "RUB", **fields}))
    if rows is None:
        rows = [{"productName": "Перевозка Москва — Казань", "price": 15000, "quantity": 1,
                 "taxRate": 20, "taxIncluded": "Y", "measureName": "усл. ед."}]
    if rows:  # crm-item-productrow-set.md: ownerType D for deals, rows in camelCase
        call(stack, "crm.item.productrow.set", ownerType="D", ownerId=deal_id, productRows=rows)
    return deal_id


@pytest.fixture
def docs(installed: Stack) -> Stack:
    configure(installed)
    return installed


def test_an_invoice_is_numbered_filed_linked_noted_and_registered(docs: Stack):
    before = docs.stats()["requests"]
    token = robot(docs, 2, "invoice")
    docs.run_worker()
    got = answer(docs, token)
    assert got["error"] == "", got
    assert got["number"] == f"СЧ-{YEAR}-00001" and got["existing"] == "N"
    requests = docs.stats()["requests"] - before
    deal = call(docs, "crm.deal.get", id=2)
    assert deal["UF_CRM_CC_DOCUMENT"] == got["file_url"]
    (made,) = records(docs, 2)["invoice"]
    names = [f["NAME"] for f in files_in(docs, made.folder_id)]
    assert f"Счёт на оплату № СЧ-{YEAR}-00001.docx" in names
    (item,) = registry_items(docs)
    values = {k: v for k, v in item.items() if k.startswith("ufCrm")}
    assert f"СЧ-{YEAR}-00001" in values.values()
    assert item["title"] == f"Счёт на оплату № СЧ-{YEAR}-00001"
    comments = call(docs, "crm.timeline.comment.list", filter={
        "ENTITY_ID": 2, "ENTITY_TYPE": "deal"})
    assert any(f"СЧ-{YEAR}-00001" in c["COMMENT"] for c in comments)
    assert requests > 0


def test_asked_twice_the_same_document_and_a_new_version_keeps_its_number(docs: Stack):
    first = robot(docs, 2, "invoice")
    second = robot(docs, 2, "invoice")
    docs.run_worker()
    a, b = answer(docs, first), answer(docs, second)
    assert a["number"] == b["number"] == f"СЧ-{YEAR}-00001"
    assert {a["existing"], b["existing"]} == {"N", "Y"}
    third = robot(docs, 2, "invoice", new_version="Y")
    docs.run_worker()
    c = answer(docs, third)
    assert c["number"] == f"СЧ-{YEAR}-00001" and c["file_url"] != a["file_url"]
    versions = records(docs, 2)["invoice"]
    assert [m.version for m in versions] == [1, 2]
    assert len(registry_items(docs)) == 1  # the same registry item, pointing at version 2
    other = robot(docs, new_deal(docs, "Рейс 2"), "invoice")
    docs.run_worker()
    assert answer(docs, other)["number"] == f"СЧ-{YEAR}-00002"


def test_refusals_take_no_number_and_upload_nothing(docs: Stack):
    empty = new_deal(docs, "Без товаров", rows=[])
    nobody = new_deal(docs, "Без клиента", company=0)
    negative = new_deal(docs, "Минус", rows=[{"productName": "Скидка", "price": -10,
                                             "quantity": 1}])
    tokens = {"empty": robot(docs, empty, "invoice"), "nobody": robot(docs, nobody, "invoice"),
              "negative": robot(docs, negative, "invoice"),
              "unknown": robot(docs, empty, "no_such_document")}
    docs.run_worker()
    errors = {k: answer(docs, t)["error"] for k, t in tokens.items()}
    assert "нет товаров" in errors["empty"] or "no products" in errors["empty"], errors
    assert "заполните" in errors["nobody"] or "Fill in" in errors["nobody"], errors
    assert "отрицательн" in errors["negative"] or "negative" in errors["negative"], errors
    assert "invoice" in errors["unknown"], errors
    assert registry_items(docs) == []
    for deal_id in (empty, nobody, negative):
        assert records(docs, deal_id) == {}
    ok = robot(docs, 2, "invoice")
    docs.run_worker()
    assert answer(docs, ok)["number"] == f"СЧ-{YEAR}-00001"  # nothing was used up


def test_many_at_once_get_distinct_gapless_numbers(docs: Stack):
    deals = [new_deal(docs, f"Рейс {i}") for i in range(12)]
    tokens = [robot(docs, d, "services_act") for d in deals]
    workers = docs.start_workers(4)
    for w in workers:
        w.wait(timeout=240)
    numbers = sorted(answer(docs, t)["number"] for t in tokens)
    assert numbers == [f"АКТ-{YEAR}-{n:05d}" for n in range(1, 13)]
    assert len(registry_items(docs)) == 12


def test_a_signed_contract_is_found_before_another_is_drafted(docs: Stack):
    first = robot(docs, 2, "forwarding_contract")
    docs.run_worker()
    got = answer(docs, first)
    assert got["error"] == "" and got["number"] == f"ДТЭ-{YEAR}-00001"
    # the director signs: a person moves the registry item to "signed" in Bitrix24
    (item,) = registry_items(docs)
    fields = call(docs, "crm.item.fields", entityTypeId=item["entityTypeId"])["fields"]
    status = next(name for name, f in fields.items() if f.get("title") in ("Статус", "Status"))
    signed = next(o["ID"] for o in fields[status]["items"] if o["VALUE"] in (
        "Подписан", "Signed"))
    call(docs, "crm.item.update", entityTypeId=item["entityTypeId"], id=item["id"],
         fields={status: signed})
    docs.run_worker()
    assert records(docs, 2)["forwarding_contract"][0].status == "signed"
    again = robot(docs, new_deal(docs, "Новый рейс того же клиента"), "forwarding_contract")
    docs.run_worker()
    got = answer(docs, again)
    assert got["signed_contract"] == f"ДТЭ-{YEAR}-00001" and got["existing"] == "Y"
    assert len(registry_items(docs)) == 1


def test_the_check_task_moves_the_status(docs: Stack):
    token = robot(docs, 2, "invoice", check="Y")
    docs.run_worker()
    got = answer(docs, token)
    assert got["status"] == "checking", got
    (made,) = records(docs, 2)["invoice"]
    task = call(docs, "tasks.task.get", taskId=made.check_task)["task"]
    assert int(task["responsibleId"]) == 4 and made.number in task["title"]
    call(docs, "tasks.task.complete", taskId=made.check_task)
    services(docs).queues.enqueue(
        "connector.jobs.run_maintenance", ["documents.follow_check", docs.portal()["member_id"],
                                           {"kind": "deal", "id": 2, "code": "invoice",
                                            "version": 1, "since": 0}],
        "test-follow", queue="maintenance")
    docs.run_worker()
    assert records(docs, 2)["invoice"][0].status == "checked"


def _docx_with(xml_body: str) -> bytes:
    from robots.documents.kinds import kind

    source = kind("invoice").path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "word/document.xml":
                text = data.decode()
                start = text.index("<w:body>") + len("<w:body>")
                data = (text[:start] + f"<w:p><w:r><w:t>{xml_body}</w:t></w:r></w:p>"
                        + text[start:]).encode()
            zout.writestr(info, data)
    return out.getvalue()


def _plain_docx(text: str) -> bytes:
    from docx import Document as Docx

    doc = Docx()
    doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_an_uploaded_template_with_an_error_is_refused_when_it_is_used(docs: Stack):
    from robots.documents import uploads

    good = _docx_with("Заказчик: {{ buyer.name }}")
    store = uploads.Uploads(docs.redis, key_of(docs))
    up = store.add("мой.docx", good)
    assert "buyer.name" in up.fields
    with pytest.raises(Exception, match="Template error|Ошибка"):
        store.add("broken.docx", _docx_with("{{ buyer.name "))
    configure(docs, templates=[{"code": "my_note", "kind": "custom", "title": "Записка",
                                "file": up.sha}])
    token = robot(docs, 2, "my_note")
    docs.run_worker()
    got = answer(docs, token)
    assert got["error"] == "" and got["number"] == f"MY_NOT-{YEAR}-00001"
    store.remove(up.sha)
    again = robot(docs, 2, "my_note", new_version="Y")
    docs.run_worker()
    assert "upload it again" in answer(docs, again)["error"] or "загрузите" in answer(
        docs, again)["error"]


def test_two_requests_for_one_document_at_the_same_instant_make_one(docs: Stack):
    tokens = [robot(docs, 2, "invoice") for _ in range(3)]
    workers = docs.start_workers(3)
    for w in workers:
        w.wait(timeout=240)
    got = [answer(docs, t) for t in tokens]
    assert {g["number"] for g in got} == {f"СЧ-{YEAR}-00001"}
    assert sorted(g["existing"] for g in got) == ["N", "Y", "Y"]
    (made,) = records(docs, 2)["invoice"]
    assert [f["NAME"] for f in files_in(docs, made.folder_id)].count(
        f"Счёт на оплату № СЧ-{YEAR}-00001.docx") == 1


def test_a_failure_after_the_upload_is_resumed_without_a_second_file_or_number(docs: Stack):
    robot(docs, new_deal(docs, "Разогрев"), "invoice")  # the registry and the field made
    docs.run_worker()
    docs.control("POST", "faults", json={"method": "crm.item.add", "error":
                                         "INTERNAL_SERVER_ERROR", "status": 500, "count": 1})
    token = robot(docs, 2, "invoice")
    docs.run_worker()  # the registry write fails once; the job's retry goes on from there
    assert not [f for f in docs.control("POST", "faults", json={})["faults"] if f["count"]]
    got = answer(docs, token)
    assert got["error"] == "" and got["number"] == f"СЧ-{YEAR}-00002", got
    (made,) = records(docs, 2)["invoice"]
    names = [f["NAME"] for f in files_in(docs, made.folder_id)]
    assert names.count(f"Счёт на оплату № СЧ-{YEAR}-00002.docx") == 1 and len(names) == 1
    assert sorted(i["title"] for i in registry_items(docs)) == [
        f"Счёт на оплату № СЧ-{YEAR}-00001", f"Счёт на оплату № СЧ-{YEAR}-00002"]
    comments = call(docs, "crm.timeline.comment.list", filter={
        "ENTITY_ID": 2, "ENTITY_TYPE": "deal"})
    assert sum(f"СЧ-{YEAR}-00002" in c["COMMENT"] for c in comments) == 1


def test_a_smart_process_item_reads_the_deal_it_belongs_to(docs: Stack):
    from robots.documents import uploads

    call(docs, "crm.deal.userfield.add", fields={"FIELD_NAME": "LOADING",
                                                "USER_TYPE_ID": "string"})
    call(docs, "crm.deal.update", id=2, fields={"UF_CRM_LOADING": "Казань, ул. Складская, 7"})
    item = call(docs, "crm.item.add", entityTypeId=128, fields={
        "title": "Заявка на рейс", "companyId": 7, "parentId2": 2})["item"]
    store = uploads.Uploads(docs.redis, key_of(docs))
    up = store.add("заявка.docx", _plain_docx(
        "Сделка: {{ parent.title }}; погрузка: {{ route.loading_address }}; "
        "заказчик: {{ buyer.name }}"))
    configure(docs, templates=[{"code": "request_note", "kind": "custom",
                                "title": "Поручение", "file": up.sha}],
              facts=[{"fact": "route.loading_address", "field": "UF_CRM_LOADING"}])
    dynamic = ["crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic"]
    res = docs.control("POST", "robots/run", json={
        "code": "generate_document", "document_id": [*dynamic, f"DYNAMIC_128_{item['id']}"],
        "document_type": [*dynamic, "DYNAMIC_128"], "properties": {"template": "request_note"}})
    docs.run_worker()
    got = answer(docs, res["event_token"])
    assert got["error"] == "", got
    from robots.documents.records import Records

    made = Records(docs.redis, key_of(docs)).latest(
        crm.ItemRef("item:128", int(item["id"])), "request_note")
    assert made is not None
    url = call(docs, "disk.file.get", id=made.file_id)["DOWNLOAD_URL"]
    import requests
    from docx import Document as Docx

    text = "\n".join(p.text for p in Docx(io.BytesIO(requests.get(url, timeout=30).content))
                     .paragraphs)
    assert f"Сделка: {call(docs, 'crm.deal.get', id=2)['TITLE']};" in text, text
    assert "погрузка: Казань, ул. Складская, 7" in text and "ООО «Вектор»" in text, text


def test_a_check_that_cannot_start_still_answers_the_document(docs: Stack):
    configure(docs, checker=0)
    token = robot(docs, 2, "invoice", check="Y")
    docs.run_worker()
    got = answer(docs, token)
    assert got["number"] == f"СЧ-{YEAR}-00001" and got["file_url"], got
    assert "checker" in got["error"] or "проверяющ" in got["error"], got
    assert records(docs, 2)["invoice"][0].status == "draft"
