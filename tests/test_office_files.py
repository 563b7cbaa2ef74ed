"""The files an office opens: the report workbook (/baocao, `hoinghi report`), the audit log
(`hoinghi audit export`) and the calendar file (/lich), read back with openpyxl and icalendar."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.rsvp import RsvpStatus
from bot.services import Services
from bot.services.meetings import meeting_calendar
from bot.texts import load_catalog
from storage.uow import unit_of_work
from tests.conftest import EXAMPLE_DELEGATES
from tests.harness import OFFICE_CHAT, BotHarness, name_substitute
from tests.office_support import Held

TRICKY = 'Nguyễn Thị "Hạnh" & <Bảo> Ngọc'
SHEETS = [
    "Đại biểu", "Tổng hợp theo thành phần", "Tham luận", "Nhiệm vụ chuẩn bị", "Gửi tin",
    "Chưa nhận do hết hạn gửi", "Điểm danh",
]  # fmt: skip


async def rename(harness: BotHarness, code: str, full_name: str) -> None:
    """Re-import the example list with one delegate renamed (as the office would)."""
    services = harness.services
    parsed = parse_delegate_file(
        EXAMPLE_DELEGATES, [FileGroup(g.key, g.label) for g in services.config.groups]
    )
    rows = [
        dataclasses.replace(row, full_name=full_name) if row.code == code else row
        for row in parsed.rows
    ]
    await services.delegates.import_rows(rows, actor="test")


async def answers(harness: BotHarness) -> None:
    """DB001 attends, DB002 declines with a reason, DB003 (renamed) sends a substitute, DB004
    links and blocks the bot."""
    await rename(harness, "DB003", TRICKY)
    for code in ("DB001", "DB002", "DB003", "DB004"):
        await harness.open_invitation(code)
    await harness.send(harness.user_for("DB001").tap("✅ Tham dự"))
    decliner = harness.user_for("DB002")
    await harness.send(decliner.tap("❌ Không tham dự"))
    await harness.send(decliner.text("Trùng lịch công tác & họp <khẩn>"))
    sub = harness.user_for("DB003")
    await name_substitute(
        harness, sub, "Lê Thị Hoa", "Phó Chủ tịch", own_unit="Thành ủy Hà Nội", phone="0912 345 678"
    )
    await harness.send(harness.fake.block(harness.user_for("DB004").id))


def sent_file(harness: BotHarness, chat_id: int) -> tuple[str, bytes]:
    """Name and bytes of the last file the bot uploaded to ``chat_id``."""
    call = next(
        c
        for c in reversed(harness.fake.calls_to("sendDocument"))
        if int(c.params["chat_id"]) == chat_id
    )
    upload = call.uploads["document"]
    return upload.file_name, upload.content


# --- the report workbook -------------------------------------------------------------------------


async def test_baocao_sends_the_admin_the_report_workbook_its_delegates_in_protocol_order(
    harness: BotHarness,
) -> None:
    await answers(harness)
    admin = harness.admin()
    await harness.send(admin.command("/baocao"))
    name, content = sent_file(harness, admin.id)
    assert name == "bao-cao-60-KH-BTV-20240518-0900.xlsx"
    assert admin.last_message["caption"].startswith("📊 Báo cáo hội nghị lúc 09:00, 18/5")
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == SHEETS

    sheet = book["Đại biểu"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "STT", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Thành phần", "Trả lời",
        "Lý do không tham dự", "Người dự thay", "Chức vụ người dự thay", "Đơn vị người dự thay",
        "Điện thoại người dự thay", "Trả lời lúc", "Kênh liên lạc", "Bot liên lạc được",
        "Ghi chú liên lạc",
    )  # fmt: skip
    assert len(rows) == 81
    # Protocol order: the groups in their plan order, then each delegate's rank.
    assert [r[1] for r in rows[1:6]] == ["DB001", "DB002", "DB003", "DB004", "DB005"]
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code["DB001"][6] == "Tham dự"
    assert by_code["DB002"][6:8] == ("Không tham dự", "Trùng lịch công tác & họp <khẩn>")
    assert by_code["DB003"][2] == TRICKY
    assert by_code["DB003"][6:12] == (
        "Cử người dự thay", None, "Lê Thị Hoa", "Phó Chủ tịch", "Thành ủy Hà Nội", "0912 345 678"
    )  # fmt: skip
    assert by_code["DB001"][12] == datetime(2024, 5, 18, 9, 0)  # local time, a real date cell
    assert sheet["M2"].number_format == "dd/mm/yyyy hh:mm"
    assert by_code["DB001"][13:15] == ("Telegram", "Có")
    assert by_code["DB004"][13:16] == (
        "Telegram (đã chặn bot)",
        "Không",
        "Đã chặn bot hoặc rời cuộc trò chuyện: đề nghị gọi điện",
    )
    assert by_code["DB005"][13:15] == ("Chưa liên kết", None)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:P81"
    assert sheet.column_dimensions["C"].width >= len(TRICKY) + 2

    groups = list(book["Tổng hợp theo thành phần"].iter_rows(values_only=True))
    assert groups[0][:4] == ("STT", "Thành phần", "Số đại biểu", "Tham dự")
    assert book["Tổng hợp theo thành phần"].auto_filter.ref == "A1:I9"  # totals stay below
    total = next(r for r in groups if r[1] == "Tổng cộng")
    assert total[2:9] == (80, 1, 1, 1, 77, 2, 4)
    assert next(r for r in groups if r[1] == "Sức chứa hội trường")[2] == 80
    assert next(r for r in groups if r[1] == "Số chỗ còn trống")[2] == 78


async def test_a_delegate_is_answered_while_baocao_builds_the_workbook(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At 10,000 delegates the workbook takes seconds of CPU: built on the event loop, it held
    # up every other chat (and the pages and the outbox) for as long.
    from bot.chat import office

    held = Held(office.office_report_workbook)
    monkeypatch.setattr(office, "office_report_workbook", held)
    admin = harness.admin()
    report = asyncio.create_task(harness.send(admin.command("/baocao")))
    await held.started.wait()
    user = await harness.open_invitation("DB001")
    held.release.set()
    await report
    assert held.let_go == [True]  # the delegate was answered while the workbook was built
    assert any(
        message.get("text", "").startswith("Tài khoản của đồng chí đã được liên kết với giấy mời.")
        for message in user.messages
    )
    name, content = sent_file(harness, admin.id)
    assert name == "bao-cao-60-KH-BTV-20240518-0900.xlsx"
    assert load_workbook(io.BytesIO(content)).sheetnames == SHEETS


async def test_the_report_is_read_while_a_desk_or_a_chat_holds_a_write_transaction(
    imported: Services,
) -> None:
    """The report (the dashboard's download, /baocao) only reads: it does not wait for the
    write transaction a desk or a chat holds (on SQLite, BEGIN IMMEDIATE) to end."""
    writing, done = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with unit_of_work(imported.ctx.sessions) as session:
            await session.execute(select(1))  # the transaction has begun: the write lock held
            writing.set()
            await done.wait()

    writer = asyncio.create_task(write())
    await writing.wait()
    try:
        report = await imported.office_report.collect()
    finally:
        done.set()
        await writer
    assert (report.counts.overall.total, report.counts.overall.by_status) == (
        80,
        {RsvpStatus.NO_ANSWER: 80},
    )


async def test_the_report_holds_drafts_tasks_and_sending(harness: BotHarness) -> None:
    await harness.plan()
    await harness.open_invitation("DB031")
    await harness.tick()
    content = await report_bytes(harness)
    book = load_workbook(io.BytesIO(content))
    drafts = list(book["Tham luận"].iter_rows(values_only=True))
    assert len(drafts) == 11 and drafts[1][:3] == ("1.1", drafts[1][1], "DB031")
    assert drafts[1][6] == datetime(2024, 5, 21, 17, 0) and drafts[1][7] == "chưa gửi"
    tasks = list(book["Nhiệm vụ chuẩn bị"].iter_rows(values_only=True))
    assert [r[0] for r in tasks[1:]].count("VI.2") == 30  # one row per district chair
    sending = list(book["Gửi tin"].iter_rows(values_only=True))
    assert sending[0] == (
        "Số", "Loại tin", "Đối tượng", "Dự kiến gửi", "Trạng thái", "Hoàn tất lúc",
        "Tổng số người nhận", "Đã gửi", "Chặn bot", "Lỗi", "Chưa liên kết", "Bỏ qua",
        "Đang chờ gửi",
    )  # fmt: skip
    chase = [r for r in sending[1:] if r[1] == "nhắc xác nhận tham dự"]
    assert [r[4] for r in chase] == ["đã gửi xong", "chờ đến giờ"]
    assert chase[0][6:13] == (80, 1, 0, 0, 79, 0, 0)  # one linked delegate, 79 not linked


async def test_the_report_s_speeches_and_tasks_sheets_mark_whom_no_chat_reaches_as_the_lists_do(
    harness: BotHarness,
) -> None:
    """«Tham luận» and /thamluan, «Nhiệm vụ» and /nhiemvu mark a person no chat reaches
    («chưa gửi giấy mời», «chưa kết nối kênh nhắn tin»); the workbook's «Tham luận» and
    «Nhiệm vụ chuẩn bị» sheets, filed and printed, said nothing of it. They carry the same
    mark, in the column «Ghi chú liên lạc» the «Đại biểu» sheet names it in."""
    from tests.test_web_office_accounts import marked_sent

    await harness.plan()
    await harness.open_invitation("DB031")  # on Telegram: a chat reaches her
    await harness.tick()
    await marked_sent(harness.services, "DB033", "zalo")  # sent, no chat: phone her

    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    drafts = list(book["Tham luận"].iter_rows(values_only=True))
    assert drafts[0][2:8] == (
        "Mã", "Họ và tên", "Đơn vị", "Ghi chú liên lạc", "Hạn gửi", "Tình trạng",
    )  # fmt: skip
    marks = {row[2]: row[5] for row in drafts[1:]}
    assert (marks["DB031"], marks["DB033"], marks["DB045"]) == (
        None, "chưa kết nối kênh nhắn tin", "chưa gửi giấy mời",
    )  # fmt: skip
    tasks = list(book["Nhiệm vụ chuẩn bị"].iter_rows(values_only=True))
    assert tasks[0][5:9] == ("Người đầu mối", "Đơn vị", "Ghi chú liên lạc", "Báo cáo")
    chairs = {row[5]: row[7] for row in tasks[1:] if row[0] == "VI.2"}
    names = {line.code: line.full_name for line in await harness.services.drafts.board()}
    assert chairs[names["DB031"]] is None
    assert chairs[names["DB033"]] == "chưa kết nối kênh nhắn tin"
    assert chairs[names["DB045"]] == "chưa gửi giấy mời"


async def report_bytes(harness: BotHarness) -> bytes:
    from bot.services.report_file import office_report_workbook

    services = harness.services
    catalog = load_catalog(services.config.meeting.locale)
    return office_report_workbook(catalog, services.config, await services.office_report.collect())


async def test_baocao_in_the_office_group_sends_the_file_privately(harness: BotHarness) -> None:
    admin = harness.admin()
    group = harness.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    await harness.send(admin.command("/start"))  # the admin has a private chat with the bot
    await harness.send(group.command(admin, "/baocao"))
    assert sent_file(harness, admin.id)[0].endswith(".xlsx")
    assert harness.fake.messages_to(OFFICE_CHAT)[-1]["text"] == (
        "Đã gửi tệp báo cáo vào tin nhắn riêng của đồng chí."
    )
    assert not any("document" in m for m in harness.fake.messages_to(OFFICE_CHAT))


async def test_baocao_is_refused_to_a_delegate(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")
    await harness.send(user.command("/baocao"))
    assert user.last_text().startswith("Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng")
    assert harness.fake.calls_to("sendDocument") == []


def test_report_command_writes_the_workbook(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["report", "bao-cao.xlsx"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã ghi báo cáo vào bao-cao.xlsx: 80 đại biểu, 10 tham luận, 5 nhiệm vụ, 0 lượt gửi tin."
    )
    book = load_workbook(office / "bao-cao.xlsx")
    assert book.sheetnames == SHEETS
    assert book["Đại biểu"].max_row == 81
    assert main(["report", "bao-cao.pdf"]) == 2


def test_report_command_marks_reach_as_this_shell_runs_the_chats_and_counts_every_link(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hoinghi report` runs no chat, and counted every linked account: with no
    TELEGRAM_BOT_TOKEN set, a Telegram account was «Có» in «Bot liên lạc được». It marks
    reach by the chats `run` would start with this environment, as `invites print` names
    them, and says on stderr that this is the shell's view; but «Đã liên kết tài khoản» is a
    fact of the database, not of the shell (re-test s34 M7: a shell without ZALO_BOT_TOKEN
    wrote «0» where the dashboard's copy said 13)."""
    from bot.app import open_app
    from bot.config import load_config
    from bot.domain.channels import ChatAccount

    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0

    async def link_db001() -> None:
        loaded = load_config(office / "config.toml")
        async with open_app(loaded, load_catalog("vi"), env={}) as app:
            tokens = {item.code: item.token for item in await app.services.invitations.links()}
            account = ChatAccount("telegram", "601", "601")
            await app.services.invitations.link_by_token(account, tokens["DB001"])

    asyncio.run(link_db001())

    def db001_and_linked() -> tuple[tuple[object, ...], object, list[str]]:
        capsys.readouterr()
        assert main(["report", "bao-cao.xlsx", "--force"]) == 0
        book = load_workbook(office / "bao-cao.xlsx")
        row = next(r for r in book["Đại biểu"].iter_rows(values_only=True) if r[1] == "DB001")
        groups = list(book["Tổng hợp theo thành phần"].iter_rows(values_only=True))
        column = groups[0].index("Đã liên kết tài khoản")
        total = next(r for r in groups if r[1] == "Tổng cộng")
        return row[13:15], total[column], capsys.readouterr().err.splitlines()

    assert db001_and_linked() == (
        ("Telegram (máy này không chạy kênh này)", "Không"),
        1,
        [
            "Lưu ý: cửa sổ dòng lệnh này chưa đặt biến môi trường TELEGRAM_BOT_TOKEN, nên ở trang"
            " danh sách đại biểu, người chỉ liên kết kênh Telegram được ghi «máy này không chạy"
            " kênh này», cột «Bot liên lạc được» ghi không liên lạc được: đó là cách nhìn của cửa"
            " sổ này, không phải của bot đang chạy. Số «Đã liên kết tài khoản» vẫn tính mọi kênh."
            " Nếu bot đang chạy (hoinghi run có TELEGRAM_BOT_TOKEN), đề nghị đặt"
            " TELEGRAM_BOT_TOKEN trong cửa sổ này rồi ghi lại báo cáo với --force."
        ],
    )
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:" + "A" * 35)  # `run` would start it
    assert db001_and_linked() == (("Telegram", "Có"), 1, [])


def test_every_workbook_prints_a4_landscape_one_page_wide_with_headings_on_each_page(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["report", "bao-cao.xlsx"]) == 0
    assert main(["invites", "export", "giay-moi.xlsx", "--bot-username", "hoinghi_bot"]) == 0
    assert main(["audit", "export", "nhat-ky.xlsx"]) == 0
    assert main(["drafts", "export", "tham-luan-xuat"]) == 0
    books = [
        "bao-cao.xlsx",
        "giay-moi.xlsx",
        "nhat-ky.xlsx",
        "tham-luan-xuat/danh-muc-tham-luan.xlsx",
    ]
    sheets = [sheet for name in books for sheet in load_workbook(office / name).worksheets]
    assert len(sheets) == len(SHEETS) + 3
    for sheet in sheets:
        setup, margins = sheet.page_setup, sheet.page_margins
        assert (setup.paperSize, setup.orientation) == (9, "landscape"), sheet.title  # 9: A4
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True, sheet.title
        assert sheet.print_title_rows == "$1:$1", sheet.title  # the headings on every page
        assert (margins.left, margins.right, margins.top, margins.bottom) == (0.4, 0.4, 0.6, 0.6)
        assert sheet.oddFooter.center.text == "&P/&N"  # page numbers


# What an A4 landscape page holds between the margins, in Excel's column-width units (the width
# of a digit of the 11-point font, about 7 pixels at 96 dpi): (297 mm - 2 x 1 cm) / 7 px.
A4_LANDSCAPE_COLUMNS = 148


async def test_the_report_prints_one_page_wide_at_more_than_half_its_size(
    harness: BotHarness,
) -> None:
    await answers(harness)  # a long name, a reason, a substitute, a blocked account's note
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    for sheet in book.worksheets:  # 11-point text prints at 6 points or more
        total = sum(sheet.column_dimensions[c].width for c in sheet.column_dimensions)
        assert A4_LANDSCAPE_COLUMNS / total >= 0.55, (sheet.title, total)


def test_long_text_wraps_in_its_column_and_the_row_grows_to_fit(tmp_path: Path) -> None:
    from bot.documents.workbook import LINE_HEIGHT, WRAP_WIDTH, Sheet, workbook_bytes

    position = "Phó Chủ tịch Ủy ban nhân dân thành phố phụ trách khối văn hóa – xã hội"  # 71
    sheet = Sheet(
        "t",
        ["Họ và tên", "Chức vụ", "Đã liên kết Telegram"],
        [["Nguyễn Thị A", position, "Có"], ["Trần Văn B", "Chủ tịch", "Chưa"]],
        wrap=frozenset({1}),
    )
    book = load_workbook(io.BytesIO(workbook_bytes([sheet]))).active
    assert book.column_dimensions["B"].width == WRAP_WIDTH  # not the 73 its longest text asks
    assert book["B2"].alignment.wrap_text and book["B2"].alignment.vertical == "top"
    assert book.row_dimensions[2].height == 3 * LINE_HEIGHT  # 71 characters in lines of 24
    assert book.row_dimensions[3].height is None  # one line: the default height
    # A long heading over a short answer wraps between its words instead of widening it.
    assert book.column_dimensions["C"].width == len("Telegram") + 4
    assert book.row_dimensions[1].height == 2 * LINE_HEIGHT


# --- the audit log -------------------------------------------------------------------------------


async def test_audit_export_names_who_changed_what_and_when(
    harness: BotHarness, tmp_path: Path
) -> None:
    from bot.documents.workbook import write_table
    from bot.services.report_file import audit_table

    await answers(harness)
    await harness.send(harness.admin().command("/phancong DB032 1.1"))
    services = harness.services
    catalog = load_catalog("vi")
    headings, rows = audit_table(catalog, services.config, await services.office_report.audit())
    write_table(tmp_path / "audit.csv", headings, rows)
    with (tmp_path / "audit.csv").open(encoding="utf-8-sig", newline="") as fh:
        read = list(csv.reader(fh))
    assert read[0] == [
        "Thời điểm", "Người thực hiện", "Thay đổi", "Đối tượng", "Mã đối tượng",
        "Trước", "Sau", "Người liên quan", "Tài khoản (mã kỹ thuật)",
    ]  # fmt: skip
    changes = [r for r in read[1:] if r[2] == "cập nhật xác nhận tham dự"]
    # DB001 attends; DB002 declines on the tap, then adds the reason; DB003's substitute: the
    # newest first, as Nhật ký's page lists them.
    assert [r[8] for r in changes] == [
        "telegram:500000003", "telegram:500000002", "telegram:500000002", "telegram:500000001"
    ]  # fmt: skip
    decline = next(r for r in changes if "Trùng lịch" in r[6])
    assert decline[0] == "18/05/2024 09:00"
    assert decline[1].startswith("Hoàng Thị Ngọc Diệp (DB002)")
    assert decline[5:7] == [
        "Trạng thái: Không tham dự",
        "Trạng thái: Không tham dự; Lý do: Trùng lịch công tác & họp <khẩn>",
    ]
    assert changes[-1][5:7] == ["Trạng thái: Chưa trả lời", "Trạng thái: Tham dự"]
    tricky = next(r for r in changes if "Lê Thị Hoa" in r[6])
    assert tricky[1] == f"{TRICKY} (DB003)"
    assert tricky[6] == (
        "Trạng thái: Cử người dự thay; Người dự thay: Lê Thị Hoa; "
        "Chức vụ người dự thay: Phó Chủ tịch; Đơn vị người dự thay: Thành ủy Hà Nội; "
        "Điện thoại người dự thay: +84*******678"  # masked as a delegate's own number is
    )
    assigned = [r for r in read[1:] if r[2] == "phân công tham luận"]
    assert [assigned[0][i] for i in (1, 2, 3, 8)] == [
        "Văn phòng",
        "phân công tham luận",
        "tham luận",
        "telegram:100000001",
    ]
    assert assigned[0][6].startswith("Nội dung tham luận: 1.1; Người: ")
    assert assigned[0][6].endswith(
        " (DB032); Phân công theo: Văn phòng; Hạn gửi bài: 21/05/2024 17:00"
    )
    blocked = next(r for r in read[1:] if r[2] == "không liên lạc được (đã chặn bot)")
    assert blocked[1].endswith("(DB004)") and blocked[3] == "người trong danh sách"
    assert blocked[7] == blocked[1]  # the person concerned: her own account was blocked
    assert blocked[5:7] == [
        "Bot liên lạc được: Có",
        "Bot liên lạc được: Không; Lý do: Đã chặn bot hoặc rời cuộc trò chuyện: đề nghị gọi điện",
    ]
    linked = [r for r in read[1:] if r[2] == "liên kết tài khoản"][-1]  # the oldest: DB001
    assert linked[6] == "Kênh: Telegram; Tài khoản: 500000001; Liên kết qua: đường liên kết cá nhân"
    imported = [r for r in read[1:] if r[2] == "thêm vào danh sách"]
    assert len(imported) == 80
    assert imported[-1][6] == (  # the first imported, the oldest: last
        "Mã: DB001; Họ và tên: Phạm Thị Thanh Mai; Chức vụ: Phó Chủ tịch Hội LHPN Việt Nam; "
        "Đơn vị: Trung ương Hội LHPN Việt Nam; Thành phần: Đại diện lãnh đạo Trung ương Hội LHPN Việt "
        "Nam; Thứ tự: 1; "
        "Vai trò: đại biểu"
    )
    # No raw JSON and no English key is left for the office to decode.
    sides = [cell for r in read[1:] for cell in r[5:7] if cell]
    assert not [c for c in sides if c.startswith("{") or re.search(r"\b[a-z]+_[a-z_]+\b", c)]


def test_audited_times_sizes_and_statuses_read_in_words_and_local_time() -> None:
    from bot.config import load_config
    from bot.services.office_report import AuditRow
    from bot.services.report_file import audit_table
    from tests.conftest import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG).config
    at = datetime(2024, 5, 20, 1, 0, tzinfo=UTC)

    def row(action: str, before: dict | None, after: dict | None) -> AuditRow:  # type: ignore[type-arg]
        return AuditRow(at, "telegram:100000001", None, True, action, "x", 7, before, after)

    rows = [
        row("broadcast.cancelled", {"due_at": "2024-05-20T01:00:00+00:00"}, None),
        row(
            "draft.version",
            {"status": "waiting"},
            {"status": "submitted", "version": 2, "size": 250_000},
        ),
        row(
            "task.status",
            {"person_id": 99, "status": "todo", "note": None},
            {"person_id": 99, "status": "need_help", "note": "Thiếu kinh phí"},
        ),
        row("task.closed", {"closed": False}, {"closed": True}),
    ]
    _, body = audit_table(load_catalog("vi"), config, rows)
    assert [r[5:7] for r in body] == [
        ["Dự kiến gửi: 20/05/2024 08:00", None],  # the time a cancelled notice no longer has
        [
            "Trạng thái: chưa gửi",
            "Trạng thái: đã gửi, chờ Văn phòng xem; Bản số: 2; Dung lượng: 245 KB",
        ],
        [
            "Người: 99; Trạng thái: chưa báo cáo",
            "Người: 99; Trạng thái: cần hỗ trợ; Ghi chú: Thiếu kinh phí",
        ],
        ["Kết thúc theo dõi: Không", "Kết thúc theo dõi: Có"],
    ]


def test_the_audit_export_names_whom_a_change_is_about_and_accounts_erased_or_on_zalo() -> None:
    # An answer taken by phone by the office said «đại biểu, 5» and «Liên kết qua: Văn phòng
    # ghi nhận qua điện thoại»; after a purge a delegate's own answer read «Tài khoản Telegram
    # chưa liên kết», and a Zalo one «zalo:đã-xóa»; a Zalo link «Kênh: zalo».
    from bot.config import load_config
    from bot.services.office_report import AuditRow
    from bot.services.report_file import audit_table
    from tests.conftest import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG).config
    at = datetime(2024, 5, 20, 1, 0, tzinfo=UTC)
    phone = AuditRow(
        at, "dashboard:NV01", "Nguyễn Thị Phương Trinh (NV01)", False, "rsvp.changed", "delegate",
        5, {"status": "no_answer"}, {"status": "attending", "via": "phone"},
        subject="Ngô Thị Bích Hạnh (DB005)",
    )  # fmt: skip
    erased = [
        AuditRow(at, f"{channel}:đã-xóa", None, False, "rsvp.changed", "delegate", 1, None, None)
        for channel in ("telegram", "zalo")
    ]
    linked = AuditRow(
        at, "zalo:9004", None, False, "identity.linked", "identity", 3, None,
        {"channel": "zalo", "external_id": "9004", "via": "code"},
    )  # fmt: skip
    _, body = audit_table(load_catalog("vi"), config, [phone, *erased, linked])
    assert body[0][3:8] == [
        "người trong danh sách",
        5,
        "Trạng thái: Chưa trả lời",
        "Trạng thái: Tham dự; Cách ghi nhận: Văn phòng ghi nhận qua điện thoại",
        "Ngô Thị Bích Hạnh (DB005)",
    ]
    assert [row[1] for row in body[1:3]] == [
        "Tài khoản Telegram (đã xóa khi xóa dữ liệu cá nhân)",
        "Tài khoản Zalo (đã xóa khi xóa dữ liệu cá nhân)",
    ]
    assert body[3][1] == "Tài khoản Zalo không liên kết với người nào trong danh sách"
    assert body[3][6] == (
        "Kênh: Zalo; Tài khoản: 9004; Liên kết qua: mã cá nhân (gõ mã in trên giấy mời)"
    )


def test_audit_export_command_writes_every_change(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["audit", "export", "nhat-ky.csv"]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert out.startswith("Đã xuất ") and out.endswith(" thay đổi ra nhat-ky.csv.")
    with (office / "nhat-ky.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    count = int(out.split()[2])
    assert len(rows) == count + 1
    assert {r[1] for r in rows[1:] if r[2] == "thêm vào danh sách"} == {"Dòng lệnh hoinghi"}


# --- the calendar --------------------------------------------------------------------------------


async def test_lich_sends_a_linked_delegate_the_meeting_calendar(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")
    await harness.send(user.command("/lich"))
    name, content = sent_file(harness, user.id)
    assert name == "hoi-nghi-60-KH-BTV.ics"
    event = next(iter(icalendar.Calendar.from_ical(content).walk("VEVENT")))
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute, str(start.tzinfo)) == (8, 0, "Asia/Ho_Chi_Minh")
    assert str(event["LOCATION"]).startswith("Hội trường Hội LHPN Hà Nội, ")
    assert "07:30–08:00 Đón tiếp đại biểu" in str(event["DESCRIPTION"])
    # The first revision of the event, stamped when the bot first saw the plan.
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTAMP") == harness.services.ctx.calendar.revised_at
    # The same file the meeting-morning messages attach.
    config = harness.services.config
    catalog = load_catalog(config.meeting.locale)
    assert content == meeting_calendar(config, catalog, harness.services.ctx.calendar)


async def test_lich_asks_a_stranger_to_open_their_link(harness: BotHarness) -> None:
    stranger = harness.new_user()
    await harness.send(stranger.command("/lich"))
    assert stranger.last_text().startswith("Tài khoản này chưa được liên kết")
    assert harness.fake.calls_to("sendDocument") == []


# --- printable invitation slips ------------------------------------------------------------------


def test_invites_print_writes_one_slip_per_delegate_with_their_qr_code(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from docx import Document
    from docx.oxml.ns import qn

    from bot.documents.slips import qr_png

    with EXAMPLE_DELEGATES.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows:
        if row[0] == "DB003":
            row[1], row[3] = TRICKY, "Ban Tổ chức & Ban Tuyên giáo <TW>"
    with (office / "ds.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    assert main(["delegates", "import", "ds.csv"]) == 0
    assert main(["people", "import", str(EXAMPLE_DELEGATES.parent / "contacts.csv")]) == 0
    assert main(["invites", "print", "phieu.docx", "--bot-username", "@hoinghi_bot"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã ghi 80 phiếu kèm giấy mời (bot @hoinghi_bot) vào phieu.docx."
    )

    document = Document(str(office / "phieu.docx"))
    assert len(document.tables) == 80  # delegates only: task contacts get no paper invitation
    slip = next(t for t in document.tables if "DB003" in t.cell(0, 1).text)
    left, right = slip.cell(0, 0).text, slip.cell(0, 1).text
    assert f"Kính gửi đồng chí {TRICKY}" in left
    assert "Ban Tổ chức & Ban Tuyên giáo <TW>" in left
    assert "08:00, Thứ Ba, ngày 28/5/2024 — Hội trường Hội LHPN Hà Nội" in left
    assert "Đề nghị đồng chí xác nhận tham dự trước 17:00, Thứ Ba, ngày 21/5/2024." in left
    assert "Quét mã để xác nhận tham dự" in right
    link = right.split("hoặc mở đường liên kết: ", 1)[1].split()[0]
    assert main(["invites", "export", "links.csv", "--bot-username", "hoinghi_bot"]) == 0
    with (office / "links.csv").open(encoding="utf-8-sig", newline="") as fh:
        exported = {row[0]: row for row in csv.reader(fh)}
    assert link == exported["DB003"][6]  # this delegate's own link, not a neighbour's
    # And their own personal code, where the bot named takes it (as her invitation says).
    assert f"Trên Telegram, tìm @hoinghi_bot và gửi:\n/start {exported['DB003'][7]}" in right
    blip = slip._tbl.xpath(".//a:blip")[0].get(qn("r:embed"))
    assert document.part.related_parts[blip].blob == qr_png(link)


def test_a_printed_slip_names_the_telegram_bot_that_takes_the_code_as_the_message_does(
    office_web: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`invites print` runs without the bot: the chats are those `run` starts with the same
    environment, Telegram's bot by the name its links carry (getMe with the token, or the one
    the office gives); the slip's words around the code come from the message's rule."""
    from docx import Document

    from bot.config import load_config
    from bot.services.invitation_files import code_line
    from bot.texts import load_catalog

    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.csv"]) == 0
    with (office_web / "links.csv").open(encoding="utf-8-sig", newline="") as fh:
        code = {row[0]: row[-3] for row in csv.reader(fh)}["DB001"]

    def slip_of_db001(*options: str) -> str:
        assert main(["invites", "print", "phieu.docx", "--force", *options]) == 0
        document = Document(str(office_web / "phieu.docx"))
        return next(t for t in document.tables if "DB001" in t.cell(0, 1).text).cell(0, 1).text

    # The web page on paper and no chat token: no chat takes the code, the desk does.
    assert f"Mã cá nhân:\n{code}\n" in slip_of_db001()
    # The Telegram bot named (the web page still on paper): the slip names it, with /start.
    named = slip_of_db001("--bot-username", "hoinghi_bot")
    assert f"Trên Telegram, tìm @hoinghi_bot và gửi:\n/start {code}\n" in named
    plan = load_config(office_web / "config.toml").config
    line = code_line(load_catalog("vi"), plan, code, chats={"telegram": "hoinghi_bot"})
    assert line.endswith(f"tìm @hoinghi_bot trên Telegram và gửi lệnh /start {code}.")
    # A Zalo token set and its bot unnamed in the plan: the meeting's bot, as the message says.
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:" + "a" * 40)
    assert f"Nhắn mã cá nhân cho bot của hội nghị:\n{code}\n" in slip_of_db001()


def test_invites_print_refuses_another_format(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invites", "print", "phieu.pdf", "--bot-username", "hoinghi_bot"]) == 2
    assert capsys.readouterr().err.strip() == "Phiếu in chỉ ghi ra tệp .docx, không phải phieu.pdf."


async def test_delegates_follow_their_rank_within_a_group_not_their_code(
    harness: BotHarness,
) -> None:
    services = harness.services
    parsed = parse_delegate_file(
        EXAMPLE_DELEGATES, [FileGroup(g.key, g.label) for g in services.config.groups]
    )
    rows = [dataclasses.replace(r, rank=9) if r.code == "DB001" else r for r in parsed.rows]
    await services.delegates.import_rows(rows, actor="test")
    sheet = load_workbook(io.BytesIO(await report_bytes(harness)))["Đại biểu"]
    codes = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes[:3] == ["DB002", "DB001", "DB003"]


async def test_control_characters_someone_typed_do_not_break_the_report(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB002")
    await harness.send(user.tap("❌ Không tham dự"))
    await harness.send(user.text("Bận\x07 công\x0c tác"))
    sheet = load_workbook(io.BytesIO(await report_bytes(harness)))["Đại biểu"]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "DB002")
    assert row[7] == "Bận công tác"


async def test_baocao_tells_an_admin_without_a_private_chat_how_to_get_the_file(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    group = harness.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    harness.fake.fail_next(
        "sendDocument",
        error_code=403,
        description="Forbidden: bot can't initiate conversation with a user",
    )
    await harness.send(group.command(admin, "/baocao"))
    assert harness.fake.messages_to(OFFICE_CHAT)[-1]["text"].startswith(
        "Bot chưa gửi được tệp vào tin nhắn riêng. Đề nghị đồng chí mở trò chuyện riêng với bot"
    )


async def test_baocao_refused_by_a_proxy_tells_the_admin_the_network_refused_it_not_to_open_a_chat(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """A company proxy's HTML 403 on the way was read as Telegram's «Forbidden»: the group was
    told she had never opened a private chat with the bot, which she may well have (the
    outbox reads that page as the office's network: PROXY_REFUSED). Now the group is told the
    office's network stopped it, and the log names the proxy's status."""
    admin = harness.admin()
    group = harness.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    harness.fake.fail_next(
        "sendDocument", proxy_page=True, error_code=403, description="Access Denied"
    )
    with caplog.at_level(logging.WARNING, logger="handlers.telegram.inbound"):
        await harness.send(group.command(admin, "/baocao"))
    assert [m["text"] for m in harness.fake.messages_to(OFFICE_CHAT)] == [
        "Bot chưa gửi được tin riêng tới đồng chí vì mạng của cơ quan (máy chủ proxy hoặc tường "
        "lửa) chặn kết nối của bot, không phải do đồng chí. Đề nghị bộ phận kỹ thuật kiểm "
        "tra mạng, rồi đồng chí thử lại."
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.telegram.inbound"] == [
        "private message refused by a proxy: HTTP 403"
    ]


def test_invites_print_refuses_a_bot_name_that_would_print_broken_qr_codes(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invites", "print", "phieu.docx", "--bot-username", "t.me/hoinghi"]) == 2
    assert capsys.readouterr().err.startswith("Tên bot t.me/hoinghi không hợp lệ")
    assert not (office / "phieu.docx").exists()


def test_invites_print_names_the_plan_s_zalo_bot_only_when_its_token_is_set(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing runs while `invites print` writes: the chats are those `run` would start with
    this environment. The plan names a Zalo bot but no ZALO_BOT_TOKEN is set: the slip sent
    her to it all the same; it names the Telegram bot whose links it prints."""
    from docx import Document

    config = office / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[reminders]", '[zalo]\nbot_name = "Bot Hội nghị LHPN"\n\n[reminders]', 1),
        encoding="utf-8",
    )
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "print", "phieu.docx", "--bot-username", "hoinghi_bot"]) == 0
    document = Document(str(office / "phieu.docx"))
    slip = next(t for t in document.tables if "DB001" in t.cell(0, 1).text).cell(0, 1).text
    assert "Zalo" not in slip and "Trên Telegram, tìm @hoinghi_bot và gửi:\n/start " in slip


def test_with_a_zalo_bot_named_the_slip_says_where_to_send_the_code(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from docx import Document

    config = office / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[reminders]", '[zalo]\nbot_name = "Bot Hội nghị LHPN"\n\n[reminders]', 1),
        encoding="utf-8",
    )
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:zalo-test-token")  # `run` would start it
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "print", "phieu.docx", "--bot-username", "hoinghi_bot"]) == 0
    assert main(["invites", "export", "links.csv", "--bot-username", "hoinghi_bot"]) == 0
    with (office / "links.csv").open(encoding="utf-8-sig", newline="") as fh:
        codes = {row[0]: row[7] for row in csv.reader(fh)}
    document = Document(str(office / "phieu.docx"))
    slip = next(t for t in document.tables if "DB001" in t.cell(0, 1).text)
    assert (
        f"Trên Zalo, tìm «Bot Hội nghị LHPN» và gửi mã:\n{codes['DB001']}" in slip.cell(0, 1).text
    )
