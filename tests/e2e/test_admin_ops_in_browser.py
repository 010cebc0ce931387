"""The distribution, Google Drive and operations pages in Chromium, on a Russian portal: a dry
run clicked through, a parked file requeued, a failed job on the operations page;
screenshots kept and axe-core finds nothing."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from connector import queue as q
from tests.conftest import Stack
from tests.distribution_support import configure, day, distribute, new_lead
from tests.e2e.browser import accessibility_problems, browser_page, open_app, shoot


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    return {"language_id": "ru"}



def tab(page: Page, name: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.click(f'nav.tabs a[href*="/app/{name}?"]')


def park_a_file(stack: Stack) -> None:
    member_id = stack.portal()["member_id"]
    deal = stack.control("POST", "crm/deal", json={"fields": {"TITLE": "Диван в холл"}})
    source = {"key": "uf:UF_CRM_SCAN:5", "disk_id": 0, "url": f"{stack.emu_url}/nothing",
              "name": "договор.pdf"}
    stack.app.extensions["connector"].queues.enqueue(
        "connector.jobs.run_maintenance",
        ["drive_mirror.file", member_id, {"deal_id": int(deal["id"]), "source": source}],
        q.job_id("drive_mirror-file", member_id, "e2e", deal["id"]), queue=q.FILES,
        member_id=member_id)


def test_the_distribution_page_with_a_dry_run_in_russian(installed: Stack):
    configure(installed, departments=[], users=[2, 3], max_per_day=5)
    day(installed, u2="OPENED", u3="PAUSED")
    distribute(installed, new_lead(installed, "Заявка из Instagram"))
    installed.run_worker()
    lead = new_lead(installed, "Звонок с сайта")
    with browser_page("ru-RU") as page:
        open_app(installed, page)
        tab(page, "distribution")
        page.select_option("#dry-item", str(lead))
        with page.expect_navigation(wait_until="load"):
            page.click("#dry-run")
        result = page.inner_text("#dry-run-result")
        assert "Ivan Petrov" in result and "на перерыве" in result
        assert page.inner_text("tr.chosen th") == "Ivan Petrov"
        assert page.locator("#fairness-sales svg[role=img]").count() == 1
        assert "лид №" in page.inner_text("#audit-rows")
        shoot(page, "admin_distribution.ru")
        assert accessibility_problems(page) == []


def test_the_drive_page_requeues_a_parked_file_in_russian(installed: Stack):
    park_a_file(installed)
    installed.run_worker()
    with browser_page("ru-RU") as page:
        open_app(installed, page)
        tab(page, "drive_mirror")
        assert page.inner_text("#drive-parked") == "1"
        assert "Google Диск не подключён." in page.inner_text("#parked-files")
        assert page.locator("#google-connect").get_attribute("href").count("/google/connect?t=")
        shoot(page, "admin_drive.ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.click("#requeue-parked")
        assert "Файлов к повторному копированию: 1" in page.inner_text("#notice")
        assert page.inner_text("#drive-waiting") == "1"


def test_the_operations_page_and_the_attention_list_in_russian(installed: Stack):
    park_a_file(installed)
    installed.run_worker()
    with browser_page("ru-RU") as page:
        open_app(installed, page)
        first = page.locator("#attention li").first.inner_text()
        assert first.startswith("Упавших задач: 1")
        shoot(page, "admin_overview.ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.locator("#attention li a").first.click()
        assert "Google Диск не подключён." in page.inner_text("#failed-jobs")
        assert "действительны" in page.inner_text("#portal-state")
        shoot(page, "admin_operations.ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.click("#requeue-all")
        assert "Задач снова поставлено в очередь: 1" in page.inner_text("#notice")
        assert page.inner_text("#failed-jobs") == "Упавших задач нет."
