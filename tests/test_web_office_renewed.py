"""A dashboard form sent after the server's secret changed (a restart with a new one while the
page stayed open): nothing is done, and a form that took typed text comes back to its page with
every box as typed and the personal page's sentence saying to press send again."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.domain.outbound import MessageKind
from bot.services.access import Role
from storage.models import AuditEntry, DraftComment, MeetingDocument, OutboundMessage
from tests.harness import BotHarness
from tests.office_support import Desk, hidden, restarted_with_new_secret, signed_in_desk, text_of
from tests.samples import DOCX
from tests.tasks_support import task_id, with_contacts
from tests.test_web_office_drafts import draft_id, upload, word

PRESS_AGAIN = (
    "Trang đã được làm mới kể từ lúc đồng chí mở nên nội dung vừa gửi chưa được nhận. Toàn bộ "
    "nội dung đồng chí đã nhập vẫn ở nguyên trong khung dưới đây; đề nghị đồng chí bấm gửi lại."
)
CHOOSE_FILE_AGAIN = (
    "Trang đã được làm mới kể từ lúc đồng chí mở nên tệp vừa gửi chưa được nhận. Đề nghị đồng "
    "chí chọn lại tệp rồi bấm gửi lại."
)
NOTICE = "Kính gửi các đồng chí đại biểu,\nHội nghị <b>bắt đầu</b> lúc 07:30 & kết thúc 11:00."


@pytest.fixture
async def desk(harness: BotHarness) -> AsyncIterator[Desk]:
    await with_contacts(harness)
    async with signed_in_desk(harness.services) as desk:
        yield desk


@pytest.fixture
async def restarted(desk: Desk, harness: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    """The same browser (its session's cookie) on the server restarted with a new secret."""
    async with restarted_with_new_secret(harness.services, desk) as client:
        yield client


async def sent_back(
    desk: Desk, restarted: httpx.AsyncClient, page: str, form_id: str, action: str, data: dict
) -> tuple[str, str]:
    """Send the form ``form_id`` of ``page`` (signed before the restart) to ``action`` after it:
    where it was sent back to, and that page."""
    fields = hidden((await desk.client.get(f"/office/{page}")).text, form_id)
    answer = await restarted.post(f"/office/{action}", data={**fields, **data})
    assert answer.status_code == 303, answer.text[:300]
    location = answer.headers["location"]
    return location, (await restarted.get(location)).text


def box(page: str, box_id: str) -> str:
    """What the box ``box_id`` holds (a textarea's text or an input's value)."""
    found = re.search(rf'<textarea id="{box_id}"[^>]*>(.*?)</textarea>', page, re.S)
    if found is None:
        found = re.search(rf'<input id="{box_id}"[^>]*\bvalue="([^"]*)"', page)
    assert found is not None, box_id
    return html.unescape(found.group(1))


async def count(harness: BotHarness, model: type) -> int:
    async with harness.services.ctx.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_notice_sent_after_the_secret_changed_comes_back_in_its_box_to_send_again(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    before = await count(harness, OutboundMessage)
    where, page = await sent_back(
        desk, restarted, "notices", "form-notice", "notices/preview",
        {"body": NOTICE, "audience": "linked"},
    )  # fmt: skip
    assert where.startswith("/office/notices?f=")
    assert text_of(page, "flash") == PRESS_AGAIN
    assert box(page, "notice-body") == NOTICE
    assert await count(harness, OutboundMessage) == before  # no draft started


async def test_a_comment_and_a_revision_sent_after_the_secret_changed_come_back_in_their_boxes(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "Tham luận Ba Đình.docx", word("Kính thưa Đoàn Chủ tịch,"))
    draft = await draft_id(harness, "DB031")
    for form_id, action, field, box_id, typed in (
        ("form-comment", "comment", "body", "comment-body", "Đề nghị bổ sung số liệu 2023."),
        ("form-revise", "revise", "reason", "revise-reason", "Rút gọn phần mở đầu."),
    ):
        where, page = await sent_back(
            desk, restarted, f"drafts/{draft}", form_id, f"drafts/{draft}/{action}",
            {field: typed},
        )  # fmt: skip
        assert where.startswith(f"/office/drafts/{draft}?f=")
        assert text_of(page, "flash") == PRESS_AGAIN
        assert box(page, box_id) == typed
    assert await count(harness, DraftComment) == 0


async def test_a_tasks_note_sent_after_the_secret_changed_comes_back_in_its_box(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.3")
    where, page = await sent_back(
        desk, restarted, f"tasks/{task}", "form-close", f"tasks/{task}/close",
        {"note": "Đã đủ báo cáo của 30 quận, huyện."},
    )  # fmt: skip
    assert where.startswith(f"/office/tasks/{task}?f=")
    assert text_of(page, "flash") == PRESS_AGAIN
    assert box(page, "close-note") == "Đã đủ báo cáo của 30 quận, huyện."
    # The record form is multipart (a file may come with it): its note back; a file asked for
    # again only when one was chosen (an empty file box is sent with no name).
    fields = hidden((await desk.client.get(f"/office/tasks/{task}")).text, "form-record-NV04")
    parts = {
        **{name: (None, value) for name, value in fields.items()},
        "person": (None, "NV04"),
        "note": (None, "Báo cáo qua điện thoại"),
    }
    for chosen, said in (
        (("", b"", "application/octet-stream"), PRESS_AGAIN),
        (("bao-cao.docx", b"PK..", DOCX), CHOOSE_FILE_AGAIN),
    ):
        answer = await restarted.post(
            f"/office/tasks/{task}/record", files={**parts, "file": chosen}
        )
        page = (await restarted.get(answer.headers["location"])).text
        assert text_of(page, "flash") == said
        assert box(page, "record-note-NV04") == "Báo cáo qua điện thoại"
        assert 'id="record-NV04" open' in page
    async with harness.services.ctx.sessions() as session:
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert not {a for a in actions if a.startswith("task.")} - {"task.assigned", "task.created"}


async def test_a_phone_answer_and_a_withdrawal_sent_after_the_secret_changed_come_back_as_typed(
    desk: Desk, restarted: httpx.AsyncClient
) -> None:
    typed = {
        "name": "Nguyễn Thị Hoa",
        "position": "Phó Chủ tịch",
        "unit": "Hội LHPN quận Ba Đình",
        "phone": "0912 345 678",
    }
    where, page = await sent_back(
        desk, restarted, "delegates/DB010", "form-phone", "delegates/DB010/phone",
        {"choice": "substitute", **typed},
    )  # fmt: skip
    assert where.startswith("/office/delegates/DB010?f=")
    assert text_of(page, "flash") == PRESS_AGAIN
    for field, value in typed.items():
        assert box(page, f"phone-{field}") == value
    assert chosen(page, "choice") == "substitute"
    where, page = await sent_back(
        desk, restarted, "delegates/DB010/withdraw", "form-withdraw", "delegates/DB010/withdraw",
        {"reason": "Đồng chí đã nghỉ hưu từ tháng 4."},
    )  # fmt: skip
    assert where.startswith("/office/delegates/DB010/withdraw?f=")
    assert text_of(page, "flash") == PRESS_AGAIN
    assert box(page, "withdraw-reason") == "Đồng chí đã nghỉ hưu từ tháng 4."
    # Nothing withdrawn: her card has no «Đã rút giấy mời» line («đã rút» matched none of it).
    assert 'id="withdrawn-status"' not in (await desk.client.get("/office/delegates/DB010")).text


async def test_a_document_or_a_list_sent_after_the_secret_changed_asks_for_its_file_again(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    for page_path, form_id, typed, ids in (
        (
            "documents",
            "form-document",
            {"title": "Báo cáo sơ kết giữa nhiệm kỳ", "note": "Đề nghị đọc trước hội nghị"},
            {"title": "document-title", "note": "document-note"},
        ),
        ("import", "form-import", {"sheet": "Đại biểu"}, {"sheet": "import-sheet"}),
    ):
        fields = hidden((await desk.client.get(f"/office/{page_path}")).text, form_id)
        parts = {name: (None, value) for name, value in {**fields, **typed}.items()}
        answer = await restarted.post(
            f"/office/{page_path}", files={**parts, "file": ("bao-cao.docx", b"PK..", DOCX)}
        )
        assert answer.status_code == 303
        assert answer.headers["location"].startswith(f"/office/{page_path}?f=")
        page = (await restarted.get(answer.headers["location"])).text
        assert text_of(page, "flash") == CHOOSE_FILE_AGAIN
        for field, box_id in ids.items():
            assert box(page, box_id) == typed[field]
    assert await count(harness, MeetingDocument) == 0


async def test_a_list_chosen_with_no_sheet_typed_after_the_secret_changed_asks_for_it_again(
    desk: Desk, restarted: httpx.AsyncClient
) -> None:
    # Nothing typed to put back, but a file chosen: its page says to choose it again, not the
    # bare «Biểu mẫu đã hết hiệu lực» page of a button.
    fields = hidden((await desk.client.get("/office/import")).text, "form-import")
    parts = {name: (None, value) for name, value in {**fields, "sheet": ""}.items()}
    answer = await restarted.post(
        "/office/import", files={**parts, "file": ("dai-bieu.xlsx", b"PK..", DOCX)}
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/office/import?f=")
    page = (await restarted.get(answer.headers["location"])).text
    assert text_of(page, "flash") == CHOOSE_FILE_AGAIN
    assert box(page, "import-sheet") == ""


async def test_a_button_or_an_empty_box_sent_after_the_secret_changed_is_said_expired(
    desk: Desk, restarted: httpx.AsyncClient
) -> None:
    for page, form_id, action, data in (
        ("delegates/DB010", "form-sent", "delegates/DB010/sent", {"via": "zalo"}),
        ("notices", "form-notice", "notices/preview", {"body": "  ", "audience": "linked"}),
    ):
        fields = hidden((await desk.client.get(f"/office/{page}")).text, form_id)
        answer = await restarted.post(f"/office/{action}", data={**fields, **data})
        assert answer.status_code == 403 and 'id="message-form_expired"' in answer.text


async def test_a_typed_form_not_vouched_for_by_the_browser_is_said_expired_not_filled_again(
    desk: Desk,
) -> None:
    # A forged form whose browser names no page it came from (no Origin, no Sec-Fetch-Site):
    # nothing it carried is put in the clerk's boxes.
    for headers in ({}, {"sec-fetch-site": "none"}):
        answer = await desk.client.post(
            "/office/notices/preview",
            data={"nonce": "abc", "csrf": "forged", "body": NOTICE, "audience": "linked"},
            headers=headers,
        )
        assert answer.status_code == 403 and 'id="message-form_expired"' in answer.text
    vouched = await desk.client.post(
        "/office/notices/preview",
        data={"nonce": "abc", "csrf": "forged", "body": NOTICE, "audience": "linked"},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert vouched.status_code == 303


def chosen(page: str, name: str) -> str:
    """The value of the radio button ``name`` checked, or of the option selected."""
    found = re.search(
        rf'<input type="radio" id="[^"]*" name="{name}" value="([^"]*)"[^>]*checked', page
    )
    if found is None:
        found = re.search(
            rf'<select id="[^"]*" name="{name}".*?<option value="([^"]*)" selected', page, re.S
        )
    assert found is not None, name
    return found.group(1)


async def test_a_staff_grant_sent_after_the_secret_changed_comes_back_with_its_code_and_role(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    where, page = await sent_back(
        desk, restarted, "staff", "form-grant", "staff/grant", {"code": "DB012", "role": "checkin"}
    )
    assert where.startswith("/office/staff?f=")
    assert text_of(page, "flash") == PRESS_AGAIN
    assert box(page, "grant-code") == "DB012"
    assert chosen(page, "role") == "checkin"
    desk_staff = await harness.services.access.staff(Role.CHECKIN)
    assert "DB012" not in {member.person.code for member in desk_staff}  # no role given


async def test_an_assignment_sent_after_the_secret_changed_comes_back_with_code_theme_and_time(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    theme = harness.services.config.themes[-1].key
    typed = {"code": "DB033", "theme": theme, "deadline": "2024-05-20T17:00"}
    where, page = await sent_back(desk, restarted, "drafts", "form-assign", "drafts/assign", typed)
    assert where.startswith("/office/drafts?f=")
    assert text_of(page, "flash") == PRESS_AGAIN
    assert box(page, "assign-code") == "DB033"
    assert box(page, "assign-deadline") == "2024-05-20T17:00"
    assert chosen(page, "theme") == theme
    assert "DB033" not in (await desk.client.get("/office/drafts")).text.split('id="drafts"')[-1]


async def test_a_notice_s_time_sent_after_the_secret_changed_comes_back_to_its_preview(
    desk: Desk, restarted: httpx.AsyncClient, harness: BotHarness
) -> None:
    # The preview is the answer to a post: it had no address to come back to. The draft waits
    # at its preview, which now has one, and the form comes back there with the time typed and
    # «Gửi vào thời điểm» still chosen; nothing is scheduled.
    fields = hidden((await desk.client.get("/office/notices")).text, "form-notice")
    preview = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": NOTICE, "audience": "everyone"}
    )
    assert preview.status_code == 200 and 'id="form-send"' in preview.text
    action = re.search(r'action="/office/(notices/(\d+)/send)" id="form-send"', preview.text)
    assert action is not None
    answer = await restarted.post(
        f"/office/{action.group(1)}",
        data={**hidden(preview.text, "form-send"), "how": "later", "when": "08:00 27/5"},
    )
    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["location"].startswith(f"/office/notices/{action.group(2)}?f=")
    page = (await restarted.get(answer.headers["location"])).text
    assert text_of(page, "flash") == PRESS_AGAIN
    assert box(page, "send-when") == "08:00 27/5"
    assert chosen(page, "how") == "later"
    assert html.unescape(text_of(page, "notice-shown")).endswith(NOTICE)
    async with harness.services.ctx.sessions() as session:
        statuses = list(
            await session.scalars(
                select(OutboundMessage.status).where(OutboundMessage.kind == MessageKind.BROADCAST)
            )
        )
    assert [str(s) for s in statuses] == ["draft"]


async def test_a_notice_s_preview_address_opens_only_while_it_waits_there(
    desk: Desk, harness: BotHarness
) -> None:
    # Where a send time comes back to: the draft's preview while it waits at it; once sent,
    # the notices page (nothing to send again from there).
    fields = hidden((await desk.client.get("/office/notices")).text, "form-notice")
    preview = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": NOTICE, "audience": "everyone"}
    )
    found = re.search(r'action="/office/notices/(\d+)/send" id="form-send"', preview.text)
    assert found is not None
    shown = await desk.client.get(f"/office/notices/{found.group(1)}")
    assert shown.status_code == 200 and 'id="form-send"' in shown.text
    assert 'id="flash"' not in shown.text
    sent = await desk.client.post(
        f"/office/notices/{found.group(1)}/send", data={**hidden(preview.text, "form-send")}
    )
    assert sent.status_code == 303
    gone = await desk.client.get(f"/office/notices/{found.group(1)}")
    assert (gone.status_code, gone.headers["location"]) == (303, "/office/notices")
