"""What follows a made document: the robot's answer, the PDF made on the documents queue,
the check step (a task for the checker, followed until it is completed) and the registry
status that people change in Bitrix24, brought back to the app's record.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t
from connector.queue import DOCUMENTS
from connector.triggers import RobotError
from robots.documents import config, make, registry
from robots.documents.config import NAME, Document
from robots.documents.problems import ConversionRetryable
from robots.documents.records import Made

MAKE_TASK, PDF_TASK, CHECK_TASK, FOLLOW_TASK = "make", "pdf", "check", "follow_check"
DOCUMENTS_QUEUE = DOCUMENTS
FOLLOW_EVERY_S = 15 * 60
FOLLOW_FOR_S = 60 * 24 * 3600  # a check nobody completes in two months is no longer followed

MADE = N_("Document «{title}» № {number} made")
EXISTING = N_("Document «{title}» № {number} was made before; asked again, it is the same")
SIGNED_FOUND = N_("A signed contract with this counterparty exists: № {number}; no new one "
                  "was drafted")
SIGNED_ANYWAY = N_("A signed contract with this counterparty exists (№ {number}); a new one "
                   "was drafted as the settings say")
NO_CHECKER = N_("Nobody is set to check documents: choose the checker in the app's settings")
CHECK_TITLE = N_("Check the document «{title}» № {number}")
CHECK_TEXT = N_("Please check the document «{title}» № {number}: {link} (the card: {item}). "
                "Complete this task when it is right; the registry marks it “checked”.")
SENT = N_("Document № {number} sent for checking (task {task})")
NOT_SENT = N_("Document № {number} made, but not sent for checking: {reason}")
CHECKED = N_("Document № {number} checked")
STATUS_NOW = N_("Document № {number}: the registry says “{status}”")
PDF_MADE = N_("PDF of document № {number} made")
PDF_FAILED = N_("PDF of document № {number} not made: {reason}")


def without_registry(doc: Document) -> Document:
    return replace(doc, registry=False)


def registry_kind(ctx: JobContext) -> str:
    """The registry's item kind ("item:<id>") once the app has made it, else "" (read from
    Redis: an event's `wants` asks the CRM nothing)."""
    raw = ctx.redis.get(ctx.of(NAME).key("registry-kind"))
    return raw.decode() if raw else ""


def _process(ctx: JobContext) -> crm.SmartProcess:
    sp = registry.process(ctx)
    ctx.redis.set(ctx.of(NAME).key("registry-kind"), sp.kind)
    return sp


# the robot's answer ------------------------------------------------------------------------
def answer(ctx: JobContext, ref: crm.ItemRef, doc: Document, out: make.Outcome,
           check: bool) -> dict[str, Any]:
    signed = out.signed.values.get("number", "") if out.signed else ""
    if out.made is None:  # a signed contract exists and no new one was drafted
        assert out.signed is not None
        ctx.remember(ref, SIGNED_FOUND, number=signed)
        return {"number": signed, "file_url": str(out.signed.values.get("file_link") or ""),
                "registry_id": out.signed.ref.id, "status": registry.SIGNED, "existing": "Y",
                "signed_contract": signed}
    made = out.made
    if out.existing:
        ctx.remember(ref, EXISTING, title=made.title, number=made.number)
    else:
        ctx.remember(ref, MADE, title=made.title, number=made.number,
                     identity=f"made:{doc.code}:{made.version}")
        if signed:
            ctx.remember(ref, SIGNED_ANYWAY, number=signed)
        after_made(ctx, ref, made)
    error = ""
    if check and made.status in ("", registry.DRAFT):
        try:
            made = send_for_check(ctx, ref, doc, made)
        except RobotError as exc:  # the document stands; only its check could not start
            error = exc.text(ctx.lang)
            ctx.remember(ref, NOT_SENT, number=made.number, reason=error)
    return {"number": made.number, "file_url": made.file_url, "registry_id": made.registry_id,
            "status": made.status, "existing": "Y" if out.existing else "N",
            "signed_contract": signed, "error": error}


def after_made(ctx: JobContext, ref: crm.ItemRef, made: Made) -> None:
    """Queue the PDF (its own queue: a slow conversion never delays other jobs)."""
    if made.registry_id:
        _process(ctx)  # remembers the registry's kind: its items' events are ours now
    if ctx.settings[NAME]["pdf"]:
        ctx.of(NAME).enqueue(PDF_TASK, {"kind": ref.kind, "id": ref.id, "code": made.code,
                                        "version": made.version},
                             ref.kind, ref.id, made.code, made.version)


# made again from the deal tab ---------------------------------------------------------------
def run_make(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    ref = crm.ItemRef(str(arg["kind"]), int(arg["id"]))
    doc = config.document(ctx.settings[NAME], str(arg["code"]))
    if doc is None:
        return {"skipped": f"no document {arg['code']!r} in the settings"}
    try:
        out = make.make(ctx, ref, doc, bool(arg.get("new_version")))
    except RobotError as exc:  # the tab shows the job's outcome; the history keeps it
        ctx.remember(ref, N_("Document «{title}» not made: {reason}"), title=t(
            ctx.lang, doc.title) if doc.kind else doc.title, reason=exc.text(ctx.lang))
        return {"error": exc.text(ctx.lang)}
    return answer(ctx, ref, doc, out, bool(arg.get("check")))


# the PDF ------------------------------------------------------------------------------------
def run_pdf(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    from robots.documents import pdf

    ref = crm.ItemRef(str(arg["kind"]), int(arg["id"]))
    recs = make.records(ctx)
    made = recs.version(ref, str(arg["code"]), int(arg["version"]))
    if made is None or not made.file_id:
        return {"skipped": "no such document"}
    if made.pdf_id:
        return {"pdf_id": made.pdf_id}
    entry = ctx.crm.file(made.file_id)
    docx = bytes(ctx.crm.download(entry.download_url, entry.size).content)
    try:
        content = pdf.to_pdf(docx)
    except (RobotError, ConversionRetryable) as exc:
        if isinstance(exc, ConversionRetryable) and not ctx.final_attempt:
            raise  # a timeout or a crash: the retry may convert it
        # the file cannot be converted, or every retry failed: said where people look
        recs.update(ref, made.code, made.version, pdf_error=exc.text(ctx.lang))
        ctx.remember(ref, PDF_FAILED, number=made.number, reason=exc.text(ctx.lang))
        if isinstance(exc, ConversionRetryable):
            raise  # parked in the failed jobs, where an admin can requeue it
        return {"error": exc.text(ctx.lang)}
    name = make.file_name(made.title, made.number, made.version, "pdf")
    up = ctx.crm.upload(made.folder_id or make.folder_of(ctx, ref), name, content)
    url = up.url or up.download_url
    recs.update(ref, made.code, made.version, pdf_id=up.id, pdf_url=url, pdf_error="")
    if made.registry_id:
        sp = _process(ctx)
        done = ctx.crm.apply({"pdf": crm.UpdateItem(crm.ItemRef(sp.kind, made.registry_id),
                                                    {"pdf_link": url}, process=sp)})
        for err in done.errors.values():
            ctx.log.warning("document %s: the registry's PDF link: %s", made.number, err)
    ctx.remember(ref, PDF_MADE, number=made.number, identity=f"pdf:{made.code}:{made.version}")
    return {"pdf_id": up.id}


# checking -----------------------------------------------------------------------------------
def _set_status(ctx: JobContext, ref: crm.ItemRef, made: Made, status: str, **more: Any
                ) -> Made:
    if made.registry_id:
        sp = _process(ctx)
        done = ctx.crm.apply({"s": crm.UpdateItem(crm.ItemRef(sp.kind, made.registry_id),
                                                  {"status": status}, process=sp)})
        if "s" in done.errors:
            raise done.errors["s"]
    return make.records(ctx).update(ref, made.code, made.version, status=status,
                                    **more) or made


def send_for_check(ctx: JobContext, ref: crm.ItemRef, doc: Document, made: Made) -> Made:
    """A task for the checker with the file; the document is "being checked" until the
    task is completed (followed by a timer, no poll of every document)."""
    checker = doc.checker
    if not checker:
        raise RobotError(NO_CHECKER)
    if made.check_task:
        return made
    tag = f"cc-doccheck-{ref.kind.replace(':', '-')}-{ref.id}-{made.code}-{made.version}"
    found = ctx.crm.read({"t": crm.FindTask(tag)}).get("t")
    task_id = int(found or 0)
    if not task_id:
        days = int(ctx.settings[NAME]["check_days"])
        deadline = datetime.now(ZoneInfo(ctx.tz)) + timedelta(days=days)
        link = make.file_link(ctx, made)
        done = ctx.crm.apply({"task": crm.CreateTask(
            t(ctx.lang, CHECK_TITLE, title=made.title, number=made.number),
            t(ctx.lang, CHECK_TEXT, title=made.title, number=made.number, link=link,
              item=ctx.crm.item_link(ref)),
            checker, deadline.isoformat("T", "seconds"), ref, tag=tag)})
        if "task" in done.errors:
            raise done.errors["task"]
        task_id = int(done.values["task"])
    made = _set_status(ctx, ref, made, registry.CHECKING, check_task=task_id)
    ctx.remember(ref, SENT, number=made.number, task=task_id,
                 identity=f"check:{made.code}:{made.version}")
    ctx.of(NAME).schedule(f"check:{ref.kind}:{ref.id}:{made.code}:{made.version}",
                 time.time() + FOLLOW_EVERY_S, FOLLOW_TASK,
                 {"kind": ref.kind, "id": ref.id, "code": made.code, "version": made.version,
                  "since": time.time()})
    return made


def run_check(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    ref = crm.ItemRef(str(arg["kind"]), int(arg["id"]))
    doc = config.document(ctx.settings[NAME], str(arg["code"]))
    made = make.records(ctx).version(ref, str(arg["code"]), int(arg["version"]))
    if doc is None or made is None:
        return {"skipped": "no such document"}
    try:
        made = send_for_check(ctx, ref, doc, made)
    except RobotError as exc:
        return {"error": exc.text(ctx.lang)}
    return {"task": made.check_task, "status": made.status}


def run_follow_check(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """The check task's state: completed → "checked"; still open → look again later."""
    ref = crm.ItemRef(str(arg["kind"]), int(arg["id"]))
    made = make.records(ctx).version(ref, str(arg["code"]), int(arg["version"]))
    if made is None or made.status != registry.CHECKING or not made.check_task:
        return {"skipped": "not being checked"}
    state = ctx.crm.read({"s": crm.TaskState(made.check_task)}).get("s")
    if state == "done":
        _set_status(ctx, ref, made, registry.CHECKED)
        ctx.remember(ref, CHECKED, number=made.number,
                     identity=f"checked:{made.code}:{made.version}")
        return {"status": registry.CHECKED}
    if state == "gone":
        _set_status(ctx, ref, made, registry.DRAFT, check_task=0)
        return {"status": registry.DRAFT, "reason": "the check task is gone"}
    if time.time() - float(arg.get("since") or 0) < FOLLOW_FOR_S:
        ctx.of(NAME).schedule(f"check:{ref.kind}:{ref.id}:{made.code}:{made.version}",
                     time.time() + FOLLOW_EVERY_S, FOLLOW_TASK, dict(arg))
    return {"status": made.status}


# the registry, changed by people ------------------------------------------------------------
def follow_registry(ctx: JobContext, ref: crm.ItemRef) -> dict[str, Any]:
    """A registry item changed in Bitrix24 (signed, void…): the app's record follows."""
    recs = make.records(ctx)
    whose = recs.by_registry(ref.id)
    if whose is None:
        return {"skipped": "not a document the app made"}
    item_ref, code, version = whose
    sp = _process(ctx)
    found = ctx.crm.read({"r": crm.FindItems(sp, (("id", "=", ref.id),), limit=1)}).get("r")
    if not found:
        return {"skipped": "registry item gone"}
    status = str(found[0].values.get("status") or "")
    made = recs.version(item_ref, code, version)
    if made is None or not status or status == made.status:
        return {"status": status}
    recs.update(item_ref, code, version, status=status)
    ctx.remember(item_ref, STATUS_NOW, number=made.number,
                 status=registry.STATUS_TITLES.get(status, status),
                 identity=f"status:{code}:{version}:{status}:{int(time.time() // 60)}")
    return {"status": status}
