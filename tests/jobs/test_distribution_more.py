"""Distribution: smart-process items, duplicates by phone, deactivation, reconciliation."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.distribution_support import (
    SALES,
    answers,
    configure,
    day,
    distribute,
    lead,
    new_lead,
    robot_user,
)


def test_smart_process_item_is_distributed(installed: Stack):
    configure(installed, entity_types=["item:128"])
    day(installed, u2="CLOSED", u3="OPENED", u4="CLOSED")
    item = installed.control("POST", "items/128", json={"fields": {
        "title": "Moscow → Kazan, 20 t", "assignedById": 1}})
    item_id = int(item.get("id") or item["item"]["id"])
    res = installed.control("POST", "robots/run", json={
        "code": "fair_distribution",
        "document_id": ["crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic",
                        f"DYNAMIC_128_{item_id}"],
        "document_type": ["crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic",
                          "DYNAMIC_128"],
        "properties": {"group": "sales"}})
    installed.run_worker()
    values = answers(installed, res["event_token"])[0]["RETURN_VALUES"]
    assert robot_user(values["assigned_user_id"]) == 3, values
    got = installed.rest("crm.item.get", {"entityTypeId": 128, "id": item_id}).json()
    assert int(got["result"]["item"]["assignedById"]) == 3


def test_a_lead_whose_phone_matches_a_pinned_client_goes_to_their_manager(sales: Stack):
    contact = sales.control("POST", "crm/contact", json={"fields": {
        "NAME": "Repeat", "PHONE": [{"VALUE": "+7 (900) 111-22-33", "VALUE_TYPE": "WORK"}]}})
    contact_id = int(contact["id"])
    deal = sales.control("POST", "crm/deal", json={"fields": {
        "TITLE": "Old order", "CONTACT_ID": contact_id, "ASSIGNED_BY_ID": 4}})
    sales.control("POST", f"crm/deal/{int(deal['id'])}", json={"fields": {"STAGE_ID": "WON"}})
    sales.run_worker()
    lead_id = new_lead(sales, PHONE=[{"VALUE": "79001112233", "VALUE_TYPE": "MOBILE"}])
    token = distribute(sales, lead_id)
    sales.run_worker()
    values = answers(sales, token)[0]["RETURN_VALUES"]
    assert robot_user(values["assigned_user_id"]) == 4 and "repeat client" in values["reason"]


def test_a_deactivated_member_never_receives(sales: Stack):
    distribute(sales, new_lead(sales))
    sales.run_worker()  # members cached
    sales.control("POST", "users/3", json={"ACTIVE": False})
    sales.control("POST", "users/2", json={"ACTIVE": False})
    token = distribute(sales, new_lead(sales))
    sales.run_worker()
    values = answers(sales, token)
    assert values == []  # 2 and 3 deactivated, 4 on a break: pending, not assigned


def test_reconcile_recounts_in_work_after_hand_reassignment(sales: Stack):
    from connector.jobs import run_task
    from robots.distribution.state import DistributionState

    def crm_in_work(uid: int) -> int:  # the group serves leads and deals
        leads = sales.rest("crm.lead.list", {
            "filter": {"ASSIGNED_BY_ID": uid, "STATUS_SEMANTIC_ID": "P"}, "select": ["ID"]})
        deals = sales.rest("crm.deal.list", {
            "filter": {"ASSIGNED_BY_ID": uid, "STAGE_SEMANTIC_ID": "P"}, "select": ["ID"]})
        return int(leads.json()["total"]) + int(deals.json()["total"])

    lead_id = new_lead(sales)
    token = distribute(sales, lead_id)
    sales.run_worker()
    first = robot_user(answers(sales, token)[0]["RETURN_VALUES"]["assigned_user_id"])
    services = sales.app.extensions["connector"]
    member_id = sales.portal()["member_id"]
    prefix = services.settings.queue_prefix
    state = DistributionState(services.redis, f"{prefix}:distribution:b24:{member_id}")
    assert state.in_work_counts("sales").get(first) == 1  # our own count so far
    run_task(services, "distribution.reconcile", member_id)
    counts = state.in_work_counts("sales")
    assert counts[first] == crm_in_work(first) and counts[4] == crm_in_work(4)
    # the lead is handed to user 4 by hand; the next reconcile follows the CRM
    sales.control("POST", f"crm/lead/{lead_id}", json={"fields": {"ASSIGNED_BY_ID": 4}})
    result = run_task(services, "distribution.reconcile", member_id)
    after = state.in_work_counts("sales")
    assert after[first] == counts[first] - 1 and after[4] == counts[4] + 1
    assert result["changed"]["sales"][first] == [counts[first], after[first]] or \
        result["changed"]["sales"][first] == (counts[first], after[first])


def test_group_served_entities_are_enforced(sales: Stack):
    configure(sales, entity_types=["deal"])
    token = distribute(sales, new_lead(sales))
    sales.run_worker()
    assert "does not serve lead" in answers(sales, token)[0]["RETURN_VALUES"]["error"]


class TestWithoutTimeman:
    @pytest.fixture
    def emulator_overrides(self) -> dict:
        return {"scopes": "crm,user,department,bizproc,placement,im,disk,task"}

    def test_missing_timeman_scope_is_a_clear_error(self, installed: Stack):
        configure(installed)
        token = distribute(installed, new_lead(installed))
        installed.run_worker()
        error = answers(installed, token)[0]["RETURN_VALUES"]["error"]
        assert "timeman" in error
        assert SALES["id"] == "sales" and lead  # helpers imported for reuse
