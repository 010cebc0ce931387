"""What the watchdogs see as overdue now, for other capabilities (a management digest).

An item is overdue when a rule that waits for people (a reaction to a new item, a next
activity on a deal) has already missed a deadline on it and still watches it: a step of its
current watch was done (a reminder, an escalation) and the item has not reacted since. Read
from the engine's own state in Redis (the pending steps and each pair's memory): no CRM call.
"""

from __future__ import annotations

import json
import time
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from robots.watchdogs import config
from robots.watchdogs.watch import _mkey, due_key

WAITING_KINDS = ("reaction", "next_activity")  # rules whose steps follow a missed deadline
LATE_S = 300  # a step this late and not done yet (workers down) counts as missed too
SCAN = 5000  # pending steps looked at, at most (each is one field read, pipelined)


def overdue(ctx: JobContext, limit: int = 5, now: float | None = None
            ) -> dict[str, Any] | None:
    """None when no enabled rule waits for people; else {"count": items overdue,
    "items": the `limit` worst, as {"ref": "deal/7", "rule": its name, "missed": steps
    done, "since": when the watch's next step is due}}: most missed steps first, then the
    longest waiting."""
    now = time.time() if now is None else now
    wctx = ctx.of(config.NAME)
    rules = {rule["id"]: rule for kind, rule in config.all_rules(ctx.settings)
             if kind in WAITING_KINDS}
    if not rules:
        return None
    members = [(raw.decode(), at) for raw, at in
               wctx.redis.zrange(due_key(wctx), 0, SCAN - 1, withscores=True)]
    members = [(m, at) for m, at in members if m.split("|", 1)[0] in rules]
    with wctx.redis.pipeline(transaction=False) as pipe:
        for member, _at in members:
            rid, kind, item_id = member.split("|")
            pipe.hmget(_mkey(wctx, rid, crm.ItemRef(kind, int(item_id))), "m", "n")
        states = pipe.execute() if members else []
    found = []
    for (member, at), (raw_m, raw_n) in zip(members, states, strict=True):
        rid, kind, item_id = member.split("|")
        nxt = json.loads(raw_n) if raw_n else {}
        anchor = str(nxt.get("key") or "|").rsplit("|", 1)[0]
        done = json.loads(raw_m).get("done", []) if raw_m else []
        missed = [d for d in done if d.startswith(f"{anchor}|") and not d.endswith("|offer")]
        if missed or at < now - LATE_S:
            found.append({"ref": f"{kind}/{item_id}", "rule": rules[rid]["name"],
                          "missed": len(missed) or 1, "since": at})
    # an item two rules watch is one overdue item: its worst entry stands for it
    worst: dict[str, dict[str, Any]] = {}
    for entry in sorted(found, key=lambda e: (-e["missed"], e["since"])):
        worst.setdefault(entry["ref"], entry)
    return {"count": len(worst), "items": list(worst.values())[:limit]}
