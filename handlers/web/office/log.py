"""Nhật ký on the dashboard: every audited change, newest first, filtered by who made it, by its
kind and by date, a page at a time (:meth:`bot.services.dashboard.DashboardService.log`), each
entry in words: who, when in the meeting's time, what, and its fields "old → new"; and the same
changes as a file (.xlsx or .csv), every page of them, written as ``hoinghi audit export``
writes its file."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.documents.workbook import Sheet, csv_bytes, workbook_bytes
from bot.domain.ids import parse_id
from bot.services.access import OfficeActor
from bot.services.dashboard import Activity, LogFilters
from bot.services.report_file import audit_table, change_lines
from bot.services.signin import StaffVisit
from bot.texts.presenters import action_label, actor_label
from handlers.web.attachment import attachment
from handlers.web.office.downloads import XLSX, file_name

if TYPE_CHECKING:
    from handlers.web.office.app import Office

CSV = "text/csv; charset=utf-8"
# The kinds of change the "what" choice offers, in the order an office thinks of them.
ACTIONS = (
    "rsvp.changed", "identity.linked", "identity.page_opened", "identity.carried",
    "identity.unlinked",
    "identity.unreachable", "identity.reachable", "invitation.reissued", "invitation.sent",
    "invitation.unsent", "invitation.slowed_down", "delegate.created", "delegate.updated",
    "broadcast.queued", "broadcast.scheduled", "broadcast.cancelled", "broadcast.resent",
    "task.status", "task.recorded", "task.record_undone", "task.evidence", "task.closed",
    "task.reopened", "draft.assigned", "draft.unassigned", "draft.version", "draft.comment",
    "draft.verdict", "checkin.recorded", "checkin.undone",
    "invitation.withdrawn", "invitation.reinvited", "invitation.printed",
    "role.granted", "role.revoked", "staff.link_issued", "staff.signed_in", "staff.signed_out",
    "staff.signed_out_everywhere", "privacy.purged",
    "document.published", "document.hidden", "document.shown",
)  # fmt: skip


class AuditLog:
    """The audit log's handler, on the dashboard's :class:`Office`."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def routes(self) -> list[BaseRoute]:
        """The audit log's routes (the page and its two files), for signed-in office staff
        only."""
        staff = self.office.staff
        return [
            Route("/log", staff(self.page), methods=["GET"]),
            Route("/log.xlsx", staff(self.workbook), methods=["GET"]),
            Route("/log.csv", staff(self.table), methods=["GET"]),
        ]

    async def page(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Nhật ký: a page of changes as the filters narrow it, with the next page's link and
        the links to download every change they keep."""
        office = self.office
        query = request.query_params
        filters = _filters(request)
        dashboard = office.services.dashboard
        log = await dashboard.log(filters)
        next_url = None
        if log.next_before is not None:
            wanted = {k: v for k, v in query.items() if k != "before" and v}
            next_url = f"{office.root}/log?{urlencode({**wanted, 'before': log.next_before})}"
        # The files hold every page the filters keep: the page's place is left out.
        kept = urlencode(
            {k: v for k, v in query.items() if k in ("who", "action", "from", "to") and v}
        )
        return office._render(
            "office/log.html", visit=visit, actor=actor, filters=filters,
            entries=[self._entry(entry) for entry in log.entries], total=log.total,
            next_url=next_url, staff=await dashboard.staff(), actions=ACTIONS,
            download=f"?{kept}" if kept else "",
            since=query.get("from", "") if filters.since else "",
            until=query.get("to", "") if filters.until else "",
            zone=office.config.meeting.timezone,
        )  # fmt: skip

    async def workbook(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Every change the filters keep, as an .xlsx (one sheet, named in words)."""
        return await self._download(request, XLSX, "dash.log.xlsx_file")

    async def table(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Every change the filters keep, as a CSV (UTF-8 with a BOM, as Excel reads it)."""
        return await self._download(request, CSV, "dash.log.csv_file")

    async def _download(self, request: Request, media_type: str, name: str) -> Response:
        """The changes the request's filters keep (every page of them), newest first as on the
        page, in the columns and words of ``hoinghi audit export``: read in one read-only
        transaction, then written in a thread — tens of thousands of rows take seconds, during
        which the event loop goes on serving the chats and the other pages."""
        office = self.office
        filters = replace(_filters(request), before=0)
        rows = await office.services.office_report.audit(filters)
        catalog, config = office.catalog, office.config
        sheet = catalog.plain("dash.log.sheet")

        def write() -> bytes:
            headings, table = audit_table(catalog, config, rows)
            if media_type == CSV:
                return csv_bytes(headings, table)
            return workbook_bytes([Sheet(sheet, headings, table)])

        content = await asyncio.to_thread(write)
        return attachment(content, file_name(office, name), media_type)

    def _entry(self, entry: Activity) -> dict[str, Any]:
        """An entry in words: who (a person's name, else what kind of account), when, what,
        about whom, and a line per changed field."""
        office = self.office
        catalog, config = office.catalog, office.config
        who = actor_label(catalog, entry.who, entry.actor)
        return {
            "id": entry.id,
            "at": entry.at,
            "who": who,
            "account": entry.actor,
            "what": action_words(office, entry.action),
            "subject": entry.subject or self._thing(entry),
            "lines": change_lines(
                catalog, config, entry.action, entry.before, entry.after, entry.names
            ),
        }

    def _thing(self, entry: Activity) -> str:
        """What a change is about when it is no person: «thông báo số 12», «nhiệm vụ VI.1.1»,
        «tham luận 1.1 — Nguyễn Thị Lan Phương»; the kind alone when it is gone."""
        catalog = self.office.catalog
        named = f"dash.log.about.{entry.entity}"
        if entry.about and catalog.has(named):
            return catalog.plain(named, about=entry.about)
        kind = f"report_sheet.audit_entity.{entry.entity}"
        return catalog.plain(kind) if catalog.has(kind) else entry.entity


def action_words(office: Office, action: str) -> str:
    """What an audited action did, in words (the download writes the same,
    :func:`action_label`); a kind the catalog does not know says its name."""
    return action_label(office.catalog, action)


def _filters(request: Request) -> LogFilters:
    """The log's filters as the request's address gives them: who (a code), what (a known
    kind of change), from and to (dates), and the page's place (``before``)."""
    query = request.query_params
    return LogFilters(
        who=query.get("who", "").strip()[:40],
        action=query.get("action", "") if query.get("action", "") in ACTIONS else "",
        since=_date(query.get("from", "")),
        until=_date(query.get("to", "")),
        before=parse_id(query.get("before", "")) or 0,
    )


def _date(text: str) -> date | None:
    """A date typed or picked as YYYY-MM-DD, or None."""
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None
