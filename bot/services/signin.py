"""Office staff signing in to the dashboard: one-time links, browser sessions, signing out.

A link is made for a person with the office role or the check-in role only (``/dangnhap`` in
their own private chat, ``hoinghi staff login CODE`` at the office's computer, or a clerk's
«Cấp đường liên kết đăng nhập» on the dashboard's «Cán bộ» page); a session of
someone with the check-in role alone (``desk_only``) opens the reception desk's pages only. A
link opens one browser session, once, within :data:`LINK_LIFETIME`; the session lasts
``[web] office_session_hours``. Only the SHA-256 of each secret is stored. Every session
checked reads the person's role again (:meth:`bot.services.access.Access.office_person`), so
withdrawing the role ends it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount
from bot.services.access import Access, DeskActor, OfficeActor, Role, StaffPerson
from bot.services.context import ServiceContext
from bot.services.views import DelegateView
from storage import queries
from storage.models import Delegate, PersonRole, StaffSession
from storage.uow import reading, unit_of_work

LINK_LIFETIME = timedelta(minutes=10)
LINK, SESSION = "link", "session"
MAX_ORIGIN = 120


def digest(secret: str) -> str:
    """What the database keeps of a link's or a session's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class LinkStep(StrEnum):
    """What asking for a sign-in link came to."""

    ISSUED = "issued"
    NOT_STAFF = "not_staff"  # the person holds neither the office nor the check-in role
    NOT_A_PERSON = "not_a_person"  # an account of [office] admin_ids, on the list as no one
    UNKNOWN_PERSON = "unknown_person"  # no one has that code
    # Asked on the dashboard for another holder of the office role: she signs in herself
    # (``/dangnhap``, ``hoinghi staff login``), so no clerk acts under a colleague's name.
    COLLEAGUE = "colleague"


@dataclass(frozen=True)
class SignInLink:
    """A one-time link's secret (when issued), whose it is, and until when it opens."""

    step: LinkStep
    person: DelegateView | None = None
    secret: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Opened:
    """A session a link opened: its secret (the cookie), its id, and when it ends; ``actor``
    None for check-in staff (``desk_only``)."""

    secret: str
    session_id: int
    expires_at: datetime
    actor: OfficeActor | None
    desk_only: bool = False


class LinkState(StrEnum):
    """What a sign-in link is worth now."""

    OPEN = "open"
    SPENT = "spent"  # used, expired, cancelled, or unknown here
    NO_ROLE = "no_role"  # its person holds neither the office nor the check-in role now


class Check(StrEnum):
    """What a browser's session cookie is worth."""

    NONE = "none"  # no cookie, an unknown one, one signed out or expired: sign in
    REFUSED = "refused"  # a real session of someone who no longer holds the office role
    OK = "ok"


@dataclass(frozen=True)
class StaffVisit:
    """A request from a signed-in staff member: the session and the actor it acts as;
    ``desk_only`` (``actor`` None) for someone with the check-in role alone."""

    check: Check
    session_id: int | None = None
    session_hash: str | None = None
    actor: OfficeActor | None = None
    desk_only: bool = False
    person_id: int | None = None


@dataclass(frozen=True)
class SessionLine:
    """One of a staff member's open sessions, for the list with "sign out everywhere"."""

    id: int
    origin: str
    created_at: datetime
    expires_at: datetime


class StaffSignIn:
    """Issues sign-in links, opens, checks and ends dashboard sessions; all audited."""

    def __init__(self, ctx: ServiceContext, access: Access) -> None:
        self._ctx = ctx
        self._access = access

    @property
    def session_lifetime(self) -> timedelta:
        """How long a session lasts: ``[web] office_session_hours``."""
        web = self._ctx.config.web
        return timedelta(hours=web.office_session_hours if web is not None else 10)

    async def link_for_account(self, account: ChatAccount) -> SignInLink:
        """A link for the person behind a chat account (``/dangnhap``), sent to that chat."""
        caller = await self._access.caller(account)
        if caller.person is None:
            step = LinkStep.NOT_A_PERSON if caller.is_office else LinkStep.NOT_STAFF
            return SignInLink(step)
        return await self._issue(caller.person.code, origin=account.channel, actor=account.actor)

    async def link_for_code(self, code: str) -> SignInLink:
        """A link for the person with ``code``, printed at the office's computer."""
        return await self._issue(code, origin="cli", actor=self._access.local_operator().actor)

    async def link_by_office(self, office: OfficeActor, code: str) -> SignInLink:
        """A link for the staff member with ``code``, issued by ``office`` on the dashboard's
        «Cán bộ» page to hand over in person (a desk volunteer with no linked chat, a second
        device of her own): :meth:`link_for_code`'s, audited as ``office``'s. Only for herself
        or for someone holding no office role (the reception desk's alone): a link for another
        office clerk would let her act under that colleague's name in the log, so it is
        refused (:attr:`LinkStep.COLLEAGUE`)."""
        return await self._issue(code, origin="dashboard", actor=office.actor, issuer=office)

    async def first_staff_code(self) -> str | None:
        """The code of the first person (in code order) holding the office role, if any."""
        async with self._ctx.sessions() as session:
            found = await session.scalar(
                select(Delegate.code)
                .join(PersonRole, PersonRole.person_id == Delegate.id)
                .where(Delegate.meeting_id == self._ctx.meeting_id, PersonRole.role == Role.OFFICE)
                .order_by(Delegate.code)
                .limit(1)
            )
        return found

    async def _issue(
        self, code: str, *, origin: str, actor: str, issuer: OfficeActor | None = None
    ) -> SignInLink:
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            person = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
            if person is None:
                return SignInLink(LinkStep.UNKNOWN_PERSON)
            roles = set(
                await session.scalars(
                    select(PersonRole.role).where(PersonRole.person_id == person.id)
                )
            )
            if not {Role.OFFICE, Role.CHECKIN} & roles:
                return SignInLink(LinkStep.NOT_STAFF, DelegateView.of(person))
            if issuer is not None and Role.OFFICE in roles and person.id != issuer.person_id:
                return SignInLink(LinkStep.COLLEAGUE, DelegateView.of(person))
            secret = secrets.token_urlsafe(32)
            expires = now + LINK_LIFETIME
            row = StaffSession(
                person_id=person.id, kind=LINK, token_hash=digest(secret), origin=origin,
                created_at=now, expires_at=expires,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            queries.add_audit(
                session, at=now, actor=actor, action="staff.link_issued", entity="delegate",
                entity_id=person.id, before=None,
                after={"name": person.full_name, "via": origin, "link": row.id},
            )  # fmt: skip
            return SignInLink(LinkStep.ISSUED, DelegateView.of(person), secret, expires)

    async def link_is_open(self, secret: str) -> bool:
        """Whether a link would still open a session (read only: showing the page that asks
        to confirm uses nothing, so a chat's link preview cannot spend it)."""
        return await self.link_state(secret) is LinkState.OPEN

    async def link_state(self, secret: str) -> LinkState:
        """What a link is worth now (read only, as :meth:`link_is_open`): one whose person holds
        neither the office nor the check-in role any more is said so, whatever else became of
        it — a new link would not help her, the office would."""
        now = self._ctx.clock.now()
        async with self._ctx.sessions() as session:
            row = await session.scalar(self._by_hash(digest(secret)))
            if row is None or row.kind != LINK:
                return LinkState.SPENT
            roles = set(
                await session.scalars(
                    select(PersonRole.role).where(PersonRole.person_id == row.person_id)
                )
            )
        if not roles & {Role.OFFICE, Role.CHECKIN}:
            return LinkState.NO_ROLE
        return LinkState.OPEN if _live(row, now) else LinkState.SPENT

    def _by_hash(self, hashed: str) -> Select[StaffSession]:
        """The link or session with this digest, if its person is of this meeting (another
        meeting's link opened on this plan's server is unknown here, and left unspent)."""
        return (
            select(StaffSession)
            .join(Delegate, Delegate.id == StaffSession.person_id)
            .where(StaffSession.token_hash == hashed, Delegate.meeting_id == self._ctx.meeting_id)
        )

    async def redeem(self, secret: str, *, browser: str) -> Opened | None:
        """Spend a link on a new session (once, before it expires, for staff only); None when
        the link opens nothing."""
        now = self._ctx.clock.now()
        cookie = secrets.token_urlsafe(32)
        expires = now + self.session_lifetime
        # One transaction: the person's roles read, the link spent and the session opened
        # together, so a "sign out everywhere" pressed at the same moment comes wholly before
        # (the link is cancelled: nothing opens) or wholly after (it ends the new session too).
        async with unit_of_work(self._ctx.sessions) as session:
            link = await session.scalar(self._by_hash(digest(secret)))
            if link is None or link.kind != LINK or not _live(link, now):
                return None
            person = await _lock_person(session, link.person_id)
            if person is None:
                return None
            roles = list(
                await session.scalars(
                    select(PersonRole.role).where(PersonRole.person_id == link.person_id)
                )
            )
            staff = StaffPerson(person.id, person.meeting_id, person.code, person.full_name)
            actor, desk = self._access.staff_actors(staff, roles, "")
            if actor is None and desk is None:  # the role was withdrawn since the link was made
                return None
            who, name = (actor.actor, actor.name) if actor is not None else _desk_names(desk)
            # Spent in the same transaction as the session it opens: a link is used once.
            spent = await session.execute(
                update(StaffSession)
                .where(StaffSession.id == link.id, StaffSession.ended_at.is_(None))
                .values(ended_at=now)
            )
            if not getattr(spent, "rowcount", 0):  # another request spent it first
                return None
            row = StaffSession(
                person_id=link.person_id, kind=SESSION, token_hash=digest(cookie),
                origin=browser[:MAX_ORIGIN], created_at=now, expires_at=expires,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            queries.add_audit(
                session, at=now, actor=who, action="staff.signed_in", entity="delegate",
                entity_id=link.person_id, before=None,
                after={"name": name, "session": row.id, "link": link.id},
            )  # fmt: skip
            return Opened(cookie, row.id, expires, actor, desk_only=actor is None)

    async def visit(self, cookie: str | None) -> StaffVisit:
        """What a session cookie is worth now: nothing, a refusal, or a staff member."""
        return (await self.desk_visit(cookie, None))[0]

    async def desk_visit(
        self, cookie: str | None, desk: str | None
    ) -> tuple[StaffVisit, DeskActor | None]:
        """:meth:`visit`, and the staff member at the desk labelled ``desk`` (None without a
        desk, or unless they hold the check-in or the office role), from one read: the
        session, the person and their roles in one read-only transaction (every dashboard
        request asks this: it takes no writer's lock, so the desks' taps do not queue for it)."""
        if not cookie or len(cookie) > 100:
            return StaffVisit(Check.NONE), None
        hashed = digest(cookie)
        found = await self._live_session(StaffSession.token_hash == hashed)
        if found is None:
            return StaffVisit(Check.NONE), None
        row, roles = found
        person = StaffPerson(row.person_id, row.meeting_id, row.code, row.full_name)
        # The desk actor also says whether they may use the desk at all (either role).
        actor, at_desk = self._access.staff_actors(person, roles, desk or "")
        if actor is None and at_desk is None:
            return StaffVisit(Check.REFUSED, row.id, hashed), None
        if actor is None:
            visit = StaffVisit(Check.OK, row.id, hashed, desk_only=True, person_id=person.id)
        else:
            visit = StaffVisit(Check.OK, row.id, hashed, actor, person_id=person.id)
        return visit, at_desk if desk is not None else None

    async def desk_at(self, session_id: int, desk: str) -> tuple[str, DeskActor] | None:
        """A live session's digest and its staff member at the desk labelled ``desk``, by the
        session's id (the desk cookie names it so, signed with the digest), in one read; None
        when the session ended or expired, or they hold neither the check-in nor the office
        role (read now)."""
        found = await self._live_session(StaffSession.id == session_id)
        if found is None:
            return None
        row, roles = found
        person = StaffPerson(row.person_id, row.meeting_id, row.code, row.full_name)
        at_desk = self._access.staff_actors(person, roles, desk)[1]
        return None if at_desk is None else (row.token_hash, at_desk)

    async def _live_session(self, which: ColumnElement[bool]) -> tuple[Any, list[str]] | None:
        """The live session ``which`` selects with its person, and the person's roles: one
        read-only transaction (no writer's lock: the desks' taps never queue behind it)."""

        def read(connection: Connection) -> tuple[Any, list[str]]:
            row = connection.execute(
                select(
                    StaffSession.id, StaffSession.kind, StaffSession.token_hash,
                    StaffSession.expires_at, StaffSession.ended_at,
                    Delegate.id.label("person_id"), Delegate.meeting_id, Delegate.code,
                    Delegate.full_name,
                )
                .join(Delegate, Delegate.id == StaffSession.person_id)
                # Another meeting's session opened on this plan's server is unknown here.
                .where(which, Delegate.meeting_id == self._ctx.meeting_id)
            ).first()  # fmt: skip
            if row is None:
                return None, []
            roles = select(PersonRole.role).where(PersonRole.person_id == row.person_id)
            return row, list(connection.scalars(roles))

        row, roles = await reading(self._ctx.sessions, read)
        if row is None or row.kind != SESSION or row.ended_at is not None:
            return None
        if not self._ctx.clock.now() < row.expires_at:  # as _live
            return None
        return row, roles

    async def signed_out(self, cookie: str | None, *, everywhere: bool = False) -> bool:
        """Whether the session ``cookie`` stood for was ended by signing out — not one that ran
        out, nor one this server does not know; with ``everywhere``, also that nothing of hers
        is open now (no live session, no unspent sign-in link), as signing out everywhere
        leaves it. A sign-out sent again from that browser (a second tap on a slow connection:
        the first ended it) is then done already; otherwise it was not done, and saying
        "signed out" would leave her believing a lost phone is signed out when it is not."""
        if not cookie or len(cookie) > 100:
            return False
        now = self._ctx.clock.now()
        async with self._ctx.sessions() as session:
            row = await session.scalar(self._by_hash(digest(cookie)))
            if row is None or row.kind != SESSION or row.ended_at is None:
                return False  # unknown here, or still open but run out (never signed out)
            if not everywhere:
                return True
            still_open = await session.scalar(
                select(StaffSession.id)
                .where(
                    StaffSession.person_id == row.person_id,
                    StaffSession.ended_at.is_(None),
                    StaffSession.expires_at > now,
                )
                .limit(1)
            )
        return still_open is None

    async def ran_out(self, cookie: str | None) -> bool:
        """Whether the session ``cookie`` stood for ran out without being signed out: nothing
        of that browser's is open, so signing it out (that browser's alone, not everywhere)
        has nothing left to end."""
        if not cookie or len(cookie) > 100:
            return False
        now = self._ctx.clock.now()
        async with self._ctx.sessions() as session:
            row = await session.scalar(self._by_hash(digest(cookie)))
        return (
            row is not None
            and row.kind == SESSION
            and row.ended_at is None
            and row.expires_at <= now
        )

    async def sign_out_desk(self, desk: DeskActor, session_id: int) -> int:
        """End one of a check-in staff member's own sessions; how many ended (0 or 1)."""
        assert desk.person_id is not None
        ended = await self._end_of(desk.person_id, desk.actor, desk.name, session_id)
        return len(ended.sessions)

    async def sessions(self, office: OfficeActor) -> list[SessionLine]:
        """``office``'s own open sessions, the newest first."""
        now = self._ctx.clock.now()
        async with self._ctx.sessions() as session:
            rows = await session.scalars(
                select(StaffSession)
                .where(
                    StaffSession.person_id == office.person_id,
                    StaffSession.kind == SESSION,
                    StaffSession.ended_at.is_(None),
                    StaffSession.expires_at > now,
                )
                .order_by(StaffSession.created_at.desc(), StaffSession.id.desc())
            )
            return [SessionLine(r.id, r.origin, r.created_at, r.expires_at) for r in rows]

    async def sign_out(self, office: OfficeActor, session_id: int) -> int:
        """End one of ``office``'s own sessions (her sign-in links stay as they are); how many
        ended (0 or 1)."""
        return len((await self._end(office, session_id)).sessions)

    async def sign_out_everywhere(self, office: OfficeActor) -> Ended:
        """End every session of ``office``, this one included, and the sign-in links she has
        not used yet (one sent to a lost phone must not open the dashboard afterwards); what
        ended."""
        return await self._end(office, None)

    async def _end(self, office: OfficeActor, session_id: int | None) -> Ended:
        if office.person_id is None:  # the command line has no sessions
            return Ended()
        return await self._end_of(office.person_id, office.actor, office.name, session_id)

    async def _end_of(self, person_id: int, actor: str, name: str, session_id: int | None) -> Ended:
        now = self._ctx.clock.now()
        everywhere = session_id is None
        async with unit_of_work(self._ctx.sessions) as session:
            await _lock_person(session, person_id)  # as redeem does: one comes before the other
            ended = await end_sessions_of(
                session, person_id, now, only=session_id, links=everywhere
            )
            if ended:
                after: dict[str, Any] = {"name": name, "sessions": ended.sessions}
                if ended.links:
                    after["links"] = ended.links
                queries.add_audit(
                    session, at=now, actor=actor,
                    action="staff.signed_out_everywhere" if everywhere else "staff.signed_out",
                    entity="delegate", entity_id=person_id, before=None, after=after,
                )  # fmt: skip
            return ended


@dataclass(frozen=True)
class Ended:
    """What signing out ended: the ids of the sessions, and of the unspent sign-in links."""

    sessions: list[int] = field(default_factory=list)
    links: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sessions or self.links)


async def end_sessions_of(
    session: AsyncSession,
    person_id: int,
    now: datetime,
    *,
    only: int | None = None,
    links: bool = False,
    sessions: bool = True,
) -> Ended:
    """End the person's open dashboard sessions, in the caller's transaction: the one rule for
    signing out (one session with ``only``; every one, and her unspent sign-in ``links``, for
    "sign out everywhere") and for a role given to someone who held none
    (:meth:`bot.services.access.Access.grant`, links too); her ``links`` alone (not
    ``sessions``) when her last staff role is withdrawn (:meth:`~bot.services.access.Access.revoke`:
    her sessions stay, to say "refused" to her browser). What ended, for the caller's audit
    entry."""
    wanted = [
        StaffSession.person_id == person_id,
        StaffSession.ended_at.is_(None),
        StaffSession.expires_at > now,  # one that ran out opens nothing: not counted as ended
    ]
    if not links:
        wanted.append(StaffSession.kind == SESSION)
    elif not sessions:
        wanted.append(StaffSession.kind == LINK)
    if only is not None:
        wanted.append(StaffSession.id == only)
    ended = (
        await session.execute(
            update(StaffSession)
            .where(*wanted)
            .values(ended_at=now)
            .returning(StaffSession.id, StaffSession.kind)
        )
    ).all()
    return Ended(
        sessions=sorted(row.id for row in ended if row.kind == SESSION),
        links=sorted(row.id for row in ended if row.kind == LINK),
    )


async def _lock_person(session: AsyncSession, person_id: int) -> Delegate | None:
    """The person's row, locked for the transaction (``FOR NO KEY UPDATE``, as
    :func:`storage.queries.lock_meeting`; SQLite's write transactions queue whole anyway):
    opening a session with her link and ending her sessions and links take it first, so on
    PostgreSQL too one waits for the other to commit and then sees what it did. The weaker
    lock leaves the rows that only refer to her (answers, deliveries, check-ins) free to be
    written meanwhile: ``FOR UPDATE`` would hold every one of them until the sign-in ends."""
    return await session.scalar(
        select(Delegate).where(Delegate.id == person_id).with_for_update(key_share=True)
    )


def _desk_names(desk: DeskActor | None) -> tuple[str, str]:
    assert desk is not None
    return desk.actor, desk.name


def _live(row: StaffSession, now: datetime) -> bool:
    return row.ended_at is None and now < row.expires_at
