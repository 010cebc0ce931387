"""Leads, deals and smart-process items as distribution sees them: names and labels."""

from __future__ import annotations

from connector.crm.port import ItemRef
from connector.i18n import N_, t
from connector.triggers import RobotCall, RobotError

SERVED = ("lead", "deal")  # and item:<type id>


def label(lang: str, ref: ItemRef) -> str:
    """"lead #12" / "лид №12", as supervisors read it."""
    if ref.kind == "lead":
        return t(lang, N_("lead #{id}"), id=ref.id)
    if ref.kind == "deal":
        return t(lang, N_("deal #{id}"), id=ref.id)
    return t(lang, N_("item #{id} of type {type}"), id=ref.id, type=ref.kind.split(":")[-1])


def from_document(document_id: list[str]) -> ItemRef:
    """The item a robot runs on: leads, deals and smart-process items only."""
    call = RobotCall("", "", "", document_id, [], {})
    ref = call.ref
    if ref.kind not in SERVED and not ref.kind.startswith("item:"):
        raise RobotError(N_("unsupported document {document}: leads, deals and smart-process "
                            "items only"), document=document_id[-1] if document_id else "?")
    return ref
