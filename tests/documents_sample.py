"""A full set of document data — our company, a client company, a private person, the product
rows of Bitrix24's own crm.item.productrow.list example — for the documents' tests and bench."""

from __future__ import annotations

from datetime import date
from typing import Any

from connector.crm.port import BankAccount, Item, ItemRef, Party, Person, ProductRow
from robots.documents import context as c
from robots.documents.kinds import SECTIONS, kind

OURS = Party(
    ref=ItemRef("company", 1), title="Ромашка", requisite_id=1, preset="Организация",
    name="ООО «Ромашка»", full_name="Общество с ограниченной ответственностью «Ромашка»",
    inn="7701234567", kpp="770101001", ogrn="1027700132195", okpo="12345678",
    director="Петрова Анна Сергеевна", director_position="Генеральный директор",
    accountant="Кузьмина Любовь Петровна", basis="Устав", vat_payer=True,
    legal_address="125009, г. Москва, ул. Тверская, д. 7, офис 12",
    postal_address="125009, г. Москва, ул. Тверская, д. 7, офис 12",
    phone="+7 495 123-45-67", email="info@romashka.example",
    bank=BankAccount(bank="ПАО Сбербанк", bik="044525225", account="40702810938000012345",
                     corr_account="30101810400000000225", bank_address="г. Москва"))

CLIENT = Party(
    ref=ItemRef("company", 5), title="Рога и Копыта", requisite_id=60, preset="Организация",
    name="ООО «Рога & Копыта»", full_name="Общество с ограниченной ответственностью "
    "«Рога & Копыта»", inn="7811234560", kpp="781101001", ogrn="1137847000001",
    director="Гусь Пётр Ильич", director_position="Директор", basis="Доверенность № 7 от "
    "01.02.2026", legal_address="190000, г. Санкт-Петербург, Невский пр., д. 1",
    phone="+7 812 000-00-00",
    bank=BankAccount(bank="АО «Тинькофф Банк»", bik="044525974", account="40702810510000000001",
                     corr_account="30101810145250000974"))

PERSON = Party(
    ref=ItemRef("contact", 3), title="Ким Ольга Олеговна", is_person=True, requisite_id=61,
    preset="Физ. лицо", name="Ким Ольга Олеговна", inn="500100732259",
    legal_address="г. Москва, ул. Ленина, д. 1, кв. 2", phone="+7 900 000-00-00",
    fields={"RQ_IDENT_DOC": "Паспорт", "RQ_IDENT_DOC_SER": "4510",
            "RQ_IDENT_DOC_NUM": "123456", "RQ_IDENT_DOC_DATE": "01.02.2010",
            "RQ_IDENT_DOC_ISSUED_BY": "ОВД «Тверской» г. Москвы",
            "RQ_IDENT_DOC_DEP_CODE": "770-001"})


def row(data: dict[str, Any]) -> ProductRow:
    """A crm.item.productrow.list answer's row as the port's ProductRow (what the adapter
    reads: api-reference/crm/universal/product-rows/crm-item-productrow-list.md)."""
    tax = data["taxRate"]
    return ProductRow(
        name=data["productName"], quantity=str(data["quantity"]), price=str(data["price"]),
        price_exclusive=str(data["priceExclusive"]), price_netto=str(data["priceNetto"]),
        price_brutto=str(data["priceBrutto"]),
        discount_type={1: "amount", 2: "percent"}.get(data["discountTypeId"], ""),
        discount_rate=str(data["discountRate"]), discount_sum=str(data["discountSum"]),
        tax_rate=None if tax is None else str(tax), tax_included=data["taxIncluded"] == "Y",
        measure=data["measureName"], measure_code=str(data["measureCode"]),
        sort=data["sort"])


# the docs' own example answer of crm.item.productrow.list
DOCS_ROWS = [
    {"id": 17649, "ownerId": 13142, "ownerType": "D", "productId": 9621,
     "productName": "iphone 14", "price": 90000, "priceAccount": 90000,
     "priceExclusive": 81818.18, "priceNetto": 90909.09, "priceBrutto": 100000, "quantity": 3,
     "discountTypeId": 2, "discountRate": 10, "discountSum": 9090.91, "taxRate": 10,
     "taxIncluded": "Y", "customized": "Y", "measureCode": 796, "measureName": "шт",
     "sort": 20, "xmlId": "sale_basket_8147", "type": 4, "storeId": 19},
    {"id": 17650, "ownerId": 13142, "ownerType": "D", "productId": 9623,
     "productName": "iphone 10xs", "price": 5550, "priceAccount": 5550,
     "priceExclusive": 5550, "priceNetto": 5550, "priceBrutto": 5550, "quantity": 1,
     "discountTypeId": 2, "discountRate": 0, "discountSum": 0, "taxRate": None,
     "taxIncluded": "Y", "customized": "Y", "measureCode": 6, "measureName": "м",
     "sort": 10, "xmlId": "sale_basket_8148", "type": 4, "storeId": 17},
]
ROWS = [row(r) for r in DOCS_ROWS]
DEAL = Item(ref=ItemRef("deal", 13142), title="Перевозка Москва — Санкт-Петербург",
            amount="275550", currency="RUB", created_at="2026-11-20T10:15:00+03:00",
            stage="C1:EXECUTING", fields={"UF_CRM_VIN": "XTA210990Y2766389"})
RESPONSIBLE = Person(1, "Анна Волкова")
DAY = date(2026, 11, 22)
EXTRA = {
    "vehicle": {"make_model": "Lada Vesta", "vin": "XTA210990Y2766389", "year": "2021",
                "color": "белый", "body_number": "XTA210990Y2766389",
                "engine_number": "21129 1234567", "plate": "А123ВС 777",
                "pts": "77 ОО 123456", "mileage": "45 300", "price": "1 150 000,00"},
    "route": {"shipper": "ООО «Рога & Копыта», г. Москва",
              "consignee": "АО «Нева», г. Санкт-Петербург",
              "loading_address": "г. Москва, ул. Складская, д. 3",
              "loading_date": "23.11.2026 09:00",
              "unloading_address": "г. Санкт-Петербург, пр. Обуховской Обороны, д. 120",
              "unloading_date": "24.11.2026 14:00"},
    "cargo": {"name": "Бытовая техника в коробках", "weight": "8 500", "volume": "42",
              "places": "120", "packing": "картонные коробки на паллетах",
              "value": "3 500 000,00 руб."},
    "transport": {"carrier": "ИП Соколов Максим Игоревич", "vehicle": "Volvo FH, А777АА 77",
                  "trailer": "ВА 1234 77", "body_type": "тент, 82 м³",
                  "driver": "Белых Илья Ильич", "driver_document": "ВУ 77 12 345678",
                  "driver_phone": "+7 901 111-22-33"},
    "repair": {"complaint": "стук в передней подвеске", "findings": "износ шаровых опор",
               "recommendations": "замена шаровых опор, развал-схождение",
               "accepted": "22.11.2026 10:00", "ready": "23.11.2026 18:00",
               "warranty": "6 месяцев или 10 000 км"},
}


def extra_for(code: str) -> dict[str, dict[str, str]]:
    """The sections this kind declares, every key of them filled."""
    wanted = kind(code).sections
    return {s: {key: EXTRA[s][key] for key, _ in SECTIONS[s]} for s in wanted}


def context(code: str, client: Party | None = CLIENT, rows: list[ProductRow] | None = None,
            **meta: Any) -> dict[str, Any]:
    """A full context for a shipped kind of document."""
    k = kind(code)
    info = c.Meta(number=f"{k.prefix}2026-00042", date=DAY, kind=code,
                  title=meta.pop("title", code), stage="Выполнение", **meta)
    return c.build(DEAL, client, OURS, ROWS if rows is None else rows, RESPONSIBLE, info,
                   buyer=k.buyer, extra=extra_for(code))
