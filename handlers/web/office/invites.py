"""Sending a delegate her invitation from the dashboard: on her page, the ready message (the
meeting, her personal link and code, the deadline) to copy, to open in the phone's SMS app or
beside a Zalo chat with her number, and the office's «đã gửi» mark — when, how, by whom — with
its undo: the use cases :meth:`bot.services.invitations.InvitationService.mark_sent` and
``unmark_sent``, audited as this staff member's. A form sent twice (a double tap) records once:
the mark is on the link the form names, and a link already marked stays as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.domain.ids import parse_id
from bot.domain.phones import vn_mobile
from bot.domain.sms import sms_length, sms_parts
from bot.services.access import OfficeActor
from bot.services.dashboard import PAGE, Card
from bot.services.invitation_files import Invitation
from bot.services.invitations import SENT_VIA, SentStep, bulk_sent_lines
from bot.services.signin import StaffVisit
from bot.services.views import DelegateView
from bot.texts.presenters import sent_via
from handlers.web.flash import Flash
from handlers.web.office.binding import session_binding
from handlers.web.uploads import text_field

if TYPE_CHECKING:
    from handlers.web.office.app import Office

LinkMaker = Callable[[str], str]

# What the person's page says after each step, and whether anything was changed.
_SAID = {
    SentStep.MARKED: ("dash.invite.marked", True),
    SentStep.ALREADY_MARKED: ("dash.invite.already_marked", True),
    SentStep.UNMARKED: ("dash.invite.unmarked", True),
    SentStep.NOT_MARKED: ("dash.invite.not_marked", True),
    SentStep.LINK_CHANGED: ("dash.invite.link_changed", False),
    SentStep.WITHDRAWN: ("dash.invite.withdrawn", False),
    SentStep.NOT_INVITED: ("dash.invite.not_invited", False),
    SentStep.NO_INVITATION: ("dash.invite.no_invitation", False),
}


@dataclass(frozen=True)
class Invite:
    """The invitation to send, as the person's page shows it: the message (for Zalo, or to
    copy), its short SMS form with the SMS it takes and its length, and for a Vietnamese
    mobile on file the ``sms:`` address (the short form as body) and Zalo's."""

    message: str
    sms_text: str
    sms_parts: int
    sms_chars: int
    sms_gsm7: bool
    sms: str | None
    zalo: str | None


def invite_of(office: Office, card: Card, paper: LinkMaker, bot: int = 0) -> Invite | None:
    """The invitation to send ``card``'s person (``bot``: the Zalo bot she is given, as on
    her slip); None without a live invitation (withdrawn, or no link) or for a task contact
    (her link opens her tasks: she is not invited)."""
    if card.person.withdrawn or card.person.is_contact:
        return None
    if card.token is None or card.link_code is None:
        return None
    link = paper(card.token)
    # Past the deadline the message asks her to call the office rather than answer.
    open_ = office.services.rsvp.is_open()
    # Her code's line names the chat that takes it; none where no chat runs (the desk's alone).
    chats = office.chat_bots
    invitation = Invitation(link, card.link_code, bot=bot, chats=chats, answers_open=open_)
    message = invitation.message(office.catalog, office.config, name=card.person.full_name)
    short = invitation.sms(office.catalog, office.config)
    chars, gsm7 = sms_length(short)
    phone = card.phone
    # zalo.me/<number> opens a chat with a Vietnamese number only (0912345678): a landline
    # has no Zalo, and a foreign number written there is read as a Vietnamese one. An SMS is
    # for a Vietnamese mobile too: a landline («+84 24…») takes none, and one to a foreign
    # number goes abroad at the office's cost, if at all.
    mobile = vn_mobile(phone) if phone else None
    # "?&body=": the form iOS and Android both read (iOS wants "&", Android the "?").
    sms = f"sms:{phone}?&body={quote(short, safe='')}" if mobile else None
    zalo = f"https://zalo.me/{mobile}" if mobile else None
    return Invite(message, short, sms_parts(short), chars, gsm7, sms, zalo)


class Invites:
    """The «đã gửi» mark and its undo, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def routes(self) -> list[BaseRoute]:
        """The routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/delegates/mark-sent", staff(self.mark_many), methods=["POST"]),
            Route("/delegates/{code}/sent", staff(self.mark), methods=["POST"]),
            Route("/delegates/{code}/unsent", staff(self.unmark), methods=["POST"]),
        ]

    async def mark(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Mark the link the form names as sent, by the way chosen; without a way chosen
        (nothing is preselected: a guess would be recorded as fact), her page again saying
        so beside the form, nothing recorded."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        via = values.get("via", "")
        if via not in SENT_VIA:
            card = await office.services.dashboard.card(str(request.path_params["code"]))
            if card is None:
                return office._render("office/message.html", status=404, key="no_delegate")
            return await office._delegate_page(visit, actor, card, None, via_missing=True)
        result = await office.services.invitations.mark_sent(
            actor, str(request.path_params["code"]),
            invitation=parse_id(values.get("invitation", "")) or 0, via=via,
        )  # fmt: skip
        return self._said(visit, result.step, result.delegate, via)

    async def mark_many(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Mark the people chosen on the list «Đại biểu» (a box each, or «Chọn tất cả trên trang
        này»: the page's people) as sent, by the way chosen (none chosen: nothing recorded),
        in one post; the list again, as it was filtered, saying what was done."""
        office = self.office
        # A box per row and the page's codes beside them: two fields a row, and the form's own.
        form = await office._posted(request, session_binding(visit), fields=2 * PAGE + 12)
        if isinstance(form, Response):
            return form
        name = "page_code" if text_field(form, "all") == "yes" else "code"
        codes = [code for code in form.getlist(name) if isinstance(code, str)][:PAGE]
        via = text_field(form, "via")
        back = _list_query(text_field(form, "back"))
        catalog = office.catalog
        if not codes:
            return self._back(visit, back, catalog.html("dash.invite.bulk.none_chosen"), ok=False)
        if via not in SENT_VIA:  # nothing pre-selected: a guess is never recorded as fact
            return self._back(visit, back, catalog.html("dash.invite.choose_via"), ok=False)
        try:
            shown: datetime | None = datetime.fromisoformat(text_field(form, "shown"))
        except ValueError:
            shown = None
        if shown is not None and shown.tzinfo is None:
            shown = None
        result = await office.services.invitations.mark_sent_many(
            actor, codes, via=via, shown_at=shown
        )
        said = " ".join(bulk_sent_lines(catalog.html, result, sent_via(catalog, via)))
        return self._back(visit, back, said, ok=bool(result.marked))

    def _back(self, visit: StaffVisit, query: str, html: str, *, ok: bool) -> Response:
        """The list «Đại biểu» again, filtered as it was, saying ``html`` once."""
        office = self.office
        assert visit.session_id is not None
        key = office.flashes.put(Flash(visit.session_id, html, ok))
        wanted = f"{query}&" if query else ""
        return RedirectResponse(f"{office.root}/delegates?{wanted}f={key}#flash", status_code=303)

    async def unmark(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Undo the mark («Bỏ đánh dấu»)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        result = await office.services.invitations.unmark_sent(
            actor, str(request.path_params["code"]),
            invitation=parse_id(values.get("invitation", "")) or 0,
        )  # fmt: skip
        return self._said(visit, result.step, result.delegate, "")

    def _said(
        self, visit: StaffVisit, step: SentStep, person: DelegateView | None, via: str
    ) -> Response:
        """The person's page again, saying what was done (or why nothing was)."""
        office = self.office
        if step is SentStep.UNKNOWN_PERSON or person is None:
            return office._render("office/message.html", status=404, key="no_delegate")
        key, ok = _SAID[step]
        catalog = office.catalog
        how = sent_via(catalog, via) if via else ""
        text = catalog.html(key, name=person.full_name, via=how)
        return office._done(visit, f"delegates/{person.code}", text, ok=ok)


# The list's own filters: what a bulk mark's form carries back to the list it was sent from.
_LIST_FILTERS = ("group", "answer", "channel", "reach", "sent", "q", "audience", "after")


def _list_query(back: str) -> str:
    """The list's filters in ``back`` (the query string the form was shown with), and only
    them, encoded again: never a way to send the office elsewhere."""
    kept = [(k, v[:100]) for k, v in parse_qsl(back[:2000]) if k in _LIST_FILTERS and v]
    return urlencode(kept)
