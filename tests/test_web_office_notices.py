"""Thông báo on the dashboard: the chat's broadcast use cases behind a page — the preview with
the exact count and those to phone, send now and read the report, resend to those it failed,
schedule then cancel; every form signed for the session, every step audited as the staff member."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.domain.clock import ManualClock
from bot.domain.outbound import BROADCAST_WINDOW, MessageKind
from bot.services import Services
from storage.models import AuditEntry, OutboundMessage
from tests.conftest import local
from tests.harness import OFFICE_CHAT, BotHarness, add_notice_due
from tests.office_support import (
    Desk,
    desk_for,
    hidden,
    make_staff,
    signed_in_desk,
    text_of,
)
from tests.plan_support import EXAMPLE_CONTACTS, import_example
from tests.test_outbox import deliveries, linked_answers, message_status, texts
from tests.web_support import web_for


@pytest.fixture
async def desk(harness: BotHarness) -> AsyncIterator[Desk]:
    async with signed_in_desk(harness.services) as desk:
        yield desk


async def preview(desk: Desk, body: str, audience: str) -> str:
    """Write ``body`` for ``audience`` on the notices page and press «Xem trước»: the preview."""
    page = await desk.client.get("/office/notices")
    fields = hidden(page.text, "form-notice")
    shown = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": body, "audience": audience}
    )
    assert shown.status_code == 200, shown.text
    return shown.text


async def press_send(desk: Desk, page: str, **data: str) -> httpx.Response:
    """Press «Xác nhận gửi» on a preview: the answer as it comes."""
    action = re.search(r'action="(/office/notices/\d+/send)"', page)
    assert action is not None
    return await desk.client.post(action.group(1), data={**hidden(page, "form-send"), **data})


async def drop(desk: Desk, page: str) -> None:
    """Press «Bỏ thông báo này» on a preview."""
    action = re.search(r'action="(/office/notices/\d+/cancel)"', page)
    assert action is not None
    dropped = await desk.client.post(action.group(1), data=hidden(page, "form-drop"))
    assert dropped.status_code == 303


async def confirm(desk: Desk, page: str, **data: str) -> str:
    """Press «Xác nhận gửi» on a preview; the notices page it leads to."""
    sent = await press_send(desk, page, **data)
    assert sent.status_code == 303
    return (await desk.client.get(sent.headers["location"])).text


async def audits(harness: BotHarness, prefix: str) -> list[tuple[str, str]]:
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return [(actor, action) for actor, action in rows.all()]


async def test_every_invitee_preview_counts_as_the_chat_and_names_those_to_phone(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)  # five linked, 75 never linked
    page = await preview(desk, "Họp trù bị lúc 14:00 & 15:00.", "everyone")
    assert text_of(page, "notice-count") == (
        "Đối tượng: Mọi khách mời (người chưa liên kết được liệt kê để gọi điện)\n"
        "Sẽ gửi tới: 5 người."
    )
    assert "Họp trù bị lúc 14:00 &amp; 15:00." in text_of(page, "notice-shown")
    assert text_of(page, "to-call-title") == "Không nhận được qua tin nhắn (75)"
    assert len(re.findall(r'<li><a href="/office/delegates/', page)) == 10
    assert text_of(page, "to-call-more").startswith("và 65 người khác")
    # Those on no chat read it on their personal page once they open it: said, and the ones to
    # phone are still named for whoever must know at once.
    assert text_of(page, "to-call-page") == (
        "Các đồng chí này sẽ thấy thông báo khi truy cập trang cá nhân; đề nghị gọi điện cho "
        "những đồng chí cần biết ngay."
    )


async def test_the_preview_says_those_who_blocked_the_bot_will_see_it_on_their_page(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    await harness.send(harness.fake.block(harness.user_for("DB001").id))
    page = await preview(desk, "Họp trù bị lúc 14:00.", "attending")
    assert text_of(page, "notice-blocked") == (
        "Không gửi được qua tin nhắn tới 1 người đã chặn bot; các đồng chí này sẽ thấy thông "
        "báo khi truy cập trang cá nhân."
    )


async def test_a_notice_to_an_audience_no_chat_reaches_is_sent_and_read_on_a_personal_page(
    desk: Desk, harness: BotHarness
) -> None:
    page = await preview(desk, "Họp trù bị lúc 14:00.", "no_answer")  # nobody linked yet
    # Those who will read it on their page first, no «Sẽ gửi tới: 0 người».
    assert text_of(page, "notice-count") == (
        "Đối tượng: Đại biểu chưa trả lời\nSẽ hiện trên trang cá nhân của 80 người: các đồng chí"
        " này sẽ thấy thông báo khi truy cập trang cá nhân (không đồng chí nào nhận qua tin nhắn)."
    )
    assert 'id="notice-nobody"' not in page and 'id="form-send"' in page
    listed = await confirm(desk, page, how="now")
    assert text_of(listed, "flash") == (
        "Đã gửi thông báo số 1 lên trang cá nhân: 80 đồng chí sẽ thấy thông báo khi truy cập"
        " trang cá nhân (không đồng chí nào nhận qua tin nhắn). Kết quả gửi hiện ở bảng dưới đây."
    )
    # Before the outbox has taken it, it is being sent: never listed as scheduled, to cancel.
    assert 'id="scheduled-none"' in listed and 'id="scheduled-1"' not in listed
    assert 'id="form-cancel-1"' not in listed
    assert text_of(listed, "report-1-sending") == (
        "Đang gửi: bot đang xếp thông báo vào hàng gửi; đề nghị đồng chí tải lại trang sau ít "
        "giây để xem kết quả."
    )
    await harness.tick()
    assert await message_status(harness, MessageKind.BROADCAST) == ["done"]
    web = await web_for(harness.services)
    try:
        mine = (await web.open("DB006")).text
    finally:
        await web.client.aclose()
    assert '<p class="text" id="notice-1-text">Họp trù bị lúc 14:00.</p>' in mine


async def test_an_audience_with_nobody_in_it_still_cannot_be_sent_to(desk: Desk) -> None:
    page = await preview(desk, "Họp trù bị lúc 14:00.", "declined")
    assert text_of(page, "notice-nobody") == (
        "Không có ai trong đối tượng này nhận được thông báo qua tin nhắn của bot. Đề nghị "
        "chọn đối tượng khác."
    )
    assert 'id="form-send"' not in page


@pytest.fixture
async def early_desk(services: Services) -> AsyncIterator[Desk]:
    """NV01 of the office signed in on the dashboard before any delegate list: only the task
    contacts' file is in (she among them), no invitee yet."""
    await import_example(services, EXAMPLE_CONTACTS)
    await make_staff(services, "NV01")
    desk = await desk_for(services)
    await desk.sign_in("NV01")
    yield desk
    await desk.client.aclose()


async def test_before_any_delegate_list_a_notice_is_refused_saying_nobody_would_get_it(
    services: Services, early_desk: Desk
) -> None:
    """Only the task contacts' file is in (a staff member among them), no invitee yet: the
    preview says plainly there is no list and nobody would receive the notice, and offers no
    way to send it; a send posted all the same (a form kept from before) is refused and queues
    nothing. The text written is kept: once the list is in, «Sửa nội dung» brings it back."""
    page = await preview(early_desk, "Họp trù bị lúc 14:00.", "everyone")
    assert text_of(page, "notice-no-list") == (
        "Chưa nhập danh sách đại biểu nên thông báo này chưa có người nhận (0 người). Bot"
        " không gửi, không hẹn giờ thông báo khi chưa có danh sách. Đề nghị đồng chí nhập"
        " danh sách ở mục «Nhập danh sách», rồi mở lại mục «Thông báo» và chọn «Tiếp tục"
        " bản soạn dở» (nội dung đang soạn được giữ lại). Nhập danh sách"
    )
    assert 'id="form-send"' not in page and 'id="notice-nobody"' not in page
    found = re.search(r'action="/office/notices/(\d+)/cancel"', page)
    assert found is not None
    draft_id = found.group(1)
    for how in ("now", "later"):
        sent = await early_desk.client.post(
            f"/office/notices/{draft_id}/send",
            data={**hidden(page, "form-drop"), "how": how, "when": "08:00 27/5"},
        )
        assert sent.status_code == 303
        listed = (await early_desk.client.get(sent.headers["location"])).text
        assert text_of(listed, "flash").startswith("Chưa nhập danh sách đại biểu")
    async with services.ctx.sessions() as session:
        statuses = await session.scalars(
            select(OutboundMessage.status).where(OutboundMessage.kind == MessageKind.BROADCAST)
        )
        assert list(statuses) == ["draft"]
    await import_example(services)
    again = (await early_desk.client.get(f"/office/notices?sua={draft_id}")).text
    assert "Họp trù bị lúc 14:00.</textarea>" in again


async def test_the_notices_page_offers_back_a_draft_written_before_the_list_once_it_is_in(
    services: Services, early_desk: Desk
) -> None:
    """A notice previewed before any list, then the list imported and «Thông báo» opened from
    the menu: the page names the unfinished draft at the top with «Tiếp tục bản soạn dở», which
    opens it with its text and audience (the preview she left was the only way back, and she
    re-typed it). The form itself stays empty: a new notice is still asked about."""
    await preview(early_desk, "Họp trù bị lúc 14:00.", "linked")
    await import_example(services)
    page = (await early_desk.client.get("/office/notices")).text
    assert text_of(page, "notice-draft-said") == (
        "Đồng chí đang có một thông báo soạn dở, chưa gửi: «Họp trù bị lúc 14:00.». Đề nghị"
        " chọn «Tiếp tục bản soạn dở» để mở lại thông báo đó (nội dung và đối tượng đã chọn"
        " vẫn còn nguyên). Nếu soạn thông báo khác ở khung dưới đây, khi bấm «Xem trước» trang"
        " sẽ hỏi lại trước khi thay bản soạn dở."
    )
    assert "></textarea>" in page and 'name="draft"' not in page
    assert 'id="notice-draft-replace"' not in page
    keep = re.search(r'id="notice-draft-keep" href="([^"]*)"', page)
    assert keep is not None
    kept = (await early_desk.client.get(html.unescape(keep.group(1)))).text
    assert "Họp trù bị lúc 14:00.</textarea>" in kept
    assert re.search(r'name="audience" value="linked" checked', kept)
    assert 'id="notice-draft-said"' not in kept
    shown = await early_desk.client.post(
        "/office/notices/preview",
        data={
            **hidden(kept, "form-notice"),
            "body": "Họp trù bị lúc 14:00.",
            "audience": "everyone",
        },
    )
    assert 'id="form-send"' in shown.text
    # Sent or dropped, nothing is left to offer back.
    await drop(early_desk, shown.text)
    assert 'id="notice-draft-said"' not in (await early_desk.client.get("/office/notices")).text


async def notice_statuses(harness: BotHarness) -> list[tuple[str, str | None]]:
    """Each notice row's status and text, oldest first."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(OutboundMessage.status, OutboundMessage.body)
            .where(OutboundMessage.kind == MessageKind.BROADCAST)
            .order_by(OutboundMessage.id)
        )
        return [(status, body) for status, body in rows.all()]


async def test_previewing_a_new_notice_asks_before_replacing_the_clerk_s_unfinished_one(
    desk: Desk, harness: BotHarness
) -> None:
    """A notice previewed and not sent, then a new one written on the page: «Xem trước» does not
    drop the first unasked (it did). The page says so, keeps the new text in the form, and
    offers going back to the first; «Xem trước» again replaces it. Editing the draft itself
    («Sửa nội dung») previews it again without asking."""
    await linked_answers(harness)
    await preview(desk, "Họp trù bị lúc 14:00.", "linked")
    page = await desk.client.get("/office/notices")
    asked = await desk.client.post(
        "/office/notices/preview",
        data={
            **hidden(page.text, "form-notice"),
            "body": "Đổi phòng họp.",
            "audience": "present",
        },
    )
    assert asked.status_code == 200 and 'id="form-send"' not in asked.text
    assert text_of(asked.text, "notice-draft-said") == (
        "Đồng chí đang có một thông báo soạn dở, chưa gửi: «Họp trù bị lúc 14:00.». Thông báo đó"
        " chưa bị bỏ. Bấm «Xem trước» lần nữa để xem trước nội dung dưới đây thay cho bản soạn"
        " dở; hoặc chọn «Tiếp tục bản soạn dở» để quay lại bản đó."
    )
    assert "Đổi phòng họp.</textarea>" in asked.text
    assert re.search(r'name="audience" value="present" checked', asked.text)
    assert await notice_statuses(harness) == [("draft", "Họp trù bị lúc 14:00.")]
    keep = re.search(r'id="notice-draft-keep" href="([^"]*)"', asked.text)
    assert keep is not None
    kept = (await desk.client.get(html.unescape(keep.group(1)))).text
    assert "Họp trù bị lúc 14:00.</textarea>" in kept
    # Pressed again: the new notice's preview, in place of the draft.
    again = await desk.client.post(
        "/office/notices/preview",
        data={
            **hidden(asked.text, "form-notice"),
            "body": "Đổi phòng họp.",
            "audience": "present",
        },
    )
    assert 'id="form-send"' in again.text and 'id="notice-draft-said"' not in again.text
    assert await notice_statuses(harness) == [
        ("cancelled", "Họp trù bị lúc 14:00."), ("draft", "Đổi phòng họp."),
    ]  # fmt: skip
    # Its own «Sửa nội dung»: the form holds it, and previews it again unasked.
    edit = re.search(r'href="([^"]*)" id="notice-edit"', again.text)
    assert edit is not None
    editing = (await desk.client.get(html.unescape(edit.group(1)))).text
    shown = await desk.client.post(
        "/office/notices/preview",
        data={**hidden(editing, "form-notice"), "body": "Đổi phòng họp 201.", "audience": "linked"},
    )
    assert 'id="form-send"' in shown.text and 'id="notice-draft-said"' not in shown.text


async def test_a_notice_sent_from_the_page_reaches_its_audience_and_shows_its_report(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Họp trù bị lúc 14:00.", "present")
    assert "Sẽ gửi tới: 3 người." in text_of(page, "notice-count")
    listed = await confirm(desk, page, how="now")
    assert text_of(listed, "flash").startswith(
        "Đã xếp thông báo số 1 vào hàng gửi qua tin nhắn tới 3 người."
    )
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 3}
    listed = (await desk.client.get("/office/notices")).text
    assert text_of(listed, "report-1-sent") == "3"
    assert text_of(listed, "report-1-failed") == "0"
    assert 'id="form-resend-1"' not in listed  # nothing failed: nothing to resend
    # Audited as the staff member who signed in, as the chat audits its office actor.
    (signed_in,) = await audits(harness, "staff.signed_in")
    assert await audits(harness, "broadcast.") == [(signed_in[0], "broadcast.queued")]
    # The log says to whom in words, not the audience's key.
    log = (await desk.client.get("/office/log?action=broadcast.queued")).text
    assert "Người nhận: Đại biểu đã xác nhận tham dự (kể cả cử người dự thay)" in re.sub(
        r"<[^>]+>", " ", log
    )
    assert "audience" not in re.sub(r"<[^>]+>", " ", log)


async def test_a_failed_copy_is_resent_from_the_report(desk: Desk, harness: BotHarness) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Thông báo quan trọng.", "linked")
    await confirm(desk, page, how="now")
    harness.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: chat is being migrated"
    )
    await harness.tick()
    listed = (await desk.client.get("/office/notices")).text
    assert text_of(listed, "report-1-sent") == "4"
    assert text_of(listed, "report-1-failed") == "1"
    resent = await desk.post("notices/1/resend", "form-resend-1", {}, page="notices")
    assert text_of(resent.text, "flash").startswith("Đã xếp gửi lại thông báo số 1 cho 1 người.")
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 5}
    assert [action for _, action in await audits(harness, "broadcast.")] == [
        "broadcast.queued",
        "broadcast.resent",
    ]


async def test_the_resend_button_names_those_with_no_copy_and_leaves_those_who_may_have_one(
    desk: Desk, harness: BotHarness
) -> None:
    """«Gửi lại cho người bị lỗi» resent every failed copy, the one that may have arrived (two
    sends with no answer) too. Now the button counts and resends those with no copy, and the
    row says how many may have one."""
    await linked_answers(harness)
    doubtful, refused = harness.user_for("DB001").id, harness.user_for("DB003").id
    harness.fake.fail_next("sendMessage", timeout=True, times=2, chat_id=doubtful)
    harness.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: chat is being migrated",
        chat_id=refused,
    )  # fmt: skip
    page = await preview(desk, "Thông báo quan trọng.", "linked")
    await confirm(desk, page, how="now")
    await harness.tick()
    harness.clock.advance(timedelta(seconds=3))  # past the one more try's wait
    await harness.tick()
    listed = (await desk.client.get("/office/notices")).text
    assert text_of(listed, "report-1-failed") == "2"
    assert text_of(listed, "form-resend-1") == "Gửi lại cho 1 người chưa nhận được"
    # The column's heading, read by a screen reader before each button: no «người bị lỗi».
    assert text_of(listed, "notices-resend-heading") == "Gửi lại cho người chưa nhận được"
    assert text_of(listed, "report-1-maybe_received") == (
        "1 người có thể đã nhận: không gửi lại để tránh một tin tới nhiều lần (nếu cần chắc chắn"
        " đề nghị gọi điện)."
    )
    resent = await desk.post("notices/1/resend", "form-resend-1", {}, page="notices")
    assert text_of(resent.text, "flash") == (
        "Đã xếp gửi lại thông báo số 1 cho 1 người chưa nhận được; 1 người có thể đã nhận không"
        " được gửi lại để tránh một tin tới nhiều lần (nếu cần chắc chắn đề nghị gọi điện). Kết"
        " quả gửi hiện ở bảng dưới đây."
    )
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 4, "failed": 1}
    listed = (await desk.client.get("/office/notices")).text
    assert 'id="form-resend-1"' not in listed  # the one left may have it: nothing to resend


async def test_a_scheduled_notice_is_listed_and_cancelled_and_never_goes(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    listed = await confirm(desk, page, how="later", when="08:00 20/5")
    assert text_of(listed, "flash").startswith("Đã hẹn gửi thông báo số 1 lúc ")
    assert "Nhắc lịch họp." in text_of(listed, "scheduled-1")
    cancelled = await desk.post("notices/1/cancel", "form-cancel-1", {}, page="notices")
    assert text_of(cancelled.text, "flash") == "Đã hủy thông báo số 1."
    assert 'id="scheduled-none"' in cancelled.text
    harness.clock.advance(timedelta(days=30))
    await harness.tick()
    assert await message_status(harness, MessageKind.BROADCAST) == ["cancelled"]
    assert await deliveries(harness, MessageKind.BROADCAST) == {}
    actions = [action for _, action in await audits(harness, "broadcast.")]
    assert actions == ["broadcast.scheduled", "broadcast.cancelled"]


async def test_a_notice_scheduled_to_an_audience_on_no_chat_says_who_will_read_it_on_a_page(
    desk: Desk, harness: BotHarness
) -> None:
    page = await preview(desk, "Nhắc lịch họp.", "no_answer")  # nobody linked yet
    listed = await confirm(desk, page, how="later", when="08:00 20/5")
    assert text_of(listed, "flash") == (
        "Đã hẹn gửi thông báo số 1 lúc 08:00, Thứ Hai, ngày 20/5/2024: từ lúc đó, 80 đồng chí sẽ"
        " thấy thông báo khi truy cập trang cá nhân (theo danh sách hiện tại; không đồng chí nào"
        " nhận qua tin nhắn)."
    )
    assert "Nhắc lịch họp." in text_of(listed, "scheduled-1")  # before its time: cancellable
    assert 'id="form-cancel-1"' in listed


async def test_a_time_that_cannot_be_read_keeps_the_preview_with_the_time_to_mend(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    refused = await press_send(desk, page, how="later", when="sáng mai")
    assert refused.status_code == 422
    # Its examples are built from today (the clock: 09:00, 18/5/2024), not the example plan's.
    assert text_of(refused.text, "notice-error") == (
        "Chưa đọc được thời điểm. Đề nghị nhập theo mẫu 08:00 19/5 hoặc 19/5/2024 08:00."
    )
    assert (
        "Thời điểm hẹn gửi (giờ Asia/Ho_Chi_Minh), ví dụ 08:00 19/5 hoặc 10:00 nếu gửi trong"
        " hôm nay" in refused.text
    )
    assert 'placeholder="08:00 19/5"' in refused.text
    # The notice, its audience and the time typed are all still there, «Gửi sau» still chosen.
    assert "Nhắc lịch họp." in text_of(refused.text, "notice-shown")
    assert "Sẽ gửi tới: 5 người." in text_of(refused.text, "notice-count")
    assert 'value="sáng mai"' in refused.text
    assert re.search(r'id="how-later" name="how" value="later" checked', refused.text)
    async with harness.services.ctx.sessions() as session:
        statuses = list(await session.scalars(select(OutboundMessage.status)))
    assert statuses == ["draft"]
    # «Gửi sau» with no time at all: «Gửi sau» stays chosen (not «Gửi ngay», which would send
    # it to everyone at once when the clerk then typed the time and confirmed).
    blank = await press_send(desk, refused.text, how="later", when="  ")
    assert blank.status_code == 422
    assert re.search(r'id="how-later" name="how" value="later" checked', blank.text)
    assert not re.search(r'id="how-now" name="how" value="now" checked', blank.text)
    # A past time is refused the same way; the time mended, it is scheduled.
    past = await press_send(desk, blank.text, how="later", when="08:00 1/1/2024")
    assert past.status_code == 422
    assert text_of(past.text, "notice-error").endswith(
        "Đề nghị nhập một thời điểm trong tương lai."
    )
    listed = await confirm(desk, past.text, how="later", when="08:00 20/5")
    assert text_of(listed, "flash").startswith("Đã hẹn gửi thông báo số 1 lúc ")
    assert "Nhắc lịch họp." in text_of(listed, "scheduled-1")
    assert [action for _, action in await audits(harness, "broadcast.")] == ["broadcast.scheduled"]


async def test_an_empty_or_too_long_notice_is_refused_with_the_text_kept(desk: Desk) -> None:
    page = await desk.client.get("/office/notices")
    fields = hidden(page.text, "form-notice")
    refused = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": "x" * 3501, "audience": "linked"}
    )
    assert refused.status_code == 422
    assert text_of(refused.text, "notice-error").startswith("Nội dung dài 3.501 ký tự, quá giới")
    fields = hidden(refused.text, "form-notice")
    refused = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": "  ", "audience": "linked"}
    )
    assert text_of(refused.text, "notice-error") == "Đề nghị gửi nội dung thông báo bằng chữ."


async def test_a_notice_over_the_limit_arrives_whole_and_is_refused_saying_its_length(
    desk: Desk,
) -> None:
    # The box cuts nothing as it is pasted (no maxlength: the browser would drop the end
    # unsaid); the server refuses it with its length, and the whole text is back in the box.
    page = await desk.client.get("/office/notices")
    box = re.search(r"<textarea[^>]*\bid=\"notice-body\"[^>]*>", page.text)
    assert box is not None and "maxlength" not in box.group(0)
    last = "CÂU CUỐI QUAN TRỌNG: họp lúc 07:30."
    body = "Kính gửi các đồng chí đại biểu. " * 110 + last
    assert len(body) == 3555
    refused = await desk.client.post(
        "/office/notices/preview",
        data={**hidden(page.text, "form-notice"), "body": body, "audience": "linked"},
    )
    assert refused.status_code == 422
    assert text_of(refused.text, "notice-error") == (
        "Nội dung dài 3.555 ký tự, quá giới hạn 3.500 ký tự nên chưa xem trước được. Toàn bộ "
        "nội dung vẫn ở khung dưới đây; đề nghị đồng chí rút gọn rồi chọn «Xem trước»."
    )
    assert html.unescape(text_of(refused.text, "notice-body")) == body


async def test_a_notice_form_over_the_size_a_form_takes_is_answered_with_its_size(
    desk: Desk,
) -> None:
    # A whole report pasted as a notice passed the form's size (768 KB): the answer was an
    # empty page, status 413, nothing said. It now says the size that came and what to do.
    page = await desk.client.get("/office/notices")
    body = "Báo cáo tổng kết công tác Hội và phong trào phụ nữ Thủ đô. " * 15_000
    refused = await desk.client.post(
        "/office/notices/preview",
        data={**hidden(page.text, "form-notice"), "body": body, "audience": "linked"},
    )
    assert refused.status_code == 413
    assert text_of(refused.text, "message-too_large") == (
        "Biểu mẫu vừa gửi dài 2,1 MB, quá mức một biểu mẫu nhận được, nên chưa có gì được ghi"
        " nhận và trang không giữ lại được nội dung. Đề nghị đồng chí rút gọn từ bản gốc rồi gửi"
        " lại (văn bản dài, xin gửi dưới dạng tệp)."
    )


async def test_an_audience_the_chat_does_not_offer_is_refused(desk: Desk) -> None:
    page = await desk.client.get("/office/notices")
    fields = hidden(page.text, "form-notice")
    refused = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": "Xin chào.", "audience": "office"}
    )
    assert refused.status_code == 422
    assert 'id="notice-error"' in refused.text


async def test_a_preview_leads_back_to_its_text_and_audience_to_change_them(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Họp trù bị lúc 14:00 & 15:00.", "present")
    edit = re.search(r'href="(/office/notices\?sua=\d+)" id="notice-edit"', page)
    assert edit is not None
    form = (await desk.client.get(edit.group(1))).text
    assert ">Họp trù bị lúc 14:00 &amp; 15:00.</textarea>" in form
    assert re.search(r'name="audience" value="present" checked', form)
    # Changed and previewed again: the new text, and no cancelled notice in the log for it.
    fields = hidden(form, "form-notice")
    again = await desk.client.post(
        "/office/notices/preview",
        data={**fields, "body": "Họp trù bị lúc 15:00.", "audience": "linked"},
    )
    assert "Họp trù bị lúc 15:00." in text_of(again.text, "notice-shown")
    assert await audits(harness, "broadcast.") == []
    # A draft no longer there (the second preview replaced it) opens the empty form.
    empty = (await desk.client.get("/office/notices?sua=1")).text
    assert "></textarea>" in empty


async def test_a_confirmation_sent_twice_says_it_was_done_not_to_write_again(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    form = {**hidden(page, "form-send"), "how": "later", "when": "08:00 20/5"}
    action = re.search(r'action="(/office/notices/\d+/send)"', page)
    assert action is not None
    for _ in range(2):  # a reload that sends the form again, a slow network
        sent = await desk.client.post(action.group(1), data=form)
    shown = (await desk.client.get(sent.headers["location"])).text
    assert text_of(shown, "flash").startswith("Thông báo số 1 đã được hẹn gửi lúc 08:00")
    assert "không có gì thay đổi" in text_of(shown, "flash")  # not «Đề nghị soạn lại»
    assert '<p id="flash" class="text flash ok"' in shown  # said as done, not as an error
    cancel = hidden(shown, "form-cancel-1")
    for _ in range(2):
        cancelled = await desk.client.post("/office/notices/1/cancel", data=cancel)
    shown = (await desk.client.get(cancelled.headers["location"])).text
    assert text_of(shown, "flash") == "Thông báo số 1 đã được hủy từ trước; không có gì thay đổi."
    assert [action for _, action in await audits(harness, "broadcast.")] == [
        "broadcast.scheduled",
        "broadcast.cancelled",
    ]


async def test_a_cancel_that_comes_after_the_notice_went_out_says_it_could_not_be_done(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    listed = await confirm(desk, page, how="later", when="09:30 18/5")
    cancel = hidden(listed, "form-cancel-1")  # the list as it was before the time came
    harness.clock.advance(timedelta(hours=1))  # 10:00: its time has come
    await harness.tick()
    assert await message_status(harness, MessageKind.BROADCAST) == ["done"]
    late = await desk.client.post("/office/notices/1/cancel", data=cancel)
    shown = (await desk.client.get(late.headers["location"])).text
    assert text_of(shown, "flash") == (
        "Thông báo số 1 đang được gửi hoặc đã gửi đi nên không hủy được nữa."
    )
    assert '<p id="flash" class="text flash error"' in shown  # not said as done


async def test_send_now_with_a_time_typed_asks_which_was_meant_and_sends_nothing(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    asked = await press_send(desk, page, how="now", when="08:00 20/5")
    assert asked.status_code == 422
    assert text_of(asked.text, "notice-error").startswith(
        "Đồng chí đã ghi thời điểm «08:00 20/5» nhưng chọn «Gửi ngay»."
    )
    assert 'value="08:00 20/5"' in asked.text
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {}
    assert await audits(harness, "broadcast.") == []
    listed = await confirm(desk, asked.text, how="later", when="08:00 20/5")  # as meant
    assert text_of(listed, "flash").startswith("Đã hẹn gửi thông báo số 1 lúc ")


async def test_the_notice_of_a_meeting_moved_comes_written_with_the_plan_s_date_to_preview(
    desk: Desk, harness: BotHarness
) -> None:
    """The office is offered the notice, not sent it: the template fills the form, and the
    notice goes as any other, after its preview and the office's confirmation."""
    await linked_answers(harness)
    page = (await desk.client.get("/office/notices")).text
    template = re.search(r'href="(/office/notices\?mau=doi-lich)#write" id="moved-template"', page)
    assert template is not None
    form = (await desk.client.get(template.group(1))).text
    body = re.search(r'<textarea id="notice-body"[^>]*>(.*?)</textarea>', form, re.S)
    assert body is not None
    assert body.group(1).startswith("Văn phòng trân trọng thông báo: Hội nghị sơ kết giữa nhiệm kỳ")
    assert "được dời sang 08:00, Thứ Ba, ngày 28/5/2024, tại " in body.group(1)
    assert await message_status(harness, MessageKind.BROADCAST) == []  # nothing written yet


async def test_the_people_a_notice_leaves_to_phone_are_listed_with_their_numbers(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)  # five linked; the other 75 are on no chat
    for code in ("DB010", "DB011"):  # two of those 75 answered by phone: no need to call them
        await desk.post(f"delegates/{code}/phone", "form-phone", {"choice": "attending"},
                        page=f"delegates/{code}")  # fmt: skip
    page = await preview(desk, "Đề nghị xác nhận tham dự trước hạn.", "no_answer")
    assert text_of(page, "to-call-title").endswith("(73)")
    link = re.search(r'<a href="([^"]+)" id="to-call-all">', page)
    assert link is not None
    listed = (await desk.client.get(link.group(1).replace("&amp;", "&"))).text
    assert text_of(listed, "found") == "Có 73 đại biểu phù hợp."  # not the 75 on no chat
    assert "DB010" not in listed and "DB011" not in listed
    assert "0912 345 012" in listed  # DB012's number, as the office dials it
    assert "Đối tượng của thông báo: Đại biểu chưa trả lời." in text_of(listed, "audience-filter")
    # The report of the notice once sent leads to the same list.
    await confirm(desk, page, how="now")
    await harness.tick()
    report = (await desk.client.get("/office/notices")).text
    cell = re.search(
        r'id="report-1-not_linked" data-label="Chưa liên kết"><a href="([^"]+)"', report
    )
    assert cell is not None and cell.group(1) == link.group(1)


async def test_the_day_after_a_notice_goes_to_those_who_came_or_to_those_who_did_not(
    desk: Desk, harness: BotHarness
) -> None:
    # The thank-you and the materials: «đã xác nhận tham dự» reached DB002, who said she would
    # come and did not, and missed DB004, who had declined and came after all.
    await linked_answers(harness)  # DB001, DB002 attend, DB003 sends a substitute, DB004 declines
    access, checkin = harness.services.access, harness.services.checkin
    at_the_desk = access.office_desk(access.local_operator(), "Bàn 1")
    await checkin.check_in(at_the_desk, "DB001")
    await checkin.check_in(at_the_desk, "DB003", substitute_name="Lê Thị Hoa")
    await checkin.check_in(at_the_desk, "DB004")
    await checkin.check_in(at_the_desk, "DB010")  # on no chat: not one to phone as absent
    absent = await preview(desk, "Tài liệu hội nghị gửi đồng chí.", "absent")
    assert "Sẽ gửi tới: 2 người." in text_of(absent, "notice-count")  # DB002, DB005 (linked)
    assert text_of(absent, "to-call-title").endswith("(74)")
    link = re.search(r'<a href="([^"]+)" id="to-call-all">', absent)
    assert link is not None  # the absent the notice leaves to phone, and no one who came
    listed = (await desk.client.get(link.group(1).replace("&amp;", "&"))).text
    assert text_of(listed, "found") == "Có 74 đại biểu phù hợp."
    await drop(desk, absent)  # not sent: «Bỏ», before the next notice
    came = await preview(desk, "Cảm ơn đồng chí đã dự hội nghị.", "came")
    assert text_of(came, "notice-count") == (
        "Đối tượng: Đại biểu có mặt tại hội nghị (đã điểm danh)\nSẽ gửi tới: 3 người."
    )
    await confirm(desk, came, how="now")
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == {"sent": 3, "not_linked": 1}
    reached = {code for code in ("DB001", "DB002", "DB003", "DB004", "DB005")
               if any("Cảm ơn đồng chí" in text
                      for text in texts(harness, harness.user_for(code).id))}  # fmt: skip
    assert reached == {"DB001", "DB003", "DB004"}


async def test_on_the_day_the_form_previews_those_awaited_and_the_substitutes_reached_for(
    desk: Desk, harness: BotHarness, clock: ManualClock
) -> None:
    # A room change on the morning (s32 re-test M6): «dự kiến chưa đến» is DB002 on a chat and
    # DB010 to phone (not DB004 who declined), its list to phone leads to the «Có mặt» page, where the
    # substitutes' numbers are; «có mặt» counts the copy going to DB003 for her substitute.
    await linked_answers(harness)  # DB001, DB002 attend, DB003 sends a substitute, DB004 declines
    clock.set(local(2024, 5, 28, 9, 0))
    await desk.sign_in()
    access, checkin = harness.services.access, harness.services.checkin
    at_the_desk = access.office_desk(access.local_operator(), "Bàn 1")
    await checkin.check_in(at_the_desk, "DB001")
    await checkin.check_in(at_the_desk, "DB003", substitute_name="Lê Thị Hoa")
    await desk.post("delegates/DB010/phone", "form-phone", {"choice": "attending"},
                    page="delegates/DB010")  # fmt: skip
    awaited = await preview(desk, "Phòng họp đổi sang tầng 3.", "awaited")
    assert text_of(awaited, "notice-count") == (
        "Đối tượng: Đại biểu dự kiến chưa đến (đã xác nhận tham dự hoặc cử người dự thay,"
        " chưa điểm danh)\nSẽ gửi tới: 1 người."
    )
    assert text_of(awaited, "to-call-title").endswith("(1)")  # DB010, on no chat; no one silent
    link = re.search(r'<a href="([^"]+)" id="to-call-awaited">', awaited)
    assert link is not None and link.group(1) == "/office/attendance#missing"
    await drop(desk, awaited)
    came = await preview(desk, "Phòng họp đổi sang tầng 3.", "came")
    assert text_of(came, "notice-for-substitute").startswith(
        "Trong đó 1 tin nhắn gửi tới đại biểu đã cử người dự thay"
    )


async def test_the_first_notice_is_no_1_on_the_page_the_log_and_the_report_whatever_its_row(
    desk: Desk, harness: BotHarness
) -> None:
    from tests.test_office_files import report_bytes

    await harness.plan()  # the plan's reminders fill the outbox first
    await linked_answers(harness)
    page = await preview(desk, "Họp trù bị lúc 14:00.", "linked")
    listed = await confirm(desk, page, how="now")
    assert text_of(listed, "flash").startswith(
        "Đã xếp thông báo số 1 vào hàng gửi qua tin nhắn tới 5 người."
    )
    async with harness.services.ctx.sessions() as session:
        row = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.kind == MessageKind.BROADCAST)
        )
    assert row is not None and row.id > 1 and row.number == 1
    await harness.tick()
    listed = (await desk.client.get("/office/notices")).text
    # The report's first cell is the notice's number; its forms still name the row.
    assert f'<tr id="report-{row.id}"><td data-label="Số">1</td>' in listed
    log = (await desk.client.get("/office/log?action=broadcast.queued")).text
    assert "(thông báo số 1)" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", log))
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    sending = list(book["Gửi tin"].iter_rows(values_only=True))
    [notice] = [r for r in sending[1:] if r[1].startswith("thông báo")]
    assert notice[:2] == (1, "thông báo số 1")
    assert all(r[0] is None for r in sending[1:] if r is not notice)  # reminders: no number


async def test_the_overview_names_a_scheduled_notice_by_its_number(
    desk: Desk, harness: BotHarness
) -> None:
    await harness.plan()  # the plan's reminders fill the outbox first
    await harness.tick()  # those whose time has passed go (or are skipped)
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    await confirm(desk, page, how="later", when="18:00 18/5")
    overview = (await desk.client.get("/office/")).text
    upcoming = overview.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
    assert "— thông báo số 1: Nhắc lịch họp.</li>" in upcoming


async def test_the_overview_does_not_list_as_coming_a_notice_whose_time_has_come(
    desk: Desk, harness: BotHarness
) -> None:
    """Scheduled for 18:00 18/5, it is «Sắp gửi» until then; at 18:00, before the outbox has
    taken it, the notices page says «Đang gửi», and the overview no longer lists it as coming
    (it listed it, under its past time)."""
    await linked_answers(harness)
    page = await preview(desk, "Nhắc lịch họp.", "linked")
    await confirm(desk, page, how="later", when="18:00 18/5")

    def coming(overview: str) -> list[str]:
        upcoming = overview.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
        return re.findall(r"thông báo số (\d+)", upcoming)

    assert coming((await desk.client.get("/office/")).text) == ["1"]
    harness.clock.set(local(2024, 5, 18, 18, 0))
    listed = (await desk.client.get("/office/notices")).text
    assert 'id="scheduled-none"' in listed and text_of(listed, "report-1-sending").startswith(
        "Đang gửi:"
    )
    assert coming((await desk.client.get("/office/")).text) == []


async def test_notices_are_listed_by_number_newest_first_whoever_began_writing_first(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await make_staff(harness.services, "DB001")
    await make_staff(harness.services, "DB002")
    a = await desk_for(harness.services)
    await a.sign_in("DB001")
    b = await desk_for(harness.services)
    await b.sign_in("DB002")
    first_begun = await preview(a, "Viết trước, gửi sau.", "linked")
    second_begun = await preview(b, "Viết sau, gửi trước.", "linked")
    assert text_of(await confirm(b, second_begun, how="now"), "flash").startswith(
        "Đã xếp thông báo số 1 "
    )
    assert text_of(await confirm(a, first_begun, how="now"), "flash").startswith(
        "Đã xếp thông báo số 2 "
    )
    await harness.tick()
    listed = (await a.client.get("/office/notices")).text
    assert re.findall(r'<tr id="report-\d+"><td data-label="Số">(\d+)</td>', listed) == ["2", "1"]
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert [line[:9] for line in admin.last_text().split("\n")[1:]] == ["✅ Số 2 — ", "✅ Số 1 — "]
    # The list's limit keeps the highest numbers, not the latest rows.
    office = harness.services.access.local_operator()
    assert [n.number for n in await harness.services.broadcasts.recent(office, limit=1)] == [2]
    await a.client.aclose()
    await b.client.aclose()


async def test_a_cancelled_notice_keeps_its_place_in_the_lists_said_cancelled_and_when(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    listed = await confirm(
        desk, await preview(desk, "Hẹn rồi hủy.", "linked"), how="later", when="18:00 18/5"
    )
    mid = re.search(r'<li id="scheduled-(\d+)"', listed)
    assert mid is not None
    harness.clock.advance(timedelta(minutes=20))
    await desk.post(f"notices/{mid[1]}/cancel", f"form-cancel-{mid[1]}", {}, page="notices")
    await confirm(desk, await preview(desk, "Gửi ngay.", "linked"), how="now")
    await harness.tick()
    listed = (await desk.client.get("/office/notices")).text
    assert re.findall(r'<tr id="report-\d+"><td data-label="Số">(\d+)</td>', listed) == ["2", "1"]
    assert "Hẹn rồi hủy." in text_of(listed, f"report-{mid[1]}")
    assert text_of(listed, f"report-{mid[1]}-cancelled") == (
        "Đã hủy lúc 09:20, Thứ Bảy, ngày 18/5/2024 (trước đó hẹn gửi 18:00, Thứ Bảy, ngày "
        "18/5/2024), không gửi tới ai."
    )
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1:] == [
        "✅ Số 2 — Tất cả đại biểu đã liên kết: đã gửi 5, chặn bot 0, lỗi 0, chưa liên kết 0",
        "🚫 Số 1 — đã hủy lúc 09:20, Thứ Bảy, ngày 18/5/2024 (trước đó hẹn gửi 18:00, Thứ Bảy, "
        "ngày 18/5/2024) — Tất cả đại biểu đã liên kết: Hẹn rồi hủy.",
    ]


async def test_a_notice_that_went_to_nobody_keeps_its_place_in_the_lists_said_why(
    desk: Desk, harness: BotHarness
) -> None:
    from tests.test_office_files import report_bytes

    await linked_answers(harness)
    listed = await confirm(
        desk,
        await preview(desk, "Hẹn mà bot không chạy.", "linked"),
        how="later",
        when="18:00 18/5",
    )
    mid = re.search(r'<li id="scheduled-(\d+)"', listed)
    assert mid is not None
    # The bot is not running from before 18:00 until 07:00 the next morning: no. 1's time, and
    # the 12 hours it was still worth sending, have passed; the outbox skips it.
    harness.clock.advance(timedelta(hours=22))
    await harness.tick()
    assert await message_status(harness, MessageKind.BROADCAST) == ["skipped"]
    await desk.sign_in()  # the next morning
    await confirm(desk, await preview(desk, "Gửi ngay.", "linked"), how="now")
    await harness.tick()
    why = (
        "đến giờ gửi (18:00, Thứ Bảy, ngày 18/5/2024) bot không hoạt động, khi bot chạy lại thì "
        "đã quá thời hạn gửi"
    )
    listed = (await desk.client.get("/office/notices")).text
    assert re.findall(r'<tr id="report-\d+"><td data-label="Số">(\d+)</td>', listed) == ["2", "1"]
    assert "Hẹn mà bot không chạy." in text_of(listed, f"report-{mid[1]}")
    assert text_of(listed, f"report-{mid[1]}-skipped") == f"Không gửi tới ai: {why}."
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1:] == [
        "✅ Số 2 — Tất cả đại biểu đã liên kết: đã gửi 5, chặn bot 0, lỗi 0, chưa liên kết 0",
        f"⏭ Số 1 — không gửi tới ai: {why} — Tất cả đại biểu đã liên kết: Hẹn mà bot không chạy.",
    ]
    # The report's sheet lists every message by its time, the skipped notice with why.
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    sending = [r for r in book["Gửi tin"].iter_rows(values_only=True) if r[0] is not None]
    assert [(r[0], r[1], r[4]) for r in sending[1:]] == [
        (1, "thông báo số 1", "không gửi (quá thời hạn)"),
        (2, "thông báo số 2", "đã gửi xong"),
    ]


async def test_a_notice_nobody_was_left_to_receive_is_listed_in_the_chat_said_why(
    harness: BotHarness,
) -> None:
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        await add_notice_due(
            session, harness.services.ctx.meeting_id, "Họp nhóm.", now, audience="group:khong_co_ai"
        )
    await harness.tick()
    assert await message_status(harness, MessageKind.BROADCAST) == ["skipped"]
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1:] == [
        "⏭ Số 1 — không gửi tới ai: đến giờ gửi không có ai trong đối tượng nhận — "
        "Nhóm: khong_co_ai: Họp nhóm."
    ]


async def test_scheduled_notices_are_listed_in_the_order_they_will_go_as_the_overview_lists_them(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    for body, when in (
        ("Số một.", "18:00 18/5"),
        ("Số hai.", "08:00 20/5"),
        ("Số ba.", "12:00 19/5"),
    ):
        await confirm(desk, await preview(desk, body, "linked"), how="later", when=when)
    page = (await desk.client.get("/office/notices")).text
    scheduled = page.split('id="scheduled"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r"Số (\d+) — hẹn", scheduled) == ["1", "3", "2"]
    overview = (await desk.client.get("/office/")).text
    upcoming = overview.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r"thông báo số (\d+)", upcoming) == ["1", "3", "2"]
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert re.findall(r"^🕘 Số (\d+) — hẹn", admin.last_text(), re.M) == ["1", "3", "2"]
    keyboard = admin.last_message["reply_markup"]["inline_keyboard"]
    assert [button["text"] for row in keyboard for button in row] == [
        "Hủy thông báo số 1",
        "Hủy thông báo số 3",
        "Hủy thông báo số 2",
    ]


# Whom the notices caught by a stop ran out for, as the office reads them (protocol order).
FIVE = (
    "DB001 Phạm Thị Thanh Mai, DB002 Hoàng Thị Ngọc Diệp, DB003 Vũ Thị Hồng Nhung,"
    " DB004 Đặng Minh Quân, DB005 Ngô Thị Bích Hạnh"
)
LAST_THREE = "DB003 Vũ Thị Hồng Nhung, DB004 Đặng Minh Quân, DB005 Ngô Thị Bích Hạnh"


async def notice_caught_by_a_stop(
    harness: BotHarness, body: str, sent: int, linked: int = 5
) -> None:
    """A notice to the ``linked`` delegates (five) is queued; ``sent`` copies go, then the bot
    stops until the 12 hours it was worth sending have passed, and runs again."""
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        await add_notice_due(session, harness.services.ctx.meeting_id, body, now)
    await harness.outbox.queue_due()
    for claimed in await harness.outbox._claim(limit=sent):
        await harness.outbox._deliver(claimed)
    left = linked - sent
    assert await deliveries(harness, MessageKind.BROADCAST) == +Counter(sent=sent, pending=left)
    harness.clock.advance(BROADCAST_WINDOW + timedelta(minutes=1))
    await harness.tick()
    assert await deliveries(harness, MessageKind.BROADCAST) == +Counter(sent=sent, skipped=left)


async def test_a_notice_whose_every_copy_ran_out_while_the_bot_was_stopped_is_said_sent_to_nobody(
    desk: Desk, harness: BotHarness
) -> None:
    from tests.test_office_files import report_bytes

    await linked_answers(harness)
    await notice_caught_by_a_stop(harness, "Bot dừng giữa chừng.", sent=0)
    assert await message_status(harness, MessageKind.BROADCAST) == ["skipped"]
    why = "hết thời hạn gửi trước khi bot gửi được tới người nhận"
    await desk.sign_in()  # the next morning
    listed = (await desk.client.get("/office/notices")).text
    mid = re.search(r'<tr id="report-(\d+)"><td data-label="Số">1</td>', listed)
    assert mid is not None
    assert text_of(listed, f"report-{mid[1]}-skipped") == f"Không gửi tới ai: {why}."
    # Sent to nobody: every one of them is named, for the office to phone.
    assert text_of(listed, f"report-{mid[1]}-ran_out") == (
        "5 người chưa nhận vì đã hết thời hạn gửi trước khi bot gửi tới họ (đề nghị gọi điện): "
        f"{FIVE}."
    )
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1:] == [
        f"⏭ Số 1 — không gửi tới ai: {why} — Tất cả đại biểu đã liên kết: Bot dừng giữa chừng."
        f" — 5 người chưa nhận vì đã hết thời hạn gửi (đề nghị gọi điện): {FIVE}"
    ]
    # The office's report of it says so too, not only «Bỏ qua: 5».
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨 Báo cáo gửi")]
    assert reports == [
        "📨 Báo cáo gửi thông báo số 1\n"
        "Đã gửi: 0 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0 · Bỏ qua: 5\n"
        "⚠️ 5 người chưa nhận được vì đã hết thời hạn gửi trước khi bot gửi tới họ"
        f" (đề nghị gọi điện): {FIVE}."
    ]
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    sending = [r for r in book["Gửi tin"].iter_rows(values_only=True) if r[0] is not None]
    assert [(r[1], r[4]) for r in sending[1:]] == [
        ("thông báo số 1", "không gửi (hết thời hạn khi đang chờ gửi)")
    ]


async def test_the_office_is_told_by_name_whom_a_notice_ran_out_for_and_where_the_whole_list_is(
    desk: Desk, harness: BotHarness
) -> None:
    """Thirteen copies ran out: the chat's report, /lichthongbao and the dashboard name the
    first ten in protocol order, as a notice's preview names those it cannot reach, count the
    rest and say where the whole list is: the report workbook's sheet, which lists all 13."""
    from tests.test_office_files import report_bytes

    codes = [f"DB{n:03d}" for n in range(1, 14)]
    for code in codes:
        await harness.open_invitation(code)
    await notice_caught_by_a_stop(harness, "Mười ba người.", sent=0, linked=13)
    first_ten = (
        "DB001 Phạm Thị Thanh Mai, DB002 Hoàng Thị Ngọc Diệp, DB003 Vũ Thị Hồng Nhung,"
        " DB004 Đặng Minh Quân, DB005 Ngô Thị Bích Hạnh, DB006 Bùi Thị Thanh Tâm,"
        " DB007 Đỗ Thị Kim Oanh, DB008 Lê Thị Phương Thảo, DB009 Nguyễn Thị Hải Yến,"
        " DB010 Trịnh Văn Thắng"
    )
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨 Báo cáo gửi")]
    assert reports == [
        "📨 Báo cáo gửi thông báo số 1\n"
        "Đã gửi: 0 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0 · Bỏ qua: 13\n"
        "⚠️ 13 người chưa nhận được vì đã hết thời hạn gửi trước khi bot gửi tới họ"
        f" (đề nghị gọi điện), trong đó có {first_ten} và 3 người khác. Danh sách đầy đủ có"
        " trong tệp báo cáo /baocao (trang «Chưa nhận do hết hạn gửi»)."
    ]
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1:] == [
        "⏭ Số 1 — không gửi tới ai: hết thời hạn gửi trước khi bot gửi được tới người nhận"
        " — Tất cả đại biểu đã liên kết: Mười ba người."
        " — 13 người chưa nhận vì đã hết thời hạn gửi (đề nghị gọi điện), trong đó có"
        f" {first_ten} và 3 người khác; danh sách đầy đủ có trong tệp báo cáo /baocao"
        " (trang «Chưa nhận do hết hạn gửi»)"
    ]
    await desk.sign_in()
    listed = (await desk.client.get("/office/notices")).text
    mid = re.search(r'<tr id="report-(\d+)"><td data-label="Số">1</td>', listed)
    assert mid is not None
    assert text_of(listed, f"report-{mid[1]}-ran_out") == (
        "13 người chưa nhận vì đã hết thời hạn gửi trước khi bot gửi tới họ (đề nghị gọi điện),"
        f" trong đó có {first_ten} và 3 người khác. Danh sách đầy đủ có trong tệp «Báo cáo tổng"
        " hợp (.xlsx)» ở mục «Giấy mời và báo cáo», trang «Chưa nhận do hết hạn gửi»."
    )
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    rows = list(book["Chưa nhận do hết hạn gửi"].iter_rows(values_only=True))[1:]
    assert [r[:2] for r in rows] == [(1, "thông báo số 1")] * 13
    assert [r[3] for r in rows] == codes
    assert rows[12][3:] == (
        "DB013",
        "Lương Thị Minh Châu",
        "Phó Bí thư Thành đoàn",
        "Thành đoàn Hà Nội",
    )


async def test_a_notice_whose_last_copies_ran_out_is_listed_sent_with_how_many_ran_out(
    desk: Desk, harness: BotHarness
) -> None:
    await linked_answers(harness)
    await notice_caught_by_a_stop(harness, "Gửi được một nửa.", sent=2)
    assert await message_status(harness, MessageKind.BROADCAST) == ["done"]
    await desk.sign_in()  # the next morning
    listed = (await desk.client.get("/office/notices")).text
    mid = re.search(r'<tr id="report-(\d+)"><td data-label="Số">1</td>', listed)
    assert mid is not None
    assert text_of(listed, f"report-{mid[1]}-sent") == "2"
    assert text_of(listed, f"report-{mid[1]}-ran_out") == (
        "3 người chưa nhận vì đã hết thời hạn gửi trước khi bot gửi tới họ (đề nghị gọi điện): "
        f"{LAST_THREE}."
    )
    admin = harness.admin()
    await harness.send(admin.command("/lichthongbao"))
    assert admin.last_text().split("\n")[1:] == [
        "✅ Số 1 — Tất cả đại biểu đã liên kết: đã gửi 2, chặn bot 0, lỗi 0, chưa liên kết 0"
        " — 3 người chưa nhận vì đã hết thời hạn gửi (đề nghị gọi điện): " + LAST_THREE
    ]
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨 Báo cáo gửi")]
    assert reports == [
        "📨 Báo cáo gửi thông báo số 1\n"
        "Đã gửi: 2 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0 · Bỏ qua: 3\n"
        "⚠️ 3 người chưa nhận được vì đã hết thời hạn gửi trước khi bot gửi tới họ"
        f" (đề nghị gọi điện): {LAST_THREE}."
    ]


async def test_the_form_offers_who_came_who_did_not_and_who_is_awaited_from_the_first_day_on(
    desk: Desk, clock: ManualClock
) -> None:
    # Weeks before, «vắng mặt» was every invitee (nobody checked in yet), «có mặt» nobody.
    offered = ["everyone", "linked", "present", "no_answer", "declined"]
    groups = [f"group:{group.key}" for group in desk.services.config.groups_in_order]
    for moment, day in (
        (local(2024, 5, 27, 23, 59), []),
        (local(2024, 5, 28, 0, 0), ["came", "absent", "awaited"]),
    ):
        clock.set(moment)
        await desk.sign_in()
        form = (await desk.client.get("/office/notices")).text
        assert re.findall(r'name="audience" value="([^"]+)"', form) == [*offered, *day, *groups]


async def test_a_notice_s_report_row_groups_its_counts_by_thousands(
    desk: Desk, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """To 10,000 invitees the report row read «8234» sent and «1200 người có thể đã nhận»
    where the chat reads «8.234»: every count of the row, the resend button's and the copies
    that ran out included, grouped by thousands."""
    from bot.domain.outbound import Audience, DeliveryStatus, MessageStatus
    from bot.services.broadcasts import BroadcastSummary

    notice = BroadcastSummary(
        id=7, number=1, status=MessageStatus.DONE, audience=Audience.EVERYONE.value,
        due_at=None, preview="Hội nghị.", deliveries=Counter({
            DeliveryStatus.SENT: 8234, DeliveryStatus.FAILED: 2500,
            DeliveryStatus.BLOCKED: 1001, DeliveryStatus.NOT_LINKED: 3000,
            DeliveryStatus.PENDING: 1000, DeliveryStatus.SENDING: 100}),
        ran_out=1100, first_ran_out=[("DB001", "Phạm Thị Thanh Mai")], maybe_received=1200,
    )  # fmt: skip

    async def recent(*_: object, **__: object) -> list[BroadcastSummary]:
        return [notice]

    monkeypatch.setattr(harness.services.broadcasts, "recent", recent)
    listed = (await desk.client.get("/office/notices")).text
    figures = {name: text_of(listed, f"report-7-{name}")
               for name in ("sent", "failed", "blocked", "not_linked", "waiting")}  # fmt: skip
    assert figures == {"sent": "8.234", "failed": "2.500", "blocked": "1.001",
                       "not_linked": "3.000", "waiting": "1.100"}  # fmt: skip
    assert "Gửi lại cho 1.300 người chưa nhận được" in listed
    assert text_of(listed, "report-7-maybe_received").startswith("1.200 người có thể đã nhận")
    assert text_of(listed, "report-7-ran_out").startswith(
        "1.100 người chưa nhận vì đã hết thời hạn gửi trước khi bot gửi tới họ (đề nghị gọi"
        " điện), trong đó có DB001 Phạm Thị Thanh Mai và 1.099 người khác."
    )


async def test_the_preview_and_the_queued_notice_group_their_counts_by_thousands(
    desk: Desk, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview read «Sẽ gửi tới: 8234 người», «Không nhận được qua tin nhắn (1500)» and the
    flash after «Gửi ngay» «tới 8234 người», where the chat reads «8.234»: grouped alike."""
    from dataclasses import replace

    from bot.services.broadcasts import BroadcastResult, Reach

    broadcasts = harness.services.broadcasts
    big = Reach(8234, 1001, 1500, first_not_linked=[("DB001", "Phạm Thị Thanh Mai")],
                for_substitute=1200)  # fmt: skip

    def widened(step: object) -> object:
        async def wide(*args: object) -> BroadcastResult:
            result = await step(*args)  # type: ignore[operator]
            return replace(result, reach=big) if result.reach is not None else result

        return wide

    monkeypatch.setattr(broadcasts, "choose_audience", widened(broadcasts.choose_audience))
    monkeypatch.setattr(broadcasts, "send_now", widened(broadcasts.send_now))
    await linked_answers(harness)
    page = await preview(desk, "Hội nghị.", "linked")
    assert "Sẽ gửi tới: 8.234 người." in text_of(page, "notice-count")
    assert text_of(page, "notice-for-substitute").startswith("Trong đó 1.200 tin nhắn")
    assert text_of(page, "notice-blocked").startswith("Không gửi được qua tin nhắn tới 1.001 người")
    assert text_of(page, "to-call-title") == "Không nhận được qua tin nhắn (1.500)"
    assert text_of(page, "to-call-more") == "và 1.499 người khác."
    listed = await confirm(desk, page, how="now")
    assert text_of(listed, "flash").startswith(
        "Đã xếp thông báo số 1 vào hàng gửi qua tin nhắn tới 8.234 người."
    )


async def test_the_notice_box_writes_its_limit_grouped_by_thousands(desk: Desk) -> None:
    # «Nội dung thông báo (tối đa 3500 ký tự)» where every other figure reads «3.500».
    assert (
        "Nội dung thông báo (tối đa 3.500 ký tự)" in (await desk.client.get("/office/notices")).text
    )
