"""Putting messages in the outbox from a use case's own transaction: a note to the office, a
message to one person. The outbox (``schedules/``) queues their deliveries and sends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.outbound import OFFICE_PLACE, Audience, MessageKind, MessageStatus
from storage.models import OutboundMessage


def queue_office_note(
    session: AsyncSession,
    *,
    meeting_id: int,
    now: datetime,
    body: str | None,
    params: dict[str, Any],
    kind: MessageKind = MessageKind.OFFICE_NOTE,
    to: str = OFFICE_PLACE,
    dedupe_key: str | None = None,
) -> None:
    """Queue a note to the office (``to``: a place, by default wherever the office reads its
    notes) in the caller's transaction; the outbox's next tick sends it.

    ``body`` is ready HTML, or None with ``params`` naming a catalog ``template`` and its
    ``values`` (so services queue notes without writing prose).
    """
    session.add(
        OutboundMessage(
            meeting_id=meeting_id,
            kind=kind,
            dedupe_key=dedupe_key,
            status=MessageStatus.SCHEDULED,
            audience=Audience.OFFICE,
            body=body,
            params=params,
            due_at=now,
            created_by="system",
            report_to=to,
            created_at=now,
        )
    )


def queue_to_person(
    session: AsyncSession,
    *,
    meeting_id: int,
    kind: MessageKind,
    person_id: int,
    now: datetime,
    params: dict[str, Any],
    report_to: str | None = OFFICE_PLACE,
    expires_at: datetime | None = None,
) -> None:
    """Queue a message to one person in the caller's transaction; the next tick sends it (or
    records that the person has not linked an account or cannot be reached), unless
    ``expires_at`` passed first."""
    session.add(
        OutboundMessage(
            meeting_id=meeting_id,
            kind=kind,
            status=MessageStatus.SCHEDULED,
            audience=f"{Audience.PERSON}:{person_id}",
            params=params,
            due_at=now,
            expires_at=expires_at,
            created_by="system",
            report_to=report_to,
            created_at=now,
        )
    )
