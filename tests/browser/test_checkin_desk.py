"""The meeting morning in a real Chromium: a check-in staff member's phone (390×844) signs in,
names its desk, opens an invitee's QR address and taps «Điểm danh», finds another invitee
without typing diacritics; the office's screen (1366×768) follows the attendance and opens the
printable summary. Each page is saved to ``out/screenshots/checkin-*.png`` and checked by
axe-core."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import Services
from bot.services.access import Role
from handlers.web.app import build_web_app
from handlers.web.server import serving
from storage.models import Checkin
from tests.browser.conftest import PHONE, Browser
from tests.browser.test_office_dashboard import (
    Dashboard,
    asyncio_run,
    desk,  # noqa: F401 (the office screen's fixture)
    desk_driver,  # noqa: F401
    element_text,
    no_accessibility_problems,
)
from tests.office_support import STAFF, make_staff
from tests.web_support import web_setup

CHECKIN_STAFF = "DB080"


@pytest.fixture
async def hall(imported: Services) -> AsyncIterator[Dashboard]:
    await make_staff(imported)
    access = imported.access
    await access.grant(access.local_operator(), CHECKIN_STAFF, Role.CHECKIN)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    setup = web_setup(imported)
    setup = replace(
        setup, settings=setup.settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    )
    async with serving(build_web_app(setup), host="127.0.0.1", port=port):
        yield Dashboard(imported, port)


async def at_the_desk(hall: Dashboard, browser: Browser, label: str = "Bàn 1") -> None:
    """The phone ``browser`` signed in as :data:`CHECKIN_STAFF` with a fresh link, its desk
    named ``label``: on the desk's search page."""
    link = await hall.services.signin.link_for_code(CHECKIN_STAFF)
    assert link.secret is not None
    await browser.open(hall.url(f"signin/{link.secret}"))
    await browser.press("Đăng nhập")
    await browser.fill("Tên bàn đón tiếp", label)
    await browser.press("Bắt đầu điểm danh")


async def test_a_phone_at_the_desk_checks_in_by_qr_and_by_search_and_the_office_counts(
    hall: Dashboard,
    browser: Browser,
    desk: Browser,  # noqa: F811
) -> None:
    services = hall.services
    link = await services.signin.link_for_code(CHECKIN_STAFF)
    assert link.secret is not None
    await browser.open(hall.url(f"signin/{link.secret}"))
    await browser.press("Đăng nhập")
    assert browser.url == hall.url("checkin/desk")
    await browser.fill("Tên bàn đón tiếp", "Bàn 1")
    await browser.screenshot("checkin-desk-choose")
    await no_accessibility_problems(browser)
    await browser.press("Bắt đầu điểm danh")
    assert browser.url == hall.url("checkin")

    tokens = {link.code: link.token for link in await services.invitations.links()}
    await browser.open(f"http://127.0.0.1:{hall.port}/{tokens['DB002']}")  # the camera's QR
    assert await element_text(browser, "person-name") == "Hoàng Thị Ngọc Diệp"
    await browser.screenshot("checkin-desk-qr")
    await no_accessibility_problems(browser)
    await browser.press("Điểm danh")
    assert await element_text(browser, "flash") == "Đã điểm danh: Hoàng Thị Ngọc Diệp."
    # From the card too, the desk's box comes back empty and focused for the next in the queue
    # (it came back to her card, and the volunteer went to the search herself).
    assert browser.url.startswith(hall.url("checkin?f="))
    assert await focused(browser) == ["q", "search", ""]
    await browser.screenshot("checkin-desk-done")
    await no_accessibility_problems(browser)
    width = await asyncio_run(
        browser, lambda: browser.driver.execute_script("return document.body.scrollWidth")
    )
    assert width <= PHONE[0]

    await browser.fill(
        "Họ tên, mã cá nhân, mã đại biểu hoặc số điện thoại (gõ không dấu cũng được)",
        "pham thi thanh mai",
    )
    await browser.press("Tìm")
    await browser.screenshot("checkin-desk-search")
    await no_accessibility_problems(browser)
    await browser.press("Điểm danh")
    assert await element_text(browser, "flash") == "Đã điểm danh: Phạm Thị Thanh Mai."
    assert "Vừa điểm danh tại bàn này" in await browser.text()
    # Ready for the next in the queue: the box empty and focused (it held the last query,
    # nothing focused, so the volunteer deleted it by hand on the phone's keyboard).
    assert await focused(browser) == ["q", "search", ""]
    await browser.screenshot("checkin-desk-recent")
    # Each undo in the list names whose it is, and asks before undoing.
    await browser.press("Hủy lượt điểm danh của Phạm Thị Thanh Mai")
    assert (await element_text(browser, "undo-what")).startswith(
        "Hủy lượt điểm danh của Phạm Thị Thanh Mai (Đại biểu, điểm danh lúc "
    )
    await browser.screenshot("checkin-desk-undo-confirm")
    await no_accessibility_problems(browser)
    assert await browser.empty_lines() == []
    await browser.press("Không hủy, quay lại")
    assert browser.url == hall.url("checkin")

    staff = await services.signin.link_for_code(STAFF)
    assert staff.secret is not None
    await desk.open(hall.url(f"signin/{staff.secret}"))
    await desk.press("Đăng nhập")
    await desk.press("Có mặt")
    present = await element_text(desk, "total-present")
    # Neither had answered: both are in, neither was expected (counted apart).
    assert present == "0/0"
    assert await element_text(desk, "total-unexpected") == "2"
    # At 1366×768 the live figures fill the first screen (the papers' block came first and
    # pushed them to the bottom edge); the papers follow who is still awaited.
    where = await asyncio_run(
        desk,
        lambda: desk.driver.execute_script(
            "const box = id => document.getElementById(id).getBoundingClientRect();"
            "return [box('totals').bottom, box('missing').top, box('day-papers').top,"
            " window.innerHeight,"
            " getComputedStyle(document.querySelector('#att-groups table')).display];"
        ),
    )
    totals_bottom, missing_top, papers_top, height, table = where
    assert height == 768 and totals_bottom < height
    assert missing_top < papers_top
    assert table == "table"  # the groups' figures in columns (the tiles' grid broke them)
    await desk.screenshot("checkin-office-attendance")
    await no_accessibility_problems(desk)
    await desk.press("Báo cáo số lượng đại biểu có mặt (bản in)")
    assert await element_text(desk, "sum-present") == present
    assert await element_text(desk, "sum-unexpected") == "2"
    await desk.screenshot("checkin-office-summary")
    await no_accessibility_problems(desk)

    # Someone else came in DB005's place, unannounced: the card's «Người khác đến dự thay…»
    # opens (no script) on a form of its own, which records a substitute.
    await browser.open(f"http://127.0.0.1:{hall.port}/{tokens['DB005']}")

    def open_someone_else() -> None:
        from selenium.webdriver.common.by import By

        browser.driver.find_element(By.CSS_SELECTOR, "#someone-else summary").click()

    await asyncio_run(browser, open_someone_else)
    await browser.fill("Chức vụ người dự thay", "Phó Chủ tịch")
    await browser.fill("Họ tên người dự thay", "Nguyễn Thị Dự Thay")
    await browser.screenshot("checkin-desk-someone-else")
    await no_accessibility_problems(browser)
    await browser.press("Điểm danh người dự thay")
    assert await element_text(browser, "flash") == "Đã điểm danh: Nguyễn Thị Dự Thay."
    await browser.open(f"http://127.0.0.1:{hall.port}/{tokens['DB005']}")
    assert "người dự thay Nguyễn Thị Dự Thay" in await element_text(browser, "notice")


async def test_a_withdrawn_invitee_s_card_on_the_phone_lets_her_in_as_a_guest(
    hall: Dashboard, browser: Browser
) -> None:
    services = hall.services
    tokens = {link.code: link.token for link in await services.invitations.links()}
    await services.withdrawals.withdraw(services.access.local_operator(), "DB006", "Mời nhầm")
    await at_the_desk(hall, browser, "Bàn 2")
    await browser.open(f"http://127.0.0.1:{hall.port}/{tokens['DB006']}")
    assert await element_text(browser, "person-answer") == "Đã rút giấy mời"
    await browser.screenshot("checkin-desk-withdrawn")
    await no_accessibility_problems(browser)
    width = await asyncio_run(
        browser, lambda: browser.driver.execute_script("return document.body.scrollWidth")
    )
    assert width <= PHONE[0]
    name = await element_text(browser, "person-name")
    await browser.press("Cho vào dự với tư cách khách ngoài danh sách")
    assert await element_text(browser, "flash") == f"Đã ghi nhận khách: {name}."
    assert (await services.checkin.count()).in_hall == 1
    await browser.screenshot("checkin-desk-withdrawn-guest")
    await no_accessibility_problems(browser)


async def test_the_clerk_issues_a_desk_volunteer_a_sign_in_link_his_phone_opens_at_the_desk(
    hall: Dashboard,
    browser: Browser,
    desk: Browser,  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    # 07:15, the meeting morning: the clerk on her laptop, the volunteer with no linked chat.
    await desk.open(await hall.signin_link())
    await desk.press("Đăng nhập")
    await desk.open(hall.url("staff"))
    await no_accessibility_problems(desk)
    form = f"form-signin-link-checkin-{CHECKIN_STAFF}"
    await desk.press_in(f"#{form} button")
    assert await element_text(desk, "signin-link-issued") == (
        "Đường liên kết đăng nhập trang điều hành cho đồng chí Đỗ Minh Tuấn (DB080): dùng được"
        " một lần, đến 09:10 (10 phút). Đường liên kết chỉ hiện lần này; tải lại trang sẽ"
        " không hiện nữa."
    )
    field = await asyncio_run(desk, lambda: desk.driver.find_element(By.ID, "signin-link"))
    link = str(await asyncio_run(desk, lambda: field.get_attribute("value")))
    assert link.startswith(hall.url("signin/"))
    assert await asyncio_run(desk, lambda: field.get_attribute("readonly")) == "true"
    # The QR code is large enough to scan from the screen (about 18 rem, a third of it).
    qr = await asyncio_run(
        desk, lambda: desk.driver.find_element(By.CSS_SELECTOR, "#signin-qr svg")
    )
    size = await asyncio_run(desk, lambda: qr.size)
    assert size["width"] >= 250 and size["width"] == size["height"]
    # With the page's script, «Sao chép» shows and copies.
    copy = await asyncio_run(desk, lambda: desk.driver.find_element(By.CSS_SELECTOR, "[data-copy]"))
    assert await asyncio_run(desk, copy.is_displayed)
    await asyncio_run(desk, copy.click)

    def copied() -> bool:
        from selenium.webdriver.support.wait import WebDriverWait

        # The clipboard answers in a promise: wait for the button to say it is done.
        return bool(WebDriverWait(desk.driver, 10).until(lambda _: copy.text == "Đã sao chép"))

    assert await asyncio_run(desk, copied)
    await desk.screenshot("office-staff-signin-link")
    await no_accessibility_problems(desk)

    # The volunteer's phone opens it (scanned) and lands on the desk's first page.
    await browser.open(link)
    await browser.press("Đăng nhập")
    assert browser.url == hall.url("checkin/desk")
    await browser.fill("Tên bàn đón tiếp", "Bàn 3")
    await browser.press("Bắt đầu điểm danh")
    assert browser.url == hall.url("checkin")

    # Reloading the clerk's page shows the link no more.
    await asyncio_run(desk, desk.driver.refresh)
    assert link not in await asyncio_run(desk, lambda: desk.driver.page_source)
    assert await asyncio_run(desk, lambda: desk.driver.find_elements(By.ID, "signin-link")) == []


async def test_the_present_list_on_the_office_s_phone_is_a_column_of_people_under_their_groups(
    hall: Dashboard, browser: Browser
) -> None:
    from selenium.webdriver.common.by import By

    from bot.domain.channels import ChatAccount

    services = hall.services
    access = services.access
    tokens = {link.code: link.token for link in await services.invitations.links()}
    account = ChatAccount("telegram", "9001", "9001")
    await services.invitations.link_by_token(account, tokens[CHECKIN_STAFF])
    gate = access.desk(await access.caller(account), "Cổng A")
    assert gate is not None
    for code in ("DB001", "DB002", "DB005"):
        await services.checkin.check_in(gate, code)
    staff = await services.signin.link_for_code(STAFF)
    assert staff.secret is not None
    await browser.open(hall.url(f"signin/{staff.secret}"))  # the office's clerk, on her phone
    await browser.press("Đăng nhập")
    await browser.open(hall.url("attendance/present"))

    def layout() -> tuple[int, list[str], str, str]:
        driver = browser.driver
        headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, ".present-group")]
        cell = driver.find_element(By.CSS_SELECTOR, "#present-list tbody td")
        head = driver.find_element(By.CSS_SELECTOR, "#present-list thead")
        return (
            int(driver.execute_script("return document.body.scrollWidth")),
            headings,
            str(driver.execute_script("return getComputedStyle(arguments[0]).display", cell)),
            str(driver.execute_script("return getComputedStyle(arguments[0]).display", head)),
        )

    width, headings, cell_display, head_display = await asyncio_run(browser, layout)
    assert width <= PHONE[0]  # nothing wider than the screen, no sideways scrolling
    leaders = services.config.group("lanh_dao_thanh_pho").label  # type: ignore[union-attr]
    assert headings == ["Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam", leaders]
    assert (cell_display, head_display) == ("block", "none")  # rows stacked, «Heading: value»
    await browser.screenshot("office-present-phone")
    await no_accessibility_problems(browser)


async def focused(browser: Browser) -> list[str]:
    """The id, type and value of the field the page has focused."""
    found = await asyncio_run(
        browser,
        lambda: browser.driver.execute_script(
            "const e = document.activeElement; return [e.id, e.type, e.value];"
        ),
    )
    return list(found)


async def on_first_screen(browser: Browser, element_id: str) -> bool:
    """Whether the element ``element_id`` is wholly within the window as the page shows it."""
    top, bottom, height = await asyncio_run(
        browser,
        lambda: browser.driver.execute_script(
            "const box = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return [box.top, box.bottom, window.innerHeight];",
            element_id,
        ),
    )
    return bool(top >= 0 and bottom <= height)


async def test_on_the_desk_s_phone_results_the_substitute_s_button_and_a_guest_again_show_first(
    hall: Dashboard,
    browser: Browser,
    desk: Browser,  # noqa: F811
) -> None:
    # At 390 px the results of a search began below the first screen, as did «Điểm danh» on
    # the card of an invitee who sent a substitute (her details came first), and the clerk
    # recorded the same guest three times, each counted in the hall.
    from bot.domain.channels import ChatAccount
    from bot.domain.rsvp import RsvpChoice

    services = hall.services
    tokens = {link.code: link.token for link in await services.invitations.links()}
    account = ChatAccount("telegram", "9002", "9002")
    await services.invitations.link_by_token(account, tokens["DB005"])
    await services.rsvp.choose(account, RsvpChoice.SUBSTITUTE)
    await services.rsvp.submit_text(account, "Nguyễn Thị Bích Ngọc")
    await services.rsvp.submit_text(account, "Phó Chủ tịch, Ủy ban nhân dân thành phố Hà Nội")
    await services.rsvp.choose(account, RsvpChoice.SAME_UNIT)
    await services.rsvp.choose(account, RsvpChoice.SKIP_PHONE)
    await at_the_desk(hall, browser)

    await browser.fill(
        "Họ tên, mã cá nhân, mã đại biểu hoặc số điện thoại (gõ không dấu cũng được)",
        "pham thi thanh mai",
    )
    await browser.press("Tìm")
    assert browser.url == hall.url("checkin?q=pham+thi+thanh+mai#hits")
    assert await on_first_screen(browser, "hits-title")
    assert await on_first_screen(browser, "form-in-DB001")  # its «Điểm danh»
    await browser.screenshot("checkin-desk-search-results")

    await browser.open(f"http://127.0.0.1:{hall.port}/{tokens['DB005']}")
    assert await on_first_screen(browser, "tap")
    await browser.screenshot("checkin-desk-substitute")
    await no_accessibility_problems(browser)
    await browser.press("Điểm danh")
    assert await element_text(browser, "flash") == "Đã điểm danh: Nguyễn Thị Bích Ngọc."

    for _ in range(2):
        await browser.fill("Họ và tên", "Phạm Văn Khách")
        await browser.fill("Chức vụ", "Phóng viên")
        await browser.press("Ghi nhận khách")
    said = await element_text(browser, "guest-again")
    assert said.startswith("Đã ghi nhận khách Phạm Văn Khách (Phóng viên) lúc ")
    assert said.endswith(" tại Bàn 1. Nếu đúng là người này thì khách đã được tính, không cần"
                         " ghi lại; nếu là người khác trùng tên, đề nghị bấm «Vẫn ghi khách mới»."
                         " Chưa ghi nhận gì.")  # fmt: skip
    assert await on_first_screen(browser, "guest-again")
    await browser.screenshot("checkin-desk-guest-again")
    await no_accessibility_problems(browser)
    assert len((await services.checkin.count()).guests) == 1
    await browser.press("Vẫn ghi khách mới")
    assert await element_text(browser, "flash") == "Đã ghi nhận khách: Phạm Văn Khách."
    guests = (await services.checkin.count()).guests
    assert len(guests) == 2

    # The office takes the second out of the hall on «Có mặt» (a guest has no card to open).
    staff = await services.signin.link_for_code(STAFF)
    assert staff.secret is not None
    await desk.open(hall.url(f"signin/{staff.secret}"))
    await desk.press("Đăng nhập")
    await desk.press("Có mặt")
    assert await element_text(desk, "total-guests") == "2"
    await no_accessibility_problems(desk)
    await desk.press_in(f"#undo-guest-{guests[1].id}")
    assert (await element_text(desk, "undo-what")).startswith("Hủy ghi nhận khách Phạm Văn Khách")
    await no_accessibility_problems(desk)
    assert await desk.empty_lines() == []
    await desk.press("Hủy ghi nhận khách")
    assert await element_text(desk, "flash") == "Đã hủy lượt điểm danh của Phạm Văn Khách."
    assert await element_text(desk, "total-guests") == "1"
    await desk.screenshot("checkin-office-guest-undone")


def _network(browser: Browser, *, offline: bool) -> None:
    """The phone's network dropped (or back): Chromium's own emulation, as the re-test did."""
    browser.driver.execute_cdp_cmd("Network.enable", {})
    browser.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


@asynccontextmanager
async def network_down(browser: Browser) -> AsyncIterator[None]:
    """The phone's network dropped for the block, and back after it whatever happened."""
    try:
        await asyncio_run(browser, lambda: _network(browser, offline=True))
        yield
    finally:
        await asyncio_run(browser, lambda: _network(browser, offline=False))


async def _offline_said(browser: Browser) -> str:
    """Wait for the desk's «Mất kết nối mạng» line and return it (the page stays in place)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    def said() -> str:
        element = browser.driver.find_element(By.ID, "desk-offline")
        WebDriverWait(browser.driver, 15).until(lambda _: element.is_displayed())
        return str(element.text)

    return str(await asyncio_run(browser, said))


async def test_a_tap_at_the_desk_without_network_says_it_was_not_recorded_and_goes_once_back(
    hall: Dashboard, browser: Browser
) -> None:
    """s32 re-test M2: the hall's Wi-Fi dropped and the volunteer got Chromium's
    «ERR_INTERNET_DISCONNECTED» page (and again on «Back»), not knowing whether the tap went.
    Now the card stays, saying the tap was NOT recorded and what to do meanwhile; once the
    network is back, the same button records her once."""
    from selenium.webdriver.common.by import By

    services = hall.services
    tokens = {link.code: link.token for link in await services.invitations.links()}
    await at_the_desk(hall, browser)
    await browser.open(f"http://127.0.0.1:{hall.port}/{tokens['DB007']}")
    card = browser.url
    async with network_down(browser):
        await asyncio_run(browser, lambda: browser.driver.find_element(By.ID, "tap").click())
        said = await _offline_said(browser)
        assert said.startswith(
            "⚠️ Mất kết nối mạng: lượt bấm vừa rồi CHƯA được ghi nhận. Khi có mạng lại, đề nghị"
            " bấm lại nút đó (bấm lại không ghi hai lần). Trong lúc chờ, mời đại biểu ký vào Danh"
            " sách đại biểu ký tên in sẵn"
        )
        assert browser.url == card  # her card, not the browser's error page
        assert await element_text(browser, "person-name") == "Đỗ Thị Kim Oanh"
        assert (await services.checkin.count()).in_hall == 0
        await browser.screenshot("checkin-desk-offline")
        await no_accessibility_problems(browser)
    # The page remembered its first tap; that tap was 20 minutes ago (the phone's clock moved
    # back here, as the wait would have): the tap that goes records her as arrived then.
    remembered = await asyncio_run(
        browser, lambda: browser.driver.execute_script(_TAPPED_20_MINUTES_AGO)
    )
    assert remembered == 1
    await browser.press("Điểm danh")
    assert await element_text(browser, "flash") == "Đã điểm danh: Đỗ Thị Kim Oanh."
    assert (await services.checkin.count()).in_hall == 1
    async with services.ctx.sessions() as session:
        row = await session.scalar(select(Checkin))
    assert row is not None and row.entered_at == services.ctx.clock.now()
    waited = services.ctx.clock.now() - row.checked_in_at
    assert timedelta(minutes=20) <= waited <= timedelta(minutes=20, seconds=5)

    # The search, offline too: said on the page, the box keeps what was typed.
    async with network_down(browser):
        await browser.fill(
            "Họ tên, mã cá nhân, mã đại biểu hoặc số điện thoại (gõ không dấu cũng được)", "mai"
        )
        await asyncio_run(
            browser,
            lambda: browser.driver.find_element(By.CSS_SELECTOR, "#form-search button").click(),
        )
        assert (await _offline_said(browser)).startswith("⚠️ Mất kết nối mạng: chưa tìm được.")
        assert browser.url.startswith(hall.url("checkin"))
        assert "Kết quả" not in await browser.text()


async def test_a_desk_form_stopped_by_the_browser_after_its_check_is_checked_again_next_time(
    hall: Dashboard, browser: Browser
) -> None:
    """office.js marks a form «checked» before sending it again; a send the browser stops (a
    required box emptied while the server was being asked) left the mark, and the next tap,
    offline, went out unchecked to Chromium's error page instead of the desk's line."""
    from selenium.webdriver.common.by import By

    await at_the_desk(hall, browser)
    page = browser.url
    # The guest's form sent, and its name emptied while the server is asked: the browser's
    # own check then stops the send.
    await asyncio_run(
        browser,
        lambda: browser.driver.execute_script(
            "var form = document.getElementById('form-guest');"
            "var name = document.getElementById('guest-name');"
            "name.value = 'Hoàng Văn Khách';"
            "form.requestSubmit(document.getElementById('guest-save'));"
            "name.value = '';"
        ),
    )
    await asyncio_run(browser, lambda: __import__("time").sleep(1))
    assert browser.url == page and (await hall.services.checkin.count()).in_hall == 0
    async with network_down(browser):
        await asyncio_run(
            browser,
            lambda: browser.driver.find_element(By.ID, "guest-name").send_keys("Hoàng Văn Khách"),
        )
        await asyncio_run(browser, lambda: browser.driver.find_element(By.ID, "guest-save").click())
        said = await _offline_said(browser)
        assert said.startswith("⚠️ Mất kết nối mạng: lượt bấm vừa rồi CHƯA được ghi nhận.")
        assert browser.url == page
    assert (await hall.services.checkin.count()).in_hall == 0


# The first tap's remembered time set 20 minutes back (the wait, without waiting), whichever
# way the page keeps it.
_TAPPED_20_MINUTES_AGO = (
    "var moved = 0, at = Date.now() - 20 * 60 * 1000;"
    "for (var i = 0; i < sessionStorage.length; i += 1) {"
    "  var name = sessionStorage.key(i);"
    "  if (name.indexOf('hoinghi-tap:') !== 0) { continue; }"
    "  var kept = sessionStorage.getItem(name), value = String(at);"
    "  try { var o = JSON.parse(kept); if (o && typeof o === 'object') {"
    "    o.at = at; value = JSON.stringify(o); } } catch (e) {}"
    "  sessionStorage.setItem(name, value);"
    "  moved += 1;"
    "}"
    "return moved;"
)


async def test_a_guest_form_tapped_offline_then_typed_anew_is_not_dated_back_to_that_tap(
    hall: Dashboard, browser: Browser
) -> None:
    """The guest form keeps one key whatever is typed in it: a guest tapped with no network
    (she signed the paper sheet meanwhile), the boxes then typed anew for the next guest, who
    was recorded as arrived at the first guest's tap, up to two hours early. The first tap's
    time goes with what it sent: the same guest sent again is dated back, another is not."""
    from selenium.webdriver.common.by import By

    services = hall.services
    await at_the_desk(hall, browser)

    async def tapped_offline(name: str) -> None:
        async with network_down(browser):
            await browser.fill("Họ và tên", name)
            await asyncio_run(
                browser, lambda: browser.driver.find_element(By.ID, "guest-save").click()
            )
            assert (await _offline_said(browser)).startswith("⚠️ Mất kết nối mạng")
        moved = await asyncio_run(
            browser, lambda: browser.driver.execute_script(_TAPPED_20_MINUTES_AGO)
        )
        assert moved == 1

    async def recorded(name: str) -> Checkin:
        async with services.ctx.sessions() as session:
            row = await session.scalar(select(Checkin).where(Checkin.full_name == name))
        assert row is not None and row.entered_at == services.ctx.clock.now()
        return row

    await tapped_offline("Hoàng Văn Khách")
    await browser.press("Ghi nhận khách")  # the same guest, once the network is back
    waited = services.ctx.clock.now() - (await recorded("Hoàng Văn Khách")).checked_in_at
    assert timedelta(minutes=20) <= waited <= timedelta(minutes=20, seconds=5)

    await tapped_offline("Lý Thị Khách")
    await browser.fill("Họ và tên", "Trịnh Văn Mới")  # the next guest, in the same boxes
    await browser.press("Ghi nhận khách")
    row = await recorded("Trịnh Văn Mới")
    assert row.checked_in_at == row.entered_at  # arrived as entered: not Ms Lý's tap
