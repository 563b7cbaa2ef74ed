"""The web application: routes, the personal page and its forms, static files, webhooks.

Handlers are thin: they read a form into plain values, call the use cases the chat calls
(``services.rsvp``, ``services.tasks``, ``services.drafts``), and render the result with the
catalog texts the chat uses. The page itself renders from the services' views.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.chat import replies
from bot.chat.drafts import result_params
from bot.config import Config, WebSettings
from bot.documents.qr import qr_page_svg, qr_svg
from bot.domain.channels import Capabilities, ChatAccount, LinkedChat
from bot.domain.drafts import MAX_COMMENT, MAX_TEXT_DRAFT
from bot.domain.ics import ics_filename
from bot.domain.ids import parse_id
from bot.domain.phones import display_phone, normalize_phone
from bot.domain.rsvp import (
    MAX_REASON,
    MAX_SUBSTITUTE_NAME,
    MAX_SUBSTITUTE_POSITION,
    MAX_SUBSTITUTE_UNIT,
    DayChoice,
    RsvpChoice,
    RsvpStatus,
)
from bot.domain.tasks import MAX_TASK_FILES, MAX_TASK_NOTE, TaskAction
from bot.domain.tokens import format_link_code, looks_like_token, token_before_punctuation
from bot.health import Health
from bot.metrics import Metrics
from bot.services import Services
from bot.services.documents import DOCUMENT_FALLBACK
from bot.services.drafts.values import DraftResult, DraftStep
from bot.services.invitations import LinkOutcome, OtherMeeting
from bot.services.meetings import meeting_calendar
from bot.services.pages import DeskPass, PageView, desk_pass
from bot.services.rsvp import RsvpResult, RsvpStep
from bot.services.tasks import TaskResult, TaskStep, holds_a_link
from bot.services.views import RsvpView
from bot.texts import LOCALES, Catalog, Html
from bot.texts.formatting import clock, file_size, long_date, meeting_time, short_moment
from bot.texts.presenters import (
    agenda_day_label,
    checked_in_text,
    deadline_text,
    linked_chat_lines,
    notice_body_linked,
    same_unit_words,
    withdrawn_notice,
)
from handlers.web.attachment import attachment, attachment_path
from handlers.web.flash import Flash, Flashes, renewed_key
from handlers.web.office.app import COOKIE as OFFICE_COOKIE
from handlers.web.office.app import office_routes
from handlers.web.office.checkin import DESK_COOKIE, DeskPages, desk_pages_of
from handlers.web.probes import Probes
from handlers.web.security import AccessLog, Guard, SecureHeaders, same_site
from handlers.web.static import Static
from handlers.web.uploads import (
    MAX_FIELD,
    TEXT_BESIDE_FILE,
    TooLarge,
    limited,
    read_form,
    text_field,
    upload,
)
from storage.files import DELIVERABLE_SUFFIXES, MAX_BYTES, read_stored

log = logging.getLogger(__name__)

CHANNEL = "web"
# A page is a channel with forms: choices are buttons, files go both ways (downloads and
# uploads up to 20 MB), no threads, no pins, no groups.
CAPABILITIES = Capabilities(
    buttons=True,
    files_out=True,
    files_in=True,
    reply_threads=False,
    location_pins=False,
    html=True,
    max_text=60_000,
)
HERE = Path(__file__).parent
ICS_MIME = "text/calendar"
MAX_HOOK_BODY = 1024 * 1024  # a webhook's request, at most
# The page's boxes a person types in (the substitute's unit comes filled with her own): a form
# refused with one of them filled says that what she typed is still there.
TYPED_FIELDS = ("reason", "name", "position", "phone", "note", "text")
WEBHOOK_ROUTE = "(webhook)"  # the metrics' route label of every webhook

# The numbers of the notices a browser was shown on a personal page, as compact ranges
# ("1-7.9"): any other is marked «Mới» (Site._remember_notices). By number, not by when they
# went out: two notices queued in the same instant, or a clock set back, lose none.
SEEN_NOTICES_COOKIE = "tb_seen"
SEEN_NOTICES_KEPT = timedelta(days=7)  # past the meeting's end: read back in the days after
SEEN_NOTICES_LONGEST = 400  # characters: well past any meeting's notices as ranges
_SEEN_RANGE = re.compile(r"(\d{1,9})(?:-(\d{1,9}))?")


def agenda_rows(
    catalog: Catalog, config: Config
) -> list[tuple[str | None, str, str, str, str | None]]:
    """The programme's items for the pages: the day's heading on the first item of each day
    when it is written day by day (:meth:`Config.agenda_by_day`), then start, end, title and
    who presents."""
    by_day = config.agenda_by_day()
    rows: list[tuple[str | None, str, str, str, str | None]] = []
    for day, items in config.agenda_days():
        heading = agenda_day_label(catalog, config, day) if by_day else None
        for number, item in enumerate(items):
            rows.append(
                (
                    heading if number == 0 else None,
                    clock(item.start),
                    clock(item.end),
                    item.title,
                    item.presenter,
                )
            )
    return rows


def _seen_notices(request: Request) -> frozenset[int] | None:
    """The numbers in the cookie, or None for none or one that is not ours."""
    value = request.cookies.get(SEEN_NOTICES_COOKIE, "")
    if not value or len(value) > SEEN_NOTICES_LONGEST:
        return None
    seen: set[int] = set()
    for part in value.split("."):
        match = _SEEN_RANGE.fullmatch(part)
        if match is None:
            return None
        first = int(match[1])
        last = int(match[2]) if match[2] else first
        if last < first or last - first > 10_000:
            return None
        seen.update(range(first, last + 1))
    return frozenset(seen)


def _seen_value(numbers: Iterable[int]) -> str:
    """``numbers`` as the cookie keeps them: ascending runs, "1-7.9"."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ".".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)


# A chat platform's webhook: the request's headers and body in, the HTTP status out.
Hook = Callable[[Mapping[str, str], bytes], Awaitable[int]]
LinkMaker = Callable[[str], str]


@dataclass
class WebSetup:
    """What the web application is built from. ``chat_links`` (a chat channel's name → the
    maker of a person's link to it) and ``hooks`` (a webhook's path → its handler) are filled
    by the chat channels as they start; ``hook_paths`` are the webhook paths to answer on."""

    services: Services
    catalog: Catalog
    settings: WebSettings
    secret: bytes
    chat_links: MutableMapping[str, LinkMaker] = field(default_factory=dict)
    # The chat channels the process runs, each with its bot's name once known (Telegram's
    # username): what the office's invitations say about the personal code.
    chat_bots: MutableMapping[str, str] = field(default_factory=dict)
    hooks: MutableMapping[str, Hook] = field(default_factory=dict)
    hook_paths: tuple[str, ...] = ()
    # The process's instruments and readiness (bot.app.App's); a fresh set when not given.
    metrics: Metrics | None = None
    health: Health | None = None


def build_web_app(setup: WebSetup) -> Starlette:
    """The Starlette application of the personal pages and webhooks."""
    site = Site(setup)
    probes = Probes(setup, not_found=site.not_found)
    routes: list[BaseRoute] = [
        Route("/", site.home, methods=["GET"]),
        Route("/robots.txt", site.robots, methods=["GET"]),
        # Before a token's routes: these paths are never read as a personal page.
        Route("/healthz", probes.alive, methods=["GET"]),
        Route("/readyz", probes.ready, methods=["GET"]),
        Route("/metrics", probes.metrics, methods=["GET"]),
        Route("/static/{name}", site.static.serve, methods=["GET"]),
    ]
    # Webhooks first: their paths are the office's choice and must win over a token's.
    for path in setup.hook_paths:
        routes.append(Route(f"/{path.strip('/')}", site.hook_endpoint(path), methods=["POST"]))
    office = office_routes(setup, site.static.url("site.css"))  # the office's dashboard
    routes += office
    site.desk = desk_pages_of(office)  # a desk's phone opening a slip's QR sees the desk view
    routes += [
        Route("/{token}", site.page, methods=["GET"]),
        Route("/{token}/lich.ics", site.calendar, methods=["GET"]),
        Route("/{token}/in", site.programme, methods=["GET"]),
        Route("/{token}/rsvp", site.rsvp, methods=["POST"]),
        Route("/{token}/task/{task_id}", site.task, methods=["POST"]),
        Route("/{token}/task/{task_id}/file", site.task_file, methods=["POST"]),
        Route("/{token}/draft/{assignment_id}/file", site.draft_file, methods=["POST"]),
        Route("/{token}/draft/{assignment_id}/text", site.draft_text, methods=["POST"]),
        Route("/{token}/draft/{assignment_id}/reply", site.draft_reply, methods=["POST"]),
        Route("/{token}/v/{version_id}", site.version, methods=["GET"]),
        Route("/{token}/tai-lieu/{document_id}", site.document, methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return await site.not_found(request)

    async def not_a_page(request: Request, exc: Exception) -> Response:
        # A form's address opened as a page (a reload after sending, a link copied from the
        # address bar): back to the page it belongs to, rather than «Method Not Allowed».
        token = request.url.path.strip("/").partition("/")[0]
        if request.method == "GET" and looks_like_token(token):
            return RedirectResponse(f"/{token}", status_code=303)
        return await site.not_found(request)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_a_page})
    app.add_middleware(SecureHeaders, https=urlsplit(setup.settings.base_url).scheme == "https")
    # A webhook's path is made from its secret: its requests are counted under one name.
    hook_routes = {f"/{path.strip('/')}" for path in setup.hook_paths}
    observe = probes.instruments.observe_request

    def observe_request(route: str, seconds: float) -> None:
        observe(WEBHOOK_ROUTE if route in hook_routes else route, seconds)

    app.add_middleware(AccessLog, observe=observe_request)
    app.state.site = site
    app.state.probes = probes
    return app


def _path_id(request: Request, name: str) -> int:
    """The row a path names (0, which names none, for what no column could hold)."""
    return parse_id(str(request.path_params[name])) or 0


@dataclass(frozen=True)
class Visit:
    """A request to a personal page that opened: whose page, what it shows, in which
    language."""

    token: str
    view: PageView
    catalog: Catalog

    @property
    def account(self) -> ChatAccount:
        """The account the page acts as."""
        return self.view.account

    @property
    def person_id(self) -> int:
        """Whose page it is."""
        return self.view.delegate.id

    @property
    def lang(self) -> str:
        """The page's language."""
        return self.catalog.locale


# Who fetches a link to show a card of it in a chat, or to index it: not a person opening it.
_PREVIEWERS = re.compile(
    r"facebookexternalhit|facebot|telegrambot|twitterbot|discordbot|slackbot|linkedinbot"
    r"|whatsapp|skypeuripreview|googlebot|bingbot|applebot|yandexbot|duckduckbot|baiduspider"
    r"|pinterestbot|redditbot|embedly|petalbot",
    re.IGNORECASE,
)


def link_preview(request: Request) -> bool:
    """Whether ``request`` is a link's preview rather than a person's visit: a HEAD request
    (what a preview asks first), or a known previewer's or crawler's user agent."""
    return request.method == "HEAD" or bool(
        _PREVIEWERS.search(request.headers.get("user-agent", ""))
    )


def _substitute_form(rsvp: RsvpView, own_unit: str) -> dict[str, str]:
    """What the substitute form shows before anything is typed: the substitute she sent, so a
    mistyped phone is corrected without typing the rest again; else nothing. Her own unit is
    the unit box's hint, not its content (left empty, the unit is hers)."""
    if rsvp.status is not RsvpStatus.SUBSTITUTE:
        return {}
    unit = rsvp.substitute_unit or ""
    return {
        "name": rsvp.substitute_name or "",
        "position": rsvp.substitute_position or "",
        "unit": "" if unit == own_unit else unit,
        "phone": display_phone(rsvp.substitute_phone) if rsvp.substitute_phone else "",
    }


def _rsvp_typed(values: Mapping[str, str]) -> dict[str, str]:
    """What an answer's form had typed, by its boxes' ids: the reason of a decline, the four
    boxes of a substitute (the page fills them again only when ``name`` is among them)."""
    choice = values.get("choice", "")
    if choice == "decline":
        return {"decline-reason": values.get("reason", "")}
    if choice == "substitute":
        return {
            "name": values.get("name", ""),
            "position": values.get("position", ""),
            "unit": values.get("unit", ""),
            "phone": values.get("phone", "")[:40],
        }
    return {}


def _task_typed(task_id: int, values: Mapping[str, str]) -> dict[str, str]:
    """What a task's report form had: its kind chosen and its note whole."""
    return {
        f"task-{task_id}-action": values.get("action", ""),
        f"task-{task_id}-note": values.get("note", ""),
    }


def _box(box: str, values: Mapping[str, str]) -> dict[str, str]:
    """A form of one text box (``text``), by the box's id."""
    return {box: values.get("text", "")}


@cache
def _templates() -> Environment:
    """The pages' templates, built once a process and shared by every application built in it
    (the test suite builds hundreds: compiling them again took a fifth of a web test's time).
    They ship with the code, so no stat() of their files per page to see whether they changed
    (Jinja's auto_reload)."""
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


class Site:
    """The routes' handlers, sharing the services, the catalog and the templates."""

    def __init__(self, setup: WebSetup) -> None:
        self.setup = setup
        self.services = setup.services
        self.config = setup.services.config
        self.catalog = setup.catalog
        self.guard = Guard(setup.secret)
        self.flashes = Flashes()
        self.static = Static(HERE / "static")
        self.templates = _templates()
        self.desk: DeskPages | None = None
        self._fixed_by_locale: dict[str, dict[str, Any]] = {}
        self._plain_texts: dict[str, dict[str, Markup]] = {}
        base = urlsplit(setup.settings.base_url)
        self.origin = f"{base.scheme}://{base.netloc}"

    # --- small pages ---------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        """The bare address: no list of anything, only how to reach one's own page."""
        catalog = self._catalog(request.query_params.get("lang", ""))
        return self._render("home.html", catalog, status=200)

    async def not_found(self, request: Request) -> Response:
        """What an address that is nobody's page answers: the page of a wrong link."""
        return self._render("unknown.html", self._catalog(""), status=404)

    async def robots(self, request: Request) -> Response:
        """Search engines are asked to stay away from the whole site."""
        return PlainTextResponse("User-agent: *\nDisallow: /\n")

    def hook_endpoint(self, path: str) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of one webhook path: 503 until its channel is listening."""

        async def endpoint(request: Request) -> Response:
            hook = self.setup.hooks.get(path)
            if hook is None:  # the channel has not started yet, or has stopped
                return Response(status_code=503)
            try:  # an update is a few kilobytes: a larger body is no platform's
                body = await limited(request, MAX_HOOK_BODY).body()
            except TooLarge:
                return Response(status_code=413)
            status = await hook(request.headers, body)
            return Response(status_code=int(status))

        return endpoint

    # --- opening a page ------------------------------------------------------------------------

    def _catalog(self, lang: str) -> Catalog:
        wanted = lang if lang in LOCALES else self.config.meeting.locale
        return self.catalog.with_locale(wanted)

    def _client(self, request: Request) -> str:
        address = request.client.host if request.client is not None else "unknown"
        return self.guard.client_key(address)

    async def _open(
        self, request: Request, lang: str, *, details: bool = False
    ) -> Visit | Response:
        """The page of the token in the path (with its tasks and drafts if ``details``), or the
        answer for a wrong or slowed-down one."""
        token = str(request.path_params["token"])
        catalog = self._catalog(lang)
        if not looks_like_token(token):
            trimmed = token_before_punctuation(token)
            if trimmed is not None and request.method == "GET":
                # The link with the sentence's «.» or «)» after it: the page it meant.
                path = request.url.path.replace(token, trimmed, 1)
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(f"{path}{query}", status_code=303)
            # Not a link's shape (a typo, a scanner): not a guess at one, so not counted.
            return self._render("unknown.html", catalog, status=404)
        client = self._client(request)
        pages = self.services.pages
        # A page opened before is only read; the first view or a wrong token goes through
        # open_page, which writes (the page's account, the wrong link).
        view = await pages.view(token, channel=CHANNEL, details=details)
        if view is None:
            opened = await self.services.invitations.open_page(
                token, channel=CHANNEL, client=client
            )
            if opened.outcome is LinkOutcome.SLOWED_DOWN:
                wait = opened.retry_after.total_seconds() if opened.retry_after else 3600
                minutes = max(1, int(wait // 60) + 1)
                response = self._render("slowed.html", catalog, status=429, minutes=minutes)
                response.headers["retry-after"] = str(int(wait) + 1)
                return response
            if opened.other is not None:  # the last conference's link: whose it is
                return self._other_meeting(catalog, opened.other)
            if opened.account is not None:
                view = await pages.view(token, channel=CHANNEL, details=details)
        if view is None:
            return self._render("unknown.html", catalog, status=404)
        return Visit(token, view, catalog)

    def _other_meeting(self, catalog: Catalog, other: OtherMeeting) -> Response:
        """The page of another meeting's link: whose invitation it is (title and date), over or
        not this site's, and, her phone on this meeting's list, that her invitation here comes
        apart; nothing of that meeting's person (404: no page of this meeting)."""
        whose = catalog.html(
            "web.unknown.other_ended" if other.ended else "web.unknown.other_elsewhere",
            meeting=other.title,
            date=long_date(catalog, self.config.meeting.local(other.starts_at)),
            title=self.config.meeting.title,
        )
        then = catalog.html(
            "web.unknown.other_invited" if other.invited_here else "web.unknown.other_help",
            contact=self.config.office.contact,
        )
        return self._render(
            "unknown.html",
            catalog,
            status=404,
            other=Markup(f"{whose} {then}"),  # noqa: S704 (catalog HTML, escaped)
        )

    # --- the personal page ---------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """The invitation, the answer, the calendar, the tasks and the drafts of one person;
        for a reception desk's phone (its desk cookie), the desk's view of that person."""
        if self.desk is not None and (at_desk := await self.desk.person_page(request)):
            return at_desk
        query = request.query_params
        if link_preview(request):
            # Not the person opening their invitation: nothing read, nothing recorded (the
            # office's «never opened their link» stays true), no name shown in a chat's card.
            return await self.home(request)
        visit = await self._open(request, query.get("lang", ""), details=True)
        if isinstance(visit, Response):
            return visit
        flash = self.flashes.take(query.get("f", ""), visit.person_id)
        bot = await self.services.quotas.bot_of(visit.person_id)
        seen = _seen_notices(request)
        # The office's documents (none for a withdrawn invitation), read with the page.
        response = self._render(
            "page.html", visit.catalog, flash=flash, documents=visit.view.documents,
            **self._page_context(visit, bot, seen),
        )  # fmt: skip
        self._remember_notices(request, response, visit, seen)
        return response

    def _remember_notices(
        self, request: Request, response: Response, visit: Visit, seen: frozenset[int] | None
    ) -> None:
        """Keep in the browser the numbers of the notices the page just showed: the next view
        marks only the others «Mới». A cookie, not a row: the page stays a read, and a browser
        that has not seen a notice is what «new» means. Its path is the page's own, so each
        person's page opened in one browser keeps its own. Not in the browser of the office or
        a reception desk (its cookie comes with the request): staff open many invitees' pages,
        and would collect a cookie for each. Kept until a few days after the meeting."""
        shown = {notice.number for notice in visit.view.notices}
        if not shown or (seen is not None and shown <= seen):
            return
        if OFFICE_COOKIE in request.cookies or DESK_COOKIE in request.cookies:
            return
        now = self.services.ctx.clock.now()
        kept = self.config.meeting.ends_at + SEEN_NOTICES_KEPT - now
        settings = self.setup.settings
        response.set_cookie(
            SEEN_NOTICES_COOKIE, _seen_value(shown | (seen or frozenset())),
            max_age=max(int(kept.total_seconds()), 24 * 3600),
            path=f"{urlsplit(settings.base_url).path.rstrip('/')}/{visit.token}",
            secure=settings.secure, httponly=True, samesite="lax",
        )  # fmt: skip

    def _page_context(
        self, visit: Visit, bot: int = 0, seen: frozenset[int] | None = None
    ) -> dict[str, Any]:
        catalog, view = visit.catalog, visit.view
        # Where she is linked already (on a bot that runs here) the page says so, not «send
        # the code»: asked again, she would think the linking failed.
        linked = self._linked_chats(catalog, view.chats)
        links = {
            name: make(visit.token)
            for name, make in self.setup.chat_links.items()
            if name not in linked
        }
        # Zalo opens no personal link: the page says how to find the bot and which code to
        # send; with several bots, the one this person is given (bot.services.quotas). Only a
        # bot that runs here (its token set), as her invitation and her slip name it.
        bot_name, bot_link = self.config.zalo.finding(bot)
        runs = self.services.ctx.chats.runs(self.config.zalo.channel(bot))
        on_zalo = any(name in linked for name in self.config.zalo.channels())
        how_to_zalo = None
        if bot_link and view.link_code and runs and not on_zalo:
            how_to_zalo = {
                "bot": bot_name,
                "link": bot_link,
                "code": format_link_code(view.link_code),
                "qr": Markup(qr_svg(bot_link)),  # noqa: S704 (segno's own markup of our config's link)
            }
        is_open = self.services.rsvp.is_open()
        # Never answered or declined, the answers closed, the meeting not over: told she may
        # still come and what to show at the desk, in the chat's words
        # (bot.chat.replies.still_welcome).
        now = self.services.ctx.clock.now()
        welcome = None
        may_come = replies.may_still_come(self.config, view.rsvp, is_open=is_open, now=now)
        if may_come and view.checkin is None:  # in the hall already: her pass says so
            code = format_link_code(view.link_code) if view.link_code else None
            welcome = Markup(replies.still_welcome(catalog, self.config, code, view.rsvp.status))  # noqa: S704 (catalog HTML, escaped)
        return {
            "desk_pass": self._desk_pass(visit),
            "delegate": view.delegate,
            "rsvp": view.rsvp,
            "answer": replies.answer(catalog, view.rsvp, own_unit=view.delegate.organization),
            "substitute_form": _substitute_form(view.rsvp, view.delegate.organization),
            # At a meeting of several days: the boxes of «Chỉ dự một số ngày», one a day
            # (number, label, ticked: a day her answer names).
            "meeting_days": [
                (
                    number,
                    agenda_day_label(catalog, self.config, number),
                    bool(view.rsvp.days) and day in (view.rsvp.days or ()),
                )
                for number, day in enumerate(self.config.meeting.dates, start=1)
            ]
            if self.config.meeting.several_days
            else [],
            "is_open": is_open,
            "still_welcome": welcome,
            "deadline": deadline_text(catalog, self.config),
            "tasks": view.tasks,
            "drafts": view.drafts,
            # As the chat shows them, addresses made links as chats do
            # (bot.texts.presenters.notice_body_linked); «Mới» for those this browser was
            # not shown yet (none shown yet: all are new to it).
            "notices": [
                {
                    "number": notice.number,
                    "sent_at": notice.sent_at,
                    "html": notice_body_linked(notice.body),
                    # The line the chat's copy opens with, for the substitute it is for.
                    "for_substitute": catalog.html(
                        "broadcast.for_substitute", name=notice.for_substitute
                    )
                    if notice.for_substitute
                    else None,
                    "new": seen is None or notice.number not in seen,
                }
                for notice in view.notices
            ],
            "chat_links": links,
            "linked_chats": list(linked.values()),
            "zalo": how_to_zalo,
            "page_token": visit.token,
            "document_path": WebSettings.document_path,
            # Written once for chat, page and message alike (bot.texts.presenters).
            "withdrawn_notice": withdrawn_notice(catalog, self.config),
        }

    def _linked_chats(self, catalog: Catalog, chats: Sequence[LinkedChat]) -> dict[str, Markup]:
        """What the page says of each chat she linked whose bot runs here, by channel
        (:func:`bot.texts.presenters.linked_chat_lines`)."""
        said = linked_chat_lines(catalog, self.config, chats, self.services.ctx.chats.runs)
        return {channel: Markup(text) for channel, text in said.items()}  # noqa: S704 (catalog HTML)

    def _desk_pass(self, visit: Visit) -> dict[str, Any] | None:
        """What the page shows the reception desk, if anything (``desk_pass``): the QR of the
        personal link the slip's QR holds (the web page's own, the link that goes on paper
        when there is a web page) and the personal code printed under it."""
        view = visit.view
        shown = desk_pass(
            self.config.meeting, view, self.services.ctx.clock.now(),
            answers_open=self.services.rsvp.is_open(),
        )  # fmt: skip
        if shown is None:
            return None
        code = format_link_code(view.link_code) if view.link_code else ""
        if view.checkin is not None:
            # In the hall: what the desk recorded, in place of «show this» (or «pass it on»);
            # no QR to scan a second time. The code stays, small, for a desk that must find
            # her card (to undo a check-in made on the wrong card).
            return {
                "prominent": True,
                "checked_in": checked_in_text(
                    visit.catalog, self.config, view.checkin, self.services.ctx.clock.now()
                ),
                "code": code,
            }
        link = self.setup.settings.link(visit.token)
        substitute = (
            view.rsvp.substitute_name if view.rsvp.status is RsvpStatus.SUBSTITUTE else None
        )
        return {
            "prominent": shown is DeskPass.PROMINENT,
            "qr": Markup(qr_page_svg(link)),  # noqa: S704 (our own markup of a module matrix)
            "code": code,
            "substitute": substitute,
        }

    async def calendar(self, request: Request) -> Response:
        """The meeting as an .ics file: the same revisioned file as /lich in chat."""
        visit = await self._open(request, request.query_params.get("lang", ""))
        if isinstance(visit, Response):
            return visit
        content = meeting_calendar(self.config, self.catalog, self.services.ctx.calendar)
        return attachment(content, ics_filename(self.config.meeting.code), ICS_MIME)

    async def programme(self, request: Request) -> Response:
        """The programme as a page to print."""
        visit = await self._open(request, request.query_params.get("lang", ""))
        if isinstance(visit, Response):
            return visit
        return self._render("programme.html", visit.catalog)

    async def version(self, request: Request) -> Response:
        """One of the person's own draft versions, as a download (never shown inline)."""
        visit = await self._open(request, request.query_params.get("lang", ""))
        if isinstance(visit, Response):
            return visit
        found = await self.services.drafts.version_file(_path_id(request, "version_id"))
        if found is None or found.draft.code != visit.view.delegate.code:
            return self._render("unknown.html", visit.catalog, status=404)
        content = await asyncio.to_thread(read_stored, found.path)
        if content is None:
            log.warning("draft version %s: its file is not in the file store", found.version.id)
            return self._render("file_lost.html", visit.catalog, status=404)
        return attachment(content, found.version.display_name, "application/octet-stream")

    async def document(self, request: Request) -> Response:
        """A document the office published, as a download under the person's own link,
        streamed from the file store; one the office took off the pages (or never published)
        is said to be no longer there, with the way back to her page; a withdrawn invitation's
        link says it was withdrawn, as her page does; a wrong or revoked link gets the wrong
        link's answer, as any other. A preview (a HEAD) reads
        and records nothing, as the page does."""
        if link_preview(request):
            return await self.home(request)
        visit = await self._open(request, request.query_params.get("lang", ""))
        if isinstance(visit, Response):
            return visit
        if visit.view.delegate.withdrawn:
            # Her link is neither wrong nor replaced: what her page says, with the way to it.
            return self._render(
                "document_gone.html", visit.catalog, status=404, page_token=visit.token,
                withdrawn=withdrawn_notice(visit.catalog, self.config),
            )  # fmt: skip
        # The documents are for the invitees: a task contact's page lists none (one she kept
        # from before is no longer on her page).
        found = None
        if not visit.view.delegate.is_contact:
            found = await self.services.documents.file(_path_id(request, "document_id"))
        if found is None:
            return self._render(
                "document_gone.html", visit.catalog, status=404, page_token=visit.token
            )
        line = found.line
        response = await attachment_path(
            found.path, line.file_name, line.content_type, fallback=DOCUMENT_FALLBACK
        )
        if response is None:
            log.warning("document %s: its file is not in the file store", line.id)
            return self._render("file_lost.html", visit.catalog, status=404)
        return response

    # --- forms ---------------------------------------------------------------------------------

    async def _posted(
        self,
        request: Request,
        *,
        files: int = 0,
        too_large: str = "web.form_too_large",
        keep: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None,
    ) -> tuple[Visit, dict[str, str], Any] | Response:
        """The page and the form posted to it, once the form is known to be this server's for
        this page; else the answer to give (a form from elsewhere, one too large: the catalog's
        ``too_large``, saying the size that came). A form this server no longer recognises
        (its secret changed since the page was shown: a restart with a new one) comes back
        with what ``keep`` makes of its values (a box's id → its text) in its boxes."""
        if not self._same_site(request):
            return PlainTextResponse("", status_code=403)
        # The page first: a wrong or ended link reads no upload.
        visit = await self._open(request, request.query_params.get("lang", ""))
        if isinstance(visit, Response):
            return visit
        try:
            form = await read_form(request, files=files)
        except TooLarge as exc:
            catalog = visit.catalog
            size = file_size(catalog, exc.size)
            text = catalog.html(too_large, limit_mb=MAX_BYTES // (1024 * 1024), size=size)
            return self._done(visit, text, ok=False)
        values = {name: text_field(form, name) for name in form}
        if values.get("lang") in LOCALES:
            visit = replace(visit, catalog=self.catalog.with_locale(values["lang"]))
        if not self.guard.valid(visit.token, values.get("nonce", ""), values.get("csrf", "")):
            kept = dict(keep(values)) if keep is not None else {}
            typed = any(values.get(name, "").strip() for name in TYPED_FIELDS)
            key = renewed_key(typed=typed, files=bool(files))
            return self._done(visit, visit.catalog.html(key), ok=False, form=kept)
        return visit, values, form

    def _same_site(self, request: Request) -> bool:
        """Whether a form was posted from this server's own pages (:func:`same_site`)."""
        return same_site(request, self.origin)

    def _done(
        self, visit: Visit, html: str, *, ok: bool, form: Mapping[str, str] | None = None
    ) -> Response:
        """Post, redirect, get: the page again, saying ``html`` once (and filling the refused
        form again with ``form``, what it had typed)."""
        kept = tuple((form or {}).items())
        key = self.flashes.put(Flash(visit.person_id, html, ok, kept))
        # To the message itself: on a phone, a jump to the form's section left it out of sight.
        target = f"/{visit.token}?f={key}&lang={visit.lang}#flash"
        return RedirectResponse(target, status_code=303)

    def _too_long(
        self,
        visit: Visit,
        box: str,
        typed: str,
        chars: int,
        limit: int,
        *,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """A text over its box's limit, refused saying by how much, and put back whole in the
        box (named by its id) to shorten, with the rest of its ``form`` as chosen: the page's
        boxes cut nothing as they are pasted into (no maxlength), so nothing typed is lost
        unsaid."""
        catalog = visit.catalog
        text = catalog.html(
            "web.too_long",
            chars=catalog.number(chars),
            limit=catalog.number(limit),
        )
        return self._done(visit, text, ok=False, form={**(form or {}), box: typed})

    async def rsvp(self, request: Request) -> Response:
        """Attend, decline (with an optional reason), or send a substitute: the chat's steps,
        taken one after the other."""
        posted = await self._posted(request, keep=_rsvp_typed)
        if isinstance(posted, Response):
            return posted
        visit, values, _ = posted
        catalog, rsvp, account = visit.catalog, self.services.rsvp, visit.account
        choice, nonce = values.get("choice", ""), values.get("nonce", "")
        # What the form says is checked first: a form refused (a reason too long, a name
        # missing) may be corrected and sent again; one that was taken may not.
        reason = " ".join(values.get("reason", "").split())
        name = " ".join(values.get("name", "").split())
        position = " ".join(values.get("position", "").split())
        # Her own unit is the box's hint (most substitutes come from it); left empty, it is hers.
        unit = " ".join(values.get("unit", "").split())
        typed_phone = " ".join(values.get("phone", "").split())
        phone = normalize_phone(typed_phone) if typed_phone else None
        # Said back (and put back in the form) cut to the field's length: a paste may be long.
        typed = {"name": name, "position": position, "unit": unit, "phone": typed_phone[:40]}
        # At a meeting of several days: the days ticked (1 for the first), for «days».
        ticked = [n for n in range(1, self.config.meeting.days + 1) if values.get(f"day-{n}")]
        if choice not in ("attend", "decline", "substitute", "days"):
            return self._done(visit, catalog.html("web.rsvp.choose"), ok=False)
        if choice == "days" and not ticked:
            return self._done(visit, catalog.html("web.rsvp.days_missing"), ok=False)
        if choice == "decline" and len(reason) > MAX_REASON:
            typed_reason = values.get("reason", "")
            return self._too_long(visit, "decline-reason", typed_reason, len(reason), MAX_REASON)
        if choice == "substitute":
            if not name or not position:
                missing = catalog.html("web.rsvp.substitute_missing")
                return self._done(visit, missing, ok=False, form=typed)
            for value, limit, label in (
                (name, MAX_SUBSTITUTE_NAME, "web.rsvp.name"),
                (position, MAX_SUBSTITUTE_POSITION, "web.rsvp.position"),
                (unit, MAX_SUBSTITUTE_UNIT, "web.rsvp.unit"),
            ):
                if len(value) > limit:  # its box named, with what she typed and the limit
                    too_long = catalog.html(
                        "web.rsvp.too_long",
                        field=catalog.plain(label),
                        chars=catalog.number(len(value)),
                        limit=catalog.number(limit),
                    )
                    return self._done(visit, too_long, ok=False, form=typed)
            if typed_phone and phone is None:
                not_a_phone = catalog.html("web.rsvp.not_a_phone", typed=typed_phone[:40])
                return self._done(visit, not_a_phone, ok=False, form=typed)
        if not await self.services.invitations.first_post(account, nonce):
            return self._done(visit, catalog.html("web.form_sent_before"), ok=True)
        result: RsvpResult
        if choice == "attend":
            result = await rsvp.choose(account, RsvpChoice.ATTEND)
        elif choice == "days":  # every day ticked is plain «tham dự» (:func:`only_days`)
            result = await rsvp.choose(account, DayChoice(ticked[0], also=tuple(ticked[1:])))
            if result.step is RsvpStep.NOTHING_PENDING:  # a day the meeting no longer has
                return self._done(visit, catalog.html("web.rsvp.choose"), ok=False)
        elif choice == "decline":
            if not reason:
                result = await rsvp.choose(account, RsvpChoice.DECLINE_WITHOUT_REASON)
            else:  # one form, one answer: one entry in the office's log
                result = await rsvp.decline_with_reason(account, reason, event_id=f"{nonce}:r")
        else:
            result = await rsvp.choose(account, RsvpChoice.SUBSTITUTE)
            if result.step is RsvpStep.ASK_SUBSTITUTE_NAME:
                result = await rsvp.submit_text(account, name, event_id=f"{nonce}:n")
            if result.step is RsvpStep.ASK_SUBSTITUTE_POSITION:
                result = await rsvp.submit_text(account, position, event_id=f"{nonce}:p")
            if result.step is RsvpStep.ASK_SUBSTITUTE_UNIT:
                if unit:
                    result = await rsvp.submit_text(
                        account, unit, event_id=f"{nonce}:u", same_unit=same_unit_words(catalog)
                    )
                else:
                    result = await rsvp.choose(account, RsvpChoice.SAME_UNIT)
            if result.step is RsvpStep.ASK_SUBSTITUTE_PHONE:
                if phone:
                    result = await rsvp.submit_text(account, phone, event_id=f"{nonce}:t")
                else:
                    result = await rsvp.choose(account, RsvpChoice.SKIP_PHONE)
        if result.step in (
            RsvpStep.ASK_REASON,
            RsvpStep.ASK_SUBSTITUTE_NAME,
            RsvpStep.ASK_SUBSTITUTE_POSITION,
            RsvpStep.ASK_SUBSTITUTE_UNIT,
            RsvpStep.ASK_SUBSTITUTE_PHONE,
            RsvpStep.NOT_A_PHONE,
            RsvpStep.NOT_A_NAME,
        ):
            # A step the chat would ask a question after, left half-way: nothing waits here.
            await rsvp.choose(account, RsvpChoice.CANCEL)
        # Refused (her own name given as the substitute's, or another invitee's, more than a
        # name in its box): the form again as she typed it.
        return await self._rsvp_echoed(
            visit, result, typed=typed if choice == "substitute" else None
        )

    async def _rsvp_echoed(
        self, visit: Visit, result: RsvpResult, *, typed: Mapping[str, str] | None = None
    ) -> Response:
        if result.step in (RsvpStep.RECORDED, RsvpStep.CONFIRMED) and result.rsvp is not None:
            # The chat's own confirmation, in the chat's language, where the person chats.
            chat = replies.recorded(
                self.catalog, self.config, result.rsvp, result.previous, own_unit=result.own_unit
            )
            await self.services.echo.to_chat(visit.person_id, chat)
        return self._rsvp_done(visit, result, typed=typed)

    def _rsvp_done(
        self, visit: Visit, result: RsvpResult, *, typed: Mapping[str, str] | None = None
    ) -> Response:
        """The page again, saying how the answer ended; a refused form (``typed``: what it
        had) filled again as typed."""
        catalog, config = visit.catalog, self.config
        step = result.step
        if step in (RsvpStep.RECORDED, RsvpStep.CONFIRMED) and result.rsvp is not None:
            text = replies.recorded(
                catalog, config, result.rsvp, result.previous,
                change_until="web.rsvp.change_until", own_unit=result.own_unit,
            )  # fmt: skip
            return self._done(visit, Html(text), ok=True)
        if step is RsvpStep.CLOSED and result.rsvp is not None:
            text = catalog.html(
                "rsvp.closed",
                deadline=deadline_text(catalog, config),
                answer=replies.answer(catalog, result.rsvp, own_unit=result.own_unit),
                contact=config.office.contact,
            )
        elif step is RsvpStep.WITHDRAWN:
            text = withdrawn_notice(catalog, config)
        elif step is RsvpStep.SUBSTITUTE_IS_DELEGATE:
            text = catalog.html("web.rsvp.substitute_is_delegate")
        elif step is RsvpStep.SUBSTITUTE_IS_INVITED:  # she comes on her own invitation
            text = catalog.html(
                "web.rsvp.substitute_is_invited",
                name=result.substitute_name or "", code=result.invitee_code or "",
            )  # fmt: skip
        elif step is RsvpStep.NOT_A_NAME:  # her position or phone in the name's box
            text = catalog.html("web.rsvp.not_a_name")
        elif step is RsvpStep.TOO_LONG:
            text = catalog.html("rsvp.too_long", limit=catalog.number(result.limit or 0))
        elif step is RsvpStep.UNCHANGED or step is RsvpStep.DUPLICATE:
            text = catalog.html("rsvp.unchanged")
        elif step is RsvpStep.EMPTY:
            text = catalog.html("rsvp.empty")
        else:
            text = catalog.html("web.failed", contact=config.office.contact)
        ok = step in (RsvpStep.UNCHANGED, RsvpStep.DUPLICATE)
        return self._done(visit, text, ok=ok, form=None if ok else typed)

    async def task(self, request: Request) -> Response:
        """The four reports on a task: done, in progress with a note, need help with a
        description, a deliverable's link."""
        task_id = _path_id(request, "task_id")
        posted = await self._posted(request, keep=lambda values: _task_typed(task_id, values))
        if isinstance(posted, Response):
            return posted
        visit, values, _ = posted
        tasks, account = self.services.tasks, visit.account
        action, nonce = values.get("action", ""), values.get("nonce", "")
        note = " ".join(values.get("note", "").split())
        # A report refused comes back as she wrote it: its kind chosen, its note whole.
        box = f"task-{task_id}-note"
        typed = _task_typed(task_id, values)
        if len(note) > MAX_TASK_NOTE:
            return self._too_long(visit, box, typed[box], len(note), MAX_TASK_NOTE, form=typed)
        wanted = {
            "done": TaskAction.DONE,
            "progress": TaskAction.PROGRESS,
            "help": TaskAction.HELP,
            "link": TaskAction.FILE,
        }.get(action)
        if wanted is None:
            return self._task_done(visit, TaskResult(TaskStep.NOT_ASSIGNED), typed=typed)
        if wanted is TaskAction.FILE and not holds_a_link(note):
            return self._task_done(visit, TaskResult(TaskStep.NOT_A_FILE), typed=typed)
        # Checked first, spent then: a refused form may be corrected and sent again.
        if not await self.services.invitations.first_post(account, nonce):
            return self._done(visit, visit.catalog.html("web.form_sent_before"), ok=True)
        result = await tasks.report(account, task_id, wanted)
        if result.step in (TaskStep.ASK_NOTE, TaskStep.ASK_HELP, TaskStep.ASK_FILE):
            if note:
                result = await tasks.submit_text(account, note, event_id=nonce)
                if result.step is TaskStep.NOT_A_FILE:
                    await tasks.report(account, task_id, TaskAction.CANCEL)
            else:  # in progress or need help without a word: recorded as such, nothing waits
                await tasks.report(account, task_id, TaskAction.CANCEL)
                result = TaskResult(
                    TaskStep.RECORDED if result.step is TaskStep.ASK_NOTE else TaskStep.HELP_SENT,
                    result.task,
                    result.status,
                )
        return self._task_done(visit, result, typed=typed)

    async def task_file(self, request: Request) -> Response:
        """A task's deliverable uploaded from the page: the chat's checks, kept in the file
        store, announced to the office with the file."""
        posted = await self._posted(request, files=1, too_large="task.file_too_large")
        if isinstance(posted, Response):
            return posted
        visit, _, form = posted
        task_id = _path_id(request, "task_id")
        chosen = upload(form, "file")
        if chosen is None:
            return self._done(visit, visit.catalog.html("web.task.no_file"), ok=False)
        tasks = self.services.tasks
        name = chosen.filename or visit.catalog.plain("task.unnamed_file")
        reject = tasks.check_upload(name, chosen.size)
        if reject is not None:  # judged by name and size before reading a byte of it
            return self._task_done(visit, TaskResult(TaskStep.REJECTED, reject=reject))
        content = await chosen.read()
        await chosen.close()
        result = await tasks.store_file(visit.account, task_id, name=name, content=content)
        return self._task_done(visit, result)

    def _task_done(
        self, visit: Visit, result: TaskResult, *, typed: Mapping[str, str] | None = None
    ) -> Response:
        """The page again, saying how the report ended; a refused report's form (``typed``:
        a box's id → what it had) filled again as she wrote it."""
        catalog, config = visit.catalog, self.config
        params: dict[str, object] = {
            "contact": config.office.contact,
            "limit": catalog.number(MAX_TASK_NOTE),
            "files": catalog.number(MAX_TASK_FILES),
        }
        if result.task is not None:
            params.update(key=result.task.key, title=result.task.title)
        if result.status is not None:
            params["status"] = catalog.plain(f"task_status.{result.status.value}")
        if result.step is TaskStep.REJECTED:  # the chat's words for a file it refuses
            limit_mb = MAX_BYTES // (1024 * 1024)
            key = "file_too_large" if result.reject == "too_large" else f"rejected_{result.reject}"
            text = catalog.html(f"task.{key}", limit_mb=limit_mb)
        elif result.step is TaskStep.GONE:  # the chat names its command; the page lists them
            text = catalog.html("web.task.gone")
        else:
            text = catalog.html(f"task.{result.step.value}", **params)
        ok = result.step in (
            TaskStep.RECORDED,
            TaskStep.UNCHANGED,
            TaskStep.HELP_SENT,
            TaskStep.FILE_SAVED,
            TaskStep.FILE_DUPLICATE,
        )
        return self._done(visit, text, ok=ok, form=None if ok else typed)

    async def draft_file(self, request: Request) -> Response:
        """A draft uploaded from the page: the chat's checks, store and receipt."""
        posted = await self._posted(request, files=1, too_large="draft.rejected_too_large")
        if isinstance(posted, Response):
            return posted
        visit, _, form = posted
        assignment_id = _path_id(request, "assignment_id")
        chosen = upload(form, "file")
        if chosen is None:
            return self._draft_done(visit, DraftResult(DraftStep.EMPTY))
        drafts = self.services.drafts
        name = chosen.filename or ""
        reject = drafts.check_upload(name, chosen.size)
        if reject is not None:  # judged by name and size before reading a byte of it
            result = DraftResult(DraftStep.REJECTED, reject=reject)
            return self._draft_done(visit, result)
        content = await chosen.read()
        await chosen.close()
        result = await drafts.store_file(
            visit.account, assignment_id, name=name, content=content, file_ref=None
        )
        return await self._draft_echoed(visit, result)

    async def draft_text(self, request: Request) -> Response:
        """A draft typed in the page's text box: stored as the chat stores a typed draft."""
        assignment_id = _path_id(request, "assignment_id")
        box = f"draft-{assignment_id}-text"
        posted = await self._posted(
            request, too_large="web.text_too_large", keep=lambda values: _box(box, values)
        )
        if isinstance(posted, Response):
            return posted
        visit, values, _ = posted
        text = values.get("text", "")
        result = await self.services.drafts.store_typed(visit.account, assignment_id, text)
        if result.step is DraftStep.TOO_LONG:  # refused whole: back in its box, to send as a file
            kept = {box: text}
            return self._done(visit, self._draft_text(visit.catalog, result), ok=False, form=kept)
        return await self._draft_echoed(visit, result)

    async def draft_reply(self, request: Request) -> Response:
        """The speaker's answer to the office, relayed as the chat relays it."""
        assignment_id = _path_id(request, "assignment_id")
        box = f"draft-{assignment_id}-reply-text"
        posted = await self._posted(request, keep=lambda values: _box(box, values))
        if isinstance(posted, Response):
            return posted
        visit, values, _ = posted
        text = values.get("text", "").strip()
        if len(text) > MAX_COMMENT:
            return self._too_long(visit, box, values.get("text", ""), len(text), MAX_COMMENT)
        drafts, account = self.services.drafts, visit.account
        result = await drafts.begin_reply(account, assignment_id)
        if result.step is DraftStep.ASK_REPLY:
            result = await drafts.reply_from_speaker(
                account, text, event_id=values.get("nonce"), replied_to=None
            )
            if result.step is DraftStep.COMMENT_EMPTY:
                await drafts.cancel(account, assignment_id, typing=False)
        return self._draft_done(visit, result)

    async def _draft_echoed(self, visit: Visit, result: DraftResult) -> Response:
        if result.step is DraftStep.RECEIVED:
            chat = self._draft_text(self.catalog, result)
            await self.services.echo.to_chat(visit.person_id, chat)
        return self._draft_done(visit, result)

    def _draft_text(self, catalog: Catalog, result: DraftResult) -> Html:
        """What the chat says after a draft step (bot.chat.drafts.reply), for the page."""
        config = self.config
        params = result_params(catalog, config, result)
        step = result.step
        if step is DraftStep.REJECTED:
            return catalog.html(f"draft.rejected_{result.reject}", **params)
        if step is DraftStep.COMMENT_TOO_LONG:
            return catalog.html(
                "draft.comment_too_long", **{**params, "limit": catalog.number(MAX_COMMENT)}
            )
        if step is DraftStep.TOO_LONG:
            return catalog.html(
                "web.draft.too_long",
                chars=catalog.number(result.chars),
                limit=catalog.number(MAX_TEXT_DRAFT),
            )
        if step is DraftStep.EMPTY:
            return catalog.html("web.draft.empty")
        if step is DraftStep.NOT_SPEAKER:
            return catalog.html("web.draft.not_yours", contact=config.office.contact)
        if step is DraftStep.GONE:
            return catalog.html("web.draft.gone")
        if step is DraftStep.WITHDRAWN:  # the page's words: no «bot» there
            return catalog.html("web.draft.withdrawn_refused", **params)
        if catalog.has(f"draft.{step.value}"):
            return catalog.html(f"draft.{step.value}", **params)
        return catalog.html("web.failed", contact=config.office.contact)

    def _draft_done(self, visit: Visit, result: DraftResult) -> Response:
        ok = result.step in (DraftStep.RECEIVED, DraftStep.DUPLICATE, DraftStep.RELAYED)
        text = self._draft_text(visit.catalog, result)
        return self._done(visit, text, ok=ok)

    # --- rendering -----------------------------------------------------------------------------

    def _fixed(self, catalog: Catalog) -> dict[str, Any]:
        """What every page in ``catalog``'s language shows the same way, worked out once: the
        plan does not change while the server runs."""
        found = self._fixed_by_locale.get(catalog.locale)
        if found is None:
            config = self.config
            meeting = config.meeting
            starts, ends = meeting.local(meeting.starts_at), meeting.local(meeting.ends_at)
            when_key, when = meeting_time(catalog, "web.when", starts, ends)
            found = self._fixed_by_locale[catalog.locale] = {
                "lang": catalog.locale,
                "other_lang": "en" if catalog.locale == "vi" else "vi",
                "css": self.static.url("site.css"),
                "page_js": self.static.url("page.js"),
                # A file over it is refused by the page's script before it travels, in the
                # server's words; the server refuses it anyway (storage.files.MAX_BYTES), and
                # takes a form's text beside it apart (handlers.web.uploads.TEXT_BESIDE_FILE).
                "max_bytes": MAX_BYTES,
                "max_mb": MAX_BYTES // (1024 * 1024),
                # A text past it (a typed speech, a reason, a note) cannot be read whole to be
                # given back: the page's script keeps it in its box instead
                # (handlers.web.uploads.MAX_FIELD).
                "max_text_bytes": MAX_FIELD,
                # Beside a file (each apart, as the server reads them: a file just under its
                # limit with a short note is taken).
                "max_file_text_bytes": TEXT_BESIDE_FILE,
                "max_draft_chars": catalog.number(MAX_TEXT_DRAFT),
                "deliverable_types": ",".join(DELIVERABLE_SUFFIXES),
                "meeting": meeting,
                "office": config.office,
                "agenda": agenda_rows(catalog, config),
                "when": catalog.html(when_key, **when),
            }
        return found

    def _render(
        self, template: str, catalog: Catalog, *, status: int = 200, **context: Any
    ) -> Response:
        meeting = self.config.meeting
        # A text without parameters is the same on every page of a language: filled once.
        plain = self._plain_texts.setdefault(catalog.locale, {})

        def t(key: str, /, **params: object) -> Markup:
            if params:
                return Markup(catalog.html(key, **params))  # noqa: S704 (catalog HTML, escaped)
            found = plain.get(key)
            if found is None:
                found = plain[key] = Markup(catalog.html(key))  # noqa: S704 (catalog HTML)
            return found

        def safe(html: str) -> Markup:
            return Markup(html)  # noqa: S704 (catalog HTML, its parameters escaped)

        def form_fields(token: str) -> Markup:
            nonce, signature = self.guard.issue(token)
            return Markup(  # noqa: S704 (our own values: base64url, nothing to escape)
                f'<input type="hidden" name="nonce" value="{nonce}">'
                f'<input type="hidden" name="csrf" value="{signature}">'
                f'<input type="hidden" name="lang" value="{catalog.locale}">'
            )

        def local_moment(instant: Any) -> str:
            return short_moment(catalog, meeting.local(instant))

        page = self.templates.get_template(template).render(
            t=t,
            safe=safe,
            form_fields=form_fields,
            moment=local_moment,
            size=lambda value: file_size(catalog, value),
            **self._fixed(catalog),
            **context,
        )
        return Response(page, status_code=status, media_type="text/html; charset=utf-8")
