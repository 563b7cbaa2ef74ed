"""SQLAlchemy's aiosqlite adapter, with one trip to the database thread per statement.

aiosqlite runs each sqlite3 call on a thread of its own and hands the result back to the event
loop. SQLAlchemy's adapter (``sqlalchemy.dialects.sqlite.aiosqlite``) makes one such call per
DBAPI step: a cursor opened, the statement executed, its rows fetched, the cursor closed — four
trips for a SELECT, three for an INSERT — and a ROLLBACK each time a connection goes back to the
pool, even just after a COMMIT. A trip is nothing to SQLite, but its answer waits for the
loop's next turn, and when many delegates tap at once a turn carries everyone else's work too.
At such a surge the trips, not SQLite, were what a write transaction cost: sixteen per
transaction in bench/load.py, for a BEGIN, four statements and a COMMIT.

Here a statement runs whole on the thread in one trip (executed, every row fetched, the cursor
closed); a transaction's BEGIN rides in the trip of its first statement
(:meth:`OneTripConnection.begin_with_next_statement`); and a COMMIT or ROLLBACK with no
transaction open makes no trip at all. That write transaction is now five trips: one per
statement, and the COMMIT.
A transaction may also *defer its writes* (:meth:`OneTripConnection.defer_writes`, what
:class:`bot.services.batching.GroupCommit` asks for): an INSERT, UPDATE or DELETE without
RETURNING then waits on the loop's side and rides in the trip of the transaction's next read,
or of its COMMIT. A tap's transaction — a read of the accounts, then the answers, their audit
entries, the handled updates and the accounts' marks written — is then two trips, not six. What
such a write would return (its row count, a new row's id) is not known, so only writes whose
results nobody reads are deferred; a deferred write that fails raises from the statement or
COMMIT that carried it, and its transaction rolls back as usual.
The rest is SQLAlchemy's adapter unchanged: the connection, its errors, the server-side cursors
of streamed results. :func:`storage.engine.create_engine` installs it for ``sqlite+aiosqlite``
URLs.

The one trip is aiosqlite's ``Connection._execute`` (run a function on the connection's thread),
as SQLAlchemy's own adapter reaches into aiosqlite's ``_tx`` queue and ``_conn``.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Description = tuple[tuple[Any, ...], ...] | None
Outcome = tuple[Description, list[Any], int, int | None]  # description, rows, rowcount, lastrowid


def _run_statement(
    connection: aiosqlite.Connection, operation: str, parameters: Any, *, many: bool, begin: str
) -> Outcome:
    """On the connection's thread: the pending BEGIN if any, the statement, its rows, and the
    cursor closed."""
    if begin:
        try:
            # On a cursor of its own, so that lastrowid stays the statement's.
            connection._conn.execute(begin).close()
        except sqlite3.Error as error:
            error.add_note(f"while beginning the transaction: {begin}")
            raise
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


Deferred = tuple[str, Any, bool]  # a write waiting for the next trip: SQL, parameters, many


def _run_deferred(
    connection: aiosqlite.Connection,
    deferred: Sequence[Deferred],
    operation: str | None,
    parameters: Any,
    *,
    many: bool,
    begin: str,
) -> Outcome | None:
    """On the connection's thread: the pending BEGIN, the deferred writes in order, then
    ``operation`` (a statement, its outcome returned) or, without one, the COMMIT."""
    if begin:
        _run_statement(connection, begin, None, many=False, begin="")
    for sql, values, each in deferred:
        _run_statement(connection, sql, values, many=each, begin="")
    if operation is None:
        connection._conn.commit()
        return None
    return _run_statement(connection, operation, parameters, many=many, begin="")


def _is_plain_write(operation: str) -> bool:
    """An INSERT, UPDATE or DELETE that returns nothing."""
    verb = operation.lstrip()[:6].upper()
    return verb in ("INSERT", "UPDATE", "DELETE") and "RETURNING" not in operation.upper()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement is one trip; it holds the results, not a cursor."""

    __slots__ = ("_description", "_lastrowid", "_rowcount", "arraysize")

    _awaitable_cursor_close = False  # nothing is open on the thread to close

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # Not the base's __init__: it opens an aiosqlite cursor, a trip of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Description = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 ignores input sizes."""

    def nextset(self) -> None:
        raise self._adapt_connection.dbapi.NotSupportedError("SQLite has one result set")

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection = cast("OneTripConnection", self._adapt_connection)  # its _cursor_cls
        if connection.deferring and _is_plain_write(operation):
            connection.deferred.append((operation, parameters, many))
            self._description, self._rowcount, self._lastrowid = None, -1, None
            self._rows = collections.deque()
            return
        begin = connection.take_begin()
        deferred = connection.take_deferred()
        async with connection._execute_mutex:
            try:
                if deferred:
                    done = await self._connection._execute(
                        _run_deferred, self._connection, deferred, operation, parameters,
                        many=many, begin=begin,
                    )  # fmt: skip
                    outcome = cast(Outcome, done)
                else:
                    outcome = await self._connection._execute(
                        _run_statement, self._connection, operation, parameters,
                        many=many, begin=begin,
                    )  # fmt: skip
            except sqlite3.Error:
                # The trip is over, so the state may be read. If the BEGIN failed (the lock was
                # not to be had), or SQLite rolled the transaction back, the next statement of
                # this transaction must begin it again, not run on its own in autocommit.
                if begin and not connection.in_transaction_now():
                    connection.begin_with_next_statement(begin)
                raise
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection, with :class:`OneTripCursor` and no empty ends."""

    __slots__ = ("_begin", "deferred", "deferring")

    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin = ""
        self.deferring = False  # this transaction's plain writes wait for its next trip
        self.deferred: list[Deferred] = []

    def defer_writes(self) -> None:
        """Until this transaction ends, let its INSERTs, UPDATEs and DELETEs without RETURNING
        ride in the trip of its next read or of its COMMIT (their row counts and new ids are
        then unknown: only for writes whose results nobody reads)."""
        self.deferring = True

    def take_deferred(self) -> list[Deferred]:
        deferred, self.deferred = self.deferred, []
        return deferred

    def begin_with_next_statement(self, begin: str) -> None:
        """Run ``begin`` (a transaction's BEGIN) on the thread just before the next statement,
        in its trip. It fails as that statement would; a COMMIT or ROLLBACK before any
        statement drops it, since no transaction was opened."""
        if self._begin or self.in_transaction_now():
            # Two users of one connection (a StaticPool's in-memory database): fail as SQLite
            # would, rather than let the second's statements join the first's transaction.
            raise self.dbapi.OperationalError("cannot start a transaction within a transaction")
        self._begin = begin

    def take_begin(self) -> str:
        begin, self._begin = self._begin, ""
        return begin

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self._begin:
            # A streamed result reads through aiosqlite's own cursor, step by step: its
            # transaction begins first, in a trip of its own.
            OneTripCursor(self).execute(self.take_begin())
        return super().cursor(server_side)

    def commit(self) -> None:
        begin, deferred = self.take_begin(), self.take_deferred()
        self.deferring = False
        if deferred:  # the writes, with the BEGIN if none went before them, and the COMMIT
            try:
                await_(self._run_deferred_commit(begin, deferred))
            except Exception as error:
                self._handle_exception(error)
        elif self.in_transaction_now():
            super().commit()

    async def _run_deferred_commit(self, begin: str, deferred: list[Deferred]) -> None:
        async with self._execute_mutex:
            await self._connection._execute(
                _run_deferred, self._connection, deferred, None, None, many=False, begin=begin
            )

    def rollback(self) -> None:
        self._begin = ""
        self.deferring = False
        self.deferred = []
        # Every connection going back to the pool is rolled back, most often just after its
        # COMMIT: with nothing open, sqlite3 would do nothing, so the trip is saved.
        if self.in_transaction_now():
            super().rollback()

    def in_transaction_now(self) -> bool:
        """Whether SQLite has a transaction open on this connection."""
        # Read from the loop's thread: nothing runs on the thread for this connection, whose
        # user is waiting for this very call. (A statement whose wait is cancelled leaves its
        # trip running, but SQLAlchemy then closes the connection instead of rolling it back.)
        return self._connection._connection is not None and self._connection.in_transaction


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (``create_engine(module=…)``)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        return OneTripConnection(self, super().connect(*arg, **kw)._connection)


def one_trip_dbapi() -> OneTripDbapi:
    return OneTripDbapi(aiosqlite, sqlite3)
