import io
import json
import re
import subprocess
import sys
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from bot.delegate_file import (
    BAD_ROLE,
    CANONICAL_HEADINGS,
    MAX_BLANK_RUN,
    MAX_CELL_CHARS,
    MAX_FILE_BYTES,
    MAX_RAW_CELL_CHARS,
    PROBLEM_CODES,
    ROLE_CONTACT,
    ROLE_DELEGATE,
    DelegateRow,
    Group,
    ParsedDelegates,
    RowProblem,
    _read_xlsx,
    parse_delegate_file,
)
from bot.documents.xlsx_reader import MAX_PARTS
from bot.domain.phones import normalize_phone
from bot.texts import load_catalog
from bot.texts.presenters import problem_line

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "delegates.csv"
CONTACTS_EXAMPLE = EXAMPLE.with_name("contacts.csv")

GROUPS = [
    Group("trung_uong_hoi", "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam"),
    Group(
        "lanh_dao_thanh_pho",
        "Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam thành phố",
    ),
    Group("so_ban_nganh", "Đại diện lãnh đạo các ban, sở, ngành, đoàn thể thành phố"),
    Group(
        "cap_uy_dia_phuong",
        "Lãnh đạo cấp ủy 5 địa phương (quận Hoàn Kiếm, quận Cầu Giấy, quận Long Biên, "
        "huyện Đông Anh, thị xã Sơn Tây)",
    ),
    Group("ban_thuong_vu", "Ban Thường vụ Hội LHPN thành phố"),
    Group("chu_tich_cap_huyen", "Chủ tịch Hội LHPN các quận, huyện, thị xã"),
    Group("ban_chuyen_mon", "Trưởng các ban, đơn vị trực thuộc Hội LHPN thành phố"),
    Group("bao_chi", "Phóng viên các cơ quan báo chí"),
]
EXPECTED_COUNTS = {
    "trung_uong_hoi": 2,
    "lanh_dao_thanh_pho": 4,
    "so_ban_nganh": 10,
    "cap_uy_dia_phuong": 5,
    "ban_thuong_vu": 9,
    "chu_tich_cap_huyen": 30,
    "ban_chuyen_mon": 10,
    "bao_chi": 10,
}
DISTRICT_UNITS = [
    *(
        "quận " + u
        for u in (
            "Ba Đình",
            "Hoàn Kiếm",
            "Tây Hồ",
            "Long Biên",
            "Cầu Giấy",
            "Đống Đa",
            "Hai Bà Trưng",
            "Hoàng Mai",
            "Thanh Xuân",
            "Nam Từ Liêm",
            "Bắc Từ Liêm",
            "Hà Đông",
        )
    ),
    "thị xã Sơn Tây",
    *(
        "huyện " + u
        for u in (
            "Ba Vì",
            "Chương Mỹ",
            "Đan Phượng",
            "Đông Anh",
            "Gia Lâm",
            "Hoài Đức",
            "Mê Linh",
            "Mỹ Đức",
            "Phú Xuyên",
            "Phúc Thọ",
            "Quốc Oai",
            "Sóc Sơn",
            "Thạch Thất",
            "Thanh Oai",
            "Thanh Trì",
            "Thường Tín",
            "Ứng Hòa",
        )
    ),
]

HEADER = "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại,Thứ tự"
GOOD = "DB001,Nguyễn Thị Lan,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen,0912 345 001,1"


def write_csv(tmp_path: Path, *lines: str, name: str = "delegates.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    data = "\n".join(lines).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_xlsx(
    tmp_path: Path, rows: Sequence[Sequence[object]], name: str = "delegates.xlsx"
) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    path = tmp_path / name
    workbook.save(path)
    return path


def parse(path: Path) -> ParsedDelegates:
    return parse_delegate_file(path, GROUPS)


def only_problem(result: ParsedDelegates) -> RowProblem:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


# --- the shipped example ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> ParsedDelegates:
    return parse_delegate_file(EXAMPLE, GROUPS)


def test_example_file_parses_into_80_delegates_without_problems(example: ParsedDelegates) -> None:
    assert example.problems == []
    assert example.ignored_columns == []
    assert len(example.rows) == 80
    assert [r.row for r in example.rows] == list(range(2, 82))
    assert [r.code for r in example.rows] == [f"DB{i:03d}" for i in range(1, 81)]


def test_example_file_has_the_exact_group_counts_of_the_plan(example: ParsedDelegates) -> None:
    assert Counter(r.group_key for r in example.rows) == EXPECTED_COUNTS


def test_example_file_groups_written_as_labels_resolve_to_keys(example: ParsedDelegates) -> None:
    raw = EXAMPLE.read_text(encoding="utf-8")
    assert '"Chủ tịch Hội LHPN các quận, huyện, thị xã"' in raw
    assert all(r.group_key in EXPECTED_COUNTS for r in example.rows)


def test_example_file_has_one_chair_per_hanoi_district_in_rank_order(
    example: ParsedDelegates,
) -> None:
    chairs = [r for r in example.rows if r.group_key == "chu_tich_cap_huyen"]
    assert [r.organization for r in chairs] == [f"Hội LHPN {u}" for u in DISTRICT_UNITS]
    assert [r.rank for r in chairs] == list(range(1, 31))
    assert {r.position for r in chairs} == {"Chủ tịch"}


def test_example_file_ranks_start_at_one_within_each_group(example: ParsedDelegates) -> None:
    for key, count in EXPECTED_COUNTS.items():
        ranks = [r.rank for r in example.rows if r.group_key == key]
        assert ranks == list(range(1, count + 1)), key


def test_example_file_phones_are_unique_and_some_are_missing(example: ParsedDelegates) -> None:
    phones = [r.phone for r in example.rows if r.phone is not None]
    assert len(phones) == len(set(phones))
    assert 6 <= 80 - len(phones) <= 10
    assert all(normalize_phone(p) == p for p in phones)


def test_example_file_exercises_html_escaping_and_full_diacritics(
    example: ParsedDelegates,
) -> None:
    assert any("&" in r.organization for r in example.rows)
    assert all(r.full_name == unicodedata.normalize("NFC", r.full_name) for r in example.rows)
    assert len({r.full_name for r in example.rows}) == 80


# --- file-level problems -----------------------------------------------------------------------


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    result = parse(tmp_path / "absent.csv")
    assert result == ParsedDelegates([], [RowProblem(None, None, "file_not_found", None)], [])


@pytest.mark.parametrize("name", ["delegates.ods", "delegates.txt", "delegates"])
def test_other_extensions_are_unsupported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + GOOD, encoding="utf-8")
    problem = only_problem(parse(path))
    assert (problem.row, problem.column, problem.code) == (None, None, "unsupported_format")
    assert problem.value == (Path(name).suffix or None)


def test_extension_check_is_case_insensitive(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, GOOD, name="DELEGATES.CSV")
    assert parse(path).problems == []


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258: precomposed vowels (ê, ơ...) plus combining tone marks."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = b""
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        out += (base + "".join(c for c in decomposed if c in tones)).encode("cp1258")
    return out


def test_windows_vietnamese_cp1258_csv_is_not_utf8_from_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes(to_cp1258(HEADER + "\n" + GOOD))
    assert only_problem(parse(path)) == RowProblem(1, None, "not_utf8", None)


def test_csv_not_utf8_further_down_names_the_row_of_the_wrong_byte(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, GOOD)
    path.write_bytes(path.read_bytes() + b"\n" + to_cp1258(GOOD.replace("DB001", "DB002")))
    assert parse(path).problems == [RowProblem(3, None, "not_utf8", None)]


def test_latin1_csv_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes("Mã,Name\nDB001,Hélène".encode("latin-1"))
    assert only_problem(parse(path)).code == "not_utf8"


@pytest.mark.parametrize("content", [b"", b"   \n\n \r\n"])
def test_empty_csv_is_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes(content)
    assert only_problem(parse(path)) == RowProblem(None, None, "empty_file", None)


def test_csv_of_empty_cells_only_is_empty(tmp_path: Path) -> None:
    assert only_problem(parse(write_csv(tmp_path, ",,,", " , ,"))).code == "empty_file"


def test_xlsx_with_an_empty_sheet_is_empty(tmp_path: Path) -> None:
    assert only_problem(parse(write_xlsx(tmp_path, []))).code == "empty_file"


def test_corrupt_xlsx_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "delegates.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    assert only_problem(parse(path)) == RowProblem(None, None, "unreadable_file", None)


def test_csv_renamed_to_xlsx_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "delegates.xlsx"
    path.write_text(HEADER + "\n" + GOOD, encoding="utf-8")
    assert only_problem(parse(path)).code == "unreadable_file"


def test_header_without_data_rows_is_reported(tmp_path: Path) -> None:
    result = parse(write_csv(tmp_path, HEADER, ",,,,,,"))
    assert result.rows == []
    assert only_problem(result) == RowProblem(None, None, "no_rows", None)


def test_missing_required_columns_are_named_by_their_vietnamese_heading(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Mã,Họ và tên,Đơn vị", "DB001,Nguyễn Thị Lan,Sở Y tế")
    result = parse(path)
    assert result.rows == []
    assert result.problems == [
        RowProblem(None, "Chức vụ", "missing_column", None),
        RowProblem(None, "Nhóm", "group_column_without_roles", None),
    ]


def test_a_list_with_an_stt_and_no_code_column_is_told_what_code_to_add(tmp_path: Path) -> None:
    # A new office's own list: STT, name, position, unit, group, phone; no code.
    path = write_csv(
        tmp_path,
        "STT,Họ và tên,Chức vụ,Đơn vị,Nhóm,Số điện thoại",
        "1,Nguyễn Văn An,Phó Chủ tịch,UBND thành phố,bao_chi,0912345678",
    )
    result = parse(path)
    assert result.problems == [RowProblem(None, "Mã", "missing_code_column", None)]
    assert problem_line(load_catalog("vi"), "import.problem", result.problems[0]) == (
        "  - Cột «Mã»: thiếu cột bắt buộc. Mỗi người cần một mã riêng, không có dấu cách (ví dụ "
        "DB001, DB002…; người đầu mối NV01…), để bot nhận ra đúng người khi nhập lại danh sách đã "
        "sửa. Đề nghị thêm cột «Mã» và ghi mã cho từng người; không dùng số thứ tự (STT) làm mã, "
        "vì STT đổi khi thêm, bớt người."
    )


def test_missing_column_heading_is_the_canonical_vietnamese_one() -> None:
    assert CANONICAL_HEADINGS["full_name"] == "Họ và tên"


def test_heading_given_twice_is_a_duplicate_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + ",Code", GOOD + ",DB999")
    result = parse(path)
    assert result.problems == [RowProblem(1, "Code", "duplicate_column", None)]
    assert result.rows == []


def test_header_problems_do_not_hide_row_problems(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Mã,Họ và tên,Chức vụ,Đơn vị", "DB001,,Chủ tịch,Sở Y tế")
    assert parse(path).problems == [
        RowProblem(None, "Nhóm", "group_column_without_roles", None),
        RowProblem(2, "Họ và tên", "missing_value", None),
    ]


# --- row-level problems ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "heading"),
    [(0, "Mã"), (1, "Họ và tên"), (2, "Chức vụ"), (3, "Đơn vị"), (4, "Nhóm")],
)
def test_empty_required_value_is_missing_value(tmp_path: Path, index: int, heading: str) -> None:
    cells = GOOD.split(",")
    cells[index] = "  "
    result = parse(write_csv(tmp_path, HEADER, GOOD.replace("DB001", "DB000"), ",".join(cells)))
    assert only_problem(result) == RowProblem(3, heading, "missing_value", None)
    assert [r.row for r in result.rows] == [2]


def test_optional_phone_and_rank_may_be_empty(tmp_path: Path) -> None:
    line = "DB001,Nguyễn Thị Lan,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen,,"
    result = parse(write_csv(tmp_path, HEADER, line))
    assert result.problems == []
    assert (result.rows[0].phone, result.rows[0].rank) == (None, None)


def test_group_outside_the_plan_is_unknown(tmp_path: Path) -> None:
    line = GOOD.replace("chu_tich_cap_huyen", "khach_moi")
    assert only_problem(parse(write_csv(tmp_path, HEADER, line))) == RowProblem(
        2, "Nhóm", "unknown_group", "khach_moi"
    )


@pytest.mark.parametrize(
    "written",
    [
        "CHU_TICH_CAP_HUYEN",
        "Chủ tịch Hội LHPN các quận, huyện, thị xã",
        "chủ tịch hội lhpn các   quận,  huyện, thị xã",
        unicodedata.normalize("NFD", "Chủ tịch Hội LHPN các quận, huyện, thị xã"),
    ],
)
def test_group_matches_key_or_label_ignoring_case_spacing_and_unicode_form(
    tmp_path: Path, written: str
) -> None:
    line = GOOD.replace("chu_tich_cap_huyen", f'"{written}"')
    result = parse(write_csv(tmp_path, HEADER, line))
    assert result.problems == []
    assert result.rows[0].group_key == "chu_tich_cap_huyen"


def test_group_label_with_old_style_tone_placement_still_matches(tmp_path: Path) -> None:
    # "Thành uỷ" (old-style) vs "Thành ủy" (new-style) are the same word to the office.
    written = '"Lãnh đạo Thành uỷ, HĐND, UBND, Uỷ ban MTTQ Việt Nam thành phố"'
    line = GOOD.replace("chu_tich_cap_huyen", written)
    result = parse(write_csv(tmp_path, HEADER, line))
    assert result.problems == []
    assert result.rows[0].group_key == "lanh_dao_thanh_pho"


def test_implausible_phone_is_bad_phone(tmp_path: Path) -> None:
    line = GOOD.replace("0912 345 001", "0912 345")
    assert only_problem(parse(write_csv(tmp_path, HEADER, line))) == RowProblem(
        2, "Điện thoại", "bad_phone", "0912 345"
    )


@pytest.mark.parametrize(
    ("cell", "e164", "kept"),
    [
        ("0912.345.679 (Zalo)", "+84912345679", "0912.345.679"),
        ("0912345678 - 02438251234", "+84912345678", "0912345678"),
        ("0912345678/0987654321", "+84912345678", "0912345678"),
    ],
)
def test_phone_cell_with_a_note_or_two_numbers_keeps_the_first_and_says_so(
    tmp_path: Path, cell: str, e164: str, kept: str
) -> None:
    result = parse(write_xlsx(tmp_path, [HEADER.split(","),
                                         GOOD.replace("0912 345 001", cell).split(",")]))  # fmt: skip
    assert result.problems == []
    assert [r.phone for r in result.rows] == [e164]
    assert result.warnings == [RowProblem(2, "Điện thoại", "phone_first_kept", cell, kept)]


def test_one_odd_phone_cell_no_longer_holds_up_the_whole_list(tmp_path: Path) -> None:
    second = GOOD.replace("DB001", "DB002").replace("0912 345 001", '"0912.345.002 (Zalo)"')
    result = parse(write_csv(tmp_path, HEADER, GOOD, second))
    assert result.problems == []
    assert [(r.code, r.phone) for r in result.rows] == [
        ("DB001", "+84912345001"),
        ("DB002", "+84912345002"),
    ]


def test_phone_cell_with_no_plausible_number_is_still_bad_phone(tmp_path: Path) -> None:
    line = GOOD.replace("0912 345 001", "0912 345 / Zalo")
    result = parse(write_csv(tmp_path, HEADER, line))
    assert result.problems == [RowProblem(2, "Điện thoại", "bad_phone", "0912 345 / Zalo")]
    assert result.warnings == []


def test_phone_is_stored_normalised(tmp_path: Path) -> None:
    result = parse(write_csv(tmp_path, HEADER, GOOD))
    assert result.rows[0].phone == "+84912345001"


@pytest.mark.parametrize("rank", ["-1", "abc", "1.5", "một"])
def test_rank_that_is_not_a_non_negative_integer_is_bad_rank(tmp_path: Path, rank: str) -> None:
    line = GOOD.removesuffix(",1") + "," + rank
    assert only_problem(parse(write_csv(tmp_path, HEADER, line))) == RowProblem(
        2, "Thứ tự", "bad_rank", rank
    )


@pytest.mark.parametrize(("written", "rank"), [("0", 0), ("07", 7), ("3.0", 3)])
def test_whole_number_ranks_are_accepted(tmp_path: Path, written: str, rank: int) -> None:
    line = GOOD.removesuffix(",1") + "," + written
    result = parse(write_csv(tmp_path, HEADER, line))
    assert result.problems == []
    assert result.rows[0].rank == rank


def test_a_code_written_decomposed_is_stored_composed_and_repeats_the_same_code_composed(
    tmp_path: Path,
) -> None:
    """Pasted from Word or a PDF, "ĐB-Hòa" is "o" and a combining grave (NFD): it is the code
    the database holds composed (NFC), and the same code as "đb-hòa" written composed, as
    every lookup folds it (storage.models.fold_code)."""
    decomposed = unicodedata.normalize("NFD", "ĐB-Hòa")
    first = GOOD.replace("DB001", decomposed)
    second = GOOD.replace("Nguyễn Thị Lan", "Trần Thị Mai").replace("DB001", "đb-hòa")
    result = parse(write_csv(tmp_path, HEADER, first, second))
    assert [r.code for r in result.rows] == ["ĐB-Hòa"]
    assert result.rows[0].code == unicodedata.normalize("NFC", "ĐB-Hòa") != decomposed
    assert only_problem(result) == RowProblem(3, "Mã", "duplicate_code", "đb-hòa", "2")


def test_repeated_code_is_reported_on_the_later_row_naming_the_first(tmp_path: Path) -> None:
    second = GOOD.replace("Nguyễn Thị Lan", "Trần Thị Mai").replace("DB001", "db001")
    result = parse(write_csv(tmp_path, HEADER, GOOD, second))
    assert only_problem(result) == RowProblem(3, "Mã", "duplicate_code", "db001", "2")
    assert [r.row for r in result.rows] == [2]
    assert problem_line(load_catalog("vi"), "import.problem", only_problem(result)) == (
        '  - Dòng 3, cột «Mã»: mã "db001" trùng với mã ở dòng 2.'
    )


def test_a_phone_number_on_two_rows_is_a_warning_naming_the_first_row(tmp_path: Path) -> None:
    # Another person (a deputy) given the chair's number: the same phone, not the same person.
    twice = GOOD.replace("DB001", "DB081").replace("0912 345 001", "+84 912.345.001")
    twice = twice.replace("Nguyễn Thị Lan,Chủ tịch", "Trần Thị Hoa,Phó Chủ tịch")
    result = parse(write_csv(tmp_path, HEADER, GOOD, twice))
    assert result.problems == []  # both kept: two people may share an office's number
    assert [r.code for r in result.rows] == ["DB001", "DB081"]
    assert result.warnings == [RowProblem(3, "Điện thoại", "shared_phone", "+84 912.345.001", "2")]
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]).startswith(
        "  - Dòng 3, cột «Điện thoại»: số điện thoại «+84 912.345.001» trùng với số ở dòng 2"
    )


def test_one_person_under_two_codes_is_a_warning_naming_the_first_row_whatever_the_phones(
    tmp_path: Path,
) -> None:
    # Copied from two lists: the second row in capitals and without a phone.
    second = "DB020,NGUYỄN THỊ LAN,CHỦ TỊCH,HỘI LHPN QUẬN BA ĐÌNH,chu_tich_cap_huyen,,"
    other = GOOD.replace("DB001", "DB002").replace("Lan", "Lân").replace("345 001", "345 002")
    result = parse(write_csv(tmp_path, HEADER, GOOD, other, second))
    assert result.problems == []
    assert [r.code for r in result.rows] == ["DB001", "DB002", "DB020"]
    assert result.warnings == [
        RowProblem(4, None, "duplicate_person", "Nguyễn Thị Lan", "2"),
        RowProblem(None, "Họ và tên", "names_in_capitals", "1", "«NGUYỄN THỊ LAN» → «Nguyễn Thị Lan»"),
    ]  # fmt: skip
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 4: «Nguyễn Thị Lan» trùng họ tên, chức vụ và đơn vị với dòng 2: nếu là cùng một "
        "người được ghi hai lần, xin bỏ một dòng, để đồng chí ấy không nhận hai giấy mời và không "
        "bị tính hai lần vào sức chứa hội trường."
    )


def test_names_written_in_capitals_are_imported_in_title_case_and_the_summary_says_how_many(
    tmp_path: Path,
) -> None:
    # «Kính gửi đồng chí NGUYỄN VĂN AN» (s33 N11): a list in capitals reads shouted.
    lines = (
        "DB001,NGUYỄN VĂN AN,Phó Chủ tịch,UBND quận Long Biên,chu_tich_cap_huyen,,",
        "DB002,ĐỖ THỊ H'HEN NIÊ,Chánh Văn phòng,UBND quận Long Biên,chu_tich_cap_huyen,,",
        "DB003,Lê THỊ Hoa,Phó Chánh Văn phòng,UBND quận Long Biên,chu_tich_cap_huyen,,",
        "DB004,trần văn bình,Chuyên viên,UBND quận Long Biên,chu_tich_cap_huyen,,",
    )
    result = parse(write_csv(tmp_path, HEADER, *lines))
    assert result.problems == []
    # Only a name entirely in capitals is written anew; one with any small letter is as typed.
    assert [r.full_name for r in result.rows] == [
        "Nguyễn Văn An", "Đỗ Thị H'Hen Niê", "Lê THỊ Hoa", "trần văn bình"
    ]  # fmt: skip
    assert result.rows[0].position == "Phó Chủ tịch"  # only the name
    assert result.warnings == [
        RowProblem(None, "Họ và tên", "names_in_capitals", "2", "«NGUYỄN VĂN AN» → «Nguyễn Văn An»")
    ]  # fmt: skip
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Cột «Họ và tên»: 2 họ tên viết toàn chữ in hoa được ghi theo cách viết họ tên thông "
        "thường, viết hoa chữ cái đầu mỗi tiếng (ví dụ «NGUYỄN VĂN AN» → «Nguyễn Văn An»), như sẽ "
        "in trên giấy mời, phiếu và danh sách; họ tên có chữ thường được giữ nguyên như đã gõ. "
        "Nếu một họ tên cần viết khác, xin sửa trong tệp rồi nhập lại."
    )


def test_a_list_with_no_name_in_capitals_says_nothing_of_capitals(tmp_path: Path) -> None:
    result = parse(write_csv(tmp_path, HEADER, GOOD))
    assert [r.full_name for r in result.rows] == ["Nguyễn Thị Lan"]
    assert result.warnings == []


def test_one_person_twice_with_the_same_phone_is_said_once_as_the_same_person(
    tmp_path: Path,
) -> None:
    result = parse(write_csv(tmp_path, HEADER, GOOD, GOOD.replace("DB001", "DB020")))
    assert [(w.row, w.code) for w in result.warnings] == [(3, "duplicate_person")]


def test_cell_longer_than_200_chars_is_too_long_and_value_is_truncated(tmp_path: Path) -> None:
    long_position = "Phó Chủ tịch " * 20
    line = GOOD.replace("Chủ tịch", long_position.strip(), 1)
    problem = only_problem(parse(write_csv(tmp_path, HEADER, line)))
    assert (problem.row, problem.column, problem.code) == (2, "Chức vụ", "too_long")
    assert problem.value is not None
    assert len(problem.value) == 60
    assert long_position.startswith(problem.value.removesuffix("…"))


def test_cell_of_exactly_200_chars_is_accepted(tmp_path: Path) -> None:
    line = GOOD.replace("Chủ tịch", "x" * MAX_CELL_CHARS, 1)
    assert parse(write_csv(tmp_path, HEADER, line)).problems == []


@pytest.mark.parametrize("code", ["DB 001", "DB\t001", "D" * 33])
def test_code_with_whitespace_or_over_32_chars_is_bad_code(tmp_path: Path, code: str) -> None:
    line = GOOD.replace("DB001", f'"{code}"')
    assert only_problem(parse(write_csv(tmp_path, HEADER, line))) == RowProblem(
        2, "Mã", "bad_code", code
    )


def test_code_of_32_chars_is_accepted(tmp_path: Path) -> None:
    line = GOOD.replace("DB001", "D" * 32)
    assert parse(write_csv(tmp_path, HEADER, line)).problems == []


def test_problem_column_is_the_heading_as_written_in_the_file(tmp_path: Path) -> None:
    header = " MÃ , họ tên ,Chức Vụ,ĐƠN VỊ, nhóm ,SĐT,thứ tự"
    line = GOOD.replace("chu_tich_cap_huyen", "khach_moi")
    assert only_problem(parse(write_csv(tmp_path, header, line))) == RowProblem(
        2, "nhóm", "unknown_group", "khach_moi"
    )


def test_all_problems_in_the_file_are_reported_at_once(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        GOOD,
        "DB001,,Chủ tịch,Hội LHPN quận Tây Hồ,khach_moi,12345,x",
        "",
        "DB 003,Lê Thị Hoa,Chủ tịch,Hội LHPN quận Long Biên,chu_tich_cap_huyen,0912 345 003,3",
    )
    result = parse(path)
    assert result.problems == [
        RowProblem(3, "Họ và tên", "missing_value", None),
        RowProblem(3, "Mã", "duplicate_code", "DB001", "2"),
        RowProblem(3, "Nhóm", "unknown_group", "khach_moi"),
        RowProblem(3, "Điện thoại", "bad_phone", "12345"),
        RowProblem(3, "Thứ tự", "bad_rank", "x"),
        RowProblem(5, "Mã", "bad_code", "DB 003"),
    ]
    assert [r.row for r in result.rows] == [2]


# --- formats, headings, normalisation ------------------------------------------------------------


def test_csv_with_and_without_bom_parse_identically(tmp_path: Path) -> None:
    plain = parse(write_csv(tmp_path, HEADER, GOOD, name="plain.csv"))
    with_bom = parse(write_csv(tmp_path, HEADER, GOOD, name="bom.csv", bom=True))
    assert plain == with_bom
    assert plain.problems == []
    assert plain.rows[0].code == "DB001"


def test_semicolon_delimited_csv_as_saved_by_european_excel(tmp_path: Path) -> None:
    header = HEADER.replace(",", ";")
    line = (
        "DB001;Nguyễn Thị Lan;Chủ tịch;Hội LHPN quận Ba Đình;"
        "Chủ tịch Hội LHPN các quận, huyện, thị xã;0912 345 001;1"
    )
    result = parse(write_csv(tmp_path, header, line))
    assert result.problems == []
    assert result.rows[0].group_key == "chu_tich_cap_huyen"
    assert result.rows[0].organization == "Hội LHPN quận Ba Đình"


def test_tab_delimited_csv(tmp_path: Path) -> None:
    result = parse(write_csv(tmp_path, HEADER.replace(",", "\t"), GOOD.replace(",", "\t")))
    assert result.problems == []
    assert len(result.rows) == 1


def test_utf16_csv_from_excel_unicode_text_export(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes(("\n".join([HEADER, GOOD]).replace(",", "\t")).encode("utf-16"))
    assert parse(path).problems == []


def test_english_headings_and_stt_serial_column_is_known_not_rank_nor_an_ignored_column(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path,
        "STT,Code,Full name,Position,Organisation,Group,Phone,Rank,Notes",
        "1,DB001,Nguyễn Thị Lan,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen,,5,VIP",
    )
    result = parse(path)
    assert result.problems == []
    assert result.ignored_columns == ["Notes"]
    assert result.rows == [
        DelegateRow(
            row=2,
            code="DB001",
            full_name="Nguyễn Thị Lan",
            position="Chủ tịch",
            organization="Hội LHPN quận Ba Đình",
            group_key="chu_tich_cap_huyen",
            phone=None,
            rank=5,
        )
    ]


@pytest.mark.parametrize(
    "header",
    [
        "code,full_name,position,unit,group,phone,rank",
        "ma,name,position,organization,group,số điện thoại,rank",
        "Mã,Họ tên,Chức vụ,Đơn vị,Nhóm,sđt,Thứ tự",
        unicodedata.normalize("NFD", HEADER),
    ],
)
def test_heading_synonyms_are_recognised(tmp_path: Path, header: str) -> None:
    result = parse(write_csv(tmp_path, header, GOOD))
    assert result.problems == []
    assert result.ignored_columns == []
    assert result.rows[0].phone == "+84912345001"
    assert result.rows[0].rank == 1


@pytest.mark.parametrize(
    "header",
    [
        "STT,Mã đại biểu,Họ và tên,Chức danh,Cơ quan,Thành phần,Di động,Thứ tự",
        'TT,Mã số,Họ tên đại biểu,Chức vụ/Chức danh,"Cơ quan, đơn vị",Nhóm đại biểu,SĐT,Thứ tự',
        "Số TT,Mã ĐB,HỌ VÀ TÊN,CHỨC VỤ,ĐƠN VỊ CÔNG TÁC,ĐỐI TƯỢNG,Số điện thoại,THỨ TỰ",
        "stt,ma,ho ten,chuc danh,co quan,thanh phan,dien thoai,thu tu",
        "Số thứ tự, Mã (*) ,  Họ   và  tên ,Chức vụ:,Nơi công tác,Thành phần đại biểu,ĐTDĐ,Thứ tự",
        "STT,Mã,Họ và tên,Chức vụ - chức danh,Đơn vị; cơ quan,Nhóm,Điện thoại di động,Thứ tự",
        "STT,Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại (di động),Thứ tự (ưu tiên)",
    ],
)
def test_headings_offices_really_write_are_recognised(tmp_path: Path, header: str) -> None:
    result = parse(write_csv(tmp_path, header, "1," + GOOD))
    assert result.problems == []
    assert result.ignored_columns == []
    assert result.rows[0] == DelegateRow(
        row=2,
        code="DB001",
        full_name="Nguyễn Thị Lan",
        position="Chủ tịch",
        organization="Hội LHPN quận Ba Đình",
        group_key="chu_tich_cap_huyen",
        phone="+84912345001",
        rank=1,
    )


@pytest.mark.parametrize(
    "numbers",
    [
        "(1),(2),(3),(4),(5),(6),(7),(8)",
        "1,2,3,4,5,6,7,8",
        "[1],[2],[3],[4],[5],[6],[7],[8]",
        "(A),(B),(1),(2),(3),(4),(5),(6)",
    ],
)
def test_row_of_column_numbers_under_the_headings_is_not_a_delegate(
    tmp_path: Path, numbers: str
) -> None:
    path = write_csv(tmp_path, "STT," + HEADER, numbers, "1," + GOOD)
    result = parse(path)
    assert result.problems == []
    assert [r.row for r in result.rows] == [3]


def test_a_second_heading_row_under_merged_headings_is_skipped_with_a_note(tmp_path: Path) -> None:
    # «Điện thoại» merged over «Di động» / «Cố định»; the other headings merged down two rows.
    lan = ["DB001", "Nguyễn Thị Lan", "Chủ tịch", "Hội LHPN quận Ba Đình", "chu_tich_cap_huyen"]
    path = write_xlsx(
        tmp_path,
        [
            ["DANH SÁCH ĐẠI BIỂU"],
            ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Thành phần", "Điện thoại"],
            [None, None, None, None, None, None, "Di động", "Cố định"],
            [1, *lan, "0912 345 001", "024 3825 1234"],
        ],
    )
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    sheet.merge_cells("G2:H2")
    for column in "ABCDEF":
        sheet.merge_cells(f"{column}2:{column}3")
    workbook.save(path)

    result = parse(path)
    assert result.problems == []
    assert [(r.row, r.code, r.phone) for r in result.rows] == [(4, "DB001", "+84912345001")]
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 3: dòng này nằm ngay dưới dòng tiêu đề, chỉ có chữ («Di động», «Cố định») và "
        "để trống các cột Mã, Họ và tên…, nên được coi là dòng tiêu đề thứ hai (tiêu đề gộp ô) "
        "và không nhập; các cột được đọc theo tiêu đề ở dòng 2. Nếu đây là một người trong danh "
        "sách, xin điền đủ các cột rồi nhập lại."
    )


def test_group_heading_and_total_rows_of_an_office_list_are_skipped_with_a_note(
    tmp_path: Path,
) -> None:
    # The way offices keep a list: a Roman-numbered heading row before each group and a total
    # at the bottom, with nothing in the code, position, unit or phone columns.
    path = write_xlsx(
        tmp_path,
        [
            ["DANH SÁCH ĐẠI BIỂU MỜI"],
            ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Thành phần", "Số điện thoại"],
            ["I", None, "LÃNH ĐẠO THÀNH PHỐ"],
            [1, "DB001", "Nguyễn Văn An", "Phó Chủ tịch", "UBND thành phố", "bao_chi"],
            ["II", None, "CHỦ TỊCH HỘI LHPN CÁC QUẬN, HUYỆN"],
            [2, "DB002", *GOOD.split(",")[1:5]],
            # A count in a column the import does not read leaves it a total row.
            [None, None, "Tổng cộng: 02 đại biểu", None, None, None, None, "02 người"],
        ],
    )
    result = parse(path)
    assert result.problems == []
    assert [(r.row, r.code) for r in result.rows] == [(4, "DB001"), (6, "DB002")]
    assert [(w.row, w.code, w.value) for w in result.warnings] == [
        (3, "section_row_skipped", "LÃNH ĐẠO THÀNH PHỐ"),
        (5, "section_row_skipped", "CHỦ TỊCH HỘI LHPN CÁC QUẬN, HUYỆN"),
        (7, "section_row_skipped", "Tổng cộng: 02 đại biểu"),
    ]
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 3: dòng này chỉ có chữ «LÃNH ĐẠO THÀNH PHỐ», không có mã, chức vụ, đơn vị hay "
        "số điện thoại, nên được coi là dòng tiêu đề nhóm hoặc dòng tổng cộng của danh sách và "
        "không nhập (không cần xoá). Nếu đây là một người trong danh sách, xin điền đủ các cột "
        "rồi nhập lại."
    )


def test_a_group_heading_naming_a_plan_group_gives_it_to_the_rows_under_it_without_one(
    tmp_path: Path,
) -> None:
    # «I | PHÓNG VIÊN CÁC CƠ QUAN BÁO CHÍ» over rows whose «Nhóm» is left empty: the heading
    # says their group, as a «Nhóm» cell would (by label, in capitals, numbered in the cell).
    path = write_xlsx(
        tmp_path,
        [
            ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Nhóm"],
            ["I", None, "PHÓNG VIÊN CÁC CƠ QUAN BÁO CHÍ"],
            [1, "DB001", "Nguyễn Văn An", "Phóng viên", "Báo Hà Nội mới"],
            [2, "DB002", "Trần Thị Bình", "Phó Chủ tịch", "Hội LHPN quận", "ban_thuong_vu"],
            [3, "DB003", "Lê Văn Cường", "Phóng viên", "Đài PT-TH Hà Nội"],
            [None, None, "II. Ban Thường vụ Hội LHPN thành phố"],
            [4, "DB004", "Phạm Thị Dung", "Ủy viên", "Hội LHPN thành phố"],
            [None, None, "Tổng cộng: 04 đại biểu"],
        ],
    )
    result = parse(path)
    assert result.problems == []
    assert [(r.code, r.group_key) for r in result.rows] == [
        ("DB001", "bao_chi"), ("DB002", "ban_thuong_vu"), ("DB003", "bao_chi"),
        ("DB004", "ban_thuong_vu"),
    ]  # fmt: skip
    assert [(w.row, w.code, w.value, w.detail) for w in result.warnings] == [
        (2, "group_from_heading", "PHÓNG VIÊN CÁC CƠ QUAN BÁO CHÍ", "2"),
        (6, "group_from_heading", "II. Ban Thường vụ Hội LHPN thành phố", "1"),
        (8, "section_row_skipped", "Tổng cộng: 04 đại biểu", None),
    ]
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 2: dòng «PHÓNG VIÊN CÁC CƠ QUAN BÁO CHÍ» là dòng tiêu đề nhóm nên không nhập; "
        "dòng này ứng với nhóm «Phóng viên các cơ quan báo chí» của kế hoạch, nên 2 người ghi "
        "dưới dòng này (đến dòng tiêu đề kế tiếp) chưa ghi nhóm (ô «Nhóm» trống hoặc danh sách không có cột «Nhóm») được xếp "
        "vào nhóm đó. Người đã ghi nhóm giữ nhóm của mình."
    )


def test_a_heading_naming_no_plan_group_gives_nothing_ends_the_one_above_and_lists_the_groups(
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path,
        [
            ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Nhóm"],
            ["I", None, "PHÓNG VIÊN CÁC CƠ QUAN BÁO CHÍ"],
            [1, "DB001", "Nguyễn Văn An", "Phóng viên", "Báo Hà Nội mới"],
            ["II", None, "KHÁCH MỜI"],
            [2, "DB002", "Trần Thị Bình", "Phó Chủ tịch", "Hội LHPN quận"],
        ],
    )
    result = parse(path)
    assert [(p.row, p.column, p.code) for p in result.problems] == [(5, "Nhóm", "missing_value")]
    assert [(w.row, w.code, w.detail) for w in result.warnings] == [
        (2, "group_from_heading", "1"), (4, "heading_names_no_group", "1")
    ]  # fmt: skip
    # The heading's note says which groups the plan has, to write one of them over the rows.
    groups = ", ".join(f"«{g.label}»" for g in GROUPS)
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[1]) == (
        "  - Dòng 4: dòng «KHÁCH MỜI» là dòng tiêu đề nhóm nên không nhập; dòng này không ứng với "
        "nhóm nào của kế hoạch, nên chưa xếp được nhóm cho 1 đại biểu ghi dưới dòng này mà chưa "
        f"ghi nhóm. Các nhóm của kế hoạch: {groups}. Đề nghị sửa dòng tiêu đề theo tên một nhóm "
        "(chỉ cần những chữ có trong tên của riêng nhóm đó, ví dụ phần đầu tên nhóm), hoặc ghi "
        "nhóm vào cột «Nhóm» cho từng người."
    )


def test_a_heading_whose_words_are_in_one_group_label_alone_gives_that_group(
    tmp_path: Path,
) -> None:
    # «THƯỜNG TRỰC QUẬN» over «Thường trực Quận ủy, HĐND, UBND quận»: an office shortens the
    # plan's label in its own list. Every word of the heading, case and diacritics aside, in
    # one group's label and in no other's names that group, and the note says which.
    path = write_xlsx(
        tmp_path,
        [
            ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị"],
            [None, None, "I. BÁO CHÍ"],
            [1, "DB001", "Nguyễn Văn An", "Phóng viên", "Báo Hà Nội mới"],
            ["II", None, "Ban thường vụ"],
            [2, "DB002", "Trần Thị Bình", "Ủy viên", "Hội LHPN thành phố"],
            ["III", None, "CHỦ TỊCH HỘI CÁC QUẬN, HUYỆN"],
            [3, "DB003", "Lê Văn Cường", "Chủ tịch", "Hội LHPN quận Ba Đình"],
        ],
    )
    result = parse(path)
    assert result.problems == []
    assert [(r.code, r.group_key) for r in result.rows] == [
        ("DB001", "bao_chi"), ("DB002", "ban_thuong_vu"), ("DB003", "chu_tich_cap_huyen")
    ]  # fmt: skip
    assert [(w.row, w.code, w.groups) for w in result.warnings] == [
        (2, "group_from_heading", "«Phóng viên các cơ quan báo chí»"),
        (4, "group_from_heading", "«Ban Thường vụ Hội LHPN thành phố»"),
        (6, "group_from_heading", "«Chủ tịch Hội LHPN các quận, huyện, thị xã»"),
    ]
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 2: dòng «I. BÁO CHÍ» là dòng tiêu đề nhóm nên không nhập; dòng này ứng với "
        "nhóm «Phóng viên các cơ quan báo chí» của kế hoạch, nên 1 người ghi dưới dòng này (đến "
        "dòng tiêu đề kế tiếp) chưa ghi nhóm (ô «Nhóm» trống hoặc danh sách không có cột «Nhóm») "
        "được xếp vào nhóm đó. Người đã ghi nhóm giữ nhóm của mình."
    )


def test_a_heading_whose_words_are_in_two_group_labels_gives_neither_and_names_both(
    tmp_path: Path,
) -> None:
    # «LÃNH ĐẠO THÀNH PHỐ» is in «Lãnh đạo Thành ủy, …, thành phố» and in «Đại diện lãnh đạo
    # các ban, sở, ngành, đoàn thể thành phố»: never a guess between two groups.
    path = write_xlsx(
        tmp_path,
        [
            ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị"],
            ["I", None, "LÃNH ĐẠO THÀNH PHỐ"],
            [1, "DB001", "Nguyễn Văn An", "Phó Chủ tịch", "UBND thành phố"],
            ["II", None, "BÁO CHÍ"],
            [2, "DB002", "Trần Thị Bình", "Phóng viên", "Báo Hà Nội mới"],
        ],
    )
    result = parse(path)
    assert [(p.column, p.code, p.value) for p in result.problems] == [
        ("Nhóm", "group_column_under_no_heading", "3")
    ]
    assert [(w.row, w.code, w.detail) for w in result.warnings] == [
        (2, "heading_names_several_groups", "1"), (4, "group_from_heading", "1")
    ]  # fmt: skip
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 2: dòng «LÃNH ĐẠO THÀNH PHỐ» là dòng tiêu đề nhóm nên không nhập; những chữ "
        "của dòng này có trong tên nhiều nhóm của kế hoạch («Lãnh đạo Thành ủy, HĐND, UBND, Ủy "
        "ban MTTQ Việt Nam thành phố», «Đại diện lãnh đạo các ban, sở, ngành, đoàn thể thành "
        "phố»), bot không tự chọn một nhóm, nên chưa xếp được nhóm cho 1 đại biểu ghi dưới dòng "
        "này mà chưa ghi nhóm. Đề nghị sửa dòng tiêu đề theo đúng tên một trong các nhóm đó, "
        "hoặc ghi nhóm vào cột «Nhóm» cho từng người."
    )


def test_a_name_alone_in_capitals_is_skipped_as_a_heading_with_how_to_import_her(
    tmp_path: Path,
) -> None:
    # «NGUYỄN VĂN AN» alone in a row reads as «KHÁCH MỜI» does, and nothing on the row tells
    # them apart (a name's shape is no safe sign): the note says how to import her if it is her.
    result = parse(write_csv(tmp_path, HEADER, GOOD, ",NGUYỄN VĂN AN,,,,,"))
    assert result.problems == []
    assert [(w.row, w.code, w.value) for w in result.warnings] == [
        (3, "capitals_row_skipped", "NGUYỄN VĂN AN")
    ]
    assert problem_line(load_catalog("vi"), "import.warning", result.warnings[0]) == (
        "  - Dòng 3: dòng này chỉ có chữ in hoa «NGUYỄN VĂN AN», không có mã, chức vụ, đơn vị "
        "hay số điện thoại, nên được coi là dòng tiêu đề nhóm và không nhập. Nếu đây là tên "
        "người, đề nghị thêm mã cho người đó (mã riêng, ví dụ DB001) cùng chức vụ, đơn vị rồi "
        "nhập lại: dòng có mã được nhập là một người."
    )
    # With a code she is a person, told what else to fill in.
    result = parse(write_csv(tmp_path, HEADER, GOOD, "DB002,NGUYỄN VĂN AN,,,,,"))
    assert [(p.row, p.column, p.code) for p in result.problems] == [
        (3, "Chức vụ", "missing_value"),
        (3, "Đơn vị", "missing_value"),
        (3, "Nhóm", "missing_value"),
    ]


def test_a_list_without_a_group_column_takes_its_groups_from_its_heading_rows(
    tmp_path: Path,
) -> None:
    # An office's own list has no «Nhóm» column: its heading rows say the groups.
    rows: list[list[object]] = [
        ["STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị"],
        ["I", None, "Phóng viên các cơ quan báo chí"],
        [1, "DB001", "Nguyễn Văn An", "Phóng viên", "Báo Hà Nội mới"],
        ["II", None, "BAN THƯỜNG VỤ HỘI LHPN THÀNH PHỐ"],
        [2, "DB002", "Trần Thị Bình", "Ủy viên", "Hội LHPN thành phố"],
    ]
    result = parse(write_xlsx(tmp_path, rows))
    assert result.problems == []
    assert [(r.code, r.group_key) for r in result.rows] == [
        ("DB001", "bao_chi"), ("DB002", "ban_thuong_vu")
    ]  # fmt: skip
    # The groups are the list's: an import does not keep the ones stored before.
    assert "group_key" not in result.absent
    # A row under no heading naming a group: the column is missing for that row, named.
    rows.insert(1, [1, "DB009", "Lê Văn Cường", "Phóng viên", "Báo Hà Nội mới"])
    result = parse(write_xlsx(tmp_path, rows))
    assert [(p.row, p.column, p.code, p.value) for p in result.problems] == [
        (None, "Nhóm", "group_column_under_no_heading", "2")
    ]
    assert problem_line(load_catalog("vi"), "import.problem", result.problems[0]) == (
        "  - Cột «Nhóm»: thiếu cột này: các dòng tiêu đề nhóm đã ghi nhóm cho những người nằm "
        "dưới chúng, nhưng dòng 2 nằm dưới một dòng tiêu đề không ứng với nhóm nào của kế "
        "hoạch (hoặc không có dòng tiêu đề nào phía trên). Đề nghị sửa dòng tiêu đề phía trên "
        "cho đúng tên nhóm trong kế hoạch (xem `hoinghi check`), hoặc thêm cột «Nhóm» và ghi "
        "nhóm cho các dòng đó."
    )


@pytest.mark.parametrize(
    ("lines", "missing"),
    [
        # STT 2 says it is the second person, whose details are still to be typed.
        pytest.param(
            ("STT," + HEADER, "1," + GOOD, "2,,Trần Thị Bình,,,,,"),
            ("Mã", "Chức vụ", "Đơn vị", "Nhóm"),
            id="numbered",
        ),
        # A list with no STT column (the plan's own template): a late invitee whose code,
        # position and unit are still to be typed. A heading or a total writes its words in one
        # cell; a name and a group is a person.
        pytest.param(
            (HEADER, GOOD, ",Trần Thị Bình,,,chu_tich_cap_huyen,,"),
            ("Mã", "Chức vụ", "Đơn vị"),
            id="with-her-group",
        ),
        # A list with no STT column: a late invitee typed with her name only. A heading is
        # numbered («I», «II.»), written in capitals, a total («Tổng cộng…») or a plan group's
        # name; «Trần Thị Bình» is none of these.
        pytest.param(
            (HEADER, GOOD, ",Trần Thị Bình,,,,,"),
            ("Mã", "Chức vụ", "Đơn vị", "Nhóm"),
            id="name-alone",
        ),
    ],
)
def test_a_row_with_a_name_and_no_code_yet_is_a_person_to_complete_not_a_heading(
    tmp_path: Path, lines: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    # Refused as a person, told what to fill in: refusing her loses nothing, skipping her
    # (imported without her) would.
    result = parse(write_csv(tmp_path, *lines))
    assert [(p.row, p.column, p.code) for p in result.problems] == [
        (3, column, "missing_value") for column in missing
    ]
    assert result.warnings == []


@pytest.mark.parametrize(
    ("words", "note"),
    [
        ("KHÁCH MỜI", "capitals_row_skipped"),
        ("II. Khách mời", "section_row_skipped"),
        ("Tổng cộng: 01 đại biểu", "section_row_skipped"),
        ("Phóng viên các cơ quan báo chí", "section_row_skipped"),
    ],
)
def test_words_alone_written_as_headings_are_skipped_with_a_note(
    tmp_path: Path, words: str, note: str
) -> None:
    # Where a name alone is a person, what offices write over or under their people is not.
    result = parse(write_csv(tmp_path, HEADER, GOOD, f",{words},,,,,"))
    assert result.problems == []
    assert [(w.row, w.code, w.value) for w in result.warnings] == [(3, note, words)]


def test_a_row_with_a_number_under_the_headings_is_a_person_not_a_heading(tmp_path: Path) -> None:
    # Someone whose code, name… are still to be typed: told, not skipped.
    result = parse(write_csv(tmp_path, HEADER, ",,,,,0912 345 999,", GOOD))
    assert [p.code for p in result.problems] == ["missing_value"] * 5
    assert {p.row for p in result.problems} == {2}
    assert result.warnings == []


def test_xlsx_of_an_office_title_blank_rows_headings_and_numbering(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        [
            ["HỘI LHPN THÀNH PHỐ HÀ NỘI", None, None, "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"],
            [],
            [None, "DANH SÁCH ĐẠI BIỂU DỰ HỘI NGHỊ SƠ KẾT GIỮA NHIỆM KỲ"],
            [],
            ["STT", "Họ và tên", "Chức danh", "Cơ quan", "Thành phần", "Điện thoại", "Mã"],
            ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)"],
            [1, "Nguyễn Thị Lan", "Chủ tịch", "Hội LHPN quận Ba Đình", "chu_tich_cap_huyen",
             "0912345001", "DB001"],
        ],
    )  # fmt: skip
    result = parse(path)
    assert result.problems == []
    assert [(r.row, r.code, r.position, r.organization) for r in result.rows] == [
        (7, "DB001", "Chủ tịch", "Hội LHPN quận Ba Đình")
    ]


def test_only_the_row_right_under_the_headings_can_be_a_numbering_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, GOOD, "1,2,3,4,5,6,7")
    result = parse(path)
    assert [r.row for r in result.rows] == [2]
    assert RowProblem(3, "Nhóm", "unknown_group", "5") in result.problems


def test_values_are_nfc_normalised_and_whitespace_collapsed(tmp_path: Path) -> None:
    nfd_name = unicodedata.normalize("NFD", "  Nguyễn   Thị\u00a0 Lan ")
    line = f'DB001,{nfd_name},"Phó Chủ tịch\nThường trực", Sở Y tế ,bao_chi,,'
    row = parse(write_csv(tmp_path, HEADER, line)).rows[0]
    assert row.full_name == "Nguyễn Thị Lan"
    assert row.position == "Phó Chủ tịch Thường trực"
    assert row.organization == "Sở Y tế"


def test_blank_csv_lines_keep_excel_row_numbers(tmp_path: Path) -> None:
    second = GOOD.replace("DB001", "DB002").replace("0912 345 001", "bad")
    path = write_csv(tmp_path, HEADER, GOOD, "", ",,,,,,", "", second)
    result = parse(path)
    assert [r.row for r in result.rows] == [2]
    assert only_problem(result) == RowProblem(6, "Điện thoại", "bad_phone", "bad")


def test_multi_line_cell_counts_as_one_excel_row(tmp_path: Path) -> None:
    first = GOOD.replace("Chủ tịch,", '"Chủ tịch\nHội LHPN",', 1)
    second = GOOD.replace("DB001", "DB002").replace("chu_tich_cap_huyen", "nope")
    result = parse(write_csv(tmp_path, HEADER, first, second))
    assert only_problem(result) == RowProblem(3, "Nhóm", "unknown_group", "nope")


def test_rows_with_only_a_serial_number_are_skipped(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "STT," + HEADER, "1," + GOOD, "2,,,,,,,", "3,,,,,,,")
    result = parse(path)
    assert result.problems == []
    assert len(result.rows) == 1


def test_title_rows_above_the_heading_are_skipped_and_rows_keep_excel_numbers(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path,
        "DANH SÁCH ĐẠI BIỂU,,,,,,",
        '"Hội nghị sơ kết giữa nhiệm kỳ, Kế hoạch 60/KH-BTV",,,,,,',
        ",,,,,,",
        HEADER,
        GOOD,
        GOOD.replace("DB001", "DB002").replace("0912 345 001", "x"),
    )
    result = parse(path)
    assert [r.row for r in result.rows] == [5]
    assert only_problem(result) == RowProblem(6, "Điện thoại", "bad_phone", "x")


def test_xlsx_numeric_codes_phones_and_ranks_are_read_as_excel_shows_them(
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path,
        [
            HEADER.split(","),
            [12, "Nguyễn Thị Lan", "Chủ tịch", "Hội LHPN quận Ba Đình", "chu_tich_cap_huyen",
             912345678, 3.0],
            [13.0, "Trần Thị Mai", "Chủ tịch", "Hội LHPN quận Tây Hồ", "chu_tich_cap_huyen",
             2438251234, 4],
            [14, "Lê Thị Hoa", "Chủ tịch", "Hội LHPN quận Long Biên", "chu_tich_cap_huyen",
             "+84 912 345 679", 2.5],
        ],
    )  # fmt: skip
    result = parse(path)
    assert [(r.code, r.phone, r.rank) for r in result.rows] == [
        ("12", "+84912345678", 3),
        ("13", "+842438251234", 4),
    ]
    assert result.problems == [RowProblem(4, "Thứ tự", "bad_rank", "2.5")]


def test_a_date_in_the_rank_column_is_reported_by_row_and_column_not_read_as_its_serial(
    tmp_path: Path,
) -> None:
    # Excel turns a rank typed "1.1" into 1/1 of this year, stored as 46388: the delegate fell
    # silently to the end of the protocol order.
    lan, mai, hoa, cuc = (
        [f"DB00{n}", name, "Chủ tịch", "Hội LHPN quận Ba Đình", "chu_tich_cap_huyen", None]
        for n, name in enumerate(["Nguyễn Thị Lan", "Trần Thị Mai", "Lê Thị Hoa", "Đỗ Thị Cúc"], 1)
    )
    path = write_xlsx(
        tmp_path,
        [
            HEADER.split(","),
            [*lan, datetime(2027, 1, 1)],
            [*mai, time(8, 30)],
            [*hoa, 46388],  # a number in a number format: a rank, however large
            [*cuc, datetime(2027, 1, 1)],
        ],
    )
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    sheet["G5"].number_format = "[$-42A]dd/mm/yyyy hh:mm"  # a custom date format
    sheet["G5"].value = datetime(2027, 3, 8, 14, 5)
    workbook.save(path)

    result = parse(path)
    assert [(r.code, r.rank) for r in result.rows] == [("DB003", 46388)]
    assert result.problems == [
        RowProblem(2, "Thứ tự", "rank_is_date", "1/1/2027"),
        RowProblem(3, "Thứ tự", "rank_is_date", "08:30"),
        RowProblem(5, "Thứ tự", "rank_is_date", "8/3/2027 14:05"),
    ]
    assert problem_line(load_catalog("vi"), "import.problem", result.problems[0]) == (
        '  - Dòng 2, cột «Thứ tự»: ô thứ tự ghi ngày tháng "1/1/2027", không phải một số (Excel tự '
        "đổi số gõ dạng «1.1» hoặc «1/1» thành ngày). Đề nghị định dạng ô là Số (Number) hoặc "
        "Văn bản (Text) rồi gõ lại thứ tự bằng số nguyên không âm."
    )
    # The same list saved as CSV by Excel says the date as it shows it.
    csv_path = write_csv(tmp_path, HEADER, GOOD.removesuffix(",1") + ",01/01/2027")
    assert only_problem(parse(csv_path)) == RowProblem(2, "Thứ tự", "rank_is_date", "01/01/2027")


def test_xlsx_blank_rows_keep_excel_row_numbers(tmp_path: Path) -> None:
    good = GOOD.split(",")
    bad = [*good[:4], "khach_moi", "", ""]
    bad[0] = "DB002"
    path = write_xlsx(tmp_path, [HEADER.split(","), good, [], [None, None], bad])
    result = parse(path)
    assert [r.row for r in result.rows] == [2]
    assert only_problem(result) == RowProblem(5, "Nhóm", "unknown_group", "khach_moi")


def test_xlsx_reads_the_first_worksheet_even_if_another_is_active(tmp_path: Path) -> None:
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    for row in (HEADER.split(","), GOOD.split(",")):
        first.append(row)
    other = workbook.create_sheet("Ghi chú")
    other.append(["nothing to see"])
    workbook.active = 1
    path = tmp_path / "delegates.XLSX"
    workbook.save(path)
    result = parse(path)
    assert result.problems == []
    assert [r.code for r in result.rows] == ["DB001"]


def test_xlsx_reports_several_problems_with_headings_as_written(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        [
            ["Code", "Name", "Position", "Unit", "Group", "Phone"],
            ["A 1", "Lan", "Chủ tịch", "Sở Y tế", "bao_chi", "0912"],
            ["A2", None, "Chủ tịch", "Sở Y tế", "bao_chi", None],
        ],
    )
    assert parse(path).problems == [
        RowProblem(2, "Code", "bad_code", "A 1"),
        RowProblem(2, "Phone", "bad_phone", "0912"),
        RowProblem(3, "Name", "missing_value", None),
    ]


def test_xlsx_with_a_wrong_dimension_record_is_still_read_in_full(tmp_path: Path) -> None:
    # Some generators write <dimension ref="A1"/>; read-only openpyxl would trust it.
    source = write_xlsx(tmp_path, [HEADER.split(","), GOOD.split(",")], name="source.xlsx")
    path = tmp_path / "delegates.xlsx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as damaged:
        for item in original.infolist():
            data = original.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
            damaged.writestr(item, data)
    result = parse(path)
    assert result.problems == []
    assert [r.code for r in result.rows] == ["DB001"]


def test_file_with_more_rows_than_the_limit_is_refused_at_the_first_row_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.delegate_file.MAX_DATA_ROWS", 2)
    lines = [GOOD.replace("DB001", f"DB00{i}") for i in range(1, 4)]
    result = parse(write_csv(tmp_path, HEADER, *lines))
    assert result.problems == [RowProblem(4, None, "too_many_rows", "2")]


def test_a_list_of_ten_thousand_reads_as_one_file_and_one_row_more_is_refused(
    tmp_path: Path,
) -> None:
    lines = [
        f"DB{n:05d},Nguyễn Thị Lan {n},Chủ tịch,Hội LHPN,chu_tich_cap_huyen,,{n}"
        for n in range(1, 10_002)
    ]
    whole = parse(write_csv(tmp_path, HEADER, *lines[:10_000]))
    assert (whole.problems, len(whole.rows)) == ([], 10_000)
    over = parse(write_csv(tmp_path, HEADER, *lines, name="over.csv"))
    assert over.problems == [RowProblem(10_002, None, "too_many_rows", "10000")]


# --- invisible and control characters --------------------------------------------------------


def test_code_followed_by_a_zero_width_space_is_refused_not_a_second_code(tmp_path: Path) -> None:
    twin = GOOD.replace("DB001", "DB001\u200b").replace("Nguyễn Thị Lan", "Trần Thị Mai")
    result = parse(write_csv(tmp_path, HEADER, GOOD, twin.replace("0912 345 001", "")))
    assert [r.code for r in result.rows] == ["DB001"]
    assert result.problems == [RowProblem(3, "Mã", "invisible_in_code", "DB001<U+200B>")]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("\ufeffDB001", "<U+FEFF>DB001"),
        ("DB\u200d001", "DB<U+200D>001"),
        ("DB001\x00", "DB001<U+0000>"),
        ("DB\x1b[2J001", "DB<U+001B>[2J001"),
        ("DB\u202e100", "DB<U+202E>100"),
        ("DB\u3164001", "DB<U+3164>001"),
    ],
)
def test_code_with_an_invisible_or_control_character_is_refused_and_shown(
    tmp_path: Path, written: str, shown: str
) -> None:
    result = parse(write_csv(tmp_path, HEADER, GOOD.replace("DB001", written)))
    assert result.problems == [RowProblem(2, "Mã", "invisible_in_code", shown)]
    assert result.rows == []


def test_hidden_characters_are_stripped_from_text_with_a_warning_naming_them(
    tmp_path: Path,
) -> None:
    cells = GOOD.split(",")
    cells[1] = "Nguyễn\u200b Thị\x00 Lan\x1b"
    cells[2] = "Chủ tịch\ufeff"
    cells[3] = "\u2060Hội LHPN quận Ba Đình"
    result = parse(write_csv(tmp_path, HEADER, ",".join(cells)))
    assert result.problems == []
    row = result.rows[0]
    assert (row.full_name, row.position, row.organization) == (
        "Nguyễn Thị Lan",
        "Chủ tịch",
        "Hội LHPN quận Ba Đình",
    )
    assert result.warnings == [
        RowProblem(2, "Họ và tên", "invisible_removed", "U+200B, U+0000, U+001B"),
        RowProblem(2, "Chức vụ", "invisible_removed", "U+FEFF"),
        RowProblem(2, "Đơn vị", "invisible_removed", "U+2060"),
    ]


def test_xlsx_escaped_control_characters_are_stripped_too(tmp_path: Path) -> None:
    cells = GOOD.split(",")
    cells[1] = "Nguyễn Thị Lan_x001B_"  # how Excel writes a character XML cannot hold
    path = write_raw_xlsx(tmp_path / "d.xlsx", [inline_row(1, HEADER.split(",")),
                                                inline_row(2, cells)])  # fmt: skip
    result = parse(path)
    assert result.rows[0].full_name == "Nguyễn Thị Lan"
    assert result.warnings == [RowProblem(2, "Họ và tên", "invisible_removed", "U+001B")]


@pytest.mark.parametrize("control", ["\u202e", "\u202b", "\u2067", "\u2066"])
def test_bidi_control_in_a_name_is_refused_with_row_and_column(
    tmp_path: Path, control: str
) -> None:
    line = GOOD.replace("Nguyễn Thị Lan", f"{control}naL ihT nễyugN\u202c")
    result = parse(write_csv(tmp_path, HEADER, line))
    code = f"U+{ord(control):04X}"
    assert result.problems == [
        RowProblem(2, "Họ và tên", "bidi_control", f"<{code}>naL ihT nễyugN<U+202C>")
    ]
    assert result.rows == []


def test_a_joiner_between_a_letter_and_its_accents_does_not_keep_them_apart(
    tmp_path: Path,
) -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Lan")
    name = nfd.replace("e\u0302", "e\u200d\u0302")
    result = parse(write_csv(tmp_path, HEADER, GOOD.replace("Nguyễn Thị Lan", name)))
    assert result.rows[0].full_name == "Nguyễn Thị Lan"
    assert unicodedata.is_normalized("NFC", result.rows[0].full_name)


def test_headings_with_hidden_characters_are_recognised(tmp_path: Path) -> None:
    header = "\ufeffMã,Họ và tên\u200b,Chức vụ,Đơn vị\u00ad,Nhóm,Điện thoại,Thứ tự"
    result = parse(write_xlsx(tmp_path, [header.split(","), GOOD.split(",")]))
    assert result.problems == []
    assert result.ignored_columns == []


# --- limits: reading stops at the first one crossed, and no file costs much memory ------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
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


def write_raw_xlsx(
    path: Path, sheet: Iterable[str], strings: Iterable[str] = (), extra_parts: int = 0
) -> Path:
    """An .xlsx written part by part, as a hostile generator could: `sheet` is <sheetData>."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_PACKAGE}"><Relationship Id="rId1" '
            f'Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets>'
            '<sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PACKAGE}">'
            f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        for name, pieces in (
            ("xl/sharedStrings.xml", [f'<sst xmlns="{_MAIN}">', *strings, "</sst>"]),
            (
                "xl/worksheets/sheet1.xml",
                [f'<worksheet xmlns="{_MAIN}"><sheetData>', *sheet, "</sheetData></worksheet>"],
            ),
        ):
            with z.open(name, "w", force_zip64=True) as part:
                for piece in pieces:
                    part.write(piece.encode())
        for number in range(extra_parts):
            z.writestr(f"customXml/item{number}.xml", "")
    return path


def inline_row(number: int, values: Sequence[str]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
        if v
    )
    return f'<row r="{number}">{cells}</row>'


def good_row(number: int) -> str:
    return inline_row(number, GOOD.replace("DB001", f"DB{number:03d}").split(","))


def peak_memory_mb(path: Path) -> tuple[float, list[list[object]]]:
    """Parse `path` in a fresh interpreter: its peak resident memory (MB) and the problems."""
    probe = (
        "import json, re, sys\n"
        "from pathlib import Path\n"
        "from bot.delegate_file import parse_delegate_file\n"
        "result = parse_delegate_file(Path(sys.argv[1]), [])\n"
        # VmHWM, not getrusage: Linux carries the parent's high-water mark into a child.
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "print(json.dumps([peak / 1024, [[p.row, p.column, p.code] for p in result.problems]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(path)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    peak, problems = json.loads(done.stdout)
    return peak, problems


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)"
)


def test_csv_reading_stops_at_the_first_row_over_the_limit_before_the_rest_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.delegate_file.MAX_DATA_ROWS", 2)
    lines = [GOOD.replace("DB001", f"DB00{i}") for i in range(1, 4)]
    path = write_csv(tmp_path, HEADER, *lines)
    # Past the limit the file is not even valid UTF-8: reading must never get there.
    path.write_bytes(path.read_bytes() + b"\n" + to_cp1258(GOOD.replace("DB001", "DB009")))
    result = parse(path)
    assert result.problems == [RowProblem(4, None, "too_many_rows", "2")]


def test_xlsx_reading_stops_at_the_first_row_over_the_limit_before_a_damaged_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.delegate_file.MAX_DATA_ROWS", 2)
    damaged = '<row r="5"><c r="A5" t="s"><v>999</v></c></row>'  # no such shared string
    path = write_raw_xlsx(
        tmp_path / "delegates.xlsx",
        [inline_row(1, HEADER.split(",")), good_row(2), good_row(3), good_row(4), damaged],
    )
    assert parse(path).problems == [RowProblem(4, None, "too_many_rows", "2")]


def test_xlsx_far_away_row_is_read_without_the_empty_rows_before_it(tmp_path: Path) -> None:
    path = write_raw_xlsx(
        tmp_path / "delegates.xlsx",
        [inline_row(1, HEADER.split(",")), good_row(2), good_row(1_048_576)],
    )
    numbers = [number for number, _ in _read_xlsx(path, None, [])]
    assert numbers == [1, 2, 1_048_576]
    result = parse(path)
    assert result.problems == []
    assert [r.row for r in result.rows] == [2, 1_048_576]


def test_csv_reading_stops_after_more_than_1000_blank_rows_and_says_where(
    tmp_path: Path,
) -> None:
    later = GOOD.replace("DB001", "DB002").replace("0912 345 001", "0912 345 002")
    path = write_csv(tmp_path, HEADER, GOOD, *[",,,,,,"] * (MAX_BLANK_RUN + 1), later)
    result = parse(path)
    assert [r.code for r in result.rows] == ["DB001"]
    assert result.problems == []
    assert result.warnings == [RowProblem(3, None, "stopped_at_blank_rows", "1000")]


def test_csv_blank_rows_up_to_the_limit_do_not_stop_reading(tmp_path: Path) -> None:
    later = GOOD.replace("DB001", "DB002").replace("0912 345 001", "0912 345 002")
    later = later.replace("Nguyễn Thị Lan", "Trần Thị Hoa")
    path = write_csv(tmp_path, HEADER, GOOD, *[""] * MAX_BLANK_RUN, later)
    result = parse(path)
    assert [r.code for r in result.rows] == ["DB001", "DB002"]
    assert result.warnings == []


def test_xlsx_formatted_empty_rows_after_the_table_stop_reading(tmp_path: Path) -> None:
    blank = [f'<row r="{n}"><c r="A{n}" s="1"/></row>' for n in range(3, 3 + MAX_BLANK_RUN + 1)]
    path = write_raw_xlsx(
        tmp_path / "delegates.xlsx",
        [inline_row(1, HEADER.split(",")), good_row(2), *blank, good_row(5000)],
    )
    result = parse(path)
    assert [r.row for r in result.rows] == [2]
    assert result.warnings == [RowProblem(3, None, "stopped_at_blank_rows", "1000")]


@pytest.mark.parametrize("kind", ["inline", "shared", "csv"])
def test_cell_longer_than_excel_allows_is_cell_too_large_with_row_and_column(
    tmp_path: Path, kind: str
) -> None:
    huge = "Phó " * (MAX_RAW_CELL_CHARS // 4 + 1)
    cells = GOOD.split(",")
    cells[2] = huge
    if kind == "csv":
        path = write_csv(tmp_path, HEADER, ",".join(cells))
    elif kind == "shared":  # built by hand: openpyxl cuts text to 32,767 characters
        row = inline_row(2, cells[:2]).replace("</row>", '<c r="C2" t="s"><v>0</v></c></row>')
        head = inline_row(1, HEADER.split(","))
        path = write_raw_xlsx(tmp_path / "d.xlsx", [head, row], [f"<si><t>{huge}</t></si>"])
    else:
        path = write_raw_xlsx(tmp_path / "d.xlsx", [inline_row(1, HEADER.split(",")),
                                                    inline_row(2, cells)])  # fmt: skip
    result = parse(path)
    assert result.problems == [RowProblem(2, "Chức vụ", "cell_too_large", None)]
    assert result.rows == []


def test_cell_too_large_before_the_heading_row_is_named_by_its_column_letter(
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path, "Danh sách," + "x" * (MAX_RAW_CELL_CHARS + 1), HEADER, GOOD)
    assert parse(path).problems == [RowProblem(1, "B", "cell_too_large", None)]


def test_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    with path.open("wb") as file:
        file.write((HEADER + "\n" + GOOD + "\n").encode())
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: no 20 MB written to the disk
    assert only_problem(parse(path)) == RowProblem(None, None, "file_too_large", "20")


def test_csv_line_of_a_million_characters_is_row_too_large(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes((HEADER + "\n" + GOOD + "\n").encode() + b"x," * 600_000)
    result = parse(path)
    assert result.problems == [RowProblem(3, None, "row_too_large", None)]


@needs_proc
@pytest.mark.parametrize("where", ["sheet", "shared strings"])
def test_xlsx_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path, where: str) -> None:
    bomb = ("Nguyễn " * 1_000_000 for _ in range(15))  # ~120 MB of text, ~150 KB zipped
    if where == "sheet":
        sheet = [
            inline_row(1, HEADER.split(",")),
            '<row r="2"><c r="B2" t="inlineStr"><is><t>',
            *bomb,
            "</t></is></c></row>",
        ]
        path = write_raw_xlsx(tmp_path / "bomb.xlsx", sheet)
    else:
        sheet = [inline_row(1, HEADER.split(",")), '<row r="2"><c r="B2" t="s"><v>0</v></c></row>']
        path = write_raw_xlsx(tmp_path / "bomb.xlsx", sheet, ["<si><t>", *bomb, "</t></si>"])
    assert path.stat().st_size < 1024 * 1024
    peak, problems = peak_memory_mb(path)
    assert problems == [[None, None, "unpacked_too_large"]]
    assert peak < 100


def test_xlsx_part_with_more_elements_than_the_budget_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.documents.xlsx_reader.MAX_ELEMENTS", 1000)
    path = write_raw_xlsx(
        tmp_path / "delegates.xlsx",
        [inline_row(1, HEADER.split(",")), good_row(2)],
        ["<si><t>a</t></si>"] * 600,
    )
    assert only_problem(parse(path)) == RowProblem(None, None, "unpacked_too_large", "16")


def test_xlsx_zip_listing_more_parts_than_a_workbook_has_is_unreadable(tmp_path: Path) -> None:
    path = write_raw_xlsx(
        tmp_path / "delegates.xlsx",
        [inline_row(1, HEADER.split(",")), good_row(2)],
        extra_parts=MAX_PARTS + 1,
    )
    assert only_problem(parse(path)) == RowProblem(None, None, "unreadable_file", None)


def test_xlsx_part_declaring_entities_is_unreadable(tmp_path: Path) -> None:
    laughs = '<!DOCTYPE sst [<!ENTITY a "ha">]>'
    path = write_raw_xlsx(
        tmp_path / "delegates.xlsx",
        [inline_row(1, HEADER.split(",")), '<row r="2"><c r="B2" t="s"><v>0</v></c></row>'],
    )
    data = {}
    with zipfile.ZipFile(path) as z:
        data = {item.filename: z.read(item) for item in z.infolist()}
    data["xl/sharedStrings.xml"] = (
        laughs + f'<sst xmlns="{_MAIN}"><si><t>&a;</t></si></sst>'
    ).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, content in data.items():
            z.writestr(name, content)
    assert only_problem(parse(path)) == RowProblem(None, None, "unreadable_file", None)


def test_xlsx_tag_that_never_ends_is_unreadable_without_buffering_it(tmp_path: Path) -> None:
    endless = f'<row r="2"><c r="A2" t="inlineStr" x="{"y" * 2_000_000}"/></row>'
    path = write_raw_xlsx(tmp_path / "d.xlsx", [inline_row(1, HEADER.split(",")), endless])
    result = parse(path)
    assert result.problems == [RowProblem(2, None, "unreadable_file", None)]


@pytest.mark.parametrize("quoted", [True, False])
def test_csv_cell_over_the_csv_modules_own_limit_is_cell_too_large_with_row_and_column(
    tmp_path: Path, quoted: bool
) -> None:
    # Python's csv refuses a field over 128 KiB with a bare csv.Error.
    address = "số 5, ngõ 12, phố Huế; " * 10_000 if quoted else "x" * 200_000
    cells = GOOD.split(",")
    cells[3] = f'"{address}"' if quoted else address
    path = write_csv(tmp_path, HEADER, GOOD.replace("DB001", "DB000"), ",".join(cells))
    result = parse(path)
    assert result.problems == [RowProblem(3, "Đơn vị", "cell_too_large", None)]
    assert result.rows == []


def test_csv_quoted_cell_over_the_limit_across_lines_is_named_by_its_column(
    tmp_path: Path,
) -> None:
    cells = GOOD.split(",")
    cells[2] = '"' + "Phó Chủ tịch\n" * 12_000 + '"'
    result = parse(write_csv(tmp_path, HEADER, ",".join(cells)))
    assert result.problems == [RowProblem(2, "Chức vụ", "cell_too_large", None)]


def test_csv_record_over_a_million_characters_names_its_huge_cell(tmp_path: Path) -> None:
    cells = GOOD.split(",")
    cells[1] = "A" * 1_100_000
    result = parse(write_csv(tmp_path, HEADER, ",".join(cells)))
    assert result.problems == [RowProblem(2, "Họ và tên", "cell_too_large", None)]


@needs_proc
def test_csv_of_one_enormous_line_stays_small_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes((HEADER + "\nDB001,").encode() + b"A" * (MAX_FILE_BYTES - 100))
    peak, problems = peak_memory_mb(path)
    assert problems == [[2, "Họ và tên", "cell_too_large"]]
    assert peak < 100


# --- workbooks of several sheets, and files to convert first -----------------------------------

COVER = [
    ["HỘI LIÊN HIỆP PHỤ NỮ THÀNH PHỐ HÀ NỘI"],
    [],
    ["KẾ HOẠCH"],
    ["Tổ chức Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội"],
    [None, None, "Hà Nội, ngày 10 tháng 5 năm 2024"],
]
CONTACT_ROW = "NV01,Trần Thị Mỹ Duyên,Chuyên viên,Văn phòng,,0967 218 401,,đầu mối"


def write_workbook(
    tmp_path: Path, sheets: dict[str, list[list[object]]], hidden: Sequence[str] = ()
) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=number, column=column, value=value)
        if title in hidden:
            sheet.sheet_state = "hidden"
    path = tmp_path / "delegates.xlsx"
    workbook.save(path)
    return path


def test_xlsx_list_on_a_second_sheet_after_a_cover_page_is_found(tmp_path: Path) -> None:
    listing = [["DANH SÁCH ĐẠI BIỂU"], [], HEADER.split(","), GOOD.split(",")]
    result = parse(write_workbook(tmp_path, {"Bìa": COVER, "Danh sách": listing}))
    assert result.problems == []
    assert [(r.row, r.code) for r in result.rows] == [(4, "DB001")]
    assert result.warnings == [RowProblem(None, None, "sheet_read", "Danh sách", "Bìa")]


def test_named_sheet_is_read_whatever_the_others_hold(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path,
        {
            "Đại biểu": [ROLE_HEADER.split(","), GOOD.split(",")],
            "Đầu mối": [ROLE_HEADER.split(","), CONTACT_ROW.split(",")],
        },
    )
    assert [r.code for r in parse(path).rows] == ["DB001"]
    for name in ("Đầu mối", "đầu mối", "DAU MOI"):
        result = parse_delegate_file(path, GROUPS, sheet=name)
        assert [r.code for r in result.rows] == ["NV01"], name
        assert result.warnings == [RowProblem(None, None, "sheet_read", "Đầu mối", "Đại biểu")]


def test_unknown_sheet_name_is_refused_listing_the_sheets(tmp_path: Path) -> None:
    listing = [HEADER.split(","), GOOD.split(",")]
    path = write_workbook(tmp_path, {"Bìa": COVER, "Danh sách": listing})
    result = parse_delegate_file(path, GROUPS, sheet="Trang 3")
    assert result.rows == []
    assert result.problems == [RowProblem(None, None, "unknown_sheet", "Trang 3", "Bìa, Danh sách")]


def test_unknown_sheet_lists_long_sheet_names_in_full(tmp_path: Path) -> None:
    names = ["Đại biểu cấp thành phố", "Đại biểu quận, huyện, thị xã", "Bìa kế hoạch số 60"]
    path = write_workbook(tmp_path, {name: [HEADER.split(",")] for name in names})
    result = parse_delegate_file(path, GROUPS, sheet="Đầu mối")
    assert result.problems == [RowProblem(None, None, "unknown_sheet", "Đầu mối", ", ".join(names))]


def test_workbook_with_no_headings_anywhere_says_which_sheet_was_read(tmp_path: Path) -> None:
    path = write_workbook(tmp_path, {"Bìa": COVER, "Ghi chú": [["Ghi chú của Văn phòng"]]})
    result = parse(path)
    assert [p.code for p in result.problems] == ["missing_column"] * 5 + ["no_rows"]
    assert result.warnings == [RowProblem(None, None, "sheet_read", "Bìa", "Ghi chú")]


def test_visible_sheet_is_preferred_to_a_hidden_one_with_the_same_headings(
    tmp_path: Path,
) -> None:
    old = GOOD.replace("Nguyễn Thị Lan", "Bản cũ").split(",")
    path = write_workbook(
        tmp_path,
        {"Bản cũ": [HEADER.split(","), old], "Danh sách": [HEADER.split(","), GOOD.split(",")]},
        hidden=["Bản cũ"],
    )
    assert [r.full_name for r in parse(path).rows] == ["Nguyễn Thị Lan"]


def test_workbook_of_one_sheet_gets_no_note_about_sheets(tmp_path: Path) -> None:
    result = parse(write_workbook(tmp_path, {"Danh sách": [HEADER.split(","), GOOD.split(",")]}))
    assert result.warnings == []


def test_sheet_option_on_a_csv_is_ignored_with_a_note(tmp_path: Path) -> None:
    result = parse_delegate_file(write_csv(tmp_path, HEADER, GOOD), GROUPS, sheet="Danh sách")
    assert [r.code for r in result.rows] == ["DB001"]
    assert result.warnings == [RowProblem(None, None, "sheet_ignored", "Danh sách")]


@pytest.mark.parametrize("name", ["delegates.xls", "DELEGATES.XLS"])
def test_xls_file_is_refused_with_how_to_save_it_as_xlsx(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert only_problem(parse(path)) == RowProblem(None, None, "old_excel", None)


def test_xls_or_password_protected_workbook_named_xlsx_is_old_excel(tmp_path: Path) -> None:
    path = tmp_path / "delegates.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert only_problem(parse(path)) == RowProblem(None, None, "old_excel", None)


def test_utf16_csv_without_its_bom_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "delegates.csv"
    path.write_bytes("Code,Name,Position,Unit,Group\nDB001,Lan,Chair,Office,bao_chi".encode(
        "utf-16-le"
    ))  # fmt: skip
    assert only_problem(parse(path)) == RowProblem(1, None, "not_utf8", None)


# --- a malformed file is an answer, never a traceback ----------------------------------------


@pytest.fixture(scope="module")
def workbook_bytes() -> bytes:
    buffer = io.BytesIO()
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["DANH SÁCH"], [], HEADER.split(","), GOOD.split(","), CONTACT.split(",")):
        sheet.append(row)
    workbook.create_sheet("Ghi chú").append(["x", 1, 2.5, True])
    workbook.save(buffer)
    return buffer.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_workbook_is_reported_never_raised(
    tmp_path_factory: pytest.TempPathFactory, workbook_bytes: bytes, data: st.DataObject
) -> None:
    damaged = bytearray(workbook_bytes)
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        at = data.draw(st.integers(0, len(damaged) - 1), label="at")
        damaged[at] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(len(damaged) // 2, len(damaged)), label="length")
    path = tmp_path_factory.mktemp("fuzz") / "delegates.xlsx"
    path.write_bytes(bytes(damaged[:cut]))
    result = parse_delegate_file(path, GROUPS, sheet=data.draw(st.none() | st.text(max_size=5)))
    assert isinstance(result, ParsedDelegates)
    assert result.problems or result.rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_as_a_csv_are_reported_never_raised(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "delegates.csv"
    path.write_bytes((HEADER + "\n").encode() + content)
    result = parse_delegate_file(path, GROUPS)
    assert isinstance(result, ParsedDelegates)
    assert result.problems or result.rows


# --- roles: delegates and task contacts ---------------------------------------------------------

ROLE_HEADER = HEADER + ",Vai trò"
# A task's focal point: office staff, not an invitee, so the group is left empty.
CONTACT = "NV01,Trần Thị Mỹ Duyên,Chuyên viên,Văn phòng Hội LHPN thành phố,,0967 218 401,,đầu mối"


def test_bad_role_is_a_problem_code_and_role_has_a_vietnamese_heading() -> None:
    assert BAD_ROLE == "bad_role"
    assert BAD_ROLE in PROBLEM_CODES
    assert (ROLE_DELEGATE, ROLE_CONTACT) == ("delegate", "contact")
    assert CANONICAL_HEADINGS["role"] == "Vai trò"


def test_without_a_role_column_everyone_is_a_delegate(
    tmp_path: Path, example: ParsedDelegates
) -> None:
    result = parse(write_csv(tmp_path, HEADER, GOOD))
    assert result.problems == []
    assert [r.role for r in result.rows] == ["delegate"]
    assert {r.role for r in example.rows} == {"delegate"}


def test_role_defaults_to_delegate_for_rows_built_in_code() -> None:
    row = DelegateRow(2, "DB001", "Nguyễn Thị Lan", "Chủ tịch", "Sở Y tế", "bao_chi", None, None)
    assert row.role == ROLE_DELEGATE


@pytest.mark.parametrize(
    ("written", "role"),
    [
        ("", "delegate"),
        ("đại biểu", "delegate"),
        ("Đại Biểu", "delegate"),
        ("dai bieu", "delegate"),
        ("DB", "delegate"),
        ("Delegate", "delegate"),
        ("contact", "contact"),
        ("CONTACT", "contact"),
        ("Đầu mối", "contact"),
        ("dau moi", "contact"),
        ("  ĐẦU   MỐI ", "contact"),
        (unicodedata.normalize("NFD", "đầu mối"), "contact"),
        ("liên hệ", "contact"),
        ("lien he", "contact"),
        ("Cán bộ đầu mối", "contact"),
        ("can bo dau moi", "contact"),
    ],
)
def test_role_values_in_vietnamese_english_or_unaccented(
    tmp_path: Path, written: str, role: str
) -> None:
    result = parse(write_csv(tmp_path, ROLE_HEADER, f"{GOOD},{written}"))
    assert result.problems == []
    assert [(r.role, r.group_key) for r in result.rows] == [(role, "chu_tich_cap_huyen")]


@pytest.mark.parametrize("heading", ["Vai trò", "vai tro", "Role", "Loại", "loai", "VAI TRÒ (*)"])
def test_role_heading_synonyms_are_recognised(tmp_path: Path, heading: str) -> None:
    result = parse(write_csv(tmp_path, f"{HEADER},{heading}", CONTACT))
    assert result.problems == []
    assert result.ignored_columns == []
    assert result.rows[0].role == ROLE_CONTACT


@pytest.mark.parametrize("written", ["khách mời", "member", "đại biểu đầu mối", "x"])
def test_unknown_role_is_bad_role_on_its_row_and_heading_as_written(
    tmp_path: Path, written: str
) -> None:
    second = GOOD.replace("DB001", "DB002").replace("0912 345 001", "0912 345 002")
    path = write_csv(tmp_path, HEADER + ", loại ", GOOD + ",đại biểu", f"{second},{written}")
    result = parse(path)
    assert only_problem(result) == RowProblem(3, "loại", "bad_role", written)
    assert [r.row for r in result.rows] == [2]


def test_bad_role_with_an_empty_group_is_reported_once(tmp_path: Path) -> None:
    # Whether the group is required depends on the role, so only the role is reported.
    line = CONTACT.replace("đầu mối", "khách mời")
    assert only_problem(parse(write_csv(tmp_path, ROLE_HEADER, line))) == RowProblem(
        2, "Vai trò", "bad_role", "khách mời"
    )


def test_too_long_role_is_too_long_not_bad_role(tmp_path: Path) -> None:
    line = CONTACT.replace("đầu mối", "x" * (MAX_CELL_CHARS + 1))
    problem = only_problem(parse(write_csv(tmp_path, ROLE_HEADER, line)))
    assert (problem.row, problem.column, problem.code) == (2, "Vai trò", "too_long")


def test_contact_with_an_empty_group_is_accepted_with_an_empty_group_key(tmp_path: Path) -> None:
    result = parse(write_csv(tmp_path, ROLE_HEADER, CONTACT))
    assert result.problems == []
    assert result.rows == [
        DelegateRow(
            row=2,
            code="NV01",
            full_name="Trần Thị Mỹ Duyên",
            position="Chuyên viên",
            organization="Văn phòng Hội LHPN thành phố",
            group_key="",
            phone="+84967218401",
            rank=None,
            role="contact",
        )
    ]


def test_contact_may_still_name_a_group(tmp_path: Path) -> None:
    line = CONTACT.replace(",,0967", ",ban_chuyen_mon,0967")
    result = parse(write_csv(tmp_path, ROLE_HEADER, line))
    assert result.problems == []
    assert [(r.role, r.group_key) for r in result.rows] == [("contact", "ban_chuyen_mon")]


def test_contact_with_an_unknown_group_is_unknown_group(tmp_path: Path) -> None:
    line = CONTACT.replace(",,0967", ",khach_moi,0967")
    result = parse(write_csv(tmp_path, ROLE_HEADER, line))
    assert result.rows == []
    assert only_problem(result) == RowProblem(2, "Nhóm", "unknown_group", "khach_moi")


@pytest.mark.parametrize("role", ["", "đại biểu", "delegate"])
def test_delegate_with_an_empty_group_is_still_missing_value(tmp_path: Path, role: str) -> None:
    line = CONTACT.replace("đầu mối", role)
    result = parse(write_csv(tmp_path, ROLE_HEADER, line))
    assert result.rows == []
    assert only_problem(result) == RowProblem(2, "Nhóm", "missing_value", None)


@pytest.mark.parametrize(
    ("index", "heading"), [(0, "Mã"), (1, "Họ và tên"), (2, "Chức vụ"), (3, "Đơn vị")]
)
def test_contact_still_needs_code_name_position_and_organization(
    tmp_path: Path, index: int, heading: str
) -> None:
    cells = CONTACT.split(",")
    cells[index] = ""
    result = parse(write_csv(tmp_path, ROLE_HEADER, ",".join(cells)))
    assert result.rows == []
    assert only_problem(result) == RowProblem(2, heading, "missing_value", None)


def test_a_list_of_contacts_alone_needs_no_group_column(tmp_path: Path) -> None:
    # The guide: the group is required of delegates only («có (với đại biểu)»).
    path = write_csv(
        tmp_path,
        "Mã,Họ và tên,Chức vụ,Đơn vị,Vai trò",
        "NV01,Trần Thị Mỹ Duyên,Chuyên viên,Văn phòng Hội LHPN thành phố,đầu mối",
    )
    result = parse(path)
    assert result.problems == []
    assert [(r.code, r.group_key, r.role) for r in result.rows] == [("NV01", "", ROLE_CONTACT)]


def test_the_group_column_is_missing_once_a_delegate_is_listed_naming_the_delegates_rows(
    tmp_path: Path,
) -> None:
    contact = "NV01,Trần Thị Mỹ Duyên,Chuyên viên,Văn phòng Hội LHPN thành phố,đầu mối"
    delegate = "DB{:03d},Nguyễn Thị Lan,Chủ tịch,Hội LHPN quận Ba Đình,"
    lines = [delegate.format(n) for n in range(1, 13)]
    mixed = parse(write_csv(tmp_path, "Mã,Họ và tên,Chức vụ,Đơn vị,Vai trò", contact, *lines))
    assert mixed.problems == [
        RowProblem(None, "Nhóm", "group_column_for_delegates", "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, …")
    ]
    # Without a role column everyone is a delegate: the column is missing, and why it is needed
    # (a list of contacts typed without «Vai trò» was told only «thiếu cột bắt buộc»).
    plain = parse(write_csv(tmp_path, "Mã,Họ và tên,Chức vụ,Đơn vị", delegate.format(1)[:-1]))
    assert plain.problems == [RowProblem(None, "Nhóm", "group_column_without_roles", None)]


def test_rows_with_only_a_prefilled_role_are_skipped(tmp_path: Path) -> None:
    result = parse(write_csv(tmp_path, ROLE_HEADER, CONTACT, ",,,,,,,đại biểu", ",,,,,,,đầu mối"))
    assert result.problems == []
    assert [r.code for r in result.rows] == ["NV01"]


def test_delegates_and_contacts_mix_in_one_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        [ROLE_HEADER.split(","), [*GOOD.split(","), "Đại biểu"], CONTACT.split(",")],
    )
    result = parse(path)
    assert result.problems == []
    assert [(r.code, r.role, r.group_key) for r in result.rows] == [
        ("DB001", "delegate", "chu_tich_cap_huyen"),
        ("NV01", "contact", ""),
    ]


# --- the shipped contacts example ----------------------------------------------------------------


@pytest.fixture(scope="module")
def contacts_example() -> ParsedDelegates:
    return parse_delegate_file(CONTACTS_EXAMPLE, GROUPS)


def test_contacts_example_parses_into_8_contacts_without_problems(
    contacts_example: ParsedDelegates,
) -> None:
    assert contacts_example.problems == []
    assert contacts_example.ignored_columns == []
    assert [r.code for r in contacts_example.rows] == [f"NV{i:02d}" for i in range(1, 9)]
    assert {r.role for r in contacts_example.rows} == {"contact"}
    assert {r.group_key for r in contacts_example.rows} == {""}


def test_contacts_example_uses_the_canonical_headings_and_full_diacritics(
    contacts_example: ParsedDelegates,
) -> None:
    raw = CONTACTS_EXAMPLE.read_text(encoding="utf-8")
    assert raw.splitlines()[0] == "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại,Thứ tự,Vai trò"
    assert raw == unicodedata.normalize("NFC", raw)
    assert len({r.full_name for r in contacts_example.rows}) == 8


def test_contacts_example_covers_the_owner_units_of_the_plan_tasks(
    contacts_example: ParsedDelegates,
) -> None:
    units = Counter(r.organization for r in contacts_example.rows)
    assert units == {
        "Văn phòng Hội LHPN thành phố": 4,
        "Ban Tổ chức – Kiểm tra Hội LHPN thành phố": 1,
        "Ban Tuyên giáo Hội LHPN thành phố": 2,
        "Ban Gia đình – Xã hội Hội LHPN thành phố": 1,
    }


def test_contacts_example_phones_are_unique_and_do_not_collide_with_delegates(
    contacts_example: ParsedDelegates, example: ParsedDelegates
) -> None:
    phones = [r.phone for r in contacts_example.rows]
    assert None not in phones
    assert len(set(phones)) == 8
    assert not set(phones) & {r.phone for r in example.rows}
    # Mobiles: the bot reaches contacts through Telegram accounts tied to mobile numbers.
    assert all(p is not None and p.startswith("+84") and len(p) == 12 for p in phones)


def test_contacts_and_delegates_examples_share_no_code_or_name(
    contacts_example: ParsedDelegates, example: ParsedDelegates
) -> None:
    assert not {r.code for r in contacts_example.rows} & {r.code for r in example.rows}
    assert not {r.full_name for r in contacts_example.rows} & {r.full_name for r in example.rows}


def test_a_limit_or_a_count_in_a_note_is_grouped_by_thousands_and_a_row_number_is_not() -> None:
    catalog = load_catalog("vi")
    over = RowProblem(10002, None, "too_many_rows", "10000")
    assert problem_line(catalog, "import.problem", over) == (
        "  - Dòng 10002: tệp có quá nhiều dòng (tối đa 10.000 dòng có nội dung dưới dòng tiêu "
        "đề, theo mục [import] max_rows của tệp cấu hình); đã dừng đọc tại dòng này."
    )
    capitals = RowProblem(None, "Họ và tên", "names_in_capitals", "1234", "«AN» → «An»")
    assert "1.234 họ tên viết toàn chữ in hoa" in problem_line(catalog, "import.warning", capitals)
    heading = RowProblem(3, None, "group_from_heading", "BÁO CHÍ", "1500", "«Báo chí»")
    assert ", nên 1.500 người ghi dưới dòng này" in problem_line(catalog, "import.warning", heading)
