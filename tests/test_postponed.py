"""A meeting postponed (or brought forward): the office edits the plan's date and restarts.

The reminders timed from the date are re-planned by the planner (tests/test_outbox.py); here,
what the office is told by ``check`` and at ``run``'s start, and what the delegates are shown.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.app
import bot.cli.common
import bot.cli.plan
from bot.cli import main
from bot.cli.plan import own_deadline_lines, plan_summary
from bot.config import Config, load_config
from bot.domain.clock import ManualClock, SystemClock
from bot.domain.drafts import DraftStatus
from bot.domain.outbound import DeliveryStatus, MessageKind, MessageStatus
from bot.services import build_services
from bot.services.meetings import OwnDeadline, StoredMeeting, stored_meeting
from bot.texts import load_catalog
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.models import Delegate, Delivery, OutboundMessage, Rsvp, SpeechAssignment
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, local
from tests.harness import BotHarness
from tests.test_meetings import import_list
from tests.test_services import moved
from tests.web_support import web_for

OLD = "08:00, Thứ Ba, ngày 28/5/2024"
NEW = "08:00, Thứ Ba, ngày 4/6/2024"


def edit_plan(office: Path, *pairs: tuple[str, str]) -> None:
    """The office's edit of ./config.toml: each ``old`` text replaced by ``new``, once."""
    path = office / "config.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


POSTPONED = (
    ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-06-04T08:00"'),
    ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-06-04T11:30"'),
)


def remind_the_first(office: Path, count: int) -> None:
    """The day-before reminder went to the list's first ``count`` delegates (and one more copy
    failed): what the outbox leaves in the database."""

    async def write() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{office / 'hoinghi.db'}")
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                people = list(await session.scalars(select(Delegate).order_by(Delegate.id)))
                at = local(2024, 5, 27, 16, 0)
                message = OutboundMessage(
                    meeting_id=people[0].meeting_id,
                    kind=MessageKind.DAY_BEFORE,
                    dedupe_key="60-KH-BTV:day_before",
                    status=MessageStatus.DONE,
                    audience="present",
                    due_at=at,
                    created_by="plan",
                    created_at=at,
                )
                session.add(message)
                await session.flush()
                for number, person in enumerate(people[: count + 1]):
                    status = DeliveryStatus.SENT if number < count else DeliveryStatus.FAILED
                    session.add(
                        Delivery(
                            message_id=message.id,
                            delegate_id=person.id,
                            recipient=f"delegate:{person.id}",
                            status=status,
                            created_at=at,
                            updated_at=at,
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(write())


def warning_lines(text: str, key: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"  - {key}: ")]


@pytest.fixture
def not_yet_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installation's clock ten days before the 28/5/2024 meeting, as a postponement is
    made: a meeting that has taken place is neither postponed nor renamed by a plan edit
    (tests/test_meetings.py), and by the real clock this one has."""

    class BeforeTheMeeting(SystemClock):
        def now(self) -> datetime:
            return local(2024, 5, 18, 9, 0)

    for module in (bot.app, bot.cli.common, bot.cli.plan):
        monkeypatch.setattr(module, "SystemClock", BeforeTheMeeting)


@pytest.fixture
def imported(office: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The example plan's database, its list imported (the meeting stored on 28/5)."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    return office


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_the_date_moved_how_many_were_told_the_old_one_and_how_to_tell_them(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remind_the_first(imported, 3)
    edit_plan(imported, *POSTPONED)
    assert main(["check"]) == 0
    assert warning_lines(capsys.readouterr().out, "meeting.starts_at")[-1] == (
        f"  - meeting.starts_at: ngày họp đã đổi từ {OLD} sang {NEW} (so với dữ liệu của bot); 3 "
        "đại biểu đã nhận tin nhắn của bot nêu ngày cũ. Bot tự gửi lại theo ngày mới các tin "
        "nhắn tính theo ngày họp (nhắc xác nhận tham dự, nhắc lịch trước một ngày, chương trình "
        "gửi trong ngày họp, nhắc nhiệm vụ), nhưng không tự báo cho đại biểu việc dời lịch. Đề nghị Văn "
        "phòng gửi thông báo dời lịch tại trang Thông báo của trang điều hành (/office/notices, "
        "có mẫu soạn sẵn để sửa, xem trước rồi mới gửi) hoặc bằng lệnh /thongbao gửi cho bot (trên"
        " Telegram hay Zalo đều được)."
    )


@pytest.mark.usefixtures("not_yet_held")
def test_the_date_moved_warning_says_thongbao_works_on_zalo_too_not_on_telegram_only(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The re-test's office ran Zalo alone: /thongbao worked there, the warning said
    «trên Telegram»."""
    edit_plan(imported, *POSTPONED)
    assert main(["check"]) == 0
    [line] = warning_lines(capsys.readouterr().out, "meeting.starts_at")[-1:]
    assert line.endswith("hoặc bằng lệnh /thongbao gửi cho bot (trên Telegram hay Zalo đều được).")
    assert "trên Telegram." not in line


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_an_hour_moved_within_the_day_sends_nothing_again(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """08:00 to 08:30 on the same day: the re-test's `check` said «Bot tự gửi lại theo ngày
    mới…» while nothing is sent again (the day-before reminder is keyed by the day it is timed
    from: tests/test_outbox.py, the meeting that starts later the same day), as the guide says;
    nor are the deadlines written as dates named, the day having stayed."""
    remind_the_first(imported, 3)
    edit_plan(
        imported,
        ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-05-28T08:30"'),
        ('rsvp_deadline = "-7d@17:00"', 'rsvp_deadline = "2024-05-21T17:00"'),
    )
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert warning_lines(out, "meeting.starts_at")[-1] == (
        f"  - meeting.starts_at: giờ khai mạc đã đổi từ {OLD} sang 08:30, Thứ Ba, ngày 28/5/2024,"
        " trong cùng ngày họp (so với dữ liệu của bot); 3 đại biểu đã nhận tin nhắn của bot nêu"
        " giờ cũ. Bot không gửi lại các tin đã gửi (ngày họp không đổi); các tin bot tự gửi chưa"
        " đến giờ gửi (nhắc lịch trước một ngày, chương trình gửi trong ngày họp) sẽ ghi giờ mới."
        " Bot không tự báo cho đại biểu việc đổi giờ: đề nghị Văn phòng gửi thông báo đổi giờ tại trang"
        " Thông báo của trang điều hành (/office/notices, có mẫu soạn sẵn để sửa, xem trước rồi"
        " mới gửi) hoặc bằng lệnh /thongbao gửi cho bot (trên Telegram hay Zalo đều được)."
    )
    assert "tự gửi lại" not in out
    assert warning_lines(out, "meeting.rsvp_deadline") == []


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_an_hour_moved_within_the_day_before_anyone_was_told_without_a_count(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same-day hour change before any message went: its own sentence, no count, and not
    the date's «Bot tự đặt lại theo ngày mới…»."""
    edit_plan(imported, ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-05-28T08:30"'))
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert warning_lines(out, "meeting.starts_at")[-1] == (
        f"  - meeting.starts_at: giờ khai mạc đã đổi từ {OLD} sang 08:30, Thứ Ba, ngày 28/5/2024,"
        " trong cùng ngày họp (so với dữ liệu của bot). Các tin nhắn bot tự gửi chưa đến giờ gửi"
        " (nhắc lịch trước một ngày, chương trình gửi trong ngày họp) sẽ ghi giờ mới, nhưng bot không tự"
        " báo cho đại biểu việc đổi giờ. Đề nghị Văn phòng gửi thông báo đổi giờ tại trang Thông"
        " báo của trang điều hành (/office/notices, có mẫu soạn sẵn để sửa, xem trước rồi mới"
        " gửi) hoặc bằng lệnh /thongbao gửi cho bot (trên Telegram hay Zalo đều được)."
    )
    assert "tự đặt lại" not in out


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_a_date_moved_before_anyone_was_told_it_without_a_count(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(imported, *POSTPONED)
    assert main(["check"]) == 0
    [line] = warning_lines(capsys.readouterr().out, "meeting.starts_at")[-1:]
    assert line.startswith(f"  - meeting.starts_at: ngày họp đã đổi từ {OLD} sang {NEW} (so ")
    assert "đại biểu đã nhận" not in line


def test_check_says_nothing_of_a_move_when_the_date_is_the_stored_one(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remind_the_first(imported, 3)
    assert main(["check"]) == 0
    assert "ngày họp đã đổi" not in capsys.readouterr().out


@pytest.mark.usefixtures("not_yet_held")
def test_run_says_the_date_moved_at_start_before_the_plan_is_synced(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remind_the_first(imported, 2)
    edit_plan(imported, *POSTPONED)
    assert main(["run"]) == 2  # no token: it stops there, after saying what the plan lacks
    err = capsys.readouterr().err
    assert (
        f" WARNING hoinghi: meeting.starts_at: ngày họp đã đổi từ {OLD} sang {NEW} (so với dữ "
        "liệu của bot); 2 đại biểu đã nhận tin nhắn của bot nêu ngày cũ." in err
    )


@pytest.mark.usefixtures("not_yet_held")
def test_check_names_the_deadlines_written_as_dates_that_stay_when_the_meeting_moves(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(
        imported,
        *POSTPONED,
        ('rsvp_deadline = "-7d@17:00"', 'rsvp_deadline = "2024-05-21T17:00"'),
    )
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert warning_lines(out, "meeting.rsvp_deadline")[-1] == (
        "  - meeting.rsvp_deadline: hạn này ghi bằng ngày cụ thể (17:00, Thứ Ba, ngày 21/5/2024) "
        f"nên giữ nguyên khi ngày họp đổi sang {NEW}. Nếu hạn cũng dời theo ngày họp, đề nghị "
        "sửa lại, hoặc ghi tính từ ngày họp (ví dụ «-7d@17:00»: 17:00 bảy ngày trước ngày họp)."
    )
    assert not warning_lines(out, "drafts.deadline")  # counted from the date: it moved too


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_a_task_deadline_written_as_a_date_now_falls_after_an_earlier_start(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(
        imported,
        ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-05-24T08:00"'),
        ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-24T11:30"'),
        ('deadline = "-5d@17:00"', 'deadline = "2024-05-23T17:00"'),  # before the 28th's start
        ('deadline = "-11d@17:00"', 'deadline = "2024-05-27T17:00"'),
    )
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    late = [line for line in out.splitlines() if "nay sau giờ khai mạc mới" in line]
    assert late == [
        "  - tasks[5] (VI.2).deadline: hạn này ghi bằng ngày cụ thể (17:00, Thứ Hai, ngày "
        "27/5/2024), nay sau giờ khai mạc mới (08:00, Thứ Sáu, ngày 24/5/2024). Đề nghị sửa lại "
        "hạn, hoặc ghi tính từ ngày họp (ví dụ «-7d@17:00»: 17:00 bảy ngày trước ngày họp)."
    ]
    assert any(
        line.startswith("  - tasks[4] (") and "giữ nguyên" in line for line in out.splitlines()
    )


async def test_after_a_restart_with_the_new_date_the_page_and_its_calendar_file_say_it(
    config: Config, sessions: async_sessionmaker[AsyncSession], clock: ManualClock, tmp_path: Path
) -> None:
    """Both read the plan the bot was started with, and the calendar file is a new revision
    of the same event, so a calendar that holds the old one moves it."""
    first = await build_services(config, sessions, clock, files=FileStore(tmp_path))
    await import_list(first, EXAMPLE_DELEGATES)
    clock.advance(timedelta(days=1))
    services = await build_services(
        moved(config, timedelta(days=7)), sessions, clock, files=FileStore(tmp_path)
    )
    web = await web_for(services)
    page = (await web.open("DB001")).text
    assert "Thứ Ba, ngày 4/6/2024, từ 08:00 đến 11:30" in page
    assert "ngày 28/5/2024, từ 08:00" not in page
    # The deadline is counted from the date: it moved with it.
    assert "trước 17:00, Thứ Ba, ngày 28/5/2024." in page
    ics = (await web.client.get(f"/{web.tokens['DB001']}/lich.ics")).text
    assert "DTSTART;TZID=Asia/Ho_Chi_Minh:20240604T080000" in ics
    assert "SEQUENCE:1" in ics


def give_own_deadlines(office: Path, *deadlines: tuple[datetime, datetime | None]) -> None:
    """Speakers given deadlines of their own (the office's /phancong with a date), one for each
    (deadline, withdrawn at): what the assignments leave in the database."""

    async def write() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{office / 'hoinghi.db'}")
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                people = list(await session.scalars(select(Delegate).order_by(Delegate.id)))
                at = local(2024, 5, 20, 9, 0)
                for person, (deadline, withdrawn) in zip(people, deadlines, strict=False):
                    session.add(
                        SpeechAssignment(
                            meeting_id=person.meeting_id,
                            theme_key="1.1",
                            person_id=person.id,
                            source="deadline",
                            deadline_at=deadline,
                            withdrawn_at=withdrawn,
                            status=DraftStatus.WAITING,
                            created_at=at,
                            updated_at=at,
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(write())


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_deadlines_of_their_own_no_longer_before_a_start_brought_forward(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    withdrawn = local(2024, 5, 21, 9, 0)
    give_own_deadlines(
        imported,
        (local(2024, 5, 23, 17, 0), None),  # still before the new start
        (local(2024, 5, 24, 8, 0), None),  # at it
        (local(2024, 5, 27, 17, 0), None),
        (local(2024, 5, 27, 18, 0), withdrawn),  # withdrawn: not hers any more
    )
    edit_plan(
        imported,
        ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-05-24T08:00"'),
        ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-24T11:30"'),
    )
    assert main(["check"]) == 0
    assert warning_lines(capsys.readouterr().out, "drafts") == [
        "  - drafts: 2 người tham luận có hạn gửi bài riêng do Văn phòng cho (muộn nhất 17:00,"
        " Thứ Hai, ngày 27/5/2024) nay không trước giờ khai mạc mới (08:00, Thứ Sáu, ngày"
        " 24/5/2024). Đề nghị cho hạn sớm hơn: trên trang «Tham luận» của trang điều hành, «Hủy"
        " phân công» rồi phân công lại với «Hạn gửi bài» mới (hoặc lệnh /phancong)."
    ]


def own_deadline_section(text: str) -> list[str]:
    """The lines of ``check``'s summary about the speakers' own deadlines."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("  Hạn gửi bài riêng"))
    end = next(n for n in range(start + 1, len(lines)) if not lines[n].startswith("    "))
    return lines[start:end]


def test_check_lists_the_speakers_own_deadlines_with_their_reminders_and_warns_at_the_start(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Assigned on 20/5 at 09:00 (the plan's reminders: 3 days, 1 day and the morning before).
    give_own_deadlines(
        imported,
        (local(2024, 5, 22, 12, 0), None),  # the 19/5 reminder had passed when assigned
        (local(2024, 5, 20, 17, 0), None),  # every reminder had passed
        (local(2024, 5, 28, 8, 0), None),  # at the start: said as a warning too
        (local(2024, 5, 27, 18, 0), local(2024, 5, 21, 9, 0)),  # withdrawn: not listed
    )
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    # check runs at the machine's time, long after 2024: each reminder is marked past.
    assert own_deadline_section(out) == [
        "  Hạn gửi bài riêng do Văn phòng cho (3 người tham luận, Văn phòng nhận danh sách bài"
        " chưa gửi đúng hạn của từng người):",
        "    Hoàng Thị Ngọc Diệp (DB002), chủ đề 1.1: hạn 17:00, Thứ Hai, ngày 20/5/2024",
        "      không nhắc trước hạn (các lượt nhắc theo kế hoạch đã qua khi được phân công)",
        "    Phạm Thị Thanh Mai (DB001), chủ đề 1.1: hạn 12:00, Thứ Tư, ngày 22/5/2024",
        "      nhắc người viết: 08:00, Thứ Ba, ngày 21/5/2024 (đã qua)",
        "      nhắc người viết: 08:00, Thứ Tư, ngày 22/5/2024 (đã qua)",
        "    Vũ Thị Hồng Nhung (DB003), chủ đề 1.1: hạn 08:00, Thứ Ba, ngày 28/5/2024",
        "      nhắc người viết: 08:00, Thứ Bảy, ngày 25/5/2024 (đã qua)",
        "      nhắc người viết: 08:00, Thứ Hai, ngày 27/5/2024 (đã qua)",
        "      nhắc người viết: 08:00, Thứ Ba, ngày 28/5/2024 (đã qua)",
    ]
    # The meeting did not move: the warning says the start, not a new one.
    assert warning_lines(out, "drafts") == [
        "  - drafts: 1 người tham luận có hạn gửi bài riêng do Văn phòng cho (muộn nhất 08:00,"
        " Thứ Ba, ngày 28/5/2024) không trước giờ khai mạc (08:00, Thứ Ba, ngày 28/5/2024). Đề"
        " nghị cho hạn sớm hơn: trên trang «Tham luận» của trang điều hành, «Hủy phân công» rồi"
        " phân công lại với «Hạn gửi bài» mới (hoặc lệnh /phancong)."
    ]


def test_check_marks_a_speaker_s_reminders_already_past_and_lists_those_still_to_come(
    config: Config,
) -> None:
    """On 21/5 at noon, of her reminders at 08:00 on 21/5 and 22/5 the first is past: check
    says so rather than list it as still planned (nor leaves it out, which would read as a
    speaker never reminded); one whose reminders are all to come has none marked."""
    meeting = config.meeting
    assigned = local(2024, 5, 20, 9, 0)
    stored = StoredMeeting(
        meeting.code,
        meeting.title,
        meeting.starts_at,
        own_speakers=(
            OwnDeadline("DB001", "Phạm Thị Thanh Mai", "1.1", local(2024, 5, 22, 12, 0), assigned),
            OwnDeadline("DB003", "Vũ Thị Hồng Nhung", "1.1", local(2024, 5, 27, 17, 0), assigned),
        ),
    )
    lines = own_deadline_lines(config, load_catalog("vi"), stored, local(2024, 5, 21, 12, 0))
    assert lines == [
        "  Hạn gửi bài riêng do Văn phòng cho (2 người tham luận, Văn phòng nhận danh sách bài"
        " chưa gửi đúng hạn của từng người):",
        "    Phạm Thị Thanh Mai (DB001), chủ đề 1.1: hạn 12:00, Thứ Tư, ngày 22/5/2024",
        "      nhắc người viết: 08:00, Thứ Ba, ngày 21/5/2024 (đã qua)",
        "      nhắc người viết: 08:00, Thứ Tư, ngày 22/5/2024",
        "    Vũ Thị Hồng Nhung (DB003), chủ đề 1.1: hạn 17:00, Thứ Hai, ngày 27/5/2024",
        "      nhắc người viết: 08:00, Thứ Sáu, ngày 24/5/2024",
        "      nhắc người viết: 08:00, Chủ Nhật, ngày 26/5/2024",
        "      nhắc người viết: 08:00, Thứ Hai, ngày 27/5/2024",
    ]
    # At a reminder's very time it is going, not still to come.
    at_eight = own_deadline_lines(config, load_catalog("vi"), stored, local(2024, 5, 22, 8, 0))
    assert at_eight[2:4] == [
        "      nhắc người viết: 08:00, Thứ Ba, ngày 21/5/2024 (đã qua)",
        "      nhắc người viết: 08:00, Thứ Tư, ngày 22/5/2024 (đã qua)",
    ]


def test_check_marks_the_plan_s_automatic_messages_already_past_as_it_marks_a_speaker_s(
    config: Config,
) -> None:
    """The general list of automatic messages uses the same «now» and the same mark as the
    speakers' own reminders: at its time or before, a message is «(đã qua)», not still to come."""
    loaded = load_config(EXAMPLE_CONFIG)
    lines = plan_summary(config, load_catalog("vi"), loaded, now=local(2024, 5, 21, 17, 0))
    start = lines.index("Tin nhắn tự động:")
    assert lines[start + 1 : start + 9] == [
        "  08:00, Thứ Bảy, ngày 18/5/2024: nhắc xác nhận tham dự (đã qua)",
        "  08:00, Thứ Hai, ngày 20/5/2024: nhắc xác nhận tham dự (đã qua)",
        "  16:00, Thứ Hai, ngày 27/5/2024: nhắc lịch trước một ngày",
        "  06:30, Thứ Ba, ngày 28/5/2024: chương trình ngày hội nghị",
        "  08:00, Thứ Bảy, ngày 18/5/2024: nhắc gửi tham luận (đã qua)",
        "  08:00, Thứ Hai, ngày 20/5/2024: nhắc gửi tham luận (đã qua)",
        "  08:00, Thứ Ba, ngày 21/5/2024: nhắc gửi tham luận (đã qua)",
        # At its very time: going, not still to come.
        "  17:00, Thứ Ba, ngày 21/5/2024: danh sách tham luận chưa gửi (đã qua)",
    ]


async def test_check_lists_the_reminders_the_scheduler_planned_for_a_speaker_assigned_again(
    harness: BotHarness,
) -> None:
    """A speaker given a deadline of her own, withdrawn, and assigned again after her first
    reminder's time: the scheduler plans her reminders from the second assignment (the log's
    «draft.assigned»), not from the row's creation, and check (reading the database as the
    CLI does) lists exactly the reminders the scheduler holds, none more."""
    admin = harness.admin()
    harness.clock.set(local(2024, 5, 18, 9, 0))
    await harness.send(admin.command("/phancong DB034 3 17:00 24/5"))
    await harness.send(admin.command("/phancong huy DB034 3"))
    harness.clock.set(local(2024, 5, 21, 12, 0))  # her 08:00 reminder of 21/5 is past
    await harness.send(admin.command("/phancong DB034 3 17:00 24/5"))
    assert admin.last_text().startswith("Đã phân công đồng chí Phạm Thị Kim Dung")
    deadline = local(2024, 5, 24, 17, 0)
    async with harness.services.ctx.sessions() as session:
        planned = sorted(
            await session.scalars(
                select(OutboundMessage.due_at).where(
                    OutboundMessage.kind == MessageKind.DRAFT_REMINDER,
                    OutboundMessage.expires_at == deadline,
                    OutboundMessage.status == MessageStatus.SCHEDULED,
                )
            )
        )
    assert planned == [local(2024, 5, 23, 8, 0), local(2024, 5, 24, 8, 0)]
    config = harness.services.config
    stored = await stored_meeting(harness.services.ctx.sessions, config.meeting.code)
    catalog = load_catalog("vi")
    assert own_deadline_lines(config, catalog, stored, harness.clock.now())[1:] == [
        "    Phạm Thị Kim Dung (DB034), chủ đề 3: hạn 17:00, Thứ Sáu, ngày 24/5/2024",
        "      nhắc người viết: 08:00, Thứ Năm, ngày 23/5/2024",
        "      nhắc người viết: 08:00, Thứ Sáu, ngày 24/5/2024",
    ]


def answer_for_days(office: Path, days: str, count: int) -> None:
    """The list's first ``count`` delegates answered «tham dự» for ``days`` only (as stored)."""

    async def write() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{office / 'hoinghi.db'}")
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                people = list(await session.scalars(select(Delegate.id).order_by(Delegate.id)))
                await session.execute(
                    update(Rsvp)
                    .where(Rsvp.delegate_id.in_(people[:count]))
                    .values(status="attending", days=days)
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


@pytest.mark.usefixtures("not_yet_held")
def test_check_says_how_many_answers_for_some_days_name_a_day_the_moved_meeting_no_longer_has(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Days are kept as dates: after a move, «tham dự ngày 28/5» matches no meeting day, and
    the delegate silently drops out of every day's «dự kiến» and «Chưa đến» (review s35, R2).
    While 28/5 is still a meeting day nothing is said."""
    answer_for_days(imported, "2024-05-28", 2)
    assert main(["check"]) == 0
    assert "chỉ dự một số ngày" not in capsys.readouterr().out
    edit_plan(imported, *POSTPONED)
    assert main(["check"]) == 0
    assert warning_lines(capsys.readouterr().out, "meeting.starts_at")[-1] == (
        "  - meeting.starts_at: 2 đại biểu đã trả lời chỉ dự một số ngày, có ngày không còn là "
        "ngày họp theo kế hoạch (hội nghị đã dời lịch hoặc rút ngắn). Bot lưu ngày đại biểu chọn "
        "theo ngày cụ thể, nên ngày cũ ấy không khớp ngày họp nào: đại biểu không được tính «dự "
        "kiến» (kể cả danh sách «Chưa đến») vào ngày họp mới thay cho ngày cũ, cho đến khi trả "
        "lời lại. Đề nghị Văn phòng liên hệ các đại biểu này (danh sách «Đại biểu» trên trang "
        "điều hành ghi «Tham dự ngày …» theo ngày cũ) và ghi lại câu trả lời qua điện thoại, "
        "hoặc đề nghị đại biểu chọn lại «📅 Chỉ dự một số ngày»."
    )


def test_check_names_the_rows_whose_days_do_not_read(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-edited «29/5/2024» in rsvps.days: check reads on (every day) and names the rows
    by their ids, not by whose they are (review s36, R10)."""
    answer_for_days(imported, "29/5/2024", 2)
    assert main(["check"]) == 0
    [line] = warning_lines(capsys.readouterr().out, "rsvps.days")
    assert re.fullmatch(
        r"  - rsvps\.days: 2 câu trả lời \(hàng \d+, \d+ của bảng rsvps\) ghi ngày tham dự không"
        r" đọc được: .* Bot coi các câu trả lời ấy là tham dự tất cả các ngày, như câu trả lời"
        r" «Tham dự»\. .*",
        line,
    ), line
