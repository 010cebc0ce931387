"""Jobs through real burst workers against the emulator: answers, refresh races, faults."""

from __future__ import annotations

import hashlib
import json
import time

import requests

from connector.bitrix.store import Tokens
from tests.bodies import body
from tests.conftest import Stack, wait_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def services(stack: Stack):
    return stack.app.extensions["connector"]


def run_robot(stack: Stack, code: str = "timeline_note", doc: str = "DEAL_1",
              properties: dict | None = None) -> str:
    res = stack.control("POST", "robots/run", json={
        "code": code, "document_id": ["crm", "CCrmDocumentDeal", doc],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"],
        "properties": properties if properties is not None else {"text": "Call the client"}})
    assert res["status_code"] == 200, res
    return res["event_token"]


def results(stack: Stack, token: str) -> dict:
    return stack.control("GET", "robots/results", params={"event_token": token})


def test_robot_ends_with_exactly_one_event_send_even_when_run_twice(installed: Stack):
    token = run_robot(installed)
    installed.run_worker()
    calls = results(installed, token)["calls"]
    assert len(calls) == 1
    assert calls[0]["RETURN_VALUES"]["error"] == ""
    assert int(calls[0]["RETURN_VALUES"]["comment_id"]) > 0
    # the same job again (a requeue, a worker killed after answering): no second answer
    queues = services(installed).queues
    jid = next(iter(queues.redis.scan_iter(f"{queues.prefix}:dedup:robot-*"))).decode()
    queues.forget(jid.split(":dedup:")[1])
    resp = requests.post(f"{installed.app_url}/robots/timeline_note", headers=FORM, data=body(
        "ROBOT__timeline_note__basic", member_id=installed.portal()["member_id"],
        application_token=installed.portal()["application_token"], event_token=token))
    assert resp.status_code == 200
    installed.run_worker()
    assert len(results(installed, token)["calls"]) == 1


def test_robot_with_bad_input_answers_with_the_reason(installed: Stack):
    token = run_robot(installed, properties={"text": "   "})
    installed.run_worker()
    calls = results(installed, token)["calls"]
    assert len(calls) == 1 and "empty" in calls[0]["RETURN_VALUES"]["error"]
    assert "empty" in calls[0]["LOG_MESSAGE"]


def test_robot_on_a_deleted_deal_answers_with_the_portal_error(installed: Stack):
    token = run_robot(installed, doc="DEAL_987654")
    installed.run_worker()
    calls = results(installed, token)["calls"]
    assert len(calls) == 1
    assert calls[0]["RETURN_VALUES"]["error"]


def test_expired_token_with_four_racing_workers_refreshes_once(installed: Stack):
    for i in range(8):
        run_robot(installed, doc=f"DEAL_{i + 1}")
    assert installed.queued() == 8
    installed.control("POST", "expire-tokens", json={})
    installed.control("POST", "reset-stats", json={})
    workers = installed.start_workers(4)
    for w in workers:
        w.wait(timeout=60)
    stats = installed.stats()
    assert stats["token_calls"] == 1, stats
    assert installed.queued() == 0
    assert services(installed).queues.failed() == []


def test_a_503_burst_is_retried_until_the_call_completes(installed: Stack):
    installed.control("POST", "faults", json={"method": "crm.timeline.comment.add",
                                              "error": "QUERY_LIMIT_EXCEEDED", "count": 3})
    token = run_robot(installed)
    installed.run_worker()
    calls = results(installed, token)["calls"]
    assert len(calls) == 1 and calls[0]["RETURN_VALUES"]["error"] == ""
    assert installed.stats()["by_method"]["crm.timeline.comment.add"] >= 4


def test_an_outage_longer_than_the_transport_retries_goes_to_rq_retry_then_answers(
        installed: Stack):
    installed.control("POST", "faults", json={"method": "crm.timeline.comment.add",
                                              "error": "INTERNAL_SERVER_ERROR", "count": 6})
    token = run_robot(installed)
    installed.run_worker()
    calls = results(installed, token)["calls"]
    assert len(calls) == 1 and calls[0]["RETURN_VALUES"]["error"] == ""


def test_permanent_failure_is_parked_and_can_be_requeued(installed: Stack):
    member_id = installed.portal()["member_id"]
    resp = requests.post(f"{installed.app_url}/events", headers=FORM, data=body(
        "ONCRMDEALADD__basic", member_id=member_id,
        application_token=installed.portal()["application_token"], id=3))
    assert resp.status_code == 200
    s = services(installed)
    # break the stored tokens so the job fails for good (invalid_grant on refresh)
    tokens = s.store.get_tokens(member_id)
    installed.control("POST", "expire-tokens", json={})
    s.store.save_tokens(member_id, Tokens(tokens.access_token, "revoked", time.time() - 10))
    drain = s.queues.enqueue("connector.jobs.run_maintenance", ["drain_offline", member_id],
                             "drain-test", queue="maintenance", member_id=member_id)
    assert drain.created
    installed.run_worker()
    failed = s.queues.failed()
    assert [j.id for j in failed] == ["drain-test"]
    health = requests.get(f"{installed.app_url}/healthz", timeout=5).json()
    assert health["needs_reinstall"][0]["member_id"] == member_id
    assert health["failed_jobs"] == 1
    assert s.queues.requeue_failed("drain-test") == ["drain-test"]


def test_crm_event_from_the_portal_reaches_the_journal(installed: Stack):
    deal = installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Sofa delivery"}})
    deal_id = int(deal.get("id") or deal.get("ID") or deal.get("result"))
    wait_for(lambda: installed.queued() >= 1)
    installed.run_worker()
    s = services(installed)
    key = f"{s.settings.queue_prefix}:journal:{installed.portal()['member_id']}"
    entries = [json.loads(x) for x in installed.redis.lrange(key, 0, -1)]
    assert {"event": "ONCRMDEALADD", "id": deal_id} in [
        {"event": e["event"], "id": e["id"]} for e in entries]


def test_offline_queue_is_drained_without_loss(installed: Stack):
    from connector.jobs import ensure_periodic, run_task

    installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Offline one"}})
    installed.run_worker()  # the online copy
    s = services(installed)
    member_id = installed.portal()["member_id"]
    chains = ensure_periodic(s, member_id)  # the install started the drain's chain already
    assert chains["drain_offline"] == "kept", chains
    assert run_task(s, "drain_offline", member_id)["queued"] >= 1
    installed.run_worker()
    left = installed.rest("event.offline.list").json()["result"]
    rows = left.get("events", left) if isinstance(left, dict) else left
    assert rows == [] or rows == {}


def test_uninstall_drops_tokens_and_queued_jobs(installed: Stack):
    member_id = installed.portal()["member_id"]
    run_robot(installed)
    assert installed.queued() == 1
    res = installed.control("POST", "uninstall", json={"clean": False})
    assert res
    s = services(installed)
    wait_for(lambda: s.store.get_tokens(member_id) is None)
    installed.run_worker()  # the clean-up job (install/cleanup.py)
    assert installed.queued() == 0
    assert s.store.get(member_id).status == "uninstalled"
    resp = requests.post(f"{installed.app_url}/events", headers=FORM, data=body(
        "ONCRMDEALADD__basic", member_id=member_id,
        application_token=installed.portal()["application_token"]))
    assert resp.status_code == 401


def test_clean_uninstall_also_drops_settings(installed: Stack):
    member_id = installed.portal()["member_id"]
    s = services(installed)
    s.portal_settings.put(member_id, {"general": {"language": "en"}})
    installed.control("POST", "uninstall", json={"clean": True})
    installed.run_worker()  # the clean-up job deletes the record and the settings
    wait_for(lambda: not s.store.exists(member_id))
    assert s.portal_settings.get(member_id)["general"]["language"] == "auto"


def test_a_retried_note_answers_with_the_comment_it_wrote(installed: Stack):
    """A worker killed after the comment was written but before the robot was answered runs
    the robot again: it answers with that comment instead of writing a second one."""
    from connector.context import JobContext
    from connector.triggers import RobotCall
    from robots import timeline_note

    ctx = JobContext.load(services(installed), installed.portal()["member_id"], "test",
                          "timeline_note")
    call = RobotCall("timeline_note", "token-of-one-run", "wf1", ["crm", "CCrmDocumentDeal",
                     "DEAL_1"], ["crm", "CCrmDocumentDeal", "DEAL"], {"text": "Call back"})
    first = timeline_note.run(ctx, call)
    again = timeline_note.run(ctx, call)  # the retry
    assert again == first
    notes = [c for c in installed.control("GET", "notifications")["timeline"]
             if c.get("COMMENT") == "Call back"]
    assert len(notes) == 1
    other = timeline_note.run(ctx, RobotCall(**{**call.__dict__, "event_token": "another"}))
    assert other != first  # another run of the rule is another note


def test_a_note_killed_while_the_portal_wrote_it_is_found_not_written_again(installed: Stack):
    """The worker died inside crm.timeline.comment.add: the portal wrote the note, the app
    never learnt its id. The retry finds it on the item's timeline and answers with it."""
    from connector.context import JobContext
    from connector.triggers import RobotCall
    from robots import timeline_note

    ctx = JobContext.load(services(installed), installed.portal()["member_id"], "test",
                          "timeline_note")
    call = RobotCall("timeline_note", "token-killed-mid-write", "wf1",
                     ["crm", "CCrmDocumentDeal", "DEAL_1"], ["crm", "CCrmDocumentDeal", "DEAL"],
                     {"text": "Send the contract"})
    first = timeline_note.run(ctx, call)
    run = ctx.key("written", hashlib.sha256(call.event_token.encode()).hexdigest()[:32])
    ctx.redis.delete(run)  # as if killed after the portal wrote it, before the app recorded it
    again = timeline_note.run(ctx, call)
    assert again == first
    notes = [c for c in installed.control("GET", "notifications")["timeline"]
             if c.get("COMMENT") == "Send the contract"]
    assert len(notes) == 1
    # a first attempt killed before the portal wrote anything: the retry writes the note
    lost = RobotCall(**{**call.__dict__, "event_token": "token-killed-before-write",
                        "properties": {"text": "Call the client"}})
    run = hashlib.sha256(lost.event_token.encode()).hexdigest()[:32]
    ctx.redis.set(ctx.key("writing", run), time.time())
    assert timeline_note.run(ctx, lost) != first
    assert [c["COMMENT"] for c in installed.control("GET", "notifications")["timeline"]
            ].count("Call the client") == 1
