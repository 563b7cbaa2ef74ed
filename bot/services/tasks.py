"""Section VI as a task board: tasks from the plan, the people who answer for them, their
reports (done, in progress with a note, need help), their deliverables, and the office's view.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Task as PlanTask
from bot.domain.channels import ChatAccount
from bot.domain.contact import Contact
from bot.domain.tasks import (
    MAX_TASK_FILES,
    MAX_TASK_NOTE,
    AssignmentLine,
    EvidenceLine,
    TaskAction,
    TaskHead,
    TaskLine,
    TaskStatus,
    is_overdue,
)
from bot.domain.typed import one_line
from bot.services import roster
from bot.services.access import DASHBOARD, OfficeActor
from bot.services.context import ServiceContext
from bot.services.queueing import queue_office_note
from storage import queries
from storage.content import FileRejected, RejectCode, check_content
from storage.files import DELIVERABLE_SUFFIXES, FileStore, StagedFile, check_upload
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    Task,
    TaskAssignment,
    TaskEvidence,
)
from storage.sharing import blobs_in_turn
from storage.uow import read_only, unit_of_work

log = logging.getLogger(__name__)

_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def holds_a_link(text: str) -> bool:
    """Whether ``text`` carries a deliverable's link (http:// or https://)."""
    return _URL.search(text) is not None


# People a task's page on the dashboard lists at a time (a district task has one per district
# chair: 1,250 at 10,000 delegates); «Xem tiếp» goes on.
PEOPLE_PAGE = 100


class TaskStep(StrEnum):
    """What happened, so the adapter knows what to say."""

    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    ASK_NOTE = "ask_note"
    ASK_HELP = "ask_help"
    ASK_FILE = "ask_file"
    FILE_SAVED = "file_saved"
    HELP_SENT = "help_sent"
    NOT_ASSIGNED = "not_assigned"
    GONE = "gone"
    NOT_LINKED = "not_linked"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    NOT_A_FILE = "not_a_file"
    FILE_DUPLICATE = "file_duplicate"  # the same file as one already sent for this task
    TOO_MANY_FILES = "too_many_files"  # MAX_TASK_FILES sent for this task: nothing more is kept
    REJECTED = "rejected"  # a file refused by name, size or content; ``reject`` says why
    NOTHING_PENDING = "nothing_pending"
    DUPLICATE = "duplicate"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REOPENED = "reopened"  # the office took a closed task up again
    ALREADY_OPEN = "already_open"  # reopening a task that is not closed
    RECORDED_FOR = "recorded_for"  # the office recorded an assignee's report on her behalf
    ALREADY_DONE = "already_done"  # recording for someone who has reported it done already
    ALREADY_RECORDED = "already_recorded"  # recording for someone the office recorded already
    RECORD_UNDONE = "record_undone"  # the office undid its record of an assignee's report
    # Her note or help detail answered a question asked before the office recorded her report:
    # not written over the record (a tap of hers would be her own report again).
    RECORDED_MEANWHILE = "recorded_meanwhile"
    NOTHING_TO_UNDO = "nothing_to_undo"  # no record of the office's stands to undo


@dataclass(frozen=True)
class TaskResult:
    """The step reached and what the reply needs."""

    step: TaskStep
    task: TaskLine | None = None
    status: TaskStatus | None = None
    evidence_id: int | None = None
    reject: RejectCode | None = None
    name: str = ""  # whom the office recorded a report for (:meth:`TaskService.record_for`)
    # Her report as the task's line has it (ALREADY_RECORDED: when, and by which staff member)
    person: AssignmentLine | None = None


@dataclass(frozen=True)
class EvidenceFile:
    """A deliverable file, for the office to open: held by the platform of ``channel``
    (``file_ref``), or kept in the file store (``path``)."""

    id: int
    name: str
    channel: str | None
    file_ref: str | None
    path: Path | None
    size: int | None


@dataclass(frozen=True)
class SyncReport:
    """What syncing the plan's tasks did."""

    created: int
    updated: int
    archived: int
    unknown_contacts: list[str]


@dataclass(frozen=True)
class TaskPage:
    """A task as its page on the dashboard shows it: ``line.assignments`` holds one page of its
    people (from ``start``, in the board's order), the figures count everyone (in SQL), and
    ``line.overdue`` is the task's own."""

    line: TaskLine
    total: int  # people on the task
    done: int  # of them, reported done
    reported: int  # of them, reported at all
    start: int
    next_start: int | None  # where the next page starts (None: this is the last)
    # The codes the plan gives the task to that are on nobody's list (a typo, a contact not
    # imported): nobody is reminded under them, and only the import's note said so.
    unknown: tuple[str, ...] = ()

    @property
    def all_done(self) -> bool:
        """Everyone on the task reported it done (as :attr:`TaskLine.done` for everyone)."""
        return self.total > 0 and self.done == self.total


class Holder(Protocol):
    """A person as the plan's task contacts name her (a row, or its view)."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def group_key(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def withdrawn_at(self) -> datetime | None: ...


class Holding(StrEnum):
    """Why the plan gives a task to a person."""

    NAMED = "named"  # the task's contacts name her code
    GROUP = "group"  # only through her group: an invitee of a group the task names


@dataclass(frozen=True)
class Share:
    """Whom a task of the plan is given to: people named by code, and groups (``group:<key>``,
    every invitee of the group whose invitation stands)."""

    codes: tuple[str, ...]  # as written in the plan, in its order
    folded: frozenset[str]  # the same, as :func:`storage.queries.fold_code` matches them
    groups: frozenset[str]

    @classmethod
    def of(cls, planned: PlanTask) -> Share:
        """The share of a task of the plan."""
        groups, codes = set(), []
        for contact in planned.contacts:
            kind, _, key = contact.partition(":")
            if kind == "group" and key:
                groups.add(key)
            else:
                codes.append(contact)
        return cls(tuple(codes), frozenset(queries.fold_code(c) for c in codes), frozenset(groups))

    def holding(self, person: Holder) -> Holding | None:
        """Whether the plan names the person, gives the task to her only through her group (a
        task contact is in no group's share), or does not give it to her."""
        if queries.fold_code(person.code) in self.folded:
            return Holding.NAMED
        return Holding.GROUP if self._of_a_group(person) else None

    def _of_a_group(self, person: Holder) -> bool:
        """Whether the person is an invitee of a group the task names."""
        return person.role == "delegate" and person.group_key in self.groups

    def holders(self, people: Mapping[str, Holder]) -> set[int]:
        """The ids of those among ``people`` (keyed by their folded code) who hold the task now
        (:meth:`holds`): the named ones looked up, a group's invitees in one pass over
        everyone only when the task names a group — at 10,000 people, folding every code for
        every task took a fifth of a second of each sync."""
        held = {people[code].id for code in self.folded if code in people}
        if self.groups:
            held |= {
                p.id for p in people.values() if self._of_a_group(p) and p.withdrawn_at is None
            }
        return held

    def holds(self, person: Holder) -> bool:
        """Whether the person holds the task now: named, or through her group while her
        invitation stands (a withdrawn invitation takes the group's share with it)."""
        holding = self.holding(person)
        return holding is Holding.NAMED or (
            holding is Holding.GROUP and person.withdrawn_at is None
        )


async def drop_unreported(session: AsyncSession, assignment: TaskAssignment) -> None:
    """Delete an assignment nobody has reported on — checked again by the DELETE itself: on
    PostgreSQL a report recorded meanwhile (by her, or by the office for her) commits between
    the read and the delete, and a plain delete would take the report and its files with it."""
    await session.execute(
        delete(TaskAssignment)
        .where(TaskAssignment.id == assignment.id, TaskAssignment.updated_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    session.expunge(assignment)


class _Pending(StrEnum):
    NOTE = "task_note"
    HELP = "task_help"
    FILE = "task_file"


class TaskService:
    """Tasks of the plan and everything people do with them."""

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self._files = files

    # --- the plan --------------------------------------------------------------------------------

    async def sync(self) -> SyncReport:
        """Bring the task rows in line with the config; reported progress is never lost.

        A task removed from the plan is archived, not deleted; a contact removed from a task
        loses the assignment only if they never reported on it.
        """
        async with unit_of_work(self._ctx.sessions) as session:
            return await self.sync_in(session)

    async def sync_in(self, session: AsyncSession) -> SyncReport:
        """:meth:`sync` in the caller's transaction: an import assigns the tasks to the people
        it brings in the same commit, so no tick ever sees the list without them."""
        config, now = self._ctx.config, self._ctx.clock.now()
        created = updated = archived = 0
        unknown: list[str] = []
        people = await queries.delegates_by_code(session, self._ctx.meeting_id)
        rows = {
            task.key: task
            for task in await session.scalars(
                select(Task).where(Task.meeting_id == self._ctx.meeting_id)
            )
        }
        for planned in config.tasks:
            task = rows.get(planned.key)
            values = {
                "title": planned.title,
                "description": planned.description,
                "owner": planned.owner,
                "deliverable": planned.deliverable,
                "deadline_at": config.meeting.resolve(planned.deadline),
            }
            if task is None:
                task = Task(
                    meeting_id=self._ctx.meeting_id,
                    key=planned.key,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                session.add(task)
                await session.flush()
                created += 1
            elif task.archived_at is not None or any(
                getattr(task, k) != v for k, v in values.items()
            ):
                for name, value in values.items():
                    setattr(task, name, value)
                task.archived_at = None
                task.updated_at = now
                updated += 1
            share = Share.of(planned)
            wanted = share.holders(people)
            unknown += [c for c in share.codes if queries.fold_code(c) not in people]
            await self._sync_assignments(session, task, wanted)
        for key, task in rows.items():
            if key not in {t.key for t in config.tasks} and task.archived_at is None:
                task.archived_at = now
                archived += 1
        if unknown and not people:
            # Before any list: every code is unknown, and naming them all says nothing more.
            log.info("no list imported yet: the plan's tasks and speeches wait for their people")
        elif unknown:
            # A note, not a warning: the report carries them to the caller, who tells the office.
            log.info("task contacts not in the imported list: %s", ", ".join(sorted(unknown)))
        return SyncReport(created, updated, archived, sorted(set(unknown)))

    def group_only_tasks(self, person: Holder) -> list[str]:
        """The keys of the plan's tasks the person holds only through her group (an invitee of
        a group the task names, not named on it herself): she leaves them with her invitation
        and has them back with it; what she reported on one stays hers."""
        return [
            planned.key
            for planned in self._ctx.config.tasks
            if Share.of(planned).holding(person) is Holding.GROUP
        ]

    async def sync_person(self, session: AsyncSession, person: Delegate) -> None:
        """The person's assignments as :meth:`sync` would leave them, in the caller's
        transaction: a withdrawal or a re-invitation changes only whether she holds her
        group's tasks, so nobody else's are read. Task rows are :meth:`sync`'s (the plan's,
        synced at start and on every import): a task without one is left to it."""
        plan = {planned.key: planned for planned in self._ctx.config.tasks}
        rows = await session.execute(
            select(Task.id, Task.key, TaskAssignment)
            .outerjoin(
                TaskAssignment,
                and_(TaskAssignment.task_id == Task.id, TaskAssignment.person_id == person.id),
            )
            .where(Task.meeting_id == self._ctx.meeting_id, Task.key.in_(plan))
        )
        for task_id, key, assignment in rows:
            wanted = Share.of(plan[key]).holds(person)
            if wanted and assignment is None:
                session.add(
                    TaskAssignment(task_id=task_id, person_id=person.id, status=TaskStatus.TODO)
                )
            elif not wanted and assignment is not None and assignment.updated_at is None:
                await drop_unreported(session, assignment)  # reported work stays

    async def _sync_assignments(self, session: AsyncSession, task: Task, wanted: set[int]) -> None:
        existing = {
            a.person_id: a
            for a in await session.scalars(
                select(TaskAssignment).where(TaskAssignment.task_id == task.id)
            )
        }
        for person_id in wanted - existing.keys():
            session.add(
                TaskAssignment(task_id=task.id, person_id=person_id, status=TaskStatus.TODO)
            )
        for person_id, assignment in existing.items():
            if person_id not in wanted and assignment.updated_at is None:
                await drop_unreported(session, assignment)

    # --- assignees -------------------------------------------------------------------------------

    async def report(self, account: ChatAccount, task_id: int, action: TaskAction) -> TaskResult:
        """An assignee's button: done at once; in progress and need help ask for a note."""
        async with unit_of_work(self._ctx.sessions) as session:
            # Locked and read as it is now (on PostgreSQL the office's record may have
            # committed a moment ago): whose the report is decides which note she keeps.
            found = await self._assignment(session, account, task_id, lock=True)
            if isinstance(found, TaskResult):
                return found
            ident, task, assignment = found
            if action is TaskAction.CANCEL:
                if not self.is_waiting_for_task_input(ident.pending_input):
                    return TaskResult(TaskStep.NOTHING_PENDING)
                ident.pending_input, ident.pending_data = None, None
                return TaskResult(TaskStep.CANCELLED, await self._line(session, task))
            if action is TaskAction.DONE:
                changed = self._set_status(
                    session, account, task, assignment, TaskStatus.DONE, None
                )
                if self.is_waiting_for_task_input(ident.pending_input):  # not an RSVP question
                    ident.pending_input, ident.pending_data = None, None
                step = TaskStep.RECORDED if changed else TaskStep.UNCHANGED
                return TaskResult(step, await self._line(session, task), TaskStatus.DONE)
            # Her note is kept while she is asked for a new one; the office's note on its record
            # of her report (how the report came, :meth:`record_for`) is not hers to keep.
            kept = None if _by_office(assignment.updated_by) else assignment.note
            if action is TaskAction.PROGRESS:
                self._set_status(session, account, task, assignment, TaskStatus.IN_PROGRESS, kept)
                ident.pending_input, ident.pending_data = _Pending.NOTE, {"task_id": task.id}
                return TaskResult(
                    TaskStep.ASK_NOTE, await self._line(session, task), TaskStatus.IN_PROGRESS
                )
            if action is TaskAction.HELP:
                changed = self._set_status(
                    session, account, task, assignment, TaskStatus.NEED_HELP, kept
                )
                if changed:  # a second tap must not page the office twice
                    await self._office_note(
                        session, "task_note.help", task, ident.delegate_id, note=""
                    )
                ident.pending_input, ident.pending_data = _Pending.HELP, {"task_id": task.id}
                return TaskResult(
                    TaskStep.ASK_HELP, await self._line(session, task), TaskStatus.NEED_HELP
                )
            if action is not TaskAction.FILE:  # close and open-file are the office's buttons
                return TaskResult(TaskStep.NOT_ASSIGNED)
            ident.pending_input, ident.pending_data = _Pending.FILE, {"task_id": task.id}
            return TaskResult(TaskStep.ASK_FILE, await self._line(session, task))

    async def submit_text(
        self, account: ChatAccount, text: str, *, event_id: str | None = None
    ) -> TaskResult:
        """A typed note, description of the help needed, or a link as the deliverable."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            pending = ident.pending_input if ident is not None else None
            if ident is None or pending not in {p.value for p in _Pending}:
                return TaskResult(TaskStep.NOTHING_PENDING)
            if not queries.first_time(ident, event_id):
                return TaskResult(TaskStep.DUPLICATE)
            # Read under the lock: a report the office recorded a moment ago (on PostgreSQL)
            # is judged here, not a stale copy her note would be written over.
            found = await self._assignment(
                session, account, int((ident.pending_data or {}).get("task_id", 0)), lock=True
            )
            if isinstance(found, TaskResult):
                ident.pending_input = ident.pending_data = None
                return found
            _, task, assignment = found
            value = one_line(text)
            if not value:
                return TaskResult(TaskStep.EMPTY)
            if len(value) > MAX_TASK_NOTE:
                return TaskResult(TaskStep.TOO_LONG)
            if pending == _Pending.FILE:
                url = _URL.search(value)
                if url is None:
                    return TaskResult(TaskStep.NOT_A_FILE)
                evidence = self._add_evidence(
                    session,
                    account,
                    assignment,
                    kind="link",
                    name=value[:300],  # cut to the column's size (a note may be 500 long)
                    url=url.group(0)[:2000],
                )
                await session.flush()
                await self._office_note(
                    session, "task_note.file", task, ident.delegate_id, note=value
                )
                ident.pending_input = ident.pending_data = None
                return TaskResult(
                    TaskStep.FILE_SAVED, await self._line(session, task), evidence_id=evidence.id
                )
            ident.pending_input = ident.pending_data = None
            if _by_office(assignment.updated_by):
                # She was asked (her tap, which made the report hers) before the office
                # recorded it: the record stands, note and all, and she is told so; a tap of
                # hers («Đang thực hiện», «Cần hỗ trợ») would be her own report again.
                return TaskResult(
                    TaskStep.RECORDED_MEANWHILE,
                    await self._line(session, task),
                    TaskStatus(assignment.status),
                )
            status = TaskStatus(assignment.status)
            self._set_status(session, account, task, assignment, status, value)
            if pending == _Pending.HELP:
                await self._office_note(
                    session, "task_note.help_detail", task, ident.delegate_id, note=value
                )
                return TaskResult(TaskStep.HELP_SENT, await self._line(session, task), status)
            return TaskResult(TaskStep.RECORDED, await self._line(session, task), status)

    def check_upload(self, filename: str, size: int | None) -> RejectCode | None:
        """Why a file cannot be a deliverable, judged before it is downloaded; None if it may."""
        try:
            check_upload(filename, size, DELIVERABLE_SUFFIXES)
        except FileRejected as exc:
            return exc.code
        return None

    async def submit_file(
        self, account: ChatAccount, *, name: str, file_ref: str, content: bytes
    ) -> TaskResult:
        """A document sent after the assignee pressed "Gửi sản phẩm", downloaded: kept (by the
        platform's reference) and announced to the office only if its bytes are sound."""
        try:
            suffix = check_upload(name, len(content), DELIVERABLE_SUFFIXES)
            # Unpacking an archive's directory is CPU work: off the event loop.
            await asyncio.to_thread(check_content, suffix, content)
        except FileRejected as exc:
            log.info("task deliverable rejected: %s", exc.code)
            return TaskResult(TaskStep.REJECTED, reject=exc.code)
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None or ident.pending_input != _Pending.FILE:
                return TaskResult(TaskStep.NOTHING_PENDING)
            found = await self._assignment(
                session, account, int((ident.pending_data or {}).get("task_id", 0)), lock=True
            )
            if isinstance(found, TaskResult):
                return found
            _, task, assignment = found
            if await _files_full(session, assignment):
                ident.pending_input = ident.pending_data = None
                return TaskResult(TaskStep.TOO_MANY_FILES, await self._line(session, task))
            evidence = self._add_evidence(
                session,
                account,
                assignment,
                kind="file",
                name=name[:300],
                file_ref=file_ref,
                size=len(content),
            )
            await session.flush()
            await self._office_note(session, "task_note.file", task, ident.delegate_id, note=name)
            ident.pending_input = ident.pending_data = None
            return TaskResult(
                TaskStep.FILE_SAVED, await self._line(session, task), evidence_id=evidence.id
            )

    async def store_file(
        self, account: ChatAccount, task_id: int, *, name: str, content: bytes
    ) -> TaskResult:
        """A deliverable uploaded on the personal page for ``task_id``: checked as the chat
        checks one, kept in the file store, recorded and announced to the office as the chat's
        deliverable file is (the office's note carries the file itself: no platform holds it).
        The same file again for the same task is FILE_DUPLICATE, and nobody is told twice.
        As the office's :meth:`record_for`, the file is written to the store only in the
        transaction that records it: an upload refused at the last moment (another one took
        her last place, the task was closed) leaves no blob behind that no row names."""
        async with unit_of_work(self._ctx.sessions) as session:
            # A look that writes nothing: counted again under the lock when it is recorded.
            found = await self._assignment(session, account, task_id, lock=False)
            if isinstance(found, TaskResult):
                return found
            _, task, assignment = found
            if await _files_full(session, assignment):  # before its content is looked into
                return TaskResult(TaskStep.TOO_MANY_FILES, await self._line(session, task))
        try:
            # Unpacking an archive's directory: off the event loop. Nothing is written yet.
            examined = await asyncio.to_thread(
                self._files.examine, name, content, DELIVERABLE_SUFFIXES
            )
        except FileRejected as exc:
            log.info("task deliverable rejected: %s", exc.code)
            return TaskResult(TaskStep.REJECTED, reject=exc.code)
        # Its bytes (20 MB at most, fsynced) are written beside the store before the recording
        # transaction begins: on SQLite that transaction holds the database's only write lock,
        # which every tap and check-in waits for. Only put in place once a row names it, and
        # discarded if refused, or failed before it was put in place.
        async with self._files.staged(examined, content) as staged:
            return await self._record_upload(account, task_id, name, staged)

    async def _record_upload(
        self, account: ChatAccount, task_id: int, name: str, staged: StagedFile
    ) -> TaskResult:
        """:meth:`store_file`'s recording transaction: the staged file put in place in the
        store only with the row that names it, or left to be discarded."""
        examined = staged.examined
        async with unit_of_work(self._ctx.sessions) as session:
            # Uploads for one assignment take turns from here (on PostgreSQL; SQLite's writers
            # do anyway): each counts the files after the one before it committed.
            found = await self._assignment(session, account, task_id, lock=True)
            if isinstance(found, TaskResult):
                return found
            ident, task, assignment = found
            if await _files_full(session, assignment):  # another upload took the last place
                return TaskResult(TaskStep.TOO_MANY_FILES, await self._line(session, task))
            same = await session.scalar(
                select(TaskEvidence.id)
                .where(
                    TaskEvidence.assignment_id == assignment.id,
                    TaskEvidence.sha256 == examined.sha256,
                )
                .limit(1)
            )
            if same is not None:
                return TaskResult(
                    TaskStep.FILE_DUPLICATE, await self._line(session, task), evidence_id=same
                )
            evidence = self._add_evidence(
                session,
                account,
                assignment,
                kind="file",
                name=name[:300],
                size=examined.size,
                sha256=examined.sha256,
            )
            await session.flush()
            await self._office_note(
                session,
                "task_note.file",
                task,
                ident.delegate_id,
                note=name,
                evidence_id=evidence.id,
            )
            # In place now that a row names it (a rename: quick under the write lock).
            await self._files.publish_in(session, staged)
            return TaskResult(
                TaskStep.FILE_SAVED, await self._line(session, task), evidence_id=evidence.id
            )

    def is_waiting_for_task_input(self, pending_input: str | None) -> bool:
        """Whether a chat account's pending question belongs to the task board."""
        return pending_input in {p.value for p in _Pending}

    async def waiting_for_file(self, account: ChatAccount) -> bool:
        """Whether this account was asked for a task's deliverable."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            return ident is not None and ident.pending_input == _Pending.FILE

    async def board_for(self, account: ChatAccount) -> list[TaskLine] | None:
        """The tasks this account answers for (None when the account is not linked)."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None:
                return None
            task_ids = await session.scalars(
                select(TaskAssignment.task_id).where(TaskAssignment.person_id == ident.delegate_id)
            )
            return await self._lines(session, set(task_ids))

    # --- the office ------------------------------------------------------------------------------

    async def line(self, key: str) -> TaskLine | None:
        """One live task by its key."""
        async with unit_of_work(self._ctx.sessions) as session:
            task_id = await session.scalar(
                select(Task.id).where(
                    Task.meeting_id == self._ctx.meeting_id,
                    Task.key == key,
                    Task.archived_at.is_(None),
                )
            )
            lines = await self._lines(session, {task_id}) if task_id is not None else []
        return lines[0] if lines else None

    async def office_board(self) -> list[TaskLine]:
        """Every live task, overdue first, then by deadline."""
        async with read_only(self._ctx.sessions) as session:
            return await self._lines(session, None)

    async def overdue(self) -> list[TaskLine]:
        """Tasks past their deadline that are neither done nor closed."""
        # Chosen in SQL: only the overdue tasks' people are read, not the whole board's.
        async with unit_of_work(self._ctx.sessions) as session:
            ids = set(await session.scalars(select(Task.id).where(self._overdue())))
            lines = await self._lines(session, ids) if ids else []
        return [line for line in lines if line.overdue]

    async def overdue_heads(self) -> list[TaskHead]:
        """What the overview lists of the overdue tasks (key, title, owner, deadline), in the
        board's order: chosen in SQL, without reading anyone's assignment (it is polled)."""
        async with read_only(self._ctx.sessions) as session:
            rows = await session.execute(
                select(Task.id, Task.key, Task.title, Task.owner, Task.deadline_at)
                .where(self._overdue())
                .order_by(Task.deadline_at, Task.key)
            )
            return [TaskHead(*row) for row in rows]

    def _overdue(self) -> ColumnElement[bool]:
        """Live tasks past their deadline, not closed, and not done by everyone on them
        (:func:`bot.domain.tasks.is_overdue`, a task with no one on it is not done)."""
        assigned = TaskAssignment.task_id == Task.id
        not_done = exists().where(assigned, TaskAssignment.status != TaskStatus.DONE.value)
        return and_(
            Task.meeting_id == self._ctx.meeting_id,
            Task.archived_at.is_(None),
            Task.closed_at.is_(None),
            Task.deadline_at < self._ctx.clock.now(),
            ~exists().where(assigned) | not_done,
        )

    async def task(self, task_id: int) -> TaskLine | None:
        """One live task by its id (None for an unknown or archived one)."""
        async with read_only(self._ctx.sessions) as session:
            lines = await self._lines(session, {task_id})
        return lines[0] if lines else None

    async def task_page(
        self, task_id: int, *, start: int = 0, limit: int | None = None
    ) -> TaskPage | None:
        """One live task with a page of its people from ``start`` and the figures of all of
        them counted in SQL (None for an unknown or archived task): its page on the dashboard
        reads and writes ``limit`` people (:data:`PEOPLE_PAGE`), not all 1,250 of a district
        task."""
        start = max(0, start)
        limit = PEOPLE_PAGE if limit is None else limit
        async with read_only(self._ctx.sessions) as session:
            total, done, reported = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(TaskAssignment.status == TaskStatus.DONE.value),
                        func.count().filter(TaskAssignment.updated_at.is_not(None)),
                    ).where(TaskAssignment.task_id == task_id)
                )
            ).one()
            if total and start >= total:  # past the end (an old link): the last page
                start = (total - 1) // limit * limit
            lines = await self._lines(
                session, {task_id}, window=(start, limit + 1), done={task_id: 0 < done == total}
            )
            if not lines:
                return None
            unknown = await self._unlisted(session, lines[0].key)
        line = lines[0]
        more = len(line.assignments) > limit
        line = replace(line, assignments=line.assignments[:limit])
        return TaskPage(
            line,
            int(total),
            int(done),
            int(reported),
            start,
            start + limit if more else None,
            unknown,
        )

    async def _unlisted(self, session: AsyncSession, key: str) -> tuple[str, ...]:
        """The codes the plan names on task ``key`` (as written) that nobody on the list has:
        looked up by the folded codes the plan names, not by reading the whole list."""
        planned = next((t for t in self._ctx.config.tasks if t.key == key), None)
        if planned is None:
            return ()
        share = Share.of(planned)
        if not share.codes:
            return ()
        found = set(
            await session.scalars(
                select(Delegate.folded_code).where(
                    Delegate.meeting_id == self._ctx.meeting_id,
                    Delegate.folded_code.in_(share.folded),
                )
            )
        )
        return tuple(code for code in share.codes if queries.fold_code(code) not in found)

    async def close(self, office: OfficeActor, task_id: int, note: str = "") -> TaskResult:
        """The office closes a task (done another way, or dropped): no reminders, no escalation.
        ``note`` (optional, the dashboard's) says why, in the audit row beside the staff name.
        The assignees are not told: their next tap on the task answers that it is closed."""
        now = self._ctx.clock.now()
        value = one_line(note)
        if len(value) > MAX_TASK_NOTE:
            return TaskResult(TaskStep.TOO_LONG)
        async with unit_of_work(self._ctx.sessions) as session:
            task = await self._live_task(session, task_id)
            if task is None:
                return TaskResult(TaskStep.GONE)
            if task.closed_at is not None:
                return TaskResult(TaskStep.UNCHANGED, await self._line(session, task))
            task.closed_at, task.closed_by, task.updated_at = now, office.actor, now
            after: dict[str, Any] = {"closed": True, "by": office.name}
            if value:
                after["note"] = value
            queries.add_audit(
                session,
                at=now,
                actor=office.actor,
                action="task.closed",
                entity="task",
                entity_id=task.id,
                before={"closed": False},
                after=after,
            )
            return TaskResult(TaskStep.CLOSED, await self._line(session, task))

    async def reopen(self, office: OfficeActor, task_id: int, reason: str) -> TaskResult:
        """The office takes a closed task up again, saying why (required): reminders and
        escalation resume from now, as for any open task. Mirrors :meth:`close`: audited with
        the staff name and the reason; the assignees are not messaged (closing tells them
        nothing either), their buttons simply work again."""
        now = self._ctx.clock.now()
        value = one_line(reason)
        async with unit_of_work(self._ctx.sessions) as session:
            task = await self._live_task(session, task_id)
            if task is None:
                return TaskResult(TaskStep.GONE)
            if task.closed_at is None:
                return TaskResult(TaskStep.ALREADY_OPEN, await self._line(session, task))
            if not value:
                return TaskResult(TaskStep.EMPTY, await self._line(session, task))
            if len(value) > MAX_TASK_NOTE:
                return TaskResult(TaskStep.TOO_LONG, await self._line(session, task))
            task.closed_at, task.closed_by, task.updated_at = None, None, now
            queries.add_audit(
                session,
                at=now,
                actor=office.actor,
                action="task.reopened",
                entity="task",
                entity_id=task.id,
                before={"closed": True},
                after={"closed": False, "by": office.name, "note": value},
            )
            return TaskResult(TaskStep.REOPENED, await self._line(session, task))

    async def record_for(
        self,
        office: OfficeActor,
        task_id: int,
        code: str,
        *,
        note: str = "",
        file: tuple[str, bytes] | None = None,
    ) -> TaskResult:
        """The office records that the person with ``code`` reported the task done, as she told
        it by phone, on paper or by email: it counts as her own «Đã hoàn thành» (the board's
        figures, reminders, the report file, the group task of which she answers for her part).

        ``note`` (optional) says how the report came («qua điện thoại») and is kept as the
        report's note; ``file`` (name, bytes; optional) is her deliverable, checked and stored
        as one uploaded on her personal page. Audited as ``task.recorded`` with the staff name
        and hers. She is not messaged, as closing or reopening a task messages nobody; nor is
        the office (a staff member did it). Her deliverables sent afterwards are hers and leave
        the record the office's, note and all, until she reports herself (a tap of hers; a
        note typed to a question her tap asked before the record is refused, RECORDED_MEANWHILE).
        Someone who already reported it done is left as she is, file and all: ALREADY_DONE, or
        ALREADY_RECORDED when that report is the office's (another staff member's a moment
        ago). A refused file records nothing, and a file is written to the store only with the
        record that keeps it: a record that finds her reported already, her files at the most
        (counted again under her row's lock) or the same file kept leaves no blob behind."""
        value = one_line(note)
        if len(value) > MAX_TASK_NOTE:
            return TaskResult(TaskStep.TOO_LONG)
        if file is not None and (reject := self.check_upload(file[0], len(file[1]))):
            return TaskResult(TaskStep.REJECTED, reject=reject)
        async with unit_of_work(self._ctx.sessions) as session:
            # A look that writes nothing: judged again under the lock when it is recorded.
            found = await self._assignment_of(session, task_id, code, file is not None, lock=False)
            if isinstance(found, TaskResult):
                return found
        examined = None
        if file is not None:
            try:
                # Unpacking an archive's directory: off the event loop. Nothing is written yet.
                examined = await asyncio.to_thread(
                    self._files.examine, file[0], file[1], DELIVERABLE_SUFFIXES
                )
            except FileRejected as exc:
                log.info("task deliverable rejected: %s", exc.code)
                return TaskResult(TaskStep.REJECTED, reject=exc.code)
        if examined is None or file is None:
            return await self._record(office, task_id, code, value, file, None)
        # Its bytes written beside the store before the recording transaction (which holds
        # SQLite's only write lock); put in place only with the row that names it, and
        # discarded if refused, or failed before it was put in place.
        async with self._files.staged(examined, file[1]) as staged:
            return await self._record(office, task_id, code, value, file, staged)

    async def _record(
        self,
        office: OfficeActor,
        task_id: int,
        code: str,
        value: str,
        file: tuple[str, bytes] | None,
        staged: StagedFile | None,
    ) -> TaskResult:
        """:meth:`record_for`'s recording transaction (``staged``: its file, staged)."""
        examined = staged.examined if staged is not None else None
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            # A second submit of the same form (or two clerks at once) takes its turn here on
            # PostgreSQL, and then finds the report recorded (ALREADY_RECORDED). Her files are
            # counted again under the lock: one she sent after :meth:`record_for`'s look may
            # have taken the last place, and a record made without the office's file would not
            # say so (TOO_MANY_FILES).
            found = await self._assignment_of(session, task_id, code, file is not None, lock=True)
            if isinstance(found, TaskResult):
                return found
            task, assignment, person = found
            self._record_audit(
                session, office, "task.recorded", task, assignment, person,
                at=now, status=TaskStatus.DONE, note=value or None,
            )  # fmt: skip
            assignment.status, assignment.note = TaskStatus.DONE, value or None
            evidence_id = None
            if examined is not None and file is not None:
                same = await session.scalar(
                    select(TaskEvidence.id)
                    .where(
                        TaskEvidence.assignment_id == assignment.id,
                        TaskEvidence.sha256 == examined.sha256,
                    )
                    .limit(1)
                )
                if same is None and staged is not None:
                    evidence = self._add_evidence(
                        session,
                        office,
                        assignment,
                        kind="file",
                        name=file[0][:300],
                        size=examined.size,
                        sha256=examined.sha256,
                    )
                    await session.flush()
                    evidence_id = evidence.id
                    # In place now that a row names it (a rename: quick under the write lock);
                    # a record refused above, or the same file kept, leaves no blob behind.
                    await self._files.publish_in(session, staged)
            assignment.updated_at, assignment.updated_by = now, office.actor
            return TaskResult(
                TaskStep.RECORDED_FOR,
                await self._line(session, task),
                TaskStatus.DONE,
                evidence_id=evidence_id,
                name=person.full_name,
            )

    async def undo_record(self, office: OfficeActor, task_id: int, code: str) -> TaskResult:
        """Undo the office's :meth:`record_for` of the person with ``code`` (recorded for the
        wrong person, or too soon): her report goes back to what it was before (status, note,
        when and by whom last reported, «chưa báo cáo» if never), the file recorded with it
        is taken off the task, and her reminders resume. As the desk's undo of a check-in is
        for the office at any time, so is this, as long as the office's record is the last
        word on her report (NOTHING_TO_UNDO once she reported again herself, or it was
        undone): files she sent since are hers, and stay. Audited as ``task.record_undone``;
        she is not messaged. The recorded file's blob leaves the store with its row, unless
        another row names the same bytes (:meth:`_remove_blobs`, after the commit)."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._assignment_by_code(session, task_id, code, lock=True)
            if isinstance(found, TaskResult):
                return found
            task, assignment, person = found
            # The office's record is her report's newest change while it stands (her files
            # since are not one, :meth:`_add_evidence`); her newest own report or file besides
            # is what her report goes back to. Hers alone are read, not the whole task's.
            record = await session.scalar(_newest(task.id, person.id, _CHANGES))
            if (
                record is None
                or record.action != "task.recorded"
                or assignment.status != TaskStatus.DONE
                or not _by_office(assignment.updated_by)
            ):
                line = await self._line(session, task)
                return TaskResult(TaskStep.NOTHING_TO_UNDO, line, name=person.full_name)
            before = record.before or {}
            status = TaskStatus(before.get("status") or TaskStatus.TODO)
            note = before.get("note")
            earlier = await session.scalar(_newest(task.id, person.id, _HER_OWN))
            files = list(
                await session.scalars(
                    select(TaskEvidence).where(
                        TaskEvidence.assignment_id == assignment.id,
                        TaskEvidence.channel == DASHBOARD,
                        TaskEvidence.created_at >= record.at,
                    )
                )
            )
            self._record_audit(
                session, office, "task.record_undone", task, assignment, person,
                at=now, status=status, note=note, files=[f.name for f in files],
            )  # fmt: skip
            for evidence in files:
                await session.delete(evidence)
            assignment.status, assignment.note = status, note
            assignment.updated_at = earlier.at if earlier is not None else None
            assignment.updated_by = earlier.actor if earlier is not None else None
            await session.flush()
            # The store is content-addressed: her own file, a draft, another person's file may
            # be the same bytes. A blob is removed only once no row names it.
            digests = {f.sha256 for f in files if f.sha256 is not None}
            unnamed = digests - await queries.blobs_named(session, digests)
            result = TaskResult(
                TaskStep.RECORD_UNDONE, await self._line(session, task), status,
                name=person.full_name,
            )  # fmt: skip
        # Only after the commit: a failed one leaves the rows, which still name their blobs.
        await self._remove_blobs(unnamed)
        return result

    async def _remove_blobs(self, digests: set[str]) -> None:
        """Remove from the store the blobs of ``digests`` that no row names, looked at again
        in a transaction of their own that holds them (:func:`storage.sharing.blobs_in_turn`):
        an upload publishing the same bytes (a draft's version, a file of hers, another
        record's; found in place, so not written again) holds them too until its row is
        committed, so no upload's blob is removed under it — its row is seen, or it finds the
        blob gone and writes it again. A blob that cannot be removed, or looked at, is logged
        and left: the undo stands, and an unnamed blob harms nothing."""
        if not digests:
            return
        try:
            async with unit_of_work(self._ctx.sessions) as session:
                await blobs_in_turn(session, digests)
                for digest in sorted(digests - await queries.blobs_named(session, digests)):
                    path = self._files.path_for(digest)
                    await asyncio.to_thread(path.unlink, missing_ok=True)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("a task file's blob was left in the store: %s", type(exc).__name__)

    async def _assignment_of(
        self, session: AsyncSession, task_id: int, code: str, with_file: bool, *, lock: bool
    ) -> tuple[Task, TaskAssignment, Delegate] | TaskResult:
        """The live, open task's assignment of the person with ``code`` for the office to
        record a report on, or why there is none to record (as :meth:`_assignment_by_code`;
        ALREADY_DONE: reported already; TOO_MANY_FILES: ``with_file`` and her files are at the
        most); ``lock`` as :meth:`_assignment`'s, and then all of it is judged under the lock."""
        found = await self._assignment_by_code(session, task_id, code, lock=lock)
        if isinstance(found, TaskResult):
            return found
        task, assignment, person = found
        if assignment.status == TaskStatus.DONE:
            return await self._already_done(session, task, assignment, person)
        if with_file and await _files_full(session, assignment):
            line = await self._line(session, task)
            return TaskResult(TaskStep.TOO_MANY_FILES, line, name=person.full_name)
        return task, assignment, person

    async def _assignment_by_code(
        self, session: AsyncSession, task_id: int, code: str, *, lock: bool
    ) -> tuple[Task, TaskAssignment, Delegate] | TaskResult:
        """The live, open task's assignment of the person with ``code`` (as the task's page
        wrote it, or typed in another case or Unicode form: found as
        :func:`storage.queries.code_match` finds every typed code), or why there is none for
        the office to act on (GONE, NOT_ASSIGNED, CLOSED); ``lock`` as :meth:`_assignment`'s."""
        task = await self._live_task(session, task_id)
        if task is None:
            return TaskResult(TaskStep.GONE)
        # Among the task's people, as every typed code is found (two whose codes fold alike
        # come from no list).
        query = queries.code_match(
            select(TaskAssignment, Delegate)
            .join(Delegate, Delegate.id == TaskAssignment.person_id)
            .where(TaskAssignment.task_id == task.id),
            code,
        )
        if lock:
            query = queries.locked(query, of=TaskAssignment)
        found = (await session.execute(query)).first()
        if found is None:
            return TaskResult(TaskStep.NOT_ASSIGNED, await self._line(session, task))
        assignment, person = found
        if task.closed_at is not None:
            return TaskResult(TaskStep.CLOSED, await self._line(session, task))
        return task, assignment, person

    def _record_audit(
        self,
        session: AsyncSession,
        office: OfficeActor,
        action: str,
        task: Task,
        assignment: TaskAssignment,
        person: Delegate,
        *,
        at: datetime,
        status: TaskStatus,
        note: str | None,
        files: list[str] | None = None,
    ) -> None:
        """The audit row of the office's record of ``person``'s report (``task.recorded``), or
        of its undoing (``task.record_undone``, with the ``files`` it takes off the task): her
        report before and after, the staff member's name and hers."""
        before: dict[str, Any] = {
            "person_id": person.id,
            "status": assignment.status,
            "note": assignment.note,
        }
        if files is not None:
            before["files"] = ", ".join(files) or None
        queries.add_audit(
            session,
            at=at,
            actor=office.actor,
            action=action,
            entity="task",
            entity_id=task.id,
            before=before,
            after={
                "person_id": person.id,
                "status": str(status),
                "note": note,
                "by": office.name,
                "name": person.full_name,
            },
        )

    async def _already_done(
        self, session: AsyncSession, task: Task, assignment: TaskAssignment, person: Delegate
    ) -> TaskResult:
        """Why the office cannot record a report of ``person``'s: she reported it done herself
        (ALREADY_DONE), or the office recorded it (ALREADY_RECORDED, with when and by whom)."""
        line = await self._line(session, task)
        mine = next((a for a in line.assignments if a.code == person.code), None)
        step = (
            TaskStep.ALREADY_RECORDED
            if _by_office(assignment.updated_by)
            else TaskStep.ALREADY_DONE
        )
        return TaskResult(step, line, name=person.full_name, person=mine)

    async def evidence_file(
        self, evidence_id: int, task_id: int | None = None
    ) -> EvidenceFile | None:
        """A deliverable file, for the office to open (None for a link, or none such); with
        ``task_id``, only one sent for that task."""
        async with unit_of_work(self._ctx.sessions) as session:
            evidence = await session.get(TaskEvidence, evidence_id)
            if evidence is not None and task_id is not None:
                owner = await session.scalar(
                    select(TaskAssignment.task_id).where(
                        TaskAssignment.id == evidence.assignment_id
                    )
                )
                evidence = evidence if owner == task_id else None
        if evidence is None or evidence.kind != "file":
            return None
        return EvidenceFile(
            id=evidence.id,
            name=evidence.name,
            channel=evidence.channel,
            file_ref=evidence.file_ref,
            path=self._files.path_for(evidence.sha256) if evidence.sha256 else None,
            size=evidence.size,
        )

    # --- helpers ---------------------------------------------------------------------------------

    async def _live_task(self, session: AsyncSession, task_id: int) -> Task | None:
        task = await session.get(Task, task_id)
        if task is None or task.meeting_id != self._ctx.meeting_id or task.archived_at is not None:
            return None
        return task

    async def _assignment(
        self, session: AsyncSession, account: ChatAccount, task_id: int, *, lock: bool
    ) -> tuple[ChannelIdentity, Task, TaskAssignment] | TaskResult:
        """The live, open task's assignment of ``account``'s person, or why there is none
        (NOT_LINKED, GONE, NOT_ASSIGNED, CLOSED). ``lock`` (required, so that no path that
        writes reads without it): her row locked for the caller's change (on PostgreSQL;
        SQLite's writers take turns anyway) and read as it now is — a change committed a moment
        ago (the office's record of her report, another file of hers) is what the caller then
        counts and judges by, not a stale copy: her file sent while the office recorded her
        report would otherwise make the office's record hers, and a file counted before the
        office's filed record would pass the cap. False only for a look that writes nothing."""
        ident = await queries.identity(
            session, self._ctx.meeting_id, account.channel, account.external_id
        )
        if ident is None:
            return TaskResult(TaskStep.NOT_LINKED)
        task = await self._live_task(session, task_id)
        if task is None:
            return TaskResult(TaskStep.GONE)
        query = select(TaskAssignment).where(
            TaskAssignment.task_id == task.id, TaskAssignment.person_id == ident.delegate_id
        )
        assignment = await session.scalar(queries.locked(query) if lock else query)
        if assignment is None:  # another unit's task, or forged button data
            return TaskResult(TaskStep.NOT_ASSIGNED)
        if task.closed_at is not None:
            return TaskResult(TaskStep.CLOSED, await self._line(session, task))
        return ident, task, assignment

    def _set_status(
        self,
        session: AsyncSession,
        account: ChatAccount,
        task: Task,
        assignment: TaskAssignment,
        status: TaskStatus,
        note: str | None,
    ) -> bool:
        """The one place an assignment's status changes; audited; False if nothing changed."""
        if assignment.status == status and assignment.note == note:
            return False
        now = self._ctx.clock.now()
        queries.add_audit(
            session,
            at=now,
            actor=account.actor,
            action="task.status",
            entity="task",
            entity_id=task.id,
            before={
                "person_id": assignment.person_id,
                "status": assignment.status,
                "note": assignment.note,
            },
            after={"person_id": assignment.person_id, "status": str(status), "note": note},
        )
        assignment.status, assignment.note = status, note
        assignment.updated_at, assignment.updated_by = now, account.actor
        return True

    def _add_evidence(
        self,
        session: AsyncSession,
        account: ChatAccount | OfficeActor,
        assignment: TaskAssignment,
        **values: Any,
    ) -> TaskEvidence:
        """Keep a deliverable of ``assignment``'s person, sent by her (``account``) or handed to
        the office and recorded by a staff member (an :class:`OfficeActor`); audited. Her file
        is her last report, unless the office's record of her report stands: that stays the
        office's (see below)."""
        now = self._ctx.clock.now()
        channel = account.channel if isinstance(account, ChatAccount) else DASHBOARD
        queries.add_audit(
            session,
            at=now,
            actor=account.actor,
            action="task.evidence",
            entity="task",
            entity_id=assignment.task_id,
            before=None,
            after={
                "person_id": assignment.person_id,
                "kind": values.get("kind"),
                "name": values.get("name"),
            },
        )
        evidence = TaskEvidence(
            assignment_id=assignment.id,
            channel=channel,
            created_at=now,
            created_by=account.actor,
            **values,
        )
        session.add(evidence)
        if isinstance(account, OfficeActor) or not _by_office(assignment.updated_by):
            assignment.updated_at, assignment.updated_by = now, account.actor
        # else her file beside the office's record of her report (:meth:`record_for`): the file
        # is hers (its row names her and its time), the report stays the office's. Made hers,
        # the record's note (how the report came, «qua điện thoại») read as a note she wrote,
        # and the record could no longer be undone although every board still showed it.
        return evidence

    async def _office_note(
        self,
        session: AsyncSession,
        template: str,
        task: Task,
        person_id: int,
        *,
        note: str,
        evidence_id: int | None = None,
    ) -> None:
        """Queue a note to the office (sent by the outbox at its next tick); with
        ``evidence_id``, a stored deliverable the outbox attaches to it."""
        person = await session.get_one(Delegate, person_id)
        values = {
            "key": task.key,
            "title": task.title,
            "name": person.full_name,
            "organization": person.organization,
            "note": note,
        }
        params: dict[str, Any] = {"template": template, "values": values}
        if evidence_id is not None:
            params["evidence_id"] = evidence_id
        queue_office_note(
            session,
            meeting_id=self._ctx.meeting_id,
            now=self._ctx.clock.now(),
            body=None,
            params=params,
        )

    async def _line(self, session: AsyncSession, task: Task) -> TaskLine:
        return (await self._lines(session, {task.id}))[0]

    async def _lines(
        self,
        session: AsyncSession,
        task_ids: set[int] | None,
        *,
        window: tuple[int, int] | None = None,
        done: dict[int, bool] | None = None,
    ) -> list[TaskLine]:
        """The tasks' lines, every person on them; ``window`` (start, how many) reads only
        those of one task's people, ``done`` then saying whether each task is done by all."""
        now = self._ctx.clock.now()
        query = select(Task).where(
            Task.meeting_id == self._ctx.meeting_id, Task.archived_at.is_(None)
        )
        if task_ids is not None:
            query = query.where(Task.id.in_(task_ids))
        tasks = list(await session.scalars(query))
        ids = [t.id for t in tasks]
        # Plain columns, not ORM objects: the board reads every assignment (thousands at
        # 10,000 delegates, a group task has one per district chair), grouped once by task.
        read = await session.execute(
            select(
                TaskAssignment.task_id, Delegate.code, Delegate.full_name, Delegate.organization,
                TaskAssignment.status, TaskAssignment.note, TaskAssignment.updated_at,
                TaskAssignment.updated_by,
                # How the office gets word to her, by the lists' one rule: a test, not a join
                # (a join listed someone with accounts on two chats twice, and a page by offset
                # would count them twice).
                roster.contact(self._ctx.chats.names, day_begun=self._ctx.day_begun()),
            )
            .join(Delegate, Delegate.id == TaskAssignment.person_id)
            .where(TaskAssignment.task_id.in_(ids))
            .order_by(Delegate.rank, Delegate.code)
            .offset(window[0] if window else None)
            .limit(window[1] if window else None)
        )  # fmt: skip
        people: dict[int, list[AssignmentLine]] = {task_id: [] for task_id in ids}
        statuses = {status.value: status for status in TaskStatus}
        rows = read.all()
        # A report the office recorded for its assignee (:meth:`record_for`) was last changed
        # by a dashboard session: its staff member is named (by her code, if no longer listed).
        office = {row.updated_by for row in rows if _by_office(row.updated_by)}
        staff = await queries.people_behind(session, self._ctx.meeting_id, office)
        for (
            task_id, code, full_name, organization, status, note, updated_at, updated_by,
            contact,
        ) in rows:  # fmt: skip
            recorded_by = None
            if updated_by is not None and _by_office(updated_by):
                behind = staff.get(updated_by)
                recorded_by = behind[0] if behind else updated_by.partition(":")[2]
            people[task_id].append(
                AssignmentLine(
                    code,
                    full_name,
                    organization,
                    statuses[status],
                    note,
                    updated_at,
                    Contact(contact),
                    recorded_by,
                )
            )
        evidence = await session.execute(
            select(
                TaskEvidence.id, TaskEvidence.kind, TaskEvidence.name, TaskEvidence.url,
                TaskEvidence.sha256, TaskAssignment.task_id, Delegate.full_name, Delegate.code,
                TaskEvidence.channel,
            )
            .join(TaskAssignment, TaskAssignment.id == TaskEvidence.assignment_id)
            .join(Delegate, Delegate.id == TaskAssignment.person_id)
            .where(TaskAssignment.task_id.in_(ids))
            .order_by(TaskEvidence.id)
        )  # fmt: skip
        files: dict[int, list[EvidenceLine]] = {task_id: [] for task_id in ids}
        for evidence_id, kind, name, url, sha256, task_id, by, code, channel in evidence:
            files[task_id].append(
                EvidenceLine(
                    evidence_id, kind, name, url, by, sha256 is not None, code,
                    by_office=channel == DASHBOARD,
                )
            )  # fmt: skip
        lines = []
        for task in tasks:
            assignments = people[task.id]
            everyone_done = (
                done.get(task.id, False)
                if done is not None
                else bool(assignments) and all(a.status is TaskStatus.DONE for a in assignments)
            )
            lines.append(
                TaskLine(
                    id=task.id,
                    key=task.key,
                    title=task.title,
                    description=task.description,
                    owner=task.owner,
                    deliverable=task.deliverable,
                    deadline_at=task.deadline_at,
                    overdue=is_overdue(
                        task.deadline_at, now, done=everyone_done, closed=task.closed_at is not None
                    ),
                    closed=task.closed_at is not None,
                    assignments=assignments,
                    evidence=files[task.id],
                )
            )
        lines.sort(key=lambda line: (not line.overdue, line.deadline_at, line.key))
        return lines


async def _files_full(session: AsyncSession, assignment: TaskAssignment) -> bool:
    """Whether ``assignment``'s person has sent :data:`MAX_TASK_FILES` files for it already."""
    sent = await session.scalar(
        select(func.count())
        .select_from(TaskEvidence)
        .where(TaskEvidence.assignment_id == assignment.id, TaskEvidence.kind == "file")
    )
    return int(sent or 0) >= MAX_TASK_FILES


# The audited changes of a person's report on a task (hers, and the office's for her), and
# hers alone: a report of hers, or a file of hers.
_CHANGES = ("task.status", "task.recorded", "task.record_undone")
_HER_OWN = ("task.status", "task.evidence")


def _newest(task_id: int, person_id: int, actions: tuple[str, ...]) -> Select[AuditEntry]:
    """The newest audit entry of ``actions`` about the person's report on the task (a file
    kept with the office's record is that record's, not hers)."""
    return (
        select(AuditEntry)
        .where(
            AuditEntry.entity == "task",
            AuditEntry.entity_id == task_id,
            AuditEntry.action.in_(actions),
            AuditEntry.after["person_id"].as_integer() == person_id,
            or_(
                AuditEntry.action != "task.evidence",
                ~AuditEntry.actor.startswith(f"{DASHBOARD}:", autoescape=True),
            ),
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )


def _by_office(updated_by: str | None) -> bool:
    """Whether an assignment was last changed on the dashboard: the office recorded its
    report (:meth:`TaskService.record_for`), since an assignee reports from a chat or a page."""
    return updated_by is not None and updated_by.startswith(f"{DASHBOARD}:")
