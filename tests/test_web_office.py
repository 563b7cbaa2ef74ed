"""The dashboard's pages for signed-in office staff: the overview's figures (the same counts as
``/thongke``), the delegate list in protocol order with filters and a search that ignores
diacritics, a delegate's page, and an answer taken by phone recorded through the RSVP use case."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from bot.config import Config, load_config
from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.outbound import MessageKind
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpAnswer, RsvpChoice, RsvpStatus
from bot.services import Services
from bot.services.access import DeskActor
from bot.services.dashboard import Filters
from bot.services.office_report import OfficeReport
from bot.services.report_file import office_report_sheets
from bot.texts import load_catalog
from schedules.planner import sync_planned
from storage import queries
from storage.models import AuditEntry, Rsvp, SpeechAssignment
from tests.conftest import EXAMPLE_CONFIG, local
from tests.office_support import STAFF, STAFF_NAME, Desk, desk_for, hidden, make_staff, text_of
from tests.plan_support import EXAMPLE_CONTACTS, import_example
from tests.web_support import web_for

CATALOG = load_catalog("vi")


async def link(services: Services, code: str, user_id: int) -> ChatAccount:
    """``code`` links a Telegram account with their personal link."""
    tokens = {item.code: item.token for item in await services.invitations.links()}
    account = ChatAccount("telegram", str(user_id), str(user_id))
    await services.invitations.link_by_token(account, tokens[code])
    return account


async def expected(services: Services, *codes: str) -> None:
    """``codes`` expected at the meeting: «attending», taken by phone at the office."""
    for code in codes:
        await services.rsvp.record_by_phone(
            services.access.local_operator(),
            (await services.dashboard.card(code)).person.id,  # type: ignore[union-attr]
            RsvpAnswer(RsvpStatus.ATTENDING),
        )


async def staff_at_desk(services: Services) -> DeskActor:
    """The office's staff member :data:`STAFF` at the desk «Bàn 1», as the dashboard's own
    check-in records her taps."""
    office = await services.access.office_person(
        (await services.dashboard.card(STAFF)).person.id  # type: ignore[union-attr]
    )
    assert office is not None
    return services.access.office_desk(office, "Bàn 1")


# A row of the delegate list: the bulk mark's box (and the page's code beside it), then the code.
ROW = r"<tr><td><input[^>]*><input[^>]*></td>\s*<td[^>]*>({code})</td>"


def codes(html: str) -> list[str]:
    """The codes of the delegate list's rows, in the order shown."""
    return re.findall(ROW.format(code=r"DB\d+|NV\d+"), html)


async def test_the_overview_counts_answers_groups_reach_and_who_to_phone(
    desk: Desk, imported: Services
) -> None:
    await imported.invitations.mark_sent_many(imported.access.local_operator(), None)
    attending = await link(imported, "DB003", 601)
    declining = await link(imported, "DB004", 602)
    await imported.rsvp.choose(attending, RsvpChoice.ATTEND)
    await imported.rsvp.choose(declining, RsvpChoice.DECLINE_WITHOUT_REASON)
    page = (await desk.client.get("/office/")).text
    counts = await imported.reports.counts()  # the figures of /thongke
    assert text_of(page, "count-total") == "80" == str(counts.overall.total)
    assert text_of(page, "count-attending") == "1"
    assert text_of(page, "count-declined") == "1"
    assert text_of(page, "count-no_answer") == "78"
    assert text_of(page, "count-present") == "1/80"
    group = re.search(r'id="group-lanh_dao_thanh_pho">(.*?)</tr>', page, re.S)
    assert group is not None
    cells = re.findall(r'<td class="num"[^>]*>(\d+)</td>', group.group(1))
    assert cells == ["4", "2", "1", "1", "0"]  # total, no answer, attending, declined, substitute
    assert text_of(page, "reach-telegram") == "2"
    # Who must be phoned: their invitation went out (the slips handed out), no chat reaches
    # them and they have not answered (78 of them).
    assert "(78)" in text_of(page, "phone-title")
    assert "DB001 — " in page and "DB003 — " not in text_of(page, "to-phone")
    # Numbers written as the exports and the desk write them, not as stored (+84…).
    assert "· 0855 005 370" in text_of(page, "to-phone") and "+84" not in page
    card = (await desk.client.get("/office/delegates/DB005")).text
    assert '<a href="tel:+84855005370">0855 005 370</a>' in card
    # The same figures come alone for the page's script, signed-in only.
    live = await desk.client.get("/office/live")
    assert live.status_code == 200 and text_of(live.text, "count-attending") == "1"
    assert "<html" not in live.text
    assert "script-src 'self'" in live.headers["content-security-policy"]
    assert "unsafe" not in live.headers["content-security-policy"]


async def test_right_after_the_import_nobody_is_to_phone_before_the_invitations_go_out(
    desk: Desk, imported: Services
) -> None:
    """Just imported, no invitation sent: the overview listed all 80 under «Cần gọi điện
    thoại (80)», read as «phone these 80 now» on day one. Whom to phone about an answer is
    whom the invitation reached; the others are to be sent it first, and the tile says so.
    One marked sent with no number is listed saying so, not with a blank."""
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "phone-title") == "Cần gọi điện thoại (0)"
    assert "DB001 — " not in page
    assert text_of(page, "to-phone-unsent") == (
        "Chưa tính 80 đại biểu chưa gửi giấy mời: đề nghị gửi giấy mời trước (xem «Chưa gửi giấy"
        " mời» ở trên); người đã nhận giấy mời mà chưa trả lời, không liên lạc được qua kênh trò"
        " chuyện, sẽ hiện ở đây."
    )
    assert "Không có đại biểu chưa trả lời nào cần gọi điện thoại." not in page
    await imported.invitations.mark_sent_many(imported.access.local_operator(), ["DB001", "DB005"])
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "phone-title") == "Cần gọi điện thoại (2)"
    listed = text_of(page, "to-phone")
    assert "DB001 — " in listed and "DB005 — " in listed and "DB002 — " not in listed
    assert "chưa có số điện thoại" in listed.split("DB005 — ")[0]  # DB001 has no number
    assert "· 0855 005 370" in listed
    assert "Chưa tính 78 đại biểu chưa gửi giấy mời" in text_of(page, "to-phone-unsent")


async def test_on_the_meeting_s_day_the_overview_leads_with_the_hall_not_the_preparation(
    desk: Desk, imported: Services, clock: ManualClock
) -> None:
    """On the morning the overview was still the preparation view («Chưa gửi giấy mời: 49»,
    «Cần gọi điện thoại (77)») with nothing of who is in the hall: from the meeting's day it
    leads with the hall, as «Có mặt» counts it, and drops the invitations' prompts."""
    before = (await desk.client.get("/office/")).text
    assert 'id="hall"' not in before
    assert 'id="overview-unsent"' in before and 'id="to-phone"' in before
    await expected(imported, "DB005")
    clock.set(local(2024, 5, 28, 7, 30))
    at_desk = await staff_at_desk(imported)
    await imported.checkin.check_in(at_desk, "DB005")
    await imported.checkin.check_in(at_desk, "DB006")
    await imported.checkin.guest(at_desk, "Hoàng Văn Nam", organization="Báo Hà Nội Mới")
    await desk.sign_in()  # ten days on: a session of its own
    page = (await desk.client.get("/office/")).text
    hall = await imported.checkin.count()
    assert (hall.present, hall.arrived, hall.expected, hall.in_hall) == (2, 1, 1, 3)
    assert text_of(page, "hall-title") == "Hôm nay họp: có mặt trong hội trường"
    assert text_of(page, "hall-said") == (
        "Đại biểu có mặt: 2 (trong đó 1/1 đại biểu dự kiến); tổng số người trong hội trường: 3;"
        " đại biểu dự kiến chưa đến: 0. Xem trang «Có mặt»"
    )
    assert '<a href="/office/attendance" id="hall-link">' in page
    assert page.index('id="hall"') < page.index('id="answers"')
    assert 'id="overview-unsent"' not in page and 'id="to-phone"' not in page
    live = (await desk.client.get("/office/live")).text
    assert text_of(live, "hall-said") == text_of(page, "hall-said")


async def test_the_overview_s_hall_figures_are_written_as_the_chat_writes_them(
    desk: Desk, imported: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a big meeting the overview read «chưa đến: 1234» where /thongke reads «1.234»: the
    same figures, grouped by thousands as the locale writes them, on the page and its live
    refresh alike."""
    from bot.services.checkin import Attendance

    clock.set(local(2024, 5, 28, 7, 30))
    hall = Attendance(
        at=clock.now(), groups=[], invited=2600, expected=2500, present=1210, substitutes=0,
        declined_present=0, guests=[], missing_total=1290,
    )  # fmt: skip

    async def count() -> Attendance:
        return hall

    monkeypatch.setattr(imported.checkin, "count", count)
    await desk.sign_in()
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "hall-said") == (
        "Đại biểu có mặt: 1.210 (trong đó 1.210/2.500 đại biểu dự kiến); tổng số người trong"
        " hội trường: 1.210; đại biểu dự kiến chưa đến: 1.290. Xem trang «Có mặt»"
    )
    live = (await desk.client.get("/office/live")).text
    assert text_of(live, "hall-said") == text_of(page, "hall-said")


async def test_the_overview_s_answers_reach_and_groups_are_grouped_by_thousands(
    desk: Desk, imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a 10,000-invitee meeting the overview read «Đã trả lời 8234», «Chưa gửi giấy mời:
    1100» while /thongke reads «8.234»: its tiles, its groups' table and its lines to phone
    write every count grouped by thousands, on the page and its live refresh alike."""
    from collections import Counter

    from bot.services.dashboard import Figures, Reach
    from bot.services.reports import Counts, GroupTally, Tally

    tally = Tally(total=10000, linked=8800, by_status=Counter({
        RsvpStatus.NO_ANSWER: 1766, RsvpStatus.ATTENDING: 7034, RsvpStatus.DECLINED: 1000,
        RsvpStatus.SUBSTITUTE: 200}))  # fmt: skip
    group = GroupTally("lanh_dao_thanh_pho", "Lãnh đạo Thành phố", tally)
    figures = Figures(
        counts=Counts(capacity=7000, overall=tally, groups=[group]),
        reach=[Reach("telegram", 8500, 1200)], to_phone=1500, unsent=1100,
    )  # fmt: skip

    async def big() -> Figures:
        return figures

    monkeypatch.setattr(imported.dashboard, "figures", big)
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "count-total") == "10.000"
    assert text_of(page, "count-attending") == "7.034"
    assert text_of(page, "count-no_answer") == "1.766"
    assert text_of(page, "count-declined") == "1.000"
    assert text_of(page, "count-present") == "7.234/7.000"
    assert text_of(page, "over-capacity").startswith("⚠️ Số người dự kiến có mặt (7.234) vượt")
    assert text_of(page, "overview-unsent").startswith("Chưa gửi giấy mời: 1.100 đại biểu")
    assert text_of(page, "reach-telegram") == "8.500"
    assert "<dd>1.200</dd>" in page  # those who blocked the bot
    row = re.search(r'id="group-lanh_dao_thanh_pho">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row.group(1))
    assert cells == ["10.000", "1.766", "7.034", "1.000", "200"]
    assert "(1.500)" in text_of(page, "phone-title")
    assert text_of(page, "to-phone-unsent").startswith("Chưa tính 1.100 đại biểu")
    live = (await desk.client.get("/office/live")).text
    assert text_of(live, "count-present") == text_of(page, "count-present")


async def test_the_delegate_list_s_counts_are_grouped_by_thousands(
    desk: Desk, imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list's «Chưa gửi giấy mời» and «Có … đại biểu phù hợp» at a big meeting read
    «1.100» and «10.000», as the overview and the chat write the same figures."""
    from dataclasses import replace

    listing = imported.dashboard.delegates

    async def unsent() -> int:
        return 1100

    async def delegates(filters: Filters) -> Any:
        return replace(await listing(filters), total=10000, withdrawn=1200)

    monkeypatch.setattr(imported.dashboard, "unsent", unsent)
    monkeypatch.setattr(imported.dashboard, "delegates", delegates)
    page = (await desk.client.get("/office/delegates")).text
    assert text_of(page, "unsent").startswith("Chưa gửi giấy mời: 1.100 đại biểu")
    assert text_of(page, "found") == (
        "Có 10.000 đại biểu phù hợp, trong đó 1.200 người đã bị rút giấy mời (vẫn ở danh sách,"
        " không tính trong số liệu)."
    )


async def test_the_attendance_page_its_printed_summary_and_present_list_group_by_thousands(
    desk: Desk, imported: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a 10,000-invitee meeting «Có mặt» read «Đại biểu có mặt 8234» and «8034/9000» while
    the overview's hall block and /thongke read «8.234»: the page's totals and its groups'
    table, the printed summary and the present list's count, grouped by thousands."""
    from dataclasses import replace

    import handlers.web.office.checkin as desk_pages
    from bot.services.checkin import (
        Attendance,
        AttendanceSummary,
        GroupAttendance,
        Missing,
        SummaryLine,
    )

    clock.set(local(2024, 5, 28, 9, 0))
    group = GroupAttendance("lanh_dao_thanh_pho", "Lãnh đạo Thành phố", None, invited=10000,
                            expected=9000, present=8234, substitutes=1500, missing=966)  # fmt: skip
    gone = Missing("DB001", "Phạm Thị Thanh Mai", "Chủ tịch", "Hội LHPN Hà Nội",
                   "lanh_dao_thanh_pho", RsvpStatus.ATTENDING, None, None)  # fmt: skip
    seen = Attendance(
        at=clock.now(), groups=[group], invited=10000, expected=9000, present=8234,
        substitutes=1500, declined_present=200, guests=[], missing=[gone], missing_total=966,
    )  # fmt: skip

    async def attendance(*_: object, **__: object) -> Attendance:
        return seen

    line = SummaryLine("Lãnh đạo Thành phố", expected=9000, present=8234, substitutes=1500,
                       arrived=8034)  # fmt: skip
    summary = AttendanceSummary(
        title="Hội nghị", at=imported.config.meeting.local(clock.now()), lines=[line],
        invited=10000, expected=9000, present=8234, substitutes=1500, guests=1200,
        arrived=8034, in_hall=9434,
    )  # fmt: skip

    async def summarised(*_: object) -> AttendanceSummary:
        return summary

    page_of = desk_pages.present_page
    monkeypatch.setattr(imported.checkin, "attendance", attendance)
    monkeypatch.setattr(imported.checkin, "summary", summarised)
    monkeypatch.setattr(desk_pages, "present_page", lambda *a: replace(page_of(*a), total=8234))
    await desk.sign_in()  # on the meeting's day: a session of that day
    live = (await desk.client.get("/office/attendance/live")).text
    names = ("present-all", "present", "unexpected", "substitutes", "in-hall", "missing", "invited")
    totals = {name: text_of(live, f"total-{name}") for name in names}
    assert totals == {"present-all": "8.234", "present": "8.034/9.000", "unexpected": "200",
                      "substitutes": "1.500", "in-hall": "8.234", "missing": "966",
                      "invited": "10.000"}  # fmt: skip
    row = re.search(r'<tr id="att-lanh_dao_thanh_pho">(.*?)</tr>', live, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num"[^>]*>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>', row[1])
    assert cells == ["8.234", "8.034", "9.000", "1.500", "10.000", "966"]
    assert text_of(live, "missing-shown") == (
        "Đang hiện 1 trong số 966 đại biểu chưa đến, theo thứ tự nghi lễ."
    )
    printed = (await desk.client.get("/office/attendance/summary")).text
    assert text_of(printed, "sum-present-all") == "8.234"
    assert text_of(printed, "sum-present") == "8.034/9.000"
    assert text_of(printed, "sum-invited") == "10.000"
    assert text_of(printed, "sum-guests") == "1.200"
    assert text_of(printed, "sum-in-hall") == "9.434"
    total = re.search(r'<tr id="sum-total">(.*?)</tr>', printed, re.S)
    assert total is not None
    assert re.findall(r'<td class="num">([^<]*)</td>', total[1]) == [
        "8.234", "8.034", "9.000", "1.500"]  # fmt: skip
    present = (await desk.client.get("/office/attendance/present")).text
    assert ": 8.234 người đã có mặt" in text_of(present, "present-at")


async def test_the_log_and_the_downloads_counts_are_grouped_by_thousands(
    desk: Desk, imported: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """«Có 12345 thay đổi phù hợp», «10000 người: mã, họ tên…» and the day's papers' «9234
    người» read «12.345», «10.000», «9.234», as every other figure the office reads."""
    from dataclasses import replace

    from bot.services.checkin import Attendance

    dashboard = imported.dashboard
    log_of = dashboard.log

    async def log(*args: Any) -> Any:
        return replace(await log_of(*args), total=12345)

    async def link_counts() -> tuple[int, int]:
        return 10000, 9800

    clock.set(local(2024, 5, 28, 7, 30))  # the day's papers are offered on its day
    hall = Attendance(
        at=clock.now(), groups=[], invited=10000, expected=8234, present=0, substitutes=0,
        declined_present=0, guests=[], missing_total=8234, no_answer=1000,
    )  # fmt: skip

    async def count() -> Attendance:
        return hall

    monkeypatch.setattr(dashboard, "log", log)
    monkeypatch.setattr(imported.invitations, "link_counts", link_counts)
    monkeypatch.setattr(imported.checkin, "count", count)
    await desk.sign_in()
    assert text_of((await desk.client.get("/office/log")).text, "found") == (
        "Có 12.345 thay đổi phù hợp."
    )
    page = (await desk.client.get("/office/invitations")).text
    assert "\n10.000 người: mã, họ tên, chức vụ" in text_of(page, "download-links")
    assert "9.800 đại biểu, mỗi người một phiếu" in text_of(page, "download-slips")
    assert text_of(page, "sheet-count") == (
        "(9.234 người: 8.234 đã xác nhận tham dự hoặc cử người dự thay, 1.000 chưa trả lời)"
    )


async def test_on_the_meeting_s_day_the_overview_reads_no_list_to_phone_it_hides(
    desk: Desk, imported: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the meeting's day the tile «Cần gọi điện thoại» is hidden, yet every overview and
    every poll of it (each few seconds, from every open dashboard) still read its first 20
    people: the list is read only on the days it is shown."""
    reads: list[int] = []
    to_phone = imported.dashboard.to_phone

    async def counted(limit: int = 20) -> list[Any]:
        reads.append(limit)
        return await to_phone(limit)

    monkeypatch.setattr(imported.dashboard, "to_phone", counted)
    assert 'id="to-phone"' in (await desk.client.get("/office/live")).text
    assert reads == [20]  # the days of preparation: shown, so read
    clock.set(local(2024, 5, 28, 7, 30))
    await desk.sign_in()  # days on: a session of its own
    page = (await desk.client.get("/office/")).text
    live = (await desk.client.get("/office/live")).text
    assert 'id="to-phone"' not in page and 'id="to-phone"' not in live
    assert reads == [20]


async def test_after_the_meeting_s_end_the_overview_gives_the_day_s_result_not_a_hall_filling(
    desk: Desk, imported: Services, clock: ManualClock
) -> None:
    """At 11:55, the meeting over since 11:30, the overview still read «Hôm nay họp: có mặt
    trong hội trường … đại biểu dự kiến chưa đến: 53», as if they might still come, with no
    word of the day's papers the office files next."""
    await expected(imported, "DB005")
    clock.set(local(2024, 5, 28, 11, 29))
    await desk.sign_in()
    during = (await desk.client.get("/office/")).text
    assert text_of(during, "hall-title") == "Hôm nay họp: có mặt trong hội trường"
    assert 'id="hall-papers"' not in during
    clock.set(local(2024, 5, 28, 11, 30))  # ends_at
    page = (await desk.client.get("/office/")).text
    assert (
        text_of(page, "hall-title") == "Hội nghị đã kết thúc lúc 11:30, 28/5: số có mặt trong ngày"
    )
    assert text_of(page, "hall-said") == (
        "Đại biểu có mặt: 0 (trong đó 0/1 đại biểu dự kiến); tổng số người trong hội trường: 0;"
        " đại biểu dự kiến không đến: 1. Xem trang «Có mặt» · Báo cáo và giấy tờ ngày hội nghị"
        " (mục «Giấy mời và báo cáo»)"
    )
    assert '<a href="/office/invitations" id="hall-papers">' in page
    live = (await desk.client.get("/office/live")).text
    assert text_of(live, "hall-said") == text_of(page, "hall-said")


def two_days() -> Config:
    """The example plan held over two days, 28 and 29/5, ending at 11:30 on the second."""
    config = load_config(EXAMPLE_CONFIG).config
    meeting = config.meeting.model_copy(
        update={"ends_at": config.meeting.ends_at + timedelta(days=1)}
    )
    return config.model_copy(update={"meeting": meeting})


@pytest.mark.parametrize(
    "moment",
    [
        local(2024, 5, 28, 20, 0),  # the evening of its (last) day, the report being written
        local(2024, 5, 29, 9, 0),  # the day after
        local(2024, 6, 4, 9, 0),  # a week after
    ],
)
async def test_after_the_meeting_the_overview_keeps_the_day_s_result_not_the_preparation(
    desk: Desk, imported: Services, clock: ManualClock, moment: datetime
) -> None:
    """The day after the meeting the overview went back to the days of preparation: no word
    of who came, «Chưa gửi giấy mời: 80» and «Cần gọi điện thoại» again, while the office
    writes its report. It keeps the day's result, the papers to file, and no preparation."""
    clock.set(moment)
    await desk.sign_in()  # days on: a session of its own
    page = (await desk.client.get("/office/")).text
    live = (await desk.client.get("/office/live")).text
    for shown in (page, live):
        assert text_of(shown, "hall-title") == (
            "Hội nghị đã kết thúc lúc 11:30, 28/5: số có mặt trong ngày"
        )
        assert 'id="hall-papers"' in shown
        assert 'id="overview-unsent"' not in shown and 'id="to-phone"' not in shown


@pytest.mark.parametrize("config", [two_days()])
async def test_a_two_day_meeting_s_overview_reads_the_hall_on_day_two_and_its_result_after(
    desk: Desk, imported: Services, clock: ManualClock, config: Config
) -> None:
    """Held 28–29/5: on the second day the hall fills again, from its end (29/5 11:30) and on
    the days after, the overview gives the result — not the preparation's prompts."""
    clock.set(local(2024, 5, 29, 9, 0))
    await desk.sign_in()
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "hall-title") == "Hôm nay họp: có mặt trong hội trường"
    assert 'id="overview-unsent"' not in page and 'id="to-phone"' not in page
    for moment in (local(2024, 5, 29, 20, 0), local(2024, 5, 30, 9, 0), local(2024, 6, 5, 9, 0)):
        clock.set(moment)
        await desk.sign_in()
        page = (await desk.client.get("/office/")).text
        assert text_of(page, "hall-title") == (
            "Hội nghị đã kết thúc lúc 11:30, 29/5: số có mặt cả hội nghị"
        ), moment
        assert 'id="overview-unsent"' not in page and 'id="to-phone"' not in page


@pytest.mark.parametrize("config", [two_days()])
async def test_a_two_day_meeting_s_overview_on_the_evening_of_day_one_gives_that_day_s_result(
    desk: Desk, imported: Services, clock: ManualClock, config: Config
) -> None:
    """At 20:00 on 28/5 the overview said «Hôm nay họp: có mặt trong hội trường» and «chưa
    đến» as if the hall were filling: the day closed at 11:30, the meeting goes on on 29/5."""
    clock.set(local(2024, 5, 28, 20, 0))
    await desk.sign_in()
    page = (await desk.client.get("/office/")).text
    assert (
        text_of(page, "hall-title") == "Ngày họp 28/5 đã kết thúc lúc 11:30: số có mặt trong ngày"
    )
    assert text_of(page, "hall-said").startswith(
        "Đại biểu có mặt: 0 (trong đó 0/0 đại biểu dự kiến); tổng số người vào hội trường trong "
        "ngày: 0; đại biểu dự kiến không đến trong ngày: 0. Hội nghị họp tiếp ngày 29/5."
    )


def activity_lines(page: str) -> list[str]:
    """The lines of the overview's «Hoạt động gần đây», as read (tags dropped)."""
    shown = re.findall(r"<li>(.*?)</li>", page.split('id="activity"', 1)[1], re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in shown]


async def test_the_overview_folds_the_plan_s_speeches_assigned_at_once_into_one_line(
    desk: Desk, imported: Services
) -> None:
    """The plan's ten speeches assigned at start-up filled «Hoạt động gần đây» with ten
    identical «phân công tham luận» lines, pushing the import out: one line with the count
    and the way to the log; a single change names what it is about."""
    await imported.drafts.sync()
    page = (await desk.client.get("/office/")).text
    said = activity_lines(page)
    assigned = [line for line in said if "phân công tham luận" in line]
    assert len(assigned) == 1
    assert assigned[0].endswith(
        "Kế hoạch (tệp cấu hình): phân công tham luận — 10 lượt Xem trong nhật ký"
    )
    assert '<a href="/office/log?action=draft.assigned">Xem trong nhật ký</a>' in page
    assert any(f"{STAFF_NAME}: đăng nhập trang điều hành" in line for line in said)
    # One speech withdrawn alone: its line names it.
    await imported.drafts.unassign(imported.access.local_operator(), "DB031", "1.1")
    first = activity_lines((await desk.client.get("/office/")).text)[0]
    assert first.endswith(
        "hủy phân công tham luận (tham luận chủ đề 1.1 — Nguyễn Thị Lan Phương)"
    ), first


async def test_the_overview_refreshes_with_its_own_script_and_works_without(desk: Desk) -> None:
    page = (await desk.client.get("/office/")).text
    script = re.search(r'<script src="(/office/static/office\.[0-9a-f]{12}\.js)" defer>', page)
    assert script is not None
    assert "<script>" not in page and "onclick" not in page and "style=" not in page
    served = await desk.client.get(script.group(1))
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert "/office/live" not in served.text  # the address comes from the page
    assert 'data-live="/office/live"' in page


async def test_the_overview_lists_overdue_tasks_missing_drafts_and_latest_activity(
    desk: Desk, imported: Services, clock
) -> None:
    clock.advance(timedelta(days=30))  # past every deadline (and the morning's session)
    await desk.sign_in()
    page = (await desk.client.get("/office/")).text
    overdue = await imported.tasks.overdue()
    missing = await imported.drafts.missing()
    assert overdue and missing
    assert f"({len(overdue)})" in text_of(page, "overdue-title")
    assert f"({len(missing)})" in text_of(page, "missing-title")
    # The sign-in is the latest thing that happened, by the staff member's name.
    activity = re.search(r'id="activity".*?<li>(.*?)</li>', page, re.S)
    assert activity is not None and f"{STAFF_NAME}: đăng nhập trang điều hành" in activity.group(1)


async def test_the_list_is_in_protocol_order_and_filters_by_group_answer_and_reach(
    desk: Desk, imported: Services
) -> None:
    page = (await desk.client.get("/office/delegates")).text
    shown = codes(page)
    assert len(shown) == 80 and shown[:3] == ["DB001", "DB002", "DB003"]
    assert text_of(page, "found") == "Có 80 đại biểu phù hợp."
    group = await desk.client.get("/office/delegates", params={"group": "lanh_dao_thanh_pho"})
    assert codes(group.text) == ["DB003", "DB004", "DB005", "DB006"]
    account = await link(imported, "DB005", 603)
    await imported.rsvp.choose(account, RsvpChoice.ATTEND)
    answered = await desk.client.get("/office/delegates", params={"answer": "attending"})
    assert codes(answered.text) == ["DB005"]
    reachable = await desk.client.get("/office/delegates", params={"reach": "yes"})
    assert codes(reachable.text) == ["DB005"]
    on_telegram = await desk.client.get("/office/delegates", params={"channel": "telegram"})
    assert codes(on_telegram.text) == ["DB005"]
    unreachable = await desk.client.get("/office/delegates", params={"reach": "no"})
    assert len(codes(unreachable.text)) == 79 and "DB005" not in codes(unreachable.text)
    # Who has not even opened the invitation: DB005 linked a chat, DB006 opened her page.
    web = await web_for(imported)
    assert (await web.open("DB006")).status_code == 200
    await web.client.aclose()
    unopened = await desk.client.get("/office/delegates", params={"reach": "unopened"})
    assert len(codes(unopened.text)) == 78
    assert not {"DB005", "DB006"} & set(codes(unopened.text))


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("nguyen thi thanh nhan", ["DB044"]),  # Nguyễn Thị Thanh Nhàn
        ("DANG THI THU HA", ["DB037"]),  # Đặng Thị Thu Hà: đ is d, case ignored
        ("Nguyễn Thị Thanh Nhàn", ["DB044"]),  # typed with its diacritics, too
        ("db044", ["DB044"]),
    ],
)
async def test_the_search_ignores_diacritics_and_case(
    desk: Desk, typed: str, found: list[str]
) -> None:
    page = (await desk.client.get("/office/delegates", params={"q": typed})).text
    assert codes(page) == found


async def test_an_answer_taken_by_phone_is_recorded_audited_by_name_and_counted(
    desk: Desk, imported: Services, clock
) -> None:
    before = await desk.client.get("/office/")
    assert text_of(before.text, "count-declined") == "0"
    page = await desk.post(
        "delegates/DB010/phone", "form-phone",
        {"choice": "declined", "reason": "Đi công tác  tỉnh"}, page="delegates/DB010",
    )  # fmt: skip
    assert "Đã ghi nhận trả lời qua điện thoại" in text_of(page.text, "flash")
    assert text_of(page.text, "current-answer") == (
        "Nội dung đại biểu đã xác nhận: Không tham dự (lý do: Đi công tác tỉnh)."
    )  # said of the delegate, to the office: not «đồng chí đã xác nhận»
    history = text_of(page.text, "history")
    assert (
        f"{STAFF_NAME}: cập nhật xác nhận tham dự → Không tham dự, lý do: Đi công tác tỉnh"
        " (Văn phòng ghi nhận qua điện thoại)"
    ) in history
    assert history.count(STAFF_NAME) == 1  # the clerk named once, not again in the brackets
    async with imported.ctx.sessions() as session:
        rsvp = await session.scalar(
            select(Rsvp).join(Rsvp.delegate).where(Rsvp.delegate.has(code="DB010"))
        )
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "rsvp.changed"))
    assert rsvp is not None and rsvp.status == RsvpStatus.DECLINED
    assert rsvp.reason == "Đi công tác tỉnh" and rsvp.answered_at == clock.now()
    assert entry is not None and entry.actor == f"dashboard:{STAFF}" and entry.at == clock.now()
    assert entry.after is not None
    assert entry.after["via"] == "phone" and entry.after["by"] == STAFF_NAME
    assert entry.after["status"] == "declined"
    after = await desk.client.get("/office/")
    assert text_of(after.text, "count-declined") == "1"
    # The same answer again changes nothing and writes nothing.
    again = await desk.post(
        "delegates/DB010/phone", "form-phone",
        {"choice": "declined", "reason": "Đi công tác tỉnh"}, page="delegates/DB010",
    )  # fmt: skip
    assert "không có gì thay đổi" in text_of(again.text, "flash")


async def test_a_refused_phone_form_is_shown_again_with_what_was_typed(
    desk: Desk, imported: Services
) -> None:
    substitute = await desk.post(
        "delegates/DB010/phone", "form-phone",
        {"choice": "substitute", "name": "Lê Văn <B>", "position": ""}, page="delegates/DB010",
    )  # fmt: skip
    assert substitute.status_code == 422
    assert "họ và tên, chức vụ" in text_of(substitute.text, "flash")
    # What was typed is still in the form, to add the position and send again.
    assert 'value="Lê Văn &lt;B&gt;"' in substitute.text
    assert 'value="substitute" checked' in substitute.text
    fields = hidden(substitute.text, "form-phone")
    mended = await desk.client.post(
        "/office/delegates/DB010/phone",
        data={**fields, "choice": "substitute", "name": "Lê Văn B", "position": "Phó Chủ tịch"},
    )
    assert mended.status_code == 303
    async with imported.ctx.sessions() as session:
        rsvp = await session.scalar(
            select(Rsvp).join(Rsvp.delegate).where(Rsvp.delegate.has(code="DB010"))
        )
    assert rsvp is not None and rsvp.status == RsvpStatus.SUBSTITUTE
    assert rsvp.substitute_name == "Lê Văn B"


async def test_the_phone_form_offers_the_delegate_s_unit_and_keeps_the_substitute_s_phone(
    desk: Desk, imported: Services
) -> None:
    form_page = await desk.client.get("/office/delegates/DB010")
    assert (
        '<input id="phone-unit" name="unit" autocomplete="off" value="Sở Nội vụ">'
    ) in form_page.text
    typed = {"choice": "substitute", "name": "Lê Văn B", "position": "Phó Chánh Văn phòng",
             "unit": "Sở Nội vụ"}  # fmt: skip
    refused = await desk.post(
        "delegates/DB010/phone", "form-phone", {**typed, "phone": "091234"},
        page="delegates/DB010",
    )  # fmt: skip
    assert refused.status_code == 422
    assert text_of(refused.text, "flash") == (
        "«091234» không phải là số điện thoại. Đề nghị nhập số điện thoại dạng 0912 345 678 "
        "(hoặc +84 912 345 678), hoặc để trống ô này."
    )
    assert 'name="phone" type="tel" maxlength="40" autocomplete="off" value="091234">' in (
        refused.text
    )
    page = await desk.post(
        "delegates/DB010/phone", "form-phone", {**typed, "phone": "0912 345 678"},
        page="delegates/DB010",
    )  # fmt: skip
    # To the office the unit is said, her own or not.
    assert text_of(page.text, "flash") == (
        "Đã ghi nhận trả lời qua điện thoại của đồng chí Trịnh Văn Thắng. Nội dung đại biểu đã "
        "xác nhận: Cử người dự thay — đồng chí Lê Văn B, Phó Chánh Văn phòng, Sở Nội vụ."
    )
    assert text_of(page.text, "substitute-phone") == (
        "Điện thoại của người dự thay, đồng chí Lê Văn B: 0912 345 678"
    )
    assert '<a href="tel:+84912345678">0912 345 678</a>' in page.text
    card = await imported.dashboard.card("DB010")
    assert card is not None
    assert (card.rsvp.substitute_position, card.rsvp.substitute_unit) == (
        "Phó Chánh Văn phòng",
        "Sở Nội vụ",
    )
    assert card.rsvp.substitute_phone == "+84912345678"


async def test_the_phone_form_refuses_the_delegate_named_as_her_own_substitute(
    desk: Desk, imported: Services
) -> None:
    typed = {"choice": "substitute", "name": "Đồng chí Trinh Van Thang",
             "position": "Phó Giám đốc Sở", "unit": "Sở Nội vụ"}  # fmt: skip
    refused = await desk.post("delegates/DB010/phone", "form-phone", typed, page="delegates/DB010")
    assert refused.status_code == 422
    assert text_of(refused.text, "flash") == (
        "Người dự thay trùng họ tên với đồng chí Trịnh Văn Thắng; nếu đại biểu tự đến dự, đề "
        "nghị chọn «Tham dự». Chưa ghi nhận gì."
    )
    assert 'value="Đồng chí Trinh Van Thang"' in refused.text  # the form as typed
    card = await imported.dashboard.card("DB010")
    assert card is not None and card.rsvp.status == RsvpStatus.NO_ANSWER


async def test_the_phone_form_refuses_a_substitute_who_has_her_own_invitation(
    desk: Desk, imported: Services
) -> None:
    """The chair phones that her deputy comes; the deputy is DB023, invited herself (s36 F3):
    found by her phone, nothing recorded, the office told so, the form as typed."""
    typed = {"choice": "substitute", "name": "Bích Ngọc", "position": "Phó Chủ tịch",
             "unit": "", "phone": "+84 855 023 370"}  # fmt: skip
    refused = await desk.post("delegates/DB022/phone", "form-phone", typed, page="delegates/DB022")
    assert refused.status_code == 422
    assert text_of(refused.text, "flash") == (
        "Đồng chí Trương Thị Bích Ngọc đã có giấy mời riêng (mã DB023) và dự hội nghị theo giấy "
        "mời đó, nên không ghi làm người dự thay cho đồng chí Nguyễn Thị Minh Nguyệt. Nếu đại "
        "biểu không đến dự, đề nghị chọn «Không tham dự» (ghi lý do nếu có), hoặc ghi người dự "
        "thay khác. Chưa ghi nhận gì."
    )
    assert 'value="Bích Ngọc"' in refused.text  # the form as typed
    card = await imported.dashboard.card("DB022")
    assert card is not None and card.rsvp.status == RsvpStatus.NO_ANSWER


async def test_a_substitute_recorded_by_phone_with_the_unit_left_empty_is_of_the_delegate_s_unit(
    desk: Desk, imported: Services
) -> None:
    # As on the personal page: the field is pre-filled with the delegate's unit, and emptied it
    # is hers, not «none given» (the day papers would split the position at its last comma).
    await desk.post(
        "delegates/DB010/phone", "form-phone",
        {"choice": "substitute", "name": "Lê Văn B",
         "position": "Phó Chánh Văn phòng, phụ trách tổng hợp", "unit": ""},
        page="delegates/DB010",
    )  # fmt: skip
    card = await imported.dashboard.card("DB010")
    assert card is not None
    assert (card.rsvp.substitute_position, card.rsvp.substitute_unit) == (
        "Phó Chánh Văn phòng, phụ trách tổng hợp",
        "Sở Nội vụ",
    )


async def test_after_the_deadline_the_office_still_records_a_phone_answer_marked_as_late(
    desk: Desk, imported: Services, clock
) -> None:
    """The deadline (21/5 17:00) binds the delegates, not the office: on 26/5 a district
    chair phones that a deputy comes instead. The form says before it is sent that the
    deadline has passed and the change will be marked so; the flash and the history say it
    was taken after it; the counts follow. (It replaces the test that asserted the refusal:
    the office had no way to put an answer right short of editing the plan.)"""
    clock.set(imported.rsvp.deadline - timedelta(minutes=1))
    await desk.sign_in()  # the morning's session has ended by then
    form_page = await desk.client.get("/office/delegates/DB010")
    assert 'id="form-phone"' in form_page.text and 'id="phone-late"' not in form_page.text
    # A form opened before the deadline and sent just after it is recorded, marked as late.
    clock.set(imported.rsvp.deadline + timedelta(seconds=1))
    fields = hidden(form_page.text, "form-phone")
    response = await desk.client.post(
        "/office/delegates/DB010/phone", data={**fields, "choice": "attending"}
    )
    shown = await desk.client.get(response.headers["location"])
    assert "sau thời hạn xác nhận (17:00, Thứ Ba, ngày 21/5/2024)" in text_of(shown.text, "flash")
    card = await imported.dashboard.card("DB010")
    assert card is not None and card.rsvp.status is RsvpStatus.ATTENDING
    clock.set(local(2024, 5, 26, 10, 0))
    await desk.sign_in()
    late_page = await desk.client.get("/office/delegates/DB010")
    assert 'id="form-phone"' in late_page.text
    assert text_of(late_page.text, "phone-late") == (
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024: đại biểu không tự thay đổi "
        "được nội dung xác nhận nữa. Văn phòng vẫn ghi nhận được trả lời nhận qua điện thoại; "
        "thay đổi này sẽ được đánh dấu trong nhật ký là ghi nhận sau thời hạn xác nhận."
    )
    page = await desk.post(
        "delegates/DB010/phone", "form-phone",
        {"choice": "substitute", "name": "Lê Thu Trang", "position": "Phó Chủ tịch"},
        page="delegates/DB010",
    )  # fmt: skip
    assert 'class="text flash ok"' in page.text
    assert text_of(page.text, "flash") == (
        "Đã ghi nhận trả lời qua điện thoại của đồng chí Trịnh Văn Thắng, sau thời hạn xác nhận "
        "(17:00, Thứ Ba, ngày 21/5/2024); nhật ký đánh dấu thay đổi này là ghi nhận sau thời "
        "hạn. Nội dung đại biểu đã xác nhận: Cử người dự thay — đồng chí Lê Thu Trang, Phó Chủ "
        "tịch, Sở Nội vụ."
    )  # said of the delegate, to the office: not «đồng chí đã xác nhận»
    history = text_of(page.text, "history")
    assert (
        f"{STAFF_NAME}: cập nhật xác nhận tham dự → Cử người dự thay: Lê Thu Trang"
        " (Văn phòng ghi nhận qua điện thoại, sau thời hạn xác nhận)"
    ) in history
    assert f"sau thời hạn xác nhận: {STAFF_NAME}" not in history  # the clerk named once
    card = await imported.dashboard.card("DB010")
    assert card is not None and card.rsvp.status is RsvpStatus.SUBSTITUTE
    assert card.rsvp.substitute_name == "Lê Thu Trang"
    overview = await desk.client.get("/office/")
    assert text_of(overview.text, "count-substitute") == "1"


@pytest.mark.parametrize("typed", ["db001", "Db001"])
async def test_a_delegate_s_page_opens_by_a_code_in_another_case_as_the_desk_s_does(
    desk: Desk, typed: str
) -> None:
    """/office/delegates/db001 was «Không tìm thấy đại biểu» (404) while the desk's
    /office/checkin/p/db001 found DB001: the page is hers, its forms on her code."""
    page = await desk.client.get(f"/office/delegates/{typed}")
    assert page.status_code == 200
    assert '<h1>Phạm Thị Thanh Mai <span class="muted">(DB001)</span></h1>' in page.text
    assert 'action="/office/delegates/DB001/phone" id="form-phone"' in page.text


async def test_an_unknown_code_is_a_polite_not_found(desk: Desk) -> None:
    response = await desk.client.get("/office/delegates/DB999")
    assert response.status_code == 404 and 'id="message-no_delegate"' in response.text


async def test_the_list_finds_a_delegate_by_her_phone_digits_and_by_her_substitutes_name(
    desk: Desk, imported: Services
) -> None:
    from bot.domain.rsvp import RsvpAnswer, RsvpStatus
    from bot.services.dashboard import Filters

    dashboard = imported.dashboard

    async def found(search: str) -> list[str]:
        return [row.code for row in (await dashboard.delegates(Filters(search=search))).rows]

    # DB003's number as her row shows it, as dialled, with +84, or its last six digits (as
    # the reception desk's search takes it); fewer digits are no number.
    for typed in ("0386 003 246", "0386003246", "+84 386 003 246", "003246"):
        assert await found(typed) == ["DB003"], typed
    assert await found("3246") == []
    # DB040 sent Nguyễn Thị Hà: her name finds the one who sent her (diacritics aside), as the
    # substring finds DB009 «Nguyễn Thị Hải Yến»; her phone finds DB040 too.
    office = imported.access.local_operator()
    db040 = next(r for r in (await dashboard.delegates(Filters(search="DB040"))).rows)
    await imported.rsvp.record_by_phone(
        office, db040.id,
        RsvpAnswer(RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị Hà",
                   substitute_position="Phó Chủ tịch", substitute_phone="+84912777888"),
    )  # fmt: skip
    assert await found("Nguyễn Thị Hà") == ["DB009", "DB040"]
    assert await found("nguyen thi ha") == ["DB009", "DB040"]
    assert await found("0912 777 888") == ["DB040"]
    page = await desk.client.get("/office/delegates", params={"q": "0386 003 246"})
    assert text_of(page.text, "found") == "Có 1 đại biểu phù hợp."
    assert "Tìm theo tên, mã, đơn vị, số điện thoại hoặc tên người dự thay" in page.text


async def test_a_row_of_one_who_sent_a_substitute_names_the_substitute_under_the_answer(
    desk: Desk, imported: Services
) -> None:
    """Found by «nguyen thi ha», the row said «Cử người dự thay» and nowhere the name searched
    for: who comes was one click further (s36 F4)."""
    from bot.domain.rsvp import RsvpAnswer, RsvpStatus
    from bot.services.dashboard import Filters

    db040 = (await imported.dashboard.delegates(Filters(search="DB040"))).rows[0]
    await imported.rsvp.record_by_phone(
        imported.access.local_operator(), db040.id,
        RsvpAnswer(RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị <Hà>",
                   substitute_position="Phó Chủ tịch"),
    )  # fmt: skip
    page = await desk.client.get("/office/delegates", params={"q": "nguyen thi ha"})
    assert text_of(page.text, "answer-DB040").startswith("Cử người dự thay")
    assert text_of(page.text, "substitute-DB040") == "Người dự thay: Nguyễn Thị &lt;Hà&gt;"
    assert text_of(page.text, "answer-DB009") == "Chưa trả lời"  # «Nguyễn Thị Hải Yến»


@pytest.mark.parametrize("search", ["", "hoi lhpn"])
async def test_the_list_goes_on_page_after_page_in_protocol_order(
    imported: Services, search: str
) -> None:
    from bot.services.dashboard import Filters

    dashboard = imported.dashboard
    whole = await dashboard.delegates(Filters(search=search), limit=1000)
    seen: list[str] = []
    after = ""
    while True:
        page = await dashboard.delegates(Filters(search=search, after=after), limit=7)
        assert page.total == whole.total
        seen += [row.code for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [row.code for row in whole.rows] and len(seen) == whole.total > 7


@pytest.mark.parametrize("typed", ["db010", " Db010 "])
async def test_a_hand_typed_address_goes_on_after_that_person_whatever_the_codes_case(
    desk: Desk, typed: str
) -> None:
    # /office/delegates?after=db010 typed or edited by hand goes on after DB010, as the page's
    # own «next page» link (the code as stored) does; not back to the start of the list.
    await desk.sign_in()
    shown = await desk.client.get("/office/delegates", params={"after": "DB010"})
    typed_page = await desk.client.get("/office/delegates", params={"after": typed})
    codes = re.findall(ROW.format(code="[^<]+"), shown.text)
    assert codes[0] == "DB011"
    assert re.findall(ROW.format(code="[^<]+"), typed_page.text) == codes


async def test_a_searchs_matches_come_in_the_lists_protocol_order(imported: Services) -> None:
    # A search's matches must come in the order the list without a search shows them,
    # unranked and unknown-group people included (the search was sorted in Python before 0019).
    from sqlalchemy import update

    from bot.services.dashboard import Filters
    from storage.models import Delegate

    dashboard = imported.dashboard
    first = await dashboard.delegates(Filters(search="hoi lhpn"), limit=1000)
    unranked, elsewhere = first.rows[2].code, first.rows[5].code
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(update(Delegate).where(Delegate.code == unranked).values(rank=None))
        await session.execute(
            update(Delegate).where(Delegate.code == elsewhere).values(group_key="gone")
        )
    everyone = [row.code for row in (await dashboard.delegates(Filters(), limit=1000)).rows]
    found = await dashboard.delegates(Filters(search="hoi lhpn"), limit=1000)
    codes = [row.code for row in found.rows]
    assert {unranked, elsewhere} <= set(codes) and len(codes) > 20
    assert codes[-1] == elsewhere  # an unknown group goes last
    assert codes == [code for code in everyone if code in set(codes)]


async def test_the_overviews_one_read_agrees_with_the_counts_the_reach_and_the_list_to_phone(
    imported: Services, clock: ManualClock
) -> None:
    # The overview's figures come from one grouped read (DashboardService.figures): they must
    # be those of /thongke, of the reach by channel and of the list filtered "no chat, no
    # answer", with accounts on two channels, one blocked, and a personal page's link (no chat).
    from storage.models import ChannelIdentity, Delegate, Invitation

    async with imported.ctx.sessions() as session, session.begin():
        ids = dict((await session.execute(select(Delegate.code, Delegate.id))).all())
        now = clock.now()

        def account(
            code: str, channel: str, *, via: str = "token", blocked: bool = False
        ) -> ChannelIdentity:
            return ChannelIdentity(
                meeting_id=imported.ctx.meeting_id,
                delegate_id=ids[code], channel=channel, external_id=f"{code}-{channel}",
                chat_address=f"{code}-{channel}", linked_at=now, linked_via=via,
                unreachable_at=now if blocked else None,
            )  # fmt: skip

        session.add_all([
            account("DB001", "telegram"), account("DB001", "zalo", blocked=True),
            account("DB002", "telegram", blocked=True), account("DB003", "zalo"),
            account("DB004", "page", via="page"), account("DB005", "zalo", blocked=True),
            account("DB005", "telegram", blocked=True),
        ])  # fmt: skip
        answers = {"DB003": "attending", "DB005": "declined"}
        for code, status in answers.items():
            found = await session.scalar(select(Rsvp).where(Rsvp.delegate_id == ids[code]))
            assert found is not None
            found.status = status
    figures = await imported.dashboard.figures()
    assert figures.counts == await imported.reports.counts()
    assert figures.counts.overall.linked == 4  # DB001, DB002, DB003, DB005: not the page's
    assert figures.reach == await imported.dashboard.reach()
    assert [(r.channel, r.reachable, r.blocked) for r in figures.reach] == [
        ("telegram", 1, 2), ("zalo", 1, 2)
    ]  # fmt: skip
    to_phone = Filters(reach="no", answer="no_answer", sent="yes")  # the tile's «Xem cả»
    listed = await imported.dashboard.delegates(to_phone)
    # Unanswered, on no chat that runs, the invitation gone out: DB002 (blocked), DB004 (page).
    assert figures.to_phone == listed.total == 2
    # Not reached by their invitation: 80 but the five with an account (the page's counts).
    assert figures.unsent == await imported.dashboard.unsent() == 75
    # Marked sent: DB006 and DB007 (no account) count as reached, DB001 (linked) once only.
    office = imported.access.local_operator()
    for code in ("DB001", "DB006", "DB007"):
        async with imported.ctx.sessions() as session:
            live = await session.scalar(
                select(Invitation.id)
                .join(Delegate)
                .where(Delegate.code == code, Invitation.revoked_at.is_(None))
            )
        await imported.invitations.mark_sent(office, code, invitation=live or 0, via="sms")
    again = await imported.dashboard.figures()
    assert again.unsent == await imported.dashboard.unsent() == 73
    listed = await imported.dashboard.delegates(to_phone)
    assert again.to_phone == listed.total == 4  # and DB006, DB007 (marked); not DB001 (linked)
    first = await imported.dashboard.to_phone(limit=3)
    assert [row.code for row in first] == [row.code for row in listed.rows[:3]]
    assert [row.code for row in first] == ["DB002", "DB004", "DB006"]


async def test_on_a_pages_only_install_one_linked_on_telegram_earlier_is_someone_to_phone(
    desk: Desk, imported: Services
) -> None:
    # No chat runs (no token): DB001 and DB002, linked on Telegram in an earlier run, were
    # counted reachable on the overview («Telegram: 2», «Cần gọi điện thoại (78)») while a
    # notice's preview counts them, as the outbox records them, on no chat.
    await imported.invitations.mark_sent_many(imported.access.local_operator(), None)
    await link(imported, "DB001", 601)
    await link(imported, "DB002", 602)
    imported.ctx.chats.run(())  # what App.run tells the services on a pages-only install
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "phone-title") == "Cần gọi điện thoại (80)"
    assert 'id="reach-telegram"' not in page
    # The tile said «Chưa đại biểu nào liên kết tài khoản trò chuyện.»: two had, on Telegram.
    assert text_of(page, "reach") == (
        "Liên lạc được qua kênh trò chuyện\nMáy này không chạy kênh trò chuyện nào (chỉ dùng"
        " trang cá nhân): bot không gửi tin nhắn cho đại biểu nào; thông báo hiện trên trang cá"
        " nhân của từng người.\nTelegram: 2 đại biểu đã liên kết tài khoản từ trước, nhưng máy"
        " này không chạy kênh Telegram nên bot không gửi tin nhắn được cho các đồng chí này;"
        " người chưa trả lời trong số đó nằm trong danh sách cần gọi điện thoại."
    )
    assert [row.code for row in await imported.dashboard.to_phone(limit=2)] == ["DB001", "DB002"]
    # «Xem cả 80 người» lists the same people; the notice's preview counts them alike.
    listed = await imported.dashboard.delegates(Filters(reach="no", answer="no_answer", sent="yes"))
    assert listed.total == 80
    assert [(row.code, row.channels) for row in listed.rows[:2]] == [("DB001", ()), ("DB002", ())]
    office = imported.access.local_operator()
    draft = (await imported.broadcasts.start(office)).message_id
    await imported.broadcasts.accept_text(office, "Họp trù bị lúc 14:00.")
    shown = await imported.broadcasts.choose_audience(office, draft or 0, "no_answer")
    assert shown.reach is not None
    assert (shown.reach.reachable, shown.reach.blocked + shown.reach.not_linked) == (0, 80)
    # Once Telegram runs again, they are reached there.
    imported.ctx.chats.run(("telegram",))
    again = await imported.dashboard.figures()
    assert (again.to_phone, [(r.channel, r.reachable) for r in again.reach]) == (
        78, [("telegram", 2)]
    )  # fmt: skip


async def test_linked_in_every_count_means_on_a_chat_that_runs_here(
    desk: Desk, imported: Services
) -> None:
    """Linked on Telegram in an earlier run, then Zalo alone runs: /thongke's «đã liên kết tài
    khoản», the workbook's summary column, the RSVP report's «chưa kết nối» and /chuatraloi's
    mark counted them linked while the preview and «Cần gọi điện thoại» count them on no chat.
    Every count now asks the chats that run; the tile says the Telegram ones are reached by
    nobody here."""
    await link(imported, "DB001", 601)
    await link(imported, "DB002", 602)
    imported.ctx.chats.run(("zalo",))
    counts = await imported.reports.counts()
    figures = await imported.dashboard.figures()
    assert (counts.overall.linked, figures.counts.overall.linked) == (0, 0)
    [group] = (await imported.reports.unanswered(limit=2)).groups
    assert [(p.code, p.linked) for p in group.delegates] == [("DB001", False), ("DB002", False)]
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "reach-none") == (
        "Chưa đại biểu nào liên kết tài khoản trên kênh trò chuyện đang chạy."
    )
    assert text_of(page, "reach-idle-telegram").startswith(
        "Telegram: 2 đại biểu đã liên kết tài khoản từ trước, nhưng máy này không chạy kênh"
    )
    imported.ctx.chats.run(("telegram", "zalo"))
    assert (await imported.reports.counts()).overall.linked == 2
    assert (await imported.dashboard.figures()).counts.overall.linked == 2
    page = (await desk.client.get("/office/")).text
    assert 'id="reach-idle-telegram"' not in page and text_of(page, "reach-telegram") == "2"


async def test_a_delegates_page_says_her_chat_does_not_run_here(
    desk: Desk, imported: Services
) -> None:
    # Linked on Telegram, then restarted without its token: her page said «Telegram — liên kết
    # lúc …» as if the bot could still write to her.
    await link(imported, "DB001", 601)
    imported.ctx.chats.run(("zalo",))
    page = (await desk.client.get("/office/delegates/DB001")).text
    assert text_of(page, "not-running-telegram") == (
        "máy này hiện không chạy kênh Telegram (chưa đặt token): bot không gửi tin nhắn được, cần"
        " liên hệ qua điện thoại"
    )
    imported.ctx.chats.run(("telegram", "zalo"))
    page = (await desk.client.get("/office/delegates/DB001")).text
    assert 'id="not-running-telegram"' not in page


async def test_a_delegates_page_names_the_token_variable_of_her_chat_that_does_not_run(
    desk: Desk, imported: Services
) -> None:
    # «(chưa đặt token)» left the office to guess which variable to ask for; the overview names
    # it as start-up does (TELEGRAM_BOT_TOKEN), and so does her page now.
    await link(imported, "DB001", 601)
    envs = {"telegram": "TELEGRAM_BOT_TOKEN", "zalo": "ZALO_BOT_TOKEN"}
    imported.ctx.chats.run(("zalo",), envs)
    page = (await desk.client.get("/office/delegates/DB001")).text
    assert text_of(page, "not-running-telegram") == (
        "máy này hiện không chạy kênh Telegram vì chưa đặt token (TELEGRAM_BOT_TOKEN): bot không"
        " gửi tin nhắn được, cần liên hệ qua điện thoại"
    )


async def test_the_channel_filter_leaves_out_the_withdrawn_and_is_offered_from_two_chats_on(
    desk: Desk, imported: Services
) -> None:
    """«Kênh: Telegram» kept DB005, withdrawn, and counted her («Có 2 đại biểu phù hợp, trong
    đó 1 …») while «Liên lạc» and every count leave her out: it finds whom a chat reaches, and
    leaves her out too. With one chat reaching anyone it said what «Liên lạc» says: it is
    offered from two on; a chat that does not run reaches nobody on it."""
    for code, user_id in (("DB001", 601), ("DB005", 605)):
        await link(imported, code, user_id)
    tokens = {item.code: item.token for item in await imported.invitations.links()}
    await imported.invitations.link_by_token(ChatAccount("zalo", "z-2", "z-2"), tokens["DB002"])
    office = imported.access.local_operator()
    await imported.withdrawals.withdraw(office, "DB005", "Mời nhầm")
    listing = await imported.dashboard.delegates(Filters(channel="telegram"))
    assert ([row.code for row in listing.rows], listing.total, listing.withdrawn) == (
        ["DB001"], 1, 0
    )  # fmt: skip
    page = (await desk.client.get("/office/delegates?channel=telegram")).text
    assert text_of(page, "found") == "Có 1 đại biểu phù hợp."
    assert '<option value="zalo" >Zalo</option>' in page
    imported.ctx.chats.run(("telegram",))  # Zalo's token taken away: one chat reaches
    assert 'id="channel"' not in (await desk.client.get("/office/delegates")).text
    imported.ctx.chats.run(("zalo",))
    page = (await desk.client.get("/office/delegates?channel=telegram")).text
    assert text_of(page, "found") == "Có 0 đại biểu phù hợp."
    assert '<option value="telegram" selected>Telegram</option>' in page  # the filter shown


async def test_the_workbooks_delegates_sheet_says_a_chat_that_does_not_run_here_reaches_nobody(
    imported: Services,
) -> None:
    """Linked on Telegram, then Zalo alone runs: the «Đại biểu» sheet said «Kênh liên lạc:
    Telegram», «Bot liên lạc được: Có», and the clerk did not phone her. It says the chat does not
    run here, «Không», and why; with Telegram running again, as before."""
    await link(imported, "DB001", 601)
    account = await link(imported, "DB002", 602)
    tokens = {item.code: item.token for item in await imported.invitations.links()}
    await imported.invitations.link_by_token(ChatAccount("zalo", "z-602", "z-602"), tokens["DB002"])
    await imported.invitations.set_reachable(account, reachable=False, reason="blocked")
    imported.ctx.chats.run(("zalo",))

    def sheet_rows(report: OfficeReport) -> dict[str, tuple[object, ...]]:
        sheet = office_report_sheets(CATALOG, imported.config, report)[0]
        return {str(row[1]): tuple(row[13:16]) for row in sheet.rows}

    rows = sheet_rows(await imported.office_report.collect())
    assert rows["DB001"] == (
        "Telegram (máy này không chạy kênh này)",
        "Không",
        "Máy này hiện không chạy kênh Telegram (chưa đặt token): bot không gửi tin nhắn được, đề"
        " nghị gọi điện",
    )
    # Reached on Zalo, which runs: her blocked Telegram is named as not running, not as blocked.
    assert rows["DB002"] == ("Zalo, Telegram (máy này không chạy kênh này)", "Có", None)
    assert rows["DB003"] == ("Chưa liên kết", None, None)
    imported.ctx.chats.run(("telegram", "zalo"))
    rows = sheet_rows(await imported.office_report.collect())
    assert rows["DB001"] == ("Telegram", "Có", None)
    assert rows["DB002"] == ("Zalo, Telegram (đã chặn bot)", "Có", None)


async def test_the_workbooks_reach_note_names_the_variable_of_a_chat_that_does_not_run_here(
    imported: Services,
) -> None:
    """Her card on the dashboard named the variable to set; the workbook's «Ghi chú liên lạc»
    said only «chưa đặt token»: the clerk who reads the workbook did not know which."""
    await link(imported, "DB001", 601)
    imported.ctx.chats.run(("zalo",), {"telegram": "TELEGRAM_BOT_TOKEN", "zalo": "ZALO_BOT_TOKEN"})
    sheet = office_report_sheets(CATALOG, imported.config, await imported.office_report.collect())
    [row] = [row for row in sheet[0].rows if row[1] == "DB001"]
    assert row[15] == (
        "Máy này hiện không chạy kênh Telegram vì chưa đặt token (TELEGRAM_BOT_TOKEN): bot không"
        " gửi tin nhắn được, đề nghị gọi điện"
    )


async def test_a_search_reads_only_its_matches_from_the_database(imported: Services) -> None:
    # The search is chosen in SQL on the folded text kept with each person (migration 0019):
    # no statement reads the people without it (before, all of them were read and folded).
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import AsyncEngine

    engine = imported.ctx.sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        found = await imported.dashboard.delegates(Filters(search="nguyen thi thanh nhan"))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert [row.code for row in found.rows] == ["DB044"] and found.total == 1
    reading_people = [s for s in statements if "FROM delegates" in s]
    assert reading_people and all("search_text LIKE" in s for s in reading_people)


async def test_a_renamed_person_is_found_by_the_new_name_and_not_the_old(
    imported: Services,
) -> None:
    from dataclasses import replace

    from bot.delegate_file import Group as FileGroup
    from bot.delegate_file import parse_delegate_file
    from tests.conftest import EXAMPLE_DELEGATES

    groups = [FileGroup(g.key, g.label) for g in imported.config.groups]
    rows = parse_delegate_file(EXAMPLE_DELEGATES, groups).rows
    renamed = [
        replace(row, full_name="Trương Thị Ánh Tuyết") if row.code == "DB044" else row
        for row in rows
    ]
    summary = await imported.delegates.import_rows(renamed, actor="test")
    assert summary.changed == {"DB044": ["full_name"]}
    dashboard = imported.dashboard
    assert [r.code for r in (await dashboard.delegates(Filters(search="truong thi anh"))).rows] == [
        "DB044"
    ]
    assert (await dashboard.delegates(Filters(search="nguyen thi thanh nhan"))).rows == []


async def test_upgrading_to_0019_makes_the_people_already_there_searchable(
    imported: Services,
) -> None:
    from alembic import command
    from sqlalchemy import Connection, text
    from sqlalchemy.ext.asyncio import AsyncEngine

    from storage.migrate import alembic_config

    def migrate(connection: Connection, how: str, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, how)(config, revision)

    engine = imported.ctx.sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    async with engine.begin() as connection:
        await connection.run_sync(migrate, "downgrade", "0018")
        await connection.run_sync(migrate, "upgrade", "head")
        folded = (
            await connection.execute(text("SELECT search_text FROM delegates WHERE code = 'DB037'"))
        ).scalar_one()
        rsvps = (await connection.execute(text("SELECT count(*) FROM rsvps"))).scalar_one()
    assert rsvps == 80  # the column is added in place: no answer lost to a table rebuilt
    assert folded.startswith("db037 dang thi thu ha ")
    found = await imported.dashboard.delegates(Filters(search="DANG THI THU HA"))
    assert [row.code for row in found.rows] == ["DB037"]


async def test_the_list_s_reach_filter_is_not_named_as_the_overview_s_whom_to_phone(
    desk: Desk, imported: Services
) -> None:
    """«Cần gọi điện thoại» meant 77 on the overview and 80 in the list's filter of that name:
    the filter counts everyone no chat reaches, answered or not. One label, one meaning: the
    overview's «Xem cả … người» opens its own number; the filter says what it is."""
    await imported.invitations.mark_sent_many(imported.access.local_operator(), None)
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "attending"}, page="delegates/DB010"
    )
    overview = (await desk.client.get("/office/")).text
    assert "Cần gọi điện thoại (79)" in overview
    more = re.search(r'<a href="([^"]*)">Xem cả 79 người</a>', overview)
    assert more is not None
    opened = (await desk.client.get(html.unescape(more.group(1)))).text
    assert text_of(opened, "found") == "Có 79 đại biểu phù hợp."
    listing = (await desk.client.get("/office/delegates?reach=no")).text
    assert text_of(listing, "found") == "Có 80 đại biểu phù hợp."
    assert '<option value="no" selected>Không liên lạc được qua kênh trò chuyện</option>' in listing
    assert "Cần gọi điện thoại" not in listing


async def test_the_dashboards_pages_read_without_taking_the_writers_lock(
    desk: Desk, imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page that only reads begins DEFERRED on SQLite (storage.uow.read_only / reading): on a
    # busy morning it neither waits behind the desks' and the chats' writes nor holds them up.
    from storage.sqlite_driver import OneTripConnection

    if imported.ctx.sessions.kw["bind"].dialect.name != "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE / DEFERRED")
    [task] = [line for line in await imported.tasks.office_board() if line.key == "VI.2"]
    begins: list[str] = []
    original = OneTripConnection.begin_with_next_statement

    def spy(self: OneTripConnection, begin: str) -> None:
        begins.append(begin)
        original(self, begin)

    monkeypatch.setattr(OneTripConnection, "begin_with_next_statement", spy)
    for path in ("/office/", "/office/live", "/office/delegates", "/office/delegates?q=nguyen",
                 "/office/delegates?reach=no&answer=no_answer", "/office/delegates/DB010",
                 "/office/tasks", f"/office/tasks/{task.id}", "/office/log",
                 "/office/log?action=rsvp.changed"):  # fmt: skip
        begins.clear()
        response = await desk.client.get(path)
        assert response.status_code == 200, path
        assert begins and set(begins) == {"BEGIN"}, (path, begins)


@pytest.mark.parametrize("looked_up", [500, 0], ids=["accounts-looked-up", "meeting-read"])
async def test_the_exported_log_names_the_clerk_behind_a_dashboard_change(
    desk: Desk, imported: Services, monkeypatch: pytest.MonkeyPatch, looked_up: int
) -> None:
    # A page's few accounts are looked up by code, an export's many by reading the meeting once:
    # either way the clerk has her name, on the log's page as in its export.
    monkeypatch.setattr(queries, "LOOKED_UP_ACCOUNTS", looked_up)
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "attending"}, page="delegates/DB010"
    )
    rows = [row for row in await imported.office_report.audit() if row.action == "rsvp.changed"]
    assert [(row.actor, row.person) for row in rows] == [
        (f"dashboard:{STAFF}", f"{STAFF_NAME} ({STAFF})")
    ]  # not «dashboard:NV…» in the «Người thực hiện» column
    page = await desk.client.get("/office/log", params={"action": "rsvp.changed"})
    assert STAFF_NAME in page.text and f"dashboard:{STAFF}" not in page.text


async def test_the_overview_says_no_speech_is_assigned_rather_than_every_draft_is_in(
    desk: Desk, imported: Services
) -> None:
    # With no speech assigned (the import assigned the plan's: taken off, as a plan naming no
    # speaker), nothing can be «all sent».
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(delete(SpeechAssignment))
    page = (await desk.client.get("/office/")).text
    assert "đều đã có bản gửi" not in page
    assert text_of(page, "missing-title") == "Tham luận chưa gửi (0)"
    assert text_of(page, "missing-none") == "Chưa phân công tham luận nào."
    await imported.drafts.sync()
    page = (await desk.client.get("/office/")).text
    missing = await imported.drafts.missing()
    assert missing and text_of(page, "missing-title") == f"Tham luận chưa gửi ({len(missing)})"
    assert 'id="missing-none"' not in page
    # Every assignment left has a draft: then, and only then, «all sent».
    office = imported.access.local_operator()
    board = await imported.drafts.board()
    for line in board[1:]:
        await imported.drafts.unassign(office, line.code, line.theme_key)
    web = await web_for(imported)
    draft = board[0].id
    await web.post(board[0].code, f"draft/{draft}/text", f"draft-{draft}-type", {"text": "Bài"})
    await web.client.aclose()
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "missing-title") == "Tham luận chưa gửi (0)"
    assert text_of(page, "missing-none") == "Mọi tham luận được phân công đều đã có bản gửi."


async def test_the_overview_names_the_task_each_upcoming_task_reminder_is_for(
    desk: Desk, imported: Services, clock: ManualClock
) -> None:
    planned = planned_messages(imported.config)
    reminders = [
        p for p in planned if p.kind is MessageKind.TASK_REMINDER and p.due_at > clock.now()
    ]
    await sync_planned(imported.ctx.sessions, clock, imported.ctx.meeting_id, reminders)
    page = (await desk.client.get("/office/")).text
    upcoming = page.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
    lines = [re.sub(r"<[^>]+>", "", line) for line in re.findall(r"<li>(.*?)</li>", upcoming)]
    # 18/5 09:00: VI.1.3 (due 21/5) and VI.1.4 (due 23/5) are both reminded at 08:00 on 20/5.
    assert lines[:3] == [
        "08:00, 20/5 — nhắc nhiệm vụ: VI.1.3 Xây dựng phóng sự (clip) kết quả nửa nhiệm kỳ",
        "08:00, 20/5 — nhắc nhiệm vụ: VI.1.4 Đặt, thu thập và biên tập tham luận",
        "08:00, 21/5 — nhắc nhiệm vụ: VI.1.3 Xây dựng phóng sự (clip) kết quả nửa nhiệm kỳ",
    ]


def upcoming_lines(page: str) -> list[str]:
    """The overview's «Sắp gửi» lines as read, tags and runs of spaces dropped."""
    upcoming = page.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
    return [
        " ".join(re.sub(r"<[^>]+>", "", line).split())
        for line in re.findall(r"<li[^>]*>(.*?)</li>", upcoming, re.S)
    ]


async def test_a_plan_reminder_due_before_any_delegate_list_is_shown_waiting_for_it(
    services: Services, clock: ManualClock
) -> None:
    """The office started the bot before importing the invitees (only the task contacts' file
    is in, a clerk among them): the RSVP reminder of 08:00 18/5 fell due and waits for the
    list. At 09:00 «Sắp gửi» said it was coming at 08:00 — an hour gone by; it says it waits
    for the delegate list, since when, first. Once the list is in, the outbox sends it at its
    next tick: no longer listed, as a notice whose time has come is not."""
    clock.set(local(2024, 5, 18, 7, 0))
    planned = planned_messages(services.config)
    reminders = [p for p in planned if p.kind is MessageKind.RSVP_REMINDER]
    await sync_planned(services.ctx.sessions, clock, services.ctx.meeting_id, reminders)
    clock.set(local(2024, 5, 18, 9, 0))
    await import_example(services, EXAMPLE_CONTACTS)
    await make_staff(services, "NV01")
    desk = await desk_for(services)
    try:
        await desk.sign_in("NV01")
        assert upcoming_lines((await desk.client.get("/office/")).text) == [
            "Chờ danh sách đại biểu — nhắc xác nhận tham dự (đến giờ gửi từ 08:00, 18/5; bot sẽ"
            " gửi ngay khi danh sách đại biểu được nhập, nếu chưa quá thời hạn gửi)",
            "08:00, 20/5 — nhắc xác nhận tham dự",
        ]
        await import_example(services)
        assert upcoming_lines((await desk.client.get("/office/")).text) == [
            "08:00, 20/5 — nhắc xác nhận tham dự",
        ]
    finally:
        await desk.client.aclose()


async def test_a_delegate_s_history_says_the_reason_a_second_record_of_one_answer_added(
    desk: Desk, imported: Services
) -> None:
    # DB012 declined by phone, then the office recorded her decline again with her reason:
    # two lines «→ Không tham dự» alike said nothing of what the second one changed.
    for reason in ("", "Đi công tác nước ngoài"):
        await desk.post(
            "delegates/DB012/phone", "form-phone", {"choice": "declined", "reason": reason},
            page="delegates/DB012",
        )  # fmt: skip
    page = (await desk.client.get("/office/delegates/DB012")).text
    history = page.split('id="history"', 1)[1].split("</section>", 1)[0]
    lines = [" ".join(re.sub(r"<[^>]+>", "", line).split()) for line in re.findall(
        r"<li>(.*?)</li>", history
    )]  # fmt: skip
    assert lines[:2] == [
        f"09:00, 18/5 — {STAFF_NAME}: cập nhật xác nhận tham dự → Không tham dự, lý do: Đi công "
        "tác nước ngoài (Văn phòng ghi nhận qua điện thoại)",
        f"09:00, 18/5 — {STAFF_NAME}: cập nhật xác nhận tham dự → Không tham dự (Văn phòng ghi "
        "nhận qua điện thoại)",
    ]


async def test_a_pages_only_overview_says_its_coming_reminders_reach_nobody(
    desk: Desk, imported: Services, clock: ManualClock
) -> None:
    """A new office on the web alone saw «Sắp gửi: 08:00, 11/12 — nhắc xác nhận tham dự» and
    counted on a reminder no channel would carry."""
    coming = [p for p in planned_messages(imported.config) if p.due_at > clock.now()]
    await sync_planned(imported.ctx.sessions, clock, imported.ctx.meeting_id, coming)
    imported.ctx.chats.run(())  # what App.run tells the services on a pages-only install
    page = (await desk.client.get("/office/")).text
    assert 'id="upcoming-pages-only"' in page
    assert text_of(page, "upcoming-pages-only").startswith(
        "Máy này không chạy kênh trò chuyện nào (Zalo, Telegram): các tin nhắc tự động trên"
    )
    imported.ctx.chats.run(("telegram",))
    assert 'id="upcoming-pages-only"' not in (await desk.client.get("/office/")).text


@pytest.mark.parametrize("config", [two_days()])
async def test_a_two_day_meeting_s_overview_and_attendance_pages_count_today_and_each_day(
    desk: Desk, imported: Services, clock: ManualClock, config: Config
) -> None:
    """Re-test s34 (M1): on day two the overview read «Đại biểu có mặt: 2 …» for one person
    in the hall — day one's check-ins counted as today's. Day two's figures are day two's, with
    whose day they are and each day's hall; the «Có mặt» page and its printed report alike."""
    await expected(imported, "DB005", "DB006")
    at_desk = await staff_at_desk(imported)
    clock.set(local(2024, 5, 28, 7, 30))
    await imported.checkin.check_in(at_desk, "DB005")
    await imported.checkin.check_in(at_desk, "DB006")
    clock.set(local(2024, 5, 29, 7, 40))
    await imported.checkin.check_in(at_desk, "DB005")
    await desk.sign_in()
    page = (await desk.client.get("/office/")).text
    assert text_of(page, "hall-said") == (
        "Đại biểu có mặt: 1 (trong đó 1/2 đại biểu dự kiến); tổng số người trong hội trường: 1;"
        " đại biểu dự kiến chưa đến: 1. Xem trang «Có mặt»"
    )
    days = (
        "Số liệu của ngày 29/5. Số người vào hội trường theo ngày họp: Ngày 28/5: 2 người · "
        "Ngày 29/5: 1 người"
    )
    assert text_of(page, "hall-days") == days
    attendance = (await desk.client.get("/office/attendance")).text
    assert text_of(attendance, "total-in-hall") == "1"
    assert text_of(attendance, "hall-days") == days
    summary = (await desk.client.get("/office/attendance/summary")).text
    assert text_of(summary, "sum-in-hall") == "1"
    assert text_of(summary, "summary-day") == "Số liệu của ngày 29/5."
    assert text_of(summary, "summary-days") == (
        "Số người vào hội trường theo ngày họp: Ngày 28/5: 2 người · Ngày 29/5: 1 người"
    )
    assert text_of(attendance, "as-of") == "Số liệu lúc 07:40, 29/5"  # whose day, on the page


@pytest.mark.parametrize("config", [two_days()])
async def test_after_a_two_day_meeting_the_overview_and_attendance_count_who_came_on_any_day(
    desk: Desk, imported: Services, clock: ManualClock, config: Config
) -> None:
    """Verify s34 (NEW-1): on the day after, the overview said «đại biểu dự kiến không đến: 2»
    and «Có mặt» listed as «Chưa đến» DB005, who came on day one. «Không đến» / «Chưa đến» are
    those expected who came on no day, beside how many came on at least one day."""
    await expected(imported, "DB005", "DB006")
    at_desk = await staff_at_desk(imported)
    clock.set(local(2024, 5, 28, 7, 30))
    await imported.checkin.check_in(at_desk, "DB005")
    clock.set(local(2024, 5, 30, 9, 0))
    await desk.sign_in()
    page = (await desk.client.get("/office/")).text
    # The whole meeting's, «(trong đó 1/2 đại biểu dự kiến)» too: not the last day's 0/2.
    assert text_of(page, "hall-said").startswith(
        "Đại biểu có mặt ít nhất một ngày: 1 (trong đó 1/2 đại biểu dự kiến); tổng số người đã "
        "đến: 1; đại biểu dự kiến không đến ngày nào: 1."
    )
    days = (
        "Số liệu của cả hội nghị: mỗi người đến ít nhất một ngày được tính một lần; «chưa đến» "
        "là đại biểu dự kiến không đến ngày nào. Số người vào hội trường theo ngày họp: Ngày "
        "28/5: 1 người · Ngày 29/5: 0 người"
    )
    assert text_of(page, "hall-days") == days
    attendance = (await desk.client.get("/office/attendance")).text
    assert text_of(attendance, "hall-days") == days
    assert text_of(attendance, "total-missing") == "1"
    assert 'id="missing-DB006"' in attendance
    assert 'id="missing-DB005"' not in attendance  # came on day one
    # Her group's row: «Có mặt» 1, «Trong đó dự kiến» 1 (not day two's 0), «Chưa đến» 1.
    card = await imported.dashboard.card("DB005")
    assert card is not None
    row = attendance.split(f'id="att-{card.person.group_key}"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'class="num" data-label="([^"]+)">(?:<a[^>]*>)?(\d+)', row)[:2] == [
        ("Có mặt", "1"),
        ("Trong đó dự kiến", "1"),
    ]
