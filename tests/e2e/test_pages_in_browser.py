"""Pages as a person sees them: headless Chromium posts the form Bitrix24 would post."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def open_in_browser(tmp_path: Path, url: str, fields: dict[str, str],
                    screenshot: Path | None = None) -> str:
    """POST a form to `url` from a real Chromium (as the portal's iframe does); the DOM."""
    assert CHROMIUM is not None
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    form = (f'<form method="post" action="{html.escape(url)}">{inputs}'
            f'<button id="go">open</button></form>')
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            # no internet here: external hosts (the BX24 script) fail at once, not by timeout
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.set_content(form)
            with page.expect_navigation(url=url.split("?")[0] + "*", wait_until="load"):
                page.click("#go")
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
            return page.content()
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if CHROMIUM is None:
        pytest.fail("chromium is missing: ./dev test installs it (Debian package 'chromium')")


def test_deal_tab_renders_in_a_browser(installed: Stack, tmp_path: Path):
    portal = installed.portal()
    deal = installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Browser deal"}})
    installed.run_worker()
    shot = tmp_path / "deal_tab.png"
    dom = open_in_browser(tmp_path, f"{installed.app_url}/placements/deal_tab", {
        "member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
        "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
        "PLACEMENT_OPTIONS": json.dumps({"ID": str(deal["id"])})}, screenshot=shot)
    assert f"deal {deal['id']}" in dom
    assert "ONCRMDEALADD" in dom
    assert shot.exists() and shot.stat().st_size > 1000


def test_app_home_page_offers_the_google_connection_to_admins_only(installed: Stack,
                                                                   tmp_path: Path):
    portal = installed.portal()

    def home(user_id: int) -> str:
        token = installed.control("POST", "tokens", json={"user_id": user_id})["access_token"]
        return open_in_browser(tmp_path, f"{installed.app_url}/install?DOMAIN={portal['domain']}",
                               {"AUTH_ID": token, "member_id": portal["member_id"],
                                "APPLICATION_TOKEN": portal["application_token"],
                                "PLACEMENT": "DEFAULT"})

    admin = home(1)
    assert "Robots for automation rules" in admin and "Fair distribution" in admin
    assert "/google/connect?t=" in admin
    manager = home(3)
    assert "Robots for automation rules" in manager
    assert "/google/connect?t=" not in manager


def test_forged_placement_is_refused_in_the_browser_too(installed: Stack, tmp_path: Path):
    dom = open_in_browser(tmp_path, f"{installed.app_url}/placements/deal_tab", {
        "member_id": installed.portal()["member_id"], "APPLICATION_TOKEN": "forged"})
    assert "Not authorised" in dom
