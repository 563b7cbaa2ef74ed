"""Stream the rows of an .xlsx worksheet with bounded memory, whatever the file holds.

openpyxl's read-only mode is not enough for a file someone else made: it loads every shared
string when the workbook opens, parses a whole sheet that lacks a <dimension> record just to
size it, and fills the gap before a far-away row with empty rows. A hostile or odd file then
costs minutes and hundreds of megabytes. This reader parses the parts itself with expat, fed
in small pieces: it keeps one row at a time (only its non-empty cells), stops inside a cell as
soon as its text passes the limit, stops at the end of the sheet's data, and checks the
central directory and each part's declared unpacked size before inflating anything, so a zip
bomb is refused, never expanded (zipfile never yields more than the declared size).

Cells come back as the text Excel shows for the common cases: strings, numbers (12.0 is "12"),
booleans, errors and cached formula results. Number formats are not applied, except that a
number shown as a date or a time comes back as one ("1/1/2027", "1/1/2027 08:30", "08:30",
day first as Vietnamese letters write it), not as its serial number (46388): the delegate list
has no date columns, and a date where a number belongs (Excel turns a typed "1.1" or "1/1" into
one) must read as the date it shows, for the office to be told.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
from array import array
from collections.abc import Callable, Generator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Final
from xml.parsers import expat

# --- why reading stopped (XlsxProblem.code) ---------------------------------------------------
UNREADABLE: Final = "unreadable"  # not a workbook, or damaged
PART_TOO_LARGE: Final = "part_too_large"  # a part unpacks past the limit, or has too many elements
CELL_TOO_LARGE: Final = "cell_too_large"  # one cell's text passes the limit (row, column)

MAX_ROWS: Final = 1_048_576  # Excel's own limits
MAX_COLUMNS: Final = 16_384
# A workbook has a few dozen parts (a hundred with pictures); a central directory with
# hundreds of thousands of entries costs zipfile hundreds of megabytes before any check.
MAX_PARTS: Final = 2000
_MAX_STRUCTURE_BYTES = 1024 * 1024  # workbook.xml and relationship parts: a few KB each
_CHUNK = 64 * 1024
# A tag, attribute or comment is buffered whole by expat; no honest one comes near this.
_MAX_TOKEN_BYTES = 1024 * 1024
# Parsing time goes with the number of elements, not bytes: a part packed with tiny elements
# (a million one-letter shared strings) would take many seconds. A 10,000-row list of ten
# columns has about 300,000 elements in its sheet and fewer in its shared strings. The budget
# is for the whole workbook, however many of its sheets are looked at.
MAX_ELEMENTS: Final = 1_000_000
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d*)")
_INTEGER = re.compile(r"-?\d{1,18}")
# Excel's built-in number formats that show a date or a time (ECMA-376 18.8.30; 27-36 and
# 50-58 are the East Asian dates).
_DATE_FORMAT_IDS: Final = frozenset(
    [*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)]
)
# What in a custom format code is not a date or time part: quoted text, an escaped character,
# a colour or locale in brackets (but [h], [mm], [ss]: elapsed time), padding and fill.
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[(?![hms]+\])[^\]]*\]|_.|\*.')
_DATE_PARTS = re.compile(r"[dmyhs]", re.IGNORECASE)
_LAST_SERIAL = 2_958_465  # 31/12/9999, Excel's last day


class XlsxProblem(Exception):
    """Reading stopped: `code` says why; `row` (Excel's number) and `column` (0-based) if known."""

    def __init__(
        self,
        code: str,
        *,
        row: int | None = None,
        column: int | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.row = row
        self.column = column
        self.value = value


@dataclass(frozen=True)
class Limits:
    """How much one file may cost: bytes unpacked per part, characters per cell."""

    max_part_bytes: int
    max_cell_chars: int


@dataclass(frozen=True)
class SheetRef:
    """One worksheet: its tab name, its part in the zip and whether Excel shows it."""

    name: str
    part: str
    visible: bool


Row = dict[int, str]  # 0-based column -> text, only the cells present in the file


class XlsxBook:
    """An open .xlsx: its worksheets in tab order and their rows, read on demand."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self._limits = limits
        try:
            _check_central_directory(path)
            self._zip = zipfile.ZipFile(path)
        except XlsxProblem:
            raise
        except Exception:  # BadZipFile, OSError, struct.error...: not a readable workbook
            raise XlsxProblem(UNREADABLE) from None
        try:
            self._parts = {info.filename: info for info in self._zip.infolist()}
            self._folded = {name.casefold(): name for name in self._parts}
            self.sheets, self._strings_part, self._dates = self._read_structure()
        except BaseException:
            self._zip.close()
            raise
        self._strings: _SharedStrings | None = None
        self._strings_problem: XlsxProblem | None = None
        self._budget = _Budget(MAX_ELEMENTS)

    def __enter__(self) -> XlsxBook:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the file."""
        self._zip.close()

    def rows(self, sheet: SheetRef) -> Generator[tuple[int, Row], None, None]:
        """Each row present in the sheet, in file order, as (Excel row number, cells)."""
        strings = self._shared_strings()
        handler = _SheetHandler(self._budget, strings, self._limits.max_cell_chars, self._dates)
        yield from self._stream(sheet.part, handler, self._limits.max_part_bytes)

    # --- structure ---------------------------------------------------------------------------

    def _read_structure(self) -> tuple[list[SheetRef], str | None, _Dates]:
        root = _relationships(self._read_small("_rels/.rels"), "")
        workbook_part = root.get("officeDocument", [("xl/workbook.xml", "")])[0][0]
        folder = posixpath.dirname(workbook_part)
        rels_part = posixpath.join(folder, "_rels", posixpath.basename(workbook_part) + ".rels")
        rels = _relationships(self._read_small(rels_part), folder)
        # Chartsheets and macro sheets have no cells: only worksheets are listed.
        worksheets = {rel_id: target for target, rel_id in rels.get("worksheet", [])}
        sheets = []
        workbook = self._read_small(workbook_part)
        for name, rel_id, state in _sheet_entries(workbook):
            part = self._existing(worksheets.get(rel_id, ""))
            if part is not None:  # a sheet whose part is missing is skipped, as Excel repairs
                sheets.append(SheetRef(name, part, state == "visible"))
        strings = [self._existing(target) for target, _ in rels.get("sharedStrings", [])]
        return (
            sheets,
            next((s for s in strings if s is not None), None),
            self._dates_of(workbook, [target for target, _ in rels.get("styles", [])]),
        )

    def _dates_of(self, workbook: bytes, styles: list[str]) -> _Dates:
        """Which cell styles show a date, and the workbook's first day. Without them (no
        styles part, or one too large or damaged) dates read as their serial numbers."""
        try:
            data = self._read_small(styles[0]) if styles else b""
            return _Dates(_date_styles(data), _uses_1904(workbook))
        except XlsxProblem:
            return _Dates(frozenset(), False)

    def _existing(self, part: str) -> str | None:
        if part in self._parts:
            return part
        # Some generators disagree with themselves on case ("Sheet1.xml" / "sheet1.xml").
        return self._folded.get(part.casefold())

    def _read_small(self, part: str) -> bytes:
        name = self._existing(part)
        if name is None:
            return b""
        self._check_size(name, _MAX_STRUCTURE_BYTES)
        try:
            return self._zip.read(name)
        except Exception:
            raise XlsxProblem(UNREADABLE) from None

    def _check_size(self, part: str, limit: int) -> None:
        if self._parts[part].file_size > limit:
            raise XlsxProblem(PART_TOO_LARGE)

    def _shared_strings(self) -> _SharedStrings:
        # Read once, and a failure remembered: every sheet looked at needs the table.
        if self._strings_problem is not None:
            raise self._strings_problem
        if self._strings is None:
            strings = _SharedStrings(self._limits.max_cell_chars)
            if self._strings_part is not None:
                handler = _StringsHandler(self._budget, strings)
                try:
                    for _ in self._stream(self._strings_part, handler, self._limits.max_part_bytes):
                        pass
                except XlsxProblem as problem:
                    self._strings_problem = problem
                    raise
            self._strings = strings
        return self._strings

    def _stream(
        self, part: str, handler: _Handler, limit: int
    ) -> Generator[tuple[int, Row], None, None]:
        """Feed `part` to expat in pieces, yielding what `handler` completes after each."""
        self._check_size(part, limit)
        parser = _parser(handler)
        try:
            with self._zip.open(part) as source:
                fed = 0
                while not handler.done and handler.failed is None:
                    chunk = source.read(_CHUNK)
                    fed += len(chunk)
                    parser.Parse(chunk, not chunk)
                    yield from handler.take()
                    if not chunk:
                        break
                    # After Parse, expat's index is that of the last event: far behind what
                    # was fed, it means one tag or attribute is being buffered without end.
                    if fed - parser.CurrentByteIndex > _MAX_TOKEN_BYTES:
                        handler.failed = XlsxProblem(UNREADABLE, row=handler.where())
        except XlsxProblem:
            raise
        except Exception:
            # expat errors, a bad CRC, an unsupported compression, a truncated member...:
            # to the office they all mean "cannot read".
            raise XlsxProblem(UNREADABLE, row=handler.where()) from None
        if handler.failed is not None:
            raise handler.failed


# --- zip checks -------------------------------------------------------------------------------

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"


def _check_central_directory(path: Path) -> None:
    """Refuse a zip whose central directory lists more parts than a workbook ever has."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        tail_start = max(0, size - (22 + 65535))
        file.seek(tail_start)
        tail = file.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise XlsxProblem(UNREADABLE)
        entries = struct.unpack_from("<H", tail, at + 10)[0]
        locator = at - 20
        if locator >= 0 and tail[locator : locator + 4] == _EOCD64_LOCATOR:
            # ZIP64: the real count is in the zip64 end record the locator points to.
            (offset,) = struct.unpack_from("<Q", tail, locator + 8)
            file.seek(offset)
            record = file.read(56)
            if len(record) < 56 or record[:4] != _EOCD64:
                raise XlsxProblem(UNREADABLE)
            entries = struct.unpack_from("<Q", record, 32)[0]
    if entries > MAX_PARTS:
        raise XlsxProblem(UNREADABLE)


# --- expat plumbing ---------------------------------------------------------------------------


class _Budget:
    """Elements a workbook may still make the parser handle."""

    def __init__(self, left: int) -> None:
        self.left = left


class _Handler:
    """Base for the part handlers: completed rows, end of data, and why reading stopped.

    Names arrive as written ("row", or "x:row" in a file that prefixes its namespace) and are
    matched on their local part: namespace processing would cost a third more time, and a
    strict-OOXML file, whose namespaces differ, then reads the same.
    """

    def __init__(self, budget: _Budget | None = None) -> None:
        self.done = False
        # A problem met while parsing a piece is raised only after the rows completed before
        # it in that piece were handed out, so limits are met in the order of the rows.
        self.failed: XlsxProblem | None = None
        self._ready: list[tuple[int, Row]] = []
        self._budget = budget or _Budget(MAX_ELEMENTS)

    def count(self) -> bool:
        """Count one more element; False once the workbook's budget is spent."""
        self._budget.left -= 1
        if self._budget.left >= 0:
            return True
        if self.failed is None:
            self.failed = XlsxProblem(PART_TOO_LARGE, row=self.where())
        return False

    def take(self) -> list[tuple[int, Row]]:
        """The rows completed since the last call."""
        ready, self._ready = self._ready, []
        return ready

    def start(self, name: str, attrs: dict[str, str]) -> None:
        """An element opens."""

    def end(self, name: str) -> None:
        """An element closes."""

    def text(self, data: str) -> None:
        """Character data inside the current element."""

    def where(self) -> int | None:
        """The row being read, for a problem's position."""
        return None


def _parser(handler: _Handler) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    return parser


def _refuse(*_: object) -> None:
    # A workbook part never declares a DTD; one that does wants entity expansion.
    raise XlsxProblem(UNREADABLE)


def _local(name: str) -> str:
    return name.rpartition(":")[2]


class _StartsHandler(_Handler):
    """Calls `on_start` with local names for each element of a small structure part."""

    def __init__(self, on_start: Callable[[str, dict[str, str]], None]) -> None:
        super().__init__()
        self._on_start = on_start

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self._on_start(_local(name), {_local(k): v for k, v in attrs.items()})


def _collect(data: bytes, on_start: Callable[[str, dict[str, str]], None]) -> None:
    """Parse a small structure part (already size-checked), calling `on_start` per element."""
    if not data:
        return
    try:
        _parser(_StartsHandler(on_start)).Parse(data, True)
    except Exception:
        raise XlsxProblem(UNREADABLE) from None


def _relationships(data: bytes, folder: str) -> dict[str, list[tuple[str, str]]]:
    """Relationship kind (last part of its type) -> [(target part, id)]."""
    found: dict[str, list[tuple[str, str]]] = {}

    def on_start(name: str, attrs: dict[str, str]) -> None:
        if name != "Relationship" or attrs.get("TargetMode") == "External":
            return
        target = attrs.get("Target", "")
        part = target[1:] if target.startswith("/") else posixpath.join(folder, target)
        kind = attrs.get("Type", "").rpartition("/")[2]
        found.setdefault(kind, []).append((posixpath.normpath(part), attrs.get("Id", "")))

    _collect(data, on_start)
    return found


def _sheet_entries(data: bytes) -> list[tuple[str, str, str]]:
    """(tab name, relationship id, state) of each <sheet> in workbook.xml, in tab order."""
    found: list[tuple[str, str, str]] = []

    def on_start(name: str, attrs: dict[str, str]) -> None:
        if name == "sheet":
            found.append(
                (attrs.get("name", ""), attrs.get("id", ""), attrs.get("state", "visible"))
            )

    _collect(data, on_start)
    return found


def _uses_1904(workbook: bytes) -> bool:
    """Whether the workbook counts its dates from 1904 (old Mac Excel) instead of 1900."""
    found: list[bool] = []

    def on_start(name: str, attrs: dict[str, str]) -> None:
        if name == "workbookPr":
            found.append(attrs.get("date1904", "0").strip().lower() in ("1", "true"))

    _collect(workbook, on_start)
    return any(found)


def _date_styles(data: bytes) -> frozenset[int]:
    """The indexes of the cell formats (<cellXfs>) of styles.xml whose number format is a date
    or a time."""
    custom: dict[int, str] = {}
    dates: set[int] = set()
    section, index = "", 0

    def on_start(name: str, attrs: dict[str, str]) -> None:
        nonlocal section, index
        if name in ("numFmts", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs", "extLst"):
            section = name  # a <numFmt> of <dxfs>, an <xf> of <cellStyleXfs> are not the cells'
        elif name == "numFmt" and section == "numFmts":
            with suppress(ValueError):  # one odd entry, not the file
                custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")
        elif name == "xf" and section == "cellXfs":
            with suppress(ValueError):  # one odd entry, not the file
                number_format = int(attrs.get("numFmtId", "0"))
                if _is_date_format(number_format, custom.get(number_format)):
                    dates.add(index)
            index += 1

    _collect(data, on_start)
    return frozenset(dates)


def _is_date_format(number_format: int, code: str | None) -> bool:
    """Whether a number format shows a date or a time: a built-in one by its id, a custom one
    by the day, month, year, hour or second its code shows."""
    if code is None:
        return number_format in _DATE_FORMAT_IDS
    shown = _FORMAT_NOISE.sub("", code)
    return shown.lower() != "general" and _DATE_PARTS.search(shown) is not None


@dataclass(frozen=True)
class _Dates:
    """What it takes to show a date cell as a date: the styles that are dates, the first day."""

    styles: frozenset[int]
    from_1904: bool


def _date_text(raw: str, from_1904: bool) -> str | None:
    """A serial date as the date it shows, day first ("1/1/2027", "1/1/2027 08:30", "08:30");
    None if it is not one."""
    try:
        serial = float(raw)
    except ValueError:
        return None
    if not 0 <= serial <= _LAST_SERIAL:
        return None
    if from_1904:
        start = datetime(1904, 1, 1)
    else:
        # Excel counts a 29/2/1900 that never was (serial 60): before it, one day less.
        start = datetime(1899, 12, 31) if serial < 60 else datetime(1899, 12, 30)
    moment = start + timedelta(minutes=round(serial * 24 * 60))
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if serial < 1:
        return clock
    day = f"{moment.day}/{moment.month}/{moment.year}"
    return day if moment.hour == moment.minute == 0 else f"{day} {clock}"


# --- shared strings ---------------------------------------------------------------------------


class _SharedStrings:
    """The shared string table, packed: one UTF-8 buffer and an end offset per string."""

    def __init__(self, max_chars: int) -> None:
        self._text = bytearray()
        self._ends = array("I")  # offsets < the part limit, far below 4 GiB
        self._too_large: set[int] = set()
        self.max_chars = max_chars

    def append(self, text: str | None) -> None:
        """Add the next string; None stands for one that was longer than the cell limit."""
        if text is None:
            self._too_large.add(len(self._ends))
        else:
            self._text += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._text))

    def get(self, index: int) -> str | None:
        """The string at `index`, or None if it was too long to keep."""
        if index < 0:
            raise IndexError(index)
        if index in self._too_large:
            return None
        start = self._ends[index - 1] if index else 0
        return self._text[start : self._ends[index]].decode("utf-8", "surrogatepass")


class _StringsHandler(_Handler):
    """Fills a _SharedStrings from sharedStrings.xml: the text of <t> in <si>, not <rPh>."""

    def __init__(self, budget: _Budget, strings: _SharedStrings) -> None:
        super().__init__(budget)
        self._strings = strings
        self._parts: list[str] | None = None
        self._size = 0
        self._phonetic = 0
        self._in_text = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if not self.count():
            return
        local = _local(name)
        if local == "si":
            self._parts, self._size = [], 0
        elif local == "t":
            self._in_text = not self._phonetic
        elif local == "rPh":
            self._phonetic += 1  # the reading aid of East Asian text, not the cell's text

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "t":
            self._in_text = False
        elif local == "si":
            parts = self._parts
            self._strings.append(None if parts is None else _unescape("".join(parts)))
            self._parts = None
        elif local == "rPh":
            self._phonetic -= 1

    def text(self, data: str) -> None:
        if self._in_text and self._parts is not None:
            self._size += len(data)
            if self._size > self._strings.max_chars:
                self._parts = None  # too long: remembered, reported where a cell uses it
            else:
                self._parts.append(data)


# --- worksheet --------------------------------------------------------------------------------


class _SheetHandler(_Handler):
    """Turns <sheetData> into rows of non-empty cells; stops at its end."""

    def __init__(
        self, budget: _Budget, strings: _SharedStrings, max_chars: int, dates: _Dates
    ) -> None:
        super().__init__(budget)
        self._strings = strings
        self._max_chars = max_chars
        self._dates = dates
        self._is_date = False
        self._in_data = False
        self._row = 0
        self._cells: Row | None = None
        self._column = -1
        self._kind = "n"
        self._parts: list[str] = []
        self._size = 0
        self._capture = False
        self._phonetic = 0

    def where(self) -> int | None:
        return self._row or None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.failed is not None or self.done or not self.count():
            return  # the rest of this piece is ignored; reading stops after it
        local = _local(name)
        if not self._in_data:
            self._in_data = local == "sheetData"
        elif local == "c":
            if self._cells is not None:
                self._guard(self._open_cell, attrs)
        elif local in ("v", "t"):
            self._capture = not self._phonetic
        elif local == "row":
            self._guard(self._open_row, attrs)
        elif local == "rPh":
            self._phonetic += 1

    def end(self, name: str) -> None:
        if self.failed is not None or self.done or not self._in_data:
            return
        local = _local(name)
        if local in ("v", "t"):
            self._capture = False
        elif local == "c":
            if self._cells is not None:
                self._guard(self._close_cell, None)
        elif local == "row":
            if self._cells is not None:
                self._ready.append((self._row, self._cells))
                self._cells = None
        elif local == "rPh":
            self._phonetic -= 1
        elif local == "sheetData":
            self.done = True

    def text(self, data: str) -> None:
        if self._capture and self._cells is not None and self.failed is None:
            self._size += len(data)
            if self._size > self._max_chars:
                self.failed = XlsxProblem(CELL_TOO_LARGE, row=self._row, column=self._column)
                self._capture = False
            else:
                self._parts.append(data)

    def _guard(
        self, step: Callable[[dict[str, str] | None], None], attrs: dict[str, str] | None
    ) -> None:
        try:
            step(attrs)
        except XlsxProblem as problem:
            self.failed = problem
        except (ValueError, IndexError):
            self.failed = XlsxProblem(UNREADABLE, row=self.where())

    def _open_row(self, attrs: dict[str, str] | None) -> None:
        number = attrs.get("r") if attrs else None
        self._row = int(number) if number else self._row + 1
        if not 1 <= self._row <= MAX_ROWS:
            raise XlsxProblem(UNREADABLE)
        self._cells, self._column = {}, -1

    def _open_cell(self, attrs: dict[str, str] | None) -> None:
        attrs = attrs or {}
        ref = attrs.get("r")
        self._column = _column_index(ref) if ref else self._column + 1
        if not 0 <= self._column < MAX_COLUMNS:
            raise XlsxProblem(UNREADABLE, row=self._row)
        self._kind = attrs.get("t", "n")
        style = attrs.get("s", "0")
        self._is_date = style.isdigit() and int(style) in self._dates.styles
        self._parts, self._size = [], 0

    def _close_cell(self, _: dict[str, str] | None) -> None:
        assert self._cells is not None
        value = self._value("".join(self._parts))
        if value:
            self._cells[self._column] = value
        self._parts = []

    def _value(self, raw: str) -> str:
        kind = self._kind
        if kind == "s":
            if not raw:
                return ""
            text = self._strings.get(int(raw))
            if text is None:
                raise XlsxProblem(CELL_TOO_LARGE, row=self._row, column=self._column)
            return text
        if kind == "inlineStr":
            return _unescape(raw)
        if kind == "b":
            return {"1": "TRUE", "0": "FALSE"}.get(raw.strip(), raw)
        if kind in ("str", "e", "d"):
            return raw
        if self._is_date and (date := _date_text(raw, self._dates.from_1904)) is not None:
            return date
        return _number_text(raw)


def _column_index(ref: str) -> int:
    match = _CELL_REF.match(ref)
    if match is None:
        raise XlsxProblem(UNREADABLE)
    index = 0
    for letter in match.group(1).upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _number_text(raw: str) -> str:
    """A number as Excel shows it in a General cell: 12.0 is "12", a phone keeps its digits."""
    raw = raw.strip()
    if not raw or _INTEGER.fullmatch(raw):
        return raw
    try:
        number = float(raw)
    except ValueError:
        return raw
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return str(number)


def _unescape(text: str) -> str:
    # Excel writes characters XML cannot hold as _xHHHH_ (a carriage return is _x000D_).
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text
