"""Tables for Excel: an .xlsx workbook of formatted sheets, or a CSV Excel opens correctly.

Every sheet gets bold headings, a frozen header row, filters and column widths that fit the
content. Dates are real date cells in the meeting's local time (the caller converts), numbers
are numbers, web addresses given as :class:`Link` are clickable, and text someone typed that
starts like a formula stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell as OpenpyxlCell
from openpyxl.cell import WriteOnlyCell
from openpyxl.packaging.relationship import Relationship, RelationshipList
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import PKG_REL_NS, REL_NS
from openpyxl.xml.functions import Element, SubElement

from bot.domain.invisible import printable


@dataclass(frozen=True)
class Link:
    """A web address: a clickable hyperlink cell in a workbook, the address itself in a CSV."""

    url: str


Cell = str | int | float | datetime | Link | None

# A cell starting like this is a formula to Excel and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "dd/mm/yyyy hh:mm"
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
    # Rows under the table (totals): outside the filter, so sorting never moves them.
    footer: Sequence[Sequence[Cell]] = ()


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
    widths = _widths(spec.headings, every, spec.wrap)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"
    _take_cells(sheet)
    _print_setup(sheet)
    if spec.rows:
        last = get_column_letter(len(spec.headings))
        sheet.auto_filter.ref = f"A1:{last}{len(spec.rows) + 1}"
    _fit_row_height(sheet, 1, list(spec.headings), widths, frozenset(range(len(widths))))
    # One cell per column and kind of value, styled once, written again with each row's value:
    # a cell is serialised as it is appended, so the next row may reuse it.
    cells = _CellKinds(sheet, spec.wrap)
    _take_writer(sheet, cells.links)
    sheet.append([_heading(sheet, text) for text in spec.headings])
    for number, row in enumerate(every, start=2):
        _fit_row_height(sheet, number, row, widths, spec.wrap)
        sheet.append([cells.holding(index, value, number) for index, value in enumerate(row)])


class _RowCell(OpenpyxlCell):  # type: ignore[misc]  # openpyxl has no type hints
    """A styled write-only cell, written again with each row's value."""

    __slots__ = ()


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
    ``WriteOnlyWorksheet._get_writer``), one that writes ``links`` (cell, address) as the
    sheet's hyperlinks when the sheet is closed: set after the sheet's top (widths, frozen
    row), before its first row."""
    sheet._writer = _LinkWriter(sheet, links)
    sheet._writer.write_top()


class _LinkWriter(WorksheetWriter):  # type: ignore[misc]  # openpyxl has no type hints
    """A write-only sheet's writer that writes the sheet's links in one go.

    openpyxl makes a ``Hyperlink`` object per link cell, then a ``Relationship`` object per
    link, and serialises both through its generic descriptors: 20,000 links (the export of
    10,000 delegates) cost as much as the rest of the sheet. The elements are the same, made
    here directly (lxml's, where openpyxl uses lxml) (``tests/test_workbook_stream.py`` compares the bytes)."""

    def __init__(self, sheet: WriteOnlyWorksheet, links: list[tuple[str, str]]) -> None:
        super().__init__(sheet)
        self._links = links

    def write_hyperlinks(self) -> None:
        """The sheet's ``<hyperlinks>``, each linking its cell to a relationship (rId1, …)
        that :class:`_LinkRelationships` writes with the address."""
        super().write_hyperlinks()  # none: the cells never hold openpyxl hyperlinks
        if not self._links:
            return
        # Nothing precedes the links among a sheet's relationships (drawings and tables,
        # which this module never makes, come after them), so theirs are rId1, rId2, …
        self._rels = _LinkRelationships([url for _, url in self._links], self._rels)
        element = Element("hyperlinks")
        for number, (ref, _) in enumerate(self._links, start=1):
            SubElement(element, "hyperlink", {"ref": ref, _RELATIONSHIP_ID: f"rId{number}"})
        self.xf.send(element)


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
        tree = Element(self.tagname)
        for number, url in enumerate(self._urls, start=1):
            attributes = {"Type": HYPERLINK_TYPE, "Target": url, "TargetMode": "External"}
            SubElement(tree, "Relationship", {**attributes, "Id": f"rId{number}"})
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
        # Each link cell's reference and address, for the sheet's writer (:class:`_LinkWriter`).
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
        cell.value = _cell(value)
        if cell.data_type == "f":  # openpyxl reads "=…" as a formula: keep it text
            cell.data_type = "s"
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
    headings: Sequence[str], rows: Sequence[Sequence[Cell]], wrap: frozenset[int]
) -> list[float]:
    """Column widths that fit the content: wrapped columns stop at WRAP_WIDTH, others at
    MAX_WIDTH."""
    widths: list[float] = []
    for index, heading in enumerate(headings):
        # A heading wraps between its words: its longest word (and the filter's button)
        # counts, not the whole heading, so a long heading does not widen a narrow column.
        longest_word = max((len(word) for word in heading.split()), default=0) + 2
        shown = [len(_shown(row[index])) for row in rows if index < len(row)]
        width = max([longest_word, *shown])
        cap = WRAP_WIDTH if index in wrap else MAX_WIDTH
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


def _print_setup(sheet: WriteOnlyWorksheet) -> None:
    """Print as an office prints a table: A4 landscape, every column on one page width (as many
    pages down as it takes), the heading row on every page, page numbers in the footer."""
    setup = sheet.page_setup
    setup.paperSize = Worksheet.PAPERSIZE_A4
    setup.orientation = Worksheet.ORIENTATION_LANDSCAPE
    setup.fitToWidth, setup.fitToHeight = 1, 0  # 0: no limit on the number of pages down
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = "1:1"
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
