"""The outbox: due selection, catch-up, skip windows, each Telegram error class, reports.

Time is the harness's ManualClock (wall time) and VirtualTime (the pacer's monotonic time):
nothing sleeps until 08:00.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_composer, build_outbox
from bot.config import Config
from bot.domain.clock import ManualClock
from bot.domain.order import protocol_key
from bot.domain.outbound import (
    BROADCAST_WINDOW,
    BY_THE_PLAN,
    OFFICE_PLACE,
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    Part,
    SendResult,
)
from bot.domain.ports import ChannelSender
from bot.domain.reminders import MAX_KEY, planned_messages
from bot.domain.rsvp import RsvpAnswer, RsvpStatus
from bot.domain.timespec import TimeSpec
from bot.domain.tokens import format_link_code
from bot.services import Services
from bot.services.rsvp import RsvpStep
from bot.texts import load_catalog
from bot.texts.formatting import delay
from schedules.outbox import Outbox
from schedules.planner import sync_planned
from schedules.ratelimit import Limits, Pacer
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage
from storage.queries import next_notice_number
from tests.conftest import local
from tests.harness import OFFICE_CHAT, BotHarness, add_notice_due, name_substitute
from tests.plan_support import EXAMPLE_CONTACTS, import_example
from tests.samples import docx

MEETING_KINDS = (MessageKind.RSVP_REMINDER, MessageKind.DAY_BEFORE, MessageKind.MORNING_AGENDA)
# Their names in the report file's «Gửi tin» sheet.
MEETING_KIND_LABELS = (
    "nhắc xác nhận tham dự",
    "nhắc lịch trước một ngày",
    "chương trình ngày hội nghị",
)
REMINDER_1 = local(2024, 5, 18, 8, 0)  # -3d@08:00 before the deadline 21/5 17:00
REMINDER_2 = local(2024, 5, 20, 8, 0)  # -1d@08:00
DEADLINE = local(2024, 5, 21, 17, 0)


async def deliveries(harness: BotHarness, kind: MessageKind) -> Counter[str]:
    """Delivery statuses of every message of ``kind``."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.scalars(
            select(Delivery.status)
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(OutboundMessage.kind == kind)
        )
        return Counter(rows)


async def message_status(harness: BotHarness, kind: MessageKind) -> list[str]:
    """Statuses of the messages of ``kind``, oldest first."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage.status)
            .where(OutboundMessage.kind == kind)
            .order_by(OutboundMessage.id)
        )
        return list(rows)


def texts(harness: BotHarness, chat_id: int) -> list[str]:
    """What a chat has received, in order."""
    return [m.get("text") or m.get("caption") or "" for m in harness.fake.messages_to(chat_id)]


async def linked_answers(harness: BotHarness) -> None:
    """Five delegates link: two attend, one sends a substitute, one declines, one stays silent."""
    for code in ("DB001", "DB002", "DB003", "DB004", "DB005"):
        await harness.open_invitation(code)
    await harness.send(harness.user_for("DB001").tap("✅ Tham dự"))
    await harness.send(harness.user_for("DB002").tap("✅ Tham dự"))
    sub = harness.user_for("DB003")
    # No phone for her.
    await name_substitute(harness, sub, "Lê Thị Hoa", "Phó Trưởng ban", own_unit="Thành ủy Hà Nội")
    await harness.send(harness.user_for("DB004").tap("❌ Không tham dự"))
    await harness.send(harness.user_for("DB004").tap("Không nêu lý do"))


# --- due selection and RSVP chasing -------------------------------------------------------------


async def test_nothing_goes_out_before_its_time(harness: BotHarness) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1 - timedelta(seconds=1))
    before = len(harness.fake.calls_to("sendMessage"))
    await harness.tick()
    assert len(harness.fake.calls_to("sendMessage")) == before
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["scheduled", "scheduled"]


async def test_rsvp_chasing_reaches_linked_silent_delegates_and_reports_to_the_office(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    await harness.tick()
    silent = harness.user_for("DB005")
    reminder = silent.last_message
    assert reminder["text"].startswith("Kính gửi đồng chí ")
    assert "chưa xác nhận tham dự" in reminder["text"]
    labels = [b["text"] for row in reminder["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay"]
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    report = texts(harness, OFFICE_CHAT)[-1]
    assert report.startswith("📨 Báo cáo gửi nhắc xác nhận tham dự")
    assert "Đã gửi: 1 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 75 · Bỏ qua: 0" in report
    assert (
        "Tình hình xác nhận: đã trả lời 4/80; chưa trả lời 76; chưa kết nối kênh nhắn tin: 75."
        in report
    )
    # Whom to phone, by the overview's rule: nobody yet, as no invitation has gone out.
    assert report.endswith(
        "\n\nCần gọi điện thoại (0) — đã nhận giấy mời, chưa trả lời, không liên lạc được qua"
        " kênh trò chuyện (như trang «Tổng quan»):\nChưa tính 75 đại biểu chưa gửi giấy mời:"
        " đề nghị gửi giấy mời trước; người đã nhận giấy mời mà chưa trả lời sẽ có tên trong"
        " danh sách cần gọi điện thoại."
    )
    assert "• DB0" not in report
    # The reminder's buttons work like the card's.
    await harness.send(silent.tap("✅ Tham dự", message=reminder))
    assert silent.last_text().startswith("✅ Đã ghi nhận")


async def test_the_rsvp_chase_report_names_whom_to_phone_by_the_overviews_rule_with_numbers(
    harness: BotHarness,
) -> None:
    """The chase's report says what «Tổng quan» says at that minute: «Cần gọi điện thoại» is
    the unanswered whom the invitation reached and no chat does (not every one not linked),
    listed as the overview lists them, each with her phone number or «chưa có số điện
    thoại»; those not sent the invitation are said apart, to be sent it first."""
    await linked_answers(harness)
    office = harness.services.access.local_operator()
    # The slips of DB001 (linked), DB003 (answered), DB006, DB007 and DB010…DB029 handed out.
    marked = ["DB001", "DB003", "DB006", "DB007", *(f"DB{n:03d}" for n in range(10, 30))]
    await harness.services.invitations.mark_sent_many(office, marked)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    await harness.tick()
    report = texts(harness, OFFICE_CHAT)[-1]
    figures = await harness.services.dashboard.figures()
    overview = await harness.services.dashboard.to_phone()
    assert (figures.to_phone, figures.unsent, len(overview)) == (22, 53, 20)
    assert [r.code for r in overview][:3] == ["DB006", "DB007", "DB010"]
    listed = report.partition("(như trang «Tổng quan»):\n")[2].split("\n")
    assert listed[:3] == [
        "• DB006 — Bùi Thị Thanh Tâm: 0912 345 006",
        "• DB007 — Đỗ Thị Kim Oanh: 0987 654 007",
        "• DB010 — Trịnh Văn Thắng: 0773 010 519",
    ]
    assert [line.split(" — ")[0] for line in listed[:20]] == [f"• {r.code}" for r in overview]
    assert listed[20:] == [
        "… và 2 người khác; danh sách đầy đủ:"
        " http://127.0.0.1:8080/office/delegates?reach=no&answer=no_answer&sent=yes",
        "Chưa tính 53 đại biểu chưa gửi giấy mời: đề nghị gửi giấy mời trước; người đã nhận"
        " giấy mời mà chưa trả lời sẽ có tên trong danh sách cần gọi điện thoại.",
    ]
    assert "\n\nCần gọi điện thoại (22) — đã nhận giấy mời" in report
    assert "đề nghị gọi điện:" not in report  # the old list of every one not linked is gone


async def test_the_rsvp_chase_report_says_when_a_person_to_phone_has_no_number(
    harness: BotHarness,
) -> None:
    """Everyone's slip handed out: the 75 not on a chat are to phone, in protocol order as
    the overview and /chuatraloi list them; one without a number is said so."""
    await linked_answers(harness)
    async with harness.services.ctx.sessions() as session:
        people = list(await session.scalars(select(Delegate)))
        linked = set(await session.scalars(select(ChannelIdentity.delegate_id)))
        order = {group.key: group.order for group in harness.services.config.groups}
        expected = [
            person
            for person in sorted(people, key=protocol_key(order))
            if person.id not in linked and person.role == "delegate"
        ]
        expected[1].phone = None
        await session.commit()
        codes = [person.code for person in expected]
    office = harness.services.access.local_operator()
    await harness.services.invitations.mark_sent_many(office, None)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    await harness.tick()
    report = texts(harness, OFFICE_CHAT)[-1]
    listed = re.findall(r"^• (DB\d+) — [^:\n]+: (.+)$", report, re.MULTILINE)
    assert [code for code, _ in listed] == codes[:20]
    assert listed[1][1] == "chưa có số điện thoại"
    # The others with their numbers as the office dials them ("0912 345 006", "024 3825 1234").
    assert all(re.fullmatch(r"0\d+( \d+)+", phone) for _, phone in listed[2:])
    assert "Cần gọi điện thoại (75)" in report
    assert "… và 55 người khác; danh sách đầy đủ: http" in report
    assert "chưa gửi giấy mời" not in report


async def test_a_tick_sends_each_reminder_once(harness: BotHarness) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    await harness.tick()
    await harness.tick()
    harness.clock.set(REMINDER_1 + timedelta(hours=1))
    await harness.tick()
    reminders = [t for t in texts(harness, harness.user_for("DB005").id) if "chưa xác nhận" in t]
    assert len(reminders) == 1


async def test_an_rsvp_reminder_queued_before_she_answered_is_skipped_not_sent_and_said_why(
    harness: BotHarness,
) -> None:
    """The chase was queued (a long notice ahead of it, a pause) and she answered before its
    turn: she is not asked again for the answer she gave; her copy is recorded as skipped, and
    the office's report names her under why, not only in the count «Bỏ qua»."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    await harness.outbox.queue_due()
    silent = harness.user_for("DB005")
    await harness.send(silent.tap("✅ Tham dự"))
    count = len(silent.messages)
    await harness.tick()
    assert len(silent.messages) == count
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {
        "skipped": 1, "not_linked": 75,
    }  # fmt: skip
    async with harness.services.ctx.sessions() as session:
        errors = await session.scalars(
            select(Delivery.last_error).where(Delivery.status == DeliveryStatus.SKIPPED)
        )
        assert list(errors) == ["nothing to send"]
    report = texts(harness, OFFICE_CHAT)[-1]
    assert "Đã gửi: 0 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 75 · Bỏ qua: 1" in report
    assert report.endswith(
        "\n\nKhông gửi vì đã trả lời trước khi đến lượt gửi (1):\n• DB005 — Ngô Thị Bích Hạnh"
    )


async def test_catch_up_after_downtime_sends_once_and_says_it_was_late(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1 + timedelta(hours=3))  # the bot was down at 08:00
    with caplog.at_level(logging.WARNING, logger="schedules.outbox"):
        await harness.tick()
    assert any("is late by 3:00:00" in r.getMessage() for r in caplog.records)
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert (
        "⚠️ Gửi muộn 3 giờ so với dự kiến do bot không hoạt động đúng giờ."
        in texts(harness, OFFICE_CHAT)[-1]
    )


async def test_an_rsvp_reminder_caught_up_late_in_the_evening_waits_for_the_morning(
    harness: BotHarness,
) -> None:
    """The chase of 20/5 08:00 found by a bot back at 22:30 (the deadline is 21/5 17:00): the
    silent delegate is chased at 07:00 the next morning, not in the night."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    chased = harness.user_for("DB005").id
    harness.clock.set(local(2024, 5, 20, 22, 30))
    await harness.tick()
    assert not [t for t in texts(harness, chased) if "chưa xác nhận" in t]
    harness.clock.set(local(2024, 5, 21, 7, 0))
    await harness.tick()
    assert len([t for t in texts(harness, chased) if "chưa xác nhận" in t]) == 1


async def test_before_any_list_the_messages_that_fell_due_to_nobody_are_one_line_not_warnings(
    services: Services, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A first `run` on a fresh database, the plan's reminders already due and no chat
    channel: nobody missed them, so not a warning each but one line; and the plan's tasks
    say the list is missing, not every code on them."""
    from bot.app import build_outbox
    from schedules.planner import sync_planned

    clock.set(local(2024, 5, 27, 9, 0))  # the day before: most reminders are past
    outbox = build_outbox(services, load_catalog("vi"), {})
    with caplog.at_level(logging.DEBUG):
        await services.tasks.sync()
        await services.drafts.sync()
        own = await services.drafts.own_deadlines()
        planned = planned_messages(services.config, own)
        await sync_planned(services.ctx.sessions, clock, services.ctx.meeting_id, planned)
        await outbox.queue_due()
    lines = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name in ("schedules.outbox", "bot.services.tasks", "bot.services.drafts")
        and r.levelno >= logging.INFO
    ]
    assert lines == [
        ("INFO", "no list imported yet: the plan's tasks and speeches wait for their people"),
        (
            "INFO",
            "46 messages fell due with nobody to send them to (no list imported yet, no one in"
            " their audience or no chat to the office): 44 skipped as their window had closed,"
            " 2 late",
        ),
    ]


@pytest.mark.parametrize(
    ("late", "said"),
    [
        (timedelta(days=5, hours=23, minutes=0), "5 ngày 23 giờ"),
        (timedelta(days=2, minutes=40), "2 ngày"),
        (timedelta(hours=2, minutes=15, seconds=59), "2 giờ 15 phút"),
        (timedelta(hours=1), "1 giờ"),
        (timedelta(minutes=12, seconds=30), "12 phút"),
    ],
)
def test_how_late_is_said_in_the_two_largest_units(late: timedelta, said: str) -> None:
    assert delay(load_catalog("vi"), late) == said


async def test_after_a_stop_only_the_newest_rsvp_reminder_goes_and_the_older_is_skipped(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Both chasing reminders fell due while the bot was down: the silent delegate is chased
    once, and the office gets one report, not one per reminder."""
    from tests.test_office_files import report_bytes

    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_2 + timedelta(hours=2, minutes=15))
    with caplog.at_level(logging.INFO, logger="schedules.outbox"):
        await harness.tick()
    reminders = [t for t in texts(harness, harness.user_for("DB005").id) if "chưa xác nhận" in t]
    assert len(reminders) == 1
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["skipped", "done"]
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    office = texts(harness, OFFICE_CHAT)
    reports = [t for t in office if t.startswith("📨 Báo cáo gửi nhắc xác nhận tham dự")]
    assert len(reports) == 1
    assert "⚠️ Gửi muộn 2 giờ 15 phút so với dự kiến do bot không hoạt động đúng giờ." in reports[0]
    assert not any(t.startswith("⚠️ Không gửi") for t in office)
    assert any("goes instead" in r.getMessage() for r in caplog.records)
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    sheet = [
        r for r in book["Gửi tin"].iter_rows(values_only=True) if r[1] == "nhắc xác nhận tham dự"
    ]
    assert [r[4] for r in sheet] == ["không gửi (đã gửi lần nhắc sau thay thế)", "đã gửi xong"]


async def test_a_message_whose_window_closed_is_skipped_and_the_skip_reported(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DEADLINE + timedelta(minutes=1))  # both reminders missed
    with caplog.at_level(logging.WARNING, logger="schedules.outbox"):
        await harness.tick()
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["skipped", "skipped"]
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {}
    notices = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⚠️ Không gửi")]
    assert len(notices) == 2
    assert notices[0].startswith(
        "⚠️ Không gửi nhắc xác nhận tham dự (dự kiến lúc 08:00, Thứ Bảy, ngày 18/5/2024)"
    )
    assert sum("skipped rsvp_reminder" in r.getMessage() for r in caplog.records) == 2


async def test_a_message_whose_window_closed_looks_for_one_of_its_audience_not_all(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Whether anyone missed a skipped message sets only its log line's level: the outbox
    read the whole audience and its accounts for it (thousands of rows at 10,000 invitees)
    inside the queueing transaction; one row looked for says it."""
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        for audience in ("everyone", "group:khong_co_ai"):
            session.add(
                OutboundMessage(
                    meeting_id=harness.services.ctx.meeting_id, kind=MessageKind.RSVP_REMINDER,
                    status="scheduled", audience=audience, params={},
                    due_at=now - timedelta(hours=2), expires_at=now - timedelta(hours=1),
                    created_by="test", created_at=now,
                )
            )  # fmt: skip
    ran: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        ran.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        with caplog.at_level(logging.DEBUG, logger="schedules.outbox"):
            await harness.outbox.queue_due()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["skipped", "skipped"]
    skipped = [
        (r.levelname, r.getMessage()[:25]) for r in caplog.records if r.msg.startswith("skipped %s")
    ]
    assert skipped == [
        ("WARNING", "skipped rsvp_reminder mes"),  # 80 invitees missed it
        ("DEBUG", "skipped rsvp_reminder mes"),  # nobody in the group
    ]
    assert [s for s in ran if "channel_identities" in s] == []
    audience_reads = [s for s in ran if "FROM delegates JOIN rsvps" in s]
    assert len(audience_reads) == 2 and all("LIMIT" in s for s in audience_reads)


async def test_a_message_with_nobody_in_its_audience_is_skipped_and_reported_only_if_a_notice(
    harness: BotHarness,
) -> None:
    """An automatic message that finds nobody is not "sent" and the office hears nothing of it;
    the office's own notice to nobody is skipped too, and reported, so they learn it."""
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        for kind in (MessageKind.RSVP_REMINDER, MessageKind.BROADCAST):
            session.add(
                OutboundMessage(
                    meeting_id=harness.services.ctx.meeting_id,
                    kind=kind,
                    status="scheduled",
                    audience="group:khong_co_ai",
                    body="Thông báo" if kind is MessageKind.BROADCAST else None,
                    params={},
                    number=await next_notice_number(session, harness.services.ctx.meeting_id)
                    if kind is MessageKind.BROADCAST
                    else None,
                    due_at=now,
                    created_by="test",
                    report_to=f"telegram:{OFFICE_CHAT}",
                    created_at=now,
                )
            )
    await harness.tick()

    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["skipped"]
    assert await message_status(harness, MessageKind.BROADCAST) == ["skipped"]
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨 Báo cáo gửi")]
    assert len(reports) == 1 and reports[0].startswith("📨 Báo cáo gửi thông báo số ")
    assert "Đã gửi: 0 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0 · Bỏ qua: 0" in reports[0]


async def plan_reminders(
    services: Services, clock: ManualClock, kind: MessageKind = MessageKind.RSVP_REMINDER
) -> Outbox:
    """The plan's reminders of ``kind`` (RSVP reminders unless told) stored, and an outbox
    with no chat channel (every copy is recorded as not linked, which names its recipient all
    the same)."""
    planned = planned_messages(services.config)
    await sync_planned(
        services.ctx.sessions,
        clock,
        services.ctx.meeting_id,
        [p for p in planned if p.kind is kind],
    )
    return build_outbox(services, load_catalog("vi"), {})


async def rsvp_reminders(
    services: Services, kind: MessageKind = MessageKind.RSVP_REMINDER, audience: str | None = None
) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Each RSVP reminder (or message of ``kind`` to ``audience``), oldest first: its status,
    its params and its recipients' codes in the order their copies were made."""
    async with services.ctx.sessions() as session:
        messages = list(
            await session.scalars(
                select(OutboundMessage)
                .where(
                    OutboundMessage.kind == kind,
                    *(() if audience is None else (OutboundMessage.audience == audience,)),
                )
                .order_by(OutboundMessage.due_at, OutboundMessage.id)
            )
        )
        found = []
        for message in messages:
            codes = await session.scalars(
                select(Delegate.code)
                .join(Delivery, Delivery.delegate_id == Delegate.id)
                .where(Delivery.message_id == message.id)
                .order_by(Delivery.id)
            )
            found.append((message.status, dict(message.params or {}), list(codes)))
        return found


async def invitees_in_protocol_order(services: Services) -> list[str]:
    """The codes of the list's invitees (not the task contacts), as the outbox queues them."""
    order = {group.key: group.order for group in services.config.groups}
    async with services.ctx.sessions() as session:
        people = list(await session.scalars(select(Delegate).where(Delegate.role == "delegate")))
    return [person.code for person in sorted(people, key=protocol_key(order))]


async def test_a_plan_reminder_due_before_any_list_waits_and_goes_to_the_list_imported_after(
    services: Services, clock: ManualClock
) -> None:
    """The office started the bot before importing the list: the reminder that fell due then
    is not used up on nobody, nor on the task contacts' file imported first; the next tick
    after the invitees' import sends it to them, and not as late for a bot that was not
    running (it was)."""
    clock.set(REMINDER_1)
    outbox = await plan_reminders(services, clock)
    await outbox.tick()
    [(first, params, to), (second, _, _)] = await rsvp_reminders(services)
    assert (first, to, second) == ("scheduled", [], "scheduled")
    assert params == {"waited_for_list": REMINDER_1.astimezone(UTC).isoformat()}

    # The task contacts' file first: still nobody the reminder is for.
    await import_example(services, EXAMPLE_CONTACTS)
    await outbox.tick()
    assert [(status, to) for status, _, to in await rsvp_reminders(services)] == [
        ("scheduled", []), ("scheduled", []),
    ]  # fmt: skip

    await import_example(services)
    clock.set(REMINDER_1 + timedelta(hours=2))
    await outbox.tick()
    [(first, params, to), (second, _, _)] = await rsvp_reminders(services)
    expected = await invitees_in_protocol_order(services)
    assert len(expected) == 80
    assert (first, to, second) == ("done", expected, "scheduled")
    assert "late_seconds" not in params and "skip_reason" not in params


async def test_reminders_that_waited_for_a_list_go_once_there_is_one_the_newest_only(
    services: Services, clock: ManualClock
) -> None:
    """Both RSVP reminders fell due while there was no list: once there is one, only the newest
    goes, as after a stop."""
    clock.set(REMINDER_1)
    outbox = await plan_reminders(services, clock)
    await outbox.tick()
    clock.set(REMINDER_2)
    await outbox.tick()
    assert [status for status, _, _ in await rsvp_reminders(services)] == [
        "scheduled", "scheduled",
    ]  # fmt: skip
    await import_example(services)
    await outbox.tick()
    [(first, first_params, first_to), (second, _, second_to)] = await rsvp_reminders(services)
    assert (first, first_params["skip_reason"], first_to) == ("skipped", "overtaken", [])
    assert (second, second_to) == ("done", await invitees_in_protocol_order(services))


async def test_reminders_whose_window_closed_while_no_list_came_are_skipped_silently(
    services: Services, clock: ManualClock
) -> None:
    """With the list in only after the RSVP deadline, neither reminder goes: both are skipped
    as having had nobody to go to, as before they waited, and the office is not told the bot
    was not running (it was)."""
    clock.set(REMINDER_2)
    outbox = await plan_reminders(services, clock)
    await outbox.tick()
    clock.set(DEADLINE + timedelta(minutes=1))
    await import_example(services)
    await outbox.tick()
    found = await rsvp_reminders(services)
    assert [(status, params["skip_reason"], to) for status, params, to in found] == [
        ("skipped", "no_recipients", []),
        ("skipped", "no_recipients", []),
    ]
    async with services.ctx.sessions() as session:
        notes = await session.scalars(
            select(OutboundMessage.id).where(OutboundMessage.kind == MessageKind.OFFICE_NOTE)
        )
        assert list(notes) == []


async def test_reminders_skipped_after_waiting_for_a_list_are_counted_in_one_line_a_tick(
    services: Services, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.set(REMINDER_2)
    outbox = await plan_reminders(services, clock)
    await outbox.tick()
    clock.set(DEADLINE + timedelta(minutes=1))
    await import_example(services)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="schedules.outbox"):
        await outbox.tick()
    lines = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "schedules.outbox" and r.levelno >= logging.INFO
    ]
    assert lines == [
        (
            "INFO",
            "2 messages fell due with nobody to send them to (no list imported yet, no one in"
            " their audience or no chat to the office): 2 skipped as their window had closed,"
            " 0 late",
        ),
    ]


async def test_a_task_reminder_due_before_any_list_goes_to_the_task_s_contacts_once_imported(
    services: Services, clock: ManualClock
) -> None:
    """The first reminder of task VI.1.2 (contacts NV01 and NV02, deadline 14/5 17:00, first
    reminder 7/5 08:00) fell due with no list: it waits, and after the import (which assigns
    the task, as `people import` and «Nhập danh sách» do) of the contacts' file, before any
    invitee's, it goes to the two contacts."""
    await services.tasks.sync()
    outbox = await plan_reminders(services, clock, MessageKind.TASK_REMINDER)
    clock.set(local(2024, 5, 7, 8, 0))
    await outbox.tick()
    found = await rsvp_reminders(services, MessageKind.TASK_REMINDER, "task:VI.1.2")
    assert [(status, to) for status, _, to in found] == [("scheduled", [])] * 4

    await import_example(services, EXAMPLE_CONTACTS)  # the contacts' file alone is enough
    clock.set(local(2024, 5, 7, 9, 0))
    await outbox.tick()
    found = await rsvp_reminders(services, MessageKind.TASK_REMINDER, "task:VI.1.2")
    (status, params, to), *later = found
    assert (status, sorted(to)) == ("done", ["NV01", "NV02"])
    assert "late_seconds" not in params
    assert [status for status, _, _ in later] == ["scheduled"] * 3


async def test_a_tick_right_after_an_import_s_commit_finds_the_task_assigned_to_its_contacts(
    services: Services, clock: ManualClock
) -> None:
    """The import matches the plan's tasks to the people it brings in its own transaction: a
    tick the moment it commits (before anything else runs) sends the waiting task reminder to
    the task's contacts. It was used up on nobody: the list was in, the assignments not yet
    (they were a second transaction, after the import's)."""
    await services.tasks.sync()  # at start, before any list: the tasks, nobody holding them
    outbox = await plan_reminders(services, clock, MessageKind.TASK_REMINDER)
    clock.set(local(2024, 5, 7, 8, 0))
    await outbox.tick()
    await import_example(services, EXAMPLE_CONTACTS)  # the import alone, nothing after it
    await outbox.tick()
    (status, params, to), *_ = await rsvp_reminders(
        services, MessageKind.TASK_REMINDER, "task:VI.1.2"
    )
    assert (status, sorted(to), "skip_reason" in params) == ("done", ["NV01", "NV02"], False)


async def test_a_tick_right_after_an_import_s_commit_finds_the_speeches_assigned_to_speakers(
    services: Services, clock: ManualClock
) -> None:
    """The same for the speeches: the draft reminder due 18/5 08:00 waited for the list; a tick
    the moment the invitees' import commits sends it to the plan's ten speakers (none linked
    yet), not to nobody."""
    await services.drafts.sync()  # at start, before any list: no speaker to assign
    outbox = await plan_reminders(services, clock, MessageKind.DRAFT_REMINDER)
    clock.set(local(2024, 5, 18, 8, 0))
    await outbox.tick()
    await import_example(services)
    await outbox.tick()
    (status, params, to), *later = await rsvp_reminders(services, MessageKind.DRAFT_REMINDER)
    speakers = [code for theme in services.config.themes for code in theme.speakers]
    assert (status, sorted(to), "skip_reason" in params) == ("done", sorted(speakers), False)
    assert len(speakers) == 10 and [s for s, _, _ in later] == ["scheduled", "scheduled"]


async def test_with_a_list_a_plan_message_with_nobody_in_its_audience_is_skipped_at_once(
    imported: Services, clock: ManualClock
) -> None:
    """An audience that is empty once there is a list (nobody in the group) does not wait."""
    now = clock.now()
    async with imported.ctx.sessions() as session, session.begin():
        session.add(
            OutboundMessage(
                meeting_id=imported.ctx.meeting_id,
                kind=MessageKind.RSVP_REMINDER,
                status="scheduled",
                audience="group:khong_co_ai",
                due_at=now,
                created_by=BY_THE_PLAN,
                report_to=OFFICE_PLACE,
                created_at=now,
            )
        )
    await build_outbox(imported, load_catalog("vi"), {}).tick()
    [(status, params, to)] = await rsvp_reminders(imported)
    assert (status, params, to) == ("skipped", {"skip_reason": "no_recipients"}, [])


async def test_a_notice_put_in_the_outbox_without_a_number_takes_the_meeting_s_next_one(
    harness: BotHarness,
) -> None:
    """A notice written as a row by a script, not confirmed by the office, is called by a number
    like every other: the meeting's next when the outbox queues it, never its row's id."""
    await harness.plan()  # the plan's reminders take the first rows
    await harness.open_invitation("DB001")
    meeting_id, now = harness.services.ctx.meeting_id, harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        await add_notice_due(session, meeting_id, "Thông báo thứ nhất.", now)
        script = OutboundMessage(
            meeting_id=meeting_id, kind=MessageKind.BROADCAST, status="scheduled",
            audience="linked", body="Thông báo ghi từ tệp lệnh.", params={}, due_at=now,
            expires_at=now + BROADCAST_WINDOW, created_by="script",
            report_to=f"telegram:{OFFICE_CHAT}", created_at=now,
        )  # fmt: skip
        session.add(script)
    await harness.tick()
    async with harness.services.ctx.sessions() as session:
        numbered = (
            await session.execute(
                select(OutboundMessage.number, OutboundMessage.body)
                .where(OutboundMessage.kind == MessageKind.BROADCAST)
                .order_by(OutboundMessage.id)
            )
        ).all()
    assert [tuple(row) for row in numbered] == [
        (1, "Thông báo thứ nhất."),
        (2, "Thông báo ghi từ tệp lệnh."),
    ]
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨 Báo cáo gửi thông báo")]
    assert sorted(t.split("\n", 1)[0] for t in reports) == [
        "📨 Báo cáo gửi thông báo số 1",
        "📨 Báo cáo gửi thông báo số 2",
    ]


def moved(config: Config, by: timedelta) -> Config:
    """The plan with the meeting ``by`` later (the RSVP deadline and every reminder follow)."""
    meeting = config.meeting.model_copy(
        update={"starts_at": config.meeting.starts_at + by, "ends_at": config.meeting.ends_at + by}
    )
    return config.model_copy(update={"meeting": meeting})


def use_plan(harness: BotHarness, config: Config) -> None:
    """The office edited the plan and restarted the bot."""
    object.__setattr__(harness.services.ctx, "config", config)


async def test_messages_skipped_for_a_date_typed_in_the_past_go_once_the_date_is_put_right(
    harness: BotHarness,
) -> None:
    """The meeting typed a year early: every message fell due long ago and was skipped at once.
    Put right, those whose new time is still to come are planned again; one whose new time has
    passed stays skipped, and one that was sent is never sent again."""
    from tests.test_office_files import report_bytes

    right = harness.services.config
    harness.clock.set(local(2024, 5, 19, 9, 0))  # after the first chasing reminder's time
    await linked_answers(harness)
    use_plan(harness, moved(right, -timedelta(days=366)))  # 28/5/2023
    await harness.plan(*MEETING_KINDS)
    await harness.tick()
    assert [await message_status(harness, kind) for kind in MEETING_KINDS] == [
        ["skipped", "skipped"],
        ["skipped"],
        ["skipped"],
    ]

    use_plan(harness, right)
    await harness.plan(*MEETING_KINDS)
    assert [await message_status(harness, kind) for kind in MEETING_KINDS] == [
        ["skipped", "scheduled"],
        ["scheduled"],
        ["scheduled"],
    ]
    async with harness.services.ctx.sessions() as session:
        due = dict(
            (
                await session.execute(
                    select(OutboundMessage.kind, OutboundMessage.due_at).where(
                        OutboundMessage.status == MessageStatus.SCHEDULED
                    )
                )
            ).all()
        )
    assert due == {
        MessageKind.RSVP_REMINDER: REMINDER_2,
        MessageKind.DAY_BEFORE: local(2024, 5, 27, 16, 0),
        MessageKind.MORNING_AGENDA: local(2024, 5, 28, 6, 30),
    }
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    assert [
        r[4] for r in book["Gửi tin"].iter_rows(values_only=True) if r[1] in MEETING_KIND_LABELS
    ] == ["không gửi (quá thời hạn)", "chờ đến giờ", "chờ đến giờ", "chờ đến giờ"]

    harness.clock.set(REMINDER_2)
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    report = texts(harness, OFFICE_CHAT)[-1]
    assert report.startswith("📨 Báo cáo gửi nhắc xác nhận tham dự") and "Gửi muộn" not in report

    # The meeting moves a day later, and its deadline with it: what was sent stays sent, and
    # the chase for the new deadline is another message (the one before it went to nobody: it
    # is re-timed, still past).
    harness.clock.set(REMINDER_2 + timedelta(hours=1))
    use_plan(harness, moved(right, timedelta(days=1)))
    await harness.plan(*MEETING_KINDS)
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == [
        "skipped",
        "done",
        "scheduled",
    ]
    harness.clock.set(REMINDER_2 + timedelta(days=1))
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 2, "not_linked": 150}


DAY_BEFORE_AT = local(2024, 5, 27, 16, 0)  # -1d@16:00 before the meeting on 28/5


async def planned_times(harness: BotHarness, kind: MessageKind) -> list[tuple[str, Any]]:
    """Status and due time of each message of ``kind``, oldest first."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(OutboundMessage.status, OutboundMessage.due_at)
            .where(OutboundMessage.kind == kind)
            .order_by(OutboundMessage.id)
        )
        return [tuple(row) for row in rows.all()]


async def test_a_meeting_postponed_after_its_day_before_reminder_gets_it_again_for_the_new_date(
    harness: BotHarness,
) -> None:
    """The reminder said «ngày mai» for 28/5; the meeting moves to 4/6: the confirmed get the
    day-before reminder again on 3/6, the morning programme comes on 4/6 and not on 28/5, and
    the office's notice sent before the move is not repeated."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DAY_BEFORE_AT)
    async with harness.services.ctx.sessions() as session, session.begin():
        await add_notice_due(
            session, harness.services.ctx.meeting_id, "Lưu ý trang phục", DAY_BEFORE_AT
        )
    await harness.tick()
    reminded = await deliveries(harness, MessageKind.DAY_BEFORE)
    assert reminded["sent"] == 3  # two attending, one who sends a substitute
    notices = await deliveries(harness, MessageKind.BROADCAST)

    harness.clock.set(DAY_BEFORE_AT + timedelta(hours=2))  # the leader's schedule changes
    use_plan(harness, moved(harness.services.config, timedelta(days=7)))
    await harness.plan(*MEETING_KINDS)
    assert await planned_times(harness, MessageKind.DAY_BEFORE) == [
        ("done", DAY_BEFORE_AT),
        ("scheduled", local(2024, 6, 3, 16, 0)),
    ]
    assert await planned_times(harness, MessageKind.MORNING_AGENDA) == [
        ("scheduled", local(2024, 6, 4, 6, 30))
    ]

    harness.clock.set(local(2024, 5, 28, 6, 30))  # the old morning: nothing goes
    await harness.tick()
    assert await deliveries(harness, MessageKind.MORNING_AGENDA) == {}
    harness.clock.set(local(2024, 6, 3, 16, 0))
    await harness.tick()
    assert (await deliveries(harness, MessageKind.DAY_BEFORE))["sent"] == 2 * reminded["sent"]
    harness.clock.set(local(2024, 6, 4, 6, 30))
    await harness.tick()
    assert (await deliveries(harness, MessageKind.MORNING_AGENDA))["sent"] == reminded["sent"]
    assert await deliveries(harness, MessageKind.BROADCAST) == notices
    assert await message_status(harness, MessageKind.BROADCAST) == ["done"]


async def test_a_meeting_that_starts_later_the_same_day_is_not_reminded_of_again(
    harness: BotHarness,
) -> None:
    """The reminder said «ngày mai» for 28/5 at 08:00; the start moves to 08:30 that day: what
    the delegates were told still holds, so the reminder does not go a second time (the office
    tells them the new hour)."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DAY_BEFORE_AT)
    await harness.tick()
    reminded = await deliveries(harness, MessageKind.DAY_BEFORE)
    assert reminded["sent"] == 3

    harness.clock.set(DAY_BEFORE_AT + timedelta(hours=2))
    use_plan(harness, moved(harness.services.config, timedelta(minutes=30)))
    await harness.plan(*MEETING_KINDS)
    await harness.tick()
    assert await planned_times(harness, MessageKind.DAY_BEFORE) == [("done", DAY_BEFORE_AT)]
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == reminded


async def test_a_meeting_moved_earlier_sends_its_reminders_at_the_new_times_and_none_at_the_old(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 15, 9, 0))
    use_plan(harness, moved(harness.services.config, -timedelta(days=1)))  # Monday 27/5
    await harness.plan(*MEETING_KINDS)
    assert await planned_times(harness, MessageKind.RSVP_REMINDER) == [
        ("scheduled", REMINDER_1 - timedelta(days=1)),
        ("scheduled", REMINDER_2 - timedelta(days=1)),
    ]
    assert await planned_times(harness, MessageKind.DAY_BEFORE) == [
        ("scheduled", DAY_BEFORE_AT - timedelta(days=1))
    ]

    for when in (REMINDER_2 - timedelta(days=1), DAY_BEFORE_AT - timedelta(days=1)):
        harness.clock.set(when)
        await harness.tick()
    sent = (
        await deliveries(harness, MessageKind.RSVP_REMINDER),
        await deliveries(harness, MessageKind.DAY_BEFORE),
    )
    assert sent[0]["sent"] == 1 and sent[1]["sent"] == 3
    for when in (REMINDER_2, DAY_BEFORE_AT):  # the old times pass: nothing more
        harness.clock.set(when)
        await harness.tick()
    assert (
        await deliveries(harness, MessageKind.RSVP_REMINDER),
        await deliveries(harness, MessageKind.DAY_BEFORE),
    ) == sent


async def test_chasing_before_an_rsvp_deadline_written_as_a_date_stays_when_the_meeting_moves(
    harness: BotHarness,
) -> None:
    config = harness.services.config
    fixed = config.meeting.model_copy(update={"rsvp_deadline": TimeSpec.parse("2024-05-21T17:00")})
    use_plan(harness, config.model_copy(update={"meeting": fixed}))
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    await harness.tick()

    use_plan(harness, moved(harness.services.config, timedelta(days=7)))
    await harness.plan(*MEETING_KINDS)
    assert await planned_times(harness, MessageKind.RSVP_REMINDER) == [
        ("done", REMINDER_1),
        ("scheduled", REMINDER_2),
    ]


async def test_a_reminder_stored_before_keys_carried_their_date_is_not_sent_twice(
    harness: BotHarness,
) -> None:
    """An installation upgraded after its day-before reminder went: the row kept under its
    old key is that reminder, not one still to send; postponed, it goes again."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DAY_BEFORE_AT)
    await harness.tick()
    async with harness.services.ctx.sessions() as session, session.begin():
        row = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.kind == MessageKind.DAY_BEFORE)
        )
        assert row is not None and row.dedupe_key is not None
        row.dedupe_key = row.dedupe_key.partition("|")[0]  # as it was written before
    await harness.plan(*MEETING_KINDS)
    assert await message_status(harness, MessageKind.DAY_BEFORE) == ["done"]

    use_plan(harness, moved(harness.services.config, timedelta(days=7)))
    await harness.plan(*MEETING_KINDS)
    assert await message_status(harness, MessageKind.DAY_BEFORE) == ["done", "scheduled"]


def with_the_longest_keys(config: Config) -> Config:
    """The plan with a meeting code and task keys as long as they may be, and every reminder of
    the drafts and tasks written as a local date with its offset."""
    meeting = config.meeting.model_copy(update={"code": "HN-" + "X" * 37})
    dated = [TimeSpec.parse("2024-05-20T08:00+07:00"), TimeSpec.parse("2024-05-21T08:00+07:00")]
    tasks = [
        task.model_copy(update={"key": f"VI.{index:02d}-" + "K" * 10, "reminders": dated})
        for index, task in enumerate(config.tasks)
    ]
    drafts = config.drafts.model_copy(update={"reminders": dated})
    return config.model_copy(update={"meeting": meeting, "tasks": tasks, "drafts": drafts})


def test_the_keys_of_a_plan_with_the_longest_codes_fit_the_outbox_and_stay_distinct(
    config: Config,
) -> None:
    keys = [item.dedupe_key for item in planned_messages(with_the_longest_keys(config))]
    assert OutboundMessage.dedupe_key.type.length == MAX_KEY
    assert max(len(key) for key in keys) <= MAX_KEY
    assert len(set(keys)) == len(keys)


async def test_a_plan_with_the_longest_codes_keeps_a_row_written_under_its_whole_slot(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """SQLite kept a key longer than the column (it does not enforce lengths) before keys were
    cut to fit: that row is the same message, not one more to send."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL never kept a key longer than its column")
    use_plan(harness, with_the_longest_keys(harness.services.config))
    await harness.plan(MessageKind.TASK_REMINDER)
    before = await message_status(harness, MessageKind.TASK_REMINDER)
    assert before and set(before) == {"scheduled"}
    slots = {item.dedupe_key: item.slot for item in planned_messages(harness.services.config)}
    async with harness.services.ctx.sessions() as session, session.begin():
        rows = await session.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == MessageKind.TASK_REMINDER)
        )
        for row in rows:
            assert row.dedupe_key is not None
            row.dedupe_key = slots[row.dedupe_key]  # the whole slot, as it was written before
    await harness.plan(MessageKind.TASK_REMINDER)
    assert await message_status(harness, MessageKind.TASK_REMINDER) == before


async def test_replanning_after_a_config_edit_moves_unsent_messages_and_cancels_dropped_ones(
    harness: BotHarness,
) -> None:
    await harness.plan(*MEETING_KINDS)
    config = harness.services.config
    reminders = config.reminders.model_copy(update={"rsvp_chase": config.reminders.rsvp_chase[:1]})
    object.__setattr__(
        harness.services.ctx, "config", config.model_copy(update={"reminders": reminders})
    )
    await harness.plan(*MEETING_KINDS)
    await harness.plan(*MEETING_KINDS)
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["scheduled", "cancelled"]


# --- errors from Telegram -----------------------------------------------------------------------


async def reminder_for_one(harness: BotHarness) -> int:
    """DB005 linked and silent, the first reminder due now; returns DB005's chat id."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    return harness.user_for("DB005").id


async def test_429_pauses_all_sending_for_retry_after_then_delivers(harness: BotHarness) -> None:
    chat = await reminder_for_one(harness)
    harness.fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    await harness.tick()
    assert harness.outbox.stats.rate_limited == 1
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"pending": 1, "not_linked": 75}
    harness.clock.advance(timedelta(seconds=7))
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert harness.time.slept >= 7  # the pacer held every send for the whole retry_after
    assert sum("chưa xác nhận" in t for t in texts(harness, chat)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"error_code": 502, "description": "Bad Gateway"},
        {"error_code": 500, "description": "Internal Server Error"},
        {"timeout": True},
    ],
)
async def test_server_errors_and_timeouts_are_retried_with_backoff(
    harness: BotHarness, fault: dict
) -> None:  # type: ignore[type-arg]
    chat = await reminder_for_one(harness)
    harness.fake.fail_next("sendMessage", **fault)
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"pending": 1, "not_linked": 75}
    harness.clock.advance(timedelta(seconds=1))
    await harness.tick()  # backoff is 2 s after the first attempt: not yet
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"pending": 1, "not_linked": 75}
    harness.clock.advance(timedelta(seconds=1))
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert harness.outbox.stats.retried == 1
    assert sum("chưa xác nhận" in t for t in texts(harness, chat)) == 1


async def test_minutes_of_server_errors_in_a_row_are_ridden_out_and_the_message_sent_once(
    harness: BotHarness,
) -> None:
    # Five attempts (2 + 4 + 8 + 16 s apart) gave up after half a minute of 502s: a platform's
    # bad few minutes made a reminder, or the morning programme, fail for good.
    chat = await reminder_for_one(harness)
    harness.fake.fail_next("sendMessage", error_code=502, description="Bad Gateway", times=9)
    for _ in range(10):
        await harness.tick()
        harness.clock.advance(timedelta(minutes=5))
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert harness.outbox.stats.retried == 9
    assert sum("chưa xác nhận" in t for t in texts(harness, chat)) == 1


async def test_retries_are_bounded_and_the_failure_reported_with_its_reason(
    harness: BotHarness,
) -> None:
    await reminder_for_one(harness)
    harness.fake.fail_next("sendMessage", error_code=502, description="Bad Gateway", times=10)
    for _ in range(11):
        await harness.tick()
        harness.clock.advance(timedelta(minutes=5))
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"failed": 1, "not_linked": 75}
    report = texts(harness, OFFICE_CHAT)[-1]
    assert "Gửi không thành công (1):" in report
    assert "DB005 — " in report and "NetworkError: Bad Gateway" in report


async def test_blocked_user_is_marked_unreachable_not_retried_and_reported(
    harness: BotHarness,
) -> None:
    chat = await reminder_for_one(harness)
    harness.fake.block(chat)
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"blocked": 1, "not_linked": 75}
    tries = [c for c in harness.fake.calls if c.params.get("chat_id") == chat and c.error_code]
    assert [c.error_code for c in tries] == [403]  # one try, no retry
    report = texts(harness, OFFICE_CHAT)[-1]
    # Blocked, so one to phone, with her number (the overview's rule: her account shows the
    # invitation reached her).
    assert "\n\nCần gọi điện thoại (1) — " in report
    assert "\n• DB005 — Ngô Thị Bích Hạnh: 0855 005 370\n" in report
    async with harness.services.ctx.sessions() as session:
        ident = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_id == str(chat))
        )
    assert ident is not None and ident.unreachable_at is not None
    # The next message does not even try.
    harness.clock.set(REMINDER_2)
    calls = len(harness.fake.calls)
    await harness.tick()
    assert [c.params.get("chat_id") for c in harness.fake.calls[calls:]] == [OFFICE_CHAT]


async def test_blocking_the_bot_update_marks_the_delegate_unreachable(harness: BotHarness) -> None:
    chat = await reminder_for_one(harness)
    await harness.send(harness.fake.block(chat))
    harness.fake.unblock(chat)  # even if Telegram would deliver again, we know they left
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"blocked": 1, "not_linked": 75}
    await harness.send(harness.fake.unblock(chat))  # they came back
    harness.clock.set(REMINDER_2)
    await harness.tick()
    assert (await deliveries(harness, MessageKind.RSVP_REMINDER))["sent"] == 1


async def test_a_400_is_failed_with_its_reason_and_not_retried(harness: BotHarness) -> None:
    await reminder_for_one(harness)
    harness.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: message is too long"
    )
    await harness.tick()
    harness.clock.advance(timedelta(hours=1))
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"failed": 1, "not_linked": 75}
    async with harness.services.ctx.sessions() as session:
        error = await session.scalar(select(Delivery.last_error).where(Delivery.status == "failed"))
    assert error == "400 Message is too long"


async def test_deliveries_in_flight_at_a_crash_are_sent_after_restart(harness: BotHarness) -> None:
    chat = await reminder_for_one(harness)
    await harness.outbox.queue_due()
    claimed = await harness.outbox._claim()  # the process dies right after claiming
    assert len(claimed) == 1
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sending": 1, "not_linked": 75}
    # On PostgreSQL the claim is a lease other processes respect until it expires.
    harness.clock.advance(harness.outbox.lease)
    assert await harness.outbox.recover() == 1
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert sum("chưa xác nhận" in t for t in texts(harness, chat)) == 1


# --- the day before and the meeting morning -----------------------------------------------------


async def test_meeting_morning_sends_agenda_venue_and_calendar_to_everyone_confirmed(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 28, 6, 30))
    await harness.tick()
    assert await deliveries(harness, MessageKind.MORNING_AGENDA) == {"sent": 3}
    assert await message_status(harness, MessageKind.DAY_BEFORE) == [
        "skipped"
    ]  # "tomorrow" is past
    for code in ("DB001", "DB002", "DB003"):
        chat = harness.user_for(code).id
        calls = [c for c in harness.fake.calls if c.params.get("chat_id") == chat]
        assert [c.method for c in calls[-3:]] == ["sendMessage", "sendVenue", "sendDocument"]
        text = calls[-3].params["text"]
        assert "chương trình hội nghị hôm nay" in text
        assert "08:35–09:05: Báo cáo sơ kết giữa nhiệm kỳ" in text
        assert "Hội trường Hội LHPN Hà Nội" in text
        venue = calls[-2].params
        assert (venue["latitude"], venue["longitude"]) == (21.02985, 105.78523)
        upload = calls[-1].uploads["document"]
        assert upload.file_name == "hoi-nghi-60-KH-BTV.ics"
        event = next(iter(Calendar.from_ical(upload.content).walk("VEVENT")))
        assert event.decoded("DTSTART") == local(2024, 5, 28, 8, 0)
        # the meeting's calendar revision, as /lich sends it
        assert event.decoded("DTSTAMP") == harness.services.ctx.calendar.revised_at
    substitute_text = texts(harness, harness.user_for("DB003").id)[-3]
    assert "chuyển thông tin này tới đồng chí Lê Thị Hoa" in substitute_text
    # What the substitute shows at the desk, as the personal page says (Telegram, as Zalo).
    codes = {
        link.code: format_link_code(link.link_code)
        for link in await harness.services.invitations.links()
    }
    assert (
        f"Mã đón tiếp đại biểu: {codes['DB003']}. Đề nghị đồng chí chuyển mã này (hoặc "
        "phiếu kèm giấy mời) để đồng chí Lê Thị Hoa xuất trình tại bàn đón tiếp."
    ) in substitute_text
    assert (
        f"Mã đón tiếp đại biểu của đồng chí: {codes['DB001']}."
        in texts(harness, harness.user_for("DB001").id)[-3]
    )
    assert "có mặt đúng giờ" not in substitute_text  # they are not coming: no call to come
    assert "có mặt đúng giờ" in texts(harness, harness.user_for("DB001").id)[-3]
    for code in ("DB004", "DB005"):
        assert not any("hội nghị hôm nay" in t for t in texts(harness, harness.user_for(code).id))


async def test_day_before_reminder_goes_at_16_00_the_day_before(harness: BotHarness) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 27, 15, 59))
    await harness.tick()
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {}
    harness.clock.set(local(2024, 5, 27, 16, 0))
    await harness.tick()
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"sent": 3}
    assert "ngày mai đồng chí dự hội nghị" in texts(harness, harness.user_for("DB001").id)[-3]


async def by_phone(harness: BotHarness, code: str, answer: RsvpAnswer) -> RsvpStep:
    """The office records ``code``'s answer taken by phone (as the dashboard's form does)."""
    async with harness.services.ctx.sessions() as session:
        person = await session.scalar(select(Delegate.id).where(Delegate.code == code))
    assert person is not None
    office = harness.services.access.local_operator()
    return (await harness.services.rsvp.record_by_phone(office, person, answer)).step


def packs(harness: BotHarness, code: str, said: str) -> int:
    """How many messages saying ``said`` (the day before's, the agenda's) ``code`` received."""
    return sum(said in t for t in texts(harness, harness.user_for(code).id))


TOMORROW = "ngày mai đồng chí dự hội nghị"
TODAY = "chương trình hội nghị hôm nay"


async def test_a_decline_taken_by_phone_after_the_agenda_was_queued_stops_her_copy(
    harness: BotHarness,
) -> None:
    """The agenda was queued at 06:30 while DB001 was to come (it waited: a pause, a retry);
    at 06:31 the office records by phone that she will not: it is not sent to her."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 28, 6, 30))
    await harness.outbox.queue_due()
    harness.clock.set(local(2024, 5, 28, 6, 31))
    declined = RsvpAnswer(RsvpStatus.DECLINED, reason="Ốm")
    assert await by_phone(harness, "DB001", declined) is RsvpStep.RECORDED
    await harness.tick()
    assert await deliveries(harness, MessageKind.MORNING_AGENDA) == {"sent": 2, "skipped": 1}
    assert packs(harness, "DB001", TODAY) == 0 and packs(harness, "DB002", TODAY) == 1


async def test_one_the_office_records_as_coming_after_a_pack_was_sent_gets_her_own_copy(
    harness: BotHarness,
) -> None:
    """After the deadline the office records by phone that a delegate comes after all: she gets
    what those who come were already sent while it still holds (the day-before reminder until
    midnight, the agenda until the meeting ends), once; the plan's own message, not yet sent
    when she changed, simply includes her."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DAY_BEFORE_AT)
    await harness.tick()
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"sent": 3}
    harness.clock.set(local(2024, 5, 27, 18, 0))  # DB004 had declined: she comes after all
    assert await by_phone(harness, "DB004", RsvpAnswer(RsvpStatus.ATTENDING)) is RsvpStep.RECORDED
    await harness.tick()
    assert packs(harness, "DB004", TOMORROW) == 1
    # Declining and coming again the same evening sends nothing twice.
    assert await by_phone(harness, "DB004", RsvpAnswer(RsvpStatus.DECLINED)) is RsvpStep.RECORDED
    assert await by_phone(harness, "DB004", RsvpAnswer(RsvpStatus.ATTENDING)) is RsvpStep.RECORDED
    await harness.tick()
    assert packs(harness, "DB004", TOMORROW) == 1
    harness.clock.set(local(2024, 5, 28, 6, 30))
    await harness.tick()
    assert await deliveries(harness, MessageKind.MORNING_AGENDA) == {"sent": 4}
    assert packs(harness, "DB004", TODAY) == 1
    # At 07:00, check-in open, DB005 (silent until now) phones: her deputy comes.
    harness.clock.set(local(2024, 5, 28, 7, 0))
    deputy = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Lê Thu Trang", substitute_position="Phó Chủ tịch"
    )
    assert await by_phone(harness, "DB005", deputy) is RsvpStep.RECORDED
    await harness.tick()
    assert packs(harness, "DB005", TODAY) == 1 and packs(harness, "DB005", TOMORROW) == 0
    assert (
        "chuyển thông tin này tới đồng chí Lê Thu Trang"
        in texts(harness, harness.user_for("DB005").id)[-3]
    )
    assert packs(harness, "DB004", TODAY) == 1  # nobody else is sent it again


async def test_her_own_copy_is_not_sent_once_the_office_corrects_her_answer_to_a_decline(
    harness: BotHarness,
) -> None:
    """The office records by phone that DB004 comes after the day-before reminder went, which
    queues her own copy; the clerk picked the wrong person and records at once, before the
    next tick, that she does not come: her copy is skipped as it is claimed, not sent."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DAY_BEFORE_AT)
    await harness.tick()
    harness.clock.set(local(2024, 5, 27, 18, 0))
    assert await by_phone(harness, "DB004", RsvpAnswer(RsvpStatus.ATTENDING)) is RsvpStep.RECORDED
    declined = RsvpAnswer(RsvpStatus.DECLINED, reason="Nhầm người")
    assert await by_phone(harness, "DB004", declined) is RsvpStep.RECORDED
    await harness.tick()
    assert packs(harness, "DB004", TOMORROW) == 0
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"sent": 3, "skipped": 1}


async def test_one_who_answers_in_chat_after_the_day_before_reminder_went_gets_her_own_copy(
    harness: BotHarness,
) -> None:
    """A plan whose answer deadline (20:00 the day before) falls after the day-before reminder
    (16:00): DB005, silent until then, taps «✅ Tham dự» at 18:00 and gets the reminder those
    who come were sent, once, as she would if the office had recorded it by phone."""
    config = harness.services.config
    late = config.meeting.model_copy(update={"rsvp_deadline": TimeSpec.parse("-1d@20:00")})
    use_plan(harness, config.model_copy(update={"meeting": late}))
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(DAY_BEFORE_AT)
    await harness.tick()
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"sent": 3}
    harness.clock.set(local(2024, 5, 27, 18, 0))
    await harness.send(harness.user_for("DB005").tap("✅ Tham dự"))
    await harness.send(harness.user_for("DB005").tap("✅ Tham dự"))  # a second tap: no second copy
    await harness.tick()
    assert packs(harness, "DB005", TOMORROW) == 1
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"sent": 4}


async def test_a_reminder_whose_every_copy_ran_out_ends_skipped_and_is_still_reported(
    harness: BotHarness,
) -> None:
    """The day-before reminder is queued at 16:00, then the bot stops before a copy goes and
    runs again after midnight, when it is no longer worth sending: it went to nobody (skipped,
    as the report file says), and the office still gets its report, saying why."""
    from tests.test_office_files import report_bytes

    await linked_answers(harness)
    await harness.plan(MessageKind.DAY_BEFORE)
    harness.clock.set(local(2024, 5, 27, 16, 0))
    await harness.outbox.queue_due()
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"pending": 3}
    harness.clock.set(local(2024, 5, 28, 0, 1))
    await harness.tick()
    assert await deliveries(harness, MessageKind.DAY_BEFORE) == {"skipped": 3}
    assert await message_status(harness, MessageKind.DAY_BEFORE) == ["skipped"]
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨 Báo cáo gửi")]
    assert reports == [
        "📨 Báo cáo gửi nhắc lịch trước một ngày\n"
        "Đã gửi: 0 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0 · Bỏ qua: 3\n"
        "⚠️ 3 người chưa nhận được vì đã hết thời hạn gửi trước khi bot gửi tới họ"
        " (đề nghị gọi điện): DB001 Phạm Thị Thanh Mai, DB002 Hoàng Thị Ngọc Diệp,"
        " DB003 Vũ Thị Hồng Nhung."
    ]
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    assert [
        r[4] for r in book["Gửi tin"].iter_rows(values_only=True) if r[1] == MEETING_KIND_LABELS[1]
    ] == ["không gửi (hết thời hạn khi đang chờ gửi)"]
    # The whole list, for the office to phone: the report names only the first few.
    ran_out = list(book["Chưa nhận do hết hạn gửi"].iter_rows(values_only=True))
    assert ran_out[0] == (
        "Số thông báo", "Loại tin", "Dự kiến gửi", "Mã", "Họ và tên", "Chức vụ", "Đơn vị"
    )  # fmt: skip
    assert [r[:5] for r in ran_out[1:]] == [
        (None, MEETING_KIND_LABELS[1], datetime(2024, 5, 27, 16, 0), code, name)
        for code, name in [
            ("DB001", "Phạm Thị Thanh Mai"),
            ("DB002", "Hoàng Thị Ngọc Diệp"),
            ("DB003", "Vũ Thị Hồng Nhung"),
        ]
    ]


async def test_the_agenda_is_skipped_once_the_meeting_is_over(harness: BotHarness) -> None:
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 28, 11, 31))
    await harness.tick()
    assert await message_status(harness, MessageKind.MORNING_AGENDA) == ["skipped"]
    assert await deliveries(harness, MessageKind.MORNING_AGENDA) == {}


async def test_a_long_agenda_is_split_cleanly_under_4096_characters(harness: BotHarness) -> None:
    config = harness.services.config
    item = config.agenda[0]
    long_agenda = [
        item.model_copy(update={"title": f"Mục {n}: " + "báo cáo " * 40}) for n in range(30)
    ]
    new_config = config.model_copy(update={"agenda": long_agenda})
    object.__setattr__(harness.services.ctx, "config", new_config)
    object.__setattr__(harness.outbox._composer, "_config", new_config)
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 28, 6, 30))
    await harness.tick()
    chat = harness.user_for("DB001").id
    parts = [
        c
        for c in harness.fake.calls
        if c.params.get("chat_id") == chat and c.method == "sendMessage"
    ]
    pack = [c.params["text"] for c in parts if "báo cáo báo cáo" in c.params["text"]]
    assert len(pack) >= 3
    assert all(len(text) <= 4096 for text in pack)
    assert all(text.count("<b>") == text.count("</b>") for text in pack)
    assert await deliveries(harness, MessageKind.MORNING_AGENDA) == {"sent": 3}


async def test_a_failure_while_sending_never_strands_a_delivery(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = await reminder_for_one(harness)
    sender = harness.outbox.senders["telegram"]

    def broken(outbound: object) -> list[object]:
        raise RuntimeError("bug in splitting")

    monkeypatch.setattr(sender, "prepare", broken)
    await harness.tick()
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"failed": 1, "not_linked": 75}
    async with harness.services.ctx.sessions() as session:
        error = await session.scalar(select(Delivery.last_error).where(Delivery.status == "failed"))
    assert error == "RuntimeError"
    assert await message_status(harness, MessageKind.RSVP_REMINDER) == ["done", "scheduled"]
    assert not any("chưa xác nhận" in t for t in texts(harness, chat))


async def test_a_delivery_whose_content_shrank_below_the_parts_already_sent_is_finished(
    harness: BotHarness,
) -> None:
    """A speaker's reminder listed two themes; one part went out before a crash, and a draft
    arrived meanwhile: the reminder is now one part. The delivery must end as sent, not stay
    in flight forever (it did: every restart put it back, every retry sent nothing)."""
    from tests.test_telegram_flows import buttons

    speaker = await harness.open_invitation("DB031")
    await harness.send(harness.admin().command("/phancong DB031 2.3"))
    harness.clock.set(local(2024, 5, 18, 8, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER)
    # The crash: the reminder is queued, its first part recorded, the delivery left in flight.
    await harness.outbox.queue_due()
    async with harness.services.ctx.sessions() as session, session.begin():
        delivery = await session.scalar(
            select(Delivery)
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(OutboundMessage.kind == MessageKind.DRAFT_REMINDER)
        )
        assert delivery is not None
        delivery.status, delivery.parts_sent = "sending", 1
    # Meanwhile the speaker sends the draft for the first theme.
    await harness.send(speaker.document("bai.docx", docx("bài"), "application/msword"))
    await harness.send(speaker.tap(buttons(speaker.last_message)[0]))
    assert speaker.last_text().startswith("✅ Đã nhận bản 1")
    before = len(speaker.messages)
    await harness.outbox.recover()
    await harness.tick()
    # The nine other speakers have not opened their links.
    assert await deliveries(harness, MessageKind.DRAFT_REMINDER) == Counter(
        {"sent": 1, "not_linked": 9}
    )
    reminders = [
        m for m in speaker.messages[before:] if "nhắc đồng chí gửi tham luận" in m.get("text", "")
    ]
    assert reminders == []  # nothing left to send: the one remaining theme had gone out


# --- a kill at any point -------------------------------------------------------------------------


class Killed(BaseException):
    """The process dies here: nothing in the outbox catches it, nothing after it runs."""


class Death:
    """Counts the points where the process could die, and dies at the ``at``-th."""

    def __init__(self, at: int) -> None:
        self.at, self.points = at, 0

    def point(self) -> None:
        """One more point passed; die if it is the chosen one."""
        self.points += 1
        if self.points == self.at:
            raise Killed


class MortalOutbox(Outbox):
    """An outbox that can die before or after each of its transactions."""

    death = Death(0)

    async def _mortal(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.death.point()
        result = await getattr(super(), name)(*args, **kwargs)
        self.death.point()
        return result

    async def queue_due(self) -> int:
        return int(await self._mortal("queue_due"))

    async def _claim(self, *args: Any) -> Any:
        return await self._mortal("_claim", *args)

    async def _record_part(self, *args: Any, **kwargs: Any) -> None:
        await self._mortal("_record_part", *args, **kwargs)

    async def _retry(self, *args: Any, **kwargs: Any) -> None:
        await self._mortal("_retry", *args, **kwargs)

    async def _finish_delivery(self, *args: Any, **kwargs: Any) -> None:
        await self._mortal("_finish_delivery", *args, **kwargs)

    async def finish(self) -> int:
        return int(await self._mortal("finish"))


class MortalSender:
    """The outbox's sender in a process that can die just before or just after a send (after:
    Telegram has the message, the bot never hears so)."""

    def __init__(self, inner: ChannelSender, death: Death) -> None:
        self.inner, self.death = inner, death
        self.channel = inner.channel
        self.capabilities = inner.capabilities

    def prepare(self, outbound: Any) -> Any:
        return self.inner.prepare(outbound)

    async def send(self, address: str, part: Part) -> SendResult:
        self.death.point()
        result = await self.inner.send(address, part)
        self.death.point()
        return result


async def test_a_kill_at_any_point_queues_a_report_once_and_marks_a_copy_sent_again(
    harness: BotHarness,
) -> None:
    """Every point where a process can die while a notice goes to two delegates and its report
    to the office: before and after each transaction of the outbox and each send. Whatever the
    point, after the restart the report is queued exactly once, reaches the office, and a copy
    sent again says it may be a repeat (the office once read the same report twice)."""
    catalog = load_catalog(harness.services.config.meeting.locale)
    sender = harness.outbox.senders["telegram"]
    for code in ("DB001", "DB002"):
        await harness.open_invitation(code)

    def outbox(death: Death | None) -> Outbox:
        senders: dict[str, Any] = {sender.channel: sender}
        if death is not None:
            senders = {sender.channel: MortalSender(sender, death)}
        pacer = Pacer(Limits(), now=harness.time.monotonic, sleep=harness.time.sleep)
        services = harness.services
        built = (MortalOutbox if death is not None else Outbox)(
            services.ctx.sessions,
            services.ctx.clock,
            senders,
            build_composer(services, catalog),
            services.audiences,
            pacer,
            meeting_id=services.ctx.meeting_id,
        )
        built.batch_size = 1  # one delivery in flight: an in-process death stops just what dies
        if isinstance(built, MortalOutbox) and death is not None:
            built.death = death
        return built

    at = 0
    while True:
        at += 1
        now = harness.clock.now()
        async with harness.services.ctx.sessions() as session, session.begin():
            notice = await add_notice_due(
                session, harness.services.ctx.meeting_id, f"Thông báo thử số {at}", now
            )
        death = Death(at)
        dying = outbox(death)
        try:
            for _ in range(3):
                await dying.tick()
            died = False
        except Killed:
            died = True
        restarted = outbox(None)
        await restarted.recover()
        await restarted.tick()
        await restarted.tick()

        title = f"📨 Báo cáo gửi thông báo số {notice.number}\n"
        async with harness.services.ctx.sessions() as session:
            queued = list(
                await session.scalars(
                    select(OutboundMessage.status).where(
                        OutboundMessage.kind == MessageKind.OFFICE_NOTE,
                        OutboundMessage.body.startswith(
                            f"📨 <b>Báo cáo gửi thông báo số {notice.number}</b>"
                        ),
                    )
                )
            )
            status = await session.scalar(
                select(OutboundMessage.status).where(OutboundMessage.id == notice.id)
            )
        copies = [t for t in texts(harness, OFFICE_CHAT) if title in t]
        plain = [t for t in copies if t.startswith(title)]
        marked = [t for t in copies if t.startswith("🔁 Tin gửi lại: ")]
        assert status == MessageStatus.DONE, at
        assert queued == [MessageStatus.DONE], at  # queued once, whatever the point
        assert copies and len(plain) <= 1 and len(plain) + len(marked) == len(copies) <= 2, (
            at,
            copies,
        )
        if not died:
            assert death.points > 20  # every point of a whole run was tried
            assert len(copies) == 1 and plain
            break


async def test_the_morning_report_phones_no_one_already_in_the_hall_and_says_what_for(
    harness: BotHarness,
) -> None:
    """The re-test's 54 calls «đề nghị gọi điện» on the meeting morning included delegates
    sitting in the hall and did not say what to tell them: those checked in are left out
    (counted), and one line says what the call is for."""
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    for code in ("DB006", "DB007"):  # on no chat: answered by phone
        assert await by_phone(harness, code, RsvpAnswer(RsvpStatus.ATTENDING)) is RsvpStep.RECORDED
    harness.clock.set(local(2024, 5, 28, 6, 20))
    access = harness.services.access
    await harness.services.checkin.check_in(
        access.office_desk(access.local_operator(), "Bàn 1"), "DB006"
    )
    harness.clock.set(local(2024, 5, 28, 6, 30))
    await harness.tick()
    [report] = [t for t in texts(harness, OFFICE_CHAT) if "chương trình ngày hội nghị" in t]
    assert "Chưa liên kết: 2" in report
    assert report.endswith(
        "\nNội dung cuộc gọi: nhắc chương trình hội nghị hôm nay và mã đón tiếp đại biểu; các "
        "đồng chí này đã có giấy mời bản giấy, đề nghị mang theo giấy mời để xuất trình tại bàn "
        "đón tiếp.\n\nChưa kết nối kênh nhắn tin (1), đề nghị gọi điện:\n"
        "• DB007 — Đỗ Thị Kim Oanh: 0987 654 007\n"
        "Không liệt kê 1 người đã có mặt trong hội trường (bản thân hoặc người dự thay đã điểm "
        "danh tại bàn đón tiếp): không cần gọi."
    )


async def test_the_morning_report_s_failed_list_leaves_out_those_already_in_the_hall(
    harness: BotHarness,
) -> None:
    """A programme that failed to reach DB001 on the meeting morning is no call to make once
    she is checked in: the «Gửi không thành công» list, like the list to phone, names only
    those not in the hall and counts the others (s32 re-test, the morning pack's report)."""
    await linked_answers(harness)  # DB001, DB002 attend, DB003 sends a substitute
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(local(2024, 5, 28, 6, 20))
    access = harness.services.access
    await harness.services.checkin.check_in(
        access.office_desk(access.local_operator(), "Bàn 1"), "DB001"
    )
    harness.clock.set(local(2024, 5, 28, 6, 30))
    for code in ("DB001", "DB002"):
        harness.fake.fail_next(
            "sendMessage", error_code=400, description="Bad Request: x",
            chat_id=harness.user_for(code).id,
        )  # fmt: skip
    await harness.tick()
    [report] = [t for t in texts(harness, OFFICE_CHAT) if "chương trình ngày hội nghị" in t]
    assert "Lỗi: 2" in report  # the figures are what happened
    assert "\n\nGửi không thành công (1):\n• DB002 — Hoàng Thị Ngọc Diệp: 400 X\n" in report
    assert "DB001" not in report
    assert report.endswith(
        "Không liệt kê 1 người đã có mặt trong hội trường (bản thân hoặc người dự thay đã điểm "
        "danh tại bàn đón tiếp): không cần gọi."
    )
