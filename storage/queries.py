"""Query helpers shared by the services. They flush when they must, and never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, ChannelIdentity, Delegate, Invitation, Meeting, Rsvp

AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]  # declared, so a Table


async def meeting_by_code(session: AsyncSession, code: str) -> Meeting | None:
    """The meeting with this code."""
    return await session.scalar(select(Meeting).where(Meeting.code == code))


def fold_code(code: str) -> str:
    """A person's code as lists and commands are matched: without case or spaces around it
    ("db001" is DB001)."""
    return code.strip().casefold()


async def delegates_by_code(session: AsyncSession, meeting_id: int) -> dict[str, Delegate]:
    """Every person of a meeting, keyed by :func:`fold_code` of their code."""
    rows = await session.scalars(select(Delegate).where(Delegate.meeting_id == meeting_id))
    return {fold_code(delegate.code): delegate for delegate in rows}


async def delegate_by_code(session: AsyncSession, meeting_id: int, code: str) -> Delegate | None:
    """The person with this code (matched as :func:`fold_code` does), if any."""
    return (await delegates_by_code(session, meeting_id)).get(fold_code(code))


async def identity(session: AsyncSession, channel: str, external_id: str) -> ChannelIdentity | None:
    """The chat account with this channel and id, if linked."""
    return await session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )


async def identities_with_rsvps(
    session: AsyncSession, accounts: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[ChannelIdentity, Rsvp]]:
    """The linked accounts among ``accounts`` ((channel, id) pairs), keyed the same way, each
    with its delegate's RSVP row: one query per channel."""
    by_channel: dict[str, set[str]] = {}
    for channel, external_id in accounts:
        by_channel.setdefault(channel, set()).add(external_id)
    found: dict[tuple[str, str], tuple[ChannelIdentity, Rsvp]] = {}
    for channel, external_ids in by_channel.items():
        rows = await session.execute(
            select(ChannelIdentity, Rsvp)
            .join(Rsvp, Rsvp.delegate_id == ChannelIdentity.delegate_id)
            .where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id.in_(external_ids)
            )
        )
        found.update(((ident.channel, ident.external_id), (ident, rsvp)) for ident, rsvp in rows)
    return found


async def identity_of_delegate(
    session: AsyncSession, delegate_id: int, channel: str
) -> ChannelIdentity | None:
    """The account a delegate linked on a channel."""
    return await session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.delegate_id == delegate_id, ChannelIdentity.channel == channel
        )
    )


async def active_invitation(session: AsyncSession, token: str) -> Invitation | None:
    """The unrevoked invitation with this token."""
    return await session.scalar(
        select(Invitation).where(Invitation.token == token, Invitation.revoked_at.is_(None))
    )


async def active_tokens(session: AsyncSession, meeting_id: int) -> dict[int, str]:
    """The current invitation token of each delegate of a meeting."""
    rows = await session.execute(
        select(Invitation.delegate_id, Invitation.token)
        .join(Delegate, Delegate.id == Invitation.delegate_id)
        .where(Delegate.meeting_id == meeting_id, Invitation.revoked_at.is_(None))
    )
    return {delegate_id: token for delegate_id, token in rows.all()}


async def delegates_with_phone(
    session: AsyncSession, meeting_id: int, phone: str
) -> list[Delegate]:
    """Delegates of a meeting whose normalised phone is exactly ``phone``."""
    rows = await session.scalars(
        select(Delegate).where(Delegate.meeting_id == meeting_id, Delegate.phone == phone)
    )
    return list(rows)


async def rsvp_of(session: AsyncSession, delegate_id: int) -> Rsvp:
    """A delegate's RSVP row (created with the delegate)."""
    return (await rsvps_of(session, [delegate_id]))[delegate_id]


async def rsvps_of(session: AsyncSession, delegate_ids: Iterable[int]) -> dict[int, Rsvp]:
    """The RSVP rows of these delegates (each created with its delegate), by delegate id."""
    wanted = set(delegate_ids)
    rows = await session.scalars(select(Rsvp).where(Rsvp.delegate_id.in_(wanted)))
    found = {rsvp.delegate_id: rsvp for rsvp in rows}
    if missing := wanted - found.keys():
        raise LookupError(f"delegate(s) {sorted(missing)} have no RSVP row")
    return found


async def roster(
    session: AsyncSession, meeting_id: int
) -> list[tuple[Delegate, Rsvp, ChannelIdentity | None]]:
    """Every delegate (not task contacts) with their answer and linked account."""
    rows = await session.execute(
        select(Delegate, Rsvp, ChannelIdentity)
        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
        .outerjoin(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
        .where(Delegate.meeting_id == meeting_id, Delegate.role == "delegate")
        .order_by(Delegate.group_key, Delegate.rank, Delegate.code)
    )
    seen: set[int] = set()
    result: list[tuple[Delegate, Rsvp, ChannelIdentity | None]] = []
    for delegate, rsvp, ident in rows.all():
        if delegate.id not in seen:
            seen.add(delegate.id)
            result.append((delegate, rsvp, ident))
    return result


def add_audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Record who changed what, when, from what to what."""
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


async def insert_audit(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write many audit entries (columns of :class:`AuditEntry` as dicts) in one statement.

    Unlike :func:`add_audit` the new ids are not read back, which lets SQLite take the rows
    in one ``executemany`` instead of one INSERT … RETURNING each; and the statement goes to
    the session's connection as a plain table insert, past the ORM's bulk machinery, which
    costs more than the insert itself.
    """
    if rows:
        connection = await session.connection()
        await connection.execute(insert(AUDIT_TABLE), rows)
