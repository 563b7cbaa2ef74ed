"""Tài liệu on the dashboard: the documents the office publishes to every personal page (the
draft review report, the programme, a summary) — the upload form, the list with who published
each and when, «Ẩn» after a confirmation and «Đăng lại». Every step is a use case of
:class:`bot.services.documents.DocumentService`; the upload is taken as a task's deliverable
is (the same limit, judged by name and size before a byte of it is read)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.domain.ids import parse_id
from bot.services.access import OfficeActor
from bot.services.documents import (
    DOCUMENT_FALLBACK,
    MAX_DOCUMENT_NOTE,
    MAX_DOCUMENT_TITLE,
    DocumentResult,
    DocumentStep,
)
from bot.services.signin import StaffVisit
from handlers.web.attachment import attachment_path
from handlers.web.flash import Flash
from handlers.web.office.binding import session_binding
from handlers.web.office.notices import DOCUMENT_TEMPLATE
from handlers.web.uploads import TooLarge, leading_fields, read_form, text_field, upload
from storage.files import DOCUMENT_SUFFIXES, MAX_BYTES

if TYPE_CHECKING:
    from handlers.web.office.app import Office

LIMIT_MB = MAX_BYTES // (1024 * 1024)


class Documents:
    """The documents' handlers, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def routes(self) -> list[BaseRoute]:
        """The documents' routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/documents", staff(self.page), methods=["GET"]),
            Route("/documents", staff(self.publish), methods=["POST"]),
            Route("/documents/{id}/file", staff(self.download), methods=["GET"]),
            Route("/documents/{id}/hide", staff(self.confirm_hide), methods=["GET"]),
            Route("/documents/{id}/hide", staff(self.hide), methods=["POST"]),
            Route("/documents/{id}/show", staff(self.show), methods=["POST"]),
        ]

    async def page(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The upload form and every document, newest first."""
        flash = self.office._flash(request, visit)
        # A form refused after the server's secret changed: its title and note, as typed.
        return await self._page(visit, actor, flash, typed=flash.typed if flash else None)

    async def _page(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        flash: Flash | None,
        *,
        status: int = 200,
        typed: dict[str, str] | None = None,
    ) -> Response:
        office = self.office
        return office._render(
            "office/documents.html", status=status, visit=visit, actor=actor,
            documents=await office.services.documents.listing(), flash=flash,
            typed=typed or {}, limit_mb=LIMIT_MB, title_limit=MAX_DOCUMENT_TITLE,
            note_limit=MAX_DOCUMENT_NOTE, accept=",".join(DOCUMENT_SUFFIXES),
        )  # fmt: skip

    async def publish(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Publish the uploaded file with its title and note; what is wrong is said beside the
        form again, the title and note as typed (422); a second tap finds it published."""
        office = self.office
        catalog = office.catalog
        if not office._same_site(request):
            return PlainTextResponse("", status_code=403)
        try:
            form = await read_form(request, files=1)
        except TooLarge:  # refused unread, or cut off: what was typed, from its first bytes
            typed = await leading_fields(request, ("title", "note"))
            text = catalog.html("dash.documents.body_too_large", limit_mb=LIMIT_MB)
            flash = Flash(0, text, ok=False)
            return await self._page(visit, actor, flash, status=413, typed=typed)
        if not office.guard.valid(
            session_binding(visit), text_field(form, "nonce"), text_field(form, "csrf")
        ):
            return await office.expired(request, form)
        typed = {"title": text_field(form, "title"), "note": text_field(form, "note")}
        documents = office.services.documents
        chosen = upload(form, "file")
        if chosen is None:
            await _close_files(form)
            return await self._refused(visit, actor, DocumentResult(DocumentStep.NO_FILE), typed)
        name = chosen.filename or DOCUMENT_FALLBACK
        wrong = documents.check_fields(typed["title"], typed["note"])
        reject = documents.check_upload(name, chosen.size)
        if wrong is not None or reject is not None:  # judged before a byte of it is read
            await chosen.close()
            result = DocumentResult(wrong or DocumentStep.REJECTED, reject=reject)
            return await self._refused(visit, actor, result, typed, name)
        content = await chosen.read()
        await chosen.close()
        result = await documents.publish(
            actor, title=typed["title"], note=typed["note"], name=name, content=content
        )
        if result.step in (DocumentStep.PUBLISHED, DocumentStep.ALREADY_PUBLISHED):
            assert result.document is not None
            html = catalog.html(
                f"dash.documents.{result.step.value}",
                title=result.document.title, name=result.document.file_name,
            )  # fmt: skip
            # Publishing tells no one: the office usually wants to, in a notice of its own.
            href = f"{office.root}/notices?{urlencode({DOCUMENT_TEMPLATE: result.document.id})}"
            told = catalog.html("dash.documents.notice_link", href=f"{href}#write")
            return office._done(visit, "documents", f"{html} {told}", ok=True)
        return await self._refused(visit, actor, result, typed, name)

    async def _refused(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        result: DocumentResult,
        typed: dict[str, str],
        name: str = "",
    ) -> Response:
        """The page again (422), what was typed kept, beside what is wrong with it."""
        catalog = self.office.catalog
        if result.step is DocumentStep.REJECTED:
            # The reasons a task's deliverable is refused for, but the narrower list of types.
            code = result.reject or "bad_type"
            key = "dash.documents" if code == "bad_type" else "dash.tasks.record"
            reason = catalog.plain(f"{key}.reason.{code}", limit_mb=LIMIT_MB)
            html = catalog.html("dash.documents.rejected", file=name, reason=reason)
        else:
            there = result.document  # SAME_FILE_PUBLISHED: the one on the pages
            html = catalog.html(
                f"dash.documents.{result.step.value}",
                limit=catalog.number(MAX_DOCUMENT_TITLE),
                note_limit=catalog.number(MAX_DOCUMENT_NOTE),
                title=there.title if there else "", name=there.file_name if there else "",
            )  # fmt: skip
        flash = Flash(0, html, ok=False)
        return await self._page(visit, actor, flash, status=422, typed=typed)

    async def download(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """A document as the delegates download it (a hidden one too: the office checks it)."""
        office = self.office
        found = await office.services.documents.file(_id(request), hidden_too=True)
        if found is None:
            return office._render("office/message.html", status=404, key="no_document")
        line = found.line
        response = await attachment_path(
            found.path, line.file_name, line.content_type, fallback=DOCUMENT_FALLBACK
        )
        if response is None:
            return office._render("office/message.html", status=404, key="file_lost")
        return response

    async def confirm_hide(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """«Ẩn»: what hiding does, and the button that does it."""
        office = self.office
        line = next(
            (d for d in await office.services.documents.listing() if d.id == _id(request)), None
        )
        if line is None:
            return office._render("office/message.html", status=404, key="no_document")
        return office._render("office/document_hide.html", visit=visit, actor=actor, line=line)

    async def hide(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Take a document off the personal pages (kept; it can be published again)."""
        return await self._toggle(request, visit, actor, hide=True)

    async def show(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Put a hidden document back on the personal pages."""
        return await self._toggle(request, visit, actor, hide=False)

    async def _toggle(
        self, request: Request, visit: StaffVisit, actor: OfficeActor, *, hide: bool
    ) -> Response:
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        documents = office.services.documents
        doing = documents.hide if hide else documents.show
        result = await doing(actor, _id(request))
        params: dict[str, Any] = {
            "title": result.document.title if result.document else "",
            "other": result.other.title if result.other else "",
        }
        html = office.catalog.html(f"dash.documents.{result.step.value}", **params)
        ok = result.step not in (DocumentStep.GONE, DocumentStep.SAME_FILE_SHOWN)
        return office._done(visit, "documents", html, ok=ok)


async def _close_files(form: Any) -> None:
    """Close whatever file a form carried (an empty file input sends one without a name)."""
    for _, value in form.multi_items():
        if hasattr(value, "close") and not isinstance(value, str):
            await value.close()


def _id(request: Request) -> int:
    """The document a path names (0, which names none, for what no column could hold)."""
    return parse_id(str(request.path_params["id"])) or 0
