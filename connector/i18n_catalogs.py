"""The gettext catalogs' upkeep: extract msgids, update the Russian .po, compile the .mo.

`./dev i18n` runs main(); tests/unit/test_i18n.py calls the same functions, so the keywords
and the source mapping (babel.cfg) are declared once. The compiled .mo is committed (see
docs/decisions.md): a clean clone and an installed wheel read it without a build step.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import sys
from pathlib import Path

from babel.messages import frontend
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from connector.i18n import CATALOGS, DOMAIN

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "babel.cfg"
POT = CATALOGS / f"{DOMAIN}.pot"
TRANSLATED = ("ru",)
# N_("…") and NP_("one", "many") mark; t(lang, "…"), nt(lang, "one", "many", n) render;
# the rest are gettext's own
KEYWORDS = frontend.parse_keywords(
    ["N_", "NP_:1,2", "t:2", "nt:2,3", "gettext", "ngettext:1,2", "_", "lazy_gettext"])


def po_path(lang: str) -> Path:
    return CATALOGS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def extract() -> Catalog:
    """Every msgid marked in the code and the page templates, with where it is used."""
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with MAPPING.open() as fh:
        method_map, options_map = parse(fh, str(MAPPING))
    template = Catalog(project="crm-connector", version="0", domain=DOMAIN, charset="utf-8",
                       copyright_holder="crm-connector", msgid_bugs_address="", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


def read(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="crm-connector")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def read_compiled(lang: str) -> Catalog:
    with mo_path(lang).open("rb") as fh:
        return read_mo(fh)


def _write(path: Path, catalog: Catalog, writer: object, **kwargs: object) -> None:
    buf = io.BytesIO()
    writer(buf, catalog, **kwargs)  # type: ignore[operator]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != buf.getvalue():
        path.write_bytes(buf.getvalue())


def needs_translation(msg: Message) -> bool:
    """A reader would see it in English: no translation, or only a fuzzy guess."""
    strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
    return msg.fuzzy or not all(strings)


def untranslated(catalog: Catalog) -> list[str]:
    return [msg.id if isinstance(msg.id, str) else msg.id[0]
            for msg in catalog if msg.id and needs_translation(msg)]


def _same_messages(a: Catalog, b: Catalog) -> bool:
    def rows(c: Catalog) -> list[tuple[object, ...]]:
        return sorted((repr(m.id), m.context or "", tuple(m.locations)) for m in c if m.id)
    return rows(a) == rows(b)


def add_translations(catalog: Catalog, path: Path) -> int:
    """Russian strings from a JSON file {msgid: text} (a plural: {singular: [forms…]});
    msgids not in the catalog are ignored. How many were filled."""
    filled = 0
    for msgid, text in json.loads(path.read_text(encoding="utf-8")).items():
        msg = catalog.get(msgid)
        if msg is None or not text:
            continue
        msg.string = tuple(text) if isinstance(text, list) else text
        msg.flags.discard("fuzzy")
        filled += 1
    return filled


def main(argv: list[str] | None = None) -> int:
    """Extract → messages.pot → update each .po (`--add FILE.json`: with these Russian
    strings) → compile each .mo; list what is missing. One run at a time (a file lock):
    several people adding strings in one work tree do not overwrite each other."""
    parser = argparse.ArgumentParser(prog="./dev i18n")
    parser.add_argument("--add", type=Path, action="append", default=[],
                        help="a JSON file {msgid: Russian text} to fill in")
    args = parser.parse_args(argv)
    CATALOGS.mkdir(parents=True, exist_ok=True)
    with (CATALOGS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update(args.add)


def _update(additions: list[Path]) -> int:
    template = extract()
    if POT.exists():  # unchanged sources keep the dates, so the files do not churn
        with POT.open("rb") as fh:
            old = read_po(fh)
        if _same_messages(old, template):
            template.creation_date = old.creation_date
    _write(POT, template, write_po, width=100, omit_header=False, sort_output=True)
    missing = 0
    for lang in TRANSLATED:
        catalog = read(lang)
        catalog.update(template, update_header_comment=False)
        for path in additions:
            print(f"{lang}: {add_translations(catalog, path)} strings from {path}")
        catalog.fuzzy = False  # the header: the catalog is reviewed, entry by entry
        catalog.project, catalog.version = "crm-connector", "0"
        catalog.last_translator = catalog.language_team = "crm-connector"
        _write(po_path(lang), catalog, write_po, width=100, sort_output=True,
               ignore_obsolete=True)
        _write(mo_path(lang), catalog, write_mo, use_fuzzy=False)
        gaps = untranslated(catalog)
        missing += len(gaps)
        print(f"{lang}: {len(template)} msgids, {len(gaps)} to translate")
        for msgid in gaps:
            print(f"  {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
