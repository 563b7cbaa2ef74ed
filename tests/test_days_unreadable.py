"""An answer whose stored days do not read (``rsvps.days`` edited by hand: «29/5/2024», a JSON
list, a date that does not exist): every read of the roster raised, so the dashboard, /thongke
and the morning programme failed for everyone (review s36, R10). Such an answer is read as the
whole meeting's, in Python and in SQL alike, with one warning that names no one's data."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import select, update

from bot.config import Config
from bot.domain import rsvp as rsvp_rules
from bot.domain.rsvp import days_readable, read_days
from bot.services.meetings import answered_days_unreadable, stored_meeting
from storage.models import Rsvp
from tests.plan_support import rsvp_of
from tests.test_checkin import (  # noqa: F401 (the meeting-day fixture)
    Day,
    day,
    office_chat,
    thongke,
)
from tests.test_rsvp_days import TWO_DAYS, day_two_only
from tests.test_rsvp_days import config as two_days  # noqa: F401 (the two-day plan)

DAY_ONE, DAY_TWO = date(2024, 5, 28), date(2024, 5, 29)
UNREADABLE = [
    "29/5/2024",
    '["2024-05-29"]',
    '{"day": 2}',
    "2024-05-29;2024-05-28",
    "2024-05-29,",
    "2024-02-30",
]


@pytest.fixture
def config() -> Config:
    """The example plan, its meeting over two days."""
    return TWO_DAYS


async def spoil(day: Day, code: str, stored: str) -> int:  # noqa: F811
    """``code``'s ``rsvps.days`` set to ``stored`` behind the bot's back; her row's id."""
    person = await rsvp_of(day.services, code)
    async with day.services.ctx.sessions() as session, session.begin():
        await session.execute(
            update(Rsvp).where(Rsvp.delegate_id == person.delegate_id).values(days=stored)
        )
        return int(
            await session.scalar(select(Rsvp.id).where(Rsvp.delegate_id == person.delegate_id))
        )


def test_a_stored_value_that_is_no_list_of_dates_reads_as_every_day() -> None:
    for stored in UNREADABLE:
        assert read_days(stored) is None, stored
        assert not days_readable(stored), stored
    assert read_days("2024-05-28,2024-05-30") == (DAY_ONE, date(2024, 5, 30))
    # A date of a value of dates that does not exist names no day (SQL's match finds none).
    assert read_days("2023-02-29,2024-05-29") == (DAY_TWO,)
    assert days_readable("2024-05-28,2024-05-30") and days_readable(None)


@pytest.mark.parametrize("stored", UNREADABLE)
async def test_the_figures_read_an_unreadable_answer_as_every_day(
    day: Day,  # noqa: F811
    stored: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DB010 answered day two only, then her row was edited by hand: /thongke, the overview,
    the desk and the counts all read her as coming on both days (4 a day), none raises."""
    await day_two_only(day, "DB010")
    await spoil(day, "DB010", stored)
    monkeypatch.setattr(rsvp_rules, "_WARNED", set())  # as in a process that never read it
    caplog.set_level(logging.WARNING)
    staff = await office_chat(day)
    said = await thongke(day, staff)
    assert "📅 Dự kiến tham dự theo ngày: ngày 28/5: 4 · ngày 29/5: 4" in said
    assert (await day.services.reports.counts()).by_day == ((DAY_ONE, 4), (DAY_TWO, 4))
    assert (await day.services.dashboard.figures()).counts.by_day == ((DAY_ONE, 4), (DAY_TWO, 4))
    desk = await day.desk("NV02", "Bàn 1")
    hall = await day.checkin.attendance(desk)
    assert hall.expected == 4 and "DB010" in [person.code for person in hall.missing]
    assert (await rsvp_of(day.services, "DB010")).days == stored
    warned = [r.getMessage() for r in caplog.records if "rsvps.days" in r.getMessage()]
    assert len(warned) == 1, warned  # once, however often it is read
    assert stored not in warned[0]


async def test_the_morning_programme_goes_to_one_whose_days_do_not_read(
    day: Day,  # noqa: F811
) -> None:
    """The morning job reads the audience: it goes, and to her too (every day)."""
    await day_two_only(day, "DB010")
    await spoil(day, "DB010", "29/5/2024")
    async with day.services.ctx.sessions() as session:
        people = await day.services.audiences.people(session, "present", ("telegram",), day=1)
    person = await rsvp_of(day.services, "DB010")
    assert person.delegate_id in {one.delegate_id for one in people}


async def test_check_names_the_rows_whose_days_do_not_read(day: Day) -> None:  # noqa: F811
    await day_two_only(day, "DB010")
    await day_two_only(day, "DB002")
    row = await spoil(day, "DB010", '["2024-05-29"]')
    stored = await stored_meeting(day.services.ctx.sessions, TWO_DAYS.meeting.code)
    problems = answered_days_unreadable(stored)
    assert [(p.key, p.code, p.params) for p in problems] == [
        ("rsvps.days", "answered_days_unreadable", {"count": 1, "rows": str(row)})
    ]
