"""What the use cases of the drafts share: the dialog an account is in, and the rows each use
case checks first (a live assignment, the speaker's own one, its latest version number)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount
from bot.domain.drafts import DraftLine
from bot.domain.outbound import MessageKind
from bot.services.context import ServiceContext
from bot.services.drafts.lines import read_line, read_lines
from bot.services.drafts.values import DraftResult, DraftStep
from bot.services.queueing import queue_office_note
from storage import queries
from storage.models import ChannelIdentity, Delegate, DraftVersion, SpeechAssignment
from storage.uow import unit_of_work


class Pending(StrEnum):
    """What an account's next message is for (``ChannelIdentity.pending_input``)."""

    TEXT = "draft_text"  # typing a draft over several messages
    REPLY = "draft_reply"  # the next text answers the office
    COMMENT = "draft_comment"  # the office's next text comments on a draft
    PICK = "draft_pick"  # files arrived; which theme is each for?


def pending_id(ident: ChannelIdentity) -> int:
    """The assignment the account's pending dialog is about (0 when none is named)."""
    return int((ident.pending_data or {}).get("assignment_id", 0))


async def _invitation_withdrawn(session: AsyncSession, delegate_id: int | None) -> bool:
    """Whether the person's invitation was withdrawn: her assignments are kept until the
    office re-assigns them, but nothing more is taken from her (her page asks for nothing)."""
    if delegate_id is None:
        return False
    person = await session.get(Delegate, delegate_id)
    return person is not None and person.withdrawn_at is not None


class DraftUseCase:
    """The base of each use case: the meeting's context and the checks they all begin with."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def _line(self, session: AsyncSession, assignment_id: int) -> DraftLine:
        return await read_line(session, self._ctx, assignment_id)

    async def _live(self, session: AsyncSession, assignment_id: int) -> SpeechAssignment | None:
        """An assignment of this meeting that the office has not withdrawn."""
        row = await session.get(SpeechAssignment, assignment_id)
        if row is None or row.meeting_id != self._ctx.meeting_id or row.withdrawn_at is not None:
            return None
        return row

    async def _invitation_withdrawn(self, account: ChatAccount) -> bool:
        """Whether the person of ``account`` had her invitation withdrawn."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            return ident is not None and await _invitation_withdrawn(session, ident.delegate_id)

    async def _own(
        self, session: AsyncSession, account: ChatAccount, assignment_id: int, *, lock: bool = False
    ) -> tuple[ChannelIdentity, SpeechAssignment] | DraftResult:
        """The account's identity and its assignment; a result saying why not otherwise.

        ``lock``: the assignment's row is locked where it is read (PostgreSQL; SQLite's writers
        take turns anyway) and read as it is once locked, so a withdrawal committed meanwhile is
        seen and refused here, and one still to come waits for this transaction."""
        ident = await queries.identity(
            session, self._ctx.meeting_id, account.channel, account.external_id
        )
        if ident is None:
            return DraftResult(DraftStep.NOT_LINKED)
        if await _invitation_withdrawn(session, ident.delegate_id):
            return DraftResult(DraftStep.INVITATION_WITHDRAWN)
        if lock:
            statement = select(SpeechAssignment).where(SpeechAssignment.id == assignment_id)
            row = await session.scalar(queries.locked(statement))
        else:
            row = await session.get(SpeechAssignment, assignment_id)
        if row is None or row.meeting_id != self._ctx.meeting_id:
            return DraftResult(DraftStep.GONE)
        if row.person_id != ident.delegate_id:  # another speaker's draft, or forged button data
            return DraftResult(DraftStep.NOT_SPEAKER)
        if row.withdrawn_at is not None:
            # The office withdrew it: nothing more is taken. After versions were sent her page
            # still shows it, and the refusal says so; otherwise it is simply no longer there.
            lines = await read_lines(session, self._ctx, assignment_ids=[row.id], withdrawn=True)
            if not lines or not lines[0].versions:
                return DraftResult(DraftStep.GONE)
            return DraftResult(DraftStep.WITHDRAWN, draft=lines[0])
        return ident, row

    async def _latest_number(self, session: AsyncSession, assignment_id: int) -> int:
        latest = await session.scalar(
            select(func.max(DraftVersion.number)).where(DraftVersion.assignment_id == assignment_id)
        )
        return int(latest or 0)

    async def _post_to_office(
        self, session: AsyncSession, kind: MessageKind, params: dict[str, Any]
    ) -> None:
        queue_office_note(
            session,
            meeting_id=self._ctx.meeting_id,
            now=self._ctx.clock.now(),
            body=None,
            params=params,
            kind=kind,
        )

    async def _ask(
        self, account: ChatAccount, assignment_id: int, pending: Pending, step: DraftStep
    ) -> DraftResult:
        """Remember what the speaker's next text is for; say how much is typed so far."""
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            ident, row = found
            ident.pending_input, ident.pending_data = pending, {"assignment_id": row.id}
            chunks = row.text_buffer or []
            return DraftResult(
                step,
                draft=await self._line(session, row.id),
                chunks=len(chunks),
                chars=sum(len(c) for c in chunks),
            )
