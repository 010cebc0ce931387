"""The watchdogs' pure decisions at concrete moments: when each kind of rule is due
(robots.watchdogs.plan) and what a due step does (robots.watchdogs.steps), in working time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.crm import port as crm
from robots.watchdogs import config as c
from robots.watchdogs import steps
from robots.watchdogs.plan import Due, Facts, Memory, Plan, plan
from robots.watchdogs.worktime import WorkTime

MSK = "Europe/Moscow"
H = 3600
OFFICE = WorkTime.build()  # 09:00-18:00, Monday to Friday, the production calendar


def at(text: str) -> float:
    """A unix moment from a Moscow "YYYY-MM-DD HH:MM"."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(MSK)).timestamp()


def local(t: float) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(MSK)).strftime("%Y-%m-%d %H:%M")


def iso(text: str) -> str:
    """A Moscow wall-clock time as the CRM writes it."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(MSK)).isoformat()


def lead(created: str, **kw: Any) -> crm.Item:
    return crm.Item(crm.ItemRef("lead", 7), "Масло 20 т", assigned=3, created_at=iso(created),
                    stage="NEW", **kw)


def deal(stage: str = "C1:TRANSIT", moved: str = "", **fields: Any) -> crm.Item:
    extra = {"MOVED_TIME": iso(moved)} if moved else {}
    return crm.Item(crm.ItemRef("deal", 12), "Рейс Москва — Казань", assigned=3, stage=stage,
                    category="1", fields={**extra, **fields})


def run(kind: str, rule: dict[str, Any], item: crm.Item | None, now: str,
        memory: Memory | None = None, **facts: Any) -> Plan:
    return plan(kind, rule, Facts(item, at(now), **facts), OFFICE, memory or Memory(), MSK)


def done(p: Plan, *dues: Due) -> Memory:
    """The plan's memory with these steps done, as the engine keeps it after their write."""
    m = p.memory
    return Memory(m.first_stage, m.since, m.stage_since, m.stage,
                  m.done | {d.key for d in dues}, m.ours)


def when(p: Plan) -> list[tuple[str, str]]:
    return [(d.step, local(d.at)) for d in p.dues]


OIL = c.REACTION.validate({
    "id": "oil", "name": "Проверка лида", "entity": "lead", "due_minutes": 22 * 60,
    "steps": [{"after_minutes": 0, "action": "remind"},
              {"after_minutes": 120, "action": "supervisors", "users": [1],
               "channel": "notify"}]})


# reaction ------------------------------------------------------------------------------
def test_a_friday_evening_lead_is_due_in_working_time_on_wednesday():
    p = run("reaction", OIL, lead("2026-03-13 19:00"), "2026-03-13 19:05", reactions=[])
    # 22 working hours from Monday 09:00: Monday 9, Tuesday 9, Wednesday 4 -> 13:00
    assert p.watching and when(p) == [("0", "2026-03-18 13:00"), ("1", "2026-03-18 15:00")]
    assert p.due_now(at("2026-03-18 12:59")) == []
    first = p.due_now(at("2026-03-18 13:00"))
    assert [d.step for d in first] == ["0"]
    later = run("reaction", OIL, lead("2026-03-13 19:00"), "2026-03-18 13:01",
                memory=done(p, *first), reactions=[])
    assert when(later) == [("1", "2026-03-18 15:00")]


def test_calendar_time_when_the_rule_does_not_ask_for_working_time():
    rule = {**OIL, "working_time": False, "due_minutes": 60}
    p = run("reaction", rule, lead("2026-03-13 19:00"), "2026-03-13 19:05", reactions=[])
    assert when(p) == [("0", "2026-03-13 20:00"), ("1", "2026-03-13 22:00")]


def test_a_call_in_time_ends_the_watch_and_names_who_reacted():
    call = {"id": "activity:5", "kind": "call", "at": iso("2026-03-16 10:00"), "author": 4}
    p = run("reaction", OIL, lead("2026-03-13 19:00"), "2026-03-16 10:01", reactions=[call])
    assert not p.watching and p.reacted_by == 4 and p.why == "reacted in time"


def test_our_own_comment_and_task_are_not_a_reaction():
    ours = Memory(first_stage="NEW", stage="NEW", ours=frozenset({"comment:9"}))
    reactions = [{"id": "comment:9", "kind": "comment", "at": iso("2026-03-18 13:00"),
                  "author": 1},
                 {"id": "activity:11", "kind": "task", "at": iso("2026-03-18 13:00"),
                  "author": 1}]
    p = run("reaction", OIL, lead("2026-03-13 19:00"), "2026-03-18 13:30", memory=ours,
            reactions=reactions)
    assert p.watching and [d.step for d in p.dues] == ["0", "1"]
    # the same comment written by a person is one
    p = run("reaction", OIL, lead("2026-03-13 19:00"), "2026-03-18 13:30", reactions=reactions)
    assert not p.watching and p.reacted_by == 1


def test_a_reaction_of_a_kind_not_chosen_does_not_count_but_a_stage_change_does():
    rule = {**OIL, "reactions": ["call", "stage"]}
    comment = {"id": "comment:3", "kind": "comment", "at": iso("2026-03-16 10:00"), "author": 4}
    seen = Memory(first_stage="NEW", stage="NEW")
    p = run("reaction", rule, lead("2026-03-13 19:00"), "2026-03-16 11:00", memory=seen,
            reactions=[comment])
    assert p.watching
    moved = crm.Item(crm.ItemRef("lead", 7), created_at=iso("2026-03-13 19:00"),
                     stage="IN_PROCESS")
    p = run("reaction", rule, moved, "2026-03-16 11:00", memory=seen, reactions=[comment])
    assert not p.watching and p.reacted_by == 0


def test_a_lead_outside_the_filter_or_closed_is_not_watched():
    rule = {**OIL, "source_ids": ["WEB"]}
    p = run("reaction", rule, lead("2026-03-13 19:00", source="CALL"), "2026-03-13 19:05")
    assert not p.watching and p.why == "the item does not match the rule's filter"
    p = run("reaction", OIL, lead("2026-03-13 19:00", closed=True), "2026-03-13 19:05")
    assert not p.watching and p.why == "the item is closed"
    p = run("reaction", OIL, None, "2026-03-13 19:05")
    assert not p.watching and p.why == "the item is gone (deleted or merged)"


FIRST_OF = c.REACTION.validate({"id": "diag", "entity": "lead", "due_minutes": 15,
                                "working_time": False, "first_of": [3, 4, 5]})


def test_the_first_of_three_is_offered_at_once_and_the_first_to_react_takes_it():
    p = run("reaction", FIRST_OF, lead("2026-03-16 10:00"), "2026-03-16 10:00", reactions=[])
    assert when(p) == [("offer", "2026-03-16 10:00"), ("0", "2026-03-16 10:15")]
    assert [d.step for d in p.due_now(at("2026-03-16 10:00"))] == ["offer"]
    call = {"id": "activity:8", "kind": "call", "at": iso("2026-03-16 10:03"), "author": 5}
    p = run("reaction", FIRST_OF, lead("2026-03-16 10:00"), "2026-03-16 10:04",
            memory=done(p, p.dues[0]), reactions=[call])
    assert not p.watching and p.reacted_by == 5


# next activity -----------------------------------------------------------------------------
NEXT = c.NEXT_ACTIVITY.validate({"id": "next", "grace_minutes": 60, "working_time": False,
                                 "steps": [{"after_minutes": 0, "action": "remind"},
                                           {"after_minutes": 60, "action": "supervisors",
                                            "users": [1]}]})


def test_a_deal_without_an_activity_is_reminded_until_it_has_one():
    p = run("next_activity", NEXT, deal("C1:NEW"), "2026-03-16 10:00", open_activities=[])
    assert when(p) == [("0", "2026-03-16 11:00"), ("1", "2026-03-16 12:00")]
    # the watch counts from when it was first seen without one, not from each evaluation
    again = run("next_activity", NEXT, deal("C1:NEW"), "2026-03-16 10:40", memory=p.memory,
                open_activities=[])
    assert when(again) == when(p)
    todo = [{"id": 4, "kind": "todo"}]
    p = run("next_activity", NEXT, deal("C1:NEW"), "2026-03-16 10:50", memory=p.memory,
            open_activities=todo)
    assert not p.watching and p.why == "it has an open activity" and p.memory.since == 0
    # without one again later: a new watch from then
    p = run("next_activity", NEXT, deal("C1:NEW"), "2026-03-17 09:00", memory=p.memory,
            open_activities=[])
    assert when(p)[0] == ("0", "2026-03-17 10:00")


# stage limit ---------------------------------------------------------------------------
LIMIT = c.STAGE_LIMIT.validate({"id": "slow", "stage_ids": ["C1:PREPARATION"],
                                "limit_minutes": 3 * 24 * 60, "move_category": 2,
                                "move_stage": "C2:NEW", "responsible": "user", "user": 5})


def test_a_deal_too_long_in_its_stage_is_moved_with_a_task_for_the_named_person():
    item = deal("C1:PREPARATION", moved="2026-03-16 10:00")
    p = run("stage_limits", LIMIT, item, "2026-03-16 10:01")
    assert when(p) == [("move", "2026-03-19 10:00")]
    (due,) = p.due_now(at("2026-03-19 10:00"))
    step = steps.build("stage_limits", LIMIT, due, item, steps.audience([5], {}), env())
    assert step.ops["move"] == crm.MoveItem(item.ref, "2", "C2:NEW")
    assert step.ops["assign"] == crm.Assign(item.ref, 5)
    task = step.ops["task_5"]
    assert isinstance(task, crm.CreateTask) and task.responsible == 5
    assert task.bound_to == item.ref and task.title == "Call the client back: Рейс Москва — Казань"
    assert task.deadline == "2026-03-19T13:00:00+03:00"  # a day after the step ran (env.now)
    assert run("stage_limits", LIMIT, deal("C1:EXECUTING"), "2026-03-19 10:00").watching is False


# date reminders ----------------------------------------------------------------------------
LOADING = c.DATE_REMINDER.validate({"id": "loading", "name": "Погрузка",
                                    "field": "UF_CRM_LOADING", "before_minutes": 120})


def test_a_reminder_two_hours_before_the_date_follows_a_moved_date():
    p = run("date_reminders", LOADING, deal(UF_CRM_LOADING=iso("2026-03-18 08:00")),
            "2026-03-16 10:00")
    assert when(p) == [("remind", "2026-03-18 06:00")]  # calendar time: before work starts
    mem = done(p, p.dues[0])
    assert run("date_reminders", LOADING, deal(UF_CRM_LOADING=iso("2026-03-18 08:00")),
               "2026-03-18 06:01", memory=mem).dues == ()
    moved = run("date_reminders", LOADING, deal(UF_CRM_LOADING=iso("2026-03-19 14:00")),
                "2026-03-18 06:30", memory=mem)
    assert when(moved) == [("remind", "2026-03-19 12:00")]
    assert moved.dues[0].anchor != p.dues[0].anchor


@pytest.mark.parametrize(("item", "why"), [
    (deal(UF_CRM_LOADING=iso("2026-03-18 08:00"), closed=True), "the item is closed"),
    (deal(UF_CRM_LOADING=""), "the date field {field} is empty"),
    (deal(), "the deal has no field {field} (deleted?)"),
    (deal(UF_CRM_LOADING=iso("2026-03-10 08:00")), "the date {date} has passed"),
])
def test_no_reminder_for_a_closed_deal_an_empty_or_a_long_past_date(item, why):
    if why == "the item is closed":
        item = crm.Item(item.ref, stage="C1:WON", won=True, fields=item.fields)
    p = run("date_reminders", LOADING, item, "2026-03-16 10:00")
    assert not p.watching and p.why == why


def test_a_bare_date_counts_from_the_start_of_work():
    p = run("date_reminders", LOADING, deal(UF_CRM_LOADING="2026-03-18"), "2026-03-16 10:00")
    assert when(p) == [("remind", "2026-03-18 07:00")]


# check-ins -----------------------------------------------------------------------------
TRANSIT = c.CHECK_IN.validate({"id": "transit", "stage_ids": ["C1:TRANSIT"],
                               "interval_from": "distance", "distance_field": "UF_CRM_KM"})


@pytest.mark.parametrize(("km", "first"), [
    ("120", "2026-03-16 12:00"), ("800", "2026-03-16 14:00"), ("2400|RUB", "2026-03-16 18:00")])
def test_check_ins_by_the_routes_length(km, first):
    p = run("check_ins", TRANSIT, deal(moved="2026-03-16 10:00", UF_CRM_KM=km),
            "2026-03-16 10:01")
    assert when(p) == [("slot:1", first)]


def test_a_check_in_after_three_missed_slots_fires_once():
    item = deal(moved="2026-03-16 10:00", UF_CRM_KM="800")  # every 4 hours
    p = run("check_ins", TRANSIT, item, "2026-03-16 22:10")  # slots 1..3 were missed
    assert [d.step for d in p.due_now(at("2026-03-16 22:10"))] == ["slot:3"]
    after = run("check_ins", TRANSIT, item, "2026-03-16 22:11", memory=done(p, *p.dues))
    assert when(after) == [("slot:4", "2026-03-17 02:00")]
    assert after.due_now(at("2026-03-16 22:11")) == []


def test_check_ins_stop_when_the_deal_leaves_the_stage_or_has_no_route_length():
    p = run("check_ins", TRANSIT, deal("C1:DELIVERED", moved="2026-03-16 10:00"),
            "2026-03-16 11:00")
    assert not p.watching and p.why == "not in a watched stage"
    p = run("check_ins", TRANSIT, deal(moved="2026-03-16 10:00", UF_CRM_KM="n/a"),
            "2026-03-16 11:00")
    assert not p.watching and p.why == "the deal's field gives no interval"


# follow-ups ----------------------------------------------------------------------------
AFTER_DELIVERY = c.FOLLOW_UP.validate({"id": "after", "stage_ids": ["C1:DELIVERED"],
                                       "working_days": 1})
NEXT_CALL = c.FOLLOW_UP.validate({"id": "again", "mode": "on_date",
                                  "date_field": "UF_CRM_NEXT_CALL"})


def test_a_follow_up_one_working_day_after_a_friday_delivery_is_on_monday():
    p = run("follow_ups", AFTER_DELIVERY, deal("C1:DELIVERED", moved="2026-03-13 15:00"),
            "2026-03-13 15:01")
    assert when(p) == [("task", "2026-03-16 15:00")]


def test_a_follow_up_on_the_date_set_after_a_refusal_loops_until_the_deal_closes():
    first = run("follow_ups", NEXT_CALL, deal(UF_CRM_NEXT_CALL=iso("2026-03-17 11:00")),
                "2026-03-16 10:00")
    assert when(first) == [("task", "2026-03-17 11:00")]
    mem = done(first, *first.dues)
    # refused again: the manager sets the next date; a new task is due then
    second = run("follow_ups", NEXT_CALL, deal(UF_CRM_NEXT_CALL=iso("2026-03-24 11:00")),
                 "2026-03-17 11:30", memory=mem)
    assert when(second) == [("task", "2026-03-24 11:00")]
    mem = done(second, *second.dues)
    assert run("follow_ups", NEXT_CALL, deal(UF_CRM_NEXT_CALL=iso("2026-03-24 11:00")),
               "2026-03-24 11:30", memory=mem).dues == ()
    lost = crm.Item(crm.ItemRef("deal", 12), stage="C1:LOSE", closed=True,
                    fields={"UF_CRM_NEXT_CALL": iso("2026-03-31 11:00")})
    assert not run("follow_ups", NEXT_CALL, lost, "2026-03-24 12:00", memory=mem).watching


# steps ---------------------------------------------------------------------------------
def env(lang: str = "en") -> steps.Env:
    return steps.Env(lang, MSK, "member-1", "[URL=/crm/deal/details/12/]deal[/URL]",
                     lambda uid: f"[USER={uid}]u{uid}[/USER]", at("2026-03-18 13:00"))


def test_a_reminder_is_a_task_bound_to_the_item_with_a_deadline_and_a_tag():
    item = lead("2026-03-13 19:00")
    due = Due("0", at("2026-03-18 13:00"), "created")
    step = steps.build("reaction", OIL, due, item, steps.audience([3], {}), env())
    (task,) = step.ops.values()
    assert isinstance(task, crm.CreateTask)
    assert (task.responsible, task.bound_to, task.deadline) == (
        3, item.ref, "2026-03-18T14:00:00+03:00")
    assert task.title == "No reaction for 22 hours: lead #7 «Масло 20 т»"
    assert task.tag == steps.tag("member-1", "oil", item.ref, due) + "-3"
    assert step.msgid == "Reminded {people}" and not step.skipped
    # the same step of another item, or the next step, has another tag
    assert steps.tag("member-1", "oil", crm.ItemRef("lead", 8), due) != task.tag[:-2]
    assert steps.tag("member-1", "oil", item.ref, Due("1", due.at, "created")) != task.tag[:-2]


def test_the_supervisors_step_is_a_notification_to_the_named_people():
    item = lead("2026-03-13 19:00")
    due = Due("1", at("2026-03-18 15:00"), "created")
    assert steps.recipients("reaction", OIL, due, item) == [1]
    step = steps.build("reaction", OIL, due, item, steps.audience([1], {}), env())
    (note,) = step.ops.values()
    assert isinstance(note, crm.NotifyUser) and note.user_id == 1
    assert note.text.startswith("No reaction for 24 hours: lead #7 «Масло 20 т»\n")


def test_a_dismissed_responsible_is_skipped_with_the_reason():
    item = lead("2026-03-13 19:00")
    who = steps.audience([3], {3: crm.Person(3, "Мария", active=False)})
    assert who.users == () and who.skipped == {3: "dismissed"}
    step = steps.build("reaction", OIL, Due("0", 0.0, "created"), item, who, env())
    assert step.skipped and step.ops == {}
    assert step.msgid == "Step skipped: nobody to tell ({why})"
    assert step.params["why"] == "[USER=3]u3[/USER]: dismissed"  # the page shows the name


def test_the_offer_reaches_each_of_the_first_of_n():
    item = lead("2026-03-16 10:00")
    due = Due("offer", at("2026-03-16 10:00"), "created")
    assert steps.recipients("reaction", FIRST_OF, due, item) == [3, 4, 5]
    step = steps.build("reaction", FIRST_OF, due, item, steps.audience([3, 4, 5], {}), env())
    assert sorted(step.ops) == ["notify_3", "notify_4", "notify_5"]
    assert all(isinstance(op, crm.NotifyUser) and "The first to react takes it" in op.text
               for op in step.ops.values())


def test_a_date_reminder_reaches_the_responsible_observers_and_named_people_once_each():
    rule = {**LOADING, "recipients": ["responsible", "observers", "people"], "users": [4, 3]}
    item = crm.Item(crm.ItemRef("deal", 12), "Рейс", assigned=3, observers=[6, 4])
    due = Due("remind", at("2026-03-18 06:00"), "date:1")
    who = steps.audience(steps.recipients("date_reminders", rule, due, item), {})
    assert who.users == (3, 6, 4)
