"""What several ``hoinghi run`` processes on one PostgreSQL database coordinate through it.

On SQLite the database guard (:mod:`storage.guard`) lets one ``run`` of a meeting at a time
hold it, and a bot serve one run, so none of this is needed between processes: each helper
here is a no-op there, but for :func:`one_at_a_time`'s in-process lock. On PostgreSQL any
number of processes (bot, web, or both) share the database, and

- the outbox's claims are leases (:mod:`schedules.outbox`), and
- planning (the reminders' rows, tasks, drafts) runs in one process at a time:
  :func:`one_at_a_time` holds a session advisory lock around it, so a second process starting
  meanwhile waits, then finds the plan already in the rows (within a process, on SQLite too,
  it takes an in-process lock: an assignment's re-plan and the start's take turns);
- a bot's overall sending rate is one for all the processes sending as it
  (:class:`SharedSendSlots`): the platform counts a bot's messages, not a process's;
- a file store's blob is put in place and removed in turns (:func:`blobs_in_turn`): an
  upload of the same bytes committing while «Hủy ghi nhận» removes them keeps its file;
- two desks recording the same guest take turns (:func:`guests_in_turn`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Hashable, Iterable
from contextlib import asynccontextmanager
from typing import cast
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

# Advisory lock keys ("hoinghi" in ASCII is the database guard's); one per coordinated job.
PLAN_LOCK_KEY = int.from_bytes(b"hoinghiP", "big") >> 1
# The blobs' locks are keyed by two 32-bit numbers, "blob" in ASCII and the digest's first four
# bytes: PostgreSQL keeps such keys apart from the one-number keys above, and two digests that
# share their first four bytes only take turns they did not need to.
BLOB_LOCK_CLASS = int.from_bytes(b"blob", "big")
_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:class, :key)")
# The guest check's lock, keyed by "gues" in ASCII and the meeting's id (:func:`guests_in_turn`).
GUEST_LOCK_CLASS = int.from_bytes(b"gues", "big")

# The turns taken within one process, per engine and key (:func:`one_at_a_time`): the only ones
# on SQLite, and on PostgreSQL taken before the advisory lock.
LOCAL_TURNS: WeakKeyDictionary[AsyncEngine, dict[int, asyncio.Lock]] = WeakKeyDictionary()


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
    """Run the block while no other task of this process, nor other process, runs one under
    ``key``: an in-process lock (per engine and key; on SQLite the only one needed, where one
    process holds the database), then on PostgreSQL a session advisory lock on a connection
    held for the block (it goes with the session if the process dies). Not re-entrant."""
    engine = engine_of(sessions)
    turn = LOCAL_TURNS.setdefault(engine, {}).setdefault(key, asyncio.Lock())
    async with turn:
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


async def blobs_in_turn(session: AsyncSession, digests: Iterable[str]) -> None:
    """Hold the blobs of ``digests`` until ``session``'s transaction ends: a transaction that
    puts one in place (an upload, with the row that names it) and one that removes it once no
    row names it (:meth:`bot.services.tasks.TaskService.undo_record`) then take turns, so the
    removal's look sees the upload's row, or the upload finds the blob gone and writes it
    again. PostgreSQL: a transaction-level advisory lock per digest, taken in order (two
    transactions never wait for each other). SQLite: nothing to do — a writing transaction
    holds the database's only write lock (BEGIN IMMEDIATE) from its first statement, so the
    two already take turns."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for digest in sorted(set(digests)):
        key = int.from_bytes(bytes.fromhex(digest)[:4], "big", signed=True)
        await session.execute(_XACT_LOCK, {"class": BLOB_LOCK_CLASS, "key": key})


async def guests_in_turn(session: AsyncSession, meeting_id: int) -> None:
    """Hold the meeting's guest check until ``session``'s transaction ends: two desks
    recording the same guest at once take turns, so the second's look finds the first's guest.
    PostgreSQL: a transaction-level advisory lock of the guest check's own, not the meeting's
    row (:func:`storage.queries.lock_meeting`), which an import of the list holds for its whole
    run and a notice's numbering takes: a desk's «Lưu khách» waits for neither. SQLite:
    nothing to do — a writing transaction holds the database's only write lock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(_XACT_LOCK, {"class": GUEST_LOCK_CLASS, "key": meeting_id})


def bot_key(token: str) -> str:
    """How ``send_slots`` names a bot: a hash of its token (the token is a secret)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# A start is due at the later of the even schedule (``next_at``) and the floor the start one
# window's count before it set (``floors[turn + 1]``). It is granted once it is due within
# ``:ahead`` seconds of the database's clock (a process books its next start while the one before
# it is still waiting or on the wire, so the round trip is not on the send's critical path); the
# next is due one interval after it. A grant a quarter interval late at most (the waiter woke,
# then asked the server) keeps the schedule, so the rate is not lost to round trips; a later one
# (the bot was idle) starts it afresh from now. Either way the grant's nominal start ``at`` sets
# the floor of the start a window's count later: at + window + the taker's guard.
# ``late`` = how far the grant was behind its nominal start (negative: ahead of it); ``slot`` and
# ``floor`` = the floor it set and where (the grant's ticket for _STRETCH). ``:now`` is for tests
# (else the server's clock). All of it is one autocommitted statement: one round trip per start.
_DUE = "greatest(s.next_at, coalesce(s.floors[s.turn + 1], s.next_at))"
_AT = f"CASE WHEN clock.now - {_DUE} <= :forgiven THEN {_DUE} ELSE clock.now END"
_TAKE = text(  # only the two constants above are formatted in; every value is bound
    f"""
    WITH clock AS (
        SELECT coalesce(CAST(:now AS float8), extract(epoch FROM clock_timestamp())::float8) AS now
    ),
    taken AS (
        UPDATE send_slots AS s SET
            next_at = {_AT} + :interval,
            floors[s.turn + 1] = {_AT} + :window + :guard,
            turn = (s.turn + 1) % :count
        FROM clock
        WHERE s.bot_key = :key AND {_DUE} <= clock.now + :ahead
        RETURNING clock.now - (s.next_at - :interval) AS late,
                  (s.turn + :count - 1) % :count + 1 AS slot,
                  s.floors[(s.turn + :count - 1) % :count + 1] AS floor
    )
    SELECT (SELECT late FROM taken),
           (SELECT {_DUE} FROM send_slots AS s WHERE s.bot_key = :key) - clock.now - :ahead,
           (SELECT slot FROM taken),
           (SELECT floor FROM taken)
    FROM clock
    """  # noqa: S608
)
# A late start holds the start a window's count after it back: its floor, while it is still the
# one the late start set (the start it holds has not been granted, which overwrites it).
_STRETCH = text(
    "UPDATE send_slots SET floors[:slot] = floors[:slot] + :seconds"
    " WHERE bot_key = :key AND floors[:slot] = :floor"
)
_PAUSE = text(
    "UPDATE send_slots SET next_at = GREATEST(next_at,"
    " extract(epoch FROM clock_timestamp())::float8 + :seconds) WHERE bot_key = :key"
)
_ADD = text(
    "INSERT INTO send_slots (bot_key, next_at, floors, turn) VALUES (:key, 0, '{}', 0)"
    " ON CONFLICT (bot_key) DO NOTHING"
)
# How far under the platform's rate the shared schedule stays (one process's pacer: 0.02).
SHARED_MARGIN = 0.03
# Seconds a request may spend between the moment its process measured its lateness (just before
# the send) and the platform's count, unseen: a window's floors are this much over a second.
TRAVEL = 0.02
# How many intervals ahead of its nominal start a process may book a start: enough to hide a
# round trip to the database of up to an interval behind the wait for the start before.
AHEAD_STARTS = 2
# Seconds a waiter that lost a race for the start it woke for waits before asking again.
_RETRY = 0.001


class SharedSendSlots:
    """One bot's starts, shared by every process sending as it through one PostgreSQL database,
    taken with one atomic ``UPDATE … RETURNING`` per start from the bot's ``send_slots`` row.
    A start is booked at most ``ahead`` seconds before it is due (a process asks for its next
    start while the one before is still waiting, so the round trip is off the send's critical
    path), and is told to wait otherwise: a stalled or killed process leaves at most ``ahead``
    seconds of starts unused behind it, and a start it runs too late for is given up (below).
    The per-chat limits and the reply priority stay each process's own
    (:class:`schedules.ratelimit.Pacer`).

    Two rules decide when start *k* is due (its nominal start ``at_k``, the database's clock):

    1. the even schedule: ``at_k >= at_(k-1) + interval``;
    2. the window's floor: ``at_k >= at_(k-n) + window + guard_(k-n)``, where ``n`` is the
       platform's count a second (30), ``window`` = 1 s + ``TRAVEL``, and ``guard_j`` the
       lateness the process that took start *j* said it might have (twice its recent median and
       5 ms, :func:`schedules.ratelimit.guard_of`).

    A request reaches the platform at ``at_j + late_j``, ``late_j >= 0`` (it is sent at or after
    its nominal start: a start booked ahead is waited for until the latest local time it can
    be, the answer's arrival plus how far ahead the server said it was). The taker measures its
    lateness just before it sends (the grant's own from the server, negative when booked ahead,
    plus the time since it asked: never less than the true lateness). Over the guard it booked
    with, it *stretches* the grant (:meth:`stretch`): ``guard_j`` grows by the lateness measured,
    in the floor the grant set, in one conditional statement that holds only while that floor
    is still the grant's (start *j + n*, which overwrites it, not granted yet); the send then
    goes if it is still within the grown guard, else it is given up unsent (:meth:`Pacer.slot`;
    so is a start an interval late or more, which would hold the next window back more than
    giving it up costs). Either way every request sent has ``late_j <= guard_j + travel_j``,
    ``guard_j`` as its floor holds it when start *j + n* is granted, ``travel_j`` being the
    unseen part.

    The bound: suppose n + 1 requests reached the platform within one second, and let *j* be the
    one granted first. Another of them was granted at least n starts later, so by rule 2 at or
    after ``at_j + window + guard_j``, and reached the platform no earlier; request *j* reached it
    by ``at_j + guard_j + travel_j``. They are more than a second apart whenever
    ``travel_j < TRAVEL`` — a contradiction. So no second holds more than n, however late any
    process runs, as long as what happens after the measurement stays under ``TRAVEL``. It costs
    rate only where a guard is over ``TRAVEL`` plus the even schedule's margin, and only in the
    window after such a start."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        token: str,
        interval: float,
        *,
        count: int = 30,
        ahead: float = 0.0,
    ) -> None:
        self._engine = engine_of(sessions)
        self._key = bot_key(token)
        self.interval = interval
        self.ahead = ahead
        self.count = count
        self.window = 1.0 + TRAVEL
        self._added = False

    async def take(
        self, guard: float = 0.0, *, now: float | None = None
    ) -> tuple[float, float, Hashable | None]:
        """Take the next start if it is due within ``ahead`` seconds: ``(0, late, ticket)``,
        ``late`` the seconds the grant was behind it (negative: before it), ``ticket`` the floor
        it set, for :meth:`stretch`; else ``(seconds until it may be booked, 0, None)``.
        ``guard``: the lateness this process may have (the start a window's count later waits
        for it); ``now``: for tests."""
        params = {
            "key": self._key,
            "interval": self.interval,
            "forgiven": self.interval / 4,
            "window": self.window,
            "guard": guard,
            "count": self.count,
            "ahead": self.ahead,
            "now": now,
        }
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            if not self._added:
                await connection.execute(_ADD, {"key": self._key})
                self._added = True
            late, wait, slot, floor = (await connection.execute(_TAKE, params)).one()
        if late is not None:
            return 0.0, max(-self.ahead, float(late)), (int(slot), float(floor))
        return max(float(wait or 0.0), _RETRY), 0.0, None

    async def stretch(self, ticket: Hashable, seconds: float) -> bool:
        """Hold the start a window's count after the one granted with ``ticket`` back
        ``seconds`` more, if it has not been granted yet (see the class's docstring)."""
        slot, floor = cast(tuple[int, float], ticket)
        params = {"key": self._key, "slot": slot, "floor": floor, "seconds": seconds}
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await connection.execute(_STRETCH, params)
        return bool(result.rowcount)

    async def pause(self, seconds: float) -> None:
        """No start for any process sending as this bot for ``seconds`` (a 429's retry_after)."""
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(_PAUSE, {"key": self._key, "seconds": seconds})
