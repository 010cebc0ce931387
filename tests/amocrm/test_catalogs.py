"""Smart processes as amoCRM catalogs, against the emulator over HTTP: made once (also by
two threads at once), fields added and none deleted, elements created, found by our codes
with the port's filter operations, updated, listed, linked to their deal."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from connector.amocrm.adapter import AmoCrm
from connector.crm import port as p
from robots.documents import registry

SPEC = p.SmartProcessSpec("cc_test_registry", "Document registry", (
    p.FieldSpec("number", "Number", "text", required=True),
    p.FieldSpec("code", "Document code", "text"),
    p.FieldSpec("doc_date", "Date", "date"),
    p.FieldSpec("deal", "Deal", "item_link"),
    p.FieldSpec("amount", "Amount", "money"),
    p.FieldSpec("version", "Version", "number"),
    p.FieldSpec("signed", "Signed", "bool"),
    p.FieldSpec("manager", "Manager", "user"),
    p.FieldSpec("status", "Status", "choice", options=(("draft", "Draft"),
                                                       ("signed", "Signed"))),
))


@pytest.fixture
def crm(world):
    member = world.connect()
    world.emu.limits(enabled=False)
    return AmoCrm(world.amo.client(member), world.acc.domain, None, world.redis, "t")


def _lead(world, crm, name="Сделка"):
    made = crm.client.post("/api/v4/leads", [{"name": name}])
    return int(made["_embedded"]["leads"][0]["id"])


def _create(crm, process, fields):
    done = crm.apply({"c": p.CreateItem(process, fields)})
    assert not done.errors, done.errors
    return int(done.values["c"])


def _find(crm, q):
    return crm.read({"f": q}).get("f")


def test_ensured_twice_one_catalog_then_a_new_field_added(world, crm):
    sp = crm.ensure_smart_process(SPEC)
    assert sp.kind == f"item:{sp.entity_type_id}" and sp.title == "Реестр документов"
    assert set(world.acc.catalogs) == {sp.entity_type_id}
    fields = list(world.acc.custom_fields[f"catalogs:{sp.entity_type_id}"])
    by_code = {f["code"]: f for f in fields}
    assert by_code["NUMBER"]["type"] == "text" and by_code["AMOUNT"]["type"] == "numeric"
    assert by_code["AMOUNT_CURRENCY"]["type"] == "text"
    assert by_code["STATUS"]["type"] == "select" and by_code["DEAL"]["type"] == "url"
    assert {e["code"] for e in by_code["STATUS"]["enums"]} == {"draft", "signed"}
    assert sp.fields["number"] == str(by_code["NUMBER"]["id"])
    assert sp.options["status"]["signed"] == str(next(
        e["id"] for e in by_code["STATUS"]["enums"] if e["code"] == "signed"))
    world.redis.delete(f"t:amo-catalog:{crm.tenant.key}:cc_test_registry:ready")
    again = crm.ensure_smart_process(SPEC)
    assert again == sp and len(world.acc.catalogs) == 1
    assert len(world.acc.custom_fields[f"catalogs:{sp.entity_type_id}"]) == len(fields)
    # someone's own field stays; a new field of ours and a new option are added
    world.emu.state.add_field(world.acc, f"catalogs:{sp.entity_type_id}", "Заметка", "text")
    wider = p.SmartProcessSpec(SPEC.code, SPEC.title, (*SPEC.fields[:-1], p.FieldSpec(
        "status", "Status", "choice", options=(("draft", "Draft"), ("signed", "Signed"),
                                               ("void", "Void"))),
        p.FieldSpec("pdf_link", "PDF", "url")))
    grown = crm.ensure_smart_process(wider)
    assert grown.entity_type_id == sp.entity_type_id and "pdf_link" in grown.fields
    assert set(grown.options["status"]) == {"draft", "signed", "void"}
    assert grown.options["status"]["draft"] == sp.options["status"]["draft"]
    names = [f["name"] for f in world.acc.custom_fields[f"catalogs:{sp.entity_type_id}"]]
    assert "Заметка" in names and len(names) == len(fields) + 2  # note, PDF


def test_a_deleted_catalog_is_made_again_and_a_renamed_one_found(world, crm):
    sp = crm.ensure_smart_process(SPEC)
    world.redis.delete(f"t:amo-catalog:{crm.tenant.key}:cc_test_registry:ready")
    world.redis.delete(f"t:amo-catalog:{crm.tenant.key}:cc_test_registry")
    assert crm.ensure_smart_process(SPEC).entity_type_id == sp.entity_type_id  # by name
    del world.acc.catalogs[sp.entity_type_id]
    world.redis.delete(f"t:amo-catalog:{crm.tenant.key}:cc_test_registry:ready")
    fresh = crm.ensure_smart_process(SPEC)
    assert fresh.entity_type_id != sp.entity_type_id
    with pytest.raises(p.NotFound):
        crm.ensure_smart_process(SPEC, existing=999)


def test_two_threads_at_once_make_one_catalog(world, crm):
    other = AmoCrm(crm.client, crm.domain, None, world.redis, "t")
    got, errors = [], []

    def ensure(port):
        try:
            got.append(port.ensure_smart_process(SPEC))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ensure, args=(x,)) for x in (crm, other)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not errors and len(got) == 2 and got[0] == got[1]
    assert len(world.acc.catalogs) == 1
    codes = [f["code"] for f in world.acc.custom_fields[f"catalogs:{got[0].entity_type_id}"]]
    assert len(codes) == len(set(codes))


def test_create_find_update_list(world, crm):
    sp = crm.ensure_smart_process(SPEC)
    lead = _lead(world, crm)
    manager = world.acc.users[1].id
    first = _create(crm, sp, {"title": "Договор № Д-1", "number": "Д-2026-00001",
                              "code": "contract_supply", "doc_date": "2026-03-01",
                              "deal": p.ItemRef("deal", lead),
                              "amount": p.Money("1500.50", "RUB"), "version": 1,
                              "signed": False, "manager": manager, "status": "draft"})
    second = _create(crm, sp, {"title": "Счёт № С-7", "number": "С-2026-00007",
                               "code": "invoice", "amount": p.Money("99", "usd"),
                               "version": 2, "status": "signed"})
    by_number = _find(crm, p.FindItems(sp, (("number", "=", "Д-2026-00001"),)))
    assert [i.ref for i in by_number] == [p.ItemRef(sp.kind, first)]
    item = by_number[0]
    assert item.title == "Договор № Д-1" and item.parents == [p.ItemRef("deal", lead)]
    assert item.values["deal"] == p.ItemRef("deal", lead)
    assert item.values["amount"] == p.Money("1500.50", "RUB")
    assert item.values["doc_date"] == "2026-03-01" and item.values["version"] == "1"
    assert item.values["signed"] is False and item.values["manager"] == manager
    assert item.values["status"] == "draft"
    # the element is in the lead's card (entity-links-api)
    links = crm.client.get(f"/api/v4/leads/{lead}/links",
                           {"filter[to_catalog_id]": sp.entity_type_id})
    assert [x["to_entity_id"] for x in links["_embedded"]["links"]] == [first]
    found = _find(crm, p.FindItems(sp, (("status", "in", ["signed", "void"]),)))
    assert [i.ref.id for i in found] == [second]
    found = _find(crm, p.FindItems(sp, (("code", "contains", "CONTRACT"),)))
    assert [i.ref.id for i in found] == [first]
    found = _find(crm, p.FindItems(sp, (("deal", "=", p.ItemRef("deal", lead)),)))
    assert [i.ref.id for i in found] == [first]
    found = _find(crm, p.FindItems(sp, (("amount", ">", "100"),)))
    assert [i.ref.id for i in found] == [first]
    newest = _find(crm, p.FindItems(sp, limit=1))
    assert [i.ref.id for i in newest] == [second]
    by_version = _find(crm, p.FindItems(sp, order=(("version", "desc"),)))
    assert [i.ref.id for i in by_version] == [second, first]
    by_id = _find(crm, p.FindItems(sp, (("id", "in", [first, 1]),)))
    assert [i.ref.id for i in by_id] == [first]
    bad = crm.read({"f": p.FindItems(sp, (("nope", "=", 1),))})
    assert isinstance(bad.errors["f"], p.CrmPermanent)
    # update: one field changes, one is cleared, the rest stays
    crm.update_element(p.UpdateItem(p.ItemRef(sp.kind, first), {
        "status": "signed", "code": "", "signed": True}, process=sp))
    after = _find(crm, p.FindItems(sp, (("id", "=", first),)))[0]
    assert after.values["status"] == "signed" and after.values["code"] is None
    assert after.values["signed"] is True and after.values["number"] == "Д-2026-00001"
    with pytest.raises(p.NotFound):
        crm.update_element(p.UpdateItem(p.ItemRef(sp.kind, 1), {"status": "draft"},
                                        process=sp))
    with pytest.raises(p.CrmPermanent):
        crm.update_element(p.UpdateItem(p.ItemRef(sp.kind, first), {"status": "nope"},
                                        process=sp))
    listed = list(crm.catalog_elements(sp))
    assert [i.ref.id for i in listed] == [first, second]
    assert [i.ref.id for i in crm.catalog_elements(sp, after=first)] == [second]
    assert listed[1].values["amount"] == p.Money("99", "USD")
    assert Decimal(listed[1].values["version"]) == 2


def test_the_document_registry_spec_and_its_queries(world, crm):
    """robots.documents.registry as it runs: its spec, an entry, the signed-contract
    queries by the counterparty's card and by its INN, and the lookup by number."""
    sp = crm.ensure_smart_process(registry.SPEC)
    lead = _lead(world, crm)
    company = int(crm.client.post("/api/v4/companies", [{"name": "ООО Ромашка"}])[
        "_embedded"]["companies"][0]["id"])
    client = p.Party(p.ItemRef("company", company), "ООО Ромашка", name="ООО «Ромашка»",
                     inn="7701234567")
    fields = registry.entry("Д-2026-00042", "Договор", "contract_supply", "2026-04-02",
                            client, None, p.ItemRef("deal", lead), "1000", "RUB",
                            "https://drive/x", 1)
    made = _create(crm, sp, {k: v for k, v in fields.items() if v is not None})
    assert registry.first_signed(crm.read(registry.signed_contracts(sp, client))) is None
    crm.update_element(p.UpdateItem(p.ItemRef(sp.kind, made), {"status": registry.SIGNED},
                                    process=sp))
    reading = crm.read(registry.signed_contracts(sp, client))
    assert reading.get("signed_by_ref")[0].ref.id == made
    assert reading.get("signed_by_inn")[0].ref.id == made
    assert registry.first_signed(reading).values["counterparty"] == client.ref
    again = _find(crm, p.FindItems(sp, (("number", "=", "Д-2026-00042"),), limit=1))
    assert [i.ref.id for i in again] == [made]
    links = crm.client.get(f"/api/v4/companies/{company}/links",
                           {"filter[to_catalog_id]": sp.entity_type_id})
    assert [x["to_entity_id"] for x in links["_embedded"]["links"]] == [made]


def test_a_file_field_holds_an_uploaded_file(world, crm):
    spec = p.SmartProcessSpec("cc_test_files", "Files", (
        p.FieldSpec("scan", "Scan", "file"), p.FieldSpec("when", "When", "datetime")))
    sp = crm.ensure_smart_process(spec)
    made = _create(crm, sp, {"title": "Скан", "scan": p.NewFile("скан.pdf", b"%PDF-1.4 x"),
                             "when": "2026-05-01T10:30:00+03:00"})
    item = _find(crm, p.FindItems(sp, (("id", "=", made),)))[0]
    scan = item.values["scan"]
    assert isinstance(scan, p.Attachment) and scan.field == "scan"
    stored = world.acc.catalog_elements[sp.entity_type_id][made]["custom_fields_values"]
    value = next(v for v in stored if str(v["field_id"]) == sp.fields["scan"])["values"][0]
    assert value["value"]["file_name"] == "скан.pdf"
    assert crm.client.download(value["value"]["file_uuid"]) == b"%PDF-1.4 x"
    assert item.values["when"] == "2026-05-01T07:30:00+00:00"
    with pytest.raises(p.CrmPermanent):
        crm.ensure_smart_process(p.SmartProcessSpec("cc_test_multi", "Multi", (
            p.FieldSpec("tags", "Tags", "text", multiple=True),)))
