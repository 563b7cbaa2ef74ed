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
        begin = connection.take_begin()
        async with connection._execute_mutex:
            try:
                outcome: Outcome = await self._connection._execute(
                    _run_statement, self._connection, operation, parameters, many=many, begin=begin
                )
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

    __slots__ = ("_begin",)

    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin = ""

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
        self._begin = ""
        if self.in_transaction_now():
            super().commit()

    def rollback(self) -> None:
        self._begin = ""
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
