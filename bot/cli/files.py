"""``hoinghi invites export``, ``invites print``, ``report``, ``audit export``,
``attendance export`` and ``drafts export``: the files the office takes away."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from bot.app import App, links_refusal
from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    load,
    out,
    run_channel,
    say,
    target_problem,
    with_services,
    write_file,
)
from bot.config import Config
from bot.documents.slips import Slip, SlipTexts, build_slips
from bot.documents.workbook import Cell, Link, table_bytes, write_table
from bot.domain.drafts import DraftLine
from bot.domain.phones import display_phone
from bot.domain.tokens import format_link_code
from bot.services import Services
from bot.services.report_file import audit_table, checkin_table, office_report_workbook
from bot.texts import Catalog
from bot.texts.formatting import clock, long_date
from bot.texts.presenters import deadline_text


def table_problem(path: Path, force: bool, catalog: Catalog) -> str | None:
    """Why a table export should not write ``path``: not a .csv or .xlsx, or
    :func:`target_problem`'s reasons."""
    if path.suffix.lower() not in (".csv", ".xlsx"):
        return catalog.plain("export.bad_format", path=path)
    return target_problem(path, force, catalog)


def cmd_invites_export(args: argparse.Namespace) -> int:
    """Write each delegate's personal link and personal code to a CSV or XLSX file."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if (problem := table_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE
    if (refusal := links_refusal(os.environ, args.bot_username, config.web)) is not None:
        out(say(catalog, refusal), sys.stderr)
        return EXIT_USAGE

    async def work(app: App) -> int:
        links = await app.personal_links(bot_name=args.bot_username)
        labels = {g.key: g.label for g in config.groups}
        names = ("code", "name", "position", "organization", "group", "phone", "link")
        headings = [catalog.plain(f"export.heading.{name}") for name in names]
        # The paper link first; each other channel's link (the bot's, next to the web page's)
        # in a column of its own.
        others = [channel for channel in links.sources if channel != links.paper]
        headings += [catalog.plain(f"export.heading.link_{channel}") for channel in others]
        # The personal code last: what a person types where no link opens (Zalo).
        headings.append(catalog.plain("export.heading.link_code"))
        # Several Zalo bots: the one each person is told to write to, after the code.
        bots = await app.services.quotas.bots_by_code()
        if bots:
            headings.append(catalog.plain("export.heading.zalo_bot"))
        quotas = config.quotas()
        rows: list[list[Cell]] = [
            [
                link.code,
                link.full_name,
                link.position,
                link.organization,
                labels.get(link.group_key)
                or (catalog.plain("export.contact") if link.role == "contact" else link.group_key),
                display_phone(link.phone) if link.phone else None,
                Link(links.link(link.token)),
                *(Link(links.of(link.token)[channel]) for channel in others),
                format_link_code(link.link_code),
                *(
                    (config.zalo.finding(bots[link.code])[0] or quotas[bots[link.code]].label,)
                    if bots
                    else ()
                ),
            ]
            for link in await app.services.invitations.links()
        ]
        content = table_bytes(path, headings, rows)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        done = "export.done_web" if links.paper == "web" else "export.done"
        out(catalog.plain(done, path=path, count=len(rows), username=links.name))
        return EXIT_OK

    return run_channel(catalog, loaded[0], work)


def cmd_invites_print(args: argparse.Namespace) -> int:
    """Write one printable slip per delegate, with a QR code of their personal link and their
    personal code."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() != ".docx":
        out(catalog.plain("slips.bad_format", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := target_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE
    if (refusal := links_refusal(os.environ, args.bot_username, config.web)) is not None:
        out(say(catalog, refusal), sys.stderr)
        return EXIT_USAGE
    meeting = config.meeting

    async def work(app: App) -> int:
        links = await app.personal_links(bot_name=args.bot_username)
        bots = await app.services.quotas.bots_by_code()  # several Zalo bots: each person's
        slips = [
            Slip(
                code=link.code,
                full_name=link.full_name,
                position=link.position,
                organization=link.organization,
                link=links.link(link.token),
                link_code=format_link_code(link.link_code),
                code_hint=zalo_hint(catalog, config, bots[link.code]) if bots else "",
            )
            for link in await app.services.invitations.links()
            if link.role == "delegate"  # task contacts get no paper invitation
        ]
        start = meeting.local(meeting.starts_at)
        texts = SlipTexts(
            title=meeting.title,
            when_where=catalog.plain(
                "slips.when_where",
                time=clock(start),
                date=long_date(catalog, start),
                venue=meeting.venue.name,
                address=meeting.venue.address,
            ),
            greeting=catalog.template("slips.greeting"),
            instruction=catalog.plain("slips.instruction"),
            link_hint=catalog.template("slips.link_hint"),
            deadline=catalog.plain("slips.deadline", deadline=deadline_text(catalog, config)),
            contact=catalog.plain("slips.contact", contact=config.office.contact),
            code_hint=(
                catalog.template("slips.code_hint_zalo").replace("{bot}", config.zalo.bot_name)
                if config.zalo.bot_name
                else catalog.template("slips.code_hint")
            ),
        )
        content = build_slips(slips, texts)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        done = "slips.done_web" if links.paper == "web" else "slips.done"
        out(catalog.plain(done, count=len(slips), path=path, username=links.name))
        return EXIT_OK

    return run_channel(catalog, loaded[0], work)


def zalo_hint(catalog: Catalog, config: Config, bot: int) -> str:
    """The hint around a slip's code naming the Zalo bot ``bot`` (its place among the plan's
    bots), or the plain hint when that bot has no name."""
    name = config.zalo.finding(bot)[0]
    if not name:
        return catalog.template("slips.code_hint")
    return catalog.template("slips.code_hint_zalo").replace("{bot}", name)


def bot_username_option(parser: argparse.ArgumentParser) -> None:
    """``--bot-username``: the bot's name for the links, instead of asking Telegram."""
    parser.add_argument(
        "--bot-username",
        help="tên bot (không có @); mặc định hỏi Telegram bằng TELEGRAM_BOT_TOKEN",
    )


def cmd_report(args: argparse.Namespace) -> int:
    """Write the office's report workbook."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() != ".xlsx":
        out(catalog.plain("report_file.bad_format", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := target_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        report = await services.office_report.collect()
        content = office_report_workbook(catalog, config, report)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        out(
            catalog.plain(
                "report_file.done",
                path=path,
                delegates=len(report.delegates),
                drafts=len(report.drafts),
                tasks=len(report.tasks),
                messages=len(report.messages),
            )
        )
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work))


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write every audited change (who, when, what, from, to) to CSV or XLSX."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if (problem := table_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        headings, rows = audit_table(catalog, config, await services.office_report.audit())
        content = table_bytes(path, headings, rows)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        out(catalog.plain("audit_export.done", count=len(rows), path=path))
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work))


def cmd_attendance_export(args: argparse.Namespace) -> int:
    """Write every check-in at the reception desk (who came, as whom, desk, time, undo) to CSV
    or XLSX."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if (problem := table_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        records = await services.checkin.records()
        count = await services.checkin.count()
        headings, rows = checkin_table(catalog, config, records)
        content = table_bytes(path, headings, rows)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        out(
            catalog.plain(
                "attendance_export.done",
                count=len(rows),
                path=path,
                present=count.present,
                expected=count.expected,
                guests=len(count.guests),
            )
        )
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work))


DRAFTS_INDEX = "danh-muc-tham-luan.xlsx"


def cmd_drafts_export(args: argparse.Namespace) -> int:
    """Copy the latest version of every speech draft, named by unit and theme, and write an
    index spreadsheet next to them."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    directory: Path = args.directory
    if not directory.parent.is_dir():
        out(catalog.plain("output.no_folder", folder=directory.parent, path=directory), sys.stderr)
        return EXIT_USAGE
    if directory.exists() and not directory.is_dir():
        out(catalog.plain("drafts_export.not_a_directory", path=directory), sys.stderr)
        return EXIT_USAGE
    if directory.is_dir() and any(directory.iterdir()):
        out(catalog.plain("drafts_export.not_empty", path=directory), sys.stderr)
        return EXIT_USAGE
    meeting = config.meeting

    def name_for(line: DraftLine, with_code: bool) -> str:
        assert line.latest is not None
        key = "drafts_export.name_with_code" if with_code else "drafts_export.name"
        return catalog.plain(
            key,
            organization=line.organization,
            code=line.code,
            theme=line.theme_key,
            number=line.latest.number,
        )

    async def work(services: Services) -> int:
        exported = await services.drafts.export(directory, name_for)
        headings = [
            catalog.plain(f"drafts_export.heading.{name}")
            for name in (
                "theme",
                "theme_title",
                "code",
                "name",
                "position",
                "organization",
                "status",
                "versions",
                "received",
                "size",
                "file",
                "sha256",
                "last_comment",
            )
        ]
        rows: list[list[Cell]] = []
        for item in exported:
            line, latest, comment = item.draft, item.draft.latest, item.draft.last_comment
            rows.append(
                [
                    line.theme_key,
                    line.theme_title,
                    line.code,
                    line.full_name,
                    line.position,
                    line.organization,
                    catalog.plain(f"draft_status.{line.status.value}"),
                    line.versions,
                    meeting.local(latest.created_at) if latest else None,
                    latest.size if latest else None,
                    item.file_name,
                    latest.sha256 if latest else None,
                    comment.body if comment else None,
                ]
            )
        write_table(directory / DRAFTS_INDEX, headings, rows)
        files = sum(item.file_name is not None for item in exported)
        out(
            catalog.plain(
                "drafts_export.done",
                files=files,
                missing=len(exported) - files,
                index=DRAFTS_INDEX,
                path=directory,
            )
        )
        return EXIT_OK

    directory.mkdir(exist_ok=True)  # the one folder this command makes: its own, empty
    return asyncio.run(with_services(loaded[0], catalog, work))
