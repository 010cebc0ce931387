"""The admin's offline note as Chromium shows it, in both languages (screenshots in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.e2e.browser import open_in_browser
from tests.http.test_home_offline_note import TEXTS, note, set_mode


@pytest.mark.parametrize("mode", ["reserve", "clear", "unknown"])
def test_the_offline_note_renders_in_a_browser(installed: Stack, tmp_path: Path, mode: str):
    set_mode(installed, mode)
    portal = installed.portal()
    for lang in ("en", "ru"):
        token = installed.control("POST", "tokens", json={"user_id": 1})["access_token"]
        shot = tmp_path / f"app_home_offline_{mode}_{lang}.png"
        dom = open_in_browser(
            tmp_path, f"{installed.app_url}/install?DOMAIN={portal['domain']}&LANG={lang}",
            {"AUTH_ID": token, "member_id": portal["member_id"],
             "APPLICATION_TOKEN": portal["application_token"], "PLACEMENT": "DEFAULT"},
            screenshot=shot)
        shown, text = note(dom)
        assert shown == mode and TEXTS[mode][lang] in text, text
        assert shot.stat().st_size > 1000
