"""What the capabilities want on an amoCRM account: one account webhook to the tenant's
secret address, subscribed to the codes of the neutral events someone listens to.

POST /api/v4/webhooks upserts by destination (amocrm.md §2.1), so reconciling twice
changes nothing; when no capability listens any more the webhook is removed
(DELETE with the destination), so amoCRM stops posting what nobody reads.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from connector.amocrm.domains import account_id_of
from connector.amocrm.errors import AmoError, AmoNotFound
from connector.amocrm.events import amocrm_events

HOOK_SORT = 10


def hook_secret(secret_key: str, member_id: str) -> str:
    """The tenant's secret path segment: account webhooks carry no signature (§2.4), so
    only who knows the address can post as the tenant."""
    return hmac.new(secret_key.encode(), f"amocrm-hook:{member_id}".encode(),
                    hashlib.sha256).hexdigest()[:40]


def hook_url(base_url: str, secret_key: str, member_id: str) -> str:
    account = account_id_of(member_id)
    return f"{base_url.rstrip('/')}/amocrm/hooks/{account}/{hook_secret(secret_key, member_id)}"


@dataclass
class Outcome:
    applied: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def reconcile_amo(registry: Any, client: Any, base_url: str, secret_key: str) -> Outcome:
    """Make the account's webhook match what the registry subscribes to."""
    out = Outcome()
    destination = hook_url(base_url, secret_key, client.member_id)
    codes = amocrm_events(set(registry.subscribers))
    try:
        if codes:
            client.post("/api/v4/webhooks", {"destination": destination, "settings": codes,
                                             "sort": HOOK_SORT})
            out.applied.append(f"webhook: {', '.join(codes)}")
        else:
            try:
                client.delete("/api/v4/webhooks", {"destination": destination})
                out.applied.append("webhook removed")
            except AmoNotFound:
                pass
    except AmoError as exc:
        out.errors["webhook"] = str(exc)
    return out
