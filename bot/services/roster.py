"""The roster as SQL: who belongs to an audience, who can be reached, and protocol order.

The office's figures, the notice preview and the outbox's recipients are asked of the database
as counts, ids and short ordered pages, never by loading every delegate as objects: a meeting
may have 10,000 invitees.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Group
from bot.domain.order import LAST
from bot.domain.outbound import RAN_OUT, Audience, DeliveryStatus
from bot.domain.rsvp import RsvpStatus
from storage import queries
from storage.models import ChannelIdentity, Checkin, Delegate, Delivery, Rsvp

PRESENT_STATUSES = tuple(status.value for status in RsvpStatus if status.is_present)
# A check-in's kind when a substitute came in the invitee's place
# (bot.services.checkin.ArrivalKind.SUBSTITUTE: that module imports this one).
SUBSTITUTE_ARRIVAL = "substitute"


def linked(channels: Collection[str] | None = None) -> ColumnElement[bool]:
    """The delegate has an account linked on some chat channel (their own web page reaches
    nobody by message, so it is no link); with ``channels``, on one of them (those running)."""
    return exists().where(
        ChannelIdentity.delegate_id == Delegate.id,
        ChannelIdentity.linked_via != queries.PAGE_LINK,
        *_on(channels),
    )


def reachable(
    channels: Collection[str] | None = None, person: Any = Delegate.id
) -> ColumnElement[bool]:
    """The delegate (``person``: her id's column in the enclosing query) has a linked account
    that has not blocked the bot; with ``channels``, on one of them (those running)."""
    return exists().where(
        ChannelIdentity.delegate_id == person,
        ChannelIdentity.linked_via != queries.PAGE_LINK,
        ChannelIdentity.unreachable_at.is_(None),
        *_on(channels),
    )


def _on(channels: Collection[str] | None) -> tuple[ColumnElement[bool], ...]:
    """An account's channel is one of ``channels`` (None: any)."""
    return () if channels is None else (ChannelIdentity.channel.in_(sorted(channels)),)


def came() -> ColumnElement[bool]:
    """The invitee was checked in at the desk, in person or by a substitute, or let in as a
    guest from her card while her invitation was withdrawn (not undone). Correlated on the
    invitee alone: it reads the same in a query that joins her check-in too."""
    return (
        exists()
        .where(Checkin.delegate_id == Delegate.id, Checkin.undone_at.is_(None))
        .correlate_except(Checkin)
    )


def stood_in() -> ColumnElement[bool]:
    """A substitute she sent was checked in in her place (not undone): she is counted present,
    and the one in the hall is the substitute."""
    return (
        exists()
        .where(
            Checkin.delegate_id == Delegate.id,
            Checkin.undone_at.is_(None),
            Checkin.kind == SUBSTITUTE_ARRIVAL,
        )
        .correlate_except(Checkin)
    )


def passed_on(audience: str) -> ColumnElement[bool] | None:
    """Of a notice's audience, those who get it for the substitute they sent, None when it
    has no such: to those present, one counted present through her substitute; to those
    awaited, one awaited through the substitute she named (the notice composer's rule)."""
    if audience == Audience.CAME:
        return stood_in()
    if audience == Audience.AWAITED:
        return and_(Rsvp.status == RsvpStatus.SUBSTITUTE.value, Rsvp.substitute_name.is_not(None))
    return None


def expected() -> ColumnElement[bool]:
    """The invitee answered she comes or sends a substitute: who the desk expects."""
    return Rsvp.status.in_(PRESENT_STATUSES)


def awaited() -> ColumnElement[bool]:
    """Expected (:func:`expected`) and not checked in yet: the «Có mặt» page's «Chưa đến»
    and the notice audience «Đại biểu dự kiến chưa đến» alike."""
    return and_(expected(), ~came())


def delegates_of(meeting_id: int) -> ColumnElement[bool]:
    """Invitees of the meeting whose invitation stands: every audience, count and document
    asks this (task contacts are not on the roster; a withdrawn invitation is out of it)."""
    return and_(listed_of(meeting_id), invited())


def listed_of(meeting_id: int) -> ColumnElement[bool]:
    """Everyone on the meeting's invitation list, withdrawn invitations too: the lists that
    show a withdrawn person marked («Đã rút giấy mời») rather than hide her."""
    return and_(Delegate.meeting_id == meeting_id, Delegate.role == "delegate")


def invited() -> ColumnElement[bool]:
    """The person's invitation has not been withdrawn."""
    return Delegate.withdrawn_at.is_(None)


def in_audience(audience: str) -> ColumnElement[bool]:
    """Whether a roster row (delegates joined with their RSVP) belongs to ``audience``; the
    audiences that name people some other way (a task, a person, the office) match no one."""
    kind, _, group = audience.partition(":")
    match Audience(kind):
        case Audience.LINKED:
            return linked()
        case Audience.EVERYONE:
            return true()
        case Audience.ATTENDING:
            return Rsvp.status == RsvpStatus.ATTENDING.value
        case Audience.PRESENT:
            return expected()
        case Audience.NO_ANSWER:
            return Rsvp.status == RsvpStatus.NO_ANSWER.value
        case Audience.DECLINED:
            return Rsvp.status == RsvpStatus.DECLINED.value
        case Audience.CAME:
            return came()
        case Audience.ABSENT:
            return ~came()
        case Audience.AWAITED:
            return awaited()
        case Audience.GROUP:
            return Delegate.group_key == group
        case Audience.OFFICE | Audience.TASK | Audience.PERSON | Audience.DRAFT_MISSING:
            return false()


def group_rank(group_order: Mapping[str, int]) -> ColumnElement[int]:
    """A group's place in protocol order; groups the plan does not know go last."""
    return case(dict(group_order), value=Delegate.group_key, else_=LAST)


def protocol_key(group_order: Mapping[str, int]) -> tuple[ColumnElement[Any], ...]:
    """Protocol order as SQL: the plan's group order, then rank (unranked last), then code —
    the order of :func:`bot.domain.order.protocol_key`, with its ``LAST``."""
    rank: ColumnElement[int] = func.coalesce(Delegate.rank, LAST)
    code: ColumnElement[str] = Delegate.code.expression
    return (group_rank(group_order), rank, code)


def after_key(group_order: Mapping[str, int], key: Sequence[Any] | None) -> ColumnElement[bool]:
    """Rows that come after ``key`` (a value of :func:`protocol_key`) in protocol order."""
    if key is None:
        return true()
    group, rank, code = protocol_key(group_order)
    later: ColumnElement[bool] = or_(
        group > key[0],
        and_(group == key[0], rank > key[1]),
        and_(group == key[0], rank == key[1], code > key[2]),
    )
    return later


def key_of(group_order: Mapping[str, int], meeting_id: int, code: str) -> Any:
    """A statement reading the protocol key of the delegate with ``code``, however it was
    typed or written in an address (``?after=db010``): found as
    :func:`storage.queries.code_match` finds every typed code."""
    return queries.code_match(
        select(*protocol_key(group_order)).where(Delegate.meeting_id == meeting_id), code
    )


def ran_out(group_order: Mapping[str, int], message_id: int) -> Any:
    """A statement reading, in protocol order, the people (code, full name) whose copy of the
    message never went because its window closed first (the bot was stopped past it): the
    ones the office must phone."""
    return (
        select(Delegate.code, Delegate.full_name)
        .join(Delivery, Delivery.delegate_id == Delegate.id)
        .where(
            Delivery.message_id == message_id,
            Delivery.status == DeliveryStatus.SKIPPED,
            Delivery.last_error == RAN_OUT,
        )
        .order_by(*protocol_key(group_order))
    )


async def ran_out_people(
    session: AsyncSession,
    groups: Iterable[Group],
    message_id: int,
    *,
    limit: int | None = None,
    columns: Sequence[Any] = (),
) -> list[Any]:
    """The people whose copy of the message ran out (:func:`ran_out`), in protocol order by
    the plan's ``groups``: code, full name and ``columns``, of the first ``limit`` (the few a
    listing names) or, with no ``limit``, of all of them (the report's sheet)."""
    order = {group.key: group.order for group in groups}
    statement = ran_out(order, message_id).add_columns(*columns).limit(limit)
    return list((await session.execute(statement)).all())
