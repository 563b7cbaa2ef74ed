"""Schema migrations (Alembic), run on a connection we own so it works inside the event loop.

Alembic (with Mako and Pygments under it) costs a command a few tenths of a second of start-up:
it is imported only when the schema has to change or Alembic is asked something.
:func:`schema_is_current` answers the question every command asks first without it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's own table of the database's revision
# A migration's ``revision: str = "0018"`` and ``down_revision: str | None = "0017"`` lines.
_REVISION_LINE = re.compile(r'^(revision|down_revision)\b[^=]*=\s*(?:"([^"]+)"|None)\s*$', re.M)


def alembic_config(url: str | None = None) -> AlembicConfig:
    """Alembic settings pointing at our migrations; no alembic.ini needed."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade_database(
    engine: AsyncEngine, *, timezone: str | None = None
) -> tuple[str | None, str | None]:
    """Create or upgrade the schema to the newest revision; returns (before, after).
    ``timezone``: the meeting's zone, for a migration that files rows by local date (0029)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    def _upgrade(connection: Connection) -> tuple[str | None, str | None]:
        config = alembic_config()
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        config.attributes["timezone"] = timezone
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
        return before, after

    async with engine.begin() as connection:
        return await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None`` for a new one)."""
    from alembic.runtime.migration import MigrationContext

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str | None:
    """The newest revision this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest revision this code ships, read without Alembic:
    its one row in ``alembic_version`` names :func:`shipped_head`. Anything else (a new
    database, an older schema, a table Alembic would not accept) is False: Alembic decides."""

    def _stored(connection: Connection) -> list[str]:
        if not inspect(connection).has_table(VERSION_TABLE):
            return []
        query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 (a constant)
        return list(connection.execute(query).scalars())

    async with engine.connect() as connection:
        stored = await connection.run_sync(_stored)
    head = shipped_head()
    return head is not None and stored == [head]


@cache
def shipped_head() -> str | None:
    """The newest revision in ``storage/migrations/versions``, read from the files' own
    ``revision`` and ``down_revision`` lines: the one no other migration revises (what
    :func:`head_revision` says, without importing Alembic; a test holds them equal)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else revised).add(value)
    heads = revisions - revised
    # Several heads (a branch to merge): None, never current, so Alembic says what is wrong.
    return heads.pop() if len(heads) == 1 else None
