"""Delegates and the office in Telegram, end to end through python-telegram-bot's HTTP stack.

Each test drives the real Application with updates from the fake Bot API, which also fails
the test if the bot makes any call the official Bot API would refuse.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.delegate_file import DelegateRow
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.domain.tokens import format_link_code
from handlers.telegram.app import DELEGATE_COMMANDS, OFFICE_COMMANDS, serve
from handlers.telegram.limiter import RetryingRateLimiter
from storage.models import AuditEntry, ChannelIdentity, Delegate, Rsvp
from tests.harness import ADMIN_ID, BotHarness, name_substitute
from tests.plan_support import rsvp_of


def buttons(message: dict) -> list[str]:  # type: ignore[type-arg]
    """Labels of a message's inline keyboard."""
    markup = message.get("reply_markup") or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


async def status_of(harness: BotHarness, code: str) -> Rsvp:
    """The stored RSVP of a delegate."""
    return await rsvp_of(harness.services, code)


async def audit_count(harness: BotHarness, action: str) -> int:
    """How many audit rows of ``action`` exist."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return len(list(rows))


# --- linking ---------------------------------------------------------------------------------


async def test_opening_a_personal_link_links_the_account_and_shows_the_invitation_card(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB001")
    intro, card = (m["text"] for m in user.messages)
    assert intro.startswith("Tài khoản của đồng chí đã được liên kết")
    assert "Kính gửi đồng chí Phạm Thị Thanh Mai" in card
    assert "Thứ Ba, ngày 28/5/2024, từ 08:00 đến 11:30" in card
    assert "Hội trường Hội LHPN Hà Nội" in card
    assert "Số 7 phố Tôn Thất Thuyết, phường Dịch Vọng Hậu, quận Cầu Giấy" in card
    assert "07:30–08:00: Đón tiếp đại biểu" in card
    assert "Nội dung đồng chí đã xác nhận: Chưa trả lời." in card
    assert "trước 17:00, Thứ Ba, ngày 21/5/2024" in card
    sent = harness.fake.calls_to("sendMessage")[-1].params["text"]
    assert '<a href="https://maps.google.com/?q=21.029850,105.785230">' in sent
    assert buttons(user.last_message) == ["✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay"]
    assert await audit_count(harness, "identity.linked") == 1


async def test_start_without_token_explains_and_offers_the_phone_button(
    harness: BotHarness,
) -> None:
    user = harness.new_user()
    await harness.send(user.command("/start"))
    assert user.last_text().startswith("Kính chào đồng chí! Đây là trợ lý của Văn phòng Hội LHPN")
    keyboard = user.reply_keyboard
    assert keyboard is not None
    assert keyboard["keyboard"][0][0] == {
        "text": "📱 Chia sẻ số điện thoại",
        "request_contact": True,
    }


async def test_start_with_the_personal_code_links_as_the_invitation_message_says(
    harness: BotHarness,
) -> None:
    # The office's invitation says «tìm @bot trên Telegram và gửi lệnh /start K7PX-3QBM» for
    # one whose link will not open: that command links her, as her link would.
    found = {link.code: link for link in await harness.services.invitations.links()}
    user = harness.new_user()
    await harness.send(user.command(f"/start {format_link_code(found['DB010'].link_code)}"))
    intro, card = (m["text"] for m in user.messages)
    assert intro.startswith("Tài khoản của đồng chí đã được liên kết")
    assert "Kính gửi đồng chí Trịnh Văn Thắng" in card
    assert await audit_count(harness, "identity.linked") == 1


async def test_start_with_a_code_misread_from_paper_is_told_the_code_is_wrong(
    harness: BotHarness,
) -> None:
    user = harness.new_user()
    await harness.send(user.command("/start K7PX-03QB"))  # «Q» read as «0»: no code has 0
    assert user.last_text() == (
        "Mã này không đúng hoặc đã hết hiệu lực. Đề nghị đồng chí kiểm tra lại mã cá nhân 8 ký "
        "tự in trên giấy mời (bên cạnh mã QR) hoặc trên trang cá nhân, hoặc liên hệ đồng chí "
        "Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )
    assert await audit_count(harness, "identity.linked") == 0


async def test_wrong_token_gets_a_clear_answer_and_links_nothing(harness: BotHarness) -> None:
    user = harness.new_user()
    await harness.send(user.command("/start " + "x" * 32))
    await harness.send(user.command("/start not-a-token"))
    assert [m["text"] for m in user.messages] == [
        "Đường liên kết này không đúng hoặc đã hết hiệu lực. Đề nghị đồng chí kiểm tra lại đường "
        "liên kết trong giấy mời, hoặc liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, "
        "điện thoại 024 3834 5678."
    ] * 2
    assert await audit_count(harness, "identity.linked") == 0


async def test_token_already_linked_to_another_account_is_refused(harness: BotHarness) -> None:
    await harness.open_invitation("DB010")
    intruder = await harness.open_invitation("DB010")
    assert intruder.last_text().startswith("Giấy mời này đã được liên kết với một tài khoản khác.")
    assert await audit_count(harness, "identity.linked") == 1


async def test_account_linked_to_one_delegate_cannot_take_a_second_invitation(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB011")
    await harness.open_invitation("DB012", user)
    assert user.last_text().startswith("Tài khoản này đã được liên kết với giấy mời của đồng chí ")
    assert await audit_count(harness, "identity.linked") == 1


async def test_opening_the_link_again_shows_the_card_and_changes_nothing(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB001")
    await harness.open_invitation("DB001", user)
    assert user.messages[-2]["text"].startswith("Tài khoản này đã được liên kết với giấy mời")
    assert "Kính gửi đồng chí Phạm Thị Thanh Mai" in user.last_text()
    assert await audit_count(harness, "identity.linked") == 1


async def test_sharing_own_phone_number_links_the_matching_delegate(harness: BotHarness) -> None:
    user = harness.new_user()
    await harness.send(user.command("/start"))
    phone = await _phone_of(harness, "DB020")
    await harness.send(user.share_contact(phone.removeprefix("+")))
    assert "Kính gửi đồng chí" in user.last_text()
    async with harness.services.ctx.sessions() as session:
        ident = await session.scalar(select(ChannelIdentity))
    assert ident is not None and ident.linked_via == "phone" and ident.external_id == str(user.id)


async def test_sharing_someone_elses_contact_is_refused(harness: BotHarness) -> None:
    user = harness.new_user()
    await harness.send(user.share_contact(await _phone_of(harness, "DB020"), own=False))
    assert user.last_text() == (
        "Đề nghị đồng chí chia sẻ số điện thoại của chính mình bằng nút «📱 Chia sẻ số điện thoại»."
    )
    assert await audit_count(harness, "identity.linked") == 0


async def test_unknown_phone_number_is_not_linked(harness: BotHarness) -> None:
    user = harness.new_user()
    await harness.send(user.share_contact("84999000111"))
    assert user.last_text().startswith("Số điện thoại này chưa có trong danh sách đại biểu.")


async def test_phone_number_shared_by_two_delegates_is_not_linked(harness: BotHarness) -> None:
    phone = await _phone_of(harness, "DB020")
    async with harness.services.ctx.sessions() as session, session.begin():
        other = await session.scalar(select(Delegate).where(Delegate.code == "DB021"))
        assert other is not None
        other.phone = phone
    user = harness.new_user()
    await harness.send(user.share_contact(phone))
    assert user.last_text().startswith("Số điện thoại này trùng với nhiều đại biểu")
    assert await audit_count(harness, "identity.linked") == 0


async def _phone_of(harness: BotHarness, code: str) -> str:
    async with harness.services.ctx.sessions() as session:
        phone = await session.scalar(select(Delegate.phone).where(Delegate.code == code))
    assert phone
    return phone


# --- answering -------------------------------------------------------------------------------


async def test_tapping_attend_records_the_answer_and_confirms(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB030")
    await harness.send(user.tap("✅ Tham dự"))
    assert user.last_text().startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")
    assert (await status_of(harness, "DB030")).status == RsvpStatus.ATTENDING
    assert harness.fake.calls_to("answerCallbackQuery")[-1].params["text"] == "Đã ghi nhận."


async def test_second_tap_changes_nothing_and_says_so(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB030")
    card = user.last_message
    await harness.send(user.tap("✅ Tham dự", message=card))
    messages_after_first = len(user.messages)
    await harness.send(user.tap("✅ Tham dự", message=card))
    assert len(user.messages) == messages_after_first
    assert harness.fake.calls_to("answerCallbackQuery")[-1].params["text"] == (
        "Nội dung này đã được ghi nhận trước đó; không có thay đổi."
    )
    assert await audit_count(harness, "rsvp.changed") == 1


async def test_redelivered_update_has_no_second_effect(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB031")
    tap = user.tap("✅ Tham dự")
    await harness.send(tap)
    messages = len(user.messages)
    await harness.send(tap)  # Telegram redelivers an update whose offset was never confirmed
    assert len(user.messages) == messages
    assert await audit_count(harness, "rsvp.changed") == 1


async def test_declining_with_a_reason_records_the_reason(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB032")
    await harness.send(user.tap("❌ Không tham dự"))
    assert user.last_text().startswith(
        "Đã ghi nhận: đồng chí không tham dự hội nghị. Đề nghị đồng chí cho biết lý do"
    )
    assert (await status_of(harness, "DB032")).status == RsvpStatus.DECLINED  # from the tap
    assert buttons(user.last_message) == ["Không nêu lý do", "Hủy"]
    await harness.send(user.text("Trùng lịch tiếp đoàn công tác của Trung ương"))
    assert user.last_text().startswith(
        "Đã ghi nhận: đồng chí không tham dự hội nghị "
        "(lý do: Trùng lịch tiếp đoàn công tác của Trung ương)."
    )
    rsvp = await status_of(harness, "DB032")
    assert (rsvp.status, rsvp.reason) == (
        RsvpStatus.DECLINED,
        "Trùng lịch tiếp đoàn công tác của Trung ương",
    )


async def test_declining_without_a_reason(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB033")
    await harness.send(user.tap("❌ Không tham dự"))
    await harness.send(user.tap("Không nêu lý do"))
    rsvp = await status_of(harness, "DB033")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, None)
    assert user.last_text().startswith(
        "Đã ghi nhận: đồng chí không tham dự hội nghị. Trân trọng cảm ơn"
    )


async def test_sending_a_substitute_asks_name_position_unit_and_phone_and_confirms(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB040")
    await harness.send(user.tap("👤 Cử người dự thay"))
    assert (
        user.last_text() == "Đề nghị đồng chí cho biết họ và tên người dự thay (gõ vào ô tin nhắn)."
    )
    await harness.send(user.text("  Lê Thị   Hương "))
    assert user.last_text() == "Đề nghị đồng chí cho biết chức vụ của đồng chí Lê Thị Hương."
    await harness.send(user.text("Phó Chủ tịch"))
    assert user.last_text() == (
        "Đồng chí Lê Thị Hương công tác ở đơn vị nào? Nếu cùng đơn vị với đồng chí, xin chọn "
        "«Cùng đơn vị»; nếu khác, đề nghị gõ tên đơn vị."
    )
    assert buttons(user.last_message) == ["Cùng đơn vị: Hội LHPN quận Nam Từ Liêm", "Hủy"]
    await harness.send(user.tap("Cùng đơn vị: Hội LHPN quận Nam Từ Liêm"))
    assert user.last_text() == (
        "Đề nghị đồng chí cho biết số điện thoại của đồng chí Lê Thị Hương để Văn phòng liên hệ "
        "khi cần (không bắt buộc: chọn «Bỏ qua» nếu không cung cấp)."
    )
    assert buttons(user.last_message) == ["Bỏ qua", "Hủy"]
    assert (await status_of(harness, "DB040")).status == RsvpStatus.NO_ANSWER
    await harness.send(user.text("số máy bàn"))
    assert user.last_text() == (
        "«số máy bàn» không phải là số điện thoại. Đề nghị đồng chí gõ số điện thoại dạng "
        "0912 345 678 (hoặc +84 912 345 678), hoặc chọn «Bỏ qua»."
    )
    await harness.send(user.text("0912.345.678"))
    # Her own unit: not said again; the phone she typed is said back, to be checked.
    assert user.last_text().startswith(
        "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Lê Thị Hương, Phó Chủ tịch, "
        "điện thoại 0912 345 678. Kính đề nghị đồng chí chuyển giấy mời"
    )
    rsvp = await status_of(harness, "DB040")
    assert (
        rsvp.status, rsvp.substitute_name, rsvp.substitute_position, rsvp.substitute_unit,
        rsvp.substitute_phone,
    ) == (
        RsvpStatus.SUBSTITUTE, "Lê Thị Hương", "Phó Chủ tịch", "Hội LHPN quận Nam Từ Liêm",
        "+84912345678",
    )  # fmt: skip


async def test_a_delegate_naming_herself_as_her_substitute_is_refused_and_pointed_to_attend(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB040")  # Hồ Thị Bảo Ngọc
    await harness.send(user.tap("👤 Cử người dự thay"))
    # Her own name as a phone types it: the honorific, no diacritics, any case.
    await harness.send(user.text("đ/c HO THI bao ngoc"))
    assert user.last_text() == (
        "Người dự thay trùng họ tên với đồng chí nên chưa được ghi nhận. Nếu đồng chí tự đến "
        "dự, xin chọn «Tham dự»; nếu cử người khác, xin chọn lại «Cử người dự thay»."
    )
    assert buttons(user.last_message) == ["✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay"]
    assert (await status_of(harness, "DB040")).status == RsvpStatus.NO_ANSWER
    # The question ended: what she types next is not taken as a position.
    await harness.send(user.text("Chủ tịch"))
    assert (await status_of(harness, "DB040")).status == RsvpStatus.NO_ANSWER
    await harness.send(user.tap("✅ Tham dự"))
    assert (await status_of(harness, "DB040")).status == RsvpStatus.ATTENDING


async def test_a_substitute_who_has_her_own_invitation_is_not_recorded_and_the_choices_come_back(
    harness: BotHarness,
) -> None:
    """DB022 sends her deputy, DB023 on the same list (s36 F3): taken, she was counted twice
    and awaited twice at the desk. Without a phone, her name finds her: nothing is recorded,
    the chair is told she comes on her own invitation, the three choices under it."""
    user = await harness.open_invitation("DB022")  # Nguyễn Thị Minh Nguyệt
    await harness.send(user.tap("👤 Cử người dự thay"))
    await harness.send(user.text("Đ/c Trương Thị Bích Ngọc"))
    await harness.send(user.text("Phó Chủ tịch Hội LHPN thành phố"))
    await harness.send(user.tap("Cùng đơn vị: Hội LHPN thành phố Hà Nội"))
    await harness.send(user.tap("Bỏ qua"))
    assert user.last_text() == (
        "Đồng chí Trương Thị Bích Ngọc đã có giấy mời riêng (mã DB023) và dự hội nghị theo giấy "
        "mời đó, nên không cần cử làm người dự thay; chưa ghi nhận gì. Nếu đồng chí không thể "
        "đến dự, xin chọn «Không tham dự» (có thể nêu lý do); nếu cử người khác dự thay, xin "
        "chọn lại «Cử người dự thay»."
    )
    assert buttons(user.last_message) == ["✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay"]
    assert (await status_of(harness, "DB022")).status == RsvpStatus.NO_ANSWER
    await harness.send(user.text("0855 023 370"))  # the question ended: not taken as a phone
    assert (await status_of(harness, "DB022")).status == RsvpStatus.NO_ANSWER


async def test_a_substitute_s_name_typed_with_her_position_and_phone_is_asked_again_alone(
    harness: BotHarness,
) -> None:
    """All in one message, as people write in chat: it was stored as her name, and printed so
    on the sign sheet and her name card (s36 F2). A name has no digits, commas or lines: the
    name alone is asked again, and the question goes on as asked."""
    user = await harness.open_invitation("DB040")
    await harness.send(user.tap("👤 Cử người dự thay"))
    for typed in ("Lê Thị Hương\nPhó Chủ tịch Hội LHPN quận\n0912 345 678", "Đồng chí"):
        await harness.send(user.text(typed))
        shown = " ".join(typed.split())
        assert user.last_text() == (
            f"«{shown}» chưa phải là họ và tên người dự thay. Đề nghị đồng chí chỉ gõ họ và tên "
            "(ví dụ: Nguyễn Thị Lan); chức vụ, đơn vị và số điện thoại, bot sẽ hỏi ở các bước sau."
        )
        assert buttons(user.last_message) == ["Hủy"]
    await harness.send(user.text("Lê Thị Hương"))
    assert user.last_text() == "Đề nghị đồng chí cho biết chức vụ của đồng chí Lê Thị Hương."
    await harness.send(user.text("Phó Chủ tịch"))
    await harness.send(user.tap("Cùng đơn vị: Hội LHPN quận Nam Từ Liêm"))
    await harness.send(user.text("0912 345 678"))
    rsvp = await status_of(harness, "DB040")
    assert (rsvp.status, rsvp.substitute_name, rsvp.substitute_phone) == (
        RsvpStatus.SUBSTITUTE,
        "Lê Thị Hương",
        "+84912345678",
    )


async def test_typed_words_of_the_same_unit_choice_mean_the_delegate_s_own_unit(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB040")
    await harness.send(user.tap("👤 Cử người dự thay"))
    await harness.send(user.text("Lê Thị Hương"))
    await harness.send(user.text("Phó Chủ tịch"))
    await harness.send(user.text("Cùng đơn vị"))
    assert user.last_text().startswith(
        "Đề nghị đồng chí cho biết số điện thoại của đồng chí Lê Thị Hương"
    )
    await harness.send(user.tap("Bỏ qua"))
    rsvp = await status_of(harness, "DB040")
    assert (rsvp.status, rsvp.substitute_unit) == (
        RsvpStatus.SUBSTITUTE,
        "Hội LHPN quận Nam Từ Liêm",
    )


async def test_a_long_paste_for_the_substitute_s_phone_is_said_back_cut_to_40_characters(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB040")
    await harness.send(user.tap("👤 Cử người dự thay"))
    for step in ("Lê Thị Hương", "Phó Chủ tịch", "Thành ủy Hà Nội"):
        await harness.send(user.text(step))
    await harness.send(user.text("x" * 3000))
    assert user.last_text() == (
        f"«{'x' * 40}» không phải là số điện thoại. Đề nghị đồng chí gõ số điện thoại dạng "
        "0912 345 678 (hoặc +84 912 345 678), hoặc chọn «Bỏ qua»."
    )


async def test_a_second_tap_on_skip_or_same_unit_after_the_substitute_is_recorded_is_no_stale_alert(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB040")
    await harness.send(user.tap("👤 Cử người dự thay"))
    await harness.send(user.text("Lê Thị Hương"))
    await harness.send(user.text("Phó Chủ tịch"))
    unit_question = user.last_message
    await harness.send(user.tap("Cùng đơn vị: Hội LHPN quận Nam Từ Liêm", message=unit_question))
    phone_question = user.last_message
    await harness.send(user.tap("Bỏ qua", message=phone_question))
    for label, message in (
        ("Bỏ qua", phone_question),
        ("Cùng đơn vị: Hội LHPN quận Nam Từ Liêm", unit_question),
    ):
        await harness.send(user.tap(label, message=message))
        assert user.last_text().startswith(
            "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Lê Thị Hương, Phó Chủ tịch."
        )
        answered = harness.fake.calls_to("answerCallbackQuery")[-1].params
        assert "text" not in answered and "show_alert" not in answered
    assert await audit_count(harness, "rsvp.changed") == 1
    rsvp = await status_of(harness, "DB040")
    assert (rsvp.status, rsvp.substitute_unit) == (
        RsvpStatus.SUBSTITUTE,
        "Hội LHPN quận Nam Từ Liêm",
    )


async def test_a_substitute_from_another_unit_without_a_phone_is_said_with_her_unit(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB040")
    card = user.last_message
    name, position = "Lê Thị Hương", "Phó Chánh Văn phòng, phụ trách tổng hợp"
    await name_substitute(harness, user, name, position, unit="Thành ủy Hà Nội", card=card)
    assert user.last_text().startswith(
        "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Lê Thị Hương, Phó Chánh Văn phòng, "
        "phụ trách tổng hợp, Thành ủy Hà Nội. Kính đề nghị"
    )
    rsvp = await status_of(harness, "DB040")
    assert (rsvp.substitute_position, rsvp.substitute_unit, rsvp.substitute_phone) == (
        "Phó Chánh Văn phòng, phụ trách tổng hợp",
        "Thành ủy Hà Nội",
        None,
    )
    # The same substitute again, unit and all: nothing changed, one audit entry.
    # A toast says so.
    await name_substitute(harness, user, name, position, unit="Thành ủy Hà Nội", card=card)
    assert await audit_count(harness, "rsvp.changed") == 1
    # Another phone is a change, audited with the phone before and after.
    await name_substitute(
        harness, user, name, position, unit="Thành ủy Hà Nội", phone="0912 345 678", card=card
    )
    assert await audit_count(harness, "rsvp.changed") == 2
    async with harness.services.ctx.sessions() as session:
        entry = await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    assert (entry.before["substitute_unit"], entry.before["substitute_phone"]) == (
        "Thành ủy Hà Nội",
        None,
    )
    assert (entry.after["substitute_unit"], entry.after["substitute_phone"]) == (
        "Thành ủy Hà Nội",
        "+84912345678",
    )


async def test_cancelling_a_substitute_keeps_the_previous_answer(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB041")
    await harness.send(user.tap("✅ Tham dự"))
    await harness.send(user.tap("👤 Cử người dự thay"))
    await harness.send(user.tap("Hủy"))
    assert user.last_text() == "Đã hủy thao tác. Nội dung đồng chí đã xác nhận: Tham dự."
    await harness.send(user.text("Nguyễn Văn A"))  # no longer awaited: a hint, not an answer
    assert user.last_text().startswith("Đề nghị đồng chí trả lời giấy mời bằng các lựa chọn")
    assert (await status_of(harness, "DB041")).status == RsvpStatus.ATTENDING


async def test_cancelling_a_decline_under_its_reasons_question_gives_the_answer_back(
    harness: BotHarness,
) -> None:
    # The decline counts from the tap; «Hủy» under the question used to keep it («Đã hủy thao
    # tác. Nội dung đồng chí đã xác nhận: Không tham dự.»), for one who tapped it by mistake.
    user = await harness.open_invitation("DB041")
    await harness.send(user.tap("✅ Tham dự"))
    attended = await status_of(harness, "DB041")
    await harness.send(user.tap("❌ Không tham dự"))
    await harness.send(user.tap("Hủy"))
    assert user.last_text() == "Đã hủy thao tác. Nội dung đồng chí đã xác nhận: Tham dự."
    back = await status_of(harness, "DB041")
    assert (back.status, back.answered_at) == (RsvpStatus.ATTENDING, attended.answered_at)
    assert await audit_count(harness, "rsvp.changed") == 3  # attend, decline, and back
    # One who had not answered is back to no answer; a decline replacing a decline is kept.
    other = await harness.open_invitation("DB042")
    card = other.last_message
    await harness.send(other.tap("❌ Không tham dự", message=card))
    await harness.send(other.tap("Hủy"))
    assert (await status_of(harness, "DB042")).status == RsvpStatus.NO_ANSWER
    await harness.send(other.tap("❌ Không tham dự", message=card))
    await harness.send(other.text("Đi công tác"))
    await harness.send(other.tap("❌ Không tham dự", message=card))
    await harness.send(other.tap("Hủy"))
    kept = await status_of(harness, "DB042")
    assert (kept.status, kept.reason) == (RsvpStatus.DECLINED, "Đi công tác")


async def test_cancelling_a_decline_after_a_second_tap_or_a_newer_answer_elsewhere(
    harness: BotHarness,
) -> None:
    # A second tap on «Không tham dự» changes nothing and keeps what «Hủy» gives back...
    user = await harness.open_invitation("DB043")
    card = user.last_message
    await harness.send(user.tap("✅ Tham dự", message=card))
    await harness.send(user.tap("❌ Không tham dự", message=card))
    await harness.send(user.tap("❌ Không tham dự", message=card))
    await harness.send(user.tap("Hủy"))
    assert (await status_of(harness, "DB043")).status == RsvpStatus.ATTENDING
    # ...but an answer given since, here by phone to the office, is never undone by it.
    await harness.send(user.tap("❌ Không tham dự", message=card))
    person = await status_of(harness, "DB043")
    await harness.services.rsvp.record_by_phone(
        harness.services.access.local_operator(),
        person.delegate_id,
        RsvpAnswer(RsvpStatus.DECLINED, reason="Ốm"),
    )
    await harness.send(user.tap("Hủy"))
    after = await status_of(harness, "DB043")
    assert (after.status, after.reason) == (RsvpStatus.DECLINED, "Ốm")


async def test_changing_an_answer_mentions_the_previous_one(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB042")
    await harness.send(user.tap("✅ Tham dự"))
    await harness.send(user.tap("❌ Không tham dự"))
    assert "(Trước đó đồng chí đã xác nhận: Tham dự.)" in user.last_text()
    await harness.send(user.tap("Không nêu lý do"))
    assert await audit_count(harness, "rsvp.changed") == 2


async def test_too_long_reason_is_refused_and_still_awaited(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB043")
    await harness.send(user.tap("❌ Không tham dự"))
    await harness.send(user.text("x" * 501))
    assert (
        user.last_text()
        == "Nội dung quá dài (tối đa 500 ký tự). Đề nghị đồng chí nhập ngắn gọn hơn."
    )
    await harness.send(user.text("Đi công tác"))
    assert (await status_of(harness, "DB043")).reason == "Đi công tác"


async def test_answers_are_final_after_the_deadline(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB050")
    await harness.send(user.tap("✅ Tham dự"))
    card = user.messages[-2]
    harness.clock.set(harness.services.config.meeting.rsvp_deadline_at + timedelta(seconds=1))
    await harness.send(user.tap("❌ Không tham dự", message=card))
    assert user.last_text().startswith(
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; nội dung đồng chí đã "
        "xác nhận được giữ nguyên. Nội dung đồng chí đã xác nhận: Tham dự."
    )
    assert "đồng chí Trần Thu Hà" in user.last_text()
    assert (await status_of(harness, "DB050")).status == RsvpStatus.ATTENDING
    await harness.send(user.command("/trangthai"))
    assert "Thời hạn xác nhận đã kết thúc" in user.last_text()
    assert buttons(user.last_message) == []


async def test_answer_given_exactly_at_the_deadline_counts(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB051")
    harness.clock.set(harness.services.config.meeting.rsvp_deadline_at)
    await harness.send(user.tap("✅ Tham dự"))
    assert (await status_of(harness, "DB051")).status == RsvpStatus.ATTENDING


async def test_status_command_shows_the_current_answer(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB052")
    await harness.send(user.tap("❌ Không tham dự"))
    await harness.send(user.text("Ốm"))
    await harness.send(user.command("/trangthai"))
    assert "Nội dung đồng chí đã xác nhận: Không tham dự (lý do: Ốm)." in user.last_text()
    stranger = harness.new_user()
    await harness.send(stranger.command("/trangthai"))
    assert stranger.last_text().startswith("Tài khoản này chưa được liên kết")


# --- stray input ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sticker", "photo", "text", "unknown_command"])
async def test_unexpected_input_gets_a_hint_never_silence(harness: BotHarness, kind: str) -> None:
    user = await harness.open_invitation("DB070")  # holds no task (a chair would: /nhiemvu)
    update = {
        "sticker": user.sticker,
        "photo": user.photo,
        "text": lambda: user.text("tôi đồng ý"),
        "unknown_command": lambda: user.command("/xyz"),
    }[kind]()
    await harness.send(update)
    assert user.last_text() == (
        "Đề nghị đồng chí trả lời bằng các lựa chọn dưới giấy mời; gõ /trangthai để xem lại "
        "giấy mời, /help để xem hướng dẫn. Bot không chuyển tin nhắn tự do tới Văn phòng; cần "
        f"trao đổi, xin liên hệ {harness.services.config.office.contact}."
    )


async def test_stray_text_is_answered_for_who_writes_it_contact_office_or_past_the_deadline(
    harness: BotHarness,
) -> None:
    # Everyone got «trả lời bằng các lựa chọn dưới giấy mời» — a contact has no invitation, the
    # office has its commands, and past the deadline there are no choices left.
    from tests.tasks_support import with_contacts

    contact = harness.services.config.office.contact
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.text("Báo cáo đã gửi qua email rồi ạ"))
    assert owner.last_text() == (
        "Bot nhận báo cáo nhiệm vụ qua các lựa chọn: đề nghị đồng chí gõ /nhiemvu để xem nhiệm vụ"
        " của mình và báo cáo. Bot không chuyển tin nhắn tự do tới Văn phòng; cần trao đổi, xin"
        f" liên hệ {contact}."
    )
    admin = harness.admin()
    await harness.send(admin.text("thong ke"))
    assert admin.last_text().startswith("Bot không xử lý tin nhắn tự do. Gõ /help")
    chair = await harness.open_invitation("DB032")  # invited, and one of VI.2's contacts
    await harness.send(chair.text("Em đã mời Bí thư rồi ạ"))
    assert "báo cáo nhiệm vụ chuẩn bị bằng /nhiemvu" in chair.last_text()
    late = await harness.open_invitation("DB010")
    await harness.send(late.tap("✅ Tham dự"))
    silent = await harness.open_invitation("DB011")
    harness.clock.set(harness.services.config.meeting.rsvp_deadline_at + timedelta(minutes=1))
    await harness.send(late.text("Tôi sẽ đến muộn khoảng 30 phút"))
    assert late.last_text() == (
        "Thời hạn xác nhận tham dự đã kết thúc; nội dung đồng chí đã xác nhận được giữ nguyên (gõ"
        " /trangthai để xem lại). Bot không chuyển tin nhắn tự do tới Văn phòng; cần trao đổi hoặc"
        f" thay đổi, xin liên hệ {contact}."
    )
    await harness.send(silent.text("Tôi xin phép vắng"))
    # Past the deadline one who never answered may still come (the desk lets her in), and one
    # who declined too: each is told so, with the code to show, as the card says it.
    assert silent.last_text().startswith(
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; đồng chí chưa trả lời "
        "giấy mời. Đồng chí vẫn có thể đến dự hội nghị: khi đến, kính đề nghị đồng chí xuất trình"
    )
    assert silent.last_text().endswith("\nBot không chuyển tin nhắn tự do tới Văn phòng.")


async def test_on_telegram_one_who_declined_writing_past_the_deadline_is_told_she_may_still_come(
    harness: BotHarness,
) -> None:
    contact = harness.services.config.office.contact
    declined = await harness.open_invitation("DB010")
    await harness.send(declined.tap("❌ Không tham dự"))
    await harness.send(declined.tap("Không nêu lý do"))
    harness.clock.set(harness.services.config.meeting.rsvp_deadline_at + timedelta(minutes=1))
    found = {link.code: link for link in await harness.services.invitations.links()}
    code = format_link_code(found["DB010"].link_code)
    await harness.send(declined.text("Tôi thu xếp được rồi, vẫn đến dự được không ạ?"))
    assert declined.last_text() == (
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; đồng chí đã báo không "
        "tham dự. Nếu thu xếp được để đến dự, kính đề nghị đồng chí xuất trình mã đón tiếp đại "
        f"biểu {code} (hoặc giấy mời) tại bàn đón tiếp, và báo để Văn phòng được biết: {contact}."
        "\nBot không chuyển tin nhắn tự do tới Văn phòng."
    )


async def test_stranger_sending_a_sticker_is_told_how_to_start(harness: BotHarness) -> None:
    user = harness.new_user()
    await harness.send(user.sticker())
    assert user.last_text().startswith("Tài khoản này chưa được liên kết")


async def test_forged_callback_data_changes_nothing(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB061")
    for data in ("rsvp:attend_everyone", "delegate:1:attend", "rsvp:", "x" * 64):
        await harness.send(user.tap_data(data))
    calls = harness.fake.calls_to("answerCallbackQuery")
    assert [c.params["text"] for c in calls] == [
        "Lựa chọn này không còn hiệu lực. Đề nghị đồng chí gõ /trangthai để mở lại giấy mời."
    ] * 4
    assert await audit_count(harness, "rsvp.changed") == 0


async def test_unlinked_account_tapping_an_old_button_is_told_to_link(harness: BotHarness) -> None:
    user = harness.new_user()
    await harness.send(user.tap_data("rsvp:attend"))
    assert user.last_text().startswith("Tài khoản này chưa được liên kết")


async def test_edited_messages_are_ignored(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB062")
    earlier = user.text("xin chào")
    await harness.send(earlier)
    await harness.send(user.tap("❌ Không tham dự"))
    prompt_count = len(user.messages)
    await harness.send(user.edited(earlier["message"], "Lý do sửa"))
    assert len(user.messages) == prompt_count
    assert (await status_of(harness, "DB062")).reason is None


async def test_names_with_html_are_escaped_everywhere(harness: BotHarness) -> None:
    row = DelegateRow(
        row=2,
        code="DB099",
        full_name="<b>Ngô & Co</b>",
        position="Phóng viên <i>",
        organization="Báo Pháp luật & Xã hội",
        group_key="bao_chi",
        phone=None,
        rank=99,
    )
    await harness.services.delegates.import_rows([row], actor="test")
    links = await harness.services.invitations.links()
    harness.tokens.update({link.code: link.token for link in links})
    user = await harness.open_invitation("DB099")
    assert (
        "Kính gửi đồng chí <b>Ngô & Co</b>\nPhóng viên <i>, Báo Pháp luật & Xã hội"
        in user.last_text()
    )
    await harness.send(user.tap("👤 Cử người dự thay"))
    # A name holds no slash (a position typed after it does): the tag is left open.
    await harness.send(user.text("<script>alert(x)"))
    await harness.send(user.text("A & B <c>"))
    assert buttons(user.last_message) == ["Cùng đơn vị: Báo Pháp luật & Xã hội", "Hủy"]
    await harness.send(user.text("C & D <e>"))
    await harness.send(user.tap("Bỏ qua"))
    assert "<script>alert(x), A & B <c>, C & D <e>" in user.last_text()
    await harness.send(harness.admin().command("/chuatraloi"))
    harness.fake.assert_no_violations()


# --- office ---------------------------------------------------------------------------------


async def test_office_commands_are_refused_to_everyone_but_admins(harness: BotHarness) -> None:
    delegate = await harness.open_invitation("DB070")
    stranger = harness.new_user()
    for user in (delegate, stranger):
        for command in ("/thongke", "/chuatraloi"):
            await harness.send(user.command(command))
            assert user.last_text() == (
                "Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng phụ trách hội nghị."
            )


async def test_admin_counts_in_private_and_in_the_office_group(harness: BotHarness) -> None:
    admin = harness.admin()
    await harness.send(admin.command("/thongke"))
    assert "Tổng số đại biểu: 80 (đã liên kết tài khoản: 0)" in admin.last_text()
    group = harness.fake.group(-1001000000001, "Văn phòng")
    await harness.send(group.command(admin, "/thongke"))
    assert "Dự kiến có mặt: 0/80 chỗ" in group.last_text()


async def test_help_lists_office_commands_only_for_admins(harness: BotHarness) -> None:
    delegate = await harness.open_invitation("DB071")
    await harness.send(delegate.command("/help"))
    assert "/thongke" not in delegate.last_text()
    admin = harness.admin()
    await harness.send(admin.command("/help"))
    assert "/thongke — thống kê xác nhận" in admin.last_text()


async def test_the_office_s_help_says_thongke_opens_with_the_hall_on_the_meeting_day(
    harness: BotHarness,
) -> None:
    """In the hall the chair asks «bao nhiêu đồng chí đã đến?»: /help tells the office where
    that figure is (/thongke on the meeting day), not only the answers it counts."""
    admin = harness.admin()
    await harness.send(admin.command("/help"))
    assert (
        "/thongke — thống kê xác nhận theo nội dung trả lời và theo nhóm, so với sức chứa hội"
        " trường; từ ngày họp, mở đầu bằng số có mặt trong hội trường (đại biểu đã điểm danh,"
        " tổng số người trong hội trường, đại biểu dự kiến chưa đến); sau khi hội nghị kết thúc,"
        " cả những ngày sau đó: số có mặt trong ngày\n"
    ) in admin.last_text()


async def test_id_command_tells_user_and_chat_ids(harness: BotHarness) -> None:
    admin = harness.admin()
    await harness.send(admin.command("/id"))
    assert admin.last_text() == (
        f"Mã số Telegram của đồng chí: {ADMIN_ID}\nMã cuộc trò chuyện này: {ADMIN_ID}"
    )


async def test_delegate_chatter_in_a_group_is_deliberately_ignored(harness: BotHarness) -> None:
    group = harness.fake.group(-1001000000001, "Văn phòng")
    member = harness.new_user()
    await harness.send(group.text(member, "xin chào"))
    await harness.send(group.command(member, "/start"))
    assert group.messages == []


async def test_unexpected_error_apologises_and_notes_the_office(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(harness.services.reports, "counts", broken)
    admin = harness.admin()
    await harness.send(admin.command("/thongke"))
    assert admin.last_text().startswith("Xin lỗi đồng chí, hệ thống gặp sự cố khi xử lý yêu cầu.")
    office = harness.fake.messages_to(-1001000000001)
    assert office[-1]["text"].startswith("⚠️ Bot gặp lỗi khi xử lý update")
    assert "RuntimeError" in office[-1]["text"]
    assert "database on fire" not in office[-1]["text"]


async def test_a_flood_limit_outlasting_the_retries_is_logged_not_apologised_for(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    admin = harness.admin()
    limiter = harness.app.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter)
    limiter.use_time(harness.time.monotonic, harness.time.sleep)  # waits in virtual time
    # The bot's limiter never gives a reply up on a 429 (issue 17); where a bound is set, a
    # reply that outlasts it is logged, not apologised for.
    limiter.flood_retries = 3
    # Four 429s in a row: the first try and the limiter's three retries.
    harness.fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests", retry_after=5, times=4
    )
    await harness.send(admin.command("/thongke"))
    assert admin.messages == []
    assert harness.fake.messages_to(-1001000000001) == []  # no note to the office either
    assert "telegram error while handling update" in caplog.text
    assert "RetryAfter" in caplog.text


# --- the real run loop ------------------------------------------------------------------------


async def test_polling_bot_publishes_its_menu_and_answers(harness: BotHarness) -> None:
    stop = asyncio.Event()
    await harness.app.shutdown()  # serve() initialises the application itself
    running = asyncio.create_task(serve(harness.app, stop))
    user = harness.new_user()
    harness.fake.enqueue(user.command(f"/start {harness.tokens['DB001']}"))
    await harness.fake.wait_until(lambda: len(user.messages) >= 2)
    stop.set()
    await running
    assert "Kính gửi đồng chí Phạm Thị Thanh Mai" in user.last_text()
    menus = {
        scope: [c["command"] for c in commands]
        for (scope, _), commands in harness.fake.commands.items()
    }
    assert list(DELEGATE_COMMANDS) in menus.values()
    assert [*DELEGATE_COMMANDS, *OFFICE_COMMANDS] in menus.values()
    await harness.app.initialize()  # the fixture shuts it down again


# --- found in review ----------------------------------------------------------------------------


async def test_redelivered_substitute_name_is_not_taken_as_the_position(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB044")
    await harness.send(user.tap("👤 Cử người dự thay"))
    name = user.text("Nguyễn Thị Lan")
    await harness.send(name)
    await harness.send(name)  # Telegram delivers it again after a crash
    assert user.last_text() == "Đề nghị đồng chí cho biết chức vụ của đồng chí Nguyễn Thị Lan."
    await harness.send(user.text("Phó Chủ tịch"))
    await harness.send(user.tap("Cùng đơn vị: Hội LHPN huyện Ba Vì"))
    await harness.send(user.tap("Bỏ qua"))
    rsvp = await status_of(harness, "DB044")
    assert (rsvp.substitute_name, rsvp.substitute_position) == ("Nguyễn Thị Lan", "Phó Chủ tịch")


async def test_typing_the_same_reason_again_says_nothing_changed(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB045")
    card = user.last_message
    await harness.send(user.tap("❌ Không tham dự", message=card))
    await harness.send(user.text("Bận"))
    await harness.send(user.tap("❌ Không tham dự", message=card))
    await harness.send(user.text("Bận"))
    assert user.last_text() == "Nội dung này đã được ghi nhận trước đó; không có thay đổi."
    assert await audit_count(harness, "rsvp.changed") == 2


async def test_cancel_with_nothing_pending_says_so(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB046")
    await harness.send(user.tap("👤 Cử người dự thay"))
    prompt = user.last_message
    await harness.send(user.tap("Hủy", message=prompt))
    await harness.send(user.tap("Hủy", message=prompt))
    assert user.last_text() == "Không có thao tác nào đang chờ để hủy."


async def test_foreign_number_shared_without_plus_links(harness: BotHarness) -> None:
    async with harness.services.ctx.sessions() as session, session.begin():
        delegate = await session.scalar(select(Delegate).where(Delegate.code == "DB075"))
        assert delegate is not None
        delegate.phone = "+4915112345678"
    user = harness.new_user()
    await harness.send(user.share_contact("4915112345678"))
    assert "Kính gửi đồng chí" in user.last_text()


async def test_a_very_long_programme_is_split_and_keeps_the_buttons_on_the_last_part(
    harness: BotHarness,
) -> None:
    config = harness.services.config
    item = config.agenda[0]
    long_agenda = [
        item.model_copy(update={"title": f"{n:02d} " + "Nội dung " * 50}) for n in range(20)
    ]
    object.__setattr__(
        harness.services.ctx, "config", config.model_copy(update={"agenda": long_agenda})
    )
    user = await harness.open_invitation("DB047")
    card_parts = user.messages[1:]
    assert len(card_parts) >= 3
    assert all(len(m["text"]) <= 4096 for m in card_parts)
    assert buttons(card_parts[-1]) == ["✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay"]
    assert all(buttons(m) == [] for m in card_parts[:-1])


def test_an_overlong_line_is_cut_at_a_space_and_never_inside_an_entity() -> None:
    from bot.texts.splitting import split_lines

    line = ("R&amp;D " * 1000).strip()
    parts = split_lines([line], 4096)
    assert all(len(part) <= 4096 for part in parts)
    assert all(not part.endswith("&") and "&amp" not in part.replace("&amp;", "") for part in parts)
    assert " ".join(parts) == line
