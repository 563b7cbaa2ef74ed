"""Answering the invitation: attend, decline with a reason, or send a substitute.

A decline reason and a substitute's name, position, unit (her delegate's own, a tap) and phone
(optional, a tap to skip) are asked for one message at a time;
what the bot is waiting for is stored on the chat account, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.domain.channels import ChatAccount
from bot.domain.outbound import Audience, DeliveryStatus, MessageKind, MessageStatus
from bot.domain.phones import normalize_phone
from bot.domain.reminders import TO_THOSE_WHO_COME
from bot.domain.rsvp import (
    MAX_REASON,
    MAX_SUBSTITUTE_NAME,
    MAX_SUBSTITUTE_POSITION,
    MAX_SUBSTITUTE_UNIT,
    DayChoice,
    RsvpAnswer,
    RsvpChoice,
    RsvpStatus,
    a_name_alone,
    answers_open,
    morning_programme_on,
    only_days,
    read_days,
    stored_days,
    unit_typed_once,
)
from bot.domain.typed import bare_name, fold, one_line
from bot.services.access import OfficeActor
from bot.services.context import ServiceContext
from bot.services.invitees import Invitee, invited_as, invitees_on, is_herself
from bot.services.queueing import queue_to_person
from bot.services.views import DelegateView, RsvpView
from storage import queries
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage, Rsvp
from storage.uow import unit_of_work

log = logging.getLogger(__name__)


class Awaiting(StrEnum):
    """What the bot asked the delegate to type."""

    DECLINE_REASON = "decline_reason"
    SUBSTITUTE_NAME = "substitute_name"
    SUBSTITUTE_POSITION = "substitute_position"
    SUBSTITUTE_UNIT = "substitute_unit"
    SUBSTITUTE_PHONE = "substitute_phone"


# The questions this service asks (a decline's reason, a substitute's name, position, unit and
# phone).
AWAITING = frozenset(a.value for a in Awaiting)


class RsvpStep(StrEnum):
    """What happened, so the adapter knows what to say."""

    RECORDED = "recorded"
    CONFIRMED = "confirmed"  # nothing changed, but the person finished a step: confirm it
    UNCHANGED = "unchanged"
    CLOSED = "closed"
    NOT_LINKED = "not_linked"
    ASK_REASON = "ask_reason"
    ASK_SUBSTITUTE_NAME = "ask_substitute_name"
    ASK_SUBSTITUTE_POSITION = "ask_substitute_position"
    ASK_SUBSTITUTE_UNIT = "ask_substitute_unit"  # her own unit offered as a tap
    ASK_SUBSTITUTE_PHONE = "ask_substitute_phone"  # optional: a tap skips it
    NOT_A_PHONE = "not_a_phone"  # what was typed for the phone is no number: asked again
    # What was typed for the name is more than a name (:func:`bot.domain.rsvp.a_name_alone`):
    # her position or phone with it. The name is asked again, what was typed said back.
    NOT_A_NAME = "not_a_name"
    # The substitute named is the delegate herself (her name, folded): not taken, the
    # question ended; coming herself is «Tham dự».
    SUBSTITUTE_IS_DELEGATE = "substitute_is_delegate"
    # The substitute named is another invitee of the meeting (her phone, or her name when no
    # phone is given: :func:`invited_as`): she comes on her own invitation, so nothing is
    # recorded (one person counted twice, awaited twice at the desk); the question ended.
    SUBSTITUTE_IS_INVITED = "substitute_is_invited"
    # «Chỉ dự một số ngày»: the meeting's days offered one by one (nothing recorded yet).
    ASK_DAYS = "ask_days"
    CANCELLED = "cancelled"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    DUPLICATE = "duplicate"  # the same message delivered again: already handled
    TOO_LONG = "too_long"
    EMPTY = "empty"
    NOTHING_PENDING = "nothing_pending"
    # A day's button on a message older than her last answer (she declined since, say):
    # nothing recorded, her answer said (a tap that would change nothing is UNCHANGED).
    OUTDATED = "outdated"
    # The office withdrew the person's invitation: no answer is taken (nothing changed).
    WITHDRAWN = "withdrawn"


Tap = tuple[ChatAccount, "RsvpChoice | DayChoice"]


@dataclass(frozen=True)
class RsvpResult:
    """The step reached, the answer as it now stands, and details for the reply."""

    step: RsvpStep
    rsvp: RsvpView | None = None
    previous: RsvpStatus | None = None
    limit: int | None = None
    substitute_name: str | None = None
    # The delegate's own unit (``delegates.organization``): offered for her substitute's, and
    # what a confirmation compares the substitute's with (said only when it differs).
    own_unit: str | None = None
    # What was typed for a phone that is not one (NOT_A_PHONE), or a name that is more than
    # one (NOT_A_NAME).
    typed: str | None = None
    # Taken by the office after the answer deadline (:meth:`RsvpService.record_by_phone`).
    late: bool = False
    # The delegate whose answer this turned from not coming to coming (herself or her
    # substitute): she may be owed what those who come were sent (:func:`_catch_up`).
    came: int | None = None
    # SUBSTITUTE_IS_INVITED: the code of the invitee named (her name, as listed, in
    # ``substitute_name``).
    invitee_code: str | None = None


@dataclass(frozen=True)
class RsvpChange:
    """What :func:`apply_rsvp` decided: whether the answer changed, from what, to what, and the
    audit entry the caller writes (None when nothing changed)."""

    changed: bool
    previous: RsvpStatus
    current: RsvpView
    audit: dict[str, Any] | None = None


def apply_rsvp(
    before: RsvpView, answer: RsvpAnswer, *, delegate_id: int, actor: str, now: datetime
) -> RsvpChange:
    """The answer ``before`` becomes with ``answer`` (itself, if it already is the answer).

    This is the only place an RSVP changes; the caller stores ``current`` and writes the
    returned audit entry (so a batch of answers is stored in one statement each).
    """
    unchanged = (
        before.status == answer.status
        and before.reason == answer.reason
        and before.substitute_name == answer.substitute_name
        and before.substitute_position == answer.substitute_position
        and before.substitute_unit == answer.substitute_unit
        and before.substitute_phone == answer.substitute_phone
        and before.days == answer.days
    )
    if unchanged:
        return RsvpChange(False, before.status, before)
    after = RsvpView(
        status=answer.status,
        reason=answer.reason,
        substitute_name=answer.substitute_name,
        substitute_position=answer.substitute_position,
        answered_at=now,
        substitute_unit=answer.substitute_unit,
        substitute_phone=answer.substitute_phone,
        days=answer.days,
    )
    audit = {
        "at": now,
        "actor": actor,
        "action": "rsvp.changed",
        "entity": "delegate",
        "entity_id": delegate_id,
        "before": _audited(before),
        "after": _audited(after),
    }
    return RsvpChange(True, before.status, after, audit)


@dataclass
class Answering:
    """One delegate's answer and the question the bot asked their account, as a tap or a typed
    answer changes them. Plain values, stored with :func:`_store` (what changed, as table rows)."""

    identity_id: int
    delegate_id: int
    rsvp_id: int
    answer: RsvpView
    pending_input: str | None
    pending_data: dict[str, Any] | None
    answer_changed: bool = False
    pending_changed: bool = False
    withdrawn: bool = False  # the office withdrew the invitation: nothing is taken
    own_unit: str = ""  # the delegate's unit, offered for her substitute's
    own_name: str = ""  # the delegate's name: no substitute of hers is named so
    # The meeting's other invitees the substitute being recorded may be (by her name or her
    # phone), read before the last step decides (:func:`invited_as`).
    others: tuple[Invitee, ...] = ()

    @classmethod
    def of(cls, ident: ChannelIdentity, rsvp: Rsvp, own_unit: str, own_name: str = "") -> Answering:
        """Copy an account and its delegate's RSVP row."""
        return cls(
            ident.id, ident.delegate_id, rsvp.id, RsvpView.of(rsvp),
            ident.pending_input, ident.pending_data, own_unit=own_unit, own_name=own_name,
        )  # fmt: skip


def _audited(view: RsvpView) -> dict[str, Any]:
    return {
        "status": str(view.status),
        "reason": view.reason,
        "substitute_name": view.substitute_name,
        "substitute_position": view.substitute_position,
        "substitute_unit": view.substitute_unit,
        # E.164 in the audit as on the row (the audit log is the office's, not a log file).
        "substitute_phone": view.substitute_phone,
        # The days of «tham dự» at a meeting of several days (absent: every day, so a one-day
        # meeting's entries read as before).
        **({"days": stored_days(view.days)} if view.days is not None else {}),
    }


class RsvpService:
    """Turns button taps and typed answers into recorded RSVPs."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @property
    def deadline(self) -> datetime:
        """When answers become final."""
        return self._ctx.config.meeting.rsvp_deadline_at

    def is_open(self) -> bool:
        """Whether answers may still be given or changed."""
        return answers_open(self._ctx.clock.now(), self.deadline)

    async def choose(self, account: ChatAccount, choice: RsvpChoice | DayChoice) -> RsvpResult:
        """Act on a button: record an answer, or ask for what the answer still needs.

        Taps that arrive while a transaction is being written are decided together in the
        next (:class:`bot.services.batching.GroupCommit`); each still gets its own result.
        """
        return await self._caught_up(
            await self._ctx.writes.submit(self._choose_all, (account, choice))
        )

    def _choose_all(self, connection: Connection, taps: Sequence[Tap]) -> list[RsvpResult]:
        """Decide a batch of taps in ``connection``'s transaction: one read of the accounts with
        their answers, every tap in arrival order, then one write of what changed."""
        meeting_id = self._ctx.meeting_id
        accounts = [_key(account) for account, _ in taps]
        rows = queries.answering_rows_on(connection, accounts, meeting_id)
        linked = {(row.channel, row.external_id): _answering(row) for row in rows}
        for key, (_, choice) in zip(accounts, taps, strict=True):
            answering = linked.get(key)
            if choice is RsvpChoice.SKIP_PHONE and answering is not None:
                answering.others = _others_on(connection, meeting_id, answering, None)
        now, audits = self._ctx.clock.now(), list[dict[str, Any]]()
        results = [
            _with_unit(self._decide(linked.get(key), account, choice, now, audits), linked.get(key))
            for key, (account, choice) in zip(accounts, taps, strict=True)
        ]
        answerings = list(linked.values())
        queries.store_answering_on(connection, **_changes(answerings, now))
        queries.insert_audit_on(connection, meeting_id, audits)
        return results

    def _decide(
        self,
        ident: Answering | None,
        account: ChatAccount,
        choice: RsvpChoice | DayChoice,
        now: datetime,
        audits: list[dict[str, Any]],
    ) -> RsvpResult:
        if ident is None:
            return RsvpResult(RsvpStep.NOT_LINKED)
        current = ident.answer
        if ident.withdrawn:
            _clear(ident)  # a question asked before the withdrawal ends with it
            return RsvpResult(RsvpStep.WITHDRAWN, current)
        if choice is RsvpChoice.CANCEL:
            had_pending = ident.pending_input in AWAITING
            kept = _undo_of(ident) if answers_open(now, self.deadline) else None
            _clear(ident)  # the question ends; the decline is undone only if it still stands
            came = None
            if kept is not None:  # «Hủy» under the reason's question: the decline is undone
                before, answered_at = kept
                undone = self._record(ident, account, before, now, audits)
                if undone.step is RsvpStep.RECORDED:
                    ident.answer = replace(ident.answer, answered_at=answered_at)
                current, came = ident.answer, undone.came
            step = RsvpStep.CANCELLED if had_pending else RsvpStep.NOTHING_TO_CANCEL
            return RsvpResult(step, current, came=came)
        if not answers_open(now, self.deadline):
            _clear(ident)
            return RsvpResult(RsvpStep.CLOSED, current)
        if isinstance(choice, DayChoice):
            return self._day_chosen(ident, account, choice, now, audits)
        if choice is RsvpChoice.SOME_DAYS:
            if self._ctx.config.meeting.days < 2:
                return RsvpResult(RsvpStep.NOTHING_PENDING, current)  # a stale button
            _clear(ident)  # a reason or a name asked before: what she types next is not it
            return RsvpResult(RsvpStep.ASK_DAYS, current)
        if choice is RsvpChoice.DECLINE:
            # The reason is optional, so the decline counts from the tap; a reason typed
            # afterwards is added to it.
            keep_reason = current.reason if current.status is RsvpStatus.DECLINED else None
            answer = RsvpAnswer(RsvpStatus.DECLINED, reason=keep_reason)
            asked = ident.pending_data if ident.pending_input == Awaiting.DECLINE_REASON else None
            result = self._record(ident, account, answer, now, audits)
            # What «Hủy» under the question goes back to: the answer before this decline (a
            # second tap on it, changing nothing, keeps what the first kept).
            if result.step is RsvpStep.RECORDED:
                asked = _undoable(current, ident.answer)
            _await(ident, Awaiting.DECLINE_REASON, asked)
            return RsvpResult(RsvpStep.ASK_REASON, result.rsvp, previous=result.previous)
        if choice is RsvpChoice.SUBSTITUTE:
            _await(ident, Awaiting.SUBSTITUTE_NAME)
            return RsvpResult(RsvpStep.ASK_SUBSTITUTE_NAME, current)
        if choice in (RsvpChoice.SAME_UNIT, RsvpChoice.SKIP_PHONE) and (
            current.status is RsvpStatus.SUBSTITUTE and ident.pending_input not in AWAITING
        ):
            # Tapped twice, or the tap redelivered, just after the substitute was recorded:
            # the answer stands as given (as «Không tham dự» without a reason after it).
            return RsvpResult(RsvpStep.CONFIRMED, current)
        if choice is RsvpChoice.SAME_UNIT:
            if ident.pending_input != Awaiting.SUBSTITUTE_UNIT:
                return RsvpResult(RsvpStep.NOTHING_PENDING, current)  # a stale button
            return self._unit_given(ident, ident.own_unit)
        if choice is RsvpChoice.SKIP_PHONE:
            if ident.pending_input != Awaiting.SUBSTITUTE_PHONE:
                return RsvpResult(RsvpStep.NOTHING_PENDING, current)  # a stale button
            return self._phone_given(ident, account, None, now, audits)
        if choice is RsvpChoice.DECLINE_WITHOUT_REASON:
            if (
                current.status is RsvpStatus.DECLINED
                and ident.pending_input != Awaiting.DECLINE_REASON
            ):
                # The prompt's choice tapped (or typed) after the reason was given: the decline
                # stands as given, reason and all.
                return RsvpResult(RsvpStep.CONFIRMED, current)
            answer = RsvpAnswer(RsvpStatus.DECLINED)
            result = self._record(ident, account, answer, now, audits)
            if result.step is RsvpStep.UNCHANGED:
                return RsvpResult(RsvpStep.CONFIRMED, result.rsvp)
            return result
        answer = RsvpAnswer(RsvpStatus.ATTENDING)
        return self._record(ident, account, answer, now, audits)

    def _day_chosen(
        self,
        ident: Answering,
        account: ChatAccount,
        choice: DayChoice,
        now: datetime,
        audits: list[dict[str, Any]],
    ) -> RsvpResult:
        """«Chỉ ngày 18/12» (or «Thêm ngày 19/12»): «tham dự» on that day only (or on it as
        well as the days her answer names); a day the meeting no longer has is a stale button,
        and one shown under another answer than hers now (``choice.shown``) an outdated one:
        a tap scrolled up to after she declined must not make her come again."""
        dates = self._ctx.config.meeting.dates
        numbers = (choice.number, *choice.also)
        if len(dates) < 2 or not all(0 < number <= len(dates) for number in numbers):
            return RsvpResult(RsvpStep.NOTHING_PENDING, ident.answer)
        chosen = {dates[number - 1] for number in numbers}
        current = ident.answer
        if choice.add and current.status is RsvpStatus.ATTENDING:
            chosen |= set(current.days or dates)
        answer = RsvpAnswer(RsvpStatus.ATTENDING, days=only_days(chosen, dates))
        if choice.shown is not None and choice.shown != current.mark():
            if current.status is RsvpStatus.ATTENDING and current.days == answer.days:
                # The same button tapped twice (or its update delivered again): it holds.
                return RsvpResult(RsvpStep.UNCHANGED, current)
            return RsvpResult(RsvpStep.OUTDATED, current)
        return self._record(ident, account, answer, now, audits)

    async def submit_text(
        self,
        account: ChatAccount,
        text: str,
        *,
        event_id: str | None = None,
        same_unit: str | None = None,
    ) -> RsvpResult:
        """Take a typed reason, substitute name or position, if the bot asked for one.

        ``event_id`` (the channel's identity of the message) recognises a message delivered
        twice, which must not be taken as the answer to the next question. ``same_unit``: the
        words of the «Cùng đơn vị» choice, which typed for the unit mean the delegate's own
        (compared folded: «cung don vi» too).
        """
        async with unit_of_work(self._ctx.sessions) as session:
            answering = await self._typed_answer(session, account, event_id, asked=True)
            if isinstance(answering, RsvpResult):
                return answering
            audits: list[dict[str, Any]] = []
            now = self._ctx.clock.now()
            assert answering.pending_input is not None  # asked: one of AWAITING
            awaiting = Awaiting(answering.pending_input)
            if (
                awaiting is Awaiting.SUBSTITUTE_UNIT
                and same_unit
                and fold(text) == fold(same_unit)
                and answers_open(now, self.deadline)
            ):
                result = self._unit_given(answering, answering.own_unit)
            else:
                if awaiting is Awaiting.SUBSTITUTE_PHONE:  # the last step: who she may be
                    phone = normalize_phone(one_line(text))
                    connection = await session.connection()
                    answering.others = await connection.run_sync(
                        _others_on, self._ctx.meeting_id, answering, phone
                    )
                result = self._typed(answering, awaiting, account, text, now, audits)
            result = _with_unit(result, answering)
            # The ORM flushes only what it changed on her account (recent_events) at commit.
            await _store(session, [answering], now, audits)
        return await self._caught_up(result)

    async def _typed_answer(
        self, session: Any, account: ChatAccount, event_id: str | None, *, asked: bool
    ) -> Answering | RsvpResult:
        """The answer a typed text (``asked``: to the bot's question) or the page's decline
        with its reason works on, or why there is none: not linked, a message delivered twice,
        no question asked, her invitation withdrawn (the question ends with it)."""
        ident = await queries.identity(
            session, self._ctx.meeting_id, account.channel, account.external_id
        )
        if ident is None:
            return RsvpResult(RsvpStep.NOT_LINKED)
        if not queries.first_time(ident, event_id):
            return RsvpResult(RsvpStep.DUPLICATE)
        if asked and ident.pending_input not in AWAITING:  # nothing, or another flow's question
            return RsvpResult(RsvpStep.NOTHING_PENDING)
        rsvp = await queries.rsvp_of(session, ident.delegate_id)
        person = await session.get(Delegate, ident.delegate_id)
        if person is not None and DelegateView.of(person).withdrawn:
            ident.pending_input = ident.pending_data = None  # the question ends with it
            return RsvpResult(RsvpStep.WITHDRAWN, RsvpView.of(rsvp))
        own_unit = person.organization if person is not None else ""
        own_name = person.full_name if person is not None else ""
        return Answering.of(ident, rsvp, own_unit, own_name)

    async def decline_with_reason(
        self, account: ChatAccount, reason: str, *, event_id: str | None = None
    ) -> RsvpResult:
        """A decline and its reason given together (the personal page's one form): one answer,
        recorded once and audited in one entry, by the rules of the chat's two steps (a
        decline, then its reason) — after the deadline, withdrawn, too long: the same answers."""
        async with unit_of_work(self._ctx.sessions) as session:
            answering = await self._typed_answer(session, account, event_id, asked=False)
            if isinstance(answering, RsvpResult):
                return answering
            now, audits = self._ctx.clock.now(), list[dict[str, Any]]()
            value = one_line(reason)
            if not answers_open(now, self.deadline):
                _clear(answering)
                result = RsvpResult(RsvpStep.CLOSED, answering.answer)
            elif len(value) > MAX_REASON:
                result = RsvpResult(RsvpStep.TOO_LONG, answering.answer, limit=MAX_REASON)
            else:
                answer = RsvpAnswer(RsvpStatus.DECLINED, reason=value or None)
                result = self._record(answering, account, answer, now, audits)
            result = _with_unit(result, answering)
            await _store(session, [answering], now, audits)
        return await self._caught_up(result)

    async def record_by_phone(
        self, office: OfficeActor, delegate_id: int, answer: RsvpAnswer
    ) -> RsvpResult:
        """An answer the office took by phone, recorded on the delegate's behalf by the same
        rule (:func:`apply_rsvp`) as an answer given in chat, audited as the staff member's,
        marked as taken by phone.

        The deadline binds the delegates, not the office: a chair who phones after it (ill,
        her deputy comes instead) must be counted, reminded and expected at the desk as she
        now answers. Such an answer is recorded and marked as taken after the deadline
        (``late`` on the result; ``via`` "phone_late" in the audit entry)."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            delegate = await session.get(Delegate, delegate_id)
            if delegate is None or delegate.meeting_id != self._ctx.meeting_id:
                return RsvpResult(RsvpStep.NOT_LINKED)
            row = await queries.rsvp_of(session, delegate_id)
            before = RsvpView.of(row)
            if DelegateView.of(delegate).withdrawn:
                return RsvpResult(RsvpStep.WITHDRAWN, before)
            late = not answers_open(now, self.deadline)
            if answer.substitute_name:
                named = bare_name(answer.substitute_name)
                answer = replace(answer, substitute_name=named)
                if is_herself(named, delegate.full_name):
                    return RsvpResult(
                        RsvpStep.SUBSTITUTE_IS_DELEGATE, before, own_unit=delegate.organization
                    )
                connection = await session.connection()
                others = await connection.run_sync(
                    invitees_on, self._ctx.meeting_id, delegate_id, named,
                    answer.substitute_phone,
                )  # fmt: skip
                invitee = invited_as(
                    others, named, answer.substitute_phone,
                    answer.substitute_unit or delegate.organization,
                )  # fmt: skip
                if invitee is not None:
                    return _is_invited(invitee, before, own_unit=delegate.organization)
            change = apply_rsvp(
                before, answer, delegate_id=delegate_id, actor=office.actor, now=now
            )
            own_unit = delegate.organization
            if not change.changed or change.audit is None:
                return RsvpResult(
                    RsvpStep.UNCHANGED, before, previous=before.status, late=late,
                    own_unit=own_unit,
                )  # fmt: skip
            current = change.current
            row.status, row.reason = str(current.status), current.reason
            row.substitute_name = current.substitute_name
            row.substitute_position = current.substitute_position
            row.substitute_unit = current.substitute_unit
            row.substitute_phone = current.substitute_phone
            row.days = stored_days(current.days)
            row.answered_at, row.updated_at = current.answered_at, now
            # Who took it, and how: the audit's "after" says so beside the answer itself (and
            # that it came after the deadline, which the log and the audit export say in words).
            via = "phone_late" if late else "phone"
            change.audit["after"] = {**change.audit["after"], "via": via, "by": office.name}
            await queries.insert_audit(session, [change.audit])
            caught_up = 0
            if _comes_now(change):
                caught_up = await _catch_up(
                    session, self._ctx.config, self._ctx.meeting_id, delegate_id, now
                )
        if caught_up:
            self._ctx.due_now()  # committed: the outbox sends her copy now, not at its next tick
        return RsvpResult(
            RsvpStep.RECORDED, current, previous=change.previous, late=late, own_unit=own_unit
        )

    def _typed(
        self,
        ident: Answering,
        awaiting: Awaiting,
        account: ChatAccount,
        text: str,
        now: datetime,
        audits: list[dict[str, Any]],
    ) -> RsvpResult:
        """Decide what a typed answer means for the question the account was asked."""
        current = ident.answer
        if not answers_open(now, self.deadline):
            _clear(ident)
            return RsvpResult(RsvpStep.CLOSED, current)
        value = one_line(text)
        if not value:
            return RsvpResult(RsvpStep.EMPTY, current)
        if awaiting is Awaiting.DECLINE_REASON:
            if len(value) > MAX_REASON:
                return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_REASON)
            answer = RsvpAnswer(RsvpStatus.DECLINED, reason=value)
            return self._record(ident, account, answer, now, audits)
        if awaiting is Awaiting.SUBSTITUTE_NAME:
            if not a_name_alone(text):  # the raw text: a line break ends a name too
                return RsvpResult(RsvpStep.NOT_A_NAME, current, typed=value[:80])
            value = bare_name(value)  # «Đồng chí Lê Văn Hùng»: the bot says «đồng chí» itself
            if len(value) > MAX_SUBSTITUTE_NAME:
                return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_SUBSTITUTE_NAME)
            if is_herself(value, ident.own_name):
                _clear(ident)  # she meant «I come»: the three choices again, not a question
                return RsvpResult(RsvpStep.SUBSTITUTE_IS_DELEGATE, current)
            _await(ident, Awaiting.SUBSTITUTE_POSITION, {"name": value})
            return RsvpResult(RsvpStep.ASK_SUBSTITUTE_POSITION, current, substitute_name=value)
        data = dict(ident.pending_data or {})
        name = str(data.get("name", ""))
        if not name:  # the name was lost (an old row): ask again rather than guess
            _await(ident, Awaiting.SUBSTITUTE_NAME)
            return RsvpResult(RsvpStep.ASK_SUBSTITUTE_NAME, current)
        if awaiting is Awaiting.SUBSTITUTE_POSITION:
            if len(value) > MAX_SUBSTITUTE_POSITION:
                return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_SUBSTITUTE_POSITION)
            _await(ident, Awaiting.SUBSTITUTE_UNIT, {**data, "position": value})
            return RsvpResult(RsvpStep.ASK_SUBSTITUTE_UNIT, current, substitute_name=name)
        if awaiting is Awaiting.SUBSTITUTE_UNIT:
            value = unit_typed_once(value, ident.own_unit)  # typed after a box holding hers
            if len(value) > MAX_SUBSTITUTE_UNIT:
                return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_SUBSTITUTE_UNIT)
            return self._unit_given(ident, value)
        phone = normalize_phone(value)
        if phone is None:  # asked again, what was typed said back
            return RsvpResult(
                RsvpStep.NOT_A_PHONE, current, substitute_name=name, typed=value[:40]
            )  # a long paste said back cut, as other typed text is
        return self._phone_given(ident, account, phone, now, audits)

    def _unit_given(self, ident: Answering, unit: str) -> RsvpResult:
        """The substitute's unit is known (typed, or her delegate's own tapped): ask her phone."""
        data = dict(ident.pending_data or {})
        name = str(data.get("name", ""))
        if not name or not data.get("position"):  # lost (an old row): ask again, not guess
            _await(ident, Awaiting.SUBSTITUTE_NAME)
            return RsvpResult(RsvpStep.ASK_SUBSTITUTE_NAME, ident.answer)
        _await(ident, Awaiting.SUBSTITUTE_PHONE, {**data, "unit": unit})
        return RsvpResult(RsvpStep.ASK_SUBSTITUTE_PHONE, ident.answer, substitute_name=name)

    def _phone_given(
        self,
        ident: Answering,
        account: ChatAccount,
        phone: str | None,
        now: datetime,
        audits: list[dict[str, Any]],
    ) -> RsvpResult:
        """The last step: the substitute recorded, with her phone (None: skipped)."""
        data = ident.pending_data or {}
        name, position = str(data.get("name", "")), str(data.get("position", ""))
        unit = str(data.get("unit", "")) or None
        if not name or not position:  # lost (an old row): ask again rather than guess
            _await(ident, Awaiting.SUBSTITUTE_NAME)
            return RsvpResult(RsvpStep.ASK_SUBSTITUTE_NAME, ident.answer)
        invitee = invited_as(ident.others, name, phone, unit or ident.own_unit)
        if invitee is not None:  # she comes on her own invitation: the three choices again
            _clear(ident)
            return _is_invited(invitee, ident.answer)
        answer = RsvpAnswer(
            RsvpStatus.SUBSTITUTE, substitute_name=name, substitute_position=position,
            substitute_unit=unit, substitute_phone=phone,
        )  # fmt: skip
        return self._record(ident, account, answer, now, audits)

    def _record(
        self,
        ident: Answering,
        account: ChatAccount,
        answer: RsvpAnswer,
        now: datetime,
        audits: list[dict[str, Any]],
    ) -> RsvpResult:
        """Record ``answer`` and end the question; the audit entry joins ``audits``."""
        _clear(ident)
        change = apply_rsvp(
            ident.answer, answer, delegate_id=ident.delegate_id, actor=account.actor, now=now
        )
        if change.changed:
            ident.answer, ident.answer_changed = change.current, True
        if change.audit is not None:
            audits.append(change.audit)
        step = RsvpStep.RECORDED if change.changed else RsvpStep.UNCHANGED
        came = ident.delegate_id if _comes_now(change) else None
        return RsvpResult(step, change.current, previous=change.previous, came=came)

    async def _caught_up(self, result: RsvpResult) -> RsvpResult:
        """After an answer in chat or on her page (committed) turned her to coming: queue her
        own copy of what those who come were already sent (:func:`_catch_up`). That can only
        be once the plan's first such message is due, past the deadline in most plans (where
        a delegate can no longer answer): before it, nothing is read."""
        if result.came is None or self._ctx.clock.now() < self._first_pack_at():
            return result
        now = self._ctx.clock.now()
        try:
            async with unit_of_work(self._ctx.sessions) as session:
                caught_up = await _catch_up(
                    session, self._ctx.config, self._ctx.meeting_id, result.came, now
                )
        except SQLAlchemyError as exc:  # her answer stands, recorded: she is told so
            log.warning("a catch-up copy could not be queued: %s", type(exc).__name__)
            return result
        if caught_up:
            self._ctx.due_now()  # committed: the outbox sends her copy now, not at its next tick
        return result

    def _first_pack_at(self) -> datetime:
        """When the plan's first message to those who come is due (never, if it has none)."""
        meeting, reminders = self._ctx.config.meeting, self._ctx.config.reminders
        times = [
            meeting.resolve(spec)
            for spec in (reminders.day_before, reminders.meeting_morning)
            if spec is not None
        ]
        return min(times, default=datetime.max.replace(tzinfo=UTC))


def _is_invited(invitee: Invitee, answer: RsvpView, *, own_unit: str | None = None) -> RsvpResult:
    return RsvpResult(
        RsvpStep.SUBSTITUTE_IS_INVITED, answer, substitute_name=invitee.full_name,
        invitee_code=invitee.code, own_unit=own_unit,
    )  # fmt: skip


def _others_on(
    connection: Connection, meeting_id: int, ident: Answering, phone: str | None
) -> tuple[Invitee, ...]:
    """The invitees the substitute ``ident`` is naming may be, by the name she gave (kept with
    the question) or ``phone``; none when the name was lost (the question is asked again)."""
    name = str((ident.pending_data or {}).get("name", ""))
    if not name:
        return ()
    return invitees_on(connection, meeting_id, ident.delegate_id, name, phone)


def _key(account: ChatAccount) -> tuple[str, str]:
    return account.channel, account.external_id


def _await(ident: Answering, what: Awaiting, data: dict[str, Any] | None = None) -> None:
    ident.pending_input, ident.pending_data, ident.pending_changed = what.value, data, True


def _undoable(replaced: RsvpView, decline: RsvpView) -> dict[str, Any]:
    """The answer a decline replaced, kept with the reason's question to be given back, and
    the decline itself: given back only while it is still the answer (not once the person
    answered again on another account, or the office took an answer by phone)."""
    return {"undo": _kept(replaced), "decline": _kept(decline)}


def _kept(answer: RsvpView) -> dict[str, Any]:
    return {**_audited(answer), "answered_at": _iso(answer.answered_at)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _undo_of(ident: Answering) -> tuple[RsvpAnswer, datetime | None] | None:
    """The answer to give back, and when it had been given, when the reason's question is
    cancelled; None when none is kept (the decline replaced nothing)."""
    if ident.pending_input != Awaiting.DECLINE_REASON:
        return None
    kept = (ident.pending_data or {}).get("undo")
    if not isinstance(kept, dict) or not _still(
        (ident.pending_data or {}).get("decline"), ident.answer
    ):
        return None
    answer = RsvpAnswer(
        RsvpStatus(kept["status"]), kept.get("reason"), kept.get("substitute_name"),
        kept.get("substitute_position"), kept.get("substitute_unit"),
        kept.get("substitute_phone"), read_days(kept.get("days")),
    )  # fmt: skip
    at = kept.get("answered_at")
    return answer, datetime.fromisoformat(at) if at else None


def _still(kept: Any, answer: RsvpView) -> bool:
    """Whether ``answer`` is still the one ``kept`` (``_kept``) when it was given."""
    if not isinstance(kept, dict):
        return False
    at = kept.get("answered_at")
    given = datetime.fromisoformat(at) if at else None  # compared as times: zones may differ
    audited = _audited(answer)
    return given == answer.answered_at and {key: kept.get(key) for key in audited} == audited


def _clear(ident: Answering) -> None:
    # Only the RSVP's own question: a draft being typed or a task note the bot waits for goes
    # on (a tap on the card that changes nothing must not end it).
    if ident.pending_input in AWAITING:
        ident.pending_input, ident.pending_data, ident.pending_changed = None, None, True


def _answering(row: queries.AnsweringRow) -> Answering:
    return Answering(
        row.identity_id, row.delegate_id, row.rsvp_id, RsvpView.of(row),
        row.pending_input, row.pending_data, withdrawn=row.withdrawn_at is not None,
        own_unit=row.organization,
    )  # fmt: skip


def _with_unit(result: RsvpResult, ident: Answering | None) -> RsvpResult:
    """``result`` with the delegate's own unit, for the reply to offer or compare."""
    return result if ident is None else replace(result, own_unit=ident.own_unit)


def _comes_now(change: RsvpChange) -> bool:
    """Whether ``change`` turned the answer from not coming to coming (she or her substitute)."""
    return change.changed and change.current.status.is_present and not change.previous.is_present


# What the plan sends those who come (the pack: time, hall, map, calendar file).
async def _catch_up(
    session: AsyncSession, config: Config, meeting_id: int, delegate_id: int, now: datetime
) -> int:
    """Queue her own copy of each pack already sent to those who come, still worth sending (its
    window open), that she has had no copy of: the office recorded by phone that she (or her
    substitute) comes after all, past the moment the plan's message was sent. A pack she was
    sent, or is being sent, is not sent again; one skipped for her (she had declined
    meanwhile) is. A morning programme of a day not hers is not sent her (a day her «tham dự»
    does not name; for a programme without days, any day but the first she comes: as the
    outbox sends it, :func:`bot.domain.rsvp.morning_programme_on`). Returns how many were
    queued."""
    meeting = config.meeting
    days = read_days(await session.scalar(select(Rsvp.days).where(Rsvp.delegate_id == delegate_id)))
    packs = await session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.meeting_id == meeting_id,
            OutboundMessage.kind.in_(sorted(str(kind) for kind in TO_THOSE_WHO_COME)),
            OutboundMessage.audience == Audience.PRESENT,
            OutboundMessage.status.in_([MessageStatus.QUEUED, MessageStatus.DONE]),
            OutboundMessage.expires_at > now,
        )
    )
    queued = 0
    for pack in packs:
        if pack.kind == MessageKind.MORNING_AGENDA and meeting.several_days:
            day = meeting.day_date(int((pack.params or {}).get("day") or 1))
            by_day = config.agenda_by_day()
            if not morning_programme_on(
                RsvpStatus.ATTENDING, days, day, meeting.dates, by_day=by_day
            ):
                continue
        had = await session.scalar(
            select(Delivery.id)
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(
                OutboundMessage.meeting_id == meeting_id,
                OutboundMessage.kind == pack.kind,
                OutboundMessage.expires_at == pack.expires_at,  # this date's pack, not another's
                OutboundMessage.status != MessageStatus.CANCELLED,
                Delivery.delegate_id == delegate_id,
                Delivery.status != DeliveryStatus.SKIPPED,
            )
            .limit(1)
        )
        waiting = await session.scalar(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.meeting_id == meeting_id,
                OutboundMessage.kind == pack.kind,
                OutboundMessage.audience == f"{Audience.PERSON}:{delegate_id}",
                OutboundMessage.status == MessageStatus.SCHEDULED,
            )
            .limit(1)
        )
        if had is None and waiting is None:
            # No report to the office: it has just spoken to her; if no chat reaches her, the
            # delegate's page and the phone call are how she hears.
            queue_to_person(
                session, meeting_id=meeting_id, kind=MessageKind(pack.kind),
                person_id=delegate_id, now=now, params=_pack_params(pack), report_to=None,
                expires_at=pack.expires_at,
            )  # fmt: skip
            queued += 1
    return queued


def _pack_params(pack: OutboundMessage) -> dict[str, Any]:
    """What her copy of ``pack`` carries of it: the day of a later day's programme (nothing of
    how the plan's message went)."""
    day = (pack.params or {}).get("day")
    return {"day": day} if day is not None else {}


async def _store(
    session: AsyncSession,
    answerings: Iterable[Answering],
    now: datetime,
    audits: list[dict[str, Any]],
) -> None:
    """Write what the decisions changed, one statement per kind, and their audit entries."""
    await queries.store_answering(session, **_changes(list(answerings), now))
    await queries.insert_audit(session, audits)


def _changes(answerings: list[Answering], now: datetime) -> dict[str, list[dict[str, Any]]]:
    """What the decisions changed, as rows: the answers and the questions asked."""
    return {
        "answers": [_answer_row(a, now) for a in answerings if a.answer_changed],
        "questions": [_question_row(a) for a in answerings if a.pending_changed],
    }


def _answer_row(answering: Answering, now: datetime) -> dict[str, Any]:
    answer = answering.answer
    return {
        "rsvp_id": answering.rsvp_id,
        "status": str(answer.status),
        "reason": answer.reason,
        "substitute_name": answer.substitute_name,
        "substitute_position": answer.substitute_position,
        "substitute_unit": answer.substitute_unit,
        "substitute_phone": answer.substitute_phone,
        "days": stored_days(answer.days),
        "answered_at": answer.answered_at,
        "updated_at": now,
    }


def _question_row(answering: Answering) -> dict[str, Any]:
    return {
        "identity_id": answering.identity_id,
        "pending_input": answering.pending_input,
        "pending_data": answering.pending_data,
    }
