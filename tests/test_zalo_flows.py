"""The Zalo channel end to end: the real adapter over loopback HTTP against the simulated Zalo
Bot API — linking, every RSVP path by numbers and by keywords, free text in dialogs, menus
answered late, a task report, a typed draft with the office's comment, notices through the
outbox (one person blocked the bot), the morning programme, long messages, a message delivered
twice, stickers and what the bot cannot read."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.domain.channels import ChatAccount
from bot.domain.outbound import MessageKind
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpStatus
from bot.services.report_file import office_report_workbook
from bot.texts.plain import to_text
from handlers.zalo.events import CHANNEL
from schedules.planner import sync_planned
from storage import queries
from storage.models import Delivery, DraftComment, LinkFailure
from tests.conftest import local, morning_programme_due
from tests.fakes.zalo_api import FakeZaloUser
from tests.plan_support import rsvp_of
from tests.test_web_page import desk_of
from tests.zalo_support import ZaloWorld


async def told_the_code_is_wrong(world: ZaloWorld, user: FakeZaloUser, typed: str) -> None:
    """``user`` types ``typed`` five times, told each time that the code is wrong."""
    wrong = world.catalog.plain("start.unknown_code", contact=world.services.config.office.contact)
    for _ in range(5):
        assert await world.type(user, typed) == [wrong]


async def typed_draft_sent(world: ZaloWorld, speaker: FakeZaloUser, text: str) -> None:
    """The speaker types her speech on Zalo (/thamluan, «✍️ Soạn tham luận 1.1 bằng tin nhắn»,
    ``text``) and sends it («✅ Xong, gửi bản này»)."""
    await world.type(speaker, "/thamluan")
    await world.type(speaker, "1")  # ✍️ Soạn tham luận 1.1 bằng tin nhắn
    await world.type(speaker, text)
    await world.type(speaker, "1")  # ✅ Xong, gửi bản này


async def draft_before_the_office(world: ZaloWorld, text: str) -> tuple[FakeZaloUser, FakeZaloUser]:
    """Chị Duyên of the office (NV02) and the speaker Chị Vân (DB031) linked, and the speaker's
    ``text`` sent as her typed draft (:func:`typed_draft_sent`): the outbox's next tick posts
    it to the office."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    speaker = await world.linked("DB031", "Chị Vân")
    await typed_draft_sent(world, speaker, text)
    return office, speaker


async def test_a_first_message_that_is_no_code_is_told_how_to_link_by_the_personal_code(
    world: ZaloWorld,
) -> None:
    user = world.fake.user("Chị Mai")
    said = await world.type(user, "Xin chào")
    config = world.services.config
    assert said == [
        to_text(
            world.catalog.html(
                "start.welcome_code",
                office=config.office.name,
                title=config.meeting.title,
                contact=config.office.contact,
            )
        )
    ]
    async with world.services.ctx.sessions() as session:
        assert (
            await queries.identity(session, world.services.ctx.meeting_id, CHANNEL, user.id) is None
        )


async def test_linking_by_the_typed_code_shows_the_card_as_plain_text_with_a_numbered_menu(
    world: ZaloWorld,
) -> None:
    user = world.fake.user("Chị Mai")
    typed = world.codes["DB001"].lower().replace("-", " ")  # as read off the paper, loosely
    said = await world.type(user, typed)
    card = "\n".join(said[1:])
    assert said[0] == world.catalog.plain("start.linked")
    assert card.startswith("Kính gửi đồng chí Phạm Thị Thanh Mai\n")
    assert "<" not in card and "&amp;" not in card
    assert card.endswith("Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay")
    assert all(0 < len(text) <= 2000 for text in said)
    assert {call.method for call in world.fake.calls} <= {
        "getMe",
        "deleteWebhook",
        "getUpdates",
        "sendMessage",
    }


@pytest.mark.parametrize(
    "typed", ["ABCD-1234", "k7px-03qb", "K7PX 1QBN", "K7PXI3QB", "KXPB-MQRI", "kxpb mqro"]
)
async def test_a_code_misread_from_paper_with_characters_codes_never_use_is_told_it_is_wrong(
    world: ZaloWorld, typed: str
) -> None:
    # 0, O, 1, I are in no code: a chair who read «Q» as «0» was greeted as if she had sent
    # nothing, and asked for the code she had just sent (still so for a code of letters only).
    user = world.fake.user("Chị Mai")
    contact = world.services.config.office.contact
    assert await world.type(user, typed) == [
        world.catalog.plain("start.unknown_code", contact=contact)
    ]


@pytest.mark.parametrize("typed", ["Minh Tung", "camonchi", "Thuy Linh"])
async def test_two_words_without_marks_are_welcomed_not_told_the_code_is_wrong(
    world: ZaloWorld, typed: str
) -> None:
    user = world.fake.user("Chị Mai")
    said = await world.type(user, typed)
    assert said and said[0].startswith("Kính chào đồng chí"), said


async def test_a_code_misread_from_paper_is_not_counted_and_five_of_them_do_not_lock_her_out(
    world: ZaloWorld,
) -> None:
    # No code has 0, O, 1 or I: such a try guesses nothing, so it is not counted toward the
    # hour's slowdown — a chair reading «Q» as «0» five times was locked out of her own code.
    user = world.fake.user("Chị Mai")
    await told_the_code_is_wrong(world, user, "K7PX-03QB")
    async with world.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LinkFailure)) == 0
    said = await world.type(user, world.codes["DB001"])  # the right code, read right at last
    assert said and said[0] == world.catalog.plain("start.linked"), said


async def test_a_locked_out_user_is_told_when_to_try_again_once_in_ten_minutes_then_links(
    world: ZaloWorld,
) -> None:
    user = world.fake.user("Chị Mai")
    contact = world.services.config.office.contact
    world.clock.advance(timedelta(seconds=30))  # 09:00:30
    await told_the_code_is_wrong(world, user, "BBBB-BBBB")  # her code mistyped five times
    # The right code is not looked at for the hour; she is told so, the minute she may send it
    # again (10:00:30, rounded up), and whom to call.
    told = world.catalog.plain("start.slowed_down_code", time="10:01, 18/5", contact=contact)
    assert told == (
        "Đồng chí đã gửi mã không đúng quá nhiều lần. Để bảo vệ giấy mời của các đại biểu, bot "
        "tạm ngừng kiểm tra mã từ tài khoản này; đề nghị đồng chí gửi lại mã cá nhân từ 10:01, "
        f"18/5. Nếu cần hỗ trợ ngay, xin liên hệ {contact}."
    )
    assert await world.type(user, world.codes["DB001"]) == [told]
    world.clock.advance(timedelta(minutes=9, seconds=59))
    assert await world.type(user, world.codes["DB001"]) == []  # not again within ten minutes
    world.clock.advance(timedelta(seconds=1))
    assert await world.type(user, world.codes["DB001"]) == [told]  # again after them
    world.clock.advance(timedelta(minutes=50, seconds=30))  # 10:01: the lockout is over
    said = await world.type(user, world.codes["DB001"])
    assert said[0] == world.catalog.plain("start.linked")
    assert "\n".join(said[1:]).startswith("Kính gửi đồng chí Phạm Thị Thanh Mai\n")


async def test_a_locked_out_user_who_types_something_else_is_told_of_the_lockout_not_asked_for_her_code(
    world: ZaloWorld,
) -> None:
    """Asked for her code while it would not be looked at, she would send it into silence."""
    user = world.fake.user("Chị Mai")
    contact = world.services.config.office.contact
    await told_the_code_is_wrong(world, user, "BBBB-BBBB")
    told = world.catalog.plain("start.slowed_down_code", time="10:00, 18/5", contact=contact)
    assert await world.type(user, "xin chào") == [told]
    assert await world.type(user, "xin chào") == []  # told a moment ago: not again yet


async def test_rsvp_attend_by_number(world: ZaloWorld) -> None:
    user = await world.linked("DB001", "Chị Mai")
    said = await world.type(user, "1")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING
    assert said and all(len(text) <= 2000 for text in said)


async def test_rsvp_attend_by_keyword_without_diacritics(world: ZaloWorld) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "tham du")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING


async def test_rsvp_decline_by_keyword_with_a_typed_reason(world: ZaloWorld) -> None:
    user = await world.linked("DB002", "Anh Hùng")
    said = await world.type(user, "khong tham du")
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – Không nêu lý do · 3 – 👤 Cử người dự thay · 4 – Hủy"
    )
    await world.type(user, "Bận công tác tại Trung ương")
    rsvp = await rsvp_of(world.services, "DB002")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, "Bận công tác tại Trung ương")


async def test_rsvp_decline_by_number_without_a_reason(world: ZaloWorld) -> None:
    user = await world.linked("DB002", "Anh Hùng")
    await world.type(user, "2")
    await world.type(user, "2")  # Không nêu lý do
    rsvp = await rsvp_of(world.services, "DB002")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, None)


async def test_rsvp_substitute_by_numbers_with_typed_name_position_and_phone(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "3")
    await world.type(user, "Nguyễn Thị Lan")
    said = await world.type(user, "Phó Chủ tịch Hội LHPN quận")
    assert said[-1].endswith("Trả lời 1 – Cùng đơn vị: Trung ương Hội LHPN Việt Nam · 2 – Hủy")
    said = await world.type(user, "1")
    assert said[-1].startswith(
        "Đề nghị đồng chí cho biết số điện thoại của đồng chí Nguyễn Thị Lan"
    )
    assert said[-1].endswith("Trả lời 1 – Bỏ qua · 2 – Hủy")
    said = await world.type(user, "0912 34")
    assert said[-1].startswith("«0912 34» không phải là số điện thoại.")
    said = await world.type(user, "0912 345 678")
    rsvp = await rsvp_of(world.services, "DB001")
    assert (
        rsvp.status, rsvp.substitute_name, rsvp.substitute_position, rsvp.substitute_unit,
        rsvp.substitute_phone,
    ) == (
        RsvpStatus.SUBSTITUTE, "Nguyễn Thị Lan", "Phó Chủ tịch Hội LHPN quận",
        "Trung ương Hội LHPN Việt Nam", "+84912345678",
    )  # fmt: skip
    # The same confirmation as the page's: the phone she typed said back, to be checked.
    assert said[-1].startswith(
        "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Nguyễn Thị Lan, Phó Chủ tịch Hội "
        "LHPN quận, điện thoại 0912 345 678. Kính đề nghị"
    )


async def test_a_delegate_naming_herself_as_her_substitute_on_zalo_is_refused(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")  # Phạm Thị Thanh Mai
    await world.type(user, "3")
    said = await world.type(user, "Pham thi thanh mai")
    assert said[-1].startswith(
        "Người dự thay trùng họ tên với đồng chí nên chưa được ghi nhận. Nếu đồng chí tự đến "
        "dự, xin chọn «Tham dự»;"
    )
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    await world.type(user, "1")
    rsvp = await rsvp_of(world.services, "DB001")
    assert (rsvp.status, rsvp.substitute_name) == (RsvpStatus.ATTENDING, None)


async def test_a_substitute_whose_phone_is_another_invitee_s_is_not_recorded_on_zalo(
    world: ZaloWorld,
) -> None:
    """The phone given finds the invitee whatever name was typed (a short name here: DB023's
    phone, «84 855 023 370» on the list): she comes on her own invitation (s36 F3)."""
    user = await world.linked("DB022", "Chị Nguyệt")
    await world.type(user, "3")
    await world.type(user, "Bích Ngọc")
    await world.type(user, "Phó Chủ tịch")
    await world.type(user, "1")  # Cùng đơn vị
    said = await world.type(user, "0855.023.370")
    assert said[-1].startswith(
        "Đồng chí Trương Thị Bích Ngọc đã có giấy mời riêng (mã DB023) và dự hội nghị theo giấy "
        "mời đó, nên không cần cử làm người dự thay; chưa ghi nhận gì."
    )
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    assert (await rsvp_of(world.services, "DB022")).status == RsvpStatus.NO_ANSWER
    await world.type(user, "2")  # she cannot come herself: «Không tham dự»
    assert (await rsvp_of(world.services, "DB022")).status == RsvpStatus.DECLINED


async def test_a_namesake_of_an_invitee_with_another_phone_is_recorded_as_substitute_on_zalo(
    world: ZaloWorld,
) -> None:
    """With a phone given, the phone decides: another number is another person, though her name
    is an invitee's."""
    user = await world.linked("DB022", "Chị Nguyệt")
    await world.type(user, "3")
    await world.type(user, "Trương Thị Bích Ngọc")
    await world.type(user, "Phó Chủ tịch")
    await world.type(user, "1")
    await world.type(user, "0912 345 678")
    rsvp = await rsvp_of(world.services, "DB022")
    assert (rsvp.status, rsvp.substitute_name) == (RsvpStatus.SUBSTITUTE, "Trương Thị Bích Ngọc")


async def test_a_substitute_s_name_position_and_phone_in_one_zalo_message_asks_the_name_again(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "3")
    said = await world.type(user, "Nguyễn Thị Lan, Phó Chủ tịch, 0912345678")
    assert said[-1] == (
        "«Nguyễn Thị Lan, Phó Chủ tịch, 0912345678» chưa phải là họ và tên người dự thay. Đề nghị "
        "đồng chí chỉ gõ họ và tên (ví dụ: Nguyễn Thị Lan); chức vụ, đơn vị và số điện thoại, bot "
        "sẽ hỏi ở các bước sau.\n\nTrả lời 1 – Hủy"
    )
    said = await world.type(user, "Nguyễn Thị Lan")
    assert said[-1].startswith("Đề nghị đồng chí cho biết chức vụ của đồng chí Nguyễn Thị Lan.")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.NO_ANSWER


async def test_typed_words_of_the_same_unit_choice_mean_the_delegate_s_own_unit(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "3")
    await world.type(user, "Nguyễn Thị Lan")
    await world.type(user, "Phó Chủ tịch")
    said = await world.type(user, "cung DON vi")
    assert said[-1].startswith(
        "Đề nghị đồng chí cho biết số điện thoại của đồng chí Nguyễn Thị Lan"
    )
    await world.type(user, "1")  # Bỏ qua (the phone)
    rsvp = await rsvp_of(world.services, "DB001")
    assert (rsvp.status, rsvp.substitute_unit) == (
        RsvpStatus.SUBSTITUTE,
        "Trung ương Hội LHPN Việt Nam",
    )


async def test_rsvp_substitute_by_keyword_then_changed_to_attend(world: ZaloWorld) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "cu nguoi du thay")
    await world.type(user, "Nguyễn Thị Lan")
    await world.type(user, "Phó Chủ tịch")
    await world.type(user, "1")  # Cùng đơn vị
    await world.type(user, "1")  # Bỏ qua (the phone)
    await world.type(user, "/trangthai")
    await world.type(user, "Tham dự")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING


async def test_after_an_answer_the_invitation_s_numbers_and_words_answer_again(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "3")
    await world.type(user, "Nguyễn Thị Lan")
    await world.type(user, "Phó Chủ tịch")
    await world.type(user, "1")  # Cùng đơn vị
    said = await world.type(user, "1")  # Bỏ qua (the phone)
    # The answer offers the invitation's choices again: the newest menu is no longer the
    # finished name prompt's «1 – Hủy».
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    await world.type(user, "tham du")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING
    await world.type(user, "2")
    await world.type(user, "2")  # Không nêu lý do
    await world.type(user, "1")  # the invitation's «Tham dự» again, not a stale «Hủy»
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING


async def test_a_menu_answered_after_a_newer_one_was_sent_answers_the_newer_one(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "3")  # the card's menu: 1 Tham dự, 2, 3; then the name's: 1 Hủy
    said = await world.type(user, "1")  # the newer menu's 1, not the card's «Tham dự»
    assert said[-1].startswith("Đã hủy thao tác.")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.NO_ANSWER


async def test_the_invitations_choices_typed_in_words_answer_it_after_another_menu(
    world: ZaloWorld,
) -> None:
    # A speaker who opened her draft's prompt had «tham du» kept as «Đã nhận đoạn 1» of her
    # speech; after a task's reminder it was refused. Numbers stay the newest menu's.
    user = await world.linked("DB031", "Chị Vân")
    await world.type(user, "/thamluan")
    said = await world.type(user, "1")  # ✍️ Soạn tham luận 1.1 bằng tin nhắn
    said = await world.type(user, "tham du")
    assert said[-1].startswith("✅ Đã ghi nhận")
    assert (await rsvp_of(world.services, "DB031")).status == RsvpStatus.ATTENDING
    said = await world.type(user, "Kính thưa các đồng chí, quận Hoàn Kiếm báo cáo.")
    assert "đoạn 1" in said[-1]  # her typing goes on, the answer took no piece of it
    await world.type(user, "khong tham du")
    assert (await rsvp_of(world.services, "DB031")).status == RsvpStatus.DECLINED


async def test_a_number_the_newest_menu_does_not_have_is_no_answer(world: ZaloWorld) -> None:
    user = await world.linked("DB001", "Chị Mai")
    said = await world.type(user, "7")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.NO_ANSWER
    contact = world.services.config.office.contact
    assert said == [world.catalog.plain("hint.use_buttons", contact=contact)]


async def test_a_task_contact_reports_a_task_done_by_number(world: ZaloWorld) -> None:
    contact = await world.linked("NV03", "Chị Nga")
    said = await world.type(contact, "/nhiemvu")
    assert "VI.1.1" in said[-1] and "1 – ✅ Đã hoàn thành" in said[-1]
    await world.type(contact, "1")
    [line] = [t for t in await world.services.tasks.office_board() if t.key == "VI.1.1"]
    assert [a.status.value for a in line.assignments if a.code == "NV03"] == ["done"]


async def test_after_a_task_report_the_tasks_numbers_answer_again(world: ZaloWorld) -> None:
    # The note's prompt left «1 – Hủy» as the newest menu: «3 – Cần hỗ trợ» typed after the
    # note was refused, and the office never heard she needed help.
    contact = await world.linked("NV03", "Chị Nga")
    await world.type(contact, "/nhiemvu")
    await world.type(contact, "2")  # ⏳ Đang thực hiện
    said = await world.type(contact, "Đã xong phần số liệu")
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Đã hoàn thành · 2 – ⏳ Đang thực hiện · 3 – 🆘 Cần hỗ trợ"
        " · 4 – 📎 Gửi sản phẩm"
    )
    await world.type(contact, "3")
    await world.type(contact, "Cần Văn phòng hỗ trợ in 200 bản")
    [line] = [t for t in await world.services.tasks.office_board() if t.key == "VI.1.1"]
    assert [(a.status.value, a.note) for a in line.assignments if a.code == "NV03"] == [
        ("need_help", "Cần Văn phòng hỗ trợ in 200 bản")
    ]


async def test_a_typed_draft_and_the_offices_comment_reach_each_other_as_text(
    world: ZaloWorld,
) -> None:
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    speaker = await world.linked("DB031", "Chị Vân")
    said = await world.type(speaker, "/thamluan")
    assert "1 – ✍️ Soạn tham luận 1.1 bằng tin nhắn" in said[-1]
    await world.type(speaker, "1")
    await world.type(speaker, "Kính thưa các đồng chí, quận Hoàn Kiếm báo cáo kết quả.")
    said = await world.type(speaker, "1")  # ✅ Xong, gửi bản này
    assert "bản 1" in said[-1]
    await world.tick()  # the version goes to the office's staff privately: no group on Zalo
    post = office.last_text
    assert "Nguyễn Thị Lan Phương" in post
    assert post.endswith("Trả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này")
    # Zalo carries no file: the draft is read on the dashboard, not «liên hệ Văn phòng».
    [assignment] = [line for line in await world.services.drafts.board() if line.code == "DB031"]
    download = f"http://127.0.0.1:8080/office/drafts/{assignment.id}/versions/1"
    assert f"Tải về: {download}" in post and "liên hệ Văn phòng" not in post
    await world.type(office, "3")
    said = await world.type(office, "Đề nghị bổ sung số liệu về hội viên mới.")
    assert said[-1].startswith("Đã chuyển góp ý")
    await world.tick()
    assert "Đề nghị bổ sung số liệu về hội viên mới." in "\n".join(speaker.texts[-2:])
    # «Cần chỉnh sửa», confirmed: Zalo has no post to reply to, so the comment is offered.
    await world.type(office, "/thamluan")
    await world.type(office, "1")  # Mở tham luận 1.1: the post's choices again
    await world.type(office, "2")  # ✏️ Cần chỉnh sửa
    said = await world.type(office, "1")  # ✏️ Xác nhận đề nghị chỉnh sửa bản 1
    assert said[-1].endswith("Trả lời 1 – 💬 Góp ý bản này") and "trả lời bài đăng" not in said[-1]
    await world.type(office, "1")
    said = await world.type(office, "Đề nghị rút gọn phần mở đầu.")
    assert said[-1].startswith("Đã chuyển góp ý")


async def test_the_office_on_zalo_is_told_to_comment_by_choosing_not_by_replying_to_a_message(
    world: ZaloWorld,
) -> None:
    # Zalo tells the bot nothing of which message a text answers: «↩️ Trả lời tin này» (the
    # Telegram way) took a clerk's comment for a stray text («Bot không xử lý tin nhắn tự do»).
    office, speaker = await draft_before_the_office(
        world, "Kính thưa các đồng chí, quận Hoàn Kiếm báo cáo kết quả."
    )
    await world.tick()
    post = office.last_text
    assert "Trả lời tin này" not in post
    assert "💬 Để gửi góp ý cho người viết, chọn «💬 Góp ý bản này» dưới đây rồi gõ góp ý." in post
    await world.type(office, "3")  # 💬 Góp ý bản này
    await world.type(office, "Đề nghị bổ sung số liệu về hội viên mới.")
    await world.tick()
    assert speaker.last_text.endswith("Trả lời 1 – ↩️ Trả lời Văn phòng")
    await world.type(speaker, "1")
    await world.type(speaker, "Xin cảm ơn Văn phòng, tôi sẽ bổ sung.")
    await world.tick()
    answer = office.last_text
    assert "Xin cảm ơn Văn phòng, tôi sẽ bổ sung." in answer and "Trả lời tin này" not in answer
    assert answer.endswith(
        "💬 Để gửi tiếp góp ý, chọn «💬 Góp ý tiếp (bản 1)» dưới đây rồi gõ góp ý."
        "\n\nTrả lời 1 – 💬 Góp ý tiếp (bản 1)"
    )
    await world.type(office, "1")
    said = await world.type(office, "Đề nghị thêm số liệu năm 2023.")
    assert said[-1].startswith("Đã chuyển góp ý")
    await world.tick()
    assert "Đề nghị thêm số liệu năm 2023." in "\n".join(speaker.texts[-2:])


async def test_the_office_asked_for_its_comment_on_zalo_can_call_it_off_with_huy(
    world: ZaloWorld,
) -> None:
    """«💬 Góp ý bản này» then «Hủy», as every other typed step offers: nothing reaches the
    speaker, and the next text is no comment."""
    office, speaker = await draft_before_the_office(
        world, "Kính thưa các đồng chí, quận Ba Đình báo cáo kết quả."
    )
    await world.tick()
    said = await world.type(office, "3")  # 💬 Góp ý bản này
    assert said[-1].endswith("bot chuyển nguyên văn đến người viết.\n\nTrả lời 1 – Hủy")
    heard = len(speaker.texts)
    # Called off: the post's choices are the newest menu again, as before she chose to comment.
    assert await world.type(office, "1") == [
        "Đã hủy thao tác với tham luận chủ đề 1.1."
        "\n\nTrả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này"
    ]
    said = await world.type(office, "Một câu không phải góp ý.")
    assert not said[-1].startswith("Đã chuyển góp ý")
    await world.tick()
    assert len(speaker.texts) == heard
    # Chosen again and sent: the post's choices follow the confirmation (a «1» then is «Chốt»,
    # never the «Hủy» of a question already answered).
    await world.type(office, "3")
    said = await world.type(office, "Đề nghị bổ sung số liệu.")
    assert said[-1].endswith(
        "\n\nTrả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này"
    )
    assert (await world.type(office, "1"))[-1].startswith("Đồng chí chọn chốt bản 1")


async def test_a_speaker_whose_speech_was_withdrawn_mid_draft_is_told_and_her_version_kept(
    world: ZaloWorld,
) -> None:
    speaker = await world.linked("DB031", "Chị Vân")
    await world.type(speaker, "/thamluan")
    await world.type(speaker, "1")  # ✍️ Soạn tham luận 1.1 bằng tin nhắn
    await world.type(speaker, "Bản thứ nhất.")
    assert "bản 1" in (await world.type(speaker, "1"))[-1]  # ✅ Xong, gửi bản này
    await world.type(speaker, "/thamluan")
    await world.type(speaker, "1")  # typing a second version when the office withdraws it
    services = world.services
    await services.drafts.unassign(services.access.local_operator(), "DB031", "1.1")
    withdrawn = (
        "Văn phòng đã hủy phân công tham luận chủ đề 1.1 của đồng chí nên bot không nhận thêm"
        " bản mới cho chủ đề này; các bản đồng chí đã gửi vẫn được lưu giữ. Cần trao đổi, xin"
        " liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )
    assert (await world.type(speaker, "Bản sửa lần hai."))[-1] == withdrawn
    said = await world.type(speaker, "/thamluan")
    assert said[-1] == withdrawn and "Soạn tham luận" not in "\n".join(said)
    [kept] = [line for line in await services.drafts.board(withdrawn=True) if line.withdrawn]
    assert (kept.code, kept.versions) == ("DB031", 1)


async def test_a_reply_to_the_office_refused_once_her_invitation_is_withdrawn_ends_the_question(
    world: ZaloWorld,
) -> None:
    # She chose «Trả lời Văn phòng»; the office withdrew her invitation before she wrote. Her
    # text was refused, but the question stayed: every later text was refused again, and once
    # she was invited again, a message about anything else went to the office as her answer.
    office, speaker = await draft_before_the_office(world, "Kính thưa các đồng chí.")
    await world.tick()
    await world.type(office, "3")  # 💬 Góp ý bản này
    await world.type(office, "Đề nghị bổ sung số liệu.")
    await world.tick()
    assert speaker.last_text.endswith("Trả lời 1 – ↩️ Trả lời Văn phòng")
    await world.type(speaker, "1")
    services = world.services
    operator = services.access.local_operator()
    await services.withdrawals.withdraw(operator, "DB031", "Mời nhầm")
    said = await world.type(speaker, "Đã rõ ạ.")
    assert said[-1].startswith("Giấy mời gửi đồng chí không còn hiệu lực")
    await services.withdrawals.reinvite(operator, "DB031")
    await world.type(speaker, "Xin cảm ơn Văn phòng.")
    await world.tick()
    async with services.ctx.sessions() as session:
        bodies = list(await session.scalars(select(DraftComment.body).order_by(DraftComment.id)))
    assert bodies == ["Đề nghị bổ sung số liệu."]  # neither text went to the office
    assert "Xin cảm ơn Văn phòng." not in "\n".join(office.texts)


async def test_a_draft_whose_file_is_gone_from_the_server_reaches_the_office_saying_so(
    world: ZaloWorld,
) -> None:
    # Restored without the files' folder, the post failed in the outbox with a
    # FileNotFoundError and never reached the office.
    office, _ = await draft_before_the_office(
        world, "Kính thưa các đồng chí, quận Hoàn Kiếm báo cáo kết quả."
    )
    [line] = [line for line in await world.services.drafts.board() if line.code == "DB031"]
    assert line.latest is not None
    stored = await world.services.drafts.version_file(line.latest.id)
    assert stored is not None
    stored.path.unlink()
    await world.tick()
    post = office.last_text
    assert "Tệp «tham-luan-1.1.txt» vẫn được ghi nhận nhưng không có trên máy chủ" in post
    assert post.endswith("Trả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này")


async def test_a_notice_reaches_the_linked_and_the_one_who_blocked_the_bot_is_reported_blocked(
    world: ZaloWorld,
) -> None:
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    readers = [await world.linked(code, code) for code in ("DB001", "DB002", "DB003")]
    readers[1].block()
    await world.type(office, "/thongbao")
    await world.type(office, "Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5.")
    said = await world.type(office, "1")  # đại biểu đã liên kết
    assert "Sẽ gửi tới: 3 người." in said[-1]
    await world.type(office, "1")  # Gửi ngay
    await world.tick()
    assert "Kính mời các đồng chí dự họp trù bị" in readers[0].last_text
    assert "Kính mời các đồng chí dự họp trù bị" in readers[2].last_text
    assert not any("họp trù bị" in text for text in readers[1].texts)
    report = office.last_text
    assert "DB002" in report  # the office learns who was not reached
    async with world.services.ctx.sessions() as session:
        statuses = sorted((await session.scalars(select(Delivery.status))).all())
    # Two readers reached, one blocked; and the completion report to the office's staff.
    assert statuses == ["blocked", "sent", "sent", "sent"]


async def test_on_the_meeting_day_zalo_s_notice_menu_keeps_its_numbers_and_adds_the_awaited_last(
    world: ZaloWorld,
) -> None:
    """«Dự kiến chưa đến» (those expected, not in yet) comes after «vắng mặt»: 1–7 mean what
    they meant, the groups and «Hủy» follow it (s32 re-test M6)."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    world.clock.set(local(2024, 5, 28, 9, 0))
    await world.type(office, "/thongbao")
    said = await world.type(office, "Phòng họp đổi sang tầng 3.")
    menu = said[-1]
    assert "6 – Đại biểu vắng mặt (chưa điểm danh, kể cả người đã báo không tham dự)" in menu
    assert (
        "7 – Đại biểu dự kiến chưa đến (đã xác nhận tham dự hoặc cử người dự thay, chưa điểm danh)"
        in menu
    )
    assert "8 – Theo nhóm thành phần…" in menu
    said = await world.type(office, "7")
    assert "Đối tượng: Đại biểu dự kiến chưa đến" in said[-1]


async def test_thongbao_on_zalo_asks_by_number_before_replacing_an_unfinished_notice(
    world: ZaloWorld,
) -> None:
    """Zalo has no buttons: the choice between the unfinished notice and a new one is a
    numbered menu; «1» goes back to its preview, as written, and it goes out."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    await world.type(office, "/thongbao")
    await world.type(office, "Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5.")
    await world.type(office, "1")  # đại biểu đã liên kết: the preview, not sent
    said = await world.type(office, "/thongbao")
    assert said[-1] == (
        "Đồng chí đang có một thông báo soạn dở, chưa gửi: «Kính mời các đồng chí dự họp trù bị"
        " lúc 14:00 ngày 27/5.». Đề nghị chọn «Tiếp tục bản soạn dở» để quay lại thông báo đó,"
        " hoặc «Soạn thông báo mới» để bỏ bản soạn dở và soạn thông báo khác.\n\n"
        "Trả lời 1 – Tiếp tục bản soạn dở · 2 – Soạn thông báo mới"
    )
    said = await world.type(office, "1")  # Tiếp tục bản soạn dở
    assert "Sẽ gửi tới: 1 người." in said[-1]
    await world.type(office, "1")  # Gửi ngay
    await world.tick()
    assert "Kính mời các đồng chí dự họp trù bị" in reader.last_text


async def test_the_morning_programme_reaches_the_confirmed_as_text_with_links(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "1")
    await morning_programme_due(world.services, world.clock)
    before = len(user.texts)
    await world.tick()
    programme = "\n".join(user.texts[before:])
    assert "07:30–08:00: Đón tiếp đại biểu" in programme
    assert "https://maps.google.com/?q=21.029850,105.785230" in programme
    assert programme.endswith(f"Tải về: http://127.0.0.1:8080/{world.tokens['DB001']}/lich.ics")
    assert all(call.method == "sendMessage" for call in world.fake.sent())


async def test_the_morning_programme_on_zalo_says_the_hall_once_in_two_messages_not_three(
    world: ZaloWorld,
) -> None:
    """Zalo has no map pin: the place sent as a pin elsewhere became a second message repeating
    the hall, the address and the map link the programme gives; now the programme and the
    calendar's link only."""
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "1")
    await morning_programme_due(world.services, world.clock)
    before = len(user.texts)
    await world.tick()
    sent = user.texts[before:]
    assert len(sent) == 2
    assert sent[0].count("https://maps.google.com/?q=21.029850,105.785230") == 1
    assert sent[0].count(world.services.config.meeting.venue.address) == 1
    assert sent[1].startswith("📎 ") and "Tải về: http://127.0.0.1:8080/" in sent[1]


async def coming_and_sending(world: ZaloWorld) -> tuple[FakeZaloUser, FakeZaloUser]:
    """Chị Mai (DB001) linked and coming; Chị Diệp (DB002) linked and sending Lê Thị Mai, Phó
    Ban of her own unit, in her place (no phone given)."""
    coming = await world.linked("DB001", "Chị Mai")
    await world.type(coming, "1")
    sending = await world.linked("DB002", "Chị Diệp")
    for typed in ("3", "Lê Thị Mai", "Phó Ban", "1", "1"):  # «1 – Bỏ qua»: no phone
        await world.type(sending, typed)
    return coming, sending


async def test_the_morning_programme_carries_the_code_to_show_at_the_desk_and_to_pass_on(
    world: ZaloWorld,
) -> None:
    # The one who sent a substitute was told to pass the programme on, with nothing for the
    # substitute to show at the desk (her web page says «chuyển mã này…»); on Zalo she has no
    # QR to forward.
    coming, sending = await coming_and_sending(world)
    assert (await rsvp_of(world.services, "DB002")).status == RsvpStatus.SUBSTITUTE
    await morning_programme_due(world.services, world.clock)
    before = {user.id: len(user.texts) for user in (coming, sending)}
    await world.tick()
    passed_on = "\n".join(sending.texts[before[sending.id] :])
    assert (
        "Đồng chí đã cử đồng chí Lê Thị Mai dự thay; kính đề nghị đồng chí chuyển thông tin này "
        "tới đồng chí Lê Thị Mai.\n\n"
        f"Mã đón tiếp đại biểu: {world.codes['DB002']}. Đề nghị đồng chí chuyển mã này (hoặc "
        "phiếu kèm giấy mời) để đồng chí Lê Thị Mai xuất trình tại bàn đón tiếp."
    ) in passed_on
    own = "\n".join(coming.texts[before[coming.id] :])
    assert (
        f"Mã đón tiếp đại biểu của đồng chí: {world.codes['DB001']}. Khi đến, kính đề nghị đồng "
        "chí xuất trình mã này (hoặc giấy mời) tại bàn đón tiếp."
    ) in own


async def test_a_morning_pack_gone_late_says_who_is_checked_in_in_place_of_the_desk_code(
    world: ZaloWorld,
) -> None:
    # A pack sent once she (or her substitute) is in the hall asked her to show her code, or to
    # pass it on to a substitute already checked in: it says the check-in instead.
    coming, sending = await coming_and_sending(world)
    declined = await world.linked("DB004", "Chị Hà")
    await world.type(declined, "2")
    await world.type(declined, "2")  # Không nêu lý do
    await morning_programme_due(world.services, world.clock)
    checkin = world.services.checkin
    desk = await desk_of(world.services, "DB080", "Bàn 1")
    assert (await checkin.check_in(desk, "DB001")).checkin is not None
    assert (await checkin.check_in(desk, "DB002", substitute_name="Lê Thị Mai")).checkin
    assert (await checkin.check_in(desk, "DB004")).checkin is not None
    before = {user.id: len(user.texts) for user in (coming, sending)}
    await world.tick()
    own = "\n".join(coming.texts[before[coming.id] :])
    assert "Đồng chí đã điểm danh lúc 06:30 (Bàn 1)." in own
    assert "xuất trình mã này" not in own and world.codes["DB001"] not in own
    passed_on = "\n".join(sending.texts[before[sending.id] :])
    assert "Đồng chí Lê Thị Mai đã điểm danh dự thay lúc 06:30." in passed_on
    assert "chuyển mã này" not in passed_on and world.codes["DB002"] not in passed_on
    # A decliner who came after all is not told she may still come.
    world.clock.set(local(2024, 5, 28, 7, 0))
    card = await world.type(declined, "/trangthai")
    assert "thu xếp được" not in card[-1]
    asked = await world.type(declined, "Tôi đến rồi")
    assert "thu xếp được" not in asked[-1]


async def test_an_unanswered_delegate_linking_on_the_meeting_day_is_told_she_may_still_come(
    world: ZaloWorld,
) -> None:
    # Linking that morning she read only «Thời hạn xác nhận đã kết thúc… Nếu cần thay đổi, xin
    # liên hệ…»: nothing said she may still come, nor what to show at the desk.
    world.clock.set(local(2024, 5, 28, 7, 0))
    user = world.fake.user("Chị Diệp")
    said = await world.type(user, world.codes["DB002"])
    contact = world.services.config.office.contact
    assert said[-1].endswith(
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; đồng chí chưa trả lời "
        "giấy mời. Đồng chí vẫn có thể đến dự hội nghị: khi đến, kính đề nghị đồng chí xuất "
        f"trình mã đón tiếp đại biểu {world.codes['DB002']} (hoặc giấy mời) tại bàn đón tiếp. "
        f"Để báo việc tham dự hoặc cần trao đổi, xin liên hệ {contact}."
    )
    # One who answered keeps the plain closing; after the meeting nobody is asked to come.
    coming = world.fake.user("Chị Mai")
    world.clock.set(local(2024, 5, 20, 9, 0))
    await world.type(coming, world.codes["DB001"])
    await world.type(coming, "1")
    world.clock.set(local(2024, 5, 28, 7, 0))
    card = await world.type(coming, "/trangthai")
    assert "vẫn có thể đến dự" not in card[-1]
    assert card[-1].endswith(f"Nếu cần thay đổi, xin liên hệ {contact}.")
    world.clock.set(world.services.config.meeting.ends_at + timedelta(minutes=1))
    later = await world.type(user, "/trangthai")
    assert "vẫn có thể đến dự" not in later[-1]


async def test_a_delegate_who_declined_asking_on_the_meeting_morning_is_told_she_may_still_come(
    world: ZaloWorld,
) -> None:
    # «Tôi vẫn đến dự được không?» on the morning got only «Thời hạn … đã kết thúc; nội dung
    # đồng chí đã xác nhận được giữ nguyên…» while the desk lets decliners in: she stayed away,
    # or phoned the office at its busiest hour. Now: she may come, with the code to show.
    user = await world.linked("DB002", "Chị Diệp")
    await world.type(user, "2")
    await world.type(user, "2")  # Không nêu lý do
    assert (await rsvp_of(world.services, "DB002")).status == RsvpStatus.DECLINED
    # Before the deadline nothing changes: she can change her answer herself.
    early = await world.type(user, "Tôi vẫn đến dự được không?")
    assert "vẫn có thể" not in early[-1] and "thu xếp được" not in early[-1]
    contact = world.services.config.office.contact
    welcome = (
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; đồng chí đã báo không "
        "tham dự. Nếu thu xếp được để đến dự, kính đề nghị đồng chí xuất trình mã đón tiếp đại "
        f"biểu {world.codes['DB002']} (hoặc giấy mời) tại bàn đón tiếp, và báo để Văn phòng được "
        f"biết: {contact}."
    )
    world.clock.set(local(2024, 5, 28, 7, 0))
    asked = await world.type(
        user, "Tôi đã báo không tham dự nhưng nay thu xếp được, tôi vẫn đến dự được không?"
    )
    assert asked[-1] == f"{welcome}\nBot không chuyển tin nhắn tự do tới Văn phòng."
    # Choosing «1 – Tham dự» after the deadline, and her card, say the same.
    chose = await world.type(user, "1")
    assert chose[-1] == welcome
    card = await world.type(user, "/trangthai")
    assert card[-1].endswith(welcome)
    assert (await rsvp_of(world.services, "DB002")).status == RsvpStatus.DECLINED
    # Once the meeting is over nobody is asked to come.
    world.clock.set(world.services.config.meeting.ends_at + timedelta(minutes=1))
    later = await world.type(user, "Tôi vẫn đến dự được không?")
    assert "thu xếp được" not in later[-1]
    assert later[-1].startswith("Thời hạn xác nhận tham dự đã kết thúc; nội dung đồng chí")


async def test_a_long_notice_is_split_under_2000_characters_at_line_ends(
    world: ZaloWorld,
) -> None:
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    lines = [
        f"{n:02d}. Nội dung chuẩn bị số {n} của hội nghị, đề nghị các đồng chí lưu ý."
        for n in range(1, 29)
    ]
    body = "\n".join(lines)
    assert 1900 < len(body) <= 2000  # one Zalo message as the office typed it
    await world.type(office, "/thongbao")
    await world.type(office, body)
    await world.type(office, "1")  # đại biểu đã liên kết
    before = len(reader.texts)
    await world.type(office, "1")  # Gửi ngay
    await world.tick()
    received = reader.texts[before:]
    assert len(received) == 2  # the heading made it longer than one message
    assert all(0 < len(text) <= 2000 for text in received)
    for line in lines:  # cut at line ends: every line arrives whole, in one message
        assert sum(line in text.split("\n") for text in received) == 1


async def test_a_long_notice_typed_as_one_paragraph_takes_two_messages_cut_after_a_sentence(
    world: ZaloWorld,
) -> None:
    """3,400 characters without a line break: the heading goes with the start of the text (not
    alone, a message of the quota for nothing), and the cut falls after a sentence, not
    between the syllables of «đồng | chí» (re-test s31, Z16)."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    sentence = "Văn phòng đề nghị các đồng chí chuẩn bị đầy đủ tài liệu trước ngày họp."
    body = " ".join([sentence] * 47)
    assert 3300 < len(body) < 3500 and "\n" not in body
    await world.type(office, "/thongbao")
    await world.type(office, body)
    await world.type(office, "1")  # đại biểu đã liên kết
    before = len(reader.texts)
    await world.type(office, "1")  # Gửi ngay
    await world.tick()
    received = reader.texts[before:]
    assert len(received) == 2
    assert all(0 < len(text) <= 2000 for text in received)
    first, second = received
    assert first.startswith("📢 Thông báo của Văn phòng") and first.endswith(sentence)
    assert second.startswith(sentence)
    assert first.split("\n\n", 1)[1] + " " + second == body  # nothing lost, nothing doubled


async def test_a_message_delivered_twice_is_handled_once(world: ZaloWorld) -> None:
    user = await world.linked("DB001", "Chị Mai")
    update = user.text("1")  # Tham dự
    await world.settle()
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING
    answered = len(user.texts)
    world.fake.redeliver(update)  # the same message_id again
    await world.settle()
    assert len(user.texts) == answered  # the copy was skipped: nothing answered to it
    assert world.fake.returned == 3  # /start, "1", and its copy were all fetched


async def test_a_sticker_an_image_and_an_unsupported_message_get_the_explanation(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    contact = world.services.config.office.contact
    page = f"http://127.0.0.1:8080/{world.tokens['DB001']}"
    explanation = world.catalog.plain("hint.unreadable", url=page, contact=contact)
    for send in (user.sticker, lambda: user.image("ảnh giấy mời"), user.unsupported):
        before = len(user.texts)
        send()
        await world.settle()
        assert user.texts[before:] == [explanation]
    stranger = world.fake.user("Người lạ")
    stranger.sticker()
    await world.settle()
    # Zalo opens no personal link: the stranger is told to send the code.
    assert stranger.texts == [world.catalog.plain("hint.not_linked_code", contact=contact)]


async def test_the_handled_message_ids_are_stored_so_a_copy_after_a_restart_is_skipped(
    world: ZaloWorld,
) -> None:
    from bot.services.handled_events import HandledEvents

    user = await world.linked("DB001", "Chị Mai")
    update = user.text("1")
    await world.settle()
    await world.adapter.handled.flush()
    restarted = HandledEvents(world.services.ctx, channel="zalo")  # a new process's memory
    bot_id = world.fake.bot_id
    assert await restarted.seen(bot_id, update["message"]["message_id"])
    assert not await restarted.seen(bot_id, "a-message-never-handled")


@pytest.mark.parametrize(
    "command",
    [
        "/thongke",
        "/chuatraloi",
        "/baocao",
        "/thongbao",
        "/lichthongbao",
        "/caplai DB001",
        "/golienket DB001",
    ],
)
async def test_office_commands_on_zalo_answer_staff_and_refuse_delegates(
    world: ZaloWorld, command: str
) -> None:
    delegate = await world.linked("DB001", "Chị Mai")
    stranger = world.fake.user("Người lạ")
    refusal = world.catalog.plain("office.refused")
    assert await world.type(delegate, command) == [refusal]
    assert await world.type(stranger, command) == [refusal]
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    said = await world.type(office, command)
    assert said and said != [refusal]


async def test_the_report_workbook_names_the_channel_that_reaches_each_person(
    world: ZaloWorld,
) -> None:
    await world.linked("DB001", "DB001")
    blocked = await world.linked("DB002", "DB002")
    blocked.block()
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    await world.type(office, "/thongbao")
    await world.type(office, "Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5.")
    await world.type(office, "1")  # đại biểu đã liên kết
    await world.type(office, "1")  # Gửi ngay: the send to DB002 finds the bot blocked
    await world.tick()
    services = world.services
    content = office_report_workbook(
        world.catalog, services.config, await services.office_report.collect()
    )
    rows = list(load_workbook(io.BytesIO(content))["Đại biểu"].iter_rows(values_only=True))
    assert rows[0][13] == "Kênh liên lạc"  # after the substitute's unit and phone
    by_code = {row[1]: row for row in rows[1:]}
    assert by_code["DB001"][13:15] == ("Zalo", "Có")
    assert by_code["DB002"][13:15] == ("Zalo (đã chặn bot)", "Không")
    assert by_code["DB003"][13:15] == ("Chưa liên kết", None)


async def test_a_speaker_who_sends_her_speech_as_a_file_is_given_her_page_and_the_typed_draft(
    world: ZaloWorld,
) -> None:
    # Zalo hands the bot no file (a .docx arrives as «unsupported»): «the link in the
    # invitation» pointed at a link the Zalo invitation does not carry. She is given her page
    # and the choice to type it, which answers by its number.
    speaker = await world.linked("DB031", "Chị Vân")
    contact = world.services.config.office.contact
    page = f"http://127.0.0.1:8080/{world.tokens['DB031']}"
    expected = (
        "Bot chỉ đọc được tin nhắn bằng chữ, không nhận được tệp, ảnh, nhãn dán hay tin nhắn "
        "thoại. Để gửi tham luận chủ đề 1.1, đồng chí tải tệp (.docx, .doc, .pdf, .odt, .rtf "
        f"hoặc .txt, tối đa 20 MB) lên trang cá nhân: {page}, hoặc chọn «✍️ Soạn tham luận … "
        "bằng tin nhắn» dưới đây để gõ bài ngay tại đây. Cần hỗ trợ, xin gọi "
        f"{contact}.\n\nTrả lời 1 – ✍️ Soạn tham luận 1.1 bằng tin nhắn"
    )
    for send in (speaker.unsupported, lambda: speaker.image("ảnh bài tham luận")):
        before = len(speaker.texts)
        send()
        await world.settle()
        assert speaker.texts[before:] == [expected]
    said = await world.type(speaker, "1")
    assert said[-1].startswith("✍️ Đề nghị đồng chí gõ nội dung tham luận chủ đề 1.1")


async def test_a_task_contact_who_sends_a_file_is_given_her_page_not_an_invitation_she_lacks(
    world: ZaloWorld,
) -> None:
    user = await world.linked("NV06", "Chị Hòa")
    user.unsupported()
    await world.settle()
    page = f"http://127.0.0.1:8080/{world.tokens['NV06']}"
    assert f"xin mở trang cá nhân của đồng chí: {page};" in user.last_text
    assert "giấy mời" not in user.last_text


async def test_a_revision_asked_on_zalo_tells_the_speaker_her_page_and_the_typed_draft(
    world: ZaloWorld,
) -> None:
    # «gửi lại bản mới vào cuộc trò chuyện này» (Telegram's sentence) sent her to a chat that
    # takes no file: the new version goes on her page, or is typed here by the choice given.
    office, speaker = await draft_before_the_office(
        world, "Kính thưa các đồng chí, quận Hoàn Kiếm báo cáo kết quả."
    )
    await world.tick()
    await world.type(office, "2")  # ✏️ Cần chỉnh sửa
    await world.type(office, "1")  # ✏️ Xác nhận đề nghị chỉnh sửa bản 1
    await world.tick()
    page = f"http://127.0.0.1:8080/{world.tokens['DB031']}"
    how = world.catalog.plain("draft_mine.how_no_files", url=page)
    told = speaker.last_text
    assert told.startswith(
        "✏️ Văn phòng đề nghị đồng chí chỉnh sửa tham luận chủ đề 1.1 (bản 1) theo góp ý và gửi "
        "lại bản mới trước "
    )
    assert told.endswith(f".\n\n{how}\n\nTrả lời 1 – ✍️ Soạn tham luận 1.1 bằng tin nhắn")
    assert "cuộc trò chuyện này" not in told
    said = await world.type(speaker, "1")
    assert said[-1].startswith("✍️ Đề nghị đồng chí gõ nội dung tham luận chủ đề 1.1")


async def test_a_delegate_who_types_1_right_after_declining_is_recorded_attending(
    world: ZaloWorld,
) -> None:
    # The reason's question offered «1 – Không nêu lý do · 2 – Hủy» right under an invitation
    # whose «1» is «Tham dự»: her «1», changing her mind, was recorded as a decline. Under the
    # question the invitation's numbers keep their meaning, and «Hủy» comes after them.
    user = await world.linked("DB025", "Chị Hương")
    await world.type(user, "tham du")
    said = await world.type(user, "2")
    assert said == [
        "Đã ghi nhận: đồng chí không tham dự hội nghị. Đề nghị đồng chí cho biết lý do (không bắt "
        "buộc): gõ lý do vào ô tin nhắn, hoặc chọn «Không nêu lý do». Nếu đổi ý, đồng chí chọn "
        "«Tham dự» hoặc «Cử người dự thay»; chọn «Hủy» để trở lại nội dung đã xác nhận trước đó."
        "\n(Trước đó đồng chí đã xác nhận: Tham dự.)"
        "\n\nTrả lời 1 – ✅ Tham dự · 2 – Không nêu lý do · 3 – 👤 Cử người dự thay · 4 – Hủy"
    ]
    said = await world.type(user, "1")
    assert (await rsvp_of(world.services, "DB025")).status == RsvpStatus.ATTENDING
    assert said[-1].startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")
    await world.type(user, "2")
    await world.type(user, "4")  # Hủy: back to the answer before the decline
    assert (await rsvp_of(world.services, "DB025")).status == RsvpStatus.ATTENDING
    await world.type(user, "2")
    await world.type(user, "2")  # Không nêu lý do
    rsvp = await rsvp_of(world.services, "DB025")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, None)


async def test_her_own_code_sent_again_after_linking_is_answered_as_start_with_the_code(
    world: ZaloWorld,
) -> None:
    # Sent again by someone unsure the first one worked, it got «trả lời giấy mời bằng các lựa
    # chọn…, /nhiemvu…» and not a word that the code was already hers.
    user = await world.linked("DB036", "Chị Hạnh")
    code = world.codes["DB036"]
    again = await world.type(user, code.lower().replace("-", " "))
    assert again[0] == world.catalog.plain("start.already_linked")
    assert again == await world.type(user, f"/start {code}")
    assert again[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    said = await world.type(user, world.codes["DB001"])  # another's code: not read as one
    assert said[0] != world.catalog.plain("start.already_linked")
    mine = await world.services.invitations.whoami(
        ChatAccount(CHANNEL, user.id, user.id, user.name)
    )
    assert mine is not None and mine.delegate is not None and mine.delegate.code == "DB036"


async def test_a_typed_draft_over_the_limit_on_zalo_points_to_her_page_for_the_whole_file(
    world: ZaloWorld,
) -> None:
    # «…hoặc gửi cả bài dưới dạng tệp» sent her to send a file into a chat that takes none.
    speaker = await world.linked("DB031", "Chị Vân")
    await world.type(speaker, "/thamluan")
    await world.type(speaker, "1")  # ✍️ Soạn tham luận 1.1 bằng tin nhắn
    await world.type(speaker, "a" * 59_995)
    said = await world.type(speaker, "Kính thưa các đồng chí.")
    page = f"http://127.0.0.1:8080/{world.tokens['DB031']}"
    assert said == [
        "Bài soạn bằng tin nhắn dài tối đa 60.000 ký tự; đoạn vừa gửi chưa được ghép (đã có "
        "59.995 ký tự). Đề nghị đồng chí chọn «Xong, gửi bản này» để gửi phần đã có, hoặc tải cả "
        f"bài dưới dạng tệp (tối đa 20 MB) lên trang cá nhân: {page}."
        "\n\nTrả lời 1 – ✅ Xong, gửi bản này · 2 – Hủy"
    ]


async def test_the_report_on_zalo_is_a_link_to_the_dashboards_download_not_a_dead_end(
    world: ZaloWorld,
) -> None:
    """Zalo carries no file: /baocao gives the office the dashboard's download (signing in by
    /dangnhap as a draft's link does), not the delegate's «liên hệ Văn phòng» — she is the
    office; the time is written as everywhere else («09:00, 18/5»)."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    world.clock.set(local(2024, 5, 18, 9, 0))
    assert await world.type(office, "/baocao") == [
        "📎 📊 Báo cáo hội nghị lúc 09:00, 18/5: đại biểu theo thứ tự nghi lễ, tổng hợp theo"
        " thành phần, tham luận, nhiệm vụ, kết quả gửi tin.\n"
        "Tải về: http://127.0.0.1:8080/office/report.xlsx"
    ]


async def test_the_unanswered_list_on_zalo_points_to_the_dashboards_list_not_the_workbook(
    world: ZaloWorld,
) -> None:
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    said = await world.type(office, "/chuatraloi")
    assert said[0].split("\n")[-3:] == [
        "Đã hiện 1–13 trong số 80 người. Chọn «Trang sau ›» để xem tiếp; danh sách đầy đủ trên"
        " trang quản lý (mục «Đại biểu», lọc người chưa trả lời):"
        " http://127.0.0.1:8080/office/delegates?answer=no_answer",
        "",
        "Trả lời 1 – Trang sau ›",
    ]


async def chase_and_speech_reminder_due(world: ZaloWorld, *kinds: MessageKind) -> None:
    """The plan's RSVP chase and speech reminder of 20/5 08:00 (the same minute in the example
    plan: each "-1d@08:00" of a deadline at 21/5 17:00) stored, the clock at their time."""
    planned = [
        p
        for p in planned_messages(world.services.config)
        if p.kind in kinds and p.due_at == local(2024, 5, 20, 8, 0)
    ]
    assert {p.kind for p in planned} == set(kinds)
    await sync_planned(
        world.services.ctx.sessions, world.clock, world.services.ctx.meeting_id, planned
    )
    world.clock.set(local(2024, 5, 20, 8, 0))


CHASE_MENU = "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
SPEECH_MENU = "Trả lời 1 – ✍️ Soạn tham luận 1.1 bằng tin nhắn"


async def test_a_number_both_menus_that_arrived_together_have_is_asked_back_not_taken_as_the_newest(
    world: ZaloWorld,
) -> None:
    # Re-test s31 Z18: the chase's «1 – ✅ Tham dự» typed after the speech reminder that came
    # the same second started a speech draft, and she was still counted «Chưa trả lời».
    user = await world.linked("DB031", "Chị Vân")
    await chase_and_speech_reminder_due(
        world, MessageKind.RSVP_REMINDER, MessageKind.DRAFT_REMINDER
    )
    before = len(user.texts)
    await world.tick()
    reminders = user.texts[before:]
    assert [text.splitlines()[-1] for text in reminders] in (
        [CHASE_MENU, SPEECH_MENU],
        [SPEECH_MENU, CHASE_MENU],
    )
    said = await world.type(user, "1")
    assert said == [
        "Đồng chí vừa nhận 2 tin nhắn cùng có lựa chọn số 1. Đề nghị đồng chí cho biết muốn"
        " chọn nội dung nào dưới đây.\n\n"
        "Trả lời 1 – ✅ Tham dự · 2 – ✍️ Soạn tham luận 1.1 bằng tin nhắn"
    ]  # the invitation's choice first, whichever came last
    assert (await rsvp_of(world.services, "DB031")).status == RsvpStatus.NO_ANSWER
    await world.type(user, "1")
    assert (await rsvp_of(world.services, "DB031")).status == RsvpStatus.ATTENDING


async def test_a_number_only_one_of_the_menus_that_arrived_together_has_picks_it(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB031", "Chị Vân")
    await chase_and_speech_reminder_due(
        world, MessageKind.RSVP_REMINDER, MessageKind.DRAFT_REMINDER
    )
    await world.tick()
    said = await world.type(user, "3")  # the chase's «👤 Cử người dự thay», whichever came last
    assert "họ và tên" in said[-1].casefold(), said
    said = await world.type(user, "tham du")
    assert (await rsvp_of(world.services, "DB031")).status == RsvpStatus.ATTENDING


async def test_a_menu_that_arrived_an_hour_after_another_is_the_one_a_number_answers(
    world: ZaloWorld,
) -> None:
    # README's rule holds for messages that did not arrive together: «1» is the newest's.
    user = await world.linked("DB031", "Chị Vân")
    await chase_and_speech_reminder_due(world, MessageKind.RSVP_REMINDER)
    await world.tick()
    world.clock.set(local(2024, 5, 20, 9, 0))
    await chase_and_speech_reminder_due(world, MessageKind.DRAFT_REMINDER)
    world.clock.set(local(2024, 5, 20, 9, 0))
    await world.tick()
    assert user.texts[-1].endswith(SPEECH_MENU)
    said = await world.type(user, "1")
    assert said[-1].startswith("✍️ Đề nghị đồng chí gõ nội dung tham luận chủ đề 1.1"), said


async def test_two_posts_about_drafts_that_arrived_together_keep_the_newest_menu_rule(
    world: ZaloWorld,
) -> None:
    # Menus about the same thing are not asked back: «1 – ✅ Chốt bản 1» twice could not be
    # told apart; the number answers the newest post, as README says.
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    for code, name, theme in (("DB031", "Chị Vân", "1.1"), ("DB036", "Chị Hà", "1.2")):
        speaker = await world.linked(code, name)
        said = await world.type(speaker, "/thamluan")
        assert f"1 – ✍️ Soạn tham luận {theme} bằng tin nhắn" in said[-1]
        await world.type(speaker, "1")
        await world.type(speaker, f"Tham luận chủ đề {theme}: quận báo cáo kết quả.")
        await world.type(speaker, "1")  # ✅ Xong, gửi bản này
    before = len(office.texts)
    await world.tick()
    posts = office.texts[before:]
    assert len(posts) == 2 and all(p.endswith("3 – 💬 Góp ý bản này") for p in posts)
    said = await world.type(office, "2")  # ✏️ Cần chỉnh sửa, of the newest post
    assert len(said) == 1 and "Đồng chí vừa nhận" not in said[0]
    newest = "1.1" if "1.1" in posts[-1].split("\n\n")[0] else "1.2"
    assert f"chủ đề {newest}" in said[0], said


async def test_a_speaker_linking_reads_one_numbered_menu_the_invitations_her_number_answers(
    world: ZaloWorld,
) -> None:
    # Re-test s34 M9: the speech card before the invitation ended «Trả lời 1 – ✍️ Soạn tham
    # luận»: the first «1» she read meant another thing than the «1» the bot takes.
    user = world.fake.user("Chị Vân")
    said = await world.type(user, world.codes["DB031"])
    assert said[0].startswith("Tài khoản của đồng chí đã được liên kết")
    [speech] = [text for text in said if "Tham luận được phân công" in text]
    assert "Trả lời 1" not in speech
    assert "sau khi trả lời giấy mời dưới đây, đồng chí gõ /thamluan" in speech
    assert [text for text in said if "Trả lời 1" in text] == [said[-1]]
    assert said[-1].endswith(CHASE_MENU)
    await world.type(user, "1")
    assert (await rsvp_of(world.services, "DB031")).status == RsvpStatus.ATTENDING
    said = await world.type(user, "/thamluan")
    assert said[-1].endswith(SPEECH_MENU)
