"""The personal page in a real Chromium at a phone's size (390×844), served by uvicorn on
loopback; the office's side is the simulated Telegram. Each page and state is saved to
``out/screenshots/`` and checked by axe-core (WCAG 2.1 A and AA)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
import zxingcpp
from sqlalchemy import select

from bot.domain.rsvp import RsvpStatus
from handlers.web.app import build_web_app
from handlers.web.server import serving
from storage.models import DraftComment, DraftVersion
from tests.browser.conftest import PHONE, Browser
from tests.conftest import local
from tests.harness import OFFICE_CHAT, BotHarness
from tests.plan_support import rsvp_of
from tests.samples import docx
from tests.web_support import web_setup

SPEAKER = "DB031"  # theme 1.1, and a task contact too


@dataclass
class Site:
    """The personal pages on a real port, and the bot behind them."""

    harness: BotHarness
    port: int

    def page(self, code: str) -> str:
        """The personal link of ``code`` on this server."""
        return f"http://127.0.0.1:{self.port}/{self.harness.tokens[code]}"

    def office_texts(self) -> list[str]:
        """What the office's group has received, texts and captions."""
        return [
            message.get("text") or message.get("caption") or ""
            for message in self.harness.fake.messages_to(OFFICE_CHAT)
        ]


@pytest.fixture
async def site(harness: BotHarness) -> AsyncIterator[Site]:
    harness.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    with socket.socket() as probe:  # the page checks a form's origin against its own address
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    setup = web_setup(harness.services)
    setup = replace(
        setup, settings=setup.settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    )
    async with serving(build_web_app(setup), host="127.0.0.1", port=port):
        yield Site(harness, port)


# axe's best practices the personal page keeps besides WCAG: headings nested in order, one h1.
BEST_PRACTICES = ("heading-order", "page-has-heading-one")


async def no_accessibility_problems(browser: Browser) -> None:
    assert [str(violation) for violation in await browser.axe(*BEST_PRACTICES)] == []


async def first_heading(browser: Browser) -> str:
    """The tag of the first heading in the document (axe's ``heading-order`` lets a page open
    on any level: a screen reader's user moving by headings meets this one first)."""
    found = await asyncio.to_thread(
        browser.driver.execute_script,
        "return document.querySelector('h1, h2, h3, h4, h5, h6').tagName",
    )
    return str(found)


async def test_a_delegate_reads_the_invitation_and_attends_from_a_phone(
    site: Site, browser: Browser
) -> None:
    await browser.open(site.page("DB002"))
    text = await browser.text()
    assert "Thứ Ba, ngày 28/5/2024, từ 08:00 đến 11:30" in text
    assert "Nội dung đồng chí đã xác nhận: Chưa trả lời." in text
    assert "<" not in text  # the catalog's markup is rendered, never shown
    await browser.screenshot("1-trang-ca-nhan")
    await no_accessibility_problems(browser)
    await browser.press("Tôi tham dự")
    assert "Đã ghi nhận" in await browser.text()
    assert browser.url.endswith("#flash")  # the phone shows what was recorded, not the form
    assert "thay đổi nội dung xác nhận trên trang này trước 17:00" in await browser.text()
    assert "/trangthai" not in await browser.text()  # a chat command means nothing on a page
    await browser.screenshot("2-da-tham-du")
    await no_accessibility_problems(browser)
    assert (await rsvp_of(site.harness.services, "DB002")).status == RsvpStatus.ATTENDING


async def test_a_delegate_declines_with_a_reason_then_sends_a_substitute(
    site: Site, browser: Browser
) -> None:
    await browser.open(site.page("DB003"))
    await browser.fill("Lý do (không bắt buộc)", "Trùng lịch công tác")
    await browser.press("Tôi không tham dự")
    rsvp = await rsvp_of(site.harness.services, "DB003")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, "Trùng lịch công tác")
    await browser.screenshot("3-khong-tham-du")
    await browser.fill("Họ và tên người dự thay", "Trần Thị Bình")
    await browser.fill("Chức vụ", "Phó Chủ tịch")
    await browser.press("Cử người dự thay")
    rsvp = await rsvp_of(site.harness.services, "DB003")
    assert (rsvp.status, rsvp.substitute_name) == (RsvpStatus.SUBSTITUTE, "Trần Thị Bình")
    assert "Trần Thị Bình" in await browser.text()
    await browser.screenshot("4-cu-nguoi-du-thay")
    await no_accessibility_problems(browser)


async def test_on_a_phone_the_unit_typed_in_the_substitute_s_box_is_recorded_once(
    site: Site, browser: Browser
) -> None:
    """She tapped «Đơn vị» and typed «Sở Nội vụ»: the box held her own unit, so «Thành ủy Hà
    NộiSở Nội vụ» was recorded (s33 N10). The box shows her unit as its hint and types empty."""
    from selenium.webdriver.common.by import By

    await browser.open(site.page("DB003"))
    await browser.fill("Họ và tên người dự thay", "Trần Thị Bình")
    await browser.fill("Chức vụ", "Phó Giám đốc")

    def tap_and_type() -> tuple[str, str]:
        box = browser.driver.find_element(By.ID, "substitute-unit")
        box.click()
        box.send_keys("Sở Nội vụ")  # as a phone types: at the caret, nothing cleared first
        return str(box.get_attribute("placeholder")), str(box.get_attribute("value"))

    assert await asyncio.to_thread(tap_and_type) == ("Thành ủy Hà Nội", "Sở Nội vụ")
    await browser.screenshot("4b-don-vi-nguoi-du-thay")
    await no_accessibility_problems(browser)
    await browser.press("Cử người dự thay")
    rsvp = await rsvp_of(site.harness.services, "DB003")
    assert (rsvp.substitute_name, rsvp.substitute_unit) == ("Trần Thị Bình", "Sở Nội vụ")
    assert "Trần Thị Bình, Phó Giám đốc, Sở Nội vụ" in await browser.text()


async def test_a_speaker_uploads_a_draft_reads_the_office_comment_and_answers_it(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    draft = tmp_path / "tham-luan-1.1.docx"
    draft.write_bytes(docx("Tham luận chủ đề 1.1 của quận Hoàn Kiếm"))
    await browser.open(site.page(SPEAKER))
    await browser.screenshot("5-trang-bao-cao-vien")
    await no_accessibility_problems(browser)
    await browser.attach("Tệp tham luận (.docx, .doc, .pdf, .odt, .rtf, .txt; tối đa 20 MB)", draft)
    await browser.press("Gửi tệp")
    assert "Đã nhận bản 1" in await browser.text()
    await site.harness.tick()  # the outbox takes the draft to the office's group
    assert any(text.startswith("📝 Tham luận chủ đề 1.1 — bản 1") for text in site.office_texts())
    # The office comments by replying to the draft's post in its group, as in chat.
    [post] = [
        message
        for message in site.harness.fake.messages_to(OFFICE_CHAT)
        if (message.get("caption") or "").startswith("📝 Tham luận chủ đề 1.1 — bản 1")
    ]
    group = site.harness.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    await site.harness.send(
        group.reply(site.harness.admin(), post, "Đề nghị bổ sung số liệu năm 2024.")
    )
    await browser.open(site.page(SPEAKER))
    assert "Đề nghị bổ sung số liệu năm 2024." in await browser.text()
    await browser.fill("Ý kiến gửi Văn phòng", "Tôi sẽ bổ sung trong hôm nay.")
    await browser.press("Gửi ý kiến")
    await browser.screenshot("6-gop-y-va-tra-loi")
    await no_accessibility_problems(browser)
    await site.harness.tick()
    assert any("Tôi sẽ bổ sung trong hôm nay." in text for text in site.office_texts())
    async with site.harness.services.ctx.sessions() as session:
        versions = list(await session.scalars(select(DraftVersion)))
        comments = list(await session.scalars(select(DraftComment).order_by(DraftComment.id)))
    assert [v.number for v in versions] == [1]
    assert [(c.from_office, c.body) for c in comments] == [
        (True, "Đề nghị bổ sung số liệu năm 2024."),
        (False, "Tôi sẽ bổ sung trong hôm nay."),
    ]


async def test_the_printable_programme_and_an_unknown_link_are_readable_and_accessible(
    site: Site, browser: Browser
) -> None:
    await browser.open(site.page("DB002"))
    await browser.press("In chương trình")
    assert "Thứ Ba, ngày 28/5/2024" in await browser.text()
    await browser.screenshot("7-chuong-trinh-in")
    await no_accessibility_problems(browser)
    await browser.open(f"http://127.0.0.1:{site.port}/{'A' * 32}")
    assert "không đúng" in await browser.text()
    await browser.screenshot("8-duong-lien-ket-sai")
    await no_accessibility_problems(browser)


async def test_a_task_contact_uploads_a_deliverable_and_the_office_gets_the_file(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    report = tmp_path / "bao-cao-ket-qua.docx"
    content = docx("Báo cáo kết quả nhiệm vụ")
    report.write_bytes(content)
    await browser.open(site.page(SPEAKER))
    label = "Tệp sản phẩm (văn bản, bảng tính, trình chiếu, ảnh hoặc video; tối đa 20 MB)"
    await browser.attach(label, report)
    await browser.press("Gửi tệp sản phẩm")
    page = await browser.text()
    assert "Đã nhận sản phẩm của nhiệm vụ" in page
    assert "bao-cao-ket-qua.docx" in page  # listed under the task as sent
    await browser.screenshot("9-san-pham-nhiem-vu")
    await no_accessibility_problems(browser)
    await site.harness.tick()  # the outbox takes the note and the file to the office's group
    assert any(
        "gửi sản phẩm nhiệm vụ" in text and "bao-cao-ket-qua.docx" in text
        for text in site.office_texts()
    )
    [sent] = site.harness.fake.calls_to("sendDocument")
    assert sent.params["chat_id"] == OFFICE_CHAT
    assert sent.uploads["document"].content == content


def png_greyscale(png: bytes) -> memoryview:
    """A screenshot (8-bit RGB or RGBA PNG, any scanline filter) as one byte a pixel, the
    green channel, rows of the image's width: what a QR reader needs."""
    position, header, idat = 8, b"", b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind, body = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color_type in (2, 6)
    channels = 3 if color_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous, grey = bytearray(stride), bytearray()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) % 256
            elif kind == 2:
                line[i] = (line[i] + up) % 256
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) % 256
            elif kind == 4:
                corner = previous[i - channels] if i >= channels else 0
                guess = left + up - corner
                a, b, c = abs(guess - left), abs(guess - up), abs(guess - corner)
                nearest = left if a <= b and a <= c else up if b <= c else corner
                line[i] = (line[i] + nearest) % 256
        grey += line[1::channels]
        previous = line
    return memoryview(bytes(grey)).cast("B", (height, width))


async def test_on_the_meeting_day_the_page_opens_on_a_qr_the_desk_reads_as_the_invitee(
    site: Site, browser: Browser
) -> None:
    from selenium.webdriver.common.by import By

    site.harness.clock.set(local(2024, 5, 28, 7, 20))
    await browser.open(site.page("DB002"))
    text = await browser.text()
    assert "Xuất trình mã này tại bàn đón tiếp" in text
    await browser.screenshot("5-ma-don-tiep")
    await no_accessibility_problems(browser)
    assert await first_heading(browser) == "H1"  # the pass on top is a region, not a heading

    def the_qr() -> tuple[bool, dict[str, float], bytes]:
        figure = browser.driver.find_element(By.CSS_SELECTOR, "#desk-pass svg")
        return figure.is_displayed(), figure.rect, figure.screenshot_as_png

    shown, rect, picture = await asyncio.to_thread(the_qr)
    # In sight as the page opens, and large enough for a desk's phone held up to it.
    assert shown and rect["y"] + rect["height"] <= PHONE[1] and rect["width"] >= 200
    read = [barcode.text for barcode in zxingcpp.read_barcodes(png_greyscale(picture))]
    assert read == [site.page("DB002")]
    # What the desk's scanner reads from it is the invitee.
    access = site.harness.services.access
    desk = access.office_desk(access.local_operator(), "Bàn 1")
    arrival = await site.harness.services.checkin.lookup(desk, read[0])
    assert arrival.person is not None and arrival.person.code == "DB002"


async def test_a_delegate_on_no_chat_reads_the_office_notices_on_her_page(
    site: Site, browser: Browser
) -> None:
    harness = site.harness
    office = harness.services.access.local_operator()
    await harness.open_invitation("DB005")  # someone a chat reaches: the notice can go
    for body in ("Đổi phòng họp: Hội trường tầng 3.", "Đề nghị mang theo <giấy mời> & thẻ."):
        draft = await harness.services.broadcasts.start(office)
        assert draft.message_id is not None
        await harness.services.broadcasts.accept_text(office, body)
        await harness.services.broadcasts.choose_audience(office, draft.message_id, "everyone")
        await harness.services.broadcasts.send_now(office, draft.message_id)
        await harness.tick()
        harness.clock.advance(timedelta(minutes=30))
    await browser.open(site.page("DB006"))  # on no chat: her page is all she reads
    text = await browser.text()
    assert text.startswith("English\nVăn phòng có 2 thông báo mới gửi đồng chí: xem thông báo\n")
    assert "Thông báo của Văn phòng\nThông báo số 2 Mới\n" in text
    assert "Đề nghị mang theo <giấy mời> & thẻ." in text  # the office's words, as typed
    assert text.index("Thông báo số 2") < text.index("Thông báo số 1")
    await browser.screenshot("6-thong-bao-moi")
    await no_accessibility_problems(browser)
    await asyncio.to_thread(
        browser.driver.execute_script, "document.getElementById('notices').scrollIntoView()"
    )
    await browser.screenshot("7-thong-bao-cua-van-phong")
    await browser.open(site.page("DB006"))  # seen: no longer new in this browser
    assert "Thông báo số 2\n" in await browser.text()
    assert "Mới" not in await browser.text() and "thông báo mới" not in await browser.text()


async def test_the_meeting_documents_are_listed_on_her_page_to_download(
    site: Site, browser: Browser
) -> None:
    services = site.harness.services
    office = services.access.local_operator()
    for title, name, content in (
        ("Dự thảo báo cáo sơ kết giữa nhiệm kỳ", "Dự thảo báo cáo.docx", docx("báo cáo")),
        ("Chương trình hội nghị", "Chương trình.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"),
    ):
        published = await services.documents.publish(
            office, title=title, note="", name=name, content=content
        )
        assert published.document is not None
        site.harness.clock.advance(timedelta(minutes=5))
    await browser.open(site.page("DB006"))
    text = await browser.text()
    assert (
        "Tài liệu hội nghị\nVăn phòng gửi đồng chí các tài liệu dưới đây để nghiên cứu trước "
        "hội nghị. Bấm vào tên tài liệu để tải về.\nChương trình hội nghị\ntệp PDF, 35 byte · "
        "đăng lúc 09:05, 18/5\nDự thảo báo cáo sơ kết giữa nhiệm kỳ\nvăn bản Word, 2 KB · "
        "đăng lúc 09:00, 18/5\n"
    ) in text
    await asyncio.to_thread(
        browser.driver.execute_script, "document.getElementById('documents').scrollIntoView()"
    )
    await browser.screenshot("8-tai-lieu-hoi-nghi")
    await no_accessibility_problems(browser)


LONG_NAME = "Du_thao_bao_cao_so_ket_giua_nhiem_ky_Hoi_LHPN_Ha_Noi_lan_2_ban_chinh_thuc_final.pdf"


async def test_a_document_with_a_long_unbroken_title_wraps_on_her_phone(
    site: Site, browser: Browser
) -> None:
    services = site.harness.services
    published = await services.documents.publish(
        services.access.local_operator(), title=LONG_NAME, note=LONG_NAME, name=LONG_NAME,
        content=b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n",
    )  # fmt: skip
    assert published.document is not None
    await browser.open(site.page("DB006"))
    width = await asyncio.to_thread(
        browser.driver.execute_script, "return document.documentElement.scrollWidth"
    )
    assert width <= PHONE[0]  # the title wraps: nothing to scroll sideways
    right = await asyncio.to_thread(
        browser.driver.execute_script,
        f"return document.getElementById('document-{published.document.id}-link')"
        ".getBoundingClientRect().right",
    )
    assert right <= PHONE[0]


async def _current_answer_becomes(browser: Browser, wanted: str) -> str:
    """The page's «Nội dung đồng chí đã xác nhận» once it says ``wanted`` (a page restored and
    fetched again by its script takes a moment), or as it stays if it never does."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    def shown(driver: object) -> str:
        return str(browser.driver.find_element(By.ID, "current-answer").text)

    def says_it(driver: object) -> bool:
        try:
            return wanted in shown(driver)
        except WebDriverException:  # the page is being replaced: ask again
            return False

    with contextlib.suppress(TimeoutException):
        await asyncio.to_thread(WebDriverWait(browser.driver, 10).until, says_it)
    return await asyncio.to_thread(shown, browser.driver)


async def test_back_after_changing_the_answer_shows_the_answer_now_held_not_the_old_page(
    site: Site, browser: Browser
) -> None:
    # Chromium restores the previous page from its back/forward cache despite no-store: it
    # said «Tham dự» while the office held «Không tham dự (lý do: Ốm)».
    await browser.open(site.page("DB004"))
    await browser.press("Tôi tham dự")
    await browser.fill("Lý do (không bắt buộc)", "Ốm")
    await browser.press("Tôi không tham dự")
    assert (await rsvp_of(site.harness.services, "DB004")).status == RsvpStatus.DECLINED
    await asyncio.to_thread(browser.driver.back)
    said = await _current_answer_becomes(browser, "Không tham dự")
    assert said == "Nội dung đồng chí đã xác nhận: Không tham dự (lý do: Ốm)."
    await browser.screenshot("19-quay-lai-sau-khi-doi")


async def test_a_file_over_the_limit_is_refused_on_the_phone_before_it_is_sent(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    big = tmp_path / "qua-lon.docx"
    with big.open("wb") as out:  # 21 MB, as the re-test sent
        out.truncate(21 * 1024 * 1024)
    [line] = [line for line in await site.harness.services.drafts.board() if line.code == SPEAKER]
    await browser.open(site.page(SPEAKER))
    before = browser.url
    said = f"draft-{line.id}-too-large"
    assert not await asyncio.to_thread(
        lambda: browser.driver.find_element(By.ID, said).is_displayed()
    )
    await browser.attach("Tệp tham luận (.docx, .doc, .pdf, .odt, .rtf, .txt; tối đa 20 MB)", big)
    await asyncio.to_thread(
        lambda: browser.driver.find_element(By.ID, f"draft-{line.id}-upload-button").click()
    )
    shown = await asyncio.to_thread(lambda: browser.driver.find_element(By.ID, said))
    assert await asyncio.to_thread(shown.is_displayed)
    # The server's own words for the same refusal (draft.rejected_too_large).
    assert await asyncio.to_thread(lambda: shown.text) == (
        "Tệp lớn hơn 20 MB, vượt giới hạn nhận bài. Đề nghị đồng chí giảm dung lượng (ví dụ lưu "
        "sang PDF, bớt hình ảnh) rồi gửi lại."
    )
    assert browser.url == before  # nothing was posted: still the page, no flash
    assert await site.harness.services.drafts.versions(line.id) == []
    await browser.screenshot("20-tep-qua-lon")


async def test_a_file_just_under_the_limit_with_a_note_beside_it_is_sent_as_the_server_takes_it(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    # The page's check added a form's text to its file: a file a few hundred bytes under 20 MB
    # with a short note was stopped on the phone though the server takes it (the file within
    # its limit, the note within the body's room beside it). Each is measured apart, as the
    # server does; the note here is put in the upload's form as a form with a note has it.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from storage.files import MAX_BYTES

    near = tmp_path / "vua-du.pdf"
    with near.open("wb") as out:
        out.truncate(MAX_BYTES - 300)
    [line] = [line for line in await site.harness.services.drafts.board() if line.code == SPEAKER]
    await browser.open(site.page(SPEAKER))
    before = browser.url
    form = f"draft-{line.id}-upload"
    await asyncio.to_thread(
        browser.driver.execute_script,
        "var note = document.createElement('textarea'); note.name = 'note';"
        "note.value = 'Kính gửi Văn phòng bản sửa lần hai. '.repeat(30);"
        "document.getElementById(arguments[0]).prepend(note);",
        form,
    )
    await browser.attach("Tệp tham luận (.docx, .doc, .pdf, .odt, .rtf, .txt; tối đa 20 MB)", near)
    said = f"draft-{line.id}-too-large"
    assert not await asyncio.to_thread(
        lambda: browser.driver.find_element(By.ID, said).is_displayed()
    )
    await asyncio.to_thread(
        lambda: browser.driver.find_element(By.ID, f"draft-{line.id}-upload-button").click()
    )
    # The page posted: the server's answer replaced it (20 MB over the loopback).
    await asyncio.to_thread(
        WebDriverWait(browser.driver, 60).until, lambda driver: driver.current_url != before
    )
    assert "?f=" in browser.url  # the server's answer (taken or refused in its words), no 413


async def test_a_typed_speech_too_large_to_come_back_stays_in_its_box_unsent(
    site: Site, browser: Browser
) -> None:
    # Past what the server reads in one go (768 KB of text: a whole report pasted), the server
    # could refuse it but not give it back: the page came back with an empty box. The page's
    # script keeps it from leaving; a text the server can give back still goes to it.
    from selenium.webdriver.common.by import By

    [line] = [line for line in await site.harness.services.drafts.board() if line.code == SPEAKER]
    await browser.open(site.page(SPEAKER))
    before = browser.url
    box, said = f"draft-{line.id}-text", f"draft-{line.id}-text-too-large"
    pasted = "Phụ nữ Thủ đô đoàn kết, sáng tạo.\n" * 20_000  # 700,000 characters, 900 KB sent

    def paste(text: str) -> None:
        browser.driver.execute_script(
            "document.getElementById(arguments[0]).value = arguments[1];", box, text
        )

    await asyncio.to_thread(paste, pasted)
    button = await asyncio.to_thread(
        lambda: browser.driver.find_element(By.ID, f"draft-{line.id}-type-button")
    )
    await asyncio.to_thread(button.click)
    shown = await asyncio.to_thread(lambda: browser.driver.find_element(By.ID, said))
    assert await asyncio.to_thread(shown.is_displayed)
    assert await asyncio.to_thread(lambda: shown.text) == (
        "Bài gõ dài vượt xa giới hạn 60.000 ký tự, quá mức trang gửi được trong một lần, nên "
        "chưa được gửi; toàn bộ nội dung vẫn ở khung soạn bài. Đề nghị đồng chí gửi cả bài dưới "
        "dạng tệp ở mục «Gửi tệp» ngay phía trên."
    )
    assert browser.url == before  # nothing was posted: still the page, no flash
    kept = await asyncio.to_thread(
        browser.driver.execute_script, "return document.getElementById(arguments[0]).value", box
    )
    assert kept == pasted
    await browser.screenshot("21-bai-go-qua-lon")
    # Over the limit but within what the server reads: sent, refused, and back in its box.
    await asyncio.to_thread(paste, "Phụ nữ Thủ đô đoàn kết. " * 3_000)
    await browser.press_in(f"#draft-{line.id}-type-button")
    assert browser.url.endswith("#flash")
    back = await asyncio.to_thread(
        browser.driver.execute_script, "return document.getElementById(arguments[0]).value", box
    )
    assert back == "Phụ nữ Thủ đô đoàn kết. " * 3_000
    assert await site.harness.services.drafts.versions(line.id) == []


async def test_a_reason_pasted_past_what_the_page_sends_stays_in_its_box_unsent(
    site: Site, browser: Browser
) -> None:
    # A decline's reason (500 characters) with a whole report pasted in it: past what the
    # server reads in one go, it came back refused with the box empty. The page's script, one
    # check for every form that carries a limit, keeps it from leaving and says why.
    from selenium.webdriver.common.by import By

    await browser.open(site.page("DB004"))
    before = browser.url
    pasted = "Phụ nữ Thủ đô đoàn kết, sáng tạo.\n" * 20_000  # 700,000 characters, 900 KB sent
    await asyncio.to_thread(
        browser.driver.execute_script,
        "document.getElementById('decline-reason').value = arguments[0];",
        pasted,
    )
    await asyncio.to_thread(lambda: browser.driver.find_element(By.ID, "rsvp-decline").click())
    shown = await asyncio.to_thread(lambda: browser.driver.find_element(By.ID, "decline-too-large"))
    assert await asyncio.to_thread(shown.is_displayed)
    assert await asyncio.to_thread(lambda: shown.text) == (
        "Nội dung vừa nhập dài vượt xa giới hạn của khung, quá mức trang gửi được trong một lần, "
        "nên chưa được gửi; toàn bộ nội dung vẫn ở nguyên trong khung. Đề nghị đồng chí rút gọn "
        "rồi gửi lại."
    )
    assert browser.url == before  # nothing was posted: still the page, no flash
    kept = await asyncio.to_thread(
        browser.driver.execute_script, "return document.getElementById('decline-reason').value"
    )
    assert kept == pasted
    assert (await rsvp_of(site.harness.services, "DB004")).status == RsvpStatus.NO_ANSWER
    await browser.screenshot("22-ly-do-qua-lon")


async def test_the_first_screen_of_an_unanswered_invitation_asks_for_the_answer_and_leads_to_it(
    site: Site, browser: Browser
) -> None:
    from selenium.webdriver.common.by import By

    # At 390×844 the answer's buttons are two screens down, after the programme: a chair who
    # read the first screen was never asked to answer.
    await browser.open(site.page("DB005"))
    prompt = await asyncio.to_thread(browser.driver.find_element, By.ID, "answer-prompt")
    assert await asyncio.to_thread(lambda: prompt.text) == (
        "Kính đề nghị đồng chí xác nhận tham dự trước 17:00, Thứ Ba, ngày 21/5/2024. "
        "Xác nhận ngay ↓"
    )
    bottom, screen = await asyncio.to_thread(
        browser.driver.execute_script,
        "return [document.getElementById('answer-prompt').getBoundingClientRect().bottom,"
        " window.innerHeight]",
    )
    assert bottom <= screen  # the whole of it on the first screen
    await browser.screenshot("21-chua-tra-loi-man-hinh-dau")
    await no_accessibility_problems(browser)
    link = await asyncio.to_thread(browser.driver.find_element, By.ID, "answer-prompt-link")
    await asyncio.to_thread(link.click)
    top = await asyncio.to_thread(
        browser.driver.execute_script,
        "return document.getElementById('answer-title').getBoundingClientRect().top",
    )
    assert 0 <= top < 100  # the answer's heading at the top of the screen
    await browser.screenshot("22-den-muc-xac-nhan")
    await browser.press("Tôi tham dự")
    assert 'id="answer-prompt"' not in await asyncio.to_thread(
        lambda: browser.driver.page_source
    )  # answered: nothing more to ask
