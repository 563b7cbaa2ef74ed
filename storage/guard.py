"""Before the database is used: who may run beside whom, and a file it can really write.

Every ``hoinghi run`` holds its database's :class:`DatabaseLock` *shared*: runs side by side,
while a schema upgrade, a purge or a copy (exclusive) waits for them all to end. What else a run
holds depends on the database:

- SQLite: two processes of **one meeting** would both recover and drain its outbox (each start
  puts the other's deliveries in flight back to pending, and people get a message twice), so a
  run also holds its meeting's lock exclusively (:func:`meeting_scope`): one process per meeting,
  any number of meetings. And a chat platform hands a bot's messages to one receiver, so each
  bot a run serves is held exclusively too (:func:`bot_scope`): a second meeting started with
  the same bot is refused, instead of the two answering each other's people as strangers.
- PostgreSQL: the outbox's claims are leases (:mod:`schedules.outbox`) and a bot's rate is
  shared (:mod:`storage.sharing`), so any number of runs of any meetings share the database;
  the scoped locks are not taken there.

The operating system (SQLite: ``flock`` on ``.lock`` files beside the database) or the server
(PostgreSQL: a session advisory lock on a connection of its own) lets go of a lock when the
process ends in any way, SIGKILL and power loss included, so a crash never leaves it stuck.

A database the bot cannot write is said in one line (:class:`DatabaseUnavailable`), not found
out through a traceback once the bot is already taking updates.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.sharing import bot_key

# "hoinghi" in ASCII: the advisory lock key every hoinghi process takes on its PostgreSQL database.
PG_LOCK_KEY = int.from_bytes(b"hoinghi", "big")
LOCK_SUFFIX = ".lock"


class DatabaseUnavailable(Exception):
    """The database cannot be used; ``reason`` says why in a form the CLI can translate.

    ``reason`` is ``in_use`` (``holder`` is the other process's command and id, as
    ``"run 1234"``, when known), ``upgrade_in_use`` (the same, met by a schema change a command
    needed before its own work), ``meeting_in_use`` and ``bot_in_use`` (a scoped lock:
    ``detail`` is the meeting's code or the channel's name, ``holder`` as above),
    ``folder_missing``, ``folder_read_only``, ``read_only``,
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


@dataclass(frozen=True)
class Scope:
    """Something a run holds on an SQLite database besides the database itself: ``reason``
    is what a process refused is told (``meeting_in_use``, ``bot_in_use``), ``name`` what it
    names (the meeting's code, the channel), ``key`` the lock file's part of a name."""

    reason: str
    name: str
    key: str


def meeting_scope(code: str) -> Scope:
    """One meeting's run (by its ``[meeting] code``; hashed: a code may hold a ``/``)."""
    return Scope(
        "meeting_in_use", code, "meeting-" + hashlib.sha256(code.encode()).hexdigest()[:16]
    )


def bot_scope(channel: str, token: str) -> Scope:
    """One bot's receiving, by a hash of its token (never the token: it is a secret)."""
    return Scope("bot_in_use", channel, "bot-" + bot_key(token)[:16])


def meetings_running(url: str, codes: Iterable[str]) -> set[str] | None:
    """Which of the meetings ``codes`` a ``hoinghi run`` serves now, by the meeting locks
    beside an SQLite database (:func:`meeting_scope`); None where no lock says it (PostgreSQL,
    which shares a meeting between processes by leases; Windows, one run for the database).

    A lock free is held shared for an instant to know it: a run of that meeting starting in
    that very instant is told its meeting is in use, and starting it again works."""
    path = sqlite_file(url)
    if path is None or sys.platform == "win32":
        return None
    running = set()
    for code in codes:
        lock = path.with_name(f"{path.name}.{meeting_scope(code).key}{LOCK_SUFFIX}")
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:  # never run (no file), or unreadable: not known to run
            continue
        try:
            if not _try_lock(fd, True):
                running.add(code)
        finally:
            os.close(fd)  # closing the file releases an instant's lock
    return running


class DatabaseLock:
    """The right to write a database in the background: alone (exclusive), beside other runs
    (``shared``), or, on SQLite, for one ``scope`` of it alone (a meeting, a bot).

    ``command`` (e.g. ``run``) and the process id are left with the lock, so that a process
    refused can say who holds it.
    """

    def __init__(
        self, url: str, command: str, *, shared: bool = False, scope: Scope | None = None
    ) -> None:
        self.url = url
        self.command = command
        # Held beside other shared holders, refused by (and refusing) an exclusive one.
        self.shared = shared
        # SQLite only (PostgreSQL shares meetings and bots by leases and shared send slots).
        self.scope = scope
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
            self._fd = _lock_file(
                path, f"{self.command} {os.getpid()}", shared=self.shared, scope=self.scope
            )
        elif self.scope is None and make_url(self.url).get_backend_name() == "postgresql":
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


def _lock_file(
    database: Path, holder: str, *, shared: bool = False, scope: Scope | None = None
) -> int:
    """An open descriptor of ``<database>.lock`` (``<database>.<scope key>.lock`` for a
    scope), locked; its content is ``holder`` (the last shared holder's)."""
    name = database.name + (f".{scope.key}" if scope else "") + LOCK_SUFFIX
    path = database.with_name(name)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        raise DatabaseUnavailable("folder_missing", str(database)) from None
    except OSError:  # EACCES, EROFS, EPERM: nothing can be written beside the database
        raise DatabaseUnavailable("folder_read_only", str(database)) from None
    if not _try_lock(fd, shared):
        other = ""
        with contextlib.suppress(OSError):
            other = os.read(fd, 200).decode("utf-8", errors="replace").strip()
        os.close(fd)
        if scope is not None:
            raise DatabaseUnavailable(scope.reason, str(database), holder=other, detail=scope.name)
        raise DatabaseUnavailable("in_use", str(database), holder=other)
    os.ftruncate(fd, 0)
    os.write(fd, f"{holder}\n".encode())
    return fd


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int, shared: bool) -> bool:
        # Windows locks byte ranges; one far past the holder's line keeps that line readable.
        # It has no shared lock: there a run holds the database alone, one run at a time.
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

    def _try_lock(fd: int, shared: bool) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
