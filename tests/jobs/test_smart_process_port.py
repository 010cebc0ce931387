"""The CRM port's smart processes on the emulator: made once (also by four workers at the same
instant), grown by the fields a spec gains, mapped onto an admin's own smart process, and
items of every field type written, found by filters and read back; the requests counted."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from connector.crm import port as crm
from tests.conftest import Stack

REGISTRY = crm.SmartProcessSpec("cc_documents", "Document registry", (
    crm.FieldSpec("number", "Number", "text", required=True),
    crm.FieldSpec("kind", "Kind", "choice", options=("contract", "act", "invoice")),
    crm.FieldSpec("status", "Status", "choice",
                  options=(("draft", "Draft"), ("checked", "Checked"), ("signed", "Signed"),
                           ("void", "Void"))),
    crm.FieldSpec("doc_date", "Date", "date"),
    crm.FieldSpec("made_at", "Made at", "datetime"),
    crm.FieldSpec("counterparty", "Counterparty", "item_link"),
    crm.FieldSpec("amount", "Amount", "money"),
    crm.FieldSpec("weight", "Weight", "number"),
    crm.FieldSpec("file_link", "File link", "url"),
    crm.FieldSpec("scan", "Scan", "file"),
    crm.FieldSpec("original", "Original received", "bool"),
    crm.FieldSpec("checker", "Checker", "user"),
    crm.FieldSpec("tags", "Tags", "text", multiple=True),
))


def port(stack: Stack) -> crm.CrmPort:
    return stack.app.extensions["connector"].crm(stack.portal()["member_id"])


def last_n(stack: Stack) -> int:
    return max((e["n"] for e in stack.control("GET", "log")), default=0)


def requests_since(stack: Stack, n: int) -> list[str]:
    return [e["method"] for e in stack.control("GET", "log") if e["n"] > n]


def calls_since(stack: Stack, before: dict) -> dict[str, int]:
    now = stack.stats()["by_method"]
    return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}


def types(stack: Stack) -> list[dict]:
    return stack.rest("crm.type.list").json()["result"]["types"]


def fields_of(stack: Stack, ordinal: int) -> list[dict]:
    return stack.rest("userfieldconfig.list", {"moduleId": "crm", "filter": {
        "entityId": f"CRM_{ordinal}"}}).json()["result"]["fields"]


def forget_ready(stack: Stack) -> None:
    """What a job sees once the remembered set-up expired (READY_S): it checks the portal."""
    for key in stack.redis.scan_iter("*:spa:*:ready"):
        stack.redis.delete(key)


def test_ensure_twice_makes_one_type_with_its_fields_once(installed: Stack):
    n, before = last_n(installed), installed.stats()["by_method"]
    made = port(installed).ensure_smart_process(REGISTRY, lang="ru")
    # the types, then crm.type.add, then every field in one batch
    assert requests_since(installed, n) == ["crm.type.list", "crm.type.add", "batch"]
    assert calls_since(installed, before) == {"batch": 1, "crm.type.list": 1,
                                              "crm.type.add": 1,
                                              "userfieldconfig.add": len(REGISTRY.fields)}
    ours = [t for t in types(installed) if t["code"] == "cc_documents"]
    assert len(ours) == 1 and made.entity_type_id == ours[0]["entityTypeId"] == 129
    assert made.kind == "item:129" and set(made.fields) == {f.code for f in REGISTRY.fields}
    assert set(made.options["status"]) == {"draft", "checked", "signed", "void"}
    n = last_n(installed)
    assert port(installed).ensure_smart_process(REGISTRY, lang="ru") == made
    assert requests_since(installed, n) == []  # remembered: nothing asked
    forget_ready(installed)
    assert port(installed).ensure_smart_process(REGISTRY, lang="ru") == made
    assert requests_since(installed, n) == ["batch"]  # the types and our fields, one request
    assert len(fields_of(installed, ours[0]["id"])) == len(REGISTRY.fields)
    assert len([t for t in types(installed) if t["code"] == "cc_documents"]) == 1


def test_a_field_or_option_new_in_the_spec_is_the_only_thing_added(installed: Stack):
    first = port(installed).ensure_smart_process(REGISTRY)
    ordinal = next(t["id"] for t in types(installed) if t["entityTypeId"] == first.entity_type_id)
    status = REGISTRY.field("status")
    grown = crm.SmartProcessSpec(REGISTRY.code, REGISTRY.title, (
        *[f for f in REGISTRY.fields if f.code != "status"],
        crm.FieldSpec("status", "Status", "choice", options=(*status.options, "archived")),
        crm.FieldSpec("carrier", "Carrier", "item_link")))
    n, before = last_n(installed), installed.stats()["by_method"]
    again = port(installed).ensure_smart_process(grown)  # a new digest: the portal is checked
    assert requests_since(installed, n) == ["batch", "batch"]
    assert calls_since(installed, before) == {"batch": 2, "crm.type.list": 1,
                                              "userfieldconfig.list": 1,
                                              "userfieldconfig.add": 1,
                                              "userfieldconfig.update": 1}
    assert again.entity_type_id == first.entity_type_id
    assert again.fields["carrier"] == f"UF_CRM_{ordinal}_CARRIER"
    assert set(again.options["status"]) == {"draft", "checked", "signed", "void", "archived"}
    assert again.options["status"]["signed"] == first.options["status"]["signed"]
    assert len(fields_of(installed, ordinal)) == len(REGISTRY.fields) + 1


def test_four_workers_at_once_make_one_type(installed: Stack):
    results: list[crm.SmartProcess] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def ensure() -> None:
        start.wait()
        try:
            results.append(port(installed).ensure_smart_process(REGISTRY))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors and len(results) == 4 and len(set(map(repr, results))) == 1
    ours = [t for t in types(installed) if t["code"] == "cc_documents"]
    assert len(ours) == 1
    assert len(fields_of(installed, ours[0]["id"])) == len(REGISTRY.fields)
    assert installed.stats()["by_method"]["crm.type.add"] == 1


def test_an_admins_smart_process_is_mapped_by_field_titles(installed: Stack):
    theirs = installed.rest("crm.type.add", {"fields": {"title": "Договоры"}}).json()[
        "result"]["type"]
    n_id = theirs["id"]
    for name, utype, label in (("1721812760630", "string", "Number"),
                               ("1721812915476", "money", "amount"),
                               ("1721812948498", "string", "Weight")):  # text: not a number
        installed.rest("userfieldconfig.add", {"moduleId": "crm", "field": {
            "entityId": f"CRM_{n_id}", "fieldName": f"UF_CRM_{n_id}_{name}",
            "userTypeId": utype, "editFormLabel": {"ru": label}}})
    mapped = port(installed).ensure_smart_process(REGISTRY, existing=theirs["entityTypeId"])
    assert mapped.entity_type_id == theirs["entityTypeId"] and mapped.title == "Договоры"
    assert mapped.fields["number"] == f"UF_CRM_{n_id}_1721812760630"
    assert mapped.fields["amount"] == f"UF_CRM_{n_id}_1721812915476"
    assert mapped.fields["weight"] == f"UF_CRM_{n_id}_WEIGHT"  # the text field could not hold it
    assert len(fields_of(installed, n_id)) == 3 + len(REGISTRY.fields) - 2
    assert not [t for t in types(installed) if t["code"] == "cc_documents"]  # nothing made
    with pytest.raises(crm.NotFound):
        port(installed).ensure_smart_process(REGISTRY, existing=1998)


def test_items_of_every_field_type_are_written_found_and_read_back(installed: Stack):
    sp = port(installed).ensure_smart_process(REGISTRY)
    company = int(installed.control("POST", "crm/company", json={"fields": {
        "TITLE": "ООО «Рога & Копыта»"}})["id"])
    rows = [("Д-2026-00001", "contract", "signed", "2026-11-22", company, "1500.50", True),
            ("Д-2026-00002", "contract", "draft", "2026-11-23", company, "99", False),
            ("А-2026-00001", "act", "signed", "2026-12-01", company + 1000, "10", True)]
    ops = {f"d{i}": crm.CreateItem(sp, {
        "title": number, "number": number, "kind": kind, "status": status, "doc_date": day,
        "made_at": f"{day}T10:00:00+03:00", "counterparty": crm.ItemRef("company", who),
        "amount": crm.Money(amount, "RUB"), "weight": Decimal("2.5"),
        "file_link": f"https://disk.example/{number}", "scan": crm.NewFile(
            f"{number}.pdf", b"%PDF-1.4 " + number.encode()), "original": original,
        "checker": 1, "tags": ["поставка", "2026"]}) for i, (
            number, kind, status, day, who, amount, original) in enumerate(rows)}
    n = last_n(installed)
    made = port(installed).apply(ops)
    assert not made.errors and requests_since(installed, n) == ["batch"]
    ids = [made.values[f"d{i}"] for i in range(3)]
    assert all(isinstance(i, int) and i for i in ids)
    n = last_n(installed)
    reading = port(installed).read({
        "signed": crm.FindItems(sp, (("counterparty", "=", crm.ItemRef("company", company)),
                                     ("status", "=", "signed"), ("kind", "=", "contract"))),
        "numbers": crm.FindItems(sp, (("number", "contains", "2026-0000"),),
                                 (("doc_date", "desc"),)),
        "originals": crm.FindItems(sp, (("original", "=", True),), (("id", "asc"),)),
        "late": crm.FindItems(sp, (("doc_date", ">=", "2026-11-23"), ("kind", "in", [
            "act", "invoice"])), limit=1)})
    assert requests_since(installed, n) == ["batch"]
    signed = reading.get("signed")
    assert [i.ref for i in signed] == [crm.ItemRef(sp.kind, ids[0])]
    values = signed[0].values
    assert signed[0].title == "Д-2026-00001"
    assert {k: values[k] for k in ("number", "kind", "status", "doc_date", "counterparty",
                                   "amount", "weight", "file_link", "original", "checker",
                                   "tags")} == {
        "number": "Д-2026-00001", "kind": "contract", "status": "signed",
        "doc_date": "2026-11-22", "counterparty": crm.ItemRef("company", company),
        "amount": crm.Money("1500.50", "RUB"), "weight": "2.5",
        "file_link": "https://disk.example/Д-2026-00001", "original": True, "checker": 1,
        "tags": ["поставка", "2026"]}
    assert values["made_at"].startswith("2026-11-22T10:00:00")
    scan = values["scan"]
    assert isinstance(scan, crm.Attachment) and scan.field == "scan"
    body = port(installed).download(scan.url)  # relative, its auth= filled by the adapter
    assert body.content == b"%PDF-1.4 " + "Д-2026-00001".encode()
    assert [i.values["number"] for i in reading.get("numbers")] == [
        "А-2026-00001", "Д-2026-00002", "Д-2026-00001"]
    assert [i.ref.id for i in reading.get("originals")] == [ids[0], ids[2]]
    assert [i.ref.id for i in reading.get("late")] == [ids[2]]
    # an update by codes; a value the spec cannot hold is refused before anything is sent
    n = last_n(installed)
    upd = port(installed).apply({"void": crm.UpdateItem(crm.ItemRef(sp.kind, ids[1]), {
        "status": "void", "tags": None}, process=sp)})
    assert not upd.errors
    with pytest.raises(crm.CrmPermanent, match="not one of"):
        port(installed).apply({"bad": crm.UpdateItem(crm.ItemRef(sp.kind, ids[1]), {
            "status": "lost"}, process=sp)})
    assert requests_since(installed, n) == ["crm.item.update"]
    voided = port(installed).read({"v": crm.FindItems(sp, (("id", "=", ids[1]),))}).get("v")
    assert voided[0].values["status"] == "void" and voided[0].values["tags"] == []
    missing = port(installed).apply({"x": crm.CreateItem(sp, {"kind": "act"})})
    assert "x" in missing.errors  # the number is required (the portal says so)
    bad = port(installed).read({"q": crm.FindItems(sp, (("weight", "about", 1),))})
    with pytest.raises(crm.CrmPermanent, match="not one of"):
        bad.get("q")
