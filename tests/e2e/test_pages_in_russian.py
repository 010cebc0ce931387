"""Every page in the portal's language (a Russian portal here) and in its viewer's (LANG).

The portal's LANGUAGE_ID arrives with the install; a frame's LANG names the viewer's
language and wins; a page outside the portal (a Google link) falls back to the browser.
Screenshots of each page in both languages land in the test's tmp_path.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from connector.i18n import when
from robots.drive_mirror import connection
from tests.conftest import Stack
from tests.e2e.browser import open_in_browser


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    return {"language_id": "ru"}


pytestmark = pytest.mark.fake_drive


def services(stack: Stack) -> Any:
    return stack.app.extensions["connector"]


def frame(stack: Stack, user_id: int = 1, token: str | None = None) -> dict[str, str]:
    portal = stack.portal()
    access = stack.control("POST", "tokens", json={"user_id": user_id})["access_token"]
    return {"AUTH_ID": access, "member_id": portal["member_id"],
            "APPLICATION_TOKEN": token or portal["application_token"], "PLACEMENT": "DEFAULT"}


def test_the_portal_language_is_kept_on_install(installed: Stack):
    assert services(installed).store.get(installed.portal()["member_id"]).language == "ru"


def test_deal_tab_speaks_the_portal_language_and_the_viewer_frame_wins(installed: Stack,
                                                                       tmp_path: Path):
    portal = installed.portal()
    deal = installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Диван в холл"}})
    installed.run_worker()
    form = {"member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
            "AUTH_ID": frame(installed, user_id=3)["AUTH_ID"],
            "PLACEMENT": "CRM_DEAL_DETAIL_TAB", "PLACEMENT_OPTIONS": json.dumps(
                {"ID": str(deal["id"])})}
    url = f"{installed.app_url}/placements/deal_tab?DOMAIN={portal['domain']}"
    ru = open_in_browser(tmp_path, url, form, tmp_path / "deal_tab.ru.png")
    assert '<html lang="ru">' in ru and f"сделка {deal['id']}" in ru
    assert "Что происходило" in ru and "Сделка создана" in ru
    [history] = installed.redis.keys(f"*history*{portal['member_id']}*:deal:{deal['id']}")
    ts = json.loads(installed.redis.lindex(history, 0))["ts"]
    # the portal's zone (general.timezone, Europe/Moscow by default), written the reader's way
    assert when(ts, "ru", "Europe/Moscow") in ru and "г.," in when(ts, "ru", "Europe/Moscow")
    en = open_in_browser(tmp_path, f"{url}&LANG=en", form, tmp_path / "deal_tab.en.png")
    assert '<html lang="en">' in en and f"deal {deal['id']}" in en and "Deal created" in en
    assert when(ts, "en", "Europe/Moscow") in en


def drive_page(tmp_path: Path, overview: str, shot: Path) -> str:
    """The Google Drive page, opened from the overview's tab as the admin would."""
    tab = re.search(r'href="([^"]*/app/drive_mirror\?[^"]+)"', overview)
    assert tab, "no Google Drive tab"
    return open_in_browser(tmp_path, html.unescape(tab[1]), None, shot)


def test_app_home_in_both_languages(installed: Stack, tmp_path: Path):
    url = f"{installed.app_url}/install?DOMAIN={installed.portal()['domain']}"
    ru = open_in_browser(tmp_path, url, frame(installed), tmp_path / "app_home.ru.png")
    assert "Роботы для автоматизации" in ru and "Справедливое распределение" in ru
    assert "активен" in ru
    assert "Подключить аккаунт Google" in drive_page(tmp_path, ru, tmp_path / "drive.ru.png")
    en = open_in_browser(tmp_path, f"{url}&LANG=en", frame(installed),
                         tmp_path / "app_home.en.png")
    assert "Robots for automation rules" in en
    assert "Connect a Google account" in drive_page(tmp_path, en, tmp_path / "drive.en.png")


def test_installer_pages_in_both_languages(installed: Stack, tmp_path: Path):
    base = f"{installed.app_url}/install"
    info = open_in_browser(tmp_path, f"{base}?LANG=ru", None, tmp_path / "install_info.ru.png")
    assert "Это страница установки crm-connector" in info
    info = open_in_browser(tmp_path, f"{base}?LANG=en", None, tmp_path / "install_info.en.png")
    assert "This is the installer page of crm-connector" in info

    url = f"{base}?DOMAIN={installed.portal()['domain']}"
    manager = frame(installed, user_id=3, token="a-new-application-token")
    ru = open_in_browser(tmp_path, url, manager, tmp_path / "install_error.ru.png")
    assert "Установка не завершена" in ru
    assert "установить приложение может только администратор портала" in ru
    en = open_in_browser(tmp_path, f"{url}&LANG=en", manager, tmp_path / "install_error.en.png")
    assert "Installation did not finish" in en and "only a portal administrator" in en

    en = open_in_browser(tmp_path, f"{url}&LANG=en", frame(installed, token="rotated-1"),
                         tmp_path / "install_done.en.png")
    assert "crm-connector is installed" in en
    ru = open_in_browser(tmp_path, f"{url}&LANG=ru", frame(installed, token="rotated-2"),
                         tmp_path / "install_done.ru.png")
    assert "crm-connector установлен" in ru
    assert re.search(r"применено \d+ изменени[ейя]", ru)


def test_google_pages_in_both_languages(installed: Stack, tmp_path: Path):
    bad = f"{installed.app_url}/google/connect?t=forged"
    ru = open_in_browser(tmp_path, bad, None, tmp_path / "google_bad.ru.png", locale="ru-RU")
    assert "Google Диск не подключён" in ru and "Ссылка недействительна" in ru
    en = open_in_browser(tmp_path, bad, None, tmp_path / "google_bad.en.png", locale="en-US")
    assert "Google Drive is not connected" in en and "This link is invalid" in en

    token = connection.connect_token(services(installed), installed.portal()["member_id"])
    # the callback knows the portal only by its state: the portal's language, not the browser's
    ok = open_in_browser(tmp_path, f"{installed.app_url}/google/connect?t={token}", None,
                         tmp_path / "google_ok.ru.png", locale="en-US")
    assert "Google Диск подключён" in ok


def test_placement_denied_in_both_languages(installed: Stack, tmp_path: Path):
    form = {"member_id": installed.portal()["member_id"], "APPLICATION_TOKEN": "forged"}
    url = f"{installed.app_url}/placements/deal_tab"
    ru = open_in_browser(tmp_path, url, form, tmp_path / "placement_denied.ru.png")
    assert "Доступ запрещён" in ru
    en = open_in_browser(tmp_path, f"{url}?LANG=en", form, tmp_path / "placement_denied.en.png")
    assert "Not authorised" in en

    deal = installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Тайная сделка"}})
    installed.control("POST", "crm-access", json={"user_id": 3, "entity": "deal",
                                                  "id": deal["id"], "read": False})
    manager = {**frame(installed, user_id=3), "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
               "PLACEMENT_OPTIONS": json.dumps({"ID": str(deal["id"])})}
    ru = open_in_browser(tmp_path, url, manager, tmp_path / "placement_no_access.ru.png")
    assert "Нет доступа" in ru and "Тайная" not in ru
