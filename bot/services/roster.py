"""The roster as SQL: who belongs to an audience, who can be reached, and protocol order.

The office's figures, the notice preview and the outbox's recipients are asked of the database
as counts, ids and short ordered pages, never by loading every delegate as objects: a meeting
may have 10,000 invitees.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Group
from bot.domain.contact import Contact
from bot.domain.order import LAST
from bot.domain.outbound import RAN_OUT, Audience, DeliveryStatus
from bot.domain.rsvp import DAYS_LENGTH, DAYS_PATTERN, RsvpStatus
from storage import queries
from storage.models import ChannelIdentity, Checkin, Delegate, Delivery, Invitation, Rsvp

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


def to_phone(
    channels: Collection[str] | None = None, person: Any = Delegate.id
) -> ColumnElement[bool]:
    """The office's «cần gọi điện thoại», one rule for every list that names whom to phone:
    no chat that runs (``channels``) reaches her (never linked, blocked, or linked only on a
    chat not run), though her invitation reached her (:func:`invitation_unsent` is not so).
    One whose invitation has not gone out is to be sent it first, not phoned."""
    return and_(~reachable(channels, person), ~invitation_unsent(person))


def contact(channels: Collection[str] | None, *, day_begun: bool) -> ColumnElement[str]:
    """How the office gets word to the invitee (a row of ``Delegate`` in the enclosing query),
    as a :class:`Contact` value — the one rule of the lists that mark a person (drafts, tasks):
    a chat that runs (``channels``) reaches her (:func:`reachable`); else, her invitation not
    gone out (:func:`invitation_to_send`), send it first; else phone her (:func:`to_phone`).
    From the meeting's first day on (``day_begun``: its days and every day after, when the
    office writes its report) sending an invitation is no longer the office's job (the overview
    drops that prompt): whom no chat reaches is phoned. A CASE, so that whether
    the invitation went out is asked of the unreached alone (in an AND, SQLite works out both
    sides)."""
    return _contact(None if channels is None else frozenset(channels), day_begun)


@cache
def _contact(channels: frozenset[str] | None, day_begun: bool) -> ColumnElement[str]:
    """:func:`contact`, built once for each set of chats and day: its making (the invitation's
    subqueries and aliases) on every read of the drafts' lines cost the overview's poll about
    10 ms of its 65 (bench/web.py dashboard, 10,000 invitees)."""
    reached = (reachable(channels), Contact.CHAT.value)
    if day_begun:
        return case(reached, else_=Contact.PHONE.value)
    return case(reached, (invitation_to_send(), Contact.INVITE.value), else_=Contact.PHONE.value)


def invitation_to_send() -> ColumnElement[bool]:
    """An invitee (a row of ``Delegate`` in the enclosing query; a task contact has no
    invitation the office marks sent) whose invitation has not reached her
    (:func:`invitation_unsent`): when no chat reaches her, a list says to send it first, not
    to phone her (:func:`to_phone`)."""
    return and_(Delegate.role == "delegate", invitation_unsent())


def _on(channels: Collection[str] | None) -> tuple[ColumnElement[bool], ...]:
    """An account's channel is one of ``channels`` (None: any)."""
    return () if channels is None else (ChannelIdentity.channel.in_(sorted(channels)),)


def came(day: date | None = None) -> ColumnElement[bool]:
    """The invitee was checked in at the desk, in person or by a substitute, or let in as a
    guest from her card while her invitation was withdrawn (not undone), on meeting day
    ``day`` (None: any — a one-day meeting's one; :meth:`bot.config.Meeting.counting_day`).
    Correlated on the invitee alone: it reads the same in a query that joins her check-in."""
    return (
        exists()
        .where(Checkin.delegate_id == Delegate.id, Checkin.undone_at.is_(None), *_on_day(day))
        .correlate_except(Checkin)
    )


def stood_in(day: date | None = None) -> ColumnElement[bool]:
    """A substitute she sent was checked in in her place (not undone) on meeting day ``day``
    (as :func:`came`): she is counted present, and the one in the hall is the substitute."""
    return (
        exists()
        .where(
            Checkin.delegate_id == Delegate.id,
            Checkin.undone_at.is_(None),
            Checkin.kind == SUBSTITUTE_ARRIVAL,
            *_on_day(day),
        )
        .correlate_except(Checkin)
    )


def _on_day(day: date | None) -> tuple[ColumnElement[bool], ...]:
    """A check-in of meeting day ``day``; no condition for None."""
    return () if day is None else (Checkin.day == day,)


def passed_on(audience: str, day: date | None = None) -> ColumnElement[bool] | None:
    """Of a notice's audience, those who get it for the substitute they sent, None when it
    has no such: to those checked in, one counted present through her substitute; to those
    awaited, or to those who come (before the day too), one counted through the substitute
    she named: the rule :func:`bot.domain.outbound.passed_on_to` gives each copy and page in
    Python."""
    if audience == Audience.CAME:
        return stood_in(day)
    if audience in (Audience.AWAITED, Audience.PRESENT):
        return and_(Rsvp.status == RsvpStatus.SUBSTITUTE.value, Rsvp.substitute_name.is_not(None))
    return None


def expected(day: date | None = None) -> ColumnElement[bool]:
    """The invitee answered she comes or sends a substitute: who the desk expects; on meeting
    day ``day`` (None: any day) only if her «tham dự» names no days or names that one
    (:func:`bot.domain.rsvp.expected_on`, ``rsvps.days`` as stored by
    :func:`bot.domain.rsvp.stored_days`; a value edited by hand into no list of dates is every
    day, as :func:`bot.domain.rsvp.read_days` reads it)."""
    if day is None:
        return Rsvp.status.in_(PRESENT_STATUSES)
    step, rest = DAYS_LENGTH
    shaped = and_(Rsvp.days.regexp_match(DAYS_PATTERN), func.length(Rsvp.days) % step == rest)
    return and_(
        Rsvp.status.in_(PRESENT_STATUSES),
        or_(
            Rsvp.days.is_(None),
            Rsvp.days.contains(day.isoformat(), autoescape=True),
            ~shaped,
        ),
    )


def morning_programme(day: date, dates: Sequence[date], *, by_day: bool) -> ColumnElement[bool]:
    """The morning programme of meeting day ``day`` (of the meeting's ``dates``) goes to her
    (:func:`bot.domain.rsvp.morning_programme_on`): expected that day; for a programme without
    days (not ``by_day``), on none of the meeting's days before it either."""
    earlier = [] if by_day else [on for on in dates if on < day]
    return and_(expected(day), *(~expected(on) for on in earlier))


def awaited(day: date | None = None) -> ColumnElement[bool]:
    """Expected (:func:`expected`) and not checked in yet (on meeting day ``day``, as
    :func:`came`): the «Có mặt» page's «Chưa đến» and the notice audience «Đại biểu dự kiến
    chưa đến» alike."""
    return and_(expected(day), ~came(day))


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


def in_audience(audience: str, day: date | None = None) -> ColumnElement[bool]:
    """Whether a roster row (delegates joined with their RSVP) belongs to ``audience``; the
    audiences that name people some other way (a task, a person, the office) match no one.
    ``day``: the meeting day whose check-ins the audiences by attendance read (:func:`came`)."""
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
            return came(day)
        case Audience.ABSENT:
            return ~came(day)
        case Audience.AWAITED:
            return awaited(day)
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


def invitation_marked(person: Any = Delegate.id) -> ColumnElement[bool]:
    """The invitee (``person``: her id's column in the enclosing query) has her live link
    marked sent by the office."""
    return (
        select(Invitation.id)
        .where(
            Invitation.delegate_id == person,
            Invitation.revoked_at.is_(None),
            Invitation.sent_at.is_not(None),
        )
        .exists()
    )


def invitation_unsent(person: Any = Delegate.id) -> ColumnElement[bool]:
    """The invitee's invitation has not reached her, as far as the office knows: her live link
    is not marked sent, no account of hers is linked, not even her personal page, and she has
    not answered since it was made (the office took her answer by phone)."""
    return and_(
        ~invitation_marked(person), ~linked_since_link(person), ~answered_since_link(person)
    )


def linked_since_link(person: Any) -> ColumnElement[bool]:
    """An account of the invitee ``person`` shows her live invitation reached her (any chat
    account; her personal page when opened since that link was made: :func:`shows_link_reached`)."""
    return (
        select(ChannelIdentity.id)
        .where(ChannelIdentity.delegate_id == person, shows_link_reached())
        .exists()
    )


def answered_since_link(delegate_id: ColumnElement[int] | Any) -> ColumnElement[bool]:
    """The invitee ``delegate_id`` has answered since her live link was made: an answer the
    office recorded (taken by phone) shows the invitation reached her as a page opened does —
    not one given before a reissued link, which says nothing of the new link never sent."""
    answer = aliased(Rsvp)
    return (
        select(answer.id).where(answer.delegate_id == delegate_id, answer_stands(answer)).exists()
    )


def answer_stands(answer: Any) -> ColumnElement[bool]:
    """``answer`` (``Rsvp``, or an alias of it, in the enclosing query) is an answer given
    since her live link was made (as :func:`answered_since_link` asks of an invitee)."""
    return and_(
        answer.status != RsvpStatus.NO_ANSWER.value,
        answer.answered_at.is_not(None),
        ~relinked_after(answer, answer.delegate_id, answer.answered_at),
    )


def relinked_after(row: Any, delegate_id: Any, moment: Any) -> ColumnElement[bool]:
    """A live link of ``delegate_id`` made after ``moment``, both columns of ``row`` in the
    enclosing query: what she did before it says nothing of the reissued link never sent.
    Her own links only: the alias keeps the enclosing query's ``invitations`` out of it."""
    later, revoked = aliased(Invitation), aliased(Invitation)
    newer = (
        select(later.id)
        .where(
            later.delegate_id == delegate_id,
            later.revoked_at.is_(None),
            later.created_at > moment,
        )
        .correlate(row)
        .exists()
    )
    # Her first link is made with her, before anything she does: only one whose link was
    # reissued can have a newer one, so the few reissued are found once and the look-up made
    # for them alone (a CASE: in a value, SQLite works out both sides of an AND).
    reissued = select(revoked.delegate_id).where(revoked.revoked_at.is_not(None))
    return case((delegate_id.in_(reissued), newer), else_=false())


def shows_link_reached() -> ColumnElement[bool]:
    """A linked account (the row of ``ChannelIdentity`` in the enclosing query) shows its
    person's live invitation reached her: any chat account, but a personal page only when it
    was opened after her live link was made — the page an old link opened says nothing of a
    reissued link never sent. Her own links only: the alias keeps the enclosing query's
    ``invitations`` or ``delegates`` out of it."""
    reissued = relinked_after(
        ChannelIdentity, ChannelIdentity.delegate_id, ChannelIdentity.linked_at
    )
    return or_(ChannelIdentity.linked_via != queries.PAGE_LINK, ~reissued)
