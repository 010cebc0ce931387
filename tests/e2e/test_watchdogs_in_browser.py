"""An admin sets up the watchdogs in Chromium, in Russian: a reaction rule with two steps made
with the add/remove buttons, a supervisors' step without people refused next to its field,
then saved; the panels show what is watched (from real evaluations of a lead and a deal
against the emulator), the audit with its filters, a dry run of one deal and the working
time in words; the deal tab shows the deal's pending step and its last audit lines.
Screenshots kept, axe-core finds nothing."""

from __future__ import annotations

import json

from connector.context import JobContext
from connector.crm.port import ItemRef
from connector.i18n import N_
from robots.watchdogs import audit, watch
from tests.conftest import Stack
from tests.distribution_support import new_lead
from tests.e2e.browser import accessibility_problems, browser_page, open_app, post_frame, shoot
from tests.http.test_admin_settings import stored

MANAGER = 3
PAGE = "Контроль и напоминания"
NEXT_ACTIVITY = {"id": "next-call", "name": "Следующее дело", "grace_minutes": 60,
                 "steps": [{"after_minutes": 0, "action": "remind"},
                           {"after_minutes": 120, "action": "supervisors", "users": [2]}]}


def go(page, title: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=title, exact=True).click()


def press(page, name: str, inside: str = "#settings-watchdogs") -> None:
    scope = page.locator(inside)
    with page.expect_navigation(wait_until="load"):
        scope.get_by_role("button", name=name).last.click()


def seed_rules(stack: Stack) -> None:
    """A next-activity rule stored beforehand: the form keeps it when the admin saves."""
    services = stack.app.extensions["connector"]
    services.portal_settings.put(stack.portal()["member_id"],
                                 {"watchdogs": {"next_activity": [NEXT_ACTIVITY]}})


def new_deal(stack: Stack, title: str) -> int:
    return int(stack.control("POST", "crm/deal", json={"fields": {
        "TITLE": title, "ASSIGNED_BY_ID": MANAGER}})["id"])


def audit_key(stack: Stack) -> str:
    services = stack.app.extensions["connector"]
    ctx = JobContext.load(services, stack.portal()["member_id"], "test", "watchdogs")
    assert ctx is not None
    return watch.audit_key(ctx)


def seed_audit(stack: Stack, deal_id: int) -> None:
    """Steps a timer would have done yesterday: one done, one skipped (a dismissed person)."""
    key = audit_key(stack)
    ref = ItemRef("deal", deal_id)
    what = f"сделка №{deal_id} «Доставка в Казань»"
    audit.record(stack.redis, key, "next-call", "next_activity", ref, "0", "done",
                 N_("Reminded {people}"), {"rule": "Следующее дело", "item": what,
                                           "people": f"[USER={MANAGER}][/USER]"}, 90)
    audit.record(stack.redis, key, "next-call", "next_activity", ref, "1", "skipped",
                 N_("Step skipped: nobody to tell ({why})"),
                 {"rule": "Следующее дело", "item": what, "why": "2: уволен"}, 90)


def test_an_admin_sets_up_a_reaction_rule_and_reads_what_the_watchdogs_do(installed: Stack):
    seed_rules(installed)
    with browser_page("ru-RU") as page:
        open_app(installed, page, lang="ru")
        go(page, PAGE)
        shoot(page, "admin_watchdogs_empty_ru")
        assert accessibility_problems(page) == []
        press(page, "Добавить: контроль реакции")
        rule = "#f-watchdogs-reaction-0-"
        page.fill(rule + "id", "leads-22h")
        page.fill(rule + "name", "Проверка лида за 22 часа")
        page.fill(rule + "due_minutes", "1320")
        # the default reminder, a second step, and a third removed again
        press(page, "Добавить: шаг", "[data-path='reaction[0]']")
        press(page, "Добавить: шаг", "[data-path='reaction[0]']")
        assert page.locator("[data-path='reaction[0].steps[2]']").count() == 1
        press(page, "Удалить: Шаг 3")
        assert page.locator("[data-path='reaction[0].steps[2]']").count() == 0
        page.fill(rule + "steps-1-after_minutes", "120")
        page.select_option(rule + "steps-1-action", "supervisors")
        press(page, "Сохранить")
        error = page.locator("[data-path='reaction[0].steps[1].users'] .error")
        assert error.inner_text() == "назовите тех, кому сообщает этот шаг"
        assert page.input_value(rule + "name") == "Проверка лида за 22 часа"
        assert stored(installed, "watchdogs")["reaction"] == []
        shoot(page, "admin_watchdogs_refused_ru")
        assert accessibility_problems(page) == []
        page.select_option(rule + "steps-1-users", label="Ivan Petrov")
        press(page, "Сохранить")
        assert "Сохранено" in page.locator("#notice").inner_text()
        section = stored(installed, "watchdogs")
        (saved,) = section["reaction"]
        assert (saved["id"], saved["due_minutes"], [s["action"] for s in saved["steps"]],
                saved["steps"][1]["users"]) == ("leads-22h", 1320, ["remind", "supervisors"],
                                                [2])
        assert [r["id"] for r in section["next_activity"]] == ["next-call"]  # kept

        lead_id = new_lead(installed, "Заявка на дизельное топливо")
        deal_id = new_deal(installed, "Доставка в Казань")
        installed.run_worker()  # both are evaluated: a timer each
        seed_audit(installed, deal_id)
        go(page, PAGE)
        watching = page.locator("#watch-rules")
        assert "Проверка лида за 22 часа" in watching.inner_text()
        rows = page.locator("#watch-rows tr")
        texts = rows.all_inner_texts()
        assert any(f"лид №{lead_id} «Заявка на дизельное топливо»" in r
                   and "шаг 1: напоминание ответственному" in r for r in texts), texts
        assert any(f"сделка №{deal_id}" in r for r in texts), texts
        assert page.locator("#next-working").inner_text().strip()
        audit_rows = page.locator("#wd-audit-rows tr[data-outcome]")
        assert audit_rows.count() == 2
        assert "Напомнили" in audit_rows.last.inner_text()
        assert "[USER" not in page.locator("#wd-audit-rows").inner_text()
        shoot(page, "admin_watchdogs_panels_ru")
        assert accessibility_problems(page) == []

        page.select_option("#wd-audit-outcome", "skipped")
        with page.expect_navigation(wait_until="load"):
            page.click("#wd-audit-filter")
        assert page.locator("#wd-audit-rows tr[data-outcome]").count() == 1
        assert "уволен" in page.locator("#wd-audit-rows").inner_text()

        page.select_option("#check-kind", "deal")
        with page.expect_navigation(wait_until="load"):
            page.click("#check-run")  # the kind first: its latest items
        page.select_option("#check-item", str(deal_id))
        with page.expect_navigation(wait_until="load"):
            page.click("#check-run")
        result = page.locator("#check-result [data-rule='next-call']")
        assert result.get_attribute("data-watching") == "yes"
        assert "сообщить руководителям" in result.inner_text()
        assert "Ivan Petrov" in result.inner_text()
        page.locator("#check-result").scroll_into_view_if_needed()
        shoot(page, "admin_watchdogs_check_ru")
        assert accessibility_problems(page) == []

        with page.expect_navigation(wait_until="load"):
            page.click("#backfill")
        assert "В очереди" in page.locator("#notice").inner_text()

        tab = f"{installed.app_url}/placements/deal_tab?LANG=ru"
        portal = installed.portal()
        post_frame(page, tab, {
            "member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
            "AUTH_ID": installed.control("POST", "tokens", json={"user_id": MANAGER}
                                         )["access_token"],
            "PLACEMENT": "CRM_DEAL_DETAIL_TAB", "PLACEMENT_OPTIONS": json.dumps(
                {"ID": str(deal_id)})})
        section = page.locator("#section-watchdogs-watch")
        assert "напоминание ответственному" in section.inner_text()
        assert "Следующее дело" in section.inner_text()
        assert "пропущен" in section.inner_text()
        section.scroll_into_view_if_needed()
        shoot(page, "deal_tab_watchdogs_ru")
        assert accessibility_problems(page) == []
