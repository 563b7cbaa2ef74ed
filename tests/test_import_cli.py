"""`hoinghi delegates import` as the office sees it: warnings and problems, row and column."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from bot.cli import main
from bot.delegate_file import PROBLEM_CODES, WARNING_CODES
from bot.texts import LOCALES, load_catalog
from tests.conftest import EXAMPLE_DELEGATES, EXAMPLE_MEETING
from tests.test_web_office_import import another_person_under, without_columns

HEADER = "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại"
ROW = "DB001,Nguyễn Thị Lan,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen,{phone}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_problem_and_warning_of_a_delegate_file_has_a_text(locale: str) -> None:
    catalog = load_catalog(locale)
    keys = [f"import.problem.{code}" for code in PROBLEM_CODES]
    keys += [f"import.warning.{code}" for code in WARNING_CODES]
    assert [key for key in keys if not catalog.has(key)] == []


def test_a_phone_cell_with_two_numbers_imports_with_a_note_naming_row_column_and_number(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = office / "ds.csv"
    path.write_text(HEADER + "\n" + ROW.format(phone="0912345678/0987654321") + "\n", "utf-8")
    assert main(["delegates", "import", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"Lưu ý khi đọc tệp {path}:",
        "  - Dòng 2, cột «Điện thoại»: ô ghi «0912345678/0987654321»: đã lấy số đầu tiên, "
        "0912345678. Nếu cần số khác, xin sửa ô này rồi nhập lại.",
    ]
    assert out[2] == EXAMPLE_MEETING
    assert out[3].startswith(f"Đã nhập 1 người từ {path}")


def without_group_column(office: Path, *, second_role: str) -> Path:
    """A two-person list with no «Nhóm» column: a contact, then one whose role is given."""
    path = office / "dau-moi.csv"
    path.write_text(
        "Mã,Họ và tên,Chức vụ,Đơn vị,Vai trò,Điện thoại\n"
        "NV01,Phạm Thu Trang,Chuyên viên,Văn phòng,đầu mối,0911111111\n"
        f"NV02,Lưu Đức Hiếu,Chuyên viên,Văn phòng,{second_role},\n",
        "utf-8",
    )
    return path


def test_a_list_of_contacts_alone_imports_without_a_group_column(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = without_group_column(office, second_role="Đầu mối")
    assert main(["people", "import", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == EXAMPLE_MEETING and out[1].startswith(f"Đã nhập 2 người từ {path}")


def test_contacts_reimported_without_a_group_column_keep_the_group_they_were_given(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = office / "dau-moi-nhom.csv"
    path.write_text(
        "Mã,Họ và tên,Chức vụ,Đơn vị,Vai trò,Nhóm,Điện thoại\n"
        "NV01,Phạm Thu Trang,Chuyên viên,Văn phòng,đầu mối,chu_tich_cap_huyen,0911111111\n"
        "NV02,Lưu Đức Hiếu,Chuyên viên,Văn phòng,đầu mối,,\n",
        "utf-8",
    )
    assert main(["people", "import", str(path)]) == 0
    capsys.readouterr()
    assert main(["people", "import", str(without_group_column(office, second_role="Đầu mối"))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith(": thêm mới 0, cập nhật 0, không đổi 2.")
    assert (
        "Lưu ý: tệp không có cột «Nhóm», nên 1 người đã có trong danh sách được giữ nguyên nội "
        "dung cột này như trước."
    ) in out
    assert main(["people", "import", str(path)]) == 0  # the group is still there
    assert (
        capsys.readouterr().out.splitlines()[1].endswith(": thêm mới 0, cập nhật 0, không đổi 2.")
    )


def test_a_contact_under_no_group_heading_keeps_the_group_she_was_given(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The office's own list, its groups given by its heading rows and no «Nhóm» column: a
    # contact listed above the headings is given no group by the list, and keeps hers.
    with_groups = office / "nhom.csv"
    with_groups.write_text(
        "Mã,Họ và tên,Chức vụ,Đơn vị,Vai trò,Nhóm,Điện thoại\n"
        "NV01,Phạm Thu Trang,Chuyên viên,Văn phòng,đầu mối,chu_tich_cap_huyen,0911111111\n"
        "DB001,Nguyễn Văn An,Phóng viên,Báo Hà Nội mới,,bao_chi,\n",
        "utf-8",
    )
    headed = office / "tieu-de.csv"
    headed.write_text(
        "STT,Mã,Họ và tên,Chức vụ,Đơn vị,Vai trò,Điện thoại\n"
        ",NV01,Phạm Thu Trang,Chuyên viên,Văn phòng,đầu mối,0911111111\n"
        "I,,PHÓNG VIÊN CÁC CƠ QUAN BÁO CHÍ,,,,\n"
        "1,DB001,Nguyễn Văn An,Phóng viên,Báo Hà Nội mới,,\n",
        "utf-8",
    )
    assert main(["people", "import", str(with_groups)]) == 0
    capsys.readouterr()
    assert main(["people", "import", str(headed)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"Đã nhập 2 người từ {headed}: thêm mới 0, cập nhật 0, không đổi 2." in out
    assert (
        "Lưu ý: tệp không có cột «Nhóm», nên 1 người đã có trong danh sách được giữ nguyên nội "
        "dung cột này như trước."
    ) in out
    assert main(["people", "import", str(with_groups)]) == 0  # her group is still there
    out = capsys.readouterr().out.splitlines()
    assert f"Đã nhập 2 người từ {with_groups}: thêm mới 0, cập nhật 0, không đổi 2." in out


def test_a_delegate_in_a_list_without_a_group_column_is_named_by_row(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = without_group_column(office, second_role="")
    assert main(["people", "import", str(path)]) == 3
    assert capsys.readouterr().err.splitlines()[1:] == [
        "  - Cột «Nhóm»: thiếu cột này, trong khi đại biểu cần có nhóm: dòng 3 là đại biểu (cột "
        "Vai trò để trống hoặc ghi «đại biểu»). Đề nghị thêm cột «Nhóm» và ghi nhóm cho đại biểu; "
        "danh sách chỉ gồm người đầu mối thì không cần cột này.",
    ]


def test_a_cell_under_no_heading_is_named_with_its_row_and_column_not_dropped_silently(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = office / "ds.csv"
    row = ROW.format(phone="") + ",Ghi chú quan trọng: đi xe lăn"
    path.write_text(HEADER + "\n" + row + "\n", "utf-8")
    assert main(["delegates", "import", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"Lưu ý khi đọc tệp {path}:",
        "  - Dòng 2, cột «G»: ô ghi «Ghi chú quan trọng: đi xe lăn» nằm dưới một cột không có "
        "tiêu đề nên không được nhập (cột này có thể còn ô khác như vậy). Nếu cần, xin đặt tiêu "
        "đề cho cột, hoặc chuyển nội dung sang cột phù hợp rồi nhập lại.",
    ]
    assert out[2:4] == [EXAMPLE_MEETING, out[3]] and out[3].startswith(f"Đã nhập 1 người từ {path}")


def test_sheet_option_reads_the_named_sheet_and_the_output_says_which(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = Workbook()
    cover = workbook.worksheets[0]
    cover.title = "Bìa"
    cover.append(["KẾ HOẠCH HỘI NGHỊ"])
    for title, code in (("Đợt 1", "DB001"), ("Đợt 2", "DB002")):
        sheet = workbook.create_sheet(title)
        sheet.append(HEADER.split(","))
        sheet.append(ROW.format(phone="").replace("DB001", code).split(","))
    workbook.save(office / "ds.xlsx")
    assert main(["delegates", "import", "ds.xlsx", "--sheet", "Đợt 2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        "  - Tệp: có nhiều trang (sheet); đã đọc danh sách ở trang «Đợt 2» (các trang khác: "
        'Bìa, Đợt 1). Để đọc trang khác, thêm --sheet "TÊN TRANG" vào lệnh.'
    )
    assert main(["people", "import", "ds.xlsx", "--sheet", "Đợt 9"]) == 3
    assert capsys.readouterr().err.splitlines()[1] == (
        "  - Tệp: không có trang (sheet) «Đợt 9»; các trang trong tệp: Bìa, Đợt 1, Đợt 2."
    )


def test_an_xls_file_is_refused_in_vietnamese_with_the_steps_to_convert_it(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (office / "ds.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert main(["delegates", "import", "ds.xls"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith("  - Tệp: tệp Excel 97–2003 (.xls) hoặc tệp Excel có đặt mật khẩu")
    assert "Lưu thành (Save As), chọn kiểu «Excel Workbook (*.xlsx)»" in err[1]


def write_list(path: Path, count: int) -> Path:
    """A delegate list of ``count`` district chairs, DB001 onwards."""
    rows = [
        ROW.format(phone="").replace("DB001", f"DB{n:03d}").replace("Lan", f"Lan {n}")
        for n in range(1, count + 1)
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def absent_lines(out: list[str], count: int = 1) -> Any:
    """The last import's note on the people its file no longer lists: the line itself, or
    ``count`` lines from it."""
    start = max(i for i, line in enumerate(out) if " đã có trong cơ sở dữ liệu nhưng" in line)
    return out[start] if count == 1 else out[start : start + count]


def set_max_rows(office: Path, value: int) -> None:
    config = office / "config.toml"
    text, replaced = re.subn(
        r"\nmax_rows = \d+\n", f"\nmax_rows = {value}\n", config.read_text("utf-8")
    )
    assert replaced == 1
    config.write_text(text, encoding="utf-8")


def test_a_list_longer_than_import_max_rows_is_refused_at_the_row_over_naming_the_setting(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_max_rows(office, 2)
    write_list(office / "ds.csv", 3)
    assert main(["delegates", "import", "ds.csv"]) == 3
    assert capsys.readouterr().err.splitlines()[1] == (
        "  - Dòng 4: tệp có quá nhiều dòng (tối đa 2 dòng có nội dung dưới dòng tiêu đề, theo "
        "mục [import] max_rows của tệp cấu hình); đã dừng đọc tại dòng này."
    )
    set_max_rows(office, 3)
    assert main(["delegates", "import", "ds.csv"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0] == EXAMPLE_MEETING
    assert said[1].startswith("Đã nhập 3 người từ ds.csv: thêm mới 3,")


def test_a_reimport_without_the_phone_column_keeps_the_numbers_and_says_how_many(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (office / "no-phones.csv").write_bytes(without_columns("Điện thoại"))
    with EXAMPLE_DELEGATES.open(encoding="utf-8", newline="") as file:
        numbers = sum(1 for row in csv.DictReader(file) if row["Điện thoại"])
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    assert main(["delegates", "import", "no-phones.csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        EXAMPLE_MEETING,
        "Đã nhập 80 người từ no-phones.csv: thêm mới 0, cập nhật 0, không đổi 80.",
    ]
    assert out[2] == (
        f"Lưu ý: tệp không có cột «Điện thoại», nên {numbers} người đã có trong danh sách được "
        "giữ nguyên nội dung cột này như trước."
    )
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0  # the numbers are there
    assert "không đổi 80." in capsys.readouterr().out


def test_a_reimport_names_every_absent_code_when_there_are_ten_or_fewer(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(write_list(office / "all.csv", 12))]) == 0
    assert main(["delegates", "import", str(write_list(office / "two.csv", 2))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert absent_lines(out) == (
        "Lưu ý: 10 đại biểu đã có trong cơ sở dữ liệu nhưng không có trong tệp này (vẫn được giữ "
        "nguyên): DB003, DB004, DB005, DB006, DB007, DB008, DB009, DB010, DB011, DB012."
    )


def test_a_reimport_missing_many_counts_them_names_ten_and_says_how_to_list_them_all(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(write_list(office / "all.csv", 25))]) == 0
    assert main(["delegates", "import", str(write_list(office / "three.csv", 3))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert absent_lines(out, 2) == [
        "Lưu ý: 22 đại biểu đã có trong cơ sở dữ liệu nhưng không có trong tệp này (vẫn được giữ "
        "nguyên), trong đó có DB004, DB005, DB006, DB007, DB008, DB009, DB010, DB011, DB012, "
        "DB013 và 12 người khác. Nếu tệp này chưa phải danh sách đầy đủ, đề nghị kiểm tra lại.",
        "Để có danh sách đầy đủ những người này (mã, họ tên, chức vụ, đơn vị), chạy lại lệnh với "
        "--absent TỆP.xlsx (nhập lại cùng tệp không thay đổi gì thêm).",
    ]


def test_absent_option_writes_every_absent_person_with_name_unit_and_group_to_a_new_file(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(write_list(office / "all.csv", 25))]) == 0
    three = str(write_list(office / "three.csv", 3))
    assert main(["delegates", "import", three, "--absent", "vang.csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert absent_lines(out, 2)[1] == "Đã ghi danh sách 22 người không có trong tệp vào vang.csv."
    assert "--absent TỆP.xlsx" not in "\n".join(out)
    rows = (office / "vang.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm"
    assert rows[1] == (
        "DB004,Nguyễn Thị Lan 4,Chủ tịch,Hội LHPN quận Ba Đình,"
        '"Chủ tịch Hội LHPN các quận, huyện, thị xã"'
    )
    assert [row.split(",")[0] for row in rows[1:]] == [f"DB{n:03d}" for n in range(4, 26)]


def test_absent_option_refuses_an_existing_file_or_another_format_before_importing_anything(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(write_list(office / "all.csv", 12))]) == 0
    (office / "vang.csv").write_text("giữ nguyên", encoding="utf-8")
    three = str(write_list(office / "three.csv", 3))
    assert main(["delegates", "import", three, "--absent", "vang.csv"]) == 2
    assert main(["delegates", "import", three, "--absent", "vang.txt"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "Tệp vang.csv đã có; đề nghị chọn tên tệp khác cho --absent (chưa nhập gì).",
        "Danh sách người không có trong tệp được ghi ra tệp .csv hoặc .xlsx, không ghi được ra "
        "vang.txt (chưa nhập gì).",
    ]
    assert (office / "vang.csv").read_text(encoding="utf-8") == "giữ nguyên"
    assert main(["delegates", "import", "all.csv"]) == 0  # the earlier runs changed nothing
    assert "thêm mới 0, cập nhật 0, không đổi 12." in capsys.readouterr().out


def another_meetings_list(office: Path, replaced: int) -> Path:
    """:func:`another_person_under` as a file in the office's folder."""
    path = office / "danh-sach-moi.csv"
    path.write_bytes(another_person_under(replaced))
    return path


def test_a_list_that_gives_many_codes_another_person_imports_nothing_unless_confirmed(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """16 of the 80 (a fifth) with both the name and the phone changed: said, nothing written,
    exit 3; --confirm-replaced imports it."""
    import sqlite3

    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    path = another_meetings_list(office, 16)
    with sqlite3.connect(office / "hoinghi.db") as db:
        before = list(db.iterdump())
    assert main(["delegates", "import", str(path)]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "Chưa nhập danh sách, chưa thay đổi gì.",
        "Danh sách danh-sach-moi.csv đổi cả họ tên lẫn số điện thoại của 16 trong 80 người đã có "
        "của hội nghị «Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ "
        "thành phố Hà Nội lần thứ XVII, nhiệm kỳ 2021 – 2026» (mã 60-KH-BTV), tức là thay họ bằng "
        "người khác dưới cùng mã, ví dụ DB003: Vũ Thị Hồng Nhung → Người Khác 03; DB004: "
        "Đặng Minh Quân → Người Khác 04; DB005: Ngô Thị Bích Hạnh → Người Khác 05. Đây "
        "thường là danh sách của một hội nghị khác, đánh số lại từ đầu, nhập nhầm vào hội nghị "
        "này: nhập vào thì những người ấy cùng câu trả lời, điểm danh và tham luận của họ bị ghi "
        "đè. Nếu đây là hội nghị mới, đề nghị đặt mã mới cho hội nghị ở [meeting] code của tệp "
        "cấu hình rồi nhập danh sách cho hội nghị mới.",
        "Nếu đúng là các đơn vị đã cử người khác thay cho những người này, chạy lại lệnh với "
        "--confirm-replaced.",
    ]
    with sqlite3.connect(office / "hoinghi.db") as db:
        assert list(db.iterdump()) == before
    assert main(["delegates", "import", str(path), "--confirm-replaced"]) == 0
    assert "cập nhật 16" in capsys.readouterr().out


@pytest.mark.parametrize("replaced", [15, 4])
def test_a_list_that_gives_a_few_codes_another_person_imports_as_before(
    replaced: int, office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fewer than a fifth of the people there (15 of 80), or fewer than five: units that sent
    someone else, imported at once as before."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    assert main(["delegates", "import", str(another_meetings_list(office, replaced))]) == 0
    out = capsys.readouterr().out
    assert f"cập nhật {replaced}," in out
    # Said, with what still reaches the people before: the links they were given.
    assert f"Danh sách thay người ở {replaced} mã (cả họ tên lẫn số điện thoại đều đổi): " in out
    assert "bấm «Cấp lại đường liên kết…» rồi gửi đường liên kết mới cho người mới." in out
