"""The meeting row that anchors delegates; kept in step with the config."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from schedules.clock import Clock
from storage import queries
from storage.models import Meeting
from storage.uow import unit_of_work


async def sync_meeting(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> int:
    """Create or update the meeting row for ``config``; returns its id."""
    async with unit_of_work(sessions) as session:
        meeting = await queries.meeting_by_code(session, config.meeting.code)
        if meeting is None:
            meeting = Meeting(
                code=config.meeting.code,
                title=config.meeting.title,
                starts_at=config.meeting.starts_at,
                created_at=clock.now(),
            )
            session.add(meeting)
        else:
            meeting.title = config.meeting.title
            meeting.starts_at = config.meeting.starts_at
        await session.flush()
        return meeting.id
