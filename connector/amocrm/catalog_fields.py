"""Smart processes as amoCRM catalogs, the pure part: a SmartProcessSpec as catalog fields,
the account's answers as a SmartProcess, our values as `custom_fields_values`, elements as
Items, and FindItems' filters and order applied to them.

Sources: https://www.amocrm.ru/developers/content/crm/platform/catalogs-api (catalogs and
elements), https://www.amocrm.ru/developers/content/crm_platform/custom-fields (field
types, the types a catalog may have, value formats, enums with `code`).

The type mapping (FieldSpec.type → amoCRM field type), and why:

* text → `text`; number → `numeric` (values are decimal strings both ways).
* money → `numeric` for the amount, plus a `text` field beside it (code
  `<CODE>_CURRENCY`, title «<title>, валюта») for the ISO code: amoCRM's `monetary`
  type is the paid «Супер-поля» option and is not offered for catalogs at all (the
  custom-fields availability table). People sort and sum the amount as a number; the
  currency reads back into Money (RUB when empty). The pair is in SmartProcess.fields as
  "<code>" and "<code>:currency" (a colon never occurs in our codes).
* date → `date`, datetime → `date_time`: written RFC-3339 (midnight UTC for a date); a date
  is read back as the calendar day nearest to the timestamp (ts + 12 h, UTC), so an account
  that stores midnight in its own zone (±12 h) still gives the day written.
* choice → `select` (`multiselect` when multiple), each option an enum whose `code` is our
  key and whose value the translated label; written by `enum_id`.
* bool → `checkbox`; url → `url`.
* user → `numeric`, the user's id. amoCRM has no user field; a select of users would need
  its enums edited (by an admin) whenever someone joins or leaves, and would go stale; an
  id stays right and is what capabilities filter on.
* item_link → `url`: the item's address in amoCRM (`…/leads/detail/12`,
  `…/contacts/detail/…`, `…/companies/detail/…`, and for a catalog element our form
  `…/catalogs/<catalog id>/detail/<id>`), so people click through; read back by its path,
  whatever the host. (`linked_entity` cannot point at leads.) An element whose link names
  a lead, contact or company is also linked to that card (entity-links-api) by the adapter,
  so the card's «Списки» tab lists it; Item.parents are the linked items, the deal first.
* file → `file` (catalogs have it): a NewFile is uploaded to the Files host first and
  written as {file_uuid, version_uuid, file_name, file_size}; read back as an Attachment
  whose id is the version uuid (url "": the Files host tells it, one request per file).

Every amoCRM field holds one value except multiselect: a `multiple` field of any other type
is refused when the spec is ensured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.crm import port as p
from connector.i18n import t

AMO_TYPES = {"text": "text", "number": "numeric", "money": "numeric", "date": "date",
             "datetime": "date_time", "choice": "select", "bool": "checkbox", "url": "url",
             "user": "numeric", "item_link": "url", "file": "file"}
# an admin's catalog (`existing`): the types whose field can hold our value
COMPATIBLE = {"text": {"text", "textarea"}, "number": {"numeric", "price"},
              "money": {"numeric", "price"}, "date": {"date"}, "datetime": {"date_time"},
              "choice": {"select", "multiselect", "radiobutton"}, "bool": {"checkbox"},
              "url": {"url", "text"}, "user": {"numeric"}, "item_link": {"url", "text"},
              "file": {"file"}}
LANGS = ("ru", "en")
CURRENCY = ":currency"  # SmartProcess.fields key suffix of a money field's currency
CURRENCY_WORD = {"ru": "валюта", "en": "currency"}  # «Сумма, валюта»
ENTITY_OF = {"deal": "leads", "contact": "contacts", "company": "companies"}
KIND_OF = {v: k for k, v in ENTITY_OF.items()}
_CARD = re.compile(r"/(leads|contacts|companies)/detail/(\d+)")
_ELEMENT = re.compile(r"/catalogs/(\d+)/detail/(\d+)")


class BadValue(ValueError):
    """A value, filter or order our spec cannot take on amoCRM."""


# ------------------------------------------------------------------ spec → amoCRM
def amo_type(spec: p.FieldSpec) -> str:
    if spec.multiple and spec.type != "choice":
        raise BadValue(f"{spec.code}: amoCRM fields hold one value (only a multiselect "
                       "holds many)")
    return "multiselect" if spec.type == "choice" and spec.multiple else AMO_TYPES[spec.type]


def amo_code(code: str) -> str:
    """The field's `code` in amoCRM (custom-fields: a field may be written by its code)."""
    return code.upper()


def titles(msgid: str) -> set[str]:
    return {t(lang, msgid).strip().casefold() for lang in LANGS}


def catalog_payload(spec: p.SmartProcessSpec, lang: str) -> dict[str, Any]:
    """POST /api/v4/catalogs item (catalogs-api): a regular catalog; one element may be
    linked to many leads (a registry entry to its deal and its counterparty)."""
    return {"name": t(lang, spec.title), "type": "regular", "can_add_elements": True,
            "can_link_multiple": True}


def find_catalog(rows: Iterable[Mapping[str, Any]], spec: p.SmartProcessSpec
                 ) -> Mapping[str, Any] | None:
    """The regular catalog named as the spec (in any of our languages), the oldest one."""
    names = titles(spec.title)
    found = [r for r in rows if r.get("type", "regular") == "regular"
             and str(r.get("name") or "").strip().casefold() in names]
    return min(found, key=lambda r: int(r.get("id") or 0)) if found else None


def enum_items(choices: Iterable[tuple[str, str]], lang: str, start: int = 0
               ) -> list[dict[str, Any]]:
    return [{"value": t(lang, label), "sort": start + i + 1, "code": key}
            for i, (key, label) in enumerate(choices)]


def definitions(spec: p.FieldSpec, lang: str, sort: int) -> list[dict[str, Any]]:
    """POST /api/v4/catalogs/{id}/custom_fields items of one FieldSpec (two for money)."""
    out: dict[str, Any] = {"name": t(lang, spec.title), "type": amo_type(spec),
                           "code": amo_code(spec.code), "sort": sort,
                           "is_required": spec.required}
    if spec.type == "choice":
        out["enums"] = enum_items(spec.choices, lang)
    if spec.type != "money":
        return [out]
    return [out, currency_definition(spec, lang, sort + 1)]


def currency_title(spec: p.FieldSpec, lang: str) -> str:
    return f"{t(lang, spec.title)}, {CURRENCY_WORD.get(lang, 'currency')}"


def currency_definition(spec: p.FieldSpec, lang: str, sort: int) -> dict[str, Any]:
    return {"name": currency_title(spec, lang), "type": "text",
            "code": amo_code(spec.code) + "_CURRENCY", "sort": sort}


# ------------------------------------------------------------------ answers → SmartProcess
def match_fields(spec: p.SmartProcessSpec, rows: Iterable[Mapping[str, Any]]
                 ) -> tuple[dict[str, Mapping[str, Any]], list[str]]:
    """Which catalog field holds each of ours: by `code` (what the app made keeps it),
    else by title among fields of a type that can hold the value (an admin's catalog, or
    a field whose code someone cleared), each field taken once. Keys are our codes and
    "<code>:currency"; the second list is what is missing, in the spec's order."""
    rows = list(rows)
    found: dict[str, Mapping[str, Any]] = {}
    taken: set[int] = set()

    def pick(key: str, code: str, names: set[str], kinds: set[str]) -> None:
        row = next((r for r in rows if str(r.get("code") or "").upper() == code
                    and int(r["id"]) not in taken), None)
        if row is None:
            row = next((r for r in rows if int(r["id"]) not in taken and r.get("type") in kinds
                        and str(r.get("name") or "").strip().casefold() in names), None)
        if row is not None:
            found[key] = row
            taken.add(int(row["id"]))

    for f in spec.fields:
        pick(f.code, amo_code(f.code), titles(f.title), COMPATIBLE[f.type])
        if f.type == "money":
            names = {currency_title(f, lang).casefold() for lang in LANGS}
            pick(f.code + CURRENCY, amo_code(f.code) + "_CURRENCY", names, {"text"})
    wanted = [k for f in spec.fields for k in ([f.code, f.code + CURRENCY]
                                               if f.type == "money" else [f.code])]
    return found, [k for k in wanted if k not in found]


def option_ids(spec: p.FieldSpec, row: Mapping[str, Any]) -> dict[str, str]:
    """Our option keys → enum ids: by the enum's `code` (ours are the keys), else by its
    value (an admin's list, in any of our languages)."""
    enums = [e for e in row.get("enums") or [] if isinstance(e, dict)]
    out = {}
    for key, label in spec.choices:
        names = titles(label)
        e = next((e for e in enums if str(e.get("code") or "") == key), None) or next(
            (e for e in enums if str(e.get("value") or "").strip().casefold() in names), None)
        if e is not None:
            out[key] = str(e["id"])
    return out


def smart_process(spec: p.SmartProcessSpec, catalog: Mapping[str, Any],
                  found: Mapping[str, Mapping[str, Any]]) -> p.SmartProcess:
    cid = int(catalog["id"])
    options = {f.code: option_ids(f, found[f.code]) for f in spec.fields
               if f.type == "choice" and f.code in found}
    return p.SmartProcess(cid, f"item:{cid}", str(catalog.get("name") or ""), spec,
                          {key: str(row["id"]) for key, row in found.items()}, options)








# ------------------------------------------------------------------ item links
def item_url(domain: str, ref: p.ItemRef) -> str:
    """The address people open for an item (see the module's notes)."""
    if ref.kind in ENTITY_OF:
        return f"https://{domain}/{ENTITY_OF[ref.kind]}/detail/{ref.id}"
    if ref.kind.startswith("item:"):
        return f"https://{domain}/catalogs/{ref.kind[5:]}/detail/{ref.id}"
    raise BadValue(f"{ref.kind}: not an amoCRM item")


def parse_ref(text: Any) -> p.ItemRef | None:
    s = str(text or "")
    if m := _CARD.search(s):
        return p.ItemRef(KIND_OF[m.group(1)], int(m.group(2)))
    if m := _ELEMENT.search(s):
        return p.ItemRef(f"item:{m.group(1)}", int(m.group(2)))
    return None


# ------------------------------------------------------------------ values out
def decimal(value: Any, code: str) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", ".").replace(" ", "").strip())
    except InvalidOperation:
        raise BadValue(f"{code}: {value!r} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{code}: {value!r} is not a number")
    return number


def _day(value: Any, code: str) -> date:
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BadValue(f"{code}: {value!r} is not a date") from None


def _moment(value: Any, code: str) -> datetime:
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise BadValue(f"{code}: {value!r} is not a date and time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _one_out(process: p.SmartProcess, spec: p.FieldSpec, value: Any, domain: str,
             files: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    kind = spec.type
    if kind in ("text", "url"):
        return {"value": str(value)}
    if kind == "number":
        return {"value": str(decimal(value, spec.code))}
    if kind == "money":
        if not isinstance(value, p.Money):
            raise BadValue(f"{spec.code}: money is a Money(amount, currency)")
        return {"value": str(decimal(value.amount, spec.code))}
    if kind == "date":
        return {"value": f"{_day(value, spec.code).isoformat()}T00:00:00+00:00"}
    if kind == "datetime":
        return {"value": _moment(value, spec.code).isoformat()}
    if kind == "choice":
        ids = process.options.get(spec.code, {})
        if str(value) not in ids:
            raise BadValue(f"{spec.code}: {value!r} is not one of {', '.join(ids)}")
        return {"enum_id": int(ids[str(value)])}
    if kind == "bool":
        return {"value": bool(value)}
    if kind == "user":
        if not str(value).isdigit():
            raise BadValue(f"{spec.code}: {value!r} is not a user id")
        return {"value": str(int(value))}
    if kind == "item_link":
        if not isinstance(value, p.ItemRef):
            raise BadValue(f"{spec.code}: an item link is an ItemRef")
        return {"value": item_url(domain, value)}
    if not isinstance(value, p.NewFile) or id(value) not in files:  # file
        raise BadValue(f"{spec.code}: a file is a NewFile(name, content)")
    model = files[id(value)]  # custom-fields "file": the Files host's file model
    return {"value": {"file_uuid": model["uuid"], "version_uuid": model.get("version_uuid"),
                      "file_name": value.name, "file_size": len(value.content)}}


def _field_id(process: p.SmartProcess, key: str) -> int:
    if key not in process.fields:
        raise BadValue(f"{key}: the smart process {process.title!r} has no such field")
    return int(process.fields[key])


def element_payload(process: p.SmartProcess, values: Mapping[str, Any], domain: str,
                    files: Mapping[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """An element's `name` (from "title") and `custom_fields_values` for our values; None,
    "" or [] clears a field (`values: null`, custom-fields). `files` are the Files host's
    models of the NewFile values, by id() of the value (the adapter uploads them first)."""
    out: dict[str, Any] = {}
    cfv: list[dict[str, Any]] = []
    for code, value in values.items():
        if code == "title":
            out["name"] = str(value)
            continue
        spec = process.spec.field(code) if code in {f.code for f in process.spec.fields} \
            else None
        if spec is None:
            raise BadValue(f"{code}: the smart process {process.title!r} has no such field")
        fid = _field_id(process, code)
        many = value if spec.multiple and isinstance(value, list | tuple) else [value]
        empty = value is None or value == "" or (spec.multiple and not many)
        cfv.append({"field_id": fid, "values": None if empty else [
            _one_out(process, spec, v, domain, files or {}) for v in many]})
        if spec.type == "money":
            cur = _field_id(process, code + CURRENCY)
            cfv.append({"field_id": cur, "values": None if empty else [
                {"value": value.currency.upper() or "RUB"}]})
    if cfv:
        out["custom_fields_values"] = cfv
    return out


def links_of(process: p.SmartProcess, values: Mapping[str, Any]) -> list[p.ItemRef]:
    """The cards (leads, contacts, companies) our item_link values name."""
    out = []
    for f in process.spec.fields:
        v = values.get(f.code)
        if f.type == "item_link" and isinstance(v, p.ItemRef) and v.kind in ENTITY_OF \
                and v not in out:
            out.append(v)
    return out


# ------------------------------------------------------------------ elements → Items
def _ts(raw: Any) -> int | None:
    if isinstance(raw, bool) or raw in (None, ""):
        return None
    if isinstance(raw, int | float) or str(raw).lstrip("-").isdigit():
        return int(raw)
    return int(datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp())


def _one_in(process: p.SmartProcess, spec: p.FieldSpec, v: Mapping[str, Any]) -> Any:
    raw = v.get("value")
    kind = spec.type
    if kind == "choice":
        keys = {i: k for k, i in process.options.get(spec.code, {}).items()}
        if v.get("enum_id") is not None and str(v["enum_id"]) in keys:
            return keys[str(v["enum_id"])]
        return str(v.get("enum_code") or raw or "") or None
    if raw in (None, ""):
        return None
    if kind in ("text", "url"):
        return str(raw)
    if kind in ("number", "money"):
        return str(decimal(raw, spec.code))
    if kind == "date":
        ts = _ts(raw)
        return (datetime.fromtimestamp(ts, UTC) + timedelta(hours=12)).date().isoformat() \
            if ts is not None else None
    if kind == "datetime":
        ts = _ts(raw)
        return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None
    if kind == "bool":
        return bool(raw)
    if kind == "user":
        return int(decimal(raw, spec.code))
    if kind == "item_link":
        return parse_ref(raw)
    if isinstance(raw, dict) and raw.get("file_uuid"):  # file
        return p.Attachment(spec.code, str(raw.get("version_uuid") or raw["file_uuid"]), "")
    return None


def element_values(process: p.SmartProcess, row: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of ours from an element (None / [] when empty)."""
    by_id = {str(cf.get("field_id")): cf.get("values") or []
             for cf in row.get("custom_fields_values") or [] if isinstance(cf, dict)}
    out: dict[str, Any] = {}
    for f in process.spec.fields:
        got = [x for x in (_one_in(process, f, v) for v in by_id.get(
            process.fields.get(f.code, ""), []) if isinstance(v, dict)) if x is not None]
        if f.type == "money" and got:
            cur = by_id.get(process.fields.get(f.code + CURRENCY, ""), [])
            currency = str((cur[0] or {}).get("value") or "") if cur else ""
            got = [p.Money(got[0], currency.upper() or "RUB")]
        if f.type == "bool" and not got and f.code in process.fields:
            got = [False] if process.fields[f.code] in by_id else []
        out[f.code] = got if f.multiple else (got[0] if got else None)
    return out


def element_item(process: p.SmartProcess, row: Mapping[str, Any]) -> p.Item:
    values = element_values(process, row)
    parents = sorted({v for f in process.spec.fields if f.type == "item_link"
                      for v in [values.get(f.code)] if isinstance(v, p.ItemRef)},
                     key=lambda r: (r.kind != "deal", r.kind, r.id))
    created = _ts(row.get("created_at"))
    fields = {str(cf.get("field_id")): cf.get("values")
              for cf in row.get("custom_fields_values") or [] if isinstance(cf, dict)}
    return p.Item(p.ItemRef(process.kind, int(row["id"])), str(row.get("name") or ""),
                  created_by=int(row.get("created_by") or 0),
                  created_at=datetime.fromtimestamp(created, UTC).isoformat()
                  if created is not None else "", fields=fields, values=values,
                  parents=parents)


# ------------------------------------------------------------------ FindItems
SYSTEM = ("id", "title")


def _spec_of(process: p.SmartProcess, code: str) -> p.FieldSpec | None:
    if code in SYSTEM:
        return None
    if code not in {f.code for f in process.spec.fields} or code not in process.fields:
        raise BadValue(f"{code}: the smart process {process.title!r} has no such field")
    return process.spec.field(code)


def _norm(spec: p.FieldSpec | None, code: str, value: Any) -> Any:
    """A value in the form comparisons take: Decimal numbers and amounts, ISO dates,
    ItemRefs, int ids, casefolded text."""
    if value is None:
        return None
    kind = spec.type if spec else ("number" if code == "id" else "text")
    if kind in ("number", "money"):
        return decimal(value.amount if isinstance(value, p.Money) else value, code)
    if kind == "user":
        return int(decimal(value, code))
    if kind == "date":
        return _day(value, code).isoformat()
    if kind == "datetime":
        return _moment(value, code)
    if kind == "bool":
        return bool(value)
    if kind == "item_link":
        return value if isinstance(value, p.ItemRef) else parse_ref(value)
    if kind == "file":
        return getattr(value, "id", value)
    return str(value).casefold()


def _left(item: p.Item, code: str) -> Any:
    if code == "id":
        return item.ref.id
    if code == "title":
        return item.title
    return item.values.get(code)


def holds(process: p.SmartProcess, item: p.Item, condition: tuple[str, str, Any]) -> bool:
    code, op, value = condition
    spec = _spec_of(process, code)
    raw = _left(item, code)
    lefts = [_norm(spec, code, v) for v in (raw if isinstance(raw, list) else [raw])
             if v is not None]
    if op == "in":
        wanted = {_norm(spec, code, v) for v in value}
        return any(v in wanted for v in lefts)
    if op == "contains":
        needle = str(value).casefold()
        return any(needle in str(v).casefold() for v in lefts)
    right = _norm(spec, code, value)
    if op == "=":
        return right in lefts if right is not None else not lefts
    if op == "!=":
        return right not in lefts if right is not None else bool(lefts)
    compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
               ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]
    try:
        return any(compare(v, right) for v in lefts)
    except TypeError:
        return False


def check(process: p.SmartProcess, conditions: Iterable[tuple[str, str, Any]],
          order: Iterable[tuple[str, str]]) -> None:
    """BadValue for a filter or order the port does not allow (before anything is read)."""
    for code, op, value in conditions:
        if op not in p.FILTER_OPS:
            raise BadValue(f"{code}: the filter operation {op!r} is not one of "
                           f"{', '.join(p.FILTER_OPS)}")
        _spec_of(process, code)
        if op == "in" and not isinstance(value, list | tuple | set | frozenset):
            raise BadValue(f"{code}: 'in' takes a list")
    for code, direction in order:
        if str(direction).lower() not in ("asc", "desc"):
            raise BadValue(f"{code}: order is 'asc' or 'desc', not {direction!r}")
        _spec_of(process, code)


def pushed(process: p.SmartProcess, conditions: Iterable[tuple[str, str, Any]]
           ) -> dict[str, Any]:
    """What the elements list can narrow for us (catalogs-api: `filter[id]`, `query`):
    ids by "=" / "in", and one text field's exact value as the search `query` (the docs
    only say the search runs over the filled fields: every condition is checked again
    over what comes back)."""
    out: dict[str, Any] = {}
    ids: set[int] | None = None
    for code, op, value in conditions:
        if code == "id" and op in ("=", "in"):
            given = {int(v) for v in (value if op == "in" else [value])}
            ids = given if ids is None else ids & given
        elif "query" not in out and op == "=" and isinstance(value, str) and value.strip() \
                and (code == "title" or (_spec_of(process, code) or p.FieldSpec(
                    "x", "x", "number")).type == "text"):
            out["query"] = value
    if ids is not None:
        out["filter[id][]"] = sorted(ids) or [0]
    return out


def _sortable(v: Any) -> Any:
    return (v.kind, v.id) if isinstance(v, p.ItemRef) else v


def arrange(process: p.SmartProcess, items: list[p.Item], order: Iterable[tuple[str, str]]
            ) -> list[p.Item]:
    """Ordered by (code, direction) pairs, empty values last; newest first when none."""
    keys = list(order) or [("id", "desc")]
    rows = sorted(items, key=lambda i: i.ref.id)
    for code, direction in reversed(keys):
        spec = _spec_of(process, code)

        def key(i: p.Item, code: str = code, spec: p.FieldSpec | None = spec) -> Any:
            v = _left(i, code)
            v = v[0] if isinstance(v, list) and v else (None if isinstance(v, list) else v)
            return _norm(spec, code, v)
        filled = [i for i in rows if key(i) is not None]
        empty = [i for i in rows if key(i) is None]
        filled.sort(key=lambda i, key=key: _sortable(key(i)),
                    reverse=str(direction).lower() == "desc")
        rows = filled + empty
    return rows
