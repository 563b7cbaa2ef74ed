"""Before the database is used: one ``hoinghi run`` at a time, and a file it can really write.

Two bots on one SQLite database both recover and drain the same outbox: each start puts the
other's deliveries in flight back to pending, and people get a message twice. There
:class:`DatabaseLock` lets one process at a time hold a database. On PostgreSQL the outbox's
claims are leases (:mod:`schedules.outbox`), so ``run`` holds the lock *shared*: any number of
runs side by side, while a schema upgrade or a purge (exclusive) waits for them all to end. The
operating system (SQLite: ``flock`` on a ``.lock`` file beside the database) or the server
(PostgreSQL: a session advisory lock on a connection of its own) lets go of it when the process
ends in any way, SIGKILL and power loss included, so a crash never leaves it stuck.

A database the bot cannot write is said in one line (:class:`DatabaseUnavailable`), not found
out through a traceback once the bot is already taking updates.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# "hoinghi" in ASCII: the advisory lock key every hoinghi process takes on its PostgreSQL database.
PG_LOCK_KEY = int.from_bytes(b"hoinghi", "big")
LOCK_SUFFIX = ".lock"


class DatabaseUnavailable(Exception):
    """The database cannot be used; ``reason`` says why in a form the CLI can translate.

    ``reason`` is ``in_use`` (``holder`` is the other process's command and id, as
    ``"run 1234"``, when known), ``folder_missing``, ``folder_read_only``, ``read_only``,
    ``not_a_database`` or ``cannot_open`` (``detail``: SQLite's error name); ``where`` is the
    database file, or the URL without its password.
    """

    def __init__(self, reason: str, where: str, *, holder: str = "", detail: str = "") -> None:
        super().__init__(f"{reason}: {where}")
        self.reason = reason
        self.where = where
        self.holder = holder
        self.detail = detail

    @property
    def folder(self) -> str:
        """The folder of the database file."""
        return str(Path(self.where).parent)


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL, as SQLite opens it (relative to the working folder), links
    resolved; ``None`` for another database or an in-memory one."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database.removeprefix("file:")).resolve()


def check_sqlite_file(url: str) -> None:
    """Raise :class:`DatabaseUnavailable` if the SQLite file cannot be created or written: its
    folder is missing or not writable (SQLite writes ``-wal`` and ``-shm`` files beside it), or
    the file is read-only."""
    path = sqlite_file(url)
    if path is None:
        return
    if not path.parent.is_dir():
        raise DatabaseUnavailable("folder_missing", str(path))
    if path.is_dir():
        raise DatabaseUnavailable("not_a_database", str(path))
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseUnavailable("read_only", str(path))
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable("folder_read_only", str(path))


def explain(url: str, error: BaseException) -> DatabaseUnavailable | None:
    """What an SQLite error met while opening or writing the database means for the office, or
    ``None`` if it is not about the file."""
    path = sqlite_file(url)
    cause = error.orig if isinstance(error, DBAPIError) else error
    if path is None or not isinstance(cause, sqlite3.Error):
        return None
    name = str(getattr(cause, "sqlite_errorname", ""))
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
        return DatabaseUnavailable("not_a_database", str(path))
    if not name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM")):
        return None  # not about the file: a bug must not pass for a permission problem
    try:
        check_sqlite_file(url)
    except DatabaseUnavailable as problem:
        return problem
    if name.startswith("SQLITE_READONLY"):  # e.g. a read-only mount that access() missed
        return DatabaseUnavailable("read_only", str(path))
    return DatabaseUnavailable("cannot_open", str(path), detail=name)


async def check_writable(engine: AsyncEngine) -> None:
    """Write in a transaction that is rolled back, as the bot will write: SQLite opens a file it
    may not write read-only without a word, and says so only at the first write."""
    probe = text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")
    with explained(engine.url.render_as_string(hide_password=False)):
        async with engine.connect() as connection, connection.begin() as transaction:
            await connection.execute(probe)
            await transaction.rollback()


@contextlib.contextmanager
def explained(url: str) -> Iterator[None]:
    """Turn an SQLite error about the file into :class:`DatabaseUnavailable`."""
    try:
        yield
    except DBAPIError as error:
        problem = explain(url, error)
        if problem is None:
            raise
        raise problem from None


class DatabaseLock:
    """The right to be the one hoinghi process that writes a database in the background.

    ``command`` (e.g. ``run``) and the process id are left with the lock, so that a process
    refused can say who holds it.
    """

    def __init__(self, url: str, command: str, *, shared: bool = False) -> None:
        self.url = url
        self.command = command
        # PostgreSQL only: held beside other shared holders, refused by (and refusing) an
        # exclusive one. SQLite's file lock is always exclusive.
        self.shared = shared
        self._fd: int | None = None
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None or self._connection is not None

    async def acquire(self) -> None:
        """Take the lock, or raise :class:`DatabaseUnavailable` (``in_use``) at once."""
        if self.held:
            return
        path = sqlite_file(self.url)
        if path is not None:
            self._fd = _lock_file(path, f"{self.command} {os.getpid()}")
        elif make_url(self.url).get_backend_name() == "postgresql":
            await self._lock_postgresql()

    async def release(self) -> None:
        """Let go of the lock (the end of the process does it too)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases its lock
            self._fd = None
        if self._connection is not None:
            with contextlib.suppress(Exception):  # the server lets go when the session ends
                await self._connection.close()
            self._connection = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _lock_postgresql(self) -> None:
        # A session-level advisory lock lives as long as this connection: not from the pool,
        # kept open for the life of the process, and named so that pg_stat_activity shows whose.
        name = f"hoinghi {self.command} {os.getpid()}"
        self._engine = create_async_engine(
            self.url,
            poolclass=NullPool,
            connect_args={"server_settings": {"application_name": name}},
        )
        connection = await self._engine.connect()
        take = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        taken = await connection.scalar(text(f"SELECT {take}(:key)"), {"key": PG_LOCK_KEY})
        holder = "" if taken else await _pg_lock_holder(connection)
        await connection.commit()  # no transaction left open for the life of the process
        if not taken:
            await connection.close()
            await self._engine.dispose()
            self._engine = None
            where = make_url(self.url).render_as_string(hide_password=True)
            raise DatabaseUnavailable("in_use", where, holder=holder)
        self._connection = connection


async def _pg_lock_holder(connection: AsyncConnection) -> str:
    """``<command> <pid>`` of the hoinghi process holding the advisory lock, if it is shown."""
    name = await connection.scalar(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted"
            " AND l.classid = :high AND l.objid = :low AND l.objsubid = 1"
        ),
        {"high": PG_LOCK_KEY >> 32, "low": PG_LOCK_KEY & 0xFFFFFFFF},
    )
    return str(name or "").removeprefix("hoinghi ")


def _lock_file(database: Path, holder: str) -> int:
    """An open descriptor of ``<database>.lock``, locked; its content is ``holder``."""
    path = database.with_name(database.name + LOCK_SUFFIX)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        raise DatabaseUnavailable("folder_missing", str(database)) from None
    except OSError:  # EACCES, EROFS, EPERM: nothing can be written beside the database
        raise DatabaseUnavailable("folder_read_only", str(database)) from None
    if not _try_lock(fd):
        other = ""
        with contextlib.suppress(OSError):
            other = os.read(fd, 200).decode("utf-8", errors="replace").strip()
        os.close(fd)
        raise DatabaseUnavailable("in_use", str(database), holder=other)
    os.ftruncate(fd, 0)
    os.write(fd, f"{holder}\n".encode())
    return fd


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        # Windows locks byte ranges; one far past the holder's line keeps that line readable.
        os.lseek(fd, 1 << 20, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
