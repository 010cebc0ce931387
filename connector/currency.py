"""Amounts in the portal's currencies brought to one: what client value, a deal's margin and a
digest's sums add up. Rates come from the CRM (CurrencyRates), never from the network: a sum
is in the portal's own terms, and a currency it has no rate for is refused, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.errors import Permanent

CENT = Decimal("0.01")
RATES_TTL_S = 600  # a portal's rates are read again after ten minutes


class NoRate(Permanent):
    """An amount in a currency the portal has no rate for."""

    def __init__(self, currency: str):
        self.currency = currency
        super().__init__(f"the portal has no rate for the currency {currency!r}")


def amount(value: Any) -> Decimal:
    """A CRM amount ("1500.5", 1500, "") as a Decimal; 0 when it is not a number."""
    try:
        out = Decimal(str(value if value not in (None, "") else "0").replace(",", "."))
    except InvalidOperation:
        return Decimal(0)
    return out if out.is_finite() else Decimal(0)


def convert(value: Any, currency: str, to: str, rates: Mapping[str, Any]) -> Decimal:
    """`value` in `currency` expressed in `to`, through the rates (per unit in the base
    currency), rounded to kopecks; the same currency (or an empty one) is not converted."""
    money = amount(value)
    if not currency or currency == to or not money:
        return money.quantize(CENT)
    if currency not in rates:
        raise NoRate(currency)
    if to not in rates:
        raise NoRate(to)
    return (money * Decimal(rates[currency]) / Decimal(rates[to])).quantize(CENT)


def portal_rates(ctx: Any) -> tuple[str, dict[str, Decimal]]:
    """(the portal's base currency, every currency's rate), from the CRM at most every ten
    minutes, shared by the capabilities of the portal: a recount costs its own reads only."""
    import json

    from connector.crm.port import CurrencyRates

    key = f"{ctx.services.settings.queue_prefix}:currency:{ctx.tenant.key}:rates"
    raw = ctx.redis.get(key)
    if raw:
        data = json.loads(raw)
    else:
        found = ctx.crm.read({"r": CurrencyRates()}).get("r")
        data = {"base": found["base"], "rates": {k: str(v) for k, v in found["rates"].items()}}
        ctx.redis.set(key, json.dumps(data), ex=RATES_TTL_S)
    return data["base"] or "RUB", {k: Decimal(v) for k, v in data["rates"].items()}


def forget_rates(ctx: Any) -> None:
    """Read the rates again next time (an admin has just added one)."""
    ctx.redis.delete(f"{ctx.services.settings.queue_prefix}:currency:{ctx.tenant.key}:rates")
