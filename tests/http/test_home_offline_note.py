"""The app page tells an admin how events missed while the app was down are re-read.

The mode is what the real offline drain found on the portal's plan (feature.get for
rest_offline_extended, api-reference/events/offline-events.md), cached in Redis by
connector.bitrix.offline; the page reads that cache and shows it in the viewer's language.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import requests

from connector.bitrix.offline import PAGE, mode_key
from connector.jobs import run_task
from tests.conftest import Stack
from tests.fixtures.docs.widgets import frame_request

MANAGER = 3  # a user of the demo portal who is not an admin

TEXTS = {
    "reserve": {"en": "re-read and confirmed", "ru": "перечитываются с подтверждением"},
    "clear": {"en": f"up to {PAGE} of them can be lost (the plan lacks rest_offline_extended)",
              "ru": f"до {PAGE} из них могут потеряться (в тарифе нет rest_offline_extended)"},
    "unknown": {"en": "checked at the next drain", "ru": "станет известно при следующей выборке"},
}


def open_home(stack: Stack, user_id: int, lang: str) -> requests.Response:
    """The app page as the portal opens it: the documented frame data, PLACEMENT=DEFAULT."""
    portal = stack.portal()
    auth_id = stack.control("POST", "tokens", json={"user_id": user_id})["access_token"]
    query, form = frame_request(
        DOMAIN=portal["domain"], member_id=portal["member_id"], LANG=lang,
        APPLICATION_TOKEN=portal["application_token"], AUTH_ID=auth_id, PLACEMENT="DEFAULT",
        PLACEMENT_OPTIONS="{}")
    return requests.post(f"{stack.app_url}/install?{urlencode(query)}", data=form, timeout=15)


def note(html: str) -> tuple[str, str]:
    """(data-mode, text) of the page's offline note."""
    match = re.search(r'<p id="offline-mode" data-mode="(\w+)">(.*?)</p>', html, re.S)
    assert match, "no offline note on the page"
    return match[1], " ".join(match[2].split())


def set_mode(stack: Stack, mode: str) -> None:
    """Let the real drain find the mode on the emulator's plan, or forget it."""
    services = stack.app.extensions["connector"]
    member_id = stack.portal()["member_id"]
    key = mode_key(services.settings.queue_prefix, member_id)
    stack.redis.delete(key)
    if mode == "unknown":
        return
    stack.control("POST", "plan", json={"features": {"rest_offline_extended": mode == "reserve"}})
    assert run_task(services, "drain_offline", member_id)["mode"] == mode
    assert stack.redis.get(key) == mode.encode()


@pytest.mark.parametrize("mode", ["reserve", "clear", "unknown"])
def test_an_admin_sees_how_missed_events_are_re_read(installed: Stack, mode: str):
    set_mode(installed, mode)
    for lang in ("en", "ru"):
        page = open_home(installed, 1, lang)
        assert page.status_code == 200, page.text[:300]
        shown, text = note(page.text)
        assert shown == mode
        assert TEXTS[mode][lang] in text, text
        others = [t[lang] for m, t in TEXTS.items() if m != mode]
        assert not any(other in text for other in others)


def test_a_manager_does_not_see_the_note(installed: Stack):
    set_mode(installed, "clear")
    page = open_home(installed, MANAGER, "en")
    assert page.status_code == 200 and "Robots for automation rules" in page.text
    assert 'id="offline-mode"' not in page.text and "rest_offline_extended" not in page.text
