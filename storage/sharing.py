"""What several ``hoinghi run`` processes on one PostgreSQL database coordinate through it.

On SQLite the database guard (:mod:`storage.guard`) lets one ``run`` at a time hold the
database, and none of this is needed: each helper here is a no-op there. On PostgreSQL any
number of processes (bot, web, or both) share the database, and

- the outbox's claims are leases (:mod:`schedules.outbox`), and
- planning (the reminders' rows, tasks, drafts) runs in one process at a time:
  :func:`one_at_a_time` holds a session advisory lock around it, so a second process starting
  meanwhile waits, then finds the plan already in the rows;
- a bot's overall sending rate is one for all the processes sending as it
  (:class:`SharedSendSlots`): the platform counts a bot's messages, not a process's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

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


def bot_key(token: str) -> str:
    """How ``send_slots`` names a bot: a hash of its token (the token is a secret)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# A start is granted only when due by the database's clock; the next is due one interval after
# it. A grant a quarter interval late at most (the waiter woke, then asked the server) keeps the
# schedule, so the rate is not lost to round trips; a later one (the bot was idle) starts it
# afresh from now. Forgiving half an interval was measured faster on a loaded machine (25.6/s
# against 21.7/s, three processes) but drew 429s: the requests' own travel jitter adds to it.
_TAKE = text(
    """
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
    taken AS (
        UPDATE send_slots SET next_at = CASE
                WHEN clock.now - send_slots.next_at <= :forgiven THEN send_slots.next_at
                ELSE clock.now END + :interval
        FROM clock
        WHERE send_slots.bot_key = :key AND send_slots.next_at <= clock.now
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM taken),
           (SELECT next_at FROM send_slots WHERE bot_key = :key) - clock.now
    FROM clock
    """
)
_PAUSE = text(
    "UPDATE send_slots SET next_at = GREATEST(next_at,"
    " extract(epoch FROM clock_timestamp())::float8 + :seconds) WHERE bot_key = :key"
)
_ADD = text(
    "INSERT INTO send_slots (bot_key, next_at) VALUES (:key, 0) ON CONFLICT (bot_key) DO NOTHING"
)
# How far under the platform's rate the shared schedule stays (one process's pacer: 0.02).
SHARED_MARGIN = 0.03
# Seconds a waiter that lost a race for the start it woke for waits before asking again.
_RETRY = 0.001


class SharedSendSlots:
    """One bot's starts, shared by every process sending as it through one PostgreSQL database:
    an even schedule (one start every ``interval`` seconds of the server's clock) kept in the
    bot's ``send_slots`` row, taken with one atomic ``UPDATE … RETURNING`` per start. Nothing is
    booked ahead: a process asks when it is ready to send and is told to wait otherwise, so a
    stalled or killed process leaves no start behind it. The per-chat limits and the reply
    priority stay each process's own (:class:`schedules.ratelimit.Pacer`)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], token: str, interval: float
    ) -> None:
        self._engine = engine_of(sessions)
        self._key = bot_key(token)
        self.interval = interval
        self._added = False

    async def take(self) -> float:
        """Take the next start if it is due now (returns 0), else the seconds until it is."""
        params = {"key": self._key, "interval": self.interval, "forgiven": self.interval / 4}
        # One statement, committed by itself: one round trip per start, no BEGIN/COMMIT.
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            if not self._added:
                await connection.execute(_ADD, {"key": self._key})
                self._added = True
            taken, wait = (await connection.execute(_TAKE, params)).one()
        if taken:
            return 0.0
        return max(float(wait or 0.0), _RETRY)

    async def pause(self, seconds: float) -> None:
        """No start for any process sending as this bot for ``seconds`` (a 429's retry_after)."""
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(_PAUSE, {"key": self._key, "seconds": seconds})
