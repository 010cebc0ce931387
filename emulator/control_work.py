"""Control API for what people do on a portal between the app's calls (watchdog tests).

``POST /_emulator/activities/<id>/complete``  {user_id?, completed?: true} a manager marks an
                                              activity done (fires ONCRMACTIVITYUPDATE)
``POST /_emulator/timeline/comments``         {entity_type, entity_id, comment, user_id?}
                                              a manager writes in an item's timeline
``GET|POST /_emulator/calendar``              the portal's working time as calendar.settings.get
                                              answers it; POST changes work_time_start/_end,
                                              year_holidays, year_workdays, week_holidays
``GET  /_emulator/tasks``                     every task (?tag=, ?responsible_id=) as stored
``POST /_emulator/tasks/<id>/complete``       {user_id?} the responsible closes a task
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response

from .core import Emulator
from .errors import RestError
from .methods import calendar
from .methods.activity import activity_change, activity_out
from .methods.crm import comment_add
from .methods.tasks import COMPLETED, task_out, task_update


def register_work_control(app: Flask, emu: Emulator, body: Callable[[], dict[str, Any]],
                          json_response: Callable[..., Response]) -> None:
    def who(b: dict[str, Any]) -> tuple[Any, int]:
        p = emu.portal(b.get("member_id"))
        return p, int(b.get("user_id") or p.admin_user_id)

    @app.post("/_emulator/activities/<int:activity_id>/complete")
    def activity_complete(activity_id: int) -> Response:
        b = body()
        p, uid = who(b)
        row = p.activities.get(activity_id)
        if row is None:
            raise RestError("ERROR_NOT_FOUND", f"No activity {activity_id}", 404)
        done = "N" if b.get("completed") in (False, "N", 0) else "Y"
        activity_change(emu, p, row, {"COMPLETED": done}, uid)
        with emu.lock:
            return json_response(activity_out(emu, p, row))

    @app.post("/_emulator/timeline/comments")
    def timeline_comment() -> Response:
        b = body()
        p, uid = who(b)
        entity_type, entity_id = str(b.get("entity_type") or ""), int(b.get("entity_id") or 0)
        if not entity_type or not entity_id or not b.get("comment"):
            raise RestError("ERROR_ARGUMENT", "entity_type, entity_id and comment are required",
                            400)
        cid = comment_add(emu, p, entity_type, entity_id, str(b["comment"]), uid)
        with emu.lock:
            return json_response(dict(p.timeline[cid - 1]))

    @app.get("/_emulator/calendar")
    def calendar_get() -> Response:
        p = emu.portal(body().get("member_id"))
        with emu.lock:
            return json_response(calendar.settings(p))

    @app.post("/_emulator/calendar")
    def calendar_set() -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        with emu.lock:
            return json_response(calendar.change(p, b))

    @app.get("/_emulator/tasks")
    def tasks_list() -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        tag, responsible = str(b.get("tag") or ""), str(b.get("responsible_id") or "")
        with emu.lock:
            rows = [r for r in p.tasks.rows.values()
                    if (not tag or tag in (r.get("TAGS") or []))
                    and (not responsible or r.get("RESPONSIBLE_ID") == responsible)]
            return json_response([{**task_out(p, r, ["*", "TAGS", "UF_CRM_TASK"])}
                                  for r in rows])

    @app.post("/_emulator/tasks/<int:task_id>/complete")
    def task_complete(task_id: int) -> Response:
        b = body()
        p, uid = who(b)
        if p.tasks.get(task_id) is None:
            raise RestError("ERROR_NOT_FOUND", f"No task {task_id}", 404)
        row = task_update(emu, p, task_id, {"STATUS": COMPLETED}, uid)
        with emu.lock:
            return json_response(task_out(p, row, ["*", "TAGS", "UF_CRM_TASK"]))
