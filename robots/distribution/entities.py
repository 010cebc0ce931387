"""Leads, deals and smart-process items as distribution sees them: names and labels."""

from __future__ import annotations

from connector.crm.port import ItemRef
from connector.history import item_label
from connector.i18n import N_
from connector.triggers import RobotCall, RobotError

SERVED = ("lead", "deal")  # and item:<type id>


label = item_label  # one way to name an item, the core's


def from_document(document_id: list[str]) -> ItemRef:
    """The item a robot runs on: leads, deals and smart-process items only."""
    call = RobotCall("", "", "", document_id, [], {})
    ref = call.ref
    if ref.kind not in SERVED and not ref.kind.startswith("item:"):
        raise RobotError(N_("unsupported document {document}: leads, deals and smart-process "
                            "items only"), document=document_id[-1] if document_id else "?")
    return ref
