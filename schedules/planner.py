"""Keeps the automatic messages of the plan as rows, so a restart rebuilds nothing by hand."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.clock import Clock
from bot.domain.outbound import MessageStatus
from bot.domain.reminders import PlannedMessage
from storage.models import OutboundMessage
from storage.uow import unit_of_work

log = logging.getLogger(__name__)


async def sync_planned(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    meeting_id: int,
    planned: Sequence[PlannedMessage],
) -> None:
    """Insert missing automatic messages, move those not yet sent, cancel those dropped.

    Messages already queued or finished are history and stay as they are.
    """
    now = clock.now()
    wanted = {item.dedupe_key: item for item in planned}
    async with unit_of_work(sessions) as session:
        existing: dict[str, OutboundMessage] = {
            row.dedupe_key or "": row
            for row in await session.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.meeting_id == meeting_id,
                    OutboundMessage.dedupe_key.is_not(None),
                )
            )
        }
        for key, item in wanted.items():
            row = existing.get(key)
            if row is None:
                session.add(
                    OutboundMessage(
                        meeting_id=meeting_id,
                        kind=item.kind,
                        dedupe_key=key,
                        status=MessageStatus.SCHEDULED,
                        audience=item.audience,
                        due_at=item.due_at,
                        expires_at=item.expires_at,
                        created_by="plan",
                        report_to=item.report_to,
                        created_at=now,
                    )
                )
            elif row.status in (MessageStatus.SCHEDULED, MessageStatus.CANCELLED):
                row.status = MessageStatus.SCHEDULED
                row.due_at, row.expires_at = item.due_at, item.expires_at
                row.audience, row.report_to = item.audience, item.report_to
        for stale_key, row in existing.items():
            if stale_key not in wanted and row.status == MessageStatus.SCHEDULED:
                row.status = MessageStatus.CANCELLED
                log.info("cancelled %s: no longer in the plan", stale_key)
