"""Keeps the automatic messages of the plan as rows, so a restart rebuilds nothing by hand."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.clock import Clock
from bot.domain.outbound import MessageStatus
from bot.domain.reminders import PlannedMessage
from storage.models import Delivery, OutboundMessage
from storage.uow import unit_of_work

log = logging.getLogger(__name__)

_OF_THE_OLD_TIME = ("skip_reason", "late_seconds")


async def sync_planned(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    meeting_id: int,
    planned: Sequence[PlannedMessage],
) -> None:
    """Insert missing automatic messages, move those not yet sent, cancel those dropped.

    Messages already queued or finished are history and stay as they are, except one that was
    skipped without a copy made for anyone (its time had passed, say, because the meeting's date
    was wrong) and that the plan now calls for at a time still to come: it is planned again at
    that time. A message sent, even to one person, is never planned again.
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
        copied = await _with_copies(
            session,
            [
                row.id
                for key, row in existing.items()
                if key in wanted and row.status == MessageStatus.SKIPPED
            ],
        )
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
                _retime(row, item)
            elif row.status == MessageStatus.SKIPPED and row.id not in copied and item.due_at > now:
                # Skipped at its old time, it went to nobody; the old time came before now
                # (the outbox only looks at what is due), so a time still to come is a new one.
                log.info(
                    "planned %s again: skipped when due %s, now due %s",
                    key,
                    row.due_at,
                    item.due_at,
                )
                _retime(row, item)
                # What the outbox noted of the old time (why it skipped, how late) is not
                # true of the new one.
                row.params = {
                    k: v for k, v in (row.params or {}).items() if k not in _OF_THE_OLD_TIME
                } or None
                row.queued_at = row.finished_at = None
        for stale_key, row in existing.items():
            if stale_key not in wanted and row.status == MessageStatus.SCHEDULED:
                row.status = MessageStatus.CANCELLED
                log.info("cancelled %s: no longer in the plan", stale_key)


def _retime(row: OutboundMessage, item: PlannedMessage) -> None:
    """``row`` scheduled as the plan now has ``item``."""
    row.status = MessageStatus.SCHEDULED
    row.due_at, row.expires_at = item.due_at, item.expires_at
    row.audience, row.report_to = item.audience, item.report_to


async def _with_copies(session: AsyncSession, message_ids: Sequence[int]) -> set[int]:
    """Which of ``message_ids`` have a copy made for someone (a delivery row, whatever became
    of it)."""
    if not message_ids:
        return set()
    rows = await session.scalars(
        select(Delivery.message_id).where(Delivery.message_id.in_(message_ids)).distinct()
    )
    return set(rows)
