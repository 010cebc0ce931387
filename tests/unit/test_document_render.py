"""Rendering a .docx template: escaping for Word's XML, the sandbox against the reference's
template-injection payloads (§3.3), the fields a template uses and which the data lacks,
the size limit before any parsing, broken files, and the child's CPU, memory and time guard.
Every template here is a real .docx made with python-docx, rendered by docxtpl in a real
forked child."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest
from docx import Document
from docxtpl import DocxTemplate, InlineImage

from robots.documents import child, render
from robots.documents.problems import TemplateProblem

FAST = child.Limits(cpu_seconds=1, memory_bytes=128 * child.MiB, wall_seconds=10)
CTX = {"buyer": {"name": "ООО «Рога & Копыта»", "inn": "7811234560"},
       "deal": {"title": "Перевозка", "fields": {"UF_CRM_1": "груз"}},
       "items": [{"name": "a", "total": "1,00"}, {"name": "b", "total": "2,00"}]}


def docx(*paragraphs: str, header: str = "", table: list[list[str]] | None = None) -> bytes:
    doc = Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    if table:
        grid = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for col, text in enumerate(row):
                grid.rows[r].cells[col].text = text
    if header:
        doc.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def texts(document: bytes) -> list[str]:
    doc = Document(io.BytesIO(document))
    out = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        out += [cell.text for row in table.rows for cell in row.cells]
    return out + [p.text for p in doc.sections[0].header.paragraphs]


def problem(template: bytes, context: dict | None = None, limits=FAST) -> TemplateProblem:
    with pytest.raises(TemplateProblem) as caught:
        render.render(template, CTX if context is None else context, limits)
    return caught.value


# escaping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ООО «Рога & Копыта»", "<b>Ромашка</b>", "A < B > C",
                                  "\"Кавычки\" и 'апострофы'", "a]]>b", "&amp; уже"])
def test_values_come_out_exactly_as_given_in_the_body_a_table_and_a_header(name):
    template = docx("Клиент: {{ buyer.name }}", "После: {{ deal.title }}",
                    header="Шапка: {{ buyer.name }}", table=[["{{ buyer.name }}", "x"]])
    out = texts(render.render(template, {**CTX, "buyer": {"name": name}}, FAST))
    assert f"Клиент: {name}" in out
    assert "После: Перевозка" in out  # nothing after the value vanished (reference §1.1)
    assert name in out and f"Шапка: {name}" in out


def test_line_breaks_in_a_value_become_line_breaks_and_illegal_characters_go():
    out = render.render(docx("{{ buyer.name }}"), {"buyer": {"name": "один\r\nдва\x0bтри"}},
                        FAST)
    xml = zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml").decode()
    assert "<w:br/>" in xml and "\x0b" not in xml
    assert texts(out)[0].replace("\n", "|") == "один|дватри"


# the sandbox: the reference's payloads (§3.3) --------------------------------------------
PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ ''['__class__'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ '{0.__class__}'.format(1) }}",
    '{{ "{0.__class__}"|attr("format")(1) }}',
    "{{ dict.mro() }}",
    "{{ range(100001)|length }}",
    "{{ config }}",
    "{{ request }}",
    "{{ img.tpl.save('/tmp/crm-connector-payload.docx') }}",
    "{{ deal.fields.update({'x': 1}) }}",  # the immutable sandbox: no mutation
    "{{ items.append(1) }}",
    "{{ deal.title.__class__.__base__.__subclasses__() }}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_known_injection_payload_is_refused(payload, tmp_path):
    caught = problem(docx("Договор", payload))
    text = caught.text("en")
    assert "paragraph 2" in text and "«" in text  # where it is, quoted
    assert not os.path.exists("/tmp/crm-connector-payload.docx")


def test_payload_refusals_say_what_they_refused():
    assert "unsafe" in problem(docx("{{ ''.__class__ }}")).text("en")
    assert "too long" in problem(docx("{{ range(100001)|length }}")).text("en")
    assert "'lipsum' is undefined" in problem(docx("{{ lipsum(2000) }}")).text("en")


def test_no_docxtpl_object_can_be_put_in_the_context():
    """InlineImage.tpl.save wrote files even in the sandbox (reference §1.2): the render
    takes plain data only."""
    template = docx("{{ img }}")
    tpl = DocxTemplate(io.BytesIO(template))
    with pytest.raises(TypeError, match="InlineImage is not plain data"):
        render.render(template, {"img": InlineImage(tpl, io.BytesIO(b""))}, FAST)


def test_a_decimal_or_any_object_is_refused_too():
    from decimal import Decimal

    with pytest.raises(TypeError, match=r"context\.deal\.amount"):
        render.plain({"deal": {"amount": Decimal("1")}})


# fields and missing ------------------------------------------------------------------------
def test_fields_names_attribute_chains_loops_and_subscripts():
    template = docx(
        "{{ buyer.name }} {{ seller.bank.bik }} {{ deal.fields['UF_CRM_1'] }}",
        "{% for it in items %}{{ it.name }} {{ loop.index }}{% endfor %}",
        "{{ buyer.note|default('') }}{% if buyer.extra is defined %}{{ buyer.extra.x }}"
        "{% endif %}{% set s = seller %}{{ s.inn }}",
        header="{{ doc.number }}",
        table=[["{%tr for row in items %}"], ["{{ row.total }}"], ["{%tr endfor %}"]])
    assert render.fields(template) == {
        "buyer.name", "seller.bank.bik", "deal.fields.UF_CRM_1", "items", "items[].name",
        "items[].total", "buyer.note", "buyer.extra", "buyer.extra.x", "seller",
        "seller.inn", "doc.number"}


def test_missing_names_what_the_data_lacks_and_not_what_is_optional():
    template = docx("{{ buyer.name }} {{ buyer.kpp }} {{ seller.bank.bik }}",
                    "{% for it in items %}{{ it.total }} {{ it.vat }}{% endfor %}",
                    "{{ deal.fields.UF_CRM_2 }} {{ deal.title|upper }} {{ note|default('') }}",
                    header="{{ doc.number }}")
    assert render.missing(template, CTX) == [
        "buyer.kpp", "deal.fields.UF_CRM_2", "doc.number", "items[].vat", "seller.bank.bik"]
    assert render.missing(template, {**CTX, "items": []}) == [  # an empty table: nothing
        "buyer.kpp", "deal.fields.UF_CRM_2", "doc.number", "seller.bank.bik"]
    with pytest.raises(TemplateProblem) as caught:
        render.require(template, CTX)
    assert "buyer.kpp, deal.fields.UF_CRM_2" in caught.value.text("ru")


def test_a_template_the_data_satisfies_misses_nothing_and_renders():
    template = docx("{{ buyer.name }}", "{% for it in items %}{{ it.name }}{% endfor %}")
    assert render.missing(template, CTX) == []
    assert texts(render.render(template, CTX, FAST))[:2] == ["ООО «Рога & Копыта»", "ab"]


def test_a_method_of_a_string_or_a_dict_is_no_missing_field():
    template = docx("{{ deal.title.upper() }}{% for k, v in deal.fields.items() %}{{ k }}"
                    "{% endfor %}")
    assert render.missing(template, CTX) == []
    assert texts(render.render(template, CTX, FAST))[0] == "ПЕРЕВОЗКАUF_CRM_1"


# syntax errors and broken files ------------------------------------------------------------
def test_a_syntax_error_names_the_paragraph_and_quotes_it():
    template = docx("Договор № {{ doc.number }}", "Покупатель: {{ buyer.name }",
                    "Итого")
    for call in (lambda: render.fields(template), lambda: render.render(template, CTX, FAST)):
        with pytest.raises(TemplateProblem) as caught:
            call()
        text = caught.value.text("en")
        assert "paragraph 2" in text and "«Покупатель: {{ buyer.name }" in text


def test_a_syntax_error_in_a_header_names_the_header():
    with pytest.raises(TemplateProblem) as caught:
        render.fields(docx("ok", header="{% if x %}"))
    assert "page header" in caught.value.text("en")


def test_an_unclosed_block_is_named():
    with pytest.raises(TemplateProblem) as caught:
        render.fields(docx("{% for it in items %}", "{{ it.name }}"))
    assert "endfor" in caught.value.text("en")


@pytest.mark.parametrize("data", [b"", b"plain text", b"PK\x03\x04broken",
                                  b"%PDF-1.7 not a docx"])
def test_what_is_not_a_docx_is_refused(data):
    with pytest.raises(TemplateProblem) as caught:
        render.render(data, CTX, FAST)
    assert "not a Word document" in caught.value.text("en")


def test_a_zip_without_a_document_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(TemplateProblem, match="not a Word"):
        render.fields(out.getvalue())


def test_a_template_over_10_mib_is_refused_before_it_is_parsed():
    huge = docx("{{ buyer.name }}") + os.urandom(50 * 1024 * 1024)  # a 50 MB upload
    started = time.perf_counter()
    for call in (lambda: render.render(huge, CTX, FAST), lambda: render.fields(huge),
                 lambda: render.load(huge)):
        with pytest.raises(TemplateProblem) as caught:
            call()
        assert caught.value.msgid == render.TOO_BIG
        assert caught.value.params == {"size": 50.0, "limit": 10}
    assert time.perf_counter() - started < 0.5  # no zip, XML or Jinja parser ran


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<" + b" " * (80 * 1024 * 1024))
    assert len(out.getvalue()) < render.MAX_TEMPLATE_BYTES
    with pytest.raises(TemplateProblem) as caught:
        render.fields(out.getvalue())
    assert caught.value.msgid == render.TOO_BIG_UNPACKED


# the child's guard -------------------------------------------------------------------------
def test_a_100_mb_string_is_stopped_by_the_memory_limit():
    caught = problem(docx('{{ "x" * 100000000 }}'), limits=child.Limits(
        cpu_seconds=10, memory_bytes=64 * child.MiB, wall_seconds=30))
    assert caught.msgid == render.OUT_OF_MEMORY and caught.params == {"mb": 64}


def test_a_hundred_million_iterations_are_stopped_by_the_cpu_limit():
    loop = ("{% for i in range(100000) %}{% for j in range(1000) %}{% endfor %}"
            "{% endfor %}")
    caught = problem(docx(loop), limits=FAST)
    # the 1 s of CPU, not the 10 s wall clock (the loop alone needs ~10 s)
    assert caught.msgid == render.OUT_OF_TIME and caught.params == {"seconds": 1}


def test_the_default_limits_stop_both_too():
    assert problem(docx('{{ "x" * 300000000 }}'), limits=render.LIMITS).msgid in (
        render.OUT_OF_MEMORY, render.OUT_OF_TIME)


def children() -> set[int]:
    """This process's children, from /proc (zombies included)."""
    out = set()
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                out.add(int(stat))
    return out


def test_the_wall_clock_stops_a_child_that_waits_and_leaves_no_process():
    before = children()
    started = time.perf_counter()
    with pytest.raises(child.OutOfTime) as caught:
        child.run(lambda: time.sleep(30), child.Limits(wall_seconds=0.5))
    assert caught.value.wall is True and time.perf_counter() - started < 3
    assert children() <= before  # killed and reaped: not even a zombie is left


def test_a_child_hands_back_its_result_and_its_exception():
    assert child.run(lambda: os.getpid()) != os.getpid()
    with pytest.raises(ZeroDivisionError):
        child.run(lambda: 1 / 0)


def test_a_render_leaves_the_workers_copy_of_the_template_as_it_was():
    template = docx("{{ buyer.name }}")
    first = texts(render.render(template, CTX, FAST))
    second = texts(render.render(template, {**CTX, "buyer": {"name": "Другой"}}, FAST))
    assert first[0] == "ООО «Рога & Копыта»" and second[0] == "Другой"
    assert render.prepare(template).tpl.is_rendered is False


def test_the_guarded_render_makes_what_the_plain_one_does():
    template = docx("{{ buyer.name }}", table=[["{%tr for it in items %}"],
                                               ["{{ it.name }}"], ["{%tr endfor %}"]])
    assert texts(render.render(template, CTX, FAST)) == texts(render.render_here(template, CTX))


@pytest.mark.parametrize("tag", ["{{r buyer.name }}", "{{p buyer.name }}"])
def test_a_rich_text_tag_is_refused_rather_than_losing_its_value(tag):
    """docxtpl's {{r}}/{{p}} expect RichText/Subdoc objects; a plain value there vanished."""
    with pytest.raises(TemplateProblem) as caught:
        render.fields(docx("Договор", tag))
    assert caught.value.msgid == render.RICH_TAG
    assert "paragraph 2" in caught.value.text("en")
    assert render.fields(docx("{{ p }} {{ r.x }}")) == {"p", "r.x"}  # plain names stay


def test_a_docx_whose_document_is_not_xml_is_refused():
    good = zipfile.ZipFile(io.BytesIO(docx("x")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in good.namelist():
            archive.writestr(name, b"<w:document" if name == "word/document.xml"
                             else good.read(name))
    with pytest.raises(TemplateProblem) as caught:
        render.fields(out.getvalue())
    assert caught.value.msgid == render.NOT_DOCX
