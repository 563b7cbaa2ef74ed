"""Use cases. Each public method is one unit of work; adapters call them with plain values."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.services.context import ServiceContext
from bot.services.delegates import DelegateService
from bot.services.invitations import InvitationService
from bot.services.meetings import sync_meeting
from bot.services.reports import ReportService
from bot.services.rsvp import RsvpService
from schedules.clock import Clock


@dataclass(frozen=True)
class Services:
    """Every use case of the bot, built once by the composition root."""

    ctx: ServiceContext
    delegates: DelegateService
    invitations: InvitationService
    rsvp: RsvpService
    reports: ReportService

    @property
    def config(self) -> Config:
        """The plan the services run."""
        return self.ctx.config

    def is_office_admin(self, user_id: int) -> bool:
        """Whether a chat user may use office commands."""
        return user_id in self.ctx.config.office.admin_ids


async def build_services(
    config: Config, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> Services:
    """Sync the meeting row from the config and wire the services to it."""
    meeting_id = await sync_meeting(sessions, config, clock)
    ctx = ServiceContext(config=config, sessions=sessions, clock=clock, meeting_id=meeting_id)
    return Services(
        ctx=ctx,
        delegates=DelegateService(ctx),
        invitations=InvitationService(ctx),
        rsvp=RsvpService(ctx),
        reports=ReportService(ctx),
    )
