"""Pages in the viewer's language and the portal's time zone (Flask-Babel wiring).

Pure choices live in connector.i18n; this module only reads them off the request: the
frame's `LANG`, then the portal the request names (`member_id` in the frame's form, or
`g.member_id` set by a view that found it another way), then the browser, then Russian.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, get_timezone

from connector import i18n

DEFAULT_TZ = "Europe/Moscow"


def _portal_prefs() -> tuple[str, str, str]:
    """(language setting, stored LANGUAGE_ID, time zone) of the request's portal, once."""
    if "portal_prefs" not in g:
        member_id = request.values.get("member_id") or g.get("member_id", "")
        prefs = ("", "", "")
        services = current_app.extensions["connector"]
        portal = services.store.get(member_id) if member_id else None
        if portal is not None:
            general = services.portal_settings.get(member_id).get("general", {})
            prefs = (str(general.get("language", "")), portal.language,
                     str(general.get("timezone") or DEFAULT_TZ))
        g.portal_prefs = prefs
    return g.portal_prefs


def select_locale() -> str:
    frame = request.values.get("LANG", "")
    setting, stored, _ = _portal_prefs()
    if not frame and not setting and not stored:
        frame = request.accept_languages.best_match(i18n.LANGUAGES) or ""
    return i18n.page_language(frame, setting, stored)


def select_timezone() -> str:
    return _portal_prefs()[2] or DEFAULT_TZ


def when(ts: Any, fmt: str = "medium") -> str:
    """Jinja filter: a timestamp in the portal's zone, in the page's language."""
    return i18n.when(float(ts), str(get_locale()), str(get_timezone()), fmt)


def money(amount: Any, currency: str) -> str:
    """Jinja filter: an amount with its currency in the page's local format."""
    return i18n.money(amount, currency, str(get_locale()))


def init_pages(app: Flask) -> Babel:
    """Flask-Babel on connector/translations (the catalogs t() uses) and the page filters."""
    babel = Babel(app, locale_selector=select_locale, timezone_selector=select_timezone,
                  default_locale=i18n.DEFAULT, default_translation_directories=str(i18n.CATALOGS))
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["money"] = money
    app.context_processor(lambda: {"page_lang": str(get_locale() or i18n.DEFAULT)})
    return babel
