"""Invitation tokens: wrong links slow an account down; the office re-issues a link and unlinks a
lost account."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.domain.channels import ChatAccount
from bot.services import build_services
from bot.services.invitations import LinkOutcome
from storage.models import AuditEntry
from tests.fakes.telegram_api import FakeUser
from tests.harness import OFFICE_CHAT, BotHarness
from tests.test_telegram_flows import buttons

WRONG = "A" * 32  # has a token's shape, matches no invitation


async def test_five_wrong_links_in_an_hour_slow_the_account_down(harness: BotHarness) -> None:
    stranger = harness.new_user()
    for _ in range(5):
        await harness.send(stranger.command(f"/start {WRONG}"))
        assert stranger.last_text().startswith("Đường liên kết này không đúng")
    # Even the right link is not looked at while the account is slowed down.
    await harness.send(stranger.command(f"/start {harness.tokens['DB001']}"))
    assert stranger.last_text().startswith(
        "Đồng chí đã mở đường liên kết không đúng quá nhiều lần."
    )
    assert "mở lại đường liên kết từ 10:00, 18/5." in stranger.last_text()
    assert await harness.services.invitations.whoami(account(stranger)) is None
    # Another account is not affected.
    other = await harness.open_invitation("DB002")
    assert await harness.services.invitations.whoami(account(other)) is not None
    harness.clock.advance(timedelta(minutes=30))
    said = len(stranger.messages)
    await harness.send(stranger.command(f"/start {harness.tokens['DB001']}"))
    assert len(stranger.messages) == said + 1  # told again: the last time was 30 minutes ago
    assert "mở lại đường liên kết từ 10:00, 18/5." in stranger.last_text()
    assert await harness.services.invitations.whoami(account(stranger)) is None
    harness.clock.advance(timedelta(minutes=30))  # the hour of the first wrong link is over
    await harness.send(stranger.command(f"/start {harness.tokens['DB001']}"))
    assert (
        stranger.last_text() != ""
        and await harness.services.invitations.whoami(account(stranger)) is not None
    )


async def test_a_slowed_down_account_is_told_at_most_every_ten_minutes_even_across_a_restart(
    harness: BotHarness,
) -> None:
    stranger = harness.new_user()
    for _ in range(5):
        await harness.send(stranger.command(f"/start {WRONG}"))
    said = len(stranger.messages)
    for _ in range(20):  # a script trying links: one answer, then silence for ten minutes
        await harness.send(stranger.command(f"/start {WRONG}"))
        harness.clock.advance(timedelta(seconds=29))
    assert len(stranger.messages) == said + 1
    assert "mở lại đường liên kết từ 10:00, 18/5." in stranger.last_text()
    # A restarted bot (new services on the same database) stays silent too, for the rest of
    # the ten minutes; after them, it tells the account again.
    restarted = await build_services(
        harness.services.config, harness.services.ctx.sessions, harness.clock
    )
    result = await restarted.invitations.link_by_token(account(stranger), WRONG)
    assert (result.outcome, result.told) == (LinkOutcome.SLOWED_DOWN, True)
    harness.clock.advance(timedelta(minutes=10) - timedelta(seconds=20 * 29))
    result = await restarted.invitations.link_by_token(account(stranger), WRONG)
    assert (result.outcome, result.told) == (LinkOutcome.SLOWED_DOWN, False)
    async with harness.services.ctx.sessions() as session:
        told = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "invitation.slowed_down")
            )
        )
    assert [entry.actor for entry in told] == [f"telegram:{stranger.id}"] * 2
    # The slowdown ends an hour after the first wrong link; five more wrong links begin a new
    # one, which is told at once.
    harness.clock.advance(timedelta(minutes=50))
    for _ in range(5):
        await harness.send(stranger.command(f"/start {WRONG}"))
        assert stranger.last_text().startswith("Đường liên kết này không đúng")
    for _ in range(3):
        await harness.send(stranger.command(f"/start {WRONG}"))
    assert len(stranger.messages) == said + 1 + 5 + 1
    assert stranger.last_text().startswith(
        "Đồng chí đã mở đường liên kết không đúng quá nhiều lần."
    )
    assert "mở lại đường liên kết từ 11:00, 18/5." in stranger.last_text()


async def test_caplai_asks_first_saying_what_stops_working_as_the_dashboard_does(
    harness: BotHarness,
) -> None:
    """Re-issued unasked, a mistyped code cut off a delegate whose printed slip, sent
    invitation and open page all stopped working; the dashboard asks first, and so does chat,
    with the same facts. «Không» changes nothing; the question's choice taken twice makes one
    new link, not two."""
    opened = await harness.open_invitation("DB001")  # on Telegram: the bot still writes there
    services = harness.services
    old = harness.tokens["DB001"]
    office = services.access.local_operator()
    card = await services.dashboard.card("DB001")
    assert card is not None
    await services.invitations.mark_sent(office, "DB001", invitation=card.invitation_id, via="zalo")
    await services.invitations.open_page(old, channel="web", client="c")  # 09:00, 18/5
    admin = harness.admin()
    await harness.send(admin.command("/caplai DB001"))
    assert admin.last_text() == (
        "Cấp lại đường liên kết và mã cá nhân của đồng chí Phạm Thị Thanh Mai (DB001)? Ngay khi"
        " cấp lại, đường liên kết và mã cá nhân hiện có không dùng được nữa: phiếu mời đã in,"
        " giấy mời và tin nhắn đã gửi cho đại biểu đều không mở được trang cá nhân.\n\n"
        "Đã gửi giấy mời qua Zalo lúc 09:00, 18/5: đường liên kết và mã trong giấy mời đó sẽ"
        " không dùng được nữa; dấu «đã gửi giấy mời» được bỏ, và cần gửi lại giấy mời với đường"
        " liên kết mới.\n\n"
        "Đại biểu đã mở trang cá nhân bằng đường liên kết hiện tại lúc 09:00, 18/5: trang đó sẽ"
        " không mở được nữa, đại biểu cần đường liên kết mới.\n\n"
        "Việc này không hoàn tác được: cấp lại lần nữa chỉ cho thêm một đường liên kết mới,"
        " đường liên kết cũ không dùng lại được.\n\n"
        "Tài khoản Telegram đã liên kết vẫn giữ nguyên: bot vẫn nhắn tin được cho đại biểu. Nếu"
        " đại biểu mất điện thoại, đề nghị gỡ bằng /golienket DB001."
    )
    assert buttons(admin.last_message) == [
        "🔑 Cấp lại đường liên kết",
        "Không, giữ đường liên kết hiện có",
    ]
    asked = admin.last_message
    await harness.send(admin.tap("Không, giữ đường liên kết hiện có"))
    assert admin.last_text() == (
        "Chưa cấp lại: đường liên kết và mã cá nhân hiện có của đồng chí Phạm Thị Thanh Mai"
        " (DB001) vẫn dùng được."
    )
    assert {link.code: link.token for link in await harness.services.invitations.links()}[
        "DB001"
    ] == old
    await harness.send(admin.tap("🔑 Cấp lại đường liên kết", message=asked))
    assert admin.last_text().startswith("Đã cấp đường liên kết mới cho đồng chí Phạm Thị")
    await harness.send(admin.tap("🔑 Cấp lại đường liên kết", message=asked))  # again
    assert admin.last_text().startswith(
        "Đường liên kết của đồng chí Phạm Thị Thanh Mai (DB001) đã được cấp lại sau khi bot hỏi"
    )
    async with harness.services.ctx.sessions() as session:
        reissued = await session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "invitation.reissued")
        )
    assert reissued == 1
    assert await harness.services.invitations.whoami(account(opened)) is not None


async def test_a_delegate_cannot_choose_a_reissue_for_someone(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")
    await harness.send(user.tap_data("ri:0:DB002"))
    assert harness.tokens["DB002"] in {
        link.token for link in await harness.services.invitations.links()
    }


async def test_the_office_reissues_a_link_and_the_old_one_stops_working(
    harness: BotHarness,
) -> None:
    admin = harness.admin()
    old = harness.tokens["DB001"]
    await harness.send(admin.command("/caplai DB001"))
    await harness.send(admin.tap("🔑 Cấp lại đường liên kết"))
    reply = admin.last_text()
    assert reply.startswith(
        "Đã cấp đường liên kết mới cho đồng chí Phạm Thị Thanh Mai (DB001); "
        "đường liên kết cũ không còn dùng được:\nhttps://t.me/hoinghi_test_bot?start="
    )
    new = reply.split("?start=", 1)[1].split()[0]
    assert new != old and len(new) == 32
    late = harness.new_user()
    await harness.send(late.command(f"/start {old}"))
    assert late.last_text().startswith("Đường liên kết này không đúng hoặc đã hết hiệu lực")
    await harness.send(late.command(f"/start {new}"))
    assert await harness.services.invitations.whoami(account(late)) is not None
    async with harness.services.ctx.sessions() as session:
        audit = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "invitation.reissued")
            )
        )
    assert [(a.before, a.after) for a in audit] == [({"active_links": 1}, {"active_links": 1})]
    assert old not in str(audit[0].before) and new not in str(audit[0].after)


async def test_a_link_is_never_reissued_into_a_group(harness: BotHarness) -> None:
    admin = harness.admin()
    group = harness.fake.group(OFFICE_CHAT, "Văn phòng")
    await harness.send(group.command(admin, "/caplai DB001"))
    assert harness.fake.messages_to(OFFICE_CHAT)[-1]["text"].startswith(
        "Đường liên kết cá nhân là thông tin riêng"
    )
    assert "?start=" not in harness.fake.messages_to(OFFICE_CHAT)[-1]["text"]
    lost = harness.new_user()
    await harness.send(lost.command(f"/start {harness.tokens['DB001']}"))  # still valid
    assert await harness.services.invitations.whoami(account(lost)) is not None


async def test_the_office_unlinks_a_lost_account_and_a_new_one_can_link(
    harness: BotHarness,
) -> None:
    lost = await harness.open_invitation("DB001")
    admin = harness.admin()
    await harness.send(admin.command("/golienket db001"))
    assert admin.last_text() == (
        "Đã gỡ các tài khoản đã liên kết của đồng chí Phạm Thị Thanh Mai (DB001). Đồng chí "
        "có thể mở đường liên kết (hoặc đường liên kết mới cấp bằng /caplai DB001) từ tài khoản "
        "khác."
    )
    await harness.send(lost.command("/trangthai"))
    assert lost.last_text().startswith("Tài khoản này chưa được liên kết")
    replacement = harness.new_user()
    await harness.send(replacement.command(f"/start {harness.tokens['DB001']}"))
    assert await harness.services.invitations.whoami(account(replacement)) is not None
    await harness.send(admin.command("/golienket DB099"))
    assert admin.last_text() == "Không có người mã DB099 trong danh sách đã nhập."
    await harness.send(admin.command("/golienket DB002"))
    assert admin.last_text() == "Đồng chí Hoàng Thị Ngọc Diệp (DB002) chưa liên kết tài khoản nào."


async def test_delegates_cannot_reissue_or_unlink(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")
    for command in ("/caplai DB002", "/golienket DB002"):
        await harness.send(user.command(command))
        assert user.last_text().startswith(
            "Xin lỗi đồng chí, lệnh này chỉ dành cho cán bộ Văn phòng"
        )
    assert harness.tokens["DB002"] in {
        link.token for link in await harness.services.invitations.links()
    }


def account(user: FakeUser) -> ChatAccount:
    """The chat account of a simulated user."""
    return ChatAccount("telegram", str(user.id), str(user.id))
