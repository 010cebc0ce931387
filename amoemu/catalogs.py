"""Catalogs («Списки») of API v4: catalogs, their elements, their custom fields, and the
links of elements to leads, contacts and companies.

Sources:
- CATALOGS = {DOCS}/crm/platform/catalogs-api (list/get/add/edit catalogs and elements):
  at most 10 catalogs per account; types regular, invoices, products (at most one each of
  the last two); `page`, `limit` ≤ 250, `query`, `filter[id]` on elements; batches with
  `request_id` echoed.
- FIELDS = {DOCS}/crm_platform/custom-fields: `/api/v4/catalogs/{catalog_id}/custom_fields`
  (GET ≤ 50 a request, POST admin only, PATCH); the type table says which types a catalog
  may have (no multitext, smart_address, birthday, legal_entity, tracking_data, monetary,
  chained_list); enums carry `code`.
- LINKS = {DOCS}/crm/platform/entity-links-api: `to_entity_type` catalog_elements with
  `metadata.catalog_id` and `metadata.quantity`.
Everything here runs under `state.lock` (amoemu.app takes it).
"""

from __future__ import annotations

import copy
from typing import Any

from amoemu import crm
from amoemu.state import (
    Account,
    ApiError,
    State,
    ValidationFailed,
    ints,
)

MAX_CATALOGS = 10  # CATALOGS "Общая информация": at most 10 catalogs in an account
CATALOG_TYPES = ("regular", "invoices", "products")  # CATALOGS; the last two at most once
# FIELDS "Таблица доступности": the types a catalog's field may have
FIELD_TYPES = {"text", "numeric", "checkbox", "select", "multiselect", "date", "url",
               "textarea", "radiobutton", "streetaddress", "date_time", "price", "category",
               "items", "linked_entity", "file", "payer", "supplier"}
ENUM_FIELDS = {"select", "multiselect", "radiobutton"}  # FIELDS: enums[0][code] for these


def fields_key(catalog_id: int) -> str:
    """Where a catalog's field definitions live in `Account.custom_fields`, so that
    crm.write_fields serves elements as it serves leads."""
    return f"catalogs:{catalog_id}"


def catalog_api(cat: dict[str, Any], base: str) -> dict[str, Any]:
    # CATALOGS "Параметры ответа" of a catalog
    return {**copy.deepcopy(cat), "_links": crm.links(base, f"/api/v4/catalogs/{cat['id']}")}


def element_api(el: dict[str, Any], base: str) -> dict[str, Any]:
    # CATALOGS "Доступные элементы списка": custom_fields_values null when empty
    out = {k: copy.deepcopy(v) for k, v in el.items()}
    out["custom_fields_values"] = out["custom_fields_values"] or None
    out["_links"] = crm.links(base, f"/api/v4/catalogs/{el['catalog_id']}/elements/{el['id']}")
    return out


def field_api(f: dict[str, Any], catalog_id: int, base: str) -> dict[str, Any]:
    # FIELDS PATCH example: catalog fields carry catalog_id, is_visible, is_required,
    # is_deletable, nested and entity_type "catalogs"
    out = {k: copy.deepcopy(v) for k, v in f.items() if k not in ("entity_type",)}
    out.update({"catalog_id": catalog_id, "entity_type": "catalogs"})
    out["_links"] = crm.links(base, f"/api/v4/catalogs/{catalog_id}/custom_fields/{f['id']}")
    return out


# catalogs ---------------------------------------------------------------------------------
def _catalog_errors(acc: Account, item: Any, creating: bool, adding: int
                    ) -> list[dict[str, str]]:
    if not isinstance(item, dict):
        return [crm._err("InvalidType", "", "This value should be of type object.")]
    errs = []
    if (creating or "name" in item) and (not isinstance(item.get("name"), str)
                                         or not item["name"].strip()):
        errs.append(crm._err("NotBlank", "name", "This value should not be blank."))
    if creating:
        kind = item.get("type", "regular")
        if kind not in CATALOG_TYPES:
            errs.append(crm._err("NotSupportedChoice", "type", crm.CHOICE))
        elif kind != "regular" and any(c["type"] == kind for c in acc.catalogs.values()):
            # CATALOGS: at most one catalog of invoices and one of products
            errs.append(crm._err("NotSupportedChoice", "type", crm.CHOICE))
        if len(acc.catalogs) + adding >= MAX_CATALOGS:
            # CATALOGS: at most 10; the error's code and text are OUR choice (README)
            errs.append(crm._err("TooManyCatalogs", "", "The account has 10 catalogs already"))
    return errs


def add_catalogs(state: State, acc: Account, items: list[Any], user_id: int
                 ) -> list[dict[str, Any]]:
    """POST /api/v4/catalogs: all or nothing, `request_id` echoed (CATALOGS)."""
    problems = []
    for i, item in enumerate(items):
        errs = _catalog_errors(acc, item, True, i)
        if errs:
            problems.append({"request_id": crm.request_id(item, i), "errors": errs})
    if problems:
        raise ValidationFailed(problems)
    out = []
    for i, item in enumerate(items):
        now = state.now()
        kind = item.get("type", "regular")
        cat = {"id": state.next_id("catalog"), "name": item["name"], "created_by": user_id,
               "updated_by": user_id, "created_at": now, "updated_at": now,
               "sort": int(item.get("sort") or 10 * (len(acc.catalogs) + 1)), "type": kind,
               "can_add_elements": bool(item.get("can_add_elements", True)),
               "can_show_in_cards": False,
               "can_link_multiple": bool(item.get("can_link_multiple", True)),
               "can_be_deleted": kind != "products", "sdk_widget_code": None,
               "account_id": acc.id}
        acc.catalogs[cat["id"]] = cat
        acc.catalog_elements[cat["id"]] = {}
        acc.custom_fields[fields_key(cat["id"])] = []
        out.append((cat, crm.request_id(item, i)))
    return [{**c, "request_id": rid} for c, rid in out]


def edit_catalogs(state: State, acc: Account, items: list[Any], user_id: int
                  ) -> list[dict[str, Any]]:
    """PATCH /api/v4/catalogs (each with `id`) or /catalogs/{id}: name, can_add_elements,
    can_link_multiple, sort (CATALOGS)."""
    problems = []
    for i, item in enumerate(items):
        errs = _catalog_errors(acc, item, False, 0)
        if isinstance(item, dict) and item.get("id") not in acc.catalogs:
            errs.append(crm._err("NotFound", "id", "Entity not found"))
        if errs:
            problems.append({"request_id": crm.request_id(item, i), "errors": errs})
    if problems:
        raise ValidationFailed(problems)
    out = []
    for i, item in enumerate(items):
        cat = acc.catalogs[item["id"]]
        for key in ("name", "can_add_elements", "can_link_multiple", "sort"):
            if key in item:
                cat[key] = item[key]
        cat["updated_at"], cat["updated_by"] = state.now(), user_id
        out.append({**cat, "request_id": crm.request_id(item, i)})
    return out


def catalog_of(acc: Account, catalog_id: int) -> dict[str, Any]:
    cat = acc.catalogs.get(catalog_id)
    if cat is None:
        # the docs are silent on a missing catalog's sub-resources: OUR choice is a 404
        raise ApiError(404, "Not Found", "Catalog not found")
    return cat


# elements ---------------------------------------------------------------------------------
def element_matches(el: dict[str, Any], flt: dict[str, Any], query: str) -> bool:
    """CATALOGS: `filter[id]` (one id or an array) and `query` (a search over the filled
    fields; how the real search tokenizes is not documented: here a case-insensitive
    substring of the name or of any field value)."""
    if el.get("is_deleted"):
        return False
    if "id" in flt and el["id"] not in ints(flt["id"]):
        return False
    if query:
        hay = [el["name"]] + [str(v.get("value", "")) for cf in el["custom_fields_values"]
                              for v in cf["values"]]
        if not any(query.lower() in h.lower() for h in hay):
            return False
    return True


def _apply_element(state: State, acc: Account, catalog_id: int, item: Any, user_id: int,
                   existing: dict[str, Any] | None
                   ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    if not isinstance(item, dict):
        return None, [crm._err("InvalidType", "", "This value should be of type object.")]
    errors: list[dict[str, str]] = []
    now = state.now()
    el = copy.deepcopy(existing) if existing else {
        "id": 0, "catalog_id": catalog_id, "name": "", "created_by": user_id,
        "updated_by": user_id, "created_at": now, "updated_at": now, "is_deleted": False,
        "custom_fields_values": [], "account_id": acc.id}
    if existing is None or "name" in item:
        if not isinstance(item.get("name"), str) or not item["name"].strip():
            # CATALOGS: name is required on add (and the edit table names it required too;
            # an edit that leaves it out keeps the name: OUR reading)
            errors.append(crm._err("NotBlank", "name", "This value should not be blank."))
        else:
            el["name"] = item["name"]
    crm.write_fields(acc, fields_key(catalog_id), el, item.get("custom_fields_values"),
                     errors)
    if errors:
        return None, errors
    if existing is None:
        el["id"] = state.next_id("element")
    el["updated_at"], el["updated_by"] = now, user_id
    return el, []


def write_elements(state: State, acc: Account, catalog_id: int, items: list[Any],
                   user_id: int, update: bool) -> list[tuple[dict[str, Any], str]]:
    """POST / PATCH /api/v4/catalogs/{id}/elements: all or nothing; any invalid item → 400
    with every item's errors by `request_id` (amocrm.md §5, as for leads)."""
    store = acc.catalog_elements[catalog_id]
    problems: list[dict[str, Any]] = []
    staged: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        rid = crm.request_id(item, i)
        existing = None
        if update:
            eid = item.get("id") if isinstance(item, dict) else None
            existing = store.get(eid) if isinstance(eid, int) else None
            if existing is None:
                problems.append({"request_id": rid, "errors": [crm._err(
                    "NotFound", "id", "Entity not found")]})
                continue
        el, errors = _apply_element(state, acc, catalog_id, item, user_id, existing)
        if errors:
            problems.append({"request_id": rid, "errors": errors})
        elif el is not None:
            staged.append(el)
    if problems:
        raise ValidationFailed(problems)
    for el in staged:
        store[el["id"]] = el
    return [(el, crm.request_id(item, i)) for i, (el, item) in enumerate(zip(staged, items,
                                                                            strict=True))]


# custom fields ----------------------------------------------------------------------------
def _enums(state: State, given: Any, old: list[dict[str, Any]] | None
           ) -> list[dict[str, Any]]:
    """FIELDS: enums [{value, sort, code}]; on PATCH those with an `id` keep it, the
    others are new. The docs do not say whether enums left out of a PATCH are removed:
    OUR reading is that the list given is the field's whole list (README)."""
    by_id = {e["id"]: e for e in old or []}
    out = []
    for n, e in enumerate(given if isinstance(given, list) else []):
        if not isinstance(e, dict) or not str(e.get("value") or "").strip():
            continue
        keep = by_id.get(e.get("id")) if e.get("id") is not None else None
        out.append({"id": keep["id"] if keep else state.next_id("enum"),
                    "value": str(e["value"]), "sort": int(e.get("sort") or n + 1),
                    "code": e.get("code", keep.get("code") if keep else None)})
    return sorted(out, key=lambda e: (e["sort"], e["id"]))


def add_fields(state: State, acc: Account, catalog_id: int, items: list[Any]
               ) -> list[tuple[dict[str, Any], str]]:
    """POST /api/v4/catalogs/{id}/custom_fields (FIELDS): `type` and `name` required; a
    select-like type needs enums."""
    problems = []
    for i, item in enumerate(items):
        errs = []
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            errs.append(crm._err("NotBlank", "name", "This value should not be blank."))
        elif item.get("type") not in FIELD_TYPES:
            errs.append(crm._err("NotSupportedChoice", "type", crm.CHOICE))
        elif item["type"] in ENUM_FIELDS and not item.get("enums"):
            # FIELDS: enums are required (✅) for multiselect, radiobutton, select
            errs.append(crm._err("NotBlank", "enums", "This value should not be blank."))
        if errs:
            problems.append({"request_id": crm.request_id(item, i), "errors": errs})
    if problems:
        raise ValidationFailed(problems)
    out = []
    for i, item in enumerate(items):
        f = state.add_field(acc, fields_key(catalog_id), item["name"], item["type"],
                            item.get("code"), None, int(item.get("sort") or 500))
        f["enums"] = _enums(state, item.get("enums"), None) if item["type"] in \
            ENUM_FIELDS else None
        # FIELDS: catalog fields have is_visible, is_required, is_deletable, settings
        f.update({"is_visible": bool(item.get("is_visible", True)),
                  "is_required": bool(item.get("is_required", False)),
                  "is_deletable": True, "settings": item.get("settings"), "nested": None})
        out.append((f, crm.request_id(item, i)))
    return out


def edit_fields(state: State, acc: Account, catalog_id: int, items: list[Any]
                ) -> list[tuple[dict[str, Any], str]]:
    """PATCH /api/v4/catalogs/{id}/custom_fields (FIELDS): each with its `id`; name, sort,
    code, is_visible, is_required, enums."""
    fields = {f["id"]: f for f in acc.custom_fields.get(fields_key(catalog_id), [])}
    problems = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("id") not in fields:
            problems.append({"request_id": crm.request_id(item, i), "errors": [
                crm._err("NotFound", "id", "Entity not found")]})
    if problems:
        raise ValidationFailed(problems)
    out = []
    for i, item in enumerate(items):
        f = fields[item["id"]]
        for key in ("name", "sort", "code", "is_visible", "is_required"):
            if key in item:
                f[key] = item[key]
        if "enums" in item and f["type"] in ENUM_FIELDS:
            f["enums"] = _enums(state, item["enums"], f["enums"])
        out.append((f, crm.request_id(item, i)))
    return out


def list_fields(acc: Account, catalog_id: int) -> list[dict[str, Any]]:
    return sorted(acc.custom_fields.get(fields_key(catalog_id), []),
                  key=lambda f: (f["sort"], f["id"]))


# links --------------------------------------------------------------------------------------
def link_element(acc: Account, entity: str, obj: dict[str, Any], item: dict[str, Any],
                 link: bool) -> dict[str, Any] | None:
    """POST /api/v4/{entity}/{id}/link|unlink with to_entity_type catalog_elements (LINKS):
    `metadata.catalog_id` names the catalog, `metadata.quantity` defaults to 1 (OUR
    default: the docs give none). None when the element does not exist."""
    meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    cid, eid = meta.get("catalog_id"), item.get("to_entity_id")
    if not isinstance(cid, int) or eid not in acc.catalog_elements.get(cid, {}):
        return None
    rows = obj.setdefault("catalog_elements", [])
    rows[:] = [r for r in rows if not (r["id"] == eid and r["catalog_id"] == cid)]
    if link:
        rows.append({"id": eid, "catalog_id": cid, "quantity": meta.get("quantity", 1),
                     "price_id": meta.get("price_id")})
    return {"quantity": meta.get("quantity", 1), "catalog_id": cid}


def link_rows(obj: dict[str, Any], flt: dict[str, Any]) -> list[dict[str, Any]]:
    """The element rows of GET /{entity}/{id}/links (LINKS): `filter[to_catalog_id]`, and
    `filter[to_entity_type]` with `filter[to_entity_id]`."""
    out = []
    for r in obj.get("catalog_elements") or []:
        if "to_catalog_id" in flt and r["catalog_id"] not in ints(flt["to_catalog_id"]):
            continue
        if "to_entity_type" in flt and "catalog_elements" not in str(flt["to_entity_type"]):
            continue
        if "to_entity_id" in flt and r["id"] not in ints(flt["to_entity_id"]):
            continue
        out.append({"to_entity_id": r["id"], "to_entity_type": "catalog_elements",
                    "metadata": {"quantity": r["quantity"], "catalog_id": r["catalog_id"],
                                 "price_id": r.get("price_id")}})
    return out
