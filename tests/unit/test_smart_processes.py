"""The pure part of smart processes on Bitrix24: a spec as the docs' userfieldconfig.add and
crm.type.add fields, the portal's answers (the docs' own samples) as a SmartProcess, values
written, filtered and read back."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

import pytest

from connector.bitrix import smart_processes as spa
from connector.crm import port as p
from tests.fixtures.docs import load

REGISTRY = p.SmartProcessSpec("cc_documents", "Document registry", (
    p.FieldSpec("number", "Number", "text", required=True),
    p.FieldSpec("kind", "Kind", "choice", options=(("contract", "Contract"), "act")),
    p.FieldSpec("amount", "Amount", "money"),
    p.FieldSpec("signed_on", "Signed on", "date"),
    p.FieldSpec("deal", "Deal", "item_link"),
    p.FieldSpec("links", "Links", "url", multiple=True),
    p.FieldSpec("file", "File", "file"),
    p.FieldSpec("checked", "Checked", "bool"),
    p.FieldSpec("weight", "Weight", "number"),
    p.FieldSpec("checker", "Checker", "user"),
))


def process(options: dict[str, dict[str, str]] | None = None) -> p.SmartProcess:
    fields = {f.code: spa.field_name(7, f.code) for f in REGISTRY.fields}
    return p.SmartProcess(177, "item:177", "Document registry", REGISTRY, fields,
                          options or {"kind": {"contract": "11", "act": "12"}})


def test_specs_refuse_what_the_crm_could_not_hold():
    with pytest.raises(ValueError, match="a-z"):
        p.FieldSpec("Number", "Number", "text")
    with pytest.raises(ValueError, match="type 'string'"):
        p.FieldSpec("number", "Number", "string")
    with pytest.raises(ValueError, match="options go with type choice"):
        p.FieldSpec("kind", "Kind", "choice")
    with pytest.raises(ValueError, match="options go with type choice"):
        p.FieldSpec("kind", "Kind", "text", options=("a",))
    with pytest.raises(ValueError, match="option keys repeat"):
        p.FieldSpec("kind", "Kind", "choice", options=("a", ("a", "A")))
    with pytest.raises(ValueError, match="field codes repeat"):
        p.SmartProcessSpec("x", "X", (p.FieldSpec("a", "A", "text"),
                                      p.FieldSpec("a", "B", "text")))
    # the longest code still makes a field name within the docs' 50 characters
    longest = "x" * 30
    assert len(spa.field_name(99999, longest)) <= 50


def test_a_spec_becomes_the_documented_userfieldconfig_add_field():
    sample = load("api-reference__crm__universal__userfieldconfig__userfieldconfig-add.md__"
                  "request")["field"]
    kind = spa.field_definition(7, REGISTRY.field("kind"), "ru")
    # the same keys as the docs' own request, and the same shape of enum items
    assert set(sample) <= set(kind) | {"multiple"}
    assert kind["entityId"] == "CRM_7" and kind["fieldName"] == "UF_CRM_7_KIND"
    assert kind["userTypeId"] == "enumeration" and kind["xmlId"] == "kind"
    assert set(kind["editFormLabel"]) == set(sample["editFormLabel"]) == {"ru", "en"}
    assert [(e["value"], e["xmlId"]) for e in kind["enum"]] == [("Contract", "contract"),
                                                               ("act", "act")]
    assert set(sample["enum"][0]) <= set(kind["enum"][0])
    types = {f.code: spa.field_definition(7, f, "ru")["userTypeId"] for f in REGISTRY.fields}
    assert types == {"number": "string", "kind": "enumeration", "amount": "money",
                     "signed_on": "date", "deal": "crm", "links": "url", "file": "file",
                     "checked": "boolean", "weight": "double", "checker": "employee"}
    assert spa.field_definition(7, REGISTRY.field("number"), "ru")["mandatory"] == "Y"
    assert spa.field_definition(7, REGISTRY.field("links"), "ru")["multiple"] == "Y"
    assert spa.field_definition(7, REGISTRY.field("deal"), "ru")["settings"]["DEAL"] == "Y"
    assert spa.type_fields(REGISTRY, "en") == {"title": "Document registry",
                                               "code": "cc_documents"}


def test_the_type_is_found_by_code_else_by_the_remembered_id_and_title():
    sample = load("api-reference__crm__universal__user-defined-object-types__crm-type-add.md__"
                  "result")["type"]
    ours = {**sample, "id": 20, "entityTypeId": 1222, "code": "cc_documents"}
    other = {**sample, "id": 21, "entityTypeId": 1224, "title": "Document registry"}
    assert spa.find_type([sample, ours], REGISTRY) == ours
    # no code on the portal: only the type the app remembers, and only with our title
    dropped = {**ours, "code": ""}
    assert spa.find_type([dropped, other], REGISTRY) is None
    assert spa.find_type([dropped, other], REGISTRY, remembered=1222) is None  # title differs
    assert spa.find_type([dropped, other], REGISTRY, remembered=1224) == other
    assert spa.find_type([sample, ours], REGISTRY, existing=2024) == sample
    assert spa.find_type([ours], REGISTRY, existing=2024) is None


def test_fields_are_ours_by_name_and_an_admins_by_title_and_type():
    rows = [{"entityId": "CRM_7", "fieldName": "UF_CRM_7_NUMBER", "userTypeId": "string"},
            {"entityId": "CRM_7", "fieldName": "UF_CRM_7_1721812915476", "userTypeId": "money",
             "editFormLabel": {"ru": "Amount", "en": None}},
            {"entityId": "CRM_7", "fieldName": "UF_CRM_7_1721812948498",
             "userTypeId": "string", "editFormLabel": {"ru": "weight"}},  # wrong type
            {"entityId": "CRM_8", "fieldName": "UF_CRM_8_KIND", "userTypeId": "enumeration"}]
    found, missing = spa.match_fields(7, REGISTRY, rows, by_title=False)
    assert list(found) == ["number"] and len(missing) == len(REGISTRY.fields) - 1
    found, missing = spa.match_fields(7, REGISTRY, rows, by_title=True)
    assert {k: v["fieldName"] for k, v in found.items()} == {
        "number": "UF_CRM_7_NUMBER", "amount": "UF_CRM_7_1721812915476"}
    assert "weight" in {f.code for f in missing} and "kind" in {f.code for f in missing}


def test_answers_become_a_smart_process_with_option_ids():
    answer = load("api-reference__crm__universal__userfieldconfig__userfieldconfig-add.md__"
                  "result")["field"]
    spec = p.SmartProcessSpec("cc_lists", "Lists", (p.FieldSpec(
        "traits", "List of characteristics", "choice", multiple=True,
        options=(("one", "Характеристика 1"), ("two", "Характеристика 2"))),))
    # an admin's list: the items are matched by their text (their xmlIds are random)
    row = {"id": 16, "entityTypeId": 2024, "title": "Смарт-процесс"}
    made = spa.smart_process(spec, row, {"traits": answer})
    assert made.kind == "item:2024" and made.fields == {"traits": "UF_CRM_7_NEW_REST_LIST_2026"}
    assert made.options == {"traits": {"one": "3363", "two": "3365"}}
    assert made.missing_options() == []
    assert p.SmartProcess.from_json(spec, made.as_json()) == made
    half = spa.smart_process(spec, row, {"traits": {**answer, "enum": answer["enum"][:1]}})
    assert half.missing_options() == ["traits"]


def test_values_are_written_as_the_docs_sample_writes_them():
    sp = process()
    fields = spa.item_fields(sp, {
        "title": "Д-2026-00042", "number": "Д-2026-00042", "kind": "contract",
        "amount": p.Money("300", "rub"), "signed_on": date(2026, 11, 22),
        "deal": p.ItemRef("deal", 5), "links": ["example.com", "second-example.com"],
        "file": p.NewFile("green_pixel.png", b"\x89PNG"), "checked": True,
        "weight": Decimal("9999.9"), "checker": 3})
    sample = load("api-reference__crm__universal__crm-item-add.md__spa-request")["fields"]
    assert fields["UF_CRM_7_AMOUNT"] == sample["ufCrm44_1721812915476"] == "300|RUB"
    assert fields["UF_CRM_7_CHECKED"] == sample["ufCrm44_1721812935209"] == "Y"
    assert fields["UF_CRM_7_LINKS"] == sample["ufCrm44_1721812885588"]
    assert fields["UF_CRM_7_KIND"] == 11 and fields["UF_CRM_7_DEAL"] == "D_5"
    assert fields["UF_CRM_7_SIGNED_ON"] == "2026-11-22" and fields["UF_CRM_7_CHECKER"] == 3
    assert fields["UF_CRM_7_FILE"] == ["green_pixel.png", base64.b64encode(b"\x89PNG").decode()]
    assert fields["UF_CRM_7_WEIGHT"] == "9999.9" and fields["title"] == "Д-2026-00042"
    assert spa.item_fields(sp, {"signed_on": None, "links": None}) == {
        "UF_CRM_7_SIGNED_ON": "", "UF_CRM_7_LINKS": []}


@pytest.mark.parametrize(("code", "value", "says"), [
    ("kind", "invoice", "not one of contract, act"), ("weight", "heavy", "not a number"),
    ("amount", "300", "Money"), ("signed_on", "22.11", "not a date"),
    ("deal", 5, "ItemRef"), ("checker", "anna", "not a user id"), ("file", b"x", "NewFile"),
    ("nope", 1, "nope: the smart process 'Document registry' has no such field")])
def test_a_value_the_spec_cannot_hold_is_refused_before_anything_is_sent(code, value, says):
    with pytest.raises(spa.BadValue, match=says):
        spa.item_fields(process(), {code: value})


def test_read_values_come_back_in_our_terms():
    sp = process()
    row = {"UF_CRM_7_NUMBER": "Д-1", "UF_CRM_7_KIND": 12, "UF_CRM_7_AMOUNT": "300|RUB",
           "UF_CRM_7_SIGNED_ON": "2026-11-22", "UF_CRM_7_DEAL": "T80_6",
           "UF_CRM_7_LINKS": ["a.example"], "UF_CRM_7_CHECKED": "N", "UF_CRM_7_WEIGHT": 2.5,
           "UF_CRM_7_CHECKER": 3, "UF_CRM_7_FILE": {"id": 9, "url": "/u", "urlMachine": "/m"}}
    assert spa.item_values(sp, row) == {
        "number": "Д-1", "kind": "act", "amount": p.Money("300", "RUB"),
        "signed_on": "2026-11-22", "deal": p.ItemRef("item:128", 6), "links": ["a.example"],
        "checked": False, "weight": "2.5", "checker": 3,
        "file": p.Attachment("file", "9", "/m")}
    empty = spa.item_values(sp, {})
    assert empty["links"] == [] and empty["number"] is None and empty["checked"] is None


def test_filters_and_order_use_the_fields_names_and_the_documented_formats():
    sp = process()
    flt = spa.list_filter(sp, [("kind", "=", "contract"), ("deal", "=", p.ItemRef("company", 3)),
                               ("checked", "=", True), ("number", "contains", "2026"),
                               ("signed_on", ">=", "2026-01-01"), ("kind", "in", ["act"]),
                               ("id", "!=", 4)])
    # crm-item-list.md: booleans are filtered by 1/0; `%` is a substring, `@` a list
    assert flt == {"=UF_CRM_7_KIND": 11, "=UF_CRM_7_DEAL": "CO_3", "=UF_CRM_7_CHECKED": 1,
                   "%UF_CRM_7_NUMBER": "2026", ">=UF_CRM_7_SIGNED_ON": "2026-01-01",
                   "@UF_CRM_7_KIND": [12], "!=id": 4}
    assert spa.list_order(sp, [("signed_on", "desc")]) == {"UF_CRM_7_SIGNED_ON": "DESC"}
    assert spa.list_order(sp, []) == {"id": "DESC"}
    with pytest.raises(spa.BadValue, match="not one of"):
        spa.list_filter(sp, [("kind", "like", "x")])
    with pytest.raises(spa.BadValue, match="takes a list"):
        spa.list_filter(sp, [("kind", "in", "act")])
