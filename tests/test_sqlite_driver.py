"""storage.sqlite_driver: a statement is one trip to aiosqlite's thread, and nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine, create_sessionmaker
from storage.models import Meeting
from storage.uow import unit_of_work

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        await connection.run_sync(lambda sync: Meeting.__table__.create(sync))
    yield engine
    await engine.dispose()


class Trips(Counter[str]):
    """Every call run on an aiosqlite thread, by what it ran (the SQL's verb, for a statement).

    With :meth:`hold_begins`, a BEGIN waits on the thread, as it would for the write lock,
    until the gate opens.
    """

    def __init__(self) -> None:
        super().__init__()
        self.begun = asyncio.Event()  # a BEGIN is on its way to the thread
        self._gate: threading.Event | None = None

    def hold_begins(self) -> threading.Event:
        self._gate = threading.Event()
        return self._gate

    def made(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Callable[..., Any]:
        sql = [kw.get("begin"), next((arg for arg in args if isinstance(arg, str)), None)]
        verbs = [statement.split()[0] for statement in sql if statement]
        self["+".join(verbs) or getattr(fn, "__name__", "?")] += 1
        if "BEGIN" not in verbs:
            return fn
        self.begun.set()
        gate = self._gate
        if gate is None:
            return fn

        def held(*args: Any, **kw: Any) -> Any:
            gate.wait(timeout=10)
            return fn(*args, **kw)

        return held


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    made = Trips()
    original = aiosqlite.Connection._execute

    async def counted(
        self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        return await original(self, partial(made.made(fn, args, kw), *args, **kw))

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_a_write_transaction_makes_one_trip_per_statement_and_none_to_return_its_connection(
    engine: AsyncEngine, trips: Trips
) -> None:
    async with engine.connect() as connection:  # the pool's connection, made before counting
        await connection.execute(text("SELECT 1"))
    trips.clear()
    async with engine.begin() as connection:
        await connection.execute(text("SELECT count(*) FROM t"))
        await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
    # SQLAlchemy's own adapter: BEGIN 3 (cursor, execute, close), SELECT 4 (cursor, execute,
    # fetch, close), INSERT 3, COMMIT 1, and a ROLLBACK as the connection goes back to the pool.
    assert trips == Counter({"BEGIN+SELECT": 1, "INSERT": 1, "commit": 1})


async def test_a_transaction_without_statements_makes_no_trip_and_the_next_still_begins(
    engine: AsyncEngine, trips: Trips
) -> None:
    async with engine.begin():
        pass
    assert trips == Counter()
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
    assert trips == Counter({"BEGIN+INSERT": 1, "commit": 1})


async def test_a_streamed_result_reads_inside_its_transaction(
    engine: AsyncEngine, trips: Trips, tmp_path: Path
) -> None:
    holder = sqlite3.connect(tmp_path / "trips.db", isolation_level=None, timeout=0)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        async with engine.begin() as connection:
            streamed = await connection.stream(text("SELECT v FROM t ORDER BY k"))
            assert [v async for (v,) in streamed] == ["a", "b"]
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                holder.execute("BEGIN IMMEDIATE")  # the stream's transaction holds the lock
    finally:
        holder.close()
    assert trips["BEGIN"] == 1  # the stream's own BEGIN, before aiosqlite's cursor


async def test_a_begin_that_found_the_lock_taken_is_run_again_before_the_next_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    # Otherwise the transaction's later statements would run in autocommit, each its own
    # transaction, and a rollback would undo nothing.
    holder = sqlite3.connect(tmp_path / "trips.db", isolation_level=None, timeout=0)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("PRAGMA busy_timeout = 0"))  # fail at once
            await connection.commit()
            holder.execute("BEGIN IMMEDIATE")
            transaction = await connection.begin()
            with pytest.raises(OperationalError, match="database is locked") as locked:
                await connection.execute(text("SELECT count(*) FROM t"))
            assert locked.value.orig is not None
            assert locked.value.orig.__notes__ == [
                "while beginning the transaction: BEGIN IMMEDIATE"
            ]
            holder.execute("COMMIT")
            await connection.execute(text("INSERT INTO t (v) VALUES ('undone')"))
            await transaction.rollback()
        assert holder.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        holder.close()


async def test_two_users_of_one_in_memory_connection_cannot_share_a_transaction() -> None:
    engine = create_engine("sqlite+aiosqlite://")  # one connection for all (StaticPool)
    try:
        async with engine.connect() as first, engine.connect() as second:
            await first.begin()
            with pytest.raises(OperationalError, match="within a transaction"):
                await second.begin()
    finally:
        await engine.dispose()


async def test_rows_row_counts_and_new_ids_come_back_from_the_one_trip(
    engine: AsyncEngine, trips: Trips
) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        meeting = Meeting(code="m", title="Hội nghị", starts_at=NOW, created_at=NOW)
        session.add(meeting)
        await session.flush()
        new_id = meeting.id
        await session.execute(
            text("INSERT INTO t (v) VALUES (:v)"), [{"v": "a"}, {"v": "b"}, {"v": "c"}]
        )
        changed = await session.execute(text("UPDATE t SET v = v || '!' WHERE v != 'b'"))
        rows = (await session.execute(text("SELECT v FROM t ORDER BY k"))).all()
    assert new_id == 1
    assert changed.rowcount == 2  # type: ignore[attr-defined]
    assert [v for (v,) in rows] == ["a!", "b", "c!"]
    async with sessions() as session:
        assert await session.get(Meeting, new_id) is not None


async def test_a_failed_statement_is_an_sqlalchemy_error_and_its_transaction_rolls_back(
    engine: AsyncEngine, trips: Trips
) -> None:
    sessions = create_sessionmaker(engine)
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
            await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
    assert trips["rollback"] == 1  # a transaction was open: its ROLLBACK makes the trip
    async with sessions() as session, session.begin():  # the write lock was released
        await session.execute(text("INSERT INTO t (v) VALUES ('b')"))
    async with sessions() as session:
        assert (await session.scalars(text("SELECT v FROM t"))).all() == ["b"]


async def test_a_statement_cancelled_on_its_way_costs_its_connection_and_nothing_else(
    engine: AsyncEngine, trips: Trips
) -> None:
    # A statement waiting on the thread (its BEGIN, for the write lock) is abandoned by its
    # task, and runs later. Its connection must not go back to the pool, where it would hold
    # the lock inside a transaction and fail the next write: SQLAlchemy closes it, in the
    # thread's turn, and no ROLLBACK decides from a state the thread is still changing.
    sessions = create_sessionmaker(engine)

    async def write(v: str) -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})

    gate = trips.hold_begins()
    waiting = asyncio.create_task(write("lost"))
    await asyncio.wait_for(trips.begun.wait(), timeout=5)
    waiting.cancel()
    gate.set()  # the statement runs, though its task no longer waits for it
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert trips == Counter({"BEGIN+INSERT": 1, "close": 1})
    await asyncio.wait_for(write("kept"), timeout=5)
    async with sessions() as session:
        assert (await session.scalars(text("SELECT v FROM t"))).all() == ["kept"]


async def test_deferred_writes_ride_with_the_next_read_and_the_commit_in_order(
    engine: AsyncEngine, trips: Trips
) -> None:
    sessions = create_sessionmaker(engine)
    async with unit_of_work(sessions) as session:  # the pool's connection, made before counting
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with unit_of_work(sessions, defer_writes=True) as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
        await session.execute(text("INSERT INTO t (v) VALUES ('b')"))
        assert trips == Counter()  # the writes wait on the loop's side
        counted = await session.execute(text("SELECT count(*) FROM t"))
        assert counted.scalar_one() == 2  # the read sees them: they went first, in its trip
        await session.execute(text("UPDATE t SET v = 'c' WHERE v = 'a'"))
    assert trips == Counter({"BEGIN+SELECT": 1, "_run_deferred": 1})  # the UPDATE + COMMIT
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT v FROM t ORDER BY k"))
        assert [v for (v,) in rows] == ["c", "b"]


async def test_a_deferred_write_that_fails_fails_its_commit_and_nothing_is_stored(
    engine: AsyncEngine, trips: Trips
) -> None:
    sessions = create_sessionmaker(engine)
    with pytest.raises(IntegrityError):
        async with unit_of_work(sessions, defer_writes=True) as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
            await session.execute(text("INSERT INTO t (v) VALUES ('a')"))  # v is UNIQUE
    assert trips["rollback"] == 1  # the COMMIT's trip stopped at the INSERT: rolled back
    async with unit_of_work(sessions) as session:  # the connection is sound, writes at once
        await session.execute(text("INSERT INTO t (v) VALUES ('b')"))
        assert trips["INSERT"] == 0 and trips["BEGIN+INSERT"] == 1
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT v FROM t"))
        assert [v for (v,) in rows] == ["b"]
