"""The admin's distribution, Google Drive and operations panels over real HTTP: the emulator
portal, the app, real Redis and real burst workers."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urlencode

import requests

from connector import queue as q
from robots.drive_mirror import connection
from tests.conftest import Stack
from tests.distribution_support import configure, day, distribute, lead, new_lead
from tests.fixtures.docs.widgets import frame_request

ADMIN, MANAGER = 1, 3


def svc(stack: Stack) -> object:
    return stack.app.extensions["connector"]


def open_app(stack: Stack, user_id: int = ADMIN) -> str:
    """The app opened from the portal's menu (a frame POST to the installer address)."""
    portal = stack.portal()
    access = stack.control("POST", "tokens", json={"user_id": user_id})["access_token"]
    query, form = frame_request(
        DOMAIN=portal["domain"], member_id=portal["member_id"], LANG="en",
        APPLICATION_TOKEN=portal["application_token"], AUTH_ID=access, PLACEMENT="DEFAULT",
        PLACEMENT_OPTIONS="{}")
    resp = requests.post(f"{stack.app_url}/install?{urlencode(query)}", data=form, timeout=15)
    assert resp.status_code == 200, resp.text
    return resp.text


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match[1])


def page(stack: Stack, name: str, token: str, **query: str) -> str:
    resp = requests.get(f"{stack.app_url}/app/{name}",
                        params={"t": token, "LANG": "en", **query}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.text


def act(stack: Stack, name: str, shown: str, action: str, **fields: str) -> requests.Response:
    """Post a panel's form as the page gave it (signed token and CSRF of that render)."""
    return requests.post(f"{stack.app_url}/app/{name}?LANG=en", timeout=30, data={
        "t": hidden(shown, "t"), "csrf": hidden(shown, "csrf"), "_action": action, **fields})


def audit_rows(shown: str) -> str:
    return shown.split('id="audit-rows"')[1].split("</table>")[0]


def chosen(shown: str) -> str:
    match = re.search(r'<tr class="chosen"><th scope="row">([^<]+)', shown)
    assert match, "no member chosen"
    return match[1].strip()


def test_the_dry_run_follows_the_stored_settings_and_writes_nothing(installed: Stack):
    configure(installed, departments=[], users=[2, 3])
    day(installed, u2="OPENED", u3="OPENED")
    lead_id = new_lead(installed, "Dry run lead")
    token = hidden(open_app(installed), "t")
    form = page(installed, "distribution", token)
    assert f'<option value="{lead_id}"' in form  # the latest leads, read from the portal
    first = page(installed, "distribution", token, group="sales", kind="lead",
                 item=str(lead_id))
    assert chosen(first) == "Ivan Petrov"  # a tie: the lower id
    assert "Maria Sokolova" in first and "could receive" in first
    configure(installed, departments=[], users=[3])  # members changed: at once
    assert chosen(page(installed, "distribution", token, group="sales", kind="lead",
                       item=str(lead_id))) == "Maria Sokolova"
    configure(installed, departments=[], users=[2, 3])
    day(installed, u2="PAUSED")
    paused = page(installed, "distribution", token, group="sales", kind="lead",
                  item=str(lead_id))
    assert chosen(paused) == "Maria Sokolova" and "on a break" in paused
    assert int(lead(installed, lead_id)["ASSIGNED_BY_ID"]) == 1  # nothing assigned
    audit = page(installed, "distribution", token)
    assert "No assignments match." in audit


def test_a_cap_in_the_settings_changes_the_dry_run(installed: Stack):
    configure(installed, departments=[], users=[2, 3])
    day(installed, u2="OPENED", u3="OPENED")
    distribute(installed, new_lead(installed))
    installed.run_worker()  # one real assignment: user 2 (a tie, the lower id)
    token = hidden(open_app(installed), "t")
    assert chosen(page(installed, "distribution", token, item="0")) == "Maria Sokolova"
    configure(installed, departments=[], users=[2, 3], max_per_day=1, max_in_work=1)
    both = page(installed, "distribution", token, item="0")
    assert chosen(both) == "Maria Sokolova"
    configure(installed, departments=[], users=[2], max_per_day=1)
    capped = page(installed, "distribution", token, item="0")
    assert 'class="chosen"' not in capped and "daily cap reached" in capped
    assert "nobody can take it now" in capped


def test_the_audit_filters_by_outcome_manager_item_and_date(installed: Stack):
    configure(installed, departments=[], users=[2, 3])
    day(installed, u2="OPENED", u3="OPENED")
    first, second = new_lead(installed), new_lead(installed)
    distribute(installed, first)
    distribute(installed, second)
    installed.run_worker()
    token = hidden(open_app(installed), "t")
    everything = page(installed, "distribution", token)
    assert f"lead #{first}" in everything and f"lead #{second}" in everything
    mine = page(installed, "distribution", token, audit_user="3")
    rows = audit_rows(mine)
    assert rows.count("<tr>") - 1 == 1 and "Maria Sokolova" in rows
    one = audit_rows(page(installed, "distribution", token, audit_item=f"lead/{first}"))
    assert f"lead #{first}" in one and f"lead #{second}" not in one
    assert "No assignments match." in page(installed, "distribution", token,
                                           audit_status="pending")
    assert "No assignments match." in page(installed, "distribution", token,
                                           audit_to="2020-01-01")
    today = time.strftime("%Y-%m-%d")
    assert f"lead #{first}" in page(installed, "distribution", token, audit_from="2020-01-01",
                                    audit_to=today[:4] + "-12-31")


def test_the_fairness_chart_draws_each_managers_load(installed: Stack):
    configure(installed, departments=[], users=[2, 3])
    day(installed, u2="OPENED", u3="OPENED")
    for _ in range(3):
        distribute(installed, new_lead(installed))
    installed.run_worker()
    shown = page(installed, "distribution", hidden(open_app(installed), "t"))
    fair = shown.split('id="fairness-sales"')[1]
    assert "<svg" in fair and 'role="img"' in fair
    assert re.search(r'<th scope="row">Ivan Petrov</th><td>2</td><td>2</td><td>2</td>', fair)
    assert re.search(r'<th scope="row">Maria Sokolova</th><td>1</td><td>1</td><td>1</td>', fair)


def _park_a_file(stack: Stack) -> tuple[str, str]:
    """A Drive copy that fails for good (no Google connection): a dead letter of the portal."""
    member_id = stack.portal()["member_id"]
    deal = stack.control("POST", "crm/deal", json={"fields": {"TITLE": "Parked deal"}})
    source = {"key": "uf:UF_CRM_SCAN:77", "disk_id": 0, "url": f"{stack.emu_url}/nothing",
              "name": "scan.pdf"}
    jid = svc(stack).queues.enqueue(  # type: ignore[attr-defined]
        "connector.jobs.run_maintenance",
        ["drive_mirror.file", member_id, {"deal_id": int(deal["id"]), "source": source}],
        q.job_id("drive_mirror-file", member_id, "test", deal["id"]), queue=q.FILES,
        member_id=member_id).job_id
    stack.run_worker()
    return member_id, jid


def test_a_failed_job_shows_its_reason_and_requeues_from_the_page(installed: Stack):
    member_id, jid = _park_a_file(installed)
    shown = page(installed, "operations", hidden(open_app(installed), "t"))
    row = shown.split(f'data-job="{jid}"')[1].split("</tr>")[0]
    assert "Google Drive is not connected." in row
    assert "Google Drive mirror: Copy a file to Google Drive, deal 31" in row
    queues = svc(installed).queues  # type: ignore[attr-defined]
    answer = act(installed, "operations", shown, "failed.requeue", job="someone-elses-job")
    assert answer.status_code == 422 and [j.id for j in queues.failed_of(member_id)] == [jid]
    answer = act(installed, "operations", shown, "failed.requeue", job=jid)
    assert answer.status_code == 200 and "Jobs queued again: 1" in answer.text
    assert queues.failed_of(member_id) == [] and jid in [j.id for j in
                                                          queues.waiting_of(member_id)]
    assert "No failed jobs." in answer.text


def test_the_operations_page_shows_the_portals_state(installed: Stack):
    installed.control("POST", "crm/deal", json={"fields": {"TITLE": "An event"}})
    installed.run_worker()  # the delivery is journalled
    shown = page(installed, "operations", hidden(open_app(installed), "t"))
    state = shown.split('id="portal-state"')[1].split("</table>")[0]
    assert "valid" in state and "Deal created" in state and "per second" in state
    assert "all granted" in state


def test_the_drive_page_parks_requeues_and_disconnects(installed: Stack):
    member_id, jid = _park_a_file(installed)
    token = hidden(open_app(installed), "t")
    shown = page(installed, "drive_mirror", token)
    assert re.search(r'id="drive-parked">1<', shown) and "scan.pdf" in shown
    assert "/google/connect?t=" in shown and "the root of My Drive" in shown
    again = act(installed, "drive_mirror", shown, "google.requeue")
    assert "Files to copy again: 1" in again.text
    assert re.search(r'id="drive-waiting">1<', again.text)
    connection.save(svc(installed), member_id, "user", {"refresh_token": "r-1"},  # type: ignore[arg-type]
                    "admin@example.test")
    shown = page(installed, "drive_mirror", token)
    assert 'data-status="connected"' in shown and "admin@example.test" in shown
    gone = act(installed, "drive_mirror", shown, "google.disconnect")
    assert gone.status_code == 200 and "Google Drive is disconnected" in gone.text
    assert connection.status(svc(installed), member_id)["status"] == "not_connected"  # type: ignore[arg-type]
    assert 'data-status="not_connected"' in gone.text


def test_only_admins_see_what_needs_attention_in_order(installed: Stack):
    _park_a_file(installed)
    configure(installed, departments=[], users=[2])
    day(installed, u2="CLOSED")
    distribute(installed, new_lead(installed))
    installed.run_worker()  # nobody works: the lead is held
    admin = open_app(installed)
    items = re.findall(r'<li class="attention"><a href="([^"]+)">([^<]+)</a>',
                       admin.split('id="attention"')[1].split("</ol>")[0])
    texts = [html.unescape(text) for _, text in items]
    assert texts[0].startswith("Failed jobs: 1"), texts
    assert texts[1].startswith("Files that could not be copied to Google Drive: 1")
    assert texts[2].startswith("Items waiting because nobody could take them: 1")
    assert "/app/operations?" in items[0][0] and "/app/drive_mirror?" in items[1][0]
    assert "/app/distribution?" in items[2][0]
    manager = open_app(installed, MANAGER)
    assert 'id="attention"' not in manager and "Needs your attention" not in manager
