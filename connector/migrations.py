"""Moving what older versions stored to where this version looks for it.

Capability keys used to be keyed by the Bitrix24 member_id under a name of each
capability's own ("dist", "deals", "gdrive"); now they live under the capability's name
and the CRM-neutral tenant (`<prefix>:<capability>:b24:<member_id>:…`). The move is a
batched SCAN and RENAMENX per portal, run once per deployment by the first worker that
starts (a Redis marker), and again by `crm-connector migrate`; a key already present at the
new place is never overwritten.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
MARKER = "migrations:crm-neutral-keys"


def move_tenant_keys(services: Any, member_id: str) -> int:
    """Rename one portal's legacy capability keys; returns how many moved."""
    prefix = services.settings.queue_prefix
    moved = 0
    for cap in services.registry.capabilities:
        if not cap.legacy_keyspace:
            continue
        old = f"{prefix}:{cap.legacy_keyspace}:{member_id}"
        new = f"{prefix}:{cap.name}:b24:{member_id}"
        keys = [k.decode() for k in services.redis.scan_iter(f"{old}:*", count=1000)]
        if services.redis.exists(old):
            keys.append(old)
        for start in range(0, len(keys), 500):
            with services.redis.pipeline(transaction=False) as pipe:
                for key in keys[start:start + 500]:
                    pipe.renamenx(key, new + key[len(old):])
                moved += sum(1 for ok in pipe.execute() if ok)
    return moved


def migrate_all(services: Any, force: bool = False) -> dict[str, int]:
    """Every portal's keys, once per deployment unless forced."""
    marker = f"{services.settings.queue_prefix}:{MARKER}"
    if not force and not services.redis.set(marker, "1", nx=True):
        return {}
    done = {}
    for portal in services.store.all():
        done[portal.member_id] = move_tenant_keys(services, portal.member_id)
    if any(done.values()):
        log.info("moved legacy keys to CRM-neutral ones: %s", done)
    return done
