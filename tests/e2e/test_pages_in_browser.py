"""Pages as a person sees them: headless Chromium posts the form Bitrix24 would post."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def open_in_browser(tmp_path: Path, url: str, fields: dict[str, str],
                    screenshot: Path | None = None) -> str:
    """Auto-submit a POST form to `url` (as the portal's iframe does) and return the DOM."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    page = tmp_path / "frame.html"
    page.write_text(f'<html><body onload="document.forms[0].submit()">'
                    f'<form method="post" action="{html.escape(url)}">{inputs}</form>'
                    f"</body></html>")
    assert CHROMIUM is not None
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000"]
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", "--window-size=900,700",
                        page.as_uri()], capture_output=True, timeout=60)
    out = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=60)
    return out.stdout


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


def test_app_home_page_offers_the_google_connection(installed: Stack, tmp_path: Path):
    portal = installed.portal()
    dom = open_in_browser(tmp_path, f"{installed.app_url}/install?DOMAIN={portal['domain']}", {
        "AUTH_ID": "any-user-token", "member_id": portal["member_id"],
        "APPLICATION_TOKEN": portal["application_token"], "PLACEMENT": "DEFAULT"})
    assert "Robots for automation rules" in dom
    assert "Fair distribution" in dom
    assert "/google/connect?t=" in dom


def test_forged_placement_is_refused_in_the_browser_too(installed: Stack, tmp_path: Path):
    dom = open_in_browser(tmp_path, f"{installed.app_url}/placements/deal_tab", {
        "member_id": installed.portal()["member_id"], "APPLICATION_TOKEN": "forged"})
    assert "Not authorised" in dom
