"""The deal tab in real Chromium, as a manager uses it: opened by the portal's frame POST (the
Bitrix24 script fails to load here, as it does without internet), "create the folder now"
clicked, the progress followed until a worker made the folder, a failure told in words;
in Russian and English, screenshots kept, axe-core finds nothing."""

from __future__ import annotations

import json

import pytest
import requests

from robots.drive_mirror import connection
from tests.conftest import Stack
from tests.distribution_support import SALES, day
from tests.e2e.browser import accessibility_problems, browser_page, post_frame, shoot

MANAGER = 3



pytestmark = pytest.mark.fake_drive


def frame(stack: Stack, deal_id: int) -> dict[str, str]:
    portal = stack.portal()
    return {"member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
            "AUTH_ID": stack.control("POST", "tokens", json={"user_id": MANAGER})["access_token"],
            "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
            "PLACEMENT_OPTIONS": json.dumps({"ID": str(deal_id)})}


def new_deal(stack: Stack, title: str, assigned: int = MANAGER) -> int:
    return int(stack.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": assigned, "OPPORTUNITY": 125000,
        "CURRENCY_ID": "RUB"}})["id"])


def test_a_manager_creates_the_folder_from_the_tab_and_sees_it_appear(installed: Stack):
    deal_id = new_deal(installed, "Диван в холл")
    installed.run_worker()
    url = f"{installed.app_url}/placements/deal_tab?LANG=ru"
    with browser_page("ru-RU") as page:
        post_frame(page, url, frame(installed, deal_id))
        assert page.locator("h1").inner_text() == f"crm-connector · сделка {deal_id}"
        assert page.get_by_text("Папки пока нет.").is_visible()
        assert page.get_by_text("Сделка создана").is_visible()
        shoot(page, "deal_tab_manager.ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Создать папку сейчас").click()
        assert page.get_by_role("status").first.inner_text().startswith("В очереди")
        assert page.get_by_role("button", name="Создать папку сейчас").count() == 0  # queued
        shoot(page, "deal_tab_progress.ru")
        assert accessibility_problems(page) == []
        installed.run_worker()  # while the page polls
        page.get_by_role("link", name="Открыть папку на Диске").wait_for(timeout=20000)
        assert page.get_by_text("Готово.").is_visible()
        assert page.get_by_role("button", name="Создать папку сейчас").count() == 0
        assert page.get_by_text("Папка создана").is_visible()  # the history followed too
        shoot(page, "deal_tab_folder_made.ru")
        assert accessibility_problems(page) == []


def test_a_failure_is_told_in_words_in_both_languages(installed: Stack):
    member_id = installed.portal()["member_id"]
    installed.app.extensions["connector"].portal_settings.put(
        member_id, {"deal_folders": {"storage": "999"}})
    deal_id = new_deal(installed, "Sofa for the lobby")
    installed.run_worker()
    with browser_page("en-US") as page:
        post_frame(page, f"{installed.app_url}/placements/deal_tab?LANG=en",
                   frame(installed, deal_id))
        assert page.get_by_text("No files yet").is_visible()
        assert page.get_by_text("The Google Drive mirror is switched off").is_visible()
        shoot(page, "deal_tab_manager.en")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Create the folder now").click()
        installed.run_worker()
        alert = page.get_by_role("alert")
        alert.wait_for(timeout=20000)
        assert alert.inner_text().startswith("It did not work: Disk storage 999 does not exist")
        shoot(page, "deal_tab_failed.en")
        assert accessibility_problems(page) == []
    with browser_page("ru-RU") as page:
        post_frame(page, f"{installed.app_url}/placements/deal_tab?LANG=ru",
                   frame(installed, deal_id))
        assert page.get_by_text("Папка или чат не созданы: Disk storage 999").is_visible()
        shoot(page, "deal_tab_failed_history.ru")


def test_a_deal_the_app_has_worked_on_reads_well_in_russian(installed: Stack):
    """Everything at once: assigned by the app, its folder and chat, files on Drive and one
    not copied with its reason."""
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    services.portal_settings.put(member_id, {
        "deal_folders": {"enabled": True}, "deal_chats": {"enabled": True},
        "drive_mirror": {"enabled": True, "max_file_mb": 1},
        "distribution": {"groups": [{**SALES, "auto": [{"entity": "deal"}]}]}})
    day(installed, u2="OPENED", u3="OPENED")
    token = connection.connect_token(services, member_id)
    assert requests.get(f"{installed.app_url}/google/connect?t={token}", timeout=10).ok
    deal_id = new_deal(installed, "Диван в холл", assigned=1)
    installed.run_worker()
    record = services.redis.get(next(services.redis.scan_iter(
        f"*:deal_workspace:*:deal:{deal_id}")))
    folder = int(json.loads(record)["folder_id"])
    for name, size in (("смета.pdf", 2000), ("план.pdf", 3000), ("видео.mp4", 3 * 1024 * 1024)):
        installed.control("POST", "disk/files", json={"folder_id": folder, "name": name,
                                                      "size": size, "seed": size})
    installed.control("POST", f"crm/deal/{deal_id}", json={"fields": {"COMMENTS": "файлы"}})
    installed.run_worker()
    with browser_page("ru-RU") as page:
        post_frame(page, f"{installed.app_url}/placements/deal_tab?LANG=ru",
                   frame(installed, deal_id))
        assert page.get_by_role("link", name="Открыть чат").is_visible()
        assert page.get_by_text("больше предела в 1 МБ").is_visible()
        assert page.get_by_text("Скопировано на Google Диск 2 файла").is_visible()
        assert page.get_by_text("Выбран ответственный:").is_visible()
        shoot(page, "deal_tab_full.ru")
        assert accessibility_problems(page) == []
