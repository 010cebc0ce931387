"""timeline_note: write a comment into the CRM item's timeline (a note the robot leaves)."""

from __future__ import annotations

from typing import Any

from connector.capability import Capability
from connector.crm import port as crm
from connector.i18n import N_
from connector.triggers import DEAL, LEAD, Prop, RobotCall, RobotError, RobotSpec

MAX_COMMENT = 10_000


def run(ctx: Any, call: RobotCall) -> dict[str, Any]:
    ref = call.ref
    text = str(call.properties.get("text") or "").strip()
    if not text:
        raise RobotError(N_("the 'text' property is empty"))
    done = ctx.crm.apply({"note": crm.AddComment(ref, text[:MAX_COMMENT])})
    if "note" in done.errors:
        raise done.errors["note"]
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
