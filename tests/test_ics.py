"""The meeting's .ics file, checked by parsing it back with the independent `icalendar` package."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.domain.ics import CalendarEvent, build_ics, ics_filename
from tests.conftest import HANOI, local

BERLIN = ZoneInfo("Europe/Berlin")
TITLE = "Hội nghị sơ kết giữa nhiệm kỳ"
LOCATION = "Hội trường Hội LHPN Hà Nội, Số 7 phố Tôn Thất Thuyết; tầng 2"
DESCRIPTION = (
    "Chương trình:\n"
    "1. Khai mạc, giới thiệu đại biểu;\n"
    "2. Báo cáo sơ kết (đường dẫn C:\\hoinghi\\baocao) & thảo luận <tổ>\n"
    "3. Bế mạc"
)


def make_event(**changes: object) -> CalendarEvent:
    """The 60/KH-BTV meeting on 28/5/2024, 08:00-11:30 in Hanoi, with ``changes`` applied."""
    event = CalendarEvent(
        uid="60-KH-BTV@hoinghi",
        title=TITLE,
        starts_at=local(2024, 5, 28, 8, 0).astimezone(UTC),
        ends_at=local(2024, 5, 28, 11, 30).astimezone(UTC),
        timezone="Asia/Ho_Chi_Minh",
        location=LOCATION,
        description=DESCRIPTION,
        latitude=21.0245,
        longitude=105.8412,
        url="https://example.org/hoi-nghi/60-KH-BTV?lang=vi",
        stamp=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
    )
    return dataclasses.replace(event, **changes)  # type: ignore[arg-type]


def parse(data: bytes) -> icalendar.Calendar:
    """Parse ``data`` and insist that icalendar found nothing to complain about."""
    calendar = icalendar.Calendar.from_ical(data)
    assert all(not component.errors for component in calendar.walk())
    return calendar


def only(calendar: icalendar.Calendar, name: str) -> icalendar.cal.Component:
    """The single component called ``name``."""
    components = calendar.walk(name)
    assert len(components) == 1
    return components[0]


def observances(
    calendar: icalendar.Calendar,
) -> list[tuple[str | None, datetime, timedelta, timedelta]]:
    """(kind, onset, offset from, offset to) of each VTIMEZONE sub-component, in file order."""
    return [
        (
            sub.name,
            sub.decoded("DTSTART"),
            sub.decoded("TZOFFSETFROM"),
            sub.decoded("TZOFFSETTO"),
        )
        for sub in only(calendar, "VTIMEZONE").subcomponents
    ]


def physical_lines(data: bytes) -> list[bytes]:
    """The raw lines, CRLF removed; asserts the file ends with CRLF."""
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def test_calendar_header_identifies_a_published_gregorian_calendar() -> None:
    calendar = parse(build_ics(make_event()))
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//hoinghi//hoinghi//VI"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert len(calendar.walk("VEVENT")) == 1


def test_start_and_end_are_local_times_in_the_meeting_zone() -> None:
    event = make_event()
    data = build_ics(event)
    vevent = only(parse(data), "VEVENT")
    start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
    assert start == event.starts_at
    assert end == event.ends_at
    assert start.replace(tzinfo=None) == datetime(2024, 5, 28, 8, 0)
    assert start.astimezone(HANOI) == start
    assert end.replace(tzinfo=None) == datetime(2024, 5, 28, 11, 30)
    assert start.utcoffset() == end.utcoffset() == timedelta(hours=7)
    assert vevent["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert vevent["DTEND"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert b"\r\nDTSTART;TZID=Asia/Ho_Chi_Minh:20240528T080000\r\n" in data
    assert b"\r\nDTEND;TZID=Asia/Ho_Chi_Minh:20240528T113000\r\n" in data


def test_start_given_with_any_offset_is_written_in_the_meeting_zone() -> None:
    plus_seven = timezone(timedelta(hours=7))
    data = build_ics(
        make_event(
            starts_at=datetime(2024, 5, 28, 8, 0, tzinfo=plus_seven),
            ends_at=datetime(2024, 5, 28, 11, 30, tzinfo=plus_seven),
        )
    )
    assert b"\r\nDTSTART;TZID=Asia/Ho_Chi_Minh:20240528T080000\r\n" in data


def test_dtstamp_is_utc_and_defaults_to_the_start() -> None:
    given = only(parse(build_ics(make_event())), "VEVENT")
    assert given.decoded("DTSTAMP") == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    defaulted_data = build_ics(make_event(stamp=None))
    assert b"\r\nDTSTAMP:20240528T010000Z\r\n" in defaulted_data
    defaulted = only(parse(defaulted_data), "VEVENT")
    assert defaulted.decoded("DTSTAMP") == local(2024, 5, 28, 8, 0)


@pytest.mark.parametrize("field", ["title", "location", "description"])
@pytest.mark.parametrize(
    "text",
    [
        TITLE,
        LOCATION,
        DESCRIPTION,
        "a,b;c\\d\\,e\\;f\\ng",
        "Trailing backslash \\",
        "Tổ 1 & Tổ 2 <không> \"trích dẫn\" 'đơn' : hai chấm",
    ],
)
def test_text_fields_round_trip_exactly(field: str, text: str) -> None:
    vevent = only(parse(build_ics(make_event(**{field: text}))), "VEVENT")
    prop = {"title": "SUMMARY", "location": "LOCATION", "description": "DESCRIPTION"}[field]
    assert str(vevent[prop]) == text


def test_text_is_escaped_per_rfc_5545() -> None:
    data = build_ics(make_event(title="a\\b;c,d\ne", organizer_name=None))
    assert b"\r\nSUMMARY:a\\\\b\\;c\\,d\\ne\r\n" in data


def test_windows_and_old_mac_line_breaks_become_newlines() -> None:
    vevent = only(parse(build_ics(make_event(description="một\r\nhai\rba"))), "VEVENT")
    assert str(vevent["DESCRIPTION"]) == "một\nhai\nba"


def test_control_characters_other_than_tab_are_dropped_from_text() -> None:
    vevent = only(parse(build_ics(make_event(title="a\x00b\x07c\td\x7f"))), "VEVENT")
    assert str(vevent["SUMMARY"]) == "abc\td"


def test_vietnamese_diacritics_survive_byte_exactly() -> None:
    data = build_ics(make_event(title=TITLE))
    assert ("SUMMARY:" + TITLE).encode("utf-8") in data


def test_organizer_heads_the_description_instead_of_an_organizer_property() -> None:
    data = build_ics(make_event(organizer_name="Ban Thường vụ Hội LHPN Hà Nội"))
    vevent = only(parse(data), "VEVENT")
    assert "ORGANIZER" not in vevent
    assert str(vevent["DESCRIPTION"]) == (
        "Đơn vị tổ chức: Ban Thường vụ Hội LHPN Hà Nội\n" + DESCRIPTION
    )


def test_organizer_alone_is_the_whole_description_when_there_is_no_agenda() -> None:
    vevent = only(parse(build_ics(make_event(organizer_name="BTV", description=""))), "VEVENT")
    assert str(vevent["DESCRIPTION"]) == "Đơn vị tổ chức: BTV"


def test_geo_url_sequence_and_status_are_written() -> None:
    vevent = only(parse(build_ics(make_event(sequence=3))), "VEVENT")
    geo = vevent["GEO"]
    assert isinstance(geo, icalendar.vGeo)
    assert (geo.latitude, geo.longitude) == (21.0245, 105.8412)
    assert str(vevent["URL"]) == "https://example.org/hoi-nghi/60-KH-BTV?lang=vi"
    assert vevent.decoded("SEQUENCE") == 3
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["TRANSP"]) == "OPAQUE"


def test_geo_and_url_are_omitted_when_not_given() -> None:
    vevent = only(parse(build_ics(make_event(latitude=None, longitude=None, url=None))), "VEVENT")
    assert "GEO" not in vevent
    assert "URL" not in vevent
    assert vevent.decoded("SEQUENCE") == 0


def test_uid_is_the_given_one_and_output_is_identical_across_calls() -> None:
    first = build_ics(make_event())
    second = build_ics(make_event())
    assert first == second
    assert str(only(parse(first), "VEVENT")["UID"]) == "60-KH-BTV@hoinghi"
    moved = build_ics(
        make_event(
            starts_at=datetime(2024, 5, 29, 1, 0, tzinfo=UTC),
            ends_at=datetime(2024, 5, 29, 4, 30, tzinfo=UTC),
            sequence=1,
        )
    )
    assert str(only(parse(moved), "VEVENT")["UID"]) == "60-KH-BTV@hoinghi"


def test_one_display_alarm_fires_an_hour_before_with_the_title() -> None:
    alarm = only(parse(build_ics(make_event())), "VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == timedelta(hours=-1)
    assert str(alarm["DESCRIPTION"]) == TITLE


def test_hanoi_timezone_is_one_standard_observance_at_plus_seven() -> None:
    calendar = parse(build_ics(make_event()))
    vtimezone = only(calendar, "VTIMEZONE")
    assert str(vtimezone["TZID"]) == "Asia/Ho_Chi_Minh"
    assert observances(calendar) == [
        ("STANDARD", datetime(1970, 1, 1), timedelta(hours=7), timedelta(hours=7)),
    ]
    assert str(vtimezone.subcomponents[0]["TZNAME"]) == "+07"


def test_berlin_timezone_has_the_2024_summer_time_transitions() -> None:
    calendar = parse(build_ics(make_event(timezone="Europe/Berlin")))
    one, two = timedelta(hours=1), timedelta(hours=2)
    assert observances(calendar) == [
        ("STANDARD", datetime(1970, 1, 1), one, one),
        ("DAYLIGHT", datetime(2024, 3, 31, 2, 0), one, two),
        ("STANDARD", datetime(2024, 10, 27, 3, 0), two, one),
    ]
    names = [str(sub["TZNAME"]) for sub in only(calendar, "VTIMEZONE").subcomponents]
    assert names == ["CET", "CEST", "CET"]


@pytest.mark.parametrize(
    "wall_clock",
    [
        datetime(2024, 1, 15, 9, 0),
        datetime(2024, 3, 31, 1, 59),
        datetime(2024, 3, 31, 3, 0),
        datetime(2024, 7, 1, 9, 0),
        datetime(2024, 10, 27, 1, 59),
        datetime(2024, 10, 27, 3, 0),
        datetime(2024, 12, 31, 23, 0),
    ],
)
def test_berlin_vtimezone_alone_resolves_local_times_like_zoneinfo(wall_clock: datetime) -> None:
    start = wall_clock.replace(tzinfo=BERLIN)
    data = build_ics(
        make_event(timezone="Europe/Berlin", starts_at=start, ends_at=start + timedelta(hours=1))
    )
    # lookup_tzid=False makes icalendar build the zone from our VTIMEZONE, as Outlook would.
    vtimezone = only(parse(data), "VTIMEZONE")
    assert isinstance(vtimezone, icalendar.Timezone)
    own_zone = vtimezone.to_tz(lookup_tzid=False)
    assert wall_clock.replace(tzinfo=own_zone).utcoffset() == start.utcoffset()


def test_vtimezone_covers_every_year_an_event_spans() -> None:
    calendar = parse(
        build_ics(
            make_event(
                timezone="Europe/Berlin",
                starts_at=datetime(2024, 12, 31, 20, 0, tzinfo=BERLIN),
                ends_at=datetime(2025, 1, 1, 2, 0, tzinfo=BERLIN),
            )
        )
    )
    onsets = [onset for _, onset, _, _ in observances(calendar)]
    assert onsets == [
        datetime(1970, 1, 1),
        datetime(2024, 3, 31, 2, 0),
        datetime(2024, 10, 27, 3, 0),
        datetime(2025, 3, 30, 2, 0),
        datetime(2025, 10, 26, 3, 0),
    ]


def test_start_in_the_repeated_autumn_hour_is_written_in_utc_to_stay_exact() -> None:
    # 00:30 UTC is 02:30 CET, the second 02:30 of 27/10/2024 in Berlin.
    start = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    data = build_ics(
        make_event(timezone="Europe/Berlin", starts_at=start, ends_at=start + timedelta(hours=2))
    )
    assert b"\r\nDTSTART:20241027T013000Z\r\n" in data
    vevent = only(parse(data), "VEVENT")
    assert vevent.decoded("DTSTART") == start
    assert vevent["DTEND"].params["TZID"] == "Europe/Berlin"


def test_every_physical_line_is_crlf_terminated_and_at_most_75_octets() -> None:
    data = build_ics(make_event(description=DESCRIPTION * 20, location=LOCATION * 5))
    assert re.search(rb"(?<!\r)\n", data) is None
    assert b"\r" not in data.replace(b"\r\n", b"")
    lines = physical_lines(data)
    assert max(len(line) for line in lines) <= 75
    assert any(len(line) == 75 or len(line) == 74 for line in lines)


def test_long_vietnamese_description_folds_on_character_boundaries() -> None:
    description = "Nội dung thảo luận: ở đây có nhiều dấu tiếng Việt — ưu tiên. " * 40
    data = build_ics(make_event(description=description))
    lines = physical_lines(data)
    for line in lines:
        line.decode("utf-8")  # raises if a fold split a multi-byte character
        assert len(line) <= 75
    continuations = [line for line in lines if line.startswith(b" ")]
    assert len(continuations) > 40
    vevent = only(parse(data), "VEVENT")
    assert str(vevent["DESCRIPTION"]) == description


def test_four_byte_characters_are_never_split_by_folding() -> None:
    title = "Hội nghị 🇻🇳 " * 30
    data = build_ics(make_event(title=title))
    for line in physical_lines(data):
        line.decode("utf-8")
        assert len(line) <= 75
    assert str(only(parse(data), "VEVENT")["SUMMARY"]) == title


@pytest.mark.parametrize("field", ["starts_at", "ends_at", "stamp"])
def test_naive_datetimes_are_refused(field: str) -> None:
    event = make_event()
    naive = getattr(event, field).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_ics(dataclasses.replace(event, **{field: naive}))


@pytest.mark.parametrize("length", [timedelta(0), timedelta(minutes=-30)])
def test_end_not_after_start_is_refused(length: timedelta) -> None:
    event = make_event()
    with pytest.raises(ValueError, match="not after"):
        build_ics(dataclasses.replace(event, ends_at=event.starts_at + length))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Asia/Hanoi_Nowhere"}, "unknown time zone"),
        ({"timezone": "Asia/Ho_Chi_Minh;X=1"}, "IANA"),
        ({"latitude": None}, "together"),
        ({"latitude": 91.0}, "latitude"),
        ({"longitude": -181.0}, "longitude"),
        ({"url": "https://example.org/a b"}, "url"),
        ({"sequence": -1}, "sequence"),
        ({"uid": " "}, "uid"),
    ],
)
def test_invalid_events_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_ics(make_event(**changes))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("60-KH-BTV", "hoi-nghi-60-KH-BTV.ics"),
        ("60/KH-BTV", "hoi-nghi-60-KH-BTV.ics"),
        ("Đại hội  đợt 2", "hoi-nghi-Dai-hoi-dot-2.ics"),
        ("../../etc/passwd", "hoi-nghi-etc-passwd.ics"),
        ("///", "hoi-nghi.ics"),
        ("", "hoi-nghi.ics"),
    ],
)
def test_filename_is_a_safe_ascii_slug_of_the_code(code: str, expected: str) -> None:
    assert ics_filename(code) == expected


def test_filename_of_a_very_long_code_stays_short() -> None:
    name = ics_filename("K" * 500)
    assert re.fullmatch(r"hoi-nghi-K+\.ics", name)
    assert len(name) <= 80
