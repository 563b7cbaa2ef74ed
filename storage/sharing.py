"""What several ``hoinghi run`` processes on one PostgreSQL database coordinate through it.

On SQLite the database guard (:mod:`storage.guard`) lets one ``run`` at a time hold the
database, and none of this is needed: each helper here is a no-op there. On PostgreSQL any
number of processes (bot, web, or both) share the database, and

- the outbox's claims are leases (:mod:`schedules.outbox`), and
- planning (the reminders' rows, tasks, drafts) runs in one process at a time:
  :func:`one_at_a_time` holds a session advisory lock around it, so a second process starting
  meanwhile waits, then finds the plan already in the rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# Advisory lock keys ("hoinghi" in ASCII is the database guard's); one per coordinated job.
PLAN_LOCK_KEY = int.from_bytes(b"hoinghiP", "big") >> 1


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine ``sessions`` are bound to."""
    bind = sessions.kw.get("bind")
    assert isinstance(bind, AsyncEngine), "sessions are bound to one engine"
    return bind


def shares_outbox(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether several processes may drain the outbox of this database (PostgreSQL)."""
    return engine_of(sessions).dialect.name == "postgresql"


@asynccontextmanager
async def one_at_a_time(
    sessions: async_sessionmaker[AsyncSession], key: int
) -> AsyncIterator[None]:
    """Run the block while no other process runs one under ``key`` (PostgreSQL: a session
    advisory lock on a connection held for the block; it goes with the session if the process
    dies). Elsewhere the block just runs."""
    engine = engine_of(sessions)
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        await connection.commit()  # no transaction kept open while the block runs
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            await connection.commit()
