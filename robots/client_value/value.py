"""A client's value from its deals (pure): how many were won, for how much, when last.

Counted from the deals every time, never added to or subtracted from a stored figure: a
deal won, reopened and won again, or an event delivered twice, always ends in the same
numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connector.crm.port import Item
from connector.currency import NoRate, convert


@dataclass
class Value:
    won: int = 0
    total: Decimal = Decimal("0.00")
    last: str = ""  # "YYYY-MM-DD" of the latest won deal's end date; "" when none
    currency: str = ""
    # deals left out because the portal has no rate for their currency: deal id → currency
    unconverted: dict[int, str] = field(default_factory=dict)

    def add(self, deal: Item, rates: Mapping[str, Any]) -> None:
        try:
            money = convert(deal.amount, deal.currency, self.currency, rates)
        except NoRate as exc:
            self.unconverted[deal.ref.id] = exc.currency
            return
        self.won += 1
        self.total += money
        self.last = max(self.last, deal.closed_on or "")

    def fields(self) -> dict[str, Any]:
        """By what is written ("count", "value", "last"): the CRM's own formats."""
        return {"count": self.won, "value": f"{self.total:.2f}|{self.currency}",
                "last": self.last}

    def as_json(self) -> dict[str, Any]:
        return {"won": self.won, "total": f"{self.total:.2f}", "last": self.last,
                "currency": self.currency,
                "unconverted": {str(k): v for k, v in self.unconverted.items()}}


def counts(deal: Item, categories: Iterable[Any]) -> bool:
    """Whether a won deal counts: its pipeline is one of those chosen (none: any)."""
    chosen = {str(c) for c in categories}
    return deal.won and (not chosen or str(deal.category or "0") in chosen)


def value_of(deals: Iterable[Item], categories: Iterable[Any], currency: str,
             rates: Mapping[str, Any]) -> Value:
    out = Value(currency=currency)
    chosen = list(categories)
    for deal in deals:
        if counts(deal, chosen):
            out.add(deal, rates)
    return out


def state_of(deal: Item, categories: Iterable[Any]) -> dict[str, Any] | None:
    """What of a deal makes its clients' value: None when it does not count (not won, or
    another pipeline). A change of this between two events is what triggers a recount."""
    if not counts(deal, categories):
        return None
    return {"amount": str(deal.amount), "currency": deal.currency, "on": deal.closed_on,
            "clients": clients(deal)}


def clients(deal: Item) -> list[str]:
    """The deal's contacts and company as ItemRef labels ("contact/5", "company/2")."""
    out = [f"contact/{c}" for c in deal.contact_ids if c]
    if deal.company_id:
        out.append(f"company/{deal.company_id}")
    return out
