"""Headless Chromium (the system browser, driven by Playwright) as a portal's iframe is."""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, sync_playwright

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        # no internet here: external hosts (the BX24 script) fail at once, not by timeout
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def open_in_browser(tmp_path: Path, url: str, fields: dict[str, str] | None = None,
                    screenshot: Path | None = None, locale: str = "en-US",
                    submit: str = "") -> str:
    """POST `fields` to `url` from a real Chromium (as the portal's iframe does), or GET it
    when there are none; the resulting DOM. `locale` is the browser's own language.
    `submit`: a button on that page to click next (a follow-up form), shot before and after."""
    assert CHROMIUM is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700}, locale=locale)
            if fields is None:
                page.goto(url, wait_until="load")
            else:
                inputs = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                    for k, v in fields.items())
                page.set_content(f'<form method="post" action="{html.escape(url)}">{inputs}'
                                 f'<button id="go">open</button></form>')
                with page.expect_navigation(url=url.split("?")[0] + "*", wait_until="load"):
                    page.click("#go")
            if submit:
                if screenshot is not None:
                    page.screenshot(path=str(screenshot.with_suffix(".before.png")),
                                    full_page=True)
                with page.expect_navigation(wait_until="load"):
                    page.click(submit)
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
            return page.content()
        finally:
            browser.close()


# Screenshots every browser test keeps: var/artefacts/screenshots/ (CI prints the folder);
# CC_ARTEFACTS moves it.
ARTEFACTS = Path(os.environ.get("CC_ARTEFACTS", Path(__file__).resolve().parents[2] / "var"
                                / "artefacts")) / "screenshots"


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artefact; its path."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's WCAG 2 A/AA findings on the page as it is now (labels, contrast, names…),
    one line each; [] when there are none."""
    results = Axe().run(page, options={
        "resultTypes": ["violations"],
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{v['id']}: {v['help']} — {', '.join(str(n['target']) for n in v['nodes'][:3])}"
            for v in results.response["violations"]]


@contextmanager
def browser_page(locale: str = "en-US", width: int = 1000) -> Iterator[Page]:
    """A page of a real headless Chromium for multi-step flows (click, fill, wait)."""
    assert CHROMIUM is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": 800}, locale=locale)
        finally:
            browser.close()


def post_frame(page: Page, url: str, fields: dict[str, str]) -> None:
    """Open `url` the way a portal opens a frame: a form POST of `fields`."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    page.set_content(f'<form method="post" action="{html.escape(url)}">{inputs}'
                     f'<button id="go">open</button></form>')
    with page.expect_navigation(url=url.split("?")[0] + "*", wait_until="load"):
        page.click("#go")


def open_app(stack: Any, page: Page, user_id: int = 1, lang: str = "") -> None:
    """Open the app's pages as the portal's menu does, for this user (1 is the admin)."""
    portal = stack.portal()
    access = stack.control("POST", "tokens", json={"user_id": user_id})["access_token"]
    query = f"DOMAIN={portal['domain']}" + (f"&LANG={lang}" if lang else "")
    post_frame(page, f"{stack.app_url}/install?{query}", {
        "AUTH_ID": access, "member_id": portal["member_id"],
        "APPLICATION_TOKEN": portal["application_token"], "PLACEMENT": "DEFAULT"})
