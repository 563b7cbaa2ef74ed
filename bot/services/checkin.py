"""The meeting day at the reception desk: who came, as whom, let in by whom, and the count.

A staff member with the check-in role (or the office) acts as a :class:`DeskActor`, which only
:meth:`bot.services.access.Access.desk` issues: a delegate without a role cannot get one, so
nobody checks themselves in through their own page. The desk looks an invitee up by the token
of their personal link (the QR on the slip and the page), their code or the personal code
printed under the QR, or searches names without diacritics; it checks in the invitee or the
substitute they sent, records a guest who is not on the list, and may undo a mistaken tap for
a few minutes. Each of these is one unit of work, audited; a repeated tap finds the invitee
already in and says so.

:meth:`CheckinService.attendance` is the live count by group in protocol order (and, for the
office, who is still missing with their phone numbers); :func:`summary_of` and
:func:`summary_text` the one-page "Báo cáo số lượng đại biểu có mặt".
"""

from __future__ import annotations

import functools
import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.config import Config, Meeting
from bot.domain.checkin import SUBSTITUTE_CHECKIN
from bot.domain.order import LAST
from bot.domain.phones import display_phone, phone_matches, phone_query
from bot.domain.rsvp import RsvpStatus, expected_on, read_days, unit_typed_once
from bot.domain.tokens import format_link_code, looks_like_token, parse_link_code
from bot.domain.typed import fold, one_line
from bot.services import roster
from bot.services.access import DeskActor, OfficeActor
from bot.services.context import ServiceContext
from bot.services.invitations import OtherMeeting, other_meeting
from bot.services.views import DelegateView, RsvpView
from bot.texts import Catalog
from bot.texts.formatting import arrival_time, clock, day_list, long_date
from storage import queries
from storage.models import Checkin, Delegate, Invitation, Rsvp
from storage.models import Meeting as MeetingRow
from storage.sharing import guests_in_turn
from storage.uow import in_a_worker, read_only, unit_of_work

# Longest texts a desk may type for a substitute or a guest (as the delegate list's columns).
MAX_NAME = 200
MAX_FIELD = 200
# How many names a search shows: the desk picks one, or types more of the name.
SEARCH_LIMIT = 20
# How long after its first tap a desk may still give that tap's time as her arrival: a desk
# whose network dropped taps again once it is back (its page says the tap was not recorded),
# and its script sends how long ago the first tap was. Longer, and the desk has long since
# gone over to the printed signature sheet its page offers, whose entries the office makes at
# their own time; a page left open since a morning try would backdate a real arrival by hours.
LATE_TAP = timedelta(hours=2)


class ArrivalKind(StrEnum):
    """As whom someone came."""

    DELEGATE = "delegate"  # the invitee in person
    SUBSTITUTE = SUBSTITUTE_CHECKIN  # someone in the invitee's place, named at the desk
    GUEST = "guest"  # not on the list


class Notice(StrEnum):
    """What the desk is told in one line before it lets someone in."""

    ALREADY_IN = "already_in"  # checked in already (when, by whom): nothing more to do
    DECLINED = "declined"  # answered that they would not come: may still be let in
    # At a meeting of several days, answered «tham dự» for other days than today: may still be
    # let in (counted as come unexpected today).
    OTHER_DAYS = "other_days"
    SENT_SUBSTITUTE = "sent_substitute"  # named a substitute: who stands at the desk?
    NOT_ON_LIST = "not_on_list"  # no invitee has this link or code: record a guest
    NOT_INVITED = "not_invited"  # on the list for a task only, not invited: record a guest
    # The office withdrew the invitation: not let in as an invitee (she is in no invitee's
    # count); the organisers may still let her in as a guest, from her card
    # (:meth:`CheckinService.guest_of`). Checked in before, she stays in the hall's total.
    WITHDRAWN = "withdrawn"
    WRONG_MEETING = "wrong_meeting"  # a link of another meeting
    REVOKED_LINK = "revoked_link"  # an old link the office replaced: check who it is


# The notices after which the desk cannot check the person in as an invitee.
_BLOCKING = frozenset({Notice.ALREADY_IN, Notice.NOT_ON_LIST, Notice.NOT_INVITED,
                       Notice.WITHDRAWN, Notice.WRONG_MEETING})  # fmt: skip


@dataclass(frozen=True)
class CheckinView:
    """A check-in as the desk and the office see it."""

    id: int
    kind: ArrivalKind
    delegate_id: int | None
    full_name: str  # who came: the invitee, their substitute, or the guest
    position: str | None
    organization: str | None
    answer: RsvpStatus | None  # the invitee's answer when they came
    desk: str
    at: datetime
    by: str  # the staff member's name
    by_actor: str
    undone_at: datetime | None = None
    undone_by: str | None = None  # the account, as audited
    undone_name: str | None = None  # its staff member's name, where the record names them
    # A substitute's invitee, where the reader is told for whom she came (the desk's list).
    invitee_name: str | None = None
    # When the desk entered it (``at`` is her arrival: earlier for a tap sent late, see
    # arrived_at); the undo window counts from here. None: made as ``at`` says.
    entered_at: datetime | None = None
    # The meeting day it counts for (bot.config.Meeting.meeting_day; None: a view made by hand).
    day: date | None = None

    @property
    def entered(self) -> datetime:
        """When the desk entered it: what the undo window counts from."""
        return self.entered_at or self.at

    @classmethod
    def of(cls, row: Checkin) -> CheckinView:
        """Copy a row."""
        return cls(
            id=row.id,
            kind=ArrivalKind(row.kind),
            delegate_id=row.delegate_id,
            full_name=row.full_name,
            position=row.position,
            organization=row.organization,
            answer=RsvpStatus(row.answer) if row.answer else None,
            desk=row.desk,
            at=row.checked_in_at,
            by=row.staff_name,
            by_actor=row.checked_in_by,
            undone_at=row.undone_at,
            undone_by=row.undone_by,
            entered_at=row.entered_at,
            day=row.day,
        )


@dataclass(frozen=True)
class Arrival:
    """What the desk sees of someone: the invitee (their group, seat area and answer), their
    check-in if they are in already, and the notices to say; ``person`` None when nobody on
    the list matches."""

    person: DelegateView | None
    group_label: str | None = None
    area: str | None = None
    answer: RsvpView | None = None
    checkin: CheckinView | None = None
    notices: tuple[Notice, ...] = ()
    # At a meeting of several days, the earlier meeting days she (or her substitute) came on:
    # today's card says it («đã dự ngày 17/12»), and checks her in for today all the same.
    came_on: tuple[date, ...] = ()
    # Who came each of those days: her substitute's name as recorded, None when she came
    # herself (the card says who: «Ngày 17/12: người dự thay Ngô Thị Yến đã đến.»).
    came_by: tuple[str | None, ...] = ()
    # WRONG_MEETING: the meeting the scanned link's invitation belongs to (the last
    # conference's slip), named to the desk as for its personal code typed.
    other: OtherMeeting | None = None

    @property
    def can_check_in(self) -> bool:
        """Whether "Điểm danh" makes sense (a decliner who came after all: yes, with a notice)."""
        return self.person is not None and not _BLOCKING.intersection(self.notices)

    @property
    def can_enter_as_guest(self) -> bool:
        """Whether her card offers to let her in as a guest: the invitation was withdrawn and
        she is not in yet (:meth:`CheckinService.guest_of`)."""
        return (
            self.person is not None
            and self.checkin is None
            and Notice.WITHDRAWN in self.notices
            and Notice.WRONG_MEETING not in self.notices
        )


class CheckinStep(StrEnum):
    """How a check-in, a guest or an undo ended."""

    CHECKED_IN = "checked_in"
    ALREADY_IN = "already_in"  # nothing recorded: they are in (the row returned)
    REPEATED = "repeated"  # the same form again (its request key): nothing recorded
    NOT_FOUND = "not_found"  # no invitee by that link or code
    NOT_INVITED = "not_invited"
    WITHDRAWN = "withdrawn"  # the invitation was withdrawn: nothing recorded (a guest may be)
    WRONG_MEETING = "wrong_meeting"
    OWN_CHECKIN = "own_checkin"  # the desk's staff member is the invitee: someone else must
    NAME_MISSING = "name_missing"  # a substitute or a guest needs a name
    TOO_LONG = "too_long"
    UNDONE = "undone"
    ALREADY_UNDONE = "already_undone"
    TOO_LATE = "too_late"  # the undo window has passed
    OTHER_DESK = "other_desk"  # only the desk that checked them in (or the office) may undo
    UNKNOWN_CHECKIN = "unknown_checkin"
    NAMESAKE = "namesake"  # a guest named as an invitee is: nothing recorded until confirmed
    # A guest of that name is in already (the row returned): nothing recorded until confirmed.
    GUEST_AGAIN = "guest_again"
    STILL_INVITED = "still_invited"  # let in as a guest from a card whose invitation stands


@dataclass(frozen=True)
class CheckinResult:
    """The step reached, the check-in concerned, and the desk's view of the person."""

    step: CheckinStep
    checkin: CheckinView | None = None
    arrival: Arrival | None = None
    limit: int | None = None  # TOO_LONG: the longest text accepted
    chars: int | None = None  # TOO_LONG: the length of the text refused


@dataclass(frozen=True)
class SearchHit:
    """An invitee a search found, with whether they are in."""

    person: DelegateView
    group_label: str
    status: RsvpStatus
    checked_in: bool
    substitute_name: str | None = None  # whom they said would come in their place
    # Found by a personal code the office has replaced since (an old slip's): that code, which
    # opens her card with the REVOKED_LINK notice, as the old slip's QR does.
    replaced_code: str | None = None
    # Who came when she is in: herself, or her substitute (the check-in's name).
    came_kind: ArrivalKind | None = None
    came_name: str | None = None

    @property
    def card_key(self) -> str:
        """What opens her card: the replaced code she was found by, else her code."""
        return self.replaced_code or self.person.code

    @property
    def needs_a_look(self) -> bool:
        """Whether the desk must see the person's card before a check-in: they declined, or
        named a substitute (who stands at the desk?), or their invitation was withdrawn, or
        she was found by a replaced code (the papers are to be checked)."""
        return (
            self.person.withdrawn
            or self.replaced_code is not None
            or self.status in (RsvpStatus.DECLINED, RsvpStatus.SUBSTITUTE)
        )


@dataclass(frozen=True)
class GroupAttendance:
    """One invitee group at this moment: invited, expected (answered they or a substitute would
    come), present (checked in: in person or by substitute) and of those, substitutes."""

    key: str
    label: str
    area: str | None
    invited: int = 0
    expected: int = 0
    present: int = 0
    substitutes: int = 0
    missing: int = 0  # expected and not in yet

    @property
    def arrived(self) -> int:
        """Of those expected, how many are in: what «có mặt / dự kiến» counts (someone who
        declined or never answered and came anyway is in ``present``, not here)."""
        return self.expected - self.missing


@dataclass(frozen=True)
class Missing:
    """An invitee expected but not in yet; ``phone`` only for the office."""

    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    status: RsvpStatus
    substitute_name: str | None
    phone: str | None
    substitute_phone: str | None = None  # the number the substitute gave; office only


@dataclass(frozen=True)
class Attendance:
    """The hall at a moment: by group in protocol order, the totals, the guests, the missing."""

    at: datetime
    groups: list[GroupAttendance]
    invited: int
    expected: int
    present: int
    substitutes: int
    declined_present: int  # came although they had declined
    guests: list[CheckinView]  # let in as guests, not (or no longer) on the invitation list
    # A page of who is still missing, in protocol order (one group's, or everyone's).
    missing: list[Missing] = field(default_factory=list)
    missing_total: int = 0  # everyone expected and not in yet, every group
    missing_next: str | None = None  # the code the next page goes on after (None: the last)
    # Checked in as an invitee (or her substitute), the invitation withdrawn afterwards: out of
    # the invitees' figures (which are about the list as it stands), still in the hall.
    withdrawn: list[CheckinView] = field(default_factory=list)
    # Invitees who have not answered (in or not): not expected, yet on the signature sheet.
    no_answer: int = 0
    # At a meeting of several days, the meeting day these figures are of (today's, the last
    # day's after it), and everyone let in each day up to it, first day first; None and empty
    # at a one-day meeting (every check-in is of its one day).
    day: date | None = None
    days: list[tuple[date, int]] = field(default_factory=list)
    # After a meeting of several days every figure above is the whole meeting's: who came on
    # at least one day (invitees or their substitutes once each, as first let in; guests once
    # each by name), and «chưa đến» those expected who came on no day (the office's report).
    whole: bool = False

    def missing_of(self, group: str = "") -> int:
        """How many «chưa đến» (of ``group``, or all): the list :attr:`missing` pages."""
        if group:
            return next((g.missing for g in self.groups if g.key == group), 0)
        return self.missing_total

    @property
    def arrived(self) -> int:
        """Of those expected, how many are in (see :attr:`GroupAttendance.arrived`)."""
        return self.expected - self.missing_total

    @property
    def unexpected(self) -> int:
        """Invitees in although they had declined or never answered."""
        return self.present - self.arrived

    @property
    def in_hall(self) -> int:
        """Everyone let in and not undone: invitees (or their substitutes), guests, and those
        checked in whose invitation was withdrawn afterwards — a check-in is a fact, and the
        one rule every count of the hall (page, summary, export, report) reads."""
        return self.present + len(self.guests) + len(self.withdrawn)


@dataclass(frozen=True)
class SummaryLine:
    """A row of the printable summary."""

    label: str
    expected: int
    present: int  # everyone of the group in the hall, expected or not
    substitutes: int
    arrived: int = 0  # of the expected, how many are in


@dataclass(frozen=True)
class AttendanceSummary:
    """ "Báo cáo số lượng đại biểu có mặt": numbers only, ready to print at any moment."""

    title: str
    at: datetime  # local time of the meeting
    lines: list[SummaryLine]
    invited: int
    expected: int
    present: int
    substitutes: int
    guests: int
    arrived: int = 0  # of the expected, how many are in
    in_hall: int = 0  # :attr:`Attendance.in_hall`
    withdrawn: int = 0  # checked in, the invitation withdrawn afterwards
    day: date | None = None  # :attr:`Attendance.day`
    days: list[tuple[date, int]] = field(default_factory=list)  # :attr:`Attendance.days`
    whole: bool = False  # :attr:`Attendance.whole`

    @property
    def unexpected(self) -> int:
        """Invitees in although they had declined or never answered."""
        return self.present - self.arrived


@dataclass(frozen=True)
class Came:
    """Who of an invitee is in the hall: she (``DELEGATE``) or her substitute, since when, let
    in at which desk."""

    kind: ArrivalKind
    full_name: str
    position: str | None
    at: datetime
    desk: str
    organization: str | None = None  # her unit as the desk recorded it (a substitute's own)


@dataclass(frozen=True)
class RollLine:
    """An invitee whose invitation stands, for the meeting day's papers: her answer, whom she
    sends in her place, and who of them is in the hall now (``came``: None when nobody is);
    ``phone`` as shown."""

    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    status: RsvpStatus
    substitute_name: str | None
    substitute_position: str | None
    phone: str | None
    came: Came | None = None
    rank: int | None = None  # her place in her group: with the group and code, protocol order
    # Apart from the position since migration 0026: None on an answer given before it.
    substitute_unit: str | None = None
    substitute_phone: str | None = None  # as shown; the number the substitute gave, if any
    # «Tham dự» at a meeting of several days for these days only; None: every day.
    days: tuple[date, ...] | None = None

    @property
    def expected(self) -> bool:
        """Whether she (or her substitute) is expected: everyone but those who declined."""
        return self.status is not RsvpStatus.DECLINED


@dataclass(frozen=True)
class Roll:
    """Everyone invited, in protocol order, with who is in now, and who is in the hall off the
    list (guests; those checked in whose invitation was withdrawn afterwards)."""

    at: datetime
    lines: list[RollLine]
    guests: list[CheckinView]
    withdrawn: list[CheckinView] = field(default_factory=list)
    # Read with a protocol key (``roll(after=…)``): that key, and the code of the first invitee
    # in the hall after it in the database's own order (None: nobody), for the present list's
    # page going on after a row that has left it (:func:`bot.services.day_files.present_page`).
    resume: Resume | None = None
    day: date | None = None  # the meeting day of «who is in» (:attr:`Attendance.day`)


@dataclass(frozen=True)
class Resume:
    """Where the invitees in the hall go on after a protocol key (group order, rank, code), as
    the database orders them: the code of the first one after it, or None."""

    key: tuple[int, int, str]
    code: str | None


# People a page of the attendance's "still missing" list shows.
MISSING_PAGE = 100


def arrived_at(meeting: Meeting, entered: datetime, late: timedelta | None) -> datetime:
    """When she arrived, for an entry made at ``entered``: ``late`` before it (the desk's
    first tap, as its page timed it) when that is within :data:`LATE_TAP` and on the same
    local day (a time the phone's clock cannot put in the future: the page sends a span, not
    a time); else the entry's own time."""
    if late is None or not timedelta(0) < late <= LATE_TAP:
        return entered
    arrived = entered - late
    if meeting.local(arrived).date() != meeting.local(entered).date():
        return entered
    return arrived


class CheckinService:
    """Looks people up at the desk, checks them in, records guests, undoes, counts."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @property
    def undo_window(self) -> timedelta:
        """How long after a check-in it may be undone."""
        return timedelta(minutes=self._ctx.config.checkin.undo_minutes)

    # --- the desk ------------------------------------------------------------------------------

    async def lookup(self, desk: DeskActor, key: str) -> Arrival:
        """Who a scanned link (its token, or the whole address) or a typed code names, as the
        desk sees them, with the notices to say. A read-only transaction: the desks' phones
        scanning slips never queue for the writer's lock behind the taps (nor hold it)."""
        async with read_only(self._ctx.sessions) as session:
            return (await self._find(session, key))[1]

    async def check_in(
        self,
        desk: DeskActor,
        key: str,
        *,
        substitute_name: str | None = None,
        substitute_position: str | None = None,
        substitute_unit: str | None = None,
        request_key: str | None = None,
        late: timedelta | None = None,
    ) -> CheckinResult:
        """Check in the invitee ``key`` names (token, address or code); with
        ``substitute_name`` the substitute who came in their place, her position and unit
        (stored as the row's unit; none given: the unit her invitee's answer gave when she is
        the substitute answered, else the invitee's).

        Idempotent: an invitee already in is not checked in again (ALREADY_IN, with the row);
        a form sent again with the same ``request_key`` records nothing (REPEATED). A decliner
        who came after all is checked in (their answer stays on the row). ``late``: how long
        ago the desk first tapped (:func:`arrived_at`), her arrival.
        """
        name = one_line(substitute_name or "")
        position = one_line(substitute_position or "") or None
        unit = one_line(substitute_unit or "") or None
        if substitute_name is not None and not name:
            return CheckinResult(CheckinStep.NAME_MISSING)
        too_long = _too_long(name, position, unit)
        if too_long is not None:
            return too_long
        try:
            return await self._check_in(desk, key, name or None, position, unit, request_key, late)
        except IntegrityError:
            # Two desks at once on a database that does not serialise writers (PostgreSQL):
            # the other desk's row won; read it back as a repeated tap would.
            return await self._check_in(desk, key, name or None, position, unit, request_key, late)

    async def _check_in(
        self,
        desk: DeskActor,
        key: str,
        substitute: str | None,
        position: str | None,
        unit: str | None,
        request_key: str | None,
        late: timedelta | None = None,
    ) -> CheckinResult:
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._admitted(session, desk, key, request_key, as_guest=False)
            if isinstance(found, CheckinResult):
                return found
            person, arrival = found
            answer = arrival.answer.status if arrival.answer else None
            kind = ArrivalKind.SUBSTITUTE if substitute else ArrivalKind.DELEGATE
            arrived = arrived_at(self._ctx.config.meeting, now, late)
            organization = person.organization
            if substitute:
                # A unit typed after the one the box held is stored once (her answer's unit
                # offered to correct; an older desk page offering the invitee's own).
                typed = unit_typed_once(unit, organization) if unit else None
                organization = typed or _answered_unit(arrival.answer, substitute) or organization
            row = Checkin(
                meeting_id=self._ctx.meeting_id,
                delegate_id=person.id,
                kind=kind,
                full_name=substitute or person.full_name,
                position=position if substitute else person.position,
                organization=organization,
                answer=str(answer) if answer else None,
                desk=desk.desk,
                checked_in_at=arrived,
                entered_at=now,
                checked_in_by=desk.actor,
                staff_name=desk.name,
                request_key=request_key,
                day=self._ctx.config.meeting.meeting_day(arrived),
            )
            session.add(row)
            await session.flush()
            _audit(session, now, desk, "checkin.recorded", row)
            view = CheckinView.of(row)
            notices = tuple(n for n in arrival.notices if n is not Notice.ALREADY_IN)
            after = replace(arrival, checkin=view, notices=notices)
            return CheckinResult(CheckinStep.CHECKED_IN, view, after)

    async def guest(
        self,
        desk: DeskActor,
        full_name: str,
        *,
        position: str = "",
        organization: str = "",
        request_key: str | None = None,
        namesake_ok: bool = False,
        again_ok: bool = False,
        late: timedelta | None = None,
    ) -> CheckinResult:
        """Record someone who is not on the list (listed apart from the invitees); the same
        form sent again (``request_key``) records nothing. A name an invitee has, or the
        substitute an invitee announced (diacritics and case aside), is recorded only with
        ``namesake_ok``: NAMESAKE, with that invitee, lets the desk check them in instead
        (recorded as a guest, the invitee would stay «missing» on the office's page). A name a
        guest in the hall has (diacritics and case aside, at any desk) is recorded only with
        ``again_ok``: GUEST_AGAIN, with the first such guest's row, tells the desk when and
        where that guest was let in (the same guest twice would count twice in the hall).

        The guest check is locked first (:func:`storage.sharing.guests_in_turn`, a lock of its
        own, not the meeting's row an import or a notice's numbering holds): on PostgreSQL two
        desks recording the same guest at once take turns, and the second is told of the
        first's guest (SQLite's writers take turns anyway). A guest has no
        invitee, so the partial unique index that keeps an invitee in once cannot. ``late``: as
        :meth:`check_in`'s."""
        name, position, organization = (
            one_line(full_name),
            one_line(position),
            one_line(organization),
        )
        if not name:
            return CheckinResult(CheckinStep.NAME_MISSING)
        too_long = _too_long(name, position, organization)
        if too_long is not None:
            return too_long
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            await guests_in_turn(session, self._ctx.meeting_id)
            if (earlier := await _by_request(session, request_key)) is not None:
                return CheckinResult(CheckinStep.REPEATED, CheckinView.of(earlier))
            if not namesake_ok and (invitee := await self._namesake(session, name)) is not None:
                return CheckinResult(CheckinStep.NAMESAKE, arrival=invitee)
            if not again_ok and (same := await self._guest_named(session, name)) is not None:
                return CheckinResult(CheckinStep.GUEST_AGAIN, CheckinView.of(same))
            row = self._guest_row(desk, now, request_key, name, position, organization, late=late)
            session.add(row)
            await session.flush()
            _audit(session, now, desk, "checkin.recorded", row)
            return CheckinResult(CheckinStep.CHECKED_IN, CheckinView.of(row))

    async def guest_of(
        self,
        desk: DeskActor,
        key: str,
        *,
        request_key: str | None = None,
        late: timedelta | None = None,
    ) -> CheckinResult:
        """Let the person ``key`` names in as a guest, her invitation having been withdrawn:
        her name, position and unit from the list, the row tied to her, so that she is in
        once — a second tap, or a check-in after the office invites her again, finds her in
        (ALREADY_IN) instead of counting her twice. Refused (STILL_INVITED) for anyone whose
        invitation stands: they are checked in as invitees. ``late``: as :meth:`check_in`'s."""
        try:
            return await self._guest_of(desk, key, request_key, late)
        except IntegrityError:  # another desk let her in at the same moment: read theirs
            return await self._guest_of(desk, key, request_key, late)

    async def _guest_of(
        self, desk: DeskActor, key: str, request_key: str | None, late: timedelta | None
    ) -> CheckinResult:
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._admitted(session, desk, key, request_key, as_guest=True)
            if isinstance(found, CheckinResult):
                return found
            person, arrival = found
            row = self._guest_row(
                desk, now, request_key, person.full_name, person.position, person.organization,
                person_id=person.id, late=late,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            _audit(session, now, desk, "checkin.recorded", row)
            view = CheckinView.of(row)
            after = replace(arrival, checkin=view, notices=(Notice.ALREADY_IN, *arrival.notices))
            return CheckinResult(CheckinStep.CHECKED_IN, view, after)

    def _guest_row(
        self,
        desk: DeskActor,
        now: datetime,
        request_key: str | None,
        full_name: str,
        position: str,
        organization: str,
        *,
        person_id: int | None = None,
        late: timedelta | None = None,
    ) -> Checkin:
        """A guest's check-in entered ``now``: someone the desk typed in, or (``person_id``) a
        person let in from her withdrawn card, the row tied to her; an empty position or unit
        is none; arrived ``late`` before (:func:`arrived_at`)."""
        arrived = arrived_at(self._ctx.config.meeting, now, late)
        return Checkin(
            meeting_id=self._ctx.meeting_id,
            delegate_id=person_id,
            kind=ArrivalKind.GUEST,
            full_name=full_name,
            position=position or None,
            organization=organization or None,
            answer=None,
            desk=desk.desk,
            checked_in_at=arrived,
            entered_at=now,
            checked_in_by=desk.actor,
            staff_name=desk.name,
            request_key=request_key,
            day=self._ctx.config.meeting.meeting_day(arrived),
        )

    async def _admitted(
        self,
        session: AsyncSession,
        desk: DeskActor,
        key: str,
        request_key: str | None,
        *,
        as_guest: bool,
    ) -> CheckinResult | tuple[Delegate, Arrival]:
        """The person ``key`` names and her arrival, if the desk may let her in — as an
        invitee, or ``as_guest`` from her withdrawn card —; else the answer to the tap: a
        request already done, nobody, already in, a task contact only, a withdrawn invitation
        (or, as a guest, one that stands), or the clerk herself."""
        if (earlier := await _by_request(session, request_key)) is not None:
            arrival = (await self._find(session, key))[1]
            return CheckinResult(CheckinStep.REPEATED, CheckinView.of(earlier), arrival)
        person, arrival = await self._find(session, key)
        if person is None or arrival.person is None:
            return CheckinResult(_refusal(arrival.notices), arrival=arrival)
        if arrival.checkin is not None:
            return CheckinResult(CheckinStep.ALREADY_IN, arrival.checkin, arrival)
        if Notice.NOT_INVITED in arrival.notices:
            return CheckinResult(CheckinStep.NOT_INVITED, arrival=arrival)
        if as_guest and not arrival.can_enter_as_guest:
            return CheckinResult(CheckinStep.STILL_INVITED, arrival=arrival)
        if not as_guest and Notice.WITHDRAWN in arrival.notices:
            return CheckinResult(CheckinStep.WITHDRAWN, arrival=arrival)
        if desk.person_id == person.id:
            return CheckinResult(CheckinStep.OWN_CHECKIN, arrival=arrival)
        return person, arrival

    async def _guest_named(self, session: AsyncSession, name: str) -> Checkin | None:
        """The first guest in the hall (not undone) named ``name``, diacritics and case aside,
        as :meth:`_namesake` compares an invitee's name: a few guests in a meeting."""
        wanted = fold(name)
        rows = await session.scalars(
            select(Checkin)
            .where(
                Checkin.meeting_id == self._ctx.meeting_id,
                Checkin.kind == ArrivalKind.GUEST.value,
                Checkin.undone_at.is_(None),
                *_on_day(self._today()),
            )
            .order_by(Checkin.checked_in_at, Checkin.id)
        )
        return next((row for row in rows if _folded(row.full_name) == wanted), None)

    async def _namesake(self, session: AsyncSession, name: str) -> Arrival | None:
        """The first invitee (in protocol order) whose name is ``name``, or who announced a
        substitute by that name (then with the SENT_SUBSTITUTE notice), diacritics and case
        aside: the names read, the one found loaded. A person whose invitation was withdrawn
        is found by her name too (with the WITHDRAWN notice), after every invitee of the name:
        if it is she, her card lets her in as a guest tied to her record, which a later
        re-invitation does not count twice."""
        wanted = fold(name)
        rows = await session.execute(
            select(Delegate.id, Delegate.full_name, Rsvp.substitute_name)
            .join(Rsvp, Rsvp.delegate_id == Delegate.id)
            .where(
                roster.listed_of(self._ctx.meeting_id),
                or_(
                    # The folded text kept with each person (name, code, unit): the few who
                    # might be named so, by the database, then the name itself compared; and
                    # the substitutes announced, a few in a meeting.
                    Delegate.search_text.contains(wanted, autoescape=True),
                    and_(
                        roster.invited(),
                        Rsvp.status == RsvpStatus.SUBSTITUTE.value,
                        Rsvp.substitute_name.is_not(None),
                    ),
                ),
            )
            # Invitees first: a withdrawn namesake earlier in protocol order must not hide one
            # whose invitation stands (her card's guest button would tie a guest to her).
            .order_by(Delegate.withdrawn_at.is_not(None), *roster.protocol_key(self._order()))
        )
        for person_id, full_name, substitute in rows:
            by_substitute = _folded(full_name) != wanted
            if by_substitute and fold(substitute or "") != wanted:
                continue
            person = await session.get(Delegate, person_id)
            if person is None:
                return None
            notices: tuple[Notice, ...] = ()
            if by_substitute:
                notices = (Notice.SENT_SUBSTITUTE,)
            elif person.withdrawn_at is not None:
                notices = (Notice.WITHDRAWN,)
            # Already in the hall (she, or the substitute she named): the desk is told when and
            # where, not that she would be counted absent.
            today = self._today()
            present = await session.scalar(select(Checkin).where(_present_of(person.id, today)))
            checkin = CheckinView.of(present) if present is not None else None
            return Arrival(DelegateView.of(person), checkin=checkin, notices=notices)
        return None

    async def undo(self, desk: DeskActor, checkin_id: int) -> CheckinResult:
        """Undo a check-in within ``[checkin] undo_minutes``: by the desk that made it (its
        label, or the same staff member) or by the office; after that, by the office only (a
        wrong tap must not stay in the attendance report). Audited, the row kept."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            row = await session.get(Checkin, checkin_id)
            if row is None or row.meeting_id != self._ctx.meeting_id:
                return CheckinResult(CheckinStep.UNKNOWN_CHECKIN)
            view = CheckinView.of(row)
            if row.undone_at is not None:
                return CheckinResult(CheckinStep.ALREADY_UNDONE, view)
            # From the entry, not the arrival: a tap sent late may be undone as any other.
            if now - view.entered > self.undo_window and not desk.is_office:
                return CheckinResult(CheckinStep.TOO_LATE, view)
            same_desk = row.desk == desk.desk or row.checked_in_by == desk.actor
            if not (same_desk or desk.is_office):
                return CheckinResult(CheckinStep.OTHER_DESK, view)
            row.undone_at, row.undone_by = now, desk.actor
            _audit(session, now, desk, "checkin.undone", row)
            return CheckinResult(CheckinStep.UNDONE, CheckinView.of(row))

    async def view(self, checkin_id: int) -> CheckinView | None:
        """The check-in ``checkin_id`` of this meeting, undone or not; None for none."""
        async with read_only(self._ctx.sessions) as session:
            row = await session.get(Checkin, checkin_id)
            if row is None or row.meeting_id != self._ctx.meeting_id:
                return None
            return CheckinView.of(row)

    async def recent(self, desk: DeskActor, *, limit: int = 10) -> list[CheckinView]:
        """The check-ins this desk (its label, or the same staff member) made within the undo
        window and not undone, the newest entry first: the ones its undo button may still take
        (a tap sent late, her arrival earlier, is the one just made: first, as undoable)."""
        since = self._ctx.clock.now() - self.undo_window
        entered = func.coalesce(Checkin.entered_at, Checkin.checked_in_at)
        async with read_only(self._ctx.sessions) as session:
            rows = await session.execute(
                select(Checkin, Delegate.full_name)
                .outerjoin(Delegate, Delegate.id == Checkin.delegate_id)
                .where(
                    Checkin.meeting_id == self._ctx.meeting_id,
                    Checkin.undone_at.is_(None),
                    entered >= since,
                    or_(Checkin.desk == desk.desk, Checkin.checked_in_by == desk.actor),
                )
                .order_by(entered.desc(), Checkin.id.desc())
                .limit(limit)
            )
            # A substitute is listed with whose place she took: two invitees may name the same.
            return [
                replace(CheckinView.of(row), invitee_name=invitee)
                if row.kind == ArrivalKind.SUBSTITUTE
                else CheckinView.of(row)
                for row, invitee in rows
            ]

    async def search(
        self, desk: DeskActor, text: str, *, limit: int = SEARCH_LIMIT
    ) -> list[SearchHit]:
        """Invitees whose name, code or named substitute's name holds ``text``, diacritics and
        case ignored ("nguyen thi ha" finds "Nguyễn Thị Hà"), whose phone number ends with the
        digits typed (six or more: "0912 345 678", "345678"), or whose personal code it is
        ("k7px m3qb"), in protocol order, at most ``limit``: a substitute who came without the
        slip is found by their own name."""
        wanted = fold(text)
        if not wanted:
            return []
        order = self._order()
        today = self._today()
        async with read_only(self._ctx.sessions) as session:
            rows = await session.execute(
                _answered(
                    Delegate,
                    Rsvp.status,
                    Checkin.id,
                    Rsvp.substitute_name,
                    Checkin.kind,
                    Checkin.full_name,
                    day=today,
                )
                # A withdrawn invitation is found too, marked: the desk must learn it was
                # withdrawn, not that nobody of the name was ever invited.
                .where(roster.listed_of(self._ctx.meeting_id))
                .order_by(*roster.protocol_key(order))
            )
            hits: list[SearchHit] = []
            number = phone_query(text)
            holder, replaced = await self._code_holder(session, text) or (None, False)
            for person, status, checkin_id, substitute, came_kind, came_name in rows:
                named = (person.full_name, person.code, substitute or "")
                by_code = person.id == holder
                if (
                    any(wanted in _folded(text) for text in named)
                    or phone_matches(person.phone, number)
                    or by_code
                ):
                    hits.append(
                        SearchHit(
                            DelegateView.of(person),
                            self._label(person.group_key),
                            RsvpStatus(status),
                            checkin_id is not None,
                            substitute if status == RsvpStatus.SUBSTITUTE else None,
                            # Her card is opened by the old code, as its QR opens it: with
                            # the notice that the link was replaced.
                            replaced_code=parse_link_code(text) if by_code and replaced else None,
                            came_kind=ArrivalKind(came_kind) if came_kind else None,
                            came_name=came_name,
                        )
                    )
                    if len(hits) >= limit:
                        break
        return hits

    async def code_elsewhere(self, text: str) -> OtherMeeting | None:
        """The other meeting of the database whose live invitation carries the personal code
        ``text`` spells (the last conference's slip), as the desk is told of it: which meeting,
        nothing of its person; None when no other meeting's does."""
        code = parse_link_code(text)
        if code is None:
            return None
        async with read_only(self._ctx.sessions) as session:
            found = await queries.invitation_elsewhere(session, self._ctx.meeting_id, code=code)
        if found is None:
            return None
        return other_meeting(self._ctx, found.meeting, invited_here=False)

    # --- the count ----------------------------------------------------------------------------

    async def attendance(
        self,
        viewer: DeskActor | OfficeActor,
        *,
        group: str = "",
        after: str = "",
        limit: int = MISSING_PAGE,
    ) -> Attendance:
        """Present / expected / missing by group in protocol order, substitutes, guests, and a
        page of who is still missing (expected, not in) in protocol order: ``limit`` of them,
        of ``group`` only when given, from the one after the code ``after`` — their phone
        numbers for the office only."""
        office = isinstance(viewer, OfficeActor) or viewer.is_office
        return await self._attendance(office, group=group, after=after, limit=limit)

    async def count(self) -> Attendance:
        """:meth:`attendance`'s figures, without the list of who is missing (for the report
        file and the rehearsal's check)."""
        return await self._attendance(False, with_missing=False)

    async def in_hall_codes(self) -> set[str]:
        """The codes of the invitees in the hall now (themselves or their substitute): a
        morning report's list to phone leaves them out (at most the hall's size)."""
        async with read_only(self._ctx.sessions) as session:
            rows = await session.scalars(
                select(Delegate.code)
                .join(Checkin, _present_of(Delegate.id, self._today()))
                .where(roster.delegates_of(self._ctx.meeting_id))
            )
            return set(rows)

    async def _attendance(
        self,
        office: bool,
        *,
        with_missing: bool = True,
        group: str = "",
        after: str = "",
        limit: int = MISSING_PAGE,
    ) -> Attendance:
        meeting_id = self._ctx.meeting_id
        order = self._order()
        today = self._today()
        # After a meeting of several days every figure is the whole meeting's: who came on at
        # least one day, once each (her first check-in), and «chưa đến» whoever came on none.
        # «Chưa đến»: the rule the notice audience «dự kiến chưa đến» reads too (figures_day).
        seen = self._ctx.figures_day()
        whole = today is not None and seen is None
        waiting = [roster.delegates_of(meeting_id), roster.awaited(seen)]
        if group:
            waiting.append(Delegate.group_key == group)
        async with read_only(self._ctx.sessions) as session:
            counted = (
                await session.execute(
                    _answered(
                        Delegate.group_key,
                        Rsvp.status,
                        Rsvp.days,
                        Checkin.kind,
                        func.count(),
                        day=seen,
                        first=whole,
                    )
                    .where(roster.delegates_of(meeting_id))
                    .group_by(Delegate.group_key, Rsvp.status, Rsvp.days, Checkin.kind)
                )
            ).all()
            guests, withdrawn = await _off_list(session, meeting_id, seen, once=whole)
            days = await self._by_day(session) if today is not None else []
            # A page of them, never everyone: thousands are still missing at 10,000 invitees,
            # read on every poll, and nobody reads thousands of names on a screen (the counts
            # by group say how many). On the connection: plain rows, no ORM result machinery.
            connection = await session.connection()
            key = None
            if with_missing and after:
                found = (await connection.execute(roster.key_of(order, meeting_id, after))).first()
                key = None if found is None else tuple(found)
            missing_rows = (
                []
                if not with_missing
                else (
                    await connection.execute(
                        _answered(*_INVITEE, Delegate.phone, Rsvp.substitute_phone, day=seen)
                        .where(*waiting, roster.after_key(order, key))
                        .order_by(*roster.protocol_key(order))
                        .limit(limit + 1)
                    )
                ).all()
            )
        more = len(missing_rows) > limit
        missing_rows = missing_rows[:limit]
        tallies: dict[str, Counter[str]] = {}
        overall: Counter[str] = Counter()
        for group_key, status, chosen, kind, number in counted:
            # Expected today: at a meeting of several days, not one whose «tham dự» names
            # other days only (she comes on them: here today she is «ngoài dự kiến»).
            expected = expected_on(RsvpStatus(status), read_days(chosen), seen)
            for tally in (overall, tallies.setdefault(group_key, Counter())):
                tally["invited"] += number
                if expected:
                    tally["expected"] += number
                    if kind is None:
                        tally["missing"] += number
                if kind is not None:
                    tally["present"] += number
                    if kind == ArrivalKind.SUBSTITUTE:
                        tally["substitutes"] += number
                    if status == RsvpStatus.DECLINED:
                        tally["declined_present"] += number
                if status == RsvpStatus.NO_ANSWER:
                    tally["no_answer"] += number
        groups = [
            GroupAttendance(
                group.key,
                group.label,
                group.area,
                *(
                    tallies.get(group.key, Counter())[name]
                    for name in ("invited", "expected", "present", "substitutes", "missing")
                ),
            )
            for group in self._ctx.config.groups_in_order
        ]
        missing = [
            Missing(
                row.code,
                row.full_name,
                row.position,
                row.organization,
                row.group_key,
                RsvpStatus(row.status),
                row.substitute_name,
                display_phone(row.phone) if office and row.phone else None,
                display_phone(row.substitute_phone) if office and row.substitute_phone else None,
            )
            for row in missing_rows
        ]
        return Attendance(
            at=self._ctx.clock.now(),
            groups=groups,
            invited=overall["invited"],
            expected=overall["expected"],
            present=overall["present"],
            substitutes=overall["substitutes"],
            declined_present=overall["declined_present"],
            guests=guests,
            missing=missing,
            missing_total=overall["missing"],
            missing_next=missing_rows[-1].code if more and missing_rows else None,
            withdrawn=withdrawn,
            no_answer=overall["no_answer"],
            day=today,
            days=days,
            whole=whole,
        )

    async def roll(
        self, *, present_only: bool = False, after: tuple[int, int, str] | None = None
    ) -> Roll:
        """Every invitee whose invitation stands, in protocol order, with her answer and who
        of them is in now, and the guests: the signature sheet, the name cards and the present
        list read it. One read-only transaction, plain rows (10,000 invitees are 10,000
        tuples); phone numbers for the office's papers only. ``present_only``: the invitees
        in the hall alone (the present list's page reads no one still awaited). ``after``: a
        protocol key; :attr:`Roll.resume` then says who in the hall comes first after it, the
        codes compared by the database (its collation orders the list, not Python's)."""
        meeting_id = self._ctx.meeting_id
        today = self._today()
        wanted = [roster.delegates_of(meeting_id)]
        if present_only:
            wanted.append(Checkin.id.is_not(None))
        async with read_only(self._ctx.sessions) as session:
            connection = await session.connection()
            rows = (
                await connection.execute(
                    _answered(
                        *_INVITEE,
                        Rsvp.substitute_position,
                        Delegate.phone,
                        Checkin.kind,
                        Checkin.full_name,
                        Checkin.position,
                        Checkin.checked_in_at,
                        Checkin.desk,
                        Delegate.rank,
                        Rsvp.substitute_unit,
                        Rsvp.substitute_phone,
                        Checkin.organization,
                        Rsvp.days,
                        day=today,
                    )
                    .where(*wanted)
                    .order_by(*roster.protocol_key(self._order()))
                )
            ).all()
            resume = None
            if after is not None:
                order = self._order()
                first = await connection.scalar(
                    _answered(Delegate.code, day=today)
                    .where(*wanted, Checkin.id.is_not(None), roster.after_key(order, after))
                    .order_by(*roster.protocol_key(order))
                    .limit(1)
                )
                resume = Resume(after, first)
            guests, withdrawn = await _off_list(session, meeting_id, today)
        lines = [
            RollLine(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                RsvpStatus(row[5]),
                row[6],
                row[7],
                display_phone(row[8]) if row[8] else None,
                None
                if row[9] is None
                else Came(ArrivalKind(row[9]), row[10], row[11], row[12], row[13], row[17]),
                rank=row[14],
                substitute_unit=row[15],
                substitute_phone=display_phone(row[16]) if row[16] else None,
                days=read_days(row[18]),
            )
            for row in rows
        ]
        return Roll(
            at=self._ctx.clock.now(),
            lines=lines,
            guests=guests,
            withdrawn=withdrawn,
            resume=resume,
            day=today,
        )

    async def roll_in_a_worker(self, *, present_only: bool = False) -> Roll:
        """:meth:`roll`, read in a worker thread on a connection of its own
        (:func:`storage.uow.in_a_worker`), for the dashboard's downloads of the day's papers:
        at 10,000 invitees the rows and the lines made of them held the event loop for tens
        of milliseconds, during which no chat, page or outbox was served."""

        async def read(sessions: async_sessionmaker[AsyncSession]) -> Roll:
            own = CheckinService(replace(self._ctx, sessions=sessions))
            return await own.roll(present_only=present_only)

        return await in_a_worker(self._ctx.sessions, read)

    async def summary(self, viewer: DeskActor | OfficeActor) -> AttendanceSummary:
        """The printable one-page summary, as the hall stands now."""
        # Figures only: who is still missing (thousands of rows at 10,000) is not read.
        return summary_of(
            self._ctx.config.meeting, await self._attendance(False, with_missing=False)
        )

    async def records(self) -> list[tuple[CheckinView, DelegateView | None]]:
        """Every check-in of the meeting, undone ones included (the record): invitees in
        protocol order, then guests by time; for the report and the export."""
        order = self._order()
        async with read_only(self._ctx.sessions) as session:
            rows = (
                await session.execute(
                    select(Checkin, Delegate)
                    .outerjoin(Delegate, Delegate.id == Checkin.delegate_id)
                    .where(Checkin.meeting_id == self._ctx.meeting_id)
                )
            ).all()
            names = await _staff_names(session, self._ctx.meeting_id, [r for r, _ in rows])
        found = [
            (
                replace(view, undone_name=names.get(view.undone_by or "")),
                DelegateView.of(person) if person else None,
                person,
            )
            for view, person in ((CheckinView.of(row), person) for row, person in rows)
        ]

        def key(item: tuple[CheckinView, DelegateView | None, Delegate | None]) -> tuple[Any, ...]:
            view, _, person = item
            if person is None:
                return (1, 0, 0, "", view.at, view.id)
            rank = LAST if person.rank is None else person.rank
            return (0, order.get(person.group_key, LAST), rank, person.code, view.at, view.id)

        return [(view, person) for view, person, _ in sorted(found, key=key)]

    # --- helpers ------------------------------------------------------------------------------

    def _order(self) -> dict[str, int]:
        return {group.key: group.order for group in self._ctx.config.groups}

    def _today(self) -> date | None:
        """The meeting day the hall's figures and the desk read now (None: a one-day meeting,
        every check-in: :meth:`bot.services.context.ServiceContext.checkin_day`)."""
        return self._ctx.checkin_day()

    async def _by_day(self, session: AsyncSession) -> list[tuple[date, int]]:
        """Everyone let in each meeting day up to today's (not undone: invitees, substitutes,
        guests, each once a day — :attr:`Attendance.in_hall` of that day), first day first:
        the office's totals keep the days apart."""
        meeting = self._ctx.config.meeting
        last = meeting.meeting_day(self._ctx.clock.now())
        counted = dict(
            (
                await session.execute(
                    select(Checkin.day, func.count())
                    .where(Checkin.meeting_id == self._ctx.meeting_id, Checkin.undone_at.is_(None))
                    .group_by(Checkin.day)
                )
            ).all()
        )
        return [(day, counted.get(day, 0)) for day in meeting.dates if day <= last]

    def _label(self, group_key: str) -> str:
        group = self._ctx.config.group(group_key)
        return group.label if group is not None else group_key

    async def _invitation_of(self, session: AsyncSession, text: str) -> Invitation | None:
        """The invitation a scanned link's token or a typed personal code names (the code
        printed under the slip's QR, case, spaces and dashes aside), current or replaced
        since: the QR and the code printed under it are read alike, one path, so an old
        slip's code finds whom its QR finds, with the same notice (:meth:`_find`)."""
        if looks_like_token(text):
            found = await session.scalar(select(Invitation).where(Invitation.token == text))
            if found is not None and hmac.compare_digest(found.token, text):
                return found
            return None
        code = parse_link_code(text)
        if code is None:
            return None
        # Unique among every code ever issued: a replaced one is still its holder's alone.
        return await session.scalar(select(Invitation).where(Invitation.link_code == code))

    async def _code_holder(self, session: AsyncSession, text: str) -> tuple[int, bool] | None:
        """Whose personal code ``text`` spells (the current one or one replaced since), and
        whether it was replaced; None when it spells nobody's."""
        if parse_link_code(text) is None:
            return None
        found = await self._invitation_of(session, text)
        if found is None:
            return None
        return found.delegate_id, found.revoked_at is not None

    async def _find(self, session: AsyncSession, key: str) -> tuple[Delegate | None, Arrival]:
        """The invitee ``key`` names and the desk's view of them."""
        text = _key_of(key)
        notices: list[Notice] = []
        person: Delegate | None = None
        # A scanned link's token, else the delegate's code, else the personal code printed
        # under the QR: the token and the personal code by one look-up (:meth:`_invitation_of`).
        invitation = await self._invitation_of(session, text) if looks_like_token(text) else None
        if invitation is None and text:
            person = await queries.delegate_by_code(session, self._ctx.meeting_id, text)
            if person is None and not looks_like_token(text):
                invitation = await self._invitation_of(session, text)
        if invitation is not None:
            person = await session.get(Delegate, invitation.delegate_id)
            if invitation.revoked_at is not None:
                notices.append(Notice.REVOKED_LINK)
        if person is None:
            return None, Arrival(None, notices=(Notice.NOT_ON_LIST,))
        if person.meeting_id != self._ctx.meeting_id:
            meeting = await session.get_one(MeetingRow, person.meeting_id)
            other = other_meeting(self._ctx, meeting, invited_here=False)
            return None, Arrival(None, notices=(Notice.WRONG_MEETING,), other=other)
        view = DelegateView.of(person)
        group = self._ctx.config.group(person.group_key)
        label = group.label if group is not None else person.group_key
        area = group.area if group is not None else None
        if view.is_contact:
            return person, Arrival(view, label, area, notices=(Notice.NOT_INVITED,))
        answer = RsvpView.of(await queries.rsvp_of(session, person.id))
        today = self._today()
        present = await session.scalar(select(Checkin).where(_present_of(person.id, today)))
        checkin = CheckinView.of(present) if present is not None else None
        came_on: tuple[date, ...] = ()
        came_by: tuple[str | None, ...] = ()
        if today is not None:
            earlier = (
                await session.execute(
                    select(Checkin.day, Checkin.kind, Checkin.full_name)
                    .where(_present_of(person.id), Checkin.day < today)
                    .order_by(Checkin.day)
                )
            ).all()
            came_on = tuple(row.day for row in earlier)
            came_by = tuple(
                row.full_name if row.kind == ArrivalKind.SUBSTITUTE else None for row in earlier
            )
        if checkin is not None:
            # Who came is said with it; the answer given before no longer matters at the desk
            # (a card saying «sent a substitute» after the delegate came herself misleads).
            notices.insert(0, Notice.ALREADY_IN)
            if view.withdrawn:  # withdrawn after she came in: the office must know which
                notices.append(Notice.WITHDRAWN)
        elif view.withdrawn:
            notices.append(Notice.WITHDRAWN)  # her answer no longer matters at the desk
        elif answer.status is RsvpStatus.DECLINED:
            notices.append(Notice.DECLINED)
        elif answer.status is RsvpStatus.SUBSTITUTE:
            notices.append(Notice.SENT_SUBSTITUTE)
        elif today is not None and not expected_on(answer.status, answer.days, today):
            notices.append(Notice.OTHER_DAYS)  # «tham dự» on other days only
        return person, Arrival(view, label, area, answer, checkin, tuple(notices), came_on, came_by)


async def _staff_names(
    session: AsyncSession, meeting_id: int, rows: Sequence[Checkin]
) -> dict[str, str]:
    """The staff member's name for each account that checked someone in or undid it: as the
    desk wrote it, else the person behind the account."""
    names = {row.checked_in_by: row.staff_name for row in rows}
    others = {row.undone_by for row in rows if row.undone_by and row.undone_by not in names}
    for actor, (name, _) in (await queries.people_behind(session, meeting_id, others)).items():
        names[actor] = name
    return names


async def _off_list(
    session: AsyncSession, meeting_id: int, day: date | None, *, once: bool = False
) -> tuple[list[CheckinView], list[CheckinView]]:
    """Who is in the hall and not on the invitation list as it stands, by time: the guests, and
    those checked in whose invitation was withdrawn afterwards (a few at most). A guest let in
    from her withdrawn card and invited again since is an invitee, in her group's figures:
    once, not also here. The live count and the day's papers both read this, so they cannot
    count the hall differently. ``day``: that meeting day's (None: every check-in); ``once``:
    each person once, as first let in (a guest by her name folded, an invitee by her record) —
    the whole of a meeting of several days."""
    rows = await session.scalars(
        select(Checkin)
        .outerjoin(Delegate, Delegate.id == Checkin.delegate_id)
        .where(
            Checkin.meeting_id == meeting_id,
            Checkin.undone_at.is_(None),
            *_on_day(day),
            or_(Checkin.delegate_id.is_(None), Delegate.withdrawn_at.is_not(None)),
        )
        .order_by(Checkin.checked_in_at, Checkin.id)
    )
    views = [CheckinView.of(row) for row in rows]
    if once:
        first: dict[object, CheckinView] = {}
        for view in views:
            person = fold(view.full_name) if view.kind is ArrivalKind.GUEST else view.delegate_id
            first.setdefault((view.kind is ArrivalKind.GUEST, person), view)
        views = list(first.values())
    return (
        [view for view in views if view.kind is ArrivalKind.GUEST],
        [view for view in views if view.kind is not ArrivalKind.GUEST],
    )


def _present_of(delegate_id: Any, day: date | None = None, *, first: bool = False) -> Any:
    """The check-in that has someone in: the invitee's row without an undo, of meeting day
    ``day`` (None: any day — a one-day meeting's one); ``first``: of any day, her first one
    only (the whole of a meeting of several days counts her once)."""
    kept = and_(Checkin.delegate_id == delegate_id, Checkin.undone_at.is_(None), *_on_day(day))
    if not first:
        return kept
    earlier = aliased(Checkin)
    first_id = (
        select(func.min(earlier.id))
        .where(earlier.delegate_id == delegate_id, earlier.undone_at.is_(None))
        .scalar_subquery()
    )
    return and_(kept, Checkin.id == first_id)


def _on_day(day: date | None) -> tuple[Any, ...]:
    """A check-in of meeting day ``day``; no condition for None (a one-day meeting)."""
    return () if day is None else (Checkin.day == day,)


# Who an invitee is and what she answered: the first columns of the missing list's rows and of
# the roll's (the day's papers), in this order, so that the two read one person alike.
_INVITEE = (
    Delegate.code,
    Delegate.full_name,
    Delegate.position,
    Delegate.organization,
    Delegate.group_key,
    Rsvp.status,
    Rsvp.substitute_name,
)


def _answered_unit(answer: RsvpView | None, substitute: str) -> str | None:
    """The unit ``answer`` gave for its substitute when the one at the desk is she (her name
    compared folded); None otherwise, or on an answer that gave none."""
    if answer is None or not answer.substitute_unit:
        return None
    same = fold(answer.substitute_name or "") == fold(substitute)
    return answer.substitute_unit if same else None


def _answered(*columns: Any, day: date | None = None, first: bool = False) -> Select[Any]:
    """``columns`` of each invitee with her answer and, if she is in on meeting day ``day``
    (None: a one-day meeting), her check-in (none: its columns are None); ``first``: her
    first check-in of any day (:func:`_present_of`). The desk's search, the live count, the
    missing list and the roll all read through it."""
    return (
        select(*columns)
        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
        .outerjoin(Checkin, _present_of(Delegate.id, day, first=first))
    )


def _key_of(key: str) -> str:
    """A token from a scanned address (``https://…/<token>``, query and fragment dropped), or
    what was typed, trimmed."""
    text = key.strip()
    if "/" in text:
        text = text.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return text


async def _by_request(session: AsyncSession, request_key: str | None) -> Checkin | None:
    if request_key is None:
        return None
    return await session.scalar(select(Checkin).where(Checkin.request_key == request_key))


def _refusal(notices: Sequence[Notice]) -> CheckinStep:
    if Notice.WRONG_MEETING in notices:
        return CheckinStep.WRONG_MEETING
    return CheckinStep.NOT_FOUND


@functools.lru_cache(maxsize=50_000)
def _folded(text: str) -> str:
    # A search folds every invitee's name; the names hardly change between searches.
    return fold(text)


def _audit(
    session: AsyncSession, now: datetime, desk: DeskActor, action: str, row: Checkin
) -> None:
    details: dict[str, Any] = {
        "kind": row.kind,
        "person_id": row.delegate_id,
        "name": row.full_name,
        "desk": row.desk,
    }
    if row.kind == ArrivalKind.GUEST:
        details |= {"position": row.position, "organization": row.organization}
    elif row.kind == ArrivalKind.SUBSTITUTE:
        details["position"] = row.position
    if row.answer:
        details["answer"] = row.answer
    undone = action == "checkin.undone"
    queries.add_audit(
        session, at=now, actor=desk.actor, action=action, entity="checkin", entity_id=row.id,
        before=details if undone else None, after=None if undone else details,
    )  # fmt: skip


# --- the printable summary ------------------------------------------------------------------


def summary_of(meeting: Meeting, attendance: Attendance) -> AttendanceSummary:
    """The summary's numbers from an attendance (``meeting``: the plan's ``[meeting]``)."""
    return AttendanceSummary(
        title=meeting.display_title,
        at=meeting.local(attendance.at),
        lines=[
            SummaryLine(
                group.label, group.expected, group.present, group.substitutes, group.arrived
            )
            for group in attendance.groups
        ],
        invited=attendance.invited,
        expected=attendance.expected,
        present=attendance.present,
        substitutes=attendance.substitutes,
        guests=len(attendance.guests),
        arrived=attendance.arrived,
        in_hall=attendance.in_hall,
        withdrawn=len(attendance.withdrawn),
        day=attendance.day,
        days=attendance.days,
        whole=attendance.whole,
    )


def summary_text(catalog: Catalog, summary: AttendanceSummary) -> str:
    """The summary as plain text, one line a figure (the terminal, the rehearsal, a chat)."""
    figure = catalog.number  # «1.234», as the dashboard's summary writes the same figures
    lines = [
        catalog.plain("checkin.summary.title"),
        summary.title,
        catalog.plain(
            "checkin.summary.at", time=clock(summary.at), date=long_date(catalog, summary.at)
        ),
        *([day_line(catalog, summary.day, summary.whole)] if summary.day is not None else []),
        "",
        catalog.plain(
            "checkin.summary.present",
            present=figure(summary.present),
            arrived=figure(summary.arrived),
            expected=figure(summary.expected),
            invited=figure(summary.invited),
        ),
        *(
            [catalog.plain("checkin.summary.unexpected", count=figure(summary.unexpected))]
            if summary.unexpected
            else []
        ),
        catalog.plain("checkin.summary.substitutes", count=figure(summary.substitutes)),
        catalog.plain("checkin.summary.guests", count=figure(summary.guests)),
        *(
            [catalog.plain("checkin.summary.withdrawn", count=figure(summary.withdrawn))]
            if summary.withdrawn
            else []
        ),
        catalog.plain("checkin.summary.in_hall", count=figure(summary.in_hall)),
        *([days_line(catalog, summary.days)] if summary.days else []),
        "",
        catalog.plain("checkin.summary.by_group"),
    ]
    lines += [
        catalog.plain(
            "checkin.summary.group",
            number=number,
            label=line.label,
            present=figure(line.present),
            arrived=figure(line.arrived),
            expected=figure(line.expected),
            substitutes=figure(line.substitutes),
        )
        for number, line in enumerate(summary.lines, start=1)
    ]
    return "\n".join(lines)


def days_line(catalog: Catalog, days: Sequence[tuple[date, int]]) -> str:
    """Everyone let in each meeting day, one figure a day: «Ngày 17/12: 6 người · Ngày 18/12:
    3 người» (:attr:`Attendance.days`), the days kept apart where the office reads totals."""
    return catalog.plain(
        "checkin.days.line",
        days=catalog.plain("checkin.days.separator").join(
            catalog.plain(
                "checkin.days.day", day=day.day, month=day.month, count=catalog.number(count)
            )
            for day, count in days
        ),
    )


def days_said(catalog: Catalog, attendance: Attendance) -> str | None:
    """At a meeting of several days, whose day the hall's figures are (the whole meeting's
    after it) and everyone let in each day: «Số liệu của ngày 18/12. Số người vào hội trường
    theo ngày họp: Ngày 17/12: 6 người · Ngày 18/12: 3 người» (the overview, /thongke); None
    at a one-day meeting."""
    if attendance.day is None:
        return None
    said = day_line(catalog, attendance.day, attendance.whole)
    return f"{said} {days_line(catalog, attendance.days)}"


def day_over(config: Config, now: datetime) -> dict[str, str] | None:
    """The evening of a meeting day with another to come (:meth:`Config.day_closed`): that
    day, when its session closed and the next day, for the hall's heading on the overview and
    in /thongke («Ngày họp 17/12 đã kết thúc lúc 16:30»); None otherwise."""
    closed = config.day_closed(now)
    if closed is None:
        return None
    following = closed.date() + timedelta(days=1)
    return {
        "day": f"{closed.day}/{closed.month}",
        "time": clock(closed),
        "next": f"{following.day}/{following.month}",
    }


def day_line(catalog: Catalog, day: date, whole: bool = False) -> str:
    """Whose day the figures are: «Số liệu của ngày 18/12.» (a meeting of several days), or
    once it has ended that they are the whole meeting's (:attr:`Attendance.whole`)."""
    if whole:
        return catalog.plain("checkin.days.whole")
    return catalog.plain("checkin.days.today", day=day.day, month=day.month)


def counted_as(view: CheckinView, person: DelegateView | None) -> str:
    """How a check-in counts now, as a key of ``checkin.kind``, by the rule the totals read
    (:meth:`CheckinService.count`): checked in as an invitee or her substitute and withdrawn
    since, out of the invitees' figures («…_withdrawn»); let in as a guest from her withdrawn
    card, a guest while withdrawn, a delegate present once invited again. An undone row, or
    one of nobody on the list, says as whom it was recorded."""
    if view.undone_at is not None or person is None or person.is_contact:
        return view.kind.value
    if view.kind is ArrivalKind.GUEST:
        return "guest_withdrawn" if person.withdrawn else "guest_reinvited"
    return f"{view.kind.value}_withdrawn" if person.withdrawn else view.kind.value


def off_list_guest_as(view: CheckinView) -> str:
    """:func:`counted_as` for a guest among those off the list (:attr:`Roll.guests`,
    :attr:`Attendance.guests`): a guest tied to a person is there only while her invitation
    is withdrawn (:func:`_off_list`), so she counts as «guest_withdrawn», a typed one as
    «guest»."""
    return "guest_withdrawn" if view.delegate_id is not None else ArrivalKind.GUEST.value


def notice_line(catalog: Catalog, meeting: Meeting, arrival: Arrival) -> str | None:
    """The notices for the desk in one line (None when there is nothing to say); times in the
    meeting's zone."""
    if not arrival.notices:
        return None
    parts = []
    for notice in arrival.notices:
        params: dict[str, object] = {}
        if notice is Notice.ALREADY_IN and arrival.checkin is not None:
            came = arrival.checkin
            kind = came.kind.value
            if came.kind is ArrivalKind.DELEGATE and came.answer is RsvpStatus.SUBSTITUTE:
                kind = "in_person"  # she had named a substitute, and came herself
            elif counted_as(came, arrival.person) == "guest_reinvited":
                kind = "guest_reinvited"  # a guest then, a delegate present now: as counted
            who = catalog.plain(f"checkin.came.{kind}", name=came.full_name)
            time = arrival_time(catalog, meeting.local(came.at), several_days=meeting.several_days)
            params = {"who": who, "time": time, "by": came.by, "desk": came.desk}
        if notice is Notice.SENT_SUBSTITUTE and arrival.answer is not None:
            params = {"name": arrival.answer.substitute_name or ""}
        if notice is Notice.OTHER_DAYS and arrival.answer is not None:
            params = {"days": day_list(catalog, arrival.answer.days or ())}
        if notice is Notice.WRONG_MEETING and arrival.other is not None:
            parts.append(other_meeting_line(catalog, meeting, arrival.other))
            continue
        key = notice.value
        if notice is Notice.WITHDRAWN and arrival.checkin is not None:
            key = "withdrawn_in"  # she is in already: nothing more to record, how she counts
        parts.append(catalog.plain(f"checkin.notice.{key}", **params))
        if notice is Notice.WITHDRAWN and arrival.person and arrival.person.withdrawn_reason:
            reason = arrival.person.withdrawn_reason
            parts.append(catalog.plain("checkin.notice.withdrawn_reason", reason=reason))
    return " ".join(parts)


def other_meeting_line(
    catalog: Catalog, meeting: Meeting, other: OtherMeeting, *, code: str | None = None
) -> str:
    """What the desk is told of another meeting's slip, its QR scanned or its personal
    ``code`` typed (canonical): whose meeting it is (its title and date), over or not, and to
    search by name; nothing of its person. One text for both, so the QR names the meeting as
    the code does."""
    what = (
        catalog.plain("dash.checkin.other_what_code", code=format_link_code(code))
        if code is not None
        else catalog.plain("dash.checkin.other_what_qr")
    )
    return catalog.plain(
        "dash.checkin.other_ended" if other.ended else "dash.checkin.other_elsewhere",
        what=what,
        meeting=other.title,
        date=long_date(catalog, meeting.local(other.starts_at)),
    )


def came_on_line(catalog: Catalog, arrival: Arrival) -> str | None:
    """At a meeting of several days, the earlier days she came on, for the card to say beside
    today's (a note, not a warning: she is checked in for today all the same): «Đã dự ngày
    28/5.», or «Ngày 28/5: người dự thay Lê Thu Trang đã đến.» for a day her substitute came;
    None when none."""
    if not arrival.came_on:
        return None
    # Who came: she herself, or (said by name, days apart) her substitute.
    by: dict[str | None, list[date]] = {}
    for index, day in enumerate(arrival.came_on):
        who = arrival.came_by[index] if index < len(arrival.came_by) else None
        by.setdefault(who, []).append(day)
    said = []
    for who, days in by.items():
        listed = ", ".join(f"{day.day}/{day.month}" for day in days)
        if who is None:
            said.append(catalog.plain("checkin.notice.came_on", days=listed))
        else:
            said.append(catalog.plain("checkin.notice.came_on_substitute", days=listed, name=who))
    return " ".join(said)


def _too_long(name: str, *fields: str | None) -> CheckinResult | None:
    """The refusal of a name over :data:`MAX_NAME` or a position or unit over
    :data:`MAX_FIELD` characters, with the first such text's length; None when all fit."""
    if len(name) > MAX_NAME:
        return CheckinResult(CheckinStep.TOO_LONG, limit=MAX_NAME, chars=len(name))
    for text in fields:
        if text is not None and len(text) > MAX_FIELD:
            return CheckinResult(CheckinStep.TOO_LONG, limit=MAX_FIELD, chars=len(text))
    return None
