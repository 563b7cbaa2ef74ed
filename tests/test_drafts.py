"""Speech drafts (tham luận): assignments, versions and dedup, receipts, rejected input, the
office's comments both ways, final / needs revision, reminders and the office board."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from bot.config import load_config
from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.drafts import MAX_VERSIONS, DraftAction, DraftLine, DraftStatus, draft_action
from bot.domain.outbound import MessageKind, MessageStatus
from bot.domain.timespec import TimeSpec
from bot.services import Services, build_services
from bot.services.drafts.lines import _export_name
from storage.engine import create_engine, create_sessionmaker
from storage.files import MAX_NAME_CHARS, FileStore
from storage.models import (
    AuditEntry,
    DraftComment,
    DraftVersion,
    OutboundMessage,
    SpeechAssignment,
)
from storage.uow import unit_of_work
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, local, until_waiting
from tests.fakes.telegram_api import FakeGroup, FakeUser
from tests.harness import OFFICE_CHAT, BotHarness, name_substitute
from tests.samples import DOCX, MACRO_MAIN_TYPE, docx, office_file, zip_bytes
from tests.tasks_support import needs_postgres, office_staff
from tests.test_outbox import deliveries, texts
from tests.test_telegram_flows import buttons
from tests.upload_support import cancel_while_its_bytes_are_written, write_and_transaction_order

SPEAKERS = [
    "DB031",
    "DB033",
    "DB036",
    "DB038",
    "DB040",
    "DB042",
    "DB045",
    "DB050",
    "DB055",
    "DB060",
]
# The example plan: drafts due 17:00 on 21/5/2024, a week before the meeting on 28/5.
DEADLINE = local(2024, 5, 21, 17, 0)


def press(user: FakeUser, label: str) -> dict[str, Any]:
    """A tap on the newest message that carries the button ``label`` (the user scrolls to it)."""
    message = next(m for m in reversed(user.messages) if label in buttons(m))
    return user.tap(label, message=message)


def office(harness: BotHarness) -> FakeGroup:
    """The office group of the example plan."""
    return harness.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")


def office_posts(harness: BotHarness) -> list[dict[str, Any]]:
    """What the bot posted to the office chat."""
    return harness.fake.messages_to(OFFICE_CHAT)


async def speaker(harness: BotHarness, code: str = "DB031") -> FakeUser:
    """``code`` opens their link (the import assigned the plan's themes)."""
    return await harness.open_invitation(code)


async def upload(
    harness: BotHarness, user: FakeUser, name: str | None, content: bytes, **kwargs: Any
) -> str:
    """Send a document and return the bot's answer."""
    await harness.send(user.document(name, content, DOCX, **kwargs))
    return user.last_text()


async def draft_posted(harness: BotHarness) -> tuple[FakeUser, dict[str, Any]]:
    """DB031 sends her first version (1.1) and the next tick posts it to the office's chat: she,
    and that post."""
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    [post] = office_posts(harness)
    return user, post


async def versions(harness: BotHarness) -> list[DraftVersion]:
    """Every stored version, oldest first."""
    async with harness.services.ctx.sessions() as session:
        return list(await session.scalars(select(DraftVersion).order_by(DraftVersion.id)))


async def comments(harness: BotHarness) -> list[tuple[bool, str]]:
    """The thread: (from the office?, body), oldest first."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.scalars(select(DraftComment).order_by(DraftComment.id))
        return [(c.from_office, c.body) for c in rows]


async def outbound_count(harness: BotHarness) -> int:
    """How many messages the bot has queued or planned, to anyone."""
    async with harness.services.ctx.sessions() as session:
        return len(list(await session.scalars(select(OutboundMessage.id))))


async def status_of(harness: BotHarness, code: str) -> DraftStatus:
    """The draft status of ``code``'s only assignment."""
    lines = [line for line in await harness.services.drafts.board() if line.code == code]
    assert len(lines) == 1
    return lines[0].status


# --- assignments ---------------------------------------------------------------------------------


async def test_plan_speakers_become_one_assignment_each_in_theme_order(
    harness: BotHarness,
) -> None:
    # The import assigned them, in its own transaction: a sync after it finds them in place.
    report = await harness.services.drafts.sync()
    assert (report.created, report.removed, report.unknown_speakers) == (0, 0, [])
    board = await harness.services.drafts.board()
    assert [(line.theme_key, line.code) for line in board] == [
        ("1.1", "DB031"),
        ("1.2", "DB036"),
        ("1.3", "DB040"),
        ("1.4", "DB045"),
        ("1.5", "DB050"),
        ("2.1", "DB033"),
        ("2.2", "DB055"),
        ("2.3", "DB038"),
        ("3", "DB042"),
        ("3", "DB060"),
    ]
    assert {line.status for line in board} == {DraftStatus.WAITING}
    assert {line.deadline_at for line in board} == {DEADLINE}
    again = await harness.services.drafts.sync()
    assert (again.created, again.removed) == (0, 0)


async def test_unknown_speaker_codes_are_reported_and_dropped_speakers_removed(
    harness: BotHarness,
) -> None:
    config = harness.services.config
    themes = [
        theme.model_copy(update={"speakers": ["DB031", "ZZ999"]}) if theme.key == "1.1" else theme
        for theme in config.themes
        if theme.key != "3"  # DB042 and DB060 are no longer asked to speak
    ]
    harness.services.ctx.__dict__["config"] = config.model_copy(update={"themes": themes})
    report = await harness.services.drafts.sync()
    assert (report.created, report.removed, report.unknown_speakers) == (0, 2, ["ZZ999"])


async def test_speaker_sees_theme_and_deadline_when_opening_the_link_and_in_thamluan(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    shown = [m["text"] for m in user.messages if "Tham luận được phân công" in m.get("text", "")]
    assert len(shown) == 1
    assert "Chủ đề 1.1: Kết quả tuyên truyền" in shown[0]
    assert "Hạn gửi bài: 17:00, Thứ Ba, ngày 21/5/2024" in shown[0]
    assert "Tình trạng: chưa gửi" in shown[0]
    # The invitation with its answer buttons stays the last message.
    assert buttons(user.last_message) == ["✅ Tham dự", "❌ Không tham dự", "👤 Cử người dự thay"]

    await harness.send(user.command("/thamluan"))
    assert "Hạn gửi bài: 17:00, Thứ Ba, ngày 21/5/2024" in user.last_text()
    assert buttons(user.last_message) == ["✍️ Soạn tham luận 1.1 bằng tin nhắn"]


async def test_someone_without_a_theme_is_told_so_by_thamluan(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")
    await harness.send(user.command("/thamluan"))
    assert user.last_text().startswith("Đồng chí chưa được phân công tham luận")


async def test_office_assigns_and_withdraws_with_phancong(harness: BotHarness) -> None:
    chair = await harness.open_invitation("DB032")
    admin = harness.admin()

    await harness.send(admin.command("/phancong DB032 1.1"))
    assert admin.last_text() == (
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 1.1; "
        "hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Bot đã báo người được phân công."
    )
    await harness.tick()
    assert chair.last_text().startswith("Kính gửi đồng chí Trần Thị Hồng Vân")
    assert "Chủ đề 1.1: Kết quả tuyên truyền" in chair.last_text()
    await harness.send(admin.command("/phancong db032 1.1"))
    assert admin.last_text().startswith("Đồng chí Trần Thị Hồng Vân đã được phân công")

    await harness.send(admin.command("/phancong ZZ1 1.1"))
    assert admin.last_text() == "Không có người mã ZZ1 trong danh sách đã nhập."
    await harness.send(admin.command("/phancong DB032 9.9"))
    assert admin.last_text().startswith("Không có chủ đề 9.9. Các chủ đề (mục IV):\n• 1.1:")
    await harness.send(admin.command("/phancong DB032"))
    assert admin.last_text().startswith("Cú pháp: /phancong <mã đại biểu> <chủ đề>")

    await harness.send(admin.command("/phancong huy DB032 1.1"))
    assert (
        admin.last_text() == "Đã hủy phân công tham luận chủ đề 1.1 của đồng chí Trần Thị Hồng Vân."
    )
    assert [line.code for line in await harness.services.drafts.board()].count("DB032") == 0


async def test_phancong_huy_repeated_says_it_was_withdrawn_before_with_her_name_and_code(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    await harness.send(admin.command("/phancong DB032 1.1"))
    await harness.send(admin.command("/phancong huy DB032 1.1"))
    await harness.send(admin.command("/phancong huy db032 1.1"))
    assert admin.last_text() == (
        "Phân công tham luận chủ đề 1.1 của đồng chí Trần Thị Hồng Vân (DB032) đã được hủy từ"
        " trước; không có gì thay đổi."
    )
    await harness.send(admin.command("/phancong huy db032 1.2"))  # never assigned
    assert admin.last_text() == (
        "Đồng chí Trần Thị Hồng Vân (DB032) chưa được phân công tham luận chủ đề 1.2; không có"
        " gì thay đổi."
    )


async def test_phancong_after_the_plan_s_deadline_asks_for_one_and_takes_it(
    harness: BotHarness,
) -> None:
    harness.clock.set(DEADLINE + timedelta(days=1))
    admin = harness.admin()
    await harness.send(admin.command("/phancong DB032 1.1"))
    assert admin.last_text() == (
        "Hạn gửi bài chủ đề 1.1 theo kế hoạch (17:00, Thứ Ba, ngày 21/5/2024) đã qua nên chưa"
        " phân công đồng chí Trần Thị Hồng Vân (DB032). Đề nghị ghi hạn gửi bài mới sau mã chủ"
        " đề, ví dụ /phancong DB032 1.1 08/12 17:00."
    )
    await harness.send(admin.command("/phancong DB032 1.1 20/05 17:00"))
    assert admin.last_text() == (
        "Hạn gửi bài 17:00, Thứ Hai, ngày 20/5/2024 đã qua nên chưa phân công đồng chí Trần Thị"
        " Hồng Vân (DB032). Đề nghị ghi một hạn sau thời điểm hiện tại."
    )
    await harness.send(admin.command("/phancong DB032 1.1 02/06 17:00"))  # after the opening
    assert admin.last_text() == (
        "Hạn gửi bài phải trước giờ khai mạc hội nghị (08:00, Thứ Ba, ngày 28/5/2024) nên chưa"
        " phân công đồng chí Trần Thị Hồng Vân (DB032) với hạn 17:00, Chủ Nhật, ngày 2/6/2024;"
        " đề nghị chọn hạn sớm hơn."
    )
    await harness.send(admin.command("/phancong DB032 1.1 mai"))
    assert admin.last_text() == (
        "Không đọc được hạn gửi bài «mai»; chưa phân công. Đề nghị ghi ngày và giờ, ví dụ"
        " /phancong DB032 1.1 08/12 17:00."
    )
    assert "DB032" not in [line.code for line in await harness.services.drafts.board()]
    await harness.send(admin.command("/phancong DB032 1.1 27/05 17:00"))
    assert admin.last_text() == (
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 1.1;"
        " hạn gửi bài 17:00, Thứ Hai, ngày 27/5/2024. Bot đã báo người được phân công."
    )
    [line] = [line for line in await harness.services.drafts.board() if line.code == "DB032"]
    assert line.deadline_at == local(2024, 5, 27, 17, 0)
    assert not line.late(harness.clock.now())
    await harness.send(admin.command("/phancong"))
    assert admin.last_text().startswith(
        "Cú pháp: /phancong <mã đại biểu> <chủ đề> [hạn gửi bài] (ví dụ /phancong DB031 1.1,"
        " hoặc với hạn riêng /phancong DB031 1.1 08/12 17:00; không ghi hạn thì theo hạn của kế"
        " hoạch); hủy: /phancong huy <mã> <chủ đề>."
    )


async def test_phancong_reads_a_deadline_as_the_dashboard_s_form_does(
    harness: BotHarness,
) -> None:
    """One reading of «Hạn gửi bài»: the date and time as the dashboard's form sends it
    (``2024-05-27T17:00``, copied from a calendar) is a deadline in /phancong too, and what
    neither reads is refused in both (the chat's words give the command's example): a day
    with no time too, in any of the calendar's spellings, rather than read as its midnight."""
    harness.clock.set(DEADLINE + timedelta(days=1))
    admin = harness.admin()
    before = await outbound_count(harness)
    for typed in ("2024-05-27 ngày", "2024-05-27", "20240527", "2024-W22-1", "2024-05-27T17"):
        await harness.send(admin.command(f"/phancong DB032 1.1 {typed}"))
        assert admin.last_text() == (
            f"Không đọc được hạn gửi bài «{typed}»; chưa phân công. Đề nghị ghi ngày và giờ,"
            " ví dụ /phancong DB032 1.1 08/12 17:00."
        )
    assert [line.code for line in await harness.services.drafts.board()].count("DB032") == 0
    assert await outbound_count(harness) == before  # nothing to tell anyone
    await harness.send(admin.command("/phancong DB032 1.1 2024-05-27 16:00"))  # with a space
    assert admin.last_text().startswith(
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 1.1;"
        " hạn gửi bài 16:00, Thứ Hai, ngày 27/5/2024."
    )
    await harness.send(admin.command("/phancong huy DB032 1.1"))
    await harness.send(admin.command("/phancong DB032 1.1 2024-05-27T17:00"))
    assert admin.last_text() == (
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 1.1;"
        " hạn gửi bài 17:00, Thứ Hai, ngày 27/5/2024. Bot đã báo người được phân công."
    )
    [line] = [line for line in await harness.services.drafts.board() if line.code == "DB032"]
    assert line.deadline_at == local(2024, 5, 27, 17, 0)


async def test_phancong_huy_withdraws_a_speaker_who_sent_a_version_and_keeps_what_she_sent(
    harness: BotHarness,
) -> None:
    harness.clock.set(local(2024, 5, 17, 9, 0))
    await harness.plan(MessageKind.DRAFT_MISSING)
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    [sent] = await versions(harness)
    admin = harness.admin()
    await harness.send(admin.command("/phancong huy DB031 1.1"))
    assert admin.last_text() == (
        "Đã hủy phân công tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương. 1 bản đồng"
        " chí đã gửi vẫn được giữ: trên trang điều hành (trang «Tham luận») chúng hiện riêng"
        " dưới chủ đề, tải về được. Đồng chí không còn nhận tin nhắc và không gửi thêm bản mới"
        " được; bot không nhắn cho đồng chí về việc hủy. Phân công lại (/phancong DB031 1.1) thì"
        " các bản đó hiện lại như cũ."
    )
    drafts = harness.services.drafts
    # Out of the board and its counts; kept, marked, for those who ask for it.
    assert "DB031" not in [line.code for line in await drafts.board()]
    [kept] = [line for line in await drafts.board(withdrawn=True) if line.withdrawn]
    assert (kept.code, kept.versions, kept.theme_key) == ("DB031", 1, "1.1")
    found = await drafts.version_file(sent.id)  # still downloadable
    assert found is not None and found.path.read_bytes() == docx("v1")
    async with harness.services.ctx.sessions() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "draft.unassigned")
        )
    assert audit is not None and audit.after == {"versions_kept": 1}

    # Her next file is refused before it is fetched, and stored nowhere.
    assert await upload(harness, user, "bai-2.docx", docx("v2")) == (
        "Văn phòng đã hủy phân công tham luận chủ đề 1.1 của đồng chí nên bot không nhận thêm"
        " bản mới cho chủ đề này; các bản đồng chí đã gửi vẫn được lưu giữ. Cần trao đổi, xin"
        " liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )
    assert len(await versions(harness)) == 1

    # At the deadline the office counts the nine speakers it still has.
    harness.clock.set(DEADLINE)
    await harness.tick()
    [missing] = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]
    assert missing.startswith(
        "⏰ Đến hạn gửi tham luận (17:00, Thứ Ba, ngày 21/5/2024): đã nhận 0/9 bài."
    )

    # Assigned again: the same assignment, its version back in view.
    await harness.send(admin.command("/phancong DB031 1.1"))
    assert admin.last_text() == (
        "Đã phân công đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình) tham luận chủ đề 1.1;"
        " hạn gửi bài 17:00, Thứ Ba, ngày 21/5/2024. Bot đã báo người được phân công. 1 bản đã"
        " gửi trước đây được khôi phục, hiện lại trong danh sách tham luận."
    )
    [back] = [line for line in await drafts.board() if line.code == "DB031"]
    assert (back.id, back.versions, back.status, back.withdrawn) == (
        kept.id, 1, DraftStatus.SUBMITTED, False,
    )  # fmt: skip
    assert len(await drafts.board()) == 10


async def test_an_empty_board_names_the_dashboards_form_beside_the_command(
    harness: BotHarness,
) -> None:
    async with harness.services.ctx.sessions() as session, session.begin():
        await session.execute(delete(SpeechAssignment))  # as a plan that names no speaker
    admin = harness.admin()
    await harness.send(admin.command("/thamluan"))
    assert admin.last_text() == (
        "Chưa có đồng chí nào được phân công tham luận. Văn phòng phân công trong tệp cấu hình"
        " (mục [[themes]], khoá speakers), bằng lệnh /phancong hoặc trên trang điều hành (trang"
        " «Tham luận», mẫu «Phân công tham luận»)."
    )
    await harness.send(admin.command("/help"))
    assert (
        "/phancong — phân công tham luận: /phancong DB031 1.1; hủy: /phancong huy DB031 1.1"
        " (trên trang điều hành: trang «Tham luận», mẫu «Phân công tham luận» và «Hủy phân"
        " công» ở dòng của người viết)\n"
    ) in admin.last_text()


async def test_phancong_refuses_a_person_whose_invitation_was_withdrawn(
    harness: BotHarness,
) -> None:
    services = harness.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB032")
    admin = harness.admin()
    await harness.send(admin.command("/phancong db032 1.1"))
    assert admin.last_text() == (
        "Giấy mời của đồng chí Trần Thị Hồng Vân (DB032) đã được rút nên chưa phân công tham"
        " luận. Nếu cần đồng chí trình bày, đề nghị mời lại trước (trang điều hành: trang của"
        " đại biểu, «Mời lại»)."
    )
    assert "DB032" not in [line.code for line in await services.drafts.board()]


async def test_phancong_is_refused_to_a_delegate(harness: BotHarness) -> None:
    user = await speaker(harness)
    await harness.send(user.command("/phancong DB032 1.1"))
    assert user.last_text().startswith("Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng")


# --- uploads, versions, receipts -----------------------------------------------------------------


async def test_upload_becomes_version_1_with_a_receipt_and_is_stored_by_its_hash(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    content = docx("bản đầu")
    answer = await upload(harness, user, "Tham luận Ba Đình.docx", content)
    assert answer == (
        "✅ Đã nhận bản 1 lúc 09:00, 18/5 (2 KB) — tham luận chủ đề 1.1. "
        "Văn phòng sẽ xem và gửi góp ý tới đồng chí."
    )
    [version] = await versions(harness)
    digest = hashlib.sha256(content).hexdigest()
    assert (version.number, version.kind, version.size, version.sha256) == (1, "file", 2048, digest)
    assert version.display_name == "Tham luận Ba Đình.docx"
    assert harness.services.drafts.files.open(digest) == content
    assert await status_of(harness, "DB031") is DraftStatus.SUBMITTED


async def test_each_new_upload_is_a_new_version_and_an_identical_one_is_not_stored_twice(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    await upload(harness, user, "v1.docx", docx("một"))
    harness.clock.advance(timedelta(hours=5, minutes=5))
    answer = await upload(harness, user, "v2.docx", docx("hai", size=3 * 1024 * 1024))
    assert answer.startswith("✅ Đã nhận bản 2 lúc 14:05, 18/5 (3,0 MB)")
    answer = await upload(harness, user, "v2 gửi lại.docx", docx("hai", size=3 * 1024 * 1024))
    assert answer.startswith("Bản này giống hệt bản 2 đồng chí đã gửi lúc 14:05, 18/5")
    assert [v.number for v in await versions(harness)] == [1, 2]
    # Going back to the first text is a new version; its bytes are kept once.
    answer = await upload(harness, user, "v1 gửi lại.docx", docx("một"))
    assert answer.startswith("✅ Đã nhận bản 3 lúc 14:05, 18/5 (2 KB)")
    stored = await versions(harness)
    assert [v.number for v in stored] == [1, 2, 3] and stored[0].sha256 == stored[2].sha256
    blobs = [p for p in harness.services.drafts.files.root.rglob("*") if p.is_file()]
    assert len(blobs) == 2


async def test_a_file_in_chat_past_the_most_versions_of_a_theme_is_answered_and_not_stored(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    for number in range(1, MAX_VERSIONS + 1):
        answer = await upload(harness, user, f"v{number}.docx", docx(f"bản {number}"))
        assert answer.startswith(f"✅ Đã nhận bản {number} lúc ")
    answer = await upload(harness, user, "thêm.docx", docx("bản thêm"))
    assert answer.startswith(
        f"Đồng chí đã gửi {MAX_VERSIONS} bản cho tham luận chủ đề 1.1, là số bản tối đa"
    )
    assert len(await versions(harness)) == MAX_VERSIONS


async def test_versions_sent_at_once_past_the_most_of_a_theme_are_refused_all_the_same(
    harness: BotHarness,
) -> None:
    """Each upload checks the count before writing its file and again as it records the
    version: uploads sent together (parallel requests on one link) do not pass the most."""
    user = await speaker(harness)
    account = ChatAccount("telegram", str(user.id), str(user.id))
    async with harness.services.ctx.sessions() as session:
        [assignment_id] = await session.scalars(
            select(SpeechAssignment.id).where(SpeechAssignment.theme_key == "1.1")
        )
    drafts = harness.services.drafts

    async def store(name: str) -> str:
        content = docx(name)
        result = await drafts.store(
            account, assignment_id, name=f"{name}.docx", content=content, file_ref=None, kind="file"
        )
        return result.step.value

    for number in range(1, MAX_VERSIONS):
        await store(f"bản {number}")
    steps = await asyncio.gather(*(store(f"cùng lúc {n}") for n in range(3)))
    assert sorted(steps) == ["received", "too_many_versions", "too_many_versions"]
    assert len(await versions(harness)) == MAX_VERSIONS


@pytest.mark.parametrize(
    ("name", "content", "announced", "expected"),
    [
        ("virus.exe", b"MZ\x90\x00", None, "Tham luận chỉ được nhận ở dạng .docx"),
        (None, b"PK\x03\x04abc", None, "Tham luận chỉ được nhận ở dạng .docx"),
        ("lon.pdf", b"%PDF-1.7", 21 * 1024 * 1024, "Tệp lớn hơn 20 MB"),
        ("rong.docx", b"", None, "Tệp không có nội dung"),
    ],
    ids=["other-type", "no-name", "over-20-mb", "empty"],
)
async def test_rejected_files_get_a_clear_answer_before_any_download(
    harness: BotHarness, name: str | None, content: bytes, announced: int | None, expected: str
) -> None:
    user = await speaker(harness)
    answer = await upload(harness, user, name, content, announced_size=announced)
    assert answer.startswith(expected)
    assert harness.fake.calls_to("getFile") == []
    assert await versions(harness) == []
    assert await status_of(harness, "DB031") is DraftStatus.WAITING


async def test_a_file_whose_content_is_not_its_type_is_rejected_after_download(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    answer = await upload(harness, user, "bai.pdf", b"MZ this is a program, not a PDF")
    assert answer.startswith("Tham luận chỉ được nhận ở dạng .docx")
    assert len(harness.fake.calls_to("getFile")) == 1
    assert await versions(harness) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (zip_bytes([("evil.exe", b"MZ\x90\x00 a program")]), "Bên trong tệp có chương trình"),
        (office_file("docx", "bài", main_type=MACRO_MAIN_TYPE), "Tệp có chứa macro"),
        (office_file("xlsx", "bảng"), "Tệp không có cấu trúc của định dạng"),
    ],
    ids=["program-inside", "docm-renamed", "workbook-renamed"],
)
async def test_a_docx_that_is_not_a_sound_word_document_is_refused_kept_nowhere_and_not_posted(
    harness: BotHarness, content: bytes, expected: str
) -> None:
    # The attack reported: a ZIP archive holding evil.exe, named .docx, was stored and posted.
    user = await speaker(harness)
    answer = await upload(harness, user, "Tham luận Ba Đình.docx", content)
    assert answer.startswith(expected)
    assert await versions(harness) == []
    root = harness.services.drafts.files.root
    assert not root.exists() or [p for p in root.rglob("*") if p.is_file()] == []
    await harness.tick()
    assert office_posts(harness) == []
    assert await status_of(harness, "DB031") is DraftStatus.WAITING


async def test_a_path_in_the_file_name_never_reaches_the_disk(harness: BotHarness) -> None:
    user = await speaker(harness)
    await upload(harness, user, "../../etc/passwd.docx", docx("x"))
    [version] = await versions(harness)
    assert version.display_name == "passwd.docx"
    root = harness.services.drafts.files.root
    assert [p.name for p in root.rglob("*") if p.is_file()] == [version.sha256]


async def test_a_document_from_someone_without_a_theme_is_not_taken(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")
    answer = await upload(harness, user, "bai.docx", docx("x"))
    assert answer.startswith(
        "Đồng chí chưa được phân công tham luận nên tệp này không được tiếp nhận"
    )
    stranger = harness.new_user()
    answer = await upload(harness, stranger, "bai.docx", docx("x"))
    assert answer.startswith("Tài khoản này chưa được liên kết")
    assert await versions(harness) == []


async def test_a_photo_of_the_printed_speech_is_told_it_is_not_taken_and_how_to_send_it(
    harness: BotHarness,
) -> None:
    """A chair photographed her printed speech and sent the photo: Telegram's answer was the
    invitation's hint («trả lời giấy mời … /nhiemvu»), not a word of her speech; Zalo's tells a
    speaker where her speech goes. She is told the photo is not taken, and how to send it."""
    user = await speaker(harness)
    await harness.send(user.photo())
    contact = harness.services.config.office.contact
    assert user.last_text() == (
        "Bot không nhận ảnh, nhãn dán hay tin nhắn thoại làm bài tham luận. Để gửi tham luận chủ"
        " đề 1.1, đồng chí gửi bài vào cuộc trò chuyện này dưới dạng tệp (.docx, .doc, .pdf,"
        " .odt, .rtf hoặc .txt, tối đa 20 MB; bài in trên giấy xin chụp hoặc quét thành một tệp"
        " .pdf), hoặc chọn «✍️ Soạn tham luận … bằng tin nhắn» dưới đây để gõ bài ngay tại đây."
        f" Cần hỗ trợ, xin gọi {contact}."
    )
    assert buttons(user.last_message) == ["✍️ Soạn tham luận 1.1 bằng tin nhắn"]
    assert await versions(harness) == []
    # Once her speech is approved, a photo is answered as anyone's.
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    await harness.send(harness.admin().tap("✅ Chốt bản 1", message=office_posts(harness)[-1]))
    await harness.send(user.photo())
    assert user.last_text().startswith("Đề nghị đồng chí trả lời giấy mời bằng các lựa chọn")


async def test_a_speaker_of_two_themes_picks_the_theme_of_a_file(harness: BotHarness) -> None:
    user = await speaker(harness)
    await harness.send(harness.admin().command("/phancong DB031 2.3"))
    await upload(harness, user, "bai.docx", docx("x"))
    assert (
        user.last_text()
        == "Đồng chí được phân công nhiều chủ đề. Đề nghị đồng chí chọn chủ đề của tệp bai.docx:"
    )
    assert [b[:12] for b in buttons(user.last_message)] == ["Chủ đề 1.1: ", "Chủ đề 2.3: "]
    await harness.send(user.tap(buttons(user.last_message)[1]))
    assert user.last_text().startswith(
        "✅ Đã nhận bản 1 lúc 09:00, 18/5 (2 KB) — tham luận chủ đề 2.3"
    )
    board = await harness.services.drafts.board()
    lines = {line.theme_key: line for line in board if line.code == "DB031"}
    assert (lines["1.1"].versions, lines["2.3"].versions) == (0, 1)


async def test_a_theme_withdrawn_while_its_file_waits_for_a_choice_is_said_and_the_file_kept(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    admin = harness.admin()
    await harness.send(admin.command("/phancong DB031 2.3"))
    await upload(harness, user, "bai.docx", docx("x"))
    await harness.send(user.tap(buttons(user.last_message)[0]))  # version 1 of theme 1.1
    await upload(harness, user, "bai-2.docx", docx("y"))
    offered = user.last_message
    await harness.send(admin.command("/phancong huy DB031 1.1"))
    await harness.send(user.tap(buttons(offered)[0], message=offered))
    assert user.last_text() == (
        "Văn phòng đã hủy phân công tham luận chủ đề 1.1 của đồng chí nên bot không nhận thêm"
        " bản mới cho chủ đề này; các bản đồng chí đã gửi vẫn được lưu giữ. Cần trao đổi, xin"
        " liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )
    await harness.send(user.tap(buttons(offered)[1], message=offered))  # the file still waits
    assert user.last_text().startswith(
        "✅ Đã nhận bản 1 lúc 09:00, 18/5 (2 KB) — tham luận chủ đề 2.3"
    )


# --- typed drafts --------------------------------------------------------------------------------


async def test_a_typed_draft_over_several_messages_becomes_one_version(harness: BotHarness) -> None:
    user = await speaker(harness)
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    assert "chọn «Xong, gửi bản này»" in user.last_text()
    parts = ["Kính thưa các đồng chí,", "Phần một: kết quả.", "Phần hai: kiến nghị."]
    for number, part in enumerate(parts, start=1):
        await harness.send(user.text(part))
        assert user.last_text().startswith(f"Đã nhận đoạn {number} (tổng ")
    assert buttons(user.last_message) == ["✅ Xong, gửi bản này", "Hủy"]
    await harness.send(user.tap("✅ Xong, gửi bản này"))
    assert user.last_text().startswith("✅ Đã nhận bản 1 lúc 09:00, 18/5")
    [version] = await versions(harness)
    assert (version.kind, version.display_name) == ("text", "tham-luan-1.1.txt")
    stored = harness.services.drafts.files.open(version.sha256)
    assert stored.decode("utf-8-sig") == "\n\n".join(parts)
    # The next text is no longer part of a draft: the usual hint answers it.
    await harness.send(user.text("Xin cảm ơn"))
    assert user.last_text().startswith("Đề nghị đồng chí trả lời giấy mời bằng các lựa chọn")
    assert len(await versions(harness)) == 1


async def test_a_typed_draft_survives_an_rsvp_answer_in_between(harness: BotHarness) -> None:
    user = await speaker(harness)
    card = next(m for m in user.messages if "✅ Tham dự" in buttons(m))
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(user.text("Đoạn đầu."))
    await harness.send(user.tap("❌ Không tham dự", message=card))  # asks for a reason
    await harness.send(user.text("Bận công tác"))  # the reason, not the draft
    await harness.send(user.command("/thamluan"))
    assert "Đang soạn dở: 1 đoạn, 9 ký tự" in user.last_text()
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    assert user.last_text().startswith("✍️ Đồng chí đang soạn dở tham luận chủ đề 1.1 (1 đoạn")
    await harness.send(user.text("Đoạn sau."))
    await harness.send(user.tap("✅ Xong, gửi bản này"))
    [version] = await versions(harness)
    assert harness.services.drafts.files.open(version.sha256).decode("utf-8-sig") == (
        "Đoạn đầu.\n\nĐoạn sau."
    )


async def test_a_redelivered_piece_is_not_added_twice_and_cancel_drops_the_pieces(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    piece = user.text("Một đoạn.")
    await harness.send(piece)
    await harness.send(piece)  # Telegram delivered the same update again
    assert user.last_text().startswith("Đã nhận đoạn 1 (tổng 9 ký tự)")
    await harness.send(user.tap("Hủy"))
    assert user.last_text() == "Đã hủy thao tác với tham luận chủ đề 1.1."
    mine = next(line for line in await harness.services.drafts.board() if line.code == "DB031")
    await harness.send(user.tap_data(draft_action(DraftAction.FINISH, mine.id)))
    assert user.last_text().startswith("Chưa có nội dung nào")
    assert await versions(harness) == []


async def test_finishing_with_nothing_typed_says_so(harness: BotHarness) -> None:
    user = await speaker(harness)
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(user.tap("✅ Xong, gửi bản này"))
    assert user.last_text().startswith("Chưa có nội dung nào")
    assert await versions(harness) == []


async def test_a_typed_draft_over_the_limit_keeps_what_it_has(harness: BotHarness) -> None:
    from bot.domain.drafts import MAX_TEXT_DRAFT

    user = await speaker(harness)
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    chunk = "x" * 4000
    for _ in range(MAX_TEXT_DRAFT // 4000):
        await harness.send(user.text(chunk))
    await harness.send(user.text(chunk))
    assert user.last_text().startswith(
        "Bài soạn bằng tin nhắn dài tối đa 60.000 ký tự; đoạn vừa gửi chưa được ghép "
        "(đã có 60.000 ký tự)"
    )
    await harness.send(user.tap("✅ Xong, gửi bản này"))
    [version] = await versions(harness)
    assert len(harness.services.drafts.files.open(version.sha256).decode("utf-8-sig")) == (
        MAX_TEXT_DRAFT + 2 * (MAX_TEXT_DRAFT // 4000 - 1)
    )


async def test_someone_else_s_compose_button_is_refused(harness: BotHarness) -> None:
    user = await speaker(harness)
    other = next(line for line in await harness.services.drafts.board() if line.code == "DB036")
    await harness.send(user.tap_data(draft_action(DraftAction.COMPOSE, other.id)))
    assert user.last_text().startswith("Tham luận này không được phân công cho đồng chí")
    await harness.send(user.text("Nội dung"))
    assert user.last_text().startswith("Đề nghị đồng chí trả lời giấy mời bằng các lựa chọn")
    assert await versions(harness) == []


# --- the office loop -----------------------------------------------------------------------------


async def test_each_version_is_posted_to_the_office_by_file_id_with_verdict_buttons(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    update = user.document("Ba Đình.docx", docx("v1"), DOCX)
    await harness.send(update)
    file_id = update["message"]["document"]["file_id"]
    await harness.tick()
    [post] = office_posts(harness)
    assert post["caption"].startswith(
        "📝 Tham luận chủ đề 1.1 — bản 1\nNguyễn Thị Lan Phương, Chủ tịch, Hội LHPN quận Ba Đình\n"
        "Nhận lúc 09:00, 18/5 · 2 KB\n↩️ Trả lời tin này"
    )
    assert buttons(post) == ["✅ Chốt bản 1", "✏️ Cần chỉnh sửa"]
    [call] = harness.fake.calls_to("sendDocument")
    assert call.params["document"] == file_id and call.uploads == {}  # no re-upload


async def test_a_typed_draft_is_posted_to_the_office_as_a_text_file(harness: BotHarness) -> None:
    user = await speaker(harness)
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(user.text("Nội dung tham luận."))
    await harness.send(user.tap("✅ Xong, gửi bản này"))
    await harness.tick()
    [call] = harness.fake.calls_to("sendDocument")
    upload_ = call.uploads["document"]
    assert upload_.file_name == "tham-luan-1.1.txt"
    assert upload_.content.decode("utf-8-sig") == "Nội dung tham luận."


async def test_comments_go_both_ways_and_the_thread_is_kept(harness: BotHarness) -> None:
    user, post = await draft_posted(harness)
    admin, group = harness.admin(), office(harness)

    await harness.send(group.reply(admin, post, "Đề nghị bổ sung số liệu năm 2023."))
    assert texts(harness, OFFICE_CHAT)[-1] == (
        "Đã chuyển góp ý tới đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình)."
    )
    await harness.tick()
    comment = user.last_message
    assert comment["text"] == (
        "💬 Góp ý của Văn phòng về tham luận chủ đề 1.1 (bản 1):\n\n"
        "Đề nghị bổ sung số liệu năm 2023.\n\n"
        "↩️ Để gửi ý kiến lại Văn phòng, đồng chí chọn «Trả lời Văn phòng» dưới đây."
    )
    assert buttons(comment) == ["↩️ Trả lời Văn phòng"]

    await harness.send(user.reply(comment, "Tôi sẽ bổ sung trong bản 2."))
    assert user.last_text() == "Đã chuyển ý kiến của đồng chí tới Văn phòng."
    await harness.tick()
    relayed = office_posts(harness)[-1]
    assert relayed["text"].startswith(
        "💬 Đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình) trả lời về tham luận chủ đề 1.1:"
        "\n\nTôi sẽ bổ sung trong bản 2."
    )

    await harness.send(group.reply(admin, relayed, "Cảm ơn đồng chí."))
    await harness.tick()
    assert "Cảm ơn đồng chí." in user.last_text()
    await harness.send(user.tap("↩️ Trả lời Văn phòng"))
    assert user.last_text().startswith("Đề nghị đồng chí gõ ý kiến gửi Văn phòng")
    await harness.send(user.text("Vâng ạ."))
    await harness.tick()
    assert "Vâng ạ." in office_posts(harness)[-1]["text"]

    assert await comments(harness) == [
        (True, "Đề nghị bổ sung số liệu năm 2023."),
        (False, "Tôi sẽ bổ sung trong bản 2."),
        (True, "Cảm ơn đồng chí."),
        (False, "Vâng ạ."),
    ]
    thread = await harness.services.drafts.thread((await harness.services.drafts.board())[0].id)
    assert [c.version_number for c in thread] == [1, 1, 1, 1]


async def test_a_reply_from_someone_not_on_the_staff_list_is_not_relayed(
    harness: BotHarness,
) -> None:
    user, post = await draft_posted(harness)
    member = harness.new_user("Cán bộ")
    before = len(user.messages)
    await harness.send(office(harness).reply(member, post, "Góp ý"))
    assert texts(harness, OFFICE_CHAT)[-1].startswith("Góp ý chưa được chuyển: chỉ cán bộ")
    await harness.tick()
    assert len(user.messages) == before
    assert await comments(harness) == []


async def test_office_chatter_and_replies_to_other_bot_messages_are_left_alone(
    harness: BotHarness,
) -> None:
    admin, group = harness.admin(), office(harness)
    await harness.send(group.text(admin, "Chào cả nhà"))
    assert harness.fake.messages_to(OFFICE_CHAT) == []
    await harness.send(group.command(admin, "/id"))
    [answer] = harness.fake.messages_to(OFFICE_CHAT)
    await harness.send(group.reply(admin, answer, "Cảm ơn bot"))
    assert len(harness.fake.messages_to(OFFICE_CHAT)) == 1  # no answer to a non-draft reply
    assert await comments(harness) == []


async def test_the_office_marks_revision_then_final_and_the_speaker_is_told(
    harness: BotHarness,
) -> None:
    user, post = await draft_posted(harness)
    admin = harness.admin()

    await harness.send(admin.tap("✏️ Cần chỉnh sửa", message=post))
    assert texts(harness, OFFICE_CHAT)[-1].startswith(
        "✏️ Văn phòng đề nghị đồng chí Nguyễn Thị Lan Phương chỉnh sửa tham luận chủ đề 1.1 (bản 1)"
    )
    await harness.tick()
    assert user.last_text() == (
        "✏️ Văn phòng đề nghị đồng chí chỉnh sửa tham luận chủ đề 1.1 (bản 1) theo góp ý và gửi lại "
        "bản mới vào cuộc trò chuyện này trước 17:00, Thứ Ba, ngày 21/5/2024."
    )
    assert await status_of(harness, "DB031") is DraftStatus.REVISION

    # The old post's buttons cannot settle a newer version.
    await upload(harness, user, "bai2.docx", docx("v2"))
    assert await status_of(harness, "DB031") is DraftStatus.SUBMITTED
    await harness.send(admin.tap("✅ Chốt bản 1", message=post))
    assert harness.fake.calls_to("answerCallbackQuery")[-1].params["text"] == (
        "Đã có bản 2 mới hơn; đề nghị xem và quyết định trên bản mới."
    )
    await harness.tick()
    newest = office_posts(harness)[-1]
    await harness.send(admin.tap("✅ Chốt bản 2", message=newest))
    await harness.tick()
    assert user.last_text() == (
        "✅ Văn phòng đã chốt tham luận chủ đề 1.1 của đồng chí (bản 2). Trân trọng cảm ơn đồng chí!"
    )
    assert await status_of(harness, "DB031") is DraftStatus.FINAL
    await harness.send(admin.tap("✅ Chốt bản 2", message=newest))  # a second tap
    assert harness.fake.calls_to("answerCallbackQuery")[-1].params["text"] == (
        "Tham luận này đã ở trạng thái «đã chốt»."
    )
    async with harness.services.ctx.sessions() as session:
        verdicts = list(
            await session.scalars(
                select(AuditEntry.after)
                .where(AuditEntry.action == "draft.verdict")
                .order_by(AuditEntry.id)
            )
        )
    assert verdicts == [
        {"status": "revision", "version": 1},
        {"status": "final", "version": 2},
    ]


async def test_a_version_sent_after_approval_says_it_replaces_the_approved_one_to_both_sides(
    harness: BotHarness,
) -> None:
    """A new version reopens an approved speech (the verdict is on the newest; the approved zip
    leaves it out until it is approved again), but neither side was told: her receipt read as
    any other, and the office's post did not say the speech it had approved needs approving
    again."""
    user, post = await draft_posted(harness)
    await harness.send(harness.admin().tap("✅ Chốt bản 1", message=post))
    await harness.tick()
    answer = await upload(harness, user, "bai sửa.docx", docx("v2"))
    assert answer == (
        "✅ Đã nhận bản 2 lúc 09:00, 18/5 (2 KB) — tham luận chủ đề 1.1. Văn phòng sẽ xem và gửi"
        " góp ý tới đồng chí.\nLưu ý: Văn phòng đã chốt bản 1 của bài này; bản 2 vừa gửi thay"
        " cho bản đã chốt, nên Văn phòng sẽ xem và chốt lại."
    )
    await harness.tick()
    caption = office_posts(harness)[-1]["caption"]
    assert "Nhận lúc 09:00, 18/5 · 2 KB · ⚠️ gửi sau khi bản 1 đã chốt: cần chốt lại\n" in caption
    assert await status_of(harness, "DB031") is DraftStatus.SUBMITTED
    # A version sent before any approval says nothing of it.
    await upload(harness, user, "bai sửa lần nữa.docx", docx("v3"))
    assert "Lưu ý" not in user.last_text()
    await harness.tick()
    assert "đã chốt" not in office_posts(harness)[-1]["caption"]


async def test_verdict_buttons_are_refused_to_a_delegate(harness: BotHarness) -> None:
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    [version] = await versions(harness)
    await harness.send(user.tap_data(draft_action(DraftAction.FINAL, version.id)))
    assert (
        harness.fake.calls_to("answerCallbackQuery")[-1]
        .params["text"]
        .startswith("Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng")
    )
    assert await status_of(harness, "DB031") is DraftStatus.SUBMITTED


# --- reminders and the office's view -------------------------------------------------------------


async def test_reminders_reach_speakers_without_a_draft_and_the_office_gets_the_missing_list(
    harness: BotHarness,
) -> None:
    harness.clock.set(local(2024, 5, 17, 9, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)
    sent = await harness.open_invitation("DB031")
    waiting = await harness.open_invitation("DB036")
    await upload(harness, sent, "bai.docx", docx("v1"))
    await harness.tick()  # the version's post

    harness.clock.set(local(2024, 5, 18, 8, 0))  # -3d@08:00
    await harness.tick()
    assert waiting.last_text().startswith(
        "Kính gửi đồng chí Vũ Thị Mỹ Hạnh,\n\nVăn phòng trân trọng nhắc đồng chí gửi tham luận "
        "chủ đề 1.2"
    )
    assert buttons(waiting.last_message) == ["✍️ Soạn tham luận 1.2 bằng tin nhắn"]
    assert not any("nhắc đồng chí gửi tham luận" in t for t in texts(harness, sent.id))
    assert await deliveries(harness, MessageKind.DRAFT_REMINDER) == Counter(
        {"sent": 1, "not_linked": 8}
    )
    report = texts(harness, OFFICE_CHAT)[-1]
    assert report.startswith("📨 Báo cáo gửi nhắc gửi tham luận")
    assert (
        "Chưa gửi (9):" in report
        and "• DB036 — Vũ Thị Mỹ Hạnh (Hội LHPN quận Đống Đa): chủ đề 1.2" in report
    )
    assert "DB031" not in report.split("Chưa gửi (9):")[1].split("\n\n")[0]

    harness.clock.set(DEADLINE)
    await harness.tick()
    missing = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]
    assert len(missing) == 1
    assert missing[0].startswith(
        "⏰ Đến hạn gửi tham luận (17:00, Thứ Ba, ngày 21/5/2024): đã nhận 1/10 bài.\n\n"
        "Chưa gửi (9):"
    )


async def test_a_reminder_to_a_speaker_who_typed_her_speech_and_never_finished_offers_to_send_it(
    harness: BotHarness,
) -> None:
    """She typed her speech as two messages and never chose «Xong»: the reminder read as if
    nothing was done, with no word of what she typed. It says the office has not received it
    and offers «Xong» to send it as one version."""
    harness.clock.set(local(2024, 5, 17, 9, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)
    user = await speaker(harness)
    await harness.send(user.command("/thamluan"))
    await harness.send(user.tap("✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(user.text("Kính thưa Đoàn Chủ tịch hội nghị,"))
    await harness.send(user.text("Phần một: kết quả tuyên truyền."))

    harness.clock.set(local(2024, 5, 18, 8, 0))  # -3d@08:00
    await harness.tick()
    assert (
        "Hạn gửi bài: 17:00, Thứ Ba, ngày 21/5/2024.\n\n✍️ Đồng chí đã gõ 2 đoạn (64 ký tự) của"
        " bài này bằng tin nhắn nhưng chưa chọn «✅ Xong, gửi bản này», nên Văn phòng chưa nhận"
        " được bài. Để gửi phần đã gõ thành một bản, đồng chí chọn «✅ Xong, gửi bản này» dưới"
        " đây.\n\n"
    ) in user.last_text()
    assert buttons(user.last_message) == [
        "✅ Xong, gửi bản này",
        "✍️ Soạn tham luận 1.1 bằng tin nhắn",
    ]
    await harness.send(press(user, "✅ Xong, gửi bản này"))
    assert user.last_text().startswith("✅ Đã nhận bản 1 lúc 08:00, 18/5")
    assert [v.kind for v in await versions(harness)] == ["text"]


async def test_a_speaker_whose_invitation_was_withdrawn_is_not_counted_as_owing_a_speech(
    harness: BotHarness,
) -> None:
    """No reminder goes to a withdrawn invitee, but the reminders' report and the deadline's
    «Chưa gửi» still named her as owing a speech. Both leave her out of «Chưa gửi» and of the
    count, and list her apart as withdrawn."""
    harness.clock.set(local(2024, 5, 17, 9, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)
    services = harness.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB031")
    apart = (
        "Đã rút giấy mời, không tính vào số bài phải nhận (1):\n"
        "• DB031 — Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình): chủ đề 1.1"
    )

    harness.clock.set(local(2024, 5, 18, 8, 0))  # -3d@08:00: the reminders, then their report
    await harness.tick()
    report = texts(harness, OFFICE_CHAT)[-1]
    assert report.startswith("📨 Báo cáo gửi nhắc gửi tham luận")
    assert "Chưa gửi (9):" in report and apart in report
    assert "DB031" not in report.split("Chưa gửi (9):")[1].split("\n\n")[0]

    harness.clock.set(DEADLINE)
    await harness.tick()
    [missing] = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]
    assert missing.startswith(
        "⏰ Đến hạn gửi tham luận (17:00, Thứ Ba, ngày 21/5/2024): đã nhận 0/9 bài.\n\n"
        "Chưa gửi (9):"
    )
    assert "DB031" not in missing.split("Chưa gửi (9):")[1].split("\n\n")[0]
    assert missing.endswith(apart)


async def test_a_speaker_whose_invitation_was_withdrawn_owes_no_speech_on_the_overview_and_thamluan(
    harness: BotHarness,
) -> None:
    """Review of s32: the composer's reports left her out, but the overview's «Tham luận chưa
    nhận», /thamluan's counts and its list still named her as owing a speech, past the deadline
    «quá hạn». One rule (DraftLine.owed): out of the counts, marked «đã rút giấy mời»."""
    services = harness.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB031")
    harness.clock.set(DEADLINE + timedelta(minutes=1))
    missing, assigned = await services.drafts.missing_of_all()
    assert "DB031" not in [line.code for line in missing]
    assert (len(missing), assigned) == (9, 9)
    admin = harness.admin()
    before = len(admin.messages)
    await harness.send(admin.command("/thamluan"))
    board = "\n".join(m["text"] for m in admin.messages[before:])
    assert "Đã gửi 0/9 · Đã chốt 0 · Cần chỉnh sửa 0 · Chưa gửi 9" in board
    assert (
        "Chủ đề 1.1 — Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình)\n"
        "Tình trạng: chưa gửi · đã rút giấy mời\n" in board
    )


async def test_a_speaker_who_declined_or_sent_a_substitute_is_marked_in_the_offices_lists_and_told_the_speech_is_still_expected(
    harness: BotHarness,
) -> None:
    """The reminders' report and the deadline's list mark them as /thamluan does; the reminder
    to each says her answer is known and the speech still expected (the assignment stands
    until the office withdraws it), not as if nothing changed."""
    harness.clock.set(local(2024, 5, 17, 9, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)
    declined = await harness.open_invitation("DB036")
    await harness.send(declined.tap("❌ Không tham dự"))
    await harness.send(declined.tap("Không nêu lý do"))
    away = await harness.open_invitation("DB040")
    await name_substitute(
        harness, away, "Nguyễn Thị Hà", "Phó Chủ tịch", own_unit="Hội LHPN quận Nam Từ Liêm"
    )
    harness.clock.set(local(2024, 5, 18, 8, 0))  # -3d@08:00
    await harness.tick()
    contact = harness.services.config.office.contact
    assert (
        "Hạn gửi bài: 17:00, Thứ Ba, ngày 21/5/2024.\n\nĐồng chí đã báo không tham dự hội nghị."
        " Phân công tham luận vẫn giữ nguyên cho đến khi Văn phòng có thông báo khác, nên Văn"
        " phòng vẫn trân trọng đề nghị đồng chí gửi bài tham luận; nếu không gửi được, xin đồng"
        f" chí báo {contact}.\n\n"
    ) in declined.last_text()
    assert (
        "Hạn gửi bài: 17:00, Thứ Ba, ngày 21/5/2024.\n\nĐồng chí đã cử đồng chí Nguyễn Thị Hà"
        " dự thay. Phân công tham luận vẫn giữ nguyên cho đến khi Văn phòng có thông báo khác,"
        " nên Văn phòng vẫn trân trọng đề nghị đồng chí gửi bài tham luận; cần trao đổi (ví dụ"
        f" người dự thay trình bày), xin liên hệ {contact}.\n\n"
    ) in away.last_text()
    report = texts(harness, OFFICE_CHAT)[-1]
    assert report.startswith("📨 Báo cáo gửi nhắc gửi tham luận")
    marked = [
        "• DB036 — Vũ Thị Mỹ Hạnh (Hội LHPN quận Đống Đa): chủ đề 1.2 · ⚠️ không tham dự hội nghị",
        "• DB040 — Hồ Thị Bảo Ngọc (Hội LHPN quận Nam Từ Liêm): chủ đề 1.3"
        " · ⚠️ cử người dự thay: Nguyễn Thị Hà",
    ]
    assert all(line in report.split("\n") for line in marked)
    harness.clock.set(DEADLINE)
    await harness.tick()
    missing = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]
    assert all(line in missing[0].split("\n") for line in marked)
    # Another speaker's line is unmarked.
    assert "• DB031 — Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình): chủ đề 1.1" in missing[
        0
    ].split("\n")


async def test_thamluan_shows_the_office_every_draft_and_opens_the_latest_file(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    update = user.document("bai.docx", docx("v1"), DOCX)
    await harness.send(update)
    await harness.tick()
    await harness.send(office(harness).reply(harness.admin(), office_posts(harness)[0], "Tốt."))
    admin = harness.admin()
    before = len(admin.messages)
    await harness.send(admin.command("/thamluan"))
    board = "\n".join(m["text"] for m in admin.messages[before:])
    assert board.startswith(
        "📝 Tham luận — hạn gửi 17:00, Thứ Ba, ngày 21/5/2024\n"
        "Đã gửi 1/10 · Đã chốt 0 · Cần chỉnh sửa 0 · Chưa gửi 9"
    )
    assert (
        "Chủ đề 1.1 — Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình)\n"
        "Tình trạng: đã gửi, chờ Văn phòng xem · bản 1 nhận lúc 09:00, 18/5, 2 KB\n"
        "💬 Góp ý gần nhất của Văn phòng (09:00, 18/5): Tốt."
    ) in board
    assert (
        # never linked and her invitation not marked sent: to be sent it first, not phoned
        "Chủ đề 1.2 — Vũ Thị Mỹ Hạnh (Hội LHPN quận Đống Đa)\nTình trạng: chưa gửi · chưa gửi giấy"
        " mời" in board
    )
    assert buttons(admin.last_message) == ["Mở tham luận 1.1 — Nguyễn Thị Lan Phương (bản 1)"]
    await harness.send(admin.tap("Mở tham luận 1.1 — Nguyễn Thị Lan Phương (bản 1)"))
    assert admin.last_message["document"]["file_id"] == update["message"]["document"]["file_id"]


async def test_thamluan_marks_missing_drafts_overdue_after_the_deadline(
    harness: BotHarness,
) -> None:
    harness.clock.set(DEADLINE + timedelta(minutes=1))
    admin = harness.admin()
    await harness.send(admin.command("/thamluan"))
    assert "Tình trạng: chưa gửi · ⚠️ quá hạn" in admin.last_text()


async def test_every_draft_change_is_audited(harness: BotHarness) -> None:
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await upload(harness, user, "bai.docx", docx("v1"))  # identical: no change
    async with harness.services.ctx.sessions() as session:
        actions = Counter(await session.scalars(select(AuditEntry.action)))
        assignments = len(list(await session.scalars(select(SpeechAssignment))))
    assert actions["draft.assigned"] == assignments == 10
    assert actions["draft.version"] == 1


# --- export --------------------------------------------------------------------------------------


async def _submit_drafts(folder: Path) -> None:
    """Two speakers of the example plan send drafts into the office's own database and folder."""
    loaded = load_config(folder / "config.toml")
    engine = create_engine(loaded.database_url)
    try:
        services = await build_services(
            loaded.config,
            create_sessionmaker(engine),
            ManualClock(local(2024, 5, 18, 9, 0)),
            files=FileStore(loaded.drafts_dir),
        )
        tokens = {link.code: link.token for link in await services.invitations.links()}
        ba_dinh = ChatAccount("telegram", "1", "1")
        dong_da = ChatAccount("telegram", "2", "2")
        await services.invitations.link_by_token(ba_dinh, tokens["DB031"])
        await services.invitations.link_by_token(dong_da, tokens["DB036"])
        [mine] = await services.drafts.mine(ba_dinh) or []
        for text in ("bản một", "bản hai"):
            await services.drafts.store_file(
                ba_dinh, mine.id, name="bai.docx", content=docx(text), file_ref=None
            )
        await services.drafts.begin_reply(ba_dinh, mine.id)
        await services.drafts.reply_from_speaker(
            ba_dinh, '=HYPERLINK("http://x")', event_id="10", replied_to=None
        )
        [theirs] = await services.drafts.mine(dong_da) or []
        await services.drafts.compose(dong_da, theirs.id)
        await services.drafts.add_text(dong_da, "Nội dung & <ý kiến>", event_id="1")
        await services.drafts.finish_text(dong_da, theirs.id)
    finally:
        await engine.dispose()


def _office_with_drafts(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plan's office in ``folder``, its list imported and two drafts sent."""
    (folder / "config.toml").write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), "utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    asyncio.run(_submit_drafts(folder))


def test_drafts_export_writes_the_latest_versions_named_by_unit_and_theme_and_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _office_with_drafts(tmp_path, monkeypatch)

    assert main(["drafts", "export", "xuat"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã xuất 2 tham luận (bản mới nhất của mỗi bài) và danh mục danh-muc-tham-luan.xlsx "
        "vào xuat; 8 phân công chưa có bài."
    )
    out = tmp_path / "xuat"
    assert sorted(p.name for p in out.iterdir()) == [
        "Hội LHPN quận Ba Đình - chủ đề 1.1 - bản 2.docx",
        "Hội LHPN quận Đống Đa - chủ đề 1.2 - bản 1.txt",
        "danh-muc-tham-luan.xlsx",
    ]
    assert (out / "Hội LHPN quận Ba Đình - chủ đề 1.1 - bản 2.docx").read_bytes() == docx("bản hai")
    text = (out / "Hội LHPN quận Đống Đa - chủ đề 1.2 - bản 1.txt").read_bytes()
    assert text.decode("utf-8-sig") == "Nội dung & <ý kiến>"

    sheet = load_workbook(out / "danh-muc-tham-luan.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == (
        "Chủ đề",
        "Nội dung chủ đề",
        "Mã",
        "Họ và tên",
        "Chức vụ",
        "Đơn vị",
        "Tình trạng",
    )
    assert len(rows) == 11 and sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    by_code = {row[2]: row for row in rows[1:]}
    assert by_code["DB031"][6:12] == (
        "đã gửi, chờ Văn phòng xem",
        2,
        datetime(2024, 5, 18, 9, 0),
        2048,
        "Hội LHPN quận Ba Đình - chủ đề 1.1 - bản 2.docx",
        hashlib.sha256(docx("bản hai")).hexdigest(),
    )
    assert by_code["DB040"][6:11] == ("chưa gửi", 0, None, None, None)
    # What a speaker typed is text in the sheet, never a formula.
    comment = sheet.cell(row=[r[2] for r in rows].index("DB031") + 1, column=13)
    assert (comment.value, comment.data_type) == ('=HYPERLINK("http://x")', "s")


def test_drafts_export_restored_without_the_files_folder_exports_the_rest_and_names_the_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _office_with_drafts(tmp_path, monkeypatch)
    # The database came back from a backup, the Ba Đình file did not.
    (tmp_path / "tham-luan" / (digest := hashlib.sha256(docx("bản hai")).hexdigest())[:2]
     / digest[2:4] / digest).unlink()  # fmt: skip
    capsys.readouterr()

    assert main(["drafts", "export", "xuat"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == (
        "Đã xuất 1 tham luận (bản mới nhất của mỗi bài) và danh mục danh-muc-tham-luan.xlsx "
        "vào xuat; 8 phân công chưa có bài."
    )
    assert captured.err.splitlines() == [
        "Thiếu tệp: bản 2 tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận "
        "Ba Đình), tệp «bai.docx».",
        "Chưa xuất được 1 tham luận vì tệp không có trên máy này: cơ sở dữ liệu chỉ ghi thông "
        f"tin về bản đã gửi, còn tệp nằm trong thư mục tệp tham luận {tmp_path / 'tham-luan'}, "
        "có lẽ chưa được khôi phục cùng cơ sở dữ liệu. Đề nghị chép thư mục đó từ bản sao lưu "
        "(hoặc từ máy cũ) rồi xuất lại vào một thư mục mới.",
    ]
    out = tmp_path / "xuat"
    assert sorted(p.name for p in out.iterdir()) == [
        "Hội LHPN quận Đống Đa - chủ đề 1.2 - bản 1.txt",
        "danh-muc-tham-luan.xlsx",
    ]
    rows = list(load_workbook(out / "danh-muc-tham-luan.xlsx").active.iter_rows(values_only=True))
    by_code = {row[2]: row for row in rows[1:]}
    assert by_code["DB031"][10] == "thiếu tệp trên máy chủ"


def test_drafts_export_refuses_a_file_or_a_folder_holding_files_as_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "xuat").write_text("not a folder")
    assert main(["drafts", "export", "xuat"]) == 2
    assert capsys.readouterr().err.strip() == "xuat không phải là thư mục."
    # An earlier export's "bản 2" next to a new "bản 3" would mislead: a folder must be empty.
    (tmp_path / "cu").mkdir()
    (tmp_path / "cu" / "Hội LHPN quận Ba Đình - chủ đề 1.1 - bản 2.docx").write_bytes(b"PK")
    assert main(["drafts", "export", "cu"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Thư mục cu đã có tệp. Đề nghị chọn một thư mục mới hoặc thư mục trống, để danh mục "
        "khớp đúng các tệp trong thư mục."
    )


async def test_a_comment_that_cannot_reach_the_speaker_is_reported_to_the_office(
    harness: BotHarness,
) -> None:
    user, post = await draft_posted(harness)
    await harness.send(harness.fake.block(user.id))  # the speaker blocked the bot meanwhile
    await harness.send(office(harness).reply(harness.admin(), post, "Góp ý"))
    await harness.tick()
    report = texts(harness, OFFICE_CHAT)[-1]
    assert report.startswith("📨 Báo cáo gửi góp ý tham luận")
    assert "• DB031 — Nguyễn Thị Lan Phương" in report
    assert await deliveries(harness, MessageKind.DRAFT_COMMENT) == Counter({"blocked": 1})


# --- what the review found -----------------------------------------------------------------------


async def test_text_while_a_file_waits_for_its_theme_asks_to_choose(harness: BotHarness) -> None:
    user = await speaker(harness)
    await harness.send(harness.admin().command("/phancong DB031 2.3"))
    await upload(harness, user, "bai.docx", docx("x"))
    await harness.send(user.text("Xin chào"))
    assert user.last_text().startswith("Bot đang chờ đồng chí chọn chủ đề cho tệp vừa gửi")
    assert await versions(harness) == []


async def test_two_files_waiting_for_a_theme_each_go_where_their_button_says(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    await harness.send(harness.admin().command("/phancong DB031 2.3"))
    await upload(harness, user, "A.docx", docx("A"))
    ask_a = user.last_message
    await upload(harness, user, "B.docx", docx("B"))
    ask_b = user.last_message
    await harness.send(user.tap(buttons(ask_a)[0], message=ask_a))  # A is for 1.1
    await harness.send(user.tap(buttons(ask_b)[1], message=ask_b))  # B is for 2.3
    stored = {v.display_name: v.assignment_id for v in await versions(harness)}
    board = {
        line.theme_key: line.id
        for line in await harness.services.drafts.board()
        if line.code == "DB031"
    }
    assert stored == {"A.docx": board["1.1"], "B.docx": board["2.3"]}
    await harness.send(user.tap(buttons(ask_a)[1], message=ask_a))  # a second tap on A
    assert user.last_text() == "Tệp chờ chọn chủ đề không còn. Đề nghị đồng chí gửi lại tệp."
    assert len(await versions(harness)) == 2


async def test_cancelling_a_reply_to_the_office_keeps_a_draft_being_typed(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(user.text("Đoạn đầu."))
    mine = next(line for line in await harness.services.drafts.board() if line.code == "DB031")
    await harness.send(user.tap_data(draft_action(DraftAction.REPLY, mine.id)))
    await harness.send(user.tap("Hủy"))
    assert user.last_text() == "Đã hủy thao tác với tham luận chủ đề 1.1."
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    assert "(1 đoạn, 9 ký tự)" in user.last_text()


async def test_a_reply_to_the_office_refused_once_her_invitation_is_withdrawn_ends_the_question(
    harness: BotHarness,
) -> None:
    # She pressed «Trả lời Văn phòng»; the office withdrew her invitation before she wrote. Her
    # text was refused, but the question stayed: once she was invited again, her next message,
    # about anything, went to the office as the answer to the old question.
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    mine = next(line for line in await harness.services.drafts.board() if line.code == "DB031")
    await harness.send(user.tap_data(draft_action(DraftAction.REPLY, mine.id)))
    services = harness.services
    operator = services.access.local_operator()
    await services.withdrawals.withdraw(operator, "DB031", "Mời nhầm")
    await harness.send(user.text("Đã rõ ạ."))
    assert user.last_text().startswith("Giấy mời gửi đồng chí không còn hiệu lực")
    await services.withdrawals.reinvite(operator, "DB031")
    await harness.send(user.text("Xin cảm ơn Văn phòng."))
    await harness.tick()
    assert await comments(harness) == []  # neither text went to the office
    assert not any("Xin cảm ơn Văn phòng." in str(post) for post in office_posts(harness))


async def test_a_reply_to_the_office_while_typing_a_draft_goes_to_the_office(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    await harness.send(office(harness).reply(harness.admin(), office_posts(harness)[0], "Góp ý"))
    await harness.tick()
    comment = user.last_message
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(user.reply(comment, "Đã rõ ạ."))
    assert user.last_text() == "Đã chuyển ý kiến của đồng chí tới Văn phòng."
    await harness.send(user.text("Đoạn một."))
    assert user.last_text().startswith("Đã nhận đoạn 1 (tổng 9 ký tự)")


async def test_a_redelivered_office_reply_is_relayed_once(harness: BotHarness) -> None:
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    reply = office(harness).reply(harness.admin(), office_posts(harness)[0], "Góp ý")
    await harness.send(reply)
    await harness.send(reply)
    await harness.tick()
    assert await comments(harness) == [(True, "Góp ý")]
    assert sum("Góp ý của Văn phòng" in t for t in texts(harness, user.id)) == 1


async def test_the_office_can_reply_with_an_edited_file_and_the_speaker_gets_it(
    harness: BotHarness,
) -> None:
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    admin = harness.admin()
    post = office_posts(harness)[0]
    edited = harness.fake._incoming(
        OFFICE_CHAT,
        admin.obj,
        {
            "caption": "Văn phòng đã biên tập, đồng chí xem lại.",
            "document": admin.document("bien-tap.docx", docx("sửa"), DOCX)["message"]["document"],
            "reply_to_message": harness.fake._current(post),
        },
    )
    await harness.send(edited)
    await harness.tick()
    text, attached = user.messages[-2], user.messages[-1]
    assert text["text"].startswith(
        "💬 Góp ý của Văn phòng về tham luận chủ đề 1.1 (bản 1):\n\n"
        "Văn phòng đã biên tập, đồng chí xem lại."
    )
    assert attached["caption"] == "📎 Tệp kèm góp ý của Văn phòng: bien-tap.docx"
    assert attached["document"]["file_id"] == edited["message"]["document"]["file_id"]
    photo = harness.fake._incoming(
        OFFICE_CHAT,
        admin.obj,
        {
            "photo": admin.photo()["message"]["photo"],
            "reply_to_message": harness.fake._current(post),
        },
    )
    await harness.send(photo)
    assert texts(harness, OFFICE_CHAT)[-1].startswith("Góp ý chưa được chuyển: bot chỉ chuyển")


async def test_a_withdrawn_plan_assignment_stays_withdrawn_after_a_resync(
    harness: BotHarness,
) -> None:
    await harness.send(harness.admin().command("/phancong huy DB031 1.1"))
    report = await harness.services.drafts.sync()
    assert report.created == 0
    assert "DB031" not in [line.code for line in await harness.services.drafts.board()]
    await harness.send(harness.admin().command("/phancong DB031 1.1"))  # assigned again
    assert [line.code for line in await harness.services.drafts.board()].count("DB031") == 1


async def test_a_theme_with_its_own_deadline_has_its_own_reminders_and_missing_list(
    harness: BotHarness,
) -> None:
    config = harness.services.config
    early = TimeSpec.parse("-10d@17:00")  # 18/5 17:00
    themes = [
        t.model_copy(update={"deadline": early}) if t.key == "1.1" else t for t in config.themes
    ]
    harness.services.ctx.__dict__["config"] = config.model_copy(update={"themes": themes})
    harness.clock.set(local(2024, 5, 14, 9, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)
    lan = await harness.open_invitation("DB031")
    hanh = await harness.open_invitation("DB036")
    board = {line.code: line for line in await harness.services.drafts.board()}
    assert board["DB031"].deadline_at == local(2024, 5, 18, 17, 0)
    assert board["DB036"].deadline_at == DEADLINE

    harness.clock.set(local(2024, 5, 15, 8, 0))  # -3d@08:00 before 1.1's deadline only
    await harness.tick()
    assert "Hạn gửi bài: 17:00, Thứ Bảy, ngày 18/5/2024" in lan.last_text()
    assert not any("nhắc đồng chí gửi tham luận" in t for t in texts(harness, hanh.id))
    harness.clock.set(local(2024, 5, 18, 17, 0))
    await harness.tick()
    missing = [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]
    assert missing == [
        "⏰ Đến hạn gửi tham luận (17:00, Thứ Bảy, ngày 18/5/2024): đã nhận 0/1 bài.\n\n"
        "Chưa gửi (1):\n• DB031 — Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình): chủ đề 1.1"
    ]
    harness.clock.advance(timedelta(minutes=1))
    admin = harness.admin()
    await harness.send(admin.command("/thamluan"))
    board_text = "\n".join(m["text"] for m in admin.messages)
    assert "hạn gửi riêng 17:00, Thứ Bảy, ngày 18/5/2024 · ⚠️ quá hạn" in board_text


async def test_a_comment_full_of_ampersands_stays_one_message_with_its_reply_button(
    harness: BotHarness,
) -> None:
    from bot.domain.drafts import MAX_COMMENT
    from bot.texts import load_catalog

    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    await harness.tick()
    post = office_posts(harness)[0]
    await harness.send(office(harness).reply(harness.admin(), post, "&" * (MAX_COMMENT // 5 + 1)))
    assert texts(harness, OFFICE_CHAT)[-1].startswith(
        f"Nội dung dài quá {load_catalog('vi').number(MAX_COMMENT)} ký tự"  # «3.000»
    )
    await harness.send(office(harness).reply(harness.admin(), post, "&" * (MAX_COMMENT // 5)))
    await harness.tick()
    assert buttons(user.last_message) == ["↩️ Trả lời Văn phòng"]
    assert "&" * (MAX_COMMENT // 5) in user.last_text()


async def test_without_an_office_group_an_admin_comments_by_replying_to_the_private_post(
    harness: BotHarness,
) -> None:
    """No office group configured: a new version reaches the office's admins privately, and a
    reply to that post is the comment the speaker gets — as a reply in the group would be."""
    services = harness.services
    office = services.config.office.model_copy(update={"chat_id": None})
    services.ctx.__dict__["config"] = services.config.model_copy(update={"office": office})
    admin = harness.admin()
    harness.fake.user(100000002, "Văn phòng 2")  # the other admin has opened the bot too
    speaker = await harness.open_invitation("DB036")
    await harness.send(speaker.document("Dong Da.docx", docx("bản 1"), DOCX))
    await harness.tick()
    post = admin.last_message
    assert "1.2" in post["caption"]
    await harness.send(admin.reply(post, "Đề nghị bổ sung số liệu hội viên mới."))
    assert admin.last_text().startswith("Đã chuyển góp ý")
    await harness.tick()
    assert "Đề nghị bổ sung số liệu hội viên mới." in "\n".join(
        str(m.get("text", "")) for m in speaker.messages[-2:]
    )


def test_drafts_of_one_long_named_unit_are_exported_under_names_that_differ() -> None:
    # A unit of 123 characters with two drafts: the number telling them apart was cut off with
    # the end of the long name, every candidate was the name taken, and the export never ended.
    unit = (
        "Ủy ban Mặt trận Tổ quốc Việt Nam huyện Phú Xuyên, thành phố Hà Nội — Cơ quan thường"
        " trực Ban Chỉ đạo Cuộc vận động toàn dân"
    )
    line = cast(DraftLine, SimpleNamespace(id=7, latest=SimpleNamespace(display_name="bai.txt")))
    taken: set[str] = set()
    names = []
    for _ in range(3):
        name = _export_name(line, lambda _line, _code: f"{unit} - chủ đề 1.1 - bản 1", taken)
        taken.add(name.casefold())
        names.append(name)
    assert len(set(names)) == 3
    assert [name[-8:] for name in names[1:]] == [" (2).txt", " (3).txt"]
    assert all(len(name) <= MAX_NAME_CHARS for name in names)


async def draft_of_1_1(harness: BotHarness, user: FakeUser) -> tuple[ChatAccount, int]:
    account = ChatAccount("telegram", str(user.id), str(user.id))
    async with harness.services.ctx.sessions() as session:
        [assignment_id] = await session.scalars(
            select(SpeechAssignment.id).where(SpeechAssignment.theme_key == "1.1")
        )
    return account, assignment_id


async def test_versions_refused_as_they_are_recorded_leave_no_file_on_disk(
    harness: BotHarness,
) -> None:
    # Three uploads at once for the last place: two are refused by the transaction that would
    # record them; their bytes, written beside the store before it, are removed.
    user = await speaker(harness)
    account, assignment_id = await draft_of_1_1(harness, user)
    drafts = harness.services.drafts

    async def store(name: str) -> str:
        result = await drafts.store(
            account, assignment_id, name=f"{name}.docx", content=docx(name), file_ref=None,
            kind="file",
        )  # fmt: skip
        return result.step.value

    for number in range(1, MAX_VERSIONS):
        await store(f"bản {number}")
    steps = await asyncio.gather(*(store(f"cùng lúc {n}") for n in range(3)))
    assert sorted(steps) == ["received", "too_many_versions", "too_many_versions"]
    root = drafts.files.root
    on_disk = sorted(p.name for p in root.rglob("*") if p.is_file())
    assert on_disk == sorted(v.sha256 for v in await versions(harness))


async def test_a_version_is_written_before_the_transaction_that_records_it(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await speaker(harness)
    account, assignment_id = await draft_of_1_1(harness, user)
    order = await write_and_transaction_order(harness, engine, monkeypatch)
    result = await harness.services.drafts.store(
        account, assignment_id, name="v1.docx", content=docx("một"), file_ref=None, kind="file"
    )
    assert result.step.value == "received"
    # The count; the bytes written and fsynced; then, in the recording transaction, only the
    # rename (and its folder's fsync).
    assert order == ["begin", "commit", "fsync file", "begin", "fsync folder", "commit"]


async def test_a_draft_upload_cancelled_while_its_bytes_are_written_leaves_no_file_behind(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.invitations import page_account

    drafts = harness.services.drafts
    opened = await harness.services.invitations.open_page(
        harness.tokens["DB031"], channel="web", client="c"
    )
    assert opened.delegate is not None
    account = page_account("web", opened.delegate.id)
    [mine] = await drafts.mine(account) or []
    upload = drafts.store_file(account, mine.id, name="bai.docx", content=docx("v1"), file_ref=None)
    store = harness.services.tasks._files  # the one file store, drafts' and deliverables'
    await cancel_while_its_bytes_are_written(store, monkeypatch, upload)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    assert await versions(harness) == []


# --- the office withdraws a speaker while her upload is recorded (PostgreSQL: side by side) -----


async def unassigned_audit(harness: BotHarness) -> dict[str, Any] | None:
    async with harness.services.ctx.sessions() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "draft.unassigned")
        )
    assert audit is not None
    return audit.after


async def test_a_withdrawal_while_her_version_is_recorded_waits_and_counts_it_kept(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Her second version's recording transaction has found her assignment live when the office
    # withdraws it. The withdrawal now waits for her commit and keeps both versions in its
    # count; before, it counted one and her version landed on the withdrawn assignment.
    needs_postgres()
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    account, assignment_id = await draft_of_1_1(harness, user)
    drafts = harness.services.drafts
    uploads = drafts.store.__self__
    own = uploads._own
    found, commit = asyncio.Event(), asyncio.Event()
    calls = 0

    async def her_upload_holds(*args: Any, **kwargs: Any) -> object:
        nonlocal calls
        result = await own(*args, **kwargs)
        calls += 1
        if calls == 2:  # her recording transaction (the first only counted her versions)
            found.set()
            await commit.wait()
        return result

    monkeypatch.setattr(uploads, "_own", her_upload_holds)
    office = await office_staff(harness)
    async with asyncio.timeout(30):
        hers = asyncio.create_task(
            drafts.store(account, assignment_id, name="bai-2.docx", content=docx("v2"),
                         file_ref=None, kind="file")
        )  # fmt: skip
        await found.wait()
        withdrawal = asyncio.create_task(drafts.unassign(office, "DB031", "1.1"))
        await until_waiting(engine, 1, withdrawal)
        waited = not withdrawal.done()
        commit.set()
        stored = await hers
        withdrawn = await withdrawal
    assert waited, "the withdrawal did not wait for her version: her row was read unlocked"
    assert stored.step.value == "received"
    assert withdrawn.outcome.value == "removed" and withdrawn.draft is not None
    assert withdrawn.draft.versions == 2
    assert await unassigned_audit(harness) == {"versions_kept": 2}


async def test_her_version_recorded_as_the_office_withdraws_her_is_refused_once_it_commits(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The office's withdrawal holds her assignment when her second version comes: her upload
    # waits for it, then finds the assignment withdrawn and is refused as any later file is
    # (her page and chat say the versions sent are kept), nothing stored.
    needs_postgres()
    user = await speaker(harness)
    await upload(harness, user, "bai.docx", docx("v1"))
    account, assignment_id = await draft_of_1_1(harness, user)
    drafts = harness.services.drafts
    assignments = drafts.unassign.__self__
    target = assignments._target
    holding, release = asyncio.Event(), asyncio.Event()

    async def the_office_holds(*args: Any) -> object:
        found = await target(*args)
        holding.set()
        await release.wait()
        return found

    monkeypatch.setattr(assignments, "_target", the_office_holds)
    office = await office_staff(harness)
    async with asyncio.timeout(30):
        withdrawal = asyncio.create_task(drafts.unassign(office, "DB031", "1.1"))
        await holding.wait()
        hers = asyncio.create_task(
            drafts.store(account, assignment_id, name="bai-2.docx", content=docx("v2"),
                         file_ref=None, kind="file")
        )  # fmt: skip
        await until_waiting(engine, 1, hers)
        waited = not hers.done()
        release.set()
        withdrawn = await withdrawal
        stored = await hers
    assert waited, "her upload did not wait for the withdrawal: the row was read unlocked"
    assert withdrawn.outcome.value == "removed"
    assert stored.step.value == "withdrawn" and stored.draft is not None
    assert stored.draft.versions == 1
    assert [v.number for v in await versions(harness)] == [1]
    assert await unassigned_audit(harness) == {"versions_kept": 1}
    root = drafts.files.root
    on_disk = sorted(p.name for p in root.rglob("*") if p.is_file())
    assert on_disk == [v.sha256 for v in await versions(harness)]


# --- a speaker's deadline of her own -------------------------------------------------------------


def reminded(harness: BotHarness, user: FakeUser) -> list[str]:
    """The draft reminders ``user`` was sent."""
    return [t for t in texts(harness, user.id) if "nhắc đồng chí gửi tham luận" in t]


def missing_reports(harness: BotHarness) -> list[str]:
    """The office's lists of drafts missing at a deadline."""
    return [t for t in texts(harness, OFFICE_CHAT) if t.startswith("⏰")]


async def test_a_speaker_with_a_deadline_of_her_own_is_reminded_before_it_not_the_plan_s(
    harness: BotHarness,
) -> None:
    harness.clock.set(local(2024, 5, 17, 9, 0))
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)
    van = await harness.open_invitation("DB032")
    await harness.send(harness.admin().command("/phancong DB032 1.1 25/05 17:00"))
    await harness.tick()  # the assignment's message
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)  # a restart

    for day in (18, 20, 21):  # the plan's reminders, then its deadline
        harness.clock.set(local(2024, 5, day, 8, 0))
        await harness.tick()
    harness.clock.set(DEADLINE)
    await harness.tick()
    assert reminded(harness, van) == []
    [plan_report] = missing_reports(harness)
    assert "DB032" not in plan_report

    harness.clock.set(local(2024, 5, 22, 8, 0))  # -3d@08:00 before her own deadline
    await harness.tick()
    assert reminded(harness, van) == [
        "Kính gửi đồng chí Trần Thị Hồng Vân,\n\nVăn phòng trân trọng nhắc đồng chí gửi tham luận "
        "chủ đề 1.1: Kết quả tuyên truyền, giáo dục, nâng cao nhận thức, bản lĩnh, trách nhiệm của"
        " phụ nữ Thủ đô\nHạn gửi bài: 17:00, Thứ Bảy, ngày 25/5/2024.\n\nĐồng chí gửi bài vào cuộc"
        " trò chuyện này dưới dạng tệp (.docx, .doc, .pdf, .odt, .rtf hoặc .txt, tối đa 20 MB),"
        " hoặc chọn soạn tham luận bằng tin nhắn. Mỗi lần gửi là một bản mới; Văn phòng góp ý qua"
        " bot."
    ]
    for day in (24, 25):
        harness.clock.set(local(2024, 5, day, 8, 0))
        await harness.tick()
    assert len(reminded(harness, van)) == 3

    harness.clock.set(local(2024, 5, 25, 17, 0))
    await harness.tick()
    assert missing_reports(harness)[1:] == [
        "⏰ Đến hạn gửi tham luận (17:00, Thứ Bảy, ngày 25/5/2024): đã nhận 0/1 bài.\n\n"
        "Chưa gửi (1):\n• DB032 — Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm): chủ đề 1.1"
    ]


async def test_a_speaker_assigned_late_is_not_sent_the_reminders_already_past(
    harness: BotHarness,
) -> None:
    harness.clock.set(local(2024, 5, 22, 12, 0))  # after -3d@08:00 before 25/5
    van = await harness.open_invitation("DB032")
    await harness.send(harness.admin().command("/phancong DB032 1.1 25/05 17:00"))
    await harness.tick()
    harness.clock.advance(timedelta(hours=1))
    await harness.tick()
    assert reminded(harness, van) == []
    harness.clock.set(local(2024, 5, 24, 8, 0))  # -1d@08:00
    await harness.tick()
    assert len(reminded(harness, van)) == 1


async def test_a_speaker_with_a_deadline_of_her_own_who_sent_a_version_is_not_reminded(
    harness: BotHarness,
) -> None:
    harness.clock.set(local(2024, 5, 17, 9, 0))
    van = await harness.open_invitation("DB032")
    await harness.send(harness.admin().command("/phancong DB032 1.1 25/05 17:00"))
    await upload(harness, van, "bai.docx", docx("v1"))
    await harness.tick()
    for day in (22, 24, 25):
        harness.clock.set(local(2024, 5, day, 8, 0))
        await harness.tick()
    assert reminded(harness, van) == []
    harness.clock.set(local(2024, 5, 25, 17, 0))
    await harness.tick()
    assert [t for t in missing_reports(harness) if "25/5/2024" in t] == [
        "⏰ Đến hạn gửi tham luận (17:00, Thứ Bảy, ngày 25/5/2024): đã nhận 1/1 bài.\n"
        "✅ Đã nhận đủ 1 bài tham luận."
    ]


async def test_a_speaker_with_a_deadline_of_her_own_withdrawn_is_not_reminded_nor_listed(
    harness: BotHarness,
) -> None:
    harness.clock.set(local(2024, 5, 17, 9, 0))
    van = await harness.open_invitation("DB032")
    admin = harness.admin()
    await harness.send(admin.command("/phancong DB032 1.1 25/05 17:00"))
    harness.clock.set(local(2024, 5, 22, 8, 0))
    await harness.tick()
    assert len(reminded(harness, van)) == 1
    harness.clock.set(local(2024, 5, 22, 9, 0))
    await harness.send(admin.command("/phancong huy DB032 1.1"))
    for day in (24, 25):
        harness.clock.set(local(2024, 5, day, 8, 0))
        await harness.tick()
    harness.clock.set(local(2024, 5, 25, 17, 0))
    await harness.tick()
    assert len(reminded(harness, van)) == 1
    assert not any("25/5/2024" in t for t in missing_reports(harness))


async def test_a_speaker_of_several_themes_whose_invitation_is_withdrawn_is_not_reminded(
    harness: BotHarness,
) -> None:
    """Her drafts are no longer taken once the office withdraws her invitation («Giấy mời …
    không còn hiệu lực nên đồng chí không cần gửi bài tham luận»): a reminder asking for one,
    whether chosen after the withdrawal or queued before it, is not sent; invited again, she
    is reminded again."""
    harness.clock.set(local(2024, 5, 17, 9, 0))
    van = await harness.open_invitation("DB032")
    admin = harness.admin()
    await harness.send(admin.command("/phancong DB032 1.1 25/05 17:00"))
    await harness.send(admin.command("/phancong DB032 1.2 25/05 17:00"))
    office = harness.services.access.local_operator()
    harness.clock.set(local(2024, 5, 22, 8, 0))  # her first reminder falls due
    await harness.outbox.queue_due()  # queued, then her invitation is withdrawn
    await harness.services.withdrawals.withdraw(office, "DB032")
    await harness.tick()
    harness.clock.set(local(2024, 5, 24, 8, 0))  # the next, chosen after the withdrawal
    await harness.tick()
    assert reminded(harness, van) == []
    await harness.services.withdrawals.reinvite(office, "DB032")
    harness.clock.set(local(2024, 5, 25, 8, 0))
    await harness.tick()
    assert [t.split("chủ đề ")[1][:3] for t in reminded(harness, van)] == ["1.1", "1.2"]


async def test_two_assignments_re_planned_at_once_keep_both_speakers_reminders(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two assignments with deadlines of their own, re-planned at once in one process (SQLite):
    the one that read the own deadlines first must not sync its stale set last and cancel the
    other speaker's reminders."""
    from bot.services.drafts import assignments as module
    from storage import sharing

    harness.clock.set(local(2024, 5, 17, 9, 0))
    first_syncing, go_on = asyncio.Event(), asyncio.Event()

    class Turn(asyncio.Lock):  # says when a second re-plan waits for the first's turn
        async def acquire(self) -> bool:
            if self.locked():
                go_on.set()
            return await super().acquire()

    engine = sharing.engine_of(harness.services.ctx.sessions)
    monkeypatch.setattr(
        sharing, "LOCAL_TURNS", {engine: {sharing.PLAN_LOCK_KEY: Turn()}}, raising=False
    )
    real, calls = module.sync_planned, []

    async def sync_planned(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # the first re-plan, its own deadlines read, waits for the second
            first_syncing.set()
            await go_on.wait()
        await real(*args, **kwargs)

    monkeypatch.setattr(module, "sync_planned", sync_planned)
    drafts, office = harness.services.drafts, harness.services.access.local_operator()

    async def second() -> None:
        await first_syncing.wait()
        await drafts.assign(office, "DB034", "1.2", local(2024, 5, 26, 17, 0))
        go_on.set()  # without turns, the second re-plan is done before the first syncs

    await asyncio.gather(drafts.assign(office, "DB033", "1.1", local(2024, 5, 25, 17, 0)), second())
    async with harness.services.ctx.sessions() as session:
        planned = await session.scalars(
            select(OutboundMessage.due_at).where(
                OutboundMessage.kind == MessageKind.DRAFT_MISSING,
                OutboundMessage.status == MessageStatus.SCHEDULED,
            )
        )
        due = sorted(planned)
    assert local(2024, 5, 25, 17, 0) in due and local(2024, 5, 26, 17, 0) in due


async def test_an_assignment_whose_reminders_fail_to_re_plan_is_answered_as_made_and_logged(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The assignment committed and the speaker was told: a failure planning her reminders is
    the log's, not the office's answer (the start plans them again)."""
    from bot.services.drafts import assignments as module

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database is locked: 0912345678")

    harness.clock.set(local(2024, 5, 17, 9, 0))
    monkeypatch.setattr(module, "sync_planned", broken)
    admin = harness.admin()
    await harness.send(admin.command("/phancong DB032 1.1 25/05 17:00"))
    assert admin.last_text() == (
        "Đã phân công đồng chí Trần Thị Hồng Vân (Hội LHPN quận Hoàn Kiếm) tham luận chủ đề 1.1;"
        " hạn gửi bài 17:00, Thứ Bảy, ngày 25/5/2024. Bot đã báo người được phân công."
    )
    await harness.send(admin.command("/phancong huy DB032 1.1"))
    assert (
        admin.last_text() == "Đã hủy phân công tham luận chủ đề 1.1 của đồng chí Trần Thị Hồng Vân."
    )
    said = [r.getMessage() for r in caplog.records if r.name == "bot.services.drafts"]
    assert [line for line in said if "re-planned" in line] == [
        "draft reminders not re-planned after a speaker's assignment (RuntimeError); they are"
        " planned again at the next start",
        "draft reminders not re-planned after a speaker's withdrawal (RuntimeError); they are"
        " planned again at the next start",
    ]


async def test_a_later_update_of_her_assignment_does_not_drop_a_reminder_still_to_go(
    harness: BotHarness,
) -> None:
    """Her reminders are planned from the time she was assigned, not from her row's last update
    (a comment, a typed draft): a re-plan after one keeps a reminder due in between, unsent."""
    harness.clock.set(local(2024, 5, 17, 9, 0))
    van = await harness.open_invitation("DB032")
    await harness.send(harness.admin().command("/phancong DB032 1.1 25/05 17:00"))
    await harness.tick()  # the assignment's message
    harness.clock.set(local(2024, 5, 22, 9, 0))  # the bot was down at 08:00, -3d before hers
    async with unit_of_work(harness.services.ctx.sessions) as session:
        row = await session.scalar(
            select(SpeechAssignment).where(SpeechAssignment.source == "deadline")
        )
        assert row is not None
        row.updated_at = local(2024, 5, 22, 8, 30)  # e.g. a comment from the office
    await harness.plan(MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING)  # the restart
    await harness.tick()
    assert len(reminded(harness, van)) == 1


def test_drafts_export_approved_without_a_file_leaves_it_out_as_the_dashboard_zip_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _office_with_drafts(tmp_path, monkeypatch)
    asyncio.run(_approve(tmp_path, "DB031"))
    asyncio.run(_approve(tmp_path, "DB036"))
    # The database came back from a backup, the Ba Đình file did not.
    (tmp_path / "tham-luan" / (digest := hashlib.sha256(docx("bản hai")).hexdigest())[:2]
     / digest[2:4] / digest).unlink()  # fmt: skip
    capsys.readouterr()

    assert main(["drafts", "export", "xuat", "--approved"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == (
        "Đã xuất 1 bản tham luận đã chốt và danh sách danh-sach.csv vào xuat."
    )
    assert captured.err.splitlines()[0] == (
        "Thiếu tệp: bản 2 tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận "
        "Ba Đình), tệp «bai.docx»."
    )
    out = tmp_path / "xuat"
    rows = list(csv.reader(io.StringIO((out / "danh-sach.csv").read_text("utf-8-sig"))))
    assert [row[:3] for row in rows[1:]] == [
        ["1", "thiếu tệp trên máy chủ", "1.1"],
        ["2", "02-1.2-DB036-Vu-Thi-My-Hanh.txt", "1.2"],
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "02-1.2-DB036-Vu-Thi-My-Hanh.txt",
        "danh-sach.csv",
    ]


async def _approve(folder: Path, code: str) -> None:
    """The office approves ``code``'s newest version, from the server's own command line."""
    loaded = load_config(folder / "config.toml")
    engine = create_engine(loaded.database_url)
    try:
        services = await build_services(
            loaded.config,
            create_sessionmaker(engine),
            ManualClock(local(2024, 5, 18, 10, 30)),
            files=FileStore(loaded.drafts_dir),
        )
        [line] = [line for line in await services.drafts.board() if line.code == code]
        [newest, *_] = await services.drafts.versions(line.id)
        operator = services.access.local_operator()
        await services.drafts.set_verdict(operator, newest.id, DraftStatus.FINAL)
    finally:
        await engine.dispose()


def test_drafts_export_approved_writes_only_the_approved_versions_named_as_the_dashboard_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _office_with_drafts(tmp_path, monkeypatch)
    asyncio.run(_approve(tmp_path, "DB031"))  # DB036's typed draft waits for the office

    assert main(["drafts", "export", "xuat", "--approved"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã xuất 1 bản tham luận đã chốt và danh sách danh-sach.csv vào xuat."
    )
    out = tmp_path / "xuat"
    assert sorted(p.name for p in out.iterdir()) == [
        "01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx",
        "danh-sach.csv",
    ]
    assert (out / "01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx").read_bytes() == docx("bản hai")
    rows = list(csv.reader(io.StringIO((out / "danh-sach.csv").read_text("utf-8-sig"))))
    assert rows[1][:3] == ["1", "01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx", "1.1"]
    assert rows[1][4:] == [
        "Nguyễn Thị Lan Phương",
        "Hội LHPN quận Ba Đình",
        "DB031",
        "2",
        "18/05/2024 10:30",
        "Dòng lệnh hoinghi",  # as Nhật ký names the server's command line
    ]


async def test_a_first_assignment_racing_another_process_s_is_answered_as_already_assigned(
    imported: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes assign DB010 to 1.1 at once on PostgreSQL: both read no row, the second
    insert meets the first's unique key. The second is answered as a repeat, not an error."""
    from bot.services.drafts import AssignOutcome
    from bot.services.drafts.assignments import Assignments

    office = imported.access.local_operator()
    first = await imported.drafts.assign(office, "DB010", "1.1")
    assert first.outcome is AssignOutcome.ASSIGNED
    real = Assignments._target
    reads = 0

    async def read_before_the_other_commit(self: Any, session: Any, code: str, key: str) -> Any:
        nonlocal reads
        reads += 1
        found = await real(self, session, code, key)
        return (found[0], None) if reads == 1 else found  # the first read saw no row yet

    monkeypatch.setattr(Assignments, "_target", read_before_the_other_commit)
    second = await imported.drafts.assign(office, "DB010", "1.1")
    assert (second.outcome, reads) == (AssignOutcome.ALREADY, 2)
    assert second.draft is not None and second.draft.code == "DB010"
    # Beside DB031, the plan's speaker of 1.1 (the import assigned her).
    assert [line.code for line in await imported.drafts.board() if line.theme_key == "1.1"] == [
        "DB031", "DB010",
    ]  # fmt: skip


async def test_a_withdrawn_invitee_s_file_in_chat_is_refused_with_the_withdrawal_and_not_stored(
    harness: BotHarness,
) -> None:
    # Her page says she need not send her speech; a file she sent in chat was still stored as a
    # new version, receipted «✅ Đã nhận bản 2» and posted to the office as a new draft.
    user = await speaker(harness)
    assert (await upload(harness, user, "Bản 1.docx", docx("bản 1"))).startswith("✅ Đã nhận bản 1")
    services = harness.services
    await services.withdrawals.withdraw(services.access.local_operator(), "DB031", "Mời nhầm")
    posted = len(office_posts(harness))
    answer = await upload(harness, user, "Bản 2.docx", docx("bản 2"))
    assert answer == (
        "Giấy mời gửi đồng chí không còn hiệu lực nên đồng chí không cần gửi bài tham luận; nội"
        " dung vừa gửi không được tiếp nhận. Các bản đồng chí đã gửi trước đó (nếu có) vẫn được"
        " Văn phòng lưu giữ. Cần trao đổi, xin liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn"
        " phòng, điện thoại 024 3834 5678."
    )
    assert [v.number for v in await versions(harness)] == [1]
    assert len(office_posts(harness)) == posted
