"""Office broadcasts: write the text, choose who gets it, preview the exact count, confirm or
schedule; then the outbox sends it and reports. The draft is a row, so is every step."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.outbound import (
    BROADCAST_WINDOW,
    OFFICE_PLACE,
    RAN_OUT,
    Audience,
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    SkipReason,
    skip_reason,
)
from bot.domain.timespec import parse_typed_time, surely_not_a_time
from bot.domain.typed import typed
from bot.services import roster
from bot.services.access import OfficeActor
from bot.services.context import ServiceContext
from storage import queries
from storage.models import Delegate, Delivery, OutboundMessage, Rsvp
from storage.uow import read_only, unit_of_work

# Telegram's 4096 minus room for the header the office's name adds.
MAX_BROADCAST = 3500
# The key of a draft's ``params`` that keeps a text typed where its time was asked, until the
# office makes it a new notice or the draft is scheduled.
TYPED_ASIDE = "typed_aside"
BROADCAST_ACTION = "bc:"


class DraftStep(StrEnum):
    """What the bot is waiting for from the office member composing a broadcast."""

    TEXT = "text"
    AUDIENCE = "audience"
    CONFIRM = "confirm"
    TIME = "time"


class BroadcastStep(StrEnum):
    """What happened, so the adapter knows what to say."""

    ASK_TEXT = "ask_text"
    # ``/thongbao`` found the office member's own unfinished draft, its text written: asked
    # whether to go on with it or write a new one in its place (not dropped unasked).
    UNFINISHED = "unfinished"
    ASK_AUDIENCE = "ask_audience"
    PREVIEW = "preview"
    ASK_TIME = "ask_time"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    DROPPED = "dropped"  # a draft given up before it was sent or scheduled: it has no number
    TOO_LONG = "too_long"
    EMPTY = "empty"
    BAD_TIME = "bad_time"
    # A text typed where the time was asked that is no time (a new notice, most likely): kept
    # on the draft (:data:`TYPED_ASIDE`) for :meth:`Broadcasts.start_with_typed`, the draft
    # still waiting for its time.
    NOT_A_TIME = "not_a_time"
    # The same where the audience, or the preview's «send / schedule / cancel», was asked: a
    # text is none of those choices; kept aside the same way.
    TYPED_AT_AUDIENCE = "typed_at_audience"
    TYPED_AT_PREVIEW = "typed_at_preview"
    PAST_TIME = "past_time"
    NO_RECIPIENTS = "no_recipients"
    # No delegate list imported yet: every audience is empty. Refused, not held for the list
    # (a notice is the office's words for its moment; the plan's messages wait, see
    # :func:`bot.domain.outbound.waits_for_a_list`), the draft kept for when the list is in.
    NO_LIST = "no_list"
    GONE = "gone"  # the draft or broadcast no longer exists or has already gone out
    # The same confirmation again (a form sent twice, a second tap): what was done stands.
    ALREADY_QUEUED = "already_queued"
    ALREADY_SCHEDULED = "already_scheduled"
    ALREADY_CANCELLED = "already_cancelled"
    # What a late form or tap asked can no longer be done: said, not as done.
    WAS_CANCELLED = "was_cancelled"  # a send for a notice cancelled meanwhile
    ALREADY_SENT = "already_sent"  # a cancel for a notice already queued or sent
    RESENT = "resent"
    NOTHING_TO_RESEND = "nothing_to_resend"


# How many of those who cannot be reached a preview names; the rest are counted.
NAMED_NOT_LINKED = 10


@dataclass(frozen=True)
class Reach:
    """Who an audience reaches right now: counts, and the first few who never linked (in
    protocol order) for the office to phone."""

    reachable: int
    blocked: int
    not_linked: int
    first_not_linked: list[tuple[str, str]] = field(default_factory=list)  # (code, full name)
    # Of those reached, how many get it for the substitute they sent (on the meeting day, to
    # those present or awaited: :func:`bot.services.roster.passed_on`): theirs opens asking
    # them to pass it on.
    for_substitute: int = 0


@dataclass(frozen=True)
class BroadcastResult:
    """The step reached and what the reply needs."""

    step: BroadcastStep
    message_id: int | None = None
    # The notice's number within the meeting, once confirmed (what the office reads and says).
    number: int | None = None
    body: str | None = None
    audience: str | None = None
    reach: Reach | None = None
    due_at: datetime | None = None
    count: int = 0
    limit: int = MAX_BROADCAST
    # A resend's failed copies it left alone: they may have arrived (no answer came to a send
    # that went out, or a stop caught it on the wire), and another send may be one more copy.
    kept: int = 0


@dataclass(frozen=True)
class BroadcastSummary:
    """A broadcast in the office's list."""

    id: int
    number: int  # within the meeting, as the office calls it (``OutboundMessage.number``)
    status: MessageStatus
    audience: str
    due_at: datetime | None
    preview: str
    deliveries: Counter[str] = field(default_factory=Counter)
    finished_at: datetime | None = None  # when its last copy went, or it was cancelled
    skipped: SkipReason | None = None  # why it went to nobody, when it was skipped
    # Copies that never went because its window closed first (the bot stopped while sending).
    ran_out: int = 0
    # The first of them by name (code, full name), in protocol order: the office phones them.
    first_ran_out: list[tuple[str, str]] = field(default_factory=list)
    # Scheduled, and its time has come («Gửi ngay», or the time reached): the outbox is taking
    # it now, so it is being sent, no longer waiting (nor to be cancelled).
    due: bool = False
    # Of its failed copies, those that may have arrived all the same (a resend leaves them).
    maybe_received: int = 0

    @property
    def to_resend(self) -> int:
        """The failed copies a resend sends again: those no send may have delivered."""
        return self.deliveries[DeliveryStatus.FAILED] - self.maybe_received


def may_have_arrived() -> ColumnElement[bool]:
    """A failed delivery whose copy may have reached the person (the report says so): a send
    of it went out with no answer (``maybe_sent_at``), or a stop caught it on the wire. The
    report's button counts by the same rule in Python (``composer._may_have_arrived``): a
    change here is made there."""
    return or_(Delivery.maybe_sent_at.is_not(None), Delivery.interrupted_at.is_not(None))


def audience_action(message_id: int, audience: str) -> str:
    """Button data choosing an audience (a group key is at most 40 characters: fits 64 bytes)."""
    return f"{BROADCAST_ACTION}aud:{message_id}:{audience}"


# What a send (or a schedule) and a cancel, come late or twice, find a notice has become.
_SEND_FOUND = {
    MessageStatus.SCHEDULED: BroadcastStep.ALREADY_SCHEDULED,
    MessageStatus.QUEUED: BroadcastStep.ALREADY_QUEUED,
    MessageStatus.DONE: BroadcastStep.ALREADY_QUEUED,
    MessageStatus.CANCELLED: BroadcastStep.WAS_CANCELLED,
}
_CANCEL_FOUND = {
    MessageStatus.CANCELLED: BroadcastStep.ALREADY_CANCELLED,
    MessageStatus.QUEUED: BroadcastStep.ALREADY_SENT,
    MessageStatus.DONE: BroadcastStep.ALREADY_SENT,
}


class BroadcastService:
    """The use cases of office broadcasts; every method is for office admins only."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def begin(self, admin: OfficeActor) -> BroadcastResult:
        """``/thongbao``: begin a new broadcast, unless ``admin`` has an unfinished draft with
        its text written: then :data:`BroadcastStep.UNFINISHED` with that draft, for her to
        choose to go on with it (:meth:`resume`) or write a new one (:meth:`start`), as the
        dashboard's «Xem trước» asks before replacing it."""
        unfinished = await self.unfinished(admin)
        if unfinished is not None:
            return replace(unfinished, step=BroadcastStep.UNFINISHED)
        return await self.start(admin)

    async def resume(self, admin: OfficeActor, message_id: int) -> BroadcastResult:
        """Go on with ``admin``'s unfinished draft ``message_id`` at the step it was left at:
        its audience to choose, its preview (counted again, as of now), its time to type."""
        async with read_only(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            if draft is None:
                return BroadcastResult(BroadcastStep.GONE)
            step, body, audience = draft.draft_step, draft.body, draft.audience
        if step == DraftStep.CONFIRM:
            return await self.choose_audience(admin, message_id, audience)
        if step == DraftStep.TIME:
            return BroadcastResult(BroadcastStep.ASK_TIME, message_id=message_id)
        if step == DraftStep.AUDIENCE:
            return BroadcastResult(BroadcastStep.ASK_AUDIENCE, message_id=message_id, body=body)
        return BroadcastResult(BroadcastStep.ASK_TEXT, message_id=message_id)

    async def start(self, admin: OfficeActor) -> BroadcastResult:
        """Begin a new broadcast (an unfinished draft of the same person is dropped)."""
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await self._new_draft(session, admin)
            return BroadcastResult(BroadcastStep.ASK_TEXT, message_id=draft.id)

    async def _new_draft(self, session: AsyncSession, admin: OfficeActor) -> OutboundMessage:
        """A new draft of ``admin``'s, waiting for its text; her unfinished ones dropped."""
        now = self._ctx.clock.now()
        await session.execute(
            update(OutboundMessage)
            .where(*self._drafts_of(admin))
            .values(status=MessageStatus.CANCELLED, finished_at=now)
        )
        draft = OutboundMessage(
            meeting_id=self._ctx.meeting_id,
            kind=MessageKind.BROADCAST,
            status=MessageStatus.DRAFT,
            draft_step=DraftStep.TEXT,
            audience=Audience.LINKED,
            created_by=admin.actor,
            report_to=admin.report_to or OFFICE_PLACE,
            created_at=now,
        )
        session.add(draft)
        await session.flush()
        return draft

    async def accept_text(self, admin: OfficeActor, text: str) -> BroadcastResult | None:
        """Take the broadcast's text or its sending time; None when no draft waits for text."""
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await session.scalar(
                select(OutboundMessage).where(
                    *self._drafts_of(admin),
                    OutboundMessage.draft_step.in_([DraftStep.TEXT, DraftStep.TIME]),
                )
            )
            if draft is None:
                return None
            if draft.draft_step == DraftStep.TIME:
                if surely_not_a_time(text):  # a new notice typed, not a time mistyped: kept
                    draft.params = {**(draft.params or {}), TYPED_ASIDE: typed(text).strip()}
                    return BroadcastResult(
                        BroadcastStep.NOT_A_TIME, message_id=draft.id, body=draft.body,
                        count=len(text.strip()),
                    )  # fmt: skip
                if not await self._has_list(session):
                    return BroadcastResult(BroadcastStep.NO_LIST, message_id=draft.id)
                return await self._take_time(session, admin, draft, text)
            return _take_text(draft, text)

    async def accept_stray_text(self, admin: OfficeActor, text: str) -> BroadcastResult | None:
        """A text typed while the office member's notice waits for a choice (its audience, or
        the preview's send / schedule / cancel), which no other dialog took: kept aside on the
        draft (it may be the notice's new text, :meth:`start_with_typed`) and the step said;
        None when no notice of hers waits for a choice."""
        steps = {
            DraftStep.AUDIENCE: BroadcastStep.TYPED_AT_AUDIENCE,
            DraftStep.CONFIRM: BroadcastStep.TYPED_AT_PREVIEW,
        }
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await session.scalar(
                select(OutboundMessage)
                .where(*self._drafts_of(admin), OutboundMessage.draft_step.in_(list(steps)))
                .order_by(OutboundMessage.id.desc())
                .limit(1)
            )
            body = typed(text).strip()
            if draft is None or draft.draft_step is None or not body:
                return None
            draft.params = {**(draft.params or {}), TYPED_ASIDE: body}
            return BroadcastResult(
                steps[DraftStep(draft.draft_step)], message_id=draft.id, body=draft.body,
                audience=draft.audience, count=len(body),
            )  # fmt: skip

    async def start_with_typed(self, admin: OfficeActor, message_id: int) -> BroadcastResult:
        """A new notice of the text typed where draft ``message_id`` asked its time, its
        audience or its confirmation (the office chose so): that draft dropped, as
        :meth:`start` drops it, and the text taken as the new one's; GONE when the draft or
        its kept text is no longer there."""
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            aside = (draft.params or {}).get(TYPED_ASIDE) if draft is not None else None
            waiting = (DraftStep.TIME, DraftStep.AUDIENCE, DraftStep.CONFIRM)
            if draft is None or draft.draft_step not in waiting or not aside:
                return BroadcastResult(BroadcastStep.GONE)
            # She chose a new notice: one too long is refused as the new one's text, which the
            # bot then waits for (as when typed after /thongbao), the other dropped.
            return _take_text(await self._new_draft(session, admin), str(aside))

    async def choose_audience(
        self, admin: OfficeActor, message_id: int, audience: str
    ) -> BroadcastResult:
        """Set who gets the broadcast and show the preview with the exact number of recipients."""
        if not self._valid_audience(audience):
            return BroadcastResult(BroadcastStep.GONE)
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            if draft is None or draft.draft_step not in (DraftStep.AUDIENCE, DraftStep.CONFIRM):
                return BroadcastResult(BroadcastStep.GONE)
            draft.audience = audience
            draft.draft_step = DraftStep.CONFIRM
            return await self._previewed(session, draft)

    async def previewed(self, admin: OfficeActor, message_id: int) -> BroadcastResult:
        """``admin``'s draft as its preview shows it, while it waits there (its audience
        chosen, not yet sent or dropped): the dashboard's page of that preview, changing
        nothing; GONE for any other."""
        async with read_only(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            if draft is None or draft.draft_step != DraftStep.CONFIRM or not draft.audience:
                return BroadcastResult(BroadcastStep.GONE)
            return await self._previewed(session, draft)

    async def _previewed(self, session: AsyncSession, draft: OutboundMessage) -> BroadcastResult:
        """The preview of ``draft`` for its audience, with the exact number of recipients."""
        audience = draft.audience
        reach = await self._reach(session, audience)
        if not await self._has_list(session):
            return BroadcastResult(
                BroadcastStep.NO_LIST,
                message_id=draft.id,
                body=draft.body,
                audience=audience,
                reach=reach,
            )
        # Where invitees have personal pages, a notice to people no chat reaches still
        # reaches them: it shows on their page (bot.services.pages) and the outbox reports
        # it DONE with the list to phone. Only an empty audience, or one no chat reaches
        # when there are no pages, has nobody to send it to.
        paged = self._ctx.config.web is not None and (reach.blocked or reach.not_linked)
        step = BroadcastStep.PREVIEW if reach.reachable or paged else BroadcastStep.NO_RECIPIENTS
        return BroadcastResult(
            step, message_id=draft.id, body=draft.body, audience=audience, reach=reach
        )

    async def draft(self, admin: OfficeActor, message_id: int) -> BroadcastResult | None:
        """``admin``'s own unfinished draft: its text and audience, to write it again (the
        dashboard's «Sửa nội dung»); None when it is gone, someone else's or has no text yet."""
        return await self._written(admin, message_id)

    async def unfinished(self, admin: OfficeActor) -> BroadcastResult | None:
        """``admin``'s own draft with its text written and not yet sent or dropped (the one
        :meth:`start` would drop), its text and audience; None when there is none."""
        return await self._written(admin, None)

    async def _written(self, admin: OfficeActor, message_id: int | None) -> BroadcastResult | None:
        """``admin``'s draft ``message_id`` (None: her newest) with its text written, as a
        preview of its text and audience; None when there is none."""
        query = select(OutboundMessage).where(
            *self._drafts_of(admin), OutboundMessage.body.is_not(None)
        )
        if message_id is not None:
            query = query.where(OutboundMessage.id == message_id)
        async with read_only(self._ctx.sessions) as session:
            draft = await session.scalar(query.order_by(OutboundMessage.id.desc()).limit(1))
            if draft is None:
                return None
            return BroadcastResult(
                BroadcastStep.PREVIEW, message_id=draft.id, body=draft.body, audience=draft.audience
            )

    async def send_now(self, admin: OfficeActor, message_id: int) -> BroadcastResult:
        """Confirm: the outbox sends it at its next tick."""
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            if draft is None or draft.draft_step != DraftStep.CONFIRM:
                return await self._gone(session, message_id)
            if not await self._has_list(session):  # a form kept from the preview that refused
                return BroadcastResult(BroadcastStep.NO_LIST, message_id=draft.id)
            now = self._ctx.clock.now()
            reach = await self._reach(session, draft.audience)
            await self._schedule(session, draft, now)
            _audit_sending(session, admin, draft, "broadcast.queued", now)
            result = BroadcastResult(
                BroadcastStep.QUEUED,
                message_id=draft.id,
                number=draft.number,
                reach=reach,
                audience=draft.audience,
            )
        self._ctx.due_now()  # committed: the outbox sends it now, not at its next tick
        return result

    async def ask_time(self, admin: OfficeActor, message_id: int) -> BroadcastResult:
        """The office wants it sent later: ask when."""
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            if draft is None or draft.draft_step != DraftStep.CONFIRM:
                return BroadcastResult(BroadcastStep.GONE)
            if not await self._has_list(session):
                return BroadcastResult(BroadcastStep.NO_LIST, message_id=draft.id)
            draft.draft_step = DraftStep.TIME
            return BroadcastResult(BroadcastStep.ASK_TIME, message_id=draft.id)

    async def schedule(self, admin: OfficeActor, message_id: int, text: str) -> BroadcastResult:
        """Confirm for later with the time in hand (the dashboard's form): a time that cannot be
        taken leaves the draft at its preview, its text and audience kept for another try."""
        async with unit_of_work(self._ctx.sessions) as session:
            draft = await self._draft(session, admin, message_id)
            if draft is None or draft.draft_step != DraftStep.CONFIRM:
                return await self._gone(session, message_id)
            if not await self._has_list(session):
                return BroadcastResult(BroadcastStep.NO_LIST, message_id=draft.id)
            return await self._take_time(session, admin, draft, text)

    async def _take_time(
        self, session: AsyncSession, admin: OfficeActor, draft: OutboundMessage, text: str
    ) -> BroadcastResult:
        meeting = self._ctx.config.meeting
        now = self._ctx.clock.now()
        when = parse_typed_time(text, meeting.local(now))
        if when is None:
            return BroadcastResult(
                BroadcastStep.BAD_TIME, message_id=draft.id, audience=draft.audience
            )
        if when <= now:
            return BroadcastResult(
                BroadcastStep.PAST_TIME, message_id=draft.id, due_at=when, audience=draft.audience
            )
        await self._schedule(session, draft, when)
        _audit_sending(session, admin, draft, "broadcast.scheduled", now)
        reach = await self._reach(session, draft.audience)
        return BroadcastResult(
            BroadcastStep.SCHEDULED,
            message_id=draft.id,
            number=draft.number,
            due_at=when,
            reach=reach,
            audience=draft.audience,
        )

    async def _schedule(
        self, session: AsyncSession, draft: OutboundMessage, when: datetime
    ) -> None:
        """Confirm ``draft`` for ``when``; it becomes the meeting's next notice by number."""
        draft.status = MessageStatus.SCHEDULED
        draft.draft_step = None
        if draft.params and TYPED_ASIDE in draft.params:  # what was typed aside is not sent
            draft.params = {k: v for k, v in draft.params.items() if k != TYPED_ASIDE} or None
        draft.due_at = when
        draft.expires_at = when + BROADCAST_WINDOW
        draft.number = await queries.next_notice_number(session, self._ctx.meeting_id)

    async def cancel(self, admin: OfficeActor, message_id: int | None = None) -> BroadcastResult:
        """Drop a draft, or a scheduled broadcast that has not gone out yet."""
        async with unit_of_work(self._ctx.sessions) as session:
            query = select(OutboundMessage).where(
                OutboundMessage.kind == MessageKind.BROADCAST,
                OutboundMessage.meeting_id == self._ctx.meeting_id,
                OutboundMessage.status.in_([MessageStatus.DRAFT, MessageStatus.SCHEDULED]),
            )
            if message_id is None:
                query = query.where(
                    OutboundMessage.created_by == admin.actor,
                    OutboundMessage.status == MessageStatus.DRAFT,
                )
            else:
                query = query.where(OutboundMessage.id == message_id)
            message = await session.scalar(query)
            if message is None:
                if message_id is None:
                    return BroadcastResult(BroadcastStep.GONE)
                return await self._gone(session, message_id, cancelling=True)
            now = self._ctx.clock.now()
            was_scheduled = message.status == MessageStatus.SCHEDULED
            message.status = MessageStatus.CANCELLED
            message.draft_step = None
            message.finished_at = now
            if was_scheduled and message.due_at is not None:
                # A notice the office had set a time for: the log says that time is gone. A
                # draft dropped before it was confirmed was never a notice, and is not logged.
                queries.add_audit(
                    session,
                    at=now,
                    actor=admin.actor,
                    action="broadcast.cancelled",
                    entity="outbound_message",
                    entity_id=message.id,
                    before={"due_at": message.due_at.isoformat()},
                    after=None,
                )
            step = BroadcastStep.CANCELLED if was_scheduled else BroadcastStep.DROPPED
            return BroadcastResult(step, message_id=message.id, number=message.number)

    async def resend_failed(self, admin: OfficeActor, message_id: int) -> BroadcastResult:
        """Put the deliveries that failed back in the queue; the office gets a new report."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            message = await session.get(OutboundMessage, message_id)
            if (
                message is None
                or message.kind != MessageKind.BROADCAST
                or message.meeting_id != self._ctx.meeting_id
            ):
                return BroadcastResult(BroadcastStep.GONE, message_id=message_id)
            doubted = may_have_arrived()
            failed = list(
                await session.scalars(
                    select(Delivery).where(
                        Delivery.message_id == message_id,
                        Delivery.status == DeliveryStatus.FAILED,
                        ~doubted,
                    )
                )
            )
            # Those that may have it are left: a copy more is what their rule spares them
            # (the report asked the office to phone them instead).
            kept = await session.scalar(
                select(func.count()).where(
                    Delivery.message_id == message_id,
                    Delivery.status == DeliveryStatus.FAILED,
                    doubted,
                )
            )
            if not failed:
                return BroadcastResult(
                    BroadcastStep.NOTHING_TO_RESEND, message_id=message_id, number=message.number,
                    kept=kept or 0,
                )  # fmt: skip
            for delivery in failed:
                delivery.status = DeliveryStatus.PENDING
                delivery.attempts = 0
                delivery.next_attempt_at = now
                delivery.updated_at = now
            message.status = MessageStatus.QUEUED
            message.finished_at = None
            message.expires_at = now + BROADCAST_WINDOW
            message.report_to = admin.report_to or OFFICE_PLACE
            queries.add_audit(
                session,
                at=now,
                actor=admin.actor,
                action="broadcast.resent",
                entity="outbound_message",
                entity_id=message_id,
                before=None,
                after={"deliveries": len(failed)},
            )
            result = BroadcastResult(
                BroadcastStep.RESENT,
                message_id=message_id,
                number=message.number,
                count=len(failed),
                kept=kept or 0,
            )
        self._ctx.due_now()  # committed: the outbox sends them now, not at its next tick
        return result

    async def recent(self, admin: OfficeActor, limit: int = 10) -> list[BroadcastSummary]:
        """Every notice the office gave a number, so none is ever missing without a word:
        the scheduled ones first, in the order they will go (the soonest first, as the
        overview lists them), then the latest ones sent, cancelled or skipped, the highest
        number first; with their delivery counts (every office member's: ``admin`` is the
        proof of asking as the office). By number, not by row: a draft begun first and sent
        second is listed second; ``limit`` keeps the first of that order, so a scheduled one
        is never cut off. A draft has no number yet, and is not listed."""
        scheduled = OutboundMessage.status == MessageStatus.SCHEDULED
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            rows = list(
                await session.scalars(
                    select(OutboundMessage)
                    .where(
                        OutboundMessage.meeting_id == self._ctx.meeting_id,
                        OutboundMessage.kind == MessageKind.BROADCAST,
                        OutboundMessage.number.is_not(None),
                    )
                    .order_by(
                        case((scheduled, 0), else_=1),
                        case((scheduled, OutboundMessage.due_at), else_=None),
                        case((scheduled, OutboundMessage.number), else_=-OutboundMessage.number),
                    )
                    .limit(limit)
                )
            )
            counts: dict[int, Counter[str]] = {row.id: Counter() for row in rows}
            ran_out: Counter[int] = Counter()
            deliveries = await session.execute(
                select(
                    Delivery.message_id,
                    Delivery.status,
                    Delivery.last_error,
                    and_(Delivery.status == DeliveryStatus.FAILED, may_have_arrived()),
                ).where(Delivery.message_id.in_(list(counts)))
            )
            maybe_received: Counter[int] = Counter()
            for message_id, status, error, doubted in deliveries.all():
                counts[message_id][status] += 1
                if status == DeliveryStatus.SKIPPED and error == RAN_OUT:
                    ran_out[message_id] += 1
                maybe_received[message_id] += bool(doubted)
            groups = self._ctx.config.groups
            first_ran_out = {
                message_id: [
                    (code, name)
                    for code, name in await roster.ran_out_people(
                        session, groups, message_id, limit=NAMED_NOT_LINKED
                    )
                ]
                for message_id in ran_out
            }
        return [
            BroadcastSummary(
                id=row.id,
                number=row.number,
                status=MessageStatus(row.status),
                audience=row.audience,
                due_at=row.due_at,
                preview=(row.body or "")[:80],
                deliveries=counts[row.id],
                finished_at=row.finished_at,
                skipped=skip_reason(row.params) if row.status == MessageStatus.SKIPPED else None,
                ran_out=ran_out[row.id],
                first_ran_out=first_ran_out.get(row.id, []),
                maybe_received=maybe_received[row.id],
                due=row.status == MessageStatus.SCHEDULED
                and row.due_at is not None
                and row.due_at <= now,
            )
            for row in rows
            if row.number is not None  # as selected; said again for the type
        ]

    def _valid_audience(self, audience: str) -> bool:
        kind, _, group = audience.partition(":")
        if kind == Audience.GROUP:
            return self._ctx.config.group(group) is not None
        return (
            kind
            in (
                Audience.LINKED,
                Audience.EVERYONE,
                Audience.ATTENDING,
                Audience.PRESENT,
                Audience.NO_ANSWER,
                Audience.DECLINED,
                Audience.CAME,
                Audience.ABSENT,
                Audience.AWAITED,
            )
            and not group
        )

    async def _gone(
        self, session: AsyncSession, message_id: int, *, cancelling: bool = False
    ) -> BroadcastResult:
        """Why a notice is no longer at the step a form or a button was for, as it bears on
        what was asked: a send or a schedule sent twice finds it queued or scheduled already
        (done), a cancel sent twice finds it cancelled (done); a send finding it cancelled, or
        a cancel finding it gone out, could not be done. GONE when it is no notice at all."""
        message = await session.scalar(
            select(OutboundMessage).where(
                OutboundMessage.id == message_id,
                OutboundMessage.meeting_id == self._ctx.meeting_id,
                OutboundMessage.kind == MessageKind.BROADCAST,
            )
        )
        if message is None or message.due_at is None:  # none, or a draft dropped unconfirmed
            return BroadcastResult(BroadcastStep.GONE, message_id=message_id)
        outcomes = _CANCEL_FOUND if cancelling else _SEND_FOUND
        step = outcomes.get(MessageStatus(message.status), BroadcastStep.GONE)
        return BroadcastResult(
            step, message_id=message.id, number=message.number, due_at=message.due_at
        )

    async def _draft(
        self, session: AsyncSession, admin: OfficeActor, message_id: int
    ) -> OutboundMessage | None:
        return await session.scalar(
            select(OutboundMessage).where(OutboundMessage.id == message_id, *self._drafts_of(admin))
        )

    def _drafts_of(self, admin: OfficeActor) -> tuple[ColumnElement[bool], ...]:
        """What picks ``admin``'s unfinished drafts of this meeting (the same account may be
        office staff of another meeting too)."""
        return (
            OutboundMessage.meeting_id == self._ctx.meeting_id,
            OutboundMessage.created_by == admin.actor,
            OutboundMessage.status == MessageStatus.DRAFT,
        )

    async def _has_list(self, session: AsyncSession) -> bool:
        """Whether the delegate list has been imported at all (anyone on it, a withdrawn
        invitation too): before it, every notice's audience is empty."""
        listed = select(Delegate.id).where(roster.listed_of(self._ctx.meeting_id))
        return bool(await session.scalar(select(listed.exists())))

    async def _reach(self, session: AsyncSession, audience: str) -> Reach:
        """Counted by the database: 10,000 invitees are three numbers and ten names. An
        account on a channel this process does not run (linked on Telegram before the chat's
        token was taken away) reaches nobody: its person is counted as the outbox will record
        her, on no chat (a page to read it on, a call)."""
        meeting_id = self._ctx.meeting_id
        members = and_(
            roster.delegates_of(meeting_id), roster.in_audience(audience, self._ctx.figures_day())
        )
        running = self._ctx.chats.names
        how = case(
            (roster.reachable(running), "reachable"),
            (roster.linked(running), "blocked"),
            else_="not_linked",
        ).label("how")
        counts: Counter[str] = Counter(
            dict(
                (
                    await session.execute(
                        select(how, func.count())
                        .select_from(Delegate)
                        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                        .where(members)
                        .group_by(how)
                    )
                ).all()
            )
        )
        first: list[tuple[str, str]] = []
        if counts["not_linked"]:
            order = {group.key: group.order for group in self._ctx.config.groups}
            rows = await session.execute(
                select(Delegate.code, Delegate.full_name)
                .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                .where(members, ~roster.linked(running))
                .order_by(*roster.protocol_key(order))
                .limit(NAMED_NOT_LINKED)
            )
            first = [(code, name) for code, name in rows.all()]
        for_substitute = 0
        substitutes = roster.passed_on(audience, self._ctx.figures_day())
        if substitutes is not None and counts["reachable"]:
            for_substitute = (
                await session.scalar(
                    select(func.count())
                    .select_from(Delegate)
                    .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                    .where(members, roster.reachable(running), substitutes)
                )
                or 0
            )
        return Reach(
            reachable=counts["reachable"],
            blocked=counts["blocked"],
            not_linked=counts["not_linked"],
            first_not_linked=first,
            for_substitute=for_substitute,
        )


def _audit_sending(
    session: AsyncSession, admin: OfficeActor, draft: OutboundMessage, action: str, now: datetime
) -> None:
    """Who sent or scheduled a notice, to whom and for when (never its text)."""
    queries.add_audit(
        session,
        at=now,
        actor=admin.actor,
        action=action,
        entity="outbound_message",
        entity_id=draft.id,
        before=None,
        after={
            "audience": draft.audience,
            "due_at": draft.due_at.isoformat() if draft.due_at else None,
        },
    )


def _take_text(draft: OutboundMessage, text: str) -> BroadcastResult:
    """``text`` as ``draft``'s notice, then its audience to choose; refused when empty or too
    long (measured as it will be sent)."""
    body = typed(text).strip()
    if not body:
        return BroadcastResult(BroadcastStep.EMPTY, message_id=draft.id)
    # Escaped as it will be sent: "&" becomes "&amp;", so count what Telegram counts.
    length = len(html.escape(body, quote=False))
    if length > MAX_BROADCAST:
        # How long it is, said: the office shortens it knowing by how much.
        return BroadcastResult(BroadcastStep.TOO_LONG, message_id=draft.id, count=length)
    draft.body = body
    draft.draft_step = DraftStep.AUDIENCE
    return BroadcastResult(BroadcastStep.ASK_AUDIENCE, message_id=draft.id, body=body)
