"""The control API under `{url}/_emulator/…` (JSON, ours): the Python API over HTTP for
the developer stack and browser tests."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from amoemu.state import ApiError

if TYPE_CHECKING:
    from amoemu.server import AmoEmulator


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=str), status,
                    content_type="application/json")


def _account(emu: AmoEmulator, acc: Any) -> dict[str, Any]:
    return {"id": acc.id, "subdomain": acc.subdomain, "domain": acc.domain,
            "drive_domain": acc.drive_domain, "admin_id": acc.admin_id, "name": acc.name,
            "blocked": acc.blocked, "paid": acc.paid,
            "integration_enabled": acc.integration_enabled,
            "base_url": f"{emu.url}/{acc.domain}",
            "users": [{"id": u.id, "name": u.name, "email": u.email, "is_admin": u.is_admin,
                       "is_free": u.is_free, "is_active": u.is_active} for u in acc.users],
            "pipelines": [{"id": p["id"], "name": p["name"], "is_main": p["is_main"],
                           "statuses": [{"id": s["id"], "name": s["name"]}
                                        for s in p["statuses"]]}
                          for p in acc.pipelines.values()]}


def control(emu: AmoEmulator, req: Request, rest: str) -> Response:
    """Routes (GET unless said):
    /accounts, POST /accounts {subdomain, zone, name}, /accounts/{id}
    POST /accounts/{id}/authorize {state, deliver, user_id}
    POST /accounts/{id}/long_lived_token {days, user_id} → {"access_token"}
    POST /accounts/{id}/widget_token {user_id} → {"token"}
    POST /accounts/{id}/disable → {"status"}
    POST /accounts/{id}/dp_action {lead_id, settings, webhook_url} → {"status","body"}
    POST /accounts/{id}/leads {…API v4 fields, user_id} (a user adds a lead)
    PATCH /accounts/{id}/leads/{lead} {…, user_id}; GET /accounts/{id}/leads[/{lead}]
    POST /accounts/{id}/leads/{lead}/status {status_id, pipeline_id, user_id}
    POST /accounts/{id}/contacts {name, phone, email, …}; POST /accounts/{id}/companies
    POST /accounts/{id}/{leads|contacts|companies}/{eid}/notes {text, note_type, params}
    /accounts/{id}/deliveries, /accounts/{id}/stats, /accounts/{id}/events
    POST /accounts/{id}/faults {method, path, status, count, body}
    POST /accounts/{id}/block, /unblock, /paid {paid}
    POST /settle {timeout}; POST /clock {advance} (shifts the clock by seconds)
    """
    path = rest.rstrip("/")
    body: dict[str, Any] = {}
    if req.method in ("POST", "PATCH", "PUT"):
        data = req.get_json(silent=True, force=True)
        body = data if isinstance(data, dict) else {}
    try:
        return _route(emu, req, path, body)
    except KeyError as exc:
        return _json({"error": str(exc)}, 404)
    except (ValueError, ApiError) as exc:
        return _json({"error": str(exc)}, 400)


def _route(emu: AmoEmulator, req: Request, path: str, body: dict[str, Any]) -> Response:
    m = req.method
    if path == "/accounts":
        if m == "POST":
            acc = emu.add_account(body["subdomain"], body.get("zone", "amocrm.ru"),
                                  body.get("name", ""))
            return _json(_account(emu, acc), 201)
        return _json({"accounts": [_account(emu, a) for a in emu.state.accounts.values()]})
    if path == "/settle" and m == "POST":
        return _json({"settled": emu.settle(float(body.get("timeout", 10)))})
    if path == "/clock" and m == "POST":
        shift = float(body.get("advance", 0))
        base = emu.clock
        emu.clock = lambda: base() + shift
        return _json({"now": emu.clock()})
    mm = re.fullmatch(r"/accounts/(\d+)(/.*)?", path)
    if not mm:
        return _json({"error": "not found"}, 404)
    aid, sub = int(mm.group(1)), mm.group(2) or ""
    acc = emu.account(aid)
    uid = body.pop("user_id", None)
    if sub == "":
        return _json(_account(emu, acc))
    if sub == "/authorize" and m == "POST":
        return _json(emu.authorize(aid, state=body.get("state"),
                                   deliver=bool(body.get("deliver")), user_id=uid))
    if sub == "/long_lived_token" and m == "POST":
        return _json({"access_token": emu.long_lived_token(aid, int(body.get("days", 365)),
                                                           uid)})
    if sub == "/widget_token" and m == "POST":
        return _json({"token": emu.widget_token(aid, uid)})
    if sub == "/disable" and m == "POST":
        return _json({"status": emu.disable(aid)})
    if sub == "/dp_action" and m == "POST":
        status, text = emu.run_dp_action(aid, int(body["lead_id"]), body.get("settings") or {},
                                         body["webhook_url"])
        return _json({"status": status, "body": text})
    if sub == "/deliveries":
        return _json({"deliveries": emu.deliveries(aid), "pending": emu.pending(aid)})
    if sub == "/stats":
        return _json(emu.stats(aid))
    if sub == "/events":
        return _json({"events": emu.events(aid)})
    if sub == "/faults" and m == "POST":
        emu.fault(aid, body.get("method", ""), body.get("path", ".*"),
                  int(body.get("status", 500)), int(body.get("count", 1)), body.get("body"))
        return _json({"ok": True}, 201)
    if sub in ("/block", "/unblock") and m == "POST":
        (emu.block if sub == "/block" else emu.unblock)(aid)
        return _json({"blocked": acc.blocked})
    if sub == "/paid" and m == "POST":
        emu.set_paid(aid, bool(body.get("paid", True)))
        return _json({"paid": acc.paid})
    if sub == "/leads":
        if m == "POST":
            return _json(emu.create_lead(aid, uid, **body), 201)
        return _json({"leads": emu.leads(aid)})
    if sub in ("/contacts", "/companies") and m == "POST":
        make = emu.create_contact if sub == "/contacts" else emu.create_company
        return _json(make(aid, uid, **body), 201)
    ml = re.fullmatch(r"/leads/(\d+)(/status)?", sub)
    if ml:
        lid = int(ml.group(1))
        if ml.group(2) and m == "POST":
            return _json(emu.move_lead(aid, lid, int(body["status_id"]),
                                       body.get("pipeline_id"), uid))
        if m == "PATCH":
            return _json(emu.update_lead(aid, lid, uid, **body))
        lead = emu.lead(aid, lid)
        return _json(lead) if lead else _json({"error": "no lead"}, 404)
    mn = re.fullmatch(r"/(leads|contacts|companies)/(\d+)/notes", sub)
    if mn and m == "POST":
        return _json(emu.add_note(aid, mn.group(1), int(mn.group(2)), body.get("text", ""),
                                  body.get("note_type", "common"), body.get("params"), uid),
                     201)
    return _json({"error": "not found"}, 404)
