"""A notice's deliveries are queued as plain rows in one statement, past the ORM: the rows it
stores must be the very rows the ORM path stored, one ``Delivery`` object per recipient."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.outbound import DeliveryStatus, MessageStatus
from storage.models import ChannelIdentity, Delivery, OutboundMessage
from tests.harness import BotHarness, add_notice_due


async def orm_path(
    harness: BotHarness, session: AsyncSession, message: OutboundMessage, now: datetime
) -> None:
    """The deliveries as ``Outbox._add_deliveries`` added them before the bulk insert."""
    audiences = harness.services.audiences
    for person in await audiences.people(session, message.audience, harness.outbox.senders):
        account = person.accounts[0] if person.accounts else None
        if account is None:
            status = DeliveryStatus.NOT_LINKED
        elif account.reachable:
            status = DeliveryStatus.PENDING
        else:
            status = DeliveryStatus.BLOCKED
        session.add(
            Delivery(
                message_id=message.id,
                delegate_id=person.delegate_id,
                recipient=f"delegate:{person.delegate_id}",
                channel=account.channel if account else None,
                chat_address=account.chat_address if account else None,
                status=status,
                attempts=0,
                parts_sent=0,
                next_attempt_at=now if status is DeliveryStatus.PENDING else None,
                last_error=account.unreachable_reason
                if account and status is DeliveryStatus.BLOCKED
                else None,
                created_at=now,
                updated_at=now,
            )
        )


async def notice(harness: BotHarness, session: AsyncSession, now: datetime) -> OutboundMessage:
    """A notice to everyone who has not answered, due now, added to ``session``."""
    return await add_notice_due(
        session, harness.services.ctx.meeting_id, "Họp trù bị lúc 14:00.", now, audience="no_answer"
    )


async def stored(harness: BotHarness, message_id: int) -> list[dict[str, Any]]:
    """Every delivery of a message as the database holds it, in insertion order, without the
    columns that tell the two messages apart."""
    async with harness.services.ctx.sessions() as session:
        rows = (
            await session.execute(
                select(Delivery.__table__)
                .where(Delivery.message_id == message_id)
                .order_by(Delivery.id)
            )
        ).mappings()
        return [{k: v for k, v in row.items() if k not in ("id", "message_id")} for row in rows]


async def test_bulk_queued_deliveries_are_the_rows_the_orm_path_stored(
    harness: BotHarness,
) -> None:
    # Three linked: two reachable, one who blocked the bot (with its reason); 77 never linked.
    for code in ("DB001", "DB002", "DB003"):
        await harness.open_invitation(code)
    blocked = str(harness.user_for("DB003").id)
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        await session.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.external_id == blocked)
            .values(unreachable_at=now, unreachable_reason="blocked")
        )
        bulk, reference = await notice(harness, session, now), await notice(harness, session, now)
        reference.status = MessageStatus.QUEUED
        await session.flush()
        await orm_path(harness, session, reference, now)
    assert await harness.outbox.queue_due() == 1

    queued = await stored(harness, bulk.id)
    assert queued == await stored(harness, reference.id)
    statuses = [row["status"] for row in queued]
    assert (len(queued), statuses.count("pending"), statuses.count("blocked")) == (80, 2, 1)
    assert next(row for row in queued if row["status"] == "blocked")["last_error"] == "blocked"
