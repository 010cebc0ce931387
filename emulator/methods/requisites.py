"""Requisites of contacts and companies, their bank details and addresses, the presets they
follow and the links that pick them for a deal or an invoice (api-reference/crm/requisites/).

Rows keep the portal's own shape: UPPER_CASE keys and string values (ids too), null for a
field never filled in, as the docs' `get` samples print them. Errors carry an empty code
and the documented text, HTTP 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import compile_filter, page, parse_order, parse_start, row_matches, sort_rows
from ..registry import CallContext, as_dict, method, up

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

F, T = False, True
OWNER_TYPES = {3: "contact", 4: "company"}  # crm-requisite-add.md: ENTITY_TYPE_ID 3 or 4
REQUISITE_TYPE = 8  # crm/data-types.md#object_type: Реквизит
LEAD_TYPE = 1

# name: (type, isRequired, isReadOnly, isImmutable, title) — the fields samples of
# universal/crm-requisite-fields.md, bank-detail/crm-requisite-bank-detail-fields.md,
# addresses/crm-address-fields.md, links/crm-requisite-link-fields.md and
# presets/crm-requisite-preset-fields.md
Spec = dict[str, tuple[str, bool, bool, bool, str]]
REQUISITE_FIELDS: Spec = {
    "ID": ("integer", F, T, F, "ID"),
    "ENTITY_TYPE_ID": ("integer", T, F, T, "ID типа сущности"),
    "ENTITY_ID": ("integer", T, F, T, "ID сущности"),
    "PRESET_ID": ("integer", T, F, T, "ID пресета"),
    "DATE_CREATE": ("datetime", F, T, F, "Дата создания"),
    "DATE_MODIFY": ("datetime", F, T, F, "Дата изменения"),
    "CREATED_BY_ID": ("user", F, T, F, "Создал"),
    "MODIFY_BY_ID": ("user", F, T, F, "Изменил"),
    "NAME": ("string", F, F, F, "Название"),
    "CODE": ("string", F, F, F, "Код"),
    "XML_ID": ("string", F, F, F, "Внешний код"),
    "ORIGINATOR_ID": ("string", F, F, F, "ORIGINATOR_ID"),
    "ACTIVE": ("char", F, F, F, "Активен"),
    "ADDRESS_ONLY": ("char", F, F, F, "ADDRESS_ONLY"),
    "SORT": ("integer", F, F, F, "Сортировка"),
}
RQ_TITLES = {
    "RQ_NAME": "Ф.И.О.", "RQ_FIRST_NAME": "Имя", "RQ_LAST_NAME": "Фамилия",
    "RQ_SECOND_NAME": "Отчество", "RQ_COMPANY_ID": "RQ_COMPANY_ID",
    "RQ_COMPANY_NAME": "Сокращенное наименование организации",
    "RQ_COMPANY_FULL_NAME": "Полное наименование организации",
    "RQ_COMPANY_REG_DATE": "Дата государственной регистрации", "RQ_DIRECTOR": "Ген. директор",
    "RQ_ACCOUNTANT": "Гл. бухгалтер", "RQ_CEO_NAME": "RQ_CEO_NAME",
    "RQ_CEO_WORK_POS": "RQ_CEO_WORK_POS", "RQ_CONTACT": "Контактное лицо",
    "RQ_EMAIL": "E-Mail", "RQ_PHONE": "Телефон", "RQ_FAX": "Факс",
    "RQ_IDENT_TYPE": "RQ_IDENT_TYPE", "RQ_IDENT_DOC": "Вид документа",
    "RQ_IDENT_DOC_SER": "серия", "RQ_IDENT_DOC_NUM": "номер",
    "RQ_IDENT_DOC_PERS_NUM": "RQ_IDENT_DOC_PERS_NUM", "RQ_IDENT_DOC_DATE": "дата выдачи",
    "RQ_IDENT_DOC_ISSUED_BY": "кем выдан", "RQ_IDENT_DOC_DEP_CODE": "код подразделения",
    "RQ_INN": "ИНН", "RQ_KPP": "КПП", "RQ_USRLE": "RQ_USRLE", "RQ_IFNS": "ИФНС",
    "RQ_OGRN": "ОГРН", "RQ_OGRNIP": "ОГРНИП", "RQ_OKPO": "ОКПО", "RQ_OKTMO": "ОКТМО",
    "RQ_OKVED": "ОКВЭД", "RQ_EDRPOU": "RQ_EDRPOU", "RQ_DRFO": "RQ_DRFO", "RQ_KBE": "RQ_KBE",
    "RQ_IIN": "RQ_IIN", "RQ_BIN": "RQ_BIN", "RQ_ST_CERT_SER": "Серия св. о гос. регистрации",
    "RQ_ST_CERT_NUM": "Номер св. о гос. регистрации",
    "RQ_ST_CERT_DATE": "Дата св. о гос. регистрации", "RQ_VAT_PAYER": "RQ_VAT_PAYER",
    "RQ_VAT_ID": "RQ_VAT_ID", "RQ_VAT_CERT_SER": "RQ_VAT_CERT_SER",
    "RQ_VAT_CERT_NUM": "RQ_VAT_CERT_NUM", "RQ_VAT_CERT_DATE": "RQ_VAT_CERT_DATE",
    "RQ_RESIDENCE_COUNTRY": "RQ_RESIDENCE_COUNTRY", "RQ_BASE_DOC": "RQ_BASE_DOC",
    "RQ_REGON": "RQ_REGON", "RQ_KRS": "RQ_KRS", "RQ_PESEL": "RQ_PESEL",
    "RQ_LEGAL_FORM": "RQ_LEGAL_FORM", "RQ_SIRET": "RQ_SIRET", "RQ_SIREN": "RQ_SIREN",
    "RQ_CAPITAL": "RQ_CAPITAL", "RQ_RCS": "RQ_RCS", "RQ_CNPJ": "RQ_CNPJ",
    "RQ_STATE_REG": "RQ_STATE_REG", "RQ_MNPL_REG": "RQ_MNPL_REG", "RQ_CPF": "RQ_CPF",
}
RQ_TYPES = {"RQ_IDENT_TYPE": "crm_status", "RQ_VAT_PAYER": "char"}
REQUISITE_FIELDS |= {k: (RQ_TYPES.get(k, "string"), F, F, F, t) for k, t in RQ_TITLES.items()}

BANK_FIELDS: Spec = {
    "ID": ("integer", F, T, F, "ID"),
    "ENTITY_ID": ("integer", T, F, T, "ID объекта"),
    "COUNTRY_ID": ("integer", F, F, F, "ID страны"),
    "DATE_CREATE": ("datetime", F, T, F, "Дата создания"),
    "DATE_MODIFY": ("datetime", F, T, F, "Дата изменения"),
    "CREATED_BY_ID": ("user", F, T, F, "Создал"),
    "MODIFY_BY_ID": ("user", F, T, F, "Изменил"),
    "NAME": ("string", F, F, F, "Название"),
    "CODE": ("string", F, F, F, "Код"),
    "XML_ID": ("string", F, F, F, "Внешний код"),
    "ACTIVE": ("char", F, F, F, "Активен"),
    "SORT": ("integer", F, F, F, "Сортироква"),
}
BANK_RQ = {
    "RQ_BANK_NAME": "Наименование банка", "RQ_BANK_ADDR": "Адрес банка",
    "RQ_BANK_CODE": "RQ_BANK_CODE", "RQ_AGENCY_NAME": "RQ_AGENCY_NAME",
    "RQ_BANK_ROUTE_NUM": "RQ_BANK_ROUTE_NUM", "RQ_BIK": "БИК", "RQ_MFO": "RQ_MFO",
    "RQ_ACC_NAME": "RQ_ACC_NAME", "RQ_ACC_NUM": "Расчетный счёт", "RQ_ACC_TYPE": "RQ_ACC_TYPE",
    "RQ_IIK": "RQ_IIK", "RQ_ACC_CURRENCY": "Валюта счёта", "RQ_COR_ACC_NUM": "Кор. счёт",
    "RQ_IBAN": "RQ_IBAN", "RQ_SWIFT": "SWIFT", "RQ_BIC": "RQ_BIC", "RQ_CODEB": "RQ_CODEB",
    "RQ_CODEG": "RQ_CODEG", "RQ_RIB": "RQ_RIB",
}
BANK_FIELDS |= {k: ("string", F, F, F, t) for k, t in BANK_RQ.items()}
BANK_FIELDS |= {"COMMENTS": ("string", F, F, F, "Комментарий"),
                "ORIGINATOR_ID": ("string", F, F, F, "Внешний источник")}

ADDRESS_FIELDS: Spec = {
    "TYPE_ID": ("integer", T, F, T, "TYPE_ID"),
    "ENTITY_TYPE_ID": ("integer", T, F, T, "ENTITY_TYPE_ID"),
    "ENTITY_ID": ("integer", T, F, T, "ENTITY_ID"),
    "ADDRESS_1": ("string", F, F, F, "Улица, дом, корпус, строение"),
    "ADDRESS_2": ("string", F, F, F, "Квартира / офис"),
    "CITY": ("string", F, F, F, "Город"),
    "POSTAL_CODE": ("string", F, F, F, "Почтовый индекс"),
    "REGION": ("string", F, F, F, "Район"),
    "PROVINCE": ("string", F, F, F, "Область"),
    "COUNTRY": ("string", F, F, F, "Страна"),
    "COUNTRY_CODE": ("string", F, F, F, "COUNTRY_CODE"),
    "LOC_ADDR_ID": ("integer", F, F, F, "Идентификатор адреса местоположения"),
    "ANCHOR_TYPE_ID": ("integer", F, T, F, "ANCHOR_TYPE_ID"),
    "ANCHOR_ID": ("integer", F, T, F, "ANCHOR_ID"),
}
ADDRESS_TEXT = ("ADDRESS_1", "ADDRESS_2", "CITY", "POSTAL_CODE", "REGION", "PROVINCE",
                "COUNTRY", "COUNTRY_CODE")
# auxiliary/enum/crm-enum-address-type.md: the sample's order
ADDRESS_TYPES = ((11, "Адрес доставки"), (1, "Фактический адрес"), (6, "Юридический адрес"),
                 (4, "Адрес регистрации"), (8, "Адрес для корреспонденции"),
                 (9, "Адрес бенефициара"))

LINK_FIELDS: Spec = {
    "ENTITY_TYPE_ID": ("integer", T, F, T, "ID типа объекта"),
    "ENTITY_ID": ("integer", T, F, T, "ID объекта"),
    "REQUISITE_ID": ("integer", T, F, F, "Привязка к реквизитам"),
    "BANK_DETAIL_ID": ("integer", T, F, F, "Привязка к банковским реквизитам"),
    "MC_REQUISITE_ID": ("integer", T, F, F, "Привязка к реквизитам моей компании"),
    "MC_BANK_DETAIL_ID": ("integer", T, F, F,
                          "Привязка к банковским реквизитам моей компании"),
}
LINK_IDS = ("REQUISITE_ID", "BANK_DETAIL_ID", "MC_REQUISITE_ID", "MC_BANK_DETAIL_ID")
# links/crm-requisite-link-register.md: deal 2, old invoice 5, quote 7, new invoice 31 and
# the smart processes; the emulator keeps deals and smart processes
LINK_TYPES = (2, 5, 7, 31)

PRESET_FIELDS: Spec = {
    "ID": ("integer", F, T, F, "ID"),
    "ENTITY_TYPE_ID": ("integer", T, F, T, "ID типа объекта"),
    "COUNTRY_ID": ("integer", T, F, T, "ID страны"),
    "NAME": ("string", T, F, F, "Название"),
    "DATE_CREATE": ("datetime", F, T, F, "Дата создания"),
    "DATE_MODIFY": ("datetime", F, T, F, "Дата изменения"),
    "CREATED_BY_ID": ("user", F, T, F, "Создал"),
    "MODIFY_BY_ID": ("user", F, T, F, "Изменил"),
    "ACTIVE": ("char", F, F, F, "Активен"),
    "SORT": ("integer", F, F, F, "Сортировка"),
    "XML_ID": ("string", F, F, F, "Внешний код"),
}
# presets/crm-requisite-preset-list.md: the default Russian presets 1-4; their XML_IDs are
# the reserved #CRM_REQUISITE_PRESET_DEF_… codes (presets/crm-requisite-preset-add.md), named
# as the Bitrix core names them
DEFAULT_PRESETS = ((1, "Организация", "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY#"),
                   (2, "ИП", "#CRM_REQUISITE_PRESET_DEF_RU_INDIVIDUAL#"),
                   (3, "Физ. лицо", "#CRM_REQUISITE_PRESET_DEF_RU_PERSON#"),
                   (4, "Организация (доп.)", "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY_EXT#"))
# presets/crm-requisite-preset-countries.md
COUNTRIES = ((1, "RU", "Россия"), (4, "BY", "Беларусь"), (6, "KZ", "Казахстан"),
             (14, "UA", "Украина"), (34, "BR", "Бразилия"), (46, "DE", "Германия"),
             (77, "CO", "Колумбия"), (110, "PL", "Польша"), (122, "US", "США"),
             (132, "FR", "Франция"))


def fail(text: str) -> RestError:
    """The requisites pages' errors: an empty code, the text, HTTP 400."""
    return RestError("", text, 400)


def fields_out(spec: Spec) -> dict[str, Any]:
    """A *.fields answer: the field descriptions as the docs' samples show them."""
    return {name: {"type": t, "isRequired": req, "isReadOnly": ro, "isImmutable": imm,
                   "isMultiple": False, "isDynamic": False, "title": title}
            for name, (t, req, ro, imm, title) in spec.items()}


def _pos_int(value: Any) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return 0
    return max(n, 0)


def _id(params: dict[str, Any], name: str = "ID") -> int:
    """`id` of get/update/delete: "ID is not defined or invalid." when not a positive id."""
    n = _pos_int(up(params).get(name))
    if not n:
        raise fail(f"{name} is not defined or invalid.")
    return n


def _text(value: Any) -> str | None:
    """RQ_* and the other fields are kept as strings (null stays null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _char(value: Any) -> str:
    return "Y" if str(value).strip().upper() in ("Y", "1", "TRUE") else "N"


def _write(row: dict[str, Any], fields: dict[str, Any], spec: Spec) -> None:
    """Writable fields of `spec` and UF_CRM_* user fields; others are ignored, as the portal
    ignores unknown keys."""
    for key, value in fields.items():
        if key.startswith("UF_CRM_"):
            row[key] = _text(value)
            continue
        known = spec.get(key)
        if known is None or known[2] or known[3]:
            continue
        row[key] = _char(value) if known[0] == "char" else _text(value)


def _select(row: dict[str, Any], select: Any) -> dict[str, Any]:
    """`select` of the requisites' lists: the named fields only (crm-requisite-list.md's
    second sample selects one user field and gets no ID), all fields when none is named."""
    if isinstance(select, dict):
        select = list(select.values())
    names = [str(s).upper() for s in select] if isinstance(select, list) else []
    if not names or "*" in names:
        return dict(row)
    return {n: row.get(n) for n in names}


def _list(rows: list[dict[str, Any]], params: dict[str, Any]) -> Any:
    """filter / order / select / start of every list here (50 per page, with total)."""
    p = up(params)
    conds = compile_filter(p.get("FILTER"))
    found = [r for r in rows if row_matches(r, conds)]
    found = sort_rows(found, parse_order(p.get("ORDER")))  # rows without ID keep their order
    res = page([dict(r) for r in found], max(parse_start(p.get("START", 0)), 0), len(found))
    res.items = [_select(r, p.get("SELECT")) for r in res.items]
    return res


def _owner_visible(ctx: CallContext, etype: Any, eid: Any) -> bool:
    entity = OWNER_TYPES.get(_pos_int(etype)) or ("lead" if _pos_int(etype) == LEAD_TYPE
                                                  else "")
    return not entity or ctx.portal.may_read(ctx.user_id, entity, _pos_int(eid))


# ------------------------------------------------------------------ presets
def seed_presets(emu: Emulator, portal: Portal) -> None:
    """The default presets every Russian portal has (presets/crm-requisite-preset-list.md)."""
    stamp = emu.iso()
    for pid, name, xml_id in DEFAULT_PRESETS:
        portal.presets.put(pid, {
            "ID": str(pid), "ENTITY_TYPE_ID": str(REQUISITE_TYPE), "COUNTRY_ID": "1",
            "DATE_CREATE": stamp, "DATE_MODIFY": "", "CREATED_BY_ID": "1",
            "MODIFY_BY_ID": None, "NAME": name, "XML_ID": xml_id, "ACTIVE": "Y",
            "SORT": str(500 + 10 * (pid - 1))})


@method("crm.requisite.preset.fields", scope="crm")
def preset_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return fields_out(PRESET_FIELDS)


@method("crm.requisite.preset.list", scope="crm")
def preset_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    return _list([ctx.portal.presets.rows[i] for i in ctx.portal.presets.ids], params)


@method("crm.requisite.preset.get", scope="crm")
def preset_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    pid = _id(params)
    row = ctx.portal.presets.get(pid)
    if row is None:
        raise fail(f"The Preset with ID '{pid}' is not found")
    return dict(row)


@method("crm.requisite.preset.countries", scope="crm")
def preset_countries(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"ID": cid, "CODE": code, "TITLE": title} for cid, code, title in COUNTRIES]


# ------------------------------------------------------------------ requisites
def owner_row(portal: Portal, etype: int, eid: int) -> dict[str, Any] | None:
    entity = OWNER_TYPES.get(etype)
    return portal.table(entity).get(eid) if entity else None


def requisite_add(emu: Emulator, portal: Portal, fields: dict[str, Any], user_id: int) -> int:
    """universal/crm-requisite-add.md: ENTITY_TYPE_ID (3|4), ENTITY_ID, PRESET_ID and NAME
    required; RQ_* kept as strings; the new id."""
    f = up(fields)
    etype, eid, preset = (_pos_int(f.get(k)) for k in ("ENTITY_TYPE_ID", "ENTITY_ID",
                                                        "PRESET_ID"))
    if etype not in OWNER_TYPES:
        raise fail("ENTITY_TYPE_ID is not defined or invalid.")
    if not eid:
        raise fail("ENTITY_ID is not defined or invalid.")
    if not preset or portal.presets.get(preset) is None:
        raise fail("PRESET_ID is not defined or invalid.")
    if owner_row(portal, etype, eid) is None:
        raise fail("Entity not found.")
    if not str(f.get("NAME") or "").strip():
        # NAME* is required (crm-requisite-add.md) but its error is not listed: the
        # documented pattern of the other required fields
        raise fail("NAME is not defined or invalid.")
    with emu.lock:
        rid = portal.requisites.next_id()
        row: dict[str, Any] = dict.fromkeys(REQUISITE_FIELDS)
        row.update({"ID": str(rid), "ENTITY_TYPE_ID": str(etype), "ENTITY_ID": str(eid),
                    "PRESET_ID": str(preset), "DATE_CREATE": emu.iso(), "DATE_MODIFY": "",
                    "CREATED_BY_ID": str(user_id), "ACTIVE": "Y", "ADDRESS_ONLY": "N",
                    "SORT": "500", "RQ_VAT_PAYER": "N"})
        _write(row, f, REQUISITE_FIELDS)
        portal.requisites.put(rid, row)
        return rid


def _requisite(portal: Portal, rid: int) -> dict[str, Any]:
    row = portal.requisites.get(rid)
    if row is None:
        raise fail(f"The Requisite with ID '{rid}' is not found")
    return row


def _immutable(row: dict[str, Any], fields: dict[str, Any], names: tuple[str, ...]) -> None:
    """universal/crm-requisite-update.md lists "<FIELD> is not defined or invalid." for the
    owner and preset: they cannot change (isImmutable in crm-requisite-fields.md)."""
    for name in names:
        if name in fields and str(fields[name]) != str(row.get(name)):
            raise fail(f"{name} is not defined or invalid.")


@method("crm.requisite.fields", scope="crm")
def requisite_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return fields_out(REQUISITE_FIELDS)


@method("crm.requisite.add", scope="crm")
def requisite_add_method(ctx: CallContext, params: dict[str, Any]) -> int:
    f = up(as_dict(up(params).get("FIELDS")))
    if not _owner_visible(ctx, f.get("ENTITY_TYPE_ID"), f.get("ENTITY_ID")):
        raise fail("Access denied.")
    return requisite_add(ctx.emu, ctx.portal, f, ctx.user_id)


@method("crm.requisite.get", scope="crm")
def requisite_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _requisite(ctx.portal, _id(params))
    if not _owner_visible(ctx, row["ENTITY_TYPE_ID"], row["ENTITY_ID"]):
        raise fail("Access denied.")
    return dict(row)


@method("crm.requisite.update", scope="crm")
def requisite_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    row = _requisite(ctx.portal, _id(params))
    f = up(as_dict(up(params).get("FIELDS")))
    _immutable(row, f, ("ENTITY_TYPE_ID", "ENTITY_ID", "PRESET_ID"))
    with ctx.emu.lock:
        _write(row, f, REQUISITE_FIELDS)
        row.update({"DATE_MODIFY": ctx.emu.iso(), "MODIFY_BY_ID": str(ctx.user_id)})
    return True


@method("crm.requisite.delete", scope="crm")
def requisite_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    rid = _id(params)
    _requisite(ctx.portal, rid)
    drop_requisite(ctx.portal, rid)
    return True


def drop_requisite(portal: Portal, rid: int) -> None:
    """A requisite goes with its bank details and addresses."""
    portal.requisites.delete(rid)
    for bid in [b for b in portal.bank_details.ids
                if portal.bank_details.rows[b]["ENTITY_ID"] == str(rid)]:
        portal.bank_details.delete(bid)
    for key in [k for k in portal.addresses if k[1:] == (REQUISITE_TYPE, rid)]:
        del portal.addresses[key]


def drop_owner(portal: Portal, etype: int, eid: int) -> None:
    """A deleted contact or company takes its requisites along (crm.py's crm_delete)."""
    for rid in [r for r in portal.requisites.ids
                if portal.requisites.rows[r]["ENTITY_TYPE_ID"] == str(etype)
                and portal.requisites.rows[r]["ENTITY_ID"] == str(eid)]:
        drop_requisite(portal, rid)


@method("crm.requisite.list", scope="crm")
def requisite_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    rows = [r for r in (ctx.portal.requisites.rows[i] for i in ctx.portal.requisites.ids)
            if _owner_visible(ctx, r["ENTITY_TYPE_ID"], r["ENTITY_ID"])]
    return _list(rows, params)


# ------------------------------------------------------------------ bank details
def bank_detail_add(emu: Emulator, portal: Portal, fields: dict[str, Any], user_id: int
                    ) -> int:
    """bank-detail/crm-requisite-bank-detail-add.md: ENTITY_ID (the requisite) and NAME
    required; COUNTRY_ID follows the requisite's preset."""
    f = up(fields)
    rid = _pos_int(f.get("ENTITY_ID"))
    requisite = portal.requisites.get(rid) if rid else None
    if requisite is None:
        raise fail("ENTITY_ID is not defined or invalid.")
    if not str(f.get("NAME") or "").strip():
        raise fail("NAME is not defined or invalid.")
    preset = portal.presets.get(_pos_int(requisite["PRESET_ID"])) or {}
    with emu.lock:
        bid = portal.bank_details.next_id()
        row: dict[str, Any] = dict.fromkeys(BANK_FIELDS)
        row.update({"ID": str(bid), "ENTITY_ID": str(rid),
                    "COUNTRY_ID": str(preset.get("COUNTRY_ID") or "1"),
                    "DATE_CREATE": emu.iso(), "DATE_MODIFY": "", "CREATED_BY_ID": str(user_id),
                    "ACTIVE": "Y", "SORT": "500"})
        _write(row, f, BANK_FIELDS)
        portal.bank_details.put(bid, row)
        return bid


def _bank_detail(portal: Portal, bid: int) -> dict[str, Any]:
    row = portal.bank_details.get(bid)
    if row is None:
        raise fail(f"The RequisiteBankDetail with ID '{bid}' is not found")
    return row


def _requisite_visible(ctx: CallContext, rid: Any) -> bool:
    requisite = ctx.portal.requisites.get(_pos_int(rid))
    return requisite is None or _owner_visible(ctx, requisite["ENTITY_TYPE_ID"],
                                               requisite["ENTITY_ID"])


@method("crm.requisite.bankdetail.fields", scope="crm")
def bank_detail_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return fields_out(BANK_FIELDS)


@method("crm.requisite.bankdetail.add", scope="crm")
def bank_detail_add_method(ctx: CallContext, params: dict[str, Any]) -> int:
    f = up(as_dict(up(params).get("FIELDS")))
    if not _requisite_visible(ctx, f.get("ENTITY_ID")):
        raise fail("Access denied")
    return bank_detail_add(ctx.emu, ctx.portal, f, ctx.user_id)


@method("crm.requisite.bankdetail.get", scope="crm")
def bank_detail_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _bank_detail(ctx.portal, _id(params))
    if not _requisite_visible(ctx, row["ENTITY_ID"]):
        raise fail("Access denied")
    return dict(row)


@method("crm.requisite.bankdetail.update", scope="crm")
def bank_detail_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    row = _bank_detail(ctx.portal, _id(params))
    f = up(as_dict(up(params).get("FIELDS")))
    _immutable(row, f, ("ENTITY_ID",))
    with ctx.emu.lock:
        _write(row, f, BANK_FIELDS)
        row.update({"DATE_MODIFY": ctx.emu.iso(), "MODIFY_BY_ID": str(ctx.user_id)})
    return True


@method("crm.requisite.bankdetail.delete", scope="crm")
def bank_detail_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    bid = _id(params)
    _bank_detail(ctx.portal, bid)
    ctx.portal.bank_details.delete(bid)
    return True


@method("crm.requisite.bankdetail.list", scope="crm")
def bank_detail_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    table = ctx.portal.bank_details
    rows = [r for r in (table.rows[i] for i in table.ids) if _requisite_visible(ctx, r[
        "ENTITY_ID"])]
    return _list(rows, params)


# ------------------------------------------------------------------ addresses
def _address_key(f: dict[str, Any], portal: Portal) -> tuple[int, int, int]:
    """TYPE_ID, ENTITY_TYPE_ID (8 requisite, 1 lead) and ENTITY_ID identify an address
    (addresses/crm-address-update.md); each is checked as crm-address-add.md lists."""
    kind, etype, eid = (_pos_int(f.get(k)) for k in ("TYPE_ID", "ENTITY_TYPE_ID", "ENTITY_ID"))
    if kind not in dict(ADDRESS_TYPES):
        raise fail("TYPE_ID is not defined or invalid.")
    if etype not in (REQUISITE_TYPE, LEAD_TYPE):
        raise fail("ENTITY_TYPE_ID is not defined or invalid.")
    owner = (portal.requisites if etype == REQUISITE_TYPE else portal.leads).get(eid)
    if owner is None:
        raise fail("ENTITY_ID is not defined or invalid.")
    return kind, etype, eid


def address_add(emu: Emulator, portal: Portal, fields: dict[str, Any]) -> bool:
    """addresses/crm-address-add.md: one address per type and owner ("TypeAddress exists");
    ANCHOR_* name the requisite's company or contact (or the lead)."""
    f = up(fields)
    key = _address_key(f, portal)
    if key in portal.addresses:
        raise fail("TypeAddress exists")
    kind, etype, eid = key
    if etype == REQUISITE_TYPE:
        requisite = portal.requisites.rows[eid]
        anchor = (requisite["ENTITY_TYPE_ID"], requisite["ENTITY_ID"])
    else:
        anchor = (str(LEAD_TYPE), str(eid))
    with emu.lock:
        row: dict[str, Any] = dict.fromkeys(ADDRESS_FIELDS)
        row.update({"TYPE_ID": str(kind), "ENTITY_TYPE_ID": str(etype), "ENTITY_ID": str(eid),
                    "LOC_ADDR_ID": str(len(portal.addresses) + 1),
                    "ANCHOR_TYPE_ID": anchor[0], "ANCHOR_ID": anchor[1]})
        _write(row, f, ADDRESS_FIELDS)
        portal.addresses[key] = row
    return True


@method("crm.address.fields", scope="crm")
def address_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return fields_out(ADDRESS_FIELDS)


@method("crm.address.add", scope="crm")
def address_add_method(ctx: CallContext, params: dict[str, Any]) -> bool:
    f = up(as_dict(up(params).get("FIELDS")))
    if _pos_int(f.get("ENTITY_TYPE_ID")) == REQUISITE_TYPE and not _requisite_visible(
            ctx, f.get("ENTITY_ID")):
        raise fail("Access denied")
    return address_add(ctx.emu, ctx.portal, f)


@method("crm.address.update", scope="crm")
def address_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    f = up(as_dict(up(params).get("FIELDS")))
    row = ctx.portal.addresses.get(_address_key(f, ctx.portal))
    if row is None:
        raise fail("TypeAddress not found.")
    with ctx.emu.lock:
        _write(row, f, ADDRESS_FIELDS)
    return True


@method("crm.address.delete", scope="crm")
def address_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    key = _address_key(up(as_dict(up(params).get("FIELDS"))), ctx.portal)
    if ctx.portal.addresses.pop(key, None) is None:
        raise fail("TypeAddress not found.")
    return True


@method("crm.address.list", scope="crm")
def address_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    rows = [r for r in ctx.portal.addresses.values()
            if _owner_visible(ctx, r["ANCHOR_TYPE_ID"], r["ANCHOR_ID"])]
    return _list(rows, params)


@method("crm.enum.addresstype", scope="crm")
def address_types(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"ID": tid, "NAME": name, "SYMBOL_CODE": None, "SYMBOL_CODE_SHORT": None}
            for tid, name in ADDRESS_TYPES]


# ------------------------------------------------------------------ links
def _linked_item(portal: Portal, etype: int, eid: int) -> dict[str, Any] | None:
    if etype == 2:
        return portal.deals.get(eid)
    if etype in portal.crm_types:
        table = portal.items.get(etype)
        return table.get(eid) if table is not None else None
    return None


def _link_key(portal: Portal, p: dict[str, Any], etype_name: str, eid_name: str
              ) -> tuple[int, int]:
    etype, eid = _pos_int(p.get(etype_name)), _pos_int(p.get(eid_name))
    if etype not in LINK_TYPES and etype not in portal.crm_types:
        raise fail(f"{etype_name} is not defined or invalid.")
    if not eid:
        raise fail(f"{eid_name} is not defined or invalid.")
    return etype, eid


def _client_of(item: dict[str, Any]) -> tuple[int, list[int]]:
    company = _pos_int(item.get("COMPANY_ID"))
    contacts = [_pos_int(c) for c in item.get("CONTACT_IDS") or []]
    if not contacts and _pos_int(item.get("CONTACT_ID")):
        contacts = [_pos_int(item.get("CONTACT_ID"))]
    return company, [c for c in contacts if c]


def _check_link(portal: Portal, item: dict[str, Any], ids: dict[str, int]) -> None:
    """links/crm-requisite-link-register.md: the requisites must belong to the client and to
    our company chosen in the item, each bank detail to its requisite; 0 is "not chosen"."""
    company, contacts = _client_of(item)
    rid, bid = ids["REQUISITE_ID"], ids["BANK_DETAIL_ID"]
    if rid:
        req = portal.requisites.get(rid)
        if req is None:
            raise fail(f"The Requisite with ID '{rid}' is not found")
        owner = (_pos_int(req["ENTITY_TYPE_ID"]), _pos_int(req["ENTITY_ID"]))
        if owner != (4, company) and owner not in {(3, c) for c in contacts}:
            whom = f"Company with ID '{company}'" if company or not contacts else (
                f"Contact with ID '{contacts[0]}'")
            raise fail(f"The Requisite with ID '{rid}' is not assigned to {whom}")
    if bid:
        bank = portal.bank_details.get(bid)
        if bank is None:
            raise fail(f"The BankDetail with ID '{bid}' is not found")
        if _pos_int(bank["ENTITY_ID"]) != rid:
            raise fail(f"The BankDetail with ID '{bid}' is not assigned to Requisite with ID "
                       f"'{rid}'")
    mrid, mbid = ids["MC_REQUISITE_ID"], ids["MC_BANK_DETAIL_ID"]
    if mrid:
        req = portal.requisites.get(mrid)
        if req is None:
            raise fail(f"The Requisite of your company with ID '{mrid}' is not found")
        # smart processes and invoices name our company (mycompanyId); a deal has no such
        # field (crm-item-add.md), so there any company marked IS_MY_COMPANY will do
        ours = _pos_int(item.get("MYCOMPANY_ID"))
        owner_id = _pos_int(req["ENTITY_ID"])
        owner = portal.companies.get(owner_id) if req["ENTITY_TYPE_ID"] == "4" else None
        mine = owner is not None and (owner_id == ours if ours else owner.get(
            "IS_MY_COMPANY") == "Y")
        if not mine:
            raise fail(f"The Requisite with ID '{mrid}' is not assigned to your company with "
                       f"ID '{ours or owner_id}'")
    if mbid:
        bank = portal.bank_details.get(mbid)
        if bank is None:
            raise fail(f"The BankDetail of your company with ID '{mbid}' is not found")
        if _pos_int(bank["ENTITY_ID"]) != mrid:
            raise fail(f"The BankDetail of your company with ID '{mbid}' is not assigned to "
                       f"Requisite of your company with ID '{mrid}'")


def link_register(portal: Portal, fields: dict[str, Any]) -> bool:
    f = up(fields)
    etype, eid = _link_key(portal, f, "ENTITY_TYPE_ID", "ENTITY_ID")
    item = _linked_item(portal, etype, eid)
    if item is None:
        raise fail("Entity is not found")
    ids: dict[str, int] = {}
    for name in LINK_IDS:
        raw = str(f.get(name, "")).strip()
        if not raw.isdigit():
            raise fail(f"{name} is not defined or invalid")
        ids[name] = int(raw)
    _check_link(portal, item, ids)
    portal.requisite_links[(etype, eid)] = {"ENTITY_TYPE_ID": etype, "ENTITY_ID": eid, **ids}
    return True


def _link_out(row: dict[str, Any], typed_key: bool) -> dict[str, Any]:
    """links/crm-requisite-link-get.md prints the item's type and id as numbers and the
    four ids as strings; crm-requisite-link-list.md prints every value as a string."""
    out: dict[str, Any] = {k: str(v) for k, v in row.items()}
    if typed_key:
        out["ENTITY_TYPE_ID"], out["ENTITY_ID"] = row["ENTITY_TYPE_ID"], row["ENTITY_ID"]
    return out


def _item_visible(ctx: CallContext, etype: int, eid: int) -> bool:
    entity = "deal" if etype == 2 else f"dynamic_{etype}"
    return ctx.portal.may_read(ctx.user_id, entity, eid)


@method("crm.requisite.link.fields", scope="crm")
def link_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return fields_out(LINK_FIELDS)


@method("crm.requisite.link.register", scope="crm")
def link_register_method(ctx: CallContext, params: dict[str, Any]) -> bool:
    f = up(as_dict(up(params).get("FIELDS")))
    with ctx.emu.lock:
        return link_register(ctx.portal, f)


def _camel_key(ctx: CallContext, params: dict[str, Any]) -> tuple[int, int]:
    low = {str(k).lower(): v for k, v in params.items()}
    return _link_key(ctx.portal, {"entityTypeId": low.get("entitytypeid"),
                                  "entityId": low.get("entityid")}, "entityTypeId", "entityId")


@method("crm.requisite.link.get", scope="crm")
def link_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    key = _camel_key(ctx, params)
    if not _item_visible(ctx, *key):
        raise fail("Access denied")
    row = ctx.portal.requisite_links.get(key)
    if row is None:
        raise fail("Not found")
    return _link_out(row, typed_key=True)


@method("crm.requisite.link.unregister", scope="crm")
def link_unregister(ctx: CallContext, params: dict[str, Any]) -> bool:
    key = _camel_key(ctx, params)
    ctx.portal.requisite_links.pop(key, None)
    return True


@method("crm.requisite.link.list", scope="crm")
def link_list(ctx: CallContext, params: dict[str, Any]) -> Any:
    rows = [_link_out(r, typed_key=False) for k, r in ctx.portal.requisite_links.items()
            if _item_visible(ctx, *k)]
    return _list(rows, params)


def drop_item_link(portal: Portal, etype: int, eid: int) -> None:
    """A deleted deal or item takes its requisite link along."""
    portal.requisite_links.pop((etype, eid), None)
