"""The Bitrix24 adapter's watchdog queries and operations over real HTTP against the emulator:
reactions, open activities, a task found by its tag, the portal's working time, tasks bound
to items and moves between pipelines; failures as neutral errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connector.bitrix.adapter import BitrixCrm
from connector.crm import port as crm
from tests.conftest import Stack


def port(stack: Stack) -> BitrixCrm:
    services = stack.app.extensions["connector"]
    return BitrixCrm(services.client(stack.portal()["member_id"]), stack.portal()["domain"])


def methods_since(stack: Stack, since: int) -> list[str]:
    return [e["method"] for e in stack.control("GET", "log") if e["n"] > since]


def last_n(stack: Stack) -> int:
    return max((e["n"] for e in stack.control("GET", "log")), default=0)


def new_deal(stack: Stack, title: str = "Watched") -> crm.ItemRef:
    return crm.ItemRef("deal", int(stack.control("POST", "crm/deal", json={
        "fields": {"TITLE": title, "ASSIGNED_BY_ID": 3}})["id"]))


def add_activity(stack: Stack, ref: crm.ItemRef, type_id: int, user: int, **fields) -> int:
    got = stack.control("POST", "crm/activity", json={"user_id": user, "fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": ref.id, "TYPE_ID": type_id, "SUBJECT": "x",
        "RESPONSIBLE_ID": user, "COMMUNICATIONS": [{"VALUE": "+79000000000"}], **fields}})
    return int(got["id"])


def a_second_ago(stack: Stack) -> str:
    """The emulator's clock, one second back, as the port takes it (ISO 8601)."""
    now = stack.rest("crm.activity.fields").json()["time"]["date_start"]
    return (datetime.fromisoformat(now) - timedelta(seconds=1)).isoformat()


def test_reactions_are_activities_and_comments_since_in_one_batch(installed: Stack):
    ref = new_deal(installed)
    since = a_second_ago(installed)
    call = add_activity(installed, ref, 2, 3, COMPLETED="Y")
    installed.rest("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": ref.id,
                                             "deadline": "2026-02-03T15:00:00",
                                             "responsibleId": 4})
    installed.control("POST", "timeline/comments", json={
        "entity_type": "deal", "entity_id": ref.id, "comment": "called", "user_id": 4})
    n = last_n(installed)
    reading = port(installed).read({"r": crm.Reactions(ref, since)})
    assert methods_since(installed, n) == ["batch"]
    got = reading.get("r")
    assert [(r["kind"], r["author"], r["completed"]) for r in got] == [
        ("call", 3, True), ("todo", 1, False), ("comment", 4, True)]
    assert all(datetime.fromisoformat(r["at"]) >= datetime.fromisoformat(since) for r in got)
    assert call
    later = (datetime.fromisoformat(since) + timedelta(hours=1)).isoformat()
    assert port(installed).read({"r": crm.Reactions(ref, later)}).get("r") == []


def test_open_activities_leave_out_completed_ones(installed: Stack):
    ref = new_deal(installed)
    done = add_activity(installed, ref, 2, 3)
    installed.control("POST", f"activities/{done}/complete", json={"user_id": 3})
    todo = installed.rest("crm.activity.todo.add", {
        "ownerTypeId": 2, "ownerId": ref.id, "deadline": "2026-02-03T15:00:00",
        "responsibleId": 4}).json()["result"]["id"]
    got = port(installed).read({"o": crm.OpenActivities(ref)}).get("o")
    assert got == [{"id": todo, "kind": "todo", "deadline": "2026-02-03T15:00:00+03:00",
                    "responsible": 4, "task_id": 0}]


def test_a_task_is_made_bound_to_the_item_and_found_by_its_tag(installed: Stack):
    ref = new_deal(installed)
    p = port(installed)
    assert p.read({"t": crm.FindTask("wd:7:deal/1:remind")}).get("t") == 0
    made = p.apply({"task": crm.CreateTask(
        "Call the client", "No activity for a day", 3, "2026-03-02T18:00:00+03:00", ref,
        auditors=(4,), tag="wd:7:deal/1:remind")})
    assert not made.errors, made.errors
    task_id = made.values["task"]
    assert isinstance(task_id, int) and task_id > 0
    (task,) = installed.control("GET", "tasks", params={"tag": "wd:7:deal/1:remind"})
    assert (task["id"], task["responsibleId"], task["auditors"], task["ufCrmTask"],
            task["deadline"]) == (str(task_id), "3", ["4"], [f"D_{ref.id}"],
                                  "2026-03-02T18:00:00+03:00")
    assert p.read({"t": crm.FindTask("wd:7:deal/1:remind")}).get("t") == task_id
    # the task is the deal's open activity (crm-activity-add.md TYPE_ID 3), until it is done
    assert [(a["kind"], a["task_id"]) for a in p.read({"o": crm.OpenActivities(ref)}).get(
        "o")] == [("task", task_id)]
    installed.control("POST", f"tasks/{task_id}/complete", json={"user_id": 3})
    assert p.read({"o": crm.OpenActivities(ref)}).get("o") == []


def test_a_task_for_a_smart_process_item_and_a_wrong_responsible(installed: Stack):
    item = installed.control("POST", "items/128", json={"fields": {"title": "Cargo"}})["item"]
    ref = crm.ItemRef("item:128", int(item["id"]))
    p = port(installed)
    made = p.apply({"ok": crm.CreateTask("Check in", "", 1, "2026-03-02T18:00:00+03:00", ref,
                                         tag="wd:spa"),
                    "bad": crm.CreateTask("Nobody", "", 9999, "2026-03-02T18:00:00+03:00",
                                          ref)})
    assert made.values["ok"] > 0
    assert isinstance(made.errors["bad"], crm.CrmPermanent)
    assert "Исполнитель" in made.errors["bad"].reason
    (task,) = installed.control("GET", "tasks", params={"tag": "wd:spa"})
    assert task["ufCrmTask"] == [f"T80_{ref.id}"]


def test_the_portals_working_time_in_neutral_terms(installed: Stack):
    p = port(installed)
    assert p.read({"w": crm.WorkCalendar()}).get("w") == {
        "start": "09:00", "end": "19:00", "weekend": [6, 7],
        "holidays": ["01.01", "02.01", "07.01", "23.02", "08.03", "01.05", "09.05", "12.06",
                     "04.11"], "workdays": ["31.12"]}
    installed.control("POST", "calendar", json={"work_time_start": "8.30",
                                                "work_time_end": "17", "week_holidays": ["SU"],
                                                "year_holidays": "", "year_workdays": ""})
    assert p.read({"w": crm.WorkCalendar()}).get("w") == {
        "start": "08:30", "end": "17:00", "weekend": [7], "holidays": [], "workdays": []}


@pytest.mark.parametrize("emulator_overrides", [
    {"scopes": "crm,user,department,bizproc,placement,im,disk"}])
def test_without_the_calendar_and_task_scopes_the_errors_say_so(installed: Stack):
    reading = port(installed).read({"w": crm.WorkCalendar(), "t": crm.FindTask("x")})
    assert isinstance(reading.errors["w"], crm.MissingScope)
    assert isinstance(reading.errors["t"], crm.MissingScope)
    with pytest.raises(crm.MissingScope):
        reading.get("w")


def test_a_deal_moves_to_another_pipeline_and_a_bad_stage_is_refused(installed: Stack):
    ref = new_deal(installed)
    p = port(installed)
    moved = p.apply({"m": crm.MoveItem(ref, "1", "C1:EXECUTING")})
    assert not moved.errors, moved.errors
    got = p.item(ref)
    assert (got.category, got.stage) == ("1", "C1:EXECUTING")
    bad = p.apply({"m": crm.MoveItem(ref, "0", "C1:NEW")})
    assert isinstance(bad.errors["m"], crm.CrmPermanent)
    assert p.item(ref).stage == "C1:EXECUTING"
    gone = p.apply({"m": crm.MoveItem(crm.ItemRef("deal", 987654), "1", "C1:NEW")})
    assert isinstance(gone.errors["m"], crm.CrmError)


def test_reactions_of_a_smart_process_item_read_its_comments(installed: Stack):
    item = installed.control("POST", "items/128", json={"fields": {"title": "Cargo"}})["item"]
    ref = crm.ItemRef("item:128", int(item["id"]))
    since = a_second_ago(installed)
    p = port(installed)
    assert not p.apply({"c": crm.AddComment(ref, "on the way")}).errors
    got = p.read({"r": crm.Reactions(ref, since)}).get("r")
    assert [(r["kind"], r["author"]) for r in got] == [("comment", 1)]
