"""The office's lists in chat stay readable however many are invited: ``/chuatraloi`` in pages
of one message each with a choice to go on, and a notice preview that names the first few who
cannot be reached, counts the rest and says where the whole list is."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.domain.clock import ManualClock
from bot.domain.rsvp import RsvpStatus
from bot.services import Services
from tests.conftest import EXAMPLE_CONFIG
from tests.harness import BotHarness
from tests.test_broadcasts import compose
from tests.test_telegram_flows import buttons
from tests.test_text_channel import World, text_world
from tests.web_support import web_for

NEXT = "Trang sau ›"


@pytest.fixture
async def world(imported: Services, clock: ManualClock) -> World:
    """The example plan on the text channel only, NV02 of the office as staff."""
    return await text_world(imported, clock)


WHOLE_LIST = (
    "Chọn «Trang sau ›» để xem tiếp; danh sách đầy đủ có trong tệp báo cáo /baocao "
    "(trang «Đại biểu», cột «Trả lời»)."
)


async def protocol_order(services: Services) -> list[tuple[str, str]]:
    """(code, full name) of the example's delegates in protocol order."""
    return [
        (link.code, link.full_name)
        for link in await services.invitations.links()
        if link.role == "delegate"
    ]


def listed(text: str) -> list[str]:
    """The codes a page of /chuatraloi lists, in order."""
    return [
        line.split(" — ")[0].removeprefix("• ") for line in text.splitlines() if line[:2] == "• "
    ]


# --- /chuatraloi on Telegram ---------------------------------------------------------------------


async def test_chuatraloi_answers_one_message_then_pages_through_everyone_once_in_order(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    everyone = [code for code, _ in await protocol_order(harness.services)]
    await harness.send(admin.command("/chuatraloi"))
    first = admin.last_text()
    assert len(admin.messages) == 1 and len(first) <= 4096
    assert first.startswith("⏳ Đại biểu chưa trả lời: 80\n\nĐại diện lãnh đạo Trung ương Hội")
    pages = [listed(first)]
    assert first.endswith(f"\nĐã hiện 1–{len(pages[0])} trong số 80 người. {WHOLE_LIST}")
    while buttons(admin.last_message) == [NEXT]:
        await harness.send(admin.tap(NEXT))
        page = admin.last_text()
        assert len(page) <= 4096
        shown = sum(len(p) for p in pages)
        assert page.startswith(
            f"⏳ Đại biểu chưa trả lời: 80 (tiếp theo, từ người thứ {shown + 1})\n\n"
        )
        pages.append(listed(page))
    assert [code for page in pages for code in page] == everyone
    assert len(pages) >= 3  # 80 people of the example do not fit one message of 4,096
    assert admin.last_text().endswith(f"\nĐã hiện {81 - len(pages[-1])}–80 trong số 80 người.")
    harness.fake.assert_no_violations()


async def test_a_page_that_starts_inside_a_group_names_the_group_again(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    await harness.send(admin.command("/chuatraloi"))
    await harness.send(admin.tap(NEXT))
    second = admin.last_text().split("\n")
    assert second[1] == ""
    assert second[2].endswith(")") and " (" in second[2]  # «<group label> (<its whole count>)»
    label = second[2].rsplit(" (", 1)[0]
    assert label in {group.label for group in harness.services.config.groups}


async def test_people_who_answer_between_two_pages_shift_no_one_out_of_the_list(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    order = [code for code, _ in await protocol_order(harness.services)]
    await harness.send(admin.command("/chuatraloi"))
    first = listed(admin.last_text())
    last = order.index(first[-1])
    # One person of the first page and the one right after it answer before the tap.
    for code in (first[0], order[last + 1]):
        user = await harness.open_invitation(code)
        await harness.send(user.tap("✅ Tham dự"))
    await harness.send(admin.tap(NEXT, message=admin.messages[0]))
    second = admin.last_text()
    assert second.startswith(f"⏳ Đại biểu chưa trả lời: 78 (tiếp theo, từ người thứ {last + 1})")
    assert listed(second)[0] == order[last + 2]


async def test_a_next_page_after_everyone_left_has_answered_starts_the_list_again(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    order = [code for code, _ in await protocol_order(harness.services)]
    await harness.send(admin.tap_data(f"un:{order[-1]}"))
    assert admin.last_text().startswith("⏳ Đại biểu chưa trả lời: 80\n\n")
    assert listed(admin.last_text())[0] == order[0]


# --- /chuatraloi on a text channel (1,000 characters, numbered choices) -------------------------


async def test_on_a_text_channel_each_page_fits_one_message_with_its_menu(
    world: World,
) -> None:
    order = [code for code, _ in await protocol_order(world.services)]
    admin = await world.linked("NV02", "Chị Hà")  # office staff, from the contacts
    said = await admin.type("/chuatraloi")
    codes = []
    pages = 0
    while True:
        assert len(said) == 1 and len(said[0]) <= 1000
        pages += 1
        codes += listed(said[0])
        if "Trả lời 1 – Trang sau ›" not in said[0]:
            break
        said = await admin.type("1")
    assert codes == order
    assert pages >= 10  # 80 people in messages of 1,000 characters


# --- the notice preview --------------------------------------------------------------------------


async def test_the_preview_names_ten_who_cannot_be_reached_counts_the_rest_and_says_where(
    harness: BotHarness,
) -> None:
    first_ten = (await protocol_order(harness.services))[:10]
    await compose(harness, "Họp trù bị lúc 14:00.", "Đại biểu chưa trả lời")
    preview = harness.admin().last_text()
    names = ", ".join(f"{code} {name}" for code, name in first_ten)
    assert preview.endswith(
        "Sẽ gửi tới: 0 người.\n\n"
        "80 đại biểu chưa kết nối kênh nhắn tin nên sẽ không nhận được qua tin nhắn, trong đó "
        f"có {names} và 70 người khác. Các đồng chí này sẽ thấy thông báo khi truy cập trang cá "
        "nhân; đề nghị gọi điện cho những đồng chí cần biết ngay. Danh sách đầy đủ có trong "
        "tệp báo cáo /baocao (trang «Đại "
        "biểu», cột «Kênh liên lạc»); /chuatraloi liệt kê người chưa trả lời, ghi rõ ai "
        "chưa kết nối kênh nhắn tin."
    )
    assert len(harness.admin().messages) == 3  # the prompts, then the preview: one message
    # Nobody here is on chat, yet every one of them has a personal page: the notice can go
    # (this test used to pin «Không có ai … Đề nghị chọn đối tượng khác.» under a preview that
    # promised the page), and it is there on an invitee's page.
    assert buttons(harness.admin().last_message) == ["📤 Gửi ngay", "🕘 Hẹn giờ gửi", "Hủy"]
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    assert harness.admin().last_text() == (
        "📤 Đã xếp thông báo số 1 vào hàng gửi qua tin nhắn tới 0 người. 80 đồng chí không nhận "
        "qua tin nhắn sẽ thấy thông báo khi truy cập trang cá nhân. Đồng chí sẽ nhận báo cáo khi "
        "gửi xong; gõ /lichthongbao để xem tiến độ."
    )
    await harness.tick()
    web = await web_for(harness.services)
    try:
        page = (await web.open("DB006")).text
    finally:
        await web.client.aclose()
    assert '<p class="text" id="notice-1-text">Họp trù bị lúc 14:00.</p>' in page


@pytest.mark.parametrize(
    "config", [load_config(EXAMPLE_CONFIG).config.model_copy(update={"web": None})]
)
async def test_with_no_personal_pages_an_audience_no_chat_reaches_cannot_be_sent_to(
    harness: BotHarness,
) -> None:
    await compose(harness, "Họp trù bị lúc 14:00.", "Đại biểu chưa trả lời")
    assert (
        harness.admin()
        .last_text()
        .endswith(
            "Không có ai trong đối tượng này nhận được thông báo qua tin nhắn của bot. Đề nghị "
            "chọn đối tượng khác."
        )
    )
    assert buttons(harness.admin().last_message) == ["Hủy"]


async def test_an_audience_with_nobody_in_it_cannot_be_sent_to_even_with_pages(
    harness: BotHarness,
) -> None:
    await compose(harness, "Họp trù bị lúc 14:00.", "Đại biểu không tham dự")
    assert (
        harness.admin()
        .last_text()
        .endswith(
            "Sẽ gửi tới: 0 người.\n\n"
            "Không có ai trong đối tượng này nhận được thông báo qua tin nhắn của bot. Đề nghị "
            "chọn đối tượng khác."
        )
    )
    assert buttons(harness.admin().last_message) == ["Hủy"]


async def test_the_preview_still_names_everyone_when_ten_or_fewer_cannot_be_reached(
    harness: BotHarness,
) -> None:
    order = await protocol_order(harness.services)
    group = [(code, name) for code, name in order if code in {"DB003", "DB004", "DB005", "DB006"}]
    user = await harness.open_invitation("DB003")
    await harness.send(user.tap("✅ Tham dự"))
    admin = harness.admin()
    await compose(harness, "Họp trù bị lúc 14:00.", "Theo nhóm thành phần…")
    label = "Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam thành phố"
    await harness.send(admin.tap(label[:60]))  # a button's label is cut at 60 characters
    names = ", ".join(f"{code} {name}" for code, name in group[1:])
    # The names belong to those off chat, not to «cần biết ngay».
    assert admin.last_text().endswith(
        "Sẽ gửi tới: 1 người.\n\n3 đại biểu chưa kết nối kênh nhắn tin nên sẽ không nhận được qua "
        f"tin nhắn: {names}. Các đồng chí này sẽ thấy thông báo khi truy cập trang cá nhân; đề "
        "nghị gọi điện cho những đồng chí cần biết ngay."
    )
    assert (await harness.services.reports.counts()).overall.by_status[RsvpStatus.ATTENDING] == 1


@pytest.mark.parametrize(
    "config", [load_config(EXAMPLE_CONFIG).config.model_copy(update={"web": None})]
)
async def test_with_no_personal_pages_the_preview_says_those_off_chat_will_not_get_it(
    harness: BotHarness,
) -> None:
    await harness.open_invitation("DB003")
    await compose(harness, "Họp trù bị lúc 14:00.", "Đại biểu chưa trả lời")
    assert (
        "Sẽ gửi tới: 1 người.\n\n79 đại biểu chưa kết nối kênh nhắn tin nên sẽ không nhận được (đề "
        "nghị gọi điện), trong đó có "
    ) in harness.admin().last_text()
