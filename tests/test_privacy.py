"""Privacy after the meeting: an online backup of the database, a documented restore, and the
purge of personal data that keeps the list, the answers and the counts."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.domain.channels import ChatAccount
from bot.domain.rsvp import RsvpAnswer, RsvpChoice, RsvpStatus
from bot.services.privacy import ERASED, PurgeStep
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    Delivery,
    DraftVersion,
    Rsvp,
    SpeechAssignment,
)
from tests.conftest import EXAMPLE_DELEGATES, EXAMPLE_MEETING
from tests.harness import BotHarness
from tests.test_drafts import DOCX, _submit_drafts, docx


def test_backup_copies_the_database_and_the_documented_restore_works(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    # A mistyped folder is named, not created.
    assert main(["db", "backup", "sao-luu/hoinghi-28-5.db"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Thư mục sao-luu chưa có nên chưa sao lưu vào sao-luu/hoinghi-28-5.db. Đề nghị kiểm tra "
        "lại đường dẫn, hoặc tạo thư mục trước."
    )
    assert not (office / "sao-luu").exists()
    (office / "sao-luu").mkdir()
    assert main(["db", "backup", "sao-luu/hoinghi-28-5.db"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3].startswith("Đã sao lưu cơ sở dữ liệu vào sao-luu/hoinghi-28-5.db (")
    assert out[-1].startswith("Khôi phục: dừng bot, xóa ")
    with sqlite3.connect(office / "sao-luu" / "hoinghi-28-5.db") as db:
        assert db.execute("SELECT count(*) FROM delegates").fetchone() == (80,)
    # A second backup never overwrites the first.
    assert main(["db", "backup", "sao-luu/hoinghi-28-5.db"]) == 2
    assert "đã có" in capsys.readouterr().err
    # Restore as docs/operations.md says: the database is lost, the backup is copied back, the bot
    # works.
    (office / "hoinghi.db").unlink()
    for extra in ("hoinghi.db-wal", "hoinghi.db-shm"):
        (office / extra).unlink(missing_ok=True)
    shutil.copy(office / "sao-luu" / "hoinghi-28-5.db", office / "hoinghi.db")
    assert main(["report", "bao-cao.xlsx"]) == 0
    assert "80 đại biểu" in capsys.readouterr().out


def test_a_backup_that_cannot_be_written_whole_leaves_no_half_of_it(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk while the files were copied: a traceback, the database copy kept beside a
    # half-filled folder, and the same name refused on the next try.
    import shutil

    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    asyncio.run(_submit_drafts(office))
    capsys.readouterr()

    def full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(shutil, "copy2", full)
        assert main(["db", "backup", "sao-luu.db"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Chưa sao lưu được (No space left on device); đã xóa phần đã chép (sao-luu.db, thư mục "
        "sao-luu-tham-luan) để không để lại một bản sao lưu thiếu. Đề nghị kiểm tra chỗ trống "
        "trên ổ đĩa và quyền ghi vào thư mục, rồi chạy lại."
    )
    assert not (office / "sao-luu.db").exists() and not (office / "sao-luu-tham-luan").exists()
    assert main(["db", "backup", "sao-luu.db"]) == 0  # the same name, once there is room


def test_backup_copies_the_drafts_folder_and_its_restore_names_it(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    asyncio.run(_submit_drafts(office))
    (office / "sao-luu").mkdir()
    capsys.readouterr()
    assert main(["db", "backup", "sao-luu/sao-luu-2.db"]) == 0
    out = capsys.readouterr().out.splitlines()
    db = office / "hoinghi.db"
    assert out[-2] == (
        f"Đã chép 3 tệp tham luận, sản phẩm nhiệm vụ và tài liệu hội nghị (5 KB) từ "
        f"{office / 'tham-luan'} vào thư mục sao-luu/sao-luu-2-tham-luan."
    )
    assert out[-1] == (
        f"Khôi phục: dừng bot, xóa {db}-wal và {db}-shm (nếu có), chép "
        f"sao-luu/sao-luu-2.db thành {db}, chép thư mục sao-luu/sao-luu-2-tham-luan thành "
        f"thư mục {office / 'tham-luan'}, rồi chạy lại bot. Tệp tham luận, sản phẩm nhiệm vụ và "
        "tài liệu hội nghị không nằm trong cơ sở dữ liệu: thiếu thư mục này thì không mở, không "
        "xuất được các tệp đó."
    )
    # A second backup under the same name overwrites neither the database nor the files.
    (office / "sao-luu" / "sao-luu-2.db").rename(office / "sao-luu" / "cu.db")
    assert main(["db", "backup", "sao-luu/sao-luu-2.db"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Thư mục sao-luu/sao-luu-2-tham-luan đã có; đề nghị chọn tên tệp sao lưu mới để không "
        "ghi đè bản sao lưu cũ."
    )
    assert not (office / "sao-luu" / "sao-luu-2.db").exists()
    (office / "sao-luu" / "cu.db").rename(office / "sao-luu" / "sao-luu-2.db")

    # A new machine, restored as printed: the plan, the database and the files folder.
    new = office / "may-moi"
    new.mkdir()
    shutil.copy(office / "config.toml", new / "config.toml")
    shutil.copy(office / "sao-luu" / "sao-luu-2.db", new / "hoinghi.db")
    shutil.copytree(office / "sao-luu" / "sao-luu-2-tham-luan", new / "tham-luan")
    os.chdir(new)
    assert main(["drafts", "export", "xuat"]) == 0
    assert sorted(p.name for p in (new / "xuat").iterdir()) == [
        "Hội LHPN quận Ba Đình - chủ đề 1.1 - bản 2.docx",
        "Hội LHPN quận Đống Đa - chủ đề 1.2 - bản 1.txt",
        "danh-muc-tham-luan.xlsx",
    ]


def test_backup_without_a_database_says_so(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "backup", "x.db"]) == 2
    assert capsys.readouterr().err.startswith("Chưa có cơ sở dữ liệu tại ")


async def test_purge_is_refused_before_the_meeting_ends(harness: BotHarness) -> None:
    await harness.open_invitation("DB001")
    summary = await harness.services.privacy.purge(drafts=True)
    assert summary.step is PurgeStep.NOT_OVER
    async with harness.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ChannelIdentity)) == 1


async def test_purge_counts_chat_accounts_apart_from_personal_pages_opened(
    harness: BotHarness,
) -> None:
    """«tài khoản đã liên kết: 76» while 10 chat accounts were linked: every personal page
    opened was counted as a linked account."""
    await harness.open_invitation("DB031")  # a chat account
    for code in ("DB031", "DB032", "DB033"):  # three pages opened
        opened = await harness.services.invitations.open_page(
            harness.tokens[code], channel="web", client="c"
        )
        assert opened.delegate is not None
    harness.clock.set(harness.services.config.meeting.ends_at)
    preview = await harness.services.privacy.preview(drafts=False)
    assert (preview.accounts, preview.pages) == (1, 3)
    summary = await harness.services.privacy.purge(drafts=False)
    assert (summary.accounts, summary.pages) == (1, 3)
    async with harness.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ChannelIdentity)) == 0


async def test_purge_removes_personal_data_and_keeps_the_answers_and_counts(
    harness: BotHarness,
) -> None:
    speaker = await harness.open_invitation("DB031")
    await harness.send(
        speaker.tap(
            "✅ Tham dự",
            message=next(m for m in speaker.messages if "✅ Tham dự" in str(m.get("reply_markup"))),
        )
    )
    await harness.send(speaker.document("bai.docx", docx("v1"), DOCX))
    await harness.tick()
    before = await harness.services.reports.counts()
    [version] = await _all(harness, DraftVersion)
    blob = harness.services.drafts.files.path_for(version.sha256)
    assert blob.exists()

    harness.clock.set(harness.services.config.meeting.ends_at)
    preview = await harness.services.privacy.preview(drafts=True)
    assert preview.step is PurgeStep.PREVIEW
    assert await _all(harness, DraftVersion) != []  # a preview removes nothing
    summary = await harness.services.privacy.purge(drafts=True)
    assert summary.step is PurgeStep.PURGED
    assert dataclasses.replace(preview, step=PurgeStep.PURGED) == summary  # what it said it would
    assert (summary.accounts, summary.drafts, summary.links) == (1, 1, 80)
    assert summary.phones == sum(1 for row in _rows() if row)

    after = await harness.services.reports.counts()
    assert after.overall.by_status == before.overall.by_status  # the answers stay
    assert after.overall.linked == 0
    async with harness.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).where(Delegate.phone.is_not(None))) == 0
        assert (
            await session.scalar(
                select(func.count()).where(
                    Delivery.delegate_id.is_not(None), Delivery.chat_address.is_not(None)
                )
            )
            == 0  # the office group's own deliveries keep their address
        )
        actors = set(await session.scalars(select(AuditEntry.actor)))
    assert f"telegram:{speaker.id}" not in actors and f"telegram:{ERASED}" in actors
    assert await _all(harness, DraftVersion) == [] and not blob.exists()
    # The old personal link no longer works.
    stranger = harness.new_user()
    await harness.send(stranger.command(f"/start {harness.tokens['DB031']}"))
    assert stranger.last_text().startswith("Đường liên kết này không đúng hoặc đã hết hiệu lực")


async def test_purge_with_drafts_leaves_no_text_of_a_speech_typed_and_never_finished(
    harness: BotHarness,
) -> None:
    """A speech typed as messages and never finished («Xong, gửi bản này» not chosen) stays on
    her assignment as its pieces: `purge --drafts` removed the versions and the thread and left
    that text in the database. Without --drafts it is kept, as the drafts are."""
    speaker = await harness.open_invitation("DB031")
    await harness.send(speaker.command("/thamluan"))
    await harness.send(speaker.tap("✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(speaker.text("Kính thưa Đoàn Chủ tịch, phần một của bài"))
    harness.clock.set(harness.services.config.meeting.ends_at)

    await harness.services.privacy.purge(drafts=False)
    assert [row.text_buffer for row in await _all(harness, SpeechAssignment) if row.text_buffer]
    await harness.services.privacy.purge(drafts=True)
    assert [row.text_buffer for row in await _all(harness, SpeechAssignment)] == [None] * 10


async def test_purge_says_it_keeps_the_names_the_desk_wrote_for_guests_and_substitutes(
    harness: BotHarness,
) -> None:
    """The re-test's `purge --dry-run` listed nothing of the check-ins, where the desk wrote
    guests' and substitutes' names, positions and units: they are kept (the record of who was
    at the meeting), and the preview and the purge's last lines say so, with how many."""
    from bot.cli.db import _checkins_kept, _purge_preview
    from bot.texts import load_catalog

    services = harness.services
    harness.clock.set(services.config.meeting.starts_at)
    desk = services.access.office_desk(services.access.local_operator(), "Bàn 1")
    await services.checkin.check_in(desk, "DB001")
    await services.checkin.check_in(desk, "DB003", substitute_name="Lê Thị Hoa")
    await services.checkin.guest(desk, "Hoàng Văn Nam", organization="Báo Hà Nội Mới")
    harness.clock.set(services.config.meeting.ends_at)
    preview = await services.privacy.preview(drafts=False)
    assert (preview.guests, preview.substitutes) == (1, 1)
    kept = (
        "Giữ lại cùng danh sách điểm danh (hồ sơ những ai có mặt tại hội nghị): họ tên, chức vụ,"
        " đơn vị của 1 khách và 1 người dự thay do bàn đón tiếp ghi."
    )
    assert _purge_preview(load_catalog("vi"), preview, drafts=False)[-1] == kept
    summary = await services.privacy.purge(drafts=False)
    assert _checkins_kept(load_catalog("vi"), summary) == [kept]
    hall = await services.checkin.count()
    assert (hall.present, len(hall.guests)) == (2, 1)  # what it said it keeps, it keeps


async def test_purge_erases_a_zalo_account_s_id_from_the_audit_log_as_telegram_s(
    harness: BotHarness,
) -> None:
    # Zalo's ids are opaque hex, not numbers: «zalo:<id>» stayed in the audit log as who linked
    # and who answered, after the purge had said the accounts were removed.
    zalo = ChatAccount("zalo", "9f3ab2c41d0e7a6b5c4d", "9f3ab2c41d0e7a6b5c4d")
    services = harness.services
    await services.invitations.link_by_token(zalo, harness.tokens["DB001"])
    await services.rsvp.choose(zalo, RsvpChoice.ATTEND)
    async with services.ctx.sessions() as session:
        before = set(await session.scalars(select(AuditEntry.actor)))
    assert f"zalo:{zalo.external_id}" in before
    harness.clock.set(services.config.meeting.ends_at)
    preview = await services.privacy.preview(drafts=False)
    summary = await services.privacy.purge(drafts=False)
    assert summary.audit_entries == preview.audit_entries >= 2
    async with services.ctx.sessions() as session:
        actors = set(await session.scalars(select(AuditEntry.actor)))
    assert not any(zalo.external_id in actor for actor in actors)
    assert f"zalo:{ERASED}" in actors
    # The core's own actors (the command line, the plan, the dashboard's staff) stay as written.
    own = {a for a in before if a.partition(":")[0] not in ("telegram", "zalo", "web")}
    assert own and own <= actors


async def test_purge_removes_the_phone_a_substitute_gave_from_her_answer_and_the_audit_log(
    harness: BotHarness,
) -> None:
    services = harness.services
    async with services.ctx.sessions() as session:
        person = (await session.scalars(select(Delegate).where(Delegate.code == "DB001"))).one()
    answer = RsvpAnswer(
        RsvpStatus.SUBSTITUTE,
        substitute_name="Nguyễn Thị Lan",
        substitute_position="Phó Chủ tịch",
        substitute_unit="Hội LHPN quận",
        substitute_phone="+84912345678",
    )
    await services.rsvp.record_by_phone(services.access.local_operator(), person.id, answer)
    harness.clock.set(services.config.meeting.ends_at)
    phones_of_the_list = sum(1 for row in _rows() if row)
    preview = await services.privacy.preview(drafts=False)
    assert preview.phones == phones_of_the_list + 1
    summary = await services.privacy.purge(drafts=False)
    assert summary.phones == phones_of_the_list + 1
    async with services.ctx.sessions() as session:
        row = (await session.scalars(select(Rsvp).where(Rsvp.delegate_id == person.id))).one()
        entries = list(await session.scalars(select(AuditEntry)))
    assert row.substitute_phone is None
    assert (row.substitute_name, row.substitute_unit) == ("Nguyễn Thị Lan", "Hội LHPN quận")
    assert not any("+84912345678" in str((e.before, e.after)) for e in entries)
    assert any(
        isinstance(e.after, dict) and e.after.get("substitute_phone") == ERASED for e in entries
    )


async def _all(harness: BotHarness, model: type) -> list:  # type: ignore[type-arg]
    async with harness.services.ctx.sessions() as session:
        return list(await session.scalars(select(model)))


def _rows() -> list[str]:
    import csv

    with EXAMPLE_DELEGATES.open(encoding="utf-8", newline="") as fh:
        return [row["Điện thoại"] for row in csv.DictReader(fh)]


# --- purge from the command line: it says what goes, and removes it only on a clear yes ------------


class Terminal(io.StringIO):
    """Standard input as a person at a terminal types it."""

    def isatty(self) -> bool:
        """A terminal, so a command may ask."""
        return True


def stored_phones(folder: Path) -> int:
    """Delegates whose phone number is still in the office's database."""
    with sqlite3.connect(folder / "hoinghi.db") as db:
        return int(
            db.execute("SELECT count(*) FROM delegates WHERE phone IS NOT NULL").fetchone()[0]
        )


PHONES = sum(1 for phone in _rows() if phone)
PREVIEW = [
    EXAMPLE_MEETING,  # several meetings may share the database: the one purged is named
    "Dữ liệu cá nhân sẽ bị xóa:",
    f"  - số điện thoại: {PHONES}",
    "  - tài khoản trò chuyện đã liên kết (Telegram, Zalo): 0",
    "  - bản ghi người đã mở trang cá nhân (không phải tài khoản trò chuyện): 0",
    "  - địa chỉ nhận tin của các lượt gửi: 0",
    "  - đường liên kết cá nhân (sẽ hết hiệu lực): 80",
    "  - lần mở sai đường liên kết (ghi kèm tài khoản): 0",
    # The entries adding a delegate with a phone: it is masked there, and still goes.
    f"  - dòng nhật ký ghi mã tài khoản hoặc số điện thoại (được thay bằng «đã-xóa»): {PHONES}",
]


def test_purge_dry_run_counts_each_kind_and_removes_nothing(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0  # the meeting is over
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))  # a dry run asks nothing
    assert main(["purge", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        *PREVIEW,
        "Các bản tham luận và góp ý được giữ lại (thêm --drafts để xóa cả tham luận).",
        "Giữ lại: danh sách đại biểu, nội dung trả lời (kể cả họ tên, chức vụ, đơn vị của người"
        " dự thay đại biểu đã báo) và số liệu tổng hợp.",
        "Chạy thử (--dry-run): chưa xóa gì.",
    ]
    assert main(["purge", "--dry-run", "--drafts"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[len(PREVIEW) : len(PREVIEW) + 2] == [
        "  - bản tham luận đã gửi (cả tệp): 0",
        "  - góp ý, trao đổi về tham luận: 0",
    ]
    assert stored_phones(office) == PHONES


def test_purge_without_a_terminal_or_yes_refuses_and_removes_nothing(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # a pipe says nothing of consent
    assert main(["purge"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines()[: len(PREVIEW)] == PREVIEW
    assert captured.err.strip() == (
        "Chưa xóa gì: lệnh không chạy tại terminal nên không hỏi xác nhận được. Thêm --yes để "
        "xóa, hoặc --dry-run để chỉ xem những gì sẽ bị xóa."
    )
    assert stored_phones(office) == PHONES


def test_purge_at_a_terminal_removes_only_after_yes(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    prompt = (
        "Xóa vĩnh viễn các dữ liệu trên? Không thể hoàn tác; nên sao lưu trước bằng "
        "`hoinghi db backup`. Gõ y để xóa [y/N]: "
    )
    for answer in ("\n", "n\n", "khong\n", ""):  # Enter, no, anything else, end of input
        monkeypatch.setattr(sys, "stdin", Terminal(answer))
        assert main(["purge"]) == 1
        out = capsys.readouterr().out
        assert prompt in out and out.endswith("Chưa xóa gì.\n")
        assert stored_phones(office) == PHONES
    monkeypatch.setattr(sys, "stdin", Terminal("có\n"))
    assert main(["purge"]) == 0
    out = capsys.readouterr().out
    assert prompt in out and f"Đã xóa dữ liệu cá nhân: {PHONES} số điện thoại" in out
    assert stored_phones(office) == 0


def test_purge_asked_with_config_suggests_the_backup_of_that_plan_s_database(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (office / "config.toml").rename(office / "ke-hoach.toml")
    assert main(["--config", "ke-hoach.toml", "delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert main(["--config", "ke-hoach.toml", "purge"]) == 1
    assert (
        "Xóa vĩnh viễn các dữ liệu trên? Không thể hoàn tác; nên sao lưu trước bằng "
        "`hoinghi --config ke-hoach.toml db backup`. Gõ y để xóa [y/N]: "
    ) in capsys.readouterr().out
    assert stored_phones(office) == PHONES


def test_purge_with_yes_removes_without_asking(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["purge", "--yes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[: len(PREVIEW)] == PREVIEW and "Gõ y để xóa" not in "".join(out)
    assert out[-1].startswith(f"Đã xóa dữ liệu cá nhân: {PHONES} số điện thoại")
    assert stored_phones(office) == 0
    # Once purged, nothing is left to count: a second look says so.
    assert main(["purge", "--dry-run"]) == 0
    assert [line.rsplit(": ", 1)[-1] for line in capsys.readouterr().out.splitlines()[2:8]] == [
        "0"
    ] * 6
