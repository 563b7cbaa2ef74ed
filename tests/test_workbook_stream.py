"""The office's workbooks are written row by row in openpyxl's write-only mode: what the office
opens must be the workbook the cell-by-cell build made, cell for cell, style for style."""

from __future__ import annotations

import inspect
import io
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.worksheet import Worksheet

from bot.documents import workbook as module
from bot.documents.workbook import DATE_FORMAT, Link, Sheet, workbook_bytes


def built_cell_by_cell(sheets: Sequence[Sheet]) -> bytes:
    """The workbook as ``workbook_bytes`` built it before it streamed rows (issue 16's code):
    every cell appended, then looked up again to be styled, heights fitted afterwards."""
    book = Workbook()
    book.remove(book.active)
    for spec in sheets:
        title = spec.title.translate(module._SHEET_TITLE_FORBIDDEN)[: module.SHEET_TITLE_CHARS]
        sheet = book.create_sheet(title=title)
        sheet.append(list(spec.headings))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in [*spec.rows, *spec.footer]:
            sheet.append([module._cell(value) for value in row])
            for value, cell in zip(row, sheet[sheet.max_row], strict=False):
                if cell.data_type == "f":
                    cell.data_type = "s"
                elif isinstance(cell.value, datetime):
                    cell.number_format = DATE_FORMAT
                if isinstance(value, Link):
                    cell.hyperlink = value.url
                    cell.style = "Hyperlink"
                cell.alignment = Alignment(wrap_text=cell.column - 1 in spec.wrap, vertical="top")
        sheet.freeze_panes = "A2"
        module._print_setup(sheet)  # type: ignore[arg-type]
        if spec.rows:
            sheet.auto_filter.ref = (
                f"A1:{get_column_letter(len(spec.headings))}{len(spec.rows) + 1}"
            )
        widths = module._widths(spec.headings, [*spec.rows, *spec.footer], spec.wrap)
        for index, width in enumerate(widths):
            sheet.column_dimensions[get_column_letter(index + 1)].width = width
        for cells in sheet.iter_rows():
            lines = max(
                (
                    module._wrapped_lines(str(cell.value), widths[cell.column - 1])
                    for cell in cells
                    if cell.value is not None
                    and cell.column <= len(widths)
                    and (cell.row == 1 or cell.column - 1 in spec.wrap)
                ),
                default=1,
            )
            if lines > 1:
                sheet.row_dimensions[cells[0].row].height = module.LINE_HEIGHT * lines
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def described(sheet: Worksheet) -> dict[str, Any]:
    """Everything the office sees of a sheet: cells with their styles, sizes, print set-up."""
    cells = [
        (
            cell.coordinate,
            cell.value,
            cell.data_type,
            cell.number_format,
            cell.font.b,
            cell.font.u,
            cell.font.color.rgb if cell.font.color is not None else None,
            cell.alignment.wrap_text,
            cell.alignment.vertical,
            cell.style,
            cell.hyperlink.target if cell.hyperlink is not None else None,
        )
        for row in sheet.iter_rows()
        for cell in row
    ]
    return {
        "title": sheet.title,
        "cells": cells,
        "widths": {k: d.width for k, d in sheet.column_dimensions.items()},
        "heights": {k: d.height for k, d in sheet.row_dimensions.items() if d.height},
        "frozen": sheet.freeze_panes,
        "filter": sheet.auto_filter.ref,
        "titles": sheet.print_title_rows,
        "setup": (
            sheet.page_setup.paperSize,
            sheet.page_setup.orientation,
            sheet.page_setup.fitToWidth,
            sheet.page_setup.fitToHeight,
            sheet.sheet_properties.pageSetUpPr.fitToPage,
            sheet.page_margins.left,
            sheet.page_margins.top,
            sheet.print_options.horizontalCentered,
            sheet.oddFooter.center.text,
        ),
    }


SHEETS = [
    Sheet(
        "Đại biểu: danh sách [1/2]* rất dài quá ba mươi mốt ký tự",
        ["Mã", "Họ và tên", "Ghi chú rất dài của văn phòng", "Thời điểm", "Đường liên kết", "Số"],
        [
            [
                "DB001",
                "Nguyễn Thị Lan",
                "ngắn",
                datetime(2024, 5, 20, 8, 30),
                Link("https://t.me/b?start=x"),
                1,
            ],
            ["DB002", '=HYPERLINK("x")', "một ghi chú dài " * 9, None, None, 2.5],
            [
                "DB003",
                "Lê\u200bVăn\x07 An",
                "dòng 1\ndòng 2\ndòng 3",
                datetime(2024, 5, 21),
                Link("https://t.me/b?start=y"),
                None,
            ],
            ["DB004", "+84 912", "-1", "@mention", "\tTab", -3],
            ["DB005"],  # a short row
        ],
        wrap=frozenset({2}),
        footer=[["Tổng", None, "tổng cộng hai dòng " * 3, None, None, 5]],
    ),
    Sheet("Trống", ["Một tiêu đề dài được ngắt dòng", "B"], []),
    Sheet("Có múi giờ", ["Khi"], [[datetime(2024, 5, 20, 8, 30).astimezone()]]),
]


def test_the_streamed_workbook_is_the_one_built_cell_by_cell() -> None:
    streamed = load_workbook(io.BytesIO(workbook_bytes(SHEETS)))
    expected = load_workbook(io.BytesIO(built_cell_by_cell(SHEETS)))
    assert streamed.sheetnames == expected.sheetnames
    for name in expected.sheetnames:
        assert described(streamed[name]) == described(expected[name]), name
    # The sheet of odd rows has what it is meant to: the link, the date, the formula as text.
    first = streamed.worksheets[0]
    assert first["E2"].hyperlink.target == "https://t.me/b?start=x" and first["D2"].is_date
    assert first["B3"].value == '=HYPERLINK("x")' and first["B3"].data_type == "s"
    assert first.row_dimensions[3].height and first.row_dimensions[7].height


def test_the_openpyxl_method_the_sheets_replace_is_still_there_with_its_arguments() -> None:
    # bot.documents.workbook gives each write-only sheet its own `_values_to_row` (a private
    # method of openpyxl's): renamed, the export would only be slower without a word; with
    # other arguments, every export and report would fail. pyproject pins openpyxl < 3.2 too.
    method = WriteOnlyWorksheet._values_to_row
    assert list(inspect.signature(method).parameters) == ["self", "values", "row_idx"]


def _part(content: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.read(name)


def test_the_links_are_the_hyperlinks_and_relationships_openpyxl_writes_for_them() -> None:
    # The sheets' links are written as XML in one go (bot.documents.workbook._LinkWriter), not
    # as an openpyxl Hyperlink per cell: the bytes must be those openpyxl writes for the same
    # cells, so Excel and LibreOffice open the same links.
    ours, theirs = workbook_bytes(SHEETS), built_cell_by_cell(SHEETS)
    sheet, rels = "xl/worksheets/sheet1.xml", "xl/worksheets/_rels/sheet1.xml.rels"
    links = re.compile(rb"<hyperlinks>.*</hyperlinks>")
    found = links.search(_part(ours, sheet))
    assert found is not None and found.group().count(b"<hyperlink ") == 2
    assert found.group() == links.search(_part(theirs, sheet)).group()  # type: ignore[union-attr]
    assert _part(ours, rels) == _part(theirs, rels)
    assert b'Target="https://t.me/b?start=y" TargetMode="External" Id="rId2"' in _part(ours, rels)
    # A sheet without links has no relationships at all, as openpyxl writes it.
    names = zipfile.ZipFile(io.BytesIO(ours)).namelist()
    assert "xl/worksheets/_rels/sheet2.xml.rels" not in names


# Text and numbers the rows' own writer must escape and format as openpyxl does.
ODD_CELLS = Sheet(
    "Ký tự lạ",
    ["Văn bản", "Số"],
    [
        ["a & b < c > d", 0],
        ["\"trích dẫn\" và 'nháy'", -3],
        ["dòng 1\r\ndòng 2\rdòng 3\n", 2.5],
        ["  hai khoảng trắng đầu", 1e20],
        ["cuối có khoảng trắng ", 12345678901234567890],
        ["", float("nan")],
        ["😀 Đại biểu ✓", 0.1 + 0.2],
        ["#N/A", None],
        ["=1+1", float("inf")],
        ["\tthụt đầu dòng", True],
    ],
    wrap=frozenset({0}),
)


def test_the_rows_are_the_xml_openpyxl_writes_for_their_cells(monkeypatch: Any) -> None:
    # Rows of text and numbers are put together as XML text (bot.documents.workbook._cell_xml)
    # instead of cell by cell through openpyxl's writer: every sheet, byte for byte, as
    # openpyxl's writer makes it of the same cells.
    sheets = [*SHEETS, ODD_CELLS]
    ours = workbook_bytes(sheets)
    monkeypatch.setattr(module, "_cell_xml", lambda cell, row: None)
    theirs = workbook_bytes(sheets)
    for number in range(1, len(sheets) + 1):
        name = f"xl/worksheets/sheet{number}.xml"
        assert _part(ours, name) == _part(theirs, name), name
    assert b"a &amp; b &lt; c &gt; d" in _part(ours, "xl/worksheets/sheet4.xml")


def test_the_openpyxl_writer_methods_the_sheets_replace_are_still_there_with_their_arguments() -> (
    None
):
    # bot.documents.workbook._SheetWriter overrides these methods of openpyxl's sheet writer
    # and is set where WriteOnlyWorksheet._get_writer would make openpyxl's own: renamed, the
    # rows and links would be written by openpyxl again (slower) or not at all.
    expected = {
        "__init__": ["self", "ws", "out"],
        "get_stream": ["self"],
        "write_row": ["self", "xf", "row", "row_idx"],
        "write_hyperlinks": ["self"],
    }
    for name, parameters in expected.items():
        method = getattr(WorksheetWriter, name)
        assert list(inspect.signature(method).parameters) == parameters, name
    assert "if self._writer is None:" in inspect.getsource(WriteOnlyWorksheet._get_writer)
