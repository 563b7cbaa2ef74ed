"""The outbox: every message the bot sends to more than one person goes through here.

The outbox does three things, every few seconds (:mod:`schedules.scheduler` pulses it):

1. **queue** messages that fell due: pick their recipients now, one delivery row each
   (``not_linked`` for delegates who never opened their link, ``blocked`` for those known
   to have blocked the bot); a message past its window is skipped and the skip reported; of
   several reminders of one series due at once (after a stop) only the newest goes;
2. **drain** due deliveries: claim a batch (``pending`` → ``sending``, committed), send each
   part under the platform's limits, record every part as it goes out; a reminder whose point
   passed while it waited (the task reported done, the answer given) is skipped as claimed;
3. **finish** messages with no delivery left in flight and report to the office; a message
   that went to nobody (an empty audience, nothing to say, or every copy ran out: its window
   closed while the bot was stopped mid-send) ends ``skipped``, not ``done``.

A pulse (:meth:`Outbox.pulse`) queues and finishes, then leaves each channel with something due
draining in the background: no channel waits for another's round, and a reminder falls due at
its time even while a 10,000-person notice is being sent. :meth:`Outbox.tick` does the same
three and waits for the sending (the rehearsal, the tests).

Crash safety: a delivery is marked ``sending`` before its first send and every delivered part
is committed right after the platform accepts it. After a kill, :meth:`Outbox.recover` puts
``sending`` rows back to ``pending``; the only part that can go out twice is the one part of
each claimed delivery that was on the wire at the kill. Each channel has its own places in hand
(``batch_size`` claimed deliveries at most, so a slow channel never keeps a fast one waiting),
so at most ``batch_size`` messages per channel are repeated — ``batch_size`` × the number of
channels with something due at the kill — and none is lost. A send that timed out although
the platform delivered it is retried too (once more at most where the sender says it may have
gone, below), so a timeout can also repeat a message.
:meth:`Outbox.recover` takes back every ``sending`` row of its meeting when the outbox is alone
on that meeting (SQLite, where the database guard lets one ``hoinghi run`` of a meeting at a time).

Several processes, one outbox (``shared``, PostgreSQL): a claim is a lease. The batch is picked
with ``SELECT … FOR UPDATE SKIP LOCKED`` (two processes never pick the same row) and marked, in
the same transaction, with its claimant (``host:pid:random``) and ``lease_until``; the claimant
renews its leases every third of the lease while it sends. Recovery, at start and at every tick,
takes back only rows whose lease expired: a kill costs the rows it held one lease of waiting
(and at most one repeated part each, as above), while the other processes go on sending; a
process never takes back a live one's batch. Messages are queued and closed under row locks too,
so a message is queued once and reported once whichever process gets there first.

No platform tells a bot whether a send it never heard back from arrived, so a delivery caught in
flight keeps ``interrupted_at``: a copy to an office chat sent again says it may be a repeat,
and a delivery that then fails is reported as one that may have arrived, not as plainly failed.
A send whose request went out and got no answer (``maybe_sent``: a Zalo or Telegram read
timeout, a proxy's 5xx page) is tried once more at most, the delivery keeping
``maybe_sent_at``: a second such send ends it failed, reported as one that may have arrived —
at most two copies the person may read, not one per attempt (``max_attempts``, 10).
A completion report is queued in the same transaction that closes its message, so a kill at any
point queues it once; only its own send can repeat, as any other.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.domain.channels import ChannelInfo
from bot.domain.clock import Clock
from bot.domain.outbound import (
    LATE_AFTER,
    MENUS_TOGETHER,
    OFFICE_PLACE,
    RAN_OUT,
    WAITED_FOR_LIST,
    WITHDRAWN_HOLDS_BACK,
    Audience,
    Button,
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    SendOutcome,
    SendResult,
    SkipReason,
    TextPart,
    VenuePart,
    encode_buttons,
    waits_for_a_list,
)
from bot.domain.ports import (
    Audiences,
    ChannelSender,
    Composer,
    DeliveryReport,
    MessageView,
    Problem,
    Recipient,
)
from bot.domain.reminders import (
    TO_THOSE_WHO_COME,
    reminder_series,
    waits_for_morning,
    waking_day_end,
)
from bot.domain.rsvp import RsvpStatus, read_days
from bot.domain.tasks import TaskStatus
from schedules.ratelimit import Pacer
from storage import queries
from storage.models import (
    Checkin,
    Delegate,
    Delivery,
    OutboundMessage,
    Rsvp,
    Task,
    TaskAssignment,
)
from storage.uow import read_only, unit_of_work

log = logging.getLogger(__name__)

OFFICE_RECIPIENT = "chat:"
# A check-in's kind when a substitute came in the invitee's place (ArrivalKind.SUBSTITUTE).
SUBSTITUTE_ARRIVAL = "substitute"
DELIVERY_TABLE: Table = Delivery.__table__  # type: ignore[assignment]
# The error a delivery is skipped with when its content for that recipient came out empty.
NOTHING_TO_SEND = "nothing to send"
# The error a delivery is skipped with when the office withdrew its recipient's invitation.
WITHDRAWN = SkipReason.WITHDRAWN.value
# The reminders whose copy skipped with NOTHING_TO_SEND was skipped because what it asks for
# was done while it waited (see :func:`_answered`): the office is told who, not just how many.
ANSWERABLE_KINDS = frozenset({MessageKind.RSVP_REMINDER, MessageKind.TASK_REMINDER})
# The key of those recipients in :func:`_problems`.
ANSWERED = "answered"

# How long a claim holds without renewal (renewed every third of it while the batch is sent).
LEASE = timedelta(seconds=30)


def claimant_id() -> str:
    """This process as a claimant of deliveries: ``host:pid:random`` (a pid is reused after a
    restart, the random part is not)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def message_view(row: OutboundMessage) -> MessageView:
    """An outbound message row as the composer sees it."""
    return MessageView(
        id=row.id,
        kind=MessageKind(row.kind),
        audience=row.audience,
        body=row.body,
        params=dict(row.params or {}),
        due_at=row.due_at,
        number=row.number,
    )


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
    # Every part handed to a channel, by (channel, message kind, outcome): bot.metrics reads it.
    sends: Counter[tuple[str, str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Part:
    """A part the platform accepted, to be recorded."""

    delivery_id: int
    parts_sent: int
    total: int
    platform_id: str | None
    menu: tuple[tuple[Button, ...], ...]


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
    maybe_sent: bool = False  # a send of it got no answer after its request went out


class Outbox:
    """Queues, sends and reports outbound messages; one instance per process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        senders: Mapping[str, ChannelSender],
        composer: Composer,
        audiences: Audiences,
        pacer: Pacer | Mapping[str, Pacer],
        *,
        meeting_id: int,
        batch_size: int = 30,
        max_attempts: int = 10,
        shared: bool = False,
        lease: timedelta = LEASE,
        zone: ZoneInfo | None = None,
    ) -> None:
        self._sessions = sessions
        # The meeting's zone, whose night a reminder caught up late waits out (None: none does).
        self._zone = zone
        # Whether other processes drain the same outbox (PostgreSQL): recovery then takes back
        # only expired leases, and leases are renewed while a batch is sent.
        self.shared = shared
        self.lease = lease
        self.claimant = claimant_id()
        self._recovered_at: datetime | None = None
        self._clock = clock
        self.senders = senders
        self._composer = composer
        self._audiences = audiences
        # One budget per channel (per bot), shared with that channel's replies; or one for all.
        self._pacers: Mapping[str, Pacer] = {} if isinstance(pacer, Pacer) else pacer
        self._pacer = pacer if isinstance(pacer, Pacer) else None
        self._meeting_id = meeting_id
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.stats = OutboxStats()
        self._stopping = False
        self._to_record: list[tuple[_Part, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        # The channels draining in the background since a pulse, each until nothing is due,
        # and who is told when one ends (the scheduler, to close and report at once).
        self._draining: dict[str, asyncio.Task[bool]] = {}
        self._drained_listeners: list[Callable[[], None]] = []

    # --- lifecycle -----------------------------------------------------------------------------

    def _messages(self) -> Select[int]:
        """The ids of this meeting's outbound messages (several meetings may share the
        database, each drained by its own process)."""
        return select(OutboundMessage.id).where(OutboundMessage.meeting_id == self._meeting_id)

    async def recover(self) -> int:
        """After a crash: deliveries that were in flight go back to pending. Returns how many.

        Alone on its meeting, every ``sending`` row of it was this outbox's before the crash;
        shared, only rows whose lease expired (or that carry none) are taken back: the others
        belong to live processes that renew them.

        The interrupted attempt does not count towards giving up: a crash is no verdict on the
        message, and a batch of 30 killed mid-drain must not lose a fifth of its tries. Each is
        marked interrupted: what was on the wire at the crash may have arrived.
        """
        now = self._clock.now()
        expired = (
            (Delivery.lease_until.is_(None) | (Delivery.lease_until <= now),) if self.shared else ()
        )
        async with unit_of_work(self._sessions) as session:
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.SENDING,
                    *expired,
                    # Another meeting's process sharing the database may be sending its own.
                    Delivery.message_id.in_(self._messages()),
                )
                .values(
                    claimed_by=None,
                    lease_until=None,
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

    @property
    def stopping(self) -> bool:
        """Whether the process asked the outbox to stop."""
        return self._stopping

    def request_stop(self) -> None:
        """Finish the batch being sent, then send no more (the process is stopping)."""
        self._stopping = True

    async def pulse(self) -> None:
        """Queue what fell due, report what finished, and leave each channel with something due
        sending in the background; return without waiting for any send.

        A channel already draining goes on, and takes what fell due for it as it claims its next
        batch; a channel that had finished starts again. So a channel finishing its round does
        not wait for a slower one's (Zalo's 5 a second), and the pulse after this one, a few
        seconds later, queues what falls due then, however long a round lasts. A channel's drain
        that fails is logged, and the next pulse goes on with what is due (a delivery whose end
        could not be recorded stays ``sending`` until the next start, as after a crash).
        """
        await self._cycle(self._start_drains)

    async def _start_drains(self) -> None:
        """A drain in the background for each channel with something due that has none."""
        for channel in await self._due_channels():
            if self._stopping:
                return
            if channel not in self._draining:
                draining = asyncio.create_task(self._drain_channel(channel))
                self._draining[channel] = draining
                draining.add_done_callback(functools.partial(self._drained, channel))

    def when_drained(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever a channel's drain started by a pulse has sent all that was
        due: its messages may be finished, and are best reported now than at the next tick."""
        self._drained_listeners.append(listener)

    def _drained(self, channel: str, draining: asyncio.Task[bool]) -> None:
        """``channel``'s drain since a pulse ended: forget it, say why if it failed, and tell
        the listeners if it sent something (a failure waits for the next tick, as does a drain
        that found nothing to claim: pulsing again at once could find the same)."""
        if self._draining.get(channel) is draining:
            del self._draining[channel]
        failure = _outcome(draining)
        if failure is None:
            if draining.result():
                for listener in self._drained_listeners:
                    listener()
        elif not isinstance(failure, asyncio.CancelledError):
            log.error(
                "sending on %s stopped; the next pulse goes on with what is due",
                channel,
                exc_info=failure,
            )

    def draining(self) -> list[asyncio.Task[bool]]:
        """The channels' drains a pulse left running (what stopping waits for)."""
        return list(self._draining.values())

    async def tick(self) -> None:
        """Queue what fell due, send what is due, report what finished (and send the reports),
        and return once all is sent: a pulse that waits (the rehearsal, the tests)."""
        await self._cycle(self.drain)

    async def _cycle(self, send: Callable[[], Awaitable[object]]) -> None:
        """Queue, ``send`` (wait for the sending, or start it), report what finished, and
        ``send`` the reports: a pulse's steps and a tick's, which differ only in ``send``."""
        if self._stopping:
            return
        if self.shared:  # a process killed meanwhile left its leases to expire
            await self.recover()
        await self.queue_due()
        await send()
        if await self.finish():  # its reports to the office
            await send()

    # --- 1. queue ------------------------------------------------------------------------------

    async def queue_due(self) -> int:
        """Turn due scheduled messages into deliveries; skip those whose window has closed, and
        the older reminders of a series that fell due together (only the newest goes).

        Before any list is imported the plan's messages to people wait, scheduled (the office
        often starts the bot first): they go at the first tick with a list, if their window is
        still open; one whose window closes first is skipped as having had nobody to go to.
        """
        now = self._clock.now()
        queued = waiting = 0
        listed: dict[str, bool] = {}  # whether each audience's list is in, asked once a tick
        async with unit_of_work(self._sessions) as session:
            due = await session.scalars(
                select(OutboundMessage)
                .where(
                    OutboundMessage.meeting_id == self._meeting_id,
                    OutboundMessage.status == MessageStatus.SCHEDULED,
                    OutboundMessage.due_at <= now,
                )
                .order_by(OutboundMessage.due_at, OutboundMessage.id)
                # Another process queueing the same message skips it (PostgreSQL; SQLite has
                # one writer at a time anyway).
                .with_for_update(skip_locked=True)
            )
            messages = list(due)
            newest = _newest_of_each_series([m for m in messages if not _window_closed(m, now)])
            # A message that fell due with nobody to send it to (no list imported yet, no one
            # left in its audience, no chat to reach the office on) missed no one: its skip or
            # lateness is not worth a warning each, only one line for them all.
            to_nobody: Counter[str] = Counter()
            for message in messages:
                assert message.due_at is not None
                waited = _waited_for_list(message)
                # Late by the time the bot was not running, not by the time it waited for a list.
                late_by = (waited or now) - message.due_at
                if message.kind == MessageKind.BROADCAST and message.number is None:
                    # A notice put in the outbox some other way than the office's confirmation
                    # (a script writing rows): it is called by a number like every other, the
                    # meeting's next, never by its row's id.
                    message.number = await queries.next_notice_number(session, self._meeting_id)
                if _window_closed(message, now) and waited is not None:
                    # Its window was open while the bot ran with no list: it had nobody to go
                    # to, as a message with an empty audience (not a skip for the bot's stop).
                    self._mark_skipped(message, SkipReason.NO_RECIPIENTS, now)
                    to_nobody["skipped"] += 1  # counted in the tick's one line
                    log.debug(
                        "skipped %s message %d: due %s, window closed %s before a list came",
                        message.kind,
                        message.id,
                        message.due_at,
                        message.expires_at,
                    )
                    continue
                if _window_closed(message, now):
                    self._mark_skipped(message, SkipReason.WINDOW_CLOSED, now)
                    nobody = not await self._reaches_anyone(session, message)
                    to_nobody["skipped"] += nobody
                    log.log(
                        logging.DEBUG if nobody else logging.WARNING,
                        "skipped %s message %d: due %s, window closed %s",
                        message.kind,
                        message.id,
                        message.due_at,
                        message.expires_at,
                    )
                    notice = self._composer.skip_notice(message_view(message), late_by)
                    if notice is not None and message.report_to:
                        await self._add_office_note(session, notice, message.report_to, now)
                    continue
                if waits_for_a_list(message.created_by, message.audience):
                    audience = message.audience
                    if audience not in listed:
                        listed[audience] = await self._audiences.has_list(session, audience)
                    if not listed[audience]:
                        if waited is None:
                            params = {**(message.params or {}), WAITED_FOR_LIST: now.isoformat()}
                            message.params = params
                            waiting += 1
                        continue
                if late_by > LATE_AFTER and self._sleeps_until_morning(message, now):
                    # Released at 07:00 it would come an hour before the next of its series
                    # (08:00), each with a report: the later one says it all, as when both
                    # fall due together.
                    later = await self._next_of_series_by_evening(session, message, now)
                    if later is not None:
                        self._overtaken(message, later, now)
                    continue  # else still scheduled: the first tick of the morning takes it
                instead = newest.get(message.id)
                if instead is not None:
                    # Caught up after a stop: the same reminder twice in a row, and a late
                    # report for each, would only confuse; the newest says it all, and its
                    # report says how late it went. This one shows in the report file.
                    self._overtaken(message, instead, now)
                    continue
                if late_by > LATE_AFTER:
                    self.stats.late_messages += 1
                    late = int(late_by.total_seconds())
                    message.params = {**(message.params or {}), "late_seconds": late}
                added = await self._add_deliveries(session, message, now)
                if late_by > LATE_AFTER:
                    to_nobody["late"] += not added
                    log.log(
                        logging.WARNING if added else logging.DEBUG,
                        "%s message %d is late by %s (the bot was not running at its time)",
                        message.kind,
                        message.id,
                        late_by,
                    )
                message.status = MessageStatus.QUEUED
                message.queued_at = now
                queued += 1
        if to_nobody.total():
            log.info(
                "%d messages fell due with nobody to send them to (no list imported yet, no one"
                " in their audience or no chat to the office): %d skipped as their window had"
                " closed, %d late",
                to_nobody.total(),
                to_nobody["skipped"],
                to_nobody["late"],
            )
        if waiting:
            log.info(
                "%d of the plan's messages fell due before any list: they wait for it", waiting
            )
        return queued

    async def _reaches_anyone(self, session: AsyncSession, message: OutboundMessage) -> bool:
        """Whether a message would have had anyone to go to now (people of its audience, on a
        chat or not; the office on a chat). One row looked for, not the audience read: only a
        log line's level hangs on it."""
        if message.audience.partition(":")[0] == Audience.OFFICE:
            place = message.report_to or OFFICE_PLACE
            return bool(await self._audiences.places(session, place, self.senders))
        return await self._audiences.anyone(session, message.audience)

    def _mark_skipped(self, message: OutboundMessage, reason: SkipReason, now: datetime) -> None:
        """Close a message nobody was sent, keeping why."""
        message.status = MessageStatus.SKIPPED
        message.finished_at = now
        message.params = {**(message.params or {}), "skip_reason": reason.value}
        self.stats.skipped_messages += 1

    async def _add_deliveries(
        self, session: AsyncSession, message: OutboundMessage, now: datetime
    ) -> int:
        """A delivery row for each recipient of ``message``; how many."""
        if message.audience.partition(":")[0] == Audience.OFFICE:
            place = message.report_to or OFFICE_PLACE
            places = await self._audiences.places(session, place, self.senders)
            for channel, address in places:
                session.add(office_delivery(message.id, channel, address, now))
            return len(places)
        rows: list[dict[str, Any]] = []
        # The morning programme is a day's (its ``day``, else the first): to those who come
        # that day (a meeting of several days; an answer «tham dự» may name its days).
        day = None
        if message.kind == MessageKind.MORNING_AGENDA:
            day = int((message.params or {}).get("day") or 1)
        people = await self._audiences.people(session, message.audience, self.senders, day=day)
        for person in people:
            account = person.accounts[0] if person.accounts else None
            if account is None:
                status = DeliveryStatus.NOT_LINKED
            elif account.reachable:
                status = DeliveryStatus.PENDING
            else:
                status = DeliveryStatus.BLOCKED
            rows.append(
                {
                    "message_id": message.id,
                    "delegate_id": person.delegate_id,
                    "recipient": f"delegate:{person.delegate_id}",
                    "channel": account.channel if account else None,
                    "chat_address": account.chat_address if account else None,
                    "status": status.value,
                    "attempts": 0,
                    "parts_sent": 0,
                    "next_attempt_at": now if status is DeliveryStatus.PENDING else None,
                    "last_error": account.unreachable_reason
                    if account and status is DeliveryStatus.BLOCKED
                    else None,
                    "interrupted_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if rows:
            # Plain rows in one executemany, past the ORM: 10,000 recipients are 10,000 dicts,
            # not 10,000 objects for the session to track until the transaction ends.
            connection = await session.connection()
            await connection.execute(insert(DELIVERY_TABLE), rows)
        return len(rows)

    async def _add_office_note(
        self, session: AsyncSession, note: TextPart, report_to: str, now: datetime
    ) -> None:
        """Queue a note to the office chats ``report_to`` names; the same drain sends it."""
        message = OutboundMessage(
            meeting_id=self._meeting_id,
            kind=MessageKind.OFFICE_NOTE,
            status=MessageStatus.QUEUED,
            audience=Audience.OFFICE,
            body=note.html,
            params={"buttons": encode_buttons(note.buttons)},
            due_at=now,
            created_by="system",
            report_to=report_to,
            created_at=now,
            queued_at=now,
        )
        session.add(message)
        await session.flush()
        await self._add_deliveries(session, message, now)

    # --- 2. drain ------------------------------------------------------------------------------

    def pacer(self, channel: str) -> Pacer:
        """The budget ``channel``'s sends draw on."""
        if self._pacer is not None:
            return self._pacer
        return self._pacers[channel]

    async def drain(self) -> None:
        """Send every due delivery until none is due, each channel at its own pace.

        Each channel with something due has its own places in hand (``batch_size`` deliveries
        claimed, ``sending``, at most) and its own pacer: a slow channel (Zalo, 5 a second)
        holding its places does not keep a fast one (Telegram, 30) waiting for a place. When
        every channel is done, one more round looks for what fell due meanwhile on a channel
        that had finished (a delivery that fell back to another channel, a retry).

        A channel whose drain fails (its database read, say) does not cut the others short:
        cancelled mid-send, a message may have reached the platform unrecorded, and be sent
        again. They finish their round (however long a slow channel's is: as a channel that
        finished its round early waits for the others), then the failure is raised, a kill or
        a cancellation before an error, and any other error logged. Cancelling the drain
        cancels every channel's.
        """
        while not self._stopping:
            channels = await self._due_channels()
            if not channels:
                return
            drains = [asyncio.create_task(self._drain_channel(channel)) for channel in channels]
            ended = await asyncio.gather(*drains, return_exceptions=True)
            failure = _first_failure(ended)
            if failure is not None:
                for other in ended:
                    if isinstance(other, Exception) and other is not failure:
                        log.error("another channel's drain failed too", exc_info=other)
                raise failure
            if not any(ended):
                return

    async def _due_channels(self) -> list[str]:
        """The channels that have a pending delivery due now."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Delivery.channel)
                .where(
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.next_attempt_at <= self._clock.now(),
                    Delivery.channel.is_not(None),
                    Delivery.message_id.in_(self._messages()),
                )
                .distinct()
            )
            return sorted(str(channel) for channel in rows)

    async def _drain_channel(self, channel: str) -> bool:
        """Send ``channel``'s due deliveries until none is due; whether it claimed any.

        At most ``batch_size`` of the channel's deliveries are in hand at once, as the crash
        bounds require; but the next ones are claimed as soon as half of them are done, while
        the rest are still on the wire, so the pacer always has the next sends waiting instead
        of idling while a batch is saved and the next one read.
        """
        running: set[asyncio.Task[None]] = set()
        refill = max(1, self.batch_size // 2)  # claim more once fewer than this are in hand
        any_claimed = False
        renewing = asyncio.create_task(self._renew_leases(channel)) if self.shared else None
        try:
            while not self._stopping:
                claimed = await self._claim(self.batch_size - len(running), channel)
                any_claimed = any_claimed or bool(claimed)
                for item in claimed:
                    running.add(asyncio.create_task(self._deliver(item)))
                if not running:
                    return any_claimed
                # Nothing more due now: let those in hand finish (a retry may fall due), then
                # look again; else claim more once fewer than ``refill`` are left in hand.
                threshold = refill if claimed else 1
                while len(running) >= threshold:
                    done, pending = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    running = set(pending)
                    # What gets past _deliver (a kill) ends the drain. Every outcome is read
                    # first: one left unread is logged when its task is collected, at any
                    # moment, as "Task exception was never retrieved".
                    failure = _first_failure(_outcome(task) for task in done)
                    if failure is not None:
                        raise failure
            await asyncio.gather(*running)  # stopping: the deliveries in hand finish
            return any_claimed
        except Exception as error:
            # Its own failure (a claim's database read, or a delivery's record of its end):
            # those in hand are on the wire, and would be sent again if cut; they finish, and
            # are recorded, first. A kill among them is raised rather than the error.
            failure = _first_failure(await asyncio.gather(*running, return_exceptions=True))
            if failure is not None and not isinstance(failure, Exception):
                raise failure from error
            raise
        except BaseException:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        finally:
            if renewing is not None:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)

    async def _renew_leases(self, channel: str) -> None:
        """Every third of the lease, push back the expiry of this process's deliveries in flight
        on ``channel``: a batch paced slowly, or held by a 429, outlives one lease."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self.renew(channel)
            except Exception:  # the next renewal tries again; the lease still has two thirds
                log.exception("renewing the leases of deliveries in flight failed")

    async def renew(self, channel: str | None = None) -> int:
        """Extend the leases of this process's deliveries in flight (on ``channel`` only, if
        given) to a full lease from now; returns how many."""
        async with unit_of_work(self._sessions) as session:
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.claimed_by == self.claimant,
                    *(() if channel is None else (Delivery.channel == channel,)),
                )
                .values(lease_until=self._clock.now() + self.lease)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def _claim(self, limit: int | None = None, channel: str | None = None) -> list[_Claimed]:
        """Mark up to ``limit`` due deliveries (of ``channel`` only, if given) as sending."""
        limit = self.batch_size if limit is None else limit
        if limit <= 0:
            return []
        now = self._clock.now()
        if self.shared and (
            self._recovered_at is None or now - self._recovered_at >= self.lease / 3
        ):
            # A drain of thousands lasts minutes: a process killed meanwhile must not wait
            # for its end to have its batch taken back.
            self._recovered_at = now
            await self.recover()
        async with unit_of_work(self._sessions) as session:
            await self._skip_expired(session, now)
            while rows := await self._due(session, now, limit, channel):
                claimed = await self._mark_claimed(session, rows, now)
                if claimed:
                    return claimed
                # The whole batch was skipped (withdrawn invitations): the next due ones, in
                # the same claim, so a drain does not end with deliveries still due.
                await session.flush()
            return []

    async def _due(
        self, session: AsyncSession, now: datetime, limit: int, channel: str | None
    ) -> Sequence[Any]:
        """Up to ``limit`` due deliveries (of ``channel`` only, if given) with their messages,
        locked for this claim."""
        return (
            await session.execute(
                select(Delivery, OutboundMessage)
                .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
                .where(
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.next_attempt_at <= now,
                    # Only this meeting's: another meeting's messages go out through its
                    # own process, its own bots, in its own words.
                    OutboundMessage.meeting_id == self._meeting_id,
                    *(() if channel is None else (Delivery.channel == channel,)),
                    ~self._earlier_to_the_same_chat(now),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
                # Row locks for PostgreSQL (a no-op on SQLite): a row another process is
                # claiming is skipped, not waited for, and never claimed twice.
                .with_for_update(skip_locked=True, of=Delivery)
            )
        ).all()

    async def _mark_claimed(
        self, session: AsyncSession, rows: Sequence[Any], now: datetime
    ) -> list[_Claimed]:
        """Mark ``rows`` as sending, as this process's; skip those that must not go (see
        :func:`_unsendable`), said why."""
        delegate_ids = [d.delegate_id for d, _ in rows if d.delegate_id is not None]
        recipients, withdrawn = await _recipients(session, delegate_ids)
        open_tasks = await _open_tasks(session, self._meeting_id, rows)
        claimed = []
        for delivery, message in rows:
            if delivery.delegate_id is not None and (
                unsent := _unsendable(message, delivery.delegate_id in withdrawn)
                or _answered(message, delivery.delegate_id, recipients, open_tasks, self._audiences)
            ):
                delivery.status, delivery.last_error = DeliveryStatus.SKIPPED, unsent
                delivery.updated_at = now
                continue
            delivery.status = DeliveryStatus.SENDING
            delivery.attempts += 1
            delivery.updated_at = now
            delivery.claimed_by = self.claimant
            delivery.lease_until = now + self.lease
            assert delivery.chat_address is not None and delivery.channel is not None
            claimed.append(
                _Claimed(
                    id=delivery.id,
                    chat_address=delivery.chat_address,
                    channel=delivery.channel,
                    parts_sent=delivery.parts_sent,
                    attempts=delivery.attempts,
                    message=message_view(message),
                    recipient=recipients.get(delivery.delegate_id or 0),
                    interrupted=delivery.interrupted_at is not None,
                    maybe_sent=delivery.maybe_sent_at is not None,
                )
            )
        return claimed

    def _earlier_to_the_same_chat(self, now: datetime) -> ColumnElement[bool]:
        """Whether a delivery queued before this one to the same chat is still to go (pending,
        a retry waiting included, or on the wire under a live claim): then this one waits, so a
        person's messages arrive in the order they were queued (the office's comment, then the
        verdict it explains), whichever process claims them and however a send ends. A row left
        ``sending`` by a failure, its claim expired, holds nobody back for longer than a lease:
        it waits for recovery, the chat's later messages do not."""
        earlier = aliased(Delivery)
        return exists().where(
            earlier.channel == Delivery.channel,
            earlier.chat_address == Delivery.chat_address,
            earlier.id < Delivery.id,
            or_(
                earlier.status == DeliveryStatus.PENDING,
                and_(earlier.status == DeliveryStatus.SENDING, earlier.lease_until > now),
            ),
            earlier.message_id.in_(self._messages()),
        )

    def _overtaken(self, message: OutboundMessage, instead: OutboundMessage, now: datetime) -> None:
        """Skip ``message``, a reminder whose series' later ``instead`` goes in its place."""
        self._mark_skipped(message, SkipReason.OVERTAKEN, now)
        log.info(
            "skipped %s message %d due %s: message %d due %s goes instead",
            message.kind,
            message.id,
            message.due_at,
            instead.id,
            instead.due_at,
        )

    async def _next_of_series_by_evening(
        self, session: AsyncSession, message: OutboundMessage, now: datetime
    ) -> OutboundMessage | None:
        """The next reminder of ``message``'s series (held for the night) due by the end of the
        waking day it would go on, if any: the one that goes instead."""
        assert self._zone is not None and message.due_at is not None  # a held reminder's
        later: OutboundMessage | None = await session.scalar(
            select(OutboundMessage)
            .where(
                OutboundMessage.meeting_id == self._meeting_id,
                OutboundMessage.status == MessageStatus.SCHEDULED,
                OutboundMessage.kind == message.kind,
                OutboundMessage.audience == message.audience,
                OutboundMessage.due_at > message.due_at,
                OutboundMessage.due_at <= waking_day_end(now, self._zone),
            )
            .order_by(OutboundMessage.due_at, OutboundMessage.id)
            .limit(1)
        )
        return later

    def _sleeps_until_morning(self, message: OutboundMessage, now: datetime) -> bool:
        """Whether ``message``, a reminder late because the bot was stopped over its time,
        waits for the morning rather than reach people in the night."""
        assert message.due_at is not None
        if self._zone is None or not waits_for_morning(
            message.kind, message.due_at, now, self._zone
        ):
            return False
        log.debug("%s message %d waits for the morning", message.kind, message.id)
        return True

    async def _skip_expired(self, session: AsyncSession, now: datetime) -> None:
        expired = select(OutboundMessage.id).where(
            OutboundMessage.meeting_id == self._meeting_id,
            OutboundMessage.status == MessageStatus.QUEUED,
            OutboundMessage.expires_at.is_not(None),
            OutboundMessage.expires_at < now,
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.message_id.in_(expired))
            .values(status=DeliveryStatus.SKIPPED, updated_at=now, last_error=RAN_OUT)
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
        sender = self.senders.get(item.channel)
        if sender is None:  # the channel stopped running since the delivery was queued
            await self._finish_delivery(
                item.id, DeliveryStatus.BLOCKED, error=f"{item.channel}: not running",
                unreachable=False,
            )  # fmt: skip
            return
        # Only a first part can be a repeat the recipient would read as one: a later part
        # resumes where the recorded ones stopped.
        repeat = item.interrupted and item.parts_sent == 0
        where = ChannelInfo(sender.channel, sender.capabilities)
        outbound = await self._composer.content(item.message, item.recipient, where, repeat=repeat)
        parts = sender.prepare(outbound)
        menus = not sender.capabilities.buttons
        if not parts:  # e.g. an overdue report on a morning when nothing is overdue
            await self._finish_delivery(item.id, DeliveryStatus.SKIPPED, error=NOTHING_TO_SEND)
            return
        if item.parts_sent >= len(parts):
            # The content shrank since its first parts went out (a speaker's reminder lists one
            # theme fewer once a draft arrived): what is left to send is nothing.
            await self._record_part(item.id, item.parts_sent, len(parts), None)
            return
        for index in range(item.parts_sent, len(parts)):
            async with self.pacer(item.channel).slot(item.chat_address):
                result = await sender.send(item.chat_address, parts[index])
            self.stats.sends[item.channel, item.message.kind.value, result.outcome.value] += 1
            if result.outcome is not SendOutcome.SENT:
                await self._handle_failure(item, result, index, len(parts))
                return
            self.stats.sent_parts += 1
            part = parts[index]
            # Where choices are typed as numbers, they answer the menu this part ends with.
            menu = part.buttons if menus and not isinstance(part, VenuePart) else ()
            await self._record_part(
                item.id, index + 1, len(parts), result.platform_message_id, menu=menu
            )

    async def _record_part(
        self,
        delivery_id: int,
        parts_sent: int,
        total: int,
        platform_id: str | None,
        *,
        menu: tuple[tuple[Button, ...], ...] = (),
    ) -> None:
        """Record a part the platform accepted; returns once it is committed.

        The parts accepted while one transaction is written share the next (a commit each
        would cap the outbox at the disk's commits a second, below Telegram's 30 on a busy
        machine); a delivery is done, and leaves the hand, only once its record is committed.
        """
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_record.append((_Part(delivery_id, parts_sent, total, platform_id, menu), recorded))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_records())
        await recorded

    async def _write_records(self) -> None:
        while self._to_record:
            batch, self._to_record = self._to_record, []
            try:
                await self._write_parts([part for part, _ in batch])
            except Exception:
                # Again one by one: a record that cannot be written fails only its delivery.
                for part, recorded in batch:
                    try:
                        await self._write_parts([part])
                    except Exception as exc:
                        if not recorded.done():
                            recorded.set_exception(exc)
                    else:
                        if not recorded.done():
                            recorded.set_result(None)
                continue
            for _, recorded in batch:
                if not recorded.done():
                    recorded.set_result(None)

    async def _write_parts(self, parts: Sequence[_Part]) -> None:
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            for part in parts:
                delivery = await session.get_one(Delivery, part.delivery_id)
                if part.menu and delivery.channel and delivery.chat_address:
                    # A menu that reached the person shortly before this one stays hers to
                    # answer: two messages due at one time (a chase and a speech reminder)
                    # arrive together, and a «1» may mean either (``bot.chat.menus``).
                    await queries.remember_menu(
                        session,
                        delivery.channel,
                        delivery.chat_address,
                        part.menu,
                        sent_first=(now, now - MENUS_TOGETHER),
                    )
                if part.parts_sent > delivery.parts_sent:
                    # The mark is the part's it was set for: a later part accepted settles it,
                    # and the next part has its own one more try.
                    delivery.maybe_sent_at = None
                delivery.parts_sent = part.parts_sent
                delivery.updated_at = now
                if delivery.platform_message_id is None:
                    delivery.platform_message_id = part.platform_id
                if part.parts_sent >= part.total:
                    delivery.status = DeliveryStatus.SENT
                    delivery.sent_at = now
                    delivery.last_error = None
                    delivery.claimed_by = delivery.lease_until = None
        self.stats.delivered += sum(1 for part in parts if part.parts_sent >= part.total)

    async def _handle_failure(
        self, item: _Claimed, result: SendResult, index: int, total: int
    ) -> None:
        """Part ``index`` (from 0) of ``total`` was not sent, or may not have been."""
        now = self._clock.now()
        error = (result.error or result.outcome.value)[:300]
        self.stats.errors[result.outcome.value] += 1
        if result.outcome is SendOutcome.RATE_LIMITED:
            wait = max(result.retry_after or 1.0, 1.0)
            self.pacer(item.channel).pause(wait)
            self.stats.rate_limited += 1
            log.warning("rate limited by the platform: pausing all sends for %.0f s", wait)
            # Not the recipient's fault: the attempt does not count towards giving up.
            await self._retry(item.id, now + timedelta(seconds=wait), error, count_attempt=False)
        elif result.outcome is SendOutcome.TRANSIENT and item.attempts < self.max_attempts:
            self.stats.retried += 1
            backoff = timedelta(seconds=min(2**item.attempts, 300))
            await self._retry(item.id, now + backoff, error, count_attempt=True)
        elif result.outcome is SendOutcome.MAYBE_SENT:
            # It may have arrived, and the platform keeps no key to spot a copy: one more try
            # (a notice lost is worse than one read twice), never a third copy the person may
            # read; then it ends failed, reported as one that may have arrived.
            # The mark is per part: it is this part's only when no later part went since it
            # was set (a part recorded in this very claim cleared it).
            doubted = item.maybe_sent and index == item.parts_sent
            retry = not doubted and item.attempts < self.max_attempts
            log.warning(
                "delivery %d of message %d may have been sent (no answer); %s",
                item.id,
                item.message.id,
                "tried once more" if retry else "not tried again",
            )
            if retry:
                self.stats.retried += 1
                backoff = timedelta(seconds=min(2**item.attempts, 300))
                await self._retry(item.id, now + backoff, error, count_attempt=True, maybe=True)
            else:
                self.stats.failed += 1
                # The parts after it never went: her message is cut short (its parts kept).
                await self._finish_delivery(
                    item.id, DeliveryStatus.FAILED, error=error, maybe=True,
                    parts_total=total if index + 1 < total else None,
                )  # fmt: skip
        elif result.outcome is SendOutcome.BLOCKED:
            self.stats.blocked += 1
            await self._finish_delivery(
                item.id, DeliveryStatus.BLOCKED, error=error, unreachable=True
            )
        else:
            self.stats.failed += 1
            await self._finish_delivery(item.id, DeliveryStatus.FAILED, error=error)

    async def _retry(
        self,
        delivery_id: int,
        when: datetime,
        error: str,
        *,
        count_attempt: bool,
        maybe: bool = False,
    ) -> None:
        """Back to pending until ``when``; ``maybe``: the send that failed may have arrived."""
        async with unit_of_work(self._sessions) as session:
            delivery = await session.get_one(Delivery, delivery_id)
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = when
            delivery.last_error = error
            delivery.claimed_by = delivery.lease_until = None
            delivery.updated_at = self._clock.now()
            if maybe and delivery.maybe_sent_at is None:
                delivery.maybe_sent_at = delivery.updated_at
            if not count_attempt:
                delivery.attempts -= 1

    async def _finish_delivery(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        *,
        error: str,
        unreachable: bool = False,
        maybe: bool = False,
        parts_total: int | None = None,
    ) -> None:
        """End a delivery ``status``; ``maybe``: a second send with no answer is what ended it
        (the first such moment is kept, which the report names; ``parts_total``, her message's
        parts, when that send was of a part before the last). Ended for any other reason,
        it is reported with that reason: the mark of an earlier doubtful send goes."""
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            delivery = await session.get_one(Delivery, delivery_id)
            delivery.status = status
            delivery.last_error = error
            delivery.updated_at = now
            delivery.claimed_by = delivery.lease_until = None
            delivery.parts_total = parts_total
            if not maybe:
                delivery.maybe_sent_at = None
            elif delivery.maybe_sent_at is None:
                delivery.maybe_sent_at = now
            if status is not DeliveryStatus.BLOCKED or delivery.delegate_id is None:
                return
            if unreachable and delivery.channel:
                ident = await queries.identity_of_delegate(
                    session, delivery.delegate_id, delivery.channel
                )
                if ident is not None and ident.unreachable_at is None:
                    ident.unreachable_at = now
                    ident.unreachable_reason = error
                    log.info(
                        "delegate %d is unreachable on %s", delivery.delegate_id, delivery.channel
                    )
            await self._fall_back(session, delivery, now)

    async def _fall_back(self, session: AsyncSession, delivery: Delivery, now: datetime) -> None:
        """A person who cannot be reached where the delivery went gets it on their next
        reachable account, from its first part."""
        assert delivery.delegate_id is not None
        accounts = await self._audiences.accounts_of(session, delivery.delegate_id, self.senders)
        tried = (delivery.channel, delivery.chat_address)
        for account in accounts:
            if account.reachable and (account.channel, account.chat_address) != tried:
                log.info(
                    "delivery %d moves from %s to %s", delivery.id, delivery.channel,
                    account.channel,
                )  # fmt: skip
                delivery.channel, delivery.chat_address = account.channel, account.chat_address
                delivery.status = DeliveryStatus.PENDING
                delivery.parts_sent = delivery.attempts = 0
                delivery.platform_message_id = None
                delivery.maybe_sent_at = None  # a fresh start where nothing went yet
                delivery.next_attempt_at = now
                return

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
                # Locked: two processes finding the message finished close it, and report it, once.
                message = await session.get_one(
                    OutboundMessage, report.message.id, with_for_update=True
                )
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
        """Reports for the queued messages whose every delivery is final.

        Counted in SQL, one grouped statement for all queued messages: a broadcast to 10,000
        people is checked on every drain, and loading each delivery as an object cost the
        process its memory (issue 17). Only the recipients the office is told about (failed,
        blocked, not linked) are read, as columns, and only for messages that are finished.
        Read without the writer's lock (every pulse does it while the channels send); the
        transaction that closes a message checks it again under its row lock.
        """
        async with read_only(self._sessions) as session:
            queued = {
                message.id: message
                for message in await session.scalars(
                    select(OutboundMessage).where(
                        OutboundMessage.meeting_id == self._meeting_id,
                        OutboundMessage.status == MessageStatus.QUEUED,
                    )
                )
            }
            if not queued:
                return []
            counts: dict[int, Counter[DeliveryStatus]] = {id_: Counter() for id_ in queued}
            nothing_to_send: Counter[int] = Counter()
            withdrawn: Counter[int] = Counter()
            ran_out: Counter[int] = Counter()
            grouped = await session.execute(
                select(
                    Delivery.message_id,
                    Delivery.status,
                    func.count(),
                    func.sum(case((Delivery.last_error == NOTHING_TO_SEND, 1), else_=0)),
                    func.sum(case((Delivery.last_error == WITHDRAWN, 1), else_=0)),
                    func.sum(case((Delivery.last_error == RAN_OUT, 1), else_=0)),
                )
                .where(Delivery.message_id.in_(queued))
                .group_by(Delivery.message_id, Delivery.status)
            )
            for message_id, status, count, empty, gone, late in grouped:
                counts[message_id][DeliveryStatus(status)] += count
                if status == DeliveryStatus.SKIPPED:
                    nothing_to_send[message_id] += empty or 0
                    withdrawn[message_id] += gone or 0
                    ran_out[message_id] += late or 0
            finished = [id_ for id_ in queued if all(s.is_final for s in counts[id_])]
            problems = await _problems(session, finished)
            reports = []
            for id_ in finished:
                message = queued[id_]
                late = (message.params or {}).get("late_seconds", 0)
                reports.append(
                    DeliveryReport(
                        message=message_view(message),
                        counts=counts[id_],
                        failed=problems[id_, DeliveryStatus.FAILED],
                        blocked=problems[id_, DeliveryStatus.BLOCKED],
                        not_linked=problems[id_, DeliveryStatus.NOT_LINKED],
                        late_by=timedelta(seconds=late) if late else None,
                        skipped=_reached_nobody(
                            counts[id_].total(), nothing_to_send[id_], withdrawn[id_], ran_out[id_]
                        ),
                        ran_out=ran_out[id_],
                        withdrawn=problems[id_, DeliveryStatus.SKIPPED],
                        answered=problems[id_, ANSWERED],
                    )
                )
            return reports


def _outcome(task: asyncio.Task[Any]) -> BaseException | None:
    """How a finished task ended: its failure, a cancellation, or None; read, so the loop
    never reports it unread."""
    return asyncio.CancelledError() if task.cancelled() else task.exception()


def _first_failure(outcomes: Iterable[object]) -> BaseException | None:
    """The failure to raise among ``outcomes``: a kill or a cancellation (a BaseException that
    is no Exception) before an error, else the first error; None if nothing failed."""
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    return min(failures, key=lambda failure: isinstance(failure, Exception), default=None)


def office_delivery(message_id: int, channel: str, address: str, now: datetime) -> Delivery:
    """The delivery of a message to one office chat."""
    return Delivery(
        message_id=message_id,
        delegate_id=None,
        recipient=f"{OFFICE_RECIPIENT}{channel}:{address}",
        channel=channel,
        chat_address=address,
        status=DeliveryStatus.PENDING,
        attempts=0,
        parts_sent=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def _recipients(
    session: AsyncSession, delegate_ids: list[int]
) -> tuple[dict[int, Recipient], set[int]]:
    """The people claimed deliveries go to, by id, and which of them the office withdrew the
    invitation of since (read with them: a claim costs no statement more)."""
    if not delegate_ids:
        return {}, set()
    # Her substitute's name when a substitute is checked in for her (bot.services.checkin's
    # ArrivalKind.SUBSTITUTE, not undone): a notice to those present is for that one to read —
    # the latest meeting day's, at a meeting of several days (the audience reads today's).
    stood_in = (
        select(Checkin.full_name)
        .where(
            Checkin.delegate_id == Delegate.id,
            Checkin.undone_at.is_(None),
            Checkin.kind == SUBSTITUTE_ARRIVAL,
        )
        .order_by(Checkin.day.desc(), Checkin.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Delegate, Rsvp, stood_in)
            .join(Rsvp, Rsvp.delegate_id == Delegate.id)
            .where(Delegate.id.in_(delegate_ids))
        )
    ).all()
    withdrawn = {delegate.id for delegate, _, _ in rows if delegate.withdrawn_at is not None}
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
            stood_in_by=stood_in_by,
            days=read_days(rsvp.days),
        )
        for delegate, rsvp, stood_in_by in rows
    }, withdrawn


def _unsendable(message: OutboundMessage, withdrawn: bool) -> str | None:
    """Why a delivery to a person is skipped as it is claimed, or None to send it: nothing sent
    to her as an invitee, nor a reminder for a draft (:data:`WITHDRAWN_HOLDS_BACK`), goes to an
    invitation the office withdrew after the message was queued; the message telling her so
    goes only while it is still true (not once she was invited again)."""
    telling = message.kind == MessageKind.INVITATION_WITHDRAWN
    if withdrawn and message.kind in WITHDRAWN_HOLDS_BACK:
        return WITHDRAWN
    if telling and not withdrawn:
        return NOTHING_TO_SEND
    return None


async def _open_tasks(
    session: AsyncSession, meeting_id: int, rows: Sequence[Any]
) -> set[tuple[int, str]]:
    """Of the task reminders among claimed ``rows``, the (person, task key) still open: the
    task neither closed nor archived, and the person holds it and has not reported it done.
    One statement for the whole batch, none when it holds no task reminder."""
    wanted = [
        (delivery.delegate_id, message.audience.partition(":")[2])
        for delivery, message in rows
        if message.kind == MessageKind.TASK_REMINDER and delivery.delegate_id is not None
    ]
    if not wanted:
        return set()
    found = await session.execute(
        select(TaskAssignment.person_id, Task.key)
        .join(Task, Task.id == TaskAssignment.task_id)
        .where(
            Task.meeting_id == meeting_id,
            Task.key.in_({key for _, key in wanted}),
            Task.archived_at.is_(None),
            Task.closed_at.is_(None),
            TaskAssignment.person_id.in_({person for person, _ in wanted}),
            TaskAssignment.status != TaskStatus.DONE,
        )
    )
    return {(person, key) for person, key in found}


def _answered(
    message: OutboundMessage,
    person_id: int,
    recipients: Mapping[int, Recipient],
    open_tasks: set[tuple[int, str]],
    audiences: Audiences,
) -> str | None:
    """Why a reminder is skipped as it is claimed because what it asks for was done since it
    was queued (it waited behind a long broadcast, a pause, a retry), or None to send it: a
    task reminder once the person reported the task done (or the office recorded it, closed
    the task, or the task left her with her invitation); an RSVP reminder once she answered;
    a message to those who come (the day-before reminder, the agenda) once she no longer
    comes (the office recorded her decline by phone, after the deadline too), and a day's
    morning programme once that day is no longer hers (she answered other days since). A draft
    reminder needs no check here: its content, read as it is sent, lists only the themes
    still missing, and is skipped as empty when there is none."""
    if message.kind == MessageKind.TASK_REMINDER:
        key = message.audience.partition(":")[2]
        return None if (person_id, key) in open_tasks else NOTHING_TO_SEND
    recipient = recipients.get(person_id)
    if (
        message.kind == MessageKind.RSVP_REMINDER
        and recipient is not None
        and recipient.rsvp is not RsvpStatus.NO_ANSWER
    ):
        return NOTHING_TO_SEND
    if (
        message.kind in TO_THOSE_WHO_COME
        and recipient is not None
        and not recipient.rsvp.is_present
    ):
        # The day-before reminder or the agenda, queued while she was to come (to everyone
        # coming, or her own catch-up copy), waited (a retry, a pause, the next tick) past the
        # office recording by phone that she will not after all.
        return NOTHING_TO_SEND
    if (
        message.kind == MessageKind.MORNING_AGENDA
        and recipient is not None
        and not audiences.comes_on(recipient, int((message.params or {}).get("day") or 1))
    ):
        # The same for a day: «Kính mong đồng chí có mặt đúng giờ» queued for 29/5 while she
        # came every day, claimed after she answered 28/5 only.
        return NOTHING_TO_SEND
    return None


def _waited_for_list(message: OutboundMessage) -> datetime | None:
    """Since when ``message`` waited for a list, at its present time (a wait noted before the
    plan moved it counts for nothing), or None."""
    since = (message.params or {}).get(WAITED_FOR_LIST)
    if not isinstance(since, str) or message.due_at is None:
        return None
    waited = datetime.fromisoformat(since)
    return waited if waited >= message.due_at else None


def _window_closed(message: OutboundMessage, now: datetime) -> bool:
    """Whether ``message`` is no longer worth sending at ``now``."""
    return message.expires_at is not None and now > message.expires_at


def _newest_of_each_series(
    messages: Sequence[OutboundMessage],
) -> dict[int, OutboundMessage]:
    """Of ``messages`` falling due together, the older reminders of a series (see
    :func:`bot.domain.reminders.reminder_series`), each with the newest of its series, which
    goes instead."""
    series: defaultdict[tuple[str, str], list[OutboundMessage]] = defaultdict(list)
    for message in messages:
        key = reminder_series(message.kind, message.audience)
        if key is not None:
            series[key].append(message)
    older: dict[int, OutboundMessage] = {}
    for members in series.values():
        *overtaken, newest = sorted(members, key=lambda m: (m.due_at, m.id))
        older.update((message.id, newest) for message in overtaken)
    return older


def _reached_nobody(
    total: int, nothing_to_send: int, withdrawn: int = 0, ran_out: int = 0
) -> SkipReason | None:
    """Why a finished message went to nobody at all, from its ``total`` deliveries and how many
    of them had nothing to send, went to a withdrawn invitation or ran out (its window closed
    before they went: the bot stopped while sending it); None if it went, or was meant to go,
    to someone (a copy sent, failed, blocked, or waiting for a person to link)."""
    if not total:
        return SkipReason.NO_RECIPIENTS
    if withdrawn == total:
        return SkipReason.WITHDRAWN
    if nothing_to_send + withdrawn == total:
        return SkipReason.NOTHING_TO_SEND
    if ran_out and nothing_to_send + withdrawn + ran_out == total:
        # Not one copy went: the office reads it was sent to nobody, and why, not «sent 0».
        return SkipReason.EXPIRED
    return None


_REPORTED = (DeliveryStatus.FAILED, DeliveryStatus.BLOCKED, DeliveryStatus.NOT_LINKED)


async def _problems(
    session: AsyncSession, message_ids: Sequence[int]
) -> defaultdict[tuple[int, str], list[Problem]]:
    """The people the office is told about for each finished message, by (message, status):
    columns only, in the order the deliveries were made. Under ``skipped``: those not sent it
    because their invitation was withdrawn; under :data:`ANSWERED`: those a reminder skipped
    because they did what it asks while it waited."""
    found: defaultdict[tuple[int, str], list[Problem]] = defaultdict(list)
    if not message_ids:
        return found
    rows = await session.execute(
        select(
            Delivery.message_id,
            Delivery.status,
            Delivery.last_error,
            Delivery.interrupted_at,
            Delivery.maybe_sent_at,
            Delivery.parts_sent,
            Delivery.parts_total,
            Delegate.code,
            Delegate.full_name,
            Delegate.phone,
            Rsvp.status,
            Rsvp.substitute_name,
            Rsvp.substitute_phone,
        )
        .join(Delegate, Delegate.id == Delivery.delegate_id)
        .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
        .outerjoin(Rsvp, Rsvp.delegate_id == Delegate.id)
        .where(
            Delivery.message_id.in_(message_ids),
            or_(
                Delivery.status.in_(_REPORTED),
                and_(Delivery.status == DeliveryStatus.SKIPPED, Delivery.last_error == WITHDRAWN),
                and_(
                    Delivery.status == DeliveryStatus.SKIPPED,
                    Delivery.last_error == NOTHING_TO_SEND,
                    OutboundMessage.kind.in_(ANSWERABLE_KINDS),
                ),
            ),
        )
        .order_by(Delivery.id)
    )
    for (
        message_id,
        status,
        error,
        interrupted_at,
        maybe_sent_at,
        parts_sent,
        parts_total,
        code,
        full_name,
        phone,
        *answer,
    ) in rows:
        skipped = status == DeliveryStatus.SKIPPED
        key = ANSWERED if skipped and error == NOTHING_TO_SEND else DeliveryStatus(status)
        answered, substitute, substitute_phone = answer
        sends_one = answered == RsvpStatus.SUBSTITUTE and bool(substitute)
        # Cut short by a second doubtful send of a part before the last: how far it got.
        parts = (parts_sent, parts_total) if parts_total else None
        found[message_id, key].append(
            Problem(
                code=code,
                full_name=full_name,
                error=error,
                parts=parts,
                interrupted_at=interrupted_at,
                maybe_sent_at=maybe_sent_at,
                phone=phone,
                substitute_name=substitute if sends_one else None,
                substitute_phone=substitute_phone if sends_one else None,
            )
        )
    return found
