"""Nhiệm vụ on the dashboard: the section VI board the chat's ``/nhiemvu`` shows the office
(overdue first, then by deadline), each task's page with its reports, the office's notes and
the deliverables to download, and closing or reopening a task with a note. Every step is a use
case of :class:`bot.services.tasks.TaskService` (closing is the chat's «Kết thúc theo dõi»), so
the rules and the audit are the chat's; the history is the audit log's
(:meth:`bot.services.dashboard.DashboardService.task_history`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.domain.ids import parse_id
from bot.domain.tasks import MAX_TASK_FILES, MAX_TASK_NOTE, TaskLine, TaskStatus
from bot.services.access import OfficeActor
from bot.services.signin import StaffVisit
from bot.services.tasks import TaskPage, TaskResult, TaskStep
from bot.texts.formatting import short_moment
from handlers.web.attachment import attachment
from handlers.web.office.binding import session_binding
from handlers.web.uploads import TooLarge, leading_fields, read_form, text_field, upload
from storage.files import MAX_BYTES, media_type, read_stored, sanitize_filename

if TYPE_CHECKING:
    from handlers.web.office.app import Office


class Tasks:
    """The task board's handlers, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def routes(self) -> list[BaseRoute]:
        """The task board's routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/tasks", staff(self.board), methods=["GET"]),
            Route("/tasks/{id}", staff(self.task), methods=["GET"]),
            Route("/tasks/{id}/files/{evidence}", staff(self.download), methods=["GET"]),
            Route("/tasks/{id}/close", staff(self.close), methods=["POST"]),
            Route("/tasks/{id}/reopen", staff(self.reopen), methods=["POST"]),
            Route("/tasks/{id}/record", staff(self.record), methods=["POST"]),
            Route("/tasks/{id}/unrecord", staff(self.unrecord), methods=["POST"]),
        ]

    async def board(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Every task of the plan: overdue first, then by deadline, as ``/nhiemvu``."""
        lines = await self.office.services.tasks.office_board()
        return self.office._render(
            "office/tasks.html", visit=visit, actor=actor,
            rows=[_row(line) for line in lines],
            overdue=sum(1 for line in lines if line.overdue),
        )  # fmt: skip

    async def task(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """One task: who answers for it and where each stands, its history (reports, files,
        the office's notes), its deliverables, and the form to close or reopen it."""
        office = self.office
        task_id = _id(request, "id")
        # A page of its people at a time (``?from=``), the figures over everyone.
        start = parse_id(request.query_params.get("from", "")) or 0
        found = await office.services.tasks.task_page(task_id, start=start)
        if found is None:
            return office._render("office/message.html", status=404, key="no_task")
        line = found.line
        history = await office.services.dashboard.task_history(line.id)
        more = None if found.next_start is None else f"?from={found.next_start}#people"
        return office._render(
            "office/task.html", visit=visit, actor=actor, task=line, row=_page_row(found),
            people=found, people_more=more, history=history, limit=MAX_TASK_NOTE,
            limit_mb=MAX_BYTES // (1024 * 1024),
            flash=office._flash(request, visit),
        )  # fmt: skip

    async def download(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """A deliverable kept by this server (uploaded on a personal page), saved under the
        name its sender gave it; one of another task, or held by a chat platform, is not here."""
        office = self.office
        tasks = office.services.tasks
        task_id = _id(request, "id")
        found = await tasks.evidence_file(_id(request, "evidence"), task_id=task_id)
        if found is None or found.path is None or await tasks.task(task_id) is None:
            return office._render("office/message.html", status=404, key="no_task_file")
        content = await asyncio.to_thread(read_stored, found.path)
        if content is None:  # the deliverable is on record, its file is not: say which
            return office._render("office/message.html", status=404, key="file_lost")
        name = sanitize_filename(found.name, fallback="san-pham")
        return attachment(content, name, media_type(name), fallback="san-pham")

    async def close(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Close a task (done another way, or dropped), with an optional note."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        task_id = _id(request, "id")
        note = values.get("note", "")
        result = await office.services.tasks.close(actor, task_id, note)
        return self._after(visit, task_id, result, TaskStep.CLOSED, kept={"close-note": note})

    async def reopen(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Take a closed task up again, saying why (required)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        task_id = _id(request, "id")
        note = values.get("note", "")
        result = await office.services.tasks.reopen(actor, task_id, note)
        return self._after(visit, task_id, result, TaskStep.REOPENED, kept={"reopen-note": note})

    async def record(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Record «đã hoàn thành» for an assignee who reported by phone, on paper or by email,
        with how it came (an optional note) and her deliverable (an optional file, checked and
        kept as one uploaded on her personal page)."""
        office = self.office
        if not office._same_site(request):
            return PlainTextResponse("", status_code=403)
        task_id = _id(request, "id")
        try:
            form = await read_form(request, files=1)
        except TooLarge:  # cut off, maybe before the file's name came: none to say
            text = office.catalog.html(
                "dash.tasks.record.body_too_large", limit_mb=MAX_BYTES // (1024 * 1024)
            )
            # The note typed before the file, from the body's first bytes: back in its box.
            typed = await leading_fields(request, ("person", "note"))
            kept = _kept_note(typed.get("person", ""), typed.get("note", ""))
            return office._done(visit, f"tasks/{task_id}", text, ok=False, form=kept)
        if not office.guard.valid(
            session_binding(visit), text_field(form, "nonce"), text_field(form, "csrf")
        ):
            return await office.expired(request, form)
        person, note = text_field(form, "person"), text_field(form, "note")
        # A refusal (a file not taken, a note too long) keeps the note in its box: the way out
        # it says is to record without the file, or with the link written in the note.
        kept = _kept_note(person, note)
        chosen = upload(form, "file")
        file = None
        if chosen is not None:
            file = (chosen.filename or office.catalog.plain("task.unnamed_file"), b"")
            if (reject := office.services.tasks.check_upload(file[0], chosen.size)) is None:
                file = (file[0], await chosen.read())  # judged by name and size first
            await chosen.close()
            if reject is not None:
                result = TaskResult(TaskStep.REJECTED, reject=reject)
                return self._recorded(visit, task_id, result, file[0], kept=kept)
        result = await office.services.tasks.record_for(
            actor, task_id, person, note=note, file=file
        )
        return self._recorded(visit, task_id, result, file[0] if file else "", kept=kept)

    async def unrecord(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Undo the office's record of a person's report (recorded for the wrong person)."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        task_id = _id(request, "id")
        result = await office.services.tasks.undo_record(actor, task_id, values.get("person", ""))
        return self._recorded(visit, task_id, result)

    def _recorded(
        self,
        visit: StaffVisit,
        task_id: int,
        result: TaskResult,
        file: str = "",
        *,
        kept: dict[str, str] | None = None,
    ) -> Response:
        """Back to the task's page after :meth:`record`, saying what was done: a refused
        ``file`` in the office's words (nothing was recorded; record without it, or note the
        link), not the invitee's, and a report a colleague recorded as hers (when, by whom)."""
        catalog = self.office.catalog
        key = result.task.key if result.task is not None else ""
        if result.step is TaskStep.REJECTED:
            reason = catalog.plain(
                f"dash.tasks.record.reason.{result.reject}", limit_mb=MAX_BYTES // (1024 * 1024)
            )
            html = catalog.html("dash.tasks.record.rejected", file=file, reason=reason)
        else:
            recorded = result.person
            at = recorded.updated_at if recorded is not None else None
            html = catalog.html(
                f"dash.tasks.record.{result.step.value}",
                key=key, name=result.name, limit=catalog.number(MAX_TASK_NOTE),
                files=catalog.number(MAX_TASK_FILES),
                at=short_moment(catalog, self.office.config.meeting.local(at)) if at else "",
                by=(recorded.recorded_by if recorded is not None else None) or "",
            )  # fmt: skip
        path = "tasks" if result.step is TaskStep.GONE else f"tasks/{task_id}"
        ok = result.step in (TaskStep.RECORDED_FOR, TaskStep.RECORD_UNDONE)
        return self.office._done(visit, path, html, ok=ok, form=None if ok else kept)

    def _after(
        self,
        visit: StaffVisit,
        task_id: int,
        result: TaskResult,
        done: TaskStep,
        *,
        kept: dict[str, str],
    ) -> Response:
        """Back to the task's page (the board when it is gone), saying what happened; a note
        refused as too long back in its box (``kept``), whole, to shorten."""
        office = self.office
        key = result.task.key if result.task is not None else ""
        html = office.catalog.html(
            f"dash.tasks.{result.step.value}", key=key, limit=office.catalog.number(MAX_TASK_NOTE)
        )
        path = "tasks" if result.step is TaskStep.GONE else f"tasks/{task_id}"
        form = kept if result.step is TaskStep.TOO_LONG else None
        return office._done(visit, path, html, ok=result.step is done, form=form)


def _kept_note(person: str, note: str) -> dict[str, str] | None:
    """The record form's note for ``person``, to fill her form's box again (none typed: none)."""
    return {f"record-note-{person}": note} if person and note else None


def _state(line: TaskLine, done: bool) -> str:
    """A task's state on the board: closed, overdue, done by everyone (``done``), or open."""
    if line.closed:
        return "closed"
    if line.overdue:
        return "overdue"
    return "done" if done else "open"


def _row(line: TaskLine) -> dict[str, object]:
    """What the board shows of a task."""
    assignments = line.assignments
    return {
        "line": line,
        "state": _state(line, line.done),
        "done": sum(1 for a in assignments if a.status is TaskStatus.DONE),
        "reported": sum(1 for a in assignments if a.updated_at is not None),
        "total": len(assignments),
        "files": len(line.evidence),
    }


def _page_row(page: TaskPage) -> dict[str, object]:
    """What a task's page shows of it, as :func:`_row`, from the figures over everyone."""
    return {
        "line": page.line,
        "state": _state(page.line, page.all_done),
        "done": page.done,
        "reported": page.reported,
        "total": page.total,
        "files": len(page.line.evidence),
    }


def _id(request: Request, name: str) -> int:
    """The row a path names (0, which names none, for what no column could hold)."""
    return parse_id(str(request.path_params[name])) or 0
