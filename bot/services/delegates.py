"""Importing the office's delegate list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

from bot.delegate_file import ROLE_CONTACT, DelegateRow
from bot.domain.outbound import MessageKind
from bot.domain.phones import mask_phone
from bot.domain.rsvp import RsvpStatus
from bot.domain.tokens import new_link_code, new_token
from bot.domain.typed import fold, in_title_case, written_in_capitals
from bot.services.context import ServiceContext
from bot.services.drafts import DraftService
from bot.services.queueing import queue_to_person
from bot.services.tasks import TaskService
from storage import queries
from storage.models import ChannelIdentity, Delegate, Invitation, Meeting, Rsvp
from storage.uow import unit_of_work

# The tables a new person's rows go to as plain rows (see DelegateService.import_rows).
DELEGATE_TABLE: Table = Delegate.__table__  # type: ignore[assignment]
INVITATION_TABLE: Table = Invitation.__table__  # type: ignore[assignment]
RSVP_TABLE: Table = Rsvp.__table__  # type: ignore[assignment]
# ``linked_via`` of an account carried from an earlier meeting at import.
CARRIED = "carried"
_FIELDS = ("full_name", "position", "organization", "group_key", "phone", "rank", "role")


def searchable(code: str, full_name: str, organization: str, position: str) -> str:
    """What the dashboard's search looks in for a person (``delegates.search_text``): their
    code, name, unit and position folded as a phone types them ("nguyen thi ha")."""
    return fold(f"{code} {full_name} {organization} {position}")


@event.listens_for(Delegate, "before_insert")
@event.listens_for(Delegate, "before_update")
def _keep_searchable(mapper: Mapper[Delegate], connection: Any, person: Delegate) -> None:
    """Every person written through the ORM (an import's changes, a test's new person) keeps
    the folded text the search reads in step with their name; the plain rows an import adds
    carry theirs (:meth:`DelegateService.import_rows`)."""
    person.search_text = searchable(
        person.code, person.full_name, person.organization, person.position
    )


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
    created_codes: list[str] = field(default_factory=list)  # the new people, in the file's order
    # The people changed, by code: the names of the fields that change.
    changed: dict[str, list[str]] = field(default_factory=dict)
    # The same, with each field's value before and after, for the office to check before it
    # applies the list (the preview's «DB003: chức vụ: … → …»); never audited nor logged.
    changes: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=dict)
    # People given the chat accounts they linked in an earlier meeting of the database (found
    # by their phone number): their codes, one per account carried.
    carried: list[str] = field(default_factory=list)
    # Fields the file had no column for, and how many people already there kept a value in
    # each (rather than have it emptied); only fields someone kept.
    kept: dict[str, int] = field(default_factory=dict)
    # The plan's task contacts and speakers the list (with those before it) does not name:
    # the tasks and the speeches are matched to the people in the import's own transaction.
    unknown_contacts: list[str] = field(default_factory=list)
    unknown_speakers: list[str] = field(default_factory=list)
    # The people already there whose name and phone the list both changes (another person
    # under the code), by code, with the name before and after; and how many people the
    # meeting had before the import (:func:`replaces_many`).
    replaced: dict[str, tuple[str, str]] = field(default_factory=dict)
    people_before: int = 0
    # Of ``replaced``, the codes with a chat account linked before the import: the person
    # before's, which the bot keeps writing to under the code until the office unlinks it.
    replaced_linked: list[str] = field(default_factory=list)


# A list that gives many codes another person (the name and the phone both changed) is most
# likely another meeting's list, renumbered from DB001, imported under this meeting: it would
# turn the people held, their answers, check-ins and drafts, into strangers. A real update
# replaces a few (a unit sends someone else, a member retired): at least REPLACED_AT_LEAST
# people and at least REPLACED_SHARE of those the meeting had, and the import asks first.
REPLACED_AT_LEAST = 5
REPLACED_SHARE = 0.2


def replaces_many(summary: ImportSummary) -> bool:
    """Whether the import gives many of the people already there another person (the name and
    the phone both changed): at least :data:`REPLACED_AT_LEAST`, and at least
    :data:`REPLACED_SHARE` of the people the meeting had."""
    count = len(summary.replaced)
    return count >= REPLACED_AT_LEAST and count >= REPLACED_SHARE * summary.people_before


def _replaced(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a row gives the code another person: another name (not only written otherwise)
    and another phone, both said before and after (a phone added or kept is no replacement)."""
    names = (str(before["full_name"] or ""), str(after["full_name"] or ""))
    if names[0].casefold().split() == names[1].casefold().split():
        return False
    return bool(before["phone"]) and bool(after["phone"]) and before["phone"] != after["phone"]


async def _linked_codes(session: AsyncSession, people: Mapping[int, str]) -> list[str]:
    """The codes of ``people`` (by id) with a chat account linked (a personal page is none),
    in code order."""
    if not people:
        return []
    linked = await session.scalars(
        select(ChannelIdentity.delegate_id)
        .where(
            ChannelIdentity.delegate_id.in_(list(people)),
            ChannelIdentity.linked_via != queries.PAGE_LINK,
        )
        .distinct()
    )
    return sorted(people[person] for person in linked)


class ManyReplaced(Exception):
    """Raised by :meth:`DelegateService.import_rows` before anything is written, unless
    confirmed: the list gives many people already there another person (:func:`replaces_many`)."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__(len(summary.replaced))
        self.summary = summary


class _Preview(Exception):
    """Raised inside an import's transaction to roll it back, carrying what it would change."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("preview")
        self.summary = summary


def _audit_row(
    at: datetime,
    actor: str,
    action: str,
    delegate_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    """An audit entry about a delegate, as a row for :func:`storage.queries.insert_audit`."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": "delegate",
        "entity_id": delegate_id,
        "before": before,
        "after": after,
    }


def _values(delegate: Delegate | DelegateRow) -> dict[str, Any]:
    return {name: getattr(delegate, name) for name in _FIELDS}


def _restyled(stored: str, name: str) -> bool:
    """Whether ``name`` is ``stored``, a name in capitals, as the import writes one now
    («NGUYỄN VĂN AN» → «Nguyễn Văn An», :func:`bot.domain.typed.in_title_case`)."""
    return written_in_capitals(stored) and in_title_case(stored) == name


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    if values["phone"]:
        values = {**values, "phone": mask_phone(values["phone"])}  # the audit log is no phone book
    return values


class DelegateService:
    """Creates and updates delegates from a parsed list."""

    def __init__(self, ctx: ServiceContext, tasks: TaskService, drafts: DraftService) -> None:
        self._ctx = ctx
        self._tasks = tasks
        self._drafts = drafts

    async def preview_import(
        self, rows: list[DelegateRow], *, kept: Collection[str] = ()
    ) -> ImportSummary:
        """What :meth:`import_rows` would change, changing nothing: the same steps, in a
        transaction rolled back (so a preview can never disagree with the import's rules)."""
        try:
            await self.import_rows(rows, actor="preview", kept=kept, _apply=False)
        except _Preview as preview:
            return preview.summary
        raise AssertionError("a preview always rolls back")  # pragma: no cover

    async def import_rows(
        self,
        rows: list[DelegateRow],
        *,
        actor: str,
        kept: Collection[str] = (),
        confirm_replaced: bool = False,
        _apply: bool = True,
    ) -> ImportSummary:
        """Upsert delegates by code; new ones get an invitation and an empty answer; the plan's
        tasks and speeches are matched to the list in the same transaction.

        ``kept``: fields the file had no column for (``ParsedDelegates.absent``): people
        already there keep what they had in them, rather than have them emptied.

        A list that gives many people already there another person (:func:`replaces_many`)
        raises :class:`ManyReplaced`, nothing written, unless ``confirm_replaced``.

        New people, their invitations, answers and the audit entries are written as plain
        rows, a statement for each table: through the ORM every new row was an INSERT of its
        own (SQLite reads each new id back with RETURNING, one row at a time), and a list of
        10,000 took a minute. Changes to people already there go through the ORM as before.
        """
        now = self._ctx.clock.now()
        created = updated = unchanged = 0
        role_kept: list[str] = []
        created_codes: list[str] = []
        changed: dict[str, list[str]] = {}
        changes: dict[str, list[tuple[str, Any, Any]]] = {}
        replaced: dict[str, tuple[str, str]] = {}
        replaced_ids: dict[int, str] = {}
        kept_values: Counter[str] = Counter()
        meeting_id = self._ctx.meeting_id
        async with unit_of_work(self._ctx.sessions) as session:
            # One import of the meeting at a time: two at once (two offices, or the dashboard
            # and the command line) would each find neither's new people, and a list with DB001
            # and another with db001 would both insert them (PostgreSQL; SQLite's writers take
            # turns anyway). The second reads the people once the first has committed.
            await queries.lock_meeting(session, meeting_id)
            # Codes are compared without case, as the file parser does: "db001" is DB001.
            existing = await queries.delegates_by_code(session, meeting_id)
            fresh = [row for row in rows if queries.fold_code(row.code) not in existing]
            connection = await session.connection()
            if fresh:
                await connection.execute(
                    insert(DELEGATE_TABLE),
                    [
                        {
                            "meeting_id": meeting_id,
                            "code": row.code,
                            "created_at": now,
                            "updated_at": now,
                            "search_text": searchable(
                                row.code, row.full_name, row.organization, row.position
                            ),
                            **{name: getattr(row, name) for name in _FIELDS},
                        }
                        for row in fresh
                    ],
                )
            # The new people's ids, by code (read back in one query, not one per insert).
            ids: dict[str, int] = {}
            if fresh:
                found = await connection.execute(
                    select(Delegate.code, Delegate.id).where(Delegate.meeting_id == meeting_id)
                )
                ids = {code: delegate_id for code, delegate_id in found}
            invitations: list[dict[str, Any]] = []
            # Every personal code ever issued, so none is issued twice (read once, not per row).
            codes = await queries.link_codes_in_use(session) if fresh else set()
            answers: list[dict[str, Any]] = []
            audit: list[dict[str, Any]] = []  # in the file's order, created and updated alike
            for row in rows:
                delegate = existing.get(queries.fold_code(row.code))
                if delegate is None:
                    new_id = ids[row.code]
                    code = new_link_code(codes)
                    codes.add(code)
                    invitations.append(
                        {
                            "delegate_id": new_id,
                            "token": new_token(),
                            "link_code": code,
                            "created_at": now,
                        }
                    )
                    answers.append(
                        {
                            "delegate_id": new_id,
                            "status": RsvpStatus.NO_ANSWER.value,
                            "updated_at": now,
                        }
                    )
                    audit.append(
                        _audit_row(
                            now,
                            actor,
                            "delegate.created",
                            new_id,
                            None,
                            {"code": row.code, **_audited(_values(row))},
                        )
                    )
                    created += 1
                    created_codes.append(row.code)
                    continue
                if row.role != delegate.role:
                    # A contacts file must not turn a delegate into a contact (they would drop
                    # out of the RSVP figures); a delegate can be a task contact by their code.
                    role_kept.append(delegate.code)
                    row = replace(row, role=delegate.role)
                before = _values(delegate)
                # What the file has no column for, or this row of it does not say: kept.
                keep = [name for name in _FIELDS if name in kept or name in row.unsaid]
                after = {**_values(row), **{name: before[name] for name in keep}}
                for name in keep:
                    if before[name] not in (None, ""):  # "": a contact's group left empty
                        kept_values[name] += 1
                if before == after:
                    unchanged += 1
                    continue
                fields = [name for name in _FIELDS if before[name] != after[name]]
                # A name stored in capitals before the import wrote them as names are written,
                # the list unchanged: written so now, and counted with those the list left as
                # they were (the summary says how many names were in capitals).
                restyled = fields == ["full_name"] and _restyled(
                    before["full_name"], after["full_name"]
                )
                if _replaced(before, after):
                    replaced[delegate.code] = (before["full_name"], after["full_name"])
                    replaced_ids[delegate.id] = delegate.code
                if not restyled:
                    changed[delegate.code] = fields
                    changes[delegate.code] = [(name, before[name], after[name]) for name in fields]
                for name in _FIELDS:
                    setattr(delegate, name, after[name])
                delegate.updated_at = now
                audit.append(
                    _audit_row(
                        now,
                        actor,
                        "delegate.updated",
                        delegate.id,
                        _audited(before),
                        _audited(after),
                    )
                )
                if restyled:
                    unchanged += 1
                else:
                    updated += 1
            if invitations:
                await connection.execute(insert(INVITATION_TABLE), invitations)
                await connection.execute(insert(RSVP_TABLE), answers)
            # Read before any account is carried: one carried now is the new person's own.
            replaced_linked = await _linked_codes(session, replaced_ids)
            carried = await self._carry_accounts(session, now, actor, audit)
            await queries.insert_audit(session, audit)
            summary = _summary(existing, rows, created, updated, unchanged, role_kept)
            summary = replace(
                summary,
                created_codes=created_codes,
                changed=changed,
                changes=changes,
                carried=carried,
                kept={name: kept_values[name] for name in _FIELDS if kept_values[name]},
                replaced=replaced,
                people_before=len(existing),
                replaced_linked=replaced_linked,
            )
            if not _apply:
                raise _Preview(summary)
            if not confirm_replaced and replaces_many(summary):
                raise ManyReplaced(summary)  # the unit of work rolls back: nothing written
            # Tasks and speeches name people by code: who answers for what may have changed
            # with this list. Matched in this transaction, not after it: a tick between two
            # commits would see the new list without its tasks and speakers, and a reminder
            # falling due then would go to nobody and be used up.
            tasks = await self._tasks.sync_in(session)
            speakers = await self._drafts.sync_in(session)
            summary = replace(
                summary,
                unknown_contacts=tasks.unknown_contacts,
                unknown_speakers=speakers.unknown_speakers,
            )
        return summary

    async def _carry_accounts(
        self, session: AsyncSession, now: datetime, actor: str, audit: list[dict[str, Any]]
    ) -> list[str]:
        """Give the meeting's people the chat accounts they linked in earlier meetings of the
        database, so the next conference reaches them without a new link: found by phone
        number (a code is one list's numbering, not a person's), the latest linked account of
        each channel, not a personal page's; only where the number is one person's in both
        meetings, and only to someone without an account on that channel here (an account
        already linked here stays where it is). Audited (``identity.carried``) into ``audit``;
        each invitee given one is sent this meeting's invitation (:attr:`MessageKind.INVITATION`).
        The codes of the people given one, once per account."""
        meeting_id = self._ctx.meeting_id
        by_phone: dict[str, list[tuple[int, str]]] = {}
        contacts: set[int] = set()
        for person_id, code, phone, role in await session.execute(
            select(Delegate.id, Delegate.code, Delegate.phone, Delegate.role).where(
                Delegate.meeting_id == meeting_id, Delegate.phone.is_not(None)
            )
        ):
            if phone is not None:
                by_phone.setdefault(phone, []).append((person_id, code))
            if role == ROLE_CONTACT:
                contacts.add(person_id)
        sole = {phone: found[0] for phone, found in by_phone.items() if len(found) == 1}
        if not sole:
            return []
        phones = select(Delegate.phone).where(
            Delegate.meeting_id == meeting_id, Delegate.phone.is_not(None)
        )
        # Numbers shared by several people of an earlier meeting say nothing about who linked.
        shared = {
            (other, phone)
            for other, phone in await session.execute(
                select(Delegate.meeting_id, Delegate.phone)
                .where(Delegate.meeting_id != meeting_id, Delegate.phone.in_(phones))
                .group_by(Delegate.meeting_id, Delegate.phone)
                .having(func.count() > 1)
            )
        }
        taken_accounts: set[tuple[str, str]] = set()
        taken_people: set[tuple[int, str]] = set()
        for channel, external_id, person_id in await session.execute(
            select(
                ChannelIdentity.channel, ChannelIdentity.external_id, ChannelIdentity.delegate_id
            ).where(ChannelIdentity.meeting_id == meeting_id)
        ):
            taken_accounts.add((channel, external_id))
            taken_people.add((person_id, channel))
        earlier = await session.execute(
            select(ChannelIdentity, Delegate.phone, Delegate.meeting_id, Meeting.code)
            .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
            .join(Meeting, Meeting.id == Delegate.meeting_id)
            .where(
                Delegate.meeting_id != meeting_id,
                Delegate.phone.in_(phones),
                ChannelIdentity.linked_via != queries.PAGE_LINK,
            )
            .order_by(ChannelIdentity.linked_at.desc(), ChannelIdentity.id.desc())
        )
        seen: set[tuple[str, str]] = set()
        rows: list[dict[str, Any]] = []
        carried: list[str] = []
        for ident, phone, other, other_code in earlier:
            if phone is None or (phone, ident.channel) in seen:
                continue  # an older account of the same person on the same channel
            seen.add((phone, ident.channel))
            target = sole.get(phone)
            if target is None or (other, phone) in shared:
                continue
            person_id, code = target
            account = (ident.channel, ident.external_id)
            if (person_id, ident.channel) in taken_people or account in taken_accounts:
                continue
            taken_people.add((person_id, ident.channel))
            taken_accounts.add(account)
            rows.append(
                {
                    "meeting_id": meeting_id,
                    "delegate_id": person_id,
                    "channel": ident.channel,
                    "external_id": ident.external_id,
                    "chat_address": ident.chat_address,
                    "linked_at": now,
                    "linked_via": CARRIED,
                    # Still blocked if it was; last used when it was (which account goes first).
                    "unreachable_at": ident.unreachable_at,
                    "unreachable_reason": ident.unreachable_reason,
                    "last_seen_at": ident.last_seen_at,
                }
            )
            audit.append(
                _audit_row(
                    now,
                    actor,
                    "identity.carried",
                    person_id,
                    None,
                    {
                        "channel": ident.channel,
                        "external_id": ident.external_id,
                        "via": CARRIED,
                        "from_meeting": other_code,
                    },
                )
            )
            carried.append(code)
        if rows:
            connection = await session.connection()
            await connection.execute(insert(queries.IDENTITY_TABLE), rows)
        # She opens no link for this meeting, and the office counts her as reached: the bot
        # sends her this meeting's invitation (once, however many accounts came with her; a
        # task contact has none). Not after the meeting: nothing to answer then.
        for person_id in dict.fromkeys(row["delegate_id"] for row in rows):
            if person_id not in contacts:
                queue_to_person(
                    session,
                    meeting_id=meeting_id,
                    kind=MessageKind.INVITATION,
                    person_id=person_id,
                    now=now,
                    params={},
                    expires_at=self._ctx.config.meeting.ends_at,
                )
        return carried


def _summary(
    existing: dict[str, Delegate],
    rows: list[DelegateRow],
    created: int,
    updated: int,
    unchanged: int,
    role_kept: list[str],
) -> ImportSummary:
    """The counts, and who the database holds that the file no longer lists."""
    # A contacts file says nothing about delegates, and the other way round.
    listed = {queries.fold_code(row.code) for row in rows}
    roles = {row.role for row in rows}
    # A withdrawn invitation is settled already: the office need not be told of it again.
    absent = sorted(
        (
            d
            for key, d in existing.items()
            if key not in listed and d.role in roles and d.withdrawn_at is None
        ),
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
