"""A deal's margin from its amount and cost fields (pure).

A cost field is a number (in the deal's currency) or money ("45000|RUB", in its own
currency, converted at the portal's rates). An empty field is no cost. (A field the portal
does not have at all is a mapping to fix, not a zero: robots.profitability.work refuses it.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connector.currency import CENT, amount, convert


@dataclass
class Margin:
    amount: Decimal
    currency: str
    costs: list[tuple[str, Decimal]] = field(default_factory=list)  # (field, in the currency)

    @property
    def cost(self) -> Decimal:
        return sum((c for _f, c in self.costs), Decimal(0)).quantize(CENT)

    @property
    def margin(self) -> Decimal:
        return (self.amount - self.cost).quantize(CENT)

    @property
    def percent(self) -> Decimal | None:
        """The margin as a share of the amount, one decimal; None for a deal of no amount."""
        if not self.amount:
            return None
        return (self.margin * 100 / self.amount).quantize(Decimal("0.1"))


def cost_value(raw: Any, currency: str, rates: Mapping[str, Any]) -> Decimal:
    """A cost field's value in the deal's currency (NoRate for money in an unknown one)."""
    if isinstance(raw, list):  # a multiple field: every value is a cost
        return sum((cost_value(v, currency, rates) for v in raw), Decimal(0))
    text = str(raw if raw is not None else "").strip()
    if "|" in text:
        value, _, own = text.partition("|")
        return convert(value, own.strip(), currency, rates)
    return amount(text).quantize(CENT)


def margin_of(fields: Mapping[str, Any], deal_amount: Any, currency: str,
              cost_fields: Sequence[str], rates: Mapping[str, Any]) -> Margin:
    out = Margin(amount(deal_amount).quantize(CENT), currency)
    for name in cost_fields:
        out.costs.append((name, cost_value(fields.get(name), currency, rates)))
    return out


def written(m: Margin) -> dict[str, str]:
    """What the margin and percent fields get, in the CRM's formats."""
    return {"margin": f"{m.margin:.2f}|{m.currency}",
            "percent": "" if m.percent is None else f"{m.percent}"}


def same(current: Any, new: str) -> bool:
    """Whether a field already holds the value (so writing it would only raise another
    update event): money compared by amount and currency, numbers by value."""
    text = str(current if current is not None else "").strip()
    if "|" in new or "|" in text:
        a, _, ac = text.partition("|")
        b, _, bc = new.partition("|")
        return amount(a) == amount(b) and ac.strip() == bc.strip()
    if not new:
        return not text
    return bool(text) and amount(text) == amount(new)
