"""``crm.type.*``: smart processes themselves, as api-reference/crm/universal/
user-defined-object-types/ describes them.

A type lives in ``Portal.crm_types[entityTypeId]`` with its pipelines (``categories``, each
with its stages) kept beside the documented fields; its user fields in
``Portal.userfields["CRM_<id>"]`` (userfieldconfig.*), its items in ``Portal.items``.
Every method needs CRM administrator rights: ``ACCESS_DENIED`` "Доступ запрещен", HTTP 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import compile_filter, page, parse_order, parse_start, row_matches, sort_rows
from ..registry import CallContext, as_dict, method, yes

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

# crm-type-add.md, fields: the switches and their defaults (all N but isSetOpenPermissions)
FLAGS = ("isCategoriesEnabled", "isStagesEnabled", "isBeginCloseDatesEnabled",
         "isClientEnabled", "isUseInUserfieldEnabled", "isLinkWithProductsEnabled",
         "isMycompanyEnabled", "isDocumentsEnabled", "isSourceEnabled", "isObserversEnabled",
         "isRecyclebinEnabled", "isAutomationEnabled", "isBizProcEnabled",
         "isSetOpenPermissions")
DEFAULT_ON = frozenset({"isSetOpenPermissions"})
# data-types.md#typelinkeduserfields
LINKED_USER_FIELDS = ("CALENDAR_EVENT|UF_CRM_CAL_EVENT", "TASKS_TASK|UF_CRM_TASK",
                      "TASKS_TASK_TEMPLATE|UF_CRM_TASK")
# the stages a new pipeline gets (code, name, semantics); codes are DT<type>_<pipeline>:<code>
STAGES = (("NEW", "New", "P"), ("PREPARATION", "Preparation", "P"),
          ("SUCCESS", "Delivered", "S"), ("FAIL", "Cancelled", "F"))
# crm-type-fields.md: every field of a type, (type, isRequired, isReadOnly, isImmutable, title)
F, T = False, True
TYPE_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "id": ("integer", F, T, F, "ID"),
    "title": ("string", T, F, F, "Название"),
    "code": ("string", F, F, F, "Символьный код"),
    "createdBy": ("user", F, T, F, "Кем создан"),
    "entityTypeId": ("integer", T, F, T, "Идентификатор типа"),
    "customSectionId": ("integer", F, F, T, "Цифровое рабочее место"),
    "isCategoriesEnabled": ("boolean", F, F, F,
                            "Использовать в смарт-процессе свои воронки и туннели продаж"),
    "isStagesEnabled": ("boolean", F, F, F, "Использовать в смарт-процессе свои стадии и канбан"),
    "isBeginCloseDatesEnabled": ("boolean", F, F, F,
                                 'Поля "Дата начала" и "Дата завершения"'),
    "isClientEnabled": ("boolean", F, F, F, 'Поле "Клиент"'),
    "isUseInUserfieldEnabled": ("boolean", F, F, F, "Использовать в пользовательском поле"),
    "isLinkWithProductsEnabled": ("boolean", F, F, F, "Привязка товаров каталога"),
    "isMycompanyEnabled": ("boolean", F, F, F, 'Поле "Реквизиты вашей компании"'),
    "isDocumentsEnabled": ("boolean", F, F, F, "Печать документов"),
    "isSourceEnabled": ("boolean", F, F, F,
                        'Поля "Источник" и "Дополнительно об источнике"'),
    "isObserversEnabled": ("boolean", F, F, F, 'Поле "Наблюдатели"'),
    "isRecyclebinEnabled": ("boolean", F, F, F, "Использовать корзину"),
    "isAutomationEnabled": ("boolean", F, F, F,
                            "Использовать в смарт-процессе роботы и триггеры"),
    "isBizProcEnabled": ("boolean", F, F, F,
                         "Использовать в смарт-процессе дизайнер бизнес-процессов"),
    "isSetOpenPermissions": ("boolean", F, F, F, "Делать новые воронки доступными для всех"),
    "createdTime": ("datetime", F, F, F, "Дата создания"),
    "updatedTime": ("datetime", F, F, F, "Дата изменения"),
    "updatedBy": ("user", F, T, F, "Кем изменён"),
}


def denied() -> RestError:
    return RestError("ACCESS_DENIED", "Доступ запрещен", 400)


def not_found() -> RestError:
    """crm-type-get.md, crm-type-update.md, crm-type-delete.md: error 0, HTTP 400."""
    return RestError(0, "Смарт-процесс не найден", 400)


def _admin(ctx: CallContext) -> None:
    if not ctx.is_admin:
        raise denied()


def view(spa: dict[str, Any]) -> dict[str, Any]:
    """A type as the methods answer it: everything but the pipelines kept beside it."""
    return {k: v for k, v in spa.items() if k != "categories"}


def _flag(value: Any) -> str:
    return "Y" if yes(value) or str(value).lower() == "true" else "N"


def _relations(fields: dict[str, Any], client: bool, old: dict[str, Any] | None = None
               ) -> dict[str, list[dict[str, Any]]]:
    """crm-type-add.md#relations: isChildrenListEnabled takes "true"/"false" (not Y/N);
    the client field adds the predefined parents contact (3) and company (4)."""
    given = as_dict(fields.get("relations")) if "relations" in fields else None
    out: dict[str, list[dict[str, Any]]] = {"parent": [], "child": []}
    if given is None and old is not None:
        out = {k: [r for r in v if r.get("isPredefined") != "Y"] for k, v in old.items()}
    for side in ("parent", "child"):
        for raw in (given or {}).get(side) or []:
            rel = as_dict(raw)
            etid = int(str(rel.get("entityTypeId") or 0) or 0)
            if etid:
                out[side].append({"entityTypeId": etid, "isPredefined": "N",
                                  "isChildrenListEnabled": "Y" if str(rel.get(
                                      "isChildrenListEnabled")).lower() == "true" else "N"})
    if client:
        out["parent"] = [{"entityTypeId": e, "isChildrenListEnabled": "Y", "isPredefined": "Y"}
                         for e in (3, 4)] + [r for r in out["parent"]
                                             if r["entityTypeId"] not in (3, 4)]
    return out


def _linked(fields: dict[str, Any], enabled: bool, old: dict[str, str] | None = None
            ) -> dict[str, str]:
    """crm-type-add.md#linkedUserFields: "true"/"false"; only with isUseInUserfieldEnabled."""
    given = as_dict(fields.get("linkedUserFields"))
    out = dict(old or dict.fromkeys(LINKED_USER_FIELDS, "N"))
    for key in LINKED_USER_FIELDS:
        if key in given:
            out[key] = "Y" if enabled and str(given[key]).lower() == "true" else "N"
    return out


def _allowed(etid: int) -> bool:
    """crm-type-add.md: 128..192, or an even number from 1030."""
    return 128 <= etid <= 192 or (etid >= 1030 and etid % 2 == 0)


def _free_id(portal: Portal) -> int:
    """The first entityTypeId not taken, from 128 upwards (then the even ones from 1030)."""
    taken = set(portal.crm_types)
    for etid in [*range(128, 193), *range(1030, 10**6, 2)]:
        if etid not in taken:
            return etid
    raise RestError("CREATE_DYNAMIC_TYPE_RESTRICTED",
                    "Превышено максимальное количество смарт-процессов", 400)


def pipeline(type_id: int, cat_id: int, name: str, sort: int, default: bool
             ) -> dict[str, Any]:
    """A pipeline of a smart process with its stages (crm.category.list shows it)."""
    return {"id": cat_id, "name": name, "sort": sort, "entityTypeId": type_id,
            "isDefault": "Y" if default else "N",
            "stages": [{"STATUS_ID": f"DT{type_id}_{cat_id}:{code}", "NAME": sname,
                        "SEMANTICS": sem, "SORT": (j + 1) * 10, "CATEGORY_ID": str(cat_id)}
                       for j, (code, sname, sem) in enumerate(STAGES)]}


def create(emu: Emulator, portal: Portal, fields: dict[str, Any], user_id: int,
           ordinal: int = 0, pipelines: dict[int, tuple[str, bool]] | None = None
           ) -> dict[str, Any]:
    """A new smart process (crm.type.add, and the seed's own): checked, stored, announced."""
    title = str(fields.get("title") or "").strip()
    if not title:  # crm-type-fields.md marks title required; the error is the ORM's
        # (crm-automated-solution-add.md prints it for that sibling table: BX_EMPTY_REQUIRED)
        raise RestError("BX_EMPTY_REQUIRED", "Не заполнено обязательное поле «Название»", 400)
    raw_id = fields.get("entityTypeId")
    if raw_id in (None, "", 0, "0"):
        etid = _free_id(portal)
    else:
        try:
            etid = int(str(raw_id))
        except ValueError:
            etid = 0
        # crm-type-add.md: entityTypeId is unique and in range; a taken one is not an
        # allowed value either (the page prints no error of its own for it)
        if not _allowed(etid) or etid in portal.crm_types:
            raise RestError("INVALID_ARG_VALUE", "entityTypeId is out of allowed range", 400)
    stamp = emu.iso()
    spa: dict[str, Any] = {
        "id": ordinal or max((int(s["id"]) for s in portal.crm_types.values()), default=0) + 1,
        "title": title, "code": str(fields.get("code") or ""), "createdBy": user_id,
        "entityTypeId": etid, "customSectionId": None}
    for flag in FLAGS:
        spa[flag] = _flag(fields.get(flag, "Y" if flag in DEFAULT_ON else "N"))
    spa.update({"isPaymentsEnabled": "N", "isCountersEnabled": "N", "createdTime": stamp,
                "updatedTime": stamp, "updatedBy": user_id, "isInitialized": "Y"})
    spa["relations"] = _relations(fields, spa["isClientEnabled"] == "Y")
    spa["linkedUserFields"] = _linked(fields, spa["isUseInUserfieldEnabled"] == "Y")
    spa["customSections"] = []
    cats = pipelines or {portal.new_category_id(): (title, True)}
    spa["categories"] = [pipeline(etid, cid, name, (i + 1) * 100, default)
                         for i, (cid, (name, default)) in enumerate(cats.items())]
    portal.crm_types[etid] = spa
    portal.userfields.setdefault(f"CRM_{spa['id']}", [])
    emu.fire_event(portal, "ONCRMTYPEADD", {"FIELDS": {"ID": str(spa["id"])}}, user_id)
    return spa


def by_id(portal: Portal, type_id: Any) -> dict[str, Any]:
    """The type whose ``id`` (not entityTypeId) this is."""
    want = str(type_id or "").strip()
    for spa in portal.crm_types.values():
        if str(spa["id"]) == want:
            return spa
    raise not_found()


@method("crm.type.add", scope="crm")
def type_add(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """crm-type-add.md: {"type": …}; no fields: code 100."""
    _admin(ctx)
    if not isinstance(params.get("fields"), dict):
        raise RestError("100", "Could not find value for parameter {fields}", 400)
    spa = create(ctx.emu, ctx.portal, params["fields"], ctx.user_id)
    return {"type": view(spa)}


@method("crm.type.update", scope="crm")
def type_update(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """crm-type-update.md: title, relations, linkedUserFields and the switches change;
    entityTypeId and customSectionId are immutable (crm-type-fields.md)."""
    _admin(ctx)
    spa = by_id(ctx.portal, params.get("id"))
    fields = as_dict(params.get("fields"))
    if "title" in fields:
        if not str(fields["title"] or "").strip():
            raise RestError("BX_EMPTY_REQUIRED", "Не заполнено обязательное поле «Название»",
                            400)
        spa["title"] = str(fields["title"]).strip()
    if "code" in fields:
        spa["code"] = str(fields["code"] or "")
    for flag in FLAGS:
        if flag in fields:
            spa[flag] = _flag(fields[flag])
    spa["relations"] = _relations(fields, spa["isClientEnabled"] == "Y", spa["relations"])
    spa["linkedUserFields"] = _linked(fields, spa["isUseInUserfieldEnabled"] == "Y",
                                      spa["linkedUserFields"])
    spa["updatedTime"], spa["updatedBy"] = ctx.emu.iso(), ctx.user_id
    ctx.emu.fire_event(ctx.portal, "ONCRMTYPEUPDATE", {"FIELDS": {"ID": str(spa["id"])}},
                       ctx.user_id)
    return {"type": view(spa)}


@method("crm.type.delete", scope="crm")
def type_delete(ctx: CallContext, params: dict[str, Any]) -> list[Any]:
    """crm-type-delete.md: only a type without items; ``[]`` on success."""
    _admin(ctx)
    spa = by_id(ctx.portal, params.get("id"))
    etid = spa["entityTypeId"]
    if len(ctx.portal.items.get(etid) or ()):
        raise RestError("BX_ERROR", "Вы не можете удалить тип сущности, у которого есть "
                        "элементы", 400)
    del ctx.portal.crm_types[etid]
    ctx.portal.items.pop(etid, None)
    ctx.portal.userfields.pop(f"CRM_{spa['id']}", None)
    ctx.emu.fire_event(ctx.portal, "ONCRMTYPEDELETE", {"FIELDS": {"ID": str(spa["id"])}},
                       ctx.user_id)
    return []


@method("crm.type.get", scope="crm")
def type_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    _admin(ctx)
    return {"type": view(by_id(ctx.portal, params.get("id") or params.get("ID")))}


@method("crm.type.getByEntityTypeId", scope="crm")
def type_get_by_entity_type_id(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    _admin(ctx)
    try:
        spa = ctx.portal.crm_types.get(int(str(params.get("entityTypeId") or 0)))
    except ValueError:
        spa = None
    if spa is None:
        raise not_found()
    return {"type": view(spa)}


@method("crm.type.fields", scope="crm")
def type_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """crm-type-fields.md: crm_rest_field_description of every field of a type."""
    _admin(ctx)
    return {"fields": {name: {"type": kind, "isRequired": req, "isReadOnly": ro,
                              "isImmutable": imm, "isMultiple": False, "isDynamic": False,
                              "title": title, "upperName": _upper(name)}
                       for name, (kind, req, ro, imm, title) in TYPE_FIELDS.items()}}


def _upper(name: str) -> str:
    """createdBy → CREATED_BY, isBizProcEnabled → IS_BIZ_PROC_ENABLED (crm-type-fields.md)."""
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in name)


@method("crm.type.list", scope="crm")
def type_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    """crm-type-list.md: filter and order by the type's fields with the usual prefixes; an
    unknown field is INVALID_ARG_VALUE; 50 per page in ``types``."""
    _admin(ctx)
    flt = {}
    for key, value in as_dict(params.get("filter")).items():
        name = str(key).lstrip("!<>=%@")
        if name.lower() == "logic":
            continue
        if name not in TYPE_FIELDS:
            raise RestError("INVALID_ARG_VALUE",
                            f"Invalid filter: field '{name}' is not allowed in filter", 400)
        flt[key] = value
    conds = compile_filter(flt)  # keys upper-cased: matched against an upper-cased view
    order = as_dict(params.get("order"))
    for name, direction in order.items():
        if name not in TYPE_FIELDS:
            raise RestError("INVALID_ARG_VALUE",
                            f"Invalid order: field '{name}' is not allowed in order", 400)
        if str(direction).upper() not in ("ASC", "DESC"):
            raise RestError("INVALID_ARG_VALUE", "Invalid order: allowed sort directions are "
                            f"ASC, DESC. But got '{direction}' for field '{name}'", 400)
    rows = [view(spa) for spa in ctx.portal.crm_types.values()]
    rows = [r for r in rows if row_matches({k.upper(): v for k, v in r.items()}, conds)]
    if order:
        keyed = [({k.upper(): v for k, v in r.items()}, r) for r in rows]
        ordered = sort_rows([{**u, "_row": r} for u, r in keyed], parse_order(order))
        rows = [r["_row"] for r in ordered]
    res = page(rows, max(parse_start(params.get("start", 0)), 0), len(rows))
    res.items = {"types": res.items}
    return res
