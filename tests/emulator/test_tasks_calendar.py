"""Tasks, the calendar's working time, to-dos, comment lists, pipeline moves and the update
events, each compared with the sample the docs print (tests/fixtures/docs)."""

from __future__ import annotations

import requests

from emulator import Emulator, EmulatorConfig, EmulatorServer
from tests.fixtures.docs import load

DOCS = "api-reference__"


def _keys(sample: dict) -> set[str]:
    return set(sample)


def _deal(emu_call, **fields) -> int:
    return emu_call("crm.deal.add", {"fields": {"TITLE": "Watched", **fields}}).json()["result"]


def test_a_task_answers_in_the_documented_shape_and_binds_to_crm(emu_call):
    deal = _deal(emu_call)
    made = emu_call("tasks.task.add", {"fields": {
        "TITLE": "Call the carrier", "RESPONSIBLE_ID": 3, "CREATED_BY": 1,
        "DEADLINE": "2026-12-31T23:59:59", "AUDITORS": [4], "TAGS": ["wd:1:remind"],
        "UF_CRM_TASK": [f"D_{deal}"]}})
    assert made.status_code == 200, made.text
    task = made.json()["result"]["task"]
    sample = load(DOCS + "tasks__tasks-task-add.md__result")["result"]["task"]
    for key in ("id", "title", "description", "priority", "status", "createdBy",
                "responsibleId", "createdDate", "deadline", "auditors", "creator", "responsible",
                "closedBy", "groupId"):
        assert key in sample and key in task, key
    assert isinstance(task["id"], str) and task["status"] == "2"
    assert task["responsibleId"] == "3" and task["auditors"] == ["4"]
    assert task["deadline"] == "2026-12-31T23:59:59+03:00"  # read in the portal's zone
    assert set(task["responsible"]) == set(sample["responsible"]) - {"icon"}
    assert "ufCrmTask" not in task  # system UF fields only when selected
    got = emu_call("tasks.task.get", {"taskId": task["id"], "select": ["ID", "UF_CRM_TASK"]})
    one = got.json()["result"]["task"]
    get_sample = load(DOCS + "tasks__tasks-task-get.md__result")["result"]["task"]
    assert {"ufCrmTask", "ufTaskWebdavFiles", "ufMailMessage"} <= set(get_sample) & set(one)
    assert one["ufCrmTask"] == [f"D_{deal}"]
    # crm-activity-add.md TYPE_ID: a task with the item in UF_CRM_TASK is its activity
    acts = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2, "OWNER_ID": deal}}
                    ).json()["result"]
    assert [(a["TYPE_ID"], a["ASSOCIATED_ENTITY_ID"], a["COMPLETED"]) for a in acts] == [
        ("3", task["id"], "N")]
    done = emu_call("tasks.task.complete", {"taskId": task["id"]}).json()["result"]["task"]
    assert done["status"] == "5" and done["closedBy"] == "1" and done["closedDate"]
    acts = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2, "OWNER_ID": deal,
                                                     "COMPLETED": "N"}}).json()["result"]
    assert acts == []


def test_a_task_for_a_smart_process_item_uses_the_hex_prefix(emu_call):
    item = emu_call("crm.item.add", {"entityTypeId": 128, "fields": {"title": "Load"}}
                    ).json()["result"]["item"]["id"]
    task = emu_call("tasks.task.add", {"fields": {
        "TITLE": "Check in", "RESPONSIBLE_ID": 1, "UF_CRM_TASK": [f"T80_{item}"]}}
    ).json()["result"]["task"]
    acts = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 128, "OWNER_ID": item}}
                    ).json()["result"]
    assert [a["ASSOCIATED_ENTITY_ID"] for a in acts] == [task["id"]]


def test_task_errors_are_the_documented_ones(emu_call):
    no_title = emu_call("tasks.task.add", {"fields": {"RESPONSIBLE_ID": 1}})
    assert no_title.status_code == 400
    assert no_title.json() == load(DOCS + "tasks__tasks-task-add.md__no-title")
    nobody = emu_call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 9999}})
    assert nobody.json()["error"] == "ERROR_CORE"
    assert "Исполнитель" in nobody.json()["error_description"]
    no_fields = emu_call("tasks.task.add", {})
    assert no_fields.json()["error"] == "100"
    missing = emu_call("tasks.task.complete", {"taskId": 987654})
    assert missing.json() == load(DOCS + "tasks__status__tasks-task-complete.md__not-allowed")
    assert emu_call("tasks.task.get", {"taskId": "abc"}).json()["error"] == "0"
    assert emu_call("tasks.task.update", {"taskId": 987654, "fields": {"TITLE": "y"}}
                    ).json()["error"] == "0"


def test_task_list_filters_selects_and_pages(emu_url, emu_call):
    requests.post(f"{emu_url}/_emulator/limits", json={"enabled": False}, timeout=10)
    ids = [emu_call("tasks.task.add", {"fields": {
        "TITLE": f"T{i}", "RESPONSIBLE_ID": 3 if i % 2 else 4,
        "TAGS": "wd:a" if i == 7 else "other"}}).json()["result"]["task"]["id"]
        for i in range(60)]
    tagged = emu_call("tasks.task.list", {"filter": {"TAG": "wd:a"}, "select": ["ID"]}).json()
    assert tagged["result"] == {"tasks": [{"id": ids[7]}]} and tagged["total"] == 1
    page = emu_call("tasks.task.list", {"select": ["ID", "TITLE", "TAGS"]}).json()
    sample = load(DOCS + "tasks__tasks-task-list.md__result")
    assert set(sample) - {"time"} <= set(page) and len(page["result"]["tasks"]) == 50
    assert page["result"]["tasks"][0]["id"] == ids[-1]  # ID DESC by default
    tags = page["result"]["tasks"][-1]["tags"]
    (entry,) = tags.values()
    assert set(entry) == set(next(iter(sample["result"]["tasks"][0]["tags"].values())))
    second = emu_call("tasks.task.list", {"select": ["ID"], "start": 50}).json()
    assert len(second["result"]["tasks"]) == 10 and "next" not in second
    mine = emu_call("tasks.task.list", {"filter": {"RESPONSIBLE_ID": 3, ">ID": ids[50]},
                                        "select": ["ID"]}).json()["result"]["tasks"]
    assert {t["id"] for t in mine} == {i for n, i in enumerate(ids) if n > 50 and n % 2}
    emu_call("tasks.task.complete", {"taskId": ids[0]})
    open_ = emu_call("tasks.task.list", {"filter": {"!REAL_STATUS": 5}, "select": ["ID"]}
                     ).json()["total"]
    assert open_ == 59


def test_calendar_settings_are_the_documented_sample_and_change(emu_url, emu_call):
    got = emu_call("calendar.settings.get").json()["result"]
    assert got == load(DOCS + "calendar__calendar-settings-get.md__result")["result"]
    requests.post(f"{emu_url}/_emulator/calendar", json={
        "work_time_start": "8.30", "work_time_end": "17", "week_holidays": ["SU"],
        "year_holidays": "1.01,9.05"}, timeout=10)
    got = emu_call("calendar.settings.get").json()["result"]
    assert (got["work_time_start"], got["work_time_end"], got["week_holidays"],
            got["year_holidays"]) == ("8.30", "17", ["SU"], "1.01,9.05")


def test_calendar_needs_its_scope(emu_app_stub):
    server = EmulatorServer(Emulator(EmulatorConfig(app_url=emu_app_stub.url, scopes="crm")))
    server.start()
    try:
        tok = requests.post(f"{server.url}/_emulator/tokens", json={}).json()
        for name in ("calendar.settings.get", "tasks.task.list"):
            r = requests.post(f"{server.url}/rest/{name}", json={"auth": tok["access_token"]},
                              timeout=10)
            assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    finally:
        server.stop()


def test_a_todo_is_listed_as_a_crm_todo_and_errors_as_documented(emu_call):
    deal = _deal(emu_call)
    made = emu_call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal,
                                              "deadline": "2026-02-03T15:00:00",
                                              "title": "Next call", "responsibleId": 3})
    sample = load(DOCS + "crm__timeline__activities__todo__crm-activity-todo-add.md__result")
    assert set(made.json()["result"]) == set(sample["result"])
    rows = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2, "OWNER_ID": deal,
                                                     "PROVIDER_ID": "CRM_TODO"},
                                          "select": ["ID", "TYPE_ID", "RESPONSIBLE_ID",
                                                     "DEADLINE", "COMPLETED", "AUTHOR_ID",
                                                     "CREATED"]}).json()["result"]
    assert [(r["TYPE_ID"], r["RESPONSIBLE_ID"], r["DEADLINE"], r["COMPLETED"]) for r in rows] \
        == [("6", "3", "2026-02-03T15:00:00+03:00", "N")]
    assert rows[0]["AUTHOR_ID"] == "1" and rows[0]["CREATED"]
    gone = emu_call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": 987654,
                                              "deadline": "2026-02-03T15:00:00"})
    assert gone.json() == load(
        DOCS + "crm__timeline__activities__todo__crm-activity-todo-add.md__not-found")
    assert emu_call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal}
                    ).json()["error"] == "100"
    assert emu_call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal,
                                              "deadline": "tomorrow"}
                    ).json()["error"] == "WRONG_DATETIME_FORMAT"


def test_activity_list_filters_by_creation_time(emu_url, emu_call):
    deal = _deal(emu_call)
    first = emu_call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal,
                                               "deadline": "2026-02-03T15:00:00"}
                     ).json()["result"]["id"]
    stamp = emu_call("crm.activity.get", {"id": first}).json()["result"]["CREATED"]
    later = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2, "OWNER_ID": deal,
                                                      ">CREATED": stamp}}).json()["result"]
    assert later == []
    since = emu_call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 2, "OWNER_ID": deal,
                                                      ">=CREATED": stamp}}).json()["result"]
    assert [int(a["ID"]) for a in since] == [first]


def test_comment_list_is_paged_and_filtered_like_the_sample(emu_url, emu_call):
    deal = _deal(emu_call)
    for i in range(3):
        requests.post(f"{emu_url}/_emulator/timeline/comments", json={
            "entity_type": "deal", "entity_id": deal, "comment": f"c{i}", "user_id": 3},
            timeout=10)
    got = emu_call("crm.timeline.comment.list", {"filter": {"ENTITY_ID": deal,
                                                            "ENTITY_TYPE": "deal"}}).json()
    sample = load(DOCS + "crm__timeline__comments__crm-timeline-comment-list.md__result")
    assert got["total"] == 3 and set(got["result"][0]) == set(sample["result"][0])
    assert {c["AUTHOR_ID"] for c in got["result"]} == {"3"}
    stamp = got["result"][0]["CREATED"]
    none_later = emu_call("crm.timeline.comment.list", {"filter": {
        "ENTITY_ID": deal, "ENTITY_TYPE": "deal", ">CREATED": stamp}}).json()
    assert none_later["total"] == 0


def test_a_deal_changes_pipeline_through_crm_item_update_only(emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    emu_call("event.bind", {"event": "ONCRMDEALMOVETOCATEGORY", "handler": hook})
    deal = _deal(emu_call)
    emu_call("crm.deal.update", {"id": deal, "fields": {"CATEGORY_ID": 1}})
    assert emu_call("crm.deal.get", {"id": deal}).json()["result"]["CATEGORY_ID"] == "0"
    moved = emu_call("crm.item.update", {"entityTypeId": 2, "id": deal, "fields": {
        "categoryId": 1, "stageId": "C1:EXECUTING"}})
    assert moved.status_code == 200, moved.text
    row = emu_call("crm.deal.get", {"id": deal}).json()["result"]
    assert (row["CATEGORY_ID"], row["STAGE_ID"]) == ("1", "C1:EXECUTING")
    ev = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMDEALMOVETOCATEGORY")
    sample = load(DOCS + "crm__deals__events__on-crm-deal-move-to-category.md__event")
    assert set(ev["form"]["data"]["FIELDS"]) == set(sample["data"]["FIELDS"])
    assert ev["form"]["data"]["FIELDS"]["STAGE_ID"] == "C1:EXECUTING"
    bad = emu_call("crm.item.update", {"entityTypeId": 2, "id": deal, "fields": {
        "categoryId": 0, "stageId": "C1:NEW"}})
    assert bad.status_code == 400 and bad.json()["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"


def test_update_events_carry_the_documented_data(emu_url, emu_call, emu_app_stub):
    hook = f"{emu_app_stub.url}/events"
    for ev in ("ONCRMDYNAMICITEMUPDATE", "ONCRMACTIVITYUPDATE"):
        assert emu_call("event.bind", {"event": ev, "handler": hook}).json()["result"]
    item = emu_call("crm.item.add", {"entityTypeId": 128, "fields": {"title": "Load"}}
                    ).json()["result"]["item"]["id"]
    emu_call("crm.item.update", {"entityTypeId": 128, "id": item, "fields": {"title": "L2"}})
    got = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMDYNAMICITEMUPDATE")
    sample = load(DOCS + "crm__universal__events__on-crm-dynamic-item-update.md__event")
    assert got["form"]["data"] == {"FIELDS": {"ID": str(item), "ENTITY_TYPE_ID": "128"}}
    assert set(got["form"]["data"]["FIELDS"]) == set(sample["data"]["FIELDS"])
    deal = _deal(emu_call)
    todo = emu_call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal,
                                              "deadline": "2026-02-03T15:00:00"}
                    ).json()["result"]["id"]
    done = requests.post(f"{emu_url}/_emulator/activities/{todo}/complete",
                         json={"user_id": 3}, timeout=10).json()
    assert done["COMPLETED"] == "Y" and done["EDITOR_ID"] == "3"
    got = emu_app_stub.wait_for(lambda r: r["form"].get("event") == "ONCRMACTIVITYUPDATE")
    sample = load(DOCS + "crm__timeline__activities__events__on-crm-activity-update.md__event")
    assert got["form"]["data"] == {"FIELDS": {"ID": str(todo)}}
    assert set(got["form"]["data"]["FIELDS"]) == set(sample["data"]["FIELDS"])


def test_control_lists_and_completes_tasks(emu_url, emu_call):
    made = emu_call("tasks.task.add", {"fields": {"TITLE": "Ping", "RESPONSIBLE_ID": 3,
                                                  "TAGS": ["wd:x"]}}).json()["result"]["task"]
    listed = requests.get(f"{emu_url}/_emulator/tasks", params={"tag": "wd:x"},
                          timeout=10).json()
    assert [t["id"] for t in listed] == [made["id"]]
    done = requests.post(f"{emu_url}/_emulator/tasks/{made['id']}/complete",
                         json={"user_id": 3}, timeout=10).json()
    assert done["status"] == "5" and done["closedBy"] == "3"
