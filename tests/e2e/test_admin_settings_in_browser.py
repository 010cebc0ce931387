"""An admin configures fair distribution in Chromium, in Russian: a group made by picking
the Sales department and a supervisor by name, stored; a bad value refused next to its
field; a dry run that follows what the form saved; axe-core finds nothing; screenshots of
General, Fair distribution, Deal folders."""

from __future__ import annotations

from tests.conftest import Stack
from tests.distribution_support import day, new_lead
from tests.e2e.browser import accessibility_problems, browser_page, open_app, shoot
from tests.http.test_admin_settings import stored


def go(page, title: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=title, exact=True).click()


def press(page, name: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=name).last.click()


def test_an_admin_makes_a_group_by_names_and_sees_a_refusal_next_to_its_field(
        installed: Stack):
    with browser_page("ru-RU") as page:
        open_app(installed, page, lang="ru")
        go(page, "Справедливое распределение")
        press(page, "Добавить: группа распределения")
        page.fill("#f-distribution-groups-0-id", "sales")
        page.fill("#f-distribution-groups-0-name", "Отдел продаж")
        page.select_option("#f-distribution-groups-0-departments", label="Sales")
        page.select_option("#f-distribution-groups-0-supervisors", label="Ivan Petrov")
        page.fill("#f-distribution-groups-0-max_in_work", "-1")
        press(page, "Сохранить")
        error = page.locator("[data-path='groups[0].max_in_work'] .error")
        assert error.inner_text() == "должно быть от 0 до 100000"
        assert page.input_value("#f-distribution-groups-0-name") == "Отдел продаж"
        assert stored(installed, "distribution")["groups"] == []
        shoot(page, "admin_distribution_refused_ru")
        assert accessibility_problems(page) == []
        page.fill("#f-distribution-groups-0-max_in_work", "5")
        press(page, "Сохранить")
        assert "Сохранено" in page.locator("#notice").inner_text()
        group = stored(installed, "distribution")["groups"][0]
        assert (group["departments"], group["supervisors"], group["max_in_work"]) == (
            [2], [2], 5)
        chosen = page.locator("#f-distribution-groups-0-departments option:checked")
        assert chosen.all_inner_texts() == ["Sales"]
        shoot(page, "admin_distribution_ru")
        assert accessibility_problems(page) == []
        go(page, "Общие")
        assert "Изменения настроек" in page.content() and "Anna Volkova" in page.content()
        shoot(page, "admin_general_ru")
        assert accessibility_problems(page) == []
        go(page, "Папки и чаты сделок")
        assert page.locator("#preview-folder").inner_text().strip()  # the latest deal's
        assert page.locator("#preview-chat-message b").count() == 1  # BB codes rendered
        shoot(page, "admin_deal_workspace_ru")
        assert accessibility_problems(page) == []


def dry_run(page, lead: int) -> str:
    """The dry-run panel's answer for this lead: whom the rule would choose now."""
    page.select_option("#dry-item", str(lead))
    with page.expect_navigation(wait_until="load"):
        page.click("#dry-run")
    return page.inner_text("tr.chosen th")


def test_a_dry_run_follows_the_group_the_admin_saves_in_the_form(installed: Stack):
    day(installed, u2="OPENED", u3="OPENED", u4="CLOSED")
    lead = new_lead(installed, "Заявка из WhatsApp")
    with browser_page("ru-RU") as page:
        open_app(installed, page, lang="ru")
        go(page, "Справедливое распределение")
        press(page, "Добавить: группа распределения")
        page.fill("#f-distribution-groups-0-id", "sales")
        page.select_option("#f-distribution-groups-0-users", label="Ivan Petrov")
        press(page, "Сохранить")
        assert stored(installed, "distribution")["groups"][0]["users"] == [2]
        assert dry_run(page, lead) == "Ivan Petrov"
        # the admin hands the group to Maria instead: the next dry run follows at once
        page.select_option("#f-distribution-groups-0-users", label="Maria Sokolova")
        press(page, "Сохранить")
        assert stored(installed, "distribution")["groups"][0]["users"] == [3]
        assert dry_run(page, lead) == "Maria Sokolova"
        shoot(page, "admin_distribution_dry_run_after_save_ru")
        assert accessibility_problems(page) == []
