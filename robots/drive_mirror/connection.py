"""Each portal's Google connection: a user's refresh token or a service-account key.

Stored encrypted with the same Fernet key as the Bitrix24 tokens, never logged, never in
job arguments. A revoked connection is marked so the admin sees "reconnect" instead of a
stream of failed jobs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from connector import frames
from connector.crm.port import Tenant, tenant_of
from connector.errors import Permanent
from connector.gdrive.credentials import service_account_credentials, user_credentials
from connector.gdrive.mirror import DriveStore
from connector.gdrive.service import build_drive
from connector.services import Services

LINK_TTL_S = 15 * 60


class NotConnected(Permanent):
    """No usable Google connection for this portal; the text tells the admin what to do."""


def key(services: Services, tenant: Tenant | str) -> str:
    """In the capability's key space of the tenant (a member id when given a str)."""
    tenant = tenant if isinstance(tenant, Tenant) else tenant_of(tenant)
    return f"{services.settings.queue_prefix}:drive_mirror:{tenant.key}:connection"


def save(services: Services, tenant: Tenant | str, kind: str, secret: dict[str, Any],
         account: str = "") -> None:
    blob = services.store.fernet.encrypt(json.dumps(secret).encode()).decode()
    services.redis.set(key(services, tenant), json.dumps({
        "kind": kind, "secret": blob, "account": account, "connected_at": time.time(),
        "status": "connected", "reason": ""}))


def status(services: Services, tenant: Tenant | str) -> dict[str, Any]:
    raw = services.redis.get(key(services, tenant))
    if not raw:
        return {"status": "not_connected"}
    data = json.loads(raw)
    data.pop("secret", None)
    return data


def mark_revoked(services: Services, tenant: Tenant | str, reason: str) -> None:
    raw = services.redis.get(key(services, tenant))
    if raw:
        data = json.loads(raw)
        data.update(status="needs_reconnect", reason=reason)
        services.redis.set(key(services, tenant), json.dumps(data))


def drive_for(services: Services, tenant: Tenant | str, shared_drive_id: str = "") -> DriveStore:
    """A DriveStore with this portal's credentials (fake Drive in tests via GOOGLE_API_ROOT)."""
    raw = services.redis.get(key(services, tenant))
    if not raw:
        raise NotConnected("Google Drive is not connected: an admin opens the app and "
                           "connects a Google account, or an operator stores a service "
                           "account key (crm-connector drive service-account)")
    data = json.loads(raw)
    if data.get("status") == "needs_reconnect":
        raise NotConnected(f"Google Drive access was revoked ({data.get('reason')}): "
                           "reconnect the Google account")
    secret = json.loads(services.store.fernet.decrypt(data["secret"].encode()))
    s = services.settings
    if data["kind"] == "service_account":
        creds = service_account_credentials(secret, token_uri=s.google_token_uri or None)
    else:
        creds = user_credentials(secret["refresh_token"], s.google_client_id,
                                 s.google_client_secret, token_uri=s.google_token_uri)
    service = build_drive(creds, root_url=s.google_api_root or None)
    return DriveStore(service, shared_drive_id or None)


# signed links: the Google Drive page hands an admin a link to start the Google consent -----
def connect_token(services: Services, member_id: str, now: float | None = None,
                  user_id: str = "") -> str:
    """A Google connect link's token (connector.frames), bound to the portal and an admin:
    `user_id`, or for an operator's link (CLI) the admin who installed the app."""
    portal = services.store.get(member_id)
    return frames.sign(services.settings.secret_key, member_id,
                       user_id or (portal.user_id if portal else ""),
                       frames.GOOGLE_CONNECT, admin=True, ttl_s=LINK_TTL_S, now=now)


def disconnect(services: Services, tenant: Tenant | str) -> bool:
    """Drop the stored Google credential (the admin disconnects); True if there was one.
    Files already on Drive stay there; new copies wait for a new connection."""
    return bool(services.redis.delete(key(services, tenant)))
