"""`hoinghi delegates import` as the office sees it: warnings and problems, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.cli import main
from bot.delegate_file import PROBLEM_CODES, WARNING_CODES
from bot.texts import LOCALES, load_catalog

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
    assert out[2].startswith(f"Đã nhập 1 người từ {path}")


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
