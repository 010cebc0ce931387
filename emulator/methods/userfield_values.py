"""Values of smart-process user fields: checked and stored by crm.item.add/update, shown by
crm.item.get/list, in the formats the docs give for each field type.

Sources: api-reference/crm/universal/crm-item-add.md (the sample with one field of each type:
string, enumeration item id, date, url list, file ``[name, base64]``, money ``"300|RUB"``,
boolean ``"Y"``, double), crm-item-update.md ("Как обновить пользовательское поле типа
file"), object-fields.md (a file is shown as ``{id, url, urlMachine}``, multiple values as
arrays), crm-item-list.md (boolean fields are filtered by 1/0, not Y/N) and
api-reference/crm/data-types.md#crm-binding-format (``crm`` fields hold ``D_1``, ``CO_3``,
``T80_6``). Errors: ``CRM_FIELD_ERROR_VALUE_NOT_VALID`` and ``100`` "Expected iterable value
for multiple field" (crm-item-add.md); a missing mandatory field is ``CRM_FIELD_ERROR_REQUIRED``
(api-reference/crm/universal/import/crm-item-batch-import.md prints it).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..listing import PORTAL_TZ
from ..registry import as_dict

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

# crm/data-types.md#object_type: entityTypeAbbr of the classic types (smart processes: T<hex>)
ABBR = {"LEAD": "L", "DEAL": "D", "CONTACT": "C", "COMPANY": "CO", "QUOTE": "Q",
        "SMART_INVOICE": "SI", "ORDER": "O"}
_BINDING = re.compile(r"^(L|D|C|CO|Q|SI|O|T[0-9a-f]+)_(\d+)$")
_MONEY = re.compile(r"^(-?\d+(?:\.\d+)?)\|([A-Z]{3})$")
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def label(value: Any, lang: str = "ru") -> str:
    """A label kept as a lang_map ({"ru": …, "en": …}) or a plain string, in `lang`."""
    if isinstance(value, dict):
        for key in (lang, "ru", "en"):
            if value.get(key):
                return str(value[key])
        return next((str(v) for v in value.values() if v), "")
    return "" if value is None else str(value)


def title(uf: dict[str, Any], lang: str = "ru") -> str:
    return label(uf.get("EDIT_FORM_LABEL"), lang) or uf["FIELD_NAME"]


def invalid(uf: dict[str, Any]) -> RestError:
    """crm-item-add.md: CRM_FIELD_ERROR_VALUE_NOT_VALID, Неверное значение поля "field"."""
    return RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f'Неверное значение поля "{title(uf)}"',
                     400)


def _date(uf: dict[str, Any], value: Any) -> str:
    text = str(value).strip()
    ru = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})", text)
    if ru:
        text = f"{ru.group(3)}-{ru.group(2)}-{ru.group(1)}"
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise invalid(uf) from None


def _datetime(uf: dict[str, Any], value: Any) -> str:
    text = str(value).strip().replace("Z", "+00:00")
    ru = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})(?: (\d{2}:\d{2}(?::\d{2})?))?", text)
    if ru:
        text = f"{ru.group(3)}-{ru.group(2)}-{ru.group(1)}T{ru.group(4) or '00:00:00'}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(uf) from None
    return (when if when.tzinfo else when.replace(tzinfo=PORTAL_TZ)).isoformat()


def _binding(uf: dict[str, Any], value: Any) -> str:
    """A ``crm`` field value: PREFIX_ID; a bare id is accepted when one kind is enabled."""
    text = str(value).strip()
    if _BINDING.match(text):
        return text
    settings = as_dict(uf.get("SETTINGS"))
    enabled = [k for k, v in settings.items() if str(v).upper() == "Y"]
    if text.isdigit() and len(enabled) == 1:
        kind = enabled[0]
        if kind in ABBR:
            return f"{ABBR[kind]}_{text}"
        if kind.startswith("DYNAMIC_") and kind[8:].isdigit():
            return f"T{int(kind[8:]):x}_{text}"
    raise invalid(uf)


def _one(emu: Emulator, portal: Portal, uf: dict[str, Any], value: Any, old: Any) -> Any:
    """One value of a field, as stored (strings and ints, like the rest of a row)."""
    kind = uf["USER_TYPE_ID"]
    if kind == "file":
        return _file(emu, portal, uf, value, old)
    if isinstance(value, dict | list):
        raise invalid(uf)
    text = str(value).strip()
    if kind in ("string", "url"):
        return str(value)
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", text):
            raise invalid(uf)
        return int(text)
    if kind == "double":
        if isinstance(value, bool) or not _NUMBER.match(text):
            raise invalid(uf)
        number = float(text.replace(",", "."))
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        if text.upper() in ("Y", "1", "TRUE"):
            return 1
        if text.upper() in ("N", "0", "FALSE", ""):
            return 0
        raise invalid(uf)
    if kind == "date":
        return _date(uf, value)
    if kind == "datetime":
        return _datetime(uf, value)
    if kind == "enumeration":
        ids = {int(item["ID"]) for item in uf.get("LIST") or []}
        if not text.isdigit() or int(text) not in ids:
            raise invalid(uf)
        return int(text)
    if kind == "money":
        found = _MONEY.match(text.replace(",", "."))
        if not found:
            raise invalid(uf)
        return f"{found.group(1)}|{found.group(2)}"
    if kind == "employee":
        if not text.isdigit() or int(text) not in portal.users:
            raise invalid(uf)
        return int(text)
    if kind == "crm":
        return _binding(uf, value)
    return value


def _file(emu: Emulator, portal: Portal, uf: dict[str, Any], value: Any, old: Any) -> Any:
    """crm-item-update.md: ``[name, base64]`` uploads, ``{"id": n}`` keeps the file it names
    (another id clears it), ``""`` clears."""
    from .. import disk

    if isinstance(value, list | tuple) and len(value) == 2 and all(
            isinstance(v, str) for v in value):
        name, data = disk.decode_file_content(list(value))
        return disk.add_bfile(portal, name, disk.blob_store(emu).from_bytes(data)).id
    if isinstance(value, dict):
        held = old if isinstance(old, list) else [old]
        wanted = str(as_dict(value).get("id", "")).strip()
        return int(wanted) if wanted.isdigit() and int(wanted) in held else None
    if value in (None, ""):
        return None
    raise invalid(uf)


def write(emu: Emulator, portal: Portal, uf: dict[str, Any], value: Any, old: Any) -> Any:
    """The stored value of a user field after a write of `value` (checked by its type)."""
    if uf.get("MULTIPLE") == "Y":
        if value in (None, ""):
            return []
        if isinstance(value, dict) and uf["USER_TYPE_ID"] != "file":
            value = list(value.values())
        if not isinstance(value, list):
            raise RestError("100", "Expected iterable value for multiple field, but got "
                            f"{type(value).__name__} instead", 400)
        out = [_one(emu, portal, uf, v, old) for v in value if v not in (None, "")]
        return [v for v in out if v is not None]
    if value in (None, "") or (isinstance(value, list) and not value):
        return None
    return _one(emu, portal, uf, value, old)


def missing_required(ufs: list[dict[str, Any]], row: dict[str, Any]) -> RestError | None:
    """crm-item-batch-import.md: CRM_FIELD_ERROR_REQUIRED, Поле "…" обязательно для заполнения."""
    for uf in ufs:
        if uf.get("MANDATORY") == "Y" and row.get(uf["FIELD_NAME"]) in (None, "", []):
            return RestError("CRM_FIELD_ERROR_REQUIRED",
                             f'Поле "{title(uf)}" обязательно для заполнения', 400)
    return None


def _file_out(stored: Any, type_id: int, row_id: Any, key: str) -> dict[str, Any]:
    """object-fields.md: a file is ``{id, url, urlMachine}``; urlMachine takes the caller's
    token in ``auth=`` like the classic file fields' downloadUrl."""
    base = "/bitrix/components/bitrix/crm.item.show/show_file.php"
    query = f"entityTypeId={type_id}&ownerId={row_id}&fieldName={key}&fileId={stored}"
    return {"id": int(stored), "url": f"{base}?{query}", "urlMachine": f"{base}?auth=&{query}"}


def show(uf: dict[str, Any], stored: Any, type_id: int, row_id: Any) -> Any:
    """A stored value as crm.item.* returns it."""
    kind, many = uf["USER_TYPE_ID"], uf.get("MULTIPLE") == "Y"
    values = stored if isinstance(stored, list) else ([] if stored in (None, "") else [stored])
    if kind == "file":
        out = [_file_out(v, type_id, row_id, uf["FIELD_NAME"]) for v in values]
    elif kind == "boolean":
        out = ["Y" if str(v) in ("1", "Y") else "N" for v in values]
        if not many:
            return out[0] if out else "N"
    else:
        out = list(values)
    if many:
        return out
    return out[0] if out else None
