"""Kế hoạch 60/KH-BTV end to end: the office imports and exports with the CLI, 80 delegates
open the exported links in Telegram and answer, and the office's counts match exactly."""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bot.cli import main
from bot.config import load_config
from bot.domain.clock import ManualClock
from bot.services import build_services
from storage.engine import create_engine, create_sessionmaker
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, without_web
from tests.fakes.telegram_api import FakeBotApi, FakeUser
from tests.harness import name_substitute, start_harness, wired_config

GROUP_LABELS = {
    "trung_uong_hoi": "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam",
    "chu_tich_cap_huyen": "Chủ tịch Hội LHPN các quận, huyện, thị xã",
}


def office_config(tmp_path: Path) -> Path:
    """The example plan with its database in ``tmp_path``, Telegram-only (without ``[web]``
    the exported link is the bot's, which the delegates of this scenario open)."""
    text = without_web(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    text = text.replace(
        '# url = "sqlite+aiosqlite:///data/hoinghi.db"',
        f'url = "sqlite+aiosqlite:///{tmp_path / "office.db"}"',
    )
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def cli(*args: str) -> int:
    """Run ``hoinghi`` as the office would (in a thread: the CLI runs its own event loop)."""
    return await asyncio.to_thread(main, list(args))


def answer_plan(rows: list[dict[str, str]]) -> dict[str, str]:
    """Who answers what: a realistic mix, fixed so the expected counts can be written down."""
    plan: dict[str, str] = {}
    chairs = [r["Mã"] for r in rows if r["Nhóm"] == GROUP_LABELS["chu_tich_cap_huyen"]]
    others = [r["Mã"] for r in rows if r["Mã"] not in chairs]
    for index, code in enumerate(
        chairs
    ):  # 30 chairs: 22 attend, 5 substitutes, 2 decline, 1 silent
        plan[code] = (
            ["attend"] * 22 + ["substitute"] * 5 + ["decline_reason", "decline"] + ["none"]
        )[index]
    for index, code in enumerate(others):  # 50 others: every 5th silent, some decline
        if index % 5 == 4:
            plan[code] = "none"
        elif index % 7 == 3:
            plan[code] = "decline_reason"
        else:
            plan[code] = "attend"
    return plan


async def test_kh60_office_imports_hands_out_links_and_counts_every_answer(
    tmp_path: Path, fake: FakeBotApi
) -> None:
    config_path = office_config(tmp_path)
    assert (
        await cli("--config", str(config_path), "delegates", "import", str(EXAMPLE_DELEGATES)) == 0
    )
    links_file = tmp_path / "links.csv"
    assert (
        await cli(
            "--config",
            str(config_path),
            "invites",
            "export",
            str(links_file),
            "--bot-username",
            fake.bot_user["username"],
        )
        == 0
    )
    with links_file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 80
    assert len({r["Đường liên kết cá nhân"] for r in rows}) == 80
    assert rows[0]["Nhóm"] == GROUP_LABELS["trung_uong_hoi"]  # protocol order

    loaded = load_config(config_path)
    clock = ManualClock(loaded.config.meeting.starts_at.replace(day=14))  # two weeks before
    engine = create_engine(loaded.database_url)
    services = await build_services(
        wired_config(loaded.config, fake), create_sessionmaker(engine), clock
    )
    harness = await start_harness(fake, services, clock)
    try:
        users: dict[str, FakeUser] = {}
        for number, row in enumerate(rows):
            link = urlsplit(row["Đường liên kết cá nhân"])
            assert (link.netloc, link.path) == ("t.me", "/hoinghi_test_bot")
            users[row["Mã"]] = user = fake.user(700_000_000 + number, row["Họ và tên"].split()[-1])
            await harness.send(user.command(f"/start {parse_qs(link.query)['start'][0]}"))
            assert user.last_text().startswith(f"Kính gửi đồng chí {row['Họ và tên']}")

        plan = answer_plan(rows)
        for code, answer in plan.items():
            user = users[code]
            if answer == "attend":
                await harness.send(user.tap("✅ Tham dự"))
            elif answer == "substitute":
                # Her unit typed, no phone given; a name as people have (no code in it).
                given = next(row["Họ và tên"] for row in rows if row["Mã"] == code).split()[-1]
                await name_substitute(
                    harness, user, f"Nguyễn Thị Phó {given}", "Phó Chủ tịch", unit="Hội LHPN quận"
                )
            elif answer.startswith("decline"):
                await harness.send(user.tap("❌ Không tham dự"))
                if answer == "decline_reason":
                    await harness.send(user.text("Trùng lịch công tác"))
                else:
                    await harness.send(user.tap("Không nêu lý do"))

        # One delegate taps twice; one stranger uses a wrong link; a delegate tries /thongke.
        twice = users[next(code for code, answer in plan.items() if answer == "attend")]
        card = next(m for m in twice.messages if "✅ Tham dự" in str(m.get("reply_markup")))
        await harness.send(twice.tap("✅ Tham dự", message=card))
        stranger = fake.user(799_999_999, "Lạ")
        await harness.send(stranger.command("/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        assert stranger.last_text().startswith("Đường liên kết này không đúng")
        await harness.send(users["DB006"].command("/thongke"))
        assert users["DB006"].last_text().startswith("Xin lỗi đồng chí, lệnh này chỉ dành cho")

        expected = Counter(plan.values())
        attending, substitute = expected["attend"], expected["substitute"]
        declined = expected["decline"] + expected["decline_reason"]
        silent = expected["none"]
        assert (attending, substitute, declined, silent) == (56, 5, 8, 11)

        admin = harness.admin()
        await harness.send(admin.command("/thongke"))
        stats = admin.last_text()
        assert (
            "Tổng số đại biểu: 80 (đã liên kết tài khoản: 80)\n"
            f"✅ Tham dự: {attending}\n👤 Cử người dự thay: {substitute}\n"
            f"❌ Không tham dự: {declined}\n⏳ Chưa trả lời: {silent}\n"
            f"Dự kiến có mặt: {attending + substitute}/80 chỗ"
        ) in stats
        assert (
            "6. Chủ tịch Hội LHPN các quận, huyện, thị xã: 30 đại biểu — tham dự 22, dự thay 5, "
            "không dự 2, chưa trả lời 1"
        ) in stats

        await harness.send(admin.command("/chuatraloi"))
        listing = admin.last_text()
        silent_codes = [r["Mã"] for r in rows if plan[r["Mã"]] == "none"]
        assert listing.startswith(f"⏳ Đại biểu chưa trả lời: {silent}")
        listed = [
            line.split(" — ")[0].removeprefix("• ")
            for line in listing.splitlines()
            if line.startswith("• ")
        ]
        assert listed == silent_codes  # both in protocol order, as the export is
        # A decline counts from the tap; a reason typed afterwards is one more audited change.
        assert (
            await audit_rows(harness)
            == attending + substitute + declined + expected["decline_reason"]
        )
    finally:
        await harness.app.shutdown()
        await harness.outbox_bot_shutdown()
        await engine.dispose()
    fake.assert_no_violations()


async def audit_rows(harness) -> int:  # type: ignore[no-untyped-def]
    """RSVP changes recorded in the audit log."""
    from sqlalchemy import func, select

    from storage.models import AuditEntry

    async with harness.services.ctx.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "rsvp.changed")
            )
            or 0
        )
