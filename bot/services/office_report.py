"""Everything the office's report file holds, and the audit log, read in one place.

The rows are plain values; :mod:`bot.services.report_file` turns them into Vietnamese sheets and
:mod:`bot.documents.workbook` into a file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.drafts import DraftLine
from bot.domain.order import protocol_key
from bot.domain.outbound import DeliveryStatus, MessageKind, MessageStatus, SkipReason, skip_reason
from bot.domain.rsvp import RsvpStatus, read_days
from bot.domain.tasks import TaskLine
from bot.services import roster
from bot.services.checkin import Attendance, CheckinService, CheckinView
from bot.services.context import ServiceContext
from bot.services.dashboard import LogFilters, audited_kind, log_conditions, named_people
from bot.services.drafts import DraftService
from bot.services.reports import Counts, ReportService
from bot.services.tasks import TaskService
from bot.services.views import DelegateView
from storage import queries
from storage.models import AuditEntry, Delegate, Delivery, OutboundMessage
from storage.uow import read_only


@dataclass(frozen=True)
class DelegateRow:
    """A delegate as the report lists them."""

    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    status: RsvpStatus
    reason: str | None
    substitute_name: str | None
    substitute_position: str | None
    answered_at: datetime | None
    linked: bool
    unreachable_reason: str | None  # set when the linked account cannot be reached
    channels: tuple[str, ...] = ()  # the chat channels that reach them
    blocked: tuple[str, ...] = ()  # the chat channels linked but no longer reaching them
    withdrawn: bool = False  # the office withdrew the invitation: listed, marked
    withdrawn_reason: str | None = None
    # Apart from the position since migration 0026 (None on an answer given before it); the
    # phone E.164.
    substitute_unit: str | None = None
    substitute_phone: str | None = None
    # The chat channels linked that this installation does not run (no token set): they reach
    # nobody, and are named as such.
    idle: tuple[str, ...] = ()
    # «Tham dự» at a meeting of several days for these days only; None: every day.
    days: tuple[date, ...] | None = None

    @property
    def only_idle(self) -> bool:
        """Whether every chat account she has is on a chat that does not run here."""
        return bool(self.idle) and not self.channels and not self.blocked

    @property
    def reachable(self) -> bool | None:
        """Whether the bot can write to them (None when no account is linked)."""
        return None if not self.linked else self.unreachable_reason is None and not self.only_idle


@dataclass(frozen=True)
class MessageRow:
    """A message to many (a notice, a reminder) and how its deliveries went."""

    id: int
    kind: MessageKind
    audience: str
    status: MessageStatus
    number: int | None  # a notice's number within the meeting; None for the other kinds
    due_at: datetime | None
    finished_at: datetime | None
    counts: Counter[DeliveryStatus]
    skip_reason: SkipReason | None = None  # why it was not sent, when it was skipped


@dataclass(frozen=True)
class RanOutRow:
    """Someone whose copy of a message never went because its window closed first (the bot
    was stopped past it): the office phones them."""

    message: MessageRow
    code: str
    full_name: str
    position: str
    organization: str


@dataclass(frozen=True)
class OfficeReport:
    """The whole meeting as the office's workbook shows it."""

    counts: Counts
    delegates: list[DelegateRow]
    drafts: list[DraftLine]
    tasks: list[TaskLine]
    messages: list[MessageRow]
    # Check-ins at the reception desk (undone ones kept) with the invitee each names, and the
    # hall's count; empty before the meeting day.
    checkins: list[tuple[CheckinView, DelegateView | None]] = field(default_factory=list)
    attendance: Attendance | None = None
    # Everyone a message's copy ran out for, message by message, in protocol order.
    ran_out: list[RanOutRow] = field(default_factory=list)
    # The environment variable of each chat's token, as start-up named them: the «Ghi chú liên
    # lạc» of someone linked only on chats that do not run here names the one to set.
    token_envs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRow:
    """One change: when, by whom (the account and, if known, the person), what, from, to."""

    at: datetime
    actor: str
    person: str | None
    is_office: bool
    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    # "Name (code)" of each person the change names by id (a task's or a draft's person_id).
    names: dict[int, str] = field(default_factory=dict)
    # "Name (code)" of the person the change is about (an answer taken by phone, a role).
    subject: str | None = None


# Messages about one person's draft or to the office itself are not bulk sending.
_BULK_KINDS = frozenset(
    {
        MessageKind.BROADCAST,
        MessageKind.RSVP_REMINDER,
        MessageKind.DAY_BEFORE,
        MessageKind.MORNING_AGENDA,
        MessageKind.TASK_REMINDER,
        MessageKind.DRAFT_REMINDER,
    }
)


class OfficeReportService:
    """Reads the report and the audit log."""

    def __init__(
        self,
        ctx: ServiceContext,
        reports: ReportService,
        drafts: DraftService,
        tasks: TaskService,
        checkin: CheckinService | None = None,
    ) -> None:
        self._ctx = ctx
        self._checkin = checkin or CheckinService(ctx)
        self._reports = reports
        self._drafts = drafts
        self._tasks = tasks

    async def collect(self) -> OfficeReport:
        """Delegates in protocol order, the group summary, drafts, tasks, sending and the
        check-ins at the reception desk. The roster and the messages are read in one read-only
        transaction: a report taken from the dashboard or the chat neither waits behind the
        desks' and the chats' writes nor holds them up."""
        order = {group.key: group.order for group in self._ctx.config.groups}
        async with read_only(self._ctx.sessions) as session:
            # Reachable on the chats that run here, as every count of «liên kết» reads it.
            roster = await queries.roster(session, self._ctx.meeting_id, self._ctx.chats.names)
            roster.sort(key=protocol_key(order))
            delegates = [
                DelegateRow(
                    code=row.code,
                    full_name=row.full_name,
                    position=row.position,
                    organization=row.organization,
                    group_key=row.group_key,
                    status=RsvpStatus(row.status),
                    reason=row.reason,
                    substitute_name=row.substitute_name,
                    substitute_position=row.substitute_position,
                    answered_at=row.answered_at,
                    linked=row.linked,
                    # The best account's, when it runs here (one that does not: ``idle``).
                    unreachable_reason=(
                        (row.unreachable_reason or "—")
                        if row.unreachable_at is not None and row.blocked
                        else None
                    ),
                    channels=row.channels,
                    blocked=row.blocked,
                    withdrawn=row.withdrawn_at is not None,
                    withdrawn_reason=row.withdrawn_reason,
                    substitute_unit=row.substitute_unit,
                    substitute_phone=row.substitute_phone,
                    idle=row.idle,
                    days=read_days(row.days),
                )
                for row in roster
            ]
            messages = await self._messages(session)
            ran_out = await self._ran_out(session, messages)
        return OfficeReport(
            counts=await self._reports.counts(),
            delegates=delegates,
            # Withdrawn after versions were sent: kept, marked (nothing sent is lost).
            drafts=await self._drafts.board(withdrawn=True),
            tasks=sorted(await self._tasks.office_board(), key=lambda task: _natural(task.key)),
            messages=messages,
            checkins=await self._checkin.records(),
            attendance=await self._checkin.count(),
            ran_out=ran_out,
            token_envs=dict(self._ctx.chats.token_envs),
        )

    async def audit(self, filters: LogFilters | None = None) -> list[AuditRow]:
        """Every audited change, newest first as Nhật ký's page lists them, with the person
        behind a chat account; with ``filters``, only those Nhật ký's filters keep
        (:func:`log_conditions`), for its download. Read in one read-only transaction: a
        download from the dashboard neither waits behind the desks' and the chats' writes nor
        holds them up."""
        admins = {str(user_id) for user_id in self._ctx.config.office.admin_ids}
        async with read_only(self._ctx.sessions) as session:
            wanted = (
                [AuditEntry.meeting_id == self._ctx.meeting_id]
                if filters is None
                else await log_conditions(session, self._ctx, filters)
            )
            entries = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(*wanted)
                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                )
            )
            # The person behind a chat account or a dashboard session: «Name (code)», where
            # the export used to write «dashboard:NV01».
            people = {
                actor: f"{name} ({code})"
                for actor, (name, code) in (
                    await queries.people_behind(
                        session, self._ctx.meeting_id, {entry.actor for entry in entries}
                    )
                ).items()
            }
            by_id = {
                person_id: f"{full_name} ({code})"
                for person_id, full_name, code in await session.execute(
                    select(Delegate.id, Delegate.full_name, Delegate.code).where(
                        Delegate.meeting_id == self._ctx.meeting_id
                    )
                )
            }
        rows: list[AuditRow] = []
        for entry in entries:
            # An old row as written now, as Nhật ký's page shows it.
            kind, after = audited_kind(entry.action, entry.after)
            rows.append(
                AuditRow(
                    at=entry.at,
                    actor=entry.actor,
                    person=people.get(entry.actor),
                    is_office=entry.actor.partition(":")[2] in admins,
                    action=kind,
                    entity=entry.entity,
                    entity_id=entry.entity_id,
                    before=entry.before,
                    after=after,
                    names=named_people(entry.before, entry.after, by_id),
                    subject=by_id.get(entry.entity_id or 0) if entry.entity == "delegate" else None,
                )
            )
        return rows

    async def _messages(self, session: AsyncSession) -> list[MessageRow]:
        rows = list(
            await session.scalars(
                select(OutboundMessage)
                .where(
                    OutboundMessage.meeting_id == self._ctx.meeting_id,
                    OutboundMessage.kind.in_([str(kind) for kind in _BULK_KINDS]),
                    OutboundMessage.status != MessageStatus.DRAFT,
                    # A draft dropped before it was confirmed was never a notice: only what
                    # was queued or scheduled (then perhaps cancelled) has a time.
                    OutboundMessage.due_at.is_not(None),
                )
                .order_by(OutboundMessage.due_at, OutboundMessage.id)
            )
        )
        counts: dict[int, Counter[DeliveryStatus]] = {row.id: Counter() for row in rows}
        for message_id, status, number in await session.execute(
            select(Delivery.message_id, Delivery.status, func.count())
            .where(Delivery.message_id.in_(list(counts)))
            .group_by(Delivery.message_id, Delivery.status)
        ):
            counts[message_id][DeliveryStatus(status)] = number
        return [
            MessageRow(
                id=row.id,
                kind=MessageKind(row.kind),
                audience=row.audience,
                status=MessageStatus(row.status),
                number=row.number,
                due_at=row.due_at,
                finished_at=row.finished_at,
                counts=counts[row.id],
                skip_reason=(
                    skip_reason(row.params) if row.status == MessageStatus.SKIPPED else None
                ),
            )
            for row in rows
        ]

    async def _ran_out(self, session: AsyncSession, messages: list[MessageRow]) -> list[RanOutRow]:
        """Everyone whose copy ran out, for the messages some copies ran out for (few: only a
        stop past a message's window does it), each message's people in protocol order."""
        found: list[RanOutRow] = []
        for message in messages:
            if not message.counts[DeliveryStatus.SKIPPED]:
                continue
            rows = await roster.ran_out_people(
                session,
                self._ctx.config.groups,
                message.id,
                columns=(Delegate.position, Delegate.organization),
            )
            found += [
                RanOutRow(message, code, name, position, organization)
                for code, name, position, organization in rows
            ]
        return found


def _natural(key: str) -> list[Any]:
    """``VI.1.2`` before ``VI.1.10``: numbers compare as numbers."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.\-]", key)
    ]
