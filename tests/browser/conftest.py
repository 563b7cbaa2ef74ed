"""A real browser for the web channel's tests: Debian's Chromium driven by Selenium.

``make test-browser`` installs what these tests need (``scripts/browser-deps``: Chromium,
ChromeDriver, axe-core) and runs them; ``make test`` leaves them out (the ``browser`` marker).
Selenium's calls block, so :class:`Browser` runs each in a thread: the test's event loop keeps
serving the fake Bot API while the browser waits for a page.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
AXE = ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots a reviewer can look at, one per page and state, at a phone's size.
SCREENSHOTS = ROOT / "out" / "screenshots"
PHONE = (390, 844)
# Chromium as the machine's probe starts it: headless, and quiet towards the closed network
# (without the background-networking flags it keeps trying Google's hosts).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--lang=vi-VN",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder needs the browser: mark it so ``make test`` leaves it out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


# A newline between two blocks, in a box that keeps line breaks, drawn as a line of its own.
EMPTY_LINES = """
const found = [];
const keeps = ['pre', 'pre-wrap', 'pre-line', 'break-spaces'];
const block = (node) => node instanceof Element
    && !getComputedStyle(node).display.startsWith('inline');
for (const box of document.querySelectorAll('body *')) {
  if (!keeps.includes(getComputedStyle(box).whiteSpace)) continue;
  for (const node of box.childNodes) {
    if (node.nodeType !== Node.TEXT_NODE || node.textContent.trim()) continue;
    if (!node.textContent.includes('\\n')) continue;
    if (!block(node.previousSibling) && !block(node.nextSibling)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if ([...range.getClientRects()].some((r) => r.height > 0)) {
      found.push(box.id || box.tagName.toLowerCase());
      break;
    }
  }
}
return found;
"""


@dataclass(frozen=True)
class AxeViolation:
    """One accessibility rule a page breaks, with the elements that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} — {', '.join(self.targets)}"


class Browser:
    """A Chromium window at a phone's size; every call runs in a thread (Selenium blocks)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def _run(self, call: Any, *args: Any) -> Any:
        return await asyncio.to_thread(call, *args)

    async def open(self, url: str) -> None:
        """Go to ``url`` and wait until the page has loaded."""
        await self._run(self.driver.get, url)

    @property
    def url(self) -> str:
        """Where the browser is now."""
        return str(self.driver.current_url)

    async def text(self) -> str:
        """The page's visible text."""
        from selenium.webdriver.common.by import By

        return str(await self._run(lambda: self.driver.find_element(By.TAG_NAME, "body").text))

    async def fill(self, label: str, value: str) -> None:
        """Type ``value`` into the field whose ``<label>`` reads ``label``."""
        from selenium.webdriver.common.by import By

        def fill() -> None:
            for element in self.driver.find_elements(By.TAG_NAME, "label"):
                if element.text.strip() == label:
                    field = self.driver.find_element(By.ID, element.get_attribute("for"))
                    field.clear()
                    field.send_keys(value)
                    return
            raise AssertionError(f"no field labelled {label!r}")

        await self._run(fill)

    async def attach(self, label: str, path: Path) -> None:
        """Choose ``path`` in the file field labelled ``label``."""
        from selenium.webdriver.common.by import By

        def attach() -> None:
            for element in self.driver.find_elements(By.TAG_NAME, "label"):
                if element.text.strip() == label:
                    field = self.driver.find_element(By.ID, element.get_attribute("for"))
                    field.send_keys(str(path))
                    return
            raise AssertionError(f"no file field labelled {label!r}")

        await self._run(attach)

    async def choose(self, label: str) -> None:
        """Tick the radio button or checkbox labelled ``label``."""
        from selenium.webdriver.common.by import By

        def choose() -> None:
            for element in self.driver.find_elements(By.TAG_NAME, "label"):
                if element.text.strip() == label:
                    element.click()
                    return
            raise AssertionError(f"no choice labelled {label!r}")

        await self._run(choose)

    async def press(self, name: str) -> None:
        """Press the button (or the link styled as one) whose text is ``name``, and wait for the
        page it leads to."""
        from selenium.webdriver.common.by import By

        def press() -> None:
            for element in self.driver.find_elements(By.CSS_SELECTOR, "button, a"):
                if element.text.strip() == name and element.is_displayed():
                    self._follow(element)
                    return
            raise AssertionError(f"no button {name!r}")

        await self._run(press)

    async def press_in(self, selector: str) -> None:
        """Press the one button the CSS ``selector`` finds — for a row's button whose text other
        rows share — and wait for the page it leads to."""
        from selenium.webdriver.common.by import By

        await self._run(lambda: self._follow(self.driver.find_element(By.CSS_SELECTOR, selector)))

    def _follow(self, element: Any) -> None:
        """Click ``element`` and wait until the next page has replaced this one and loaded: a
        form posts and is redirected, a link leads on — either way a new page, which a bare
        click does not wait for."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        page = self.driver.find_element(By.TAG_NAME, "html")

        def page_gone(driver: Any) -> bool:
            try:
                return bool(expected_conditions.staleness_of(page)(driver))
            except WebDriverException as error:
                # Asked while the next page replaces it, Chromium may answer that the node
                # "does not belong to the document" rather than that it is stale: gone too.
                if "does not belong to the document" in str(error):
                    return True
                raise

        element.click()
        wait = WebDriverWait(self.driver, 30)
        wait.until(page_gone)
        wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    async def screenshot(self, name: str) -> Path:
        """Save what the screen shows as ``out/screenshots/<name>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self._run(self.driver.save_screenshot, str(path))
        return path

    async def empty_lines(self) -> list[str]:
        """The elements (by id, else tag) that show an empty line of the template's own line
        breaks: a box that keeps line breaks (``.text``: white-space pre-line) holding blocks
        (paragraphs, list items) shows each newline between them as a blank line."""
        return list(await self._run(self.driver.execute_script, EMPTY_LINES))

    async def axe(self, *also: str) -> list[AxeViolation]:
        """What axe-core finds wrong with the page's accessibility (WCAG 2.1 A and AA), and by
        the rules named in ``also`` (axe's best practices, e.g. ``heading-order``)."""
        source = AXE.read_text(encoding="utf-8")
        rules = {rule: {"enabled": True} for rule in also}

        def check() -> Any:
            self.driver.execute_script(source)
            return self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "axe.run(document, {runOnly: {type: 'tag', values: "
                "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, rules: arguments[0]})"
                ".then(r => done(JSON.stringify(r.violations)), e => done(String(e)));",
                rules,
            )

        found = json.loads(await self._run(check))
        return [
            AxeViolation(
                rule=item["id"],
                impact=item.get("impact") or "",
                help=item["help"],
                targets=tuple(str(node["target"]) for node in item["nodes"]),
            )
            for item in found
        ]


@pytest.fixture(scope="session")
def chromium_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the session, at a phone's size."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists() or not AXE.exists():
        pytest.fail("the browser is not installed: run `make test-browser` (scripts/browser-deps)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager stays offline
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.add_argument(f"--window-size={PHONE[0]},{PHONE[1]}")
    options.add_experimental_option(
        "mobileEmulation",
        {"deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 2.0}},
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium_driver: Any) -> Browser:
    """The session's Chromium, with no cookies from an earlier test."""
    chromium_driver.delete_all_cookies()
    return Browser(chromium_driver)
