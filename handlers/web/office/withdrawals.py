"""Withdrawing a person's invitation («Rút giấy mời») on the dashboard, after a confirmation
that names the work they still have in hand, and giving it back («Mời lại»). Both are the use
cases of ``hoinghi delegates withdraw`` and ``reinvite``
(:class:`bot.services.withdrawals.WithdrawalService`), audited as this staff member's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.services.access import OfficeActor
from bot.services.signin import StaffVisit
from bot.services.withdrawals import (
    MAX_WITHDRAW_REASON,
    WithdrawalResult,
    WithdrawalStep,
    withdrawal_lines,
    work_lines,
)
from handlers.web.flash import Flash
from handlers.web.office.binding import session_binding

if TYPE_CHECKING:
    from handlers.web.office.app import Office

# The steps after which the person's page says what was done (the rest changed nothing).
_CHANGED = frozenset({WithdrawalStep.WITHDRAWN, WithdrawalStep.REINVITED})


class Withdrawals:
    """Withdraw and re-invite, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def routes(self) -> list[BaseRoute]:
        """The routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/delegates/{code}/withdraw", staff(self.confirm), methods=["GET"]),
            Route("/delegates/{code}/withdraw", staff(self.withdraw), methods=["POST"]),
            Route("/delegates/{code}/reinvite", staff(self.reinvite), methods=["POST"]),
        ]

    async def confirm(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The confirmation before withdrawing: who, what it does, the reason's box, and the
        speech drafts and tasks that stay theirs until reassigned."""
        code, flash = str(request.path_params["code"]), self.office._flash(request, visit)
        return await self._confirmation(visit, actor, code, flash=flash)

    async def _confirmation(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        code: str,
        *,
        error: str = "",
        reason: str = "",
        tell: bool = False,
        flash: Flash | None = None,
    ) -> Response:
        """The confirmation page; after a refused reason, with why and the form as filled
        (``flash``: a form sent back, with its reason typed, after the server's secret
        changed)."""
        office = self.office
        card = await office.services.dashboard.card(code)
        if card is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        work = await office.services.withdrawals.open_work(card.person.id)
        notes = work_lines(office.catalog.html, work, card.person.code, form=self._form)
        return office._render(
            "office/withdraw.html", status=422 if error else 200, visit=visit, actor=actor,
            card=card, work_notes=notes, error=error, reason=reason, tell=tell, flash=flash,
            on_chat=card.on_chat,
        )  # fmt: skip

    async def withdraw(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Withdraw the invitation, with the reason typed (optional)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        code = str(request.path_params["code"])
        tell = values.get("tell") == "yes"
        withdrawals = office.services.withdrawals
        reason = values.get("reason", "")
        result = await withdrawals.withdraw(actor, code, reason, tell=tell)
        if result.step is WithdrawalStep.TOO_LONG:
            # Nothing changed: the form again, the reason whole in its box, to shorten.
            error = office.catalog.html(
                "withdrawn.too_long", limit=office.catalog.number(MAX_WITHDRAW_REASON)
            )
            return await self._confirmation(
                visit, actor, code, error=error, reason=reason, tell=tell
            )
        return self._said(visit, code, result)

    async def reinvite(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Give the invitation back."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        code = str(request.path_params["code"])
        return self._said(visit, code, await office.services.withdrawals.reinvite(actor, code))

    @property
    def _form(self) -> str:
        """Where the dashboard assigns and withdraws speeches (the chat's ``/phancong``)."""
        return f"{self.office.root}/drafts#assign"

    def _said(self, visit: StaffVisit, code: str, result: WithdrawalResult) -> Response:
        """The person's page again, saying what was done (or why nothing was)."""
        office = self.office
        if result.person is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        lines = withdrawal_lines(office.catalog.html, result, code, form=self._form)
        text = "<br>".join(lines)
        return office._done(
            visit, f"delegates/{result.person.code}", text, ok=result.step in _CHANGED
        )
