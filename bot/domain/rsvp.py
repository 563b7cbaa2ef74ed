"""RSVP answers and the rules for changing them."""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.domain.typed import bare_name, honorific_only

log = logging.getLogger(__name__)


class RsvpStatus(StrEnum):
    """What a delegate has answered."""

    NO_ANSWER = "no_answer"
    ATTENDING = "attending"
    DECLINED = "declined"
    SUBSTITUTE = "substitute"

    @property
    def is_present(self) -> bool:
        """Someone will take the seat: the delegate or their substitute."""
        return self in (RsvpStatus.ATTENDING, RsvpStatus.SUBSTITUTE)


# Longest free texts we accept in chat; longer ones are refused with a clear answer, not cut.
MAX_REASON = 500
MAX_SUBSTITUTE_NAME = 120
MAX_SUBSTITUTE_POSITION = 200
MAX_SUBSTITUTE_UNIT = 300


@dataclass(frozen=True)
class RsvpAnswer:
    """A complete answer as the delegate gave it."""

    status: RsvpStatus
    reason: str | None = None
    substitute_name: str | None = None
    substitute_position: str | None = None
    # Optional: an answer given before migration 0026 has neither (its position holds the
    # unit glued); the phone is E.164 (bot.domain.phones.normalize_phone).
    substitute_unit: str | None = None
    substitute_phone: str | None = None
    # «Tham dự» at a meeting of several days for these days only (in date order, never all of
    # them: :func:`only_days`); None: every day, and every other answer.
    days: tuple[date, ...] | None = None

    def __post_init__(self) -> None:
        if self.days is not None and (self.status is not RsvpStatus.ATTENDING or not self.days):
            raise ValueError("only «tham dự» names its days, and at least one")
        if self.status is RsvpStatus.SUBSTITUTE and not (
            self.substitute_name and self.substitute_position
        ):
            raise ValueError("a substitute needs a name and a position")
        if self.status is not RsvpStatus.SUBSTITUTE and (
            self.substitute_name
            or self.substitute_position
            or self.substitute_unit
            or self.substitute_phone
        ):
            raise ValueError("only a substitute answer names a substitute")
        if self.status is not RsvpStatus.DECLINED and self.reason:
            raise ValueError("only a declined answer has a reason")


def only_days(chosen: Iterable[date], dates: Sequence[date]) -> tuple[date, ...] | None:
    """The meeting days (of ``dates``) among ``chosen``, in date order, for an answer «tham
    dự» that names them; None when they are every day (plain «tham dự»). Raises ValueError
    when none of them is a meeting day."""
    days = tuple(sorted(set(chosen) & set(dates)))
    if not days:
        raise ValueError("no meeting day chosen")
    return None if len(days) == len(set(dates)) else days


def stored_days(days: Sequence[date] | None) -> str | None:
    """``days`` as ``rsvps.days`` keeps them: ISO dates joined by commas; None for every day."""
    return None if days is None else ",".join(day.isoformat() for day in days)


# A date as :func:`stored_days` writes it, its month's days told apart (29 February let
# through: a year's leap is no regular expression's to judge), and a stored value of them:
# what ``rsvps.days`` holds unless edited by hand. One pattern for Python and SQL
# (:func:`bot.services.roster.expected`), so both read a value alike.
_DATE = (
    "[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    "|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|[12][0-9]))"
)
DAYS_PATTERN = f"^{_DATE}(,{_DATE})*$"
_DAYS = re.compile(DAYS_PATTERN)
# A stored value is ISO dates of 10 characters joined by commas: 11 a date, one comma short.
# Asked beside the pattern, as SQL asks it: a «$» lets a trailing line break through.
DAYS_LENGTH = (11, 10)
# The unreadable values already warned of (their digests): one line a value, not one a read.
_WARNED: set[int] = set()


def days_shaped(stored: str) -> bool:
    """Whether ``stored`` is dates as :func:`stored_days` writes them (not checked: that each
    is a real date, 29 February of a year without one)."""
    step, rest = DAYS_LENGTH
    return _DAYS.search(stored) is not None and len(stored) % step == rest


def days_readable(stored: str | None) -> bool:
    """Whether ``rsvps.days``'s ``stored`` reads as the days it names (None: every day)."""
    if stored is None:
        return True
    if not days_shaped(stored):
        return False
    try:
        [date.fromisoformat(part) for part in stored.split(",")]
    except ValueError:
        return False
    return True


def read_days(stored: str | None) -> tuple[date, ...] | None:
    """The days ``rsvps.days`` holds (:func:`stored_days`); None for every day. A value edited
    by hand into something else («29/5/2024», a JSON list) is read as every day, as SQL reads
    it, with one warning (not its words: they may be anyone's); a date that does not exist in
    a value of dates (29/2 of a common year) names no day, as SQL's match of dates finds none.
    ``hoinghi check`` names the rows (:func:`bot.services.meetings.answered_days_unreadable`):
    every read of the roster raised, so the dashboard, /thongke and the morning job failed."""
    if not stored:
        return None
    if not days_readable(stored):
        digest = zlib.crc32(stored.encode())
        if digest not in _WARNED:
            _WARNED.add(digest)
            log.warning(
                "rsvps.days holds a value that is not a list of dates (%d characters): read as"
                " every day of the meeting; `hoinghi check` names its row",
                len(stored),
            )
    if not days_shaped(stored):
        return None
    days = []
    for part in stored.split(","):
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            continue
    return tuple(days)


def expected_on(status: RsvpStatus, days: Sequence[date] | None, day: date | None) -> bool:
    """Whether the answer means she (or her substitute) comes on meeting day ``day`` (None:
    on some day): the rule :func:`bot.services.roster.expected` reads in SQL."""
    return status.is_present and (day is None or days is None or day in days)


def morning_programme_on(
    status: RsvpStatus,
    days: Sequence[date] | None,
    day: date,
    dates: Sequence[date],
    *,
    by_day: bool,
) -> bool:
    """Whether the morning programme of meeting day ``day`` (of the meeting's ``dates``) goes to
    her: a programme written day by day (``by_day``) is each day's, for all who come that day;
    one without days is the whole meeting's, sent once to each, on the first day she comes (one
    who comes on day two only gets it that morning, not never). The rule
    :func:`bot.services.roster.morning_programme` reads in SQL."""
    if by_day:
        return expected_on(status, days, day)
    first = next((on for on in dates if expected_on(status, days, on)), None)
    return first == day


def answers_open(now: datetime, deadline: datetime) -> bool:
    """Answers may be given or changed up to and including the deadline."""
    return now <= deadline


# What parts a name from what follows it in one message («Lê Thị Hương - Phó Chủ tịch», «…/ Phó
# Chủ tịch»): a hyphen only with a space beside it (a name may hold one, «Y-Blim»). Not a
# bracket: a note kept with a name is written so («… (mô phỏng)», the rehearsal's people).
_NOT_IN_A_NAME = (",", ";", "\n", "\r", "/", "–", "—", " -", "- ")


def a_name_alone(typed: str) -> bool:
    """Whether what was typed for the substitute's name is a name and only that: no digit (her
    phone), comma, semicolon, line break, slash or dash between words (her position or
    phone typed with it in one message, as people write in chat), and more than an honorific.
    A Vietnamese name holds none of these, and whatever is taken as the name is printed on the
    sign sheet and her name card. The honorific before it («Đ/c») is no part of the name."""
    text = typed.strip().rstrip(",;").strip()  # «Lê Thị Hương,» is her name all the same
    if honorific_only(text):
        return False
    name = bare_name(text)
    return not any(mark in name for mark in _NOT_IN_A_NAME) and not any(c.isdigit() for c in name)


def unit_typed_once(typed: str, own_unit: str) -> str:
    """The substitute's unit as meant when a box that held the delegate's own unit was typed
    after rather than over: «Sở Nội vụSở Nội vụ» is «Sở Nội vụ»; her unit with another glued
    after it («Thành ủy Hà NộiSở Nội vụ», no space, a capital) is the other. Anything else,
    «Sở Nội vụ Hà Nội» included, is kept as typed."""
    text = typed.strip()
    for gap in ("", " "):  # the same words twice, glued or with a space between
        half, odd = divmod(len(text) - len(gap), 2)
        if half and not odd and text == text[:half] + gap + text[:half]:
            return text[:half]
    own = own_unit.strip()
    if own and text.startswith(own):
        after = text[len(own) :]
        if after[:1].isupper():  # glued: a unit never runs a capital on without a space
            return after
    return text


class RsvpChoice(StrEnum):
    """A button the delegate can press."""

    ATTEND = "attend"
    DECLINE = "decline"
    DECLINE_WITHOUT_REASON = "decline_skip"
    SUBSTITUTE = "substitute"
    SAME_UNIT = "same_unit"  # the substitute is from the delegate's own unit
    SKIP_PHONE = "skip_phone"  # no phone for the substitute
    CANCEL = "cancel"
    # At a meeting of several days: «Chỉ dự một số ngày», which offers the days one by one.
    SOME_DAYS = "days"


@dataclass(frozen=True)
class DayChoice:
    """«Chỉ ngày 18/12»: «tham dự» on that meeting day only (``number``: 1 for the first);
    ``add``: that day as well as those her answer already names («Thêm ngày 19/12»);
    ``also``: further days chosen with it (the personal page's boxes, one a day); ``shown``:
    the answer its button was shown under (:func:`answer_mark`), None when not known (the
    page's form, a button sent before buttons said it)."""

    number: int
    add: bool = False
    also: tuple[int, ...] = ()
    shown: str | None = None


def answer_mark(
    status: RsvpStatus, days: Sequence[date] | None, reason: str | None, substitute: str | None
) -> str:
    """A short mark of an answer, carried by a day's button: a tap whose mark is not the
    current answer's is on a message older than her last answer (she declined since, say),
    and records nothing rather than reverse that answer. A digest, not the answer: a button's
    data is at most 64 bytes, and names no one's choices."""
    said = "|".join((status.value, stored_days(days) or "", reason or "", substitute or ""))
    return f"{zlib.crc32(said.encode()):x}"


DAY_ACTION_PREFIX = "rsvp:day:"
ADD_DAY_ACTION_PREFIX = "rsvp:day+:"


def day_action(choice: DayChoice, meeting: int | None = None) -> str:
    """The action data of a day's button (names no record but the ``meeting`` whose message
    it is on, when given, as :func:`rsvp_action`, and the answer it is shown under: its
    ``shown``)."""
    prefix = ADD_DAY_ACTION_PREFIX if choice.add else DAY_ACTION_PREFIX
    data = f"{prefix}{choice.number}"
    if meeting is not None:
        data = f"{data}{_MEETING_MARK}{meeting}"
    return data if choice.shown is None else f"{data}{_SHOWN_MARK}{choice.shown}"


def parse_day_action(data: str | None) -> DayChoice | None:
    """The day a day's button names, or None for anything else (a malformed meeting mark
    included: :func:`rsvp_action_meeting` reads a good one)."""
    for prefix, add in ((DAY_ACTION_PREFIX, False), (ADD_DAY_ACTION_PREFIX, True)):
        if data and data.startswith(prefix) and _split(data) is not None:
            chosen, _, shown = data.partition(_SHOWN_MARK)
            number = chosen.removeprefix(prefix).partition(_MEETING_MARK)[0]
            if number.isascii() and number.isdigit() and 0 < int(number) < 100:
                return DayChoice(int(number), add, shown=shown or None)
    return None


RSVP_ACTION_PREFIX = "rsvp:"
# Between a choice and the meeting whose message carries the button: a button of an earlier
# meeting's invitation, tapped while the next meeting runs (the same bot, the same chat, an
# account carried by phone number), names that meeting, and answers nothing in this one.
_MEETING_MARK = "@"
# Between that and the answer a day's button was shown under (:func:`answer_mark`).
_SHOWN_MARK = "~"


def rsvp_action(choice: RsvpChoice, meeting: int | None = None) -> str:
    """The action data a channel puts on a button for ``choice`` (names no record but the
    ``meeting`` whose message it is on, when given)."""
    data = f"{RSVP_ACTION_PREFIX}{choice.value}"
    return data if meeting is None else f"{data}{_MEETING_MARK}{meeting}"


def _split(data: str) -> tuple[str, int | None] | None:
    """The choice's value and the meeting a button's data names (None: it names none, as
    buttons sent before they named it), a day's answer mark set aside; None for data the bot
    never sends."""
    data, shown_mark, shown = data.partition(_SHOWN_MARK)
    if shown_mark and not (shown.isascii() and shown.isalnum() and len(shown) <= 8):
        return None
    value, mark, meeting = data.removeprefix(RSVP_ACTION_PREFIX).partition(_MEETING_MARK)
    if not mark:
        return value, None
    if not (meeting.isascii() and meeting.isdigit() and len(meeting) <= 18):
        return None
    return value, int(meeting)


def parse_rsvp_action(data: str | None) -> RsvpChoice | None:
    """The choice an action names, or None for anything the bot did not send."""
    if not data or not data.startswith(RSVP_ACTION_PREFIX):
        return None
    split = _split(data)
    if split is None:
        return None
    try:
        return RsvpChoice(split[0])
    except ValueError:
        return None


def rsvp_action_meeting(data: str) -> int | None:
    """The meeting an RSVP button's data names (its row id), or None when it names none."""
    split = _split(data) if data.startswith(RSVP_ACTION_PREFIX) else None
    return None if split is None else split[1]
