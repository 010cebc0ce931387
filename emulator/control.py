"""The ``/_emulator/`` control API: what an admin, a user or a robot would do, plus knobs."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, request

from .core import Emulator
from .errors import RestError, status_for
from .methods.crm import ENTITIES, crm_add, crm_delete, crm_update
from .methods.im import chat_create, chat_view
from .methods.items import CLASSIC, fields_in, item_add, item_out, item_update, spa_type, uf_names
from .methods.users import set_work_day
from .seed import add_user, bulk_seed
from .state import new_hex


def register_control(app: Flask, emu: Emulator) -> None:
    from .server import json_response

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True, force=True) if request.get_data() else None
        data = data if isinstance(data, dict) else {}
        for key, value in request.args.items():
            data.setdefault(key, value)
        return data

    def portal_info(mid: str | None) -> dict[str, Any]:
        p = emu.portal(mid)
        with emu.lock:
            return {
                "member_id": p.member_id,
                "domain": p.domain,
                "client_endpoint": emu.endpoint_for(p),
                "server_endpoint": emu.server_endpoint,
                "oauth_server": emu.oauth_server,
                "installed": p.app.installed,
                "registered": p.app.registered,
                "version": p.app.version,
                "application_token": p.app.application_token,
                "admin_user_id": p.admin_user_id,
                "users": [
                    {"ID": u["ID"], "NAME": u["NAME"], "LAST_NAME": u["LAST_NAME"],
                     "ACTIVE": u["ACTIVE"], "ADMIN": u["ADMIN"],
                     "UF_DEPARTMENT": u["UF_DEPARTMENT"]}
                    for u in p.users.values()
                ],
                "departments": list(p.departments.values()),
                "counts": {"leads": len(p.leads), "deals": len(p.deals),
                           "contacts": len(p.contacts), "companies": len(p.companies),
                           "items": {str(k): len(v) for k, v in p.items.items()},
                           "chats": len(p.chats)},
                "event_bindings": [
                    {"id": b.id, "event": b.event, "handler": b.handler,
                     "offline": b.offline, "auth_type": b.auth_type}
                    for b in p.app.bindings
                ],
                "placements": [dict(x) for x in p.app.placements],
                "robots": {k: dict(v) for k, v in p.app.robots.items()},
                "options": dict(p.app.options),
                "offline_queue": len(p.app.offline),
            }

    from .control_portal import register_portal_control

    register_portal_control(app, emu)

    @app.errorhandler(RestError)
    def _rest_error(err: RestError) -> Response:
        return json_response(err.body(), err.status)

    @app.get("/_emulator/portal")
    def get_portal() -> Response:
        return json_response(portal_info(body().get("member_id")))

    @app.get("/_emulator/portals")
    def list_portals() -> Response:
        with emu.lock:
            mids = list(emu.portals)
        return json_response([portal_info(m) for m in mids])

    @app.post("/_emulator/portals")
    def new_portal() -> Response:
        b = body()
        p = emu.create_portal(b.get("domain"), seed=bool(b.get("seed")),
                              host=b.get("host") or None)
        return json_response(portal_info(p.member_id))

    @app.post("/_emulator/install")
    def install() -> Response:
        b = body()
        if b.get("direct"):
            return json_response(emu.install_direct(b.get("member_id")))
        return json_response(emu.install(b.get("member_id"), str(b.get("event") or "after")))

    @app.post("/_emulator/update")
    def update() -> Response:
        b = body()
        return json_response(emu.update(b.get("member_id"), b.get("version")))

    @app.post("/_emulator/uninstall")
    def uninstall() -> Response:
        b = body()
        return json_response(emu.uninstall(b.get("member_id"), bool(b.get("clean"))))

    @app.post("/_emulator/tokens")
    def tokens() -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        if uid not in p.users:
            raise RestError("ERROR_NOT_FOUND", f"No user {uid}", 404)
        with emu.lock:
            if not p.app.registered:
                # A token exists only for an app that is on the portal.
                p.app.registered = True
                p.app.application_token = p.app.application_token or new_hex(16)
            rec = emu.issue_tokens(p, uid)
        return json_response(emu.token_response(rec))

    @app.post("/_emulator/expire-tokens")
    def expire_tokens() -> Response:
        return json_response({"expired": emu.expire_tokens(body().get("member_id"))})

    @app.post("/_emulator/robots/run")
    def robot_run() -> Response:
        b = body()
        doc = b.get("document_id") or ["crm", "CCrmDocumentDeal", "DEAL_1"]
        return json_response(emu.run_robot(
            str(b.get("code") or ""), list(doc), b.get("document_type"),
            b.get("properties") or {}, b.get("member_id"), b.get("user_id"),
        ))

    @app.get("/_emulator/robots/results")
    def robot_results() -> Response:
        return json_response(emu.robot_results(str(body().get("event_token") or "")))

    @app.post("/_emulator/timeman")
    def timeman() -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or 0)
        status = str(b.get("status") or "").upper()
        if uid not in p.users or status not in ("OPENED", "CLOSED", "PAUSED", "EXPIRED"):
            raise RestError("ERROR_ARGUMENT", "user_id and a valid status are required", 400)
        set_work_day(emu, p, uid, status, _truthy(b.get("active", True)))
        return json_response({"user_id": uid, "status": status})

    @app.get("/_emulator/timeman")
    def timeman_get() -> Response:
        p = emu.portal(body().get("member_id"))
        with emu.lock:
            return json_response({str(k): v for k, v in p.timeman.items()})

    @app.post("/_emulator/faults")
    def faults() -> Response:
        b = body()
        method = str(b.get("method") or "*").lower()
        with emu.lock:
            if b.get("latency_ms") is not None:
                emu.latency.append({"method": None if method == "*" else method,
                                    "ms": float(b["latency_ms"])})
            if b.get("error"):
                code = str(b["error"])
                emu.faults.append({
                    "method": method, "error": code,
                    "description": b.get("description"),
                    "status": int(b.get("status") or status_for(code)),
                    "count": int(b.get("count") or 1),
                })
            return json_response({"faults": emu.faults, "latency": emu.latency})

    @app.delete("/_emulator/faults")
    def clear_faults() -> Response:
        with emu.lock:
            emu.faults.clear()
            emu.latency.clear()
        return json_response({"faults": [], "latency": []})

    @app.post("/_emulator/limits")
    def limits() -> Response:
        b = body()
        cfg = emu.config
        with emu.lock:
            for key, attr, conv in (
                ("enabled", "rate_limit_enabled", bool), ("drain", "drain", float),
                ("threshold", "threshold", float), ("enterprise", "enterprise", bool),
                ("operating_enabled", "operating_enabled", bool),
                ("operating_limit_s", "operating_limit_s", float),
                ("operating_cost_s", "operating_cost_s", float),
            ):
                if key in b:
                    setattr(cfg, attr, None if b[key] is None else conv(b[key]))
            drain, threshold = cfg.bucket_params()
            return json_response({
                "enabled": cfg.rate_limit_enabled, "drain": drain, "threshold": threshold,
                "enterprise": cfg.enterprise, "operating_enabled": cfg.operating_enabled,
                "operating_limit_s": cfg.operating_limit_s,
                "operating_cost_s": cfg.operating_cost_s,
            })

    @app.post("/_emulator/reset-limits")
    def reset_limits() -> Response:
        with emu.lock:
            for p in emu.portals.values():
                p.bucket.reset()
                p.operating.clear()
        return json_response({"ok": True})

    @app.get("/_emulator/log")
    def get_log() -> Response:
        since = int(body().get("since") or 0)
        with emu.lock:
            return json_response([dict(e) for e in emu.request_log if e["n"] > since])

    @app.get("/_emulator/stats")
    def stats() -> Response:
        return json_response(emu.stats_snapshot())

    @app.post("/_emulator/reset-stats")
    def reset_stats() -> Response:
        with emu.lock:
            emu.reset_stats()
        return json_response(emu.stats_snapshot())

    @app.get("/_emulator/calls")
    def calls() -> Response:
        """Every REST method call recorded on a portal (optionally one method)."""
        b = body()
        p = emu.portal(b.get("member_id"))
        want = str(b.get("method") or "").lower()
        with emu.lock:
            out = [c for c in p.calls if not want or c["method"] == want]
        return json_response(out)

    @app.get("/_emulator/notifications")
    def notifications() -> Response:
        p = emu.portal(body().get("member_id"))
        with emu.lock:
            return json_response({"notifications": list(p.notifications),
                                  "timeline": list(p.timeline)})

    @app.get("/_emulator/deliveries")
    def deliveries() -> Response:
        b = body()
        wait = float(b.get("wait") or 0)
        if wait:
            emu.deliverer.wait_idle(wait)
        return json_response(emu.deliverer.snapshot(int(b.get("since") or 0)))

    @app.post("/_emulator/crm/<entity>")
    def crm_create(entity: str) -> Response:
        ent = _entity(entity)
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        row_id = crm_add(emu, p, ent, b.get("fields") or {}, uid)
        return json_response({"id": row_id, "fields": p.table(ent).get(row_id)})

    @app.post("/_emulator/crm/<entity>/<int:row_id>")
    def crm_change(entity: str, row_id: int) -> Response:
        ent = _entity(entity)
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        crm_update(emu, p, ent, row_id, b.get("fields") or {}, uid)
        return json_response({"id": row_id, "fields": p.table(ent).get(row_id)})

    @app.delete("/_emulator/crm/<entity>/<int:row_id>")
    def crm_remove(entity: str, row_id: int) -> Response:
        ent = _entity(entity)
        b = body()
        p = emu.portal(b.get("member_id"))
        crm_delete(emu, p, ent, row_id, int(b.get("user_id") or p.admin_user_id))
        return json_response({"id": row_id, "deleted": True})

    @app.post("/_emulator/seed")
    def seed() -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        started = time.perf_counter()
        counts = bulk_seed(emu, p, int(b.get("deals") or 0), int(b.get("leads") or 0))
        counts["seconds"] = round(time.perf_counter() - started, 3)
        return json_response(counts)

    @app.post("/_emulator/seed-items/<int:type_id>")
    def seed_items(type_id: int) -> Response:
        """Many items of one type (camelCase ``items``, as crm.item.add takes them) without
        events, for benchmarks: a market of carriers, offers and won requests."""
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        started = time.perf_counter()
        with emu.lock:
            names = uf_names(p.userfields.get(f"CRM_{spa_type(p, type_id)['id']}", [])) \
                if type_id not in CLASSIC else None
            ids = [int(item_add(emu, p, type_id, fields_in(f, names), uid, fire=False)["ID"])
                   for f in b.get("items") or []]
        return json_response({"ids": ids, "seconds": round(time.perf_counter() - started, 3)})

    @app.post("/_emulator/items/<int:type_id>")
    def item_create(type_id: int) -> Response:
        """Create a CRM item (camelCase ``fields``) as ``user_id``, firing its events."""
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        with emu.lock:
            row = item_add(emu, p, type_id, fields_in(b.get("fields") or {}), uid)
            return json_response({"item": item_out(row, type_id)})

    @app.post("/_emulator/items/<int:type_id>/<int:item_id>")
    def item_change(type_id: int, item_id: int) -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        with emu.lock:
            row = item_update(emu, p, type_id, item_id, fields_in(b.get("fields") or {}), uid)
            return json_response({"item": item_out(row, type_id)})

    @app.get("/_emulator/chats")
    def chats() -> Response:
        """Every group chat with its members and messages, plus private messages."""
        p = emu.portal(body().get("member_id"))
        with emu.lock:
            return json_response({
                "chats": [chat_view(p, c) for c in p.chats.values()],
                "private": [dict(m) for m in p.messages if m["CHAT_ID"] is None],
            })

    @app.get("/_emulator/chats/<int:chat_id>")
    def chat_one(chat_id: int) -> Response:
        p = emu.portal(body().get("member_id"))
        with emu.lock:
            chat = p.chats.get(chat_id)
            if chat is None:
                raise RestError("ERROR_NOT_FOUND", f"No chat {chat_id}", 404)
            return json_response(chat_view(p, chat))

    @app.post("/_emulator/chats")
    def chat_new() -> Response:
        """Create a chat as a user; ``system: true`` makes it the CRM item's discussion chat."""
        b = body()
        p = emu.portal(b.get("member_id"))
        uid = int(b.get("user_id") or p.admin_user_id)
        fields = {str(k).upper(): v for k, v in b.items()
                  if k not in ("member_id", "user_id", "system")}
        with emu.lock:
            chat_id = chat_create(emu, p, uid, fields, system=bool(b.get("system")))
            return json_response(chat_view(p, p.chats[chat_id]))

    @app.post("/_emulator/users")
    def user_new() -> Response:
        """Hire someone: NAME, LAST_NAME, UF_DEPARTMENT, ACTIVE, ADMIN, WORK_POSITION."""
        b = {str(k).upper(): v for k, v in body().items()}
        p = emu.portal(b.get("MEMBER_ID"))
        with emu.lock:
            uid = int(b.get("ID") or max(p.users, default=0) + 1)
            if uid in p.users:
                raise RestError("ERROR_ARGUMENT", f"User {uid} exists", 400)
            depts = b.get("UF_DEPARTMENT") or [1]
            depts = [int(d) for d in (depts if isinstance(depts, list) else [depts])]
            add_user(emu, p, (uid, str(b.get("NAME") or f"User{uid}"),
                              str(b.get("LAST_NAME") or ""), str(b.get("PERSONAL_GENDER") or ""),
                              str(b.get("WORK_POSITION") or ""), depts,
                              _truthy(b.get("ACTIVE", True))))
            p.users[uid]["ADMIN"] = _truthy(b.get("ADMIN", False))
            if b.get("EMAIL"):
                p.users[uid]["EMAIL"] = str(b["EMAIL"])
            return json_response(dict(p.users[uid]))

    @app.post("/_emulator/users/<int:uid>")
    def user_change(uid: int) -> Response:
        """Change a user, e.g. ``{"ACTIVE": false}`` to dismiss them."""
        b = {str(k).upper(): v for k, v in body().items()}
        p = emu.portal(b.pop("MEMBER_ID", None))
        with emu.lock:
            user = p.users.get(uid)
            if user is None:
                raise RestError("ERROR_NOT_FOUND", f"No user {uid}", 404)
            for key, value in b.items():
                if key in ("ACTIVE", "ADMIN"):
                    user[key] = _truthy(value)
                    if key == "ACTIVE":
                        user["IS_ONLINE"] = "Y" if user[key] else "N"
                elif key == "UF_DEPARTMENT":
                    user[key] = [int(d) for d in (value if isinstance(value, list) else [value])]
                elif key != "ID":
                    user[key] = value
            return json_response(dict(user))

    @app.post("/_emulator/events/trigger")
    def trigger() -> Response:
        b = body()
        p = emu.portal(b.get("member_id"))
        event = str(b.get("event") or "").upper()
        if not event:
            raise RestError("ERROR_ARGUMENT", "event is required", 400)
        data = b.get("data") or {"FIELDS": {"ID": b.get("id")}}
        uid = b.get("user_id", p.admin_user_id)
        sent = emu.fire_event(p, event, data, None if uid is None else int(uid))
        return json_response({"event": event, "online_deliveries": sent})

    from .control_disk import register_disk_control

    register_disk_control(app, emu, body, json_response)

    from .control_work import register_work_control

    register_work_control(app, emu, body, json_response)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("Y", "1", "TRUE", "YES")
    return bool(value)


def _entity(name: str) -> str:
    ent = name.lower()
    if ent not in ENTITIES:
        raise RestError("ERROR_ARGUMENT", f"Unknown entity {name}", 400)
    return ent
