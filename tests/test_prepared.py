"""Statements run prepared (storage.prepared): what they store and read is what SQLAlchemy's
``execute`` stores and reads, on SQLite and on PostgreSQL, in the tap's kind of transaction."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    DDL,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import create_engine
from storage.prepared import Prepared
from storage.queries import AUDIT_TABLE as AUDIT
from storage.queries import HANDLED_TABLE as HANDLED
from storage.uow import in_one_pass

HANOI = timezone(timedelta(hours=7))


def entry(actor: str, at: datetime) -> dict[str, Any]:
    return {
        "meeting_id": None,
        "at": at,
        "actor": actor,
        "action": "rsvp.changed",
        "entity": "rsvp",
        "entity_id": 7,
        "before": {"status": "no_answer", "reason": None},
        "after": {"status": "attending", "note": "Tham dự đầy đủ"},
    }


def audit_rows(connection: Connection) -> list[tuple[Any, ...]]:
    columns = [c for c in AUDIT.c if c.name != "id"]
    return [tuple(row) for row in connection.execute(select(*columns).order_by(AUDIT.c.id))]


async def test_a_prepared_write_stores_what_execute_stores(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    at = datetime(2024, 5, 20, 9, 30, 15, 123456, tzinfo=HANOI)
    prepared = Prepared(insert(AUDIT))

    def write(connection: Connection) -> None:
        connection.execute(insert(AUDIT), [entry("core:1", at)])
        prepared.write(connection, [entry("prepared:1", at)])
        connection.execute(insert(AUDIT), [entry("core:2", at), entry("core:3", at)])
        prepared.write(connection, [entry("prepared:2", at), entry("prepared:3", at)])

    # As a tap's transaction runs: in one pass, its writes deferred to the COMMIT on SQLite.
    await in_one_pass(sessions, write, defer_writes=True)
    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        rows = await connection.run_sync(audit_rows)
    by_actor = {row[2]: row for row in rows}
    for n in (1, 2, 3):
        core, prepared_row = by_actor[f"core:{n}"], by_actor[f"prepared:{n}"]
        assert prepared_row[:2] + prepared_row[3:] == core[:2] + core[3:]
    stored = by_actor["prepared:1"]
    assert stored[1] == at and stored[1].tzinfo is UTC  # stored in UTC, read back aware
    assert stored[6] == {"status": "no_answer", "reason": None}
    assert stored[7] == {"status": "attending", "note": "Tham dự đầy đủ"}


async def test_a_prepared_read_gives_the_rows_execute_gives(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    at = datetime(2024, 5, 20, 2, 30, tzinfo=UTC)
    by_actor = select(AUDIT.c.at, AUDIT.c.actor, AUDIT.c.before, AUDIT.c.after).where(
        AUDIT.c.actor == bindparam("actor")
    )
    prepared = Prepared(by_actor)

    def work(connection: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        connection.execute(insert(AUDIT), [entry("a", at), entry("b", at)])
        core = [tuple(row) for row in connection.execute(by_actor, {"actor": "a"})]
        return core, prepared.rows(connection, {"actor": "a"})

    core, rows = await in_one_pass(sessions, work, defer_writes=True)
    assert rows == core
    assert rows == [(at, "a", entry("a", at)["before"], entry("a", at)["after"])]
    assert rows[0][0].tzinfo is UTC


async def test_a_prepared_read_takes_its_parameters_by_name(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    at = datetime(2024, 5, 20, 2, 30, tzinfo=UTC)
    later = at + timedelta(hours=1)
    prepared = Prepared(
        select(HANDLED.c.event_id, HANDLED.c.handled_at).where(
            HANDLED.c.channel == bindparam("channel"),
            HANDLED.c.bot_id == bindparam("bot"),
            HANDLED.c.handled_at >= bindparam("since"),
        )
    )

    def work(connection: Connection) -> list[tuple[Any, ...]]:
        rows = [
            {"channel": "telegram", "bot_id": "1", "event_id": "old", "handled_at": at},
            {"channel": "telegram", "bot_id": "1", "event_id": "new", "handled_at": later},
            {"channel": "zalo", "bot_id": "1", "event_id": "other", "handled_at": at},
        ]
        Prepared(insert(HANDLED)).write(connection, rows)
        return prepared.rows(
            connection, {"since": at + timedelta(minutes=1), "bot": "1", "channel": "telegram"}
        )

    assert await in_one_pass(sessions, work) == [("new", later)]


def _written_twice(event_id: str) -> Callable[[Connection], None]:
    """Work that writes one handled update, ``event_id``, twice through a prepared INSERT: the
    second breaks the primary key."""
    at = datetime(2024, 5, 20, 2, 30, tzinfo=UTC)
    record = {"channel": "telegram", "bot_id": "1", "event_id": event_id, "handled_at": at}
    prepared = Prepared(insert(HANDLED))

    def twice(connection: Connection) -> None:
        prepared.write(connection, [record])
        prepared.write(connection, [record])  # the same primary key

    return twice


async def test_a_prepared_write_that_fails_raises_sqlalchemys_error(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(IntegrityError):
        await in_one_pass(sessions, _written_twice("9"))
    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        count = len((await connection.execute(select(HANDLED.c.event_id))).all())
    assert count == 0  # the transaction was rolled back whole


async def test_a_prepared_statements_error_hides_its_parameters_as_the_engine_does(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The engine hides parameters (storage.engine: phone numbers, what people typed): the
    # error's message, which ends in a log, must not carry them either.
    with pytest.raises(IntegrityError) as raised:
        await in_one_pass(sessions, _written_twice("0912345678"))
    assert "0912345678" not in str(raised.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(raised.value)


async def test_a_prepared_write_first_on_a_connection_is_in_its_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # As execute does, the first statement begins the connection's transaction: its rollback
    # undoes the write, its commit keeps it (neither may find "no transaction" to end).
    at = datetime(2024, 5, 20, 2, 30, tzinfo=UTC)
    prepared = Prepared(insert(HANDLED))
    engine = sessions.kw["bind"]

    def record(connection: Connection, event_id: str) -> bool:
        row = {"channel": "telegram", "bot_id": "1", "event_id": event_id, "handled_at": at}
        prepared.write(connection, [row])
        return connection.in_transaction()

    async with engine.connect() as connection:
        assert await connection.run_sync(record, "undone")
        await connection.rollback()
        assert await connection.run_sync(record, "kept")
        await connection.commit()
    async with engine.connect() as connection:
        stored = (await connection.execute(select(HANDLED.c.event_id))).scalars().all()
    assert stored == ["kept"]


async def test_a_prepared_statement_keeps_no_disposed_engines_dialect(tmp_path: Path) -> None:
    # A statement's compiled forms go with the engine they were made for: the tests make an
    # engine each, and a process may make more (storage.uow's worker, after close_worker).
    prepared = Prepared(select(AUDIT.c.at, AUDIT.c.before))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(AUDIT.create)
        assert await connection.run_sync(prepared.rows, {}) == []
    dialect = weakref.ref(engine.sync_engine.dialect)
    await engine.dispose()
    del engine, connection
    gc.collect()
    assert dialect() is None


def test_a_statement_whose_defaults_python_works_out_is_refused() -> None:
    table = Table(
        "with_default",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(10)),
        Column("kind", String(10), default="plain"),
    )
    prepared = Prepared(insert(table))
    with pytest.raises(ValueError, match="not a statement to run prepared"):
        prepared._compile(sqlite.dialect(), ("name",))


def _on_postgresql(sessions: async_sessionmaker[AsyncSession]) -> None:
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("asyncpg's prepared statements are PostgreSQL's")


def _seven_read(connection: Connection, table: Table, prepared: Prepared) -> list[tuple[Any, ...]]:
    """``table`` (one column, ``n``) made with one row, 7, and read through ``prepared``: the
    statement is now prepared on ``connection``."""
    table.create(connection)
    connection.execute(insert(table), [{"n": 7}])
    return prepared.rows(connection, {})


@pytest.mark.fresh_database  # it changes the schema
async def test_a_prepared_read_after_sqlalchemys_ddl_reads_the_new_columns(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # SQLAlchemy's DDL tells the asyncpg dialect that its statements prepared before are stale;
    # a prepared read must hear it as execute does, not run a plan of the old column types.
    _on_postgresql(sessions)
    table = Table("prepared_ddl", MetaData(), Column("n", Integer))
    prepared = Prepared(select(table.c.n))

    def after(connection: Connection) -> list[tuple[Any, ...]]:
        connection.execute(DDL("ALTER TABLE prepared_ddl ALTER COLUMN n TYPE text"))  # type: ignore[no-untyped-call]
        return prepared.rows(connection, {})

    engine = sessions.kw["bind"]
    async with engine.connect() as connection:  # one connection: its statements prepared
        assert await connection.run_sync(_seven_read, table, prepared) == [(7,)]
        await connection.commit()
        assert await connection.run_sync(after) == [("7",)]


@pytest.mark.fresh_database  # it changes the schema
async def test_a_prepared_read_meeting_a_stale_plan_fails_once_as_execute_does(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Another process changed the table (a migration): the statement prepared before fails,
    # and, as after execute's failure, the dialect forgets its statements: the next one runs.
    _on_postgresql(sessions)
    table = Table("prepared_stale", MetaData(), Column("n", Integer))
    prepared = Prepared(select(table.c.n))

    def elsewhere(connection: Connection) -> None:  # not through SQLAlchemy's DDL
        connection.exec_driver_sql("ALTER TABLE prepared_stale ALTER COLUMN n TYPE text")

    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        assert await connection.run_sync(_seven_read, table, prepared) == [(7,)]
        await connection.commit()
        await connection.run_sync(elsewhere)
        await connection.commit()
        with pytest.raises(DBAPIError, match="InvalidCachedStatement"):
            await connection.run_sync(prepared.rows, {})
        await connection.rollback()
        assert await connection.run_sync(prepared.rows, {}) == [("7",)]
