"""Office broadcasts in chat: text → audience → preview with the exact count → send or schedule,
then the report, the one-tap resend, and the list with cancel buttons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.domain.clock import ManualClock
from bot.domain.outbound import MessageKind
from bot.services import build_services
from bot.services.broadcasts import TYPED_ASIDE
from handlers.telegram.context import inbox_of_bot_data
from handlers.telegram.dedupe import flush_handled
from storage import queries
from storage.files import FileStore
from storage.models import AuditEntry, Meeting, OutboundMessage
from storage.uow import unit_of_work
from tests.conftest import local
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import BotHarness, start_harness, wired_config
from tests.test_outbox import deliveries, linked_answers, message_status, texts
from tests.test_telegram_flows import buttons


async def compose(harness: BotHarness, text: str, audience_button: str) -> None:
    """The admin writes a notice and picks an audience, up to the preview."""
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    assert admin.last_text().startswith("📢 Soạn thông báo")
    await harness.send(admin.text(text))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"
    day_begun = harness.services.config.meeting.day_begun(harness.clock.now())
    assert buttons(admin.last_message) == [
        *BEFORE_THE_DAY[:-2],
        *(ON_THE_DAY if day_begun else ()),
        *BEFORE_THE_DAY[-2:],
    ]
    await harness.send(admin.tap(audience_button))


# The audiences /thongbao offers before the meeting's first day, then the three it adds from it.
BEFORE_THE_DAY = (
    "Tất cả đại biểu đã liên kết",
    "Đại biểu đã xác nhận tham dự (kể cả cử người dự thay)",
    "Đại biểu chưa trả lời",
    "Đại biểu không tham dự",
    "Theo nhóm thành phần…",
    "Hủy",
)
ON_THE_DAY = (
    "Đại biểu có mặt tại hội nghị (đã điểm danh)",
    "Đại biểu vắng mặt (chưa điểm danh, kể cả người đã báo không tham dự)",
    # Last: the numbers the chat's menu gave the others before it came are kept.
    "Đại biểu dự kiến chưa đến (đã xác nhận tham dự hoặc cử người dự thay, chưa điểm danh)",
)


async def test_who_came_and_who_did_not_are_offered_from_the_meeting_s_first_day_on(
    harness: BotHarness,
) -> None:
    # Weeks before, «vắng mặt» was every invitee (nobody checked in yet), «có mặt» nobody.
    admin = harness.admin()
    harness.clock.set(local(2024, 5, 27, 23, 59))  # the meeting opens at 08:00 on 28/5
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("Tài liệu hội nghị."))
    assert buttons(admin.last_message) == list(BEFORE_THE_DAY)
    await harness.send(admin.tap("Hủy"))
    harness.clock.set(local(2024, 5, 28, 0, 0))
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("Tài liệu hội nghị."))
    assert buttons(admin.last_message) == [*BEFORE_THE_DAY[:-2], *ON_THE_DAY, *BEFORE_THE_DAY[-2:]]
    harness.clock.set(local(2024, 5, 29, 9, 0))  # the day after: the thank-you, the materials
    await harness.send(admin.tap("Hủy"))
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("Cảm ơn đồng chí đã dự hội nghị."))
    assert buttons(admin.last_message) == [*BEFORE_THE_DAY[:-2], *ON_THE_DAY, *BEFORE_THE_DAY[-2:]]


async def test_on_the_meeting_day_expected_and_not_in_yet_is_the_attendance_page_s_missing_list(
    harness: BotHarness,
) -> None:
    """«Dự kiến chưa đến» names exactly those the «Có mặt» page lists as «Chưa đến»: not the
    decliners (a room change is no news to them), not those checked in (s32 re-test M6)."""
    await linked_answers(harness)  # DB001, DB002 attend, DB003 sends a substitute, DB004 declines
    services = harness.services
    harness.clock.set(local(2024, 5, 28, 7, 30))
    office = services.access.local_operator()
    desk = services.access.office_desk(office, "Bàn 1")
    await services.checkin.check_in(desk, "DB001")
    await services.checkin.check_in(desk, "DB004")  # declined, came after all
    missing = await services.checkin.attendance(office, limit=1000)
    async with services.ctx.sessions() as session:
        awaited = await services.audiences.people(session, "awaited", {"telegram"})
        absent = await services.audiences.people(session, "absent", {"telegram"})
    codes = await _codes(harness, [person.delegate_id for person in awaited])
    assert codes == [line.code for line in missing.missing]
    assert codes == ["DB002", "DB003"]  # not DB001 (in), DB004 (declined), DB005 (silent)
    assert missing.missing_total == 2
    # «Vắng mặt» stays every invitee not in, the silent and those who declined too.
    assert len(absent) == 80 - 2


async def _codes(harness: BotHarness, ids: list[int]) -> list[str]:
    from storage.models import Delegate

    async with harness.services.ctx.sessions() as session:
        found = dict((await session.execute(select(Delegate.id, Delegate.code))).all())
    return [found[i] for i in ids]


async def test_a_room_change_to_those_present_reaches_one_who_sent_a_substitute_as_for_her(
    harness: BotHarness,
) -> None:
    """She stayed home and her substitute is in the hall: the notice to those present says at
    its top that it is for the substitute, and the preview counts such copies (s32 M6)."""
    await linked_answers(harness)
    harness.clock.set(local(2024, 5, 28, 9, 0))
    services = harness.services
    desk = services.access.office_desk(services.access.local_operator(), "Bàn 1")
    await services.checkin.check_in(desk, "DB001")
    await services.checkin.check_in(desk, "DB003", substitute_name="Lê Thị Hoa")
    await compose(harness, "Phòng họp đổi sang tầng 3.", ON_THE_DAY[0])
    preview = harness.admin().last_text()
    assert "Sẽ gửi tới: 2 người." in preview
    assert (
        "Trong đó 1 tin nhắn gửi tới đại biểu đã cử người dự thay (người dự thay có mặt hoặc đang"
        " được chờ): tin nhắn mở đầu bằng dòng «Kính chuyển đồng chí … (dự thay đồng chí tại hội"
        " nghị)» để đại biểu chuyển tới người dự thay." in preview
    )
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    await harness.tick()
    office_name = "Văn phòng Hội LHPN thành phố Hà Nội"
    assert texts(harness, harness.user_for("DB003").id)[-1] == (
        "Kính chuyển đồng chí Lê Thị Hoa (dự thay đồng chí tại hội nghị):\n\n"
        f"📢 Thông báo của {office_name}\n\nPhòng họp đổi sang tầng 3."
    )
    assert texts(harness, harness.user_for("DB001").id)[-1] == (
        f"📢 Thông báo của {office_name}\n\nPhòng họp đổi sang tầng 3."
    )


async def test_a_notice_to_those_awaited_is_passed_on_to_substitutes_and_gives_their_phones(
    harness: BotHarness,
) -> None:
    """To those awaited: DB003 sent a substitute not in yet, her copy is for the substitute to
    read; DB010, on no chat, sends one too: the report's list to phone gives the substitute's
    number beside DB010's (s32 re-test M6)."""
    from bot.domain.rsvp import RsvpAnswer, RsvpStatus
    from tests.test_outbox import by_phone

    await linked_answers(harness)
    sends = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị Hà", substitute_position="Phó Chủ tịch",
        substitute_phone="+84912777888",
    )  # fmt: skip
    await by_phone(harness, "DB010", sends)
    harness.clock.set(local(2024, 5, 28, 9, 0))
    await compose(harness, "Phòng họp đổi sang tầng 3.", ON_THE_DAY[2])
    preview = harness.admin().last_text()
    assert "Sẽ gửi tới: 3 người." in preview  # DB001, DB002 attend; DB003 for her substitute
    assert "Trong đó 1 tin nhắn gửi tới đại biểu đã cử người dự thay" in preview
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    await harness.tick()
    assert texts(harness, harness.user_for("DB003").id)[-1].startswith(
        "Kính chuyển đồng chí Lê Thị Hoa (dự thay đồng chí tại hội nghị):\n\n📢 Thông báo của"
    )
    assert texts(harness, harness.user_for("DB002").id)[-1].startswith("📢 Thông báo của")
    report = harness.admin().last_text()
    assert "• DB010 — " in report
    line = next(line for line in report.split("\n") if line.startswith("• DB010 — "))
    assert line.endswith("; người dự thay Nguyễn Thị Hà: 0912 777 888")


async def test_a_notice_to_those_who_come_weeks_before_is_passed_on_to_the_substitutes(
    harness: BotHarness,
) -> None:
    """«Đại biểu đã xác nhận tham dự (kể cả cử người dự thay)» before the day («bring the
    report», «arrive by 07:30»): the substitute is the one who comes, and has no account. DB003's
    copy opens with «Kính chuyển đồng chí …» as on the meeting day, the preview counts it, and
    the report's list to phone gives the substitute's number beside DB010's (s36 F1)."""
    from bot.domain.rsvp import RsvpAnswer, RsvpStatus
    from tests.test_outbox import by_phone

    await linked_answers(harness)  # DB001, DB002 attend, DB003 sends Lê Thị Hoa, DB004 declines
    sends = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị Hà", substitute_position="Phó Chủ tịch",
        substitute_phone="+84912777888",
    )  # fmt: skip
    await by_phone(harness, "DB010", sends)  # on no chat: the office phones
    harness.clock.set(local(2024, 5, 25, 9, 0))
    await compose(harness, "Đề nghị đại biểu mang theo báo cáo.", BEFORE_THE_DAY[1])
    preview = harness.admin().last_text()
    assert "Sẽ gửi tới: 3 người." in preview
    assert "Trong đó 1 tin nhắn gửi tới đại biểu đã cử người dự thay" in preview
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    await harness.tick()
    office_name = "Văn phòng Hội LHPN thành phố Hà Nội"
    assert texts(harness, harness.user_for("DB003").id)[-1] == (
        "Kính chuyển đồng chí Lê Thị Hoa (dự thay đồng chí tại hội nghị):\n\n"
        f"📢 Thông báo của {office_name}\n\nĐề nghị đại biểu mang theo báo cáo."
    )
    assert texts(harness, harness.user_for("DB001").id)[-1] == (
        f"📢 Thông báo của {office_name}\n\nĐề nghị đại biểu mang theo báo cáo."
    )
    report = harness.admin().last_text()
    line = next(line for line in report.split("\n") if line.startswith("• DB010 — "))
    assert line.endswith("; người dự thay Nguyễn Thị Hà: 0912 777 888")


async def test_a_notice_to_those_awaited_is_previewed_with_the_report_s_phones_not_baocao(
    harness: BotHarness,
) -> None:
    """The chat's preview of a notice to «dự kiến chưa đến» pointed to /baocao's sheet and to
    /chuatraloi (who have all answered): in the chat, the report it gets once sent is the list
    to phone, with the substitutes' numbers; it says so."""
    from bot.domain.rsvp import RsvpAnswer, RsvpStatus
    from tests.test_outbox import by_phone

    await linked_answers(harness)
    for number in range(10, 22):  # twelve on no chat say they come: more than the preview names
        await by_phone(harness, f"DB{number:03d}", RsvpAnswer(RsvpStatus.ATTENDING))
    harness.clock.set(local(2024, 5, 28, 9, 0))
    await compose(harness, "Phòng họp đổi sang tầng 3.", ON_THE_DAY[2])
    preview = harness.admin().last_text()
    assert "12 đại biểu chưa kết nối kênh nhắn tin" in preview
    assert "/baocao" not in preview and "/chuatraloi" not in preview
    assert preview.split("\n\n")[-1] == (
        "Gửi xong, bot gửi Văn phòng báo cáo ngay trong cuộc trò chuyện này, liệt kê đủ những"
        " người không nhận được qua tin nhắn kèm số điện thoại để gọi; với đại biểu đã cử người"
        " dự thay, kèm cả số của người dự thay (người đang được chờ)."
    )


async def test_preview_shows_the_exact_count_and_who_will_not_get_it(harness: BotHarness) -> None:
    await linked_answers(harness)  # DB005 linked and silent; 75 others never linked
    await compose(
        harness, "Kính mời các đồng chí dự họp trù bị lúc 14:00.", "Đại biểu chưa trả lời"
    )
    preview = harness.admin().last_text()
    assert (
        "📢 Thông báo của Văn phòng Hội LHPN thành phố Hà Nội\n\nKính mời các đồng chí" in preview
    )
    assert "Đối tượng: Đại biểu chưa trả lời\nSẽ gửi tới: 1 người." in preview
    assert "75 đại biểu chưa kết nối kênh nhắn tin nên sẽ không nhận được" in preview
    assert buttons(harness.admin().last_message) == ["📤 Gửi ngay", "🕘 Hẹn giờ gửi", "Hủy"]


async def test_confirmed_broadcast_reaches_exactly_the_audience_and_reports(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await compose(
        harness, "Họp trù bị lúc 14:00.", "Đại biểu đã xác nhận tham dự (kể cả cử người dự thay)"
    )
    admin = harness.admin()
    await harness.send(admin.tap("📤 Gửi ngay"))
    assert admin.last_text().startswith("📤 Đã xếp thông báo số ")
    await harness.tick()
    for code in ("DB001", "DB002", "DB003"):
        assert texts(harness, harness.user_for(code).id)[-1].endswith("Họp trù bị lúc 14:00.")
    for code in ("DB004", "DB005"):
        assert not texts(harness, harness.user_for(code).id)[-1].endswith("Họp trù bị lúc 14:00.")
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 3}
    report = admin.last_text()
    assert report.startswith("📨 Báo cáo gửi thông báo số ")
    assert "Đã gửi: 3 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0" in report


async def test_office_text_is_escaped_not_interpreted(harness: BotHarness) -> None:
    await linked_answers(harness)
    await compose(harness, "<b>Khẩn</b> & quan trọng", "Tất cả đại biểu đã liên kết")
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    await harness.tick()
    assert texts(harness, harness.user_for("DB005").id)[-1].endswith("<b>Khẩn</b> & quan trọng")
    harness.fake.assert_no_violations()


async def test_cancel_at_preview_sends_nothing(harness: BotHarness) -> None:
    await linked_answers(harness)
    await compose(harness, "Nội dung thử.", "Tất cả đại biểu đã liên kết")
    await harness.send(harness.admin().tap("Hủy"))
    assert harness.admin().last_text().startswith("Đã hủy thông báo")
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {}
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled"]


async def test_scheduled_broadcast_waits_for_its_time_and_can_be_listed(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await compose(harness, "Nhắc mang thẻ đại biểu.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    # Examples from today (the clock: 09:00, 18/5/2024), never the example plan's own dates.
    assert admin.last_text() == (
        "Đề nghị đồng chí nhập thời điểm gửi (giờ Asia/Ho_Chi_Minh), ví dụ: 08:00 19/5, hoặc "
        "10:00 nếu gửi trong hôm nay."
    )
    await harness.send(admin.text("hôm nay"))
    assert admin.last_text() == (
        "Chưa đọc được thời điểm. Đề nghị nhập theo mẫu 08:00 19/5 hoặc 19/5/2024 08:00."
    )
    await harness.send(admin.text("08:00 1/5"))
    assert admin.last_text().startswith("Thời điểm 08:00, Thứ Tư, ngày 1/5/2024 đã qua.")
    await harness.send(admin.text("07:00 27/5"))
    assert admin.last_text().startswith(
        "🕘 Đã hẹn gửi thông báo số 1 lúc 07:00, Thứ Hai, ngày 27/5/2024 qua tin nhắn tới 5 người"
    )
    await harness.send(admin.command("/lichthongbao"))
    assert (
        "🕘 Số 1 — hẹn 07:00, Thứ Hai, ngày 27/5/2024 — Tất cả đại biểu đã liên kết"
        in admin.last_text()
    )
    assert buttons(admin.last_message) == ["Hủy thông báo số 1"]
    harness.clock.set(local(2024, 5, 27, 6, 59))
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {}
    harness.clock.set(local(2024, 5, 27, 7, 0))
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 5}


async def test_the_list_says_a_notice_whose_time_has_come_is_being_sent_without_a_cancel(
    harness: BotHarness,
) -> None:
    """At its time, before the outbox has taken it, /lichthongbao says the notice is being sent,
    as the notices page does, and offers no «Hủy» (it said «hẹn» with a cancel button)."""
    await linked_answers(harness)
    await compose(harness, "Nhắc lịch họp.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.text("07:00 27/5"))
    harness.clock.set(local(2024, 5, 27, 7, 0))
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text() == (
        "Thông báo của Văn phòng\n📤 Số 1 — đang gửi (bot đang xếp thông báo vào hàng gửi; đề"
        " nghị đồng chí gõ lại /lichthongbao sau ít giây để xem kết quả) — Tất cả đại biểu đã"
        " liên kết: Nhắc lịch họp."
    )
    assert buttons(admin.last_message) == []


async def test_a_scheduled_broadcast_cancelled_from_the_list_never_goes(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await compose(harness, "Sẽ bị hủy.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.text("07:00 27/5"))
    await harness.send(admin.command("/lichthongbao"))
    await harness.send(admin.tap("Hủy thông báo số 1"))
    assert admin.last_text() == "Đã hủy thông báo số 1."
    harness.clock.set(local(2024, 5, 27, 7, 0))
    await harness.tick()
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled"]
    assert await deliveries(harness, MessageKind.BROADCAST) == {}


async def test_one_tap_resends_to_those_it_failed_to_reach(harness: BotHarness) -> None:
    await linked_answers(harness)
    await compose(harness, "Thông báo quan trọng.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("📤 Gửi ngay"))
    harness.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: chat is being migrated"
    )
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 4, "failed": 1}
    report = admin.last_message
    assert "Gửi không thành công (1):" in report["text"]
    assert buttons(report) == ["🔁 Gửi lại cho 1 người chưa nhận được"]
    await harness.send(admin.tap("🔁 Gửi lại cho 1 người chưa nhận được"))
    assert admin.last_text().startswith("🔁 Đã xếp gửi lại thông báo số 1 cho 1 người.")
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 5}
    assert "Đã gửi: 5 · Chặn bot: 0 · Lỗi: 0" in admin.last_text()
    await harness.send(admin.tap("🔁 Gửi lại cho 1 người chưa nhận được", message=report))
    assert admin.last_text() == "Thông báo số 1 không còn ai cần gửi lại."


async def copies_failed(harness: BotHarness, *, doubtful: int, refused: int) -> None:
    """The office sends a notice now to every linked delegate: ``doubtful`` chats get no answer
    twice (each may have the notice), ``refused`` chats one refusal Telegram answers."""
    await linked_answers(harness)
    await compose(harness, "Thông báo quan trọng.", "Tất cả đại biểu đã liên kết")
    for code in ("DB001", "DB002")[:doubtful]:
        chat = harness.user_for(code).id
        harness.fake.fail_next("sendMessage", timeout=True, times=2, chat_id=chat)
    for code in ("DB003", "DB004")[:refused]:
        chat = harness.user_for(code).id
        harness.fake.fail_next(
            "sendMessage", error_code=400, description="Bad Request: chat is being migrated",
            chat_id=chat,
        )  # fmt: skip
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    await harness.tick()
    harness.clock.advance(timedelta(seconds=3))  # past the one more try's wait
    await harness.tick()


def tries(harness: BotHarness, code: str) -> int:
    chat = harness.user_for(code).id
    return sum(
        "Thông báo quan trọng." in str(call.params.get("text", ""))
        for call in harness.fake.calls
        if call.method == "sendMessage" and call.params.get("chat_id") == chat
    )


async def test_the_resend_button_counts_and_resends_only_those_with_no_copy(
    harness: BotHarness,
) -> None:
    """«Gửi lại cho 2 người» counted, and sent again to, the one who may have the notice
    (a send with no answer twice): a third copy on her phone. Now the button is for the one
    with no copy, and the report and the reply say how many were left, and why."""
    await copies_failed(harness, doubtful=1, refused=1)
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 3, "failed": 2}
    admin = harness.admin()
    report = admin.last_message
    assert buttons(report) == ["🔁 Gửi lại cho 1 người chưa nhận được"]
    assert report["text"].endswith(
        "\nLựa chọn «Gửi lại» chỉ gửi cho 1 người chưa nhận được; 1 người có thể đã nhận (ghi ở trên)"
        " không được gửi lại để tránh một tin tới nhiều lần, nếu cần chắc chắn đề nghị gọi điện."
    )
    await harness.send(admin.tap("🔁 Gửi lại cho 1 người chưa nhận được"))
    assert admin.last_text() == (
        "🔁 Đã xếp gửi lại thông báo số 1 cho 1 người chưa nhận được; 1 người có thể đã nhận"
        " không được gửi lại để tránh một tin tới nhiều lần (nếu cần chắc chắn đề nghị gọi"
        " điện). Đồng chí sẽ nhận báo cáo mới khi gửi xong."
    )
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 4, "failed": 1}
    assert (tries(harness, "DB001"), tries(harness, "DB003")) == (2, 2)
    await harness.send(admin.tap("🔁 Gửi lại cho 1 người chưa nhận được", message=report))
    assert admin.last_text() == (
        "Thông báo số 1 không còn ai chưa nhận được; 1 người có thể đã nhận không được gửi lại"
        " để tránh một tin tới nhiều lần (nếu cần chắc chắn đề nghị gọi điện)."
    )


async def test_a_report_whose_failed_copies_may_all_have_arrived_offers_no_resend(
    harness: BotHarness,
) -> None:
    await copies_failed(harness, doubtful=2, refused=0)
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 3, "failed": 2}
    report = harness.admin().last_message
    assert buttons(report) == []
    assert report["text"].endswith(
        "\n2 người có thể đã nhận (ghi ở trên): bot không gửi lại để tránh một tin tới nhiều lần,"
        " nếu cần chắc chắn đề nghị gọi điện."
    )


async def test_a_group_audience_counts_only_that_group(harness: BotHarness) -> None:
    await linked_answers(harness)  # DB001–DB002 are trung_uong_hoi; DB003–DB005 are not
    await compose(harness, "Gửi lãnh đạo Trung ương Hội.", "Theo nhóm thành phần…")
    admin = harness.admin()
    assert buttons(admin.last_message)[0] == "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam"
    await harness.send(admin.tap("Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam"))
    assert "Sẽ gửi tới: 2 người." in admin.last_text()


async def test_too_long_notice_is_refused_saying_its_length_and_still_awaited(
    harness: BotHarness,
) -> None:
    # «Nội dung quá dài» left her guessing by how much; the dashboard's words say it.
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("x" * 3501))
    assert admin.last_text() == (
        "Nội dung dài 3.501 ký tự, quá giới hạn 3.500 ký tự nên chưa được nhận. Bot vẫn chờ nội"
        " dung thông báo: đề nghị đồng chí rút gọn rồi gửi lại."
    )
    await harness.send(admin.text("Ngắn gọn."))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"


async def test_only_admins_may_broadcast_or_press_broadcast_buttons(harness: BotHarness) -> None:
    delegate = await harness.open_invitation("DB010")
    await harness.send(delegate.command("/thongbao"))
    assert delegate.last_text().startswith("Xin lỗi đồng chí, lệnh này chỉ dành cho")
    await harness.send(delegate.command("/lichthongbao"))
    assert delegate.last_text().startswith("Xin lỗi đồng chí, lệnh này chỉ dành cho")
    for data in ("bc:now:1", "bc:resend:1", "bc:cancel:1", "bc:aud:1:linked"):
        await harness.send(delegate.tap_data(data))
    refusals = [c.params.get("text") for c in harness.fake.calls_to("answerCallbackQuery")]
    assert (
        refusals[-4:]
        == ["Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng phụ trách hội nghị."] * 4
    )


async def test_forged_broadcast_buttons_from_an_admin_change_nothing(harness: BotHarness) -> None:
    admin = harness.admin()
    for data in (
        "bc:now:999",
        "bc:aud:999:linked",
        "bc:aud:1:group:khong_co",
        "bc:zzz:1",
        "bc:now:x",
    ):
        await harness.send(admin.tap_data(data))
        assert admin.last_text().startswith("Thông báo này không còn ở bước đó")
    assert await message_status(harness, MessageKind.BROADCAST) == []


async def test_an_unfinished_draft_is_replaced_by_a_new_one(harness: BotHarness) -> None:
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("Bản mới."))
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled", "draft"]


UNFINISHED = (
    "Đồng chí đang có một thông báo soạn dở, chưa gửi: «{preview}». Đề nghị chọn «Tiếp tục bản"
    " soạn dở» để quay lại thông báo đó, hoặc «Soạn thông báo mới» để bỏ bản soạn dở và soạn"
    " thông báo khác."
)


async def test_thongbao_asks_before_replacing_an_unfinished_draft_and_goes_on_with_it(
    harness: BotHarness,
) -> None:
    """A notice written and previewed, not sent: a second /thongbao dropped it silently and
    began anew. It asks, as the dashboard's «Xem trước» does; going on shows its preview again,
    counted as of now, and it is sent as written."""
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    assert admin.last_text() == UNFINISHED.format(preview="Họp trù bị lúc 14:00.")
    assert buttons(admin.last_message) == ["Tiếp tục bản soạn dở", "Soạn thông báo mới"]
    assert await message_status(harness, MessageKind.BROADCAST) == ["draft"]
    await harness.send(admin.tap("Tiếp tục bản soạn dở"))
    assert "Họp trù bị lúc 14:00." in admin.last_text()
    assert "Đối tượng: Tất cả đại biểu đã liên kết\nSẽ gửi tới: 5 người." in admin.last_text()
    assert buttons(admin.last_message) == ["📤 Gửi ngay", "🕘 Hẹn giờ gửi", "Hủy"]
    await harness.send(admin.tap("📤 Gửi ngay"))
    assert admin.last_text().startswith("📤 Đã xếp thông báo số 1 vào hàng gửi")
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 5}


async def test_going_on_with_a_draft_left_at_its_time_asks_the_time_again_and_a_stale_tap_is_gone(
    harness: BotHarness,
) -> None:
    """Left where the bot asked when to send it: «Tiếp tục» asks the time again, and the
    time typed schedules it. The same «Tiếp tục» tapped again later, the notice scheduled
    meanwhile, changes nothing and says so."""
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.command("/thongbao"))
    assert admin.last_text() == UNFINISHED.format(preview="Họp trù bị lúc 14:00.")
    asked = admin.last_message
    await harness.send(admin.tap("Tiếp tục bản soạn dở"))
    assert admin.last_text().startswith("Đề nghị đồng chí nhập thời điểm gửi")
    await harness.send(admin.text("07:00 27/5"))
    assert admin.last_text().startswith("🕘 Đã hẹn gửi thông báo số 1 lúc 07:00")
    await harness.send(admin.tap("Tiếp tục bản soạn dở", message=asked))
    assert admin.last_text().startswith("Thông báo này không còn ở bước đó")
    assert await message_status(harness, MessageKind.BROADCAST) == ["scheduled"]


async def test_a_new_notice_typed_while_the_time_is_asked_is_not_read_as_a_time_and_is_kept(
    harness: BotHarness,
) -> None:
    """The unfinished-draft question for a notice left at its time step, answered by typing
    the new notice: «Chưa đọc được thời điểm» left her wondering where her text went. It is
    recognised as no time, said so with what she probably meant, and one choice makes it the
    new notice as typed; the notice waiting for its time stays until then."""
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.command("/thongbao"))
    assert admin.last_text() == UNFINISHED.format(preview="Họp trù bị lúc 14:00.")
    notice = "Kính mời các đồng chí dự buổi tổng duyệt chương trình lúc 15:00 ngày 27/5."
    await harness.send(admin.text(notice))
    assert admin.last_text() == (
        "Bot đang chờ thời điểm hẹn gửi thông báo «Họp trù bị lúc 14:00.», nên đoạn đồng chí"
        " vừa gõ (74 ký tự) không phải là thời điểm và chưa được dùng. Nếu đó là nội dung một"
        " thông báo mới, xin chọn «Soạn thông báo mới bằng đoạn vừa gõ» (bot giữ nguyên đoạn"
        " đó; thông báo đang chờ hẹn giờ sẽ được bỏ). Nếu vẫn hẹn giờ thông báo trên, đề nghị"
        " nhập thời điểm gửi theo mẫu 08:00 19/5 hoặc 19/5/2024 08:00."
    )
    assert buttons(admin.last_message) == ["📝 Soạn thông báo mới bằng đoạn vừa gõ", "Hủy"]
    assert await message_status(harness, MessageKind.BROADCAST) == ["draft"]
    await harness.send(admin.tap("📝 Soạn thông báo mới bằng đoạn vừa gõ"))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"
    await harness.send(admin.tap("Tất cả đại biểu đã liên kết"))
    assert notice in admin.last_text()  # the preview: her text, whole
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled", "draft"]


async def test_a_text_typed_where_the_audience_is_asked_says_the_step_and_is_kept(
    harness: BotHarness,
) -> None:
    """A corrected notice typed where the bot asked its audience got the general hint, and
    her text was lost. The bot says it waits for the audience, offers the audiences again,
    and one choice makes her text the notice (the first draft dropped)."""
    await linked_answers(harness)
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("Họp trù bị lúc 14:00."))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"
    audiences = buttons(admin.last_message)
    await harness.send(admin.text("Họp trù bị lúc 15:00 tại phòng 2."))
    assert admin.last_text() == (
        "Bot đang chờ đồng chí chọn đối tượng nhận thông báo «Họp trù bị lúc 14:00.», nên đoạn"
        " đồng chí vừa gõ (33 ký tự) chưa được dùng. Nếu đó là nội dung mới của thông báo, xin"
        " chọn «Soạn thông báo mới bằng đoạn vừa gõ» (bot giữ nguyên đoạn đó; bản đang soạn sẽ"
        " được bỏ). Nếu vẫn gửi thông báo trên, đề nghị chọn đối tượng nhận dưới đây."
    )
    assert buttons(admin.last_message) == ["📝 Soạn thông báo mới bằng đoạn vừa gõ", *audiences]
    await harness.send(admin.tap("📝 Soạn thông báo mới bằng đoạn vừa gõ"))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"
    await harness.send(admin.tap("Tất cả đại biểu đã liên kết"))
    assert "Họp trù bị lúc 15:00 tại phòng 2." in admin.last_text()  # the preview: the new text
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled", "draft"]


async def test_a_text_typed_at_the_preview_says_the_step_and_the_notice_still_sends_as_shown(
    harness: BotHarness,
) -> None:
    """At the preview, a typed text got the general hint. The bot says it waits for «Gửi
    ngay», «Hẹn giờ gửi» or «Hủy» and offers them again with the text kept; sent as shown,
    the notice goes without the text typed aside."""
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.text("Sửa: 15:00"))
    assert admin.last_text() == (
        "Bot đang chờ đồng chí xác nhận gửi thông báo «Họp trù bị lúc 14:00.» theo bản xem"
        " trước (gửi ngay hoặc hẹn giờ gửi) hoặc hủy, nên đoạn đồng chí vừa gõ (10 ký tự) chưa"
        " được dùng. Nếu đó là nội dung mới của thông báo, xin chọn «Soạn thông báo mới bằng"
        " đoạn vừa gõ» (bot giữ nguyên đoạn đó; bản đang soạn sẽ được bỏ). Nếu vẫn gửi thông"
        " báo trên, đề nghị chọn «Gửi ngay», «Hẹn giờ gửi» hoặc «Hủy» dưới đây."
    )
    assert buttons(admin.last_message) == [
        "📝 Soạn thông báo mới bằng đoạn vừa gõ", "📤 Gửi ngay", "🕘 Hẹn giờ gửi", "Hủy",
    ]  # fmt: skip
    await harness.send(admin.tap("📤 Gửi ngay"))
    assert admin.last_text().startswith("📤 Đã xếp thông báo số 1 vào hàng gửi")
    async with harness.services.ctx.sessions() as session:
        [params] = list(
            await session.scalars(
                select(OutboundMessage.params).where(OutboundMessage.kind == MessageKind.BROADCAST)
            )
        )
    assert not params or TYPED_ASIDE not in params


async def test_a_text_typed_for_the_time_too_long_for_a_notice_is_refused_as_the_new_one(
    harness: BotHarness,
) -> None:
    """Chosen as the new notice, a kept text over the limit is refused with its length, as if
    typed after /thongbao: the bot then waits for the new notice's text."""
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.text("x" * 3600))
    assert "(3.600 ký tự) không phải là thời điểm" in admin.last_text()
    await harness.send(admin.tap("📝 Soạn thông báo mới bằng đoạn vừa gõ"))
    assert admin.last_text().startswith("Nội dung dài 3.600 ký tự, quá giới hạn 3.500 ký tự")
    await harness.send(admin.text("Bản ngắn."))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled", "draft"]


async def test_a_time_typed_after_a_stray_text_still_schedules_the_notice(
    harness: BotHarness,
) -> None:
    """The text typed aside is not sent with the notice, which keeps waiting for its time."""
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    admin = harness.admin()
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.text("Dòng một của thông báo mới\nDòng hai"))
    assert admin.last_text().startswith("Bot đang chờ thời điểm hẹn gửi thông báo")
    await harness.send(admin.text("07:00 27/5"))
    assert admin.last_text().startswith("🕘 Đã hẹn gửi thông báo số 1 lúc 07:00")
    async with harness.services.ctx.sessions() as session:
        row = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.kind == MessageKind.BROADCAST)
        )
    assert row is not None and row.params is None and row.body == "Họp trù bị lúc 14:00."


async def test_thongbao_drops_the_unfinished_draft_only_when_a_new_notice_is_chosen(
    harness: BotHarness,
) -> None:
    """Its text typed, its audience not chosen yet: /thongbao asks (the draft's first words
    quoted, cut at a word); «Soạn thông báo mới» drops it and asks for the new text."""
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("Kính mời các đồng chí dự buổi tập huấn " * 4))
    await harness.send(admin.command("/thongbao"))
    assert admin.last_text() == UNFINISHED.format(
        preview="Kính mời các đồng chí dự buổi tập huấn Kính mời các đồng chí dự buổi tập huấn…"
    )
    await harness.send(admin.tap("Soạn thông báo mới"))
    assert admin.last_text().startswith("📢 Soạn thông báo")
    await harness.send(admin.text("Bản mới."))
    assert admin.last_text() == "Đề nghị đồng chí chọn đối tượng nhận thông báo:"
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled", "draft"]


async def test_a_notice_full_of_ampersands_is_measured_as_sent_and_goes_out(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    await harness.send(admin.text("R&D " * 875))  # 3,500 typed, 6,999 escaped and trimmed
    assert admin.last_text().startswith("Nội dung dài 6.999 ký tự, quá giới hạn 3.500 ký tự")
    await harness.send(admin.text("R&D " * 800))  # 3,200 typed, 6,399 escaped: still too long
    assert admin.last_text().startswith("Nội dung dài 6.399 ký tự")
    await harness.send(admin.text("R&D " * 437))  # 3,495 once escaped (the last space trimmed)
    await harness.send(admin.tap("Tất cả đại biểu đã liên kết"))
    await harness.send(admin.tap("📤 Gửi ngay"))
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 5}


async def test_notices_are_numbered_1_2_3_in_the_order_confirmed_not_by_the_outbox_row(
    harness: BotHarness,
) -> None:
    # The plan's reminders fill the outbox first: the first notice's row is far from 1.
    await harness.plan()
    await linked_answers(harness)
    admin = harness.admin()
    other = harness.fake.user(100000002, "Văn phòng 2")  # the plan's second admin
    await compose(harness, "Thông báo viết trước, gửi sau.", "Tất cả đại biểu đã liên kết")
    # The second admin writes and sends hers meanwhile: she confirmed first, hers is no. 1.
    await harness.send(other.command("/thongbao"))
    await harness.send(other.text("Thông báo viết sau, gửi trước."))
    await harness.send(other.tap("Tất cả đại biểu đã liên kết"))
    await harness.send(other.tap("📤 Gửi ngay"))
    assert other.last_text().startswith(
        "📤 Đã xếp thông báo số 1 vào hàng gửi qua tin nhắn tới 5 người."
    )
    await harness.send(admin.tap("🕘 Hẹn giờ gửi"))
    await harness.send(admin.text("07:00 27/5"))
    assert admin.last_text().startswith("🕘 Đã hẹn gửi thông báo số 2 lúc 07:00")
    await harness.tick()
    assert other.last_text().startswith("📨 Báo cáo gửi thông báo số 1\n")
    await harness.send(admin.command("/lichthongbao"))
    listed = admin.last_text().split("\n")
    assert listed[1].startswith("🕘 Số 2 — hẹn 07:00, Thứ Hai, ngày 27/5/2024")
    assert listed[2].startswith("✅ Số 1 — Tất cả đại biểu đã liên kết: đã gửi 5")
    assert buttons(admin.last_message) == ["Hủy thông báo số 2"]
    await harness.send(admin.tap("Hủy thông báo số 2"))
    assert admin.last_text() == "Đã hủy thông báo số 2."
    # A cancelled notice keeps its number: the next is no. 3.
    await compose(harness, "Thông báo thứ ba.", "Tất cả đại biểu đã liên kết")
    await harness.send(admin.tap("📤 Gửi ngay"))
    assert admin.last_text().startswith("📤 Đã xếp thông báo số 3 vào hàng")


async def test_a_draft_dropped_before_it_was_sent_is_not_called_a_numbered_notice(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await compose(harness, "Nội dung bỏ.", "Tất cả đại biểu đã liên kết")
    await harness.send(harness.admin().tap("Hủy"))
    assert harness.admin().last_text() == (
        "Đã hủy thông báo đang soạn; thông báo chưa được gửi đi."
    )


async def test_while_a_notice_takes_its_number_rows_referring_to_the_meeting_are_written(
    harness: BotHarness,
) -> None:
    """PostgreSQL: numbering a notice locks the meeting's row against another numbering only
    (``FOR NO KEY UPDATE``): a tap's or an answer's row that refers to the meeting (its audit
    entry) is written meanwhile, not held until the office's confirmation commits."""
    sessions = harness.services.ctx.sessions
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite's write transactions take turns whole: no row locks to compare")
    meeting_id, now = harness.services.ctx.meeting_id, harness.clock.now()
    async with unit_of_work(sessions) as confirming:
        assert await queries.next_notice_number(confirming, meeting_id) == 1
        async with unit_of_work(sessions) as meanwhile:
            await meanwhile.execute(text("SET LOCAL lock_timeout = '5s'"))  # only if it waits
            meanwhile.add(
                AuditEntry(meeting_id=meeting_id, at=now, actor="telegram:1",
                           action="rsvp.changed", entity="rsvp", entity_id=None, before=None,
                           after=None)
            )  # fmt: skip
            await meanwhile.flush()  # its reference to the meeting checked: no wait
        # Another notice's number waits for this one's (NOWAIT says so at once).
        with pytest.raises(DBAPIError, match="could not obtain lock"):
            async with unit_of_work(sessions) as second:
                await second.execute(
                    select(Meeting.id)
                    .where(Meeting.id == meeting_id)
                    .with_for_update(key_share=True, nowait=True)
                )


async def test_before_any_delegate_list_thongbao_says_nobody_would_get_it_and_offers_no_send(
    fake: FakeBotApi,
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    files: FileStore,
) -> None:
    """The bot runs, no list imported yet: /thongbao's preview says there is no list and the
    notice would reach nobody, and offers only «Hủy» (no «Gửi ngay», no «Hẹn giờ gửi»)."""
    services = await build_services(wired_config(config, fake), sessions, clock, files=files)
    harness = await start_harness(fake, services, clock)
    try:
        admin = harness.admin()
        await harness.send(admin.command("/thongbao"))
        await harness.send(admin.text("Kính mời các đồng chí dự họp trù bị lúc 14:00."))
        await harness.send(admin.tap("Tất cả đại biểu đã liên kết"))
        preview = admin.last_text()
        assert "Đối tượng: Tất cả đại biểu đã liên kết\nSẽ gửi tới: 0 người." in preview
        assert preview.endswith(
            "\n\nChưa nhập danh sách đại biểu nên thông báo này chưa có người nhận (0 người). Bot"
            " không gửi, không hẹn giờ thông báo khi chưa có danh sách; đề nghị đồng chí nhập"
            " danh sách đại biểu trước (trang điều hành, mục «Nhập danh sách», hoặc lệnh"
            " hoinghi delegates import), rồi soạn lại thông báo."
        )
        assert buttons(admin.last_message) == ["Hủy"]
    finally:
        await flush_handled(harness.app.bot_data)
        await inbox_of_bot_data(harness.app.bot_data).flush()
        await harness.app.shutdown()
        await harness.outbox_bot_shutdown()
    fake.assert_no_violations()


async def test_the_chat_s_notice_preview_queueing_and_list_group_their_counts_by_thousands(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """To 10,000 invitees the preview read «Sẽ gửi tới: 8234 người» and /lichthongbao «đã gửi
    8234» where /thongke reads «8.234»: every count the office reads, grouped by thousands."""
    from collections import Counter
    from dataclasses import replace

    from bot.domain.outbound import Audience, DeliveryStatus, MessageStatus
    from bot.services.broadcasts import BroadcastResult, BroadcastSummary, Reach

    broadcasts = harness.services.broadcasts
    big = Reach(8234, 1001, 1500, first_not_linked=[("DB001", "Phạm Thị Thanh Mai")],
                for_substitute=1200)  # fmt: skip

    def widened(step: Any) -> Any:
        async def wide(*args: object) -> BroadcastResult:
            result = await step(*args)
            return replace(result, reach=big) if result.reach is not None else result

        return wide

    monkeypatch.setattr(broadcasts, "choose_audience", widened(broadcasts.choose_audience))
    monkeypatch.setattr(broadcasts, "send_now", widened(broadcasts.send_now))
    await linked_answers(harness)
    await compose(harness, "Hội nghị.", BEFORE_THE_DAY[0])
    admin = harness.admin()
    preview = admin.last_text()
    assert "Sẽ gửi tới: 8.234 người." in preview
    assert "Trong đó 1.200 tin nhắn gửi tới đại biểu đã cử người dự thay" in preview
    assert "tới 1.001 người đã chặn bot" in preview
    assert "1.500 đại biểu chưa kết nối kênh nhắn tin" in preview
    assert "Phạm Thị Thanh Mai và 1.499 người khác" in preview
    await harness.send(admin.tap("📤 Gửi ngay"))
    assert admin.last_text().startswith(
        "📤 Đã xếp thông báo số 1 vào hàng gửi qua tin nhắn tới 8.234 người."
    )
    done = BroadcastSummary(
        id=1, number=1, status=MessageStatus.DONE, audience=Audience.LINKED.value, due_at=None,
        preview="Hội nghị.", deliveries=Counter({DeliveryStatus.SENT: 8234,
            DeliveryStatus.BLOCKED: 1001, DeliveryStatus.FAILED: 1200,
            DeliveryStatus.NOT_LINKED: 1500}),
    )  # fmt: skip

    async def recent(*_: object, **__: object) -> list[BroadcastSummary]:
        return [done]

    monkeypatch.setattr(broadcasts, "recent", recent)
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1] == (
        "✅ Số 1 — Tất cả đại biểu đã liên kết: đã gửi 8.234, chặn bot 1.001, lỗi 1.200, chưa"
        " liên kết 1.500"
    )


async def test_the_report_after_a_notice_groups_its_counts_by_thousands(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent to 10,000 the report read «Đã gửi: 8234 · Chưa liên kết: 1500» and its button «Gửi
    lại cho 1200 người» where /thongke reads «8.234»: grouped by thousands, the button too."""
    from dataclasses import replace

    from bot.domain.outbound import DeliveryStatus
    from bot.services.composer import MessageComposer

    composed = MessageComposer.completion_report
    big = {DeliveryStatus.SENT: 8234, DeliveryStatus.BLOCKED: 1001, DeliveryStatus.FAILED: 1200,
           DeliveryStatus.NOT_LINKED: 1500, DeliveryStatus.SKIPPED: 0}  # fmt: skip

    async def report(self: MessageComposer, sent: Any) -> Any:
        return await composed(self, replace(sent, counts=big))

    monkeypatch.setattr(MessageComposer, "completion_report", report)
    await linked_answers(harness)
    await compose(harness, "Hội nghị.", BEFORE_THE_DAY[0])
    admin = harness.admin()
    await harness.send(admin.tap("📤 Gửi ngay"))
    await harness.tick()
    assert admin.last_text().split("\n")[:2] == [
        "📨 Báo cáo gửi thông báo số 1",
        "Đã gửi: 8.234 · Chặn bot: 1.001 · Lỗi: 1.200 · Chưa liên kết: 1.500 · Bỏ qua: 0",
    ]
    assert buttons(admin.last_message) == ["🔁 Gửi lại cho 1.200 người chưa nhận được"]


async def test_the_chat_asks_for_a_notice_with_its_limit_grouped_by_thousands(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    await harness.send(admin.command("/thongbao"))
    assert "(tối đa 3.500 ký tự)" in admin.last_text()
