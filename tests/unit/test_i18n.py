"""Russian and English: every text a person sees has its Russian translation, intact."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from string import Formatter

from babel.messages.catalog import Catalog, Message

from connector import i18n
from connector.i18n_catalogs import extract, needs_translation, read, read_compiled
from placements.registry import PLACEMENTS

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# %(name)s for Flask-Babel's gettext; {name} for t() is read by string.Formatter
PERCENT = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)[sd]")


def placeholders(text: str) -> set[str]:
    """{name} fields as str.format sees them ({{ }} are literal braces) and %(name)s ones."""
    try:
        fields = {f"{{{name}}}" for _, name, _, _ in Formatter().parse(text) if name}
    except ValueError:  # unbalanced braces: str.format would fail on it
        fields = {"<broken braces>"}
    return fields | {f"%({n})" for n in PERCENT.findall(text)}


def first_id(msg: Message) -> str:
    return msg.id if isinstance(msg.id, str) else msg.id[0]


def where(msg: Message) -> str:
    return ", ".join(f"{f}:{n}" for f, n in msg.locations[:2])


EXTRACTED: Catalog = extract()
RUSSIAN: Catalog = read("ru")


def test_extraction_sees_every_kind_of_mark():
    ids = {first_id(m) for m in EXTRACTED if m.id}
    assert "Fair distribution" in ids  # N_() in robots/
    assert "Robots for automation rules" in ids  # {{ _() }} in templates/html
    assert "Portal %(domain)s is connected." in ids  # _() with a parameter in a template
    assert "Connector" in ids  # placements/registry.py
    assert "only a portal administrator can install" in ids  # install/


def test_every_msgid_has_a_russian_translation():
    missing = []
    for msg in EXTRACTED:
        if not msg.id:
            continue
        have = RUSSIAN.get(msg.id, msg.context)
        if have is None or needs_translation(have):
            missing.append(f"{first_id(msg)!r} ({where(msg)})")
    assert not missing, ("no Russian translation (run ./dev i18n, then translate "
                         "connector/translations/ru/LC_MESSAGES/messages.po):\n  "
                         + "\n  ".join(missing))


def test_translations_keep_every_placeholder():
    broken = []
    for msg in RUSSIAN:
        if not msg.id or msg.fuzzy:
            continue
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        wanted = set().union(*(placeholders(i) for i in ids))
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        for text in strings:
            if text and placeholders(text) != wanted:
                broken.append(f"{first_id(msg)!r}: {sorted(wanted)} vs {text!r}")
    assert not broken, "placeholders lost or invented:\n  " + "\n  ".join(broken)


def test_the_compiled_catalog_is_the_po_file():
    def table(catalog: Catalog) -> dict[object, object]:
        def key(value: object) -> object:
            return value if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
        return {key(m.id): key(m.string) for m in catalog
                if m.id and not needs_translation(m)}
    assert table(read_compiled("ru")) == table(RUSSIAN), "run ./dev i18n to compile the .mo"


def test_the_catalog_holds_no_msgid_the_code_dropped():
    current = {m.id for m in EXTRACTED if m.id}
    stale = [first_id(m) for m in RUSSIAN if m.id and m.id not in current]
    assert not stale, f"run ./dev i18n to drop obsolete entries: {stale}"


def localized_ok(value: object) -> bool:
    return (isinstance(value, dict) and set(value) == {"ru", "en"}
            and bool(CYRILLIC.search(value["ru"])) and not CYRILLIC.search(value["en"]))


def test_robots_register_names_and_labels_in_russian_and_english():
    from tests.capabilities import ROBOTS

    for spec in ROBOTS:
        reg = spec.registration("https://app.example/robots", "1")
        assert localized_ok(reg["NAME"]), (spec.code, reg["NAME"])
        assert localized_ok(reg["DESCRIPTION"]), (spec.code, reg["DESCRIPTION"])
        for group in ("PROPERTIES", "RETURN_PROPERTIES"):
            for key, prop in reg[group].items():
                assert localized_ok(prop["Name"]), (spec.code, key, prop["Name"])
                if "Description" in prop:
                    assert localized_ok(prop["Description"]), (spec.code, key)
        assert reg["NAME"]["en"] == spec.name  # the msgid is the English text


def test_placement_titles_in_russian_and_english():
    for spec in PLACEMENTS:
        assert localized_ok({"ru": spec.title_ru, "en": spec.title_en}), spec


def test_t_translates_and_fills_placeholders():
    assert i18n.t("en", "Fair distribution") == "Fair distribution"
    assert CYRILLIC.search(i18n.t("ru", "Fair distribution"))
    assert i18n.t("ua", "Fair distribution") == i18n.t("ru", "Fair distribution")
    assert i18n.t("ru", "no such msgid {x}", x=1) == "no such msgid 1"


def test_language_of_a_portal_and_of_a_page():
    assert i18n.language("ru") == "ru" and i18n.language("EN") == "en"
    assert i18n.language("ua") == "ru" and i18n.language("de") == "en"
    assert i18n.language("") == "ru"
    assert i18n.portal_language("en", "ru") == "en"  # the admin's setting wins
    assert i18n.portal_language("auto", "en") == "en"  # "auto" follows LANGUAGE_ID
    assert i18n.portal_language("", "") == "ru"
    assert i18n.page_language("en", "ru", "ru") == "en"  # the viewer's frame first
    assert i18n.page_language("", "ru", "en") == "en"  # then the portal's LANGUAGE_ID
    assert i18n.page_language("", "en", "") == "en"  # then the setting
    assert i18n.page_language("", "auto", "") == "ru"


def test_times_in_the_portal_zone_and_money_in_the_local_format():
    ts = datetime(2026, 3, 1, 21, 30, tzinfo=UTC).timestamp()
    assert i18n.when(ts, "en", "Europe/Moscow", "short") == "3/2/26, 12:30\u202fAM"
    assert i18n.when(ts, "ru", "Asia/Yekaterinburg", "short") == "02.03.2026, 02:30"
    assert i18n.money("1234.5", "RUB", "ru") == "1\xa0234,50\xa0₽"
    assert i18n.money("1234.5", "USD", "en") == "$1,234.50"
    assert i18n.money("1234.5", "", "en") == "1234.5"
