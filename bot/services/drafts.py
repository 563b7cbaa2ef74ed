"""Speech drafts (tham luận, section IV): who speaks on which theme, the versions they send,
the thread with the office, and the office's verdict.

Uploads are checked twice: by name and announced size before anything is downloaded
(:meth:`DraftService.check_upload`), and by content when stored (:class:`storage.files.FileStore`
asks :func:`storage.content.check_content`, which judges every upload's bytes). The office sees
each new version in its chat, replies to that post to comment, and marks the draft final or in
need of revision; everything between the office and the speaker goes through the outbox, so
nothing is lost to a restart.
"""

from __future__ import annotations

import asyncio
import html
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount
from bot.domain.drafts import (
    MAX_COMMENT,
    MAX_TEXT_DRAFT,
    CommentLine,
    DraftLine,
    DraftStatus,
    VersionLine,
)
from bot.domain.outbound import MessageKind
from bot.domain.typed import typed
from bot.services.access import OfficeActor
from bot.services.context import ServiceContext
from bot.services.queueing import queue_office_note, queue_to_person
from storage import queries
from storage.content import FileRejected, RejectCode
from storage.files import FileStore, sanitize_filename
from storage.models import (
    ChannelIdentity,
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    OutboundMessage,
    SpeechAssignment,
)
from storage.uow import unit_of_work

log = logging.getLogger(__name__)

TEXT_SUFFIX = ".txt"
# Messages a reply may answer, on each side of the thread.
_OFFICE_THREAD = (MessageKind.DRAFT_VERSION, MessageKind.DRAFT_REPLY)
_SPEAKER_THREAD = (
    MessageKind.DRAFT_COMMENT,
    MessageKind.DRAFT_VERDICT,
    MessageKind.DRAFT_ASSIGNED,
)


class _Pending(StrEnum):
    TEXT = "draft_text"  # typing a draft over several messages
    REPLY = "draft_reply"  # the next text answers the office
    COMMENT = "draft_comment"  # the office's next text comments on a draft
    PICK = "draft_pick"  # files arrived; which theme is each for?


# Files waiting for a theme, newest kept: a speaker with two themes rarely sends more at once.
MAX_HELD = 5


class DraftStep(StrEnum):
    """What happened, so the adapter knows what to say."""

    RECEIVED = "received"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    NOT_LINKED = "not_linked"
    NOT_SPEAKER = "not_speaker"
    PICK_THEME = "pick_theme"
    PICK_PENDING = "pick_pending"  # text typed while a file waits for its theme
    GONE = "gone"
    COMPOSING = "composing"
    CHUNK_ADDED = "chunk_added"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    CANCELLED = "cancelled"
    NOTHING_PENDING = "nothing_pending"
    REPEATED = "repeated"  # a redelivered message: already handled
    ASK_REPLY = "ask_reply"
    RELAYED = "relayed"
    NOT_A_DRAFT_POST = "not_a_draft_post"
    VERDICT = "verdict"
    UNCHANGED = "unchanged"
    SUPERSEDED = "superseded"
    NOT_ALLOWED = "not_allowed"  # a reply in the office chat from someone not on the staff list
    COMMENT_TOO_LONG = "comment_too_long"
    COMMENT_EMPTY = "comment_empty"
    DOWNLOAD_FAILED = "download_failed"
    UNSUPPORTED = "unsupported"  # a reply to a draft post that is neither text nor a file
    ASK_COMMENT = "ask_comment"  # the office chose to comment: its next text is the comment


@dataclass(frozen=True)
class DraftResult:
    """The step reached and what the reply needs."""

    step: DraftStep
    draft: DraftLine | None = None
    version: VersionLine | None = None
    reject: RejectCode | None = None
    chunks: int = 0
    chars: int = 0
    choices: tuple[DraftLine, ...] = ()
    newer: int | None = None  # the newer version a stale verdict button was overtaken by


@dataclass(frozen=True)
class HeldUpload:
    """A file a person sent, kept by the channel it came through (``file_ref`` works there
    only): a draft waiting for the speaker to say which theme it is for (``token`` tells the
    held files apart), or a file the office attached to a comment."""

    channel: str
    file_ref: str
    name: str
    size: int | None
    token: int = 0


@dataclass(frozen=True)
class ThreadPost:
    """What an office comment answers: a draft, and the version it is about (if known)."""

    assignment_id: int
    version_id: int | None


@dataclass(frozen=True)
class VersionFile:
    """What the outbox and the office need to send a version again."""

    version: VersionLine
    draft: DraftLine
    channel: str | None
    file_ref: str | None
    path: Path


class AssignOutcome(StrEnum):
    """How an office assignment command ended."""

    ASSIGNED = "assigned"
    ALREADY = "already"
    REMOVED = "removed"
    NOT_ASSIGNED = "not_assigned"
    HAS_VERSIONS = "has_versions"
    UNKNOWN_PERSON = "unknown_person"
    UNKNOWN_THEME = "unknown_theme"


@dataclass(frozen=True)
class AssignResult:
    """An assignment change and the line it concerns."""

    outcome: AssignOutcome
    draft: DraftLine | None = None


@dataclass(frozen=True)
class DraftSync:
    """What syncing the plan's speakers did."""

    created: int
    removed: int
    unknown_speakers: list[str]


@dataclass(frozen=True)
class ExportedDraft:
    """One row of the export index."""

    draft: DraftLine
    file_name: str | None


class DraftService:
    """Assignments, uploads, the office thread and the verdict."""

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self.files = files

    @property
    def deadline_at(self) -> datetime:
        """When drafts are due unless their theme says otherwise ([drafts] deadline)."""
        config = self._ctx.config
        return config.meeting.resolve(config.drafts.deadline)

    # --- assignments -----------------------------------------------------------------------------

    async def sync(self) -> DraftSync:
        """Bring the plan's assignments in line with the config.

        Assignments the office added with a command stay; one the plan dropped is removed only if
        nothing was sent for it yet. A new assignment tells a linked speaker their theme and
        deadline at once; the others see it when they open their personal link.
        """
        config, now = self._ctx.config, self._ctx.clock.now()
        created = removed = 0
        unknown: list[str] = []
        async with unit_of_work(self._ctx.sessions) as session:
            people = await queries.delegates_by_code(session, self._ctx.meeting_id)
            wanted: set[tuple[str, int]] = set()
            for theme in config.themes:
                for code in theme.speakers:
                    person = people.get(queries.fold_code(code))
                    if person is None:
                        unknown.append(code)
                    else:
                        wanted.add((theme.key, person.id))
            rows = list(
                await session.scalars(
                    select(SpeechAssignment).where(
                        SpeechAssignment.meeting_id == self._ctx.meeting_id
                    )
                )
            )
            # Withdrawn rows count as existing: the office's withdrawal outlives a re-sync.
            existing = {(row.theme_key, row.person_id): row for row in rows}
            for theme_key, person_id in sorted(wanted - existing.keys()):
                await self._add_assignment(session, theme_key, person_id, "plan", "plan", now)
                created += 1
            for key, row in existing.items():
                if (
                    row.source == "plan"
                    and row.withdrawn_at is None
                    and key not in wanted
                    and not await self._has_versions(session, row.id)
                ):
                    await session.delete(row)
                    removed += 1
                    continue
                deadline = config.draft_deadline(row.theme_key)
                if row.deadline_at != deadline:  # the plan moved the deadline
                    row.deadline_at, row.updated_at = deadline, now
        if unknown:
            # A note, not a warning: the report carries them to the caller, who tells the office.
            log.info("speakers not in the imported list: %s", ", ".join(sorted(set(unknown))))
        return DraftSync(created, removed, sorted(set(unknown)))

    async def assign(self, office: OfficeActor, code: str, theme_key: str) -> AssignResult:
        """The office asks a person on the list to speak on a theme."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._target(session, code, theme_key)
            if isinstance(found, AssignResult):
                return found
            person, row = found
            if row is not None and row.withdrawn_at is None:
                return AssignResult(AssignOutcome.ALREADY, await self._line(session, row.id))
            if row is not None:  # withdrawn earlier: assigned again
                row.withdrawn_at, row.source, row.updated_at = None, "office", now
                await self._announce(session, row, office.actor, now)
            else:
                row = await self._add_assignment(
                    session, self._theme_key(theme_key), person.id, "office", office.actor, now
                )
            return AssignResult(AssignOutcome.ASSIGNED, await self._line(session, row.id))

    async def unassign(self, office: OfficeActor, code: str, theme_key: str) -> AssignResult:
        """The office withdraws an assignment that has no versions yet."""
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._target(session, code, theme_key)
            if isinstance(found, AssignResult):
                return found
            _, row = found
            if row is None or row.withdrawn_at is not None:
                return AssignResult(AssignOutcome.NOT_ASSIGNED)
            line = await self._line(session, row.id)
            if await self._has_versions(session, row.id):
                return AssignResult(AssignOutcome.HAS_VERSIONS, line)
            now = self._ctx.clock.now()
            queries.add_audit(
                session,
                at=now,
                actor=office.actor,
                action="draft.unassigned",
                entity="speech_assignment",
                entity_id=row.id,
                before={"theme": row.theme_key, "person_id": row.person_id},
                after=None,
            )
            row.withdrawn_at, row.updated_at = now, now
            return AssignResult(AssignOutcome.REMOVED, line)

    # --- what people see -------------------------------------------------------------------------

    async def mine(self, account: ChatAccount) -> list[DraftLine] | None:
        """This account's assignments (None when the account is not linked)."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None:
                return None
            return await self._lines(session, person_id=ident.delegate_id)

    async def board(self) -> list[DraftLine]:
        """Every assignment, in the order of the themes, then protocol rank."""
        async with unit_of_work(self._ctx.sessions) as session:
            return await self._lines(session)

    async def missing(
        self, deadline: datetime | None = None, *, person_id: int | None = None
    ) -> list[DraftLine]:
        """Assignments with nothing sent yet: those due at ``deadline`` and of ``person_id``,
        if given (a reminder reads only its recipient's, not the whole board)."""
        async with unit_of_work(self._ctx.sessions) as session:
            lines = await self._lines(session, person_id=person_id)
        return [
            line
            for line in lines
            if line.missing and (deadline is None or line.deadline_at == deadline)
        ]

    async def line(self, assignment_id: int) -> DraftLine | None:
        """One assignment."""
        async with unit_of_work(self._ctx.sessions) as session:
            lines = await self._lines(session, assignment_ids=[assignment_id])
        return lines[0] if lines else None

    async def comment(self, comment_id: int) -> tuple[DraftLine, CommentLine] | None:
        """One message of a thread, with its draft (for the outbox)."""
        async with unit_of_work(self._ctx.sessions) as session:
            row = await session.get(DraftComment, comment_id)
            if row is None:
                return None
            lines = await self._lines(session, assignment_ids=[row.assignment_id])
            if not lines:
                return None
            number = None
            if row.version_id is not None:
                version = await session.get(DraftVersion, row.version_id)
                number = version.number if version is not None else None
            return lines[0], _comment_line(row, number)

    async def thread(self, assignment_id: int) -> list[CommentLine]:
        """The whole thread of one draft, oldest first."""
        async with unit_of_work(self._ctx.sessions) as session:
            rows = (
                await session.execute(
                    select(DraftComment, DraftVersion.number)
                    .outerjoin(DraftVersion, DraftVersion.id == DraftComment.version_id)
                    .where(DraftComment.assignment_id == assignment_id)
                    .order_by(DraftComment.id)
                )
            ).all()
        return [_comment_line(c, number) for c, number in rows]

    async def version_file(self, version_id: int) -> VersionFile | None:
        """A stored version, for the office chat or a download."""
        async with unit_of_work(self._ctx.sessions) as session:
            version = await session.get(DraftVersion, version_id)
            if version is None:
                return None
            lines = await self._lines(session, assignment_ids=[version.assignment_id])
            if not lines:
                return None
            return VersionFile(
                version=_version_line(version),
                draft=lines[0],
                channel=version.channel,
                file_ref=version.file_ref,
                path=self.files.path_for(version.sha256),
            )

    # --- uploads ---------------------------------------------------------------------------------

    def check_upload(self, filename: str, size: int | None) -> RejectCode | None:
        """Why a file cannot be a draft, judged before it is downloaded; None if it may be."""
        try:
            self.files.check(filename, size)
        except FileRejected as exc:
            return exc.code
        return None

    async def targets(self, account: ChatAccount) -> DraftResult:
        """Which assignment an uploaded file is for: the only one, or the speaker must pick."""
        lines = await self.mine(account)
        if lines is None:
            return DraftResult(DraftStep.NOT_LINKED)
        if not lines:
            return DraftResult(DraftStep.NOT_SPEAKER)
        if len(lines) == 1:
            return DraftResult(DraftStep.RECEIVED, draft=lines[0])
        return DraftResult(DraftStep.PICK_THEME, choices=tuple(lines))

    async def hold(self, account: ChatAccount, upload: HeldUpload) -> None:
        """Keep a document until the speaker picks its theme (several may wait)."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None:
                return
            held = _held(ident) if ident.pending_input == _Pending.PICK else []
            if any(item.get("token") == upload.token for item in held):
                return  # the same file delivered again
            held.append(
                {
                    "token": upload.token,
                    "channel": upload.channel,
                    "file_ref": upload.file_ref,
                    "name": upload.name,
                    "size": upload.size,
                }
            )
            ident.pending_input = _Pending.PICK
            ident.pending_data = {"held": held[-MAX_HELD:]}

    async def take_held(self, account: ChatAccount, token: int | None) -> HeldUpload | None:
        """The held document a theme button was for, if it still waits; forgets it."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None or ident.pending_input != _Pending.PICK or token is None:
                return None
            held = _held(ident)
            found = next((item for item in held if item.get("token") == token), None)
            if found is None:
                return None
            rest = [item for item in held if item is not found]
            if rest:
                ident.pending_data = {"held": rest}
            else:
                ident.pending_input = ident.pending_data = None
            size = found.get("size")
            return HeldUpload(
                str(found.get("channel", account.channel)),
                str(found.get("file_ref", "")),
                str(found.get("name", "")),
                int(size) if size is not None else None,
                token,
            )

    async def store_file(
        self,
        account: ChatAccount,
        assignment_id: int,
        *,
        name: str,
        content: bytes,
        file_ref: str | None,
    ) -> DraftResult:
        """A downloaded document becomes a new version (or is recognised as one already sent)."""
        return await self._store(
            account, assignment_id, name=name, content=content, file_ref=file_ref, kind="file"
        )

    # --- typed drafts ----------------------------------------------------------------------------

    async def take_text(
        self, account: ChatAccount, text: str, *, event_id: str | None, replied_to: str | None
    ) -> DraftResult:
        """Private text, if it belongs to the drafts: a reply to the office's message first
        (the speaker chose it explicitly), then a piece of a draft being typed, an answer after
        "Trả lời Văn phòng", or a reminder to pick a theme. NOTHING_PENDING otherwise."""
        text = typed(text)
        if replied_to is not None:
            result = await self.reply_from_speaker(
                account, text, event_id=event_id, replied_to=replied_to, after_button=False
            )
            if result.step is not DraftStep.NOTHING_PENDING:
                return result
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            pending = ident.pending_input if ident is not None else None
        if pending == _Pending.TEXT:
            return await self.add_text(account, text, event_id=event_id)
        if pending == _Pending.REPLY:
            return await self.reply_from_speaker(account, text, event_id=event_id, replied_to=None)
        if pending == _Pending.PICK:
            return DraftResult(DraftStep.PICK_PENDING)
        return DraftResult(DraftStep.NOTHING_PENDING)

    async def compose(self, account: ChatAccount, assignment_id: int) -> DraftResult:
        """Start (or resume) typing a draft: every text until "Xong" belongs to it."""
        return await self._ask(account, assignment_id, _Pending.TEXT, DraftStep.COMPOSING)

    async def add_text(
        self, account: ChatAccount, text: str, *, event_id: str | None
    ) -> DraftResult:
        """A piece of a typed draft; NOTHING_PENDING when the account is not typing one."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None or ident.pending_input != _Pending.TEXT:
                return DraftResult(DraftStep.NOTHING_PENDING)
            if not queries.first_time(ident, event_id):
                return DraftResult(DraftStep.REPEATED)
            found = await self._own(session, account, _pending_id(ident))
            if isinstance(found, DraftResult):
                ident.pending_input = ident.pending_data = None
                return found
            _, row = found
            chunk = text.strip()
            if not chunk:
                return DraftResult(DraftStep.EMPTY)
            chunks = list(row.text_buffer or [])
            total = sum(len(c) for c in chunks) + len(chunk)
            if total > MAX_TEXT_DRAFT:
                return DraftResult(
                    DraftStep.TOO_LONG,
                    draft=await self._line(session, row.id),
                    chunks=len(chunks),
                    chars=total - len(chunk),
                )
            row.text_buffer = [*chunks, chunk]  # a new list, so the JSON column is saved
            return DraftResult(
                DraftStep.CHUNK_ADDED,
                draft=await self._line(session, row.id),
                chunks=len(chunks) + 1,
                chars=total,
            )

    async def finish_text(self, account: ChatAccount, assignment_id: int) -> DraftResult:
        """ "Xong": the typed pieces become one version, stored as a UTF-8 text file."""
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            ident, row = found
            chunks = list(row.text_buffer or [])
            if ident.pending_input == _Pending.TEXT:
                ident.pending_input = ident.pending_data = None
            theme_key = row.theme_key
        if not chunks:
            return DraftResult(DraftStep.EMPTY)
        content = "\n\n".join(chunks).encode("utf-8-sig")  # the BOM tells Word it is UTF-8
        result = await self._store(
            account,
            assignment_id,
            name=f"tham-luan-{theme_key}{TEXT_SUFFIX}",
            content=content,
            file_ref=None,
            kind="text",
        )
        if result.step in (DraftStep.RECEIVED, DraftStep.DUPLICATE):
            async with unit_of_work(self._ctx.sessions) as session:
                stored = await session.get(SpeechAssignment, assignment_id)
                if stored is not None:
                    stored.text_buffer = None
        return result

    async def cancel(
        self, account: ChatAccount, assignment_id: int, *, typing: bool
    ) -> DraftResult:
        """Stop typing a draft (``typing``: its pieces are dropped) or stop answering the
        office (a draft being typed is kept)."""
        wanted = _Pending.TEXT if typing else _Pending.REPLY
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            ident, row = found
            dropped = typing and bool(row.text_buffer)
            if typing:
                row.text_buffer = None
            waiting = ident.pending_input == wanted and _pending_id(ident) == row.id
            if waiting:
                ident.pending_input = ident.pending_data = None
            if not waiting and not dropped:
                return DraftResult(DraftStep.NOTHING_PENDING)
            return DraftResult(DraftStep.CANCELLED, draft=await self._line(session, row.id))

    # --- the thread with the office --------------------------------------------------------------

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
                ident = await queries.identity(session, chosen_by.channel, chosen_by.external_id)
            if row is None:
                if ident is not None and ident.pending_input == _Pending.COMMENT:
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
            if ident is not None and ident.pending_input == _Pending.COMMENT:
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
            ident = await queries.identity(session, account.channel, account.external_id)
            if version is None or row is None:
                return DraftResult(DraftStep.GONE)
            if ident is None:  # an account of [office] admin_ids that is on no list
                return DraftResult(DraftStep.NOT_LINKED)
            ident.pending_input = _Pending.COMMENT
            ident.pending_data = {"assignment_id": row.id, "version_id": version.id}
            return DraftResult(
                DraftStep.ASK_COMMENT,
                draft=await self._line(session, row.id),
                version=_version_line(version),
            )

    async def pending_comment(self, account: ChatAccount) -> ThreadPost | None:
        """The draft this account's next text comments on, if it chose to comment."""
        async with self._ctx.sessions() as session:
            ident = await queries.identity(session, account.channel, account.external_id)
        if ident is None or ident.pending_input != _Pending.COMMENT:
            return None
        data = ident.pending_data or {}
        version_id = data.get("version_id")
        return ThreadPost(int(data.get("assignment_id", 0)), int(version_id or 0) or None)

    async def end_comment(self, account: ChatAccount) -> bool:
        """Stop waiting for this account's comment; False when none was awaited."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None or ident.pending_input != _Pending.COMMENT:
                return False
            ident.pending_input = ident.pending_data = None
            return True

    async def begin_reply(self, account: ChatAccount, assignment_id: int) -> DraftResult:
        """The speaker's "Trả lời Văn phòng" button: the next text goes to the office."""
        return await self._ask(account, assignment_id, _Pending.REPLY, DraftStep.ASK_REPLY)

    async def _ask(
        self, account: ChatAccount, assignment_id: int, pending: _Pending, step: DraftStep
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
            ident = await queries.identity(session, account.channel, account.external_id)
            if ident is None:
                return DraftResult(DraftStep.NOTHING_PENDING)
            assignment_id: int | None = None
            if replied_to is not None:
                params = await self._thread_post(
                    session, account.channel, account.chat_address, replied_to, _SPEAKER_THREAD
                )
                if params is not None:
                    assignment_id = int(params.get("assignment_id", 0))
            if after_button and assignment_id is None and ident.pending_input == _Pending.REPLY:
                assignment_id = _pending_id(ident)
            if assignment_id is None:
                return DraftResult(DraftStep.NOTHING_PENDING)
            if not queries.first_time(ident, event_id):
                return DraftResult(DraftStep.REPEATED)
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            _, row = found
            body = text.strip()
            if not body:
                return DraftResult(DraftStep.COMMENT_EMPTY)
            if _too_long(body):
                return DraftResult(DraftStep.COMMENT_TOO_LONG, chars=len(body))
            if ident.pending_input == _Pending.REPLY:
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

    async def set_verdict(
        self, office: OfficeActor, version_id: int, status: DraftStatus
    ) -> DraftResult:
        """The office marks the version it looked at final, or asks for a revision."""
        if status not in (DraftStatus.FINAL, DraftStatus.REVISION):
            raise ValueError(f"not a verdict: {status}")
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            version = await session.get(DraftVersion, version_id)
            row = await self._live(session, version.assignment_id) if version else None
            if version is None or row is None:
                return DraftResult(DraftStep.GONE)
            latest = await self._latest_number(session, row.id)
            if latest != version.number:
                return DraftResult(
                    DraftStep.SUPERSEDED,
                    draft=await self._line(session, row.id),
                    version=_version_line(version),
                    newer=latest,
                )
            if row.status == status:
                return DraftResult(
                    DraftStep.UNCHANGED,
                    draft=await self._line(session, row.id),
                    version=_version_line(version),
                )
            queries.add_audit(
                session,
                at=now,
                actor=office.actor,
                action="draft.verdict",
                entity="speech_assignment",
                entity_id=row.id,
                before={"status": row.status, "version": version.number},
                after={"status": str(status), "version": version.number},
            )
            row.status, row.status_at, row.status_by, row.updated_at = (
                status,
                now,
                office.actor,
                now,
            )
            queue_to_person(
                session,
                meeting_id=self._ctx.meeting_id,
                kind=MessageKind.DRAFT_VERDICT,
                person_id=row.person_id,
                now=now,
                params={"assignment_id": row.id, "version_id": version.id, "status": str(status)},
            )
            return DraftResult(
                DraftStep.VERDICT,
                draft=await self._line(session, row.id),
                version=_version_line(version),
            )

    # --- export ----------------------------------------------------------------------------------

    async def export(
        self, directory: Path, name_for: Callable[[DraftLine, bool], str]
    ) -> list[ExportedDraft]:
        """Copy the latest version of every draft into ``directory`` under the name
        ``name_for(line, with_code)`` gives (sanitized; ``with_code`` asks for a name that also
        tells two speakers of one unit apart); returns one row per assignment for the index."""
        lines = await self.board()
        rows: list[ExportedDraft] = []
        taken: set[str] = set()
        for line in lines:
            if line.latest is None:
                rows.append(ExportedDraft(line, None))
                continue
            name = _export_name(line, name_for, taken)
            taken.add(name.casefold())
            source = self.files.path_for(line.latest.sha256)
            await asyncio.to_thread(_copy, source, directory / name)
            rows.append(ExportedDraft(line, name))
        return rows

    # --- helpers ---------------------------------------------------------------------------------

    async def _target(
        self, session: AsyncSession, code: str, theme_key: str
    ) -> tuple[Delegate, SpeechAssignment | None] | AssignResult:
        """The person and their assignment (if any) an office command names, or why not."""
        if self._theme(theme_key) is None:
            return AssignResult(AssignOutcome.UNKNOWN_THEME)
        person = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
        if person is None:
            return AssignResult(AssignOutcome.UNKNOWN_PERSON)
        return person, await self._assignment_of(session, self._theme_key(theme_key), person.id)

    def _theme(self, key: str) -> Any:
        wanted = key.strip().casefold()
        return next((t for t in self._ctx.config.themes if t.key.casefold() == wanted), None)

    def _theme_key(self, key: str) -> str:
        theme = self._theme(key)
        assert theme is not None
        return str(theme.key)

    async def _assignment_of(
        self, session: AsyncSession, theme_key: str, person_id: int
    ) -> SpeechAssignment | None:
        return await session.scalar(
            select(SpeechAssignment).where(
                SpeechAssignment.meeting_id == self._ctx.meeting_id,
                SpeechAssignment.theme_key == theme_key,
                SpeechAssignment.person_id == person_id,
            )
        )

    async def _add_assignment(
        self,
        session: AsyncSession,
        theme_key: str,
        person_id: int,
        source: str,
        actor: str,
        now: datetime,
    ) -> SpeechAssignment:
        row = SpeechAssignment(
            meeting_id=self._ctx.meeting_id,
            theme_key=theme_key,
            person_id=person_id,
            source=source,
            deadline_at=self._ctx.config.draft_deadline(theme_key),
            status=DraftStatus.WAITING,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        await self._announce(session, row, actor, now)
        return row

    async def _announce(
        self, session: AsyncSession, row: SpeechAssignment, actor: str, now: datetime
    ) -> None:
        """Audit a new assignment and tell the speaker, if they have linked an account (the
        others see it when they open their personal link)."""
        queries.add_audit(
            session,
            at=now,
            actor=actor,
            action="draft.assigned",
            entity="speech_assignment",
            entity_id=row.id,
            before=None,
            after={"theme": row.theme_key, "person_id": row.person_id, "source": row.source},
        )
        linked = await session.scalar(
            select(ChannelIdentity.id).where(ChannelIdentity.delegate_id == row.person_id).limit(1)
        )
        if linked is not None:
            queue_to_person(
                session,
                meeting_id=self._ctx.meeting_id,
                kind=MessageKind.DRAFT_ASSIGNED,
                person_id=row.person_id,
                now=now,
                params={"assignment_id": row.id},
                report_to=None,  # an unlinked speaker sees it in /thamluan: nothing to report
            )

    async def _live(self, session: AsyncSession, assignment_id: int) -> SpeechAssignment | None:
        """An assignment of this meeting that the office has not withdrawn."""
        row = await session.get(SpeechAssignment, assignment_id)
        if row is None or row.meeting_id != self._ctx.meeting_id or row.withdrawn_at is not None:
            return None
        return row

    async def _seen(self, session: AsyncSession, source_ref: str) -> bool:
        found = await session.scalar(
            select(DraftComment.id).where(DraftComment.source_ref == source_ref).limit(1)
        )
        return found is not None

    async def _has_versions(self, session: AsyncSession, assignment_id: int) -> bool:
        found = await session.scalar(
            select(DraftVersion.id).where(DraftVersion.assignment_id == assignment_id).limit(1)
        )
        return found is not None

    async def _latest_number(self, session: AsyncSession, assignment_id: int) -> int:
        latest = await session.scalar(
            select(func.max(DraftVersion.number)).where(DraftVersion.assignment_id == assignment_id)
        )
        return int(latest or 0)

    async def _latest_id(self, session: AsyncSession, row: SpeechAssignment) -> int | None:
        return await session.scalar(
            select(DraftVersion.id)
            .where(DraftVersion.assignment_id == row.id)
            .order_by(DraftVersion.number.desc())
            .limit(1)
        )

    async def _own(
        self, session: AsyncSession, account: ChatAccount, assignment_id: int
    ) -> tuple[ChannelIdentity, SpeechAssignment] | DraftResult:
        """The account's identity and its assignment; a result saying why not otherwise."""
        ident = await queries.identity(session, account.channel, account.external_id)
        if ident is None:
            return DraftResult(DraftStep.NOT_LINKED)
        row = await self._live(session, assignment_id)
        if row is None:
            return DraftResult(DraftStep.GONE)
        if row.person_id != ident.delegate_id:  # another speaker's draft, or forged button data
            return DraftResult(DraftStep.NOT_SPEAKER)
        return ident, row

    async def _store(
        self,
        account: ChatAccount,
        assignment_id: int,
        *,
        name: str,
        content: bytes,
        file_ref: str | None,
        kind: str,
    ) -> DraftResult:
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
        try:
            stored = await asyncio.to_thread(self.files.put, name, content)
        except FileRejected as exc:
            log.info("draft upload rejected: %s", exc.code)
            return DraftResult(DraftStep.REJECTED, reject=exc.code)
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            _, row = found
            # Only the newest counts: going back to an earlier text is a new version (the store
            # keeps its bytes once either way).
            newest = await session.scalar(
                select(DraftVersion)
                .where(DraftVersion.assignment_id == row.id)
                .order_by(DraftVersion.number.desc())
                .limit(1)
            )
            if newest is not None and newest.sha256 == stored.sha256:
                return DraftResult(
                    DraftStep.DUPLICATE,
                    draft=await self._line(session, row.id),
                    version=_version_line(newest),
                )
            version = DraftVersion(
                assignment_id=row.id,
                number=await self._latest_number(session, row.id) + 1,
                kind=kind,
                sha256=stored.sha256,
                size=stored.size,
                display_name=stored.display_name,
                suffix=stored.suffix,
                channel=account.channel if file_ref else None,
                file_ref=file_ref,
                created_at=now,
                created_by=account.actor,
            )
            session.add(version)
            await session.flush()
            queries.add_audit(
                session,
                at=now,
                actor=account.actor,
                action="draft.version",
                entity="speech_assignment",
                entity_id=row.id,
                before={"status": row.status},
                after={
                    "status": str(DraftStatus.SUBMITTED),
                    "version": version.number,
                    "sha256": stored.sha256,
                    "size": stored.size,
                },
            )
            row.status, row.updated_at = DraftStatus.SUBMITTED, now
            await self._post_to_office(
                session,
                MessageKind.DRAFT_VERSION,
                {"assignment_id": row.id, "version_id": version.id},
            )
            return DraftResult(
                DraftStep.RECEIVED,
                draft=await self._line(session, row.id),
                version=_version_line(version),
            )

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

    async def _line(self, session: AsyncSession, assignment_id: int) -> DraftLine:
        return (await self._lines(session, assignment_ids=[assignment_id]))[0]

    async def _lines(
        self,
        session: AsyncSession,
        *,
        person_id: int | None = None,
        assignment_ids: Iterable[int] | None = None,
    ) -> list[DraftLine]:
        query = (
            select(SpeechAssignment, Delegate, ChannelIdentity)
            .join(Delegate, Delegate.id == SpeechAssignment.person_id)
            .outerjoin(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
            .where(
                SpeechAssignment.meeting_id == self._ctx.meeting_id,
                SpeechAssignment.withdrawn_at.is_(None),
            )
        )
        if person_id is not None:
            query = query.where(SpeechAssignment.person_id == person_id)
        if assignment_ids is not None:
            query = query.where(SpeechAssignment.id.in_(list(assignment_ids)))
        rows = (await session.execute(query)).all()
        ids = [row.id for row, _, _ in rows]
        versions: dict[int, list[DraftVersion]] = {}
        for version in await session.scalars(
            select(DraftVersion)
            .where(DraftVersion.assignment_id.in_(ids))
            .order_by(DraftVersion.number)
        ):
            versions.setdefault(version.assignment_id, []).append(version)
        numbers = {v.id: v.number for vs in versions.values() for v in vs}
        last_comments: dict[int, DraftComment] = {}
        for each in await session.scalars(
            select(DraftComment)
            .where(DraftComment.assignment_id.in_(ids))
            .order_by(DraftComment.id)
        ):
            last_comments[each.assignment_id] = each
        themes = {
            theme.key: (index, theme.title) for index, theme in enumerate(self._ctx.config.themes)
        }
        seen: set[int] = set()
        lines: list[tuple[tuple[Any, ...], DraftLine]] = []
        for row, person, ident in rows:
            if row.id in seen:  # one line per assignment, however many accounts
                continue
            seen.add(row.id)
            mine = versions.get(row.id, [])
            comment = last_comments.get(row.id)
            order, title = themes.get(row.theme_key, (len(themes), row.theme_key))
            line = DraftLine(
                id=row.id,
                theme_key=row.theme_key,
                theme_title=title,
                code=person.code,
                full_name=person.full_name,
                position=person.position,
                organization=person.organization,
                linked=ident is not None,
                deadline_at=row.deadline_at,
                status=DraftStatus(row.status),
                latest=_version_line(mine[-1]) if mine else None,
                versions=len(mine),
                last_comment=_comment_line(comment, numbers.get(comment.version_id or 0))
                if comment is not None
                else None,
                buffered_chunks=len(row.text_buffer or []),
                buffered_chars=sum(len(chunk) for chunk in row.text_buffer or []),
            )
            lines.append(((order, person.rank is None, person.rank or 0, person.code), line))
        lines.sort(key=lambda item: item[0])
        return [line for _, line in lines]


def source_of(channel: str, chat_address: str, event_id: str | None) -> str:
    """The message a comment came in, as its ``source_ref``: a copy of the event delivered
    again matches it; an event without an id is never taken for another."""
    return f"{channel}:{chat_address}:{event_id or uuid.uuid4().hex}"


def _pending_id(ident: ChannelIdentity) -> int:
    return int((ident.pending_data or {}).get("assignment_id", 0))


def _held(ident: ChannelIdentity) -> list[dict[str, Any]]:
    held = (ident.pending_data or {}).get("held")
    return [dict(item) for item in held] if isinstance(held, list) else []


def _too_long(body: str) -> bool:
    """Over the limit as Telegram will count it once escaped for HTML (``&`` grows to five
    characters), so a comment always fits one message and its reply button."""
    return len(html.escape(body, quote=False)) > MAX_COMMENT


def _comment_line(comment: DraftComment, version_number: int | None) -> CommentLine:
    return CommentLine(
        from_office=comment.from_office,
        author_name=comment.author_name,
        body=comment.body,
        created_at=comment.created_at,
        version_number=version_number,
        file_ref=comment.file_ref,
        file_name=comment.file_name,
        file_channel=comment.file_channel,
    )


def _version_line(version: DraftVersion) -> VersionLine:
    return VersionLine(
        id=version.id,
        number=version.number,
        kind=version.kind,
        display_name=version.display_name,
        size=version.size,
        sha256=version.sha256,
        created_at=version.created_at,
    )


def _export_name(
    line: DraftLine, name_for: Callable[[DraftLine, bool], str], taken: set[str]
) -> str:
    """The caller's name for a draft, sanitized, with the stored suffix, unique in ``taken``."""
    assert line.latest is not None
    suffix = Path(line.latest.display_name).suffix.lower() or TEXT_SUFFIX
    fallback = f"tham-luan-{line.id}"
    name = sanitize_filename(name_for(line, False) + suffix, fallback=fallback)
    if name.casefold() in taken:  # two speakers of one unit on one theme
        name = sanitize_filename(name_for(line, True) + suffix, fallback=fallback)
    index = 2
    while name.casefold() in taken:
        name = sanitize_filename(f"{name_for(line, True)} ({index}){suffix}", fallback=fallback)
        index += 1
    return name


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
