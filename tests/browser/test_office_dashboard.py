"""The office's dashboard in a real Chromium on an office screen (1366×768), served by uvicorn
on loopback: sign in with a one-time link, read the overview, find a delegate without typing
diacritics, record their answer taken by phone, and see the overview's count change without a
reload. Each page is saved to ``out/screenshots/office-*.png`` and checked by axe-core."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import pytest

from bot.domain.channels import ChatAccount
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services import Services
from handlers.web.app import build_web_app
from handlers.web.server import serving
from tests.browser.conftest import (
    AXE,
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    PHONE,
    Browser,
)
from tests.office_support import STAFF, make_staff
from tests.web_support import web_setup

DESK = (1366, 768)


@dataclass
class Dashboard:
    """The web application on a real port, and the services behind it."""

    services: Services
    port: int

    def url(self, path: str = "") -> str:
        """An address of the dashboard on this server."""
        return f"http://127.0.0.1:{self.port}/office/{path}"

    async def signin_link(self) -> str:
        """A fresh one-time link for the staff member, as ``hoinghi staff login`` prints it."""
        link = await self.services.signin.link_for_code(STAFF)
        assert link.secret is not None
        return self.url(f"signin/{link.secret}")


@pytest.fixture
async def dashboard(imported: Services) -> AsyncIterator[Dashboard]:
    await make_staff(imported)
    with socket.socket() as probe:  # forms are checked against the server's own address
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    setup = web_setup(imported)
    setup = replace(
        setup, settings=setup.settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    )
    async with serving(build_web_app(setup), host="127.0.0.1", port=port):
        yield Dashboard(imported, port)


@pytest.fixture(scope="module")
def desk_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium the size of an office screen (the session's one is a phone)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists() or not AXE.exists():
        pytest.fail("the browser is not installed: run `make test-browser` (scripts/browser-deps)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager stays offline
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-desk')}")
    options.add_argument(f"--window-size={DESK[0]},{DESK[1]}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    # The window's size includes no browser frame in headless mode: the page gets 1366×768.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": DESK[0], "height": DESK[1], "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def desk(desk_driver: Any) -> Browser:
    """The office screen's Chromium, with no cookies from an earlier test."""
    desk_driver.delete_all_cookies()
    return Browser(desk_driver)


async def no_accessibility_problems(browser: Browser) -> None:
    assert [str(violation) for violation in await browser.axe()] == []


async def element_text(browser: Browser, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(
        await asyncio_run(browser, lambda: browser.driver.find_element(By.ID, element_id).text)
    )


async def asyncio_run(browser: Browser, call: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(call)


async def test_staff_sign_in_find_a_delegate_record_a_phone_answer_and_watch_the_count(
    dashboard: Dashboard, desk: Browser
) -> None:
    await desk.open(dashboard.url())
    assert "/dangnhap" in await desk.text()
    await desk.screenshot("office-signin")
    await no_accessibility_problems(desk)

    await desk.open(await dashboard.signin_link())
    await desk.screenshot("office-signin-confirm")
    await desk.press("Đăng nhập")
    assert desk.url == dashboard.url()
    assert await element_text(desk, "count-total") == "80"
    await desk.screenshot("office-overview")
    await no_accessibility_problems(desk)

    await desk.press("Đại biểu")
    lines = await asyncio_run(
        desk,
        lambda: desk.driver.execute_script(
            "const range = document.createRange();"
            " range.selectNodeContents(document.querySelector('#delegates tbody td:nth-child(5)'));"
            " return [range.toString(), range.getClientRects().length]"
        ),
    )
    assert lines == ["Chưa trả lời", 1]  # on one line at a desk's width, not «Chưa trả / lời»
    await desk.fill(
        "Tìm theo tên, mã, đơn vị, số điện thoại hoặc tên người dự thay", "nguyen thi thanh nhan"
    )
    await desk.press("Lọc")
    assert await element_text(desk, "found") == "Có 1 đại biểu phù hợp."
    await desk.screenshot("office-delegates-search")
    await no_accessibility_problems(desk)

    await desk.press("Nguyễn Thị Thanh Nhàn")
    await desk.choose("Tham dự")
    await desk.press("Ghi nhận")
    assert "Đã ghi nhận trả lời qua điện thoại" in await element_text(desk, "flash")
    assert "Văn phòng ghi nhận qua điện thoại" in await element_text(desk, "history")
    await desk.screenshot("office-delegate-phone")
    await no_accessibility_problems(desk)

    # The overview, left open, shows another staff member's answer without a reload.
    await desk.open(dashboard.url())
    assert await element_text(desk, "count-attending") == "1"
    services = dashboard.services
    other = await services.dashboard.card("DB010")
    actor = await services.access.office_person(
        (await services.dashboard.card(STAFF)).person.id  # type: ignore[union-attr]
    )
    assert other is not None and actor is not None
    await services.rsvp.record_by_phone(actor, other.person.id, RsvpAnswer(RsvpStatus.ATTENDING))
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    def refreshed() -> None:
        driver = desk.driver
        page = driver.find_element(By.TAG_NAME, "html")
        # The page's script refreshes when the page comes into view, as it does on a timer.
        driver.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
        WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.ID, "count-attending").text == "2"
        )
        assert driver.find_element(By.TAG_NAME, "html") == page  # the same page: no reload

    await asyncio_run(desk, refreshed)
    await desk.screenshot("office-overview-live")

    await desk.press("Phiên đăng nhập")
    await desk.screenshot("office-sessions")
    await no_accessibility_problems(desk)
    await desk.press("Đăng xuất ở mọi nơi")
    assert (
        "Đồng chí đã đăng xuất phiên đăng nhập trên trình duyệt này (không còn phiên nào khác)"
        in await desk.text()
    )
    await desk.screenshot("office-signed-out-everywhere")
    await no_accessibility_problems(desk)


async def _group_table_on_a_phone(browser: Browser, section: str) -> tuple[int, str, str]:
    """What hides sideways in a section's table region (px), and how its first group's name
    and a count are laid out."""
    from selenium.webdriver.common.by import By

    def layout() -> tuple[int, str, str]:
        driver = browser.driver
        region = driver.find_element(By.CSS_SELECTOR, f"#{section} .scroll")
        name = driver.find_element(By.CSS_SELECTOR, f"#{section} tbody th")
        count = driver.find_element(By.CSS_SELECTOR, f"#{section} tbody td")
        script = "return getComputedStyle(arguments[0]).display"
        return (
            int(
                driver.execute_script(
                    "return arguments[0].scrollWidth - arguments[0].clientWidth", region
                )
            ),
            str(driver.execute_script(script, name)),
            str(driver.execute_script(script, count)),
        )

    return await asyncio_run(browser, layout)


async def test_the_overview_on_a_phone_shows_each_group_s_counts_under_its_name_without_sideways_scrolling(
    dashboard: Dashboard, browser: Browser
) -> None:
    await browser.open(await dashboard.signin_link())
    await browser.press("Đăng nhập")
    await browser.screenshot("office-overview-phone")
    await no_accessibility_problems(browser)
    width = await asyncio_run(
        browser, lambda: browser.driver.execute_script("return document.body.scrollWidth")
    )
    assert width <= PHONE[0]  # nothing wider than the screen
    # The groups' table: the name on a line of its own, the counts wrapped under it, no
    # column scrolled out of sight (it was a name broken one word a line and a hidden column).
    assert await _group_table_on_a_phone(browser, "groups") == (0, "block", "inline-block")
    await asyncio_run(
        browser,
        lambda: browser.driver.execute_script("document.getElementById('groups').scrollIntoView()"),
    )
    await browser.screenshot("office-overview-groups-phone")
    await browser.open(dashboard.url("attendance"))
    assert await _group_table_on_a_phone(browser, "att-groups") == (0, "block", "inline-block")
    await browser.open(dashboard.url("delegates"))
    stacked = await asyncio_run(
        browser,
        lambda: browser.driver.execute_script(
            "const r = document.querySelector('#delegates').closest('.scroll');"
            " const head = document.querySelector('#delegates thead');"
            " return [r.scrollWidth - r.clientWidth, getComputedStyle(head).display]"
        ),
    )
    assert stacked == [0, "none"]  # each delegate a block of «Heading: value» lines
    await browser.screenshot("office-delegates-phone")
    await browser.screenshot("office-attendance-phone")


async def test_on_a_phone_the_navigation_is_a_closed_menu_the_keyboard_opens(
    dashboard: Dashboard, browser: Browser, desk: Browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    await browser.open(await dashboard.signin_link())
    await browser.press("Đăng nhập")
    driver = browser.driver

    def links_shown() -> list[str]:
        found = driver.find_elements(By.CSS_SELECTOR, "header nav a")
        return [a.text.strip() for a in found if a.is_displayed()]

    def menu_height() -> int:
        return int(driver.find_element(By.TAG_NAME, "header").size["height"])

    assert await asyncio_run(browser, links_shown) == []  # closed: the page comes first
    closed_height = await asyncio_run(browser, menu_height)
    assert closed_height < PHONE[1] // 5, closed_height
    await browser.screenshot("office-menu-phone-closed")
    await no_accessibility_problems(browser)

    def open_by_keyboard() -> None:
        toggle = driver.find_element(By.ID, "menu-toggle")
        toggle.send_keys(Keys.ENTER)  # a <summary>: focusable and opened by the keyboard

    await asyncio_run(browser, open_by_keyboard)
    shown = await asyncio_run(browser, links_shown)
    # The twelve pages, and «Phiên đăng nhập», which a desk screen shows beside the name.
    assert (len(shown), shown[1], shown[-1]) == (13, "Đại biểu", "Phiên đăng nhập")
    await browser.screenshot("office-menu-phone-open")
    await no_accessibility_problems(browser)
    await browser.press("Đại biểu")
    assert browser.url == dashboard.url("delegates")
    assert await asyncio_run(browser, links_shown) == []  # the next page starts closed again

    # On a desk screen the same navigation is the full bar: every link shown, no menu button.
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    toggle_shown = await asyncio_run(
        desk, lambda: desk.driver.find_element(By.ID, "menu-toggle").is_displayed()
    )
    desk_links = await asyncio_run(
        desk,
        lambda: [a.text.strip() for a in desk.driver.find_elements(By.CSS_SELECTOR, "header nav a")
                 if a.is_displayed()],
    )  # fmt: skip
    assert not toggle_shown and desk_links == shown[:-1]  # the same twelve, once


async def test_on_an_office_laptop_the_bar_s_sections_and_sign_out_stay_on_one_row(
    dashboard: Dashboard, desk: Browser
) -> None:
    """At 1366×768, the most common office laptop, the bar is one row: every section and
    «Đăng xuất» side by side, under a slim strip with the dashboard's and the meeting's name,
    and the staff member's with «Phiên đăng nhập» — on the page whose link is underlined as the
    current one."""
    from selenium.webdriver.common.by import By

    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.press("Nhật ký")
    driver = desk.driver

    def boxes(selector: str) -> list[tuple[str, float, float, float, float]]:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        return [
            (e.text.strip(), e.rect["y"], e.rect["y"] + e.rect["height"], e.rect["x"],
             e.rect["x"] + e.rect["width"])
            for e in found if e.is_displayed()
        ]  # fmt: skip

    await desk.screenshot("office-bar-laptop")  # before the checks: what failed is seen
    bar = await asyncio_run(desk, lambda: boxes("header nav ul.full li, header #signout"))
    assert [name for name, *_ in bar] == [
        "Tổng quan", "Đại biểu", "Nhập danh sách", "Thông báo", "Nhiệm vụ", "Tham luận",
        "Tài liệu", "Giấy mời và báo cáo", "Điểm danh", "Có mặt", "Nhật ký", "Cán bộ",
        "Đăng xuất",
    ]  # fmt: skip
    # One row: a horizontal line crosses every item, and each starts after the one before.
    assert max(top for _, top, *_ in bar) < min(bottom for _, _, bottom, *_ in bar), bar
    ends = [(left, right) for *_, left, right in bar]
    assert all(right <= after for (_, right), (after, _) in pairwise(ends)), bar
    strip = await asyncio_run(desk, lambda: boxes("header .strip .brand, header .strip .me > *"))
    assert [name for name, *_ in strip] == [
        "Trang điều hành của Văn phòng · Hội nghị sơ kết giữa nhiệm kỳ Hội LHPN Hà Nội",
        "Phạm Thị Thanh Mai", "Phiên đăng nhập",
    ]  # fmt: skip
    # The strip is one line above the bar: the top takes at most an eighth of the screen
    # (it took three rows, 118 px, when the bar wrapped).
    assert max(top for _, top, *_ in strip) < min(bottom for _, _, bottom, *_ in strip), strip
    assert max(bottom for _, _, bottom, *_ in strip) <= min(top for _, top, *_ in bar)
    height = await asyncio_run(
        desk, lambda: driver.find_element(By.TAG_NAME, "header").size["height"]
    )
    assert height <= DESK[1] // 8, height
    width = await asyncio_run(
        desk, lambda: driver.execute_script("return document.documentElement.scrollWidth")
    )
    assert width <= DESK[0]  # nothing pushed past the screen's edge instead
    await no_accessibility_problems(desk)


async def test_staff_import_a_list_with_an_error_then_a_good_one_send_a_notice_and_download(
    dashboard: Dashboard, desk: Browser, tmp_path: Any
) -> None:
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")

    await desk.press("Nhập danh sách")
    await no_accessibility_problems(desk)
    assert await desk.empty_lines() == []  # its lists of columns and groups
    header = "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại,Thứ tự\n"
    bad = tmp_path / "danh-sach-loi.csv"
    bad.write_text(header + "DB090,Trần Thị Mới,Chuyên viên,Văn phòng Hội,khong_co,,1\n", "utf-8")
    await desk.attach("Tệp danh sách (.csv hoặc .xlsx)", bad)
    await desk.press("Đọc và kiểm tra")
    assert "Dòng 2, cột «Nhóm»" in await element_text(desk, "problems")
    await desk.screenshot("office-import-problems")
    await no_accessibility_problems(desk)
    good = tmp_path / "danh-sach.csv"
    good.write_text(
        header + "DB090,Trần Thị Mới,Chuyên viên,Văn phòng Hội,trung_uong_hoi,,9\n", "utf-8"
    )
    await desk.attach("Tệp danh sách (.csv hoặc .xlsx)", good)
    await desk.press("Đọc và kiểm tra")
    assert await element_text(desk, "count-added") == "1"
    await desk.screenshot("office-import-preview")
    await no_accessibility_problems(desk)
    await desk.press("Nhập danh sách này")
    assert "thêm mới 1" in await element_text(desk, "flash")

    services = dashboard.services
    token = {link.code: link.token for link in await services.invitations.links()}["DB010"]
    await services.invitations.link_by_token(ChatAccount("telegram", "610", "610"), token)
    await desk.press("Thông báo")
    await desk.fill("Nội dung thông báo (tối đa 3.500 ký tự)", "Kính mời các đồng chí dự họp.")
    await desk.choose("Mọi khách mời (người chưa liên kết được liệt kê để gọi điện)")
    await desk.press("Xem trước")
    assert "Sẽ gửi tới: 1 người." in await element_text(desk, "notice-count")
    assert "(80)" in await element_text(desk, "to-call-title")
    await desk.screenshot("office-notice-preview")
    await no_accessibility_problems(desk)
    await desk.press("Xác nhận gửi")
    assert "Đã xếp thông báo số 1" in await element_text(desk, "flash")
    await desk.screenshot("office-notices")
    await no_accessibility_problems(desk)

    await desk.press("Giấy mời và báo cáo")
    assert "81 người" in await element_text(desk, "download-links")
    await desk.screenshot("office-invitations")
    await no_accessibility_problems(desk)


async def test_a_notice_typed_past_the_limit_keeps_its_end_and_the_preview_says_its_length(
    dashboard: Dashboard, desk: Browser
) -> None:
    # Typed (as a paste arrives) into the box in a real browser: a maxlength would have kept
    # the first 3,500 characters and dropped the last sentence unsaid.
    from selenium.webdriver.common.by import By

    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.press("Thông báo")
    last = "CÂU CUỐI QUAN TRỌNG: họp lúc 07:30."
    body = "Kính gửi các đồng chí đại biểu. " * 110 + last
    await desk.fill("Nội dung thông báo (tối đa 3.500 ký tự)", body)

    def typed() -> str:
        return str(desk.driver.find_element(By.ID, "notice-body").get_attribute("value"))

    assert await asyncio_run(desk, typed) == body
    await desk.press("Xem trước")
    assert (await element_text(desk, "notice-error")).startswith(
        "Nội dung dài 3.555 ký tự, quá giới hạn 3.500 ký tự nên chưa xem trước được."
    )
    assert await asyncio_run(desk, typed) == body
    await desk.screenshot("office-notice-too-long")
    await no_accessibility_problems(desk)


async def test_the_notices_report_fits_a_phone_a_row_per_notice_with_its_figures_labelled(
    dashboard: Dashboard, browser: Browser
) -> None:
    services = dashboard.services
    office = services.access.local_operator()
    broadcasts = services.broadcasts
    for text, later in (("Kính mời các đồng chí dự họp.", False), ("Nhắc mang thẻ.", True)):
        await broadcasts.start(office)
        shown = await broadcasts.accept_text(office, text)
        assert shown is not None and shown.message_id is not None
        await broadcasts.choose_audience(office, shown.message_id, "everyone")
        if later:  # scheduled, then cancelled: its row says so in a sentence
            await broadcasts.schedule(office, shown.message_id, "08:00 20/5")
            await broadcasts.cancel(office, shown.message_id)
        else:
            await broadcasts.send_now(office, shown.message_id)
    await browser.open(await dashboard.signin_link())
    await browser.press("Đăng nhập")
    await browser.open(dashboard.url("notices"))
    await browser.screenshot("office-notices-phone")
    await no_accessibility_problems(browser)

    def measured() -> tuple[int, bool, str]:
        driver = browser.driver
        cancelled = driver.find_element(By.CSS_SELECTOR, "[id$='-cancelled']")
        inside = driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return r.left >= 0 && r.right <= window.innerWidth;",
            cancelled,
        )
        number = driver.find_element(By.CSS_SELECTOR, "#reports tbody td")
        label = driver.execute_script(
            "return getComputedStyle(arguments[0], '::before').content", number
        )
        return int(driver.execute_script("return document.body.scrollWidth")), inside, label

    from selenium.webdriver.common.by import By

    width, inside, label = await asyncio_run(browser, measured)
    # No sideways scrolling (the table was 486 px in 375): each notice a block of labelled
    # lines, the cancelled one's sentence whole on the screen.
    assert width <= PHONE[0]
    assert inside
    assert label == '"Số: "'


async def test_staff_open_the_task_board_and_close_a_task_from_the_keyboard(
    dashboard: Dashboard, desk: Browser, browser: Browser
) -> None:
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.press("Nhiệm vụ")
    assert desk.url == dashboard.url("tasks")
    await desk.screenshot("office-tasks")
    await no_accessibility_problems(desk)

    task = next(line for line in await dashboard.services.tasks.office_board() if not line.closed)
    await desk.open(dashboard.url(f"tasks/{task.id}"))
    await desk.fill("Ghi chú (không bắt buộc, tối đa 500 ký tự)", "Đã xong qua giao ban")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.wait import WebDriverWait

    def close_by_keyboard() -> None:
        driver = desk.driver
        driver.find_element(By.ID, "close-note").send_keys(Keys.TAB)  # to «Kết thúc theo dõi»
        assert driver.switch_to.active_element.get_attribute("id") == "close"
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "flash"))

    await asyncio_run(desk, close_by_keyboard)
    assert (await element_text(desk, "flash")).startswith(
        f"Đã kết thúc theo dõi nhiệm vụ {task.key}"
    )
    assert await element_text(desk, "task-state") == "đã kết thúc theo dõi"
    assert "Đã xong qua giao ban" in await element_text(desk, "history")
    await desk.screenshot("office-task-closed")
    await no_accessibility_problems(desk)

    await browser.open(await dashboard.signin_link())  # the same pages on a phone
    await browser.press("Đăng nhập")
    for path in ("tasks", f"tasks/{task.id}"):
        await browser.open(dashboard.url(path))
        width = await asyncio_run(
            browser, lambda: browser.driver.execute_script("return document.body.scrollWidth")
        )
        assert width <= PHONE[0], path
    await browser.open(dashboard.url("tasks"))
    stacked = await asyncio_run(
        browser,
        lambda: browser.driver.execute_script(
            "const r = document.querySelector('#tasks').closest('.scroll');"
            " const head = document.querySelector('#tasks thead');"
            " return [r.scrollWidth - r.clientWidth, getComputedStyle(head).display]"
        ),
    )
    assert stacked == [0, "none"]  # the board's rows stacked, «Heading: value», nothing hidden
    await browser.screenshot("office-task-phone")


async def test_staff_record_a_report_given_by_phone_on_a_tasks_page(
    dashboard: Dashboard, desk: Browser, browser: Browser, tmp_path: Any
) -> None:
    tasks = dashboard.services.tasks
    task = next(line for line in await tasks.office_board() if line.key == "VI.2")
    chair = task.assignments[0]  # the district task: a hundred chairs' forms on one page
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(dashboard.url(f"tasks/{task.id}"))
    report = tmp_path / "Báo cáo quận.pdf"
    report.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    from selenium.webdriver.common.by import By

    def open_the_form() -> None:
        desk.driver.find_element(By.CSS_SELECTOR, f"#record-{chair.code} > summary").click()

    await asyncio_run(desk, open_the_form)
    await desk.screenshot("office-task-record")
    await no_accessibility_problems(desk)
    label = "Cách nhận báo cáo (không bắt buộc, tối đa 500 ký tự), ví dụ: qua điện thoại"
    await desk.fill(label, "qua điện thoại")
    await desk.attach("Tệp sản phẩm (không bắt buộc, tối đa 20 MB)", report)

    await desk.press_in(f"#record-submit-{chair.code}")
    assert await element_text(desk, "flash") == (
        f"Đã ghi nhận đồng chí {chair.full_name} báo cáo hoàn thành nhiệm vụ VI.2; "
        "đồng chí ấy không còn nhận nhắc hạn nhiệm vụ này."
    )
    line = await element_text(desk, f"person-{chair.code}")
    assert "đã hoàn thành · Văn phòng ghi nhận (qua điện thoại) lúc " in line
    assert "Báo cáo quận.pdf" in await element_text(desk, "files")
    await desk.screenshot("office-task-recorded")
    await no_accessibility_problems(desk)

    # Recorded for the wrong chair: undone from the same line.
    await desk.press_in(f"#unrecord-{chair.code}")
    assert (await element_text(desk, "flash")).startswith("Đã hủy ghi nhận")
    assert "chưa báo cáo" in await element_text(desk, f"person-{chair.code}")
    assert "Báo cáo quận.pdf" not in await element_text(desk, "files")

    await browser.open(await dashboard.signin_link())  # the forms on a phone
    await browser.press("Đăng nhập")
    await browser.open(dashboard.url(f"tasks/{task.id}"))
    second = task.assignments[1]

    def open_on_the_phone() -> int:
        driver = browser.driver
        driver.find_element(By.CSS_SELECTOR, f"#record-{second.code} > summary").click()
        return int(driver.execute_script("return document.body.scrollWidth"))

    assert await asyncio_run(browser, open_on_the_phone) <= PHONE[0]
    await browser.screenshot("office-task-record-phone")


async def test_staff_copy_a_delegates_invitation_and_mark_it_sent(
    dashboard: Dashboard, desk: Browser
) -> None:
    from selenium.webdriver.common.by import By

    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(dashboard.url("delegates/DB010"))
    message = await asyncio_run(
        desk, lambda: desk.driver.find_element(By.ID, "invite-message").get_attribute("value")
    )
    assert str(message).startswith(
        "Kính gửi đồng chí Trịnh Văn Thắng,\nBan Thường vụ Hội Liên hiệp Phụ nữ thành phố Hà Nội"
    )
    zalo = await asyncio_run(
        desk, lambda: desk.driver.find_element(By.ID, "invite-zalo").get_attribute("href")
    )
    assert zalo == "https://zalo.me/0773010519"
    copy = await asyncio_run(desk, lambda: desk.driver.find_element(By.ID, "invite-copy"))
    await asyncio_run(
        desk, lambda: desk.driver.execute_script("arguments[0].scrollIntoView()", copy)
    )
    assert await asyncio_run(desk, copy.is_displayed)  # the script shows «Sao chép»
    await asyncio_run(desk, copy.click)

    def copied() -> bool:
        from selenium.webdriver.support.wait import WebDriverWait

        return bool(WebDriverWait(desk.driver, 10).until(lambda _: copy.text == "Đã sao chép"))

    assert await asyncio_run(desk, copied)
    section = await asyncio_run(desk, lambda: desk.driver.find_element(By.ID, "invite-title"))
    await asyncio_run(
        desk, lambda: desk.driver.execute_script("arguments[0].scrollIntoView()", section)
    )
    await desk.screenshot("office-delegate-invitation")
    await no_accessibility_problems(desk)
    await desk.choose("Zalo")
    await desk.press("Đánh dấu đã gửi giấy mời")
    assert await element_text(desk, "invite-sent") == (
        "Đã gửi giấy mời qua Zalo lúc 09:00, 18/5, do Phạm Thị Thanh Mai đánh dấu."
    )
    sent = await asyncio_run(desk, lambda: desk.driver.find_element(By.ID, "invite-title"))
    await asyncio_run(
        desk, lambda: desk.driver.execute_script("arguments[0].scrollIntoView()", sent)
    )
    await desk.screenshot("office-delegate-invitation-sent")
    await no_accessibility_problems(desk)
    await desk.press("Bỏ đánh dấu")
    assert await element_text(desk, "invite-not-sent") == "Chưa đánh dấu đã gửi giấy mời."


async def test_staff_read_the_log_filtered_by_who_and_reissue_a_delegates_link(
    dashboard: Dashboard, desk: Browser
) -> None:
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(dashboard.url("delegates/DB010"))
    await desk.screenshot("office-delegate")
    await no_accessibility_problems(desk)
    await desk.press("Cấp lại đường liên kết…")
    assert (await element_text(desk, "reissue-what")).startswith("Cấp lại đường liên kết và mã")
    await desk.screenshot("office-delegate-reissue-confirm")
    await no_accessibility_problems(desk)
    await desk.press("Cấp lại đường liên kết")
    assert (await element_text(desk, "flash")).startswith("Đã cấp đường liên kết mới cho đồng chí")
    await desk.screenshot("office-delegate-reissued")
    await no_accessibility_problems(desk)

    await desk.press("Nhật ký")
    assert desk.url == dashboard.url("log")
    await desk.fill("Người thực hiện (mã)", "DB001")
    await desk.press("Lọc")
    assert "who=DB001" in desk.url
    entries = await element_text(desk, "log")
    # The re-issue just made, by the signed-in staff member, in words.
    assert "Phạm Thị Thanh Mai: cấp lại đường liên kết cá nhân (Trịnh Văn Thắng)" in entries
    await desk.screenshot("office-log")
    await no_accessibility_problems(desk)


@pytest.mark.parametrize("size", ["laptop", "phone"])
async def test_the_reissue_and_withdraw_confirmations_show_their_lines_without_empty_gaps(
    dashboard: Dashboard, desk: Browser, browser: Browser, size: str
) -> None:
    """The reissue confirmation's warning box (a box that keeps line breaks, holding
    paragraphs) showed each line break of its template as an empty line: gaps of a line
    between and around its sentences, at 1366×768 and on a phone. Its invitation marked
    sent and her page opened first, so that it says all three of its sentences."""
    seen = desk if size == "laptop" else browser
    services = dashboard.services
    office = services.access.local_operator()
    card = await services.dashboard.card("DB010")
    assert card is not None
    await services.invitations.mark_sent(
        office, "DB010", invitation=card.invitation_id, via="paper"
    )
    tokens = {link.code: link.token for link in await services.invitations.links()}
    await seen.open(f"http://127.0.0.1:{dashboard.port}/{tokens['DB010']}")  # her page opened
    await seen.open(await dashboard.signin_link())
    await seen.press("Đăng nhập")
    await seen.open(dashboard.url("delegates/DB010"))
    await seen.press("Cấp lại đường liên kết…")
    assert len(await _boxes(seen, "#reissue-stops p")) == 3
    await seen.screenshot(f"office-delegate-reissue-confirm-{size}")
    assert await seen.empty_lines() == []
    # Above its first sentence and between two: a paragraph's margin (16 px), no line more.
    above, *lines = await _boxes(seen, "#reissue-what, #reissue-stops p")
    gaps = [
        after["y"] - (before["y"] + before["height"]) for before, after in pairwise([above, *lines])
    ]
    assert max(gaps) <= 20, gaps
    await seen.open(dashboard.url("delegates/DB010"))
    await seen.press("Rút giấy mời…")
    await seen.screenshot(f"office-delegate-withdraw-confirm-{size}")
    assert await seen.empty_lines() == []


async def _boxes(browser: Browser, selector: str) -> list[dict[str, float]]:
    """Where the elements ``selector`` finds are on the page, in the page's order."""
    from selenium.webdriver.common.by import By

    def rects() -> list[dict[str, float]]:
        return [e.rect for e in browser.driver.find_elements(By.CSS_SELECTOR, selector)]

    return list(await asyncio_run(browser, rects))


async def test_the_office_publishes_a_document_and_hides_it_after_a_confirmation(
    dashboard: Dashboard, desk: Browser, tmp_path: Any
) -> None:
    from tests.samples import docx

    report = tmp_path / "Dự thảo báo cáo sơ kết.docx"
    report.write_bytes(docx("báo cáo"))
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.press("Tài liệu")
    assert desk.url == dashboard.url("documents")
    await desk.fill("Tiêu đề (bắt buộc, tối đa 200 ký tự)", "Dự thảo báo cáo sơ kết giữa nhiệm kỳ")
    await desk.attach(
        "Tệp tài liệu (PDF, Word, Excel, PowerPoint, ảnh JPG, PNG; tối đa 20 MB)", report
    )
    await desk.press("Đăng tài liệu")
    assert await element_text(desk, "flash") == (
        "Đã đăng tài liệu «Dự thảo báo cáo sơ kết giữa nhiệm kỳ» (Dự thảo báo cáo sơ kết.docx); "
        "tài liệu đã hiện trên trang cá nhân của đại biểu. Bot không tự báo cho đại biểu; nếu "
        "cần báo, đề nghị chọn Soạn thông báo về tài liệu này (nội dung soạn sẵn để sửa; đồng "
        "chí chọn người nhận, xem trước rồi mới gửi)."
    )
    await desk.screenshot("office-documents")
    await no_accessibility_problems(desk)
    # The notice about it, written in the composer to edit; nothing sent by following the link.
    await desk.press("Soạn thông báo về tài liệu này")
    assert desk.url.startswith(dashboard.url("notices?tailieu="))
    from selenium.webdriver.common.by import By

    written = await asyncio_run(
        desk, lambda: desk.driver.find_element(By.ID, "notice-body").get_attribute("value")
    )
    assert str(written).startswith(
        "Văn phòng trân trọng thông báo: tài liệu «Dự thảo báo cáo sơ kết giữa nhiệm kỳ» đã được"
        " đăng trên trang cá nhân của các đồng chí, mục «Tài liệu hội nghị»"
    )
    await desk.screenshot("office-document-notice")
    await no_accessibility_problems(desk)
    # Previewed and not sent: the link opened again asks before the draft's place is taken.
    composer = desk.url
    await desk.press("Xem trước")
    await desk.open(composer)
    assert (await element_text(desk, "notice-draft-kept")).startswith(
        "Đồng chí đang có một thông báo soạn dở, chưa gửi"
    )
    await desk.screenshot("office-document-notice-asked")
    await no_accessibility_problems(desk)
    await desk.press("Tài liệu")
    await desk.press("Ẩn")
    assert await desk.empty_lines() == []  # its confirmation
    await desk.press("Ẩn tài liệu")
    assert (await element_text(desk, "flash")).startswith("Đã ẩn tài liệu «Dự thảo báo cáo")
    assert await dashboard.services.documents.published() == []


async def test_the_approved_zip_link_followed_once_none_is_approved_shows_the_board_saying_so(
    dashboard: Dashboard, desk: Browser
) -> None:
    from bot.domain.drafts import DraftStatus

    services = dashboard.services
    token = {link.code: link.token for link in await services.invitations.links()}["DB031"]
    speaker = ChatAccount("telegram", "631", "631")
    await services.invitations.link_by_token(speaker, token)
    [line] = [line for line in await services.drafts.board() if line.code == "DB031"]
    await services.drafts.store_typed(speaker, line.id, "Kính thưa Đoàn Chủ tịch hội nghị,")
    [version] = await services.drafts.versions(line.id)
    card = await services.dashboard.card(STAFF)
    assert card is not None
    office = await services.access.office_person(card.person.id)
    assert office is not None
    await services.drafts.set_verdict(office, version.id, DraftStatus.FINAL)
    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(dashboard.url("drafts"))
    assert (await element_text(desk, "download-approved")).startswith("Tải các bản đã chốt (.zip)")

    # The only approved speech is withdrawn after the board was drawn: the link now answers
    # the board with the sentence, which Chromium shows instead of saving it as drafts.html.
    await services.drafts.unassign(office, "DB031", line.theme_key)
    await desk.press("Tải các bản đã chốt (.zip)")
    assert desk.url.startswith(dashboard.url("drafts?f="))
    assert await element_text(desk, "flash") == (
        "Chưa có tham luận nào được chốt nên chưa có bản nào để tải. Khi Văn phòng chốt một"
        " bản, bản đó sẽ có trong tệp nén."
    )
    assert await element_text(desk, "download-approved") == (
        "Chưa có tham luận nào được chốt nên chưa có bản nào để tải. Khi Văn phòng chốt một"
        " bản, bản đó sẽ có trong tệp nén."
    )


async def test_a_document_with_a_long_unbroken_name_keeps_its_buttons_on_the_screen(
    dashboard: Dashboard, desk: Browser, browser: Browser
) -> None:
    from selenium.webdriver.common.by import By

    name = "Du_thao_bao_cao_so_ket_giua_nhiem_ky_Hoi_LHPN_Ha_Noi_lan_2_ban_chinh_thuc_final.pdf"
    office = dashboard.services.access.local_operator()
    pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
    hidden = await dashboard.services.documents.publish(
        office, title=name, note=name, name=name, content=pdf
    )
    assert hidden.document is not None
    await dashboard.services.documents.hide(office, hidden.document.id)
    shown = await dashboard.services.documents.publish(
        office, title=name + "_2", note="", name="2" + name, content=pdf + b"\n"
    )
    assert shown.document is not None
    for screen, (width, _) in ((desk, DESK), (browser, PHONE)):
        await screen.open(await dashboard.signin_link())
        await screen.press("Đăng nhập")
        await screen.open(dashboard.url("documents"))

        def measure(driver: Any = screen.driver) -> tuple[int, int, float, float]:
            return (
                driver.execute_script("return document.documentElement.scrollWidth"),
                driver.find_element(By.CLASS_NAME, "scroll").get_property("scrollWidth"),
                driver.find_element(By.ID, f"hide-{shown.document.id}").rect["x"],
                driver.find_element(By.ID, f"show-{hidden.document.id}").rect["x"],
            )

        page, table, hide, show = await asyncio_run(screen, measure)
        assert page <= width and table <= width, (page, table)
        assert hide < width and show < width, (hide, show)  # «Ẩn» and «Đăng lại» on the screen


async def test_staff_choose_everyone_on_the_list_untick_one_and_mark_them_sent_on_paper(
    dashboard: Dashboard, desk: Browser
) -> None:
    from selenium.webdriver.common.by import By

    await desk.open(await dashboard.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(dashboard.url("delegates?sent=no"))
    unsent = await dashboard.services.dashboard.unsent()

    def ticked() -> list[bool]:
        boxes = desk.driver.find_elements(By.CSS_SELECTOR, "input[name=code]")
        return [bool(box.is_selected()) for box in boxes]

    # The script makes «Chọn tất cả trên trang này» tick every row, and unticking a row
    # unticks it.
    await desk.choose("Chọn tất cả trên trang này")
    assert await asyncio_run(desk, ticked) == [True] * unsent
    first = await asyncio_run(desk, lambda: desk.driver.find_element(By.ID, "pick-DB001"))
    await asyncio_run(desk, first.click)
    everyone = await asyncio_run(desk, lambda: desk.driver.find_element(By.ID, "bulk-all"))
    assert not await asyncio_run(desk, everyone.is_selected)
    assert (await asyncio_run(desk, ticked)).count(True) == unsent - 1

    # The ways and the button are in the bar beside «Chọn tất cả», and stay in view at the
    # desk's width when the clerk scrolls down to the last rows.
    def button_in_view(where: str) -> bool:
        button = desk.driver.find_element(By.ID, "bulk-sent-button")
        return bool(
            desk.driver.execute_script(
                f"window.scrollTo(0, {where});"
                "var r = arguments[0].getBoundingClientRect();"
                "return r.top >= 0 && r.bottom <= window.innerHeight;",
                button,
            )
        )

    top, middle = "document.getElementById('bulk-all').offsetTop", "document.body.scrollHeight / 2"
    assert await asyncio_run(desk, lambda: button_in_view(top))
    assert await asyncio_run(desk, lambda: button_in_view(middle))

    # Pressed with no way chosen, the browser stops it (ticks kept) with the page's sentence.
    def refused() -> str:
        before = desk.driver.current_url
        desk.driver.find_element(By.ID, "bulk-sent-button").click()
        assert desk.driver.current_url == before
        paper = desk.driver.find_element(By.ID, "bulk-paper")
        return str(desk.driver.execute_script("return arguments[0].validationMessage", paper))

    assert await asyncio_run(desk, refused) == "Đề nghị đồng chí chọn cách đã gửi giấy mời."
    assert (await asyncio_run(desk, ticked)).count(True) == unsent - 1
    # No way is pre-selected: the office says how (the slips were printed before).
    services = dashboard.services
    await services.invitations.record_print(
        services.access.local_operator(), services.ctx.clock.now()
    )
    await desk.choose("Giấy mời bản giấy")
    await desk.screenshot("office-delegates-bulk-sent")
    await no_accessibility_problems(desk)
    await desk.press("Đánh dấu đã gửi cho những người đã chọn")
    assert await element_text(desk, "flash") == (
        f"Đã ghi nhận: đã gửi giấy mời bản giấy cho {unsent - 1} đại biểu."
    )
    assert await dashboard.services.dashboard.unsent() == 1
