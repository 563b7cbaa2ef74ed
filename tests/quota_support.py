"""Rows the quota tests count: accounts linked on a bot's channel and deliveries it sent, written
as the linking and the outbox write them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from bot.domain.outbound import Audience, DeliveryStatus, MessageKind, MessageStatus
from bot.services import Services
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage
from storage.queries import next_notice_number


async def link_on(services: Services, channel: str, *codes: str) -> None:
    """Each of ``codes`` has an account linked on ``channel``."""
    now = services.ctx.clock.now()
    async with services.ctx.sessions() as session, session.begin():
        for code in codes:
            person = await session.scalar(
                select(Delegate).where(
                    Delegate.meeting_id == services.ctx.meeting_id, Delegate.code == code
                )
            )
            assert person is not None, code
            session.add(
                ChannelIdentity(
                    meeting_id=person.meeting_id,
                    delegate_id=person.id,
                    channel=channel,
                    external_id=f"{channel}-{code}",
                    chat_address=f"{channel}-{code}",
                    linked_at=now,
                    linked_via="code",
                )
            )


async def sent_on(
    services: Services,
    channel: str,
    at: datetime,
    count: int = 1,
    *,
    parts: int = 1,
    status: DeliveryStatus = DeliveryStatus.SENT,
    parts_sent: int = 0,
    maybe_sent: bool = False,
) -> None:
    """``count`` deliveries of ``parts`` parts each on ``channel``, sent (or ``status``) at
    ``at``, as one broadcast; one not sent had ``parts_sent`` of its parts go first, and
    (``maybe_sent``) a send of the next one got no answer."""
    async with services.ctx.sessions() as session, session.begin():
        message = OutboundMessage(
            meeting_id=services.ctx.meeting_id,
            kind=MessageKind.BROADCAST,
            status=MessageStatus.DONE,
            audience=Audience.LINKED,
            body="x",
            created_by="test",
            created_at=at,
            number=await next_notice_number(session, services.ctx.meeting_id),
        )
        session.add(message)
        await session.flush()
        sent = status is DeliveryStatus.SENT
        rows = [
            {
                "message_id": message.id,
                "recipient": f"{channel}:r{number}",
                "channel": channel,
                "chat_address": f"r{number}",
                "status": status,
                "attempts": 1,
                "parts_sent": parts if sent else parts_sent,
                "created_at": at,
                "updated_at": at,
                "sent_at": at if sent else None,
                "maybe_sent_at": at if maybe_sent else None,
            }
            for number in range(count)
        ]
        await session.execute(insert(Delivery), rows)
