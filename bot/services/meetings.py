"""The meeting row that anchors delegates; kept in step with the config.

The row also keeps the revision of the meeting's calendar event. Delegates import the ``.ics``
file (``/lich``, the morning pack) into their calendars, and a calendar app replaces an event
it already holds (same UID) only with a newer revision: a higher SEQUENCE, or the same one with
a later DTSTAMP (RFC 5546). So each time the plan changes what the event says (its time, its
venue, its programme), SEQUENCE goes up by one and DTSTAMP becomes the time the change was
seen. A meeting moved earlier then moves in the delegates' calendars too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import Connection, Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Subquery

from bot.config import AgendaItem, Config, ConfigProblem, fixed_deadlines
from bot.domain.clock import Clock
from bot.domain.drafts import OWN_DEADLINE
from bot.domain.ics import CalendarEvent, build_ics
from bot.domain.outbound import DeliveryStatus
from bot.domain.reminders import DATED_KINDS
from bot.domain.rsvp import RsvpStatus, days_readable, read_days
from bot.services import roster
from bot.services.invitees import invited_as, invitees_on
from bot.texts import Catalog, load_catalog
from storage import queries
from storage.models import (
    AuditEntry,
    Checkin,
    Delegate,
    Delivery,
    Meeting,
    OutboundMessage,
    Rsvp,
    SpeechAssignment,
)
from storage.uow import reading, unit_of_work


@dataclass(frozen=True)
class CalendarRevision:
    """Which revision of the meeting's event an ``.ics`` file carries."""

    sequence: int
    revised_at: datetime


@dataclass(frozen=True)
class SyncedMeeting:
    """The meeting row as the plan left it: its id and its calendar event's revision."""

    id: int
    calendar: CalendarRevision


@dataclass(frozen=True)
class StoredMeeting:
    """What the database says of the meeting with a plan's code: its title and start, how
    many delegates the bot has told that date (:data:`bot.domain.reminders.DATED_KINDS`), and
    the deadlines the office gave speakers of their own (one per assignment in force)."""

    code: str
    title: str
    starts_at: datetime
    told_the_date: int = 0
    own_deadlines: tuple[datetime, ...] = ()
    # The speakers with those deadlines, by deadline, then theme and code.
    own_speakers: tuple[OwnDeadline, ...] = ()
    # Its check-ins in force, and the installation's clock when the row was read: whether the
    # meeting has taken place (:meth:`held`).
    checked_in: int = 0
    read_at: datetime | None = field(default=None, compare=False)
    # The answers «tham dự» for some days only (``rsvps.days`` as stored) with how many gave
    # each: the plan's days may since have moved away from them (:func:`answered_days_gone`).
    answered_days: tuple[tuple[str, int], ...] = ()
    # The ids of the ``rsvps`` rows whose days do not read (edited by hand): read as every day
    # (:func:`bot.domain.rsvp.read_days`), named to whoever can mend them.
    unreadable_days: tuple[int, ...] = ()
    # The answers «cử người dự thay» whose substitute is another invitee of the meeting (she
    # comes on her own invitation: counted twice, awaited twice at the desk), as (the
    # delegate's code, the invitee's code): recorded before the answer refused it.
    invited_substitutes: tuple[tuple[str, str], ...] = ()

    def held(self, config: Config) -> bool:
        """Whether the stored meeting has taken place: someone checked in, or its end (its
        stored start plus the plan's length: the row keeps no end) is past by the clock it was
        read with. Such a meeting is never the plan's by an edit of its title or date."""
        if self.checked_in:
            return True
        if self.read_at is None:
            return False
        meeting = config.meeting
        return self.read_at >= self.starts_at + (meeting.ends_at - meeting.starts_at)


@dataclass(frozen=True)
class OwnDeadline:
    """A speaker given a deadline of her own (an assignment in force): who, on which theme, the
    deadline, and when she was assigned (her reminders are those still to come then)."""

    code: str
    full_name: str
    theme_key: str
    deadline_at: datetime
    assigned_at: datetime


def own_deadline_assignments(meeting_id: int) -> Subquery:
    """The assignments in force with a deadline the office gave of its own, one row each:
    ``id``, ``person_id``, ``theme_key``, ``deadline_at``, and ``assigned_at``, when the speaker
    was assigned as her reminders are planned: the last «draft.assigned» of the row in the log
    (a speaker assigned again: that time), else its creation; not its last update (a comment,
    say), which would drop a reminder due in between and still to go. The one reading of them,
    for the scheduler (:meth:`bot.services.drafts.assignments.Assignments.own_deadlines`) and
    for ``hoinghi check`` (:func:`stored_meeting`), so that check lists the reminders the
    scheduler plans."""
    announced = (
        select(AuditEntry.entity_id, func.max(AuditEntry.at).label("at"))
        .where(AuditEntry.action == "draft.assigned", AuditEntry.entity == "speech_assignment")
        .group_by(AuditEntry.entity_id)
        .subquery()
    )
    return (
        select(
            SpeechAssignment.id,
            SpeechAssignment.person_id,
            SpeechAssignment.theme_key,
            SpeechAssignment.deadline_at,
            func.coalesce(announced.c.at, SpeechAssignment.created_at).label("assigned_at"),
        )
        .outerjoin(announced, announced.c.entity_id == SpeechAssignment.id)
        .where(
            SpeechAssignment.meeting_id == meeting_id,
            SpeechAssignment.source == OWN_DEADLINE,
            SpeechAssignment.withdrawn_at.is_(None),
        )
        .subquery("own_deadline")
    )


class CodeTaken(Exception):
    """The plan's code names a meeting the database holds under another title and another
    start, or a meeting that has taken place under another title or start: most likely another
    meeting's plan copied with its code (:func:`another_meeting`). Raised by
    :func:`sync_meeting` before it writes anything, unless the office confirms that it is the
    same meeting (``same_meeting``)."""

    def __init__(self, stored: StoredMeeting) -> None:
        super().__init__(stored.code)
        self.stored = stored


def another_meeting(stored: StoredMeeting | None, config: Config) -> StoredMeeting | None:
    """``stored`` when the plan seems to describe another meeting under its code: both its title
    and its start differ from the row's. A plan edit changes one of them (a new title, or the
    meeting postponed), rarely both at once; a copied plan changes both. A meeting that has
    taken place (:meth:`StoredMeeting.held`) is neither renamed nor postponed: either one
    changed is another meeting, or the copied plan edited one line at a time would turn the
    finished meeting's row, its people and its record into the next one's."""
    if stored is None:
        return None
    meeting = config.meeting
    title, start = stored.title != meeting.title, stored.starts_at != meeting.starts_at
    if title and start:
        return stored
    if (title or start) and stored.held(config):
        return stored
    return None


def _invited_substitutes(connection: Connection, meeting_id: int) -> tuple[tuple[str, str], ...]:
    """The substitutes standing (invitation in force) who are another invitee of the meeting,
    by :func:`bot.services.invitees.invited_as` (her phone, or her name and unit without one): a few
    substitutes in a meeting, each compared with the few invitees of her name or phone."""
    substitutes = connection.execute(
        select(
            Delegate.id,
            Delegate.code,
            Delegate.organization,
            Rsvp.substitute_name,
            Rsvp.substitute_phone,
            Rsvp.substitute_unit,
        )
        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
        .where(
            roster.listed_of(meeting_id),
            roster.invited(),
            Rsvp.status == RsvpStatus.SUBSTITUTE.value,
            Rsvp.substitute_name.is_not(None),
        )
        .order_by(Delegate.code)
    ).all()
    found = []
    for delegate_id, code, own_unit, named, phone, unit in substitutes:
        name = named or ""  # not None: the query says so
        others = invitees_on(connection, meeting_id, delegate_id, name, phone)
        invitee = invited_as(others, name, phone, unit or own_unit)
        if invitee is not None:
            found.append((code, invitee.code))
    return tuple(found)


def invited_substitutes(stored: StoredMeeting | None) -> list[ConfigProblem]:
    """The answers recorded before a substitute who is herself invited was refused
    (:data:`bot.services.rsvp.RsvpStep.SUBSTITUTE_IS_INVITED`), by codes (no one's name: this
    goes to the log too): the office phones the delegate and records her answer again."""
    if stored is None or not stored.invited_substitutes:
        return []
    pairs = ", ".join(f"{code} → {invitee}" for code, invitee in stored.invited_substitutes)
    params = {"count": len(stored.invited_substitutes), "pairs": pairs}
    return [ConfigProblem("rsvps.substitute_name", "invited_substitutes", params)]


def _checked_in(meeting_id: int) -> Select[int]:
    """How many check-ins in force the meeting has (a meeting with any has taken place)."""
    return select(func.count(Checkin.id)).where(
        Checkin.meeting_id == meeting_id, Checkin.undone_at.is_(None)
    )


async def stored_meeting(
    sessions: async_sessionmaker[AsyncSession], code: str, now: datetime | None = None
) -> StoredMeeting | None:
    """The title and start the database holds for the meeting with ``code``, if any (read only:
    for ``hoinghi check``, which changes nothing); ``now`` is the clock whether it has taken
    place is judged by."""

    def read(connection: Connection) -> StoredMeeting | None:
        query = select(Meeting.id, Meeting.title, Meeting.starts_at).where(Meeting.code == code)
        row = connection.execute(query).first()
        if row is None:
            return None
        told = (
            select(func.count(distinct(Delivery.delegate_id)))
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(
                OutboundMessage.meeting_id == row.id,
                OutboundMessage.kind.in_(DATED_KINDS),
                Delivery.status == DeliveryStatus.SENT,
            )
        )
        own = own_deadline_assignments(row.id)  # as the scheduler reads them
        speakers_of = (  # one per speaker and theme
            select(
                Delegate.code,
                Delegate.full_name,
                own.c.theme_key,
                own.c.deadline_at,
                own.c.assigned_at,
            )
            .select_from(own)
            .join(Delegate, Delegate.id == own.c.person_id)
        )
        speakers = sorted(
            (OwnDeadline(*found) for found in connection.execute(speakers_of)),
            key=lambda one: (one.deadline_at, one.theme_key, one.code),
        )
        answered_days = (
            select(Rsvp.days, func.count())
            .join(Delegate, Delegate.id == Rsvp.delegate_id)
            .where(roster.delegates_of(row.id), Rsvp.days.is_not(None))
            .group_by(Rsvp.days)
        )
        answered = tuple((days or "", number) for days, number in connection.execute(answered_days))
        unreadable = [days for days, _ in answered if not days_readable(days)]
        rows = select(Rsvp.id).join(Delegate, Delegate.id == Rsvp.delegate_id)
        rows = rows.where(roster.delegates_of(row.id), Rsvp.days.in_(unreadable))
        return StoredMeeting(
            code,
            row.title,
            row.starts_at,
            connection.execute(told).scalar_one(),
            tuple(sorted(one.deadline_at for one in speakers)),
            tuple(speakers),
            connection.execute(_checked_in(row.id)).scalar_one(),
            now,
            answered,
            tuple(connection.scalars(rows.order_by(Rsvp.id))) if unreadable else (),
            _invited_substitutes(connection, row.id),
        )

    return await reading(sessions, read)


async def meeting_titles(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Every meeting the database holds, its code to its title (read only)."""

    def read(connection: Connection) -> dict[str, str]:
        rows = connection.execute(select(Meeting.code, Meeting.title))
        return {code: title for code, title in rows}

    return await reading(sessions, read)


def date_moved(stored: StoredMeeting | None, config: Config) -> list[ConfigProblem]:
    """What the office must hear when the plan moves the meeting the database holds: the dates,
    how many were told the old one (the bot re-times its own reminders but tells nobody the
    meeting moved), and the deadlines written as dates, which stay where they were (those the
    office gave speakers of their own: :func:`own_deadlines_after_start`)."""
    meeting = config.meeting
    if stored is None or stored.starts_at == meeting.starts_at:
        return []
    if another_meeting(stored, config) is not None:
        return []  # another meeting's row: said by CodeTaken, not as a move
    told = stored.told_the_date
    # Within the same day the messages sent stay true and are not sent again (a message is
    # keyed by the day it is timed from: bot.domain.reminders.PlannedMessage), and the
    # deadlines written as dates matter only if the new start passed them.
    same_day = meeting.local(stored.starts_at).date() == meeting.local(meeting.starts_at).date()
    what = "meeting_hour_moved" if same_day else "meeting_moved"
    moved = ConfigProblem(
        "meeting.starts_at",
        f"{what}_told" if told else what,
        {"old": stored.starts_at, "new": meeting.starts_at, "count": told},
    )
    deadlines = fixed_deadlines(config)
    if same_day:
        deadlines = [one for one in deadlines if one.code == "deadline_after_start"]
    return [moved, *deadlines]


def answered_days_gone(stored: StoredMeeting | None, config: Config) -> list[ConfigProblem]:
    """The answers «tham dự» for some days only that name a day the plan's meeting no longer
    has (it was moved, or shortened), counted: the office must hear of them, as their days
    are kept as dates — such a delegate is expected on none of the days she named, so she is
    in no day's «dự kiến» nor «Chưa đến» until she answers again."""
    if stored is None or another_meeting(stored, config) is not None:
        return []
    dates = set(config.meeting.dates)
    gone = sum(
        number for days, number in stored.answered_days if not set(read_days(days) or ()) <= dates
    )
    if not gone:
        return []
    return [ConfigProblem("meeting.starts_at", "answered_days_gone", {"count": gone})]


def answered_days_unreadable(stored: StoredMeeting | None) -> list[ConfigProblem]:
    """The answers whose stored days do not read (``rsvps.days`` edited by hand), by their
    rows' ids (no one's name or words: this goes to the log too): the bot reads them as every
    day, and whoever edited them should know."""
    if stored is None or not stored.unreadable_days:
        return []
    rows = ", ".join(str(row) for row in stored.unreadable_days)
    params = {"count": len(stored.unreadable_days), "rows": rows}
    return [ConfigProblem("rsvps.days", "answered_days_unreadable", params)]


def own_deadlines_after_start(stored: StoredMeeting | None, config: Config) -> list[ConfigProblem]:
    """The deadlines the office gave speakers of their own (assignments in force) that are at or
    after the meeting's start, said in one warning: a date, they stay where they are when the
    plan brings the meeting forward (the start then said as new), and the check says them as
    long as they are not corrected, not only until ``run`` has stored the new start."""
    meeting = config.meeting
    if stored is None or another_meeting(stored, config) is not None:
        return []
    after = [deadline for deadline in stored.own_deadlines if deadline >= meeting.starts_at]
    if not after:
        return []
    code = (
        "own_deadlines_after_start"
        if stored.starts_at != meeting.starts_at
        else "own_deadlines_at_or_after_start"
    )
    params = {"count": len(after), "deadline": max(after), "start": meeting.starts_at}
    return [ConfigProblem("drafts", code, params)]


def _events(config: Config, catalog: Catalog, revision: CalendarRevision) -> list[CalendarEvent]:
    """The meeting as calendar events: one from its start to its end; a meeting of several
    days one a day, so that no calendar shows the delegate busy all night and each morning
    has its alarm, titled with its day («… — ngày 1/2»): the day's programme (its items alone,
    from its first to its last) when the programme says its days, else the meeting's hours
    (from its start's time to its end's) and the whole programme each day. The first day's
    UID is the one-day meeting's, the others' say the day's number, never its date: a moved
    meeting updates them all. A day the plan no longer has (a meeting shortened from three
    days to two) is not in the file: the meeting's row does not keep how many days it had, so
    its UID cannot be said cancelled; a calendar that imported it keeps it (docs: the guide)."""
    whole = _event(config, catalog.plain("ics.organizer"), revision)
    meeting = config.meeting
    opens, closes = meeting.local(meeting.starts_at).time(), meeting.local(meeting.ends_at).time()
    if not meeting.several_days or closes <= opens:
        return [whole]
    days = range(1, meeting.days + 1)
    described = {day: whole.description for day in days}
    if config.agenda_by_day():
        programme = dict(config.agenda_days())
        for day in days:
            # A day without items (the programme begins on day two): no programme to give.
            items = programme.get(day)
            described[day] = (
                _description(config, [(day, items)], by_day=True) if items else meeting.title
            )
    events = []
    for day in days:
        starts_at, ends_at = config.day_hours(day)
        title = catalog.plain("ics.day_title", title=whole.title, day=day, days=meeting.days)
        events.append(
            replace(
                whole,
                uid=whole.uid if day == 1 else f"{meeting.code}-ngay-{day}@hoinghi",
                title=title,
                starts_at=starts_at,
                ends_at=ends_at,
                description=described[day],
            )
        )
    return events


def _event(config: Config, organizer_label: str, revision: CalendarRevision) -> CalendarEvent:
    """The meeting as one calendar event (``organizer_label`` comes from the text catalog)."""
    meeting = config.meeting
    description = _description(config, config.agenda_days(), by_day=config.agenda_by_day())
    return CalendarEvent(
        uid=f"{meeting.code}@hoinghi",
        title=meeting.display_title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        timezone=meeting.timezone,
        location=f"{meeting.venue.name}, {meeting.venue.address}",
        description=description,
        latitude=meeting.venue.latitude,
        longitude=meeting.venue.longitude,
        organizer_name=meeting.organizer,
        organizer_label=organizer_label,
        url=meeting.venue.map_url,
        sequence=revision.sequence,
        stamp=revision.revised_at,
    )


def _description(config: Config, days: list[tuple[int, list[AgendaItem]]], *, by_day: bool) -> str:
    """The meeting's title and the programme of ``days``, each under its date when
    ``by_day`` (in figures: no catalog here)."""
    meeting = config.meeting
    lines = [meeting.title, ""]
    for day, items in days:
        if by_day:
            date = meeting.day_date(day)
            lines.append(f"{date.day}/{date.month}/{date.year}:")
        lines += [f"{item.start:%H:%M}–{item.end:%H:%M} {item.title}" for item in items]
    return "\n".join(lines)


def meeting_calendar(config: Config, catalog: Catalog, revision: CalendarRevision) -> bytes:
    """The meeting as an .ics file: the morning pack attaches it and ``/lich`` sends it."""
    return build_ics(*_events(config, catalog, revision))


_ANY_REVISION = CalendarRevision(sequence=0, revised_at=datetime(2000, 1, 1, tzinfo=UTC))


def calendar_fingerprint(config: Config) -> str:
    """A digest of the file the plan makes, its revision aside: whatever a delegate would see
    change in it (the time, the venue, the programme, the wording in the plan's language)."""
    calendar = meeting_calendar(config, load_catalog(config.meeting.locale), _ANY_REVISION)
    return hashlib.sha256(calendar).hexdigest()


async def sync_meeting(
    sessions: async_sessionmaker[AsyncSession],
    config: Config,
    clock: Clock,
    *,
    same_meeting: bool = False,
) -> SyncedMeeting:
    """Create or update the meeting row for ``config``, and revise its calendar event if the
    plan changed what the event says.

    A row with the plan's code but another title and another start, or a meeting that has
    taken place under another title or start, raises :class:`CodeTaken` before anything is
    written, unless ``same_meeting`` (the office said so)."""
    fingerprint = calendar_fingerprint(config)
    now = clock.now()
    async with unit_of_work(sessions) as session:
        # Locked (on PostgreSQL) so that two processes starting at once revise it in turn.
        meeting = await queries.meeting_by_code(session, config.meeting.code, for_update=True)
        if meeting is None:
            meeting = Meeting(
                code=config.meeting.code,
                title=config.meeting.title,
                starts_at=config.meeting.starts_at,
                ends_at=config.meeting.ends_at,
                created_at=now,
                calendar_sequence=0,
                calendar_fingerprint=fingerprint,
                calendar_revised_at=now,
            )
            session.add(meeting)
        else:
            stored = StoredMeeting(meeting.code, meeting.title, meeting.starts_at, read_at=now)
            plan = config.meeting
            if (meeting.title, meeting.starts_at) != (plan.title, plan.starts_at):
                checked_in = (await session.execute(_checked_in(meeting.id))).scalar_one()
                stored = replace(stored, checked_in=checked_in)
            if not same_meeting and another_meeting(stored, config) is not None:
                raise CodeTaken(stored)  # the unit of work rolls back: nothing written
            meeting.title = config.meeting.title
            meeting.starts_at = config.meeting.starts_at
            meeting.ends_at = config.meeting.ends_at
            if meeting.calendar_fingerprint != fingerprint:
                # Also from a row kept before revisions were (its files said SEQUENCE 0 and
                # a DTSTAMP at the meeting's start, which may be later than now).
                meeting.calendar_sequence += 1
                meeting.calendar_fingerprint = fingerprint
                meeting.calendar_revised_at = now
        await session.flush()
        revised_at = meeting.calendar_revised_at
        assert revised_at is not None  # set above whenever the fingerprint was
        return SyncedMeeting(meeting.id, CalendarRevision(meeting.calendar_sequence, revised_at))
