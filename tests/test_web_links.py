"""The links follow the web page: the exported list and the printed QR codes open it, the
Telegram link keeps a column of its own, a re-issued link names it, and a channel that
carries no files links to the page's download."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import links_refusal
from bot.chat import Inbox
from bot.cli import main
from bot.config import load_config
from bot.services import Services
from bot.texts import load_catalog
from tests.channels.text_channel import TextChannel
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES

PAGE = "http://127.0.0.1:8080/"


def test_export_puts_the_personal_page_first_and_telegrams_link_in_a_column_of_its_own(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.xlsx", "--bot-username", "hoinghi_bot"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã xuất 80 đường liên kết cá nhân (trang http://127.0.0.1:8080) ra links.xlsx."
    )
    rows = list(load_workbook(office_web / "links.xlsx").active.iter_rows(values_only=True))
    assert rows[0][6:] == (
        "Đường liên kết cá nhân",
        "Đường liên kết Telegram",
        "Mã cá nhân (gõ trên Zalo)",
        "Hướng dẫn gửi mã cá nhân (như giấy mời và phiếu in)",
        "Đã gửi giấy mời",
    )
    for row in rows[1:]:
        page, telegram = str(row[6]), str(row[7])
        assert page.startswith(PAGE) and telegram.startswith("https://t.me/hoinghi_bot?start=")
        assert page.removeprefix(PAGE) == telegram.rsplit("=", 1)[1]  # the same token


def test_with_a_web_page_the_links_need_no_bot_at_all(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert links_refusal({}, None, load_config(EXAMPLE_CONFIG).config.web) is None
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.csv"]) == 0
    rows = (office_web / "links.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].endswith(
        ",Đường liên kết cá nhân,Mã cá nhân (gõ trên Zalo),Hướng dẫn gửi mã cá nhân (như giấy mời"
        " và phiếu in),Đã gửi giấy mời"
    )
    # No chat token and no bot named: no chat takes the code, and the column says nothing.
    assert all(row.endswith(",") for row in rows[1:])
    assert all(PAGE in row for row in rows[1:])


def test_the_printed_qr_codes_open_the_personal_page(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "print", "phieu.docx"]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith("Đã ghi 80 phiếu kèm giấy mời (mã QR mở trang http://127.0.0.1:8080)")
    )
    with zipfile.ZipFile(io.BytesIO((office_web / "phieu.docx").read_bytes())) as docx:
        body = docx.read("word/document.xml").decode()
    assert body.count(PAGE) >= 80 and "t.me/" not in body


LOCAL_NOTE = (
    "Lưu ý: đường liên kết và mã QR trong tệp này mở trang http://127.0.0.1:8080, chỉ mở được "
    "trên chính máy chủ này; đại biểu mở trên điện thoại sẽ không vào được. Trước khi in hay gửi "
    "cho đại biểu, đề nghị đặt [web] base_url là địa chỉ https:// mà mọi người mở được (xem "
    "docs/reverse-proxy.md), khởi động lại hoinghi rồi xuất lại với --force."
)


def test_slips_and_links_that_open_only_on_this_server_say_so(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new office printed its slips with the example's base_url, 127.0.0.1: 120 QR codes that
    open nowhere but on the server, and nothing said so."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    assert main(["invites", "print", "phieu.docx"]) == 0
    assert capsys.readouterr().err.splitlines() == [LOCAL_NOTE]
    assert main(["invites", "export", "links.xlsx"]) == 0
    assert capsys.readouterr().err.splitlines() == [LOCAL_NOTE]
    plan = office_web / "config.toml"
    public = "https://hoinghi.longbien.hanoi.gov.vn"
    text = plan.read_text(encoding="utf-8").replace("http://127.0.0.1:8080", public, 1)
    plan.write_text(text, encoding="utf-8")
    assert main(["invites", "print", "phieu.docx", "--force"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["invites", "export", "links.xlsx", "--force"]) == 0
    assert capsys.readouterr().err == ""


async def test_a_channel_without_files_links_to_the_calendar_on_the_personal_page(
    imported: Services,
) -> None:
    catalog = load_catalog("vi")
    channel = TextChannel(Inbox(imported, catalog), catalog)
    token = {link.code: link.token for link in await imported.invitations.links()}["DB001"]
    person = channel.person("Chị Mai")
    await person.type(f"/start {token}")
    said = await person.type("/lich")
    assert said[-1].endswith(f"Tải về: {PAGE}{token}/lich.ics")
