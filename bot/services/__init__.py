"""Use cases. Each public method is one unit of work; adapters call them with plain values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.domain.clock import Clock
from bot.services.access import Access
from bot.services.activity import Activity
from bot.services.audiences import AudienceService
from bot.services.broadcasts import BroadcastService
from bot.services.checkin import CheckinService
from bot.services.context import ServiceContext
from bot.services.dashboard import DashboardService
from bot.services.delegates import DelegateService
from bot.services.documents import DocumentService
from bot.services.drafts import DraftService
from bot.services.echo import Echo
from bot.services.invitations import InvitationService
from bot.services.meetings import sync_meeting
from bot.services.office_report import OfficeReportService
from bot.services.pages import PageService
from bot.services.privacy import PrivacyService
from bot.services.quotas import QuotaService
from bot.services.reports import ReportService
from bot.services.rsvp import RsvpService
from bot.services.signin import StaffSignIn
from bot.services.tasks import TaskService
from bot.services.withdrawals import WithdrawalService
from storage.files import FileStore
from storage.uow import meeting_sessions


@dataclass(frozen=True)
class Services:
    """Every use case of the bot, built once by the composition root."""

    ctx: ServiceContext
    access: Access
    activity: Activity
    audiences: AudienceService
    delegates: DelegateService
    invitations: InvitationService
    pages: PageService
    rsvp: RsvpService
    reports: ReportService
    broadcasts: BroadcastService
    tasks: TaskService
    drafts: DraftService
    checkin: CheckinService
    office_report: OfficeReportService
    privacy: PrivacyService
    echo: Echo
    signin: StaffSignIn
    dashboard: DashboardService
    quotas: QuotaService
    withdrawals: WithdrawalService
    documents: DocumentService

    @property
    def config(self) -> Config:
        """The plan the services run."""
        return self.ctx.config


async def build_services(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    files: FileStore | None = None,
    same_meeting: bool = False,
) -> Services:
    """Sync the meeting row from the config and wire the services to it.

    ``files`` keeps uploaded speech drafts and the deliverables uploaded on personal pages;
    by default ``[drafts] directory`` as written
    (the CLI passes it resolved against the config file's folder). A plan whose code the
    database holds for a meeting of another title and start raises
    :class:`bot.services.meetings.CodeTaken` first, unless ``same_meeting``.
    """
    meeting = await sync_meeting(sessions, config, clock, same_meeting=same_meeting)
    ctx = ServiceContext(
        config=config,
        # Their audit entries carry the meeting (several may share the database).
        sessions=meeting_sessions(sessions, meeting.id),
        clock=clock,
        meeting_id=meeting.id,
        calendar=meeting.calendar,
    )
    reports = ReportService(ctx)
    store = files or FileStore(Path(config.drafts.directory))
    tasks = TaskService(ctx, store)
    drafts = DraftService(ctx, store)
    checkin = CheckinService(ctx)
    access = Access(ctx)
    return Services(
        ctx=ctx,
        access=access,
        activity=Activity(ctx),
        audiences=AudienceService(ctx),
        delegates=DelegateService(ctx, tasks, drafts),
        invitations=InvitationService(ctx),
        pages=PageService(ctx),
        rsvp=RsvpService(ctx),
        reports=reports,
        broadcasts=BroadcastService(ctx),
        tasks=tasks,
        drafts=drafts,
        checkin=checkin,
        office_report=OfficeReportService(ctx, reports, drafts, tasks, checkin),
        privacy=PrivacyService(ctx, store),
        echo=Echo(ctx),
        signin=StaffSignIn(ctx, access),
        dashboard=DashboardService(ctx),
        quotas=QuotaService(ctx, config.quotas()),
        withdrawals=WithdrawalService(ctx, tasks),
        documents=DocumentService(ctx, store),
    )
