"""A meeting of two days whose programme says no days (``[[agenda]]`` without ``day``, as
config.example.toml's, written as one list): the programme is the whole meeting's, and each who
comes gets it once, on the morning of the first day she comes (review s36, R7: it went on the
first morning only, so one who answered «chỉ dự ngày 29/5» never had it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config, load_config
from bot.domain.outbound import MessageKind
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpAnswer, RsvpStatus, morning_programme_on
from tests.conftest import local, morning_programme_due
from tests.plan_support import rsvp_of
from tests.test_agenda_days import SECOND_DAY, two_day_text, written
from tests.zalo_support import ZaloWorld, world  # noqa: F401 (the Zalo fixture)

TODAY = "chương trình hội nghị hôm nay"
DAY_ONE, DAY_TWO = date(2024, 5, 28), date(2024, 5, 29)


def undated_text() -> str:
    """The example plan held over 28–29/5, its programme one list with no ``day``."""
    return two_day_text().replace(SECOND_DAY, "[[agenda]]\n", 1)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The two-day plan whose programme says no days, for every fixture built on the plan."""
    plan = load_config(written(tmp_path, undated_text())).config
    assert plan.meeting.several_days and not plan.agenda_by_day()
    return plan


def test_a_programme_without_days_is_planned_each_morning_for_those_who_begin_that_day(
    config: Config,
) -> None:
    """Day one's message keeps its slot (a plan already running is not sent it again); day
    two's is for those whose first day it is, good until the meeting ends as day one's."""
    mornings = [p for p in planned_messages(config) if p.kind is MessageKind.MORNING_AGENDA]
    assert [(p.slot, p.due_at, p.expires_at, p.params) for p in mornings] == [
        ("60-KH-BTV:morning_agenda", local(2024, 5, 28, 6, 30), local(2024, 5, 29, 11, 30), None),
        (
            "60-KH-BTV:morning_agenda:2",
            local(2024, 5, 29, 6, 30),
            local(2024, 5, 29, 11, 30),
            {"day": 2},
        ),
    ]


def test_the_programme_of_a_day_is_hers_by_the_day_she_begins_when_it_says_no_days() -> None:
    dates = (DAY_ONE, DAY_TWO)
    every, second = (RsvpStatus.ATTENDING, None), (RsvpStatus.ATTENDING, (DAY_TWO,))
    substitute = (RsvpStatus.SUBSTITUTE, None)
    undated = {
        name: [morning_programme_on(*answer, on, dates, by_day=False) for on in dates]
        for name, answer in (("every", every), ("second", second), ("substitute", substitute))
    }
    assert undated == {
        "every": [True, False],
        "second": [False, True],
        "substitute": [True, False],
    }
    # Written day by day, each day's programme goes to all who come that day.
    assert [morning_programme_on(*every, on, dates, by_day=True) for on in dates] == [True, True]
    assert not morning_programme_on(RsvpStatus.DECLINED, None, DAY_ONE, dates, by_day=False)


async def test_one_who_comes_on_day_two_only_gets_the_programme_on_day_two_s_morning(
    world: ZaloWorld,  # noqa: F811
) -> None:
    """Each who comes gets the one programme once: those who come on 28/5 that morning, one who
    answered «chỉ dự ngày 29/5» on 29/5's morning; no one twice."""
    every = await world.linked("DB001", "Chị Mai")
    await world.type(every, "1")  # «Tham dự»: every day
    first_only = await world.linked("DB002", "Anh Hùng")
    await world.type(first_only, "4")  # «Chỉ dự một số ngày»
    await world.type(first_only, "1")  # «Chỉ dự ngày 28/5»
    second_only = await world.linked("DB004", "Chị Lan")
    await world.type(second_only, "4")
    await world.type(second_only, "2")  # «Chỉ dự ngày 29/5»
    await morning_programme_due(world.services, world.clock)  # 06:30 on 28/5
    counts = {user: len(user.texts) for user in (every, first_only, second_only)}
    await world.tick()
    got = {user: user.texts[counts[user] :] for user in counts}
    assert [any(TODAY in text for text in got[user]) for user in counts] == [True, True, False]
    world.clock.set(local(2024, 5, 29, 6, 30))
    counts = {user: len(user.texts) for user in (every, first_only, second_only)}
    await world.tick()
    got = {user: user.texts[counts[user] :] for user in counts}
    assert [any(TODAY in text for text in got[user]) for user in counts] == [False, False, True]
    programme = next(text for text in got[second_only] if TODAY in text)
    # The whole programme, as day one's: both days' items under no heading.
    assert "Đón tiếp đại biểu" in programme and "Tham luận, thảo luận" in programme


async def test_a_late_answer_on_day_two_gets_the_programme_once(
    world: ZaloWorld,  # noqa: F811
) -> None:
    """The office records by phone on 29/5, after both mornings' messages went, that DB002
    comes (every day) and DB004 comes on 29/5: each is queued one copy, not one a morning."""
    every = await world.linked("DB001", "Chị Mai")
    await world.type(every, "1")
    early = await world.linked("DB005", "Chị Hoa")
    await world.type(early, "4")
    await world.type(early, "2")  # day two's message goes to someone
    late_every = await world.linked("DB002", "Anh Hùng")
    late_second = await world.linked("DB004", "Chị Lan")
    await morning_programme_due(world.services, world.clock)
    await world.tick()
    world.clock.set(local(2024, 5, 29, 6, 30))
    await world.tick()
    assert any(TODAY in text for text in early.texts)
    world.clock.set(local(2024, 5, 29, 8, 0))
    office = world.services.access.local_operator()
    counts = {user: len(user.texts) for user in (late_every, late_second)}
    for code, days in (("DB002", None), ("DB004", (DAY_TWO,))):
        person = await rsvp_of(world.services, code)
        answer = RsvpAnswer(RsvpStatus.ATTENDING, days=days)
        await world.services.rsvp.record_by_phone(office, person.delegate_id, answer)
    await world.tick()
    got = {user: user.texts[counts[user] :] for user in counts}
    assert [sum(TODAY in text for text in got[user]) for user in counts] == [1, 1]


def test_check_says_who_gets_a_programme_without_days_on_which_morning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path, undated_text())
    assert main(["--config", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert (
        "  Chương trình không ghi ngày (day): là chương trình chung của cả hội nghị, mỗi người"
        " nhận một lần, vào sáng ngày đầu tiên mình dự" in out
    )
    mornings = [line for line in out.splitlines() if ": chương trình ngày hội nghị" in line]
    assert [line.removesuffix(" (đã qua)") for line in mornings] == [
        "  06:30, Thứ Ba, ngày 28/5/2024: chương trình ngày hội nghị",
        "  06:30, Thứ Tư, ngày 29/5/2024: chương trình ngày hội nghị (tới người chỉ dự từ ngày 29/5)",
    ]
