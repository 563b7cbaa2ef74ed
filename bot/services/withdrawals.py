"""Withdrawing an invitation («Rút giấy mời») and giving it back («Mời lại»).

A person the office takes off the invitation list stays in the database, marked: her answer,
history, drafts and task reports are kept, and re-inviting her clears the mark. While it
stands she is out of every audience, count and document (:func:`bot.services.roster.delegates_of`),
the outbox does not send her what was queued before (:mod:`schedules.outbox`), her page and the
chats say the invitation is no longer in effect, and the check-in desk sees it. Both changes
are audited with who made them; a second withdraw or re-invite changes nothing and says so.

Her work for the meeting is not dropped silently: the result names her speech drafts and her
open tasks, which stay hers until the office reassigns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.drafts import DraftStatus
from bot.domain.outbound import (
    OFFICE_PLACE,
    WITHDRAWN_HOLDS_BACK,
    DeliveryStatus,
    MessageKind,
)
from bot.domain.rsvp import MAX_REASON
from bot.domain.typed import one_line
from bot.services.access import OfficeActor
from bot.services.context import ServiceContext
from bot.services.queueing import queue_to_person
from bot.services.tasks import TaskService
from bot.services.views import DelegateView
from storage import queries
from storage.models import (
    Delegate,
    Delivery,
    DraftVersion,
    OutboundMessage,
    SpeechAssignment,
    Task,
    TaskAssignment,
)
from storage.uow import read_only, unit_of_work

T = TypeVar("T")

# The longest reason the office may give (as a decline's).
MAX_WITHDRAW_REASON = MAX_REASON


class WithdrawalStep(StrEnum):
    """How a withdraw or a re-invite ended."""

    WITHDRAWN = "withdrawn"
    ALREADY_WITHDRAWN = "already_withdrawn"  # nothing changed
    REINVITED = "reinvited"
    NOT_WITHDRAWN = "not_withdrawn"  # a re-invite of someone invited: nothing changed
    UNKNOWN_CODE = "unknown_code"
    NOT_INVITED = "not_invited"  # a task contact: there is no invitation to withdraw
    TOO_LONG = "too_long"  # the reason: nothing changed


@dataclass(frozen=True)
class SpeechWork:
    """A speech assignment of the person's, which stays hers until the office reassigns it."""

    theme_key: str
    theme_title: str
    status: DraftStatus
    versions: int


@dataclass(frozen=True)
class TaskWork:
    """An open task the person answers for."""

    key: str
    title: str


@dataclass(frozen=True)
class OpenWork:
    """What the person still has in hand for the meeting."""

    speeches: list[SpeechWork] = field(default_factory=list)
    tasks: list[TaskWork] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.speeches or self.tasks)


@dataclass(frozen=True)
class WithdrawalResult:
    """The step reached, the person as she now stands, and what the office must know."""

    step: WithdrawalStep
    person: DelegateView | None = None
    work: OpenWork = field(default_factory=OpenWork)
    unsent: int = 0  # messages queued for her that will not be sent now
    # Withdrawn: the bot tells her the invitation is no longer in effect. Re-invited: the bot
    # told her so, and nobody has told her otherwise yet.
    told: bool = False


class WithdrawalService:
    """Withdraws and gives back invitations, for the office."""

    def __init__(self, ctx: ServiceContext, tasks: TaskService) -> None:
        self._ctx = ctx
        # A task the plan gives a group is its invitees': it follows a withdrawal and a
        # re-invitation at once (what she reported stays, as when a plan drops a contact).
        self._tasks = tasks

    async def withdraw(
        self, office: OfficeActor, code: str, reason: str | None = None, *, tell: bool = False
    ) -> WithdrawalResult:
        """Take the person with ``code`` off the invitation list, with an optional reason;
        audited as ``office``'s. With ``tell``, the bot also tells her the invitation is no
        longer in effect (the office chooses: by default it tells her itself, as it sees fit).
        Unchanged (ALREADY_WITHDRAWN) if it is withdrawn already."""
        why = one_line(reason or "") or None
        if why is not None and len(why) > MAX_WITHDRAW_REASON:
            return WithdrawalResult(WithdrawalStep.TOO_LONG)
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            person = await _invitee(session, self._ctx.meeting_id, code)
            if isinstance(person, WithdrawalResult):
                return person
            if person.withdrawn_at is not None:
                work = await self._open_work(session, person.id)
                return WithdrawalResult(
                    WithdrawalStep.ALREADY_WITHDRAWN, DelegateView.of(person), work
                )
            person.withdrawn_at, person.withdrawn_reason = now, why
            person.updated_at = now
            unsent = await _waiting_deliveries(session, person.id)
            if tell:
                queue_to_person(
                    session, meeting_id=self._ctx.meeting_id,
                    kind=MessageKind.INVITATION_WITHDRAWN, person_id=person.id, now=now,
                    params={}, report_to=office.report_to or OFFICE_PLACE,
                )  # fmt: skip
            queries.add_audit(
                session, at=now, actor=office.actor, action="invitation.withdrawn",
                entity="delegate", entity_id=person.id, before=None,
                after={"reason": why, "by": office.name or None, "told": tell},
            )  # fmt: skip
            # Her group's tasks leave her with the invitation, in the same transaction.
            await self._tasks.sync_person(session, person)
            withdrawn = DelegateView.of(person)
        if tell:
            self._ctx.due_now()  # committed: the outbox tells her now, not at its next tick
        work = await self.open_work(withdrawn.id)
        return WithdrawalResult(WithdrawalStep.WITHDRAWN, withdrawn, work, unsent, told=tell)

    async def reinvite(self, office: OfficeActor, code: str) -> WithdrawalResult:
        """Give the person with ``code`` her invitation back (her answer as she left it);
        audited. Unchanged (NOT_WITHDRAWN) if it was never withdrawn."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            person = await _invitee(session, self._ctx.meeting_id, code)
            if isinstance(person, WithdrawalResult):
                return person
            if person.withdrawn_at is None:
                return WithdrawalResult(WithdrawalStep.NOT_WITHDRAWN, DelegateView.of(person))
            told = await _told_since(session, person.id, person.withdrawn_at)
            before = {"reason": person.withdrawn_reason, "at": person.withdrawn_at.isoformat()}
            person.withdrawn_at = person.withdrawn_reason = None
            person.updated_at = now
            queries.add_audit(
                session, at=now, actor=office.actor, action="invitation.reinvited",
                entity="delegate", entity_id=person.id, before=before,
                after={"by": office.name or None},
            )  # fmt: skip
            await self._tasks.sync_person(session, person)  # her group's tasks come back
            reinvited = DelegateView.of(person)
        return WithdrawalResult(WithdrawalStep.REINVITED, reinvited, told=told)

    async def open_work(self, person_id: int) -> OpenWork:
        """The speech drafts and open tasks the person has in hand (the dashboard shows them
        beside «Rút giấy mời»)."""
        async with read_only(self._ctx.sessions) as session:
            return await self._open_work(session, person_id)

    async def _open_work(self, session: AsyncSession, person_id: int) -> OpenWork:
        meeting_id = self._ctx.meeting_id
        versions = (
            select(func.count(DraftVersion.id))
            .where(DraftVersion.assignment_id == SpeechAssignment.id)
            .scalar_subquery()
        )
        speeches = await session.execute(
            select(SpeechAssignment.theme_key, SpeechAssignment.status, versions)
            .where(
                SpeechAssignment.meeting_id == meeting_id,
                SpeechAssignment.person_id == person_id,
                SpeechAssignment.withdrawn_at.is_(None),
            )
            .order_by(SpeechAssignment.theme_key)
        )
        tasks = await session.execute(
            select(Task.key, Task.title, TaskAssignment.updated_at)
            .join(TaskAssignment, TaskAssignment.task_id == Task.id)
            .where(
                Task.meeting_id == meeting_id,
                TaskAssignment.person_id == person_id,
                Task.archived_at.is_(None),
                Task.closed_at.is_(None),
            )
            .order_by(Task.key)
        )
        # A task she holds only through her group leaves her with the invitation, unless she
        # has reported on it.
        person = await session.get(Delegate, person_id)
        leaves = set(self._tasks.group_only_tasks(person)) if person is not None else set()
        return OpenWork(
            [
                SpeechWork(key, self._theme_title(key), DraftStatus(status), int(count or 0))
                for key, status, count in speeches
            ],
            [
                TaskWork(key, title)
                for key, title, reported_at in tasks
                if reported_at is not None or key not in leaves
            ],
        )

    def _theme_title(self, key: str) -> str:
        theme = next((t for t in self._ctx.config.themes if t.key == key), None)
        return theme.title if theme is not None else key


async def _invitee(
    session: AsyncSession, meeting_id: int, code: str
) -> Delegate | WithdrawalResult:
    """The invitee with ``code``, or why nothing can be withdrawn or given back for it."""
    person = await queries.delegate_by_code(session, meeting_id, code)
    if person is None:
        return WithdrawalResult(WithdrawalStep.UNKNOWN_CODE)
    if person.role != "delegate":
        return WithdrawalResult(WithdrawalStep.NOT_INVITED, DelegateView.of(person))
    return person


async def _told_since(session: AsyncSession, person_id: int, since: datetime) -> bool:
    """Whether the bot sent the person the message that her invitation was withdrawn, since
    ``since`` (the withdrawal being undone)."""
    told = await session.scalar(
        select(Delivery.id)
        .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
        .where(
            Delivery.delegate_id == person_id,
            Delivery.status == DeliveryStatus.SENT,
            OutboundMessage.kind == MessageKind.INVITATION_WITHDRAWN,
            OutboundMessage.created_at >= since,
        )
        .limit(1)
    )
    return told is not None


async def _waiting_deliveries(session: AsyncSession, person_id: int) -> int:
    """How many messages to the person as an invitee (or asking for her draft) are queued and
    not sent yet (or wait for her to link a chat): the outbox will skip them (it checks each
    recipient as it claims a delivery)."""
    count = await session.scalar(
        select(func.count(Delivery.id))
        .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
        .where(
            Delivery.delegate_id == person_id,
            Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.NOT_LINKED)),
            OutboundMessage.kind.in_(WITHDRAWN_HOLDS_BACK),
        )
    )
    return int(count or 0)


def withdrawal_lines(
    say: Callable[..., T], result: WithdrawalResult, code: str, *, form: str | None = None
) -> list[T]:
    """What the office is told of a withdraw or a re-invite, a line each, written by ``say``
    (the catalog's ``plain`` for the command line, ``html`` for the dashboard): what was done
    or why nothing was, and the work the person still has in hand. ``code``: as typed;
    ``form``: see :func:`work_lines`."""
    person = result.person
    if result.step is WithdrawalStep.UNKNOWN_CODE or person is None:
        return [say("withdrawn.unknown_code", code=code)]
    if result.step is WithdrawalStep.TOO_LONG:
        return [say("withdrawn.too_long", limit=MAX_WITHDRAW_REASON)]
    who = {"name": person.full_name, "code": person.code}
    lines = [say(f"withdrawn.{_SAID[result.step]}", **who)]
    if result.step is WithdrawalStep.WITHDRAWN:
        if person.withdrawn_reason:
            lines.append(say("withdrawn.reason", reason=person.withdrawn_reason))
        if result.unsent:
            lines.append(say("withdrawn.unsent", count=result.unsent))
        lines.append(say("withdrawn.told" if result.told else "withdrawn.not_told"))
    if result.step is WithdrawalStep.REINVITED and result.told:
        lines.append(say("withdrawn.told_before"))
    if result.step in (WithdrawalStep.WITHDRAWN, WithdrawalStep.ALREADY_WITHDRAWN):
        lines += work_lines(say, result.work, person.code, form=form)
    return lines


def work_lines(
    say: Callable[..., T], work: OpenWork, code: str, *, form: str | None = None
) -> list[T]:
    """The speech drafts and open tasks of the person with ``code``, which stay theirs until
    the office reassigns them, and how to (nothing when there are none): a speech with
    ``/phancong``, or, read on the dashboard, with its form at the address ``form``."""
    if not work:
        return []
    how: dict[str, object] = {"code": code} if form is None else {"form": form}
    speeches = [
        say(
            "withdrawn.work_speech" if form is None else "withdrawn.work_speech_form",
            theme=speech.theme_key,
            title=speech.theme_title,
            status=say(f"draft_status.{speech.status.value}"),
            versions=speech.versions,
            **how,
        )
        for speech in work.speeches
    ]
    tasks = [say("withdrawn.work_task", key=task.key, title=task.title) for task in work.tasks]
    return [say("withdrawn.work_title"), *speeches, *tasks]


# The catalog key (under ``withdrawn.``) of each step that names the person.
_SAID = {
    WithdrawalStep.WITHDRAWN: "done",
    WithdrawalStep.ALREADY_WITHDRAWN: "already",
    WithdrawalStep.REINVITED: "reinvited",
    WithdrawalStep.NOT_WITHDRAWN: "not_withdrawn",
    WithdrawalStep.NOT_INVITED: "not_invited",
}
