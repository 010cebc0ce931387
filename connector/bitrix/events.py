"""Bitrix24's CRM events as the app's neutral events: names, and the item each is about.

App lifecycle events (ONAPPINSTALL/UPDATE/UNINSTALL) are not here: ingress treats them
apart, because their tokens prove themselves against the OAuth server.
"""

from __future__ import annotations

from typing import Any

from connector.crm.port import ItemRef

NEUTRAL = {
    "ONCRMLEADADD": "lead.created",
    "ONCRMLEADUPDATE": "lead.updated",
    "ONCRMDEALADD": "deal.created",
    "ONCRMDEALUPDATE": "deal.updated",
    "ONCRMDYNAMICITEMADD": "item.created",
    "ONCRMDYNAMICITEMUPDATE": "item.updated",  # crm/universal/events/on-crm-dynamic-item-update.md
    "ONCRMACTIVITYADD": "activity.created",
    # crm/timeline/activities/events/on-crm-activity-update.md
    "ONCRMACTIVITYUPDATE": "activity.updated",
}
BITRIX = {neutral: name for name, neutral in NEUTRAL.items()}
LIFECYCLE = ("ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL")
BOUND_LIFECYCLE = ("ONAPPUPDATE", "ONAPPUNINSTALL")
UPDATES = frozenset({"ONCRMLEADUPDATE", "ONCRMDEALUPDATE", "ONCRMDYNAMICITEMUPDATE",
                     "ONCRMACTIVITYUPDATE"})


def bitrix_events(neutral: list[str]) -> list[str]:
    """The Bitrix24 events to bind for the neutral events someone listens to."""
    return [BITRIX[n] for n in neutral if n in BITRIX]


def ref_of(event: str, data: Any) -> ItemRef:
    """The item an event is about, from data[FIELDS][ID] (and ENTITY_TYPE_ID for items)."""
    fields = data.get("FIELDS") if isinstance(data, dict) else None
    raw = fields.get("ID") if isinstance(fields, dict) else None
    if raw is None or not str(raw).isdigit():
        raise ValueError(f"event data carries no numeric FIELDS[ID]: {str(data)[:200]}")
    neutral = NEUTRAL[event]
    if neutral in ("item.created", "item.updated"):
        type_id = str(fields.get("ENTITY_TYPE_ID", ""))
        if not type_id.isdigit():
            raise ValueError(f"item event without a numeric ENTITY_TYPE_ID: {str(data)[:200]}")
        return ItemRef(f"item:{type_id}", int(raw))
    return ItemRef(neutral.split(".")[0], int(raw))
