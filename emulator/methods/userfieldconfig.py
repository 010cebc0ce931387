"""``userfieldconfig.*``: user fields of smart processes (``entityId`` ``CRM_<id>``) and of the
CRM objects with fixed ids (``CRM_DEAL``, …), as api-reference/crm/universal/userfieldconfig/
describes them.

Fields live in ``Portal.userfields[entityId]`` with the UPPER_CASE keys the classic
``crm.*.userfield.*`` methods use; these methods show them in camelCase. Every error of the
group has an empty code and a text (HTTP 400), as each page prints.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from ..errors import RestError
from ..listing import compile_filter, parse_order, parse_start, row_matches, sort_rows
from ..registry import CallContext, as_dict, method, yes

MODULE_SCOPES = {"crm": "crm"}
# userfieldconfig-get-types.md: the crm module's types (the sample's rest_* one is an app's)
TYPES = {"crm": "Привязка к элементам CRM", "crm_status": "Привязка к справочникам CRM",
         "money": "Деньги", "employee": "Привязка к сотруднику", "string": "Строка",
         "integer": "Целое число", "double": "Число", "datetime": "Дата со временем",
         "date": "Дата", "boolean": "Да/Нет", "address": "Адрес", "url": "Ссылка",
         "file": "Файл", "enumeration": "Список",
         "iblock_section": "Привязка к разделам инф. блоков",
         "iblock_element": "Привязка к элементам инф. блоков"}
# the settings a new field shows when none are given: crm-item-add.md's crm.item.fields
# sample (one field of each type) and userfieldconfig-add.md's enumeration answer
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "string": {"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0,
               "DEFAULT_VALUE": ""},
    "enumeration": {"DISPLAY": "LIST", "LIST_HEIGHT": 1, "CAPTION_NO_VALUE": "",
                    "SHOW_NO_VALUE": "Y"},
    "date": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}},
    "datetime": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}, "USE_SECOND": "Y",
                 "USE_TIMEZONE": "N"},
    "url": {"POPUP": "Y", "SIZE": 20, "MIN_LENGTH": 0, "MAX_LENGTH": 0, "DEFAULT_VALUE": "",
            "ROWS": 1},
    "file": {"SIZE": 20, "LIST_WIDTH": 0, "LIST_HEIGHT": 0, "MAX_SHOW_SIZE": 0,
             "MAX_ALLOWED_SIZE": 0, "EXTENSIONS": [], "TARGET_BLANK": "Y"},
    "money": {"DEFAULT_VALUE": ""},
    "boolean": {"DEFAULT_VALUE": 0, "DISPLAY": "CHECKBOX"},
    "double": {"PRECISION": 2, "SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0,
               "DEFAULT_VALUE": None},
    "integer": {"SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None},
}
LANGS = ("en", "ru")
LABELS = {"editFormLabel": "EDIT_FORM_LABEL", "listColumnLabel": "LIST_COLUMN_LABEL",
          "listFilterLabel": "LIST_FILTER_LABEL", "errorMessage": "ERROR_MESSAGE",
          "helpMessage": "HELP_MESSAGE"}
FLAGS = {"multiple": "MULTIPLE", "mandatory": "MANDATORY", "showFilter": "SHOW_FILTER",
         "showInList": "SHOW_IN_LIST", "editInList": "EDIT_IN_LIST",
         "isSearchable": "IS_SEARCHABLE"}
# userfieldconfig-list.md: the fields a filter and an order may name
FILTERABLE = {"id": "ID", "fieldName": "FIELD_NAME", "userTypeId": "USER_TYPE_ID",
              "xmlId": "XML_ID", "sort": "SORT", "multiple": "MULTIPLE",
              "mandatory": "MANDATORY", "showFilter": "SHOW_FILTER",
              "showInList": "SHOW_IN_LIST", "editInList": "EDIT_IN_LIST",
              "isSearchable": "IS_SEARCHABLE", "entityId": "ENTITY_ID"}
_NAME = re.compile(r"^[A-Z0-9_]{1,50}$")


def fail(text: str) -> RestError:
    return RestError("", text, 400)


def _module(ctx: CallContext, params: dict[str, Any]) -> str:
    """moduleId: only crm has field access settings here; its scope must be granted too."""
    module = str(params.get("moduleId") or "")
    if module not in MODULE_SCOPES:
        raise fail("No settings for UserFieldAccess")
    if MODULE_SCOPES[module] not in ctx.emu.config.scope_list():
        raise fail(f"The current method required more scopes. ({MODULE_SCOPES[module]})")
    return module


def _lang_map(value: Any) -> dict[str, Any]:
    """A string is the common value of every language; a lang_map keeps its languages."""
    if isinstance(value, dict):
        return {lang: value.get(lang) for lang in sorted({*LANGS, *map(str, value)})}
    return dict.fromkeys(LANGS, None if value in (None, "") else str(value))


def entity_exists(ctx: CallContext, entity: str) -> bool:
    return entity in ctx.portal.userfields


def _find(ctx: CallContext, field_id: Any) -> dict[str, Any] | None:
    want = str(field_id or "").strip()
    for store in ctx.portal.userfields.values():
        for uf in store:
            if str(uf["ID"]) == want:
                return uf
    return None


def _enum_items(ctx: CallContext, uf: dict[str, Any], items: Any) -> list[dict[str, Any]]:
    """uf_enum_element[]: new ones get ids; on update ``id`` + ``del`` = Y removes one."""
    current = {str(i["ID"]): i for i in uf.get("LIST") or []}
    out = list(current.values())
    rows = items if isinstance(items, list) else list(as_dict(items).values())
    for raw in rows:
        item = as_dict(raw)
        old = current.get(str(item.get("id", "")))
        if old is not None:
            if yes(item.get("del", "N")):
                out.remove(old)
                continue
            for key, upper in (("value", "VALUE"), ("sort", "SORT"), ("xmlId", "XML_ID")):
                if item.get(key) not in (None, ""):
                    old[upper] = str(item[key])
            if "def" in item:
                old["DEF"] = "Y" if yes(item["def"]) else "N"
            continue
        if str(item.get("value") or "").strip() == "":
            raise fail("Fail to save enumeration field values")
        out.append({"ID": str(ctx.portal.new_enum_id()), "USER_FIELD_ID": str(uf["ID"]),
                    "VALUE": str(item["value"]), "DEF": "Y" if yes(item.get("def")) else "N",
                    "SORT": str(item.get("sort") or 100 * (len(out) + 1)),
                    "XML_ID": str(item.get("xmlId") or secrets.token_hex(16))})
    return sorted(out, key=lambda i: (int(i["SORT"]), int(i["ID"])))


def view(uf: dict[str, Any], lang: str = "") -> dict[str, Any]:
    """A stored field as the methods answer it (userfieldconfig-get.md's sample).

    With `lang` (userfieldconfig-list.md, select ``language``) the labels are that
    language's text instead of lang_maps.
    """
    out: dict[str, Any] = {"id": str(uf["ID"]), "entityId": uf["ENTITY_ID"],
                           "fieldName": uf["FIELD_NAME"], "userTypeId": uf["USER_TYPE_ID"],
                           "xmlId": uf.get("XML_ID"), "sort": str(uf.get("SORT") or 100)}
    for camel, upper in FLAGS.items():
        out[camel] = uf.get(upper) or ("Y" if camel in ("showInList", "editInList") else "N")
    out["settings"] = dict(uf.get("SETTINGS") or {})
    out["languageId"] = {lang_: lang_ for lang_ in LANGS}
    for camel, upper in LABELS.items():
        labels = _lang_map(uf.get(upper))
        out[camel] = labels.get(lang) if lang else labels
    if uf["USER_TYPE_ID"] == "enumeration":
        out["enum"] = [{"id": i["ID"], "userFieldId": str(uf["ID"]), "value": i["VALUE"],
                        "def": i["DEF"], "sort": i["SORT"], "xmlId": i["XML_ID"]}
                       for i in uf.get("LIST") or []]
    return out


def _fire(ctx: CallContext, event: str, uf: dict[str, Any]) -> None:
    """userfieldconfig/events/: sent for smart-process fields (ENTITY_ID CRM_<n>) only; the
    classic objects' fields have events of their own."""
    if re.fullmatch(r"CRM_\d+", uf["ENTITY_ID"]):
        ctx.emu.fire_event(ctx.portal, event, {"FIELDS": {
            "ID": str(uf["ID"]), "ENTITY_ID": uf["ENTITY_ID"], "FIELD_NAME": uf["FIELD_NAME"]}},
            ctx.user_id)


@method("userfieldconfig.getTypes", scope="userfieldconfig")
def get_types(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """userfieldconfig-get-types.md: {"types": {id: {userTypeId, description}}}."""
    _module(ctx, params)
    return {"types": {k: {"userTypeId": k, "description": v} for k, v in TYPES.items()}}


@method("userfieldconfig.add", scope="userfieldconfig")
def add(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """userfieldconfig-add.md: the field is ``UF_<entityId>_<POSTFIX>`` (A-Z, 0-9, _, at most
    50), unique in its object; the answer is {"field": …} with the enumeration's items."""
    _module(ctx, params)
    if not ctx.is_admin:
        raise fail("Access denied")
    f = as_dict(params.get("field"))
    utype = str(f.get("userTypeId") or "")
    name = str(f.get("fieldName") or "")
    entity = str(f.get("entityId") or "")
    if not utype:
        raise fail("The 'USER_TYPE_ID' field is not found")
    if not name:
        raise fail("The 'FIELD_NAME' field is not found")
    if not entity_exists(ctx, entity) or not name.startswith(f"UF_{entity}_"):
        raise fail("Вы не можете создавать пользовательские поля")
    if not _NAME.match(name) or utype not in TYPES:
        raise fail("Fail to create new user field")
    store = ctx.portal.userfields[entity]
    if any(u["FIELD_NAME"] == name for u in store):
        raise fail(f"Поле {name} для объекта {entity} уже существует")
    settings = {**DEFAULT_SETTINGS.get(utype, {}), **as_dict(f.get("settings"))}
    uf: dict[str, Any] = {
        "ID": str(ctx.portal.new_userfield_id()), "ENTITY_ID": entity, "FIELD_NAME": name,
        "USER_TYPE_ID": utype, "XML_ID": f.get("xmlId"), "SORT": str(f.get("sort") or 100),
        "SETTINGS": settings, "LIST": [],
        # add ignores showInList, listColumnLabel, listFilterLabel, errorMessage, label
        "EDIT_FORM_LABEL": _lang_map(f.get("editFormLabel")),
        "HELP_MESSAGE": _lang_map(f.get("helpMessage")),
    }
    for camel in ("multiple", "mandatory", "showFilter", "editInList", "isSearchable"):
        default = "Y" if camel == "editInList" else "N"
        uf[FLAGS[camel]] = "Y" if yes(f.get(camel, default)) else "N"
    uf["SHOW_IN_LIST"] = "Y"
    if utype == "enumeration":
        uf["LIST"] = _enum_items(ctx, uf, f.get("enum") or [])
    store.append(uf)
    _fire(ctx, "ONCRMTYPEUSERFIELDADD", uf)
    if utype == "enumeration":
        _fire(ctx, "ONCRMTYPEUSERFIELDSETENUMVALUES", uf)
    return {"field": view(uf)}


@method("userfieldconfig.get", scope="userfieldconfig")
def get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    _module(ctx, params)
    uf = _find(ctx, params.get("id"))
    if uf is None:  # userfieldconfig-get.md: a deleted field answers the same
        raise fail("Вы не можете просматривать настройки пользовательских полей")
    return {"field": view(uf)}


@method("userfieldconfig.list", scope="userfieldconfig")
def list_(ctx: CallContext, params: dict[str, Any]) -> Any:
    """userfieldconfig-list.md: filter and order by the listed fields (``entityId`` too, as
    how-to-add-user-field-to-spa.md filters), default order sort, id; {"fields": [...]}."""
    from ..listing import page

    _module(ctx, params)
    flt: dict[str, Any] = {}
    for key, value in as_dict(params.get("filter")).items():
        name = str(key).lstrip("!<>=%@")
        prefix = str(key)[:len(str(key)) - len(name)]
        if name not in FILTERABLE:
            raise fail(f"Invalid filter: field '{name}' is not allowed in filter")
        flt[prefix + FILTERABLE[name]] = value
    conds = compile_filter(flt)
    rows = [u for store in ctx.portal.userfields.values() for u in store
            if row_matches(u, conds)]
    order = {FILTERABLE.get(str(k), str(k).upper()): v
             for k, v in as_dict(params.get("order")).items()} or {"SORT": "ASC", "ID": "ASC"}
    rows = sort_rows(rows, parse_order(order))
    select = params.get("select")
    lang = str(as_dict(select).get("language") or "") if isinstance(select, dict) else ""
    res = page([view(u, lang) for u in rows], max(parse_start(params.get("start", 0)), 0),
               len(rows))
    res.items = {"fields": res.items}
    return res


@method("userfieldconfig.update", scope="userfieldconfig")
def update(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """userfieldconfig-update.md: the type, name and multiple flag never change; ``enum``
    applies only with ``userTypeId`` = enumeration."""
    _module(ctx, params)
    uf = _find(ctx, params.get("id"))
    if uf is None or not ctx.is_admin:
        raise fail("Вы не можете изменить настройки пользовательского поля")
    f = as_dict(params.get("field"))
    if "xmlId" in f:
        uf["XML_ID"] = f["xmlId"]
    if "sort" in f:
        uf["SORT"] = str(f["sort"])
    for camel in ("mandatory", "showFilter", "isSearchable"):
        if camel in f:
            uf[FLAGS[camel]] = "Y" if yes(f[camel]) else "N"
    for camel in ("editFormLabel", "helpMessage"):
        if camel in f:  # a lang_map changes the languages it names, a string all of them
            given = _lang_map(f[camel])
            if isinstance(f[camel], dict):
                given = {k: v for k, v in given.items() if k in f[camel]}
            uf[LABELS[camel]] = {**_lang_map(uf.get(LABELS[camel])), **given}
    if "settings" in f:
        uf["SETTINGS"] = {**(uf.get("SETTINGS") or {}), **as_dict(f["settings"])}
    enum_changed = "enum" in f and f.get("userTypeId") == "enumeration" and uf[
        "USER_TYPE_ID"] == "enumeration"
    if enum_changed:
        uf["LIST"] = _enum_items(ctx, uf, f["enum"])
    _fire(ctx, "ONCRMTYPEUSERFIELDUPDATE", uf)
    if enum_changed:
        _fire(ctx, "ONCRMTYPEUSERFIELDSETENUMVALUES", uf)
    return {"field": view(uf)}


@method("userfieldconfig.delete", scope="userfieldconfig")
def delete(ctx: CallContext, params: dict[str, Any]) -> None:
    """userfieldconfig-delete.md: ``null`` on success; the items lose the field's values."""
    _module(ctx, params)
    uf = _find(ctx, params.get("id"))
    if uf is None or not ctx.is_admin:
        raise fail("Вы не можете удалить пользовательское поле")
    ctx.portal.userfields[uf["ENTITY_ID"]].remove(uf)
    for table in [*ctx.portal.items.values(), *(ctx.portal.table(e) for e in (
            "lead", "deal", "contact", "company"))]:
        for row in table.rows.values():
            row.pop(uf["FIELD_NAME"], None)
    _fire(ctx, "ONCRMTYPEUSERFIELDDELETE", uf)
    return None
