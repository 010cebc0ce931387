"""Smart processes on Bitrix24, the pure part: a SmartProcessSpec as crm.type.add and
userfieldconfig.add fields, the portal's answers as a SmartProcess, and our field values as
crm.item.* writes them, filters on them, and reads them back.

How the app knows a type it made before: by `code`. The docs list it among a type's fields
(api-reference/crm/universal/data-types.md#type: "Символьный код"; crm-type-fields.md shows
it writable), and crm.type.add is sent with it; crm-type-add.md's own parameter table does not
name it, so a portal that drops it is met too: then the entity type id the app remembered
from creating it, if that type still has the spec's title. Its fields are ours by name:
``UF_CRM_<type id>_<CODE>`` (userfieldconfig-add.md: ``UF_<entityId>_<POSTFIX>``), the
field's xmlId holds our code as well. On an admin's own smart process (`existing`), fields
are matched by title, among those of a type that can hold the value.

Items are read and written with ``useOriginalUfNames=Y`` (crm-item-add.md), so the names
are the fields' own ``UF_CRM_…`` and never depend on the camelCase rule.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.bitrix.kinds import crm_binding, parse_binding
from connector.crm import port as p
from connector.i18n import t

# neutral type → userfieldconfig userTypeId (userfieldconfig-get-types.md)
USER_TYPES = {"text": "string", "number": "double", "money": "money", "date": "date",
              "datetime": "datetime", "choice": "enumeration", "bool": "boolean",
              "url": "url", "user": "employee", "item_link": "crm", "file": "file"}
# the types an admin's field may have to hold our value (a number in an integer field, …)
COMPATIBLE = {"text": {"string"}, "number": {"double", "integer"}, "money": {"money"},
              "date": {"date"}, "datetime": {"datetime"}, "choice": {"enumeration"},
              "bool": {"boolean"}, "url": {"url", "string"}, "user": {"employee"},
              "item_link": {"crm"}, "file": {"file"}}
# a binding field may point at the classic objects (userfieldconfig-add.md, settings of crm)
LINKABLE = {"LEAD": "Y", "DEAL": "Y", "CONTACT": "Y", "COMPANY": "Y"}
LANGS = ("ru", "en")
OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "contains": "%",
       "in": "@"}
SYSTEM = {"id": "id", "title": "title"}


class BadValue(ValueError):
    """A value our spec cannot write (a choice not among its options, a number that is not)."""


# ------------------------------------------------------------------ spec → Bitrix24
def labels(msgid: str) -> dict[str, str]:
    """A lang_map of a msgid (userfieldconfig-add.md: editFormLabel by language)."""
    return {lang: t(lang, msgid) for lang in LANGS}


def type_fields(spec: p.SmartProcessSpec, lang: str) -> dict[str, Any]:
    """crm.type.add `fields` (crm-type-add.md): the title and our code; every switch is left
    at its documented default."""
    return {"title": t(lang, spec.title), "code": spec.code}


def field_name(type_ordinal: int | str, code: str) -> str:
    """UF_CRM_<id>_<CODE>: id is the type's `id`, not its entityTypeId (userfieldconfig/
    index.md: entityId CRM_<id>)."""
    return f"UF_CRM_{type_ordinal}_{code.upper()}"


def enum_items(choices: Iterable[tuple[str, str]], lang: str, start: int = 0
               ) -> list[dict[str, Any]]:
    """uf_enum_element[] (userfieldconfig-add.md): the label shown, our key as xmlId."""
    return [{"value": t(lang, label), "xmlId": key, "sort": 100 * (start + i + 1), "def": "N"}
            for i, (key, label) in enumerate(choices)]


def field_definition(type_ordinal: int | str, spec: p.FieldSpec, lang: str) -> dict[str, Any]:
    """userfieldconfig.add `field` (userfieldconfig-add.md) of one FieldSpec; the type's id
    may be a batch reference to a type made in the same request."""
    out: dict[str, Any] = {
        "entityId": f"CRM_{type_ordinal}", "fieldName": field_name(type_ordinal, spec.code),
        "userTypeId": USER_TYPES[spec.type], "xmlId": spec.code,
        "multiple": "Y" if spec.multiple else "N",
        "mandatory": "Y" if spec.required else "N", "showFilter": "Y",
        "editFormLabel": labels(spec.title)}
    if spec.type == "choice":
        out["enum"] = enum_items(spec.choices, lang)
    if spec.type == "item_link":
        out["settings"] = dict(LINKABLE)
    return out


# ------------------------------------------------------------------ answers → SmartProcess
def _titles(spec_title: str) -> set[str]:
    return {t(lang, spec_title).strip().lower() for lang in LANGS}


def find_type(types: Iterable[Mapping[str, Any]], spec: p.SmartProcessSpec,
              remembered: int = 0, existing: int = 0) -> Mapping[str, Any] | None:
    """The crm.type.list row that is `spec`'s smart process, or None (see the module doc)."""
    rows = list(types)
    if existing:
        return next((r for r in rows if int(r.get("entityTypeId") or 0) == existing), None)
    by_code = [r for r in rows if str(r.get("code") or "") == spec.code]
    if by_code:
        return min(by_code, key=lambda r: int(r.get("id") or 0))
    if remembered:
        return next((r for r in rows if int(r.get("entityTypeId") or 0) == remembered
                     and str(r.get("title") or "").strip().lower() in _titles(spec.title)),
                    None)
    return None


def _field_titles(row: Mapping[str, Any]) -> set[str]:
    out = set()
    for key in ("editFormLabel", "listColumnLabel", "listFilterLabel"):
        value = row.get(key)
        for text in (value.values() if isinstance(value, dict) else [value]):
            if text:
                out.add(str(text).strip().lower())
    return out


def match_fields(type_ordinal: int, spec: p.SmartProcessSpec,
                 rows: Iterable[Mapping[str, Any]], by_title: bool
                 ) -> tuple[dict[str, Mapping[str, Any]], list[p.FieldSpec]]:
    """Which userfieldconfig.list row holds each of our fields, and the fields missing.

    Ours by name first; with `by_title` (an admin's smart process) a field of a compatible
    type whose label is the field's title, each row taken once."""
    rows = [r for r in rows if str(r.get("entityId")) == f"CRM_{type_ordinal}"]
    found: dict[str, Mapping[str, Any]] = {}
    taken: set[str] = set()
    for spec_field in spec.fields:
        name = field_name(type_ordinal, spec_field.code)
        row = next((r for r in rows if r.get("fieldName") == name), None)
        if row is None and by_title:
            row = next((r for r in rows if r.get("fieldName") not in taken
                        and r.get("userTypeId") in COMPATIBLE[spec_field.type]
                        and _titles(spec_field.title) & _field_titles(r)), None)
        if row is not None:
            found[spec_field.code] = row
            taken.add(str(row.get("fieldName")))
    return found, [f for f in spec.fields if f.code not in found]


def option_ids(spec_field: p.FieldSpec, row: Mapping[str, Any]) -> dict[str, str]:
    """Our option keys → the field's enum item ids: by xmlId (ours are the keys), else by
    the label (an admin's list)."""
    items = [i for i in row.get("enum") or [] if isinstance(i, dict)]
    out = {}
    for key, label in spec_field.choices:
        texts = _titles(label)
        item = next((i for i in items if str(i.get("xmlId")) == key), None) or next(
            (i for i in items if str(i.get("value") or "").strip().lower() in texts), None)
        if item is not None:
            out[key] = str(item.get("id"))
    return out


def smart_process(spec: p.SmartProcessSpec, type_row: Mapping[str, Any],
                  fields: Mapping[str, Mapping[str, Any]]) -> p.SmartProcess:
    """The SmartProcess of a crm.type row and the userfieldconfig rows of our fields."""
    etid = int(type_row["entityTypeId"])
    options = {f.code: option_ids(f, fields[f.code]) for f in spec.fields
               if f.type == "choice" and f.code in fields}
    return p.SmartProcess(etid, f"item:{etid}", str(type_row.get("title") or ""), spec,
                          {code: str(row["fieldName"]) for code, row in fields.items()},
                          options)


def already_exists(text: str) -> bool:
    """userfieldconfig-add.md: "Поле … уже существует" (empty code) for a taken name."""
    return "уже существует" in text or "already exists" in text.lower()








# ------------------------------------------------------------------ values
def _decimal(value: Any, code: str) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", ".").strip())
    except InvalidOperation:
        raise BadValue(f"{code}: {value!r} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{code}: {value!r} is not a number")
    return number


def _one_out(process: p.SmartProcess, spec: p.FieldSpec, value: Any) -> Any:
    kind = spec.type
    if kind in ("text", "url"):
        return str(value)
    if kind == "number":
        return str(_decimal(value, spec.code))
    if kind == "money":
        if not isinstance(value, p.Money):
            raise BadValue(f"{spec.code}: money is a Money(amount, currency)")
        return f"{_decimal(value.amount, spec.code)}|{value.currency.upper()}"
    if kind == "date":
        text = value.isoformat() if isinstance(value, date) else str(value)
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise BadValue(f"{spec.code}: {value!r} is not a date") from None
    if kind == "datetime":
        try:
            when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise BadValue(f"{spec.code}: {value!r} is not a date and time") from None
        return when.isoformat()
    if kind == "choice":
        ids = process.options.get(spec.code, {})
        if str(value) not in ids:
            raise BadValue(f"{spec.code}: {value!r} is not one of {', '.join(ids)}")
        return int(ids[str(value)])
    if kind == "bool":
        return "Y" if value else "N"
    if kind == "user":
        if not str(value).isdigit():
            raise BadValue(f"{spec.code}: {value!r} is not a user id")
        return int(value)
    if kind == "item_link":
        if not isinstance(value, p.ItemRef):
            raise BadValue(f"{spec.code}: an item link is an ItemRef")
        return crm_binding(value)
    if not isinstance(value, p.NewFile):  # file
        raise BadValue(f"{spec.code}: a file is a NewFile(name, content)")
    # crm-item-add.md: [name, base64 content]
    return [value.name, base64.b64encode(value.content).decode()]


def value_out(process: p.SmartProcess, spec: p.FieldSpec, value: Any) -> Any:
    """Our value as crm.item.add/update take it; None or [] clears the field."""
    if value is None:
        return [] if spec.multiple else ""
    if spec.multiple:
        values = value if isinstance(value, list | tuple) else [value]
        return [_one_out(process, spec, v) for v in values]
    return _one_out(process, spec, value)


def _field(process: p.SmartProcess, code: str) -> tuple[p.FieldSpec, str]:
    """Our field `code` and the CRM's name for it."""
    if code not in process.fields:
        raise BadValue(f"{code}: the smart process {process.title!r} has no such field")
    return process.spec.field(code), process.fields[code]


def item_fields(process: p.SmartProcess, values: Mapping[str, Any]) -> dict[str, Any]:
    """crm.item.add/update `fields` of our values by code ("title" is the item's title)."""
    out: dict[str, Any] = {}
    for code, value in values.items():
        if code == "title":
            out["title"] = str(value)
            continue
        spec, name = _field(process, code)
        out[name] = value_out(process, spec, value)
    return out


def _one_in(process: p.SmartProcess, spec: p.FieldSpec, raw: Any) -> Any:
    kind = spec.type
    if kind in ("text", "url"):
        return str(raw)
    if kind == "number":
        return str(_decimal(raw, spec.code)) if str(raw).strip() else None
    if kind == "money":  # crm-item-add.md: "300|RUB"
        amount, _, currency = str(raw).partition("|")
        return p.Money(amount, currency) if amount else None
    if kind == "date":
        return str(raw)[:10]
    if kind == "datetime":
        return str(raw)
    if kind == "choice":
        keys = {v: k for k, v in process.options.get(spec.code, {}).items()}
        return keys.get(str(raw), str(raw))
    if kind == "bool":
        return str(raw).upper() in ("Y", "1", "TRUE")
    if kind == "user":
        return int(raw) if str(raw).isdigit() else None
    if kind == "item_link":
        return parse_binding(raw)
    if isinstance(raw, dict) and raw.get("id"):  # file, object-fields.md: {id, url, urlMachine}
        return p.Attachment(spec.code, str(raw["id"]), str(raw.get("urlMachine")
                                                          or raw.get("url") or ""))
    return None


def value_in(process: p.SmartProcess, spec: p.FieldSpec, raw: Any) -> Any:
    """A crm.item value of one of our fields, in our terms (None / [] when empty)."""
    values = raw if isinstance(raw, list) else ([] if raw in (None, "", False) else [raw])
    if spec.type == "bool" and not spec.multiple:
        return _one_in(process, spec, raw) if raw not in (None, "") else None
    out = [v for v in (_one_in(process, spec, r) for r in values if r not in (None, ""))
           if v is not None]
    if spec.multiple:
        return out
    return out[0] if out else None


def item_values(process: p.SmartProcess, row: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of ours from a crm.item row (read with original names)."""
    return {code: value_in(process, process.spec.field(code), row.get(name))
            for code, name in process.fields.items()}


def _filter_value(process: p.SmartProcess, spec: p.FieldSpec | None, value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return [_filter_value(process, spec, v) for v in value]
    if spec is None:
        return value
    if spec.type == "bool":  # crm-item-list.md: booleans are filtered by 1 / 0, never Y / N
        return 1 if value else 0
    return _one_out(process, spec, value)


def list_filter(process: p.SmartProcess, conditions: Iterable[tuple[str, str, Any]]
                ) -> dict[str, Any]:
    """crm.item.list `filter` (crm-item-list.md prefixes) of our (code, op, value) triples."""
    out: dict[str, Any] = {}
    for code, op, value in conditions:
        if op not in OPS:
            raise BadValue(f"{code}: the filter operation {op!r} is not one of "
                           f"{', '.join(OPS)}")
        spec: p.FieldSpec | None = None
        if code in SYSTEM:
            name = SYSTEM[code]
        else:
            spec, name = _field(process, code)
        if op == "in" and not isinstance(value, list | tuple | set):
            raise BadValue(f"{code}: 'in' takes a list")
        out[f"{OPS[op]}{name}"] = _filter_value(process, spec, value)
    return out


def list_order(process: p.SmartProcess, order: Iterable[tuple[str, str]]) -> dict[str, str]:
    out = {}
    for code, direction in order:
        if direction.lower() not in ("asc", "desc"):
            raise BadValue(f"{code}: order is 'asc' or 'desc', not {direction!r}")
        name = SYSTEM.get(code) or process.fields.get(code)
        if name is None:
            raise BadValue(f"{code}: the smart process {process.title!r} has no such field")
        out[name] = direction.upper()
    return out or {"id": "DESC"}
