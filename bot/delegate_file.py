"""Parse the office's delegate list (CSV or XLSX) into validated rows - pure, no database.

Every problem in the file is collected (not just the first) so the office can fix the
spreadsheet in one pass; callers import nothing when `problems` is non-empty.
Problems carry machine codes only; the CLI turns them into prose through the text catalog.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.domain.phones import normalize_phone

# --- problem codes (file-level ones have row=None) -----------------------------------------
FILE_NOT_FOUND: Final = "file_not_found"
UNSUPPORTED_FORMAT: Final = "unsupported_format"
NOT_UTF8: Final = "not_utf8"
UNREADABLE_FILE: Final = "unreadable_file"
EMPTY_FILE: Final = "empty_file"
NO_ROWS: Final = "no_rows"
TOO_MANY_ROWS: Final = "too_many_rows"
MISSING_COLUMN: Final = "missing_column"
DUPLICATE_COLUMN: Final = "duplicate_column"
MISSING_VALUE: Final = "missing_value"
UNKNOWN_GROUP: Final = "unknown_group"
BAD_PHONE: Final = "bad_phone"
BAD_RANK: Final = "bad_rank"
DUPLICATE_CODE: Final = "duplicate_code"
TOO_LONG: Final = "too_long"
BAD_CODE: Final = "bad_code"
BAD_ROLE: Final = "bad_role"

PROBLEM_CODES: Final = (
    FILE_NOT_FOUND,
    UNSUPPORTED_FORMAT,
    NOT_UTF8,
    UNREADABLE_FILE,
    EMPTY_FILE,
    NO_ROWS,
    TOO_MANY_ROWS,
    MISSING_COLUMN,
    DUPLICATE_COLUMN,
    MISSING_VALUE,
    UNKNOWN_GROUP,
    BAD_PHONE,
    BAD_RANK,
    DUPLICATE_CODE,
    TOO_LONG,
    BAD_CODE,
    BAD_ROLE,
)

# --- roles -------------------------------------------------------------------------------------
# A contact is the focal point of a preparation task (office staff, a department's contact);
# they get messages from the bot but are not invitees and do not take a seat in the hall.
ROLE_DELEGATE: Final = "delegate"
ROLE_CONTACT: Final = "contact"

SUPPORTED_SUFFIXES: Final = (".csv", ".xlsx")
MAX_CELL_CHARS: Final = 200
MAX_CODE_CHARS: Final = 32
# A guard for files uploaded through the bot: a delegate list is hundreds of rows at most.
MAX_DATA_ROWS: Final = 5000
_MAX_VALUE_CHARS = 60
# Office spreadsheets usually start with a title block ("DANH SÁCH ĐẠI BIỂU ...") above the
# real heading row, so we look for the heading within the first few non-empty rows.
_HEADER_SEARCH_ROWS = 10
_MIN_HEADINGS_FOR_HEADER = 2

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

# Fields a contact may leave empty: they are not seated, so they need no invitee group.
_OPTIONAL_FOR_CONTACTS: Final = frozenset({"group"})

# Keys are normalised with _heading_key. Unaccented Vietnamese variants are accepted because
# many people type without a Vietnamese keyboard. "STT" (số thứ tự) is deliberately absent:
# in Vietnamese spreadsheets it is a serial-number column, not the protocol rank.
_HEADING_ALIASES: Final[dict[str, str]] = {
    alias: field
    for field, aliases in {
        "code": ("code", "ma", "mã", "mã đại biểu", "ma dai bieu"),
        "full_name": ("full name", "name", "họ và tên", "họ tên", "ho va ten", "ho ten"),
        "position": ("position", "chức vụ", "chuc vu"),
        "organization": ("organization", "organisation", "unit", "đơn vị", "don vi"),
        "group": ("group", "nhóm", "nhom"),
        "phone": (
            "phone",
            "điện thoại",
            "số điện thoại",
            "sđt",
            "dien thoai",
            "so dien thoai",
            "sdt",
        ),
        "rank": ("rank", "thứ tự", "thu tu"),
        "role": ("role", "vai trò", "vai tro", "loại", "loai"),
    }.items()
    for alias in aliases
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


@dataclass(frozen=True)
class RowProblem:
    """One problem; `column` is the heading as written in the file, `code` a catalog key."""

    row: int | None
    column: str | None
    code: str
    value: str | None


@dataclass(frozen=True)
class ParsedDelegates:
    """Valid rows, every problem found, and the headings that were not recognised."""

    rows: list[DelegateRow]
    problems: list[RowProblem]
    ignored_columns: list[str]


class _FileProblem(Exception):
    """Internal: reading stopped at a file-level problem."""

    def __init__(self, code: str, value: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.value = value


# --- text helpers ----------------------------------------------------------------------------


def _clean(value: str) -> str:
    """NFC, trimmed, internal whitespace runs collapsed to one space."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", value)).strip()


def _heading_key(heading: str) -> str:
    # Trailing "*" / ":" are how templates mark required fields ("Họ và tên (*)", "Mã:").
    key = _clean(heading).casefold().replace("_", " ")
    key = re.sub(r"\s*(\(\*\)|\*|:)\s*$", "", key)
    return _WHITESPACE.sub(" ", key).strip()


def _skeleton(text: str) -> str:
    """Case-, accent- and whitespace-insensitive form, for lenient label matching."""
    # Vietnamese has two accepted tone placements ("Thành ủy" / "Thành uỷ", "Hòa" / "Hoà");
    # comparing without diacritics makes both spellings of a label match.
    decomposed = unicodedata.normalize("NFD", _clean(text).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d")


def _truncate(value: str) -> str:
    if len(value) <= _MAX_VALUE_CHARS:
        return value
    return value[: _MAX_VALUE_CHARS - 1] + "…"


def _cell_text(value: object) -> str:
    """A cell as text, the way the office would read it in Excel."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    # Excel stores every number as a float: code 12 arrives as 12.0, a phone as 912345678.0.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    return str(value)


# --- readers: yield (excel_row_number, cells) -------------------------------------------------


def _read_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    data = path.read_bytes()
    if not data.strip():
        raise _FileProblem(EMPTY_FILE)
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            # Excel's "Unicode Text" export is UTF-16 with a BOM; it is unambiguous, so accept it.
            text = data.decode("utf-16")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _FileProblem(NOT_UTF8) from None
    delimiter = _detect_delimiter(text)
    # newline="" so quoted cells containing line breaks stay one record, as in Excel.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # Each record is one Excel row, blank lines included ([]), so enumerate matches Excel.
        yield from enumerate(reader, start=1)
    except csv.Error:
        raise _FileProblem(UNREADABLE_FILE) from None


def _detect_delimiter(text: str) -> str:
    """Pick , ; or tab by counting them outside quotes in the first non-empty lines."""
    # csv.Sniffer guesses badly on short files and on Vietnamese text full of commas,
    # so count the candidates outside quoted fields instead.
    lines = [line for line in text.splitlines() if line.strip()][:5]
    sample = re.sub(r'"[^"]*"', "", "\n".join(lines))
    counts = {d: sample.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])  # ties keep the first, i.e. ","
    return best if counts[best] else ","


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    # Imported lazily: the bot only needs openpyxl when someone imports a spreadsheet.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:
        # openpyxl raises a zoo of exceptions on damaged input (BadZipFile, KeyError,
        # InvalidFileException, XML errors...); to the office they all mean "cannot read".
        raise _FileProblem(UNREADABLE_FILE) from None
    try:
        if not workbook.worksheets:
            raise _FileProblem(EMPTY_FILE)
        sheet = workbook.worksheets[0]
        # Some generators write a wrong <dimension> (e.g. "A1"); forget it and read every row.
        sheet.reset_dimensions()
        try:
            # iter_rows starts at row 1 and fills missing rows with (), so numbering is Excel's.
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell_text(v) for v in values]
        except _FileProblem:
            raise
        except Exception:
            raise _FileProblem(UNREADABLE_FILE) from None
    finally:
        # Read-only workbooks keep the zip file open until closed.
        workbook.close()


# --- parsing -----------------------------------------------------------------------------------


@dataclass
class _Header:
    row: int
    columns: dict[str, int]  # field -> cell index
    written: dict[str, str]  # field -> heading as written
    ignored: list[str]
    problems: list[RowProblem]


def _find_header(records: list[tuple[int, list[str]]]) -> tuple[int, _Header] | None:
    """Index into `records` and the parsed heading row, or None if every row is blank."""
    non_empty = [i for i, (_, cells) in enumerate(records) if any(c.strip() for c in cells)]
    if not non_empty:
        return None
    for i in non_empty[:_HEADER_SEARCH_ROWS]:
        recognised = {_HEADING_ALIASES.get(_heading_key(c)) for c in records[i][1]} - {None}
        if len(recognised) >= _MIN_HEADINGS_FOR_HEADER:
            return i, _parse_header(*records[i])
    # No plausible heading row: treat the first non-empty row as one so the office is told
    # which columns are missing.
    return non_empty[0], _parse_header(*records[non_empty[0]])


def _parse_header(row: int, cells: list[str]) -> _Header:
    header = _Header(row=row, columns={}, written={}, ignored=[], problems=[])
    for index, raw in enumerate(cells):
        written = _clean(raw)
        if not written:
            continue
        field = _HEADING_ALIASES.get(_heading_key(written))
        if field is None:
            if written not in header.ignored:
                header.ignored.append(written)
        elif field in header.columns:
            header.problems.append(RowProblem(row, written, DUPLICATE_COLUMN, None))
        else:
            header.columns[field] = index
            header.written[field] = written
    for field in REQUIRED_FIELDS:
        if field not in header.columns:
            header.problems.append(
                RowProblem(None, CANONICAL_HEADINGS[field], MISSING_COLUMN, None)
            )
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

    def resolve(self, value: str) -> str | None:
        folded = value.casefold()
        return (
            self._by_key.get(folded)
            or self._by_label.get(folded)
            or self._by_skeleton.get(_skeleton(value))
        )


# Matched like group labels (_skeleton) so "Đầu mối", "dau moi" and "ĐẦU  MỐI" all match.
_ROLE_BY_SKELETON: Final[dict[str, str]] = {
    _skeleton(alias): role for alias, role in _ROLE_ALIASES.items()
}


def _parse_role(value: str) -> str | None:
    """ROLE_DELEGATE for an empty cell, the role a cell names, or None if it names none."""
    if not value:
        return ROLE_DELEGATE
    return _ROLE_BY_SKELETON.get(_skeleton(value))


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

    def add(self, field: str, code: str, value: str | None) -> None:
        shown = None if value is None else _truncate(value)
        self.into.append(RowProblem(self.row, self.written[field], code, shown))


def _parse_rows(
    records: Iterable[tuple[int, list[str]]],
    header: _Header,
    groups: _GroupResolver,
) -> tuple[list[DelegateRow], list[RowProblem]]:
    rows: list[DelegateRow] = []
    problems: list[RowProblem] = []
    first_row_of_code: dict[str, int] = {}
    header_ok = not header.problems
    data_rows = 0

    for number, cells in records:
        values: dict[str, str] = {}
        for field, index in header.columns.items():
            raw = cells[index] if index < len(cells) else ""
            # Codes keep inner spaces so "DB 001" is reported rather than silently merged.
            nfc = unicodedata.normalize("NFC", raw)
            values[field] = nfc.strip() if field == "code" else _clean(nfc)
        # Blank in every recognised column: skipped. This also skips template rows where only
        # the serial-number column (STT) or the role (a dropdown's default) was pre-filled.
        if not any(value for field, value in values.items() if field != "role"):
            continue
        data_rows += 1
        if data_rows > MAX_DATA_ROWS:
            problems.append(RowProblem(None, None, TOO_MANY_ROWS, str(MAX_DATA_ROWS)))
            break

        row_problems: list[RowProblem] = []
        problem = _RowProblems(number, header.written, row_problems).add
        too_long: set[str] = set()
        for field, value in values.items():
            if len(value) > MAX_CELL_CHARS:
                problem(field, TOO_LONG, value)
                too_long.add(field)
        role_value = values.get("role", "")
        role = None if "role" in too_long else _parse_role(role_value)
        for field in REQUIRED_FIELDS:
            # An unreadable role gets its own problem; guessing it to demand or waive the
            # group would only add a second, possibly wrong, complaint about the same row.
            exempt = role != ROLE_DELEGATE and field in _OPTIONAL_FOR_CONTACTS
            if field in values and not values[field] and not exempt:
                problem(field, MISSING_VALUE, None)

        code = values.get("code", "")
        if code and "code" not in too_long:
            if len(code) > MAX_CODE_CHARS or _WHITESPACE.search(code):
                problem("code", BAD_CODE, code)
            else:
                # Case-insensitive: "db001" and "DB001" are the same delegate to the office.
                first = first_row_of_code.setdefault(code.casefold(), number)
                if first != number:
                    problem("code", DUPLICATE_CODE, code)

        group_key: str | None = None
        group_value = values.get("group", "")
        if group_value and "group" not in too_long:
            group_key = groups.resolve(group_value)
            if group_key is None:
                problem("group", UNKNOWN_GROUP, group_value)
        elif not group_value and role == ROLE_CONTACT:
            group_key = ""

        phone: str | None = None
        phone_value = values.get("phone", "")
        if phone_value and "phone" not in too_long:
            phone = normalize_phone(phone_value)
            if phone is None:
                problem("phone", BAD_PHONE, phone_value)

        rank: int | None = None
        rank_value = values.get("rank", "")
        if rank_value and "rank" not in too_long:
            rank = _parse_rank(rank_value)
            if rank is None:
                problem("rank", BAD_RANK, rank_value)

        if role is None and "role" not in too_long:
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
                )
            )

    if data_rows == 0:
        problems.append(RowProblem(None, None, NO_ROWS, None))
    return rows, problems


def parse_delegate_file(path: Path, groups: Sequence[Group]) -> ParsedDelegates:
    """Read and validate a delegate list (.csv or .xlsx); never raises on bad input."""
    if not path.is_file():
        return _file_level(FILE_NOT_FOUND, None)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return _file_level(UNSUPPORTED_FORMAT, path.suffix or None)
    reader = _read_csv if suffix == ".csv" else _read_xlsx
    try:
        # Materialised: delegate lists are small, and header detection needs to look ahead.
        records = list(reader(path))
    except _FileProblem as exc:
        return _file_level(exc.code, exc.value)
    except OSError:
        return _file_level(UNREADABLE_FILE, None)

    found = _find_header(records)
    if found is None:
        return _file_level(EMPTY_FILE, None)
    index, header = found
    rows, row_problems = _parse_rows(records[index + 1 :], header, _GroupResolver(groups))
    return ParsedDelegates(
        rows=rows,
        problems=header.problems + row_problems,
        ignored_columns=header.ignored,
    )


def _file_level(code: str, value: str | None) -> ParsedDelegates:
    return ParsedDelegates(
        rows=[],
        problems=[RowProblem(None, None, code, None if value is None else _truncate(value))],
        ignored_columns=[],
    )
