"""timeline_note: write a comment into the CRM item's timeline (a note the robot leaves)."""

from __future__ import annotations

from typing import Any

from connector.i18n import N_
from robots.spec import DEAL, LEAD, Prop, RobotCall, RobotError, RobotSpec

MAX_COMMENT = 10_000


def run(ctx: Any, call: RobotCall) -> dict[str, Any]:
    kind, entity_id = call.entity
    text = str(call.properties.get("text") or "").strip()
    if not text:
        raise RobotError("the 'text' property is empty")
    comment_id = ctx.rest.call("crm.timeline.comment.add", {"fields": {
        "ENTITY_ID": entity_id, "ENTITY_TYPE": kind.lower(), "COMMENT": text[:MAX_COMMENT],
    }})
    return {"comment_id": comment_id}


SPEC = RobotSpec(
    code="timeline_note",
    name=N_("Timeline note"),
    description=N_("Adds a comment to the lead's or deal's timeline"),
    run=run,
    properties={"text": Prop(N_("Text"), "text", required=True)},
    return_properties={"comment_id": Prop(N_("Comment ID"), "int")},
    document_types=(LEAD, DEAL),
)
