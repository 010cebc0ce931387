"""The building blocks of the shipped templates, on python-docx: an A4 page in Times New
Roman, titles, numbered clauses, grids, the product table with its docxtpl row loop, the
totals, the two sides' requisites and their signatures.

Jinja in a template is written here as plain text in one run per paragraph, so Word's run
splitting never cuts a tag. `@` in a party block stands for the context's side (`seller`,
`buyer`), e.g. "{{ @.inn }}".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

FONT = "Times New Roman"
SIZE = 10.5
ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
         "right": WD_ALIGN_PARAGRAPH.RIGHT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


@dataclass(frozen=True)
class Column:
    """A column of the product table: its heading, the cell's template text, its width."""

    heading: str
    cell: str
    width: float  # mm
    align: str = "left"


SIGN = "____________ /"  # the line a signature goes on, then the name and a closing «/»


def whole(table: Table) -> None:
    """Its rows never break across pages (a signatures block stays in one piece)."""
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


class Page:
    """One template being written."""

    def __init__(self, title: str, landscape: bool = False):
        self.doc = Document()
        section = self.doc.sections[0]
        width, height = Mm(210), Mm(297)
        if landscape:
            section.orientation = WD_ORIENT.LANDSCAPE
            width, height = height, width
        section.page_width, section.page_height = width, height
        section.left_margin = Mm(20 if landscape else 25)
        section.right_margin = Mm(15 if landscape else 12)
        section.top_margin = section.bottom_margin = Mm(15)
        self.width = (width - section.left_margin - section.right_margin) / Mm(1)
        normal = self.doc.styles["Normal"]
        normal.font.name = FONT
        normal.font.size = Pt(SIZE)
        normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
        normal.paragraph_format.space_after = Pt(0)
        normal.paragraph_format.space_before = Pt(0)
        normal.paragraph_format.line_spacing = 1.0
        props = self.doc.core_properties
        props.title, props.author, props.last_modified_by = title, "crm-connector", ""
        props.comments = props.subject = props.keywords = props.category = ""
        props.language = "ru-RU"

    # paragraphs -----------------------------------------------------------------------
    def p(self, text: str = "", *, bold: bool = False, align: str = "left",
          size: float | None = None, before: float = 0, after: float = 0,
          indent: bool = False, where: _Cell | None = None, italic: bool = False,
          ) -> Paragraph:
        """A paragraph (in a table cell when `where` is given: its first, empty one first)."""
        if where is not None:
            first = where.paragraphs[0]
            para = first if not first.text and not first.runs else where.add_paragraph()
        else:
            para = self.doc.add_paragraph()
        para.alignment = ALIGN[align]
        fmt = para.paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(after)
        if indent:
            fmt.first_line_indent = Mm(10)
        if text:
            run = para.add_run(text)
            run.bold, run.italic = bold, italic
            if size:
                run.font.size = Pt(size)
        return para

    def rich(self, parts: Sequence[tuple[str, bool]], *, align: str = "left",
             after: float = 0, indent: bool = False, where: _Cell | None = None) -> Paragraph:
        """A paragraph of runs, (text, bold) each."""
        para = self.p(align=align, after=after, indent=indent, where=where)
        for text, bold in parts:
            para.add_run(text).bold = bold
        return para

    def title(self, text: str, sub: str = "") -> None:
        self.p(text, bold=True, align="center", size=13, before=0, after=2 if sub else 8)
        if sub:
            self.p(sub, align="center", after=8)

    def dated(self, left: str = "", right: str = "{{ doc.date_quoted }}") -> None:
        """The line under a contract's title: a place on the left, the date on the right."""
        table = self.grid([[left, right]], [self.width / 2, self.width / 2], borders=False)
        table.rows[0].cells[1].paragraphs[0].alignment = ALIGN["right"]
        self.p(after=4)

    def text(self, text: str, *, after: float = 3) -> None:
        """A justified paragraph with a first-line indent: the body of a contract."""
        self.p(text, align="justify", indent=True, after=after)

    def clauses(self, number: int, heading: str, items: Sequence[str]) -> None:
        """«3. ЦЕНА И ПОРЯДОК РАСЧЁТОВ», then «3.1. …», «3.2. …»."""
        self.p(f"{number}. {heading.upper()}", bold=True, align="center", before=6, after=3)
        for i, item in enumerate(items, start=1):
            self.p(f"{number}.{i}. {item}", align="justify", indent=True, after=2)

    def when(self, condition: str) -> None:
        """Opens a paragraph block shown only when `condition` holds ({%p if %})."""
        self.p("{%p if " + condition + " %}")

    def end(self) -> None:
        self.p("{%p endif %}")

    # tables ---------------------------------------------------------------------------
    def grid(self, rows: Sequence[Sequence[str]], widths: Sequence[float], *,
             borders: bool = True, bold_first: bool = False, header: bool = False,
             size: float | None = None, aligns: Sequence[str] | None = None) -> Table:
        table = self.doc.add_table(rows=len(rows), cols=len(widths))
        if borders:
            table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Mm(width)  # the grid: LibreOffice sizes columns by it, not cells
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                cell = table.rows[r].cells[c]
                cell.width = Mm(widths[c])
                bold = (bold_first and c == 0) or (header and r == 0)
                align = "center" if header and r == 0 else (aligns[c] if aligns else "left")
                self.p(value, bold=bold, where=cell, size=size, align=align)
        return table

    def fields(self, rows: Sequence[tuple[str, str]], label_width: float = 60) -> Table:
        """A two-column table of labels and values («Марка, модель | {{ vehicle.… }}»)."""
        return self.grid(rows, [label_width, self.width - label_width], bold_first=True)

    def items(self, columns: Sequence[Column], *, size: float = 9.5, loop: str = "it",
              ) -> Table:
        """The product table: a heading row, then one row per item ({%tr for %})."""
        widths = [c.width for c in columns]
        scale = self.width / sum(widths)
        widths = [w * scale for w in widths]
        rows = [[c.heading for c in columns],
                ["{%tr for " + loop + " in items %}"] + [""] * (len(columns) - 1),
                [c.cell for c in columns],
                ["{%tr endfor %}"] + [""] * (len(columns) - 1)]
        table = self.grid(rows, widths, header=True, size=size)
        for cell, column in zip(table.rows[2].cells, columns, strict=True):
            cell.paragraphs[0].alignment = ALIGN[column.align]
        return table

    def totals(self, *, discount: bool = False, words: bool = True) -> None:
        """Итого, the VAT line, Всего к оплате when VAT is on top, the count and the words."""
        self.p(after=2)
        if discount:
            self.when("totals.has_discount")
            self.p("Скидка по заказу: {{ totals.discount }}", align="right")
            self.end()
        self.p("Итого: {{ totals.subtotal }}", bold=True, align="right")
        self.when("totals.vat_line")
        self.p("{{ totals.vat_line }}", bold=True, align="right")
        self.end()
        self.when("totals.vat_on_top")
        self.p("Всего к оплате: {{ totals.gross }}", bold=True, align="right")
        self.end()
        if words:
            self.p("Всего наименований {{ totals.count }}, на сумму {{ totals.gross }} "
                   "{{ deal.currency_sign }}", before=4)
            self.p("{{ totals.gross_words }}", bold=True, after=4)

    def parties(self, left: tuple[str, str], right: tuple[str, str], *,
                heading: str = "АДРЕСА, РЕКВИЗИТЫ И ПОДПИСИ СТОРОН", number: int = 0) -> None:
        """Both sides' requisites side by side, with their signatures and seals."""
        title = self.p(f"{number}. {heading}" if number else heading, bold=True,
                       align="center", before=8, after=4)
        title.paragraph_format.keep_with_next = True
        half = self.width / 2
        table = self.grid([["", ""]], [half, half], borders=False)
        whole(table)
        for cell, (role, side) in zip(table.rows[0].cells, (left, right), strict=True):
            self._requisites(cell, role, side)

    def _requisites(self, cell: _Cell, role: str, side: str) -> None:
        def line(text: str, bold: bool = False) -> None:
            self.p(text.replace("@", side), where=cell, bold=bold, after=1)

        line(role, bold=True)
        line("{{ @.name }}", bold=True)
        line("{%p if @.is_person and @.passport %}")
        line("{{ @.passport }}")
        line("{%p endif %}")
        line("ИНН {{ @.inn }}{% if @.kpp %}, КПП {{ @.kpp }}{% endif %}")
        line("{%p if @.ogrn %}")
        line("{{ @.ogrn_label }} {{ @.ogrn }}")
        line("{%p endif %}")
        line("Адрес: {{ @.legal_address }}")
        line("{%p if @.postal_address != @.legal_address %}")
        line("Почтовый адрес: {{ @.postal_address }}")
        line("{%p endif %}")
        line("{%p if @.bank.account %}")
        line("Р/с {{ @.bank.account }}")
        line("в {{ @.bank.name }}")
        line("К/с {{ @.bank.corr_account }}, БИК {{ @.bank.bik }}")
        line("{%p endif %}")
        line("{%p if @.phone or @.email %}")
        line("Тел.: {{ @.phone }}{% if @.email %}, e-mail: {{ @.email }}{% endif %}")
        line("{%p endif %}")
        line("")
        line("{{ @.director_position }}")
        line(SIGN + " {{ @.director_short }} /")
        line("{%p if not @.is_person %}")
        line("М. П.")
        line("{%p endif %}")

    def signatures(self, left: tuple[str, str], right: tuple[str, str]) -> None:
        """Two signature lines without requisites: «Сдал / Принял»."""
        half = self.width / 2
        table = self.grid([["", ""]], [half, half], borders=False)
        whole(table)
        for cell, (role, side) in zip(table.rows[0].cells, (left, right), strict=True):
            self.p(role, where=cell, bold=True, after=1)
            self.p("{{ " + side + ".name }}", where=cell, after=6)
            self.p(SIGN + " {{ " + side + ".director_short }} /", where=cell)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.doc.save(str(path))
