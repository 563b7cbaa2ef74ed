"""Uploads: a file judged before it is downloaded, the theme it is for (held until the speaker
picks one), and every upload or finished typed draft stored as a new version.

Uploads are checked twice: by name and announced size before anything is downloaded
(:meth:`Uploads.check_upload`), and by content when stored (:class:`storage.files.FileStore`
asks :func:`storage.content.check_content`, which judges every upload's bytes).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from bot.domain.channels import ChatAccount
from bot.domain.drafts import MAX_VERSIONS, DraftStatus
from bot.domain.outbound import MessageKind
from bot.services.context import ServiceContext
from bot.services.drafts.lines import DraftLines, version_line
from bot.services.drafts.shared import DraftUseCase, Pending
from bot.services.drafts.values import DraftResult, DraftStep, HeldUpload
from storage import queries
from storage.content import FileRejected, RejectCode
from storage.files import FileStore
from storage.models import ChannelIdentity, DraftVersion
from storage.uow import unit_of_work

# The feature's one logger, named as before the drafts became a package.
log = logging.getLogger(__package__)

# Files waiting for a theme, newest kept: a speaker with two themes rarely sends more at once.
MAX_HELD = 5


class Uploads(DraftUseCase):
    """A speaker's files: checked, held for a theme, stored as versions the office is shown."""

    def __init__(self, ctx: ServiceContext, files: FileStore, lines: DraftLines) -> None:
        super().__init__(ctx)
        self._files = files
        self._lines = lines

    def check_upload(self, filename: str, size: int | None) -> RejectCode | None:
        """Why a file cannot be a draft, judged before it is downloaded; None if it may be."""
        try:
            self._files.check(filename, size)
        except FileRejected as exc:
            return exc.code
        return None

    async def targets(self, account: ChatAccount) -> DraftResult:
        """Which assignment an uploaded file is for: the only one, or the speaker must pick;
        WITHDRAWN when the office withdrew every one she had (after she sent a version)."""
        every = await self._lines.mine(account, withdrawn=True)
        if every is None:
            return DraftResult(DraftStep.NOT_LINKED)
        if every and await self._invitation_withdrawn(account):
            return DraftResult(DraftStep.INVITATION_WITHDRAWN)
        lines = [line for line in every if not line.withdrawn]
        if not lines:
            kept = [line for line in every if line.versions]
            if kept:
                return DraftResult(DraftStep.WITHDRAWN, draft=kept[0])
            return DraftResult(DraftStep.NOT_SPEAKER)
        if len(lines) == 1:
            return DraftResult(DraftStep.RECEIVED, draft=lines[0])
        return DraftResult(DraftStep.PICK_THEME, choices=tuple(lines))

    async def hold(self, account: ChatAccount, upload: HeldUpload) -> None:
        """Keep a document until the speaker picks its theme (several may wait)."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None:
                return
            held = _held(ident) if ident.pending_input == Pending.PICK else []
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
            ident.pending_input = Pending.PICK
            ident.pending_data = {"held": held[-MAX_HELD:]}

    async def take_held(self, account: ChatAccount, token: int | None) -> HeldUpload | None:
        """The held document a theme button was for, if it still waits; forgets it."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None or ident.pending_input != Pending.PICK or token is None:
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
        return await self.store(
            account, assignment_id, name=name, content=content, file_ref=file_ref, kind="file"
        )

    async def store(
        self,
        account: ChatAccount,
        assignment_id: int,
        *,
        name: str,
        content: bytes,
        file_ref: str | None,
        kind: str,
    ) -> DraftResult:
        """Content of ``kind`` (a file, a typed text) becomes the speaker's new version, shown
        to the office; the newest version again is a DUPLICATE."""
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            # Refused before a byte is written: one link must not fill the disk.
            if await self._latest_number(session, found[1].id) >= MAX_VERSIONS:
                draft = await self._line(session, found[1].id)
                return DraftResult(DraftStep.TOO_MANY_VERSIONS, draft=draft)
        try:
            stored = await asyncio.to_thread(self._files.examine, name, content)
        except FileRejected as exc:
            log.info("draft upload rejected: %s", exc.code)
            return DraftResult(DraftStep.REJECTED, reject=exc.code)
        # Its bytes are written beside the store before the recording transaction begins (on
        # SQLite that transaction holds the database's only write lock, which every tap and
        # check-in waits for), put in place only with the version that names it, and removed
        # if the version is refused: no blob is left that no row names.
        async with self._files.staged(stored, content) as staged:
            now = self._ctx.clock.now()
            async with unit_of_work(self._ctx.sessions) as session:
                # Uploads to one draft take turns from here, and with the office's assigning and
                # withdrawing (on PostgreSQL; SQLite's writers do anyway): each numbers and counts
                # its version after the one before it committed, a withdrawal committed meanwhile
                # refuses it, and one still to come counts it among the versions kept.
                found = await self._own(session, account, assignment_id, lock=True)
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
                        version=version_line(newest),
                    )
                number = await self._latest_number(session, row.id) + 1
                if number > MAX_VERSIONS:  # another upload took the last place meanwhile
                    return DraftResult(
                        DraftStep.TOO_MANY_VERSIONS, draft=await self._line(session, row.id)
                    )
                # An approval is of the newest version: this one reopens it, and both the
                # speaker and the office are told (the approved bundle leaves it out meanwhile).
                reopened = (
                    newest.number
                    if newest is not None and row.status == DraftStatus.FINAL
                    else None
                )
                version = DraftVersion(
                    assignment_id=row.id,
                    number=number,
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
                posted: dict[str, Any] = {"assignment_id": row.id, "version_id": version.id}
                if reopened is not None:
                    posted["reopened"] = reopened
                await self._post_to_office(session, MessageKind.DRAFT_VERSION, posted)
                # In place now that a row names it (a rename: quick under the write lock).
                await self._files.publish_in(session, staged)
                return DraftResult(
                    DraftStep.RECEIVED,
                    draft=await self._line(session, row.id),
                    version=version_line(version),
                    reopened=reopened,
                )


def _held(ident: ChannelIdentity) -> list[dict[str, Any]]:
    held = (ident.pending_data or {}).get("held")
    return [dict(item) for item in held] if isinstance(held, list) else []
