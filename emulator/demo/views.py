"""The demo portal's HTML pages: what a person clicks in Bitrix24, served by the emulator.

The viewer is a cookie on the portal's own origin (a user switcher stands in for logging
in). Every action goes through the same functions the control API uses, so a lead added
here fires ONCRMLEADADD exactly as `POST /_emulator/crm/lead` does. App pages and widgets
are framed the documented way (emulator.demo.frames).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from ..core import Emulator
from ..methods.crm import crm_add
from ..methods.users import set_work_day
from ..state import Portal
from . import rows
from .bbcode import to_html
from .frames import APP_PAGE, FrameRequest, deal_tab_options, frame_request

VIEWER_COOKIE = "demo_user"
DEAL_TAB = "CRM_DEAL_DETAIL_TAB"


def demo_blueprint(emu: Emulator) -> Blueprint:
    bp = Blueprint("demo", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/demo/static")

    def portal() -> Portal:
        return emu.portal()

    def viewer(p: Portal) -> int:
        """The user the browser acts as: the cookie's, if still an active user; else the admin."""
        try:
            uid = int(request.cookies.get(VIEWER_COOKIE, ""))
        except ValueError:
            uid = 0
        user = p.users.get(uid)
        return uid if user and user["ACTIVE"] else p.admin_user_id

    def page(template: str, p: Portal, **values: Any) -> str:
        uid = viewer(p)
        return render_template(
            f"demo/{template}", portal=p, viewer=uid, viewer_name=rows.user_name(p, uid),
            viewer_admin=bool(p.users[uid]["ADMIN"]), people=rows.people(p),
            lang=emu.config.language_id, **values)

    def chat_html(p: Portal, text: str) -> Any:
        own = {p.domain, urlsplit(emu.url).netloc}

        def link(url: str) -> str:
            parts = urlsplit(url)
            return url if parts.netloc not in own else parts.path + (
                f"?{parts.query}" if parts.query else "")

        return to_html(text, lambda u: rows.user_name(p, u), link)

    @bp.get("/")
    def root() -> Response:
        return redirect(url_for("demo.desktop"))

    @bp.get("/demo/")
    def desktop() -> str:
        p = portal()
        with emu.lock:
            return page("desktop.html", p, installed=p.app.installed,
                        counts={"leads": len(p.leads), "deals": len(p.deals),
                                "chats": len(p.chats)},
                        day_actions=rows.day_actions)

    @bp.post("/demo/as")
    def switch_user() -> Response:
        p = portal()
        uid = int(request.form.get("user_id") or p.admin_user_id)
        if uid not in p.users:
            abort(400)
        resp = redirect(_back(request.form.get("back")))
        resp.set_cookie(VIEWER_COOKIE, str(uid), samesite="Lax", httponly=True)
        return resp

    @bp.post("/demo/day")
    def work_day() -> Response:
        """The work-day button (timeman): as /_emulator/timeman sets it."""
        p = portal()
        status = str(request.form.get("status") or "").upper()
        uid = int(request.form.get("user_id") or viewer(p))
        if uid not in p.users or status not in dict(rows.DAY_ACTIONS):
            abort(400)
        set_work_day(emu, p, uid, status)
        return redirect(_back(request.form.get("back")))

    @bp.get("/demo/<any(leads, deals):kind>")
    def items(kind: str) -> str:
        p = portal()
        entity = kind[:-1]
        with emu.lock:
            return page(f"{kind}.html", p, rows=rows.item_rows(p, entity, viewer(p)),
                        added=request.args.get("added", ""),
                        categories=sorted(p.deal_categories.values(), key=lambda c: c["SORT"]))

    @bp.post("/demo/<any(leads, deals):kind>")
    def add_item(kind: str) -> Response:
        """The "add" form: crm_add as the viewer, which fires ONCRM<LEAD|DEAL>ADD."""
        p = portal()
        entity = kind[:-1]
        uid = viewer(p)
        title = str(request.form.get("TITLE") or "").strip()
        if not title:
            abort(400)
        fields = {"TITLE": title,
                  "ASSIGNED_BY_ID": str(request.form.get("ASSIGNED_BY_ID") or uid)}
        for key in ("OPPORTUNITY", "CATEGORY_ID"):
            if request.form.get(key):
                fields[key] = str(request.form[key])
        row_id = crm_add(emu, p, entity, fields, uid)
        return redirect(url_for("demo.items", kind=kind, added=row_id))

    @bp.get("/crm/deal/details/<int:deal_id>/")
    def deal_card(deal_id: int) -> str:
        """The deal card (at the portal's own path) with each app tab framed as Bitrix24 does."""
        p = portal()
        uid = viewer(p)
        with emu.lock:
            deal = p.deals.get(deal_id)
            if deal is None:
                abort(404)
            readable = p.may_read(uid, "deal", deal_id)
            tabs = [{"title": _title(b, emu.config.language_id),
                     "frame": frame_request(emu, p, uid, b["handler"], DEAL_TAB,
                                            deal_tab_options(deal_id))}
                    for b in p.app.placements if b["placement"] == DEAL_TAB]
            comments = [{**c, "html": chat_html(p, c["text"])}
                        for c in rows.timeline(p, "deal", deal_id)] if readable else []
            return page("deal.html", p, deal_id=deal_id, readable=readable,
                        title=deal["TITLE"] if readable else "",
                        facts=rows.deal_facts(p, deal) if readable else [],
                        comments=comments, tabs=tabs,
                        chats=rows.deal_chats(p, deal_id) if readable else [])

    @bp.get("/demo/app")
    def app_page() -> str:
        """The app from the portal's menu: its handler POSTed as the viewer (DEFAULT)."""
        p = portal()
        with emu.lock:
            frame: FrameRequest | None = None
            if p.app.installed:
                frame = frame_request(emu, p, viewer(p), emu.config.install_url, APP_PAGE)
            return page("app.html", p, frame=frame)

    @bp.get("/demo/chats")
    def chats() -> str:
        p = portal()
        with emu.lock:
            listed = rows.chats(p)
            for chat in listed:
                for msg in chat["messages"]:
                    msg["html"] = chat_html(p, msg["MESSAGE"])
            return page("chats.html", p, chats=listed)

    @bp.get("/demo/robots")
    def robots() -> str:
        p = portal()
        with emu.lock:
            deals = rows.item_rows(p, "deal", viewer(p))
            return page("robots.html", p, robots=rows.robots(p, emu.config.language_id),
                        deals=deals, chosen=request.args.get("deal", ""))

    @bp.post("/demo/robots")
    def run_robot() -> Response:
        """An automation rule reaches the robot: as /_emulator/robots/run does."""
        p = portal()
        code = str(request.form.get("code") or "")
        deal_id = int(request.form.get("deal_id") or 0)
        robot = next((r for r in rows.robots(p, "en") if r["code"] == code), None)
        if robot is None or p.deals.get(deal_id) is None:
            abort(400)
        props = {prop["key"]: request.form.get(f"prop_{prop['key']}", "")
                 for prop in robot["properties"]}
        run = emu.run_robot(code, ["crm", "CCrmDocumentDeal", f"DEAL_{deal_id}"],
                            properties=props, member_id=p.member_id, user_id=viewer(p))
        return redirect(url_for("demo.robot_result", event_token=run["event_token"],
                                status=run["status_code"] or 0))

    @bp.get("/demo/robots/result")
    def robot_result() -> str:
        p = portal()
        token = str(request.args.get("event_token") or "")
        result = emu.robot_results(token)
        if not result["known"]:
            abort(404)
        with emu.lock:
            robot = p.app.robots.get(result["code"]) or {}
        returns = {k: rows.localized(v.get("Name"), emu.config.language_id)
                   for k, v in (robot.get("RETURN_PROPERTIES") or {}).items()}
        return page("robot_result.html", p, result=result, returns=returns,
                    name=rows.localized(robot.get("NAME"), emu.config.language_id),
                    status=request.args.get("status", ""))

    return bp


def _back(value: Any) -> str:
    """Where a form returns to: a path on this portal only."""
    text = str(value or "")
    return text if text.startswith("/") and not text.startswith("//") else "/demo/"


def _title(binding: dict[str, Any], lang: str) -> str:
    """A placement's tab title in the portal's language (LANG_ALL), else its TITLE."""
    lang_all = binding.get("langAll") or {}
    own = lang_all.get(lang) if isinstance(lang_all, dict) else None
    return str((own or {}).get("TITLE") or binding.get("title") or "Приложение")
