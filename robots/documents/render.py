"""A .docx template filled with a context: docxtpl in Jinja's immutable sandbox, every value
escaped for Word's XML, the render in a limited child process.

The order a document is made in: `load` (size and archive checked before anything is
parsed), `missing` (the fields the template reads that the data lacks: refused before a
number is taken), then `render`. Whatever goes wrong is a TemplateProblem whose message
names the place in the template (the part, the paragraph and its text) or the fields.

Why each guard (reference §1–3): docxtpl escapes nothing by default, and a `&` or `<` in a
client's name silently cut the document (autoescape). The sandbox refuses `_`-attributes,
`str.format` tricks and mutation; StrictUndefined turns its silent empty strings and every
unknown name into errors. The context is checked to be plain data (dicts, lists, strings,
numbers, flags), so no docxtpl object (InlineImage.tpl.save wrote files) or CRM object can
be reached through it. CPU and memory are bounded by the child (robots.documents.child).
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from lxml.etree import XMLSyntaxError

from connector.i18n import N_, Msg, t
from robots.documents import child
from robots.documents.problems import TemplateProblem
from robots.documents.usage import Usage, absent, used

MiB = 1024 * 1024
MAX_TEMPLATE_BYTES = 10 * MiB
MAX_UNPACKED_BYTES = 64 * MiB  # a zip bomb is refused before any part is inflated
MAX_DOCUMENT_BYTES = 50 * MiB
LIMITS = child.Limits()
PREPARED_KEPT = 32  # templates kept opened and compiled (the 16 shipped fit)
COMPILED_KEPT = 8 * PREPARED_KEPT  # their parts: body, headers, footers, properties
# docxtpl renders these core properties through the same environment
PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
# what a template may call besides its data; lipsum, cycler and joiner are left out
GLOBALS = ("range", "dict", "namespace")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG = re.compile(r"<[^>]+>")
_RICH_TAG = re.compile(r"\{\{(?:r|p|tr|tc)\s")  # {{r rt }}, {{p subdoc }}: docxtpl objects

TOO_BIG = N_("The template is {size} MB; templates up to {limit} MB are accepted")
TOO_BIG_UNPACKED = N_("The template unpacks to more than {limit} MB; it is not a normal "
                      "Word document")
NOT_DOCX = N_("The file is not a Word document (.docx): {detail}")
SYNTAX = N_("Template error in the {where}: {detail}")
MISSING = N_("The template uses fields the data does not have: {fields}")
FORBIDDEN = N_("The template tries what templates may not do, in the {where}: {detail}")
UNDEFINED = N_("The template uses a field the data does not have, in the {where}: {detail}")
LOOP_TOO_LONG = N_("A loop in the template is too long, in the {where}: {detail}")
FAILED = N_("The template could not be filled, in the {where}: {detail}")
BROKEN_XML = N_("The filled template is not valid Word XML: {detail}")
OUT_OF_TIME = N_("Filling the template was stopped after {seconds} s: it works too long")
OUT_OF_MEMORY = N_("Filling the template was stopped: it needs more than {mb} MB of memory")
DOCUMENT_TOO_BIG = N_("The filled document is {size} MB; at most {limit} MB are kept")
RENDER_DIED = N_("Filling the template failed: {detail}")
RICH_TAG = N_("The tag «{tag}…» inserts rich text or a sub-document, which templates here "
              "are not given: leave out the letter after the braces, in the {where}")
AT_PARAGRAPH = N_("{part}, paragraph {line} «{text}»")
BODY, HEADER, FOOTER, FOOTNOTES, PROPERTIES_PART = (
    N_("document body"), N_("page header"), N_("page footer"), N_("footnotes"),
    N_("document properties"))


@dataclass(frozen=True)
class Where:
    """A place in a template, for messages: its part and, when known, the paragraph."""

    part: Msg
    line: int = 0
    text: str = ""

    def text_in(self, lang: str) -> str:
        if not self.line:
            return t(lang, self.part)
        return t(lang, AT_PARAGRAPH, part=t(lang, self.part), line=self.line, text=self.text)

    def __str__(self) -> str:
        return self.text_in("en")


@dataclass(frozen=True)
class Source:
    """One part of the template as docxtpl hands it to Jinja: a line per paragraph."""

    partname: str
    part: Msg
    text: str
    before: int = 1  # lines ahead of the first paragraph (the part's opening element)

    def where(self, line: int | None) -> Where:
        """The place of a Jinja line number: paragraph n (from 1) and its visible text."""
        lines = self.text.splitlines()
        if not line or not self.before < line <= len(lines):
            return Where(self.part)
        shown = html.unescape(_TAG.sub("", lines[line - 1])).strip()
        return Where(self.part, line - self.before,
                     shown[:120] + ("…" if len(shown) > 120 else ""))


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox a template runs in: autoescape for Word's XML, unknown names are errors,
    none of Jinja's globals a document does not need. `from_string` (what docxtpl calls for
    every part) answers from the templates `prepare` compiled, so a render compiles nothing.
    """

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=StrictUndefined)
        self.globals = {k: v for k, v in self.globals.items() if k in GLOBALS}
        self.compiled: OrderedDict[str, Template] = OrderedDict()

    def from_string(self, source: Any, globals: Any = None,  # noqa: A002 - Jinja's name
                    template_class: Any = None) -> Template:
        if globals is None and template_class is None and source in self.compiled:
            return self.compiled[source]
        return super().from_string(source, globals, template_class)

    def keep(self, source: str, tree: nodes.Template) -> None:
        """Compile a parsed part once; the oldest are dropped past COMPILED_KEPT."""
        if source in self.compiled:
            self.compiled.move_to_end(source)
            return
        code = self.compile(tree)
        self.compiled[source] = self.template_class.from_code(
            self, code, self.make_globals(None), None)
        while len(self.compiled) > COMPILED_KEPT:
            self.compiled.popitem(last=False)


# One environment for every render: it holds no state of a render, and the compiled
# templates it keeps are bound to it.
ENV = _Sandbox()


def _check_archive(template: bytes) -> None:
    if len(template) > MAX_TEMPLATE_BYTES:
        raise TemplateProblem(TOO_BIG, {"size": round(len(template) / MiB, 1),
                                        "limit": MAX_TEMPLATE_BYTES // MiB})
    try:
        with zipfile.ZipFile(io.BytesIO(template)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TemplateProblem(NOT_DOCX, {"detail": str(exc) or type(exc).__name__}) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise TemplateProblem(TOO_BIG_UNPACKED, {"limit": MAX_UNPACKED_BYTES // MiB})
    if "word/document.xml" not in names:
        raise TemplateProblem(NOT_DOCX, {"detail": "word/document.xml is missing"})


def load(template: bytes) -> DocxTemplate:
    """The template, opened; TemplateProblem when it is too big or not a .docx."""
    _check_archive(template)
    tpl = DocxTemplate(io.BytesIO(template))
    try:
        tpl.init_docx()
    except (PackageNotFoundError, KeyError, ValueError, XMLSyntaxError, zipfile.BadZipFile,
            AttributeError, TypeError) as exc:
        raise TemplateProblem(NOT_DOCX, {"detail": f"{type(exc).__name__}: {exc}"}) from None
    return tpl


def _numbered(xml: str) -> str:
    """The part's source with one line per paragraph, as docxtpl's render_xml_part makes it
    (so a Jinja line number is a paragraph)."""
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


def _source(tpl: DocxTemplate, partname: str, part: Msg, xml: str) -> Source:
    """A part as Jinja gets it; TemplateProblem for a rich-text tag, which would insert a
    plain value where Word expects a run or a paragraph (docxtpl loses it silently)."""
    for n, line in enumerate(_numbered(xml).splitlines()):
        found = _RICH_TAG.search(html.unescape(_TAG.sub("", line)))
        if found:
            raw = Source(partname, part, _numbered(xml))
            raise TemplateProblem(RICH_TAG, {"tag": found.group(0).strip(),
                                             "where": raw.where(n + 1)})
    return Source(partname, part, _numbered(tpl.patch_xml(xml)))


def sources(tpl: DocxTemplate) -> list[Source]:
    """Every part docxtpl renders, in its order: body, headers, footers, properties,
    footnotes."""
    docx = tpl.get_docx()
    out = [_source(tpl, docx.part.partname, BODY, tpl.get_xml())]
    for uri, label in ((tpl.HEADER_URI, HEADER), (tpl.FOOTER_URI, FOOTER)):
        for _, part in tpl.get_headers_footers(uri):
            out.append(_source(tpl, part.partname, label, tpl.get_part_xml(part)))
    props = docx.core_properties  # rendered one by one, each its own source
    out += [Source("/docProps/core.xml", PROPERTIES_PART, getattr(props, name) or "", before=0)
            for name in PROPERTIES]
    for part in docx.part.package.parts:
        if part.content_type.endswith(".footnotes+xml"):
            blob = part.blob.decode("utf-8") if isinstance(part.blob, bytes) else part.blob
            out.append(_source(tpl, part.partname, FOOTNOTES, blob))
    return out


@dataclass(frozen=True)
class Prepared:
    """A template checked, opened, parsed and compiled: what every render of it shares.
    `tpl` is never rendered in this process (a render fills the child's copy of it)."""

    tpl: DocxTemplate
    sources: tuple[Source, ...]
    usage: Usage


def _parse(source: Source, text: str) -> nodes.Template:
    try:
        tree = ENV.parse(text)
        ENV.keep(text, tree)
    except TemplateSyntaxError as exc:  # TemplateAssertionError (a block twice) included
        raise TemplateProblem(SYNTAX, {"where": source.where(exc.lineno),
                                       "detail": exc.message or str(exc)}) from None
    return tree


def _prepare(template: bytes) -> Prepared:
    tpl = load(template)
    found = sources(tpl)
    usage = Usage()
    for source in found:
        part = used(_parse(source, source.text), ENV.globals)
        usage.names |= part.names
        usage.optional |= part.optional
    return Prepared(tpl, tuple(found), usage)


_PREPARED: OrderedDict[str, Prepared] = OrderedDict()


def prepare(template: bytes) -> Prepared:
    """The template made ready to render, kept for the next render of the same bytes (the
    PREPARED_KEPT latest); TemplateProblem when it cannot be used."""
    key = hashlib.sha256(template).hexdigest()
    if key in _PREPARED:
        _PREPARED.move_to_end(key)
        return _PREPARED[key]
    prepared = _prepare(template)
    _PREPARED[key] = prepared
    while len(_PREPARED) > PREPARED_KEPT:
        _PREPARED.popitem(last=False)
    return prepared


def keep_ready(templates: Iterable[bytes]) -> int:
    """Prepare these templates now: a worker that does so before it forks its work-horses
    hands each of them the templates ready (a horse's own cache dies with it). How many."""
    return sum(1 for template in templates if prepare(template))


def fields(template: bytes) -> set[str]:
    """The dotted names the template reads ("seller.bank.bik", "items[].total"), optional
    ones (under `|default`, `is defined`) included; TemplateProblem on a syntax error."""
    return set(prepare(template).usage.names)


def missing(template: bytes, context: Mapping[str, Any]) -> list[str]:
    """The required names the template reads that the context lacks, sorted."""
    return absent(prepare(template).usage.required, context)


def require(template: bytes, context: Mapping[str, Any]) -> None:
    """TemplateProblem naming every field the context lacks (the check before a number)."""
    lacking = missing(template, context)
    if lacking:
        raise TemplateProblem(MISSING, {"fields": ", ".join(lacking)})


def plain(value: Any, path: str = "context") -> Any:
    """The context as plain data, strings cleaned of characters XML cannot hold; TypeError
    for anything else (an object the template could call into)."""
    if isinstance(value, str):
        return _XML_ILLEGAL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} is not plain data")


def _template_line(tb: Any) -> int | None:
    """The template line of the innermost frame Jinja's traceback rewriting left."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _where(tpl: DocxTemplate, found: Sequence[Source], exc: BaseException) -> Where:
    part = getattr(tpl, "current_rendering_part", None)
    name = getattr(part, "partname", "") if part is not None else ""
    line = getattr(exc, "lineno", None) or _template_line(exc.__traceback__)
    for source in found:
        if source.partname == name:
            return source.where(line)
    return Where(BODY)


def _fill(tpl: DocxTemplate, found: Sequence[Source], context: Mapping[str, Any]) -> bytes:
    """Render `tpl` (it is changed) and save it; TemplateProblem for every way a template
    can fail while it runs."""
    data = plain(context)
    try:
        tpl.render(data, jinja_env=ENV)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(SYNTAX, {"where": _where(tpl, found, exc),
                                       "detail": exc.message or str(exc)}) from None
    except SecurityError as exc:
        raise TemplateProblem(FORBIDDEN, {"where": _where(tpl, found, exc),
                                          "detail": str(exc)}) from None
    except UndefinedError as exc:
        raise TemplateProblem(UNDEFINED, {"where": _where(tpl, found, exc),
                                          "detail": str(exc)}) from None
    except OverflowError as exc:  # the sandbox's range guard is no TemplateError
        raise TemplateProblem(LOOP_TOO_LONG, {"where": _where(tpl, found, exc),
                                              "detail": str(exc)}) from None
    except XMLSyntaxError as exc:
        raise TemplateProblem(BROKEN_XML, {"detail": str(exc)}) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a template's fault (TypeError, …), shown
        raise TemplateProblem(FAILED, {"where": _where(tpl, found, exc),
                                       "detail": f"{type(exc).__name__}: {exc}"}) from None
    out = io.BytesIO()
    tpl.save(out)
    document = out.getvalue()
    if len(document) > MAX_DOCUMENT_BYTES:
        raise TemplateProblem(DOCUMENT_TOO_BIG, {"size": round(len(document) / MiB, 1),
                                                 "limit": MAX_DOCUMENT_BYTES // MiB})
    return document


def render_here(template: bytes, context: Mapping[str, Any]) -> bytes:
    """The filled document made in this process, unguarded, from a fresh copy of the
    template: what the child does, for tests and the bench to compare with."""
    prepared = prepare(template)
    tpl = load(template)
    return _fill(tpl, prepared.sources, context)


def render(template: bytes, context: Mapping[str, Any], limits: child.Limits = LIMITS,
           ) -> bytes:
    """The filled document, made in a child process under `limits`. The size and the
    archive are checked here first, so a 50 MB upload never reaches a parser; the template
    is opened and compiled here once (`prepare`), and the child fills its own copy."""
    prepared = prepare(template)
    try:
        return child.run(lambda: _fill(prepared.tpl, prepared.sources, context), limits)
    except child.OutOfTime as exc:
        raise TemplateProblem(OUT_OF_TIME, {"seconds": exc.seconds}) from None
    except child.OutOfMemory:
        raise TemplateProblem(OUT_OF_MEMORY, {"mb": limits.memory_bytes // MiB}) from None
    except child.ChildFailed as exc:
        raise TemplateProblem(RENDER_DIED, {"detail": str(exc)}) from None
