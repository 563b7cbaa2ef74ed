"""Office staff sign in to the dashboard with a one-time link (``/dangnhap`` in their own chat,
or ``hoinghi staff login CODE``): once, within ten minutes; then a session cookie for a working
day; sign-out, the list of one's sessions and "sign out everywhere" — every step audited with
the staff member's name. Nothing else opens the dashboard."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from bot.chat import Inbox
from bot.cli import main
from bot.domain.channels import ChannelInfo, Chat, ChatAccount
from bot.domain.inbound import Command
from bot.domain.outbound import TextPart
from bot.services import Services
from bot.services.access import Access, OfficeActor, Role
from bot.services.report_file import change_lines
from bot.services.signin import Ended, LinkState, _lock_person, digest
from bot.texts import load_catalog
from storage import queries
from storage.models import AuditEntry, Delegate, StaffSession
from storage.uow import unit_of_work
from tests.channels.text_channel import CAPABILITIES
from tests.office_support import STAFF, STAFF_NAME, Desk, desk_for, hidden, make_staff, text_of


@pytest.fixture
async def desk(imported: Services) -> AsyncIterator[Desk]:
    await make_staff(imported)
    desk = await desk_for(imported)
    yield desk
    await desk.client.aclose()


async def audit(services: Services, prefix: str = "staff.") -> list[AuditEntry]:
    async with services.ctx.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
        )
        return list(rows)


async def test_a_sign_in_link_opens_one_session_once_and_both_steps_are_audited_by_name(
    desk: Desk, imported: Services
) -> None:
    link = await imported.signin.link_for_code(STAFF)
    assert link.secret is not None
    # Opening the link (as a chat's link preview does) spends nothing: only the button does.
    for _ in range(2):
        page = await desk.client.get(f"/office/signin/{link.secret}")
        assert page.status_code == 200 and 'id="form-signin"' in page.text
    signed = await desk.use_link(link.secret)
    assert signed.status_code == 303 and signed.headers["location"] == "/office/"
    overview = await desk.client.get("/office/")
    assert overview.status_code == 200
    assert text_of(overview.text, "staff-name") == STAFF_NAME
    # The same link a second time, from another browser: it opened its session already.
    other = await desk_for(imported)
    again = await other.use_link(link.secret)
    assert again.status_code == 410 and 'id="message-link_spent"' in again.text
    assert (await other.client.get("/office/")).status_code == 401
    await other.client.aclose()
    entries = await audit(imported)
    assert [(e.action, e.actor) for e in entries] == [
        ("staff.link_issued", "cli"),
        ("staff.signed_in", f"dashboard:{STAFF}"),
    ]
    assert entries[1].after is not None and entries[1].after["name"] == STAFF_NAME
    # Only digests are stored: no secret that opens anything is in the database.
    async with imported.ctx.sessions() as session:
        stored = set(await session.scalars(select(StaffSession.token_hash)))
    assert digest(link.secret) in stored and link.secret not in stored


async def test_a_sign_in_link_expires_at_ten_minutes(desk: Desk, imported: Services, clock) -> None:
    early = await imported.signin.link_for_code(STAFF)
    late = await imported.signin.link_for_code(STAFF)
    assert early.secret is not None and late.secret is not None
    clock.advance(timedelta(minutes=9, seconds=59))
    assert (await desk.use_link(early.secret)).status_code == 303
    clock.advance(timedelta(seconds=1))  # ten minutes after it was made
    expired = await desk.client.get(f"/office/signin/{late.secret}")
    assert expired.status_code == 410
    assert await imported.signin.redeem(late.secret, browser="x") is None


async def test_the_session_cookie_is_httponly_samesite_lax_scoped_and_lasts_a_working_day(
    desk: Desk, imported: Services, clock
) -> None:
    signed = await desk.sign_in()
    # The session's cookie (a desk's from an earlier session is dropped beside it).
    [cookie] = [c for c in signed.headers.get_list("set-cookie") if c.startswith("hoinghi_office=")]
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in cookie.split(";")}
    assert "httponly" in parts and parts["samesite"].lower() == "samesite=lax"
    assert parts["path"] == "Path=/office" and parts["max-age"] == "Max-Age=36000"
    assert "secure" not in parts  # served over http: a Secure cookie would never come back
    clock.advance(timedelta(hours=9, minutes=59))
    assert (await desk.client.get("/office/")).status_code == 200
    clock.advance(timedelta(minutes=1))  # [web] office_session_hours = 10
    ended = await desk.client.get("/office/")
    assert ended.status_code == 401 and 'id="signin-how"' in ended.text
    assert text_of(ended.text, "signin-ended") == (
        "Phiên đăng nhập trên trình duyệt này đã hết hạn hoặc đã được đăng xuất."
    )
    # A form sent after the end is said not done: the clerk knows to do it again.
    posted = await desk.client.post("/office/delegates/DB010/phone", data={"choice": "attending"})
    assert posted.status_code == 401
    assert "chưa được thực hiện" in text_of(posted.text, "signin-ended")


async def test_a_notice_posted_after_the_session_ended_is_said_unsaved_and_shown_back_to_copy(
    desk: Desk, imported: Services
) -> None:
    # Signed out in another tab (or the cookie gone with the session's end, as a browser drops
    # it at its max-age): the form comes with no cookie at all. It is still said that the
    # session ended and nothing was done, and the text she wrote is on the page, to copy.
    await desk.sign_in()
    page = (await desk.client.get("/office/notices")).text
    fields = hidden(page, "form-notice")
    signed_out = await desk.client.post("/office/signout", data=hidden(page, "form-signout"))
    assert signed_out.status_code == 200 and "hoinghi_office" not in desk.client.cookies
    body = "Kính gửi các đồng chí đại biểu,\nHội nghị <b>bắt đầu</b> lúc 07:30 & kết thúc 11:00."
    posted = await desk.client.post(
        "/office/notices/preview",
        data={**fields, "body": body, "audience": "linked"},
        headers={"origin": "http://testserver"},
    )
    assert posted.status_code == 401
    assert text_of(posted.text, "signin-ended") == ENDED_NOT_DONE
    assert text_of(posted.text, "signin-typed-about") == (
        "Nội dung đồng chí vừa nhập chưa được lưu và còn nguyên ở khung dưới đây. Đề nghị chép "
        "lại (bấm vào khung, chọn tất cả rồi sao chép) trước khi đăng nhập lại, rồi dán vào "
        "trang cũ."
    )
    assert html.unescape(text_of(posted.text, "signin-typed-1")) == body
    assert text_of(posted.text, "signin-typed-1-label") == "Nội dung thông báo"
    # From another site's page: nothing of its post is shown on ours.
    forged = await desk.client.post(
        "/office/notices/preview",
        data={**fields, "body": body, "audience": "linked"},
        headers={"origin": "https://elsewhere.example"},
    )
    assert forged.status_code == 401
    assert 'id="signin-typed' not in forged.text and "bắt đầu" not in forged.text


async def test_every_box_of_a_phone_answer_posted_after_the_session_ended_is_shown_under_its_label(
    desk: Desk, imported: Services
) -> None:
    # Only the reason came back, in a box saying nothing of where it came from: the
    # substitute's name, position and unit typed while on the phone were lost.
    await desk.sign_in()
    page = (await desk.client.get("/office/delegates/DB010")).text
    fields = hidden(page, "form-phone")
    await desk.client.post("/office/signout", data=hidden(page, "form-signout"))
    typed = {"name": "Nguyễn Thị Hoa", "position": "Phó Chủ tịch", "unit": "Hội LHPN quận Ba Đình"}
    posted = await desk.client.post(
        "/office/delegates/DB010/phone",
        data={**fields, "answer": "substitute", **typed},
        headers={"origin": "http://testserver"},
    )
    assert posted.status_code == 401
    shown = [
        (text_of(posted.text, f"signin-typed-{n}-label"), text_of(posted.text, f"signin-typed-{n}"))
        for n in (1, 2, 3)
    ]
    assert shown == [
        ("Họ và tên người dự thay", "Nguyễn Thị Hoa"),
        ("Chức vụ của người dự thay", "Phó Chủ tịch"),
        ("Đơn vị của người dự thay", "Hội LHPN quận Ba Đình"),
    ]
    assert 'id="signin-typed-4"' not in posted.text  # the reason, left empty: no box


async def test_a_sheet_name_sent_with_a_list_after_the_session_ended_is_shown_back(
    desk: Desk, imported: Services
) -> None:
    # The import's form is multipart: its sheet's name, typed before the file, is shown back
    # under its label as the other forms' texts are (the file is chosen again anyway).
    await desk.sign_in()
    page = (await desk.client.get("/office/import")).text
    fields = hidden(page, "form-import")
    await desk.client.post("/office/signout", data=hidden(page, "form-signout"))
    parts = {name: (None, value) for name, value in {**fields, "sheet": "Đại biểu"}.items()}
    posted = await desk.client.post(
        "/office/import",
        files={**parts, "file": ("dai-bieu.csv", b"Ma,Ho va ten\n", "text/csv")},
        headers={"origin": "http://testserver"},
    )
    assert posted.status_code == 401
    assert text_of(posted.text, "signin-typed-1-label") == (
        "Tên trang tính trong tệp danh sách đại biểu"
    )
    assert text_of(posted.text, "signin-typed-1") == "Đại biểu"


async def test_behind_https_the_cookie_is_secure(imported: Services) -> None:
    await make_staff(imported)
    desk = await desk_for(imported, base_url="https://hoinghi.example.vn")
    signed = await desk.sign_in()
    assert "secure" in signed.headers["set-cookie"].lower()
    await desk.client.aclose()


async def test_signing_out_ends_this_session_only_and_everywhere_ends_them_all(
    desk: Desk, imported: Services
) -> None:
    laptop, phone, tablet = desk, await desk_for(imported), await desk_for(imported)
    for browser in (laptop, phone, tablet):
        await browser.sign_in()
    listed = await laptop.client.get("/office/sessions")
    assert listed.text.count('id="form-end-') == 3 + 1  # one per session, and "everywhere"
    out = await phone.post("signout", "form-signout", {}, page="")
    assert out.status_code == 200 and 'id="message-signed_out"' in out.text
    assert (await phone.client.get("/office/")).status_code == 401
    assert (await laptop.client.get("/office/")).status_code == 200
    everywhere = await laptop.post(
        "sessions/end", "form-end-all", {"session": "all"}, page="sessions"
    )
    assert text_of(everywhere.text, "message-signed_out_everywhere") == (
        "Đồng chí đã đăng xuất 2 phiên đăng nhập trang điều hành, kể cả phiên trên trình duyệt"
        " này; không có đường liên kết đăng nhập nào chưa dùng. Để đăng nhập lại, gửi lệnh"
        " /dangnhap trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    for browser in (laptop, tablet):
        assert (await browser.client.get("/office/")).status_code == 401
    actions = [e.action for e in await audit(imported)]
    assert actions.count("staff.signed_in") == 3
    assert actions[-2:] == ["staff.signed_out", "staff.signed_out_everywhere"]
    for browser in (phone, tablet):
        await browser.client.aclose()


async def test_signing_out_everywhere_also_cancels_her_unspent_sign_in_links_and_says_so(
    desk: Desk, imported: Services
) -> None:
    # She lost her phone: a link sent to it by /dangnhap and not opened yet must die with the
    # sessions, or whoever holds the phone signs in after she has "signed out everywhere".
    laptop, phone = desk, await desk_for(imported)
    for browser in (laptop, phone):
        await browser.sign_in()
    unspent = await imported.signin.link_for_code(STAFF)
    assert unspent.secret is not None
    everywhere = await laptop.post(
        "sessions/end", "form-end-all", {"session": "all"}, page="sessions"
    )
    finder = await desk_for(imported)
    opened = await finder.use_link(unspent.secret)  # opened on the lost phone, and pressed
    assert opened.status_code == 410
    assert text_of(opened.text, "message-link_spent") == (
        "Đường liên kết đăng nhập này đã được dùng, đã quá 10 phút, hoặc đã bị hủy khi đăng xuất"
        " ở mọi nơi. Đề nghị đồng chí gửi lại lệnh /dangnhap để nhận đường liên kết mới; tình"
        " nguyện viên bàn đón tiếp xin cán bộ Văn phòng cấp đường liên kết mới ở mục «Cán bộ» của"
        " trang điều hành."
    )
    assert (await finder.client.get("/office/")).status_code == 401
    # And the page she reads says so.
    assert text_of(everywhere.text, "message-signed_out_everywhere") == (
        "Đồng chí đã đăng xuất 2 phiên đăng nhập trang điều hành, kể cả phiên trên trình duyệt"
        " này, và hủy 1 đường liên kết đăng nhập chưa dùng: các đường liên kết đó không mở được"
        " trang điều hành nữa. Để đăng nhập lại, gửi lệnh /dangnhap trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    # The log says what ended: both sessions, and the link by its number.
    async with imported.ctx.sessions() as session:
        rows = list(await session.scalars(select(StaffSession).order_by(StaffSession.id)))
    sessions = [row.id for row in rows if row.kind == "session"]
    [link] = [row.id for row in rows if row.token_hash == digest(unspent.secret)]
    entry = (await audit(imported))[-1]
    assert entry.action == "staff.signed_out_everywhere"
    assert entry.after == {"name": STAFF_NAME, "sessions": sessions, "links": [link]}
    lines = change_lines(
        load_catalog("vi"), imported.ctx.config, entry.action, entry.before, entry.after, {}
    )
    assert lines[1:] == [
        f"Phiên đăng nhập đã kết thúc, số: {sessions[0]}, {sessions[1]}",
        f"Đường liên kết đăng nhập chưa dùng đã hủy, số: {link}",
    ]
    for browser in (phone, finder):
        await browser.client.aclose()


async def test_signing_out_of_one_session_leaves_her_unspent_sign_in_link_working(
    desk: Desk, imported: Services
) -> None:
    laptop, phone = desk, await desk_for(imported)
    for browser in (laptop, phone):
        await browser.sign_in()
    unspent = await imported.signin.link_for_code(STAFF)
    assert unspent.secret is not None
    listed = (await laptop.client.get("/office/sessions")).text
    other = re.findall(r'id="form-end-(\d+)"', listed)[0]  # the newest first: the phone's
    ended = await laptop.post(
        "sessions/end", f"form-end-{other}", {"session": other}, page="sessions"
    )
    assert text_of(ended.text, "flash") == "Đã đăng xuất phiên đã chọn."
    assert (await phone.client.get("/office/")).status_code == 401
    out = await laptop.post("signout", "form-signout", {}, page="")
    assert 'id="message-signed_out"' in out.text
    tablet = await desk_for(imported)
    assert (await tablet.use_link(unspent.secret)).status_code == 303
    assert (await tablet.client.get("/office/")).status_code == 200
    for browser in (phone, tablet):
        await browser.client.aclose()


async def test_a_link_pressed_as_she_signs_out_everywhere_opens_no_session_that_outlives_it(
    desk: Desk, imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lost phone's link is pressed at the very moment she signs out everywhere on the
    # laptop: her sign-out runs while the link is being redeemed, once the link is found and
    # her role read (where redeeming waited for the database between two transactions). If
    # redeeming has no such moment, the sign-out comes after it, as it then must.
    laptop = desk
    await laptop.sign_in()
    lost = await imported.signin.link_for_code(STAFF)
    assert lost.secret is not None and lost.person is not None
    office_person = Access.office_person
    ended: list[Ended] = []

    async def signs_out_meanwhile(self: Access, person_id: int) -> OfficeActor | None:
        actor = await office_person(self, person_id)
        assert actor is not None
        ended.append(await imported.signin.sign_out_everywhere(actor))
        return actor

    monkeypatch.setattr(Access, "office_person", signs_out_meanwhile)
    finder = await desk_for(imported)
    await finder.use_link(lost.secret)
    monkeypatch.undo()
    if not ended:
        actor = await imported.access.office_person(laptop_person := lost.person.id)
        assert actor is not None and actor.person_id == laptop_person
        ended.append(await imported.signin.sign_out_everywhere(actor))
    # Whichever came first, the lost phone is not signed in afterwards.
    assert (await finder.client.get("/office/")).status_code == 401
    assert (await laptop.client.get("/office/")).status_code == 401
    async with imported.ctx.sessions() as session:
        live = await session.scalar(
            select(func.count(StaffSession.id)).where(StaffSession.ended_at.is_(None))
        )
    assert live == 0
    await finder.client.aclose()


async def test_signing_out_everywhere_neither_counts_nor_ends_a_link_or_session_that_ran_out(
    desk: Desk, imported: Services, clock
) -> None:
    phone, laptop = await desk_for(imported), desk
    await phone.sign_in()
    clock.advance(timedelta(hours=9))
    old_link = await imported.signin.link_for_code(STAFF)
    assert old_link.secret is not None
    await laptop.sign_in()
    clock.advance(timedelta(hours=1))  # the phone's ten hours are over, the link's ten minutes
    everywhere = await laptop.post(
        "sessions/end", "form-end-all", {"session": "all"}, page="sessions"
    )
    assert text_of(everywhere.text, "message-signed_out_everywhere") == (
        "Đồng chí đã đăng xuất phiên đăng nhập trên trình duyệt này (không còn phiên nào khác);"
        " không có đường liên kết đăng nhập nào chưa dùng. Để đăng nhập lại, gửi lệnh /dangnhap"
        " trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    async with imported.ctx.sessions() as session:
        rows = list(await session.scalars(select(StaffSession).order_by(StaffSession.id)))
    # The phone's link and session, the old link, the laptop's link and session.
    [_, ran_out, unspent, _, laptops] = rows
    assert ran_out.kind == "session" and unspent.token_hash == digest(old_link.secret)
    # What ran out keeps no end of a sign-out: the log names the laptop's session alone.
    assert ran_out.ended_at is None and unspent.ended_at is None
    entry = (await audit(imported))[-1]
    assert entry.action == "staff.signed_out_everywhere"
    assert entry.after == {"name": STAFF_NAME, "sessions": [laptops.id]}
    await phone.client.aclose()


async def test_signing_out_everywhere_with_one_session_and_a_link_says_this_browser_and_the_link(
    desk: Desk, imported: Services
) -> None:
    await desk.sign_in()
    unspent = await imported.signin.link_for_code(STAFF)
    assert unspent.secret is not None
    everywhere = await desk.post("sessions/end", "form-end-all", {"session": "all"},
                                 page="sessions")  # fmt: skip
    assert text_of(everywhere.text, "message-signed_out_everywhere") == (
        "Đồng chí đã đăng xuất phiên đăng nhập trên trình duyệt này (không còn phiên nào khác)"
        " và hủy 1 đường liên kết đăng nhập chưa dùng: các đường liên kết đó không mở được trang"
        " điều hành nữa. Để đăng nhập lại, gửi lệnh /dangnhap trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )


@pytest.mark.parametrize(
    ("path", "form_id", "data"),
    [("signout", "form-signout", {}), ("sessions/end", "form-end-all", {"session": "all"})],
)
async def test_a_second_tap_on_sign_out_says_she_is_signed_out_not_that_nothing_was_done(
    desk: Desk, path: str, form_id: str, data: dict[str, str]
) -> None:
    await desk.sign_in()
    page = "sessions" if path == "sessions/end" else ""
    fields = hidden((await desk.client.get(f"/office/{page}")).text, form_id)
    cookie = desk.client.cookies.get("hoinghi_office", path="/office")
    assert cookie is not None
    first = await desk.client.post(f"/office/{path}", data={**fields, **data})
    assert first.status_code == 200
    # The second tap left before the first's answer came back: it still carries the cookie.
    desk.client.cookies.set("hoinghi_office", cookie, path="/office")
    second = await desk.client.post(f"/office/{path}", data={**fields, **data})
    assert second.status_code == 200
    assert text_of(second.text, "message-signed_out") == (
        "Đồng chí đã đăng xuất khỏi trang điều hành. Để đăng nhập lại, gửi lệnh /dangnhap"
        " trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    assert 'hoinghi_office=""' in second.headers["set-cookie"]  # the ended cookie goes
    assert (await desk.client.get("/office/")).status_code == 401
    # Ending another session with an ended one is still said not done.
    desk.client.cookies.set("hoinghi_office", cookie, path="/office")
    other = await desk.client.post("/office/sessions/end", data={**fields, "session": "1"})
    assert other.status_code == 401 and "chưa được thực hiện" in text_of(other.text, "signin-ended")


SIGNED_OUT = (
    "Đồng chí đã đăng xuất khỏi trang điều hành. Để đăng nhập lại, gửi lệnh /dangnhap"
    " trong tin nhắn riêng với bot"
    " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
    " (mục «Cán bộ» của trang điều hành)."
)
ENDED_NOT_DONE = (
    "Phiên đăng nhập trên trình duyệt này đã hết hạn hoặc đã được đăng xuất. Thao tác vừa rồi"
    " (điểm danh, hủy, ghi nhận, gửi) chưa được thực hiện: đề nghị đăng nhập lại rồi làm lại."
)


@pytest.mark.parametrize(
    ("path", "form_id", "data"),
    [("signout", "form-signout", {}), ("sessions/end", "form-end-all", {"session": "all"})],
)
async def test_signing_out_from_a_tab_whose_session_ran_out_is_said_not_done_and_the_phone_stays(
    desk: Desk, imported: Services, clock, path: str, form_id: str, data: dict[str, str]
) -> None:
    await desk.sign_in()  # the laptop, in the morning
    page = "sessions" if path == "sessions/end" else ""
    fields = hidden((await desk.client.get(f"/office/{page}")).text, form_id)
    clock.advance(timedelta(hours=9))
    phone = await desk_for(imported)
    await phone.sign_in()  # the phone, later
    clock.advance(timedelta(hours=1, minutes=1))  # the laptop's ten hours are over, not the phone's
    unspent = await imported.signin.link_for_code(STAFF)  # and a link not used yet
    assert unspent.secret is not None
    # The phone is lost: from the laptop's tab left open she signs out (everywhere, or not).
    pressed = await desk.client.post(f"/office/{path}", data={**fields, **data})
    # Not "signed out everywhere" while the phone is signed in: not done, sign in and do it.
    assert pressed.status_code == 401 and 'id="message-signed_out' not in pressed.text
    assert text_of(pressed.text, "signin-ended") == ENDED_NOT_DONE
    assert (await phone.client.get("/office/")).status_code == 200
    assert await imported.signin.link_state(unspent.secret) is LinkState.OPEN
    await phone.client.aclose()


async def test_everywhere_from_a_tab_another_tab_signed_out_is_not_done_while_the_phone_is_in(
    desk: Desk, imported: Services
) -> None:
    await desk.sign_in()
    phone = await desk_for(imported)
    await phone.sign_in()
    everywhere = hidden((await desk.client.get("/office/sessions")).text, "form-end-all")
    signout = hidden((await desk.client.get("/office/")).text, "form-signout")
    cookie = desk.client.cookies.get("hoinghi_office", path="/office")
    assert cookie is not None
    # Another tab's «Đăng xuất» ends this browser's session, the phone's stays.
    plain = await desk.client.post("/office/signout", data=signout)
    assert plain.status_code == 200 and text_of(plain.text, "message-signed_out") == SIGNED_OUT
    # This tab's «Đăng xuất ở mọi nơi» left with the cookie before that answer came back.
    desk.client.cookies.set("hoinghi_office", cookie, path="/office")
    pressed = await desk.client.post("/office/sessions/end", data={**everywhere, "session": "all"})
    assert pressed.status_code == 401 and 'id="message-signed_out' not in pressed.text
    assert text_of(pressed.text, "signin-ended") == ENDED_NOT_DONE
    assert (await phone.client.get("/office/")).status_code == 200
    # «Đăng xuất» again from that tab is said done: this browser's session was signed out.
    desk.client.cookies.set("hoinghi_office", cookie, path="/office")
    again = await desk.client.post("/office/signout", data=signout)
    assert again.status_code == 200 and text_of(again.text, "message-signed_out") == SIGNED_OUT
    # Once the phone's session ended too, nothing of hers is open: everywhere is done.
    ended = await phone.post("sessions/end", "form-end-all", {"session": "all"}, page="sessions")
    assert ended.status_code == 200 and 'id="message-signed_out_everywhere"' in ended.text
    desk.client.cookies.set("hoinghi_office", cookie, path="/office")
    later = await desk.client.post("/office/sessions/end", data={**everywhere, "session": "all"})
    assert later.status_code == 200 and text_of(later.text, "message-signed_out") == SIGNED_OUT
    await phone.client.aclose()


async def test_while_her_sign_in_holds_her_row_rows_about_her_are_written_and_sign_outs_wait(
    imported: Services,
) -> None:
    """PostgreSQL: signing in and signing out lock her row against each other only
    (``FOR NO KEY UPDATE``): an answer, a delivery, a check-in — any row that refers to her —
    is written meanwhile, not held until the sign-in ends."""
    sessions = imported.ctx.sessions
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite's write transactions take turns whole: no row locks to compare")
    await make_staff(imported)
    async with sessions() as session:
        person = await queries.delegate_by_code(session, imported.ctx.meeting_id, STAFF)
    assert person is not None
    now = imported.ctx.clock.now()
    async with unit_of_work(sessions) as signing_in:
        await _lock_person(signing_in, person.id)  # what redeem and signing out take first
        async with unit_of_work(sessions) as meanwhile:
            await meanwhile.execute(text("SET LOCAL lock_timeout = '5s'"))  # only if it waits
            meanwhile.add(
                StaffSession(person_id=person.id, kind="link", token_hash=digest("meanwhile"),
                             origin="cli", created_at=now, expires_at=now)
            )  # fmt: skip
            await meanwhile.flush()  # its reference to her checked: no wait for the sign-in
        # A sign-out would wait for the sign-in to end (NOWAIT says so at once).
        with pytest.raises(DBAPIError, match="could not obtain lock"):
            async with unit_of_work(sessions) as signing_out:
                await signing_out.execute(
                    select(Delegate.id)
                    .where(Delegate.id == person.id)
                    .with_for_update(key_share=True, nowait=True)
                )


async def test_a_link_of_someone_whose_role_was_withdrawn_says_so_and_whom_to_ask(
    desk: Desk, imported: Services
) -> None:
    access, office = imported.access, imported.access.local_operator()
    clerk = "DB010"
    await access.grant(office, clerk, Role.CHECKIN)
    pending = await imported.signin.link_for_code(clerk)  # hoinghi staff login
    opened = await imported.signin.link_for_code(clerk)
    assert pending.secret is not None and opened.secret is not None
    phone = await desk_for(imported)
    confirm = await phone.client.get(f"/office/signin/{opened.secret}")  # the button is shown
    await access.revoke(office, clerk, Role.CHECKIN)  # hoinghi staff remove --role checkin
    expected = (
        "Đồng chí hiện không còn được giao vai trò Văn phòng hoặc đón tiếp đại biểu của hội nghị,"
        " nên đường liên kết đăng nhập này không mở được trang điều hành; gửi lại lệnh /dangnhap"
        " cũng không được. Nếu đồng chí vẫn cần làm việc trên trang này, xin liên hệ đồng chí"
        " Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678 để được giao lại vai trò."
    )
    pressed = await phone.client.post(
        f"/office/signin/{opened.secret}", data=hidden(confirm.text, "form-signin")
    )
    assert pressed.status_code == 403 and text_of(pressed.text, "message-link_no_role") == expected
    shown = await phone.client.get(f"/office/signin/{pending.secret}")
    assert shown.status_code == 403 and text_of(shown.text, "message-link_no_role") == expected
    assert (await phone.client.get("/office/checkin")).status_code == 401
    # Her unspent links were cancelled with the role: given it again, they stay dead.
    await access.grant(office, clerk, Role.CHECKIN)
    for link in (pending, opened):
        assert link.secret is not None
        again = await phone.client.get(f"/office/signin/{link.secret}")
        assert again.status_code == 410 and 'id="message-link_spent"' in again.text
    await phone.client.aclose()


@pytest.mark.parametrize("wrong", ["9" * 30, "²"])
async def test_ending_a_session_no_column_could_hold_is_unknown_not_a_server_error(
    desk: Desk, wrong: str
) -> None:
    await desk.sign_in()
    ended = await desk.post("sessions/end", "form-end-all", {"session": wrong}, page="sessions")
    assert text_of(ended.text, "flash") == "Phiên này đã kết thúc từ trước."
    assert (await desk.client.get("/office/")).status_code == 200


GETS = ("/office/", "/office/live", "/office/sessions", "/office/delegates",
        "/office/delegates/DB010")  # fmt: skip
POSTS = ("/office/signout", "/office/sessions/end", "/office/delegates/DB010/phone")


async def test_anonymous_visitors_get_the_sign_in_page_on_every_route(desk: Desk) -> None:
    for path in GETS + POSTS:
        method = desk.client.get if path in GETS else desk.client.post
        response = await method(path)
        assert response.status_code == 401, path
        assert "/dangnhap" in text_of(response.text, "signin-how"), path
    assert (await desk.client.get("/office")).headers["location"] == "/office/"


async def test_a_delegates_personal_token_never_opens_the_dashboard(
    desk: Desk, imported: Services
) -> None:
    token = {link.code: link.token for link in await imported.invitations.links()}[STAFF]
    desk.client.cookies.set("hoinghi_office", token, path="/office")
    for path in GETS:
        assert (await desk.client.get(path)).status_code == 401, path
    assert (await desk.client.get(f"/office/signin/{token}")).status_code == 410
    # Nor does a sign-in link's own secret, used as if it were a session's.
    link = await imported.signin.link_for_code(STAFF)
    assert link.secret is not None
    desk.client.cookies.set("hoinghi_office", link.secret, path="/office")
    assert (await desk.client.get("/office/")).status_code == 401


async def test_a_person_without_the_office_role_is_refused(desk: Desk, imported: Services) -> None:
    refused = await imported.signin.link_for_code("DB010")
    assert refused.secret is None and refused.step == "not_staff"
    await desk.sign_in()
    access = imported.access
    await access.revoke(access.local_operator(), STAFF, Role.OFFICE)
    for path in GETS:
        response = await desk.client.get(path)
        assert response.status_code == 403 and 'id="message-refused"' in response.text, path


async def test_every_form_refuses_a_post_without_this_sessions_signature(
    desk: Desk, imported: Services
) -> None:
    link = await imported.signin.link_for_code(STAFF)
    assert link.secret is not None
    forged = await desk.client.post(f"/office/signin/{link.secret}", data={"nonce": "x"})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    await desk.sign_in()
    other = await desk_for(imported)
    await other.sign_in()
    page = (await other.client.get("/office/delegates/DB010")).text
    someone_elses = hidden(page, "form-phone")  # signed for the other browser's session
    for path, data in (
        ("/office/signout", {}),
        ("/office/sessions/end", {"session": "all"}),
        ("/office/delegates/DB010/phone", {"choice": "attending"}),
    ):
        for fields in ({}, someone_elses):
            response = await desk.client.post(path, data={**fields, **data})
            assert response.status_code == 403, path
    # A form posted from another site is refused before it is read.
    cross = await desk.client.post(
        "/office/signout", data={}, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert (await desk.client.get("/office/")).status_code == 200  # still signed in
    rsvp = await imported.dashboard.card("DB010")
    assert rsvp is not None and rsvp.rsvp.status == "no_answer"
    await other.client.aclose()


async def test_dangnhap_sends_a_link_to_the_staff_members_own_chat_and_refuses_others(
    desk: Desk, imported: Services
) -> None:
    tokens = {link.code: link.token for link in await imported.invitations.links()}
    staff = ChatAccount("telegram", "501", "501", "Mai")
    delegate = ChatAccount("telegram", "502", "502", "Yến")
    await imported.invitations.link_by_token(staff, tokens[STAFF])
    await imported.invitations.link_by_token(delegate, tokens["DB009"])
    inbox = Inbox(imported, load_catalog("vi"))
    channel = ChannelInfo("telegram", CAPABILITIES)

    async def say(account: ChatAccount, *, group: bool = False) -> str:
        chat = Chat("-100" if group else account.chat_address, is_group=group)
        command = Command(account=account, chat=chat, event_id=None, name="dangnhap", args=())
        answer = await inbox.handle(command, channel)
        parts = [part for reply in answer.replies for part in reply.outbound.parts]
        return " ".join(part.html for part in parts if isinstance(part, TextPart))

    said = await say(staff)
    # The link is the plan's address ([web] base_url), here config.example.toml's.
    assert "10 phút" in said and "http://127.0.0.1:8080/office/signin/" in said
    secret = said.split("/office/signin/", 1)[1].split()[0].split("<")[0]
    assert (await desk.use_link(secret)).status_code == 303
    assert "chỉ dành cho cán bộ Văn phòng" in await say(delegate)
    # A key is never shown in a group; staff asking there are told where to ask.
    assert await say(staff, group=True) == (
        "Đường liên kết đăng nhập trang điều hành là chìa khóa riêng của từng người nên không gửi"
        " trong nhóm; đề nghị đồng chí gõ /dangnhap trong tin nhắn riêng với bot."
    )
    assert await say(delegate, group=True) == ""  # anyone else: silence, as for office commands
    # An [office] admin_ids account runs office commands but is no one on the list: no link.
    bootstrap = ChatAccount("telegram", "100000001", "100000001", "Admin")
    assert "hoinghi staff add" in await say(bootstrap)
    issued = [e for e in await audit(imported) if e.action == "staff.link_issued"]
    assert [e.actor for e in issued] == ["telegram:501"]


def test_staff_login_prints_a_link_for_office_staff_only(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import EXAMPLE_DELEGATES

    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["staff", "add", STAFF]) == 0
    capsys.readouterr()
    assert main(["staff", "login", STAFF]) == 0
    printed = capsys.readouterr().out
    assert STAFF_NAME in printed and "/office/signin/" in printed and "10 phút" in printed
    assert main(["staff", "login", "DB010"]) == 2
    assert "hoinghi staff add DB010" in capsys.readouterr().err
    assert main(["staff", "login", "DB999"]) == 2


def test_run_without_a_chat_token_prints_a_sign_in_link_for_the_first_office_staff_member(
    office_web: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bot.cli.run as run_module
    from tests.conftest import EXAMPLE_DELEGATES

    async def no_run(self: object, **kwargs: object) -> None:  # start-up said, then done
        return None

    monkeypatch.setattr(run_module.App, "run", no_run)
    assert main(["run"]) == 0
    assert "/office/signin/" not in capsys.readouterr().out  # no staff yet: no link
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["staff", "add", "DB002"]) == 0
    assert main(["staff", "add", STAFF]) == 0
    capsys.readouterr()
    assert main(["run"]) == 0
    captured = capsys.readouterr()
    assert f"{STAFF_NAME} ({STAFF})" in captured.out  # DB001 comes first in code order
    assert "http://127.0.0.1:8080/office/signin/" in captured.out
    assert "/office/signin/" not in captured.err  # printed for the operator, never logged


def test_run_on_a_fresh_database_prints_the_three_commands_that_let_the_first_clerk_in(
    office_web: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex

    import bot.cli.run as run_module
    from tests.conftest import EXAMPLE_DELEGATES

    async def no_run(self: object, **kwargs: object) -> None:  # start-up said, then done
        return None

    monkeypatch.setattr(run_module.App, "run", no_run)
    config = office_web / "config.toml"
    assert main(["--config", str(config), "run"]) == 0
    hoinghi = f"hoinghi --config {shlex.quote(str(config))}"
    assert capsys.readouterr().out.splitlines() == [
        "Chưa có ai được giao vai trò Văn phòng nên chưa ai đăng nhập được trang điều hành"
        " http://127.0.0.1:8080/office/. Đề nghị chạy lần lượt ba lệnh sau tại máy chủ (trong"
        " một cửa sổ dòng lệnh khác, bot vẫn chạy):",
        f"  1. {hoinghi} people import TỆP   (nhập danh sách có tên cán bộ Văn phòng, cột Vai"
        " trò ghi «đầu mối», ví dụ examples/contacts.csv; bỏ qua nếu đã nhập)",
        f"  2. {hoinghi} staff add MÃ   (giao vai trò Văn phòng cho cán bộ có MÃ trong danh sách)",
        f"  3. {hoinghi} staff login MÃ   (in đường liên kết đăng nhập, dùng một lần trong 10"
        " phút)",
    ]
    # The three, as printed, let NV01 in; from then on run prints her link instead.
    contacts = EXAMPLE_DELEGATES.parent / "contacts.csv"
    assert main(["--config", str(config), "people", "import", str(contacts)]) == 0
    assert main(["--config", str(config), "staff", "add", "NV01"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "staff", "login", "NV01"]) == 0
    assert "/office/signin/" in capsys.readouterr().out
    assert main(["--config", str(config), "run"]) == 0
    printed = capsys.readouterr().out
    assert "(NV01)" in printed and "/office/signin/" in printed
    assert "Chưa có ai được giao vai trò Văn phòng" not in printed


def test_after_make_run_the_first_clerk_hint_names_the_command_as_the_venv_runs_it(
    office_web: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run` starts .venv/bin/hoinghi: a bare `hoinghi` is not found in a terminal where
    the virtualenv is not activated, so the three commands name the program as it was run."""
    import bot.cli.run as run_module

    async def no_run(self: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(run_module.App, "run", no_run)
    (office_web / "empty").mkdir()
    monkeypatch.setenv("PATH", str(office_web / "empty"))  # no `hoinghi` found by name
    monkeypatch.setattr("sys.argv", [".venv/bin/hoinghi", "--config", "config.example.toml", "run"])
    (office_web / "config.example.toml").write_text(
        (office_web / "config.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert main() == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1:] == [
        "  1. .venv/bin/hoinghi --config config.example.toml people import TỆP   (nhập danh sách"
        " có tên cán bộ Văn phòng, cột Vai trò ghi «đầu mối», ví dụ examples/contacts.csv; bỏ"
        " qua nếu đã nhập)",
        "  2. .venv/bin/hoinghi --config config.example.toml staff add MÃ   (giao vai trò Văn"
        " phòng cho cán bộ có MÃ trong danh sách)",
        "  3. .venv/bin/hoinghi --config config.example.toml staff login MÃ   (in đường liên kết"
        " đăng nhập, dùng một lần trong 10 phút)",
    ]


def test_the_hints_name_the_program_bare_only_where_path_finds_that_very_program(
    tmp_path: Path,
) -> None:
    from bot.cli.common import invoked_as

    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    script = venv / "hoinghi"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    other = tmp_path / "other"
    other.mkdir()
    (other / "hoinghi").write_text("#!/bin/sh\n", encoding="utf-8")
    (other / "hoinghi").chmod(0o755)
    python = str(venv / "python")
    # The virtualenv activated (or installed on PATH): the bare name runs this program.
    assert invoked_as(str(script), python, path=str(venv)) == "hoinghi"
    # Not activated: the path it was started by.
    assert invoked_as(str(script), python, path=str(tmp_path)) == str(script)
    # Another `hoinghi` first on PATH (another install) is not this one.
    assert invoked_as(str(script), python, path=str(other)) == str(script)
    # A path with a space is quoted for the shell; `python -m bot` is said as such.
    spaced = tmp_path / "ke hoach" / "hoinghi"
    assert invoked_as(str(spaced), python, path="") == f"'{spaced}'"
    assert invoked_as("/x/bot/__main__.py", python, path="") == f"{python} -m bot"
    assert invoked_as("", python) == "hoinghi"


def test_run_with_a_chat_token_still_says_how_the_first_clerk_gets_in(
    office_web: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bot.cli.run as run_module

    async def no_run(self: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(run_module.App, "run", no_run)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:" + "A" * 35)
    assert main(["run"]) == 0
    printed = capsys.readouterr().out
    # /dangnhap in a chat needs the office role too: the same three commands, bare `hoinghi`.
    assert "  2. hoinghi staff add MÃ   (giao vai trò Văn phòng" in printed
    assert "/office/signin/" not in printed


async def test_the_access_log_never_writes_a_sign_in_link_or_a_session(
    desk: Desk, imported: Services, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    link = await imported.signin.link_for_code(STAFF)
    assert link.secret is not None
    signed = await desk.use_link(link.secret)
    cookie = signed.cookies["hoinghi_office"]
    await desk.client.get("/office/")
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    access = [r.getMessage() for r in caplog.records if r.name == "hoinghi.web.access"]
    assert any(line.startswith("POST /signin/{secret} 303") for line in access), access
    assert not [line for line in lines if link.secret in line or cookie in line]


async def test_signing_in_takes_her_to_the_dashboard_address_she_asked_for(desk: Desk) -> None:
    """A link from a chat (the report, a draft) opened without a session: the sign-in page,
    then — after /dangnhap and its link — that address, not the overview; once."""
    asked = await desk.client.get("/office/report.xlsx")
    assert asked.status_code == 401
    signed = await desk.sign_in()
    assert signed.status_code == 303 and signed.headers["location"] == "/office/report.xlsx"
    download = await desk.client.get(signed.headers["location"])
    assert download.status_code == 200
    assert download.headers["content-disposition"].endswith('.xlsx"')
    # Kept once: the next sign-in starts at the overview.
    desk.client.cookies.delete("hoinghi_office")
    again = await desk.sign_in()
    assert again.headers["location"] == "/office/"


async def test_the_address_kept_for_after_signing_in_keeps_its_query(desk: Desk) -> None:
    await desk.client.get("/office/delegates?answer=no_answer&reach=no")
    signed = await desk.sign_in()
    assert signed.headers["location"] == "/office/delegates?answer=no_answer&reach=no"


async def test_an_address_with_vietnamese_letters_asked_without_a_session_is_kept_not_an_error(
    desk: Desk,
) -> None:
    # Review of s31: the decoded path («Nguyễn») went into the cookie as it was, and Starlette
    # cannot write a header outside latin-1: the sign-in page was a server error.
    asked = await desk.client.get("/office/delegates?q=Nguy%E1%BB%85n")
    assert asked.status_code == 401
    asked = await desk.client.get("/office/delegates/Nguy%E1%BB%85n")
    assert asked.status_code == 401
    signed = await desk.sign_in()
    assert signed.headers["location"] == "/office/delegates/Nguy%E1%BB%85n"


@pytest.mark.parametrize(
    "kept",
    [
        "https://evil.example/office/",
        "//evil.example/office/",
        "/\\evil.example/office/",
        "/office/signin/abc",
        "/elsewhere",
        "/office\\..\\x",
    ],
)
async def test_signing_in_never_follows_an_address_that_is_not_the_dashboards(
    desk: Desk, kept: str
) -> None:
    """No open redirect: a cookie set by anyone else (or a forged one) leads home."""
    desk.client.cookies.set("hoinghi_next", kept, path="/office")
    signed = await desk.sign_in()
    assert signed.headers["location"] == "/office/"
