"""Who speaks on which theme: the plan's speakers synced, and the office's own assignments."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.drafts import OWN_DEADLINE, DraftStatus
from bot.domain.outbound import MessageKind
from bot.domain.reminders import DRAFT_KINDS, planned_messages
from bot.services.access import OfficeActor
from bot.services.drafts.shared import DraftUseCase
from bot.services.drafts.values import AssignOutcome, AssignResult, DraftSync
from bot.services.meetings import own_deadline_assignments
from bot.services.queueing import queue_to_person
from schedules.planner import sync_planned
from storage import queries
from storage.models import (
    ChannelIdentity,
    Delegate,
    DraftVersion,
    SpeechAssignment,
)
from storage.sharing import PLAN_LOCK_KEY, one_at_a_time
from storage.uow import unit_of_work

# The feature's one logger, named as before the drafts became a package.
log = logging.getLogger(__package__)


class Assignments(DraftUseCase):
    """The plan's assignments kept in line with the config; the office assigns and withdraws."""

    async def sync(self) -> DraftSync:
        """Bring the plan's assignments in line with the config.

        Assignments the office added with a command stay; one the plan dropped is removed only if
        nothing was sent for it yet. A new assignment tells a linked speaker their theme and
        deadline at once; the others see it when they open their personal link.
        """
        async with unit_of_work(self._ctx.sessions) as session:
            return await self.sync_in(session)

    async def sync_in(self, session: AsyncSession) -> DraftSync:
        """:meth:`sync` in the caller's transaction: an import assigns the themes to the
        speakers it brings in the same commit, so no tick ever sees the list without them."""
        config, now = self._ctx.config, self._ctx.clock.now()
        created = removed = 0
        unknown: list[str] = []
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
                select(SpeechAssignment).where(SpeechAssignment.meeting_id == self._ctx.meeting_id)
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
            # The plan moved the deadline (not one the office gave the speaker itself).
            if row.source != OWN_DEADLINE and row.deadline_at != deadline:
                row.deadline_at, row.updated_at = deadline, now
        if unknown and people:  # before any list every speaker is unknown: nothing to name
            # A note, not a warning: the report carries them to the caller, who tells the office.
            log.info("speakers not in the imported list: %s", ", ".join(sorted(set(unknown))))
        return DraftSync(created, removed, sorted(set(unknown)))

    async def own_deadlines(self) -> dict[datetime, datetime]:
        """The deadlines the office gave speakers of their own (assignments in force), each with
        the earliest time one of them was assigned (:func:`own_deadline_assignments`): her
        reminders and the office's missing list are planned at each, as at the plan's
        (:func:`bot.domain.reminders.planned_messages`)."""
        own = own_deadline_assignments(self._ctx.meeting_id)
        async with unit_of_work(self._ctx.sessions) as session:
            rows = await session.execute(
                select(own.c.deadline_at, func.min(own.c.assigned_at)).group_by(own.c.deadline_at)
            )
            return {deadline: since for deadline, since in rows}

    async def plan_reminders(self) -> None:
        """Plan the draft reminders and missing lists again, at the plan's deadlines and the
        speakers' own: after an assignment is made or withdrawn, as the scheduler does at start
        for the whole plan. One process plans at a time (PostgreSQL)."""
        async with one_at_a_time(self._ctx.sessions, PLAN_LOCK_KEY):
            own = await self.own_deadlines()
            planned = planned_messages(self._ctx.config, own)
            await sync_planned(
                self._ctx.sessions,
                self._ctx.clock,
                self._ctx.meeting_id,
                [item for item in planned if item.kind in DRAFT_KINDS],
                kinds=DRAFT_KINDS,
            )

    async def _replan(self, after: str) -> None:
        """Plan the draft reminders again after an assignment change, which has committed and
        may have told the speaker already: a failure here is logged, not the change's answer
        (the reminders are planned again at the next start)."""
        try:
            await self.plan_reminders()
        except Exception as exc:  # the change is made: the start plans again
            log.error(
                "draft reminders not re-planned after a speaker's %s (%s); they are planned"
                " again at the next start",
                after,
                type(exc).__name__,
            )

    async def assign(
        self,
        office: OfficeActor,
        code: str,
        theme_key: str,
        deadline: datetime | None = None,
    ) -> AssignResult:
        """The office asks a person on the list to speak on a theme (not one whose invitation
        was withdrawn), by ``deadline`` if given, else by the plan's deadline for the theme. A
        deadline already past is refused: the plan's (the office gives one of its own) or the
        one given; so is one given at or after the meeting's start."""
        try:
            result = await self._assign(office, code, theme_key, deadline)
        except IntegrityError:
            # Two first assignments of one person to one theme at once, in two processes on
            # PostgreSQL: neither found a row to lock, and the second insert met the first's
            # unique key. Read again: the first one's assignment is there, answered as a repeat.
            result = await self._assign(office, code, theme_key, deadline)
        if result.outcome is AssignOutcome.ASSIGNED:
            await self._replan("assignment")
        return result

    async def _assign(
        self,
        office: OfficeActor,
        code: str,
        theme_key: str,
        deadline: datetime | None,
    ) -> AssignResult:
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._target(session, code, theme_key)
            if isinstance(found, AssignResult):
                return found
            person, row = found
            if row is not None and row.withdrawn_at is None:
                return AssignResult(AssignOutcome.ALREADY, await self._line(session, row.id))
            if person.withdrawn_at is not None:
                # Out of every reminder and audience: a speech asked of them would never be
                # chased, nor its deadline seen. The office re-invites first, if it means to.
                who = (person.full_name, person.code)
                return AssignResult(AssignOutcome.WITHDRAWN, person=who)
            key = self._theme_key(theme_key)
            due = deadline or self._ctx.config.draft_deadline(key)
            # Assigned again after sending versions, she is not chased: the plan's date stands.
            restored = row is not None and await self._has_versions(session, row.id)
            if due <= now and (deadline is not None or not restored):
                outcome = AssignOutcome.DEADLINE_NEEDED if deadline is None else (
                    AssignOutcome.DEADLINE_PAST
                )  # fmt: skip
                who = (person.full_name, person.code)
                return AssignResult(outcome, person=who, deadline=due)
            if deadline is not None and deadline >= self._ctx.config.meeting.starts_at:
                who = (person.full_name, person.code)
                return AssignResult(AssignOutcome.DEADLINE_AFTER_START, person=who, deadline=due)
            source = "office" if deadline is None else OWN_DEADLINE
            if row is not None:  # withdrawn earlier: assigned again, its versions back
                row.withdrawn_at, row.source, row.updated_at = None, source, now
                row.deadline_at = due
                await self._announce(session, row, office.actor, now)
            else:
                row = await self._add_assignment(
                    session, key, person.id, source, office.actor, now, due
                )
            return AssignResult(AssignOutcome.ASSIGNED, await self._line(session, row.id))

    async def unassign(self, office: OfficeActor, code: str, theme_key: str) -> AssignResult:
        """The office withdraws an assignment: no more reminders, out of the counts and the
        speaker's uploads. Nothing is lost: the versions sent and the thread are kept, shown
        apart on the board, and come back if the same person is assigned the theme again."""
        result = await self._unassign(office, code, theme_key)
        if result.outcome is AssignOutcome.REMOVED:
            await self._replan("withdrawal")
        return result

    async def _unassign(self, office: OfficeActor, code: str, theme_key: str) -> AssignResult:
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._target(session, code, theme_key)
            if isinstance(found, AssignResult):
                return found
            person, row = found
            if row is None or row.withdrawn_at is not None:
                who = (person.full_name, person.code)  # as stored, however typed
                outcome = AssignOutcome.NOT_ASSIGNED if row is None else (
                    AssignOutcome.ALREADY_REMOVED
                )  # fmt: skip
                return AssignResult(outcome, person=who)
            line = await self._line(session, row.id)
            now = self._ctx.clock.now()
            queries.add_audit(
                session,
                at=now,
                actor=office.actor,
                action="draft.unassigned",
                entity="speech_assignment",
                entity_id=row.id,
                before={"theme": row.theme_key, "person_id": row.person_id},
                after={"versions_kept": line.versions} if line.versions else None,
            )
            row.withdrawn_at, row.updated_at = now, now
            return AssignResult(AssignOutcome.REMOVED, line)

    async def _target(
        self, session: AsyncSession, code: str, theme_key: str
    ) -> tuple[Delegate, SpeechAssignment | None] | AssignResult:
        """The person and their assignment (if any) an office command names, or why not; the
        assignment's row locked (PostgreSQL), so an upload being recorded for it commits first
        and is counted, and one that comes after finds it as this transaction leaves it."""
        if self._theme(theme_key) is None:
            return AssignResult(AssignOutcome.UNKNOWN_THEME)
        person = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
        if person is None:
            return AssignResult(AssignOutcome.UNKNOWN_PERSON)
        key = self._theme_key(theme_key)
        return person, await self._assignment_of(session, key, person.id)

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
        """The person's assignment to the theme, its row locked and read as it is once locked
        (:func:`storage.queries.locked`)."""
        return await session.scalar(
            queries.locked(
                select(SpeechAssignment).where(
                    SpeechAssignment.meeting_id == self._ctx.meeting_id,
                    SpeechAssignment.theme_key == theme_key,
                    SpeechAssignment.person_id == person_id,
                )
            )
        )

    async def _has_versions(self, session: AsyncSession, assignment_id: int) -> bool:
        found = await session.scalar(
            select(DraftVersion.id).where(DraftVersion.assignment_id == assignment_id).limit(1)
        )
        return found is not None

    async def _add_assignment(
        self,
        session: AsyncSession,
        theme_key: str,
        person_id: int,
        source: str,
        actor: str,
        now: datetime,
        deadline: datetime | None = None,
    ) -> SpeechAssignment:
        row = SpeechAssignment(
            meeting_id=self._ctx.meeting_id,
            theme_key=theme_key,
            person_id=person_id,
            source=source,
            deadline_at=deadline or self._ctx.config.draft_deadline(theme_key),
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
            after={
                "theme": row.theme_key,
                "person_id": row.person_id,
                "source": row.source,
                "deadline_at": row.deadline_at.isoformat(),  # the log says until when
            },
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
