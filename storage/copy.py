"""Moving an installation to another database: every row of every table, as it is.

``hoinghi db copy --to postgresql+asyncpg://…`` is how an office that outgrew SQLite moves to
PostgreSQL (or the other way, or to a new SQLite file). Both databases are brought to the
newest schema by the migrations first, so the target's tables, constraints and indexes are the
migrations' own; then each table is read in the order its foreign keys need and written in
batches, the ids kept, so every reference stays true. On PostgreSQL, each table's id sequence is
moved past the copied ids, else the next insert would collide with a copied row.

The target must be empty: copying into a database that already holds a meeting would mix two
installations. The source is read while no bot runs on it (the CLI holds its lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Integer, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import storage.models  # noqa: F401  (every table on Base.metadata)
from storage.base import Base

BATCH = 1000  # rows a statement: bounded memory, few round trips


class CopyRefused(Exception):
    """The copy cannot start: ``reason`` is ``target_not_empty`` (``table`` holds rows) or
    ``same_database``."""

    def __init__(self, reason: str, table: str = "") -> None:
        super().__init__(f"{reason} {table}".strip())
        self.reason = reason
        self.table = table


@dataclass(frozen=True)
class Copied:
    """One table copied: its name and how many rows it holds on each side afterwards."""

    table: str
    source_rows: int
    target_rows: int


def tables() -> list[Table]:
    """Every table of the schema, each after the tables its foreign keys point to."""
    return list(Base.metadata.sorted_tables)


async def copy_database(
    source: AsyncEngine,
    target: AsyncEngine,
    progress: Callable[[Copied], None] = lambda copied: None,
) -> list[Copied]:
    """Copy every row of ``source`` into the empty ``target`` (both at the newest schema), in
    one transaction on the target: a copy that fails leaves the target as empty as it was."""
    done: list[Copied] = []
    async with source.connect() as reading, target.begin() as writing:
        for table in tables():
            if await _count(writing, table):
                raise CopyRefused("target_not_empty", table.name)
        for table in tables():
            await _copy_table(reading, writing, table)
            if writing.dialect.name == "postgresql":
                await _move_sequence(writing, table)
            copied = Copied(table.name, await _count(reading, table), await _count(writing, table))
            progress(copied)
            done.append(copied)
    return done


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def _copy_table(reading: AsyncConnection, writing: AsyncConnection, table: Table) -> None:
    """The table's rows in primary-key order, written a batch at a time."""
    query = select(table).order_by(*table.primary_key.columns)
    result = await reading.stream(query.execution_options(yield_per=BATCH))
    async for rows in result.partitions(BATCH):
        await writing.execute(table.insert(), [row._asdict() for row in rows])


async def _move_sequence(writing: AsyncConnection, table: Table) -> None:
    """Move a PostgreSQL id sequence past the copied ids (a table with a generated integer id)."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1 or not isinstance(columns[0].type, Integer):
        return
    column = columns[0]
    sequence = (
        await writing.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        )
    ).scalar_one()
    if sequence is None:
        return
    highest = (await writing.execute(select(func.max(column)))).scalar_one()
    await writing.execute(
        text("SELECT setval(:sequence, :value, :called)"),
        {"sequence": sequence, "value": highest or 1, "called": highest is not None},
    )
