"""Classic CRM methods: leads, deals, contacts, companies (UPPER_CASE fields, events)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import select_fields
from ..registry import CallContext, as_dict, as_int, method, up
from .currency import base_currency

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

F = False
T = True
# name: (type, isRequired, isReadOnly, isMultiple, title)
DEAL_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", F, T, F, "ID"),
    "TITLE": ("string", F, F, F, "Name"),
    "TYPE_ID": ("crm_status", F, F, F, "Type"),
    "CATEGORY_ID": ("crm_category", F, F, F, "Pipeline"),
    "STAGE_ID": ("crm_status", F, F, F, "Stage"),
    "STAGE_SEMANTIC_ID": ("string", F, T, F, "Stage group"),
    "IS_NEW": ("char", F, T, F, "New deal"),
    "PROBABILITY": ("integer", F, F, F, "Probability"),
    "CURRENCY_ID": ("crm_currency", F, F, F, "Currency"),
    "OPPORTUNITY": ("double", F, F, F, "Amount"),
    "IS_MANUAL_OPPORTUNITY": ("char", F, F, F, "Manual amount"),
    "TAX_VALUE": ("double", F, F, F, "Tax"),
    "COMPANY_ID": ("crm_company", F, F, F, "Company"),
    "CONTACT_ID": ("crm_contact", F, F, F, "Contact"),
    "CONTACT_IDS": ("crm_contact", F, F, T, "Contacts"),
    "OBSERVERS": ("user", F, F, T, "Observers"),
    "BEGINDATE": ("date", F, F, F, "Start date"),
    "CLOSEDATE": ("date", F, F, F, "End date"),
    "OPENED": ("char", F, F, F, "Available to everyone"),
    "CLOSED": ("char", F, F, F, "Closed"),
    "COMMENTS": ("string", F, F, F, "Comment"),
    "ASSIGNED_BY_ID": ("user", F, F, F, "Responsible person"),
    "CREATED_BY_ID": ("user", F, T, F, "Created by"),
    "MODIFY_BY_ID": ("user", F, T, F, "Modified by"),
    "DATE_CREATE": ("datetime", F, T, F, "Created on"),
    "DATE_MODIFY": ("datetime", F, T, F, "Modified on"),
    "MOVED_BY_ID": ("user", F, T, F, "Stage changed by"),
    "MOVED_TIME": ("datetime", F, T, F, "Stage changed on"),
    "SOURCE_ID": ("crm_status", F, F, F, "Source"),
    "SOURCE_DESCRIPTION": ("string", F, F, F, "Source information"),
    "LEAD_ID": ("crm_lead", F, T, F, "Lead"),
    "ADDITIONAL_INFO": ("string", F, F, F, "Additional information"),
}

LEAD_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", F, T, F, "ID"),
    "TITLE": ("string", F, F, F, "Lead name"),
    "HONORIFIC": ("crm_status", F, F, F, "Salutation"),
    "NAME": ("string", F, F, F, "First name"),
    "SECOND_NAME": ("string", F, F, F, "Middle name"),
    "LAST_NAME": ("string", F, F, F, "Last name"),
    "COMPANY_TITLE": ("string", F, F, F, "Company name"),
    "SOURCE_ID": ("crm_status", F, F, F, "Source"),
    "SOURCE_DESCRIPTION": ("string", F, F, F, "Source information"),
    "STATUS_ID": ("crm_status", F, F, F, "Status"),
    "STATUS_DESCRIPTION": ("string", F, F, F, "Status information"),
    "STATUS_SEMANTIC_ID": ("string", F, T, F, "Status group"),
    "POST": ("string", F, F, F, "Position"),
    "CURRENCY_ID": ("crm_currency", F, F, F, "Currency"),
    "OPPORTUNITY": ("double", F, F, F, "Amount"),
    "IS_MANUAL_OPPORTUNITY": ("char", F, F, F, "Manual amount"),
    "OPENED": ("char", F, F, F, "Available to everyone"),
    "COMMENTS": ("string", F, F, F, "Comment"),
    "HAS_PHONE": ("char", F, T, F, "Has phone"),
    "HAS_EMAIL": ("char", F, T, F, "Has email"),
    "ASSIGNED_BY_ID": ("user", F, F, F, "Responsible person"),
    "CREATED_BY_ID": ("user", F, T, F, "Created by"),
    "MODIFY_BY_ID": ("user", F, T, F, "Modified by"),
    "DATE_CREATE": ("datetime", F, T, F, "Created on"),
    "DATE_MODIFY": ("datetime", F, T, F, "Modified on"),
    "DATE_CLOSED": ("datetime", F, T, F, "Closed on"),
    "COMPANY_ID": ("crm_company", F, F, F, "Company"),
    "CONTACT_ID": ("crm_contact", F, F, F, "Contact"),
    "IS_RETURN_CUSTOMER": ("char", F, T, F, "Repeat lead"),
    "PHONE": ("crm_multifield", F, F, T, "Phone"),
    "EMAIL": ("crm_multifield", F, F, T, "E-mail"),
    "WEB": ("crm_multifield", F, F, T, "Website"),
    "IM": ("crm_multifield", F, F, T, "Messenger"),
}

CONTACT_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", F, T, F, "ID"),
    "HONORIFIC": ("crm_status", F, F, F, "Salutation"),
    "NAME": ("string", F, F, F, "First name"),
    "SECOND_NAME": ("string", F, F, F, "Middle name"),
    "LAST_NAME": ("string", F, F, F, "Last name"),
    "PHOTO": ("file", F, F, F, "Photo"),
    "BIRTHDATE": ("date", F, F, F, "Date of birth"),
    "TYPE_ID": ("crm_status", F, F, F, "Contact type"),
    "SOURCE_ID": ("crm_status", F, F, F, "Source"),
    "SOURCE_DESCRIPTION": ("string", F, F, F, "Source information"),
    "POST": ("string", F, F, F, "Position"),
    "COMMENTS": ("string", F, F, F, "Comment"),
    "OPENED": ("char", F, F, F, "Available to everyone"),
    "EXPORT": ("char", F, F, F, "Included in export"),
    "HAS_PHONE": ("char", F, T, F, "Has phone"),
    "HAS_EMAIL": ("char", F, T, F, "Has email"),
    "HAS_IMOL": ("char", F, T, F, "Has Open Channel"),
    "ASSIGNED_BY_ID": ("user", F, F, F, "Responsible person"),
    "CREATED_BY_ID": ("user", F, T, F, "Created by"),
    "MODIFY_BY_ID": ("user", F, T, F, "Modified by"),
    "DATE_CREATE": ("datetime", F, T, F, "Created on"),
    "DATE_MODIFY": ("datetime", F, T, F, "Modified on"),
    "COMPANY_ID": ("crm_company", F, F, F, "Company"),
    "COMPANY_IDS": ("crm_company", F, F, T, "Companies"),
    "LEAD_ID": ("crm_lead", F, T, F, "Lead"),
    "ORIGINATOR_ID": ("string", F, F, F, "External source"),
    "ORIGIN_ID": ("string", F, F, F, "Item ID in data source"),
    "PHONE": ("crm_multifield", F, F, T, "Phone"),
    "EMAIL": ("crm_multifield", F, F, T, "E-mail"),
    "WEB": ("crm_multifield", F, F, T, "Website"),
    "IM": ("crm_multifield", F, F, T, "Messenger"),
}

COMPANY_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", F, T, F, "ID"),
    "TITLE": ("string", T, F, F, "Company name"),
    "COMPANY_TYPE": ("crm_status", F, F, F, "Company type"),
    "LOGO": ("file", F, F, F, "Logo"),
    "ADDRESS": ("string", F, F, F, "Address"),
    "INDUSTRY": ("crm_status", F, F, F, "Industry"),
    "EMPLOYEES": ("crm_status", F, F, F, "Employees"),
    "CURRENCY_ID": ("crm_currency", F, F, F, "Currency"),
    "REVENUE": ("double", F, F, F, "Annual revenue"),
    "OPENED": ("char", F, F, F, "Available to everyone"),
    "COMMENTS": ("string", F, F, F, "Comment"),
    "HAS_PHONE": ("char", F, T, F, "Has phone"),
    "HAS_EMAIL": ("char", F, T, F, "Has email"),
    "HAS_IMOL": ("char", F, T, F, "Has Open Channel"),
    "IS_MY_COMPANY": ("char", F, F, F, "My company"),
    "ASSIGNED_BY_ID": ("user", F, F, F, "Responsible person"),
    "CREATED_BY_ID": ("user", F, T, F, "Created by"),
    "MODIFY_BY_ID": ("user", F, T, F, "Modified by"),
    "DATE_CREATE": ("datetime", F, T, F, "Created on"),
    "DATE_MODIFY": ("datetime", F, T, F, "Modified on"),
    "LEAD_ID": ("crm_lead", F, T, F, "Lead"),
    "ORIGINATOR_ID": ("string", F, F, F, "External source"),
    "ORIGIN_ID": ("string", F, F, F, "Item ID in data source"),
    "PHONE": ("crm_multifield", F, F, T, "Phone"),
    "EMAIL": ("crm_multifield", F, F, T, "E-mail"),
    "WEB": ("crm_multifield", F, F, T, "Website"),
    "IM": ("crm_multifield", F, F, T, "Messenger"),
}

ENTITY_FIELDS = {"lead": LEAD_FIELDS, "deal": DEAL_FIELDS, "contact": CONTACT_FIELDS,
                 "company": COMPANY_FIELDS}
ENTITIES = tuple(ENTITY_FIELDS)
MULTI_FIELDS = ("PHONE", "EMAIL", "WEB", "IM")
# Bindings to several rows: written through crm.*.add/update, read through crm.item.*.
LINK_LISTS = {"deal": ("CONTACT_IDS", "CONTACT_ID"), "contact": ("COMPANY_IDS", "COMPANY_ID")}
# What list returns for select "*": multi-fields and binding lists must be named.
STANDARD = {
    ent: [k for k in fields if k not in MULTI_FIELDS and k not in ("CONTACT_IDS", "COMPANY_IDS")]
    for ent, fields in ENTITY_FIELDS.items()
}
UF_ENTITY = {"lead": "CRM_LEAD", "deal": "CRM_DEAL", "contact": "CRM_CONTACT",
             "company": "CRM_COMPANY"}
EVENT_PREFIX = {"lead": "ONCRMLEAD", "deal": "ONCRMDEAL", "contact": "ONCRMCONTACT",
                "company": "ONCRMCOMPANY"}


def _money(v: Any) -> str:
    try:
        return f"{float(str(v).replace(',', '.') or 0):.2f}"
    except ValueError:
        return "0.00"


def _id_or_none(v: Any) -> str | None:
    s = "" if v is None else str(v).strip()
    return s if s and s != "0" else None


def stage_of(portal: Portal, entity: str, row: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """A lead's status or a deal's stage: its code and the status record (None if unknown)."""
    if entity == "lead":
        stages, code = portal.lead_statuses, row.get("STATUS_ID")
    else:
        stages = portal.deal_stages.get(int(row.get("CATEGORY_ID") or 0), [])
        code = row.get("STAGE_ID")
    return str(code or ""), next((s for s in stages if s["STATUS_ID"] == code), None)


def _semantics(portal: Portal, entity: str, row: dict[str, Any]) -> str:
    found = stage_of(portal, entity, row)[1]
    return found["SEMANTICS"] if found else "P"


def _write_multi(portal: Portal, key: str, current: list[dict[str, Any]], value: Any
           ) -> list[dict[str, Any]]:
    """Multi-field write: items with ID change (empty VALUE deletes), items without ID add."""
    items = value if isinstance(value, list) else list(as_dict(value).values())
    out = [dict(x) for x in current]
    for item in items:
        item = up(as_dict(item))
        text = "" if item.get("VALUE") is None else str(item.get("VALUE")).strip()
        vid = str(item.get("ID") or "")
        old = next((x for x in out if x["ID"] == vid), None) if vid else None
        if old is not None:
            if not text or str(item.get("DELETE", "")).upper() == "Y":
                out.remove(old)
            else:
                old["VALUE"] = text
                old["VALUE_TYPE"] = str(item.get("VALUE_TYPE") or old["VALUE_TYPE"])
        elif text:
            portal.next_fm_id += 1
            out.append({"ID": str(portal.next_fm_id),
                        "VALUE_TYPE": str(item.get("VALUE_TYPE") or "WORK"),
                        "VALUE": text, "TYPE_ID": key})
    return out


def _apply(
    emu: Emulator, portal: Portal, entity: str, row: dict[str, Any], fields: dict[str, Any],
    user_id: int, creating: bool,
) -> None:
    """Write user-supplied fields the way the CRM does: known fields only, typed as strings."""
    known = ENTITY_FIELDS[entity]
    fields = up(fields)
    old_stage = row.get("STAGE_ID")
    for key, value in fields.items():
        if key.startswith("UF_"):
            row[key] = uf_value(emu, portal, entity, key, row.get(key), value)
            continue
        if entity in LINK_LISTS and key in LINK_LISTS[entity]:
            list_key, one_key = LINK_LISTS[entity]
            raw = value if key == list_key else [value]
            if isinstance(raw, dict):
                raw = list(raw.values())
            if not isinstance(raw, list):
                raw = [raw]
            ids: list[str] = []
            for v in raw:
                one = _id_or_none(v)
                if one is not None and one not in ids:
                    ids.append(one)
            row[list_key] = ids
            row[one_key] = ids[0] if ids else None
            continue
        if key not in known:
            continue
        ftype, _req, readonly, _multi, _title = known[key]
        if readonly:
            continue
        if key == "CATEGORY_ID" and not creating:
            continue  # moving between pipelines needs a dedicated method
        if key in MULTI_FIELDS:
            row[key] = _write_multi(portal, key, row.get(key) or [], value)
            if key in ("PHONE", "EMAIL"):
                row["HAS_" + key] = "Y" if row[key] else "N"
            continue
        if ftype == "double":
            row[key] = _money(value)
        elif ftype in ("user", "crm_company", "crm_contact", "crm_lead"):
            row[key] = _id_or_none(value)
        elif ftype == "char":
            row[key] = "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"
        else:
            row[key] = None if value is None else str(value)
    if entity == "deal":
        if "CONTACT_IDS" not in row or (row["CONTACT_ID"] and not row["CONTACT_IDS"]):
            row["CONTACT_IDS"] = [row["CONTACT_ID"]] if row.get("CONTACT_ID") else []
        cat = int(row.get("CATEGORY_ID") or 0)
        if cat not in portal.deal_stages:
            cat = 0
        row["CATEGORY_ID"] = str(cat)
        codes = [s["STATUS_ID"] for s in portal.deal_stages.get(cat, [])]
        if row.get("STAGE_ID") not in codes:
            row["STAGE_ID"] = codes[0] if codes else "NEW"
        if creating or row["STAGE_ID"] != old_stage:  # crm-deal-fields.md: MOVED_TIME
            row["MOVED_BY_ID"], row["MOVED_TIME"] = str(user_id), emu.iso()
        sem = _semantics(portal, entity, row)
        row["STAGE_SEMANTIC_ID"] = sem
        row["CLOSED"] = "Y" if sem in ("S", "F") else "N"
        row["IS_NEW"] = "Y" if row["STAGE_ID"] == (codes[0] if codes else "NEW") else "N"
        if sem in ("S", "F") and not row.get("CLOSEDATE"):
            row["CLOSEDATE"] = emu.iso()
    elif entity == "lead":
        codes = [s["STATUS_ID"] for s in portal.lead_statuses]
        if row.get("STATUS_ID") not in codes:
            row["STATUS_ID"] = codes[0] if codes else "NEW"
        sem = _semantics(portal, entity, row)
        row["STATUS_SEMANTIC_ID"] = sem
        if sem in ("S", "F") and not row.get("DATE_CLOSED"):
            row["DATE_CLOSED"] = emu.iso()
    row["MODIFY_BY_ID"] = str(user_id)
    row["DATE_MODIFY"] = emu.iso()


def _userfield(portal: Portal, entity: str, key: str) -> dict[str, Any] | None:
    store = portal.userfields.get(UF_ENTITY.get(entity, ""), [])
    return next((u for u in store if u["FIELD_NAME"] == key), None)


def _file_in(emu: Emulator, portal: Portal, item: Any, current: list[int]) -> int | None:
    """One file-field value: ``{"fileData": [name, b64]}`` uploads, an id / ``{"id"}`` keeps."""
    from .. import disk

    if isinstance(item, dict):
        low = {str(k).lower(): v for k, v in item.items()}
        if "filedata" in low:
            name, data = disk.decode_file_content(low["filedata"])
            blob = disk.blob_store(emu).from_bytes(data)
            return disk.add_bfile(portal, name, blob).id
        if str(low.get("del", "")).upper() == "Y":
            return None
        item = low.get("id")
    text = "" if item is None else str(item).strip()
    if text.isdigit() and int(text) in portal.disk.bfiles:
        return int(text)
    return None


def uf_value(
    emu: Emulator, portal: Portal, entity: str, key: str, old: Any, value: Any
) -> Any:
    """User-field write: ``file`` fields store b_file ids (one, or a list when multiple)."""
    uf = _userfield(portal, entity, key)
    if uf is None or uf["USER_TYPE_ID"] != "file":
        return value
    multiple = uf["MULTIPLE"] == "Y"
    current = old if isinstance(old, list) else ([old] if old else [])
    if isinstance(value, dict) and not any(str(k).lower() in ("filedata", "id", "del")
                                           for k in value):
        value = list(value.values())
    items = value if isinstance(value, list) else [value]
    ids = [i for i in (_file_in(emu, portal, it, current) for it in items) if i is not None]
    if multiple:
        return ids
    return ids[-1] if ids else None


def file_field_out(
    emu: Emulator, portal: Portal, entity: str, row_id: Any, out: dict[str, Any]
) -> dict[str, Any]:
    """File fields as the real API shows them: ``{id, showUrl, downloadUrl}`` (relative
    portal paths, like Bitrix24 returns), a list for multiple fields.

    tutorials/crm/how-to-add-crm-objects/how-to-add-lead-with-files.md: ``downloadUrl`` is
    ``…/show_file.php?auth=&ownerId=…&fieldName=…&dynamic=Y&fileId=…`` with an empty
    ``auth=`` the caller fills with its own access token.
    """
    for uf in portal.userfields.get(UF_ENTITY.get(entity, ""), []):
        key = uf["FIELD_NAME"]
        if uf["USER_TYPE_ID"] != "file" or key not in out:
            continue
        base = f"/bitrix/components/bitrix/crm.{entity}.show/show_file.php"

        def one(fid: Any, key: str = key, base: str = base) -> dict[str, Any]:
            query = f"ownerId={row_id}&fieldName={key}&dynamic=Y&fileId={fid}"
            return {"id": int(fid), "showUrl": f"{base}?{query}",
                    "downloadUrl": f"{base}?auth=&{query}"}

        value = out[key]
        if isinstance(value, list):
            out[key] = [one(v) for v in value if v]
        elif value not in (None, "", False):
            out[key] = one(value)
        else:
            out[key] = [] if uf["MULTIPLE"] == "Y" else False
    return out


def crm_add(
    emu: Emulator, portal: Portal, entity: str, fields: dict[str, Any], user_id: int,
    fire: bool = True,
) -> int:
    """Create a lead/deal/contact/company as ``user_id`` and fire its ADD event."""
    with emu.lock:
        table = portal.table(entity)
        row_id = table.next_id()
        row: dict[str, Any] = {k: None for k in STANDARD[entity]}
        stamp = emu.iso()
        row.update({
            "ID": str(row_id), "OPENED": "Y", "ASSIGNED_BY_ID": str(user_id),
            "CREATED_BY_ID": str(user_id), "DATE_CREATE": stamp,
        })
        # a new item's currency is the portal's base one (crm-currency-base-get.md: the
        # currency CRM reports count in), the sample's rouble on a new emulated portal
        base = base_currency(portal)
        if entity in ("lead", "deal"):
            row.update({"OPPORTUNITY": "0.00", "CURRENCY_ID": base,
                        "IS_MANUAL_OPPORTUNITY": "N"})
        if entity == "deal":
            row.update({"CATEGORY_ID": "0", "TYPE_ID": "SALE", "PROBABILITY": None,
                        "BEGINDATE": stamp, "COMPANY_ID": "0", "TAX_VALUE": "0.00",
                        "CONTACT_IDS": []})
        elif entity == "lead":
            row.update({"HAS_PHONE": "N", "HAS_EMAIL": "N", "IS_RETURN_CUSTOMER": "N"})
        else:
            row.update({"HAS_PHONE": "N", "HAS_EMAIL": "N", "HAS_IMOL": "N"})
            if entity == "contact":
                row.update({"TYPE_ID": "CLIENT", "EXPORT": "Y", "COMPANY_IDS": []})
            else:
                row.update({"COMPANY_TYPE": "CUSTOMER", "CURRENCY_ID": base,
                            "REVENUE": "0.00", "IS_MY_COMPANY": "N"})
        _apply(emu, portal, entity, row, fields, user_id, creating=True)
        if entity != "contact" and not row.get("TITLE"):
            row["TITLE"] = f"{entity.capitalize()} #{row_id}"
        table.put(row_id, row)
        if fire:
            emu.fire_event(portal, EVENT_PREFIX[entity] + "ADD", {"FIELDS": {"ID": row_id}},
                           user_id)
        return row_id


def not_found() -> RestError:
    """api-reference/crm/leads/crm-lead-get.md (and deal/contact/company get, update):
    an empty code, "Not found", HTTP 400."""
    return RestError("", "Not found", 400)


def access_denied() -> RestError:
    """api-reference/crm/deals/crm-deal-get.md: an empty code and "Access denied"."""
    return RestError("", "Access denied", 400)


def crm_update(
    emu: Emulator, portal: Portal, entity: str, row_id: int, fields: dict[str, Any],
    user_id: int, fire: bool = True,
) -> bool:
    with emu.lock:
        row = portal.table(entity).get(row_id)
        if row is None:
            raise not_found()
        _apply(emu, portal, entity, row, fields, user_id, creating=False)
        if fire:
            emu.fire_event(portal, EVENT_PREFIX[entity] + "UPDATE", {"FIELDS": {"ID": row_id}},
                           user_id)
        return True


def deal_move(emu: Emulator, portal: Portal, row_id: int, category: Any, stage: Any,
              user_id: int) -> None:
    """Move a deal to another pipeline: crm-deal-update.md ("to change a deal's pipeline use
    crm.item.update, entityTypeId 2"; crm.deal.update leaves CATEGORY_ID alone). A stage not
    of that pipeline is refused as crm-item-update.md's CRM_FIELD_ERROR_VALUE_NOT_VALID; none
    given means its first stage. Fires ONCRMDEALMOVETOCATEGORY with the sample's fields
    (deals/events/on-crm-deal-move-to-category.md) when the pipeline changed."""
    with emu.lock:
        row = portal.deals.get(row_id)
        if row is None:
            raise RestError("NOT_FOUND", "Element not found", 400)
        cat = int(str(category)) if str(category).strip().lstrip("-").isdigit() else -1
        if cat not in portal.deal_stages:
            raise RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID",
                            'Invalid value for field "Pipeline"', 400)
        codes = [s["STATUS_ID"] for s in portal.deal_stages[cat]]
        if stage not in (None, "") and stage not in codes:
            raise RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value for field "Stage"',
                            400)
        moved = str(cat) != str(row.get("CATEGORY_ID"))
        row["CATEGORY_ID"] = str(cat)
        row["STAGE_ID"] = stage or codes[0]
        _apply(emu, portal, "deal", row, {}, user_id, creating=False)
    if moved:
        emu.fire_event(portal, "ONCRMDEALMOVETOCATEGORY", {"FIELDS": {
            "ID": row_id, "CATEGORY_ID": row["CATEGORY_ID"], "STAGE_ID": row["STAGE_ID"]}},
            user_id)


def crm_delete(
    emu: Emulator, portal: Portal, entity: str, row_id: int, user_id: int, fire: bool = True
) -> bool:
    """Delete a row; deleting a contact or company also drops the bindings to it."""
    with emu.lock:
        if not portal.table(entity).delete(row_id):
            raise not_found()
        if entity in ("contact", "company"):
            _unbind(portal, entity, str(row_id))
        drop_dependants(portal, entity, row_id)
        if fire:
            emu.fire_event(portal, EVENT_PREFIX[entity] + "DELETE", {"FIELDS": {"ID": row_id}},
                           user_id)
        return True


def drop_dependants(portal: Portal, entity: str, row_id: int) -> None:
    """What lives and dies with a row: a contact's or company's requisites, a lead's or
    deal's product rows and requisite link."""
    from . import product_rows, requisites

    type_id = {"lead": 1, "deal": 2, "contact": 3, "company": 4}[entity]
    if entity in ("contact", "company"):
        requisites.drop_owner(portal, type_id, row_id)
    else:
        product_rows.drop_owner(portal, type_id, row_id)
        requisites.drop_item_link(portal, type_id, row_id)


def _unbind(portal: Portal, entity: str, rid: str) -> None:
    one, many = ("CONTACT_ID", "CONTACT_IDS") if entity == "contact" else ("COMPANY_ID",
                                                                            "COMPANY_IDS")
    tables = [portal.leads, portal.deals, portal.contacts, portal.companies]
    tables += list(portal.items.values())
    for table in tables:
        for row in table.rows.values():
            ids = row.get(many)
            if isinstance(ids, list) and rid in ids:
                ids.remove(rid)
                row[one] = ids[0] if ids else None
            elif row.get(one) == rid:
                row[one] = None


def fast_row(entity: str, row_id: int, user_id: int, stamp: str) -> dict[str, Any]:
    """A plain row for bulk seeding (no validation, no events)."""
    row: dict[str, Any] = dict.fromkeys(STANDARD[entity])
    row.update({
        "ID": str(row_id), "TITLE": f"{entity.capitalize()} #{row_id}",
        "OPPORTUNITY": f"{(row_id % 97) * 100:.2f}", "CURRENCY_ID": "USD", "OPENED": "Y",
        "ASSIGNED_BY_ID": str(user_id), "CREATED_BY_ID": "1", "MODIFY_BY_ID": "1",
        "DATE_CREATE": stamp, "DATE_MODIFY": stamp,
    })
    if entity == "deal":
        row.update({"CATEGORY_ID": "0", "STAGE_ID": "NEW", "STAGE_SEMANTIC_ID": "P",
                    "CLOSED": "N", "IS_NEW": "Y", "TYPE_ID": "SALE"})
    else:
        row.update({"STATUS_ID": "NEW", "STATUS_SEMANTIC_ID": "P", "HAS_PHONE": "N",
                    "HAS_EMAIL": "N"})
    return row


HIDDEN = ("CONTACT_IDS", "COMPANY_IDS", "OBSERVERS")  # crm.item.* shows them, crm.*.get not


def _full(row: dict[str, Any]) -> dict[str, Any]:
    """What ``get`` returns: everything but binding lists; multi-fields only when filled."""
    out = {}
    for k, v in row.items():
        if k in HIDDEN or (k in MULTI_FIELDS and not v):
            continue
        out[k] = [dict(x) for x in v] if k in MULTI_FIELDS else v
    return out


def list_row(row: dict[str, Any], select: Any, entity: str) -> dict[str, Any]:
    """``select`` for classic lists: multi-fields only when named (and filled)."""
    out = select_fields(row, select, STANDARD[entity])
    for k in MULTI_FIELDS + HIDDEN:
        if k in out:
            if not out[k] or k in HIDDEN:
                del out[k]
            else:
                out[k] = [dict(x) for x in out[k]]
    return out


def _register(entity: str) -> None:
    prefix = f"crm.{entity}"

    @method(f"{prefix}.add", scope="crm")
    def add(ctx: CallContext, params: dict[str, Any]) -> int:
        p = up(params)
        return crm_add(ctx.emu, ctx.portal, entity, as_dict(p.get("FIELDS")), ctx.user_id)

    @method(f"{prefix}.get", scope="crm")
    def get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
        row_id = as_int(up(params).get("ID"))
        row = ctx.portal.table(entity).get(row_id)
        if row is None:
            raise not_found()
        if not ctx.portal.may_read(ctx.user_id, entity, row_id):
            raise access_denied()
        return file_field_out(ctx.emu, ctx.portal, entity, row["ID"], _full(row))

    @method(f"{prefix}.update", scope="crm")
    def update(ctx: CallContext, params: dict[str, Any]) -> bool:
        p = up(params)
        return crm_update(ctx.emu, ctx.portal, entity, as_int(p.get("ID")),
                          as_dict(p.get("FIELDS")), ctx.user_id)

    @method(f"{prefix}.delete", scope="crm")
    def delete(ctx: CallContext, params: dict[str, Any]) -> bool:
        return crm_delete(ctx.emu, ctx.portal, entity, as_int(up(params).get("ID")), ctx.user_id)

    @method(f"{prefix}.list", scope="crm")
    def list_(ctx: CallContext, params: dict[str, Any]) -> Any:
        from ..listing import parse_start

        p = up(params)
        res = ctx.portal.table(entity).query(
            p.get("FILTER"), p.get("ORDER"), parse_start(p.get("START", 0))
        )
        res.items = [file_field_out(ctx.emu, ctx.portal, entity, r["ID"],
                                    list_row(r, p.get("SELECT"), entity)) for r in res.items]
        return res

    @method(f"{prefix}.fields", scope="crm")
    def fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (ftype, req, ro, multi, title) in ENTITY_FIELDS[entity].items():
            out[name] = {"type": ftype, "isRequired": req, "isReadOnly": ro,
                         "isImmutable": name == "CATEGORY_ID", "isMultiple": multi,
                         "isDynamic": False, "title": title}
        for uf in ctx.portal.userfields[UF_ENTITY[entity]]:
            out[uf["FIELD_NAME"]] = {
                "type": uf["USER_TYPE_ID"], "isRequired": uf["MANDATORY"] == "Y",
                "isReadOnly": False, "isImmutable": False, "isMultiple": uf["MULTIPLE"] == "Y",
                "isDynamic": True, "title": uf["FIELD_NAME"],
                "listLabel": uf.get("LIST_COLUMN_LABEL") or uf["FIELD_NAME"],
                "formLabel": uf.get("EDIT_FORM_LABEL") or uf["FIELD_NAME"],
                "filterLabel": uf.get("LIST_FILTER_LABEL") or uf["FIELD_NAME"],
                "settings": uf.get("SETTINGS") or {},
            }
        return out

    @method(f"{prefix}.userfield.add", scope="crm", admin=True)
    def uf_add(ctx: CallContext, params: dict[str, Any]) -> int:
        f = up(as_dict(up(params).get("FIELDS")))
        utype = str(f.get("USER_TYPE_ID") or "")
        name = str(f.get("FIELD_NAME") or "").upper()
        if not utype or not name:
            raise RestError("ERROR_CORE", "USER_TYPE_ID and FIELD_NAME are required", 400)
        if not name.startswith("UF_CRM_"):
            name = "UF_CRM_" + name
        if len(name) > 50 or not all(c.isalnum() or c == "_" for c in name):
            raise RestError("ERROR_CORE", "Invalid FIELD_NAME", 400)
        store = ctx.portal.userfields[UF_ENTITY[entity]]
        if any(u["FIELD_NAME"] == name for u in store):
            # api-reference/crm/requisites/user-fields/crm-requisite-userfield-add.md: a
            # second field of that name is ERROR_CORE (the deal page lists no code of its own)
            raise RestError("ERROR_CORE", f"Поле {name} для объекта {UF_ENTITY[entity]} уже "
                            "существует.", 400)
        uid = ctx.portal.new_userfield_id()
        label = f.get("LABEL")
        store.append({
            "ID": str(uid), "ENTITY_ID": UF_ENTITY[entity], "FIELD_NAME": name,
            "USER_TYPE_ID": utype, "XML_ID": f.get("XML_ID"), "SORT": str(f.get("SORT", 100)),
            "MULTIPLE": "Y" if str(f.get("MULTIPLE", "N")).upper() in ("Y", "1") else "N",
            "MANDATORY": "Y" if str(f.get("MANDATORY", "N")).upper() in ("Y", "1") else "N",
            "SHOW_FILTER": f.get("SHOW_FILTER", "N"), "SETTINGS": f.get("SETTINGS") or {},
            "EDIT_FORM_LABEL": f.get("EDIT_FORM_LABEL") or label,
            "LIST_COLUMN_LABEL": f.get("LIST_COLUMN_LABEL") or label,
            "LIST_FILTER_LABEL": f.get("LIST_FILTER_LABEL") or label,
        })
        return uid

    @method(f"{prefix}.userfield.list", scope="crm")
    def uf_list(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
        from ..listing import compile_filter, row_matches

        # crm-deal-userfield-list.md: filter[LANG] is no field; with it the labels come
        # as text in that language, without it they are left out
        flt = dict(as_dict(up(params).get("FILTER")))
        lang = flt.pop("LANG", None)
        labels = ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL")
        conds = compile_filter(flt)
        return [{k: v for k, v in u.items() if lang or k not in labels}
                for u in ctx.portal.userfields[UF_ENTITY[entity]] if row_matches(u, conds)]


for _entity in ENTITIES:
    _register(_entity)


def _sem(value: str | None) -> str | None:
    """crm.status.list reports S/F for final stages and null for the ones in work."""
    return value if value in ("S", "F") else None


SOURCES = (("CALL", "Call"), ("EMAIL", "E-Mail"), ("WEB", "Website"),
           ("ADVERTISING", "Advertising"), ("PARTNER", "Existing client"),
           ("RECOMMENDATION", "By recommendation"), ("WEBFORM", "CRM form"),
           ("CALLBACK", "Callback"), ("OTHER", "Other"))


def status_rows(portal: Portal) -> list[dict[str, Any]]:
    """Lead statuses, deal stages per pipeline and smart-process stages per category."""
    rows: list[dict[str, Any]] = []

    def add(entity_id: str, s: dict[str, Any], cat: Any) -> None:
        rows.append({"ID": str(len(rows) + 1), "ENTITY_ID": entity_id,
                     "STATUS_ID": s["STATUS_ID"], "NAME": s["NAME"], "NAME_INIT": s["NAME"],
                     "SORT": str(s["SORT"]), "SYSTEM": "N", "COLOR": s.get("COLOR"),
                     "SEMANTICS": _sem(s["SEMANTICS"]),
                     "CATEGORY_ID": None if cat is None else str(cat)})

    for s in portal.lead_statuses:
        add("STATUS", s, None)
    for code, name in SOURCES:  # the sources of leads and deals (ENTITY_ID SOURCE)
        add("SOURCE", {"STATUS_ID": code, "NAME": name, "SORT": 10 * (len(rows) + 1),
                       "SEMANTICS": None}, None)
    for cat, stages in portal.deal_stages.items():
        for s in stages:
            add("DEAL_STAGE" + (f"_{cat}" if cat else ""), s, cat)
    for type_id, spa in portal.crm_types.items():
        for c in spa["categories"]:
            for s in c["stages"]:
                add(f"DYNAMIC_{type_id}_STAGE_{c['id']}", s, c["id"])
    return rows


@method("crm.status.list", scope="crm")
def status_list(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Filtered by ENTITY_ID: STATUS, DEAL_STAGE[_<cat>], DYNAMIC_<type>_STAGE_<cat>."""
    from ..listing import compile_filter, parse_order, row_matches, sort_rows

    p = up(params)
    conds = compile_filter(p.get("FILTER"))
    rows = [r for r in status_rows(ctx.portal) if row_matches(r, conds)]
    if isinstance(p.get("ORDER"), dict):
        rows = sort_rows(rows, parse_order(p["ORDER"]))
    return rows


@method("crm.deal.contact.items.get", scope="crm")
def deal_contacts(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The contacts bound to a deal, the first one primary."""
    row = ctx.portal.deals.get(as_int(up(params).get("ID")))
    if row is None:
        raise not_found()
    ids = row.get("CONTACT_IDS") or ([row["CONTACT_ID"]] if row.get("CONTACT_ID") else [])
    return [{"CONTACT_ID": int(c), "SORT": (i + 1) * 10, "ROLE_ID": 0,
             "IS_PRIMARY": "Y" if i == 0 else "N"} for i, c in enumerate(ids)]


@method("crm.dealcategory.list", scope="crm")
def dealcategory_list(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(c) for cid, c in ctx.portal.deal_categories.items() if cid != 0]


@method("crm.dealcategory.stage.list", scope="crm")
def dealcategory_stages(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    cat = int(str(up(params).get("ID") or 0) or 0)
    return [dict(s) for s in ctx.portal.deal_stages.get(cat, [])]


@method("crm.timeline.comment.add", scope="crm")
def timeline_comment_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """Needs the lower-case ``fields`` key (crm 23.100.0+)."""
    if "fields" not in params:
        raise RestError("ERROR_ARGUMENT", 'Required parameter "fields" is missing', 400)
    f = up(as_dict(params["fields"]))
    etype = str(f.get("ENTITY_TYPE") or "").lower()
    if not f.get("ENTITY_ID") or not etype or not f.get("COMMENT"):
        raise RestError("ERROR_ARGUMENT", "ENTITY_ID, ENTITY_TYPE and COMMENT are required", 400)
    eid = as_int(f.get("ENTITY_ID"), "ENTITY_ID")
    if etype in ENTITIES and ctx.portal.table(etype).get(eid) is None:
        raise RestError("ERROR_NOT_FOUND", "Entity not found", 400)
    return comment_add(ctx.emu, ctx.portal, etype, eid, str(f["COMMENT"]), ctx.user_id)


def comment_add(emu: Emulator, portal: Portal, entity_type: str, entity_id: int, text: str,
                user_id: int) -> int:
    """A timeline comment by `user_id` (ENTITY_TYPE "deal", "lead", "dynamic_128", …)."""
    with emu.lock:
        portal.timeline.append({
            "ID": str(len(portal.timeline) + 1), "ENTITY_ID": str(entity_id),
            "ENTITY_TYPE": entity_type.lower(), "COMMENT": text, "AUTHOR_ID": str(user_id),
            "CREATED": emu.iso(), "FILES": {},
        })
        return len(portal.timeline)


@method("crm.timeline.comment.list", scope="crm")
def timeline_comment_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    """api-reference/crm/timeline/comments/crm-timeline-comment-list.md: filtered by the
    item (ENTITY_ID, ENTITY_TYPE) and any further field with the usual prefixes (>=CREATED);
    order by ID, CREATED or AUTHOR_ID; 50 per page with total."""
    from ..listing import compile_filter, page, parse_order, parse_start, row_matches, sort_rows

    p = up(params)
    conds = compile_filter(p.get("FILTER"))
    rows = [c for c in ctx.portal.timeline if row_matches(c, conds)]
    order = {k: v for k, v in as_dict(p.get("ORDER")).items()
             if str(k).upper() in ("ID", "CREATED", "AUTHOR_ID")}
    rows = sort_rows(rows, parse_order(order))
    start = max(parse_start(p.get("START", 0)), 0)
    res = page([dict(c) for c in rows], start, len(rows))
    res.items = select_fields_or_all(res.items, p.get("SELECT"))
    return res


def select_fields_or_all(rows: list[dict[str, Any]], select: Any) -> list[dict[str, Any]]:
    """The comment list's select: the named fields, or every field when none is named."""
    names = [str(n).upper() for n in (select if isinstance(select, list) else [])]
    if not names:
        return rows
    return [{k: v for k, v in r.items() if k in names or k == "ID"} for r in rows]


# ------------------------------------------------------------------ duplicates
DUP_TYPES = ("LEAD", "CONTACT", "COMPANY")


def _norm_comm(kind: str, value: Any) -> str:
    """Phones compare by digits only, e-mails case-insensitively."""
    text = str(value).strip()
    if kind == "PHONE":
        return "".join(ch for ch in text.split(";")[0] if ch.isdigit())
    return text.lower()


@method("crm.duplicate.findbycomm", scope="crm")
def duplicate_findbycomm(ctx: CallContext, params: dict[str, Any]) -> Any:
    """Leads, contacts and companies holding any of up to 20 phones or e-mails."""
    p = {str(k).lower(): v for k, v in params.items()}
    kind = str(p.get("type") or "").strip().upper()
    if kind not in ("EMAIL", "PHONE"):
        if not kind:
            raise RestError("Communication type is not defined",
                            "Parameter 'type' is required.", 400)
        text = f"Communication type '{kind}' is not supported in current context"
        raise RestError(text, text, 400)
    values = p.get("values")
    if isinstance(values, dict):
        values = list(values.values())
    if not isinstance(values, list) or not values:
        raise RestError("Communication values is not defined",
                        "Parameter 'values' is required.", 400)
    etype = str(p.get("entity_type") or p.get("entitytype") or "").strip().upper()
    if etype == "DEAL":
        text = "Deal is not supported in current context."
        raise RestError(text, text, 400)
    wanted = set()
    for v in values[:20]:  # the portal silently looks at the first 20 values only
        if isinstance(v, str | int) and str(v).strip():
            norm = _norm_comm(kind, v)
            if norm:
                wanted.add(norm)
    out: dict[str, list[int]] = {}
    for name in DUP_TYPES:
        if etype and etype != name:
            continue
        table = ctx.portal.table(name.lower())
        found: list[int] = []
        for row_id in table.ids:
            items = table.rows[row_id].get(kind) or []
            if any(_norm_comm(kind, x.get("VALUE", "")) in wanted for x in items):
                found.append(row_id)
                if len(found) >= 50:
                    break
        if found:
            out[name] = found
            if len(found) >= 20:
                break
    return out or []
