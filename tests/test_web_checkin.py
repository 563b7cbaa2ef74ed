"""The meeting day on the web (issue 21): staff with the check-in role sign in like the office
and see the desk's pages only; the slip's QR opens the desk's view of the invitee on a desk's
phone (its desk cookie) and the invitee's own page anywhere else; a tap records once; a search
ignores diacritics; guests, substitutes, the undo window; the office's live attendance and its
printable summary."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.chat import Inbox
from bot.config import Config, load_config
from bot.domain.channels import ChannelInfo, Chat, ChatAccount
from bot.domain.inbound import Command
from bot.domain.outbound import TextPart
from bot.domain.phones import display_phone
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services import Services
from bot.services.access import Role
from bot.services.checkin import ArrivalKind
from bot.services.signin import LinkStep
from bot.texts import load_catalog
from bot.texts.formatting import clock
from handlers.web.office.checkin import DESK_COOKIE, DESK_REMEMBERED, desk_pages_of
from storage.models import AuditEntry, ChannelIdentity, Checkin, Delegate
from tests.channels.text_channel import CAPABILITIES
from tests.conftest import EXAMPLE_CONFIG
from tests.office_support import Desk, desk_for, restarted_with_new_secret, text_of
from tests.test_checkin import AREA, Day, day, two_days  # noqa: F401 (the meeting-day fixture)
from tests.test_services import row as delegate_row
from tests.web_support import BASE, flash

CHECKIN_STAFF = "NV02"  # Trần Thị Mỹ Duyên: the check-in role in these tests
OFFICE_STAFF = "NV01"
_INPUT = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def fields(html: str, form_id: str) -> dict[str, str]:
    """Every hidden field of the form ``form_id`` (signature, request key, key, back)."""
    start = html.index(f'id="{form_id}"')
    end = html.index("</form>", start)
    return dict(_INPUT.findall(html[start:end]))


async def at_desk(meeting: Day, code: str = CHECKIN_STAFF, *, role: Role = Role.CHECKIN,
                  label: str = "Bàn 1") -> Desk:  # fmt: skip
    """A phone at the desk ``label``: ``code`` granted ``role``, signed in, the desk chosen."""
    access = meeting.services.access
    await access.grant(access.local_operator(), code, role)
    desk = await desk_for(meeting.services)
    signed = await desk.sign_in(code)
    assert signed.status_code == 303
    page = await desk.client.get("/office/checkin/desk")
    chosen = await desk.client.post(
        "/office/checkin/desk", data={**fields(page.text, "form-desk"), "desk": label}
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/office/checkin"
    return desk


async def post_form(desk: Desk, page_path: str, form_id: str, extra: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Submit ``form_id`` as found on ``page_path``; the page it leads back to."""
    page = await desk.client.get(page_path)
    data = {**fields(page.text, form_id), **(extra or {})}
    action = re.search(rf'action="([^"]+)" id="{form_id}"', page.text)
    assert action is not None
    response = await desk.client.post(action.group(1), data=data)
    assert response.status_code == 303, response.text
    return await desk.client.get(response.headers["location"])


def undo_link(html: str, link_id: str = "undo") -> str:
    """Where the undo button ``link_id`` leads: its confirmation page."""
    found = re.search(rf'href="([^"]+)" class="[^"]*" id="{link_id}"', html)
    assert found is not None, link_id
    return found.group(1).replace("&amp;", "&")


async def present(services: Services) -> list[Checkin]:
    async with services.ctx.sessions() as session:
        rows = await session.scalars(
            select(Checkin).where(Checkin.undone_at.is_(None)).order_by(Checkin.id)
        )
        return list(rows)


@pytest.fixture
def meeting(day: Day) -> Day:  # noqa: F811 (test_checkin's fixture, under its own name)
    """The example meeting on its morning (:func:`tests.test_checkin.day`)."""
    return day


OfficePhone = Callable[[], Awaitable[Desk]]


@pytest.fixture
async def office_phone(meeting: Day) -> AsyncIterator[OfficePhone]:
    """Opens, when the test calls it, the office's own browser at the desk «Văn phòng»
    (OFFICE_STAFF, the office role); closed at the end of the test."""
    opened: list[Desk] = []

    async def open_it() -> Desk:
        opened.append(await at_desk(meeting, OFFICE_STAFF, role=Role.OFFICE, label="Văn phòng"))
        return opened[-1]

    yield open_it
    for desk in opened:
        await desk.client.aclose()


@pytest.fixture
async def phone(meeting: Day) -> AsyncIterator[Desk]:
    desk = await at_desk(meeting)
    yield desk
    await desk.client.aclose()


# --- signing in ---------------------------------------------------------------------------------


async def test_the_checkin_role_signs_in_to_the_desk_and_every_other_dashboard_page_is_refused(
    meeting: Day,
) -> None:
    access = meeting.services.access
    await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    desk = await desk_for(meeting.services)
    signed = await desk.sign_in(CHECKIN_STAFF)
    assert signed.status_code == 303 and signed.headers["location"] == "/office/checkin"
    # The desk is chosen once per session before anything else.
    first = await desk.client.get("/office/checkin")
    assert first.status_code == 303 and first.headers["location"] == "/office/checkin/desk"
    for path in ("/office/", "/office/live", "/office/delegates", "/office/delegates/DB001",
                 "/office/sessions", "/office/attendance", "/office/attendance/live",
                 "/office/attendance/summary", "/office/notices", "/office/import",
                 "/office/invitations"):  # fmt: skip
        refused = await desk.client.get(path)
        assert refused.status_code == 403 and 'id="message-checkin_only"' in refused.text, path
        assert 'href="/office/checkin" id="to-desk"' in refused.text, path  # the way back
    refused = await desk.client.post("/office/signout", data={})
    assert refused.status_code == 403
    page = await desk.client.get("/office/checkin/desk")
    await desk.client.post("/office/checkin/desk", data={**fields(page.text, "form-desk"),
                                                          "desk": "Bàn 1"})  # fmt: skip
    shown = await desk.client.get("/office/checkin")
    assert shown.status_code == 200 and "Trần Thị Mỹ Duyên · Bàn 1" in shown.text
    # The search says all it finds by: a delegate without the slip gives her phone number.
    assert (
        "Họ tên, mã cá nhân, mã đại biểu hoặc số điện thoại (gõ không dấu cũng được)" in shown.text
    )
    # Once chosen, the label stays for the session.
    again = await desk.client.get("/office/checkin/desk")
    assert again.status_code == 303 and again.headers["location"] == "/office/checkin"
    # Someone with no role gets no link at all.
    assert (await meeting.services.signin.link_for_code("DB009")).step is LinkStep.NOT_STAFF
    await desk.client.aclose()


async def test_dangnhap_gives_the_checkin_role_a_link_and_still_refuses_a_delegate(
    meeting: Day,
) -> None:
    services = meeting.services
    access = services.access
    await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    staff, delegate = await meeting.account(CHECKIN_STAFF), await meeting.account("DB009")
    inbox = Inbox(services, load_catalog("vi"))
    channel = ChannelInfo("telegram", CAPABILITIES)

    async def say(account: ChatAccount) -> str:
        chat = Chat(account.chat_address, is_group=False)
        command = Command(account=account, chat=chat, event_id=None, name="dangnhap", args=())
        answer = await inbox.handle(command, channel)
        parts = [part for reply in answer.replies for part in reply.outbound.parts]
        return " ".join(part.html for part in parts if isinstance(part, TextPart))

    assert "/office/signin/" in await say(staff)
    assert "chỉ dành cho cán bộ Văn phòng" in await say(delegate)


async def test_thongke_from_the_meeting_day_on_leads_with_who_is_in_the_hall(
    meeting: Day, phone: Desk
) -> None:
    # The office on her phone in the hall: /thongke gave the answers alone, «Dự kiến có mặt:
    # 3/80 chỗ», which reads as the hall; the overview's «có mặt» was on the dashboard only.
    services = meeting.services
    await services.access.grant(services.access.local_operator(), OFFICE_STAFF, Role.OFFICE)
    staff = await meeting.account(OFFICE_STAFF)
    inbox = Inbox(services, load_catalog("vi"))
    channel = ChannelInfo("telegram", CAPABILITIES)

    async def thongke() -> str:
        chat = Chat(staff.chat_address, is_group=False)
        command = Command(account=staff, chat=chat, event_id=None, name="thongke", args=())
        answer = await inbox.handle(command, channel)
        parts = [part for reply in answer.replies for part in reply.outbound.parts]
        return " ".join(part.html for part in parts if isinstance(part, TextPart))

    await post_form(phone, "/office/checkin?q=pham%20thi%20thanh%20mai", "form-in-DB001")
    said = await thongke()
    assert said.startswith(
        "🏛 <b>Hôm nay họp: có mặt trong hội trường</b>\nĐại biểu có mặt: <b>1</b> (trong đó 1/3 "
        "đại biểu dự kiến); tổng số người trong hội trường: <b>1</b>; đại biểu dự kiến chưa đến: "
        "<b>2</b> (danh sách kèm số điện thoại ở trang «Có mặt»).\n\n📊 <b>Thống kê xác nhận "
        "tham dự</b>"
    )
    # After the meeting's end, as the overview: it ended, the figures final.
    ends = meeting.services.config.meeting.ends_at
    meeting.clock.set(ends)
    said = await thongke()
    assert said.startswith(
        "🏛 <b>Hội nghị đã kết thúc lúc 11:30, 28/5: số có mặt trong ngày</b>\nĐại biểu có "
        "mặt: <b>1</b> (trong đó 1/3 đại biểu dự kiến); tổng số người trong hội trường: <b>1</b>"
        "; đại biểu dự kiến không đến: <b>2</b>. Báo cáo và giấy tờ ngày hội nghị ở mục «Giấy "
        "mời và báo cáo» trên trang quản lý (hoặc /baocao).\n\n📊"
    )
    # The evening, the day after and a week after, while the office writes its report: the
    # same result (the day after read the answers alone, as in the days of preparation).
    for later in (timedelta(hours=8), timedelta(days=1), timedelta(days=7)):
        meeting.clock.set(ends + later)
        said = await thongke()
        assert said.startswith(
            "🏛 <b>Hội nghị đã kết thúc lúc 11:30, 28/5: số có mặt trong ngày</b>\nĐại biểu có "
            "mặt: <b>1</b> (trong đó 1/3 đại biểu dự kiến)"
        ), later


# --- the QR on the personal page -----------------------------------------------------------------


async def test_the_personal_page_shows_the_desk_view_only_with_a_valid_desk_cookie(
    meeting: Day, phone: Desk
) -> None:
    path = f"/{meeting.tokens['DB001']}"
    seen = await phone.client.get(path)
    assert seen.status_code == 200
    assert text_of(seen.text, "person-name") == "Phạm Thị Thanh Mai"
    assert text_of(seen.text, "person-area") == AREA
    assert text_of(seen.text, "person-group") == "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam"
    assert text_of(seen.text, "person-answer") == "Tham dự"
    assert 'id="form-tap"' in seen.text and 'id="tap"' in seen.text
    # The invitee's own browser (no desk cookie): their page, unchanged, no desk form.
    own = await desk_for(meeting.services)
    mine = await own.client.get(path)
    assert mine.status_code == 200 and 'id="form-tap"' not in mine.text
    assert 'id="person-name"' not in mine.text
    # A desk cookie made up, or copied onto another session's signature: no desk, and not the
    # invitee's page as that browser's either — sign in again.
    own.client.cookies.set(
        DESK_COOKIE, phone.client.cookies.get(DESK_COOKIE, path="/")[:-4] + "AAAA"
    )
    forged = await own.client.get(path)
    assert forged.status_code == 401 and 'id="form-tap"' not in forged.text
    assert 'id="person-name"' not in forged.text
    await own.client.aclose()
    # The desk's own notice line: DB010 declined.
    declined = await phone.client.get(f"/{meeting.tokens['DB010']}")
    assert "đã báo không tham dự" in text_of(declined.text, "notice")


async def test_the_desk_cookie_is_httponly_lax_for_the_whole_site_and_ends_with_signing_out(
    meeting: Day,
) -> None:
    access = meeting.services.access
    await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    desk = await desk_for(meeting.services)
    await desk.sign_in(CHECKIN_STAFF)
    page = await desk.client.get("/office/checkin/desk")
    chosen = await desk.client.post(
        "/office/checkin/desk", data={**fields(page.text, "form-desk"), "desk": "Bàn 1"}
    )
    cookie = chosen.headers["set-cookie"]
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in cookie.split(";")}
    assert cookie.startswith(f"{DESK_COOKIE}=")
    assert "httponly" in parts and parts["samesite"].lower() == "samesite=lax"
    assert parts["path"] == "Path=/"
    value = desk.client.cookies.get(DESK_COOKIE, path="/")
    assert value is not None
    path = f"/{meeting.tokens['DB001']}"
    assert 'id="form-tap"' in (await desk.client.get(path)).text
    shown = await desk.client.get("/office/checkin")
    response = await desk.client.post(
        "/office/checkin/signout", data=fields(shown.text, "form-desk-signout")
    )
    assert response.status_code == 200 and 'id="message-signed_out"' in response.text
    # The same cookie sent again after signing out opens nothing at the desk, nor the invitee's
    # page as the desk's phone (it would become her account): the scan is said not recorded.
    desk.client.cookies.set(DESK_COOKIE, value, path="/")
    before = await accounts(meeting)
    scanned = await desk.client.get(path)
    assert scanned.status_code == 401 and 'id="form-tap"' not in scanned.text
    assert "chưa được ghi nhận điểm danh" in text_of(scanned.text, "signin-ended")
    assert await accounts(meeting) == before  # the desk's phone was made no one's account
    await desk.client.aclose()


async def test_the_volunteer_signs_out_from_the_page_that_names_her_desk(meeting: Day) -> None:
    access = meeting.services.access
    await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    volunteer = await desk_for(meeting.services)
    await volunteer.sign_in(CHECKIN_STAFF)
    page = await volunteer.client.get("/office/checkin/desk")
    assert page.status_code == 200 and 'id="form-desk"' in page.text
    assert 'id="form-signout"' not in page.text  # no office bar for the check-in role
    assert 'id="desk-naming-signout"' in page.text
    data = fields(page.text, "form-desk-naming-signout")
    cookies = dict(volunteer.client.cookies.items())
    pressed = await volunteer.client.post("/office/checkin/desk/signout", data=data)
    assert pressed.status_code == 200
    assert text_of(pressed.text, "message-signed_out") == (
        "Đồng chí đã đăng xuất khỏi trang điều hành. Để đăng nhập lại, gửi lệnh /dangnhap"
        " trong tin nhắn riêng với bot hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    after = await volunteer.client.get("/office/checkin/desk")
    assert 'id="form-desk"' not in after.text and 'id="signin-how"' in after.text
    async with meeting.services.ctx.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-1] == "staff.signed_out"
    # A second tap, sent before the first's answer dropped the cookie: signed out, not «sign in».
    for name, value in cookies.items():
        volunteer.client.cookies.set(name, value, path="/office")
    again = await volunteer.client.post("/office/checkin/desk/signout", data=data)
    assert again.status_code == 200 and 'id="message-signed_out"' in again.text
    await volunteer.client.aclose()


async def test_a_second_tap_on_the_desks_sign_out_says_she_is_signed_out(phone: Desk) -> None:
    shown = await phone.client.get("/office/checkin")
    data = fields(shown.text, "form-desk-signout")
    cookies = dict(phone.client.cookies.items())
    first = await phone.client.post("/office/checkin/signout", data=data)
    assert first.status_code == 200 and 'id="message-signed_out"' in first.text
    # The second tap left before the first's answer came back: it still carries the cookies.
    for name, value in cookies.items():
        phone.client.cookies.set(name, value, path="/office" if name == "hoinghi_office" else "/")
    second = await phone.client.post("/office/checkin/signout", data=data)
    assert second.status_code == 200
    assert text_of(second.text, "message-signed_out").startswith(
        "Đồng chí đã đăng xuất khỏi trang điều hành."
    )


@pytest.mark.parametrize(
    ("page_path", "form_id", "signout_path", "desk_named"),
    [
        # the desk bar
        ("/office/checkin", "form-desk-signout", "/office/checkin/signout", True),
        # before a desk is named
        ("/office/checkin/desk", "form-desk-naming-signout", "/office/checkin/desk/signout", False),
    ],
    ids=["desk-bar", "naming-page"],
)
async def test_a_desk_s_sign_out_after_the_session_ran_out_says_she_is_signed_out(
    meeting: Day, page_path: str, form_id: str, signout_path: str, desk_named: bool
) -> None:
    # The desk's phone holds that one session: nothing is left to end, and she is not asked
    # to sign in in order to sign out. Both cookies go (from either form): its scans open
    # personal pages again.
    # Before a desk is named, «Đăng xuất» answers as the desk bar's does, in the same words.
    if desk_named:
        volunteer = await at_desk(meeting)
    else:
        access = meeting.services.access
        await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
        volunteer = await desk_for(meeting.services)
        await volunteer.sign_in(CHECKIN_STAFF)
    try:
        page = await volunteer.client.get(page_path)
        data = fields(page.text, form_id)
        meeting.clock.advance(meeting.services.signin.session_lifetime)  # over, not signed out
        pressed = await volunteer.client.post(signout_path, data=data)
    finally:
        await volunteer.client.aclose()
    assert pressed.status_code == 200
    assert text_of(pressed.text, "message-signed_out") == (
        "Phiên đăng nhập trên trình duyệt này đã hết hạn từ trước nên không còn gì phải kết"
        " thúc: đồng chí đã ở trạng thái đăng xuất khỏi trang điều hành. Để đăng nhập lại, gửi"
        " lệnh /dangnhap trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    dropped = pressed.headers.get_list("set-cookie")
    assert any(c.startswith('hoinghi_office=""') for c in dropped)
    assert any(c.startswith(f'{DESK_COOKIE}=""') for c in dropped)


async def test_a_desk_phone_whose_session_expired_asks_to_sign_in_and_offers_the_way_out(
    meeting: Day, phone: Desk
) -> None:
    cookie = phone.client.cookies.get(DESK_COOKIE, path="/")
    assert cookie is not None
    path = f"/{meeting.tokens['DB001']}"
    lifetime = meeting.services.signin.session_lifetime
    meeting.clock.advance(lifetime + timedelta(minutes=1))  # the session is over; the cookie not
    before = await accounts(meeting)
    scanned = await phone.client.get(path)
    assert scanned.status_code == 401
    assert text_of(scanned.text, "signin-ended") == (
        "Phiên đăng nhập trên trình duyệt này đã hết hạn hoặc đã được đăng xuất. Lượt quét mã "
        "QR vừa rồi chưa được ghi nhận điểm danh: đề nghị đăng nhập lại rồi quét lại mã."
    )
    assert await accounts(meeting) == before
    # «Điện thoại này không còn dùng ở bàn đón tiếp?»: the desk cookie goes, the page opens.
    way_out = re.search(r'<p id="not-a-desk"><a href="([^"]+)">', scanned.text)
    assert way_out is not None
    out = await phone.client.get(way_out.group(1).replace("&amp;", "&"))
    assert (out.status_code, out.headers["location"]) == (303, path)
    assert DESK_COOKIE in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    own = await phone.client.get(path)  # the cookie gone: the person's own page, no desk view
    assert own.status_code == 200 and 'id="form-tap"' not in own.text
    assert 'id="invitation"' in own.text and 'id="person-name"' not in own.text
    # Only a personal page's address is followed from there.
    elsewhere = await phone.client.get("/office/checkin/forget", params={"to": "//evil.example"})
    assert elsewhere.headers["location"] == "/office/signin"


async def test_the_desk_cookie_outlives_its_session_and_goes_when_the_office_signs_out(
    meeting: Day,
) -> None:
    access = meeting.services.access
    await access.grant(access.local_operator(), "NV01", Role.OFFICE)
    desk = await desk_for(meeting.services)
    await desk.sign_in("NV01")
    page = await desk.client.get("/office/checkin/desk")
    chosen = await desk.client.post(
        "/office/checkin/desk", data={**fields(page.text, "form-desk"), "desk": "Bàn 1"}
    )
    lifetime = meeting.services.signin.session_lifetime + DESK_REMEMBERED
    assert f"Max-Age={int(lifetime.total_seconds())}" in chosen.headers["set-cookie"]
    # An office clerk who kept the desk signs out of the dashboard: the desk's cookie goes too,
    # so her own personal link opens her page on this phone, not a «session ended» page.
    shown = await desk.client.get("/office/sessions")
    out = await desk.client.post("/office/signout", data=fields(shown.text, "form-signout"))
    assert out.status_code == 200
    dropped = [c for c in out.headers.get_list("set-cookie") if c.startswith(f"{DESK_COOKIE}=")]
    assert len(dropped) == 1 and "Max-Age=0" in dropped[0]
    assert re.search(r"; Path=/(;|$)", dropped[0])  # the whole site's, where it was set
    await desk.client.aclose()


async def accounts(meeting: Day) -> int:
    """Accounts linked to anyone (chat or page)."""
    async with meeting.services.ctx.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ChannelIdentity)) or 0)


async def test_a_repeated_tap_records_once_and_says_so(meeting: Day, phone: Desk) -> None:
    path = f"/{meeting.tokens['DB001']}"
    page = await phone.client.get(path)
    form = fields(page.text, "form-tap")
    assert form["key"] == meeting.tokens["DB001"] and len(form["rk"]) >= 16
    first = await phone.client.post("/office/checkin/in", data=form)
    assert first.status_code == 303
    assert re.fullmatch(r"/office/checkin\?f=[\w-]+", first.headers["location"])
    shown = await phone.client.get(first.headers["location"])
    assert flash(shown.text) == f"Đã điểm danh: Phạm Thị Thanh Mai. Khu vực chỗ ngồi: {AREA}."
    again = await phone.client.post("/office/checkin/in", data=form)  # the same tap again
    repeated = await phone.client.get(again.headers["location"])
    assert flash(repeated.text) == (
        "Lượt bấm này đã được ghi nhận trước đó (Phạm Thị Thanh Mai): không ghi thêm. "
        f"Khu vực chỗ ngồi: {AREA}."
    )  # the second answer is the one the desk reads: it says where she sits too
    rows = await present(meeting.services)
    assert [(r.delegate_id is not None, r.full_name, r.desk, r.checked_in_by) for r in rows] == [
        (True, "Phạm Thị Thanh Mai", "Bàn 1", f"dashboard:{CHECKIN_STAFF}")
    ]
    # A fresh page: "already in", and no new button.
    later = await phone.client.get(path)
    assert 'id="form-tap"' not in later.text
    assert "Đã điểm danh đại biểu Phạm Thị Thanh Mai lúc 07:30" in text_of(later.text, "notice")


async def test_the_desks_views_show_while_another_process_holds_the_write_lock(
    meeting: Day, phone: Desk
) -> None:
    # A phone scanning slips only reads: it neither queues for the writer's lock behind the
    # taps (SQLite's busy wait, tens of ms in steps) nor holds it up for them.
    engine = meeting.services.ctx.sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer's lock")
    writer = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # as a tap's transaction, or another process's
        seen = await phone.client.get(f"/{meeting.tokens['DB001']}")
        searched = await phone.client.get("/office/checkin", params={"q": "pham thi thanh mai"})
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert seen.status_code == 200 and 'id="form-tap"' in seen.text
    assert text_of(seen.text, "person-name") == "Phạm Thị Thanh Mai"
    assert searched.status_code == 200 and "Phạm Thị Thanh Mai" in searched.text


async def test_a_tap_needs_the_desk_cookie_of_this_very_session_unforged(
    meeting: Day, phone: Desk
) -> None:
    # The tap's session, person and roles are read once for both cookies: the desk cookie
    # must still be this session's (another session's, or one with a forged signature, is
    # answered with the page that names the desk, saying the tap was not recorded), and
    # nothing is recorded.
    form = fields((await phone.client.get(f"/{meeting.tokens['DB001']}")).text, "form-tap")
    mine = phone.client.cookies.get(DESK_COOKIE, path="/")
    assert mine is not None
    other = await at_desk(meeting, label="Bàn 2")  # the same staff member, a second session
    theirs = other.client.cookies.get(DESK_COOKIE, path="/")
    assert theirs is not None
    await other.client.aclose()
    for cookie in (theirs, mine[:-4] + ("AAAA" if not mine.endswith("AAAA") else "BBBB")):
        phone.client.cookies.set(DESK_COOKIE, cookie, path="/")
        refused = await phone.client.post("/office/checkin/in", data=form)
        assert refused.status_code == 409
        assert 'id="desk-lost"' in refused.text and 'id="form-desk"' in refused.text
    assert await present(meeting.services) == []
    phone.client.cookies.set(DESK_COOKIE, mine, path="/")
    done = await phone.client.post("/office/checkin/in", data=form)
    assert re.fullmatch(r"/office/checkin\?f=[\w-]+", done.headers["location"])
    assert len(await present(meeting.services)) == 1


async def test_a_substitute_is_checked_in_under_their_own_name(meeting: Day, phone: Desk) -> None:
    path = f"/{meeting.tokens['DB003']}"
    page = await phone.client.get(path)
    assert "Người dự thay cho đồng chí" in text_of(page.text, "substitute-for")
    assert 'value="Lê Thu Trang"' in page.text
    assert text_of(page.text, "person-answer") == (
        "Cử người dự thay: Lê Thu Trang, Phó Chánh Văn phòng Thành ủy, Thành ủy Hà Nội"
    )
    assert 'id="substitute-phone"' not in page.text  # she gave no phone
    shown = await post_form(phone, path, "form-tap", {
        "as": "substitute", "substitute_name": "Lê Thu Trang",
        "substitute_position": "Phó Chánh Văn phòng Thành ủy",
    })  # fmt: skip
    assert flash(shown.text) == "Đã điểm danh: Lê Thu Trang."
    (row,) = await present(meeting.services)
    assert (row.kind, row.full_name, row.position) == (
        ArrivalKind.SUBSTITUTE, "Lê Thu Trang", "Phó Chánh Văn phòng Thành ủy",
    )  # fmt: skip


async def test_the_desk_s_card_shows_the_substitute_s_unit_and_a_phone_to_call_her(
    meeting: Day, phone: Desk
) -> None:
    services = meeting.services
    card = await services.dashboard.card("DB005")
    assert card is not None
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị Hoa",
        substitute_position="Phó Chánh Văn phòng", substitute_unit="Hội LHPN quận Ba Đình",
        substitute_phone="+84912345678",
    )  # fmt: skip
    await services.rsvp.record_by_phone(services.access.local_operator(), card.person.id, answer)
    page = await phone.client.get(f"/{meeting.tokens['DB005']}")
    assert text_of(page.text, "person-answer") == (
        "Cử người dự thay: Nguyễn Thị Hoa, Phó Chánh Văn phòng, Hội LHPN quận Ba Đình"
    )
    assert text_of(page.text, "substitute-phone") == "0912 345 678"
    assert '<a href="tel:+84912345678">0912 345 678</a>' in page.text


async def test_someone_who_came_unannounced_in_an_invitee_s_place_is_checked_in_as_substitute(
    meeting: Day, phone: Desk
) -> None:
    # DB001 said she would come; her deputy stands at the desk with her slip. The card offered
    # «Điểm danh» alone: the deputy was recorded as DB001 in person (or as a guest, leaving DB001
    # «missing»). Someone else, unannounced, has a form of their own on every card.
    path = f"/{meeting.tokens['DB001']}"
    page = await phone.client.get(path)
    assert 'id="someone-else"' in page.text
    form = page.text[page.text.index('id="form-tap-substitute"') :]
    assert 'name="as" value="substitute"' in form[: form.index("</form>")]
    shown = await post_form(phone, path, "form-tap-substitute", {
        "substitute_name": "Trần Thị Bích", "substitute_position": "Phó Vụ trưởng",
    })  # fmt: skip
    assert flash(shown.text).startswith("Đã điểm danh: Trần Thị Bích.")
    (row,) = await present(meeting.services)
    assert (row.kind, row.full_name, row.position, row.answer) == (
        ArrivalKind.SUBSTITUTE, "Trần Thị Bích", "Phó Vụ trưởng", "attending",
    )  # fmt: skip
    card = await phone.client.get(path)
    assert "người dự thay Trần Thị Bích" in text_of(card.text, "notice")
    # From the search too: a hit's name opens the card, where the same form is.
    hits = await phone.client.get("/office/checkin", params={"q": "DB002"})
    assert 'href="/office/checkin/p/DB002" id="card-DB002"' in hits.text
    card = await phone.client.get("/office/checkin/p/DB002")
    assert 'id="form-tap-substitute"' in card.text


async def test_someone_else_in_her_place_is_recorded_with_the_unit_the_desk_wrote(
    meeting: Day, phone: Desk
) -> None:
    # The unannounced substitute's form asked her position only: her unit was the invitee's,
    # on the present list and the check-in record, whatever she said at the desk.
    from bot.services.day_files import present_table
    from bot.services.report_file import checkin_table

    services = meeting.services
    path = f"/{meeting.tokens['DB001']}"
    page = (await phone.client.get(path)).text
    form = page[page.index('id="form-tap-substitute"') :]
    form = form[: form.index("</form>")]
    # Offered: the invitee's unit, as the box's hint (as the personal page offers it), not its
    # content: typed into on a phone, a filled box kept it in front of what was typed.
    assert (
        '<input id="substitute_unit" name="substitute_unit" autocomplete="off" value="" '
        'placeholder="Trung ương Hội LHPN Việt Nam" aria-describedby="substitute-unit-same">'
    ) in form
    assert (
        '<p class="muted" id="substitute-unit-same">Để trống nếu người dự thay cùng đơn vị với '
        "đồng chí Phạm Thị Thanh Mai (Trung ương Hội LHPN Việt Nam).</p>"
    ) in form
    await post_form(phone, path, "form-tap-substitute", {
        "substitute_name": "Trần Thị Bích", "substitute_position": "Phó Vụ trưởng",
        "substitute_unit": "Hội LHPN quận Hoàn Kiếm",
    })  # fmt: skip
    (row,) = await present(services)
    assert (row.full_name, row.position, row.organization) == (
        "Trần Thị Bích", "Phó Vụ trưởng", "Hội LHPN quận Hoàn Kiếm",
    )  # fmt: skip
    catalog = load_catalog("vi")
    _, rows = present_table(catalog, services.config, await services.checkin.roll())
    assert rows[0][2:5] == ["Trần Thị Bích", "Phó Vụ trưởng", "Hội LHPN quận Hoàn Kiếm"]
    _, record = checkin_table(catalog, services.config, await services.checkin.records())
    assert "Hội LHPN quận Hoàn Kiếm" in record[0]
    # The unit left as offered: the invitee's; emptied: the invitee's too (a unit is printed).
    await post_form(phone, f"/{meeting.tokens['DB002']}", "form-tap-substitute", {
        "substitute_name": "Lê Văn Tâm", "substitute_position": "Chuyên viên",
        "substitute_unit": " ",
    })  # fmt: skip
    assert (await present(services))[1].organization == "Trung ương Hội LHPN Việt Nam"
    # Typed after a unit the box held (an older page): stored once.
    await post_form(phone, f"/{meeting.tokens['DB010']}", "form-tap-substitute", {
        "substitute_name": "Đỗ Văn Nam", "substitute_position": "Chuyên viên",
        "substitute_unit": "Sở Nội vụSở Nội vụ",
    })  # fmt: skip
    assert (await present(services))[2].organization == "Sở Nội vụ"


async def test_the_desk_offers_the_unit_the_substitute_s_answer_gave_and_records_a_correction(
    meeting: Day, phone: Desk
) -> None:
    services = meeting.services
    office = services.access.local_operator()
    for code, position, unit in (
        ("DB005", "Phó Chánh Văn phòng", "Hội LHPN quận Ba Đình"),
        # Given before migration 0026, «position, unit» glued: offered apart, as the papers read it.
        ("DB006", "Phó Chủ tịch, Hội LHPN huyện Đông Anh", None),
    ):
        card = await services.dashboard.card(code)
        assert card is not None
        answer = RsvpAnswer(
            RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị Hoa", substitute_position=position,
            substitute_unit=unit,
        )  # fmt: skip
        await services.rsvp.record_by_phone(office, card.person.id, answer)
    for code, position, unit in (
        ("DB005", "Phó Chánh Văn phòng", "Hội LHPN quận Ba Đình"),
        ("DB006", "Phó Chủ tịch", "Hội LHPN huyện Đông Anh"),
    ):
        page = (await phone.client.get(f"/{meeting.tokens[code]}")).text
        assert f'name="substitute_position" value="{position}">' in page
        assert f'name="substitute_unit" value="{unit}">' in page
    await post_form(phone, f"/{meeting.tokens['DB005']}", "form-tap", {
        "as": "substitute", "substitute_name": "Nguyễn Thị Hoa",
        "substitute_position": "Phó Chánh Văn phòng", "substitute_unit": "Hội LHPN quận Tây Hồ",
    })  # fmt: skip
    (row,) = await present(services)
    assert row.organization == "Hội LHPN quận Tây Hồ"


# --- without a QR --------------------------------------------------------------------------------


async def test_a_search_without_diacritics_finds_the_invitee_and_checks_them_in(
    meeting: Day, phone: Desk
) -> None:
    page = await phone.client.get("/office/checkin", params={"q": "pham thi thanh mai"})
    assert 'id="hit-DB001"' in page.text and 'id="form-in-DB001"' in page.text
    shown = await post_form(phone, "/office/checkin?q=pham%20thi%20thanh%20mai", "form-in-DB001")
    assert flash(shown.text) == f"Đã điểm danh: Phạm Thị Thanh Mai. Khu vực chỗ ngồi: {AREA}."
    again = await phone.client.get("/office/checkin", params={"q": "pham thi thanh mai"})
    assert 'id="in-DB001"' in again.text and 'id="form-in-DB001"' not in again.text
    by_code = await phone.client.get("/office/checkin", params={"q": "db00"})
    assert 'id="hit-DB002"' in by_code.text
    nothing = await phone.client.get("/office/checkin", params={"q": "khong ai ten nay"})
    assert 'id="no-hits"' in nothing.text


async def test_a_search_hit_says_who_checked_in_and_that_an_invitee_has_not_answered(
    meeting: Day, phone: Desk
) -> None:
    # The re-test: an unanswered invitee's hit had no note while the others had one; and
    # after the delegate who had sent a substitute came herself, «Đã cử người dự thay: X ·
    # Đã điểm danh» read as if X were in.
    silent = await phone.client.get("/office/checkin", params={"q": "DB004"})
    assert text_of(silent.text, "note-DB004") == "Chưa trả lời giấy mời"
    await post_form(phone, f"/{meeting.tokens['DB003']}", "form-tap", {"as": "delegate"})
    herself = await phone.client.get("/office/checkin", params={"q": "le thu trang"})
    assert text_of(herself.text, "note-DB003") == "Đã cử người dự thay: Lê Thu Trang"
    assert text_of(herself.text, "in-DB003") == (
        "Đã điểm danh: đại biểu tự đến dự (không phải người dự thay)"
    )


async def test_the_desk_s_recent_list_says_for_whom_a_substitute_came(
    meeting: Day, phone: Desk
) -> None:
    # «Nguyễn Thị Hà — Người dự thay · 11:52»: two invitees had named a Nguyễn Thị Hà.
    path = f"/{meeting.tokens['DB003']}"
    shown = await post_form(phone, path, "form-tap", {
        "as": "substitute", "substitute_name": "Lê Thu Trang",
        "substitute_position": "Phó Chánh Văn phòng Thành ủy",
    })  # fmt: skip
    [item] = re.findall(r'<li id="recent-\d+">.*?</span>', shown.text, re.S)
    assert re.sub(r"<[^>]+>", "", item) == (
        "Lê Thu Trang Người dự thay đồng chí Vũ Thị Hồng Nhung · 07:30, 28/5"
    )
    searched = await phone.client.get("/office/checkin", params={"q": "le thu trang"})
    assert text_of(searched.text, "in-DB003") == "Đã điểm danh: người dự thay Lê Thu Trang"


async def test_a_desk_form_carrying_late_records_her_arrival_at_the_first_tap_and_lists_it_first(
    meeting: Day, phone: Desk
) -> None:
    """The desk's script adds «late» (seconds since a first tap that found no network) to the
    form it sends once the network is back: she is recorded as arrived then, the entry now;
    «Vừa điểm danh» shows her arrival, first, with its undo. A «late» that is not whole
    seconds is as if none were sent."""
    meeting.clock.advance(timedelta(minutes=20))  # 07:50: the tap of 07:35 goes through
    shown = await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap", {"late": "900"})
    assert flash(shown.text).startswith("Đã điểm danh: Phạm Thị Thanh Mai.")
    [row] = await present(meeting.services)
    assert (row.checked_in_at, row.entered_at) == (
        meeting.clock.now() - timedelta(minutes=15), meeting.clock.now(),
    )  # fmt: skip
    desk_page = (await phone.client.get("/office/checkin")).text
    [item] = re.findall(rf'<li id="recent-{row.id}">.*?</li>', desk_page, re.S)
    assert " ".join(re.sub(r"<[^>]+>", "", item).split()) == (
        "Phạm Thị Thanh Mai Đại biểu · 07:35, 28/5 Hủy lượt điểm danh của Phạm Thị Thanh Mai"
    )
    assert f'id="undo-{row.id}"' in item
    for code, sent in (("DB002", "-60"), ("DB004", "1e3"), ("DB005", "٣٠٠")):
        again = await post_form(phone, f"/{meeting.tokens[code]}", "form-tap", {"late": sent})
        assert flash(again.text).startswith("Đã điểm danh:")
        [*_, latest] = await present(meeting.services)
        assert latest.checked_in_at == meeting.clock.now(), sent


async def test_after_a_check_in_from_the_search_the_box_is_empty_and_ready_for_the_next(
    meeting: Day, phone: Desk
) -> None:
    # The page came back holding the last query («DB038»), nothing focused: the volunteer
    # deleted it by hand on the phone's keyboard for each person in the queue.
    searched = "/office/checkin?q=hoang%20thi%20ngoc%20diep"
    page = await phone.client.get(searched)
    box = re.search(r'<input id="q"[^>]*>', page.text)
    assert box is not None and 'value="hoang thi ngoc diep"' in box.group(0)
    assert "autofocus" not in box.group(0)  # the results are read first
    data = fields(page.text, "form-in-DB002")
    tapped = await phone.client.post("/office/checkin/in", data=data)
    # No «#flash» fragment: it stops the browser from focusing the box (the flash is on top).
    assert re.fullmatch(r"/office/checkin\?f=[\w-]+", tapped.headers["location"])
    shown = await phone.client.get(tapped.headers["location"])
    assert flash(shown.text) == f"Đã điểm danh: Hoàng Thị Ngọc Diệp. Khu vực chỗ ngồi: {AREA}."
    assert re.findall(r'<input id="q"[^>]*>', shown.text) == [
        '<input id="q" name="q" type="search" value="" maxlength="100" autocomplete="off" '
        'enterkeyhint="search" autofocus>'
    ]
    assert 'id="hits"' not in shown.text
    assert text_of(shown.text, "recent-title") == "Vừa điểm danh tại bàn này"
    # A guest recorded from a search page: the box comes back empty too.
    guest = {**fields(page.text, "form-guest"), "name": "Phạm Văn Khách"}
    recorded = await phone.client.post("/office/checkin/guest", data=guest)
    assert recorded.headers["location"].split("?")[0] == "/office/checkin"
    # Refused (already in): the query stays, to see why.
    again = await phone.client.post("/office/checkin/in", data={**data, "rk": "x" * 20})
    assert again.headers["location"].startswith(f"{searched}&f=")


EMPTY_BOX = (
    '<input id="q" name="q" type="search" value="" maxlength="100" autocomplete="off" '
    'enterkeyhint="search" autofocus>'
)


async def test_after_a_check_in_from_a_card_the_box_is_empty_and_ready_for_the_next(
    meeting: Day, phone: Desk
) -> None:
    # A card opened by the slip's QR, by a typed code or from a hit came back after the tap
    # with the person just let in: the volunteer went back to the search herself for each
    # person in the queue. Now every card's check-in returns to the desk's empty, focused box.
    scanned = f"/{meeting.tokens['DB001']}"
    by_code = "/office/checkin/p/DB003"  # sent a substitute: her form comes first
    unannounced = f"/{meeting.tokens['DB002']}"  # someone else in her place
    taps = [
        (scanned, "form-tap", {}, "Đã điểm danh: Phạm Thị Thanh Mai."),
        (by_code, "form-tap", {"as": "substitute", "substitute_name": "Lê Thu Trang"},
         "Đã điểm danh: Lê Thu Trang."),
        (unannounced, "form-tap-substitute", {"substitute_name": "Trần Thị Bích"},
         "Đã điểm danh: Trần Thị Bích."),
    ]  # fmt: skip
    for path, form_id, typed, said in taps:
        page = await phone.client.get(path)
        tapped = await phone.client.post(
            "/office/checkin/in", data={**fields(page.text, form_id), **typed}
        )
        # No «#flash» fragment: it stops the browser from focusing the box.
        assert re.fullmatch(r"/office/checkin\?f=[\w-]+", tapped.headers["location"]), path
        shown = await phone.client.get(tapped.headers["location"])
        assert flash(shown.text).startswith(said)
        assert re.findall(r'<input id="q"[^>]*>', shown.text) == [EMPTY_BOX]
        assert text_of(shown.text, "recent-title") == "Vừa điểm danh tại bàn này"
    assert [row.full_name for row in await present(meeting.services)] == [
        "Phạm Thị Thanh Mai", "Lê Thu Trang", "Trần Thị Bích",
    ]  # fmt: skip
    # A withdrawn invitee let in as a guest from her card: the box too.
    await meeting.services.withdrawals.withdraw(
        meeting.services.access.local_operator(), "DB010", "Mời nhầm"
    )
    card = await phone.client.get("/office/checkin/p/DB010")
    let_in = await phone.client.post(
        "/office/checkin/guest-of", data=fields(card.text, "form-guest-of")
    )
    assert re.fullmatch(r"/office/checkin\?f=[\w-]+", let_in.headers["location"])
    # Refused (someone else's name left empty): back to the card she tapped on, saying why.
    path = f"/{meeting.tokens['DB004']}"
    card = await phone.client.get(path)
    refused = await phone.client.post(
        "/office/checkin/in",
        data={**fields(card.text, "form-tap-substitute"), "substitute_name": " "},
    )
    assert re.fullmatch(rf"{path}\?f=[\w-]+#flash", refused.headers["location"])
    shown = await phone.client.get(refused.headers["location"])
    assert flash(shown.text) == "Đề nghị nhập họ tên."
    assert text_of(shown.text, "person-name") == text_of(card.text, "person-name")
    assert len(await present(meeting.services)) == 4


def field_value(html: str, field_id: str) -> str | None:
    """The value the input ``field_id`` holds (None: no value attribute)."""
    found = re.search(rf'<input id="{field_id}" [^>]*?>', html)
    assert found is not None, field_id
    value = re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else None


async def test_a_substitute_refused_on_her_card_comes_back_as_the_desk_typed_it(
    meeting: Day, phone: Desk
) -> None:
    # The card came back with its form as the answer offered it (or empty, folded away): the
    # position and unit the volunteer had typed for the one at the desk were to be typed again.
    path = f"/{meeting.tokens['DB004']}"  # someone else, unannounced, in her place
    card = await phone.client.get(path)
    assert 'id="someone-else">' in card.text  # folded
    typed = {"substitute_name": " ", "substitute_position": "Phó Trưởng phòng",
             "substitute_unit": "Phòng Tổ chức"}  # fmt: skip
    data = {**fields(card.text, "form-tap-substitute"), **typed}
    refused = await phone.client.post("/office/checkin/in", data=data)
    shown = await phone.client.get(refused.headers["location"])
    assert flash(shown.text) == "Đề nghị nhập họ tên."
    assert 'id="someone-else" open>' in shown.text
    form = shown.text[shown.text.index('id="form-tap-substitute"') :]
    assert [field_value(form, f) for f in typed] == [" ", "Phó Trưởng phòng", "Phòng Tổ chức"]
    # The one she announced (DB003's card, opened by code): the position corrected, her name
    # left empty by mistake. The form holds the correction, not the answer's words again.
    card = await phone.client.get("/office/checkin/p/DB003")
    assert field_value(card.text, "substitute_position") == "Phó Chánh Văn phòng Thành ủy"
    data = {**fields(card.text, "form-tap"), "as": "substitute", "substitute_name": "",
            "substitute_position": "Chánh Văn phòng", "substitute_unit": "Thành ủy Hà Nội"}  # fmt: skip
    refused = await phone.client.post("/office/checkin/in", data=data)
    assert refused.headers["location"].startswith("/office/checkin/p/DB003?f=")
    shown = await phone.client.get(refused.headers["location"])
    assert [field_value(shown.text, f) for f in typed] == ["", "Chánh Văn phòng", "Thành ủy Hà Nội"]
    assert await present(meeting.services) == []
    # A fresh look at the card offers the answer's words again.
    again = await phone.client.get("/office/checkin/p/DB003")
    assert field_value(again.text, "substitute_position") == "Phó Chánh Văn phòng Thành ủy"


async def test_the_personal_code_printed_under_the_slip_s_qr_finds_the_invitee_at_the_desk(
    meeting: Day, phone: Desk
) -> None:
    # A crumpled slip whose QR will not scan: the clerk types the code printed under it, as the
    # page's hint says («mã»). It was answered «Không tìm thấy… ghi nhận ở mục dưới» (a guest).
    code = await meeting.link_code("DB002")
    typed = f"{code[:4].lower()} {code[4:].lower()}"
    page = await phone.client.get("/office/checkin", params={"q": typed})
    assert 'id="hit-DB002"' in page.text and 'id="no-hits"' not in page.text
    shown = await post_form(phone, f"/office/checkin?q={code}", "form-in-DB002")
    assert flash(shown.text) == f"Đã điểm danh: Hoàng Thị Ngọc Diệp. Khu vực chỗ ngồi: {AREA}."
    card = await phone.client.get(f"/office/checkin/p/{code[:4]}-{code[4:]}")
    assert text_of(card.text, "person-name") == "Hoàng Thị Ngọc Diệp"


async def test_a_personal_code_mistyped_at_the_desk_is_said_to_be_wrong_not_to_be_a_guest(
    meeting: Day, phone: Desk
) -> None:
    # One character misread from the slip («…CRB6» for «…CRB5»): the desk was told «Không tìm
    # thấy… Nếu là khách ngoài danh sách, đề nghị ghi nhận ở mục dưới», and a delegate recorded
    # as a guest is counted «chưa đến» while she sits in the hall.
    code = await meeting.link_code("DB002")
    wrong = code[:7] + next(c for c in "23456789BCFGHJKMNPQRSTVXZ" if c != code[7])
    for typed, shown in ((f"{wrong[:4]}-{wrong[4:]}", wrong), (f"{code[:7]}0", f"{code[:7]}0")):
        page = await phone.client.get("/office/checkin", params={"q": typed})
        assert text_of(page.text, "no-hits") == (
            f"Không có đại biểu nào mang mã cá nhân {shown[:4]}-{shown[4:]}. Mã có thể bị đọc "
            "hoặc gõ nhầm một ký tự: đề nghị đối chiếu lại mã in dưới mã QR, hoặc tìm theo họ "
            "tên, số điện thoại của đại biểu. Chưa ghi nhận gì; chỉ ghi nhận khách ở mục dưới "
            "khi người đến không có tên trong danh sách."
        )
    # A name nobody has is still the guest's case.
    nobody = await phone.client.get("/office/checkin", params={"q": "Minh Tung"})
    assert text_of(nobody.text, "no-hits") == (
        "Không tìm thấy đại biểu nào phù hợp. Nếu là khách ngoài danh sách, đề nghị ghi nhận ở "
        "mục dưới."
    )


async def test_the_code_printed_under_an_old_slip_s_qr_opens_her_card_with_the_replaced_notice(
    meeting: Day, phone: Desk
) -> None:
    # The link re-issued, she brings the slip printed before: its QR opened her card with «đã
    # được cấp lại», but the code printed under it found nobody («Không tìm thấy…», record a
    # guest), so an invitee was counted as a guest and stayed on «Chưa đến».
    old = await meeting.link_code("DB002")
    await meeting.services.invitations.reissue(meeting.services.access.local_operator(), "DB002")
    typed = f"{old[:4]}-{old[4:]}"
    page = await phone.client.get("/office/checkin", params={"q": typed})
    assert 'id="no-hits"' not in page.text
    assert text_of(page.text, "note-DB002") == (
        "Đường liên kết này đã được cấp lại: đề nghị đối chiếu giấy tờ trước khi điểm danh."
    )
    assert 'id="form-in-DB002"' not in page.text  # the card first: the papers are checked
    assert f'href="/office/checkin/p/{old}" class="button small" id="look-DB002"' in page.text
    scanned = await phone.client.get(f"/{meeting.tokens['DB002']}")
    card = await phone.client.get(f"/office/checkin/p/{old}")
    for shown in (scanned, card):
        assert text_of(shown.text, "person-name") == "Hoàng Thị Ngọc Diệp"
        assert text_of(shown.text, "notice") == (
            "Đường liên kết này đã được cấp lại: đề nghị đối chiếu giấy tờ trước khi điểm danh."
        )
    done = await post_form(phone, f"/office/checkin/p/{old}", "form-tap")
    assert flash(done.text) == f"Đã điểm danh: Hoàng Thị Ngọc Diệp. Khu vực chỗ ngồi: {AREA}."
    assert [(row.full_name, row.kind) for row in await present(meeting.services)] == [
        ("Hoàng Thị Ngọc Diệp", ArrivalKind.DELEGATE.value)
    ]


async def test_the_desk_opens_the_card_of_a_code_typed_in_decomposed_unicode(
    meeting: Day, phone: Desk
) -> None:
    """ "đb-hòa" typed with Unikey's «Unicode tổ hợp» (NFD) is ĐB-Hòa on the list: it was a 404,
    the card of nobody."""
    await meeting.services.delegates.import_rows(
        [delegate_row("ĐB-Hòa", full_name="Lê Thị Hòa", phone=None)], actor="t"
    )
    card = await phone.client.get(f"/office/checkin/p/{unicodedata.normalize('NFD', 'đb-hòa')}")
    assert card.status_code == 200
    assert text_of(card.text, "person-name") == "Lê Thị Hòa"


async def test_a_search_says_who_sent_a_substitute_or_declined_and_opens_their_card_first(
    meeting: Day, phone: Desk
) -> None:
    # A tap from the search list checked in the invitee in person, however they had answered:
    # a substitute without the slip was recorded as the delegate, or as a guest.
    by_substitute = await phone.client.get("/office/checkin", params={"q": "le thu trang"})
    assert 'id="hit-DB003"' in by_substitute.text  # found by the substitute's own name
    assert text_of(by_substitute.text, "note-DB003") == "Đã cử người dự thay: Lê Thu Trang"
    assert 'id="form-in-DB003"' not in by_substitute.text
    assert 'href="/office/checkin/p/DB003"' in by_substitute.text
    declined = await phone.client.get("/office/checkin", params={"q": "DB010"})
    assert text_of(declined.text, "note-DB010") == "Đã báo không tham dự"
    assert 'id="form-in-DB010"' not in declined.text
    card = await phone.client.get("/office/checkin/p/DB003")
    assert text_of(card.text, "person-answer") == (
        "Cử người dự thay: Lê Thu Trang, Phó Chánh Văn phòng Thành ủy, Thành ủy Hà Nội"
    )
    shown = await post_form(phone, "/office/checkin/p/DB003", "form-tap", {
        "as": "substitute", "substitute_name": "Lê Thu Trang",
        "substitute_position": "Phó Chánh Văn phòng Thành ủy",
    })  # fmt: skip
    assert flash(shown.text) == "Đã điểm danh: Lê Thu Trang."
    (row,) = await present(meeting.services)
    assert (row.kind, row.full_name) == (ArrivalKind.SUBSTITUTE, "Lê Thu Trang")
    nobody = await phone.client.get("/office/checkin/p/KHONGCO")
    assert nobody.status_code == 404


async def test_a_guest_not_on_the_list_is_recorded_once(meeting: Day, phone: Desk) -> None:
    page = await phone.client.get("/office/checkin")
    form = {**fields(page.text, "form-guest"), "name": "Hoàng Văn Khách",
            "position": "Phóng viên", "organization": "Báo Phụ nữ"}  # fmt: skip
    for _ in range(2):  # a double tap
        response = await phone.client.post("/office/checkin/guest", data=form)
        assert response.status_code == 303
    (row,) = await present(meeting.services)
    assert (row.kind, row.delegate_id, row.full_name, row.organization) == (
        ArrivalKind.GUEST, None, "Hoàng Văn Khách", "Báo Phụ nữ",
    )  # fmt: skip
    nameless = await phone.client.post(
        "/office/checkin/guest", data={**fields(page.text, "form-guest"), "name": " "}
    )
    assert flash((await phone.client.get(nameless.headers["location"])).text) == (
        "Đề nghị nhập họ tên."
    )


async def test_a_guest_refused_at_the_desk_comes_back_with_every_box_as_typed(
    meeting: Day, phone: Desk
) -> None:
    # A name of spaces only (the box's «required» lets it through) was refused and the position
    # and unit typed beside it were gone: the volunteer typed all three again.
    page = await phone.client.get("/office/checkin")
    typed = {"name": " ", "position": "Phóng viên", "organization": "Báo Phụ nữ Thủ đô"}
    refused = await phone.client.post(
        "/office/checkin/guest", data={**fields(page.text, "form-guest"), **typed}
    )
    shown = await phone.client.get(refused.headers["location"])
    assert flash(shown.text) == "Đề nghị nhập họ tên."
    boxes = ("guest-name", "guest-position", "guest-organization")
    assert [field_value(shown.text, box) for box in boxes] == [
        " ", "Phóng viên", "Báo Phụ nữ Thủ đô",
    ]  # fmt: skip
    assert await present(meeting.services) == []
    # Shown once: the desk's page looked at again is empty, for the next guest.
    again = await phone.client.get("/office/checkin")
    assert [field_value(again.text, box) for box in boxes] == ["", "", ""]


async def test_a_desk_name_over_its_limit_is_refused_with_its_length_and_kept_whole(
    meeting: Day, phone: Desk
) -> None:
    # The desk's name boxes cut a paste at 200 characters (maxlength), unsaid: a unit's full
    # name pasted from a letter was recorded cut. They cut nothing now; the server refuses a
    # text over its limit, saying its length, and every box comes back as typed.
    page = await phone.client.get("/office/checkin")
    assert 'maxlength="200"' not in page.text
    unit = "Ban Thường vụ Hội Liên hiệp Phụ nữ quận Hoàn Kiếm " * 5  # 250 characters
    typed = {"name": "Hoàng Văn Khách", "position": "Phóng viên", "organization": unit}
    refused = await phone.client.post(
        "/office/checkin/guest", data={**fields(page.text, "form-guest"), **typed}
    )
    shown = await phone.client.get(refused.headers["location"])
    assert flash(shown.text) == (
        "Nội dung dài 249 ký tự, quá giới hạn 200 ký tự nên chưa ghi nhận. Toàn bộ nội dung vẫn"
        " ở khung nhập; đề nghị rút gọn rồi ghi lại."
    )
    assert field_value(shown.text, "guest-organization") == unit
    assert field_value(shown.text, "guest-name") == "Hoàng Văn Khách"
    # A substitute's position on an invitee's card: the same, kept whole in her form.
    card = await phone.client.get(f"/{meeting.tokens['DB004']}")
    assert 'maxlength="200"' not in card.text
    position = "Phó Trưởng ban Tuyên giáo, " * 9  # 243 characters
    data = {**fields(card.text, "form-tap-substitute"), "substitute_name": "Lê Thị Mai",
            "substitute_position": position, "substitute_unit": "Phòng Tổ chức"}  # fmt: skip
    refused = await phone.client.post("/office/checkin/in", data=data)
    shown = await phone.client.get(refused.headers["location"])
    assert flash(shown.text).startswith("Nội dung dài 242 ký tự, quá giới hạn 200 ký tự")
    form = shown.text[shown.text.index('id="form-tap-substitute"') :]
    assert field_value(form, "substitute_position") == position
    assert await present(meeting.services) == []


async def test_a_guest_s_form_sent_after_the_session_ended_shows_each_box_under_its_label(
    meeting: Day, phone: Desk
) -> None:
    # The desk's forms echoed nothing: a guest's name, position and unit typed as the session
    # ran out were gone, the sign-in page saying only that nothing was done.
    page = await phone.client.get("/office/checkin")
    form = fields(page.text, "form-guest")
    await phone.client.post("/office/checkin/signout", data=fields(page.text, "form-desk-signout"))
    typed = {"name": "Hoàng Văn Khách", "position": "Phóng viên", "organization": "Báo Phụ nữ"}
    posted = await phone.client.post(
        "/office/checkin/guest", data={**form, **typed}, headers={"origin": "http://testserver"}
    )
    assert posted.status_code == 401
    shown = [
        (text_of(posted.text, f"signin-typed-{n}-label"), text_of(posted.text, f"signin-typed-{n}"))
        for n in (1, 2, 3)
    ]
    assert shown == [
        ("Họ và tên khách", "Hoàng Văn Khách"),
        ("Chức vụ của khách", "Phóng viên"),
        ("Đơn vị của khách", "Báo Phụ nữ"),
    ]
    assert await present(meeting.services) == []


async def test_a_guest_sent_after_the_server_s_secret_changed_is_said_not_recorded_to_copy(
    meeting: Day, phone: Desk
) -> None:
    # The desk cookie is signed with a key drawn from the server's secret: after a restart with
    # a new one, every tap and guest of the open page was sent to «Chọn bàn đón tiếp» with no
    # word that it was not recorded, the guest's name gone.
    page = await phone.client.get("/office/checkin")
    typed = {"name": "Hoàng Văn Khách", "position": "Phóng viên", "organization": "Báo Phụ nữ"}
    async with restarted_with_new_secret(meeting.services, phone) as restarted:
        posted = await restarted.post(
            "/office/checkin/guest", data={**fields(page.text, "form-guest"), **typed}
        )
        assert posted.status_code == 409
        assert text_of(posted.text, "desk-lost") == (
            "Lượt vừa rồi (điểm danh, hủy điểm danh, ghi khách) chưa được ghi nhận vì trang điểm"
            " danh đã được làm mới. Đề nghị đồng chí đặt lại tên bàn dưới đây, rồi tìm lại và"
            " bấm lại (bấm lại không ghi hai lần)."
        )
        shown = [
            (text_of(posted.text, f"desk-typed-{n}-label"), text_of(posted.text, f"desk-typed-{n}"))
            for n in (1, 2, 3)
        ]
        assert shown == [
            ("Họ và tên khách", "Hoàng Văn Khách"),
            ("Chức vụ của khách", "Phóng viên"),
            ("Đơn vị của khách", "Báo Phụ nữ"),
        ]
        assert 'id="form-desk"' in posted.text
        # A search (a GET) records nothing: still taken to the desk's choice, as before.
        searched = await restarted.get("/office/checkin", params={"q": "Lan"})
        assert (searched.status_code, searched.headers["location"]) == (303, "/office/checkin/desk")
    assert await present(meeting.services) == []


async def test_a_substitute_typed_on_a_card_of_an_earlier_session_comes_back_in_its_boxes(
    meeting: Day, phone: Desk
) -> None:
    # A card left open from before the phone signed in again (its form signed for the earlier
    # session): the substitute's name, position and unit were lost behind «Biểu mẫu đã hết hiệu
    # lực». The card comes back (the slip's QR page, or a search's card), its «someone else»
    # form open with the boxes as typed, saying to press again; nobody is checked in.
    earlier = await at_desk(meeting)
    typed = {
        "substitute_name": "Trần Thị Bích",
        "substitute_position": "Phó Vụ trưởng",
        "substitute_unit": "Vụ Tổ chức",
    }
    try:
        for path in (f"/{meeting.tokens['DB001']}", "/office/checkin/p/DB002"):
            old = fields((await earlier.client.get(path)).text, "form-tap-substitute")
            posted = await phone.client.post(
                "/office/checkin/in", data={**old, **typed}, headers={"origin": BASE}
            )
            assert posted.status_code == 303, posted.text[:300]
            assert posted.headers["location"].startswith(f"{path}?f=")
            card = (await phone.client.get(posted.headers["location"])).text
            assert flash(card) == (
                "Trang đã được làm mới kể từ lúc đồng chí mở nên nội dung vừa gửi chưa được nhận."
                " Toàn bộ nội dung đồng chí đã nhập vẫn ở nguyên trong khung dưới đây; đề nghị"
                " đồng chí bấm gửi lại."
            )
            assert 'id="someone-else" open' in card
            for field, value in typed.items():
                assert re.search(rf'<input id="{field}"[^>]* value="{value}"', card), field
        # A form naming another site's page as its own is not followed there.
        for back in ("//evil.example/x", "https://evil.example/x"):
            forged = await phone.client.post(
                "/office/checkin/in", data={**old, **typed, "back": back}, headers={"origin": BASE}
            )
            assert forged.status_code == 403 and 'id="message-form_expired"' in forged.text
    finally:
        await earlier.client.aclose()
    assert await present(meeting.services) == []


async def test_a_desk_s_name_sent_after_the_server_s_secret_changed_comes_back_in_its_box(
    meeting: Day,
) -> None:
    # The page that names the desk, open as the server restarted with a new secret: the name
    # typed was lost behind «Biểu mẫu đã hết hiệu lực».
    access = meeting.services.access
    await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    phone = await desk_for(meeting.services)
    await phone.sign_in(CHECKIN_STAFF)
    page = await phone.client.get("/office/checkin/desk")
    async with restarted_with_new_secret(meeting.services, phone) as restarted:
        posted = await restarted.post(
            "/office/checkin/desk", data={**fields(page.text, "form-desk"), "desk": "Bàn số 3"}
        )
        assert posted.status_code == 303
        assert posted.headers["location"].startswith("/office/checkin/desk?f=")
        again = (await restarted.get(posted.headers["location"])).text
    await phone.client.aclose()
    assert flash(again).startswith("Trang đã được làm mới kể từ lúc đồng chí mở")
    assert re.search(r'<input id="desk" name="desk"[^>]* value="Bàn số 3"', again)
    assert DESK_COOKIE not in posted.cookies  # no desk named


async def test_a_substitute_typed_as_the_server_restarted_comes_back_to_its_card_once_named(
    meeting: Day, phone: Desk
) -> None:
    # After a restart with a new secret the desk's cookie is no longer recognised: the desk is
    # named again first. The substitute's boxes were only shown to copy and paste into the
    # card, found again by hand; naming the desk now goes back to that card, boxes filled.
    path = f"/{meeting.tokens['DB001']}"
    form = fields((await phone.client.get(path)).text, "form-tap-substitute")
    typed = {
        "substitute_name": "Trần Thị Bích",
        "substitute_position": "Phó Vụ trưởng",
        "substitute_unit": "Vụ Tổ chức",
    }
    async with restarted_with_new_secret(meeting.services, phone) as restarted:
        lost = await restarted.post("/office/checkin/in", data={**form, **typed})
        assert lost.status_code == 409 and 'id="desk-lost"' in lost.text
        assert text_of(lost.text, "desk-typed-about").startswith(
            "Nội dung đồng chí vừa nhập chưa được lưu. Sau khi đồng chí đặt tên bàn, trang sẽ mở"
            " lại đúng mẫu vừa gửi"
        )
        naming = lost.text[lost.text.index('id="form-desk"') :]
        naming = naming[: naming.index("</form>")]
        sent = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', naming))
        assert sent["kept.substitute_name"] == "Trần Thị Bích"  # all a browser sends
        named = await restarted.post("/office/checkin/desk", data={**sent, "desk": "Bàn 1"})
        assert named.status_code == 303
        assert named.headers["location"].startswith(f"{path}?f=")
        card = (await restarted.get(named.headers["location"])).text
    assert flash(card).startswith("Trang đã được làm mới kể từ lúc đồng chí mở")
    assert 'id="someone-else" open' in card
    for field, value in typed.items():
        assert re.search(rf'<input id="{field}"[^>]* value="{value}"', card), field
    assert await present(meeting.services) == []


async def test_the_log_names_a_guest_not_on_the_list_as_one_not_as_an_empty_person(
    meeting: Day, phone: Desk
) -> None:
    page = await phone.client.get("/office/checkin")
    form = {**fields(page.text, "form-guest"), "name": "Phạm Văn Khách",
            "position": "Phóng viên", "organization": "Báo Phụ nữ Thủ đô"}  # fmt: skip
    assert (await phone.client.post("/office/checkin/guest", data=form)).status_code == 303
    office = await at_desk(meeting, "NV01", role=Role.OFFICE)
    log = (await office.client.get("/office/log?action=checkin.recorded")).text
    await office.client.aclose()
    changes = re.findall(r"<li>([^<]*)</li>", log.split('<ul class="changes">', 1)[1])
    assert changes == [
        "Khách ngoài danh sách: Phạm Văn Khách",
        "Bàn đón tiếp: Bàn 1",
        "Chức vụ: Phóng viên",
        "Đơn vị: Báo Phụ nữ Thủ đô",
    ]  # not «Người: (trống)», nor «Loại» and «Tên» apart


async def test_a_guest_named_as_an_invitee_is_held_with_the_invitee_s_card_and_the_form_kept(
    meeting: Day, phone: Desk
) -> None:
    page = await phone.client.get("/office/checkin")
    form = {**fields(page.text, "form-guest"), "name": "vu thi hong nhung",
            "position": "Phóng viên", "organization": "Báo Phụ nữ"}  # fmt: skip
    held = await phone.client.post("/office/checkin/guest", data=form)
    assert held.status_code == 409
    assert text_of(held.text, "namesake").startswith(
        "Vũ Thị Hồng Nhung (DB003) có trong danh sách mời: nếu đúng là đại biểu, đề nghị mở thẻ"
    )
    assert 'href="/office/checkin/p/DB003" class="button small" id="namesake-card"' in held.text
    assert 'value="vu thi hong nhung"' in held.text and 'value="Báo Phụ nữ"' in held.text
    assert await present(meeting.services) == []
    # Another person of that name: «Vẫn ghi là khách» records her as a guest.
    kept = {name: form[name] for name in ("name", "position", "organization")}  # as shown
    again = await phone.client.post(
        "/office/checkin/guest", data={**fields(held.text, "form-guest"), **kept}
    )
    assert again.status_code == 303
    (row,) = await present(meeting.services)
    assert (row.kind, row.full_name, row.organization) == (
        ArrivalKind.GUEST, "vu thi hong nhung", "Báo Phụ nữ",
    )  # fmt: skip
    # «Vẫn ghi là khách» is for the name it was shown beside: another invitee's name typed
    # into the held form is held again, not recorded.
    held = await phone.client.post("/office/checkin/guest", data=form)
    other = {**fields(held.text, "form-guest"), **kept, "name": "Phạm Thị Thanh Mai"}
    again = await phone.client.post("/office/checkin/guest", data=other)
    assert again.status_code == 409 and "(DB001)" in text_of(again.text, "namesake")


async def came_and_guest_held(meeting: Day, phone: Desk, name: str) -> tuple[str, httpx.Response]:
    """When the one person in the hall came (hh:mm), and the desk's answer to a guest typed as
    ``name`` then: held (409)."""
    (row,) = await present(meeting.services)
    came = clock(meeting.services.config.meeting.local(row.checked_in_at))
    page = await phone.client.get("/office/checkin")
    form = {**fields(page.text, "form-guest"), "name": name}
    held = await phone.client.post("/office/checkin/guest", data=form)
    assert held.status_code == 409
    return came, held


async def test_a_guest_named_as_an_invitee_already_in_the_hall_is_told_when_and_where_she_came(
    meeting: Day, phone: Desk
) -> None:
    # Bàn 1 let Phạm Thị Thanh Mai in; a guest of her name typed later was told «nếu đúng là
    # đại biểu, đề nghị mở thẻ để điểm danh (ghi là khách thì đại biểu vẫn bị tính là chưa
    # đến)» — she was counted present already, and the desk needs to know since when.
    await post_form(phone, "/office/checkin?q=pham%20thi%20thanh%20mai", "form-in-DB001")
    came, held = await came_and_guest_held(meeting, phone, "Pham Thi Thanh Mai")
    assert text_of(held.text, "namesake") == (
        f"Đại biểu Phạm Thị Thanh Mai (DB001) đã được điểm danh lúc {came} (Bàn 1). Nếu người "
        "đang ở bàn đúng là đại biểu đó thì không cần ghi lại; nếu là người khác trùng tên, đề "
        "nghị bấm «Vẫn ghi là khách». Chưa ghi nhận gì. Mở thẻ đại biểu để điểm danh"
    )
    assert len(await present(meeting.services)) == 1  # nothing recorded


async def test_a_guest_named_as_a_substitute_already_in_the_hall_is_told_when_and_where(
    meeting: Day, phone: Desk
) -> None:
    # DB003 announced «Lê Thu Trang»; Ms Trang was let in at Bàn 1, and a guest typed later
    # with her name was told to open DB003's card to check the substitute in.
    await post_form(phone, f"/{meeting.tokens['DB003']}", "form-tap", {
        "as": "substitute", "substitute_name": "Lê Thu Trang",
        "substitute_position": "Phó Chánh Văn phòng", "substitute_unit": "Thành ủy Hà Nội",
    })  # fmt: skip
    came, held = await came_and_guest_held(meeting, phone, "le thu trang")
    assert text_of(held.text, "namesake").startswith(
        f"Người dự thay Lê Thu Trang của đồng chí Vũ Thị Hồng Nhung (DB003) đã được điểm danh lúc "
        f"{came} (Bàn 1). Nếu người đang ở bàn đúng là người đó thì không cần ghi lại;"
    )
    assert len(await present(meeting.services)) == 1


async def test_a_guest_named_as_an_announced_substitute_is_held_with_the_invitee_s_card(
    meeting: Day, phone: Desk
) -> None:
    # DB003 announced «Lê Thu Trang» in her place; Ms Trang came without the slip and the clerk
    # typed her as a guest. She was recorded as one: the office's page then listed her among
    # the guests and DB003 as still missing («cử Lê Thu Trang dự thay»), both counts off by one.
    page = await phone.client.get("/office/checkin")
    form = {**fields(page.text, "form-guest"), "name": "le thu trang",
            "position": "Phó Chánh Văn phòng", "organization": "Thành ủy"}  # fmt: skip
    held = await phone.client.post("/office/checkin/guest", data=form)
    assert held.status_code == 409
    assert text_of(held.text, "namesake").startswith(
        "le thu trang là người dự thay đồng chí Vũ Thị Hồng Nhung (DB003) đã báo: đề nghị mở thẻ"
    )
    assert 'href="/office/checkin/p/DB003" class="button small" id="namesake-card"' in held.text
    assert await present(meeting.services) == []
    # Someone else of that name: «Vẫn ghi là khách» records a guest, as for an invitee's name.
    kept = {name: form[name] for name in ("name", "position", "organization")}
    again = await phone.client.post(
        "/office/checkin/guest", data={**fields(held.text, "form-guest"), **kept}
    )
    assert again.status_code == 303
    (row,) = await present(meeting.services)
    assert (row.kind, row.full_name) == (ArrivalKind.GUEST, "le thu trang")


async def test_a_guest_recorded_already_is_held_with_when_and_where_until_the_desk_confirms(
    meeting: Day, phone: Desk
) -> None:
    # «Phạm Văn Khách, Phóng viên» recorded three times: «Đã ghi nhận khách» each time, and
    # each counted in the hall's total.
    page = await phone.client.get("/office/checkin")
    first = {**fields(page.text, "form-guest"), "name": "Phạm Văn Khách",
             "position": "Phóng viên", "organization": ""}  # fmt: skip
    assert (await phone.client.post("/office/checkin/guest", data=first)).status_code == 303
    page = await phone.client.get("/office/checkin")
    typed = {**fields(page.text, "form-guest"), "name": "pham van khach",
             "position": "Phóng viên", "organization": "Báo Phụ nữ Thủ đô"}  # fmt: skip
    held = await phone.client.post("/office/checkin/guest", data=typed)
    assert held.status_code == 409
    assert text_of(held.text, "guest-again") == (
        "Đã ghi nhận khách Phạm Văn Khách (Phóng viên) lúc 07:30 tại Bàn 1. Nếu đúng là người"
        " này thì khách đã được tính, không cần ghi lại; nếu là người khác trùng tên, đề nghị"
        " bấm «Vẫn ghi khách mới». Chưa ghi nhận gì."
    )
    assert text_of(held.text, "guest-save") == "Vẫn ghi khách mới"
    assert 'value="pham van khach"' in held.text and 'value="Báo Phụ nữ Thủ đô"' in held.text
    assert 'action="/office/checkin/guest#guest" id="form-guest"' in held.text  # in view
    # The first form sent again (a double tap) records nothing and asks nothing.
    repeated = await phone.client.post("/office/checkin/guest", data=first)
    assert flash((await phone.client.get(repeated.headers["location"])).text) == (
        "Lượt bấm này đã được ghi nhận trước đó (Phạm Văn Khách): không ghi thêm."
    )
    assert [row.full_name for row in await present(meeting.services)] == ["Phạm Văn Khách"]
    # Someone else of the name: «Vẫn ghi khách mới» records a second guest.
    kept = {name: typed[name] for name in ("name", "position", "organization")}
    again = await phone.client.post(
        "/office/checkin/guest", data={**fields(held.text, "form-guest"), **kept}
    )
    assert flash((await phone.client.get(again.headers["location"])).text) == (
        "Đã ghi nhận khách: pham van khach."
    )
    assert [row.full_name for row in await present(meeting.services)] == [
        "Phạm Văn Khách", "pham van khach",
    ]  # fmt: skip


async def test_a_guest_named_as_an_invitee_and_as_a_guest_in_the_hall_is_held_for_each_in_turn(
    meeting: Day, phone: Desk
) -> None:
    # A guest named as DB003 is in the hall already (the desk said «Vẫn ghi là khách»). The
    # name typed again: first the invitee's card is offered, then, that confirmed, the guest.
    page = await phone.client.get("/office/checkin")
    await meeting.checkin.guest(await meeting.desk("NV03", "Bàn 2"), "Vũ Thị Hồng Nhung",
                                namesake_ok=True)  # fmt: skip
    form = {**fields(page.text, "form-guest"), "name": "vu thi hong nhung"}
    held = await phone.client.post("/office/checkin/guest", data=form)
    assert held.status_code == 409 and "(DB003)" in text_of(held.text, "namesake")
    again = await phone.client.post(
        "/office/checkin/guest", data={**fields(held.text, "form-guest"), "name": form["name"]}
    )
    assert again.status_code == 409
    assert text_of(again.text, "guest-again").startswith(
        "Đã ghi nhận khách Vũ Thị Hồng Nhung lúc 07:30 tại Bàn 2. "
    )
    assert fields(again.text, "form-guest")["namesake"] == "vu thi hong nhung"  # kept
    recorded = await phone.client.post(
        "/office/checkin/guest", data={**fields(again.text, "form-guest"), "name": form["name"]}
    )
    assert recorded.status_code == 303
    assert len(await present(meeting.services)) == 2


async def test_the_office_undoes_a_guest_on_its_attendance_page_after_the_desk_s_minutes(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    # A guest recorded by mistake stayed in the hall's total once the desk's minutes had
    # passed: a guest has no card to open, and the office's «Có mặt» listed guests only.
    page = await phone.client.get("/office/checkin")
    form = {**fields(page.text, "form-guest"), "name": "Phạm Văn Khách", "position": "Phóng viên"}
    assert (await phone.client.post("/office/checkin/guest", data=form)).status_code == 303
    (row,) = await present(meeting.services)
    meeting.clock.advance(timedelta(minutes=30))
    assert f'id="undo-{row.id}"' not in (await phone.client.get("/office/checkin")).text
    office = await office_phone()
    seen = await office.client.get("/office/attendance")
    assert text_of(seen.text, f"undo-guest-{row.id}") == "Hủy ghi nhận"
    # The link as the page's poll puts it in place: a confirmation first, nothing undone yet.
    live = (await office.client.get("/office/attendance/live")).text
    assert f'href="/office/attendance/undo/{row.id}" class="button secondary small"' in live
    asked = await office.client.get(f"/office/attendance/undo/{row.id}")
    assert text_of(asked.text, "undo-what") == (
        "Hủy ghi nhận khách Phạm Văn Khách (ghi nhận lúc 07:30, Thứ Ba, ngày 28/5/2024, tại Bàn "
        "1)? Khách không còn được tính là có mặt trong hội trường; lượt ghi nhận và lần hủy vẫn "
        "được lưu trong nhật ký."
    )
    assert len(await present(meeting.services)) == 1
    done = await post_form(office, f"/office/attendance/undo/{row.id}", "form-undo-guest")
    assert flash(done.text) == "Đã hủy lượt điểm danh của Phạm Văn Khách."
    assert text_of(done.text, "total-guests") == "0" and await present(meeting.services) == []
    assert f'id="undo-guest-{row.id}"' not in done.text
    # The check-in role alone does not reach the office's page, nor its form.
    refused = await phone.client.post(
        "/office/attendance/undo", data={**fields(asked.text, "form-undo-guest")}
    )
    assert refused.status_code == 403
    assert (await phone.client.get(f"/office/attendance/undo/{row.id}")).status_code == 403


async def test_the_office_s_guest_undo_refuses_an_invitee_s_check_in_and_changes_nothing(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    # «Hủy ghi nhận» beside a guest posted any check-in's id: an invitee's check-in was undone
    # from «Có mặt» too, without her card or a word about whom.
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    await phone.client.post(
        "/office/checkin/guest",
        data={**fields((await phone.client.get("/office/checkin")).text, "form-guest"),
              "name": "Phạm Văn Khách"},
    )  # fmt: skip
    invitee, guest = await present(meeting.services)
    assert (invitee.kind, guest.kind) == ("delegate", "guest")
    office = await office_phone()
    said = (
        "Lượt điểm danh của Phạm Thị Thanh Mai không phải lượt ghi nhận khách: đề nghị mở thẻ "
        "của đại biểu ở trang Điểm danh để hủy. Chưa thay đổi gì."
    )
    asked = await office.client.get(f"/office/attendance/undo/{invitee.id}")
    assert asked.status_code == 303
    assert flash((await office.client.get(asked.headers["location"])).text) == said
    form = fields((await office.client.get(f"/office/attendance/undo/{guest.id}")).text,
                  "form-undo-guest")  # fmt: skip
    posted = await office.client.post(
        "/office/attendance/undo", data={**form, "checkin": str(invitee.id)}
    )
    assert posted.status_code == 303
    assert flash((await office.client.get(posted.headers["location"])).text) == said
    unknown = await office.client.get("/office/attendance/undo/999999")
    assert flash((await office.client.get(unknown.headers["location"])).text) == (
        "Không tìm thấy lượt điểm danh này."
    )
    assert [row.id for row in await present(meeting.services)] == [invitee.id, guest.id]


async def test_a_search_with_more_hits_than_shown_says_to_type_more(
    meeting: Day, phone: Desk
) -> None:
    shown = await phone.client.get("/office/checkin", params={"q": "thi"})
    assert len(re.findall(r'<li id="hit-', shown.text)) == 20
    assert text_of(shown.text, "more-hits").startswith("Chỉ hiện 20 người đầu tiên phù hợp")
    one = await phone.client.get("/office/checkin", params={"q": "0386 003 246"})
    assert re.findall(r'<li id="hit-(\w+)"', one.text) == ["DB003"]
    assert 'id="more-hits"' not in one.text


async def test_a_mistaken_tap_is_undone_within_the_window_only(meeting: Day, phone: Desk) -> None:
    path = f"/{meeting.tokens['DB002']}"
    await post_form(phone, path, "form-tap")
    page = await phone.client.get(path)
    confirm = undo_link(page.text)
    undo_form = fields((await phone.client.get(confirm)).text, "form-undo")
    listed = await phone.client.get("/office/checkin")
    assert 'id="recent-' in listed.text
    shown = await post_form(phone, confirm, "form-undo")
    assert flash(shown.text).startswith("Đã hủy lượt điểm danh của")
    assert await present(meeting.services) == []
    assert 'id="form-tap"' in shown.text  # they can be checked in again
    # Checked in again; past the window the button is gone and an old form is refused.
    await post_form(phone, path, "form-tap")
    page = await phone.client.get(path)
    late_confirm = undo_link(page.text)
    late_form = fields((await phone.client.get(late_confirm)).text, "form-undo")
    meeting.clock.advance(
        timedelta(minutes=meeting.services.config.checkin.undo_minutes, seconds=1)
    )
    assert 'id="undo"' not in (await phone.client.get(path)).text
    asked_late = await phone.client.get(late_confirm)  # the confirmation says so, no button
    assert asked_late.status_code == 303
    assert "Đã quá" in flash((await phone.client.get(asked_late.headers["location"])).text)
    late = await phone.client.post("/office/checkin/undo", data=late_form)
    assert "Đã quá" in flash((await phone.client.get(late.headers["location"])).text)
    assert len(await present(meeting.services)) == 1
    assert undo_form["checkin"] != late_form["checkin"]
    async with meeting.services.ctx.sessions() as session:
        actions = list(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "checkin").order_by(AuditEntry.id)
        ))  # fmt: skip
    assert actions == ["checkin.recorded", "checkin.undone", "checkin.recorded"]


async def test_an_undo_asks_first_naming_whose_check_in_it_is_and_a_double_tap_undoes_once(
    meeting: Day, phone: Desk
) -> None:
    # One tap on «Hủy lượt điểm danh» undid at once, and on a page searched for DB001 the first
    # such button was the newest arrival's (DB002), under the same words.
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    await post_form(phone, f"/{meeting.tokens['DB002']}", "form-tap")
    first, newest = await present(meeting.services)
    page = await phone.client.get("/office/checkin", params={"q": "DB001"})
    assert text_of(page.text, f"undo-{newest.id}") == "Hủy lượt điểm danh của Hoàng Thị Ngọc Diệp"
    assert text_of(page.text, f"undo-{first.id}") == "Hủy lượt điểm danh của Phạm Thị Thanh Mai"
    assert 'action="/office/checkin/undo"' not in page.text  # no undo in one tap
    asked = await phone.client.get(undo_link(page.text, f"undo-{newest.id}"))
    assert text_of(asked.text, "undo-what") == (
        "Hủy lượt điểm danh của Hoàng Thị Ngọc Diệp (Đại biểu, điểm danh lúc 07:30 tại Bàn 1)? "
        "Người này sẽ được tính là chưa đến; lượt điểm danh và lần hủy vẫn được lưu trong nhật ký."
    )
    assert text_of(asked.text, "undo-button") == "Hủy lượt điểm danh của Hoàng Thị Ngọc Diệp"
    assert 'href="/office/checkin?q=DB001" id="undo-back"' in asked.text
    assert len(await present(meeting.services)) == 2  # asking changed nothing
    form = fields(asked.text, "form-undo")
    taps = [await phone.client.post("/office/checkin/undo", data=form) for _ in range(2)]
    assert [tap.headers["location"].split("&f=")[0] for tap in taps] == [
        "/office/checkin?q=DB001"
    ] * 2
    said = [flash((await phone.client.get(tap.headers["location"])).text) for tap in taps]
    assert said == [
        "Đã hủy lượt điểm danh của Hoàng Thị Ngọc Diệp.",
        "Lượt điểm danh của Hoàng Thị Ngọc Diệp đã được hủy trước đó.",
    ]
    assert [row.id for row in await present(meeting.services)] == [first.id]
    async with meeting.services.ctx.sessions() as session:
        undone = await session.scalar(
            select(func.count()).where(AuditEntry.action == "checkin.undone")
        )
    assert undone == 1
    card = await phone.client.get("/office/checkin/p/DB001")  # her card's undo asks too
    assert text_of(card.text, "undo") == "Hủy lượt điểm danh"
    assert undo_link(card.text).startswith(f"/office/checkin/undo/{first.id}?back=")


@pytest.mark.parametrize("wrong", ["9" * 30, "²"])
async def test_an_undo_naming_no_checkin_a_column_could_hold_is_unknown_not_a_server_error(
    meeting: Day, phone: Desk, wrong: str
) -> None:
    path = f"/{meeting.tokens['DB002']}"
    await post_form(phone, path, "form-tap")
    confirm = undo_link((await phone.client.get(path)).text)
    shown = await post_form(phone, confirm, "form-undo", {"checkin": wrong})
    assert flash(shown.text) == "Không tìm thấy lượt điểm danh này."
    assert len(await present(meeting.services)) == 1


async def test_the_office_undoes_a_wrong_tap_from_the_search_after_the_window(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    meeting.clock.advance(timedelta(hours=3))
    late_desk = await phone.client.get("/office/checkin/p/DB001")
    assert 'id="undo"' not in late_desk.text  # the desk's window has passed
    office = await office_phone()
    found = await office.client.get("/office/checkin", params={"q": "DB001"})
    assert 'href="/office/checkin/p/DB001"' in found.text  # «Đã điểm danh» opens the card
    card = await office.client.get("/office/checkin/p/DB001")
    shown = await post_form(office, undo_link(card.text), "form-undo")
    assert 'id="form-tap"' in shown.text  # the card offers the check-in once more
    assert await present(meeting.services) == []


async def test_desk_forms_need_this_sessions_signature_and_this_site(
    meeting: Day, phone: Desk
) -> None:
    path = f"/{meeting.tokens['DB001']}"
    form = fields((await phone.client.get(path)).text, "form-tap")
    unsigned = await phone.client.post("/office/checkin/in", data={**form, "csrf": "x"})
    assert unsigned.status_code == 403 and 'id="message-form_expired"' in unsigned.text
    cross = await phone.client.post(
        "/office/checkin/in", data=form, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    other = await at_desk(meeting, "NV04", label="Bàn 2")  # another session's browser
    borrowed = await other.client.post("/office/checkin/in", data=form)
    assert borrowed.status_code == 403
    await other.client.aclose()
    assert await present(meeting.services) == []


# --- the office's attendance ---------------------------------------------------------------------


async def test_the_missing_list_says_when_there_is_no_phone_number(
    meeting: Day, office_phone: OfficePhone
) -> None:
    # «Chưa đến» rows without a number showed an empty cell, read as a number not loaded.
    async with meeting.services.ctx.sessions() as session:
        await session.execute(update(Delegate).where(Delegate.code == "DB002").values(phone=None))
        await session.commit()
    office = await office_phone()
    live = await office.client.get("/office/attendance/live")
    row = re.search(r'<tr id="missing-DB002">(.*?)</tr>', live.text, re.S)
    assert row is not None
    assert re.findall(r"<td>(.*?)</td>", row.group(1))[-1] == (
        '<span class="muted">chưa có số điện thoại</span>'
    )


async def test_attendance_and_its_summary_count_by_group_with_substitutes_guests_and_missing(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    await post_form(phone, f"/{meeting.tokens['DB003']}", "form-tap", {
        "as": "substitute", "substitute_name": "Lê Thu Trang"})  # fmt: skip
    page = await phone.client.get("/office/checkin")
    await phone.client.post("/office/checkin/guest",
                            data={**fields(page.text, "form-guest"), "name": "Khách Một"})  # fmt: skip
    async with meeting.services.ctx.sessions() as session:  # DB002, expected, has a phone
        await session.execute(
            update(Delegate).where(Delegate.code == "DB002").values(phone="0912345678")
        )
        await session.commit()
    office = await office_phone()
    count = await meeting.services.checkin.count()
    shown = await office.client.get("/office/attendance")
    assert shown.status_code == 200 and 'data-live="/office/attendance/live"' in shown.text
    assert "<script>" not in shown.text  # the poll is the static script, nothing inline
    live = await office.client.get("/office/attendance/live")
    assert text_of(live.text, "total-present-all") == "2"
    assert text_of(live.text, "total-present") == f"2/{count.expected}"
    assert 'id="total-unexpected"' not in live.text  # nobody came unexpectedly
    assert text_of(live.text, "total-substitutes") == "1"
    assert text_of(live.text, "total-guests") == "1"
    assert text_of(live.text, "total-missing") == str(count.expected - 2)
    # Every group's row, in protocol order, as the count has it (DB001 and DB003's groups).
    assert sum(g.present for g in count.groups) == 2
    assert [g.key for g in count.groups if g.substitutes] != []
    for group in count.groups:
        row = re.search(rf'<tr id="att-{group.key}">(.*?)</tr>', live.text, re.S)
        assert row is not None
        cells = re.findall(r'<td class="num"[^>]*>(?:<a [^>]*>)?(\d+)(?:</a>)?</td>', row.group(1))
        assert cells == [
            str(group.present),  # everyone of the group in the hall
            str(group.arrived),  # of whom expected
            str(group.expected),
            str(group.substitutes),
            str(group.invited),
            str(group.missing),  # still missing, a link to that group's list when any
        ]
    order = [m for m in re.findall(r'<tr id="att-([a-z_0-9]+)">', live.text)]
    assert order == [g.key for g in meeting.services.config.groups_in_order]
    # The missing: DB002 attends and is not in yet, with a phone number for the office.
    assert 'id="missing-DB002"' in live.text and 'id="missing-DB001"' not in live.text
    seen = await meeting.services.checkin.attendance(meeting.services.access.local_operator())
    phones = [m.phone for m in seen.missing if m.phone]
    assert phones == [display_phone("0912345678")]
    assert [m.code for m in seen.missing] == re.findall(r'<tr id="missing-(\w+)">', live.text)
    for number in phones:
        assert f">{number}</a>" in live.text
    summary = await office.client.get("/office/attendance/summary")
    assert summary.status_code == 200
    assert text_of(summary.text, "summary-title") == "BÁO CÁO SỐ LƯỢNG ĐẠI BIỂU CÓ MẶT"
    assert text_of(summary.text, "sum-present") == f"2/{count.expected}"
    assert text_of(summary.text, "sum-guests") == "1"
    assert text_of(summary.text, "sum-in-hall") == "3"
    assert text_of(summary.text, "sum-invited") == str(count.invited)
    lines = re.findall(r'<tr id="sum-line-\d+">', summary.text)
    assert len(lines) == len(meeting.services.config.groups)


async def test_the_printed_summary_s_table_ends_with_a_total_row_adding_up_its_columns(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    await post_form(phone, f"/{meeting.tokens['DB003']}", "form-tap", {
        "as": "substitute", "substitute_name": "Lê Thu Trang"})  # fmt: skip
    await post_form(phone, f"/{meeting.tokens['DB010']}", "form-tap")  # declined, came anyway
    office = await office_phone()
    count = await meeting.services.checkin.count()
    summary = (await office.client.get("/office/attendance/summary")).text
    total = re.search(r'<tr id="sum-total">(.*?)</tr>', summary)
    assert total is not None
    assert re.findall(r"<th[^>]*>(.*?)</th>", total.group(1)) == ["Tổng cộng"]
    # Có mặt, Trong đó dự kiến, Dự kiến, Người dự thay: as the figures above the table say.
    assert re.findall(r'<td class="num">(\d+)</td>', total.group(1)) == [
        "3", "2", str(count.expected), "1",
    ]  # fmt: skip
    assert text_of(summary, "sum-present-all") == "3"
    assert text_of(summary, "sum-present") == f"2/{count.expected}"
    assert text_of(summary, "sum-substitutes") == "1"


async def test_a_decliner_who_came_is_apart_on_the_live_page_and_the_printed_summary(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    # DB010 declined and came anyway: every «có mặt / dự kiến» counts the expected only, while
    # «Đại biểu có mặt» and each group's «Có mặt» count him, so the groups add up to the hall.
    await post_form(phone, f"/{meeting.tokens['DB010']}", "form-tap")
    office = await office_phone()
    count = await meeting.services.checkin.count()
    live = (await office.client.get("/office/attendance/live")).text
    summary = (await office.client.get("/office/attendance/summary")).text
    assert text_of(live, "total-present-all") == "1"
    assert text_of(live, "total-present") == f"0/{count.expected}"
    assert text_of(live, "total-unexpected") == "1"
    assert text_of(summary, "sum-present-all") == "1"
    assert text_of(summary, "sum-present") == f"0/{count.expected}"
    assert text_of(summary, "sum-unexpected") == "1"
    assert text_of(summary, "sum-in-hall") == "1"
    rows = re.findall(r'<tr id="sum-line-\d+">(.*?)</tr>', summary)
    cells = [re.findall(r'<td class="num"[^>]*>(\d+)</td>', row) for row in rows]
    # Có mặt, of whom expected, expected, substitutes: DB010's group has him in, none expected.
    assert [int(row[0]) for row in cells].count(1) == 1
    assert sum(int(row[0]) for row in cells) == 1  # the groups (no guest) add up to the hall
    assert sum(int(row[1]) for row in cells) == 0


async def test_the_live_attendance_says_how_many_are_in_the_hall_as_the_printed_summary(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    # The office head watching the opening read «Đại biểu có mặt 1» and «Khách 1» and had to add
    # them; the printed summary said «Tổng số người trong hội trường 2».
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    page = await phone.client.get("/office/checkin")
    guest = {**fields(page.text, "form-guest"), "name": "Hoàng Văn Khách"}
    assert (await phone.client.post("/office/checkin/guest", data=guest)).status_code == 303
    office = await office_phone()
    live = (await office.client.get("/office/attendance/live")).text
    summary = (await office.client.get("/office/attendance/summary")).text
    assert text_of(live, "total-in-hall") == text_of(summary, "sum-in-hall") == "2"
    assert "Tổng số người trong hội trường" in live


async def test_one_checked_in_then_withdrawn_stays_in_the_hall_on_the_live_page_and_summary(
    meeting: Day, phone: Desk, office_phone: OfficePhone
) -> None:
    await post_form(phone, f"/{meeting.tokens['DB001']}", "form-tap")
    await post_form(phone, f"/{meeting.tokens['DB002']}", "form-tap")
    office_actor = meeting.services.access.local_operator()
    await meeting.services.withdrawals.withdraw(office_actor, "DB002")
    office = await office_phone()
    live = (await office.client.get("/office/attendance/live")).text
    summary = (await office.client.get("/office/attendance/summary")).text
    assert text_of(live, "total-present-all") == text_of(summary, "sum-present-all") == "1"
    assert text_of(live, "total-withdrawn") == text_of(summary, "sum-withdrawn") == "1"
    assert text_of(live, "total-in-hall") == text_of(summary, "sum-in-hall") == "2"
    assert "Đã vào hội trường, sau đó bị rút giấy mời" in text_of(live, "withdrawn-title")


async def test_the_card_of_a_withdrawn_invitee_lets_her_in_as_a_guest_in_one_tap(
    meeting: Day, phone: Desk
) -> None:
    # DB003 had sent a substitute; the office withdrew her invitation since.
    await meeting.services.withdrawals.withdraw(
        meeting.services.access.local_operator(), "DB003", "Mời nhầm"
    )
    card = await phone.client.get("/office/checkin/p/DB003")
    assert text_of(card.text, "person-answer") == "Đã rút giấy mời"  # not her old answer
    assert "Lê Thu Trang" not in text_of(card.text, "person-card")
    assert 'id="form-tap"' not in card.text
    assert text_of(card.text, "guest-of") == "Cho vào dự với tư cách khách ngoài danh sách"
    name = text_of(card.text, "person-name")
    done = await post_form(phone, "/office/checkin/p/DB003", "form-guest-of")
    assert flash(done.text) == f"Đã ghi nhận khách: {name}."
    card = await phone.client.get("/office/checkin/p/DB003")
    assert 'id="form-guest-of"' not in card.text  # she is in: no second guest
    assert text_of(card.text, "notice").startswith(f"Đã điểm danh khách {name} lúc 07:30")
    [row] = await present(meeting.services)
    assert (row.kind, row.full_name, row.desk) == (ArrivalKind.GUEST, name, "Bàn 1")
    assert row.delegate_id is not None
    # Her name typed in the guest form leads to her card rather than a second guest record.
    page = await phone.client.get("/office/checkin")
    typed = await phone.client.post(
        "/office/checkin/guest", data={**fields(page.text, "form-guest"), "name": name}
    )
    assert typed.status_code == 409
    assert text_of(typed.text, "namesake") == (
        f"{name} (DB003) có trong danh sách nhưng đã bị Văn phòng rút giấy mời: nếu đúng là "
        "người này, đề nghị mở thẻ để cho vào với tư cách khách (nếu sau này được mời lại, người "
        "này vẫn chỉ được tính một lần). Chưa ghi nhận gì. Mở thẻ để cho vào với tư cách khách"
    )  # the card's link follows the words
    assert text_of(typed.text, "namesake-card") == "Mở thẻ để cho vào với tư cách khách"
    assert len(await present(meeting.services)) == 1


async def test_a_guest_let_in_from_her_withdrawn_card_is_told_as_a_guest_without_her_group_s_seats(
    meeting: Day, phone: Desk
) -> None:
    # DB002's group sits in «Khu A, hàng 1»: she was sent there, told «Đã điểm danh», as a
    # delegate would be; a guest has no group's seats (nor does a guest typed in the form).
    office = meeting.services.access.local_operator()
    await meeting.services.withdrawals.withdraw(office, "DB002")
    done = await post_form(phone, "/office/checkin/p/DB002", "form-guest-of")
    assert flash(done.text) == "Đã ghi nhận khách: Hoàng Thị Ngọc Diệp."
    typed = await post_form(phone, "/office/checkin", "form-guest", {"name": "Hoàng Văn Khách"})
    assert flash(typed.text) == "Đã ghi nhận khách: Hoàng Văn Khách."
    # Invited again, she counts as a delegate present: her card says so, and her seats are hers.
    await meeting.services.withdrawals.reinvite(office, "DB002")
    card = await phone.client.get("/office/checkin/p/DB002")
    assert text_of(card.text, "notice").startswith(
        "Đã điểm danh đại biểu Hoàng Thị Ngọc Diệp (vào với tư cách khách khi giấy mời bị rút; "
        "nay đã được mời lại nên được tính là đại biểu có mặt) lúc 07:30"
    )
    assert 'id="form-tap"' not in card.text and 'id="form-guest-of"' not in card.text
    assert text_of(card.text, "person-area") == AREA


async def test_the_attendance_shows_a_page_of_who_is_missing_with_see_more_and_a_group_filter(
    meeting: Day, office_phone: OfficePhone
) -> None:
    office = await office_phone()
    transport = office.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    pages = desk_pages_of(transport.app.routes)  # type: ignore[attr-defined]
    assert pages is not None
    pages.missing_page = 1  # as 100 of 4,500 at 10,000 invitees: one of a few here
    seen = await meeting.services.checkin.attendance(
        meeting.services.access.local_operator(), limit=1000
    )
    codes = [m.code for m in seen.missing]
    assert len(codes) > 2
    shown = await office.client.get("/office/attendance")
    assert re.findall(r'<tr id="missing-(\w+)">', shown.text) == codes[:1]
    assert text_of(shown.text, "total-missing") == str(len(codes))  # the count is everyone's
    assert text_of(shown.text, "missing-shown") == (
        f"Đang hiện 1 trong số {len(codes)} đại biểu chưa đến, theo thứ tự nghi lễ."
    )
    more = re.search(r'id="missing-more" href="([^"]+)"', shown.text)
    assert more is not None and more.group(1) == f"/office/attendance?after={codes[0]}#missing"
    following = await office.client.get(more.group(1).replace("&amp;", "&"))
    assert re.findall(r'<tr id="missing-(\w+)">', following.text) == codes[1:2]
    # Its poll asks for the same page; "all groups, from the start" goes back.
    assert f'data-live="/office/attendance/live?after={codes[0]}"' in following.text
    live = await office.client.get(f"/office/attendance/live?after={codes[0]}")
    assert re.findall(r'<tr id="missing-(\w+)">', live.text) == codes[1:2]
    assert 'id="missing-all" href="/office/attendance#missing"' in following.text
    # A group's count links to that group's list alone.
    group = next(g for g in seen.groups if g.missing)
    link = re.search(rf'href="([^"]+)" id="missing-of-{group.key}">{group.missing}<', shown.text)
    assert link is not None
    pages.missing_page = 1000
    mine = await office.client.get(link.group(1))
    assert re.findall(r'<tr id="missing-(\w+)">', mine.text) == [
        m.code for m in seen.missing if m.group_key == group.key
    ]
    assert group.label in text_of(mine.text, "missing-title")


async def test_withdrawing_the_checkin_role_ends_the_desk_at_once(
    meeting: Day, phone: Desk
) -> None:
    path = f"/{meeting.tokens['DB001']}"
    assert 'id="form-tap"' in (await phone.client.get(path)).text
    access = meeting.services.access
    await access.revoke(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    assert 'id="form-tap"' not in (await phone.client.get(path)).text  # the invitee's page
    refused = await phone.client.get("/office/checkin")
    assert refused.status_code == 403 and 'id="message-refused"' in refused.text


async def test_the_missing_list_gives_the_phone_of_the_substitute_the_office_awaits(
    meeting: Day, phone: Desk
) -> None:
    await meeting.substitutes_by_phone()
    office = await at_desk(meeting, OFFICE_STAFF, role=Role.OFFICE, label="Văn phòng")
    live = (await office.client.get("/office/attendance/live")).text

    def row(code: str) -> str:
        found = re.search(rf'<tr id="missing-{code}">(.*?)</tr>', live, re.S)
        assert found is not None
        return found.group(1)

    assert row("DB005").endswith(
        '<td><a href="tel:0912345678">0912 345 678</a> (người dự thay)</td>'
    )
    assert row("DB006").endswith(
        '<td><a href="tel:0912345006">0912 345 006</a> (đại biểu cử người dự thay)</td>'
    )


def test_the_missing_rows_written_in_python_are_those_the_template_wrote() -> None:
    # The attendance's rows of who is missing are written by missing_rows (thousands a poll at
    # 10,000 invitees); the HTML must be byte for byte what the template's loop made, markup
    # in names escaped, a substitute named, a phone dialable, none said to be missing.
    from jinja2 import Environment
    from markupsafe import Markup

    from bot.domain.rsvp import RsvpStatus
    from bot.services.checkin import Missing
    from handlers.web.office.checkin import missing_rows

    catalog = load_catalog("vi")
    loop = (
        "{% for person in seen.missing %}\n"
        '<tr id="missing-{{ person.code }}"><th scope="row">{{ person.full_name }}{% if '
        'person.substitute_name %} <span class="muted">({{ t("dash.attendance.substitute", '
        "name=person.substitute_name) }})</span>{% endif %}</th><td>{{ person.position }}, "
        "{{ person.organization }}</td><td>{{ group_labels.get(person.group_key, "
        'person.group_key) }}</td><td>{% if person.phone %}<a href="tel:{{ person.phone|'
        "replace(' ', '') }}\">{{ person.phone }}</a>{% else %}<span class=\"muted\">{{ "
        't("dash.overview.to_phone_no_number") }}</span>{% endif %}</td></tr>\n'
        "{% endfor %}\n"
    )
    template = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(loop)
    people = [
        Missing("DB001", "Nguyễn <b>Hà</b>", "Chủ tịch", "Hội & Co", "g1", RsvpStatus.ATTENDING,
                None, "0912 345 678"),
        Missing("DB'2", 'Lê "Lan"', "Phó", "Xã A", "gone", RsvpStatus.SUBSTITUTE,
                "Trần <i>Bình</i>", None),
    ]  # fmt: skip
    labels = {"g1": "Nhóm <1>"}
    old = template.render(
        seen={"missing": people}, group_labels=labels,
        t=lambda key, **params: Markup(catalog.html(key, **params)),
    )  # fmt: skip
    assert str(missing_rows(catalog, labels, people)) == old


async def test_a_tap_after_the_browser_dropped_the_session_cookie_is_said_not_done(
    meeting: Day, phone: Desk
) -> None:
    path = f"/{meeting.tokens['DB002']}"
    form = fields((await phone.client.get(path)).text, "form-tap")
    meeting.clock.advance(meeting.services.signin.session_lifetime + timedelta(minutes=1))
    phone.client.cookies.delete("hoinghi_office")  # as a browser does at its Max-Age
    tapped = await phone.client.post("/office/checkin/in", data=form)
    assert tapped.status_code == 401
    assert "chưa được thực hiện" in text_of(tapped.text, "signin-ended")
    assert await present(meeting.services) == []
    # Signing in again drops the old session's desk: the desk is chosen again, not left to
    # answer every personal link with «đã hết hạn».
    again = await phone.sign_in(CHECKIN_STAFF)
    dropped = [c for c in again.headers.get_list("set-cookie") if c.startswith(f"{DESK_COOKIE}=")]
    assert len(dropped) == 1 and "Max-Age=0" in dropped[0]


async def test_the_desk_says_so_when_today_is_not_the_meeting_day(
    meeting: Day, phone: Desk
) -> None:
    on_the_day = await phone.client.get("/office/checkin")
    assert 'id="not-meeting-day"' not in on_the_day.text
    meeting.clock.set(meeting.clock.now() - timedelta(days=17))  # trying the desk out early
    before = await phone.client.get("/office/checkin")
    assert "Hôm nay không phải ngày hội nghị (08:00, 28/5)" in text_of(
        before.text, "not-meeting-day"
    )


@pytest.mark.parametrize("config", [two_days(load_config(EXAMPLE_CONFIG).config)])
async def test_on_day_two_the_desk_s_card_offers_the_check_in_of_someone_who_came_on_day_one(
    meeting: Day, config: Config
) -> None:
    """Re-test s34 (M1): on day two the card of a delegate who came on day one said «Đã điểm
    danh … lúc 07:45: không cần điểm danh lại» with no button. It offers «Điểm danh», says
    «Đã dự ngày 28/5.» as a note (not a warning), and the tap records her for today."""
    await meeting.checkin.check_in(await meeting.desk("NV03", "Bàn 2"), "DB001")
    meeting.clock.set(meeting.clock.now() + timedelta(days=1))
    phone = await at_desk(meeting)  # day two's phone at the desk
    path = "/office/checkin/p/DB001"
    card = await phone.client.get(path)
    assert 'id="notice"' not in card.text
    assert text_of(card.text, "came-on") == "Đã dự ngày 28/5."
    shown = await post_form(phone, path, "form-tap")
    assert flash(shown.text).startswith("Đã điểm danh: Phạm Thị Thanh Mai.")
    rows = await present(meeting.services)
    assert [(row.full_name, str(row.day)) for row in rows] == [
        ("Phạm Thị Thanh Mai", "2024-05-28"),
        ("Phạm Thị Thanh Mai", "2024-05-29"),
    ]
    await phone.client.aclose()
