"""Tham luận on the dashboard in a real Chromium (1366×768, then a phone): sign in, open a
speaker's draft and read it, comment, and see the speaker's answer (made through the same
service the chat and the personal page use) arrive in the thread without a reload. Each page is
saved to ``out/screenshots/office-draft*.png`` and checked by axe-core."""

from __future__ import annotations

from typing import Any

from bot.domain.channels import ChatAccount
from bot.services.drafts import DraftStep
from tests.browser import test_office_dashboard as shared
from tests.browser.conftest import PHONE, Browser
from tests.browser.test_office_dashboard import (
    Dashboard,
    asyncio_run,
    element_text,
    no_accessibility_problems,
)

# The dashboard's fixtures, shared: pytest finds them under these names.
dashboard, desk, desk_driver = shared.dashboard, shared.desk, shared.desk_driver

SPEAKER = "DB031"
REPLY = "Tôi sẽ bổ sung số liệu năm 2023 trong bản 2."


async def speaker_with_a_draft(dashboard: Dashboard) -> tuple[ChatAccount, int]:
    """``SPEAKER`` opens their personal page and types a draft there: version 1."""
    services = dashboard.services
    token = {link.code: link.token for link in await services.invitations.links()}[SPEAKER]
    opened = await services.invitations.open_page(token, channel="web", client="test")
    assert opened.account is not None
    [line] = [line for line in await services.drafts.board() if line.code == SPEAKER]
    text = "Kính thưa Đoàn Chủ tịch,\nPhụ nữ Thủ đô đã đạt nhiều kết quả."
    stored = await services.drafts.store_typed(opened.account, line.id, text)
    assert stored.step is DraftStep.RECEIVED
    return opened.account, line.id


async def test_staff_read_a_draft_comment_and_see_the_speakers_answer_arrive(
    dashboard: Dashboard,
    desk: Browser,
) -> None:
    account, assignment = await speaker_with_a_draft(dashboard)
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.press("Tham luận")
    assert (await element_text(desk, f"draft-{assignment}-status")).startswith(
        "đã gửi bản 1, chờ Văn phòng xem"
    )
    await desk.screenshot("office-drafts")
    await no_accessibility_problems(desk)

    await desk.press("Nguyễn Thị Lan Phương")
    assert await element_text(desk, "draft-text") == (
        "Kính thưa Đoàn Chủ tịch,\nPhụ nữ Thủ đô đã đạt nhiều kết quả."
    )
    await desk.fill(
        "Góp ý gửi người viết (tối đa 3.000 ký tự); người viết nhận qua kênh trò chuyện của mình.",
        "Đề nghị bổ sung số liệu năm 2023.",
    )
    await desk.press("Gửi góp ý")
    # She answers on her personal page only: the comment waits for her there, and the office
    # is asked to phone her.
    assert (await element_text(desk, "flash")).startswith(
        "Đã lưu góp ý cho đồng chí Nguyễn Thị Lan Phương"
    )

    # The speaker answers (as the chat and the personal page do); the open page shows it.
    drafts = dashboard.services.drafts
    assert (await drafts.begin_reply(account, assignment)).step is DraftStep.ASK_REPLY
    answered = await drafts.reply_from_speaker(account, REPLY, event_id="b1", replied_to=None)
    assert answered.step is DraftStep.RELAYED
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    def arrived() -> None:
        driver = desk.driver
        page = driver.find_element(By.TAG_NAME, "html")
        # The page's script looks again when the page comes into view, as it does on a timer.
        driver.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
        WebDriverWait(driver, 20).until(lambda d: REPLY in d.find_element(By.ID, "live").text)
        assert driver.find_element(By.TAG_NAME, "html") == page  # the same page: no reload

    await asyncio_run(desk, arrived)
    await asyncio_run(
        desk,
        lambda: desk.driver.execute_script("document.getElementById('reading').scrollIntoView()"),
    )
    await desk.screenshot("office-draft")
    await no_accessibility_problems(desk)

    await desk.press("Chốt bản 1")
    assert (await element_text(desk, "draft-status")) == "đã chốt bản 1"
    await desk.press("Chốt bản 1")  # a second press
    assert (await element_text(desk, "flash")) == (
        "Tham luận này đã ở trạng thái «đã chốt»; không có gì thay đổi."
    )


async def test_a_draft_on_a_phone(dashboard: Dashboard, browser: Browser) -> None:
    _, assignment = await speaker_with_a_draft(dashboard)
    await browser.open(await dashboard.signin_link())
    await browser.press("Đăng nhập")
    await browser.open(dashboard.url(f"drafts/{assignment}"))
    await browser.screenshot("office-draft-phone")
    await no_accessibility_problems(browser)
    width: Any = await asyncio_run(
        browser, lambda: browser.driver.execute_script("return document.body.scrollWidth")
    )
    assert width <= PHONE[0]  # nothing wider than the screen


async def test_staff_assign_a_speaker_on_the_board_and_see_them_listed(
    dashboard: Dashboard, desk: Browser
) -> None:
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.press("Tham luận")
    await desk.fill("Mã đại biểu (cột Mã của danh sách, ví dụ DB031)", "db032")

    def choose_theme() -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.select import Select

        Select(desk.driver.find_element(By.ID, "assign-theme")).select_by_value("2.3")

    await asyncio_run(desk, choose_theme)
    await desk.press("Phân công")
    assert (await element_text(desk, "flash")).startswith(
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 2.3;"
    )
    [line] = [line for line in await dashboard.services.drafts.board() if line.code == "DB032"]
    row = await element_text(desk, f"draft-{line.id}")
    assert row.startswith("Trần Thị Hồng Vân\nHội LHPN quận Hoàn Kiếm\nHủy phân công")
    await desk.screenshot("office-drafts-assigned")
    await no_accessibility_problems(desk)

    # Withdrawn again, after its confirmation.
    await desk.open(dashboard.url(f"drafts/{line.id}/unassign"))
    await no_accessibility_problems(desk)
    assert await desk.empty_lines() == []
    await desk.press("Hủy phân công")
    assert (await element_text(desk, "flash")).startswith(
        "Đã hủy phân công tham luận chủ đề 2.3 của đồng chí Trần Thị Hồng Vân"
    )


async def test_staff_withdraw_a_speaker_who_sent_a_draft_and_find_it_apart_on_the_board(
    dashboard: Dashboard, desk: Browser
) -> None:
    _, assignment = await speaker_with_a_draft(dashboard)
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(dashboard.url(f"drafts/{assignment}/unassign"))
    assert (await element_text(desk, "unassign-kept")).startswith(
        "Đồng chí đã gửi 1 bản. Các bản đó và trao đổi với Văn phòng được giữ nguyên"
    )
    await no_accessibility_problems(desk)
    assert await desk.empty_lines() == []
    await desk.press("Hủy phân công")
    assert (await element_text(desk, "flash")).startswith(
        "Đã hủy phân công tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận"
        " Ba Đình); 1 bản đã gửi vẫn được giữ"
    )
    assert await element_text(desk, f"withdrawn-{assignment}") == (
        "Nguyễn Thị Lan Phương\nHội LHPN quận Ba Đình Đã hủy phân công — 1 bản đã gửi\nTải bản 1"
    )
    await desk.screenshot("office-drafts-withdrawn")
    await no_accessibility_problems(desk)
    await desk.press("Nguyễn Thị Lan Phương")
    assert (await element_text(desk, "draft-withdrawn")).startswith(
        "Văn phòng đã hủy phân công tham luận này; 1 bản đã gửi"
    )
    await no_accessibility_problems(desk)
