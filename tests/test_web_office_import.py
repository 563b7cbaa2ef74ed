"""Nhập danh sách on the dashboard: a list with problems is refused row by row and column by
column in the CLI's words and changes nothing; a good one shows what it would change (added,
changed, unchanged, absent) and is applied only when confirmed, audited as the staff member."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.services import Services
from storage.files import MAX_BYTES
from storage.models import AuditEntry, Delegate
from tests.conftest import EXAMPLE_DELEGATES
from tests.office_support import Desk, hidden, text_of


async def send_file(desk: Desk, name: str, content: bytes, **extra: str) -> str:
    """Choose ``content`` as ``name`` on the import page and press «Đọc và kiểm tra»."""
    page = await desk.client.get("/office/import")
    fields = hidden(page.text, "form-import")
    response = await desk.client.post(
        "/office/import", data={**fields, **extra}, files={"file": (name, content, "text/csv")}
    )
    return response.text


async def people(services: Services) -> dict[str, str]:
    async with services.ctx.sessions() as session:
        rows = await session.execute(select(Delegate.code, Delegate.full_name))
        return dict(rows.all())


def problems(page: str) -> list[str]:
    return re.findall(r'<li class="problem">(.*?)</li>', page)


def good_list() -> bytes:
    """The example list with DB002 renamed, DB080 left out and DB999 added."""
    lines = EXAMPLE_DELEGATES.read_text("utf-8").splitlines()
    lines = [line for line in lines if not line.startswith("DB080,")]
    lines = [line.replace("Hoàng Thị Ngọc Diệp", "Hoàng Thị Ngọc Diệu") for line in lines]
    lines.append("DB999,Trần Văn Mới,Chuyên viên,Văn phòng Hội,trung_uong_hoi,,9")
    return ("\n".join(lines) + "\n").encode("utf-8")


def another_person_under(replaced: int) -> bytes:
    """The example list with its first ``replaced`` people who have a phone given another
    person under their code (a new name and a new phone), as another meeting's list numbered
    from DB001 again would (N4): «Người Khác 03» for DB003."""
    rows = list(csv.reader(io.StringIO(EXAMPLE_DELEGATES.read_text("utf-8"))))
    done = 0
    for row in rows[1:]:
        if done < replaced and row[5]:
            done += 1
            number = int(row[0].removeprefix("DB"))
            row[1], row[5] = f"Người Khác {number:02d}", f"0912 000 {number:03d}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


async def test_a_list_with_bad_rows_is_reported_by_row_and_column_and_nothing_changes(
    desk: Desk, imported: Services
) -> None:
    before = await people(imported)
    bad = (
        "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại\n"
        "DB001,Phạm Thị Thanh Hà,Phó Chủ tịch,Trung ương Hội,trung_uong_hoi,\n"
        "DB002,Hoàng Thị Ngọc Diệp,Trưởng Ban,Trung ương Hội,khong_co,12ab\n"
        "DB003,,Phó Bí thư,Thành ủy,lanh_dao_thanh_pho,\n"
    ).encode()
    page = await send_file(desk, "ds.csv", bad)
    assert text_of(page, "problems-title") == (
        "Chưa nhập tệp ds.csv: có 3 lỗi cần sửa (cơ sở dữ liệu chưa thay đổi gì):"
    )
    assert problems(page) == [
        "Dòng 3, cột «Nhóm»: nhóm &#34;khong_co&#34; không có trong kế hoạch; đề nghị ghi đúng "
        "tên một nhóm thành phần của kế hoạch (danh sách ở cuối trang, mục «Nhóm thành phần "
        "của kế hoạch»).",
        "Dòng 3, cột «Điện thoại»: số điện thoại &#34;12ab&#34; không hợp lệ.",
        "Dòng 4, cột «Họ và tên»: chưa có nội dung (bắt buộc).",
    ]
    assert 'id="form-apply"' not in page
    assert await people(imported) == before  # nothing applied, not even DB001's good row


async def test_the_page_names_the_columns_and_the_plans_groups_a_wrong_group_is_told_to_use(
    desk: Desk, imported: Services
) -> None:
    # The office's own spelling of a group: the page lists the names the plan accepts.
    bad = (
        "STT,Mã,Họ và tên,Chức vụ,Đơn vị,Thành phần\n"
        "1,DB001,Phạm Thị Thanh Mai,Phó Chủ tịch,Trung ương Hội,Lãnh đạo Trung ương Hội\n"
    ).encode()
    page = await send_file(desk, "ds.csv", bad)
    [problem] = problems(page)
    assert "danh sách ở cuối trang" in problem
    groups = re.findall(r"<li>(.*?)</li>", page[page.index('id="plan-groups"') :].split("</ol>")[0])
    assert groups == [group.label for group in imported.config.groups_in_order]
    columns = text_of(page, "columns")
    assert "hoinghi" not in text_of(page, "upload")  # no command the office never saw
    for heading in ("Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Thành phần", "Điện thoại", "Vai trò"):
        assert heading in columns


def without_columns(*headings: str) -> bytes:
    """The example list without the columns ``headings``, as CSV."""
    with EXAMPLE_DELEGATES.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    keep = [index for index, heading in enumerate(rows[0]) if heading not in headings]
    out = io.StringIO()
    csv.writer(out).writerows([[row[index] for index in keep] for row in rows])
    return out.getvalue().encode("utf-8")


async def phones_and_order(services: Services) -> dict[str, tuple[str | None, int | None]]:
    async with services.ctx.sessions() as session:
        rows = await session.execute(select(Delegate.code, Delegate.phone, Delegate.rank))
        return {code: (phone, rank) for code, phone, rank in rows}


async def test_a_list_without_the_phone_and_order_columns_keeps_everyone_s_and_says_so(
    desk: Desk, imported: Services
) -> None:
    # The list sent round to the units without the phone numbers (and the order), then
    # imported again: nobody's number or place is erased.
    before = await phones_and_order(imported)
    numbers = sum(1 for phone, _ in before.values() if phone)
    page = await send_file(desk, "khong-so.csv", without_columns("Điện thoại", "Thứ tự"))
    assert problems(page) == []
    assert text_of(page, "count-changed") == "0"
    assert text_of(page, "count-unchanged") == "80"
    assert text_of(page, "column-kept-1") == (
        f"Lưu ý: tệp không có cột «Điện thoại», nên {numbers} người đã có trong danh sách được "
        "giữ nguyên nội dung cột này như trước."
    )
    assert text_of(page, "column-kept-2") == (
        "Lưu ý: tệp không có cột «Thứ tự», nên 80 người đã có trong danh sách được giữ nguyên "
        "nội dung cột này như trước."
    )
    applied = await desk.client.post(
        re.search(r'action="(/office/import/[^"]+/apply)"', page).group(1),  # type: ignore[union-attr]
        data=hidden(page, "form-apply"),
    )
    shown = (await desk.client.get(applied.headers["location"])).text
    assert f"tệp không có cột «Điện thoại», nên {numbers} người" in text_of(shown, "flash")
    assert await phones_and_order(imported) == before


async def test_a_workbook_of_several_sheets_says_which_was_read_and_points_to_the_sheet_field(
    desk: Desk,
) -> None:
    workbook = Workbook()
    workbook.worksheets[0].title = "Bìa"
    sheet = workbook.create_sheet("Danh sách")
    for row in csv.reader(io.StringIO(without_columns().decode("utf-8"))):
        sheet.append(row)
    content = io.BytesIO()
    workbook.save(content)
    page = await send_file(desk, "ds.xlsx", content.getvalue())
    section = page[page.index('id="warnings"') :]
    warnings = re.findall(r"<li>(.*?)</li>", section[: section.index("</section>")])
    assert warnings == [
        "Tệp: có nhiều trang (sheet); đã đọc danh sách ở trang «Danh sách» (các trang khác: "
        "Bìa). Để đọc trang khác, ghi tên trang vào ô «Trang (sheet) cần đọc» rồi chọn lại tệp."
    ]


def sheet_box(page: str) -> str:
    """What the import form's sheet box holds."""
    found = re.search(r'<input id="import-sheet"[^>]*value="([^"]*)"', page)
    assert found is not None
    return found.group(1)


async def test_a_list_refused_keeps_the_sheet_name_she_typed_in_its_box(desk: Desk) -> None:
    # A mistyped sheet was to be typed again whole; so was one sent with no file or a file
    # far too large.
    workbook = Workbook()
    workbook.worksheets[0].title = "Danh sách"
    for row in csv.reader(io.StringIO(good_list().decode("utf-8"))):
        workbook.worksheets[0].append(row)
    content = io.BytesIO()
    workbook.save(content)
    page = await send_file(desk, "ds.xlsx", content.getvalue(), sheet="Trang 2")
    assert problems(page)[0].startswith("Tệp: không có trang (sheet) «Trang 2»")
    assert sheet_box(page) == "Trang 2"
    form = hidden((await desk.client.get("/office/import")).text, "form-import")
    empty = await desk.client.post(
        "/office/import",
        data={**form, "sheet": "Danh sách 2"},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert empty.status_code == 422 and text_of(empty.text, "import-error") == (
        "Đề nghị chọn một tệp danh sách."
    )
    assert sheet_box(empty.text) == "Danh sách 2"
    # Far past the limit the list is refused unread; its sheet came before it in the form.
    huge = await desk.client.post(
        "/office/import",
        data={**form, "sheet": "Đại biểu"},
        files={"file": ("ds.xlsx", b"\0" * (MAX_BYTES + 128 * 1024), "text/csv")},
    )
    assert huge.status_code == 413 and text_of(huge.text, "import-error").startswith(
        "Tệp quá lớn (tối đa 20 MB)"
    )
    assert sheet_box(huge.text) == "Đại biểu"


async def test_the_preview_of_a_changed_list_says_each_changed_field_from_what_to_what(
    desk: Desk, imported: Services
) -> None:
    lines = EXAMPLE_DELEGATES.read_text("utf-8").splitlines()
    lines = [
        line.replace("Phó Bí thư Thành ủy,", "Phó Chủ tịch Thường trực,").replace(
            ",0386 003 246,", ",0912 777 888,"
        )
        if line.startswith("DB003,")
        else line.replace(",,2", ",0912 345 678,2").replace(
            ",trung_uong_hoi,", ",lanh_dao_thanh_pho,"
        )
        if line.startswith("DB002,")
        else line
        for line in lines
    ]
    page = await send_file(desk, "ds-sua.csv", ("\n".join(lines) + "\n").encode("utf-8"))
    assert text_of(page, "count-changed") == "2"
    # The office sees what it is about to apply, field by field, as the log will word it: a
    # group by its label, a phone as the list shows it, an empty value as «(trống)».
    assert text_of(page, "changed-DB002") == (
        "DB002: nhóm: Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam → Lãnh đạo Thành ủy, HĐND, "
        "UBND, Ủy ban MTTQ Việt Nam thành phố; số điện thoại: (trống) → 0912 345 678"
    )
    assert text_of(page, "changed-DB003") == (
        "DB003: chức vụ: Phó Bí thư Thành ủy → Phó Chủ tịch Thường trực; "
        "số điện thoại: 0386 003 246 → 0912 777 888"
    )


async def test_a_good_list_is_previewed_then_applied_only_when_confirmed(
    desk: Desk, imported: Services
) -> None:
    before = await people(imported)
    page = await send_file(desk, "danh-sach.csv", good_list())
    assert problems(page) == []
    assert text_of(page, "count-added") == "1"
    assert text_of(page, "count-changed") == "1"
    assert text_of(page, "count-unchanged") == "78"
    assert text_of(page, "count-absent") == "1"
    assert text_of(page, "added-codes") == "DB999"
    assert text_of(page, "changed-codes") == (
        "DB002: họ và tên: Hoàng Thị Ngọc Diệp → Hoàng Thị Ngọc Diệu"
    )
    assert text_of(page, "absent-codes") == "DB080"
    assert await people(imported) == before  # a preview writes nothing
    applied = await desk.client.post(
        re.search(r'action="(/office/import/[^"]+/apply)"', page).group(1),  # type: ignore[union-attr]
        data=hidden(page, "form-apply"),
    )
    assert applied.status_code == 303
    shown = (await desk.client.get(applied.headers["location"])).text
    assert text_of(shown, "flash").startswith(
        "Đã nhập 80 người từ danh-sach.csv: thêm mới 1, cập nhật 1, không đổi 78. "
        "1 người không có trong tệp vẫn được giữ nguyên."
    )
    after = await people(imported)
    assert after["DB999"] == "Trần Văn Mới" and after["DB002"] == "Hoàng Thị Ngọc Diệu"
    assert "DB080" in after  # the absent are kept
    async with imported.ctx.sessions() as session:
        signed_in = await session.scalar(
            select(AuditEntry.actor).where(AuditEntry.action == "staff.signed_in")
        )
        changes = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_id)
                .where(AuditEntry.action.in_(["delegate.created", "delegate.updated"]))
                .where(AuditEntry.actor != "test")  # the fixture's own import of the list
            )
        ).all()
    assert sorted(action for _, action, _ in changes) == ["delegate.created", "delegate.updated"]
    assert {actor for actor, _, _ in changes} == {signed_in}
    # The same confirmation cannot apply twice, and says the list was imported (not «gone»).
    again = await desk.client.post(
        re.search(r'action="(/office/import/[^"]+/apply)"', page).group(1),  # type: ignore[union-attr]
        data=hidden(page, "form-apply"),
    )
    shown = (await desk.client.get(again.headers["location"])).text
    assert text_of(shown, "flash") == (
        "Danh sách «danh-sach.csv» đã được nhập lúc 09:00, 18/5; không nhập lại lần nữa."
    )
    assert await people(imported) == after


async def test_a_double_click_while_the_list_imports_is_told_it_is_being_imported(
    desk: Desk, imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = await send_file(desk, "danh-sach.csv", good_list())
    action = re.search(r'action="(/office/import/[^"]+/apply)"', page)
    assert action is not None
    form = hidden(page, "form-apply")
    said_meanwhile: list[str] = []
    real = imported.delegates.import_rows

    async def import_rows(*args, **kwargs):  # type: ignore[no-untyped-def]
        second = await desk.client.post(action.group(1), data=form)  # the second click
        said_meanwhile.append(
            text_of((await desk.client.get(second.headers["location"])).text, "flash")
        )
        return await real(*args, **kwargs)

    monkeypatch.setattr(imported.delegates, "import_rows", import_rows)
    first = await desk.client.post(action.group(1), data=form)
    assert first.status_code == 303
    assert said_meanwhile == [
        "Danh sách «danh-sach.csv» đang được nhập (lần bấm trước); đề nghị đợi giây lát rồi xem "
        "kết quả trên trang Tổng quan hoặc Đại biểu."
    ]  # not «Tệp đã chọn không còn … Đề nghị chọn lại tệp»


async def test_a_big_list_s_preview_and_import_are_counted_grouped_by_thousands(
    desk: Desk, imported: Services
) -> None:
    """A list of 1,280 read «Danh sách có 1280 người» and «thêm mới 1200» where the overview
    then reads «1.280»: the preview's counts and the flash after it, grouped by thousands."""
    lines = EXAMPLE_DELEGATES.read_text("utf-8").splitlines()
    lines += [f"DB{n},Người Số {n},Chuyên viên,Văn phòng Hội,trung_uong_hoi,,{n}"
              for n in range(1000, 2200)]  # fmt: skip
    page = await send_file(desk, "lon.csv", ("\n".join(lines) + "\n").encode("utf-8"))
    assert problems(page) == []
    assert "1.280" in text_of(page, "preview-title")
    assert text_of(page, "count-added") == "1.200"
    applied = await desk.client.post(
        re.search(r'action="(/office/import/[^"]+/apply)"', page).group(1),  # type: ignore[union-attr]
        data=hidden(page, "form-apply"),
    )
    shown = (await desk.client.get(applied.headers["location"])).text
    assert text_of(shown, "flash").startswith(
        "Đã nhập 1.280 người từ lon.csv: thêm mới 1.200, cập nhật 0, không đổi 80."
    )


async def test_the_preview_of_a_list_that_gives_many_codes_another_person_says_so(
    desk: Desk, imported: Services
) -> None:
    """The command line's words on the page, before «Nhập danh sách này» (which then applies
    it: the office read them)."""
    page = await send_file(desk, "ds-moi.csv", another_person_under(72))
    said = text_of(page, "many-replaced")
    assert said.startswith(
        "Danh sách ds-moi.csv đổi cả họ tên lẫn số điện thoại của 72 trong 80 người đã có của hội "
        "nghị «"
    )
    assert "ví dụ DB003: Vũ Thị Hồng Nhung → Người Khác 03;" in said
    assert text_of(page, "confirm-replaced") == (
        "Nếu đúng là các đơn vị đã cử người khác thay cho những người này, chọn «Nhập danh sách "
        "này»; nếu không, chọn «Bỏ tệp này»."
    )
    fields = hidden(page, "form-apply")
    key = re.search(r'action="/office/import/([^/"]+)/apply"', page)
    assert key is not None
    await desk.client.post(f"/office/import/{key.group(1)}/apply", data=fields)
    assert (await people(imported))["DB003"] == "Người Khác 03"


async def test_the_preview_of_a_usual_list_says_nothing_of_replaced_people(
    desk: Desk, imported: Services
) -> None:
    page = await send_file(desk, "ds.csv", good_list())
    assert 'id="many-replaced"' not in page and 'id="form-apply"' in page
