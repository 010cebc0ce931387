"""amoCRM's side of install and ingress: the OAuth redirect, account webhooks at a
per-tenant secret address, digital-pipeline widget actions, Salesbot requests and the
disable hook.

The same one-way flow as Bitrix24's ingress: verify, admit into the inbox, answer at once
(amoCRM waits at most 2 s, amocrm.md §2.3); the worker re-reads every lead through the API,
so a forged body can name a lead but never change one. Only the OAuth redirect works
synchronously, like Bitrix24's installer: the admin is looking at the page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, render_template, request
from flask_babel import gettext

from connector import queue as q
from connector.amocrm import events
from connector.amocrm.domains import DomainRefused, member_id
from connector.amocrm.errors import AmoError
from connector.amocrm.oauth import connect_with_code, on_disabled, verify_disable_hook
from connector.amocrm.webhooks import WebhookRefused, parse_form, parse_webhook
from connector.amocrm.widget_token import TokenRefused, verify_bot_token
from install.amocrm_registrations import hook_secret, reconcile_amo

bp = Blueprint("amocrm", __name__, url_prefix="/amocrm")
log = logging.getLogger(__name__)
DP_LEAD = 2  # element_type of a lead in a DP body (amocrm.md §3.1); 12 is a customer
ROBOT_SETTING = "robot"  # the DP / Salesbot setting that names our step (amocrm_widget/)


def _services() -> Any:
    return current_app.extensions["connector"]


def _refuse(status: int, error: str, detail: str = "") -> Any:
    body = {"error": error, **({"detail": detail} if detail else {})}
    return jsonify(body), status


def _domain_of(account_id: int) -> str | None:
    portal = _services().store.get(member_id(account_id))
    return portal.domain if portal is not None and portal.status == "active" else None


def _active(member: str) -> bool:
    portal = _services().store.get(member)
    return portal is not None and portal.status == "active"


# install ---------------------------------------------------------------------------------
@bp.get("/oauth")
def oauth_redirect() -> Any:
    """amoCRM's redirect after the admin allowed access: code, referer, state (§1.2)."""
    services = _services()
    args = request.args
    if args.get("error"):
        return render_template("install_error.html", reason=gettext(
            "Access was not granted in amoCRM, so nothing was connected. Install the "
            "integration again and press «Allow»."), errors={}), 400
    code, referer = args.get("code", ""), args.get("referer", "")
    if not code or not referer:
        return render_template("install_error.html", reason=gettext(
            "amoCRM did not send an authorization code: open the integration in amoCRM "
            "and install it again."), errors={}), 400
    amo = services.amo()
    try:
        portal = connect_with_code(services.store, amo.oauth, referer, code, amo.account_of)
    except DomainRefused:
        return render_template("install_error.html", reason=gettext(
            "The address amoCRM named is not an amoCRM or Kommo account."), errors={}), 400
    except AmoError as exc:
        log.warning("amoCRM install for %s refused: %s", referer[:80], exc)
        return render_template("install_error.html", reason=gettext(
            "amoCRM did not accept the authorization code (it is valid for 20 minutes and "
            "only once): install the integration again."), errors={}), 401
    g.member_id = portal.member_id
    outcome = reconcile_amo(services.registry, amo.client(portal.member_id),
                            services.settings.public_base_url, services.settings.secret_key)
    from connector.jobs import ensure_periodic

    ensure_periodic(services, portal.member_id)
    if not outcome.ok:
        return render_template("install_error.html",
                               reason=gettext("Some registrations failed."),
                               errors=outcome.errors), 502
    return render_template("amocrm_connected.html", portal=portal,
                           applied=outcome.applied), 200


@bp.get("/disabled")
def disabled() -> Any:
    """The disable hook: amoCRM revoked our tokens; stop the tenant's work (§1.5)."""
    services = _services()
    s = services.settings
    try:
        account_id = verify_disable_hook(request.args, s.amocrm_client_id,
                                         s.amocrm_client_secret)
    except ValueError:
        return _refuse(401, "bad_signature")
    member = member_id(account_id)
    known = on_disabled(services.store, account_id)
    if known:  # the tenant's queued jobs, periodic chains and timers go (install/cleanup)
        services.queues.enqueue("connector.jobs.run_maintenance",
                                ["purge_portal", member, False],
                                q.job_id("purge", member, "disabled"), queue=q.MAINTENANCE,
                                until_started=True)
    return jsonify({"ok": True, "known": known})


# account webhooks ------------------------------------------------------------------------
def _secret_ok(member: str, secret: str) -> bool:
    expected = hook_secret(_services().settings.secret_key, member)
    return hmac.compare_digest(expected.encode(), secret.encode())


@bp.post("/hooks/<int:account_id>/<secret>")
def webhook(account_id: int, secret: str) -> Any:
    services = _services()
    member = member_id(account_id)
    if not _secret_ok(member, secret):
        log.warning("refused an amoCRM webhook for account %s: wrong secret", account_id)
        return _refuse(401, "unknown_destination")
    limit = services.settings.max_body_bytes
    if (request.content_length or 0) > limit:
        return _refuse(413, "body_too_large")
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _refuse(413, "body_too_large")
    try:
        delivery = parse_webhook(body, expect_account_id=account_id)
    except WebhookRefused as exc:
        return _refuse(400, "malformed_body", str(exc))
    if not _active(member):  # disabled or uninstalled: amoCRM's retries change nothing
        return jsonify({"ok": True, "ignored": "not installed"})
    digest = hashlib.sha256(body).hexdigest()[:16]
    admitted, ignored = [], []
    for rec in delivery.records:
        name = events.name_of(rec)
        if not services.registry.subscribers.get(events.NEUTRAL.get(name, "")):
            ignored.append(name)
            continue
        data = events.data_of(rec)
        # the job re-reads the lead, so its queued updates merge: amoCRM posts a change of
        # responsible as update_lead and responsible_lead, both the neutral deal.updated
        merge = name in events.UPDATES
        jid = (q.job_id("evt", member, events.NEUTRAL[name], rec.id) if merge
               else q.job_id("evt", member, name, rec.id, digest))
        res = services.queues.admit("event", name, member, {"event": name, "data": data},
                                    jid, until_started=merge)
        admitted.append(res.job_id)
    return jsonify({"ok": True, "jobs": admitted, "ignored": sorted(set(ignored))})


# digital pipeline and Salesbot -------------------------------------------------------------
def _json_or_form() -> dict[str, Any]:
    """amoCRM does not say how a DP body is encoded (§10.10): JSON, else a form."""
    raw = request.get_data(cache=True)
    if raw[:1] in (b"{", b"["):
        body = json.loads(raw)
        return body if isinstance(body, dict) else {}
    return parse_form(raw)


def robot_payload(code: str, token: str, lead_id: int, properties: dict[str, Any],
                  expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """A DP / Salesbot call in the shape robots take (connector.triggers.RobotCall)."""
    return {"code": code, "event_token": token,
            "document_id": ["crm", "CCrmDocumentDeal", f"DEAL_{lead_id}"],
            "document_type": ["crm", "CCrmDocumentDeal", "DEAL"],
            "properties": properties, **({"expect": expect} if expect else {})}


@bp.post("/dp")
def dp_action() -> Any:
    """A pipeline stage ran our widget's action (§3.1). No signature is documented: the
    account must be an installed tenant, and the worker acts only if the lead really sits
    in the status the body names (connector.jobs checks `expect`)."""
    services = _services()
    if (request.content_length or 0) > services.settings.max_body_bytes:
        return _refuse(413, "body_too_large")
    try:
        body = _json_or_form()
    except ValueError as exc:
        return _refuse(400, "malformed_body", str(exc)[:200])
    account = str(body.get("account_id", ""))
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    lead = str(data.get("id", ""))
    if not account.isdigit() or not lead.isdigit():
        return _refuse(400, "malformed_body", "account_id and event.data.id are needed")
    member = member_id(account)
    if not _active(member):
        return _refuse(403, "not_installed")
    if str(data.get("element_type", DP_LEAD)) != str(DP_LEAD):
        return jsonify({"ok": True, "ignored": "not a lead"})
    action = body.get("action") if isinstance(body.get("action"), dict) else {}
    widget = (action.get("settings") or {}).get("widget") or {}
    settings = widget.get("settings") if isinstance(widget.get("settings"), dict) else {}
    code = str(settings.get(ROBOT_SETTING, ""))
    if not code:
        return _refuse(400, "malformed_body", f"the action's «{ROBOT_SETTING}» is not set")
    properties = {k: v for k, v in settings.items() if k != ROBOT_SETTING}
    run = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:20]
    token = f"dp:{lead}:{run}"
    expect = {k: str(data[k]) for k in ("status_id", "pipeline_id") if data.get(k)}
    res = services.queues.admit("robot", code, member,
                                robot_payload(code, token, int(lead), properties, expect),
                                q.job_id("robot", member, token))
    return jsonify({"ok": True, "job": res.job_id, "duplicate": not res.created})


@bp.post("/salesbot")
def salesbot() -> Any:
    """Salesbot's widget_request (§3.2): the JWT is signed with our client secret; the bot
    waits until the worker posts to its return_url (the trigger's answer)."""
    services = _services()
    s = services.settings
    try:
        body = _json_or_form()
    except ValueError as exc:
        return _refuse(400, "malformed_body", str(exc)[:200])
    try:
        claims = verify_bot_token(str(body.get("token", "")),
                                  client_secret=s.amocrm_client_secret,
                                  domain_of=_domain_of)
    except TokenRefused as exc:
        return _refuse(401, "bad_token", str(exc))
    member = member_id(claims.account_id)
    if not _active(member):
        return _refuse(403, "not_installed")
    parts = urlsplit(str(body.get("return_url", ""))).path.rstrip("/").split("/")
    if len(parts) < 4 or parts[-2] != "continue" or not parts[-1].isdigit() \
            or not parts[-3].isdigit():
        return _refuse(400, "malformed_body", "return_url is not a Salesbot continue address")
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    code = str(data.get(ROBOT_SETTING, ""))
    if not code or claims.entity_type != "lead":
        return _refuse(400, "malformed_body", "data.robot and a lead are needed")
    token = f"salesbot:{parts[-3]}:{parts[-1]}:{claims.entity_id}"
    properties = {k: v for k, v in data.items() if k != ROBOT_SETTING}
    res = services.queues.admit("robot", code, member,
                                robot_payload(code, token, claims.entity_id, properties),
                                q.job_id("robot", member, token))
    return jsonify({"ok": True, "job": res.job_id, "duplicate": not res.created})
