"""What hostile or odd delegate files cost to import: seconds and peak memory, file by file.

Each file is generated into a temporary folder (nothing big is kept), then parsed by
``parse_delegate_file`` in a fresh Python process, which reports the seconds the parse took,
its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, so the interpreter
and the imports are included) and the first problem or warning. The import must stay under
100 MB and a few seconds for every file.

Usage (from the repository root)::

    .venv/bin/python bench/import_limits.py              # every file
    .venv/bin/python bench/import_limits.py far_row csv_line   # some of them
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
HEADING = ("Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Nhóm", "Điện thoại", "Thứ tự")

_PROBE = """
import json, re, resource, sys, time
from pathlib import Path
from bot.delegate_file import Group, parse_delegate_file

def peak_kb():
    try:
        status = open("/proc/self/status").read()
        return int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
    except OSError:  # not Linux: ru_maxrss may then include the parent's peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

start = time.perf_counter()
result = parse_delegate_file(Path(sys.argv[1]), [Group("bao_chi", "Báo chí")])
seconds = time.perf_counter() - start
first = (result.problems or getattr(result, "warnings", []) or [None])[0]
print(json.dumps({
    "seconds": round(seconds, 2),
    "peak_mb": round(peak_kb() / 1024, 1),
    "rows": len(result.rows),
    "first": None if first is None else [first.row, first.column, first.code],
}))
"""

# --- a minimal .xlsx writer that streams its parts (openpyxl would hold them in memory) ---------

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)


def write_xlsx(
    path: Path,
    sheet: Iterable[str],
    strings: Iterable[str] = (),
    extra_parts: int = 0,
    more_sheets: Sequence[Iterable[str]] = (),
) -> None:
    """An .xlsx whose sheets' <sheetData> are `sheet` then `more_sheets`, and shared strings
    `strings`; `extra_parts` empty parts pad the zip."""
    sheets = [sheet, *more_sheets]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        entries = "".join(
            f'<sheet name="Trang {n}" sheetId="{n}" r:id="rId{n}"/>'
            for n in range(1, len(sheets) + 1)
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>{entries}</sheets></workbook>',
        )
        rels = "".join(
            f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(sheets) + 1)
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'{rels}<Relationship Id="rIdS" Type="{_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        _stream(z, "xl/sharedStrings.xml", [f'<sst xmlns="{_NS}">', *strings, "</sst>"])
        for n, pieces in enumerate(sheets, start=1):
            head, tail = f'<worksheet xmlns="{_NS}"><sheetData>', "</sheetData></worksheet>"
            _stream(z, f"xl/worksheets/sheet{n}.xml", [head, *pieces, tail])
        for number in range(extra_parts):
            z.writestr(f"customXml/item{number}.xml", "")


def _stream(z: zipfile.ZipFile, name: str, pieces: Iterable[str]) -> None:
    with z.open(name, "w", force_zip64=True) as part:
        buffer: list[str] = []
        size = 0
        for piece in pieces:
            buffer.append(piece)
            size += len(piece)
            if size > MB:
                part.write("".join(buffer).encode())
                buffer, size = [], 0
        part.write("".join(buffer).encode())


def inline_row(number: int, values: Iterable[str]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def delegate(number: int) -> tuple[str, ...]:
    return (f"DB{number}", "Nguyễn Thị Lan", "Chủ tịch", "Hội LHPN", "bao_chi", "", "")


def _many(count: int, text: str) -> Iterator[str]:
    chunk = text * (MB // len(text))
    for _ in range(count):
        yield chunk


# --- the files --------------------------------------------------------------------------------


def rows_300k(path: Path) -> None:
    """300,000 delegates: a 7 MB file whose sheet unpacks to ~120 MB."""
    write_xlsx(path, (inline_row(n, HEADING if n == 1 else delegate(n)) for n in range(1, 300_000)))


def rows_1m(path: Path) -> None:
    """A million delegates: the sheet unpacks to ~400 MB."""
    write_xlsx(path, (inline_row(n, HEADING if n == 1 else delegate(n)) for n in range(1, 10**6)))


def rows_60k(path: Path) -> None:
    """60,000 delegates in shared strings: under every size limit, over the row limit."""
    cells = "".join(f'<c r="{chr(65 + i)}{{n}}" t="s"><v>{i}</v></c>' for i in range(1, 5))
    code = '<c r="A{n}" t="inlineStr"><is><t>DB{n}</t></is></c>'
    strings = [f"<si><t>{v}</t></si>" for v in delegate(0)[:5]]
    head = inline_row(1, HEADING)
    write_xlsx(path, [head, *(f'<row r="{n}">{code.format(n=n)}{cells.format(n=n)}</row>'
                              for n in range(2, 60_000))], strings)  # fmt: skip


def far_row(path: Path) -> None:
    """A 5 KB file with one cell at row 1,048,576."""
    write_xlsx(path, [inline_row(1, HEADING), inline_row(2, delegate(1)),
                      inline_row(1_048_576, delegate(2))])  # fmt: skip


def blank_rows(path: Path) -> None:
    """The table, then 800,000 formatted empty rows."""
    write_xlsx(path, [inline_row(1, HEADING), inline_row(2, delegate(1)),
                      *(f'<row r="{n}"/>' for n in range(3, 800_003))])  # fmt: skip


def blank_rows_1m(path: Path) -> None:
    """The table, then empty rows down to row 1,048,576."""
    write_xlsx(path, [inline_row(1, HEADING), inline_row(2, delegate(1)),
                      *(f'<row r="{n}"/>' for n in range(3, 1_048_577))])  # fmt: skip


def cell_400mb(path: Path) -> None:
    """One inline cell of 400 MB (a zip bomb: the file is ~400 KB)."""
    write_xlsx(path, [inline_row(1, HEADING), '<row r="2"><c r="B2" t="inlineStr"><is><t>',
                      *_many(400, "A"), "</t></is></c></row>"])  # fmt: skip


def cell_1mb(path: Path) -> None:
    """One inline cell of 1 MB: under the unpacked limit, over Excel's cell limit."""
    write_xlsx(path, [inline_row(1, HEADING), '<row r="2"><c r="B2" t="inlineStr"><is><t>',
                      *_many(1, "A"), "</t></is></c></row>"])  # fmt: skip


def shared_400mb(path: Path) -> None:
    """One shared string of 400 MB."""
    write_xlsx(path, [inline_row(1, HEADING), '<row r="2"><c r="B2" t="s"><v>0</v></c></row>'],
               ["<si><t>", *_many(400, "A"), "</t></si>"])  # fmt: skip


def strings_1m(path: Path) -> None:
    """A million one-letter shared strings (15 MB unpacked, just under the limit)."""
    write_xlsx(path, [inline_row(1, HEADING)], _many(15, "<si><t>a</t></si>"))


def entries_150k(path: Path) -> None:
    """A workbook whose zip lists 150,000 parts (zipfile alone would take ~90 MB to list them)."""
    write_xlsx(path, [inline_row(1, HEADING)], extra_parts=150_000)


def sheets_60(path: Path) -> None:
    """60 sheets of 50,000 empty rows with a formatted cell each, then the list."""
    junk = [f'<row r="{n}"><c r="A{n}" s="1"/></row>' for n in range(1, 50_001)]
    listing = [inline_row(1, HEADING), inline_row(2, delegate(1))]
    write_xlsx(path, junk, more_sheets=[list(junk) for _ in range(59)] + [listing])


def entity_bomb(path: Path) -> None:
    """Shared strings with a DTD of nested entities (billion laughs)."""
    dtd = '<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    write_xlsx(path, [inline_row(1, HEADING), '<row r="2"><c r="B2" t="s"><v>0</v></c></row>'])
    _replace_part(
        path, "xl/sharedStrings.xml", f'{dtd}]><sst xmlns="{_NS}"><si><t>&j;</t></si></sst>'
    )


def _replace_part(path: Path, name: str, text: str) -> None:
    original = path.read_bytes()
    copy = path.with_suffix(".tmp")
    copy.write_bytes(original)
    with zipfile.ZipFile(copy) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            z.writestr(item, text if item.filename == name else source.read(item))
    copy.unlink()


def csv_rows_600k(path: Path) -> None:
    """600,000 short CSV rows (19 MB, just under the file limit)."""
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(HEADING) + "\n")
        for n in range(600_000):
            f.write(f"DB{n},Lan,CT,Hội,bao_chi,,\n")


def csv_line(path: Path) -> None:
    """One 19 MB line: a single cell."""
    path.write_bytes(",".join(HEADING).encode() + b"\nDB1," + b"A" * (19 * MB))


def csv_field_200k(path: Path) -> None:
    """A 200 KB quoted field, past the csv module's own 128 KiB field limit."""
    path.write_bytes(",".join(HEADING).encode() + b'\nDB1,"' + b"A" * 200_000 + b'",x,y,z,,')


def csv_blank_lines(path: Path) -> None:
    """The table, then 19 million blank lines."""
    path.write_bytes(
        ",".join(HEADING).encode() + "\nDB1,Lan,CT,Hội,bao_chi,,\n".encode() + b"\n" * (19 * MB)
    )


FILES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "rows_1m": (".xlsx", rows_1m),
    "rows_300k": (".xlsx", rows_300k),
    "rows_60k": (".xlsx", rows_60k),
    "far_row": (".xlsx", far_row),
    "blank_rows": (".xlsx", blank_rows),
    "blank_rows_1m": (".xlsx", blank_rows_1m),
    "cell_400mb": (".xlsx", cell_400mb),
    "cell_1mb": (".xlsx", cell_1mb),
    "shared_400mb": (".xlsx", shared_400mb),
    "strings_1m": (".xlsx", strings_1m),
    "entries_150k": (".xlsx", entries_150k),
    "sheets_60": (".xlsx", sheets_60),
    "entity_bomb": (".xlsx", entity_bomb),
    "csv_rows_600k": (".csv", csv_rows_600k),
    "csv_line": (".csv", csv_line),
    "csv_field_200k": (".csv", csv_field_200k),
    "csv_blank_lines": (".csv", csv_blank_lines),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"files to try: {', '.join(FILES)}")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per file")
    args = parser.parse_args()
    names = args.names or list(FILES)
    print(f"{'file':<16} {'size':>10} {'seconds':>8} {'peak MB':>8} {'rows':>6}  first problem")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            suffix, make = FILES[name]
            path = Path(folder) / f"{name}{suffix}"
            make(path)
            size = path.stat().st_size
            try:
                done = subprocess.run(
                    [sys.executable, "-c", _PROBE, str(path)],
                    cwd=ROOT, capture_output=True, text=True, timeout=args.timeout,
                )  # fmt: skip
                report = json.loads(done.stdout) if done.returncode == 0 else None
            except subprocess.TimeoutExpired:
                report = None
            if report is None:
                print(f"{name:<16} {size:>10,} {'failed or timed out':>24}")
            else:
                print(
                    f"{name:<16} {size:>10,} {report['seconds']:>8} {report['peak_mb']:>8} "
                    f"{report['rows']:>6}  {report['first']}"
                )
            path.unlink()


if __name__ == "__main__":
    main()
