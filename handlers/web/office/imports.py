"""Nhập danh sách on the dashboard: upload a CSV/XLSX list, read by the CLI's own parser
(:func:`bot.delegate_file.parse_delegate_file`) and said problem by problem in the words of
``hoinghi delegates import``; then what the import would change (added, changed, unchanged,
absent), from :meth:`bot.services.delegates.DelegateService.preview_import` — the import's own
steps, rolled back. Nothing is written until the staff member confirms; until then the file
waits on the server's disk under a random id, for that session only, for :data:`KEPT_FOR`."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.delegate_file import Group as FileGroup
from bot.delegate_file import ParsedDelegates, parse_delegate_file
from bot.domain.phones import display_phone
from bot.services.access import OfficeActor
from bot.services.delegates import ImportSummary
from bot.services.import_notes import kept_notes, replaced_lines, replaced_notes
from bot.services.signin import StaffVisit
from bot.texts.formatting import short_moment
from bot.texts.presenters import problem_line
from handlers.web.office.binding import session_binding
from handlers.web.uploads import TooLarge, leading_fields, read_form, text_field, upload

if TYPE_CHECKING:
    from handlers.web.office.app import Office

# How long an uploaded list waits for its confirmation.
KEPT_FOR = timedelta(minutes=30)
# The suffix a kept file is given (the parser reads by it); anything else is kept as ".bin",
# which the parser refuses as the CLI does a file of another kind.
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
# How many codes the preview names under each heading before it counts the rest.
NAMED = 50


@dataclass(frozen=True)
class Pending:
    """An uploaded list waiting for its confirmation."""

    path: Path
    name: str  # the file's name as uploaded, for the page
    sheet: str | None
    session_id: int
    expires_at: datetime


@dataclass
class Imported:
    """A list imported from a preview (by its key): whose session, which file, when, and
    whether the import has finished (a double click's second form may come while it runs)."""

    session_id: int
    name: str
    at: datetime
    finished: bool = False


class PendingLists:
    """Uploaded lists on disk, by a random id; each for the session that uploaded it."""

    def __init__(self) -> None:
        self._folder: Path | None = None  # made at the first upload
        self.items: dict[str, Pending] = {}
        # Lists imported, by key: the same form sent again says so (for as long as a list is
        # kept, then forgotten with the rest).
        self.imported: dict[str, Imported] = {}

    def keep(self, pending: Pending) -> str:
        """Keep ``pending`` under a new random id."""
        key = secrets.token_urlsafe(18)
        self.items[key] = pending
        return key

    def path_for(self, suffix: str) -> Path:
        """A new file's place in the folder."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="hoinghi-import-"))
            # Deleted with its files when the server stops (or this store is collected).
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder / f"{secrets.token_urlsafe(18)}{suffix}"

    def take(self, key: str, session_id: int, now: datetime, *, drop: bool) -> Pending | None:
        """The list ``key`` if it is this session's and not expired (dropped when ``drop``)."""
        self.sweep(now)
        pending = self.items.get(key)
        if pending is None or pending.session_id != session_id:
            return None
        if drop:
            self.drop(key)
        return pending

    def drop(self, key: str) -> None:
        """Forget a list and delete its file."""
        pending = self.items.pop(key, None)
        if pending is not None:
            pending.path.unlink(missing_ok=True)

    def sweep(self, now: datetime) -> None:
        """Delete the lists whose time is up (and forget, after a day, those imported)."""
        for key in [k for k, p in self.items.items() if p.expires_at <= now]:
            self.drop(key)
        for key in [k for k, done in self.imported.items() if now - done.at > timedelta(days=1)]:
            del self.imported[key]

    def close(self) -> None:
        """Delete every kept file."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self.items.clear()


class Imports:
    """The import's handlers, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office
        self.pending = PendingLists()

    def routes(self) -> list[BaseRoute]:
        """The import's routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/import", staff(self.page), methods=["GET"]),
            Route("/import", staff(self.upload), methods=["POST"]),
            Route("/import/{key}/apply", staff(self.apply), methods=["POST"]),
            Route("/import/{key}/discard", staff(self.discard), methods=["POST"]),
        ]

    async def page(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The upload form."""
        office = self.office
        return office._render(
            "office/import.html", visit=visit, actor=actor, flash=office._flash(request, visit)
        )

    async def upload(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Read the list sent: its problems by row and column, or what importing it would
        change, with the button that applies it."""
        office = self.office
        if not office._same_site(request):
            return PlainTextResponse("", status_code=403)
        try:
            form = await read_form(request, files=1)
        except TooLarge:  # the sheet's name, typed before the file, from the body's first bytes
            typed = await leading_fields(request, ("sheet",))
            return office._render(
                "office/import.html", status=413, visit=visit, actor=actor, too_large=True,
                sheet=_sheet(typed.get("sheet", "")) or "",
            )  # fmt: skip
        if not office.guard.valid(
            session_binding(visit), text_field(form, "nonce"), text_field(form, "csrf")
        ):
            return await office.expired(request, form)
        # Every refusal fills the sheet's box again as typed (a wrong name is corrected there).
        sheet = _sheet(text_field(form, "sheet"))
        sent = upload(form, "file")
        if sent is None:
            return office._render(
                "office/import.html", status=422, visit=visit, actor=actor, no_file=True,
                sheet=sheet or "",
            )  # fmt: skip
        name = Path(sent.filename or "").name[:120]
        suffix = Path(name).suffix
        path = self.pending.path_for(suffix if _SUFFIX.fullmatch(suffix) else ".bin")
        with path.open("xb") as out:
            while chunk := await sent.read(1024 * 1024):
                out.write(chunk)
        parsed = self._parse(path, sheet)
        if parsed.problems:
            path.unlink(missing_ok=True)
            return self._render_read(visit, actor, name, parsed, status=422, sheet=sheet)
        summary = await office.services.delegates.preview_import(parsed.rows, kept=parsed.absent)
        assert visit.session_id is not None
        now = office.services.ctx.clock.now()
        key = self.pending.keep(Pending(path, name, sheet, visit.session_id, now + KEPT_FOR))
        return self._render_read(visit, actor, name, parsed, summary=summary, key=key, sheet=sheet)

    def _parse(self, path: Path, sheet: str | None) -> ParsedDelegates:
        config = self.office.config
        groups = [FileGroup(g.key, g.label) for g in config.groups]
        return parse_delegate_file(path, groups, sheet=sheet, max_rows=config.imports.max_rows)

    def _render_read(
        self,
        visit: StaffVisit,
        actor: OfficeActor,
        name: str,
        parsed: ParsedDelegates,
        *,
        summary: ImportSummary | None = None,
        key: str = "",
        status: int = 200,
        sheet: str | None = None,
    ) -> Response:
        office = self.office
        catalog = office.catalog
        problems = [
            _item(problem_line(catalog, "import.problem", p, prefer="dash.import.problem"))
            for p in parsed.problems
        ]
        warnings = [
            _item(problem_line(catalog, "import.warning", w, prefer="dash.import.warning"))
            for w in parsed.warnings
        ]
        return office._render(
            "office/import.html", status=status, visit=visit, actor=actor, name=name,
            problems=problems, warnings=warnings, ignored=", ".join(parsed.ignored_columns),
            rows=len(parsed.rows), summary=summary, key=key, named=NAMED,
            kept_minutes=int(KEPT_FOR.total_seconds() // 60),
            field_name=lambda field: catalog.plain(f"dash.import.field.{field}"),
            value_of=self._value_of,
            kept=kept_notes(catalog.html, summary) if summary else [], sheet=sheet or "",
            replaced=replaced_lines(catalog.html, office.config, summary, name) if summary else [],
        )  # fmt: skip

    def _value_of(self, field: str, value: object) -> str:
        """A field's value in the preview's «old → new», as the dashboard writes it elsewhere:
        a group by its label, a phone as the list shows it (in full: the office checks the new
        number before applying), a role in words, an empty one as «(trống)»."""
        catalog = self.office.catalog
        if value is None or value == "":
            return catalog.plain("dash.log.empty")
        if field == "group_key":
            group = self.office.services.ctx.config.group(str(value))
            return group.label if group is not None else str(value)
        if field == "phone":
            return display_phone(str(value))
        if field == "role":
            key = f"report_sheet.audit_value.role_{value}"
            return catalog.plain(key) if catalog.has(key) else str(value)
        return str(value)

    async def apply(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Import the list previewed, as ``hoinghi delegates import`` does (the tasks' and the
        speeches' people matched again in the same transaction), audited as the staff member."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        assert visit.session_id is not None
        services = office.services
        catalog = office.catalog
        pending = self.pending.take(
            str(request.path_params["key"]), visit.session_id, services.ctx.clock.now(), drop=False
        )
        if pending is None:
            done = self.pending.imported.get(str(request.path_params["key"]))
            if done is not None and done.session_id == visit.session_id:  # the form again
                if not done.finished:  # a double click: the first is still importing
                    said = catalog.html("dash.import.running", path=done.name)
                    return office._done(visit, "import", said, ok=True)
                when = short_moment(catalog, services.ctx.config.meeting.local(done.at))
                said = catalog.html("dash.import.already", path=done.name, time=when)
                return office._done(visit, "import", said, ok=True)
            return office._done(visit, "import", catalog.html("dash.import.gone"), ok=False)
        key = str(request.path_params["key"])
        try:
            parsed = self._parse(pending.path, pending.sheet)
        finally:
            self.pending.drop(key)
        if parsed.problems:  # cannot happen to a file kept unchanged; said if it does
            return office._done(visit, "import", catalog.html("dash.import.gone"), ok=False)
        # Marked before the import's awaits: a double click's second form, arriving meanwhile,
        # is told the list is (being) imported, not that it is gone.
        marked = Imported(visit.session_id, pending.name, services.ctx.clock.now())
        self.pending.imported[key] = marked
        try:
            # The preview said it when the list replaces many people (replaced_lines): the
            # office chose to apply it after reading that.
            summary = await services.delegates.import_rows(
                parsed.rows, actor=actor.actor, kept=parsed.absent, confirm_replaced=True
            )
        except BaseException:
            self.pending.imported.pop(key, None)
            raise
        marked.finished = True
        number = catalog.number  # «1.234», as the page before the import wrote the figures
        lines = [
            catalog.html(
                "import.done", path=pending.name, rows=number(len(parsed.rows)),
                created=number(summary.created), updated=number(summary.updated),
                unchanged=number(summary.unchanged),
            )
        ]  # fmt: skip
        if summary.absent:
            lines.append(catalog.html("dash.import.absent_kept", count=number(len(summary.absent))))
        lines += kept_notes(catalog.html, summary)
        lines += replaced_notes(catalog.html, summary)
        if summary.role_kept:
            kept = summary.role_kept
            lines.append(catalog.html("import.role_kept", count=len(kept), codes=", ".join(kept)))
        if summary.carried:
            people = sorted(set(summary.carried))
            lines.append(catalog.html("import.carried", count=len(people), codes=", ".join(people)))
        if summary.unknown_contacts:  # the import matched the tasks and speeches to the list
            codes = ", ".join(summary.unknown_contacts)
            lines.append(catalog.html("import.unknown_contacts", codes=codes, hoinghi="hoinghi"))
        if summary.unknown_speakers:
            codes = ", ".join(summary.unknown_speakers)
            lines.append(catalog.html("import.unknown_speakers", codes=codes))
        return office._done(visit, "import", " ".join(lines), ok=True)

    async def discard(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Drop the uploaded list without importing it."""
        office = self.office
        values = await office._form(request, session_binding(visit))
        if isinstance(values, Response):
            return values
        assert visit.session_id is not None
        now = office.services.ctx.clock.now()
        self.pending.take(str(request.path_params["key"]), visit.session_id, now, drop=True)
        return office._done(visit, "import", office.catalog.html("dash.import.discarded"), ok=True)


def _sheet(typed: str) -> str | None:
    """The sheet's name as the form gave it (at most Excel's 31 characters), None for none."""
    return typed.strip()[:31] or None


def _item(line: str) -> str:
    """A line of the CLI's list as an item of the page's (its "  - " marker is the list's)."""
    return line.strip().removeprefix("- ")
