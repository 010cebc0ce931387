"""The emulator's product-row prices (emulator/methods/product_rows.py) against the samples
of api-reference/crm/universal/product-rows/: the request's price, discount and tax give the
answer's priceExclusive, priceNetto, priceBrutto and discountSum."""

from __future__ import annotations

from emulator.methods.product_rows import priced
from tests.fixtures.docs import load

ROWS = "api-reference__crm__universal__product-rows__"
DERIVED = ("price", "priceExclusive", "priceNetto", "priceBrutto", "discountSum",
           "discountRate")


def test_the_add_sample_percent_discount_and_vat_included():
    request = load(ROWS + "crm-item-productrow-add.md__request")["fields"]
    answer = load(ROWS + "crm-item-productrow-add.md__result")["result"]["productRow"]
    got = priced(request)
    assert {k: got[k] for k in DERIVED} == {k: answer[k] for k in DERIVED}


def test_the_update_sample_and_the_list_rows():
    request = load(ROWS + "crm-item-productrow-update.md__request")["fields"]
    answer = load(ROWS + "crm-item-productrow-update.md__result")["result"]["productRow"]
    assert {k: priced(request)[k] for k in DERIVED} == {k: answer[k] for k in DERIVED}
    for row in load(ROWS + "crm-item-productrow-list.md__result")["result"]["productRows"]:
        given = {k: row[k] for k in ("price", "discountTypeId", "discountRate", "taxRate")}
        assert {k: priced(given)[k] for k in DERIVED} == {k: row[k] for k in DERIVED}


def test_the_set_sample_rows_without_discount_or_tax():
    request = load(ROWS + "crm-item-productrow-set.md__request")["productRows"]
    answer = load(ROWS + "crm-item-productrow-set.md__result")["result"]["productRows"]
    for given, row in zip(request, answer, strict=True):
        assert {k: priced(given)[k] for k in DERIVED} == {k: row[k] for k in DERIVED}


def test_an_amount_discount_gives_its_rate():
    got = priced({"price": 18000, "discountTypeId": 1, "discountSum": 2000, "taxRate": 20})
    assert (got["priceExclusive"], got["priceNetto"], got["priceBrutto"], got["discountSum"],
            got["discountRate"]) == (15000, 17000, 20400, 2000, 11.76)
