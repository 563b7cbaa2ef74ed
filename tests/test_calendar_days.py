"""The calendar file of a meeting of several days: one event a day, not one that spans the
nights (s34 re-test M6: «lich.ics» from 08:00 on 17/12 to 16:30 on 18/12 showed the delegate
busy all night, and its alarm fired before the first day only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import icalendar

from bot.config import Config, load_config
from bot.services.meetings import CalendarRevision, meeting_calendar
from bot.texts import load_catalog
from tests.conftest import EXAMPLE_CONFIG, local
from tests.test_agenda_days import SECOND_DAY, two_day_text, written

VI = load_catalog("vi")
REVISION = CalendarRevision(sequence=3, revised_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC))


def events(config: Config) -> list[tuple[str, datetime, datetime, int]]:
    """The file's events: UID, start, end and SEQUENCE, as a calendar app reads them."""
    calendar = icalendar.Calendar.from_ical(meeting_calendar(config, VI, REVISION))
    assert all(not component.errors for component in calendar.walk())
    return [
        (
            str(event["UID"]),
            event.decoded("DTSTART"),
            event.decoded("DTEND"),
            int(str(event["SEQUENCE"])),
        )
        for event in calendar.walk("VEVENT")
    ]


def test_a_meeting_whose_programme_says_its_days_has_an_event_a_day_from_its_first_item_to_its_last(
    tmp_path: Path,
) -> None:
    config = load_config(written(tmp_path, two_day_text())).config
    assert events(config) == [
        ("60-KH-BTV@hoinghi", local(2024, 5, 28, 7, 30), local(2024, 5, 28, 9, 5), 3),
        ("60-KH-BTV-ngay-2@hoinghi", local(2024, 5, 29, 9, 5), local(2024, 5, 29, 11, 30), 3),
    ]


def test_a_meeting_of_several_days_without_a_programme_by_day_has_its_hours_each_day(
    tmp_path: Path,
) -> None:
    config = load_config(written(tmp_path, two_day_text((SECOND_DAY, "[[agenda]]\n")))).config
    assert not config.agenda_by_day()
    assert events(config) == [
        ("60-KH-BTV@hoinghi", local(2024, 5, 28, 8, 0), local(2024, 5, 28, 11, 30), 3),
        ("60-KH-BTV-ngay-2@hoinghi", local(2024, 5, 29, 8, 0), local(2024, 5, 29, 11, 30), 3),
    ]


def test_a_moved_meeting_of_several_days_keeps_each_day_s_uid_so_calendars_update_it(
    tmp_path: Path,
) -> None:
    moved = two_day_text(
        ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-06-04T08:00"'),
        ('ends_at = "2024-05-29T11:30"', 'ends_at = "2024-06-05T11:30"'),
    )
    before = load_config(written(tmp_path, two_day_text())).config
    after = load_config(written(tmp_path, moved)).config
    assert [uid for uid, *_ in events(after)] == [uid for uid, *_ in events(before)]
    assert [start for _, start, *_ in events(after)] == [
        local(2024, 6, 4, 7, 30),
        local(2024, 6, 5, 9, 5),
    ]


def test_a_one_day_meeting_keeps_its_one_event_from_start_to_end() -> None:
    config = load_config(EXAMPLE_CONFIG).config
    assert events(config) == [
        ("60-KH-BTV@hoinghi", local(2024, 5, 28, 8, 0), local(2024, 5, 28, 11, 30), 3)
    ]


def summaries(config: Config) -> list[tuple[str, str]]:
    """Each event's title and description (the organizer's line dropped), as an app shows."""
    calendar = icalendar.Calendar.from_ical(meeting_calendar(config, VI, REVISION))
    return [
        (str(event["SUMMARY"]), str(event["DESCRIPTION"]).split("\n", 1)[1])
        for event in calendar.walk("VEVENT")
    ]


def test_each_day_s_event_says_its_day_and_gives_that_day_s_programme_alone(
    tmp_path: Path,
) -> None:
    """Both days' events were «Hội nghị sơ kết giữa nhiệm kỳ» with both days' programme: a
    calendar showed two alike; each says which day it is and what is on that day."""
    config = load_config(written(tmp_path, two_day_text())).config
    (first, one), (second, two) = summaries(config)
    title = config.meeting.display_title
    assert (first, second) == (f"{title} — ngày 1/2", f"{title} — ngày 2/2")
    assert one.startswith(config.meeting.title + "\n\n28/5/2024:\n07:30–08:00 Đón tiếp đại biểu")
    assert "29/5/2024" not in one and "Tham luận" not in one
    assert two == (
        f"{config.meeting.title}\n\n29/5/2024:\n09:05–11:00 Tham luận, thảo luận tại hội nghị\n"
        "11:00–11:30 Phát biểu chỉ đạo của lãnh đạo Trung ương Hội và lãnh đạo thành phố; kết "
        "luận, bế mạc hội nghị"
    )


def test_a_meeting_of_several_days_without_a_programme_by_day_titles_each_day(
    tmp_path: Path,
) -> None:
    config = load_config(written(tmp_path, two_day_text((SECOND_DAY, "[[agenda]]\n")))).config
    (first, one), (second, two) = summaries(config)
    assert (first[-10:], second[-10:]) == ("— ngày 1/2", "— ngày 2/2")
    assert one == two and "Tham luận" in one  # the whole programme, which says no days


def test_a_one_day_meeting_s_event_keeps_its_title() -> None:
    config = load_config(EXAMPLE_CONFIG).config
    assert [title for title, _ in summaries(config)] == [config.meeting.display_title]
