"""Who may do what: the callers the core sees, their roles, and the office actors only this
module issues.

Every use case that only the office may run takes an :class:`OfficeActor`. Its constructor wants
a key that only this module holds, so a channel adapter cannot make one up: it has to pass the
event's account through :meth:`Access.office`, which says yes only to office staff. Office staff
are people on the list with the ``office`` role (granted with ``hoinghi staff add``), linked on
any channel; the Telegram ids of ``[office] admin_ids`` stay office staff as a bootstrap, so a
new installation can be run before anyone is granted anything.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import ChatAccount, place
from bot.domain.typed import one_line
from bot.services.context import ServiceContext
from bot.services.views import DelegateView
from storage import queries
from storage.models import ChannelIdentity, Delegate, PersonRole
from storage.uow import unit_of_work

# The channel whose account ids [office] admin_ids lists.
BOOTSTRAP_CHANNEL = "telegram"
# How the audit log names the person at the office's computer (the command line).
LOCAL_OPERATOR = "cli"
# How the audit log names office staff signed in to the dashboard: "dashboard:<code>".
DASHBOARD = "dashboard"


class Role(StrEnum):
    """A role a person can hold."""

    OFFICE = "office"  # runs the meeting: office commands, reports, notices, verdicts
    CHECKIN = "checkin"  # the reception desk on the meeting day


@dataclass(frozen=True)
class Caller:
    """The sender of an event as the core judges them."""

    account: ChatAccount
    person: DelegateView | None
    roles: frozenset[Role]

    @property
    def linked(self) -> bool:
        """Linked to someone on the list."""
        return self.person is not None

    @property
    def is_office(self) -> bool:
        """Office staff."""
        return Role.OFFICE in self.roles


_KEY = object()


class OfficeActor:
    """Office staff, as every office-only use case demands: who (for the audit log), their
    name (for the speaker reading a comment), and where reports for them go."""

    __slots__ = ("actor", "name", "person_id", "report_to")

    def __init__(
        self, key: object, *, actor: str, name: str, report_to: str | None, person_id: int | None
    ) -> None:
        if key is not _KEY:
            raise TypeError("office actors are issued by bot.services.access only")
        self.actor = actor
        self.name = name
        self.report_to = report_to
        self.person_id = person_id

    def __repr__(self) -> str:
        return f"OfficeActor({self.actor!r})"


# The longest desk label (a short name the desk chose: "Bàn 1", "Cửa B").
MAX_DESK = 40


class DeskActor:
    """A reception desk on the meeting day, as every check-in use case demands: the staff
    member (check-in role, or the office) for the audit log and the desk's screen, the desk's
    label, and whether they are office staff (who may undo any desk's tap in the window)."""

    __slots__ = ("actor", "desk", "is_office", "name", "person_id")

    def __init__(
        self, key: object, *, actor: str, name: str, desk: str, person_id: int | None,
        is_office: bool,
    ) -> None:  # fmt: skip
        if key is not _KEY:
            raise TypeError("desk actors are issued by bot.services.access only")
        self.actor = actor
        self.name = name
        self.desk = desk
        self.person_id = person_id
        self.is_office = is_office

    def __repr__(self) -> str:
        return f"DeskActor({self.actor!r}, desk={self.desk!r})"


def desk_label(text: str, fallback: str) -> str:
    """A desk's label as stored: one line, at most :data:`MAX_DESK` characters; ``fallback``
    (the staff member's name) when nothing was given."""
    label = one_line(text)[:MAX_DESK].strip()
    return label or one_line(fallback)[:MAX_DESK].strip() or LOCAL_OPERATOR


@dataclass(frozen=True)
class StaffPerson:
    """What :meth:`Access.staff_actors` needs of a person's row."""

    id: int
    meeting_id: int
    code: str
    full_name: str


@dataclass(frozen=True)
class RoleChange:
    """What ``staff add`` / ``staff remove`` did: the person, and whether anything changed;
    ``own_office_role``: refused, the staff member would have withdrawn their own office role."""

    person: DelegateView | None
    changed: bool
    own_office_role: bool = False


@dataclass(frozen=True)
class StaffMember:
    """A person with a role, and their linked accounts."""

    person: DelegateView
    role: Role
    accounts: tuple[tuple[str, str], ...]  # (channel, chat address)


class Access:
    """Reads callers and their roles, issues office actors, grants and withdraws roles."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def is_bootstrap_admin(self, account: ChatAccount) -> bool:
        """An account listed in ``[office] admin_ids``."""
        return (
            account.channel == BOOTSTRAP_CHANNEL
            and account.external_id.isdigit()
            and int(account.external_id) in self._ctx.config.office.admin_ids
        )

    async def caller(self, account: ChatAccount) -> Caller:
        """The person an account is linked to, if any, with their roles (one read)."""
        async with self._ctx.sessions() as session:
            person = await session.scalar(
                select(Delegate)
                .join(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
                .where(
                    ChannelIdentity.channel == account.channel,
                    ChannelIdentity.external_id == account.external_id,
                    Delegate.meeting_id == self._ctx.meeting_id,
                )
            )
            roles: set[Role] = set()
            if person is not None:
                roles = {Role(r) for r in await _roles_of(session, person.id)}
        if self.is_bootstrap_admin(account):
            roles.add(Role.OFFICE)
        view = DelegateView.of(person) if person is not None else None
        return Caller(account, view, frozenset(roles))

    def office(self, caller: Caller) -> OfficeActor | None:
        """``caller`` as an office actor, or None when they are not office staff."""
        if not caller.is_office:
            return None
        account = caller.account
        name = caller.person.full_name if caller.person else account.display_name
        return OfficeActor(
            _KEY,
            actor=account.actor,
            name=name or account.actor,
            report_to=place(account.channel, account.chat_address),
            person_id=caller.person.id if caller.person else None,
        )

    def desk(self, caller: Caller, desk: str) -> DeskActor | None:
        """``caller`` at the reception desk labelled ``desk``, or None unless they hold the
        check-in role or are office staff (a delegate cannot check anyone in, themselves
        included)."""
        if not (caller.is_office or Role.CHECKIN in caller.roles):
            return None
        account = caller.account
        name = (caller.person.full_name if caller.person else account.display_name) or account.actor
        return DeskActor(
            _KEY,
            actor=account.actor,
            name=name,
            desk=desk_label(desk, name),
            person_id=caller.person.id if caller.person else None,
            is_office=caller.is_office,
        )

    def office_desk(self, office: OfficeActor, desk: str) -> DeskActor:
        """The office itself at a desk (the command line, the dashboard's own check-in)."""
        name = office.name or office.actor
        return DeskActor(
            _KEY, actor=office.actor, name=name, desk=desk_label(desk, name),
            person_id=office.person_id, is_office=True,
        )  # fmt: skip

    async def office_person(self, person_id: int) -> OfficeActor | None:
        """The person with ``person_id`` as an office actor at the dashboard, or None when
        they no longer hold the office role (read now: a role withdrawn ends their access)."""
        async with self._ctx.sessions() as session:
            person = await session.get(Delegate, person_id)
            if person is None or person.meeting_id != self._ctx.meeting_id:
                return None
            if Role.OFFICE not in await _roles_of(session, person_id):
                return None
        return OfficeActor(
            _KEY,
            actor=f"{DASHBOARD}:{person.code}",
            name=person.full_name,
            report_to=None,
            person_id=person.id,
        )

    async def dashboard_desk(self, person_id: int, desk: str) -> DeskActor | None:
        """The person with ``person_id`` at the dashboard's desk labelled ``desk``, or None
        unless they hold the check-in or the office role (read now, as :meth:`office_person`)."""
        async with self._ctx.sessions() as session:
            person = await session.get(Delegate, person_id)
            if person is None or person.meeting_id != self._ctx.meeting_id:
                return None
            roles = set(await _roles_of(session, person_id))
        if not roles & {Role.OFFICE, Role.CHECKIN}:
            return None
        return DeskActor(
            _KEY, actor=f"{DASHBOARD}:{person.code}", name=person.full_name,
            desk=desk_label(desk, person.full_name), person_id=person.id,
            is_office=Role.OFFICE in roles,
        )  # fmt: skip

    def staff_actors(
        self, person: StaffPerson, roles: Collection[str], desk: str | None
    ) -> tuple[OfficeActor | None, DeskActor | None]:
        """The person as :meth:`office_person` and :meth:`dashboard_desk` would issue them, from
        their row and roles read by the caller in its own transaction (one read for a
        dashboard request's session, person and roles); no desk actor when ``desk`` is None."""
        if person.meeting_id != self._ctx.meeting_id:
            return None, None
        actor = f"{DASHBOARD}:{person.code}"
        office = None
        if Role.OFFICE in roles:
            office = OfficeActor(
                _KEY, actor=actor, name=person.full_name, report_to=None, person_id=person.id
            )
        at_desk = None
        if desk is not None and (Role.OFFICE in roles or Role.CHECKIN in roles):
            at_desk = DeskActor(
                _KEY, actor=actor, name=person.full_name, desk=desk_label(desk, person.full_name),
                person_id=person.id, is_office=Role.OFFICE in roles,
            )  # fmt: skip
        return office, at_desk

    def local_operator(self) -> OfficeActor:
        """Whoever runs ``hoinghi`` on the office's computer: the command line is the office's."""
        return OfficeActor(_KEY, actor=LOCAL_OPERATOR, name="", report_to=None, person_id=None)

    # --- roles ---------------------------------------------------------------------------------

    async def grant(self, actor: OfficeActor, code: str, role: Role) -> RoleChange:
        """Give the person with ``code`` a role (audited); unchanged if they hold it."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            person = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
            if person is None:
                return RoleChange(None, changed=False)
            held = await _roles_of(session, person.id)
            if role in held:
                return RoleChange(DelegateView.of(person), changed=False)
            if not held:  # her sign-ins from a role withdrawn earlier do not come back with this
                # Imported here: the sign-in service is built on this one (it imports Access).
                from bot.services.signin import end_sessions_of

                # Not audited as a sign-out: they opened nothing since the role was withdrawn.
                await end_sessions_of(session, person.id, now, links=True)
            session.add(
                PersonRole(person_id=person.id, role=role, granted_at=now, granted_by=actor.actor)
            )
            queries.add_audit(
                session, at=now, actor=actor.actor, action="role.granted", entity="delegate",
                entity_id=person.id, before=None, after={"role": str(role)},
            )  # fmt: skip
            return RoleChange(DelegateView.of(person), changed=True)

    async def revoke(self, actor: OfficeActor, code: str, role: Role) -> RoleChange:
        """Withdraw a role from the person with ``code`` (audited); staff signed in to the
        dashboard cannot withdraw their own office role (another staff member, or the command
        line, can), so the office is never locked out by a slip of its last member."""
        now = self._ctx.clock.now()
        async with unit_of_work(self._ctx.sessions) as session:
            person = await queries.delegate_by_code(session, self._ctx.meeting_id, code)
            if person is None:
                return RoleChange(None, changed=False)
            if role is Role.OFFICE and person.id == actor.person_id:
                return RoleChange(DelegateView.of(person), changed=False, own_office_role=True)
            removed = await session.execute(
                delete(PersonRole).where(PersonRole.person_id == person.id, PersonRole.role == role)
            )
            if not getattr(removed, "rowcount", 0):
                return RoleChange(DelegateView.of(person), changed=False)
            after: dict[str, Any] | None = None
            if not {Role.OFFICE, Role.CHECKIN}.intersection(await _roles_of(session, person.id)):
                # A sign-in link she has not opened yet would only tell her it was refused: it
                # ends now (her open sessions stay, each saying "refused"); the page at the link
                # says she holds no role. Not a sign-out of hers: the withdrawal's entry says
                # which links it cancelled, by number, as signing out everywhere does.
                from bot.services.signin import end_sessions_of

                ended = await end_sessions_of(session, person.id, now, links=True, sessions=False)
                if ended.links:
                    after = {"links": ended.links}
            queries.add_audit(
                session, at=now, actor=actor.actor, action="role.revoked", entity="delegate",
                entity_id=person.id, before={"role": str(role)}, after=after,
            )  # fmt: skip
            return RoleChange(DelegateView.of(person), changed=True)

    async def staff(self, role: Role = Role.OFFICE) -> list[StaffMember]:
        """Everyone holding ``role``, with their linked accounts, in code order."""
        async with self._ctx.sessions() as session:
            rows = await session.execute(
                select(Delegate, ChannelIdentity.channel, ChannelIdentity.chat_address)
                .join(PersonRole, PersonRole.person_id == Delegate.id)
                .outerjoin(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
                .where(Delegate.meeting_id == self._ctx.meeting_id, PersonRole.role == role)
                .order_by(Delegate.code)
            )
            members: dict[int, tuple[Delegate, list[tuple[str, str]]]] = {}
            for person, channel, address in rows.all():
                entry = members.setdefault(person.id, (person, []))
                if channel is not None:
                    entry[1].append((channel, address))
        return [
            StaffMember(DelegateView.of(person), role, tuple(accounts))
            for person, accounts in members.values()
        ]


async def _roles_of(session: AsyncSession, person_id: int) -> Sequence[str]:
    return list(
        await session.scalars(select(PersonRole.role).where(PersonRole.person_id == person_id))
    )
