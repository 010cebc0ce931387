"""The amoCRM widget's backend against the emulator over HTTP: tokens refused with nothing
changed, CORS for the tenant's own pages only, the admin pages and the lead tab opened
through /amocrm/widget/open, the away switch, and the archive."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from tests.amocrm.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

ORIGIN = "https://autoservis.amocrm.ru"


@dataclass
class Widget:
    app: Any
    client: Any
    services: Any
    world: Any
    member: str
    manager: int

    @property
    def account(self) -> int:
        return int(self.world.acc.id)

    def token(self, user_id: int | None = None, **kw: Any) -> str:
        return self.world.emu.widget_token(self.account, user_id, **kw)

    def call(self, path: str, token: str | None = None, body: Any = None,
             method: str = "POST", origin: str = ORIGIN, lang: str = "") -> Any:
        headers = {"Origin": origin}
        if token is not None:
            headers["X-Auth-Token"] = token
        url = f"/amocrm/widget/{path}" + (f"?LANG={lang}" if lang else "")
        return self.client.open(url, method=method, headers=headers,
                                json=body if method != "GET" else None)

    def get(self, url: str) -> Any:
        """A page the widget frames (its absolute address) through the test client."""
        parts = urlsplit(url)
        return self.client.get(f"{parts.path}?{parts.query}")


@pytest.fixture
def widget(world) -> Widget:
    from connector.amocrm.oauth import connect_with_code
    from wiring import create_app

    app = create_app(world.settings)
    services = app.extensions["connector"]
    grant = world.emu.authorize(world.acc.id, state="s1")
    portal = connect_with_code(services.store, services.amo().oauth, grant["referer"],
                               grant["code"], services.amo().account_of)
    manager = next(u.id for u in world.acc.users if not u.is_admin)
    return Widget(app, app.test_client(), services, world, portal.member_id, manager)


def forged(claims: dict[str, Any], secret: str = CLIENT_SECRET) -> str:
    now = int(time.time())
    base = {"iss": ORIGIN, "aud": "https://app.example.com", "jti": f"j{time.time_ns()}",
            "iat": now, "nbf": now, "exp": now + 1800, "account_id": 0, "user_id": 1,
            "client_uuid": CLIENT_ID, "is_admin": True}
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


def away_state(w: Widget, user_id: int) -> bool:
    from connector.amocrm.presence import away_since

    return bool(away_since(w.services.redis, w.services.settings.queue_prefix, w.member,
                           user_id))


# refusals --------------------------------------------------------------------------------
def test_refused_tokens_change_nothing(widget):
    w = widget
    other = w.world.emu.add_account("chuzhoi", zone="amocrm.ru")
    cases = {
        "bad signature": (forged({"account_id": w.account}, secret="x" * 48), 401),
        "expired": (w.token(w.manager, ttl=-300), 401),
        "another integration": (forged({"account_id": w.account, "client_uuid": "other"}),
                                401),
        "iss of another account": (forged({"account_id": w.account,
                                           "iss": "https://chuzhoi.amocrm.ru"}), 401),
        "unknown account": (w.world.emu.widget_token(other.id), 403),
        "no token": (None, 401),
    }
    for name, (token, status) in cases.items():
        resp = w.call("away", token, {"away": True})
        assert resp.status_code == status, name
        assert resp.get_json()["error"] in ("bad_token", "not_installed"), name
        assert resp.get_json()["message"], name
        opened = w.call("open", token, {"page": "settings"})
        assert opened.status_code == status and "url" not in opened.get_json(), name
    for user in w.world.acc.users:
        assert not away_state(w, user.id)


def test_an_uninstalled_account_is_refused_in_the_viewers_language(widget):
    from connector.amocrm.oauth import on_disabled

    w = widget
    on_disabled(w.services.store, w.account)
    ru = w.call("open", w.token(), {"page": "settings"})
    assert ru.status_code == 403 and ru.get_json()["error"] == "not_installed"
    assert "не установлена" in ru.get_json()["message"]
    en = w.call("open", w.token(), {"page": "settings"}, lang="en")
    assert "not installed" in en.get_json()["message"]


def test_a_token_is_used_once(widget):
    w = widget
    token = w.token(w.manager)
    assert w.call("away", token, method="GET").status_code == 200
    again = w.call("away", token, {"away": True})
    assert again.status_code == 401
    assert not away_state(w, w.manager)


# CORS --------------------------------------------------------------------------------------
def test_the_preflight_allows_the_tenants_own_pages_only(widget):
    w = widget
    ok = w.call("open", method="OPTIONS")
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Auth-Token" in ok.headers["Access-Control-Allow-Headers"]
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    for origin in ("https://evil.example", "https://chuzhoi.amocrm.ru",
                   "http://autoservis.amocrm.ru", "https://autoservis.amocrm.ru:8443"):
        refused = w.call("away", method="OPTIONS", origin=origin)
        assert refused.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in refused.headers, origin


def test_an_answer_is_readable_by_the_tokens_tenant_only(widget):
    w = widget
    mine = w.call("away", w.token(), method="GET")
    assert mine.headers["Access-Control-Allow-Origin"] == ORIGIN
    elsewhere = w.call("away", w.token(), method="GET", origin="https://evil.example")
    assert elsewhere.status_code == 200
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


# pages -------------------------------------------------------------------------------------
def test_a_manager_cannot_open_the_settings(widget):
    w = widget
    resp = w.call("open", w.token(w.manager), {"page": "settings"})
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "admins_only"
    assert "администратор" in resp.get_json()["message"]


def test_an_admin_opens_the_settings_pages(widget):
    w = widget
    resp = w.call("open", w.token(), {"page": "settings"})
    assert resp.status_code == 200, resp.get_json()
    url = resp.get_json()["url"]
    assert url.startswith(f"{w.services.settings.public_base_url}/app/overview?t=")
    page = w.get(url)
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors {ORIGIN}"
    html = page.get_data(as_text=True)
    assert "Аккаунт amoCRM" in html and "autoservis.amocrm.ru" in html
    assert "api.bitrix24.com" not in html
    # pipeline steps with the codes an admin types, not Bitrix24's robots and offline events
    assert "Шаг воронки" in html and "<code>fair_distribution</code>" in html
    assert "Роботы и бизнес-процессы" not in html and 'id="offline-mode"' not in html
    operations = w.get(url.replace("/app/overview", "/app/operations")).get_data(as_text=True)
    assert "не больше 6 запросов" in operations and "Права" not in operations
    general = w.get(url.replace("/app/overview", "/app/general"))
    text = general.get_data(as_text=True)
    assert general.status_code == 200
    assert 'id="settings-amocrm"' in text  # the managers' hours
    assert 'id="settings-events"' not in text  # Bitrix24's offline events
    assert 'id="crm-note"' in text


def test_the_schedules_are_saved_from_the_general_page(widget):
    import re

    w = widget
    url = w.call("open", w.token(), {"page": "settings"}).get_json()["url"]
    html = w.get(url.replace("/app/overview", "/app/general")).get_data(as_text=True)
    token = re.search(r'name="t" value="([^"]+)"', html).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    form = {"t": token, "csrf": csrf, "_section": "amocrm", "schedules~n": "1",
            "schedules[0].user_id": str(w.manager), "schedules[0].weekdays": ["6", "7"],
            "schedules[0].start": "10:00", "schedules[0].end": "16:00"}
    saved = w.client.post("/app/general", data=form)
    assert saved.status_code == 200, saved.get_data(as_text=True)[:2000]
    stored = w.services.portal_settings.get(w.member)["amocrm"]["schedules"]
    assert stored == [{"user_id": w.manager, "weekdays": [6, 7], "start": "10:00",
                       "end": "16:00"}]


def test_a_bitrix_portal_pages_keep_their_sections():
    from admin.pages import shown_on
    from connector.crm.port import AMOCRM, BITRIX24

    assert shown_on("events", BITRIX24) and shown_on("general", BITRIX24)
    assert not shown_on("amocrm", BITRIX24)
    assert shown_on("amocrm", AMOCRM) and not shown_on("events", AMOCRM)
    assert shown_on("distribution", AMOCRM)


def test_the_lead_tab_opens_for_that_lead_only(widget):
    w = widget
    lead = w.world.emu.create_lead(w.account, name="Ремонт КПП", responsible_user_id=w.manager)
    resp = w.call("open", w.token(w.manager), {"page": "card", "lead_id": lead["id"]})
    assert resp.status_code == 200, resp.get_json()
    url = resp.get_json()["url"]
    tab = w.get(url)
    assert tab.status_code == 200
    assert f"сделка {lead['id']}" in tab.get_data(as_text=True)
    assert tab.headers["Content-Security-Policy"] == f"frame-ancestors {ORIGIN}"
    moved = w.get(url.replace(f"deal={lead['id']}", f"deal={lead['id'] + 1}"))
    assert moved.status_code == 401  # the token is bound to this lead
    missing = w.call("open", w.token(w.manager), {"page": "card", "lead_id": 999999})
    assert missing.status_code == 404 and missing.get_json()["error"] == "no_lead"
    for bad in ({"page": "card"}, {"page": "card", "lead_id": "x"}, {"page": "nope"}):
        assert w.call("open", w.token(), bad).status_code == 400


def test_lead_rights_decide_the_tab():
    from placements.amocrm_widget import may_view

    def user(view: str, **rights: Any) -> dict[str, Any]:
        return {"id": 5, "rights": {"leads": {"view": view}, "is_active": True, "group_id": 2,
                                    **rights}}

    own = {"responsible_user_id": 5, "group_id": 2}
    colleague = {"responsible_user_id": 6, "group_id": 2}
    stranger = {"responsible_user_id": 7, "group_id": 3}
    assert may_view(user("A"), stranger)
    assert may_view(user("G"), colleague) and not may_view(user("G"), stranger)
    assert may_view(user("M"), own) and not may_view(user("M"), colleague)
    assert not may_view(user("D"), own)
    assert may_view(user("D", is_admin=True), stranger)
    assert not may_view(user("A", is_active=False), own)
    assert not may_view(None, own)


# the away switch ---------------------------------------------------------------------------
def test_the_away_switch_round_trip(widget):
    w = widget
    first = w.call("away", w.token(w.manager), method="GET").get_json()
    assert first["away"] is False and first["since"] is None
    assert first["availability"] in ("working", "closed")
    gone = w.call("away", w.token(w.manager), {"away": True}).get_json()
    assert gone["away"] is True and gone["since"] and gone["availability"] == "paused"
    assert "отошли" in gone["label"].lower() or "Отошли" in gone["label"]
    assert w.call("away", w.token(w.manager), method="GET").get_json()["away"] is True
    # the admin's own switch is another one; nobody sets someone else's
    assert w.call("away", w.token(), method="GET").get_json()["away"] is False
    crm = w.services.crm(w.member)
    assert crm.presence((w.manager,)) == {w.manager: "paused"}
    assert w.call("away", w.token(w.manager), {"away": "yes"}).status_code == 400
    back = w.call("away", w.token(w.manager), {"away": False}).get_json()
    assert back["away"] is False and back["availability"] != "paused"


# the archive -------------------------------------------------------------------------------
def test_the_archive_carries_the_apps_address(tmp_path: Path):
    from amocrm_widget.build import backend_url, build

    path = build("https://connector.example.com/", tmp_path / "widget.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        script = archive.read("script.js").decode()
        ru = json.loads(archive.read("i18n/ru.json"))
    assert {"manifest.json", "script.js", "i18n/ru.json", "i18n/en.json",
            "images/logo_min.png", "images/logo_medium.png", "images/logo_main.png",
            "images/logo_small.png", "images/logo.png", "images/logo_dp.png"} <= names
    assert {"lcard-1", "settings", "advanced_settings"} <= set(manifest["locations"])
    assert manifest["dp"]["webhook_url"] == "https://connector.example.com/amocrm/dp"
    assert "robot" in manifest["dp"]["settings"]  # install/amocrm.py ROBOT_SETTING
    assert "'https://connector.example.com'" in script and "__BACKEND__" not in script
    assert ru["widget"]["name"] and ru["ui"]["go_away"]
    with pytest.raises(ValueError):
        backend_url("http://connector.example.com")
    assert REDIRECT_URI.startswith("https://")


# in a real browser: the widget's own script.js on an amoCRM page -----------------------------
# An amoCRM lead card and the widget's advanced-settings page, as far as script.js sees
# them (the SDK's documented surface: define(), system().area, i18n(), get_settings(),
# render_template() into the right column, $authorizedAjax() adding X-Auth-Token, and
# AMOCRM.data.current_card). Playwright serves it at the tenant's own https address, so the
# browser does the real CORS preflight and frames our pages under their frame-ancestors.
AMO_PAGE = """<!doctype html><html lang="ru"><head><meta charset="utf-8">
<title>amoCRM</title><style>
body{font:14px sans-serif;margin:0;background:#f5f5f5}
.card{display:flex}.main{flex:1;padding:16px}
.card-widgets__elements{width:300px;background:#fff;border-left:1px solid #ddd;padding:12px}
#work-area-cc_connector{background:#fff;padding:12px}
</style></head><body>
<div class="card"><div class="main"><h1>__TITLE__</h1><p>amoCRM (в тесте)</p>
<div id="work-area-cc_connector"></div></div>
<div class="card-widgets__elements"></div></div>
<script>
window.AMOCRM = {lang_id: 'ru', data: {current_card: {id: __LEAD__}}};
var I18N = __I18N__;
function define(deps, factory) {
  var Widget = factory(null);
  var base = {
    system: function () { return {area: '__AREA__', lang: 'ru'}; },
    i18n: function (key) { return I18N[key]; },
    get_settings: function () { return {widget_code: 'cc_connector'}; },
    render_template: function (tpl) {
      var box = document.createElement('div');
      box.className = tpl.caption.class_name;
      box.innerHTML = tpl.render;
      document.querySelector('.card-widgets__elements').appendChild(box);
    },
    $authorizedAjax: function (opts) {
      return fetch('/_token').then(function (r) { return r.text(); }).then(function (token) {
        return fetch(opts.url, {method: opts.method, body: opts.data, headers:
          {'X-Auth-Token': token, 'Content-Type': 'application/json'}});
      }).then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) { throw {responseJSON: body, status: resp.status}; }
          return body;
        });
      });
    }
  };
  Widget.prototype = base;
  var widget = new Widget();
  window.ccWidget = widget;
  widget.callbacks.init(); widget.callbacks.render(); widget.callbacks.bind_actions();
  if ('__AREA__' === 'advanced_settings') { widget.callbacks.advancedSettings(); }
}
</script><script src="/widget/script.js"></script></body></html>"""


@pytest.fixture
def served(widget):
    """The widget's app on a real loopback port (its pages load in the browser)."""
    import dataclasses
    import threading

    from werkzeug.serving import make_server

    from connector.amocrm.oauth import connect_with_code
    from wiring import create_app

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start),
                         threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(dataclasses.replace(widget.world.settings, public_base_url=url))
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    services = app.extensions["connector"]
    if services.store.get(widget.member) is None:  # the same Redis: stored already
        grant = widget.world.emu.authorize(widget.account)
        connect_with_code(services.store, services.amo().oauth, grant["referer"],
                          grant["code"], services.amo().account_of)
    try:
        yield url, services
    finally:
        server.shutdown()


def _amo_page(page: Any, w: Widget, url: str, area: str, lead: int, user_id: int) -> None:
    from amocrm_widget.build import files

    content = files(url)
    ru = json.loads(content["i18n/ru.json"])

    def handle(route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/_token":
            route.fulfill(body=w.token(user_id), content_type="text/plain")
        elif path == "/widget/script.js":
            route.fulfill(body=content["script.js"], content_type="text/javascript")
        else:
            title = (f"Сделка #{lead}" if area == "lcard"
                     else "Настройки → Интеграции → Коннектор")
            html = (AMO_PAGE.replace("__TITLE__", title).replace("__LEAD__", str(lead))
                    .replace("__AREA__", area)
                    .replace("__I18N__", json.dumps(ru, ensure_ascii=False)))
            route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route(f"{ORIGIN}/**", handle)
    page.goto(f"{ORIGIN}/leads/detail/{lead}", wait_until="load")


@contextmanager
def amo_browser(width: int) -> Iterator[Any]:
    """tests.e2e.browser's Chromium, letting an https page reach our loopback server (a real
    deployment is public https; Chrome asks before a public page calls a loopback one)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import ARGS, CHROMIUM

    if CHROMIUM is None:
        pytest.fail("chromium is missing: ./dev test installs it (Debian package 'chromium')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            *ARGS, "--disable-features=LocalNetworkAccessChecks,"
                   "BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights"])
        try:
            yield browser.new_page(viewport={"width": width, "height": 800}, locale="ru-RU")
        finally:
            browser.close()


def test_the_widget_in_a_browser(widget, served):
    from tests.e2e.browser import shoot

    w = widget
    url, _ = served
    lead = w.world.emu.create_lead(w.account, name="Ремонт КПП", responsible_user_id=w.manager)
    with amo_browser(1200) as page:
        _amo_page(page, w, url, "lcard", lead["id"], w.manager)
        away = page.locator(".cc-widget__away")
        away.wait_for()
        page.wait_for_function("!document.querySelector('.cc-widget__away').disabled")
        assert away.inner_text() == "Я отошёл"
        shoot(page, "amocrm-widget-card")
        away.click()
        page.wait_for_function(
            "document.querySelector('.cc-widget__away').textContent === 'Я на месте'")
        assert "отошли" in page.locator(".cc-widget__status").inner_text()
        assert away_state(w, w.manager)
        page.click(".cc-widget__tab")
        frame = page.frame_locator(".cc-widget__frame")
        frame.locator("h1").wait_for()
        assert f"сделка {lead['id']}" in frame.locator("h1").inner_text()
        shoot(page, "amocrm-widget-card-tab")
        page.keyboard.press("Escape")
        assert page.locator(".cc-widget__panel").count() == 0
        away.click()
        page.wait_for_function(
            "document.querySelector('.cc-widget__away').textContent === 'Я отошёл'")
        assert not away_state(w, w.manager)
    with amo_browser(1400) as page:
        _amo_page(page, w, url, "advanced_settings", lead["id"], w.world.acc.admin_id)
        frame = page.frame_locator(".cc-widget__frame")
        frame.locator("nav.tabs").wait_for()
        assert "Аккаунт amoCRM" in frame.locator("header").inner_text()
        shoot(page, "amocrm-widget-settings")
    with amo_browser(1000) as page:
        answer = w.call("open", w.token(), {"page": "settings"}).get_json()
        general = answer["url"].replace(w.services.settings.public_base_url, url).replace(
            "/app/overview", "/app/general")
        page.goto(general, wait_until="load")
        assert page.locator("#settings-amocrm").is_visible()
        assert page.locator("#crm-note").is_visible()
        shoot(page, "amocrm-widget-general")
    with amo_browser(1200) as page:  # a manager: the right panel only
        _amo_page(page, w, url, "advanced_settings", lead["id"], w.manager)
        page.locator(".cc-widget__settings").wait_for()
        page.wait_for_function("document.querySelector('.cc-widget__settings').textContent"
                               ".indexOf('администратор') >= 0")
        shoot(page, "amocrm-widget-settings-manager")
