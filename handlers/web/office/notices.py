"""Thông báo on the dashboard: write a notice, choose who gets it, the chat's preview with the
exact count and those to phone, send now or at a time; the scheduled list with cancel; each
sent notice's counts with "resend to those it failed". Every step is a use case of
:class:`bot.services.broadcasts.BroadcastService`, as ``/thongbao`` and ``/lichthongbao`` run
them: the draft is the same row, the rules and the audit the same."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.domain.ids import parse_id
from bot.domain.outbound import Audience, DeliveryStatus, MessageStatus, notice_audiences
from bot.domain.typed import opening
from bot.services.access import OfficeActor
from bot.services.broadcasts import (
    MAX_BROADCAST,
    BroadcastResult,
    BroadcastStep,
    BroadcastSummary,
)
from bot.services.dashboard import notice_audience
from bot.services.signin import StaffVisit
from bot.texts import Catalog
from bot.texts.formatting import moment
from bot.texts.presenters import (
    audience_label,
    broadcast_html,
    moved_notice,
    notice_length,
    on_pages,
    pages_only,
    ran_out_words,
    skipped_reason,
    typed_time_params,
)
from handlers.web.flash import Flash
from handlers.web.office.binding import session_binding

if TYPE_CHECKING:
    from handlers.web.office.app import Office

# How many notices the page lists (scheduled first, then the latest sent, cancelled or skipped).
LISTED = 30
# ``?mau=`` of the notices page that fills the form with the notice of a meeting moved.
MOVED_TEMPLATE = "doi-lich"
# ``?tailieu=<id>`` fills it with the notice that a document is published (Tài liệu's link);
# ``&thay=1``: in place of the clerk's unfinished draft, once she has chosen so.
DOCUMENT_TEMPLATE = "tailieu"
REPLACE = "thay"
# The form's field naming the unfinished draft it holds, or that the clerk chose to replace.
DRAFT_FIELD = "draft"
# Characters of an unfinished draft quoted to the clerk, to recognise it by.
DRAFT_OPENING = 80


class Notices:
    """The notices' handlers, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def routes(self) -> list[BaseRoute]:
        """The notices' routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/notices", staff(self.page), methods=["GET"]),
            Route("/notices/preview", staff(self.preview), methods=["POST"]),
            Route("/notices/{id}", staff(self.waiting), methods=["GET"]),
            Route("/notices/{id}/send", staff(self.send), methods=["POST"]),
            Route("/notices/{id}/cancel", staff(self.cancel), methods=["POST"]),
            Route("/notices/{id}/resend", staff(self.resend), methods=["POST"]),
        ]

    def _audiences(self) -> list[tuple[str, str]]:
        office = self.office
        config, catalog = office.config, office.catalog
        # As /thongbao offers them (the groups follow), every invitee first.
        day_begun = config.meeting.day_begun(office.services.ctx.clock.now())
        chosen = [str(audience) for audience in notice_audiences(day_begun)]
        chosen += [f"{Audience.GROUP}:{group.key}" for group in config.groups_in_order]
        return [(value, audience_label(catalog, config, value)) for value in chosen]

    async def page(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The form to write a notice, the scheduled ones and the report of those sent; from a
        preview's «Sửa nội dung» (``?sua=ID``), the form holding that draft's text and audience;
        with ``?mau=doi-lich``, holding the notice that the meeting moved to the plan's date."""
        if request.query_params.get("mau") == MOVED_TEMPLATE:
            body = moved_notice(self.office.catalog, self.office.config)
            return await self._page(request, visit, actor, body=body)
        if DOCUMENT_TEMPLATE in request.query_params:
            return await self._document_notice(request, visit, actor)
        editing = parse_id(request.query_params.get("sua", ""))
        if editing:
            draft = await self.office.services.broadcasts.draft(actor, editing)
            if draft is not None:
                return await self._page(
                    request, visit, actor, body=draft.body or "", audience=draft.audience or "",
                    draft_id=editing,
                )  # fmt: skip
        return await self._page(request, visit, actor, asked=await self._left(actor))

    async def _left(self, actor: OfficeActor) -> dict[str, str] | None:
        """The clerk's unfinished draft named at the top of the page with the way back to it
        (a notice previewed before any list, then the list imported: the preview she left was
        the only way back); None when she has none. The form stays empty: a new notice written
        there is still asked about before it replaces the draft."""
        office = self.office
        draft = await office.services.broadcasts.unfinished(actor)
        if draft is None or draft.message_id is None:
            return None
        return {
            "text": office.catalog.html(
                "dash.notices.draft_left", preview=_opening(draft.body or "")
            ),
            "keep": f"{office.root}/notices?{urlencode({'sua': draft.message_id})}#write",
        }

    async def _document_notice(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """The form holding the notice that a document is on everyone's page, to edit, choose
        whom it goes to and preview as any notice. A draft the clerk has not sent is not
        dropped unasked (previewing a new notice would): the form keeps holding it, beside the
        choice of going on with it or writing the document's notice in its place. Asked rather
        than the text appended: the draft may be about something else, for another audience,
        and one notice made of two would be sent to whoever the draft named."""
        office = self.office
        catalog, query = office.catalog, request.query_params
        wanted = parse_id(query.get(DOCUMENT_TEMPLATE, ""))
        line = next(
            (d for d in await office.services.documents.published() if d.id == wanted), None
        )
        if line is None:  # hidden since, or no such document: nothing to announce
            error = catalog.html("dash.notices.document_gone")
            return await self._page(request, visit, actor, error=error)
        body = catalog.plain("dash.notices.document_text", title=line.title)
        draft = await office.services.broadcasts.unfinished(actor)
        if draft is None or query.get(REPLACE) == "1":  # replacing it is her choice, made
            return await self._page(
                request, visit, actor, body=body, draft_id=draft.message_id if draft else None
            )
        assert draft.message_id is not None
        asked = {
            "text": catalog.html(
                "dash.notices.document_draft", preview=_opening(draft.body or ""), title=line.title
            ),
            "keep": f"{office.root}/notices?{urlencode({'sua': draft.message_id})}#write",
            "replace": f"{office.root}/notices?"
            f"{urlencode({DOCUMENT_TEMPLATE: line.id, REPLACE: 1})}#write",
        }
        return await self._page(
            request, visit, actor, body=draft.body or "", audience=draft.audience or "",
            asked=asked, draft_id=draft.message_id,
        )  # fmt: skip

    async def _page(
        self,
        request: Request,
        visit: StaffVisit,
        actor: OfficeActor,
        *,
        status: int = 200,
        error: str = "",
        body: str = "",
        audience: str = "",
        asked: dict[str, str] | None = None,
        draft_id: int | None = None,
    ) -> Response:
        """The notices page; ``draft_id``: the clerk's unfinished draft the form holds or she
        chose to replace (its «Xem trước» replaces it without asking again)."""
        office = self.office
        catalog, config = office.catalog, office.config
        items = await office.services.broadcasts.recent(actor, limit=LISTED)
        listed = [
            {
                "id": item.id,  # what its forms and the page's anchors name
                "number": item.number,  # what the office reads
                # A notice whose time has come is being sent, not waiting (no cancel button).
                "status": "sending" if item.due else item.status.value,
                "audience": audience_label(catalog, config, item.audience),
                "to_call": notice_audience(item.audience),  # who it left to phone, listed
                "when": moment(catalog, config.meeting.local(item.due_at)) if item.due_at else "",
                "preview": item.preview,
                "sent": item.deliveries[DeliveryStatus.SENT],
                "failed": item.deliveries[DeliveryStatus.FAILED],
                # Of those, the ones a resend sends again, and the ones that may have it.
                "to_resend": item.to_resend,
                "maybe_received": item.maybe_received,
                "blocked": item.deliveries[DeliveryStatus.BLOCKED],
                "not_linked": item.deliveries[DeliveryStatus.NOT_LINKED],
                "waiting": item.deliveries[DeliveryStatus.PENDING]
                + item.deliveries[DeliveryStatus.SENDING],
                "total": sum(item.deliveries.values()),
                # A notice cancelled before its time: the number the office gave, and why it
                # went to nobody, in the row the report would have taken.
                "cancelled": catalog.plain(
                    "dash.notices.cancelled_row",
                    when=moment(catalog, config.meeting.local(item.finished_at)),
                    due=moment(catalog, config.meeting.local(item.due_at)),
                )
                if item.status is MessageStatus.CANCELLED
                and item.finished_at is not None
                and item.due_at is not None
                else "",
                # A notice that went to nobody (its time passed while the bot was not running,
                # nobody was in its audience): its number, and why, in words.
                "skipped": catalog.plain(
                    "dash.notices.skipped_row",
                    why=skipped_reason(catalog, config, item.skipped, item.due_at),
                )
                if item.skipped is not None
                else "",
                # A notice some or all of whose copies ran out (the bot stopped while sending
                # it): how many, the first few by name for the office to phone, under its
                # content (the counts have no column for it).
                "ran_out": _ran_out(catalog, item),
                "sending": catalog.plain("dash.notices.sending_row") if item.due else "",
            }
            for item in items
        ]
        return office._render(
            "office/notices.html", status=status, visit=visit, actor=actor,
            audiences=self._audiences(), limit=MAX_BROADCAST, error=error, body=body,
            moved_template=MOVED_TEMPLATE, asked=asked, draft_id=draft_id or "",
            audience=audience or str(Audience.EVERYONE),
            scheduled=[n for n in listed if n["status"] == MessageStatus.SCHEDULED.value],
            sent=[n for n in listed if n["status"] != MessageStatus.SCHEDULED.value],
            zone=config.meeting.timezone, flash=office._flash(request, visit),
        )  # fmt: skip

    async def preview(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Write and choose in one go, then the chat's preview: the notice as delegates will
        read it, the exact count, who is blocked and who must be phoned. An unfinished draft of
        the clerk's other than the one the form holds is not replaced unasked."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        body, audience = values.get("body", ""), values.get("audience", "")
        broadcasts = office.services.broadcasts
        unfinished = await broadcasts.unfinished(actor)
        if unfinished is not None and values.get(DRAFT_FIELD, "") != str(unfinished.message_id):
            # A draft she wrote and did not send, not the one this form holds (a new notice
            # written on the page, the «đổi lịch» text): not dropped unasked. The form keeps
            # the new text; «Xem trước» again replaces the draft, «Tiếp tục» goes back to it.
            assert unfinished.message_id is not None
            catalog = office.catalog
            asked = {
                "text": catalog.html(
                    "dash.notices.draft_kept", preview=_opening(unfinished.body or "")
                ),
                "keep": f"{office.root}/notices?{urlencode({'sua': unfinished.message_id})}#write",
            }
            return await self._page(
                request, visit, actor, body=body, audience=audience, asked=asked,
                draft_id=unfinished.message_id,
            )  # fmt: skip
        started = await broadcasts.start(actor)
        assert started.message_id is not None
        written = await broadcasts.accept_text(actor, body)
        if written is None or written.step is not BroadcastStep.ASK_AUDIENCE:
            step = written.step if written is not None else BroadcastStep.GONE
            await broadcasts.cancel(actor)
            error: str
            if written is not None and step is BroadcastStep.TOO_LONG:
                # By how much, beside the text as typed: the box cuts nothing (no maxlength),
                # so a paste from Word arrives whole and is shortened knowingly, not cut.
                catalog = office.catalog
                error = catalog.html(
                    "dash.notices.body_too_long",
                    length=notice_length(catalog, written.count, written.limit),
                )
            else:
                error = self._say(step)
            return await self._page(
                request, visit, actor, status=422, error=error, body=body, audience=audience
            )
        result = await broadcasts.choose_audience(actor, started.message_id, audience)
        if result.step is BroadcastStep.GONE:  # an audience the chat does not offer
            await broadcasts.cancel(actor)
            return await self._page(
                request, visit, actor, status=422, error=self._say(result.step), body=body
            )
        return self._preview(visit, actor, result)

    async def waiting(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The preview of the clerk's own draft, while it waits at its preview: where its
        sending form goes back to when sent after the server's secret changed, with the time
        typed and the choice made; anything else (sent, dropped, someone else's) is the notices
        page."""
        office = self.office
        flash = office._flash(request, visit)
        kept = flash.typed if flash is not None else {}
        shown = await office.services.broadcasts.previewed(actor, _id(request))
        if shown.step is BroadcastStep.PREVIEW:
            return self._preview(
                visit, actor, shown, when=kept.get("send-when", ""),
                later=kept.get("send-how") == "later", flash=flash,
            )  # fmt: skip
        return RedirectResponse(f"{office.root}/notices", status_code=303)

    def _preview(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        result: BroadcastResult,
        *,
        error: str = "",
        when: str = "",
        later: bool = False,
        status: int = 200,
        flash: Flash | None = None,
    ) -> Response:
        """The notice as delegates will read it, with the form that sends it; after a time that
        could not be taken, that time again beside what was wrong with it (or, ``flash``, the
        form sent back after the server's secret changed)."""
        office = self.office
        catalog, config = office.catalog, office.config
        assert result.reach is not None and result.audience is not None
        shown = broadcast_html(catalog, config.office.name, result.body or "")
        return office._render(
            "office/notice_preview.html", visit=visit, actor=actor, result=result,
            reach=result.reach, shown=shown,
            pages_only=pages_only(config, result.reach.reachable,
                                  result.reach.blocked + result.reach.not_linked),
            audience_label=audience_label(catalog, config, result.audience),
            more=result.reach.not_linked - len(result.reach.first_not_linked),
            zone=config.meeting.timezone, error=error, when=when, later=later, status=status,
            flash=flash, time_examples=typed_time_params(config, office.services.ctx.clock.now()),
        )  # fmt: skip

    async def send(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Send the previewed notice now, or schedule it at the time typed (the chat's reading
        of a time: «08:00 27/5», «14:30»)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        message_id = _id(request)
        broadcasts = office.services.broadcasts
        when = values.get("when", "").strip()
        if values.get("how") != "later" and when:
            # «Gửi ngay» with a time typed: which was meant is asked, not guessed (sending at
            # once a notice meant for tomorrow cannot be undone).
            asked = office.catalog.html("dash.notices.now_with_time", when=when)
            if again := await self._again(visit, actor, message_id, asked, when, later=False):
                return again
        if values.get("how") != "later":
            result = await broadcasts.send_now(actor, message_id)
        else:
            result = await broadcasts.schedule(actor, message_id, when)
            if result.step in (BroadcastStep.BAD_TIME, BroadcastStep.PAST_TIME):
                # The draft is still at its preview: shown again with the time typed, to mend.
                wrong = self._say(result)
                if again := await self._again(visit, actor, message_id, wrong, when, later=True):
                    return again
        return office._done(visit, "notices", self._say(result), ok=_ok(result.step))

    async def _again(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        message_id: int,
        error: str,
        when: str,
        *,
        later: bool,
    ) -> Response | None:
        """The draft's preview once more (422), beside what was wrong and the time typed, the
        choice kept as made; None when the draft is no longer at its preview."""
        broadcasts = self.office.services.broadcasts
        draft = await broadcasts.draft(actor, message_id)
        if draft is None or draft.audience is None:
            return None
        shown = await broadcasts.choose_audience(actor, message_id, draft.audience)
        if shown.step is not BroadcastStep.PREVIEW:
            return None
        return self._preview(visit, actor, shown, error=error, when=when, later=later, status=422)

    async def cancel(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Cancel a scheduled notice (or the draft being previewed)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        result = await office.services.broadcasts.cancel(actor, _id(request))
        return office._done(visit, "notices", self._say(result), ok=_ok(result.step))

    async def resend(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Queue again the copies of a notice that failed."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        result = await office.services.broadcasts.resend_failed(actor, _id(request))
        return office._done(visit, "notices", self._say(result), ok=_ok(result.step))

    def _say(self, result: BroadcastResult | BroadcastStep) -> str:
        """What the chat says after a step, with the page's words where the chat's name a
        command or a button."""
        office = self.office
        catalog, config = office.catalog, office.config
        if isinstance(result, BroadcastStep):
            result = BroadcastResult(result)
        step = result.step
        when = moment(catalog, config.meeting.local(result.due_at)) if result.due_at else ""
        reach = result.reach
        reachable = reach.reachable if reach else 0
        off_chat = reach.blocked + reach.not_linked if reach else 0
        pages = on_pages(catalog, config, off_chat) if reach else ""
        count = result.count
        key = f"dash.notices.{step.value}"
        if pages_only(config, reachable, off_chat) and catalog.has(f"{key}_pages"):
            # Nobody on a chat: those who read it on their page first, not «tới 0 người».
            key, count, pages = f"{key}_pages", off_chat, ""
        if result.kept:  # a resend that left those who may have it: how many, and why
            key += "_kept"
        if not catalog.has(key):
            key = f"broadcast.{step.value}{'_kept' if result.kept else ''}"
        _, examples = typed_time_params(config, office.services.ctx.clock.now())  # a bad time
        return catalog.html(
            key, number=result.number or "", limit=catalog.number(result.limit or 0),
            count=catalog.number(count),
            kept=catalog.number(result.kept), reachable=catalog.number(reachable), when=when,
            zone=config.meeting.timezone, pages=pages,
            **examples,
        )  # fmt: skip


def _ok(step: BroadcastStep) -> bool:
    return step in (
        BroadcastStep.QUEUED,
        BroadcastStep.SCHEDULED,
        BroadcastStep.CANCELLED,
        BroadcastStep.DROPPED,
        BroadcastStep.RESENT,
        BroadcastStep.ALREADY_QUEUED,
        BroadcastStep.ALREADY_SCHEDULED,
        BroadcastStep.ALREADY_CANCELLED,
    )


def _id(request: Request) -> int:
    """The notice a path names (0, which names none, for what no column could hold)."""
    return parse_id(str(request.path_params["id"])) or 0


def _ran_out(catalog: Catalog, item: BroadcastSummary) -> str:
    """Whom a notice's copies ran out for, the first few by name; "" when none did."""
    if not item.ran_out:
        return ""
    key, params = ran_out_words(catalog, "dash.notices.ran_out", item.ran_out, item.first_ran_out)
    # Where the whole list is: the report workbook, downloaded from the invitations page.
    place = catalog.plain("dash.invitations.title")
    return catalog.plain(key, **params, file=catalog.plain("dash.invitations.report"), place=place)


def _opening(body: str) -> str:
    """A draft's first words, to recognise it by: cut at a word, «…» where it was cut."""
    return opening(body, DRAFT_OPENING)
