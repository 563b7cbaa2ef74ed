"""Alembic environment: uses the connection hoinghi hands it, or builds one from the URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

import storage.models  # noqa: F401  (registers the tables on Base.metadata)
from storage.base import Base
from storage.engine import create_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode recreates tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # `alembic revision --autogenerate` from a shell: -x url=... or sqlalchemy.url
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database URL: alembic -x url=sqlite+aiosqlite:///dev.db ...")
    asyncio.run(_run_with_url(url))
