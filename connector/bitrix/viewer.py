"""Who opened a frame, and what they may read: asked of the portal with the viewer's token.

A frame's member_id and APPLICATION_TOKEN only say which installation it belongs to: the
application token reaches every user's browser, so it proves nothing about the viewer. The
frame's AUTH_ID is the viewer's own OAuth token (api-reference/widgets/_includes/
widget_data.md). `profile` (api-reference/common/users/profile.md: no scope, any user)
called with it at the client_endpoint stored for the portal — never an address from the
request — answers only for a user of that portal: another portal's token is NO_AUTH_FOUND
there, an expired one expired_token, an inactive user an empty result. A confirmed
(portal, token) is cached for a minute under a hash of the token, so a render costs at most
one `profile` and one read of the item.

Framework-free; the calls go through the REST transport (shared rate limit, a renamed
portal's redirect followed and stored) with the viewer's token, which is never refreshed,
stored or logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from connector.bitrix.errors import (
    BitrixAccessDenied,
    BitrixError,
    BitrixNotFound,
    BitrixRetryableError,
    TokenExpired,
)
from connector.bitrix.ratelimit import plan_for
from connector.bitrix.rest import BitrixClient, RetryPolicy
from connector.bitrix.store import Portal, PortalStore, Tokens

log = logging.getLogger(__name__)

VIEWER_CACHE_S = 60
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class Viewer:
    """A confirmed user of a portal."""

    user_id: str
    admin: bool
    confirmed: float = 0.0  # when the portal vouched for this viewer (0: now)


class _FrameToken:
    """The token source BitrixClient asks for: one frame's AUTH_ID, never refreshed."""

    def __init__(self, store: PortalStore, auth_id: str):
        self.store = store  # the transport records a renamed portal's new address here
        self._auth_id = auth_id

    def current(self, member_id: str) -> Tokens:
        return Tokens(self._auth_id, "", math.inf)

    def refresh(self, member_id: str, tokens: Tokens) -> Tokens:
        raise TokenExpired("expired_token", "the frame's token has expired", 401)


def viewer_client(services: Any, portal: Portal, auth_id: str) -> BitrixClient:
    s = services.settings
    return BitrixClient(portal.member_id, portal.client_endpoint,
                        _FrameToken(services.store, auth_id),  # type: ignore[arg-type]
                        services.bucket, services.session, plan=plan_for(portal.license_family),
                        retry=RetryPolicy(max_retries=1, backoff_s=s.rest_backoff_s),
                        timeout=min(s.rest_timeout_s, 10.0))


def _cache_key(services: Any, member_id: str, auth_id: str) -> str:
    digest = hashlib.sha256(f"{member_id}\0{auth_id}".encode()).hexdigest()
    return f"{services.settings.queue_prefix}:viewer:{member_id}:{digest}"


def confirm(services: Any, portal: Portal, auth_id: str) -> Viewer | None:
    """The portal's user whose token `auth_id` is, or None if the portal does not vouch.

    Raises BitrixRetryableError when the portal could not be asked (the page says "try
    again", not "not authorised").
    """
    if not auth_id or len(auth_id) > MAX_TOKEN_CHARS or not portal.client_endpoint:
        return None
    key = _cache_key(services, portal.member_id, auth_id)
    cached = services.redis.get(key)
    if cached:
        return Viewer(**json.loads(cached))
    try:
        result = viewer_client(services, portal, auth_id).call("profile")
    except BitrixRetryableError:
        raise
    except BitrixError as exc:
        log.info("frame token of portal %s refused by profile: %s", portal.member_id, exc.code)
        return None
    user_id = str(result.get("ID") or "") if isinstance(result, dict) else ""
    if not user_id.isdigit():  # [] for an inactive user
        return None
    viewer = Viewer(user_id, result.get("ADMIN") in (True, "Y"), time.time())
    services.redis.set(key, json.dumps(asdict(viewer)), ex=VIEWER_CACHE_S)
    return viewer


def may_read(services: Any, portal: Portal, auth_id: str, method: str, item_id: int) -> bool:
    """Whether the viewer may read the item: the portal's own `<method>` with their token.

    crm.deal.get answers an empty code with "Access denied" to a user without the right
    (api-reference/crm/deals/crm-deal-get.md) and "Not found" for a missing deal; both
    mean there is nothing to show. Raises BitrixRetryableError when the portal is away.
    """
    try:
        result = viewer_client(services, portal, auth_id).call(method, {"id": item_id})
    except (BitrixAccessDenied, BitrixNotFound, TokenExpired):
        return False
    except BitrixRetryableError:
        raise
    except BitrixError as exc:
        log.info("%s %s for a viewer of %s refused: %s", method, item_id, portal.member_id,
                 exc.code)
        return False
    return isinstance(result, dict) and str(result.get("ID")) == str(item_id)
