"""A meeting of several days: «tham dự» for some days only (re-test s34, M3). A delegate busy on
day one answers «Chỉ dự một số ngày» → «Chỉ dự ngày 29/5» in chat (Telegram buttons, Zalo numbers
typed) or on her page; the confirmation names the day, the office's figures count her on that
day only (/thongke and the overview «Dự kiến tham dự theo ngày», the desk's «dự kiến» and «Chưa
đến»), and coming on her day she is expected, not «ngoài dự kiến». A one-day meeting offers
none of it."""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta

import pytest
from docx import Document
from sqlalchemy import select

from bot.config import Config, load_config
from bot.domain.rsvp import (
    DayChoice,
    RsvpAnswer,
    RsvpChoice,
    RsvpStatus,
    answer_mark,
    parse_day_action,
    rsvp_action,
)
from bot.services import Services
from bot.services.checkin import notice_line
from bot.services.day_files import sign_sheet_document
from bot.services.report_file import change_lines, office_report_sheets
from bot.services.rsvp import RsvpStep
from bot.texts.presenters import add_day_buttons, answer_label, ask_days, rsvp_buttons
from storage.models import AuditEntry
from tests.conftest import EXAMPLE_CONFIG, local
from tests.harness import BotHarness
from tests.office_support import Desk, text_of
from tests.plan_support import rsvp_of
from tests.test_checkin import (  # noqa: F401 (the meeting-day fixture)
    MORNING,
    VI,
    Day,
    day,
    office_chat,
    thongke,
    two_days,
)
from tests.test_meetings import said, tap
from tests.test_telegram_flows import buttons
from tests.test_web_page import browsers, web  # noqa: F401 (the page fixtures)
from tests.web_support import Web, flash
from tests.zalo_support import ZaloWorld, world  # noqa: F401 (the Zalo fixture)

# The example meeting held over two days: 28/5 08:00 to 29/5 11:30.
TWO_DAYS = two_days(load_config(EXAMPLE_CONFIG).config)
DAY_ONE, DAY_TWO = date(2024, 5, 28), date(2024, 5, 29)
BEFORE_DEADLINE = local(2024, 5, 18, 9, 0)


@pytest.fixture
def config() -> Config:
    """The example plan, its meeting over two days."""
    return TWO_DAYS


async def test_at_a_meeting_of_two_days_telegram_offers_some_days_and_records_day_two_only(
    harness: BotHarness,
) -> None:
    """The card's fourth button «Chỉ dự một số ngày» asks which day, one button a day and
    «Dự tất cả các ngày»; «Chỉ dự ngày 29/5» records «tham dự» on 29/5 alone and says so."""
    user = await harness.open_invitation("DB010")
    assert buttons(user.last_message) == [
        "✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay", "📅 Chỉ dự một số ngày",
    ]  # fmt: skip
    await harness.send(user.tap("📅 Chỉ dự một số ngày"))
    assert user.last_text() == (
        "Hội nghị họp 2 ngày: 28/5 và 29/5. Đồng chí tham dự ngày nào? Xin chọn một ngày dưới "
        "đây; nếu dự cả hội nghị, xin chọn «Dự tất cả các ngày»."
    )
    assert buttons(user.last_message) == [
        "Chỉ dự ngày 28/5", "Chỉ dự ngày 29/5", "✅ Dự tất cả các ngày",
    ]  # fmt: skip
    assert (await rsvp_of(harness.services, "DB010")).status == RsvpStatus.NO_ANSWER
    await harness.send(user.tap("Chỉ dự ngày 29/5"))
    assert user.last_text().startswith(
        "✅ Đã ghi nhận: đồng chí tham dự hội nghị ngày 29/5. Xin trân trọng cảm ơn đồng chí!"
    )
    row = await rsvp_of(harness.services, "DB010")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")
    await harness.send(user.command("/trangthai"))
    assert "Nội dung đồng chí đã xác nhận: Tham dự ngày 29/5." in user.last_text()
    # Back to the whole meeting: «Dự tất cả các ngày» is «Tham dự», every day.
    await harness.send(user.tap("📅 Chỉ dự một số ngày"))
    await harness.send(user.tap("✅ Dự tất cả các ngày"))
    assert user.last_text().startswith(
        "✅ Đã ghi nhận: đồng chí tham dự hội nghị, cả 2 ngày (28/5 và 29/5)."
    )
    row = await rsvp_of(harness.services, "DB010")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, None)


async def test_at_a_meeting_of_two_days_zalo_answers_day_two_only_by_numbers_typed(
    world: ZaloWorld,  # noqa: F811 (the Zalo fixture)
) -> None:
    """On Zalo the invitation's numbers keep their meaning (1 «Tham dự» …) and «4» is «Chỉ dự
    một số ngày»; then «2» is the second day."""
    user = await world.linked("DB002", "Anh Hùng")
    said = await world.type(user, "4")
    assert said[-1].endswith(
        "Trả lời 1 – Chỉ dự ngày 28/5 · 2 – Chỉ dự ngày 29/5 · 3 – ✅ Dự tất cả các ngày"
    )
    said = await world.type(user, "2")
    assert said[0].startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị ngày 29/5.")
    row = await rsvp_of(world.services, "DB002")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")


async def test_an_answer_for_some_days_is_audited_and_changed_as_any_answer(
    day: Day,  # noqa: F811
) -> None:
    """Day one only, then day two only: each a changed answer in the audit log (its days
    said); the same day again changes nothing; past the deadline a day is refused as any
    answer is."""
    services = day.services
    day.clock.set(BEFORE_DEADLINE)
    account = await day.account("DB020")
    first = await services.rsvp.choose(account, DayChoice(1))
    assert (first.step, first.rsvp and first.rsvp.days) == (RsvpStep.RECORDED, (DAY_ONE,))
    second = await services.rsvp.choose(account, DayChoice(2))
    assert (second.step, second.rsvp and second.rsvp.days) == (RsvpStep.RECORDED, (DAY_TWO,))
    assert (await services.rsvp.choose(account, DayChoice(2))).step is RsvpStep.UNCHANGED
    person = (await rsvp_of(services, "DB020")).delegate_id
    async with services.ctx.sessions() as session:
        afters = (
            await session.scalars(
                select(AuditEntry.after)
                .where(AuditEntry.action == "rsvp.changed", AuditEntry.entity_id == person)
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(after or {}).get("days") for after in afters] == ["2024-05-28", "2024-05-29"]
    day.clock.set(services.config.meeting.rsvp_deadline_at + timedelta(minutes=1))
    assert (await services.rsvp.choose(account, DayChoice(1))).step is RsvpStep.CLOSED


async def test_a_day_s_button_names_its_meeting_and_one_of_another_meeting_answers_nothing(
    day: Day,  # noqa: F811
) -> None:
    """The day buttons carry their meeting as the answer buttons do (the next meeting on the
    same bot, re-test s35 N2): a day tapped on the last meeting's message records nothing."""
    services = day.services
    day.clock.set(BEFORE_DEADLINE)
    account = await day.account("DB020")
    mark = f"@{services.ctx.meeting_id}"
    asked = await tap(services, account, rsvp_action(RsvpChoice.SOME_DAYS, services.ctx.meeting_id))
    data = [b.data for reply in asked.replies for row in reply.outbound.buttons for b in row]
    # A day's also the answer it is shown under (none yet): tapped after another, it is old.
    shown = f"~{answer_mark(RsvpStatus.NO_ANSWER, None, None, None)}"
    assert data == [f"rsvp:day:1{mark}{shown}", f"rsvp:day:2{mark}{shown}", f"rsvp:attend{mark}"]
    other = await tap(services, account, f"rsvp:day:2@{services.ctx.meeting_id + 1}")
    assert "hội nghị khác" in said(other)
    assert (await rsvp_of(services, "DB020")).status == RsvpStatus.NO_ANSWER
    assert parse_day_action("rsvp:day:2@x") is None  # a forged mark is no choice
    await tap(services, account, data[1])
    row = await rsvp_of(services, "DB020")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")


async def test_a_day_the_meeting_does_not_have_is_a_stale_choice(day: Day) -> None:  # noqa: F811
    day.clock.set(BEFORE_DEADLINE)
    result = await day.services.rsvp.choose(await day.account("DB020"), DayChoice(3))
    assert result.step is RsvpStep.NOTHING_PENDING
    assert (await rsvp_of(day.services, "DB020")).status == RsvpStatus.NO_ANSWER


@pytest.mark.parametrize("config", [load_config(EXAMPLE_CONFIG).config], ids=["one day"])
async def test_a_one_day_meeting_offers_no_days(day: Day) -> None:  # noqa: F811
    """The card keeps its three choices; a forged «some days» or day tap records nothing."""
    card = rsvp_buttons(VI, day.services.config)
    assert [b.label for row in card for b in row] == [
        "✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay",
    ]  # fmt: skip
    day.clock.set(BEFORE_DEADLINE)
    account = await day.account("DB020")
    rsvp = day.services.rsvp
    assert (await rsvp.choose(account, RsvpChoice.SOME_DAYS)).step is RsvpStep.NOTHING_PENDING
    assert (await rsvp.choose(account, DayChoice(1))).step is RsvpStep.NOTHING_PENDING


async def day_two_only(day: Day, code: str) -> None:  # noqa: F811
    """The office takes by phone that ``code`` comes on day two only."""
    office = day.services.access.local_operator()
    person = await rsvp_of(day.services, code)
    answer = RsvpAnswer(RsvpStatus.ATTENDING, days=(DAY_TWO,))
    result = await day.services.rsvp.record_by_phone(office, person.delegate_id, answer)
    assert result.step is RsvpStep.RECORDED


async def test_thongke_says_how_many_are_expected_each_day(day: Day) -> None:  # noqa: F811
    """DB001, DB002 attend and DB003 sends a substitute (3 a day); DB010, who had declined,
    comes on day two only: «ngày 28/5: 3 · ngày 29/5: 4»."""
    await day_two_only(day, "DB010")
    staff = await office_chat(day)
    said = await thongke(day, staff)
    assert "📅 Dự kiến tham dự theo ngày: ngày 28/5: 3 · ngày 29/5: 4" in said
    counts = await day.services.reports.counts()
    assert counts.by_day == ((DAY_ONE, 3), (DAY_TWO, 4))
    figures = await day.services.dashboard.figures()
    assert figures.counts.by_day == ((DAY_ONE, 3), (DAY_TWO, 4))


async def test_the_desk_expects_one_who_comes_on_day_two_only_on_day_two(
    day: Day,  # noqa: F811
) -> None:
    """Day one: DB010 (day two only) is neither expected nor «Chưa đến»; day two she is, and
    once in she is an expected arrival, not «ngoài dự kiến»."""
    await day_two_only(day, "DB010")
    desk = await day.desk("NV02", "Bàn 1")
    hall = await day.checkin.attendance(desk)
    assert hall.expected == 3
    assert "DB010" not in [person.code for person in hall.missing]
    # Come on day one after all: the card says so, and she may be let in.
    arrival = await day.checkin.lookup(desk, "DB010")
    assert arrival.can_check_in
    assert notice_line(VI, TWO_DAYS.meeting, arrival) == (
        "Đại biểu đã báo chỉ dự ngày 29/5; vẫn điểm danh được nếu đại biểu đến hôm nay."
    )
    day.clock.set(MORNING + timedelta(days=1))
    arrival = await day.checkin.lookup(desk, "DB010")
    assert notice_line(VI, TWO_DAYS.meeting, arrival) is None
    hall = await day.checkin.attendance(desk)
    assert hall.expected == 4
    assert "DB010" in [person.code for person in hall.missing]
    await day.checkin.check_in(desk, "DB010")
    hall = await day.checkin.attendance(desk)
    assert (hall.present, hall.arrived, hall.unexpected) == (1, 1, 0)
    assert "DB010" not in [person.code for person in hall.missing]


async def test_the_personal_page_ticks_the_days_she_attends(web: Web) -> None:  # noqa: F811
    """«Chỉ dự một số ngày» on her page: a box a day; day two ticked is «tham dự» on 29/5
    (said as the chat says it, and ticked again when the page comes back); both ticked is the
    whole meeting; none ticked is refused, nothing recorded."""
    page = await web.open("DB004")
    form = page.text.split('id="form-days"', 1)[1].split("</form>", 1)[0]
    assert "Thứ Ba, ngày 28/5/2024" in form and "Thứ Tư, ngày 29/5/2024" in form
    none = await web.post("DB004", "rsvp", "form-days", {"choice": "days"})
    assert flash(none.text) == "Đề nghị đồng chí đánh dấu ít nhất một ngày sẽ tham dự."
    assert (await rsvp_of(web.services, "DB004")).status == RsvpStatus.NO_ANSWER
    page = await web.post("DB004", "rsvp", "form-days", {"choice": "days", "day-2": "1"})
    assert flash(page.text).startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị ngày 29/5.")
    assert 'id="day-2" checked' in page.text and 'id="day-1" checked' not in page.text
    assert "Tham dự ngày 29/5" in page.text.split('id="current-answer"', 1)[1][:200]
    row = await rsvp_of(web.services, "DB004")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")
    both = {"choice": "days", "day-1": "1", "day-2": "1"}
    page = await web.post("DB004", "rsvp", "form-days", both)
    assert flash(page.text).startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị, cả 2 ngày")
    assert (await rsvp_of(web.services, "DB004")).days is None


@pytest.mark.parametrize("config", [load_config(EXAMPLE_CONFIG).config], ids=["one day"])
async def test_a_one_day_meeting_s_page_has_no_days_form(web: Web) -> None:  # noqa: F811
    assert 'id="form-days"' not in (await web.open("DB004")).text


async def test_the_office_records_by_phone_an_answer_for_day_two_and_the_overview_counts_it(
    desk: Desk, imported: Services
) -> None:
    """«Ghi nhận trả lời qua điện thoại» at a meeting of two days: «Tham dự» with 29/5 ticked
    is «Tham dự ngày 29/5»; the overview says how many are expected each day."""
    page = await desk.client.get("/office/delegates/DB010")
    assert "Thứ Tư, ngày 29/5/2024" in text_of(page.text, "phone-days")
    page = await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "attending", "day-2": "1"},
        page="delegates/DB010",
    )  # fmt: skip
    assert text_of(page.text, "current-answer") == (
        "Nội dung đại biểu đã xác nhận: Tham dự ngày 29/5."
    )
    assert "→ Tham dự ngày 29/5 (Văn phòng ghi nhận qua điện thoại)" in text_of(
        page.text, "history"
    )
    row = await rsvp_of(imported, "DB010")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")
    # The office's log and the workbook's audit sheet name the day, not «2024-05-29».
    async with imported.ctx.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "rsvp.changed"))
    assert entry is not None
    lines = change_lines(VI, imported.config, entry.action, entry.before, entry.after, {})
    assert "Ngày tham dự: 29/5" in lines
    overview = await desk.client.get("/office/")
    assert text_of(overview.text, "expected-days") == (
        "📅 Dự kiến tham dự theo ngày: ngày 28/5: 0 · ngày 29/5: 1"
    )
    # None ticked: every day.
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "attending"}, page="delegates/DB010"
    )
    assert (await rsvp_of(imported, "DB010")).days is None


@pytest.mark.parametrize("config", [load_config(EXAMPLE_CONFIG).config], ids=["one day"])
async def test_a_one_day_meeting_s_office_pages_have_no_days(desk: Desk) -> None:
    assert 'id="phone-days"' not in (await desk.client.get("/office/delegates/DB010")).text
    assert 'id="expected-days"' not in (await desk.client.get("/office/")).text


async def test_the_delegates_list_and_the_report_workbook_say_her_days(
    desk: Desk, imported: Services
) -> None:
    """«Đại biểu» on the dashboard and the workbook's «Đại biểu» sheet: «Tham dự ngày 29/5»
    for one who comes on day two only, «Tham dự» for one who comes every day."""
    office = imported.access.local_operator()
    for code, days in (("DB010", (DAY_TWO,)), ("DB011", None)):
        person = (await rsvp_of(imported, code)).delegate_id
        answer = RsvpAnswer(RsvpStatus.ATTENDING, days=days)
        await imported.rsvp.record_by_phone(office, person, answer)
    listing = (await desk.client.get("/office/delegates", params={"answer": "attending"})).text
    assert [html.unescape(cell) for cell in re.findall(r'status-attending answer"[^>]*>([^<]*)<', listing)] == [
        "Tham dự ngày 29/5", "Tham dự",
    ]  # fmt: skip
    sheet = office_report_sheets(VI, imported.config, await imported.office_report.collect())[0]
    answers = {str(row[1]): row[6] for row in sheet.rows}
    assert (answers["DB010"], answers["DB011"]) == ("Tham dự ngày 29/5", "Tham dự")


async def test_the_signature_sheet_lists_one_who_comes_on_day_two_only_with_her_days(
    day: Day,  # noqa: F811
) -> None:
    """She had declined (off the sheet); answering day two only she is on it, her name noted
    «(chỉ dự ngày 29/5)» above the signature columns of both days."""
    services = day.services
    content, _ = sign_sheet_document(VI, services.config, await services.checkin.roll(), MORNING)
    names = [cell.text for table in Document(io.BytesIO(content)).tables for row in table.rows
             for cell in row.cells[1:2]]  # fmt: skip
    assert not any(name.startswith("Trịnh Văn Thắng") for name in names)
    await day_two_only(day, "DB010")
    content, _ = sign_sheet_document(VI, services.config, await services.checkin.roll(), MORNING)
    names = [cell.text for table in Document(io.BytesIO(content)).tables for row in table.rows
             for cell in row.cells[1:2]]  # fmt: skip
    assert "Trịnh Văn Thắng\n(chỉ dự ngày 29/5)" in names
    assert "Phạm Thị Thanh Mai" in names  # every day: no note


def three_days(config: Config) -> Config:
    """``config``'s meeting ending two days later: 28/5 to 30/5."""
    meeting = config.meeting
    ends = meeting.model_copy(update={"ends_at": meeting.ends_at + timedelta(days=2)})
    return config.model_copy(update={"meeting": ends})


@pytest.mark.parametrize("config", [three_days(load_config(EXAMPLE_CONFIG).config)], ids=["3"])
async def test_at_a_meeting_of_three_days_a_day_is_chosen_then_others_added(
    day: Day,  # noqa: F811
) -> None:
    """«Chỉ dự ngày 28/5», then «➕ Dự thêm ngày 30/5» offered under the confirmation: 28/5 and
    30/5; adding 29/5 too is every day, plain «tham dự»."""
    day.clock.set(BEFORE_DEADLINE)
    config = day.services.config
    account = await day.account("DB020")
    rsvp = day.services.rsvp
    first = await rsvp.choose(account, DayChoice(1))
    assert first.rsvp is not None and first.rsvp.days == (DAY_ONE,)
    more = add_day_buttons(VI, config, first.rsvp.days)
    assert [(b.label, b.data) for row in more for b in row] == [
        ("➕ Dự thêm ngày 29/5", "rsvp:day+:2"), ("➕ Dự thêm ngày 30/5", "rsvp:day+:3"),
    ]  # fmt: skip
    second = await rsvp.choose(account, DayChoice(3, add=True))
    assert second.rsvp is not None and second.rsvp.days == (DAY_ONE, date(2024, 5, 30))
    assert answer_label(VI, second.rsvp.status, second.rsvp.days) == ("Tham dự ngày 28/5 và 30/5")
    third = await rsvp.choose(account, DayChoice(2, add=True))
    assert third.rsvp is not None and (third.rsvp.status, third.rsvp.days) == (
        RsvpStatus.ATTENDING, None,
    )  # fmt: skip
    assert ask_days(VI, config).startswith("Hội nghị họp 3 ngày: 28/5, 29/5 và 30/5.")


async def test_some_days_chosen_under_the_reason_s_question_ends_the_question(
    day: Day,  # noqa: F811
) -> None:
    """«Không tham dự», then «Chỉ dự một số ngày» instead: words typed next are no reason
    for a decline she has moved on from."""
    day.clock.set(BEFORE_DEADLINE)
    account = await day.account("DB020")
    rsvp = day.services.rsvp
    assert (await rsvp.choose(account, RsvpChoice.DECLINE)).step is RsvpStep.ASK_REASON
    assert (await rsvp.choose(account, RsvpChoice.SOME_DAYS)).step is RsvpStep.ASK_DAYS
    typed = await rsvp.submit_text(account, "Trùng lịch tiếp công dân")
    assert typed.step is RsvpStep.NOTHING_PENDING
    assert (await rsvp_of(day.services, "DB020")).reason is None


@pytest.mark.parametrize("config", [three_days(load_config(EXAMPLE_CONFIG).config)], ids=["3"])
async def test_an_old_day_button_tapped_after_a_decline_records_nothing_and_says_the_answer(
    harness: BotHarness,
) -> None:
    """She chose 28/5, then declined on her card; scrolling up, «➕ Dự thêm ngày 30/5» and
    «Chỉ dự ngày 29/5» of the old messages made her «tham dự» again on that day (review s36,
    R9). An old day button now changes nothing: she is told her answer and how to change it;
    the days asked afresh are taken."""
    user = await harness.open_invitation("DB010")
    card = user.last_message
    await harness.send(user.tap("📅 Chỉ dự một số ngày", message=card))
    asked = user.last_message
    await harness.send(user.tap("Chỉ dự ngày 28/5", message=asked))
    confirmed = user.last_message
    assert "➕ Dự thêm ngày 30/5" in buttons(confirmed)
    await harness.send(user.tap("❌ Không tham dự", message=card))
    await harness.send(user.tap("Không nêu lý do"))
    assert (await rsvp_of(harness.services, "DB010")).status == RsvpStatus.DECLINED
    for old, label in ((confirmed, "➕ Dự thêm ngày 30/5"), (asked, "Chỉ dự ngày 29/5")):
        await harness.send(user.tap(label, message=old))
        row = await rsvp_of(harness.services, "DB010")
        assert (row.status, row.days) == (RsvpStatus.DECLINED, None), label
        assert user.last_text().startswith(
            "Lựa chọn này nằm trong một tin nhắn trước lần trả lời sau cùng của đồng chí, nên"
            " không được ghi nhận. Nội dung đồng chí đã xác nhận: Không tham dự."
        ), label
        assert "📅 Chỉ dự một số ngày" in user.last_text(), label
    # Asked again, a day is taken as ever.
    await harness.send(user.tap("📅 Chỉ dự một số ngày", message=card))
    await harness.send(user.tap("Chỉ dự ngày 29/5"))
    row = await rsvp_of(harness.services, "DB010")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")


async def test_a_day_button_tapped_twice_is_unchanged_not_old(day: Day) -> None:  # noqa: F811
    """The second tap of «Chỉ dự ngày 29/5» (or its update delivered again) finds the answer it
    gave: «đã được ghi nhận», as a second tap of any answer; another day of the same question,
    tapped after the first was taken, is an old button."""
    day.clock.set(BEFORE_DEADLINE)
    account = await day.account("DB020")
    asked = await tap(day.services, account, rsvp_action(RsvpChoice.SOME_DAYS))
    data = {b.label: b.data for reply in asked.replies for row in reply.outbound.buttons
            for b in row}  # fmt: skip
    await tap(day.services, account, data["Chỉ dự ngày 29/5"])
    again = await tap(day.services, account, data["Chỉ dự ngày 29/5"])
    assert again.toast is not None and "đã được ghi nhận" in again.toast.text
    other = await tap(day.services, account, data["Chỉ dự ngày 28/5"])
    assert "không được ghi nhận" in said(other)
    row = await rsvp_of(day.services, "DB020")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")
