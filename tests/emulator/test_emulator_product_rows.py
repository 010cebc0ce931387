"""crm.item.productrow.* over HTTP with the docs' sample requests, each answer compared with
the sample the docs print (api-reference/crm/universal/product-rows/)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.docs import load

ROWS = "api-reference__crm__universal__product-rows__"
PRICES = ("price", "priceAccount", "priceExclusive", "priceNetto", "priceBrutto",
          "discountSum", "discountRate", "quantity", "taxRate", "taxIncluded", "measureCode",
          "measureName", "sort", "discountTypeId", "customized")


def ok(resp: Any) -> Any:
    body = resp.json()
    assert resp.status_code == 200 and "error" not in body, body
    return body["result"]


def err(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    return {"error": body["error"], "error_description": body["error_description"]}


def new_deal(emu_call, **fields: Any) -> int:
    return int(ok(emu_call("crm.deal.add", {"fields": {"TITLE": "Поставка", **fields}})))


def test_add_update_get_as_the_samples_answer(emu_call):
    deal = new_deal(emu_call)
    request = load(ROWS + "crm-item-productrow-add.md__request")
    request["fields"].update({"ownerId": deal, "productName": "iphone 14"})
    row = ok(emu_call("crm.item.productrow.add", request))["productRow"]
    sample = load(ROWS + "crm-item-productrow-add.md__result")["result"]["productRow"]
    assert set(row) >= set(sample)
    assert {k: row[k] for k in PRICES} == {k: sample[k] for k in PRICES}
    assert (row["ownerId"], row["ownerType"], row["productName"]) == (deal, "D", "iphone 14")
    update = load(ROWS + "crm-item-productrow-update.md__request")
    changed = ok(emu_call("crm.item.productrow.update", {**update, "id": row["id"]}))[
        "productRow"]
    answer = load(ROWS + "crm-item-productrow-update.md__result")["result"]["productRow"]
    assert {k: changed[k] for k in PRICES} == {k: answer[k] for k in PRICES}
    got = ok(emu_call("crm.item.productrow.get", {"id": row["id"]}))["productRow"]
    assert got == changed
    assert err(emu_call("crm.item.productrow.update", {"id": row["id"], "fields": {
        "priceNetto": 1}}))["error"] == "INVALID_ARG_VALUE"
    assert err(emu_call("crm.item.productrow.update", {"id": row["id"], "fields": {
        "ownerId": 1}}))["error"] == "INVALID_ARG_VALUE"


def test_list_needs_the_owner_filter_and_answers_product_rows(emu_call):
    deal = new_deal(emu_call)
    for price, sort in ((5550, 10), (90000, 20), (100, 30)):
        ok(emu_call("crm.item.productrow.add", {"fields": {
            "ownerType": "D", "ownerId": deal, "productName": f"Товар {price}", "price": price,
            "sort": sort}}))
    request = load(ROWS + "crm-item-productrow-list.md__request")
    request["filter"]["=ownerId"] = deal
    listed = emu_call("crm.item.productrow.list", request).json()
    sample = load(ROWS + "crm-item-productrow-list.md__result")
    assert set(listed["result"]) == set(sample["result"]) == {"productRows"}
    assert [r["price"] for r in listed["result"]["productRows"]] == [90000, 5550]  # desc
    assert listed["total"] == 2
    assert err(emu_call("crm.item.productrow.list", {"filter": {"=ownerType": "D"}}))[
        "error"] == "100"
    assert err(emu_call("crm.item.productrow.list", {"filter": {
        "=ownerType": "CO", "=ownerId": 1}}))["error"] == "ENTITY_TYPE_NOT_SUPPORTED"


def test_set_replaces_the_rows_and_the_amount_follows(emu_call):
    deal = new_deal(emu_call)
    ok(emu_call("crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": deal,
                                                       "productName": "old", "price": 1}}))
    request = load(ROWS + "crm-item-productrow-set.md__request")
    request["ownerId"] = deal
    made = ok(emu_call("crm.item.productrow.set", request))["productRows"]
    sample = load(ROWS + "crm-item-productrow-set.md__result")["result"]["productRows"]
    assert [{k: r[k] for k in PRICES} for r in made] == [
        {k: r[k] for k in PRICES} for r in sample]
    listed = ok(emu_call("crm.item.productrow.list", {"filter": {"=ownerType": "D",
                                                                 "=ownerId": deal}}))
    assert [r["id"] for r in listed["productRows"]] == [r["id"] for r in made]
    # IS_MANUAL_OPPORTUNITY N: the amount is Σ price × quantity (99999.99 + 2 × 15900)
    assert ok(emu_call("crm.deal.get", {"id": deal}))["OPPORTUNITY"] == "131799.99"
    assert err(emu_call("crm.item.productrow.set", {**request, "ownerId": 999999})) == load(
        ROWS + "crm-item-productrow-set.md__owner-not-found")


def test_errors_delete_and_rows_going_with_their_deal(emu_call):
    assert err(emu_call("crm.item.productrow.get", {"id": 17622})) == load(
        ROWS + "crm-item-productrow-get.md__not-found")
    request = load(ROWS + "crm-item-productrow-add.md__request")
    request["fields"]["ownerId"] = 999999
    assert err(emu_call("crm.item.productrow.add", request)) == load(
        ROWS + "crm-item-productrow-add.md__owner-not-found")
    deal = new_deal(emu_call)
    first, second = (ok(emu_call("crm.item.productrow.add", {"fields": {
        "ownerType": "D", "ownerId": deal, "productName": n, "price": 10}}))["productRow"]
        for n in ("a", "b"))
    assert ok(emu_call("crm.item.productrow.delete", {"id": first["id"]})) is load(
        ROWS + "crm-item-productrow-delete.md__result")["result"]
    assert err(emu_call("crm.item.productrow.update", {"id": first["id"], "fields": {
        "price": 1}})) == load(ROWS + "crm-item-productrow-update.md__not-found")
    ok(emu_call("crm.deal.delete", {"id": deal}))
    assert err(emu_call("crm.item.productrow.get", {"id": second["id"]}))["error"] == (
        "NOT_FOUND")


def test_smart_process_items_have_rows_under_their_hex_code(emu_call):
    item = ok(emu_call("crm.item.add", {"entityTypeId": 128, "fields": {"title": "Рейс"}}))[
        "item"]
    row = ok(emu_call("crm.item.productrow.add", {"fields": {
        "ownerType": "T80", "ownerId": item["id"], "productName": "Перевозка", "price": 1000,
        "taxRate": 20, "taxIncluded": "Y"}}))["productRow"]
    assert (row["ownerType"], row["priceExclusive"]) == ("T80", 833.33)
    listed = ok(emu_call("crm.item.productrow.list", {"filter": {"=ownerType": "T80",
                                                                 "=ownerId": item["id"]}}))
    assert [r["id"] for r in listed["productRows"]] == [row["id"]]


def test_the_demo_deal_has_a_discount_a_vat_row_and_a_service_without_vat(emu_call):
    rows = ok(emu_call("crm.item.productrow.list", {"filter": {"=ownerType": "D",
                                                               "=ownerId": 2},
                                                    "order": {"sort": "ASC"}}))["productRows"]
    assert [(r["productName"], r["discountTypeId"], r["discountSum"], r["taxRate"],
             r["taxIncluded"], r["type"], r["measureName"]) for r in rows] == [
        ("Кресло «Бержер»", 1, 2000, 20, "Y", 1, "шт"),
        ("Диван «Честер»", 2, 0, 20, "Y", 1, "шт"),
        ("Доставка и сборка", 2, 0, None, "N", 7, "усл. ед.")]
    deal = ok(emu_call("crm.deal.get", {"id": 2}))
    assert (deal["OPPORTUNITY"], deal["TAX_VALUE"], deal["CURRENCY_ID"]) == (
        "137000.00", "22000.00", "RUB")


def test_the_deprecated_deal_methods_see_the_same_rows(emu_call):
    deal = new_deal(emu_call)
    assert ok(emu_call("crm.deal.productrows.set", {"id": deal, "rows": [
        {"PRODUCT_NAME": "Товар #2", "PRICE": 899.1, "QUANTITY": 1, "DISCOUNT_TYPE_ID": 2,
         "DISCOUNT_RATE": 10}]})) is True
    old = ok(emu_call("crm.deal.productrows.get", {"id": deal}))
    sample = load("api-reference__crm__deals__crm-deal-productrows-get.md__result")["result"][0]
    keys = set(sample) - {"RESERVE_ID", "DATE_RESERVE_END", "RESERVE_QUANTITY"}
    assert set(old[0]) >= keys
    same = ("PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO", "PRICE_ACCOUNT",
            "DISCOUNT_SUM", "DISCOUNT_RATE", "DISCOUNT_TYPE_ID", "QUANTITY", "TAX_RATE")
    assert {k: old[0][k] for k in same} == {k: sample[k] for k in same}
    new = ok(emu_call("crm.item.productrow.list", {"filter": {"=ownerType": "D",
                                                              "=ownerId": deal}}))
    assert [str(r["id"]) for r in new["productRows"]] == [r["ID"] for r in old]
    assert err(emu_call("crm.deal.productrows.get", {"id": 0}))["error_description"] == (
        "The parameter id is invalid or not defined.")
    assert err(emu_call("crm.deal.productrows.get", {"id": 999999}))["error_description"] == (
        "Not found")
