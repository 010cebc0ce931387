"""What a document needs from Bitrix24: its parties' requisites and an item's product rows.

The reads are planned in phases (connector/bitrix/adapter.py runs them): the first batch
asks for everything a choice depends on — the item, its requisite link, the requisites of
its company and contact, our companies and theirs —, the choice is made here, purely, and a
second batch reads only the chosen requisites' bank details and addresses. Every function
below is pure: commands out, answers in.

Sources (api-reference/crm/requisites/…): universal/crm-requisite-list.md (ordered by SORT),
bank-detail/crm-requisite-bank-detail-list.md, addresses/crm-address-list.md (ENTITY_TYPE_ID
8 = requisite), links/crm-requisite-link-get.md (ids as strings, "0" = not chosen),
presets/crm-requisite-preset-list.md; product rows: universal/product-rows/
crm-item-productrow-list.md and crm/data-types.md#crm_item_product_row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.bitrix.kinds import BINDING_PREFIX, is_item, type_id
from connector.bitrix.rest import Command
from connector.crm import port as p

REQUISITE = 8  # crm/data-types.md#object_type: a requisite owns its addresses
COMPANY, CONTACT = 4, 3
# links/crm-requisite-link-register.md: deals, invoices, quotes and smart processes have links
LINKED = ("deal",)
# crm-enum-address-type.md: 6 Юридический, else 4 Адрес регистрации; 8 для корреспонденции,
# else 1 Фактический
LEGAL_ADDRESS = (6, 4)
POSTAL_ADDRESS = (8, 1)
# presets/crm-requisite-preset-add.md: the reserved XML_IDs of the default presets
PERSON_PRESETS = ("#CRM_REQUISITE_PRESET_DEF_RU_INDIVIDUAL#",
                  "#CRM_REQUISITE_PRESET_DEF_RU_PERSON#")
PERSON_PRESET_NAMES = ("ИП", "Физ. лицо")  # presets/crm-requisite-preset-list.md: 2 and 3
BY_SORT = {"SORT": "ASC", "ID": "ASC"}
PAGE = 50
SERVICE = 7  # crm/data-types.md#crm_item_product_row: type 7 is a service
DISCOUNT_TYPES = {1: "amount", 2: "percent"}
SETTLEMENT_MARKS = ("г.", "г ", "с.", "пос.", "п.", "дер.", "д.", "ст-ца", "пгт", "рп", "город")


def _int(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except (TypeError, ValueError):
        return 0


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _first_multi(values: Any) -> str:
    return next((_str(v.get("VALUE")) for v in _rows(values) if _str(v.get("VALUE"))), "")


def item_command(ref: p.ItemRef) -> tuple[str, Command]:
    """crm.item.get of any kind: companyId/contactId are 0 when there is none, never null
    (crm-item-get.md), so references into them always resolve. Keyed as the adapter keys
    the same command, so one read asks for it once."""
    if is_item(ref.kind):
        key = f"i_{ref.kind.replace(':', '_')}_{ref.id}"
    else:
        key = f"i_{ref.kind}_{ref.id}_obs"
    return key, ("crm.item.get", {"entityTypeId": type_id(ref.kind), "id": ref.id})


# ------------------------------------------------------------------ formatting
def format_address(row: Mapping[str, Any] | None) -> str:
    """One Russian address line: "123456, г. Москва, ул. Ленина, д. 1, оф. 5" — postal code,
    country (unless Russia), province, district, city ("г. " added to a bare name), street
    and house, flat or office. Empty parts are left out, and so are a province or district
    that only repeat the city (Москва) or each other."""
    if not row:
        return ""
    city = _str(row.get("CITY"))
    if city and not city.lower().startswith(SETTLEMENT_MARKS):
        city = f"г. {city}"
    country = _str(row.get("COUNTRY"))
    if country.lower() in ("россия", "российская федерация", "russia"):
        country = ""
    seen = {city.removeprefix("г. ").lower()} if city else set()
    areas = []
    for area in (_str(row.get("PROVINCE")), _str(row.get("REGION"))):
        if area and area.lower() not in seen:
            seen.add(area.lower())
            areas.append(area)
    parts = (_str(row.get("POSTAL_CODE")), country, *areas, city, _str(row.get("ADDRESS_1")),
             _str(row.get("ADDRESS_2")))
    return ", ".join(part for part in parts if part)


def pick_address(addresses: list[Mapping[str, Any]], types: tuple[int, ...]) -> str:
    """The first address of these types, in that order of preference."""
    by_type = {_int(a.get("TYPE_ID")): a for a in addresses}
    return next((format_address(by_type[t]) for t in types if t in by_type), "")


def bank_from(row: Mapping[str, Any] | None) -> p.BankAccount | None:
    """crm.requisite.bankdetail.get/list → BankAccount."""
    if not row:
        return None
    return p.BankAccount(
        bank=_str(row.get("RQ_BANK_NAME")) or _str(row.get("NAME")),
        bik=_str(row.get("RQ_BIK")), account=_str(row.get("RQ_ACC_NUM")),
        corr_account=_str(row.get("RQ_COR_ACC_NUM")), bank_address=_str(row.get("RQ_BANK_ADDR")),
        swift=_str(row.get("RQ_SWIFT")), iban=_str(row.get("RQ_IBAN")),
        currency=_str(row.get("RQ_ACC_CURRENCY")))


def person_name(row: Mapping[str, Any], prefix: str = "RQ_") -> str:
    """"Фамилия Имя Отчество" from RQ_LAST_NAME/RQ_FIRST_NAME/RQ_SECOND_NAME (or a contact's
    LAST_NAME/NAME/SECOND_NAME with prefix "")."""
    first = "FIRST_NAME" if prefix else "NAME"
    return " ".join(_str(row.get(f"{prefix}{k}")) for k in ("LAST_NAME", first, "SECOND_NAME")
                    if _str(row.get(f"{prefix}{k}")))


def _vat(value: Any) -> bool | None:
    text = _str(value).upper()
    return True if text == "Y" else False if text == "N" else None


@dataclass(frozen=True)
class Owner:
    """Whose requisites: company/<id> or contact/<id>, with its row as the CRM gave it."""

    ref: p.ItemRef
    row: Mapping[str, Any]

    @property
    def title(self) -> str:
        if self.ref.kind == "company":
            return _str(self.row.get("TITLE"))
        return " ".join(_str(self.row.get(k)) for k in ("NAME", "LAST_NAME")
                        if _str(self.row.get(k)))


def party_from(owner: Owner, requisite: Mapping[str, Any] | None,
               preset: Mapping[str, Any] | None, bank: Mapping[str, Any] | None,
               addresses: list[Mapping[str, Any]]) -> p.Party:
    """A Party from its owner, its chosen requisite (None: it has none), that requisite's
    preset, bank detail and addresses."""
    is_contact = owner.ref.kind == "contact"
    phone, email = _first_multi(owner.row.get("PHONE")), _first_multi(owner.row.get("EMAIL"))
    if not requisite:
        return p.Party(owner.ref, owner.title, is_person=is_contact,
                       name=person_name(owner.row, "") if is_contact else "",
                       phone=phone, email=email)
    rq = {k: v for k, v in requisite.items() if k.startswith(("RQ_", "UF_CRM_"))}
    preset = preset or {}
    is_person = (_str(preset.get("XML_ID")) in PERSON_PRESETS
                 or _str(preset.get("NAME")) in PERSON_PRESET_NAMES
                 or bool(_str(rq.get("RQ_OGRNIP")))
                 or (is_contact and not _str(rq.get("RQ_COMPANY_NAME"))))
    return p.Party(
        owner.ref, owner.title, is_person=is_person, requisite_id=_int(requisite.get("ID")),
        preset=_str(preset.get("NAME")),
        name=_str(rq.get("RQ_COMPANY_NAME")) or _str(rq.get("RQ_NAME")) or person_name(rq),
        full_name=_str(rq.get("RQ_COMPANY_FULL_NAME")), inn=_str(rq.get("RQ_INN")),
        kpp=_str(rq.get("RQ_KPP")), ogrn=_str(rq.get("RQ_OGRN")) or _str(rq.get("RQ_OGRNIP")),
        okpo=_str(rq.get("RQ_OKPO")),
        director=_str(rq.get("RQ_DIRECTOR")) or _str(rq.get("RQ_CEO_NAME")),
        director_position=_str(rq.get("RQ_CEO_WORK_POS")),
        accountant=_str(rq.get("RQ_ACCOUNTANT")), basis=_str(rq.get("RQ_BASE_DOC")),
        vat_payer=_vat(rq.get("RQ_VAT_PAYER")),
        legal_address=pick_address(addresses, LEGAL_ADDRESS),
        postal_address=pick_address(addresses, POSTAL_ADDRESS),
        phone=_str(rq.get("RQ_PHONE")) or phone, email=_str(rq.get("RQ_EMAIL")) or email,
        bank=bank_from(bank), fields=rq)


def _decimal(value: Any, default: str = "0") -> str:
    """A JSON number as a plain decimal string: 66666.67 → "66666.67", 2 → "2"."""
    try:
        number = Decimal(str(value if value not in (None, "") else default))
    except InvalidOperation:
        return default
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def product_row_from(row: Mapping[str, Any]) -> p.ProductRow:
    """One crm.item.productrow.list row → ProductRow (prices per unit, decimal strings)."""
    rate = row.get("taxRate")
    return p.ProductRow(
        name=_str(row.get("productName")), quantity=_decimal(row.get("quantity"), "1"),
        price=_decimal(row.get("price")), price_exclusive=_decimal(row.get("priceExclusive")),
        price_netto=_decimal(row.get("priceNetto")),
        price_brutto=_decimal(row.get("priceBrutto")),
        discount_type=DISCOUNT_TYPES.get(_int(row.get("discountTypeId")), ""),
        discount_rate=_decimal(row.get("discountRate")),
        discount_sum=_decimal(row.get("discountSum")),
        tax_rate=None if rate in (None, "") else _decimal(rate),
        tax_included=_str(row.get("taxIncluded")).upper() == "Y",
        measure=_str(row.get("measureName")),
        measure_code=_str(row.get("measureCode")) if row.get("measureCode") else "",
        sort=_int(row.get("sort")), service=_int(row.get("type")) == SERVICE)


# ------------------------------------------------------------------ product rows
def owner_type(kind: str) -> str:
    """crm/data-types.md#object_type short codes: L, D, T<hex> for a smart process."""
    return f"T{type_id(kind):x}" if is_item(kind) else BINDING_PREFIX[kind]


def product_rows_command(ref: p.ItemRef, start: int = 0) -> Command:
    """crm-item-productrow-list.md: `=ownerType` and `=ownerId` are required."""
    return "crm.item.productrow.list", {
        "filter": {"=ownerType": owner_type(ref.kind), "=ownerId": ref.id},
        "order": {"sort": "ASC", "id": "ASC"}, "start": start}


def product_pages(key: str, ref: p.ItemRef, total: Any) -> dict[str, Command]:
    """The pages after the first (50 rows each), all in one batch."""
    return {f"{key}_p{start}": product_rows_command(ref, start)
            for start in range(PAGE, _int(total), PAGE)}


def product_rows_from(key: str, raw: Mapping[str, Any]) -> list[p.ProductRow]:
    out: list[p.ProductRow] = []
    pages = sorted((k for k in raw if k == f"{key}_p0" or (
        k.startswith(f"{key}_p") and k[len(key) + 2:].isdigit())),
        key=lambda k: int(k[len(key) + 2:]))
    for page_key in pages:
        got = raw.get(page_key)
        out += [product_row_from(r) for r in _rows((got or {}).get("productRows")
                                                   if isinstance(got, Mapping) else None)]
    return out


# ------------------------------------------------------------------ parties
def _requisites_of(rows: Any, etype: int, eid: int) -> list[Mapping[str, Any]]:
    """Rows of crm.requisite.list that really are this owner's (a reference that could not
    resolve may have listed someone else's, or nothing), in their SORT order."""
    return [r for r in _rows(rows) if _int(r.get("ENTITY_TYPE_ID")) == etype
            and _int(r.get("ENTITY_ID")) == eid and eid]


def party_commands(key: str, q: p.DocumentParties) -> dict[str, Command]:
    """The first batch: the item, its link, its client's and our companies' requisites."""
    src, item_cmd = item_command(q.of)
    cmds: dict[str, Command] = {src: item_cmd}
    if q.of.kind in ("company", "contact"):
        company = q.of.id if q.of.kind == "company" else 0
        contact = q.of.id if q.of.kind == "contact" else 0
        company_ref: Any = company
        contact_ref: Any = contact
    else:
        company_ref = f"$result[{src}][item][companyId]"
        contact_ref = f"$result[{src}][item][contactId]"
    if q.of.kind in LINKED or is_item(q.of.kind):
        cmds[f"{key}_l"] = ("crm.requisite.link.get", {"entityTypeId": type_id(q.of.kind),
                                                       "entityId": q.of.id})
    for suffix, etype, ref in (("co", COMPANY, company_ref), ("ct", CONTACT, contact_ref)):
        if ref != 0:
            cmds[f"{key}_{suffix}r"] = ("crm.requisite.list", {
                "filter": {"ENTITY_TYPE_ID": etype, "ENTITY_ID": ref}, "order": BY_SORT})
            method = "crm.company.get" if etype == COMPANY else "crm.contact.get"
            cmds[f"{key}_{suffix}"] = (method, {"id": ref})
    cmds[f"{key}_mc"] = ("crm.company.list", {
        "filter": {"IS_MY_COMPANY": "Y"}, "order": {"ID": "ASC"},
        "select": ["ID", "TITLE", "PHONE", "EMAIL"]})
    ours: Any = q.my_company or f"$result[{key}_mc][0][ID]"
    cmds[f"{key}_mcr"] = ("crm.requisite.list", {
        "filter": {"ENTITY_TYPE_ID": COMPANY, "ENTITY_ID": ours}, "order": BY_SORT})
    if q.my_company:
        cmds[f"{key}_mco"] = ("crm.company.get", {"id": q.my_company})
    if is_item(q.of.kind):  # a smart process names our company: mycompanyId
        named = f"$result[{src}][item][mycompanyId]"
        cmds[f"{key}_imr"] = ("crm.requisite.list", {
            "filter": {"ENTITY_TYPE_ID": COMPANY, "ENTITY_ID": named}, "order": BY_SORT})
    cmds[f"{key}_ps"] = ("crm.requisite.preset.list", {"select": ["ID", "NAME", "XML_ID"]})
    return cmds


@dataclass(frozen=True)
class Choice:
    """Whose requisite a side uses: the owner, the requisite (None: none; a bare id: read it
    in the second batch) and the bank detail the link names (0: the first)."""

    owner: Owner
    requisite: Mapping[str, Any] | int | None
    bank_id: int = 0

    @property
    def requisite_id(self) -> int:
        if isinstance(self.requisite, int):
            return self.requisite
        return _int((self.requisite or {}).get("ID"))


def _link(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    got = raw.get(f"{key}_l")
    return got if isinstance(got, Mapping) else {}


def _row(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    got = raw.get(key)
    return got if isinstance(got, Mapping) else {}


def choose_client(key: str, q: p.DocumentParties, raw: Mapping[str, Any]) -> Choice | None:
    """The requisite the item's link names (when it is its company's or contact's), else the
    company's first, else the contact's first; None when the item has no client."""
    if q.of.kind in ("company", "contact"):
        company = q.of.id if q.of.kind == "company" else 0
        contact = q.of.id if q.of.kind == "contact" else 0
    else:
        item = _row(_row(raw, item_command(q.of)[0]), "item")
        company, contact = _int(item.get("companyId")), _int(item.get("contactId"))
    owners = []
    if company:
        owners.append((Owner(p.ItemRef("company", company), _row(raw, f"{key}_co")),
                       _requisites_of(raw.get(f"{key}_cor"), COMPANY, company)))
    if contact:
        owners.append((Owner(p.ItemRef("contact", contact), _row(raw, f"{key}_ct")),
                       _requisites_of(raw.get(f"{key}_ctr"), CONTACT, contact)))
    if not owners:
        return None
    link = _link(raw, key)
    named = _int(link.get("REQUISITE_ID"))
    for owner, rows in owners:
        found = next((r for r in rows if _int(r.get("ID")) == named), None)
        if named and found is not None:
            return Choice(owner, found, _int(link.get("BANK_DETAIL_ID")))
    for owner, rows in owners:
        if rows:
            return Choice(owner, rows[0])
    return Choice(owners[0][0], None)


def _our(raw: Mapping[str, Any], key: str, company_id: int) -> Owner:
    """Our company's row: the my-companies list has it (or crm.company.get of the admin's
    choice); an unknown one gets its id only."""
    rows = {_int(r.get("ID")): r for r in _rows(raw.get(f"{key}_mc"))}
    mco = _row(raw, f"{key}_mco")
    row = rows.get(company_id) or (mco if _int(mco.get("ID")) == company_id else {})
    return Owner(p.ItemRef("company", company_id), row)


def choose_seller(key: str, q: p.DocumentParties, raw: Mapping[str, Any],
                  final: bool = False) -> Choice | None:
    """Our company's requisite the link names, else the first of the company the item names
    (a smart process's mycompanyId), else of `my_company`, else of the portal's first "my
    company"; None when there is none. `final`: the second batch is in, so a named requisite
    it could not read is passed over."""
    link = _link(raw, key)
    named = _int(link.get("MC_REQUISITE_ID"))
    pool = _rows(raw.get(f"{key}_mcr")) + _rows(raw.get(f"{key}_imr"))
    fetched = _row(raw, f"{key}_srq")
    known = next((r for r in pool if _int(r.get("ID")) == named), None) or (
        fetched if named and _int(fetched.get("ID")) == named else None)
    if named and known is not None and _int(known.get("ENTITY_ID")):
        return Choice(_our(raw, key, _int(known.get("ENTITY_ID"))), known,
                      _int(link.get("MC_BANK_DETAIL_ID")))
    if named and known is None and not final:  # read it in the second batch
        return Choice(_our(raw, key, 0), named, _int(link.get("MC_BANK_DETAIL_ID")))
    item = _row(_row(raw, item_command(q.of)[0]), "item")
    named_by_item = _int(item.get("mycompanyId")) if is_item(q.of.kind) else 0
    ours = named_by_item or q.my_company or next(
        (_int(r.get("ID")) for r in _rows(raw.get(f"{key}_mc"))), 0)
    if not ours:
        return None
    rows = _requisites_of(raw.get(f"{key}_imr" if named_by_item else f"{key}_mcr"), COMPANY,
                          ours)
    return Choice(_our(raw, key, ours), rows[0] if rows else None)


def party_follow_up(key: str, q: p.DocumentParties, raw: Mapping[str, Any]
                    ) -> dict[str, Command]:
    """The second batch: the chosen requisites' bank details and addresses (and our
    requisite itself when the link names one not listed); nothing when the item is gone."""
    if not isinstance(raw.get(item_command(q.of)[0]), Mapping):
        return {}
    chosen = [c for c in (choose_client(key, q, raw), choose_seller(key, q, raw))
              if c is not None and c.requisite_id]
    if not chosen:
        return {}
    ids = sorted({c.requisite_id for c in chosen})
    cmds: dict[str, Command] = {
        f"{key}_bd": ("crm.requisite.bankdetail.list", {"filter": {"@ENTITY_ID": ids},
                                                        "order": BY_SORT}),
        f"{key}_ad": ("crm.address.list", {"filter": {"ENTITY_TYPE_ID": REQUISITE,
                                                      "@ENTITY_ID": ids}})}
    seller = chosen[-1]
    if isinstance(seller.requisite, int):
        cmds[f"{key}_srq"] = ("crm.requisite.get", {"id": seller.requisite})
    return cmds


def _party(choice: Choice | None, key: str, raw: Mapping[str, Any],
           presets: Mapping[int, Mapping[str, Any]]) -> p.Party | None:
    if choice is None:
        return None
    requisite = choice.requisite
    if isinstance(requisite, int):  # named by the link, read in the second batch
        fetched = _row(raw, f"{key}_srq")
        requisite = fetched if _int(fetched.get("ID")) == requisite else None
    owner = choice.owner
    if requisite and not owner.ref.id:
        owner = _our(raw, key, _int(requisite.get("ENTITY_ID")))
    rid = _int((requisite or {}).get("ID"))
    banks = [b for b in _rows(raw.get(f"{key}_bd")) if _int(b.get("ENTITY_ID")) == rid]
    bank = next((b for b in banks if _int(b.get("ID")) == choice.bank_id), None) or (
        banks[0] if banks else None)
    addresses = [a for a in _rows(raw.get(f"{key}_ad")) if _int(a.get("ENTITY_ID")) == rid
                 and _int(a.get("ENTITY_TYPE_ID")) == REQUISITE]
    party = party_from(owner, requisite, presets.get(_int((requisite or {}).get("PRESET_ID"))),
                       bank, addresses)
    if not party.title and requisite:
        party.title = party.name
    return party


def parties_from(key: str, q: p.DocumentParties, raw: Mapping[str, Any]
                 ) -> dict[str, p.Party | None]:
    presets = {_int(r.get("ID")): r for r in _rows(raw.get(f"{key}_ps"))}
    return {"client": _party(choose_client(key, q, raw), key, raw, presets),
            "seller": _party(choose_seller(key, q, raw, final=True), key, raw, presets)}


# ------------------------------------------------------------------ our companies
def my_companies_commands(key: str) -> dict[str, Command]:
    return {f"{key}_mc": ("crm.company.list", {
                "filter": {"IS_MY_COMPANY": "Y"}, "order": {"ID": "ASC"},
                "select": ["ID", "TITLE", "PHONE", "EMAIL"]}),
            f"{key}_ps": ("crm.requisite.preset.list", {"select": ["ID", "NAME", "XML_ID"]})}


def _company_ids(key: str, raw: Mapping[str, Any]) -> list[int]:
    return [i for i in (_int(r.get("ID")) for r in _rows(raw.get(f"{key}_mc"))) if i]


def my_companies_requisites(key: str, raw: Mapping[str, Any]) -> dict[str, Command]:
    ids = _company_ids(key, raw)
    if not ids:
        return {}
    return {f"{key}_mcr": ("crm.requisite.list", {
        "filter": {"ENTITY_TYPE_ID": COMPANY, "@ENTITY_ID": ids}, "order": BY_SORT})}


def _firsts(key: str, raw: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    """Each of our companies' first requisite by SORT."""
    out: dict[int, Mapping[str, Any]] = {}
    for row in _rows(raw.get(f"{key}_mcr")):
        if _int(row.get("ENTITY_TYPE_ID")) == COMPANY:
            out.setdefault(_int(row.get("ENTITY_ID")), row)
    return out


def my_companies_details(key: str, raw: Mapping[str, Any]) -> dict[str, Command]:
    ids = sorted(_int(r.get("ID")) for r in _firsts(key, raw).values())
    if not ids:
        return {}
    return {f"{key}_bd": ("crm.requisite.bankdetail.list", {"filter": {"@ENTITY_ID": ids},
                                                            "order": BY_SORT}),
            f"{key}_ad": ("crm.address.list", {"filter": {"ENTITY_TYPE_ID": REQUISITE,
                                                          "@ENTITY_ID": ids}})}


def my_companies_from(key: str, raw: Mapping[str, Any]) -> list[p.Party]:
    presets = {_int(r.get("ID")): r for r in _rows(raw.get(f"{key}_ps"))}
    firsts = _firsts(key, raw)
    out = []
    for company_id in _company_ids(key, raw):
        choice = Choice(_our(raw, key, company_id), firsts.get(company_id))
        party = _party(choice, key, raw, presets)
        if party is not None:
            out.append(party)
    return out
