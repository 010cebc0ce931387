"""timeline_note: write a comment into the CRM item's timeline (a note the robot leaves)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from connector.capability import Capability
from connector.crm import port as crm
from connector.i18n import N_
from connector.triggers import DEAL, LEAD, Prop, RobotCall, RobotError, RobotSpec

MAX_COMMENT = 10_000
WRITTEN_TTL_S = 7 * 24 * 3600  # longer than any retry of the robot's job
CLOCK_SKEW_S = 300  # the portal's clock may lag ours: look for the note from a bit earlier


def run(ctx: Any, call: RobotCall) -> dict[str, Any]:
    ref = call.ref
    text = str(call.properties.get("text") or "").strip()
    if not text:
        raise RobotError(N_("the 'text' property is empty"))
    # a timeline comment has no idempotency key: a retry after the comment was written (a
    # worker killed before the robot was answered, or while the portal wrote it) must answer
    # with it, not write another. A note of the same text another run left on the item in
    # those minutes would be taken for it: two identical notes at once read as one anyway.
    run = hashlib.sha256(call.event_token.encode()).hexdigest()[:32]
    written, writing = ctx.key("written", run), ctx.key("writing", run)
    if (known := ctx.redis.get(written)) is not None:
        return {"comment_id": int(known)}
    note = text[:MAX_COMMENT]
    if (began := ctx.redis.get(writing)) is not None:  # killed while writing: did it land?
        since = datetime.fromtimestamp(float(began) - CLOCK_SKEW_S, UTC)
        found = ctx.crm.read({"c": crm.FindComment(ref, note, since.isoformat("T", "seconds"))})
        if comment_id := found.get("c"):
            ctx.redis.set(written, comment_id, ex=WRITTEN_TTL_S)
            return {"comment_id": comment_id}
    else:
        ctx.redis.set(writing, time.time(), ex=WRITTEN_TTL_S)
    done = ctx.crm.apply({"note": crm.AddComment(ref, note)})
    if "note" in done.errors:
        raise done.errors["note"]
    ctx.redis.set(written, int(done.values["note"]), ex=WRITTEN_TTL_S)
    return {"comment_id": done.values["note"]}


SPEC = RobotSpec(
    code="timeline_note",
    name=N_("Timeline note"),
    description=N_("Adds a comment to the lead's or deal's timeline"),
    run=run,
    properties={"text": Prop(N_("Text"), "text", required=True)},
    return_properties={"comment_id": Prop(N_("Comment ID"), "int")},
    document_types=(LEAD, DEAL),
)

CAPABILITY = Capability(name="timeline_note", title=N_("Timeline note"), triggers=(SPEC,),
                        scopes=frozenset({"crm"}))
