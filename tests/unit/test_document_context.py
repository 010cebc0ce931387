"""What a template sees: totals of product rows (discount, VAT included, on top, none), bad
rows refused by name, a deal without rows, both sides' requisites, plain strings only."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from connector.crm.port import ItemRef, Party, ProductRow
from robots.documents import context as c
from robots.documents.problems import DataProblem
from tests import documents_sample as s

NB = "\u00a0"


def totals(rows: list[ProductRow], amount: str = "0") -> dict:
    return c.totals(c.lines(rows), amount, "RUB")


def test_the_docs_example_rows_line_by_line():
    """crm.item.productrow.list's own example: 3 × 90 000 after a 10 % discount with 10 % VAT
    included, and one row without VAT."""
    first, second = c.lines(s.ROWS)
    assert first.total == Decimal("270000.00")
    assert first.vat == Decimal("24545.46")  # (90000 − 81818.18) × 3, rounded once
    assert first.net == Decimal("245454.54")
    assert first.discount == Decimal("30000.00")  # (100000 − 90000) × 3
    assert first.discount_rate == f"10{NB}%"
    assert second.vat_rate is None and second.vat == 0 and second.total == Decimal("5550.00")
    items = [c.item_dict(ln) for ln in (first, second)]
    assert items[0]["vat_rate"] == f"10{NB}%" and items[1]["vat_rate"] == "Без НДС"
    assert items[0]["unit_code"] == "796" and items[1]["unit"] == "м"


def test_the_docs_example_totals():
    t = totals(s.ROWS, "275550")
    assert t["source"] == "rows" and t["matches_deal"] is True
    assert t["gross"] == f"275{NB}550,00"
    assert t["vat"] == f"24{NB}545,46"
    assert t["net"] == f"251{NB}004,54"  # gross − vat: the table adds up to the kopeck
    assert t["vat_label"] == "В том числе НДС" and t["vat_on_top"] is False
    assert t["vat_line"] == f"В том числе НДС 10{NB}%: 24{NB}545,46"
    assert t["subtotal"] == t["gross"]
    assert t["discount"] == f"30{NB}000,00" and t["has_discount"] is True
    assert t["count"] == "2" and t["count_words"] == "два"
    assert t["gross_words"] == ("Двести семьдесят пять тысяч пятьсот пятьдесят рублей "
                                "00 копеек")
    assert t["vat_words"] == "Двадцать четыре тысячи пятьсот сорок пять рублей 46 копеек"


def test_vat_on_top_gives_a_subtotal_without_it():
    row = ProductRow("Перевозка", quantity="2", price="1200", price_exclusive="1000",
                     tax_rate="20", tax_included=False)
    t = totals([row])
    assert t["vat_on_top"] is True and t["vat_label"] == "НДС"
    assert (t["subtotal"], t["vat"], t["gross"]) == (f"2{NB}000,00", "400,00", f"2{NB}400,00")
    assert t["vat_line"] == f"НДС 20{NB}%: 400,00"


def test_rows_without_vat_say_so():
    t = totals([ProductRow("Услуга", price="1000", price_exclusive="1000")])
    assert (t["vat_label"], t["vat_line"], t["vat_words"]) == ("Без НДС", "Без НДС", "")
    assert t["gross"] == f"1{NB}000,00" and t["vat"] == "0,00"


def test_zero_rate_is_vat_at_zero_not_without_vat():
    ln = c.line(1, ProductRow("Экспорт", price="100", price_exclusive="100", tax_rate="0"))
    assert c.item_dict(ln)["vat_rate"] == f"0{NB}%" and ln.vat == 0


def test_vat_is_rounded_once_per_line_not_per_unit():
    # 3 × (10.00 − 8.333) = 5.001 → 5.00; rounding per unit first would give 5.01
    ln = c.line(1, ProductRow("x", quantity="3", price="10", price_exclusive="8.333",
                              tax_rate="20"))
    assert ln.vat == Decimal("5.00") and ln.total == Decimal("30.00")


def test_a_missing_price_without_tax_comes_from_the_rate():
    ln = c.line(1, ProductRow("x", price="120", price_exclusive="0", tax_rate="20"))
    assert ln.price_net == 100 and ln.vat == Decimal("20.00")


def test_an_absolute_discount_shows_its_sum():
    row = ProductRow("Замена масла", quantity="1", price="1800", price_exclusive="1500",
                     price_brutto="2400", discount_type="amount", discount_sum="500",
                     tax_rate="20")
    item = c.item_dict(c.line(1, row))
    assert (item["price_before"], item["discount_rate"], item["discount"]) == (
        f"2{NB}400,00", "500,00", "600,00")


@pytest.mark.parametrize(("field", "value", "named"), [
    ("price", "-5", "price"), ("quantity", "-1", "quantity"),
    ("price_exclusive", "-1", "price without tax"), ("tax_rate", "-20", "tax rate"),
])
def test_a_negative_figure_is_refused_naming_the_row(field, value, named):
    rows = [ProductRow("Доставка", price="10", price_exclusive="10"),
            replace(ProductRow("Погрузка", price="10", price_exclusive="10"), **{field: value})]
    with pytest.raises(DataProblem) as caught:
        c.lines(rows)
    assert caught.value.params["n"] == 2 and caught.value.params["name"] == "Погрузка"
    text = caught.value.text("ru")
    assert "2" in text and "«Погрузка»" in text and value in text
    assert named in caught.value.text("en")


def test_a_figure_that_is_no_number_is_refused_naming_the_row():
    with pytest.raises(DataProblem) as caught:
        c.lines([ProductRow("Груз", price="сто")])
    assert "«Груз»" in caught.value.text("ru") and "сто" in caught.value.text("ru")


def test_a_price_without_tax_above_the_price_is_refused():
    with pytest.raises(DataProblem):
        c.lines([ProductRow("x", price="100", price_exclusive="120", tax_rate="20")])


def test_a_deal_without_rows_has_an_empty_table_and_the_deals_amount():
    ctx = s.context("invoice", rows=[])
    assert ctx["items"] == []
    t = ctx["totals"]
    assert t["source"] == "deal" and t["gross"] == f"275{NB}550,00"
    assert t["gross_words"].startswith("Двести семьдесят пять тысяч")
    assert t["vat"] == "" and t["vat_line"] == "" and t["count"] == "0"


def test_the_context_holds_plain_strings_and_flags_only():
    def walk(value, path="ctx"):
        if isinstance(value, dict):
            for k, v in value.items():
                assert isinstance(k, str), path
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        else:
            assert isinstance(value, str | bool), (path, type(value))

    walk(s.context("completion_act"))


def test_the_schema_has_what_docs_documents_md_promises():
    ctx = s.context("invoice")
    assert set(ctx) >= {"doc", "deal", "seller", "buyer", "items", "totals", "responsible",
                        "today"}
    assert set(ctx["doc"]) >= {"number", "date", "date_short", "kind", "version"}
    assert set(ctx["deal"]) >= {"id", "title", "amount", "amount_words", "currency", "stage",
                                "created", "fields"}
    assert set(ctx["seller"]) >= {*c.PARTY_KEYS, "bank", "is_person", "vat_payer"}
    assert set(ctx["seller"]["bank"]) == set(c.BANK_KEYS)
    assert set(ctx["items"][0]) >= {"n", "name", "quantity", "unit", "price", "price_net",
                                    "discount", "vat_rate", "vat", "total"}
    assert set(ctx["totals"]) >= {"net", "vat", "gross", "gross_words", "vat_words",
                                  "discount", "count", "count_words"}
    assert set(ctx["responsible"]) == {"name", "short"}


def test_the_doc_and_the_deal():
    ctx = s.context("invoice")
    assert ctx["doc"] == {"number": "СЧ-2026-00042", "date": "22 ноября 2026 г.",
                          "date_short": "22.11.2026", "date_quoted": '"22" ноября 2026 г.',
                          "kind": "invoice", "title": "invoice", "version": "1"}
    deal = ctx["deal"]
    assert (deal["id"], deal["amount"], deal["currency_sign"]) == ("13142",
                                                                   f"275{NB}550,00", "руб.")
    assert deal["created"] == "20 ноября 2026 г." and deal["stage"] == "Выполнение"
    assert deal["fields"] == {"UF_CRM_VIN": "XTA210990Y2766389"}
    assert ctx["responsible"] == {"name": "Анна Волкова", "short": "Волкова А."}


def test_a_company_party_speaks_for_itself_in_the_preamble():
    ours = c.party_dict(s.OURS)
    assert ours["director_genitive"] == "Петровой Анны Сергеевны"
    assert ours["director_dative"] == "Петровой Анне Сергеевне"
    assert ours["director_short"] == "Петрова А. С."
    assert ours["director_position_genitive"] == "Генерального директора"
    assert ours["basis"] == "Устава" and ours["acting"] == "действующей"
    assert ours["intro"] == ("Общество с ограниченной ответственностью «Ромашка», в лице "
                             "Генерального директора Петровой Анны Сергеевны, действующей на "
                             "основании Устава")
    assert ours["bank"] == {"name": "ПАО Сбербанк", "bik": "044525225",
                            "account": "40702810938000012345",
                            "corr_account": "30101810400000000225", "address": "г. Москва"}
    assert ours["vat_payer"] is True and ours["is_person"] is False
    theirs = c.party_dict(s.CLIENT)
    assert theirs["intro"].endswith("в лице Директора Гуся Петра Ильича, действующего на "
                                    "основании Доверенности № 7 от 01.02.2026")


def test_a_company_without_a_position_has_a_general_director_and_its_charter():
    bare = Party(ref=ItemRef("company", 9), name="АО «Нева»", director="Иванов Иван Иванович")
    side = c.party_dict(bare)
    assert side["director_position"] == "Генеральный директор"
    assert side["intro"] == ("АО «Нева», в лице Генерального директора Иванова Ивана "
                             "Ивановича, действующего на основании Устава")


def test_a_private_person_and_an_entrepreneur():
    person = c.party_dict(s.PERSON)
    assert person["is_person"] is True and person["named"] == "именуемая"
    assert person["intro"] == ("Ким Ольга Олеговна, паспорт серия 4510 № 123456, выдан ОВД "
                               "«Тверской» г. Москвы 01.02.2010, код подразделения 770-001")
    assert person["director_short"] == "Ким О. О." and person["ogrn_label"] == "ОГРНИП"
    ip = c.party_dict(Party(ref=ItemRef("company", 7), is_person=True,
                            name="ИП Соколов Максим Игоревич", ogrn="304500116000157"))
    assert ip["intro"] == "Индивидуальный предприниматель Соколов Максим Игоревич"
    assert ip["director_genitive"] == "Соколова Максима Игоревича"
    assert ip["named"] == "именуемый"


def test_a_missing_side_has_every_key_empty():
    side = c.party_dict(None)
    assert side["name"] == "" and side["bank"]["account"] == "" and side["is_person"] is False


def test_who_buys_decides_the_sides():
    ctx = s.context("buyout_contract", client=s.PERSON)  # we buy the car from its owner
    assert ctx["seller"]["name"] == "Ким Ольга Олеговна"
    assert ctx["buyer"]["name"] == "ООО «Ромашка»"
    assert ctx["vehicle"]["vin"] == "XTA210990Y2766389"


def test_an_extra_section_cannot_replace_the_schema():
    with pytest.raises(ValueError):
        c.build(s.DEAL, None, s.OURS, [], None, c.Meta("1", s.DAY, "invoice"),
                extra={"deal": {"id": "0"}})


def test_blank_names_the_empty_requisites():
    ctx = s.context("invoice", client=None)
    assert c.blank(ctx, ("seller.inn", "buyer.inn", "seller.bank.account",
                         "buyer.bank.bik", "nothing.here")) == [
        "buyer.inn", "buyer.bank.bik", "nothing.here"]


def test_the_schema_names_every_key_of_a_full_context():
    ctx = s.context("work_order")
    full = set(c.names_in(ctx)) - {n for n in c.names_in(ctx) if ".fields." in n}
    assert full - {"deal.fields", "seller.fields", "buyer.fields"} <= set(
        c.schema(("vehicle", "repair")))
    assert "items[].total" in c.schema() and "vehicle.vin" not in c.schema()
