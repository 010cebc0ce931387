"""Uninstall clean-up, run as a maintenance job so ONAPPUNINSTALL answers in O(1).

The request path only drops the tokens and marks the portal uninstalled (its application
token is refused from then on); this job removes the rest. Everything here is batched:
queued jobs are matched by id (see `Queues.purge_portal`) and, for a clean uninstall, the
portal's keys are found with SCAN (count=1000) and UNLINKed one pipeline per batch, so no
command walks the whole keyspace at once or blocks Redis.

A portal that is installed again before or while this runs keeps its new data: the job
checks before each batch that the portal is still uninstalled (or gone) and stops if not.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from connector.bitrix.store import UNINSTALLED
from connector.services import Services

log = logging.getLogger(__name__)

SCAN_COUNT = 1000


def still_uninstalled(services: Services, member_id: str) -> bool:
    """True while nobody has reinstalled the portal since the uninstall (or it is gone)."""
    status = services.redis.hget(services.store.key(member_id), "status")
    return status is None or status.decode() == UNINSTALLED


def owned_by(member_id: str) -> re.Pattern[str]:
    """Keys that name this portal as a whole segment (`cc:journal:<id>`, `…-<id>-…`).

    SCAN's glob `*<id>*` would also match a longer member id that contains this one.
    """
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(member_id)}(?![A-Za-z0-9_])")


def _glob(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def purge_portal(services: Services, member_id: str, clean: bool) -> dict[str, Any]:
    """Remove an uninstalled portal's queued jobs; with clean=True every key it owns too."""
    if not still_uninstalled(services, member_id):
        log.info("clean-up of %s skipped: the portal was installed again", member_id)
        return {"skipped": "installed again"}
    jobs = services.queues.purge_portal(member_id, batch=SCAN_COUNT)
    keys = 0
    if clean:  # the record, settings, journal, counters, pins, Drive state, dedup markers
        services.portal_settings.delete(member_id)
        services.store.delete(member_id)
        keys = _unlink_owned_keys(services, member_id)
    log.info("portal %s cleaned up (clean=%s): %d queued jobs, %d keys", member_id, clean,
             jobs, keys)
    return {"jobs": jobs, "keys": keys}


def _unlink_owned_keys(services: Services, member_id: str) -> int:
    pattern = f"{services.settings.queue_prefix}:*{_glob(member_id)}*"
    owned = owned_by(member_id)
    removed = 0
    cursor = 0
    while True:
        cursor, found = services.redis.scan(cursor, match=pattern, count=SCAN_COUNT)
        batch = [k for k in found if owned.search(k.decode(errors="replace"))]
        if batch:
            if not still_uninstalled(services, member_id):
                log.warning("clean-up of %s stopped: the portal was installed again", member_id)
                break
            with services.redis.pipeline(transaction=False) as pipe:
                for key in batch:  # one key per command: also right on a Redis Cluster
                    pipe.unlink(key)
                removed += sum(pipe.execute())
        if cursor == 0:
            break
    return removed
