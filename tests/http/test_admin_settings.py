"""Settings forms over HTTP: opened as the portal opens the app, saved with the page's own
signed token and CSRF value; what is stored, what is audited, what is refused and where."""

from __future__ import annotations

import html
import re
from typing import Any

import requests

from admin.catalog import recall
from connector import frames
from connector import settings_audit as audit
from tests.conftest import Stack
from tests.http.test_home_offline_note import MANAGER, open_home

ADMIN = 1


class AppPage:
    """The app as one user has it open: the last page, its token and CSRF value."""

    def __init__(self, stack: Stack, user_id: int = ADMIN, lang: str = "en"):
        self.stack = stack
        self.lang = lang
        self.resp = open_home(stack, user_id, lang)
        assert self.resp.status_code == 200, self.resp.text[:300]

    @property
    def text(self) -> str:
        return self.resp.text

    def hidden(self, name: str) -> str:
        """A form's hidden value; a page without forms (a manager's) has the token in its
        links and the CSRF value that token would get."""
        match = re.search(rf'name="{name}" value="([^"]*)"', self.text)
        if match:
            return html.unescape(match[1])
        token = html.unescape(re.search(r'\?t=([^&"]+)', self.text)[1])  # type: ignore[index]
        return token if name == "t" else frames.csrf_for(
            services(self.stack).settings.secret_key, token)

    def open(self, page: str) -> AppPage:
        self.resp = requests.get(f"{self.stack.app_url}/app/{page}",
                                 params={"t": self.hidden("t"), "LANG": self.lang}, timeout=15)
        return self

    def post(self, page: str, fields: dict[str, Any] | list[tuple[str, Any]]) -> AppPage:
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        pairs += [("t", self.hidden("t")), ("csrf", self.hidden("csrf"))]
        self.resp = requests.post(f"{self.stack.app_url}/app/{page}?LANG={self.lang}",
                                  data=pairs, timeout=15)
        return self

    def error_of(self, path: str) -> str:
        """The refusal shown inside the field whose path this is ("" when none)."""
        match = re.search(rf'<div class="field[^"]*" data-path="{re.escape(path)}">(.*?)'
                          rf'(?=<div class="field|</form>)', self.text, re.S)
        assert match, f"no field {path}"
        found = re.search(r'<p class="error"[^>]*>(.*?)</p>', match[1], re.S)
        return html.unescape(found[1]) if found else ""


def services(stack: Stack) -> Any:
    return stack.app.extensions["connector"]


def stored(stack: Stack, section: str) -> dict[str, Any]:
    return services(stack).portal_settings.get(stack.portal()["member_id"])[section]


GROUP = [("_section", "distribution"), ("groups~n", "1"), ("groups[0].id", "sales"),
         ("groups[0].name", "Sales team"), ("groups[0].entity_types", "lead"),
         ("groups[0].departments", "2"), ("groups[0].supervisors", "2"),
         ("groups[0].max_in_work", "5"), ("groups[0].max_per_day", "0"),
         ("groups[0].rule", "least_loaded"), ("groups[0].chat_id", "0"),
         ("groups[0].recheck_minutes", "10"), ("groups[0].auto~n", "0"),
         ("groups[0].in_work.lead", "IN_PROCESS"), ("groups[0].in_work~entities", "lead"),
         ("pin_on_won", "1"), ("audit_days", "90"), ("reconcile_minutes", "15")]


def test_opening_the_app_reads_the_portals_names_with_the_admins_token(installed: Stack):
    AppPage(installed)
    catalog = recall(services(installed), installed.portal()["member_id"], str(ADMIN))
    assert catalog is not None and not catalog.missing
    assert catalog.name("department", 2) == "Sales"
    assert catalog.name("user", 3) == "Maria Sokolova"
    assert catalog.name("user", 5) is None  # inactive people are not offered
    assert catalog.name("pipeline", 1) == "Freight"
    assert catalog.name("source", "WEB") == "Website"
    assert catalog.name("smart_process", 128) == "Transport requests"
    assert ("item:128", "Transport requests") in catalog.options("entity_type")
    assert catalog.stage_groups("deal")[1][0] == "Freight"
    assert ("C1:WON", "Delivered") in catalog.stage_groups("deal")[1][1]
    assert dict(catalog.options("stage", "item:128"))["DT128_3:NEW"] == "New"
    assert catalog.options("deal")[0][0] == max(catalog.names["deal"][""], key=int)


def test_a_manager_has_no_catalog_and_may_not_save(installed: Stack):
    page = AppPage(installed, MANAGER)
    assert recall(services(installed), installed.portal()["member_id"], str(MANAGER)) is None
    page.post("distribution", GROUP)
    assert page.resp.status_code == 403
    assert stored(installed, "distribution")["groups"] == []


def test_saving_a_group_stores_it_and_writes_the_audit(installed: Stack):
    page = AppPage(installed).open("distribution")
    assert 'name="groups~n" value="0"' in page.text
    page.post("distribution", GROUP)
    assert page.resp.status_code == 200, page.text[:500]
    assert "Saved. The change takes effect at once." in page.text
    group = stored(installed, "distribution")["groups"][0]
    assert (group["id"], group["departments"], group["supervisors"]) == ("sales", [2], [2])
    assert group["in_work"] == {"lead": ["IN_PROCESS"]} and group["max_in_work"] == 5
    # the page shows the stored group by name, not by id
    assert re.search(r'<option value="2" selected>Sales</option>', page.text)
    entry = audit.entries(services(installed), installed.portal()["member_id"])[0]
    assert (entry.user_id, entry.section) == (str(ADMIN), "distribution")
    assert any(c.path == "groups[0].departments" and c.new == [2] for c in entry.changes)
    general = page.open("general").text
    assert "Changes to the settings" in general and "Anna Volkova" in general
    assert "Sales" in general  # the department by its name in the trail


def test_a_bad_value_is_refused_next_to_its_field_and_nothing_is_stored(installed: Stack):
    page = AppPage(installed, lang="ru").open("distribution")
    bad = [(k, "-1" if k == "groups[0].max_in_work" else v) for k, v in GROUP]
    page.post("distribution", bad)
    assert page.resp.status_code == 422
    assert page.error_of("groups[0].max_in_work") == "должно быть от 0 до 100000"
    assert page.error_of("groups[0].max_per_day") == ""
    assert 'value="-1"' in page.text and 'value="Sales team"' in page.text  # kept as typed
    assert stored(installed, "distribution")["groups"] == []
    assert audit.entries(services(installed), installed.portal()["member_id"]) == []


def test_an_unknown_placeholder_in_a_folder_name_is_refused_there(installed: Stack):
    page = AppPage(installed).open("deal_workspace")
    before = stored(installed, "deal_folders")
    page.post("deal_workspace", {"_section": "deal_folders", "enabled": "1",
                                 "storage": "common", "parent_path": "Deals/{YEAR}",
                                 "name_template": "{ID} {CLIENT}", "max_name_length": "120",
                                 "link_field": "UF_CRM_CC_FOLDER"})
    assert page.resp.status_code == 422
    assert "unknown placeholder {CLIENT}" in page.error_of("name_template")
    assert stored(installed, "deal_folders") == before


def test_add_and_remove_re_render_the_draft_without_storing(installed: Stack):
    page = AppPage(installed).open("distribution")
    page.post("distribution", [("_section", "distribution"), ("groups~n", "0"),
                               ("audit_days", "30"), ("_edit", "add:groups")])
    assert page.resp.status_code == 200
    assert 'name="groups~n" value="1"' in page.text and 'value="30"' in page.text
    assert 'value="remove:groups[0]"' in page.text and 'value="add:groups[0].auto"' in page.text
    page.post("distribution", [*GROUP, ("_edit", "add:groups[0].auto")])
    assert 'name="groups[0].auto~n" value="1"' in page.text
    page.post("distribution", [*GROUP, ("_edit", "remove:groups[0]")])
    assert 'name="groups~n" value="0"' in page.text
    assert stored(installed, "distribution")["groups"] == []


def test_the_preview_shows_what_the_settings_give_a_real_deal(installed: Stack):
    page = AppPage(installed).open("deal_workspace")
    assert 'id="preview-folder"' in page.text  # the latest deal, without choosing
    page.resp = requests.get(f"{installed.app_url}/app/deal_workspace",
                             params={"t": page.hidden("t"), "LANG": "en", "deal": "3"},
                             timeout=15)
    folder = re.search(r'id="preview-folder"><code>(.*?)</code>', page.text, re.S)
    assert folder and html.unescape(folder[1]) == "3 Freight #3"
    message = re.search(r'id="preview-chat-message">(.*?)</div>', page.text, re.S)[1]
    assert message.startswith("<b>Freight #3</b><br>Amount: ")
    assert '<a href="' in message and "[URL" not in message
    assert "Deal 3: Freight #3" in page.text


def test_a_default_text_is_shown_in_the_readers_language_and_stays_the_default(
        installed: Stack):
    """The chat's default title is a msgid written in the portal's language: a Russian admin
    reads it in Russian, and saving it untouched keeps the default (not a frozen copy)."""
    from connector.i18n import t
    from robots.deal_workspace.config import CHAT_TITLE

    app = AppPage(installed, lang="ru").open("deal_workspace")
    shown = re.search(r'name="title_template"[^>]*value="([^"]*)"', app.text)
    assert shown and html.unescape(shown[1]) == t("ru", CHAT_TITLE) != CHAT_TITLE
    from admin.forms import UNCHANGED
    from robots.deal_workspace.config import CHAT_MESSAGE

    app.post("deal_workspace", [
        ("_section", "deal_chats"), ("title_template", t("ru", CHAT_TITLE)),
        ("message_template", t("ru", CHAT_MESSAGE)), ("chat_field", "UF_CRM_CC_CHAT")])
    assert app.resp.status_code == 200 and t("ru", UNCHANGED) in app.text
    assert stored(installed, "deal_chats")["title_template"] == CHAT_TITLE
    assert audit.entries(services(installed), installed.portal()["member_id"]) == []
