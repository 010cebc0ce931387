"""amoCRM's account webhooks as the app's neutral events: names, and the item each is about.

An event's name is amoCRM's own webhook code (`{action}_{entity}`, the `settings` values of
POST /api/v4/webhooks, amocrm.md §2.1), so what the app subscribes to and what a delivery
is called are the same word. Its data is the record's id and routing hints
(connector.amocrm.webhooks.HookRecord), never field values: the worker re-reads the lead.
"""

from __future__ import annotations

from typing import Any

from connector.amocrm.webhooks import HookRecord
from connector.crm.port import ItemRef

# amoCRM leads are the neutral "deal" (decision 46); a note is what Bitrix24 calls an
# activity (a call, an e-mail, a file added): the watchdogs and the mirror react to it
NEUTRAL = {
    "add_lead": "deal.created",
    "update_lead": "deal.updated",
    "status_lead": "deal.updated",
    "responsible_lead": "deal.updated",
    "restore_lead": "deal.updated",
    "note_lead": "activity.created",
}
# the webhook codes to register for the neutral events someone listens to
AMOCRM: dict[str, list[str]] = {}
for _code, _neutral in NEUTRAL.items():
    AMOCRM.setdefault(_neutral, []).append(_code)
# updates of one lead merge while queued: the job re-reads the lead anyway
UPDATES = frozenset({"update_lead", "status_lead", "responsible_lead", "restore_lead"})


def amocrm_events(neutral: list[str] | set[str]) -> list[str]:
    """The webhook codes to register for these neutral events, in a stable order."""
    return [code for code, name in NEUTRAL.items() if name in neutral]


def name_of(record: HookRecord) -> str:
    """`HookRecord("lead", "status", 7)` → "status_lead"."""
    return f"{record.action}_{record.entity}"


def data_of(record: HookRecord) -> dict[str, Any]:
    """What a delivery job carries: the id and the routing hints."""
    return {"id": record.id, **record.extra}


def ref_of(event: str, data: Any) -> ItemRef:
    """The item an event is about: a lead (neutral "deal") or a note ("activity")."""
    raw = data.get("id") if isinstance(data, dict) else None
    if raw is None or not str(raw).isdigit():
        raise ValueError(f"amoCRM event data carries no numeric id: {str(data)[:200]}")
    kind = "activity" if NEUTRAL[event] == "activity.created" else "deal"
    return ItemRef(kind, int(raw))
