"""Plan times: offsets from the meeting start, local clock times on a day, absolute times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.timespec import (
    TimeSpec,
    TimeSpecError,
    parse_local_datetime,
    parse_typed_time,
    surely_not_a_time,
    typed_time_examples,
)
from tests.conftest import HANOI, local

START = local(2024, 5, 28, 8, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-7d", local(2024, 5, 21, 8, 0)),
        ("-2h", local(2024, 5, 28, 6, 0)),
        ("-30s", local(2024, 5, 28, 7, 59, 30)),
        ("-1d12h", local(2024, 5, 26, 20, 0)),
        ("+3h30m", local(2024, 5, 28, 11, 30)),
        ("-1d@08:00", local(2024, 5, 27, 8, 0)),
        ("0d@06:30", local(2024, 5, 28, 6, 30)),
        ("-3d@16:00", local(2024, 5, 25, 16, 0)),
        ("2024-05-21T17:00", local(2024, 5, 21, 17, 0)),
        ("2024-05-21T10:00+00:00", local(2024, 5, 21, 17, 0)),
        ("2024-05-21 17:00", local(2024, 5, 21, 17, 0)),
        ("2024-05-21T00:00", local(2024, 5, 21, 0, 0)),  # midnight, when written, is meant
    ],
)
def test_time_resolves_against_the_meeting_start(text: str, expected: datetime) -> None:
    resolved = TimeSpec.parse(text).resolve(START, HANOI)
    assert resolved == expected
    assert resolved.tzinfo is UTC


def test_day_offset_with_clock_counts_local_calendar_days_not_24_hours() -> None:
    late_start = local(2024, 5, 28, 23, 30)  # 16:30 UTC: the UTC date is the same day
    early_start = local(2024, 5, 28, 1, 0)  # 18:00 UTC on the 27th
    spec = TimeSpec.parse("-1d@08:00")
    assert spec.resolve(late_start, HANOI) == local(2024, 5, 27, 8, 0)
    assert spec.resolve(early_start, HANOI) == local(2024, 5, 27, 8, 0)


def test_a_time_resolved_once_is_worked_out_anew_for_another_start_or_zone() -> None:
    """Resolved times are remembered (a tap asks for the deadline again and again): each for
    its own start and zone, also when the zone changes the day."""
    spec = TimeSpec.parse("-1d@08:00")
    first = spec.resolve(START, HANOI)
    assert spec.resolve(START, HANOI) == first == local(2024, 5, 27, 8, 0)
    assert spec.resolve(START + timedelta(days=2), HANOI) == local(2024, 5, 29, 8, 0)
    # 08:00 in Hanoi on the 28th is 01:00 UTC on the 28th: the day before in UTC is the 27th.
    assert spec.resolve(START, ZoneInfo("UTC")) == datetime(2024, 5, 27, 8, 0, tzinfo=UTC)
    assert spec.resolve(START, ZoneInfo("America/New_York")) == datetime(
        2024, 5, 26, 12, 0, tzinfo=UTC
    )  # 21:00 on the 27th in New York: 08:00 on the 26th there, 12:00 UTC


def test_relative_and_absolute_times_are_told_apart() -> None:
    assert TimeSpec.parse("-7d").is_relative
    assert not TimeSpec.parse("2024-05-21T17:00").is_relative
    assert TimeSpec.parse("-7d").offset == timedelta(days=-7)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("soon", "time_unreadable"),
        ("-7", "time_unreadable"),
        ("7x", "time_unreadable"),
        ("-2h@08:00", "time_at_needs_days"),
        ("-1d@25:00", "time_bad_clock"),
        ("-1d@08:61", "time_bad_clock"),
    ],
)
def test_unreadable_times_name_what_is_wrong(text: str, code: str) -> None:
    with pytest.raises(TimeSpecError) as caught:
        TimeSpec.parse(text)
    assert caught.value.code == code


def test_resolving_against_a_naive_start_is_a_bug() -> None:
    with pytest.raises(ValueError, match="aware"):
        TimeSpec.parse("-7d").resolve(datetime(2024, 5, 28, 8, 0), HANOI)


@pytest.mark.parametrize("text", ["2024-05-21", " 2024-05-21 ", "20240521", "2024-W21-2"])
def test_a_date_without_a_time_is_refused_not_read_as_its_midnight(text: str) -> None:
    """Each form ``datetime.fromisoformat`` reads as midnight: a time the office never wrote,
    refused in the plan's deadlines and in the meeting's start and end alike."""
    with pytest.raises(TimeSpecError) as caught:
        TimeSpec.parse(text)
    assert caught.value.code == "time_date_alone"
    with pytest.raises(TimeSpecError) as caught:
        parse_local_datetime(text, HANOI)
    assert caught.value.code == "time_date_alone"
    assert parse_local_datetime(f"{text.strip()}T17:00", HANOI) == local(2024, 5, 21, 17, 0)


@pytest.mark.parametrize(
    ("now", "day", "full", "today"),
    [
        ((2026, 12, 6, 5, 35), "08:00 7/12", "7/12/2026 08:00", "07:00"),
        ((2026, 12, 6, 21, 0), "08:00 7/12", "7/12/2026 08:00", "22:00"),
        # No half hour left today; tomorrow is next year, which a day without a year is not.
        ((2026, 12, 31, 22, 40), "08:00 1/1/2027", "1/1/2027 08:00", None),
    ],
)
def test_the_examples_of_a_time_to_type_are_built_from_now_and_are_still_to_come(
    now: tuple[int, ...], day: str, full: str, today: str | None
) -> None:
    at = datetime(*now, tzinfo=HANOI)  # type: ignore[misc]
    examples = typed_time_examples(at)
    assert (examples.day, examples.full, examples.today) == (day, full, today)
    for typed in (examples.day, examples.full, examples.today):
        if typed is not None:
            parsed = parse_typed_time(typed, at)
            assert parsed is not None and parsed > at  # a clerk copying it types a time to come


@pytest.mark.parametrize(
    ("typed", "not_a_time"),
    [
        ("08:00 ngày 27/5/2024", False),  # the longest way a time is written
        ("hôm nay", False),  # a time mistyped: asked again with the examples
        ("  27/5/2024 8h30   ", False),
        ("Kính mời các đồng chí dự buổi tổng duyệt.", True),  # a notice, not a time
        ("Họp lúc\n14:00", True),  # several lines
    ],
)
def test_a_long_or_several_line_text_typed_for_a_time_is_surely_not_one(
    typed: str, not_a_time: bool
) -> None:
    assert surely_not_a_time(typed) is not_a_time
