"""What a template sees: the deal, both sides, the product rows and their totals, as plain
dicts of strings (and two true/false flags). Pure: no CRM, no files.

A template gets nothing it could call or walk out of — no CRM object, no Decimal, no date —
so the sandbox has only strings to guard. Amounts are formatted here, once, the Russian way
(robots.documents.formatting); the schema is documented for template authors in
docs/documents.md, and `schema()` lists its names for the admin page.

Product rows follow Bitrix24's per-unit prices (api-reference/crm/data-types.md,
crm_item_product_row): `price` is after the discount with tax, `price_exclusive` after the
discount without tax. A line's total is price × quantity and its VAT (price − price_exclusive)
× quantity, each rounded to kopecks once; the totals add the rounded lines, so the table adds
up to the kopeck as an accountant checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from connector.crm.port import Item, ItemRef, Party, Person, ProductRow
from connector.i18n import N_
from robots.documents import formatting as f
from robots.documents import names
from robots.documents.kinds import SECTIONS
from robots.documents.problems import DataProblem

NOT_A_NUMBER = N_("Product row {n} «{name}»: {field} is not a number ({value})")
NEGATIVE = N_("Product row {n} «{name}» has a negative {field} ({value}); a document is made "
              "only from rows with prices and quantities of zero or more")
TAX_ABOVE_PRICE = N_("Product row {n} «{name}»: its price without tax ({exclusive}) is above "
                     "its price with tax ({price})")
# the figures of a row, as the messages above name them
QUANTITY, PRICE, PRICE_EXCLUSIVE = N_("quantity"), N_("price"), N_("price without tax")
PRICE_BRUTTO, TAX_RATE, DISCOUNT = (N_("price before discount"), N_("tax rate"),
                                    N_("discount"))

ZERO = Decimal(0)
HUNDRED = Decimal(100)
COMPANY_POSITION = "Генеральный директор"  # RQ_DIRECTOR is «Ген. директор» (reference §8.1)
COMPANY_BASIS = "Устав"
ENTREPRENEUR = "Индивидуальный предприниматель"
_ENTREPRENEUR_PREFIXES = (f"{ENTREPRENEUR} ", "ИП ")


@dataclass(frozen=True)
class Meta:
    """What the document itself brings: its number, date, kind and version."""

    number: str
    date: date
    kind: str  # the kind's code (robots.documents.kinds)
    title: str = ""  # the kind's title as the document prints it («Счёт на оплату»)
    version: int = 1
    stage: str = ""  # the deal's stage by name, "" to show its id
    today: date | None = None  # the day it is made; None: the document's date


@dataclass(frozen=True)
class Line:
    """One product row in exact Decimals, rounded once to kopecks where it is a sum."""

    n: int
    name: str
    quantity: Decimal
    unit: str
    unit_code: str  # OKEI: 796 шт, 356 ч
    price: Decimal  # per unit, after discount, with tax
    price_net: Decimal  # per unit, after discount, without tax
    price_before: Decimal  # per unit, before discount, with tax
    discount_rate: str  # «10 %», «500,00» per unit, or ""
    discount: Decimal  # the line's discount, with tax
    vat_rate: Decimal | None  # percent (0 is «0 %»); None: no VAT («Без НДС»)
    vat_included: bool
    vat: Decimal  # the line's VAT
    total: Decimal  # the line's amount with VAT

    @property
    def net(self) -> Decimal:
        return self.total - self.vat


def _number(n: int, row: ProductRow, field: str, value: Any, *, allow_none: bool = False,
            ) -> Decimal | None:
    if allow_none and (value is None or value == ""):
        return None
    try:
        number = f.decimal(value)
    except ValueError:
        raise DataProblem(NOT_A_NUMBER, {"n": n, "name": row.name, "field": field,
                                         "value": value}) from None
    if number < 0:
        raise DataProblem(NEGATIVE, {"n": n, "name": row.name, "field": field,
                                     "value": value})
    return number


def line(n: int, row: ProductRow) -> Line:
    """Row n (from 1) in figures; DataProblem naming the row when a figure is wrong."""
    quantity = _number(n, row, QUANTITY, row.quantity)
    price = _number(n, row, PRICE, row.price)
    exclusive = _number(n, row, PRICE_EXCLUSIVE, row.price_exclusive)
    brutto = _number(n, row, PRICE_BRUTTO, row.price_brutto)
    rate = _number(n, row, TAX_RATE, row.tax_rate, allow_none=True)
    discount_sum = _number(n, row, DISCOUNT, row.discount_sum)
    assert quantity is not None and price is not None and exclusive is not None
    assert brutto is not None and discount_sum is not None
    if not rate:  # no VAT, or 0 %: the price is the price without tax
        exclusive = price
    elif exclusive == 0 and price > 0:  # the CRM left it out: from the rate
        exclusive = price * HUNDRED / (HUNDRED + rate)
    if exclusive > price:
        raise DataProblem(TAX_ABOVE_PRICE, {"n": n, "name": row.name,
                                            "exclusive": row.price_exclusive,
                                            "price": row.price})
    before = max(brutto, price)
    if row.discount_type == "percent" and f.decimal(row.discount_rate or 0) > 0:
        discount_rate = f.percent(row.discount_rate)
    elif discount_sum > 0:
        discount_rate = f.money(discount_sum)
    else:
        discount_rate = ""
    return Line(n=n, name=row.name, quantity=quantity, unit=row.measure or "шт",
                unit_code=row.measure_code or ("796" if not row.measure else ""),
                price=price, price_net=exclusive, price_before=before,
                discount_rate=discount_rate,
                discount=f.kopecks((before - price) * quantity),
                vat_rate=rate, vat_included=row.tax_included,
                vat=f.kopecks((price - exclusive) * quantity),
                total=f.kopecks(price * quantity))


AMOUNT_ROW_MEASURE = "усл. ед."


def amount_rows(item: Item) -> list[ProductRow]:
    """The item's amount as its one row (its title, 1 × the amount, no VAT said), for a
    CRM whose items carry no product rows the app can read; none for no amount."""
    amount = f.kopecks(item.amount or 0)
    if amount <= 0:
        return []
    price = f"{amount:.2f}"
    return [ProductRow(item.title.strip() or f"№ {item.ref.id}", "1", price, price, price,
                       price, measure=AMOUNT_ROW_MEASURE, service=True)]


def lines(rows: Sequence[ProductRow]) -> list[Line]:
    return [line(n, row) for n, row in enumerate(rows, start=1)]


def _vat_ratetext(rate: Decimal | None) -> str:
    return "Без НДС" if rate is None else f.percent(rate)


def item_dict(ln: Line) -> dict[str, str]:
    return {"n": str(ln.n), "name": ln.name, "quantity": f.quantity(ln.quantity),
            "unit": ln.unit, "unit_code": ln.unit_code, "price": f.money(ln.price),
            "price_net": f.money(ln.price_net),
            "price_before": f.money(ln.price_before), "discount_rate": ln.discount_rate,
            "discount": f.money(ln.discount), "vat_rate": _vat_ratetext(ln.vat_rate),
            "vat": f.money(ln.vat), "net": f.money(ln.net), "total": f.money(ln.total)}


def totals(rows: Sequence[Line], deal_amount: Any, currency: str) -> dict[str, Any]:
    """The sums of the rounded lines; with no rows, the deal's amount and no VAT figures
    (`source` says which: "rows" or "deal")."""
    count = len(rows)
    base = {"count": str(count), "count_words": f.number_in_words(count)}
    if not rows:
        gross = f.kopecks(deal_amount or 0)
        return {**base, "source": "deal", "gross": f.money(gross),
                "gross_words": f.amount_in_words(gross, currency), "net": "", "vat": "",
                "vat_words": "", "vat_rate": "", "vat_label": "", "vat_line": "",
                "vat_on_top": False, "subtotal": f.money(gross), "discount": f.money(0),
                "has_discount": False, "matches_deal": True}
    gross = sum((ln.total for ln in rows), ZERO)
    vat = sum((ln.vat for ln in rows), ZERO)
    discount = sum((ln.discount for ln in rows), ZERO)
    taxed = [ln for ln in rows if ln.vat_rate is not None]
    rates = {ln.vat_rate for ln in taxed}
    on_top = bool(taxed) and not all(ln.vat_included for ln in taxed)
    rate = _vat_ratetext(rates.pop()) if len(rates) == 1 else ""
    if not taxed:
        label, vat_line = "Без НДС", "Без НДС"
    else:
        label = "НДС" if on_top else "В том числе НДС"
        vat_line = f"{label}{' ' + rate if rate else ''}: {f.money(vat)}"
    return {**base, "source": "rows", "gross": f.money(gross),
            "gross_words": f.amount_in_words(gross, currency), "net": f.money(gross - vat),
            "vat": f.money(vat), "vat_words": f.amount_in_words(vat, currency) if taxed else "",
            "vat_rate": rate, "vat_label": label, "vat_line": vat_line, "vat_on_top": on_top,
            "subtotal": f.money(gross - vat if on_top else gross),
            "discount": f.money(discount), "has_discount": discount > 0,
            "matches_deal": f.kopecks(deal_amount or 0) == gross}


def text(value: Any) -> str:
    """A CRM field's value as a template prints it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value)
    return str(value)


# a person's identity document (api-reference/crm/requisites/universal/crm-requisite-fields.md)
IDENT_DOC = ("RQ_IDENT_DOC", "RQ_IDENT_DOC_SER", "RQ_IDENT_DOC_NUM", "RQ_IDENT_DOC_DATE",
             "RQ_IDENT_DOC_ISSUED_BY", "RQ_IDENT_DOC_DEP_CODE")


def _date_ortext(value: Any, written: Callable[[Any], str] = f.date_short) -> str:
    """A date the CRM holds, written; text that is no date is kept as it is."""
    try:
        return written(value)
    except ValueError:
        return text(value)


def identity_document(fields: Mapping[str, Any]) -> str:
    """«паспорт серия 4510 № 123456, выдан ОВД «Тверской», 01.02.2010, код подразделения
    770-001» from the requisite's RQ_IDENT_DOC* fields; "" when it has none."""
    kind, series, number, issued, by, code = (text(fields.get(k)).strip() for k in IDENT_DOC)
    if not (series or number):
        return ""
    parts = [" ".join(p for p in ((kind or "паспорт").lower(),
                                 f"серия {series}" if series else "",
                                 f"№ {number}" if number else "") if p)]
    if by or issued:
        parts.append(" ".join(p for p in ("выдан", by, _date_ortext(issued)) if p))
    if code:
        parts.append(f"код подразделения {code}")
    return ", ".join(parts)


def _person_name(party: Party) -> str:
    name = party.name or party.title
    for prefix in _ENTREPRENEUR_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):].strip()
    return name


PARTY_KEYS = ("title", "name", "full_name", "inn", "kpp", "ogrn", "ogrn_label", "okpo",
              "legal_address", "postal_address", "director", "director_genitive",
              "director_dative", "director_short", "director_position",
              "director_position_genitive", "director_position_dative", "basis", "acting",
              "named", "intro", "accountant", "accountant_short", "phone", "email",
              "passport")
BANK_KEYS = ("name", "bik", "account", "corr_account", "address")


def party_dict(party: Party | None) -> dict[str, Any]:
    """One side of the document; every key present, "" where the CRM has nothing."""
    if party is None:
        return {**dict.fromkeys(PARTY_KEYS, ""), "bank": dict.fromkeys(BANK_KEYS, ""),
                "fields": {}, "is_person": False, "vat_payer": False}
    if party.is_person:
        director = party.director or _person_name(party)
        position = party.director_position
    else:
        director = party.director
        position = party.director_position or (COMPANY_POSITION if director else "")
    gender = names.split(director).gender if director else ""
    basis = party.basis or (COMPANY_BASIS if not party.is_person and director else "")
    acting = {"f": "действующей", "m": "действующего"}.get(gender, "действующего")
    if party.is_person:
        acting = {"f": "действующая"}.get(gender, "действующий")
    named = ("именуемое" if not party.is_person else
             {"f": "именуемая"}.get(gender, "именуемый"))
    name = party.name or party.title
    full_name = party.full_name or name
    position_genitive = names.decline_phrase(position, "gent") if position else ""
    director_genitive = names.decline(director, "gent") if director else ""
    basis_genitive = names.decline_phrase(basis, "gent") if basis else ""
    passport = identity_document(party.fields)
    if party.is_person:
        person = _person_name(party)
        intro = f"{ENTREPRENEUR} {person}" if party.ogrn else person
        if passport and not party.ogrn:  # a private person names their passport
            intro += f", {passport}"
        if basis_genitive:
            intro += f", {acting} на основании {basis_genitive}"
    elif director:
        intro = (f"{full_name}, в лице {position_genitive} {director_genitive}, "
                 f"{acting} на основании {basis_genitive}")
    else:
        intro = full_name
    bank = party.bank
    return {
        "title": party.title, "name": name, "full_name": full_name, "inn": party.inn,
        "kpp": party.kpp, "ogrn": party.ogrn,
        "ogrn_label": "ОГРНИП" if party.is_person else "ОГРН", "okpo": party.okpo,
        "legal_address": party.legal_address,
        "postal_address": party.postal_address or party.legal_address,
        "director": director, "director_genitive": director_genitive,
        "director_dative": names.decline(director, "datv") if director else "",
        "director_short": names.short(director) if director else "",
        "director_position": position, "director_position_genitive": position_genitive,
        "director_position_dative": names.decline_phrase(position, "datv") if position else "",
        "basis": basis_genitive, "acting": acting, "named": named, "intro": intro,
        "accountant": party.accountant,
        "accountant_short": names.short(party.accountant) if party.accountant else "",
        "phone": party.phone, "email": party.email,
        "passport": passport,
        "bank": {"name": bank.bank if bank else "", "bik": bank.bik if bank else "",
                 "account": bank.account if bank else "",
                 "corr_account": bank.corr_account if bank else "",
                 "address": bank.bank_address if bank else ""},
        "fields": {str(k): text(v) for k, v in party.fields.items()},
        "is_person": party.is_person, "vat_payer": bool(party.vat_payer),
    }


def build(item: Item, client: Party | None, seller: Party | None, rows: list[ProductRow],
          responsible: Person | None, meta: Meta, buyer: str = "client",
          extra: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The template's context. `seller` is our company; `buyer` says which side pays
    ("client", or "us" for a buy-out or a carrier's contract, where we buy from the client).
    `extra` adds the sections a kind of document needs beyond the deal (robots.documents.
    kinds.SECTIONS: `vehicle`, `route`, `cargo`, …), filled from the deal's fields the admin
    chose. DataProblem when a product row cannot be used."""
    currency = (item.currency or "RUB").upper()
    table = lines(rows)
    ours, theirs = party_dict(seller), party_dict(client)
    sides = {"seller": theirs, "buyer": ours} if buyer == "us" else {
        "seller": ours, "buyer": theirs}
    person = responsible.name if responsible else ""
    core = {
        "doc": {"number": meta.number, "date": f.date_long(meta.date),
                "date_short": f.date_short(meta.date), "date_quoted": f.date_quoted(meta.date),
                "kind": meta.kind, "title": meta.title, "version": str(meta.version)},
        "deal": {"id": str(item.ref.id), "title": item.title,
                 "amount": f.money(item.amount or 0),
                 "amount_words": f.amount_in_words(item.amount or 0, currency),
                 "currency": currency, "currency_sign": f.CURRENCY_SIGNS.get(currency, currency),
                 "stage": meta.stage or item.stage,
                 "created": _date_ortext(item.created_at, f.date_long),
                 "fields": {str(k): text(v) for k, v in item.fields.items()}},
        **sides,
        "items": [item_dict(ln) for ln in table],
        "totals": totals(table, item.amount, currency),
        "responsible": {"name": person, "short": names.short(person) if person else ""},
        "today": f.date_long(meta.today or meta.date),
    }
    for section, values in (extra or {}).items():
        if section in core:
            raise ValueError(f"an extra section may not replace {section!r}")
        core[section] = {str(k): text(v) for k, v in values.items()}
    return core


def blank(context: Mapping[str, Any], required: Iterable[str]) -> list[str]:
    """The dotted names among `required` whose value is empty ("seller.bank.account"): the
    requisites a kind of document cannot go without."""
    out = []
    for name in required:
        value: Any = context
        for part in name.split("."):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        if value in ("", None, [], {}):
            out.append(name)
    return out


def names_in(context: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every dotted name of a context, a list's elements as `items[].total` (from its first
    element): what the admin page lists as the fields a template may use."""
    out: list[str] = []
    for key, value in context.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += names_in(value, f"{name}.")
        elif isinstance(value, list):
            out.append(name)
            if value and isinstance(value[0], Mapping):
                out += names_in(value[0], f"{name}[].")
        else:
            out.append(name)
    return out


def schema(sections: Iterable[str] = ()) -> list[str]:
    """The names every context has (a deal's own `deal.fields.UF_…` and a side's
    `fields.RQ_…` come on top), with the extra sections given: `kinds.SECTIONS` keys."""
    empty = build(Item(ref=ItemRef("deal", 0)), None, None, [ProductRow("")], None,
                  Meta(number="", date=date(2000, 1, 1), kind=""),
                  extra={s: dict.fromkeys(k for k, _ in SECTIONS[s]) for s in sections})
    return names_in(empty)
