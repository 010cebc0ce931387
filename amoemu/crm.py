"""The CRM rules of API v4: leads, contacts, companies, custom fields, tags, notes, tasks,
events and links; what each change fires (events, account webhooks).

Sources: amocrm.md §4 and the pages it cites under
https://www.amocrm.ru/developers/content/crm_platform/ (leads-api, contacts-api,
companies-api, custom-fields, events-and-notes, tasks-api, leads_pipelines, error-codes).
Every function is called under `state.lock` and returns, besides its answer, the webhook
events it fired: (code, entity, object, extra) tuples that amoemu.hooks turns into v2 bodies.
"""

from __future__ import annotations

import copy
from typing import Any

from amoemu.state import (
    ENTITIES,
    LOST,
    MAX_LIMIT,
    NOTE_TYPES,
    SINGULAR,
    WON,
    Account,
    ApiError,
    State,
    ValidationFailed,
    as_list,
    ints,
    to_ts,
)

Hook = tuple[str, str, dict[str, Any], dict[str, Any]]


def _err(code: str, path: str, detail: str) -> dict[str, str]:
    return {"code": code, "path": path, "detail": detail}


CHOICE = "The value you selected is not a valid choice."  # amocrm.md §5 (error-codes)


# custom fields (amocrm.md §4.6) -----------------------------------------------------------
def _field(acc: Account, entity: str, cf: dict[str, Any]) -> dict[str, Any] | None:
    fields = acc.custom_fields.get(entity, [])
    # amocrm.md §4.6: the SDK sends both field_id and field_code, one of them may be null
    if cf.get("field_id") is not None:
        return next((f for f in fields if str(f["id"]) == str(cf["field_id"])), None)
    if cf.get("field_code"):
        return next((f for f in fields if f["code"] == str(cf["field_code"]).upper()), None)
    return None


def _value(f: dict[str, Any], v: dict[str, Any], path: str,
           errors: list[dict[str, str]]) -> dict[str, Any] | None:
    """One value written to a field, stored as GET answers it (amocrm.md §4.6)."""
    t = f["type"]
    if not isinstance(v, dict):
        errors.append(_err("InvalidType", path, "This value should be of type object."))
        return None
    if t in ("select", "multiselect", "radiobutton", "category"):
        # amocrm.md §4.6: value or enum_id or enum_code; a bad one → NotSupportedChoice
        enums = f["enums"] or []
        e = None
        if v.get("enum_id") is not None:
            e = next((x for x in enums if str(x["id"]) == str(v["enum_id"])), None)
            where = f"{path}.enum_id"
        elif v.get("enum_code") is not None:
            e = next((x for x in enums if x.get("code") == v["enum_code"]), None)
            where = f"{path}.enum_code"
        else:
            e = next((x for x in enums if x["value"] == v.get("value")), None)
            where = f"{path}.value"
        if e is None:
            errors.append(_err("NotSupportedChoice", where, CHOICE))
            return None
        return {"value": e["value"], "enum_id": e["id"], "enum_code": e.get("code")}
    if t == "multitext":
        # amocrm.md §4.3: PHONE/EMAIL values carry enum_id or enum_code (WORK, MOB, …)
        enums = f["enums"] or []
        code = v.get("enum_code")
        e = (next((x for x in enums if str(x["id"]) == str(v.get("enum_id"))), None)
             if v.get("enum_id") is not None else
             next((x for x in enums if x["value"] == (code or "WORK")), None))
        if e is None:
            errors.append(_err("NotSupportedChoice", f"{path}.enum_code", CHOICE))
            return None
        return {"value": str(v.get("value", "")), "enum_id": e["id"], "enum_code": e["value"]}
    raw = v.get("value")
    if t in ("date", "date_time", "birthday"):
        # amocrm.md §4.6: a Unix timestamp or an RFC-3339 string
        try:
            return {"value": to_ts(raw)}
        except (TypeError, ValueError):
            errors.append(_err("InvalidType", f"{path}.value", "This value is not valid."))
            return None
    if t in ("numeric", "monetary", "price"):
        try:
            float(raw)
        except (TypeError, ValueError):
            errors.append(_err("InvalidType", f"{path}.value",
                               "This value should be of type numeric."))
            return None
        return {"value": raw}
    if t == "checkbox":
        return {"value": bool(raw)}
    if t == "file":
        return {"value": raw}  # amocrm.md §4.6: {file_uuid, version_uuid, file_name, …}
    return {"value": "" if raw is None else str(raw)}


def write_fields(acc: Account, entity: str, obj: dict[str, Any], cfv: Any,
                 errors: list[dict[str, str]]) -> bool:
    """custom_fields_values on add/update (amocrm.md §4.6): each listed field is replaced,
    `values: null` clears it, unlisted fields stay."""
    if cfv is None:
        return False
    if not isinstance(cfv, list):
        errors.append(_err("InvalidType", "custom_fields_values",
                           "This value should be of type array."))
        return False
    changed = False
    current = {c["field_id"]: c for c in obj["custom_fields_values"]}
    for i, cf in enumerate(cfv):
        f = _field(acc, entity, cf if isinstance(cf, dict) else {})
        if f is None:
            # amocrm.md §5 (error-codes): NotSupportedChoice at custom_fields_values.0.field_id
            errors.append(_err("NotSupportedChoice", f"custom_fields_values.{i}.field_id",
                               CHOICE))
            continue
        values = cf.get("values")
        if values is None:
            changed |= current.pop(f["id"], None) is not None
            continue
        out = []
        for j, v in enumerate(values if isinstance(values, list) else []):
            stored = _value(f, v, f"custom_fields_values.{i}.values.{j}", errors)
            if stored is not None:
                out.append(stored)
        if f["type"] not in ("multiselect", "multitext", "category") and len(out) > 1:
            out = out[:1]
        new = {"field_id": f["id"], "field_name": f["name"], "field_code": f["code"],
               "field_type": f["type"], "values": out}
        if not out:
            changed |= current.pop(f["id"], None) is not None
        elif current.get(f["id"]) != new:
            current[f["id"]] = new
            changed = True
    obj["custom_fields_values"] = list(current.values())
    return changed


# tags (amocrm.md §4.2 "Tags") -----------------------------------------------------------
def _tag(acc: Account, entity: str, t: dict[str, Any], state: State) -> int | None:
    tags = acc.tags.setdefault(entity, {})
    if t.get("id") is not None:
        return next((x["id"] for x in tags.values() if x["id"] == int(t["id"])), None)
    name = str(t.get("name") or "").strip()
    if not name:
        return None
    if name not in tags:
        tags[name] = {"id": state.next_id("tag"), "name": name, "color": None}
    return tags[name]["id"]


def write_tags(state: State, acc: Account, entity: str, obj: dict[str, Any],
               item: dict[str, Any]) -> bool:
    """`_embedded.tags` replaces the list (null clears it); `tags_to_add` /
    `tags_to_delete` change it (amocrm.md §4.2; {DOCS}/crm_platform/leads-api)."""
    before = list(obj["tags"])
    emb = item.get("_embedded") if isinstance(item.get("_embedded"), dict) else {}
    if "tags" in emb:
        obj["tags"] = [i for i in (_tag(acc, entity, t, state) for t in emb["tags"] or [])
                       if i is not None]
    for t in item.get("tags_to_add") or []:
        i = _tag(acc, entity, t, state)
        if i is not None and i not in obj["tags"]:
            obj["tags"].append(i)
    for t in item.get("tags_to_delete") or []:
        i = _tag(acc, entity, t, state)
        if i in obj["tags"]:
            obj["tags"].remove(i)
    return before != obj["tags"]


def tag_list(acc: Account, entity: str, ids: list[int]) -> list[dict[str, Any]]:
    by_id = {t["id"]: t for t in acc.tags.get(entity, {}).values()}
    return [dict(by_id[i]) for i in ids if i in by_id]


# entities ------------------------------------------------------------------------------
def blank(state: State, acc: Account, entity: str, user_id: int) -> dict[str, Any]:
    now = state.now()
    obj: dict[str, Any] = {
        "id": state.next_id(SINGULAR[entity] if entity != "companies" else "company"),
        "name": "", "responsible_user_id": user_id, "group_id": 0, "created_by": user_id,
        "updated_by": user_id, "created_at": now, "updated_at": now, "closest_task_at": None,
        "is_deleted": False, "custom_fields_values": [], "account_id": acc.id, "tags": [],
        "companies": [], "contacts": []}
    if entity == "leads":
        main = acc.main_pipeline()
        obj.update({"price": 0, "status_id": first_stage(main), "pipeline_id": main["id"],
                    "loss_reason_id": None, "source_id": None, "closed_at": None,
                    "score": None, "is_price_modified_by_robot": False})
    if entity == "contacts":
        obj.update({"first_name": "", "last_name": "", "is_unsorted": False})
    return obj


def first_stage(pipeline: dict[str, Any]) -> int:
    """amocrm.md §4.2: a new lead defaults to the first stage of the main pipeline (the
    first after the unsorted status, type 1)."""
    return next(s["id"] for s in pipeline["statuses"] if s["type"] == 0)


def _links(obj: dict[str, Any], entity: str, item: dict[str, Any],
           acc: Account, errors: list[dict[str, str]]) -> bool:
    """`_embedded.contacts` ({id, is_main}) and `_embedded.companies` ({id}) link the lead
    (amocrm.md §4.2); a contact's `_embedded.companies` links its company (§4.3)."""
    emb = item.get("_embedded") if isinstance(item.get("_embedded"), dict) else {}
    changed = False
    if entity == "leads" and isinstance(emb.get("contacts"), list):
        for i, c in enumerate(emb["contacts"]):
            cid = int(c.get("id") or 0) if isinstance(c, dict) else 0
            if cid not in acc.contacts:
                errors.append(_err("NotSupportedChoice", f"_embedded.contacts.{i}.id", CHOICE))
                continue
            main = bool(c.get("is_main")) or not obj["contacts"]
            if main:
                obj["contacts"] = [[x, False] for x, _ in obj["contacts"]]
            obj["contacts"] = [x for x in obj["contacts"] if x[0] != cid] + [[cid, main]]
            changed = True
    if entity in ("leads", "contacts") and isinstance(emb.get("companies"), list):
        for i, c in enumerate(emb["companies"]):
            cid = int(c.get("id") or 0) if isinstance(c, dict) else 0
            if cid not in acc.companies:
                errors.append(_err("NotSupportedChoice", f"_embedded.companies.{i}.id",
                                   CHOICE))
                continue
            obj["companies"] = [cid]  # amocrm.md §4.2: at most one company
            changed = True
    return changed


def apply(state: State, acc: Account, entity: str, item: Any, user_id: int,
          existing: dict[str, Any] | None) -> tuple[dict[str, Any] | None,
                                                     list[dict[str, str]], list[Hook]]:
    """Add (existing None) or update one lead/contact/company from an API item."""
    errors: list[dict[str, str]] = []
    if not isinstance(item, dict):
        return None, [_err("InvalidType", "", "This value should be of type object.")], []
    obj = copy.deepcopy(existing) if existing else blank(state, acc, entity, user_id)
    before = copy.deepcopy(obj)
    for key in ("name", "first_name", "last_name"):
        if key in item and (entity == "contacts" or key == "name"):
            if not isinstance(item[key], str | type(None)):
                errors.append(_err("InvalidType", key, "This value should be of type string."))
            else:
                obj[key] = item[key] or ""
    if entity == "contacts" and ("first_name" in item or "last_name" in item) and \
            "name" not in item:
        obj["name"] = " ".join(x for x in (obj["first_name"], obj["last_name"]) if x)
    for key in ("responsible_user_id", "created_by", "updated_by", "group_id"):
        if key in item:
            if not isinstance(item[key], int) or isinstance(item[key], bool):
                errors.append(_err("InvalidType", key, "This value should be of type int."))
            elif key == "responsible_user_id" and acc.user(item[key]) is None:
                errors.append(_err("NotSupportedChoice", key, CHOICE))
            else:
                obj[key] = item[key]
    for key in ("created_at", "updated_at", "closed_at"):
        if key in item and item[key] is not None:
            if not isinstance(item[key], int):
                errors.append(_err("InvalidType", key, "This value should be of type int."))
            elif key != "closed_at" or entity == "leads":
                obj[key] = item[key]
    if entity == "leads":
        if "price" in item:
            if item["price"] is not None and (not isinstance(item["price"], int) or
                                              isinstance(item["price"], bool)):
                errors.append(_err("InvalidType", "price", "This value should be of type int."))
            else:
                obj["price"] = item["price"] or 0
        for key in ("loss_reason_id", "source_id", "score"):
            if key in item:
                obj[key] = item[key]
        _status(acc, obj, item, existing is not None, errors)
    write_fields(acc, entity, obj, item.get("custom_fields_values"), errors)
    write_tags(state, acc, entity, obj, item)
    _links(obj, entity, item, acc, errors)
    if errors:
        return None, errors, []
    changed = {k for k in obj if obj[k] != before.get(k)} - {"updated_at"}
    if existing is not None and not changed:
        return obj, [], []
    now = state.now()
    if "updated_at" not in item:
        obj["updated_at"] = now if existing else obj["created_at"]
    if "updated_by" not in item:
        obj["updated_by"] = user_id
    hooks = record(state, acc, entity, obj, before if existing else None, user_id)
    acc.store(entity)[obj["id"]] = obj
    return obj, [], hooks


def _status(acc: Account, obj: dict[str, Any], item: dict[str, Any], update: bool,
            errors: list[dict[str, str]]) -> None:
    """amocrm.md §4.2 / {DOCS}/crm_platform/leads_pipelines: moving to another pipeline
    takes both pipeline_id and status_id; 142/143 exist in every pipeline; a status of
    another pipeline without its pipeline_id is refused. Closing sets closed_at."""
    pid = item.get("pipeline_id")
    sid = item.get("status_id")
    if pid is None and sid is None:
        return
    if pid is not None and pid not in acc.pipelines:
        errors.append(_err("NotSupportedChoice", "pipeline_id", CHOICE))
        return
    target = acc.pipelines[pid] if pid is not None else acc.pipelines[obj["pipeline_id"]]
    if sid is None:
        if update and pid != obj["pipeline_id"]:
            # amocrm.md §4.2: "Move to another pipeline: PATCH with both pipeline_id and
            # status_id" — OUR answer for pipeline_id alone is this validation error
            errors.append(_err("NotBlank", "status_id", "This value should not be blank."))
            return
        sid = obj["status_id"] if not update or pid == obj["pipeline_id"] else None
        if not update:
            sid = first_stage(target)
    if sid not in {s["id"] for s in target["statuses"]}:
        errors.append(_err("NotSupportedChoice", "status_id", CHOICE))
        return
    obj["pipeline_id"], obj["status_id"] = target["id"], sid


def record(state: State, acc: Account, entity: str, obj: dict[str, Any],
           before: dict[str, Any] | None, user_id: int) -> list[Hook]:
    """The events (amocrm.md §4.9) and webhook events (amocrm.md §2.1) of a change."""
    one = SINGULAR[entity]
    hooks: list[Hook] = []
    if before is None:
        if entity == "leads" and obj["status_id"] in (WON, LOST):
            obj["closed_at"] = obj["closed_at"] or obj["created_at"]
        state.add_event(acc, f"{one}_added", one, obj["id"], user_id, [], [])
        hooks.append((f"add_{one}", entity, copy.deepcopy(obj), {}))
        return hooks
    extra: dict[str, Any] = {}
    if entity == "leads" and (obj["status_id"], obj["pipeline_id"]) != \
            (before["status_id"], before["pipeline_id"]):
        # amocrm.md §4.9: lead_status_changed, value_after/value_before
        # [{"lead_status": {"id", "pipeline_id"}}]
        state.add_event(acc, "lead_status_changed", "lead", obj["id"], user_id,
                        [{"lead_status": {"id": obj["status_id"],
                                          "pipeline_id": obj["pipeline_id"]}}],
                        [{"lead_status": {"id": before["status_id"],
                                          "pipeline_id": before["pipeline_id"]}}])
        if obj["status_id"] in (WON, LOST):
            obj["closed_at"] = state.now()  # amocrm.md §4.2 closed_at
        elif before["status_id"] in (WON, LOST):
            obj["closed_at"] = None  # reopened: OUR choice (the docs are silent)
        extra = {"old_status_id": before["status_id"],
                 "old_pipeline_id": before["pipeline_id"]}
        hooks.append(("status_lead", entity, copy.deepcopy(obj), extra))
    if obj["responsible_user_id"] != before["responsible_user_id"]:
        state.add_event(acc, "entity_responsible_changed", one, obj["id"], user_id,
                        [{"responsible_user": {"id": obj["responsible_user_id"]}}],
                        [{"responsible_user": {"id": before["responsible_user_id"]}}])
        hooks.append((f"responsible_{one}", entity, copy.deepcopy(obj),
                      {"old_responsible_user_id": before["responsible_user_id"]}))
    if entity == "leads" and obj["price"] != before["price"]:
        state.add_event(acc, "sale_field_changed", "lead", obj["id"], user_id,
                        [{"sale_field_value": {"sale": obj["price"]}}],
                        [{"sale_field_value": {"sale": before["price"]}}])
    if obj["name"] != before["name"]:
        state.add_event(acc, "name_field_changed", one, obj["id"], user_id,
                        [{"name_field_value": {"name": obj["name"]}}],
                        [{"name_field_value": {"name": before["name"]}}])
    hooks.append((f"update_{one}", entity, copy.deepcopy(obj), extra))
    return hooks


def delete(state: State, acc: Account, entity: str, obj_id: int, user_id: int) -> list[Hook]:
    obj = acc.store(entity).pop(obj_id, None)
    if obj is None:
        return []
    one = SINGULAR[entity]
    state.add_event(acc, f"{one}_deleted", one, obj_id, user_id, [], [])
    return [(f"delete_{one}", entity, obj, {})]


# serialization (v4) ----------------------------------------------------------------------
def links(base: str, path: str) -> dict[str, Any]:
    return {"self": {"href": f"{base}{path}"}}


def to_api(acc: Account, entity: str, obj: dict[str, Any], base: str,
           with_: set[str]) -> dict[str, Any]:
    """A lead/contact/company as GET answers it (amocrm.md §4.2–4.3)."""
    skip = {"tags", "companies", "contacts", "is_price_modified_by_robot"}
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in skip}
    # amocrm.md §4.2: custom_fields_values is null when empty
    out["custom_fields_values"] = out["custom_fields_values"] or None
    if entity == "leads" and "is_price_modified_by_robot" in with_:
        out["is_price_modified_by_robot"] = obj["is_price_modified_by_robot"]
    out["_links"] = links(base, f"/api/v4/{entity}/{obj['id']}")
    emb: dict[str, Any] = {"tags": tag_list(acc, entity, obj["tags"])}
    # amocrm.md §4.2: _embedded.companies is always present (at most one element)
    if entity != "companies":
        emb["companies"] = [{"id": c, "_links": links(base, f"/api/v4/companies/{c}")}
                            for c in obj["companies"]]
    if entity == "leads" and "contacts" in with_:
        emb["contacts"] = [{"id": c, "is_main": m, "_links": links(base,
                                                                  f"/api/v4/contacts/{c}")}
                           for c, m in obj["contacts"]]
    if entity == "leads" and "loss_reason" in with_:
        emb["loss_reason"] = []
    if entity in ("contacts", "companies") and "leads" in with_:
        emb["leads"] = [{"id": lid, "_links": links(base, f"/api/v4/leads/{lid}")}
                        for lid in linked_leads(acc, entity, obj["id"])]
    if entity == "companies" and "contacts" in with_:
        emb["contacts"] = [{"id": c["id"], "_links": links(base, f"/api/v4/contacts/{c['id']}")}
                           for c in acc.contacts.values() if obj["id"] in c["companies"]]
    if "catalog_elements" in with_:
        emb["catalog_elements"] = []
    if entity != "leads" and "customers" in with_:
        emb["customers"] = []
    out["_embedded"] = emb
    return out


def linked_leads(acc: Account, entity: str, obj_id: int) -> list[int]:
    if entity == "contacts":
        return [lead["id"] for lead in acc.leads.values()
                if any(c == obj_id for c, _ in lead["contacts"])]
    return [lead["id"] for lead in acc.leads.values() if obj_id in lead["companies"]]


# lists and filters (amocrm.md §4.1) ------------------------------------------------------
def _range(obj_value: Any, spec: Any) -> bool:
    if obj_value is None:
        return False
    if isinstance(spec, dict):
        lo, hi = spec.get("from"), spec.get("to")
        return (lo in (None, "") or obj_value >= int(lo)) and \
            (hi in (None, "") or obj_value <= int(hi))
    values = ints(spec)
    if len(values) == 2:  # the SDK's comma form ts1,ts2 (amocrm.md §4.1)
        return values[0] <= obj_value <= values[1]
    if len(values) == 1:
        return obj_value >= values[0]
    return True


def matches(acc: Account, entity: str, obj: dict[str, Any], flt: dict[str, Any],
            query: str) -> bool:
    """filter[...] of {DOCS}/crm_platform/filters-api as amocrm.md §4.1 lists them."""
    if "id" in flt and obj["id"] not in ints(flt["id"]):
        return False
    if "name" in flt and obj["name"] not in [str(x) for x in as_list(flt["name"])]:
        return False
    for key in ("responsible_user_id", "created_by", "updated_by"):
        if key in flt and obj[key] not in ints(flt[key]):
            return False
    for key in ("created_at", "updated_at", "closed_at", "closest_task_at"):
        if key in flt and key in obj and not _range(obj[key], flt[key]):
            return False
    if entity == "leads":
        if "price" in flt and not _range(obj["price"], flt["price"]):
            return False
        if "pipeline_id" in flt and obj["pipeline_id"] not in ints(flt["pipeline_id"]):
            return False
        if "statuses" in flt:
            pairs = [s for s in as_list(flt["statuses"]) if isinstance(s, dict)]
            if not any(int(s.get("status_id", -1)) == obj["status_id"] and
                       int(s.get("pipeline_id", obj["pipeline_id"])) == obj["pipeline_id"]
                       for s in pairs):
                return False
    if query:
        hay = [obj["name"], str(obj["id"])] + [str(v.get("value", "")) for cf in
                                               obj["custom_fields_values"]
                                               for v in cf["values"]]
        if not any(query.lower() in h.lower() for h in hay):
            return False
    return True


def page_args(args: dict[str, Any], cap: int = MAX_LIMIT) -> tuple[int, int]:
    """page (from 1) and limit; above the cap the limit silently falls back to it
    (amocrm.md §8.8; {DOCS}/api/recommendations)."""
    try:
        page = max(1, int(args.get("page") or 1))
    except (TypeError, ValueError):
        page = 1
    try:
        limit = int(args.get("limit") or 50)
    except (TypeError, ValueError):
        limit = 50
    if limit <= 0:
        limit = 50
    return page, min(limit, cap)


def order(rows: list[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    """order[created_at|updated_at|id]=asc|desc (amocrm.md §4.1); by id ascending else."""
    rows = sorted(rows, key=lambda r: r["id"])
    if isinstance(spec, dict):
        for key, direction in spec.items():
            if key in ("created_at", "updated_at", "id", "sort", "complete_till"):
                rows.sort(key=lambda r, k=key: (r.get(k) is None, r.get(k) or 0),
                          reverse=str(direction).lower() == "desc")
    return rows


def validate_batch(items: Any, cap: int = MAX_LIMIT) -> list[Any]:
    if not isinstance(items, list):
        items = [items] if isinstance(items, dict) else None
    if items is None:
        raise ApiError(400, "Bad Request", "Request body must be a JSON array")
    if not items:
        raise ApiError(400, "Bad Request", "Request body is empty")
    if len(items) > cap:
        # amocrm.md §5: at most 250 entities per create/update request; the body is ours
        raise ApiError(400, "Bad Request", f"Too many entities in one request (max {cap})")
    return items


def request_id(item: Any, index: int) -> str:
    """amocrm.md §4.2: request_id echoes the value sent per item or its index as a string."""
    if isinstance(item, dict) and item.get("request_id") not in (None, ""):
        return str(item["request_id"])
    return str(index)


def batch(state: State, acc: Account, entity: str, items: list[Any], user_id: int,
          update: bool, base: str) -> tuple[list[dict[str, Any]], list[Hook]]:
    """POST/PATCH /api/v4/{entity}: all or nothing — any invalid item → 400 with every
    item's errors keyed by request_id (amocrm.md §5)."""
    results: list[tuple[dict[str, Any], str]] = []
    problems: list[dict[str, Any]] = []
    staged: list[dict[str, Any] | None] = []
    for i, item in enumerate(items):
        rid = request_id(item, i)
        existing = None
        if update:
            oid = item.get("id") if isinstance(item, dict) else None
            existing = acc.store(entity).get(oid) if isinstance(oid, int) else None
            if existing is None:
                problems.append({"request_id": rid, "errors": [
                    _err("NotFound" if isinstance(oid, int) else "NotBlank", "id",
                         "Entity not found" if isinstance(oid, int) else
                         "This value should not be blank.")]})
                staged.append(None)
                continue
        staged.append(existing)
    if problems:
        raise ValidationFailed(problems)
    snapshot = {e: copy.deepcopy(acc.store(e)) for e in ENTITIES}
    events_before = len(acc.events)
    tags_before = copy.deepcopy(acc.tags)
    hooks: list[Hook] = []
    for i, item in enumerate(items):
        rid = request_id(item, i)
        obj, errors, fired = apply(state, acc, entity, item, user_id, staged[i])
        if errors:
            problems.append({"request_id": rid, "errors": errors})
            continue
        assert obj is not None
        results.append((obj, rid))
        hooks.extend(fired)
    if problems:
        for e in ENTITIES:  # nothing of a refused batch stays
            acc.store(e).clear()
            acc.store(e).update(snapshot[e])
        del acc.events[events_before:]
        acc.tags = tags_before
        raise ValidationFailed(problems)
    out = []
    for obj, rid in results:
        if update:
            # amocrm.md §4.2 Update: {"id", "updated_at", "_links"}
            out.append({"id": obj["id"], "updated_at": obj["updated_at"], "request_id": rid,
                        "_links": links(base, f"/api/v4/{entity}/{obj['id']}")})
        else:
            # amocrm.md §4.2 Create: {"id", "request_id", "_links"}
            out.append({"id": obj["id"], "request_id": rid,
                        "_links": links(base, f"/api/v4/{entity}/{obj['id']}")})
    return out, hooks


# notes (amocrm.md §4.7) ---------------------------------------------------------------
def add_note(state: State, acc: Account, entity: str, item: Any, user_id: int,
             entity_id: int | None, path_prefix: str = "") -> tuple[dict[str, Any] | None,
                                                                     list[dict[str, str]]]:
    errors: list[dict[str, str]] = []
    if not isinstance(item, dict):
        return None, [_err("InvalidType", "", "This value should be of type object.")]
    eid = entity_id if entity_id is not None else item.get("entity_id")
    if not isinstance(eid, int) or eid not in acc.store(entity):
        errors.append(_err("NotSupportedChoice", "entity_id", CHOICE))
    note_type = item.get("note_type")
    if note_type not in NOTE_TYPES:
        errors.append(_err("NotSupportedChoice", "note_type", CHOICE))
    params = item.get("params") if isinstance(item.get("params"), dict) else {}
    if note_type in ("common", "service_message", "extended_service_message") and \
            not params.get("text"):
        errors.append(_err("NotBlank", "params.text", "This value should not be blank."))
    if note_type in ("service_message", "extended_service_message") and \
            not params.get("service"):
        errors.append(_err("NotBlank", "params.service", "This value should not be blank."))
    if note_type == "attachment":
        # amocrm.md §4.7: params file_uuid (+ version_uuid, file_name); uploaded first
        f = state.files.get(str(params.get("file_uuid") or ""))
        if f is None:
            errors.append(_err("NotSupportedChoice", "params.file_uuid", CHOICE))
        else:
            params = {"file_uuid": f["uuid"],
                      "version_uuid": params.get("version_uuid") or f["version_uuid"],
                      "file_name": params.get("file_name") or f["name"],
                      "original_name": f["name"], "is_drive_attachment": True,
                      "text": params.get("file_name") or f["name"]}
    if errors:
        return None, errors
    now = state.now()
    note = {"id": state.next_id("note"), "entity_id": eid, "entity_type": entity,
            "created_by": item.get("created_by", user_id), "updated_by": user_id,
            "created_at": item.get("created_at") or now, "updated_at": now,
            "responsible_user_id": item.get("responsible_user_id", user_id), "group_id": 0,
            "note_type": note_type, "params": params, "account_id": acc.id,
            "is_needs_to_be_processed": False}
    acc.notes[note["id"]] = note
    one = SINGULAR[entity]
    type_map = {"common": "common_note_added", "service_message": "service_note_added",
                "attachment": "attachment_note_added"}
    state.add_event(acc, type_map.get(note_type, f"{note_type}_note_added"), one, eid,
                    user_id, [{"note": {"id": note["id"]}}], [])
    return note, []


def note_api(note: dict[str, Any], base: str) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in note.items() if k != "entity_type"}
    out["_links"] = links(base, f"/api/v4/{note['entity_type']}/{note['entity_id']}/notes/"
                                f"{note['id']}")
    return out


# tasks (amocrm.md §4.8) --------------------------------------------------------------
def apply_task(state: State, acc: Account, item: Any, user_id: int,
               existing: dict[str, Any] | None) -> tuple[dict[str, Any] | None,
                                                         list[dict[str, str]]]:
    """{DOCS}/crm_platform/tasks-api: required text and complete_till on add; optional
    entity_id, entity_type, task_type_id (1 follow-up, 2 meeting), responsible_user_id
    (default the current user), duration, is_completed, result.text."""
    errors: list[dict[str, str]] = []
    if not isinstance(item, dict):
        return None, [_err("InvalidType", "", "This value should be of type object.")]
    now = state.now()
    task = copy.deepcopy(existing) if existing else {
        "id": state.next_id("task"), "created_by": user_id, "updated_by": user_id,
        "created_at": now, "updated_at": now, "responsible_user_id": user_id, "group_id": 0,
        "entity_id": None, "entity_type": None, "duration": 0, "is_completed": False,
        "task_type_id": 1, "text": "", "result": [], "complete_till": None,
        "account_id": acc.id}
    if existing is None:
        if not item.get("text"):
            errors.append(_err("NotBlank", "text", "This value should not be blank."))
        if item.get("complete_till") is None:
            errors.append(_err("NotBlank", "complete_till", "This value should not be blank."))
    if "complete_till" in item and item["complete_till"] is not None and \
            not isinstance(item["complete_till"], int):
        errors.append(_err("InvalidType", "complete_till", "This value should be of type int."))
    if item.get("entity_type") is not None:
        if item["entity_type"] not in ENTITIES:
            errors.append(_err("NotSupportedChoice", "entity_type", CHOICE))
        elif item.get("entity_id") not in acc.store(item["entity_type"]):
            errors.append(_err("NotSupportedChoice", "entity_id", CHOICE))
    if item.get("task_type_id") not in (None, 1, 2):
        errors.append(_err("NotSupportedChoice", "task_type_id", CHOICE))
    if item.get("responsible_user_id") is not None and \
            acc.user(item["responsible_user_id"]) is None:
        errors.append(_err("NotSupportedChoice", "responsible_user_id", CHOICE))
    if errors:
        return None, errors
    for key in ("text", "complete_till", "entity_id", "entity_type", "task_type_id",
                "responsible_user_id", "duration", "is_completed"):
        if key in item and item[key] is not None:
            task[key] = item[key]
    if isinstance(item.get("result"), dict):
        task["result"] = {"text": item["result"].get("text", "")}
    task["updated_at"] = now
    task["updated_by"] = user_id
    acc.tasks[task["id"]] = task
    if task["entity_type"] in ENTITIES and task["entity_id"] in acc.store(task["entity_type"]):
        open_ = [t["complete_till"] for t in acc.tasks.values()
                 if t["entity_type"] == task["entity_type"] and
                 t["entity_id"] == task["entity_id"] and not t["is_completed"]]
        # closest_task_at on the entity (amocrm.md §4.2 fields)
        acc.store(task["entity_type"])[task["entity_id"]]["closest_task_at"] = \
            min(open_) if open_ else None
    if existing is None:
        state.add_event(acc, "task_added", "task", task["id"], user_id, [], [])
    elif task["is_completed"] and not existing["is_completed"]:
        state.add_event(acc, "task_completed", "task", task["id"], user_id, [], [])
    return task, []


def task_matches(task: dict[str, Any], flt: dict[str, Any]) -> bool:
    if "id" in flt and task["id"] not in ints(flt["id"]):
        return False
    if "responsible_user_id" in flt and task["responsible_user_id"] not in \
            ints(flt["responsible_user_id"]):
        return False
    if "is_completed" in flt:
        want = str(as_list(flt["is_completed"])[0]).lower() in ("1", "true")
        if task["is_completed"] != want:
            return False
    if "task_type" in flt and task["task_type_id"] not in ints(flt["task_type"]):
        return False
    if "entity_type" in flt and task["entity_type"] not in as_list(flt["entity_type"]):
        return False
    if "entity_id" in flt and task["entity_id"] not in ints(flt["entity_id"]):
        return False
    return "updated_at" not in flt or _range(task["updated_at"], flt["updated_at"])


# events (amocrm.md §4.9) ---------------------------------------------------------------
def event_matches(ev: dict[str, Any], flt: dict[str, Any]) -> bool:
    if "id" in flt and ev["id"] not in [str(x) for x in as_list(flt["id"])]:
        return False
    if "type" in flt and ev["type"] not in [str(x) for x in as_list(flt["type"])]:
        return False
    if "entity" in flt and ev["entity_type"] not in [str(x) for x in as_list(flt["entity"])]:
        return False
    if "entity_id" in flt and ev["entity_id"] not in ints(flt["entity_id"]):
        return False
    if "created_by" in flt and ev["created_by"] not in ints(flt["created_by"]):
        return False
    if "created_at" in flt and not _range(ev["created_at"], flt["created_at"]):
        return False
    for key, value_key in (("value_after", "value_after"), ("value_before", "value_before")):
        spec = flt.get(key)
        if isinstance(spec, dict) and "leads_statuses" in spec:
            wanted = [s for s in as_list(spec["leads_statuses"]) if isinstance(s, dict)]
            got = [v.get("lead_status") for v in ev[value_key] if isinstance(v, dict)]
            if not any(g and int(w.get("status_id", -1)) == g["id"] and
                       int(w.get("pipeline_id", g["pipeline_id"])) == g["pipeline_id"]
                       for w in wanted for g in got):
                return False
        if isinstance(spec, dict) and "responsible_user_id" in spec:
            got = [v.get("responsible_user", {}).get("id") for v in ev[value_key]]
            if not set(ints(spec["responsible_user_id"])) & set(got):
                return False
    return True


def event_api(ev: dict[str, Any], base: str) -> dict[str, Any]:
    out = copy.deepcopy(ev)
    plural = {"lead": "leads", "contact": "contacts", "company": "companies",
              "task": "tasks"}.get(ev["entity_type"], ev["entity_type"])
    out["_links"] = links(base, f"/api/v4/events/{ev['id']}")
    out["_embedded"] = {"entity": {"id": ev["entity_id"],
                                   "_links": links(base, f"/api/v4/{plural}/{ev['entity_id']}")}}
    return out
