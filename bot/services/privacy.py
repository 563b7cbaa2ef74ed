"""Removing personal data after the meeting (Decree 13/2023/NĐ-CP on personal data protection),
while keeping what the office must keep: the list of delegates, their answers and the counts.

Removed: phone numbers, the chat accounts linked to delegates (Telegram, Zalo, personal pages),
the chat addresses of past deliveries, wrong-link records, pending questions; account ids in
the audit log are replaced (whatever their shape: Telegram's numbers, Zalo's hex ids);
invitation links stop working. With ``drafts``: the uploaded speech drafts (files and versions),
the pieces of a speech typed in chat and never finished, and the comment threads. The ids of
handled updates go too: they name no one, but after the meeting nothing needs them and emptying
the table costs nothing.

Kept, and said so: the names, positions and units written at the reception desk for guests and
substitutes (the record of who was at the meeting), as the substitutes named in the answers are.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.domain.outbound import DeliveryStatus
from bot.services.access import DASHBOARD, LOCAL_OPERATOR
from bot.services.checkin import ArrivalKind
from bot.services.context import ServiceContext
from storage import queries
from storage.files import FileStore
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Checkin,
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    HandledEvent,
    Invitation,
    LinkFailure,
    Rsvp,
    SpeechAssignment,
)
from storage.uow import unit_of_work

ERASED = "đã-xóa"
_ACCOUNT_KEYS = ("external_id", "chat_address", "phone", "substitute_phone")
# Actors of the core's own that name no chat account: the command line («cli», «cli:import»),
# the plan, a staff member at the dashboard (by their code on the list). Any other
# «channel:id» is an account — a Telegram number, a Zalo id (opaque hex), a personal page.
_OWN_ACTORS = frozenset({LOCAL_OPERATOR, DASHBOARD, "plan"})


class PurgeStep(StrEnum):
    """How a purge request ended."""

    PURGED = "purged"
    PREVIEW = "preview"  # counted only: nothing was removed
    NOT_OVER = "not_over"  # the meeting has not ended: personal data is still needed


@dataclass(frozen=True)
class PurgeSummary:
    """What was removed (or, for a preview, what would be)."""

    step: PurgeStep
    phones: int = 0
    accounts: int = 0  # chat accounts (Telegram, Zalo) linked to a delegate
    pages: int = 0  # the accounts personal pages act as (one per person who opened hers), apart
    deliveries: int = 0
    audit_entries: int = 0
    drafts: int = 0
    comments: int = 0
    links: int = 0  # personal links that stop working
    link_failures: int = 0  # records of wrong links opened, with the account that opened them
    # Kept, not removed: the check-ins of guests and of substitutes (their names, positions and
    # units as the desk wrote them), said apart so that nobody reads them as removed.
    guests: int = 0
    substitutes: int = 0


class PrivacyService:
    """Personal data, after the meeting."""

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self._files = files

    async def preview(self, *, drafts: bool, force: bool = False) -> PurgeSummary:
        """What :meth:`purge` would remove now, counted the same way; changes nothing."""
        if self._refused(force):
            return PurgeSummary(PurgeStep.NOT_OVER)
        async with unit_of_work(self._ctx.sessions) as session:
            return await self._counts(session, PurgeStep.PREVIEW, drafts=drafts)

    async def purge(self, *, drafts: bool, force: bool = False) -> PurgeSummary:
        """Remove personal data (see the module's docstring); refused before the meeting ends
        unless ``force``."""
        if self._refused(force):
            return PurgeSummary(PurgeStep.NOT_OVER)
        now = self._ctx.clock.now()
        meeting_id = self._ctx.meeting_id
        blobs: list[str] = []
        async with unit_of_work(self._ctx.sessions) as session:
            summary = await self._counts(session, PurgeStep.PURGED, drafts=drafts)
            people = select(Delegate.id).where(Delegate.meeting_id == meeting_id)
            await session.execute(
                update(Delegate).where(Delegate.meeting_id == meeting_id).values(phone=None)
            )
            # The number a substitute gave with her answer (the delegate's own answer row).
            await session.execute(
                update(Rsvp).where(Rsvp.delegate_id.in_(people)).values(substitute_phone=None)
            )
            await session.execute(
                delete(ChannelIdentity).where(ChannelIdentity.delegate_id.in_(people))
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
            await session.execute(delete(HandledEvent))
            await session.execute(
                update(Invitation)
                .where(Invitation.delegate_id.in_(people), Invitation.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            for entry in await session.scalars(self._audit_entries()):
                if _names_an_account(entry):
                    entry.actor = _scrubbed_actor(entry.actor)
                    for side in ("before", "after"):
                        value = getattr(entry, side)
                        if _holds_an_account(value):
                            setattr(entry, side, _scrubbed(value))
            if drafts:
                mine = set(
                    await session.scalars(
                        select(DraftVersion.sha256).where(
                            DraftVersion.assignment_id.in_(self._assignments())
                        )
                    )
                )
                await session.execute(
                    delete(DraftComment).where(DraftComment.assignment_id.in_(self._assignments()))
                )
                await session.execute(
                    delete(DraftVersion).where(DraftVersion.assignment_id.in_(self._assignments()))
                )
                # A speech typed as messages and never finished is speech text too.
                await session.execute(
                    update(SpeechAssignment)
                    .where(SpeechAssignment.meeting_id == meeting_id)
                    .values(text_buffer=None)
                )
                # A deliverable uploaded on a page may be the same bytes as a draft: its blob
                # stays while a task's evidence still names it (another meeting's drafts and
                # evidence in the same database included).
                blobs = sorted(mine - await queries.blobs_named(session, mine))
            queries.add_audit(
                session,
                at=now,
                actor="cli:purge",
                action="privacy.purged",
                entity="meeting",
                entity_id=meeting_id,
                before=None,
                after={
                    "phones": summary.phones,
                    "accounts": summary.accounts,
                    "pages": summary.pages,
                    "deliveries": summary.deliveries,
                    "drafts": summary.drafts,
                    "comments": summary.comments,
                },
            )
        # After the commit, and without looking at the rows again: no upload can name one of
        # these blobs meanwhile, because ``hoinghi purge`` holds the database alone until it
        # ends (:mod:`storage.guard`: no run, and so no bot or web page, works beside it). A
        # caller that purged beside uploads would have to re-check each blob under a lock.
        for digest in blobs:
            await asyncio.to_thread(self._files.path_for(digest).unlink, missing_ok=True)
        return summary

    def _assignments(self) -> Any:
        """The ids of this meeting's speech assignments (its drafts' and comments' owners)."""
        return select(SpeechAssignment.id).where(
            SpeechAssignment.meeting_id == self._ctx.meeting_id
        )

    def _audit_entries(self) -> Any:
        """This meeting's audit entries (another meeting's in the same database are its own
        purge's business)."""
        return select(AuditEntry).where(AuditEntry.meeting_id == self._ctx.meeting_id)

    def _refused(self, force: bool) -> bool:
        return self._ctx.clock.now() < self._ctx.config.meeting.ends_at and not force

    async def _counts(self, session: Any, step: PurgeStep, *, drafts: bool) -> PurgeSummary:
        """How many of each kind of personal data a purge removes, before it removes them."""
        people = select(Delegate.id).where(Delegate.meeting_id == self._ctx.meeting_id)
        audit_entries = sum(
            _names_an_account(entry) for entry in await session.scalars(self._audit_entries())
        )
        return PurgeSummary(
            step,
            phones=await _count(
                session,
                select(Delegate.id).where(
                    Delegate.meeting_id == self._ctx.meeting_id, Delegate.phone.is_not(None)
                ),
            )
            + await _count(
                session,
                select(Rsvp.id).where(
                    Rsvp.delegate_id.in_(people), Rsvp.substitute_phone.is_not(None)
                ),
            ),
            # A page opened is no chat account: counted apart, not as «tài khoản đã liên kết».
            accounts=await _count(
                session,
                select(ChannelIdentity.id).where(
                    ChannelIdentity.delegate_id.in_(people),
                    ChannelIdentity.linked_via != queries.PAGE_LINK,
                ),
            ),
            pages=await _count(
                session,
                select(ChannelIdentity.id).where(
                    ChannelIdentity.delegate_id.in_(people),
                    ChannelIdentity.linked_via == queries.PAGE_LINK,
                ),
            ),
            deliveries=await _count(
                session,
                select(Delivery.id).where(
                    Delivery.delegate_id.in_(people), Delivery.chat_address.is_not(None)
                ),
            ),
            audit_entries=audit_entries,
            drafts=await _count(
                session,
                select(DraftVersion.id).where(DraftVersion.assignment_id.in_(self._assignments())),
            )
            if drafts
            else 0,
            comments=await _count(
                session,
                select(DraftComment.id).where(DraftComment.assignment_id.in_(self._assignments())),
            )
            if drafts
            else 0,
            links=await _count(
                session,
                select(Invitation.id).where(
                    Invitation.delegate_id.in_(people), Invitation.revoked_at.is_(None)
                ),
            ),
            link_failures=await _count(session, select(LinkFailure.id)),
            guests=await _count(session, self._checkins(ArrivalKind.GUEST)),
            substitutes=await _count(session, self._checkins(ArrivalKind.SUBSTITUTE)),
        )

    def _checkins(self, kind: ArrivalKind) -> Any:
        """This meeting's check-ins of ``kind`` (undone ones too: they hold the name as well)."""
        return select(Checkin.id).where(
            Checkin.meeting_id == self._ctx.meeting_id, Checkin.kind == kind.value
        )


async def _count(session: Any, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _names_an_account(entry: AuditEntry) -> bool:
    """Whether an audit entry still holds a chat account's id or a phone number, as its actor or
    in what changed (one purged already, or one with empty fields, has nothing left to remove)."""
    if _scrubbed_actor(entry.actor) != entry.actor:
        return True
    return _holds_an_account(entry.before) or _holds_an_account(entry.after)


def _holds_an_account(value: Any) -> bool:
    return isinstance(value, dict) and any(
        value.get(key) not in (None, ERASED) for key in _ACCOUNT_KEYS
    )


def _scrubbed_actor(actor: str) -> str:
    channel, _, external = actor.partition(":")
    if not external or channel in _OWN_ACTORS:
        return actor
    return f"{channel}:{ERASED}"  # a chat account's id, whatever its shape


def _scrubbed(value: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (ERASED if key in _ACCOUNT_KEYS and item is not None else item)
        for key, item in value.items()
    }
