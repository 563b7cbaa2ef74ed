"""Tham luận on the dashboard: every theme and its speakers with where their draft stands; a
draft's versions to download, the newest one's text to read, the thread with the speaker and
a box to comment, approve or ask for a revision. Every step is a use case of
:class:`bot.services.drafts.DraftService`, the same the chat's office side runs (``/thamluan``,
a reply to a draft post, «Chốt» / «Cần chỉnh sửa»): the rules, the outbox to the speaker's
channel and the audit are theirs."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.documents.reading import MAX_SHOWN, Reading, draft_text, readable
from bot.domain.drafts import MAX_COMMENT, DraftLine, DraftStatus, VersionLine
from bot.domain.ids import parse_id
from bot.domain.timespec import parse_deadline
from bot.services.access import OfficeActor
from bot.services.approved_bundle import write_approved_zip
from bot.services.drafts import AssignOutcome, AssignResult, DraftResult, DraftStep, ThreadPost
from bot.services.signin import StaffVisit
from bot.texts.formatting import moment
from bot.texts.presenters import draft_status_label
from handlers.web.attachment import attachment, attachment_file, attachment_head
from handlers.web.office.binding import session_binding
from handlers.web.office.downloads import file_name
from handlers.web.office.staff import MAX_CODE
from storage.files import media_type, read_stored

if TYPE_CHECKING:
    from handlers.web.office.app import Office

ZIP = "application/zip"
# Seconds between two looks at a draft's thread while its page is open (a speaker's answer
# should show within a few seconds; the page's script waits at least five).
THREAD_POLL_SECONDS = 5
# The longest «Hạn gửi bài» read, and how many assigning forms are remembered for a double tap.
MAX_DEADLINE = 40
REMEMBERED_FORMS = 512
# A «Phân công» form as sent: the session, the form's nonce, the code, theme and deadline typed.
AssignForm = tuple[int | None, str, str, str, str]


@dataclass(frozen=True)
class ThemeRow:
    """A theme of the plan and its speakers' drafts (none yet: no speaker assigned); apart,
    the assignments the office withdrew after versions were sent, with those versions."""

    key: str
    title: str
    lines: tuple[DraftLine, ...]
    withdrawn: tuple[tuple[DraftLine, tuple[VersionLine, ...]], ...] = ()


class Drafts:
    """The speech drafts' handlers, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office
        # The «Phân công» forms at work or that assigned, by session, nonce and what was typed:
        # the same form sent again (a double tap) is answered as the first was, even while the
        # first is still at work. In this process's memory, as flashes; the last few only.
        self._forms: dict[AssignForm, asyncio.Future[AssignResult]] = {}

    def routes(self) -> list[BaseRoute]:
        """The drafts' routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/drafts", staff(self.board), methods=["GET"]),
            Route("/drafts/assign", staff(self.assign), methods=["POST"]),
            Route("/drafts/unassign", staff(self.unassign), methods=["POST"]),
            Route("/drafts/approved.zip", staff(self.approved), methods=["GET"]),
            Route("/drafts/{id}/unassign", staff(self.confirm_unassign), methods=["GET"]),
            Route("/drafts/{id}", staff(self.draft), methods=["GET"]),
            Route("/drafts/{id}/thread", staff(self.thread), methods=["GET"]),
            Route("/drafts/{id}/versions/{number}", staff(self.download), methods=["GET"]),
            Route("/drafts/{id}/comment", staff(self.comment), methods=["POST"]),
            Route("/drafts/{id}/approve", staff(self.approve), methods=["POST"]),
            Route("/drafts/{id}/revise", staff(self.revise), methods=["POST"]),
        ]

    # --- reading -------------------------------------------------------------------------------

    async def board(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Every theme of the plan in its order, each speaker's draft and where it stands
        (the order of the printed programme, as ``/thamluan`` lists them), late ones marked,
        and the form that assigns a speaker."""
        return await self._board(request, visit, actor)

    async def _board(
        self,
        request: Request,
        visit: StaffVisit,
        actor: OfficeActor,
        *,
        status: int = 200,
        error: str = "",
        code: str = "",
        theme: str = "",
        deadline: str = "",
    ) -> Response:
        """The board; after a refused assignment, with why (``error``) and what was typed."""
        office = self.office
        config, drafts = office.config, office.services.drafts
        every = await drafts.board(withdrawn=True)
        lines = [line for line in every if not line.withdrawn]
        by_theme: dict[str, list[DraftLine]] = {}
        for line in lines:
            by_theme.setdefault(line.theme_key, []).append(line)
        # Withdrawn after versions were sent: out of the counts, kept under the theme to read.
        kept: dict[str, list[tuple[DraftLine, tuple[VersionLine, ...]]]] = {}
        for line in every:
            if line.withdrawn:
                found = (line, tuple(await drafts.versions(line.id)))
                kept.setdefault(line.theme_key, []).append(found)
        rows = [
            ThemeRow(
                theme.key,
                theme.title,
                tuple(by_theme.pop(theme.key, ())),
                tuple(kept.pop(theme.key, ())),
            )
            for theme in config.themes
        ]
        # A theme no longer in the plan keeps its speakers' drafts on the page.
        for key in [*by_theme, *(key for key in kept if key not in by_theme)]:
            found_lines, withdrawn = by_theme.get(key, []), kept.get(key, [])
            title = (found_lines or [line for line, _ in withdrawn])[0].theme_title
            rows.append(ThemeRow(key, title, tuple(found_lines), tuple(withdrawn)))
        now = office.services.ctx.clock.now()
        flash = office._flash(request, visit)
        # A form sent back after the server's secret changed: its code, theme and time as sent.
        sent_back = flash.typed if flash is not None else {}
        # A speaker excused (her invitation withdrawn, nothing sent) is out of the counts.
        counted = [line for line in lines if not line.excused]
        count = {status: sum(line.status is status for line in counted) for status in DraftStatus}
        return office._render(
            "office/drafts.html", status=status, visit=visit, actor=actor, themes=rows,
            total=len(counted), count=count, late={line.id for line in lines if line.late(now)},
            deadline=drafts.deadline_at, status_line=self._status_line,
            plan_themes=config.themes, max_code=MAX_CODE, assign_error=error,
            assign_code=code or sent_back.get("assign-code", ""),
            assign_theme=theme or sent_back.get("assign-theme", ""),
            assign_deadline=deadline or sent_back.get("assign-deadline", ""),
            max_deadline=MAX_DEADLINE, flash=flash,
        )  # fmt: skip

    async def draft(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """One speaker's draft: its versions, the newest one's text, the thread, the forms."""
        return await self._page(request, visit, actor)

    async def _page(
        self,
        request: Request,
        visit: StaffVisit,
        actor: OfficeActor,
        *,
        status: int = 200,
        error: str = "",
        body: str = "",
        reason: str = "",
    ) -> Response:
        office = self.office
        drafts = office.services.drafts
        line = await drafts.line(_id(request), withdrawn=True)
        if line is None:
            return office._render("office/message.html", status=404, key="no_draft")
        versions = await drafts.versions(line.id)
        reading = await self._reading(versions[0]) if versions else None
        return office._render(
            "office/draft.html", status=status, visit=visit, actor=actor, line=line,
            versions=versions, reading=reading, shown_limit=MAX_SHOWN,
            readable=bool(versions) and readable(versions[0].display_name),
            thread=await drafts.thread(line.id), poll=THREAD_POLL_SECONDS,
            status_line=self._status_line,
            own_deadline=line.deadline_at != drafts.deadline_at, limit=MAX_COMMENT,
            error=error, body=body, reason=reason, flash=office._flash(request, visit),
        )  # fmt: skip

    async def approved(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """«Tải các bản đã chốt (.zip)»: every live speech's approved version in the themes'
        order and an index, built in a worker thread into a temporary file sent in chunks (a
        HEAD gets the headers only, nothing built); with none approved, the board says so."""
        office = self.office
        items = await office.services.drafts.approved()
        if not items:
            return office._done(
                visit, "drafts", office.catalog.html("dash.drafts.approved_none"), ok=False
            )
        name = file_name(office, "dash.drafts.approved_file")
        if request.method == "HEAD":  # a link's preview or a download manager asking first
            return attachment_head(name, ZIP)
        catalog, meeting = office.catalog, office.config.meeting

        def write() -> IO[bytes]:
            spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed once sent)
            try:
                write_approved_zip(spool, catalog, meeting, items)
            except BaseException:
                spool.close()
                raise
            return spool

        spool = await asyncio.to_thread(write)
        return attachment_file(spool, name, ZIP)

    async def thread(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The thread alone, for the draft page's script to put in place."""
        office = self.office
        drafts = office.services.drafts
        line = await drafts.line(_id(request), withdrawn=True)
        if line is None:
            return office._render("office/message.html", status=404, key="no_draft")
        return office._render(
            "office/draft_thread.html", line=line, thread=await drafts.thread(line.id)
        )

    async def download(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """A version as the speaker sent it (a typed draft: the .txt it was stored as)."""
        office = self.office
        drafts = office.services.drafts
        number = parse_id(str(request.path_params["number"]))
        version = next((v for v in await drafts.versions(_id(request)) if v.number == number), None)
        stored = await drafts.version_file(version.id) if version is not None else None
        if stored is None:
            return office._render("office/message.html", status=404, key="no_draft")
        content = await asyncio.to_thread(read_stored, stored.path)
        if content is None:  # the draft is on record, its file is not: say which
            return office._render("office/message.html", status=404, key="file_lost")
        return attachment(
            content, name := stored.version.display_name, media_type(name), fallback="tham-luan"
        )

    async def _reading(self, version: VersionLine) -> Reading | None:
        """The text of ``version`` to show, if its kind can be read in a page."""
        if not readable(version.display_name):
            return None
        stored = await self.office.services.drafts.version_file(version.id)
        if stored is None:
            return None
        content = await asyncio.to_thread(read_stored, stored.path)
        if content is None:  # the file store lost it: the page says it cannot be read
            return None
        return await asyncio.to_thread(draft_text, stored.version.display_name, content)

    def _status_line(self, line: DraftLine) -> str:
        """``đã gửi bản 2, chờ Văn phòng xem``: the status with the newest version's number."""
        catalog = self.office.catalog
        if line.withdrawn:  # kept to read: where it stood no longer counts
            return catalog.plain("dash.drafts.status_withdrawn", versions=line.versions)
        if line.latest is None:
            return draft_status_label(catalog, DraftStatus.WAITING)
        return catalog.plain(f"dash.drafts.status_{line.status.value}", number=line.latest.number)

    # --- acting --------------------------------------------------------------------------------

    async def comment(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The office's comment, kept with the draft and sent to the speaker on their channel
        (the chat's reply to a draft post); the form's nonce names it, so a second press of
        the same form sends nothing more."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        body = values.get("body", "")
        post = ThreadPost(_id(request), None)
        result = await office.services.drafts.comment_from_office(
            actor, post, source=f"web:office:{values.get('nonce', '')}", text=body
        )
        if result.step in (DraftStep.COMMENT_EMPTY, DraftStep.COMMENT_TOO_LONG):
            error = self._say(result)
            return await self._page(request, visit, actor, status=422, error=error, body=body)
        return self._answer(visit, request, result)

    async def assign(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """«Phân công»: the person whose code was typed speaks on the theme chosen, by the
        «Hạn gửi bài» typed or else the plan's; they are told on their channel (``/phancong``'s
        use case). A refusal shows the board again with why and what was typed. The same form
        sent twice (a double tap), even while the first is still at work, answers as the first
        did; another form naming an assignment that exists says so, as a second «Hủy phân
        công» does, with nothing changed."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        code, theme = values.get("code", "").strip()[:MAX_CODE], values.get("theme", "").strip()
        typed = values.get("deadline", "").strip()[:MAX_DEADLINE]
        catalog = office.catalog
        error: str
        meeting, now = office.config.meeting, office.services.ctx.clock.now()
        deadline = parse_deadline(typed, meeting.zone, now) if typed else None
        if not code or not theme:
            error = catalog.html("dash.drafts.assign_choose")
        elif typed and deadline is None:
            error = catalog.html("dash.drafts.assign_deadline_unreadable", typed=typed)
        else:
            form = (visit.session_id, values.get("nonce", ""), code, theme, typed)
            first = self._forms.get(form)
            if first is not None and not first.done():  # this very form, its first tap at work
                result = await asyncio.shield(first)  # its answer: the one the browser shows
            else:
                result = await self._assign_once(form, actor, code, theme, deadline)
            line = result.draft
            if result.outcome is AssignOutcome.ASSIGNED and line is not None:
                return office._done(visit, "drafts", self._assigned(line), ok=True)
            if result.outcome is AssignOutcome.ALREADY and line is not None:
                return office._done(visit, "drafts", self._refused(result, code, theme), ok=True)
            error = self._refused(result, code, theme)
        return await self._board(
            request, visit, actor, status=422, error=error, code=code, theme=theme,
            deadline=typed,
        )  # fmt: skip

    async def _assign_once(
        self,
        form: AssignForm,
        actor: OfficeActor,
        code: str,
        theme: str,
        deadline: datetime | None,
    ) -> AssignResult:
        """Assign as ``form`` asks, remembered while at work (a second tap of it waits for this
        answer) and after, if it assigned: sent again later and found already assigned to the
        same speaker, it is answered as this first tap was."""
        earlier = self._forms.pop(form, None)  # done: this form assigned before
        self._forms[form] = assigning = asyncio.get_running_loop().create_future()
        while len(self._forms) > REMEMBERED_FORMS:
            self._forms.pop(next(iter(self._forms)))
        try:
            result = await self.office.services.drafts.assign(actor, code, theme, deadline)
        except BaseException as error:
            self._forget(form, assigning)
            assigning.set_exception(error)
            assigning.exception()  # retrieved: a tap waiting for it fails as this one does
            raise
        if earlier is not None and result.outcome is AssignOutcome.ALREADY:
            first, now = earlier.result().draft, result.draft
            if first is not None and now is not None and first.id == now.id:  # sent again
                result = earlier.result()
        assigning.set_result(result)
        if result.outcome is not AssignOutcome.ASSIGNED:  # nothing to answer again
            self._forget(form, assigning)
        return result

    def _forget(self, form: AssignForm, assigning: asyncio.Future[AssignResult]) -> None:
        if self._forms.get(form) is assigning:
            del self._forms[form]

    async def confirm_unassign(
        self, request: Request, visit: StaffVisit, actor: OfficeActor
    ) -> Response:
        """«Hủy phân công»: what withdrawing does and what stays, before it is done; an
        assignment already withdrawn says so on the board."""
        office = self.office
        line = await office.services.drafts.line(_id(request))
        if line is None:
            return office._done(visit, "drafts", self._say_gone(), ok=True)
        return office._render("office/unassign.html", visit=visit, actor=actor, line=line)

    async def unassign(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Withdraw the assignment the confirmation named (``/phancong huy``'s use case); a
        second press finds it withdrawn and says so."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        code, theme = values.get("code", "")[:MAX_CODE], values.get("theme", "")
        result = await office.services.drafts.unassign(actor, code, theme)
        line, catalog = result.draft, office.catalog
        if result.outcome is AssignOutcome.REMOVED and line is not None:
            html = catalog.html(
                "dash.drafts.unassigned_kept" if line.versions else "dash.drafts.unassigned",
                name=line.full_name, organization=line.organization, key=line.theme_key,
                versions=line.versions,
            )  # fmt: skip
            return office._done(visit, "drafts", html, ok=True)
        if result.outcome in (AssignOutcome.NOT_ASSIGNED, AssignOutcome.ALREADY_REMOVED):
            html = catalog.html("dash.drafts.unassign_already", code=code, key=theme)
            return office._done(visit, "drafts", html, ok=True)
        return office._done(visit, "drafts", self._say_gone(), ok=True)

    def _assigned(self, line: DraftLine) -> str:
        """What the board says of a speaker just assigned (and of versions back in view)."""
        office = self.office
        catalog = office.catalog
        deadline = moment(catalog, office.config.meeting.local(line.deadline_at))
        said = catalog.html(
            "dash.drafts.assigned" if line.reachable else "dash.drafts.assigned_unreached",
            name=line.full_name, organization=line.organization, key=line.theme_key,
            deadline=deadline,
        )  # fmt: skip
        if not line.versions:
            return said
        # Assigned again: what she sent before is back.
        more = catalog.html("dash.drafts.assigned_restored", versions=line.versions)
        return f"{said} {more}"

    def _refused(self, result: AssignResult, code: str, theme: str) -> str:
        """Why an assignment was not made, in the office's words."""
        catalog, line = self.office.catalog, result.draft
        if result.outcome is AssignOutcome.ALREADY and line is not None:
            return catalog.html(
                "dash.drafts.assign_already", name=line.full_name, code=line.code,
                key=line.theme_key,
            )  # fmt: skip
        if result.outcome is AssignOutcome.WITHDRAWN and result.person is not None:
            name, person_code = result.person
            return catalog.html("dash.drafts.assign_withdrawn", name=name, code=person_code)
        if result.outcome is AssignOutcome.UNKNOWN_THEME:
            return catalog.html("dash.drafts.assign_unknown_theme", key=theme[:40])
        if result.deadline is not None and result.person is not None:
            meeting = self.office.config.meeting
            deadline = moment(catalog, meeting.local(result.deadline))
            start = moment(catalog, meeting.local(meeting.starts_at))
            name, person_code = result.person
            return catalog.html(
                f"dash.drafts.assign_{result.outcome.value}", name=name, code=person_code,
                key=theme[:40], deadline=deadline, start=start,
            )  # fmt: skip
        return catalog.html("dash.drafts.assign_unknown_person", code=code)

    def _say_gone(self) -> str:
        return self.office.catalog.html("dash.drafts.unassign_gone")

    async def approve(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """«Chốt»: the version the page showed is final; the speaker is told."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        version_id = await self._version(request, values)
        if version_id is None:
            return self._answer(visit, request, DraftResult(DraftStep.GONE))
        result = await office.services.drafts.set_verdict(actor, version_id, DraftStatus.FINAL)
        return self._answer(visit, request, result)

    async def revise(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """«Cần chỉnh sửa» for the version the page showed, its reason (if typed) first sent as
        a comment, so the speaker reads what to change before being asked to."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        drafts = office.services.drafts
        named = await self._named_version(request, values)
        if named is None:
            return self._answer(visit, request, DraftResult(DraftStep.GONE))
        version_id, newest = named
        reason = values.get("reason", "")
        said: DraftResult | None = None
        if reason.strip() and not newest:
            # A version came since the page was opened: the instruction is not sent about the
            # old one, nor lost — the page again, with it, for the clerk to read the new one.
            superseded = await drafts.set_verdict(actor, version_id, DraftStatus.REVISION)
            return await self._page(
                request, visit, actor, status=409, error=self._say(superseded), reason=reason
            )
        if reason.strip():
            # Sent even when the draft already awaits a revision: a new instruction is not lost.
            # The form's nonce names the comment, so the same form pressed twice sends it once.
            said = await drafts.comment_from_office(
                actor,
                ThreadPost(_id(request), version_id),
                source=f"web:office:{values.get('nonce', '')}",
                text=reason,
            )
            if said.step in (DraftStep.COMMENT_EMPTY, DraftStep.COMMENT_TOO_LONG):
                error = self._say(said)
                return await self._page(
                    request, visit, actor, status=422, error=error, reason=reason
                )
        result = await drafts.set_verdict(actor, version_id, DraftStatus.REVISION)
        if result.step is DraftStep.UNCHANGED and said is not None:
            return self._answer(visit, request, said)  # what did change: the comment sent
        return self._answer(visit, request, result)

    async def _version(self, request: Request, values: dict[str, str]) -> int | None:
        """The version a verdict form names, if it is one of this draft's."""
        named = await self._named_version(request, values)
        return named[0] if named is not None else None

    async def _named_version(
        self, request: Request, values: dict[str, str]
    ) -> tuple[int, bool] | None:
        """The version a verdict form names, if it is one of this draft's, and whether it is
        still the newest (one read of the versions, newest first)."""
        wanted = parse_id(values.get("version", ""))
        versions = await self.office.services.drafts.versions(_id(request))
        if wanted not in {v.id for v in versions}:
            return None
        return wanted, versions[0].id == wanted

    def _answer(self, visit: StaffVisit, request: Request, result: DraftResult) -> Response:
        ok = result.step in (
            DraftStep.RELAYED, DraftStep.REPEATED, DraftStep.VERDICT, DraftStep.UNCHANGED
        )  # fmt: skip
        path = "drafts" if result.step is DraftStep.GONE else f"drafts/{_id(request)}"
        return self.office._done(visit, path, self._say(result), ok=ok)

    def _say(self, result: DraftResult) -> str:
        """What the page says after a step, in the office's words."""
        catalog = self.office.catalog
        line, version = result.draft, result.version
        params: dict[str, Any] = {
            "limit": catalog.number(MAX_COMMENT),
            "chars": catalog.number(result.chars),
        }
        if line is not None:
            params.update(
                name=line.full_name, key=line.theme_key, organization=line.organization,
                status=draft_status_label(catalog, line.status),
            )  # fmt: skip
        if version is not None:
            params.update(number=version.number)
        step = result.step
        if step is DraftStep.VERDICT and line is not None:
            key = "approved" if line.status is DraftStatus.FINAL else "revision"
        elif step is DraftStep.SUPERSEDED:
            key, params["newer"] = "superseded", result.newer
        elif step in (
            DraftStep.RELAYED, DraftStep.REPEATED, DraftStep.UNCHANGED,
            DraftStep.COMMENT_EMPTY, DraftStep.COMMENT_TOO_LONG,
        ):  # fmt: skip
            key = step.value
        else:
            key = "gone"
        if key in UNREACHED and line is not None and not line.reachable:
            key = f"{key}_unreached"  # on no chat: the page holds it, the office phones
        return catalog.html(f"dash.drafts.{key}", **params)


# What the page says after telling the speaker, when no chat of theirs can be told.
UNREACHED = frozenset({"relayed", "approved", "revision"})


def _id(request: Request) -> int:
    """The assignment a path names (0, which names none, for what no column could hold)."""
    return parse_id(str(request.path_params["id"])) or 0
