"""Making one document for an item: the whole way from the robot's request to the file in the
deal's folder, its registry entry, the deal's link field and the timeline note.

The order is what keeps numbers gapless and nothing doubled:
1. the same document made before is answered as it is (unless a new version is asked for);
2. the template is opened and checked, the item, its sides, product rows and responsible are
   read in one go, and for a contract the registry is asked whether a signed one with the
   counterparty exists;
3. every check that can refuse (missing requisites, fields the template lacks, a bad product
   row) runs with an empty number, before any number is taken;
4. under the sequence's lock (robots.documents.numbers) the next number is rendered in, the
   file uploaded, the registry item and the deal written; only then is the number committed.
A retry after a crash finds what its first attempt did (`Records.pending`: the file, the
registry item) and goes on from there, so it uploads and registers nothing twice.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import LockError

from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import Retryable
from connector.i18n import N_, t
from robots.documents import context as dctx
from robots.documents import formatting as fmt
from robots.documents import numbers, registry, render, uploads
from robots.documents.config import MAKE, NAME, Document, fact_fields
from robots.documents.kinds import SECTIONS
from robots.documents.problems import DataProblem, TemplateProblem
from robots.documents.records import Made, Records

GONE = N_("The {kind} {id} does not exist (deleted or merged)")
NO_PRODUCTS = N_("The deal has no products: the document lists them. Add product rows to "
                 "the deal first")
BLANK = N_("Fill in first: {fields}")
TEMPLATE_GONE = N_("The template of «{title}» is no longer on this page; upload it again")
DISK_TEMPLATE = N_("The template file disk:{id} cannot be read: {reason}")
WRITE_FAILED = N_("The document is made but could not be filed: {reason}")
NOTE = N_("Document «{title}» № {number} made: {link}")
NOTE_VERSION = N_("Document «{title}» № {number}, version {version}, made: {link}")
FIELD_CHECKED_S = 24 * 3600
FALLBACK_FOLDER = "Документы"  # under the shared drive, when the deal has no folder
# what a requisite blank reads as, for the admin
REQUISITES = {"seller.name": N_("our company's name"), "seller.inn": N_("the seller's INN"),
              "seller.bank.account": N_("the seller's bank account"),
              "seller.bank.bik": N_("the seller's bank BIK"),
              "buyer.name": N_("the buyer's name"), "buyer.inn": N_("the buyer's INN"),
              "vehicle.vin": N_("the car's VIN")}


@dataclass
class Outcome:
    made: Made | None
    existing: bool = False  # the same document made before, answered as it was
    signed: crm.Item | None = None  # a signed contract with the counterparty (registry item)


def records(ctx: JobContext) -> Records:
    return Records(ctx.redis, ctx.of(NAME).key)


def numbers_of(ctx: JobContext) -> numbers.Numbers:
    return numbers.Numbers(ctx.redis, ctx.of(NAME).key)


def today(ctx: JobContext) -> date:
    return datetime.now(ZoneInfo(ctx.tz)).date()


def template_of(ctx: JobContext, doc: Document) -> bytes:
    """The template's bytes: the shipped file, an upload kept by the app, or a Disk file."""
    if not doc.file:
        assert doc.kind is not None  # the settings refuse an own document without a file
        return doc.kind.path.read_bytes()
    if doc.file.startswith("disk:"):
        file_id = int(doc.file.removeprefix("disk:"))
        try:
            entry = ctx.crm.file(file_id)
            if entry.size > render.MAX_TEMPLATE_BYTES:
                raise TemplateProblem(render.TOO_BIG, {
                    "size": round(entry.size / render.MiB, 1),
                    "limit": render.MAX_TEMPLATE_BYTES // render.MiB})
            return bytes(ctx.crm.download(entry.download_url, entry.size).content)
        except crm.NotFound as exc:
            raise TemplateProblem(DISK_TEMPLATE, {"id": file_id, "reason": str(exc)}) from None
    content = uploads.Uploads(ctx.redis, ctx.of(NAME).key).content(doc.file)
    if content is None:
        raise TemplateProblem(TEMPLATE_GONE, {"title": doc.title})
    return content


def queries(ref: crm.ItemRef, my_company: int) -> dict[str, crm.Query]:
    return {"item": crm.GetItem(ref), "parties": crm.DocumentParties(ref, my_company),
            "rows": crm.ProductRows(ref), "responsible": crm.Responsible(ref),
            "stage": crm.StageName(ref)}


def rows_of(ctx: JobContext, reading: crm.Reading) -> list[crm.ProductRow]:
    """The item's product rows. A CRM whose port reads none (`keeps_product_rows` False:
    amoCRM's products are not read) gives the item's amount as one row, so a document
    that lists rows is still made; where rows are kept, none means "add them first"."""
    rows = list(reading.get("rows") or [])
    if rows or ctx.crm.keeps_product_rows or not reading.ok("item"):
        return rows
    return dctx.amount_rows(reading.get("item"))


def facts(doc: Document, item: crm.Item, mapping: dict[str, str],
          parent: crm.Item | None = None) -> dict[str, dict[str, Any]]:
    """The extra sections the document prints (the car, the route…) from the mapped fields,
    the item's own, else its parent's (a contract item reads its request's route); a fact
    with no field mapped is empty (a template that needs it says so)."""
    def value(name: str) -> Any:
        own = item.fields.get(name, "") if name else ""
        return own or (parent.fields.get(name, "") if parent and name else "") or ""

    return {section: {key: value(mapping.get(f"{section}.{key}", ""))
                      for key, _ in SECTIONS[section]} for section in doc.sections}


def parent_of(ctx: JobContext, item: crm.Item) -> crm.Item | None:
    """The item this one is linked under (a smart-process item's deal first), read once."""
    if not item.parents:
        return None
    try:
        return ctx.crm.item(item.parents[0])
    except crm.NotFound:
        return None


def parent_dict(parent: crm.Item) -> dict[str, Any]:
    return {"kind": parent.ref.kind, "id": str(parent.ref.id), "title": parent.title,
            "amount": fmt.money(parent.amount or 0), "currency": parent.currency or "RUB",
            "fields": {str(k): dctx.text(v) for k, v in parent.fields.items()}}


def build(ctx: JobContext, doc: Document, reading: crm.Reading, ref: crm.ItemRef,
          number: str, day: date, version: int) -> dict[str, Any]:
    try:
        item: crm.Item = reading.get("item")
    except crm.NotFound:
        raise DataProblem(GONE, {"kind": ref.kind, "id": ref.id}) from None
    parties = reading.get("parties") or {}
    stage = reading.get("stage") if reading.ok("stage") else ""
    title = t("ru", doc.title) if doc.kind else doc.title
    meta = dctx.Meta(number=number, date=day, kind=doc.sequence_kind, title=title,
                     version=version, stage=str(stage or ""), today=today(ctx))
    parent = parent_of(ctx, item)
    context = dctx.build(item, parties.get("client"), parties.get("seller"),
                         rows_of(ctx, reading), reading.get("responsible"), meta,
                         buyer=doc.buyer,
                         extra=facts(doc, item, fact_fields(ctx.settings[NAME]), parent))
    if parent is not None:
        context["parent"] = parent_dict(parent)
    return context


def check(template: bytes, doc: Document, context: dict[str, Any],
          rows: list[crm.ProductRow]) -> None:
    """Every refusal that does not need the number, before one is taken."""
    lacking = dctx.blank(context, doc.requires)
    if lacking:
        raise DataProblem(BLANK, {"fields": ", ".join(
            t("ru", REQUISITES[n]) if n in REQUISITES else n for n in lacking)})
    used = render.fields(template)
    if not rows and any(n.startswith("items") for n in used):
        raise DataProblem(NO_PRODUCTS)
    render.require(template, context)


def file_name(title: str, number: str, version: int, ext: str = "docx") -> str:
    clean = "".join(c if c not in '\\/:*?"<>|' else "_" for c in f"{title} № {number}")
    return f"{clean}{f' (версия {version})' if version > 1 else ''}.{ext}"[:240]


def folder_of(ctx: JobContext, ref: crm.ItemRef) -> int:
    """The deal's folder (made by the deal folders capability when it is here), else a
    folder of the item under «Документы» on the shared drive."""
    if ref.kind == "deal" and (ensure := ctx.service("ensure_deal_folder")):
        try:
            folder_id = int(ensure(ctx.of("deal_workspace"), ref.id) or 0)
        except Exception as exc:  # noqa: BLE001 - settings of that capability: fall back
            ctx.log.warning("deal %s: no deal folder (%s), documents go to the shared drive",
                            ref.id, exc)
            folder_id = 0
        if folder_id:
            return folder_id
    known = ctx.of(NAME).key("folder", ref.kind, ref.id)
    if cached := ctx.redis.get(known):
        return int(cached)
    root = ctx.crm.storage_root("common")
    top, _ = ctx.crm.subfolder(root, FALLBACK_FOLDER)
    label = {"deal": "Сделка", "lead": "Лид"}.get(ref.kind, "Элемент")
    own, _ = ctx.crm.subfolder(top.id, f"{label} {ref.id}")
    ctx.redis.set(known, own.id)
    return own.id


OPEN = N_("open")  # a link's words: the number is in the sentence already


def file_link(ctx: JobContext, made: Made) -> str:
    """The document's link in a note or task, as the CRM writes links (a plain-text CRM
    puts the address after the words), or its number when it has no file."""
    return ctx.crm.link(made.file_url, t(ctx.lang, OPEN)) if made.file_url else made.number


def _note(ctx: JobContext, made: Made) -> str:
    link = file_link(ctx, made)
    msg = NOTE_VERSION if made.version > 1 else NOTE
    return t(ctx.lang, msg, title=made.title, number=made.number, version=made.version,
             link=link)


def _file_named(ctx: JobContext, folder_id: int, name: str) -> crm.FileEntry | None:
    found = ctx.crm.read({"f": crm.FolderChildren(folder_id)}).get("f") or []
    return next((f for f in found if f.name == name and not f.is_folder), None)


def _registered(ctx: JobContext, sp: crm.SmartProcess, number: str) -> int:
    """A registry item an earlier attempt made for this number (0: none)."""
    found = ctx.crm.read({"r": crm.FindItems(sp, (("number", "=", number),), limit=1)}).get("r")
    return found[0].ref.id if found else 0


def _produce(ctx: JobContext, ref: crm.ItemRef, doc: Document, template: bytes,
             context: dict[str, Any], made: Made, pending_key: str,
             reading: crm.Reading) -> Made:
    """Render with the number, upload, register, link and note: each step once."""
    recs = records(ctx)
    content = render.render(template, context)
    pending = recs.pending(pending_key, made.n)
    same = pending.get("ref") == [ref.kind, ref.id] and pending.get("code") == doc.code
    name = file_name(made.title, made.number, made.version)
    if same and pending.get("file_id"):
        entry = ctx.crm.upload_version(int(pending["file_id"]), content, name)
        folder_id = int(pending["folder_id"])
    else:
        if not same:
            pending = {"ref": [ref.kind, ref.id], "code": doc.code}
        folder_id = int(pending.get("folder_id") or 0) or folder_of(ctx, ref)
        # an upload whose answer was lost (a timeout, a 5xx after the file was stored) left
        # the file in the folder: the retry writes its content there, not a second file
        left = _file_named(ctx, folder_id, name) if pending.get("uploading") else None
        recs.keep_pending(pending_key, made.n, **pending, folder_id=folder_id, uploading=True)
        entry = (ctx.crm.upload_version(left.id, content, name) if left
                 else ctx.crm.upload(folder_id, name, content))
    made = replace(made, file_id=entry.id, file_url=entry.url or entry.download_url)
    pending.update(file_id=entry.id, folder_id=folder_id)
    recs.keep_pending(pending_key, made.n, **pending)
    ops: dict[str, crm.Op] = {}
    sp = None
    if doc.registry:
        sp = registry.process(ctx)
        if not pending.get("registry_id") and pending.get("registering"):
            pending["registry_id"] = _registered(ctx, sp, made.number)
        if made.registry_id:  # a new version: the same registry item points at it now
            ops["registry"] = crm.UpdateItem(crm.ItemRef(sp.kind, made.registry_id), {
                "file_link": made.file_url, "pdf_link": "", "version": made.version,
                "doc_date": made.day, "amount": crm.Money(made.amount or "0",
                                                          made.currency or "RUB"),
                "status": registry.DRAFT}, process=sp)
            pending["registry_id"] = made.registry_id
        elif not pending.get("registry_id"):
            parties = reading.get("parties") or {}
            fields = registry.entry(made.number, made.title, doc.code, made.day,
                                    parties.get("client"), parties.get("seller"), ref,
                                    made.amount or "0", made.currency, made.file_url,
                                    made.version)
            ops["registry"] = crm.CreateItem(sp, {k: v for k, v in fields.items()
                                                  if v is not None})
            pending["registering"] = True  # a lost answer: the retry looks for it first
            recs.keep_pending(pending_key, made.n, **pending)
    if doc.link_field and ref.kind == "deal":
        ready = ctx.of(NAME).key("field", doc.link_field)
        if not ctx.redis.exists(ready):  # checked once a day, not once per document
            ctx.crm.ensure_item_field("deal", doc.link_field, "url",
                                      t(ctx.lang, N_("Document")))
            ctx.redis.set(ready, 1, ex=FIELD_CHECKED_S)
        ops["link"] = crm.UpdateItem(ref, {doc.link_field: made.file_url})
    if not pending.get("noted"):
        ops["note"] = crm.AddComment(ref, _note(ctx, made))
    done = ctx.crm.apply(ops)
    if isinstance(ops.get("registry"), crm.CreateItem) and "registry" not in done.errors:
        pending["registry_id"] = int(done.values["registry"])
    if "note" in ops and "note" not in done.errors:
        pending["noted"] = True
    recs.keep_pending(pending_key, made.n, **pending)
    failed = {k: e for k, e in done.errors.items() if k in ("registry",)}
    if failed:
        raise Retryable(t(ctx.lang, WRITE_FAILED, reason="; ".join(map(str, failed.values()))))
    for key, err in done.errors.items():
        ctx.log.warning("document %s of %s/%s: %s failed: %s", made.number, ref.kind, ref.id,
                        key, err)
    return replace(made, folder_id=folder_id, registry_id=int(pending.get("registry_id") or 0),
                   made_at=time.time())


LOCK_WAIT_S = 300  # another request for the same document is being made: wait for it


def make(ctx: JobContext, ref: crm.ItemRef, doc: Document, new_version: bool = False
         ) -> Outcome:
    """The document for the item: the one made before, or a new one (a new version when
    asked). DataProblem / TemplateProblem before anything is taken or uploaded. Two requests
    for one document of one item at the same instant are made one after the other, so the
    second finds the first's document."""
    lock = ctx.redis.lock(ctx.of(NAME).key("making", ref.kind, ref.id, doc.code),
                          timeout=numbers.HOLD_S, sleep=0.05, blocking_timeout=LOCK_WAIT_S)
    if not lock.acquire():
        raise Retryable(f"{ref.kind} {ref.id}: {doc.code} is being made")
    try:
        return _make(ctx, ref, doc, new_version)
    finally:
        with suppress(LockError):
            lock.release()


def _make(ctx: JobContext, ref: crm.ItemRef, doc: Document, new_version: bool) -> Outcome:
    recs = records(ctx)
    before = recs.latest(ref, doc.code)
    voided = before is not None and before.status == registry.VOID
    if before is not None and not new_version and not voided:
        return Outcome(before, existing=True)
    template = template_of(ctx, doc)
    render.prepare(template)  # a template that cannot be used is refused first
    section = ctx.settings[NAME]
    reading = ctx.crm.read(queries(ref, int(section["my_company"] or 0)))
    day = today(ctx)
    version = before.version + 1 if before else 1
    context = build(ctx, doc, reading, ref, "", day, version)
    rows_read = rows_of(ctx, reading)
    check(template, doc, context, rows_read)
    parties = reading.get("parties") or {}
    client, seller = parties.get("client"), parties.get("seller")
    signed = None
    if doc.is_contract and doc.registry and client is not None and not new_version:
        signed = registry.first_signed(ctx.crm.read(
            registry.signed_contracts(registry.process(ctx), client)))
        if signed is not None and section["signed_contract"] != MAKE:
            return Outcome(None, signed=signed)
    item: crm.Item = reading.get("item")
    # the documents are Russian: their title, file name and registry entry are too
    title = t("ru", doc.title) if doc.kind else doc.title
    rows = dctx.lines(rows_read)
    amount = sum((ln.total for ln in rows), dctx.ZERO) if rows else fmt.kopecks(
        item.amount or 0)
    base = Made(code=doc.code, version=version, number="", title=title, day=day.isoformat(),
                amount=f"{amount:.2f}", currency=str(context["deal"]["currency"]),
                status=registry.DRAFT if doc.registry else "")

    def produce(made: Made, pending_key: str) -> Made:
        filled = {**context, "doc": {**context["doc"], "number": made.number}}
        made = _produce(ctx, ref, doc, template, filled, made, pending_key, reading)
        recs.save(ref, made)
        return made

    if before is not None and not voided and before.number:
        # a new version of the same document: its number and registry item, a new file
        key = str(ctx.of(NAME).key("version", ref.kind, ref.id, doc.code))
        made = produce(replace(base, number=before.number, registry_id=before.registry_id,
                               sequence=before.sequence, n=version), key)
        recs.drop_pending(key, version)
        return Outcome(made, signed=signed)
    if not doc.registry:  # unnumbered: the item's id, and the version after the first
        number = f"{ref.id}" if version == 1 else f"{ref.id}-{version}"
        key = str(ctx.of(NAME).key("unnumbered", ref.kind, ref.id, doc.code))
        made = produce(replace(base, number=number, n=version), key)
        recs.drop_pending(key, version)
        return Outcome(made, signed=signed)
    seq = numbers.Sequence(doc.sequence_kind, seller.ref.id if seller else 0,
                           numbers.period_of(doc.reset, day))
    nums = numbers_of(ctx)
    with nums.taking(seq) as taking:
        number = numbers.format_number(doc.pattern, taking.n, day)
        made = produce(replace(base, number=number, sequence=list(seq.parts), n=taking.n),
                       nums.key(seq))
        taking.commit()
    recs.drop_pending(nums.key(seq), taking.n)
    return Outcome(made, signed=signed)
