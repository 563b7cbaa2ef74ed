"""The database a bot can use: one it can write, said in one line when it cannot; one
``hoinghi run`` of a meeting at a time on SQLite, several meetings side by side, each bot held
by one of them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.app
from bot.app import Channel, ChannelEntry, ChannelSetup, open_app, open_storage
from bot.cli import main
from bot.cli.common import database_problem
from bot.config import LoadedConfig, load_config
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.channels import ChatAccount
from bot.domain.clock import SystemClock
from bot.services import build_services
from bot.services.invitations import LinkOutcome
from bot.texts import load_catalog
from storage.engine import create_engine, create_sessionmaker
from storage.guard import DatabaseLock, DatabaseUnavailable, sqlite_file
from storage.migrate import alembic_config, current_revision, head_revision, upgrade_database
from tests.channels.text_channel import TextChannel
from tests.conftest import (
    EXAMPLE_CONFIG,
    EXAMPLE_DELEGATES,
    ROOT,
    TEST_DATABASE_ENV,
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
)
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import OFFICE_CHAT, add_notice_due
from tests.test_crash import running_bot, toml_document, write_config


def office_config(folder: Path, server: FakeBotApiServer, database: Path) -> Path:
    """The example plan in ``folder``, on the SQLite file ``database``, talking to the fake."""
    plan = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    plan.pop("web", None)  # a Telegram run: the example's web port 8080 may be taken here
    plan["database"] = {"url": f"sqlite+aiosqlite:///{database}"}
    plan["telegram"] = {"api_base_url": server.base_url, "file_base_url": server.base_file_url}
    path = folder / "config.toml"
    path.write_text(toml_document(plan), encoding="utf-8")
    return path


async def hoinghi(config: Path, *args: str, token: str) -> tuple[int, list[str]]:
    """Run ``hoinghi --config config args…`` in a process of its own, as an office would, and
    return its exit code and the lines it wrote to stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        *args,
        cwd=ROOT,
        env=os.environ | {"TELEGRAM_BOT_TOKEN": token, "PYTHONUNBUFFERED": "1"},
        stdin=DEVNULL,
        stdout=DEVNULL,
        stderr=PIPE,
    )
    try:
        async with asyncio.timeout(60):  # bounds a broken build; a refusal takes a second or two
            _, err = await process.communicate()
    finally:
        if process.returncode is None:  # still running: it was not refused
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode("utf-8", errors="replace").splitlines()


def said(err: list[str]) -> list[str]:
    """What a command said on stderr, without the lines of its log (which start with a time)."""
    return [line for line in err if not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", line)]


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) made unwritable, as a read-only file or folder an office
    may meet: by its mode; for root, whom modes do not stop, by the immutable attribute."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("run as root on a file system without chattr +i: nothing is read-only to root")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def import_example(config: Path) -> None:
    """The office has imported its list: the database exists, with the meeting in it."""
    assert main(["--config", str(config), "delegates", "import", str(EXAMPLE_DELEGATES)]) == 0


@pytest.mark.parametrize("what", ["file", "folder"])
async def test_a_read_only_database_is_said_in_one_line_before_the_bot_starts(
    what: str, tmp_path: Path
) -> None:
    fake = FakeBotApi()
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    folder = tmp_path / "van-phong"
    folder.mkdir()
    database = folder / "hoinghi.db"
    async with FakeBotApiServer(fake) as server:
        config = office_config(tmp_path, server, database)
        await asyncio.to_thread(import_example, config)
        with unwritable(database if what == "file" else folder):
            code, err = await hoinghi(config, "run", token=fake.token)
    expected = {
        "file": (
            f"Không ghi được vào cơ sở dữ liệu {database}: tệp chỉ cho phép đọc (hoặc nằm trên ổ "
            "đĩa chỉ đọc), hoặc tài khoản chạy bot không có quyền đọc và ghi tệp. Đề nghị cấp "
            f"quyền đọc và ghi tệp này cho tài khoản chạy bot (ví dụ: chmod u+rw {database}), "
            "rồi chạy lại."
        ),
        "folder": (
            f"Không ghi được vào thư mục {folder} chứa cơ sở dữ liệu {database}: thư mục chỉ cho "
            "phép đọc, hoặc tài khoản chạy bot không có quyền ghi (bot cần tạo các tệp phụ -wal, "
            "-shm cạnh tệp dữ liệu). Đề nghị cấp quyền ghi thư mục này cho tài khoản chạy bot, "
            "hoặc chuyển [database] url tới một thư mục ghi được, rồi chạy lại."
        ),
    }[what]
    assert (code, err[-1]) == (4, expected), "\n".join(err)
    # Besides the log's lines (the plan, its warnings, the database), this one line only.
    assert said(err) == [expected] and "Traceback" not in "\n".join(err)
    assert fake.calls == []  # the bot never started


async def test_a_missing_folder_or_a_file_that_is_no_database_is_said_in_one_line(
    tmp_path: Path,
) -> None:
    fake = FakeBotApi()
    junk = tmp_path / "hoinghi.db"
    junk.write_bytes(b"Danh sach dai bieu (ban nhap)\n" * 200)  # a file saved over the database
    missing = tmp_path / "du-lieu" / "hoinghi.db"
    async with FakeBotApiServer(fake) as server:
        results = {}
        for name, database in (("missing", missing), ("junk", junk)):
            config = office_config(tmp_path, server, database)
            results[name] = await hoinghi(config, "run", token=fake.token)
    assert results["missing"][0] == 4 and results["missing"][1][-1] == (
        f"Không có thư mục {missing.parent} để chứa cơ sở dữ liệu {missing}. Đề nghị tạo thư mục "
        f"này (mkdir -p {missing.parent}) hoặc sửa [database] url trong tệp cấu hình, rồi chạy lại."
    )
    assert results["junk"][0] == 4 and results["junk"][1][-1] == (
        f"Tệp {junk} không phải là cơ sở dữ liệu SQLite, hoặc đã bị hỏng. Đề nghị kiểm tra "
        "[database] url trong tệp cấu hình; nếu tệp bị hỏng, khôi phục từ bản sao lưu (xem "
        "`hoinghi db backup`)."
    )
    for _, err in results.values():
        assert len(said(err)) == 1 and "Traceback" not in "\n".join(err)
    assert not missing.parent.exists()  # nothing was created in its place
    assert junk.read_bytes().startswith(b"Danh sach dai bieu")  # nor overwritten
    assert fake.calls == []


def test_every_command_that_opens_the_database_says_so_too(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = office / "hoinghi.db"
    junk.write_bytes(b"not a database" * 100)
    for args in (
        ["db", "upgrade"],
        ["delegates", "import", str(EXAMPLE_DELEGATES)],
        ["report", "bao-cao.xlsx"],
        ["purge"],
    ):
        assert main(args) == 4, args
        assert capsys.readouterr().err.splitlines() == [
            f"Tệp {junk.resolve()} không phải là cơ sở dữ liệu SQLite, hoặc đã bị hỏng. Đề nghị "
            "kiểm tra [database] url trong tệp cấu hình; nếu tệp bị hỏng, khôi phục từ bản sao "
            "lưu (xem `hoinghi db backup`)."
        ], args


# --- one process at a time -----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh SQLite file, or a new empty database on the PostgreSQL server of
    HOINGHI_TEST_DATABASE_URL (skipped when that is not set: `make test-postgres` sets it)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hoinghi.db'}"
        return
    if postgres_url() is None:
        pytest.skip(f"{TEST_DATABASE_ENV} does not name a PostgreSQL server to run on")
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.mark.slow
async def test_a_second_run_of_one_meeting_on_sqlite_is_refused_until_the_first_is_killed(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL runs share the database (the next test)")
    fake = FakeBotApi()
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    async with FakeBotApiServer(fake) as server:
        config = office_config(tmp_path, server, Path("unused"))
        plan = tomllib.loads(config.read_text(encoding="utf-8"))
        plan["database"] = {"url": database_url}
        config.write_text(toml_document(plan), encoding="utf-8")
        await asyncio.to_thread(import_example, config)
        polls = lambda: len(fake.calls_to("getUpdates"))  # noqa: E731
        async with running_bot(config, fake) as first:
            await first.until(fake, lambda: polls() > 0, "the first bot polling")
            calls = len(fake.calls_to("getMe"))
            code, err = await hoinghi(config, "run", token=fake.token)
            database = (
                str(sqlite_file(database_url))
                if database_url.startswith("sqlite")
                else make_url(database_url).render_as_string(hide_password=True)
            )
            assert (code, err[-1]) == (
                4,
                f"Bot chưa khởi động: hội nghị 60-KH-BTV trên cơ sở dữ liệu {database} đang được "
                f"tiến trình hoinghi run (PID {first.process.pid}) phục vụ. Trên SQLite, mỗi hội "
                "nghị chỉ được một tiến trình chạy tại một thời điểm (hai tiến trình cùng chạy sẽ "
                "gửi trùng tin nhắn); các hội nghị khác vẫn chạy được bên cạnh. Nếu tiến trình kia "
                "đang chạy bình thường thì không cần chạy thêm; muốn khởi động lại, đề nghị dừng "
                "tiến trình đó trước, rồi chạy lại lệnh này.",
            ), "\n".join(err)
            assert "Traceback" not in "\n".join(err)
            assert len(fake.calls_to("getMe")) == calls  # the second never reached Telegram

            # What only reads or imports works beside the running bot; purge waits for it.
            args = ["--config", str(config)]
            for command in (
                ["check"],
                ["db", "upgrade"],
                ["delegates", "import", str(EXAMPLE_DELEGATES)],
                ["invites", "export", str(tmp_path / "l.csv"), "--bot-username", "hoinghi_bot"],
                ["report", str(tmp_path / "bao-cao.xlsx")],
            ):
                assert await asyncio.to_thread(main, [*args, *command]) == 0, command
            capsys.readouterr()
            # --yes: past the question (no terminal here) to where the lock is taken.
            assert await asyncio.to_thread(main, [*args, "purge", "--force", "--yes"]) == 4
            assert capsys.readouterr().err.splitlines() == [
                f"Chưa xóa dữ liệu: cơ sở dữ liệu {database} đang được tiến trình hoinghi run "
                f"(PID {first.process.pid}) sử dụng. Bot đang chạy có thể ghi lại dữ liệu cá nhân "
                "ngay sau khi xóa; đề nghị dừng bot trước, rồi chạy lại lệnh này."
            ]

            await first.kill()  # SIGKILL: no clean-up, the lock is left as it was
        started = polls()
        async with running_bot(config, fake) as second:
            await second.until(fake, lambda: polls() > started, "the next bot polling")
            assert await second.stop() == 0, second.log()
    assert len(fake.calls_to("getMe")) == 2 * calls
    fake.assert_no_violations()


@pytest.mark.slow
async def test_runs_share_a_postgresql_database_and_a_purge_is_refused_beside_them(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("on SQLite one run of a meeting at a time (the test before)")
    fake = FakeBotApi()
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    async with FakeBotApiServer(fake) as server:
        config = office_config(tmp_path, server, Path("unused"))
        plan = tomllib.loads(config.read_text(encoding="utf-8"))
        plan["database"] = {"url": database_url}
        config.write_text(toml_document(plan), encoding="utf-8")
        await asyncio.to_thread(import_example, config)
        started = lambda: len(fake.calls_to("getMe"))  # noqa: E731
        polls = lambda: len(fake.calls_to("getUpdates"))  # noqa: E731
        async with running_bot(config, fake) as first:
            await first.until(fake, lambda: polls() > 0, "the first bot polling")
            async with running_bot(config, fake) as second:
                await second.until(fake, lambda: started() >= 2, "the second bot starting")
                polled = polls()  # the first is in a long poll: the next is the second's
                await second.until(fake, lambda: polls() > polled, "the second bot polling")
                capsys.readouterr()
                args = ["--config", str(config)]
                assert await asyncio.to_thread(main, [*args, "purge", "--force", "--yes"]) == 4
                [refusal] = capsys.readouterr().err.splitlines()
                pids = (first.process.pid, second.process.pid)
                assert any(f"hoinghi run (PID {pid})" in refusal for pid in pids), refusal
                assert await second.stop() == 0, second.log()
            assert await first.stop() == 0, first.log()
    fake.assert_no_violations()


async def back_one(engine: AsyncEngine) -> None:
    """The database one migration behind, as if hoinghi was just updated."""

    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")

    async with engine.begin() as connection:
        await connection.run_sync(downgrade)


async def test_the_schema_never_changes_under_a_running_bot(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{office / 'hoinghi.db'}"
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
        await back_one(engine)
        behind = await current_revision(engine)
        assert behind != head_revision()
        bot = DatabaseLock(url, "run")  # the running bot, on the older schema
        await bot.acquire()
        try:
            upgrade = await asyncio.to_thread(main, ["db", "upgrade"])
            imported = await asyncio.to_thread(
                main, ["delegates", "import", str(EXAMPLE_DELEGATES)]
            )
        finally:
            await bot.release()
        assert await current_revision(engine) == behind
        assert (upgrade, imported) == (4, 4)
        message = (
            f"Cơ sở dữ liệu {office / 'hoinghi.db'} cần được nâng cấp lên phiên bản mới, nhưng "
            f"đang được tiến trình hoinghi run (PID {os.getpid()}) sử dụng; thay đổi cấu trúc dữ "
            "liệu khi bot đang chạy có thể làm bot gặp lỗi. Đề nghị dừng mọi bot đang chạy trên cơ "
            "sở dữ liệu này rồi khởi động lại (`hoinghi run` tự nâng cấp khi bắt đầu), hoặc dừng "
            "chúng rồi chạy lại lệnh này."
        )
        assert capsys.readouterr().err.splitlines() == [message, message]
        # Once the bot has stopped, the same command upgrades and imports.
        assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


# --- several meetings on one database ------------------------------------------------------------

PLAN_B_CODE = "75-KH-BTV"
SECOND_TOKEN = "654321:TEST-TOKEN-of-the-second-simulated-bot"


def plan_on(config: Path, database_url: str, *, code: str | None = None) -> Path:
    """``config`` (a plan written for a fake) moved onto ``database_url``; with ``code``,
    another meeting: its own code and number."""
    plan = tomllib.loads(config.read_text(encoding="utf-8"))
    plan["database"] = {"url": database_url}
    if code is not None:
        plan["meeting"] |= {"code": code, "plan_number": code.replace("-", "/", 1)}
    config.write_text(toml_document(plan), encoding="utf-8")
    assert load_config(config).config.meeting.code == (code or "60-KH-BTV")
    return config


async def link_and_announce(configs: list[tuple[Path, FakeBotApi, int]], linked: int) -> None:
    """Import the example list into each plan's meeting, then (not before: an import carries the
    accounts linked for an earlier meeting by phone) link its first ``linked`` people to the
    plan's own bot from ``first_uid`` on, and queue a notice to them, due now."""
    loaded = [load_config(config) for config, _, _ in configs]
    engine = create_engine(loaded[0].database_url)
    try:
        await upgrade_database(engine)
        sessions = create_sessionmaker(engine)
        plans = [await build_services(plan.config, sessions, SystemClock()) for plan in loaded]
        groups = [FileGroup(g.key, g.label) for g in loaded[0].config.groups]
        rows = parse_delegate_file(EXAMPLE_DELEGATES, groups).rows
        for services in plans:
            await services.delegates.import_rows(rows, actor="test")
        for services, (_, fake, first_uid) in zip(plans, configs, strict=True):
            for number, link in enumerate((await services.invitations.links())[:linked]):
                fake.user(first_uid + number, link.full_name.split()[-1])
                account = ChatAccount("telegram", str(first_uid + number), str(first_uid + number))
                result = await services.invitations.link_by_token(account, link.token)
                assert result.outcome is LinkOutcome.LINKED, (link.code, result.outcome)
            now = datetime.now(UTC)
            async with sessions() as session, session.begin():
                await add_notice_due(
                    session,
                    services.ctx.meeting_id,
                    f"Thông báo của hội nghị {services.config.meeting.code}.",
                    now,
                )
    finally:
        await engine.dispose()


def people_reached(fake: FakeBotApi) -> set[int]:
    """The private chats ``fake``'s bot sent anything to (the office group left out)."""
    return {chat for chat, count in fake.sent_counts().items() if chat > 0 and count}


@pytest.mark.slow
async def test_two_meetings_run_at_once_on_one_database_each_with_its_own_bot(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plan A and plan B, each its own `hoinghi run` with its own bot, on one database: each
    sends its own notice to its own people only; a purge waits for both. On SQLite a second
    process of one meeting, or a third meeting started with A's bot, is refused in one line."""
    linked = 6
    fake_a, fake_b = FakeBotApi(), FakeBotApi(token=SECOND_TOKEN)
    for fake in (fake_a, fake_b):
        fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    async with FakeBotApiServer(fake_a) as server_a, FakeBotApiServer(fake_b) as server_b:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        config_a = plan_on(write_config(tmp_path / "a", server_a), database_url)
        config_b = plan_on(write_config(tmp_path / "b", server_b), database_url, code=PLAN_B_CODE)
        await link_and_announce(
            [(config_a, fake_a, 7_100_000), (config_b, fake_b, 7_200_000)], linked
        )
        people_a = set(range(7_100_000, 7_100_000 + linked))
        people_b = set(range(7_200_000, 7_200_000 + linked))
        async with running_bot(config_a, fake_a) as a, running_bot(config_b, fake_b) as b:
            await a.until(fake_a, lambda: people_reached(fake_a) >= people_a, "A's notice sent")
            await b.until(fake_b, lambda: people_reached(fake_b) >= people_b, "B's notice sent")
            assert people_reached(fake_a) == people_a  # nobody of B's, through A's bot
            assert people_reached(fake_b) == people_b
            notices = {
                fake: {
                    m["text"].rsplit("\n", 1)[-1] for uid in people for m in fake.messages_to(uid)
                }
                for fake, people in ((fake_a, people_a), (fake_b, people_b))
            }
            assert notices == {
                fake_a: {"Thông báo của hội nghị 60-KH-BTV."},
                fake_b: {f"Thông báo của hội nghị {PLAN_B_CODE}."},
            }
            capsys.readouterr()
            assert await asyncio.to_thread(
                main, ["--config", str(config_a), "purge", "--force", "--yes"]
            ) == 4  # fmt: skip
            [refusal] = capsys.readouterr().err.splitlines()
            assert refusal.startswith("Chưa xóa dữ liệu: cơ sở dữ liệu "), refusal

            if database_url.startswith("sqlite"):
                database = sqlite_file(database_url)
                code, err = await hoinghi(config_a, "run", token=fake_a.token)
                assert (code, said(err)) == (4, [
                    f"Bot chưa khởi động: hội nghị 60-KH-BTV trên cơ sở dữ liệu {database} đang "
                    f"được tiến trình hoinghi run (PID {a.process.pid}) phục vụ. Trên SQLite, mỗi "
                    "hội nghị chỉ được một tiến trình chạy tại một thời điểm (hai tiến trình cùng "
                    "chạy sẽ gửi trùng tin nhắn); các hội nghị khác vẫn chạy được bên cạnh. Nếu "
                    "tiến trình kia đang chạy bình thường thì không cần chạy thêm; muốn khởi động "
                    "lại, đề nghị dừng tiến trình đó trước, rồi chạy lại lệnh này."
                ]), "\n".join(err)  # fmt: skip
                (tmp_path / "c").mkdir()
                config_c = plan_on(
                    write_config(tmp_path / "c", server_a), database_url, code="80-KH-BTV"
                )
                calls = len(fake_a.calls_to("getMe"))
                code, err = await hoinghi(config_c, "run", token=fake_a.token)
                assert (code, said(err)) == (4, [
                    f"Bot chưa khởi động: bot telegram với mã truy cập này đang được tiến trình "
                    f"hoinghi run (PID {a.process.pid}) dùng cho một hội nghị khác trên cơ sở dữ "
                    f"liệu {database}. Mỗi bot chỉ phục vụ được một hội nghị đang chạy (nền tảng "
                    "chỉ chuyển tin nhắn gửi bot đến một nơi nhận, hai hội nghị sẽ trả lời nhầm "
                    "người của nhau). Đề nghị dùng một bot riêng cho hội nghị này, hoặc dừng hội "
                    "nghị kia trước, rồi chạy lại lệnh này."
                ]), "\n".join(err)  # fmt: skip
                assert len(fake_a.calls_to("getMe")) == calls  # C never reached A's bot
            assert await b.stop() == 0, b.log()
            assert await a.stop() == 0, a.log()
    fake_a.assert_no_violations()
    fake_b.assert_no_violations()


def second_plan(office: Path, code: str = PLAN_B_CODE) -> LoadedConfig:
    """The office's example plan made into another meeting on the same database file."""
    text = (office / "config.toml").read_text(encoding="utf-8")
    path = office / f"{code}.toml"
    path.write_text(text.replace('code = "60-KH-BTV"', f'code = "{code}"', 1), encoding="utf-8")
    return load_config(path)


async def test_runs_of_two_meetings_share_an_sqlite_database_and_one_meeting_runs_once(
    office: Path,
) -> None:
    plan_a, plan_b = load_config(office / "config.toml"), second_plan(office)
    assert plan_a.database_url == plan_b.database_url
    async with open_storage(plan_a, exclusive="run"), open_storage(plan_b, exclusive="run"):
        with pytest.raises(DatabaseUnavailable) as twice:
            async with open_storage(plan_a, exclusive="run"):
                pass
        with pytest.raises(DatabaseUnavailable) as purge:
            async with open_storage(plan_b, exclusive="purge"):
                pass
    assert (twice.value.reason, twice.value.detail, twice.value.holder) == (
        "meeting_in_use", "60-KH-BTV", f"run {os.getpid()}"
    )  # fmt: skip
    assert (purge.value.reason, purge.value.holder) == ("in_use", f"run {os.getpid()}")
    async with open_storage(plan_a, exclusive="purge"):  # both ended: the database is free
        pass


async def test_no_run_starts_while_a_purge_holds_the_database(
    office: Path, database_url: str
) -> None:
    """``hoinghi purge`` removes the drafts' files after its transaction has committed: a blob
    it found unnamed stays unnamed only because nothing that takes an upload (a run: its bots
    and web pages) works beside it until it ends, on SQLite and on PostgreSQL."""
    config = office / "config.toml"
    plan = tomllib.loads(config.read_text(encoding="utf-8"))
    plan["database"] = {"url": database_url}
    config.write_text(toml_document(plan), encoding="utf-8")
    loaded = load_config(config)
    async with open_storage(loaded, exclusive="purge"):
        with pytest.raises(DatabaseUnavailable) as run:
            async with open_storage(loaded, exclusive="run"):
                pass
    assert (run.value.reason, run.value.holder) == ("in_use", f"purge {os.getpid()}")
    async with open_storage(loaded, exclusive="run"):  # the purge ended: runs start again
        pass


async def test_a_bot_serves_one_running_meeting_of_an_sqlite_database(
    office: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    def build_text(setup: ChannelSetup) -> Channel:
        @contextlib.asynccontextmanager
        async def receiving() -> AsyncIterator[None]:
            yield

        return Channel(TextChannel(setup.inbox, setup.catalog), receiving)

    text = ChannelEntry("text", "HOINGHI_TEXT_TOKEN", re.compile(r"t-\d+"), build_text)
    monkeypatch.setattr(bot.app, "CHANNELS", (text,))
    monkeypatch.setattr(bot.app, "freeze_startup_heap", started.set)  # the test process goes on
    catalog = load_catalog("vi")
    plan_a, plan_b = load_config(office / "config.toml"), second_plan(office)
    async with open_app(plan_a, catalog, env={"HOINGHI_TEXT_TOKEN": "t-1"}) as a:
        stop_a = asyncio.Event()
        running_a = asyncio.create_task(a.run(stop_a))
        await asyncio.wait_for(started.wait(), timeout=30)
        started.clear()
        async with open_app(plan_b, catalog, env={"HOINGHI_TEXT_TOKEN": "t-1"}) as b:
            with pytest.raises(DatabaseUnavailable) as same_bot:
                await b.run(asyncio.Event())
        assert (same_bot.value.reason, same_bot.value.detail) == ("bot_in_use", "text")
        assert not started.is_set()  # B started nothing
        async with open_app(plan_b, catalog, env={"HOINGHI_TEXT_TOKEN": "t-2"}) as b:
            stop_b = asyncio.Event()
            running_b = asyncio.create_task(b.run(stop_b))
            await asyncio.wait_for(started.wait(), timeout=30)  # its own bot: it runs beside A
            stop_b.set()
            await asyncio.wait_for(running_b, timeout=30)
        stop_a.set()
        await asyncio.wait_for(running_a, timeout=30)


def test_a_refused_run_names_the_meeting_or_the_bot_and_the_process_in_one_line() -> None:
    catalog = load_catalog("en")
    meeting = DatabaseUnavailable(
        "meeting_in_use", "/srv/hoinghi.db", holder="run 4242", detail="60-KH-BTV"
    )
    bot_held = DatabaseUnavailable("bot_in_use", "/srv/hoinghi.db", holder="", detail="zalo")
    assert database_problem(catalog, meeting, "run") == (
        "The bot did not start: the meeting 60-KH-BTV on the database /srv/hoinghi.db is served "
        "by the process hoinghi run (PID 4242). On SQLite one process at a time may run a meeting "
        "(two would send messages twice); other meetings can still run beside it. If that "
        "process is running as it should, there is nothing to start; to restart it, please stop "
        "that process first, then run this command again."
    )
    assert database_problem(catalog, bot_held, "run") == (
        "The bot did not start: the zalo bot with this token is used by another hoinghi process "
        "for another meeting on the database /srv/hoinghi.db. A bot can serve one running "
        "meeting (the platform hands a bot's messages to one receiver, and two meetings would "
        "answer each other's people as strangers). Please give this meeting a bot of its own, "
        "or stop the other meeting first, then run this command again."
    )


async def test_a_meeting_s_run_that_needs_an_upgrade_beside_another_s_says_it_is_the_upgrade(
    office: Path,
) -> None:
    """hoinghi was updated and meeting B restarted while meeting A's bot still runs on the older
    schema: B is refused because the schema cannot change under A, and says so."""
    plan_a, plan_b = load_config(office / "config.toml"), second_plan(office)
    async with open_storage(plan_a, exclusive="run"):  # the schema made, then A runs on it
        pass
    engine = create_engine(plan_a.database_url)
    try:
        await back_one(engine)
    finally:
        await engine.dispose()
    running_a = DatabaseLock(plan_a.database_url, "run", shared=True)
    await running_a.acquire()
    try:
        with pytest.raises(DatabaseUnavailable) as refused:
            async with open_storage(plan_b, exclusive="run"):
                pass
    finally:
        await running_a.release()
    assert (refused.value.reason, refused.value.holder) == ("upgrade_in_use", f"run {os.getpid()}")
    assert database_problem(load_catalog("en"), refused.value, "run") == (
        f"The database {office / 'hoinghi.db'} must be upgraded to a new version, but it is in use "
        f"by the process hoinghi run (PID {os.getpid()}); changing its structure under a running "
        "bot could break the bot. Please stop every bot running on this database and start them "
        "again (`hoinghi run` upgrades when it starts), or stop them and run this command again."
    )
