"""Invisible characters: what the import refuses or strips, and what no written file holds."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.documents.slips import Slip, build_slips
from bot.documents.workbook import Cell, Sheet, csv_bytes, workbook_bytes
from bot.domain import invisible
from bot.domain.invisible import invisible_in, is_invisible, printable, shown, strip_invisible
from tests.test_slips import TEXTS, cells, link, open_docx

# What people paste or attackers type: NUL, ESC (terminal escapes), DEL, a C1 control, a
# zero-width space, joiner and no-break space, a BOM, soft hyphen, a right-to-left override,
# an isolate, a left-to-right mark and a Hangul filler.
HIDDEN = "\x00\x1b\x7f\x9b\u200b\u200d\u2060\ufeff\u00ad\u202e\u2067\u200e\u3164"


def no_hidden(text: str) -> bool:
    return not any(c in text for c in HIDDEN)


@pytest.mark.parametrize("char", list(HIDDEN))
def test_every_hidden_character_is_invisible(char: str) -> None:
    assert is_invisible(char)


@pytest.mark.parametrize("char", [" ", "\t", "\n", "a", "ễ", "\u0301", "😀", "\u00a0", "…"])
def test_visible_letters_marks_and_whitespace_are_not_invisible(char: str) -> None:
    assert not is_invisible(char)


def test_invisible_characters_are_listed_once_in_order_and_shown_as_code_points() -> None:
    text = "DB\u200b00\x1b1\u200b"
    assert invisible_in(text) == ["U+200B", "U+001B"]
    assert shown(text) == "DB<U+200B>00<U+001B>1<U+200B>"
    assert strip_invisible(text) == "DB001"


def test_printable_keeps_line_breaks_and_tabs_and_drops_every_other_control() -> None:
    # Vertical tab, form feed, file separator and NEL are whitespace to Python, but controls.
    assert printable("Phó\tChủ tịch\r\nThường trực" + HIDDEN + "\x0b\x0c\x1c\x85") == (
        "Phó\tChủ tịch\r\nThường trực"
    )


# --- files the bot writes -------------------------------------------------------------------

NAME = "Nguyễn\x1b[2J Thị\u200b Lan\u202e\x00"  # as a record stored before the import cleaned


def test_csv_export_never_writes_hidden_characters() -> None:
    data = csv_bytes(["Họ và tên", "Ghi chú"], [[NAME, '\u200b=HYPERLINK("http://x")']])
    text = data.decode("utf-8-sig")
    assert no_hidden(text)
    rows = list(csv.reader(io.StringIO(text)))
    # The zero-width space no longer hides the formula from the formula guard.
    assert rows[1] == ["Nguyễn[2J Thị Lan", '\'=HYPERLINK("http://x")']


def test_xlsx_export_never_writes_a_character_xml_cannot_hold_with_a_date_or_without() -> None:
    # A row with a date goes through lxml, which refused U+FFFF (the office's report was a
    # 500); a row without one was written as «&#65535;», a file Excel calls damaged.
    when = datetime(2024, 5, 28, 8, 0)
    rows: list[list[Cell]] = [["Trần Lan\uffff", "PCT\ufffe"], ["Lê Hà\uffff", when]]
    data = workbook_bytes([Sheet("Đại biểu", ["Họ và tên", "Ghi chú"], rows)])
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
        ["Trần Lan", "PCT"],
        ["Lê Hà", when],
    ]


def test_xlsx_export_never_writes_hidden_characters() -> None:
    data = workbook_bytes([Sheet("Đại biểu", ["Họ và tên", "Ghi chú"], [[NAME, "\u200b=1+1"]])])
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in sheet[2]] == ["Nguyễn[2J Thị Lan", "=1+1"]
    assert sheet["B2"].data_type == "s"


def test_invitation_slips_never_print_hidden_characters() -> None:
    slip = Slip("DB001", NAME, "Chủ\u00adtịch\u202e", "Hội\u2067 LHPN", link(1))
    text_column, _ = cells(open_docx(build_slips([slip], TEXTS)).tables[0])
    assert text_column[:3] == ["Kính gửi đồng chí Nguyễn[2J Thị Lan", "Chủtịch", "Hội LHPN"]


# --- the import, end to end -----------------------------------------------------------------


def test_import_output_names_hidden_characters_without_printing_them(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = office / "ds.csv"
    path.write_text(
        "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm\n"
        "DB001,Nguyễn Thị Lan\x1b[2J,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen\n"
        "DB001\u200b,Trần Thị Mai,Chủ tịch,Hội LHPN quận Tây Hồ,chu_tich_cap_huyen\n",
        encoding="utf-8",
    )
    assert main(["delegates", "import", str(path)]) == 3
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert no_hidden(output)
    assert "  - Dòng 2, cột «Họ và tên»: đã bỏ các ký tự ẩn" in output
    assert "(U+001B)" in output
    assert '  - Dòng 3, cột «Mã»: mã "DB001<U+200B>" có ký tự ẩn' in output
    assert "Chưa nhập tệp" in output


def test_a_name_is_stored_as_it_looks_and_exported_clean(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = office / "ds.csv"
    name = unicodedata.normalize("NFD", "Nguyễn Thị Lan").replace("e\u0302", "e\u200d\u0302")
    path.write_text(
        "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm\n"
        f"DB001,\u2060{name}\x00,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen\n",
        encoding="utf-8",
    )
    assert main(["delegates", "import", str(path)]) == 0
    assert main(["invites", "export", "links.csv", "--bot-username", "hoinghi_hanoi_bot"]) == 0
    rows = list(csv.reader(io.StringIO((office / "links.csv").read_text(encoding="utf-8-sig"))))
    assert rows[1][:2] == ["DB001", "Nguyễn Thị Lan"]


def test_the_quick_check_for_plain_text_changes_no_answer_for_any_code_point() -> None:
    # Plain text skips the character-by-character walk when Python calls it printable and it
    # holds no filler. That is right only if no such character is one the walk would drop:
    # checked for every code point (the check is per character, so text of them is alike).
    skipped = [chr(point) for point in range(0x110000) if invisible._plainly_visible(chr(point))]
    dropped = [c for c in skipped if is_invisible(c) or unicodedata.category(c) in ("Cc", "Cs")]
    assert "\ufffe" not in skipped and "\uffff" not in skipped
    assert dropped == [] and len(skipped) > 100_000

    # And the three functions answer as the walk does, on every character the walk drops or
    # keeps as layout, and on a spread of the others, each between letters.
    def walked(text: str) -> tuple[str, str, list[str]]:
        kept = "".join(c for c in text if c in "\t\n\r" or not is_invisible(c))
        kept = "".join(c for c in kept if unicodedata.category(c) != "Cc" or c in "\t\n\r")
        kept = "".join(
            c for c in kept if unicodedata.category(c) != "Cs" and c not in "\ufffe\uffff"
        )
        stripped = "".join(c for c in text if not is_invisible(c))
        found = list(dict.fromkeys(f"U+{ord(c):04X}" for c in text if is_invisible(c)))
        return kept, stripped, found

    for point in range(0x110000):
        char = chr(point)
        category = unicodedata.category(char)
        if (
            point % 251
            and category not in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")
            and char not in invisible._FILLERS
            and char not in "\ufffe\uffff"
        ):
            continue
        text = f"a{char}b"
        assert (printable(text), strip_invisible(text), invisible_in(text)) == walked(text), point
