"""Before the database is used: a file the bot can really write.

A database the bot cannot write is said in one line (:class:`DatabaseUnavailable`), not found
out through a traceback once the bot is already taking updates.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


class DatabaseUnavailable(Exception):
    """The database cannot be used; ``reason`` says why in a form the CLI can translate.

    ``reason`` is ``folder_missing``, ``folder_read_only``, ``read_only``, ``not_a_database`` or
    ``cannot_open`` (``detail``: SQLite's error name); ``where`` is the database file.
    """

    def __init__(self, reason: str, where: str, *, detail: str = "") -> None:
        super().__init__(f"{reason}: {where}")
        self.reason = reason
        self.where = where
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
