"""Install, update and uninstall: save a portal only after the OAuth server vouches for it.

The installer page and ONAPPINSTALL/ONAPPUPDATE carry tokens we cannot compare with anything
stored (first contact, or a rotated application_token). We trust them only when the OAuth
server named by B24_OAUTH_SERVER says the access token was issued to this app, for this
member_id and domain, and the portal's own `profile` (at the endpoint the OAuth server gave)
says its user is an admin — an ordinary user's iframe token cannot re-key a portal.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import requests

from connector.bitrix.errors import BitrixError, error_for
from connector.bitrix.oauth import InstallProofError, prove_install
from connector.bitrix.store import ACTIVE, UNINSTALLED, Portal, Tokens
from connector.i18n import N_
from connector.queue import MAINTENANCE, job_id
from connector.services import Services

log = logging.getLogger(__name__)


@dataclass
class Grant:
    """Tokens and identity as a portal handed them to us (installer page or event)."""

    member_id: str
    domain: str | None
    access_token: str
    refresh_token: str
    expires_in: float
    application_token: str
    scope: str = ""
    language: str = ""  # LANGUAGE_ID (event) or LANG (installer frame)


def _profile(session: requests.Session, client_endpoint: str, token: str, timeout: float
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token user's profile and the portal's app.info (licence), in one request."""
    resp = session.post(client_endpoint.rstrip("/") + "/batch.json",
                        json={"auth": token, "halt": 0,
                              "cmd": {"profile": "profile", "app": "app.info"}},
                        timeout=timeout, allow_redirects=False)
    try:
        body = resp.json()
    except ValueError:
        body = {}
    results = (body.get("result") or {}).get("result") if isinstance(body, dict) else None
    if resp.status_code != 200 or not isinstance(results, dict) or not isinstance(
            results.get("profile"), dict):
        errors = (body.get("result") or {}).get("result_error") or {} if isinstance(
            body.get("result"), dict) else {}
        err = (errors.get("profile") if isinstance(errors, dict) else None) or body
        raise error_for(str(err.get("error") or f"HTTP_{resp.status_code}"),
                        str(err.get("error_description", "")), resp.status_code, "profile")
    app = results.get("app") if isinstance(results.get("app"), dict) else {}
    return results["profile"], app


def accept_grant(services: Services, grant: Grant, from_frame: bool = False) -> Portal:
    """Prove the grant, then store the portal, its tokens and its application token.

    Only ONAPPINSTALL/ONAPPUPDATE (`from_frame=False`) may change an installed portal's
    application token: a frame (the installer page) with a valid admin token and some other
    APPLICATION_TOKEN would otherwise re-key the portal, and its genuine events would be
    refused until a reinstall. The event flow changing it is told to the portal's admins.
    """
    if not grant.member_id or not grant.access_token or not grant.application_token:
        raise InstallProofError("PROOF_FAILED", N_("member_id, token or application_token missing"),
                                400, "install")
    info = prove_install(services.oauth, grant.access_token, grant.member_id, grant.domain)
    install = info.get("install") or {}
    client_endpoint = str(install.get("client_endpoint") or "")
    if not client_endpoint.startswith(("https://", "http://")):
        raise InstallProofError("PROOF_FAILED", N_("OAuth server gave no client endpoint"), 401,
                                "app.info")
    try:
        profile, app = _profile(services.session, client_endpoint, grant.access_token,
                                services.settings.rest_timeout_s)
    except BitrixError as exc:
        raise InstallProofError("PROOF_FAILED", f"profile refused the token: {exc.code}", 401,
                                "profile") from exc
    if not profile.get("ADMIN"):
        raise InstallProofError("PROOF_FAILED", N_("only a portal administrator can install"), 403,
                                "profile")
    existing = services.store.get(grant.member_id)
    portal = existing or Portal(member_id=grant.member_id, installed_at=time.time())
    portal.domain = str(install.get("domain") or grant.domain or "")
    portal.client_endpoint = client_endpoint
    portal.server_endpoint = services.settings.oauth_rest_url
    portal.scope = str(install.get("scope") or info.get("scope") or grant.scope)
    portal.user_id = str(info.get("user_id") or profile.get("ID") or "")
    portal.version = str(install.get("version") or "")
    portal.license_family = str(app.get("LICENSE_FAMILY") or "")
    portal.status, portal.status_reason = ACTIVE, ""
    portal.language = grant.language.strip().lower()[:8] or portal.language
    installed = existing is not None and existing.status == ACTIVE and \
        services.store.has_application_token(grant.member_id)
    rekeyed = installed and not services.store.application_token_matches(
        grant.member_id, grant.application_token)
    services.store.save(portal)
    if rekeyed and from_frame:
        log.warning("portal %s: a frame carried another application token; the stored one "
                    "stays (only the install and update events change it)", portal.member_id)
    else:
        services.store.set_application_token(grant.member_id, grant.application_token)
    if rekeyed and not from_frame:
        services.queues.enqueue(
            "connector.jobs.run_maintenance", ["tell_admins_rekeyed", grant.member_id,
                                               {"at": time.time()}],
            job_id("rekeyed", grant.member_id, services.store.token_digest(
                grant.application_token)), queue=MAINTENANCE, member_id=grant.member_id)
    if grant.refresh_token:
        services.store.save_tokens(grant.member_id, Tokens(
            grant.access_token, grant.refresh_token, time.time() + grant.expires_in))
    log.info("portal %s (%s) installed/updated by user %s", portal.member_id, portal.domain,
             portal.user_id)
    return portal


DEFAULT_LIFETIME_S = 3600
_SECONDS = re.compile(r"[0-9]{1,7}")  # ASCII digits only, at most ~115 days


def lifetime_s(value: Any, field: str) -> float:
    """A token's lifetime as the portal sent it (AUTH_EXPIRES, auth[expires_in]): whole
    seconds, or the usual hour when absent. Anything else is a ValueError naming `field`,
    which the caller answers with 400 — before any proof is attempted."""
    if value is None or value == "":
        return float(DEFAULT_LIFETIME_S)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SECONDS.fullmatch(value):
        raise ValueError(f"{field} must be a whole number of seconds")
    return float(int(value))


def grant_from_event(payload: dict[str, Any]) -> Grant:
    """The grant an ONAPPINSTALL/ONAPPUPDATE body carries; ValueError when it is misshapen."""
    auth = payload.get("auth") or {}
    return Grant(
        member_id=str(auth.get("member_id", "")),
        domain=str(auth.get("domain", "")) or None,
        access_token=str(auth.get("access_token", "")),
        refresh_token=str(auth.get("refresh_token", "")),
        expires_in=lifetime_s(auth.get("expires_in"), "auth[expires_in]"),
        application_token=str(auth.get("application_token", "")),
        scope=str(auth.get("scope", "")),
        language=str(data.get("LANGUAGE_ID", "")) if isinstance(
            data := payload.get("data"), dict) else "",
    )


def uninstall(services: Services, member_id: str, clean: bool) -> str:
    """ONAPPUNINSTALL, on the request path: O(1) work here, the rest in a clean-up job.

    Dropping the tokens removes the application token's digest, so the portal's events are
    refused at once; the job (install/cleanup.py) removes its queued jobs and, with
    clean=True, everything it owns. Returns the clean-up job's id.
    """
    services.store.drop_tokens(member_id)
    services.store.set_status(member_id, UNINSTALLED, "app removed from the portal")
    job = services.queues.enqueue(
        "connector.jobs.run_maintenance", ["purge_portal", member_id, clean],
        job_id("purge", member_id, clean), queue=MAINTENANCE,
        until_started=True)  # no member_id: a later clean-up must not purge this one
    log.info("portal %s uninstalled (clean=%s), clean-up job %s", member_id, clean, job.job_id)
    return job.job_id


REKEYED = N_("crm-connector: the app on this portal was updated or installed again and got a "
             "new key (application token) on {when}. If nobody on your portal did that, "
             "reinstall the app from Bitrix24 Market.")


def tell_admins_rekeyed(services: Services, member_id: str, arg: dict[str, Any]) -> dict[str, Any]:
    """The notice an event's new application token sends (a maintenance job, so the event
    is answered at once): to the admins named in general.admin_user_ids, else to the admin
    who installed the app."""
    from connector.context import JobContext
    from connector.crm.port import NotifyUser
    from connector.i18n import t, when

    ctx = JobContext.load(services, member_id, "rekeyed", "core")
    if ctx is None or ctx.portal.status != ACTIVE:
        return {"skipped": "not active"}
    admins = [int(u) for u in ctx.settings["general"]["admin_user_ids"]] or (
        [int(ctx.portal.user_id)] if str(ctx.portal.user_id).isdigit() else [])
    text = t(ctx.lang, REKEYED, when=when(float(arg.get("at") or time.time()), ctx.lang,
                                          ctx.tz, "short"))
    if admins:
        ctx.crm.apply({f"tell{uid}": NotifyUser(uid, text, tag="cc-rekeyed") for uid in admins})
    return {"told": admins}
