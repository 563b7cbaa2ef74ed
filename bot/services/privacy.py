"""Removing personal data after the meeting (Decree 13/2023/NĐ-CP on personal data protection),
while keeping what the office must keep: the list of delegates, their answers and the counts.

Removed: phone numbers, the Telegram accounts linked to delegates (chat ids), the chat
addresses of past deliveries, wrong-link records, pending questions; account ids in the audit
log are replaced; invitation links stop working. With ``drafts``: the uploaded speech drafts
(files and versions) and the comment threads. The ids of handled updates go too: they name no
one, but after the meeting nothing needs them and emptying the table costs nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.domain.outbound import DeliveryStatus
from bot.services.context import ServiceContext
from storage import queries
from storage.files import FileStore
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    HandledUpdate,
    Invitation,
    LinkFailure,
)
from storage.uow import unit_of_work

ERASED = "đã-xóa"
_ACCOUNT_KEYS = ("external_id", "chat_address", "phone")


class PurgeStep(StrEnum):
    """How a purge request ended."""

    PURGED = "purged"
    NOT_OVER = "not_over"  # the meeting has not ended: personal data is still needed


@dataclass(frozen=True)
class PurgeSummary:
    """What was removed."""

    step: PurgeStep
    phones: int = 0
    accounts: int = 0
    deliveries: int = 0
    audit_entries: int = 0
    drafts: int = 0
    comments: int = 0


class PrivacyService:
    """Personal data, after the meeting."""

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self._files = files

    async def purge(self, *, drafts: bool, force: bool = False) -> PurgeSummary:
        """Remove personal data (see the module's docstring); refused before the meeting ends
        unless ``force``."""
        now = self._ctx.clock.now()
        if now < self._ctx.config.meeting.ends_at and not force:
            return PurgeSummary(PurgeStep.NOT_OVER)
        meeting_id = self._ctx.meeting_id
        blobs: list[str] = []
        async with unit_of_work(self._ctx.sessions) as session:
            people = select(Delegate.id).where(Delegate.meeting_id == meeting_id)
            phones = await _count(
                session,
                select(Delegate.id).where(
                    Delegate.meeting_id == meeting_id, Delegate.phone.is_not(None)
                ),
            )
            await session.execute(
                update(Delegate).where(Delegate.meeting_id == meeting_id).values(phone=None)
            )
            accounts = await _count(
                session, select(ChannelIdentity.id).where(ChannelIdentity.delegate_id.in_(people))
            )
            await session.execute(
                delete(ChannelIdentity).where(ChannelIdentity.delegate_id.in_(people))
            )
            deliveries = await _count(
                session,
                select(Delivery.id).where(
                    Delivery.delegate_id.in_(people), Delivery.chat_address.is_not(None)
                ),
            )
            # Anything still waiting to be sent has nowhere to go now.
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.delegate_id.in_(people),
                    Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
                )
                .values(status=DeliveryStatus.SKIPPED, last_error="personal data removed")
            )
            await session.execute(
                update(Delivery).where(Delivery.delegate_id.in_(people)).values(chat_address=None)
            )
            await session.execute(delete(LinkFailure))
            await session.execute(delete(HandledUpdate))
            await session.execute(
                update(Invitation)
                .where(Invitation.delegate_id.in_(people), Invitation.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            audit_entries = 0
            for entry in await session.scalars(select(AuditEntry)):
                changed = False
                channel, _, external = entry.actor.partition(":")
                if external.isdigit():  # a chat account's id
                    entry.actor = f"{channel}:{ERASED}"
                    changed = True
                for side in ("before", "after"):
                    value = getattr(entry, side)
                    if isinstance(value, dict) and any(k in value for k in _ACCOUNT_KEYS):
                        setattr(entry, side, _scrubbed(value))
                        changed = True
                audit_entries += changed
            versions = comments = 0
            if drafts:
                rows = list(await session.scalars(select(DraftVersion)))
                blobs = sorted({row.sha256 for row in rows})
                versions = len(rows)
                comments = await _count(session, select(DraftComment.id))
                await session.execute(delete(DraftComment))
                await session.execute(delete(DraftVersion))
            queries.add_audit(
                session,
                at=now,
                actor="cli:purge",
                action="privacy.purged",
                entity="meeting",
                entity_id=meeting_id,
                before=None,
                after={
                    "phones": phones,
                    "accounts": accounts,
                    "deliveries": deliveries,
                    "drafts": versions,
                    "comments": comments,
                },
            )
        for digest in blobs:
            await asyncio.to_thread(self._files.path_for(digest).unlink, missing_ok=True)
        return PurgeSummary(
            PurgeStep.PURGED, phones, accounts, deliveries, audit_entries, versions, comments
        )


async def _count(session: Any, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _scrubbed(value: dict[str, Any]) -> dict[str, Any]:
    return {key: (ERASED if key in _ACCOUNT_KEYS else item) for key, item in value.items()}
