"""A person linked on two channels: messages go to the one they used last, and to the other
when that one is blocked; office notes go to each staff member privately where the office has
no group chat. Telegram (the fake Bot API) and the test-only text channel run side by side."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import build_outbox
from bot.chat import Inbox
from bot.domain.outbound import (
    BROADCAST_WINDOW,
    Audience,
    MessageKind,
    MessageStatus,
    SendOutcome,
    SendResult,
)
from bot.services import Services
from bot.services.access import Role
from bot.texts import load_catalog
from schedules.outbox import Outbox
from schedules.ratelimit import Limits, Pacer
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage
from storage.queries import next_notice_number, roster
from tests.channels.text_channel import TextChannel
from tests.harness import BotHarness


class Both:
    """The harness's Telegram and a text channel on one outbox."""

    def __init__(self, harness: BotHarness) -> None:
        self.h = harness
        catalog = load_catalog("vi")
        self.text = TextChannel(Inbox(harness.services, catalog), catalog)
        telegram = harness.outbox.senders["telegram"]
        pacer = Pacer(Limits(), now=harness.time.monotonic, sleep=harness.time.sleep)
        self.outbox: Outbox = build_outbox(
            harness.services,
            catalog,
            {"telegram": telegram, "text": self.text},
            pacer=pacer,
        )

    def later(self) -> None:
        """Some minutes pass: a person's next use counts as newer."""
        self.h.clock.advance(timedelta(minutes=15))

    async def notice(self, body: str) -> int:
        """A notice to every linked delegate, sent at once; its id."""
        await self.h.services.activity.flush()
        now = self.h.clock.now()
        async with self.h.services.ctx.sessions() as session, session.begin():
            row = OutboundMessage(
                meeting_id=self.h.services.ctx.meeting_id,
                kind=MessageKind.BROADCAST,
                status=MessageStatus.SCHEDULED,
                audience=Audience.LINKED,
                body=body,
                params={},
                due_at=now,
                expires_at=now + BROADCAST_WINDOW,
                created_by="test",
                report_to="office",
                created_at=now,
                number=await next_notice_number(session, self.h.services.ctx.meeting_id),
            )
            session.add(row)
        await self.outbox.tick()
        await self.outbox.tick()
        return row.id

    async def channel_of(self, message_id: int) -> list[tuple[str | None, str]]:
        async with self.h.services.ctx.sessions() as session:
            rows = await session.execute(
                select(Delivery.channel, Delivery.status).where(Delivery.message_id == message_id)
            )
            return [(channel, str(status)) for channel, status in rows.all()]


@pytest.fixture
def both(harness: BotHarness) -> Both:
    return Both(harness)


async def test_a_person_linked_on_two_channels_gets_messages_where_they_wrote_last(
    both: Both,
) -> None:
    telegram_user = await both.h.open_invitation("DB001")
    both.later()
    text_person = both.text.person("Chị Mai")
    await text_person.type(f"/start {both.h.tokens['DB001']}")
    first = await both.notice("Thông báo một")
    assert await both.channel_of(first) == [("text", "sent")]
    assert "Thông báo một" in text_person.last

    both.later()
    await both.h.send(telegram_user.command("/trangthai"))  # back on Telegram
    second = await both.notice("Thông báo hai")
    assert await both.channel_of(second) == [("telegram", "sent")]
    assert "Thông báo hai" in telegram_user.last_text()


async def test_a_message_that_finds_the_last_used_account_blocked_goes_to_the_other(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    telegram_user = await both.h.open_invitation("DB001")
    both.later()
    text_person = both.text.person("Chị Mai")
    await text_person.type(f"/start {both.h.tokens['DB001']}")

    async def blocked(address: str, part: object) -> SendResult:
        return SendResult(SendOutcome.BLOCKED, error="the person left the platform")

    monkeypatch.setattr(both.text, "send", blocked)
    message = await both.notice("Thông báo khẩn")
    assert await both.channel_of(message) == [("telegram", "sent")]
    assert "Thông báo khẩn" in telegram_user.last_text()


async def test_office_notes_go_to_each_staff_member_privately_without_an_office_group(
    both: Both,
) -> None:
    """With no Telegram group configured, the office's notes reach staff where they are: here a
    staff member linked on the text channel gets the notice's report."""
    services = both.h.services
    office = services.config.office.model_copy(update={"chat_id": None, "admin_ids": []})
    services.ctx.__dict__["config"] = services.config.model_copy(update={"office": office})
    await services.access.grant(services.access.local_operator(), "DB080", Role.OFFICE)
    staff = both.text.person("Văn phòng")
    await staff.type(f"/start {both.h.tokens['DB080']}")
    await both.h.open_invitation("DB001")
    await both.notice("Kính mời dự họp")
    # DB080 is a delegate too: the notice, then as staff the office's report of it.
    assert "Kính mời dự họp" in staff.read[-2]
    assert (
        staff.last
        == "📨 Báo cáo gửi thông báo số 1\nĐã gửi: 2 · Chặn bot: 0 · Lỗi: 0 · Chưa liên kết: 0 · Bỏ qua: 0"
    )


@pytest.mark.parametrize("newer", ["telegram", "zalo"])
async def test_of_two_accounts_linked_at_one_instant_and_never_used_the_newer_is_picked(
    imported: Services, newer: str
) -> None:
    """Both accounts carried to this meeting at one instant, neither used since: the one
    linked later (the newer row) is her best, for the outbox and for the office's list alike,
    not whichever the database happens to read first (PostgreSQL's order was not SQLite's)."""
    ctx = imported.ctx
    at = ctx.clock.now()
    older = "telegram" if newer == "zalo" else "zalo"
    async with ctx.sessions() as session, session.begin():
        person = await session.scalar(
            select(Delegate.id).where(
                Delegate.meeting_id == ctx.meeting_id, Delegate.code == "DB001"
            )
        )
        assert person is not None
        for channel in (older, newer):
            session.add(
                ChannelIdentity(
                    meeting_id=ctx.meeting_id,
                    delegate_id=person,
                    channel=channel,
                    external_id=f"{channel}-1",
                    chat_address=f"{channel}-1",
                    linked_at=at,
                    linked_via="carried",
                )
            )
            await session.flush()  # the older row first: the newer has the larger id
    channels = ("telegram", "zalo")
    async with ctx.sessions() as session:
        best = await imported.audiences.accounts_of(session, person, channels)
    assert [account.channel for account in best] == [newer, older]

    async with ctx.sessions() as session, session.begin():
        for channel in channels:  # both blocked at one instant, each for its own reason
            await session.execute(
                update(ChannelIdentity)
                .where(ChannelIdentity.delegate_id == person, ChannelIdentity.channel == channel)
                .values(unreachable_at=at, unreachable_reason=f"blocked on {channel}")
            )
    async with ctx.sessions() as session:
        best = await imported.audiences.accounts_of(session, person, channels)
        row = next(r for r in await roster(session, ctx.meeting_id) if r.delegate_id == person)
    assert [account.channel for account in best] == [newer, older]
    assert row.unreachable_reason == f"blocked on {newer}"
