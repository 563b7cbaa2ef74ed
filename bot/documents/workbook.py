"""Tables for Excel: an .xlsx workbook of formatted sheets, or a CSV Excel opens correctly.

Every sheet gets bold headings, a frozen header row, filters and column widths that fit the
content. Dates are real date cells in the meeting's local time (the caller converts), numbers
are numbers, web addresses given as :class:`Link` are clickable, and text someone typed that
starts like a formula stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import LXML, Workbook
from openpyxl.cell import Cell as OpenpyxlCell
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.compat import safe_string
from openpyxl.packaging.relationship import Relationship, RelationshipList
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import PKG_REL_NS, REL_NS, SHEET_MAIN_NS
from openpyxl.xml.functions import Element, SubElement, fromstring, xmlfile

from bot.domain.invisible import printable


@dataclass(frozen=True)
class Link:
    """A web address: a clickable hyperlink cell in a workbook, the address itself in a CSV."""

    url: str


Cell = str | int | float | datetime | Link | None

# A cell starting like this is a formula to Excel and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "dd/mm/yyyy hh:mm"
MAX_CELL_CHARS = 32_767  # Excel's limit: openpyxl cuts a longer text there
MAX_WIDTH = 60
# Columns whose text wraps stop here: on an A4 page one page wide, every column counts.
WRAP_WIDTH = 25
LINE_HEIGHT = 15  # points: one line of the default 11-point font
SHEET_TITLE_CHARS = 31  # Excel's limit
# Page margins in inches, as openpyxl takes them: about 1 cm at the sides, 1.5 cm top and bottom.
PRINT_MARGINS = {"left": 0.4, "right": 0.4, "top": 0.6, "bottom": 0.6, "header": 0.3, "footer": 0.3}
_SHEET_TITLE_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Sheet:
    """One sheet: a title (cut to Excel's 31 characters), headings and rows of cells."""

    title: str
    headings: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    # Columns (0-based) whose long text should wrap instead of widening the column.
    wrap: frozenset[int] = field(default_factory=frozenset)
    # Where those columns stop widening: narrower on a sheet of many columns, so the whole
    # row still prints on one page at a readable size.
    wrap_width: int = WRAP_WIDTH
    # Rows under the table (totals): outside the filter, so sorting never moves them.
    footer: Sequence[Sequence[Cell]] = ()
    # A line above the headings saying what the table is of (a meeting day's «Số liệu của
    # ngày 18/12.»): outside the filter and the frozen headings below it; none: the headings
    # are the first row.
    caption: str | None = None


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx with one formatted sheet per :class:`Sheet`, in order.

    Written in openpyxl's write-only mode, row by row: a sheet of 10,000 rows is as quick to
    write as its XML, and no cell object outlives its row. Everything a sheet's top holds
    (column widths, the frozen row) is worked out from the rows before the first is written.
    """
    workbook = Workbook(write_only=True)
    for spec in sheets:
        _write_sheet(workbook, spec)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_sheet(workbook: Workbook, spec: Sheet) -> None:
    title = spec.title.translate(_SHEET_TITLE_FORBIDDEN)[:SHEET_TITLE_CHARS]
    sheet = workbook.create_sheet(title=title)
    every = [*spec.rows, *spec.footer]
    widths = _widths(spec.headings, every, spec.wrap, spec.wrap_width)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    top = 1 if spec.caption is None else 2  # the headings' row
    sheet.freeze_panes = f"A{top + 1}"
    _take_cells(sheet)
    _print_setup(sheet, top)
    if spec.rows:
        last = get_column_letter(len(spec.headings))
        sheet.auto_filter.ref = f"A{top}:{last}{len(spec.rows) + top}"
    _fit_row_height(sheet, top, list(spec.headings), widths, frozenset(range(len(widths))))
    # One cell per column and kind of value, styled once, written again with each row's value:
    # a cell is serialised as it is appended, so the next row may reuse it.
    cells = _CellKinds(sheet, spec.wrap)
    _take_writer(sheet, cells.links)
    if spec.caption is not None:
        caption = WriteOnlyCell(sheet, spec.caption)
        caption.font = Font(bold=True)
        sheet.append([caption])
    sheet.append([_heading(sheet, text) for text in spec.headings])
    for number, row in enumerate(every, start=top + 1):
        _fit_row_height(sheet, number, row, widths, spec.wrap)
        sheet.append([cells.holding(index, value, number) for index, value in enumerate(row)])


class _RowCell(OpenpyxlCell):  # type: ignore[misc]  # openpyxl has no type hints
    """A styled write-only cell, written again with each row's value."""

    # Its style's number in the workbook, as the ``s`` attribute: openpyxl looks it up in the
    # workbook's list of styles for every cell it writes.
    __slots__ = ("style_attribute",)


def _own_cells(values: Sequence[OpenpyxlCell], row: int) -> Iterator[OpenpyxlCell]:
    """A row of ready cells placed as a write-only sheet's append places them, for
    :func:`_take_cells`."""
    for column, cell in enumerate(values, start=1):
        cell.column, cell.row = column, row
        yield cell


def _take_cells(sheet: WriteOnlyWorksheet) -> None:
    """Let ``sheet`` take the rows this module appends (styled cells, never bare values) as
    they are. openpyxl's own ``_values_to_row`` first tries each cell as a value, fails, and
    makes a fresh cell for the next one, since the cell it was given has a style: a third of
    a 10,000-row sheet's time (bench/scale.py, docs)."""
    sheet._values_to_row = _own_cells


# The relationship type of a web address a cell links to.
HYPERLINK_TYPE = f"{REL_NS}/hyperlink"
_RELATIONSHIP_ID = f"{{{REL_NS}}}id"


def _take_writer(sheet: WriteOnlyWorksheet, links: list[tuple[str, str]]) -> None:
    """Give ``sheet`` the writer openpyxl would make for it on its first row (see
    ``WriteOnlyWorksheet._get_writer``), one of this module's (:class:`_SheetWriter`) that
    writes ``links`` (cell, address) as the sheet's hyperlinks when the sheet is closed: set
    after the sheet's top (widths, frozen row), before its first row."""
    sheet._writer = _SheetWriter(sheet, links)
    sheet._writer.write_top()


class _SheetWriter(WorksheetWriter):  # type: ignore[misc]  # openpyxl has no type hints
    """A write-only sheet's writer that writes its rows of text, numbers and dates and its links
    itself, as the XML openpyxl writes for them (``tests/test_workbook_stream.py`` compares
    the bytes).

    openpyxl writes each cell through nested ``xf.element`` blocks after working out its
    attributes again (its style's number looked up among the workbook's styles every time),
    makes a ``Hyperlink`` object per link cell, then a ``Relationship`` object per link, and
    serialises both through its generic descriptors: for the export of 10,000 delegates
    (90,000 cells, 20,000 links) that was most of the sheet's time."""

    _rels: RelationshipList

    def __init__(self, sheet: WriteOnlyWorksheet, links: list[tuple[str, str]]) -> None:
        self._file: BinaryIO | None = None
        self._xf: Any = None
        super().__init__(sheet)
        self._links = links

    def get_stream(self) -> Generator[Any, Any, None]:
        """openpyxl's ``get_stream``, on a file this writer holds too: a row it puts together
        itself goes straight into the file, after what the XML writer holds is flushed."""
        with open(self.out, "wb") as file, xmlfile(file) as xf:
            self._file, self._xf = file, xf
            with xf.element("worksheet", xmlns=SHEET_MAIN_NS):
                try:
                    while True:
                        element = yield
                        if element is True:
                            yield xf
                        elif element is not None:
                            xf.write(element)
                except GeneratorExit:
                    pass

    def write_row(self, xf: Any, row: Iterable[OpenpyxlCell], row_idx: int) -> None:
        """One ``<row>`` as openpyxl's ``write_row`` writes it. A row of this module's text,
        number and date cells is written as XML text made here (:func:`_cell_xml`), in the
        ASCII with character references lxml writes; any other row (the headings) goes through
        openpyxl's ``write_row``, cell by cell. No cell here has a comment."""
        cells = list(row)
        made = [_cell_xml(cell, row_idx) if type(cell) is _RowCell else None for cell in cells]
        parts = [part for part in made if part is not None]
        if len(parts) < len(cells) or self._file is None or not LXML:
            super().write_row(xf, cells, row_idx)
            return
        attributes = {"r": f"{row_idx}"}
        attributes.update(self.ws.row_dimensions.get(row_idx, {}))
        opening = " ".join(
            f'{name}="{_attribute(str(value))}"' for name, value in attributes.items()
        )
        xf.flush()  # the XML writer's pending output (the <sheetData> tag, the row before)
        text = f"<row {opening}>{''.join(parts)}</row>"
        self._file.write(text.encode("ascii", "xmlcharrefreplace"))

    def write_hyperlinks(self) -> None:
        """The sheet's ``<hyperlinks>``, each linking its cell to a relationship (rId1, …)
        that :class:`_LinkRelationships` writes with the address."""
        super().write_hyperlinks()  # none: the cells never hold openpyxl hyperlinks
        if not self._links:
            return
        # Nothing precedes the links among a sheet's relationships (drawings and tables,
        # which this module never makes, come after them), so theirs are rId1, rId2, …
        self._rels = _LinkRelationships([url for _, url in self._links], self._rels)
        if self._file is None or self._xf is None or not LXML:
            element = Element("hyperlinks")
            for number, (ref, _) in enumerate(self._links, start=1):
                SubElement(element, "hyperlink", {"ref": ref, _RELATIONSHIP_ID: f"rId{number}"})
            self.xf.send(element)
            return
        # As lxml writes the element above: each link declares the relationships' namespace.
        links = "".join(
            f'<hyperlink xmlns:r="{REL_NS}" ref="{_attribute(ref)}" r:id="rId{number}"/>'
            for number, (ref, _) in enumerate(self._links, start=1)
        )
        self._xf.flush()  # what the XML writer holds goes first
        self._file.write(f"<hyperlinks>{links}</hyperlinks>".encode("ascii", "xmlcharrefreplace"))


def _cell_xml(cell: _RowCell, row: int) -> str | None:
    """The ``<c>`` element openpyxl's ``lxml_write_cell`` writes for a styled cell of text
    (inline, as openpyxl writes text), of a number or of a date, as XML text; None for any
    other cell."""
    value = cell._value
    kind = cell.data_type
    opening = f'<c r="{get_column_letter(cell.column)}{row}" s="{cell.style_attribute}"'
    if kind == "s" and type(value) is str:
        if not value:
            return f'{opening} t="inlineStr"></c>'
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'{opening} t="inlineStr"><is><t{space}>{_text(value)}</t></is></c>'
    if kind == "n" and (value is None or type(value) in (int, float)):
        shown = "" if value is None else f"<v>{safe_string(value)}</v>"
        return f'{opening} t="n">{shown}</c>'
    if kind == "d" and type(value) is datetime and value.tzinfo is None:
        # A date as openpyxl writes it in a workbook without ISO dates: Excel's serial number.
        book = cell.parent.parent
        if not book.iso_dates:
            return f'{opening} t="n"><v>{safe_string(to_excel(value, book.epoch))}</v></c>'
    return None


def _text(text: str) -> str:
    """``text`` escaped as lxml writes text: the markup characters, and the carriage return
    (a reader would take a bare one for a line feed)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _attribute(text: str) -> str:
    """``text`` escaped as lxml writes an attribute's value."""
    text = _text(text).replace('"', "&quot;")
    return text.replace("\n", "&#10;").replace("\t", "&#9;")


class _LinkRelationships(RelationshipList):  # type: ignore[misc]  # no type hints
    """A sheet's relationships whose first ones are its links' addresses (rId1, …, in the
    order of the links), written as one block of elements."""

    def __init__(self, urls: list[str], others: RelationshipList) -> None:
        super().__init__()
        self._urls = urls
        for other in others:
            self.append(other)

    def append(self, value: Relationship) -> None:
        """Add a relationship after the links, numbered after them."""
        if not value.Id:
            value.Id = f"rId{len(self._urls) + len(self) + 1}"
        super().append(value)

    def __bool__(self) -> bool:
        return bool(self._urls) or len(self) > 0

    def to_tree(self) -> Any:
        """The ``<Relationships>`` element: the links' first, then any other."""
        # Parsed from text in one call: 20,000 elements made one by one cost ten times more.
        links = "".join(
            f'<Relationship Type="{HYPERLINK_TYPE}" Target="{_attribute(url)}"'
            f' TargetMode="External" Id="rId{number}"/>'
            for number, url in enumerate(self._urls, start=1)
        )
        tree = fromstring(f"<{self.tagname}>{links}</{self.tagname}>")
        for other in self:
            tree.append(other.to_tree())
        tree.set("xmlns", PKG_REL_NS)  # as openpyxl's RelationshipList.to_tree
        return tree


class _CellKinds:
    """The styled cells a sheet's rows are written with: per column, one for plain values, one
    for dates, one for links."""

    def __init__(self, sheet: WriteOnlyWorksheet, wrap: frozenset[int]) -> None:
        self._sheet = sheet
        self._wrap = wrap
        self._cells: dict[tuple[int, str], _RowCell] = {}
        # Each link cell's reference and address, for the sheet's writer (:class:`_SheetWriter`).
        self.links: list[tuple[str, str]] = []
        self._letters: dict[int, str] = {}

    def holding(self, index: int, value: Cell, row: int) -> _RowCell:
        """The cell for column ``index`` (0-based) of row ``row`` set to ``value``."""
        kind = "link" if isinstance(value, Link) else "date" if isinstance(value, datetime) else ""
        cell = self._cells.get((index, kind))
        if cell is None:
            cell = self._cells[index, kind] = _RowCell(self._sheet, row=1, column=1)
            if kind == "link":
                cell.style = "Hyperlink"
            elif kind == "date":
                cell.number_format = DATE_FORMAT
            # Top-aligned, so a row's short cells line up with the first line of its long ones.
            cell.alignment = Alignment(wrap_text=index in self._wrap, vertical="top")
            cell.style_attribute = f"{cell.style_id}"
        shown = _cell(value)
        if type(shown) is str:
            # What openpyxl's value setter makes of text, without its check for control
            # characters (_cell leaves none) and with "=…" kept as text, not a formula.
            cell._value = shown[:MAX_CELL_CHARS]
            cell.data_type = "e" if shown in ERROR_CODES else "s"
        elif shown is None or type(shown) in (int, float):
            cell._value, cell.data_type = shown, "n"
        else:
            cell.value = shown
        if isinstance(value, Link):
            letter = self._letters.get(index) or self._letters.setdefault(
                index, get_column_letter(index + 1)
            )
            self.links.append((f"{letter}{row}", value.url))
        return cell


def _heading(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    """A heading cell: bold, wrapped between its words."""
    cell = WriteOnlyCell(sheet, text)
    cell.font = Font(bold=True)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _widths(
    headings: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    wrap: frozenset[int],
    wrap_width: int = WRAP_WIDTH,
) -> list[float]:
    """Column widths that fit the content: wrapped columns stop at ``wrap_width``, others at
    MAX_WIDTH."""
    widths: list[float] = []
    for index, heading in enumerate(headings):
        # A heading wraps between its words: its longest word (and the filter's button)
        # counts, not the whole heading, so a long heading does not widen a narrow column.
        longest_word = max((len(word) for word in heading.split()), default=0) + 2
        shown = [len(_shown(row[index])) for row in rows if index < len(row)]
        width = max([longest_word, *shown])
        cap = wrap_width if index in wrap else MAX_WIDTH
        widths.append(min(max(width + 2, 8), cap))
    return widths


def _fit_row_height(
    sheet: WriteOnlyWorksheet,
    number: int,
    row: Sequence[Cell],
    widths: Sequence[float],
    wrap: frozenset[int],
) -> None:
    """Give a row with wrapped text the height of its lines (set before the row is written).
    LibreOffice keeps the default height of a row that has none, and its wrapped lines would
    print over the next row."""
    lines = max(
        (
            _wrapped_lines(str(_cell(row[index])), widths[index])
            for index in wrap
            if index < len(row) and index < len(widths) and row[index] is not None
        ),
        default=1,
    )
    if lines > 1:
        sheet.row_dimensions[number].height = LINE_HEIGHT * lines


def _wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes in a column ``width`` characters wide, wrapped at spaces."""
    room = max(int(width) - 1, 1)  # the cell's padding
    if len(text) <= room and text.isprintable():  # no line break of any kind: one line
        return 1
    lines = 0
    for paragraph in text.splitlines() or [""]:
        lines += 1
        used = 0
        for word in paragraph.split():
            if used and used + 1 + len(word) > room:
                lines += 1
                used = 0
            used += (1 if used else 0) + len(word)
            while used > room:  # a word longer than the column breaks inside it
                lines += 1
                used -= room
    return lines


def _print_setup(sheet: WriteOnlyWorksheet, heading_row: int = 1) -> None:
    """Print as an office prints a table: A4 landscape, every column on one page width (as many
    pages down as it takes), the heading row on every page, page numbers in the footer."""
    setup = sheet.page_setup
    setup.paperSize = Worksheet.PAPERSIZE_A4
    setup.orientation = Worksheet.ORIENTATION_LANDSCAPE
    setup.fitToWidth, setup.fitToHeight = 1, 0  # 0: no limit on the number of pages down
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = f"{heading_row}:{heading_row}"
    sheet.page_margins = PageMargins(**PRINT_MARGINS)
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = "&P/&N"


def csv_bytes(headings: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """CSV in UTF-8 with a BOM, so Excel reads Vietnamese correctly; formulas stay text."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headings)
    writer.writerows([[_csv_value(value) for value in row] for row in rows])
    return buffer.getvalue().encode("utf-8-sig")


def table_bytes(path: Path, headings: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """One table as ``path`` names it: CSV for ``.csv``, otherwise a one-sheet workbook."""
    if path.suffix.lower() == ".csv":
        return csv_bytes(headings, rows)
    return workbook_bytes([Sheet(path.stem, headings, rows)])


def write_table(path: Path, headings: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """One table to ``path`` (see :func:`table_bytes`); its folder must exist."""
    path.write_bytes(table_bytes(path, headings, rows))


def _cell(value: Cell) -> Cell:
    if isinstance(value, Link):
        value = value.url  # shown as it is, so it can be copied into a text message
    # Excel has no time zones: the caller passes local times, which are written as they read.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        # Control characters someone typed (a bell, a form feed) make openpyxl refuse the
        # file; zero-width and bidi characters would hide or reorder what the office reads.
        return printable(value)
    return value


def _shown(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return "00/00/0000 00:00"
    if isinstance(value, Link):
        return value.url
    return str(value)


def _csv_value(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Link):
        value = value.url
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    # Cleaned first: a zero-width space must not hide a formula from the check below.
    text = printable(str(value))
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text
