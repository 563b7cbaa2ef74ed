"""`hoinghi db copy --to URL`: an installation moves to another database (SQLite to PostgreSQL)
with every row, and the bot goes on there; an occupied target, the same database or a running
bot are refused in words, and a failed copy leaves the target empty."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.cli import main
from storage.copy import tables
from storage.engine import create_engine
from storage.guard import DatabaseLock
from tests.conftest import EXAMPLE_DELEGATES, TEST_DATABASE_ENV

NEWCOMER = "DB999,Nguyễn Thị Mới,Phóng viên,Báo Mới,bao_chi,,11\n"


def counts(url: str) -> dict[str, int]:
    """Rows per table of the database at ``url``."""

    async def read() -> dict[str, int]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return {
                    table.name: int(
                        (
                            await connection.execute(select(func.count()).select_from(table))
                        ).scalar_one()
                    )
                    for table in tables()
                }
        finally:
            await engine.dispose()

    return asyncio.run(read())


def postgres_database() -> Iterator[str]:
    """A new empty database on the test PostgreSQL server, dropped afterwards."""
    server = os.environ.get(TEST_DATABASE_ENV, "")
    if not server.startswith("postgresql"):
        pytest.skip(f"a PostgreSQL target needs {TEST_DATABASE_ENV} (make test-postgres sets it)")
    name = f"hoinghi_copy_{uuid.uuid4().hex[:12]}"

    async def run(statement: str) -> None:
        engine = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, office: Path) -> Iterator[str]:
    """An empty database to move to: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{office / 'moi' / 'hoinghi.db'}"
    else:
        yield from postgres_database()


def use_database(office: Path, url: str) -> None:
    """Point the office's config at ``url``, as the copy's last line tells the office to."""
    config = office / "config.toml"
    text_ = config.read_text(encoding="utf-8")
    config.write_text(text_.replace("[database]\n", f'[database]\nurl = "{url}"\n', 1), "utf-8")


def test_every_row_moves_to_the_empty_database_and_the_bot_goes_on_there(
    office: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (office / "moi").mkdir()
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["staff", "add", "DB010"]) == 0
    source = counts(f"sqlite+aiosqlite:///{office / 'hoinghi.db'}")
    capsys.readouterr()

    assert main(["db", "copy", "--to", target]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  delegates: 80 dòng" in out
    shown = make_url(target).render_as_string(hide_password=True)
    assert out[-2] == (
        f"Đã chép toàn bộ dữ liệu ({len(tables())} bảng, {sum(source.values())} dòng) sang "
        f"{shown}; số dòng mỗi bảng ở hai bên đã được đối chiếu."
    )
    assert out[-1].startswith(f'Bước tiếp theo: trong tệp cấu hình, đặt [database] url = "{shown}"')
    assert counts(target) == source
    assert source["delegates"] == 80 and source["person_roles"] == 1 and source["audit_log"] > 0

    # The office follows the last line: the bot works on the new database, and new rows get
    # ids after the copied ones (PostgreSQL's sequences were moved past them).
    use_database(office, target)
    added = office / "them.csv"
    lines = EXAMPLE_DELEGATES.read_text(encoding="utf-8").splitlines(keepends=True)
    added.write_text("".join(lines) + NEWCOMER, encoding="utf-8")
    assert main(["delegates", "import", str(added)]) == 0
    assert main(["report", "bao-cao.xlsx"]) == 0
    assert "81 đại biểu" in capsys.readouterr().out
    assert counts(target)["delegates"] == 81


def test_a_target_that_holds_data_is_refused_and_left_as_it_was(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    other = f"sqlite+aiosqlite:///{office / 'khac.db'}"
    assert main(["db", "copy", "--to", other]) == 0
    before = counts(other)
    capsys.readouterr()
    assert main(["db", "copy", "--to", other]) == 2
    assert capsys.readouterr().err.strip() == (
        f"Chưa chép: cơ sở dữ liệu đích {other} đã có dữ liệu (bảng meetings). Để không trộn hai "
        "bộ dữ liệu, đề nghị dùng một cơ sở dữ liệu mới, còn trống."
    )
    assert counts(other) == before


def test_copying_onto_itself_or_to_a_malformed_address_is_refused(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    itself = f"sqlite+aiosqlite:///{office / 'hoinghi.db'}"
    assert main(["db", "copy", "--to", itself]) == 2
    assert capsys.readouterr().err.startswith("Cơ sở dữ liệu đích trùng với cơ sở dữ liệu")
    assert main(["db", "copy", "--to", "khong phai dia chi"]) == 2
    assert capsys.readouterr().err.startswith("Địa chỉ cơ sở dữ liệu đích không hợp lệ.")


def test_an_unreachable_target_is_said_without_its_password(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    url = "postgresql+asyncpg://hoinghi:bi-mat@127.0.0.1:1/hoinghi"
    assert main(["db", "copy", "--to", url]) == 4
    err = capsys.readouterr().err
    assert err.startswith(
        "Chưa chép: không kết nối được hoặc không ghi được vào cơ sở dữ liệu đích "
        "postgresql+asyncpg://hoinghi:***@127.0.0.1:1/hoinghi ("
    )
    assert "bi-mat" not in err


async def test_a_copy_is_refused_while_a_bot_runs_on_the_database(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite+aiosqlite:///{office / 'hoinghi.db'}"
    assert await asyncio.to_thread(main, ["db", "upgrade"]) == 0
    running = DatabaseLock(source, "run")
    await running.acquire()
    try:
        code = await asyncio.to_thread(
            main, ["db", "copy", "--to", f"sqlite+aiosqlite:///{office / 'moi.db'}"]
        )
    finally:
        await running.release()
    assert code == 4
    assert capsys.readouterr().err.startswith(
        f"Chưa chép: cơ sở dữ liệu {office / 'hoinghi.db'} đang được tiến trình hoinghi run (PID "
    )
    assert not (office / "moi.db").exists()
