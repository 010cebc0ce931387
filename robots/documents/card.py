"""The deal tab's documents: what the app made for the deal (robots.documents.records, Redis
only, never the CRM) with its links, PDF and check state, and the buttons that queue the
capability's own tasks: make a document the deal has not got yet, make a new version, send
a draft for checking.

A button acts on one document, so it posts a value (CardAction.value, decision 36): the
document's code, or "<code>:<version>" for a check. The value comes from the viewer's
browser, so each action checks it against the settings and the records before it queues
anything; an unknown one queues nothing.
"""

from __future__ import annotations

from typing import Any

from connector.capability import CardAction, CardSection
from connector.context import JobContext
from connector.crm.port import ItemRef
from connector.i18n import N_, Msg
from robots.documents import config, make, registry, steps
from robots.documents.config import NAME, Document
from robots.documents.records import Made


def _title(doc: Document) -> dict[str, Any]:
    """A shipped kind's title is a msgid (the tab translates it); an own one is the admin's."""
    return {"title": doc.title, "own": doc.kind is None}


def _pdf(made: Made, pdf_on: bool) -> str:
    """Where the PDF is: ready, failed (pdf_error says why), being made, or not asked for."""
    if made.pdf_url:
        return "ready"
    if made.pdf_error:
        return "failed"
    return "making" if pdf_on and made.file_id else "off"


def row(made: Made, earlier: list[Made], doc: Document | None, pdf_on: bool
        ) -> dict[str, Any]:
    """One document of the deal as the tab shows it: its latest version and the others."""
    status: Msg | str = registry.STATUS_TITLES.get(made.status, "")
    # a shipped kind's title in the viewer's language; else as it was written when made
    title = _title(doc) if doc is not None and doc.kind is not None else {
        "title": made.title, "own": True}
    return {
        "code": made.code, **title, "number": made.number,
        "version": made.version, "day": made.day, "made_at": made.made_at,
        "status": made.status, "status_title": status, "file_url": made.file_url,
        "pdf": _pdf(made, pdf_on), "pdf_url": made.pdf_url, "pdf_error": made.pdf_error,
        "check_task": made.check_task,
        "in_settings": doc is not None,
        # a draft (or an unnumbered one) nobody checks yet, of a document still configured
        "can_check": doc is not None and made.status in ("", registry.DRAFT)
        and not made.check_task,
        "earlier": [{"version": m.version, "number": m.number, "file_url": m.file_url,
                     "pdf_url": m.pdf_url} for m in reversed(earlier)],
    }


def card_facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    section = ctx.settings[NAME]
    docs = config.documents(section)
    by_code = {d.code: d for d in docs}
    made = make.records(ctx).all(ItemRef("deal", deal_id))
    order = [d.code for d in docs] + sorted(c for c in made if c not in by_code)
    rows = [row(made[code][-1], made[code][:-1], by_code.get(code), bool(section["pdf"]))
            for code in order if made.get(code)]
    return {"documents": rows,
            "available": [{"code": d.code, **_title(d)} for d in docs if not made.get(d.code)]}


# the buttons -------------------------------------------------------------------------------
def _make_job(ctx: JobContext, deal_id: int, code: str, new_version: bool) -> str:
    return ctx.enqueue_job(steps.MAKE_TASK, {"kind": "deal", "id": deal_id, "code": code,
                                             "new_version": new_version},
                           "deal", deal_id, code, "new" if new_version else "make")


def make_now(ctx: JobContext, deal_id: int, value: str) -> str:
    """Make the chosen document (one the deal has got is answered as it was: the same)."""
    code = value.strip()
    if config.document(ctx.settings[NAME], code) is None:
        return ""
    return _make_job(ctx, deal_id, code, False)


def new_version(ctx: JobContext, deal_id: int, value: str) -> str:
    """A new version (its number, a new file) of a document the deal has got."""
    code = value.strip()
    if config.document(ctx.settings[NAME], code) is None or make.records(ctx).latest(
            ItemRef("deal", deal_id), code) is None:
        return ""
    return _make_job(ctx, deal_id, code, True)


def send_for_check(ctx: JobContext, deal_id: int, value: str) -> str:
    """A task for the checker about this version of the document."""
    code, _, version = value.strip().rpartition(":")
    if not version.isdigit() or config.document(ctx.settings[NAME], code) is None:
        return ""
    versions = make.records(ctx).versions(ItemRef("deal", deal_id), code)
    if not any(m.version == int(version) for m in versions):
        return ""
    return ctx.enqueue_job(steps.CHECK_TASK, {"kind": "deal", "id": deal_id, "code": code,
                                              "version": int(version)},
                           "deal", deal_id, code, "check", version)


CARD_ACTIONS = (
    CardAction("make", N_("Make"), make_now, lambda facts: bool(facts["available"]),
               value=True),
    CardAction("new_version", N_("New version"), new_version,
               lambda facts: any(d["in_settings"] for d in facts["documents"]), value=True),
    CardAction("check", N_("Send for checking"), send_for_check,
               lambda facts: any(d["can_check"] for d in facts["documents"]), value=True),
)

CARD_SECTIONS = (CardSection("documents", N_("Documents"), card_facts,
                             "sections/documents.html", CARD_ACTIONS),)
