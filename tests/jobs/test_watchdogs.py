"""Watchdogs end to end: rules saved as an admin saves them, items made in the emulator, real
burst workers; each outcome read from the portal (tasks, notifications, timeline, responsible,
stage) and from the audit. Due times are short through the emulator's clock shift: what it
stamps while shifted back is "two hours ago"."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from connector.context import JobContext
from connector.settings_schema import SettingsInvalid
from robots.watchdogs import audit, watch
from tests.conftest import Stack

HOUR = 3600


# set-up and reading the portal ---------------------------------------------------------
def member(s: Stack) -> str:
    return s.portal()["member_id"]


def configure(s: Stack, **kinds: list[dict[str, Any]]) -> None:
    """Save the watchdogs' rules as the admin page does (validated by the store)."""
    services = s.app.extensions["connector"]
    doc = services.portal_settings.get(member(s))
    doc["watchdogs"] = {**doc.get("watchdogs", {}), **kinds}
    services.portal_settings.put(member(s), doc)


@contextmanager
def portal_clock(s: Stack, shift_s: float) -> Iterator[None]:
    """What the portal stamps inside the block is `shift_s` seconds off (negative: the past)."""
    s.control("POST", "clock", json={"shift_s": shift_s})
    try:
        yield
    finally:
        s.control("POST", "clock", json={"shift_s": 0})


def lead(s: Stack, title: str, user: int = 3) -> int:
    return int(s.control("POST", "crm/lead", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": user}})["id"])


def deal(s: Stack, title: str, user: int = 3, **fields: Any) -> int:
    return int(s.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": user, **fields}})["id"])


def update_deal(s: Stack, deal_id: int, **fields: Any) -> None:
    s.control("POST", f"crm/deal/{deal_id}", json={"fields": fields})


def call(s: Stack, owner_type: int, owner_id: int, user: int) -> int:
    return int(s.control("POST", "crm/activity", json={"user_id": user, "fields": {
        "OWNER_TYPE_ID": owner_type, "OWNER_ID": owner_id, "TYPE_ID": 2, "SUBJECT": "Звонок",
        "RESPONSIBLE_ID": user, "COMPLETED": "Y",
        "COMMUNICATIONS": [{"VALUE": "+79000000000"}]}})["id"])


def tasks_of(s: Stack, binding: str) -> list[dict[str, Any]]:
    """The portal's tasks bound to an item ("L_4", "D_10")."""
    return [t for t in s.control("GET", "tasks") if binding in (t.get("ufCrmTask") or [])]


def notices_to(s: Stack, user: int) -> list[str]:
    return [str(n.get("MESSAGE") or n.get("message") or "")
            for n in s.control("GET", "notifications")["notifications"]
            if int(n.get("USER_ID") or n.get("to") or 0) == user]


def comments_on(s: Stack, entity: str, entity_id: int) -> list[str]:
    return [str(row["COMMENT"]) for row in s.control("GET", "notifications")["timeline"]
            if str(row.get("ENTITY_TYPE", "")).lower() == entity
            and int(row.get("ENTITY_ID") or 0) == entity_id]


def audit_of(s: Stack, ref: str) -> list[tuple[str, str, str]]:
    """(step, outcome, msgid) of an item ("lead/4"), oldest first."""
    services = s.app.extensions["connector"]
    ctx = JobContext.load(services, member(s), capability="watchdogs")
    assert ctx is not None
    rows = audit.entries(services.redis, watch.audit_key(ctx))
    return [(e["step"], e["outcome"], e["msgid"]) for e in reversed(rows) if e["ref"] == ref]


def work(s: Stack, runs: int = 2) -> None:
    """Burst workers in turn: each first moves the timers due by then (set by the one before).

    RQ keeps whole seconds and a timer is rounded up, so one set for "now" is due from the
    next second: a run after the first waits for it."""
    for n in range(runs):
        if n:
            time.sleep(math.ceil(time.time()) - time.time() + 0.05)
        out = s.run_worker()
        assert out.returncode == 0, out.stderr[-3000:]


def portal_now(s: Stack) -> datetime:
    return datetime.fromisoformat(s.rest("crm.activity.fields").json()["time"]["date_start"])


STEPS = [{"after_minutes": 0, "action": "remind"},
         {"after_minutes": 30, "action": "supervisors", "users": [1], "channel": "notify"}]


# reaction --------------------------------------------------------------------------------
def test_oil_distributor_a_lead_nobody_checked_gets_a_task_then_the_supervisor(
        installed: Stack):
    s = installed
    configure(s, reaction=[{"id": "leads", "name": "Проверка лида", "entity": "lead",
                            "due_minutes": 60, "working_time": False, "steps": STEPS}])
    with portal_clock(s, -2 * HOUR):
        missed = lead(s, "Масло 20 т")
        called = lead(s, "Дизель 5 т")
        call(s, 1, called, 3)
    work(s)
    (task,) = tasks_of(s, f"L_{missed}")
    assert task["responsibleId"] == "3" and task["tags"], task
    assert "Масло 20 т" in task["title"] and task["deadline"], task
    assert any("Масло 20 т" in n for n in notices_to(s, 1))  # the supervisor, 30 min later
    notes = comments_on(s, "lead", missed)
    assert len(notes) == 2 and all("Проверка лида" in n for n in notes), notes
    assert [a[:2] for a in audit_of(s, f"lead/{missed}")][:2] == [("0", "done"), ("1", "done")]
    # the lead that was called is left alone
    assert tasks_of(s, f"L_{called}") == [] and comments_on(s, "lead", called) == []
    assert timer_at(s, "leads", "lead", called) is None
    # more runs, a duplicate event: still one task and one notice
    s.control("POST", f"crm/lead/{missed}", json={"fields": {"COMMENTS": "x"}})
    work(s)
    assert len(tasks_of(s, f"L_{missed}")) == 1
    assert sum("Масло 20 т" in n for n in notices_to(s, 1)) == 1


def timer_at(s: Stack, rule_id: str, kind: str, item_id: int) -> float | None:
    """When the rule's timer for the item is due (None: none pending)."""
    ctx = JobContext.load(s.app.extensions["connector"], member(s), capability="watchdogs")
    assert ctx is not None
    return ctx.timer_due(f"{rule_id}:{kind}:{item_id}")


def stamp(s: Stack, seconds: float) -> str:
    """The portal's clock `seconds` from now, as a date-and-time field takes it."""
    return (portal_now(s) + timedelta(seconds=seconds)).isoformat()


def deal_field(s: Stack, deal_id: int, name: str) -> str:
    return str(s.rest("crm.deal.get", {"id": deal_id}).json()["result"][name])


def test_the_first_of_three_to_react_takes_it(installed: Stack):
    s = installed
    configure(s, reaction=[{"id": "diag", "name": "Диагностика", "entity": "lead",
                            "due_minutes": 60, "working_time": False,
                            "first_of": [2, 3, 4]}])
    lead_id = lead(s, "Диагностика Kia Rio", user=1)
    work(s)  # the offer is due at once: its timer fires on the second run
    for uid in (2, 3, 4):
        assert any("Kia Rio" in n for n in notices_to(s, uid)), uid
    call(s, 1, lead_id, 3)
    work(s)
    assert s.rest("crm.lead.get", {"id": lead_id}).json()["result"]["ASSIGNED_BY_ID"] == "3"
    for uid in (2, 4):
        assert len([n for n in notices_to(s, uid) if "Kia Rio" in n]) == 2, uid
    assert ("taken", "done", "{user} reacted first and takes it") in audit_of(s, f"lead/{lead_id}")
    assert timer_at(s, "diag", "lead", lead_id) is None


def test_a_deal_without_a_next_activity_is_reminded_until_a_to_do_is_added(installed: Stack):
    s = installed
    configure(s, next_activity=[{
        "id": "next", "name": "Следующее дело", "grace_minutes": 0, "working_time": False,
        "steps": [{"after_minutes": 0, "action": "remind", "channel": "task"},
                  {"after_minutes": 120, "action": "supervisors", "users": [1],
                   "channel": "notify"}]}])
    deal_id = deal(s, "Шкаф-купе")
    work(s)
    reminder = tasks_of(s, f"D_{deal_id}")
    assert [t["responsibleId"] for t in reminder] == ["3"]
    # the reminder is a task bound to the deal, hence an open activity of it — but the app's
    # own, so the deal still has no planned step and the escalation waits
    assert timer_at(s, "next", "deal", deal_id)
    s.rest("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal_id,
                                     "deadline": stamp(s, 86400), "responsibleId": 3})
    work(s)
    assert timer_at(s, "next", "deal", deal_id) is None
    assert audit_of(s, f"deal/{deal_id}")[-1] == ("-", "stopped", "it has an open activity")
    assert not any("Шкаф-купе" in n for n in notices_to(s, 1))


def test_a_deal_over_its_stage_limit_moves_to_the_follow_up_pipeline_with_a_task(
        installed: Stack):
    s = installed
    configure(s, stage_limits=[{"id": "slow", "name": "Думающие", "stage_ids": ["NEW"],
                                "limit_minutes": 60, "move_category": 1,
                                "move_stage": "C1:NEW", "responsible": "user", "user": 4}])
    with portal_clock(s, -2 * HOUR):
        deal_id = deal(s, "Ремонт КПП")
    work(s)
    got = s.rest("crm.deal.get", {"id": deal_id}).json()["result"]
    assert (got["CATEGORY_ID"], got["STAGE_ID"], got["ASSIGNED_BY_ID"]) == ("1", "C1:NEW", "4")
    (task,) = tasks_of(s, f"D_{deal_id}")
    assert task["responsibleId"] == "4" and "Ремонт КПП" in task["title"]
    assert audit_of(s, f"deal/{deal_id}")[0][:2] == ("move", "done")


def test_a_reminder_before_a_date_follows_the_date_and_is_dropped_when_the_deal_closes(
        installed: Stack):
    s = installed
    configure(s, date_reminders=[{"id": "loading", "name": "Погрузка",
                                  "field": "UF_CRM_LOADING", "before_minutes": 120}])
    deal_id = deal(s, "Рейс Москва — Казань", UF_CRM_LOADING=stamp(s, 2 * HOUR + 86400))
    work(s, 1)
    later = timer_at(s, "loading", "deal", deal_id)
    assert later and later - datetime.now().timestamp() > 86000
    update_deal(s, deal_id, UF_CRM_LOADING=stamp(s, 2 * HOUR + 2))  # the date moved closer
    work(s, 1)
    soon = timer_at(s, "loading", "deal", deal_id)
    assert soon and soon < later - 86000
    time.sleep(max(0.0, soon - time.time()) + 0.2)
    work(s, 1)
    (task,) = tasks_of(s, f"D_{deal_id}")
    assert task["responsibleId"] == "3" and "Погрузка" in task["title"]
    update_deal(s, deal_id, UF_CRM_LOADING=stamp(s, 2 * HOUR + 86400))  # moved again
    work(s, 1)
    assert timer_at(s, "loading", "deal", deal_id)
    update_deal(s, deal_id, STAGE_ID="WON")
    work(s, 1)
    assert timer_at(s, "loading", "deal", deal_id) is None
    assert audit_of(s, f"deal/{deal_id}")[-1] == ("-", "stopped", "the item is closed")
    assert len(tasks_of(s, f"D_{deal_id}")) == 1


def test_reminders_due_together_are_read_in_one_request_and_made_once_each(
        installed: Stack):
    """A backlog (here: five loadings at the same minute) drains at less than two requests
    a reminder: the first timer to fire reads all five items at once; the others' timers,
    moved on by it, do nothing."""
    s = installed
    configure(s, date_reminders=[{"id": "loading", "name": "Погрузка",
                                  "field": "UF_CRM_LOADING", "before_minutes": 120}])
    when = stamp(s, 2 * HOUR + 2)
    deals = [deal(s, f"Рейс {n}", UF_CRM_LOADING=when) for n in range(5)]
    work(s, 1)
    due = [timer_at(s, "loading", "deal", d) for d in deals]
    assert all(due)
    time.sleep(max(0.0, max(due) - time.time()) + 0.2)  # type: ignore[type-var]
    s.control("POST", "reset-stats")
    work(s, 1)
    for d in deals:
        (task,) = tasks_of(s, f"D_{d}")
        assert "Погрузка" in task["title"]
        assert timer_at(s, "loading", "deal", d) is None
        assert audit_of(s, f"deal/{d}") == [  # as if its own timer had fired
            ("remind", "done", "Reminded {people} of the date"),
            ("-", "stopped", "all its steps are done")]
    # the deal tab reads no CRM, yet says whom the step reached, by the name read then
    from robots.watchdogs.card import Words

    ctx = JobContext.load(s.app.extensions["connector"], member(s), capability="watchdogs")
    assert ctx is not None
    (line,) = [x for x in Words(ctx, deals[0]).last("ru") if x["outcome"] == "done"]
    assert "Maria Sokolova" in line["reason"], line
    by_method = s.stats()["http_by_method"]
    assert by_method.get("batch", 0) + by_method.get("crm.deal.get", 0) == 1 + 5, by_method
    assert sum(by_method.values()) <= 6, by_method  # one read, one write a reminder


def test_check_ins_by_route_length_and_follow_ups_after_a_stage_and_on_a_date(
        installed: Stack):
    s = installed
    configure(s, check_ins=[{"id": "transit", "name": "В пути", "stage_ids": ["C1:EXECUTING"],
                             "interval_from": "distance", "distance_field": "UF_CRM_KM",
                             "by_distance": [{"from_km": 0, "every_minutes": 120},
                                             {"from_km": 500, "every_minutes": 240}]}],
              follow_ups=[{"id": "after", "name": "После доставки", "stage_ids": ["C1:WON"],
                           "working_days": 1},
                          {"id": "again", "name": "Перезвонить", "mode": "on_date",
                           "date_field": "UF_CRM_NEXT_CALL"}])
    with portal_clock(s, -3 * HOUR):
        short = deal(s, "Короткий рейс", CATEGORY_ID=1, STAGE_ID="C1:EXECUTING", UF_CRM_KM=90)
        long = deal(s, "Длинный рейс", CATEGORY_ID=1, STAGE_ID="C1:EXECUTING", UF_CRM_KM=900)
    with portal_clock(s, -10 * 86400):  # delivered ten days ago: a working day has passed
        delivered = deal(s, "Доставлено", CATEGORY_ID=1, STAGE_ID="C1:WON")
    refused = deal(s, "Отказ", UF_CRM_NEXT_CALL=stamp(s, 1))
    time.sleep(1.2)
    work(s)
    assert [t["title"] for t in tasks_of(s, f"D_{short}")] == [
        "Check in with the driver: Короткий рейс"]  # every 2 h: one slot passed
    assert tasks_of(s, f"D_{long}") == []  # every 4 h: the first check-in is an hour away
    assert timer_at(s, "transit", "deal", long)
    assert len(tasks_of(s, f"D_{delivered}")) == 1
    assert len(tasks_of(s, f"D_{refused}")) == 1
    # refused again: the manager sets the next date, and a new task comes then
    update_deal(s, refused, UF_CRM_NEXT_CALL=stamp(s, 1))
    time.sleep(1.2)
    work(s)
    assert len(tasks_of(s, f"D_{refused}")) == 2
    update_deal(s, refused, STAGE_ID="LOSE", UF_CRM_NEXT_CALL=stamp(s, 86400))
    work(s, 1)
    assert timer_at(s, "again", "deal", refused) is None


# bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("kinds", "path"), [
    ({"date_reminders": [{"id": "x", "field": "UF_CRM_LOADING", "before_minutes": -5}]},
     "watchdogs.date_reminders[0].before_minutes"),
    ({"reaction": [{"id": "x", "entity": "lead", "steps": [
        {"after_minutes": 0, "action": "supervisors"}]}]}, "watchdogs.reaction[0].steps[0].users"),
])
def test_a_rule_with_a_negative_offset_or_nobody_to_tell_is_refused_on_save(
        installed: Stack, kinds: dict[str, Any], path: str):
    with pytest.raises(SettingsInvalid) as refused:
        configure(installed, **kinds)
    assert refused.value.path == path


def test_a_deleted_item_and_a_dismissed_responsible_are_logged_skips(installed: Stack):
    s = installed
    configure(s, reaction=[{"id": "leads", "name": "Проверка", "entity": "lead",
                            "due_minutes": 60, "working_time": False}],
              date_reminders=[{"id": "loading", "field": "UF_CRM_LOADING",
                               "before_minutes": 120}])
    with portal_clock(s, -2 * HOUR):
        orphan = lead(s, "Без ответственного", user=5)
    gone = deal(s, "Удалённая", UF_CRM_LOADING=stamp(s, 2 * HOUR + 1))
    s.control("POST", "users/5", json={"ACTIVE": False})
    work(s, 1)
    s.control("DELETE", f"crm/deal/{gone}")
    time.sleep(1.2)
    work(s)
    assert tasks_of(s, f"L_{orphan}") == [] and tasks_of(s, f"D_{gone}") == []
    assert ("0", "skipped", "Step skipped: nobody to tell ({why})") in audit_of(
        s, f"lead/{orphan}")
    assert audit_of(s, f"deal/{gone}")[-1] == (
        "-", "stopped", "the item is gone (deleted or merged)")
    assert s.app.extensions["connector"].queues.failed_count() == 0  # no job crashed
