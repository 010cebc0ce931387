"""The shipped templates: the committed files are what robots.documents.shipped builds, the
catalogue names each once, and every one renders a full deal into a document whose text
(read back with python-docx) has the number, both sides, the totals and the words."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from docx import Document

from robots.documents import render, shipped
from robots.documents.context import blank, schema
from robots.documents.kinds import KINDS, SECTIONS, TEMPLATES, kind
from tests import documents_sample as s

NB = "\u00a0"


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def text_of(document: bytes) -> str:
    """Every paragraph of the body, its tables (nested too) and headers, one per line."""
    doc = Document(io.BytesIO(document))
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    lines = ["".join(t.text or "" for t in p.iter(f"{ns}t"))
             for p in doc.element.body.iter(f"{ns}p")]
    return "\n".join(lines)


def test_the_committed_templates_are_what_build_makes(tmp_path):
    written = shipped.build(tmp_path)
    assert [p.name for p in written] == [k.file for k in KINDS]
    for path in written:
        assert parts(path) == parts(TEMPLATES / path.name), (
            f"{path.name} differs: run `python -m robots.documents.shipped` and commit")


def test_the_catalogue_declares_each_kind_once_and_fully():
    assert len({k.code for k in KINDS}) == len({k.file for k in KINDS}) == len(KINDS) == 16
    assert len({k.prefix for k in KINDS}) == len(KINDS)
    assert set(shipped.MAKERS) == {k.code for k in KINDS}
    for k in KINDS:
        assert k.path.exists() and k.buyer in ("client", "us")
        assert set(k.sections) <= set(SECTIONS)
        assert k.pattern == f"{k.prefix}{{YYYY}}-{{NNNNN}}"
    assert {k.business for k in KINDS} == {"car_dealer", "freight", "repair_shop"}
    with pytest.raises(KeyError):
        kind("nothing")


def client_for(code: str):
    return s.PERSON if kind(code).business == "car_dealer" else s.CLIENT


@pytest.mark.parametrize("k", KINDS, ids=lambda k: k.code)
def test_every_shipped_template_renders_a_full_deal(k):
    template = k.path.read_bytes()
    ctx = s.context(k.code, client=client_for(k.code))
    assert render.missing(template, ctx) == []
    assert blank(ctx, k.requires) == []
    used_sections = {name.split(".")[0].removesuffix("[]") for name in render.fields(template)}
    assert used_sections - {"doc", "deal", "seller", "buyer", "items", "totals",
                            "responsible", "today"} <= set(k.sections)
    text = text_of(render.render(template, ctx))
    assert "{{" not in text and "{%" not in text and "}}" not in text
    assert ctx["doc"]["number"] in text
    for side in ("seller", "buyer"):
        assert ctx[side]["name"] in text or ctx[side]["full_name"] in text
    if k.code != "carrier_contract":  # a frame contract: the price is in each request
        assert f"275{NB}550,00" in text
    if k.code not in ("carrier_contract", "vat_invoice"):  # the form has no words
        assert "Двести семьдесят пять тысяч пятьсот пятьдесят рублей 00 копеек" in text
    if "items" in render.fields(template):
        assert "iphone 14" in text and "iphone 10xs" in text


@pytest.mark.parametrize("k", [k for k in KINDS if k.code in (
    "invoice", "services_act", "vat_invoice", "forwarding_contract", "commission_contract",
    "waybill")], ids=lambda k: k.code)
def test_documents_with_vat_show_the_vat(k):
    text = text_of(render.render(k.path.read_bytes(), s.context(k.code,
                                                                 client=client_for(k.code))))
    assert f"24{NB}545,46" in text and f"10{NB}%" in text and "Без НДС" in text


def test_contracts_name_the_signatories_in_the_genitive():
    text = text_of(render.render(kind("forwarding_contract").path.read_bytes(),
                                 s.context("forwarding_contract")))
    assert ("Общество с ограниченной ответственностью «Ромашка», в лице Генерального "
            "директора Петровой Анны Сергеевны, действующей на основании Устава, именуемое в "
            "дальнейшем «Экспедитор»") in text
    assert ("в лице Директора Гуся Петра Ильича, действующего на основании Доверенности № 7 "
            "от 01.02.2026, именуемое в дальнейшем «Клиент»") in text
    assert "____________ / Петрова А. С. /" in text
    assert "____________ / Гусь П. И. /" in text
    assert "Р/с 40702810938000012345" in text and "БИК 044525225" in text
    assert "ООО «Рога & Копыта»" in text  # escaped for the XML, shown as typed


def test_the_completion_act_applies_the_clients_discount():
    text = text_of(render.render(kind("completion_act").path.read_bytes(),
                                 s.context("completion_act")))
    assert f"100{NB}000,00" in text  # the price before the discount
    assert f"Скидка по заказу: 30{NB}000,00" in text
    assert f"Итого: 275{NB}550,00" in text


def test_the_buyout_contract_has_the_car_and_the_owners_passport():
    text = text_of(render.render(kind("buyout_contract").path.read_bytes(),
                                 s.context("buyout_contract", client=s.PERSON)))
    assert "XTA210990Y2766389" in text and "Lada Vesta" in text
    assert "Ким Ольга Олеговна, паспорт серия 4510 № 123456" in text
    assert "именуемая в дальнейшем «Продавец»" in text
    assert "именуемое в дальнейшем «Покупатель»" in text


@pytest.mark.parametrize("k", KINDS, ids=lambda k: k.code)
def test_every_shipped_template_renders_a_deal_without_products(k):
    ctx = s.context(k.code, client=client_for(k.code), rows=[])
    text = text_of(render.render(k.path.read_bytes(), ctx))
    assert ctx["doc"]["number"] in text and "iphone" not in text


@pytest.mark.parametrize("k", KINDS, ids=lambda k: k.code)
def test_a_shipped_template_uses_only_names_the_schema_lists(k):
    """What the admin page shows as the fields a template may use covers the shipped ones."""
    listed = set(schema(k.sections))
    for name in render.fields(k.path.read_bytes()):
        assert name in listed or any(p.startswith(f"{name}.") for p in listed), name


def test_the_shipped_templates_can_be_made_ready_before_a_fork():
    assert render.keep_ready(k.path.read_bytes() for k in KINDS) == len(KINDS)
    assert all(hashlib.sha256(k.path.read_bytes()).hexdigest() in render._PREPARED
               for k in KINDS)
