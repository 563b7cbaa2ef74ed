"""The database a bot can use: one it can write, said in one line when it cannot."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tomllib
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, ROOT
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import OFFICE_CHAT
from tests.test_crash import toml_document


def office_config(folder: Path, server: FakeBotApiServer, database: Path) -> Path:
    """The example plan in ``folder``, on the SQLite file ``database``, talking to the fake."""
    plan = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
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
    async with asyncio.timeout(60):  # bounds a broken build; a refusal takes a second or two
        _, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode("utf-8", errors="replace").splitlines()


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
    assert len(err) <= 2 and "Traceback" not in "\n".join(err)  # the "database:" line and this
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
        assert len(err) <= 2 and "Traceback" not in "\n".join(err)
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
