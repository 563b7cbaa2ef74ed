"""Use cases. Each public method is one unit of work; adapters call them with plain values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.domain.reminders import planned_messages
from bot.services.broadcasts import BroadcastService
from bot.services.composer import MessageComposer
from bot.services.context import ServiceContext
from bot.services.delegates import DelegateService
from bot.services.drafts import DraftService
from bot.services.invitations import InvitationService
from bot.services.meetings import sync_meeting
from bot.services.office_report import OfficeReportService
from bot.services.privacy import PrivacyService
from bot.services.reports import ReportService
from bot.services.rsvp import RsvpService
from bot.services.tasks import TaskService
from bot.texts import Catalog
from schedules.clock import Clock
from schedules.outbox import ChannelSender, Outbox
from schedules.planner import sync_planned
from schedules.ratelimit import Limits, Pacer
from schedules.scheduler import OutboxScheduler
from storage.files import FileStore


@dataclass(frozen=True)
class Services:
    """Every use case of the bot, built once by the composition root."""

    ctx: ServiceContext
    delegates: DelegateService
    invitations: InvitationService
    rsvp: RsvpService
    reports: ReportService
    broadcasts: BroadcastService
    tasks: TaskService
    drafts: DraftService
    office_report: OfficeReportService
    privacy: PrivacyService

    @property
    def config(self) -> Config:
        """The plan the services run."""
        return self.ctx.config

    def is_office_admin(self, user_id: int) -> bool:
        """Whether a chat user may use office commands."""
        return user_id in self.ctx.config.office.admin_ids


def build_outbox(
    services: Services,
    catalog: Catalog,
    senders: Mapping[str, ChannelSender],
    *,
    pacer: Pacer | None = None,
    outbox_class: type[Outbox] = Outbox,
) -> Outbox:
    """The outbox for this meeting, pacing sends to the configured rate (``outbox_class``
    lets the rehearsal's fault injection stand in)."""
    settings = services.config.outbox
    return outbox_class(
        services.ctx.sessions,
        services.ctx.clock,
        senders,
        MessageComposer(
            services.config,
            catalog,
            services.reports,
            services.tasks,
            services.drafts,
            services.ctx.clock,
            services.ctx.calendar,
        ),
        pacer or Pacer(Limits(overall_per_second=settings.rate_per_second)),
        meeting_id=services.ctx.meeting_id,
        batch_size=settings.batch_size,
        max_attempts=settings.max_attempts,
    )


def build_scheduler(services: Services, outbox: Outbox) -> OutboxScheduler:
    """The tick that drives ``outbox``, re-planning the automatic messages at start."""

    async def plan() -> None:
        await services.tasks.sync()
        await services.drafts.sync()
        await sync_planned(
            services.ctx.sessions,
            services.ctx.clock,
            services.ctx.meeting_id,
            planned_messages(services.config),
        )

    return OutboxScheduler(outbox, tick_seconds=services.config.outbox.tick_seconds, plan=plan)


async def build_services(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    files: FileStore | None = None,
) -> Services:
    """Sync the meeting row from the config and wire the services to it.

    ``files`` keeps uploaded speech drafts; by default ``[drafts] directory`` as written
    (the CLI passes it resolved against the config file's folder).
    """
    meeting = await sync_meeting(sessions, config, clock)
    ctx = ServiceContext(
        config=config,
        sessions=sessions,
        clock=clock,
        meeting_id=meeting.id,
        calendar=meeting.calendar,
    )
    reports = ReportService(ctx)
    tasks = TaskService(ctx)
    store = files or FileStore(Path(config.drafts.directory))
    drafts = DraftService(ctx, store)
    return Services(
        ctx=ctx,
        delegates=DelegateService(ctx),
        invitations=InvitationService(ctx),
        rsvp=RsvpService(ctx),
        reports=reports,
        broadcasts=BroadcastService(ctx),
        tasks=tasks,
        drafts=drafts,
        office_report=OfficeReportService(ctx, reports, drafts, tasks),
        privacy=PrivacyService(ctx, store),
    )
