"""The demo portal's pages over HTTP: they render (HTML, Russian), the forms act as the control
API does (adding a lead or a deal fires its event, the work-day button sets timeman, a robot
runs), and a frame is POSTed with exactly the fields the docs print, from a real browser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from emulator import EmulatorConfig
from tests.e2e.browser import browser_page
from tests.emulator.conftest import AppStub

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"
MANAGER = 3


@pytest.fixture
def emu_config(emu_app_stub: AppStub) -> EmulatorConfig:
    return EmulatorConfig(app_url=emu_app_stub.url, language_id="ru")


def documented_fields() -> tuple[set[str], set[str]]:
    """(query, body) of a deal-tab POST: every key of detail-tab.md's printed request, split
    by widget_data.md's table of what goes in the handler's query string."""
    printed = (DOCS / "api-reference__widgets__crm__detail-tab.md__handler-data.txt").read_text()
    every = set(re.findall(r"^\s+\[(\w+)\] =>", printed, re.M))
    table = (DOCS / "api-reference__widgets___includes__widget_data.md__parameters.md"
             ).read_text().split("**Параметры в теле POST-запроса**")[0]
    query = set(re.findall(r"^\|\| \*\*(\w+)\*?\*\*", table, re.M)) - {"Параметр"}
    assert query and query < every
    return query, every - query


class Forms(HTMLParser):
    """Every <form>: its attributes and named inputs (hidden or not)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({**a, "fields": {}})
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def frame_forms(html: str) -> list[dict[str, Any]]:
    return [f for f in Forms(html).forms if "data-autopost" in f]


@pytest.fixture
def bound(emu_call: Any, emu_app_stub: AppStub) -> AppStub:
    """The stub app has bound the deal tab and the lead and deal ADD events."""
    for event in ("ONCRMLEADADD", "ONCRMDEALADD"):
        assert emu_call("event.bind", {"event": event, "handler": f"{emu_app_stub.url}/events"}
                        ).json().get("result") is True
    assert emu_call("placement.bind", {
        "PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": f"{emu_app_stub.url}/placements/deal_tab",
        "TITLE": "Connector", "LANG_ALL": {"ru": {"TITLE": "Коннектор"}}}).json()["result"]
    return emu_app_stub


def as_user(emu_url: str, user_id: int) -> requests.Session:
    session = requests.Session()
    resp = session.post(f"{emu_url}/demo/as", data={"user_id": user_id, "back": "/demo/"})
    assert resp.status_code == 200 and resp.url.endswith("/demo/")
    return session


@pytest.mark.parametrize("path", ["/demo/", "/demo/leads", "/demo/deals", "/demo/chats",
                                  "/demo/robots", "/demo/app", "/crm/deal/details/1/"])
def test_every_page_is_html_in_russian(emu_url: str, path: str):
    resp = requests.get(f"{emu_url}{path}")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert '<html lang="ru">' in resp.text and "Вы вошли как" in resp.text


def test_the_desktop_offers_the_admin_and_the_managers_and_links_everything(emu_url: str):
    html = requests.get(f"{emu_url}/").text  # / is the portal's desktop
    switcher = next(f for f in Forms(html).forms if f.get("class") == "who")
    assert switcher["action"] == "/demo/as"
    for name in ("Anna Volkova (администратор)", "Maria Sokolova", "John Smith", "Ivan Petrov"):
        assert name in html
    assert "Olga Ivanova" not in html  # dismissed in the seed
    for href in ("/demo/leads", "/demo/deals", "/demo/chats", "/demo/app", "/demo/robots"):
        assert f'href="{href}"' in html


def test_the_switcher_changes_who_acts(emu_url: str):
    session = as_user(emu_url, MANAGER)
    html = session.get(f"{emu_url}/demo/").text
    assert 'value="3" selected' in html
    assert re.search(r'<tr class="me">\s*<td>Maria Sokolova', html)


def test_adding_a_lead_from_the_form_fires_its_event(emu_url: str, bound: AppStub):
    session = as_user(emu_url, MANAGER)
    resp = session.post(f"{emu_url}/demo/leads",
                        data={"TITLE": "Заявка из Instagram", "ASSIGNED_BY_ID": "1"})
    added = dict(parse_qsl(urlsplit(resp.url).query))["added"]
    event = bound.wait_for(lambda r: r["form"].get("event") == "ONCRMLEADADD")
    assert event["form"]["data"]["FIELDS"]["ID"] == added
    assert event["form"]["auth"]["user_id"] == str(MANAGER)  # as who pressed the button
    row = re.search(rf"<td>{added}</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)",
                    resp.text)
    assert row and row.groups() == ("Заявка из Instagram", "New", "Anna Volkova")


def test_adding_a_deal_from_the_form_fires_its_event(emu_url: str, bound: AppStub):
    resp = requests.post(f"{emu_url}/demo/deals", data={
        "TITLE": "Диван для холла", "CATEGORY_ID": "1", "OPPORTUNITY": "15000",
        "ASSIGNED_BY_ID": "4"})
    added = dict(parse_qsl(urlsplit(resp.url).query))["added"]
    event = bound.wait_for(lambda r: r["form"].get("event") == "ONCRMDEALADD")
    assert event["form"]["data"]["FIELDS"]["ID"] == added
    card = requests.get(f"{emu_url}/crm/deal/details/{added}/").text
    for value in ("Диван для холла", "Freight", "New request", "15 000,00 RUB", "John Smith"):
        assert value in card


def test_the_deal_tab_is_posted_with_exactly_the_documented_fields(emu_url: str,
                                                                   bound: AppStub):
    query, body = documented_fields()
    session = as_user(emu_url, MANAGER)
    [form] = frame_forms(session.get(f"{emu_url}/crm/deal/details/7/").text)
    assert form["action"].startswith(f"{bound.url}/placements/deal_tab?")
    assert set(dict(parse_qsl(urlsplit(form["action"]).query))) == query
    assert set(form["fields"]) == body
    # and a real browser sends just that
    with browser_page("ru-RU") as page:
        page.context.add_cookies([{"name": "demo_user", "value": str(MANAGER),
                                   "url": emu_url}])
        page.goto(f"{emu_url}/crm/deal/details/7/", wait_until="load")
        sent = bound.wait_for(lambda r: r["path"] == "/placements/deal_tab")
    assert set(sent["query"]) == query and set(sent["form"]) == body
    fields = sent["form"]
    portal = requests.get(f"{emu_url}/_emulator/portal").json()
    assert sent["query"]["DOMAIN"] == portal["domain"]
    assert sent["query"]["PROTOCOL"] == "0" and sent["query"]["LANG"] == "ru"
    assert fields["PLACEMENT"] == "CRM_DEAL_DETAIL_TAB" and fields["status"] == "L"
    assert json.loads(fields["PLACEMENT_OPTIONS"])["ID"] == "7"
    me = requests.post(f"{emu_url}/rest/profile", json={"auth": fields["AUTH_ID"]}).json()
    assert me["result"]["ID"] == str(MANAGER)  # a token of the user looking at the card
    assert fields["member_id"] == portal["member_id"]
    assert fields["APPLICATION_TOKEN"] == portal["application_token"]


def test_the_app_page_is_opened_as_the_portal_opens_an_installed_app(emu_url: str,
                                                                      bound: AppStub):
    """settings/oauth/simple-way.md: the same POST, PLACEMENT=DEFAULT and no options."""
    query, body = documented_fields()
    [form] = frame_forms(as_user(emu_url, MANAGER).get(f"{emu_url}/demo/app").text)
    assert form["action"].startswith(f"{bound.url}/install?")
    assert set(dict(parse_qsl(urlsplit(form["action"]).query))) == query
    assert set(form["fields"]) == body - {"PLACEMENT_OPTIONS"}
    assert form["fields"]["PLACEMENT"] == "DEFAULT"


def test_a_user_who_may_not_read_the_deal_sees_none_of_its_fields(emu_url: str,
                                                                  bound: AppStub):
    requests.post(f"{emu_url}/_emulator/crm-access",
                  json={"user_id": MANAGER, "entity": "deal", "id": 2, "read": False})
    session = as_user(emu_url, MANAGER)
    card = session.get(f"{emu_url}/crm/deal/details/2/").text
    assert "нет доступа" in card and "Deal #2" not in card and "Ответственный" not in card
    assert ">Deal #2<" not in session.get(f"{emu_url}/demo/deals").text
    assert ">Deal #2<" in requests.get(f"{emu_url}/demo/deals").text  # the admin still may


def test_the_work_day_button_sets_timeman(emu_url: str):
    resp = requests.post(f"{emu_url}/demo/day",
                         data={"user_id": MANAGER, "status": "OPENED", "back": "/demo/"})
    assert resp.status_code == 200 and "Рабочий день идёт" in resp.text
    assert requests.get(f"{emu_url}/_emulator/timeman").json()["3"]["STATUS"] == "OPENED"
    requests.post(f"{emu_url}/demo/day", data={"user_id": MANAGER, "status": "PAUSED"})
    assert requests.get(f"{emu_url}/_emulator/timeman").json()["3"]["STATUS"] == "PAUSED"


def test_the_work_day_offers_what_each_state_allows():
    """As the portal's widget: a closed day can only be started, a running one paused or
    ended, a paused one resumed or ended."""
    from emulator.demo.rows import day_actions

    assert [s for s, _ in day_actions("CLOSED")] == ["OPENED"]
    assert [s for s, _ in day_actions("OPENED")] == ["PAUSED", "CLOSED"]
    assert day_actions("PAUSED") == [("OPENED", "Продолжить день"), ("CLOSED", "Завершить день")]


def test_chats_render_bb_codes_with_their_members(emu_url: str):
    requests.post(f"{emu_url}/_emulator/chats", json={
        "user_id": 1, "title": "Сделка №5", "users": [1, MANAGER], "entity_type": "CRM",
        "entity_id": "DEAL|5",
        "message": "[B]Deal #5[/B][BR]Ответственный: [USER=3][/USER][BR]"
                   f"[URL={emu_url}/crm/deal/details/5/]Открыть сделку[/URL] <script>"})
    html = requests.get(f"{emu_url}/demo/chats").text
    assert "<strong>Deal #5</strong><br>" in html and "[B]" not in html
    assert '<span class="mention">Maria Sokolova</span>' in html
    assert '<a href="/crm/deal/details/5/">Открыть сделку</a>' in html  # the portal's own link
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Участники: Anna Volkova, Maria Sokolova" in html
    assert 'href="/crm/deal/details/5/">сделка №5' in html


def test_a_robot_runs_from_the_form_and_its_answer_is_shown(emu_url: str, emu_call: Any,
                                                            emu_app_stub: AppStub):
    assert emu_call("bizproc.robot.add", {
        "CODE": "note", "HANDLER": f"{emu_app_stub.url}/robots/note",
        "NAME": {"ru": "Заметка", "en": "Note"}, "USE_SUBSCRIPTION": "Y",
        "PROPERTIES": {"text": {"Name": {"ru": "Текст", "en": "Text"}, "Type": "text",
                                "Required": "Y"}},
        "RETURN_PROPERTIES": {"error": {"Name": {"ru": "Ошибка"}, "Type": "string"}},
    }).json()["result"] is True
    page = requests.get(f"{emu_url}/demo/robots").text
    assert "Заметка" in page and '<label for="note-text">Текст (обязательно)</label>' in page
    resp = requests.post(f"{emu_url}/demo/robots",
                         data={"code": "note", "deal_id": "4", "prop_text": "Привет"})
    call = emu_app_stub.wait_for(lambda r: r["path"] == "/robots/note")["form"]
    assert call["document_id"] == ["crm", "CCrmDocumentDeal", "DEAL_4"]
    assert call["properties"] == {"text": "Привет"}
    assert "Ждём ответа приложения" in resp.text and "HTTP 200" in resp.text
    assert emu_call("bizproc.event.send", {"EVENT_TOKEN": call["event_token"],
                                           "RETURN_VALUES": {"error": ""},
                                           "LOG_MESSAGE": "Готово"}).json()["result"]
    answer = requests.get(resp.url).text
    assert "Шаг завершён" in answer and "<dt>Ошибка</dt><dd>—</dd>" in answer
    assert "Готово" in answer
