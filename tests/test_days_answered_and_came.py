"""A meeting of several days where the two rules meet (review s35): a delegate whose «tham dự»
names some days (:func:`bot.domain.rsvp.expected_on`) and the figures after the last day, which
are the whole meeting's (:meth:`bot.config.Meeting.figures_day`). Guards: each passed on the
merge 09b5add9 and keeps these cases as they are — who said «chỉ dự ngày 28/5» and came on
28/5 is counted once as an expected arrival in every figure after the meeting; who came on
another day than hers is expected after the meeting and «ngoài dự kiến» on that day; on day two
one who said day one only is not «Chưa đến», and after the meeting she is if she came on no
day. Plus the Zalo numbers under the reason's question at a meeting of several days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.config import Config, load_config
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services.checkin import summary_text
from tests.conftest import EXAMPLE_CONFIG, local
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
from tests.test_checkin_days import audience_codes
from tests.test_web_page import browsers, web  # noqa: F401 (the page fixtures)
from tests.web_support import Web, flash
from tests.zalo_support import ZaloWorld, world  # noqa: F401 (the Zalo fixture)

TWO_DAYS = two_days(load_config(EXAMPLE_CONFIG).config)
DAY_ONE, DAY_TWO = date(2024, 5, 28), date(2024, 5, 29)
SECOND_MORNING = MORNING + timedelta(days=1)
AFTER = local(2024, 5, 30, 9, 0)  # the morning after the last day


@pytest.fixture
def config() -> Config:
    """The example plan, its meeting over two days."""
    return TWO_DAYS


async def only_on(day: Day, code: str, on: date) -> None:  # noqa: F811 (the fixture's type)
    """The office takes by phone that ``code`` comes on day ``on`` only."""
    office = day.services.access.local_operator()
    person = await rsvp_of(day.services, code)
    answer = RsvpAnswer(RsvpStatus.ATTENDING, days=(on,))
    await day.services.rsvp.record_by_phone(office, person.delegate_id, answer)


async def test_guard_after_the_meeting_one_who_said_day_one_only_and_came_then_is_counted_once(
    day: Day,  # noqa: F811
) -> None:
    """DB010 said «chỉ dự ngày 28/5» and came on 28/5; DB001 came both days; DB002 came on
    day two; DB003 (a substitute named) came on no day. After the meeting: 3 of 4 expected
    came, DB003 alone «chưa đến» (the list, /thongke, the printed report, the audiences)."""
    await only_on(day, "DB010", DAY_ONE)
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB010")
    await day.checkin.check_in(desk, "DB001")
    day.clock.set(SECOND_MORNING)
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.check_in(desk, "DB002")
    day.clock.set(AFTER)
    hall = await day.checkin.attendance(await day.desk("NV03", "Bàn 2"))
    assert (hall.present, hall.arrived, hall.expected, hall.unexpected, hall.missing_total) == (
        3, 3, 4, 0, 1,
    )  # fmt: skip
    assert [person.code for person in hall.missing] == ["DB003"]
    assert await audience_codes(day) == {"awaited": ["DB003"], "came": ["DB001", "DB002", "DB010"]}
    said = await thongke(day, await office_chat(day))
    assert "(trong đó 3/4 đại biểu dự kiến)" in said
    assert "đại biểu dự kiến không đến ngày nào: <b>1</b>" in said
    text = summary_text(VI, await day.checkin.summary(desk))
    assert "Đại biểu có mặt: 3, trong đó 3/4 đại biểu dự kiến (tổng số được mời: 80)" in text


async def test_guard_one_who_said_day_one_only_and_came_on_day_two_is_unexpected_that_day_and_counted_after(
    day: Day,  # noqa: F811
) -> None:
    """DB010 said day one only and came on day two: that day she is «ngoài dự kiến» (not of
    the 3 expected, not «Chưa đến» on day one's list either after she came); after the
    meeting she is one of those expected who came."""
    await only_on(day, "DB010", DAY_ONE)
    desk = await day.desk("NV02", "Bàn 1")
    day.clock.set(SECOND_MORNING)
    await day.checkin.check_in(desk, "DB010")
    hall = await day.checkin.attendance(desk)
    assert (hall.present, hall.arrived, hall.expected, hall.unexpected) == (1, 0, 3, 1)
    assert "DB010" not in [person.code for person in hall.missing]
    day.clock.set(AFTER)
    hall = await day.checkin.attendance(desk)
    assert (hall.present, hall.arrived, hall.expected, hall.unexpected) == (1, 1, 4, 0)
    assert "DB010" not in [person.code for person in hall.missing]
    assert "DB010" in (await audience_codes(day))["came"]


async def test_guard_on_day_two_one_who_said_day_one_only_is_not_awaited_but_is_after_the_meeting(
    day: Day,  # noqa: F811
) -> None:
    """DB010 said day one only and did not come: on day one she is «Chưa đến» (and in the
    audience «dự kiến chưa đến»); on day two she is neither; after the meeting, having come
    on no day, she is again."""
    await only_on(day, "DB010", DAY_ONE)
    desk = await day.desk("NV02", "Bàn 1")
    hall = await day.checkin.attendance(desk)
    assert "DB010" in [person.code for person in hall.missing]
    assert "DB010" in (await audience_codes(day))["awaited"]
    day.clock.set(SECOND_MORNING)
    hall = await day.checkin.attendance(desk)
    assert (hall.expected, hall.missing_total) == (3, 3)
    assert "DB010" not in [person.code for person in hall.missing]
    assert "DB010" not in (await audience_codes(day))["awaited"]
    day.clock.set(AFTER)
    hall = await day.checkin.attendance(desk)
    assert (hall.expected, hall.missing_total) == (4, 4)
    assert "DB010" in [person.code for person in hall.missing]
    assert "DB010" in (await audience_codes(day))["awaited"]


async def test_on_zalo_four_under_the_reason_s_question_is_some_days_as_on_the_invitation(
    world: ZaloWorld,  # noqa: F811 (the Zalo fixture)
) -> None:
    """At a meeting of two days the invitation's «4» is «Chỉ dự một số ngày»; under the
    reason's question it meant «Hủy»: «Không tham dự», then «4» to come on one day after all,
    cancelled the question instead. The numbers keep their meaning; «Hủy» comes after them."""
    user = await world.linked("DB002", "Anh Hùng")
    said = await world.type(user, "2")
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – Không nêu lý do · 3 – 👤 Cử người dự thay · "
        "4 – 📅 Chỉ dự một số ngày · 5 – Hủy"
    )
    said = await world.type(user, "4")
    assert said[-1].endswith(
        "Trả lời 1 – Chỉ dự ngày 28/5 · 2 – Chỉ dự ngày 29/5 · 3 – ✅ Dự tất cả các ngày"
    )


async def test_guard_the_page_takes_no_day_the_meeting_does_not_have(web: Web) -> None:  # noqa: F811
    """A form posted with «day-3» at a meeting of two days (an old page, a forged post): alone
    it is refused as no day ticked, nothing recorded; beside day one it is day one only."""
    refused = await web.post("DB004", "rsvp", "form-days", {"choice": "days", "day-3": "1"})
    assert flash(refused.text) == "Đề nghị đồng chí đánh dấu ít nhất một ngày sẽ tham dự."
    assert (await rsvp_of(web.services, "DB004")).status == RsvpStatus.NO_ANSWER
    posted = {"choice": "days", "day-1": "1", "day-3": "1"}
    page = await web.post("DB004", "rsvp", "form-days", posted)
    assert flash(page.text).startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị ngày 28/5.")
    row = await rsvp_of(web.services, "DB004")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-28")
