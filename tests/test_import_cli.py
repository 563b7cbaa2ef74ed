"""`hoinghi delegates import` as the office sees it: warnings and problems, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

HEADER = "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại"
ROW = "DB001,Nguyễn Thị Lan,Chủ tịch,Hội LHPN quận Ba Đình,chu_tich_cap_huyen,{phone}"


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
