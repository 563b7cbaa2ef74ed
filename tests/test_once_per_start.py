"""tests.plan_support.once_per_start: a test given the copy of a set-up's database gets what the
set-up itself would have left, on SQLite."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.services import Services
from storage.sharing import engine_of
from tests.plan_support import once_per_start


def last_seen(database: Path) -> list[tuple[str, str | None]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(
            "SELECT external_id, last_seen_at FROM channel_identities ORDER BY external_id"
        ).fetchall()


@dataclass
class Start:
    """The test's SQLite file as the example list's import left it, and a copy of it."""

    engine: AsyncEngine
    database: Path
    before: Path

    async def again(self) -> None:
        """The database put back as it was: the very same rows (the plan and the time are the
        caller's to put back)."""
        await self.engine.dispose()
        shutil.copyfile(self.before, self.database)


@pytest.fixture
async def start(imported: Services, tmp_path: Path) -> Start:
    engine = engine_of(imported.ctx.sessions)
    if engine.url.get_backend_name() != "sqlite":
        pytest.skip("on PostgreSQL the set-up runs every time")
    database = Path(str(engine.url.database))
    await engine.dispose()
    before = tmp_path / "before.db"
    shutil.copyfile(database, before)
    return Start(engine, database, before)


async def test_a_copy_holds_the_writes_its_set_up_left_riding(
    imported: Services, clock: ManualClock, start: Start
) -> None:
    # A set-up whose last write rides in a later transaction (an account's last use): the
    # copy is taken once it is stored, or later tests would start without it.
    services = imported
    (link,) = [x for x in await services.invitations.links() if x.code == "DB001"]
    account = ChatAccount("telegram", "5001", "5001")

    runs: list[None] = []

    async def setup() -> None:
        runs.append(None)
        await services.invitations.link_by_token(account, link.token)
        now = clock.now()
        clock.set(now + timedelta(hours=1))  # a later use than the link's
        services.activity.seen(account)  # written with the next commit
        clock.set(now)

    await once_per_start(services, "riding-write", setup)  # the set-up runs
    await services.ctx.writes.drain()
    await start.engine.dispose()
    after_setup = last_seen(start.database)
    assert after_setup[0][1] is not None  # the mark is stored

    await start.again()  # the very same rows, plan and time again
    await once_per_start(services, "riding-write", setup)  # a copy is put in place
    await services.ctx.writes.drain()
    await start.engine.dispose()
    assert len(runs) == 1
    assert last_seen(start.database) == after_setup


async def test_a_copy_leaves_the_clock_where_its_set_up_left_it(
    imported: Services, clock: ManualClock, start: Start
) -> None:
    # A set-up that moves the time (answers given over an hour): a later test given the copy
    # goes on at the time the set-up left, as the test that ran it did.
    began = clock.now()

    async def setup() -> None:
        clock.advance(timedelta(hours=1))

    await once_per_start(imported, "moved-clock", setup)
    assert clock.now() == began + timedelta(hours=1)

    clock.set(began)
    await start.again()  # the very same rows, plan and time again
    await once_per_start(imported, "moved-clock", setup)  # a copy is put in place
    assert clock.now() == began + timedelta(hours=1)
