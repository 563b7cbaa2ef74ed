"""Shared fixtures: the example plan, a fresh migrated database per test (SQLite, or PostgreSQL
with HOINGHI_TEST_DATABASE_URL), an injected clock."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.util import LRUCache

from bot.config import Config, load_config
from bot.domain.clock import ManualClock
from bot.domain.outbound import MessageKind
from bot.domain.reminders import planned_messages
from bot.services import Services, build_services
from handlers.telegram.context import inbox_of_bot_data
from handlers.telegram.dedupe import flush_handled
from schedules.planner import sync_planned
from storage.base import Base
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.migrate import upgrade_database
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi, FakeUser
from tests.harness import BotHarness, start_harness, wired_config
from tests.office_support import Desk, signed_in_desk

# The example lists, still imported from here by many test files (a conftest is pytest's, not a
# module to import: new imports take them from tests.plan_support, where they are written).
# tests.plan_support is a plugin (below) imported here first: its asserts are rewritten as a
# plugin's only when registered before this import (tests/__init__.py).
from tests.plan_support import EXAMPLE_CONTACTS as EXAMPLE_CONTACTS
from tests.plan_support import EXAMPLE_DELEGATES as EXAMPLE_DELEGATES
from tests.plan_support import import_example, once_per_start

# tests.unread_failures: a task's failure left unread fails the session; tests.plan_support:
# the example plan's set-ups (its fixture ``kept_setups``); tests.zalo_support: the Zalo world's
# fixtures (``world``, ``hooked``).
pytest_plugins = ["tests.unread_failures", "tests.plan_support", "tests.zalo_support"]

os.environ.setdefault("PTB_TIMEDELTA", "1")  # as `hoinghi` does; see bot/cli.py

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config.example.toml"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# The line a command that changes the example plan's people or staff opens with.
EXAMPLE_MEETING = (
    "Hội nghị: Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ thành "
    "phố Hà Nội lần thứ XVII, nhiệm kỳ 2021 – 2026 (mã 60-KH-BTV)."
)


def local(*args: int) -> datetime:
    """A Hanoi wall-clock time as an aware datetime."""
    return datetime(*args, tzinfo=HANOI)  # type: ignore[misc]


def without_web(text: str) -> str:
    """A plan's TOML without its ``[web]`` section: the plan as a Telegram-only office has it
    (config.example.toml serves the personal pages, and ``run`` would then serve them)."""
    return re.sub(r"(?ms)^\[web\]\n.*?(?=^\[)", "", text)


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An office's working folder holding a copy of the example plan as ./config.toml, with no
    config path or bot token in the environment (for tests that drive the `hoinghi` CLI).

    The copy has no ``[web]``: these tests are about the chat channels and the files, and a
    plan with ``[web]`` runs a web server (``office_web`` keeps it)."""
    (tmp_path / "config.toml").write_text(
        without_web(EXAMPLE_CONFIG.read_text(encoding="utf-8")), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("ZALO_BOT_TOKEN", raising=False)
    return tmp_path


@pytest.fixture
def office_web(office: Path) -> Path:
    """The office's folder with the example plan as shipped: ``[web]`` included, on a port
    free a moment ago, so a test that runs it does not collide with another server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("port = 8080", f"port = {port}")
    (office / "config.toml").write_text(text, encoding="utf-8")
    return office


@pytest.fixture(scope="session")
def example_plan() -> Config:
    """config.example.toml read once a run (reading it takes 3–4 ms: ten seconds a suite)."""
    return load_config(EXAMPLE_CONFIG).config


@pytest.fixture
def config(example_plan: Config) -> Config:
    """The example plan, Kế hoạch 60/KH-BTV: the test's own copy of it (under 1 ms)."""
    return example_plan.model_copy(deep=True)


@pytest.fixture
def clock() -> ManualClock:
    """Ten days before the meeting, well before the RSVP deadline (21/5 17:00)."""
    return ManualClock(local(2024, 5, 18, 9, 0))


# Set to a PostgreSQL URL (postgresql+asyncpg://…/postgres, as scripts/with-postgres sets it)
# to run the suite on PostgreSQL: the server must let that role create databases. A template
# is migrated once a run (a process); one copy of it serves every test, emptied before each;
# a test marked ``fresh_database`` (it changes the schema) gets a copy of its own.
# Unset: a fresh SQLite file per test.
TEST_DATABASE_ENV = "HOINGHI_TEST_DATABASE_URL"
POSTGRES_TEMPLATE = "hoinghi_template"
_postgres_databases = itertools.count(1)


def postgres_url() -> URL | None:
    """The PostgreSQL server the suite runs on (``HOINGHI_TEST_DATABASE_URL``), or None."""
    url = os.environ.get(TEST_DATABASE_ENV)
    return make_url(url) if url else None


async def create_postgres_database(template: str | None = None) -> str:
    """A new database on the test server, empty or a copy of ``template``: its URL."""
    server = postgres_url()
    assert server is not None
    name = f"hoinghi_test_{os.getpid()}_{next(_postgres_databases)}"
    copy = f" TEMPLATE {template}" if template else ""
    await _postgres_admin(f"CREATE DATABASE {name}{copy}")
    return server.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    """Drops a database made by :func:`create_postgres_database`, cutting its connections."""
    await _postgres_admin(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


async def _postgres_admin(*statements: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction: autocommit, no pool.
    server = postgres_url()
    assert server is not None
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await admin.dispose()


def _in_own_loop(work: Coroutine[Any, Any, Any]) -> Any:
    # In a thread of its own: no event loop may be running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file brought to the newest schema by the real migrations, once a run: each
    test's database is a copy of it (migrating took 0.17 s a test, three minutes a suite)."""
    path = tmp_path_factory.mktemp("schema") / "migrated.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()  # the last connection closed: the WAL is folded into the file

    _in_own_loop(migrate())
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> str:
    """The PostgreSQL template database brought to the newest schema by the real migrations,
    once a run: the shared database and each ``fresh_database`` test's are copies of it."""
    server = postgres_url()
    assert server is not None
    # One template per process: xdist workers must not drop each other's while copying it.
    template = f"{POSTGRES_TEMPLATE}_{os.getpid()}"

    async def migrate() -> None:
        await _postgres_admin(
            f"DROP DATABASE IF EXISTS {template} WITH (FORCE)",
            f"CREATE DATABASE {template}",
        )
        url = server.set(database=template).render_as_string(hide_password=False)
        engine = create_engine(url)
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()  # a template is copied only while nobody is connected to it

    _in_own_loop(migrate())
    return template


@pytest.fixture(scope="session")
def shared_postgres(migrated_postgres: str) -> tuple[str, str]:
    """The run's one PostgreSQL database for the tests that leave the schema alone (a copy of
    the template), and the one statement that empties it before each test."""

    async def create() -> tuple[str, str]:
        url = await create_postgres_database(template=migrated_postgres)
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                rows = await connection.exec_driver_sql(
                    "SELECT c.relname, pg_get_serial_sequence(quote_ident(c.relname), a.attname)"
                    " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                    " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
                    " AND a.attnum > 0 AND NOT a.attisdropped"
                    " AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL"
                )
                sequences = dict(cast("list[tuple[str, str]]", rows.all()))
        finally:
            await engine.dispose()
        return url, emptying_statement(sequences)

    url, empty = _in_own_loop(create())
    return url, empty


def emptying_statement(sequences: dict[str, str]) -> str:
    """One DO block that empties every table of the schema (alembic_version aside) and
    restarts the id sequences a test used: rows deleted children first, only from the tables
    that hold any. Measured under a load of 4–6: a TRUNCATE of all 19 tables took 0.28–0.33 s,
    no faster than copying the template (0.2–0.4 s, and as much again to drop it); this takes
    ~0.06 s (a connection alone ~0.03 s) and needs no superuser."""
    steps = []
    for table in reversed(Base.metadata.sorted_tables):  # children before their parents
        steps.append(f"IF EXISTS (SELECT FROM {table.name}) THEN DELETE FROM {table.name}; END IF;")
        if sequence := sequences.get(table.name):
            steps.append(
                f"IF (SELECT is_called FROM {sequence}) THEN"
                f" PERFORM setval('{sequence}', 1, false); END IF;"
            )
    return "DO $$ BEGIN\n" + "\n".join(steps) + "\nEND $$"


# Lock waits of this test's database only: another test's (another worker's, on the same
# server) must not pass for this one's. A wait for a row lock is one for the holder's
# transaction id, which names no database (pg_locks.database is NULL): the waiting backend's
# does. pg_stat_activity is read once a transaction: the watcher looks in a new one each time.
_LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN"
    " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
)


async def until_waiting(engine: AsyncEngine, waiters: int, *tasks: asyncio.Task[Any]) -> None:
    """Until ``waiters`` transactions of this database wait for a lock (PostgreSQL), or one of
    ``tasks`` is done (none waits: nothing serialises them)."""
    async with engine.connect() as connection:
        watcher = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while not any(task.done() for task in tasks):
            waiting = await watcher.scalar(_LOCK_WAITERS)
            if waiting >= waiters:
                return
            await asyncio.sleep(0.005)  # a look at the server's locks, not a guess at timing


class _CompiledAcrossEngines:
    """SQLAlchemy's cache of compiled statements, shared by the tests' SQLite engines. An
    engine keeps its own, keyed by its own dialect: with a new engine a test, every statement
    was compiled again in every test (a fifth of a dashboard test's time). The test engines are
    all built alike (:func:`storage.engine.create_engine` on a file, the same SQLite), so a
    statement compiled for one is the one compiled for any: the key is taken without the
    dialect."""

    def __init__(self) -> None:
        self._compiled = LRUCache[Any, Any](5000)

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self._compiled.get(key[1:], default)

    def __setitem__(self, key: tuple[Any, ...], compiled: Any) -> None:
        self._compiled[key[1:]] = compiled


_SQLITE_COMPILED = _CompiledAcrossEngines()


@pytest.fixture
async def engine(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """A fresh database at the newest schema: a copy of the migrated SQLite file; on the
    PostgreSQL server of ``HOINGHI_TEST_DATABASE_URL`` the run's shared database emptied, or
    for a ``fresh_database`` test a copy of the migrated template of its own."""
    if postgres_url() is None:
        target = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), target)
        engine = create_engine(f"sqlite+aiosqlite:///{target}")
        engine.sync_engine._compiled_cache = _SQLITE_COMPILED  # type: ignore[assignment]
        yield engine
        await engine.dispose()
        return
    if request.node.get_closest_marker("fresh_database") is None:
        url, empty = request.getfixturevalue("shared_postgres")
        engine = create_engine(url)
        try:
            # Emptied before, not after: a test that failed half-way leaves nothing behind.
            async with engine.begin() as connection:
                await connection.exec_driver_sql(empty)
            yield engine
        finally:
            await engine.dispose()
        return
    url = await create_postgres_database(template=request.getfixturevalue("migrated_postgres"))
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        await drop_postgres_database(url)


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database."""
    return create_sessionmaker(engine)


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    """A fresh store for uploaded speech drafts."""
    return FileStore(tmp_path / "drafts")


@pytest.fixture
async def services(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    files: FileStore,
) -> AsyncIterator[Services]:
    """Every service, wired to the example plan and the test database. At the end the writes
    nobody waited for (a record of an update or an account's last use, riding in the next
    transaction) are committed: left to a timer, their task outlived the test's event loop, and
    its coroutine, closed later by the garbage collector, broke whichever test ran then."""
    services = await build_services(config, sessions, clock, files=files)
    yield services
    await services.ctx.writes.drain()


@pytest.fixture
async def desk(imported: Services) -> AsyncIterator[Desk]:
    """A browser on the dashboard, signed in as the office's staff member
    (:data:`tests.office_support.STAFF`), on the example list."""
    async with signed_in_desk(imported) as desk:
        yield desk


async def morning_programme_due(services: Services, clock: ManualClock) -> None:
    """The plan's morning programme stored (as the scheduler plans it at start) and the clock
    at its time, 06:30 on the meeting day: the next tick sends it."""
    planned = planned_messages(services.config)
    await sync_planned(
        services.ctx.sessions,
        clock,
        services.ctx.meeting_id,
        [p for p in planned if p.kind is MessageKind.MORNING_AGENDA],
    )
    clock.set(local(2024, 5, 28, 6, 30))


@pytest.fixture
async def imported(services: Services) -> Services:
    """Services after importing the 80 example delegates."""
    await once_per_start(services, "imported", lambda: import_example(services))
    return services


@pytest.fixture
def fake() -> FakeBotApi:
    """A fresh fake Bot API; the office group of the example plan exists in it."""
    fake = FakeBotApi()
    fake.group(-1001000000001, "Văn phòng Hội LHPN Hà Nội")
    return fake


@pytest.fixture
def an(fake: FakeBotApi) -> FakeUser:
    """A delegate with a Telegram account, known to the fake."""
    return fake.user(1001, "An")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback traffic reaches a test's server directly: the HTTP clients honour proxy
    variables, and a machine behind a proxy would send it there."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def fake_server(fake: FakeBotApi, no_proxy: None) -> AsyncIterator[FakeBotApiServer]:
    """``fake`` served over loopback HTTP, for real bots and other processes to reach."""
    async with FakeBotApiServer(fake) as server:
        yield server


@pytest.fixture
async def harness(
    fake: FakeBotApi,
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    files: FileStore,
) -> AsyncIterator[BotHarness]:
    """The real bot with the 80 example delegates imported, talking to the fake Bot API.

    Every test using it fails if the bot made a call the official Bot API would refuse.
    """
    services = await build_services(wired_config(config, fake), sessions, clock, files=files)
    await once_per_start(services, "imported", lambda: import_example(services))
    harness = await start_harness(fake, services, clock)
    yield harness
    # As serve() does at shutdown: the handled-update records still being written are stored
    # first, so that no trip to the database thread outlives the test's event loop.
    await flush_handled(harness.app.bot_data)
    await inbox_of_bot_data(harness.app.bot_data).flush()
    await harness.app.shutdown()
    await harness.outbox_bot_shutdown()
    fake.assert_no_violations()
