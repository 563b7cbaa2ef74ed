"""The example plan's people in a test's database, for test files to import (a conftest is
pytest's, not a module to import): the example lists imported (:func:`import_example`), the
task contacts and staff (:func:`contacts_and_staff`), a set-up run once a run on SQLite and
copied after (:func:`once_per_start`), an invitee's stored answer (:func:`rsvp_of`).

tests/conftest.py loads this module as a plugin: its session fixture ``kept_setups`` serves
:func:`once_per_start` in every test.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from sqlalchemy import select

from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.clock import ManualClock
from bot.services import Services
from storage.models import Delegate, Rsvp
from storage.sharing import engine_of
from tests.office_support import make_staff

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_DELEGATES = EXAMPLES / "delegates.csv"
EXAMPLE_CONTACTS = EXAMPLES / "contacts.csv"


async def import_example(services: Services, path: Path = EXAMPLE_DELEGATES) -> None:
    """Import the 80 example delegates (or another example file: ``EXAMPLE_CONTACTS``, the
    plan's task contacts) into ``services``."""
    parsed = parse_delegate_file(path, [FileGroup(g.key, g.label) for g in services.config.groups])
    assert parsed.problems == []
    await services.delegates.import_rows(parsed.rows, actor="test")


async def contacts_and_staff(services: Services, *staff: str) -> None:
    """The plan's task contacts imported (the import assigns them their tasks) beside whoever
    is there, and ``staff`` given the office role, as ``hoinghi staff add`` does; once a run on
    SQLite (:func:`once_per_start`)."""

    async def prepare() -> None:
        await import_example(services, EXAMPLE_CONTACTS)
        for code in staff:
            await make_staff(services, code)

    await once_per_start(services, "+".join(("contacts", *staff)), prepare)


async def rsvp_of(services: Services, code: str) -> Rsvp:
    """The stored answer of the invitee ``code``."""
    async with services.ctx.sessions() as session:
        rsvp = await session.scalar(
            select(Rsvp)
            .join(Delegate, Delegate.id == Rsvp.delegate_id)
            .where(Delegate.code == code)
        )
    assert rsvp is not None
    return rsvp


# What a set-up (the example list imported, …) left in a SQLite database, by what it started
# from: see :func:`once_per_start`.
_AFTER_SETUP: dict[tuple[str, ...], tuple[Path, Any, datetime]] = {}  # file, result, time
T = TypeVar("T")


def _contents(database: Path) -> str:
    """A digest of every row of a SQLite database (its schema is the migrations')."""
    digest = hashlib.sha256()
    with closing(sqlite3.connect(database)) as connection:
        tables = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        for (table,) in tables:
            digest.update(f"{table}\n".encode())
            for row in connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


_KEPT_IN: list[Path] = []  # the run's folder for them, once the session has made it


@pytest.fixture(scope="session", autouse=True)
def kept_setups(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where :func:`once_per_start` keeps its copies (not in a test's own folder)."""
    _KEPT_IN[:] = [tmp_path_factory.mktemp("kept")]
    return _KEPT_IN[0]


async def once_per_start(services: Services, name: str, setup: Callable[[], Awaitable[T]]) -> T:
    """Run ``setup`` (writes through ``services``) on the test's database, or put in place what
    it left there before: on SQLite, when a test earlier in the run started it from the very
    same rows, plan and clock, a copy of the file it left, and the clock set where it left it
    (importing the example list took 0.1–0.2 s a test, and hundreds of tests import it). What
    ``setup`` returned, then or this time: what it keeps in memory, for the caller to set
    again. On PostgreSQL ``setup`` runs."""
    engine = engine_of(services.ctx.sessions)
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return await setup()
    assert database is not None and _KEPT_IN
    path = Path(database)
    # Written in full, what the setup depends on: every row, the plan, the time.
    key = (
        name,
        _contents(path),
        services.config.model_dump_json(),
        services.ctx.clock.now().isoformat(),
    )
    kept = _AFTER_SETUP.get(key)
    await engine.dispose()  # no connection left: the file alone holds the database (no WAL)
    if kept is not None and _copied(kept[0], path):
        clock = services.ctx.clock
        assert isinstance(clock, ManualClock)  # a clock that moves by itself matches no key
        clock.set(kept[2])  # where the set-up left the time
        return cast("T", kept[1])
    result = await setup()
    # What the set-up left riding for a later transaction (an account's last use, the record
    # of an update) is stored first: the copy holds all it wrote.
    await services.ctx.writes.drain()
    await engine.dispose()
    copy = _KEPT_IN[0] / f"{name}-{len(_AFTER_SETUP)}.db"
    if _copied(path, copy):
        _AFTER_SETUP[key] = (copy, result, services.ctx.clock.now())
    return result


def _copied(source: Path, target: Path) -> bool:
    """Copy the SQLite file ``source`` to ``target`` unless a connection still holds part of
    either in a write-ahead log (then no copy: False)."""
    if any(Path(f"{path}-wal").exists() for path in (source, target)):
        return False
    shutil.copyfile(source, target)
    return True
