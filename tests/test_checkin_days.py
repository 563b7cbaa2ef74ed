"""A meeting of several days at the reception desk (re-test s34, M1/M10): a check-in belongs to
a meeting day. On day two the desk checks in again whoever came on day one (her card says
«đã dự ngày 28/5»), the substitute too; an undo takes today's row; every «có mặt» figure and
list — the hall's count, «Chưa đến», the printed report, /thongke, the present list, the
notices' audiences by attendance, the personal page's desk code — is today's, with each day's
figure kept apart; after the last day the figures are the last day's, each day apart."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import Config, load_config
from bot.services.checkin import (
    CheckinStep,
    Notice,
    came_on_line,
    notice_line,
    summary_text,
)
from bot.services.day_files import present_workbook
from bot.services.report_file import checkin_sheet
from storage.models import Checkin, Delegate
from tests.conftest import EXAMPLE_CONFIG, local
from tests.test_checkin import (  # noqa: F401 (the meeting-day fixture)
    MORNING,
    VI,
    Day,
    day,
    office_chat,
    rows_of,
    thongke,
    two_days,
)

# The example meeting held over two days: 28/5 08:00 to 29/5 11:30.
TWO_DAYS = two_days(load_config(EXAMPLE_CONFIG).config)
DAY_ONE, DAY_TWO = date(2024, 5, 28), date(2024, 5, 29)
SECOND_MORNING = MORNING + timedelta(days=1)  # 29/5 07:30


@pytest.fixture
def config() -> Config:
    """The example plan, its meeting over two days."""
    return TWO_DAYS


async def test_on_day_two_the_desk_checks_in_again_a_delegate_who_came_on_day_one(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """Day two's card says nothing of day one's check-in but «Đã dự ngày 28/5.», and «Điểm
    danh» records her for today; a second tap today finds her in."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    day.clock.set(SECOND_MORNING)
    arrival = await day.checkin.lookup(desk, "DB001")
    assert (arrival.checkin, arrival.notices, arrival.came_on) == (None, (), (DAY_ONE,))
    assert arrival.can_check_in
    assert notice_line(VI, TWO_DAYS.meeting, arrival) is None
    assert came_on_line(VI, arrival) == "Đã dự ngày 28/5."
    result = await day.checkin.check_in(desk, "DB001")
    assert result.step is CheckinStep.CHECKED_IN
    again = await day.checkin.check_in(desk, "DB001")
    assert again.step is CheckinStep.ALREADY_IN
    assert again.arrival is not None
    assert notice_line(VI, TWO_DAYS.meeting, again.arrival) == (
        "Đã điểm danh đại biểu Phạm Thị Thanh Mai lúc 07:30, 29/5, do Trần Thị Mỹ Duyên "
        "(Bàn 1): không cần điểm danh lại."
    )
    rows = await rows_of(day.services)
    assert [(row.full_name, row.day, row.undone_at) for row in rows] == [
        ("Phạm Thị Thanh Mai", DAY_ONE, None),
        ("Phạm Thị Thanh Mai", DAY_TWO, None),
    ]


async def test_on_day_two_the_substitute_who_came_on_day_one_is_checked_in_again(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """DB003's substitute came on day one: on day two her card says whom DB003 sends and that
    it was the substitute, by name, who came on day one (not «Đã dự» under DB003's name), and
    the substitute is checked in for today."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    day.clock.set(SECOND_MORNING)
    arrival = await day.checkin.lookup(desk, "DB003")
    assert (arrival.checkin, arrival.notices) == (None, (Notice.SENT_SUBSTITUTE,))
    assert notice_line(VI, TWO_DAYS.meeting, arrival) == (
        "Đại biểu đã cử người dự thay: Lê Thu Trang."
    )
    assert came_on_line(VI, arrival) == "Ngày 28/5: người dự thay Lê Thu Trang đã đến."
    result = await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    assert result.step is CheckinStep.CHECKED_IN
    assert result.checkin is not None and result.checkin.day == DAY_TWO


async def test_an_undo_on_day_two_takes_today_s_check_in_and_keeps_day_one_s(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    first = await day.checkin.check_in(desk, "DB001")
    day.clock.set(SECOND_MORNING)
    today = await day.checkin.check_in(desk, "DB001")
    assert today.checkin is not None and first.checkin is not None
    assert (await day.checkin.undo(desk, today.checkin.id)).step is CheckinStep.UNDONE
    rows = {row.id: row for row in await rows_of(day.services)}
    assert rows[first.checkin.id].undone_at is None
    assert rows[today.checkin.id].undone_at is not None
    arrival = await day.checkin.lookup(desk, "DB001")
    assert (arrival.checkin, arrival.came_on, arrival.can_check_in) == (None, (DAY_ONE,), True)


async def came_on_both_days(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """Day one: DB001, DB003's substitute and the guest Hoàng Văn Nam; day two (07:30):
    DB002 and the same guest again."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    await day.checkin.guest(desk, "Hoàng Văn Nam")
    day.clock.set(SECOND_MORNING)
    await day.checkin.check_in(desk, "DB002")
    again = await day.checkin.guest(desk, "Hoàng Văn Nam")
    assert again.step is CheckinStep.CHECKED_IN  # yesterday's guest is not «already in» today


async def test_on_day_two_the_hall_counts_today_and_keeps_each_day_apart(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """The figures of day two are day two's: 1 of 3 expected in, DB001 and DB003 «chưa đến»,
    2 people in the hall — not day one's 3 plus day two's newcomers; the printed report says
    whose day and each day's figure."""
    await came_on_both_days(day)
    desk = await day.desk("NV03", "Bàn 2")
    hall = await day.checkin.attendance(desk)
    assert (hall.present, hall.arrived, hall.expected, hall.in_hall) == (1, 1, 3, 2)
    assert [person.code for person in hall.missing] == ["DB001", "DB003"]
    assert (hall.day, hall.days) == (DAY_TWO, [(DAY_ONE, 3), (DAY_TWO, 2)])
    assert [line.code for line in (await day.checkin.roll(present_only=True)).lines] == ["DB002"]
    assert await day.checkin.in_hall_codes() == {"DB002"}
    text = summary_text(VI, await day.checkin.summary(desk)).splitlines()
    assert text[2:11] == [
        "Tính đến 07:30, Thứ Tư, ngày 29/5/2024",
        "Số liệu của ngày 29/5.",
        "",
        "Đại biểu có mặt: 1, trong đó 1/3 đại biểu dự kiến (tổng số được mời: 80)",
        "Trong đó người dự thay: 0",
        "Khách ngoài danh sách: 1",
        "Tổng số người đã vào hội trường: 2",
        "Số người vào hội trường theo ngày họp: Ngày 28/5: 3 người · Ngày 29/5: 2 người",
        "",
    ]


async def test_on_day_one_of_two_the_hall_says_its_day_and_its_one_figure(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    hall = await day.checkin.count()
    assert (hall.present, hall.day, hall.days) == (1, DAY_ONE, [(DAY_ONE, 1)])


AFTER = local(2024, 5, 30, 9, 0)  # the morning after the last day


async def test_after_a_meeting_of_two_days_every_hall_figure_is_the_whole_meeting_s(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """After the last day every figure counts who came on at least one day, once each: 3
    delegates (DB001 and DB003's substitute on day one, DB002 on day two), 3/3 of those
    expected, 4 people with the guest who came both days — not the last day's 1, 1/3 and 2
    beside «không đến: 0»; each group's too; each day's hall still apart."""
    await came_on_both_days(day)
    day.clock.set(AFTER)
    hall = await day.checkin.count()
    assert (hall.present, hall.arrived, hall.expected, hall.substitutes, hall.in_hall) == (
        3, 3, 3, 1, 4,
    )  # fmt: skip
    assert (hall.missing_total, hall.whole, len(hall.guests), hall.day) == (0, True, 1, DAY_TWO)
    assert [(g.key, g.present, g.arrived, g.expected, g.missing) for g in hall.groups[:2]] == [
        ("trung_uong_hoi", 2, 2, 2, 0),
        ("lanh_dao_thanh_pho", 1, 1, 1, 0),
    ]
    assert hall.days == [(DAY_ONE, 3), (DAY_TWO, 2)]
    page = await day.checkin.attendance(await day.desk("NV03", "Bàn 2"))  # «Có mặt»
    assert (page.missing, page.missing_of(), page.missing_of("trung_uong_hoi")) == ([], 0, 0)


async def test_thongke_after_a_meeting_of_two_days_gives_the_whole_meeting_s_figures(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """/thongke after the last day: the whole meeting's figures under their heading, what
    they count and each day's hall under them, then a blank line before «📊»."""
    await came_on_both_days(day)
    day.clock.set(AFTER)
    said = await thongke(day, await office_chat(day))
    assert said.startswith(
        "🏛 <b>Hội nghị đã kết thúc lúc 11:30, 29/5: số có mặt cả hội nghị</b>\n"
        "Đại biểu có mặt ít nhất một ngày: <b>3</b> (trong đó 3/3 đại biểu dự kiến); tổng số "
        "người đã đến: <b>4</b>; đại biểu dự kiến không đến ngày nào: <b>0</b>. "
    )
    assert (
        "(hoặc /baocao).\nSố liệu của cả hội nghị: mỗi người đến ít nhất một ngày được tính "
        "một lần; «chưa đến» là đại biểu dự kiến không đến ngày nào. Số người vào hội trường "
        "theo ngày họp: Ngày 28/5: 3 người · Ngày 29/5: 2 người\n\n📊 <b>Thống kê"
    ) in said


async def test_the_printed_report_after_a_meeting_of_two_days_is_the_whole_meeting_s(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """«Báo cáo số lượng đại biểu có mặt» printed after the last day: who came on at least
    one day, said so, each group's «đã đến / dự kiến» alike — not the last day's 1/3."""
    await came_on_both_days(day)
    day.clock.set(AFTER)
    text = summary_text(VI, await day.checkin.summary(await day.desk("NV03", "Bàn 2")))
    lines = text.splitlines()
    assert lines[3:10] == [
        "Số liệu của cả hội nghị: mỗi người đến ít nhất một ngày được tính một lần; «chưa đến» "
        "là đại biểu dự kiến không đến ngày nào.",
        "",
        "Đại biểu có mặt: 3, trong đó 3/3 đại biểu dự kiến (tổng số được mời: 80)",
        "Trong đó người dự thay: 1",
        "Khách ngoài danh sách: 1",
        "Tổng số người đã vào hội trường: 4",
        "Số người vào hội trường theo ngày họp: Ngày 28/5: 3 người · Ngày 29/5: 2 người",
    ]
    assert lines[12:14] == [
        "1. Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam: có mặt 2, trong đó 2/2 dự kiến "
        "(dự thay 0)",
        "2. Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam thành phố: có mặt 1, trong đó "
        "1/1 dự kiến (dự thay 1)",
    ]


async def test_after_a_meeting_of_two_days_the_notices_by_attendance_read_every_day(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """After the last day «Đại biểu dự kiến chưa đến» is who came on no day (nobody here: not
    DB001 and DB003, who came on day one), as «Chưa đến» on «Có mặt»; «có mặt» is who came
    on any day."""
    await came_on_both_days(day)
    day.clock.set(AFTER)
    assert await audience_codes(day) == {"awaited": [], "came": ["DB001", "DB002", "DB003"]}


async def test_on_day_two_the_figures_are_today_s_not_the_whole_meeting_s(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    await came_on_both_days(day)
    hall = await day.checkin.count()
    assert (hall.whole, hall.present, hall.missing_total) == (False, 1, 2)


async def test_on_day_two_the_present_list_xlsx_says_its_day_above_each_sheet(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """Verify s34 (NEW-3): the .xlsx said whose day only in its file name. Each sheet's first
    line says it, the headings under it (frozen, filtered and printed on every page)."""
    await came_on_both_days(day)
    roll = await day.checkin.roll()
    book = load_workbook(io.BytesIO(present_workbook(VI, TWO_DAYS, roll)))
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "Số liệu của ngày 29/5.", sheet.title
        assert rows[1][0] == "Nhóm", sheet.title  # the headings
        assert (sheet.freeze_panes, sheet.print_title_rows) == ("A3", "$2:$2")
    present = [row[2] for row in book["Có mặt"].iter_rows(min_row=3, values_only=True)]
    assert present == ["Hoàng Thị Ngọc Diệp", "Hoàng Văn Nam"]  # DB002 and the guest, today's
    assert book["Có mặt"].auto_filter.ref == "A2:H4"  # the headings and the two rows


async def test_thongke_on_day_two_counts_today_and_gives_each_day(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    await came_on_both_days(day)
    said = await thongke(day, await office_chat(day))
    assert said.startswith(
        "🏛 <b>Hôm nay họp: có mặt trong hội trường</b>\nĐại biểu có mặt: <b>1</b>"
    )
    assert (
        "\nSố liệu của ngày 29/5. Số người vào hội trường theo ngày họp: Ngày 28/5: 3 người · "
        "Ngày 29/5: 2 người\n"
    ) in said


async def test_on_day_two_the_notices_by_attendance_read_today_s_check_ins(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """«Đại biểu dự kiến chưa đến» on day two reaches DB001 and DB003, who came on day one
    only; «có mặt» reaches DB002 alone."""
    await came_on_both_days(day)
    assert await audience_codes(day) == {"awaited": ["DB001", "DB003"], "came": ["DB002"]}


async def audience_codes(day: Day) -> dict[str, list[str]]:  # noqa: F811 (the fixture's type)
    """Whom the audiences «dự kiến chưa đến» and «có mặt» reach now, by code."""
    services = day.services
    codes = {}
    async with services.ctx.sessions() as session:
        for audience in ("awaited", "came"):
            people = await services.audiences.people(session, audience, {"telegram"})
            ids = [person.delegate_id for person in people]
            found = await session.scalars(select(Delegate.code).where(Delegate.id.in_(ids)))
            codes[audience] = sorted(found)
    return codes


async def test_on_day_two_the_personal_page_shows_the_desk_code_again(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """Her page said «Đồng chí đã điểm danh lúc 07:30, 28/5» in place of the code on day two:
    the desk needs the code again today."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    card = await day.services.dashboard.card("DB001")
    assert card is not None
    invitations = day.services.invitations
    assert (await invitations.desk_pass(card.person.id)).checked_in is not None
    day.clock.set(SECOND_MORNING)
    second = await invitations.desk_pass(card.person.id)
    assert second.checked_in is None and second.code is not None


async def test_one_live_check_in_a_delegate_and_day_the_database_keeps(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """The index is per meeting day: the rows of two days stand side by side (one each)."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    day.clock.set(SECOND_MORNING)
    await day.checkin.check_in(desk, "DB001")
    async with day.services.ctx.sessions() as session:
        days = await session.scalars(select(Checkin.day).order_by(Checkin.day))
        assert list(days) == [DAY_ONE, DAY_TWO]


def test_a_check_in_s_meeting_day_is_its_local_date_held_to_the_meeting_s_days() -> None:
    meeting = TWO_DAYS.meeting
    assert meeting.dates == [DAY_ONE, DAY_TWO]
    assert meeting.meeting_day(local(2024, 5, 28, 6, 30)) == DAY_ONE  # 27/5 23:30 in UTC
    assert meeting.meeting_day(local(2024, 5, 27, 18, 0)) == DAY_ONE  # a trial the day before
    assert meeting.meeting_day(local(2024, 5, 29, 23, 0)) == DAY_TWO
    assert meeting.meeting_day(local(2024, 5, 30, 9, 0)) == DAY_TWO
    assert meeting.counting_day(local(2024, 5, 29, 7, 0)) == DAY_TWO
    one_day = load_config(EXAMPLE_CONFIG).config.meeting
    assert one_day.counting_day(local(2024, 5, 28, 7, 0)) is None
    assert one_day.meeting_day(local(2024, 5, 29, 7, 0)) == DAY_ONE


async def test_the_report_s_check_in_sheet_keeps_every_day_s_rows_and_says_whose_totals(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """The workbook's «Điểm danh» sheet is the record: every check-in of both days; its totals
    under them are day two's, said so, with each day's hall apart."""
    await came_on_both_days(day)
    services = day.services
    sheet = checkin_sheet(
        VI, services.config, await services.checkin.records(), await services.checkin.count()
    )
    assert [row[4] for row in sheet.rows] == [
        "Phạm Thị Thanh Mai", "Hoàng Thị Ngọc Diệp", "Lê Thu Trang", "Hoàng Văn Nam",
        "Hoàng Văn Nam",
    ]  # fmt: skip
    footer = [(row[1], row[2]) for row in sheet.footer]
    assert footer[0] == ("Số liệu của ngày 29/5.", None)
    assert footer[1] == ("Đại biểu có mặt", 1)
    assert footer[-3:] == [
        ("Tổng số người trong hội trường", 2),
        ("Số người vào hội trường ngày 28/5", 3),
        ("Số người vào hội trường ngày 29/5", 2),
    ]


async def test_the_report_s_check_in_sheet_after_a_meeting_of_two_days_totals_the_whole(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """`hoinghi report` after the last day: the totals under the record are the whole
    meeting's, said so (3 delegates, 4 people), each day's hall apart — not day two's 1 and 2
    under «Số liệu của ngày 29/5.»."""
    await came_on_both_days(day)
    day.clock.set(AFTER)
    services = day.services
    sheet = checkin_sheet(
        VI, services.config, await services.checkin.records(), await services.checkin.count()
    )
    footer = [(row[1], row[2]) for row in sheet.footer]
    assert footer[0][0].startswith("Số liệu của cả hội nghị: mỗi người đến ít nhất một ngày")
    assert footer[1] == ("Đại biểu có mặt", 3)
    assert footer[-3:] == [
        ("Tổng số người trong hội trường", 4),
        ("Số người vào hội trường ngày 28/5", 3),
        ("Số người vào hội trường ngày 29/5", 2),
    ]


async def test_thongke_on_the_evening_of_day_one_gives_the_day_s_result_and_the_next_day(
    day: Day,  # noqa: F811 (the meeting-day fixture)
) -> None:
    """At 20:00 on 28/5 /thongke said «Hôm nay họp: có mặt trong hội trường … đại biểu dự kiến
    chưa đến: 1» as if the hall were still filling: the day ended at 11:30 and the meeting
    goes on on 29/5. During the day (10:00) it still reads the hall."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    staff = await office_chat(day)
    day.clock.set(local(2024, 5, 28, 10, 0))
    during = await thongke(day, staff)
    assert during.startswith("🏛 <b>Hôm nay họp: có mặt trong hội trường</b>")
    day.clock.set(local(2024, 5, 28, 20, 0))
    said = await thongke(day, staff)
    assert said.startswith(
        "🏛 <b>Ngày họp 28/5 đã kết thúc lúc 11:30: số có mặt trong ngày</b>\n"
        "Đại biểu có mặt: <b>2</b> (trong đó 2/3 đại biểu dự kiến); tổng số người vào hội "
        "trường trong ngày: <b>2</b>; đại biểu dự kiến không đến trong ngày: <b>1</b>. Hội nghị "
        "họp tiếp ngày 29/5: số có mặt của ngày ấy được tính lại từ đầu.\n"
        "Số liệu của ngày 28/5."
    )


def test_a_day_closes_at_its_programme_s_last_item_or_the_meeting_s_hour() -> None:
    """Day one of 28–29/5 closes at the meeting's closing hour (11:30, no programme by day);
    the last day and a one-day meeting have no «day over»: their end is the meeting's."""
    assert TWO_DAYS.day_closed(local(2024, 5, 28, 11, 29)) is None
    assert TWO_DAYS.day_closed(local(2024, 5, 28, 20, 0)) == local(2024, 5, 28, 11, 30)
    assert TWO_DAYS.day_closed(local(2024, 5, 29, 20, 0)) is None
    assert TWO_DAYS.day_closed(local(2024, 5, 27, 20, 0)) is None
    one_day = load_config(EXAMPLE_CONFIG).config
    assert one_day.day_closed(local(2024, 5, 28, 20, 0)) is None
