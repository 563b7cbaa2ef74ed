"""Query helpers shared by the services. They flush when they must, and never commit."""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVarTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    Delivery,
    DraftVersion,
    HandledEvent,
    Invitation,
    Meeting,
    MeetingDocument,
    OutboundMessage,
    ReplyCount,
    Rsvp,
    TaskEvidence,
)
from storage.models import fold_code as fold_code  # where the services have always found it
from storage.prepared import Prepared
from storage.uow import session_meeting

# The declared tables, for statements that skip the ORM (declarative makes them Tables).
AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]
IDENTITY_TABLE: Table = ChannelIdentity.__table__  # type: ignore[assignment]
# ``linked_via`` of the account a personal web page acts as: it reaches nobody by message, so a
# person with only that one is not linked to a chat (counts, audiences, the task board).
PAGE_LINK = "page"
RSVP_TABLE: Table = Rsvp.__table__  # type: ignore[assignment]
DELEGATE_TABLE: Table = Delegate.__table__  # type: ignore[assignment]
HANDLED_TABLE: Table = HandledEvent.__table__  # type: ignore[assignment]
REPLY_COUNT_TABLE: Table = ReplyCount.__table__  # type: ignore[assignment]

_Row = TypeVarTuple("_Row")


async def lock_meeting(session: AsyncSession, meeting_id: int) -> None:
    """The meeting's row locked until the transaction ends, so two writers of the same kind
    (two imports of a list) take turns on PostgreSQL; SQLite's writers take turns anyway
    (BEGIN IMMEDIATE). FOR NO KEY UPDATE: rows written meanwhile that refer to the meeting (an
    answer's audit entry, a message) need not wait for it."""
    await session.execute(
        select(Meeting.id).where(Meeting.id == meeting_id).with_for_update(key_share=True)
    )


async def next_notice_number(session: AsyncSession, meeting_id: int) -> int:
    """The number the meeting's next office notice takes: one more than the last given.

    Every path that makes a notice takes it here (the office's confirmation, the outbox for a
    notice put in it some other way, the tests' and benches' helpers), so no notice is ever
    called by anything else. The meeting's row is locked first, as :func:`lock_meeting` locks
    it (SQLite's writers take turns anyway), so two offices confirming at once on PostgreSQL
    take turns rather than one number twice. ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: every
    row written meanwhile that refers to the meeting (a tap's or an answer's audit entry, a
    message) takes ``FOR KEY SHARE`` on it, which ``FOR UPDATE`` would hold until the notice
    is confirmed."""
    await lock_meeting(session, meeting_id)
    last = await session.scalar(
        select(func.max(OutboundMessage.number)).where(OutboundMessage.meeting_id == meeting_id)
    )
    return (last or 0) + 1


async def meeting_by_code(
    session: AsyncSession, code: str, *, for_update: bool = False
) -> Meeting | None:
    """The meeting with this code (``for_update``: its row locked until the transaction ends,
    where the database locks rows; SQLite's BEGIN IMMEDIATE already holds the whole file).
    ``FOR NO KEY UPDATE``, as :func:`lock_meeting`: the row's key is never changed, and rows
    referring to it (another process's answers) need not wait for the lock's holder."""
    query = select(Meeting).where(Meeting.code == code)
    return await session.scalar(query.with_for_update(key_share=True) if for_update else query)


async def delegates_by_code(session: AsyncSession, meeting_id: int) -> dict[str, Delegate]:
    """Every person of a meeting, keyed by :func:`fold_code` of their code."""
    rows = await session.scalars(select(Delegate).where(Delegate.meeting_id == meeting_id))
    return {fold_code(delegate.code): delegate for delegate in rows}


# What a statement's cache key holds of :class:`_Ascii` and :class:`_InCodePoints`: their
# column, so that the same test of another column is another statement. Without it SQLAlchemy
# caches no statement holding them (a lookup by code compiled anew at every sign-in).
_ONE_COLUMN: list[tuple[str, InternalTraversal]] = [("column", InternalTraversal.dp_clauseelement)]


class _Ascii(ColumnElement[bool]):
    """Whether a text column holds ASCII only: as many bytes as characters (UTF-8)."""

    inherit_cache = True
    _traverse_internals = _ONE_COLUMN
    type = Boolean()

    def __init__(self, column: ColumnElement[str]) -> None:
        self.column = column


@compiles(_Ascii)
def _ascii_sqlite(element: _Ascii, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"(length(CAST({column} AS BLOB)) = length({column}))"


@compiles(_Ascii, "postgresql")
def _ascii_postgresql(element: _Ascii, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"(octet_length({column}) = char_length({column}))"


class _InCodePoints(ColumnElement[str]):
    """A text column compared by code points, as SQLite's BINARY and Python's ``<`` do
    (PostgreSQL's database collation would put "Straße" and "STRAẞE" otherwise)."""

    inherit_cache = True
    _traverse_internals = _ONE_COLUMN

    def __init__(self, column: ColumnElement[str]) -> None:
        self.column = column
        self.type = column.type


@compiles(_InCodePoints)
def _in_code_points_sqlite(element: _InCodePoints, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(_InCodePoints, "postgresql")
def _in_code_points_postgresql(element: _InCodePoints, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.column, **kw)} COLLATE "C")'


def code_match(statement: Select[*_Row], code: str) -> Select[*_Row]:
    """``statement`` (a read of delegates, or of rows joined to them) narrowed to the one
    person with ``code``, matched as :func:`fold_code` folds it: the one way a typed code
    (a sign-in, ``?after=db010``, a task's «Ghi nhận thay») finds a person.

    One read of the index on (meeting, folded code) (0022), whatever was typed: a code in
    another case, with letters SQLite's lower() leaves alone, or on nobody's list costs what
    the code as stored does, and only the row found is read.

    Two people whose codes fold alike do not come from the lists (a file repeating a code in
    another case is refused, and an import finds the people already there by the folded
    code); should a database hold them, the answer is the one SQLite gave before 0022: the
    code as typed, else the first (by id) whose code is ASCII (what ``lower(code)`` found),
    else the last in code order (the codes were read in the order of the unique index).
    """
    typed = unicodedata.normalize("NFC", code.strip())
    ascii_code = _Ascii(Delegate.code.expression)
    return (
        statement.where(Delegate.folded_code == fold_code(code))
        .order_by(
            case((Delegate.code == typed, 0), else_=1),
            case((ascii_code, 0), else_=1),
            case((ascii_code, Delegate.id), else_=None),
            _InCodePoints(Delegate.code.expression).desc(),
        )
        .limit(1)
    )


def locked(statement: Select[*_Row], *, of: Any = None) -> Select[*_Row]:
    """``statement``'s rows locked until the transaction ends and loaded as they are once
    locked, over any copy the session holds (a copy read before the lock would hide a change
    committed since: a withdrawal, a version, a report). ``FOR UPDATE`` on PostgreSQL (``of``:
    only these tables' rows, as :meth:`Select.with_for_update` takes it); SQLite's writing
    transactions take turns on the whole file anyway (BEGIN IMMEDIATE) and ignore it."""
    return statement.with_for_update(of=of).execution_options(populate_existing=True)


async def delegate_by_code(session: AsyncSession, meeting_id: int, code: str) -> Delegate | None:
    """The person with this code (matched as :func:`code_match` matches it), if any."""
    statement = code_match(select(Delegate).where(Delegate.meeting_id == meeting_id), code)
    return await session.scalar(statement)


# Up to this many accounts are looked up by their codes and ids (a page of the log); more (an
# export's log of ten thousand) are found by reading the meeting's people once.
LOOKED_UP_ACCOUNTS = 500


async def people_behind(
    session: AsyncSession, meeting_id: int, actors: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """(full name, code) of the person behind each audited account the meeting knows: a chat
    account ("telegram:…", "zalo:…") by its link, a dashboard session ("dashboard:<code>") by
    the code; the command line and unknown accounts are left out."""
    wanted = set(actors)
    few = len(wanted) <= LOOKED_UP_ACCOUNTS
    found: dict[str, tuple[str, str]] = {}
    codes = {actor.partition(":")[2] for actor in wanted if actor.startswith("dashboard:")}
    if codes:
        people = select(Delegate.code, Delegate.full_name).where(Delegate.meeting_id == meeting_id)
        for code, name in await session.execute(
            people.where(Delegate.code.in_(codes)) if few else people
        ):
            if (actor := f"dashboard:{code}") in wanted:
                found[actor] = (name, code)
    externals = {
        actor.partition(":")[2]
        for actor in wanted
        if ":" in actor and not actor.startswith("dashboard:")
    }
    if externals:
        linked = (
            select(
                ChannelIdentity.channel, ChannelIdentity.external_id, Delegate.full_name,
                Delegate.code,
            )
            .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
            .where(Delegate.meeting_id == meeting_id)
        )  # fmt: skip
        for channel, external, name, code in await session.execute(
            linked.where(ChannelIdentity.external_id.in_(externals)) if few else linked
        ):
            if (actor := f"{channel}:{external}") in wanted:
                found[actor] = (name, code)
    return found


async def identity(
    session: AsyncSession, meeting_id: int, channel: str, external_id: str
) -> ChannelIdentity | None:
    """The chat account with this channel and id, if linked to a person of the meeting (the
    same account may be linked in another meeting of the database too)."""
    return await session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.meeting_id == meeting_id,
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
        )
    )


class AnsweringRow(NamedTuple):
    """A linked account with its delegate's RSVP, as plain values (:func:`answering_rows`)."""

    channel: str
    external_id: str
    identity_id: int
    delegate_id: int
    pending_input: str | None
    pending_data: dict[str, Any] | None
    rsvp_id: int
    status: str
    reason: str | None
    substitute_name: str | None
    substitute_position: str | None
    answered_at: datetime | None
    substitute_unit: str | None
    substitute_phone: str | None
    days: str | None  # «tham dự» for these days only (migration 0030); None: every day
    withdrawn_at: datetime | None  # the office withdrew the person's invitation
    organization: str  # the person's unit, offered for a substitute's


IDENTITY_FIELDS = ("channel", "external_id", "id", "delegate_id", "pending_input", "pending_data")
RSVP_FIELDS = (
    "id", "status", "reason", "substitute_name", "substitute_position", "answered_at",
    "substitute_unit", "substitute_phone", "days",
)  # fmt: skip
# The columns of an AnsweringRow, in the order of its fields.
ANSWERING_COLUMNS = (
    *(IDENTITY_TABLE.c[name] for name in IDENTITY_FIELDS),
    *(RSVP_TABLE.c[name] for name in RSVP_FIELDS),
    DELEGATE_TABLE.c.withdrawn_at,
    DELEGATE_TABLE.c.organization,
)
# What a tap can change in an RSVP row.
ANSWER_COLUMNS = (*RSVP_FIELDS[1:], "updated_at")


# The statements of a tap's transaction, built once: SQLAlchemy then neither builds nor
# re-derives their cache keys on every tap (a few hundred microseconds of CPU per transaction).
_ANSWERING_FROM = (
    select(*ANSWERING_COLUMNS)
    .join_from(IDENTITY_TABLE, RSVP_TABLE, RSVP_TABLE.c.delegate_id == IDENTITY_TABLE.c.delegate_id)
    .join(DELEGATE_TABLE, DELEGATE_TABLE.c.id == IDENTITY_TABLE.c.delegate_id)
)
# An account linked to a person of another meeting in the same database answers nothing here:
# this process serves its own meeting only.
_ANSWERING_SELECT = _ANSWERING_FROM.where(
    IDENTITY_TABLE.c.channel == bindparam("channel"),
    IDENTITY_TABLE.c.external_id.in_(bindparam("external_ids", expanding=True)),
    IDENTITY_TABLE.c.meeting_id == bindparam("meeting_id"),
)
# One account (a lone tap, the usual batch): the same read with ``=``. An expanding IN is
# rendered anew at every execution (SQLAlchemy's post-compile step, a regular expression over
# the SQL), which took half the read's 70 µs of CPU (bench/README.md, 2026-12-05).
_ANSWERING_ONE = _ANSWERING_FROM.where(
    IDENTITY_TABLE.c.channel == bindparam("channel"),
    IDENTITY_TABLE.c.external_id == bindparam("external_id"),
    IDENTITY_TABLE.c.meeting_id == bindparam("meeting_id"),
)
# The statements of a lone tap run prepared (:mod:`storage.prepared`): past SQLAlchemy's
# per-execution work, which cost more CPU than SQLite's.
_ANSWERING_ONE_RUN = Prepared(_ANSWERING_ONE)
_ANSWER_UPDATE = (
    update(RSVP_TABLE)
    .where(RSVP_TABLE.c.id == bindparam("rsvp_id"))
    .values({column: bindparam(column) for column in ANSWER_COLUMNS})
)
_QUESTION_UPDATE = (
    update(IDENTITY_TABLE)
    .where(IDENTITY_TABLE.c.id == bindparam("identity_id"))
    .values(pending_input=bindparam("pending_input"), pending_data=bindparam("pending_data"))
)
_ANSWER_UPDATE_RUN = Prepared(_ANSWER_UPDATE)
_QUESTION_UPDATE_RUN = Prepared(_QUESTION_UPDATE)
_AUDIT_INSERT = Prepared(insert(AUDIT_TABLE))
_HANDLED_INSERT = {
    "sqlite": Prepared(sqlite_insert(HANDLED_TABLE).on_conflict_do_nothing()),
    "postgresql": Prepared(postgresql_insert(HANDLED_TABLE).on_conflict_do_nothing()),
}


def _adding_replies(statement: Any) -> Prepared:
    """``statement`` (a dialect's INSERT into ``reply_counts``) adding to the month's count when
    its row exists: one statement, and the database does the sum, so counts added at once by
    two transactions (two processes) are both kept."""
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=[REPLY_COUNT_TABLE.c.channel, REPLY_COUNT_TABLE.c.month],
            set_={"messages": REPLY_COUNT_TABLE.c.messages + statement.excluded.messages},
        )
    )


_REPLIES_ADD = {
    "sqlite": _adding_replies(sqlite_insert(REPLY_COUNT_TABLE)),
    "postgresql": _adding_replies(postgresql_insert(REPLY_COUNT_TABLE)),
}


async def answering_rows(
    session: AsyncSession, accounts: Iterable[tuple[str, str]], meeting_id: int
) -> list[AnsweringRow]:
    """:func:`answering_rows_on` in ``session``'s transaction."""
    connection = await session.connection()
    return await connection.run_sync(answering_rows_on, accounts, meeting_id)


def answering_rows_on(
    connection: Connection, accounts: Iterable[tuple[str, str]], meeting_id: int
) -> list[AnsweringRow]:
    """The accounts among ``accounts`` ((channel, id) pairs) linked to a person of the meeting,
    each with its delegate's RSVP: one query per channel, read as table rows, not ORM objects
    — a batch of taps changes a few columns of each and stores them with
    :func:`store_answering_on`."""
    by_channel: dict[str, set[str]] = {}
    for channel, external_id in accounts:
        by_channel.setdefault(channel, set()).add(external_id)
    found: list[AnsweringRow] = []
    for channel, external_ids in by_channel.items():
        if len(external_ids) == 1:
            (external_id,) = external_ids
            values = {"channel": channel, "external_id": external_id, "meeting_id": meeting_id}
            found.extend(map(AnsweringRow._make, _ANSWERING_ONE_RUN.rows(connection, values)))
        else:
            rows = connection.execute(
                _ANSWERING_SELECT,
                {"channel": channel, "external_ids": list(external_ids), "meeting_id": meeting_id},
            )
            found.extend(AnsweringRow._make(row) for row in rows)
    return found


async def store_answering(
    session: AsyncSession, *, answers: list[dict[str, Any]], questions: list[dict[str, Any]]
) -> None:
    """:func:`store_answering_on` in ``session``'s transaction."""
    if answers or questions:
        connection = await session.connection()
        await connection.run_sync(store_answering_on, answers=answers, questions=questions)


def store_answering_on(
    connection: Connection, *, answers: list[dict[str, Any]], questions: list[dict[str, Any]]
) -> None:
    """Store what a batch of taps changed, one ``executemany`` each: ``answers`` (RSVP columns
    by ``rsvp_id``) and ``questions`` (``pending_input``/``pending_data`` by ``identity_id``)."""
    _ANSWER_UPDATE_RUN.write(connection, answers)
    _QUESTION_UPDATE_RUN.write(connection, questions)


async def identity_of_delegate(
    session: AsyncSession, delegate_id: int, channel: str
) -> ChannelIdentity | None:
    """The account a delegate linked on a channel."""
    return await session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.delegate_id == delegate_id, ChannelIdentity.channel == channel
        )
    )


async def active_invitation(
    session: AsyncSession, meeting_id: int, token: str
) -> Invitation | None:
    """The unrevoked invitation of the meeting with this token (another meeting's token in
    the same database is no invitation here)."""
    return await session.scalar(
        select(Invitation)
        .join(Delegate, Delegate.id == Invitation.delegate_id)
        .where(
            Invitation.token == token,
            Invitation.revoked_at.is_(None),
            Delegate.meeting_id == meeting_id,
        )
    )


async def active_invitation_by_code(
    session: AsyncSession, meeting_id: int, code: str
) -> Invitation | None:
    """The unrevoked invitation of the meeting with this personal code (canonical form)."""
    return await session.scalar(
        select(Invitation)
        .join(Delegate, Delegate.id == Invitation.delegate_id)
        .where(
            Invitation.link_code == code,
            Invitation.revoked_at.is_(None),
            Delegate.meeting_id == meeting_id,
        )
    )


class Elsewhere(NamedTuple):
    """Another meeting's invitation a token or personal code is (:func:`invitation_elsewhere`):
    that meeting, and the phone of the person it invited (to know her on this meeting's list)."""

    meeting: Meeting
    phone: str | None


async def invitation_elsewhere(
    session: AsyncSession, meeting_id: int, *, token: str | None = None, code: str | None = None
) -> Elsewhere | None:
    """The meeting, other than ``meeting_id``, whose unrevoked invitation carries ``token`` (or
    the personal ``code``, canonical), with its holder's phone; None when no other meeting's
    does. Tokens and codes are unique across meetings, so at most one row."""
    key = Invitation.token == token if token is not None else Invitation.link_code == code
    row = (
        await session.execute(
            select(Meeting, Delegate.phone, Invitation.token, Invitation.link_code)
            .join(Delegate, Delegate.meeting_id == Meeting.id)
            .join(Invitation, Invitation.delegate_id == Delegate.id)
            .where(key, Invitation.revoked_at.is_(None), Delegate.meeting_id != meeting_id)
        )
    ).first()
    if row is None:
        return None
    # The index finds the row; the constant-time compare keeps the final check honest.
    secret, found = (token, row.token) if token is not None else (code, row.link_code)
    if secret is None or not hmac.compare_digest(found, secret):
        return None
    return Elsewhere(row.Meeting, row.phone)


async def invited_by_phone(session: AsyncSession, meeting_id: int, phone: str) -> bool:
    """Whether someone of ``phone`` (E.164) is invited to the meeting: on its list, as a
    delegate, the invitation not withdrawn."""
    found = await session.scalar(
        select(Delegate.id)
        .where(
            Delegate.meeting_id == meeting_id,
            Delegate.phone == phone,
            Delegate.role == "delegate",
            Delegate.withdrawn_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


async def invitation_rows(session: AsyncSession, meeting_id: int) -> Sequence[Any]:
    """Each delegate of a meeting with a current invitation (not one the office withdrew), as a
    row of the columns the links export shows (code, full_name, group_key, rank, role,
    position, organization, phone, token, link_code, the «đã gửi» mark): one statement, no ORM
    object per person (10,000 of them in a large meeting), run on the session's connection:
    through the session, the ORM's row handling cost three times the query's own time."""
    connection = await session.connection()
    rows = await connection.execute(
        select(
            Delegate.code,
            Delegate.full_name,
            Delegate.group_key,
            Delegate.rank,
            Delegate.role,
            Delegate.position,
            Delegate.organization,
            Delegate.phone,
            Invitation.token,
            Invitation.link_code,
            Invitation.sent_at,
            Invitation.sent_via,
            Invitation.sent_by,
        )
        .join(Invitation, Invitation.delegate_id == Delegate.id)
        .where(
            Delegate.meeting_id == meeting_id,
            Invitation.revoked_at.is_(None),
            Delegate.withdrawn_at.is_(None),
        )
    )
    return rows.all()


async def link_codes_in_use(session: AsyncSession) -> set[str]:
    """Every personal code ever issued, revoked ones too (none may be issued again)."""
    return set(await session.scalars(select(Invitation.link_code)))


async def link_code_in_use(session: AsyncSession, code: str) -> bool:
    """Whether ``code`` was ever issued."""
    found = await session.scalar(select(Invitation.id).where(Invitation.link_code == code))
    return found is not None


async def blobs_named(session: AsyncSession, digests: Iterable[str]) -> set[str]:
    """Those of ``digests`` that a row still names: a task's evidence, a draft's version or a
    document the office published (hidden ones too: they may be published again), in any
    meeting of the database (the file store is content-addressed: one blob may be several
    rows' file). A blob none names may be removed from the store, after the transaction that
    removed its last row commits."""
    wanted = sorted(set(digests))
    if not wanted:
        return set()
    named = set(
        await session.scalars(
            select(TaskEvidence.sha256).where(TaskEvidence.sha256.in_(wanted)).distinct()
        )
    )
    named |= set(
        await session.scalars(
            select(DraftVersion.sha256).where(DraftVersion.sha256.in_(wanted)).distinct()
        )
    )
    named |= set(
        await session.scalars(
            select(MeetingDocument.sha256).where(MeetingDocument.sha256.in_(wanted)).distinct()
        )
    )
    return {digest for digest in named if digest is not None}


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
    rsvp = await session.scalar(select(Rsvp).where(Rsvp.delegate_id == delegate_id))
    if rsvp is None:
        raise LookupError(f"delegate {delegate_id} has no RSVP row")
    return rsvp


class RosterRow(NamedTuple):
    """A delegate with their answer and their best linked account, as plain values."""

    delegate_id: int
    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    rank: int | None
    status: str
    reason: str | None
    substitute_name: str | None
    substitute_position: str | None
    answered_at: datetime | None
    linked: bool
    unreachable_at: datetime | None
    unreachable_reason: str | None
    channels: tuple[str, ...] = ()  # the chat channels that reach them, sorted
    blocked: tuple[str, ...] = ()  # the chat channels linked but no longer reaching them
    withdrawn_at: datetime | None = None  # the office withdrew the invitation
    withdrawn_reason: str | None = None
    # Apart from the position since migration 0026 (None on an answer given before it).
    substitute_unit: str | None = None
    substitute_phone: str | None = None  # E.164
    # The chat channels linked that do not run here (not in ``channels``): they reach nobody.
    idle: tuple[str, ...] = ()
    days: str | None = None  # «tham dự» for these days only (migration 0030); None: every day


_ROSTER_COLUMNS = (
    Delegate.id,
    Delegate.code,
    Delegate.full_name,
    Delegate.position,
    Delegate.organization,
    Delegate.group_key,
    Delegate.rank,
    Rsvp.status,
    Rsvp.reason,
    Rsvp.substitute_name,
    Rsvp.substitute_position,
    Rsvp.answered_at,
)


async def roster(
    session: AsyncSession, meeting_id: int, channels: Collection[str] | None = None
) -> list[RosterRow]:
    """Every delegate (not task contacts; withdrawn invitations too, marked) with their answer
    and their best linked account (one on a chat of ``channels``, those running, before one
    that is not; a reachable one before a blocked one; then the one used last), read as table
    rows: the report of a meeting of 10,000 is 10,000 tuples, not 30,000 objects. An account
    on a chat not in ``channels`` (None: every chat runs) is listed apart, as ``idle``."""
    ident = IDENTITY_TABLE.c
    rows = await session.execute(
        select(
            *_ROSTER_COLUMNS,
            ident.id,
            ident.unreachable_at,
            ident.unreachable_reason,
            ident.last_seen_at,
            ident.linked_at,
            ident.channel,
            Delegate.withdrawn_at,
            Delegate.withdrawn_reason,
            Rsvp.substitute_unit,
            Rsvp.substitute_phone,
            Rsvp.days,
        )
        .join(Rsvp, Rsvp.delegate_id == Delegate.id)
        .outerjoin(
            IDENTITY_TABLE,
            (ident.delegate_id == Delegate.id) & (ident.linked_via != PAGE_LINK),
        )
        .where(Delegate.meeting_id == meeting_id, Delegate.role == "delegate")
        .order_by(Delegate.group_key, Delegate.rank, Delegate.code)
    )
    best: dict[int, tuple[Any, ...]] = {}
    reach: dict[int, tuple[set[str], set[str], set[str]]] = {}

    def runs(channel: str | None) -> bool:
        return channels is None or channel in channels

    for row in rows:
        kept = best.get(row[0])
        if kept is None or (
            row[12] is not None and (runs(row[17]), _rank(row)) > (runs(kept[17]), _rank(kept))
        ):
            best[row[0]] = tuple(row)
        if row[12] is not None:
            reaching, blocked, idle = reach.setdefault(row[0], (set(), set(), set()))
            (idle if not runs(row[17]) else reaching if row[13] is None else blocked).add(row[17])
    return [
        RosterRow._make(
            (
                *row[:12],
                row[12] is not None,
                row[13],
                row[14],
                *_channels(reach.get(row[0])),
                row[18],
                row[19],
                row[20],
                row[21],
                *_idle(reach.get(row[0])),
                row[22],
            )
        )
        for row in best.values()
    ]


def _channels(
    reach: tuple[set[str], set[str], set[str]] | None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The running channels reaching a person, and those only blocked (reached on no account)."""
    if reach is None:
        return (), ()
    reaching, blocked, _ = reach
    return tuple(sorted(reaching)), tuple(sorted(blocked - reaching))


def _idle(reach: tuple[set[str], set[str], set[str]] | None) -> tuple[tuple[str, ...]]:
    """The channels a person is linked on that do not run (none reaches her)."""
    return (tuple(sorted(reach[2])) if reach else (),)


_NEVER = datetime.min.replace(tzinfo=UTC)


AccountRank = tuple[bool, datetime, datetime, int]


def account_rank(
    account_id: int,
    unreachable_at: datetime | None,
    last_seen_at: datetime | None,
    linked_at: datetime,
) -> AccountRank:
    """How good a person's chat account is to reach her by, the best the highest: reachable,
    then used last, then linked last, then the newer row. The last key decides between two
    accounts linked at one instant and never used (both carried to the next meeting by one
    import): without it the database's order of rows did, and PostgreSQL's was not SQLite's.
    The one rule of the outbox's choice (``bot.services.audiences.best_first``) and the
    roster's (:func:`roster`)."""
    return (unreachable_at is None, last_seen_at or _NEVER, linked_at, account_id)


_NO_ACCOUNT: AccountRank = (False, _NEVER, _NEVER, 0)


def _rank(row: Sequence[Any]) -> AccountRank:
    """The :func:`account_rank` of a :func:`roster` row's account; no account at all ranks
    lowest."""
    account_id, unreachable_at, _, last_seen_at, linked_at = row[12:17]
    if account_id is None:
        return _NO_ACCOUNT
    return account_rank(account_id, unreachable_at, last_seen_at, linked_at)


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
        meeting_id=session_meeting(session),
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
    """Write many audit entries (columns of :class:`AuditEntry` as dicts) in one statement, in
    ``session``'s transaction and for its meeting (:func:`insert_audit_on`)."""
    if rows:
        connection = await session.connection()
        await connection.run_sync(insert_audit_on, session_meeting(session), rows)


def insert_audit_on(
    connection: Connection, meeting_id: int | None, rows: list[dict[str, Any]]
) -> None:
    """Write many audit entries of the meeting (columns of :class:`AuditEntry` as dicts) in one
    statement.

    Unlike :func:`add_audit` the new ids are not read back, which lets SQLite take the rows
    in one ``executemany`` instead of one INSERT … RETURNING each; and the statement is a plain
    table insert, past the ORM's bulk machinery, which costs more than the insert itself.
    """
    if rows:
        _AUDIT_INSERT.write(connection, [{"meeting_id": meeting_id, **row} for row in rows])


def insert_handled_events(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Store handled event ids (columns of :class:`HandledEvent` as dicts) in one statement,
    as a table insert; an id stored twice (two processes, or a restart between) is no error."""
    _HANDLED_INSERT[connection.dialect.name].write(connection, rows)


def add_replies(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Add to the bots' monthly reply counts (``channel``, ``month``, ``messages`` to add, one
    dict per row of :class:`ReplyCount`; no two the same row), creating the rows not there."""
    _REPLIES_ADD[connection.dialect.name].write(connection, rows)


# How many event ids an account remembers (:func:`first_time`): the events of one chat are
# handled in turn, so a copy delivered again is among the last few, never further back.
RECENT_EVENTS = 20


def first_time(ident: ChannelIdentity, event_id: str | None) -> bool:
    """Remember that ``event_id`` reached ``ident`` (in the caller's transaction, with the
    event's effect); False when it had already: a copy delivered again. No id: always True."""
    if event_id is None:
        return True
    recent = list(ident.recent_events or [])
    if event_id in recent:
        return False
    ident.recent_events = [*recent[-(RECENT_EVENTS - 1) :], event_id]  # a new list is saved
    return True


Menu = tuple[tuple[str, str], ...]  # one message's choices, in order: (label, action data)
# A choice of a menu whose message did not reach the person (``bot.chat.menus``): its data
# behind this prefix, not taken until the menu has reached her.
MENU_UNSEEN = "nd:"
MENUS_KEPT = 3  # earlier menus kept beside the newest: a chase, a speech and a task reminder


async def remember_menu(
    session: AsyncSession,
    channel: str,
    chat_address: str,
    buttons: Iterable[Iterable[Any]],
    *,
    sent_first: tuple[datetime, datetime] | None = None,
) -> None:
    """Keep the choices last sent to an account of a channel without buttons, in order, as
    [label, action data] pairs: the number or words typed next pick one (``bot.chat.menus``).

    ``sent_first``: (now, since) for a message the bot wrote first; the menus of such messages
    sent to the account since ``since``, about other things than the new one (another action
    prefix), are kept beside it, as menus the person may still be answering (they reached her
    together). Without it (an answer to what she typed) the new menu alone counts.
    """
    choices = [[button.label, button.data] for row in buttons for button in row]
    value: dict[str, Any] = {"choices": choices}
    if sent_first is not None:
        at, since = sent_first
        stored = await session.scalar(
            select(ChannelIdentity.menu)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.chat_address == chat_address)
            .limit(1)
        )
        earlier: list[dict[str, Any]] = []
        if isinstance(stored, dict):
            for menu in (stored, *stored.get("earlier", ())):
                sent = menu.get("at")
                # One about the same thing (another draft's post, another task's reminder)
                # is superseded as before: choices alike could not be told apart when asked.
                if (
                    sent
                    and datetime.fromisoformat(sent) >= since
                    and not _menu_kinds(menu["choices"]) & _menu_kinds(choices)
                ):
                    earlier.append({"choices": menu["choices"], "at": sent})
        value.update(at=at.isoformat(), earlier=earlier[:MENUS_KEPT])
    await _store_menu(session, channel, chat_address, value)


async def rewrite_menu(
    session: AsyncSession,
    channel: str,
    chat_address: str,
    stored: object,
    choices: list[Any],
    *,
    position: int = 0,
) -> None:
    """Put ``choices`` ([label, data] pairs) in place of those of the menu at ``position`` of
    :func:`menus_in` in an account's ``stored`` menu (0: the newest), keeping when it came and
    the other menus (a choice marked unseen, or seen again: :mod:`bot.chat.menus`)."""
    value: object
    if not isinstance(stored, dict):
        value = choices if position == 0 else stored
    elif position == 0:
        value = {**stored, "choices": choices}
    else:
        earlier = [dict(menu) for menu in stored.get("earlier", ())]
        earlier[position - 1]["choices"] = choices
        value = {**stored, "earlier": earlier}
    await _store_menu(session, channel, chat_address, value)


async def _store_menu(
    session: AsyncSession, channel: str, chat_address: str, value: object
) -> None:
    """Write an account's stored menu (every identity of that chat on the channel)."""
    await session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.chat_address == chat_address)
        .values(menu=value)
    )


def _menu_kinds(choices: Iterable[Sequence[str]]) -> set[str]:
    """What a menu's choices are about: their action data's prefixes (``rsvp``, ``dr``…)."""
    return {str(data).removeprefix(MENU_UNSEEN).partition(":")[0] for _, data in choices}


def sent_first(stored: object) -> bool:
    """Whether an account's stored ``menu`` came with a message the bot wrote first and has
    not been answered from since (:func:`remember_menu`)."""
    return isinstance(stored, dict) and "at" in stored


def menus_in(stored: object) -> list[Menu]:
    """Every menu an account's stored ``menu`` holds, newest first, an empty one included (its
    position is what :func:`rewrite_menu` takes): the newest, then those sent shortly before it
    that the person may still be answering (a bare list, as stored before December 2026, is
    the newest alone)."""
    if isinstance(stored, dict):
        menus = [
            stored.get("choices") or [],
            *(m.get("choices") or [] for m in stored.get("earlier", ())),
        ]
    else:
        menus = [stored or []]
    return [tuple((str(label), str(data)) for label, data in menu) for menu in menus]


def stored_menus(stored: object) -> tuple[Menu, ...]:
    """The menus an account's stored ``menu`` holds, newest first (:func:`menus_in`, those with
    choices)."""
    return tuple(menu for menu in menus_in(stored) if menu)


def delivery_counts(connection: Connection) -> dict[str, int]:
    """How many deliveries are in each status: one grouped count (on the status index), for
    the metrics; run with :func:`storage.uow.reading`."""
    rows = connection.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
    return {str(status): int(count) for status, count in rows}
