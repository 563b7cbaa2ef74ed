"""Times in the plan: absolute local times or offsets from the meeting start.

A plan moves as a whole when the meeting moves, so every deadline may be written relative to the
meeting start:

* ``-7d``, ``-2h``, ``-30s``, ``-1d12h`` — an exact offset from the start;
* ``-1d@08:00``, ``0d@06:30`` — a day offset counted in the meeting's local calendar, at a local
  wall-clock time (so ``-1d@08:00`` is 08:00 the day before, whatever hour the meeting starts);
* ``2024-05-21T17:00`` — an absolute local time in the meeting's zone (an explicit offset such as
  ``+07:00`` is honoured).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_OFFSET = re.compile(r"^(?P<sign>[+-])?(?P<parts>(?:\d+[dhms])+)(?:@(?P<at>\d{1,2}:\d{2}))?$")
_PART = re.compile(r"(\d+)([dhms])")


class TimeSpecError(ValueError):
    """A time in the plan that cannot be read; ``code`` names the text-catalog entry."""

    def __init__(self, code: str, value: str) -> None:
        super().__init__(f"{code}: {value!r}")
        self.code = code
        self.value = value


@dataclass(frozen=True)
class TimeSpec:
    """A parsed plan time; resolve it against the meeting start to get a UTC instant."""

    text: str
    absolute: datetime | None = None
    offset: timedelta = timedelta(0)
    day_offset: int | None = None
    at: time | None = None

    @classmethod
    def parse(cls, text: str) -> TimeSpec:
        """Read ``text`` or raise TimeSpecError."""
        raw = text.strip()
        match = _OFFSET.fullmatch(raw)
        if match:
            sign = -1 if match["sign"] == "-" else 1
            parts = [(int(n), unit) for n, unit in _PART.findall(match["parts"])]
            if match["at"] is None:
                seconds = sum(n * _UNIT_SECONDS[unit] for n, unit in parts)
                return cls(text=raw, offset=timedelta(seconds=sign * seconds))
            if any(unit != "d" for _, unit in parts):
                raise TimeSpecError("time_at_needs_days", raw)
            return cls(
                text=raw, day_offset=sign * sum(n for n, _ in parts), at=_parse_clock(match["at"])
            )
        return cls(text=raw, absolute=_date_and_time(raw))

    @property
    def is_relative(self) -> bool:
        """True when the time moves with the meeting."""
        return self.absolute is None

    def resolve(self, meeting_start: datetime, zone: ZoneInfo) -> datetime:
        """The UTC instant this time names for a meeting starting at ``meeting_start``."""
        if meeting_start.tzinfo is None:
            raise ValueError("meeting_start must be timezone-aware")
        return _resolved(self, meeting_start, zone)


@functools.lru_cache(maxsize=1024)
def _resolved(spec: TimeSpec, meeting_start: datetime, zone: ZoneInfo) -> datetime:
    """:meth:`TimeSpec.resolve`, worked out once for each time, start and zone: a plan's few
    times are resolved again for every tap (its deadline, when those who come are first
    written to), 3 µs each through the zone's rules (bench/README.md, 2026-12-05)."""
    if spec.absolute is not None:
        local = spec.absolute
        if local.tzinfo is None:
            local = local.replace(tzinfo=zone)
        return local.astimezone(UTC)
    if spec.day_offset is not None and spec.at is not None:
        day: date = meeting_start.astimezone(zone).date() + timedelta(days=spec.day_offset)
        return datetime.combine(day, spec.at, tzinfo=zone).astimezone(UTC)
    return (meeting_start + spec.offset).astimezone(UTC)


def _date_and_time(text: str) -> datetime:
    """``text`` read as an ISO date and time, or TimeSpecError: a date alone (``2024-05-21``,
    ``20240521``, ``2024-W21-2``) is refused rather than read as its midnight, a time the
    office never wrote (``time_date_alone``)."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise TimeSpecError("time_unreadable", text) from None
    try:
        date.fromisoformat(raw)
    except ValueError:
        return value  # there is a time in it
    raise TimeSpecError("time_date_alone", text)


def parse_local_datetime(text: str, zone: ZoneInfo) -> datetime:
    """An absolute date and time in the meeting's zone (naive means local), returned in UTC;
    TimeSpecError for what cannot be read, and for a date without a time."""
    value = _date_and_time(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _parse_clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise TimeSpecError("time_bad_clock", text)
    return time(hours, minutes)


def parse_clock(text: str) -> time:
    """A wall-clock ``HH:MM`` or raise TimeSpecError."""
    if not re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        raise TimeSpecError("time_bad_clock", text)
    return _parse_clock(text.strip())


_TYPED = re.compile(
    r"^\s*(?:(?P<h1>\d{1,2})[:hg](?P<m1>\d{2})\s*(?:(?:ngày\s*)?(?P<d1>\d{1,2})/(?P<mo1>\d{1,2})"
    r"(?:/(?P<y1>\d{4}))?)?"
    r"|(?:ngày\s*)?(?P<d2>\d{1,2})/(?P<mo2>\d{1,2})(?:/(?P<y2>\d{4}))?\s+(?P<h2>\d{1,2})[:hg](?P<m2>\d{2}))"
    r"\s*$",
    re.IGNORECASE,
)


# The longest text read as an attempt at a time: «08:00 ngày 27/5/2024» is 20 characters; a
# text longer than this, or of several lines, is something else typed where a time was asked
# (most likely a new notice), not a time mistyped.
MAX_TYPED_TIME = 32


def surely_not_a_time(text: str) -> bool:
    """Whether ``text``, typed where a time was asked, is no attempt at one (its length or its
    lines say so), to be answered as what it is rather than as a time mistyped."""
    stripped = text.strip()
    return len(stripped) > MAX_TYPED_TIME or "\n" in stripped


def parse_typed_time(text: str, now_local: datetime) -> datetime | None:
    """A time an office member types, as they would write it: ``08:00 27/5``, ``27/5 08:00``,
    ``27/5/2024 8h30``, or just ``14:00`` (today). Returns an aware local datetime or None."""
    match = _TYPED.fullmatch(text)
    if match is None:
        return None
    hour = int(match["h1"] or match["h2"])
    minute = int(match["m1"] or match["m2"])
    day = match["d1"] or match["d2"]
    month = match["mo1"] or match["mo2"]
    year = match["y1"] or match["y2"]
    try:
        if day is None:
            return now_local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return now_local.replace(
            year=int(year) if year else now_local.year,
            month=int(month),
            day=int(day),
            hour=hour,
            minute=minute,
            second=0,
            microsecond=0,
        )
    except ValueError:  # 31/2, 25:00 and the like
        return None


@dataclass(frozen=True)
class TypedTimeExamples:
    """Examples of a time to type (:func:`parse_typed_time`), built from the moment they are
    shown, so a clerk who copies one types a time to come, not the example plan's «27/5/2024»:
    ``day`` «08:00 7/12» (tomorrow), ``full`` «7/12/2026 08:00», ``today`` a time still to come
    today («07:00»), None when the day has no half hour left after the next."""

    day: str
    full: str
    today: str | None


def typed_time_examples(now_local: datetime) -> TypedTimeExamples:
    """The examples for a clerk typing a time at ``now_local`` (the meeting's wall clock)."""
    tomorrow = now_local.date() + timedelta(days=1)
    day_month = f"{tomorrow.day}/{tomorrow.month}"
    # A day without its year is read in this year: on 31/12, tomorrow's example needs it.
    short = day_month if tomorrow.year == now_local.year else f"{day_month}/{tomorrow.year}"
    # An hour from now at least, on the next half hour: a time that is surely still to come.
    later = now_local.replace(second=0, microsecond=0) + timedelta(hours=1)
    later += timedelta(minutes=(30 - later.minute % 30) % 30)
    today = f"{later.hour:02d}:{later.minute:02d}" if later.date() == now_local.date() else None
    return TypedTimeExamples(
        day=f"08:00 {short}", full=f"{day_month}/{tomorrow.year} 08:00", today=today
    )


# The browser's date and time (``datetime-local``, seconds optional), or the same with a space,
# an explicit offset honoured: a date alone (``2024-05-27``, ``20240527``, ``2024-W22-1``) is
# no deadline, though ``datetime.fromisoformat`` would read it as midnight.
_DATE_AND_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?",
    re.IGNORECASE,
)


def parse_deadline(text: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """A deadline the office typed, in UTC, or None if it cannot be read: the browser's date
    and time (``2026-12-08T17:00``, :func:`parse_local_datetime`) or as an office member
    writes it (``17:00 8/12``, :func:`parse_typed_time`), in the meeting's ``zone``; what is
    left out (the day, the year) is taken from ``now``. The one reading of «Hạn gửi bài»,
    typed in ``/phancong`` or on the dashboard. A day with no time is refused, as the refusal
    asks for both: read as its midnight, it would be a deadline the office never wrote."""
    if _DATE_AND_TIME.fullmatch(text.strip()):
        try:
            return parse_local_datetime(text, zone)
        except TimeSpecError:  # 2024-02-31T17:00, 2024-05-27T25:00
            return None
    found = parse_typed_time(text, now.astimezone(zone))
    return None if found is None else found.astimezone(UTC)
