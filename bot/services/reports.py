"""What the office sees: counts by answer and group, and who has not answered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.domain.rsvp import RsvpStatus, expected_on, read_days
from bot.services import roster
from bot.services.context import ServiceContext
from storage.models import Delegate, Rsvp
from storage.uow import read_only


@dataclass
class Tally:
    """Answers of a set of delegates."""

    total: int = 0
    linked: int = 0
    by_status: Counter[RsvpStatus] = field(default_factory=Counter)

    def add(self, status: RsvpStatus, *, linked: bool, times: int = 1) -> None:
        """Count one more delegate (or ``times`` more alike)."""
        self.total += times
        self.linked += linked * times
        self.by_status[status] += times

    @property
    def present(self) -> int:
        """Seats that will be taken: attending delegates and substitutes."""
        return sum(n for status, n in self.by_status.items() if status.is_present)


@dataclass(frozen=True)
class GroupTally:
    """A group's label and its tally, in protocol order."""

    key: str
    label: str
    tally: Tally


@dataclass(frozen=True)
class Counts:
    """The whole meeting, then group by group."""

    capacity: int
    overall: Tally
    groups: list[GroupTally]
    # At a meeting of several days: each day with how many are expected that day (attending
    # every day or that day among hers, and substitutes); empty for a one-day meeting.
    by_day: tuple[tuple[date, int], ...] = ()


@dataclass(frozen=True)
class Unanswered:
    """A delegate the office may need to phone."""

    code: str
    full_name: str
    position: str
    organization: str
    linked: bool


@dataclass(frozen=True)
class UnansweredGroup:
    """Delegates of one group who have not answered, in protocol order: those on a page of the
    list, and how many the whole group has."""

    key: str
    label: str
    delegates: list[Unanswered]
    total: int


@dataclass(frozen=True)
class UnansweredPage:
    """Part of the list of delegates who have not answered, in protocol order."""

    total: int  # the whole list
    before: int  # how many come before this page
    groups: list[UnansweredGroup]  # the groups with people on this page

    @property
    def people(self) -> int:
        """How many this page holds."""
        return sum(len(group.delegates) for group in self.groups)


def counts_of(
    config: Config,
    rows: Iterable[tuple[str, str, bool, int]],
    days: Iterable[tuple[str, str | None, int]] = (),
) -> Counts:
    """The counts from rows of (group key, answer, linked, how many): overall, then every
    group of the plan in protocol order (groups it no longer has count in the overall only);
    at a meeting of several days, those expected each day from rows of (answer, its days as
    stored, how many)."""
    answers = [(RsvpStatus(status), read_days(stored), number) for status, stored, number in days]
    by_day = tuple(
        (day, sum(n for status, chosen, n in answers if expected_on(status, chosen, day)))
        for day in (config.meeting.dates if config.meeting.several_days else ())
    )
    overall = Tally()
    per_group: dict[str, Tally] = {group.key: Tally() for group in config.groups}
    for group_key, status, linked, number in rows:
        for tally in (overall, per_group.setdefault(group_key, Tally())):
            tally.add(RsvpStatus(status), linked=bool(linked), times=number)
    return Counts(
        capacity=config.meeting.capacity,
        overall=overall,
        groups=[
            GroupTally(group.key, group.label, per_group[group.key])
            for group in config.groups_in_order
        ],
        by_day=by_day,
    )


async def expected_days(
    session: AsyncSession, config: Config, meeting_id: int
) -> list[tuple[str, str | None, int]]:
    """At a meeting of several days, those expected by answer and the days it names (as
    stored), with how many: what :func:`counts_of` spreads over the days; none at a one-day
    meeting (no read)."""
    if not config.meeting.several_days:
        return []
    rows = await session.execute(
        select(Rsvp.status, Rsvp.days, func.count())
        .join(Delegate, Delegate.id == Rsvp.delegate_id)
        .where(roster.delegates_of(meeting_id), roster.expected())
        .group_by(Rsvp.status, Rsvp.days)
    )
    return [(status, days, number) for status, days, number in rows.all()]


class ReportService:
    """Reads the roster for the office: counts and short pages, never the whole roster."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def counts(self) -> Counts:
        """Answers by status, overall and per group, against the hall's capacity; linked: on a
        chat that runs here (as a notice's preview and the overview count her: an account on
        one that does not, linked before its token was taken away, reaches nobody); a command
        beside the service (``report``) counts every chat (:attr:`RunningChats.linked_on`)."""
        is_linked = roster.linked(self._ctx.chats.linked_on).label("linked")
        async with read_only(self._ctx.sessions) as session:
            rows = await session.execute(
                select(Delegate.group_key, Rsvp.status, is_linked, func.count())
                .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                .where(roster.delegates_of(self._ctx.meeting_id))
                .group_by(Delegate.group_key, Rsvp.status, is_linked)
            )
            found = rows.all()
            days = await expected_days(session, self._ctx.config, self._ctx.meeting_id)
        return counts_of(self._ctx.config, found, days)

    async def ran_out(self, message_id: int, *, limit: int) -> list[tuple[str, str]]:
        """The first ``limit`` people (code, full name), in protocol order, whose copy of the
        message never went because its window closed first: the ones the office phones."""
        async with read_only(self._ctx.sessions) as session:
            rows = await roster.ran_out_people(
                session, self._ctx.config.groups, message_id, limit=limit
            )
        return [(code, name) for code, name in rows]

    async def unanswered(self, *, limit: int, after: str | None = None) -> UnansweredPage:
        """Up to ``limit`` delegates with no answer yet, in protocol order, from the one after
        the delegate coded ``after`` (from the first without it), grouped; delegates of groups
        the plan no longer has are left out, as the office's counts leave them out. Linked: on
        a chat that runs here, as :meth:`counts` counts her."""
        config, meeting_id = self._ctx.config, self._ctx.meeting_id
        order = {group.key: group.order for group in config.groups}
        waiting = and_(
            roster.delegates_of(meeting_id),
            Rsvp.status == RsvpStatus.NO_ANSWER.value,
            Delegate.group_key.in_(list(order)),
        )
        async with read_only(self._ctx.sessions) as session:
            per_group = dict(
                (
                    await session.execute(
                        select(Delegate.group_key, func.count())
                        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                        .where(waiting)
                        .group_by(Delegate.group_key)
                    )
                ).all()
            )
            key = None
            if after is not None:
                found = (await session.execute(roster.key_of(order, meeting_id, after))).first()
                key = None if found is None else tuple(found)
            before = 0
            if key is not None:
                before = (
                    await session.scalar(
                        select(func.count())
                        .select_from(Delegate)
                        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                        .where(waiting, ~roster.after_key(order, key))
                    )
                    or 0
                )
            rows = (
                await session.execute(
                    select(
                        Delegate.code,
                        Delegate.full_name,
                        Delegate.position,
                        Delegate.organization,
                        Delegate.group_key,
                        roster.linked(self._ctx.chats.names),
                    )
                    .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                    .where(waiting, roster.after_key(order, key))
                    .order_by(*roster.protocol_key(order))
                    .limit(limit)
                )
            ).all()
        people: dict[str, list[Unanswered]] = {}
        for code, full_name, position, organization, group_key, linked in rows:
            people.setdefault(group_key, []).append(
                Unanswered(code, full_name, position, organization, bool(linked))
            )
        return UnansweredPage(
            total=sum(per_group.values()),
            before=before,
            groups=[
                UnansweredGroup(group.key, group.label, people[group.key], per_group[group.key])
                for group in config.groups_in_order
                if group.key in people
            ],
        )
