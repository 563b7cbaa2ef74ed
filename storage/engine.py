"""Engine and session factory, with SQLite set up to be a solid default."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.sqlite_driver import one_trip_dbapi

# An execution option of a connection that only reads (storage.uow.reading): on SQLite its
# transaction begins DEFERRED, not IMMEDIATE.
READING = "hoinghi_reading"

SQLITE_BUSY_TIMEOUT_S = 15


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite: WAL, foreign keys, busy timeout and BEGIN IMMEDIATE."""
    # SQL parameters are phone numbers and what people typed: an error's message, which ends in
    # a log, and the SQL echo show the statement without them.
    kwargs.setdefault("hide_parameters", True)
    if make_url(url).get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    kwargs.setdefault("module", one_trip_dbapi())  # aiosqlite, one trip per statement
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver so that every transaction starts IMMEDIATE below:
        # a deferred read transaction that later writes fails with SQLITE_BUSY at once.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # The BEGIN rides in the trip of the transaction's first statement to aiosqlite's
        # thread (storage.sqlite_driver); a lock it cannot take fails that statement. A
        # transaction that only reads (storage.uow.reading) begins DEFERRED: under WAL it reads
        # a snapshot and never waits for the writer's lock.
        begin = "BEGIN" if connection.get_execution_options().get(READING) else "BEGIN IMMEDIATE"
        try:
            connection.connection.dbapi_connection.begin_with_next_statement(begin)
        except sqlite3.Error as error:  # as SQLAlchemy raises a statement's
            raise DBAPIError.instance(begin, None, error, sqlite3.Error) from error

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep their objects usable after commit (no implicit IO in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)
