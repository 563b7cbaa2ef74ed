"""Unit of work: one transaction per use case, committed on success, rolled back on error."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.pool import NullPool
from sqlalchemy.util import greenlet_spawn

from storage.engine import READING, create_engine
from storage.sqlite_driver import OneTripConnection

T = TypeVar("T")


# The key of ``Session.info`` naming the meeting a session's writes belong to.
MEETING_KEY = "hoinghi.meeting_id"


def meeting_sessions(
    sessions: async_sessionmaker[AsyncSession], meeting_id: int
) -> async_sessionmaker[AsyncSession]:
    """Sessions like ``sessions`` (the same engine and settings) that know their meeting:
    the audit entries written through them carry it (:func:`session_meeting`), so that
    several meetings' processes can share one database and each read only its own log."""
    kw = dict(sessions.kw)
    kw["info"] = {**kw.get("info", {}), MEETING_KEY: meeting_id}
    return async_sessionmaker(class_=sessions.class_, **kw)


def session_meeting(session: AsyncSession) -> int | None:
    """The meeting ``session`` writes for (:func:`meeting_sessions`), or None."""
    value = session.info.get(MEETING_KEY)
    return value if isinstance(value, int) else None


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


async def in_one_pass(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[Connection], T],
    *,
    defer_writes: bool = False,
) -> T:
    """``work``'s result: Core statements it runs on the connection it is given, in one write
    transaction, committed when it returns and rolled back if it raises, as
    :func:`unit_of_work`'s. It runs whole in one pass to the database side (the way
    ``run_sync`` does): no ORM session to set up, begin and close, and no step of the event
    loop's side per statement — each of which, for a transaction of a few small statements,
    costs more CPU than the statements. ``work`` must be synchronous. ``defer_writes`` as
    :func:`unit_of_work`'s."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return await greenlet_spawn(_in_transaction, engine.sync_engine, work, defer_writes)


def _in_transaction(engine: Engine, work: Callable[[Connection], T], defer_writes: bool) -> T:
    with engine.connect() as connection, connection.begin():
        if defer_writes:
            dbapi_connection = connection.connection.dbapi_connection
            if isinstance(dbapi_connection, OneTripConnection):
                dbapi_connection.defer_writes()
        return work(connection)


@asynccontextmanager
async def read_only(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one read-only transaction, for a use case that only reads (a
    dashboard's page): on SQLite (WAL) it begins DEFERRED, as :func:`reading` does, so it
    neither waits behind the desks' and the chats' writes nor holds them up, and reads one
    consistent snapshot. Nothing may be written through it: a flush or an INSERT, UPDATE or
    DELETE it is asked to run raises at once (on PostgreSQL it would otherwise run and be rolled
    back without a word), and so does a change still pending when it ends; it is rolled back,
    there being nothing to commit."""
    async with sessions() as session:
        event.listen(session.sync_session, "before_flush", _no_writing)
        event.listen(session.sync_session, "do_orm_execute", _no_dml)
        await session.connection(execution_options={READING: True})
        yield session
        if session.new or session.dirty or session.deleted:
            _no_writing()


def _no_writing(*_: object) -> None:
    raise AssertionError("a read-only session was given something to write")


def _no_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _no_writing()


async def reading(sessions: async_sessionmaker[AsyncSession], work: Callable[[Connection], T]) -> T:
    """``work``'s result: Core selects it runs on the connection it is given, in one read-only
    transaction (one consistent view of the database across its statements). On SQLite (WAL)
    the transaction takes no writer's lock, so it neither waits for a write transaction nor
    holds one up; ``work`` must not write. It runs whole in one pass to the database side
    (``run_sync``): a page is read without a trip back to the event loop per step."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    async with engine.connect() as connection:
        return await connection.run_sync(_read_only, work)


def _read_only(connection: Connection, work: Callable[[Connection], T]) -> T:
    connection.execution_options(**{READING: True})
    with connection.begin():
        return work(connection)


async def in_a_worker(
    sessions: async_sessionmaker[AsyncSession],
    read: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]],
) -> T:
    """``read``'s result, run whole in the process's worker thread, on its event loop, given
    sessions like ``sessions`` (the same settings) on the worker's engine for their database:
    the same database, set up as :func:`storage.engine.create_engine` sets it up, a connection
    opened for each read and closed after. Reading and making thousands of rows into values
    then never holds the caller's event loop (the chats, the pages, the outbox): only the
    thread's share of the interpreter. For reads only (``read`` opens :func:`read_only`); its
    result must be plain values, no ORM object of that session.

    The thread and its engine are made at the first read and kept for the next ones (a
    download of the day's papers does not set up an engine of its own); :func:`close_worker`
    disposes of them at shutdown.

    An in-memory SQLite database is one connection's own: another engine opened from its URL
    would be a new, empty database. ``read`` then runs on the caller's loop, given
    ``sessions`` themselves (such a database is for tests and trials, not 10,000 invitees)."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    if _in_memory(engine):
        return await read(sessions)
    url = engine.url.render_as_string(hide_password=False)

    def on(worker: _Worker) -> Coroutine[object, object, T]:
        async def run() -> T:
            bind = worker.engine(url)
            return await read(
                async_sessionmaker(class_=sessions.class_, **{**sessions.kw, "bind": bind})
            )

        return run()

    while True:
        # A close_worker on another event loop (another thread) may begin between taking the
        # worker and handing it the read: the read then goes to the worker made after it.
        with contextlib.suppress(_Closing):
            return await _the_worker().run(on)


# Seconds a closing worker waits for the reads under way to end before it cuts them short
# (:func:`close_worker`): a shutdown is not held up by a download nobody will receive. Then,
# as long at most, for the reads it cut to let go of their connections.
CLOSE_GRACE_S = 5.0
CUT_GRACE_S = 5.0
# Seconds a closing worker waits at most for each SQLite connection a read still held to end
# (the statement it runs, if any, done first): see _Worker._end_connections.
END_GRACE_S = 5.0


class ReadCutShort(Exception):
    """A read in the worker (:func:`in_a_worker`) was still under way when the worker closed,
    past :data:`CLOSE_GRACE_S`: it was cut short (its connection closed, nothing written)."""


class _Closing(Exception):
    """The worker a read was handed to had begun to close: it takes no read any more."""


async def close_worker() -> None:
    """Dispose of the worker's engines and end its thread (:func:`in_a_worker`), if a read
    made them: at shutdown. A read under way is waited for :data:`CLOSE_GRACE_S` at most,
    then cut short (its caller gets :class:`ReadCutShort`). A call while a close is under way
    (another meeting's storage closing in the same process) returns once that close is done
    too. A read after it makes them again."""
    global _worker
    with _worker_lock:
        worker, _worker = _worker, None
        if worker is not None:
            _closing.append(worker)
        closing = list(_closing)
    for each in closing:
        await each.close()


class _Worker:
    """The thread :func:`in_a_worker` reads in: an event loop of its own and, used only on
    that loop, an engine for each database it reads (a process has one)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._engines: dict[str, AsyncEngine] = {}
        self._connections: set[Any] = set()  # the DBAPI connections its engines hold open
        self._closing = False
        self._runs: set[concurrent.futures.Future[Any]] = set()  # the reads not yet answered
        self._thread = threading.Thread(
            target=self._serve, name="hoinghi-worker-reads", daemon=True
        )
        self._thread.start()

    def engine(self, url: str) -> AsyncEngine:
        """The engine for ``url``'s database, made at its first read; on the worker's loop."""
        engine = self._engines.get(url)
        if engine is None:
            # No pool: a connection is opened for each read and closed after it, none is held
            # between the office's downloads.
            engine = self._engines[url] = create_engine(url, poolclass=NullPool)
            pool = engine.sync_engine.pool
            event.listen(pool, "connect", lambda dbapi, _: self._connections.add(dbapi))
            event.listen(pool, "close", lambda dbapi, _: self._connections.discard(dbapi))
        return engine

    async def run(self, work: Callable[[_Worker], Coroutine[object, object, T]]) -> T:
        """``work(self)``'s result, run on the worker's loop; the caller's loop waits without
        being held. :class:`_Closing` once the worker's close has begun: a read handed over
        then, from another thread, would not be among the reads the close waits for."""
        with _worker_lock:  # the close sets _closing under it, then schedules its end
            if self._closing:
                raise _Closing
            future = asyncio.run_coroutine_threadsafe(self._cut_at_close(work(self)), self._loop)
            self._runs.add(future)
        future.add_done_callback(self._runs.discard)
        return await asyncio.wrap_future(future)

    async def close(self) -> None:
        """Dispose of the engines once the reads under way have ended (or been cut short),
        then stop the loop and end the thread; every caller returns once the thread has
        ended, the first or one that comes while it closes."""
        with _worker_lock:
            begin, self._closing = not self._closing, True
        if begin:
            asyncio.run_coroutine_threadsafe(self._end(), self._loop)
        await asyncio.to_thread(self._thread.join)
        with _worker_lock:
            if self in _closing:
                _closing.remove(self)

    def _serve(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()
            # A read that did not end even when cut short is not answered by its task any more
            # (the loop is gone): its caller is told, not left waiting.
            for future in list(self._runs):
                with contextlib.suppress(concurrent.futures.InvalidStateError):
                    future.set_exception(ReadCutShort())
            self._end_connections()

    def _end_connections(self) -> None:
        """Close the SQLite connections such a read still holds. Nothing would close them
        any more: each would keep its thread (aiosqlite's) and its read transaction for the
        rest of the process (another meeting's storage may go on), and a reader that never
        ends holds back the WAL's checkpoints, so the file grows. Each closes once the
        statement it runs, if any, is done; waited for :data:`END_GRACE_S` at most."""
        threads = []
        for connection in list(self._connections):
            driver = getattr(connection, "driver_connection", None)
            if isinstance(driver, aiosqlite.Connection):
                driver.stop()  # its thread closes the connection and ends; no loop to answer
                threads.append(driver._thread)
        self._connections.clear()
        for thread in threads:
            thread.join(END_GRACE_S)

    async def _cut_at_close(self, work: Coroutine[object, object, T]) -> T:
        try:
            return await work
        except asyncio.CancelledError:
            if self._closing:  # cut by the close, not given up by its caller
                raise ReadCutShort from None
            raise

    async def _end(self) -> None:
        try:
            await self._dispose()
        finally:
            self._loop.stop()

    async def _dispose(self) -> None:
        # A read under way ends first (its caller would otherwise wait for ever): the storage
        # of one meeting may close while another's, in the same process, reads. One that does
        # not end within the grace is cut short, so that a shutdown cannot hang on it.
        under_way = asyncio.all_tasks() - {asyncio.current_task()}
        if under_way:
            _, late = await asyncio.wait(under_way, timeout=CLOSE_GRACE_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=CUT_GRACE_S)
        engines = list(self._engines.values())
        self._engines.clear()
        for engine in engines:
            await engine.dispose()


_worker: _Worker | None = None
_closing: list[_Worker] = []  # workers whose close has begun and not yet ended
_worker_lock = threading.Lock()


def _the_worker() -> _Worker:
    """The process's worker, made at its first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _Worker()
        return _worker


def _in_memory(engine: AsyncEngine) -> bool:
    """Whether ``engine``'s database lives in its connection's memory (SQLite's ``:memory:``,
    an empty name, or a ``mode=memory`` URI): it cannot be opened a second time."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or url.query.get("mode") == "memory"
    )
