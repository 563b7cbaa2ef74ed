"""Cán bộ on the dashboard: a change of staff without the command line. The office sees who
holds each role, gives a new colleague a role by their code, and withdraws the role of one who
leaves (whose open session is refused at once); a staff member cannot withdraw their own office
role, and a code on no list is answered with where to add the person. Audited as the staff
member's."""

from __future__ import annotations

import asyncio
import re
import unicodedata

from sqlalchemy import func, select

from bot.documents.qr import qr_secret_svg
from bot.services import Services
from bot.services.access import Role
from storage.models import AuditEntry, Delegate, StaffSession
from tests.office_support import STAFF, STAFF_NAME, Desk, desk_for, hidden, make_staff, text_of
from tests.test_services import row as delegate_row
from tests.web_support import BASE

LEAVING = "DB002"  # a clerk who leaves
NEW = "DB003"  # her successor, already on the list


async def holders(services: Services, role: Role = Role.OFFICE) -> list[str]:
    return [member.person.code for member in await services.access.staff(role)]


async def test_the_staff_page_lists_who_holds_each_role(desk: Desk, imported: Services) -> None:
    access = imported.access
    await access.grant(access.local_operator(), "DB020", Role.CHECKIN)
    page = await desk.client.get("/office/staff")
    assert page.status_code == 200
    assert 'href="/office/staff" aria-current="page"' in page.text  # in the navigation
    assert f'id="staff-office-{STAFF}"' in page.text
    assert 'id="staff-checkin-DB020"' in page.text
    # One's own office role offers no withdrawal.
    assert f'id="form-revoke-office-{STAFF}"' not in page.text
    assert 'id="form-revoke-checkin-DB020"' in page.text


async def test_an_office_gives_a_new_colleague_the_office_role_from_the_dashboard(
    desk: Desk, imported: Services
) -> None:
    shown = await desk.post("staff/grant", "form-grant", {"code": NEW, "role": "office"},
                            page="staff")  # fmt: skip
    assert "Đã giao vai trò Văn phòng cho đồng chí" in text_of(shown.text, "flash")
    assert NEW in await holders(imported)
    async with imported.ctx.sessions() as session:
        actors = await session.scalars(
            select(AuditEntry.actor)
            .where(AuditEntry.action == "role.granted")
            .order_by(AuditEntry.id)
        )
        assert list(actors) == ["cli", f"dashboard:{STAFF}"]  # the set-up's, then hers
    # She signs in and works.
    colleague = await desk_for(imported)
    await colleague.sign_in(NEW)
    assert (await colleague.client.get("/office/")).status_code == 200
    await colleague.client.aclose()


async def test_withdrawing_a_leaving_clerks_role_refuses_her_open_session_at_once(
    desk: Desk, imported: Services
) -> None:
    await make_staff(imported, LEAVING)
    leaving = await desk_for(imported)
    await leaving.sign_in(LEAVING)
    assert (await leaving.client.get("/office/")).status_code == 200
    shown = await desk.post(
        "staff/revoke", f"form-revoke-office-{LEAVING}", {"code": LEAVING, "role": "office"},
        page="staff",
    )  # fmt: skip
    assert "Đã thu hồi vai trò Văn phòng của đồng chí" in text_of(shown.text, "flash")
    assert LEAVING not in await holders(imported)
    refused = await leaving.client.get("/office/")
    assert refused.status_code == 403 and 'id="message-refused"' in refused.text
    # Given a role again later, she signs in again: her old browser's session stays refused.
    await desk.post("staff/grant", "form-grant", {"code": LEAVING, "role": "checkin"},
                    page="staff")  # fmt: skip
    async with imported.ctx.sessions() as session:
        still_open = await session.scalar(
            select(func.count(StaffSession.id))
            .join(Delegate, Delegate.id == StaffSession.person_id)
            .where(Delegate.code == LEAVING, StaffSession.ended_at.is_(None))
        )
    assert still_open == 0
    await leaving.client.aclose()


async def test_a_role_given_again_ends_her_unspent_sign_in_link_and_logs_only_the_grant(
    imported: Services,
) -> None:
    access, signin = imported.access, imported.signin
    office = access.local_operator()
    await make_staff(imported, LEAVING)
    link = await signin.link_for_code(LEAVING)
    assert link.secret is not None and link.person is not None
    await access.revoke(office, LEAVING, Role.OFFICE)
    # Withdrawing her last role cancelled it (the page at the link says she holds no role).
    assert await signin.link_state(link.secret) == "no_role"
    await access.grant(office, LEAVING, Role.CHECKIN)
    assert not await signin.link_is_open(link.secret)  # she asks for a new one
    async with imported.ctx.sessions() as session:
        actions = await session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.entity == "delegate",
                AuditEntry.entity_id == link.person.id,
                AuditEntry.action != "delegate.created",  # the list's import
            )
            .order_by(AuditEntry.id)
        )
        # The link it ended is no sign-out of hers: the log says the role was given, no more.
        assert list(actions) == [
            "role.granted",
            "staff.link_issued",
            "role.revoked",
            "role.granted",
        ]


async def test_withdrawing_her_last_role_logs_which_unspent_sign_in_links_it_cancelled(
    desk: Desk, imported: Services
) -> None:
    from tests.test_web_office_log import entry_text

    access, signin = imported.access, imported.signin
    await make_staff(imported, LEAVING)
    await access.grant(access.local_operator(), LEAVING, Role.CHECKIN)
    unspent = [await signin.link_for_code(LEAVING) for _ in range(2)]  # hoinghi staff login
    assert all(link.secret is not None for link in unspent)
    form = {"page": "staff"}
    await desk.post("staff/revoke", f"form-revoke-office-{LEAVING}",
                    {"code": LEAVING, "role": "office"}, **form)  # fmt: skip
    # She still holds the check-in role: her links stay, and the entry names none.
    await desk.post("staff/revoke", f"form-revoke-checkin-{LEAVING}",
                    {"code": LEAVING, "role": "checkin"}, **form)  # fmt: skip
    async with imported.ctx.sessions() as session:
        links = list(
            await session.scalars(
                select(StaffSession.id)
                .join(Delegate, Delegate.id == StaffSession.person_id)
                .where(Delegate.code == LEAVING, StaffSession.kind == "link")
                .order_by(StaffSession.id)
            )
        )
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "role.revoked")
                .order_by(AuditEntry.id)
            )
        )
    assert len(links) == 2
    assert [(e.before, e.after) for e in entries] == [
        ({"role": "office"}, None),
        ({"role": "checkin"}, {"links": links}),
    ]
    log = (await desk.client.get("/office/log?action=role.revoked")).text

    def changes(entry: AuditEntry) -> list[str]:
        """The entry's lines "field: old → new", as the log writes them."""
        start = log.index(f'<li id="entry-{entry.id}">')
        return re.findall(r"<li>([^<]*)</li>", log[start : log.index("</ul>", start)])

    assert "thu hồi vai trò (Hoàng Thị Ngọc Diệp)" in entry_text(log, str(entries[1].id))
    assert changes(entries[1]) == [
        "Vai trò: đón tiếp → (bỏ)",
        f"Đường liên kết đăng nhập chưa dùng đã hủy, số: {links[0]}, {links[1]}",
    ]
    assert changes(entries[0]) == ["Vai trò: Văn phòng → (bỏ)"]


async def test_her_old_browsers_sign_out_after_a_role_given_again_says_she_is_signed_out(
    desk: Desk, imported: Services
) -> None:
    # Her role withdrawn, her browser's session stays (it says "refused"); given a role again,
    # that session ends with the grant. «Đăng xuất» tapped on the page still open there is
    # true to say done: nothing of that browser's is open (the grant ended it).
    access = imported.access
    await make_staff(imported, LEAVING)
    leaving = await desk_for(imported)
    await leaving.sign_in(LEAVING)
    signout = hidden((await leaving.client.get("/office/")).text, "form-signout")
    await access.revoke(access.local_operator(), LEAVING, Role.OFFICE)
    await access.grant(access.local_operator(), LEAVING, Role.OFFICE)
    pressed = await leaving.client.post("/office/signout", data=signout)
    assert pressed.status_code == 200
    assert text_of(pressed.text, "message-signed_out") == (
        "Đồng chí đã đăng xuất khỏi trang điều hành. Để đăng nhập lại, gửi lệnh /dangnhap"
        " trong tin nhắn riêng với bot"
        " hoặc nhờ cán bộ Văn phòng cấp đường liên kết đăng nhập"
        " (mục «Cán bộ» của trang điều hành)."
    )
    await leaving.client.aclose()


async def test_a_staff_member_cannot_withdraw_her_own_office_role(
    desk: Desk, imported: Services
) -> None:
    shown = await desk.post("staff/revoke", "form-grant", {"code": STAFF, "role": "office"},
                            page="staff")  # fmt: skip
    assert "không tự thu hồi vai trò Văn phòng của mình" in text_of(shown.text, "flash")
    assert STAFF in await holders(imported)
    assert (await desk.client.get("/office/")).status_code == 200


async def test_a_code_on_no_list_says_where_to_add_the_person_first(
    desk: Desk, imported: Services
) -> None:
    shown = await desk.post("staff/grant", "form-grant", {"code": "NV99", "role": "checkin"},
                            page="staff")  # fmt: skip
    flash = text_of(shown.text, "flash")
    assert "Không có ai mang mã NV99" in flash and "Nhập danh sách" in flash
    assert await holders(imported, Role.CHECKIN) == []


async def test_a_grant_refused_for_its_code_comes_back_with_the_code_and_the_role_chosen(
    desk: Desk, imported: Services
) -> None:
    # A code mistyped came back with an empty box and «Văn phòng» chosen again (the first
    # role): the code corrected and sent as it stood gave a volunteer the office's role.
    shown = await desk.post("staff/grant", "form-grant", {"code": "NV99", "role": "checkin"},
                            page="staff")  # fmt: skip
    assert "Không có ai mang mã NV99" in text_of(shown.text, "flash")
    assert (
        'id="grant-code" name="code" maxlength="40" required autocomplete="off" value="NV99">'
        in (shown.text)
    )
    checked = re.findall(r'<input type="radio" id="grant-(\w+)"[^>]* checked>', shown.text)
    assert checked == ["checkin"]
    again = (await desk.client.get("/office/staff")).text  # shown once
    assert re.findall(r'<input type="radio" id="grant-(\w+)"[^>]* checked>', again) == ["office"]
    assert 'value="NV99"' not in again


async def test_a_code_typed_in_decomposed_unicode_is_given_its_role(
    desk: Desk, imported: Services
) -> None:
    """ "đb-hòa" typed with Unikey's «Unicode tổ hợp» (NFD) is ĐB-Hòa on the list: it was
    answered «Không có ai mang mã đb-hòa…»."""
    await imported.delegates.import_rows(
        [delegate_row("ĐB-Hòa", full_name="Lê Thị Hòa", phone=None)], actor="t"
    )
    typed = unicodedata.normalize("NFD", "đb-hòa")
    shown = await desk.post("staff/grant", "form-grant", {"code": typed, "role": "checkin"},
                            page="staff")  # fmt: skip
    assert (
        text_of(shown.text, "flash") == "Đã giao vai trò Đón tiếp cho đồng chí Lê Thị Hòa (ĐB-Hòa)."
    )
    assert await holders(imported, Role.CHECKIN) == ["ĐB-Hòa"]


async def test_the_staff_page_says_the_plans_telegram_admins_hold_the_office_too(
    desk: Desk, imported: Services
) -> None:
    # A clerk who leaves keeps the chat's office commands while her Telegram id is in the plan.
    page = (await desk.client.get("/office/staff")).text
    assert len(imported.config.office.admin_ids) == 2
    assert "Ngoài ra, 2 tài khoản Telegram ghi ở [office] admin_ids" in text_of(page, "bootstrap")


VOLUNTEER = "DB020"  # a reception desk volunteer with no linked chat
VOLUNTEER_NAME = "Phùng Văn Toản"
_LINK_FIELD = re.compile(r'<input id="signin-link" type="text" readonly value="([^"]+)"')


def shown_link(html: str) -> str:
    """The sign-in link the page shows in its read-only field."""
    match = _LINK_FIELD.search(html)
    assert match is not None
    return match.group(1)


async def link_issues(services: Services) -> list[tuple[str, int, dict[str, object]]]:
    async with services.ctx.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "staff.link_issued")
            .order_by(AuditEntry.id)
        )
        return [(row.actor, row.entity_id, row.after) for row in rows]


async def person_id(services: Services, code: str) -> int:
    async with services.ctx.sessions() as session:
        found = await session.scalar(select(Delegate.id).where(Delegate.code == code))
    assert found is not None
    return found


async def test_a_clerk_issues_a_desk_volunteer_a_sign_in_link_shown_once_that_opens_the_desk_once(
    desk: Desk, imported: Services
) -> None:
    access = imported.access
    await access.grant(access.local_operator(), VOLUNTEER, Role.CHECKIN)
    before = await link_issues(imported)
    shown = await desk.post(
        "staff/signin-link", f"form-signin-link-checkin-{VOLUNTEER}", {"code": VOLUNTEER},
        page="staff",
    )  # fmt: skip
    assert shown.status_code == 200
    assert text_of(shown.text, "signin-link-issued") == (
        f"Đường liên kết đăng nhập trang điều hành cho đồng chí {VOLUNTEER_NAME} ({VOLUNTEER}):"
        " dùng được một lần, đến 09:10 (10 phút). Đường liên kết chỉ hiện lần này; tải lại"
        " trang sẽ không hiện nữa."
    )
    assert text_of(shown.text, "signin-link-warning") == (
        f"Chỉ trao đường liên kết này cho chính đồng chí {VOLUNTEER_NAME}, trực tiếp tại chỗ;"
        " không gửi vào nhóm, không chụp màn hình gửi cho người khác: ai có đường liên kết này"
        f" sẽ đăng nhập được với tư cách đồng chí {VOLUNTEER_NAME}."
    )
    link = shown_link(shown.text)
    assert link.startswith(f"{BASE}/office/signin/")
    secret = link.rsplit("/", 1)[1]
    assert qr_secret_svg(link) in shown.text  # the QR code of that very link
    assert (
        f'<label for="signin-link">Đường liên kết đăng nhập của đồng chí {VOLUNTEER_NAME}'
        f" ({VOLUNTEER})</label>"
    ) in shown.text
    # Issued as `hoinghi staff login` issues it, audited as the clerk's, for the volunteer.
    issued = (await link_issues(imported))[len(before) :]
    assert issued == [
        (
            f"dashboard:{STAFF}",
            await person_id(imported, VOLUNTEER),
            {"name": VOLUNTEER_NAME, "via": "dashboard", "link": issued[0][2]["link"]},
        )
    ]
    # Reloading the page shows it no more.
    again = await desk.client.get(str(shown.url))
    assert again.status_code == 200
    assert secret not in again.text and 'id="signin-link"' not in again.text
    assert 'id="flash"' not in again.text
    # The volunteer's phone opens it and lands on the desk; a second use opens nothing.
    phone = await desk_for(imported)
    opened = await phone.use_link(secret)
    assert opened.status_code == 303 and opened.headers["location"] == "/office/checkin"
    other = await desk_for(imported)
    assert (await other.use_link(secret)).status_code == 410
    await phone.client.aclose()
    await other.client.aclose()


async def test_the_sign_in_link_form_tapped_twice_issues_one_link_and_shows_it_again(
    desk: Desk, imported: Services
) -> None:
    access = imported.access
    await access.grant(access.local_operator(), VOLUNTEER, Role.CHECKIN)
    page = await desk.client.get("/office/staff")
    fields = {**hidden(page.text, f"form-signin-link-checkin-{VOLUNTEER}"), "code": VOLUNTEER}
    before = await link_issues(imported)
    # Two taps: both posts leave before either answer is back; the browser shows the second.
    first, second = await asyncio.gather(
        desk.client.post("/office/staff/signin-link", data=fields),
        desk.client.post("/office/staff/signin-link", data=fields),
    )
    assert first.status_code == second.status_code == 303
    assert len(await link_issues(imported)) == len(before) + 1  # one link, not two
    shown = await desk.client.get(second.headers["location"])
    assert text_of(shown.text, "signin-link-again") == (
        "Biểu mẫu này đã được gửi từ trước (bấm hai lần): đường liên kết đăng nhập cho đồng chí"
        f" {VOLUNTEER_NAME} ({VOLUNTEER}) đã được cấp từ trước; không có gì thay đổi, không cấp"
        " thêm đường liên kết nào. Đường liên kết đã cấp lần trước ở dưới đây."
    )
    link = shown_link(shown.text)
    assert link == shown_link((await desk.client.get(first.headers["location"])).text)
    # A third tap later, the same: still the one link, which opens the desk once.
    third = await desk.client.post("/office/staff/signin-link", data=fields)
    again = await desk.client.get(third.headers["location"])
    assert shown_link(again.text) == link and 'id="signin-link-again"' in again.text
    assert len(await link_issues(imported)) == len(before) + 1
    phone = await desk_for(imported)
    opened = await phone.use_link(link.rsplit("/", 1)[1])
    assert opened.status_code == 303 and opened.headers["location"] == "/office/checkin"
    await phone.client.aclose()


async def test_a_clerk_may_issue_a_sign_in_link_for_herself_for_a_second_device(
    desk: Desk, imported: Services
) -> None:
    shown = await desk.post(
        "staff/signin-link", f"form-signin-link-office-{STAFF}", {"code": STAFF}, page="staff"
    )
    tablet = await desk_for(imported)
    opened = await tablet.use_link(shown_link(shown.text).rsplit("/", 1)[1])
    assert opened.status_code == 303 and opened.headers["location"] == "/office/"
    assert (await desk.client.get("/office/")).status_code == 200  # her laptop stays signed in
    await tablet.client.aclose()


async def test_no_sign_in_link_for_someone_whose_role_was_withdrawn_meanwhile(
    desk: Desk, imported: Services
) -> None:
    access = imported.access
    await access.grant(access.local_operator(), VOLUNTEER, Role.CHECKIN)
    page = await desk.client.get("/office/staff")  # the clerk's page, still listing him
    fields = hidden(page.text, f"form-signin-link-checkin-{VOLUNTEER}")
    await access.revoke(access.local_operator(), VOLUNTEER, Role.CHECKIN)  # another clerk
    before = await link_issues(imported)
    posted = await desk.client.post("/office/staff/signin-link", data={**fields, "code": VOLUNTEER})
    assert posted.status_code == 303
    shown = await desk.client.get(posted.headers["location"])
    assert text_of(shown.text, "flash") == (
        f"Đồng chí {VOLUNTEER_NAME} ({VOLUNTEER}) không còn giữ vai trò Văn phòng hay vai trò"
        " đón tiếp (có thể vừa được thu hồi), nên không cấp đường liên kết đăng nhập. Nếu cần,"
        " đề nghị giao lại vai trò ở mục «Giao vai trò» bên dưới."
    )
    assert 'id="signin-link"' not in shown.text
    assert await link_issues(imported) == before


async def test_a_desk_volunteer_cannot_issue_sign_in_links_nor_a_form_from_elsewhere(
    desk: Desk, imported: Services
) -> None:
    access = imported.access
    await access.grant(access.local_operator(), VOLUNTEER, Role.CHECKIN)
    volunteer = await desk_for(imported)
    await volunteer.sign_in(VOLUNTEER)
    page = await volunteer.client.get("/office/staff")
    assert page.status_code == 403 and 'id="message-checkin_only"' in page.text
    refused = await volunteer.client.post("/office/staff/signin-link", data={"code": STAFF})
    assert refused.status_code == 403 and 'id="message-checkin_only"' in refused.text
    # The clerk's own session, but a form this server did not sign: refused too.
    forged = await desk.client.post(
        "/office/staff/signin-link", data={"code": VOLUNTEER, "nonce": "x", "csrf": "y"}
    )
    assert forged.status_code == 403 and 'id="message-form_expired"' in forged.text
    before_links = await link_issues(imported)
    assert [entry for entry in before_links if entry[0] != "cli"] == []
    await volunteer.client.aclose()


async def test_the_log_says_which_clerk_issued_a_sign_in_link_for_whom_from_the_dashboard(
    desk: Desk, imported: Services
) -> None:
    access = imported.access
    await access.grant(access.local_operator(), VOLUNTEER, Role.CHECKIN)
    await desk.post(
        "staff/signin-link", f"form-signin-link-checkin-{VOLUNTEER}", {"code": VOLUNTEER},
        page="staff",
    )  # fmt: skip
    log = (await desk.client.get(f"/office/log?action=staff.link_issued&who={STAFF}")).text
    words = " ".join(re.sub(r"<[^>]+>", " ", log).split())
    assert (
        f"{STAFF_NAME} : cấp đường liên kết đăng nhập trang điều hành ({VOLUNTEER_NAME})" in words
    )
    assert "Yêu cầu từ: trang điều hành (cán bộ Văn phòng cấp ở mục Cán bộ)" in words


async def test_a_clerk_is_offered_sign_in_links_for_herself_and_the_desk_only(
    desk: Desk, imported: Services
) -> None:
    access = imported.access
    await access.grant(access.local_operator(), VOLUNTEER, Role.CHECKIN)
    await make_staff(imported, LEAVING)  # another clerk, at the desk too
    await access.grant(access.local_operator(), LEAVING, Role.CHECKIN)
    page = (await desk.client.get("/office/staff")).text
    assert f'id="form-signin-link-office-{STAFF}"' in page  # herself, a second device
    assert f'id="form-signin-link-checkin-{VOLUNTEER}"' in page  # the desk's volunteer
    # A colleague holding the office role, in either table: no button.
    assert f'id="form-signin-link-office-{LEAVING}"' not in page
    assert f'id="form-signin-link-checkin-{LEAVING}"' not in page


async def test_a_clerk_cannot_issue_a_sign_in_link_for_an_office_colleague(
    desk: Desk, imported: Services
) -> None:
    await make_staff(imported, LEAVING)
    page = await desk.client.get("/office/staff")
    fields = hidden(page.text, f"form-signin-link-office-{STAFF}")  # her own row's form
    before = await link_issues(imported)
    posted = await desk.client.post("/office/staff/signin-link", data={**fields, "code": LEAVING})
    assert posted.status_code == 303
    shown = await desk.client.get(posted.headers["location"])
    async with imported.ctx.sessions() as session:
        name = await session.scalar(select(Delegate.full_name).where(Delegate.code == LEAVING))
    assert text_of(shown.text, "flash") == (
        f"Đồng chí {name} ({LEAVING}) giữ vai trò Văn phòng nên không cấp được đường liên kết"
        " đăng nhập cho đồng chí ấy ở đây: mỗi cán bộ Văn phòng tự đăng nhập, để nhật ký ghi"
        f" đúng tên người làm. Đề nghị đồng chí {name} gửi lệnh /dangnhap trong tin nhắn riêng"
        " với bot hội nghị, hoặc xin cán bộ kỹ thuật chạy lệnh hoinghi staff login"
        f" {LEAVING} trên máy của Văn phòng."
    )
    assert 'id="signin-link"' not in shown.text
    assert await link_issues(imported) == before  # nothing issued, nothing to open
    async with imported.ctx.sessions() as session:
        links = await session.scalar(
            select(func.count())
            .select_from(StaffSession)
            .where(StaffSession.person_id == await person_id(imported, LEAVING))
        )
    assert links == 0


PAGES_ONLY_GRANT = (
    "Người được giao phải có tên trong danh sách (cán bộ mới: nhập ở mục Nhập danh sách, cột Vai "
    "trò ghi «đầu mối»). Máy này không chạy kênh trò chuyện nào (Zalo, Telegram) nên không dùng "
    "được lệnh /dangnhap: cán bộ Văn phòng mới nhận đường liên kết đăng nhập từ cán bộ kỹ thuật, "
    "bằng lệnh hoinghi staff login MÃ tại máy chủ; người chỉ giữ vai trò đón tiếp thì đồng chí cấp "
    "ngay trên trang này («Cấp đường liên kết đăng nhập»)."
)


async def test_a_pages_only_office_is_told_how_a_new_clerk_signs_in_without_a_chat(
    desk: Desk, imported: Services
) -> None:
    """A new office on the web alone read «liên kết Zalo hoặc Telegram … rồi gửi /dangnhap»,
    which no chat here takes."""
    imported.ctx.chats.run(())  # what App.run tells the services on a pages-only install
    page = (await desk.client.get("/office/staff")).text
    assert text_of(page, "grant-about") == PAGES_ONLY_GRANT
    imported.ctx.chats.run(("zalo",))
    page = (await desk.client.get("/office/staff")).text
    assert "/dangnhap cho bot" in text_of(page, "grant-about")
