"""Russian and English: gettext catalogs through Babel, the portal's language and time zone.

Source strings (msgids) are English. Code marks a string with `N_()` where it is declared
(robot names, settings labels) and renders it with `t(lang, …)` where a person will read
it; `pybabel extract` finds both (see babel.cfg). Catalogs live in connector/translations.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
CATALOGS = Path(__file__).with_name("translations")
DOMAIN = "messages"


class Msg(str):
    """A string marked for translation, rendered later in the reader's language."""

    def render(self, lang: str, **params: Any) -> str:
        return t(lang, str(self), **params)


def N_(msgid: str) -> Msg:  # noqa: N802 - the gettext convention
    """Mark a string for extraction; it is translated when rendered."""
    return Msg(msgid)


class Plural(tuple[str, str]):
    """A singular/plural msgid pair marked for extraction, rendered later with nt()."""


def NP_(singular: str, plural: str) -> Plural:  # noqa: N802 - the gettext convention
    """Mark a pair for extraction ("File copied: {n}", "Files copied: {n}")."""
    return Plural((singular, plural))


@functools.cache
def catalog(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    return Translations.load(str(CATALOGS), [lang], DOMAIN)


def language(value: Any) -> str:
    """'ru' or 'en' from a portal's LANGUAGE_ID / LANG ('ua', 'by', 'kz' read Russian)."""
    code = str(value or "").strip().lower()[:2]
    if code in LANGUAGES:
        return code
    return "ru" if code in ("ua", "by", "kz", "uk", "be") else ("en" if code else DEFAULT)


def portal_language(setting: str, stored: str) -> str:
    """The language the app writes in for a portal: the admin's setting unless it is "auto"
    (or empty), then the portal's own LANGUAGE_ID, then Russian."""
    chosen = str(setting or "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    return language(stored) if stored else DEFAULT


def page_language(frame: str, setting: str, stored: str) -> str:
    """A page speaks its viewer's language: the frame's LANG, else the portal's own
    LANGUAGE_ID; the setting (which is about the messages the app writes) comes last."""
    for value in (frame, stored):
        if str(value or "").strip():
            return language(value)
    return portal_language(setting, "")


def t(lang: str, msgid: str, **params: Any) -> str:
    """The translation of msgid in lang, with {name} placeholders filled."""
    text = catalog(language(lang)).gettext(msgid)
    return text.format(**params) if params else text


def nt(lang: str, singular: str, plural: str, n: int, **params: Any) -> str:
    text = catalog(language(lang)).ngettext(singular, plural, n)
    return text.format(n=n, **params)


def when(ts: float | datetime, lang: str, tz: str, fmt: str = "medium") -> str:
    """A moment in the portal's time zone, written the reader's way."""
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(float(ts), UTC)
    return format_datetime(moment, fmt, tzinfo=ZoneInfo(tz), locale=Locale(language(lang)))


def money(amount: Any, currency: str, lang: str) -> str:
    """An amount with its currency in the local format (1 234,50 ₽ / RUB 1,234.50)."""
    try:
        value = Decimal(str(amount or 0))
    except ArithmeticError:
        value = Decimal(0)
    if not currency:
        return f"{value}"
    return format_currency(value, currency, locale=Locale(language(lang)))
