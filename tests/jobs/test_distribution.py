"""Fair distribution end to end: emulator portal, real Redis, real burst workers."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, Stack
from tests.distribution_support import (
    allow_recheck,
    answers,
    configure,
    day,
    distribute,
    lead,
    new_lead,
    robot_user,
)


def test_robot_assigns_the_least_loaded_open_member_and_explains(sales: Stack):
    first = new_lead(sales)
    token = distribute(sales, first)
    sales.run_worker()
    (call,) = answers(sales, token)
    values = call["RETURN_VALUES"]
    assert values["status"] == "assigned" and values["error"] == ""
    assert robot_user(values["assigned_user_id"]) in (2, 3)
    assert "on a break" in values["reason"]  # user 4 is paused
    assert "deactivated" not in values["reason"]  # user 5 is inactive: not a member at all
    assert int(lead(sales, first)["ASSIGNED_BY_ID"]) == robot_user(values["assigned_user_id"])
    second = new_lead(sales)
    token2 = distribute(sales, second)
    sales.run_worker()
    other = robot_user(answers(sales, token2)[0]["RETURN_VALUES"]["assigned_user_id"])
    assert {other, robot_user(values["assigned_user_id"])} == {2, 3}
    chats = sales.control("GET", "chats")
    chats = chats.get("chats", chats) if isinstance(chats, dict) else chats
    texts = [m["MESSAGE"] for c in chats for m in c.get("messages", [])]
    assert sum("least loaded" in t for t in texts) == 2


DRAIN = ("feature.get", "event.offline.get", "event.offline.clear")


def _work_requests(stack: Stack) -> int:
    """Requests the portal answered, less the periodic offline drain's (it runs on its own
    clock, so a slow run may meet it inside the window)."""
    stats = stack.stats()
    by_method = stats.get("http_by_method") or {}
    return int(stats["requests"]) - sum(int(by_method.get(m, 0)) for m in DRAIN)


def test_steady_state_costs_two_requests(sales: Stack):
    distribute(sales, new_lead(sales))
    sales.run_worker()  # warm: members resolved, supervisors' chat created
    token = distribute(sales, new_lead(sales))
    before = _work_requests(sales)
    sales.run_worker()
    assert _work_requests(sales) - before == 2
    assert answers(sales, token)[0]["RETURN_VALUES"]["status"] == "assigned"


def test_two_items_at_once_go_to_different_people(sales: Stack):
    tokens = [distribute(sales, new_lead(sales)) for _ in range(2)]
    for w in sales.start_workers(2):
        w.wait(timeout=60)
    got = {robot_user(answers(sales, t)[0]["RETURN_VALUES"]["assigned_user_id"]) for t in tokens}
    assert got == {2, 3}


def test_nobody_working_keeps_it_pending_tells_once_then_assigns(sales: Stack):
    day(sales, u2="CLOSED", u3="EXPIRED", u4="PAUSED")
    lead_id = new_lead(sales)
    token = distribute(sales, lead_id)
    sales.run_worker()
    assert answers(sales, token) == []  # the workflow waits for a real assignment
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) == 1
    from connector.jobs import run_task

    services = sales.app.extensions["connector"]
    member_id = sales.portal()["member_id"]
    allow_recheck(sales)
    assert run_task(services, "distribution.recheck", member_id)["assigned"] == 0
    chats = sales.control("GET", "chats")
    chats = chats.get("chats", chats) if isinstance(chats, dict) else chats
    waiting = [m for c in chats for m in c.get("messages", []) if "Waiting" in m["MESSAGE"]]
    assert len(waiting) == 1  # told once, not on every re-check
    day(sales, u3="OPENED")
    allow_recheck(sales)
    assert run_task(services, "distribution.recheck", member_id)["assigned"] == 1
    (call,) = answers(sales, token)
    assert robot_user(call["RETURN_VALUES"]["assigned_user_id"]) == 3
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) == 3


def test_hand_assigned_item_is_left_alone(sales: Stack):
    lead_id = new_lead(sales, ASSIGNED_BY_ID=4)
    token = distribute(sales, lead_id)
    sales.run_worker()
    values = answers(sales, token)[0]["RETURN_VALUES"]
    assert values["status"] == "skipped" and "by hand" in values["reason"]
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) == 4


def test_unknown_group_and_unsupported_document_get_clear_errors(sales: Stack):
    token = distribute(sales, new_lead(sales), group="nope")
    res = sales.control("POST", "robots/run", json={
        "code": "fair_distribution", "document_id": ["crm", "CCrmDocumentDeal", "DEAL_1"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"],
        "properties": {"group": "sales"}})
    sales.run_worker()
    assert "unknown distribution group 'nope'" in answers(sales, token)[0]["RETURN_VALUES"]["error"]
    deal_answer = answers(sales, res["event_token"])[0]["RETURN_VALUES"]
    assert deal_answer["error"] == "" or "assigned" in deal_answer.get("status", "")


def test_repeat_client_goes_back_to_their_manager_even_on_a_break(sales: Stack):
    contact = sales.control("POST", "crm/contact", json={"fields": {"NAME": "Client"}})
    contact_id = int(contact["id"])
    deal = sales.control("POST", "crm/deal", json={"fields": {
        "TITLE": "First order", "CONTACT_ID": contact_id, "ASSIGNED_BY_ID": 4}})
    sales.control("POST", f"crm/deal/{int(deal['id'])}", json={"fields": {"STAGE_ID": "WON"}})
    sales.run_worker()  # ONCRMDEALUPDATE pins the contact to user 4
    lead_id = new_lead(sales, CONTACT_ID=contact_id)
    token = distribute(sales, lead_id)
    sales.run_worker()
    values = answers(sales, token)[0]["RETURN_VALUES"]
    assert robot_user(values["assigned_user_id"]) == 4 and "repeat client" in values["reason"]


def test_new_lead_is_distributed_automatically_when_configured(sales: Stack):
    configure(sales, auto=[{"entity": "lead"}])
    lead_id = new_lead(sales)
    sales.run_worker()
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) in (2, 3)


def test_dry_run_and_audit_from_the_cli(sales: Stack):
    member_id = sales.portal()["member_id"]
    dry = subprocess.run([sys.executable, "-m", "wiring", "distribution", "dry-run",
                          member_id], env=sales.env, cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "would go to user" in dry.stdout and "least loaded" in dry.stdout
    distribute(sales, new_lead(sales))
    sales.run_worker()
    audit = subprocess.run([sys.executable, "-m", "wiring", "distribution", "audit",
                            member_id], env=sales.env, cwd=ROOT, capture_output=True, text=True)
    assert "assigned" in audit.stdout and "lead/" in audit.stdout
