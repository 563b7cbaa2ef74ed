"""The meeting day's papers: the signature sheet and the name cards of everyone expected
(.docx), and the present list (.xlsx), from the service, the CLI and the dashboard."""

from __future__ import annotations

import html
import io
import re
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from bot.config import Config, load_config
from bot.documents.day_papers import (
    NAME_MAX_PT,
    NAME_MIN_PT,
    NameCard,
    build_name_cards,
    name_fits_one_line,
    name_size,
    position_size,
    sheet_widths,
)
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services import Services
from bot.services.access import Role
from bot.services.checkin import ArrivalKind, Came, Resume, Roll, RollLine
from bot.services.day_files import (
    name_cards_document,
    position_and_unit,
    present_page,
    present_table,
    present_workbook,
    sign_sheet_document,
)
from bot.services.report_file import office_report_sheets
from bot.texts import load_catalog
from handlers.web.office.checkin import DeskPages, desk_pages_of
from storage.engine import create_engine
from storage.migrate import upgrade_database
from storage.models import Checkin, Delegate
from tests.conftest import EXAMPLE_CONFIG
from tests.office_support import Desk, desk_for, make_staff, text_of
from tests.test_checkin import (  # noqa: F401 (the meeting-day fixture)
    MORNING,
    Day,
    day,
    lists_imported_and_two_checked_in,
    two_days,
)
from tests.test_web_checkin import CHECKIN_STAFF, at_desk

VI = load_catalog("vi")
SUBSTITUTE = "Lê Thu Trang"
SUBSTITUTE_POSITION = "Phó Chánh Văn phòng Thành ủy"
HEADINGS = ["STT", "Họ và tên", "Chức vụ", "Đơn vị", "Ký tên"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
async def hall(day: Day) -> Day:  # noqa: F811
    """The example morning (DB010 declined, DB003 sent Lê Thu Trang, DB001 and DB002 attend)
    with DB004's invitation withdrawn, DB001 in at 07:31 and DB003's substitute at 07:35 at
    «Cổng A», and a guest at 07:40."""
    services = day.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB004")
    desk = await day.desk("NV02", "Cổng A")
    day.clock.set(MORNING + timedelta(minutes=1))
    await day.checkin.check_in(desk, "DB001")
    day.clock.set(MORNING + timedelta(minutes=5))
    await day.checkin.check_in(
        desk, "DB003", substitute_name=SUBSTITUTE, substitute_position=SUBSTITUTE_POSITION
    )
    day.clock.set(MORNING + timedelta(minutes=10))
    await day.checkin.guest(
        desk, "Trần Văn Khách", position="Phóng viên", organization="Báo Phụ nữ Thủ đô"
    )
    return day


@pytest.fixture
async def office_desk(hall: Day) -> AsyncIterator[Desk]:
    """NV01, given the office role, signed in to the dashboard on ``hall``'s morning."""
    await make_staff(hall.services, "NV01")
    desk = await desk_for(hall.services)
    await desk.sign_in("NV01")
    yield desk
    await desk.client.aclose()


def cells(row) -> list[str]:  # type: ignore[no-untyped-def]
    return [cell.text for cell in row.cells]


async def present_book(services: Services) -> Workbook:
    """The present list's workbook («Có mặt», «Chưa có mặt», …) as it would be downloaded now."""
    roll = await services.checkin.roll()
    return load_workbook(io.BytesIO(present_workbook(VI, services.config, roll)))


async def test_the_signature_sheet_lists_everyone_expected_by_group_with_the_substitute_in_place(
    hall: Day,
) -> None:
    services = hall.services
    config = services.config
    roll = await services.checkin.roll()
    content, count = sign_sheet_document(VI, config, roll, hall.clock.now())
    document = Document(io.BytesIO(content))
    section = document.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT and section.page_width < section.page_height
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[:4] == [
        "DANH SÁCH ĐẠI BIỂU KÝ TÊN",
        config.meeting.title,
        "08:00, Thứ Ba, ngày 28/5/2024 — Hội trường Hội LHPN Hà Nội, Số 7 phố Tôn Thất Thuyết, "
        "phường Dịch Vọng Hậu, quận Cầu Giấy, thành phố Hà Nội",
        "Gồm đại biểu đã xác nhận tham dự và đại biểu chưa trả lời; người được cử dự thay ký vào "
        "dòng ghi họ tên, chức vụ của chính mình, kèm «(dự thay đ/c …)». Không gồm đại biểu đã báo "
        "vắng và giấy mời đã rút. Người đến dự chưa có tên trong danh sách xin ghi vào các dòng "
        "trống ở cuối mỗi bảng.",
    ]
    # 80 invited, less DB010 (declined) and DB004 (withdrawn).
    assert count == 78
    groups = [group for group in config.groups_in_order]
    tables = document.tables
    assert len(tables) == len(groups)
    assert paragraphs[4] == "1. Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam (2 người)"
    assert paragraphs[5] == f"2. {groups[1].label} (3 người)"  # DB003's substitute, DB005-6
    rows = [row for table in tables for row in table.rows[1:-3]]
    assert len(rows) == 78
    for table in tables:
        assert cells(table.rows[0]) == HEADINGS
        # The heading row is repeated on every page the table runs onto.
        assert "<w:tblHeader/>" in table.rows[0]._tr.xml
        # Three blank lines, unnumbered and as tall as the others, end each table: for whoever
        # comes and is not listed.
        assert [cells(row) for row in table.rows[-3:]] == [[""] * 5] * 3
        assert all('w:val="737"' in row._tr.xml for row in table.rows[-3:])
    assert [cells(row)[0] for row in rows] == [str(n) for n in range(1, 79)]
    assert cells(tables[0].rows[1]) == [
        "1", "Phạm Thị Thanh Mai", "Phó Chủ tịch Hội LHPN Việt Nam",
        "Trung ương Hội LHPN Việt Nam", "",
    ]  # fmt: skip
    # DB003 sent a substitute: her line is the substitute's, naming whom she stands in for.
    assert cells(tables[1].rows[1]) == [
        "3", f"{SUBSTITUTE}\n(dự thay đ/c Vũ Thị Hồng Nhung)", SUBSTITUTE_POSITION,
        "Thành ủy Hà Nội", "",
    ]  # fmt: skip
    # DB004 (withdrawn) is left out; DB005 follows the substitute.
    assert cells(tables[1].rows[2])[1] == "Ngô Thị Bích Hạnh"
    text = "\n".join(cell for row in rows for cell in cells(row))
    links = {link.code: link.full_name for link in await services.invitations.links()}
    assert "Đặng Minh Quân" not in text and "Trịnh Văn Thắng" not in text  # DB004, DB010
    names = [cells(row)[1].split("\n")[0] for row in rows]
    expected = [
        SUBSTITUTE if code == "DB003" else name
        for code, name in links.items()
        if code.startswith("DB") and code not in ("DB004", "DB010")
    ]
    assert sorted(names) == sorted(expected)


async def test_the_name_cards_print_each_expected_person_twice_on_a_folded_landscape_page(
    hall: Day,
) -> None:
    services = hall.services
    roll = await services.checkin.roll()
    content, count = name_cards_document(VI, services.config, roll, hall.clock.now())
    assert count == 78
    document = Document(io.BytesIO(content))
    section = document.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE and section.page_width > section.page_height
    assert len(document.tables) == 78
    first, third = document.tables[0], document.tables[2]
    # Position and unit, as the personal page greets her.
    assert (
        cells(first.rows[0])
        == ["Phó Chủ tịch Hội LHPN Việt Nam, Trung ương Hội LHPN Việt Nam\nPHẠM THỊ THANH MAI"] * 2
    )
    # The substitute's card: her own name and position; she gave no unit of her own (no comma),
    # so the invitee's.
    assert cells(third.rows[0]) == [f"{SUBSTITUTE_POSITION}, Thành ủy Hà Nội\nLÊ THU TRANG"] * 2
    # Both faces read upright once folded: the text runs along the fold, each way.
    assert 'w:textDirection w:val="tbRl"' in first._tbl.xml
    assert 'w:textDirection w:val="btLr"' in first._tbl.xml
    everything = "\n".join(cells(table.rows[0])[0] for table in document.tables)
    assert "ĐẶNG MINH QUÂN" not in everything


def test_a_long_name_gets_a_smaller_size_and_still_fits_a_card() -> None:
    # The longest shape of a real name: four given names (32 characters).
    short, long = "Lê Hà", "Nguyễn Thị Thanh Hương Quỳnh Anh"
    assert name_size(short) == NAME_MAX_PT
    assert NAME_MIN_PT <= name_size(long) < NAME_MAX_PT
    assert name_fits_one_line(long)
    assert name_size("Tôn Nữ Thị " * 6) == NAME_MIN_PT  # beyond this it wraps at its spaces
    content = build_name_cards([NameCard(long, "Ủy viên")], "Hội nghị")
    card = Document(io.BytesIO(content)).tables[0]
    sizes = [run.font.size.pt for run in card.rows[0].cells[0].paragraphs[1].runs]
    assert sizes == [name_size(long)]


def test_the_position_on_a_card_shrinks_with_a_long_name_and_stays_smaller() -> None:
    floor = "Tôn Nữ Thị " * 6  # a name shrunk to the floor
    content = build_name_cards(
        [NameCard("Lê Hà", "Chủ tịch, Hội LHPN quận Ba Đình"), NameCard(floor, "Ủy viên")],
        "Hội nghị",
    )
    short, long = Document(io.BytesIO(content)).tables
    for card, name_pt, position_pt in ((short, 60, 22), (long, 20, 15)):
        for face in card.rows[0].cells:
            assert [run.font.size.pt for run in face.paragraphs[0].runs] == [position_pt]
            assert [run.font.size.pt for run in face.paragraphs[1].runs] == [name_pt]
    assert [position_size(pt) for pt in (NAME_MAX_PT, 30, 28, NAME_MIN_PT)] == [22, 22, 21, 15]


async def test_the_present_list_names_who_is_in_by_group_and_who_is_still_expected_with_phones(
    hall: Day,
) -> None:
    services = hall.services
    book = await present_book(services)
    leaders = services.config.group("lanh_dao_thanh_pho").label  # type: ignore[union-attr]
    assert book.sheetnames == ["Có mặt", "Chưa có mặt", "Chưa trả lời"]
    present = [list(row) for row in book["Có mặt"].iter_rows(values_only=True)]
    assert present == [
        ["Nhóm", "STT", "Họ và tên", "Chức vụ", "Đơn vị", "Tư cách", "Giờ đến", "Bàn đón tiếp"],
        ["Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam", 1, "Phạm Thị Thanh Mai", "Phó Chủ tịch Hội LHPN Việt Nam",
         "Trung ương Hội LHPN Việt Nam", "Đại biểu", "07:31", "Cổng A"],
        [leaders, 2, SUBSTITUTE, SUBSTITUTE_POSITION,
         "Thành ủy Hà Nội", "Dự thay đ/c Vũ Thị Hồng Nhung", "07:35", "Cổng A"],
        ["Khách ngoài danh sách", 3, "Trần Văn Khách", "Phóng viên", "Báo Phụ nữ Thủ đô",
         "Khách ngoài danh sách", "07:40", "Cổng A"],
    ]  # fmt: skip
    missing = [list(row) for row in book["Chưa có mặt"].iter_rows(values_only=True)]
    assert missing[0] == [
        "Nhóm", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Trả lời", "Người dự thay", "Điện thoại",
    ]  # fmt: skip
    # «Dự kiến» as on the «Có mặt» page: DB001-3 said they come (or send a substitute), DB001
    # and DB003's substitute are in; DB002 alone is awaited.
    assert missing[1:] == [
        ["Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam", "DB002", "Hoàng Thị Ngọc Diệp",
         "Trưởng Ban Tổ chức Trung ương Hội", "Trung ương Hội LHPN Việt Nam", "Tham dự", None,
         None],
    ]  # fmt: skip
    # Those who have not answered, apart: the other 75 of the 78 on the signature sheet.
    unanswered = [list(row) for row in book["Chưa trả lời"].iter_rows(values_only=True)]
    assert unanswered[0] == ["Nhóm", "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Điện thoại"]
    codes = [row[1] for row in unanswered[1:]]
    assert len(codes) == 75 and codes[:2] == ["DB005", "DB006"]
    assert not {"DB001", "DB002", "DB003", "DB004", "DB010"} & set(codes)
    assert unanswered[2][5] == "0912 345 006"
    # Long group labels and names wrap in narrow columns instead of being cut.
    for title, wrapped in (("Có mặt", "ACDEF"), ("Chưa có mặt", "ACDEG"), ("Chưa trả lời", "ACDE")):
        sheet = book[title]
        for column in wrapped:
            assert sheet.column_dimensions[column].width <= 26, (title, column)
            assert sheet[f"{column}2"].alignment.wrap_text, (title, column)


async def test_the_not_yet_in_sheet_gives_the_substitute_s_phone_where_a_substitute_is_coming(
    hall: Day,
) -> None:
    """The office calls the person it awaits: the substitute, by the number she gave (said to
    be hers); where she gave none, the invitee's, said to be the invitee's."""
    services = hall.services
    await hall.substitutes_by_phone()
    book = await present_book(services)
    missing = {row[1]: list(row) for row in book["Chưa có mặt"].iter_rows(values_only=True)}
    assert missing["DB005"][6:] == ["Nguyễn Thị Hoa", "0912 345 678 (người dự thay)"]
    assert missing["DB006"][6:] == ["Trần Mai", "0912 345 006 (đại biểu cử người dự thay)"]


async def test_a_substitute_named_only_at_the_desk_is_listed_with_the_position_the_desk_wrote(
    hall: Day,
) -> None:
    services = hall.services
    desk = await hall.desk("NV03", "Cổng B")
    hall.clock.set(MORNING + timedelta(minutes=20))
    await hall.checkin.check_in(
        desk, "DB005", substitute_name="Nguyễn Văn Thay", substitute_position="Chánh Văn phòng"
    )
    roll = await services.checkin.roll()
    book = load_workbook(io.BytesIO(present_workbook(VI, services.config, roll)))
    rows = [list(row) for row in book["Có mặt"].iter_rows(values_only=True)]
    assert rows[3][2:] == [
        "Nguyễn Văn Thay", "Chánh Văn phòng", "UBND thành phố Hà Nội",
        "Dự thay đ/c Ngô Thị Bích Hạnh", "07:50", "Cổng B",
    ]  # fmt: skip
    # The signature sheet follows the answers: DB005 never named a substitute.
    content, _ = sign_sheet_document(VI, services.config, roll, hall.clock.now())
    leaders = Document(io.BytesIO(content)).tables[1]
    assert cells(leaders.rows[2])[1] == "Ngô Thị Bích Hạnh"


async def test_a_substitute_whose_unit_is_stored_apart_prints_her_position_whole_and_her_unit(
    hall: Day,
) -> None:
    """Since migration 0026 the unit is stored apart: a comma in her position («phụ trách tổng
    hợp») is no longer taken for the start of her unit, on the sheet, her card and the present
    list."""
    services = hall.services
    card = await services.dashboard.card("DB005")
    assert card is not None
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE,
        substitute_name="Nguyễn Thị Hoa",
        substitute_position="Phó Chánh Văn phòng, phụ trách tổng hợp",
        substitute_unit="Hội LHPN quận Ba Đình",
        substitute_phone="+84912345678",
    )
    await services.rsvp.record_by_phone(services.access.local_operator(), card.person.id, answer)
    roll = await services.checkin.roll()
    content, _ = sign_sheet_document(VI, services.config, roll, hall.clock.now())
    leaders = Document(io.BytesIO(content)).tables[1]
    assert cells(leaders.rows[2]) == [
        "4", "Nguyễn Thị Hoa\n(dự thay đ/c Ngô Thị Bích Hạnh)",
        "Phó Chánh Văn phòng, phụ trách tổng hợp", "Hội LHPN quận Ba Đình", "",
    ]  # fmt: skip
    cards, _ = name_cards_document(VI, services.config, roll, hall.clock.now())
    fourth = Document(io.BytesIO(cards)).tables[3]
    assert (
        cells(fourth.rows[0])
        == ["Phó Chánh Văn phòng, phụ trách tổng hợp, Hội LHPN quận Ba Đình\nNGUYỄN THỊ HOA"] * 2
    )
    # At the desk, her answer's position kept: the present list has her unit too.
    desk = await hall.desk("NV03", "Cổng B")
    await hall.checkin.check_in(
        desk, "DB005", substitute_name="Nguyễn Thị Hoa",
        substitute_position="Phó Chánh Văn phòng, phụ trách tổng hợp",
    )  # fmt: skip
    _, rows = present_table(VI, services.config, await services.checkin.roll())
    hoa = next(row for row in rows if row[2] == "Nguyễn Thị Hoa")
    assert hoa[3:5] == ["Phó Chánh Văn phòng, phụ trách tổng hợp", "Hội LHPN quận Ba Đình"]


async def test_a_desk_that_corrects_the_substitute_s_position_keeps_the_unit_she_gave(
    hall: Day,
) -> None:
    services = hall.services
    card = await services.dashboard.card("DB005")
    assert card is not None
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE,
        substitute_name="Nguyễn Thị Hoa",
        substitute_position="Phó Chánh Văn phòng",
        substitute_unit="Hội LHPN quận Ba Đình",
    )
    await services.rsvp.record_by_phone(services.access.local_operator(), card.person.id, answer)
    desk = await hall.desk("NV03", "Cổng B")
    await hall.checkin.check_in(
        desk, "DB005", substitute_name="Nguyễn Thị Hoa",
        substitute_position="Chánh Văn phòng",
    )  # fmt: skip
    _, rows = present_table(VI, services.config, await services.checkin.roll())
    hoa = next(row for row in rows if row[2] == "Nguyễn Thị Hoa")
    assert hoa[3:5] == ["Chánh Văn phòng", "Hội LHPN quận Ba Đình"]


async def test_a_substitute_who_gave_her_unit_sits_under_it_on_the_sheet_and_her_card(
    hall: Day,
) -> None:
    """An answer given before migration 0026 holds «position, unit» in one field (the page's
    form and the chats' one question glued them): DB005 (UBND thành phố Hà Nội) sends a deputy
    of another unit, stored as the form stored it then; nothing printed changes for it."""
    services = hall.services
    card = await services.dashboard.card("DB005")
    assert card is not None
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE,
        substitute_name="Nguyễn Thị Hoa",
        substitute_position="Phó Chủ tịch Hội LHPN quận, Hội LHPN quận Ba Đình",
    )
    await services.rsvp.record_by_phone(services.access.local_operator(), card.person.id, answer)
    roll = await services.checkin.roll()
    content, _ = sign_sheet_document(VI, services.config, roll, hall.clock.now())
    leaders = Document(io.BytesIO(content)).tables[1]
    assert cells(leaders.rows[2]) == [
        "4", "Nguyễn Thị Hoa\n(dự thay đ/c Ngô Thị Bích Hạnh)", "Phó Chủ tịch Hội LHPN quận",
        "Hội LHPN quận Ba Đình", "",
    ]  # fmt: skip
    # DB003's substitute gave her position alone: the invitee's unit.
    assert cells(leaders.rows[1])[2:4] == [SUBSTITUTE_POSITION, "Thành ủy Hà Nội"]
    cards, _ = name_cards_document(VI, services.config, roll, hall.clock.now())
    fourth = Document(io.BytesIO(cards)).tables[3]
    assert (
        cells(fourth.rows[0])
        == ["Phó Chủ tịch Hội LHPN quận, Hội LHPN quận Ba Đình\nNGUYỄN THỊ HOA"] * 2
    )
    # What the field cannot tell: a comma is read as the start of her unit.
    assert position_and_unit("Phó Chủ tịch, Hội LHPN quận Ba Đình", "Sở Nội vụ") == (
        "Phó Chủ tịch", "Hội LHPN quận Ba Đình",
    )  # fmt: skip
    assert position_and_unit("Phó Giám đốc", "Sở Nội vụ") == ("Phó Giám đốc", "Sở Nội vụ")
    assert position_and_unit("Phó Giám đốc,", "Sở Nội vụ") == ("Phó Giám đốc,", "Sở Nội vụ")
    assert position_and_unit(None, "Sở Nội vụ") == ("", "Sở Nội vụ")


def test_the_attendance_cli_writes_the_three_papers(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lists_imported_and_two_checked_in(office)  # DB001 in, a guest; nobody has answered
    capsys.readouterr()
    assert main(["attendance", "sheet", "ky-ten.docx"]) == 0
    assert capsys.readouterr().out.strip() == "Đã ghi danh sách ký tên (80 người) vào ky-ten.docx."
    assert (
        len(Document(str(office / "ky-ten.docx")).tables[0].rows) == 1 + 2 + 3
    )  # heading, two people, three blank lines
    assert main(["attendance", "cards", "bang-ten.docx"]) == 0
    assert capsys.readouterr().out.strip() == "Đã ghi 80 bảng tên vào bang-ten.docx."
    assert main(["attendance", "present", "co-mat.xlsx"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Đã ghi danh sách có mặt vào co-mat.xlsx: 2 người có mặt (kể cả khách); 0 người dự kiến "
        "(đã xác nhận tham dự hoặc cử người dự thay) chưa có mặt; 79 đại biểu chưa trả lời chưa "
        "có mặt."
    )
    rows = list(load_workbook(office / "co-mat.xlsx")["Có mặt"].iter_rows(values_only=True))
    assert [row[2] for row in rows[1:]] == ["Phạm Thị Thanh Mai", "Hoàng Văn Nam"]
    # The file's type is checked before anything is read.
    assert main(["attendance", "sheet", "ky-ten.pdf"]) == 2
    assert capsys.readouterr().err.strip() == "Tệp ky-ten.pdf phải có đuôi .docx."
    assert main(["attendance", "present", "co-mat.docx"]) == 2
    assert capsys.readouterr().err.strip() == "Tệp co-mat.docx phải có đuôi .xlsx."


async def test_the_attendance_page_and_the_invitations_page_offer_the_day_papers(
    office_desk: Desk,
) -> None:
    for path in ("/office/attendance", "/office/invitations"):
        page = (await office_desk.client.get(path)).text
        assert 'href="/office/attendance/sign-sheet.docx"' in page, path
        assert 'href="/office/attendance/name-cards.docx"' in page, path
        assert 'href="/office/attendance/present.xlsx"' in page, path
        assert text_of(page, "download-present").startswith("Danh sách đại biểu có mặt (.xlsx)")
        # 80 invited less DB010 (declined) and DB004 (withdrawn): the papers' 78 lines, the
        # three who answered told apart from the 75 who did not.
        counted = "(78 người: 3 đã xác nhận tham dự hoặc cử người dự thay, 75 chưa trả lời)"
        assert text_of(page, "sheet-count") == counted, path
        assert text_of(page, "cards-count") == counted, path
    # «Có mặt» is watched during arrival: its figures and who is still awaited come first,
    # the papers (printed before the doors open) below, a link at the top leading to them.
    attendance = (await office_desk.client.get("/office/attendance")).text
    places = [attendance.index(f'id="{part}"') for part in ("totals", "missing", "day-papers")]
    assert places == sorted(places)
    assert text_of(attendance, "papers-link") == "Giấy tờ ngày hội nghị (cuối trang)"
    assert 'href="#day-papers" id="papers-link"' in attendance
    for path, kind, name in (
        ("sign-sheet.docx", DOCX, "danh-sach-ky-ten"),
        ("name-cards.docx", DOCX, "bang-ten"),
        ("present.xlsx", XLSX, "danh-sach-co-mat"),
    ):
        response = await office_desk.client.get(f"/office/attendance/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"] == kind
        suffix = path.rsplit(".", 1)[1]
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{name}-60-KH-BTV-20240528-0740.{suffix}"'
        )
        assert response.headers["cache-control"] == "no-store"
    sheet = await office_desk.client.get("/office/attendance/sign-sheet.docx")
    assert (
        len(Document(io.BytesIO(sheet.content)).tables[0].rows) == 1 + 2 + 3
    )  # heading, two people, three blank lines


def rows_of(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's rows of a workbook."""
    book = load_workbook(io.BytesIO(content))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


async def test_the_day_papers_downloads_read_the_roll_off_the_event_loop(
    hall: Day, office_desk: Desk
) -> None:
    # At 10,000 invitees reading the roll held the loop (the chats, the pages, the outbox) for
    # tens of milliseconds: each download reads it in a worker thread, on its own connection.
    loop_thread = threading.get_ident()
    ran: list[int] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "checkins.desk" in statement and "rsvps.substitute_position" in statement:
            ran.append(threading.get_ident())  # the roll's one select

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        for path in ("sign-sheet.docx", "name-cards.docx", "present.xlsx"):
            response = await office_desk.client.get(f"/office/attendance/{path}")
            assert response.status_code == 200, path
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(ran) == 3 and loop_thread not in ran
    # The worker read what the loop reads: the present list (the last) is the roll's.
    here = present_workbook(VI, hall.services.config, await hall.checkin.roll())
    assert rows_of(response.content) == rows_of(here)


class TestOnAnInMemoryDatabase:
    """The example morning on an in-memory SQLite database (``sqlite+aiosqlite://``, which
    storage.guard lets a trial use): it lives in its one connection, another engine opened
    from its URL is a new, empty one."""

    @pytest.fixture
    async def engine(self) -> AsyncIterator[AsyncEngine]:
        engine = create_engine("sqlite+aiosqlite://")
        await upgrade_database(engine)
        yield engine
        await engine.dispose()

    async def test_the_day_papers_download_from_an_in_memory_database(
        self, hall: Day, office_desk: Desk
    ) -> None:
        # The worker opened the URL again: an empty database, no tables, the download a 500.
        for path in ("sign-sheet.docx", "name-cards.docx", "present.xlsx"):
            response = await office_desk.client.get(f"/office/attendance/{path}")
            assert response.status_code == 200, path
        here = present_workbook(VI, hall.services.config, await hall.checkin.roll())
        assert rows_of(response.content) == rows_of(here)
        assert [row[2] for row in rows_of(response.content)["Có mặt"][1:]] == [
            "Phạm Thị Thanh Mai",
            SUBSTITUTE,
            "Trần Văn Khách",
        ]


async def test_the_present_list_is_shown_on_its_page_by_name(hall: Day, office_desk: Desk) -> None:
    attendance = (await office_desk.client.get("/office/attendance")).text
    assert 'href="/office/attendance/present" id="present-link"' in attendance
    page = await office_desk.client.get("/office/attendance/present")
    assert page.status_code == 200
    assert text_of(page.text, "present-at").startswith(
        "Lúc 07:40, Thứ Ba, ngày 28/5/2024: 3 người đã có mặt, theo từng thành phần, sau đó "
        "là khách. Người chưa có mặt xem ở trang «Có mặt»."
    )
    table = page.text[page.text.index('id="present-list"') :]
    assert (
        table.index("Phạm Thị Thanh Mai") < table.index(SUBSTITUTE) < table.index("Trần Văn Khách")
    )
    assert '<td data-label="Tư cách">Dự thay đ/c Vũ Thị Hồng Nhung</td>' in table
    # A heading per group, as on the signature sheet; the rows without the group, each
    # cell named by its heading (a phone shows them stacked, «Heading: value»).
    leaders = hall.services.config.group("lanh_dao_thanh_pho").label  # type: ignore[union-attr]
    assert re.findall(r'<h2 class="present-group">([^<]*)</h2>', table) == [
        "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam", leaders, "Khách ngoài danh sách",
    ]  # fmt: skip
    assert re.findall(r'<th scope="col">([^<]*)</th>', table)[:7] == [
        "STT", "Họ và tên", "Chức vụ", "Đơn vị", "Tư cách", "Giờ đến", "Bàn đón tiếp",
    ]  # fmt: skip
    assert table.count('<table class="stack">') == 3
    assert ">Nhóm<" not in table


async def test_the_present_list_calls_guests_what_the_report_calls_them_not_invited_guests(
    hall: Day,
) -> None:
    # «Tư cách» said «Khách mời» (an invited guest) for a walk-in guest and for DB004, whose
    # invitation was withdrawn, let in from her card; the report's sheet and the guide say
    # «Khách ngoài danh sách» and «… (giấy mời đã bị rút)».
    services = hall.services
    desk = await hall.desk("NV03", "Cổng B")
    hall.clock.set(MORNING + timedelta(minutes=15))
    assert (await hall.checkin.guest_of(desk, "DB004")).step.value == "checked_in"
    book = await present_book(services)
    as_whom = {row[2]: row[5] for row in book["Có mặt"].iter_rows(min_row=2, values_only=True)}
    withdrawn = (await hall.checkin.lookup(desk, "DB004")).person
    assert withdrawn is not None
    assert (as_whom["Trần Văn Khách"], as_whom[withdrawn.full_name]) == (
        "Khách ngoài danh sách",
        "Khách ngoài danh sách (giấy mời đã bị rút)",
    )
    report = office_report_sheets(VI, services.config, await services.office_report.collect())
    reported = {row[4]: row[7] for row in report[-1].rows}  # «Người đến», «Tư cách»
    for name in ("Trần Văn Khách", withdrawn.full_name):
        assert as_whom[name] == reported[name]


async def test_the_live_count_and_the_day_papers_see_the_same_people_off_the_list(
    hall: Day,
) -> None:
    """The guest, and DB002 checked in and her invitation withdrawn afterwards: the live page
    and the papers read them from one query, in the same order."""
    desk = await hall.desk("NV03", "Cổng B")
    hall.clock.set(MORNING + timedelta(minutes=12))
    await hall.checkin.check_in(desk, "DB002")
    services = hall.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB002")
    seen = await hall.checkin.attendance(services.access.local_operator())
    roll = await hall.checkin.roll()
    assert [view.full_name for view in seen.guests] == ["Trần Văn Khách"]
    assert [view.full_name for view in seen.withdrawn] == ["Hoàng Thị Ngọc Diệp"]
    assert (roll.guests, roll.withdrawn) == (seen.guests, seen.withdrawn)
    assert "DB002" not in [line.code for line in roll.lines]


async def office_with_present_pages_of_two(hall: Day) -> tuple[Desk, DeskPages]:
    """NV01 of the office on a new dashboard (not signed in yet) whose «Có mặt» page shows two
    rows, as 200 of thousands in the hall: two of three here; and the pages, to set it."""
    await make_staff(hall.services, "NV01")
    desk = await desk_for(hall.services)
    transport = desk.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    pages = desk_pages_of(transport.app.routes)  # type: ignore[attr-defined]
    assert pages is not None
    pages.present_page = 2
    return desk, pages


async def test_the_present_page_shows_a_page_of_those_in_and_reads_no_one_still_awaited(
    hall: Day,
) -> None:
    # What the page reads: the two invitees in (in protocol order) and the guest, nobody else.
    roll = await hall.services.checkin.roll(present_only=True)
    assert [line.code for line in roll.lines] == ["DB001", "DB003"]
    assert [view.full_name for view in roll.guests] == ["Trần Văn Khách"]
    desk, pages = await office_with_present_pages_of_two(hall)
    try:
        await desk.sign_in("NV01")
        first = (await desk.client.get("/office/attendance/present")).text
        assert present_names(first) == [("1", "Phạm Thị Thanh Mai"), ("2", SUBSTITUTE)]
        assert text_of(first, "present-at").startswith("Lúc 07:40, Thứ Ba, ngày 28/5/2024: 3 người")
        assert text_of(first, "present-shown") == (
            "Đang hiện người thứ 1 đến 2 trong số 3 người có mặt; danh sách đầy đủ có trong tệp "
            ".xlsx."
        )
        # Going on after the page's last row (DB003: group 2, rank 1, her code), not row 2.
        assert 'id="present-more" href="?after=0.2.1.DB003"' in first
        assert 'id="present-first"' not in first
        second = (await desk.client.get("/office/attendance/present?after=0.2.1.DB003")).text
        assert present_names(second) == [("3", "Trần Văn Khách")]
        assert text_of(second, "present-shown") == (
            "Đang hiện người thứ 3 đến 3 trong số 3 người có mặt; danh sách đầy đủ có trong tệp "
            ".xlsx."
        )
        assert 'id="present-more"' not in second
        assert 'id="present-first" href="/office/attendance/present"' in second
        # One page holds everyone: no paging line at all.
        pages.present_page = 200
        whole = (await desk.client.get("/office/attendance/present")).text
        assert [number for number, _ in present_names(whole)] == ["1", "2", "3"]
        assert 'id="present-shown"' not in whole and 'id="present-more"' not in whole
    finally:
        await desk.client.aclose()


def test_the_present_page_follows_the_databases_order_of_codes_not_pythons(hall: Day) -> None:
    """On a PostgreSQL of a collation other than C the invitees come as «db001, DB002, db003»
    (case aside), while Python puts «DB002» first: paging by comparing keys skipped DB002 and
    showed db001 again. Each page starts just after the last row shown, wherever it is."""
    config = hall.services.config
    group = config.groups_in_order[0].key

    def line(code: str, name: str) -> RollLine:
        came = Came(ArrivalKind.DELEGATE, name, None, MORNING, "Bàn 1")
        return RollLine(
            code, name, "Đại biểu", "Hội LHPN", group, RsvpStatus.ATTENDING, None, None, None, came
        )

    roll = Roll(MORNING, [line("db001", "Một"), line("DB002", "Hai"), line("db003", "Ba")], [])
    seen, after, pages = [], "", []
    while True:
        page = present_page(VI, config, roll, after, 1)
        seen += [(row[1], row[2]) for row in page.rows]
        pages.append(page.more)
        if page.more is None:
            break
        after = page.more
    assert seen == [(1, "Một"), (2, "Hai"), (3, "Ba")]
    assert pages == [
        f"0.{config.groups_in_order[0].order}.1000000000.db001",
        f"0.{config.groups_in_order[0].order}.1000000000.DB002",
        None,
    ]
    # The row after which a page starts has left (db002): the first row of a greater key.
    # Where the list goes on is the database's answer, read with the roll (Roll.resume).
    order = config.groups_in_order[0].order
    gone = Roll(
        MORNING,
        [line("db001", "Một"), line("db003", "Ba")],
        [],
        resume=Resume((order, 1_000_000_000, "db002"), "db003"),
    )
    after_gone = f"0.{order}.1000000000.db002"
    assert [row[2] for row in present_page(VI, config, gone, after_gone, 5).rows] == ["Ba"]


async def test_the_present_page_goes_on_after_the_last_row_shown_whoever_came_or_left_between(
    hall: Day,
) -> None:
    """Paged by the last row's place in the list, not by a count of rows: DB002 arriving
    before the page's last row (DB003's substitute) does not show that row again on the next
    page, and DB001's arrival undone does not push the guest past it unseen."""
    desk, _ = await office_with_present_pages_of_two(hall)
    office = await hall.desk("NV03", "Văn phòng", role=Role.OFFICE)  # undoes after the window
    try:
        await desk.sign_in("NV01")
        first = (await desk.client.get("/office/attendance/present")).text
        assert present_names(first) == [("1", "Phạm Thị Thanh Mai"), ("2", SUBSTITUTE)]
        more = re.findall(r'id="present-more" href="([^"]*)"', first)
        assert len(more) == 1
        hall.clock.set(MORNING + timedelta(minutes=12))
        came = await hall.checkin.check_in(office, "DB002")  # between DB001 and DB003
        second = (await desk.client.get(f"/office/attendance/present{more[0]}")).text
        assert present_names(second) == [("4", "Trần Văn Khách")]  # numbered as the list now
        assert text_of(second, "present-shown") == (
            "Đang hiện người thứ 4 đến 4 trong số 4 người có mặt; danh sách đầy đủ có trong tệp "
            ".xlsx."
        )
        assert came.checkin is not None
        await hall.checkin.undo(office, came.checkin.id)
        async with hall.services.ctx.sessions() as session:
            db001 = await session.scalar(
                select(Checkin.id).join(Delegate).where(Delegate.code == "DB001")
            )
        assert db001 is not None
        await hall.checkin.undo(office, db001)  # DB001 left: one row fewer before the key
        again = (await desk.client.get(f"/office/attendance/present{more[0]}")).text
        assert present_names(again) == [("2", "Trần Văn Khách")]
    finally:
        await desk.client.aclose()


# It changes the code column's collation on PostgreSQL: a database of its own.
@pytest.mark.fresh_database
async def test_the_present_page_after_a_row_that_left_goes_on_in_the_database_s_order(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """Three invitees of one group and rank, coded «db101», «DB102», «db103», are in; a page of
    one row each. The second page's person leaves (her arrival undone): the page after her goes
    on at the one the database puts after her, never one shown already. On PostgreSQL the
    column is given a collation other than C (ICU's root: «db101, DB102, db103»), where Python
    puts «DB102» first: comparing codes in Python, the page after DB102 showed db101 again."""
    services = day.services
    async with services.ctx.sessions() as session, session.begin():
        if session.bind.dialect.name == "postgresql":
            await session.execute(
                text('ALTER TABLE delegates ALTER COLUMN code TYPE VARCHAR(32) COLLATE "und-x-icu"')
            )
        for old, new in (("DB020", "db101"), ("DB021", "DB102"), ("DB022", "db103")):
            person = await session.scalar(select(Delegate).where(Delegate.code == old))
            assert person is not None
            person.code, person.group_key, person.rank = new, "trung_uong_hoi", None
    engine = services.ctx.sessions.kw["bind"]
    await engine.dispose()  # no statement prepared before the column changed is used again
    desk = await day.desk("NV02", "Cổng A")
    office = await day.desk("NV03", "Văn phòng", role=Role.OFFICE)
    checked = {}
    for code in ("db101", "DB102", "db103"):
        came = await day.checkin.check_in(desk, code)
        assert came.checkin is not None
        checked[came.checkin.full_name] = came.checkin.id
    await make_staff(services, "NV01")
    staff = await desk_for(services)
    transport = staff.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    pages = desk_pages_of(transport.app.routes)  # type: ignore[attr-defined]
    assert pages is not None
    pages.present_page = 1
    try:
        await staff.sign_in("NV01")
        first = (await staff.client.get("/office/attendance/present")).text
        [(_, one)] = present_names(first)
        [link] = re.findall(r'id="present-more" href="([^"]*)"', first)
        second = (await staff.client.get(f"/office/attendance/present{html.unescape(link)}")).text
        [(_, two)] = present_names(second)
        [after_two] = re.findall(r'id="present-more" href="([^"]*)"', second)
        await day.checkin.undo(office, checked[two])  # she left: her row is gone
        third = await staff.client.get(f"/office/attendance/present{html.unescape(after_two)}")
        assert [name for _, name in present_names(third.text)] == [
            name for name in checked if name not in (one, two)
        ]
    finally:
        await staff.client.aclose()


def present_names(page: str) -> list[tuple[str, str]]:
    """The number and the name of each row of the present list's table."""
    body = page[page.index('id="present-list"') :]
    return re.findall(
        r'<tr><td data-label="STT">(\d+)</td><td data-label="Họ và tên">([^<]*)</td>', body
    )


async def test_the_day_papers_are_for_the_office_only(hall: Day) -> None:
    desk = await at_desk(hall, CHECKIN_STAFF)
    try:
        for path in ("sign-sheet.docx", "name-cards.docx", "present.xlsx", "present"):
            refused = await desk.client.get(f"/office/attendance/{path}")
            assert refused.status_code == 403, path
        stranger = await desk_for(hall.services)
        for path in ("sign-sheet.docx", "name-cards.docx", "present.xlsx"):
            away = await stranger.client.get(f"/office/attendance/{path}")
            assert away.status_code in (303, 401, 403) and away.content[:2] != b"PK", path
        await stranger.client.aclose()
    finally:
        await desk.client.aclose()


async def test_the_signature_sheet_names_the_organizer_and_numbers_its_pages_in_vietnamese(
    hall: Day,
) -> None:
    services = hall.services
    roll = await services.checkin.roll()
    content, _ = sign_sheet_document(VI, services.config, roll, hall.clock.now())
    document = Document(io.BytesIO(content))
    section = document.sections[0]
    # The organizer at the top of every page, as the slips name the office.
    assert [p.text for p in section.header.paragraphs] == ["Văn phòng Hội LHPN thành phố Hà Nội"]
    # «Trang x/y» at the foot, worked out by Word or LibreOffice when printing.
    footer = section.footer.paragraphs[0]
    assert footer.text == "Trang 1/1"  # the fields' placeholders until printed
    instructions = [node.text for node in footer._p.iter(qn("w:instrText"))]
    assert instructions == [" PAGE ", " NUMPAGES "]
    cards, _ = name_cards_document(VI, services.config, roll, hall.clock.now())
    for paper in (content, cards):
        assert word_language_of(paper) == "vi-VN"  # not en-US: no red underline on every word
    english = load_catalog("en")
    content, _ = sign_sheet_document(english, services.config, roll, hall.clock.now())
    assert word_language_of(content) == "en-US"
    assert Document(io.BytesIO(content)).sections[0].footer.paragraphs[0].text == "Page 1 of 1"


def word_language_of(content: bytes) -> str:
    """The document's default proofing language (``w:docDefaults``)."""
    styles = Document(io.BytesIO(content)).styles.element
    (lang,) = styles.xpath("./w:docDefaults/w:rPrDefault/w:rPr/w:lang")
    return str(lang.get(qn("w:val")))


@pytest.mark.parametrize("config", [two_days(load_config(EXAMPLE_CONFIG).config)])
async def test_a_meeting_of_several_days_signs_its_sheet_in_a_column_a_day(
    hall: Day, config: Config
) -> None:
    """Re-test s34 (M5): a two-day meeting's sheet had one «Ký tên» column: printed twice, the
    dates written by hand, or day two's signatures beside day one's. One column a day, headed
    with its date, the table as wide as ever; a one-day meeting's sheet keeps its one column."""
    services = hall.services
    roll = await services.checkin.roll()
    content, _ = sign_sheet_document(VI, services.config, roll, hall.clock.now())
    tables = Document(io.BytesIO(content)).tables
    assert cells(tables[0].rows[0]) == [*HEADINGS[:4], "Ký tên ngày 28/5", "Ký tên ngày 29/5"]
    assert cells(tables[0].rows[1]) == [
        "1", "Phạm Thị Thanh Mai", "Phó Chủ tịch Hội LHPN Việt Nam",
        "Trung ương Hội LHPN Việt Nam", "", "",
    ]  # fmt: skip
    assert [cells(row) for row in tables[0].rows[-3:]] == [[""] * 6] * 3
    widths = sheet_widths(2)
    assert sum(widths) == sum(sheet_widths(1)) and widths[-2:] == (1474, 1474)
    one_day = load_config(EXAMPLE_CONFIG).config
    content, _ = sign_sheet_document(VI, one_day, roll, hall.clock.now())
    assert cells(Document(io.BytesIO(content)).tables[0].rows[0]) == HEADINGS
