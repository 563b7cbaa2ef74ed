"""A delegate's link and accounts on the dashboard: re-issuing the personal link and code (the
old ones stop working, the new ones are shown once) and unlinking one channel's account of a
lost phone after a confirmation; both through the chat's use cases, audited as the staff
member's, and a second tap answers clearly without changing anything."""

from __future__ import annotations

import asyncio
import html as html_lib
import io
import re
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config
from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.sms import sms_length, sms_parts
from bot.domain.tokens import format_link_code
from bot.services import Services
from bot.services.invitation_files import invitation_message, invitation_sms
from bot.services.invitations import LinkOutcome, OfficeStep, SentStep
from bot.texts import load_catalog
from handlers.web.app import build_web_app
from storage.models import AuditEntry, ChannelIdentity, Delegate, Invitation
from tests.conftest import local
from tests.office_support import STAFF, Desk, desk_for, hidden, make_staff, text_of
from tests.tasks_support import needs_postgres
from tests.web_support import BASE, web_setup

TELEGRAM = ChatAccount("telegram", "7001", "7001")
ZALO = ChatAccount("zalo", "z-7001", "z-7001")
# The invitation message of the example plan, around the person's name, link and code: the
# organizer invites, as her page says; the office is the contact.
MESSAGE_MIDDLE = (
    "Ban Thường vụ Hội Liên hiệp Phụ nữ thành phố Hà Nội trân trọng kính mời đồng chí dự Hội "
    "nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ thành phố Hà Nội lần thứ XVII, nhiệm "
    "kỳ 2021 – 2026.\n"
    "Thời gian, địa điểm: 08:00, Thứ Ba, ngày 28/5/2024 — Hội trường Hội LHPN Hà Nội, Số 7 phố "
    "Tôn Thất Thuyết, phường Dịch Vọng Hậu, quận Cầu Giấy, thành phố Hà Nội.\n"
    "Đề nghị đồng chí mở đường liên kết cá nhân dưới đây, chọn «Tham dự», «Không tham dự» hoặc "
    "«Cử người dự thay» trước 17:00, Thứ Ba, ngày 21/5/2024:\n"
)
MESSAGE_END = "Liên hệ: đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."


async def tokens(services: Services) -> dict[str, str]:
    return {item.code: item.token for item in await services.invitations.links()}


async def audited(services: Services, action: str) -> list[AuditEntry]:
    async with services.ctx.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_reissuing_shows_the_new_link_and_code_once_and_the_old_ones_stop_working(
    desk: Desk, imported: Services
) -> None:
    old = (await tokens(imported))["DB010"]
    page = await desk.client.get("/office/delegates/DB010/reissue")
    form = reissue_form(page.text)
    sent = await desk.client.post("/office/delegates/DB010/reissue", data=form)
    assert sent.status_code == 303
    shown = await desk.client.get(sent.headers["location"])
    new = (await tokens(imported))["DB010"]
    assert new != old
    async with imported.ctx.sessions() as session:
        code = await session.scalar(select(Invitation.link_code).where(Invitation.token == new))
    assert code is not None
    flash = text_of(shown.text, "flash")
    # Not «shown once»: her page keeps the new link in «Giấy mời gửi đại biểu».
    assert flash.startswith(
        "Đã cấp đường liên kết mới cho đồng chí Trịnh Văn Thắng; đường liên kết và mã cũ không "
        f"còn dùng được. Mã cá nhân mới: {format_link_code(code)}. Đường liên kết mới:"
        f"Trang cá nhân: http://testserver/{new}"  # the list's items follow the sentence
    )
    assert "chỉ hiện" not in flash
    # The flash is shown once: the page opened again holds the new link and code only in
    # the invitation to send her, no more in a list of new links.
    again = await desk.client.get(sent.headers["location"])
    assert 'id="flash"' not in again.text and 'id="new-links"' not in again.text
    before, _, section = again.text.partition('<section aria-labelledby="invite-title"')
    rest = before + section.partition("</section>")[2]
    assert new in invitation_of(again.text)
    assert new not in rest and format_link_code(code) not in rest
    # The old link links nothing now; the new one does.
    assert (await imported.invitations.link_by_token(TELEGRAM, old)).outcome is (
        LinkOutcome.UNKNOWN_TOKEN
    )
    assert (await imported.invitations.link_by_token(TELEGRAM, new)).outcome is LinkOutcome.LINKED
    [entry] = await audited(imported, "invitation.reissued")
    assert entry.actor == f"dashboard:{STAFF}" and entry.entity_id is not None
    # The same form tapped a second time issues nothing and says so.
    second = await desk.client.post("/office/delegates/DB010/reissue", data=form)
    flash = text_of((await desk.client.get(second.headers["location"])).text, "flash")
    assert flash == (
        "Đường liên kết của đồng chí Trịnh Văn Thắng vừa được cấp lại (có thể do bấm hai lần); "
        "không cấp thêm. Đường liên kết và mã mới có trong mục «Giấy mời gửi đại biểu» dưới đây."
    )
    assert (await tokens(imported))["DB010"] == new
    assert len(await audited(imported, "invitation.reissued")) == 1
    history = await desk.client.get("/office/delegates/DB010")
    assert "Phạm Thị Thanh Mai: cấp lại đường liên kết cá nhân" in text_of(history.text, "history")


async def test_a_task_contacts_new_link_is_shown_once_her_page_has_no_invitation_to_send(
    desk: Desk, imported: Services
) -> None:
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Delegate).where(Delegate.code == "DB003").values(role="contact")
        )
    page = await desk.client.get("/office/delegates/DB003/reissue")
    form = reissue_form(page.text)
    sent = await desk.client.post("/office/delegates/DB003/reissue", data=form)
    shown = await desk.client.get(sent.headers["location"])
    new = await live_invitation(imported, "DB003")
    assert text_of(shown.text, "flash").startswith(
        "Đã cấp đường liên kết mới cho đồng chí Vũ Thị Hồng Nhung; đường liên kết và mã cũ không "
        f"còn dùng được. Mã cá nhân mới: {format_link_code(new.link_code)}. Đường liên kết mới "
        "(chỉ hiện lần này):Trang cá nhân: "
    )
    assert 'id="send-again"' not in shown.text and "invite-message" not in shown.text
    second = await desk.client.post("/office/delegates/DB003/reissue", data=form)
    flash = text_of((await desk.client.get(second.headers["location"])).text, "flash")
    assert flash == (
        "Đường liên kết của đồng chí Vũ Thị Hồng Nhung vừa được cấp lại (có thể do bấm hai lần); "
        "không cấp thêm. Đường liên kết và mã mới chỉ hiện một lần; nếu chưa kịp ghi lại, đề nghị "
        "cấp lại lần nữa."
    )


async def test_reissuing_asks_first_saying_the_sent_invitation_and_opened_page_stop_working(
    desk: Desk, imported: Services
) -> None:
    live = await marked_sent(imported, "DB010", "zalo")
    assert (await imported.invitations.link_by_token(ZALO, live.token)).outcome is (
        LinkOutcome.LINKED
    )
    page = await desk.client.get("/office/delegates/DB010")
    # Her page offers the way to the confirmation, not a button that re-issues at once.
    assert 'id="form-reissue"' not in page.text
    assert 'href="/office/delegates/DB010/reissue"' in page.text
    assert text_of(page.text, "reissue-link") == "Cấp lại đường liên kết…"
    confirm = await desk.client.get("/office/delegates/DB010/reissue")
    assert text_of(confirm.text, "reissue-what") == (
        "Cấp lại đường liên kết và mã cá nhân của đồng chí Trịnh Văn Thắng (DB010)? Ngay khi cấp "
        "lại, đường liên kết và mã cá nhân hiện có không dùng được nữa: phiếu mời đã in, giấy mời "
        "và tin nhắn đã gửi cho đại biểu đều không mở được trang cá nhân."
    )
    assert text_of(confirm.text, "reissue-sent").startswith(
        "Đã gửi giấy mời qua Zalo lúc "
    ) and text_of(confirm.text, "reissue-sent").endswith(
        ": đường liên kết và mã trong giấy mời đó sẽ không dùng được nữa; dấu «đã gửi giấy mời» "
        "được bỏ, và cần gửi lại giấy mời với đường liên kết mới."
    )
    assert "Việc này không hoàn tác được" in text_of(confirm.text, "reissue-stops")
    assert text_of(confirm.text, "reissue-chats").startswith(
        "Tài khoản Zalo đã liên kết vẫn giữ nguyên: bot vẫn nhắn tin được cho đại biểu."
    )
    # Opening the confirmation changes nothing: the same link lives, still marked sent.
    still = await live_invitation(imported, "DB010")
    assert (still.id, still.token) == (live.id, live.token) and still.sent_at is not None
    assert await audited(imported, "invitation.reissued") == []
    assert 'href="/office/delegates/DB010"' in confirm.text  # «Quay lại»
    done = await desk.client.post(
        "/office/delegates/DB010/reissue", data=reissue_form(confirm.text)
    )
    assert done.status_code == 303
    assert (await live_invitation(imported, "DB010")).token != live.token


async def test_the_reissue_confirmation_names_her_opened_page_though_a_chat_was_linked_first(
    desk: Desk, imported: Services
) -> None:
    # The page she opened was said only when it was the first account to show the invitation
    # reached her: linked on Zalo first, then opening her page, nothing said it stops opening.
    live = await live_invitation(imported, "DB010")
    await imported.invitations.link_by_token(ZALO, live.token)
    imported.ctx.clock.advance(timedelta(minutes=1))
    await desk.client.get(f"/{live.token}")  # she opens her page afterwards
    confirm = await desk.client.get("/office/delegates/DB010/reissue")
    assert text_of(confirm.text, "reissue-opened").startswith(
        "Đại biểu đã mở trang cá nhân bằng đường liên kết hiện tại lúc "
    )


async def test_the_reissue_confirmation_says_the_bot_still_writes_to_her_only_where_it_can(
    desk: Desk, imported: Services
) -> None:
    # «bot vẫn nhắn tin được cho đại biểu» was said of any linked account: of one that has
    # blocked the bot, or one on a chat this installation does not run, it is not true.
    live = await live_invitation(imported, "DB010")
    await imported.invitations.link_by_token(ZALO, live.token)
    telegram = ChatAccount("telegram", "t-7002", "t-7002")
    await imported.invitations.link_by_token(telegram, live.token)
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.channel == "zalo")
            .values(unreachable_at=imported.ctx.clock.now())
        )
    confirm = await desk.client.get("/office/delegates/DB010/reissue")
    assert text_of(confirm.text, "reissue-chats").startswith(
        "Tài khoản Telegram đã liên kết vẫn giữ nguyên: bot vẫn nhắn tin được cho đại biểu."
    )
    imported.ctx.chats.run(["zalo"])  # Telegram's token taken away; Zalo blocked
    confirm = await desk.client.get("/office/delegates/DB010/reissue")
    assert 'id="reissue-chats"' not in confirm.text


async def test_the_reissue_confirmation_names_the_page_the_delegate_opened(
    desk: Desk, imported: Services
) -> None:
    token = (await tokens(imported))["DB010"]
    await desk.client.get(f"/{token}")  # she opens her page once
    confirm = await desk.client.get("/office/delegates/DB010/reissue")
    opened = text_of(confirm.text, "reissue-opened")
    assert opened.startswith("Đại biểu đã mở trang cá nhân bằng đường liên kết hiện tại lúc ")
    assert opened.endswith(": trang đó sẽ không mở được nữa, đại biểu cần đường liên kết mới.")
    assert 'id="reissue-sent"' not in confirm.text and 'id="reissue-chats"' not in confirm.text


async def test_unlinking_a_lost_phone_forgets_that_channel_only_after_a_confirmation(
    desk: Desk, imported: Services
) -> None:
    token = (await tokens(imported))["DB010"]
    assert (await imported.invitations.link_by_token(TELEGRAM, token)).outcome is (
        LinkOutcome.LINKED
    )
    assert (await imported.invitations.link_by_token(ZALO, token)).outcome is LinkOutcome.LINKED
    page = await desk.client.get("/office/delegates/DB010")
    assert 'href="/office/delegates/DB010/unlink/telegram"' in page.text
    confirm = await desk.client.get("/office/delegates/DB010/unlink/telegram")
    assert "Gỡ tài khoản Telegram đã liên kết của đồng chí Trịnh Văn Thắng (DB010)?" in text_of(
        confirm.text, "unlink-what"
    )
    async with imported.ctx.sessions() as session:  # opening the confirmation changes nothing
        assert await session.scalar(select(func.count(ChannelIdentity.id))) == 2
    form = hidden(confirm.text, "form-unlink")
    sent = await desk.client.post("/office/delegates/DB010/unlink/telegram", data=form)
    flash = text_of((await desk.client.get(sent.headers["location"])).text, "flash")
    assert "Đã gỡ tài khoản Telegram của đồng chí Trịnh Văn Thắng" in flash
    assert (await imported.access.caller(TELEGRAM)).person is None  # the lost phone is no one
    assert (await imported.access.caller(ZALO)).person is not None  # Zalo stays linked
    [entry] = await audited(imported, "identity.unlinked")
    assert entry.actor == f"dashboard:{STAFF}"
    assert entry.before == {"channel": "telegram", "external_id": "7001"}
    second = await desk.client.post("/office/delegates/DB010/unlink/telegram", data=form)
    flash = text_of((await desk.client.get(second.headers["location"])).text, "flash")
    assert "không có tài khoản Telegram nào đang liên kết" in flash
    assert len(await audited(imported, "identity.unlinked")) == 1


# --- the invitation to send, and the office's «đã gửi» mark ------------------------------------


def reissue_form(html: str) -> dict[str, str]:
    """The fields of «Cấp lại đường liên kết» on its confirmation page: its signature and the
    invitation it replaces."""
    replacing = html.split('name="replacing" value="', 1)[1].split('"', 1)[0]
    return {**hidden(html, "form-reissue"), "replacing": replacing}


def invitation_of(html: str) -> str:
    """The invitation message's text on a person's page, unescaped as the textarea holds it."""
    return html_lib.unescape(html.split('id="invite-message"', 1)[1].split(">", 1)[1].split("<")[0])


async def live_invitation(services: Services, code: str) -> Invitation:
    async with services.ctx.sessions() as session:
        found = await session.scalar(
            select(Invitation)
            .join(Delegate, Delegate.id == Invitation.delegate_id)
            .where(Delegate.code == code, Invitation.revoked_at.is_(None))
        )
    assert found is not None
    return found


async def marked_sent(services: Services, code: str, via: str) -> Invitation:
    """The office (the local operator) marks ``code``'s invitation sent ``via``: that
    invitation, as it was before the mark."""
    live = await live_invitation(services, code)
    await services.invitations.mark_sent(
        services.access.local_operator(), code, invitation=live.id, via=via
    )
    return live


async def test_marking_an_invitation_sent_records_when_how_and_who_once_and_undo_clears_it(
    imported: Services,
) -> None:
    office = imported.access.local_operator()
    invitations = imported.invitations
    live = await live_invitation(imported, "DB010")
    marked = await invitations.mark_sent(office, "db010", invitation=live.id, via="zalo")
    assert marked.step is SentStep.MARKED and marked.mark is not None
    assert (marked.mark.at, marked.mark.via) == (local(2024, 5, 18, 9, 0), "zalo")
    # A double tap: the same form again records nothing more, the first mark stays.
    again = await invitations.mark_sent(office, "DB010", invitation=live.id, via="sms")
    assert again.step is SentStep.ALREADY_MARKED and again.mark == marked.mark
    [entry] = await audited(imported, "invitation.sent")
    assert (entry.after, entry.before) == ({"via": "zalo"}, None)  # never the link, the phone
    [link] = [item for item in await invitations.links() if item.code == "DB010"]
    assert link.sent == marked.mark
    undone = await invitations.unmark_sent(office, "DB010", invitation=live.id)
    assert undone.step is SentStep.UNMARKED and undone.mark is None
    twice = await invitations.unmark_sent(office, "DB010", invitation=live.id)
    assert twice.step is SentStep.NOT_MARKED
    [unsent] = await audited(imported, "invitation.unsent")
    assert unsent.before == {"via": "zalo"}
    assert (await live_invitation(imported, "DB010")).sent_at is None


async def test_a_sent_mark_and_its_undo_are_audited_alike_by_whom_whose_when_and_how_only(
    imported: Services, clock: ManualClock
) -> None:
    office = imported.access.local_operator()
    invitations = imported.invitations
    live = await marked_sent(imported, "DB010", "paper")
    clock.advance(timedelta(minutes=5))
    await invitations.unmark_sent(office, "DB010", invitation=live.id)
    [sent] = await audited(imported, "invitation.sent")
    [unsent] = await audited(imported, "invitation.unsent")
    assert [
        (entry.actor, entry.entity, entry.entity_id, entry.at, entry.before, entry.after)
        for entry in (sent, unsent)
    ] == [
        (office.actor, "delegate", live.delegate_id, local(2024, 5, 18, 9, 0), None,
         {"via": "paper"}),
        (office.actor, "delegate", live.delegate_id, local(2024, 5, 18, 9, 5), {"via": "paper"},
         None),
    ]  # fmt: skip


async def test_reissuing_a_link_clears_its_sent_mark_and_a_form_for_the_old_link_is_refused(
    imported: Services,
) -> None:
    office = imported.access.local_operator()
    invitations = imported.invitations
    old = await live_invitation(imported, "DB010")
    await invitations.mark_sent(office, "DB010", invitation=old.id, via="sms")
    await invitations.reissue(office, "DB010", replacing=old.id)
    new = await live_invitation(imported, "DB010")
    assert new.id != old.id and new.sent_at is None
    assert (await imported.dashboard.card("DB010")).sent is None  # type: ignore[union-attr]
    late = await invitations.mark_sent(office, "DB010", invitation=old.id, via="zalo")
    assert late.step is SentStep.LINK_CHANGED
    assert (await live_invitation(imported, "DB010")).sent_at is None


async def test_a_double_tap_in_two_processes_marks_sent_once_the_second_waits_for_the_row(
    imported: Services, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes on PostgreSQL each take one tap of «Đánh dấu đã gửi giấy mời»: the
    # second must wait for the first's lock on the invitation's row and then find it marked;
    # read unlocked, both saw it unmarked and both recorded (two audits, the last mark kept).
    from tests.conftest import until_waiting

    needs_postgres()
    invitations = imported.invitations
    office = imported.access.local_operator()
    live = await live_invitation(imported, "DB010")
    target = invitations._sent_target
    found, commit = asyncio.Event(), asyncio.Event()

    async def the_first_tap_holds(*args: Any, **kwargs: Any) -> object:
        result = await target(*args, **kwargs)
        if not found.is_set():
            found.set()
            await commit.wait()
        return result

    monkeypatch.setattr(invitations, "_sent_target", the_first_tap_holds)
    async with asyncio.timeout(30):
        first = asyncio.create_task(
            invitations.mark_sent(office, "DB010", invitation=live.id, via="zalo")
        )
        await found.wait()
        second = asyncio.create_task(
            invitations.mark_sent(office, "DB010", invitation=live.id, via="sms")
        )
        await until_waiting(engine, 1, second)
        waited = not second.done()
        commit.set()
        marked, again = await first, await second
    assert waited, "the second tap did not wait: the invitation's row was read unlocked"
    assert (marked.step, again.step) == (SentStep.MARKED, SentStep.ALREADY_MARKED)
    [entry] = await audited(imported, "invitation.sent")
    assert entry.after == {"via": "zalo"}
    assert (await live_invitation(imported, "DB010")).sent_via == "zalo"


async def test_a_withdrawn_invitation_cannot_be_marked_sent(imported: Services) -> None:
    office = imported.access.local_operator()
    live = await live_invitation(imported, "DB010")
    await imported.withdrawals.withdraw(office, "DB010", "Đi công tác")
    refused = await imported.invitations.mark_sent(office, "DB010", invitation=live.id, via="zalo")
    assert refused.step is SentStep.WITHDRAWN
    assert await audited(imported, "invitation.sent") == []
    unknown = await imported.invitations.mark_sent(office, "DB999", invitation=1, via="zalo")
    assert unknown.step is SentStep.UNKNOWN_PERSON


async def test_a_task_contact_cannot_be_marked_sent_her_link_opens_her_tasks(
    desk: Desk, imported: Services
) -> None:
    live = await live_invitation(imported, "DB003")
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Delegate).where(Delegate.code == "DB003").values(role="contact")
        )
    office = imported.access.local_operator()
    refused = await imported.invitations.mark_sent(office, "DB003", invitation=live.id, via="sms")
    assert refused.step is SentStep.NOT_INVITED and refused.mark is None
    # A form kept open from before she became a task contact is refused the same way.
    page = await desk.client.get("/office/delegates/DB010")
    answer = await desk.client.post(
        "/office/delegates/DB003/sent",
        data={**hidden(page.text, "form-sent"), "invitation": str(live.id), "via": "zalo"},
    )
    shown = await desk.client.get(answer.headers["location"])
    assert text_of(shown.text, "flash") == (
        "Đồng chí Vũ Thị Hồng Nhung là người phụ trách nhiệm vụ, không phải đại biểu được mời dự "
        "hội nghị: không có giấy mời để gửi, không đánh dấu."
    )
    assert await audited(imported, "invitation.sent") == []
    assert (await live_invitation(imported, "DB003")).sent_at is None


async def test_a_delegate_page_holds_the_invitation_to_send_with_sms_and_zalo_to_her_phone(
    desk: Desk, imported: Services
) -> None:
    page = await desk.client.get("/office/delegates/DB010")
    live = await live_invitation(imported, "DB010")
    message = invitation_of(page.text)
    # No chat channel runs here: no line sending her code to a bot nobody could find.
    assert message == (
        "Kính gửi đồng chí Trịnh Văn Thắng,\n"
        f"{MESSAGE_MIDDLE}"
        f"http://testserver/{live.token}\n"
        f"{MESSAGE_END}"
    )
    assert text_of(page.text, "invite-not-sent") == "Chưa đánh dấu đã gửi giấy mời."
    assert 'data-copy="invite-message"' in page.text
    # Before the meeting the main job: above the form for an answer taken by phone.
    assert page.text.index('id="invite"') < page.text.index('id="phone"')
    # DB010's phone is "0773-010-519" on the list: +84773010519.
    # «Gửi SMS» sends the short form (three SMS with diacritics), the long one is for Zalo.
    short = html_lib.unescape(
        page.text.split('id="invite-sms-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    )
    assert short == (
        "Ban Thường vụ Hội Liên hiệp Phụ nữ thành phố Hà Nội kính mời đồng chí dự hội nghị ngày "
        f"28/5. Xin xác nhận trước 17:00, 21/5: http://testserver/{live.token}. ĐT 024 3834 5678"
    )
    assert text_of(page.text, "invite-sms-parts") == (
        "193 ký tự, gửi thành 3 tin SMS (tin có dấu: 70 ký tự một tin, 67 ký tự mỗi phần khi "
        "ghép nhiều tin)."
    )
    sms = page.text.split('id="invite-sms"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    assert html_lib.unescape(sms) == f"sms:+84773010519?&body={quote(short, safe='')}"
    assert '<a class="button secondary" href="https://zalo.me/0773010519" id="invite-zalo"' in (
        page.text
    )
    assert text_of(page.text, "invite-sms-hint") == (
        "«Gửi SMS» dùng trên điện thoại: máy tính thường không có ứng dụng tin nhắn để mở."
    )
    assert text_of(page.text, "invite-zalo-hint") == (
        "Zalo mở khung trò chuyện với số điện thoại của đại biểu nhưng không điền sẵn nội dung: "
        "bấm «Sao chép» trước, rồi dán vào khung trò chuyện."
    )


async def test_with_telegram_running_the_invitation_names_its_bot_as_the_code_takes_it(
    imported: Services,
) -> None:
    # The Telegram bot links by «/start <code>» (a code typed alone is not read there); the
    # SMS keeps the code. A Zalo bot the plan does not name: the meeting's bot, as before.
    await make_staff(imported)
    live = await live_invitation(imported, "DB010")
    code = format_link_code(live.link_code)
    shown = {}
    for chats in ({"telegram": "hoinghi_bot", "zalo": ""}, {"zalo": ""}):
        desk = await desk_for(imported, chat_bots=chats)
        try:
            await desk.sign_in()
            page = await desk.client.get("/office/delegates/DB010")
        finally:
            await desk.client.aclose()
        shown[len(chats)] = page.text
    assert invitation_of(shown[2]) == (
        "Kính gửi đồng chí Trịnh Văn Thắng,\n"
        f"{MESSAGE_MIDDLE}"
        f"http://testserver/{live.token}\n"
        "Nếu không mở được đường liên kết, đề nghị đồng chí tìm @hoinghi_bot trên Telegram và "
        f"gửi lệnh /start {code}.\n"
        f"{MESSAGE_END}"
    )
    short = html_lib.unescape(
        shown[2].split('id="invite-sms-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    )
    assert short == (
        "Văn phòng Hội LHPN thành phố Hà Nội kính mời đồng chí dự hội nghị ngày 28/5. Xin xác "
        f"nhận trước 17:00, 21/5: http://testserver/{live.token} (mã {code}). ĐT 024 3834 5678"
    )
    assert (
        f"http://testserver/{live.token}\n"
        f"Nếu không mở được đường liên kết, đề nghị đồng chí nhắn mã cá nhân {code} cho bot của "
        "hội nghị.\n"
    ) in invitation_of(shown[1])


async def test_a_landline_or_a_foreign_number_gets_neither_sms_nor_zalo_and_one_line_says_why(
    desk: Desk, imported: Services
) -> None:
    # zalo.me/<number> opens a Vietnamese number only: "+33612345678" became zalo.me/33612…,
    # read as a Vietnamese number; a landline has no Zalo, and takes no SMS either («Gửi SMS»
    # was offered for +84 24… numbers).
    for phone in ("+33612345678", "+842438251234"):
        async with imported.ctx.sessions() as session, session.begin():
            await session.execute(
                update(Delegate).where(Delegate.code == "DB010").values(phone=phone)
            )
        page = await desk.client.get("/office/delegates/DB010")
        assert 'id="invite-zalo"' not in page.text and "zalo.me" not in page.text
        assert 'id="invite-sms"' not in page.text and "sms:" not in page.text
        assert 'id="invite-sms-hint"' not in page.text
        assert text_of(page.text, "invite-no-mobile") == (
            "Số của đại biểu là số cố định hoặc số nước ngoài nên không có nút «Gửi SMS», "
            "«Mở Zalo»: đề nghị sao chép nội dung và gửi theo cách khác."
        )
        # The short form is still there to copy.
        assert 'id="invite-sms-text"' in page.text


def test_the_short_sms_of_the_example_plan_takes_three_sms_in_each_language(
    config: Config,
) -> None:
    # The example plan's own address (http://127.0.0.1:8080/ and a 32-character token): the
    # long message is about 600 characters, nine SMS with diacritics; the short one three.
    # No chat channel runs: the organizer invites, as her page says, and no code is given.
    link, code = "http://127.0.0.1:8080/" + "A" * 32, "K7PXM3QB"
    vi = invitation_sms(load_catalog("vi"), config, link=link, link_code=code)
    assert vi == (
        "Ban Thường vụ Hội Liên hiệp Phụ nữ thành phố Hà Nội kính mời đồng chí dự hội nghị ngày "
        f"28/5. Xin xác nhận trước 17:00, 21/5: {link}. ĐT 024 3834 5678"
    )
    assert (sms_length(vi), sms_parts(vi)) == ((197, False), 3)
    long = invitation_message(load_catalog("vi"), config, name="x", link=link, link_code=code)
    assert sms_parts(long) >= 8
    en = invitation_sms(load_catalog("en"), config, link=link, link_code=code)
    assert en == (
        "Ban Thường vụ Hội Liên hiệp Phụ nữ thành phố Hà Nội invites you to the meeting on 28/5. "
        f"Please reply before 17:00, 21/5: {link}. Tel 024 3834 5678"
    )
    assert sms_parts(en) == 3
    # No phone in [office] contact: the text ends with the link.
    office = config.office.model_copy(update={"contact": "đồng chí Trần Thu Hà"})
    bare = invitation_sms(
        load_catalog("vi"), config.model_copy(update={"office": office}), link=link,
        link_code=code,
    )  # fmt: skip
    assert bare.endswith(f"21/5: {link}.")


def test_an_sms_with_the_code_for_a_chat_names_the_office_where_the_organizer_takes_four(
    config: Config,
) -> None:
    # A chat takes the code: it goes in the SMS, and with the organizer's long name the text
    # would take four SMS; the office, in whose name the SMS goes, invites instead.
    link, code = "http://127.0.0.1:8080/" + "A" * 32, "K7PXM3QB"
    chats = {"telegram": "hoinghi_bot"}
    vi = invitation_sms(load_catalog("vi"), config, link=link, link_code=code, chats=chats)
    assert vi == (
        "Văn phòng Hội LHPN thành phố Hà Nội kính mời đồng chí dự hội nghị ngày 28/5. Xin xác "
        f"nhận trước 17:00, 21/5: {link} (mã K7PX-M3QB). ĐT 024 3834 5678"
    )
    assert (sms_length(vi), sms_parts(vi)) == ((196, False), 3)
    en = invitation_sms(load_catalog("en"), config, link=link, link_code=code, chats=chats)
    assert en == (
        "Văn phòng Hội LHPN thành phố Hà Nội invites you to the meeting on 28/5. Please reply "
        f"before 17:00, 21/5: {link} (code K7PX-M3QB). Tel 024 3834 5678"
    )
    assert sms_parts(en) == 3
    # The organizer with the code: four SMS (one more to pay for each delegate).
    four = load_catalog("vi").plain(
        "dash.invite.sms_text", inviter=config.meeting.organizer, day=28, month=5,
        deadline="17:00, 21/5", link=link, code=" (mã K7PX-M3QB)", phone="024 3834 5678",
    )  # fmt: skip
    assert sms_parts(four) == 4


def test_the_sms_gives_the_code_exactly_where_the_invitation_has_a_line_for_it(
    config: Config,
) -> None:
    # One rule: the SMS carries the code when, and only when, the invitation's code line
    # says where to send it (a chat running: the plan's Zalo bot by its name when it runs).
    from bot.services.invitation_files import code_line

    vi, link, code = load_catalog("vi"), "http://127.0.0.1:8080/" + "A" * 32, "K7PXM3QB"
    zalo = config.zalo.model_copy(update={"bot_name": "Bot Hội nghị"})
    named = config.model_copy(update={"zalo": zalo})
    for plan in (config, named):
        for chats in (None, {}, {"zalo": ""}, {"telegram": "hoinghi_bot"}):
            sms = invitation_sms(vi, plan, link=link, link_code=code, chats=chats)
            line = code_line(vi, plan, "K7PX-M3QB", chats=chats)
            assert ("(mã K7PX-M3QB)" in sms) == bool(line), (plan.zalo.bot_name, chats)
            assert bool(line) == bool(chats), (plan.zalo.bot_name, chats)


def test_the_plan_s_zalo_bot_is_named_to_delegates_only_when_it_runs(config: Config) -> None:
    """The plan names its Zalo bot, but no Zalo token is set: the invitation, its SMS and the
    slip told her to write her code to a bot that does not run (and, with no chat at all, gave
    a code nothing takes). They name a chat that runs: Telegram's bot here, else none."""
    from bot.services.invitation_files import code_hint, code_line

    vi, link, code = load_catalog("vi"), "http://127.0.0.1:8080/" + "A" * 32, "K7PXM3QB"
    zalo = config.zalo.model_copy(update={"bot_name": "Bot Hội nghị"})
    named = config.model_copy(update={"zalo": zalo})
    telegram = {"telegram": "hoinghi_bot"}
    assert code_line(vi, named, "K7PX-M3QB", chats=telegram) == (
        "Nếu không mở được đường liên kết, đề nghị đồng chí tìm @hoinghi_bot trên Telegram và"
        " gửi lệnh /start K7PX-M3QB."
    )
    assert code_hint(vi, named, chats=telegram).startswith("Trên Telegram, tìm @hoinghi_bot")
    assert code_line(vi, named, "K7PX-M3QB", chats={}) == ""
    assert code_hint(vi, named, chats={}) == "Mã cá nhân:\n{code}"
    assert "(mã K7PX-M3QB)" not in invitation_sms(vi, named, link=link, link_code=code, chats={})
    both = {"zalo": "", **telegram}
    assert code_line(vi, named, "K7PX-M3QB", chats=both) == (
        "Nếu không mở được đường liên kết, đề nghị đồng chí tìm «Bot Hội nghị» trên Zalo và gửi"
        " mã cá nhân K7PX-M3QB."
    )


def test_a_long_site_address_drops_the_least_needed_words_to_stay_in_three_sms_never_the_link(
    config: Config,
) -> None:
    # The example's address is 22 characters; the office's own domain may be twice that: the
    # link alone took the short form to 4 SMS, or more.
    vi, code = load_catalog("vi"), "K7PXM3QB"
    chats = {"telegram": "hoinghi_bot"}  # a chat takes the code: it is in the SMS
    longer = "https://hoinghi.hoilhpnhanoi.org.vn/" + "A" * 32
    # First the office's phone (her page has it).
    text = invitation_sms(vi, config, link=longer, link_code=code, chats=chats)
    assert text == (
        "Văn phòng Hội LHPN thành phố Hà Nội kính mời đồng chí dự hội nghị ngày 28/5. Xin xác "
        f"nhận trước 17:00, 21/5: {longer} (mã K7PX-M3QB)."
    )
    assert sms_parts(text) == 3
    # Then the polite wording, in its shorter form.
    longest = "https://hoinghi-giuaky.hoilienhiepphunu-hanoi.org.vn/" + "A" * 32
    text = invitation_sms(vi, config, link=longest, link_code=code, chats=chats)
    assert text == (
        "Văn phòng Hội LHPN thành phố Hà Nội kính mời dự hội nghị 28/5, xác nhận trước 17:00, "
        f"21/5: {longest} (mã K7PX-M3QB)"
    )
    assert sms_parts(text) == 3
    # Once answers are closed the phone is what she is asked to use: the wording goes.
    closed = invitation_sms(
        vi, config, link=longer, link_code=code, answers_open=False, chats=chats
    )
    assert closed == (
        "Văn phòng Hội LHPN thành phố Hà Nội kính mời dự hội nghị 28/5. Hết hạn trả lời, xin gọi "
        f"024 3834 5678 báo có dự không. {longer}"
    )
    assert sms_parts(closed) == 3
    # Past what any cut can save: the shortest form, the link and the code whole.
    absurd = "https://" + "h" * 150 + "/" + "A" * 32
    text = invitation_sms(vi, config, link=absurd, link_code=code, chats=chats)
    assert text.endswith(f": {absurd} (mã K7PX-M3QB)") and sms_parts(text) == 5
    # Each language, answers open and closed, at the longest address: the exact text and the
    # SMS it takes. Three, but for the closed Vietnamese one, already at its shortest form
    # (the phone stays: it is what she is asked to use), which takes four.
    said = {
        (lang, answers_open): invitation_sms(
            load_catalog(lang),
            config,
            link=longest,
            link_code=code,
            chats=chats,
            answers_open=answers_open,
        )
        for lang in ("vi", "en")
        for answers_open in (True, False)
    }
    assert said == {
        ("vi", True): (
            "Văn phòng Hội LHPN thành phố Hà Nội kính mời dự hội nghị 28/5, xác nhận trước "
            f"17:00, 21/5: {longest} (mã K7PX-M3QB)"
        ),
        ("vi", False): (
            "Văn phòng Hội LHPN thành phố Hà Nội kính mời dự hội nghị 28/5. Hết hạn trả lời, "
            f"xin gọi 024 3834 5678 báo có dự không. {longest}"
        ),
        ("en", True): (
            "Ban Thường vụ Hội Liên hiệp Phụ nữ thành phố Hà Nội invites you on 28/5. Reply "
            f"before 17:00, 21/5: {longest} (code K7PX-M3QB)"
        ),
        ("en", False): (
            "Văn phòng Hội LHPN thành phố Hà Nội invites you on 28/5. Replies closed: call "
            f"024 3834 5678 to say if you attend. {longest}"
        ),
    }
    assert {key: sms_parts(text) for key, text in said.items()} == {
        ("vi", True): 3, ("vi", False): 4, ("en", True): 3, ("en", False): 3,
    }  # fmt: skip


def test_once_answers_are_closed_the_invitation_asks_her_to_call_the_office(
    config: Config,
) -> None:
    # Past the deadline no choice nor deadline to meet: she calls the office's contact; the
    # link stays, for the meeting's information.
    link, code = "http://127.0.0.1:8080/" + "A" * 32, "K7PXM3QB"
    vi, en = load_catalog("vi"), load_catalog("en")
    closed = invitation_message(
        vi, config, name="Trịnh Văn Thắng", link=link, link_code=code, answers_open=False
    )
    assert closed == (
        "Kính gửi đồng chí Trịnh Văn Thắng,\n"
        + MESSAGE_MIDDLE.split("Đề nghị đồng chí mở", 1)[0]
        + "Hạn trả lời (17:00, Thứ Ba, ngày 21/5/2024) đã qua: đề nghị đồng chí liên hệ đồng chí "
        "Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678 để báo đồng chí có tham dự "
        "hay không.\n"
        "Thông tin hội nghị ở trang cá nhân của đồng chí:\n"
        f"{link}"
    )
    short = invitation_sms(vi, config, link=link, link_code=code, answers_open=False)
    assert short == (
        "Văn phòng Hội LHPN thành phố Hà Nội kính mời đồng chí dự hội nghị ngày 28/5. Đã hết hạn "
        f"trả lời, xin gọi 024 3834 5678 để báo có dự không. {link}"
    )
    assert (sms_length(short), sms_parts(short)) == ((193, False), 3)
    en_short = invitation_sms(en, config, link=link, link_code=code, answers_open=False)
    assert en_short == (
        "Văn phòng Hội LHPN thành phố Hà Nội invites you to the meeting on 28/5. Replies are "
        f"closed: please call 024 3834 5678 to say if you will attend. {link}"
    )
    assert sms_parts(en_short) == 3
    en_long = invitation_message(
        en, config, name="x", link=link, link_code=code, answers_open=False
    )
    assert "The deadline for replies (" in en_long and "please contact" in en_long
    # While answers are open: the choice and the deadline, as before.
    assert "trước 17:00, Thứ Ba, ngày 21/5/2024:" in invitation_message(
        vi, config, name="x", link=link, link_code=code
    )


async def test_past_the_deadline_her_page_offers_the_call_the_office_invitation(
    desk: Desk, imported: Services
) -> None:
    imported.ctx.clock.set(imported.ctx.config.meeting.rsvp_deadline_at + timedelta(minutes=1))
    await desk.sign_in()  # the session begun a week before has ended
    page = await desk.client.get("/office/delegates/DB010")
    message = invitation_of(page.text)
    assert "Hạn trả lời (17:00, Thứ Ba, ngày 21/5/2024) đã qua: đề nghị đồng chí liên hệ" in (
        message
    )
    assert "«Tham dự»" not in message
    short = html_lib.unescape(
        page.text.split('id="invite-sms-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    )
    assert "Đã hết hạn trả lời, xin gọi 024 3834 5678 để báo có dự không." in short


async def test_without_a_phone_the_invitation_has_no_sms_or_zalo_button(desk: Desk) -> None:
    page = await desk.client.get("/office/delegates/DB002")  # no phone on the list
    assert "invite-message" in page.text
    assert 'id="invite-sms"' not in page.text and 'id="invite-zalo"' not in page.text
    assert text_of(page.text, "invite-no-phone") == (
        "Chưa có số điện thoại của đại biểu: đề nghị sao chép nội dung và gửi theo cách khác."
    )


async def test_a_withdrawn_person_or_a_task_contact_has_no_invitation_to_send(
    desk: Desk, imported: Services
) -> None:
    await imported.withdrawals.withdraw(imported.access.local_operator(), "DB010", None)
    page = await desk.client.get("/office/delegates/DB010")
    assert 'id="invite"' not in page.text and "invite-message" not in page.text
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Delegate).where(Delegate.code == "DB003").values(role="contact")
        )
    contact = await desk.client.get("/office/delegates/DB003")
    assert contact.status_code == 200 and "invite-message" not in contact.text


async def test_the_sent_mark_is_shown_on_her_page_with_undo_and_a_double_tap_records_once(
    desk: Desk, imported: Services
) -> None:
    page = await desk.client.get("/office/delegates/DB010")
    form = hidden(page.text, "form-sent")
    invitation = page.text.split('name="invitation" value="', 1)[1].split('"', 1)[0]
    data = {**form, "invitation": invitation, "via": "zalo"}
    first = await desk.client.post("/office/delegates/DB010/sent", data=data)
    second = await desk.client.post("/office/delegates/DB010/sent", data=data)  # a double tap
    shown = await desk.client.get(first.headers["location"])
    assert text_of(shown.text, "flash") == (
        "Đã ghi nhận: đã gửi giấy mời qua Zalo cho đồng chí Trịnh Văn Thắng."
    )
    assert text_of(shown.text, "invite-sent") == (
        "Đã gửi giấy mời qua Zalo lúc 09:00, 18/5, do Phạm Thị Thanh Mai đánh dấu."
    )
    assert 'id="form-sent"' not in shown.text
    again = await desk.client.get(second.headers["location"])
    assert text_of(again.text, "flash") == (
        "Giấy mời của đồng chí Trịnh Văn Thắng đã được đánh dấu đã gửi (có thể do bấm hai "
        "lần); không ghi thêm."
    )
    [entry] = await audited(imported, "invitation.sent")
    assert entry.actor == f"dashboard:{STAFF}" and entry.after == {"via": "zalo"}
    log = await desk.client.get("/office/log")
    assert "đánh dấu đã gửi giấy mời" in log.text
    undone = await desk.post(
        "delegates/DB010/unsent", "form-unsent", {"invitation": invitation},
        page="delegates/DB010",
    )  # fmt: skip
    assert text_of(undone.text, "flash") == (
        "Đã bỏ dấu «đã gửi giấy mời» của đồng chí Trịnh Văn Thắng."
    )
    assert text_of(undone.text, "invite-not-sent") == "Chưa đánh dấu đã gửi giấy mời."
    assert "bỏ đánh dấu đã gửi giấy mời" in (await desk.client.get("/office/log")).text


async def test_reissuing_on_the_dashboard_says_the_new_link_must_be_sent_again(
    desk: Desk, imported: Services
) -> None:
    live = await marked_sent(imported, "DB010", "paper")
    shown = await desk.post(
        "delegates/DB010/reissue", "form-reissue", {"replacing": str(live.id)},
    )  # fmt: skip
    assert text_of(shown.text, "send-again") == (
        "Đề nghị gửi lại giấy mời cho đại biểu với đường liên kết mới (mục «Giấy mời gửi đại "
        "biểu» trên trang này): đường liên kết đã gửi trước đây không còn dùng được, dấu «đã gửi "
        "giấy mời» (nếu có) đã được bỏ."
    )
    assert text_of(shown.text, "invite-not-sent") == "Chưa đánh dấu đã gửi giấy mời."
    new = await live_invitation(imported, "DB010")
    assert f"http://testserver/{new.token}" in invitation_of(shown.text)


async def test_the_list_filters_and_counts_those_whose_invitation_was_not_sent(
    desk: Desk, imported: Services
) -> None:
    office = imported.access.local_operator()
    for code in ("DB003", "DB004"):
        await marked_sent(imported, code, "sms")
    await imported.invitations.link_by_token(TELEGRAM, (await tokens(imported))["DB005"])
    await imported.withdrawals.withdraw(office, "DB006", None)
    # 80 on the list: 2 marked, 1 reached by a chat, 1 withdrawn — 76 not sent yet.
    listing = await desk.client.get("/office/delegates")
    assert text_of(listing.text, "unsent") == (
        "Chưa gửi giấy mời: 76 đại biểu (chưa đánh dấu đã gửi, chưa trả lời, chưa mở trang cá nhân, chưa liên "
        "kết kênh trò chuyện nào). Xem danh sách"
    )
    unsent = await desk.client.get("/office/delegates?sent=no")
    assert text_of(unsent.text, "found") == "Có 76 đại biểu phù hợp."
    sent = await desk.client.get("/office/delegates?sent=yes")
    assert text_of(sent.text, "found") == "Có 3 đại biểu phù hợp."
    assert '<option value="no" selected>Chưa gửi giấy mời</option>' in unsent.text
    # Filtered so, each row opens the person's page at the invitation to send.
    assert '<a href="/office/delegates/DB001#invite">' in unsent.text
    assert '<a href="/office/delegates/DB001">' in listing.text
    rows = sent.text.split('id="delegates"', 1)[1]
    assert [code in rows for code in ("DB003", "DB004", "DB005", "DB006")] == [
        True, True, True, False,
    ]  # fmt: skip


async def test_the_overview_counts_the_invitations_not_sent_and_links_to_the_list(
    desk: Desk, imported: Services
) -> None:
    await marked_sent(imported, "DB003", "paper")
    await imported.invitations.link_by_token(TELEGRAM, (await tokens(imported))["DB005"])
    # 80 on the list: 1 marked, 1 reached by a chat — 78, as the list «Đại biểu» counts them.
    overview = await desk.client.get("/office/")
    assert text_of(overview.text, "overview-unsent") == (
        "Chưa gửi giấy mời: 78 đại biểu (chưa đánh dấu đã gửi, chưa trả lời, chưa mở trang cá nhân, chưa liên "
        "kết kênh trò chuyện nào). Xem danh sách"
    )
    assert (
        '<a href="/office/delegates?sent=no">Xem danh sách</a>'
        in overview.text.split('id="overview-unsent"', 1)[1]
    )
    assert await imported.dashboard.unsent() == 78
    live_figures = await desk.client.get("/office/live")
    assert text_of(live_figures.text, "overview-unsent") == text_of(
        overview.text, "overview-unsent"
    )


async def test_after_a_reissue_a_page_opened_with_the_old_link_no_longer_counts_as_reached(
    desk: Desk, imported: Services
) -> None:
    # DB010 opened her page with her first link, DB011 linked a chat with hers; both links are
    # then reissued and the new ones never sent. DB010's page says nothing of the new link:
    # she is back among those whose invitation was not sent; a chat stays reached. DB013
    # opened her page before the others' links were reissued: hers stands, she stays reached.
    sent = await tokens(imported)
    await imported.invitations.open_page(sent["DB010"], channel="web", client="c1")
    await imported.invitations.open_page(sent["DB013"], channel="web", client="c3")
    await imported.invitations.link_by_token(TELEGRAM, sent["DB011"])
    office = imported.access.local_operator()
    before = await imported.dashboard.unsent()
    assert before == 77
    imported.ctx.clock.advance(timedelta(minutes=5))
    for code in ("DB010", "DB011"):
        await imported.invitations.reissue(office, code)
    figures = await imported.dashboard.figures()
    assert figures.unsent == await imported.dashboard.unsent() == 78
    unsent = await desk.client.get("/office/delegates?sent=no")
    assert text_of(unsent.text, "found") == "Có 78 đại biểu phù hợp."
    rows = unsent.text.split('id="delegates"', 1)[1]
    assert ("DB010" in rows, "DB011" in rows, "DB013" in rows) == (True, False, False)
    # A page opened with a live link counts as reached.
    imported.ctx.clock.advance(timedelta(minutes=5))
    await imported.invitations.open_page(sent["DB012"], channel="web", client="c2")
    assert await imported.dashboard.unsent() == 77


async def test_an_answer_the_office_took_by_phone_counts_as_the_invitation_reached(
    desk: Desk, imported: Services
) -> None:
    # DB004 never opened his page, is on no chat, not marked sent: he phones in and says he
    # comes. The clerk working down «Chưa gửi giấy mời» must not send the invitation to
    # someone who already answered: the overview, the list's filter and his page agree.
    before = await imported.dashboard.unsent()
    assert before == 80
    page = await desk.post(
        "delegates/DB004/phone", "form-phone", {"choice": "attending"}, page="delegates/DB004",
    )  # fmt: skip
    assert "Đã ghi nhận trả lời qua điện thoại" in text_of(page.text, "flash")
    assert text_of(page.text, "invite-not-sent") == "Chưa đánh dấu đã gửi giấy mời."
    assert text_of(page.text, "invite-answered") == (
        "Văn phòng đã ghi nhận trả lời của đại biểu lúc 09:00, 18/5: giấy mời coi như đã đến,"
        " không còn tính vào «Chưa gửi giấy mời». Nếu đại biểu cần đường liên kết cá nhân (để"
        " xem thông báo, tài liệu), đề nghị gửi rồi đánh dấu như thường lệ."
    )
    assert 'id="form-sent"' in page.text  # marking the link sent stays possible
    figures = await imported.dashboard.figures()
    assert figures.unsent == await imported.dashboard.unsent() == 79
    overview = await desk.client.get("/office/")
    assert text_of(overview.text, "overview-unsent").startswith("Chưa gửi giấy mời: 79 đại biểu")
    unsent = await desk.client.get("/office/delegates?sent=no")
    assert text_of(unsent.text, "found") == "Có 79 đại biểu phù hợp."
    assert "DB004" not in unsent.text.split('id="delegates"', 1)[1]
    # Marked sent as well, he is counted once among those reached.
    await marked_sent(imported, "DB004", "phone")
    assert (await imported.dashboard.figures()).unsent == await imported.dashboard.unsent() == 79
    # His link reissued afterwards: the new link never reached him, his answer stands.
    imported.ctx.clock.advance(timedelta(minutes=5))
    await imported.invitations.reissue(imported.access.local_operator(), "DB004")
    assert (await imported.dashboard.figures()).unsent == await imported.dashboard.unsent() == 80
    again = await desk.client.get("/office/delegates/DB004")
    assert 'id="invite-answered"' not in again.text


async def test_opening_the_new_link_after_a_reissue_counts_as_reached_recorded_once_not_on_preview(
    desk: Desk, imported: Services
) -> None:
    # She opened her page with her first link; the link is reissued and sent again, and she
    # opens the new one in the same browser: her page was shown without a write, so she
    # stayed among those the invitation had not reached.
    from tests.web_support import web_for

    web = await web_for(imported)
    old = web.tokens["DB010"]
    assert (await web.client.get(f"/{old}")).status_code == 200
    base = await imported.dashboard.unsent()
    imported.ctx.clock.advance(timedelta(minutes=5))
    new = (await imported.invitations.reissue(imported.access.local_operator(), "DB010")).token
    assert new is not None
    assert await imported.dashboard.unsent() == base + 1

    async def linked_at() -> object:
        async with imported.ctx.sessions() as session:
            return await session.scalar(
                select(ChannelIdentity.linked_at)
                .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
                .where(Delegate.code == "DB010", ChannelIdentity.channel == "web")
            )

    first = await linked_at()
    # A chat's preview of the new link is not her opening it: nothing recorded.
    imported.ctx.clock.advance(timedelta(minutes=5))
    preview = await web.client.get(f"/{new}", headers={"user-agent": "TelegramBot (like X)"})
    assert preview.status_code == 200 and "Trịnh Văn Thắng" not in preview.text
    assert (await web.client.head(f"/{new}")).status_code == 200
    assert await linked_at() == first and await imported.dashboard.unsent() == base + 1
    # She opens it: reached, at that time.
    imported.ctx.clock.advance(timedelta(minutes=5))
    opened = await web.client.get(f"/{new}")
    assert opened.status_code == 200 and "Trịnh Văn Thắng" in opened.text
    assert await imported.dashboard.unsent() == base
    assert (await imported.dashboard.figures()).unsent == base
    card = await desk.client.get("/office/delegates/DB010")
    assert text_of(card.text, "invite-reached") == (
        "Đại biểu đã mở trang cá nhân bằng đường liên kết hiện tại lúc 09:15, 18/5: giấy mời đã "
        "đến, không cần gửi lại."
    )
    # Once per link: opened again later, nothing is written.
    recorded = await linked_at()
    assert recorded == local(2024, 5, 18, 9, 15)
    imported.ctx.clock.advance(timedelta(minutes=5))
    assert (await web.client.get(f"/{new}")).status_code == 200
    assert await linked_at() == recorded
    # The old link stays dead.
    assert (await web.client.get(f"/{old}")).status_code == 404
    await web.client.aclose()


async def test_her_page_says_the_invitation_already_reached_her_by_her_page_or_a_chat(
    desk: Desk, imported: Services
) -> None:
    sent = await tokens(imported)
    await imported.invitations.open_page(sent["DB010"], channel="web", client="c1")
    await imported.invitations.link_by_token(TELEGRAM, sent["DB011"])
    page = await desk.client.get("/office/delegates/DB010")
    assert text_of(page.text, "invite-reached") == (
        "Đại biểu đã mở trang cá nhân bằng đường liên kết hiện tại lúc 09:00, 18/5: giấy mời đã "
        "đến, không cần gửi lại."
    )
    chat = await desk.client.get("/office/delegates/DB011")
    assert text_of(chat.text, "invite-reached") == (
        "Đại biểu đã liên kết Telegram lúc 09:00, 18/5: thông báo của hội nghị đến qua kênh này, "
        "không cần gửi lại giấy mời."
    )
    assert 'id="invite-reached"' not in (await desk.client.get("/office/delegates/DB012")).text
    # Her link reissued: the page she opened with the old one says nothing of the new.
    imported.ctx.clock.advance(timedelta(minutes=5))
    await imported.invitations.reissue(imported.access.local_operator(), "DB010")
    again = await desk.client.get("/office/delegates/DB010")
    assert 'id="invite-reached"' not in again.text


async def test_her_page_says_the_chat_that_reached_her_is_blocked_and_to_phone_her(
    desk: Desk, imported: Services
) -> None:
    # Re-test s31 Z17: «thông báo của hội nghị đến qua kênh này» was said of a delegate whose
    # only chat had blocked the bot (the list and the overview said «Chưa liên lạc được»).
    sent = await tokens(imported)
    await imported.invitations.link_by_token(ZALO, sent["DB011"])
    imported.ctx.clock.advance(timedelta(minutes=16))
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.channel == "zalo")
            .values(unreachable_at=imported.ctx.clock.now())
        )
    card = await desk.client.get("/office/delegates/DB011")
    assert text_of(card.text, "invite-reached") == (
        "Đại biểu đã liên kết Zalo lúc 09:00, 18/5 nhưng đã chặn bot từ 09:16, 18/5: tin nhắn và "
        "thông báo của hội nghị không tới được đại biểu. Đề nghị gọi điện cho đại biểu."
    )
    # Another chat of hers still takes the bot's messages: they reach her there.
    await imported.invitations.link_by_token(TELEGRAM, sent["DB011"])
    card = await desk.client.get("/office/delegates/DB011")
    assert text_of(card.text, "invite-reached") == (
        "Đại biểu đã liên kết Telegram lúc 09:16, 18/5: thông báo của hội nghị đến qua kênh "
        "này, không cần gửi lại giấy mời."
    )


async def test_the_links_export_says_when_and_how_each_invitation_was_sent(
    desk: Desk, imported: Services
) -> None:
    await marked_sent(imported, "DB003", "zalo")
    response = await desk.client.get("/office/invitations/links.xlsx")
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "Đã gửi giấy mời"
    by_code = {row[0]: row[-1] for row in rows[1:]}
    assert (by_code["DB003"], by_code["DB004"]) == ("09:00, 18/5 qua Zalo", None)


async def test_each_way_sent_has_a_label_and_a_phrase_that_never_says_giay_moi_twice(
    desk: Desk, imported: Services
) -> None:
    # The radio buttons read as labels; the sentences «đã gửi …» read the phrase, never
    # «qua giấy» nor «qua cách khác», nor «giấy mời» twice («giấy mời bằng giấy mời bản giấy»).
    page = await desk.client.get("/office/delegates/DB010")
    form = page.text.split('id="form-sent"', 1)[1].split("</form>", 1)[0]
    labels = [part.split(">", 1)[1].split("<", 1)[0] for part in form.split("<label")[1:]]
    assert labels == ["Zalo", "SMS", "Điện thoại", "Giấy mời bản giấy", "Cách khác"]
    phrases = {
        "zalo": "qua Zalo", "sms": "qua tin nhắn SMS", "phone": "qua điện thoại",
        "paper": "bản giấy", "other": "bằng cách khác",
    }  # fmt: skip
    office = imported.access.local_operator()
    for via, phrase in phrases.items():
        live = await live_invitation(imported, "DB010")
        marked = await desk.post(
            "delegates/DB010/sent", "form-sent", {"invitation": str(live.id), "via": via},
            page="delegates/DB010",
        )  # fmt: skip
        assert text_of(marked.text, "flash") == (
            f"Đã ghi nhận: đã gửi giấy mời {phrase} cho đồng chí Trịnh Văn Thắng."
        )
        assert text_of(marked.text, "invite-sent") == (
            f"Đã gửi giấy mời {phrase} lúc 09:00, 18/5, do Phạm Thị Thanh Mai đánh dấu."
        )
        await imported.invitations.unmark_sent(office, "DB010", invitation=live.id)
    # A mark with no name kept (an operator without one): no «do  đánh dấu».
    live = await marked_sent(imported, "DB010", "paper")
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(update(Invitation).where(Invitation.id == live.id).values(sent_by=""))
    page = await desk.client.get("/office/delegates/DB010")
    assert text_of(page.text, "invite-sent") == ("Đã gửi giấy mời bản giấy lúc 09:00, 18/5.")
    en = load_catalog("en")
    assert [en.plain(f"sent_via_phrase.{via}") for via in phrases] == [
        "via Zalo", "via SMS", "via a phone call", "on paper", "via another channel",
    ]  # fmt: skip
    assert en.plain("export.sent", time="09:00, 18/5", via="via Zalo") == "09:00, 18/5 via Zalo"


async def test_no_way_sent_is_preselected_and_marking_without_one_records_nothing(
    desk: Desk, imported: Services
) -> None:
    # «Zalo» checked from the start: a clerk who sent an SMS and forgot recorded «qua Zalo».
    page = await desk.client.get("/office/delegates/DB010")
    form = page.text.split('id="form-sent"', 1)[1].split("</form>", 1)[0]
    assert form.count('type="radio"') == 5 and "checked" not in form
    assert 'id="sent-error"' not in page.text
    live = await live_invitation(imported, "DB010")
    fields = hidden(page.text, "form-sent")
    for via in ({}, {"via": ""}, {"via": "fax"}):  # none chosen, or a value no form offers
        answer = await desk.client.post(
            "/office/delegates/DB010/sent", data={**fields, "invitation": str(live.id), **via}
        )
        assert answer.status_code == 422
        refusal = text_of(answer.text, "sent-error")
        assert refusal == "Đề nghị đồng chí chọn cách đã gửi giấy mời."
        # Beside the form, which is there again to choose and send.
        form = answer.text.split('id="form-sent"', 1)[1].split("</form>", 1)[0]
        assert 'id="sent-error"' in form and "checked" not in form
        assert text_of(answer.text, "invite-not-sent") == "Chưa đánh dấu đã gửi giấy mời."
    assert await audited(imported, "invitation.sent") == []
    assert (await live_invitation(imported, "DB010")).sent_at is None


async def test_one_invitation_not_sent_is_said_in_the_singular_in_english(
    imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # All but DB010 marked sent: «1 delegate», not «1 delegates», on the English dashboard.
    async with imported.ctx.sessions() as session, session.begin():
        others = select(Delegate.id).where(Delegate.code != "DB010").scalar_subquery()
        await session.execute(
            update(Invitation)
            .where(Invitation.delegate_id.in_(others))
            .values(sent_at=imported.ctx.clock.now(), sent_via="sms", sent_by="x")
        )
    await make_staff(imported)
    # The dashboard speaks the plan's locale: this plan's in English (the services' own unchanged).
    plan = imported.config
    english = plan.model_copy(update={"meeting": plan.meeting.model_copy(update={"locale": "en"})})
    monkeypatch.setattr(Services, "config", property(lambda _: english))
    setup = web_setup(imported)
    transport = httpx.ASGITransport(app=build_web_app(setup), client=("203.0.113.9", 50001))
    desk = Desk(imported, httpx.AsyncClient(transport=transport, base_url=BASE))
    async with desk.client:
        await desk.sign_in()
        listing = await desk.client.get("/office/delegates")
        overview = await desk.client.get("/office/")
    one = (
        "Invitation not sent yet: 1 delegate (not marked as sent, no answer, no personal page"
        " opened, no chat linked). See the list"
    )
    assert text_of(listing.text, "unsent") == text_of(overview.text, "overview-unsent") == one


@pytest.mark.parametrize("second", ["mark", "reissue"])
async def test_a_colleague_acting_on_a_link_another_process_reissues_waits_and_is_told_it_changed(
    imported: Services, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    # On PostgreSQL a clerk re-issues DB010's link while a colleague, on a page showing the old
    # one, marks it sent or re-issues it too: the colleague waits for the re-issue's lock on
    # the link, then is told it changed — not that she has no invitation, and no second link.
    from storage import queries
    from tests.conftest import until_waiting

    needs_postgres()
    invitations = imported.invitations
    office = imported.access.local_operator()
    live = await live_invitation(imported, "DB010")
    in_use = queries.link_code_in_use
    revoked, commit = asyncio.Event(), asyncio.Event()

    async def the_reissue_holds(*args: Any, **kwargs: Any) -> bool:
        if not revoked.is_set():
            revoked.set()
            await commit.wait()
        return await in_use(*args, **kwargs)

    async def the_colleague() -> Any:
        if second == "mark":
            return await invitations.mark_sent(office, "DB010", invitation=live.id, via="zalo")
        return await invitations.reissue(office, "DB010", replacing=live.id)

    monkeypatch.setattr(queries, "link_code_in_use", the_reissue_holds)
    async with asyncio.timeout(30):
        reissue = asyncio.create_task(invitations.reissue(office, "DB010", replacing=live.id))
        await revoked.wait()
        colleague = asyncio.create_task(the_colleague())
        await until_waiting(engine, 1, colleague)
        waited = not colleague.done()
        commit.set()
        reissued, answered = await reissue, await colleague
    assert waited, "the colleague did not wait: the old link was read unlocked"
    told = SentStep.LINK_CHANGED if second == "mark" else OfficeStep.ALREADY_REISSUED
    assert (reissued.step, answered.step) == (OfficeStep.REISSUED, told)
    assert (await live_invitation(imported, "DB010")).sent_at is None
    assert await audited(imported, "invitation.sent") == []
    async with imported.ctx.sessions() as session:
        live_links = await session.scalar(
            select(func.count())
            .select_from(Invitation)
            .join(Delegate, Delegate.id == Invitation.delegate_id)
            .where(Delegate.code == "DB010", Invitation.revoked_at.is_(None))
        )
    assert live_links == 1


def bulk_form(html: str, **fields: str | list[str]) -> dict[str, str | list[str]]:
    """The bulk «đã gửi» form of the list «Đại biểu» as the page wrote it: its signature, when
    the list was shown, the filters to come back to, and ``fields``."""
    start = html.index('id="form-bulk-sent"')
    form = html[start : html.index("</form>", start)]
    shown = form.split('name="shown" value="', 1)[1].split('"', 1)[0]
    back = form.split('name="back" value="', 1)[1].split('"', 1)[0]
    signed = hidden(html, "form-bulk-sent")
    return {**signed, "shown": shown, "back": html_lib.unescape(back), **fields}


def page_codes(html: str) -> list[str]:
    """The codes the list's page holds, as its form carries them."""
    return re.findall(r'name="page_code" value="([^"]+)"', html)


async def test_the_bulk_mark_bar_sits_beside_choose_all_above_the_rows_and_names_its_own_note(
    desk: Desk, imported: Services
) -> None:
    page = await desk.client.get("/office/delegates")
    form = text_between(page.text, 'id="form-bulk-sent"', "</form>")
    bar = text_between(form, 'id="bulk-bar"', 'id="delegates"')
    # «Chọn tất cả», the ways and the button in one bar, before the first row, not after the
    # last (81 rows: some 5,000 px down at a desk).
    assert 'id="bulk-all"' in bar and 'id="bulk-paper"' in bar and 'id="bulk-sent-button"' in bar
    assert form.index('id="bulk-sent-button"') < form.index('id="pick-DB001"')
    # The browser's check before sending (ticks kept) says the page's own sentence.
    assert 'data-required="Đề nghị đồng chí chọn cách đã gửi giấy mời."' in bar


async def test_the_list_marks_the_people_chosen_sent_on_paper_once_skipping_contacts_and_withdrawn(
    desk: Desk, imported: Services
) -> None:
    office = imported.access.local_operator()
    already = await live_invitation(imported, "DB011")
    await imported.invitations.mark_sent(office, "DB011", invitation=already.id, via="zalo")
    await imported.withdrawals.withdraw(office, "DB012", "Đi công tác")
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Delegate).where(Delegate.code == "DB003").values(role="contact")
        )
    page = await desk.client.get("/office/delegates")
    assert text_of(page.text, "bulk-bar").startswith("Chọn tất cả trên trang này")
    assert 'id="bulk-paper" name="via" value="paper" required>' in page.text  # no guess
    # DB003 is no longer on the list; a form kept open from before names her all the same.
    data = bulk_form(page.text, via="paper", code=["DB010", "DB011", "DB012", "DB003"])
    sent = await desk.client.post("/office/delegates/mark-sent", data=data)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/office/delegates?f=")
    shown = await desk.client.get(sent.headers["location"])
    # The slips were never made here: marked as told, and said so.
    assert text_of(shown.text, "flash") == (
        "Đã ghi nhận: đã gửi giấy mời bản giấy cho 1 đại biểu. 1 đại biểu đã được "
        "đánh dấu từ trước, giữ nguyên. Bỏ qua 1 người phụ trách nhiệm vụ (không phải đại biểu "
        "được mời): DB003. Bỏ qua 1 đại biểu đã rút giấy mời: DB012. " + NO_PRINT
    )
    marked = await live_invitation(imported, "DB010")
    assert (marked.sent_via, marked.sent_at) == ("paper", local(2024, 5, 18, 9, 0))
    assert (await live_invitation(imported, "DB011")).sent_via == "zalo"  # kept as it was
    for code in ("DB012", "DB003"):
        assert (await live_invitation(imported, code)).sent_at is None
    # Audited per person, as one mark is: never the link, never her phone.
    entries = await audited(imported, "invitation.sent")
    assert sorted((e.entity_id, e.after["via"]) for e in entries if e.after) == sorted(
        [(already.delegate_id, "zalo"), (marked.delegate_id, "paper")]
    )
    assert all(e.actor == f"dashboard:{STAFF}" for e in entries if e.after == {"via": "paper"})
    history = await desk.client.get("/office/delegates/DB010")
    assert "Phạm Thị Thanh Mai: đánh dấu đã gửi giấy mời" in text_of(history.text, "history")
    # A double tap: the same form again marks no one more.
    again = await desk.client.post("/office/delegates/mark-sent", data=data)
    told = text_of((await desk.client.get(again.headers["location"])).text, "flash")
    assert told.startswith(
        "Không đánh dấu thêm đại biểu nào. 2 đại biểu đã được đánh dấu từ trước, giữ nguyên."
    )
    assert len(await audited(imported, "invitation.sent")) == 2


async def test_a_bulk_mark_folded_on_the_overview_links_to_the_log_filtered_on_it(
    desk: Desk, imported: Services
) -> None:
    # The overview folds the bulk mark into one «đánh dấu đã gửi giấy mời — 3 lượt» line whose
    # «Xem trong nhật ký» asks the log for that kind of change; the log knew no such kind and
    # showed every change unfiltered, its «Loại thay đổi» unable to choose it either.
    page = await desk.client.get("/office/delegates")
    data = bulk_form(page.text, via="paper", code=["DB010", "DB011", "DB013"])
    await desk.client.post("/office/delegates/mark-sent", data=data)
    overview = (await desk.client.get("/office/")).text
    link = '<a href="/office/log?action=invitation.sent">Xem trong nhật ký</a>'
    assert link in overview
    log = (await desk.client.get("/office/log?action=invitation.sent")).text
    assert text_of(log, "found") == "Có 3 thay đổi phù hợp."
    assert '<option value="invitation.sent" selected>' in log
    assert '<option value="invitation.unsent"' in log


async def test_choosing_everyone_on_the_filtered_page_without_a_script_marks_them_all_once(
    desk: Desk, imported: Services
) -> None:
    page = await desk.client.get("/office/delegates?sent=no")
    codes = page_codes(page.text)
    unsent = await imported.dashboard.unsent()
    assert len(codes) == unsent > 70
    # «Chọn tất cả trên trang này» ticked, no row's box (no script ticked them): the page's
    # people are marked, by the way chosen.
    data = bulk_form(page.text, via="phone", all="yes", page_code=codes)
    sent = await desk.client.post("/office/delegates/mark-sent", data=data)
    # Back to the list as it was filtered.
    assert sent.headers["location"].startswith("/office/delegates?sent=no&f=")
    shown = await desk.client.get(sent.headers["location"])
    assert text_of(shown.text, "flash") == (
        f"Đã ghi nhận: đã gửi giấy mời qua điện thoại cho {unsent} đại biểu."
    )
    assert await imported.dashboard.unsent() == 0
    assert len(await audited(imported, "invitation.sent")) == unsent
    assert 'id="unsent"' not in shown.text


async def test_a_bulk_mark_skips_a_link_reissued_after_the_list_was_shown_and_needs_a_choice(
    desk: Desk, imported: Services
) -> None:
    page = await desk.client.get("/office/delegates")
    nothing = await desk.client.post(
        "/office/delegates/mark-sent", data=bulk_form(page.text, via="paper")
    )
    assert text_of((await desk.client.get(nothing.headers["location"])).text, "flash") == (
        "Chưa chọn đại biểu nào: đề nghị đánh dấu ô ở đầu dòng của từng người, hoặc «Chọn tất "
        "cả trên trang này»."
    )
    imported.ctx.clock.advance(timedelta(minutes=5))
    await imported.invitations.reissue(imported.access.local_operator(), "DB010")
    data = bulk_form(page.text, via="zalo", code=["DB010", "DB013", "XX999"])
    sent = await desk.client.post("/office/delegates/mark-sent", data=data)
    assert text_of((await desk.client.get(sent.headers["location"])).text, "flash") == (
        "Đã ghi nhận: đã gửi giấy mời qua Zalo cho 1 đại biểu. Bỏ qua 1 đại biểu "
        + CHANGED
        + ": DB010. Không có 1 mã sau trong danh sách: XX999."
    )
    assert (await live_invitation(imported, "DB010")).sent_at is None
    assert (await live_invitation(imported, "DB013")).sent_via == "zalo"


# What a bulk mark on paper says when no print (slips or links list) is recorded, and of a link made
# after the last print or after the list was shown.
NO_PRINT = (
    "Chưa ghi nhận lần in giấy mời nào trong hệ thống (lệnh in phiếu hoặc xuất danh sách đường "
    "liên kết, hay nút tải phiếu hoặc danh sách đường liên kết), nên vẫn đánh dấu như đồng chí "
    "chọn. Đề nghị đồng chí kiểm tra giấy mời đã phát mang đường liên kết hiện tại của từng người."
)
CHANGED = (
    "được cấp lại đường liên kết sau lần in giấy mời gần nhất hoặc sau khi danh sách hiện ra "
    "(giấy mời đã phát không mang đường liên kết hiện tại)"
)


async def test_a_bulk_mark_without_a_way_chosen_records_nothing_and_asks_for_one(
    desk: Desk, imported: Services
) -> None:
    page = await desk.client.get("/office/delegates")
    assert " checked" not in text_between(page.text, 'id="form-bulk-sent"', "</form>")
    sent = await desk.client.post(
        "/office/delegates/mark-sent", data=bulk_form(page.text, code=["DB010", "DB013"])
    )
    shown = await desk.client.get(sent.headers["location"])
    assert text_of(shown.text, "flash") == "Đề nghị đồng chí chọn cách đã gửi giấy mời."
    assert 'class="text flash error"' in shown.text
    assert await audited(imported, "invitation.sent") == []
    for code in ("DB010", "DB013"):
        assert (await live_invitation(imported, code)).sent_at is None


async def test_a_bulk_mark_on_paper_skips_a_link_made_after_the_slips_were_downloaded(
    desk: Desk, imported: Services
) -> None:
    # The guide's flow: the slips downloaded to print, handed out, then everyone marked. A
    # link re-issued between the print and the mark is not on any slip.
    page = await desk.client.get("/office/delegates")
    imported.ctx.clock.advance(timedelta(minutes=1))
    slips = await desk.client.get("/office/invitations/slips.docx")
    assert slips.status_code == 200
    [printed] = await audited(imported, "invitation.printed")
    assert (printed.at, printed.actor) == (local(2024, 5, 18, 9, 1), f"dashboard:{STAFF}")
    assert (printed.entity, printed.before, printed.after) == ("meeting", None, {"file": "slips"})
    imported.ctx.clock.advance(timedelta(minutes=5))
    await imported.invitations.reissue(imported.access.local_operator(), "DB010")
    # The list was shown before the print: the print is what the slips carry.
    data = bulk_form(page.text, via="paper", code=["DB010", "DB013"])
    sent = await desk.client.post("/office/delegates/mark-sent", data=data)
    assert text_of((await desk.client.get(sent.headers["location"])).text, "flash") == (
        "Đã ghi nhận: đã gửi giấy mời bản giấy cho 1 đại biểu. Bỏ qua 1 đại biểu "
        + CHANGED
        + ": DB010."
    )
    assert (await live_invitation(imported, "DB010")).sent_at is None
    assert (await live_invitation(imported, "DB013")).sent_via == "paper"
    # Another way than paper: the print does not matter, the list shown alone does.
    office = imported.access.local_operator()
    marked = await imported.invitations.mark_sent_many(office, ["DB010"], via="zalo")
    assert (marked.marked, marked.changed, marked.no_print) == (("DB010",), (), False)


async def test_a_bulk_mark_on_paper_counts_a_link_the_downloaded_links_list_carried(
    desk: Desk, imported: Services
) -> None:
    # The slips printed, then DB010's link re-issued and the links list downloaded: the office
    # prints her letter from it (a mail merge). Her new link is on paper: the list counts as a
    # print (the last one), and the bulk mark on paper marks her; a link re-issued after the
    # list still is not.
    slips = await desk.client.get("/office/invitations/slips.docx")
    assert slips.status_code == 200
    imported.ctx.clock.advance(timedelta(minutes=5))
    office = imported.access.local_operator()
    await imported.invitations.reissue(office, "DB010")
    imported.ctx.clock.advance(timedelta(minutes=1))
    links = await desk.client.get("/office/invitations/links.xlsx")
    assert links.status_code == 200
    last = (await audited(imported, "invitation.printed"))[-1]
    assert (last.at, last.actor, last.after) == (
        imported.ctx.clock.now(), f"dashboard:{STAFF}", {"file": "links"},
    )  # fmt: skip
    # The log says which file took the links away.
    from bot.services.report_file import change_lines

    vi, plan = load_catalog("vi"), imported.config
    assert change_lines(vi, plan, last.action, last.before, last.after, {}) == [
        "Tệp: danh sách đường liên kết"
    ]
    imported.ctx.clock.advance(timedelta(minutes=1))
    await imported.invitations.reissue(office, "DB013")
    imported.ctx.clock.advance(timedelta(minutes=1))
    page = await desk.client.get("/office/delegates")
    data = bulk_form(page.text, via="paper", code=["DB010", "DB013"])
    sent = await desk.client.post("/office/delegates/mark-sent", data=data)
    assert text_of((await desk.client.get(sent.headers["location"])).text, "flash") == (
        "Đã ghi nhận: đã gửi giấy mời bản giấy cho 1 đại biểu. Bỏ qua 1 đại biểu "
        + CHANGED
        + ": DB013."
    )
    assert (await live_invitation(imported, "DB010")).sent_via == "paper"
    assert (await live_invitation(imported, "DB013")).sent_at is None


async def test_every_unsent_on_paper_leaves_out_a_link_made_after_the_last_print(
    imported: Services,
) -> None:
    invitations, office = imported.invitations, imported.access.local_operator()
    clock = imported.ctx.clock
    await invitations.record_print(office, clock.now())
    clock.advance(timedelta(minutes=5))
    await invitations.reissue(office, "DB010")
    clock.advance(timedelta(minutes=5))
    await invitations.record_print(office, clock.now() - timedelta(minutes=8))  # an older one
    result = await invitations.mark_sent_many(office, None, via="paper")
    assert (result.changed, result.no_link, result.no_print) == (("DB010",), (), False)
    assert "DB010" not in result.marked and len(result.marked) == 79
    # Printed again: her new link is on the new slips.
    await invitations.record_print(office, clock.now())
    again = await invitations.mark_sent_many(office, None, via="paper")
    assert (again.marked, again.changed) == (("DB010",), ())


async def test_a_reissue_during_a_bulk_mark_is_reported_as_a_changed_link_not_as_none(
    imported: Services, engine: AsyncEngine
) -> None:
    # On PostgreSQL the bulk mark waits for the re-issue's lock on her old row, then finds it
    # revoked; the new row, committed with it, is seen only by a later statement. One mark
    # reads again and says «changed»; the bulk mark said «no link» (the same rule now).
    from bot.domain.tokens import new_link_code, new_token
    from tests.conftest import until_waiting

    needs_postgres()
    office = imported.access.local_operator()
    old = await live_invitation(imported, "DB010")
    now = imported.ctx.clock.now()
    async with asyncio.timeout(30):
        async with imported.ctx.sessions() as session, session.begin():
            await session.execute(
                update(Invitation).where(Invitation.id == old.id).values(revoked_at=now)
            )
            session.add(
                Invitation(
                    delegate_id=old.delegate_id, token=new_token(), link_code=new_link_code(),
                    created_at=now,
                )
            )  # fmt: skip
            await session.flush()
            bulk = asyncio.create_task(
                imported.invitations.mark_sent_many(office, ["DB010", "DB013"], via="zalo")
            )
            await until_waiting(engine, 1, bulk)
            assert not bulk.done(), "the bulk mark did not wait for the re-issue's lock"
        result = await bulk
    assert (result.marked, result.changed, result.no_link) == (("DB013",), ("DB010",), ())
    assert (await live_invitation(imported, "DB010")).sent_at is None


def text_between(html: str, start: str, end: str) -> str:
    """The page's text from ``start`` to the first ``end`` after it."""
    at = html.index(start)
    return html[at : html.index(end, at)]
