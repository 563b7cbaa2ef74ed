"""Giấy mời and Báo cáo on the dashboard: the links export, the printable slips and the report
workbook come as attachments, built by the CLI's own builders from the list as it stands."""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from docx import Document
from openpyxl import load_workbook

from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services import Services
from bot.services.report_file import audit_table
from bot.texts import load_catalog
from handlers.web.attachment import CHUNK, attachment_file
from handlers.web.office import downloads, log
from tests.conftest import local
from tests.office_support import Desk, Held, desk_for, make_staff, page_while_held, text_of
from tests.web_support import BASE

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


TEMPLATES = Path(__file__).parent.parent / "handlers" / "web" / "templates"


def test_no_link_asks_the_browser_to_save_what_the_server_answers() -> None:
    # Every download answers a page at times (the sign-in page once the session ran out, a
    # 404, the board saying nothing is approved): with ``download`` Chromium silently saves that
    # page under the file's name. Content-Disposition already makes a file a download.
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", template.read_text(encoding="utf-8"))
        for link in re.findall(r"<a\b[^>]*>", source):
            if re.search(r"\sdownload(?=[\s>=/])", link):
                found.append(f"{template.relative_to(TEMPLATES)}: {link}")
    assert found == []


async def test_the_invitations_page_offers_the_three_files(desk: Desk) -> None:
    page = (await desk.client.get("/office/invitations")).text
    assert 'href="/office/invitations/links.xlsx"' in page
    assert 'href="/office/invitations/slips.docx"' in page
    assert 'href="/office/report.xlsx"' in page
    assert text_of(page, "download-slips").endswith(
        "80 đại biểu, mỗi người một phiếu có mã QR dẫn tới trang cá nhân và mã cá nhân (ba phiếu "
        "một trang A4, cắt theo đường kẻ)."
    )


async def test_the_invitations_page_names_the_chat_channels_the_links_export_holds(
    imported: Services,
) -> None:
    # With Telegram and Zalo running (each adds its link maker as it starts), as in a real run.
    await make_staff(imported)
    chat_links = {"telegram": lambda token: f"https://t.me/bot?start={token}", "zalo": str}
    desk = await desk_for(imported, chat_links=chat_links)
    try:
        await desk.sign_in()
        response = await desk.client.get("/office/invitations")
        assert response.status_code == 200
        assert "đường liên kết tới trang cá nhân, tới Telegram, Zalo và mã cá nhân." in text_of(
            response.text, "download-links"
        )
    finally:
        await desk.client.aclose()


LOCAL_ONLY = (
    "Đường liên kết và mã QR trong giấy mời mở trang http://127.0.0.1:8080, chỉ mở được trên "
    "chính máy chủ này: đại biểu mở trên điện thoại sẽ không vào được. Trước khi gửi giấy mời hay "
    "in phiếu, đề nghị cán bộ kỹ thuật đặt [web] base_url trong tệp kế hoạch là địa chỉ https:// "
    "mà mọi người mở được (xem docs/reverse-proxy.md), rồi khởi động lại hoinghi."
)


async def test_links_that_open_only_on_this_server_are_said_where_invitations_are_taken(
    imported: Services,
) -> None:
    """A new office kept the example's base_url (127.0.0.1) and was about to print the slips
    and send the SMS: both pages where she takes the links now say they open nowhere else."""
    await make_staff(imported)
    desk = await desk_for(imported, base_url="http://127.0.0.1:8080")
    try:
        await desk.sign_in()
        invitations = (await desk.client.get("/office/invitations")).text
        assert text_of(invitations, "links-local-only") == LOCAL_ONLY
        delegate = (await desk.client.get("/office/delegates/DB001")).text
        assert text_of(delegate, "links-local-only") == LOCAL_ONLY
    finally:
        await desk.client.aclose()


async def test_links_on_an_address_others_open_carry_no_such_warning(desk: Desk) -> None:
    for path in ("/office/invitations", "/office/delegates/DB001"):
        page = (await desk.client.get(path)).text
        assert 'id="links-local-only"' not in page


async def test_the_links_export_is_an_xlsx_attachment_with_each_personal_page_and_code(
    desk: Desk, imported: Services
) -> None:
    response = await desk.client.get("/office/invitations/links.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="duong-lien-ket-60-KH-BTV-')
    assert disposition.endswith('.xlsx"')
    assert response.headers["cache-control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    catalog = load_catalog("vi")
    names = (
        "code",
        "name",
        "position",
        "organization",
        "group",
        "phone",
        "link",
        "link_code",
        "code_line",
        "sent",
    )
    assert list(rows[0]) == [catalog.plain(f"export.heading.{name}") for name in names]
    links = {link.code: link for link in await imported.invitations.links()}
    assert len(rows) == 1 + len(links) == 81
    first = rows[1]
    assert first[0] == "DB001"
    assert first[6] == f"{BASE}/{links['DB001'].token}"


async def test_the_slips_are_a_docx_attachment_with_one_page_per_delegate(
    desk: Desk, imported: Services
) -> None:
    response = await desk.client.get("/office/invitations/slips.docx")
    assert response.status_code == 200
    assert response.headers["content-type"] == DOCX
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="giay-moi-60-KH-BTV-')
    assert disposition.endswith('.docx"')
    document = Document(io.BytesIO(response.content))
    names = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    text = "\n".join(names)
    links = await imported.invitations.links()
    # Every delegate's name is on the slips, and each personal page's link under its QR code.
    assert all(link.full_name in text for link in links)
    assert all(f"{BASE}/{link.token}" in document.element.xml for link in links)


async def test_the_downloaded_slips_name_the_running_telegram_bot_as_the_invitation_does(
    imported: Services,
) -> None:
    # The invitation message names the chat that takes the code; the slips said «Mã cá nhân:»
    # whatever ran. Same rule now: the running Telegram bot with /start, or the code alone
    # when no chat runs (the reception desk takes it).
    from bot.domain.tokens import format_link_code

    await make_staff(imported)
    code = format_link_code(
        next(link for link in await imported.invitations.links() if link.code == "DB001").link_code
    )
    shown = {}
    for name, chats in (("telegram", {"telegram": "hoinghi_bot"}), ("none", {})):
        desk = await desk_for(imported, chat_bots=chats)
        try:
            await desk.sign_in()
            response = await desk.client.get("/office/invitations/slips.docx")
        finally:
            await desk.client.aclose()
        document = Document(io.BytesIO(response.content))
        slip = next(t for t in document.tables if "DB001" in t.cell(0, 1).text)
        shown[name] = slip.cell(0, 1).text
    assert f"\nTrên Telegram, tìm @hoinghi_bot và gửi:\n/start {code}\n" in shown["telegram"]
    assert f"\nMã cá nhân:\n{code}\n" in shown["none"]
    assert "Telegram" not in shown["none"]


async def test_the_report_workbook_is_an_xlsx_attachment_named_as_the_chats(desk: Desk) -> None:
    response = await desk.client.get("/office/report.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="bao-cao-60-KH-BTV-')
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    catalog = load_catalog("vi")
    assert catalog.plain("report_sheet.delegates.title") in workbook.sheetnames


async def test_the_invitations_page_counts_in_sql_what_the_links_export_lists(
    imported: Services,
) -> None:
    # The page shows only the two counts: they come from one SQL count, which must agree with
    # the list the files are built from (a re-issued invitation counted once, a contact apart).
    from sqlalchemy import update

    from storage.models import Delegate

    await imported.invitations.reissue(imported.access.local_operator(), "DB002")
    async with imported.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Delegate).where(Delegate.code == "DB003").values(role="contact")
        )
    links = await imported.invitations.links()
    assert await imported.invitations.link_counts() == (80, 79)
    assert (len(links), sum(1 for link in links if link.role == "delegate")) == (80, 79)


async def test_a_character_xml_cannot_hold_typed_in_an_answer_leaves_the_report_whole(
    desk: Desk, imported: Services
) -> None:
    # U+FFFF in a substitute's name (typed at the desk, on a page, by phone) made the report a
    # 500 for the office: lxml refuses the row; a row without a date became an unreadable file.
    card = await imported.dashboard.card("DB010")
    assert card is not None
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Trần Lan\uffff", substitute_position="PCT\ufffe"
    )
    await imported.rsvp.record_by_phone(imported.access.local_operator(), card.person.id, answer)
    response = await desk.client.get("/office/report.xlsx")
    assert response.status_code == 200
    cells = [
        str(value)
        for sheet in load_workbook(io.BytesIO(response.content)).worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    assert any("Trần Lan" in cell for cell in cells)
    assert not any("\uffff" in cell or "\ufffe" in cell for cell in cells)


async def test_the_report_and_the_audit_export_follow_a_phone_answer_taken_after_the_deadline(
    desk: Desk, imported: Services, clock
) -> None:
    clock.set(local(2024, 5, 26, 10, 0))  # the deadline was 21/5 17:00
    card = await imported.dashboard.card("DB010")
    assert card is not None
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Lê Thu Trang", substitute_position="Phó Chủ tịch"
    )
    await imported.rsvp.record_by_phone(imported.access.local_operator(), card.person.id, answer)
    await desk.sign_in()
    response = await desk.client.get("/office/report.xlsx")
    cells = [
        str(value)
        for sheet in load_workbook(io.BytesIO(response.content)).worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    assert "Lê Thu Trang" in cells  # the delegates' sheet: the substitute who comes
    # The audit export (``hoinghi audit export``) says in words that it came after the deadline.
    _, rows = audit_table(load_catalog("vi"), imported.config, await imported.office_report.audit())
    assert any(
        "Cách ghi nhận: Văn phòng ghi nhận qua điện thoại (sau thời hạn xác nhận)" in str(cell)
        for row in rows
        for cell in row
    )


async def test_the_links_sheet_is_named_in_words_not_cut_in_the_middle_of_a_date(
    desk: Desk,
) -> None:
    response = await desk.client.get("/office/invitations/links.xlsx")
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["Đường liên kết"]


# --- the files are built off the event loop -------------------------------------------------------


async def _a_report_workbook(response: httpx.Response, imported: Services) -> None:
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    assert load_catalog("vi").plain("report_sheet.delegates.title") in workbook.sheetnames


async def _the_slips(response: httpx.Response, imported: Services) -> None:
    assert response.headers["content-type"] == DOCX
    document = Document(io.BytesIO(response.content))
    text = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert all(link.full_name in text for link in await imported.invitations.links())


async def _the_links(response: httpx.Response, imported: Services) -> None:
    rows = list(load_workbook(io.BytesIO(response.content)).worksheets[0].values)
    assert len(rows) == 81


async def _the_log(response: httpx.Response, imported: Services) -> None:
    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["Nhật ký"]


@pytest.mark.parametrize(
    ("module", "builder", "path", "check"),
    [
        # At 10,000 delegates the workbook takes seconds of CPU: built on the event loop, it
        # held up every page, every chat's tap and the outbox for as long.
        pytest.param(
            downloads, "office_report_workbook", "/office/report.xlsx", _a_report_workbook,
            id="report",
        ),
        # The slips (a QR code each) took up to a minute at 10,000 delegates, all on the loop.
        pytest.param(
            downloads, "slips_document", "/office/invitations/slips.docx", _the_slips, id="slips"
        ),
        pytest.param(
            downloads, "links_table", "/office/invitations/links.xlsx", _the_links, id="links"
        ),
        # Tens of thousands of changes in the log take seconds to write.
        pytest.param(log, "audit_table", "/office/log.xlsx", _the_log, id="log"),
    ],
)  # fmt: skip
async def test_a_personal_page_opens_while_a_download_is_being_built(
    desk: Desk,
    imported: Services,
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    builder: str,
    path: str,
    check: Callable[[httpx.Response, Services], Awaitable[None]],
) -> None:
    held = Held(getattr(module, builder))
    monkeypatch.setattr(module, builder, held)
    page, response = await page_while_held(desk, imported, held, path)
    assert page.status_code == 200
    assert held.let_go == [True]  # the page came while the file was still being built
    assert response.status_code == 200
    await check(response, imported)


@pytest.mark.parametrize("spec_version", ["2.0", "2.4"])
async def test_a_download_the_browser_leaves_midway_closes_its_temporary_file(
    spec_version: str,
) -> None:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it)
    spool.write(b"x" * (3 * CHUNK))
    response = attachment_file(spool, "tham-luan.zip", "application/zip")
    sent: list[dict[str, object]] = []
    gone = asyncio.Event()

    async def receive() -> dict[str, object]:
        await gone.wait()  # the server hears of the disconnect only through send failing
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body" and len(sent) > 1:  # after one chunk
            raise OSError("the browser went away")
        sent.append(message)

    scope = {"type": "http", "method": "GET", "asgi": {"spec_version": spec_version}}
    with pytest.raises(Exception):  # noqa: B017 (Starlette's ClientDisconnect or the OSError)
        await response(scope, receive, send)
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert spool.closed
