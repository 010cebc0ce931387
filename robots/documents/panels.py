"""The documents' admin panels: the templates (upload one, what each uses, delete), the
fields a template may use, and the numbers each document has reached with the registry.

An upload is checked by `uploads.Uploads.add` (size, archive, syntax, the sandbox), so a
template that cannot work is refused here with the reason, in the admin's language, and
never reaches a robot. The page carries the file as a multipart form of at most
`render.MAX_TEMPLATE_BYTES` (Panel.max_upload: a longer body is refused unread).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import ConnectorError
from connector.i18n import N_, Msg, t
from robots.documents import config, kinds, make, numbers, render, steps, uploads
from robots.documents import context as dctx
from robots.documents.config import NAME
from robots.documents.problems import TemplateProblem

UPLOAD_FIELD = "template"  # the file input's name
DYNAMIC = ("deal.fields.", "seller.fields.", "buyer.fields.")  # a deal's own fields
# a trial fill's refusals that no data can cure (the others may be the empty sample's)
DATA_FREE = frozenset({render.FORBIDDEN, render.LOOP_TOO_LONG, render.OUT_OF_TIME,
                       render.OUT_OF_MEMORY, render.DOCUMENT_TOO_BIG, render.BROKEN_XML})
GROUPS: tuple[tuple[str, Msg], ...] = (
    ("doc", N_("The document")), ("deal", N_("The deal")),
    ("seller", N_("The seller (our company in most documents)")),
    ("buyer", N_("The buyer (the client in most documents)")),
    ("items", N_("Product rows: in a loop, {% for it in items %} … {{ it.total }}")),
    ("totals", N_("Totals")), ("responsible", N_("The deal's responsible")),
    ("today", N_("The day the document is made")),
)
# a deal's and a side's own fields, by their CRM codes: written as an author writes them
OWN_FIELDS = {"deal.fields": "deal.fields.UF_CRM_…", "seller.fields": "seller.fields.RQ_…",
              "buyer.fields": "buyer.fields.RQ_…"}
SECTION_TITLES: dict[str, Msg] = {
    "vehicle": N_("The car"), "route": N_("The route"), "cargo": N_("The cargo"),
    "transport": N_("The truck and the driver"), "repair": N_("The repair"),
}


def _uploads(ctx: JobContext) -> uploads.Uploads:
    return uploads.Uploads(ctx.redis, ctx.of(NAME).key)


def _users(section: Mapping[str, Any], sha: str) -> list[str]:
    """The codes of the documents in the settings whose template is this upload."""
    return [d["code"] for d in section["templates"] if d["file"] == sha]


def size_words(lang: str, size: int) -> str:
    if size >= render.MiB:
        return t(lang, N_("{n} MB"), n=round(size / render.MiB, 1))
    return t(lang, N_("{n} KB"), n=max(1, round(size / 1024)))


def _shipped_fields(kind: kinds.Kind) -> list[str]:
    """The fields a shipped template uses (render.prepare keeps it compiled: one parse)."""
    return sorted(render.fields(kind.path.read_bytes()))


# templates --------------------------------------------------------------------------------
def templates_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    section = ctx.settings[NAME]
    return {
        "uploads": [{"sha": u.sha, "name": u.name, "size": size_words(lang, u.size),
                     "at": u.uploaded_at, "fields": list(u.fields),
                     "used_by": _users(section, u.sha)} for u in _uploads(ctx).all()],
        "shipped": [{"code": k.code, "title": t(lang, k.title), "file": k.file,
                     "fields": _shipped_fields(k)} for k in kinds.KINDS],
        "field": UPLOAD_FIELD, "limit": render.MAX_TEMPLATE_BYTES // render.MiB,
        "kept": uploads.MAX_KEPT,
    }


def sample() -> dict[str, Any]:
    """A context with every name (empty texts, one product row, every extra section), for a
    trial fill: what `context.schema` lists."""
    return dctx.build(crm.Item(ref=crm.ItemRef("deal", 0)), None, None, [crm.ProductRow("")],
                      None, dctx.Meta(number="", date=date(2000, 1, 1), kind=""),
                      extra={s: dict.fromkeys((k for k, _ in keys), "")
                             for s, keys in kinds.SECTIONS.items()})


def vet(template: bytes) -> list[str]:
    """Refuse (TemplateProblem) what no deal's data can make work: besides what
    `render.prepare` finds, a trial fill on `sample()` in the sandbox's child finds what
    the sandbox refuses (`__class__`) and a fill that runs out of time or memory. Returns
    the names the template needs that no document has (a typo: `buyer.nmae`), so the admin
    hears of them now rather than from a robot; a deal's own `…fields.X` are not judged."""
    context = sample()
    unknown = [n for n in render.missing(template, context) if not n.startswith(DYNAMIC)]
    try:
        render.render(template, context)
    except TemplateProblem as exc:
        if exc.msgid in DATA_FREE:
            raise
    return unknown


def upload(ctx: JobContext, view: AdminView) -> Outcome:
    """Check and keep the template sent; refused with the reason when it cannot work."""
    lang = view.lang(ctx.lang)
    posted = view.files.get(UPLOAD_FIELD)
    if posted is None:
        return Outcome(False, N_("Choose a .docx file to upload."))
    content = posted.read(2 * render.MAX_TEMPLATE_BYTES)  # the page let at most the limit in
    try:
        unknown = vet(content)
        up = _uploads(ctx).add(posted.name, content, view.user_id)
    except TemplateProblem as exc:
        return Outcome(False, N_("The template «{name}» was not accepted: {reason}"),
                       {"name": posted.name, "reason": exc.text(lang)})
    except ValueError:  # uploads.MAX_KEPT
        return Outcome(False, N_("At most {n} templates are kept: delete one you no longer "
                                 "use first."), {"n": uploads.MAX_KEPT})
    if unknown:
        return Outcome(True, N_("The template «{name}» is uploaded, but it uses fields no "
                                "document has: {fields}. Correct them and upload it again, "
                                "or a document made from it is refused. Its id: {id}"),
                       {"name": up.name, "fields": ", ".join(unknown), "id": up.sha})
    return Outcome(True, N_("The template «{name}» is uploaded. To use it, add a document "
                            "of the kind “My own document” in the settings above and put "
                            "{id} in its “Template” field."), {"name": up.name, "id": up.sha})


def delete(ctx: JobContext, view: AdminView) -> Outcome:
    """Forget an uploaded template; refused while a document in the settings names it."""
    sha = str(view.values.get("sha", "")).strip()
    found = _uploads(ctx).get(sha) if sha else None
    if found is None:
        return Outcome(False, N_("There is no such template (deleted already?)."))
    users = _users(ctx.settings[NAME], sha)
    if users:
        return Outcome(False, N_("«{name}» is the template of {codes}: change those documents "
                                 "in the settings first."),
                       {"name": found.name, "codes": ", ".join(users)})
    _uploads(ctx).remove(sha)
    return Outcome(True, N_("The template «{name}» is deleted."), {"name": found.name})


# the fields a template may use ------------------------------------------------------------
def fields_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    """context.schema: the names every document has, grouped by what they are about, then
    each extra section with the kinds that have it."""
    lang = view.lang(ctx.lang)
    common = [OWN_FIELDS.get(n, n) for n in dctx.schema(())]
    groups = [{"key": key, "title": t(lang, title),
               "names": [n for n in common if n == key or n.startswith((f"{key}.", f"{key}["))]}
              for key, title in GROUPS]
    labels = {f"{s}.{k}": t(lang, label) for s, keys in kinds.SECTIONS.items()
              for k, label in keys}
    sections = [{"key": s, "title": t(lang, SECTION_TITLES.get(s, s)),
                 "names": [{"name": n, "label": labels.get(n, "")}
                           for n in dctx.schema((s,)) if n.startswith(f"{s}.")],
                 "kinds": [t(lang, k.title) for k in kinds.KINDS if s in k.sections]}
                for s in kinds.SECTIONS]
    return {"groups": [g for g in groups if g["names"]], "sections": sections}


# numbers and the registry -----------------------------------------------------------------
def _entities(ctx: JobContext) -> list[tuple[int, str]]:
    """Our legal entities (the sequences are per entity): the portal's "my companies", with
    0 for documents made while none was set up."""
    try:
        found = ctx.crm.read({"m": crm.MyCompanies()}).get("m") or []
    except (crm.CrmError, ConnectorError):
        found = []
    out = [(p.ref.id, p.name or p.title or f"#{p.ref.id}") for p in found]
    return [*out, (0, "")]


def numbers_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    section = ctx.settings[NAME]
    today = make.today(ctx)
    nums = make.numbers_of(ctx)
    entities = _entities(ctx)
    rows, seen = [], set()
    for doc in config.documents(section):
        if not doc.registry:
            continue
        period = numbers.period_of(doc.reset, today)
        for entity, entity_name in entities:
            seq = numbers.Sequence(doc.sequence_kind, entity, period)
            if (seq, doc.pattern) in seen:
                continue
            seen.add((seq, doc.pattern))
            last = nums.last(seq)
            if entity == 0 and not last and len(entities) > 1:
                continue  # the portal has companies: no document was made without one
            rows.append({"code": doc.code, "title": t(lang, doc.title) if doc.kind else
                         doc.title, "pattern": doc.pattern, "entity": entity_name,
                         "period": period, "last": last, "last_number": numbers.format_number(
                             doc.pattern, last, today) if last else "",
                         "next_number": numbers.format_number(doc.pattern, last + 1, today)})
    kind = steps.registry_kind(ctx)
    return {"rows": rows, "registry": bool(section["registry"]), "registry_kind": kind,
            "registry_id": kind.removeprefix("item:") if kind.startswith("item:") else kind,
            "year": today.year}


PANELS = (
    Panel("templates", N_("Templates"), templates_facts, "panels/documents_templates.html",
          actions={"upload": upload, "delete": delete},
          max_upload=render.MAX_TEMPLATE_BYTES),
    Panel("fields", N_("Fields a template may use"), fields_facts,
          "panels/documents_fields.html"),
    Panel("numbers", N_("Numbers"), numbers_facts, "panels/documents_numbers.html"),
)
