"""App update re-registers robots; the CLI shows portals, settings and dead letters."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, Stack


def cli(stack: Stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wiring", *args], env=stack.env,
                          cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=60)


def test_app_update_deletes_robots_and_onappupdate_brings_them_back(installed: Stack):
    before = installed.portal()["application_token"]
    installed.control("POST", "update", json={"version": 2})
    assert installed.rest("bizproc.robot.list").json()["result"] == []
    after = installed.portal()["application_token"]
    assert after != before
    installed.run_worker()  # the reconcile job queued by ONAPPUPDATE
    robots = installed.rest("bizproc.robot.list").json()["result"]
    assert {"timeline_note", "fair_distribution"} <= set(robots)
    store = installed.app.extensions["connector"].store
    assert store.application_token_matches(installed.portal()["member_id"], after)
    assert not store.application_token_matches(installed.portal()["member_id"], before)
    # the new key is told to the admin who installed the app, in the portal's language
    told = [n for n in installed.control("GET", "notifications")["notifications"]
            if "new key (application token)" in n.get("MESSAGE", "")]
    assert [n["USER_ID"] for n in told] == [1]


def test_a_frame_cannot_re_key_an_installed_portal(installed: Stack):
    """The installer page with a genuine admin token but another APPLICATION_TOKEN keeps the
    stored key: the portal's own events still get through (issue 13, item 4)."""
    import requests

    portal = installed.portal()
    store = installed.app.extensions["connector"].store
    admin = installed.control("POST", "tokens", json={"user_id": 1})
    resp = requests.post(f"{installed.app_url}/install?DOMAIN={portal['domain']}", data={
        "AUTH_ID": admin["access_token"], "REFRESH_ID": admin["refresh_token"],
        "AUTH_EXPIRES": "3600", "member_id": portal["member_id"],
        "APPLICATION_TOKEN": "attacker", "PLACEMENT": "DEFAULT"}, timeout=15)
    assert resp.status_code == 200  # a genuine admin: the installer still runs
    assert not store.application_token_matches(portal["member_id"], "attacker")
    assert store.application_token_matches(portal["member_id"], portal["application_token"])
    installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Still heard"}})
    installed.settle()
    heard = [r["status_code"] for r in installed.control("GET", "deliveries")
             if r.get("event") == "ONCRMDEALADD"]
    assert heard and heard[-1] == 200  # the genuine key still opens the door
    assert installed.control("GET", "notifications")["notifications"] == []


def test_cli_portals_and_settings_round_trip(installed: Stack):
    member_id = installed.portal()["member_id"]
    listed = cli(installed, "portals")
    assert member_id in listed.stdout and "active" in listed.stdout
    exported = cli(installed, "settings", "export", member_id)
    doc = json.loads(exported.stdout)
    doc["general"]["language"] = "en"
    imported = cli(installed, "settings", "import", member_id, "-", stdin=json.dumps(doc))
    assert imported.returncode == 0, imported.stderr
    bad = cli(installed, "settings", "set", member_id, "-",
              stdin=json.dumps({"general": {"timezone": "Nowhere/Land"}}))
    assert bad.returncode == 2 and "general.timezone" in bad.stderr
    shown = json.loads(cli(installed, "settings", "show", member_id).stdout)
    assert shown["general"]["language"] == "en"
    assert shown["general"]["timezone"] == "Europe/Moscow"


def test_cli_failed_lists_and_requeues(installed: Stack):
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    services.queues.enqueue("connector.jobs.run_maintenance", ["no_such_task", member_id],
                            "broken-job", queue="maintenance", member_id=member_id)
    installed.run_worker()
    listed = cli(installed, "failed")
    assert "broken-job" in listed.stdout and "unknown task 'no_such_task'" in listed.stdout
    requeued = cli(installed, "failed", "requeue", "broken-job")
    assert requeued.returncode == 0 and "broken-job" in requeued.stdout
    assert installed.queued() == 1
