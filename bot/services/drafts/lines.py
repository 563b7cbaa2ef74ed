"""The reading of drafts that every use case shares: one line per assignment (theme, speaker,
versions, the thread's last word), the boards built from them, a stored version, the export."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount
from bot.domain.contact import Contact
from bot.domain.drafts import CommentLine, DraftLine, DraftStatus, VersionLine
from bot.domain.rsvp import RsvpStatus
from bot.services import roster
from bot.services.context import ServiceContext
from bot.services.drafts.values import ApprovedDraft, ExportedDraft, VersionFile
from storage import queries
from storage.files import FileStore, read_stored, sanitize_filename
from storage.models import (
    ChannelIdentity,
    Delegate,
    DraftComment,
    DraftVersion,
    Rsvp,
    SpeechAssignment,
)
from storage.uow import read_only, unit_of_work

TEXT_SUFFIX = ".txt"


class DraftLines:
    """What people and the outbox read of the drafts; each method is one unit of work."""

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self._files = files

    @property
    def deadline_at(self) -> datetime:
        """When drafts are due unless their theme says otherwise ([drafts] deadline)."""
        config = self._ctx.config
        return config.meeting.resolve(config.drafts.deadline)

    async def mine(
        self, account: ChatAccount, *, withdrawn: bool = False
    ) -> list[DraftLine] | None:
        """This account's assignments (None when the account is not linked); with
        ``withdrawn``, those the office withdrew too."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None:
                return None
            return await read_lines(
                session, self._ctx, person_id=ident.delegate_id, withdrawn=withdrawn
            )

    async def board(self, *, withdrawn: bool = False) -> list[DraftLine]:
        """Every assignment, in the order of the themes, then protocol rank; with ``withdrawn``,
        also those the office withdrew after versions were sent (marked, kept to download)."""
        async with read_only(self._ctx.sessions) as session:
            lines = await read_lines(session, self._ctx, withdrawn=withdrawn)
        return [line for line in lines if not line.withdrawn or line.versions]

    async def missing(
        self, deadline: datetime | None = None, *, person_id: int | None = None
    ) -> list[DraftLine]:
        """Assignments with nothing sent yet: those due at ``deadline`` and of ``person_id``,
        if given (a reminder reads only its recipient's, not the whole board). Read-only: the
        overview polls it."""
        async with read_only(self._ctx.sessions) as session:
            lines = await read_lines(session, self._ctx, person_id=person_id)
        return [
            line
            for line in lines
            if line.missing and (deadline is None or line.deadline_at == deadline)
        ]

    async def missing_of_all(self) -> tuple[list[DraftLine], int]:
        """The speeches still owed (:attr:`DraftLine.owed`), and how many are to be received
        (those excused left out): the overview says every draft is in only when some were
        assigned. Read-only: the overview polls it."""
        async with read_only(self._ctx.sessions) as session:
            lines = await read_lines(session, self._ctx)
        return [line for line in lines if line.owed], sum(not line.excused for line in lines)

    async def line(self, assignment_id: int, *, withdrawn: bool = False) -> DraftLine | None:
        """One assignment (with ``withdrawn``, also one the office withdrew: its versions and
        thread stay readable)."""
        async with read_only(self._ctx.sessions) as session:
            lines = await read_lines(
                session, self._ctx, assignment_ids=[assignment_id], withdrawn=withdrawn
            )
        return lines[0] if lines else None

    async def versions(self, assignment_id: int) -> list[VersionLine]:
        """Every version of an assignment, newest first (the speaker's receipts)."""
        async with read_only(self._ctx.sessions) as session:
            rows = await session.scalars(
                select(DraftVersion)
                .where(DraftVersion.assignment_id == assignment_id)
                .order_by(DraftVersion.number.desc())
            )
            return [version_line(row) for row in rows]

    async def version_file(self, version_id: int) -> VersionFile | None:
        """A stored version, for the office chat or a download (a withdrawn assignment's too:
        what was sent is kept)."""
        async with read_only(self._ctx.sessions) as session:
            version = await session.get(DraftVersion, version_id)
            if version is None:
                return None
            lines = await read_lines(
                session, self._ctx, assignment_ids=[version.assignment_id], withdrawn=True
            )
            if not lines:
                return None
            return VersionFile(
                version=version_line(version),
                draft=lines[0],
                channel=version.channel,
                file_ref=version.file_ref,
                path=self._files.path_for(version.sha256),
            )

    async def approved(self) -> list[ApprovedDraft]:
        """The live assignments whose draft the office approved, in the board's order (themes,
        then protocol rank), each with the version approved, when and by whom (the staff
        member's name where the record names a person, else the record as it is)."""
        async with read_only(self._ctx.sessions) as session:
            lines = [
                line
                for line in await read_lines(session, self._ctx)
                if line.status is DraftStatus.FINAL and line.latest is not None
            ]
            rows = {
                row.id: row
                for row in await session.scalars(
                    select(SpeechAssignment).where(
                        SpeechAssignment.id.in_([line.id for line in lines])
                    )
                )
            }
            # Who approved, found as Nhật ký finds its authors (the person behind the account).
            behind = await queries.people_behind(
                session, self._ctx.meeting_id, {row.status_by or "" for row in rows.values()}
            )
            names = {account: name for account, (name, _) in behind.items()}
        found: list[ApprovedDraft] = []
        for line in lines:
            assert line.latest is not None
            row = rows[line.id]
            by = row.status_by or ""
            found.append(
                ApprovedDraft(
                    draft=line,
                    version=line.latest,  # a verdict is on the newest; a new one reopens it
                    approved_at=row.status_at,
                    approved_by=names.get(by, by),
                    approved_account=by,
                    path=self._files.path_for(line.latest.sha256),
                )
            )
        return found

    async def export(
        self, directory: Path, name_for: Callable[[DraftLine, bool], str]
    ) -> list[ExportedDraft]:
        """Copy the latest version of every draft into ``directory`` under the name
        ``name_for(line, with_code)`` gives (sanitized; ``with_code`` asks for a name that also
        tells two speakers of one unit apart); returns one row per assignment for the index. A
        version whose file the file store no longer holds is skipped and marked ``lost``: the
        others are still exported."""
        lines = await self.board()
        rows: list[ExportedDraft] = []
        taken: set[str] = set()
        for line in lines:
            if line.latest is None:
                rows.append(ExportedDraft(line, None))
                continue
            name = _export_name(line, name_for, taken)
            source = self._files.path_for(line.latest.sha256)
            if not await asyncio.to_thread(_copy, source, directory / name):
                rows.append(ExportedDraft(line, None, lost=True))
                continue
            taken.add(name.casefold())
            rows.append(ExportedDraft(line, name))
        return rows


async def read_line(session: AsyncSession, ctx: ServiceContext, assignment_id: int) -> DraftLine:
    """One live assignment's line, inside the caller's unit of work."""
    return (await read_lines(session, ctx, assignment_ids=[assignment_id]))[0]


async def read_lines(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    person_id: int | None = None,
    assignment_ids: Iterable[int] | None = None,
    withdrawn: bool = False,
) -> list[DraftLine]:
    """The live assignments (of ``person_id``, or among ``assignment_ids``, if given) in the
    order of the themes, then protocol rank, inside the caller's unit of work; with
    ``withdrawn``, those the office withdrew too (marked ``withdrawn``)."""
    # Whether any account of hers is linked (her page too), and how the office gets word to
    # her by the lists' one rule (roster.contact): tests, not a join, so one row each.
    linked = exists().where(ChannelIdentity.delegate_id == Delegate.id)
    contact = roster.contact(ctx.chats.names, day_begun=ctx.day_begun())
    query = (
        select(SpeechAssignment, Delegate, linked, contact)
        .join(Delegate, Delegate.id == SpeechAssignment.person_id)
        .where(SpeechAssignment.meeting_id == ctx.meeting_id)
    )
    if not withdrawn:
        query = query.where(SpeechAssignment.withdrawn_at.is_(None))
    if person_id is not None:
        query = query.where(SpeechAssignment.person_id == person_id)
    if assignment_ids is not None:
        query = query.where(SpeechAssignment.id.in_(list(assignment_ids)))
    rows = (await session.execute(query)).all()
    ids = [row.id for row, _, _, _ in rows]
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
        select(DraftComment).where(DraftComment.assignment_id.in_(ids)).order_by(DraftComment.id)
    ):
        last_comments[each.assignment_id] = each
    themes = {theme.key: (index, theme.title) for index, theme in enumerate(ctx.config.themes)}
    # Who will not be in the hall to speak: the office planning the speeches learns it here.
    away: dict[int, tuple[RsvpStatus, str | None]] = {}
    people = {person.id for _, person, _, _ in rows}
    if people:
        for answer in await session.scalars(
            select(Rsvp).where(
                Rsvp.delegate_id.in_(people),
                Rsvp.status.in_([RsvpStatus.DECLINED, RsvpStatus.SUBSTITUTE]),
            )
        ):
            away[answer.delegate_id] = (RsvpStatus(answer.status), answer.substitute_name)
    lines: list[tuple[tuple[Any, ...], DraftLine]] = []
    for row, person, is_linked, reach in rows:
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
            linked=bool(is_linked),
            deadline_at=row.deadline_at,
            status=DraftStatus(row.status),
            latest=version_line(mine[-1]) if mine else None,
            versions=len(mine),
            last_comment=comment_line(comment, numbers.get(comment.version_id or 0))
            if comment is not None
            else None,
            buffered_chunks=len(row.text_buffer or []),
            buffered_chars=sum(len(chunk) for chunk in row.text_buffer or []),
            contact=Contact(reach),
            withdrawn=row.withdrawn_at is not None,
            invitation_withdrawn=person.withdrawn_at is not None,
            away=away[person.id][0] if person.id in away else None,
            substitute=away[person.id][1] if person.id in away else None,
        )
        lines.append(((order, person.rank is None, person.rank or 0, person.code), line))
    lines.sort(key=lambda item: item[0])
    return [line for _, line in lines]


def comment_line(comment: DraftComment, version_number: int | None) -> CommentLine:
    """A message of a thread as the reply and the outbox show it."""
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


def version_line(version: DraftVersion) -> VersionLine:
    """A stored version as the reply and the outbox show it."""
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
        # The number goes at the end, where a long name is cut: the name is shortened to keep it
        # (cut off with the rest, every candidate was the name taken, and the loop never ended).
        base, marker = name_for(line, True), f" ({index}){suffix}"
        name = sanitize_filename(base + marker, fallback=fallback)
        while base and not name.endswith(marker):
            base = base[:-1]
            name = sanitize_filename(base + marker, fallback=fallback)
        index += 1
    return name


def _copy(source: Path, target: Path) -> bool:
    """Copy a stored file out; False (and nothing written) when the store does not hold it."""
    content = read_stored(source)
    if content is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return True
