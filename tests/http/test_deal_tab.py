"""The deal tab a manager uses, over real HTTP: the deal's history in words (once per event,
whichever way the portal delivered it), its sections' "nothing yet" states, and the actions
that queue a job the tab follows until its result is there, refused when forged."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from connector.jobs import drain_offline
from fakedrive import FakeDrive
from robots.drive_mirror import connection
from tests.conftest import Stack
from tests.distribution_support import configure, day
from tests.fixtures.docs.widgets import frame_request

MANAGER = 3


pytestmark = pytest.mark.fake_drive


def services(stack: Stack):
    return stack.app.extensions["connector"]


def put(stack: Stack, doc: dict) -> None:
    services(stack).portal_settings.put(stack.portal()["member_id"], doc)


def new_deal(stack: Stack, title: str = "Sofa for the lobby", assigned: int = MANAGER) -> int:
    return int(stack.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": assigned}})["id"])


def open_tab(stack: Stack, deal_id: int, user_id: int = MANAGER, lang: str = "en",
             **values: str) -> requests.Response:
    """The documented deal-tab request, as the portal posts it for this viewer."""
    portal = stack.portal()
    auth = stack.control("POST", "tokens", json={"user_id": user_id})["access_token"]
    fields = {"DOMAIN": portal["domain"], "member_id": portal["member_id"],
              "APPLICATION_TOKEN": portal["application_token"], "AUTH_ID": auth, "LANG": lang,
              **values}
    query, form = frame_request(deal_id=str(deal_id), **fields)
    return requests.post(f"{stack.app_url}/placements/deal_tab?{urlencode(query)}", data=form,
                         timeout=15)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match[1]


def history(html: str) -> list[str]:
    """The history's lines, each without its time."""
    block = html.split('id="history"', 1)[1]
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r"<span>(.*?)</span></li>", block, re.S)]


def act(stack: Stack, html: str, deal_id: int, action: str, **over: str) -> requests.Response:
    form = {"t": hidden(html, "t"), "csrf": hidden(html, "csrf"), "deal": str(deal_id),
            "LANG": "en", "action": action, **over}
    return requests.post(f"{stack.app_url}/placements/deal_tab/act", data=form, timeout=15,
                         allow_redirects=False)


def progress(stack: Stack, view_url: str) -> dict:
    query = parse_qs(urlparse(view_url).query)
    url = f"{stack.app_url}/placements/deal_tab/progress?" + urlencode(
        {k: v[0] for k, v in query.items()})
    resp = requests.get(url, timeout=15)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_history_says_in_words_what_happened_once_even_when_the_backup_repeats_it(
        installed: Stack):
    put(installed, {"deal_folders": {"enabled": True}, "deal_chats": {"enabled": True}})
    deal_id = new_deal(installed)
    installed.run_worker()
    member_id = installed.portal()["member_id"]
    # the offline twin of ONCRMDEALADD delivers the same event again: here, or already by the
    # periodic drain when the worker above met its slot (a slow run)
    queued = installed.portal()["offline_queue"]
    drained = drain_offline(services(installed), member_id)
    assert drained["queued"] >= min(queued, 1)
    installed.run_worker()
    assert installed.portal()["offline_queue"] == 0  # the backup has repeated everything
    page = open_tab(installed, deal_id)
    assert page.status_code == 200, page.text
    lines = history(page.text)
    assert lines.count("Deal created") == 1, lines
    assert lines.count("Folder created") == 1 and lines.count("Chat created") == 1, lines
    assert "ONCRMDEALADD" not in page.text
    assert "Open the folder on Disk" in page.text and "Open the chat" in page.text
    assert "Create the folder now" not in page.text  # there is one


def test_create_the_folder_now_queues_one_job_that_the_tab_follows_to_its_result(
        installed: Stack):
    deal_id = new_deal(installed)  # folders and chats are off: the deal gets neither
    installed.run_worker()
    page = open_tab(installed, deal_id)
    assert "No folder yet." in page.text and "No chat yet." in page.text
    assert "No files yet" in page.text
    assert "The app has not chosen a responsible for this deal." in page.text
    rest_before = installed.stats()["by_method"]
    first = act(installed, page.text, deal_id, "deal_workspace.workspace.folder")
    again = act(installed, page.text, deal_id, "deal_workspace.workspace.folder")  # 2nd click
    assert first.status_code == again.status_code == 303
    job = parse_qs(urlparse(first.headers["Location"]).query)["job"][0]
    assert parse_qs(urlparse(again.headers["Location"]).query)["job"][0] == job
    assert installed.queued() == 1
    waiting = requests.get(first.headers["Location"], timeout=15)
    assert waiting.status_code == 200 and "Queued: the app is doing it now." in waiting.text
    assert 'data-poll="' in waiting.text
    assert progress(installed, first.headers["Location"])["done"] is False
    assert installed.stats()["by_method"] == rest_before  # follow-ups never ask the portal
    installed.run_worker()
    done = progress(installed, first.headers["Location"])
    assert done["done"] is True
    assert "Open the folder on Disk" in done["html"] and "Done." in done["html"]
    assert "No chat yet." in done["html"]  # only what was asked for
    lines = history(open_tab(installed, deal_id).text)  # newest first
    assert lines.count("Folder created") == 1, lines
    assert lines.index("Folder created") < lines.index("Deal created")


def test_a_failed_job_is_told_in_words(installed: Stack):
    put(installed, {"deal_folders": {"storage": "999"}})
    deal_id = new_deal(installed)
    page = open_tab(installed, deal_id)
    view = act(installed, page.text, deal_id, "deal_workspace.workspace.folder")
    installed.run_worker()
    answer = progress(installed, view.headers["Location"])
    assert answer["done"] is True
    assert "It did not work: Disk storage 999 does not exist or is not accessible" in \
        answer["html"]
    assert "Traceback" not in answer["html"] and "SetupError" not in answer["html"]
    lines = history(open_tab(installed, deal_id).text)
    assert lines[0].startswith("Folder or chat not created: Disk storage 999"), lines


def test_follow_ups_are_bound_to_the_viewer_the_deal_and_the_form(installed: Stack):
    mine, other = new_deal(installed), new_deal(installed, "Another deal")
    installed.run_worker()
    page = open_tab(installed, mine)
    foreign = act(installed, page.text, other, "deal_workspace.workspace.folder")
    assert foreign.status_code == 401  # a token for another deal
    assert act(installed, page.text, mine, "deal_workspace.workspace.folder",
               csrf="x").status_code == 403
    assert act(installed, page.text, mine, "deal_workspace.workspace.folder",
               t="forged.token").status_code == 401
    token = hidden(page.text, "t")
    view = requests.get(f"{installed.app_url}/placements/deal_tab/view?" + urlencode(
        {"t": token, "deal": other}), timeout=15)
    assert view.status_code == 401 and "Another deal" not in view.text
    assert installed.queued() == 0  # nothing was queued by any of them


def test_a_forged_frame_and_a_deal_the_viewer_may_not_read_show_nothing(installed: Stack):
    deal_id = new_deal(installed, "Confidential merger")
    installed.run_worker()
    forged = open_tab(installed, deal_id, APPLICATION_TOKEN="0" * 32)
    assert forged.status_code == 401 and 'name="t"' not in forged.text
    installed.control("POST", "crm-access", json={"user_id": MANAGER, "entity": "deal",
                                                  "id": deal_id, "read": False})
    hidden_deal = open_tab(installed, deal_id)
    assert hidden_deal.status_code == 403
    body = hidden_deal.text.split("<body>")[1]
    for leak in ("Confidential", "Deal created", 'name="t"', "Create the folder now"):
        assert leak not in body


def test_the_drive_section_counts_files_and_tells_the_history_once_per_batch(
        installed: Stack, fake_drive: FakeDrive):
    put(installed, {"deal_folders": {"enabled": True}, "drive_mirror": {"enabled": True}})
    deal_id = new_deal(installed)
    installed.run_worker()
    page = open_tab(installed, deal_id)
    assert "Google Drive is not connected" in page.text and "No files yet" in page.text
    assert "Mirror to Drive now" not in page.text
    member_id = installed.portal()["member_id"]
    token = connection.connect_token(services(installed), member_id)
    assert requests.get(f"{installed.app_url}/google/connect?t={token}", timeout=10).ok
    record = services(installed).redis.get(next(services(installed).redis.scan_iter(
        f"*:deal_workspace:*:deal:{deal_id}")))
    folder = int(json.loads(record)["folder_id"])
    for name in ("plan.pdf", "photo.jpg"):
        installed.control("POST", "disk/files", json={"folder_id": folder, "name": name,
                                                      "content_b64": ""})
    page = open_tab(installed, deal_id)
    view = act(installed, page.text, deal_id, "drive_mirror.drive.mirror")
    assert view.status_code == 303
    installed.run_worker()
    page = open_tab(installed, deal_id)
    assert "2 files" in page.text and "Open on Google Drive" in page.text
    assert history(page.text).count("Files copied to Drive: 2") == 1
    act(installed, page.text, deal_id, "drive_mirror.drive.mirror")  # nothing new
    installed.run_worker()
    assert history(open_tab(installed, deal_id).text).count("Files copied to Drive: 2") == 1


def test_the_assignment_and_its_reason_are_in_the_section_and_the_history(installed: Stack):
    configure(installed, auto=[{"entity": "deal"}])
    day(installed, u2="OPENED", u3="OPENED", u4="PAUSED")
    deal_id = new_deal(installed, "Assigned by the app", assigned=1)  # the group's placeholder
    installed.run_worker()
    page = open_tab(installed, deal_id)
    section = page.text.split('id="section-distribution-assignments"', 1)[1].split("</section>")[0]
    assert "assigned" in section and "least loaded" in section
    [chosen] = [line for line in history(page.text) if line.startswith("Responsible chosen: ")]
    assert "least loaded" in chosen
