"""Who a message goes to: the people an audience names, each with their accounts best first,
and the chats where the office reads its notes. The outbox asks through the ``Audiences`` port.

A person may be linked on several channels. Messages go to the account they used last
(``last_seen_at``, else the latest linked), reachable, on a channel that is running; the others
follow as fallbacks, in the same order, if the first turns out to be blocked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import parse_place
from bot.domain.drafts import DraftStatus
from bot.domain.outbound import OFFICE_PLACE, Audience, audience_deadline
from bot.domain.ports import Account, Addressee, Recipient
from bot.domain.rsvp import expected_on
from bot.services import roster
from bot.services.access import BOOTSTRAP_CHANNEL, Role
from bot.services.context import ServiceContext
from storage.models import (
    ChannelIdentity,
    Delegate,
    PersonRole,
    Rsvp,
    SpeechAssignment,
    Task,
    TaskAssignment,
)
from storage.queries import account_rank


class LinkedAccount(NamedTuple):
    """A linked chat account as plain values: what choosing where to write needs."""

    delegate_id: int
    channel: str
    chat_address: str
    unreachable_at: datetime | None
    unreachable_reason: str | None
    last_seen_at: datetime | None
    linked_at: datetime
    id: int  # the account's row: the newer one wins a tie of times (queries.account_rank)


_ACCOUNT_COLUMNS = tuple(getattr(ChannelIdentity, name) for name in LinkedAccount._fields)


def best_first(idents: Iterable[LinkedAccount], channels: Collection[str]) -> tuple[Account, ...]:
    """A person's accounts on running ``channels``, best first by :func:`account_rank` (the
    roster's rule too): reachable ones first, then the one used last, then the one linked
    last, then the newer."""
    usable = [ident for ident in idents if ident.channel in channels]
    usable.sort(
        key=lambda i: account_rank(i.id, i.unreachable_at, i.last_seen_at, i.linked_at),
        reverse=True,
    )
    return tuple(
        Account(i.channel, i.chat_address, i.unreachable_at is None, i.unreachable_reason)
        for i in usable
    )


class AudienceService:
    """The outbox's ``Audiences``: people of an audience, and the office's places."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def people(
        self,
        session: AsyncSession,
        audience: str,
        channels: Collection[str],
        *,
        day: int | None = None,
    ) -> list[Addressee]:
        """The people of ``audience``, each with their accounts on ``channels``; ``day``: the
        meeting day (1 = the first) a morning programme is for — at a meeting of several days,
        of those who come (:attr:`Audience.PRESENT`) only the ones it is for
        (:func:`roster.morning_programme`): the morning programme of day one is not sent to
        one who answered «tham dự» for day two only («Kính mong đồng chí có mặt đúng giờ» —
        today, not her day), and a programme without days goes to her on day two instead."""
        ids = await self._people_ids(session, audience, day)
        accounts = await self._accounts(session, ids)
        return [Addressee(pid, best_first(accounts.get(pid, ()), channels)) for pid in ids]

    def comes_on(self, recipient: Recipient, day: int) -> bool:
        """Whether ``recipient`` comes on meeting day ``day`` now
        (:func:`bot.domain.rsvp.expected_on`; always at a meeting of one day, where a decline
        is the outbox's own check). Not :func:`bot.domain.rsvp.morning_programme_on`: a
        programme without days queued on her first day still goes if she has since named an
        earlier one too — that morning has passed, and she would have it on none."""
        meeting = self._ctx.config.meeting
        if not meeting.several_days:
            return True
        return expected_on(recipient.rsvp, recipient.days, meeting.day_date(day))

    async def accounts_of(
        self, session: AsyncSession, delegate_id: int, channels: Collection[str]
    ) -> tuple[Account, ...]:
        """A person's accounts on ``channels``, the best one first."""
        accounts = await self._accounts(session, [delegate_id])
        return best_first(accounts.get(delegate_id, ()), channels)

    async def has_list(self, session: AsyncSession, audience: str) -> bool:
        """Whether the list ``audience`` is drawn from has been imported at all (anyone on it,
        a withdrawn invitation too), as against an audience that happens to be empty: the
        invitees' for the audiences of invitees; for a task's, the speakers' or one person's,
        anyone's (the task contacts often come in a file of their own, before the invitees)."""
        meeting_id = self._ctx.meeting_id
        kind = audience.partition(":")[0]
        if kind in (Audience.TASK, Audience.DRAFT_MISSING, Audience.PERSON):
            listed = select(Delegate.id).where(Delegate.meeting_id == meeting_id)
        else:
            listed = select(Delegate.id).where(roster.listed_of(meeting_id))
        return bool(await session.scalar(select(listed.exists())))

    async def places(
        self, session: AsyncSession, report_to: str, channels: Collection[str]
    ) -> list[tuple[str, str]]:
        """The chats ``report_to`` names: one chat (``channel:address``), or for the office its
        group chats where it has any, else each staff member privately on their best account."""
        if report_to != OFFICE_PLACE:
            found = parse_place(report_to)
            return [found] if found is not None and found[0] in channels else []
        office = self._ctx.config.office
        if office.chat_id is not None and BOOTSTRAP_CHANNEL in channels:
            return [(BOOTSTRAP_CHANNEL, str(office.chat_id))]
        staff = list(
            await session.scalars(
                select(PersonRole.person_id)
                .join(Delegate, Delegate.id == PersonRole.person_id)
                .where(Delegate.meeting_id == self._ctx.meeting_id, PersonRole.role == Role.OFFICE)
                .order_by(Delegate.code)
            )
        )
        accounts = await self._accounts(session, staff)
        places: list[tuple[str, str]] = []
        for person_id in staff:
            best = best_first(accounts.get(person_id, ()), channels)
            if best and best[0].reachable:
                places.append((best[0].channel, best[0].chat_address))
        if BOOTSTRAP_CHANNEL in channels:
            for admin_id in office.admin_ids:
                place = (BOOTSTRAP_CHANNEL, str(admin_id))
                if place not in places:
                    places.append(place)
        return places

    async def office_groups(self, channel: str) -> frozenset[str]:
        """The addresses of the office's group chats on ``channel``."""
        chat_id = self._ctx.config.office.chat_id
        if channel == BOOTSTRAP_CHANNEL and chat_id is not None:
            return frozenset({str(chat_id)})
        return frozenset()

    async def _accounts(
        self, session: AsyncSession, person_ids: Sequence[int]
    ) -> dict[int, list[LinkedAccount]]:
        found: dict[int, list[LinkedAccount]] = {}
        for chunk in _chunks(list(dict.fromkeys(person_ids)), 500):
            rows = await session.execute(
                select(*_ACCOUNT_COLUMNS).where(ChannelIdentity.delegate_id.in_(chunk))
            )
            for row in rows:
                account = LinkedAccount._make(row)
                found.setdefault(account.delegate_id, []).append(account)
        return found

    async def anyone(self, session: AsyncSession, audience: str) -> bool:
        """Whether ``audience`` names anyone (on a chat or not): one row looked for, not the
        audience read (at 10,000 invitees, thousands of rows and their accounts)."""
        query = self._people_query(audience)
        return query is not None and await session.scalar(query.order_by(None).limit(1)) is not None

    async def _people_ids(
        self, session: AsyncSession, audience: str, day: int | None = None
    ) -> list[int]:
        """The ids of the people an audience names, in the order messages go out (``day``: as
        :meth:`people`)."""
        query = self._people_query(audience)
        meeting = self._ctx.config.meeting
        if (
            query is not None
            and day is not None
            and meeting.several_days
            and audience == Audience.PRESENT
        ):
            by_day = self._ctx.config.agenda_by_day()
            query = query.where(
                roster.morning_programme(meeting.day_date(day), meeting.dates, by_day=by_day)
            )
        return [] if query is None else _unique(await session.scalars(query))

    def _people_query(self, audience: str) -> Select[Any] | None:
        """The ids of the people an audience names, in the order messages go out (a join
        may name a person twice); None when it names nobody whatever the rows."""
        meeting_id = self._ctx.meeting_id
        kind, _, key = audience.partition(":")
        if kind == Audience.PERSON:
            if not key.isdigit():
                return None
            return select(Delegate.id).where(
                Delegate.id == int(key), Delegate.meeting_id == meeting_id
            )
        if kind == Audience.DRAFT_MISSING:
            query = (
                select(Delegate.id)
                .join(SpeechAssignment, SpeechAssignment.person_id == Delegate.id)
                .where(
                    SpeechAssignment.meeting_id == meeting_id,
                    SpeechAssignment.status == DraftStatus.WAITING,
                    SpeechAssignment.withdrawn_at.is_(None),
                    # Her drafts are no longer taken once her invitation is withdrawn.
                    Delegate.withdrawn_at.is_(None),
                )
                .order_by(Delegate.rank, Delegate.code)
            )
            if (deadline := audience_deadline(audience)) is not None:
                query = query.where(SpeechAssignment.deadline_at == deadline)
            return query
        if kind == Audience.TASK:
            # Assignees who have not reported the task done, while it is open.
            return (
                select(Delegate.id)
                .join(TaskAssignment, TaskAssignment.person_id == Delegate.id)
                .join(Task, Task.id == TaskAssignment.task_id)
                .where(
                    Task.meeting_id == meeting_id,
                    Task.key == key,
                    Task.archived_at.is_(None),
                    Task.closed_at.is_(None),
                    TaskAssignment.status != "done",
                )
            )
        # In protocol order: the outbox queues them so, and its report names whom to phone in
        # the order of /chuatraloi (by the groups' keys, the heads of departments came first
        # and the city's leaders last).
        order = {group.key: group.order for group in self._ctx.config.groups}
        return (
            select(Delegate.id)
            .join(Rsvp, Rsvp.delegate_id == Delegate.id)
            .where(
                roster.delegates_of(meeting_id),
                roster.in_audience(audience, self._ctx.figures_day()),
            )
            .order_by(*roster.protocol_key(order))
        )


def _unique(ids: Iterable[int]) -> list[int]:
    """Each id once, in the order first seen (a join may name a person twice)."""
    return list(dict.fromkeys(ids))


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
