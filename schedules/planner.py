"""Keeps the automatic messages of the plan as rows, so a restart rebuilds nothing by hand."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.clock import Clock
from bot.domain.outbound import BY_THE_PLAN, MessageKind, MessageStatus
from bot.domain.reminders import PlannedMessage, keyed_slot, slot_of
from storage.models import Delivery, OutboundMessage
from storage.uow import unit_of_work

log = logging.getLogger(__name__)

_OF_THE_OLD_TIME = ("skip_reason", "late_seconds")


async def sync_planned(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    meeting_id: int,
    planned: Sequence[PlannedMessage],
    kinds: Collection[MessageKind] | None = None,
) -> None:
    """Insert missing automatic messages, move those not yet sent, cancel those dropped.

    With ``kinds``, ``planned`` is the plan's messages of those kinds only, and the rows of
    other kinds are left as they are (the draft deadlines re-planned when the office assigns).

    Messages already queued or finished are history and stay as they are, except one that was
    skipped without a copy made for anyone (its time had passed, say, because the meeting's date
    was wrong) and that the plan now calls for at a time still to come: it is planned again at
    that time. A message sent, even to one person, is never planned again; but a message timed
    from another date (the meeting postponed, a deadline moved with it) is another message, and
    the plan's new one goes at its own time (:class:`PlannedMessage`).
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
                    *(() if kinds is None else (OutboundMessage.kind.in_(list(kinds)),)),
                )
            )
        }
        copied = await _with_copies(
            session,
            [row.id for row in existing.values() if row.status == MessageStatus.SKIPPED],
        )
        _take_over_earlier_keys(existing, wanted, copied)
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
                        params=dict(item.params) if item.params else None,
                        created_by=BY_THE_PLAN,
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


def _take_over_earlier_keys(
    existing: dict[str, OutboundMessage],
    wanted: dict[str, PlannedMessage],
    copied: set[int],
) -> None:
    """Give a wanted message with no row of its own the row its slot had under an earlier key,
    when that row is still the same message: one that went to nobody (scheduled, cancelled, or
    skipped with no copy made), planned for another date and now simply re-timed; or one kept
    under its slot alone (before keys carried their anchor) that the plan times as it was.
    A row that went to someone for another date stays under its key, as history."""
    by_slot: dict[str, list[str]] = {}
    for key in existing:
        if key not in wanted:
            by_slot.setdefault(slot_of(key), []).append(key)
    for key, item in wanted.items():
        if key in existing:
            continue
        slot = keyed_slot(item.slot)
        for earlier in sorted(by_slot.get(slot, ()), key=lambda k: existing[k].id):
            row = existing[earlier]
            kept_as_slot = earlier in (item.slot, slot)  # its slot alone, as keys once were
            if _went_to_nobody(row, copied) or (kept_as_slot and row.due_at == item.due_at):
                log.info("%s is now %s", earlier, key)
                row.dedupe_key = key
                existing[key] = existing.pop(earlier)
                by_slot[slot].remove(earlier)
                break


def _went_to_nobody(row: OutboundMessage, copied: set[int]) -> bool:
    """Whether ``row`` was never queued for anyone."""
    if row.status in (MessageStatus.SCHEDULED, MessageStatus.CANCELLED):
        return True
    return row.status == MessageStatus.SKIPPED and row.id not in copied


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
