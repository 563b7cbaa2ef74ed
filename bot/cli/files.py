"""``hoinghi invites export``, ``invites print``, ``report``, ``audit export``,
``attendance export``, ``attendance sheet / cards / present`` and ``drafts export``: the files
the office takes away."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path

from bot.app import App, links_refusal
from bot.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    load,
    out,
    run_channel,
    say,
    target_problem,
    with_app,
    with_services,
    write_file,
)
from bot.config import ZALO_TOKEN_ENV, Config, base_url_is_local
from bot.documents.workbook import Cell, table_bytes, write_table
from bot.domain.drafts import DraftLine
from bot.domain.rsvp import RsvpStatus
from bot.domain.typed import shortened
from bot.services import Services
from bot.services.approved_bundle import INDEX as APPROVED_INDEX
from bot.services.approved_bundle import write_approved_folder
from bot.services.checkin import Roll
from bot.services.day_files import (
    name_cards_document,
    present_workbook,
    sign_sheet_document,
)
from bot.services.invitation_files import links_table, slips_document
from bot.services.report_file import audit_table, checkin_table, office_report_workbook
from bot.texts import Catalog
from bot.texts.presenters import channel_label


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
        read_at = app.services.ctx.clock.now()  # a link made after this is not in the file
        others = {
            channel: source.make for channel, source in links.sources.items()
            if channel != links.paper
        }  # fmt: skip
        people = await app.services.invitations.links()
        bots = await app.services.quotas.bots_by_code()  # several Zalo bots: each person's
        # Where to send the code, as the slips `invites print` writes say: the chats `run`
        # starts with this environment.
        chats = links.chat_bots(app.channels())
        headings, rows = links_table(catalog, config, people, links.link, others, bots, chats)
        content = table_bytes(path, headings, rows)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        # Recorded as a print: letters printed from it carry these links (a bulk «đã gửi» on
        # paper leaves out the links made since).
        office = app.services.access.local_operator()
        await app.services.invitations.record_print(office, read_at, "links")
        done = "export.done_web" if links.paper == "web" else "export.done"
        out(catalog.plain(done, path=path, count=len(rows), username=links.name))
        for bot, env in zalo_left_out(config, chats):
            out(catalog.plain("export.zalo_left_out", bot=bot, env=env), sys.stderr)
        if links.paper == "web" and config.web is not None:
            local_links_note(config.web.base_url, catalog)
        return EXIT_OK

    return run_channel(catalog, loaded[0], work, same_meeting=args.same_meeting)


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

    async def work(app: App) -> int:
        links = await app.personal_links(bot_name=args.bot_username)
        read_at = app.services.ctx.clock.now()  # a link made after this is not on the slips
        people = await app.services.invitations.links()
        bots = await app.services.quotas.bots_by_code()  # several Zalo bots: each person's
        # The chats `run` starts with this environment, Telegram's by the name its links carry:
        # each slip names the chat that takes the code, as the invitation message does.
        chats = links.chat_bots(app.channels())
        content, count = slips_document(catalog, config, people, links.link, bots, chats)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        office = app.services.access.local_operator()
        await app.services.invitations.record_print(office, read_at)
        done = "slips.done_web" if links.paper == "web" else "slips.done"
        out(catalog.plain(done, count=count, path=path, username=links.name))
        for bot, env in zalo_left_out(config, chats):
            out(catalog.plain("slips.zalo_left_out", bot=bot, env=env), sys.stderr)
        if links.paper == "web" and config.web is not None:
            local_links_note(config.web.base_url, catalog)
        return EXIT_OK

    return run_channel(catalog, loaded[0], work, same_meeting=args.same_meeting)


def local_links_note(base_url: str, catalog: Catalog) -> None:
    """Say on stderr that the file's links open only on this server, when they do."""
    if base_url_is_local(base_url):
        out(catalog.plain("export.local_base_url", url=base_url), sys.stderr)


def zalo_left_out(config: Config, chats: Mapping[str, str]) -> list[tuple[str, str]]:
    """The Zalo bots the plan names (each with its token's variable) that the files just
    written leave out because this terminal does not set that token: the slips and the links
    file name only a bot that runs, and a command run beside ``hoinghi run`` in another
    terminal cannot see which bots that process runs. Said, not guessed: the office would
    otherwise print slips that never mention the bot it set up."""
    zalo = config.zalo
    envs = [ZALO_TOKEN_ENV, *(bot.token_env for bot in zalo.bots)]
    return [
        (name, env)
        for number, env in enumerate(envs)
        if (name := zalo.finding(number)[0]) and zalo.channel(number) not in chats
    ]


def bot_username_option(parser: argparse.ArgumentParser) -> None:
    """``--bot-username``: the bot's name for the links, instead of asking Telegram."""
    parser.add_argument(
        "--bot-username",
        metavar="TÊN",
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

    async def work(app: App) -> int:
        # Reachable means on a chat that runs: here, one `run` starts with this environment;
        # linked is counted on every chat (the shell's environment is not the service's).
        app.count_chats_as_run()
        report = await app.services.office_report.collect()
        content = office_report_workbook(catalog, config, report)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        # The delegates sheet lists a withdrawn invitation too, marked: the line counts the
        # invitees and says how many more the sheet shows.
        withdrawn = sum(1 for row in report.delegates if row.withdrawn)
        out(
            catalog.plain(
                "report_file.done_withdrawn" if withdrawn else "report_file.done",
                path=path,
                delegates=len(report.delegates) - withdrawn,
                withdrawn=withdrawn,
                drafts=sum(not line.withdrawn for line in report.drafts),
                tasks=len(report.tasks),
                messages=len(report.messages),
            )
        )
        # Someone linked on a chat this shell does not run is marked unreachable «from this
        # machine»: the service, started with the token, may well reach her. Said plainly.
        idle = sorted({channel for row in report.delegates for channel in row.idle})
        envs = [report.token_envs[channel] for channel in idle if channel in report.token_envs]
        if envs:
            names = ", ".join(channel_label(catalog, channel) for channel in idle)
            out(catalog.plain("report_file.shell_view", channel=names, env=", ".join(envs)),
                sys.stderr)  # fmt: skip
        return EXIT_OK

    return asyncio.run(with_app(loaded[0], catalog, work, same_meeting=args.same_meeting))


# What a table export writes: its headings, its rows, and the line that says it was written.
Table = tuple[list[str], list[list[Cell]], str]


def export_table(
    args: argparse.Namespace, build: Callable[[Services, Config, Catalog, Path], Awaitable[Table]]
) -> int:
    """Write the table ``build`` makes to ``args.file`` (.csv or .xlsx, checked before anything
    is read), then say what was written."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if (problem := table_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        headings, rows, done = await build(services, config, catalog, path)
        content = table_bytes(path, headings, rows)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        out(done)
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write every audited change (who, when, what, from, to) to CSV or XLSX."""

    async def build(services: Services, config: Config, catalog: Catalog, path: Path) -> Table:
        headings, rows = audit_table(catalog, config, await services.office_report.audit())
        return headings, rows, catalog.plain("audit_export.done", count=len(rows), path=path)

    return export_table(args, build)


def cmd_attendance_export(args: argparse.Namespace) -> int:
    """Write every check-in at the reception desk (who came, as whom, desk, time, undo) to CSV
    or XLSX."""

    async def build(services: Services, config: Config, catalog: Catalog, path: Path) -> Table:
        count = await services.checkin.count()
        headings, rows = checkin_table(catalog, config, await services.checkin.records())
        done = catalog.plain(
            "attendance_export.done",
            count=len(rows),
            path=path,
            present=count.present,
            arrived=count.arrived,
            expected=count.expected,
            unexpected=count.unexpected,
            guests=len(count.guests),
            in_hall=count.in_hall,
        )
        if count.withdrawn:  # so that the figures add up to the hall's
            done += " " + catalog.plain("attendance_export.withdrawn", count=len(count.withdrawn))
        return headings, rows, done

    return export_table(args, build)


def _day_paper(
    args: argparse.Namespace,
    suffix: str,
    build: Callable[[Services, Config, Catalog, Path], Awaitable[tuple[bytes, str]]],
) -> int:
    """Write the paper ``build`` makes (its bytes and the line saying so) to ``args.file``,
    which must end in ``suffix`` (checked before anything is read)."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() != suffix:
        out(catalog.plain(f"day_papers.bad_{suffix[1:]}", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := target_problem(path, args.force, catalog)) is not None:
        out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        content, done = await build(services, config, catalog, path)
        if (problem := write_file(path, content, force=args.force, catalog=catalog)) is not None:
            out(problem, sys.stderr)
            return EXIT_USAGE
        out(done)
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


def _roll_document(
    make: Callable[[Catalog, Config, Roll, datetime], tuple[bytes, int]], done_key: str, doc: str
) -> Callable[[argparse.Namespace], int]:
    """A command writing one of the day's .docx papers, built by ``make`` from the roll read
    now, and saying how many people it holds by the catalog's ``done_key``."""

    def command(args: argparse.Namespace) -> int:
        async def build(
            services: Services, config: Config, catalog: Catalog, path: Path
        ) -> tuple[bytes, str]:
            roll = await services.checkin.roll()
            content, count = make(catalog, config, roll, services.ctx.clock.now())
            return content, catalog.plain(done_key, count=count, path=path)

        return _day_paper(args, ".docx", build)

    command.__doc__ = doc
    return command


cmd_attendance_sheet = _roll_document(
    sign_sheet_document,
    "day_papers.sheet_done",
    "Write the signature sheet (.docx) of everyone expected, group by group.",
)
cmd_attendance_cards = _roll_document(
    name_cards_document,
    "day_papers.cards_done",
    "Write a table name card (.docx) for everyone expected.",
)


def cmd_attendance_present(args: argparse.Namespace) -> int:
    """Write who is present now, and who is expected and not yet, to an .xlsx."""

    async def build(
        services: Services, config: Config, catalog: Catalog, path: Path
    ) -> tuple[bytes, str]:
        roll = await services.checkin.roll()
        present = sum(line.came is not None for line in roll.lines)
        present += len(roll.guests) + len(roll.withdrawn)
        out = [line for line in roll.lines if line.came is None]
        missing = sum(line.status.is_present for line in out)
        no_answer = sum(line.status is RsvpStatus.NO_ANSWER for line in out)
        done = catalog.plain("day_papers.present_done", path=path, present=present,
                             missing=missing, no_answer=no_answer)  # fmt: skip
        return present_workbook(catalog, config, roll), done

    return _day_paper(args, ".xlsx", build)


DRAFTS_INDEX = "danh-muc-tham-luan.xlsx"
# A unit's name in an exported draft's file name, at most: the theme and the version follow it.
EXPORT_UNIT_CHARS = 60


def cmd_drafts_export(args: argparse.Namespace) -> int:
    """Copy the latest version of every speech draft, named by unit and theme, and write an
    index spreadsheet next to them; with ``--approved``, only the approved versions, named and
    listed as the dashboard's .zip of them."""
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
            # A unit's long name is cut, so that the theme and the version stay in the name.
            organization=shortened(line.organization, EXPORT_UNIT_CHARS),
            code=line.code,
            theme=line.theme_key,
            number=line.latest.number,
        )

    async def approved(services: Services) -> int:
        items = await services.drafts.approved()
        lost = await asyncio.to_thread(write_approved_folder, directory, catalog, meeting, items)
        files = len(items) - len(lost)
        out(catalog.plain("drafts_export.approved_done", files=files, index=APPROVED_INDEX,
                          path=directory))  # fmt: skip
        return report_lost([item.draft for item in lost])

    def report_lost(lost: list[DraftLine]) -> int:
        if not lost:
            return EXIT_OK
        for line in lost:
            assert line.latest is not None
            out(catalog.plain("drafts_export.lost", number=line.latest.number,
                              theme=line.theme_key, name=line.full_name,
                              organization=line.organization, file=line.latest.display_name),
                sys.stderr)  # fmt: skip
        folder = loaded[0].drafts_dir
        out(catalog.plain("drafts_export.lost_why", count=len(lost), folder=folder), sys.stderr)
        return EXIT_FAILED

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
                    catalog.plain("drafts_export.lost_cell") if item.lost else item.file_name,
                    latest.sha256 if latest else None,
                    comment.body if comment else None,
                ]
            )
        write_table(directory / DRAFTS_INDEX, headings, rows)
        files = sum(item.file_name is not None for item in exported)
        lost = [item for item in exported if item.lost]
        out(
            catalog.plain(
                "drafts_export.done",
                files=files,
                missing=len(exported) - files - len(lost),
                index=DRAFTS_INDEX,
                path=directory,
            )
        )
        return report_lost([item.draft for item in lost])

    directory.mkdir(exist_ok=True)  # the one folder this command makes: its own, empty
    run = approved if args.approved else work
    return asyncio.run(with_services(loaded[0], catalog, run, same_meeting=args.same_meeting))
