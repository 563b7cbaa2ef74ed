"""Tài liệu hội nghị: the office publishes documents on the dashboard («Tài liệu»), every
invitee's personal page lists them to download under her own link, /tailieu lists them in
chat with those links; hiding keeps them, a purge never removes bytes a document names."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import event, select, update

from bot.config import load_config
from bot.domain.clock import ManualClock
from bot.domain.outbound import MessageKind
from bot.services import Services
from bot.services.documents import DocumentStep
from bot.services.privacy import PurgeStep
from storage.files import MAX_BYTES
from storage.models import (
    AuditEntry,
    Delegate,
    DraftVersion,
    Meeting,
    MeetingDocument,
    OutboundMessage,
)
from tests.conftest import EXAMPLE_CONFIG
from tests.harness import BotHarness
from tests.office_support import Desk, hidden, text_of
from tests.samples import docx
from tests.test_drafts import DOCX
from tests.web_support import Web, web_for
from tests.zalo_support import zalo_world

REPORT = "Dự thảo báo cáo sơ kết giữa nhiệm kỳ"
FILE = "Dự thảo báo cáo sơ kết.docx"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
GONE = "Tài liệu này không còn được đăng trên trang của đồng chí."
WRONG_LINK = (
    "Đường liên kết này không đúng hoặc đã được thay bằng đường liên kết mới. Đề nghị đồng chí "
    "dùng đường liên kết Văn phòng gửi gần nhất, hoặc liên hệ đồng chí Trần Thu Hà, Phó Chánh "
    "Văn phòng, điện thoại 024 3834 5678."
)


@pytest.fixture
async def web(imported: Services) -> AsyncIterator[Web]:
    web = await web_for(imported)
    yield web
    await web.client.aclose()


async def refused(web: Web, token: str, doc: int, element: str) -> str:
    """``token``'s link to the document ``doc``, refused (404, no file sent): the text of the
    answer's ``element``."""
    answer = await web.client.get(f"/{token}/tai-lieu/{doc}")
    assert answer.status_code == 404 and "content-disposition" not in answer.headers
    return text_of(answer.text, element)


async def publish(
    desk: Desk, title: str, name: str, content: bytes, note: str = ""
) -> tuple[int, str]:
    """The upload form of «Tài liệu» posted as a browser does: the status and the page shown
    after it (the redirect followed)."""
    fields = hidden((await desk.client.get("/office/documents")).text, "form-document")
    response = await desk.client.post(
        "/office/documents",
        data={**fields, "title": title, "note": note},
        files={"file": (name, content, "application/octet-stream")},
    )
    if response.status_code == 303:
        shown = await desk.client.get(response.headers["location"])
        return 303, shown.text
    return response.status_code, response.text


def typed_title(html: str) -> str:
    match = re.search(r'<input id="document-title"[^>]*value="([^"]*)"', html)
    assert match is not None
    return match.group(1)


async def make_contact(services: Services, code: str) -> None:
    """``code`` on the list as a task contact (as NV03 of the example's task list), not
    invited."""
    async with services.ctx.sessions() as session, session.begin():
        await session.execute(update(Delegate).where(Delegate.code == code).values(role="contact"))


async def document_ids(services: Services) -> list[int]:
    async with services.ctx.sessions() as session:
        return list(await session.scalars(select(MeetingDocument.id).order_by(MeetingDocument.id)))


async def test_a_published_document_is_listed_on_every_page_and_downloads_under_her_link(
    desk: Desk, web: Web, imported: Services
) -> None:
    content = docx("báo cáo")
    status, page = await publish(desk, REPORT, FILE, content, note="Đề nghị nghiên cứu trước.")
    assert status == 303
    assert text_of(page, "flash").startswith(
        f"Đã đăng tài liệu «{REPORT}» ({FILE}); tài liệu đã hiện trên trang cá nhân của đại biểu."
    )
    [doc] = await document_ids(imported)
    assert text_of(page, f"document-{doc}-state").startswith("Đang hiện trên trang cá nhân")
    assert text_of(page, f"document-{doc}-file") == FILE
    assert "Phạm Thị Thanh Mai, 09:00, 18/5" in text_of(page, f"document-{doc}")
    # Newest first, on the page of an invitee.
    status, _ = await publish(desk, "Chương trình hội nghị", "Chương trình.pdf", PDF)
    assert status == 303
    shown = (await web.open("DB031")).text
    assert text_of(shown, "documents-title") == "Tài liệu hội nghị"
    links = re.findall(r'<a href="(/[^"]+/tai-lieu/\d+)" id="document-\d+-link">', shown)
    assert links == [
        f"/{web.tokens['DB031']}/tai-lieu/{doc + 1}",
        f"/{web.tokens['DB031']}/tai-lieu/{doc}",
    ]
    assert text_of(shown, f"document-{doc}-details") == (
        "văn bản Word, 2 KB · đăng lúc 09:00, 18/5"
    )
    assert (
        text_of(shown, f"document-{doc + 1}-details") == "tệp PDF, 35 byte · đăng lúc 09:00, 18/5"
    )
    assert text_of(shown, f"document-{doc}-note") == "Đề nghị nghiên cứu trước."
    download = await web.client.get(links[1])
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-disposition"] == (
        f"attachment; filename=\"Du thao bao cao so ket.docx\"; filename*=UTF-8''{quote(FILE)}"
    )
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    # Audited as the staff member's, in words on Nhật ký.
    async with imported.ctx.sessions() as session:
        audited = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.after).where(
                    AuditEntry.entity == "meeting_document"
                )
            )
        ).all()
    assert [action for action, _ in audited] == ["document.published", "document.published"]
    log = (await desk.client.get("/office/log?action=document.published")).text
    assert "đăng tài liệu hội nghị" in log


# What a publish's answer says after what it did: the notice is the office's to send.
TOLD = (
    " Bot không tự báo cho đại biểu; nếu cần báo, đề nghị chọn Soạn thông báo về tài liệu này"
    " (nội dung soạn sẵn để sửa; đồng chí chọn người nhận, xem trước rồi mới gửi)."
)
NOTICE = (
    f"Văn phòng trân trọng thông báo: tài liệu «{REPORT}» đã được đăng trên trang cá nhân của các"
    " đồng chí, mục «Tài liệu hội nghị» (đồng chí cũng có thể gửi lệnh /tailieu cho bot để nhận"
    " đường liên kết tải về). Kính đề nghị các đồng chí nghiên cứu trước khi dự hội nghị."
)


DRAFT = (
    "Họp trù bị lúc 14:00 tại phòng họp tầng 2; đề nghị các đồng chí chuẩn bị ý kiến về dự thảo"
    " báo cáo sơ kết."
)


def notice_body(page: str) -> str:
    """What the notice form's text box holds, as the browser shows it."""
    found = re.search(r'<textarea id="notice-body"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


async def notice_statuses(services: Services) -> list[str]:
    async with services.ctx.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage.status)
            .where(OutboundMessage.kind == MessageKind.BROADCAST)
            .order_by(OutboundMessage.id)
        )
        return list(rows)


async def test_a_publish_offers_the_notice_about_the_document_written_to_edit_and_preview(
    desk: Desk, imported: Services
) -> None:
    """The flash links to the notice composer holding a polite notice naming the document and
    where it is; nothing is written or sent until the clerk previews and confirms as usual."""
    _, page = await publish(desk, REPORT, FILE, docx("báo cáo"))
    [doc] = await document_ids(imported)
    assert text_of(page, "flash") == (
        f"Đã đăng tài liệu «{REPORT}» ({FILE}); tài liệu đã hiện trên trang cá nhân của đại biểu."
        f"{TOLD}"
    )
    link = re.search(r'<a href="([^"]*)" id="document-notice">', page)
    assert link is not None
    assert html.unescape(link.group(1)) == f"/office/notices?tailieu={doc}#write"
    form = (await desk.client.get(html.unescape(link.group(1)))).text
    assert notice_body(form) == NOTICE
    assert re.search(r'name="audience" value="everyone" checked', form)
    assert 'id="notice-draft-kept"' not in form
    assert await notice_statuses(imported) == []  # nothing written yet
    fields = hidden(form, "form-notice")
    shown = await desk.client.post(
        "/office/notices/preview", data={**fields, "body": notice_body(form), "audience": "linked"}
    )
    assert shown.status_code == 200 and NOTICE in text_of(shown.text, "notice-shown")
    assert await notice_statuses(imported) == ["draft"]  # at its preview, to confirm
    # Hidden since: no notice prepared about a document no page shows.
    await desk.post(f"documents/{doc}/hide", "form-hide", {}, page=f"documents/{doc}/hide")
    gone = (await desk.client.get(f"/office/notices?tailieu={doc}")).text
    assert text_of(gone, "notice-error") == (
        "Tài liệu này không còn hiện trên trang cá nhân của đại biểu (đã ẩn hoặc không tìm thấy),"
        " nên không có nội dung soạn sẵn. Đề nghị soạn thông báo như thường lệ."
    )


async def test_the_document_s_notice_asks_before_taking_the_place_of_a_draft_not_sent(
    desk: Desk, imported: Services
) -> None:
    """A notice the clerk previewed and did not send is not dropped unasked: the form keeps
    it, with the choice of going on with it or writing the document's notice instead; the
    draft is replaced only when the new notice is previewed, as any new notice replaces it."""
    composer = (await desk.client.get("/office/notices")).text
    await desk.client.post(
        "/office/notices/preview",
        data={
            **hidden(composer, "form-notice"),
            "body": DRAFT,
            "audience": "linked",
        },
    )
    assert await notice_statuses(imported) == ["draft"]
    await publish(desk, REPORT, FILE, docx("báo cáo"))
    [doc] = await document_ids(imported)
    asked = (await desk.client.get(f"/office/notices?tailieu={doc}")).text
    # The draft recognised by its first words, cut at a word.
    assert text_of(asked, "notice-draft-said") == (
        "Đồng chí đang có một thông báo soạn dở, chưa gửi: «Họp trù bị lúc 14:00 tại phòng họp"
        " tầng 2; đề nghị các đồng chí chuẩn bị ý kiến…». Nội dung đó vẫn ở khung dưới đây. Nếu"
        f" soạn thông báo về tài liệu «{REPORT}», bản soạn dở sẽ được thay khi đồng chí bấm «Xem"
        " trước»."
    )
    assert text_of(asked, "notice-draft-keep") == "Tiếp tục bản soạn dở"
    assert text_of(asked, "notice-draft-replace") == (
        "Soạn thông báo về tài liệu này thay bản soạn dở"
    )
    assert notice_body(asked) == DRAFT
    assert re.search(r'name="audience" value="linked" checked', asked)
    keep = re.search(r'id="notice-draft-keep" href="([^"]*)"', asked)
    replace = re.search(r'id="notice-draft-replace" href="([^"]*)"', asked)
    assert keep is not None and replace is not None
    kept = (await desk.client.get(html.unescape(keep.group(1)))).text
    assert notice_body(kept) == DRAFT and 'id="notice-draft-kept"' not in kept
    instead = (await desk.client.get(html.unescape(replace.group(1)))).text
    assert html.unescape(replace.group(1)) == f"/office/notices?tailieu={doc}&thay=1#write"
    assert notice_body(instead) == NOTICE and 'id="notice-draft-kept"' not in instead
    assert await notice_statuses(imported) == ["draft"]  # still there until a preview


async def test_a_wrong_file_or_a_missing_title_publishes_nothing_and_keeps_what_was_typed(
    desk: Desk, imported: Services
) -> None:
    status, page = await publish(desk, "", FILE, docx("x"))
    assert (status, text_of(page, "flash")) == (
        422, "Chưa đăng: đề nghị nhập tiêu đề của tài liệu."
    )  # fmt: skip
    status, page = await publish(desk, REPORT, "phim.exe", b"MZ")
    assert (status, text_of(page, "flash")) == (
        422,
        "Chưa đăng: tệp «phim.exe» không được nhận (chỉ nhận tệp PDF, Word (.docx), Excel "
        "(.xlsx), PowerPoint (.pptx), ảnh JPG hoặc PNG có nội dung đúng định dạng đó). Đề nghị "
        "chọn tệp khác.",
    )
    assert typed_title(page) == REPORT
    status, page = await publish(desk, REPORT, "Báo cáo.pdf", b"\0" * (MAX_BYTES + 1))
    assert (status, text_of(page, "flash")) == (
        422,
        "Chưa đăng: tệp «Báo cáo.pdf» không được nhận (lớn hơn 20 MB). Đề nghị chọn tệp khác.",
    )
    assert typed_title(page) == REPORT
    # Far past the limit, the request is refused before its file is read: what was typed comes
    # from its first bytes (the title and note come before the file).
    status, page = await publish(
        desk, REPORT, "Báo cáo.pdf", b"\0" * (MAX_BYTES + 128 * 1024), note="Bản in màu"
    )
    assert (status, text_of(page, "flash")) == (
        413,
        "Chưa đăng: tệp lớn hơn 20 MB nên không được nhận. Đề nghị nén hoặc chia nhỏ tệp rồi "
        "đăng lại.",
    )
    assert typed_title(page) == REPORT and ">Bản in màu</textarea>" in page
    status, page = await publish(desk, "x" * 201, FILE, docx("x"))
    assert (status, text_of(page, "flash")) == (
        422, "Chưa đăng: tiêu đề dài quá 200 ký tự, đề nghị rút gọn."
    )  # fmt: skip
    assert await document_ids(imported) == []


async def test_a_double_submit_publishes_the_document_once(desk: Desk, imported: Services) -> None:
    fields = hidden((await desk.client.get("/office/documents")).text, "form-document")
    content = docx("một lần")
    answers = []
    for _ in range(2):  # the same form, posted twice (a double tap on a slow connection)
        response = await desk.client.post(
            "/office/documents",
            data={**fields, "title": REPORT, "note": ""},
            files={"file": (FILE, content, "application/octet-stream")},
        )
        shown = await desk.client.get(response.headers["location"])
        answers.append(text_of(shown.text, "flash"))
    assert answers[1] == (
        f"Tài liệu này đã được đăng với tiêu đề «{REPORT}» ({FILE}), có thể do bấm hai lần; "
        f"không đăng thêm.{TOLD}"  # the notice still offered: the first answer may be unseen
    )
    assert len(await document_ids(imported)) == 1


async def test_the_same_file_under_a_new_title_is_refused_until_the_first_is_hidden(
    desk: Desk, imported: Services
) -> None:
    content = docx("hai tiêu đề")
    assert (await publish(desk, REPORT, FILE, content))[0] == 303
    status, page = await publish(desk, "Báo cáo (bản chính thức)", FILE, content, note="Bản cuối.")
    assert (status, text_of(page, "flash")) == (
        422,
        f"Chưa đăng: tệp này đã được đăng với tiêu đề «{REPORT}» ({FILE}); muốn đăng lại dưới "
        "tiêu đề khác, đề nghị ẩn tài liệu cũ trước.",
    )
    assert typed_title(page) == "Báo cáo (bản chính thức)"  # kept, to send again
    [doc] = await document_ids(imported)
    await desk.post(f"documents/{doc}/hide", "form-hide", {}, page=f"documents/{doc}/hide")
    status, page = await publish(desk, "Báo cáo (bản chính thức)", FILE, content)
    assert (status, text_of(page, "flash")) == (
        303,
        f"Đã đăng tài liệu «Báo cáo (bản chính thức)» ({FILE}); tài liệu đã hiện trên trang cá "
        f"nhân của đại biểu.{TOLD}",
    )
    assert len(await document_ids(imported)) == 2


async def test_hiding_asks_first_takes_it_off_the_pages_and_it_can_be_published_again(
    desk: Desk, web: Web, imported: Services
) -> None:
    await publish(desk, REPORT, FILE, docx("ẩn"))
    [doc] = await document_ids(imported)
    link = f"/{web.tokens['DB031']}/tai-lieu/{doc}"
    confirm = (await desk.client.get(f"/office/documents/{doc}/hide")).text
    assert text_of(confirm, "hide-what") == (
        f"Ẩn tài liệu «{REPORT}» ({FILE}) khỏi trang cá nhân của đại biểu? Tài liệu và tệp vẫn "
        "được giữ ở trang này và có thể đăng lại bất cứ lúc nào; người đã tải về vẫn giữ bản "
        "của mình."
    )
    shown = await desk.post(f"documents/{doc}/hide", "form-hide", {}, page=f"documents/{doc}/hide")
    assert text_of(shown.text, "flash") == (
        f"Đã ẩn tài liệu «{REPORT}» khỏi trang cá nhân của đại biểu; tài liệu vẫn được giữ và "
        "có thể đăng lại."
    )
    assert text_of(shown.text, f"document-{doc}-state").startswith("Đã ẩn lúc 09:00, 18/5")
    assert 'id="documents"' not in (await web.open("DB031")).text
    assert (await web.client.get(link)).status_code == 404
    # Kept: the office still downloads it, and publishes it again.
    assert (await desk.client.get(f"/office/documents/{doc}/file")).status_code == 200
    shown = await desk.post(f"documents/{doc}/show", f"form-show-{doc}", {}, page="documents")
    assert text_of(shown.text, "flash") == (
        f"Đã đăng lại tài liệu «{REPORT}»; tài liệu đã hiện trên trang cá nhân của đại biểu."
    )
    assert (await web.client.get(link)).status_code == 200
    async with imported.ctx.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "meeting_document")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["document.published", "document.hidden", "document.shown"]


async def test_nhat_ky_names_the_document_by_its_title(desk: Desk, imported: Services) -> None:
    await publish(desk, REPORT, FILE, docx("nhật ký"))
    [doc] = await document_ids(imported)
    await desk.post(f"documents/{doc}/hide", "form-hide", {}, page=f"documents/{doc}/hide")
    await desk.post(f"documents/{doc}/show", f"form-show-{doc}", {}, page="documents")
    log = (await desk.client.get("/office/log")).text
    said = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", line)).strip()
        for line in re.findall(r'<li id="entry-\d+">(.*?)</li>', log, re.S)
    ][:3]
    assert [line.partition(" — ")[2] for line in said] == [
        f"Phạm Thị Thanh Mai: đăng lại tài liệu hội nghị («{REPORT}») Tiêu đề: {REPORT}",
        f"Phạm Thị Thanh Mai: ẩn tài liệu hội nghị («{REPORT}») Tiêu đề: {REPORT}",
        f"Phạm Thị Thanh Mai: đăng tài liệu hội nghị («{REPORT}») Tiêu đề: {REPORT}",
    ]


async def test_a_download_is_streamed_from_the_file_store_and_answers_head_and_ranges(
    desk: Desk, web: Web, imported: Services
) -> None:
    content = docx("tải từng đoạn")
    await publish(desk, REPORT, FILE, content)
    [doc] = await document_ids(imported)
    disposition = (
        f"attachment; filename=\"Du thao bao cao so ket.docx\"; filename*=UTF-8''{quote(FILE)}"
    )
    for client, path in (
        (web.client, f"/{web.tokens['DB031']}/tai-lieu/{doc}"),
        (desk.client, f"/office/documents/{doc}/file"),
    ):
        # Sent from the disk as a file (a resumed download gets only what it lacks), never
        # read whole into memory first.
        part = await client.get(path, headers={"range": "bytes=100-199"})
        assert part.status_code == 206, path
        assert part.content == content[100:200], path
        assert part.headers["content-range"] == f"bytes 100-199/{len(content)}", path
        assert part.headers["accept-ranges"] == "bytes", path
        assert part.headers["content-disposition"] == disposition, path
        assert part.headers["x-content-type-options"] == "nosniff", path
        assert part.headers["cache-control"] == "no-store", path
    whole = await desk.client.get(f"/office/documents/{doc}/file")
    assert whole.status_code == 200 and whole.content == content
    head = await desk.client.head(f"/office/documents/{doc}/file")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(content))
    assert head.headers["content-disposition"] == disposition


async def test_a_hidden_document_s_link_says_it_is_no_longer_on_her_page(
    desk: Desk, web: Web, imported: Services
) -> None:
    await publish(desk, REPORT, FILE, docx("ẩn rồi"))
    [doc] = await document_ids(imported)
    await imported.documents.hide(imported.access.local_operator(), doc)
    token = web.tokens["DB031"]
    for missing in (doc, doc + 1000):  # hidden, or no such document
        gone = await web.client.get(f"/{token}/tai-lieu/{missing}")
        assert gone.status_code == 404
        assert "content-disposition" not in gone.headers
        assert text_of(gone.text, "document-gone") == GONE
        assert 'id="unknown"' not in gone.text
        back = re.search(r'<a [^>]*id="document-gone-back" href="([^"]+)"', gone.text)
        assert back is not None and back.group(1) == f"/{token}?lang=vi"
        assert text_of(gone.text, "document-gone-back") == "← Về trang cá nhân của đồng chí"


async def test_a_task_contact_s_page_lists_no_document_as_the_dashboard_says(
    desk: Desk, web: Web, imported: Services
) -> None:
    await publish(desk, REPORT, FILE, docx("đầu mối"))
    [doc] = await document_ids(imported)
    about = text_of((await desk.client.get("/office/documents")).text, "documents-about")
    assert about.startswith(
        "Tài liệu đăng ở đây hiện ngay trên trang cá nhân của mọi đại biểu được mời, mục «Tài "
        "liệu hội nghị» (đại biểu đã bị rút giấy mời và đầu mối nhiệm vụ chuẩn bị — người không "
        "được mời dự — không thấy mục này);"
    )
    assert 'id="documents"' in (await web.open("DB031")).text  # an invitee's page
    await make_contact(imported, "DB003")
    page = (await web.open("DB003")).text  # a task contact's: her tasks, not an invitation
    assert text_of(page, "invites").startswith("Đồng chí là đầu mối thực hiện nhiệm vụ")
    assert 'id="documents"' not in page and "tai-lieu" not in page
    assert await refused(web, web.tokens["DB003"], doc, "document-gone") == GONE


async def test_a_preview_of_a_document_link_records_nothing(
    desk: Desk, web: Web, imported: Services
) -> None:
    await publish(desk, REPORT, FILE, docx("xem trước"))
    [doc] = await document_ids(imported)
    token = web.tokens["DB036"]  # a link never opened
    preview = await web.client.head(f"/{token}/tai-lieu/{doc}")
    assert preview.status_code == 200
    assert "content-disposition" not in preview.headers
    async with imported.ctx.sessions() as session:
        linked = await session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action.in_(("identity.linked", "identity.page_opened"))
            )
        )
    assert linked is None  # the office's «never opened their link» stays true


async def test_a_document_of_another_meeting_is_not_found(
    desk: Desk, web: Web, imported: Services
) -> None:
    now = imported.ctx.clock.now()
    async with imported.ctx.sessions() as session, session.begin():
        other = Meeting(code="hoi-nghi-khac", title="Hội nghị khác", starts_at=now, created_at=now)
        session.add(other)
        await session.flush()
        row = MeetingDocument(
            meeting_id=other.id, title="Khác", note=None, file_name="khac.pdf",
            content_type="application/pdf", size=len(PDF), sha256="0" * 64,
            published_by="Người khác", published_at=now,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        theirs = row.id
    office = await desk.client.get(f"/office/documents/{theirs}/file")
    assert office.status_code == 404 and "content-disposition" not in office.headers
    assert text_of(office.text, "message-no_document") == (
        "Không có tài liệu này trong danh sách tài liệu hội nghị."
    )
    assert (await desk.client.get(f"/office/documents/{theirs}/hide")).status_code == 404
    assert await refused(web, web.tokens["DB031"], theirs, "document-gone") == GONE


async def test_a_hidden_document_is_not_shown_again_while_the_same_file_is_on_the_pages(
    desk: Desk, web: Web, imported: Services
) -> None:
    content = docx("hai lần")
    await publish(desk, REPORT, FILE, content)
    [first] = await document_ids(imported)
    await imported.documents.hide(imported.access.local_operator(), first)
    status, _ = await publish(desk, "Báo cáo sơ kết (bản sửa tiêu đề)", FILE, content)
    assert status == 303
    [_, second] = await document_ids(imported)
    shown = await desk.post(f"documents/{first}/show", f"form-show-{first}", {}, page="documents")
    assert text_of(shown.text, "flash") == (
        f"Chưa đăng lại tài liệu «{REPORT}»: tài liệu «Báo cáo sơ kết (bản sửa tiêu đề)» có "
        "cùng tệp đang hiện trên trang cá nhân của đại biểu, đăng lại sẽ thành hai tài liệu "
        f"giống nhau. Nếu muốn dùng tiêu đề «{REPORT}», đề nghị ẩn tài liệu «Báo cáo sơ kết "
        "(bản sửa tiêu đề)» trước."
    )
    assert text_of(shown.text, f"document-{first}-state").startswith("Đã ẩn lúc")
    page = (await web.open("DB031")).text
    assert re.findall(r'id="document-(\d+)-link"', page) == [str(second)]


async def test_a_note_s_line_ends_from_a_browser_count_as_one_character_each(
    imported: Services,
) -> None:
    # 100 lines of 9 characters: 999 characters, or 1098 counting each CRLF as two.
    note = "\r\n".join(["Đề nghị x"] * 100)
    result = await imported.documents.publish(
        imported.access.local_operator(), title=REPORT, note=note, name=FILE, content=docx("n")
    )
    assert result.step is DocumentStep.PUBLISHED and result.document is not None
    assert result.document.note == "\n".join(["Đề nghị x"] * 100)
    too_long = note + "\r\nx"
    assert imported.documents.check_fields(REPORT, too_long) is DocumentStep.NOTE_TOO_LONG


async def test_the_page_reads_the_documents_with_the_person_in_one_read(
    desk: Desk, web: Web, imported: Services
) -> None:
    await publish(desk, REPORT, FILE, docx("một lần đọc"))
    [doc] = await document_ids(imported)
    await web.open("DB031")
    view = await imported.pages.view(web.tokens["DB031"], channel="web")
    assert view is not None
    assert [(d.id, d.title, d.file_name) for d in view.documents] == [(doc, REPORT, FILE)]
    await imported.withdrawals.withdraw(imported.access.local_operator(), "DB031")
    view = await imported.pages.view(web.tokens["DB031"], channel="web")
    assert view is not None and view.documents == ()


async def test_a_revoked_link_reaches_no_document(desk: Desk, web: Web, imported: Services) -> None:
    await publish(desk, REPORT, FILE, docx("thu hồi"))
    [doc] = await document_ids(imported)
    token = web.tokens["DB031"]
    await imported.invitations.reissue(imported.access.local_operator(), "DB031")
    assert await refused(web, token, doc, "unknown") == WRONG_LINK


async def test_a_withdrawn_invitee_s_document_link_says_the_invitation_was_withdrawn_as_her_page(
    desk: Desk, web: Web, imported: Services
) -> None:
    await publish(desk, REPORT, FILE, docx("rút giấy mời"))
    [doc] = await document_ids(imported)
    token = web.tokens["DB032"]
    await imported.withdrawals.withdraw(imported.access.local_operator(), "DB032")
    page = (await web.open("DB032")).text
    assert 'id="withdrawn-notice"' in page and 'id="documents"' not in page
    said = await refused(web, token, doc, "document-withdrawn")
    # Her link is neither wrong nor replaced: the words of her page, not the wrong link's.
    assert said == text_of(page, "withdrawn-notice")
    assert said.startswith("Văn phòng đã điều chỉnh danh sách đại biểu dự ")
    answer = (await web.client.get(f"/{token}/tai-lieu/{doc}")).text
    assert 'id="unknown"' not in answer and "liên kết mới" not in answer
    back = re.search(r'<a [^>]*id="document-gone-back" href="([^"]+)"', answer)
    assert back is not None and back.group(1) == f"/{token}?lang=vi"


async def test_the_purge_keeps_a_draft_s_bytes_while_a_document_names_them(
    harness: BotHarness,
) -> None:
    speaker = await harness.open_invitation("DB031")
    invitation = next(m for m in speaker.messages if "✅ Tham dự" in str(m.get("reply_markup")))
    await harness.send(speaker.tap("✅ Tham dự", message=invitation))
    content = docx("cùng nội dung")
    await harness.send(speaker.document("bai.docx", content, DOCX))
    await harness.tick()
    services = harness.services
    result = await services.documents.publish(
        services.access.local_operator(), title=REPORT, note="", name=FILE, content=content
    )
    assert result.step is DocumentStep.PUBLISHED
    async with services.ctx.sessions() as session:
        [version] = list(await session.scalars(select(DraftVersion)))
    blob = services.drafts.files.path_for(version.sha256)
    harness.clock.set(services.config.meeting.ends_at)
    assert (await services.privacy.purge(drafts=True)).step is PurgeStep.PURGED
    async with services.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftVersion))) == []
    assert blob.read_bytes() == content  # the document still names it


async def test_tailieu_lists_the_documents_with_their_links_on_her_page(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB031")
    await harness.send(user.command("/tailieu"))
    assert user.last_text() == (
        "Văn phòng chưa đăng tài liệu nào cho hội nghị. Khi có tài liệu, đồng chí xem tại đây "
        "(lệnh /tailieu) hoặc trên trang cá nhân."
    )
    services = harness.services
    result = await services.documents.publish(
        services.access.local_operator(), title=REPORT, note="", name=FILE, content=docx("chat")
    )
    assert result.document is not None
    await harness.send(user.command("/tailieu"))
    web = services.config.web
    assert web is not None
    assert user.last_text() == (
        "Tài liệu hội nghị\nVăn phòng gửi đồng chí các tài liệu sau để nghiên cứu trước hội "
        "nghị; bấm đường liên kết để tải về trên trang cá nhân của đồng chí:\n\n"
        f"• {REPORT} (văn bản Word, 2 KB)\n"
        f"{web.link(harness.tokens['DB031'])}/tai-lieu/{result.document.id}"
    )


async def test_tailieu_reads_the_documents_and_her_link_in_one_transaction(
    harness: BotHarness,
) -> None:
    # The list and the links built from her token are of one moment: a link re-issued or a
    # document hidden in between cannot give a list of one time with links of another.
    user = await harness.open_invitation("DB031")
    services = harness.services
    result = await services.documents.publish(
        services.access.local_operator(), title=REPORT, note="", name=FILE, content=docx("one")
    )
    assert result.document is not None
    engine = services.ctx.sessions.kw["bind"].sync_engine
    transactions = [0]
    read: dict[str, list[int]] = {"documents": [], "token": []}

    def began(connection: Any) -> None:
        transactions[0] += 1

    def seen(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM meeting_documents" in statement:
            read["documents"].append(transactions[0])
        if "SELECT invitations.token" in statement:
            read["token"].append(transactions[0])

    event.listen(engine, "begin", began)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await harness.send(user.command("/tailieu"))
    finally:
        event.remove(engine, "begin", began)
        event.remove(engine, "before_cursor_execute", seen)
    assert len(read["documents"]) == len(read["token"]) == 1
    assert read["documents"] == read["token"]
    web = services.config.web
    assert web is not None
    assert user.last_text().endswith(
        f"{web.link(harness.tokens['DB031'])}/tai-lieu/{result.document.id}"
    )


async def test_tailieu_gives_the_office_s_note_as_the_page_does(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB031")
    services = harness.services
    note = "Đề nghị đọc kỹ mục <II> & góp ý.\r\nGửi lại trước 20/5."
    result = await services.documents.publish(
        services.access.local_operator(), title=REPORT, note=note, name=FILE, content=docx("n")
    )
    assert result.document is not None
    await harness.send(user.command("/tailieu"))
    web = services.config.web
    assert web is not None
    assert user.last_text() == (
        "Tài liệu hội nghị\nVăn phòng gửi đồng chí các tài liệu sau để nghiên cứu trước hội "
        "nghị; bấm đường liên kết để tải về trên trang cá nhân của đồng chí:\n\n"
        f"• {REPORT} (văn bản Word, 2 KB)\n"
        "Đề nghị đọc kỹ mục <II> & góp ý.\nGửi lại trước 20/5.\n"
        f"{web.link(harness.tokens['DB031'])}/tai-lieu/{result.document.id}"
    )  # the note's «<II> & …» escaped: Telegram's HTML would refuse it as a tag


async def test_tailieu_tells_a_task_contact_the_documents_are_for_the_invitees(
    harness: BotHarness,
) -> None:
    services = harness.services
    await make_contact(services, "DB003")
    user = await harness.open_invitation("DB003")
    await services.documents.publish(
        services.access.local_operator(), title=REPORT, note="", name=FILE, content=docx("nv")
    )
    await harness.send(user.command("/tailieu"))
    assert user.last_text() == (
        "Tài liệu hội nghị chỉ gửi tới các đại biểu được mời dự hội nghị. Đồng chí là đầu mối "
        "thực hiện nhiệm vụ chuẩn bị nên không nhận tài liệu qua đây; nếu cần tài liệu, xin "
        "liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )


async def test_tailieu_on_zalo_lists_the_same_links(imported: Services, clock: ManualClock) -> None:
    async with zalo_world(imported, clock) as world:
        user = await world.linked("DB002", "Anh Hùng")
        result = await imported.documents.publish(
            imported.access.local_operator(), title=REPORT, note="", name="Chương trình.pdf",
            content=PDF,
        )  # fmt: skip
        assert result.document is not None
        said = await world.type(user, "/tailieu")
    web = imported.config.web
    assert web is not None
    assert said == [
        "Tài liệu hội nghị\nVăn phòng gửi đồng chí các tài liệu sau để nghiên cứu trước hội "
        "nghị; bấm đường liên kết để tải về trên trang cá nhân của đồng chí:\n\n"
        f"• {REPORT} (tệp PDF, 35 byte)\n"
        f"{web.link(world.tokens['DB002'])}/tai-lieu/{result.document.id}"
    ]


@pytest.mark.parametrize(
    "config", [load_config(EXAMPLE_CONFIG).config.model_copy(update={"web": None})]
)
async def test_tailieu_without_personal_pages_says_so_rather_than_an_expired_link(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB031")
    services = harness.services
    await services.documents.publish(
        services.access.local_operator(), title=REPORT, note="", name=FILE, content=docx("web")
    )
    await harness.send(user.command("/tailieu"))
    assert user.last_text() == (
        "Văn phòng đã đăng 1 tài liệu cho hội nghị nhưng hội nghị này không có trang cá nhân "
        "để tải về. Xin liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 "
        "5678 để nhận tài liệu."
    )


async def test_the_documents_form_writes_its_limits_grouped_by_thousands(
    desk: Desk, imported: Services
) -> None:
    page = (await desk.client.get("/office/documents")).text
    assert "Ghi chú cho đại biểu (không bắt buộc, tối đa 1.000 ký tự)" in page
