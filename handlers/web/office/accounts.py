"""A delegate's link and accounts on the dashboard: re-issue their personal link and code (the
old ones stop working; the new ones are shown once, to read out on the phone) and unlink a chat
account of one channel (a lost phone), each after a confirmation that says what stops working.
Both are the use cases of ``/caplai`` and ``/golienket``
(:class:`bot.services.invitations.InvitationService`), audited as this staff member's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.domain.ids import parse_id
from bot.domain.tokens import format_link_code
from bot.services.access import OfficeActor
from bot.services.invitations import OfficeStep
from bot.services.signin import StaffVisit
from handlers.web.office.binding import session_binding

if TYPE_CHECKING:
    from handlers.web.office.app import Office

LinkMaker = Callable[[str], str]


class Accounts:
    """Re-issuing and unlinking, on the dashboard's :class:`Office`."""

    def __init__(
        self, office: Office, paper: LinkMaker, chat_links: Mapping[str, LinkMaker]
    ) -> None:
        self.office = office
        self.paper = paper
        self.chat_links = chat_links  # filled by the chat channels as they start

    def routes(self) -> list[BaseRoute]:
        """The routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/delegates/{code}/reissue", staff(self.confirm_reissue), methods=["GET"]),
            Route("/delegates/{code}/reissue", staff(self.reissue), methods=["POST"]),
            Route("/delegates/{code}/unlink/{channel}", staff(self.confirm), methods=["GET"]),
            Route("/delegates/{code}/unlink/{channel}", staff(self.unlink), methods=["POST"]),
        ]

    async def confirm_reissue(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """The confirmation before re-issuing: the link and code already handed out (the slip,
        the invitation marked sent, the page she opened) stop working; the chat accounts the bot
        writes to stay."""
        office = self.office
        card = await office.services.dashboard.card(str(request.path_params["code"]))
        if card is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        # The accounts the bot still writes to after it (as /caplai says in chat).
        chats = [_channel_name(office, c) for c in card.chats_kept(office.services.ctx.chats)]
        opened = card.opened  # her page, though a chat showed the invitation reached her first
        return office._render(
            "office/reissue.html", visit=visit, actor=actor, card=card, opened=opened,
            chats=", ".join(chats),
        )  # fmt: skip

    async def reissue(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """A new personal link and code; the page shows them once (the flash is taken once)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        code = str(request.path_params["code"])
        replacing = values.get("replacing", "")
        result = await office.services.invitations.reissue(
            actor, code, replacing=parse_id(replacing) or 0
        )
        catalog = office.catalog
        person = result.delegate
        if result.step is OfficeStep.UNKNOWN_PERSON or person is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        path = f"delegates/{person.code}"
        # An invitee's page keeps her live link in «Giấy mời gửi đại biểu»; a task contact's
        # or a withdrawn person's page has no such section: there it is shown only once.
        once = "_once" if person.is_contact or person.withdrawn else ""
        if result.step is OfficeStep.ALREADY_REISSUED:
            text = catalog.html(f"dash.accounts.already_reissued{once}", name=person.full_name)
            return office._done(visit, path, text, ok=False)
        assert result.token is not None and result.link_code is not None
        links = [(catalog.plain("dash.accounts.page_link"), self.paper(result.token))]
        links += [
            (_channel_name(office, channel), make(result.token))
            for channel, make in self.chat_links.items()
        ]
        listed = "".join(
            f'<li>{escape(label)}: <a href="{escape(url)}" class="secret">{escape(url)}</a></li>'
            for label, url in links
        )
        text = catalog.html(
            f"dash.accounts.reissued{once}", name=person.full_name,
            link_code=format_link_code(result.link_code),
        )  # fmt: skip
        again = (
            ""
            if once
            else f'<span class="flash-line" id="send-again">'
            f"{catalog.html('dash.accounts.send_again')}</span>"
        )
        return office._done(
            visit, path, f'{text}<ul class="plain" id="new-links">{listed}</ul>{again}', ok=True
        )

    async def confirm(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The confirmation before unlinking a channel's account: who, which channel, what it
        does."""
        office = self.office
        card = await office.services.dashboard.card(str(request.path_params["code"]))
        if card is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        channel = str(request.path_params["channel"])
        return office._render(
            "office/unlink.html", visit=visit, actor=actor, card=card, channel=channel,
            linked=any(ident.channel == channel for ident in card.identities),
        )  # fmt: skip

    async def unlink(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Forget the delegate's accounts on one channel; the lost phone acts as them no more."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        channel = str(request.path_params["channel"])
        result = await office.services.invitations.unlink(
            actor, str(request.path_params["code"]), channel=channel
        )
        person = result.delegate
        if result.step is OfficeStep.UNKNOWN_PERSON or person is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        unlinked = result.step is OfficeStep.UNLINKED
        key = "dash.accounts.unlinked" if unlinked else "dash.accounts.was_not_linked"
        text = office.catalog.html(
            key, name=person.full_name, channel=_channel_name(office, channel)
        )
        return office._done(visit, f"delegates/{person.code}", text, ok=unlinked)


def _channel_name(office: Office, channel: str) -> str:
    key = f"channel_name.{channel}"
    return office.catalog.plain(key) if office.catalog.has(key) else channel
