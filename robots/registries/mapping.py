"""A deal as a card of the car registry (pure): which of its fields fill which field of the
card, which status its stage means, and what of a card differs from what the deal says.

Values are read leniently, the way people type them in a deal: "120 000 км" is 120000
kilometres, "2019 г." the year 2019, "1 500 000|RUB" a price in roubles. A mapped field the
portal does not have at all is not an empty value but a mapping to fix: `missing` names it
and robots.registries.sync refuses the deal.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.crm.port import ItemRef, Money

IN_STOCK, ON_COMMISSION, SOLD = "in_stock", "on_commission", "sold"
TEXTS = ("make", "model", "vin")
NUMBERS = ("year", "mileage")
_NUMBER = re.compile(r"-?\d[\d\s\u00a0\u202f]*(?:[.,]\d+)?")


def first(raw: Any) -> Any:
    """A multiple field's first value (a card holds one)."""
    if isinstance(raw, list | tuple):
        return raw[0] if raw else None
    return raw


def text(raw: Any) -> str:
    value = first(raw)
    return "" if value is None or value is False else " ".join(str(value).split())


def number(raw: Any) -> Decimal | None:
    """The first number in the text ("120 000 км" → 120000); None when there is none."""
    value = first(raw)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    found = _NUMBER.search(str(value or "").split("|")[0])
    if not found:
        return None
    digits = re.sub(r"[\s\u00a0\u202f]", "", found.group()).replace(",", ".")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def whole(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(1))


def price(raw: Any, currency: str) -> Money | None:
    """A price from a money field ("1500000|RUB") or a number in the deal's currency."""
    value = first(raw)
    own = ""
    if isinstance(value, str) and "|" in value:
        own = value.partition("|")[2].strip().upper()
    amount = number(value)
    if amount is None:
        return None
    return Money(f"{amount.quantize(Decimal('0.01'))}", own or currency or "RUB")


def missing(mapping: Mapping[str, str], have: Collection[str]) -> list[str]:
    """The mapped deal fields the portal does not have, in the mapping's order."""
    out: list[str] = []
    for name in mapping.values():
        if name not in have and name not in out:
            out.append(name)
    return out


def card_fields(fields: Mapping[str, Any], amount: str, currency: str,
                mapping: Mapping[str, str], deal: ItemRef) -> dict[str, Any]:
    """The card's fields by our codes, from the deal's fields (OPPORTUNITY: its amount)."""
    values = {**fields, "OPPORTUNITY": amount}
    out: dict[str, Any] = {"deal": deal}
    for code, name in mapping.items():
        raw = values.get(name)
        if code in TEXTS:
            out[code] = text(raw).upper() if code == "vin" else text(raw)
        elif code in NUMBERS:
            out[code] = whole(number(raw))
        elif code == "price":
            out[code] = price(raw, currency)
    return out


def title_of(card: Mapping[str, Any], deal_title: str) -> str:
    """"Kia Rio, 2019" — the car as people name it; the deal's title when nothing is known."""
    car = " ".join(p for p in (card.get("make") or "", card.get("model") or "") if p)
    if car and card.get("year") is not None:
        car = f"{car}, {card['year']}"
    return car or deal_title


def status_of(stage: str, won: bool, rules: Mapping[str, Any]) -> str | None:
    """The car's status the deal's stage means; None: the stage says nothing (kept as is).
    `rules` is the settings section (stock/commission/sold stages, won_sold)."""
    if won and rules.get("won_sold", True):
        return SOLD
    for status, name in ((SOLD, "sold_stage_ids"), (ON_COMMISSION, "commission_stage_ids"),
                         (IN_STOCK, "stock_stage_ids")):
        if stage in (rules.get(name) or ()):
            return status
    return None


def due(stage: str, won: bool, rules: Mapping[str, Any]) -> bool:
    """Whether the deal should have a card: it is at a stage that makes one, or at one that
    sets a status (it skipped the first)."""
    return stage in (rules.get("stage_ids") or ()) or status_of(stage, won, rules) is not None


def in_pipeline(category: str, chosen: Iterable[Any]) -> bool:
    wanted = {str(c) for c in chosen}
    return not wanted or str(category or "0") in wanted


def same(code: str, current: Any, wanted: Any) -> bool:
    """Whether a card's field already holds the value (so writing it would change nothing):
    numbers by value, money by amount and currency, text without outer spaces."""
    if wanted is None or wanted == "":
        return current is None or current == "" or current == []
    if current is None or current == "":
        return False
    if isinstance(wanted, Money):
        if not isinstance(current, Money):
            return False
        a, b = number(current.amount), number(wanted.amount)
        return a == b and current.currency.upper() == wanted.currency.upper()
    if isinstance(wanted, Decimal):
        return number(current) == wanted
    if isinstance(wanted, ItemRef):
        return isinstance(current, ItemRef) and current == wanted
    return str(current).strip() == str(wanted).strip()


def changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields whose value differs."""
    return {code: value for code, value in wanted.items()
            if not same(code, current.get(code), value)}


def as_json(card: Mapping[str, Any]) -> dict[str, Any]:
    """A card's fields as JSON (the ledger of what was last written, the panel's rows)."""
    out: dict[str, Any] = {}
    for code, value in card.items():
        if isinstance(value, Money):
            out[code] = f"{value.amount}|{value.currency}"
        elif isinstance(value, ItemRef):
            out[code] = value.label
        elif isinstance(value, Decimal):
            out[code] = str(value)
        else:
            out[code] = value
    return out
