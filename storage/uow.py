"""Unit of work: one transaction per use case, committed on success, rolled back on error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from storage.engine import READING
from storage.sqlite_driver import OneTripConnection


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], *, defer_writes: bool = False
) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction; services own it, query helpers only flush.

    ``defer_writes``: on SQLite, the transaction's INSERTs, UPDATEs and DELETEs without
    RETURNING ride in the trip of its next read or of its COMMIT
    (:meth:`storage.sqlite_driver.OneTripConnection.defer_writes`); only for a transaction
    whose writes' row counts and new ids nobody reads.
    """
    async with sessions() as session, session.begin():
        if defer_writes:
            connection = await (await session.connection()).get_raw_connection()
            if isinstance(connection.dbapi_connection, OneTripConnection):
                connection.dbapi_connection.defer_writes()
        yield session


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A connection for Core selects in one read-only transaction: one consistent view of the
    database across its statements. On SQLite (WAL) it takes no writer's lock, so it neither
    waits for a write transaction nor holds one up; it must not write."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    async with engine.connect() as connection:
        await connection.execution_options(**{READING: True})
        async with connection.begin():
            yield connection
