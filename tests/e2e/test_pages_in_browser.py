"""Pages as a person sees them: headless Chromium posts the form Bitrix24 would post."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from tests.conftest import Stack
from tests.e2e.browser import open_in_browser


def test_deal_tab_renders_in_a_browser(installed: Stack, tmp_path: Path):
    portal = installed.portal()
    deal = installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Browser deal"}})
    installed.run_worker()
    shot = tmp_path / "deal_tab.png"
    dom = open_in_browser(tmp_path, f"{installed.app_url}/placements/deal_tab", {
        "member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
        "AUTH_ID": installed.control("POST", "tokens", json={"user_id": 3})["access_token"],
        "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
        "PLACEMENT_OPTIONS": json.dumps({"ID": str(deal["id"])})}, screenshot=shot)
    assert f"deal {deal['id']}" in dom
    assert "Deal created" in dom and "ONCRMDEALADD" not in dom  # the history in words
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
    drive_tab = re.search(r'href="([^"]*/app/drive_mirror\?[^"]+)"', admin)
    assert drive_tab, "the admin's tabs name the Google Drive page"
    drive = open_in_browser(tmp_path, html.unescape(drive_tab[1]), None,
                            tmp_path / "drive_page_admin.png")
    assert "/google/connect?t=" in drive and "Connect a Google account" in drive
    manager = home(3)
    assert "Robots for automation rules" in manager
    assert "/google/connect?t=" not in manager and "/app/drive_mirror?" not in manager


def test_a_deal_the_viewer_may_not_read_shows_nothing_of_it(installed: Stack, tmp_path: Path):
    portal = installed.portal()
    deal = installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Hidden deal"}})
    installed.run_worker()
    installed.control("POST", "crm-access", json={"user_id": 3, "entity": "deal",
                                                  "id": deal["id"], "read": False})
    shot = tmp_path / "deal_tab_no_access.png"
    dom = open_in_browser(tmp_path, f"{installed.app_url}/placements/deal_tab?LANG=en", {
        "member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
        "AUTH_ID": installed.control("POST", "tokens", json={"user_id": 3})["access_token"],
        "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
        "PLACEMENT_OPTIONS": json.dumps({"ID": str(deal["id"])})}, screenshot=shot)
    assert "No access" in dom and "Hidden deal" not in dom and f"deal {deal['id']}" not in dom
    assert shot.exists()


def test_the_admin_form_works_in_the_browser(installed: Stack, tmp_path: Path):
    portal = installed.portal()
    token = installed.control("POST", "tokens", json={"user_id": 1})["access_token"]
    dom = open_in_browser(tmp_path, f"{installed.app_url}/install?LANG=en", {
        "AUTH_ID": token, "member_id": portal["member_id"],
        "APPLICATION_TOKEN": portal["application_token"], "PLACEMENT": "DEFAULT"},
        screenshot=tmp_path / "app_home_admin.png", submit="#reconcile")
    assert 'id="notice"' in dom and "Registrations will be checked again" in dom
    assert (tmp_path / "app_home_admin.png").exists()


def test_forged_placement_is_refused_in_the_browser_too(installed: Stack, tmp_path: Path):
    dom = open_in_browser(tmp_path, f"{installed.app_url}/placements/deal_tab", {
        "member_id": installed.portal()["member_id"], "APPLICATION_TOKEN": "forged"})
    assert "Not authorised" in dom
