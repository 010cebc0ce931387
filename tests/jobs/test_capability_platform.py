"""Adding a capability is one declaration: a throwaway one is registered, routed, scheduled,
shown, configured and given its CLI command — with no line changed anywhere else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from connector.capability import (
    Capability,
    CardSection,
    Command,
    Periodic,
    Registry,
    Subscription,
    Task,
)
from connector.cli import build_parser
from connector.crm import port as crm
from connector.jobs import periodic_tasks
from connector.services import assemble_with
from connector.settings_schema import Bool, Schema, Text
from connector.triggers import DEAL, LEAD, Prop, RobotSpec
from install.registrations import plan
from robots import CAPABILITIES
from tests.conftest import Stack
from tests.distribution_support import answers, new_lead

NAME = "echo_test"


def _echo(ctx: Any, call: Any) -> dict[str, Any]:
    return {"echoed": f"{ctx.settings[NAME]['greeting']} {call.properties.get('text', '')}"}


def _seen(ctx: Any, event: Any, reading: crm.Reading) -> dict[str, Any]:
    item = reading.get("item")
    ctx.redis.set(ctx.key("seen", event.ref.id), item.title)
    return {"seen": item.title}


def _remind(ctx: Any, arg: dict[str, Any]) -> dict[str, Any]:
    ctx.redis.rpush(ctx.key("reminders"), arg["text"])
    return {"reminded": arg["text"]}


def _convert(ctx: Any, arg: dict[str, Any]) -> dict[str, Any]:
    ctx.redis.rpush(ctx.key("converted"), arg["text"])
    return {"converted": arg["text"]}


def _tick(ctx: Any) -> dict[str, Any]:
    ctx.redis.incr(ctx.key("ticks"))
    return {"ticked": True}


SCHEMA = Schema(NAME, "Echo", (Bool("enabled", "On", "Switch it on", False),
                               Text("greeting", "Greeting", "Said first", "Hello")))
THROWAWAY = Capability(
    name=NAME, title="Echo (test)", settings=(SCHEMA,),
    triggers=(RobotSpec(NAME, "Echo", "Answers with its text", _echo,
                        properties={"text": Prop("Text", "string")},
                        return_properties={"echoed": Prop("Echoed", "string")},
                        document_types=(LEAD, DEAL)),),
    subscriptions=(Subscription("lead.created", "seen", _seen,
                                lambda ctx, e: ctx.settings[NAME]["enabled"],
                                lambda ctx, e: {"item": crm.GetItem(e.ref)}),),
    periodic=(Periodic("tick", lambda doc: 60 if doc[NAME]["enabled"] else None, _tick),),
    tasks=(Task("remind", _remind), Task("convert", _convert, queue="documents")),
    card_sections=(CardSection("echo", "Echo section", lambda ctx, deal_id: {
        "folder_url": f"https://example.test/echo/{deal_id}", "chat_id": 0},
        "sections/deal_workspace.html"),),
    scopes=frozenset({"crm", "landing"}),
    cli=(Command("echo-test", "the throwaway capability", lambda p: p.add_argument("word"),
                 lambda services, args: print(args.word) or 0),),
)
CAPS = [*CAPABILITIES, THROWAWAY]


@pytest.fixture
def platform(installed: Stack) -> Any:
    """Services and a web app of a deployment that has the throwaway capability."""
    from connector.config import load_settings
    from wiring import build_services, create_app

    settings = load_settings(installed.env)
    services = build_services(settings, caps=CAPS)
    assemble_with(lambda: services)  # what this process's worker jobs run with
    member_id = installed.portal()["member_id"]
    doc = services.portal_settings.get(member_id)
    doc[NAME] = {"enabled": True, "greeting": "Привет"}
    services.portal_settings.put(member_id, doc)
    yield services, create_app(settings, caps=CAPS), member_id
    assemble_with(lambda: build_services(load_settings()))


def work(services: Any) -> None:
    """A real RQ worker in this process, so it runs with the throwaway capability (after
    the pump has made the inbox's deliveries into jobs, as a worker's pump thread does)."""
    from connector.pump import Pump

    Pump(services.queues).drain()
    SimpleWorker(list(services.queues.queues.values()), connection=services.redis,
                 serializer=JSONSerializer).work(burst=True)


def test_it_is_registered_on_the_portal(platform: Any):
    services, _, member_id = platform
    alone = plan(Registry([THROWAWAY]), {"robots": [], "events": [], "placements": []},
                 "https://app.test", "1", offline=True)
    calls = [(m, p.get("CODE") or p.get("event")) for m, p in alone.commands.values()]
    assert ("bizproc.robot.add", NAME) in calls
    assert calls.count(("event.bind", "ONCRMLEADADD")) == 2  # online, and offline backup
    from wiring import reconcile_portal

    done = reconcile_portal(services, member_id)
    assert not done["errors"]
    assert done["missing_scopes"] == ["landing"]  # declared, and not granted on install
    robots = services.client(member_id).call("bizproc.robot.list")
    assert NAME in robots


def test_its_robot_and_its_event_are_routed_to_it(platform: Any, installed: Stack):
    from wiring import reconcile_portal

    services, _, member_id = platform
    reconcile_portal(services, member_id)
    res = installed.control("POST", "robots/run", json={
        "code": NAME, "document_id": ["crm", "CCrmDocumentLead", "LEAD_1"],
        "document_type": ["crm", "CCrmDocumentLead", "LEAD"], "properties": {"text": "мир"}})
    assert res["status_code"] == 200, res
    lead_id = new_lead(installed, "Echo lead")
    installed.settle()
    work(services)
    (answer,) = answers(installed, res["event_token"])
    assert answer["RETURN_VALUES"]["echoed"] == "Привет мир"
    seen = services.redis.get(f"cc:{NAME}:b24:{member_id}:seen:{lead_id}")
    assert seen is not None and seen.decode() == "Echo lead"


def test_its_periodic_task_is_scheduled_and_runs(platform: Any):
    from connector import periodic
    from connector.jobs import ensure_periodic

    services, _, member_id = platform
    doc = services.portal_settings.get(member_id)
    assert periodic_tasks(services, doc)[f"{NAME}.tick"] == 60
    assert ensure_periodic(services, member_id)[f"{NAME}.tick"] == "started"
    assert ensure_periodic(services, member_id)[f"{NAME}.tick"] == "kept"
    state = services.redis.hgetall(periodic.state_key("cc", member_id, f"{NAME}.tick"))
    gen, slot = int(state[b"gen"]), int(state[b"next"])
    periodic.run_slot_with(services.queues, member_id, f"{NAME}.tick", gen, slot, 60,
                           "connector.jobs.run_maintenance")
    assert int(services.redis.get(f"cc:{NAME}:b24:{member_id}:ticks") or 0) == 1
    doc[NAME]["enabled"] = False
    services.portal_settings.put(member_id, doc)
    assert ensure_periodic(services, member_id)[f"{NAME}.tick"] == "stopped"


def test_its_timer_fires_once_with_what_it_was_moved_to(platform: Any):
    import time

    from connector.context import JobContext
    from connector.queue import Scheduler

    services, _, member_id = platform
    ctx = JobContext.load(services, member_id, "test", NAME)
    ctx.schedule("deal-7-call", time.time() + 1, "remind", {"text": "позвонить в 10:00"})
    ctx.schedule("deal-7-call", time.time() + 2, "remind", {"text": "позвонить в 12:00"})
    ctx.schedule("deal-8-call", time.time() + 1, "remind", {"text": "отменено"})
    assert ctx.cancel_timer("deal-8-call")
    assert ctx.timer_due("deal-7-call") is not None
    time.sleep(3.1)  # RQ keeps whole seconds: due times round up
    scheduler = Scheduler(services.queues)  # what a worker's scheduler thread does
    try:
        assert scheduler.run_once(), "this process holds the scheduler's locks"
    finally:
        scheduler.release()
    work(services)
    assert services.redis.lrange(f"cc:{NAME}:b24:{member_id}:reminders", 0, -1) == [
        "позвонить в 12:00".encode()]
    assert ctx.timer_due("deal-7-call") is None


def test_its_task_runs_on_the_queue_the_task_declares(platform: Any):
    import time

    from connector.context import JobContext
    from connector.queue import DOCUMENTS, MAINTENANCE

    services, _, member_id = platform
    queues = services.queues
    ctx = JobContext.load(services, member_id, "test", NAME)
    assert ctx.enqueue("convert", {"text": "счёт"}, "deal-9")
    assert ctx.enqueue("remind", {"text": "позвонить"}, "deal-9")
    mine = f"{NAME}-convert-"
    assert [j for j in queues[DOCUMENTS].job_ids if j.startswith(mine)]
    assert not [j for j in queues[MAINTENANCE].job_ids if j.startswith(mine)]
    assert [j for j in queues[MAINTENANCE].job_ids if j.startswith(f"{NAME}-remind-")]
    # a worker on `documents` alone runs it, and nothing of the other queues
    SimpleWorker([queues[DOCUMENTS]], connection=services.redis,
                 serializer=JSONSerializer).work(burst=True)
    key = f"cc:{NAME}:b24:{member_id}"
    assert services.redis.lrange(f"{key}:converted", 0, -1) == ["счёт".encode()]
    assert services.redis.lrange(f"{key}:reminders", 0, -1) == []
    jid = ctx.schedule("deal-9-pdf", time.time() + 600, "convert", {"text": "акт"})
    assert jid in queues.scheduled_ids(DOCUMENTS)  # its timer fires there too
    assert ctx.cancel_timer("deal-9-pdf")


def test_its_card_section_is_shown_in_the_deal_tab(platform: Any, installed: Stack):
    services, app, member_id = platform
    portal = installed.portal()
    token = installed.control("POST", "tokens", json={})["access_token"]
    resp = app.test_client().post("/placements/deal_tab", data={
        "member_id": member_id, "APPLICATION_TOKEN": portal["application_token"],
        "AUTH_ID": token, "PLACEMENT": "CRM_DEAL_DETAIL_TAB", "LANG": "en",
        "PLACEMENT_OPTIONS": json.dumps({"ID": "1"})})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    assert "Echo section" in page and "https://example.test/echo/1" in page


def test_its_settings_are_validated_and_kept_by_a_process_without_it(platform: Any):
    from connector.settings_schema import SettingsInvalid
    from wiring import build_services

    services, _, member_id = platform
    doc = services.portal_settings.get(member_id)
    with pytest.raises(SettingsInvalid, match="echo_test.enabled"):
        services.portal_settings.put(member_id, {**doc, NAME: {"enabled": "yes"}})
    without = build_services(services.settings)  # a process that does not load it
    kept = without.portal_settings.get(member_id)
    kept["general"]["timezone"] = "Asia/Yekaterinburg"
    without.portal_settings.put(member_id, kept)
    assert services.portal_settings.get(member_id)[NAME]["greeting"] == "Привет"


def test_its_cli_command_is_offered(platform: Any, capsys: pytest.CaptureFixture[str]):
    from connector.cli import main

    services, _, _ = platform
    assert "echo-test" in build_parser(Registry(CAPS).commands()).format_help()
    assert main(["echo-test", "слово"], lambda: services, Registry(CAPS).commands()) == 0
    assert capsys.readouterr().out.strip() == "слово"
