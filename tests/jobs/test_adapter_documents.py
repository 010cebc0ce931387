"""The data a document needs, through the CRM port against the emulator over HTTP: requisites,
bank details, addresses, a requisite link and product rows made through REST as a Bitrix24
user would, read back as Party / ProductRow (DocumentParties, MyCompanies, ProductRows), with
the fallbacks and the number of HTTP requests each read costs."""

from __future__ import annotations

from typing import Any

import pytest

from connector.crm import port as crm
from tests.conftest import Stack
from tests.fixtures.docs import load

RQ = "api-reference__crm__requisites__"


class Portal:
    """REST calls as the portal's admin, and the port's reads with their request count."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.token = stack.control("POST", "tokens", json={})["access_token"]
        member = stack.portal()["member_id"]
        self.port = stack.app.extensions["connector"].crm(member)

    def call(self, method: str, **params: Any) -> Any:
        body = self.stack.rest(method, params, token=self.token).json()
        assert "error" not in body, (method, body)
        return body["result"]

    def company(self, title: str, **fields: Any) -> int:
        return int(self.call("crm.company.add", fields={"TITLE": title, **fields}))

    def requisite(self, etype: int, owner: int, preset: int = 1, **rq: Any) -> int:
        return int(self.call("crm.requisite.add", fields={
            "ENTITY_TYPE_ID": etype, "ENTITY_ID": owner, "PRESET_ID": preset,
            "NAME": "Реквизиты", **rq}))

    def bank(self, requisite: int, **rq: Any) -> int:
        return int(self.call("crm.requisite.bankdetail.add", fields={
            "ENTITY_ID": requisite, "NAME": rq.get("RQ_BANK_NAME", "Банк"), **rq}))

    def address(self, requisite: int, type_id: int, **parts: Any) -> None:
        self.call("crm.address.add", fields={"TYPE_ID": type_id, "ENTITY_TYPE_ID": 8,
                                             "ENTITY_ID": requisite, **parts})

    def deal(self, **fields: Any) -> crm.ItemRef:
        return crm.ItemRef("deal", int(self.call("crm.deal.add", fields={
            "TITLE": "Поставка", **fields})))

    def read(self, query: crm.Query) -> tuple[Any, int]:
        before = self.stack.stats()["requests"]
        reading = self.port.read({"q": query})
        return reading.get("q"), self.stack.stats()["requests"] - before


@pytest.fixture
def b24(installed: Stack) -> Portal:
    return Portal(installed)


SAMPLE_RQ = load(RQ + "universal__crm-requisite-get.md__result")["result"]
SAMPLE_BANK = load(RQ + "bank-detail__crm-requisite-bank-detail-get.md__result")["result"]


def filled(sample: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sample.items() if k.startswith("RQ_") and v is not None}


def test_the_link_names_both_parties_read_in_two_requests(b24: Portal):
    client = b24.company("1С-Битрикс", PHONE=[{"VALUE": "+7 495 111-11-11",
                                               "VALUE_TYPE": "WORK"}])
    client_rq = b24.requisite(4, client, **filled(SAMPLE_RQ), RQ_OKPO="12345678",
                              RQ_CEO_WORK_POS="Генеральный директор", RQ_BASE_DOC="Устава",
                              RQ_ACCOUNTANT="Кузнецова Мария Ивановна",
                              RQ_EMAIL="office@1c-bitrix.test", UF_CRM_1694526604="x-1")
    other_rq = b24.requisite(4, client, RQ_COMPANY_NAME="Филиал", SORT=100)
    b24.bank(client_rq, RQ_BANK_NAME="АО «Первый»", SORT=100)
    named_bank = b24.bank(client_rq, **filled(SAMPLE_BANK), RQ_SWIFT="SABRRUMM",
                          RQ_IBAN="RU0000000000")
    b24.address(client_rq, 4, POSTAL_CODE="101000", CITY="Москва", ADDRESS_1="ул. Мясницкая, 1")
    b24.address(client_rq, 6, POSTAL_CODE="127018", PROVINCE="Москва", CITY="Москва",
                ADDRESS_1="ул. Двинцев, д. 12, корп. 1", ADDRESS_2="оф. 3")
    b24.address(client_rq, 8, POSTAL_CODE="127018", CITY="Москва", ADDRESS_1="а/я 5")
    b24.address(other_rq, 6, CITY="Калининград")
    ours = b24.company("ООО «Заря»", IS_MY_COMPANY="Y",
                       EMAIL=[{"VALUE": "info@zarya.test", "VALUE_TYPE": "WORK"}])
    ours_rq = b24.requisite(4, ours, RQ_COMPANY_NAME="ООО «Заря»", RQ_INN="7801234567",
                            RQ_KPP="780101001", RQ_OGRN="1037800123456",
                            RQ_CEO_NAME="Орлова Анна Павловна", RQ_CEO_WORK_POS="Директор",
                            RQ_BASE_DOC="доверенности № 7 от 01.02.2026", RQ_VAT_PAYER="Y")
    ours_bank = b24.bank(ours_rq, RQ_BANK_NAME="ПАО Сбербанк", RQ_BIK="044030653",
                         RQ_ACC_NUM="40702810955000012345", RQ_COR_ACC_NUM="30101810500000000653",
                         RQ_ACC_CURRENCY="RUB")
    b24.address(ours_rq, 1, POSTAL_CODE="190000", CITY="Санкт-Петербург",
                ADDRESS_1="Невский пр., д. 1")
    contact = int(b24.call("crm.contact.add", fields={"NAME": "Пётр", "LAST_NAME": "Орлов"}))
    deal = b24.deal(COMPANY_ID=client, CONTACT_ID=contact)
    assert b24.call("crm.requisite.link.register", fields={
        "ENTITY_TYPE_ID": 2, "ENTITY_ID": deal.id, "REQUISITE_ID": client_rq,
        "BANK_DETAIL_ID": named_bank, "MC_REQUISITE_ID": ours_rq,
        "MC_BANK_DETAIL_ID": ours_bank}) is True

    parties, requests = b24.read(crm.DocumentParties(deal))
    assert requests == 2
    assert parties["client"] == crm.Party(
        ref=crm.ItemRef("company", client), title="1С-Битрикс", is_person=False,
        requisite_id=client_rq, preset="Организация", name='ООО "1С-БИТРИКС"',
        full_name='ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ "1С-БИТРИКС"', inn="7717586110",
        kpp="770501001", ogrn="5077746476209", okpo="12345678",
        director="РЫЖИКОВ СЕРГЕЙ ВЛАДИМИРОВИЧ", director_position="Генеральный директор",
        accountant="Кузнецова Мария Ивановна", basis="Устава", vat_payer=False,
        legal_address="127018, г. Москва, ул. Двинцев, д. 12, корп. 1, оф. 3",
        postal_address="127018, г. Москва, а/я 5", phone="+7 495 111-11-11",
        email="office@1c-bitrix.test",
        bank=crm.BankAccount(bank="ПАО Супербанк", bik="044525225",
                             account="40702810938000060473",
                             corr_account="30101810400000000225",
                             bank_address="117312, г. Москва, улица Вавилова, дом 19",
                             swift="SABRRUMM", iban="RU0000000000", currency="RUR"),
        fields=parties["client"].fields)
    fields = parties["client"].fields
    assert fields["RQ_INN"] == "7717586110" and fields["UF_CRM_1694526604"] == "x-1"
    assert fields["RQ_COMPANY_REG_DATE"] == "06.04.2007" and "NAME" not in fields
    assert parties["seller"] == crm.Party(
        ref=crm.ItemRef("company", ours), title="ООО «Заря»", requisite_id=ours_rq,
        preset="Организация", name="ООО «Заря»", inn="7801234567", kpp="780101001",
        ogrn="1037800123456", director="Орлова Анна Павловна", director_position="Директор",
        basis="доверенности № 7 от 01.02.2026", vat_payer=True,
        postal_address="190000, г. Санкт-Петербург, Невский пр., д. 1",
        email="info@zarya.test",
        bank=crm.BankAccount(bank="ПАО Сбербанк", bik="044030653",
                             account="40702810955000012345",
                             corr_account="30101810500000000653", currency="RUB"),
        fields=parties["seller"].fields)


def test_without_a_link_the_company_first_requisite_and_the_admins_company(b24: Portal):
    client = b24.company("ООО «Клиент»")
    b24.requisite(4, client, RQ_COMPANY_NAME="Второй", SORT=700)
    first = b24.requisite(4, client, RQ_COMPANY_NAME="Первый", SORT=300)
    b24.bank(first, RQ_BIK="200", SORT=600)
    b24.bank(first, RQ_BIK="100", SORT=200)
    ours = b24.company("ООО «Заря»", IS_MY_COMPANY="Y")
    ours_rq = b24.requisite(4, ours, RQ_COMPANY_NAME="ООО «Заря»")
    deal = b24.deal(COMPANY_ID=client)

    parties, requests = b24.read(crm.DocumentParties(deal, my_company=ours))
    assert requests == 2
    client_party, seller = parties["client"], parties["seller"]
    assert (client_party.requisite_id, client_party.name, client_party.bank.bik) == (
        first, "Первый", "100")
    assert (seller.ref, seller.title, seller.requisite_id, seller.bank) == (
        crm.ItemRef("company", ours), "ООО «Заря»", ours_rq, None)


def test_a_contact_without_company_and_the_portals_first_my_company(b24: Portal):
    contact = int(b24.call("crm.contact.add", fields={
        "NAME": "Анна", "LAST_NAME": "Лебедева", "SECOND_NAME": "Сергеевна",
        "PHONE": [{"VALUE": "+7 900 000-00-01", "VALUE_TYPE": "MOBILE"}]}))
    person = b24.requisite(3, contact, preset=3, RQ_LAST_NAME="Лебедева", RQ_FIRST_NAME="Анна",
                           RQ_SECOND_NAME="Сергеевна", RQ_IDENT_DOC_SER="4510",
                           RQ_IDENT_DOC_NUM="123456")
    b24.address(person, 4, POSTAL_CODE="630090", CITY="Новосибирск", ADDRESS_1="ул. Ленина, 1",
                ADDRESS_2="кв. 12")
    deal = b24.deal(CONTACT_ID=contact)

    parties, requests = b24.read(crm.DocumentParties(deal))
    assert requests == 2
    client = parties["client"]
    assert (client.ref, client.title, client.is_person, client.preset, client.name) == (
        crm.ItemRef("contact", contact), "Анна Лебедева", True, "Физ. лицо",
        "Лебедева Анна Сергеевна")
    assert (client.legal_address, client.phone, client.inn, client.bank) == (
        "630090, г. Новосибирск, ул. Ленина, 1, кв. 12", "+7 900 000-00-01", "", None)
    assert client.fields["RQ_IDENT_DOC_NUM"] == "123456"
    seller = parties["seller"]  # the demo portal's own company (emulator/seed.py)
    assert (seller.title, seller.inn, seller.director, seller.basis) == (
        "ООО «Ромашка»", "7701234567", "Иванов Иван Иванович", "Устава")
    assert seller.legal_address == "123456, г. Москва, ул. Ленина, д. 1, оф. 5"
    assert seller.bank is not None and seller.bank.bik == "044525225"


def test_no_requisites_no_client_and_a_deleted_deal(b24: Portal):
    bare = b24.company("ИП Сидоров", PHONE=[{"VALUE": "+7 495 000-11-22",
                                             "VALUE_TYPE": "WORK"}])
    parties, requests = b24.read(crm.DocumentParties(b24.deal(COMPANY_ID=bare)))
    assert requests == 2  # our company's bank and addresses still need the second batch
    assert parties["client"] == crm.Party(crm.ItemRef("company", bare), "ИП Сидоров",
                                          phone="+7 495 000-11-22")
    parties, requests = b24.read(crm.DocumentParties(b24.deal()))
    assert parties["client"] is None and parties["seller"].title == "ООО «Ромашка»"
    assert requests == 2
    gone = b24.deal()
    b24.call("crm.deal.delete", id=gone.id)
    with pytest.raises(crm.NotFound):
        b24.read(crm.DocumentParties(gone))


def test_a_smart_process_item_names_our_company_and_may_have_a_link(b24: Portal):
    client = b24.company("ООО «Груз»")
    client_rq = b24.requisite(4, client, RQ_COMPANY_NAME="ООО «Груз»", RQ_INN="5401000000")
    ours = b24.company("ООО «Заря»", IS_MY_COMPANY="Y")
    ours_rq = b24.requisite(4, ours, RQ_COMPANY_NAME="ООО «Заря»")
    item = b24.call("crm.item.add", entityTypeId=128, fields={
        "title": "Рейс", "companyId": client, "mycompanyId": ours})["item"]
    ref = crm.ItemRef("item:128", int(item["id"]))
    parties, requests = b24.read(crm.DocumentParties(ref, my_company=6))
    assert requests == 2
    assert (parties["client"].requisite_id, parties["seller"].ref.id,
            parties["seller"].requisite_id) == (client_rq, ours, ours_rq)
    b24.call("crm.requisite.link.register", fields={
        "ENTITY_TYPE_ID": 128, "ENTITY_ID": ref.id, "REQUISITE_ID": client_rq,
        "BANK_DETAIL_ID": 0, "MC_REQUISITE_ID": ours_rq, "MC_BANK_DETAIL_ID": 0})
    parties, _ = b24.read(crm.DocumentParties(ref))
    assert (parties["client"].inn, parties["seller"].title) == ("5401000000", "ООО «Заря»")


def test_product_rows_read_in_one_request_and_every_page(b24: Portal):
    deal = b24.deal()
    b24.call("crm.item.productrow.set", ownerType="D", ownerId=deal.id, productRows=[
        {"productName": "Кресло", "price": 18000, "quantity": 2, "discountTypeId": 1,
         "discountSum": 2000, "taxRate": 20, "taxIncluded": "Y", "sort": 10},
        {"productName": "Диван", "price": 90000, "quantity": 3, "discountTypeId": 2,
         "discountRate": 10, "taxRate": 10, "taxIncluded": "Y", "measureCode": 796,
         "sort": 20},
        {"productName": "Сборка", "price": 5000.5, "quantity": 1.5, "measureCode": 356,
         "sort": 30}])
    rows, requests = b24.read(crm.ProductRows(deal))
    assert requests == 1
    assert rows == [
        crm.ProductRow("Кресло", quantity="2", price="18000", price_exclusive="15000",
                       price_netto="17000", price_brutto="20400", discount_type="amount",
                       discount_rate="11.76", discount_sum="2000", tax_rate="20",
                       tax_included=True, measure="шт", measure_code="796", sort=10),
        crm.ProductRow("Диван", quantity="3", price="90000", price_exclusive="81818.18",
                       price_netto="90909.09", price_brutto="100000", discount_type="percent",
                       discount_rate="10", discount_sum="9090.91", tax_rate="10",
                       tax_included=True, measure="шт", measure_code="796", sort=20),
        crm.ProductRow("Сборка", quantity="1.5", price="5000.5", price_exclusive="5000.5",
                       price_netto="5000.5", price_brutto="5000.5", discount_type="percent",
                       tax_rate=None, tax_included=False, measure="ч", measure_code="356",
                       sort=30)]
    many = b24.deal()
    b24.call("crm.item.productrow.set", ownerType="D", ownerId=many.id, productRows=[
        {"productName": f"Позиция {i}", "price": i, "sort": i} for i in range(1, 121)])
    rows, requests = b24.read(crm.ProductRows(many))
    assert requests == 2 and [r.sort for r in rows] == list(range(1, 121))
    rows, requests = b24.read(crm.ProductRows(b24.deal()))
    assert (rows, requests) == ([], 1)


def test_my_companies_with_their_requisites(b24: Portal):
    ours = b24.company("ООО «Заря»", IS_MY_COMPANY="Y")
    b24.requisite(4, ours, RQ_COMPANY_NAME="ООО «Заря»", RQ_INN="7801234567")
    companies, requests = b24.read(crm.MyCompanies())
    assert requests == 3
    assert [(c.title, c.inn) for c in companies] == [("ООО «Ромашка»", "7701234567"),
                                                     ("ООО «Заря»", "7801234567")]
    assert companies[0].bank is not None and companies[0].bank.account == (
        "40702810938000060473")


def test_the_demo_deal_reads_as_the_seed_made_it(b24: Portal):
    parties, requests = b24.read(crm.DocumentParties(crm.ItemRef("deal", 2)))
    assert requests == 2
    client, seller = parties["client"], parties["seller"]
    assert (client.title, client.inn, client.kpp, client.director, client.legal_address) == (
        "ООО «Вектор»", "5408123456", "540801001", "Петров Пётр Петрович",
        "630090, Новосибирская обл., г. Новосибирск, ул. Пирогова, д. 2")
    assert client.bank is not None and client.bank.bik == "044525593"
    assert (seller.title, seller.director_position, seller.accountant, seller.vat_payer) == (
        "ООО «Ромашка»", "Генеральный директор", "Смирнова Ольга Петровна", True)
    rows, _ = b24.read(crm.ProductRows(crm.ItemRef("deal", 2)))
    assert [(r.name, r.discount_type, r.tax_rate, r.service) for r in rows] == [
        ("Кресло «Бержер»", "amount", "20", False), ("Диван «Честер»", "percent", "20", False),
        ("Доставка и сборка", "percent", None, True)]
