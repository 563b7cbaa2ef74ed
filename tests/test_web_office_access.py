"""Who may open the dashboard's notices, import, downloads and speech drafts: anonymous visitors
get the sign-in page, a delegate's personal token opens nothing, staff who lost the office role
are refused; every form needs this session's signature; an uploaded list is its session's alone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.services import Services
from bot.services.access import Role
from storage.models import AuditEntry, Delegate, Invitation, MeetingDocument, OutboundMessage
from tests.office_support import STAFF, Desk, desk_for, hidden, make_staff, text_of

GETS = (
    "/office/notices",
    "/office/import",
    "/office/invitations",
    "/office/invitations/links.xlsx",
    "/office/invitations/slips.docx",
    "/office/report.xlsx",
    "/office/log",
    "/office/log.xlsx",
    "/office/log.csv",
    "/office/delegates/DB010/reissue",
    "/office/delegates/DB010/unlink/telegram",
    "/office/tasks",
    "/office/tasks/1",
    "/office/tasks/1/files/1",
    "/office/drafts",
    "/office/drafts/approved.zip",
    "/office/drafts/1",
    "/office/drafts/1/thread",
    "/office/drafts/1/versions/1",
    "/office/documents",
    "/office/documents/1/file",
    "/office/documents/1/hide",
)
POSTS = (
    "/office/notices/preview",
    "/office/notices/1/send",
    "/office/notices/1/cancel",
    "/office/notices/1/resend",
    "/office/import",
    "/office/import/abc/apply",
    "/office/import/abc/discard",
    "/office/delegates/DB010/reissue",
    "/office/delegates/DB010/unlink/telegram",
    "/office/delegates/DB010/sent",
    "/office/delegates/DB010/unsent",
    "/office/tasks/1/close",
    "/office/tasks/1/reopen",
    "/office/drafts/1/comment",
    "/office/drafts/1/approve",
    "/office/drafts/1/revise",
    "/office/documents",
    "/office/documents/1/hide",
    "/office/documents/1/show",
)


@pytest.fixture
async def desk(imported: Services) -> AsyncIterator[Desk]:
    await make_staff(imported)
    desk = await desk_for(imported)
    yield desk
    await desk.client.aclose()


async def test_anonymous_visitors_get_the_sign_in_page_on_every_new_route(desk: Desk) -> None:
    for path in GETS + POSTS:
        method = desk.client.get if path in GETS else desk.client.post
        response = await method(path)
        assert response.status_code == 401, path
        assert "/dangnhap" in text_of(response.text, "signin-how"), path
        assert "content-disposition" not in response.headers, path


async def test_a_delegates_personal_token_opens_none_of_them(
    desk: Desk, imported: Services
) -> None:
    token = {link.code: link.token for link in await imported.invitations.links()}["DB010"]
    desk.client.cookies.set("hoinghi_office", token, path="/office")
    for path in GETS:
        response = await desk.client.get(path)
        assert response.status_code == 401, path
        assert "content-disposition" not in response.headers, path
    for path in POSTS:
        assert (await desk.client.post(path)).status_code == 401, path


async def test_staff_who_lost_the_office_role_are_refused_everywhere(
    desk: Desk, imported: Services
) -> None:
    await desk.sign_in()
    access = imported.access
    await access.revoke(access.local_operator(), STAFF, Role.OFFICE)
    for path in GETS:
        response = await desk.client.get(path)
        assert response.status_code == 403 and 'id="message-refused"' in response.text, path


async def test_every_new_form_refuses_a_post_without_this_sessions_signature(
    desk: Desk, imported: Services
) -> None:
    await desk.sign_in()
    other = await desk_for(imported)
    await other.sign_in()
    someone_elses = hidden((await other.client.get("/office/notices")).text, "form-notice")
    async with imported.ctx.sessions() as session:
        invitation = await session.scalar(
            select(Invitation.id).join(Delegate).where(Delegate.code == "DB010")
        )
    for path, data in (
        ("/office/delegates/DB010/sent", {"invitation": str(invitation), "via": "zalo"}),
        ("/office/delegates/DB010/unsent", {"invitation": str(invitation)}),
        ("/office/notices/preview", {"body": "Giả mạo.", "audience": "linked"}),
        ("/office/notices/1/send", {"how": "now"}),
        ("/office/notices/1/cancel", {}),
        ("/office/notices/1/resend", {}),
        ("/office/import/abc/apply", {}),
        ("/office/import/abc/discard", {}),
        ("/office/tasks/1/close", {"note": "Giả mạo."}),
        ("/office/tasks/1/reopen", {"note": "Giả mạo."}),
        ("/office/drafts/1/comment", {"body": "Giả mạo."}),
        ("/office/drafts/1/approve", {"version": "1"}),
        ("/office/drafts/1/revise", {"version": "1", "reason": "Giả mạo."}),
        ("/office/documents/1/hide", {}),
        ("/office/documents/1/show", {}),
    ):
        for fields in ({}, someone_elses):
            response = await desk.client.post(path, data={**fields, **data})
            assert response.status_code == 403, path
    upload = await desk.client.post(
        "/office/import",
        data=someone_elses,
        files={"file": ("ds.csv", b"Ma,Ho va ten\n", "text/csv")},
    )
    assert upload.status_code == 403
    document = await desk.client.post(
        "/office/documents",
        data={**someone_elses, "title": "Giả mạo", "note": ""},
        files={"file": ("gia-mao.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")},
    )
    assert document.status_code == 403
    cross = await desk.client.post(
        "/office/notices/preview",
        data={"body": "x", "audience": "linked"},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    async with imported.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboundMessage)) == 0
        assert await session.scalar(select(func.count()).select_from(MeetingDocument)) == 0
        assert await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.in_(["task.closed", "task.reopened", "invitation.sent"]))) == 0  # fmt: skip
    await other.client.aclose()


async def test_an_uploaded_list_can_be_applied_only_from_the_session_that_sent_it(
    desk: Desk, imported: Services
) -> None:
    await desk.sign_in()
    page = await desk.client.get("/office/import")
    extra = "DB999,Trần Văn Mới,Chuyên viên,Văn phòng Hội,trung_uong_hoi,,9\n"
    content = ("Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại,Thứ tự\n" + extra).encode()
    read = await desk.client.post(
        "/office/import",
        data=hidden(page.text, "form-import"),
        files={"file": ("ds.csv", content, "text/csv")},
    )
    assert text_of(read.text, "count-added") == "1"
    action = re.search(r'action="(/office/import/[^"]+/apply)"', read.text)
    assert action is not None
    other = await desk_for(imported)
    await other.sign_in()
    fields = hidden((await other.client.get("/office/import")).text, "form-import")
    stolen = await other.client.post(action.group(1), data=fields)
    shown = (await other.client.get(stolen.headers["location"])).text
    assert text_of(shown, "flash").startswith("Tệp đã chọn không còn")
    async with imported.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delegate)) == 80
    # Dropped by its own session, it is gone for good.
    discard = re.search(r'action="(/office/import/[^"]+/discard)"', read.text)
    assert discard is not None
    dropped = await desk.client.post(discard.group(1), data=hidden(read.text, "form-discard"))
    shown = (await desk.client.get(dropped.headers["location"])).text
    assert text_of(shown, "flash") == "Đã bỏ tệp vừa chọn; danh sách không thay đổi gì."
    late = await desk.client.post(action.group(1), data=hidden(read.text, "form-apply"))
    shown = (await desk.client.get(late.headers["location"])).text
    assert text_of(shown, "flash").startswith("Tệp đã chọn không còn")
    async with imported.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delegate)) == 80
    await other.client.aclose()
