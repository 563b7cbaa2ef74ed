"""The dashboard's routes: signing in and out, the overview and its live part, the delegates.

Handlers are thin: they check the session (``services.signin``), read plain values, call one
use case or view (``services.dashboard``, ``services.rsvp``…) and render a template with the
catalog. Every form carries a signature bound to the session (:class:`Guard`), so a page of
another site cannot post one; the cookie is HttpOnly, SameSite=Lax, Secure behind HTTPS.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.chat import replies
from bot.config import base_url_is_local
from bot.domain.contact import Contact
from bot.domain.ids import parse_id
from bot.domain.phones import display_phone, normalize_phone
from bot.domain.quotas import QuotaUse
from bot.domain.rsvp import (
    MAX_REASON,
    MAX_SUBSTITUTE_NAME,
    MAX_SUBSTITUTE_POSITION,
    MAX_SUBSTITUTE_UNIT,
    RsvpAnswer,
    RsvpStatus,
    only_days,
    read_days,
)
from bot.domain.typed import one_line
from bot.services import Services
from bot.services.access import OfficeActor
from bot.services.checkin import day_over, days_said
from bot.services.dashboard import Card, Filters, notice_audience
from bot.services.rsvp import RsvpStep
from bot.services.signin import LINK_LIFETIME, Check, LinkState, StaffVisit
from bot.texts import Catalog, presenters
from bot.texts.formatting import file_size, short_moment
from bot.texts.presenters import (
    action_label,
    actor_label,
    agenda_day_label,
    answer_label,
    audience_label,
    deadline_text,
    expected_by_day,
    not_running,
    sent_via,
    signed_out_wording,
)
from handlers.web.flash import Flash, Flashes, renewed_key
from handlers.web.office.accounts import Accounts
from handlers.web.office.binding import session_binding
from handlers.web.office.checkin import DESK_COOKIE, DeskPages
from handlers.web.office.documents import Documents
from handlers.web.office.downloads import Downloads
from handlers.web.office.drafts import Drafts
from handlers.web.office.imports import Imports
from handlers.web.office.invites import Invites, invite_of
from handlers.web.office.log import AuditLog
from handlers.web.office.notices import Notices
from handlers.web.office.staff import StaffRoles
from handlers.web.office.tasks import Tasks
from handlers.web.office.withdrawals import Withdrawals
from handlers.web.security import Guard, own_page, same_site
from handlers.web.static import Static
from handlers.web.uploads import (
    FORM_FIELDS,
    TooLarge,
    leading_fields,
    read_form,
    text_field,
    upload,
)

if TYPE_CHECKING:
    from handlers.web.app import WebSetup

HERE = Path(__file__).parent
COOKIE = "hoinghi_office"
# The dashboard address a browser without a session asked for (a draft's or the report's link
# from a chat), kept while she fetches a sign-in link: signing in takes her there, not to the
# overview. Only a path of the dashboard itself is ever kept or followed (no open redirect).
NEXT_COOKIE = "hoinghi_next"
NEXT_LIFETIME = 30 * 60  # seconds: time to ask the bot for a link and open it
# The dashboard's own script (the overview refreshing itself) and nothing else: no inline
# script, no asset but ours, no frame, forms only to ourselves.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Seconds between two refreshes of the overview's live part.
POLL_SECONDS = 15
# The fields of the dashboard's and the desk's forms that hold text someone wrote (a notice's
# body, a draft comment, a task's note, a reason, a document's title, a guest's or a
# substitute's name, a sheet's name, a code, a time). Shown back, to copy, when the form came
# after its session ended, each under its label (the catalog's dash.signin.field.<label>); put
# back in its box on the form's own page when the form came after this server's secret changed
# (Office.expired), as the personal page does. A test walks every form the pages render
# (tests/test_web_office_forms.py): a form with a text box is here, or it fails.


# The page of a form that names it in its field «back» (:class:`UnsavedForm`).
BACK = "back"


class UnsavedForm(NamedTuple):
    """One form whose typed text is kept, by its path below the dashboard's «/office»."""

    pattern: re.Pattern[str]
    # The page the form is on, below «/office», the path's groups filling it in ({0});
    # :data:`BACK`: the one its field «back» names, an address of this site (the desk's card:
    # a search's, or a personal page's opened by a slip's QR).
    page: str
    # (field, label, box): ``box`` the key the page fills that box from (the form's values in
    # it).
    boxes: tuple[tuple[str, str, str], ...]
    # A (field, value) the form must hold for its boxes to be shown (the card's big button
    # posts its substitute boxes, prefilled, for «in person» too).
    only_when: tuple[str, str] | None = None
    # (field, box): what was chosen beside the text (a role, a theme, «now» or «later»), put
    # back with it; never text to show back on its own, and never enough to keep a form.
    chosen: tuple[tuple[str, str], ...] = ()


def _unsaved(
    path: str,
    page: str,
    boxes: tuple[tuple[str, str, str], ...],
    only_when: tuple[str, str] | None = None,
    chosen: tuple[tuple[str, str], ...] = (),
) -> UnsavedForm:
    return UnsavedForm(re.compile(f"/office{path}$"), page, boxes, only_when, chosen)


UNSAVED_FORMS: tuple[UnsavedForm, ...] = (
    _unsaved("/notices/preview", "notices", (("body", "notice_body", "notice-body"),)),
    # The preview has its own address (the draft's, while it waits at its preview).
    _unsaved(
        r"/notices/(\d+)/send",
        "notices/{0}",
        (("when", "send_when", "send-when"),),
        chosen=(("how", "send-how"),),
    ),
    _unsaved(r"/drafts/(\d+)/comment", "drafts/{0}", (("body", "comment_body", "comment-body"),)),
    _unsaved(
        r"/drafts/(\d+)/revise", "drafts/{0}", (("reason", "revise_reason", "revise-reason"),)
    ),
    _unsaved(
        "/drafts/assign",
        "drafts",
        (
            ("code", "assign_code", "assign-code"),
            ("deadline", "assign_deadline", "assign-deadline"),
        ),
        chosen=(("theme", "assign-theme"),),
    ),
    _unsaved(r"/tasks/(\d+)/close", "tasks/{0}", (("note", "close_note", "close-note"),)),
    _unsaved(r"/tasks/(\d+)/reopen", "tasks/{0}", (("note", "reopen_note", "reopen-note"),)),
    _unsaved(
        r"/tasks/(\d+)/record", "tasks/{0}", (("note", "record_note", "record-note-{person}"),)
    ),
    _unsaved(
        "/delegates/([^/]+)/withdraw",
        "delegates/{0}/withdraw",
        (("reason", "withdraw_reason", "withdraw-reason"),),
    ),
    _unsaved(
        "/delegates/([^/]+)/phone",
        "delegates/{0}",
        (
            ("reason", "phone_reason", "reason"),
            ("name", "phone_name", "name"),
            ("position", "phone_position", "position"),
            ("unit", "phone_unit", "unit"),
            ("phone", "phone_phone", "phone"),
        ),
        chosen=(("choice", "choice"),),
    ),
    _unsaved(
        "/documents",
        "documents",
        (("title", "document_title", "title"), ("note", "document_note", "note")),
    ),
    _unsaved("/import", "import", (("sheet", "import_sheet", "import-sheet"),)),
    _unsaved(
        "/staff/grant",
        "staff",
        (("code", "grant_code", "grant-code"),),
        chosen=(("role", "grant-role"),),
    ),
    _unsaved("/checkin/desk", "checkin/desk", (("desk", "desk_label", "desk"),)),
    _unsaved(
        "/checkin/guest",
        "checkin",
        (
            ("name", "guest_name", "name"),
            ("position", "guest_position", "position"),
            ("organization", "guest_organization", "organization"),
        ),
    ),
    # The card the form is on: a search's (/office/checkin/p/CODE) or a slip's QR's (a
    # personal page's address, /TOKEN).
    _unsaved(
        "/checkin/in",
        BACK,
        (
            ("substitute_name", "substitute_name", "substitute_name"),
            ("substitute_position", "substitute_position", "substitute_position"),
            ("substitute_unit", "substitute_unit", "substitute_unit"),
        ),
        ("as", "substitute"),
    ),
)


def renewable(
    path: str, values: Mapping[str, str], *, files: bool = False
) -> tuple[str, dict[str, str]] | None:
    """The page a form posted to ``path`` is on and what it had typed and chosen, by the keys
    that page fills its boxes from (:data:`UNSAVED_FORMS`); None for a form that took nothing
    typed and no file chosen (``files``; a button's), or whose page cannot be found again from
    it (a card's «back» that names no address of this site)."""
    for form in UNSAVED_FORMS:
        found = form.pattern.search(path)
        if found is None:
            continue
        only_when = form.only_when
        if only_when is not None and values.get(only_when[0]) != only_when[1]:
            return None
        named = defaultdict(str, values)
        kept = {box.format_map(named): values.get(field, "") for field, _, box in form.boxes}
        if not files and not any(text.strip() for text in kept.values()):
            return None
        kept |= {box: values.get(field, "") for field, box in form.chosen}
        if form.page == BACK:  # the site's own address, checked by Office.expired
            page = values.get("back", "")
            return (page, kept) if page.startswith("/") else None
        return form.page.format(*found.groups()), kept
    return None


Handler = Callable[[Request], Awaitable[Response]]
StaffHandler = Callable[[Request, StaffVisit, OfficeActor], Awaitable[Response]]
# Whether a post to a form that can sign out does (``Office.staff``).
SignsOut = Callable[[Request], Awaitable[bool]]


@cache
def _templates() -> Environment:
    """The dashboard's templates, built once a process and shared by every application built
    in it (the test suite builds hundreds, and compiling them again was a fifth of its web
    tests' time)."""
    return Environment(
        loader=FileSystemLoader(HERE.parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Office:
    """The dashboard's handlers, sharing the services, the catalog and the templates."""

    def __init__(
        self, services: Services, catalog: Catalog, base_url: str, secret: bytes, site_css: str
    ) -> None:
        self.services = services
        self.config = services.config
        self.catalog = catalog.with_locale(services.config.meeting.locale)
        base = urlsplit(base_url)
        self.origin = f"{base.scheme}://{base.netloc}"
        self.site_root = base.path.rstrip("/")  # where personal pages live, as the browser sees it
        self.root = f"{self.site_root}/office"
        self.secure = base.scheme == "https"
        # Said wherever the office takes links to hand out: they would open nowhere but here.
        self.local_base_url = base_url if base_url_is_local(base_url) else ""
        self.guard = Guard(secret)
        self.flashes = Flashes()
        self.site_css = site_css
        # The personal link as printed (build_office_app sets the web page's maker).
        self.paper: Callable[[str], str] = lambda token: f"{base_url.rstrip('/')}/{token}"
        # The chat channels running, with their bots' names (build_office_app sets them): where
        # an invitation tells a person to send her code, if anywhere.
        self.chat_bots: Mapping[str, str] = {}
        self.static = Static(HERE / "static", self.root)
        self.templates = _templates()

    # --- who is asking -------------------------------------------------------------------------

    async def _visit(self, request: Request) -> StaffVisit:
        return await self.services.signin.visit(self.session_cookie(request))

    def session_cookie(self, request: Request) -> str | None:
        """The dashboard session's cookie a request carries, if any."""
        return request.cookies.get(COOKIE)

    def staff(
        self, handler: StaffHandler, *, signs_out: SignsOut | None = None, everywhere: bool = False
    ) -> Handler:
        """``handler`` for signed-in office staff only: anyone else gets the sign-in page
        (no session) or a refusal (a session of someone no longer on the office's staff);
        for a form that signs out (``signs_out`` says whether this post does; ``everywhere``:
        of every session), a browser whose session a sign-out has just ended is told it is
        signed out (:meth:`already_signed_out`)."""

        async def endpoint(request: Request) -> Response:
            visit = await self._visit(request)
            if visit.desk_only:  # the check-in role opens the desk's pages only
                return self._render(
                    "office/message.html", status=403, key="checkin_only", desk=True
                )
            if visit.check is Check.NONE or visit.actor is None:
                if visit.check is Check.REFUSED:
                    return self._render("office/message.html", status=403, key="refused")
                if signs_out is not None and await self.already_signed_out(
                    request, signs_out, everywhere=everywhere
                ):
                    return self._signed_out()
                # A sign-out's form holds nothing typed (and ``signs_out`` may have read it).
                typed = await self.unsaved_text(request) if signs_out is None else []
                page = self.signin_page(request, typed=typed)
                if request.method == "GET":
                    self._keep_next(request, page)
                return page
            return await handler(request, visit, visit.actor)

        return endpoint

    def _keep_next(self, request: Request, response: Response) -> None:
        """Remember the page a browser without a session asked for, for :meth:`signin_post`."""
        # As the browser sent it (a name in the path is percent-encoded): a cookie holds ASCII.
        path = quote(request.url.path, safe="/-._~!$&'()*+,;=:@%")
        wanted = path + (f"?{request.url.query}" if request.url.query else "")
        if self.same_site_path(wanted) is None:
            return
        response.set_cookie(
            NEXT_COOKIE, wanted, max_age=NEXT_LIFETIME, path=self.root,
            secure=self.secure, httponly=True, samesite="lax",
        )  # fmt: skip

    def same_site_path(self, value: str | None) -> str | None:
        """``value`` if it is a path of this dashboard (not its sign-in pages), else None: never
        another site's address, a scheme-relative ``//host`` or a backslash a browser might
        read as a slash."""
        if (
            not value
            or len(value) > 2000
            or not value.isascii()
            or "\\" in value
            or any(c < " " for c in value)
        ):
            return None
        parts = urlsplit(value)
        if parts.scheme or parts.netloc or value.startswith("//"):
            return None
        path = parts.path
        if not path.startswith(f"{self.root}/") or path.startswith(f"{self.root}/signin"):
            return None
        return value

    async def already_signed_out(
        self, request: Request, signs_out: SignsOut | None = None, *, everywhere: bool = False
    ) -> bool:
        """Whether a sign-out's post, from this server's page, comes from a browser whose
        session a sign-out has already ended (a second tap on a slow connection: the first
        ended it); for signing out ``everywhere``, only when nothing of hers is open any more
        (:meth:`~bot.services.signin.StaffSignIn.signed_out`). It is answered as done — she is
        signed out — not as a form left undone; nothing is changed but the browser's cookies,
        dropped. A session that ran out, or one ended while another of hers is still open
        when she asked for every one to end, is not: what she asked was not done, and she
        is asked to sign in (:meth:`signin_page`). ``signs_out`` None: every post of the form
        signs out."""
        cookie = self.session_cookie(request)
        return (
            cookie is not None
            and self._same_site(request)
            and (signs_out is None or await signs_out(request))
            and await self.services.signin.signed_out(cookie, everywhere=everywhere)
        )

    async def ran_out(self, request: Request) -> bool:
        """Whether the desk's «Đăng xuất», posted from this server's page, comes from a phone
        whose session ran out (never signed out): the desk's phone holds that one session
        alone, nothing is left to end, and she is told she is signed out rather than asked to
        sign in to sign out. Not for the office's own sign-outs: from a laptop's tab left open
        while her phone is signed in, "not done, sign in and do it" is what keeps her from
        believing the phone is signed out (:meth:`already_signed_out`)."""
        cookie = self.session_cookie(request)
        return (
            cookie is not None
            and self._same_site(request)
            and await self.services.signin.ran_out(cookie)
        )

    def signin_page(
        self,
        request: Request,
        *,
        scanned: str | None = None,
        typed: list[tuple[str, str]] | None = None,
    ) -> Response:
        """How to sign in, for a request without a live session; when it carried a session that
        has ended (expired, or signed out elsewhere), saying so — and, for a form, that what it
        asked was not done, with the text it carried (``typed``) to copy; for a desk's scan
        (``scanned``: the personal page's token), that no one was checked in, with the way out
        for a phone that is no desk's any more."""
        unsaved = request.method == "POST"
        # The session's cookie ends with the session; the desk's outlives it: either tells. So
        # does a form posted from this server's own pages: only a signed-in page has one, and
        # the cookie is gone when the session ran out (its max-age) or a tab signed out.
        ended = (
            scanned is not None
            or self.session_cookie(request) is not None
            or DESK_COOKIE in request.cookies
            or (unsaved and self._same_site(request))
        )
        return self._render(
            "office/signin.html", status=401, ended=ended, unsaved=unsaved, scanned=scanned,
            typed=typed or [],
        )  # fmt: skip

    async def unsaved_text(self, request: Request) -> list[tuple[str, str]]:
        """What was typed in the text boxes of a form posted after its session ended (a notice,
        a comment, a note, a reason, a guest's name…), each with its box's label, to show back
        for copying: nothing was saved, and a sign-in link may open on another device, so it
        is kept by the page she is on rather than carried across the sign-in. Only for a
        form of this server's own pages (a page of another site gets nothing of its post
        shown on ours); a multipart form's leading text fields only, never its file."""
        return (await self.unsaved(request))[0]

    async def unsaved(
        self, request: Request
    ) -> tuple[list[tuple[str, str]], tuple[str, dict[str, str]] | None]:
        """What :meth:`unsaved_text` shows back to copy, and the page the form is on with what
        it had typed and chosen by the keys that page fills its boxes from (:func:`renewable`;
        an address of this site), for a form the browser vouches came from this server's own
        page (:func:`own_page`) — the desk's, sent after a restart with a new secret, goes back
        there once the desk is named again (:meth:`DeskPages.choose_desk`)."""
        if request.method != "POST" or not self._same_site(request):
            return [], None
        # The path's end: behind a proxy the path may come with or without the site's prefix.
        path = request.url.path
        found = next((form for form in UNSAVED_FORMS if form.pattern.search(path)), None)
        if found is None:
            return [], None
        boxes, only_when = found.boxes, found.only_when
        wanted = [field for field, _, _ in boxes] + [field for field, _ in found.chosen]
        wanted += ([only_when[0]] if only_when else []) + (["back"] if found.page == BACK else [])
        content_type = request.headers.get("content-type", "")
        values: dict[str, str] = {}
        try:
            if content_type.startswith("multipart/form-data"):
                values = await leading_fields(request, wanted)
            else:
                form = await read_form(request)
                values = {name: text_field(form, name) for name in wanted}
        except (TooLarge, HTTPException, MultiPartException, ClientDisconnect):
            return [], None
        if only_when is not None and values.get(only_when[0]) != only_when[1]:
            return [], None
        typed = [
            (self.catalog.plain(f"dash.signin.field.{label}"), values[field])
            for field, label, _ in boxes
            if values.get(field, "").strip()
        ]
        renewal = renewable(path, values) if own_page(request, self.origin) else None
        if renewal is not None:
            page, kept = renewal
            page = page if page.startswith("/") else f"{self.root}/{page}"
            renewal = (page, kept) if self._own_address(page) else None
        return typed, renewal

    async def _form(self, request: Request, bound_to: str) -> dict[str, str] | Response:
        """The posted form, once it is known to be this server's for ``bound_to``; else the
        answer to give (a form from another site, or one this server did not sign)."""
        form = await self._posted(request, bound_to)
        if isinstance(form, Response):
            return form
        return {name: text_field(form, name) for name in form}

    async def _posted(
        self, request: Request, bound_to: str, *, fields: int = FORM_FIELDS
    ) -> FormData | Response:
        """The posted form of up to ``fields`` fields (a list's checkboxes: one each) as
        :meth:`_form` checks it, its repeated fields kept."""
        if not self._same_site(request):
            return PlainTextResponse("", status_code=403)
        try:
            form = await read_form(request, fields=fields)
        except TooLarge as exc:  # said with its size, not a bare 413
            size = file_size(self.catalog, exc.size)
            return self._render(
                "office/message.html", status=413, key="too_large", params={"size": size}
            )
        nonce, csrf = text_field(form, "nonce"), text_field(form, "csrf")
        if not self.guard.valid(bound_to, nonce, csrf):
            return await self.expired(request, form)
        return form

    async def expired(self, request: Request, form: FormData) -> Response:
        """The answer to a form this server did not sign for this session: one that took typed
        text or a file (:data:`UNSAVED_FORMS`), from a session still open, posted from this
        server's own page as the browser says (:func:`own_page`) — the server's secret changed
        since the page was shown, a restart with a new one — goes back to its page with what
        was typed in its boxes, saying to press send again (to choose its file again, when one
        was chosen: a file cannot be put back), as the personal page does; any other is said to
        have expired."""
        values = {name: text_field(form, name) for name in form}
        # A form's empty file box comes with no name: nothing to choose again.
        files = any(upload(form, name) is not None for name in form)
        found = renewable(request.url.path, values, files=files)
        if found is not None and own_page(request, self.origin):
            visit = await self._visit(request)
            page, kept = found
            if page.startswith("/") and not self._own_address(page):
                return self._render("office/message.html", status=403, key="form_expired")
            if visit.check is Check.OK and visit.session_id is not None:
                text = self.catalog.html(renewed_key(typed=True, files=files))
                return self._done(visit, page, text, ok=False, form=kept)
        return self._render("office/message.html", status=403, key="form_expired")

    def _own_address(self, path: str) -> bool:
        """Whether ``path`` (a form's own field naming the page it is on) is a page of this
        site: never another host, a scheme-relative ``//host`` or a backslash."""
        return (
            path.startswith(f"{self.site_root}/")
            and not path.startswith("//")
            and path.isascii()
            and "\\" not in path
            and "?" not in path
            and not any(c < " " for c in path)
        )

    def _same_site(self, request: Request) -> bool:
        """Whether a form was posted from this server's own pages (:func:`same_site`)."""
        return same_site(request, self.origin)

    def _done(
        self,
        visit: StaffVisit,
        path: str,
        html: str,
        *,
        ok: bool,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """Post, redirect, get: ``path`` again (below the dashboard; from «/», the site's own
        address), saying ``html`` once (and filling a refused form's boxes again with
        ``form``: a box's id → what was typed in it)."""
        assert visit.session_id is not None
        key = self.flashes.put(Flash(visit.session_id, html, ok, tuple((form or {}).items())))
        where = path if path.startswith("/") else f"{self.root}/{path}"
        return RedirectResponse(f"{where}?f={key}#flash", status_code=303)

    def _flash(self, request: Request, visit: StaffVisit) -> Flash | None:
        assert visit.session_id is not None
        return self.flashes.take(request.query_params.get("f", ""), visit.session_id)

    # --- signing in and out --------------------------------------------------------------------

    async def signin_help(self, request: Request) -> Response:
        """How to get a sign-in link."""
        visit = await self._visit(request)
        if visit.check is Check.OK:
            return RedirectResponse(self._home(visit.desk_only), status_code=303)
        return self._render("office/signin.html")

    async def signin_link(self, request: Request) -> Response:
        """A link opened: a button to sign in with it. Opening spends nothing (a chat's link
        preview fetches the address too); the button's post does."""
        secret = str(request.path_params["secret"])
        state = await self.services.signin.link_state(secret)
        if state is not LinkState.OPEN:
            return self._link_refused(state)
        return self._render("office/confirm.html", secret=secret)

    def _link_refused(self, state: LinkState) -> Response:
        """Why a link opens nothing: her role was withdrawn (the office, not a new link, can
        help), or it was used, ran out or was cancelled (a new link can)."""
        if state is LinkState.NO_ROLE:
            return self._render("office/message.html", status=403, key="link_no_role")
        return self._render("office/message.html", status=410, key="link_spent")

    async def signin_post(self, request: Request) -> Response:
        """Spend the link on a session: the cookie, then the overview."""
        secret = str(request.path_params["secret"])
        values = await self._form(request, f"signin|{secret}")
        if isinstance(values, Response):
            return values
        browser = one_line(request.headers.get("user-agent", ""))
        opened = await self.services.signin.redeem(secret, browser=_browser(browser))
        if opened is None:
            return self._link_refused(await self.services.signin.link_state(secret))
        # Where she was going when asked to sign in (a draft's link from a chat), else home; the
        # check-in role goes to the desk, its only pages.
        wanted = None if opened.desk_only else self.same_site_path(request.cookies.get(NEXT_COOKIE))
        response = RedirectResponse(wanted or self._home(opened.desk_only), status_code=303)
        response.delete_cookie(
            NEXT_COOKIE, path=self.root, secure=self.secure, httponly=True, samesite="lax"
        )
        response.set_cookie(
            COOKIE,
            opened.secret,
            max_age=int(self.services.signin.session_lifetime.total_seconds()),
            path=self.root,
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
        # A desk chosen by an earlier session is no desk of this one: it is chosen again at the
        # desk, and until then a personal link opens as it would anywhere.
        self.drop_desk_cookie(response)
        return response

    def _home(self, desk_only: bool) -> str:
        """Where a session starts: the overview, or the desk's page for the check-in role."""
        return f"{self.root}/checkin" if desk_only else f"{self.root}/"

    async def signout(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """End this browser's session."""
        values = await self._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        assert visit.session_id is not None
        await self.services.signin.sign_out(actor, visit.session_id)
        return self._signed_out()

    async def sessions(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """One's own open sessions, with "sign out everywhere"."""
        lines = await self.services.signin.sessions(actor)
        return self._render(
            "office/sessions.html", visit=visit, actor=actor, sessions=lines,
            flash=self._flash(request, visit),
        )  # fmt: skip

    async def end_session(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """End one of one's sessions (another browser's), or all of them."""
        values = await self._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        signin = self.services.signin
        which = values.get("session", "")
        if which == "all":
            ended = await signin.sign_out_everywhere(actor)
            return self._signed_out(len(ended.sessions), len(ended.links))
        session_id = parse_id(which)
        if session_id is None:
            return self._done(visit, "sessions", self.catalog.html("dash.sessions.none"), ok=False)
        one = await signin.sign_out(actor, session_id)
        if session_id == visit.session_id:
            return self._signed_out()
        key = "dash.sessions.ended" if one else "dash.sessions.none"
        return self._done(visit, "sessions", self.catalog.html(key), ok=bool(one))

    async def ends_everywhere(self, request: Request) -> bool:
        """Whether a post to ``sessions/end`` asks to sign out everywhere."""
        try:
            form = await read_form(request)
        except TooLarge:
            return False
        return text_field(form, "session") == "all"

    def _signed_out(
        self, sessions: int | None = None, links: int = 0, *, ran_out: bool = False
    ) -> Response:
        """Signed out: the session's cookie goes, and a desk's with it (a phone signed out is
        no desk's, and its scans open the person's own page again); the page says so, in the
        words :func:`~bot.texts.presenters.signed_out_wording` chooses (``sessions`` None: this
        browser's alone, ``ran_out`` when it had run out; else how many sessions and unspent
        links signing out everywhere ended)."""
        key, line = signed_out_wording(sessions, links, ran_out=ran_out)
        params = {} if sessions is None else {"sessions": sessions, "links": links}
        response = self._render("office/message.html", key=key, line=line, params=params)
        response.delete_cookie(
            COOKIE, path=self.root, secure=self.secure, httponly=True, samesite="lax"
        )
        self.drop_desk_cookie(response)
        return response

    # The desk cookie is the whole site's (a scanned personal page reads it): set and dropped
    # with the same path and flags, or the browser keeps it.

    def set_desk_cookie(self, response: Response, value: str, *, max_age: int) -> None:
        """Remember this browser as a desk's (``value``: ``DeskPages.cookie_value``)."""
        response.set_cookie(
            DESK_COOKIE, value, max_age=max_age,
            path=self.site_root or "/", secure=self.secure, httponly=True, samesite="lax",
        )  # fmt: skip

    def drop_desk_cookie(self, response: Response) -> None:
        """Drop the browser's desk cookie."""
        response.delete_cookie(
            DESK_COOKIE, path=self.site_root or "/",
            secure=self.secure, httponly=True, samesite="lax",
        )  # fmt: skip

    # --- the overview --------------------------------------------------------------------------

    async def overview(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Tổng quan: the whole meeting on one screen."""
        context = await self._live_context(actor)
        return self._render(
            "office/overview.html", visit=visit, actor=actor, poll=POLL_SECONDS, **context
        )

    async def live(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The overview's figures alone, for its script to put in place."""
        context = await self._live_context(actor)
        return self._render("office/live.html", **context)

    async def _live_context(self, actor: OfficeActor) -> dict[str, Any]:
        services = self.services
        figures = await services.dashboard.figures()  # counts, reach, to phone: one read
        missing, assigned = await services.drafts.missing_of_all()
        # From the meeting's first day the overview leads with the hall, and drops the
        # preparation's prompts (invitations to send, answers to phone for): not the morning's
        # jobs, nor those of the days after, when the office reports who came and who did not.
        now = services.ctx.clock.now()
        meeting = self.config.meeting
        hall = await services.checkin.count() if meeting.day_begun(now) else None
        return {
            "hall": hall,
            # A meeting of several days: today's figures, and each day's apart.
            "hall_days": days_said(self.catalog, hall) if hall is not None else None,
            # Once it is over, the same figures are the day's result, not a hall filling up.
            "hall_ended": short_moment(self.catalog, meeting.local(meeting.ends_at))
            if hall is not None and meeting.ended(now)
            else "",
            # The evening of a day with another to come: that day's result, the next day said.
            "hall_day_over": day_over(self.config, now) if hall is not None else None,
            "counts": figures.counts,
            # A meeting of several days: how many to expect (and feed) each day.
            "expected_days": expected_by_day(self.catalog, figures.counts.by_day)
            if figures.counts.by_day
            else "",
            "reach": figures.reach,
            "idle": figures.idle,
            "no_chat": figures.no_chat,
            "quotas": [use for use in await services.quotas.usage() if use.in_use],
            # Its tile is hidden from the meeting's day on (above): nobody listed, nothing read.
            "to_phone": await services.dashboard.to_phone() if hall is None else [],
            "phone_total": figures.to_phone,
            "unsent": figures.unsent,
            "overdue": await services.tasks.overdue_heads(),
            "missing": missing,
            "assigned": assigned,
            "upcoming": await services.dashboard.upcoming(),
            "activity": await services.dashboard.activity_lines(),
            # What a line names beside its change, as the log writes it (dash.log.about).
            "about_kinds": ("outbound_message", "task", "speech_assignment", "meeting_document"),
            "now": short_moment(self.catalog, self.config.meeting.local(now)),
        }

    # --- delegates -----------------------------------------------------------------------------

    async def delegates(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Đại biểu: the list in protocol order, with filters and a search."""
        query = request.query_params
        filters = Filters(
            group=query.get("group", ""),
            answer=query.get("answer", ""),
            channel=query.get("channel", ""),
            reach=query.get("reach", ""),
            sent=query.get("sent", ""),
            search=query.get("q", "")[:100],
            after=query.get("after", ""),
            audience=notice_audience(query.get("audience", "")[:100]),
        )
        listing = await self.services.dashboard.delegates(filters)
        unsent = await self.services.dashboard.unsent()
        # The bulk «đã gửi» form: when the list was shown (a link re-issued since is not the
        # one handed out), and the filters to come back to.
        shown = self.services.ctx.clock.now().isoformat()
        back = urlencode([(k, v) for k, v in query.items() if k != "f" and v])
        channels = sorted({r.channel for r in await self.services.dashboard.reach()})
        next_url = None
        if listing.next_after is not None:
            wanted = {k: v for k, v in query.items() if k != "after" and v}
            next_url = f"{self.root}/delegates?{urlencode({**wanted, 'after': listing.next_after})}"
        return self._render(
            "office/delegates.html", visit=visit, actor=actor, filters=filters, listing=listing,
            channels=channels, next_url=next_url, unsent=unsent, shown=shown, back=back,
            flash=self._flash(request, visit),
            audience=filters.audience
            and audience_label(self.catalog, self.config, filters.audience),
        )  # fmt: skip

    async def delegate(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """A delegate's page: their answer, channels, history, and the phone answer's form."""
        card = await self.services.dashboard.card(str(request.path_params["code"]))
        if card is None:
            return self._render("office/message.html", status=404, key="no_delegate")
        return await self._delegate_page(visit, actor, card, self._flash(request, visit))

    async def _delegate_page(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        card: Card,
        flash: Flash | None,
        typed: Mapping[str, str] | None = None,
        *,
        via_missing: bool = False,
    ) -> Response:
        """The delegate's page; after a phone form refused, with what was typed in it kept;
        after «đã gửi» posted without how (``via_missing``), saying so beside that form."""
        # Several Zalo bots: the message names hers, as her slip and her page do.
        bot = await self.services.quotas.bot_of(card.person.id)
        refused = typed is not None or via_missing
        return self._render(
            "office/delegate.html", status=422 if refused else 200, visit=visit,
            actor=actor, card=card, answer=replies.answer(self.catalog, card.rsvp, to_office=True),
            is_open=self.services.rsvp.is_open(), deadline=deadline_text(self.catalog, self.config),
            # A phone form sent back after the server's secret changed: its boxes as typed.
            flash=flash, typed=typed or (flash.typed if flash else {}),
            invite=invite_of(self, card, self.paper, bot),
            via_missing=via_missing,
            # A meeting of several days: «tham dự» for the days ticked (none: every day).
            meeting_days=[
                (number, agenda_day_label(self.catalog, self.config, number))
                for number in range(1, self.config.meeting.days + 1)
            ] if self.config.meeting.several_days else [],
        )  # fmt: skip

    async def phone_answer(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """An answer taken by phone, recorded on the delegate's behalf through the RSVP use
        case (its rules), audited as this staff member's; after the answer deadline too,
        marked as taken after it."""
        code = str(request.path_params["code"])
        values = await self._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        card = await self.services.dashboard.card(code)
        if card is None:
            return self._render("office/message.html", status=404, key="no_delegate")
        path = f"delegates/{card.person.code}"
        answer = _phone_answer(values, card.person.organization, self.config.meeting.dates)
        if isinstance(answer, tuple):  # the form again, as typed, beside what is wrong with it
            key, params = answer
            refused = Flash(0, self.catalog.html(key, **params), ok=False)
            return await self._delegate_page(visit, actor, card, refused, typed=values)
        result = await self.services.rsvp.record_by_phone(actor, card.person.id, answer)
        catalog = self.catalog
        if result.step is RsvpStep.RECORDED and result.rsvp is not None:
            text = catalog.html(
                "dash.phone.recorded_late" if result.late else "dash.phone.recorded",
                name=card.person.full_name,
                answer=replies.answer(catalog, result.rsvp, to_office=True),
                deadline=deadline_text(catalog, self.config),
            )  # fmt: skip
            return self._done(visit, path, text, ok=True)
        if result.step is RsvpStep.SUBSTITUTE_IS_DELEGATE:  # the form again, as typed
            key = "dash.phone.substitute_is_delegate"
            refused = Flash(0, catalog.html(key, name=card.person.full_name), ok=False)
            return await self._delegate_page(visit, actor, card, refused, typed=values)
        if result.step is RsvpStep.SUBSTITUTE_IS_INVITED:  # she comes on her own invitation
            refused = Flash(
                0,
                catalog.html(
                    "dash.phone.substitute_is_invited", name=card.person.full_name,
                    substitute=result.substitute_name or "", code=result.invitee_code or "",
                ),
                ok=False,
            )  # fmt: skip
            return await self._delegate_page(visit, actor, card, refused, typed=values)
        if result.step is RsvpStep.WITHDRAWN:
            text = catalog.html("dash.withdraw.no_answer", name=card.person.full_name)
            return self._done(visit, path, text, ok=False)
        return self._done(visit, path, catalog.html("dash.phone.unchanged"), ok=True)

    # --- rendering -----------------------------------------------------------------------------

    def _render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        catalog, config = self.catalog, self.config
        meeting = config.meeting

        def t(key: str, /, **params: object) -> Markup:
            return Markup(catalog.html(key, **params))  # noqa: S704 (catalog HTML is escaped)

        def safe(html: str) -> Markup:
            return Markup(html)  # noqa: S704 (catalog HTML, its parameters escaped)

        def quota_line(use: QuotaUse) -> Markup:
            return Markup(replies.quota_line(catalog, use))  # noqa: S704 (catalog HTML, escaped)

        def form_fields(bound_to: str) -> Markup:
            nonce, signature = self.guard.issue(bound_to)
            return Markup(  # noqa: S704 (our own values: base64url, nothing to escape)
                f'<input type="hidden" name="nonce" value="{nonce}">'
                f'<input type="hidden" name="csrf" value="{signature}">'
            )

        def moment(instant: Any) -> str:
            return short_moment(catalog, meeting.local(instant)) if instant else ""

        def status_name(status: RsvpStatus | str) -> str:
            return catalog.plain(f"status.{RsvpStatus(status).value}")

        def answer_name(status: RsvpStatus, days: Sequence[date] | None) -> str:
            return answer_label(catalog, status, days)  # «Tham dự ngày 29/5»

        def audited_answer(after: Mapping[str, Any]) -> str:
            """An audited answer's name, with the days it named (an entry's «after»)."""
            days = read_days(after.get("days")) if isinstance(after.get("days"), str) else None
            return answer_label(catalog, RsvpStatus(after["status"]), days)

        def channel_name(channel: str) -> str:
            key = f"channel_name.{channel}"
            return catalog.plain(key) if catalog.has(key) else channel

        def action_name(action: str) -> str:
            return action_label(catalog, action)

        def who(entry: Any) -> str:
            return actor_label(catalog, entry.who, entry.actor)

        def phone(e164: str) -> str:  # as the exports and the reception desk write it
            return display_phone(e164)

        def size(value: int) -> str:  # «1,2 MB», as the personal pages write a file's size
            return file_size(catalog, value)

        def contact_mark(contact: Contact) -> Markup:  # beside a person no chat reaches
            return Markup(presenters.contact_mark(catalog, contact))  # noqa: S704 (catalog HTML)

        def is_meeting_day() -> bool:  # asked by the desk's pages only
            return meeting.on_meeting_day(self.services.ctx.clock.now())

        visit = context.get("visit")
        page = self.templates.get_template(template).render(
            t=t, safe=safe, form_fields=form_fields, moment=moment, status_name=status_name,
            answer_name=answer_name, audited_answer=audited_answer, channel_name=channel_name,
            action_name=action_name, who=who, phone=phone, size=size,
            is_meeting_day=is_meeting_day, chat_runs=self.services.ctx.chats.runs,
            # No chat runs here (a pages-only installation): none of their commands is offered.
            no_chat_runs=self.services.ctx.chats.names == frozenset(),
            contact_mark=contact_mark,
            sent_via=partial(sent_via, catalog),
            # The variable of an idle chat's token, as start-up names it (overview, her card).
            token_envs=self.services.ctx.chats.token_envs,
            not_running=partial(not_running, catalog),
            lang=catalog.locale,
            quota_line=quota_line,
            number=catalog.number,  # «1.234», as the chat writes the same figures
            root=self.root, site_css=self.site_css, css=self.static.url("office.css"),
            js=self.static.url("office.js"), meeting=meeting, office=config.office,
            groups=config.groups_in_order, statuses=list(RsvpStatus),
            group_labels={group.key: group.label for group in config.groups},
            bound=session_binding(visit) if isinstance(visit, StaffVisit) else "",
            lifetime=int(LINK_LIFETIME.total_seconds() // 60),
            local_base_url=self.local_base_url,
            **context,
        )  # fmt: skip
        response = Response(page, status_code=status, media_type="text/html; charset=utf-8")
        response.headers["content-security-policy"] = CSP
        return response


def _browser(agent: str) -> str:
    """A short name of the browser a session was opened in, for the list of sessions."""
    names = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))  # fmt: skip
    browser = next((name for mark, name in names if mark in agent), "")
    systems = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
               ("Windows", "Windows"), ("Mac OS", "macOS"), ("Linux", "Linux"))  # fmt: skip
    system = next((name for mark, name in systems if mark in agent), "")
    return " · ".join(part for part in (browser, system) if part) or agent[:40] or "?"


def _phone_answer(
    values: dict[str, str], own_unit: str, dates: Sequence[date]
) -> RsvpAnswer | tuple[str, dict[str, str]]:
    """The answer a phone form describes, or the catalog key (and its parameters) of what is
    wrong with it. The substitute's unit is pre-filled with the delegate's (``own_unit``), and
    left empty it is the delegate's, as on the personal page; her phone is optional. At a
    meeting of several days (``dates``) «tham dự» is for the days ticked, none ticked every
    day."""
    choice = values.get("choice", "")
    if choice == RsvpStatus.ATTENDING:
        ticked = [day for n, day in enumerate(dates, start=1) if values.get(f"day-{n}")]
        days = only_days(ticked, dates) if ticked and len(dates) > 1 else None
        return RsvpAnswer(RsvpStatus.ATTENDING, days=days)
    if choice == RsvpStatus.DECLINED:
        reason = one_line(values.get("reason", ""))
        if len(reason) > MAX_REASON:
            return "dash.phone.too_long", {}
        return RsvpAnswer(RsvpStatus.DECLINED, reason=reason or None)
    if choice == RsvpStatus.SUBSTITUTE:
        name = one_line(values.get("name", ""))
        position = one_line(values.get("position", ""))
        unit = one_line(values.get("unit", ""))
        typed_phone = one_line(values.get("phone", ""))
        if not name or not position:
            return "dash.phone.substitute_missing", {}
        if (
            len(name) > MAX_SUBSTITUTE_NAME
            or len(position) > MAX_SUBSTITUTE_POSITION
            or len(unit) > MAX_SUBSTITUTE_UNIT
        ):
            return "dash.phone.too_long", {}
        phone = normalize_phone(typed_phone) if typed_phone else None
        if typed_phone and phone is None:
            return "dash.phone.not_a_phone", {"typed": typed_phone[:40]}
        return RsvpAnswer(
            RsvpStatus.SUBSTITUTE, substitute_name=name, substitute_position=position,
            substitute_unit=unit or own_unit or None, substitute_phone=phone,
        )  # fmt: skip
    return "dash.phone.choose", {}


def office_routes(setup: WebSetup, site_css: str) -> list[BaseRoute]:
    """The dashboard's routes for the web application: ``/office`` and what is under it
    (before the personal pages' ``/{token}``, which would take ``/office`` for a token)."""
    app = build_office_app(
        setup.services, setup.catalog, setup.settings.base_url, setup.secret, site_css,
        paper=setup.settings.link, chat_links=setup.chat_links, chat_bots=setup.chat_bots,
    )  # fmt: skip
    root = app.state.office.root

    async def to_root(request: Request) -> Response:
        return RedirectResponse(f"{root}/", status_code=308)

    return [Route("/office", to_root, methods=["GET"]), Mount("/office", app=app)]


def _shown(route: Route) -> bool:
    """Whether ``route`` is a page one opens (GET), not only a form's address."""
    return route.methods is not None and "GET" in route.methods


async def _always(request: Request) -> bool:
    return True


def build_office_app(
    services: Services,
    catalog: Catalog,
    base_url: str,
    secret: bytes,
    site_css: str,
    *,
    paper: Callable[[str], str] | None = None,
    chat_links: Mapping[str, Callable[[str], str]] | None = None,
    chat_bots: Mapping[str, str] | None = None,
) -> Starlette:
    """The dashboard as an application to mount at ``/office``; ``paper`` makes the personal
    link printed on invitations (the personal page's), ``chat_links`` each chat channel's,
    ``chat_bots`` the chat channels running, with their bots' names once known."""
    office = Office(services, catalog, base_url, secret, site_css)
    page = paper or office.paper
    office.paper = page
    if chat_bots is not None:
        office.chat_bots = chat_bots
    staff = office.staff
    routes: list[BaseRoute] = [
        Route("/", staff(office.overview), methods=["GET"]),
        Route("/live", staff(office.live), methods=["GET"]),
        Route("/signin", office.signin_help, methods=["GET"]),
        Route("/signin/{secret}", office.signin_link, methods=["GET"]),
        Route("/signin/{secret}", office.signin_post, methods=["POST"]),
        Route("/signout", staff(office.signout, signs_out=_always), methods=["POST"]),
        Route("/sessions", staff(office.sessions), methods=["GET"]),
        Route(
            "/sessions/end",
            staff(office.end_session, signs_out=office.ends_everywhere, everywhere=True),
            methods=["POST"],
        ),
        Route("/delegates", staff(office.delegates), methods=["GET"]),
        Route("/delegates/{code}", staff(office.delegate), methods=["GET"]),
        Route("/delegates/{code}/phone", staff(office.phone_answer), methods=["POST"]),
        Route("/static/{name}", office.static.serve, methods=["GET"]),
        *Notices(office).routes(),
        *Tasks(office).routes(),
        *Imports(office).routes(),
        *Downloads(office, page, chat_links if chat_links is not None else {}).routes(),
        *AuditLog(office).routes(),
        *Accounts(office, page, chat_links if chat_links is not None else {}).routes(),
        *Withdrawals(office).routes(),
        *Invites(office).routes(),
        *Drafts(office).routes(),
        *Documents(office).routes(),
        *StaffRoles(office).routes(),
    ]
    desk = DeskPages(office, secret)  # the meeting day: handlers.web.office.checkin
    routes += desk.routes()

    async def no_page(request: Request, exc: Exception) -> Response:
        # An address under /office that is no page: said in the office's words, not
        # Starlette's English.
        return office._render("office/message.html", status=404, key="no_page")

    pages = [route.path_regex for route in routes if isinstance(route, Route) and _shown(route)]

    async def not_a_page(request: Request, exc: Exception) -> Response:
        # A form's address opened as a page (a reload after sending, a bookmark, the address
        # bar): the nearest page above it, the one the form was on.
        path = request.url.path
        if request.method in ("GET", "HEAD") and path.startswith(f"{office.root}/"):
            within = path.removeprefix(office.root)
            while "/" in within.rstrip("/"):
                within = within.rstrip("/").rpartition("/")[0] or "/"
                if any(page.match(within) for page in pages):
                    return RedirectResponse(f"{office.root}{within}", status_code=303)
        return await no_page(request, exc)

    app = Starlette(routes=routes, exception_handlers={404: no_page, 405: not_a_page})
    app.state.office = office
    app.state.desk = desk
    return app
