"""Universal CRM API: ``crm.type.*``, ``crm.category.list`` and ``crm.item.*``.

Smart-process items live in ``Portal.items[entityTypeId]``; entity types 1-4 (lead, deal,
contact, company) map onto the classic rows, so both APIs see the same data. Rows are kept
with UPPER_CASE keys and string values like the classic tables; the camelCase names and the
typed values of ``crm.item.*`` are produced on the way in and out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import Table, parse_start
from ..registry import CallContext, as_dict, method
from . import crm
from . import userfield_values as ufv
from .currency import base_currency

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

CLASSIC = {1: "lead", 2: "deal", 3: "contact", 4: "company"}
OVERRIDES = {"DATE_CREATE": "createdTime", "DATE_MODIFY": "updatedTime",
             "CREATED_BY_ID": "createdBy", "MODIFY_BY_ID": "updatedBy",
             "MOVED_BY_ID": "movedBy"}
REVERSE = {v: k for k, v in OVERRIDES.items()}
INTS = {"id", "createdBy", "updatedBy", "movedBy", "assignedById", "categoryId", "companyId",
        "contactId", "leadId", "mycompanyId", "webformId", "lastActivityBy", "entityTypeId",
        "probability", "parentId1", "parentId2"}
FLOATS = {"opportunity", "taxValue", "revenue"}
INT_LISTS = {"contactIds", "companyIds", "observers"}
ZERO_IF_NONE = {"companyId", "contactId"}

F, T = False, True
# UPPER name: (type, isRequired, isReadOnly, isMultiple, title)
SPA_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", F, T, F, "ID"),
    "XML_ID": ("string", F, F, F, "External ID"),
    "TITLE": ("string", F, F, F, "Name"),
    "CREATED_BY_ID": ("user", F, T, F, "Created by"),
    "MODIFY_BY_ID": ("user", F, T, F, "Modified by"),
    "MOVED_BY_ID": ("user", F, T, F, "Moved by"),
    "DATE_CREATE": ("datetime", F, T, F, "Created on"),
    "DATE_MODIFY": ("datetime", F, T, F, "Modified on"),
    "MOVED_TIME": ("datetime", F, T, F, "Moved on"),
    "CATEGORY_ID": ("crm_category", F, F, F, "Pipeline"),
    "OPENED": ("boolean", F, F, F, "Available to everyone"),
    "STAGE_ID": ("crm_status", F, F, F, "Stage"),
    "PREVIOUS_STAGE_ID": ("crm_status", F, T, F, "Previous stage"),
    "STAGE_SEMANTIC_ID": ("string", F, T, F, "Stage group"),
    "BEGINDATE": ("date", F, F, F, "Start date"),
    "CLOSEDATE": ("date", F, F, F, "End date"),
    "COMPANY_ID": ("crm_company", F, F, F, "Company"),
    "CONTACT_ID": ("crm_contact", F, F, F, "Contact"),
    "CONTACT_IDS": ("crm_contact", F, F, T, "Contacts"),
    "OPPORTUNITY": ("double", F, F, F, "Amount"),
    "IS_MANUAL_OPPORTUNITY": ("boolean", F, F, F, "Manual amount"),
    "TAX_VALUE": ("double", F, F, F, "Tax"),
    "CURRENCY_ID": ("crm_currency", F, F, F, "Currency"),
    "MYCOMPANY_ID": ("crm_company", F, F, F, "Your company details"),
    "SOURCE_ID": ("crm_status", F, F, F, "Source"),
    "SOURCE_DESCRIPTION": ("text", F, F, F, "Source information"),
    "WEBFORM_ID": ("integer", F, T, F, "Created by CRM form"),
    "ASSIGNED_BY_ID": ("user", T, F, F, "Responsible person"),
    "LAST_ACTIVITY_BY": ("user", F, T, F, "Last activity by"),
    "LAST_ACTIVITY_TIME": ("datetime", F, T, F, "Last activity"),
    "OBSERVERS": ("user", F, F, T, "Observers"),
    # api-reference/crm/universal/crm-item-fields.md: a parentId<entityTypeId> field per
    # relation of the smart process ("parentId2": "Сделка", type crm_entity, an integer);
    # the emulator's smart processes are related to leads and deals
    "PARENT_ID_1": ("crm_entity", F, F, F, "Lead"),
    "PARENT_ID_2": ("crm_entity", F, F, F, "Deal"),
}


# ------------------------------------------------------------------ names
def to_camel(name: str) -> str:
    """UPPER_SNAKE → camelCase the way crm.item names fields (ufCrm5_123, ufCrm_123...)."""
    if name in OVERRIDES:
        return OVERRIDES[name]
    parts = name.split("_")
    if name.startswith("UF_CRM_"):
        rest = parts[2:]
        out = "ufCrm"
        for i, part in enumerate(rest):
            if part.isdigit():
                out += part if i == 0 and len(rest) > 1 else "_" + part
            else:
                out += part.capitalize()
        return out
    return parts[0].lower() + "".join(p.capitalize() for p in parts[1:])


def to_upper(name: str) -> str:
    """camelCase → UPPER_SNAKE (inverse of :func:`to_camel`); UPPER names pass through."""
    if name in REVERSE:
        return REVERSE[name]
    if name.upper() == name:
        return name
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    s = re.sub(r"(?<=[A-Za-z])(?=[0-9])", "_", s)
    return re.sub("_+", "_", s).upper()


def _typed(key: str, value: Any) -> Any:
    if key in INT_LISTS:
        return [int(v) for v in (value or []) if str(v).lstrip("-").isdigit()]
    if value is None or value == "":
        return 0 if key in ZERO_IF_NONE else (None if key in INTS | FLOATS else value)
    if key in INTS:
        try:
            return int(str(value))
        except ValueError:
            return value
    if key in FLOATS:
        try:
            f = float(str(value))
        except ValueError:
            return value
        return int(f) if f.is_integer() else f
    return value


def item_out(row: dict[str, Any], type_id: int, original_uf: bool = False,
             with_fm: bool = True, ufs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A stored row as crm.item returns it: camelCase names, typed values; the smart
    process's user fields (`ufs`) in their types' formats (userfield_values.show)."""
    out: dict[str, Any] = {}
    fm: list[dict[str, Any]] = []
    by_name = {uf["FIELD_NAME"]: uf for uf in ufs or []}
    for key, value in row.items():
        if key in crm.MULTI_FIELDS:
            for v in value or []:
                fm.append({"id": int(v["ID"]), "valueType": v["VALUE_TYPE"],
                           "value": v["VALUE"], "typeId": v["TYPE_ID"]})
            continue
        name = key if original_uf and key.startswith("UF_") else to_camel(key)
        if key in by_name:
            out[name] = ufv.show(by_name[key], value, type_id, row.get("ID"))
            continue
        out[name] = _typed(name, value)
    if type_id in (2,) and "contactIds" not in out:
        out["contactIds"] = [int(row["CONTACT_ID"])] if row.get("CONTACT_ID") else []
    if type_id == 3 and "companyIds" not in out:
        out["companyIds"] = [int(row["COMPANY_ID"])] if row.get("COMPANY_ID") else []
    if type_id in (1, 3, 4) and with_fm:
        out["fm"] = fm
    out["entityTypeId"] = type_id
    return out


def uf_names(ufs: list[dict[str, Any]]) -> dict[str, str]:
    """camelCase name → FIELD_NAME of user fields: a name like UF_CRM_7_ADR2 does not come
    back from ufCrm7Adr2 by rule, so the field list decides (crm-item-add.md names both)."""
    return {to_camel(uf["FIELD_NAME"]): uf["FIELD_NAME"] for uf in ufs}


def _upper_name(key: str, names: dict[str, str] | None) -> str:
    return (names or {}).get(key) or to_upper(key)


def fields_in(fields: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    """crm.item ``fields`` (camelCase, or original UF names) → UPPER_CASE field map."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "fm":
            for v in value if isinstance(value, list) else list(as_dict(value).values()):
                v = as_dict(v)
                kind = str(v.get("typeId") or v.get("TYPE_ID") or "").upper()
                if kind in crm.MULTI_FIELDS:
                    out.setdefault(kind, []).append({
                        "ID": v.get("id") or v.get("ID"), "VALUE": v.get("value", v.get("VALUE")),
                        "VALUE_TYPE": v.get("valueType") or v.get("VALUE_TYPE") or "WORK"})
            continue
        out[_upper_name(str(key), names)] = value
    return out


def filter_in(flt: Any, names: dict[str, str] | None = None,
              allowed: set[str] | None = None) -> dict[str, Any]:
    """camelCase filter keys (with Bitrix operator prefixes) → UPPER_CASE keys.

    With `allowed` (a smart process's fields), another field is refused as crm-item-list.md
    prints: INVALID_ARG_VALUE "Invalid filter: field 'x' is not allowed in filter".
    """
    if not isinstance(flt, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in flt.items():
        m = re.match(r"^([!<>=%@]*)(.*)$", str(key))
        prefix, name = (m.group(1), m.group(2)) if m else ("", str(key))
        if name.lower() == "logic":
            continue
        upper = _upper_name(name, names)
        if allowed is not None and upper not in allowed:
            raise RestError("INVALID_ARG_VALUE",
                            f"Invalid filter: field '{name}' is not allowed in filter", 400)
        out[prefix + upper] = value
    return out


# ------------------------------------------------------------------ types
def spa_type(portal: Portal, type_id: int) -> dict[str, Any]:
    """crm-item-add.md (and get, update, list): NOT_FOUND "Смарт-процесс не найден"."""
    spa = portal.crm_types.get(type_id)
    if spa is None:
        raise RestError("NOT_FOUND", "Смарт-процесс не найден", 400)
    return spa


def spa_userfields(portal: Portal, type_id: int) -> list[dict[str, Any]]:
    """The user fields of a type (userfieldconfig.*, entityId CRM_<id>); none for classic."""
    spa = portal.crm_types.get(type_id)
    return portal.userfields.get(f"CRM_{spa['id']}", []) if spa else []


def _category(spa: dict[str, Any], cat_id: Any) -> dict[str, Any]:
    if cat_id in (None, ""):
        return next(c for c in spa["categories"] if c["isDefault"] == "Y")
    for c in spa["categories"]:
        if str(c["id"]) == str(cat_id):
            return c
    raise RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value for field "Pipeline"', 400)


def _apply_spa(emu: Emulator, portal: Portal, spa: dict[str, Any], row: dict[str, Any],
               fields: dict[str, Any], user_id: int) -> None:
    """Write smart-process fields: stages checked against the item's pipeline."""
    old_stage = row.get("STAGE_ID")
    cat = _category(spa, fields.get("CATEGORY_ID", row.get("CATEGORY_ID")))
    ufs = {uf["FIELD_NAME"]: uf for uf in portal.userfields.get(f"CRM_{spa['id']}", [])}
    for key, value in fields.items():
        if key.startswith("UF_"):
            if key in ufs:  # an unknown field is left out, like any unknown name
                row[key] = ufv.write(emu, portal, ufs[key], value, row.get(key))
            continue
        spec = SPA_FIELDS.get(key)
        if spec is None or spec[2]:
            continue
        ftype, _req, _ro, many, _title = spec
        if many:
            raw = value if isinstance(value, list) else list(as_dict(value).values()) \
                if isinstance(value, dict) else [value]
            row[key] = [str(v) for v in raw if str(v).strip() not in ("", "0")]
            if key == "CONTACT_IDS":
                row["CONTACT_ID"] = row[key][0] if row[key] else None
        elif ftype == "double":
            row[key] = crm._money(value)
        elif ftype in ("user", "crm_company", "crm_contact", "crm_entity"):
            row[key] = crm._id_or_none(value)
            if key == "CONTACT_ID":
                row["CONTACT_IDS"] = [row[key]] if row[key] else []
        elif ftype == "boolean":
            row[key] = "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"
        else:
            row[key] = None if value is None else str(value)
    row["CATEGORY_ID"] = str(cat["id"])
    codes = [s["STATUS_ID"] for s in cat["stages"]]
    if row.get("STAGE_ID") not in codes:
        if "STAGE_ID" in fields and fields["STAGE_ID"] not in (None, ""):
            row["STAGE_ID"] = old_stage
            raise RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value for field "Stage"',
                            400)
        row["STAGE_ID"] = codes[0]
    sem = next(s["SEMANTICS"] for s in cat["stages"] if s["STATUS_ID"] == row["STAGE_ID"])
    row["STAGE_SEMANTIC_ID"] = sem
    now = emu.iso()
    if row["STAGE_ID"] != old_stage:
        row["PREVIOUS_STAGE_ID"] = old_stage or ""
        row["MOVED_BY_ID"] = str(user_id)
        row["MOVED_TIME"] = now
    row["MODIFY_BY_ID"] = str(user_id)
    row["DATE_MODIFY"] = now


def _event(emu: Emulator, portal: Portal, kind: str, type_id: int, item_id: int,
           user_id: int) -> None:
    """ONCRMDYNAMICITEM<kind> and its per-type twin (only for smart processes)."""
    data = {"FIELDS": {"ID": item_id, "ENTITY_TYPE_ID": type_id}}
    emu.fire_event(portal, f"ONCRMDYNAMICITEM{kind}", data, user_id)
    emu.fire_event(portal, f"ONCRMDYNAMICITEM{kind}_{type_id}", data, user_id)


def item_add(emu: Emulator, portal: Portal, type_id: int, fields: dict[str, Any],
             user_id: int, fire: bool = True) -> dict[str, Any]:
    """Create an item of any type (UPPER_CASE fields); returns the stored row."""
    if type_id in CLASSIC:
        entity = CLASSIC[type_id]
        row_id = crm.crm_add(emu, portal, entity, fields, user_id, fire=fire)
        return portal.table(entity).rows[row_id]
    spa = spa_type(portal, type_id)
    with emu.lock:
        table = portal.items.setdefault(type_id, Table())
        now = emu.iso()
        row: dict[str, Any] = dict.fromkeys(SPA_FIELDS)
        row.update({
            "CREATED_BY_ID": str(user_id), "DATE_CREATE": now,
            "OPENED": "N", "OPPORTUNITY": "0.00", "IS_MANUAL_OPPORTUNITY": "N",
            "TAX_VALUE": "0.00", "CURRENCY_ID": base_currency(portal),
            "ASSIGNED_BY_ID": str(user_id),
            "BEGINDATE": now, "CONTACT_IDS": [], "OBSERVERS": [], "PREVIOUS_STAGE_ID": "",
            "LAST_ACTIVITY_BY": str(user_id), "LAST_ACTIVITY_TIME": now, "WEBFORM_ID": None,
        })
        ufs = portal.userfields.get(f"CRM_{spa['id']}", [])
        for uf in ufs:
            row[uf["FIELD_NAME"]] = [] if uf.get("MULTIPLE") == "Y" else None
        _apply_spa(emu, portal, spa, row, fields, user_id)  # raises before anything is kept
        if (err := ufv.missing_required(ufs, row)) is not None:
            raise err
        row_id = table.next_id()
        row["ID"] = str(row_id)
        if not row.get("TITLE"):
            row["TITLE"] = f"{spa['title']} #{row_id}"
        table.put(row_id, row)
        if fire:
            _event(emu, portal, "ADD", type_id, row_id, user_id)
        return row


def item_update(emu: Emulator, portal: Portal, type_id: int, item_id: int,
                fields: dict[str, Any], user_id: int) -> dict[str, Any]:
    if type_id in CLASSIC:
        entity = CLASSIC[type_id]
        if portal.table(entity).get(item_id) is None:
            raise RestError("NOT_FOUND", "Element not found", 400)
        if entity == "deal" and "CATEGORY_ID" in fields:
            # crm-deal-update.md: a deal changes pipeline through crm.item.update
            crm.deal_move(emu, portal, item_id, fields["CATEGORY_ID"], fields.get("STAGE_ID"),
                          user_id)
            fields = {k: v for k, v in fields.items() if k not in ("CATEGORY_ID", "STAGE_ID")}
        crm.crm_update(emu, portal, entity, item_id, fields, user_id)
        return portal.table(entity).rows[item_id]
    spa = spa_type(portal, type_id)
    with emu.lock:
        row = portal.items.setdefault(type_id, Table()).get(item_id)
        if row is None:
            raise RestError("NOT_FOUND", "Element not found", 400)
        draft = {k: list(v) if isinstance(v, list) else v for k, v in row.items()}
        _apply_spa(emu, portal, spa, draft, fields, user_id)  # a refused value changes nothing
        if (err := ufv.missing_required(spa_userfields(portal, type_id), draft)) is not None:
            raise err
        row.update(draft)
        _event(emu, portal, "UPDATE", type_id, item_id, user_id)
        return row


def _table(portal: Portal, type_id: int) -> Table:
    if type_id in CLASSIC:
        return portal.table(CLASSIC[type_id])
    spa_type(portal, type_id)
    return portal.items.setdefault(type_id, Table())


def _type_id(p: dict[str, Any]) -> int:
    raw = p.get("entityTypeId", p.get("ENTITYTYPEID", p.get("entityTypeID")))
    try:
        n = int(str(raw).strip())
    except (TypeError, ValueError):
        n = 0
    if n <= 0:
        raise RestError("NOT_FOUND", "Смарт-процесс не найден", 400)
    return n


def _item_id(p: dict[str, Any]) -> int:
    try:
        n = int(str(p.get("id", p.get("ID"))).strip())
    except (TypeError, ValueError):
        n = 0
    if n <= 0:
        raise RestError("NOT_FOUND", "Element not found", 400)
    return n


def _orig(p: dict[str, Any]) -> bool:
    return str(p.get("useOriginalUfNames") or "N").upper() == "Y"


# ------------------------------------------------------------------ methods
@method("crm.category.list", scope="crm")
def category_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    from ..listing import page

    type_id = _type_id(params)
    if type_id == 2:
        cats = [{"id": int(c["ID"]), "name": c["NAME"], "sort": int(c["SORT"]),
                 "entityTypeId": 2, "isDefault": "Y" if c["ID"] == "0" else "N"}
                for c in ctx.portal.deal_categories.values()]
    else:
        spa = spa_type(ctx.portal, type_id)
        cats = [{k: v for k, v in c.items() if k != "stages"} for c in spa["categories"]]
    res = page(cats, 0, len(cats))
    res.items = {"categories": res.items}
    return res


@method("crm.item.fields", scope="crm")
def item_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    type_id = _type_id(params)
    if type_id in CLASSIC:
        known = crm.ENTITY_FIELDS[CLASSIC[type_id]]
        uf_entity = crm.UF_ENTITY[CLASSIC[type_id]]
    else:
        known = SPA_FIELDS
        uf_entity = f"CRM_{spa_type(ctx.portal, type_id)['id']}"
    out: dict[str, Any] = {}
    for name, (ftype, req, ro, many, title) in known.items():
        if name in crm.MULTI_FIELDS:
            continue
        out[to_camel(name)] = {"type": ftype, "isRequired": req, "isReadOnly": ro,
                               "isImmutable": False, "isMultiple": many, "isDynamic": False,
                               "title": title, "upperName": name}
    lang = ctx.emu.config.language_id
    for uf in ctx.portal.userfields.get(uf_entity, []):
        name = uf["FIELD_NAME"] if _orig(params) else to_camel(uf["FIELD_NAME"])
        title = ufv.title(uf, lang)
        # crm-item-add.md prints a smart process's fields: labels, settings, enum items
        desc = {"type": uf["USER_TYPE_ID"], "isRequired": uf["MANDATORY"] == "Y",
                "isReadOnly": False, "isImmutable": False, "isMultiple": uf["MULTIPLE"] == "Y",
                "isDynamic": True, "title": title,
                "listLabel": ufv.label(uf.get("LIST_COLUMN_LABEL"), lang) or title,
                "formLabel": title,
                "filterLabel": ufv.label(uf.get("LIST_FILTER_LABEL"), lang) or title,
                "settings": dict(uf.get("SETTINGS") or {}), "upperName": uf["FIELD_NAME"]}
        if uf["USER_TYPE_ID"] == "enumeration":
            desc["items"] = [{"ID": i["ID"], "VALUE": i["VALUE"]} for i in uf.get("LIST") or []]
        out[name] = desc
    return {"fields": out}


@method("crm.item.add", scope="crm")
def item_add_method(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    type_id = _type_id(params)
    ufs = spa_userfields(ctx.portal, type_id)
    fields = fields_in(as_dict(params.get("fields")), uf_names(ufs))
    row = item_add(ctx.emu, ctx.portal, type_id, fields, ctx.user_id)
    return {"item": item_out(row, type_id, _orig(params), ufs=ufs)}


@method("crm.item.get", scope="crm")
def item_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """api-reference/crm/universal/crm-item-get.md: NOT_FOUND / ACCESS_DENIED, HTTP 400."""
    type_id = _type_id(params)
    item_id = _item_id(params)
    row = _table(ctx.portal, type_id).get(item_id)
    if row is None:
        raise RestError("NOT_FOUND", "Element not found", 400)
    if not ctx.portal.may_read(ctx.user_id, CLASSIC.get(type_id, f"dynamic_{type_id}"),
                               item_id):
        raise RestError("ACCESS_DENIED", "You do not have permission to view this item", 400)
    return {"item": item_out(row, type_id, _orig(params),
                             ufs=spa_userfields(ctx.portal, type_id))}


@method("crm.item.update", scope="crm")
def item_update_method(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    type_id = _type_id(params)
    ufs = spa_userfields(ctx.portal, type_id)
    fields = fields_in(as_dict(params.get("fields")), uf_names(ufs))
    row = item_update(ctx.emu, ctx.portal, type_id, _item_id(params), fields, ctx.user_id)
    return {"item": item_out(row, type_id, _orig(params), ufs=ufs)}


@method("crm.item.delete", scope="crm")
def item_delete(ctx: CallContext, params: dict[str, Any]) -> list[Any]:
    type_id = _type_id(params)
    item_id = _item_id(params)
    emu, portal = ctx.emu, ctx.portal
    if type_id in CLASSIC:
        if portal.table(CLASSIC[type_id]).get(item_id) is None:
            raise RestError("NOT_FOUND", "Element not found", 400)
        crm.crm_delete(emu, portal, CLASSIC[type_id], item_id, ctx.user_id)
        return []
    if not _table(portal, type_id).delete(item_id):
        raise RestError("NOT_FOUND", "Element not found", 400)
    from . import product_rows, requisites

    product_rows.drop_owner(portal, type_id, item_id)
    requisites.drop_item_link(portal, type_id, item_id)
    _event(emu, portal, "DELETE", type_id, item_id, ctx.user_id)
    return []


@method("crm.item.list", scope="crm")
def item_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    """filter/order in camelCase with the usual operators; 50 per page in ``items``."""
    type_id = _type_id(params)
    table = _table(ctx.portal, type_id)
    ufs = spa_userfields(ctx.portal, type_id)
    names = uf_names(ufs)
    # a smart process knows its fields: another one in the filter or order is refused
    allowed = None if type_id in CLASSIC else {*SPA_FIELDS, *(u["FIELD_NAME"] for u in ufs)}
    order = params.get("order")
    order = {_upper_name(str(k), names): v for k, v in order.items()} if isinstance(
        order, dict) else None
    for name in order or {}:
        if allowed is not None and name not in allowed:
            raise RestError("INVALID_ARG_VALUE",
                            f"Invalid order: field '{name}' is not allowed in order", 400)
    res = table.query(filter_in(params.get("filter"), names, allowed), order,
                      parse_start(params.get("start", 0)))
    select = params.get("select")
    if isinstance(select, dict):
        select = list(select.values())
    if isinstance(select, str):
        select = [select]
    wanted = [str(s) for s in select] if isinstance(select, list) and select else ["*"]
    star = "*" in wanted
    orig = _orig(params)
    items = []
    for row in res.items:
        full = item_out(row, type_id, orig, with_fm=star or "fm" in wanted, ufs=ufs)
        if not star:
            keep = {n for n in wanted} | {"id"}
            keep |= {to_camel(n) for n in wanted if n.upper() == n}
            full = {k: v for k, v in full.items() if k in keep}
        items.append(full)
    res.items = {"items": items}
    return res
