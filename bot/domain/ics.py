"""The meeting as an RFC 5545 calendar file (.ics), written by hand so the bot needs no library.

The event carries its own VTIMEZONE, generated from zoneinfo for the years the meeting spans,
because Outlook and older clients do not resolve an IANA TZID on their own.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRODID = "-//hoinghi//hoinghi//VI"
ORGANIZER_LABEL = "Đơn vị tổ chức"
ALARM_TRIGGER = "-PT1H"
MAX_LINE_OCTETS = 75
CRLF = b"\r\n"

_LOCAL_FORMAT = "%Y%m%dT%H%M%S"
_UTC_FORMAT = "%Y%m%dT%H%M%SZ"
# Before the first transition of the meeting's year the zone is in the observance that was in
# force on 1 January; its onset date is unknown to us, so it gets the customary epoch.
_EPOCH_ONSET = "19700101T000000"
_SCAN_STEP = timedelta(hours=1)
# A TZID parameter value must be quoted if it holds ":", ";" or ","; IANA keys never do, and
# refusing anything else keeps the parameter unquoted, which is what every client expects.
_TZID_SHAPE = re.compile(r"^[A-Za-z0-9_+\-/]+$")
# RFC 5545 3.3.11 forbids control characters in TEXT except HTAB; newlines are escaped first.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
_FILENAME_MAX_CODE = 60


@dataclass(frozen=True)
class CalendarEvent:
    """One meeting as a calendar event; same uid → calendar apps update instead of duplicating."""

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    location: str
    description: str
    latitude: float | None = None
    longitude: float | None = None
    organizer_name: str | None = None
    url: str | None = None
    organizer_label: str = ORGANIZER_LABEL  # the catalog supplies it; this is the fallback
    sequence: int = 0
    stamp: datetime | None = None


@dataclass(frozen=True)
class _Observance:
    """A STANDARD or DAYLIGHT sub-component of VTIMEZONE."""

    kind: str
    onset: str
    offset_from: timedelta
    offset_to: timedelta
    name: str


def build_ics(event: CalendarEvent, *more: CalendarEvent) -> bytes:
    """The event (and ``more``: a meeting of several days has one a day, all in the same
    zone) as a complete VCALENDAR: UTF-8, CRLF line endings, lines folded at 75 octets."""
    events = (event, *more)
    zone = _validate(event)
    for other in more:
        if _validate(other) != zone:
            raise ValueError(f"events in two time zones: {event.timezone}, {other.timezone}")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        *_vtimezone(zone, min(e.starts_at for e in events), max(e.ends_at for e in events)),
    ]
    for each in events:
        lines += _vevent(each, zone)
    lines.append("END:VCALENDAR")
    return b"".join(_fold(line) for line in lines)


def _vevent(event: CalendarEvent, zone: ZoneInfo) -> list[str]:
    """One VEVENT, its alarm included."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_text(event.uid)}",
        f"DTSTAMP:{_utc(event.stamp or event.starts_at)}",
        _local_property("DTSTART", event.starts_at, zone),
        _local_property("DTEND", event.ends_at, zone),
        f"SUMMARY:{_text(event.title)}",
        f"LOCATION:{_text(event.location)}",
        f"DESCRIPTION:{_text(_description(event))}",
    ]
    if event.latitude is not None and event.longitude is not None:
        lines.append(f"GEO:{event.latitude:.6f};{event.longitude:.6f}")
    if event.url is not None:
        lines.append(f"URL:{event.url}")
    lines += [
        f"SEQUENCE:{event.sequence}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"TRIGGER:{ALARM_TRIGGER}",
        f"DESCRIPTION:{_text(event.title)}",
        "END:VALARM",
        "END:VEVENT",
    ]
    return lines


def ics_filename(code: str) -> str:
    """A safe ASCII file name for plan code ``code``, e.g. "hoi-nghi-60-KH-BTV.ics"."""
    # Vietnamese "đ" has no decomposition, so NFKD alone would drop it instead of keeping the "d".
    ascii_code = (
        unicodedata.normalize("NFKD", code.replace("đ", "d").replace("Đ", "D"))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    slug = _FILENAME_UNSAFE.sub("-", ascii_code).strip("-")[:_FILENAME_MAX_CODE].strip("-")
    return f"hoi-nghi-{slug}.ics" if slug else "hoi-nghi.ics"


def _validate(event: CalendarEvent) -> ZoneInfo:
    """Refuse what would make an invalid or misleading file; return the event's zone."""
    for name, value in (
        ("starts_at", event.starts_at),
        ("ends_at", event.ends_at),
        ("stamp", event.stamp),
    ):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    if event.ends_at <= event.starts_at:
        raise ValueError(f"ends_at {event.ends_at} is not after starts_at {event.starts_at}")
    if (event.latitude is None) != (event.longitude is None):
        raise ValueError("latitude and longitude must be given together")
    if event.latitude is not None and not -90 <= event.latitude <= 90:
        raise ValueError(f"latitude out of range: {event.latitude}")
    if event.longitude is not None and not -180 <= event.longitude <= 180:
        raise ValueError(f"longitude out of range: {event.longitude}")
    if event.url is not None and (not event.url or any(c.isspace() for c in event.url)):
        raise ValueError(f"url must be a URI without whitespace, got {event.url!r}")
    if event.sequence < 0:
        raise ValueError(f"sequence must not be negative, got {event.sequence}")
    if not event.uid.strip():
        raise ValueError("uid must not be empty")
    if not _TZID_SHAPE.fullmatch(event.timezone):
        raise ValueError(f"not an IANA time zone name: {event.timezone!r}")
    try:
        return ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {event.timezone!r}") from exc


def _description(event: CalendarEvent) -> str:
    """The description, headed by the organizer (ORGANIZER itself needs a mailto address)."""
    if event.organizer_name is None:
        return event.description
    head = f"{event.organizer_label}: {event.organizer_name}"
    return f"{head}\n{event.description}" if event.description else head


def _text(value: str) -> str:
    """``value`` escaped as an RFC 5545 TEXT value (3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    # The backslash goes first so the escapes added after it are not escaped again.
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(moment: datetime) -> str:
    """``moment`` in the UTC "Z" form."""
    return moment.astimezone(UTC).strftime(_UTC_FORMAT)


def _local_property(name: str, moment: datetime, zone: ZoneInfo) -> str:
    """DTSTART/DTEND as local time with TZID, or UTC when the local time is ambiguous."""
    local = moment.astimezone(zone)
    # In the repeated hour when clocks go back, a TZID time means its first occurrence
    # (RFC 5545 3.3.5), so an instant in the second one can only be written exactly in UTC.
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return f"{name}:{_utc(moment)}"
    return f"{name};TZID={zone.key}:{local.strftime(_LOCAL_FORMAT)}"


def _vtimezone(zone: ZoneInfo, starts_at: datetime, ends_at: datetime) -> list[str]:
    """A VTIMEZONE covering every local calendar year the event touches."""
    first_year = starts_at.astimezone(zone).year
    last_year = ends_at.astimezone(zone).year
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone.key}"]
    for observance in _observances(zone, first_year, last_year):
        lines += [
            f"BEGIN:{observance.kind}",
            f"DTSTART:{observance.onset}",
            f"TZOFFSETFROM:{_offset(observance.offset_from)}",
            f"TZOFFSETTO:{_offset(observance.offset_to)}",
            f"TZNAME:{_text(observance.name)}",
            f"END:{observance.kind}",
        ]
    lines.append("END:VTIMEZONE")
    return lines


# Remembered: finding the transitions steps hourly through the years (tens of milliseconds),
# and every start of the services asks for the same zone and years again (the plan's
# fingerprint). A zone's rules do not change while the process runs.
@functools.lru_cache(maxsize=32)
def _observances(zone: ZoneInfo, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    """The observance in force on 1 January of ``first_year``, then each transition to the end."""
    scan_from = datetime(first_year, 1, 1, tzinfo=zone).astimezone(UTC)
    scan_to = datetime(last_year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    initial = scan_from.astimezone(zone)
    offset = _utcoffset(initial)
    observances = [
        _Observance(_kind(initial), _EPOCH_ONSET, offset, offset, initial.tzname() or "")
    ]
    for moment in _transitions(zone, scan_from, scan_to):
        local = moment.astimezone(zone)
        # The onset is the wall-clock time at which the change happens, read on the old clock.
        onset = (moment + offset).replace(tzinfo=None).strftime(_LOCAL_FORMAT)
        new_offset = _utcoffset(local)
        observances.append(
            _Observance(_kind(local), onset, offset, new_offset, local.tzname() or "")
        )
        offset = new_offset
    return tuple(observances)


def _transitions(zone: ZoneInfo, scan_from: datetime, scan_to: datetime) -> Iterator[datetime]:
    """UTC instants in [scan_from, scan_to) at which the zone's offset, DST flag or name changes."""
    # zoneinfo exposes no transition list, so step hourly (no zone changes twice within an hour)
    # and bisect each step that straddles a change down to the second.
    before = scan_from
    state = _state(before, zone)
    while before < scan_to:
        after = min(before + _SCAN_STEP, scan_to)
        if _state(after, zone) != state:
            low, high = before, after
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _state(middle, zone) == state:
                    low = middle
                else:
                    high = middle
            if high < scan_to:
                yield high
            state = _state(high, zone)
        before = after


def _state(moment: datetime, zone: ZoneInfo) -> tuple[timedelta, timedelta, str]:
    """What a VTIMEZONE observance records about the zone at ``moment``."""
    local = moment.astimezone(zone)
    return _utcoffset(local), local.dst() or timedelta(0), local.tzname() or ""


def _utcoffset(local: datetime) -> timedelta:
    """The UTC offset of an aware datetime (zoneinfo always knows it)."""
    offset = local.utcoffset()
    assert offset is not None  # zoneinfo datetimes are always aware
    return offset


def _kind(local: datetime) -> str:
    """DAYLIGHT while the zone observes summer time, else STANDARD."""
    return "DAYLIGHT" if local.dst() else "STANDARD"


def _offset(offset: timedelta) -> str:
    """A UTC offset in the ±HHMM[SS] form of RFC 5545 3.3.14."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def _fold(line: str) -> bytes:
    """One content line, folded at 75 octets on character boundaries and CRLF-terminated."""
    chunks: list[bytes] = []
    current = b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > MAX_LINE_OCTETS:
            chunks.append(current)
            # The leading space of a continuation line counts towards its 75 octets.
            current = b" "
        current += encoded
    chunks.append(current)
    return CRLF.join(chunks) + CRLF
