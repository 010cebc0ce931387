"""Documents from .docx templates filled from a deal, declared: the robot generate_document,
the registry of numbers in the portal, the PDF on its own queue, the check step, the deal
tab's list (see docs/documents.md).

Modules: formatting, names, context (the template's data), usage and render (the sandboxed
fill in a limited child), kinds and shipped (the catalogue and its templates), numbers
(gapless sequences), config, registry, records, uploads, make (one document end to end),
steps (PDF and checking), card and panels (the deal tab and the admin page).
"""

from __future__ import annotations

from typing import Any

from connector.capability import Capability, Event, Subscription, Task
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_
from connector.triggers import DEAL, DYNAMIC, LEAD, Prop, RobotCall, RobotError, RobotSpec
from robots.documents import config, make, steps
from robots.documents.card import CARD_SECTIONS
from robots.documents.config import NAME
from robots.documents.panels import PANELS

UNKNOWN = N_("There is no document «{code}»; the documents are: {codes}")


def _yes(value: Any) -> bool:
    return str(value).strip().upper() in ("Y", "YES", "1", "TRUE", "ДА")


def run_generate(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    """The robot: make (or find) the document and answer its number and link."""
    section = ctx.settings[NAME]
    code = str(call.properties.get("template") or "").strip()
    doc = config.document(section, code)
    if doc is None:
        raise RobotError(UNKNOWN, code=code or "—", codes=", ".join(
            d.code for d in config.documents(section)))
    if not _yes(call.properties.get("registry", "Y")):
        doc = steps.without_registry(doc)
    out = make.make(ctx, call.ref, doc, _yes(call.properties.get("new_version", "N")))
    return steps.answer(ctx, call.ref, doc, out, _yes(call.properties.get("check", "N")))


GENERATE = RobotSpec(
    code="generate_document",
    name=N_("Document from a template"),
    description=N_("Makes a document (contract, invoice, act…) from the deal, gives it the "
                   "next number in the registry and files it in the deal's folder"),
    run=run_generate,
    properties={
        "template": Prop(N_("Document"), "string", required=True,
                         description=N_("The document's code from the app's settings, e.g. "
                                        "invoice or buyout_contract")),
        "registry": Prop(N_("Number it in the registry"), "bool", default="Y"),
        "new_version": Prop(N_("New version"), "bool", default="N",
                            description=N_("Make a new version even when the deal has this "
                                           "document already")),
        "check": Prop(N_("Send for checking"), "bool", default="N",
                      description=N_("A task for the checker; the registry status follows "
                                     "it")),
    },
    return_properties={
        "number": Prop(N_("Number"), "string"),
        "file_url": Prop(N_("File link"), "string"),
        "registry_id": Prop(N_("Registry item ID"), "int"),
        "status": Prop(N_("Status"), "string"),
        "existing": Prop(N_("Made before"), "bool"),
        "signed_contract": Prop(N_("Signed contract found"), "string",
                                description=N_("The number of a signed contract with this "
                                               "counterparty, when the registry has one")),
    },
    document_types=(DEAL, LEAD, DYNAMIC),
    queue=steps.DOCUMENTS_QUEUE,
)


def wants_registry_item(ctx: JobContext, event: Event) -> bool:
    return event.ref.kind == steps.registry_kind(ctx)


def on_registry_item(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    return steps.follow_registry(ctx, event.ref)


CAPABILITY = Capability(
    name=NAME,
    title=N_("Documents"),
    settings=config.SCHEMAS,
    triggers=(GENERATE,),
    subscriptions=(Subscription("item.updated", "registry_status", on_registry_item,
                                wants_registry_item),),
    # made from the deal tab on the documents queue too: it may wait for its sequence
    tasks=(Task(steps.MAKE_TASK, steps.run_make, queue=steps.DOCUMENTS_QUEUE,
                title=N_("Make a document")),
           Task(steps.PDF_TASK, steps.run_pdf, queue=steps.DOCUMENTS_QUEUE,
                title=N_("Convert a document to PDF")),
           Task(steps.CHECK_TASK, steps.run_check, title=N_("Send a document for checking")),
           Task(steps.FOLLOW_TASK, steps.run_follow_check,
                title=N_("Follow a document's check"))),
    card_sections=CARD_SECTIONS,
    panels=PANELS,
    scopes=frozenset({"crm", "disk", "task", "userfieldconfig"}),
)
