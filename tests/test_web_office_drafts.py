"""Tham luận on the dashboard: the chat's draft use cases behind a page — every theme and speaker
with where their draft stands, a version downloaded as sent, the newest one's text to read, a
comment that reaches the speaker on their channel and their answer in the thread, approve or
ask for a revision (a second press changes nothing), each step audited as the staff member."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import docx as python_docx
import httpx
import pytest
from sqlalchemy import select

from bot.config import load_config
from bot.documents.reading import MAX_SHOWN, Reading, draft_text
from bot.domain.channels import ChatAccount
from bot.domain.drafts import MAX_COMMENT, DraftStatus
from bot.domain.outbound import MessageKind
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services import Services
from bot.services.access import OfficeActor, Role
from bot.services.report_file import change_lines, office_report_sheets
from bot.texts import load_catalog
from bot.texts.presenters import draft_board_line
from handlers.web.office import drafts as drafts_pages
from storage.models import AuditEntry, DraftComment, OutboundMessage, SpeechAssignment
from tests.conftest import EXAMPLE_CONFIG, HANOI, local
from tests.fakes.telegram_api import FakeUser
from tests.harness import ADMIN_ID, BotHarness
from tests.office_support import (
    STAFF,
    STAFF_NAME,
    Desk,
    desk_for,
    hidden,
    signed_in_desk,
    text_of,
)
from tests.samples import DOCX
from tests.test_drafts import DEADLINE
from tests.test_web_office_accounts import marked_sent
from tests.web_support import web_for

# A figure as the office reads it: «3.000».
vi = load_catalog("vi").number

VI = load_catalog("vi")


@pytest.fixture
async def desk(harness: BotHarness) -> AsyncIterator[Desk]:
    async with signed_in_desk(harness.services) as desk:
        yield desk


def word(*paragraphs: str) -> bytes:
    """A real Word document of ``paragraphs``, as a speaker's office software writes it."""
    document = python_docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def upload(harness: BotHarness, code: str, name: str, content: bytes) -> FakeUser:
    """``code`` opens their link (once) and sends ``content`` as the file ``name``."""
    user = harness.linked.get(code) or await harness.open_invitation(code)
    await harness.send(user.document(name, content, DOCX))
    return user


async def draft_id(harness: BotHarness, code: str) -> int:
    [line] = [line for line in await harness.services.drafts.board() if line.code == code]
    return line.id


async def staff_actor(harness: BotHarness) -> OfficeActor:
    services = harness.services
    card = await services.dashboard.card(STAFF)
    assert card is not None
    actor = await services.access.office_person(card.person.id)
    assert actor is not None
    return actor


async def audits(harness: BotHarness, action: str) -> list[tuple[str, Any]]:
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.after)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
        return [(actor, after) for actor, after in rows.all()]


def version_of(html: str, form_id: str) -> str:
    """The version a verdict form on a draft page is about (its hidden field)."""
    start = html.index(f'id="{form_id}"')
    found = re.search(r'name="version" value="(\d+)"', html[start : html.index("</form>", start)])
    assert found is not None
    return found.group(1)


async def verdict(desk: Desk, assignment: int, form: str, data: dict[str, str]) -> httpx.Response:
    """Press the approve / revise button of a draft page as shown now; the page it leads to."""
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    fields = {**hidden(page, f"form-{form}"), "version": version_of(page, f"form-{form}")}
    answer = await desk.client.post(f"/office/drafts/{assignment}/{form}", data={**fields, **data})
    if answer.status_code == 303:
        return await desk.client.get(answer.headers["location"])
    return answer


async def verdict_form(desk: Desk, assignment: int, form: str, data: dict[str, str]) -> str:
    """:func:`verdict`'s page."""
    return (await verdict(desk, assignment, form, data)).text


async def test_the_board_lists_every_theme_in_plan_order_with_each_speakers_status(
    desk: Desk, harness: BotHarness
) -> None:
    services, actor = harness.services, await staff_actor(harness)
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    await upload(harness, "DB036", "bai.docx", word("Bản 1"))
    await upload(harness, "DB036", "bai.docx", word("Bản 2"))
    await upload(harness, "DB040", "bai.docx", word("Bản 1"))
    for code, status in (("DB036", DraftStatus.REVISION), ("DB040", DraftStatus.FINAL)):
        [newest, *_] = await services.drafts.versions(await draft_id(harness, code))
        await services.drafts.set_verdict(actor, newest.id, status)
    await services.drafts.unassign(actor, "DB055", "2.2")
    harness.clock.set(DEADLINE + timedelta(minutes=1))
    await desk.sign_in()  # days later: a new session

    page = (await desk.client.get("/office/drafts")).text
    assert text_of(page, "drafts-summary") == (
        "Đã gửi 3/9 · Đã chốt 1 · Cần chỉnh sửa 1 · Chưa gửi 6 (quá hạn 6)"
    )
    themes = re.findall(r'<th scope="rowgroup" colspan="3">Chủ đề ([0-9.]+):', page)
    assert themes == ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3", "3"]
    rows = re.findall(r'<tr id="draft-(\d+)">', page)
    statuses = [text_of(page, f"draft-{row}-status") for row in rows]
    assert [" ".join(s.split()) for s in statuses] == [
        "đã gửi bản 1, chờ Văn phòng xem",  # 1.1 DB031
        "đã đề nghị chỉnh sửa bản 2",  # 1.2 DB036
        "đã chốt bản 1",  # 1.3 DB040
        "chưa gửi quá hạn · chưa gửi giấy mời",  # 1.4 DB045
        "chưa gửi quá hạn · chưa gửi giấy mời",  # 1.5 DB050
        "chưa gửi quá hạn · chưa gửi giấy mời",  # 2.1 DB033
        "chưa gửi quá hạn · chưa gửi giấy mời",  # 2.3 DB038
        "chưa gửi quá hạn · chưa gửi giấy mời",  # 3 DB042
        "chưa gửi quá hạn · chưa gửi giấy mời",  # 3 DB060
    ]
    assert text_of(page, "theme-7") == (
        "Chủ đề 2.2: Nguyên nhân của hạn chế, khó khăn\nChưa phân công người viết."
    )
    assert f'href="/office/drafts/{await draft_id(harness, "DB031")}"' in page
    assert 'href="/office/drafts" aria-current="page"' in page  # in the navigation


async def test_the_board_marks_a_speaker_whose_invitation_was_withdrawn_and_does_not_count_her(
    desk: Desk, harness: BotHarness
) -> None:
    """Review of s32: the deadline's report left her out, yet the page «Tham luận» still
    counted her among those owing a speech, «quá hạn · chưa gửi giấy mời»: marked «đã rút giấy
    mời», out of the counts, not overdue."""
    services = harness.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB031")
    harness.clock.set(DEADLINE + timedelta(minutes=1))
    await desk.sign_in()
    page = (await desk.client.get("/office/drafts")).text
    assert text_of(page, "drafts-summary") == (
        "Đã gửi 0/9 · Đã chốt 0 · Cần chỉnh sửa 0 · Chưa gửi 9 (quá hạn 9)"
    )
    line = await draft_id(harness, "DB031")
    assert " ".join(text_of(page, f"draft-{line}-status").split()) == "chưa gửi · đã rút giấy mời"


async def test_a_version_downloads_as_sent_under_its_own_name(
    desk: Desk, harness: BotHarness
) -> None:
    content = word("Kính thưa Đoàn Chủ tịch,")
    await upload(harness, "DB031", "Tham luận Ba Đình.docx", content)
    assignment = await draft_id(harness, "DB031")
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert f'<a href="/office/drafts/{assignment}/versions/1">Tải bản 1</a>' in page

    response = await desk.client.get(f"/office/drafts/{assignment}/versions/1")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-disposition"] == (
        'attachment; filename="Tham luan Ba Dinh.docx"; '
        f"filename*=UTF-8''{quote('Tham luận Ba Đình.docx', safe='')}"
    )
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert response.headers["cache-control"] == "no-store"
    assert (await desk.client.get(f"/office/drafts/{assignment}/versions/2")).status_code == 404


async def test_the_newest_version_is_shown_for_reading_a_docx_and_a_typed_text(
    desk: Desk, harness: BotHarness
) -> None:
    user = await upload(
        harness,
        "DB031",
        "bai.docx",
        word("Kính thưa Đoàn Chủ tịch,", "Phụ nữ & gia đình <Thủ đô>."),
    )
    assignment = await draft_id(harness, "DB031")
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert text_of(page, "text-title") == "Nội dung bản 1"
    assert re.findall(
        r"<p>(.*?)</p>", page[page.index('id="draft-text"') :].split("</div>")[0]
    ) == [
        "Kính thưa Đoàn Chủ tịch,",
        "Phụ nữ &amp; gia đình &lt;Thủ đô&gt;.",
    ]

    account = ChatAccount("telegram", str(user.id), str(user.id))
    typed = await harness.services.drafts.store_typed(account, assignment, "Dòng một\nDòng hai")
    assert typed.version is not None and typed.version.number == 2
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert text_of(page, "text-title") == "Nội dung bản 2"
    assert text_of(page, "draft-text") == "Dòng một\nDòng hai"

    await upload(harness, "DB031", "bai.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF\n")
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert text_of(page, "text-none") == (
        "Tệp «bai.pdf» không đọc được trên trang; đề nghị tải về để đọc."
    )


async def test_a_comment_reaches_the_speakers_channel_and_their_answer_joins_the_thread(
    desk: Desk, harness: BotHarness
) -> None:
    user = await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    page = await desk.post(
        f"drafts/{assignment}/comment", "form-comment",
        {"body": "Đề nghị bổ sung số liệu năm 2023."}, page=f"drafts/{assignment}",
    )  # fmt: skip
    assert text_of(page.text, "flash") == (
        "Đã gửi góp ý tới đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình); "
        "bot chuyển tới kênh trò chuyện của người viết."
    )
    async with harness.services.ctx.sessions() as session:
        [queued] = await session.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == MessageKind.DRAFT_COMMENT)
        )
    card = await harness.services.dashboard.card("DB031")
    assert card is not None and queued.audience == f"person:{card.person.id}"
    await harness.tick()
    relayed = user.last_message
    assert relayed["text"].startswith(
        "💬 Góp ý của Văn phòng về tham luận chủ đề 1.1 (bản 1):\n\nĐề nghị bổ sung số liệu năm 2023."
    )

    await harness.send(user.reply(relayed, "Tôi sẽ bổ sung trong bản 2."))
    thread = (await desk.client.get(f"/office/drafts/{assignment}/thread")).text
    said = [
        " ".join(re.sub(r"<[^>]+>", "", li).split())
        for li in re.findall(r"<li[^>]*>(.*?)</li>", thread, re.S)
    ]
    assert said == [
        f"{STAFF_NAME} (Văn phòng) · 09:00, 18/5 · về bản 1 Đề nghị bổ sung số liệu năm 2023.",
        "Nguyễn Thị Lan Phương (người viết) · 09:00, 18/5 · về bản 1 Tôi sẽ bổ sung trong bản 2.",
    ]
    shown = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert f'data-live="/office/drafts/{assignment}/thread"' in shown
    assert "Tôi sẽ bổ sung trong bản 2." in text_of(shown, "live")  # without the script too
    actor = await staff_actor(harness)
    assert [
        (who, after["from_office"]) for who, after in await audits(harness, "draft.comment")
    ] == [
        (actor.actor, True),
        (f"telegram:{user.id}", False),
    ]


async def test_the_same_comment_form_pressed_twice_sends_one_comment(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    fields = {**hidden(page, "form-comment"), "body": "Tốt."}
    first = await desk.client.post(f"/office/drafts/{assignment}/comment", data=fields)
    second = await desk.client.post(f"/office/drafts/{assignment}/comment", data=fields)
    shown = (await desk.client.get(second.headers["location"])).text
    assert first.status_code == second.status_code == 303
    assert text_of(shown, "flash") == "Góp ý này đã được gửi trước đó; không gửi lại."
    async with harness.services.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftComment.body))) == ["Tốt."]


async def test_an_empty_or_too_long_comment_is_refused_and_the_text_kept(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    long = "Số liệu & " * 301  # 3,010 characters, 3,612 once escaped for the chat
    page = await desk.post(
        f"drafts/{assignment}/comment", "form-comment", {"body": long}, page=f"drafts/{assignment}"
    )
    assert page.status_code == 422
    assert text_of(page.text, "comment-error") == (
        f"Nội dung dài {vi(len(long.strip()))} ký tự, quá giới hạn {vi(MAX_COMMENT)} ký tự nên chưa "
        "được gửi. "
        "Đề nghị rút gọn hoặc chia thành nhiều góp ý."
    )
    assert "Số liệu &amp; Số liệu" in text_of(page.text, "comment-body")
    page = await desk.post(
        f"drafts/{assignment}/comment", "form-comment", {"body": "   "}, page=f"drafts/{assignment}"
    )
    assert page.status_code == 422
    assert text_of(page.text, "comment-error") == "Đề nghị nhập nội dung góp ý."
    async with harness.services.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftComment.body))) == []
        assert (
            list(
                await session.scalars(
                    select(OutboundMessage.kind).where(
                        OutboundMessage.kind == MessageKind.DRAFT_COMMENT
                    )
                )
            )
            == []
        )


async def test_approve_tells_the_speaker_and_a_second_press_changes_nothing(
    desk: Desk, harness: BotHarness
) -> None:
    user = await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    page = await verdict_form(desk, assignment, "approve", {})
    assert text_of(page, "flash") == (
        "Đã chốt bản 1 tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương. Bot đã báo người viết."
    )
    assert text_of(page, "draft-status") == "đã chốt bản 1"
    await harness.tick()
    assert user.last_text() == (
        "✅ Văn phòng đã chốt tham luận chủ đề 1.1 của đồng chí (bản 1). Trân trọng cảm ơn đồng chí!"
    )
    actor = await staff_actor(harness)
    assert await audits(harness, "draft.verdict") == [
        (actor.actor, {"status": "final", "version": 1})
    ]

    page = await verdict_form(desk, assignment, "approve", {})
    assert (
        text_of(page, "flash") == "Tham luận này đã ở trạng thái «đã chốt»; không có gì thay đổi."
    )
    assert len(await audits(harness, "draft.verdict")) == 1
    before = len(user.messages)
    await harness.tick()
    assert len(user.messages) == before


async def test_revise_sends_the_reason_then_the_request_and_a_second_press_sends_nothing(
    desk: Desk, harness: BotHarness
) -> None:
    user = await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    before = len(user.messages)
    shown = (await desk.client.get(f"/office/drafts/{assignment}")).text
    form = {**hidden(shown, "form-revise"), "version": version_of(shown, "form-revise"),
            "reason": "Rút gọn còn 5 phút đọc."}  # fmt: skip
    pressed = await desk.client.post(f"/office/drafts/{assignment}/revise", data=form)
    page = (await desk.client.get(pressed.headers["location"])).text
    assert text_of(page, "flash") == (
        "Đã đề nghị đồng chí Nguyễn Thị Lan Phương chỉnh sửa bản 1 tham luận chủ đề 1.1. "
        "Bot đã báo người viết."
    )
    assert text_of(page, "draft-status") == "đã đề nghị chỉnh sửa bản 1"
    await harness.tick()
    got = sorted(m["text"] for m in user.messages[before:])  # one tick sends both
    assert len(got) == 2
    assert got[0].startswith("✏️ Văn phòng đề nghị đồng chí chỉnh sửa tham luận chủ đề 1.1 (bản 1)")
    assert "Rút gọn còn 5 phút đọc." in got[1]
    actor = await staff_actor(harness)
    assert await audits(harness, "draft.verdict") == [
        (actor.actor, {"status": "revision", "version": 1})
    ]
    # The same form pressed again (a double click, a reload): nothing more.
    await desk.client.post(f"/office/drafts/{assignment}/revise", data=form)
    async with harness.services.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftComment.body))) == ["Rút gọn còn 5 phút đọc."]
    assert len(await audits(harness, "draft.verdict")) == 1


async def test_a_new_instruction_while_a_revision_is_awaited_is_sent_not_dropped(
    desk: Desk, harness: BotHarness
) -> None:
    user = await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    await verdict_form(desk, assignment, "revise", {"reason": "Rút gọn còn 5 phút đọc."})
    await harness.tick()
    before = len(user.messages)
    page = await verdict_form(
        desk, assignment, "revise", {"reason": "Bổ sung phần kiến nghị với Thành ủy."}
    )
    assert text_of(page, "flash").startswith(
        "Đã gửi góp ý tới đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình)"
    )  # not «không có gì thay đổi»: the instruction went
    await harness.tick()
    assert [
        "Bổ sung phần kiến nghị với Thành ủy." in m["text"] for m in user.messages[before:]
    ] == [True]
    assert len(await audits(harness, "draft.verdict")) == 1  # still the one request
    page = await verdict_form(desk, assignment, "revise", {"reason": ""})
    assert text_of(page, "flash") == (
        "Tham luận này đã ở trạng thái «cần chỉnh sửa»; không có gì thay đổi."
    )


async def test_a_too_long_reason_changes_nothing_and_is_kept_in_its_box(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    long = "x" * (MAX_COMMENT + 1)
    page = await verdict(desk, assignment, "revise", {"reason": long})
    assert page.status_code == 422
    assert text_of(page.text, "revise-error").startswith(
        f"Nội dung dài {vi(MAX_COMMENT + 1)} ký tự, quá giới hạn {vi(MAX_COMMENT)} ký tự"
    )
    assert text_of(page.text, "revise-reason") == long
    assert text_of(page.text, "draft-status") == "đã gửi bản 1, chờ Văn phòng xem"
    assert await audits(harness, "draft.verdict") == []


async def test_a_verdict_on_a_page_overtaken_by_a_newer_version_is_refused(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    fields = hidden(page, "form-approve")
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None
    await upload(harness, "DB031", "bai.docx", word("Bản 2"))
    answer = await desk.client.post(
        f"/office/drafts/{assignment}/approve", data={**fields, "version": version.group(1)}
    )
    shown = (await desk.client.get(answer.headers["location"])).text
    assert text_of(shown, "flash") == (
        "Đã có bản 2 mới hơn; đề nghị đọc và quyết định trên bản mới."
    )
    assert text_of(shown, "draft-status") == "đã gửi bản 2, chờ Văn phòng xem"


async def test_a_draft_or_version_that_does_not_exist_is_not_found(
    desk: Desk, harness: BotHarness
) -> None:
    for path in ("/office/drafts/999999", "/office/drafts/999999/thread", "/office/drafts/x",
                 "/office/drafts/999999/versions/1"):  # fmt: skip
        response = await desk.client.get(path)
        assert response.status_code == 404, path
        assert text_of(response.text, "message-no_draft").startswith("Không có tham luận nào"), path
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    other = await draft_id(harness, "DB036")
    [version] = await harness.services.drafts.versions(assignment)
    # A version of another draft, named on this one's form, is refused too.
    page = await desk.post(
        f"drafts/{other}/approve",
        "form-signout",
        {"version": str(version.id)},
        page=f"drafts/{other}",
    )
    assert text_of(page.text, "flash") == (
        "Không tìm thấy tham luận hay bản này (có thể Văn phòng đã hủy phân công); "
        "không có gì thay đổi."
    )
    assert await audits(harness, "draft.verdict") == []


# An office's own meeting often has no speeches: the plan without [[themes]].
NO_THEMES = load_config(EXAMPLE_CONFIG).config.model_copy(update={"themes": []})


@pytest.mark.parametrize("config", [NO_THEMES], ids=["no-themes"])
async def test_a_plan_without_speeches_says_so_on_the_drafts_page_with_no_deadline_or_zip(
    desk: Desk,
) -> None:
    """The «Tham luận» page of a meeting with no speeches gave «Đã gửi 0/0», a deadline for
    nothing and the zip's hint (s33 N12): it says once that there are none."""
    page = (await desk.client.get("/office/drafts")).text
    for shown in ('id="drafts-summary"', 'id="drafts-order"', 'id="download-approved"'):
        assert shown not in page, shown
    said = re.search(r'<p class="muted" id="drafts-none">(.*?)</p>', page)
    assert said is not None and said.group(1) == (
        "Hội nghị này không có tham luận: kế hoạch không có chủ đề tham luận nào (mục "
        "[[themes]]), nên không có hạn gửi, tin nhắc hay bản nào để tải. Nếu cần tham luận, đề "
        "nghị cán bộ kỹ thuật thêm chủ đề vào tệp kế hoạch."
    )


async def test_the_overviews_missing_drafts_lead_to_their_pages(
    desk: Desk, harness: BotHarness
) -> None:
    page = (await desk.client.get("/office/")).text
    assignment = await draft_id(harness, "DB031")
    assert f'1.1 — <a href="/office/drafts/{assignment}">Nguyễn Thị Lan Phương</a>' in page


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_a_word_document_declaring_entities_is_not_read_in_any_encoding(encoding: str) -> None:
    # In UTF-16 the bytes of «<!DOCTYPE» are not there to be seen, yet expat reads the DTD and
    # expands its entities: a 7.8 MB draft took 10 s and 1.4 GB each time its page opened.
    declared = "UTF-8" if encoding == "utf-8" else "UTF-16"
    xml = (
        f'<?xml version="1.0" encoding="{declared}"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&a;&a;</w:t></w:r></w:p></w:body></w:document>"
    ).encode(encoding)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("word/document.xml", xml)
    assert draft_text("bai.docx", archive.getvalue()) is None


def test_a_word_document_in_utf_16_is_read_like_one_in_utf_8() -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>Kính thưa</w:t><w:tab/><w:t>các đồng chí</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Dòng một</w:t><w:br/><w:t>dòng hai</w:t></w:r></w:p></w:body></w:document>"
    ).encode("utf-16")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("word/document.xml", xml)
    reading = draft_text("bai.docx", archive.getvalue())
    assert reading == Reading(("Kính thưa\tcác đồng chí", "Dòng một\ndòng hai"))


def test_a_document_that_cannot_be_read_as_text_is_not_shown() -> None:
    assert draft_text("bai.docx", b"PK\x03\x04 not an archive") is None
    assert draft_text("bai.pdf", b"%PDF-1.4") is None


def test_a_long_text_is_shown_up_to_the_limit_and_says_it_was_cut() -> None:
    reading = draft_text("bai.txt", ("a" * 1000 + "\n").encode() * 300)
    assert reading is not None and reading.cut
    assert sum(len(p) for p in reading.paragraphs) == MAX_SHOWN
    assert draft_text("bai.txt", "\ufeffMột\r\nHai\n\n".encode()) == Reading(("Một", "Hai"))


async def test_an_instruction_on_a_version_since_replaced_is_not_sent(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    assignment = await draft_id(harness, "DB031")
    shown = (await desk.client.get(f"/office/drafts/{assignment}")).text  # about version 1
    form = {**hidden(shown, "form-revise"), "version": version_of(shown, "form-revise"),
            "reason": "Rút gọn còn 5 phút đọc."}  # fmt: skip
    await upload(harness, "DB031", "bai-2.docx", word("Bản 2"))  # meanwhile, version 2
    pressed = await desk.client.post(f"/office/drafts/{assignment}/revise", data=form)
    assert pressed.status_code == 409  # the page again, the instruction kept in its box
    assert ">Rút gọn còn 5 phút đọc.</textarea>" in pressed.text
    assert "bản 2" in pressed.text  # it says a newer version came
    async with harness.services.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftComment.body))) == []
    assert await audits(harness, "draft.verdict") == []


async def test_a_version_whose_file_was_not_restored_says_the_file_is_missing_on_the_server(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "Tham luận Ba Đình.docx", word("Kính thưa Đoàn Chủ tịch,"))
    assignment = await draft_id(harness, "DB031")
    [version] = await harness.services.drafts.versions(assignment)
    stored = await harness.services.drafts.version_file(version.id)
    assert stored is not None
    stored.path.unlink()  # the database restored without the folder of files

    response = await desk.client.get(f"/office/drafts/{assignment}/versions/1")
    assert response.status_code == 404
    assert text_of(response.text, "message-file_lost") == (
        "Bản này vẫn được ghi nhận nhưng tệp của nó không có trên máy chủ: thư mục tệp tham luận "
        "và sản phẩm nhiệm vụ có thể chưa được khôi phục cùng cơ sở dữ liệu. Đề nghị người quản "
        "trị chép lại thư mục đó từ bản sao lưu; nếu không còn bản sao lưu, đề nghị người gửi "
        "gửi lại tệp."
    )
    # The draft's page itself still opens, without the text to read.
    assert (await desk.client.get(f"/office/drafts/{assignment}")).status_code == 200


async def test_a_speaker_on_no_chat_is_not_said_to_be_told_and_the_office_is_asked_to_phone(
    desk: Desk, harness: BotHarness
) -> None:
    # The speaker sent her draft from her personal page: linked, but no chat the bot writes to.
    page = await web_for(harness.services)
    assignment = await draft_id(harness, "DB031")
    sent = await page.post(
        "DB031", f"draft/{assignment}/text", f"draft-{assignment}-type", {"text": "Bản gõ."}
    )
    assert sent.status_code == 200
    await page.client.aclose()
    commented = await desk.post(
        f"drafts/{assignment}/comment", "form-comment", {"body": "Đề nghị bổ sung số liệu."},
        page=f"drafts/{assignment}",
    )  # fmt: skip
    flash = text_of(commented.text, "flash")
    assert "bot chuyển tới kênh trò chuyện" not in flash
    assert "không gửi tin được" in flash and "đề nghị gọi điện" in flash
    approved = text_of(await verdict_form(desk, assignment, "approve", {}), "flash")
    assert "Bot đã báo người viết" not in approved
    assert approved.startswith("Đã chốt bản 1") and "không báo được" in approved


async def test_a_speaker_on_a_chat_that_does_not_run_here_is_not_said_to_be_told(
    desk: Desk, harness: BotHarness
) -> None:
    # Linked on Telegram, then the bot restarted without its token: the outbox cannot write to
    # her, yet the comment's flash said «bot chuyển tới kênh trò chuyện của người viết».
    await upload(harness, "DB031", "bai.docx", word("Kính thưa các đồng chí."))
    assignment = await draft_id(harness, "DB031")
    harness.services.ctx.chats.run(("zalo",))
    commented = await desk.post(
        f"drafts/{assignment}/comment", "form-comment", {"body": "Đề nghị bổ sung số liệu."},
        page=f"drafts/{assignment}",
    )  # fmt: skip
    flash = text_of(commented.text, "flash")
    assert "bot chuyển tới kênh trò chuyện" not in flash
    assert "không gửi tin được" in flash and "đề nghị gọi điện" in flash
    [line] = [line for line in await harness.services.drafts.board() if line.code == "DB031"]
    assert not line.reachable
    harness.services.ctx.chats.run(("telegram", "zalo"))
    [line] = [line for line in await harness.services.drafts.board() if line.code == "DB031"]
    assert line.reachable


async def two_speakers_not_coming(services: Services) -> None:
    """Two speakers' answers taken by phone: DB040 sends a substitute (Nguyễn Thị Hà), DB045
    declines."""
    office = services.access.local_operator()
    substitute = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Nguyễn Thị Hà", substitute_position="Phó Chủ tịch"
    )
    for code, answer in (("DB040", substitute), ("DB045", RsvpAnswer(RsvpStatus.DECLINED))):
        card = await services.dashboard.card(code)
        assert card is not None
        await services.rsvp.record_by_phone(office, card.person.id, answer)


async def test_the_board_flags_a_speaker_not_coming_and_one_no_chat_reaches_as_the_comment_does(
    desk: Desk, harness: BotHarness
) -> None:
    # DB040 sent a substitute and her row read only «chưa gửi»; DB031, who opened her page
    # once, lacked «chưa kết nối kênh nhắn tin» while commenting her draft said the bot could
    # not write to her.
    services = harness.services
    await two_speakers_not_coming(services)
    page = await web_for(services)
    await page.client.get(f"/{harness.tokens['DB031']}")  # her page, once: no chat
    await page.client.aclose()
    opened = await services.dashboard.card("DB031")
    assert opened is not None and opened.reached is not None  # linked, by her page
    await harness.open_invitation("DB036")  # on Telegram: reached
    board = (await desk.client.get("/office/drafts")).text
    ids = {code: await draft_id(harness, code) for code in ("DB031", "DB036", "DB040", "DB045")}
    assert text_of(board, f"draft-{ids['DB040']}-away") == "· cử người dự thay: Nguyễn Thị Hà"
    assert text_of(board, f"draft-{ids['DB045']}-away") == "· không tham dự hội nghị"
    status = {code: text_of(board, f"draft-{ident}-status") for code, ident in ids.items()}
    assert "chưa kết nối kênh nhắn tin" in status["DB031"]
    assert "chưa kết nối kênh nhắn tin" not in status["DB036"]
    assert f'id="draft-{ids["DB031"]}-away"' not in board
    # /thamluan in chat says the same.
    catalog, now = load_catalog("vi"), services.ctx.clock.now()
    lines = {line.code: line for line in await services.drafts.board()}
    chat = draft_board_line(catalog, services.config, lines["DB040"], now)
    assert "⚠️ cử người dự thay: Nguyễn Thị Hà" in chat
    assert "chưa kết nối kênh nhắn tin" in draft_board_line(
        catalog, services.config, lines["DB031"], now
    )


async def test_a_speaker_no_chat_reaches_is_to_phone_once_her_invitation_went_out(
    desk: Desk, harness: BotHarness
) -> None:
    """The overview lists to phone only those her invitation reached; «Tham luận» and
    /thamluan marked every speaker no chat reaches «chưa kết nối kênh nhắn tin» (phone her)
    though her invitation had not gone out. They follow the overview's rule: «chưa gửi giấy
    mời» until it is marked sent (or she opens her page, or answers), then to phone."""
    services = harness.services
    catalog = load_catalog("vi")
    ident = await draft_id(harness, "DB045")

    async def marks() -> tuple[str, str]:
        board = (await desk.client.get("/office/drafts")).text
        [line] = [line for line in await services.drafts.board() if line.code == "DB045"]
        chat = draft_board_line(catalog, services.config, line, services.ctx.clock.now())
        return " ".join(text_of(board, f"draft-{ident}-status").split()), chat

    page, chat = await marks()
    assert page == "chưa gửi · chưa gửi giấy mời"
    assert "chưa gửi giấy mời" in chat and "chưa kết nối kênh nhắn tin" not in chat
    await marked_sent(services, "DB045", "zalo")
    page, chat = await marks()
    assert page == "chưa gửi · chưa kết nối kênh nhắn tin"
    assert "chưa kết nối kênh nhắn tin" in chat and "chưa gửi giấy mời" not in chat


async def test_on_the_meeting_s_day_a_speaker_no_chat_reaches_is_to_phone_not_to_send_to(
    desk: Desk, harness: BotHarness
) -> None:
    """On the meeting's day the overview drops «Chưa gửi giấy mời» (no longer the morning's
    job) and the morning's report lists whom no chat reaches to phone; «Tham luận» and
    /thamluan still marked a speaker whose invitation had not gone out «chưa gửi giấy mời».
    From the meeting's day they say what the overview says: phone her."""
    services = harness.services
    catalog = load_catalog("vi")
    ident = await draft_id(harness, "DB045")

    async def marks() -> tuple[str, str]:
        await desk.sign_in()  # days on: a session of its own
        board = (await desk.client.get("/office/drafts")).text
        [line] = [line for line in await services.drafts.board() if line.code == "DB045"]
        chat = draft_board_line(catalog, services.config, line, services.ctx.clock.now())
        return " ".join(text_of(board, f"draft-{ident}-status").split()), chat

    harness.clock.set(local(2024, 5, 27, 23, 59))  # the eve: invitations still to send
    page, chat = await marks()
    assert page == "chưa gửi quá hạn · chưa gửi giấy mời"
    assert chat.endswith(" · <i>chưa gửi giấy mời</i>")
    harness.clock.set(local(2024, 5, 28, 0, 0))
    page, chat = await marks()
    assert page == "chưa gửi quá hạn · chưa kết nối kênh nhắn tin"
    assert chat.endswith(" · <i>chưa kết nối kênh nhắn tin</i>")


@pytest.mark.parametrize(
    "moment",
    [
        local(2024, 5, 28, 20, 0),  # the evening of its (last) day, the report being written
        local(2024, 5, 29, 9, 0),  # the day after
        local(2024, 6, 4, 9, 0),  # a week after
    ],
)
async def test_after_the_meeting_a_speaker_no_chat_reaches_is_still_to_phone_not_to_send_to(
    desk: Desk, harness: BotHarness, moment: datetime
) -> None:
    """The day after the meeting «Tham luận» and /thamluan went back to the preparation's
    mark, «chưa gửi giấy mời», as if the invitation were still to send: the meeting is over,
    whom no chat reaches is phoned, as on its day."""
    services = harness.services
    catalog = load_catalog("vi")
    ident = await draft_id(harness, "DB045")
    harness.clock.set(moment)
    await desk.sign_in()  # days on: a session of its own
    board = (await desk.client.get("/office/drafts")).text
    [line] = [line for line in await services.drafts.board() if line.code == "DB045"]
    chat = draft_board_line(catalog, services.config, line, services.ctx.clock.now())
    status = " ".join(text_of(board, f"draft-{ident}-status").split())
    assert status == "chưa gửi quá hạn · chưa kết nối kênh nhắn tin"
    assert chat.endswith(" · <i>chưa kết nối kênh nhắn tin</i>")


async def test_the_overviews_missing_drafts_flag_a_speaker_not_coming_as_the_board_does(
    desk: Desk, harness: BotHarness
) -> None:
    """DB040 sent a substitute, DB045 declined: «Tham luận» flags them, the overview's «Tham
    luận chưa gửi» listed them as any other speaker late with her draft. It flags them alike."""
    services = harness.services
    await two_speakers_not_coming(services)
    overview = (await desk.client.get("/office/")).text
    section = overview.split('id="missing"', 1)[1].split("</section>", 1)[0]
    ids = {code: await draft_id(harness, code) for code in ("DB036", "DB040", "DB045")}
    assert text_of(section, f"draft-{ids['DB040']}-away") == "· cử người dự thay: Nguyễn Thị Hà"
    assert text_of(section, f"draft-{ids['DB045']}-away") == "· không tham dự hội nghị"
    assert f'id="draft-{ids["DB036"]}-away"' not in section
    assert f'href="/office/drafts/{ids["DB036"]}"' in section  # listed, not flagged


# --- assigning and withdrawing speakers («Phân công tham luận», «Hủy phân công») ----------------

_FIELD = re.compile(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">')


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """Every hidden field of the form ``form_id`` (signature and what it names)."""
    start = html.index(f'id="{form_id}"')
    return dict(_FIELD.findall(html[start : html.index("</form>", start)]))


def theme_rows(html: str, key: str) -> list[str]:
    """The text of each row under theme ``key`` on the board (its speakers, or that it has none)."""
    start = html.index(f'<th scope="rowgroup" colspan="3">Chủ đề {key}:')
    start = html.index("</tr>", start)  # below the theme's heading
    body = html[start : html.index("</tbody>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


async def assign(desk: Desk, code: str, theme: str) -> httpx.Response:
    """Fill the board's «Phân công tham luận» form and press «Phân công»."""
    return await desk.post(
        "drafts/assign", "form-assign", {"code": code, "theme": theme}, page="drafts"
    )


async def assigned_audits(harness: BotHarness) -> list[tuple[str, Any]]:
    return [entry for entry in await audits(harness, "draft.assigned") if entry[0] != "plan"]


async def test_the_board_assigns_a_speaker_who_is_listed_audited_and_told_on_their_channel(
    desk: Desk, harness: BotHarness
) -> None:
    chair = await harness.open_invitation("DB032")
    board = (await desk.client.get("/office/drafts")).text
    assert text_of(board, "assign-title") == "Phân công tham luận"
    options = re.findall(r'<option value="([0-9.]+)"[^>]*>([^<]*)</option>', board)
    assert options[0] == ("1.1", "Chủ đề 1.1: Kết quả tuyên truyền, giáo dục, nâng cao nhận thức,"
                          " bản lĩnh, trách nhiệm của phụ nữ Thủ đô")  # fmt: skip
    assert [key for key, _ in options] == [
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "1.5",
        "2.1",
        "2.2",
        "2.3",
        "3",
    ]

    # The code however typed: another case, spaces around it.
    done = await assign(desk, " db032 ", "2.3")
    assert text_of(done.text, "flash") == (
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 2.3;"
        " hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Bot đã báo người được phân công."
    )
    assert theme_rows(done.text, "2.3") == [
        "Trần Thị Hồng Vân Hội LHPN quận Hoàn Kiếm Hủy phân công chưa gửi hạn 17:00, 21/5",
        "Bùi Thị Phương Loan Hội LHPN quận Hoàng Mai Hủy phân công chưa gửi · chưa gửi giấy mời"
        " hạn 17:00, 21/5",
    ]
    card = await harness.services.dashboard.card("DB032")
    assert card is not None
    assert await assigned_audits(harness) == [
        (
            f"dashboard:{STAFF}",
            {
                "theme": "2.3",
                "person_id": card.person.id,
                "source": "office",
                "deadline_at": "2024-05-21T10:00:00+00:00",
            },
        )
    ]
    await harness.tick()
    told = chair.last_text()
    assert told.startswith("Kính gửi đồng chí Trần Thị Hồng Vân,\n\nVăn phòng trân trọng đề nghị")
    assert "Chủ đề 2.3: Bài học kinh nghiệm rút ra sau nửa nhiệm kỳ\nHạn gửi bài: 17:00" in told

    # Someone on no chat: the office is asked to phone, since the bot could not tell them.
    unlinked = await assign(desk, "DB034", "3")
    assert text_of(unlinked.text, "flash") == (
        "Đã phân công đồng chí Phạm Thị Kim Dung (Hội LHPN quận Long Biên) tham luận chủ đề 3;"
        " hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Người được phân công chưa liên kết Zalo hay"
        " Telegram (hoặc đã chặn bot) nên bot không báo được: đồng chí sẽ thấy phân công khi mở"
        " đường liên kết cá nhân; đề nghị gọi điện báo."
    )


async def test_each_refused_assignment_says_why_and_keeps_what_was_typed(
    desk: Desk, harness: BotHarness
) -> None:
    services = harness.services
    await services.withdrawals.withdraw(await staff_actor(harness), "DB032")
    cases = [
        ("zz9", "1.2", "Không có ai mang mã zz9 trong danh sách đại biểu đã nhập; chưa phân công."
         " Đề nghị kiểm tra lại mã (cột Mã của danh sách)."),
        ("db032", "1.2", "Giấy mời của đồng chí Trần Thị Hồng Vân (DB032) đã được rút nên chưa"
         " phân công tham luận. Nếu cần đồng chí trình bày, đề nghị «Mời lại» ở trang của đại"
         " biểu trước."),
        ("DB034", "9.9", "Kế hoạch không có chủ đề 9.9 (có thể kế hoạch vừa được nạp lại); chưa"
         " phân công. Đề nghị chọn lại chủ đề."),
        ("DB034", "", "Đề nghị nhập mã đại biểu và chọn chủ đề. Chưa phân công."),
    ]  # fmt: skip
    for code, theme, said in cases:
        refused = await assign(desk, code, theme)
        assert refused.status_code == 422, code
        assert text_of(refused.text, "assign-error") == said
        assert f'name="code" maxlength="40" required autocomplete="off" value="{code}"' in (
            refused.text
        )
        selected = re.findall(r'<option value="([^"]*)" selected>', refused.text)
        assert selected == ([theme] if theme in ("1.1", "1.2") else []), code
        # The refused form can be sent again as it stands.
        assert form_fields(refused.text, "form-assign").keys() == {"nonce", "csrf"}
    assert await assigned_audits(harness) == []
    assert len(await services.drafts.board()) == 10


async def test_a_double_tap_on_phan_cong_answers_as_the_first_tap_and_not_with_an_error(
    desk: Desk, harness: BotHarness
) -> None:
    shown = await desk.client.get("/office/drafts")
    fields = {**hidden(shown.text, "form-assign"), "code": "DB034", "theme": "3"}
    first = await desk.client.post("/office/drafts/assign", data=fields)
    second = await desk.client.post("/office/drafts/assign", data=fields)  # the same nonce
    assert (first.status_code, second.status_code) == (303, 303)
    answer = (
        "Đã phân công đồng chí Phạm Thị Kim Dung (Hội LHPN quận Long Biên) tham luận chủ đề 3;"
        " hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Người được phân công chưa liên kết Zalo hay"
        " Telegram (hoặc đã chặn bot) nên bot không báo được: đồng chí sẽ thấy phân công khi mở"
        " đường liên kết cá nhân; đề nghị gọi điện báo."
    )
    page = await desk.client.get(second.headers["location"])
    assert page.status_code == 200
    assert 'class="text flash ok"' in page.text and text_of(page.text, "flash") == answer
    assert len(await assigned_audits(harness)) == 1
    # Another form naming an assignment that exists: said calmly, nothing changed.
    again = await assign(desk, "db034", "3")
    assert again.status_code == 200 and 'id="assign-error"' not in again.text
    assert text_of(again.text, "flash") == (
        "Đồng chí Phạm Thị Kim Dung (DB034) đã được phân công tham luận chủ đề 3 từ trước; không"
        " có gì thay đổi."
    )
    assert len(await assigned_audits(harness)) == 1


async def test_a_double_tap_on_phan_cong_racing_the_first_answers_as_the_first_tap(
    desk: Desk, harness: BotHarness
) -> None:
    shown = await desk.client.get("/office/drafts")
    fields = {**hidden(shown.text, "form-assign"), "code": "DB034", "theme": "3"}
    # Both posts leave before either answer is back (the first still planning the reminders);
    # the browser shows the second's answer, which must be the first's.
    first, second = await asyncio.gather(
        desk.client.post("/office/drafts/assign", data=fields),
        desk.client.post("/office/drafts/assign", data=fields),
    )
    assert (first.status_code, second.status_code) == (303, 303)
    answer = (
        "Đã phân công đồng chí Phạm Thị Kim Dung (Hội LHPN quận Long Biên) tham luận chủ đề 3;"
        " hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Người được phân công chưa liên kết Zalo hay"
        " Telegram (hoặc đã chặn bot) nên bot không báo được: đồng chí sẽ thấy phân công khi mở"
        " đường liên kết cá nhân; đề nghị gọi điện báo."
    )
    for posted in (second, first):
        page = await desk.client.get(posted.headers["location"])
        assert 'class="text flash ok"' in page.text and text_of(page.text, "flash") == answer
    assert len(await assigned_audits(harness)) == 1
    # The same form a third time, later: the same answer, still one assignment.
    third = await desk.client.post("/office/drafts/assign", data=fields)
    assert text_of((await desk.client.get(third.headers["location"])).text, "flash") == answer
    assert len(await assigned_audits(harness)) == 1


async def assign_by(desk: Desk, code: str, theme: str, deadline: str) -> httpx.Response:
    """The «Phân công tham luận» form with a «Hạn gửi bài» typed (the browser's form)."""
    return await desk.post(
        "drafts/assign",
        "form-assign",
        {"code": code, "theme": theme, "deadline": deadline},
        page="drafts",
    )


async def test_a_speaker_assigned_after_the_plan_s_deadline_is_given_one_of_her_own(
    desk: Desk, harness: BotHarness
) -> None:
    harness.clock.set(DEADLINE + timedelta(hours=1))
    await desk.sign_in()  # days later: a new session
    board = (await desk.client.get("/office/drafts")).text
    assert text_of(board, "assign-deadline-about") == (
        "Để trống thì theo hạn của kế hoạch cho chủ đề; khi hạn đó đã qua, đề nghị ghi hạn mới"
        " (ngày và giờ)."
    )
    refused = await assign(desk, "DB034", "3")
    assert refused.status_code == 422
    assert text_of(refused.text, "assign-error") == (
        "Hạn gửi bài chủ đề 3 theo kế hoạch (17:00, Thứ Ba, ngày 21/5/2024) đã qua nên chưa phân"
        " công đồng chí Phạm Thị Kim Dung (DB034). Đề nghị ghi «Hạn gửi bài» mới rồi bấm «Phân"
        " công» lại."
    )
    assert 'value="DB034"' in refused.text and '<option value="3" selected>' in refused.text
    past = await assign_by(desk, "DB034", "3", "2024-05-21T08:00")
    assert past.status_code == 422
    assert text_of(past.text, "assign-error") == (
        "Hạn gửi bài 08:00, Thứ Ba, ngày 21/5/2024 đã qua nên chưa phân công đồng chí Phạm Thị"
        " Kim Dung (DB034). Đề nghị ghi một hạn sau thời điểm hiện tại."
    )
    assert 'name="deadline" type="datetime-local"' in past.text
    assert 'value="2024-05-21T08:00"' in past.text  # what was typed, to correct
    unreadable = await assign_by(desk, "DB034", "3", "thứ Hai")
    assert text_of(unreadable.text, "assign-error") == (
        "Không đọc được hạn gửi bài «thứ Hai»; chưa phân công. Đề nghị ghi ngày và giờ, ví dụ"
        " 17:00 8/12."
    )
    assert await assigned_audits(harness) == []
    late = await assign_by(desk, "DB034", "3", "2024-05-28T08:00")  # the meeting's start
    assert late.status_code == 422
    assert text_of(late.text, "assign-error") == (
        "Hạn gửi bài phải trước giờ khai mạc hội nghị (08:00, Thứ Ba, ngày 28/5/2024) nên chưa"
        " phân công đồng chí Phạm Thị Kim Dung (DB034) với hạn 08:00, Thứ Ba, ngày 28/5/2024;"
        " đề nghị chọn hạn sớm hơn."
    )
    assert 'value="2024-05-28T08:00"' in late.text
    assert await assigned_audits(harness) == []

    done = await assign_by(desk, "DB034", "3", "2024-05-24T17:00")
    assert text_of(done.text, "flash").startswith(
        "Đã phân công đồng chí Phạm Thị Kim Dung (Hội LHPN quận Long Biên) tham luận chủ đề 3;"
        " hạn gửi bài 17:00, Thứ Sáu, ngày 24/5/2024."
    )
    # Her row is not overdue; reminders' lists and the overdue marks read her own deadline.
    assert (
        "Phạm Thị Kim Dung Hội LHPN quận Long Biên Hủy phân công chưa gửi · chưa gửi giấy mời"
        " hạn 17:00, 24/5"
    ) in theme_rows(done.text, "3")
    [line] = [line for line in await harness.services.drafts.board() if line.code == "DB034"]
    assert line.deadline_at == local(2024, 5, 24, 17, 0)
    assert not line.late(harness.clock.now())
    # The log and its export say she was given a deadline of her own, and until when.
    [(_, after)] = await assigned_audits(harness)
    names = {after["person_id"]: "Phạm Thị Kim Dung (DB034)"}
    config = harness.services.ctx.config
    assert change_lines(load_catalog("vi"), config, "draft.assigned", None, after, names) == [
        "Nội dung tham luận: 3",
        "Người: Phạm Thị Kim Dung (DB034)",
        "Phân công theo: hạn riêng",
        "Hạn gửi bài: 24/05/2024 17:00",
    ]
    assert [p.code for p in await harness.services.drafts.missing(DEADLINE)].count("DB034") == 0
    # Reloading the plan keeps the deadline the office gave.
    await harness.services.drafts.sync()
    [line] = [line for line in await harness.services.drafts.board() if line.code == "DB034"]
    assert line.deadline_at == local(2024, 5, 24, 17, 0)


async def test_the_board_refuses_a_deadline_with_a_day_and_no_time_and_assigns_nothing(
    desk: Desk, harness: BotHarness
) -> None:
    """«Hạn gửi bài» with a day and no hour is not that day's midnight: refused, as the
    refusal asks for both, with nothing assigned and nothing sent; the day with its time is."""
    chair = await harness.open_invitation("DB032")
    harness.clock.set(DEADLINE + timedelta(hours=1))
    await desk.sign_in()
    before, seen = await outbound_ids(harness), len(chair.messages)
    for typed in ("2024-05-27", "20240527", "2024-W22-1", "2024-05-27T17"):
        refused = await assign_by(desk, "DB032", "1.1", typed)
        assert refused.status_code == 422
        assert text_of(refused.text, "assign-error") == (
            f"Không đọc được hạn gửi bài «{typed}»; chưa phân công. Đề nghị ghi ngày và giờ, ví"
            " dụ 17:00 8/12."
        )
        assert f'value="{typed}"' in refused.text  # what was typed, to correct
    assert await assigned_audits(harness) == []
    assert [line.code for line in await harness.services.drafts.board()].count("DB032") == 0
    await harness.tick()
    assert await outbound_ids(harness) == before and len(chair.messages) == seen
    done = await assign_by(desk, "DB032", "1.1", "2024-05-27T17:00")
    assert text_of(done.text, "flash").startswith(
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 1.1;"
        " hạn gửi bài 17:00, Thứ Hai, ngày 27/5/2024."
    )


async def outbound_ids(harness: BotHarness) -> list[int]:
    """Every message the bot has queued or planned, to anyone."""
    async with harness.services.ctx.sessions() as session:
        return list(await session.scalars(select(OutboundMessage.id).order_by(OutboundMessage.id)))


async def test_a_withdrawn_speech_s_page_says_so_as_its_status_and_does_not_update_itself(
    desk: Desk, harness: BotHarness
) -> None:
    assignment = await draft_id(harness, "DB031")
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    await upload(harness, "DB031", "bai-2.docx", word("Bản 2"))
    await harness.services.drafts.unassign(await staff_actor(harness), "DB031", "1.1")
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert text_of(page, "draft-status") == "đã hủy phân công — 2 bản đã gửi"
    assert "Phần này tự cập nhật" not in page and "data-live" not in page
    assert 'id="thread-title"' in page  # the thread is still there to read


async def test_reassigning_a_speaker_who_sent_versions_says_they_are_restored(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))
    await harness.services.drafts.unassign(await staff_actor(harness), "DB031", "1.1")
    again = await assign(desk, "DB031", "1.1")
    assert text_of(again.text, "flash") == (
        "Đã phân công đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình) tham luận chủ đề"
        " 1.1; hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Bot đã báo người được phân công. 1 bản"
        " đã gửi trước đây được khôi phục, hiện lại trong danh sách."
    )


async def test_unassign_asks_first_says_what_it_does_and_a_second_press_says_it_was_done(
    desk: Desk, harness: BotHarness
) -> None:
    assignment = await draft_id(harness, "DB055")
    board = (await desk.client.get("/office/drafts")).text
    assert text_of(board, f"unassign-{assignment}") == "Hủy phân công"
    confirm = (await desk.client.get(f"/office/drafts/{assignment}/unassign")).text
    assert text_of(confirm, "unassign-what") == (
        "Hủy phân công đồng chí Nguyễn Thị Mai Liên (Hội LHPN huyện Sóc Sơn) trình bày tham luận"
        " chủ đề 2.2 «Nguyên nhân của hạn chế, khó khăn»?"
    )
    assert text_of(confirm, "unassign-effect") == (
        "Đồng chí chưa gửi bản nào. Sau khi hủy, đồng chí không còn nhận tin nhắc gửi bài và tham"
        " luận này không còn trong danh sách, báo cáo; nạp lại kế hoạch cũng không phân công lại."
        " Bot không nhắn cho đồng chí về việc hủy: nếu cần, Văn phòng báo trực tiếp. Có thể phân"
        " công lại bất cứ lúc nào."
    )
    assert await audits(harness, "draft.unassigned") == []  # opening it changed nothing
    fields = form_fields(confirm, "form-unassign")
    assert (fields["code"], fields["theme"]) == ("DB055", "2.2")
    pressed = await desk.client.post("/office/drafts/unassign", data=fields)
    assert pressed.status_code == 303
    done = await desk.client.get(pressed.headers["location"])
    assert text_of(done.text, "flash") == (
        "Đã hủy phân công tham luận chủ đề 2.2 của đồng chí Nguyễn Thị Mai Liên (Hội LHPN huyện"
        " Sóc Sơn). Bot không nhắn cho đồng chí về việc này; nếu cần, Văn phòng báo trực tiếp."
    )
    assert theme_rows(done.text, "2.2") == ["Chưa phân công người viết."]
    assert [actor for actor, _ in await audits(harness, "draft.unassigned")] == [
        f"dashboard:{STAFF}"
    ]
    # A second press (a slow connection), or the link on a board opened before: said, not an
    # error page, and nothing more is done.
    again = await desk.client.post("/office/drafts/unassign", data=fields)
    assert again.status_code == 303
    shown = await desk.client.get(again.headers["location"])
    assert shown.status_code == 200
    assert text_of(shown.text, "flash") == (
        "Phân công tham luận chủ đề 2.2 của đại biểu mã DB055 đã được hủy từ trước; không có gì"
        " thay đổi."
    )
    stale = await desk.client.get(f"/office/drafts/{assignment}/unassign", follow_redirects=True)
    assert stale.status_code == 200
    assert text_of(stale.text, "flash") == (
        "Phân công tham luận này đã được hủy từ trước (hoặc không còn); không có gì thay đổi."
    )
    assert len(await audits(harness, "draft.unassigned")) == 1


async def test_a_double_tap_on_huy_phan_cong_racing_the_first_answers_as_a_second_press_does(
    desk: Desk, harness: BotHarness
) -> None:
    assignment = await draft_id(harness, "DB055")
    confirm = (await desk.client.get(f"/office/drafts/{assignment}/unassign")).text
    fields = form_fields(confirm, "form-unassign")
    first, second = await asyncio.gather(
        desk.client.post("/office/drafts/unassign", data=fields),
        desk.client.post("/office/drafts/unassign", data=fields),
    )
    assert (first.status_code, second.status_code) == (303, 303)
    flashes = [
        text_of((await desk.client.get(posted.headers["location"])).text, "flash")
        for posted in (first, second)
    ]
    # As two presses one after the other: withdrawn once, the other says it was done before.
    assert sorted(flashes) == sorted([
        "Đã hủy phân công tham luận chủ đề 2.2 của đồng chí Nguyễn Thị Mai Liên (Hội LHPN huyện"
        " Sóc Sơn). Bot không nhắn cho đồng chí về việc này; nếu cần, Văn phòng báo trực tiếp.",
        "Phân công tham luận chủ đề 2.2 của đại biểu mã DB055 đã được hủy từ trước; không có gì"
        " thay đổi.",
    ])  # fmt: skip
    assert len(await audits(harness, "draft.unassigned")) == 1


async def test_a_speaker_who_sent_a_version_is_withdrawn_and_her_version_stays_apart_on_the_board(
    desk: Desk, harness: BotHarness
) -> None:
    assignment = await draft_id(harness, "DB031")
    confirm = (await desk.client.get(f"/office/drafts/{assignment}/unassign")).text
    fields = form_fields(confirm, "form-unassign")
    sent = word("Bản 1")
    await upload(harness, "DB031", "bai.docx", sent)  # meanwhile, version 1 arrives
    confirm = (await desk.client.get(f"/office/drafts/{assignment}/unassign")).text
    assert text_of(confirm, "unassign-kept") == (
        "Đồng chí đã gửi 1 bản. Các bản đó và trao đổi với Văn phòng được giữ nguyên: sau khi"
        " hủy, chúng hiện riêng dưới chủ đề này trên trang «Tham luận» («Đã hủy phân công»),"
        " vẫn tải về được, và tệp báo cáo vẫn có dòng này, ghi đã hủy phân công. Đồng chí không"
        " còn nhận tin nhắc, không gửi thêm bản mới được, tham luận này không còn tính trong số"
        " liệu; trang cá nhân của đồng chí ghi rõ Văn phòng đã hủy phân công. Bot không nhắn cho"
        " đồng chí về việc hủy: nếu cần, Văn phòng báo trực tiếp. Phân công lại đồng chí chủ đề"
        " này thì các bản đã gửi hiện lại như cũ."
    )
    assert form_fields(confirm, "form-unassign").keys() == fields.keys()
    # The form opened before the version came withdraws it all the same, and says what is kept.
    pressed = await desk.client.post("/office/drafts/unassign", data=fields)
    done = await desk.client.get(pressed.headers["location"])
    assert text_of(done.text, "flash") == (
        "Đã hủy phân công tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận"
        " Ba Đình); 1 bản đã gửi vẫn được giữ, hiện riêng dưới chủ đề. Bot không nhắn cho đồng"
        " chí về việc này; nếu cần, Văn phòng báo trực tiếp."
    )
    assert theme_rows(done.text, "1.1") == [
        "Chưa phân công người viết.",
        "Nguyễn Thị Lan Phương Hội LHPN quận Ba Đình Đã hủy phân công — 1 bản đã gửi Tải bản 1",
    ]
    assert f'<a href="/office/drafts/{assignment}/versions/1">Tải bản 1</a>' in done.text
    assert f'id="unassign-{assignment}"' not in done.text
    assert text_of(done.text, "drafts-summary") == (
        "Đã gửi 0/9 · Đã chốt 0 · Cần chỉnh sửa 0 · Chưa gửi 9 (quá hạn 0)"
    )
    assert await audits(harness, "draft.unassigned") == [
        (f"dashboard:{STAFF}", {"versions_kept": 1})
    ]
    # Its version downloads; its page reads, with no verdict or comment to give.
    got = await desk.client.get(f"/office/drafts/{assignment}/versions/1")
    assert got.status_code == 200 and got.content == sent
    page = (await desk.client.get(f"/office/drafts/{assignment}")).text
    assert text_of(page, "draft-withdrawn") == (
        "Văn phòng đã hủy phân công tham luận này; 1 bản đã gửi và trao đổi với người viết được"
        " giữ để đọc và tải về. Người viết không gửi thêm bản mới được. Muốn nhận tiếp, đề nghị"
        " phân công lại đồng chí này chủ đề này bằng mẫu «Phân công tham luận»."
    )
    assert 'id="version-1"' in page
    for form in ("form-approve", "form-revise", "form-comment"):
        assert f'id="{form}"' not in page, form
    # The report's speeches sheet keeps her row, marked.
    report = await harness.services.office_report.collect()
    [sheet] = [
        sheet
        for sheet in office_report_sheets(VI, harness.services.config, report)
        if sheet.title == "Tham luận"
    ]
    [row] = [row for row in sheet.rows if row[2] == "DB031"]
    assert (row[7], row[8], row[11]) == (
        "đã hủy phân công (các bản đã gửi được giữ)",
        1,
        "bai.docx",
    )
    assert len(sheet.rows) == 10


async def test_assigning_and_unassigning_are_refused_to_the_desk_role_and_to_unsigned_forms(
    desk: Desk, harness: BotHarness
) -> None:
    board = (await desk.client.get("/office/drafts")).text
    assign_fields = {**form_fields(board, "form-assign"), "code": "DB032", "theme": "1.1"}
    assignment = await draft_id(harness, "DB055")
    confirm = (await desk.client.get(f"/office/drafts/{assignment}/unassign")).text
    unassign_fields = form_fields(confirm, "form-unassign")
    access = harness.services.access
    await access.grant(access.local_operator(), "DB020", Role.CHECKIN)
    clerk = await desk_for(harness.services)
    await clerk.sign_in("DB020")
    for path, data in (
        ("/office/drafts/assign", assign_fields),
        ("/office/drafts/unassign", unassign_fields),
    ):
        refused = await clerk.client.post(path, data=data)
        assert refused.status_code == 403, path
        assert text_of(refused.text, "message-checkin_only").startswith(
            "Tài khoản của đồng chí có vai trò đón tiếp nên chỉ dùng được các trang của bàn đón"
            " tiếp."
        )
    opened = await clerk.client.get(f"/office/drafts/{assignment}/unassign")
    assert opened.status_code == 403 and 'id="message-checkin_only"' in opened.text
    await clerk.client.aclose()
    unsigned = await desk.client.post(
        "/office/drafts/assign", data={"code": "DB032", "theme": "1.1"}
    )
    assert unsigned.status_code == 403 and 'id="message-form_expired"' in unsigned.text
    forged = await desk.client.post(
        "/office/drafts/unassign", data=unassign_fields, headers={"origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    assert await assigned_audits(harness) == []
    assert await audits(harness, "draft.unassigned") == []


async def test_the_approved_drafts_download_as_one_zip_numbered_in_theme_order_with_an_index(
    desk: Desk, harness: BotHarness
) -> None:
    services, actor = harness.services, await staff_actor(harness)
    first, second, withdrawn = word("Phương, bản 1"), word("Ngọc, bản 2"), word("Hạnh")
    await upload(harness, "DB040", "bai.docx", word("Ngọc, bản 1"))
    await upload(harness, "DB040", "Tham luận Nam Từ Liêm.DOCX", second)
    await upload(harness, "DB031", "bai.docx", first)
    await upload(harness, "DB036", "bai.docx", withdrawn)
    await upload(harness, "DB033", "bai.docx", word("Ánh"))  # sent, not approved
    approved_at = harness.clock.now()
    for code in ("DB040", "DB031", "DB036"):
        [newest, *_] = await services.drafts.versions(await draft_id(harness, code))
        await services.drafts.set_verdict(actor, newest.id, DraftStatus.FINAL)
    await services.drafts.unassign(actor, "DB036", "1.2")  # approved, then withdrawn

    board = (await desk.client.get("/office/drafts")).text
    # No download attribute: a page answered instead (none approved any more) shows.
    assert '<a href="/office/drafts/approved.zip">Tải các bản đã chốt (.zip)</a>' in board
    assert text_of(board, "download-approved") == (
        "Tải các bản đã chốt (.zip) Một tệp nén gồm bản đã chốt của 2 tham luận, theo thứ tự"
        " chủ đề, kèm danh sách danh-sach.csv."
    )
    response = await desk.client.get("/office/drafts/approved.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        'attachment; filename="tham-luan-da-chot-60-KH-BTV-'
        f'{approved_at.astimezone(HANOI):%Y%m%d-%H%M}.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [
        "danh-sach.csv",
        "01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx",
        "02-1.3-DB040-Ho-Thi-Bao-Ngoc.docx",
    ]
    assert archive.read("01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx") == first
    assert archive.read("02-1.3-DB040-Ho-Thi-Bao-Ngoc.docx") == second
    at = f"{approved_at.astimezone(HANOI):%d/%m/%Y %H:%M}"
    titles = {theme.key: theme.title for theme in services.config.themes}
    index = archive.read("danh-sach.csv").decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(index))) == [
        ["STT", "Tệp", "Chủ đề", "Nội dung chủ đề", "Người viết", "Đơn vị", "Mã", "Bản",
         "Chốt lúc", "Người chốt"],
        ["1", "01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx", "1.1", titles["1.1"],
         "Nguyễn Thị Lan Phương", "Hội LHPN quận Ba Đình", "DB031", "1", at, STAFF_NAME],
        ["2", "02-1.3-DB040-Ho-Thi-Bao-Ngoc.docx", "1.3", titles["1.3"], "Hồ Thị Bảo Ngọc",
         "Hội LHPN quận Nam Từ Liêm", "DB040", "2", at, STAFF_NAME],
    ]  # fmt: skip


async def test_the_approved_zip_stores_the_speeches_as_sent_and_deflates_only_the_index(
    desk: Desk, harness: BotHarness
) -> None:
    services = harness.services
    await upload(harness, "DB031", "bai.docx", word("Phương, bản 1"))
    await upload(harness, "DB040", "bai.docx", word("Ngọc, bản 1"))
    for code in ("DB031", "DB040"):
        [newest, *_] = await services.drafts.versions(await draft_id(harness, code))
        await services.drafts.set_verdict(await staff_actor(harness), newest.id, DraftStatus.FINAL)
    response = await desk.client.get("/office/drafts/approved.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert [(entry.filename, entry.compress_type) for entry in archive.infolist()] == [
        ("danh-sach.csv", zipfile.ZIP_DEFLATED),
        ("01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx", zipfile.ZIP_STORED),
        ("02-1.3-DB040-Ho-Thi-Bao-Ngoc.docx", zipfile.ZIP_STORED),
    ]


async def test_the_approved_zip_names_an_approver_whose_chat_account_is_no_one_on_the_list(
    desk: Desk, harness: BotHarness
) -> None:
    services, access = harness.services, harness.services.access
    await upload(harness, "DB031", "bai.docx", word("Phương, bản 1"))
    admin = ChatAccount("telegram", str(ADMIN_ID), str(ADMIN_ID), "Trần Văn Quản")
    actor = access.office(await access.caller(admin))  # in [office] admin_ids, linked to no one
    assert actor is not None and actor.actor == f"telegram:{ADMIN_ID}"
    [newest, *_] = await services.drafts.versions(await draft_id(harness, "DB031"))
    await services.drafts.set_verdict(actor, newest.id, DraftStatus.FINAL)
    response = await desk.client.get("/office/drafts/approved.zip")
    index = zipfile.ZipFile(io.BytesIO(response.content)).read("danh-sach.csv")
    [_, row] = list(csv.reader(io.StringIO(index.decode("utf-8-sig"))))
    assert row[-1] == "Tài khoản Telegram không liên kết với người nào trong danh sách"


async def test_the_approved_zip_names_the_command_line_and_a_clerk_gone_from_the_list_as_the_log(
    desk: Desk, harness: BotHarness
) -> None:
    """«Người chốt» says who approved in Nhật ký's words (the one label, ``actor_label``): the
    server's command line is «Dòng lệnh hoinghi» on both, and a clerk whose code is no longer
    on the list is her code, never the raw account «dashboard:NV99»."""
    services, access = harness.services, harness.services.access
    await upload(harness, "DB031", "bai.docx", word("Phương, bản 1"))
    await upload(harness, "DB040", "bai.docx", word("Ngọc, bản 1"))
    [phuong, *_] = await services.drafts.versions(await draft_id(harness, "DB031"))
    await services.drafts.set_verdict(access.local_operator(), phuong.id, DraftStatus.FINAL)
    [ngoc, *_] = await services.drafts.versions(await draft_id(harness, "DB040"))
    await services.drafts.set_verdict(await staff_actor(harness), ngoc.id, DraftStatus.FINAL)
    async with harness.services.ctx.sessions() as session:  # approved by a clerk since gone
        assignment = await session.get(SpeechAssignment, await draft_id(harness, "DB040"))
        assert assignment is not None
        assignment.status_by = "dashboard:NV99"
        await session.commit()
    response = await desk.client.get("/office/drafts/approved.zip")
    index = zipfile.ZipFile(io.BytesIO(response.content)).read("danh-sach.csv")
    rows = list(csv.reader(io.StringIO(index.decode("utf-8-sig"))))
    assert [(row[6], row[-1]) for row in rows[1:]] == [
        ("DB031", "Dòng lệnh hoinghi"),
        ("DB040", "NV99"),
    ]
    log = await desk.client.get("/office/log", params={"action": "draft.verdict"})
    assert "Dòng lệnh hoinghi" in log.text and "người quản trị máy chủ" not in log.text


async def test_a_head_for_the_approved_zip_gets_its_headers_without_the_archive_being_built(
    desk: Desk, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_built(*args: object) -> None:
        raise AssertionError("a HEAD built the archive")

    empty = await desk.client.head("/office/drafts/approved.zip")
    assert empty.status_code == 303  # none approved: as a GET, the board says so
    await upload(harness, "DB031", "bai.docx", word("Phương, bản 1"))
    [newest, *_] = await harness.services.drafts.versions(await draft_id(harness, "DB031"))
    await harness.services.drafts.set_verdict(
        await staff_actor(harness), newest.id, DraftStatus.FINAL
    )
    at = harness.clock.now().astimezone(HANOI)
    with monkeypatch.context() as patched:
        patched.setattr(drafts_pages, "write_approved_zip", not_built)
        head = await desk.client.head("/office/drafts/approved.zip")
    assert head.status_code == 200
    assert head.content == b""
    assert "content-length" not in head.headers
    assert head.headers["content-type"] == "application/zip"
    assert head.headers["content-disposition"] == (
        f'attachment; filename="tham-luan-da-chot-60-KH-BTV-{at:%Y%m%d-%H%M}.zip"'
    )
    assert head.headers["cache-control"] == "no-store"
    got = await desk.client.get("/office/drafts/approved.zip")
    assert got.headers["content-disposition"] == head.headers["content-disposition"]
    assert int(got.headers["content-length"]) == len(got.content) > 0


async def test_with_no_approved_draft_the_board_says_so_in_place_of_the_zip_link(
    desk: Desk, harness: BotHarness
) -> None:
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))  # sent, not approved
    board = (await desk.client.get("/office/drafts")).text
    assert "approved.zip" not in board
    assert text_of(board, "download-approved") == (
        "Chưa có tham luận nào được chốt nên chưa có bản nào để tải. Khi Văn phòng chốt một"
        " bản, bản đó sẽ có trong tệp nén."
    )


async def test_with_no_approved_draft_the_zip_download_says_so_on_the_board(
    desk: Desk, harness: BotHarness
) -> None:
    # The link followed anyway (a board drawn before the only approved speech got a new
    # version, a bookmark): the board, shown as a page, says so.
    await upload(harness, "DB031", "bai.docx", word("Bản 1"))  # sent, not approved
    response = await desk.client.get("/office/drafts/approved.zip")
    assert response.status_code == 303
    page = (await desk.client.get(response.headers["location"])).text
    assert text_of(page, "flash") == (
        "Chưa có tham luận nào được chốt nên chưa có bản nào để tải. Khi Văn phòng chốt một"
        " bản, bản đó sẽ có trong tệp nén."
    )


async def test_a_draft_page_writes_its_limits_grouped_by_thousands(
    desk: Desk, harness: BotHarness
) -> None:
    # «tối đa 3000 ký tự» where every other figure reads «3.000».
    await upload(harness, "DB031", "Tham luận Ba Đình.docx", word("Kính thưa Đoàn Chủ tịch,"))
    page = (await desk.client.get(f"/office/drafts/{await draft_id(harness, 'DB031')}")).text
    assert "Góp ý gửi người viết (tối đa 3.000 ký tự)" in page
