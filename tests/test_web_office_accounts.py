"""A delegate's link and accounts on the dashboard: re-issuing the personal link and code (the
old ones stop working, the new ones are shown once) and unlinking one channel's account of a
lost phone after a confirmation; both through the chat's use cases, audited as the staff
member's, and a second tap answers clearly without changing anything."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain.channels import ChatAccount
from bot.domain.tokens import format_link_code
from bot.services import Services
from bot.services.invitations import LinkOutcome
from storage.models import AuditEntry, ChannelIdentity, Invitation
from tests.office_support import STAFF, Desk, hidden, text_of

TELEGRAM = ChatAccount("telegram", "7001", "7001")
ZALO = ChatAccount("zalo", "z-7001", "z-7001")


async def tokens(services: Services) -> dict[str, str]:
    return {item.code: item.token for item in await services.invitations.links()}


async def audited(services: Services, action: str) -> list[AuditEntry]:
    async with services.ctx.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_reissuing_shows_the_new_link_and_code_once_and_the_old_ones_stop_working(
    desk: Desk, imported: Services
) -> None:
    old = (await tokens(imported))["DB010"]
    page = await desk.client.get("/office/delegates/DB010")
    form = hidden(page.text, "form-reissue")
    replacing = page.text.split('name="replacing" value="', 1)[1].split('"', 1)[0]
    sent = await desk.client.post(
        "/office/delegates/DB010/reissue", data={**form, "replacing": replacing}
    )
    assert sent.status_code == 303
    shown = await desk.client.get(sent.headers["location"])
    new = (await tokens(imported))["DB010"]
    assert new != old
    async with imported.ctx.sessions() as session:
        code = await session.scalar(select(Invitation.link_code).where(Invitation.token == new))
    assert code is not None
    flash = text_of(shown.text, "flash")
    assert "Đã cấp đường liên kết mới cho đồng chí Trịnh Văn Thắng" in flash
    assert f"Mã cá nhân mới: {format_link_code(code)}" in flash
    assert f"Trang cá nhân: http://testserver/{new}" in flash
    # Shown once: the page opened again holds neither the link nor the code.
    again = await desk.client.get(sent.headers["location"])
    assert new not in again.text and format_link_code(code) not in again.text
    # The old link links nothing now; the new one does.
    assert (await imported.invitations.link_by_token(TELEGRAM, old)).outcome is (
        LinkOutcome.UNKNOWN_TOKEN
    )
    assert (await imported.invitations.link_by_token(TELEGRAM, new)).outcome is LinkOutcome.LINKED
    [entry] = await audited(imported, "invitation.reissued")
    assert entry.actor == f"dashboard:{STAFF}" and entry.entity_id is not None
    # The same form tapped a second time issues nothing and says so.
    second = await desk.client.post(
        "/office/delegates/DB010/reissue", data={**form, "replacing": replacing}
    )
    flash = text_of((await desk.client.get(second.headers["location"])).text, "flash")
    assert "vừa được cấp lại (có thể do bấm hai lần); không cấp thêm" in flash
    assert (await tokens(imported))["DB010"] == new
    assert len(await audited(imported, "invitation.reissued")) == 1
    history = await desk.client.get("/office/delegates/DB010")
    assert "Phạm Thị Thanh Mai: cấp lại đường liên kết cá nhân" in text_of(history.text, "history")


async def test_unlinking_a_lost_phone_forgets_that_channel_only_after_a_confirmation(
    desk: Desk, imported: Services
) -> None:
    token = (await tokens(imported))["DB010"]
    assert (await imported.invitations.link_by_token(TELEGRAM, token)).outcome is (
        LinkOutcome.LINKED
    )
    assert (await imported.invitations.link_by_token(ZALO, token)).outcome is LinkOutcome.LINKED
    page = await desk.client.get("/office/delegates/DB010")
    assert 'href="/office/delegates/DB010/unlink/telegram"' in page.text
    confirm = await desk.client.get("/office/delegates/DB010/unlink/telegram")
    assert "Gỡ tài khoản Telegram đã liên kết của đồng chí Trịnh Văn Thắng (DB010)?" in text_of(
        confirm.text, "unlink-what"
    )
    async with imported.ctx.sessions() as session:  # opening the confirmation changes nothing
        assert await session.scalar(select(func.count(ChannelIdentity.id))) == 2
    form = hidden(confirm.text, "form-unlink")
    sent = await desk.client.post("/office/delegates/DB010/unlink/telegram", data=form)
    flash = text_of((await desk.client.get(sent.headers["location"])).text, "flash")
    assert "Đã gỡ tài khoản Telegram của đồng chí Trịnh Văn Thắng" in flash
    assert (await imported.access.caller(TELEGRAM)).person is None  # the lost phone is no one
    assert (await imported.access.caller(ZALO)).person is not None  # Zalo stays linked
    [entry] = await audited(imported, "identity.unlinked")
    assert entry.actor == f"dashboard:{STAFF}"
    assert entry.before == {"channel": "telegram", "external_id": "7001"}
    second = await desk.client.post("/office/delegates/DB010/unlink/telegram", data=form)
    flash = text_of((await desk.client.get(second.headers["location"])).text, "flash")
    assert "không có tài khoản Telegram nào đang liên kết" in flash
    assert len(await audited(imported, "identity.unlinked")) == 1
