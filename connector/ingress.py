"""Ingress: the ordered steps every inbound Bitrix24 request goes through, in one place.

  1. method and content checks          → 405 / 415 / 413
  2. parse nested form or JSON           → 400
  3. lifecycle events that prove themselves against the OAuth server (install, update)
  4. portal by member_id                 → 401, nothing queued
  5. constant-time application_token     → 401, nothing queued
  6. route lookup                        → unknown event: 200 "ignored" + a log line
  7. into the inbox with a deterministic job id, deduplicated, in ONE Redis call → 200
     (a worker's pump makes the RQ job: connector.pump)

No REST call happens here except the install proof. Framework-free: the route module turns
the HTTP request into an InboundRequest and the Answer back into a response.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from connector import bounded_json
from connector import queue as q
from connector.bitrix.errors import BitrixError
from connector.bitrix.events import NEUTRAL, UPDATES
from connector.bitrix.forms import FormError, parse_form
from connector.services import Services

log = logging.getLogger("connector.ingress")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TOKEN_KEYS = ("access_token", "refresh_token")


@dataclass
class InboundRequest:
    kind: str  # "event" | "robot"
    name: str  # robot code for robots; filled from the body for events
    method: str
    content_type: str
    body: bytes
    content_length: int | None = None


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    mime = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8")
    if mime == JSON:
        data = bounded_json.loads(text or "{}")
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        return data
    return parse_form(text)


def scrub(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as it may be stored in a job: no OAuth tokens, no application token."""
    clean = {k: v for k, v in payload.items() if k != "auth"}
    auth = payload.get("auth")
    if isinstance(auth, dict):
        clean["auth"] = {k: v for k, v in auth.items()
                         if k in ("member_id", "domain", "user_id", "status")}
    return clean


def accept(services: Services, req: InboundRequest) -> Answer:
    # 1. method and content
    if req.method != "POST":
        return Answer(405, {"error": "method_not_allowed", "allowed": "POST"})
    limit = services.settings.max_body_bytes
    if (req.content_length or len(req.body)) > limit or len(req.body) > limit:
        return Answer(413, {"error": "body_too_large", "limit": limit})
    mime = req.content_type.split(";")[0].strip().lower()
    if mime not in (FORM, JSON):
        return Answer(415, {"error": "unsupported_media_type", "expected": FORM})
    # 2. parse
    try:
        payload = parse_body(mime, req.body)
    except (ValueError, UnicodeDecodeError, FormError) as exc:
        return Answer(400, {"error": "malformed_body", "detail": str(exc)[:200]})
    auth = payload.get("auth")
    if not isinstance(auth, dict) or not auth.get("member_id"):
        return Answer(401, {"error": "no_auth", "detail": "auth[member_id] missing"})
    wrong = _misshapen(req.kind, payload)
    if wrong:
        return Answer(400, {"error": "malformed_body", "detail": wrong})
    member_id = auth["member_id"]
    name = req.name if req.kind == "robot" else str(payload.get("event", "")).upper()
    if req.kind == "event" and not name:
        return Answer(400, {"error": "malformed_body", "detail": "event name missing"})

    # 3. lifecycle events that carry their own proof
    if req.kind == "event" and name in ("ONAPPINSTALL", "ONAPPUPDATE"):
        return _accept_install_event(services, name, payload)

    # 4 + 5. portal and application token
    app_token = str(auth.get("application_token", ""))
    if not services.store.application_token_matches(member_id, app_token):
        log.warning("refused %s %s: unknown portal or wrong application_token (member %s)",
                     req.kind, name, member_id[:40])
        return Answer(401, {"error": "invalid_application_token"})

    # 6. route
    if req.kind == "event":
        return _route_event(services, member_id, name, payload)
    return _route_robot(services, member_id, name, payload)


TEXT_FIELDS = {"event": ("event", "ts"), "robot": ("event_token", "code", "ts")}
AUTH_TEXT = ("member_id", "domain", "application_token", "access_token", "refresh_token")


def _misshapen(kind: str, payload: dict[str, Any]) -> str:
    """Why the body's shape is not one Bitrix24 sends (a text where a list came, `data` that
    is not an object), or "" — so no later step meets a type it does not expect."""
    auth = payload["auth"]
    for key in AUTH_TEXT:
        if not isinstance(auth.get(key, ""), str):
            return f"auth[{key}] must be a text"
    for key in TEXT_FIELDS[kind]:
        if not isinstance(payload.get(key, ""), str | int):
            return f"{key} must be a text"
    if kind == "event" and not isinstance(payload.get("data") or {}, dict):
        return "data must be an object"
    return ""


def _route_event(services: Services, member_id: str, name: str, payload: dict[str, Any]
                 ) -> Answer:
    if name == "ONAPPUNINSTALL":
        clean = str((payload.get("data") or {}).get("CLEAN", "0")) == "1"
        cleanup = services.lifecycle.uninstall(services, member_id, clean)
        return Answer(200, {"ok": True, "uninstalled": True, "cleanup_job": cleanup})
    if services.registry.subscribers.get(NEUTRAL.get(name, "")) is None:
        log.info("ignored event %s from %s: no capability listens to it", name, member_id)
        return Answer(200, {"ok": True, "ignored": name})
    data = payload.get("data") or {}
    fields = data.get("FIELDS") if isinstance(data, dict) else None
    key = (fields or {}).get("ID", "") if isinstance(fields, dict) else ""
    if name in UPDATES:  # the job re-reads the item: updates of one item merge while queued
        jid = q.job_id("evt", member_id, name, key)
    else:
        jid = q.job_id("evt", member_id, name, key, payload.get("ts", ""), json.dumps(
            data, sort_keys=True))
    # 7. into the inbox
    res = services.queues.admit("event", name, member_id, scrub(payload), jid,
                                until_started=True)
    return Answer(200, {"ok": True, "job": res.job_id, "duplicate": not res.created})


def _route_robot(services: Services, member_id: str, code: str, payload: dict[str, Any]
                 ) -> Answer:
    token = str(payload.get("event_token", ""))
    if not token:
        return Answer(400, {"error": "malformed_body", "detail": "event_token missing"})
    if str(payload.get("code", code)) != code:
        return Answer(400, {"error": "malformed_body", "detail": "code does not match the URL"})
    # an unknown code is still queued: the job answers the workflow with a clear error
    jid = q.job_id("robot", member_id, token)
    res = services.queues.admit("robot", code, member_id, scrub(payload), jid)
    return Answer(200, {"ok": True, "job": res.job_id, "duplicate": not res.created})


def _accept_install_event(services: Services, name: str, payload: dict[str, Any]) -> Answer:
    try:
        grant = services.lifecycle.grant_from_event(payload)
    except ValueError as exc:  # e.g. auth[expires_in] that is no number of seconds
        return Answer(400, {"error": "malformed_body", "detail": str(exc)[:200]})
    try:
        portal = services.lifecycle.accept_grant(services, grant)
    except BitrixError as exc:
        log.warning("refused %s for member %s: %s", name, grant.member_id[:40], exc.description)
        return Answer(401, {"error": "install_not_proven", "detail": exc.description})
    data = payload.get("data") or {}
    version = str(data.get("VERSION", "")) if isinstance(data, dict) else ""
    jid = q.job_id("reconcile", portal.member_id, name, version, payload.get("ts", ""))
    res = services.queues.enqueue("connector.jobs.run_maintenance",
                                  ["reconcile", portal.member_id], jid, queue=q.MAINTENANCE,
                                  member_id=portal.member_id)
    return Answer(200, {"ok": True, "job": res.job_id, "duplicate": not res.created})
