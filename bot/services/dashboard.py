"""What the office's dashboard reads: the figures of the overview, the delegate list with its
filters and search, one delegate's answer, channels and history. Reads only: every change goes
through the use case the chat uses (``rsvp``, ``invitations``…)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import outbound
from bot.domain.outbound import (
    BY_THE_PLAN,
    Audience,
    MessageKind,
    MessageStatus,
    waits_for_a_list,
)
from bot.domain.phones import phone_query
from bot.domain.rsvp import RsvpStatus, read_days
from bot.domain.typed import fold, shortened
from bot.services import roster
from bot.services.audiences import AudienceService
from bot.services.context import RunningChats, ServiceContext
from bot.services.invitations import SentMark
from bot.services.reports import Counts, counts_of, expected_days
from bot.services.views import DelegateView, RsvpView
from storage import queries
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    Invitation,
    OutboundMessage,
    PersonRole,
    Rsvp,
    SpeechAssignment,
    Task,
)
from storage.uow import read_only

# Rows a page of the list shows; the filters narrow it, the next page goes on.
PAGE = 100
# The audiences of the roster a notice may go to (:func:`bot.services.roster.in_audience`): the
# delegates list narrows to one of them, to show who a notice leaves to phone.
NOTICE_AUDIENCES = frozenset(
    str(a) for a in (*outbound.NOTICE_AUDIENCES, Audience.ATTENDING, Audience.GROUP)
)
# Characters of a task's title the overview's «Sắp gửi» shows after its key (a line a reminder).
TASK_TITLE_SHOWN = 60
# Entries a page of the audit log (Nhật ký) shows.
LOG_PAGE = 50
# The answer filter's value listing only the invitations the office withdrew.
WITHDRAWN_FILTER = "withdrawn"


@dataclass(frozen=True)
class Reach:
    """How many invitees a chat channel reaches now, and how many have blocked it."""

    channel: str
    reachable: int
    blocked: int


@dataclass(frozen=True)
class Figures:
    """The overview's figures: the answers' counts, the reach by channel, how many to phone,
    how many invitations have not reached their invitee yet."""

    counts: Counts
    reach: list[Reach]
    to_phone: int  # unanswered, reachable on no chat, their invitation gone out
    unsent: int = 0  # as :meth:`DashboardService.unsent` counts them
    # Invitees with an account on a chat channel this process does not run (linked there in an
    # earlier run, before its token was taken away), by channel: reached on it by nobody.
    idle: list[Reach] = field(default_factory=list)
    # No chat channel runs here at all (a pages-only installation).
    no_chat: bool = False


@dataclass(frozen=True)
class Row:
    """A delegate on the list: who, which group, their answer, where they can be reached."""

    id: int
    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    phone: str | None
    status: RsvpStatus
    channels: tuple[str, ...]  # chat channels they can be reached on now
    blocked: tuple[str, ...]  # chat channels linked but blocked
    withdrawn: bool = False  # the office withdrew the invitation: listed, marked
    # «Tham dự» at a meeting of several days for these days only; None: every day.
    days: tuple[date, ...] | None = None
    # Whom she sends in her place (her answer «Cử người dự thay»): the list names her, as a
    # search by that name finds the row.
    substitute_name: str | None = None


@dataclass(frozen=True)
class Upcoming:
    """A message scheduled to go out."""

    id: int
    kind: MessageKind
    audience: str
    due_at: datetime | None
    # A notice's first words; a task reminder's task, by its key and title (shortened), as two
    # reminders due at one time are for different tasks.
    preview: str
    number: int | None  # a notice's number within the meeting; the other kinds have none
    # One of the plan's messages to people whose time came before any delegate list was
    # imported: the outbox holds it for the list (sent then, if its window is still open).
    waiting: bool = False


@dataclass(frozen=True)
class Activity:
    """A line of the audit log, its author named."""

    at: datetime
    who: str
    action: str
    entity: str
    entity_id: int | None
    subject: str | None  # the person the change is about, when it is a delegate
    after: dict[str, Any] | None
    id: int = 0
    actor: str = ""  # the account as audited ("dashboard:<code>", "telegram:<id>", "cli:…")
    before: dict[str, Any] | None = None
    # "Name (code)" of each person the change names by id (a task's or a draft's person_id).
    names: dict[int, str] = field(default_factory=dict)
    # What the change is about when it is no person: a notice's number, a task's key, a
    # draft's theme and speaker ("1.1 — Nguyễn Thị Lan Phương").
    about: str | None = None


@dataclass(frozen=True)
class ActivityLine:
    """A line of the overview's «Hoạt động gần đây»: the newest of a run of changes made
    together (the same author, the same kind, the same minute: the plan's ten speeches
    assigned at start-up), and how many the run holds."""

    entry: Activity
    count: int = 1


# How many audit entries the overview reads at most to fill its lines (runs folded).
ACTIVITY_READ = 200


@dataclass(frozen=True)
class Filters:
    """The list's filters: group key, answer, channel (reachable on it) and reachability
    ("yes" reachable on some chat, "no" on none, "unopened": not even their page opened), the
    invitation sent ("no": not marked sent, no page opened, no chat linked; "yes": the rest), a
    notice's audience (``no_answer``, ``group:<key>``…: who a notice goes to), and a search by
    name, code, unit."""

    group: str = ""
    answer: str = ""
    channel: str = ""
    reach: str = ""
    search: str = ""
    audience: str = ""
    after: str = ""  # the code the previous page ended with
    sent: str = ""  # "no": invitation not sent nor reached yet; "yes": sent or reached


@dataclass(frozen=True)
class LogFilters:
    """The audit log's filters: who did it (a person's code), what kind of change (an audited
    action such as ``rsvp.changed``), local dates from and to (both included)."""

    who: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    before: int = 0  # the entry the previous page ended with


@dataclass(frozen=True)
class LogPage:
    """A page of the audit log, newest first: its entries, how many match in all, the entry to
    go on before (None on the last page)."""

    entries: list[Activity]
    total: int
    next_before: int | None


# Before the personal page's first opening had its own kind (identity.page_opened, written
# without "via"), it was written as a chat account linked «via» the page. Such rows are read as
# what they were: the office's log says «mở trang cá nhân lần đầu» for them too.
PAGE_OPENED = "identity.page_opened"
_LINKED = "identity.linked"


T = TypeVar("T")


def named_people(
    before: dict[str, Any] | None, after: dict[str, Any] | None, by_id: Mapping[int, T]
) -> dict[int, T]:
    """The people an audit entry names by ``person_id`` (before or after), as ``by_id`` has them."""
    return {
        person_id: by_id[person_id]
        for side in (before, after)
        if isinstance(side, dict)
        and isinstance(person_id := side.get("person_id"), int)
        and person_id in by_id
    }


def audited_kind(action: str, after: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """An audit row's kind and its «after» as they are written now: an old row of a personal
    page opened («identity.linked» via the page) is ``identity.page_opened``, without its
    "via"; any other row as it is."""
    if action == _LINKED and isinstance(after, dict) and after.get("via") == queries.PAGE_LINK:
        return PAGE_OPENED, {key: value for key, value in after.items() if key != "via"}
    return action, after


def _written_as_page_opened() -> ColumnElement[bool]:
    """The rows :func:`audited_kind` reads as a personal page opened, old ones included."""
    old = and_(
        AuditEntry.action == _LINKED, AuditEntry.after["via"].as_string() == queries.PAGE_LINK
    )
    return or_(AuditEntry.action == PAGE_OPENED, old)


async def log_conditions(
    session: Any, ctx: ServiceContext, filters: LogFilters
) -> list[ColumnElement[bool]]:
    """What the audit log's ``filters`` keep, as SQL conditions within the meeting: by who (every
    account the person acts as), by kind, by local dates (both included); not the page
    (``before``). One reading for Nhật ký's pages and for its download, so that the file holds
    exactly what the pages show."""
    wanted: list[ColumnElement[bool]] = [AuditEntry.meeting_id == ctx.meeting_id]
    zone = ctx.config.meeting.zone
    if filters.who:
        wanted.append(AuditEntry.actor.in_(await _accounts_of(session, ctx, filters.who)))
    if filters.action == PAGE_OPENED:  # as the log names them: old rows too
        wanted.append(_written_as_page_opened())
    elif filters.action == _LINKED:
        wanted.append(and_(AuditEntry.action == _LINKED, ~_written_as_page_opened()))
    elif filters.action:
        wanted.append(AuditEntry.action == filters.action)
    if filters.since is not None:
        wanted.append(AuditEntry.at >= datetime.combine(filters.since, time(), zone))
    if filters.until is not None:
        end = datetime.combine(filters.until + timedelta(days=1), time(), zone)
        wanted.append(AuditEntry.at < end)
    return wanted


async def _accounts_of(session: Any, ctx: ServiceContext, code: str) -> list[str]:
    """Every account a person acts as in the audit log: their dashboard sessions and the chat
    accounts linked to them now. The code is matched as lists match it, without case ("nv01"
    is NV01)."""
    found = await queries.delegate_by_code(session, ctx.meeting_id, code)
    code = found.code if found is not None else code.strip()
    rows = await session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id)
        .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
        .where(Delegate.meeting_id == ctx.meeting_id, Delegate.code == code)
    )
    return [f"dashboard:{code}"] + [f"{channel}:{external}" for channel, external in rows]


@dataclass(frozen=True)
class Listing:
    """A page of the list: its rows, how many match in all, the code to go on after."""

    rows: list[Row]
    total: int
    next_after: str | None
    withdrawn: int = 0  # of ``total``, those whose invitation was withdrawn (kept, marked)


@dataclass(frozen=True)
class Identity:
    """One of a delegate's linked accounts."""

    channel: str
    linked_at: datetime
    linked_via: str
    unreachable_at: datetime | None
    last_seen_at: datetime | None


def _takes_messages(identity: Identity) -> bool:
    """A chat account that has not blocked the bot (a personal page is no chat)."""
    return identity.linked_via != queries.PAGE_LINK and identity.unreachable_at is None


@dataclass(frozen=True)
class Card:
    """A delegate's page: who, their answer, their accounts and their history."""

    person: DelegateView
    phone: str | None
    rsvp: RsvpView
    identities: list[Identity]
    history: list[Activity]
    invitation_id: int = 0  # the live personal link's (0: none), for re-issuing it once
    token: str | None = None  # the live link's key, for the invitation message (staff only)
    link_code: str | None = None  # the live personal code (canonical)
    sent: SentMark | None = None  # the office's mark that the live link was sent
    # The first account showing the invitation reached her (as the count «Chưa gửi giấy mời»
    # reads it): a chat, or her page opened since the live link was made.
    reached: Identity | None = None
    # Else when she answered since the live link was made (the office took it by phone): that
    # too shows the invitation reached her, as the count reads it.
    answered: datetime | None = None
    # Her personal page, opened since the live link was made (a chat may have come first):
    # what a re-issue stops opening.
    opened: Identity | None = None
    # A message can reach her: a chat that runs here takes the bot's messages (roster.reachable).
    on_chat: bool = False

    def chats_kept(self, chats: RunningChats) -> list[str]:
        """The channels whose accounts the bot still writes to after her link is re-issued:
        linked in a chat (her page is none), not blocked, on a chat that runs here (of any
        other, «bot vẫn nhắn tin được» would not be true); sorted."""
        return sorted(
            {i.channel for i in self.identities if _takes_messages(i) and chats.runs(i.channel)}
        )

    @property
    def reached_by(self) -> Identity | None:
        """The account to name as the one the invitation reached her on: :attr:`reached`, or,
        when that chat has blocked the bot, another chat of hers that still takes messages."""
        reached = self.reached
        if reached is None or reached.linked_via == queries.PAGE_LINK:
            return reached
        if reached.unreachable_at is not None:
            return next((i for i in self.identities if _takes_messages(i)), reached)
        return reached

    @property
    def blocked_since(self) -> datetime | None:
        """When the chat that showed the invitation reached her stopped taking the bot's
        messages (she blocked the bot), if no other chat of hers takes them: then nothing the
        office sends reaches her, and a call does."""
        shown = self.reached_by
        if shown is None or shown.linked_via == queries.PAGE_LINK:
            return None
        return shown.unreachable_at


class DashboardService:
    """Read-only views for the dashboard, each one short read-only transaction
    (:func:`storage.uow.read_only`: on SQLite they wait for no writer)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        # The figures' statement by the chats that run when it was made (:attr:`_figures_query`).
        self._figures_queries: dict[frozenset[str] | None, Select[Any]] = {}

    def _order(self) -> dict[str, int]:
        return {group.key: group.order for group in self._ctx.config.groups}

    async def reach(self) -> list[Reach]:
        """Invitees reachable and blocked on each chat channel that runs here (an account on
        one that does not, linked before its token was taken away, reaches nobody)."""
        alive = ChannelIdentity.unreachable_at.is_(None)
        chats = self._ctx.chats
        async with read_only(self._ctx.sessions) as session:
            rows = await session.execute(
                select(
                    ChannelIdentity.channel,
                    func.count().filter(alive),
                    func.count().filter(~alive),
                )
                .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
                .where(
                    roster.delegates_of(self._ctx.meeting_id),
                    ChannelIdentity.linked_via != queries.PAGE_LINK,
                )
                .group_by(ChannelIdentity.channel)
                .order_by(ChannelIdentity.channel)
            )
            return [
                Reach(channel, int(yes), int(no))
                for channel, yes, no in rows.all()
                if chats.runs(channel)
            ]

    async def figures(self) -> Figures:
        """The overview's figures in one pass over the roster: the answers by group, status and
        link (as :meth:`ReportService.counts`), the reach by channel (as :meth:`reach`), how
        many to phone (as :meth:`to_phone` finds them) and how many invitations have not
        reached their invitee (as :meth:`unsent`) — read together, as of one moment."""
        async with read_only(self._ctx.sessions) as session:
            connection = await session.connection()  # plain rows: no ORM result machinery
            found = (await connection.execute(self._figures_query)).all()
            days = await expected_days(session, self._ctx.config, self._ctx.meeting_id)
        marked, to_phone = (found[0][-2], found[0][-1]) if found else (0, 0)
        tallies: list[tuple[str, str, bool, int]] = []
        reach: dict[str, list[int]] = {}
        idle: dict[str, list[int]] = {}
        no_account = 0
        chats = self._ctx.chats
        for group_key, status, linked_on, answered, reached, number, _, _ in found:
            if not linked_on and not answered:
                no_account += number
            names = [n for n in linked_on.split(",") if n != _PAGE] if linked_on else []
            # Reached only on the chats that run here, as a notice's preview counts her (and
            # so linked, as ReportService.counts counts her, for /thongke and the workbook).
            running = [n for n in names if chats.runs(n.removeprefix("!"))]
            tallies.append((group_key, status, bool(running), number))
            for name in names:
                blocked = name.startswith("!")
                held = reach if name in running else idle
                held.setdefault(name.removeprefix("!"), [0, 0])[blocked] += number
            # Whom to phone: the invitation reached her (an account: her page, a chat not run
            # here or blocked; without one, the marked above) and no chat that runs does
            # (roster.reachable, the rule of every list).
            if linked_on and status == RsvpStatus.NO_ANSWER and not reached:
                to_phone += number
        return Figures(
            counts=counts_of(self._ctx.config, tallies, days),
            reach=[Reach(channel, yes, no) for channel, (yes, no) in sorted(reach.items())],
            to_phone=to_phone,
            unsent=no_account - marked,
            idle=[Reach(channel, yes, no) for channel, (yes, no) in sorted(idle.items())],
            no_chat=chats.names == frozenset(),
        )

    @property
    def _figures_query(self) -> Select[Any]:
        """The one statement behind :meth:`figures`: a row for each group, answer, accounts,
        whether she answered since her live link was made and whether a chat that runs
        reaches her, with its count and the two counts of the marked beside. The same for
        every request while the same chats run, so built once for them: its making (a dozen
        subqueries and aliases) cost more than a tenth of the overview."""
        names = self._ctx.chats.names
        if names not in self._figures_queries:
            self._figures_queries[names] = self._make_figures_query(names)
        return self._figures_queries[names]

    def _make_figures_query(self, running: frozenset[str] | None) -> Select[Any]:
        """:attr:`_figures_query` for the chats ``running`` (None: every channel counts)."""
        # Each invitee's chat accounts as one text, "telegram,!zalo" ("!": blocked; "~": her
        # personal page opened, no chat), grouped with their group and answer: a few dozen
        # rows however many invitees.
        alive = ChannelIdentity.unreachable_at.is_(None)
        accounts = (
            select(
                func.aggregate_strings(
                    case(
                        (ChannelIdentity.linked_via == queries.PAGE_LINK, _PAGE),
                        (alive, ChannelIdentity.channel),
                        else_="!" + ChannelIdentity.channel,
                    ),
                    ",",
                )
            )
            .where(ChannelIdentity.delegate_id == Delegate.id, roster.shows_link_reached())
            .scalar_subquery()
        )
        each = (
            select(
                Delegate.group_key,
                Rsvp.status,
                accounts.label("accounts"),
                # Her answer is the row joined here: no look-up of it per invitee.
                roster.answer_stands(Rsvp).label("answered"),
                # Whether a chat that runs reaches her, asked of the unanswered alone (whom to
                # phone is of them; in a CASE, SQLite looks up no one else's accounts): asked of
                # every invitee, it cost the poll 7 ms of its 65 at 10,000, so 3 (bench/web.py).
                case(
                    (Rsvp.status == RsvpStatus.NO_ANSWER.value, roster.reachable(running)),
                    else_=None,
                ).label("reached"),
            )
            .join(Rsvp, Rsvp.delegate_id == Delegate.id)
            .where(roster.delegates_of(self._ctx.meeting_id))
            .subquery()
        )
        # Not reached by the invitation (as :meth:`unsent`): those without any account (the
        # aggregate empty, not even her page) nor an answer since her live link, but those
        # among them whose live link is marked sent — counted once, from the few marked links,
        # not looked up for every invitee.
        # Driven by the invitations (a scan, the few marked kept), each checked against the
        # roster: as an IN list, SQLite looked up every invitee's invitations instead (8 ms of
        # the overview's 30 at 10,000 invitees, against 1 ms).
        on_roster = (
            select(Delegate.id)
            .where(Delegate.id == Invitation.delegate_id, roster.delegates_of(self._ctx.meeting_id))
            .exists()
        )

        def marked_unreached(*also: ColumnElement[bool]) -> Select[int]:
            """How many on the roster were marked sent and are on no chat that reaches them."""
            return select(func.count(distinct(Invitation.delegate_id))).where(
                Invitation.sent_at.is_not(None),
                Invitation.revoked_at.is_(None),
                on_roster,
                ~roster.linked_since_link(Invitation.delegate_id),
                *also,
            )

        marked_alone = (
            marked_unreached(~roster.answered_since_link(Invitation.delegate_id))
            .scalar_subquery()
            .label("marked")
        )
        # Of those, the unanswered: their invitation went out (marked), so they are to phone.
        marked_waiting = (
            marked_unreached(
                select(Rsvp.id)
                .where(
                    Rsvp.delegate_id == Invitation.delegate_id,
                    Rsvp.status == RsvpStatus.NO_ANSWER.value,
                )
                .exists()
            )
            .scalar_subquery()
            .label("marked_waiting")
        )
        keys = (each.c.group_key, each.c.status, each.c.accounts, each.c.answered, each.c.reached)
        # The marked counts ride along on every row: one statement, one moment.
        return select(*keys, func.count(), marked_alone, marked_waiting).group_by(*keys)

    async def to_phone(self, limit: int = 20) -> list[Row]:
        """Invitees no chat that runs here reaches (never linked, blocked, or linked only on a
        chat not run), who have not answered though their invitation reached them: the first
        ``limit`` in protocol order (how many in all: :meth:`figures`). One whose invitation
        has not gone out is to be sent it first (:meth:`unsent`), not phoned about an answer."""
        # Whether the invitation reached her is asked of the unanswered alone (of her answer's
        # row): asked of every invitee on the roster first, it cost three times as much.
        her = Rsvp.delegate_id
        where = and_(
            roster.delegates_of(self._ctx.meeting_id),
            Rsvp.status == RsvpStatus.NO_ANSWER.value,
            roster.to_phone(self._ctx.chats.names, her),
        )
        async with read_only(self._ctx.sessions) as session:
            page = (
                await session.execute(
                    select(*_ROW_COLUMNS)
                    .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                    .where(where)
                    .order_by(*roster.protocol_key(self._order()))
                    .limit(limit)
                )
            ).all()
            accounts = await _accounts(session, [r.id for r in page], self._ctx.chats)
        return [_row(r, accounts) for r in page]

    async def upcoming(self, limit: int = 5) -> list[Upcoming]:
        """Messages scheduled to go out, the soonest first. One whose time has come is no
        longer to come: a notice («Gửi ngay», or its time reached, in the moment before the
        outbox takes it) is being sent, as the notices page and ``/lichthongbao`` say, and so
        is one of the plan's; but one of the plan's to people whose time came before any
        delegate list was imported waits for the list (as the outbox holds it): listed first,
        said to wait, not as coming at a time gone by."""
        now = self._ctx.clock.now()
        audiences = AudienceService(self._ctx)
        async with read_only(self._ctx.sessions) as session:
            scheduled = (
                OutboundMessage.meeting_id == self._ctx.meeting_id,
                OutboundMessage.status == MessageStatus.SCHEDULED,
            )
            due = await session.scalars(
                select(OutboundMessage)
                .where(
                    *scheduled,
                    OutboundMessage.due_at <= now,
                    OutboundMessage.created_by == BY_THE_PLAN,
                )
                .order_by(OutboundMessage.due_at, OutboundMessage.id)
            )
            listed: dict[str, bool] = {}  # whether each audience's list is in, asked once
            waiting: list[OutboundMessage] = []
            for message in due:
                if not waits_for_a_list(message.created_by, message.audience):
                    continue
                if message.audience not in listed:
                    listed[message.audience] = await audiences.has_list(session, message.audience)
                if not listed[message.audience] and len(waiting) < limit:
                    waiting.append(message)
            rows = await session.scalars(
                select(OutboundMessage)
                .where(*scheduled, OutboundMessage.due_at > now)
                .order_by(OutboundMessage.due_at, OutboundMessage.id)
                .limit(limit - len(waiting))
            )
            messages = [*waiting, *rows]
            keys = {
                m.audience.partition(":")[2]
                for m in messages
                if m.kind == MessageKind.TASK_REMINDER
            }
            titles: dict[str, str] = {}
            if keys:
                found = await session.execute(
                    select(Task.key, Task.title).where(
                        Task.meeting_id == self._ctx.meeting_id,
                        Task.key.in_(keys),
                        Task.archived_at.is_(None),
                    )
                )
                titles = {key: title for key, title in found}

            def preview(message: OutboundMessage) -> str:
                if message.kind != MessageKind.TASK_REMINDER:
                    return (message.body or "")[:80]
                key = message.audience.partition(":")[2]
                title = titles.get(key)
                return f"{key} {shortened(title, TASK_TITLE_SHOWN)}" if title else key

            return [
                Upcoming(
                    m.id,
                    MessageKind(m.kind),
                    m.audience,
                    m.due_at,
                    preview(m),
                    m.number,
                    waiting=i < len(waiting),
                )
                for i, m in enumerate(messages)
            ]

    async def activity(self, limit: int = 10) -> list[Activity]:
        """The latest audited changes, the newest first."""
        async with read_only(self._ctx.sessions) as session:
            entries = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.meeting_id == self._ctx.meeting_id)
                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                    .limit(limit)
                )
            )  # fmt: skip
            return await self._named(session, entries)

    async def activity_lines(self, limit: int = 10) -> list[ActivityLine]:
        """The overview's latest changes, the newest first, a run of the same change by the
        same author in the same minute folded into one line with its count: ten identical
        «phân công tham luận» lines pushed the import out of sight. The runs are found from
        the entries' author, kind and time alone; only each line's newest entry is read whole
        and named (reading and naming all the entries looked over cost the overview 40 ms at
        10,000 invitees)."""
        newest_first = (AuditEntry.at.desc(), AuditEntry.id.desc())
        async with read_only(self._ctx.sessions) as session:
            looked = (
                await session.execute(
                    select(AuditEntry.id, AuditEntry.actor, AuditEntry.action, AuditEntry.at)
                    .where(AuditEntry.meeting_id == self._ctx.meeting_id)
                    .order_by(*newest_first)
                    .limit(ACTIVITY_READ)
                )
            ).all()
            runs: list[tuple[Any, int]] = []  # each run's newest entry, and how many it holds
            for entry in looked:
                if runs and _same_run(runs[-1][0], entry):
                    runs[-1] = (runs[-1][0], runs[-1][1] + 1)
                    continue
                if len(runs) == limit:
                    break
                runs.append((entry, 1))
            heads = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.id.in_([head.id for head, _ in runs]))
                    .order_by(*newest_first)
                )
            )
            named = await self._named(session, heads)
        return [ActivityLine(entry, count) for entry, (_, count) in zip(named, runs, strict=True)]

    async def log(self, filters: LogFilters, limit: int = LOG_PAGE) -> LogPage:
        """A page of the audit log as the filters narrow it, the newest first: filtered, counted
        and paged in SQL (the indexes of migration 0014), the page's authors named."""
        async with read_only(self._ctx.sessions) as session:
            wanted = await log_conditions(session, self._ctx, filters)
            total = int(await session.scalar(select(func.count(AuditEntry.id)).where(*wanted)) or 0)
            page = select(AuditEntry).where(*wanted)
            if filters.before:
                last = await session.get(AuditEntry, filters.before)
                if last is not None:  # strictly older than the previous page's last entry
                    page = page.where(
                        or_(
                            AuditEntry.at < last.at,
                            and_(AuditEntry.at == last.at, AuditEntry.id < last.id),
                        )
                    )
            entries = list(
                await session.scalars(
                    page.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)
                )
            )
            more = len(entries) > limit
            entries = entries[:limit]
            named = await self._named(session, entries)
            return LogPage(named, total, entries[-1].id if more and entries else None)

    async def staff(self) -> list[tuple[str, str]]:
        """The people holding a role on the office's side (office, check-in): code and name,
        in code order, for the audit log's "who" choice."""
        async with read_only(self._ctx.sessions) as session:
            rows = await session.execute(
                select(Delegate.code, Delegate.full_name)
                .join(PersonRole, PersonRole.person_id == Delegate.id)
                .where(Delegate.meeting_id == self._ctx.meeting_id)
                .distinct()
                .order_by(Delegate.code)
            )
            return [(code, name) for code, name in rows.all()]

    async def _named(self, session: Any, entries: list[AuditEntry]) -> list[Activity]:
        """Audit entries with their authors and subjects as people's names."""
        accounts = {e.actor for e in entries}
        names = {
            actor: name
            for actor, (name, _) in (
                await queries.people_behind(session, self._ctx.meeting_id, accounts)
            ).items()
        }
        for account in accounts - names.keys():
            if account.startswith("dashboard:"):  # a clerk no longer on the list: the code
                names[account] = account.partition(":")[2]
        ids = {e.entity_id for e in entries if e.entity == "delegate" and e.entity_id}
        ids |= {
            person_id
            for e in entries
            for side in (e.before, e.after)
            if isinstance(side, dict) and isinstance(person_id := side.get("person_id"), int)
        }
        by_id: dict[int, str] = {}
        if ids:
            subjects = await session.execute(
                select(Delegate.id, Delegate.full_name).where(
                    Delegate.meeting_id == self._ctx.meeting_id, Delegate.id.in_(ids)
                )
            )
            by_id = {person_id: name for person_id, name in subjects}
        things = await self._things(session, entries)
        activities = []
        for e in entries:
            action, after = audited_kind(e.action, e.after)  # an old row as written now
            activities.append(
                Activity(
                    at=e.at,
                    who=names.get(e.actor, e.actor),
                    action=action,
                    entity=e.entity,
                    entity_id=e.entity_id,
                    subject=(
                        by_id.get(e.entity_id) if e.entity == "delegate" and e.entity_id else None
                    ),
                    after=after,
                    id=e.id,
                    actor=e.actor,
                    before=e.before,
                    names=named_people(e.before, e.after, by_id),
                    about=things.get((e.entity, e.entity_id or 0)),
                )
            )
        return activities

    async def _things(self, session: Any, entries: list[AuditEntry]) -> dict[tuple[str, int], str]:
        """The names of the notices, tasks, drafts and documents the entries are about."""
        wanted: dict[str, set[int]] = {}
        for e in entries:
            if e.entity_id:
                wanted.setdefault(e.entity, set()).add(e.entity_id)
        found: dict[tuple[str, int], str] = {}
        for e in entries:
            # A document by its title, as audited with each step (a title never changes): no
            # read, and a document's entries name it even after a purge.
            title = e.after.get("title") if isinstance(e.after, dict) else None
            if e.entity == "meeting_document" and e.entity_id and isinstance(title, str):
                found["meeting_document", e.entity_id] = title
        if ids := wanted.get("outbound_message"):
            # A notice by its number within the meeting, as the office calls it everywhere.
            for message_id, number in await session.execute(
                select(OutboundMessage.id, OutboundMessage.number).where(
                    OutboundMessage.id.in_(ids)
                )
            ):
                if number is not None:  # every notice the log names was confirmed: numbered
                    found["outbound_message", message_id] = str(number)
        if ids := wanted.get("task"):
            for task_id, key in await session.execute(
                select(Task.id, Task.key).where(Task.id.in_(ids))
            ):
                found["task", task_id] = key
        if ids := wanted.get("speech_assignment"):
            for row_id, theme, name in await session.execute(
                select(SpeechAssignment.id, SpeechAssignment.theme_key, Delegate.full_name)
                .join(Delegate, Delegate.id == SpeechAssignment.person_id)
                .where(SpeechAssignment.id.in_(ids))
            ):
                found["speech_assignment", row_id] = f"{theme} — {name}"
        return found

    async def delegates(self, filters: Filters, limit: int = PAGE) -> Listing:
        """A page of invitees in protocol order, as the filters and the search narrow it; the
        search ignores diacritics and case ("nguyen thi ha" finds "Nguyễn Thị Hà").

        Withdrawn invitations are listed, marked, unless an answer or a reach is asked for:
        those filters find whom to phone, and she is no longer to be phoned. ``answer``
        ``withdrawn`` lists only them."""
        order = self._order()
        wanted: list[ColumnElement[bool]] = [roster.listed_of(self._ctx.meeting_id)]
        if filters.group:
            wanted.append(Delegate.group_key == filters.group)
        if filters.answer == WITHDRAWN_FILTER:
            wanted.append(~roster.invited())
        elif filters.answer in {s.value for s in RsvpStatus}:
            wanted += [Rsvp.status == filters.answer, roster.invited()]
        if filters.channel:  # reachable on it, if it runs here (as «Liên lạc» asks)
            running = self._ctx.chats.names
            on = {filters.channel} if running is None else {filters.channel} & running
            wanted.append(roster.reachable(on))
        audience = notice_audience(filters.audience)
        if audience:
            wanted.append(roster.in_audience(audience, self._ctx.figures_day()))
        # Whom to reach or phone, as every count reads it: not a withdrawn one.
        if filters.reach or filters.channel or audience or filters.sent:
            wanted.append(roster.invited())
        if filters.sent == "no":
            wanted.append(roster.invitation_unsent())
        elif filters.sent == "yes":
            wanted.append(~roster.invitation_unsent())
        if filters.reach == "yes":  # as the overview counts them: on the chats that run
            wanted.append(roster.reachable(self._ctx.chats.names))
        elif filters.reach == "no":
            wanted.append(~roster.reachable(self._ctx.chats.names))
        elif filters.reach == "unopened":  # no page opened, no chat linked: the paper alone
            wanted.append(~select(ChannelIdentity.id).where(
                ChannelIdentity.delegate_id == Delegate.id).exists())  # fmt: skip
        needle = fold(filters.search)
        async with read_only(self._ctx.sessions) as session:
            if needle:
                wanted.append(await self._found(session, filters.search, needle))
            where = and_(*wanted)
            base = select(*_ROW_COLUMNS).join(Rsvp, Rsvp.delegate_id == Delegate.id).where(where)
            # How many, and how many of them withdrawn: the list keeps those, every other
            # screen's total leaves them out, and the count line says the difference.
            counted = select(func.count(), func.count(Delegate.withdrawn_at)).select_from(Delegate)
            counted = counted.join(Rsvp, Rsvp.delegate_id == Delegate.id).where(where)
            total, withdrawn = (await session.execute(counted)).one()
            key = None
            if filters.after:
                found = await session.execute(
                    roster.key_of(order, self._ctx.meeting_id, filters.after)
                )
                first = found.first()
                key = None if first is None else tuple(first)
            page = list(
                await session.execute(
                    base.where(roster.after_key(order, key))
                    .order_by(*roster.protocol_key(order))
                    .limit(limit + 1)
                )
            )
            more = len(page) > limit
            page = page[:limit]
            accounts = await _accounts(session, [r.id for r in page], self._ctx.chats)
        listed = [_row(r, accounts) for r in page]
        return Listing(
            listed, int(total or 0), page[-1].code if more and page else None,
            withdrawn=int(withdrawn or 0),
        )  # fmt: skip

    async def _found(self, session: AsyncSession, typed: str, needle: str) -> ColumnElement[bool]:
        """Who the list's search finds, as the reception desk's search does: the name, code,
        unit or position holding ``needle`` (``typed`` folded), the phone number ending with
        the digits typed (six or more, spaces and «+84» aside: «0386 003 246», «003246»; hers
        or her substitute's), or the substitute she named."""
        # The folded text kept with each person (migration 0019): the matches are chosen,
        # counted and paged in SQL like any filter, and only the page's rows are read.
        found: list[ColumnElement[bool]] = [Delegate.search_text.contains(needle, autoescape=True)]
        number = phone_query(typed)
        if number:  # stored as E.164: the national digits, or the last ones, end it
            found.append(Delegate.phone.endswith(number, autoescape=True))
            found.append(
                (Rsvp.status == RsvpStatus.SUBSTITUTE.value)
                & Rsvp.substitute_phone.endswith(number, autoescape=True)
            )
        # The substitutes named, a few in a meeting: their names compared folded here (SQL
        # cannot fold Vietnamese), the people who sent them found by id.
        named = await session.execute(
            select(Rsvp.delegate_id, Rsvp.substitute_name)
            .join(Delegate, Delegate.id == Rsvp.delegate_id)
            .where(
                roster.listed_of(self._ctx.meeting_id),
                Rsvp.status == RsvpStatus.SUBSTITUTE.value,
                Rsvp.substitute_name.is_not(None),
            )
        )
        sent = [person for person, name in named if needle in fold(name or "")]
        if sent:
            found.append(Delegate.id.in_(sent))
        return or_(*found)

    async def card(self, code: str) -> Card | None:
        """A delegate's page by their code, matched as every typed code is ("db001" is
        DB001, :func:`storage.queries.delegate_by_code`), or None when no invitee has it."""
        async with read_only(self._ctx.sessions) as session:
            person = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
            if person is None:
                return None
            rsvp = await queries.rsvp_of(session, person.id)
            idents = await session.scalars(
                select(ChannelIdentity)
                .where(ChannelIdentity.delegate_id == person.id)
                .order_by(ChannelIdentity.linked_at)
            )
            identities = [
                Identity(i.channel, i.linked_at, i.linked_via, i.unreachable_at, i.last_seen_at)
                for i in idents
            ]
            entries = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.entity == "delegate", AuditEntry.entity_id == person.id)
                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                    .limit(50)
                )
            )
            history = await self._named(session, entries)
            on_chat = bool(
                await session.scalar(select(roster.reachable(self._ctx.chats.names, person.id)))
            )
            live = await session.scalar(
                select(Invitation)
                .where(Invitation.delegate_id == person.id, Invitation.revoked_at.is_(None))
                .order_by(Invitation.id.desc())
                .limit(1)
            )
        reached = next(
            (
                i for i in identities
                if i.linked_via != queries.PAGE_LINK or live is None
                or i.linked_at >= live.created_at
            ),
            None,
        )  # fmt: skip
        opened = next(
            (
                i for i in identities
                if i.linked_via == queries.PAGE_LINK
                and (live is None or i.linked_at >= live.created_at)
            ),
            None,
        )  # fmt: skip
        answer = RsvpView.of(rsvp)
        answered = None
        if (
            reached is None
            and answer.status is not RsvpStatus.NO_ANSWER
            and answer.answered_at is not None
            and (live is None or answer.answered_at >= live.created_at)
        ):
            answered = answer.answered_at
        sent = None
        if live is not None and live.sent_at is not None:
            sent = SentMark(live.sent_at, live.sent_via or "other", live.sent_by or "")
        return Card(
            DelegateView.of(person), person.phone, answer, identities, history,
            invitation_id=0 if live is None else live.id,
            token=None if live is None else live.token,
            link_code=None if live is None else live.link_code, sent=sent, reached=reached,
            answered=answered, opened=opened, on_chat=on_chat,
        )  # fmt: skip

    async def unsent(self) -> int:
        """How many invitees have not been reached by their invitation yet: not marked sent by
        the office, and neither a chat linked nor their personal page opened since the live
        link was made (either of which shows the link reached them, marked or not)."""
        async with read_only(self._ctx.sessions) as session:
            found = await session.scalar(
                select(func.count())
                .select_from(Delegate)
                .where(roster.delegates_of(self._ctx.meeting_id), roster.invitation_unsent())
            )
        return int(found or 0)

    async def task_history(self, task_id: int, limit: int = 100) -> list[Activity]:
        """A task's audited changes (reports, deliverables, the office closing and reopening
        it), the newest first, their authors named."""
        async with read_only(self._ctx.sessions) as session:
            entries = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.entity == "task", AuditEntry.entity_id == task_id)
                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                    .limit(limit)
                )
            )
            return await self._named(session, entries)


class _Audited(Protocol):
    """What tells a run of changes: the author as audited, the kind, the time."""

    actor: str
    action: str
    at: datetime


def _same_run(newer: _Audited, older: _Audited) -> bool:
    """Whether ``older`` belongs to the run of changes ``newer`` heads: same author (as
    audited), same kind, same minute."""
    return (
        newer.actor == older.actor
        and newer.action == older.action
        and newer.at.replace(second=0, microsecond=0) == older.at.replace(second=0, microsecond=0)
    )


# How :meth:`DashboardService.figures` writes a personal page's account among the chats'.
_PAGE = "~"


# A list's row as read: the columns of :class:`Row` but its accounts (see :func:`_row`).
_ROW_COLUMNS = (
    Delegate.id, Delegate.code, Delegate.full_name, Delegate.position, Delegate.organization,
    Delegate.group_key, Delegate.phone, Rsvp.status, Delegate.withdrawn_at, Rsvp.days,
    Rsvp.substitute_name,
)  # fmt: skip


def _row(r: Any, accounts: dict[int, tuple[tuple[str, ...], tuple[str, ...]]]) -> Row:
    """A list's row from its columns (:data:`_ROW_COLUMNS`) and :func:`_accounts`' accounts."""
    return Row(r.id, r.code, r.full_name, r.position, r.organization, r.group_key, r.phone,
               RsvpStatus(r.status), *accounts.get(r.id, ((), ())),
               withdrawn=r.withdrawn_at is not None, days=read_days(r.days),
               substitute_name=r.substitute_name)  # fmt: skip


def notice_audience(value: str) -> str:
    """``value`` when it names an audience a notice can be sent to (the roster's: everyone,
    linked, an answer, a group), else "" (nothing to filter on)."""
    kind, _, _ = value.partition(":")
    return value if kind in NOTICE_AUDIENCES else ""


async def _accounts(
    session: Any, ids: list[int], chats: RunningChats
) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """For each delegate, the chat channels they are reachable on and those they blocked,
    among the chats that run here (an account on another reaches nobody: not listed)."""
    found: dict[int, tuple[list[str], list[str]]] = {}
    if ids:
        rows = await session.execute(
            select(
                ChannelIdentity.delegate_id,
                ChannelIdentity.channel,
                ChannelIdentity.unreachable_at,
            ).where(
                ChannelIdentity.delegate_id.in_(ids),
                ChannelIdentity.linked_via != queries.PAGE_LINK,
            )
        )
        for delegate_id, channel, unreachable_at in rows.all():
            yes, no = found.setdefault(delegate_id, ([], []))
            if chats.runs(channel):
                (yes if unreachable_at is None else no).append(channel)
    return {k: (tuple(sorted(y)), tuple(sorted(n))) for k, (y, n) in found.items()}
