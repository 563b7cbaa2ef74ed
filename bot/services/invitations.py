"""Personal invitations: linking a chat account to a delegate, and the links to hand out."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount
from bot.domain.checkin import SUBSTITUTE_CHECKIN, CheckedIn
from bot.domain.order import protocol_key
from bot.domain.phones import normalize_phone
from bot.domain.tokens import (
    format_link_code,
    looks_like_token,
    new_link_code,
    new_token,
    parse_link_code,
)
from bot.services import roster
from bot.services.access import OfficeActor
from bot.services.context import ServiceContext
from bot.services.views import DelegateView, RsvpView
from storage import queries
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Checkin,
    Delegate,
    Invitation,
    LinkFailure,
    Meeting,
)
from storage.uow import read_only, unit_of_work

# Wrong tokens (and personal codes: they count together) tolerated from one account within the
# window before it is slowed down.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
# A slowed-down account is told so (why, from when it may try again, whom to call) at most once
# in this span. Often enough that a person who mistyped her code five times and tries again a
# few minutes later hears why nothing happens; seldom enough that a flood of tries costs at most
# six answers in a slowdown's hour, beside its five wrong ones: on Zalo every answer counts
# against the bot's monthly quota (about 3,000 messages on the free plan).
SLOWED_DOWN_NOTICE_INTERVAL = timedelta(minutes=10)
SLOWED_DOWN_ACTION = "invitation.slowed_down"  # audited each time the account is told
# Audited each time the links leave on a file that may be printed and handed out: the slips
# (``invites print``, the dashboard's download) and the links export (``invites export``, the
# dashboard's download), ``file`` saying which. A bulk mark on paper counts from the last.
PRINTED_ACTION = "invitation.printed"
PRINTED_FILES = ("slips", "links")

T = TypeVar("T")


class LinkOutcome(StrEnum):
    """How an attempt to link a chat account ended."""

    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105  (a wrong personal code too)
    TOKEN_TAKEN = "token_taken"  # noqa: S105
    ACCOUNT_TAKEN = "account_taken"
    PHONE_NO_MATCH = "phone_no_match"
    PHONE_AMBIGUOUS = "phone_ambiguous"
    SLOWED_DOWN = "slowed_down"  # too many wrong tokens or codes from this account lately
    # Another meeting's live token or code in the same database (the last conference's slip or
    # SMS): no invitation here, nor a guess (not counted toward the slowdown); said so.
    OTHER_MEETING = "other_meeting"


@dataclass(frozen=True)
class OtherMeeting:
    """The meeting another meeting's token or personal code belongs to, as its holder is told
    (never anything of its person): its title and start, whether it is over (held before this
    meeting, on a day before today), and whether someone of its holder's phone is invited to
    this meeting (her invitation here is another link, sent to her on its own)."""

    title: str
    starts_at: datetime
    ended: bool
    invited_here: bool


@dataclass(frozen=True)
class LinkResult:
    """The outcome and, where there is one, the delegate concerned and their answer."""

    outcome: LinkOutcome
    delegate: DelegateView | None = None
    rsvp: RsvpView | None = None
    until: datetime | None = None  # SLOWED_DOWN: when the account's tries count again
    told: bool = False  # SLOWED_DOWN: told so within the notice interval; this try gets no answer
    other: OtherMeeting | None = None  # OTHER_MEETING: whose token or code it is


@dataclass(frozen=True)
class PageResult:
    """A personal page opened by its token: the person, their answer, and the account the page
    acts as (``LINKED`` the first time, ``ALREADY_LINKED`` after); or why not."""

    outcome: LinkOutcome
    account: ChatAccount | None = None
    delegate: DelegateView | None = None
    rsvp: RsvpView | None = None
    retry_after: timedelta | None = None  # SLOWED_DOWN: how long until the next try counts
    other: OtherMeeting | None = None  # OTHER_MEETING: whose token it is


def page_account(channel: str, delegate_id: int, name: str = "") -> ChatAccount:
    """The account a person's personal page acts as: one per person, named by their id (the
    token is the key to the page, never its name, so no log or audit row holds it)."""
    return ChatAccount(channel, str(delegate_id), str(delegate_id), name)


class OfficeStep(StrEnum):
    """How an office action on someone's invitation ended."""

    REISSUED = "reissued"
    ALREADY_REISSUED = "already_reissued"  # the link named was replaced already (a second tap)
    UNLINKED = "unlinked"
    NOT_LINKED = "not_linked"
    UNKNOWN_PERSON = "unknown_person"


@dataclass(frozen=True)
class OfficeResult:
    """The outcome, the person, and for a re-issue the new token and personal code (shown to
    the office only)."""

    step: OfficeStep
    delegate: DelegateView | None = None
    token: str | None = None
    link_code: str | None = None


# How the office sent someone her invitation (the «đã gửi» mark), in the form's order.
SENT_VIA = ("zalo", "sms", "phone", "paper", "other")


class SentStep(StrEnum):
    """How marking (or unmarking) an invitation as sent ended."""

    MARKED = "marked"
    ALREADY_MARKED = "already_marked"  # marked before (a second tap): nothing more recorded
    UNMARKED = "unmarked"
    NOT_MARKED = "not_marked"  # nothing to undo (a second tap, a colleague undid it)
    LINK_CHANGED = "link_changed"  # the link the form named was re-issued since
    WITHDRAWN = "withdrawn"  # the invitation was withdrawn: nothing to send
    NOT_INVITED = "not_invited"  # a task contact: her link opens her tasks, no invitation
    NO_INVITATION = "no_invitation"
    UNKNOWN_PERSON = "unknown_person"


@dataclass(frozen=True)
class SentMark:
    """The office's mark that a person's live link was sent: when, how, by whom."""

    at: datetime
    via: str
    by: str


@dataclass(frozen=True)
class SentResult:
    """The outcome, the person, and the mark as it stands after it (None: unmarked)."""

    step: SentStep
    delegate: DelegateView | None = None
    mark: SentMark | None = None


@dataclass(frozen=True)
class BulkSent:
    """What marking many people's invitations sent at once did, by their codes: marked now,
    marked before (kept as they were), and those left out and why: task contacts (not
    invited), withdrawn invitations, no live link, a link re-issued after the list was shown,
    a code on nobody's list."""

    marked: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    no_link: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    # Marked on paper though no print of the slips is recorded (printed with another tool?).
    no_print: bool = False


@dataclass(frozen=True)
class InviteLink:
    """One row of the invitation export."""

    code: str
    full_name: str
    group_key: str
    token: str
    role: str = "delegate"
    position: str = ""
    organization: str = ""
    phone: str | None = None  # E.164, for the office to send the link by SMS or Zalo
    link_code: str = ""  # the personal code (canonical) typed where no link can carry the token
    sent: SentMark | None = None  # the office's mark that this link was sent


@dataclass(frozen=True)
class DeskPassOf:
    """What a person shows at the reception desk (:meth:`InvitationService.desk_pass`): the
    personal code printed under the slip's QR (None without a live invitation), and her
    check-in once she (or her substitute) is in."""

    code: str | None
    checked_in: CheckedIn | None


class InvitationService:
    """Links chat accounts to delegates and lists the personal invitations."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def slowdown(self, account: ChatAccount) -> LinkResult | None:
        """The slowdown ``account`` is under (SLOWED_DOWN, ``told`` as for a try), or None:
        what an account sending something other than a code is told, rather than asked for a
        code that would not be looked at."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            slowed = await _slowed_down(
                session, account.channel, account.external_id, account.actor, now
            )
        if slowed is None:
            return None
        return LinkResult(LinkOutcome.SLOWED_DOWN, until=slowed.until, told=slowed.told)

    async def link_by_token(self, account: ChatAccount, token: str) -> LinkResult:
        """Link ``account`` to the delegate whose invitation carries ``token``.

        Five wrong tokens within an hour slow the account down: until the oldest of them is an
        hour old, further tries are not looked at (and do not count). The first of them is told
        until when, and that answer is audited; the others within
        :data:`SLOWED_DOWN_NOTICE_INTERVAL` of it are ``told`` already and get no answer, so a
        flood of tries is not answered in full; the next try after it is told again.
        """
        return await self._link_by_invitation(
            account,
            token,
            find=queries.active_invitation if looks_like_token(token) else None,
            key=lambda invitation: invitation.token,
            via="invitation",
            elsewhere=lambda session: self._elsewhere(session, token=token),
        )

    async def link_by_code(self, account: ChatAccount, code: str) -> LinkResult:
        """Link ``account`` to the delegate whose invitation carries the personal ``code``
        (canonical, :func:`bot.domain.tokens.parse_link_code`): the way of
        :meth:`link_by_token`, wrong codes and wrong tokens counted together. One no code can
        be (a misread «ABCD-1234», :func:`bot.domain.tokens.code_shaped`) is wrong without a
        look-up and not counted: it guesses nothing, and a chair reading «0» for «Q» again and
        again would only lock herself out for the hour."""
        canonical = parse_link_code(code) == code
        return await self._link_by_invitation(
            account,
            code,
            find=queries.active_invitation_by_code if canonical else None,
            key=lambda invitation: invitation.link_code,
            via="code",
            counted=canonical,
            elsewhere=lambda session: self._elsewhere(session, code=code),
        )

    async def _link_by_invitation(
        self,
        account: ChatAccount,
        secret: str,
        *,
        find: Callable[[AsyncSession, int, str], Awaitable[Invitation | None]] | None,
        key: Callable[[Invitation], str],
        via: str,
        elsewhere: Callable[[AsyncSession], Awaitable[OtherMeeting | None]],
        counted: bool = True,
    ) -> LinkResult:
        """Link ``account`` by the invitation ``find`` finds for ``secret`` (None: a secret
        of the wrong shape, wrong without a look-up), after the slowdown's check; another
        meeting's (``elsewhere``) is OTHER_MEETING, not counted; a wrong one counts toward the
        slowdown when ``counted``."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            slowed = await _slowed_down(
                session, account.channel, account.external_id, account.actor, now
            )
            if slowed is not None:
                return LinkResult(LinkOutcome.SLOWED_DOWN, until=slowed.until, told=slowed.told)
            invitation = (
                await find(session, self._ctx.meeting_id, secret) if find is not None else None
            )
            # The index finds the row; the constant-time compare keeps the final check honest.
            if invitation is None or not hmac.compare_digest(key(invitation), secret):
                other = await elsewhere(session) if find is not None else None
                if other is not None:
                    return LinkResult(LinkOutcome.OTHER_MEETING, other=other)
                if counted:
                    session.add(
                        LinkFailure(
                            channel=account.channel, external_id=account.external_id, at=now
                        )
                    )
                return LinkResult(LinkOutcome.UNKNOWN_TOKEN)
            delegate = await session.get_one(Delegate, invitation.delegate_id)
            return await self._link(session, account, delegate, via=via)

    async def link_by_phone(self, account: ChatAccount, phone: str) -> LinkResult:
        """Link ``account`` to the one delegate whose phone is ``phone``."""
        raw = phone.strip()
        if raw.isdigit() and not raw.startswith("0"):
            raw = f"+{raw}"  # chat apps send international numbers without the plus sign
        normalized = normalize_phone(raw)
        if normalized is None:
            return LinkResult(LinkOutcome.PHONE_NO_MATCH)
        async with unit_of_work(self._ctx.sessions) as session:
            matches = await queries.delegates_with_phone(session, self._ctx.meeting_id, normalized)
            if not matches:
                return LinkResult(LinkOutcome.PHONE_NO_MATCH)
            if len(matches) > 1:
                return LinkResult(LinkOutcome.PHONE_AMBIGUOUS)
            return await self._link(session, account, matches[0], via="phone")

    async def _link(
        self, session: AsyncSession, account: ChatAccount, delegate: Delegate, *, via: str
    ) -> LinkResult:
        rsvp = RsvpView.of(await queries.rsvp_of(session, delegate.id))
        mine = await queries.identity(
            session, self._ctx.meeting_id, account.channel, account.external_id
        )
        if mine is not None:
            if mine.delegate_id == delegate.id:
                return LinkResult(LinkOutcome.ALREADY_LINKED, DelegateView.of(delegate), rsvp)
            other = await session.get_one(Delegate, mine.delegate_id)
            return LinkResult(LinkOutcome.ACCOUNT_TAKEN, DelegateView.of(other))
        if await queries.identity_of_delegate(session, delegate.id, account.channel) is not None:
            return LinkResult(LinkOutcome.TOKEN_TAKEN, DelegateView.of(delegate))
        now = self._ctx.clock.now()
        session.add(
            ChannelIdentity(
                meeting_id=self._ctx.meeting_id,
                delegate_id=delegate.id,
                channel=account.channel,
                external_id=account.external_id,
                chat_address=account.chat_address,
                linked_at=now,
                linked_via=via,
                last_seen_at=now,  # just used: messages go here from now on
            )
        )
        queries.add_audit(
            session,
            at=now,
            actor=account.actor,
            action="identity.linked",
            entity="delegate",
            entity_id=delegate.id,
            before=None,
            after={"channel": account.channel, "external_id": account.external_id, "via": via},
        )
        return LinkResult(LinkOutcome.LINKED, DelegateView.of(delegate), rsvp)

    async def open_page(self, token: str, *, channel: str, client: str) -> PageResult:
        """The person whose invitation carries ``token``, and the account their personal page
        acts as on ``channel`` (made the first time, audited as a link "via page"; opened
        first with this link after a re-issue, its ``linked_at`` moved to now, as the
        dashboard's «reached» reads it).

        Wrong tokens count against ``client`` (the page's caller, e.g. a digest of their
        address) as they count against a chat account in :meth:`link_by_token`: after five
        within an hour its wrong tokens are answered SLOWED_DOWN, and not looked at, until the
        oldest is an hour old. A live token opens its page all the same: behind one address (a
        hall's Wi-Fi, a carrier's) there may be a room of delegates, and a token's 192 random
        bits, not the slowdown, are what keeps it from being guessed. A re-issued link's old
        token is unknown at once.
        """
        now = self._ctx.clock.now()
        # A page opened before is read by bot.services.pages without a writing transaction;
        # this is for the rest: a first view, a wrong token.
        async with unit_of_work(self._ctx.sessions) as session:
            invitation = (
                await queries.active_invitation(session, self._ctx.meeting_id, token)
                if looks_like_token(token)
                else None
            )
            if invitation is None or not hmac.compare_digest(invitation.token, token):
                # The last conference's link, opened on this one's server: a real link, said
                # whose it is (nothing of its person), whatever the slowdown.
                other = (
                    await self._elsewhere(session, token=token) if looks_like_token(token) else None
                )
                if other is not None:
                    return PageResult(LinkOutcome.OTHER_MEETING, other=other)
                slowed = await _slowed_down(session, channel, client, f"{channel}:{client}", now)
                if slowed is not None:
                    return PageResult(LinkOutcome.SLOWED_DOWN, retry_after=slowed.until - now)
                session.add(LinkFailure(channel=channel, external_id=client, at=now))
                return PageResult(LinkOutcome.UNKNOWN_TOKEN)
            delegate = await session.get_one(Delegate, invitation.delegate_id)
            account = page_account(channel, delegate.id, delegate.full_name)
            outcome = LinkOutcome.ALREADY_LINKED
            opened = await queries.identity(
                session, self._ctx.meeting_id, channel, account.external_id
            )
            # Never before the link itself: the page reads "opened with this link" as linked at
            # or after the link was made, and a clock a moment behind the one that made it (a
            # second process) must not leave her page unreadable.
            linked_at = max(now, invitation.created_at)
            if opened is not None and opened.linked_at < invitation.created_at:
                # Her page, opened before with a link re-issued since, now opened with the live
                # one: the live link reached her (the dashboard's «reached» counts a page
                # opened after the live link was made). One write, the first time only.
                opened.linked_at = linked_at
            elif opened is None:
                outcome = LinkOutcome.LINKED
                session.add(
                    ChannelIdentity(
                        meeting_id=self._ctx.meeting_id,
                        delegate_id=delegate.id,
                        channel=channel,
                        external_id=account.external_id,
                        chat_address=account.chat_address,
                        linked_at=linked_at,
                        linked_via=queries.PAGE_LINK,
                        # never "used last": a page is not where messages go
                        last_seen_at=None,
                    )
                )
                # Her page opened: the invitation reached her, but no chat account was linked
                # (a page reaches nobody by message), so the log does not say «liên kết».
                queries.add_audit(
                    session,
                    at=now,
                    actor=account.actor,
                    action="identity.page_opened",
                    entity="delegate",
                    entity_id=delegate.id,
                    before=None,
                    after={"channel": channel, "external_id": account.external_id},
                )
            rsvp = RsvpView.of(await queries.rsvp_of(session, delegate.id))
            return PageResult(outcome, account, DelegateView.of(delegate), rsvp)

    async def first_post(self, account: ChatAccount, form: str) -> bool:
        """Whether this is the first time the personal page's form ``form`` (its one-time
        code) is sent by ``account``; remembered, so a form sent again (the browser's back
        button, an old page kept open, a second tap) changes nothing."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            return ident is not None and queries.first_time(ident, f"form:{form}")

    async def page_link(self, person_id: int) -> str | None:
        """A person's personal page (``[web]``), where a channel that takes no files sends them
        to upload one; None without a web page or a live invitation."""
        web = self._ctx.config.web
        token = await self._live_token(person_id) if web is not None else None
        return web.link(token) if web is not None and token is not None else None

    async def calendar_link(self, person_id: int) -> str | None:
        """Where a person downloads the meeting's .ics from their personal page (``[web]``),
        for a channel that carries no files; None without a web page or a live invitation."""
        web = self._ctx.config.web
        token = await self._live_token(person_id) if web is not None else None
        return web.calendar_url(token) if web is not None and token is not None else None

    async def desk_code(self, person_id: int) -> str | None:
        """The personal code of a person's live invitation as printed under the slip's QR
        (``K7PX-3QBM``): what she (or the substitute she sends) shows or says at the reception
        desk, where a message cannot carry the QR; None without a live invitation."""
        async with self._ctx.sessions() as session:
            code = await session.scalar(
                select(Invitation.link_code).where(
                    Invitation.delegate_id == person_id, Invitation.revoked_at.is_(None)
                )
            )
        return format_link_code(code) if code else None

    async def desk_pass(self, person_id: int) -> DeskPassOf:
        """Her :meth:`desk_code` and her check-in at the desk (she or her substitute, not
        undone; today's at a meeting of several days), read together: a message or a reply says
        the check-in in place of «show this code» once she is in the hall."""
        live = and_(Invitation.delegate_id == Delegate.id, Invitation.revoked_at.is_(None))
        present = and_(Checkin.delegate_id == Delegate.id, Checkin.undone_at.is_(None))
        if (day := self._ctx.checkin_day()) is not None:  # several days: today's check-in
            present = and_(present, Checkin.day == day)
        query = (
            select(
                Invitation.link_code,
                Checkin.checked_in_at,
                Checkin.desk,
                Checkin.kind,
                Checkin.full_name,
            )
            .select_from(Delegate)
            .outerjoin(Invitation, live)
            .outerjoin(Checkin, present)
            .where(Delegate.id == person_id)
        )
        async with self._ctx.sessions() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return DeskPassOf(None, None)
        code = format_link_code(row.link_code) if row.link_code else None
        if row.checked_in_at is None:
            return DeskPassOf(code, None)
        substitute = row.full_name if row.kind == SUBSTITUTE_CHECKIN else None
        return DeskPassOf(code, CheckedIn(row.checked_in_at, row.desk, substitute))

    async def _live_token(self, person_id: int) -> str | None:
        """The token of a person's invitation that is not revoked, if any."""
        async with self._ctx.sessions() as session:
            return await session.scalar(live_token_of(person_id))

    # --- the office ------------------------------------------------------------------------------

    async def reissue(
        self, office: OfficeActor, code: str, *, replacing: int | None = None
    ) -> OfficeResult:
        """A new personal link and code for a delegate; the old ones stop working at once.

        ``replacing`` names the invitation the office saw (its id, 0 for none): when another
        one is live by now (a second tap, or a colleague was quicker), nothing changes."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            delegate = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
            if delegate is None:
                return OfficeResult(OfficeStep.UNKNOWN_PERSON)
            # Locked: a second re-issue in another process (PostgreSQL) waits, then finds these
            # revoked and the office's link replaced; a «đã gửi» mark waits and sees the new one.
            old = list(
                await session.scalars(
                    queries.locked(
                        select(Invitation).where(
                            Invitation.delegate_id == delegate.id,
                            Invitation.revoked_at.is_(None),
                        )
                    )
                )
            )
            if replacing is not None and replacing != max((i.id for i in old), default=0):
                return OfficeResult(OfficeStep.ALREADY_REISSUED, DelegateView.of(delegate))
            for invitation in old:
                invitation.revoked_at = now
            token, code = new_token(), new_link_code()
            while await queries.link_code_in_use(session, code):  # ever issued: not again
                code = new_link_code()
            session.add(
                Invitation(delegate_id=delegate.id, token=token, link_code=code, created_at=now)
            )
            queries.add_audit(
                session,
                at=now,
                actor=office.actor,
                action="invitation.reissued",
                entity="delegate",
                entity_id=delegate.id,
                before={"active_links": len(old)},  # never the tokens themselves
                after={"active_links": 1},
            )
            return OfficeResult(OfficeStep.REISSUED, DelegateView.of(delegate), token, code)

    async def unlink(
        self, office: OfficeActor, code: str, *, channel: str | None = None
    ) -> OfficeResult:
        """Forget the chat accounts linked to a delegate (a lost phone), or only those on
        ``channel``: their link, or a new one, can then be opened from another account."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            delegate = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
            if delegate is None:
                return OfficeResult(OfficeStep.UNKNOWN_PERSON)
            idents = list(
                await session.scalars(
                    select(ChannelIdentity).where(
                        ChannelIdentity.delegate_id == delegate.id,
                        *(() if channel is None else (ChannelIdentity.channel == channel,)),
                    )
                )
            )
            if not idents:
                return OfficeResult(OfficeStep.NOT_LINKED, DelegateView.of(delegate))
            for ident in idents:
                queries.add_audit(
                    session,
                    at=now,
                    actor=office.actor,
                    action="identity.unlinked",
                    entity="delegate",
                    entity_id=delegate.id,
                    before={"channel": ident.channel, "external_id": ident.external_id},
                    after=None,
                )
                await session.delete(ident)
            return OfficeResult(OfficeStep.UNLINKED, DelegateView.of(delegate))

    async def mark_sent(
        self, office: OfficeActor, code: str, *, invitation: int, via: str
    ) -> SentResult:
        """Record that the office sent a person her live link (``invitation``: the one the
        office saw, by id), ``via`` one of :data:`SENT_VIA`: when, by whom, how; audited (how
        only: never the link, never her phone). A mark already there (a double tap) stays as
        it was; a link re-issued since, a withdrawn invitation or a task contact (not invited:
        her link opens her tasks) is refused."""
        if via not in SENT_VIA:
            via = "other"
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._sent_target(session, code, invitation, invited_only=True)
            if isinstance(found, SentResult):
                return found
            delegate, live = found
            view = DelegateView.of(delegate)
            if live.sent_at is not None:
                return SentResult(SentStep.ALREADY_MARKED, view, _mark(live))
            live.sent_at, live.sent_via, live.sent_by = now, via, office.name[:200]
            _audit_sent(session, office, delegate, now, before=None, after={"via": via})
            return SentResult(SentStep.MARKED, view, _mark(live))

    async def mark_sent_many(
        self,
        office: OfficeActor,
        codes: Sequence[str] | None,
        *,
        via: str = "paper",
        shown_at: datetime | None = None,
    ) -> BulkSent:
        """Mark the live links of the people ``codes`` names (None: every invitee whose live
        link is not marked yet) as sent ``via`` one of :data:`SENT_VIA` (the printed slips
        handed out: "paper"), in one transaction, each audited as :meth:`mark_sent` audits
        one. A mark already there stays as it was (a double tap marks once); task contacts,
        withdrawn invitations and people without a live link are left out, and so is a link
        made after ``shown_at`` (the list the office chose from: a link re-issued since was
        not the one handed out)."""
        if via not in SENT_VIA:
            via = "other"
        now = self._ctx.clock.now()
        meeting_id = self._ctx.meeting_id
        async with unit_of_work(self._ctx.sessions) as session:
            if codes is None:
                people = list(
                    await session.scalars(
                        select(Delegate).where(
                            roster.delegates_of(meeting_id),
                            select(Invitation.id)
                            .where(
                                Invitation.delegate_id == Delegate.id,
                                Invitation.revoked_at.is_(None),
                                Invitation.sent_at.is_(None),
                            )
                            .exists(),
                        )
                    )
                )
                unknown: list[str] = []
            else:
                wanted = {queries.fold_code(code): code.strip() for code in codes if code.strip()}
                found = list(
                    await session.scalars(
                        select(Delegate).where(
                            Delegate.meeting_id == meeting_id,
                            Delegate.folded_code.in_(list(wanted)),
                        )
                    )
                )
                by_fold = {queries.fold_code(person.code): person for person in found}
                people = list(by_fold.values())
                unknown = [typed for folded, typed in wanted.items() if folded not in by_fold]
            order = {group.key: group.order for group in self._ctx.config.groups}
            people.sort(key=protocol_key(order))
            # On paper: the slips handed out carry the links of the last print; a link made
            # since was never printed.
            printed = await self._last_print(session) if via == "paper" else None
            cutoffs = [when for when in (shown_at, printed) if when is not None]
            cutoff = min(cutoffs) if cutoffs else None
            # Locked, as one mark locks its row: a double tap in another process waits, then
            # finds them marked; a re-issue in between is seen.
            ids = [person.id for person in people]
            live = await _live_rows(session, ids)
            # On PostgreSQL, waited on a re-issue that revoked a row: the new row, committed
            # with it, is seen by the next statement — read once again, as one mark does.
            missing = [person.id for person in people if person.id not in live]
            again = await _live_rows(session, missing) if missing else {}
            live.update(again)
            marked: list[str] = []
            already: list[str] = []
            lists: dict[SentStep, list[str]] = {step: [] for step in _BULK_LEFT_OUT}
            for person in people:
                invitation = live.get(person.id)
                step = _sent_check(
                    person, invitation, invited_only=True,
                    wanted=lambda row: row.delegate_id not in again
                    and (cutoff is None or row.created_at <= cutoff),
                )  # fmt: skip
                if (
                    invitation is not None
                    and invitation.sent_at is not None
                    and step in (None, SentStep.LINK_CHANGED)
                ):
                    already.append(person.code)  # marked, whichever link: kept as it was
                elif step is not None:
                    lists[step].append(person.code)
                elif invitation is not None:
                    invitation.sent_at, invitation.sent_via = now, via
                    invitation.sent_by = office.name[:200]
                    _audit_sent(session, office, person, now, before=None, after={"via": via})
                    marked.append(person.code)
        return BulkSent(
            tuple(marked), tuple(already), tuple(lists[SentStep.NOT_INVITED]),
            tuple(lists[SentStep.WITHDRAWN]), tuple(lists[SentStep.NO_INVITATION]),
            tuple(lists[SentStep.LINK_CHANGED]), tuple(unknown),
            no_print=via == "paper" and printed is None and bool(marked),
        )  # fmt: skip

    async def record_print(self, office: OfficeActor, at: datetime, file: str = "slips") -> None:
        """Record that the office took the links live at ``at`` (the moment before they were
        read) away on a file it may print and hand out: the slips, or the links export
        (``file``, one of :data:`PRINTED_FILES`) — a clerk prints invitation letters from the
        export too (a mail merge), and it carries the same link and code as the slip. A bulk
        mark on paper leaves out a link made after the last of these. Audited: when, by whom,
        which file."""
        async with unit_of_work(self._ctx.sessions) as session:
            queries.add_audit(
                session, at=at, actor=office.actor, action=PRINTED_ACTION, entity="meeting",
                entity_id=self._ctx.meeting_id, before=None, after={"file": file},
            )  # fmt: skip

    async def _last_print(self, session: AsyncSession) -> datetime | None:
        """When the slips were last made (:meth:`record_print`), if ever."""
        return await session.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.meeting_id == self._ctx.meeting_id,
                AuditEntry.action == PRINTED_ACTION,
            )
        )

    async def unmark_sent(self, office: OfficeActor, code: str, *, invitation: int) -> SentResult:
        """Undo the «đã gửi» mark of a person's live link (``invitation``, as for
        :meth:`mark_sent`); audited. Nothing to undo (a double tap) changes nothing."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._sent_target(session, code, invitation, withdrawn_too=True)
            if isinstance(found, SentResult):
                return found
            delegate, live = found
            view = DelegateView.of(delegate)
            if live.sent_at is None:
                return SentResult(SentStep.NOT_MARKED, view)
            before = {"via": live.sent_via}
            live.sent_at = live.sent_via = live.sent_by = None
            _audit_sent(session, office, delegate, now, before=before, after=None)
            return SentResult(SentStep.UNMARKED, view)

    async def _sent_target(
        self,
        session: AsyncSession,
        code: str,
        invitation: int,
        *,
        withdrawn_too: bool = False,
        invited_only: bool = False,
    ) -> tuple[Delegate, Invitation] | SentResult:
        """The person and the live invitation a «đã gửi» form names, or why there is none;
        the invitation's row locked until the transaction ends, so a double tap in two
        processes (PostgreSQL) marks once and a re-issue in between is seen."""
        delegate = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
        if delegate is None:
            return SentResult(SentStep.UNKNOWN_PERSON)
        view = DelegateView.of(delegate)
        step = _sent_check(delegate, None, withdrawn_too=withdrawn_too, invited_only=invited_only)
        if step in (SentStep.WITHDRAWN, SentStep.NOT_INVITED):
            return SentResult(step, view)
        statement = queries.locked(
            select(Invitation)
            .where(Invitation.delegate_id == delegate.id, Invitation.revoked_at.is_(None))
            .order_by(Invitation.id.desc())
            .limit(1)
        )
        live = await session.scalar(statement)
        if live is None:
            # On PostgreSQL, waited on a re-issue that revoked the row: the new row, committed
            # with it, is seen by the next statement — the link changed, not none left.
            live = await session.scalar(statement)
        step = _sent_check(
            delegate, live, withdrawn_too=withdrawn_too, invited_only=invited_only,
            wanted=lambda row: row.id == invitation,
        )  # fmt: skip
        if step is not None or live is None:
            mark = _mark(live) if live is not None else None
            return SentResult(step or SentStep.NO_INVITATION, view, mark)
        return delegate, live

    async def set_reachable(self, account: ChatAccount, *, reachable: bool, reason: str) -> bool:
        """Record that an account blocked the bot (or came back); True if anything changed."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None or (ident.unreachable_at is None) == reachable:
                return False
            now = self._ctx.clock.now()
            before = {"reachable": ident.unreachable_at is None}
            ident.unreachable_at = None if reachable else now
            ident.unreachable_reason = None if reachable else reason
            queries.add_audit(
                session,
                at=now,
                actor=account.actor,
                action="identity.reachable" if reachable else "identity.unreachable",
                entity="delegate",
                entity_id=ident.delegate_id,
                before=before,
                after={"reachable": reachable, "reason": reason},
            )
            return True

    async def other_meeting_code(self, code: str) -> OtherMeeting | None:
        """The other meeting whose live invitation carries the personal ``code`` (canonical),
        or None: a linked person's typed text holding the last conference's code is answered
        as ``/start CODE`` is, without a try at linking (she is linked already)."""
        async with read_only(self._ctx.sessions) as session:
            return await self._elsewhere(session, code=code)

    async def _elsewhere(
        self, session: AsyncSession, *, token: str | None = None, code: str | None = None
    ) -> OtherMeeting | None:
        """The other meeting of the database whose live invitation ``token`` (or the personal
        ``code``) is, as :class:`OtherMeeting` tells it; None when none is."""
        found = await queries.invitation_elsewhere(
            session, self._ctx.meeting_id, token=token, code=code
        )
        if found is None:
            return None
        return other_meeting(
            self._ctx,
            found.meeting,
            invited_here=found.phone is not None
            and await queries.invited_by_phone(session, self._ctx.meeting_id, found.phone),
        )

    async def whoami(self, account: ChatAccount) -> LinkResult | None:
        """The delegate this account is linked to, with their answer; None if not linked."""
        async with unit_of_work(self._ctx.sessions) as session:
            mine = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if mine is None:
                return None
            delegate = await session.get_one(Delegate, mine.delegate_id)
            rsvp = RsvpView.of(await queries.rsvp_of(session, delegate.id))
            return LinkResult(LinkOutcome.ALREADY_LINKED, DelegateView.of(delegate), rsvp)

    async def link_counts(self) -> tuple[int, int]:
        """How many people :meth:`links` lists, and how many of them are delegates (not task
        contacts): counted in SQL, for the invitations page, which shows only these."""
        person = func.count(distinct(Delegate.id))
        async with unit_of_work(self._ctx.sessions) as session:
            row = (
                await session.execute(
                    select(person, person.filter(Delegate.role == "delegate"))
                    .join(Invitation, Invitation.delegate_id == Delegate.id)
                    .where(
                        Delegate.meeting_id == self._ctx.meeting_id,
                        Invitation.revoked_at.is_(None),
                        roster.invited(),
                    )
                )
            ).one()
        return int(row[0]), int(row[1])

    async def links(self) -> list[InviteLink]:
        """Every delegate's current invitation, in protocol order."""
        order = {group.key: group.order for group in self._ctx.config.groups}
        async with read_only(self._ctx.sessions) as session:
            rows = await queries.invitation_rows(session, self._ctx.meeting_id)
        return [
            InviteLink(
                row.code,
                row.full_name,
                row.group_key,
                row.token,
                row.role,
                row.position,
                row.organization,
                row.phone,
                row.link_code,
                None
                if row.sent_at is None
                else SentMark(row.sent_at, row.sent_via or "other", row.sent_by or ""),
            )
            for row in sorted(rows, key=protocol_key(order))
        ]


def bulk_sent_lines(say: Callable[..., T], result: BulkSent, how: str) -> list[T]:
    """What a bulk «đã gửi» mark did, a sentence each, written by ``say`` (the catalog's
    ``plain`` for the command line, ``html`` for the dashboard); ``how``: the way, as a
    sentence says it («bản giấy», «qua Zalo»): how many were marked, how many were marked
    before, who was left out and why (their codes)."""
    lines = [
        say("dash.invite.bulk.marked", count=len(result.marked), via=how)
        if result.marked
        else say("dash.invite.bulk.marked_none")
    ]
    if result.already:
        lines.append(say("dash.invite.bulk.already", count=len(result.already)))
    left_out = (
        ("contacts", result.contacts),
        ("withdrawn", result.withdrawn),
        ("no_link", result.no_link),
        ("changed", result.changed),
        ("unknown", result.unknown),
    )
    for key, codes in left_out:
        if codes:
            lines.append(say(f"dash.invite.bulk.{key}", count=len(codes), codes=", ".join(codes)))
    if result.no_print:
        lines.append(say("dash.invite.bulk.no_print"))
    return lines


def other_meeting(ctx: ServiceContext, meeting: Meeting, *, invited_here: bool) -> OtherMeeting:
    """Another meeting of the database as its token's or code's holder is told of it: over when
    it began before this meeting and its last day is before today (in this meeting's zone): a
    meeting of several days begun yesterday is not over today. A row that keeps no end (not
    synced since migration 0031) is judged by its start."""
    config = ctx.config.meeting
    today = config.local(ctx.clock.now()).date()
    last = meeting.ends_at or meeting.starts_at
    ended = meeting.starts_at < config.starts_at and config.local(last).date() < today
    return OtherMeeting(meeting.title, meeting.starts_at, ended, invited_here)


def live_token_of(person_id: int) -> Select[str]:
    """The select of the token of a person's invitation that is not revoked (none: no row)."""
    return select(Invitation.token).where(
        Invitation.delegate_id == person_id, Invitation.revoked_at.is_(None)
    )


# The reasons a bulk mark leaves a person out, each a list of :class:`BulkSent`.
_BULK_LEFT_OUT = (SentStep.NOT_INVITED, SentStep.WITHDRAWN, SentStep.NO_INVITATION,
                  SentStep.LINK_CHANGED)  # fmt: skip


def _sent_check(
    person: Delegate,
    live: Invitation | None,
    *,
    withdrawn_too: bool = False,
    invited_only: bool = False,
    wanted: Callable[[Invitation], bool] = lambda row: True,
) -> SentStep | None:
    """Why a «đã gửi» mark (one or many) cannot be set on ``person``'s ``live`` link, or None:
    her invitation withdrawn, a task contact, no live link, or not the link the office handed
    out (``wanted``: the one the form named, or one made before the list was shown / the slips
    printed). One rule for one mark and many, so both say the same."""
    if person.withdrawn_at is not None and not withdrawn_too:
        return SentStep.WITHDRAWN
    if invited_only and person.role != "delegate":
        return SentStep.NOT_INVITED
    if live is None:
        return SentStep.NO_INVITATION
    if not wanted(live):
        return SentStep.LINK_CHANGED
    return None


async def _live_rows(session: AsyncSession, ids: Sequence[int]) -> dict[int, Invitation]:
    """The live invitation of each person of ``ids``, by person, its row locked until the
    transaction ends (the newest, should there be two)."""
    live: dict[int, Invitation] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = await session.scalars(
            queries.locked(
                select(Invitation)
                .where(Invitation.delegate_id.in_(chunk), Invitation.revoked_at.is_(None))
                .order_by(Invitation.id)
            )
        )
        live.update((row.delegate_id, row) for row in rows)  # the newest last
    return live


def _mark(invitation: Invitation) -> SentMark | None:
    """The «đã gửi» mark an invitation carries, if any."""
    if invitation.sent_at is None:
        return None
    return SentMark(invitation.sent_at, invitation.sent_via or "other", invitation.sent_by or "")


def _audit_sent(
    session: AsyncSession,
    office: OfficeActor,
    delegate: Delegate,
    at: datetime,
    *,
    before: dict[str, str | None] | None,
    after: dict[str, str] | None,
) -> None:
    """Audit a «đã gửi» mark set (``after``: how it was sent, ``invitation.sent``) or undone
    (``before``: how it had been, ``invitation.unsent``); how only, never the link or a
    phone number."""
    queries.add_audit(
        session,
        at=at,
        actor=office.actor,
        action="invitation.sent" if after is not None else "invitation.unsent",
        entity="delegate",
        entity_id=delegate.id,
        before=before,
        after=after,
    )


@dataclass(frozen=True)
class _Slowdown:
    """An account slowed down: until when, and whether it was told so within the notice
    interval."""

    until: datetime
    told: bool


async def _slowed_down(
    session: AsyncSession, channel: str, external_id: str, actor: str, now: datetime
) -> _Slowdown | None:
    """The slowdown of ``external_id`` on ``channel`` if it sent :data:`MAX_FAILURES` wrong
    tokens within the window (audited each time the sender is told, at most once in
    :data:`SLOWED_DOWN_NOTICE_INTERVAL`); None otherwise."""
    recent = list(
        await session.scalars(
            select(LinkFailure.at)
            .where(
                LinkFailure.channel == channel,
                LinkFailure.external_id == external_id,
                LinkFailure.at > now - FAILURE_WINDOW,
            )
            .order_by(LinkFailure.at.desc())
            .limit(MAX_FAILURES)
        )
    )
    if len(recent) < MAX_FAILURES:
        return None
    # The slowdown began with the last wrong token; the audit log, which survives a restart,
    # remembers whether the sender has been told since, within the notice interval.
    told = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.at >= recent[0],
            AuditEntry.at > now - SLOWED_DOWN_NOTICE_INTERVAL,
            AuditEntry.actor == actor,
            AuditEntry.action == SLOWED_DOWN_ACTION,
        )
        .limit(1)
    )
    until = recent[-1] + FAILURE_WINDOW
    if told is None:
        queries.add_audit(
            session,
            at=now,
            actor=actor,
            action=SLOWED_DOWN_ACTION,
            entity="identity",
            entity_id=None,
            before=None,
            after={"wrong_links": MAX_FAILURES, "until": until.isoformat()},
        )
    return _Slowdown(until, told=told is not None)
