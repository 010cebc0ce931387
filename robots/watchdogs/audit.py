"""The watchdogs' audit: every step taken or skipped, with the reason in words, for the admin.

One capped Redis list per portal, newest first; entries keep msgids and their placeholders so
the page renders them in the reader's language (connector.history.render).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from connector import capped
from connector.crm.port import ItemRef

MAX_ENTRIES = 20000


def record(redis: Any, key: str, rule_id: str, kind: str, ref: ItemRef, step: str,
           outcome: str, msgid: str, params: Mapping[str, Any], days: int,
           now: float | None = None, names: Mapping[int, str] | None = None) -> None:
    """outcome: "done" | "skipped" | "stopped" (the watch ended: reacted, closed, gone).

    `names`: the people the step reached as the CRM named them then, so a page that reads
    no CRM (the deal tab) still says who."""
    entry = {"ts": time.time() if now is None else now, "rule": rule_id, "kind": kind,
             "ref": ref.label, "step": step, "outcome": outcome, "msgid": str(msgid),
             "params": {k: v if isinstance(v, int | float) else str(v)
                        for k, v in params.items()}}
    if names:
        entry["names"] = {str(uid): str(name) for uid, name in names.items()}
    capped.add(redis, key, entry, MAX_ENTRIES, days * 86400)


def entries(redis: Any, key: str, rule_id: str = "", outcome: str = "", limit: int = 200,
            scan: int = 5000) -> list[dict[str, Any]]:
    """The newest entries, filtered by rule and outcome (scanning at most `scan`)."""
    out = []
    for raw in redis.lrange(key, 0, scan - 1):
        entry = json.loads(raw)
        if (rule_id and entry["rule"] != rule_id) or (outcome and entry["outcome"] != outcome):
            continue
        out.append(entry)
        if len(out) >= limit:
            break
    return out
