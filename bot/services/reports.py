"""What the office sees: counts by answer and group, and who has not answered."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.domain.order import protocol_key
from bot.domain.rsvp import RsvpStatus
from bot.services.context import ServiceContext
from storage import queries
from storage.uow import unit_of_work


@dataclass
class Tally:
    """Answers of a set of delegates."""

    total: int = 0
    linked: int = 0
    by_status: Counter[RsvpStatus] = field(default_factory=Counter)

    def add(self, status: RsvpStatus, *, linked: bool) -> None:
        """Count one more delegate."""
        self.total += 1
        self.linked += linked
        self.by_status[status] += 1

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
    """Delegates of one group who have not answered, in protocol order."""

    key: str
    label: str
    delegates: list[Unanswered]


class ReportService:
    """Reads the roster for the office."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def counts(self) -> Counts:
        """Answers by status, overall and per group, against the hall's capacity."""
        async with unit_of_work(self._ctx.sessions) as session:
            roster = await queries.roster(session, self._ctx.meeting_id)
        overall = Tally()
        per_group: dict[str, Tally] = {group.key: Tally() for group in self._ctx.config.groups}
        for delegate, rsvp, ident in roster:
            for tally in (overall, per_group.setdefault(delegate.group_key, Tally())):
                tally.add(RsvpStatus(rsvp.status), linked=ident is not None)
        return Counts(
            capacity=self._ctx.config.meeting.capacity,
            overall=overall,
            groups=[
                GroupTally(group.key, group.label, per_group[group.key])
                for group in self._ctx.config.groups_in_order
            ],
        )

    async def unanswered(self) -> list[UnansweredGroup]:
        """Delegates with no answer yet, grouped and in protocol order; empty groups left out."""
        order = {group.key: group.order for group in self._ctx.config.groups}
        async with unit_of_work(self._ctx.sessions) as session:
            roster = await queries.roster(session, self._ctx.meeting_id)
        waiting = [
            (delegate, ident is not None)
            for delegate, rsvp, ident in roster
            if rsvp.status == RsvpStatus.NO_ANSWER
        ]
        waiting.sort(key=lambda pair: protocol_key(order)(pair[0]))
        groups: list[UnansweredGroup] = []
        for group in self._ctx.config.groups_in_order:
            members = [
                Unanswered(d.code, d.full_name, d.position, d.organization, linked)
                for d, linked in waiting
                if d.group_key == group.key
            ]
            if members:
                groups.append(UnansweredGroup(group.key, group.label, members))
        return groups
