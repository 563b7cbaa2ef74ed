"""``hoinghi rehearse --web``: the dashboard served on 127.0.0.1 while the rehearsal runs, its
printed one-time sign-in link opened over HTTP, then the overview of the simulated meeting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, ROOT
from tests.office_support import hidden, text_of

# A whole rehearsal in a process of its own: `make test-slow`.
pytestmark = pytest.mark.slow


def test_rehearse_web_prints_a_sign_in_link_that_opens_the_dashboard_overview(
    tmp_path: Path,
) -> None:
    command = [
        str(Path(sys.executable).parent / "hoinghi"), "--config", str(EXAMPLE_CONFIG), "rehearse", "--web",
        "--delegates", str(EXAMPLE_DELEGATES), "--contacts", str(ROOT / "examples" / "contacts.csv"),
        "--report", str(tmp_path / "bao-cao.xlsx"),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if "nhấn Enter để bắt đầu" in line:
                break
        printed = "".join(seen)
        link = re.search(r"Văn phòng (\w+): (http://127\.0\.0\.1:\d+/office/signin/\S+)", printed)
        assert link is not None, printed
        with httpx.Client() as browser:
            page = browser.get(link.group(2))
            assert page.status_code == 200
            signed = browser.post(link.group(2), data=hidden(page.text, "form-signin"))
            assert signed.status_code == 303
            overview = browser.get(httpx.URL(link.group(2)).join(signed.headers["location"]))
            assert overview.status_code == 200
            assert text_of(overview.text, "count-total") != ""
        process.stdin.write("\n")  # start the play
        process.stdin.flush()
        rest = ""
        for line in process.stdout:
            rest += line
            if "Nhấn Enter để kết thúc" in line:
                break
        process.stdin.write("\n")
        process.stdin.close()
        rest += process.stdout.read()
        assert process.wait(timeout=600) == 0, rest
        assert "✓ " in rest and "✗ " not in rest
    finally:
        if process.poll() is None:
            process.kill()
