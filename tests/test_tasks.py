"""Section VI as a task board: assignees, reminders, reports, evidence, escalation, boards."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.outbound import MessageKind, MessageStatus
from bot.domain.tasks import MAX_TASK_FILES, TaskStatus
from bot.domain.timespec import TimeSpec
from bot.services import Services
from bot.services.access import Role
from bot.services.invitations import page_account
from bot.services.tasks import TaskStep, drop_unreported
from rehearsal.telegram_api import JsonDict
from storage.models import (
    Delegate,
    Delivery,
    OutboundMessage,
    Task,
    TaskAssignment,
    TaskEvidence,
)
from storage.uow import unit_of_work
from tests.conftest import local, until_waiting
from tests.fakes.telegram_api import FakeUser
from tests.harness import OFFICE_CHAT, BotHarness
from tests.plan_support import EXAMPLE_CONTACTS
from tests.samples import DOCX, MACRO_MAIN_TYPE, docx, office_file, zip_bytes
from tests.storage_support import people_written_as_objects
from tests.tasks_support import (
    audit_changes,
    audit_count,
    board_text,
    needs_postgres,
    office_staff,
    person_id,
    task_id,
    with_contacts,
)
from tests.test_outbox import deliveries, texts
from tests.test_telegram_flows import buttons
from tests.upload_support import cancel_while_its_bytes_are_written, write_and_transaction_order

TASK_BUTTONS = ["✅ Đã hoàn thành", "⏳ Đang thực hiện", "🆘 Cần hỗ trợ", "📎 Gửi sản phẩm"]
# VI.1.1 is due 17:00 on 7/5/2024 (-21d@17:00 before the meeting on 28/5).
VI_1_1_DUE = local(2024, 5, 7, 17, 0)
T = TypeVar("T")


async def test_tasks_come_from_the_plan_with_their_contacts(harness: BotHarness) -> None:
    await with_contacts(harness)
    board = {line.key: line for line in await harness.services.tasks.office_board()}
    assert sorted(board) == ["VI.1.1", "VI.1.2", "VI.1.3", "VI.1.4", "VI.2"]
    assert [a.code for a in board["VI.1.2"].assignments] == ["NV01", "NV02"]
    assert len(board["VI.2"].assignments) == 30  # a district task reaches every district chair
    assert board["VI.1.1"].deadline_at == VI_1_1_DUE


async def test_unknown_contacts_are_reported_before_the_people_are_imported(
    harness: BotHarness,
) -> None:
    """The invitees' list is in, the contacts' file not: the import made the plan's five tasks
    (it matches them to the list in its own transaction), and a sync names the contacts."""
    report = await harness.services.tasks.sync()
    assert report.unknown_contacts == ["NV01", "NV02", "NV03", "NV04", "NV06"]
    assert (report.created, report.updated) == (0, 0)
    async with harness.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Task)) == 5


async def test_reminders_go_at_their_offsets_with_four_buttons(harness: BotHarness) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    assert "VI.1.1" in owner.last_text() and buttons(owner.last_message) == TASK_BUTTONS
    harness.clock.set(local(2024, 4, 30, 7, 59))  # -7d@08:00 before 7/5
    await harness.tick()
    count = len(owner.messages)
    harness.clock.set(local(2024, 4, 30, 8, 0))
    await harness.tick()
    assert len(owner.messages) == count + 1
    assert owner.last_text().startswith("Kính gửi đồng chí ")
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.1.1" in owner.last_text()
    assert "Hạn hoàn thành: 17:00, Thứ Ba, ngày 7/5/2024." in owner.last_text()
    assert "Chủ trì, phối hợp các ban xây dựng dự thảo báo cáo sơ kết" in owner.last_text()
    assert buttons(owner.last_message) == TASK_BUTTONS


async def test_a_task_reported_done_gets_no_more_reminders(harness: BotHarness) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("✅ Đã hoàn thành"))
    assert owner.last_text().startswith("Đã ghi nhận nhiệm vụ VI.1.1: đã hoàn thành.")
    count = len(owner.messages)
    for day in (30, 4, 6, 7):
        harness.clock.set(local(2024, 4 if day == 30 else 5, day, 8, 0))
        await harness.tick()
    assert len(owner.messages) == count
    assert await audit_count(harness, "task.status") == 1


async def test_in_progress_asks_for_a_note_and_the_board_shows_it(harness: BotHarness) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV04")
    await harness.send(owner.tap("⏳ Đang thực hiện"))
    assert owner.last_text().startswith("Đã ghi nhận nhiệm vụ VI.1.3: đang thực hiện. Đề nghị")
    await harness.send(owner.text("Đã quay xong, đang dựng phim"))
    assert owner.last_text().startswith("Đã ghi nhận nhiệm vụ VI.1.3: đang thực hiện.")
    assert "đang thực hiện — Đã quay xong, đang dựng phim" in await board_text(harness)


async def test_need_help_goes_to_the_office_chat_naming_task_and_person(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV06")
    await harness.send(owner.tap("🆘 Cần hỗ trợ"))
    await harness.send(owner.text("Cần thêm 2 bài tham luận của quận nội thành"))
    assert owner.last_text().startswith("Đã chuyển nội dung cần hỗ trợ về nhiệm vụ VI.1.4")
    await harness.tick()
    help_notes = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("🆘")]
    assert len(help_notes) == 2
    assert "cần hỗ trợ về nhiệm vụ VI.1.4" in help_notes[0]
    assert help_notes[1].endswith("Cần thêm 2 bài tham luận của quận nội thành")


async def test_a_file_or_a_link_is_kept_as_the_deliverable_and_the_office_can_open_it(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    await harness.send(
        owner.document("Du-thao-bao-cao-so-ket.docx", docx("Dự thảo báo cáo sơ kết"), DOCX)
    )
    assert owner.last_text().startswith("Đã nhận sản phẩm của nhiệm vụ VI.1.1")
    await harness.send(owner.tap("📎 Gửi sản phẩm", message=owner.messages[1]))
    await harness.send(owner.text("Bản trên Drive: https://drive.example/baocao"))
    await harness.tick()
    notes = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📎")]
    assert "gửi sản phẩm nhiệm vụ VI.1.1: Du-thao-bao-cao-so-ket.docx" in notes[0]
    board = await board_text(harness)
    admin = harness.admin()
    assert (
        "📎 Tệp Du-thao-bao-cao-so-ket.docx" in board
        and "📎 Bản trên Drive: https://drive.example/baocao" in board
    )
    await harness.send(admin.tap("Mở tệp: Du-thao-bao-cao-so-ket.docx"))
    sent = harness.fake.calls_to("sendDocument")[-1]
    assert sent.params["chat_id"] == admin.id and isinstance(sent.params["document"], str)


async def test_a_contacts_file_sent_without_choosing_a_task_shows_her_tasks_and_the_way(
    harness: BotHarness,
) -> None:
    # She was told «Đồng chí chưa được phân công tham luận nên tệp này không được tiếp nhận.»
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    before = len(owner.messages)
    await harness.send(
        owner.document("Du-thao-bao-cao-so-ket.docx", docx("Dự thảo báo cáo sơ kết"), DOCX)
    )
    said = [message["text"] for message in owner.messages[before:]]
    assert said[0] == (
        "Bot chưa nhận tệp này vì chưa rõ là sản phẩm của nhiệm vụ nào. Đề nghị đồng chí chọn"
        " «📎 Gửi sản phẩm» dưới nhiệm vụ tương ứng (dưới đây), rồi gửi lại tệp."
    )
    assert said[1].startswith("VI.1.1 — ") and "tham luận" not in "".join(said)
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    await harness.send(
        owner.document("Du-thao-bao-cao-so-ket.docx", docx("Dự thảo báo cáo sơ kết"), DOCX)
    )
    assert owner.last_text().startswith("Đã nhận sản phẩm của nhiệm vụ VI.1.1")
    # A contact who is office staff too is shown her own tasks, not the office's board.
    access = harness.services.access
    await access.grant(access.local_operator(), "NV03", Role.OFFICE)
    before = len(owner.messages)
    await harness.send(owner.document("Ban-2.docx", docx("Bản 2"), DOCX))
    said = [message["text"] for message in owner.messages[before:]]
    assert said[0].startswith("Bot chưa nhận tệp này") and said[1].startswith("VI.1.1 — ")
    assert len(said) == 2


async def test_a_deliverable_named_like_html_reaches_the_office_exactly_as_it_was_named(
    harness: BotHarness,
) -> None:
    # A "<" alone made Telegram refuse the caption (the office could never open the file), and
    # a well-formed link in the name became a live link in the office's chat.
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    name = 'Báo cáo <1> & <a href="https://evil.example/">bấm</a>.docx'
    await harness.send(owner.document(name, docx("báo cáo"), DOCX))
    assert owner.last_text().startswith("Đã nhận sản phẩm của nhiệm vụ VI.1.1")
    await board_text(harness)
    admin = harness.admin()
    await harness.send(admin.tap(f"Mở tệp: {name[:40]}"))
    [sent] = harness.fake.calls_to("sendDocument")
    assert sent.error is None
    assert admin.messages[-1]["caption"] == f"📎 Tệp {name}"


@pytest.mark.parametrize(
    ("name", "content", "expected", "fetched"),
    [
        (
            "Bao-cao.docx",
            zip_bytes([("evil.exe", b"MZ\x90\x00 a program")]),
            "Bên trong tệp có chương trình",
            1,
        ),
        ("Bao-cao.docx", office_file("docx", main_type=MACRO_MAIN_TYPE), "Tệp có chứa macro", 1),
        ("Bieu-tong-hop.xlsx", office_file("docx"), "Tệp không có cấu trúc của định dạng", 1),
        ("setup.exe", b"MZ\x90\x00 a program", "Sản phẩm được nhận ở dạng văn bản", 0),
    ],
    ids=["program-inside", "docm-renamed", "document-renamed-xlsx", "a-program"],
)
async def test_a_refused_deliverable_is_answered_kept_nowhere_and_the_office_never_hears_of_it(
    harness: BotHarness, name: str, content: bytes, expected: str, fetched: int
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    await harness.send(owner.document(name, content, DOCX))
    assert owner.last_text().startswith(expected)
    assert len(harness.fake.calls_to("getFile")) == fetched
    await harness.tick()
    assert [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📎")] == []
    [task] = [line for line in await harness.services.tasks.office_board() if line.key == "VI.1.1"]
    assert task.evidence == []
    # Nothing is lost: the task still waits for its deliverable, and a sound file is taken.
    await harness.send(owner.document("Bao-cao.docx", docx("Báo cáo sơ kết"), DOCX))
    assert owner.last_text().startswith("Đã nhận sản phẩm của nhiệm vụ VI.1.1")


async def test_a_file_sent_in_chat_past_the_most_for_a_task_is_refused_and_nothing_waits(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    card = owner.messages[1]
    for number in range(1, MAX_TASK_FILES + 2):
        await harness.send(owner.tap("📎 Gửi sản phẩm", message=card))
        await harness.send(
            owner.document(f"bang-ke-{number}.docx", docx(f"Bảng kê {number}"), DOCX)
        )
    assert owner.last_text().startswith(
        f"Đồng chí đã gửi {MAX_TASK_FILES} tệp cho nhiệm vụ VI.1.1, là số tệp tối đa được nhận"
    )
    [task] = [line for line in await harness.services.tasks.office_board() if line.key == "VI.1.1"]
    assert len(task.evidence) == MAX_TASK_FILES
    # Nothing waits for a file any more: a text is not taken as one.
    await harness.send(owner.text("Bản trên Drive: https://drive.example/baocao"))
    [task] = [line for line in await harness.services.tasks.office_board() if line.key == "VI.1.1"]
    assert len(task.evidence) == MAX_TASK_FILES


async def test_a_file_over_20_mb_is_refused_with_a_way_out(harness: BotHarness) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV04")
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    update = owner.document("clip.mp4", b"x", "video/mp4")
    update["message"]["document"]["file_size"] = 21 * 1024 * 1024
    await harness.send(update)
    assert owner.last_text().startswith("Tệp lớn hơn 20 MB, quá giới hạn nhận tệp.")


async def test_overdue_tasks_are_escalated_every_morning_until_done(harness: BotHarness) -> None:
    harness.clock.set(local(2024, 5, 1, 9, 0))
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    harness.clock.set(local(2024, 5, 8, 8, 0))
    await harness.tick()
    report = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")][-1]
    assert report.startswith("⏰ Nhiệm vụ quá hạn chưa hoàn thành: 1")
    assert "VI.1.1 — Xây dựng dự thảo báo cáo sơ kết" in report
    harness.clock.set(local(2024, 5, 9, 8, 0))
    await harness.tick()
    overdue = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]
    assert len(overdue) == 2 and overdue[-1].startswith("⏰ Nhiệm vụ quá hạn chưa hoàn thành: 1")
    await harness.send(owner.tap("✅ Đã hoàn thành", message=owner.messages[1]))
    harness.clock.set(local(2024, 5, 10, 8, 0))
    await harness.tick()
    assert (
        len([t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]) == 2
    )  # nothing overdue
    assert (await deliveries(harness, MessageKind.TASK_OVERDUE))["skipped"] == 1


async def messages_of(harness: BotHarness, kind: MessageKind) -> list[OutboundMessage]:
    """The messages of ``kind`` that have been sent or skipped, oldest first."""
    async with harness.services.ctx.sessions() as session:
        return list(
            await session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.kind == kind, OutboundMessage.finished_at.is_not(None))
                .order_by(OutboundMessage.due_at)
            )
        )


async def test_a_task_reminder_with_nobody_left_to_remind_is_skipped_not_sent(
    harness: BotHarness,
) -> None:
    from tests.test_office_files import report_bytes

    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("✅ Đã hoàn thành"))  # VI.1.1 is done before its first reminder
    harness.clock.set(local(2024, 4, 30, 8, 0))
    before = len(harness.fake.calls)
    await harness.tick()

    [reminder] = await messages_of(harness, MessageKind.TASK_REMINDER)
    assert reminder.audience == "task:VI.1.1"
    assert reminder.status == MessageStatus.SKIPPED
    assert (reminder.params or {})["skip_reason"] == "no_recipients"
    async with harness.services.ctx.sessions() as session:
        copies = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.message_id == reminder.id)
        )
    assert copies == 0
    assert harness.fake.calls[before:] == []  # nobody, not even the office, was written to
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    # Reminders are not numbered («Số» is a notice's): the row is the one due when it was.
    due = harness.services.config.meeting.local(reminder.due_at).replace(tzinfo=None)
    [row] = [r for r in book["Gửi tin"].iter_rows(values_only=True) if r[3] == due]
    assert row[4] == "không gửi (không có người nhận)" and row[6] == 0


async def reminder_copies(harness: BotHarness, audience: str) -> list[tuple[str, str | None]]:
    """(status, last error) of every copy of the task reminders to ``audience``."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(Delivery.status, Delivery.last_error)
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(
                OutboundMessage.kind == MessageKind.TASK_REMINDER,
                OutboundMessage.audience == audience,
            )
            .order_by(Delivery.id)
        )
        return [(status, error) for status, error in rows]


@pytest.mark.parametrize("how", ["tapped", "recorded", "closed"])
async def test_a_reminder_queued_before_the_task_was_done_is_skipped_not_sent(
    harness: BotHarness, how: str
) -> None:
    """The reminder was queued (a long notice ahead of it, a pause, a retry) and the task was
    reported done, recorded by the office or closed before its turn: it is not sent, and its
    copy is recorded as skipped, not failed; the office is not written to."""
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")  # VI.1.1, first reminder 30/4 08:00
    harness.clock.set(local(2024, 4, 30, 8, 0))
    await harness.outbox.queue_due()
    assert await reminder_copies(harness, "task:VI.1.1") == [("pending", None)]
    if how == "tapped":
        await harness.send(owner.tap("✅ Đã hoàn thành"))
    elif how == "recorded":
        office = await office_staff(harness)
        await harness.services.tasks.record_for(office, await task_id(harness, "VI.1.1"), "NV03")
    else:
        office = await office_staff(harness)
        await harness.services.tasks.close(office, await task_id(harness, "VI.1.1"))
    count, before = len(owner.messages), len(harness.fake.calls)
    await harness.tick()
    assert len(owner.messages) == count
    assert harness.fake.calls[before:] == []  # nobody, not even the office, was written to
    assert await reminder_copies(harness, "task:VI.1.1") == [("skipped", "nothing to send")]
    [reminder] = await messages_of(harness, MessageKind.TASK_REMINDER)
    assert reminder.status == MessageStatus.SKIPPED
    assert (reminder.params or {})["skip_reason"] == "nothing_to_send"


async def test_a_reminder_queued_before_her_invitation_was_withdrawn_skips_the_task_that_left(
    harness: BotHarness,
) -> None:
    """VI.2 is hers only through her group (district chairs): withdrawing her invitation takes
    it from her, and the reminder already queued for her goes to the others only; the office's
    report names her under why she was skipped."""
    await with_contacts(harness)
    chair = await harness.open_invitation("DB031")
    other = await harness.open_invitation("DB032")
    harness.clock.set(local(2024, 5, 10, 8, 0))  # VI.2's first reminder (-7d@08:00 of 17/5)
    await harness.outbox.queue_due()
    office = harness.services.access.local_operator()
    await harness.services.withdrawals.withdraw(office, "DB031")
    count = len(chair.messages)
    await harness.tick()
    assert len(chair.messages) == count
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.2" in other.last_text()
    assert Counter(await reminder_copies(harness, "task:VI.2")) == {
        ("skipped", "nothing to send"): 1, ("sent", None): 1, ("not_linked", None): 28,
    }  # fmt: skip
    # The office, written to about those not linked, reads why she was skipped, by name (in
    # VI.2's report: the other tasks' reports of the tick come in no fixed order).
    [report] = [t for t in texts(harness, OFFICE_CHAT) if "Chưa liên kết: 28 · Bỏ qua: 1" in t]
    assert "Đã gửi: 1 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 28 · Bỏ qua: 1" in report
    assert report.endswith(
        "\n\nKhông gửi vì trước khi đến lượt gửi, nhiệm vụ đã được báo cáo hoàn thành, đã đóng "
        "hoặc không còn giao cho người này (1):\n• DB031 — Nguyễn Thị Lan Phương"
    )


async def test_a_late_start_sends_each_task_one_reminder_the_newest_due(
    harness: BotHarness,
) -> None:
    """The bot starts on 16/5 at 07:00, after VI.2's reminders of 10/5 and 14/5 (deadline 17/5
    17:00): a chair gets one reminder, not one per missed time; the office one report of it,
    saying how late in days and hours; the older reminder is recorded as overtaken."""
    from tests.test_office_files import report_bytes

    harness.clock.set(local(2024, 5, 16, 6, 0))
    await with_contacts(harness)
    chair = await harness.open_invitation("DB032")
    harness.clock.set(local(2024, 5, 16, 7, 0))
    count = len(chair.messages)
    await harness.tick()
    await harness.tick()
    reminders = [m["text"] for m in chair.messages[count:]]
    assert len(reminders) == 1
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.2" in reminders[0]
    reports = [t for t in texts(harness, OFFICE_CHAT) if "Chưa kết nối kênh nhắn tin (29)" in t]
    assert len(reports) == 1
    assert reports[0].startswith("📨 Báo cáo gửi nhắc nhiệm vụ VI.2\n")
    assert "⚠️ Gửi muộn 1 ngày 23 giờ so với dự kiến do bot không hoạt động đúng giờ." in reports[0]

    vi_2 = [
        m
        for m in await messages_of(harness, MessageKind.TASK_REMINDER)
        if m.audience == "task:VI.2"
    ]
    assert [(m.due_at, m.status) for m in vi_2] == [
        (local(2024, 5, 10, 8, 0), MessageStatus.SKIPPED),
        (local(2024, 5, 14, 8, 0), MessageStatus.DONE),
    ]
    assert (vi_2[0].params or {})["skip_reason"] == "overtaken"
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    due = local(2024, 5, 10, 8, 0).replace(tzinfo=None)  # reminders are not numbered
    [row] = [r for r in book["Gửi tin"].iter_rows(values_only=True) if r[3] == due]
    assert row[4] == "không gửi (đã gửi lần nhắc sau thay thế)" and row[6] == 0

    # The reminder due next goes at its time, as planned.
    harness.clock.set(local(2024, 5, 16, 8, 0))
    count = len(chair.messages)
    await harness.tick()
    assert len(chair.messages) == count + 1


async def test_a_reminder_caught_up_in_the_night_waits_for_the_morning(
    harness: BotHarness,
) -> None:
    """The bot is down from 13/5 and back at 02:00 on 15/5, after VI.2's reminder of 14/5 08:00
    (deadline 17/5 17:00, still ahead; the next reminder 16/5 08:00): no chair's phone rings at
    02:00; the reminder goes when the day begins, at 07:00, with the office's report of it."""
    harness.clock.set(local(2024, 5, 13, 20, 0))
    await with_contacts(harness)
    chair = await harness.open_invitation("DB032")
    count = len(chair.messages)
    for hour, minute in ((2, 0), (6, 59)):
        harness.clock.set(local(2024, 5, 15, hour, minute))
        await harness.tick()
        await harness.tick()
        assert len(chair.messages) == count
        assert not [
            t for t in texts(harness, OFFICE_CHAT) if "Chưa kết nối kênh nhắn tin (29)" in t
        ]
    harness.clock.set(local(2024, 5, 15, 7, 0))
    await harness.tick()
    await harness.tick()
    [reminder] = [m["text"] for m in chair.messages[count:]]
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.2" in reminder
    [report] = [t for t in texts(harness, OFFICE_CHAT) if "Chưa kết nối kênh nhắn tin (29)" in t]
    assert report.startswith("📨 Báo cáo gửi nhắc nhiệm vụ")


async def test_a_reminder_held_for_the_night_gives_way_to_the_next_of_its_series_that_morning(
    harness: BotHarness,
) -> None:
    """The bot is down from 13/5 and back at 22:00 on 16/5, after VI.2's reminder of 16/5 08:00;
    the next, on the deadline's day, is due at 08:00 on 17/5. Held until 07:00 the late one would
    come an hour before it, with a report each: only the 08:00 one goes (review of s36)."""
    harness.clock.set(local(2024, 5, 13, 20, 0))
    await with_contacts(harness)
    chair = await harness.open_invitation("DB032")
    count = len(chair.messages)
    for day, hour in ((16, 22), (17, 7)):
        harness.clock.set(local(2024, 5, day, hour, 0))
        await harness.tick()
        await harness.tick()
        assert len(chair.messages) == count
    harness.clock.set(local(2024, 5, 17, 8, 0))
    await harness.tick()
    await harness.tick()
    [reminder] = [m["text"] for m in chair.messages[count:]]
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.2" in reminder
    reports = [t for t in texts(harness, OFFICE_CHAT) if "Chưa kết nối kênh nhắn tin (29)" in t]
    assert len(reports) == 1


async def test_a_reminder_the_plan_times_in_the_night_goes_at_its_time(
    harness: BotHarness,
) -> None:
    """Only a late reminder waits for the morning: one the office planned at 05:00 (VI.1.1's
    «-2d@05:00») goes at 05:00, late by a minute too, as the plan says."""
    config = harness.services.config
    tasks = [
        t.model_copy(update={"reminders": [TimeSpec.parse("-2d@05:00")]})
        if t.key == "VI.1.1"
        else t
        for t in config.tasks
    ]
    object.__setattr__(harness.services.ctx, "config", config.model_copy(update={"tasks": tasks}))
    harness.clock.set(local(2024, 5, 4, 20, 0))
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    count = len(owner.messages)
    harness.clock.set(local(2024, 5, 5, 5, 3))  # -2d@05:00 before 7/5, a tick 3 minutes late
    await harness.tick()
    await harness.tick()
    [reminder] = [m["text"] for m in owner.messages[count:]]
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.1.1" in reminder


async def test_a_contact_replaced_by_a_new_list_is_said_with_the_chat_account_still_hers(
    harness: BotHarness, tmp_path: Path
) -> None:
    """Ban Tuyên giáo sends someone else: the contacts' list gives NV04 a new name and phone.
    Phạm Thị Hồng Đào's Telegram stays linked to NV04 (the bot cannot know whose it is), so the
    import says so, and how to hand the code over: her phone got «Kính gửi đồng chí Lương Thị
    Minh Thu» and VI.1.3's reminders, and the office heard only «cập nhật 1»."""
    from bot.services.import_notes import replaced_notes
    from bot.texts import load_catalog

    await with_contacts(harness)
    await harness.open_invitation("NV04")
    text = EXAMPLE_CONTACTS.read_text(encoding="utf-8").replace(
        "NV04,Phạm Thị Hồng Đào,Phó Trưởng ban,Ban Tuyên giáo Hội LHPN thành phố,,0947 362 404",
        "NV04,Lương Thị Minh Thu,Chuyên viên,Ban Tuyên giáo Hội LHPN thành phố,,0912 000 111",
    )
    path = tmp_path / "dau-moi.csv"
    path.write_text(text, encoding="utf-8")
    groups = [FileGroup(g.key, g.label) for g in harness.services.config.groups]
    parsed = parse_delegate_file(path, groups)
    summary = await harness.services.delegates.import_rows(parsed.rows, actor="test")
    assert summary.replaced_linked == ["NV04"]
    assert replaced_notes(load_catalog("vi").plain, summary) == [
        "Danh sách thay người ở 1 mã (cả họ tên lẫn số điện thoại đều đổi): NV04: Phạm Thị Hồng "
        "Đào → Lương Thị Minh Thu. Đường liên kết và mã cá nhân đã trao cho người trước vẫn mở "
        "trang của mã đó; nếu đúng là người khác, đề nghị mở trang của người đó trên trang điều "
        "hành, bấm «Cấp lại đường liên kết…» rồi gửi đường liên kết mới cho người mới.",
        "Tài khoản trò chuyện người trước đã liên kết vẫn gắn với mã NV04: tin nhắn của bot "
        "(nhắc nhiệm vụ, thông báo…) gửi cho người mới sẽ tới người trước. Đề nghị gỡ tài khoản "
        "đó bằng «Gỡ liên kết…» trên trang của người đó.",
    ]


async def test_an_overdue_report_with_nothing_overdue_is_skipped_not_sent(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("✅ Đã hoàn thành"))
    harness.clock.set(local(2024, 5, 8, 8, 0))  # the first morning after VI.1.1's deadline
    await harness.tick()

    [report] = await messages_of(harness, MessageKind.TASK_OVERDUE)
    assert report.status == MessageStatus.SKIPPED
    assert (report.params or {})["skip_reason"] == "nothing_to_send"
    assert await deliveries(harness, MessageKind.TASK_OVERDUE) == {"skipped": 1}
    assert not any(t.startswith("⏰") for t in texts(harness, OFFICE_CHAT))


async def test_the_office_can_close_a_task_and_escalation_stops(harness: BotHarness) -> None:
    await with_contacts(harness)
    admin = harness.admin()
    await harness.send(admin.command("/nhiemvu"))
    assert "Kết thúc theo dõi VI.1.1" in buttons(admin.last_message)
    await harness.send(admin.tap("Kết thúc theo dõi VI.1.1"))
    assert admin.last_text().startswith("Văn phòng đã kết thúc theo dõi nhiệm vụ VI.1.1")
    harness.clock.set(local(2024, 5, 8, 8, 0))
    await harness.tick()
    assert not any(t.startswith("⏰") for t in texts(harness, OFFICE_CHAT))
    assert await audit_count(harness, "task.closed") == 1


async def test_office_board_puts_overdue_first_with_owner_deadline_and_state(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    harness.clock.set(local(2024, 5, 15, 9, 0))  # VI.1.1 and VI.1.2 are past due
    board = await board_text(harness)
    first, second = board.index("VI.1.1 —"), board.index("VI.1.2 —")
    assert board.index("VI.2 —") > second > first
    assert "Đơn vị chủ trì: Ban Tổ chức – Kiểm tra · Hạn: 17:00, Thứ Ba, ngày 7/5/2024" in board
    assert "Tình trạng: ⚠️ quá hạn (0/1 đã hoàn thành) · Cập nhật: chưa có" in board


async def test_a_contact_sees_only_their_own_tasks(harness: BotHarness) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV01")
    await harness.send(owner.command("/nhiemvu"))
    assert "VI.1.2 —" in owner.last_text() and "VI.1.1" not in owner.last_text()
    delegate = await harness.open_invitation("DB006")  # not a district chair: no task
    await harness.send(delegate.command("/nhiemvu"))
    assert delegate.last_text().startswith("Đồng chí chưa được giao nhiệm vụ chuẩn bị nào.")


@pytest.mark.parametrize(
    "forged", ["task:done:{other}", "task:close:{mine}", "task:getfile:1", "task:done:999"]
)
async def test_nobody_changes_a_task_that_is_not_theirs(harness: BotHarness, forged: str) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV04")  # VI.1.3 only
    data = forged.format(
        other=await task_id(harness, "VI.1.1"), mine=await task_id(harness, "VI.1.3")
    )
    await harness.send(owner.tap_data(data))
    answered = harness.fake.calls_to("answerCallbackQuery")[-1].params.get("text")
    replies = {
        "task:done:{other}": "Nhiệm vụ này không được giao cho đồng chí nên không thể cập nhật.",
        "task:done:999": "Nhiệm vụ này không còn trong kế hoạch.",
    }
    if forged in replies:
        assert owner.last_text().startswith(replies[forged])
    else:
        assert (
            answered
            == "Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng phụ trách hội nghị."
        )
    assert await audit_count(harness, "task.status") == 0
    assert await audit_count(harness, "task.closed") == 0


async def test_district_chairs_report_the_district_task_and_the_board_counts_them(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    chairs = ["DB037", "DB038", "DB039"]
    for code in chairs:
        chair = await harness.open_invitation(code)
        await harness.send(chair.command("/nhiemvu"))
        await harness.send(chair.tap("✅ Đã hoàn thành"))
    line = next(t for t in await harness.services.tasks.office_board() if t.key == "VI.2")
    assert sum(a.status == "done" for a in line.assignments) == 3
    assert "(3/30 đã hoàn thành)" in await board_text(harness)


async def test_a_district_chair_sees_her_own_report_on_the_shared_task_not_the_other_chairs(
    harness: BotHarness,
) -> None:
    # Thirty chairs share VI.2: each one's notes and links are hers and the office's to read.
    await with_contacts(harness)
    first = await harness.open_invitation("DB031")
    await harness.send(first.command("/nhiemvu"))
    await harness.send(first.tap("🆘 Cần hỗ trợ"))
    await harness.send(first.text("Quận chưa bố trí được kinh phí"))
    await harness.send(first.command("/nhiemvu"))
    await harness.send(first.tap("📎 Gửi sản phẩm"))
    await harness.send(first.text("https://drive.google.com/drive/folders/noi-bo-ba-dinh"))
    second = await harness.open_invitation("DB032")
    await harness.send(second.command("/nhiemvu"))
    seen = second.last_text()
    # The task's count, not its people, said to be everyone's over her own line.
    assert "VI.2" in seen
    assert "(0/30 người được giao đã hoàn thành; dưới đây là phần của đồng chí)" in seen
    assert "kinh phí" not in seen and "noi-bo-ba-dinh" not in seen
    assert [line for line in seen.splitlines() if line.startswith("•")] == [
        "• Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm): chưa báo cáo"
    ]
    await harness.send(second.tap("⏳ Đang thực hiện"))
    await harness.send(second.text("Đang tổng hợp số liệu"))
    assert "kinh phí" not in second.last_text() and "Đang tổng hợp số liệu" in second.last_text()
    await harness.send(first.command("/nhiemvu"))
    assert "kinh phí" in first.last_text() and "noi-bo-ba-dinh" in first.last_text()
    assert "Đang tổng hợp số liệu" not in first.last_text()
    # The office's board still shows everyone's.
    office = await board_text(harness)
    assert "kinh phí" in office and "Đang tổng hợp số liệu" in office


async def test_resync_after_a_config_edit_keeps_progress_and_archives_removed_tasks(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("✅ Đã hoàn thành"))
    config = harness.services.config
    tasks = [
        t.model_copy(update={"title": t.title + " (sửa)"}) if t.key == "VI.1.1" else t
        for t in config.tasks
        if t.key != "VI.1.3"
    ]
    object.__setattr__(harness.services.ctx, "config", config.model_copy(update={"tasks": tasks}))
    report = await harness.services.tasks.sync()
    assert (report.updated, report.archived) == (1, 1)
    board = {line.key: line for line in await harness.services.tasks.office_board()}
    assert "VI.1.3" not in board
    assert board["VI.1.1"].title.endswith("(sửa)") and board["VI.1.1"].done
    async with harness.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TaskAssignment)) == 35


async def test_a_second_need_help_tap_does_not_page_the_office_twice(harness: BotHarness) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV06")
    card = owner.last_message
    await harness.send(owner.tap("🆘 Cần hỗ trợ", message=card))
    await harness.send(owner.tap("Hủy"))
    assert owner.last_text() == "Đã hủy thao tác với nhiệm vụ VI.1.4."
    await harness.send(owner.tap("🆘 Cần hỗ trợ", message=card))
    await harness.tick()
    assert len([t for t in texts(harness, OFFICE_CHAT) if t.startswith("🆘")]) == 1


async def test_a_contacts_own_card_of_a_shared_task_says_the_count_is_everyones(
    harness: BotHarness,
) -> None:
    """NV01 shares VI.1.2 with NV02 and sees her own line only: «(0/2 đã hoàn thành)» over one
    listed person read as a miscount; it says whose the count is."""
    harness.clock.set(local(2024, 4, 29, 9, 0))
    await with_contacts(harness)
    nv01 = await harness.open_invitation("NV01")
    await harness.send(nv01.command("/nhiemvu"))
    [card] = [t for t in texts(harness, nv01.id) if t.startswith("VI.1.2 — ")][-1:]
    assert (
        "Tình trạng: chưa hoàn thành (0/2 người được giao đã hoàn thành; dưới đây là phần của"
        " đồng chí) · Cập nhật: chưa có"
    ) in card
    assert [line for line in card.splitlines() if line.startswith("•")] == [
        "• Nguyễn Thị Phương Trinh (Văn phòng Hội LHPN thành phố): chưa báo cáo"
    ]


async def test_task_reminders_report_only_problems_to_the_office(harness: BotHarness) -> None:
    harness.clock.set(local(2024, 4, 29, 9, 0))
    await with_contacts(harness)
    await harness.open_invitation("NV03")  # VI.1.1's contact is linked; VI.1.2's two are not
    harness.clock.set(local(2024, 4, 30, 8, 0))
    await harness.tick()
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨")]
    assert len(reports) == 0  # VI.1.1's first reminder reached everyone: nothing to report
    harness.clock.set(local(2024, 5, 7, 8, 0))  # VI.1.2's -7d@08:00
    await harness.tick()
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨")]
    assert len(reports) == 1 and "Chưa kết nối kênh nhắn tin (2)" in reports[0]


async def test_a_reports_list_to_phone_gives_each_persons_phone_number(
    harness: BotHarness,
) -> None:
    """«… đề nghị gọi điện» with the numbers to dial, as the overview lists them: on a phone the
    clerk is not sent to the dashboard for them."""
    harness.clock.set(local(2024, 4, 29, 9, 0))
    await with_contacts(harness)
    async with harness.services.ctx.sessions() as session:
        nv02 = await session.scalar(select(Delegate).where(Delegate.code == "NV02"))
        assert nv02 is not None
        nv02.phone = None
        await session.commit()
    harness.clock.set(local(2024, 5, 7, 8, 0))  # VI.1.2's -7d@08:00
    await harness.tick()
    # VI.1.1's deadline-day reminder goes at that hour too: each report names its task.
    reports = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("📨")]
    assert sorted(r.partition("\n")[0] for r in reports) == [
        "📨 Báo cáo gửi nhắc nhiệm vụ VI.1.1",
        "📨 Báo cáo gửi nhắc nhiệm vụ VI.1.2",
    ]
    (report,) = [r for r in reports if r.startswith("📨 Báo cáo gửi nhắc nhiệm vụ VI.1.2\n")]
    assert report.endswith(
        "\nChưa kết nối kênh nhắn tin (2), đề nghị gọi điện:"
        "\n• NV01 — Nguyễn Thị Phương Trinh: 0967 218 401"
        "\n• NV02 — Trần Thị Mỹ Duyên: chưa có số điện thoại"
    )


async def test_the_overviews_overdue_tasks_chosen_in_sql_are_the_boards_overdue(
    harness: BotHarness,
) -> None:
    # The overview lists overdue tasks from SQL alone (no one's assignment read): the same
    # tasks, in the same order, as the board's overdue lines, as tasks are done and closed.
    await with_contacts(harness)
    tasks = harness.services.tasks

    async def both() -> tuple[list[str], list[str]]:
        heads = [head.key for head in await tasks.overdue_heads()]
        return heads, [line.key for line in await tasks.office_board() if line.overdue]

    harness.clock.set(local(2024, 5, 1, 9, 0))
    assert await both() == ([], [])
    harness.clock.set(local(2024, 5, 20, 9, 0))
    heads, board = await both()
    assert heads == board and len(heads) >= 3
    owner = await harness.open_invitation("NV03")
    await harness.send(owner.tap("✅ Đã hoàn thành", message=owner.messages[1]))
    await tasks.close(harness.services.access.local_operator(), await task_id(harness, "VI.1.2"))
    heads, board = await both()
    assert heads == board and "VI.1.1" not in heads and "VI.1.2" not in heads


async def test_the_tasks_a_person_holds_only_through_her_group_are_those_not_naming_her(
    imported: Services,
) -> None:
    # VI.2 is the district chairs' group's; here it also names one of them, DB032, by her code.
    config = imported.config
    tasks = [
        t.model_copy(update={"contacts": [*t.contacts, "db032"]}) if t.key == "VI.2" else t
        for t in config.tasks
    ]
    object.__setattr__(imported.ctx, "config", config.model_copy(update={"tasks": tasks}))
    people = {}
    for code in ("DB031", "DB032", "DB005"):
        card = await imported.dashboard.card(code)
        assert card is not None
        people[code] = card.person
    assert imported.tasks.group_only_tasks(people["DB031"]) == ["VI.2"]  # a district chair
    assert imported.tasks.group_only_tasks(people["DB032"]) == []  # named: hers by name
    assert imported.tasks.group_only_tasks(people["DB005"]) == []  # not of that group
    # Withdrawn, the chair named by her code keeps the task; the other leaves it.
    await imported.tasks.sync()
    office = imported.access.local_operator()
    named = await imported.withdrawals.withdraw(office, "DB032")
    only_group = await imported.withdrawals.withdraw(office, "DB031")
    assert [t.key for t in named.work.tasks] == ["VI.2"]
    assert only_group.work.tasks == []


async def test_a_sync_that_read_her_assignment_before_her_report_committed_keeps_the_report(
    imported: Services,
) -> None:
    # On PostgreSQL a withdrawal's sync reads her group task unreported, then waits for the row
    # while the office records her report: its delete must not take the report with it.
    async with unit_of_work(imported.ctx.sessions) as session:
        read = await session.scalar(
            select(TaskAssignment)
            .join(Delegate, Delegate.id == TaskAssignment.person_id)
            .where(Delegate.code == "DB031")
        )
        assert read is not None and read.updated_at is None
    async with unit_of_work(imported.ctx.sessions) as session:
        reported = await session.get(TaskAssignment, read.id)
        assert reported is not None
        reported.status, reported.updated_at = TaskStatus.DONE, imported.ctx.clock.now()
    async with unit_of_work(imported.ctx.sessions) as session:
        session.add(read)  # the sync's row, as it read it
        await drop_unreported(session, read)
    async with unit_of_work(imported.ctx.sessions) as session:
        kept = await session.get(TaskAssignment, read.id)
        assert kept is not None and kept.status == TaskStatus.DONE


# --- the office records a report given by phone, on paper or by email --------------------------


async def test_the_office_records_for_the_code_as_typed_of_two_that_fold_alike(
    harness: BotHarness,
) -> None:
    """The lists cannot hold two codes that fold alike; a database that does (written here
    as objects) answers a record for "nv03" with the person coded so, as every other lookup of
    a typed code does, not with NV03, the first by id."""
    await with_contacts(harness)
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.1")
    now = harness.clock.now()
    async with unit_of_work(harness.services.ctx.sessions) as session:
        nga = await session.scalar(select(Delegate).where(Delegate.code == "NV03"))
        assert nga is not None
        [twin] = await people_written_as_objects(
            session, nga.meeting_id, nga.group_key, ["nv03"], now
        )
        session.add(TaskAssignment(task_id=task, person_id=twin.id, status=TaskStatus.TODO))
    result = await harness.services.tasks.record_for(office, task, "nv03")
    assert (result.step, result.name) == (TaskStep.RECORDED_FOR, "Người nv03")


async def test_the_office_records_for_the_one_of_two_codes_folding_alike_a_lookup_finds(
    harness: BotHarness,
) -> None:
    """Of two of the task's people whose codes fold alike, neither as typed (a Kelvin-sign
    code written first, an ASCII one after), «Ghi nhận thay» for "KX1" records for the one
    every other lookup of "KX1" finds (the ASCII one), not the first by id."""
    await with_contacts(harness)
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.1")
    now = harness.clock.now()
    async with unit_of_work(harness.services.ctx.sessions) as session:
        nga = await session.scalar(select(Delegate).where(Delegate.code == "NV03"))
        assert nga is not None
        twins = ["\u212ax1", "kx1"]
        for twin in await people_written_as_objects(
            session, nga.meeting_id, nga.group_key, twins, now
        ):
            session.add(TaskAssignment(task_id=task, person_id=twin.id, status=TaskStatus.TODO))
    result = await harness.services.tasks.record_for(office, task, "KX1")
    assert (result.step, result.name) == (TaskStep.RECORDED_FOR, "Người kx1")


async def test_a_report_the_office_records_for_her_counts_as_her_own_and_stops_her_reminders(
    harness: BotHarness,
) -> None:
    from tests.test_office_files import report_bytes

    await with_contacts(harness)
    tasks = harness.services.tasks
    owner = await harness.open_invitation("NV03")  # VI.1.1, first reminder 30/4 08:00
    office = await office_staff(harness)
    harness.clock.set(local(2024, 4, 29, 10, 0))
    task = await task_id(harness, "VI.1.1")
    before = len(owner.messages)
    result = await tasks.record_for(office, task, "NV03", note="  qua   điện thoại ")
    assert result.step is TaskStep.RECORDED_FOR and result.name == "Lê Thị Thanh Nga"
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.1"]
    [nga] = line.assignments
    assert (nga.status, nga.note, nga.recorded_by) == (
        TaskStatus.DONE, "qua điện thoại", "Phạm Thị Thanh Mai",
    )  # fmt: skip
    assert nga.updated_at == local(2024, 4, 29, 10, 0) and line.done
    # Her reminders stop as if she had tapped «Đã hoàn thành», and she is not written to.
    for day in (30, 4, 6, 7):
        harness.clock.set(local(2024, 4 if day == 30 else 5, day, 8, 0))
        await harness.tick()
    assert len(owner.messages) == before
    [reminder, *_] = await messages_of(harness, MessageKind.TASK_REMINDER)
    assert reminder.audience == "task:VI.1.1" and reminder.status == MessageStatus.SKIPPED
    # Past the deadline: not overdue, not in the morning's overdue report.
    harness.clock.set(local(2024, 5, 8, 9, 0))
    assert "VI.1.1" not in [head.key for head in await tasks.overdue_heads()]
    # The report file's task sheet: done, with who recorded it and how it came.
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    [row] = [r for r in book["Nhiệm vụ chuẩn bị"].iter_rows(values_only=True) if r[0] == "VI.1.1"]
    assert row[4:10] == (
        "đã hoàn thành", "Lê Thị Thanh Nga", "Ban Tổ chức – Kiểm tra Hội LHPN thành phố",
        None, "đã hoàn thành",  # a chat reaches her: no contact note
        "Văn phòng ghi nhận (qua điện thoại), bởi Phạm Thị Thanh Mai",
    )  # fmt: skip
    audits = await audit_changes(harness, "task.recorded")
    nga_id = await person_id(harness, "NV03")
    assert audits == [
        (
            "dashboard:DB001",
            {"person_id": nga_id, "status": "todo", "note": None},
            {"person_id": nga_id, "status": "done", "note": "qua điện thoại",
             "by": "Phạm Thị Thanh Mai", "name": "Lê Thị Thanh Nga"},
        )
    ]  # fmt: skip


async def test_recording_a_report_twice_or_for_one_already_done_changes_nothing(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.2")  # NV01 and NV02
    first = await tasks.record_for(office, task, "NV01", note="qua điện thoại")
    second = await tasks.record_for(office, task, "NV01", note="bằng văn bản")
    # The office's own record: said to be the office's, with whom (not «she reported it»).
    assert (first.step, second.step) == (TaskStep.RECORDED_FOR, TaskStep.ALREADY_RECORDED)
    assert second.name == "Nguyễn Thị Phương Trinh" and second.person is not None
    assert second.person.recorded_by == "Phạm Thị Thanh Mai"
    # Reported done by herself in the chat: the office's record changes nothing either.
    duyen = await harness.open_invitation("NV02")
    await harness.send(duyen.command("/nhiemvu"))
    await harness.send(duyen.tap("✅ Đã hoàn thành"))
    third = await tasks.record_for(office, task, "NV02", note="qua điện thoại")
    assert third.step is TaskStep.ALREADY_DONE
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.2"]
    assert [(a.code, a.note, a.recorded_by) for a in line.assignments] == [
        ("NV01", "qua điện thoại", "Phạm Thị Thanh Mai"), ("NV02", None, None),
    ]  # fmt: skip
    assert await audit_count(harness, "task.recorded") == 1
    # Someone not on the task, and a closed task: nothing recorded.
    assert (await tasks.record_for(office, task, "NV03")).step is TaskStep.NOT_ASSIGNED
    other = await task_id(harness, "VI.1.3")
    await tasks.close(office, other)
    assert (await tasks.record_for(office, other, "NV04")).step is TaskStep.CLOSED
    assert await audit_count(harness, "task.recorded") == 1


async def test_a_record_that_finds_a_colleagues_record_first_leaves_no_file_on_disk(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two clerks record NV04's phoned report at once: B's form carries a file. B's first look
    # finds nothing recorded; while B's file is being checked, A's record (no file) commits.
    await with_contacts(harness)
    tasks = harness.services.tasks
    clerk_a, clerk_b = await office_staff(harness, "DB001"), await office_staff(harness, "DB002")
    task = await task_id(harness, "VI.1.3")
    store = tasks._files
    examine = store.examine
    loop = asyncio.get_running_loop()

    def a_records_meanwhile(*args: object) -> object:
        # Runs in the worker thread that checks B's file, so A's record lands in between.
        done = asyncio.run_coroutine_threadsafe(
            tasks.record_for(clerk_a, task, "NV04", note="qua điện thoại"), loop
        ).result()
        assert done.step is TaskStep.RECORDED_FOR
        return examine(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "examine", a_records_meanwhile)
    result = await tasks.record_for(
        clerk_b, task, "NV04", note="bằng văn bản", file=("Kịch bản.docx", docx("kịch bản"))
    )
    assert result.step is TaskStep.ALREADY_RECORDED and result.person is not None
    assert (result.person.recorded_by, result.person.note) == (
        "Phạm Thị Thanh Mai", "qua điện thoại",
    )  # fmt: skip
    # B's file was checked, not kept: nothing of it is on disk, nor on record.
    assert not store.root.exists() or [p for p in store.root.rglob("*") if p.is_file()] == []
    assert await audit_count(harness, "task.evidence") == 0


def her_file(session: AsyncSession, assignment: TaskAssignment, number: int) -> None:
    """A deliverable of hers sent in the chat (kept by the platform), in ``session``."""
    session.add(
        TaskEvidence(
            assignment_id=assignment.id, kind="file", name=f"bang-ke-{number}.docx",
            channel="telegram", file_ref=f"file-{number}", size=100,
            created_at=local(2024, 5, 18, 9, 0), created_by="telegram:4",
        )
    )  # fmt: skip


async def assignment_of(harness: BotHarness, task: int, code: str) -> TaskAssignment:
    person = await person_id(harness, code)
    async with harness.services.ctx.sessions() as session:
        found = await session.scalar(
            select(TaskAssignment).where(
                TaskAssignment.task_id == task, TaskAssignment.person_id == person
            )
        )
    assert found is not None
    return found


async def test_her_last_file_arriving_before_the_records_lock_refuses_the_record_not_the_file(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NV04 has sent 19 files; the office records her phoned report with one more. The record's
    # first look finds room, then her 20th file commits before the record's locked look (on
    # PostgreSQL): the record is refused as too many files, not made without the office's file.
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    assignment = await assignment_of(harness, task, "NV04")
    async with unit_of_work(harness.services.ctx.sessions) as session:
        for number in range(1, MAX_TASK_FILES):
            her_file(session, assignment, number)
    looks = 0
    assignment_of_code = tasks._assignment_of

    async def her_file_arrives_before_the_lock(
        session: AsyncSession, *args: Any, lock: bool
    ) -> object:
        nonlocal looks
        looks += 1
        if looks == 2:  # the recording transaction's look, just before it locks her row
            her_file(session, assignment, MAX_TASK_FILES)
            await session.flush()
        return await assignment_of_code(session, *args, lock=lock)

    monkeypatch.setattr(tasks, "_assignment_of", her_file_arrives_before_the_lock)
    result = await tasks.record_for(
        office, task, "NV04", note="qua điện thoại", file=("Phim.docx", docx("phim"))
    )
    assert looks == 2
    assert (result.step, result.name) == (TaskStep.TOO_MANY_FILES, "Phạm Thị Hồng Đào")
    # Nothing recorded, nothing written: her report and her 20 files are as she left them.
    assert await audit_count(harness, "task.recorded") == 0
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.recorded_by) == (TaskStatus.TODO, None, None)
    assert len(line.evidence) == MAX_TASK_FILES
    store = tasks._files.root
    assert not store.exists() or [p for p in store.rglob("*") if p.is_file()] == []


async def test_her_chat_board_says_the_office_recorded_her_report_and_how_it_came(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    office = await office_staff(harness)
    owner = await harness.open_invitation("NV04")
    harness.clock.set(local(2024, 5, 18, 9, 30))
    await harness.services.tasks.record_for(
        office, await task_id(harness, "VI.1.3"), "NV04", note="qua điện thoại"
    )
    before = len(owner.messages)
    await harness.send(owner.command("/nhiemvu"))
    chat = "\n".join(m["text"] for m in owner.messages[before:])
    assert (
        "• Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành — "
        "Văn phòng đã ghi nhận (qua điện thoại) lúc 09:30, Thứ Bảy, ngày 18/5/2024"
    ) in chat.split("\n")
    assert "đã hoàn thành — qua điện thoại" not in chat


async def test_her_files_after_the_offices_record_are_hers_and_the_record_stays_the_offices(
    harness: BotHarness,
) -> None:
    from tests.test_office_files import report_bytes

    # The office recorded NV04's phoned report; then she sends her deliverable, from the chat
    # and from her page. Her files are hers; «qua điện thoại» stays the office's words, said
    # to be the office's everywhere — never shown as a note she wrote.
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    owner = await harness.open_invitation("NV04")
    task = await task_id(harness, "VI.1.3")
    harness.clock.set(local(2024, 5, 18, 9, 30))
    await tasks.record_for(office, task, "NV04", note="qua điện thoại")
    harness.clock.set(local(2024, 5, 18, 10, 0))
    await harness.send(owner.command("/nhiemvu"))
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    await harness.send(owner.document("Kich-ban.docx", docx("kịch bản"), DOCX))
    assert owner.last_text().startswith("Đã nhận sản phẩm của nhiệm vụ VI.1.3")
    harness.clock.set(local(2024, 5, 18, 10, 5))
    opened = await harness.services.invitations.open_page(
        harness.tokens["NV04"], channel="web", client="c"
    )
    assert opened.delegate is not None
    page = page_account("web", opened.delegate.id)
    stored = await tasks.store_file(page, task, name="Phim.docx", content=docx("phim"))
    assert stored.step is TaskStep.FILE_SAVED
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.updated_at, dao.recorded_by) == (
        TaskStatus.DONE, "qua điện thoại", local(2024, 5, 18, 9, 30), "Phạm Thị Thanh Mai",
    )  # fmt: skip
    assert [(e.name, e.by) for e in line.evidence] == [
        ("Kich-ban.docx", "Phạm Thị Hồng Đào"), ("Phim.docx", "Phạm Thị Hồng Đào"),
    ]  # fmt: skip
    # Her chat board: the office's record as the office's, her files under it.
    before = len(owner.messages)
    await harness.send(owner.command("/nhiemvu"))
    chat = "\n".join(m["text"] for m in owner.messages[before:]).split("\n")
    assert (
        "• Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành — "
        "Văn phòng đã ghi nhận (qua điện thoại) lúc 09:30, Thứ Bảy, ngày 18/5/2024"
    ) in chat
    assert "📎 Tệp Kich-ban.docx — Phạm Thị Hồng Đào" in chat
    assert not any("đã hoàn thành — qua điện thoại" in shown for shown in chat)
    # The report file's task sheet says the same.
    book = load_workbook(io.BytesIO(await report_bytes(harness)))
    [row] = [r for r in book["Nhiệm vụ chuẩn bị"].iter_rows(values_only=True) if r[0] == "VI.1.3"]
    assert row[9] == "Văn phòng ghi nhận (qua điện thoại), bởi Phạm Thị Thanh Mai"
    # The record, still the last word on her report, can be undone: her files stay hers,
    # her report is what it was, last changed by her page's file.
    undone = await tasks.undo_record(office, task, "NV04")
    assert undone.step is TaskStep.RECORD_UNDONE
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.updated_at, dao.recorded_by) == (
        TaskStatus.TODO, None, local(2024, 5, 18, 10, 5), None,
    )  # fmt: skip
    assert [e.name for e in line.evidence] == ["Kich-ban.docx", "Phim.docx"]
    # Recorded again; then her own «Đang thực hiện» is hers, without the office's words.
    await tasks.record_for(office, task, "NV04", note="qua điện thoại")
    await harness.send(owner.tap("⏳ Đang thực hiện"))
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.recorded_by) == (TaskStatus.IN_PROGRESS, None, None)


async def test_the_office_records_a_district_chairs_report_for_her_part_of_the_district_task(
    harness: BotHarness,
) -> None:
    # A group's task is each member's own part (VI.2: every district chair reports for her
    # district): the office's record counts for her alone, as her own report does.
    await with_contacts(harness)
    tasks, withdrawals = harness.services.tasks, harness.services.withdrawals
    office = await office_staff(harness)
    chair = await person_id(harness, "DB037")
    assert [w.key for w in (await withdrawals.open_work(chair)).tasks] == []
    result = await tasks.record_for(office, await task_id(harness, "VI.2"), "DB037")
    assert result.step is TaskStep.RECORDED_FOR
    page = await tasks.task_page(await task_id(harness, "VI.2"))
    assert page is not None and (page.done, page.reported, page.total) == (1, 1, 30)
    # Reported, she holds the task as a chair who reported it herself does.
    assert [w.key for w in (await withdrawals.open_work(chair)).tasks] == ["VI.2"]


async def test_a_file_recorded_with_the_report_is_kept_and_a_refused_one_records_nothing(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    refused = await tasks.record_for(office, task, "NV04", file=("phim.exe", b"MZ..."))
    assert (refused.step, refused.reject) == (TaskStep.REJECTED, "bad_type")
    macro = office_file("docx", main_type=MACRO_MAIN_TYPE)
    refused = await tasks.record_for(office, task, "NV04", file=("ke-hoach.docx", macro))
    assert (refused.step, refused.reject) == (TaskStep.REJECTED, "macro")
    assert await audit_count(harness, "task.recorded") == 0
    name = "Kịch bản phim tư liệu.docx"
    result = await tasks.record_for(
        office, task, "NV04", note="nhận qua thư điện tử", file=(name, docx("kịch bản"))
    )
    assert result.step is TaskStep.RECORDED_FOR and result.evidence_id is not None
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [evidence] = line.evidence
    assert (evidence.name, evidence.by, evidence.stored) == (name, "Phạm Thị Hồng Đào", True)
    found = await tasks.evidence_file(result.evidence_id, task_id=task)
    assert (
        found is not None and found.path is not None and found.path.read_bytes() == docx("kịch bản")
    )
    assert await audit_count(harness, "task.evidence") == 1


async def test_undoing_the_offices_record_puts_her_report_back_and_her_reminders_resume(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")  # NV04, due 21/5 17:00; reminders at 08:00
    owner = await harness.open_invitation("NV04")
    await harness.send(owner.tap("⏳ Đang thực hiện"))
    await harness.send(owner.text("Đã quay xong, đang dựng phim"))
    await harness.tick()
    harness.clock.set(local(2024, 5, 18, 10, 0))  # recorded for her by mistake, with a file
    result = await tasks.record_for(office, task, "NV04", file=("Phim.docx", docx("phim")))
    assert result.step is TaskStep.RECORDED_FOR
    harness.clock.set(local(2024, 5, 20, 8, 0))
    before = len(owner.messages)
    await harness.tick()
    assert len(owner.messages) == before  # done: the -1d reminder is not hers
    harness.clock.set(local(2024, 5, 20, 9, 0))
    undone = await tasks.undo_record(office, task, "NV04")
    assert undone.step is TaskStep.RECORD_UNDONE and undone.name == "Phạm Thị Hồng Đào"
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.updated_at, dao.recorded_by) == (
        TaskStatus.IN_PROGRESS, "Đã quay xong, đang dựng phim", local(2024, 5, 18, 9, 0), None,
    )  # fmt: skip
    assert line.evidence == []
    again = await tasks.undo_record(office, task, "NV04")
    assert again.step is TaskStep.NOTHING_TO_UNDO
    audits = await audit_changes(harness, "task.record_undone")
    dao_id = await person_id(harness, "NV04")
    assert audits == [
        (
            "dashboard:DB001",
            {"person_id": dao_id, "status": "done", "note": None, "files": "Phim.docx"},
            {"person_id": dao_id, "status": "in_progress", "note": "Đã quay xong, đang dựng phim",
             "by": "Phạm Thị Thanh Mai", "name": "Phạm Thị Hồng Đào"},
        )
    ]  # fmt: skip
    harness.clock.set(local(2024, 5, 21, 8, 0))  # the deadline day's reminder is hers again
    await harness.tick()
    assert len(owner.messages) == before + 1
    assert "Văn phòng trân trọng nhắc đồng chí về nhiệm vụ VI.1.3" in owner.last_text()


def stored_blobs(harness: BotHarness) -> list[str]:
    """The names of the blobs in the file store (its temporary files would show too)."""
    root = harness.services.tasks._files.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_undoing_the_offices_record_removes_its_file_from_the_store(
    harness: BotHarness,
) -> None:
    # Its row gone with the undo, the file would stay on disk named by nothing.
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    result = await tasks.record_for(office, task, "NV04", file=("Phim.docx", docx("phim")))
    assert result.step is TaskStep.RECORDED_FOR
    assert len(stored_blobs(harness)) == 1
    undone = await tasks.undo_record(office, task, "NV04")
    assert undone.step is TaskStep.RECORD_UNDONE
    assert stored_blobs(harness) == []


async def test_undoing_the_offices_record_keeps_a_blob_another_row_names(
    harness: BotHarness,
) -> None:
    # The store keeps one blob for the same bytes: the office's file for NV04 is also the file
    # NV03 sent on her page for her own task; the undo takes NV04's row, and the blob stays
    # for NV03's, which still downloads.
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    opened = await harness.services.invitations.open_page(
        harness.tokens["NV03"], channel="web", client="c"
    )
    assert opened.delegate is not None
    hers = await tasks.store_file(
        page_account("web", opened.delegate.id),
        await task_id(harness, "VI.1.1"),
        name="Bao-cao.docx",
        content=docx("phim"),
    )
    assert hers.step is TaskStep.FILE_SAVED and hers.evidence_id is not None
    task = await task_id(harness, "VI.1.3")
    result = await tasks.record_for(office, task, "NV04", file=("Phim.docx", docx("phim")))
    assert result.step is TaskStep.RECORDED_FOR
    [blob] = stored_blobs(harness)
    assert (await tasks.undo_record(office, task, "NV04")).step is TaskStep.RECORD_UNDONE
    assert stored_blobs(harness) == [blob]
    found = await tasks.evidence_file(hers.evidence_id, task_id=await task_id(harness, "VI.1.1"))
    assert found is not None and found.path is not None
    assert found.path.read_bytes() == docx("phim")


async def test_an_upload_of_the_same_bytes_committing_as_the_undo_removes_them_keeps_its_file(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL: NV03 sends on her page the very bytes of the office's file for NV04, as the
    # office undoes that record. Her upload found the blob in place (nothing written again)
    # and has put it in place, its row not yet committed, when the undo looks whether any row
    # names those bytes: none it can see. The undo now waits for her commit, sees her row and
    # leaves the blob; before, it removed the blob her row then named.
    needs_postgres()
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    recorded = await tasks.record_for(office, task, "NV04", file=("Phim.docx", docx("phim")))
    assert recorded.step is TaskStep.RECORDED_FOR
    opened = await harness.services.invitations.open_page(
        harness.tokens["NV03"], channel="web", client="c"
    )
    assert opened.delegate is not None
    her_task = await task_id(harness, "VI.1.1")
    line = tasks._line
    published, commit = asyncio.Event(), asyncio.Event()

    async def her_upload_waits_to_commit(session: AsyncSession, task_row: Any) -> object:
        if not published.is_set():  # her recording transaction, its file put in place
            published.set()
            await commit.wait()
        return await line(session, task_row)

    monkeypatch.setattr(tasks, "_line", her_upload_waits_to_commit)
    async with asyncio.timeout(30):
        account = page_account("web", opened.delegate.id)
        upload = asyncio.create_task(
            tasks.store_file(account, her_task, name="Bao-cao.docx", content=docx("phim"))
        )
        await published.wait()
        undo = asyncio.create_task(tasks.undo_record(office, task, "NV04"))
        await until_waiting(engine, 1, undo)
        commit.set()
        hers = await upload
        assert (await undo).step is TaskStep.RECORD_UNDONE
    assert hers.step is TaskStep.FILE_SAVED and hers.evidence_id is not None
    found = await tasks.evidence_file(hers.evidence_id, task_id=her_task)
    assert found is not None and found.path is not None
    assert found.path.read_bytes() == docx("phim")


async def test_an_undo_that_fails_before_its_commit_keeps_the_file_its_row_still_names(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    result = await tasks.record_for(office, task, "NV04", file=("Phim.docx", docx("phim")))
    assert result.step is TaskStep.RECORDED_FOR and result.evidence_id is not None
    blobs = stored_blobs(harness)

    async def fails(*_args: Any) -> object:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tasks, "_line", fails)
    with pytest.raises(RuntimeError):
        await tasks.undo_record(office, task, "NV04")
    monkeypatch.undo()
    assert stored_blobs(harness) == blobs
    found = await tasks.evidence_file(result.evidence_id, task_id=task)
    assert found is not None and found.path is not None
    assert found.path.read_bytes() == docx("phim")


async def test_undoing_a_chairs_record_on_the_shared_task_puts_back_hers_not_another_chairs(
    harness: BotHarness,
) -> None:
    # Thirty chairs report VI.2: undoing the office's record for one reads her reports alone,
    # among the others' reports and records made since.
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.2")
    harness.clock.set(local(2024, 5, 18, 8, 0))
    first = await harness.open_invitation("DB031")
    await harness.send(first.command("/nhiemvu"))
    await harness.send(first.tap("⏳ Đang thực hiện"))
    await harness.send(first.text("Đang tổng hợp số liệu"))
    harness.clock.set(local(2024, 5, 18, 9, 0))
    await tasks.record_for(office, task, "DB031", note="qua điện thoại")
    harness.clock.set(local(2024, 5, 18, 10, 0))
    second = await harness.open_invitation("DB032")
    await harness.send(second.command("/nhiemvu"))
    await harness.send(second.tap("⏳ Đang thực hiện"))
    await harness.send(second.text("Chờ số liệu phường"))
    await tasks.record_for(office, task, "DB033", note="bằng văn bản")
    harness.clock.set(local(2024, 5, 18, 11, 0))
    undone = await tasks.undo_record(office, task, "DB031")
    assert undone.step is TaskStep.RECORD_UNDONE
    page = await tasks.task_page(task)
    assert page is not None
    shown = {a.code: (a.status, a.note, a.updated_at, a.recorded_by) for a in page.line.assignments}
    assert shown["DB031"] == (
        TaskStatus.IN_PROGRESS, "Đang tổng hợp số liệu", local(2024, 5, 18, 8, 0), None,
    )  # fmt: skip
    assert shown["DB032"] == (
        TaskStatus.IN_PROGRESS, "Chờ số liệu phường", local(2024, 5, 18, 10, 0), None,
    )  # fmt: skip
    assert shown["DB033"] == (
        TaskStatus.DONE, "bằng văn bản", local(2024, 5, 18, 10, 0), "Phạm Thị Thanh Mai",
    )  # fmt: skip
    assert (await tasks.undo_record(office, task, "DB032")).step is TaskStep.NOTHING_TO_UNDO


# --- her file while the office records her report (PostgreSQL: transactions run side by side) --


async def while_the_office_records_her_report(
    harness: BotHarness,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    task: int,
    hers: Coroutine[Any, Any, T],
) -> T:
    """Runs ``hers`` (her tap, note, link or file) while the office records NV04's report
    («qua điện thoại») and holds her row, its record not yet committed: hers must wait for
    her row's lock where her assignment is looked up, and then find the office's record —
    not a copy read before it, which her change would be judged by and written over."""
    tasks = harness.services.tasks
    office = await office_staff(harness)
    look_up = tasks._assignment_of
    holding, release = asyncio.Event(), asyncio.Event()

    async def office_holds_her_row(session: AsyncSession, *args: Any, lock: bool) -> object:
        found = await look_up(session, *args, lock=lock)
        if lock:  # the recording transaction: her row is the office's until it commits
            holding.set()
            await release.wait()
        return found

    monkeypatch.setattr(tasks, "_assignment_of", office_holds_her_row)
    async with asyncio.timeout(30):
        record = asyncio.create_task(tasks.record_for(office, task, "NV04", note="qua điện thoại"))
        await holding.wait()
        running = asyncio.ensure_future(hers)
        await until_waiting(engine, 1, running)
        waited = not running.done()
        release.set()
        recorded = await record
        result = await running
    monkeypatch.setattr(tasks, "_assignment_of", look_up)
    assert recorded.step is TaskStep.RECORDED_FOR
    assert waited, "hers did not wait for the office's record: her row was read unlocked"
    return result


async def assert_the_record_stays_the_offices(harness: BotHarness, task: int) -> None:
    tasks = harness.services.tasks
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.updated_at, dao.recorded_by) == (
        TaskStatus.DONE, "qua điện thoại", local(2024, 5, 18, 9, 30), "Phạm Thị Thanh Mai",
    )  # fmt: skip
    undone = await tasks.undo_record(await office_staff(harness), task, "NV04")
    assert undone.step is TaskStep.RECORD_UNDONE


# Her note answers «⏳ Đang thực hiện» tapped before the office recorded her report: the record
# stands and she is told so, whether the office's commit came before her note's transaction
# or (PostgreSQL) in the middle of it.
NOTE_AFTER_RECORD = (
    "Trước khi ghi chú này tới, Văn phòng đã ghi nhận báo cáo của đồng chí về nhiệm vụ "
    "VI.1.3 (đã hoàn thành), nên ghi chú không được lưu và ghi nhận của Văn phòng được "
    "giữ nguyên. Nếu nhiệm vụ chưa hoàn thành, đề nghị đồng chí chọn lại «⏳ Đang thực hiện» "
    "hoặc «🆘 Cần hỗ trợ». Cần trao đổi, xin liên hệ "
)


async def test_her_note_typed_after_the_offices_record_leaves_the_record_the_offices(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    task = await task_id(harness, "VI.1.3")
    owner = await harness.open_invitation("NV04")
    await harness.send(owner.command("/nhiemvu"))
    await harness.send(owner.tap("⏳ Đang thực hiện"))
    harness.clock.set(local(2024, 5, 18, 9, 30))
    office = await office_staff(harness)
    await harness.services.tasks.record_for(office, task, "NV04", note="qua điện thoại")
    await harness.send(owner.text("Đang tổng hợp số liệu"))
    assert owner.last_text().startswith(NOTE_AFTER_RECORD)
    await assert_the_record_stays_the_offices(harness, task)


# What she does as the office records her report (PostgreSQL): her chat's steps before (a
# command, a button, a text), then hers — a page file, a chat file, a link, a note answering
# «⏳ Đang thực hiện», or a tap — and how she is answered. Each is judged against the record:
# her file or link leaves it the office's, her note is refused, her tap is her own report.
PAGE_FILE = "page file"
SEND_FILE = "📎 Gửi sản phẩm"
PROGRESS = "⏳ Đang thực hiện"
RACES = [
    pytest.param([], PAGE_FILE, "", "offices", id="page-file"),
    pytest.param(
        ["/nhiemvu", SEND_FILE], "Kich-ban.docx", "Đã nhận sản phẩm của nhiệm vụ VI.1.3",
        "offices", id="chat-file",
    ),
    pytest.param(
        ["/nhiemvu", SEND_FILE], "https://drive.example/kich-ban",
        "Đã nhận sản phẩm của nhiệm vụ VI.1.3", "offices", id="link",
    ),
    pytest.param(
        ["/nhiemvu", PROGRESS], "Đang tổng hợp số liệu", NOTE_AFTER_RECORD, "offices", id="note"
    ),
    pytest.param(
        ["/nhiemvu", PROGRESS, "Đang tổng hợp số liệu", "/nhiemvu"], PROGRESS,
        "Đã ghi nhận nhiệm vụ VI.1.3: đang thực hiện.", "hers", id="tap",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("before", "hers", "answer", "report"), RACES)
async def test_hers_sent_while_the_office_records_her_report_is_judged_against_the_record(
    harness: BotHarness,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    before: list[str],
    hers: str,
    answer: str,
    report: str,
) -> None:
    needs_postgres()
    await with_contacts(harness)
    tasks = harness.services.tasks
    task = await task_id(harness, "VI.1.3")
    owner = await harness.open_invitation("NV04") if before else None
    for step in before:
        await harness.send(her_chat_step(owner, step))
    harness.clock.set(local(2024, 5, 18, 9, 30))
    if owner is None:
        opened = await harness.services.invitations.open_page(
            harness.tokens["NV04"], channel="web", client="c"
        )
        assert opened.delegate is not None
        upload = tasks.store_file(
            page_account("web", opened.delegate.id), task, name="Phim.docx", content=docx("phim")
        )
        stored = await while_the_office_records_her_report(
            harness, engine, monkeypatch, task, upload
        )
        assert stored.step is TaskStep.FILE_SAVED
    else:
        sent = harness.send(her_chat_step(owner, hers))
        await while_the_office_records_her_report(harness, engine, monkeypatch, task, sent)
        assert owner.last_text().startswith(answer)
    if report == "offices":
        await assert_the_record_stays_the_offices(harness, task)
        return
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, dao.note, dao.recorded_by) == (TaskStatus.IN_PROGRESS, None, None)


def her_chat_step(owner: FakeUser | None, step: str) -> JsonDict:
    """A command, a task's button, a .docx by name, or a text, from her chat."""
    assert owner is not None
    if step.startswith("/"):
        return owner.command(step)
    if step in TASK_BUTTONS:
        return owner.tap(step)
    if step.endswith(".docx"):
        return owner.document(step, docx("kịch bản"), DOCX)
    return owner.text(step)


async def test_the_offices_filed_record_cannot_slip_between_her_file_count_and_her_chat_file(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.services.tasks as module

    # 19 files of hers; her 20th comes from the chat while the office records her report with
    # a file. Her row is held from her count to her commit: the office's record waits, then
    # finds her files at the most — never 21 files.
    needs_postgres()
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    owner = await harness.open_invitation("NV04")
    assignment = await assignment_of(harness, task, "NV04")
    async with unit_of_work(harness.services.ctx.sessions) as session:
        for number in range(1, MAX_TASK_FILES):
            her_file(session, assignment, number)
    await harness.send(owner.command("/nhiemvu"))
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    original = module._files_full
    record = None

    async def office_records_after_her_count(session: AsyncSession, found: Any) -> bool:
        nonlocal record
        full = await original(session, found)
        monkeypatch.setattr(module, "_files_full", original)
        async with harness.services.ctx.sessions() as probe:
            try:  # is her row held? Then the office's record would wait for her commit.
                await probe.execute(
                    select(TaskAssignment.id)
                    .where(TaskAssignment.id == assignment.id)
                    .with_for_update(nowait=True)
                )
            except DBAPIError:
                return full
        record = await tasks.record_for(
            office, task, "NV04", note="qua điện thoại", file=("Phim.docx", docx("phim"))
        )
        return full

    monkeypatch.setattr(module, "_files_full", office_records_after_her_count)
    await harness.send(owner.document("Kich-ban.docx", docx("kịch bản"), DOCX))
    assert owner.last_text().startswith("Đã nhận sản phẩm của nhiệm vụ VI.1.3")
    if record is None:  # it waited for her file's commit
        record = await tasks.record_for(
            office, task, "NV04", note="qua điện thoại", file=("Phim.docx", docx("phim"))
        )
    assert record.step is TaskStep.TOO_MANY_FILES
    async with harness.services.ctx.sessions() as session:
        files = await session.scalar(
            select(func.count())
            .select_from(TaskEvidence)
            .where(TaskEvidence.assignment_id == assignment.id, TaskEvidence.kind == "file")
        )
    assert files == MAX_TASK_FILES


# --- a file's bytes are written before the transaction that records it (SQLite's write lock) --


async def test_a_page_upload_writes_its_bytes_before_the_transaction_that_records_it(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await with_contacts(harness)
    task = await task_id(harness, "VI.1.3")
    opened = await harness.services.invitations.open_page(
        harness.tokens["NV04"], channel="web", client="c"
    )
    assert opened.delegate is not None
    order = await write_and_transaction_order(harness, engine, monkeypatch)
    stored = await harness.services.tasks.store_file(
        page_account("web", opened.delegate.id), task, name="Phim.docx", content=docx("phim")
    )
    assert stored.step is TaskStep.FILE_SAVED
    # Her files counted; the bytes written and fsynced; then, in the recording transaction,
    # only the rename (and its folder's fsync).
    assert order == ["begin", "commit", "fsync file", "begin", "fsync folder", "commit"]


async def test_the_offices_filed_record_writes_its_bytes_before_the_transaction_that_records_it(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await with_contacts(harness)
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    order = await write_and_transaction_order(harness, engine, monkeypatch)
    recorded = await harness.services.tasks.record_for(
        office, task, "NV04", note="qua điện thoại", file=("Phim.docx", docx("phim"))
    )
    assert recorded.step is TaskStep.RECORDED_FOR
    assert order == ["begin", "commit", "fsync file", "begin", "fsync folder", "commit"]


async def test_her_board_lists_the_file_attached_to_the_offices_record_as_the_offices(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.3")
    owner = await harness.open_invitation("NV04")
    await tasks.record_for(
        office, task, "NV04", note="qua điện thoại", file=("Ban-ghi-VP.docx", docx("bản ghi"))
    )
    await harness.send(owner.command("/nhiemvu"))
    await harness.send(owner.tap("📎 Gửi sản phẩm"))
    await harness.send(owner.document("Kich-ban.docx", docx("kịch bản"), DOCX))
    before = len(owner.messages)
    await harness.send(owner.command("/nhiemvu"))
    chat = "\n".join(m["text"] for m in owner.messages[before:]).split("\n")
    assert [shown for shown in chat if shown.startswith("📎 Tệp")] == [
        "📎 Tệp Ban-ghi-VP.docx — Văn phòng gửi kèm khi ghi nhận báo cáo của Phạm Thị Hồng Đào",
        "📎 Tệp Kich-ban.docx — Phạm Thị Hồng Đào",
    ]


# --- an upload cancelled while its bytes are written ------------------------------------------


async def test_a_page_upload_cancelled_while_its_bytes_are_written_leaves_no_file_behind(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    task = await task_id(harness, "VI.1.3")
    opened = await harness.services.invitations.open_page(
        harness.tokens["NV04"], channel="web", client="c"
    )
    assert opened.delegate is not None
    upload = tasks.store_file(
        page_account("web", opened.delegate.id), task, name="Phim.docx", content=docx("phim")
    )
    await cancel_while_its_bytes_are_written(tasks._files, monkeypatch, upload)
    assert [p for p in tasks._files.root.rglob("*") if p.is_file()] == []
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    assert line.evidence == []


async def test_the_offices_filed_record_cancelled_while_its_bytes_are_written_leaves_no_file(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await with_contacts(harness)
    tasks = harness.services.tasks
    task = await task_id(harness, "VI.1.3")
    record = tasks.record_for(
        await office_staff(harness), task, "NV04", file=("Ban-ghi-VP.docx", docx("bản ghi"))
    )
    await cancel_while_its_bytes_are_written(tasks._files, monkeypatch, record)
    assert [p for p in tasks._files.root.rglob("*") if p.is_file()] == []
    [line] = [t for t in await tasks.office_board() if t.key == "VI.1.3"]
    [dao] = line.assignments
    assert (dao.status, line.evidence) == (TaskStatus.TODO, [])
