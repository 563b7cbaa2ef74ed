"""The office's verdict on a draft: the version it looked at is final, or needs revision."""

from __future__ import annotations

from bot.domain.drafts import DraftStatus
from bot.domain.outbound import MessageKind
from bot.services.access import OfficeActor
from bot.services.drafts.lines import version_line
from bot.services.drafts.shared import DraftUseCase
from bot.services.drafts.values import DraftResult, DraftStep
from bot.services.queueing import queue_to_person
from storage import queries
from storage.models import DraftVersion
from storage.uow import unit_of_work


class Verdicts(DraftUseCase):
    """The office's verdict, told to the speaker; a stale choice changes nothing."""

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
                    version=version_line(version),
                    newer=latest,
                )
            if row.status == status:
                return DraftResult(
                    DraftStep.UNCHANGED,
                    draft=await self._line(session, row.id),
                    version=version_line(version),
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
                version=version_line(version),
            )
