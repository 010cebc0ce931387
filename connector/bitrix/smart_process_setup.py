"""Making a capability's smart process exist on a Bitrix24 portal, once.

The decisions are smart_processes' (pure); this module does the requests: the portal's types
(and, when the app remembers which is its own, that type's fields) in one batch; when the type
is missing, crm.type.add, then every userfieldconfig.add in one batch; else the missing fields
and options in one batch. (The fields cannot ride in crm.type.add's batch: their names hold
the new id in the middle, and the server's reference pattern takes everything up to the next
blank as the reference, CRestUtil::processBatchElement.) A field someone made meanwhile
("Поле … уже существует", userfieldconfig-add.md) is success: the fields are read again.

The result is remembered per portal: what was made for this very spec (its digest) for
READY_S, so that jobs ask nothing while it holds and a deleted smart process is noticed
after that; the entity type id for good, to recognise the type again on a portal that
dropped our `code`. All of it under one per-portal lock (connector.once).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

from connector.bitrix import smart_processes as spa
from connector.bitrix.errors import BitrixError
from connector.crm import port as p

if TYPE_CHECKING:
    from connector.bitrix.adapter import BitrixCrm

READY_S = 600
REMEMBER_S = 400 * 24 * 3600


def _key(crm: BitrixCrm, *parts: Any) -> str:
    return ":".join([crm.prefix, "crm", crm.tenant.key, *map(str, parts)])


def ensure(crm: BitrixCrm, spec: p.SmartProcessSpec, existing: int = 0, lang: str = "ru"
           ) -> p.SmartProcess:
    if crm.redis is None:
        raise TypeError("ensure_smart_process needs the adapter's Redis (its lock and memory)")
    return p.made_once(crm.redis, _key(crm, "spa", spec.code, "ready"),
                       _key(crm, "lock", "smart-process"), spec, existing, lang,
                       lambda: _reconcile(crm, spec, existing, lang), READY_S)


def _remembered(crm: BitrixCrm, code: str) -> dict[str, Any]:
    raw = crm.redis.get(_key(crm, "spa", code, "type"))
    return json.loads(raw) if raw else {}


def _remember(crm: BitrixCrm, code: str, row: dict[str, Any]) -> None:
    crm.redis.set(_key(crm, "spa", code, "type"), json.dumps(
        {"entity_type_id": int(row["entityTypeId"]), "id": int(row["id"])}), ex=REMEMBER_S)


def _fields_cmd(ordinal: Any) -> tuple[str, dict[str, Any]]:
    return "userfieldconfig.list", {"moduleId": "crm", "filter": {"entityId": f"CRM_{ordinal}"}}


def _types(crm: BitrixCrm, first: Any, more: bool) -> list[dict[str, Any]]:
    rows = list((first or {}).get("types") or [])
    if more:  # more than 50 smart processes: the rest page by page
        rows += [r for r in crm.rest.list_all("crm.type.list", {"order": {"id": "ASC"}},
                                              "types")][len(rows):]
    return rows


def _more(res: Any) -> bool:
    """Whether crm.type.list has a page after the first (50 types)."""
    return "types" in res.next or int(res.total.get("types") or 0) > 50


def _raise(err: BitrixError, what: str) -> NoReturn:
    from connector.bitrix.adapter import neutral

    raise neutral(err, what) from err


def _reconcile(crm: BitrixCrm, spec: p.SmartProcessSpec, existing: int, lang: str
               ) -> p.SmartProcess:
    known = {} if existing else _remembered(crm, spec.code)
    cmds: dict[str, Any] = {"types": ("crm.type.list", {"order": {"id": "ASC"}})}
    if known.get("id"):
        cmds["fields"] = _fields_cmd(known["id"])
    res = crm._send(cmds)  # the adapter's sender: one command as a plain call, more batched
    if "types" in res.errors:
        _raise(res.errors["types"], "smart processes")
    types = _types(crm, res.result.get("types"), _more(res))
    row = spa.find_type(types, spec, int(known.get("entity_type_id") or 0), existing)
    if row is None and existing:
        raise p.NotFound(f"smart process {existing}", "the portal has no such smart process")
    if row is None:
        row, fields = _create(crm, spec, lang)
    else:
        fields = res.result.get("fields") if str(known.get("id")) == str(row["id"]) else None
        if fields is None or "fields" in res.errors or int(res.total.get("fields") or 0) > 50:
            fields = _list_fields(crm, row["id"])
        else:
            fields = list(fields.get("fields") or [])
        fields = _complete(crm, spec, row, fields, lang, by_title=bool(existing))
    if not existing:
        _remember(crm, spec.code, row)
    found, missing = spa.match_fields(int(row["id"]), spec, fields, by_title=bool(existing))
    if missing:
        raise p.CrmPermanent(f"smart process {row['title']}", "fields could not be made: "
                             + ", ".join(f.code for f in missing))
    process = spa.smart_process(spec, row, found)
    if gaps := process.missing_options():
        raise p.CrmPermanent(f"smart process {row['title']}",
                             "options could not be made: " + ", ".join(gaps))
    return process


def _list_fields(crm: BitrixCrm, ordinal: Any) -> list[dict[str, Any]]:
    method, params = _fields_cmd(ordinal)
    try:
        return list(crm.rest.list_all(method, params, "fields"))
    except BitrixError as exc:
        _raise(exc, "smart process fields")


def _create(crm: BitrixCrm, spec: p.SmartProcessSpec, lang: str
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """crm.type.add (crm-type-add.md: {"type": …}), then its fields in one batch."""
    try:
        made = crm.rest.call("crm.type.add", {"fields": spa.type_fields(spec, lang)})
    except BitrixError as exc:
        _raise(exc, f"smart process {spec.code}")
    row = dict((made or {}).get("type") or {})
    if not row.get("id"):
        raise p.CrmPermanent(f"smart process {spec.code}", "crm.type.add answered no type")
    return row, _complete(crm, spec, row, [], lang, by_title=False)


def _complete(crm: BitrixCrm, spec: p.SmartProcessSpec, row: dict[str, Any],
              fields: list[dict[str, Any]], lang: str, by_title: bool
              ) -> list[dict[str, Any]]:
    """Add the spec's fields the type lacks, and the options its choice fields lack."""
    ordinal = int(row["id"])
    found, missing = spa.match_fields(ordinal, spec, fields, by_title)
    cmds: dict[str, Any] = {}
    for f in missing:
        cmds[f"f_{f.code}"] = ("userfieldconfig.add", {
            "moduleId": "crm", "field": spa.field_definition(ordinal, f, lang)})
    for code, uf in found.items():
        f = spec.field(code)
        if f.type != "choice":
            continue
        lacking = [(k, label) for k, label in f.choices if k not in spa.option_ids(f, uf)]
        if lacking:  # userfieldconfig-update.md: new enum items need userTypeId enumeration
            cmds[f"o_{code}"] = ("userfieldconfig.update", {
                "moduleId": "crm", "id": uf["id"], "field": {
                    "userTypeId": "enumeration", "enum": spa.enum_items(lacking, lang)}})
    if not cmds:
        return fields
    res = crm.rest.batch(cmds)
    refused = {k: e for k, e in res.errors.items() if not spa.already_exists(e.description)}
    if refused:
        key, err = next(iter(refused.items()))
        _raise(err, f"smart process {row.get('title')}: {key[2:]}")
    if res.errors:  # made meanwhile by someone else: read what the portal has now
        return _list_fields(crm, ordinal)
    made = {r["field"]["fieldName"]: r["field"] for r in res.result.values()
            if isinstance(r, dict) and isinstance(r.get("field"), dict)}
    return [made.pop(str(f.get("fieldName")), f) for f in fields] + list(made.values())
