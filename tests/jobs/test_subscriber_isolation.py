"""Each (event, subscriber) is its own job: one failing for good never cancels another's
retries, a retry re-runs only the one that failed, and the delivery reads once for all."""

from __future__ import annotations

from tests.conftest import Stack
from tests.jobs.test_deal_workspace import deal, folders_named, new_deal


def configure(stack: Stack, **sections: dict) -> None:
    """The sections given, and no offline drain: its periodic read may come due in any
    second of a test and deliver the deal's creation again (more jobs, more requests)."""
    from connector.jobs import ensure_periodic

    services = stack.app.extensions["connector"]
    member_id = stack.portal()["member_id"]
    doc = services.portal_settings.get(member_id)
    for name, values in {"events": {"offline_backup": False}, **sections}.items():
        doc[name].update(values)
    services.portal_settings.put(member_id, doc)
    ensure_periodic(services, member_id)


BROKEN_GROUP = {"id": "nobody", "name": "Nobody", "entity_types": ["deal"],
                "departments": [77], "auto": [{"entity": "deal"}]}  # a department with no one


def failed_subscribers(stack: Stack) -> list[str]:
    jobs = stack.app.extensions["connector"].queues.failed()
    return sorted(f"{j.args[0]}.{j.args[1]}" for j in jobs
                  if j.func_name == "connector.jobs.run_subscriber")


def test_a_permanent_failure_does_not_cancel_a_transient_retry(installed: Stack):
    configure(installed, distribution={"groups": [BROKEN_GROUP]},
              deal_folders={"enabled": True}, deal_chats={"enabled": False})
    warm = new_deal(installed, "Warm-up")  # user field and parent folder cached
    installed.run_worker()
    assert deal(installed, warm)["UF_CRM_CC_FOLDER"]
    # distribution fails for good (nobody in the group); the folder's write meets a 503 once
    installed.control("POST", "faults", json={"method": "disk.folder.addsubfolder",
                                             "error": "INTERNAL_SERVER_ERROR", "status": 503,
                                             "count": 1})
    deal_id = new_deal(installed, "Sofa with a blip")
    installed.run_worker()
    assert deal(installed, deal_id)["UF_CRM_CC_FOLDER"], "the folder step was retried"
    assert failed_subscribers(installed) == ["distribution.assign_deal"] * 2
    # a requeue of the failed ones re-runs distribution alone: no second folder appears
    assert len(installed.app.extensions["connector"].queues.requeue_failed()) == 2
    installed.run_worker()
    assert len(folders_named(installed, f"{deal_id} Sofa with a blip")) == 1
    assert failed_subscribers(installed) == ["distribution.assign_deal"] * 2


def test_the_delivery_reads_the_deal_once_for_every_subscriber(installed: Stack):
    configure(installed, deal_folders={"enabled": True}, deal_chats={"enabled": True},
              drive_mirror={"enabled": True})
    new_deal(installed, "Warm-up")
    installed.run_worker()
    before = installed.stats().get("http_by_method") or {}
    new_deal(installed, "One read")
    installed.run_worker()
    after = installed.stats().get("http_by_method") or {}
    batches = int(after.get("batch", 0)) - int(before.get("batch", 0))
    singles = {m: int(after[m]) - int(before.get(m, 0)) for m in after
               if m != "batch" and int(after[m]) != int(before.get(m, 0))}
    # the delivery's shared read, the set-up's write, the echo's shared read: nothing else
    assert batches <= 3 and not singles, (batches, singles)


def test_a_new_deals_chat_is_made_after_distribution_chose_its_responsible(installed: Stack):
    from tests.distribution_support import SALES, day
    from tests.jobs.test_deal_workspace import chats_of

    configure(installed, distribution={"groups": [{**SALES, "auto": [{"entity": "deal"}]}]},
              deal_folders={"enabled": False}, deal_chats={"enabled": True})
    day(installed, u2="CLOSED", u3="OPENED", u4="CLOSED")  # user 3 is the one at work
    deal_id = new_deal(installed, "Diagnostics request", ASSIGNED_BY_ID=1)
    installed.run_worker()
    assert int(deal(installed, deal_id)["ASSIGNED_BY_ID"]) == 3
    (chat,) = chats_of(installed, deal_id)
    members = {int(u) for u in chat.get("USERS", chat.get("users", []))}
    assert 3 in members, members  # made with the chosen responsible (1 is the app's own user)
    user3 = installed.rest("user.get", {"ID": 3}).json()["result"][0]
    assert user3["NAME"] in chat["messages"][0]["MESSAGE"]
    adds = installed.control("GET", "calls?method=im.chat.user.add")
    adds = adds.get("calls", adds) if isinstance(adds, dict) else adds
    assert adds == [], "nobody had to be added afterwards"
