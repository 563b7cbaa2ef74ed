"""The personal page: the invitation as the issue words it, and the answers through the chat's
own use cases."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config, ZaloSettings
from bot.documents.qr import qr_page_svg
from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.outbound import MessageKind
from bot.domain.tokens import format_link_code
from bot.services import Services, build_services
from bot.services.access import DeskActor, Role
from bot.services.invitation_files import slips_document
from bot.services.invitations import LinkOutcome
from bot.texts import load_catalog
from bot.texts.formatting import short_moment
from bot.texts.presenters import when_where
from storage.files import FileStore
from storage.models import AuditEntry, Delegate, OutboundMessage, Rsvp
from tests.conftest import local
from tests.harness import BotHarness
from tests.office_support import text_of
from tests.plan_support import import_example, rsvp_of
from tests.test_outbox import deliveries, linked_answers, message_status, texts
from tests.web_support import Web, flash, form_fields, web_for

Browsers = Callable[..., Awaitable[Web]]


@pytest.fixture
async def browsers() -> AsyncIterator[Browsers]:
    """Opens a browser on the pages of the services given (:func:`web_for`'s arguments) when
    the test asks; each is closed at the end of the test."""
    opened: list[Web] = []

    async def open_one(services: Services, **kwargs: Any) -> Web:
        opened.append(await web_for(services, **kwargs))
        return opened[-1]

    yield open_one
    for web in opened:
        await web.client.aclose()


@pytest.fixture
async def web(imported: Services, browsers: Browsers) -> Web:
    return await browsers(imported)


async def send_substitute(web: Web, code: str, **typed: str) -> httpx.Response:
    """``code`` sends the substitute form of her page with ``typed`` in its fields (name,
    position, unit, phone); the page it leads back to."""
    return await web.post(code, "rsvp", "form-substitute", {"choice": "substitute", **typed})


async def test_the_personal_page_shows_the_invitation_date_hall_programme_and_deadline(
    web: Web,
) -> None:
    page = await web.open("DB001")
    assert page.status_code == 200
    html = page.text
    assert "Thứ Ba, ngày 28/5/2024, từ 08:00 đến 11:30" in html
    assert "Hội trường Hội LHPN Hà Nội" in html
    assert 'id="map" href="https://maps.google.com/?q=21.029850,105.785230"' in html
    assert "đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678" in html
    assert "Đồng chí có thể xác nhận hoặc thay đổi trước 17:00, Thứ Ba, ngày 21/5/2024." in html
    assert len(page.content) < 60_000


async def test_a_meeting_ending_on_another_day_shows_both_dates_on_page_card_and_slip(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    files: FileStore,
    browsers: Browsers,
) -> None:
    from docx import Document

    meeting = config.meeting.model_copy(update={"ends_at": local(2024, 5, 29, 11, 30)})
    services = await build_services(
        config.model_copy(update={"meeting": meeting}), sessions, clock, files=files
    )
    await import_example(services)
    page = await (await browsers(services)).open("DB001")
    both = "Từ 08:00, Thứ Ba, ngày 28/5/2024 đến 11:30, Thứ Tư, ngày 29/5/2024"
    assert f'<dd id="when">{both}</dd>' in page.text

    catalog = load_catalog("vi")
    card = when_where(catalog, services.config)
    assert card.startswith(
        "🗓 Từ 08:00, <b>Thứ Ba, ngày 28/5/2024</b> đến 11:30, <b>Thứ Tư, ngày 29/5/2024</b>\n"
    )
    links = await services.invitations.links()
    docx, _ = slips_document(catalog, services.config, links, lambda token: f"https://x/{token}")
    left = Document(io.BytesIO(docx)).tables[0].cell(0, 0).text
    assert f"{both} — Hội trường Hội LHPN Hà Nội" in left


@pytest.mark.parametrize(
    ("method", "agent"),
    [
        ("HEAD", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Zalo iOS/23.09"),
        ("GET", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
        ("GET", "TelegramBot (like TwitterBot)"),
        ("GET", "WhatsApp/2.23.20.0"),
    ],
    ids=["head", "facebook", "telegram", "whatsapp"],
)
async def test_a_link_preview_is_not_the_person_opening_their_invitation(
    web: Web, imported: Services, method: str, agent: str
) -> None:
    # Links sent one by one in a chat are fetched for their card: that must not erase the
    # office's «never opened their link», nor show the person's name in the card.
    response = await web.client.request(
        method, f"/{web.tokens['DB036']}", headers={"user-agent": agent}
    )
    assert response.status_code == 200
    assert "Vũ Thị Mỹ Hạnh" not in response.text
    async with imported.ctx.sessions() as session:
        linked = await session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action.in_(("identity.linked", "identity.page_opened"))
            )
        )
    assert linked is None
    # A phone's browser, even one whose model name ends in "bot", opens it.
    phone = "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 Chrome/120 Mobile"
    opened = await web.client.get(f"/{web.tokens['DB036']}", headers={"user-agent": phone})
    assert "Vũ Thị Mỹ Hạnh" in opened.text


async def test_a_page_opened_on_a_clock_behind_the_one_that_made_its_link_still_opens(
    web: Web, imported: Services
) -> None:
    # Another process's clock a moment behind the one that made the link: "opened with this
    # link" must still hold after the first view, or her page answers that the link is wrong.
    clock = imported.ctx.clock
    assert isinstance(clock, ManualClock)
    clock.set(clock.now() - timedelta(minutes=5))
    for _ in range(2):
        page = await web.open("DB036")
        assert page.status_code == 200 and "Vũ Thị Mỹ Hạnh" in page.text


async def test_attending_on_the_page_is_recorded_and_audited_as_the_chat_records_it(
    web: Web, imported: Services
) -> None:
    page = await web.post("DB001", "rsvp", "form-attend", {"choice": "attend"})
    assert flash(page.text).startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")
    async with imported.ctx.sessions() as session:
        rows = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "rsvp.changed"))
        )
    assert [(r.before["status"], r.after["status"]) for r in rows] == [("no_answer", "attending")]
    assert rows[0].actor.startswith("web:")


async def test_declining_with_a_reason_on_the_page_writes_one_entry_status_and_reason_together(
    web: Web, imported: Services
) -> None:
    page = await web.post(
        "DB002", "rsvp", "form-decline", {"choice": "decline", "reason": "Đi công tác"}
    )
    assert flash(page.text).startswith(
        "Đã ghi nhận: đồng chí không tham dự hội nghị (lý do: Đi công tác)."
    )
    async with imported.ctx.sessions() as session:
        rows = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "rsvp.changed"))
        )
    # One form, one answer: one entry in the office's log, from no answer to the decline
    # with its reason (the chat's two steps, a tap then the reason typed, write two).
    assert [(r.before["status"], r.after["status"], r.after["reason"]) for r in rows] == [
        ("no_answer", "declined", "Đi công tác")
    ]


async def test_declining_with_a_reason_says_the_answer_it_replaces_not_the_decline_itself(
    web: Web,
) -> None:
    first = await web.post(
        "DB002", "rsvp", "form-decline", {"choice": "decline", "reason": "Đi công tác"}
    )
    assert "Trước đó" not in flash(first.text)  # no answer before: nothing replaced
    await web.post("DB002", "rsvp", "form-attend", {"choice": "attend"})
    again = await web.post("DB002", "rsvp", "form-decline", {"choice": "decline", "reason": "Ốm"})
    assert flash(again.text).splitlines()[:2] == [
        "Đã ghi nhận: đồng chí không tham dự hội nghị (lý do: Ốm). Trân trọng cảm ơn đồng chí "
        "đã thông tin.",
        "(Trước đó đồng chí đã xác nhận: Tham dự.)",
    ]


async def test_an_answer_form_sent_again_changes_nothing_and_says_so(web: Web) -> None:
    # Decline with a reason, then attend; then the old decline form again (the back button):
    # it used to decline again, with no reason, while saying nothing had changed.
    page = await web.open("DB002")
    old_form = form_fields(page.text, "form-decline")
    token = web.tokens["DB002"]
    sent = {**old_form, "choice": "decline", "reason": "Đi công tác"}
    assert (await web.client.post(f"/{token}/rsvp", data=sent)).status_code == 303
    await web.post("DB002", "rsvp", "form-attend", {"choice": "attend"})
    again = await web.client.post(f"/{token}/rsvp", data=sent)
    shown = await web.client.get(again.headers["location"])
    assert flash(shown.text).startswith("Biểu mẫu này đã được gửi trước đó")
    async with web.services.ctx.sessions() as session:
        status = await session.scalar(
            select(Rsvp.status)
            .join(Delegate, Delegate.id == Rsvp.delegate_id)
            .where(Delegate.code == "DB002")
        )
    assert status == "attending"


async def _substitute_row(services: Services, code: str) -> tuple[object, ...]:
    rsvp = await rsvp_of(services, code)
    return (
        rsvp.status, rsvp.substitute_name, rsvp.substitute_position, rsvp.substitute_unit,
        rsvp.substitute_phone,
    )  # fmt: skip


async def test_a_substitute_from_the_page_keeps_position_unit_and_phone_apart(
    web: Web, imported: Services
) -> None:
    page = await send_substitute(
        web, "DB003", name="Lê Thị Hoa", position="Phó Chủ tịch", unit="Hội LHPN quận Ba Đình",
        phone="0912 345 678",
    )  # fmt: skip
    # Another unit than her own (Thành ủy Hà Nội), and the phone: the confirmation says both.
    assert flash(page.text).startswith(
        "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Lê Thị Hoa, "
        "Phó Chủ tịch, Hội LHPN quận Ba Đình, điện thoại 0912 345 678."
    )
    assert await _substitute_row(imported, "DB003") == (
        "substitute", "Lê Thị Hoa", "Phó Chủ tịch", "Hội LHPN quận Ba Đình", "+84912345678"
    )  # fmt: skip


async def test_a_delegate_naming_herself_as_her_substitute_on_her_page_is_refused(
    web: Web, imported: Services
) -> None:
    page = await web.post(
        "DB003", "rsvp", "form-substitute",
        {"choice": "substitute", "name": "vu thi HONG NHUNG", "position": "Phó Bí thư",
         "unit": "Thành ủy Hà Nội", "phone": ""},
    )  # fmt: skip
    assert flash(page.text) == (
        "Người dự thay trùng họ tên với đồng chí nên chưa được ghi nhận; nếu đồng chí tự đến "
        "dự, xin chọn «Tôi tham dự»."
    )
    assert 'class="text flash error"' in page.text
    assert await _substitute_row(imported, "DB003") == ("no_answer", None, None, None, None)


async def test_naming_herself_as_her_substitute_refused_fills_the_form_again_as_typed(
    web: Web, imported: Services
) -> None:
    # Every other refused substitute form came back as typed; this one came back with her own
    # unit and nothing else: the position, another unit and the phone were to be typed again.
    typed = {"name": "vu thi HONG NHUNG", "position": "Phó Chánh Văn phòng",
             "unit": "Văn phòng Thành ủy", "phone": "0912 345 678"}  # fmt: skip
    page = await web.post("DB003", "rsvp", "form-substitute", {"choice": "substitute", **typed})
    assert flash(page.text).startswith("Người dự thay trùng họ tên với đồng chí")
    for field, value in typed.items():
        shown = re.search(rf'<input id="substitute-{field}" [^>]*value="([^"]*)"', page.text)
        assert shown is not None and shown.group(1) == value, field
    # Corrected, the same form is taken (the refused one spent its code; the page gave a new one).
    page = await web.post(
        "DB003", "rsvp", "form-substitute",
        {"choice": "substitute", **typed, "name": "Lê Thị Hoa"},
    )  # fmt: skip
    assert flash(page.text).startswith("Đã ghi nhận: đồng chí cử người dự thay")
    assert await _substitute_row(imported, "DB003") == (
        "substitute", "Lê Thị Hoa", "Phó Chánh Văn phòng", "Văn phòng Thành ủy", "+84912345678"
    )  # fmt: skip


async def test_a_substitute_who_has_her_own_invitation_is_refused_on_the_page_and_kept_as_typed(
    web: Web, imported: Services
) -> None:
    """DB022 names DB023 (her deputy, invited herself) without a phone (s36 F3): nothing
    recorded, the page says she comes on her own invitation, the form as typed."""
    typed = {"name": "truong thi bich ngoc", "position": "Phó Chủ tịch Hội LHPN thành phố",
             "unit": "", "phone": ""}  # fmt: skip
    page = await send_substitute(web, "DB022", **typed)
    assert flash(page.text) == (
        "Đồng chí Trương Thị Bích Ngọc đã có giấy mời riêng (mã DB023) và dự hội nghị theo giấy "
        "mời đó, nên không cần cử làm người dự thay; chưa ghi nhận gì. Nếu đồng chí không thể "
        "đến dự, xin chọn «Tôi không tham dự» (có thể ghi lý do), hoặc ghi tên người khác dự "
        "thay."
    )
    assert 'class="text flash error"' in page.text
    for field in ("name", "position"):
        shown = re.search(rf'<input id="substitute-{field}" [^>]*value="([^"]*)"', page.text)
        assert shown is not None and shown.group(1) == typed[field], field
    assert await _substitute_row(imported, "DB022") == ("no_answer", None, None, None, None)


async def test_a_substitute_s_name_box_holding_her_phone_too_is_refused_and_kept_as_typed(
    web: Web, imported: Services
) -> None:
    """The name box with her phone in it (s36 F2): the name card would print it. Refused,
    the boxes kept as typed, nothing recorded."""
    page = await send_substitute(
        web, "DB003", name="Lê Thị Hoa 0912345678", position="Phó Trưởng ban", unit="", phone=""
    )
    assert flash(page.text) == (
        "Ô «Họ và tên người dự thay» chỉ ghi họ và tên (ví dụ: Nguyễn Thị Lan); chức vụ, đơn vị "
        "và số điện thoại xin ghi vào các ô riêng bên dưới."
    )
    assert form_fields_typed(page.text)["name"] == "Lê Thị Hoa 0912345678"
    assert (await rsvp_of(imported, "DB003")).status == "no_answer"


def form_fields_typed(html: str) -> dict[str, str]:
    """The substitute form's boxes as the page fills them."""
    boxes = re.findall(r'<input id="substitute-(\w+)" name="\w+"[^>]*value="([^"]*)"', html)
    return dict(boxes)


async def test_the_page_of_one_who_sent_a_substitute_tells_the_substitute_she_need_not_answer(
    web: Web, imported: Services
) -> None:
    """The chair passes her invitation on, as the bot asks: its QR opens her page, where the
    substitute read «Tôi tham dự» as hers, and pressing it put the chair in her place (s36 F8).
    The page says to the substitute, by name, that she is recorded and what to show."""
    await send_substitute(web, "DB003", name="Lê Thị <Hoa>", position="Phó Trưởng ban")
    page = (await web.open("DB003")).text
    assert text_of(page, "for-the-substitute") == (
        "Nếu đồng chí là đồng chí Lê Thị <Hoa>, người dự thay: Văn phòng đã ghi nhận đồng chí "
        "dự thay, đồng chí không cần xác nhận trên trang này; khi đến, xin xuất trình mã ở cuối "
        "trang (hoặc phiếu kèm giấy mời) tại bàn đón tiếp. Các lựa chọn dưới đây dành cho đồng "
        "chí Vũ Thị Hồng Nhung."
    ).replace("<Hoa>", "&lt;Hoa&gt;")
    assert page.index('id="for-the-substitute"') < page.index('id="form-attend"')
    await web.post("DB003", "rsvp", "form-attend", {"choice": "attend"})
    page = (await web.open("DB003")).text
    assert 'id="for-the-substitute"' not in page  # she comes herself: nothing to tell anyone


async def test_a_substitute_box_too_long_names_the_box_its_length_and_the_limit(
    web: Web, imported: Services
) -> None:
    # «tối đa 200 ký tự» alone left her to count a pasted position; the desk says both.
    position = "Phó Chủ tịch " * 24  # 312 characters, 311 once its spaces are tidied
    typed = {"name": "Lê Thị Hoa", "position": position, "unit": "Hội LHPN quận Ba Đình"}
    page = await send_substitute(web, "DB003", **typed)
    assert flash(page.text) == (
        "Ô «Chức vụ» dài 311 ký tự, quá giới hạn 200 ký tự nên chưa được gửi. Toàn bộ nội "
        "dung vẫn ở khung; đề nghị đồng chí rút gọn rồi gửi lại."
    )
    assert await _substitute_row(imported, "DB003") == ("no_answer", None, None, None, None)


async def test_after_sending_a_substitute_her_page_says_unit_and_phone_and_fills_the_form_with_them(
    web: Web, imported: Services
) -> None:
    sent = {"choice": "substitute", "name": "Nguyễn Thị Hà", "position": "Phó Chủ tịch",
            "unit": "Hội LHPN quận Ba Đình", "phone": "0912 777 888"}  # fmt: skip
    page = await web.post("DB003", "rsvp", "form-substitute", sent)
    said = "đồng chí Nguyễn Thị Hà, Phó Chủ tịch, Hội LHPN quận Ba Đình, điện thoại 0912 777 888."
    assert said in flash(page.text)
    status = re.search(r'<p class="text" id="current-answer">(.*?)</p>', page.text, re.S)
    assert status is not None and status.group(1) == (
        f"Nội dung đồng chí đã xác nhận: <b>Cử người dự thay</b> — {said}"
    )
    # The form holds the substitute she sent: a mistyped phone is corrected alone.
    for field, value in (("name", "Nguyễn Thị Hà"), ("position", "Phó Chủ tịch"),
                         ("unit", "Hội LHPN quận Ba Đình"), ("phone", "0912 777 888")):  # fmt: skip
        shown = re.search(rf'<input id="substitute-{field}" [^>]*value="([^"]*)"', page.text)
        assert shown is not None and shown.group(1) == value, field
    page = await web.post("DB003", "rsvp", "form-substitute", {**sent, "phone": "0912 777 889"})
    assert await _substitute_row(imported, "DB003") == (
        "substitute", "Nguyễn Thị Hà", "Phó Chủ tịch", "Hội LHPN quận Ba Đình", "+84912777889"
    )  # fmt: skip
    # Her own unit is not said again (as before); the phone is.
    page = await web.post("DB003", "rsvp", "form-substitute", {**sent, "unit": "Thành ủy Hà Nội"})
    assert "Nguyễn Thị Hà, Phó Chủ tịch, điện thoại 0912 777 888." in flash(page.text)


async def test_the_substitute_form_offers_her_own_unit_as_the_box_hint_not_its_content(
    web: Web, imported: Services
) -> None:
    # A box filled with her unit was typed after on a phone: «Sở Nội vụSở Nội vụ» (s33 N10).
    page = await web.open("DB003")
    assert '<input id="substitute-unit" name="unit" autocomplete="off" value="" ' \
        'placeholder="Thành ủy Hà Nội" aria-describedby="substitute-unit-same">' in page.text  # fmt: skip
    assert '<p class="muted" id="substitute-unit-same">Để trống nếu người dự thay cùng đơn vị ' \
        "với đồng chí (Thành ủy Hà Nội).</p>" in page.text  # fmt: skip
    # Left empty, the unit is hers; the page after it keeps the box empty (her unit, the hint).
    page = await send_substitute(
        web, "DB003", name="Lê Thị Hoa", position="Phó Bí thư", unit="", phone=""
    )
    assert await _substitute_row(imported, "DB003") == (
        "substitute", "Lê Thị Hoa", "Phó Bí thư", "Thành ủy Hà Nội", None
    )  # fmt: skip
    shown = re.search(r'<input id="substitute-unit" [^>]*value="([^"]*)"', page.text)
    assert shown is not None and shown.group(1) == ""


async def test_a_unit_typed_after_a_unit_already_in_the_box_is_stored_once(
    web: Web, imported: Services
) -> None:
    # An older page (or her substitute's unit, kept to be corrected) held a unit and she typed
    # after it: the same unit twice is stored once, her own with another glued on is the other.
    for typed, stored in (
        ("Sở Nội vụSở Nội vụ", "Sở Nội vụ"),
        ("Sở Nội vụ Sở Nội vụ", "Sở Nội vụ"),
        ("Thành ủy Hà NộiSở Nội vụ", "Sở Nội vụ"),
        ("Sở Nội vụ Hà Nội", "Sở Nội vụ Hà Nội"),
    ):
        page = await send_substitute(
            web, "DB003", name="Lê Thị Hoa", position="Phó Bí thư", unit=typed, phone=""
        )
        assert "Sở Nội vụSở" not in flash(page.text)
        assert (await _substitute_row(imported, "DB003"))[3] == stored, typed


async def test_the_substitute_form_with_her_own_unit_typed_and_the_phone_left_empty(
    web: Web, imported: Services
) -> None:
    page = await send_substitute(
        web, "DB003", name="Lê Thị Hoa", position="Phó Bí thư", unit="Thành ủy Hà Nội", phone=""
    )
    # Her own unit: not said again in the confirmation, one sentence as before.
    assert flash(page.text).startswith(
        "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Lê Thị Hoa, Phó Bí thư. Kính đề nghị"
    )
    assert await _substitute_row(imported, "DB003") == (
        "substitute", "Lê Thị Hoa", "Phó Bí thư", "Thành ủy Hà Nội", None
    )  # fmt: skip


async def test_the_words_of_the_same_unit_choice_typed_in_the_unit_field_mean_her_own_unit(
    web: Web, imported: Services
) -> None:
    # The chat reads typed «Cùng đơn vị» as the delegate's unit; so does the page's field.
    await send_substitute(
        web, "DB003", name="Lê Thị Hoa", position="Phó Bí thư", unit="cung don vi", phone=""
    )
    assert await _substitute_row(imported, "DB003") == (
        "substitute", "Lê Thị Hoa", "Phó Bí thư", "Thành ủy Hà Nội", None
    )  # fmt: skip


async def test_a_phone_that_is_not_one_is_refused_with_the_form_filled_again(
    web: Web, imported: Services
) -> None:
    typed = {"name": "Lê Thị Hoa", "position": "Phó Chủ tịch", "unit": "Hội LHPN quận Ba Đình"}
    page = await send_substitute(web, "DB003", **typed, phone="0912 34")
    assert flash(page.text) == (
        "«0912 34» không phải là số điện thoại. Đề nghị đồng chí nhập số điện thoại dạng "
        "0912 345 678 (hoặc +84 912 345 678), hoặc để trống ô này."
    )
    assert 'id="substitute-name" name="name" required autocomplete="off" ' \
        'value="Lê Thị Hoa">' in page.text  # fmt: skip
    assert 'value="Hội LHPN quận Ba Đình" placeholder="Thành ủy Hà Nội"' in page.text
    assert 'name="phone" type="tel" maxlength="40" autocomplete="off" value="0912 34">' in page.text
    assert (await _substitute_row(imported, "DB003"))[0] == "no_answer"


async def test_a_long_paste_for_the_phone_is_said_back_cut_to_40_characters(
    web: Web, imported: Services
) -> None:
    typed = {"name": "Lê Thị Hoa", "position": "Phó Chủ tịch", "unit": "Hội LHPN quận Ba Đình"}
    page = await send_substitute(web, "DB003", **typed, phone="x" * 3000)
    assert flash(page.text) == (
        f"«{'x' * 40}» không phải là số điện thoại. Đề nghị đồng chí nhập số điện thoại dạng "
        "0912 345 678 (hoặc +84 912 345 678), hoặc để trống ô này."
    )
    assert f'maxlength="40" autocomplete="off" value="{"x" * 40}">' in page.text


async def test_a_form_refused_for_what_it_says_may_be_corrected_and_sent_again(web: Web) -> None:
    # The form's one-time code is spent when the form is taken, not when it is refused.
    token = web.tokens["DB003"]
    form = form_fields((await web.open("DB003")).text, "form-substitute")
    missing = {**form, "choice": "substitute", "name": "", "position": "Phó Chủ tịch"}
    refused = await web.client.get(
        (await web.client.post(f"/{token}/rsvp", data=missing)).headers["location"]
    )
    assert not flash(refused.text).startswith("Biểu mẫu này đã được gửi")
    corrected = {**missing, "name": "Lê Thị Hoa"}
    taken = await web.client.get(
        (await web.client.post(f"/{token}/rsvp", data=corrected)).headers["location"]
    )
    assert flash(taken.text).startswith("Đã ghi nhận: đồng chí cử người dự thay")


async def test_after_the_deadline_the_page_says_the_answer_is_final_and_whom_to_call(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    await web.post("DB004", "rsvp", "form-attend", {"choice": "attend"})
    clock.set(local(2024, 5, 21, 17, 1))
    page = await web.open("DB004")
    assert 'id="form-attend"' not in page.text
    assert "nội dung trên là chính thức" in page.text
    assert "đồng chí Trần Thu Hà" in page.text


async def test_after_the_deadline_one_who_never_answered_is_told_on_her_page_she_may_still_come(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    # Her page said only «nội dung trên là chính thức…» while the chat (the same hour) tells
    # her she may still come, what to show at the desk and whom to tell: the same words here.
    links = {link.code: link for link in await imported.invitations.links()}
    code = format_link_code(links["DB002"].link_code)
    contact = imported.config.office.contact
    clock.set(local(2024, 5, 28, 7, 0))
    page = await web.open("DB002")
    assert text_of(page.text, "answer-final") == (
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; đồng chí chưa trả lời "
        "giấy mời. Đồng chí vẫn có thể đến dự hội nghị: khi đến, kính đề nghị đồng chí xuất "
        f"trình mã đón tiếp đại biểu {code} (hoặc giấy mời) tại bàn đón tiếp. "
        f"Để báo việc tham dự hoặc cần trao đổi, xin liên hệ {contact}."
    )
    # Once the meeting is over nobody is asked to come: the plain closing again.
    clock.set(imported.config.meeting.ends_at)
    over = text_of((await web.open("DB002")).text, "answer-final")
    assert "nội dung trên là chính thức" in over and "vẫn có thể đến dự" not in over


async def test_a_person_linked_on_telegram_who_answers_on_the_page_gets_the_chat_confirmation(
    harness: BotHarness, browsers: Browsers
) -> None:
    user = await harness.open_invitation("DB005")
    web = await browsers(harness.services)
    await web.post("DB005", "rsvp", "form-attend", {"choice": "attend"})
    await harness.tick()
    assert user.last_text().startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")


async def test_a_page_answer_is_echoed_only_to_a_chat_that_runs_here(
    harness: BotHarness,
) -> None:
    """Linked on Telegram, then Zalo alone runs: the page's confirmation was queued to her
    chat («đã tới») though nothing here can write to it. Only a chat that runs and has not
    blocked the bot counts (as the overview and the outbox judge her)."""
    services = harness.services
    await harness.open_invitation("DB005")
    card = await services.dashboard.card("DB005")
    assert card is not None

    async def echoes() -> int:
        async with services.ctx.sessions() as session:
            found = await session.scalars(
                select(OutboundMessage.id).where(OutboundMessage.kind == MessageKind.ECHO)
            )
            return len(list(found))

    services.ctx.chats.run(("zalo",))
    assert await services.echo.to_chat(card.person.id, "✅ Đã ghi nhận.") is False
    assert await echoes() == 0
    services.ctx.chats.run(("telegram", "zalo"))
    assert await services.echo.to_chat(card.person.id, "✅ Đã ghi nhận.") is True
    assert await echoes() == 1


async def test_a_person_only_on_the_page_is_not_counted_as_linked_to_a_chat(
    web: Web, imported: Services
) -> None:
    await web.open("DB006")
    counts = await imported.reports.counts()
    assert counts.overall.linked == 0


async def test_the_page_speaks_english_as_its_second_locale(web: Web) -> None:
    page = await web.open("DB001", lang="en")
    assert '<html lang="en">' in page.text
    assert "Tuesday" in page.text or "Thứ Ba" not in page.text
    assert 'id="rsvp-attend">I will attend<' in page.text
    form = page.text.split('id="form-attend"', 1)[1]
    assert '<input type="hidden" name="lang" value="en">' in form.split("</form>", 1)[0]


async def test_every_field_of_a_speakers_page_has_its_label_and_the_page_stays_small(
    imported: Services, browsers: Browsers
) -> None:
    web = await browsers(imported)
    page = await web.open("DB031")  # a speaker and a district chair: every section
    html = page.text
    assert all(f'id="{s}"' in html for s in ("invitation", "answer", "tasks", "drafts"))
    fields = re.findall(r'<(?:input|textarea|select) (?![^>]*type="hidden")[^>]*id="([^"]+)"', html)
    assert fields and all(f'<label for="{field}">' in html for field in fields)
    assert "<script>" not in html  # nothing inline: the one static script (page.js)
    assert len(page.content) < 60_000


async def test_the_page_offers_the_telegram_bot_with_the_persons_own_deep_link(
    imported: Services, browsers: Browsers
) -> None:
    web = await browsers(
        imported, chat_links={"telegram": "https://t.me/hoinghi_bot?start={}".format}
    )
    page = await web.open("DB001")
    token = web.tokens["DB001"]
    assert f'id="chat-telegram" href="https://t.me/hoinghi_bot?start={token}"' in page.text
    assert "Nhận tin nhắc qua Telegram" in page.text


def dark_modules(page: str) -> set[tuple[int, int]]:
    """The dark modules (column, row) of the QR code the page's Zalo figure draws."""
    figure = re.search(r'<figure class="bot-qr" id="zalo-qr">(.*?)</figure>', page, re.S)
    assert figure is not None and "Quét mã QR bằng Zalo" in figure.group(1)
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', figure.group(1))
    assert path is not None
    return path_modules(path.group(1))


def path_modules(path: str) -> set[tuple[int, int]]:
    """The dark modules (column, row) an SVG path of a QR code draws, read from its runs
    ("M x y.5" then "h n" to draw, "m dx dy" to move), the four modules of quiet zone removed."""
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, numbers in re.findall(r"([Mmh])([-\d. ]+)", path):
        values = [float(n) for n in numbers.split()]
        if op == "M":
            x, y = values
        elif op == "m":
            x, y = x + values[0], y + values[1]
        else:
            dark.update((int(x) + i - 4, int(y) - 4) for i in range(int(values[0])))
            x += values[0]
    return dark


def symbol_of(link: str) -> set[tuple[int, int]]:
    """The dark modules (column, row) of the QR code segno itself makes for ``link``."""
    matrix = segno.make_qr(link, error="m").matrix
    return {(x, y) for y, row in enumerate(matrix) for x, bit in enumerate(row) if bit}


async def test_the_page_says_how_to_link_on_zalo_with_the_persons_own_code_when_the_bot_has_a_link(
    web: Web, imported: Services
) -> None:
    assert 'id="zalo-how"' not in (await web.open("DB001")).text  # the example has no [zalo]
    zalo = ZaloSettings(bot_name="Bot Hội nghị LHPN", bot_link="https://zalo.me/2740000000")
    web.site.config = imported.config.model_copy(update={"zalo": zalo})
    page = await web.open("DB001")
    code = {link.code: link.link_code for link in await imported.invitations.links()}["DB001"]
    assert (
        f'<p class="text" id="zalo-how">Mở Zalo, tìm «Bot Hội nghị LHPN», gửi mã '
        f"<b>{format_link_code(code)}</b>: đồng chí sẽ nhận tin nhắc"
    ) in page.text
    assert 'id="chat-zalo" href="https://zalo.me/2740000000"' in page.text
    assert dark_modules(page.text) == symbol_of("https://zalo.me/2740000000")
    web.site.config = imported.config.model_copy(
        update={"zalo": ZaloSettings(bot_name="Bot Hội nghị LHPN")}  # no link: no line
    )
    assert 'id="zalo-how"' not in (await web.open("DB001")).text


async def test_the_page_names_the_zalo_bot_only_when_zalo_runs_here(
    web: Web, imported: Services
) -> None:
    """The plan names its Zalo bot and its link, but the process runs Telegram alone (no Zalo
    token): the page told her to open Zalo and send her code to a bot that does not run."""
    zalo = ZaloSettings(bot_name="Bot Hội nghị LHPN", bot_link="https://zalo.me/2740000000")
    web.site.config = imported.config.model_copy(update={"zalo": zalo})
    imported.ctx.chats.run(("telegram",))
    page = (await web.open("DB001")).text
    assert 'id="zalo-how"' not in page and "zalo.me" not in page
    imported.ctx.chats.run(("telegram", "zalo"))
    assert 'id="zalo-how"' in (await web.open("DB001")).text


# --- the pass for the reception desk ------------------------------------------------------------

DESK_LINE = "Xuất trình mã này tại bàn đón tiếp"


def desk_modules(html: str) -> set[tuple[int, int]]:
    """The dark modules (column, row) of the QR code the page's desk pass draws."""
    figure = html.split('id="desk-pass"', 1)[1].split('<figure class="desk-qr">', 1)[1]
    path = re.search(r'<path stroke="#000" d="([^"]+)"', figure.split("</figure>", 1)[0])
    assert path is not None
    return path_modules(path.group(1))


async def test_on_the_meeting_day_the_page_opens_on_the_slips_qr_and_code_for_the_desk(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    clock.set(local(2024, 5, 28, 7, 15))
    page = await web.open("DB001")
    html = page.text
    # At the top, before the invitation: what the person shows the desk's phone.
    assert html.index('<section id="desk-pass"') < html.index('<section id="invitation"')
    assert '<p class="desk-pass-title" id="desk-pass-title">Mã đón tiếp đại biểu</p>' in html
    assert f'<span class="desk-show">{DESK_LINE}</span>' in html
    links = {link.code: link for link in await imported.invitations.links()}
    code = format_link_code(links["DB001"].link_code)
    assert f'Mã cá nhân: <strong class="desk-code" id="desk-code">{code}</strong>' in html
    # The slip's QR holds the personal link that goes on paper: the very same symbol here.
    slip_link = f"http://testserver/{links['DB001'].token}"
    assert desk_modules(html) == symbol_of(slip_link)
    assert "<script>" not in html  # nothing inline: the one static script (page.js)
    assert len(page.content) < 60_000


async def test_the_day_before_the_meeting_the_desk_pass_is_at_the_top_too(
    web: Web, clock: ManualClock
) -> None:
    clock.set(local(2024, 5, 27, 0, 5))
    assert '<section id="desk-pass"' in (await web.open("DB001")).text


def headings(html: str) -> list[tuple[int, str]]:
    """The page's headings in document order: level and text."""
    found = re.findall(r"<h([1-6])\b[^>]*>(.*?)</h\1>", html, re.S)
    return [(int(level), re.sub(r"<[^>]+>", "", text).strip()) for level, text in found]


@pytest.mark.parametrize(
    "now",
    [local(2024, 5, 18, 9, 0), local(2024, 5, 27, 0, 5), local(2024, 5, 28, 7, 15)],
    ids=["ten-days-before", "the-day-before", "the-meeting-day"],
)
async def test_the_pages_first_heading_is_its_h1_even_with_the_desk_pass_at_the_top(
    web: Web, clock: ManualClock, now: datetime
) -> None:
    # Screen-reader users move by headings: the meeting's h1 opens the page. The pass stays at
    # the top on the days around the meeting, a region named by its title, read first.
    clock.set(now)
    html = (await web.open("DB001")).text
    title = "Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ thành phố"
    assert headings(html)[0] == (1, f"{title} Hà Nội lần thứ XVII, nhiệm kỳ 2021 – 2026")
    assert [level for level, _ in headings(html)].count(1) == 1
    if now >= local(2024, 5, 27, 0, 0):
        top = html.index('<section id="desk-pass" class="desk-pass"')
        assert top < html.index("<h1") and 'aria-labelledby="desk-pass-title"' in html[top:]


async def test_before_that_the_desk_pass_waits_folded_at_the_foot_of_the_page(web: Web) -> None:
    html = (await web.open("DB001")).text  # ten days before the meeting
    assert '<section id="desk-pass"' not in html
    folded = html.split('<details id="desk-pass" class="desk-pass folded">', 1)[1]
    assert folded.startswith(
        "\n<summary>Mã xuất trình tại bàn đón tiếp (dùng vào ngày hội nghị)</summary>"
    )
    assert DESK_LINE in folded
    assert html.index('<details id="desk-pass"') > html.index('<section id="answer"')


async def test_no_desk_pass_for_one_who_declined_while_she_can_change_it_was_withdrawn_or_after(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    await web.post("DB002", "rsvp", "form-decline", {"choice": "decline", "reason": ""})
    await imported.withdrawals.withdraw(imported.access.local_operator(), "DB004")
    # Before the deadline a decliner can answer «Tham dự» herself: no pass until she does.
    html = (await web.open("DB002")).text
    assert 'id="desk-pass"' not in html and DESK_LINE not in html
    clock.set(local(2024, 5, 28, 7, 15))
    html = (await web.open("DB004")).text
    assert 'id="desk-pass"' not in html and DESK_LINE not in html
    assert 'id="desk-pass"' in (await web.open("DB001")).text
    clock.set(local(2024, 5, 29, 0, 5))  # the day after: nothing left to show
    assert 'id="desk-pass"' not in (await web.open("DB001")).text
    assert 'id="desk-pass"' not in (await web.open("DB002")).text


async def test_after_the_deadline_one_who_declined_is_told_on_her_page_she_may_still_come_with_her_pass(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    # Her page hid the pass and said only «nội dung trên là chính thức…», while the desk lets
    # a decliner in: past the deadline (she cannot change her answer herself) it says she
    # may still come, and shows the code for the desk.
    await web.post("DB002", "rsvp", "form-decline", {"choice": "decline", "reason": ""})
    links = {link.code: link for link in await imported.invitations.links()}
    code = format_link_code(links["DB002"].link_code)
    contact = imported.config.office.contact
    clock.set(local(2024, 5, 28, 7, 0))
    html = (await web.open("DB002")).text
    assert text_of(html, "answer-final") == (
        "Thời hạn xác nhận đã kết thúc lúc 17:00, Thứ Ba, ngày 21/5/2024; đồng chí đã báo không "
        "tham dự. Nếu thu xếp được để đến dự, kính đề nghị đồng chí xuất trình mã đón tiếp đại "
        f"biểu {code} (hoặc giấy mời) tại bàn đón tiếp, và báo để Văn phòng được biết: {contact}."
    )
    assert html.index('<section id="desk-pass"') < html.index('<section id="invitation"')
    assert f'<strong class="desk-code" id="desk-code">{code}</strong>' in html
    assert desk_modules(html) == symbol_of(f"http://testserver/{links['DB002'].token}")


async def test_one_who_sent_a_substitute_is_asked_to_pass_the_code_on_not_to_show_it_herself(
    web: Web, clock: ManualClock
) -> None:
    await web.post(
        "DB003",
        "rsvp",
        "form-substitute",
        {"choice": "substitute", "name": "Lê Thị Hoa", "position": "Phó Chủ tịch", "unit": ""},
    )
    clock.set(local(2024, 5, 28, 7, 15))
    html = (await web.open("DB003")).text
    # The line under the QR tells her to pass it on, in place of telling her to show it.
    assert DESK_LINE not in html
    assert (
        '<figcaption><span class="desk-show" id="desk-substitute">Đồng chí đã cử đồng chí Lê Thị '
        "Hoa dự thay: đề nghị chuyển mã này (hoặc phiếu kèm giấy mời) để đồng chí Lê Thị Hoa xuất "
        'trình tại bàn đón tiếp.</span><br>Mã cá nhân: <strong class="desk-code"'
    ) in html


async def desk_of(services: Services, code: str, label: str) -> DeskActor:
    """``code`` linked on Telegram, granted the desk's role and signed in at desk ``label``."""
    links = {link.code: link for link in await services.invitations.links()}
    account = ChatAccount("telegram", "7001", "7001")
    await services.invitations.link_by_token(account, links[code].token)
    access = services.access
    await access.grant(access.local_operator(), code, Role.CHECKIN)
    desk = access.desk(await access.caller(account), label)
    assert desk is not None
    return desk


async def test_once_checked_in_her_page_says_when_and_where_in_place_of_show_this_code(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    # After her check-in the page still said «Xuất trình mã này tại bàn đón tiếp»; the one who
    # sent a substitute still read «đề nghị chuyển mã này…» with the substitute in the hall.
    await web.post(
        "DB003", "rsvp", "form-substitute",
        {"choice": "substitute", "name": "Lê Thị Hoa", "position": "Phó Chủ tịch", "unit": ""},
    )  # fmt: skip
    await web.post("DB002", "rsvp", "form-decline", {"choice": "decline", "reason": ""})
    clock.set(local(2024, 5, 28, 7, 15))
    desk = await desk_of(imported, "DB080", "Bàn 1")
    came = await imported.checkin.check_in(desk, "DB001")
    assert came.checkin is not None
    await imported.checkin.check_in(desk, "DB003", substitute_name="Lê Thị Hoa")
    clock.set(local(2024, 5, 28, 7, 16))
    links = {link.code: link for link in await imported.invitations.links()}
    for code, said in (
        ("DB001", "Đồng chí đã điểm danh lúc 07:15 (Bàn 1)."),
        ("DB003", "Đồng chí Lê Thị Hoa đã điểm danh dự thay lúc 07:15."),
    ):
        html = (await web.open(code)).text
        top = html.split('<section id="desk-pass"', 1)[1].split("</section>", 1)[0]
        assert text_of(html, "desk-checked-in") == said
        assert DESK_LINE not in html and 'id="desk-substitute"' not in html
        assert "<svg" not in top  # no QR left to scan a second time
        assert text_of(html, "desk-code") == format_link_code(links[code].link_code)
    # A decliner who came after all is not told on her page that she may still come.
    await imported.checkin.check_in(desk, "DB002")
    html = (await web.open("DB002")).text
    assert text_of(html, "desk-checked-in") == "Đồng chí đã điểm danh lúc 07:16 (Bàn 1)."
    assert "thu xếp được" not in html
    # The desk undoes it (the wrong card): the pass to show comes back.
    await imported.checkin.undo(desk, came.checkin.id)
    html = (await web.open("DB001")).text
    assert f'<span class="desk-show">{DESK_LINE}</span>' in html
    assert 'id="desk-checked-in"' not in html


async def test_a_page_opened_again_on_the_meeting_morning_draws_its_qr_once(
    web: Web, clock: ManualClock
) -> None:
    # People open their page again and again at the door: the QR (3 ms of drawing) is kept.
    clock.set(local(2024, 5, 28, 7, 15))
    qr_page_svg.cache_clear()
    first = (await web.open("DB001")).text
    again = (await web.open("DB001")).text
    assert desk_modules(again) == desk_modules(first)
    drawn = qr_page_svg.cache_info()
    assert (drawn.misses, drawn.hits) == (1, 1)


async def test_each_persons_page_shows_the_qr_of_her_own_link_when_the_qrs_are_kept(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    clock.set(local(2024, 5, 28, 7, 15))
    links = {link.code: link for link in await imported.invitations.links()}
    for _ in range(2):  # drawn, then kept: each page its own symbol both times
        for code in ("DB001", "DB002"):
            html = (await web.open(code)).text
            assert desk_modules(html) == symbol_of(f"http://testserver/{links[code].token}")


# --- the office's notices on the page ------------------------------------------------------------


async def send_notice(harness: BotHarness, body: str, audience: str, when: str = "") -> int:
    """The office confirms a notice to ``audience`` (at ``when``, typed as the chat reads it,
    else now) and the outbox takes what is due; the notice's number."""
    office = harness.services.access.local_operator()
    broadcasts = harness.services.broadcasts
    draft = await broadcasts.start(office)
    assert draft.message_id is not None
    await broadcasts.accept_text(office, body)
    await broadcasts.choose_audience(office, draft.message_id, audience)
    if when:
        sent = await broadcasts.schedule(office, draft.message_id, when)
    else:
        sent = await broadcasts.send_now(office, draft.message_id)
    assert sent.number is not None, sent
    await harness.tick()
    return sent.number


def notices_section(html: str) -> str:
    """The page's «Thông báo của Văn phòng» section, as served ("" when there is none)."""
    match = re.search(r'<section id="notices".*?</section>', html, re.S)
    return match.group(0) if match else ""


@pytest.fixture
async def paged(harness: BotHarness, browsers: Browsers) -> Web:
    """The pages of the harness's bot: five invitees linked on Telegram (two attend, one sends
    a substitute, DB004 declines, one is silent), the other 75 on no chat."""
    await linked_answers(harness)
    return await browsers(harness.services)


async def test_a_page_shows_the_notices_she_was_sent_newest_first_escaped_as_in_chat(
    harness: BotHarness, paged: Web
) -> None:
    await paged.open("DB006")  # on no chat: her page is all she reads
    await send_notice(harness, "Đổi phòng họp: Hội trường tầng 3.", "everyone")
    harness.clock.advance(timedelta(minutes=90))
    await send_notice(
        harness, "Đề nghị mang theo <giấy mời> & thẻ đại biểu.\nXin cảm ơn.", "everyone"
    )
    page = await paged.open("DB006")
    assert notices_section(page.text) == (
        '<section id="notices" aria-labelledby="notices-title">\n'
        '<h2 id="notices-title">Thông báo của Văn phòng</h2>\n'
        '<article id="notice-2" class="card notice new">\n'
        '<h3>Thông báo số 2 <span class="badge" id="notice-2-new">Mới</span></h3>\n'
        '<p class="muted" id="notice-2-sent">Gửi lúc 10:30, 18/5</p>\n'
        '<p class="text" id="notice-2-text">Đề nghị mang theo &lt;giấy mời&gt; &amp; thẻ đại biểu.'
        "\nXin cảm ơn.</p>\n"
        "</article>\n"
        '<article id="notice-1" class="card notice new">\n'
        '<h3>Thông báo số 1 <span class="badge" id="notice-1-new">Mới</span></h3>\n'
        '<p class="muted" id="notice-1-sent">Gửi lúc 09:00, 18/5</p>\n'
        '<p class="text" id="notice-1-text">Đổi phòng họp: Hội trường tầng 3.</p>\n'
        "</article>\n"
        "</section>"
    )
    # The words are the chat's own: what DB001 read on Telegram, under the office's header.
    chat = harness.user_for("DB001").last_text()
    assert chat.endswith("Đề nghị mang theo <giấy mời> & thẻ đại biểu.\nXin cảm ơn.")
    assert 'id="notice-2"' in (await paged.open("DB001")).text  # linked: on her page too


async def test_only_the_notices_whose_audience_she_was_in_are_on_her_page(
    harness: BotHarness, paged: Web
) -> None:
    await harness.plan()  # the plan's reminders: the RSVP reminder goes to DB006 too
    await harness.tick()
    # A reminder or the plan's automatic messages are no notices of the office.
    assert 'id="notices"' not in (await paged.open("DB006")).text
    await send_notice(harness, "Chỉ gửi người đã liên kết.", "linked")
    await send_notice(harness, "Gửi người không tham dự.", "declined")
    await send_notice(harness, "Gửi người chưa trả lời.", "no_answer")
    page = (await paged.open("DB006")).text
    section = notices_section(page)
    assert re.findall(r'<article id="notice-(\d+)"', section) == ["3"]
    assert "Gửi người chưa trả lời." in section
    assert "Chỉ gửi người đã liên kết." not in page and "không tham dự." not in page
    declined = notices_section((await paged.open("DB004")).text)
    assert re.findall(r'<article id="notice-(\d+)"', declined) == ["2", "1"]


async def test_a_notice_still_waiting_for_its_time_or_cancelled_is_not_on_the_page(
    harness: BotHarness, paged: Web
) -> None:
    office = harness.services.access.local_operator()
    await send_notice(harness, "Hẹn gửi sáng 27/5.", "everyone", when="07:00 27/5")
    cancelled = await send_notice(harness, "Sẽ bị hủy.", "everyone", when="08:00 27/5")
    unsent = await harness.services.broadcasts.start(office)  # a draft never confirmed
    await harness.services.broadcasts.accept_text(office, "Bản nháp chưa gửi.")
    assert unsent.message_id is not None
    listed = await harness.services.broadcasts.recent(office)
    (to_cancel,) = [item.id for item in listed if item.number == cancelled]
    await harness.services.broadcasts.cancel(office, to_cancel)
    harness.clock.set(local(2024, 5, 27, 6, 59))
    await harness.tick()
    assert 'id="notices"' not in (await paged.open("DB006")).text
    harness.clock.set(local(2024, 5, 27, 7, 0))
    await harness.tick()
    section = notices_section((await paged.open("DB006")).text)
    assert re.findall(r'<article id="notice-(\d+)"', section) == ["1"]
    assert "Gửi lúc 07:00, 27/5" in section
    harness.clock.set(local(2024, 5, 27, 8, 0))  # the cancelled one's time
    await harness.tick()
    section = notices_section((await paged.open("DB006")).text)
    assert re.findall(r'<article id="notice-(\d+)"', section) == ["1"]
    assert "Sẽ bị hủy." not in section and "Bản nháp" not in section


async def test_a_withdrawn_invitee_sees_no_notice_and_none_sent_while_she_was_withdrawn(
    harness: BotHarness, paged: Web
) -> None:
    office = harness.services.access.local_operator()
    await send_notice(harness, "Trước khi rút giấy mời.", "everyone")
    await harness.services.withdrawals.withdraw(office, "DB006", "Mời nhầm")
    page = (await paged.open("DB006")).text
    assert 'id="withdrawn-notice"' in page and 'id="notices"' not in page
    await send_notice(harness, "Trong khi đã rút giấy mời.", "everyone")
    assert 'id="notices"' not in (await paged.open("DB006")).text
    await harness.services.withdrawals.reinvite(office, "DB006")
    section = notices_section((await paged.open("DB006")).text)
    assert re.findall(r'<article id="notice-(\d+)"', section) == ["1"]


async def test_a_day_notice_for_her_substitute_opens_on_her_page_as_in_chat_with_kinh_chuyen(
    harness: BotHarness, paged: Web
) -> None:
    """On the meeting day a notice to those present (her substitute checked in) or to those
    awaited (her substitute named, not in yet) opens on her page with the line her chat copy
    opens with, «Kính chuyển đồng chí … (dự thay đồng chí tại hội nghị):»; not for one who
    comes herself."""
    harness.clock.set(local(2024, 5, 28, 7, 30))
    services = harness.services
    desk = services.access.office_desk(services.access.local_operator(), "Bàn 1")
    await send_notice(harness, "Hội trường mở cửa lúc 7:30.", "awaited")  # DB003's not in yet
    await services.checkin.check_in(desk, "DB001")
    await services.checkin.check_in(desk, "DB003", substitute_name="Lê Thị Hoa")
    await send_notice(harness, "Phòng họp đổi sang tầng 3.", "came")
    line = "Kính chuyển đồng chí <b>Lê Thị Hoa</b> (dự thay đồng chí tại hội nghị):"
    section = notices_section((await paged.open("DB003")).text)
    for number in (2, 1):
        assert (
            f'<p class="text" id="notice-{number}-for-substitute">{line}</p>'
            f'<p class="text" id="notice-{number}-text">'
        ) in section
    assert texts(harness, harness.user_for("DB003").id)[-1].startswith(
        "Kính chuyển đồng chí Lê Thị Hoa (dự thay đồng chí tại hội nghị):\n\n"
    )
    own = notices_section((await paged.open("DB001")).text)
    assert 'id="notice-2-text"' in own and "Kính chuyển" not in own


async def test_a_notice_to_those_who_come_before_the_day_opens_on_her_page_for_her_substitute(
    harness: BotHarness, paged: Web
) -> None:
    """Weeks before, a notice to «đã xác nhận tham dự (kể cả cử người dự thay)» is for the
    substitute she sent to read: her page opens it as her chat copy does (s36 F1)."""
    harness.clock.set(local(2024, 5, 25, 9, 0))
    await send_notice(harness, "Đề nghị đại biểu mang theo báo cáo.", "present")
    line = "Kính chuyển đồng chí <b>Lê Thị Hoa</b> (dự thay đồng chí tại hội nghị):"
    section = notices_section((await paged.open("DB003")).text)
    assert f'<p class="text" id="notice-1-for-substitute">{line}</p>' in section
    own = notices_section((await paged.open("DB001")).text)
    assert 'id="notice-1-text"' in own and "Kính chuyển" not in own


async def test_a_notice_queued_for_her_but_not_sent_for_her_withdrawal_stays_off_her_page(
    harness: BotHarness, paged: Web
) -> None:
    office = harness.services.access.local_operator()
    draft = await harness.services.broadcasts.start(office)
    assert draft.message_id is not None
    await harness.services.broadcasts.accept_text(office, "Đã xếp hàng gửi.")
    await harness.services.broadcasts.choose_audience(office, draft.message_id, "everyone")
    await harness.services.broadcasts.send_now(office, draft.message_id)
    await harness.outbox.queue_due()  # her copy is waiting in the outbox
    await harness.services.withdrawals.withdraw(office, "DB001")
    await harness.tick()  # not sent to her: skipped, as withdrawn
    assert not harness.user_for("DB001").last_text().endswith("Đã xếp hàng gửi.")
    await harness.services.withdrawals.reinvite(office, "DB001")
    assert 'id="notices"' not in (await paged.open("DB001")).text
    assert 'id="notice-1"' in (await paged.open("DB002")).text


async def test_new_marks_only_the_notices_this_browser_has_not_shown_her_page_yet(
    harness: BotHarness, paged: Web
) -> None:
    await send_notice(harness, "Thông báo thứ nhất.", "everyone")
    opened = await paged.open("DB006")
    first = opened.text
    assert 'id="notice-1-new"' in first
    # The numbers shown, for her page's path alone, kept until a week after the meeting ends
    # (28/5 11:30 + 7 days, from 18/5 09:00: 17 days and 2½ hours).
    token = paged.tokens["DB006"]
    assert opened.headers["set-cookie"] == (
        f"tb_seen=1; HttpOnly; Max-Age={17 * 86400 + 9000}; Path=/{token}; SameSite=lax"
    )
    # Said at the top too: the notices come after the invitation, further down.
    assert (
        '<p class="text flash" id="notices-new"><a href="#notices">'
        "Văn phòng có 1 thông báo mới gửi đồng chí: xem thông báo</a></p>"
    ) in first
    again = (await paged.open("DB006")).text
    assert 'id="notice-1"' in again and "badge" not in again and "notices-new" not in again
    # A notice confirmed earlier for a later time goes out after one sent since: it is new
    # when it comes, though its number is lower.
    await send_notice(harness, "Hẹn giờ.", "everyone", when="08:00 19/5")
    harness.clock.advance(timedelta(minutes=5))
    await send_notice(harness, "Gửi ngay.", "everyone")
    shown = await paged.open("DB006")
    third = shown.text
    assert re.findall(r'id="notice-(\d+)-new"', third) == ["3"]
    assert shown.headers["set-cookie"].startswith("tb_seen=1.3; ")
    harness.clock.set(local(2024, 5, 19, 8, 0))
    await harness.tick()
    shown = await paged.open("DB006")
    fourth = shown.text
    assert shown.headers["set-cookie"].startswith("tb_seen=1-3; ")
    assert re.findall(r'<article id="notice-(\d+)"', fourth) == ["2", "3", "1"]
    assert re.findall(r'id="notice-(\d+)-new"', fourth) == ["2"]
    # Another person's page in the same browser keeps its own: all of hers are new to it.
    other = (await paged.open("DB007")).text
    assert re.findall(r'id="notice-(\d+)-new"', other) == ["2", "3", "1"]
    # The mark is the browser's: the page wrote nothing to show it.
    cookie = paged.client.cookies.jar
    paths = sorted(c.path for c in cookie if c.name == "tb_seen")
    assert paths == sorted(f"/{paged.tokens[code]}" for code in ("DB006", "DB007"))


async def test_the_line_at_the_top_counts_new_notices_in_the_singular_and_the_plural(
    harness: BotHarness, paged: Web
) -> None:
    await send_notice(harness, "Thông báo thứ nhất.", "everyone")
    one = (await paged.open("DB007", lang="en")).text
    assert '<a href="#notices">A new notice from the office. Read it</a>' in one
    await send_notice(harness, "Thông báo thứ hai.", "everyone")
    two = (await paged.open("DB006", lang="en")).text
    assert '<a href="#notices">2 new notices from the office. Read them</a>' in two
    vi = (await paged.open("DB008")).text
    assert '<a href="#notices">Văn phòng có 2 thông báo mới gửi đồng chí: xem thông báo</a>' in vi


async def test_an_address_in_a_notice_is_a_link_on_the_page_its_punctuation_and_ampersand_kept(
    harness: BotHarness, paged: Web
) -> None:
    body = (
        "Tài liệu: https://hoinghi.example.vn/tai-lieu?ky=3&muc=2. Lịch (xem "
        "https://hoinghi.example.vn/lich), bản đồ «http://bando.example.vn/a_b» <b>!</b>"
    )
    await send_notice(harness, body, "everyone")
    section = notices_section((await paged.open("DB006")).text)
    docs = "https://hoinghi.example.vn/tai-lieu?ky=3&amp;muc=2"
    plan = "https://hoinghi.example.vn/lich"
    where = "http://bando.example.vn/a_b"
    assert (
        '<p class="text" id="notice-1-text">Tài liệu: '
        f'<a href="{docs}" rel="noopener noreferrer">{docs}</a>. Lịch (xem '
        f'<a href="{plan}" rel="noopener noreferrer">{plan}</a>), bản đồ '
        f'«<a href="{where}" rel="noopener noreferrer">{where}</a>» &lt;b&gt;!&lt;/b&gt;</p>'
    ) in section
    # Only on the page: the chat's copy is the office's words, Telegram makes the links.
    assert harness.user_for("DB001").last_text().endswith(body)


async def test_a_notice_that_went_out_in_the_same_instant_or_earlier_by_the_clock_is_still_new(
    harness: BotHarness, paged: Web
) -> None:
    await send_notice(harness, "Thứ nhất.", "everyone")
    assert 'id="notice-1-new"' in (await paged.open("DB006")).text
    # The next one goes out in the same instant (the clock has not moved), then one after the
    # clock was set back: each is new the first time her page shows it, by its number.
    await send_notice(harness, "Cùng lúc.", "everyone")
    assert re.findall(r'id="notice-(\d+)-new"', (await paged.open("DB006")).text) == ["2"]
    harness.clock.advance(timedelta(hours=-1))
    await send_notice(harness, "Đồng hồ lùi.", "everyone")
    assert re.findall(r'id="notice-(\d+)-new"', (await paged.open("DB006")).text) == ["3"]
    assert "badge" not in (await paged.open("DB006")).text


async def test_a_browser_with_the_office_s_cookie_is_not_given_the_seen_notices_cookie(
    harness: BotHarness, paged: Web
) -> None:
    await send_notice(harness, "Thứ nhất.", "everyone")
    staff = await paged.client.get(
        f"/{paged.tokens['DB006']}", headers={"cookie": "hoinghi_office=phien-cua-van-phong"}
    )
    assert 'id="notice-1-new"' in staff.text  # shown as to anyone whose browser never saw it
    assert "set-cookie" not in staff.headers


async def test_the_seen_notices_cookie_lasts_at_least_a_day_after_the_meeting_s_week(
    harness: BotHarness, paged: Web
) -> None:
    await send_notice(harness, "Thứ nhất.", "everyone")
    harness.clock.set(local(2024, 6, 30, 9, 0))  # weeks after the meeting
    opened = await paged.open("DB006")
    assert "Max-Age=86400;" in opened.headers["set-cookie"]


async def test_the_newest_five_notices_are_open_and_the_older_ones_fold_away(
    harness: BotHarness, paged: Web
) -> None:
    for n in range(1, 8):
        await send_notice(harness, f"Thông báo {n}.", "everyone")
        harness.clock.advance(timedelta(minutes=10))
    section = notices_section((await paged.open("DB006")).text)
    opened, folded = section.split('<details id="notices-older"', 1)
    assert re.findall(r'<article id="notice-(\d+)"', opened) == ["7", "6", "5", "4", "3"]
    assert re.findall(r'<article id="notice-(\d+)"', folded) == ["2", "1"]
    # All new to this browser: the folded ones are open too, not to be missed.
    assert folded.startswith(" open>\n<summary>Các thông báo trước (2)</summary>\n")
    # Once seen, they fold away.
    again = notices_section((await paged.open("DB006")).text)
    assert '<details id="notices-older">\n<summary>Các thông báo trước (2)</summary>\n' in again
    assert again.endswith("</article>\n</details>\n</section>")


async def test_a_notice_whose_every_copy_ran_out_on_chat_can_still_be_read_on_her_page(
    harness: BotHarness, paged: Web
) -> None:
    from tests.test_web_office_notices import notice_caught_by_a_stop

    await notice_caught_by_a_stop(harness, "Bot dừng giữa chừng.", sent=0)
    assert await message_status(harness, MessageKind.BROADCAST) == ["skipped"]
    assert not harness.user_for("DB001").last_text().endswith("Bot dừng giữa chừng.")
    section = notices_section((await paged.open("DB001")).text)
    assert re.findall(r'<article id="notice-(\d+)"', section) == ["1"]
    assert '<p class="text" id="notice-1-text">Bot dừng giữa chừng.</p>' in section
    # The audience was those linked: DB006, on no chat, was not in it.
    assert 'id="notices"' not in (await paged.open("DB006")).text


async def test_a_message_of_another_kind_is_no_notice_on_her_page_even_with_a_number(
    harness: BotHarness, paged: Web
) -> None:
    await harness.plan()  # the plan's reminders: the RSVP reminder goes to DB006 too
    await harness.tick()
    async with harness.services.ctx.sessions() as session, session.begin():
        reminders = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.kind == MessageKind.RSVP_REMINDER)
            )
        ).all()
        assert reminders
        for n, reminder in enumerate(reminders, start=90):
            reminder.number = n  # were a reminder ever numbered, it would still be no notice
    assert await deliveries(harness, MessageKind.RSVP_REMINDER)
    assert 'id="notices"' not in (await paged.open("DB006")).text


async def test_an_unanswered_page_asks_for_the_answer_at_the_top_and_links_to_it_until_answered(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    # On a phone the answer block is two screens down, after the programme.
    html = (await web.open("DB005")).text
    prompt = re.search(r'<p class="text flash ask" id="answer-prompt">(.*?)</p>', html, re.S)
    assert prompt is not None and prompt.group(1) == (
        "Kính đề nghị đồng chí xác nhận tham dự trước <b>17:00, Thứ Ba, ngày 21/5/2024</b>. "
        '<a class="button" id="answer-prompt-link" href="#answer">Xác nhận ngay ↓</a>'
    )
    assert html.index('id="answer-prompt"') < html.index('<section id="invitation"')
    assert '<section id="answer"' in html
    page = await web.post("DB005", "rsvp", "form-attend", {"choice": "attend"})
    assert 'id="answer-prompt"' not in page.text  # answered: nothing to ask
    await imported.withdrawals.withdraw(imported.access.local_operator(), "DB006")
    assert 'id="answer-prompt"' not in (await web.open("DB006")).text  # nothing to answer
    clock.set(imported.rsvp.deadline + timedelta(minutes=1))
    assert 'id="answer-prompt"' not in (await web.open("DB007")).text  # too late to answer


async def test_a_substitute_whose_name_differs_from_hers_by_a_mark_alone_is_taken_not_refused(
    web: Web, imported: Services
) -> None:
    # «Cấn Thị Thanh Hòa», her deputy, was refused as «the delegate herself» (Cấn Thị Thanh Hoa)
    # because the names were compared without diacritics — as «Trần Văn Hưng» for «Trần Văn
    # Hùng». Typed without any mark, her own name is still hers.
    sent = {"choice": "substitute", "name": "Cấn Thị Thanh Hòa", "position": "Phó Chủ tịch",
            "unit": "Hội LHPN huyện Ứng Hòa", "phone": ""}  # fmt: skip
    page = await web.post("DB060", "rsvp", "form-substitute", sent)
    assert flash(page.text).startswith(
        "Đã ghi nhận: đồng chí cử người dự thay là đồng chí Cấn Thị Thanh Hòa, Phó Chủ tịch."
    )
    assert (await _substitute_row(imported, "DB060"))[:2] == ("substitute", "Cấn Thị Thanh Hòa")
    herself = "Người dự thay trùng họ tên với đồng chí nên chưa được ghi nhận"
    for name in ("CẤN THỊ THANH HOA", "can thi thanh hoa", "Đ/c Cấn Thị Thanh Hoa"):
        page = await web.post("DB060", "rsvp", "form-substitute", {**sent, "name": name})
        assert flash(page.text).startswith(herself), name


async def test_a_person_linked_on_zalo_is_told_so_on_her_page_not_asked_to_send_her_code(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    # «Mở Zalo, tìm …, gửi mã …» under a link she made a minute ago: she would think it had
    # failed and send the code again.
    zalo = ZaloSettings(bot_name="Bot Hội nghị LHPN", bot_link="https://zalo.me/2740000000")
    web.site.config = imported.config.model_copy(update={"zalo": zalo})
    imported.ctx.chats.run(("zalo",))
    code = {link.code: link.link_code for link in await imported.invitations.links()}["DB031"]
    account = ChatAccount(channel="zalo", external_id="a1b2c3", chat_address="a1b2c3")
    linked = await imported.invitations.link_by_code(account, code)
    assert linked.outcome is LinkOutcome.LINKED
    when = short_moment(load_catalog("vi"), imported.config.meeting.local(clock.now()))
    page = (await web.open("DB031")).text
    assert (
        f'<p class="text chat-linked">Đồng chí đã liên kết Zalo (bot «Bot Hội nghị LHPN») lúc '
        f"{when}: tin nhắc, thông báo và chương trình hội nghị được gửi tới đồng chí qua đó; "
        "đồng chí không cần liên kết lại.</p>"
    ) in page
    assert 'id="zalo-how"' not in page and 'id="zalo-qr"' not in page
    assert "Văn phòng sẽ gửi tin nhắc" not in page
    blocked = clock.now() + timedelta(hours=1)
    clock.set(blocked)
    await imported.invitations.set_reachable(account, reachable=False, reason="blocked")
    since = short_moment(load_catalog("vi"), imported.config.meeting.local(blocked))
    page = (await web.open("DB031")).text
    assert (
        f"Đồng chí đã liên kết Zalo (bot «Bot Hội nghị LHPN») lúc {when}, nhưng từ {since} tin "
        "nhắn của bot không tới được đồng chí (có thể đồng chí đã chặn bot)."
    ) in page


async def test_a_person_linked_on_telegram_is_told_so_and_not_offered_the_link_again(
    harness: BotHarness, browsers: Browsers
) -> None:
    await harness.open_invitation("DB005")
    web = await browsers(
        harness.services, chat_links={"telegram": "https://t.me/hoinghi_bot?start={}".format}
    )
    page = (await web.open("DB005")).text
    assert 'id="chat-telegram"' not in page
    assert '<p class="text chat-linked">Đồng chí đã liên kết Telegram lúc ' in page
    assert 'id="chat-telegram"' in (await web.open("DB006")).text  # not linked: offered
