"""Giấy mời and Báo cáo on the dashboard: the links export (.xlsx), the printable slips
(.docx) and the report workbook (.xlsx), built by the same functions as ``hoinghi invites
export``, ``invites print`` and ``hoinghi report`` (and ``/baocao``), sent as attachments; and
the meeting day's papers (the signature sheet, the name cards, the present list), as
``hoinghi attendance sheet / cards / present`` write them.

The paper link is the personal web page's (the dashboard runs on that web server); each chat
channel running with it adds its own column, as the CLI adds those it can reach.

Each file's rows are read from the database (async, read-only) and the file is then built in
a worker thread (``asyncio.to_thread``): at 10,000 delegates the report takes seconds of CPU
and the slips a minute, during which the loop goes on serving the chats, the personal pages and
the outbox. The day's papers' roll is read in a worker thread too, on a connection of its own
(:meth:`bot.services.checkin.CheckinService.roll_in_a_worker`): its 10,000 rows held the loop
for tens of milliseconds. The thread building a file is given plain values only (frozen rows,
the frozen config, the read-only catalog, a copy of the chat channels' link makers), never an
ORM object, a session or the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.config import Config
from bot.documents.workbook import Sheet, workbook_bytes
from bot.services.access import OfficeActor
from bot.services.checkin import Roll
from bot.services.day_files import name_cards_document, present_workbook, sign_sheet_document
from bot.services.invitation_files import links_table, slips_document
from bot.services.report_file import REPORT_DOWNLOAD, office_report_workbook
from bot.services.signin import StaffVisit
from bot.texts import Catalog
from handlers.web.attachment import attachment

if TYPE_CHECKING:
    from handlers.web.office.app import Office, StaffHandler

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LinkMaker = Callable[[str], str]
# A meeting day's paper built from the roll and the moment it is made (in a worker thread).
RollFile = Callable[[Catalog, Config, Roll, datetime], bytes]


class Downloads:
    """The downloads' handlers, on the dashboard's :class:`Office`."""

    def __init__(
        self, office: Office, paper: LinkMaker, chat_links: Mapping[str, LinkMaker]
    ) -> None:
        self.office = office
        self.paper = paper
        self.chat_links = chat_links  # filled by the chat channels as they start

    def routes(self) -> list[BaseRoute]:
        """The downloads' routes, for signed-in office staff only."""
        staff = self.office.staff
        return [
            Route("/invitations", staff(self.page), methods=["GET"]),
            Route("/invitations/links.xlsx", staff(self.links), methods=["GET"]),
            Route("/invitations/slips.docx", staff(self.slips), methods=["GET"]),
            Route(f"/{REPORT_DOWNLOAD}", staff(self.report), methods=["GET"]),
            Route(
                "/attendance/sign-sheet.docx",
                staff(self._day_paper(_sign_sheet, "dash.day_papers.sheet_file", DOCX)),
                methods=["GET"],
            ),
            Route(
                "/attendance/name-cards.docx",
                staff(self._day_paper(_name_cards, "dash.day_papers.cards_file", DOCX)),
                methods=["GET"],
            ),
            Route(
                "/attendance/present.xlsx",
                staff(self._day_paper(_present, "dash.day_papers.present_file", XLSX)),
                methods=["GET"],
            ),
        ]

    async def page(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The three downloads, with what each holds."""
        people, delegates = await self.office.services.invitations.link_counts()
        papers = await self.office.services.checkin.count()  # the day's papers' counts
        return self.office._render(
            "office/invitations.html", visit=visit, actor=actor, people=people,
            delegates=delegates, channels=list(self.chat_links), papers=papers,
        )  # fmt: skip

    async def links(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """Everyone's personal links and codes, as ``invites export`` writes them."""
        office = self.office
        catalog, config, paper = office.catalog, office.config, self.paper
        read_at = office.services.ctx.clock.now()  # a link made after this is not in the file
        people = await office.services.invitations.links()
        bots = await office.services.quotas.bots_by_code()  # several Zalo bots: each person's
        # A copy: a chat channel starting meanwhile adds its maker on the loop.
        others = dict(self.chat_links)
        chats = dict(office.chat_bots)  # where to send the code, as the slips name it
        # The sheet is named in words: the file's name, stamped to the minute, would be cut at
        # Excel's 31 characters in the middle of its date.
        title = catalog.plain("dash.invitations.links_sheet")

        def write() -> bytes:
            headings, rows = links_table(catalog, config, people, paper, others, bots, chats)
            return workbook_bytes([Sheet(title, headings, rows)])

        content = await asyncio.to_thread(write)
        # Recorded as a print, as the slips are: letters printed from it carry these links.
        await office.services.invitations.record_print(actor, read_at, "links")
        return attachment(content, self._name("dash.invitations.links_file"), XLSX)

    async def slips(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The printable slips, as ``invites print`` writes them."""
        office = self.office
        read_at = office.services.ctx.clock.now()  # a link made after this is not on the slips
        people = await office.services.invitations.links()
        bots = await office.services.quotas.bots_by_code()
        # Each slip names the chat that takes the code, as the invitation message does: the
        # chats running here (a copy: a channel starting meanwhile names its bot on the loop).
        chats = dict(office.chat_bots)
        content, _ = await asyncio.to_thread(
            slips_document, office.catalog, office.config, people, self.paper, bots, chats
        )
        # Recorded: a bulk «đã gửi» on paper leaves out the links made since.
        await office.services.invitations.record_print(actor, read_at)
        return attachment(content, self._name("dash.invitations.slips_file"), DOCX)

    async def report(self, request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
        """The report workbook, as ``hoinghi report`` and ``/baocao`` make it."""
        office = self.office
        services, catalog, config = office.services, office.catalog, office.config
        report = await services.office_report.collect()
        content = await asyncio.to_thread(office_report_workbook, catalog, config, report)
        return attachment(content, self._name("report_file.name"), XLSX)

    def _day_paper(self, make: RollFile, key: str, kind: str) -> StaffHandler:
        """A download of the meeting day's papers: ``make`` builds the file in a worker thread
        from the roll read now, in a worker thread too (as ``attendance sheet / cards /
        present`` write it), named by the catalog's ``key``."""

        async def download(request: Request, visit: StaffVisit, actor: OfficeActor) -> Response:
            office = self.office
            roll = await office.services.checkin.roll_in_a_worker()
            made = office.services.ctx.clock.now()
            content = await asyncio.to_thread(make, office.catalog, office.config, roll, made)
            return attachment(content, self._name(key), kind)

        return download

    def _name(self, key: str) -> str:
        return file_name(self.office, key)


def file_name(office: Office, key: str) -> str:
    """A download's name from the catalog's ``key``: the meeting's code and the local date and
    minute it was taken ("bao-cao-60-KH-BTV-20240518-0900.xlsx")."""
    now = office.config.meeting.local(office.services.ctx.clock.now())
    stamp = f"{now:%Y%m%d-%H%M}"
    return office.catalog.plain(key, code=office.config.meeting.code, stamp=stamp)


def _sign_sheet(catalog: Catalog, config: Config, roll: Roll, made: datetime) -> bytes:
    """The signature sheet of everyone expected."""
    return sign_sheet_document(catalog, config, roll, made)[0]


def _name_cards(catalog: Catalog, config: Config, roll: Roll, made: datetime) -> bytes:
    """A name card per person expected."""
    return name_cards_document(catalog, config, roll, made)[0]


def _present(catalog: Catalog, config: Config, roll: Roll, made: datetime) -> bytes:
    """Who is present, and who is expected and not yet, at the moment of the download."""
    return present_workbook(catalog, config, roll)
