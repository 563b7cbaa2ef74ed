"""Office staff are people on the list with a role: ``hoinghi staff add|remove|list`` grants,
withdraws and shows it, and the Telegram menu offers the office commands to them."""

from __future__ import annotations

import asyncio
import csv
import json
import unicodedata
from pathlib import Path

import pytest

from bot.app import open_app
from bot.cli import main
from bot.config import load_config
from bot.domain.channels import ChatAccount
from bot.services.access import Role
from bot.texts import load_catalog
from handlers.telegram.app import DELEGATE_COMMANDS, OFFICE_COMMANDS
from tests.conftest import EXAMPLE_DELEGATES, EXAMPLE_MEETING
from tests.harness import ADMIN_ID, BotHarness

CONTACTS = EXAMPLE_DELEGATES.parent / "contacts.csv"


@pytest.fixture
def listed(office: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The office folder with the example delegates and contacts imported."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["people", "import", str(CONTACTS)]) == 0
    capsys.readouterr()
    return office


def on_the_office_database(office: Path, work):  # type: ignore[no-untyped-def]
    """Run ``work(app)`` on the office's database, as the CLI opens it."""
    loaded = load_config(office / "config.toml")

    async def run():  # type: ignore[no-untyped-def]
        async with open_app(loaded, load_catalog("vi"), env={}) as app:
            return await work(app)

    return asyncio.run(run())


def link_on_telegram(office: Path, code: str, user_id: int) -> ChatAccount:
    """``code`` opens their personal link from Telegram account ``user_id``."""
    account = ChatAccount("telegram", str(user_id), str(user_id))

    async def link(app):  # type: ignore[no-untyped-def]
        tokens = {link.code: link.token for link in await app.services.invitations.links()}
        await app.services.invitations.link_by_token(account, tokens[code])

    on_the_office_database(office, link)
    return account


def is_office(office: Path, account: ChatAccount) -> bool:
    """Whether the core takes ``account`` for office staff."""

    async def judge(app):  # type: ignore[no-untyped-def]
        return (await app.services.access.caller(account)).is_office

    return bool(on_the_office_database(office, judge))


def test_staff_add_gives_the_office_role_at_once_and_says_so(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = link_on_telegram(listed, "NV02", 700000002)
    assert not is_office(listed, account)
    assert main(["staff", "add", "nv02"]) == 0  # codes match as the import folds them
    assert capsys.readouterr().out.splitlines() == [
        EXAMPLE_MEETING,
        "Đã giao vai trò Văn phòng cho đồng chí Trần Thị Mỹ Duyên (NV02).",
        "Vai trò có hiệu lực ngay trên mọi kênh người này đã liên kết; menu lệnh của Văn phòng "
        "trên Telegram hiện ra từ lần khởi động bot tiếp theo.",
    ]
    assert is_office(listed, account)


def test_staff_add_of_someone_already_staff_says_so_and_changes_nothing(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staff", "add", "NV02"]) == 0
    capsys.readouterr()
    assert main(["staff", "add", "NV02"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        EXAMPLE_MEETING,
        "Đồng chí Trần Thị Mỹ Duyên (NV02) đã có vai trò Văn phòng; không có gì thay đổi.",
    ]
    assert main(["audit", "export", "nhat-ky.csv"]) == 0
    with (listed / "nhat-ky.csv").open(encoding="utf-8-sig", newline="") as fh:
        granted = [row for row in csv.reader(fh) if row[2] == "giao vai trò"]
    assert len(granted) == 1  # the second add wrote nothing


def test_staff_remove_withdraws_the_role_and_the_office_commands_with_it(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = link_on_telegram(listed, "NV02", 700000002)
    assert main(["staff", "add", "NV02"]) == 0
    capsys.readouterr()
    assert main(["staff", "remove", "NV02"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        EXAMPLE_MEETING,
        "Đã thu hồi vai trò Văn phòng của đồng chí Trần Thị Mỹ Duyên (NV02).",
    ]
    assert not is_office(listed, account)


def test_staff_remove_of_someone_not_staff_says_so(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staff", "remove", "DB001"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        EXAMPLE_MEETING,
        "Đồng chí Phạm Thị Thanh Mai (DB001) không có vai trò Văn phòng; không có gì thay đổi.",
    ]


@pytest.mark.parametrize("command", ["add", "remove"])
def test_staff_with_an_unknown_code_names_the_code_and_changes_nothing(
    command: str, listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staff", command, "NV99"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "Không có ai mang mã NV99 trong danh sách đại biểu và đầu mối đã nhập. Đề nghị kiểm tra "
        "lại mã (cột Mã của danh sách)."
    ]
    assert main(["staff", "list"]) == 0
    assert "Chưa có ai được giao vai trò Văn phòng." in capsys.readouterr().out


def test_staff_add_finds_a_code_typed_in_decomposed_unicode(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "đb-hòa" typed with Unikey's «Unicode tổ hợp» (or pasted from Word: NFD) looks like
    ĐB-Hòa on the list, and is her: it was «Không có ai mang mã đb-hòa…»."""
    people = listed / "can-bo.csv"
    people.write_text(
        "Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại,Thứ tự,Vai trò\n"
        "ĐB-Hòa,Lê Thị Hòa,Chuyên viên,Văn phòng Hội LHPN thành phố,,,,đầu mối\n",
        encoding="utf-8",
    )
    assert main(["people", "import", str(people)]) == 0
    capsys.readouterr()
    typed = unicodedata.normalize("NFD", "đb-hòa")
    assert main(["staff", "add", typed, "--role", "checkin"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        EXAMPLE_MEETING,
        "Đã giao vai trò Đón tiếp cho đồng chí Lê Thị Hòa (ĐB-Hòa).",
    ]


def test_staff_list_shows_code_name_position_unit_and_the_channels_linked_on(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link_on_telegram(listed, "NV02", 700000002)
    for code in ("NV02", "NV01"):
        assert main(["staff", "add", code]) == 0
    capsys.readouterr()
    assert main(["staff", "list", "--role", "office"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Vai trò Văn phòng: 2 người.",
        "  - NV01: Nguyễn Thị Phương Trinh, Phó Chánh Văn phòng, Văn phòng Hội LHPN thành phố "
        "— chưa liên kết",
        "  - NV02: Trần Thị Mỹ Duyên, Chuyên viên, Văn phòng Hội LHPN thành phố — đã liên kết "
        "Telegram",
        "Ngoài ra, 2 tài khoản Telegram trong [office] admin_ids của tệp cấu hình cũng dùng được "
        "các lệnh của Văn phòng.",
    ]


def test_staff_list_with_nobody_says_how_to_add_someone(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staff", "list", "--role", "checkin"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Chưa có ai được giao vai trò Đón tiếp. Giao vai trò bằng lệnh: "
        "hoinghi staff add MÃ --role checkin"
    ]


def test_the_checkin_role_is_granted_apart_from_the_office_role(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = link_on_telegram(listed, "NV01", 700000001)
    assert main(["staff", "add", "NV01", "--role", "checkin"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        EXAMPLE_MEETING,
        "Đã giao vai trò Đón tiếp cho đồng chí Nguyễn Thị Phương Trinh (NV01).",
    ]  # no menu note: the reception desk has no office commands
    assert not is_office(listed, account)
    assert main(["staff", "list", "--role", "checkin"]) == 0
    assert main(["staff", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "Vai trò Đón tiếp: 1 người.",
        "  - NV01: Nguyễn Thị Phương Trinh, Phó Chánh Văn phòng, Văn phòng Hội LHPN thành phố "
        "— đã liên kết Telegram",
    ]
    # With no --role, every role in turn: the desk's clerks are not left out of the listing.
    assert out[2:] == [
        "Chưa có ai được giao vai trò Văn phòng. Giao vai trò bằng lệnh: hoinghi staff add MÃ",
        "Ngoài ra, 2 tài khoản Telegram trong [office] admin_ids của tệp cấu hình cũng dùng được "
        "các lệnh của Văn phòng.",
        "Vai trò Đón tiếp: 1 người.",
        "  - NV01: Nguyễn Thị Phương Trinh, Phó Chánh Văn phòng, Văn phòng Hội LHPN thành phố "
        "— đã liên kết Telegram",
    ]


def test_staff_changes_are_audited_as_the_command_line_in_words(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staff", "add", "NV02"]) == 0
    assert main(["staff", "remove", "NV02"]) == 0
    assert main(["audit", "export", "nhat-ky.csv"]) == 0
    with (listed / "nhat-ky.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = [row for row in csv.reader(fh) if row[2] in ("giao vai trò", "thu hồi vai trò")]
    # The person given the role is named, not only the row's number; she is a contact, not
    # «đại biểu». Newest first, as the log's page; the account as audited last.
    assert [row[1:9] for row in rows] == [
        [
            "Dòng lệnh hoinghi",
            "thu hồi vai trò",
            "người trong danh sách",
            rows[0][4],
            "Vai trò: Văn phòng",
            "",
            "Trần Thị Mỹ Duyên (NV02)",
            "cli",
        ],
        [
            "Dòng lệnh hoinghi",
            "giao vai trò",
            "người trong danh sách",
            rows[0][4],
            "",
            "Vai trò: Văn phòng",
            "Trần Thị Mỹ Duyên (NV02)",
            "cli",
        ],
    ]


# --- the Telegram menu -----------------------------------------------------------------------------


def menu_of(harness: BotHarness, chat_id: int | None) -> list[str]:
    """The commands the fake Bot API shows in ``chat_id`` (None: everyone's default menu)."""
    scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
    commands = harness.fake.commands.get((json.dumps(scope, sort_keys=True), ""), [])
    return [command["command"] for command in commands]


async def test_the_office_menu_reaches_staff_linked_on_telegram_and_the_admin_ids(
    harness: BotHarness,
) -> None:
    staff = await harness.open_invitation("DB080")
    delegate = await harness.open_invitation("DB001")
    access = harness.services.access
    await access.grant(access.local_operator(), "DB080", Role.OFFICE)
    await access.grant(access.local_operator(), "DB001", Role.CHECKIN)  # not the office
    assert harness.app.post_init is not None
    await harness.app.post_init(harness.app)  # what the bot publishes when it starts
    office_menu = [*DELEGATE_COMMANDS, *OFFICE_COMMANDS]
    assert menu_of(harness, None) == list(DELEGATE_COMMANDS)
    assert menu_of(harness, ADMIN_ID) == office_menu
    assert menu_of(harness, staff.id) == office_menu
    assert menu_of(harness, delegate.id) == []  # the default menu applies
