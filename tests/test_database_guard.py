"""The database a bot can use: one it can write, said in one line when it cannot, and one
``hoinghi run`` at a time."""

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
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from bot.cli import main
from storage.engine import create_engine
from storage.guard import DatabaseLock, sqlite_file
from storage.migrate import alembic_config, current_revision, head_revision, upgrade_database
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
from tests.harness import OFFICE_CHAT
from tests.test_crash import running_bot, toml_document


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
async def test_a_second_run_on_one_database_is_refused_until_the_first_is_killed(
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
                f"Bot chưa khởi động: cơ sở dữ liệu {database} đang được tiến trình hoinghi run "
                f"(PID {first.process.pid}) sử dụng. Mỗi cơ sở dữ liệu chỉ được một bot chạy tại "
                "một thời điểm (hai bot chạy cùng lúc sẽ gửi trùng tin nhắn). Nếu bot kia đang "
                "chạy bình thường thì không cần chạy thêm; muốn khởi động lại, đề nghị dừng tiến "
                "trình đó trước, rồi chạy lại lệnh này.",
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
        pytest.skip("on SQLite one run at a time holds the database (the test before)")
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


async def test_the_schema_never_changes_under_a_running_bot(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{office / 'hoinghi.db'}"
    engine = create_engine(url)
    try:
        await upgrade_database(engine)

        def back_one(connection: Connection) -> None:  # as if hoinghi was just updated
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")

        async with engine.begin() as connection:
            await connection.run_sync(back_one)
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
            "liệu khi bot đang chạy có thể làm bot gặp lỗi. Đề nghị dừng bot rồi khởi động lại "
            "(`hoinghi run` tự nâng cấp khi bắt đầu), hoặc dừng bot rồi chạy lại lệnh này."
        )
        assert capsys.readouterr().err.splitlines() == [message, message]
        # Once the bot has stopped, the same command upgrades and imports.
        assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
