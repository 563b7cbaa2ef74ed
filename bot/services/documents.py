"""Tài liệu hội nghị: the documents the office publishes before the day (the draft review
report, the programme, a reference summary) for every invitee to download from the personal
page, and the chat lists with links to them.

The office uploads one on the dashboard with a title and an optional note; the file is checked
as a task's deliverable is (the same limit, a narrower list of types: what a delegate's phone
opens) and kept in the content-addressed file store, put in place only by the transaction that
records its row (:meth:`storage.files.FileStore.staged`). Hiding one (``hidden_at``) takes it
off the pages and keeps it, to be published again; its bytes are never removed while a row
names them (:func:`storage.queries.blobs_named`). Every step is audited."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, Row, Select, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.typed import one_line
from bot.services.access import OfficeActor
from bot.services.context import ServiceContext
from bot.services.invitations import live_token_of
from storage import queries
from storage.content import FileRejected, RejectCode
from storage.files import DOCUMENT_SUFFIXES, FileStore, check_upload, media_type, sanitize_filename
from storage.models import MeetingDocument
from storage.sharing import blobs_in_turn
from storage.uow import read_only, unit_of_work

log = logging.getLogger(__name__)

MAX_DOCUMENT_TITLE = 200
MAX_DOCUMENT_NOTE = 1000
# What a name falls back to when nothing of the uploaded one is left to save it as.
DOCUMENT_FALLBACK = "tai-lieu"


class DocumentStep(StrEnum):
    """How a step on the office's documents ended."""

    PUBLISHED = "published"
    # The same title and bytes are on the pages: a second tap on a slow connection.
    ALREADY_PUBLISHED = "already_published"
    # The same bytes are on the pages under another title: done on purpose, but both would be
    # listed; the office hides the first to publish the file under the new title.
    SAME_FILE_PUBLISHED = "same_file_published"
    REJECTED = "rejected"  # the file: its type, its size, its content
    NO_TITLE = "no_title"
    TITLE_TOO_LONG = "title_too_long"
    NOTE_TOO_LONG = "note_too_long"
    NO_FILE = "no_file"
    HIDDEN = "hidden"
    ALREADY_HIDDEN = "already_hidden"
    SHOWN = "shown"
    ALREADY_SHOWN = "already_shown"
    # Not shown again: another document with the same file is on the pages (hidden, then the
    # same bytes uploaded again): two identical documents would be listed.
    SAME_FILE_SHOWN = "same_file_shown"
    GONE = "gone"  # no such document of this meeting


@dataclass(frozen=True)
class DocumentLine:
    """A published (or hidden) document, as the lists show it."""

    id: int
    title: str
    note: str
    file_name: str
    content_type: str
    size: int
    suffix: str
    published_by: str
    published_at: datetime
    hidden_at: datetime | None

    @property
    def hidden(self) -> bool:
        """Taken off the pages by the office."""
        return self.hidden_at is not None


@dataclass(frozen=True)
class DocumentResult:
    """What a step did, with the document it is about when there is one."""

    step: DocumentStep
    document: DocumentLine | None = None
    reject: RejectCode | None = None
    other: DocumentLine | None = None  # SAME_FILE_SHOWN: the one on the pages


@dataclass(frozen=True)
class DocumentFile:
    """A published document to download: its line and where its bytes are."""

    line: DocumentLine
    path: Path


def document_line(row: MeetingDocument | Row[Any]) -> DocumentLine:
    """A document's line, from its row (or a row of its table's columns)."""
    return DocumentLine(
        id=row.id,
        title=row.title,
        note=row.note or "",
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.size,
        suffix=Path(row.file_name).suffix.lower(),
        published_by=row.published_by,
        published_at=row.published_at,
        hidden_at=row.hidden_at,
    )


def _note(note: str) -> str:
    """A note as kept and counted: a browser's CRLF line ends as one character each."""
    return note.replace("\r\n", "\n").replace("\r", "\n").strip()


def _shown_with(meeting_id: int, sha256: str) -> Select[MeetingDocument]:
    """The first document on the pages with these bytes, if any."""
    return (
        select(MeetingDocument)
        .where(
            MeetingDocument.meeting_id == meeting_id,
            MeetingDocument.sha256 == sha256,
            MeetingDocument.hidden_at.is_(None),
        )
        .order_by(MeetingDocument.id)
        .limit(1)
    )


def _published_statement() -> Select[Any]:
    """The documents on the personal pages, newest first, as columns (read with a page)."""
    table = MeetingDocument.__table__
    assert isinstance(table, Table)
    return (
        select(table)
        .where(
            table.c.meeting_id == bindparam("meeting_id", type_=Integer),
            table.c.hidden_at.is_(None),
        )
        .order_by(table.c.published_at.desc(), table.c.id.desc())
    )


PUBLISHED = _published_statement()


class DocumentService:
    """The office's documents for the personal pages."""

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self._files = files

    @staticmethod
    def check_upload(filename: str, size: int | None) -> RejectCode | None:
        """Why a file cannot be a meeting document, judged by its name and announced size
        before a byte of it is read; None if it may."""
        try:
            check_upload(filename, size, DOCUMENT_SUFFIXES)
        except FileRejected as exc:
            return exc.code
        return None

    @staticmethod
    def check_fields(title: str, note: str) -> DocumentStep | None:
        """What is wrong with a document's title (required) and note, if anything."""
        title = one_line(title)
        if not title:
            return DocumentStep.NO_TITLE
        if len(title) > MAX_DOCUMENT_TITLE:
            return DocumentStep.TITLE_TOO_LONG
        if len(_note(note)) > MAX_DOCUMENT_NOTE:
            return DocumentStep.NOTE_TOO_LONG
        return None

    async def publish(
        self, office: OfficeActor, *, title: str, note: str, name: str, content: bytes
    ) -> DocumentResult:
        """Publish a document to every personal page: checked (:meth:`check_fields`, the
        file's type, size and content), kept in the file store with the row that names it,
        audited. The same bytes already on the pages are not published twice: under the
        same title it is a second tap on a slow connection (ALREADY_PUBLISHED, with the one
        there); under another, a deliberate second title, refused until the first is hidden
        (SAME_FILE_PUBLISHED, with the one there)."""
        wrong = self.check_fields(title, note)
        if wrong is not None:
            return DocumentResult(wrong)
        try:
            # An Office file's directory is unpacked to be checked: off the event loop.
            examined = await asyncio.to_thread(
                self._files.examine, name, content, DOCUMENT_SUFFIXES
            )
        except FileRejected as exc:
            log.info("meeting document rejected: %s", exc.code)
            return DocumentResult(DocumentStep.REJECTED, reject=exc.code)
        file_name = sanitize_filename(name, fallback=DOCUMENT_FALLBACK)
        async with (
            self._files.staged(examined, content) as staged,
            unit_of_work(self._ctx.sessions) as session,
        ):
            # Two uploads of the same bytes take turns (PostgreSQL; SQLite's writers do):
            # the second sees the first's row.
            await blobs_in_turn(session, [examined.sha256])
            there = await session.scalar(_shown_with(self._ctx.meeting_id, examined.sha256))
            if there is not None:
                again = there.title == one_line(title)
                step = DocumentStep.ALREADY_PUBLISHED if again else DocumentStep.SAME_FILE_PUBLISHED
                return DocumentResult(step, document_line(there))
            now = self._ctx.clock.now()
            row = MeetingDocument(
                meeting_id=self._ctx.meeting_id,
                title=one_line(title),
                note=_note(note) or None,
                file_name=file_name,
                content_type=media_type(file_name),
                size=examined.size,
                sha256=examined.sha256,
                published_by=office.name[:200],
                published_at=now,
            )
            session.add(row)
            await session.flush()
            queries.add_audit(
                session, at=now, actor=office.actor, action="document.published",
                entity="meeting_document", entity_id=row.id, before=None,
                after={"title": row.title, "name": row.file_name, "size": row.size},
            )  # fmt: skip
            # In place now that a row names it (a rename: quick under the write lock).
            await self._files.publish_in(session, staged)
            return DocumentResult(DocumentStep.PUBLISHED, document_line(row))

    async def hide(self, office: OfficeActor, document_id: int) -> DocumentResult:
        """Take a document off the personal pages (kept, with its bytes; publishable again)."""
        return await self._set_hidden(office, document_id, hidden=True)

    async def show(self, office: OfficeActor, document_id: int) -> DocumentResult:
        """Put a hidden document back on the personal pages."""
        return await self._set_hidden(office, document_id, hidden=False)

    async def _set_hidden(
        self, office: OfficeActor, document_id: int, *, hidden: bool
    ) -> DocumentResult:
        async with unit_of_work(self._ctx.sessions) as session:
            row = await session.scalar(
                queries.locked(
                    select(MeetingDocument).where(
                        MeetingDocument.id == document_id,
                        MeetingDocument.meeting_id == self._ctx.meeting_id,
                    )
                )
            )
            if row is None:
                return DocumentResult(DocumentStep.GONE)
            if (row.hidden_at is not None) == hidden:
                step = DocumentStep.ALREADY_HIDDEN if hidden else DocumentStep.ALREADY_SHOWN
                return DocumentResult(step, document_line(row))
            if not hidden:
                # Its bytes uploaded again since it was hidden: shown, it would be listed twice.
                await blobs_in_turn(session, [row.sha256])
                there = await session.scalar(_shown_with(self._ctx.meeting_id, row.sha256))
                if there is not None:
                    return DocumentResult(
                        DocumentStep.SAME_FILE_SHOWN, document_line(row), other=document_line(there)
                    )
            now = self._ctx.clock.now()
            row.hidden_at = now if hidden else None
            queries.add_audit(
                session, at=now, actor=office.actor,
                action="document.hidden" if hidden else "document.shown",
                entity="meeting_document", entity_id=row.id, before=None,
                after={"title": row.title},
            )  # fmt: skip
            return DocumentResult(
                DocumentStep.HIDDEN if hidden else DocumentStep.SHOWN, document_line(row)
            )

    async def listing(self) -> list[DocumentLine]:
        """Every document of the meeting, hidden ones too, newest first (the dashboard)."""
        return await self._lines(hidden_too=True)

    async def published(self) -> list[DocumentLine]:
        """The documents on the personal pages, newest first."""
        return await self._lines(hidden_too=False)

    async def published_for(self, person_id: int) -> tuple[list[DocumentLine], str | None]:
        """:meth:`published`, and the token of ``person_id``'s page that their links are built
        from (None: no live invitation, or no ``[web]`` to download from), in one read-only
        transaction: /tailieu's list and its links are of one moment."""
        async with read_only(self._ctx.sessions) as session:
            lines = await self._lines_in(session, hidden_too=False)
            token = None
            if self._ctx.config.web is not None:
                token = await session.scalar(live_token_of(person_id))
            return lines, token

    async def _lines(self, *, hidden_too: bool) -> list[DocumentLine]:
        async with read_only(self._ctx.sessions) as session:
            return await self._lines_in(session, hidden_too=hidden_too)

    async def _lines_in(self, session: AsyncSession, *, hidden_too: bool) -> list[DocumentLine]:
        wanted = select(MeetingDocument).where(MeetingDocument.meeting_id == self._ctx.meeting_id)
        if not hidden_too:
            wanted = wanted.where(MeetingDocument.hidden_at.is_(None))
        rows = await session.scalars(
            wanted.order_by(MeetingDocument.published_at.desc(), MeetingDocument.id.desc())
        )
        return [document_line(row) for row in rows]

    async def file(self, document_id: int, *, hidden_too: bool = False) -> DocumentFile | None:
        """A published document to download (None: no such document, or hidden — unless
        ``hidden_too``, for the office)."""
        wanted = select(MeetingDocument).where(
            MeetingDocument.id == document_id, MeetingDocument.meeting_id == self._ctx.meeting_id
        )
        if not hidden_too:
            wanted = wanted.where(MeetingDocument.hidden_at.is_(None))
        async with read_only(self._ctx.sessions) as session:
            row = await session.scalar(wanted)
            if row is None:
                return None
            return DocumentFile(document_line(row), self._files.path_for(row.sha256))
