"""A meeting of several days on a phone: «Chỉ dự một số ngày» on the personal page, a box a day
(re-test s34 M3)."""

from __future__ import annotations

import pytest

from bot.config import Config, load_config
from bot.domain.rsvp import RsvpStatus
from tests.browser.conftest import Browser
from tests.browser.test_personal_page import Site, no_accessibility_problems, site  # noqa: F401
from tests.conftest import EXAMPLE_CONFIG
from tests.plan_support import rsvp_of
from tests.test_checkin import two_days


@pytest.fixture
def config() -> Config:
    """The example plan, its meeting over two days (28/5 and 29/5)."""
    return two_days(load_config(EXAMPLE_CONFIG).config)


async def test_on_a_phone_a_delegate_ticks_day_two_only(
    site: Site,  # noqa: F811
    browser: Browser,
) -> None:
    await browser.open(site.page("DB002"))
    text = await browser.text()
    assert "Chỉ dự một số ngày" in text
    await browser.choose("Thứ Tư, ngày 29/5/2024")
    await browser.screenshot("ngay-1-chon-ngay")
    await no_accessibility_problems(browser)
    await browser.press("Tôi dự những ngày đã chọn")
    text = await browser.text()
    assert "Đã ghi nhận: đồng chí tham dự hội nghị ngày 29/5." in text
    assert "Nội dung đồng chí đã xác nhận: Tham dự ngày 29/5." in text
    await browser.screenshot("ngay-2-da-ghi-nhan")
    await no_accessibility_problems(browser)
    row = await rsvp_of(site.harness.services, "DB002")
    assert (row.status, row.days) == (RsvpStatus.ATTENDING, "2024-05-29")
