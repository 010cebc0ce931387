"""Product rows of leads, deals and smart-process items: crm.item.productrow.*
(api-reference/crm/universal/product-rows/).

Rows are kept as the API prints them (camelCase, numbers as numbers). The price a caller
gives is per unit, after the discount and with tax; the other prices follow from it
(api-reference/crm/data-types.md#crm_item_product_row), computed as the docs' samples show:
exclusive = price / (1 + tax), netto = exclusive / (1 − discount %) or exclusive + the
discount sum, brutto = netto × (1 + tax), each rounded to kopecks in that order.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import compile_filter, page, parse_order, parse_start, row_matches, sort_rows
from ..registry import CallContext, as_dict, method
from . import items

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

F, T = False, True
# crm-item-productrow-fields.md: name → (type, isRequired, isReadOnly, isImmutable, title)
FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "id": ("integer", F, T, F, "ID"),
    "ownerId": ("integer", T, F, T, "ID владельца"),
    "ownerType": ("string", T, F, T, "Тип владельца"),
    "productId": ("integer", T, F, F, "Товар"),
    "productName": ("string", F, F, F, "Название товара"),
    "price": ("double", F, F, F, "Цена"),
    "priceExclusive": ("double", F, T, F, "Цена без налога со скидкой"),
    "priceNetto": ("double", F, T, F, "PRICE_NETTO"),
    "priceBrutto": ("double", F, T, F, "PRICE_BRUTTO"),
    "quantity": ("double", F, F, F, "Количество"),
    "discountTypeId": ("integer", F, F, F, "Тип скидки"),
    "discountRate": ("double", F, F, F, "Величина скидки"),
    "discountSum": ("double", F, F, F, "Сумма скидки"),
    "taxRate": ("double", F, F, F, "Налог"),
    "taxIncluded": ("char", F, F, F, "Налог включен в цену"),
    "customized": ("char", F, F, F, "Изменен"),
    "measureCode": ("integer", F, F, F, "Код единицы измерения"),
    "measureName": ("string", F, F, F, "Единица измерения"),
    "sort": ("integer", F, F, F, "Сортировка"),
    "type": ("integer", F, T, F, "TYPE"),
    "storeId": ("integer", F, T, F, "STORE_ID"),
}
WRITABLE = {k for k, (_t, _r, ro, imm, _n) in FIELDS.items() if not ro and not imm}
# crm/data-types.md#object_type: the short codes of the owners that have product rows
OWNER_CODES = {"L": 1, "D": 2}
# OKEI codes of the catalog's usual units (catalog/data-types.md#catalog_measure)
MEASURES = {796: "шт", 6: "м", 112: "л", 163: "г", 166: "кг", 356: "ч", 792: "чел",
            5: "км", 55: "м²", 113: "м³",
            876: "усл. ед."}
DEFAULT_MEASURE = 796
SIMPLE_PRODUCT = 1  # data-types.md: type 1 simple product … 7 service
KOPECK = Decimal("0.01")


def error(code: str, text: str) -> RestError:
    """product-rows/*: ENTITY_TYPE_NOT_SUPPORTED, OWNER_NOT_FOUND, NOT_FOUND, INVALID_ARG_VALUE,
    100 — HTTP 400 with the text the samples print (else the table's description)."""
    return RestError(code, text, 400)


def _dec(value: Any, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else default).replace(",", "."))
    except InvalidOperation:
        raise error("INVALID_ARG_VALUE", "Некорректные значения входящих параметров") from None


def _num(value: Decimal) -> int | float:
    """A double as the API prints it: 80000, 66666.67."""
    value = value.quantize(KOPECK, ROUND_HALF_UP) if value != value.to_integral() else value
    return int(value) if value == value.to_integral() else float(value)


def _round(value: Decimal) -> Decimal:
    return value.quantize(KOPECK, ROUND_HALF_UP)


def priced(row: dict[str, Any]) -> dict[str, Any]:
    """The row with priceExclusive/Netto/Brutto, discountSum and discountRate derived from
    price, discountTypeId (1 amount, 2 percent), the discount and taxRate, as the samples of
    crm-item-productrow-add.md (80000 − 20 % with 20 % VAT → 66666.67 / 83333.34 /
    100000.01) and crm-item-productrow-update.md (90000, 10 %/10 % → 81818.18 / 90909.09 /
    100000) have them. Tax is in `price` whatever taxIncluded says (data-types.md: price is
    "с учетом скидок и налогов"); taxIncluded only tells how documents show it."""
    price = _dec(row.get("price"))
    tax = _dec(row.get("taxRate")) / 100 if row.get("taxRate") is not None else Decimal(0)
    exclusive = _round(price / (1 + tax))
    if int(row.get("discountTypeId") or 2) == 1:
        discount = _dec(row.get("discountSum"))
        netto = exclusive + discount
        rate = _round(discount / netto * 100) if netto else Decimal(0)
    else:
        rate = _dec(row.get("discountRate"))
        netto = _round(exclusive / (1 - rate / 100)) if rate < 100 else exclusive
        discount = netto - exclusive
    brutto = _round(netto * (1 + tax))
    return {**row, "price": _num(price), "priceAccount": _num(price),
            "priceExclusive": _num(exclusive), "priceNetto": _num(netto),
            "priceBrutto": _num(brutto), "discountSum": _num(discount),
            "discountRate": _num(rate)}


def owner_code(type_id: int) -> str:
    """D, L, or T<hex> for a smart process (crm/data-types.md#object_type: 128 → T80)."""
    return next((c for c, t in OWNER_CODES.items() if t == type_id), f"T{type_id:x}")


def owner_type_id(portal: Portal, code: Any) -> int:
    """The entity type of an ownerType code; ENTITY_TYPE_NOT_SUPPORTED for the rest."""
    text = str(code or "").strip().upper()
    if text in OWNER_CODES:
        return OWNER_CODES[text]
    if text.startswith("T") and len(text) > 1:
        try:
            type_id = int(text[1:], 16)
        except ValueError:
            type_id = 0
        if type_id in portal.crm_types:
            return type_id
    raise error("ENTITY_TYPE_NOT_SUPPORTED", "Работа с данным типом объектов не поддерживается")


def _owner(portal: Portal, type_id: int, owner_id: int) -> dict[str, Any] | None:
    try:
        return items._table(portal, type_id).get(owner_id)
    except RestError:
        return None


def _typed(key: str, value: Any) -> Any:
    kind = FIELDS[key][0]
    if value is None or value == "":
        return None if key == "taxRate" else ("" if kind == "string" else value)
    if kind == "integer":
        return int(_dec(value))
    if kind == "double":
        return _num(_dec(value))
    if kind == "char":
        return "Y" if str(value).strip().upper() in ("Y", "1", "TRUE") else "N"
    return str(value)


def _write(portal: Portal, row: dict[str, Any], fields: dict[str, Any], strict: bool) -> None:
    """Writable fields; strict (update) refuses the others as crm-item-productrow-update.md
    does (INVALID_ARG_VALUE). A catalog product fills its name, unit and type."""
    for key, value in fields.items():
        if key not in WRITABLE:
            if strict:
                raise error("INVALID_ARG_VALUE",
                            "Неизвестное поле или переданное поле недоступно для обновления")
            continue
        row[key] = _typed(key, value)
    product = portal.catalog.get(int(row.get("productId") or 0))
    if product is not None:
        if "productName" not in fields and not row.get("productName"):
            row["productName"] = product["name"]
        if "measureCode" not in fields and row.get("measureCode") is None:
            row["measureCode"] = product["measureCode"]
        row["type"] = product["type"]
    if row.get("measureCode") is None:
        row["measureCode"] = DEFAULT_MEASURE
    if "measureName" not in fields:
        row["measureName"] = MEASURES.get(int(row["measureCode"]), row.get("measureName") or "")


def new_row(emu: Emulator, portal: Portal, type_id: int, owner_id: int,
            fields: dict[str, Any]) -> dict[str, Any]:
    """A stored product row of an existing owner (the defaults of crm-item-productrow-add.md:
    quantity 1, percent discount, tax not included)."""
    row: dict[str, Any] = {
        "id": portal.product_rows.next_id(), "ownerId": owner_id,
        "ownerType": owner_code(type_id), "productId": 0, "productName": "", "price": 0,
        "quantity": 1, "discountTypeId": 2, "discountRate": 0, "discountSum": 0,
        "taxRate": None, "taxIncluded": "N", "customized": "Y", "measureCode": None,
        "measureName": "", "sort": 0, "xmlId": "", "type": SIMPLE_PRODUCT}
    _write(portal, row, fields, strict=False)
    row = priced(row)
    portal.product_rows.put(row["id"], row)
    return row


def rows_of(portal: Portal, type_id: int, owner_id: int) -> list[dict[str, Any]]:
    code = owner_code(type_id)
    table = portal.product_rows
    return [table.rows[i] for i in table.ids
            if table.rows[i]["ownerType"] == code and table.rows[i]["ownerId"] == owner_id]


def recount(portal: Portal, type_id: int, owner_id: int) -> None:
    """The owner's amount follows its rows unless it was set by hand (IS_MANUAL_OPPORTUNITY,
    crm-deal-fields.md): OPPORTUNITY = Σ price × quantity, TAX_VALUE = Σ the VAT in it."""
    owner = _owner(portal, type_id, owner_id)
    if owner is None or owner.get("IS_MANUAL_OPPORTUNITY") == "Y":
        return
    total, vat = Decimal(0), Decimal(0)
    for row in rows_of(portal, type_id, owner_id):
        qty = _dec(row["quantity"])
        total += _dec(row["price"]) * qty
        vat += (_dec(row["price"]) - _dec(row["priceExclusive"])) * qty
    owner["OPPORTUNITY"] = f"{_round(total):.2f}"
    owner["TAX_VALUE"] = f"{_round(vat):.2f}"


def set_rows(emu: Emulator, portal: Portal, type_id: int, owner_id: int,
             rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """crm-item-productrow-set.md: the owner's rows become exactly these."""
    if _owner(portal, type_id, owner_id) is None:
        raise error("OWNER_NOT_FOUND", "Owner was not found")
    with emu.lock:
        for old in rows_of(portal, type_id, owner_id):
            portal.product_rows.delete(old["id"])
        made = [new_row(emu, portal, type_id, owner_id, as_dict(r)) for r in rows]
        recount(portal, type_id, owner_id)
        return made


def drop_owner(portal: Portal, type_id: int, owner_id: int) -> None:
    """A deleted lead, deal or item takes its product rows along."""
    for row in rows_of(portal, type_id, owner_id):
        portal.product_rows.delete(row["id"])


def _row(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    try:
        rid = int(str(params.get("id", params.get("ID"))).strip())
    except (TypeError, ValueError):
        raise error("100", "Не переданы обязательные параметры") from None
    row = ctx.portal.product_rows.get(rid)
    if row is None:
        raise error("NOT_FOUND", "Элемент не найден")
    _check_read(ctx, owner_type_id(ctx.portal, row["ownerType"]), row["ownerId"])
    return row


def _check_read(ctx: CallContext, type_id: int, owner_id: int) -> None:
    entity = items.CLASSIC.get(type_id, f"dynamic_{type_id}")
    if not ctx.portal.may_read(ctx.user_id, entity, owner_id):
        raise error("ACCESS_DENIED", "Доступ запрещен")


def _owner_args(ctx: CallContext, source: dict[str, Any]) -> tuple[int, int]:
    if source.get("ownerType") in (None, "") or source.get("ownerId") in (None, ""):
        raise error("100", "Не переданы обязательные параметры")
    type_id = owner_type_id(ctx.portal, source["ownerType"])
    try:
        owner_id = int(str(source["ownerId"]).strip())
    except ValueError:
        raise error("INVALID_ARG_VALUE", "Некорректные значения входящих параметров") from None
    return type_id, owner_id


@method("crm.item.productrow.fields", scope="crm")
def fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"fields": {name: {"type": t, "isRequired": req, "isReadOnly": ro,
                              "isImmutable": imm, "isMultiple": False, "isDynamic": False,
                              "title": title}
                       for name, (t, req, ro, imm, title) in FIELDS.items()}}


@method("crm.item.productrow.add", scope="crm")
def add(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    f = as_dict(params.get("fields"))
    type_id, owner_id = _owner_args(ctx, f)
    if _owner(ctx.portal, type_id, owner_id) is None:
        raise error("OWNER_NOT_FOUND", "Owner was not found")
    _check_read(ctx, type_id, owner_id)
    with ctx.emu.lock:
        row = new_row(ctx.emu, ctx.portal, type_id, owner_id, f)
        recount(ctx.portal, type_id, owner_id)
    return {"productRow": dict(row)}


@method("crm.item.productrow.get", scope="crm")
def get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"productRow": dict(_row(ctx, params))}


@method("crm.item.productrow.update", scope="crm")
def update(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _row(ctx, params)
    f = as_dict(params.get("fields"))
    with ctx.emu.lock:
        _write(ctx.portal, row, f, strict=True)
        row.update(priced(row))
        recount(ctx.portal, owner_type_id(ctx.portal, row["ownerType"]), row["ownerId"])
    return {"productRow": dict(row)}


@method("crm.item.productrow.delete", scope="crm")
def delete(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _row(ctx, params)
    with ctx.emu.lock:
        ctx.portal.product_rows.delete(row["id"])
        recount(ctx.portal, owner_type_id(ctx.portal, row["ownerType"]), row["ownerId"])


@method("crm.item.productrow.set", scope="crm")
def set_(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    type_id, owner_id = _owner_args(ctx, params)
    _check_read(ctx, type_id, owner_id)
    rows = params.get("productRows")
    rows = list(rows.values()) if isinstance(rows, dict) else rows
    if not isinstance(rows, list):
        raise error("100", "Не переданы обязательные параметры")
    made = set_rows(ctx.emu, ctx.portal, type_id, owner_id, rows)
    return {"productRows": [dict(r) for r in made]}


@method("crm.item.productrow.list", scope="crm")
def list_(ctx: CallContext, params: dict[str, Any]) -> Any:
    """crm-item-productrow-list.md: `=ownerType` and `=ownerId` are required in the filter;
    the answer is {"productRows": [...]} with total, 50 per page."""
    flt = as_dict(params.get("filter"))
    if "=ownerType" not in flt or "=ownerId" not in flt:
        raise error("100", "Не переданы обязательные параметры")
    type_id, owner_id = _owner_args(ctx, {"ownerType": flt["=ownerType"],
                                          "ownerId": flt["=ownerId"]})
    _check_read(ctx, type_id, owner_id)
    conds = compile_filter({k: v for k, v in flt.items() if k not in ("=ownerType",
                                                                       "=ownerId")})
    rows = [r for r in rows_of(ctx.portal, type_id, owner_id)
            if row_matches({k.upper(): v for k, v in r.items()}, conds)]
    order = parse_order(params.get("order"))
    keyed = sort_rows([{**{k.upper(): v for k, v in r.items()}, "_row": r} for r in rows],
                      order)
    res = page([dict(r["_row"]) for r in keyed], max(parse_start(params.get("start", 0)), 0),
               len(keyed))
    res.items = {"productRows": res.items}
    return res


# ------------------------------------------------------------------ deprecated deal methods
def _deal_id(ctx: CallContext, params: dict[str, Any]) -> int:
    """deals/crm-deal-productrows-get.md: the deal's id; its three documented errors."""
    raw = params.get("id", params.get("ID"))
    if not str(raw or "").strip().isdigit() or int(str(raw).strip()) <= 0:
        raise RestError("", "The parameter id is invalid or not defined.", 400)
    deal_id = int(str(raw).strip())
    if ctx.portal.deals.get(deal_id) is None:
        raise RestError("", "Not found", 400)
    if not ctx.portal.may_read(ctx.user_id, "deal", deal_id):
        raise RestError("", "Access denied", 400)
    return deal_id


def old_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as crm.deal.productrows.get prints it: UPPER_CASE, ids as strings,
    PRICE_ACCOUNT as a string with kopecks (the page's sample)."""
    out = {items.to_upper(k): v for k, v in row.items() if k != "priceAccount"}
    out.update({"ID": str(row["id"]), "OWNER_ID": str(row["ownerId"]),
                "ORIGINAL_PRODUCT_NAME": row["productName"], "PRODUCT_DESCRIPTION": None,
                "PRICE_ACCOUNT": f"{_dec(row['priceAccount']):.2f}", "STORE_ID": 0})
    return out


@method("crm.deal.productrows.get", scope="crm")
def deal_rows_get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Deprecated (crm-deal-productrows-get.md): the same rows as crm.item.productrow.list."""
    return [old_row(r) for r in rows_of(ctx.portal, 2, _deal_id(ctx, params))]


@method("crm.deal.productrows.set", scope="crm")
def deal_rows_set(ctx: CallContext, params: dict[str, Any]) -> bool:
    """Deprecated (crm-deal-productrows-set.md): the deal's rows become `rows` (UPPER_CASE
    fields), the same rows crm.item.productrow.* reads."""
    deal_id = _deal_id(ctx, params)
    rows = params.get("rows", params.get("ROWS")) or []
    rows = list(rows.values()) if isinstance(rows, dict) else rows
    set_rows(ctx.emu, ctx.portal, 2, deal_id,
             [{items.to_camel(str(k).upper()): v for k, v in as_dict(r).items()} for r in rows])
    return True
