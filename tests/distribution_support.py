"""Helpers for the distribution tests: a Sales group, work-day states, leads, robot runs."""

from __future__ import annotations

from tests.conftest import Stack

SALES = {"id": "sales", "name": "Sales", "entity_types": ["lead", "deal"], "departments": [2],
         "supervisors": [1], "placeholder_user_ids": [1], "recheck_minutes": 1}


def configure(stack: Stack, **group: object) -> None:
    member_id = stack.portal()["member_id"]
    stack.app.extensions["connector"].portal_settings.put(
        member_id, {"distribution": {"groups": [{**SALES, **group}]}})


def day(stack: Stack, **states: str) -> None:
    for uid, status in states.items():
        stack.control("POST", "timeman", json={"user_id": int(uid[1:]), "status": status})


def new_lead(stack: Stack, title: str = "Lead from Instagram", **fields: object) -> int:
    res = stack.control("POST", "crm/lead", json={"fields": {"TITLE": title,
                                                             "ASSIGNED_BY_ID": 1, **fields}})
    return int(res["id"])


def distribute(stack: Stack, lead_id: int, group: str = "sales") -> str:
    res = stack.control("POST", "robots/run", json={
        "code": "fair_distribution", "document_id": ["crm", "CCrmDocumentLead", f"LEAD_{lead_id}"],
        "document_type": ["crm", "CCrmDocumentLead", "LEAD"], "properties": {"group": group}})
    assert res["status_code"] == 200, res
    return res["event_token"]


def allow_recheck(stack: Stack) -> None:
    """Forget when each group was last re-checked, as if its interval had passed."""
    for key in stack.redis.scan_iter("*:recheck"):
        stack.redis.delete(key)


def answers(stack: Stack, token: str) -> list[dict]:
    return stack.control("GET", "robots/results", params={"event_token": token})["calls"]


def lead(stack: Stack, lead_id: int) -> dict:
    return stack.rest("crm.lead.get", {"id": lead_id}).json()["result"]


def robot_user(value: str) -> int:
    """A robot's `user` return value is `user_<id>` in the workflow engine."""
    assert str(value).startswith("user_"), value
    return int(str(value)[len("user_"):])
