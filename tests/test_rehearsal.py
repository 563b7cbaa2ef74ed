"""``hoinghi rehearse``: the whole example plan on the simulated Telegram, as CI's smoke test."""

from __future__ import annotations

import asyncio
import csv
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from bot.config import Config, load_config
from bot.domain.outbound import MessageKind, MessageStatus
from bot.texts import Catalog, load_catalog
from rehearsal import Rehearsal, rehearse
from storage.engine import create_engine, create_sessionmaker
from storage.guard import DatabaseLock
from storage.models import OutboundMessage
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, ROOT

# The whole plan played, many times: `make test-slow`.
pytestmark = pytest.mark.slow

EXAMPLE_CONTACTS = ROOT / "examples" / "contacts.csv"


@dataclass(frozen=True)
class Played:
    """A rehearsal of the example plan, with its folder (database and report) kept."""

    result: Rehearsal
    folder: Path
    config: Config
    catalog: Catalog


def play(folder: Path, delegates: Path = EXAMPLE_DELEGATES, contacts: Path | None = None) -> Played:
    """Rehearse the example plan with ``delegates`` (and ``contacts``) in ``folder``."""
    loaded = load_config(EXAMPLE_CONFIG)
    catalog = load_catalog(loaded.config.meeting.locale)
    result = asyncio.run(
        rehearse(
            loaded,
            catalog,
            delegates=delegates,
            contacts=contacts,
            report=folder / "bao-cao-dien-tap.xlsx",
            workdir=folder,
        )
    )
    return Played(result, folder, loaded.config, catalog)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Played:
    """The example plan and lists, rehearsed once for the tests that read its results."""
    return play(tmp_path_factory.mktemp("dien-tap"), contacts=EXAMPLE_CONTACTS)


async def stored_messages(folder: Path) -> list[OutboundMessage]:
    """Every outbound message the rehearsal left in its database."""
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'dien-tap.db'}")
    try:
        async with create_sessionmaker(engine)() as session:
            return list(await session.scalars(select(OutboundMessage)))
    finally:
        await engine.dispose()


def test_rehearsal_plays_the_example_plan_and_passes_every_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml here: the example plan is used
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["-v", "rehearse"]) == 0  # -v: debug logs too, for the privacy check below
    captured = capsys.readouterr()
    out, logs = captured.out, captured.err
    lines = out.splitlines()
    assert lines[0].startswith("🎬 Diễn tập kế hoạch ") and "config.example.toml" in lines[0]
    assert lines[1] == (
        "[29/04 08:00] Văn phòng nhập danh sách (80 đại biểu, 8 đầu mối nhiệm vụ) và phát hành "
        "giấy mời kèm đường liên kết cá nhân."
    )
    # The real thing happened, in plan time, to people marked as simulated.
    assert "Đại biểu DB001 Phạm Thị Thanh Mai (mô phỏng) mở đường liên kết" in out
    assert "[18/05 08:00] Bot gửi xong nhắc xác nhận tham dự" in out
    assert "Văn phòng (mô phỏng) trả lời bài đăng tham luận của DB031 để góp ý" in out
    assert "Đại biểu DB031 (mô phỏng) gửi tham luận chủ đề 1.1, bản 2." in out
    assert "[28/05 06:30] Bot gửi xong chương trình ngày hội nghị: " in out
    assert "Tình hình cuối cùng (lệnh /thongke của Văn phòng):" in out
    # A third of the delegates on Zalo: linked by the code they type, served by the outbox.
    assert (
        "[29/04 09:02] Đầu mối NV03 Lê Thị Thanh Nga (mô phỏng) nhắn mã cá nhân cho bot trên Zalo "
        "để liên kết." in lines
    )
    assert (
        "[30/04 13:30] Đại biểu DB012 Cao Thị Ngọc Lan (mô phỏng) nhắn mã cá nhân cho bot trên Zalo"
        " để liên kết, rồi trả lời bằng số hoặc bằng chữ: báo không tham dự, có lý do." in lines
    )
    assert (
        "[30/04 10:00] Đầu mối NV03 (mô phỏng) báo trên Zalo nhiệm vụ VI.1.1: đã hoàn thành." in out
    )
    assert "Văn phòng (mô phỏng) trả lời bài đăng tham luận của DB042 để góp ý" in out
    assert (
        "✓ Zalo: 28 người liên kết bằng mã cá nhân, 24 trả lời giấy mời bằng số hoặc bằng chữ; "
        "94 lượt nhắc, thông báo và chương trình ngày họp gửi qua Zalo như qua Telegram (không gửi "
        "được: 0); tin dài nhất 1569/2.000 ký tự, 0 tệp; mất 0, lặp 0; hạn mức: bot đếm 111 tin "
        "trả lời (các tháng), Zalo mô phỏng đã nhận 111; góp ý của Văn phòng về tham luận soạn "
        "trên Zalo đã tới người viết: có" in lines
    )
    # The office's /thongke: the month's deliveries and replies against the allowance.
    assert "Zalo: 28/50 người, 223/3.000 tin tháng 5 (trong đó 87 tin trả lời)" in lines
    assert "✓ Mọi lệnh gửi Zalo đúng các phương thức của Zalo Bot API (vi phạm: 0)" in lines
    # Those expected who came, over those expected; one who had declined and came, apart.
    assert (
        "✓ Điểm danh ngày họp: 66/66 đại biểu dự kiến có mặt đã đến (trong đó 11 người dự "
        "thay), 1 đại biểu đã báo vắng vẫn đến" in lines
    )
    assert "✗" not in out
    assert lines[-1].startswith("✅ Diễn tập thành công")
    # The office report is written; nothing real was touched.
    book = load_workbook(tmp_path / "bao-cao-dien-tap.xlsx")
    assert book["Đại biểu"].max_row == 81
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bao-cao-dien-tap.xlsx"]
    # Privacy: the logs of the whole plan hold no token, no full phone number, no message body.
    assert " DEBUG " in logs
    assert "TEST-TOKEN" not in logs
    with EXAMPLE_DELEGATES.open(encoding="utf-8", newline="") as fh:
        phones = [row["Điện thoại"] for row in csv.DictReader(fh) if row["Điện thoại"]]
    assert len(phones) > 50
    for raw in phones:
        if raw:
            local = "0" + "".join(ch for ch in raw if ch.isdigit())[-9:]
            for shape in (raw, local, "+84" + local[1:]):
                assert shape not in logs, f"a phone number is in the logs: {shape[:4]}…"
    for body in (
        "Trùng lịch công tác đã bố trí trước",  # a decline reason
        "Kính mời các đồng chí đến sớm 15 phút",  # the office's notice
        "Đề nghị đồng chí bổ sung số liệu năm 2023",  # a comment on a draft
        "Cần thêm kinh phí in ấn tài liệu",  # a request for help
    ):
        assert body not in logs


def test_rehearsal_without_the_delegate_list_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    assert main(["rehearse", "--delegates", "khong-co.csv"]) == 2
    assert capsys.readouterr().err.strip() == "Không tìm thấy tệp khong-co.csv."


def test_rehearsal_under_faults_loses_nothing_and_repeats_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The simulated Bot API answers 10% of every call the bot makes with a 502, times out 3%
    and starts 429 bursts at 1% — the outbox's sends and the bot's own replies alike — the bot
    is killed around sends at random (at least 20 times) and restarted from the database, three
    delegates block the bot: every step still happens, every delivery settles, nothing fails
    for good, repeats stay within kills × one batch, every acknowledged answer is stored and
    nothing unacknowledged is stored wrongly, the blocked are reported. The simulated Zalo fails
    the outbox's Zalo sends at the same rates, delivers some typed messages twice (the copies
    must go unanswered), refuses some of the bot's Zalo replies for a few seconds (each must
    still arrive, retried) and one of the blockers is on Zalo. Meanwhile the office's
    real bot runs on the plan's database: the rehearsal, on a database of its own, goes on."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8"
    )
    running_bot = DatabaseLock(f"sqlite+aiosqlite:///{tmp_path / 'hoinghi.db'}", "run")
    asyncio.run(running_bot.acquire())
    try:
        code = main(["rehearse", "--faults"])
    finally:
        asyncio.run(running_bot.release())
    out = capsys.readouterr().out
    assert code == 0, [line for line in out.splitlines() if line.startswith("✗")]
    lines = out.splitlines()
    assert "⚡ Tiến trình bot bị dừng đột ngột (mô phỏng) và khởi động lại" in out
    kills = next(line for line in lines if line.startswith("✓ Bot bị dừng đột ngột"))
    assert int(kills.split("khởi động lại ")[1].split()[0]) >= 20
    faults = re.search(
        r"✓ Telegram mô phỏng báo lỗi (\d+) lần khi bot gửi tin hàng loạt .* và (\d+) lần khi bot "
        r"trả lời trực tiếp",
        out,
    )
    assert faults is not None
    assert int(faults[1]) > 0 and int(faults[2]) > 0  # the bot's own replies were hit too
    # A send (Telegram or Zalo) with no answer twice may have arrived: settled, and named to the office.
    assert re.search(
        r"✓ Mọi lượt gửi đã có kết quả \(đang dở: 0, lỗi hẳn: 0; Telegram hoặc Zalo không trả lời hai lần gửi,"
        r" có thể đã nhận: \d+, chưa báo Văn phòng: 0\)",
        out,
    )
    assert "✓ Mọi trả lời đã được bot xác nhận đều có trong cơ sở dữ liệu (mất: 0)" in out
    assert any(line.startswith("✓ Đã đối chiếu ") and line.endswith("(sai: 0)") for line in lines)
    assert "✓ 3 đại biểu chặn bot đều được báo cho Văn phòng (chưa báo: 0)" in out
    assert "✓ Tin gửi lặp lại: " in out and "✗" not in out
    zalo = re.search(
        r"^✓ Zalo: .*; mất 0, lặp \d+; .*; Zalo mô phỏng báo lỗi (\d+) lần khi bot gửi tin hàng "
        r"loạt \(.*\), (\d+) tin nhắn tới bot hai lần \(bot trả lời bản sao: 0\), 1 người chặn bot; "
        r"Zalo mô phỏng từ chối (\d+) lần tin trả lời của bot \(429, 5xx\), bot gửi lại (\d+) lần, "
        r"tin trả lời không tới: 0$",
        out,
        re.MULTILINE,
    )
    assert zalo is not None
    assert int(zalo[1]) > 0 and int(zalo[2]) > 0
    assert int(zalo[3]) > 0 and zalo[3] == zalo[4]  # the replies were hit, each retried


def test_a_rehearsal_under_faults_tells_the_same_story_twice_from_one_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make rehearse-faults`` before and after a change is how a refactoring shows it kept
    the behaviour: its figures must not move from one run to the next. They did (repeats 11 to
    14, the office group's 40 or 41 messages): the channels send side by side and took the
    kills' rolls from one die in the order their database calls happened to end, and a kill on
    one channel cut the other's send wherever it was."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8"
    )
    stories = []
    for _ in range(2):
        assert main(["rehearse", "--faults", "--force"]) == 0
        stories.append(capsys.readouterr().out.splitlines())
    first, second = stories
    assert sum(line.startswith("[") for line in first) > 200  # the transcript, step by step
    assert any(line.startswith("✓ Tin gửi lặp lại: ") for line in first)
    assert first == second


def test_a_list_the_import_would_refuse_is_refused_with_its_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows the import would refuse were dropped without a word, so an office rehearsed a
    list it could not import and saw checks fail for people it thought were on it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    (tmp_path / "thieu-cot.csv").write_text("Mã,Họ và tên\nDB001,Phạm Thị Thanh Mai\n", "utf-8")
    assert main(["rehearse", "--delegates", "thieu-cot.csv"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "Chưa diễn tập được với tệp thieu-cot.csv: có 3 lỗi cần sửa, như khi nhập bằng lệnh "
        "hoinghi delegates import:",
        "  - Cột «Chức vụ»: thiếu cột bắt buộc.",
        "  - Cột «Đơn vị»: thiếu cột bắt buộc.",
        "  - Cột «Nhóm»: thiếu cột bắt buộc: danh sách không có cột «Vai trò» nên mọi người trong "
        "danh sách được coi là đại biểu, và đại biểu cần có nhóm. Đề nghị thêm cột «Nhóm»; nếu "
        "đây là danh sách người đầu mối, thêm cột «Vai trò» ghi «đầu mối» thì không cần cột "
        "«Nhóm».",
    ]


def test_a_contacts_file_that_does_not_exist_is_named_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    code = main(["rehearse", "--delegates", str(EXAMPLE_DELEGATES), "--contacts", "dau-moi.csv"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "Không tìm thấy tệp dau-moi.csv."


async def test_the_transcript_tells_each_finished_message_once(example: Played) -> None:
    """The meeting's start is also the last planned time (the overdue report of 28/05 08:00):
    the second tick there told that report again, as if the office had got it twice."""
    catalog, meeting = example.catalog, example.config.meeting
    expected: Counter[str] = Counter()
    for message in await stored_messages(example.folder):
        if message.kind == MessageKind.OFFICE_NOTE or message.status != MessageStatus.DONE:
            continue
        assert message.finished_at is not None
        what = catalog.plain(f"kind.{message.kind}", number=message.number)
        expected[f"[{meeting.local(message.finished_at):%d/%m %H:%M}] Bot gửi xong {what}:"] += 1
    told = Counter(
        line.split(":", 2)[0] + ":" + line.split(":", 2)[1] + ":"
        for line in example.result.transcript
        if " Bot gửi xong " in line
    )
    assert told == expected
    assert expected["[28/05 08:00] Bot gửi xong báo cáo nhiệm vụ quá hạn:"] == 1


async def test_a_message_that_reached_nobody_is_told_as_not_sent(example: Played) -> None:
    """VI.1.1's contact reports it done on 30/04: its later reminders have nobody to go to, and
    before VI.1.3 falls overdue the morning report has nothing to say. None of them was sent:
    the transcript and the sending sheet said "gửi xong: 0 người nhận" / "đã gửi xong"."""
    transcript = example.result.transcript
    assert "[04/05 08:00] Bot không gửi nhắc nhiệm vụ: không có người nhận." in transcript
    assert (
        "[08/05 08:00] Bot không gửi báo cáo nhiệm vụ quá hạn: không có nội dung cần gửi."
        in transcript
    )
    assert not [line for line in transcript if ": 0 người nhận, 0 chưa kết nối" in line]
    skipped = [
        message
        for message in await stored_messages(example.folder)
        if message.kind == MessageKind.TASK_REMINDER and message.status == MessageStatus.SKIPPED
    ]
    assert len(skipped) == 6
    book = load_workbook(example.folder / "bao-cao-dien-tap.xlsx")
    # Reminders are not numbered («Số» is a notice's): each is the row of its time saying so.
    said = [
        row[3]
        for row in book["Gửi tin"].iter_rows(min_row=2, values_only=True)
        if row[4] == "không gửi (không có người nhận)"
    ]
    meeting = example.config.meeting
    due = [meeting.local(message.due_at).replace(tzinfo=None) for message in skipped]
    assert sorted(said) == sorted(due)


def write_list(path: Path, source: Path, keep: Callable[[list[str]], bool]) -> Path:
    """A copy of the CSV list ``source`` with only the rows ``keep`` accepts."""
    with source.open(encoding="utf-8", newline="") as fh:
        heading, *rows = list(csv.reader(fh))
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([heading, *(row for row in rows if keep(row))])
    return path


def test_a_list_lacking_speakers_contacts_and_a_group_is_rehearsed_and_the_gaps_told(
    tmp_path: Path,
) -> None:
    """An office's own list need not have the example's people: the rehearsal crashed with
    KeyError: 'DB031'. Now what the plan asks of someone the lists lack is told, that part is
    left out, and the parts of the others are played (DB040 and DB045 take the roles of the
    first two speakers)."""
    delegates = write_list(
        tmp_path / "dai-bieu.csv",
        EXAMPLE_DELEGATES,
        lambda row: row[0] not in ("DB031", "DB036") and row[4] != "bao_chi",
    )
    contacts = write_list(
        tmp_path / "dau-moi.csv", EXAMPLE_CONTACTS, lambda row: row[0] not in ("NV03", "NV04")
    )
    (tmp_path / "dien-tap").mkdir()
    played = play(tmp_path / "dien-tap", delegates, contacts)

    transcript = [line.split("] ", 1)[1] for line in played.result.transcript]
    gaps = [line for line in transcript if line.startswith(("Kế hoạch giao", "Danh sách không"))]
    assert gaps == [
        "Kế hoạch giao tham luận chủ đề 1.1 cho DB031 nhưng danh sách không có mã này: bỏ qua "
        "phần tham luận của người này.",
        "Kế hoạch giao tham luận chủ đề 1.2 cho DB036 nhưng danh sách không có mã này: bỏ qua "
        "phần tham luận của người này.",
        "Kế hoạch giao nhiệm vụ VI.1.1 cho NV03 nhưng danh sách không có mã này: bỏ qua phần "
        "báo cáo nhiệm vụ của người này.",
        "Kế hoạch giao nhiệm vụ VI.1.3 cho NV04 nhưng danh sách không có mã này: bỏ qua phần "
        "báo cáo nhiệm vụ của người này.",
        "Danh sách không có đại biểu nào thuộc nhóm «Phóng viên các cơ quan báo chí» của kế hoạch.",
    ]
    assert "Văn phòng (mô phỏng) chốt tham luận của DB040." in transcript
    assert "Văn phòng (mô phỏng) đề nghị DB045 chỉnh sửa tham luận." in transcript
    assert not any("NV03" in line or "NV04" in line for line in transcript if line not in gaps)
    assert played.result.complete, [label for label, ok in played.result.checks if not ok]


def test_a_list_of_five_people_is_rehearsed_and_says_what_it_could_not_play(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five delegates, none of them a speaker, all five answering: the speeches and the RSVP
    chasing have nobody to play them. The rehearsal passes on what could be played and marks
    the rest "–" with the reason, instead of failing (or crashing) on what the list lacks."""
    five = write_list(tmp_path / "nam-nguoi.csv", EXAMPLE_DELEGATES, lambda row: row[0] <= "DB005")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    assert main(["rehearse", "--delegates", str(five)]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[1] == (
        "[29/04 08:00] Văn phòng nhập danh sách (5 đại biểu, 8 đầu mối nhiệm vụ) và phát hành "
        "giấy mời kèm đường liên kết cá nhân."
    )
    assert sum("danh sách không có mã này: bỏ qua phần tham luận" in line for line in lines) == 10
    assert (
        "[29/04 08:00] Kế hoạch giao nhiệm vụ VI.2 cho nhóm «Chủ tịch Hội LHPN các quận, huyện, "
        "thị xã» nhưng danh sách không có ai thuộc nhóm này: bỏ qua phần báo cáo của nhóm."
    ) in lines
    not_played = [line for line in lines if line.startswith("– ")]
    assert not_played == [
        "– Đã gửi nhắc xác nhận tham dự: 0 lượt (không diễn tập phần này: trong danh sách không "
        "có đại biểu nào được diễn tập là chưa trả lời)",
        "– Đã gửi nhắc gửi tham luận: 0 lượt (không diễn tập phần này: danh sách không có ai "
        "được kế hoạch giao tham luận)",
        "– Tham luận: 0 bài đã chốt, 0 lượt góp ý và trả lời (không diễn tập phần này: danh sách "
        "không có ai được kế hoạch giao tham luận)",
    ]
    assert "✓ Đã gửi chương trình ngày hội nghị: 5 lượt" in lines
    assert not [line for line in lines if line.startswith("✗")]
    assert lines[-1].startswith("✅ Diễn tập thành công: mọi bước mà danh sách cho phép")
