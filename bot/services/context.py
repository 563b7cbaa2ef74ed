"""What every service needs: the plan, the database and the clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from schedules.clock import Clock


@dataclass(frozen=True)
class ServiceContext:
    """Shared dependencies of the services; ``meeting_id`` is the config's meeting row."""

    config: Config
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    meeting_id: int
