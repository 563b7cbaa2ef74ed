"""The outbox: every message the bot sends to more than one person goes through here.

A tick (scheduled by :mod:`schedules.scheduler`) does three things:

1. **queue** messages that fell due: pick their recipients now, one delivery row each
   (``not_linked`` for delegates who never opened their link, ``blocked`` for those known
   to have blocked the bot); a message past its window is skipped and the skip reported;
2. **drain** due deliveries: claim a batch (``pending`` → ``sending``, committed), send each
   part under the platform's limits, record every part as it goes out;
3. **finish** messages with no delivery left in flight and report to the office; a message
   that went to nobody (an empty audience, or nothing to say) ends ``skipped``, not ``done``.

Crash safety: a delivery is marked ``sending`` before its first send and every delivered part
is committed right after the platform accepts it. After a kill, :meth:`Outbox.recover` puts
``sending`` rows back to ``pending``; the only part that can go out twice is the one part of
each claimed delivery that was on the wire at the kill, so at most ``batch_size`` messages
(one batch) are repeated, and none is lost. A send that timed out although Telegram delivered
it is retried too, so a timeout can also repeat a message. :meth:`Outbox.recover` assumes one
bot process per database: it puts back every ``sending`` row, whoever claimed it.

No platform tells a bot whether a send it never heard back from arrived, so a delivery caught in
flight keeps ``interrupted_at``: a copy to an office chat sent again says it may be a repeat,
and a delivery that then fails is reported as one that may have arrived, not as plainly failed.
A completion report is queued in the same transaction that closes its message, so a kill at any
point queues it once; only its own send can repeat, as any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.drafts import DraftStatus
from bot.domain.outbound import (
    LATE_AFTER,
    OFFICE_CHANNEL,
    Audience,
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    SkipReason,
    TextPart,
    audience_deadline,
    encode_buttons,
)
from bot.domain.rsvp import RsvpStatus
from schedules.clock import Clock
from schedules.ratelimit import Pacer
from storage import queries
from storage.models import (
    ChannelIdentity,
    Delegate,
    Delivery,
    OutboundMessage,
    Rsvp,
    SpeechAssignment,
    Task,
    TaskAssignment,
)
from storage.uow import unit_of_work

log = logging.getLogger(__name__)

OFFICE_RECIPIENT = "chat:"
# The error a delivery is skipped with when its content for that recipient came out empty.
NOTHING_TO_SEND = "nothing to send"


class ChannelSender(Protocol):
    """A messaging platform, as the outbox uses it."""

    channel: str

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """The parts as this platform sends them (e.g. long text split to its limit)."""
        ...

    async def send(self, address: str, part: Part) -> SendResult:
        """Send one part; never raises for platform errors, answers with a result."""
        ...


@dataclass(frozen=True)
class MessageView:
    """An outbound message as the composer sees it."""

    id: int
    kind: MessageKind
    audience: str
    body: str | None
    params: Mapping[str, Any]
    due_at: datetime | None

    @classmethod
    def of(cls, row: OutboundMessage) -> MessageView:
        """Copy a row."""
        return cls(
            id=row.id,
            kind=MessageKind(row.kind),
            audience=row.audience,
            body=row.body,
            params=dict(row.params or {}),
            due_at=row.due_at,
        )


@dataclass(frozen=True)
class Recipient:
    """A delegate receiving a message, with what personalises it."""

    delegate_id: int
    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    rsvp: RsvpStatus
    substitute_name: str | None


@dataclass(frozen=True)
class Problem:
    """A recipient the office should know about: who, and why they did not get it."""

    code: str
    full_name: str
    error: str | None = None
    # When a stop caught this delivery in flight: the copy on the wire then may have arrived.
    interrupted_at: datetime | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """How a finished message went, for the office."""

    message: MessageView
    counts: Counter[DeliveryStatus]
    failed: list[Problem]
    blocked: list[Problem]
    not_linked: list[Problem]
    late_by: timedelta | None = None
    # Set when the message went to nobody at all: it ends skipped, not sent.
    skipped: SkipReason | None = None


class Composer(Protocol):
    """Writes what the outbox sends (implemented in the core, with the text catalog)."""

    async def content(
        self, message: MessageView, recipient: Recipient | None, *, repeat: bool = False
    ) -> Outbound:
        """The message for one recipient (``None`` for an office chat); ``repeat`` when an
        earlier copy may have arrived (a stop caught it in flight)."""
        ...

    async def completion_report(self, report: DeliveryReport) -> TextPart | None:
        """What to tell the office when a message has gone to everyone it could reach."""
        ...

    def skip_notice(self, message: MessageView, late_by: timedelta) -> TextPart | None:
        """What to tell the office when a message was skipped because its time had passed."""
        ...


@dataclass
class OutboxStats:
    """What the outbox did since it started (for logs, reports and benchmarks)."""

    sent_parts: int = 0
    delivered: int = 0
    rate_limited: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    skipped_messages: int = 0
    recovered: int = 0
    late_messages: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Claimed:
    id: int
    chat_address: str
    channel: str
    parts_sent: int
    attempts: int
    message: MessageView
    recipient: Recipient | None
    interrupted: bool


class Outbox:
    """Queues, sends and reports outbound messages; one instance per process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        senders: Mapping[str, ChannelSender],
        composer: Composer,
        pacer: Pacer,
        *,
        meeting_id: int,
        batch_size: int = 30,
        max_attempts: int = 5,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.senders = senders
        self._composer = composer
        self._pacer = pacer
        self._meeting_id = meeting_id
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.stats = OutboxStats()
        self._stopping = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def recover(self) -> int:
        """After a crash: deliveries that were in flight go back to pending. Returns how many.

        The interrupted attempt does not count towards giving up: a crash is no verdict on the
        message, and a batch of 30 killed mid-drain must not lose a fifth of its tries. Each is
        marked interrupted: what was on the wire at the crash may have arrived.
        """
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            result = await session.execute(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.SENDING)
                .values(
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                    updated_at=now,
                    attempts=case((Delivery.attempts > 0, Delivery.attempts - 1), else_=0),
                    interrupted_at=now,
                )
            )
        recovered = int(getattr(result, "rowcount", 0) or 0)
        if recovered:
            log.warning("recovered %d deliveries that were in flight at the last stop", recovered)
        self.stats.recovered += recovered
        return recovered

    def request_stop(self) -> None:
        """Finish the batch being sent, then send no more (the process is stopping)."""
        self._stopping = True

    async def tick(self) -> None:
        """Queue what fell due, send what is due, report what finished (and send the reports)."""
        if self._stopping:
            return
        await self.queue_due()
        await self.drain()
        if await self.finish():
            await self.drain()

    # --- 1. queue ------------------------------------------------------------------------------

    async def queue_due(self) -> int:
        """Turn due scheduled messages into deliveries; skip those whose window has closed."""
        now = self._clock.now()
        queued = 0
        async with unit_of_work(self._sessions) as session:
            due = await session.scalars(
                select(OutboundMessage)
                .where(
                    OutboundMessage.meeting_id == self._meeting_id,
                    OutboundMessage.status == MessageStatus.SCHEDULED,
                    OutboundMessage.due_at <= now,
                )
                .order_by(OutboundMessage.due_at, OutboundMessage.id)
            )
            for message in list(due):
                assert message.due_at is not None
                late_by = now - message.due_at
                if message.expires_at is not None and now > message.expires_at:
                    message.status = MessageStatus.SKIPPED
                    message.finished_at = now
                    message.params = {
                        **(message.params or {}),
                        "skip_reason": SkipReason.WINDOW_CLOSED.value,
                    }
                    self.stats.skipped_messages += 1
                    log.warning(
                        "skipped %s message %d: due %s, window closed %s",
                        message.kind,
                        message.id,
                        message.due_at,
                        message.expires_at,
                    )
                    notice = self._composer.skip_notice(MessageView.of(message), late_by)
                    if notice is not None and message.report_to:
                        await self._add_office_note(session, notice, message.report_to, now)
                    continue
                if late_by > LATE_AFTER:
                    self.stats.late_messages += 1
                    log.warning(
                        "%s message %d is late by %s (the bot was not running at its time)",
                        message.kind,
                        message.id,
                        late_by,
                    )
                    late = int(late_by.total_seconds())
                    message.params = {**(message.params or {}), "late_seconds": late}
                await self._add_deliveries(session, message, now)
                message.status = MessageStatus.QUEUED
                message.queued_at = now
                queued += 1
        return queued

    async def _add_deliveries(
        self, session: AsyncSession, message: OutboundMessage, now: datetime
    ) -> None:
        if message.audience.partition(":")[0] == Audience.OFFICE:
            assert message.report_to is not None
            session.add(office_delivery(message.id, message.report_to, now))
            return
        for delegate, ident in await self._recipients_of(session, message.audience):
            status = DeliveryStatus.PENDING
            if ident is None:
                status = DeliveryStatus.NOT_LINKED
            elif ident.unreachable_at is not None:
                status = DeliveryStatus.BLOCKED
            session.add(
                Delivery(
                    message_id=message.id,
                    delegate_id=delegate.id,
                    recipient=f"delegate:{delegate.id}",
                    channel=ident.channel if ident else None,
                    chat_address=ident.chat_address if ident else None,
                    status=status,
                    attempts=0,
                    parts_sent=0,
                    next_attempt_at=now if status is DeliveryStatus.PENDING else None,
                    last_error=ident.unreachable_reason
                    if status is DeliveryStatus.BLOCKED and ident
                    else None,
                    created_at=now,
                    updated_at=now,
                )
            )

    async def _recipients_of(
        self, session: AsyncSession, audience: str
    ) -> list[tuple[Delegate, ChannelIdentity | None]]:
        kind, _, key = audience.partition(":")
        if kind == Audience.PERSON:
            person = await session.get(Delegate, int(key)) if key.isdigit() else None
            if person is None or person.meeting_id != self._meeting_id:
                return []
            ident = await queries.identity_of_delegate(session, person.id, OFFICE_CHANNEL)
            return [(person, ident)]
        if kind == Audience.DRAFT_MISSING:
            query = (
                select(Delegate, ChannelIdentity)
                .join(SpeechAssignment, SpeechAssignment.person_id == Delegate.id)
                .outerjoin(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
                .where(
                    SpeechAssignment.meeting_id == self._meeting_id,
                    SpeechAssignment.status == DraftStatus.WAITING,
                    SpeechAssignment.withdrawn_at.is_(None),
                )
                .order_by(Delegate.rank, Delegate.code)
            )
            if (deadline := audience_deadline(audience)) is not None:
                query = query.where(SpeechAssignment.deadline_at == deadline)
            return _one_per_person((await session.execute(query)).all())
        if kind == Audience.TASK:
            # Assignees who have not reported the task done, while it is open.
            rows = await session.execute(
                select(Delegate, ChannelIdentity)
                .join(TaskAssignment, TaskAssignment.person_id == Delegate.id)
                .join(Task, Task.id == TaskAssignment.task_id)
                .outerjoin(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
                .where(
                    Task.meeting_id == self._meeting_id,
                    Task.key == key,
                    Task.archived_at.is_(None),
                    Task.closed_at.is_(None),
                    TaskAssignment.status != "done",
                )
            )
            return _one_per_person(rows.all())
        return [
            (delegate, ident)
            for delegate, rsvp, ident in await queries.roster(session, self._meeting_id)
            if in_audience(audience, delegate, rsvp, ident)
        ]

    async def _add_office_note(
        self, session: AsyncSession, note: TextPart, address: str, now: datetime
    ) -> None:
        """Queue a note to an office chat; the same drain sends it."""
        await queue_office_note(
            session,
            meeting_id=self._meeting_id,
            address=address,
            now=now,
            body=note.html,
            params={"buttons": encode_buttons(note.buttons)},
        )

    # --- 2. drain ------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Send every due delivery, batch by batch, until none is due."""
        while not self._stopping and (batch := await self._claim()):
            await asyncio.gather(*(self._deliver(item) for item in batch))

    async def _claim(self) -> list[_Claimed]:
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            await self._skip_expired(session, now)
            rows = (
                await session.execute(
                    select(Delivery, OutboundMessage)
                    .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING,
                        Delivery.next_attempt_at <= now,
                    )
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(self.batch_size)
                    # Row locks for PostgreSQL (a no-op on SQLite). Sharing one outbox between
                    # processes also needs recover() to know who claimed what; it does not yet.
                    .with_for_update(skip_locked=True, of=Delivery)
                )
            ).all()
            if not rows:
                return []
            delegate_ids = [d.delegate_id for d, _ in rows if d.delegate_id is not None]
            recipients = await _recipients(session, delegate_ids)
            claimed = []
            for delivery, message in rows:
                delivery.status = DeliveryStatus.SENDING
                delivery.attempts += 1
                delivery.updated_at = now
                assert delivery.chat_address is not None and delivery.channel is not None
                claimed.append(
                    _Claimed(
                        id=delivery.id,
                        chat_address=delivery.chat_address,
                        channel=delivery.channel,
                        parts_sent=delivery.parts_sent,
                        attempts=delivery.attempts,
                        message=MessageView.of(message),
                        recipient=recipients.get(delivery.delegate_id or 0),
                        interrupted=delivery.interrupted_at is not None,
                    )
                )
            return claimed

    async def _skip_expired(self, session: AsyncSession, now: datetime) -> None:
        expired = select(OutboundMessage.id).where(
            OutboundMessage.status == MessageStatus.QUEUED,
            OutboundMessage.expires_at.is_not(None),
            OutboundMessage.expires_at < now,
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.message_id.in_(expired))
            .values(status=DeliveryStatus.SKIPPED, updated_at=now, last_error="window closed")
        )

    async def _deliver(self, item: _Claimed) -> None:
        """Send one delivery; whatever goes wrong ends in a recorded state, never 'sending'."""
        try:
            await self._send_parts(item)
        except Exception as exc:  # a bug here must not stall the outbox or strand the row
            log.exception("delivery %d of message %d failed", item.id, item.message.id)
            self.stats.failed += 1
            await self._finish_delivery(item.id, DeliveryStatus.FAILED, error=type(exc).__name__)

    async def _send_parts(self, item: _Claimed) -> None:
        sender = self.senders[item.channel]
        # Only a first part can be a repeat the recipient would read as one: a later part
        # resumes where the recorded ones stopped.
        repeat = item.interrupted and item.parts_sent == 0
        outbound = await self._composer.content(item.message, item.recipient, repeat=repeat)
        parts = sender.prepare(outbound)
        if not parts:  # e.g. an overdue report on a morning when nothing is overdue
            await self._finish_delivery(item.id, DeliveryStatus.SKIPPED, error=NOTHING_TO_SEND)
            return
        if item.parts_sent >= len(parts):
            # The content shrank since its first parts went out (a speaker's reminder lists one
            # theme fewer once a draft arrived): what is left to send is nothing.
            await self._record_part(item.id, item.parts_sent, len(parts), None)
            return
        for index in range(item.parts_sent, len(parts)):
            async with self._pacer.slot(item.chat_address):
                result = await sender.send(item.chat_address, parts[index])
            if result.outcome is not SendOutcome.SENT:
                await self._handle_failure(item, result)
                return
            self.stats.sent_parts += 1
            await self._record_part(item.id, index + 1, len(parts), result.platform_message_id)

    async def _record_part(
        self, delivery_id: int, parts_sent: int, total: int, platform_id: str | None
    ) -> None:
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            delivery = await session.get_one(Delivery, delivery_id)
            delivery.parts_sent = parts_sent
            delivery.updated_at = now
            if delivery.platform_message_id is None:
                delivery.platform_message_id = platform_id
            if parts_sent >= total:
                delivery.status = DeliveryStatus.SENT
                delivery.sent_at = now
                delivery.last_error = None
                self.stats.delivered += 1

    async def _handle_failure(self, item: _Claimed, result: SendResult) -> None:
        now = self._clock.now()
        error = (result.error or result.outcome.value)[:300]
        self.stats.errors[result.outcome.value] += 1
        if result.outcome is SendOutcome.RATE_LIMITED:
            wait = max(result.retry_after or 1.0, 1.0)
            self._pacer.pause(wait)
            self.stats.rate_limited += 1
            log.warning("rate limited by the platform: pausing all sends for %.0f s", wait)
            # Not the recipient's fault: the attempt does not count towards giving up.
            await self._retry(item.id, now + timedelta(seconds=wait), error, count_attempt=False)
        elif result.outcome is SendOutcome.TRANSIENT and item.attempts < self.max_attempts:
            self.stats.retried += 1
            backoff = timedelta(seconds=min(2**item.attempts, 300))
            await self._retry(item.id, now + backoff, error, count_attempt=True)
        elif result.outcome is SendOutcome.BLOCKED:
            self.stats.blocked += 1
            await self._finish_delivery(
                item.id, DeliveryStatus.BLOCKED, error=error, unreachable=True
            )
        else:
            self.stats.failed += 1
            await self._finish_delivery(item.id, DeliveryStatus.FAILED, error=error)

    async def _retry(
        self, delivery_id: int, when: datetime, error: str, *, count_attempt: bool
    ) -> None:
        async with unit_of_work(self._sessions) as session:
            delivery = await session.get_one(Delivery, delivery_id)
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = when
            delivery.last_error = error
            delivery.updated_at = self._clock.now()
            if not count_attempt:
                delivery.attempts -= 1

    async def _finish_delivery(
        self, delivery_id: int, status: DeliveryStatus, *, error: str, unreachable: bool = False
    ) -> None:
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            delivery = await session.get_one(Delivery, delivery_id)
            delivery.status = status
            delivery.last_error = error
            delivery.updated_at = now
            if unreachable and delivery.delegate_id is not None and delivery.channel:
                ident = await queries.identity_of_delegate(
                    session, delivery.delegate_id, delivery.channel
                )
                if ident is not None and ident.unreachable_at is None:
                    ident.unreachable_at = now
                    ident.unreachable_reason = error
                    log.info(
                        "delegate %d is unreachable on %s", delivery.delegate_id, delivery.channel
                    )

    # --- 3. finish -----------------------------------------------------------------------------

    async def finish(self) -> int:
        """Close messages whose deliveries are all final and queue their reports; returns how
        many reports were queued.

        A message that went to nobody at all (no one in its audience, or nothing to say to
        anyone) is closed as skipped, with the reason, not as sent. Reports are composed between
        two transactions: the composer may read the database itself, and SQLite has one writer
        at a time.
        """
        reports = await self._finished_reports()
        notes = [(report, await self._composer.completion_report(report)) for report in reports]
        now = self._clock.now()
        added = 0
        async with unit_of_work(self._sessions) as session:
            for report, note in notes:
                message = await session.get_one(OutboundMessage, report.message.id)
                if message.status != MessageStatus.QUEUED:
                    continue  # another process finished it meanwhile
                message.status = MessageStatus.DONE
                if report.skipped is not None:
                    message.status = MessageStatus.SKIPPED
                    message.params = {
                        **(message.params or {}),
                        "skip_reason": report.skipped.value,
                    }
                message.finished_at = now
                if note is not None and message.report_to:
                    await self._add_office_note(session, note, message.report_to, now)
                    added += 1
        return added

    async def _finished_reports(self) -> list[DeliveryReport]:
        async with unit_of_work(self._sessions) as session:
            queued = list(
                await session.scalars(
                    select(OutboundMessage).where(
                        OutboundMessage.meeting_id == self._meeting_id,
                        OutboundMessage.status == MessageStatus.QUEUED,
                    )
                )
            )
            reports = []
            for message in queued:
                rows = (
                    await session.execute(
                        select(Delivery, Delegate)
                        .outerjoin(Delegate, Delegate.id == Delivery.delegate_id)
                        .where(Delivery.message_id == message.id)
                    )
                ).all()
                counts: Counter[DeliveryStatus] = Counter(DeliveryStatus(d.status) for d, _ in rows)
                if any(not status.is_final for status in counts):
                    continue
                late = (message.params or {}).get("late_seconds", 0)
                reports.append(
                    DeliveryReport(
                        message=MessageView.of(message),
                        counts=counts,
                        failed=_problems(rows, DeliveryStatus.FAILED),
                        blocked=_problems(rows, DeliveryStatus.BLOCKED),
                        not_linked=_problems(rows, DeliveryStatus.NOT_LINKED),
                        late_by=timedelta(seconds=late) if late else None,
                        skipped=_reached_nobody(rows),
                    )
                )
            return reports


def office_delivery(message_id: int, address: str, now: datetime) -> Delivery:
    """The one delivery of a message to an office chat."""
    return Delivery(
        message_id=message_id,
        delegate_id=None,
        recipient=f"{OFFICE_RECIPIENT}{address}",
        channel=OFFICE_CHANNEL,
        chat_address=address,
        status=DeliveryStatus.PENDING,
        attempts=0,
        parts_sent=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def queue_office_note(
    session: AsyncSession,
    *,
    meeting_id: int,
    address: str,
    now: datetime,
    body: str | None,
    params: dict[str, Any],
    kind: MessageKind = MessageKind.OFFICE_NOTE,
) -> None:
    """Queue a note to an office chat in the caller's transaction; the outbox sends it.

    ``body`` is ready HTML, or None with ``params`` naming a catalog ``template`` and its
    ``values`` (so services queue notes without writing prose).
    """
    message = OutboundMessage(
        meeting_id=meeting_id,
        kind=kind,
        status=MessageStatus.QUEUED,
        audience=Audience.OFFICE,
        body=body,
        params=params,
        due_at=now,
        created_by="system",
        report_to=None,
        created_at=now,
        queued_at=now,
    )
    session.add(message)
    await session.flush()
    session.add(office_delivery(message.id, address, now))


def _one_per_person(
    rows: Sequence[Any],
) -> list[tuple[Delegate, ChannelIdentity | None]]:
    """One recipient per person, however many assignments or accounts the join found."""
    seen: set[int] = set()
    unique: list[tuple[Delegate, ChannelIdentity | None]] = []
    for delegate, ident in rows:
        if delegate.id not in seen:
            seen.add(delegate.id)
            unique.append((delegate, ident))
    return unique


async def queue_to_person(
    session: AsyncSession,
    *,
    meeting_id: int,
    kind: MessageKind,
    person_id: int,
    now: datetime,
    params: dict[str, Any],
    report_to: str | None,
) -> None:
    """Queue a message to one person in the caller's transaction; the next tick sends it (or
    records that the person has not linked an account or cannot be reached)."""
    session.add(
        OutboundMessage(
            meeting_id=meeting_id,
            kind=kind,
            status=MessageStatus.SCHEDULED,
            audience=f"{Audience.PERSON}:{person_id}",
            params=params,
            due_at=now,
            created_by="system",
            report_to=report_to,
            created_at=now,
        )
    )


def in_audience(
    audience: str, delegate: Delegate, rsvp: Rsvp, ident: ChannelIdentity | None
) -> bool:
    """Whether a delegate belongs to an audience (linked or not: the caller decides that)."""
    status = RsvpStatus(rsvp.status)
    kind, _, group = audience.partition(":")
    match Audience(kind):
        case Audience.LINKED:
            return ident is not None
        case Audience.ATTENDING:
            return status is RsvpStatus.ATTENDING
        case Audience.PRESENT:
            return status.is_present
        case Audience.NO_ANSWER:
            return status is RsvpStatus.NO_ANSWER
        case Audience.DECLINED:
            return status is RsvpStatus.DECLINED
        case Audience.GROUP:
            return delegate.group_key == group
        case Audience.OFFICE | Audience.TASK | Audience.PERSON | Audience.DRAFT_MISSING:
            return False


async def _recipients(session: AsyncSession, delegate_ids: list[int]) -> dict[int, Recipient]:
    if not delegate_ids:
        return {}
    rows = await session.execute(
        select(Delegate, Rsvp)
        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
        .where(Delegate.id.in_(delegate_ids))
    )
    return {
        delegate.id: Recipient(
            delegate_id=delegate.id,
            code=delegate.code,
            full_name=delegate.full_name,
            position=delegate.position,
            organization=delegate.organization,
            group_key=delegate.group_key,
            rsvp=RsvpStatus(rsvp.status),
            substitute_name=rsvp.substitute_name,
        )
        for delegate, rsvp in rows.all()
    }


def _reached_nobody(rows: Sequence[Any]) -> SkipReason | None:
    """Why a finished message went to nobody at all; None if it went, or was meant to go, to
    someone (a copy sent, failed, blocked, or waiting for a person to link)."""
    if not rows:
        return SkipReason.NO_RECIPIENTS
    if all(
        delivery.status == DeliveryStatus.SKIPPED and delivery.last_error == NOTHING_TO_SEND
        for delivery, _ in rows
    ):
        return SkipReason.NOTHING_TO_SEND
    return None


def _problems(rows: Sequence[Any], status: DeliveryStatus) -> list[Problem]:
    return [
        Problem(
            code=delegate.code,
            full_name=delegate.full_name,
            error=delivery.last_error,
            interrupted_at=delivery.interrupted_at,
        )
        for delivery, delegate in rows
        if delivery.status == status and delegate is not None
    ]
