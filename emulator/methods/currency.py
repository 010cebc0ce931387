"""``crm.currency.list`` and ``crm.currency.base.get``: the portal's currencies and rates.

A new portal has the currencies of api-reference/crm/currency/crm-currency-list.md's sample
answer (rouble as the base, the dollar, the euro and the Belarusian rouble at that sample's
rates); ``crm.currency.add`` adds one the way crm-currency-add.md describes, so a test can
give a portal a currency, and a deal in a currency the list lacks stays unconvertible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import page
from ..registry import CallContext, as_dict, method

if TYPE_CHECKING:
    from ..state import Portal

# crm-currency-list.md, "Обработка ответа": the fields and values of the sample answer
SAMPLE = (
    ("RUB", "1", "1.0000", "100", "Y", "Российский рубль", "# &#8381;", "&nbsp;"),
    ("USD", "1", "68.7900", "200", "N", "Доллар США", "$#", None),
    ("EUR", "1", "78.3200", "300", "N", "Евро", "# &euro;", "&nbsp;"),
    ("BYN", "1", "32.2000", "500", "N", "Белорусский рубль", "# руб.", "&nbsp;"),
)


def sample() -> list[dict[str, Any]]:
    return [{"CURRENCY": code, "AMOUNT_CNT": cnt, "AMOUNT": amount, "SORT": sort, "BASE": base,
             "FULL_NAME": name, "LID": "ru", "FORMAT_STRING": fmt, "DEC_POINT": ".",
             "THOUSANDS_SEP": sep, "DECIMALS": "2", "DATE_UPDATE": "2024-01-29T12:28:40+02:00"}
            for code, cnt, amount, sort, base, name, fmt, sep in SAMPLE]


@method("crm.currency.list", scope="crm")
def currency_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    """crm-currency-list.md: every currency in one page, ordered by SORT unless told."""
    order = as_dict(params.get("order") or {"SORT": "ASC"})
    rows = list(ctx.portal.currencies)
    for key, direction in reversed(list(order.items())):
        field = str(key).upper()
        numeric = field in ("SORT", "AMOUNT", "AMOUNT_CNT")
        rows.sort(key=lambda r: float(r.get(field) or 0) if numeric else str(r.get(field) or ""),
                  reverse=str(direction).upper() == "DESC")
    return page(rows, 0, len(rows))


def base_currency(portal: Portal) -> str:
    return next((r["CURRENCY"] for r in portal.currencies if r["BASE"] == "Y"), "RUB")


@method("crm.currency.base.get", scope="crm")
def currency_base(ctx: CallContext, params: dict[str, Any]) -> str:
    """crm-currency-base-get.md: the base currency's code."""
    return base_currency(ctx.portal)


@method("crm.currency.add", scope="crm")
def currency_add(ctx: CallContext, params: dict[str, Any]) -> str:
    """crm-currency-add.md: fields CURRENCY (3 letters), AMOUNT_CNT and AMOUNT required, SORT;
    the result is the new currency's code. (BASE "Y" is not emulated: the base stays.)"""
    f = as_dict(params.get("fields") or params.get("FIELDS"))
    for name in ("CURRENCY", "AMOUNT_CNT", "AMOUNT"):  # "Обработка ошибок": required fields
        if f.get(name) in (None, ""):
            raise RestError("ERROR_CORE", f'Undefined array key "{name}"', 400)
    code = str(f["CURRENCY"]).upper()
    if len(code) != 3 or not code.isalpha() or any(
            r["CURRENCY"] == code for r in ctx.portal.currencies):
        raise RestError("ERROR_CORE", f"Currency {code} cannot be added", 400)  # "other errors"
    row = {"CURRENCY": code, "AMOUNT_CNT": str(f.get("AMOUNT_CNT") or "1"),
           "AMOUNT": f"{float(f.get('AMOUNT') or 1):.4f}", "SORT": str(f.get("SORT") or "100"),
           "BASE": "N", "FULL_NAME": str(f.get("FULL_NAME") or code), "LID": "ru",
           "FORMAT_STRING": "# " + code, "DEC_POINT": ".", "THOUSANDS_SEP": "&nbsp;",
           "DECIMALS": "2", "DATE_UPDATE": None}
    ctx.portal.currencies.append(row)
    return code
