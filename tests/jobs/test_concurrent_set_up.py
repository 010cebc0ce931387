"""Portal-wide set-up under real concurrency: the first deals of a freshly enabled portal
arrive at once and several workers race to create the deal fields, the parent folders and
the chats. Every deal must still get exactly one folder and one chat, each field must
exist once, and no job may fail (issue 13, item 1)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from redis import Redis

from connector.errors import Retryable
from connector.once import once
from tests.conftest import Stack
from tests.distribution_support import SALES, day
from tests.jobs.test_deal_workspace import chats_of, deal, enable, folders_named, new_deal

DEALS = 8
WORKERS = 3


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    """No rate limit: the workers' calls reach the portal as close together as they can."""
    return {"rate_limit_enabled": False}


def fields_named(stack: Stack, name: str) -> list[dict]:
    rows = stack.rest("crm.deal.userfield.list", {"filter": {"FIELD_NAME": name}}
                      ).json()["result"]
    return [r for r in rows if r["FIELD_NAME"] == name]


def run_workers_at_once(stack: Stack, n: int) -> list[str]:
    """n real burst workers started together; their output, once they all ended."""
    procs = stack.start_workers(n)
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outputs
    return outputs


def test_first_deals_at_once_each_get_one_folder_and_one_chat(installed: Stack):
    enable(installed)
    # a slow create widens the window between "is the field there?" and "it is there"
    installed.control("POST", "faults", json={"method": "crm.deal.userfield.add",
                                              "latency_ms": 1500})
    titles = [f"Race {i}" for i in range(DEALS)]
    with ThreadPoolExecutor(DEALS) as pool:
        ids = list(pool.map(lambda title: new_deal(installed, title), titles))
    outputs = run_workers_at_once(installed, WORKERS)

    queues = installed.app.extensions["connector"].queues
    assert [j.id for j in queues.failed()] == [], outputs
    assert len(fields_named(installed, "UF_CRM_CC_FOLDER")) == 1
    assert len(fields_named(installed, "UF_CRM_CC_CHAT")) == 1
    for deal_id, title in zip(ids, titles, strict=True):
        d = deal(installed, deal_id)
        assert d["UF_CRM_CC_FOLDER"], (deal_id, d)
        assert len(folders_named(installed, f"{deal_id} {title}")) == 1, deal_id
        (chat,) = chats_of(installed, deal_id)
        assert int(d["UF_CRM_CC_CHAT"]) == int(chat["ID"])


def test_first_deals_distributed_at_once_share_one_supervisors_chat(installed: Stack):
    """New deals distributed by several workers at once: one supervisors' chat for the group,
    every deal assigned and reported in it, and still one folder and one chat per deal."""
    installed.app.extensions["connector"].portal_settings.put(installed.portal()["member_id"], {
        "distribution": {"groups": [{**SALES, "auto": [{"entity": "deal"}]}]},
        "deal_folders": {"enabled": True}, "deal_chats": {"enabled": True}})
    day(installed, u2="OPENED", u3="OPENED")
    installed.control("POST", "faults", json={"method": "im.chat.add", "latency_ms": 700})
    with ThreadPoolExecutor(DEALS) as pool:
        ids = list(pool.map(lambda i: new_deal(installed, f"Race {i}", ASSIGNED_BY_ID=1),
                            range(DEALS)))  # 1: a placeholder, the deal is to be distributed
    outputs = run_workers_at_once(installed, WORKERS)
    for _ in range(3):  # a retry the racing burst workers left scheduled (a lock was busy)
        time.sleep(1)
        installed.run_worker()

    assert [j.id for j in installed.app.extensions["connector"].queues.failed()] == [], outputs
    data = installed.control("GET", "chats")
    chats = data.get("chats", data) if isinstance(data, dict) else data
    (supervisors,) = [c for c in chats if str(c.get("TITLE")) == "Distribution: Sales"]
    posted = " ".join(m["MESSAGE"] for m in supervisors["messages"])
    for deal_id in ids:
        assert f"/crm/deal/details/{deal_id}/" in posted, deal_id
        assert int(deal(installed, deal_id)["ASSIGNED_BY_ID"]) in (2, 3)
        assert len(chats_of(installed, deal_id)) == 1, deal_id


def test_once_makes_a_thing_once_however_many_threads_ask(redis: Redis):
    """The rule itself, on the real Redis: ten callers at once, one creation, one answer."""
    made: list[int] = []

    def make() -> str:
        time.sleep(0.2)  # long enough for every other caller to find nothing at first
        made.append(1)
        redis.set("thing", "42")
        return "42"

    def ask(_: int) -> str:
        return once(redis, "thing:lock", lambda: (redis.get("thing") or b"").decode(), make)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))
    assert answers == ["42"] * 10 and made == [1]


def test_once_is_retried_later_while_another_worker_holds_the_lock(redis: Redis):
    redis.lock("thing:lock", timeout=30).acquire()
    with pytest.raises(Retryable):
        once(redis, "thing:lock", lambda: None, lambda: "never", wait_s=0.3)
