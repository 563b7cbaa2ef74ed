"""Tables for Excel: an .xlsx workbook of formatted sheets, or a CSV Excel opens correctly.

Every sheet gets bold headings, a frozen header row, filters and column widths that fit the
content. Dates are real date cells in the meeting's local time (the caller converts), numbers
are numbers, and text someone typed that starts like a formula stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from bot.domain.invisible import printable

Cell = str | int | float | datetime | None

# A cell starting like this is a formula to Excel and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "dd/mm/yyyy hh:mm"
MAX_WIDTH = 60
SHEET_TITLE_CHARS = 31  # Excel's limit
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
    """An .xlsx with one formatted sheet per :class:`Sheet`, in order."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for spec in sheets:
        title = spec.title.translate(_SHEET_TITLE_FORBIDDEN)[:SHEET_TITLE_CHARS]
        sheet = workbook.create_sheet(title=title)
        sheet.append(list(spec.headings))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in [*spec.rows, *spec.footer]:
            sheet.append([_cell(value) for value in row])
            for cell in sheet[sheet.max_row]:
                if cell.data_type == "f":  # openpyxl reads "=…" as a formula: keep it text
                    cell.data_type = "s"
                elif isinstance(cell.value, datetime):
                    cell.number_format = DATE_FORMAT
                if cell.column - 1 in spec.wrap:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "A2"
        if spec.rows:
            last = get_column_letter(len(spec.headings))
            sheet.auto_filter.ref = f"A1:{last}{len(spec.rows) + 1}"
        for index, heading in enumerate(spec.headings):
            every = [*spec.rows, *spec.footer]
            values = [heading] + [_shown(row[index]) for row in every if index < len(row)]
            width = max(len(value) for value in values)
            sheet.column_dimensions[get_column_letter(index + 1)].width = min(
                max(width + 2, 8), MAX_WIDTH
            )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(headings: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """CSV in UTF-8 with a BOM, so Excel reads Vietnamese correctly; formulas stay text."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headings)
    writer.writerows([[_csv_value(value) for value in row] for row in rows])
    return buffer.getvalue().encode("utf-8-sig")


def write_table(path: Path, headings: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """One table to ``path``: CSV for ``.csv``, otherwise a one-sheet workbook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        path.write_bytes(csv_bytes(headings, rows))
    else:
        path.write_bytes(workbook_bytes([Sheet(path.stem, headings, rows)]))


def _cell(value: Cell) -> Cell:
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
    return str(value)


def _csv_value(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    # Cleaned first: a zero-width space must not hide a formula from the check below.
    text = printable(str(value))
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text
