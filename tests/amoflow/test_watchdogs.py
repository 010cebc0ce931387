"""The watchdogs on amoCRM: a lead that stays too long in a stage moves to the follow-up
pipeline with a task — the time it entered the stage read from amoCRM's events."""

from __future__ import annotations

import math
import time
from typing import Any

from tests.amoflow.conftest import AmoStack

HOUR = 3600


def work(s: AmoStack, runs: int = 2) -> None:
    """Burst workers in turn; a timer set for "now" is due from the next whole second."""
    for n in range(runs):
        if n:
            time.sleep(math.ceil(time.time()) - time.time() + 0.05)
        s.run_worker()


def stages(s: AmoStack, name: str) -> dict[str, int]:
    pipe = next(p for p in s.emu.account(s.acc.id).pipelines.values() if p["name"] == name)
    return {"pipeline": pipe["id"], **{st["name"]: st["id"] for st in pipe["statuses"]}}


def test_a_lead_over_its_stage_limit_moves_to_the_follow_up_pipeline_with_a_task(
        connected: AmoStack):
    s = connected
    main = stages(s, "Воронка")
    follow = s.emu.add_pipeline(s.acc.id, "Дожим", ["Позвонить", "Думает"])
    follow_first = next(st["id"] for st in follow["statuses"] if st["name"] == "Позвонить")
    master = s.emu.add_user(s.acc.id, "Олег Маляр", "oleg@autoservis.example")
    s.configure("watchdogs", stage_limits=[{
        "id": "slow", "name": "Думающие", "stage_ids": [str(main["Переговоры"])],
        "limit_minutes": 60, "move_category": follow["id"], "move_stage": str(follow_first),
        "responsible": "user", "user": master.id}])
    quick = s.emu.create_lead(s.acc.id, name="Замена стекла", status_id=main["Переговоры"],
                              pipeline_id=main["pipeline"])
    real = s.emu.clock
    s.emu.clock = lambda: real() - 2 * HOUR  # what the account stamps now is 2 h ago
    try:
        slow = s.emu.create_lead(s.acc.id, name="Ремонт КПП",
                                 status_id=main["Первичный контакт"],
                                 pipeline_id=main["pipeline"])
        s.emu.move_lead(s.acc.id, slow["id"], main["Переговоры"])
    finally:
        s.emu.clock = real
    work(s)
    moved = s.emu.account(s.acc.id).leads[slow["id"]]
    assert (moved["pipeline_id"], moved["status_id"], moved["responsible_user_id"]) == (
        follow["id"], follow_first, master.id)
    tasks = [t for t in s.emu.tasks(s.acc.id) if t["entity_id"] == slow["id"]]
    assert len(tasks) == 1 and tasks[0]["responsible_user_id"] == master.id
    assert "Ремонт КПП" in tasks[0]["text"]
    still: dict[str, Any] = s.emu.account(s.acc.id).leads[quick["id"]]
    assert still["pipeline_id"] == main["pipeline"]  # an hour has not passed for this one
