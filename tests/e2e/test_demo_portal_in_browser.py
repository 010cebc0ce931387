"""The demo portal in a real Chromium, with the real app behind it: the deal card frames the
app's tab (and the app's frame policy lets it), a manager without the right sees nothing of
the deal, the app's page opens for the admin and for a manager, chats show rendered BB codes.
Screenshots of each page are kept; axe-core finds nothing on the demo's own pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Frame, Page

from tests.conftest import Stack
from tests.e2e.browser import accessibility_problems, browser_page, shoot

MANAGER = 3  # Maria Sokolova, Sales manager in the seed


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    return {"language_id": "ru"}  # as ./dev up runs it (emulator.seed.DEMO_LANGUAGE)


@pytest.fixture
def stack(stack: Stack) -> Stack:
    """The demo portal's domain is the emulator's own host:port, as `./dev up` makes it, so
    the app's frame-ancestors names the page that frames it."""
    host = urlsplit(stack.emu_url).netloc
    stack.control("POST", "rename", json={"domain": host, "host": host})
    return stack


def act_as(page: Page, stack: Stack, user_id: int) -> None:
    """Use the portal's user switcher, as a person would."""
    page.goto(f"{stack.emu_url}/demo/", wait_until="load")
    page.select_option("#who-user", str(user_id))
    with page.expect_navigation(wait_until="load"):
        page.click("form.who button")


def app_frame(page: Page, stack: Stack, name: str) -> Frame:
    """The named iframe once the app's page has loaded in it (not blocked, not an error)."""
    page.wait_for_function(
        "n => { const f = document.querySelector(`iframe[name='${n}']`);"
        " try { return f && f.contentDocument === null || (f.contentDocument.body &&"
        " f.contentDocument.body.innerText.length > 0); } catch (e) { return true; } }", arg=name)
    frame = page.frame(name=name)
    assert frame is not None
    frame.wait_for_load_state("load")
    assert frame.url.startswith(stack.app_url), frame.url  # chrome-error:// when blocked
    return frame


def test_a_manager_sees_the_apps_tab_inside_the_deal_card(installed: Stack):
    with browser_page("ru-RU") as page:
        act_as(page, installed, MANAGER)
        page.goto(f"{installed.emu_url}/crm/deal/details/1/", wait_until="load")
        frame = app_frame(page, installed, "app-tab-1")
        assert "/placements/" in frame.url
        text = frame.locator("body").inner_text()
        assert "Нет доступа" not in text and "1" in text, text
        assert page.locator("h1").inner_text().startswith("Deal #1")
        shoot(page, "demo-deal-card-manager")
        assert accessibility_problems(page) == []


def test_a_manager_who_may_not_read_the_deal_sees_nothing_of_it(installed: Stack):
    installed.control("POST", "crm-access", json={"user_id": MANAGER, "entity": "deal",
                                                   "id": 1, "read": False})
    with browser_page("ru-RU") as page:
        act_as(page, installed, MANAGER)
        page.goto(f"{installed.emu_url}/crm/deal/details/1/", wait_until="load")
        frame = app_frame(page, installed, "app-tab-1")
        tab = frame.locator("body").inner_text()
        assert "Нет доступа" in tab
        for text in (page.locator("body").inner_text(), tab):
            assert not re.search(r"Deal #1\b", text), text
        shoot(page, "demo-deal-card-no-access")
        page.goto(f"{installed.emu_url}/demo/deals", wait_until="load")
        assert page.get_by_role("link", name="Deal #10", exact=True).count() == 1
        assert page.get_by_role("link", name="Deal #1", exact=True).count() == 0  # nor listed


@pytest.mark.parametrize(("user_id", "who"), [(1, "admin"), (MANAGER, "manager")])
def test_the_apps_page_opens_from_the_menu(installed: Stack, user_id: int, who: str):
    with browser_page("ru-RU") as page:
        act_as(page, installed, user_id)
        page.goto(f"{installed.emu_url}/demo/app", wait_until="load")
        frame = app_frame(page, installed, "app-page")
        assert urlsplit(frame.url).path in ("/install", "/app/overview")
        links = frame.locator("nav.tabs a").count()
        assert links >= (3 if who == "admin" else 1), frame.content()
        if who == "manager":
            assert links == 1  # the overview only: no admin pages for a manager
        shoot(page, f"demo-app-page-{who}")
        assert accessibility_problems(page) == []


def test_a_chat_shows_its_bb_codes_rendered(installed: Stack):
    installed.control("POST", "chats", json={
        "user_id": 1, "title": "Сделка: диван", "users": [1, MANAGER],
        "message": "[B]Диван для холла[/B][BR]Сумма: 15 000 ₽[BR]"
                   "[URL=https://example.test/x]Открыть сделку[/URL] [USER=3][/USER]"})
    with browser_page("ru-RU") as page:
        page.goto(f"{installed.emu_url}/demo/chats", wait_until="load")
        message = page.locator(".message .text").first
        assert message.locator("strong").inner_text() == "Диван для холла"
        assert message.locator("a").get_attribute("href") == "https://example.test/x"
        assert "[B]" not in message.inner_text() and "Maria Sokolova" in message.inner_text()
        assert "Maria Sokolova" in page.locator(".members").first.inner_text()
        shoot(page, "demo-chats")
        assert accessibility_problems(page) == []


@pytest.mark.parametrize("path", ["/demo/", "/demo/leads", "/demo/deals", "/demo/robots"])
def test_the_demo_pages_pass_axe(installed: Stack, path: str):
    with browser_page("ru-RU") as page:
        page.goto(f"{installed.emu_url}{path}", wait_until="load")
        assert page.locator("html").get_attribute("lang") == "ru"
        shoot(page, "demo-" + (path.strip("/").replace("/", "-") or "desktop"))
        assert accessibility_problems(page) == []


def test_a_manager_creates_the_folder_and_chat_from_the_framed_tab(installed: Stack):
    """The deal tab's "create now" buttons, pressed inside the demo deal card's frame."""
    services = installed.app.extensions["connector"]
    member_id = installed.portal()["member_id"]
    services.portal_settings.put(member_id, {"deal_folders": {"enabled": True},
                                             "deal_chats": {"enabled": True}})
    with browser_page("ru-RU") as page:
        act_as(page, installed, MANAGER)
        page.goto(f"{installed.emu_url}/crm/deal/details/2/", wait_until="load")
        frame = app_frame(page, installed, "app-tab-1")
        for action in ("folder", "chat"):
            with frame.expect_navigation(wait_until="load"):
                frame.click(f"button[name=action][value$='.{action}']", timeout=5000)
            assert installed.run_worker().returncode == 0
        frame.locator("a[target=_top]").nth(1).wait_for(timeout=30000)  # ccPoll re-renders
        links = frame.locator("a[target=_top]")
        assert links.count() == 2, frame.content()
        shoot(page, "demo-deal-card-created-now")
        page.goto(f"{installed.emu_url}/demo/chats", wait_until="load")
        # the app's first message, its "open the deal" link pointing back at this portal
        assert page.locator(".message a[href='/crm/deal/details/2/']").count() == 1
    assert installed.portal()["counts"]["chats"] == 1
