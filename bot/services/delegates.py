"""Importing the office's delegate list."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.delegate_file import DelegateRow
from bot.domain.phones import mask_phone
from bot.domain.rsvp import RsvpStatus
from bot.domain.tokens import new_token
from bot.services.context import ServiceContext
from storage import queries
from storage.models import Delegate, Invitation, Rsvp
from storage.uow import unit_of_work

_FIELDS = ("full_name", "position", "organization", "group_key", "phone", "rank", "role")


@dataclass(frozen=True)
class Absent:
    """Someone the database holds whom the imported file no longer lists."""

    code: str
    full_name: str
    position: str
    organization: str
    group_key: str


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed."""

    created: int
    updated: int
    unchanged: int
    absent: list[str]  # codes in the database that the file no longer lists (kept, not deleted)
    role_kept: list[str] = field(default_factory=list)  # listed with another role: unchanged
    absent_people: list[Absent] = field(default_factory=list)  # the absent, by code


def _values(delegate: Delegate | DelegateRow) -> dict[str, Any]:
    return {name: getattr(delegate, name) for name in _FIELDS}


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    if values["phone"]:
        values = {**values, "phone": mask_phone(values["phone"])}  # the audit log is no phone book
    return values


class DelegateService:
    """Creates and updates delegates from a parsed list."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def import_rows(self, rows: list[DelegateRow], *, actor: str) -> ImportSummary:
        """Upsert delegates by code; new ones get an invitation and an empty answer."""
        now = self._ctx.clock.now()
        created = updated = unchanged = 0
        role_kept: list[str] = []
        async with unit_of_work(self._ctx.sessions) as session:
            # Codes are compared without case, as the file parser does: "db001" is DB001.
            existing = await queries.delegates_by_code(session, self._ctx.meeting_id)
            for row in rows:
                delegate = existing.get(queries.fold_code(row.code))
                if delegate is None:
                    delegate = Delegate(
                        meeting_id=self._ctx.meeting_id,
                        code=row.code,
                        created_at=now,
                        updated_at=now,
                        **{name: getattr(row, name) for name in _FIELDS},
                    )
                    session.add(delegate)
                    await session.flush()
                    session.add(
                        Invitation(delegate_id=delegate.id, token=new_token(), created_at=now)
                    )
                    session.add(
                        Rsvp(delegate_id=delegate.id, status=RsvpStatus.NO_ANSWER, updated_at=now)
                    )
                    queries.add_audit(
                        session,
                        at=now,
                        actor=actor,
                        action="delegate.created",
                        entity="delegate",
                        entity_id=delegate.id,
                        before=None,
                        after={"code": row.code, **_audited(_values(row))},
                    )
                    created += 1
                    continue
                if row.role != delegate.role:
                    # A contacts file must not turn a delegate into a contact (they would drop
                    # out of the RSVP figures); a delegate can be a task contact by their code.
                    role_kept.append(delegate.code)
                    row = replace(row, role=delegate.role)
                before, after = _values(delegate), _values(row)
                if before == after:
                    unchanged += 1
                    continue
                for name in _FIELDS:
                    setattr(delegate, name, getattr(row, name))
                delegate.updated_at = now
                queries.add_audit(
                    session,
                    at=now,
                    actor=actor,
                    action="delegate.updated",
                    entity="delegate",
                    entity_id=delegate.id,
                    before=_audited(before),
                    after=_audited(after),
                )
                updated += 1
        # A contacts file says nothing about delegates, and the other way round.
        listed = {queries.fold_code(row.code) for row in rows}
        roles = {row.role for row in rows}
        absent = sorted(
            (d for key, d in existing.items() if key not in listed and d.role in roles),
            key=lambda d: d.code,
        )
        return ImportSummary(
            created=created,
            updated=updated,
            unchanged=unchanged,
            absent=[d.code for d in absent],
            role_kept=role_kept,
            absent_people=[
                Absent(d.code, d.full_name, d.position, d.organization, d.group_key) for d in absent
            ],
        )
