"""The thread between the office and a speaker: the office comments by replying to a draft post
or through its "comment" choice, the speaker answers the same ways; everything between them goes
through the outbox, so nothing is lost to a restart."""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount
from bot.domain.drafts import MAX_COMMENT, CommentLine, DraftLine
from bot.domain.outbound import MessageKind
from bot.domain.typed import typed
from bot.services.access import OfficeActor
from bot.services.drafts.lines import comment_line, read_lines, version_line
from bot.services.drafts.shared import DraftUseCase, Pending, pending_id
from bot.services.drafts.values import DraftResult, DraftStep, HeldUpload, ThreadPost
from bot.services.queueing import queue_to_person
from storage import queries
from storage.models import (
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    OutboundMessage,
    SpeechAssignment,
)
from storage.uow import read_only, unit_of_work

# Messages a reply may answer, on each side of the thread.
_OFFICE_THREAD = (MessageKind.DRAFT_VERSION, MessageKind.DRAFT_REPLY)
_SPEAKER_THREAD = (
    MessageKind.DRAFT_COMMENT,
    MessageKind.DRAFT_VERDICT,
    MessageKind.DRAFT_ASSIGNED,
)


class Thread(DraftUseCase):
    """Comments from the office and answers from the speaker, kept with the draft."""

    async def office_post(
        self, channel: str, chat_address: str, replied_to: str
    ) -> ThreadPost | None:
        """The draft post of the office's thread a reply in ``chat_address`` answers, if the
        bot's message ``replied_to`` is one (a new version, or a speaker's answer)."""
        async with self._ctx.sessions() as session:
            params = await self._thread_post(
                session, channel, chat_address, replied_to, _OFFICE_THREAD
            )
        if params is None:
            return None
        version_id = params.get("version_id")
        return ThreadPost(int(params.get("assignment_id", 0)), int(version_id or 0) or None)

    async def comment_from_office(
        self,
        office: OfficeActor,
        post: ThreadPost,
        *,
        source: str,
        text: str,
        attachment: HeldUpload | None = None,
        supported: bool = True,
        chosen_by: ChatAccount | None = None,
    ) -> DraftResult:
        """The office's comment on a draft: kept with the draft, sent to the speaker.

        ``post`` is what the comment answers (a draft post replied to, or the version whose
        "comment" choice was taken); ``source`` names the message it came in, so a copy
        delivered again adds nothing. ``attachment`` is a file sent with it (an edited draft);
        ``supported`` is False for content that cannot be relayed (a photo, a sticker).
        ``chosen_by``: the account that chose "comment" (:meth:`begin_comment`) and now
        typed it: it stops waiting once the comment is taken, or the draft is gone.
        """
        body = typed(text).strip()
        async with unit_of_work(self._ctx.sessions) as session:
            row = await self._live(session, post.assignment_id)
            ident = None
            if chosen_by is not None:
                ident = await queries.identity(
                    session, self._ctx.meeting_id, chosen_by.channel, chosen_by.external_id
                )
            if row is None:
                if ident is not None and ident.pending_input == Pending.COMMENT:
                    ident.pending_input = ident.pending_data = None
                return DraftResult(DraftStep.GONE)
            if not supported:
                return DraftResult(DraftStep.UNSUPPORTED)
            if await self._seen(session, source):
                return DraftResult(DraftStep.REPEATED)
            if not body and attachment is None:
                return DraftResult(DraftStep.COMMENT_EMPTY)
            if _too_long(body):
                return DraftResult(DraftStep.COMMENT_TOO_LONG, chars=len(body))
            comment = await self._add_comment(
                session,
                row,
                version_id=post.version_id or await self._latest_id(session, row),
                from_office=True,
                actor=office.actor,
                author_name=office.name,
                body=body,
                source_ref=source,
                attachment=attachment,
            )
            if ident is not None and ident.pending_input == Pending.COMMENT:
                ident.pending_input = ident.pending_data = None
            queue_to_person(
                session,
                meeting_id=self._ctx.meeting_id,
                kind=MessageKind.DRAFT_COMMENT,
                person_id=row.person_id,
                now=self._ctx.clock.now(),
                params={"assignment_id": row.id, "comment_id": comment.id},
            )
            return DraftResult(DraftStep.RELAYED, draft=await self._line(session, row.id))

    async def begin_comment(
        self, office: OfficeActor, account: ChatAccount, version_id: int
    ) -> DraftResult:
        """The office's "comment" choice under a version, where there are no reply threads:
        the next text from this account is the comment."""
        async with unit_of_work(self._ctx.sessions) as session:
            version = await session.get(DraftVersion, version_id)
            row = await self._live(session, version.assignment_id) if version else None
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if version is None or row is None:
                return DraftResult(DraftStep.GONE)
            if ident is None:  # an account of [office] admin_ids that is on no list
                return DraftResult(DraftStep.NOT_LINKED)
            ident.pending_input = Pending.COMMENT
            ident.pending_data = {"assignment_id": row.id, "version_id": version.id}
            return DraftResult(
                DraftStep.ASK_COMMENT,
                draft=await self._line(session, row.id),
                version=version_line(version),
            )

    async def pending_comment(self, account: ChatAccount) -> ThreadPost | None:
        """The draft this account's next text comments on, if it chose to comment."""
        async with self._ctx.sessions() as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
        if ident is None or ident.pending_input != Pending.COMMENT:
            return None
        data = ident.pending_data or {}
        version_id = data.get("version_id")
        return ThreadPost(int(data.get("assignment_id", 0)), int(version_id or 0) or None)

    async def end_comment(self, account: ChatAccount) -> bool:
        """Stop waiting for this account's comment; False when none was awaited."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None or ident.pending_input != Pending.COMMENT:
                return False
            ident.pending_input = ident.pending_data = None
            return True

    async def begin_reply(self, account: ChatAccount, assignment_id: int) -> DraftResult:
        """The speaker's "Trả lời Văn phòng" button: the next text goes to the office."""
        return await self._ask(account, assignment_id, Pending.REPLY, DraftStep.ASK_REPLY)

    async def reply_from_speaker(
        self,
        account: ChatAccount,
        text: str,
        *,
        event_id: str | None,
        replied_to: str | None,
        after_button: bool = True,
    ) -> DraftResult:
        """The speaker answers the office: by replying to a relayed message, or (with
        ``after_button``) after "Trả lời Văn phòng". NOTHING_PENDING when the text is neither."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None:
                return DraftResult(DraftStep.NOTHING_PENDING)
            assignment_id: int | None = None
            if replied_to is not None:
                params = await self._thread_post(
                    session, account.channel, account.chat_address, replied_to, _SPEAKER_THREAD
                )
                if params is not None:
                    assignment_id = int(params.get("assignment_id", 0))
            if after_button and assignment_id is None and ident.pending_input == Pending.REPLY:
                assignment_id = pending_id(ident)
            if assignment_id is None:
                return DraftResult(DraftStep.NOTHING_PENDING)
            if not queries.first_time(ident, event_id):
                return DraftResult(DraftStep.REPEATED)
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                # Refused (her invitation or this speech withdrawn, the draft gone): the question
                # ends with the refusal, as a typed draft's does, or her next message, about
                # anything, would be taken as the answer (relayed, once she is invited again).
                if ident.pending_input == Pending.REPLY and (
                    pending_id(ident) == assignment_id
                    or found.step is DraftStep.INVITATION_WITHDRAWN
                ):
                    ident.pending_input = ident.pending_data = None
                return found
            _, row = found
            body = text.strip()
            if not body:
                return DraftResult(DraftStep.COMMENT_EMPTY)
            if _too_long(body):
                return DraftResult(DraftStep.COMMENT_TOO_LONG, chars=len(body))
            if ident.pending_input == Pending.REPLY:
                ident.pending_input = ident.pending_data = None
            person = await session.get_one(Delegate, row.person_id)
            comment = await self._add_comment(
                session,
                row,
                version_id=await self._latest_id(session, row),
                from_office=False,
                actor=account.actor,
                author_name=person.full_name,
                body=body,
                source_ref=source_of(account.channel, account.chat_address, event_id),
            )
            await self._post_to_office(
                session,
                MessageKind.DRAFT_REPLY,
                {"assignment_id": row.id, "comment_id": comment.id},
            )
            return DraftResult(DraftStep.RELAYED, draft=await self._line(session, row.id))

    async def comment(self, comment_id: int) -> tuple[DraftLine, CommentLine] | None:
        """One message of a thread, with its draft (for the outbox)."""
        async with unit_of_work(self._ctx.sessions) as session:
            row = await session.get(DraftComment, comment_id)
            if row is None:
                return None
            lines = await read_lines(session, self._ctx, assignment_ids=[row.assignment_id])
            if not lines:
                return None
            number = None
            if row.version_id is not None:
                version = await session.get(DraftVersion, row.version_id)
                number = version.number if version is not None else None
            return lines[0], comment_line(row, number)

    async def thread(self, assignment_id: int) -> list[CommentLine]:
        """The whole thread of one draft, oldest first."""
        async with read_only(self._ctx.sessions) as session:
            rows = (
                await session.execute(
                    select(DraftComment, DraftVersion.number)
                    .outerjoin(DraftVersion, DraftVersion.id == DraftComment.version_id)
                    .where(DraftComment.assignment_id == assignment_id)
                    .order_by(DraftComment.id)
                )
            ).all()
        return [comment_line(c, number) for c, number in rows]

    async def _seen(self, session: AsyncSession, source_ref: str) -> bool:
        found = await session.scalar(
            select(DraftComment.id).where(DraftComment.source_ref == source_ref).limit(1)
        )
        return found is not None

    async def _latest_id(self, session: AsyncSession, row: SpeechAssignment) -> int | None:
        return await session.scalar(
            select(DraftVersion.id)
            .where(DraftVersion.assignment_id == row.id)
            .order_by(DraftVersion.number.desc())
            .limit(1)
        )

    async def _add_comment(
        self,
        session: AsyncSession,
        row: SpeechAssignment,
        *,
        version_id: int | None,
        from_office: bool,
        actor: str,
        author_name: str,
        body: str,
        source_ref: str,
        attachment: HeldUpload | None = None,
    ) -> DraftComment:
        now = self._ctx.clock.now()
        comment = DraftComment(
            assignment_id=row.id,
            version_id=version_id,
            from_office=from_office,
            author=actor,
            author_name=author_name[:200],
            body=body,
            file_channel=attachment.channel if attachment else None,
            file_ref=attachment.file_ref if attachment else None,
            file_name=attachment.name[:300] if attachment else None,
            source_ref=source_ref,
            created_at=now,
        )
        session.add(comment)
        await session.flush()
        queries.add_audit(
            session,
            at=now,
            actor=actor,
            action="draft.comment",
            entity="speech_assignment",
            entity_id=row.id,
            before=None,
            after={"comment_id": comment.id, "from_office": from_office},
        )
        row.updated_at = now
        return comment

    async def _thread_post(
        self,
        session: AsyncSession,
        channel: str,
        chat_address: str,
        message_id: str,
        kinds: Sequence[MessageKind],
    ) -> dict[str, Any] | None:
        """The params of the draft message the bot sent as ``message_id`` to this chat."""
        params = await session.scalar(
            select(OutboundMessage.params)
            .join(Delivery, Delivery.message_id == OutboundMessage.id)
            .where(
                Delivery.channel == channel,
                Delivery.chat_address == chat_address,
                Delivery.platform_message_id == message_id,
                OutboundMessage.meeting_id == self._ctx.meeting_id,
                OutboundMessage.kind.in_([str(kind) for kind in kinds]),
            )
            .limit(1)
        )
        return dict(params) if params else None


def source_of(channel: str, chat_address: str, event_id: str | None) -> str:
    """The message a comment came in, as its ``source_ref``: a copy of the event delivered
    again matches it; an event without an id is never taken for another."""
    return f"{channel}:{chat_address}:{event_id or uuid.uuid4().hex}"


def _too_long(body: str) -> bool:
    """Over the limit as Telegram will count it once escaped for HTML (``&`` grows to five
    characters), so a comment always fits one message and its reply button."""
    return len(html.escape(body, quote=False)) > MAX_COMMENT
