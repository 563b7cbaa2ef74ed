"""Answering the invitation: attend, decline with a reason, or send a substitute.

A decline reason and a substitute's name and position are asked for one message at a time;
what the bot is waiting for is stored on the chat account, so a restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.rsvp import (
    MAX_REASON,
    MAX_SUBSTITUTE_NAME,
    MAX_SUBSTITUTE_POSITION,
    RsvpAnswer,
    RsvpStatus,
    answers_open,
)
from bot.domain.typed import one_line
from bot.services.context import ServiceContext
from bot.services.invitations import ChatAccount
from bot.services.views import RsvpView
from storage import queries
from storage.models import ChannelIdentity
from storage.uow import unit_of_work


class RsvpChoice(StrEnum):
    """A button the delegate can press."""

    ATTEND = "attend"
    DECLINE = "decline"
    DECLINE_WITHOUT_REASON = "decline_skip"
    SUBSTITUTE = "substitute"
    CANCEL = "cancel"


RSVP_ACTION_PREFIX = "rsvp:"


def rsvp_action(choice: RsvpChoice) -> str:
    """The action data a channel puts on a button for ``choice`` (names no record)."""
    return f"{RSVP_ACTION_PREFIX}{choice.value}"


def parse_rsvp_action(data: str | None) -> RsvpChoice | None:
    """The choice an action names, or None for anything the bot did not send."""
    if not data or not data.startswith(RSVP_ACTION_PREFIX):
        return None
    try:
        return RsvpChoice(data.removeprefix(RSVP_ACTION_PREFIX))
    except ValueError:
        return None


class Awaiting(StrEnum):
    """What the bot asked the delegate to type."""

    DECLINE_REASON = "decline_reason"
    SUBSTITUTE_NAME = "substitute_name"
    SUBSTITUTE_POSITION = "substitute_position"


_AWAITING = frozenset(a.value for a in Awaiting)


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
    CANCELLED = "cancelled"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    DUPLICATE = "duplicate"  # the same message delivered again: already handled
    TOO_LONG = "too_long"
    EMPTY = "empty"
    NOTHING_PENDING = "nothing_pending"


@dataclass(frozen=True)
class RsvpResult:
    """The step reached, the answer as it now stands, and details for the reply."""

    step: RsvpStep
    rsvp: RsvpView | None = None
    previous: RsvpStatus | None = None
    limit: int | None = None
    substitute_name: str | None = None


async def record_rsvp(
    session: AsyncSession, delegate_id: int, answer: RsvpAnswer, *, actor: str, now: datetime
) -> tuple[bool, RsvpStatus, RsvpView]:
    """Store ``answer`` unless it is already the answer; audit the change.

    Returns (changed, previous status, current answer). This is the only place an RSVP changes.
    """
    rsvp = await queries.rsvp_of(session, delegate_id)
    before = RsvpView.of(rsvp)
    unchanged = (
        before.status == answer.status
        and before.reason == answer.reason
        and before.substitute_name == answer.substitute_name
        and before.substitute_position == answer.substitute_position
    )
    if unchanged:
        return False, before.status, before
    rsvp.status = answer.status
    rsvp.reason = answer.reason
    rsvp.substitute_name = answer.substitute_name
    rsvp.substitute_position = answer.substitute_position
    rsvp.answered_at = now
    rsvp.updated_at = now
    queries.add_audit(
        session,
        at=now,
        actor=actor,
        action="rsvp.changed",
        entity="delegate",
        entity_id=delegate_id,
        before=_audited(before),
        after=_audited(RsvpView.of(rsvp)),
    )
    return True, before.status, RsvpView.of(rsvp)


def _audited(view: RsvpView) -> dict[str, Any]:
    return {
        "status": str(view.status),
        "reason": view.reason,
        "substitute_name": view.substitute_name,
        "substitute_position": view.substitute_position,
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

    async def choose(self, account: ChatAccount, choice: RsvpChoice) -> RsvpResult:
        """Act on a button: record an answer, or ask for what the answer still needs."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None:
                return RsvpResult(RsvpStep.NOT_LINKED)
            current = RsvpView.of(await queries.rsvp_of(session, ident.delegate_id))
            if choice is RsvpChoice.CANCEL:
                had_pending = ident.pending_input is not None
                _clear(ident)
                step = RsvpStep.CANCELLED if had_pending else RsvpStep.NOTHING_TO_CANCEL
                return RsvpResult(step, current)
            if not self.is_open():
                _clear(ident)
                return RsvpResult(RsvpStep.CLOSED, current)
            if choice is RsvpChoice.DECLINE:
                # The reason is optional, so the decline counts from the tap; a reason typed
                # afterwards is added to it.
                keep_reason = current.reason if current.status is RsvpStatus.DECLINED else None
                result = await self._record(
                    session, ident, account, RsvpAnswer(RsvpStatus.DECLINED, reason=keep_reason)
                )
                _await(ident, Awaiting.DECLINE_REASON)
                return RsvpResult(RsvpStep.ASK_REASON, result.rsvp, previous=result.previous)
            if choice is RsvpChoice.SUBSTITUTE:
                _await(ident, Awaiting.SUBSTITUTE_NAME)
                return RsvpResult(RsvpStep.ASK_SUBSTITUTE_NAME, current)
            if choice is RsvpChoice.DECLINE_WITHOUT_REASON:
                result = await self._record(
                    session, ident, account, RsvpAnswer(RsvpStatus.DECLINED)
                )
                if result.step is RsvpStep.UNCHANGED:
                    return RsvpResult(RsvpStep.CONFIRMED, result.rsvp)
                return result
            return await self._record(session, ident, account, RsvpAnswer(RsvpStatus.ATTENDING))

    async def submit_text(
        self, account: ChatAccount, text: str, *, message_id: int | None = None
    ) -> RsvpResult:
        """Take a typed reason, substitute name or position, if the bot asked for one.

        ``message_id`` (increasing within a chat) recognises a message delivered twice, which
        must not be taken as the answer to the next question.
        """
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None:
                return RsvpResult(RsvpStep.NOT_LINKED)
            if message_id is not None:
                if ident.last_message_id is not None and message_id <= ident.last_message_id:
                    return RsvpResult(RsvpStep.DUPLICATE)
                ident.last_message_id = message_id
            if ident.pending_input not in _AWAITING:  # nothing, or another flow's question
                return RsvpResult(RsvpStep.NOTHING_PENDING)
            current = RsvpView.of(await queries.rsvp_of(session, ident.delegate_id))
            if not self.is_open():
                _clear(ident)
                return RsvpResult(RsvpStep.CLOSED, current)
            value = one_line(text)
            awaiting = Awaiting(ident.pending_input)
            if not value:
                return RsvpResult(RsvpStep.EMPTY, current)
            if awaiting is Awaiting.DECLINE_REASON:
                if len(value) > MAX_REASON:
                    return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_REASON)
                answer = RsvpAnswer(RsvpStatus.DECLINED, reason=value)
                return await self._record(session, ident, account, answer)
            if awaiting is Awaiting.SUBSTITUTE_NAME:
                if len(value) > MAX_SUBSTITUTE_NAME:
                    return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_SUBSTITUTE_NAME)
                _await(ident, Awaiting.SUBSTITUTE_POSITION, {"name": value})
                return RsvpResult(RsvpStep.ASK_SUBSTITUTE_POSITION, current, substitute_name=value)
            if len(value) > MAX_SUBSTITUTE_POSITION:
                return RsvpResult(RsvpStep.TOO_LONG, current, limit=MAX_SUBSTITUTE_POSITION)
            name = str((ident.pending_data or {}).get("name", ""))
            if not name:  # the name was lost (an old row): ask again rather than guess
                _await(ident, Awaiting.SUBSTITUTE_NAME)
                return RsvpResult(RsvpStep.ASK_SUBSTITUTE_NAME, current)
            answer = RsvpAnswer(
                RsvpStatus.SUBSTITUTE, substitute_name=name, substitute_position=value
            )
            return await self._record(session, ident, account, answer)

    async def _record(
        self,
        session: AsyncSession,
        ident: ChannelIdentity,
        account: ChatAccount,
        answer: RsvpAnswer,
    ) -> RsvpResult:
        _clear(ident)
        changed, previous, current = await record_rsvp(
            session, ident.delegate_id, answer, actor=account.actor, now=self._ctx.clock.now()
        )
        step = RsvpStep.RECORDED if changed else RsvpStep.UNCHANGED
        return RsvpResult(step, current, previous=previous)


def _await(ident: ChannelIdentity, what: Awaiting, data: dict[str, Any] | None = None) -> None:
    ident.pending_input = what.value
    ident.pending_data = data


def _clear(ident: ChannelIdentity) -> None:
    ident.pending_input = None
    ident.pending_data = None
