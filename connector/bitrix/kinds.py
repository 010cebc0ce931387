"""The port's item kinds as Bitrix24 names them: entity type ids and binding codes.

api-reference/crm/data-types.md#object_type: lead 1, deal 2, contact 3, company 4, a smart
process its entityTypeId; the short codes L, D, C, CO and T<hex id> make the values of
"CRM binding" fields and UF_CRM_TASK ("D_12", "T80_6", #crm-binding-format).
"""

from __future__ import annotations

import re

from connector.crm import port as p

ENTITY_TYPE = {"lead": 1, "deal": 2, "contact": 3, "company": 4}
BINDING_PREFIX = {"lead": "L", "deal": "D", "contact": "C", "company": "CO"}
_BINDING = re.compile(r"^(L|D|C|CO|T[0-9a-f]+)_(\d+)$")


def type_id(kind: str) -> int:
    return ENTITY_TYPE.get(kind) or int(kind.split(":", 1)[1])


def is_item(kind: str) -> bool:
    return kind.startswith("item:")


def crm_binding(ref: p.ItemRef) -> str:
    """An UF_CRM_TASK or `crm` field value: "D_12", "L_3", "Tb1_29"
    (how-to-connect-task-to-spa.md, data-types.md#crm-binding-format)."""
    if is_item(ref.kind):
        return f"T{type_id(ref.kind):x}_{ref.id}"
    return f"{BINDING_PREFIX[ref.kind]}_{ref.id}"


def parse_binding(value: object) -> p.ItemRef | None:
    """The item a binding value names ("CO_3" → company/3); None when it names none."""
    found = _BINDING.match(str(value or "").strip())
    if not found:
        return None
    prefix, item = found.group(1), int(found.group(2))
    if prefix.startswith("T"):
        return p.ItemRef(f"item:{int(prefix[1:], 16)}", item)
    kind = next(k for k, v in BINDING_PREFIX.items() if v == prefix)
    return p.ItemRef(kind, item)
