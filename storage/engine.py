"""Engine and session factory, with SQLite set up to be a solid default."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.guard import sqlite_file
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


def create_reading_engine(url: str) -> AsyncEngine:
    """An engine for a command that only reads and must change nothing (``hoinghi check``): on
    SQLite the file opened read-only, without :func:`create_engine`'s pragmas (WAL is a write),
    so a read-only file or one a running bot holds is read as it is; elsewhere
    :func:`create_engine`'s engine."""
    path = sqlite_file(url)
    if path is None:
        return create_engine(url)
    return create_async_engine(
        _read_only_url(url, path),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        hide_parameters=True,
    )


def _read_only_url(url: str, path: Path) -> URL:
    """``url`` as an SQLite URI opening ``path`` read-only (``mode=ro``), and as immutable when
    no ``-wal`` file lies beside it: a WAL database opened read-only creates its ``-wal`` and
    ``-shm`` files, and leaves them. Without a ``-wal`` file no bot has the database open (one
    that does keeps it there), so everything is in the file itself; a bot starting meanwhile
    writes to its ``-wal`` file first, and to the file only at a checkpoint, much later."""
    query = {"mode": "ro", "uri": "true"}
    if not path.with_name(f"{path.name}-wal").exists():
        query["immutable"] = "1"
    return make_url(url).set(database=f"file:{quote(str(path))}", query=query)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep their objects usable after commit (no implicit IO in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)
