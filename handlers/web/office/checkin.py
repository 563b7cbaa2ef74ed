"""The meeting day on the web: the reception desk's pages and the office's live attendance.

Who checks in: staff with the check-in role (or the office) sign in with the office's one-time
link; a session of the check-in role alone opens these pages only (``Office.staff`` refuses it
everywhere else). The desk's label is chosen once per session and kept in the **desk cookie**
(``hoinghi_desk``: Path=/, HttpOnly, SameSite=Lax, Secure behind HTTPS). It holds no secret:
the session's id and the label, signed with the server's secret over the session's digest, so
it is worth something only while that session lives (signing out, expiry or a withdrawn role
ends it at once) and cannot be turned into an office session. Path=/ because the desk checks
people in with the QR on their slip: the phone's camera opens the personal page ``/{token}``,
and with a valid desk cookie that page shows the desk's view of the invitee instead of the
invitee's own page. The session cookie stays Path=/office, so personal pages never see it.

Every form is signed for the session (:class:`handlers.web.security.Guard`) and carries a
request key, so a tap repeated (a double tap, a reload that posts again) records once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.documents.workbook import Cell
from bot.domain.ids import parse_id
from bot.domain.tokens import code_shaped, format_link_code, looks_like_token, parse_link_code
from bot.domain.typed import fold
from bot.services.access import DeskActor, OfficeActor
from bot.services.checkin import (
    MISSING_PAGE,
    SEARCH_LIMIT,
    Arrival,
    ArrivalKind,
    CheckinResult,
    CheckinStep,
    CheckinView,
    Missing,
    came_on_line,
    counted_as,
    day_line,
    days_line,
    days_said,
    notice_line,
    other_meeting_line,
)
from bot.services.day_files import PresentPage, position_and_unit, present_after, present_page
from bot.services.signin import Check, StaffVisit
from bot.texts import Catalog, Html
from bot.texts.formatting import arrival_time, clock, long_date, short_moment
from handlers.web.flash import Flash, renewed_key
from handlers.web.office.binding import session_binding

if TYPE_CHECKING:
    from handlers.web.office.app import Office

DESK_COOKIE = "hoinghi_desk"
# How long past its session a phone is remembered as a desk's: a scan then asks to sign in
# again (saying the scan checked no one in), rather than opening the invitee's own page and
# making the desk's phone their account. The sign-in page offers the way out for a phone that
# is no desk's any more.
DESK_REMEMBERED = timedelta(days=2)
MAX_COOKIE = 400
# The naming form's fields carrying a lost form's boxes back to it (``kept.<box>``).
KEPT = "kept."
# The guest form's boxes: a refused guest comes back with each as typed.
GUEST_FIELDS = ("name", "position", "organization")
_REQUEST_KEY = re.compile(r"[A-Za-z0-9_-]{8,40}")

DeskHandler = Callable[[Request, StaffVisit, DeskActor], Awaitable[Response]]
Handler = Callable[[Request], Awaitable[Response]]


class DeskPages:
    """The desk's pages (search, guest, undo, the tap), the desk view of a personal page, and
    the office's attendance pages; rendered with the dashboard's templates."""

    def __init__(self, office: Office, secret: bytes) -> None:
        self.office = office
        self.services = office.services
        self.catalog = office.catalog
        self.root = office.root
        self.site_root = office.site_root  # where personal pages live
        self._secret = hashlib.sha256(b"desk-cookie|" + secret).digest()
        self.missing_page = MISSING_PAGE  # people a page of the attendance's missing list shows
        self.present_page = PRESENT_PAGE  # people a page of the present list shows

    # --- the desk cookie -----------------------------------------------------------------------

    def _sign(self, session_hash: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{session_hash}|{payload}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def cookie_value(self, session_id: int, session_hash: str, label: str) -> str:
        """The desk cookie of a session at the desk ``label``."""
        raw = json.dumps([session_id, label], ensure_ascii=False).encode()
        payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{payload}.{self._sign(session_hash, payload)}"

    def _cookie(self, request: Request) -> tuple[int, str, str, str] | None:
        """The desk cookie's session id, label, payload and signature as sent (checked by
        the caller against the session's digest), or None for no cookie or a malformed one."""
        cookie = request.cookies.get(DESK_COOKIE, "")
        payload, _, signature = cookie.partition(".")
        if not signature or len(cookie) > MAX_COOKIE:
            return None
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            session_id, label = json.loads(raw)
        except (ValueError, TypeError):
            return None
        if not isinstance(session_id, int) or not isinstance(label, str):
            return None
        return session_id, label, payload, signature

    def _signed(self, session_hash: str, payload: str, signature: str) -> bool:
        return hmac.compare_digest(self._sign(session_hash, payload), signature)

    async def desk_of(self, request: Request) -> tuple[int, DeskActor] | None:
        """The session and the desk a request's desk cookie stands for, or None (no cookie, a
        forged one, a session ended, a role withdrawn)."""
        cookie = self._cookie(request)
        if cookie is None:
            return None
        session_id, label, payload, signature = cookie
        found = await self.services.signin.desk_at(session_id, label)
        if found is None or not self._signed(found[0], payload, signature):
            return None
        return session_id, found[1]

    def _set_cookie(self, response: Response, value: str) -> None:
        lifetime = self.services.signin.session_lifetime + DESK_REMEMBERED
        self.office.set_desk_cookie(response, value, max_age=int(lifetime.total_seconds()))

    # --- who is asking -------------------------------------------------------------------------

    def desk(self, handler: DeskHandler, *, signs_out: bool = False) -> Handler:
        """``handler`` for a signed-in session (office or check-in role) with its desk chosen;
        without a desk yet, the page that chooses it; without a session, as
        :meth:`_not_signed_in` answers (``signs_out``: the desk's «Đăng xuất»)."""

        async def endpoint(request: Request) -> Response:
            # One read for both cookies: the desk cookie must name this very session (signed
            # with its digest), so the session the visit read is the desk's.
            cookie = self._cookie(request)
            visit, desk = await self.services.signin.desk_visit(
                self.office.session_cookie(request), cookie[1] if cookie is not None else None
            )
            if visit.check is not Check.OK:
                return await self._not_signed_in(visit, request, signs_out=signs_out)
            if (
                cookie is None
                or desk is None
                or cookie[0] != visit.session_id
                or visit.session_hash is None
                or not self._signed(visit.session_hash, cookie[2], cookie[3])
            ):
                if request.method == "POST" and not signs_out:
                    return await self._desk_lost(request, visit)
                return RedirectResponse(f"{self.root}/checkin/desk", status_code=303)
            return await handler(request, visit, desk)

        return endpoint

    async def _not_signed_in(
        self, visit: StaffVisit, request: Request, *, signs_out: bool
    ) -> Response:
        """The answer to a browser with no signed-in session: for the desk's «Đăng xuất»
        (``signs_out``, with or without a desk named), signed out when a sign-out has just
        ended its session (:meth:`Office.already_signed_out`: a second tap, the first signed
        out) or it ran out with nothing left to end (:meth:`Office.ran_out`); else the sign-in
        page (with a form's typed text to copy, :meth:`Office.unsaved_text`), or refused."""
        if signs_out and visit.check is Check.NONE:
            if await self.office.already_signed_out(request):
                return self.office._signed_out()
            if await self.office.ran_out(request):
                return self.office._signed_out(ran_out=True)
        if not signs_out and visit.check is Check.NONE:
            # A guest's or a substitute's form after the session ended: what was typed is shown
            # back under its labels, to copy, as the dashboard's forms are.
            typed = await self.office.unsaved_text(request)
            return self.office.signin_page(request, typed=typed)
        return self._unsigned(visit, request)

    async def _desk_lost(self, request: Request, visit: StaffVisit) -> Response:
        """A tap, an undo or a guest sent with no desk this session holds (its cookie signed
        with a secret the server no longer has, a restart with a new one; or of an earlier
        session): not recorded, and said so on the page that names the desk again, with what
        was typed in a guest's or a substitute's boxes shown back to copy."""
        typed, renewal = await self.office.unsaved(request)
        # Where the form was, and what it had typed: the page goes back there, its boxes filled,
        # once the desk is named (choose_desk), as a form of a page opened before the restart.
        then, kept = renewal if renewal is not None else ("", {})
        return self.office._render(
            "office/checkin_desk.html", status=409, visit=visit, actor=visit.actor, lost=True,
            typed=typed, then=then, kept_back=kept,
        )  # fmt: skip

    def _unsigned(self, visit: StaffVisit, request: Request) -> Response:
        if visit.check is Check.REFUSED:
            return self.office._render("office/message.html", status=403, key="refused")
        return self.office.signin_page(request)

    async def choose_desk(self, request: Request) -> Response:
        """The desk's label, asked once per session (GET: the form; POST: the cookie)."""
        visit = await self.office._visit(request)
        if visit.check is not Check.OK or visit.person_id is None:
            return self._unsigned(visit, request)
        found = await self.desk_of(request)
        if found is not None and found[0] == visit.session_id:
            return RedirectResponse(f"{self.root}/checkin", status_code=303)
        bound = session_binding(visit)
        if request.method == "GET":
            # Sent back after the server's secret changed: the desk's name as typed.
            flash = self.office._flash(request, visit)
            return self.office._render(
                "office/checkin_desk.html", visit=visit, actor=visit.actor, flash=flash,
                kept=flash.typed if flash is not None else {},
            )  # fmt: skip
        values = await self.office._form(request, bound)
        if isinstance(values, Response):
            return values
        desk = await self.services.access.dashboard_desk(visit.person_id, values.get("desk", ""))
        if desk is None:
            return self._unsigned(StaffVisit(Check.REFUSED), request)
        assert visit.session_id is not None and visit.session_hash is not None
        response = RedirectResponse(self._named_to(visit.session_id, values), status_code=303)
        self._set_cookie(
            response, self.cookie_value(visit.session_id, visit.session_hash, desk.desk)
        )
        return response

    def _named_to(self, session_id: int, values: Mapping[str, str]) -> str:
        """Where a desk just named goes: the desk's page; after a form lost to a restart with a
        new secret (:meth:`_desk_lost`), the page that form was on («then»), its boxes filled
        as typed («kept.<box>») and saying to press again."""
        then = values.get("then", "")
        kept = tuple(
            (name.removeprefix(KEPT), value)
            for name, value in values.items()
            if name.startswith(KEPT)
        )
        if not then or not kept or not self.office._own_address(then):
            return f"{self.root}/checkin"
        said = self.catalog.html(renewed_key(typed=True, files=False))
        key = self.office.flashes.put(Flash(session_id, said, False, kept))
        return f"{then}?f={key}#flash"

    async def leave_unnamed_desk(self, request: Request) -> Response:
        """«Đăng xuất» on the page that names the desk (before any desk is chosen): this
        browser's session ends, as the desk bar's «Đăng xuất» ends it; a second tap, or a
        session that ran out meanwhile, is told she is signed out."""
        visit = await self.office._visit(request)
        if visit.check is not Check.OK or visit.person_id is None:
            return await self._not_signed_in(visit, request, signs_out=True)
        values = await self.office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        desk = await self.services.access.dashboard_desk(visit.person_id, "")
        if desk is None:
            return self._unsigned(StaffVisit(Check.REFUSED), request)
        assert visit.session_id is not None
        await self.services.signin.sign_out_desk(desk, visit.session_id)
        return self.office._signed_out()

    # --- the desk view of a personal page ------------------------------------------------------

    async def person_page(self, request: Request) -> Response | None:
        """The desk's view of the invitee whose page ``/{token}`` is (opened by the slip's QR),
        or None when the request has no valid desk cookie (the invitee's own page then)."""
        if DESK_COOKIE not in request.cookies:
            return None
        found = await self.desk_of(request)
        if found is None:
            # A desk's phone whose session has ended (expired, signed out everywhere): not the
            # invitee's page, which would make the desk's phone their account, but sign in
            # again — the scan checked no one in.
            return self.office.signin_page(request, scanned=str(request.path_params["token"]))
        session_id, desk = found
        token = str(request.path_params["token"])
        arrival = await self.services.checkin.lookup(desk, token)
        flash = self.office.flashes.take(request.query_params.get("f", ""), session_id)
        return self.office._render(
            "office/checkin_person.html", status=200 if arrival.person else 404,
            **self._person_context(desk, session_id, arrival, token, flash), flash=flash,
            back=f"{self.site_root}/{token}",
        )  # fmt: skip

    async def person_by_code(
        self, request: Request, visit: StaffVisit, desk: DeskActor
    ) -> Response:
        """The desk's view of the invitee a search found (by their code): their answer and the
        notices, the substitute's form, as the slip's QR shows them."""
        assert visit.session_id is not None
        code = str(request.path_params["code"])
        arrival = await self.services.checkin.lookup(desk, code)
        flash = self.office.flashes.take(request.query_params.get("f", ""), visit.session_id)
        return self.office._render(
            "office/checkin_person.html", status=200 if arrival.person else 404,
            **self._person_context(desk, visit.session_id, arrival, code, flash), flash=flash,
            back=f"{self.root}/checkin/p/{quote(code, safe='')}",
        )  # fmt: skip

    def _person_context(
        self, desk: DeskActor, session_id: int, arrival: Arrival, key: str, flash: Flash | None
    ) -> dict[str, Any]:
        catalog, config = self.catalog, self.services.config
        typed = flash.typed if flash is not None else {}
        offered = substitute_fields(arrival)
        if typed:  # a substitute refused on this card: her form as the desk typed it
            offered = (typed.get("substitute_name", ""), typed.get("substitute_position", ""),
                       typed.get("substitute_unit", ""))  # fmt: skip
        return {
            "desk": desk, "arrival": arrival, "key": key, "offered": offered, "typed": bool(typed),
            "notice": notice_line(catalog, config.meeting, arrival),
            "came_on": came_on_line(catalog, arrival),  # a meeting of several days
            "desk_bound": _desk_bound(session_id), "request_key": secrets.token_urlsafe(16),
            "can_undo": self._can_undo(desk, arrival.checkin),
        }  # fmt: skip

    def _can_undo(self, desk: DeskActor, checkin: CheckinView | None) -> bool:
        if checkin is None or checkin.undone_at is not None:
            return False
        if desk.is_office:  # the office corrects a wrong tap whenever it is found
            return True
        services = self.services
        if services.ctx.clock.now() - checkin.entered > services.checkin.undo_window:
            return False
        return checkin.desk == desk.desk or checkin.by_actor == desk.actor

    # --- the desk's page: search, guest, recent taps -------------------------------------------

    async def desk_page(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """Điểm danh: a search by name or code (diacritics ignored) with a button each, a guest
        form, and this desk's recent check-ins with their undo button."""
        assert visit.session_id is not None
        flash = self.office.flashes.take(request.query_params.get("f", ""), visit.session_id)
        # A guest refused (no name, a text too long): her form as the desk typed it.
        guest = dict(flash.typed) if flash is not None else {}
        return await self._desk_page(request, visit, desk, flash, guest=guest)

    async def _desk_page(
        self,
        request: Request,
        visit: StaffVisit,
        desk: DeskActor,
        flash: Flash | None,
        *,
        guest: Mapping[str, str] | None = None,
        namesake: Arrival | None = None,
        again: CheckinView | None = None,
        confirmed: str = "",
    ) -> Response:
        """The desk's page; after a guest named as an invitee is (or as the substitute one
        announced), with the guest's form as typed and the invitee's card to open instead;
        after a guest named as one in the hall already (``again``), with when and where that
        one was let in. ``confirmed``: the name «Vẫn ghi là khách» was pressed beside, kept."""
        assert visit.session_id is not None
        text = request.query_params.get("q", "")[:100].strip()
        checkin = self.services.checkin
        hits = await checkin.search(desk, text, limit=SEARCH_LIMIT + 1) if text else []
        recent = [c for c in await checkin.recent(desk) if self._can_undo(desk, c)]
        # A personal code nobody holds was misread or mistyped: said so, not «record a guest»
        # (she would then be counted absent while sitting in the hall).
        code = (parse_link_code(text) or code_shaped(text)) if text and not hits else None
        # The last conference's slip: its code is no misreading, but that meeting's.
        other = await checkin.code_elsewhere(code) if code else None
        held = namesake is not None or again is not None
        return self.office._render(
            "office/checkin.html", status=409 if held else 200, visit=visit,
            actor=visit.actor, desk=desk, q=text, hits=hits[:SEARCH_LIMIT],
            more=len(hits) > SEARCH_LIMIT, limit=SEARCH_LIMIT, recent=recent,
            desk_bound=_desk_bound(visit.session_id), request_key=secrets.token_urlsafe(16),
            back=self._search_back(text), flash=flash, guest=guest or {}, namesake=namesake,
            again=self._guest_again(again) if again else None, confirmed=confirmed,
            namesake_in=self._namesake_in(namesake) if namesake and _came_in(namesake) else None,
            unknown_code=format_link_code(code) if code else "",
            other_code=(
                other_meeting_line(self.catalog, self.services.config.meeting, other, code=code)
                if code and other else None
            ),
        )  # fmt: skip

    def _namesake_in(self, namesake: Arrival) -> Html:
        """What the desk is told of a guest named as an invitee who is in the hall already
        (she, or the substitute she named): when, and at which desk."""
        assert namesake.person is not None and namesake.checkin is not None
        came = namesake.checkin
        key = "namesake_in_substitute" if came.kind is ArrivalKind.SUBSTITUTE else "namesake_in"
        return self.catalog.html(
            f"dash.checkin.result.{key}", invitee=namesake.person.full_name,
            code=namesake.person.code, substitute=came.full_name, desk=came.desk,
            time=self._at(came.at),
        )  # fmt: skip

    def _guest_again(self, earlier: CheckinView) -> Html:
        """What the desk is told of a guest of the typed name in the hall already."""
        about = ", ".join(part for part in (earlier.position, earlier.organization) if part)
        return self.catalog.html(
            "dash.checkin.result.guest_again", name=earlier.full_name,
            about=f" ({about})" if about else "", desk=earlier.desk,
            time=self._at(earlier.at),
        )  # fmt: skip

    def _at(self, instant: datetime) -> str:
        """When a check-in was made, as the desk reads it: with its day at a meeting of several
        days, so that day one's «07:45» is not taken on day two for this morning's."""
        meeting = self.services.config.meeting
        return arrival_time(self.catalog, meeting.local(instant), several_days=meeting.several_days)

    def _search_back(self, text: str) -> str:
        return f"{self.root}/checkin" + (f"?q={quote(text)}" if text else "")

    async def tap(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """«Điểm danh»: the invitee the form names (the QR's token or a code), in person or by
        the substitute it names; once, however often the form is sent."""
        values = await self._desk_form(request, visit)
        if isinstance(values, Response):
            return values
        substitute = position = unit = None
        if values.get("as") == "substitute":
            substitute = values.get("substitute_name", "")
            position = values.get("substitute_position", "")
            unit = values.get("substitute_unit", "")
        result = await self.services.checkin.check_in(
            desk, values.get("key", ""), substitute_name=substitute,
            substitute_position=position, substitute_unit=unit, request_key=_request_key(values),
            late=_late(values),
        )  # fmt: skip
        return self._after(visit, values, result)

    async def guest(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """«Khách không có trong danh sách»: a guest's name, position and unit."""
        values = await self._desk_form(request, visit)
        if isinstance(values, Response):
            return values
        name = fold(values.get("name", ""))
        # «Vẫn ghi là khách» and «Vẫn ghi khách mới» hold for the name they were shown beside,
        # not one typed after.
        namesake_ok = fold(values.get("namesake", "")) == name != ""
        result = await self.services.checkin.guest(
            desk, values.get("name", ""), position=values.get("position", ""),
            organization=values.get("organization", ""), request_key=_request_key(values),
            namesake_ok=namesake_ok, again_ok=fold(values.get("again", "")) == name != "",
            late=_late(values),
        )  # fmt: skip
        if result.step is CheckinStep.NAMESAKE and result.arrival and result.arrival.person:
            # Said beside the guest's form, kept as typed.
            return await self._desk_page(
                request, visit, desk, None, guest=values, namesake=result.arrival
            )
        if result.step is CheckinStep.GUEST_AGAIN and result.checkin is not None:
            confirmed = values.get("namesake", "") if namesake_ok else ""
            return await self._desk_page(
                request, visit, desk, None, guest=values, again=result.checkin,
                confirmed=confirmed,
            )  # fmt: skip
        # Refused (no name, a text too long): the form comes back as typed, all three boxes.
        typed = tuple((field, values.get(field, "")) for field in GUEST_FIELDS)
        return self._after(visit, values, result, typed=typed)

    async def guest_of(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """«Cho vào dự với tư cách khách» on the card of someone whose invitation was withdrawn:
        a guest with her name from the list, tied to her."""
        values = await self._desk_form(request, visit)
        if isinstance(values, Response):
            return values
        result = await self.services.checkin.guest_of(
            desk, values.get("key", ""), request_key=_request_key(values), late=_late(values)
        )
        return self._after(visit, values, result)

    async def confirm_undo(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """«Hủy lượt điểm danh» on a card or beside a name in «Vừa điểm danh tại bàn này»:
        whose check-in it is (as whom, when, at which desk), what undoing does, and the button
        that does it — one tap undid at once, and on a search page the first such button was
        the newest arrival's, not the person searched. A check-in this desk may not undo (any
        more) goes back saying why, nothing changed."""
        back = request.query_params.get("back", "")
        if not _own_path(back, self.site_root):
            back = f"{self.root}/checkin"
        which = parse_id(str(request.path_params["id"]))
        found = None if which is None else await self.services.checkin.view(which)
        refused = self._undo_refused(desk, found)
        if refused is not None:
            return self._after(visit, {"back": back}, refused)
        assert found is not None and visit.session_id is not None
        return self.office._render(
            "office/checkin_undo.html", visit=visit, actor=visit.actor, desk=desk,
            checkin=found, time=self._at(found.at), desk_bound=_desk_bound(visit.session_id),
            back=back,
        )  # fmt: skip

    def _undo_refused(self, desk: DeskActor, found: CheckinView | None) -> CheckinResult | None:
        """Why this desk may not undo ``found`` (as :meth:`CheckinService.undo` would say), or
        None when it may."""
        if found is None:
            return CheckinResult(CheckinStep.UNKNOWN_CHECKIN)
        if found.undone_at is not None:
            return CheckinResult(CheckinStep.ALREADY_UNDONE, found)
        if self._can_undo(desk, found):
            return None
        late = self.services.ctx.clock.now() - found.entered > self.services.checkin.undo_window
        return CheckinResult(CheckinStep.TOO_LATE if late else CheckinStep.OTHER_DESK, found)

    async def undo(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """Undo a mistaken tap within the window (this desk's, or any for the office), as its
        confirmation named it; a second tap finds it undone already and says so."""
        values = await self._desk_form(request, visit)
        if isinstance(values, Response):
            return values
        which = parse_id(values.get("checkin", ""))
        if which is None:
            return self._after(visit, values, CheckinResult(CheckinStep.UNKNOWN_CHECKIN))
        result = await self.services.checkin.undo(desk, which)
        return self._after(visit, values, result)

    async def signout(self, request: Request, visit: StaffVisit, desk: DeskActor) -> Response:
        """End this browser's session at the desk (both cookies go)."""
        values = await self._desk_form(request, visit)
        if isinstance(values, Response):
            return values
        assert visit.session_id is not None
        await self.services.signin.sign_out_desk(desk, visit.session_id)
        return self.office._signed_out()  # both cookies go

    async def forget(self, request: Request) -> Response:
        """«Điện thoại này không còn dùng ở bàn đón tiếp»: the desk cookie goes, and the page the
        scan was for opens as the person's own (only a personal page's address is followed)."""
        if await self.desk_of(request) is not None:  # a live desk is kept: back to it
            return RedirectResponse(f"{self.root}/checkin", status_code=303)
        token = request.query_params.get("to", "")
        target = f"{self.site_root}/{token}" if looks_like_token(token) else f"{self.root}/signin"
        response = RedirectResponse(target, status_code=303)
        self.office.drop_desk_cookie(response)
        return response

    async def _desk_form(self, request: Request, visit: StaffVisit) -> dict[str, str] | Response:
        assert visit.session_id is not None
        return await self.office._form(request, _desk_bound(visit.session_id))

    def _after(
        self,
        visit: StaffVisit,
        values: dict[str, str],
        result: CheckinResult,
        *,
        typed: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """Post, redirect, get: back to the page the form was on, saying what happened; a
        refused form's boxes filled again with ``typed`` (a field's name → what was typed)."""
        assert visit.session_id is not None
        ok = result.step in (CheckinStep.CHECKED_IN, CheckinStep.REPEATED, CheckinStep.UNDONE,
                             CheckinStep.ALREADY_IN, CheckinStep.ALREADY_UNDONE)  # fmt: skip
        # A substitute refused (her name left empty, too long): her card's form comes back as
        # typed, not as the answer offered it.
        if values.get("as") == "substitute":
            typed = _typed_substitute(values)
        typed = () if ok else typed
        key = self.office.flashes.put(Flash(visit.session_id, self._result_html(result), ok, typed))
        back = values.get("back", "")
        if not _own_path(back, self.site_root):
            back = f"{self.root}/checkin"
        if result.step in (CheckinStep.CHECKED_IN, CheckinStep.REPEATED):
            # Let in, from the search or from a card (the slip's QR, a typed code, a name the
            # search found): the desk's box comes back empty and focused, ready for the next in
            # the queue (who came and where she sits is in the flash, at the top; the undo in
            # «Vừa điểm danh tại bàn này»). No «#flash»: a fragment stops the browser from
            # focusing the box. Anything refused goes back to the page it came from.
            return RedirectResponse(f"{self.root}/checkin?f={key}", status_code=303)
        joiner = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{joiner}f={key}#flash", status_code=303)

    def _result_html(self, result: CheckinResult) -> str:
        catalog = self.catalog
        view = result.checkin
        name = view.full_name if view else ""
        if result.arrival is not None and result.arrival.person is not None and not name:
            name = result.arrival.person.full_name
        params: dict[str, object] = {"name": name}
        other = result.arrival.other if result.arrival is not None else None
        if result.step is CheckinStep.WRONG_MEETING and other is not None:
            # The last conference's QR, sent from a card still open: the meeting named.
            return Html(escape(other_meeting_line(catalog, self.services.config.meeting, other)))
        if result.step is CheckinStep.TOO_LONG:
            params = {"chars": catalog.number(result.chars or 0),
                      "limit": catalog.number(result.limit or 0)}  # fmt: skip
        elif result.step is CheckinStep.TOO_LATE:
            params = {"minutes": self.services.config.checkin.undo_minutes}
        elif result.step is CheckinStep.ALREADY_IN and view is not None:
            params |= {"time": self._at(view.at), "desk": view.desk}
        person = result.arrival.person if result.arrival is not None else None
        # A guest (typed, or let in from her withdrawn card) is told as one, and has no group's
        # seats: her group's area is hers again only once she is invited again (a delegate).
        guest = view is not None and counted_as(view, person) in ("guest", "guest_withdrawn")
        step = result.step.value
        if result.step is CheckinStep.CHECKED_IN and guest:
            step = "guest_recorded"
        said = catalog.html(f"dash.checkin.result.{step}", **params)
        area = result.arrival.area if result.arrival is not None and not guest else None
        shown_in = (CheckinStep.CHECKED_IN, CheckinStep.REPEATED, CheckinStep.ALREADY_IN)
        if result.step in shown_in and area:  # where to send them, from any form, a double tap
            said = Html(f"{said} {catalog.html('dash.checkin.result.seat', area=area)}")
        return said

    # --- the office's attendance ---------------------------------------------------------------

    async def attendance(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Có mặt: present / expected by group, substitutes, guests, the missing with phones;
        refreshing itself by a short poll."""
        context = await self._attendance_context(request, actor)
        assert visit.session_id is not None
        flash = self.office.flashes.take(request.query_params.get("f", ""), visit.session_id)
        return self.office._render(
            "office/attendance.html", visit=visit, actor=actor, poll=ATTENDANCE_POLL,
            papers=context["seen"], flash=flash, **context,
        )  # fmt: skip

    async def attendance_live(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """The attendance's figures alone, for its script to put in place."""
        return self.office._render(
            "office/attendance_live.html", visit=visit,  # its forms are signed for the session
            **await self._attendance_context(request, actor),
        )  # fmt: skip

    async def confirm_undo_guest(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """«Hủy ghi nhận» beside a guest on «Có mặt»: who, when and where let in, what undoing
        does, and the button that does it. Only a guest's check-in (an invitee's is undone on
        her card); anything else goes back to «Có mặt» saying why, nothing changed."""
        which = parse_id(str(request.path_params["id"]))
        guest = await self._guest(which)
        if not isinstance(guest, CheckinView):
            return self.office._done(visit, "attendance", guest, ok=False)
        at = self.services.config.meeting.local(guest.at)
        return self.office._render(
            "office/attendance_undo.html", visit=visit, actor=actor, guest=guest,
            time=clock(at), date=long_date(self.catalog, at),
        )  # fmt: skip

    async def undo_guest(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Undo the guest's check-in the confirmation named: the office takes a guest recorded
        by mistake out of the hall whenever it is found (a desk may only within its minutes,
        and a guest has no card to open); audited, the row kept, as every undo. An invitee's
        check-in is refused here, nothing changed."""
        values = await self.office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        guest = await self._guest(parse_id(values.get("checkin", "")))
        if not isinstance(guest, CheckinView):
            return self.office._done(visit, "attendance", guest, ok=False)
        desk = self.services.access.office_desk(actor, "")
        result = await self.services.checkin.undo(desk, guest.id)
        ok = result.step in (CheckinStep.UNDONE, CheckinStep.ALREADY_UNDONE)
        return self.office._done(visit, "attendance", self._result_html(result), ok=ok)

    async def _guest(self, which: int | None) -> CheckinView | str:
        """The guest's check-in ``which`` names, or what to say instead (none such, or not a
        guest's)."""
        found = None if which is None else await self.services.checkin.view(which)
        if found is None:
            return self._result_html(CheckinResult(CheckinStep.UNKNOWN_CHECKIN))
        if found.kind is not ArrivalKind.GUEST:
            return self.catalog.html("dash.attendance.undo_not_guest", name=found.full_name)
        return found

    async def _attendance_context(self, request: Request, actor: OfficeActor) -> dict[str, Any]:
        """The attendance's figures and its page of who is missing: ``?group=`` narrows it to
        a group, ``?after=`` goes on after a code (the page's own poll asks the same)."""
        query = request.query_params
        group, after = query.get("group", "")[:64], query.get("after", "")[:64]
        config = self.services.config
        if config.group(group) is None:
            group = ""
        seen = await self.services.checkin.attendance(
            actor, group=group, after=after, limit=self.missing_page
        )
        at = config.meeting.local(seen.at)
        labels = {g.key: g.label for g in config.groups}
        wanted = {"group": group} if group else {}
        shown_of = seen.missing_of(group)
        return {
            # A meeting of several days: the moment says its day («07:40, 18/12»).
            "seen": seen, "date": long_date(self.catalog, at),
            "at": short_moment(self.catalog, at) if seen.day is not None else clock(at),
            "missing_rows": missing_rows(self.catalog, labels, seen.missing),
            "missing_group": labels.get(group, ""), "missing_of": shown_of,
            "live_query": urlencode({**wanted, **({"after": after} if after else {})}),
            "missing_more": (
                None if seen.missing_next is None
                else f"{self.root}/attendance?{urlencode({**wanted, 'after': seen.missing_next})}"
            ),
            "missing_from_start": bool(group or after),
            # A meeting of several days: whose day the figures are, and each day's hall.
            "hall_days": days_said(self.catalog, seen),
        }  # fmt: skip

    async def summary(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """«Báo cáo số lượng đại biểu có mặt»: one page, to print."""
        summary = await self.services.checkin.summary(actor)
        return self.office._render(
            "office/attendance_summary.html", visit=visit, summary=summary,
            at=clock(summary.at), date=long_date(self.catalog, summary.at),
            summary_day=day_line(self.catalog, summary.day, summary.whole) if summary.day else "",
            summary_days=days_line(self.catalog, summary.days) if summary.days else "",
        )  # fmt: skip

    async def present(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """«Danh sách đại biểu có mặt» on the page: who is in now, by name, group by group, a
        page at a time (``?after=``: the key of the previous page's last row, so an arrival or
        an undo between two views moves no one onto the wrong page; numbered through the whole
        list; the .xlsx has everyone). Only those in the hall are read, and their rows are
        built in a worker thread: at 10,000 this runs while the desks are tapping."""
        after = request.query_params.get("after", "")[:200]
        catalog, config, size = self.catalog, self.services.config, self.present_page
        # Read with the key: where the list goes on if that row has left, as the database
        # orders the codes.
        roll = await self.services.checkin.roll(present_only=True, after=present_after(after))

        def page() -> tuple[list[str], list[tuple[str, list[list[Cell]]]], PresentPage]:
            found = present_page(catalog, config, roll, after, size)
            # Under a heading per group, as on the signature sheet, not the group on each row.
            groups: list[tuple[str, list[list[Cell]]]] = []
            for row in found.rows:
                if not groups or groups[-1][0] != row[0]:
                    groups.append((str(row[0]), []))
                groups[-1][1].append(row[1:])
            return found.headings[1:], groups, found

        headings, groups, found = await asyncio.to_thread(page)
        if after and not found.rows and found.total:  # all after it have left: from the start
            return RedirectResponse(f"{self.root}/attendance/present", status_code=303)
        at = config.meeting.local(roll.at)
        numbers = [int(str(row[1])) for row in found.rows]
        return self.office._render(
            "office/attendance_present.html", visit=visit, actor=actor,
            headings=headings, sections=groups, total=found.total,
            first=numbers[0] if numbers else 0, last=numbers[-1] if numbers else 0,
            later=bool(after), at=clock(at), date=long_date(self.catalog, at),
            more=f"?{urlencode({'after': found.more})}" if found.more is not None else None,
        )  # fmt: skip

    # --- routes --------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The routes under ``/office``: the desk's, and the office's attendance."""
        desk, staff = self.desk, self.office.staff
        return [
            Route("/checkin", desk(self.desk_page), methods=["GET"]),
            Route("/checkin/p/{code}", desk(self.person_by_code), methods=["GET"]),
            Route("/checkin/desk", self.choose_desk, methods=["GET", "POST"]),
            Route("/checkin/desk/signout", self.leave_unnamed_desk, methods=["POST"]),
            Route("/checkin/in", desk(self.tap), methods=["POST"]),
            Route("/checkin/guest", desk(self.guest), methods=["POST"]),
            Route("/checkin/guest-of", desk(self.guest_of), methods=["POST"]),
            Route("/checkin/undo/{id}", desk(self.confirm_undo), methods=["GET"]),
            Route("/checkin/undo", desk(self.undo), methods=["POST"]),
            Route("/checkin/signout", desk(self.signout, signs_out=True), methods=["POST"]),
            Route("/checkin/forget", self.forget, methods=["GET"]),
            Route("/attendance", staff(self.attendance), methods=["GET"]),
            Route("/attendance/live", staff(self.attendance_live), methods=["GET"]),
            Route("/attendance/undo/{id}", staff(self.confirm_undo_guest), methods=["GET"]),
            Route("/attendance/undo", staff(self.undo_guest), methods=["POST"]),
            Route("/attendance/summary", staff(self.summary), methods=["GET"]),
            Route("/attendance/present", staff(self.present), methods=["GET"]),
        ]


# Seconds between two refreshes of the attendance page.
ATTENDANCE_POLL = 10
# People a page of the present list shows: enough to read or print a screenful, never the
# whole hall (10,000 rows were 1.8 MB of HTML); the .xlsx holds everyone.
PRESENT_PAGE = 200


def _came_in(arrival: Arrival) -> bool:
    """Whether a guest's namesake is in the hall as the invitee or her substitute (one whose
    invitation was withdrawn and was let in as a guest keeps the withdrawn words)."""
    return arrival.checkin is not None and arrival.checkin.kind is not ArrivalKind.GUEST


def _desk_bound(session_id: int) -> str:
    """What the desk's forms are signed for: the session (its id; the cookies prove it)."""
    return f"desk|{session_id}"


def _typed_substitute(values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A refused substitute's fields as the desk typed them (whole: a text too long is said so
    with its length, to shorten), to fill her card's form again."""
    fields = ("substitute_name", "substitute_position", "substitute_unit")
    return tuple((name, values.get(name, "")) for name in fields)


def _request_key(values: dict[str, str]) -> str | None:
    """The form's own key (a tap sent twice sends the same one), when it has its shape."""
    key = values.get("rk", "")
    return key if _REQUEST_KEY.fullmatch(key) else None


def _late(values: dict[str, str]) -> timedelta | None:
    """How many seconds ago the desk first tapped this form (``late``, which the desk's script
    adds when its first tap found no network): whole seconds, or None. A span, not a time: a
    phone's clock set wrong cannot move it (bounds: bot.services.checkin.arrived_at)."""
    seconds = values.get("late", "")
    if not (seconds.isascii() and seconds.isdigit()) or len(seconds) > 6:
        return None
    return timedelta(seconds=int(seconds))


def _own_path(path: str, site_root: str) -> bool:
    """Whether ``path`` is an address on this site (never another host)."""
    return path.startswith(f"{site_root}/") and not path.startswith("//") and "\\" not in path


def desk_pages_of(routes: list[BaseRoute]) -> DeskPages | None:
    """The desk's pages among the web application's routes (the office's mount)."""
    for route in routes:
        if isinstance(route, Mount) and route.path == "/office" and route.app is not None:
            found = getattr(getattr(route.app, "state", None), "desk", None)
            if isinstance(found, DeskPages):
                return found
    return None


def substitute_fields(arrival: Arrival) -> tuple[str, str, str]:
    """What the desk's substitute form offers: the name, position and unit her answer gave (an
    answer from before migration 0026 holds «position, unit» glued: split, as the day's papers
    read it), the unit else the invitee's — as the personal page's and the office's forms
    offer it; nothing but the invitee's unit for someone who came unannounced."""
    person, answer = arrival.person, arrival.answer
    own = person.organization if person is not None else ""
    if answer is None or not answer.substitute_name:
        return "", "", own
    if answer.substitute_unit:
        return answer.substitute_name, answer.substitute_position or "", answer.substitute_unit
    position, unit = position_and_unit(answer.substitute_position, own)
    return answer.substitute_name, position, unit


def missing_rows(catalog: Catalog, labels: Mapping[str, str], missing: list[Missing]) -> Markup:
    """The rows of who is still missing, as the attendance's table shows them (``labels``: the
    groups' labels by key). Written here rather than in the template: at 10,000 invitees there
    are thousands, polled every few seconds, and Jinja's work per row was most of the page."""
    rows = []
    # An empty cell read as a number not loaded: said in the overview's words.
    no_number = (
        f'<span class="muted">{escape(catalog.plain("dash.overview.to_phone_no_number"))}</span>'
    )
    for person in missing:
        name = escape(person.full_name)
        if person.substitute_name:
            sent = catalog.html("dash.attendance.substitute", name=person.substitute_name)
            name += Markup(' <span class="muted">(%s)</span>') % Markup(sent)  # noqa: S704
        phone = no_number
        # The one the office calls: the substitute coming, by her own number (said to be hers),
        # else the invitee (said to be hers on a substitute's row), as the present list's sheet.
        called, whose = person.phone, "day_papers.phone_of_invitee"
        if person.substitute_name and person.substitute_phone:
            called, whose = person.substitute_phone, "day_papers.phone_of_substitute"
        if called:
            shown = escape(called)
            phone = f'<a href="tel:{shown.replace(" ", "")}">{shown}</a>'
            if person.substitute_name:
                phone = catalog.html(whose, phone=Html(phone))
        group = escape(labels.get(person.group_key, person.group_key))
        rows.append(
            f'<tr id="missing-{escape(person.code)}"><th scope="row">{name}</th>'
            f"<td>{escape(person.position)}, {escape(person.organization)}</td>"
            f"<td>{group}</td><td>{phone}</td></tr>\n"
        )
    return Markup("".join(rows))  # noqa: S704 (every value escaped above)
