"""Leads, deals and smart-process items behind one small interface (REST names differ)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.bitrix.rest import Command


@dataclass
class ItemFacts:
    exists: bool
    title: str = ""
    assigned: int = 0
    created_by: int = 0
    contact_ids: list[int] = field(default_factory=list)
    company_id: int = 0
    status: str = ""
    category: str = ""
    source: str = ""


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class EntityKind:
    name: str  # "lead" | "deal" | "item:<entityTypeId>"

    @property
    def type_id(self) -> int:
        return {"lead": 1, "deal": 2}.get(self.name) or int(self.name.split(":")[1])

    @property
    def is_item(self) -> bool:
        return self.name.startswith("item:")

    def get(self, item_id: int) -> Command:
        if self.is_item:
            return "crm.item.get", {"entityTypeId": self.type_id, "id": item_id}
        return f"crm.{self.name}.get", {"id": item_id}

    def assign(self, item_id: int, user_id: int) -> Command:
        if self.is_item:
            return "crm.item.update", {"entityTypeId": self.type_id, "id": item_id,
                                       "fields": {"assignedById": user_id}}
        return f"crm.{self.name}.update", {"id": item_id, "fields": {"ASSIGNED_BY_ID": user_id},
                                           "params": {"REGISTER_SONET_EVENT": "Y"}}

    def count_in_work(self, user_id: int, statuses: tuple[str, ...]) -> Command:
        """A list call whose `total` is the user's in-work count (one row fetched)."""
        if self.is_item:
            flt: dict[str, Any] = {"assignedById": user_id}
            flt.update({"@stageId": list(statuses)} if statuses else {"stageSemanticId": "P"})
            return "crm.item.list", {"entityTypeId": self.type_id, "filter": flt,
                                     "select": ["id"], "start": 0}
        flt = {"ASSIGNED_BY_ID": user_id}
        key = "STATUS" if self.name == "lead" else "STAGE"
        flt.update({f"@{key}_ID": list(statuses)} if statuses else {f"{key}_SEMANTIC_ID": "P"})
        return f"crm.{self.name}.list", {"filter": flt, "select": ["ID"], "start": 0}

    def facts(self, result: Any) -> ItemFacts:
        if not isinstance(result, dict):
            return ItemFacts(False)
        if self.is_item:
            row = result.get("item") or {}
            contacts = row.get("contactIds") or ([row["contactId"]] if row.get("contactId")
                                                 else [])
            return ItemFacts(True, str(row.get("title") or ""), _int(row.get("assignedById")),
                             _int(row.get("createdBy")), [_int(c) for c in contacts if _int(c)],
                             _int(row.get("companyId")), str(row.get("stageId") or ""),
                             str(row.get("categoryId") or ""), str(row.get("sourceId") or ""))
        contacts = result.get("CONTACT_IDS") or ([result["CONTACT_ID"]]
                                                 if result.get("CONTACT_ID") else [])
        status = result.get("STATUS_ID") if self.name == "lead" else result.get("STAGE_ID")
        return ItemFacts(True, str(result.get("TITLE") or ""), _int(result.get("ASSIGNED_BY_ID")),
                         _int(result.get("CREATED_BY_ID")),
                         [_int(c) for c in contacts if _int(c)], _int(result.get("COMPANY_ID")),
                         str(status or ""), str(result.get("CATEGORY_ID") or ""),
                         str(result.get("SOURCE_ID") or ""))

    def link(self, domain: str, item_id: int) -> str:
        if self.is_item:
            return f"https://{domain}/crm/type/{self.type_id}/details/{item_id}/"
        return f"https://{domain}/crm/{self.name}/details/{item_id}/"

    def label(self, item_id: int) -> str:
        noun = {"lead": "lead", "deal": "deal"}.get(self.name, f"item of type {self.type_id}")
        return f"{noun} #{item_id}"


def from_document(document_id: list[str]) -> tuple[EntityKind, int]:
    """('lead', 12) from ['crm','CCrmDocumentLead','LEAD_12']; DYNAMIC_128_5 → item:128."""
    raw = document_id[2] if len(document_id) > 2 else ""
    parts = raw.split("_")
    if len(parts) == 2 and parts[0] in ("LEAD", "DEAL") and parts[1].isdigit():
        return EntityKind(parts[0].lower()), int(parts[1])
    if len(parts) == 3 and parts[0] == "DYNAMIC" and parts[1].isdigit() and parts[2].isdigit():
        return EntityKind(f"item:{parts[1]}"), int(parts[2])
    raise ValueError(f"unsupported document {raw or document_id!r}: leads, deals and "
                     "smart-process items only")
