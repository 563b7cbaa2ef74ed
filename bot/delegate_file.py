"""Parse the office's delegate list (CSV or XLSX) into validated rows - pure, no database.

Every problem in the file is collected (not just the first) so the office can fix the
spreadsheet in one pass; callers import nothing when `problems` is non-empty.
Problems carry machine codes only; the CLI turns them into prose through the text catalog.

The file is read as a stream, one row at a time, and reading stops at the first limit
crossed (file size, unpacked size, cell size, rows), so no file - however large, deep or
hostile - costs more than a few tens of megabytes or more than a few seconds.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import itertools
import re
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from bot.documents import xlsx_reader
from bot.domain.invisible import BIDI_CONTROLS, invisible_in, shown, strip_invisible
from bot.domain.phones import first_phone, normalize_phone
from bot.domain.typed import in_title_case, written_in_capitals
from storage.models import fold_code

# --- problem codes (file-level ones have row=None) -----------------------------------------
FILE_NOT_FOUND: Final = "file_not_found"
UNSUPPORTED_FORMAT: Final = "unsupported_format"
NOT_UTF8: Final = "not_utf8"
UNREADABLE_FILE: Final = "unreadable_file"
EMPTY_FILE: Final = "empty_file"
NO_ROWS: Final = "no_rows"
TOO_MANY_ROWS: Final = "too_many_rows"
MISSING_COLUMN: Final = "missing_column"
MISSING_CODE_COLUMN: Final = "missing_code_column"
GROUP_COLUMN_FOR_DELEGATES: Final = "group_column_for_delegates"
GROUP_COLUMN_WITHOUT_ROLES: Final = "group_column_without_roles"
GROUP_COLUMN_UNDER_NO_HEADING: Final = "group_column_under_no_heading"
DUPLICATE_COLUMN: Final = "duplicate_column"
MISSING_VALUE: Final = "missing_value"
UNKNOWN_GROUP: Final = "unknown_group"
BAD_PHONE: Final = "bad_phone"
BAD_RANK: Final = "bad_rank"
RANK_IS_DATE: Final = "rank_is_date"
DUPLICATE_CODE: Final = "duplicate_code"
TOO_LONG: Final = "too_long"
BAD_CODE: Final = "bad_code"
BAD_ROLE: Final = "bad_role"
FILE_TOO_LARGE: Final = "file_too_large"
UNPACKED_TOO_LARGE: Final = "unpacked_too_large"
CELL_TOO_LARGE: Final = "cell_too_large"
ROW_TOO_LARGE: Final = "row_too_large"
INVISIBLE_IN_CODE: Final = "invisible_in_code"
BIDI_CONTROL: Final = "bidi_control"
OLD_EXCEL: Final = "old_excel"
UNKNOWN_SHEET: Final = "unknown_sheet"

PROBLEM_CODES: Final = (
    FILE_NOT_FOUND,
    UNSUPPORTED_FORMAT,
    NOT_UTF8,
    UNREADABLE_FILE,
    EMPTY_FILE,
    NO_ROWS,
    TOO_MANY_ROWS,
    MISSING_COLUMN,
    MISSING_CODE_COLUMN,
    GROUP_COLUMN_FOR_DELEGATES,
    GROUP_COLUMN_WITHOUT_ROLES,
    GROUP_COLUMN_UNDER_NO_HEADING,
    DUPLICATE_COLUMN,
    MISSING_VALUE,
    UNKNOWN_GROUP,
    BAD_PHONE,
    BAD_RANK,
    RANK_IS_DATE,
    DUPLICATE_CODE,
    TOO_LONG,
    BAD_CODE,
    BAD_ROLE,
    FILE_TOO_LARGE,
    UNPACKED_TOO_LARGE,
    CELL_TOO_LARGE,
    ROW_TOO_LARGE,
    INVISIBLE_IN_CODE,
    BIDI_CONTROL,
    OLD_EXCEL,
    UNKNOWN_SHEET,
)

# --- warnings: the import goes ahead, the office is told --------------------------------------
STOPPED_AT_BLANK_ROWS: Final = "stopped_at_blank_rows"
INVISIBLE_REMOVED: Final = "invisible_removed"
PHONE_FIRST_KEPT: Final = "phone_first_kept"
SHEET_READ: Final = "sheet_read"
SHEET_IGNORED: Final = "sheet_ignored"
UNHEADED_CELL: Final = "unheaded_cell"
SHARED_PHONE: Final = "shared_phone"
SUBHEADING_SKIPPED: Final = "subheading_skipped"
SECTION_ROW_SKIPPED: Final = "section_row_skipped"
DUPLICATE_PERSON: Final = "duplicate_person"
NAMES_IN_CAPITALS: Final = "names_in_capitals"
GROUP_FROM_HEADING: Final = "group_from_heading"
HEADING_NAMES_NO_GROUP: Final = "heading_names_no_group"
HEADING_NAMES_SEVERAL_GROUPS: Final = "heading_names_several_groups"
CAPITALS_ROW_SKIPPED: Final = "capitals_row_skipped"

WARNING_CODES: Final = (
    STOPPED_AT_BLANK_ROWS,
    INVISIBLE_REMOVED,
    PHONE_FIRST_KEPT,
    SHEET_READ,
    SHEET_IGNORED,
    UNHEADED_CELL,
    SHARED_PHONE,
    SUBHEADING_SKIPPED,
    SECTION_ROW_SKIPPED,
    DUPLICATE_PERSON,
    NAMES_IN_CAPITALS,
    GROUP_FROM_HEADING,
    HEADING_NAMES_NO_GROUP,
    HEADING_NAMES_SEVERAL_GROUPS,
    CAPITALS_ROW_SKIPPED,
)

# Problems and warnings whose value or detail is a figure (a limit, a count of people), which
# the office reads grouped by thousands («10.000»), as every other figure; row numbers stay.
FIGURES: Final[dict[str, str]] = {
    TOO_MANY_ROWS: "value",
    NAMES_IN_CAPITALS: "value",
    GROUP_FROM_HEADING: "detail",
    HEADING_NAMES_NO_GROUP: "detail",
    HEADING_NAMES_SEVERAL_GROUPS: "detail",
}

# --- roles -------------------------------------------------------------------------------------
# A contact is the focal point of a preparation task (office staff, a department's contact);
# they get messages from the bot but are not invitees and do not take a seat in the hall.
ROLE_DELEGATE: Final = "delegate"
ROLE_CONTACT: Final = "contact"

SUPPORTED_SUFFIXES: Final = (".csv", ".xlsx")
# Excel 97-2003 (.xls) and password-protected workbooks are OLE2 compound files.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_CELL_CHARS: Final = 200
MAX_CODE_CHARS: Final = 32
# Rows with any content after the heading row count; reading stops at the first one over the
# limit. This is the default of the plan's ``[import] max_rows`` (callers pass that as max_rows
# to parse_delegate_file); a list of 10,000 invitees imports as one file.
MAX_DATA_ROWS: Final = 10_000
# The highest ``[import] max_rows`` accepted: the limits below (16 MB a part, a million XML
# elements) leave room for about 20,000 rows of an .xlsx.
MAX_ROWS_CEILING: Final = 20_000
# --- limits on reading: each is checked before the work it guards, never after ---------------
# The bot's own upload limit; a 10,000-row list is under 2 MB in either format.
MAX_FILE_BYTES: Final = 20 * 1024 * 1024
# Per part of an .xlsx (a sheet, the shared strings), unpacked: the zip's declared size is
# checked before inflating, and zipfile never yields more than it declares. A 10,000-row list
# needs a few MB. (Parsing time is bounded by the reader's element budget, MAX_ELEMENTS.)
MAX_UNPACKED_BYTES: Final = 16 * 1024 * 1024
# Excel's own limit per cell; a longer cell comes from a damaged or hostile file.
MAX_RAW_CELL_CHARS: Final = 32_767
# A CSV record longer than this (bytes in UTF-8, characters in UTF-16) is not a spreadsheet row.
_MAX_RECORD_SIZE = 1024 * 1024
# Past the table, Excel may keep thousands of formatted but empty rows; reading stops after
# this many blank rows in a row instead of walking to row 1,048,576.
MAX_BLANK_RUN: Final = 1000
_MAX_VALUE_CHARS = 60
_MAX_SHEET_LIST_CHARS = 300  # a list of sheet names, in a message
# Office spreadsheets usually start with a title block ("DANH SÁCH ĐẠI BIỂU ...") above the
# real heading row, so we look for the heading within the first few non-empty rows.
_HEADER_SEARCH_ROWS = 10
_MIN_HEADINGS_FOR_HEADER = 2
# Sheets whose top is searched for the heading row when none is named.
_MAX_SHEETS_SEARCHED = 50
_SERIAL = "serial"  # the serial-number column: recognised, never read

# Field -> the heading we print when the column is missing (the office works in Vietnamese).
CANONICAL_HEADINGS: Final[dict[str, str]] = {
    "code": "Mã",
    "full_name": "Họ và tên",
    "position": "Chức vụ",
    "organization": "Đơn vị",
    "group": "Nhóm",
    "phone": "Điện thoại",
    "rank": "Thứ tự",
    "role": "Vai trò",
}
REQUIRED_FIELDS: Final = ("code", "full_name", "position", "organization", "group")
# Columns a list may leave out: people already imported then keep what they had in them (a list
# sent round without the phone numbers must not erase them), and the import says so. Only a list
# of contacts alone may leave out «Nhóm» (a delegate needs a group): contacts given one keep it.
KEPT_WHEN_ABSENT: Final = ("phone", "rank", "group")
# DelegateRow's attribute for a field, where the two names differ.
_ATTRIBUTE: Final = {"group": "group_key"}


def heading_of(attribute: str) -> str:
    """The canonical heading of the column that fills DelegateRow's ``attribute``."""
    field = next((f for f, a in _ATTRIBUTE.items() if a == attribute), attribute)
    return CANONICAL_HEADINGS[field]


# Fields a contact may leave empty: they are not seated, so they need no invitee group. A list
# of contacts alone may leave out their columns too: they are required once a delegate is listed.
_OPTIONAL_FOR_CONTACTS: Final = frozenset({"group"})
# The rows named when a list of delegates and contacts has no group column.
_MAX_ROWS_NAMED = 10

# The headings Vietnamese offices really write, matched through _heading_key: case, diacritics,
# spacing and the punctuation between words ("Cơ quan, đơn vị", "Chức vụ/Chức danh") do not
# matter, so "HỌ VÀ TÊN", "ho ten" and "Họ  tên" are one heading. "STT" (số thứ tự) is the
# serial-number column, known but unused: it is not the protocol rank.
_HEADING_SPELLINGS: Final[dict[str, tuple[str, ...]]] = {
    "code": ("code", "mã", "mã số", "mã đại biểu", "mã ĐB", "mã số đại biểu"),
    "full_name": (
        "full name",
        "name",
        "họ và tên",
        "họ tên",
        "họ và tên đại biểu",
        "họ tên đại biểu",
        "tên đại biểu",
    ),
    "position": ("position", "title", "chức vụ", "chức danh", "chức vụ, chức danh"),
    "organization": (
        "organization",
        "organisation",
        "unit",
        "đơn vị",
        "cơ quan",
        "cơ quan, đơn vị",
        "đơn vị, cơ quan",
        "đơn vị công tác",
        "cơ quan công tác",
        "cơ quan, đơn vị công tác",
        "nơi công tác",
    ),
    "group": (
        "group",
        "nhóm",
        "nhóm đại biểu",
        "thành phần",
        "thành phần đại biểu",
        "đối tượng",
    ),
    "phone": (
        "phone",
        "mobile",
        "điện thoại",
        "số điện thoại",
        "điện thoại di động",
        "điện thoại liên hệ",
        "di động",
        "số di động",
        "ĐTDĐ",
        "SĐT",
        "số ĐT",
        "ĐT",
    ),
    "rank": ("rank", "thứ tự", "thứ tự ưu tiên"),
    "role": ("role", "vai trò", "loại"),
    _SERIAL: ("STT", "TT", "số TT", "số thứ tự", "no"),
}


# Matched through _skeleton, so each unaccented spelling is already covered by its accented
# one; both are listed as the spellings the office is told it may use.
_ROLE_ALIASES: Final[dict[str, str]] = {
    alias: role
    for role, aliases in {
        ROLE_DELEGATE: ("delegate", "đại biểu", "dai bieu", "db"),
        ROLE_CONTACT: (
            "contact",
            "đầu mối",
            "dau moi",
            "liên hệ",
            "lien he",
            "cán bộ đầu mối",
            "can bo dau moi",
        ),
    }.items()
    for alias in aliases
}

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Group:
    """What the parser needs to know about one of the plan's invitee groups."""

    key: str
    label: str


@dataclass(frozen=True)
class DelegateRow:
    """One valid person (delegate or contact); `row` is Excel's row number (heading row = 1)."""

    row: int
    code: str
    full_name: str
    position: str
    organization: str
    group_key: str  # "" only for a contact whose group cell was empty
    phone: str | None
    rank: int | None
    # Last and defaulted so rows built before contacts existed (and files without a role
    # column) stay delegates.
    role: str = ROLE_DELEGATE
    # Fields (DelegateRow's attributes) this row's list says nothing about: someone already
    # there keeps what is stored in them (a contact under no group heading, in a list whose
    # groups come from its headings). The fields of a column the whole file lacks are
    # ParsedDelegates.absent.
    unsaid: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RowProblem:
    """One problem or warning; `column` is the heading as written, `code` a catalog key."""

    row: int | None
    column: str | None
    code: str
    value: str | None
    # A second parameter for the few messages that need one (the number kept of a cell).
    detail: str | None = None
    # The plan's groups a group heading's note names: the one it gave, or those it may mean.
    groups: str | None = None


@dataclass(frozen=True)
class ParsedDelegates:
    """Valid rows, every problem found, the headings not recognised, and warnings."""

    rows: list[DelegateRow]
    problems: list[RowProblem]
    ignored_columns: list[str]
    # Things the office should know that do not stop the import; same shape as problems.
    warnings: list[RowProblem] = dataclasses.field(default_factory=list)
    # The fields of KEPT_WHEN_ABSENT the file has no column for, as DelegateRow's attributes.
    absent: frozenset[str] = frozenset()


class _FileProblem(Exception):
    """Internal: reading stopped; `row` and `column` (0-based) say where, when known."""

    def __init__(
        self,
        code: str,
        value: str | None = None,
        *,
        row: int | None = None,
        column: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.value = value
        self.row = row
        self.column = column
        self.detail = detail


# --- text helpers ----------------------------------------------------------------------------


def _clean(value: str) -> str:
    """Invisible characters dropped, NFC, trimmed, whitespace runs collapsed to one space."""
    # Dropped before NFC: a zero-width joiner between a letter and its accent would
    # otherwise keep them from composing.
    text = unicodedata.normalize("NFC", strip_invisible(value))
    return _WHITESPACE.sub(" ", text).strip()


def _heading_key(heading: str) -> str:
    """A heading reduced to what tells it apart: no case, diacritics or punctuation."""
    key = _skeleton(heading).replace("_", " ")
    # Trailing "*" / ":" are how templates mark required fields ("Họ và tên (*)", "Mã:").
    key = re.sub(r"\s*(\(\*\)|\*|:)\s*$", "", key)
    key = re.sub(r"[,;/&.()\-–]+", " ", key)
    return _WHITESPACE.sub(" ", key).strip()


def _skeleton(text: str) -> str:
    """Case-, accent- and whitespace-insensitive form, for lenient label matching."""
    # Vietnamese has two accepted tone placements ("Thành ủy" / "Thành uỷ", "Hòa" / "Hoà");
    # comparing without diacritics makes both spellings of a label match.
    decomposed = unicodedata.normalize("NFD", _clean(text).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d")


_HEADING_ALIASES: Final[dict[str, str]] = {
    _heading_key(spelling): field
    for field, spellings in _HEADING_SPELLINGS.items()
    for spelling in spellings
}


def _truncate(value: str, limit: int = _MAX_VALUE_CHARS) -> str:
    if len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


# --- readers: yield (excel_row_number, {column index: text}) -----------------------------------

Row = dict[int, str]  # only the cells with something other than whitespace


def _column_letter(index: int) -> str:
    """Excel's name for the 0-based column `index`: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _sparse(cells: Iterable[str]) -> Row:
    return {i: c for i, c in enumerate(cells) if c and not c.isspace()}


class _RecordLines:
    """The lines of a CSV for csv.reader, refusing a record longer than a row can be.

    The current record's text is kept (at most _MAX_RECORD_SIZE of it), so a cell too large
    for csv.reader's own field limit can still be named by its column.
    """

    def __init__(self, next_line: Callable[[], str]) -> None:
        self._next_line = next_line
        self._lines: list[str] = []
        self._size = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._next_line()
        if not line:
            raise StopIteration
        self._lines.append(line)
        self._size += len(line)
        if self._size > _MAX_RECORD_SIZE:
            raise _FileProblem(ROW_TOO_LARGE)
        return line

    def record_done(self) -> None:
        self._lines, self._size = [], 0

    def oversized_column(self, delimiter: str) -> int | None:
        """The column of the first cell longer than MAX_RAW_CELL_CHARS in the current record."""
        text = "".join(self._lines)
        for column, (start, end) in enumerate(_field_spans(text, delimiter)):
            if end - start > MAX_RAW_CELL_CHARS:
                return column
        return None


def _field_spans(text: str, delimiter: str) -> Iterator[tuple[int, int]]:
    """Where each field of one CSV record (perhaps cut short) starts and ends, quotes aside."""
    position, length = 0, len(text)
    while True:
        if text.startswith('"', position):
            start, search = position + 1, position + 1
            # A doubled quote is a quote inside the field; a single one closes it.
            while (quote := text.find('"', search)) >= 0 and text.startswith('""', quote):
                search = quote + 2
            end = length if quote < 0 else quote
            stop = text.find(delimiter, end)
        else:
            start = position
            stop = text.find(delimiter, position)
            end = length if stop < 0 else stop
        yield start, end
        if stop < 0:
            return
        position = stop + 1


def _csv_lines(file: BinaryIO, encoding: str) -> Callable[[], str]:
    """A function returning the next line of `file` as text ("" at the end), never more
    than _MAX_RECORD_SIZE + 1 of it: one enormous line is never read whole."""
    if encoding == "utf-16":
        text = io.TextIOWrapper(file, encoding=encoding, newline="")
        return lambda: text.readline(_MAX_RECORD_SIZE + 1)
    first = True

    def utf8_line() -> str:
        # Decoded line by line (a newline byte never occurs inside a UTF-8 character), so a
        # wrong byte is reported on its own row, and never before a limit met on an earlier
        # one; a text reader would decode thousands of bytes ahead.
        nonlocal first
        raw = file.readline(_MAX_RECORD_SIZE + 1)
        if first:
            raw, first = raw.removeprefix(codecs.BOM_UTF8), False
        if len(raw) > _MAX_RECORD_SIZE:
            # Past the limit anyway; only its length and its delimiters matter now, and the
            # cut may fall inside a character.
            return raw.decode("utf-8", "replace")
        return raw.decode("utf-8")

    return utf8_line


def _csv_encoding(head: bytes) -> str:
    # Excel's "Unicode Text" export is UTF-16 with a BOM; it is unambiguous, so accept it.
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _read_csv(path: Path) -> Generator[tuple[int, Row], None, None]:
    with path.open("rb") as file:
        head = file.read(64 * 1024)
        encoding = _csv_encoding(head)
        if encoding != "utf-16" and head[:1024].count(0) * 4 > len(head[:1024]):
            # UTF-16 without its BOM: every other byte of Latin text is zero. It would decode
            # as UTF-8 full of NULs, which are then stripped as invisible: refuse it instead.
            raise _FileProblem(NOT_UTF8, row=1)
        # Leniently: a wrong byte is reported on its row, once reading gets there.
        delimiter = _detect_delimiter(
            codecs.getincrementaldecoder(encoding)("replace").decode(head)
        )
        file.seek(0)
        lines = _RecordLines(_csv_lines(file, encoding))
        # newline="" semantics (lines keep their ends) so quoted cells containing line breaks
        # stay one record, as in Excel.
        reader = csv.reader(lines, delimiter=delimiter)
        # Each record is one Excel row, blank lines included ([]), so the count matches.
        number = 0
        try:
            for record in reader:
                number += 1
                lines.record_done()
                for index, cell in enumerate(record):
                    if len(cell) > MAX_RAW_CELL_CHARS:
                        raise _FileProblem(CELL_TOO_LARGE, row=number, column=index)
                yield number, _sparse(record)
        except _FileProblem as exc:
            exc.row = exc.row or number + 1
            if exc.code == ROW_TOO_LARGE:
                _name_oversized_cell(exc, lines, delimiter)
            raise
        except UnicodeDecodeError:
            raise _FileProblem(NOT_UTF8, row=number + 1) from None
        except csv.Error:
            # csv.reader refuses a field over its own limit (128 KiB) as a generic error.
            problem = _FileProblem(UNREADABLE_FILE, row=number + 1)
            _name_oversized_cell(problem, lines, delimiter)
            raise problem from None


def _name_oversized_cell(problem: _FileProblem, lines: _RecordLines, delimiter: str) -> None:
    """Make `problem` a cell too large, with its column, if the record holds one."""
    column = lines.oversized_column(delimiter)
    if column is not None:
        problem.code, problem.column = CELL_TOO_LARGE, column


def _detect_delimiter(text: str) -> str:
    """Pick , ; or tab by counting them outside quotes in the first non-empty lines."""
    # csv.Sniffer guesses badly on short files and on Vietnamese text full of commas,
    # so count the candidates outside quoted fields instead.
    lines = [line for line in text.splitlines() if line.strip()][:5]
    sample = re.sub(r'"[^"]*"', "", "\n".join(lines))
    counts = {d: sample.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])  # ties keep the first, i.e. ","
    return best if counts[best] else ","


_XLSX_LIMITS: Final = xlsx_reader.Limits(
    max_part_bytes=MAX_UNPACKED_BYTES, max_cell_chars=MAX_RAW_CELL_CHARS
)
_XLSX_CODES: Final = {
    xlsx_reader.UNREADABLE: UNREADABLE_FILE,
    xlsx_reader.PART_TOO_LARGE: UNPACKED_TOO_LARGE,
    xlsx_reader.CELL_TOO_LARGE: CELL_TOO_LARGE,
}


def _read_xlsx(
    path: Path, sheet: str | None, warnings: list[RowProblem]
) -> Generator[tuple[int, Row], None, None]:
    try:
        with xlsx_reader.XlsxBook(path, _XLSX_LIMITS) as book:
            if not book.sheets:
                raise _FileProblem(EMPTY_FILE)
            chosen = _choose_sheet(book, sheet)
            if len(book.sheets) > 1:
                others = ", ".join(s.name for s in book.sheets if s is not chosen)
                shown_others = _shown(others, _MAX_SHEET_LIST_CHARS)
                read = RowProblem(None, None, SHEET_READ, _shown(chosen.name), shown_others)
                warnings.append(read)
            yield from book.rows(chosen)
    except xlsx_reader.XlsxProblem as exc:
        code = _XLSX_CODES[exc.code]
        value = str(MAX_UNPACKED_BYTES // (1024 * 1024)) if code == UNPACKED_TOO_LARGE else None
        raise _FileProblem(code, value, row=exc.row, column=exc.column) from None


def _choose_sheet(book: xlsx_reader.XlsxBook, name: str | None) -> xlsx_reader.SheetRef:
    """The sheet named `name`, or else the one whose headings name most required columns."""
    sheets = book.sheets
    if name is not None:
        exact = [s for s in sheets if s.name == name]
        loose = [s for s in sheets if _skeleton(s.name) == _skeleton(name)]
        if exact or len(loose) == 1:
            return (exact or loose)[0]
        listed = ", ".join(s.name for s in sheets)
        raise _FileProblem(UNKNOWN_SHEET, name, detail=listed)
    # Offices put a cover page, instructions or a summary before the list. Visible sheets
    # first, each in tab order; a tie keeps the earlier one.
    ordered = sorted(sheets, key=lambda s: not s.visible)[:_MAX_SHEETS_SEARCHED]
    best, best_score = ordered[0], 0
    for candidate in ordered:
        score = _heading_score(book, candidate)
        if score > best_score:
            best, best_score = candidate, score
        if score == len(REQUIRED_FIELDS):
            break
    return best


def _heading_score(book: xlsx_reader.XlsxBook, sheet: xlsx_reader.SheetRef) -> int:
    """How many required columns the best heading row near the top of `sheet` names."""
    rows = book.rows(sheet)
    best, seen, blank = 0, 0, 0
    try:
        for _, cells in rows:
            blank = 0 if cells else blank + 1
            if blank > MAX_BLANK_RUN:
                break
            if not cells:
                continue
            fields = {_HEADING_ALIASES.get(_heading_key(c)) for c in cells.values()}
            best = max(best, len(fields.intersection(REQUIRED_FIELDS)))
            seen += 1
            if seen == _HEADER_SEARCH_ROWS or best == len(REQUIRED_FIELDS):
                break
    except xlsx_reader.XlsxProblem:
        return 0  # reported if this sheet ends up being read; it is no better a candidate
    finally:
        rows.close()
    return best


def _until_blank_run(
    records: Iterator[tuple[int, Row]], warnings: list[RowProblem]
) -> Generator[tuple[int, Row], None, None]:
    """The records up to a run of more than MAX_BLANK_RUN blank rows, where reading stops."""
    blank = 0
    for number, cells in records:
        blank = 0 if cells else blank + 1
        if blank > MAX_BLANK_RUN:
            warnings.append(
                RowProblem(number - blank + 1, None, STOPPED_AT_BLANK_ROWS, str(MAX_BLANK_RUN))
            )
            return
        yield number, cells


# --- parsing -----------------------------------------------------------------------------------


@dataclass
class _Header:
    row: int
    columns: dict[str, int]  # field -> cell index
    written: dict[str, str]  # field -> heading as written
    ignored: list[str]
    problems: list[RowProblem]
    by_index: dict[int, str]  # cell index -> heading as written, recognised or not
    serial: int | None = None  # the STT column's cell index, if there is one


def _find_header(
    records: Iterator[tuple[int, Row]],
) -> tuple[_Header, Iterator[tuple[int, Row]]] | None:
    """The heading row and the records after it, or None if every row is blank."""
    seen: list[tuple[int, Row]] = []
    for number, cells in records:
        if not cells:
            continue
        recognised = {_HEADING_ALIASES.get(_heading_key(c)) for c in cells.values()} - {None}
        if len(recognised) >= _MIN_HEADINGS_FOR_HEADER:
            return _parse_header(number, cells), records
        seen.append((number, cells))
        if len(seen) == _HEADER_SEARCH_ROWS:
            break
    if not seen:
        return None
    # No plausible heading row: treat the first non-empty row as one so the office is told
    # which columns are missing (all of them, as a list of delegates needs them).
    return _parse_header(*seen[0], found=False), itertools.chain(seen[1:], records)


# "(1)", "1", "[1]", "1." or "(A)": the numbering row offices put under the headings.
_COLUMN_NUMBER = re.compile(r"[(\[]?\s*(\d{1,3}|[A-Za-z])\s*[)\]]?\.?")


def _without_heading_rows(
    records: Iterator[tuple[int, Row]], header: _Header, warnings: list[RowProblem]
) -> Iterator[tuple[int, Row]]:
    """`records` without what offices put right under the headings: a second heading row
    (said in a warning) and a row of column numbers ("(1) (2) … (7)")."""
    subheading_seen = False
    for number, cells in records:
        if not cells:
            yield number, cells
            continue
        if not subheading_seen and _is_subheading(cells, header):
            subheading_seen = True
            labels = ", ".join(f"«{_clean(cells[i])}»" for i in sorted(cells) if _clean(cells[i]))
            warnings.append(
                RowProblem(number, None, SUBHEADING_SKIPPED, _shown(labels), str(header.row))
            )
            continue
        numbering = len(cells) >= 2 and all(
            _COLUMN_NUMBER.fullmatch(c.strip()) for c in cells.values()
        )
        if not numbering:
            yield number, cells
        break
    yield from records


def _is_subheading(cells: Row, header: _Header) -> bool:
    """Whether a row right under the headings is a second heading row: headings merged over
    two rows leave the required columns (code, name…) empty on it, and a heading split in two
    («Điện thoại» over «Di động», «Cố định») puts words, never a number, in the others."""
    required = [header.columns[f] for f in REQUIRED_FIELDS if f in header.columns]
    others = [i for f, i in header.columns.items() if f not in REQUIRED_FIELDS]
    texts = [_clean(c) for c in cells.values()]
    return (
        bool(required)
        and not any(_clean(cells.get(i, "")) for i in required)
        and any(_clean(cells.get(i, "")) for i in others)
        and not any(ch.isdigit() for text in texts for ch in text)
    )


def _parse_header(row: int, cells: Row, *, found: bool = True) -> _Header:
    """The columns of a heading row; a column only delegates need is missing only once a
    delegate is listed (see _parse_rows), unless no heading row was ``found`` at all."""
    header = _Header(row=row, columns={}, written={}, ignored=[], problems=[], by_index={})
    for index, raw in sorted(cells.items()):
        written = _clean(raw)
        if not written:
            continue
        header.by_index[index] = written
        field = _HEADING_ALIASES.get(_heading_key(written))
        if field == _SERIAL:
            if header.serial is None:
                header.serial = index
            continue
        if field is None:
            if written not in header.ignored:
                header.ignored.append(written)
        elif field in header.columns:
            header.problems.append(RowProblem(row, written, DUPLICATE_COLUMN, None))
        else:
            header.columns[field] = index
            header.written[field] = written
    for field in REQUIRED_FIELDS:
        if field not in header.columns and (field not in _OPTIONAL_FOR_CONTACTS or not found):
            # A list as offices keep it has an STT and no code: said what to add, and why the
            # STT will not do, where the headings were found.
            code = MISSING_CODE_COLUMN if field == "code" and found else MISSING_COLUMN
            header.problems.append(RowProblem(None, CANONICAL_HEADINGS[field], code, None))
    return header


class _GroupResolver:
    """Map a cell to a group key: by key, by label, then by label without diacritics."""

    def __init__(self, groups: Sequence[Group]) -> None:
        self._by_key = {g.key.casefold(): g.key for g in groups}
        self._by_label = {_clean(g.label).casefold(): g.key for g in groups}
        by_skeleton: dict[str, str | None] = {}
        for g in groups:
            skel = _skeleton(g.label)
            # Two labels that differ only by diacritics would be ambiguous: match neither.
            by_skeleton[skel] = None if skel in by_skeleton else g.key
        self._by_skeleton = by_skeleton
        self.labels = {g.key: _clean(g.label) for g in groups}
        self._words = [(g.key, frozenset(_words(g.label))) for g in groups]

    def resolve(self, value: str) -> str | None:
        folded = value.casefold()
        return (
            self._by_key.get(folded)
            or self._by_label.get(folded)
            or self._by_skeleton.get(_skeleton(value))
        )

    def containing(self, text: str) -> list[str]:
        """The groups whose label has every word of ``text`` (case and diacritics aside):
        «THƯỜNG TRỰC QUẬN» is in «Thường trực Quận ủy, HĐND, UBND quận» alone."""
        words = frozenset(_words(text))
        return [key for key, label in self._words if words and words <= label]

    def named(self, keys: Iterable[str]) -> str:
        """The labels of ``keys`` as a note names them: «…», «…»."""
        return ", ".join(f"«{self.labels[key]}»" for key in keys)


def _words(text: str) -> list[str]:
    """The words of ``text`` with no case, diacritics or punctuation («HĐND,» → «hdnd»)."""
    return re.findall(r"\w+", _skeleton(text))


# Matched like group labels (_skeleton) so "Đầu mối", "dau moi" and "ĐẦU  MỐI" all match.
_ROLE_BY_SKELETON: Final[dict[str, str]] = {
    _skeleton(alias): role for alias, role in _ROLE_ALIASES.items()
}


def _parse_role(value: str) -> str | None:
    """ROLE_DELEGATE for an empty cell, the role a cell names, or None if it names none."""
    if not value:
        return ROLE_DELEGATE
    return _ROLE_BY_SKELETON.get(_skeleton(value))


# A date or time as a spreadsheet shows one: "1/1/2027", "01-01-2027 08:30", "2027-01-01", "08:30".
_DATE_SHOWN = re.compile(
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\d{1,2}:\d{2}(?::\d{2})?"
)


def _parse_rank(value: str) -> int | None:
    """A non-negative whole number ("3", "3.0"), or None if it is not one."""
    if re.fullmatch(r"\d+", value):
        return int(value)
    # XLSX numbers reach us as text already, but a CSV exported from a float column says "3.0".
    match = re.fullmatch(r"(\d+)\.0*", value)
    return int(match.group(1)) if match else None


@dataclass
class _RowProblems:
    """Collects one row's problems, filling in the row number and the written heading."""

    row: int
    written: dict[str, str]
    into: list[RowProblem]

    def add(self, field: str, code: str, value: str | None, detail: str | None = None) -> None:
        # Shown with its invisible characters spelled out: printed raw, they would hide
        # the problem, or (an escape sequence) act on the office's terminal.
        value = None if value is None else _truncate(shown(value))
        self.into.append(RowProblem(self.row, self.written[field], code, value, detail))


def _parse_rows(
    records: Iterable[tuple[int, Row]],
    header: _Header,
    groups: _GroupResolver,
    max_rows: int,
    warnings: list[RowProblem],
) -> tuple[list[DelegateRow], list[RowProblem]]:
    rows: list[DelegateRow] = []
    problems: list[RowProblem] = []
    first_row_of_code: dict[str, int] = {}
    first_row_of_phone: dict[str, int] = {}
    first_row_of_person: dict[tuple[str, str, str], int] = {}
    header_ok = not header.problems
    data_rows = 0
    content_rows = 0
    # Cells under no heading at all (a note typed beside the table): not read, and said so,
    # once for each such column, with its first cell.
    unheaded: dict[int, tuple[int, str]] = {}
    # Delegates in a list without a column a delegate needs (a list of contacts needs none).
    said = {p.column for p in header.problems if p.code == MISSING_COLUMN}
    lacking = [
        f
        for f in REQUIRED_FIELDS
        if f in _OPTIONAL_FOR_CONTACTS
        and f not in header.columns
        and CANONICAL_HEADINGS[f] not in said
    ]
    delegates_lacking: list[int] = []
    capitals: list[tuple[str, str]] = []  # names written in capitals: as typed, as written
    # The group heading row above the rows read now: when it names a group of the plan, it
    # gives its group to the rows under it that have none of their own.
    heading: _GroupHeading | None = None
    headings: list[_GroupHeading] = []

    for number, cells in records:
        if not cells:
            continue
        # Every row with content counts towards the limit, so a file of a million rows that
        # only fill unrecognised columns stops as early as one of a million delegates.
        content_rows += 1
        if content_rows > max_rows:
            problems.append(RowProblem(number, None, TOO_MANY_ROWS, str(max_rows)))
            break
        values: dict[str, str] = {}
        refused: dict[str, str] = {}  # field -> the cell, hiding what cannot be stripped
        removed: dict[str, list[str]] = {}  # field -> the invisible characters stripped
        for field, index in header.columns.items():
            raw = cells.get(index, "")
            hidden = invisible_in(raw)
            # A code must be what it looks like: with a zero-width space, "DB001" becomes a
            # second code that looks like the first. A bidi control shows a name in another
            # order than it is stored, and stripping it would store a name the office never
            # saw. Both are refused; any other invisible character only hides, and goes.
            if hidden and (field == "code" or not BIDI_CONTROLS.isdisjoint(raw)):
                refused[field] = unicodedata.normalize("NFC", raw).strip()
            elif hidden:
                removed[field] = hidden
            # Codes keep inner spaces so "DB 001" is reported rather than silently merged.
            text = unicodedata.normalize("NFC", strip_invisible(raw))
            values[field] = text.strip() if field == "code" else _clean(text)
        # Blank in every recognised column: skipped. This also skips template rows where only
        # the serial-number column (STT) or the role (a dropdown's default) was pre-filled.
        if not any(value for field, value in values.items() if field != "role"):
            continue
        if _is_section_row(values, cells, header, groups):
            words = [values[f] for f in _SECTION_TEXT_FIELDS if values.get(f)]
            warnings.append(RowProblem(number, None, SECTION_ROW_SKIPPED, _shown(" ".join(words))))
            # Every heading ends the one above; the total row is no heading of people.
            heading = None
            if not _is_total(words[0]):
                serial = "" if header.serial is None else _clean(cells.get(header.serial, ""))
                heading = _heading_of(len(warnings) - 1, words, serial, groups)
                headings.append(heading)
            continue
        data_rows += 1
        # «NGUYỄN VĂN AN», as lists often write names, reads shouted in «Kính gửi đồng chí …»:
        # written as Vietnamese writes a name; one with any small letter is kept as typed.
        full_name = values.get("full_name", "")
        if written_in_capitals(full_name) and "full_name" not in refused:
            values["full_name"] = in_title_case(full_name)
            capitals.append((full_name, values["full_name"]))
        for index, raw in cells.items():
            if index not in header.by_index and index not in unheaded and _clean(raw):
                unheaded[index] = (number, _clean(raw))
        for field, characters in removed.items():
            warnings.append(
                RowProblem(number, header.written[field], INVISIBLE_REMOVED, ", ".join(characters))
            )

        # No group of its own (an empty cell, or no «Nhóm» column): the heading's, if any.
        groupless = not values.get("group") and "group" not in refused
        from_heading = heading is not None and heading.key is not None and groupless
        if heading is not None and heading.key is not None and from_heading:
            values["group"] = heading.key
            heading.filled += 1

        row_problems: list[RowProblem] = []
        problem = _RowProblems(number, header.written, row_problems).add
        reported: set[str] = set()  # fields with a problem that makes further checks moot
        for field, raw in refused.items():
            problem(field, INVISIBLE_IN_CODE if field == "code" else BIDI_CONTROL, raw)
            reported.add(field)
        for field, value in values.items():
            if len(value) > MAX_CELL_CHARS and field not in reported:
                problem(field, TOO_LONG, value)
                reported.add(field)
        role_value = values.get("role", "")
        role = None if "role" in reported else _parse_role(role_value)
        for field in REQUIRED_FIELDS:
            # An unreadable role gets its own problem; guessing it to demand or waive the
            # group would only add a second, possibly wrong, complaint about the same row.
            exempt = role != ROLE_DELEGATE and field in _OPTIONAL_FOR_CONTACTS
            if field in values and not values[field] and not exempt and field not in reported:
                problem(field, MISSING_VALUE, None)
        if lacking and role == ROLE_DELEGATE and not from_heading:
            delegates_lacking.append(number)
        if heading is not None and heading.key is None and groupless and role == ROLE_DELEGATE:
            heading.lacking += 1  # its note says which groups the plan has

        code = values.get("code", "")
        if code and "code" not in reported:
            if len(code) > MAX_CODE_CHARS or _WHITESPACE.search(code):
                problem("code", BAD_CODE, code)
            else:
                # Folded as lookups fold them (storage.models.fold_code): "db001" and "DB001"
                # are the same delegate to the office, as the database finds them.
                first = first_row_of_code.setdefault(fold_code(code), number)
                if first != number:  # named with the row it repeats, to choose which is right
                    problem("code", DUPLICATE_CODE, code, str(first))

        group_key: str | None = None
        group_value = values.get("group", "")
        if group_value and "group" not in reported:
            group_key = groups.resolve(group_value)
            if group_key is None:
                problem("group", UNKNOWN_GROUP, group_value)
        elif not group_value and role == ROLE_CONTACT:
            group_key = ""
        # A contact the list gives no group, for want of a «Nhóm» column: one already there
        # keeps hers (the list's headings say only the groups of the people under them).
        unsaid = (
            frozenset({"group_key"})
            if group_key == "" and "group" not in header.columns
            else frozenset()
        )

        # One person listed twice under two codes (copied from two lists): two invitations and
        # two seats. Said whatever the phones, which may differ or be missing.
        name, position, unit = (
            values.get(f, "").casefold() for f in ("full_name", "position", "organization")
        )
        person = (name, position, unit)
        twice = all(person) and person in first_row_of_person
        if twice:
            warnings.append(
                RowProblem(
                    number, None, DUPLICATE_PERSON, _shown(values["full_name"]),
                    str(first_row_of_person[person]),
                )
            )  # fmt: skip
        elif all(person):
            first_row_of_person[person] = number

        phone: str | None = None
        phone_value = values.get("phone", "")
        if phone_value and "phone" not in reported:
            phone = normalize_phone(phone_value)
            # A note ("(Zalo)") or a second number in the cell should not hold up the whole
            # list: the first plausible number is kept, and the office is told which.
            found = None if phone is not None else first_phone(phone_value)
            if found is not None:
                phone, kept = found
                written = header.written["phone"]
                shown_value = _truncate(shown(phone_value))
                warnings.append(RowProblem(number, written, PHONE_FIRST_KEPT, shown_value, kept))
            elif phone is None:
                problem("phone", BAD_PHONE, phone_value)
            if phone is not None:
                # One person listed twice under two codes, or a number typed on the wrong row:
                # a number two people share links neither of them by phone.
                first = first_row_of_phone.setdefault(phone, number)
                if first != number and not twice:  # said once, as the same person
                    written = header.written["phone"]
                    shown_value = _truncate(shown(phone_value))
                    warnings.append(
                        RowProblem(number, written, SHARED_PHONE, shown_value, str(first))
                    )

        rank: int | None = None
        rank_value = values.get("rank", "")
        if rank_value and "rank" not in reported:
            rank = _parse_rank(rank_value)
            if rank is None:
                # Excel turns a typed "1.1" or "1/1" into a date, shown as one (xlsx_reader) or
                # exported so in a CSV: said as such, since the cell looks like nothing wrong.
                date = _DATE_SHOWN.fullmatch(rank_value)
                problem("rank", BAD_RANK if date is None else RANK_IS_DATE, rank_value)

        if role is None and "role" not in reported:
            problem("role", BAD_ROLE, role_value)

        problems.extend(row_problems)
        if header_ok and not row_problems and group_key is not None and role is not None:
            rows.append(
                DelegateRow(
                    row=number,
                    code=code,
                    full_name=values["full_name"],
                    position=values["position"],
                    organization=values["organization"],
                    group_key=group_key,
                    phone=phone,
                    rank=rank,
                    role=role,
                    unsaid=unsaid,
                )
            )

    for h in headings:  # said on the heading's own line
        warnings[h.warning] = h.note(warnings[h.warning], groups)
    filled = [h for h in headings if h.filled]
    if delegates_lacking and filled:  # the headings gave most their group, not these rows
        problems[:0] = [
            RowProblem(
                None, CANONICAL_HEADINGS[f], GROUP_COLUMN_UNDER_NO_HEADING, _rows(delegates_lacking)
            )
            for f in lacking
        ]
    elif delegates_lacking:
        problems[:0] = _missing_for_delegates(lacking, delegates_lacking, "role" in header.columns)
    if data_rows == 0:
        problems.append(RowProblem(None, None, NO_ROWS, None))
    for index, (number, value) in sorted(unheaded.items()):
        warnings.append(RowProblem(number, _column_letter(index), UNHEADED_CELL, _shown(value)))
    if capitals and "full_name" in header.written:  # how many, with the first as the example
        typed_name, written = capitals[0]
        example = f"«{_shown(typed_name)}» → «{_shown(written)}»"
        warnings.append(
            RowProblem(
                None, header.written["full_name"], NAMES_IN_CAPITALS, str(len(capitals)), example
            )
        )
    return rows, problems


@dataclass
class _GroupHeading:
    """A group heading row: its warning's place, the plan's group it names (None: none, or
    several it may mean, ``candidates``), how many rows under it took that group and how many
    delegates under it were left without one; ``shouting``: a heading only for its capitals."""

    warning: int
    key: str | None
    candidates: Sequence[str] = ()
    shouting: bool = False
    filled: int = 0
    lacking: int = 0

    def note(self, skipped: RowProblem, groups: _GroupResolver) -> RowProblem:
        """The heading's note: the group it gave and to how many; with delegates under it
        left without a group, the plan's groups (those it may mean, or all); else skipped."""
        if self.key is not None and self.filled:
            return dataclasses.replace(
                skipped, code=GROUP_FROM_HEADING, detail=str(self.filled),
                groups=groups.named([self.key]),
            )  # fmt: skip
        if self.key is None and self.lacking:
            several = len(self.candidates) > 1
            return dataclasses.replace(
                skipped,
                code=HEADING_NAMES_SEVERAL_GROUPS if several else HEADING_NAMES_NO_GROUP,
                detail=str(self.lacking),
                groups=groups.named(self.candidates if several else groups.labels),
            )
        if self.shouting:  # «NGUYỄN VĂN AN» alone reads as «KHÁCH MỜI» does: said so
            return dataclasses.replace(skipped, code=CAPITALS_ROW_SKIPPED)
        return skipped


# A heading's own numbering, when written in the same cell: «I.», «II -», «A)», «1.».
_HEADING_NUMBER = re.compile(r"^(?:[IVXLC]+|[A-Za-z]|\d+)\s*[.):\-–]\s*")


def _heading_group(words: Sequence[str], groups: _GroupResolver) -> str | None:
    """The plan's group a heading row names, by its key or label as a «Nhóm» cell would
    («LÃNH ĐẠO THÀNH PHỐ» for «Lãnh đạo thành phố»); None if it names none."""
    for text in words:
        for candidate in (text, _HEADING_NUMBER.sub("", text)):
            key = groups.resolve(candidate) if candidate else None
            if key is not None:
                return key
    return None


def _heading_of(
    warning: int, words: Sequence[str], serial: str, groups: _GroupResolver
) -> _GroupHeading:
    """The group heading row whose note is ``warnings[warning]``: the group it names by its
    key or label (:func:`_heading_group`), or else the one group whose label has every word
    of it («THƯỜNG TRỰC QUẬN» for «Thường trực Quận ủy, HĐND, UBND quận»). Words found in
    two groups' labels name neither: the list's people are never placed by a guess."""
    key = _heading_group(words, groups)
    candidates: Sequence[str] = ()
    if key is None:
        candidates = groups.containing(_HEADING_NUMBER.sub("", words[0]))
        key = candidates[0] if len(candidates) == 1 else None
    text = words[0]
    shouting = (
        key is None
        and not serial
        and written_in_capitals(text)
        and _HEADING_LETTER.match(text) is None
    )
    return _GroupHeading(warning, key, candidates, shouting)


def _rows(numbers: Sequence[int]) -> str:
    """Row numbers as a message names them: the first few, «…» for the rest."""
    named = ", ".join(str(row) for row in numbers[:_MAX_ROWS_NAMED])
    return named + ", …" if len(numbers) > _MAX_ROWS_NAMED else named


# What a heading or total row of a list leaves empty: a person has at least one of these.
_PERSON_FIELDS: Final = ("code", "position", "organization", "phone", "rank", "role")
# Where such a row writes its words («LÃNH ĐẠO THÀNH PHỐ», «Tổng cộng: 120 đại biểu»).
_SECTION_TEXT_FIELDS: Final = ("full_name", "group")


def _is_section_row(
    values: dict[str, str], cells: Row, header: _Header, groups: _GroupResolver
) -> bool:
    """Whether a row is one of the lines offices put between and after the people, not a
    person: a group's heading («I | LÃNH ĐẠO THÀNH PHỐ») or the total («Tổng cộng: 120»). It
    has words where a name or a group goes, in one of them alone (a heading merged across the
    columns keeps its text in its first cell; a note or a count in a column not read does not
    matter), and none of a person's code, position, unit, phone; its STT cell, if any, holds
    no number. With no numbering of its own in the STT cell («I», «A») its words must read as
    a heading's (:func:`_reads_as_a_heading`). A numbered row, a name written with its group,
    or a name alone written as names are («Trần Thị Bình») is a person whose details are still
    to be typed, and is told so: refusing her loses nothing, skipping her would."""
    if any(values.get(field) for field in _PERSON_FIELDS):
        return False
    texts = [values[field] for field in _SECTION_TEXT_FIELDS if values.get(field)]
    if len(texts) != 1:
        return False
    serial = "" if header.serial is None else _clean(cells.get(header.serial, ""))
    if any(ch.isdigit() for ch in serial):
        return False
    return bool(serial) or _reads_as_a_heading(texts[0], groups)


# How a total row opens («Tổng cộng: 120 đại biểu», «Cộng: 120»).
_TOTAL_WORDS: Final = ("tổng", "cộng")
# A heading's own numbering written in its cell («II. Khách mời», «B) Báo chí»): a Roman
# numeral or a letter, not a number (a person may be written «1. Nguyễn Văn An»).
_HEADING_LETTER = re.compile(r"^(?:[IVXLC]+|[A-Za-z])\s*[.):\-–]\s*")


def _reads_as_a_heading(text: str, groups: _GroupResolver) -> bool:
    """Whether words alone in a row are what offices write over or under their people: in
    capitals («KHÁCH MỜI»), numbered as headings are («II. Khách mời»), a total («Tổng cộng:
    …»), or a plan group's name. A name as names are written is none of them."""
    return (
        written_in_capitals(text)
        or _HEADING_LETTER.match(text) is not None
        or _is_total(text)
        or _heading_group([text], groups) is not None
    )


def _is_total(text: str) -> bool:
    """Whether words alone in a row open as a total does («Tổng cộng: 120», «Cộng: 5»)."""
    return text.casefold().startswith(_TOTAL_WORDS)


def _missing_for_delegates(
    fields: Sequence[str], rows: Sequence[int], has_roles: bool
) -> list[RowProblem]:
    """The columns only delegates need, missing from a list that has delegates: plainly
    missing in a list without roles (everyone is a delegate), else with the delegates' rows."""
    if not has_roles:  # everyone is a delegate: said so, for a list of contacts without roles
        return [
            RowProblem(None, CANONICAL_HEADINGS[f], GROUP_COLUMN_WITHOUT_ROLES, None)
            for f in fields
        ]
    named = ", ".join(str(row) for row in rows[:_MAX_ROWS_NAMED])
    if len(rows) > _MAX_ROWS_NAMED:
        named += ", …"
    return [
        RowProblem(None, CANONICAL_HEADINGS[f], GROUP_COLUMN_FOR_DELEGATES, named) for f in fields
    ]


def parse_delegate_file(
    path: Path,
    groups: Sequence[Group],
    *,
    sheet: str | None = None,
    max_rows: int | None = None,
) -> ParsedDelegates:
    """Read and validate a delegate list (.csv or .xlsx); never raises on bad input.

    `sheet` names the worksheet of an .xlsx to read; without it, the sheet whose headings
    name most required columns is read (a cover page often comes first).
    """
    if not path.is_file():
        return _file_level(FILE_NOT_FOUND, None)
    suffix = path.suffix.lower()
    if suffix == ".xls":
        return _file_level(OLD_EXCEL, None)
    if suffix not in SUPPORTED_SUFFIXES:
        return _file_level(UNSUPPORTED_FORMAT, path.suffix or None)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return _file_level(FILE_TOO_LARGE, str(MAX_FILE_BYTES // (1024 * 1024)))
        with path.open("rb") as file:
            if file.read(len(_OLE2_SIGNATURE)) == _OLE2_SIGNATURE:
                # An .xls renamed, or a workbook Excel encrypted with a password.
                return _file_level(OLD_EXCEL, None)
    except OSError:
        return _file_level(UNREADABLE_FILE, None)
    warnings: list[RowProblem] = []
    if suffix == ".csv":
        if sheet is not None:
            warnings.append(RowProblem(None, None, SHEET_IGNORED, _shown(sheet)))
        source = _read_csv(path)
    else:
        source = _read_xlsx(path, sheet, warnings)
    stream = _until_blank_run(source, warnings)
    header: _Header | None = None
    rows: list[DelegateRow] = []
    problems: list[RowProblem] = []
    try:
        found = _find_header(stream)
        if found is None:
            return _file_level(EMPTY_FILE, None, warnings)
        header, after = found
        problems = header.problems
        rows, row_problems = _parse_rows(
            _without_heading_rows(after, header, warnings),
            header,
            _GroupResolver(groups),
            max_rows or MAX_DATA_ROWS,
            warnings,
        )
        problems = problems + row_problems
    except _FileProblem as exc:
        # Reading stopped at a limit or a damaged part: what was found so far is reported
        # with it, and nothing is imported.
        column = None if exc.column is None else _column_name(exc.column, header)
        detail = _shown(exc.detail, _MAX_SHEET_LIST_CHARS)
        problem = RowProblem(exc.row, column, exc.code, _shown(exc.value), detail)
        problems = [*problems, problem]
        rows = []
    except OSError:
        problems = [*problems, RowProblem(None, None, UNREADABLE_FILE, None)]
        rows = []
    finally:
        # Closes the file (and the zip) when reading stopped early.
        stream.close()
        source.close()
    # Groups given by the list's heading rows are the list's: not kept from before.
    headed = any(w.code == GROUP_FROM_HEADING for w in warnings)
    absent = frozenset(
        _ATTRIBUTE.get(field, field)
        for field in KEPT_WHEN_ABSENT
        if header is not None and field not in header.columns and not (field == "group" and headed)
    )
    return ParsedDelegates(
        rows=rows,
        problems=problems,
        ignored_columns=[] if header is None else header.ignored,
        warnings=warnings,
        absent=absent,
    )


def _column_name(index: int, header: _Header | None) -> str:
    """The heading of column `index` as written, or Excel's letter for it (A, B, ...)."""
    if header is not None and index in header.by_index:
        return header.by_index[index]
    return _column_letter(index)


def _shown(value: str | None, limit: int = _MAX_VALUE_CHARS) -> str | None:
    return None if value is None else _truncate(shown(value), limit)


def _file_level(
    code: str, value: str | None, warnings: list[RowProblem] | None = None
) -> ParsedDelegates:
    return ParsedDelegates(
        rows=[],
        problems=[RowProblem(None, None, code, _shown(value))],
        ignored_columns=[],
        warnings=warnings or [],
    )
