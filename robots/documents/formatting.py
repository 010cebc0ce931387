"""Russian formatting of amounts, numbers and dates for documents, through the libraries made
for it (Babel for figures and dates, num2words for words).

Every amount is a Decimal and is rounded to kopecks in one place, `kopecks()`, ROUND_HALF_UP
as accountants round. Figures keep the no-break spaces Babel puts between thousands
(«1 234 567,50» with U+00A0): a printed number must never break across two lines of a
narrow table cell, and Word shows U+00A0 as an ordinary space.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from num2words import num2words

LOCALE = "ru"
KOPECK = Decimal("0.01")
NBSP = "\u00a0"
# the currencies num2words words in Russian (num2words/lang_RU.py CURRENCY_FORMS)
WORDED = ("RUB", "EUR", "USD", "BYN", "KZT", "UAH", "PLN", "UZS")
CURRENCY_SIGNS = {"RUB": "руб.", "USD": "долл. США", "EUR": "евро", "BYN": "бел. руб.",
                  "KZT": "тенге", "UAH": "грн", "PLN": "злотых", "UZS": "сум",
                  "CNY": "юаней"}


def decimal(value: Any) -> Decimal:
    """A Decimal from what the CRM gives (a decimal string, an int, a Decimal); a float goes
    through its shortest repr, never its binary value. ValueError for anything else."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    elif isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = str(value).strip().replace(NBSP, "").replace(" ", "").replace(",", ".")
        try:
            number = Decimal(text or "0")
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return number


def kopecks(value: Any) -> Decimal:
    """The amount rounded to kopecks, half up: the one rounding of the documents."""
    return decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def money(value: Any) -> str:
    """«1 234 567,50»: kopecks always shown, thousands apart (U+00A0)."""
    return format_decimal(kopecks(value), format="#,##0.00", locale=LOCALE)


def quantity(value: Any) -> str:
    """«3», «1,5», «1 000», «0,125»: as many decimals as it has (at most three)."""
    return format_decimal(decimal(value), format="#,##0.###", locale=LOCALE)


def percent(value: Any) -> str:
    """«20 %», «6,5 %» (a no-break space before the sign, as Russian typography writes it)."""
    return f"{quantity(value)}{NBSP}%"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def amount_in_words(value: Any, currency: str = "RUB") -> str:
    """«Один миллион двести тридцать четыре тысячи пятьсот шестьдесят семь рублей 50 копеек»:
    capitalised, the kopecks in figures as Russian contracts write them. A currency num2words
    cannot word in Russian gets the whole number in words and its code («… 50/100 CNY»)."""
    amount = kopecks(value)
    if amount < 0:
        raise ValueError(f"a negative amount: {amount}")
    code = (currency or "RUB").upper()
    if code in WORDED:
        # a Decimal, never an int: num2words reads an int as kopecks (reference §4)
        words = num2words(amount, lang=LOCALE, to="currency", currency=code,
                          cents=False, separator="")
    else:
        whole, cents = divmod(amount, 1)
        words = (f"{num2words(int(whole), lang=LOCALE)} {int(cents * 100):02d}/100 "
                 f"{CURRENCY_SIGNS.get(code, code)}")
    return _capital(words)


def number_in_words(n: int, gender: str = "n") -> str:
    """«три», «одна», «двадцать одно» (gender m, f or n agrees with the counted noun:
    «наименований» is neuter)."""
    return num2words(int(n), lang=LOCALE, gender=gender)


def as_date(value: Any) -> date | None:
    """A date from a date, a datetime or the CRM's ISO 8601 text ("2026-11-22",
    "2026-11-22T10:00:00+03:00", the date as the portal's zone had it); None when empty.
    ValueError for text that is no date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return datetime.strptime(text, "%d.%m.%Y").date()  # the portal's own short form


def date_long(value: Any) -> str:
    """«22 ноября 2026 г.» (a plain space before «г.»; Babel's 'long' puts U+202F there)."""
    day = as_date(value)
    return format_date(day, "d MMMM y 'г.'", locale=LOCALE) if day else ""


def date_quoted(value: Any) -> str:
    """«"22" ноября 2026 г.», the way a contract's heading writes its date."""
    day = as_date(value)
    return format_date(day, "'\"'dd'\"' MMMM y 'г.'", locale=LOCALE) if day else ""


def date_short(value: Any) -> str:
    """«22.11.2026»."""
    day = as_date(value)
    return format_date(day, "dd.MM.y", locale=LOCALE) if day else ""
