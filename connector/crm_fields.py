"""The portal's custom fields of a kind, read from the CRM at most every ten minutes and
shared by every capability that checks an admin's mapping against them (registries,
profitability): one read per portal and kind, not one per capability."""

from __future__ import annotations

import json
from typing import Any

from connector.crm.port import CustomFields

FIELDS_TTL_S = 600


def _key(ctx: Any, kind: str) -> str:
    return f"{ctx.services.settings.queue_prefix}:crm_fields:{ctx.tenant.key}:{kind}"


def item_fields(ctx: Any, kind: str = "deal") -> set[str]:
    """The names of the custom fields items of `kind` have on the portal."""
    key = _key(ctx, kind)
    if (raw := ctx.redis.get(key)) is not None:
        return set(json.loads(raw))
    names = set(ctx.crm.read({"f": CustomFields(kind)}).get("f"))
    ctx.redis.set(key, json.dumps(sorted(names)), ex=FIELDS_TTL_S)
    return names


def forget_item_fields(ctx: Any, kind: str = "deal") -> None:
    """Read them again next time (the admin may just have created a field)."""
    ctx.redis.delete(_key(ctx, kind))
