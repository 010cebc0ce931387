"""The "reassign" service other capabilities call (watchdogs): emulator portal, real Redis.

Users 2 and 3 of the Sales department work, 4 is on a break (the `sales` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest

from connector import history
from connector.context import JobContext
from connector.crm.port import ItemRef
from robots.distribution.engine import state_for
from robots.distribution.state import DistributionState
from tests.conftest import Stack
from tests.distribution_support import answers, day, distribute, lead, new_lead, robot_user

MISSED = "не отреагировал за 30 мин"


def context(stack: Stack) -> JobContext:
    """A job context of the caller (watchdogs), as its job would hold it."""
    services = stack.app.extensions["connector"]
    ctx = JobContext.load(services, stack.portal()["member_id"], "test", "watchdogs")
    assert ctx is not None
    return ctx


def reassign(stack: Stack, lead_id: int, exclude: tuple[int, ...], **kw: Any) -> dict:
    ctx = context(stack)
    service = ctx.service("reassign")
    return service(ctx, ItemRef("lead", lead_id), kw.pop("group", "sales"), exclude,
                   kw.pop("reason", MISSED), **kw)


def state(stack: Stack) -> DistributionState:
    """Distribution's own state, in the portal's time zone ("today" is the portal's day)."""
    return state_for(context(stack))


def loads(stack: Stack, *users: int) -> dict[int, tuple[int, int]]:
    """(in work, received today) per user in the sales group."""
    got = state(stack).loads("sales", list(users))
    return {u: (got[u].in_work, got[u].today) for u in users}


def lines(stack: Stack, lead_id: int) -> list[str]:
    key = context(stack).history_key(ItemRef("lead", lead_id))
    return [history.render(e, "ru") for e in history.entries(stack.redis, key)]


def test_the_excluded_person_is_never_chosen_even_when_least_loaded(sales: Stack):
    day(sales, u4="OPENED")
    for _ in range(2):  # 3 and 4 carry more than 2: by load, 2 would be next
        state(sales).bump("sales", 3)
        state(sales).bump("sales", 4)
    state(sales).bump("sales", 3)
    lead_id = new_lead(sales, ASSIGNED_BY_ID=3)  # assigned by hand: reassigned all the same
    got = reassign(sales, lead_id, (2,))
    assert got["status"] == "assigned" and got["user_id"] == 4, got
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) == 4
    assert got["reason"].startswith(f"{MISSED}; reassigned from Maria Sokolova: "), got
    assert got["reason"].endswith("; excluded: Ivan Petrov")


def test_counters_move_from_the_old_person_to_the_new_one_once(sales: Stack):
    lead_id = new_lead(sales)
    token = distribute(sales, lead_id)
    sales.run_worker()
    first = robot_user(answers(sales, token)[0]["RETURN_VALUES"]["assigned_user_id"])
    other = ({2, 3} - {first}).pop()
    before = loads(sales, first, other)
    got = reassign(sales, lead_id, (first,))
    assert got["user_id"] == other
    after = loads(sales, first, other)
    assert after[first] == (before[first][0] - 1, before[first][1])  # still received it today
    assert after[other] == (before[other][0] + 1, before[other][1] + 1)
    assert reassign(sales, lead_id, (first,)) == got  # asked again: nothing moves
    assert loads(sales, first, other) == after
    # distribution's own record follows: the robot on it again answers with the new person
    token = distribute(sales, lead_id)
    sales.run_worker()
    assert robot_user(answers(sales, token)[0]["RETURN_VALUES"]["assigned_user_id"]) == other
    assert context(sales).service("assignee")(context(sales), ItemRef("lead", lead_id)).id == other


def test_a_retry_after_a_failed_write_gives_the_same_person(sales: Stack):
    lead_id = new_lead(sales, ASSIGNED_BY_ID=4)
    sales.control("POST", "faults", json={"method": "crm.lead.update",
                                          "error": "INTERNAL_SERVER_ERROR", "count": 50})
    with pytest.raises(Exception):  # noqa: B017 - the job fails as a crash would stop it
        reassign(sales, lead_id, (4,), key="reaction:r1:step3")
    sales.control("DELETE", "faults")
    chosen = state(sales).get_reassign(state(sales).reassign_key(
        "lead", lead_id, _call("reaction:r1:step3")))
    assert chosen and not chosen["applied"]
    counted = loads(sales, 2, 3)
    state(sales).bump("sales", chosen["user_id"], 5)  # the rule would now pick the other one
    got = reassign(sales, lead_id, (4,), key="reaction:r1:step3")
    assert got["status"] == "assigned" and got["user_id"] == chosen["user_id"]
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) == chosen["user_id"]
    now = loads(sales, 2, 3)
    now[chosen["user_id"]] = (now[chosen["user_id"]][0] - 5, now[chosen["user_id"]][1] - 5)
    assert now == counted  # the retry counted nothing
    assert sum(1 for line in lines(sales, lead_id) if line.startswith("Ответственный")) == 1
    rows = state(sales).audit_entries(10, f"lead/{lead_id}")
    assert [r["status"] for r in rows] == ["assigned"] and rows[0]["from"] == 4


def _call(key: str) -> str:
    from robots.distribution.reassign import call_key

    return call_key("sales", (4,), MISSED, key)


def test_nobody_available_keeps_the_responsible_and_says_why(sales: Stack):
    lead_id = new_lead(sales, ASSIGNED_BY_ID=3)
    before = loads(sales, 2, 3, 4)
    got = reassign(sales, lead_id, (2,))  # 3 holds it, 4 is on a break
    assert got["status"] == "kept" and got["user_id"] == 3, got
    assert got["reason"].startswith(f"{MISSED}; kept with Maria Sokolova: nobody can receive")
    assert "on a break" in got["reason"] and "excluded: Ivan Petrov" in got["reason"], got
    assert int(lead(sales, lead_id)["ASSIGNED_BY_ID"]) == 3
    assert loads(sales, 2, 3, 4) == before
    reassign(sales, lead_id, (2,))
    rows = state(sales).audit_entries(10, f"lead/{lead_id}")
    assert [r["status"] for r in rows] == ["kept"]  # logged once per call
    day(sales, u4="OPENED")  # someone starts the day: the same call now hands it over
    assert reassign(sales, lead_id, (2,))["user_id"] == 4


def test_the_items_history_tells_the_reason(sales: Stack):
    lead_id = new_lead(sales, ASSIGNED_BY_ID=2)
    got = reassign(sales, lead_id, (2,))
    assert got["user_id"] == 3
    (line,) = lines(sales, lead_id)
    assert line.startswith(f"Ответственный сменён: {MISSED}; reassigned from "), line


def test_bad_group_and_deleted_item_are_kept_with_a_reason(sales: Stack):
    lead_id = new_lead(sales, ASSIGNED_BY_ID=2)
    got = reassign(sales, lead_id, (2,), group="nope")
    assert got["status"] == "kept" and got["user_id"] == 2 and "nope" in got["reason"]
    sales.control("DELETE", f"crm/lead/{lead_id}")
    gone = reassign(sales, lead_id, (2,), group="")
    assert gone["status"] == "kept" and gone["user_id"] == 0, gone
