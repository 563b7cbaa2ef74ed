"""Cán bộ on the dashboard: who holds the office and the reception desk's roles, giving a role
to someone on the list by their code and withdrawing it (a clerk who leaves): the use cases of
``hoinghi staff add`` / ``staff remove`` (:meth:`bot.services.access.Access.grant`,
:meth:`~bot.services.access.Access.revoke`), audited as this staff member's. A withdrawn role
takes effect at once: that person's open sessions are refused from their next request.

Beside each of them, «Cấp đường liên kết đăng nhập»: a one-time sign-in link for that person,
the use case of ``hoinghi staff login`` (:meth:`bot.services.signin.StaffSignIn.link_by_office`,
audited as this staff member's), shown once (post, redirect, get: the flash is taken once) as
text to copy and as a QR code to scan from the screen — for a desk volunteer with no linked
chat on the meeting's morning, handed over in person. The same form sent twice (a double tap:
its nonce again) issues nothing more and shows the link the first tap issued, which the
browser dropped in favour of the second answer."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.documents.qr import qr_secret_svg
from bot.services.access import OfficeActor, Role, RoleChange
from bot.services.signin import LINK_LIFETIME, LinkStep, SignInLink, StaffVisit
from bot.texts.formatting import clock
from handlers.web.office.binding import session_binding

if TYPE_CHECKING:
    from handlers.web.office.app import Office

# A code as typed in the form: the list's codes are short, so anything longer names no one.
MAX_CODE = 40


class StaffRoles:
    """The staff page's handlers, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office
        # The links issued from each session's «Cấp đường liên kết đăng nhập» forms, by the
        # form's nonce, while they are open: a second tap waits for the first and shows its link.
        self._issued: dict[tuple[str, str], asyncio.Future[SignInLink]] = {}

    def routes(self) -> list[BaseRoute]:
        """The staff page's routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/staff", staff(self.page), methods=["GET"]),
            Route("/staff/grant", staff(self.grant), methods=["POST"]),
            Route("/staff/revoke", staff(self.revoke), methods=["POST"]),
            Route("/staff/signin-link", staff(self.signin_link), methods=["POST"]),
        ]

    async def page(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Everyone holding each role, with the form that gives one."""
        access = self.office.services.access
        members = {role: await access.staff(role) for role in Role}
        # A link is offered for herself and for the desk's people who hold no office role
        # (:meth:`bot.services.signin.StaffSignIn.link_by_office` refuses the others).
        clerks = {member.person.id for member in members[Role.OFFICE]}
        linkable = {
            member.person.id
            for held in members.values()
            for member in held
            if member.person.id == actor.person_id or member.person.id not in clerks
        }
        return self.office._render(
            "office/staff.html", visit=visit, actor=actor, members=members, roles=list(Role),
            flash=self.office._flash(request, visit), linkable=linkable,
            link_minutes=int(LINK_LIFETIME.total_seconds() // 60),
        )  # fmt: skip

    async def grant(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Give the role chosen to the person whose code was typed."""
        asked = await self._asked(request, visit)
        if isinstance(asked, Response):
            return asked
        role, code = asked
        result = await self.office.services.access.grant(actor, code, role)
        # Refused (a code on no list): the form again with the code and the role chosen, so a
        # corrected code is not sent with the first role instead.
        typed = {"grant-code": code, "grant-role": role.value}
        return self._changed(
            visit, result, code, role, done="staff.added", same="staff.already", typed=typed
        )

    async def revoke(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Withdraw a role from a staff member (never one's own office role: the office would
        be left to whoever is at the server)."""
        asked = await self._asked(request, visit)
        if isinstance(asked, Response):
            return asked
        role, code = asked
        result = await self.office.services.access.revoke(actor, code, role)
        if result.own_office_role:
            return self._say(visit, "dash.staff.own_role", ok=False)
        return self._changed(visit, result, code, role, done="staff.removed", same="staff.was_not")

    async def signin_link(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """A one-time sign-in link for the staff member the form names, shown once; refused
        for someone who holds no staff role (any more)."""
        values = await self.office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        code = values.get("code", "").strip()[:MAX_CODE]
        if not code:
            return self._say(visit, "dash.staff.choose", ok=False)
        form = (session_binding(visit), values.get("nonce", ""))
        self._forget_spent()
        if (first := self._issued.get(form)) is not None:  # the same form again: a double tap
            again = await asyncio.shield(first)
            return self.office._done(visit, "staff", self._again_html(again), ok=True)
        self._issued[form] = issuing = asyncio.get_running_loop().create_future()
        try:
            result = await self.office.services.signin.link_by_office(actor, code)
        except BaseException as error:
            del self._issued[form]
            issuing.set_exception(error)
            issuing.exception()  # retrieved: a tap waiting for it fails as this one does
            raise
        issuing.set_result(result)
        if result.step is not LinkStep.ISSUED:  # nothing issued: the form may be sent again
            del self._issued[form]
        if result.step is LinkStep.UNKNOWN_PERSON or result.person is None:
            return self._say(visit, "dash.staff.unknown_code", ok=False, code=code)
        person = result.person
        if result.step is LinkStep.COLLEAGUE:
            return self._say(
                visit, "dash.staff.link_colleague", ok=False, name=person.full_name,
                code=person.code,
            )  # fmt: skip
        if result.step is not LinkStep.ISSUED:
            return self._say(
                visit, "dash.staff.link_no_role", ok=False, name=person.full_name, code=person.code
            )
        return self.office._done(visit, "staff", self._link_html(result), ok=True)

    def _again_html(self, result: SignInLink) -> str:
        """The answer to a form sent again: nothing more issued, and the first tap's link (its
        answer never reached the screen); what the first tap was told when it issued none."""
        if result.step is not LinkStep.ISSUED or result.person is None:
            return self.office.catalog.html("dash.staff.link_again_none")
        names = {"name": result.person.full_name, "code": result.person.code}
        again = self.office.catalog.html("dash.staff.link_again", **names)
        return f'<span class="flash-line" id="signin-link-again">{again}</span>' + self._link_html(
            result
        )

    def _forget_spent(self) -> None:
        """Forget the forms whose link has expired (a form sent after that issues anew)."""
        now = self.office.services.ctx.clock.now()
        for form, issued in list(self._issued.items()):
            if issued.done() and (issued.result().expires_at or now) <= now:
                del self._issued[form]

    def _link_html(self, result: SignInLink) -> str:
        """The issued link, to be shown once: who it is for and until when, the address in a
        read-only field (selected and copied without any script; the page's script adds a
        «Sao chép» button), its QR code, and to whom alone it may be given."""
        office, catalog = self.office, self.office.catalog
        assert result.person is not None and result.secret is not None
        assert result.expires_at is not None
        person = result.person
        link = f"{office.origin}{office.root}/signin/{result.secret}"
        until = clock(office.config.meeting.local(result.expires_at))
        names = {"name": person.full_name, "code": person.code}
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        issued = catalog.html("dash.staff.link_issued", until=until, minutes=minutes, **names)
        label = escape(catalog.plain("dash.staff.link_label", **names))
        copy = escape(catalog.plain("dash.staff.link_copy"))
        copied = escape(catalog.plain("dash.staff.link_copied"))
        caption = catalog.html("dash.staff.link_qr", **names)
        warning = catalog.html("dash.staff.link_warning", **names)
        return (
            f'<span class="flash-line" id="signin-link-issued">{issued}</span>'
            f'<label for="signin-link">{label}</label>'
            f'<span class="copy-row"><input id="signin-link" type="text" readonly'
            f' value="{escape(link)}" autocomplete="off" spellcheck="false">'
            f'<button type="button" class="secondary small" data-copy="signin-link"'
            f' data-done="{copied}" hidden>{copy}</button></span>'
            f'<span class="signin-qr" id="signin-qr">{qr_secret_svg(link)}'
            f'<span class="flash-line muted">{caption}</span></span>'
            f'<strong class="flash-line warn" id="signin-link-warning">{warning}</strong>'
        )

    async def _asked(self, request: Request, visit: StaffVisit) -> tuple[Role, str] | Response:
        """The role and the code a grant's or a withdrawal's form names, or the answer to a
        form that names none (or was not this session's)."""
        values = await self.office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        role = _role(values.get("role", ""))
        code = values.get("code", "").strip()[:MAX_CODE]
        if role is None or not code:
            return self._say(visit, "dash.staff.choose", ok=False)
        return role, code

    def _changed(
        self,
        visit: StaffVisit,
        result: RoleChange,
        code: str,
        role: Role,
        *,
        done: str,
        same: str,
        typed: dict[str, str] | None = None,
    ) -> Response:
        """What a grant or a withdrawal did, said as the command line says it; a code on no
        list refused with its form as ``typed`` (a box's id → what it held)."""
        catalog = self.office.catalog
        if result.person is None:
            html = catalog.html("dash.staff.unknown_code", code=code)
            return self.office._done(visit, "staff", html, ok=False, form=typed)
        person = result.person
        html = catalog.html(
            done if result.changed else same, name=person.full_name, code=person.code,
            role=catalog.plain(f"staff.role.{role.value}"),
        )  # fmt: skip
        return self.office._done(visit, "staff", html, ok=True)

    def _say(self, visit: StaffVisit, key: str, *, ok: bool, **params: object) -> Response:
        return self.office._done(visit, "staff", self.office.catalog.html(key, **params), ok=ok)


def _role(value: str) -> Role | None:
    """The role a form names, if it names one."""
    return Role(value) if value in {role.value for role in Role} else None
