"""The pure half of the documents reads (connector/bitrix/documents.py): the docs' sample
answers in, Party / BankAccount / ProductRow and the second batch's commands out."""

from __future__ import annotations

from typing import Any

from connector.bitrix import documents as docs
from connector.crm import port as p
from tests.fixtures.docs import load

RQ = "api-reference__crm__requisites__"
ROWS = "api-reference__crm__universal__product-rows__"


def sample(name: str) -> Any:
    return load(name)["result"]


# ------------------------------------------------------------------ addresses
def test_an_address_line_from_the_docs_sample():
    # addresses/crm-address-list.md: PROVINCE and REGION both "Тюменская обл"
    row = sample(RQ + "addresses__crm-address-list.md__result")[0]
    assert docs.format_address(row) == "625003, Тюменская обл, г. Тюмень, Ленина 2, 701"


def test_a_city_that_is_its_own_province_appears_once():
    row = {"POSTAL_CODE": "123456", "PROVINCE": "Москва", "CITY": "Москва",
           "ADDRESS_1": "ул. Ленина, д. 1", "ADDRESS_2": "оф. 5", "COUNTRY": "Россия"}
    assert docs.format_address(row) == "123456, г. Москва, ул. Ленина, д. 1, оф. 5"
    assert docs.format_address({**row, "CITY": "г. Москва"}) == (
        "123456, г. Москва, ул. Ленина, д. 1, оф. 5")


def test_a_village_keeps_its_mark_and_a_foreign_country_is_named():
    assert docs.format_address({"CITY": "с. Успенское", "PROVINCE": "Московская обл.",
                                "ADDRESS_1": "ул. Мира, 3"}) == (
        "Московская обл., с. Успенское, ул. Мира, 3")
    assert docs.format_address({"POSTAL_CODE": "10115", "COUNTRY": "Германия",
                                "CITY": "Берлин"}) == "10115, Германия, г. Берлин"
    assert docs.format_address(None) == "" and docs.format_address({}) == ""


def test_legal_address_is_type_6_else_4_and_postal_8_else_1():
    rows = sample(RQ + "addresses__crm-address-list.md__two-requisites")
    actual = {**rows[0], "TYPE_ID": "1"}
    registered = {**rows[1], "TYPE_ID": "4"}
    assert docs.pick_address([actual, registered], docs.LEGAL_ADDRESS) == (
        "666000, Тюменская область, Тюменская область рег, г. Тюмень, Ленина, 2")
    assert docs.pick_address([actual, registered], docs.POSTAL_ADDRESS) == (
        "625003, Тюменская обл, г. Тюмень, Ленина 2, 701")
    legal = {**registered, "TYPE_ID": "6", "CITY": "Ишим"}
    assert docs.pick_address([registered, legal], docs.LEGAL_ADDRESS).endswith("г. Ишим, Ленина, 2")
    assert docs.pick_address([actual], (8,)) == ""


# ------------------------------------------------------------------ bank and party
def test_bank_details_from_the_docs_sample():
    bank = docs.bank_from(sample(RQ + "bank-detail__crm-requisite-bank-detail-get.md__result"))
    assert bank == p.BankAccount(bank="ПАО Супербанк", bik="044525225",
                                 account="40702810938000060473",
                                 corr_account="30101810400000000225",
                                 bank_address="117312, г. Москва, улица Вавилова, дом 19",
                                 swift="", iban="", currency="RUR")
    assert docs.bank_from(None) is None


def test_a_company_party_from_the_docs_requisite():
    requisite = sample(RQ + "universal__crm-requisite-get.md__result")
    preset = {"ID": "1", "NAME": "Организация", "XML_ID": "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY#"}
    bank = sample(RQ + "bank-detail__crm-requisite-bank-detail-get.md__result")
    address = {**sample(RQ + "addresses__crm-address-list.md__result")[0], "TYPE_ID": "6",
               "ENTITY_ID": "27"}
    owner = docs.Owner(p.ItemRef("company", 1), {
        "ID": "1", "TITLE": "1С-Битрикс", "PHONE": [{"VALUE": "+7 495 000-00-00"}]})
    party = docs.party_from(owner, requisite, preset, bank, [address])
    assert (party.ref, party.title, party.is_person, party.requisite_id, party.preset) == (
        p.ItemRef("company", 1), "1С-Битрикс", False, 27, "Организация")
    assert (party.name, party.full_name) == (
        'ООО "1С-БИТРИКС"', 'ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ "1С-БИТРИКС"')
    assert (party.inn, party.kpp, party.ogrn, party.okpo) == (
        "7717586110", "770501001", "5077746476209", "")
    assert (party.director, party.director_position, party.accountant, party.basis) == (
        "РЫЖИКОВ СЕРГЕЙ ВЛАДИМИРОВИЧ", "", "", "")
    assert party.vat_payer is False
    assert party.legal_address == "625003, Тюменская обл, г. Тюмень, Ленина 2, 701"
    assert party.postal_address == ""
    assert (party.phone, party.email) == ("+7 495 000-00-00", "")  # the company's own phone
    assert party.bank is not None and party.bank.bik == "044525225"
    assert party.fields["RQ_INN"] == "7717586110" and "NAME" not in party.fields
    assert "RQ_CEO_NAME" in party.fields and party.fields["RQ_CEO_NAME"] is None


def test_director_falls_back_to_the_ceo_and_an_individual_is_a_person():
    requisite = {"ID": "5", "PRESET_ID": "2", "RQ_DIRECTOR": None, "RQ_CEO_NAME": "Сидоров С. С.",
                 "RQ_LAST_NAME": "Сидоров", "RQ_FIRST_NAME": "Семён",
                 "RQ_SECOND_NAME": "Семёнович", "RQ_OGRNIP": "304500116000157",
                 "RQ_VAT_PAYER": None}
    preset = {"ID": "2", "NAME": "ИП", "XML_ID": "#CRM_REQUISITE_PRESET_DEF_RU_INDIVIDUAL#"}
    owner = docs.Owner(p.ItemRef("contact", 9), {"NAME": "Семён", "LAST_NAME": "Сидоров"})
    party = docs.party_from(owner, requisite, preset, None, [])
    assert (party.title, party.is_person, party.preset, party.name) == (
        "Семён Сидоров", True, "ИП", "Сидоров Семён Семёнович")
    assert (party.director, party.ogrn, party.vat_payer, party.bank) == (
        "Сидоров С. С.", "304500116000157", None, None)


def test_a_party_without_requisites_is_still_a_party():
    contact = docs.party_from(docs.Owner(p.ItemRef("contact", 4), {
        "NAME": "Анна", "LAST_NAME": "Лебедева", "SECOND_NAME": "Сергеевна",
        "EMAIL": [{"VALUE": "anna@mail.test"}]}), None, None, None, [])
    assert (contact.title, contact.name, contact.is_person, contact.requisite_id,
            contact.email) == ("Анна Лебедева", "Лебедева Анна Сергеевна", True, 0,
                               "anna@mail.test")
    company = docs.party_from(docs.Owner(p.ItemRef("company", 3), {"TITLE": "Nord"}), None,
                              None, None, [])
    assert (company.title, company.name, company.is_person, company.inn) == (
        "Nord", "", False, "")


# ------------------------------------------------------------------ product rows
def test_product_rows_from_the_docs_list_sample():
    rows = sample(ROWS + "crm-item-productrow-list.md__result")["productRows"]
    first, second = (docs.product_row_from(r) for r in rows)
    assert first == p.ProductRow(
        name="iphone 14", quantity="3", price="90000", price_exclusive="81818.18",
        price_netto="90909.09", price_brutto="100000", discount_type="percent",
        discount_rate="10", discount_sum="9090.91", tax_rate="10", tax_included=True,
        measure="шт", measure_code="796", sort=20, service=False)
    assert (second.tax_rate, second.measure, second.measure_code, second.price) == (
        None, "м", "6", "5550")


def test_an_amount_discount_and_a_service_row():
    row = docs.product_row_from({"productName": "Доставка", "price": 5000.5, "quantity": 1.5,
                                 "discountTypeId": 1, "discountSum": 100, "taxRate": None,
                                 "taxIncluded": "N", "measureCode": 876,
                                 "measureName": "усл. ед.", "sort": 30, "type": 7})
    assert (row.price, row.quantity, row.discount_type, row.discount_sum, row.tax_rate,
            row.tax_included, row.service) == ("5000.5", "1.5", "amount", "100", None, False,
                                               True)


def test_product_rows_commands_and_pages():
    deal = p.ItemRef("deal", 13142)
    assert docs.product_rows_command(deal) == ("crm.item.productrow.list", {
        "filter": {"=ownerType": "D", "=ownerId": 13142}, "order": {"sort": "ASC", "id": "ASC"},
        "start": 0})
    assert docs.product_rows_command(p.ItemRef("item:128", 3))[1]["filter"]["=ownerType"] == (
        "T80")
    assert docs.product_pages("k", deal, 50) == {}
    assert list(docs.product_pages("k", deal, 120)) == ["k_p50", "k_p100"]
    page = sample(ROWS + "crm-item-productrow-list.md__result")
    raw = {"k_p100": {"productRows": page["productRows"][:1]}, "k_p0": page,
           "k_p50": {"productRows": []}, "k_pX": page}
    assert [r.name for r in docs.product_rows_from("k", raw)] == [
        "iphone 14", "iphone 10xs", "iphone 14"]


# ------------------------------------------------------------------ choosing the parties
DEAL = p.ItemRef("deal", 315)
SRC = docs.item_command(DEAL)[0]


def requisite(rid: int, etype: int, owner: int, sort: int = 500, **rq: Any) -> dict[str, Any]:
    base = sample(RQ + "universal__crm-requisite-get.md__result")
    return {**base, "ID": str(rid), "ENTITY_TYPE_ID": str(etype), "ENTITY_ID": str(owner),
            "SORT": str(sort), **rq}


def first_batch(company: int = 5, contact: int = 0, link: Any = None, **extra: Any
                ) -> dict[str, Any]:
    raw: dict[str, Any] = {
        SRC: {"item": {"id": 315, "companyId": company, "contactId": contact}},
        "k_co": {"ID": str(company), "TITLE": "Клиент"} if company else None,
        "k_ct": {"ID": str(contact), "NAME": "Анна", "LAST_NAME": "Лебедева"} if contact
        else None,
        "k_cor": [requisite(60, 4, company, 500), requisite(61, 4, company, 600)]
        if company else [],
        "k_ctr": [requisite(70, 3, contact, PRESET_ID="3", RQ_COMPANY_NAME=None,
                            RQ_LAST_NAME="Лебедева")] if contact else [],
        "k_mc": [{"ID": "3010", "TITLE": "ООО «Ромашка»"}, {"ID": "3011", "TITLE": "ИП Иванов"}],
        "k_mcr": [requisite(2, 4, 3010)],
        "k_ps": sample(RQ + "presets__crm-requisite-preset-list.md__result"),
    }
    if link is not None:
        raw["k_l"] = link
    raw.update(extra)
    return raw


def test_the_first_batch_asks_for_every_input_of_the_choice():
    cmds = docs.party_commands("k", p.DocumentParties(DEAL))
    assert cmds[SRC] == ("crm.item.get", {"entityTypeId": 2, "id": 315})
    assert cmds["k_l"] == ("crm.requisite.link.get", {"entityTypeId": 2, "entityId": 315})
    assert cmds["k_cor"][1]["filter"] == {"ENTITY_TYPE_ID": 4,
                                          "ENTITY_ID": f"$result[{SRC}][item][companyId]"}
    assert cmds["k_ctr"][1]["order"] == {"SORT": "ASC", "ID": "ASC"}
    assert cmds["k_mcr"][1]["filter"]["ENTITY_ID"] == "$result[k_mc][0][ID]"
    assert "k_mco" not in cmds
    chosen = docs.party_commands("k", p.DocumentParties(DEAL, my_company=3011))
    assert chosen["k_mcr"][1]["filter"]["ENTITY_ID"] == 3011 and chosen["k_mco"] == (
        "crm.company.get", {"id": 3011})
    lead = docs.party_commands("k", p.DocumentParties(p.ItemRef("lead", 4)))
    assert "k_l" not in lead  # links are for deals, invoices, quotes and smart processes
    company = docs.party_commands("k", p.DocumentParties(p.ItemRef("company", 5)))
    assert company["k_cor"][1]["filter"]["ENTITY_ID"] == 5 and "k_ctr" not in company


def test_the_link_names_both_sides_and_the_second_batch_reads_their_details():
    link = sample(RQ + "links__crm-requisite-link-get.md__result")  # 60/24, ours 2/2
    q = p.DocumentParties(DEAL)
    raw = first_batch(link=link)
    assert docs.party_follow_up("k", q, raw) == {
        "k_bd": ("crm.requisite.bankdetail.list", {"filter": {"@ENTITY_ID": [2, 60]},
                                                   "order": {"SORT": "ASC", "ID": "ASC"}}),
        "k_ad": ("crm.address.list", {"filter": {"ENTITY_TYPE_ID": 8, "@ENTITY_ID": [2, 60]}})}
    bank = sample(RQ + "bank-detail__crm-requisite-bank-detail-get.md__result")
    raw["k_bd"] = [{**bank, "ID": "23", "ENTITY_ID": "60", "RQ_BIK": "first"},
                   {**bank, "ID": "24", "ENTITY_ID": "60", "RQ_BIK": "named"},
                   {**bank, "ID": "2", "ENTITY_ID": "2", "RQ_BIK": "ours"}]
    address = sample(RQ + "addresses__crm-address-list.md__result")[0]
    raw["k_ad"] = [{**address, "TYPE_ID": "6", "ENTITY_ID": "60"},
                   {**address, "TYPE_ID": "6", "ENTITY_ID": "2", "CITY": "Москва"}]
    got = docs.parties_from("k", q, raw)
    client, seller = got["client"], got["seller"]
    assert client is not None and seller is not None
    assert (client.ref, client.title, client.requisite_id, client.bank.bik) == (
        p.ItemRef("company", 5), "Клиент", 60, "named")
    assert client.legal_address.startswith("625003") and client.preset == "Организация"
    assert (seller.ref, seller.title, seller.requisite_id, seller.bank.bik) == (
        p.ItemRef("company", 3010), "ООО «Ромашка»", 2, "ours")
    assert "г. Москва" in seller.legal_address


def test_without_a_link_the_company_first_requisite_by_sort_and_the_first_bank():
    q = p.DocumentParties(DEAL)
    raw = first_batch(k_cor=[requisite(61, 4, 5, 400), requisite(60, 4, 5, 500)])
    assert docs.party_follow_up("k", q, raw)["k_bd"][1]["filter"] == {"@ENTITY_ID": [2, 61]}
    raw["k_bd"] = [{"ID": "7", "ENTITY_ID": "61", "RQ_BIK": "b7"},
                   {"ID": "8", "ENTITY_ID": "61", "RQ_BIK": "b8"}]
    client = docs.parties_from("k", q, raw)["client"]
    assert client is not None and (client.requisite_id, client.bank.bik) == (61, "b7")


def test_a_stale_link_is_passed_over_and_rows_of_other_owners_are_not_taken():
    # the link names a requisite the deal's company no longer has; the list answered a
    # requisite of someone else (a reference that resolved to another owner)
    link = {"REQUISITE_ID": "99", "BANK_DETAIL_ID": "0", "MC_REQUISITE_ID": "0",
            "MC_BANK_DETAIL_ID": "0"}
    raw = first_batch(link=link, k_cor=[requisite(99, 4, 6), requisite(60, 4, 5)])
    client = docs.parties_from("k", p.DocumentParties(DEAL), raw)["client"]
    assert client is not None and client.requisite_id == 60


def test_no_company_means_the_contact_and_no_requisites_means_a_bare_party():
    q = p.DocumentParties(DEAL)
    raw = first_batch(company=0, contact=4)
    client = docs.parties_from("k", q, raw)["client"]
    assert client is not None and (client.ref, client.requisite_id, client.is_person,
                                   client.preset) == (p.ItemRef("contact", 4), 70, True,
                                                      "Физ. лицо")
    bare = first_batch(company=5, k_cor=[])
    client = docs.parties_from("k", q, bare)["client"]
    assert client is not None and (client.ref, client.title, client.requisite_id) == (
        p.ItemRef("company", 5), "Клиент", 0)
    assert docs.party_follow_up("k", q, {**bare, "k_mcr": []}) == {}


def test_no_client_at_all_is_none_and_the_seller_still_found():
    got = docs.parties_from("k", p.DocumentParties(DEAL), first_batch(company=0, contact=0))
    assert got["client"] is None
    assert got["seller"] is not None and got["seller"].requisite_id == 2


def test_the_seller_is_the_admins_company_else_the_portals_first_else_none():
    q = p.DocumentParties(DEAL, my_company=3011)
    raw = first_batch(k_mcr=[requisite(9, 4, 3011)], k_mco={"ID": "3011", "TITLE": "ИП Иванов"})
    seller = docs.parties_from("k", q, raw)["seller"]
    assert seller is not None and (seller.ref.id, seller.title, seller.requisite_id) == (
        3011, "ИП Иванов", 9)
    # no my company on the portal: the reference $result[k_mc][0][ID] could not resolve
    none = first_batch(k_mc=[], k_mcr=[requisite(2, 4, 3010)])
    assert docs.parties_from("k", p.DocumentParties(DEAL), none)["seller"] is None
    no_requisite = first_batch(k_mcr=[])
    seller = docs.parties_from("k", p.DocumentParties(DEAL), no_requisite)["seller"]
    assert seller is not None and (seller.title, seller.requisite_id) == ("ООО «Ромашка»", 0)


def test_our_requisite_named_by_the_link_but_not_listed_is_read_in_the_second_batch():
    link = {"REQUISITE_ID": "0", "BANK_DETAIL_ID": "0", "MC_REQUISITE_ID": "12",
            "MC_BANK_DETAIL_ID": "0"}
    q = p.DocumentParties(DEAL)
    raw = first_batch(link=link)
    follow = docs.party_follow_up("k", q, raw)
    assert follow["k_srq"] == ("crm.requisite.get", {"id": 12})
    assert follow["k_bd"][1]["filter"] == {"@ENTITY_ID": [12, 60]}
    raw["k_srq"] = requisite(12, 4, 3011)
    seller = docs.parties_from("k", q, raw)["seller"]
    assert seller is not None and (seller.ref.id, seller.title, seller.requisite_id) == (
        3011, "ИП Иванов", 12)
    # the requisite is gone by the time of the second batch: the first "my company" then
    del raw["k_srq"]
    seller = docs.parties_from("k", q, raw)["seller"]
    assert seller is not None and (seller.ref.id, seller.requisite_id) == (3010, 2)


def test_my_companies_in_three_steps():
    raw: dict[str, Any] = {"m_mc": [{"ID": "3010", "TITLE": "ООО «Ромашка»"},
                                    {"ID": "3011", "TITLE": "ИП Иванов"}],
                           "m_ps": sample(RQ + "presets__crm-requisite-preset-list.md__result")}
    assert docs.my_companies_requisites("m", raw) == {"m_mcr": ("crm.requisite.list", {
        "filter": {"ENTITY_TYPE_ID": 4, "@ENTITY_ID": [3010, 3011]},
        "order": {"SORT": "ASC", "ID": "ASC"}})}
    raw["m_mcr"] = [requisite(2, 4, 3010, 100), requisite(3, 4, 3010, 200)]
    assert docs.my_companies_details("m", raw)["m_bd"][1]["filter"] == {"@ENTITY_ID": [2]}
    raw["m_bd"] = [{"ID": "1", "ENTITY_ID": "2", "RQ_BIK": "044525225"}]
    got = docs.my_companies_from("m", raw)
    assert [(c.ref.id, c.title, c.requisite_id) for c in got] == [
        (3010, "ООО «Ромашка»", 2), (3011, "ИП Иванов", 0)]
    assert got[0].bank is not None and got[0].bank.bik == "044525225"
    assert docs.my_companies_requisites("m", {"m_mc": []}) == {}


def test_a_smart_process_item_names_our_company_before_the_admins_choice():
    item = p.ItemRef("item:128", 7)
    src = docs.item_command(item)[0]
    cmds = docs.party_commands("k", p.DocumentParties(item, my_company=3010))
    assert cmds["k_imr"][1]["filter"]["ENTITY_ID"] == f"$result[{src}][item][mycompanyId]"
    assert cmds["k_l"] == ("crm.requisite.link.get", {"entityTypeId": 128, "entityId": 7})
    raw = first_batch(**{src: {"item": {"id": 7, "companyId": 5, "contactId": 0,
                                        "mycompanyId": 3011}}},
                      k_imr=[requisite(9, 4, 3011)])
    seller = docs.parties_from("k", p.DocumentParties(item, my_company=3010), raw)["seller"]
    assert seller is not None and (seller.ref.id, seller.title, seller.requisite_id) == (
        3011, "ИП Иванов", 9)
    raw[src]["item"]["mycompanyId"] = 0  # none named: the admin's choice
    seller = docs.parties_from("k", p.DocumentParties(item, my_company=3010), raw)["seller"]
    assert seller is not None and (seller.ref.id, seller.requisite_id) == (3010, 2)
