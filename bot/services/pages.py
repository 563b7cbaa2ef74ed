"""What a personal page shows, read in a few statements without a writing transaction.

A page is opened far more often than anything on it changes: every view used to read the
person, the answer, the tasks and the drafts through a dozen ORM statements, each in a
transaction that took SQLite's writer's lock. Here an already-opened page is read with Core
selects in one read-only transaction (:func:`storage.uow.reading`): the person, the invitation
and the answer in one statement; the tasks, the deliverables, the drafts, their versions and
their threads in a second, only for a person who has any; the office's notices she was sent
in a third, only once there is one. The rows become plain frozen values. Anything else (a
first view, a wrong token) is
:meth:`bot.services.invitations.InvitationService.open_page`'s, which writes.

Nothing is kept between views: each reads the database as it is (an answer just given, a
change made from the command line by another process, the deadline passed on the clock).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Date,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.types import TypeEngine

from bot.config import Meeting
from bot.delegate_file import ROLE_CONTACT
from bot.domain.channels import ChatAccount, LinkedChat
from bot.domain.checkin import SUBSTITUTE_CHECKIN, CheckedIn
from bot.domain.drafts import CommentLine, DraftStatus, VersionLine
from bot.domain.outbound import (
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    SkipReason,
    passed_on_to,
)
from bot.domain.rsvp import RsvpStatus, read_days
from bot.domain.tasks import TaskStatus, is_overdue
from bot.domain.tokens import looks_like_token
from bot.services.access import DASHBOARD
from bot.services.context import ServiceContext
from bot.services.documents import PUBLISHED, DocumentLine, document_line
from bot.services.invitations import page_account
from bot.services.views import DelegateView, RsvpView
from storage.base import UTCDateTime
from storage.models import (
    ChannelIdentity,
    Checkin,
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    Invitation,
    MeetingDocument,
    OutboundMessage,
    Rsvp,
    SpeechAssignment,
    Task,
    TaskAssignment,
    TaskEvidence,
)
from storage.queries import PAGE_LINK
from storage.uow import reading

T = TypeVar("T")


@dataclass(frozen=True)
class PageEvidence:
    """A deliverable the person sent for a task: a stored file or a link."""

    id: int
    kind: str  # "file" or "link"
    name: str
    url: str | None
    size: int | None
    created_at: datetime
    by_office: bool = False  # attached by the office to its record of her report, not hers


@dataclass(frozen=True)
class PageTask:
    """One of the person's tasks, with their own report on it."""

    id: int
    key: str
    title: str
    deliverable: str | None
    deadline_at: datetime
    closed: bool
    overdue: bool
    status: TaskStatus
    note: str | None
    evidence: tuple[PageEvidence, ...] = ()
    # When the office recorded her report for her (by phone, on paper...): ``note`` then says
    # how it came, and is not hers; None when the last word on it is her own.
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class PageDraft:
    """One of the person's speech assignments: its versions (newest first) and its thread."""

    id: int
    theme_key: str
    theme_title: str
    deadline_at: datetime
    status: DraftStatus
    versions: tuple[VersionLine, ...] = ()
    thread: tuple[CommentLine, ...] = ()
    # The office withdrew it after she sent versions: they are kept to read, no new one taken.
    withdrawn: bool = False
    # Past its deadline with nothing sent, as the office's «Tham luận chưa gửi» reads it
    # (bot.domain.drafts.DraftLine.late).
    late: bool = False


@dataclass(frozen=True)
class PageNotice:
    """A notice of the office the person was sent (or would have been, had a chat reached
    her): its number, when it went out, and the office's words as typed."""

    number: int
    sent_at: datetime
    body: str
    # On the meeting day, to those present or awaited through the substitute she sent: the
    # substitute it is for (bot.domain.outbound.passed_on_to), as her chat's copy opens.
    for_substitute: str | None = None


@dataclass(frozen=True)
class PageView:
    """An opened personal page: whose it is, the account it acts as, what it shows."""

    account: ChatAccount
    delegate: DelegateView
    rsvp: RsvpView
    tasks: tuple[PageTask, ...] = ()
    drafts: tuple[PageDraft, ...] = ()
    link_code: str = ""  # the personal code (canonical), typed where no link carries the token
    notices: tuple[PageNotice, ...] = ()  # the office's notices she was sent, newest first
    # The documents the office published, newest first (none for a withdrawn invitation).
    documents: tuple[DocumentLine, ...] = ()
    # The chat accounts she linked, first linked first: her page says she is linked there
    # rather than inviting her to link again.
    chats: tuple[LinkedChat, ...] = ()
    # Let in at the desk (she or her substitute): her pass says so in place of «show this».
    checkin: CheckedIn | None = None


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


DELEGATES = _table(Delegate)
INVITATIONS = _table(Invitation)
IDENTITIES = _table(ChannelIdentity)
RSVPS = _table(Rsvp)
TASKS = _table(Task)
TASK_ASSIGNMENTS = _table(TaskAssignment)
EVIDENCE = _table(TaskEvidence)
SPEECHES = _table(SpeechAssignment)
DOCUMENTS = _table(MeetingDocument)
DELIVERIES = _table(Delivery)
MESSAGES = _table(OutboundMessage)
VERSIONS = _table(DraftVersion)
COMMENTS = _table(DraftComment)
CHECKINS = _table(Checkin)


def _shown_speech(s: Any) -> ColumnElement[bool]:
    """A speech the page shows: live, or withdrawn by the office after she sent versions
    (kept for her to read, marked as withdrawn)."""
    sent = VERSIONS.alias("sent")  # its own name: the versions part reads VERSIONS too
    return or_(s.c.withdrawn_at.is_(None), exists().where(sent.c.assignment_id == s.c.id))


def _her_notices(person: ColumnElement[int]) -> ColumnElement[bool]:
    """The office's notices that went out with a copy for ``person``.

    Who was in a notice's audience is what the outbox wrote when the notice fell due: one
    delivery row for everyone its audience named then, those no chat reaches included (as
    ``not_linked`` or ``blocked``: the office's list to phone). So a notice cancelled or
    still waiting for its time has no copy for anyone, and one sent before she was on the
    list, or to an audience she was not in, has none for her. A copy skipped because her
    invitation was withdrawn meanwhile was never hers to read. A notice whose every copy ran
    out on chat (the bot stopped while sending it: SKIPPED, as expired) was still sent by the
    office to her: the page is where she can still read it. Reminders and the automatic
    messages are no notices (``kind``), even were one ever numbered."""
    dl, m = DELIVERIES, MESSAGES
    return and_(
        dl.c.delegate_id == person,
        m.c.id == dl.c.message_id,
        m.c.meeting_id == bindparam("meeting_id", type_=Integer),
        m.c.kind == MessageKind.BROADCAST.value,
        m.c.status.in_(
            [MessageStatus.QUEUED.value, MessageStatus.DONE.value, MessageStatus.SKIPPED.value]
        ),
        m.c.number.is_not(None),
        or_(
            dl.c.status != DeliveryStatus.SKIPPED.value,
            func.coalesce(dl.c.last_error, "") != SkipReason.WITHDRAWN.value,
        ),
    )


def _notices_statement() -> Select[Any]:
    """The person's notices, newest first (by when they went out, then by number)."""
    m = MESSAGES
    sent_at = func.coalesce(m.c.queued_at, m.c.due_at)
    return (
        select(m.c.number, sent_at.label("sent_at"), m.c.body, m.c.audience)
        .select_from(DELIVERIES.join(m, m.c.id == DELIVERIES.c.message_id))
        .where(_her_notices(bindparam("person_id", type_=Integer)))
        .order_by(sent_at.desc(), m.c.number.desc())
    )


def _person_statement(*, by_day: bool = False) -> Select[Any]:
    """The person of a token with their answer and her check-in at the desk (if any, not
    undone: at most one, by the partial unique index — of the meeting day ``day`` with
    ``by_day``, a meeting of several days); whether the page was opened before with this
    link; whether there is more to read."""
    d, i, r, ci, ch = DELEGATES, INVITATIONS, RSVPS, IDENTITIES, CHECKINS
    present = and_(ch.c.delegate_id == d.c.id, ch.c.undone_at.is_(None))
    if by_day:
        present = and_(present, ch.c.day == bindparam("day", type_=Date))
    channel = bindparam("channel", type_=String)
    return (
        select(
            d.c.id,
            d.c.code,
            d.c.full_name,
            d.c.position,
            d.c.organization,
            d.c.group_key,
            d.c.role,
            d.c.withdrawn_at,
            d.c.withdrawn_reason,
            i.c.token,
            i.c.link_code,
            r.c.status,
            r.c.reason,
            r.c.substitute_name,
            r.c.substitute_position,
            r.c.answered_at,
            r.c.substitute_unit,
            r.c.substitute_phone,
            r.c.days,
            ch.c.kind.label("checkin_kind"),
            ch.c.full_name.label("checkin_name"),
            ch.c.desk.label("checkin_desk"),
            ch.c.checked_in_at.label("checkin_at"),
            # Opened with this link: a page first opened with a link re-issued since is opened
            # again through open_page, which records that this link reached her.
            exists()
            .where(
                ci.c.channel == channel,
                ci.c.external_id == cast(d.c.id, String),
                ci.c.linked_at >= i.c.created_at,
            )
            .label("opened"),
            exists()
            .where(
                TASK_ASSIGNMENTS.c.person_id == d.c.id,
                TASKS.c.id == TASK_ASSIGNMENTS.c.task_id,
                TASKS.c.meeting_id == bindparam("meeting_id", type_=Integer),
                TASKS.c.archived_at.is_(None),
            )
            .label("has_tasks"),
            exists()
            .where(
                SPEECHES.c.person_id == d.c.id,
                SPEECHES.c.meeting_id == bindparam("meeting_id", type_=Integer),
                _shown_speech(SPEECHES),
            )
            .label("has_drafts"),
            exists().where(_her_notices(d.c.id)).label("has_notices"),
            exists()
            .where(ci.c.delegate_id == d.c.id, ci.c.linked_via != PAGE_LINK)
            .label("has_chats"),
            exists()
            .where(
                DOCUMENTS.c.meeting_id == bindparam("meeting_id", type_=Integer),
                DOCUMENTS.c.hidden_at.is_(None),
            )
            .label("has_documents"),
        )
        .select_from(
            i.join(d, d.c.id == i.c.delegate_id)
            .join(r, r.c.delegate_id == d.c.id)
            .outerjoin(ch, present)
        )
        .where(
            i.c.token == bindparam("token", type_=String),
            i.c.revoked_at.is_(None),
            # Another meeting's token (the last conference's link, opened then) is no page of
            # this one: its person, answer and check-in are that meeting's.
            d.c.meeting_id == bindparam("meeting_id", type_=Integer),
        )
    )


# The columns every part of the second statement has, and their types: a part fills those it
# has and leaves the others NULL (a UNION's rows share the first part's columns and types).
_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("kind", String()),
    ("id", Integer()),
    ("parent", Integer()),
    ("number", Integer()),
    ("size", Integer()),
    ("a", String()),
    ("b", String()),
    ("c", String()),
    ("d", String()),
    ("e", String()),
    ("at", UTCDateTime()),
    ("flag", Boolean()),
    ("flag2", Boolean()),
    ("at2", UTCDateTime()),
    ("flag3", Boolean()),
)


def _part(kind: str, **given: Any) -> list[ColumnElement[Any]]:
    """One part's columns in :data:`_COLUMNS`' order."""
    columns: list[ColumnElement[Any]] = []
    for name, type_ in _COLUMNS:
        if name == "kind":
            value: Any = literal(kind, String())
        else:
            value = given.pop(name, None)
        # A missing column is a typed NULL: PostgreSQL types a bare NULL in a UNION's first
        # part as text, then refuses the integers of the next part under it.
        column = cast(null(), type_) if value is None else type_coerce(value, type_)
        columns.append(column.label(name))
    assert not given, given
    return columns


def _details_statement() -> Any:
    """The person's live tasks (their report, whether every assignee is done), the
    deliverables they sent, their live speech assignments, the versions and the threads."""
    t, a, ev = TASKS, TASK_ASSIGNMENTS, EVIDENCE
    s, v, c = SPEECHES, VERSIONS, COMMENTS
    person = bindparam("person_id", type_=Integer)
    meeting = bindparam("meeting_id", type_=Integer)
    others = a.alias("others")
    live_task = and_(t.c.meeting_id == meeting, t.c.archived_at.is_(None))
    live_speech = and_(s.c.meeting_id == meeting, _shown_speech(s))
    tasks = select(
        *_part(
            "task",
            id=t.c.id,
            a=t.c.key,
            b=t.c.title,
            c=a.c.note,
            d=a.c.status,
            e=t.c.deliverable,
            at=t.c.deadline_at,
            flag=t.c.closed_at.is_not(None),
            flag2=~exists().where(others.c.task_id == t.c.id, others.c.status != "done"),
            at2=a.c.updated_at,
            # last changed on the dashboard: the office recorded her report (record_for)
            flag3=a.c.updated_by.startswith(f"{DASHBOARD}:", autoescape=True),
        )
    ).where(a.c.task_id == t.c.id, a.c.person_id == person, live_task)
    evidence = select(
        *_part(
            "evidence",
            id=ev.c.id,
            parent=a.c.task_id,
            size=ev.c.size,
            a=ev.c.name,
            b=ev.c.url,
            c=ev.c.kind,
            at=ev.c.created_at,
            flag=ev.c.channel == DASHBOARD,  # the office's, with its record of her report
        )
    ).where(ev.c.assignment_id == a.c.id, a.c.person_id == person, a.c.task_id == t.c.id, live_task)
    drafts = select(
        *_part(
            "draft",
            id=s.c.id,
            a=s.c.theme_key,
            d=s.c.status,
            at=s.c.deadline_at,
            flag=s.c.withdrawn_at.is_not(None),
        )
    ).where(s.c.person_id == person, live_speech)
    versions = select(
        *_part(
            "version",
            id=v.c.id,
            parent=v.c.assignment_id,
            number=v.c.number,
            size=v.c.size,
            a=v.c.display_name,
            b=v.c.kind,
            c=v.c.sha256,
            at=v.c.created_at,
        )
    ).where(v.c.assignment_id == s.c.id, s.c.person_id == person, live_speech)
    about = v.alias("about")
    comments = (
        select(
            *_part(
                "comment",
                id=c.c.id,
                parent=c.c.assignment_id,
                number=about.c.number,
                a=c.c.author_name,
                b=c.c.body,
                c=c.c.file_name,
                d=c.c.file_ref,
                e=c.c.file_channel,
                at=c.c.created_at,
                flag=c.c.from_office,
            )
        )
        .select_from(c.join(s, s.c.id == c.c.assignment_id))
        .outerjoin(about, about.c.id == c.c.version_id)
        .where(s.c.person_id == person, live_speech)
    )
    return union_all(tasks, evidence, drafts, versions, comments)


PERSON = _person_statement()
PERSON_ON_DAY = _person_statement(by_day=True)  # a meeting of several days: today's check-in
DETAILS = _details_statement()
NOTICES = _notices_statement()
# The chat accounts she linked (not the page's own), first linked first.
CHATS = (
    select(IDENTITIES.c.channel, IDENTITIES.c.linked_at, IDENTITIES.c.unreachable_at)
    .where(
        IDENTITIES.c.delegate_id == bindparam("person_id", type_=Integer),
        IDENTITIES.c.linked_via != PAGE_LINK,
    )
    .order_by(IDENTITIES.c.linked_at, IDENTITIES.c.id)
)


class DeskPass(StrEnum):
    """How a personal page shows the QR and code to show at the reception desk."""

    # The day before the meeting and its days: at the top, large, for the desk to scan.
    PROMINENT = "prominent"
    # Before that: folded away at the foot of the page, for whoever wants it early.
    FOLDED = "folded"


def desk_pass(
    meeting: Meeting, view: PageView, now: datetime, *, answers_open: bool
) -> DeskPass | None:
    """Whether and how ``view``'s page shows the desk's QR and code at ``now``: for whom the
    desk expects (an invitee not withdrawn who has not declined; one who sent a substitute
    too, for the substitute comes in on the invitee's card, as with the slip), until the
    meeting's last day is over; once she (or her substitute) is checked in, it says so at
    the top in place of the QR. One who declined has it once the answers are closed
    (``answers_open`` false): she cannot change her answer any more, the desk lets her in
    if she comes after all, and her page tells her to show this code."""
    if view.delegate.is_contact or view.delegate.withdrawn:
        return None
    today = meeting.local(now).date()
    first_day = meeting.local(meeting.starts_at).date()
    if today > meeting.local(meeting.ends_at).date():
        return None
    if view.checkin is not None:  # in the hall (a decliner who came too): said at the top
        return DeskPass.PROMINENT
    if view.rsvp.status is RsvpStatus.DECLINED and answers_open:
        return None
    return DeskPass.PROMINENT if today >= first_day - timedelta(days=1) else DeskPass.FOLDED


class PageService:
    """Reads personal pages that were opened before (see the module's docstring)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._themes = {theme.key: theme.title for theme in ctx.config.themes}
        self._theme_order = {theme.key: index for index, theme in enumerate(ctx.config.themes)}

    async def view(self, token: str, *, channel: str, details: bool = True) -> PageView | None:
        """The page of ``token`` as ``channel`` shows it (with its tasks and drafts if
        ``details``); None when it is not simply to be read: a token that is no live
        invitation's, or a page never opened (for ``open_page`` to answer, and record).

        A live token opens its page whoever asks, however many wrong links their address sent
        lately: a hall's Wi-Fi or a carrier's shared address puts a room of delegates behind
        one address, and five wrong links from one of them must not lock out the rest. A
        token's 192 random bits are what keeps it from being guessed; the slowdown only spares
        the database a guesser's tries (``open_page``)."""
        if not looks_like_token(token):
            return None
        now = self._ctx.clock.now()
        values: dict[str, Any] = {
            "token": token, "channel": channel, "meeting_id": self._ctx.meeting_id
        }  # fmt: skip
        meeting = {"meeting_id": self._ctx.meeting_id}
        # «Mã đón tiếp» or «đã điểm danh»: today's check-in at a meeting of several days.
        day = self._ctx.checkin_day()
        person = PERSON if day is None else PERSON_ON_DAY
        if day is not None:
            values["day"] = day

        def read(
            connection: Connection,
        ) -> tuple[Any, Sequence[Any], Sequence[Any], Sequence[Any], Sequence[Any]]:
            row = connection.execute(person, values).first()
            if row is None or not row.opened:
                return None, (), (), (), ()  # for open_page
            if not details:
                return row, (), (), (), ()
            asked = {"person_id": row.id, "meeting_id": values["meeting_id"]}
            rows: Sequence[Any] = ()
            if row.has_tasks or row.has_drafts:
                rows = connection.execute(DETAILS, asked).all()
            notices: Sequence[Any] = ()
            # A withdrawn invitation reads no notice: the office's words are for its invitees.
            if row.has_notices and row.withdrawn_at is None:
                notices = connection.execute(NOTICES, asked).all()
            # The office's documents, in the same read: for the invitees, not a withdrawn one,
            # nor a task contact (her page opens her tasks: she is not invited).
            documents: Sequence[Any] = ()
            if row.has_documents and row.withdrawn_at is None and row.role != ROLE_CONTACT:
                documents = connection.execute(PUBLISHED, meeting).all()
            # Her chats, in the same read: only for one who linked any.
            chats = connection.execute(CHATS, asked).all() if row.has_chats else ()
            return row, rows, notices, documents, chats

        row, rows, notices, documents, chats = await reading(self._ctx.sessions, read)
        if row is None or not hmac.compare_digest(row.token, token):
            return None
        delegate = DelegateView(
            id=row.id,
            code=row.code,
            full_name=row.full_name,
            position=row.position,
            organization=row.organization,
            group_key=row.group_key,
            role=row.role,
            withdrawn_at=row.withdrawn_at,
            withdrawn_reason=row.withdrawn_reason,
        )
        rsvp = RsvpView(
            status=RsvpStatus(row.status),
            reason=row.reason,
            substitute_name=row.substitute_name,
            substitute_position=row.substitute_position,
            answered_at=row.answered_at,
            substitute_unit=row.substitute_unit,
            substitute_phone=row.substitute_phone,
            days=read_days(row.days),
        )
        checkin = None
        if row.checkin_at is not None:
            substitute = row.checkin_name if row.checkin_kind == SUBSTITUTE_CHECKIN else None
            checkin = CheckedIn(row.checkin_at, row.checkin_desk, substitute)
        account = page_account(channel, row.id, row.full_name)
        tasks, drafts = self._details(rows, now) if rows else ((), ())
        return PageView(
            account, delegate, rsvp, tasks, drafts, link_code=row.link_code,
            notices=tuple(
                PageNotice(n.number, n.sent_at, n.body or "", passed_on_to(
                    n.audience,
                    sent_substitute=rsvp.status is RsvpStatus.SUBSTITUTE,
                    substitute_name=rsvp.substitute_name,
                    stood_in_by=checkin.substitute_name if checkin is not None else None,
                ))
                for n in notices
            ),
            documents=tuple(document_line(d) for d in documents),
            chats=tuple(LinkedChat(*chat) for chat in chats),
            checkin=checkin,
        )  # fmt: skip

    def _details(
        self, rows: Sequence[Any], now: datetime
    ) -> tuple[tuple[PageTask, ...], tuple[PageDraft, ...]]:
        by_kind: dict[str, list[Any]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append(row)
        evidence: dict[int, list[PageEvidence]] = {}
        for row in sorted(by_kind.get("evidence", []), key=lambda row: row.id):
            evidence.setdefault(row.parent, []).append(
                PageEvidence(row.id, row.c, row.a, row.b, row.size, row.at, bool(row.flag))
            )
        tasks = [
            PageTask(
                id=row.id,
                key=row.a,
                title=row.b,
                deliverable=row.e,
                deadline_at=row.at,
                closed=bool(row.flag),
                overdue=is_overdue(row.at, now, done=bool(row.flag2), closed=bool(row.flag)),
                status=TaskStatus(row.d),
                note=row.c,
                evidence=tuple(evidence.get(row.id, ())),
                recorded_at=row.at2 if row.flag3 else None,
            )
            for row in by_kind.get("task", [])
        ]
        # As the chat's board orders them (bot.services.tasks): overdue first, then by deadline.
        tasks.sort(key=lambda task: (not task.overdue, task.deadline_at, task.key))
        versions = _grouped(
            by_kind.get("version", []),
            lambda row: VersionLine(row.id, row.number, row.b, row.a, row.size, row.c, row.at),
            key=lambda row: row.number,
            reverse=True,  # newest first, as bot.services.drafts.lines' versions()
        )
        threads = _grouped(
            by_kind.get("comment", []),
            lambda row: CommentLine(
                from_office=bool(row.flag),
                author_name=row.a,
                body=row.b,
                created_at=row.at,
                version_number=row.number,
                file_ref=row.d,
                file_name=row.c,
                file_channel=row.e,
            ),
            key=lambda row: row.id,
            reverse=False,  # oldest first, as the thread is read
        )
        drafts = [
            PageDraft(
                id=row.id,
                theme_key=row.a,
                theme_title=self._themes.get(row.a, row.a),
                deadline_at=row.at,
                status=DraftStatus(row.d),
                versions=versions.get(row.id, ()),
                thread=threads.get(row.id, ()),
                withdrawn=bool(row.flag),
                late=not versions.get(row.id) and now > row.at,
            )
            for row in by_kind.get("draft", [])
        ]
        # As bot.services.drafts.lines.read_lines orders one person's: by the plan's themes.
        order = self._theme_order
        drafts.sort(key=lambda draft: (order.get(draft.theme_key, len(order)), draft.id))
        return tuple(tasks), tuple(drafts)


def _grouped(
    rows: Sequence[Any], make: Callable[[Any], T], *, key: Callable[[Any], int], reverse: bool
) -> Mapping[int, tuple[T, ...]]:
    """Rows made into values, grouped by their parent, each group in the order of ``key``."""
    grouped: dict[int, list[T]] = {}
    for row in sorted(rows, key=key, reverse=reverse):
        grouped.setdefault(row.parent, []).append(make(row))
    return {parent: tuple(values) for parent, values in grouped.items()}
