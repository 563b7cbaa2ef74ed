"""Unit of work: one transaction per use case, committed on success, rolled back on error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction; services own it, query helpers only flush."""
    async with sessions() as session, session.begin():
        yield session
