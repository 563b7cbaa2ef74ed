"""A meeting of several days whose programme says its days (``[[agenda]] day``): the check, the
pages and the chats show each day under its date, and the morning programme goes each morning
with that day's items (s34 re-test M2: one programme, on the first morning only, listing both
days as «chương trình hội nghị hôm nay»)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config, ConfigError, load_config, plan_warnings
from bot.domain.outbound import MessageKind
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.services import Services
from bot.texts import load_catalog
from handlers.web.app import agenda_rows
from tests.conftest import EXAMPLE_CONFIG, local, morning_programme_due
from tests.plan_support import rsvp_of
from tests.web_support import web_for
from tests.zalo_support import ZaloWorld

VI = load_catalog("vi")
# The example's last two items moved to a second day, 29/5: the discussion and the closing.
DISCUSSION = '[[agenda]]\nstart = "09:05"'
SECOND_DAY = "[[agenda]]\nday = 2\n"


def two_day_text(*replacements: tuple[str, str]) -> str:
    """The example plan held over 28–29/5, its discussion and closing on the second day."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in (
        ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-29T11:30"'),
        (DISCUSSION, SECOND_DAY + 'start = "09:05"'),
        *replacements,
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def said_of(params: dict[str, object]) -> dict[str, object]:
    """A problem's parameters the message names (not the value read nor the English detail)."""
    return {k: v for k, v in params.items() if k in ("number", "day", "days", "before")}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The two-day plan (:func:`two_day_text`), for every fixture built on the plan."""
    return load_config(written(tmp_path, two_day_text())).config


def test_an_item_s_day_holds_for_the_items_below_it(config: Config) -> None:
    days = [(day, [f"{item.start:%H:%M}" for item in items]) for day, items in config.agenda_days()]
    assert days == [
        (1, ["07:30", "08:00", "08:10", "08:25", "08:35"]),
        (2, ["09:05", "11:00"]),
    ]
    assert config.agenda_by_day()


def test_a_day_after_the_meeting_s_last_is_refused(tmp_path: Path) -> None:
    text = two_day_text().replace(SECOND_DAY, "[[agenda]]\nday = 3\n", 1)
    with pytest.raises(ConfigError) as caught:
        load_config(written(tmp_path, text))
    assert [(p.key, p.code, said_of(p.params)) for p in caught.value.problems] == [
        ("agenda", "agenda_day_after_end", {"number": 6, "day": 3, "days": 2, "before": 1})
    ]
    said = VI.plain("config_errors.agenda_day_after_end", **caught.value.problems[0].params)
    assert said == (
        "mục thứ 6 của chương trình ghi day = 3, nhưng hội nghị chỉ họp 2 ngày (theo starts_at "
        "và ends_at). Đề nghị sửa day hoặc ngày kết thúc."
    )


def test_a_day_written_below_a_later_day_is_refused(tmp_path: Path) -> None:
    closing = '[[agenda]]\nstart = "11:00"'
    text = two_day_text((closing, '[[agenda]]\nday = 1\nstart = "11:00"'))
    with pytest.raises(ConfigError) as caught:
        load_config(written(tmp_path, text))
    assert [(p.key, p.code, said_of(p.params)) for p in caught.value.problems] == [
        ("agenda", "agenda_day_back", {"number": 7, "day": 1, "days": 2, "before": 2})
    ]


def test_check_lists_the_programme_under_each_day_s_date_and_a_programme_each_morning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path, two_day_text())
    assert main(["--config", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert (
        "Chương trình (7 mục):\n"
        "  Thứ Ba, ngày 28/5/2024:\n"
        "  07:30–08:00  Đón tiếp đại biểu; chương trình văn nghệ chào mừng\n"
    ) in out
    assert (
        "  08:35–09:05  Báo cáo sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ "
        "thành phố lần thứ XVII\n"
        "  Thứ Tư, ngày 29/5/2024:\n"
        "  09:05–11:00  Tham luận, thảo luận tại hội nghị\n"
    ) in out
    assert "06:30, Thứ Ba, ngày 28/5/2024: chương trình ngày hội nghị" in out
    assert "06:30, Thứ Tư, ngày 29/5/2024: chương trình ngày hội nghị" in out


def test_the_morning_programme_is_planned_for_each_day_with_its_day(config: Config) -> None:
    mornings = [p for p in planned_messages(config) if p.kind is MessageKind.MORNING_AGENDA]
    assert [(p.slot, p.due_at, p.expires_at, p.params) for p in mornings] == [
        ("60-KH-BTV:morning_agenda", local(2024, 5, 28, 6, 30), local(2024, 5, 29, 0, 0), None),
        (
            "60-KH-BTV:morning_agenda:2",
            local(2024, 5, 29, 6, 30),
            local(2024, 5, 29, 11, 30),
            {"day": 2},
        ),
    ]


# Held 28–30/5, the programme from the second day: its first item «day = 2», the discussion
# «day = 3» (s35: day one's morning programme was a heading over no item).
FROM_DAY_TWO = (
    ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-30T11:30"'),
    ('[[agenda]]\nstart = "07:30"', '[[agenda]]\nday = 2\nstart = "07:30"'),
    (DISCUSSION, "[[agenda]]\nday = 3\n" + 'start = "09:05"'),
)


def from_day_two(tmp_path: Path) -> Config:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in FROM_DAY_TWO:
        assert old in text, old
        text = text.replace(old, new, 1)
    return load_config(written(tmp_path, text)).config


def test_a_first_day_without_items_gets_no_morning_programme(tmp_path: Path) -> None:
    """The programme begins on day two: no message on day one's morning with the heading
    «Thứ Ba, ngày 28/5/2024» over nothing; day two's and day three's, each with its items."""
    plan = from_day_two(tmp_path)
    mornings = [p for p in planned_messages(plan) if p.kind is MessageKind.MORNING_AGENDA]
    assert [(p.slot, p.due_at, p.params) for p in mornings] == [
        ("60-KH-BTV:morning_agenda:2", local(2024, 5, 29, 6, 30), {"day": 2}),
        ("60-KH-BTV:morning_agenda:3", local(2024, 5, 30, 6, 30), {"day": 3}),
    ]


def test_a_programme_all_on_day_two_is_dated_and_sent_on_day_two(tmp_path: Path) -> None:
    """Every item on day two of two: the programme says its day (not «hôm nay» on day one with
    no date), and the one morning programme goes on day two."""
    text = two_day_text(
        (SECOND_DAY + 'start = "09:05"', DISCUSSION),
        ('[[agenda]]\nstart = "07:30"', '[[agenda]]\nday = 2\nstart = "07:30"'),
    )
    plan = load_config(written(tmp_path, text)).config
    assert plan.agenda_by_day()
    mornings = [p for p in planned_messages(plan) if p.kind is MessageKind.MORNING_AGENDA]
    assert [(p.slot, p.due_at) for p in mornings] == [
        ("60-KH-BTV:morning_agenda:2", local(2024, 5, 29, 6, 30))
    ]
    assert [day for day, *_ in agenda_rows(VI, plan)][:2] == ["Thứ Tư, ngày 29/5/2024", None]


def test_check_warns_of_a_first_day_without_items(tmp_path: Path) -> None:
    plan = from_day_two(tmp_path)
    warned = [p for p in plan_warnings(plan, local(2024, 5, 1, 9, 0)) if p.key == "agenda"]
    assert [(p.code, p.params) for p in warned] == [("agenda_first_day_empty", {"day": 2})]
    one_day = load_config(EXAMPLE_CONFIG).config
    assert not [p for p in plan_warnings(one_day, local(2024, 5, 1, 9, 0)) if p.key == "agenda"]


def test_the_personal_page_s_programme_heads_each_day_with_its_date(config: Config) -> None:
    rows = agenda_rows(VI, config)
    assert [(day, start) for day, start, *_ in rows] == [
        ("Thứ Ba, ngày 28/5/2024", "07:30"),
        (None, "08:00"),
        (None, "08:10"),
        (None, "08:25"),
        (None, "08:35"),
        ("Thứ Tư, ngày 29/5/2024", "09:05"),
        (None, "11:00"),
    ]


async def test_the_personal_page_numbers_the_items_through_the_days_under_their_dates(
    imported: Services,
) -> None:
    """A day's heading is a line of the numbered list: the item after it says its own number,
    so the second day goes on at 6, not 7 (the heading's)."""
    web = await web_for(imported)
    try:
        page = (await web.open("DB001")).text
    finally:
        await web.client.aclose()
    assert (
        '<li class="agenda-day"><strong>Thứ Ba, ngày 28/5/2024</strong></li>\n<li value="1">'
        in page
    )
    assert (
        '<li class="agenda-day"><strong>Thứ Tư, ngày 29/5/2024</strong></li>\n<li value="6">'
        in page
    )
    assert page.count('class="agenda-day"') == 2


async def test_each_morning_of_the_meeting_a_confirmed_delegate_gets_that_day_s_programme(
    world: ZaloWorld,
) -> None:
    user = await world.linked("DB001", "Chị Mai")
    await world.type(user, "1")
    await morning_programme_due(world.services, world.clock)  # 06:30 on 28/5
    before = len(user.texts)
    await world.tick()
    first = user.texts[before]
    assert "chương trình hội nghị hôm nay" in first
    assert "Thứ Ba, ngày 28/5/2024\n• 07:30–08:00: Đón tiếp đại biểu" in first
    assert "08:35–09:05: Báo cáo sơ kết" in first
    assert "Tham luận, thảo luận" not in first and "29/5/2024\n•" not in first
    world.clock.set(local(2024, 5, 29, 6, 30))
    before = len(user.texts)
    await world.tick()
    second = user.texts[before]
    assert "chương trình hội nghị hôm nay" in second
    assert "Thứ Tư, ngày 29/5/2024\n• 09:05–11:00: Tham luận, thảo luận tại hội nghị" in second
    assert "11:00–11:30: Phát biểu chỉ đạo" in second
    assert "Đón tiếp đại biểu" not in second


async def test_each_morning_s_programme_goes_to_those_who_come_that_day_only(
    world: ZaloWorld,
) -> None:
    """«Chương trình hội nghị hôm nay … Kính mong đồng chí có mặt đúng giờ» on 28/5 went to
    one who answered «chỉ dự ngày 29/5» too, and 29/5's to one who answered 28/5 only (review
    s35, R3): each morning's programme goes to those expected that day."""
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
    assert any("chương trình hội nghị hôm nay" in text for text in got[every])
    assert any("chương trình hội nghị hôm nay" in text for text in got[first_only])
    assert not any("chương trình hội nghị hôm nay" in text for text in got[second_only])
    world.clock.set(local(2024, 5, 29, 6, 30))
    counts = {user: len(user.texts) for user in (every, first_only, second_only)}
    await world.tick()
    got = {user: user.texts[counts[user] :] for user in counts}
    assert any("Thứ Tư, ngày 29/5/2024" in text for text in got[every])
    assert not any("chương trình hội nghị hôm nay" in text for text in got[first_only])
    assert any("Thứ Tư, ngày 29/5/2024" in text for text in got[second_only])


async def test_a_late_answer_for_day_two_only_is_not_sent_day_one_s_programme(
    world: ZaloWorld,
) -> None:
    """The office records by phone, after 28/5's programme went out, that DB002 comes on 29/5
    only: no copy of 28/5's programme («Kính mong đồng chí có mặt đúng giờ») is queued for
    her; DB004, recorded for 28/5 only, gets hers (review s35, R3)."""
    every = await world.linked("DB001", "Chị Mai")
    await world.type(every, "1")  # the plan's programme goes out to someone
    second_only = await world.linked("DB002", "Anh Hùng")
    first_only = await world.linked("DB004", "Chị Lan")
    await morning_programme_due(world.services, world.clock)  # 06:30 on 28/5
    await world.tick()
    office = world.services.access.local_operator()
    counts = {user: len(user.texts) for user in (second_only, first_only)}
    for code, on in (("DB002", date(2024, 5, 29)), ("DB004", date(2024, 5, 28))):
        person = await rsvp_of(world.services, code)
        answer = RsvpAnswer(RsvpStatus.ATTENDING, days=(on,))
        await world.services.rsvp.record_by_phone(office, person.delegate_id, answer)
    await world.tick()
    got = {user: user.texts[counts[user] :] for user in counts}
    assert not any("chương trình hội nghị hôm nay" in text for text in got[second_only])
    assert any("chương trình hội nghị hôm nay" in text for text in got[first_only])


async def test_day_two_s_programme_queued_before_she_changed_her_days_is_not_sent_her(
    world: ZaloWorld,
) -> None:
    """29/5's programme was queued at 06:30 while DB002 came every day (it waited: a pause, a
    retry); at 06:31 the office records by phone that she comes on 28/5 only: «Kính mong đồng
    chí có mặt đúng giờ» for a day not hers is not sent (review s36, R5), as a decline taken
    meanwhile stops the copy (tests/test_outbox.py)."""
    every = await world.linked("DB001", "Chị Mai")
    await world.type(every, "1")
    changed = await world.linked("DB002", "Anh Hùng")
    await world.type(changed, "1")
    await morning_programme_due(world.services, world.clock)
    await world.tick()
    world.clock.set(local(2024, 5, 29, 6, 30))
    await world.outbox.queue_due()
    world.clock.set(local(2024, 5, 29, 6, 31))
    person = await rsvp_of(world.services, "DB002")
    office = world.services.access.local_operator()
    answer = RsvpAnswer(RsvpStatus.ATTENDING, days=(date(2024, 5, 28),))
    await world.services.rsvp.record_by_phone(office, person.delegate_id, answer)
    counts = {user: len(user.texts) for user in (every, changed)}
    await world.tick()
    got = {user: user.texts[counts[user] :] for user in counts}
    assert any("Thứ Tư, ngày 29/5/2024" in text for text in got[every])
    assert not any("chương trình hội nghị hôm nay" in text for text in got[changed])
