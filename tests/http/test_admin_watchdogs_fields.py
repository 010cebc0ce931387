"""The watchdogs' settings over HTTP: a rule on a field the portal lacks is refused at that
field; the working days (checkboxes) and extra dates (a typed list) are stored as typed."""

from __future__ import annotations

from tests.conftest import Stack
from tests.http.test_admin_settings import AppPage, stored

REMINDER = [("_section", "watchdogs"), ("reaction~n", "0"), ("next_activity~n", "0"),
            ("stage_limits~n", "0"), ("check_ins~n", "0"), ("follow_ups~n", "0"),
            ("date_reminders~n", "1"), ("date_reminders[0].id", "loading"),
            ("date_reminders[0].name", "Погрузка"), ("date_reminders[0].enabled", "1"),
            ("date_reminders[0].before_minutes", "120"),
            ("date_reminders[0].recipients", "responsible"),
            ("date_reminders[0].channel", "task"), ("audit_days", "90")]


def _with_field(name: str) -> list[tuple[str, str]]:
    return [*REMINDER, ("date_reminders[0].field", name)]


def test_a_reminder_on_a_field_the_portal_lacks_is_refused_there(installed: Stack):
    added = installed.rest("crm.deal.userfield.add", {"fields": {
        "FIELD_NAME": "LOADING_AT", "USER_TYPE_ID": "datetime", "EDIT_FORM_LABEL": "Погрузка"}})
    assert added.status_code == 200, added.text
    page = AppPage(installed, lang="ru").open("watchdogs")
    page.post("watchdogs", _with_field("UF_CRM_NO_SUCH_DATE"))
    assert page.resp.status_code == 422
    assert page.error_of("date_reminders[0].field") == "на портале нет поля UF_CRM_NO_SUCH_DATE"
    assert stored(installed, "watchdogs")["date_reminders"] == []
    page.post("watchdogs", _with_field("UF_CRM_LOADING_AT"))
    assert page.resp.status_code == 200, page.text[:800]
    rule = stored(installed, "watchdogs")["date_reminders"][0]
    assert (rule["field"], rule["before_minutes"], rule["name"]) == (
        "UF_CRM_LOADING_AT", 120, "Погрузка")


def test_working_days_and_extra_dates_are_stored_as_typed(installed: Stack):
    page = AppPage(installed, lang="ru").open("watchdogs")
    form = [("_section", "work_time"), ("start", "08:30"), ("end", "17:30"),
            *[("weekdays", d) for d in ("1", "2", "3", "4", "5", "6")],
            ("production_calendar", "1"), ("days_off", "2026-12-31, 2027-01-09"),
            ("workdays", "")]
    page.post("watchdogs", form)
    assert page.resp.status_code == 200, page.text[:800]
    section = stored(installed, "work_time")
    assert section["weekdays"] == [1, 2, 3, 4, 5, 6]
    assert section["days_off"] == ["2026-12-31", "2027-01-09"]
    assert (section["start"], section["end"]) == ("08:30", "17:30")
    page.post("watchdogs", [*form[:-3], ("days_off", "31.12.2026")])
    assert page.resp.status_code == 422
    assert page.error_of("days_off") == "31.12.2026 — не дата вида 2026-12-31"
