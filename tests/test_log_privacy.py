"""`hoinghi -v run` logs what happened, never what people typed, tokens or phone numbers in full.

docs/operations.md promises it for every level. The first test drives the real process at DEBUG
against the loopback fake Bot API through each kind of personal input, and greps its whole log;
the second turns every library's logger to DEBUG (and SQLAlchemy's echo on) in process, where a
quieted logger would otherwise have kept the promise by its level alone.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import load_config
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.clock import SystemClock
from bot.domain.phones import normalize_phone
from bot.logs import LibraryValuesFilter, redact, setup_logging
from bot.services import build_services
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_database
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, HANOI
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi, FakeUser
from tests.harness import OFFICE_CHAT, BotHarness, name_substitute
from tests.test_crash import BotProcess, running_bot, toml_document
from tests.test_drafts import docx, press

# What people send, each unique so that finding it in the log can only mean it leaked.
REASON = "Trùng lịch làm việc với Đoàn kiểm tra số 7 của Thành ủy"
SUBSTITUTE = "Nguyễn Thị Minh Khuê"
SUBSTITUTE_POSITION = "Phó Chủ tịch Hội LHPN phường Ngọc Hà"
SUBSTITUTE_UNIT = "Hội LHPN phường Ngọc Hà, quận Ba Đình"
SUBSTITUTE_PHONE = "0987 654 321"
DRAFT = "Kính thưa Đoàn Chủ tịch, quận Ba Đình xin báo cáo kết quả phong trào thi đua năm 2023"
DOCUMENT = "Tham luận quận Ba Đình - bản gửi Văn phòng.docx"
PHONE_OF = "DB020"  # 0904.111.020 in examples/delegates.csv


def future_plan(tmp_path: Path, server: FakeBotApiServer) -> Path:
    """The example plan a month from now (answers and drafts still open), on a fresh database,
    talking to the fake."""
    plan = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    plan.pop("web", None)  # a Telegram run: the example's web port 8080 may be taken here
    day = (datetime.now(UTC) + timedelta(days=30)).astimezone(HANOI).date()
    plan["meeting"] |= {"starts_at": f"{day}T08:00", "ends_at": f"{day}T11:30"}
    plan["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 'hoinghi.db'}"}
    plan["telegram"] = {"api_base_url": server.base_url, "file_base_url": server.base_file_url}
    plan["outbox"] = plan.get("outbox", {}) | {"tick_seconds": 0.2}
    path = tmp_path / "config.toml"
    path.write_text(toml_document(plan), encoding="utf-8")
    return path


async def import_delegates(config_path: Path) -> tuple[dict[str, str], str]:
    """Import the example list; returns each code's personal token and ``PHONE_OF``'s phone."""
    loaded = load_config(config_path)
    engine = create_engine(loaded.database_url)
    try:
        await upgrade_database(engine)
        services = await build_services(loaded.config, create_sessionmaker(engine), SystemClock())
        parsed = parse_delegate_file(
            EXAMPLE_DELEGATES, [FileGroup(g.key, g.label) for g in loaded.config.groups]
        )
        await services.delegates.import_rows(parsed.rows, actor="test")
        links = await services.invitations.links()
    finally:
        await engine.dispose()
    phone = next(row.phone for row in parsed.rows if row.code == PHONE_OF)
    assert phone is not None
    return {link.code: link.token for link in links}, phone


class Conversation:
    """Sends updates to the bot process through getUpdates and waits for its answer."""

    def __init__(self, bot: BotProcess, fake: FakeBotApi) -> None:
        self.bot, self.fake = bot, fake

    async def says(self, user: FakeUser, update: dict[str, Any], answer: str) -> None:
        """Deliver ``update`` (a message or a tap); return once the bot's newest message to
        ``user`` contains ``answer`` (a new message or an edit)."""
        self.fake.enqueue(update)
        await self.bot.until(
            self.fake, lambda: bool(user.messages) and answer in user.last_text(), repr(answer)
        )


def forbidden_in_logs(tokens: dict[str, str], phone: str, bot_token: str) -> dict[str, str]:
    """Every string the log must not hold, by what it is."""
    e164 = normalize_phone(phone)
    assert e164 is not None and e164.startswith("+84")
    return {
        "bot token": bot_token,
        "bot token, secret part": bot_token.split(":", 1)[1],
        "DB001's invitation token": tokens["DB001"],
        "DB002's invitation token": tokens["DB002"],
        "DB031's invitation token": tokens["DB031"],
        "phone number (national significant number)": e164.removeprefix("+84"),
        "decline reason": REASON,
        "substitute's name": SUBSTITUTE,
        "substitute's position": SUBSTITUTE_POSITION,
        "substitute's unit": SUBSTITUTE_UNIT,
        "substitute's phone (national significant number)": "987654321",
        "typed draft": DRAFT,
        "document name": DOCUMENT,
    }


def bodies_sent(*users: FakeUser) -> dict[str, str]:
    """The start of every text the bot sent to ``users``."""
    texts = [str(m.get("text") or m.get("caption") or "") for u in users for m in u.messages]
    return {f"a message body ({text[:12]}…)": text[:40] for text in texts if len(text) >= 20}


def leaks(log: str, forbidden: dict[str, str]) -> list[str]:
    """What of ``forbidden`` the log holds, each with the first line it is in."""
    lines = log.splitlines()
    return [
        f"{what}: {next(line for line in lines if text in line)}"
        for what, text in forbidden.items()
        if text in log
    ]


@pytest.mark.slow
async def test_a_verbose_run_logs_no_token_phone_number_or_anything_people_typed(
    tmp_path: Path,
) -> None:
    fake = FakeBotApi()
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    async with FakeBotApiServer(fake) as server:
        config_path = future_plan(tmp_path, server)
        tokens, phone = await import_delegates(config_path)
        async with running_bot(config_path, fake, "-v") as bot:
            talk = Conversation(bot, fake)
            # A delegate opens the personal link and declines, with a typed reason.
            mai = fake.user(700_000_001, "Mai")
            await talk.says(mai, mai.command(f"/start {tokens['DB001']}"), "Kính gửi đồng chí")
            await talk.says(mai, mai.tap("❌ Không tham dự"), "cho biết lý do")
            await talk.says(mai, mai.text(REASON), "(lý do: ")
            # Another presses Start and shares the phone number the office has for them.
            toan = fake.user(700_000_002, "Toản")
            await talk.says(toan, toan.command("/start"), "Kính chào đồng chí")
            shared = toan.share_contact(str(normalize_phone(phone)).removeprefix("+"))
            await talk.says(toan, shared, "Kính gửi đồng chí Phùng Văn Toản")
            # A third sends someone in her place: a name, then a position.
            diep = fake.user(700_000_003, "Diệp")
            await talk.says(diep, diep.command(f"/start {tokens['DB002']}"), "Kính gửi đồng chí")
            await talk.says(diep, diep.tap("👤 Cử người dự thay"), "họ và tên người dự thay")
            await talk.says(diep, diep.text(SUBSTITUTE), "chức vụ")
            await talk.says(diep, diep.text(SUBSTITUTE_POSITION), "đơn vị nào")
            await talk.says(diep, diep.text(SUBSTITUTE_UNIT), "số điện thoại")
            await talk.says(diep, diep.text(SUBSTITUTE_PHONE), "cử người dự thay là đồng chí")
            # A speaker types a draft, then sends a document.
            phuong = fake.user(700_000_004, "Phương")
            await talk.says(phuong, phuong.command(f"/start {tokens['DB031']}"), "Kính gửi")
            compose = press(phuong, "✍️ Soạn tham luận 1.1 bằng tin nhắn")
            await talk.says(phuong, compose, "gõ nội dung tham luận")
            await talk.says(phuong, phuong.text(DRAFT), "Đã nhận đoạn 1")
            await talk.says(phuong, phuong.tap("✅ Xong, gửi bản này"), "✅ Đã nhận bản 1")
            upload = phuong.document(DOCUMENT, docx("bản 2"), "application/msword")
            await talk.says(phuong, upload, "✅ Đã nhận bản 2")
            assert await bot.stop() == 0, bot.log()
    fake.assert_no_violations()

    log = "\n".join(bot.logged)
    assert " DEBUG telegram.ext.Application: " in log  # it was verbose
    assert leaks(log, forbidden_in_logs(tokens, phone, fake.token)) == []
    # Nor any text the bot sent them: message bodies go neither way.
    assert leaks(log, bodies_sent(mai, toan, diep, phuong)) == []


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put back the root handlers and every logger's level after a test that sets them."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    root.handlers[:], root.level = handlers, level
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


EVERY_LIBRARY_LOGGER = (
    "telegram",
    "telegram.Bot",
    "telegram.ext.Application",
    "telegram.ext.Updater",
    "telegram.ext.ExtBot",
    "httpx",
    "httpcore",
    "aiosqlite",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "apscheduler",
    "alembic",
    "asyncio",
)


async def test_every_logger_at_debug_and_sql_echo_still_show_no_personal_value(
    harness: BotHarness,
    engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
    restored_logging: None,
) -> None:
    setup_logging(logging.DEBUG, secrets=[harness.fake.token])
    for name in EVERY_LIBRARY_LOGGER:
        logging.getLogger(name).setLevel(logging.DEBUG)
    engine.sync_engine.echo = "debug"  # SQLAlchemy's own handler too: statements and rows
    tokens = harness.tokens
    phone = "+84 904 111 020"  # DB020's
    capsys.readouterr()

    mai = await harness.open_invitation("DB001")
    await harness.send(mai.tap("❌ Không tham dự"))
    await harness.send(mai.text(REASON))
    toan = harness.new_user()
    await harness.send(toan.command("/start"))
    await harness.send(toan.share_contact("84904111020"))
    diep = await harness.open_invitation("DB002")
    await name_substitute(
        harness, diep, SUBSTITUTE, SUBSTITUTE_POSITION, unit=SUBSTITUTE_UNIT, phone=SUBSTITUTE_PHONE
    )
    phuong = await harness.open_invitation("DB031")
    await harness.send(press(phuong, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(phuong.text(DRAFT))
    await harness.send(phuong.tap("✅ Xong, gửi bản này"))
    await harness.send(phuong.document(DOCUMENT, docx("bản 2"), "application/msword"))
    await harness.tick()
    assert mai.last_text().startswith("Đã ghi nhận: đồng chí không tham dự hội nghị (lý do:")
    assert "Phùng Văn Toản" in toan.last_text()
    assert phuong.last_text().startswith("✅ Đã nhận bản 2")

    engine.sync_engine.echo = False
    captured = capsys.readouterr()
    log = captured.out + captured.err
    assert " DEBUG telegram.ext.ExtBot: " in log
    assert " DEBUG aiosqlite: " in log or engine.dialect.name != "sqlite"
    assert "sqlalchemy.engine.Engine" in log
    assert leaks(log, forbidden_in_logs(tokens, phone, harness.fake.token)) == []
    assert leaks(log, bodies_sent(mai, toan, diep, phuong)) == []


def test_redaction_masks_phone_numbers_and_tokens_but_keeps_ids_times_and_counts() -> None:
    line = (
        "2026-05-21 08:00:01,250 update 812345 from 7000000001 in -1001000000001: "
        "84904111020, +84904111020, 0904111020 and +4915112345678; "
        "/start frFGIiZ8qYPHqCdUwjYl3zyAFUc_nLUA, https://t.me/x_bot?start=abc123, "
        "https://api.telegram.org/bot7712345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ/getMe, "
        "token XI5-K8ZWFv_P8yUw2qSgo8TaovNkknV8 revoked; 30 sent in 2.5 s"
    )
    assert redact(line) == (
        "2026-05-21 08:00:01,250 update 812345 from 7000000001 in -1001000000001: "
        "+84*******020, +84*******020, +84*******020 and +*******678; "
        "/start [REDACTED], https://t.me/x_bot?start=[REDACTED], "
        "https://api.telegram.org/bot[REDACTED]/getMe, "
        "token [REDACTED] revoked; 30 sent in 2.5 s"
    )


def test_a_library_record_below_warning_keeps_its_text_and_numbers_only() -> None:
    values = LibraryValuesFilter()
    record = logging.LogRecord(
        "telegram.ext.ExtBot", logging.DEBUG, __file__, 1,
        "Calling `%s` with %s: %d tries, %.1f s", ("sendMessage", {"text": REASON}, 3, 0.5), None,
    )  # fmt: skip
    assert values.filter(record) and record.getMessage() == "Calling `[…]` with […]: 3 tries, 0.5 s"
    wrong = logging.LogRecord(
        "aiosqlite", logging.DEBUG, __file__, 1, "%d rows of %s (100%%)", (REASON, "x"), None
    )
    assert values.filter(wrong) and wrong.getMessage() == "[…] rows of […] (100%)"
    ours = logging.LogRecord(
        "schedules.outbox", logging.INFO, __file__, 1, "%s: %d sent", ("broadcast", 3), None
    )
    assert values.filter(ours) and ours.getMessage() == "broadcast: 3 sent"
    warning = logging.LogRecord(
        "telegram.ext.Updater", logging.WARNING, __file__, 1, "polling failed: %s", ("x",), None
    )
    assert values.filter(warning) and warning.getMessage() == "polling failed: x"
