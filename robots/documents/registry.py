"""The document registry: a smart process in the portal, so the company searches and
filters its documents in Bitrix24 itself (number, kind, date, counterparty, deal, amount,
links, status), and the app asks it whether a signed contract with a counterparty exists.

The app's own record of what it made (robots.documents.records) says which registry item is
whose; the registry is the company's: people move a document to "signed" or "void" there,
and the item's update event brings the status back to the deal tab.
"""

from __future__ import annotations

from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_

DRAFT, CHECKING, CHECKED, SIGNED, VOID = "draft", "checking", "checked", "signed", "void"
STATUSES = ((DRAFT, N_("Draft")), (CHECKING, N_("Being checked")), (CHECKED, N_("Checked")),
            (SIGNED, N_("Signed")), (VOID, N_("Void")))
STATUS_TITLES = dict(STATUSES)

SPEC = crm.SmartProcessSpec("cc_documents", N_("Document registry"), (
    crm.FieldSpec("number", N_("Number"), "text", required=True),
    crm.FieldSpec("kind", N_("Document"), "text"),
    crm.FieldSpec("code", N_("Document code"), "text"),
    crm.FieldSpec("doc_date", N_("Date"), "date"),
    crm.FieldSpec("counterparty", N_("Counterparty"), "item_link"),
    crm.FieldSpec("counterparty_name", N_("Counterparty's name"), "text"),
    crm.FieldSpec("counterparty_inn", N_("Counterparty's INN"), "text"),
    crm.FieldSpec("our_company", N_("Our company"), "text"),
    crm.FieldSpec("deal", N_("Deal"), "item_link"),
    crm.FieldSpec("amount", N_("Amount"), "money"),
    crm.FieldSpec("file_link", N_("File"), "url"),
    crm.FieldSpec("pdf_link", N_("PDF"), "url"),
    crm.FieldSpec("version", N_("Version"), "number"),
    crm.FieldSpec("status", N_("Status"), "choice", options=STATUSES),
))


def process(ctx: JobContext) -> crm.SmartProcess:
    """The portal's registry, made the first time it is needed (the port remembers it)."""
    section = ctx.settings["documents"]
    return ctx.crm.ensure_smart_process(SPEC, int(section["registry_process"] or 0), ctx.lang)


def signed_contracts(sp: crm.SmartProcess, client: crm.Party) -> dict[str, crm.Query]:
    """The queries for signed contracts with this counterparty: by the CRM item, and by its
    INN (the same legal entity entered twice as a company)."""
    base = (("status", "=", SIGNED), ("code", "contains", "contract"))
    out: dict[str, crm.Query] = {
        "signed_by_ref": crm.FindItems(sp, (("counterparty", "=", client.ref), *base),
                                       (("id", "desc"),), limit=1)}
    if client.inn:
        out["signed_by_inn"] = crm.FindItems(sp, (("counterparty_inn", "=", client.inn), *base),
                                             (("id", "desc"),), limit=1)
    return out


def first_signed(reading: crm.Reading) -> crm.Item | None:
    for key in ("signed_by_ref", "signed_by_inn"):
        if reading.ok(key) and (found := reading.get(key)):
            return found[0]
    return None


def entry(number: str, title: str, code: str, day: str, client: crm.Party | None,
          seller: crm.Party | None, deal: crm.ItemRef, amount: str, currency: str,
          file_link: str, version: int) -> dict[str, Any]:
    """A registry item's fields by our codes."""
    return {"title": f"{title} № {number}", "number": number, "kind": title, "code": code,
            "doc_date": day, "counterparty": client.ref if client else None,
            "counterparty_name": (client.name or client.title) if client else "",
            "counterparty_inn": client.inn if client else "",
            "our_company": (seller.name or seller.title) if seller else "", "deal": deal,
            "amount": crm.Money(amount, currency or "RUB"), "file_link": file_link,
            "version": version, "status": DRAFT}
