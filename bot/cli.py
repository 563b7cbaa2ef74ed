"""The ``hoinghi`` command and the composition root: config → engine → services → bot.

Nothing is built at import time; each sub-command builds what it needs, in that order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_outbox, build_scheduler
from bot.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    TOKEN_ENV,
    Config,
    ConfigError,
    LoadedConfig,
    config_path,
    load_config,
    plan_warnings,
)
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import RowProblem, parse_delegate_file
from bot.documents.slips import Slip, SlipTexts, build_slips
from bot.documents.workbook import Cell, Link, table_bytes, write_table
from bot.domain.clock import SystemClock
from bot.domain.drafts import DraftLine
from bot.domain.outbound import MessageKind
from bot.domain.phones import display_phone
from bot.domain.reminders import planned_messages
from bot.errors import ChannelUnavailable
from bot.logs import setup_logging
from bot.services import Services, build_services
from bot.services.privacy import PurgeStep, PurgeSummary
from bot.services.report_file import audit_table, office_report_workbook
from bot.texts import DEFAULT_LOCALE, Catalog, load_catalog
from bot.texts.formatting import clock, file_size, long_date, moment
from bot.texts.presenters import deadline_text
from storage.backup import BackupError, backup_sqlite
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.guard import (
    DatabaseLock,
    DatabaseUnavailable,
    check_sqlite_file,
    check_writable,
    explained,
)
from storage.migrate import current_revision, head_revision, upgrade_database

log = logging.getLogger("hoinghi")
T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
WEBHOOK_SECRET_ENV = "HOINGHI_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
# What Telegram accepts as a webhook secret_token.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
# Telegram bot usernames: 5–32 letters, digits and underscores (a wrong one prints broken QR codes).
BOT_USERNAME = re.compile(r"[A-Za-z0-9_]{5,32}")
# What @BotFather issues: the bot's numeric id, a colon, then 35 base64url characters (30 or more
# accepted). A pasted quote, space or half token is said as such before any request: sent to
# Telegram it only comes back as a network failure.
BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
# The example plan and lists beside the package (a checkout or an editable install).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = PROJECT_ROOT / "config.example.toml"
EXAMPLES = PROJECT_ROOT / "examples"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; the exit code is 0 on success."""
    # python-telegram-bot's retry_after becomes a timedelta; opt in now (the code reads both).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    args = _parser().parse_args(argv)
    # The running bot's log is its output; an office command answers in Vietnamese, and its
    # internal notes stay out of that answer unless -v asks for them.
    quiet = logging.INFO if args.command is cmd_run else logging.WARNING
    setup_logging(logging.DEBUG if args.verbose else quiet, secrets=[os.environ.get(TOKEN_ENV, "")])
    command: Callable[[argparse.Namespace], int] = args.command
    return command(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hoinghi", description="Trợ lý điều phối đại biểu hội nghị (Telegram)."
    )
    parser.add_argument(
        "--config", help="tệp cấu hình (mặc định: $HOINGHI_CONFIG, rồi ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="ghi nhật ký chi tiết")
    sub = parser.add_subparsers(required=True, metavar="LỆNH")

    run = sub.add_parser("run", help="chạy bot (tự tạo hoặc nâng cấp cơ sở dữ liệu)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help=f"nhận cập nhật qua webhook thay vì long polling (khóa bí mật: ${WEBHOOK_SECRET_ENV})",
    )
    run.add_argument("--listen", default="127.0.0.1:8443", help="địa chỉ:cổng máy chủ webhook")
    run.add_argument("--url", help="địa chỉ công khai HTTPS mà Telegram gửi cập nhật tới")
    run.set_defaults(command=cmd_run)
    sub.add_parser("check", help="kiểm tra tệp cấu hình và in tóm tắt kế hoạch").set_defaults(
        command=cmd_check
    )
    db = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(required=True, metavar="LỆNH")
    db.add_parser("upgrade", help="tạo hoặc nâng cấp cơ sở dữ liệu").set_defaults(
        command=cmd_db_upgrade
    )
    backup = db.add_parser(
        "backup", help="sao lưu cơ sở dữ liệu SQLite (chạy được khi bot đang chạy)"
    )
    backup.add_argument("file", type=Path)
    backup.set_defaults(command=cmd_db_backup)

    purge = sub.add_parser(
        "purge", help="xóa dữ liệu cá nhân sau hội nghị, giữ danh sách và số liệu tổng hợp"
    )
    purge.add_argument("--drafts", action="store_true", help="xóa cả các bản tham luận đã gửi")
    purge.add_argument("--force", action="store_true", help="xóa cả khi hội nghị chưa kết thúc")
    answer = purge.add_mutually_exclusive_group()
    answer.add_argument(
        "--dry-run", action="store_true", help="chỉ cho biết sẽ xóa những gì, không xóa"
    )
    answer.add_argument(
        "-y", "--yes", action="store_true", help="xóa ngay, không hỏi lại (khi chạy từ kịch bản)"
    )
    purge.set_defaults(command=cmd_purge)

    delegates = sub.add_parser("delegates", help="danh sách đại biểu").add_subparsers(
        required=True, metavar="LỆNH"
    )
    imp = delegates.add_parser("import", help="nhập danh sách đại biểu từ tệp CSV hoặc XLSX")
    imp.add_argument("file", type=Path)
    _sheet_option(imp)
    imp.set_defaults(command=cmd_delegates_import)

    people = sub.add_parser(
        "people", help="người đầu mối nhiệm vụ (cùng định dạng, cột Vai trò = đầu mối)"
    ).add_subparsers(required=True, metavar="LỆNH")
    imp_people = people.add_parser("import", help="nhập danh sách (như delegates import)")
    imp_people.add_argument("file", type=Path)
    _sheet_option(imp_people)
    imp_people.set_defaults(command=cmd_delegates_import)

    invites = sub.add_parser("invites", help="giấy mời").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp = invites.add_parser("export", help="xuất đường liên kết cá nhân ra tệp CSV hoặc XLSX")
    exp.add_argument("file", type=Path)
    _bot_username_option(exp)
    _force_option(exp)
    exp.set_defaults(command=cmd_invites_export)
    prn = invites.add_parser(
        "print", help="phiếu in kèm giấy mời (DOCX): họ tên, chức vụ, đơn vị, mã QR đường liên kết"
    )
    prn.add_argument("file", type=Path)
    _bot_username_option(prn)
    _force_option(prn)
    prn.set_defaults(command=cmd_invites_print)

    drafts = sub.add_parser("drafts", help="tham luận").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp_drafts = drafts.add_parser(
        "export", help="xuất bản mới nhất của mọi tham luận và danh mục Excel vào một thư mục"
    )
    exp_drafts.add_argument("directory", type=Path)
    exp_drafts.set_defaults(command=cmd_drafts_export)

    rehearse = sub.add_parser(
        "rehearse",
        help="diễn tập cả kế hoạch trên một máy, với Telegram mô phỏng (không cần token)",
    )
    rehearse.add_argument(
        "--delegates", type=Path, default=EXAMPLES / "delegates.csv", help="danh sách đại biểu"
    )
    rehearse.add_argument(
        "--contacts", type=Path, default=EXAMPLES / "contacts.csv", help="danh sách đầu mối"
    )
    rehearse.add_argument(
        "--report", type=Path, default=Path("bao-cao-dien-tap.xlsx"), help="tệp báo cáo"
    )
    rehearse.add_argument(
        "--faults",
        action="store_true",
        help="diễn tập khi có sự cố: lỗi 5xx, quá giờ, 429, bot bị dừng đột ngột, người chặn bot",
    )
    rehearse.add_argument("--seed", type=int, default=60, help="hạt giống ngẫu nhiên")
    _force_option(rehearse)
    rehearse.set_defaults(command=cmd_rehearse)

    report = sub.add_parser(
        "report", help="báo cáo Excel: đại biểu, tổng hợp, tham luận, nhiệm vụ, gửi tin"
    )
    report.add_argument("file", type=Path)
    _force_option(report)
    report.set_defaults(command=cmd_report)

    audit = sub.add_parser("audit", help="nhật ký thay đổi").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp_audit = audit.add_parser(
        "export", help="xuất mọi thay đổi (ai, khi nào, thay đổi gì) ra tệp CSV hoặc XLSX"
    )
    exp_audit.add_argument("file", type=Path)
    _force_option(exp_audit)
    exp_audit.set_defaults(command=cmd_audit_export)
    return parser


def _sheet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sheet",
        metavar="TÊN",
        help="trang (sheet) của tệp XLSX cần đọc; mặc định: trang có dòng tiêu đề danh sách",
    )


# --- helpers -----------------------------------------------------------------------------------


def _out(text: str, stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stdout)


def _load(args: argparse.Namespace) -> tuple[LoadedConfig, Catalog] | int:
    """The validated config and a catalog in its locale, or an exit code after printing why."""
    path = config_path(args.config)
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        _print_config_errors(load_catalog(DEFAULT_LOCALE), exc)
        return EXIT_INVALID
    return loaded, load_catalog(loaded.config.meeting.locale)


def _print_config_errors(catalog: Catalog, error: ConfigError) -> None:
    _out(
        catalog.plain("cli.config_invalid", path=error.path, count=len(error.problems)), sys.stderr
    )
    for problem in error.problems:
        key = f"config_errors.{problem.code}"
        params = {"value": "", "detail": "", **problem.params}
        message = catalog.plain(key if catalog.has(key) else "config_errors.other", **params)
        where = problem.key or catalog.plain("cli.config_file")
        _out(catalog.plain("cli.problem_line", where=where, message=message), sys.stderr)


def _force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="ghi đè nếu tệp đã có")


def _target_problem(path: Path, force: bool, catalog: Catalog) -> str | None:
    """Why a command should not write ``path``: its folder is missing (a mistyped path must not
    create folders), it is a folder, or it exists and ``--force`` was not given."""
    if not path.parent.is_dir():
        return catalog.plain("output.no_folder", folder=path.parent, path=path)
    if path.is_dir():
        return catalog.plain("output.is_folder", path=path)
    if path.exists() and not force:
        return catalog.plain("output.exists", path=path)
    return None


def _write_file(path: Path, content: bytes, *, force: bool, catalog: Catalog) -> str | None:
    """Write ``content`` to ``path`` (a new file unless ``force``: checked again as it is
    opened); None, or why it could not be written."""
    try:
        with path.open("wb" if force else "xb") as fh:
            fh.write(content)
    except FileExistsError:
        return catalog.plain("output.exists", path=path)
    except FileNotFoundError:
        return catalog.plain("output.no_folder", folder=path.parent, path=path)
    except IsADirectoryError:
        return catalog.plain("output.is_folder", path=path)
    except OSError as exc:  # e.g. the file is open in Excel on Windows
        return catalog.plain("output.unwritable", path=path, reason=exc.strerror or exc)
    return None


def _plan_warnings(loaded: LoadedConfig, catalog: Catalog) -> list[tuple[str, str]]:
    """What the plan says that its office probably did not mean: (key, message) pairs."""
    meeting = loaded.config.meeting
    lines = []
    for warning in plan_warnings(loaded.config, SystemClock().now()):
        params = dict(warning.params)
        if isinstance(start := params.get("start"), datetime):
            params["start"] = moment(catalog, meeting.local(start))
        lines.append((warning.key, catalog.plain(f"config_warnings.{warning.code}", **params)))
    return lines


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


Revisions = tuple[str | None, str | None]  # the schema before and after the upgrade


async def _with_services(
    loaded: LoadedConfig,
    work: Callable[[Services], Awaitable[T]],
    *,
    exclusive: str | None = None,
) -> T | int:
    """Config → engine (created or upgraded) → services, then ``work``; always disposes.
    ``exclusive``: see :func:`_with_database`, which answers with an exit code instead when
    the database cannot be used."""

    async def with_engine(engine: AsyncEngine, _: Revisions) -> T:
        services = await build_services(
            loaded.config,
            create_sessionmaker(engine),
            SystemClock(),
            files=FileStore(loaded.drafts_dir),
        )
        return await work(services)

    return await _with_database(loaded, with_engine, exclusive=exclusive)


async def _with_database(
    loaded: LoadedConfig,
    work: Callable[[AsyncEngine, Revisions], Awaitable[T]],
    *,
    exclusive: str | None = None,
) -> T | int:
    """The engine, its schema created or upgraded and writing checked, then ``work``; always
    disposes. A database that cannot be used is said in one line (exit code 4), before anything
    else runs.

    ``exclusive`` names a command that must be alone on the database (``run``: its outbox
    recovery would reset another's deliveries in flight; ``purge``): it holds the database's
    lock until it ends, and is refused while another process holds it. Any other command takes
    the lock only to change the schema, which must not change under a running bot, and
    otherwise runs beside it.
    """
    url = loaded.database_url
    engine = create_engine(url)
    lock = DatabaseLock(url, exclusive or "db upgrade")
    try:
        check_sqlite_file(url)
        if exclusive:
            await lock.acquire()
        with explained(url):
            if await current_revision(engine) != head_revision():
                await lock.acquire()  # refused while a bot runs on the older schema
            revisions = await upgrade_database(engine)
        await check_writable(engine)
        return await work(engine, revisions)
    except DatabaseUnavailable as problem:
        catalog = load_catalog(loaded.config.meeting.locale)
        _out(_database_problem(catalog, problem, exclusive or "upgrade"), sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        await lock.release()
        await engine.dispose()


def _database_problem(catalog: Catalog, problem: DatabaseUnavailable, doing: str) -> str:
    """Why the database cannot be used, and what to do, in one line; ``doing`` is what was
    refused when another process holds it (``run``, ``purge`` or ``upgrade``)."""
    if problem.reason == "in_use":
        command, _, pid = problem.holder.rpartition(" ")
        holder = (
            catalog.plain("cli.database_holder", command=command, pid=pid)
            if command and pid.isdigit()
            else catalog.plain("cli.database_holder_unknown")
        )
        return catalog.plain(f"cli.database_in_use_{doing}", database=problem.where, holder=holder)
    return catalog.plain(
        f"cli.database_{problem.reason}",
        database=problem.where,
        folder=problem.folder,
        detail=problem.detail,
    )


# --- commands ----------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and print the plan as the office wrote it."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    for line in plan_summary(config, catalog, loaded[0]):
        _out(line)
    # Valid is not the same as meant: a past date or the example's ids pass every rule.
    if warnings := _plan_warnings(loaded[0], catalog):
        _out(catalog.plain("check.valid_with_warnings", path=loaded[0].path, count=len(warnings)))
        for key, message in warnings:
            _out(catalog.plain("cli.problem_line", where=key, message=message))
    else:
        _out(catalog.plain("check.valid", path=loaded[0].path))
    return EXIT_OK


def plan_summary(config: Config, catalog: Catalog, loaded: LoadedConfig) -> list[str]:
    """A readable summary of the plan, line by line."""
    meeting = config.meeting
    starts, ends = meeting.local(meeting.starts_at), meeting.local(meeting.ends_at)
    lines = [
        catalog.plain("check.title", plan=meeting.plan_number, title=meeting.title),
        catalog.plain("check.organizer", organizer=meeting.organizer),
        catalog.plain(
            "check.when",
            start=clock(starts),
            end=clock(ends),
            date=long_date(catalog, starts),
            zone=meeting.timezone,
        ),
        catalog.plain("check.where", venue=meeting.venue.name, address=meeting.venue.address),
        catalog.plain("check.map", url=meeting.venue.map_url),
        catalog.plain("check.capacity", capacity=meeting.capacity),
        catalog.plain(
            "check.rsvp_deadline", deadline=moment(catalog, meeting.local(meeting.rsvp_deadline_at))
        ),
        "",
        catalog.plain("check.agenda", count=len(config.agenda)),
    ]
    for item in config.agenda:
        lines.append(
            catalog.plain(
                "check.agenda_item", start=clock(item.start), end=clock(item.end), title=item.title
            )
        )
    lines += ["", catalog.plain("check.themes", count=len(config.themes))]
    for theme in config.themes:
        lines.append(catalog.plain("check.theme_item", key=theme.key, title=theme.title))
        if theme.speakers:
            lines.append(catalog.plain("check.theme_speakers", codes=", ".join(theme.speakers)))
    if config.themes:
        lines.append(
            catalog.plain(
                "check.drafts",
                deadline=moment(catalog, meeting.local(meeting.resolve(config.drafts.deadline))),
                directory=loaded.drafts_dir,
            )
        )
    lines += ["", catalog.plain("check.groups", count=len(config.groups))]
    lines += [
        catalog.plain("check.group_item", order=g.order, label=g.label, key=g.key)
        for g in config.groups_in_order
    ]
    lines += ["", catalog.plain("check.tasks", count=len(config.tasks))]
    for task in config.tasks:
        due = moment(catalog, meeting.local(meeting.resolve(task.deadline)))
        lines.append(
            catalog.plain(
                "check.task_item", key=task.key, title=task.title, owner=task.owner, deadline=due
            )
        )
        if task.contacts:
            lines.append(catalog.plain("check.task_contacts", contacts=", ".join(task.contacts)))
    lines += ["", catalog.plain("check.reminders")]
    planned = planned_messages(config)
    for message in planned:
        if message.kind in (MessageKind.TASK_REMINDER, MessageKind.TASK_OVERDUE):
            continue  # summarised below: one line per task would drown the plan
        when = moment(catalog, meeting.local(message.due_at))
        what = catalog.plain(f"kind.{message.kind.value}", id="")
        lines.append(catalog.plain("check.reminder_item", what=what, when=when))
    lines.append(
        catalog.plain(
            "check.task_reminders",
            reminders=sum(p.kind is MessageKind.TASK_REMINDER for p in planned),
            mornings=sum(p.kind is MessageKind.TASK_OVERDUE for p in planned),
        )
    )
    office = config.office
    lines += [
        "",
        catalog.plain("check.office", name=office.name, admins=len(office.admin_ids)),
        catalog.plain(
            "check.office_chat",
            chat=office.chat_id if office.chat_id is not None else catalog.plain("check.none"),
        ),
        catalog.plain("check.database", url=_safe_url(loaded.database_url)),
        catalog.plain(_token_state(), env=TOKEN_ENV),
        "",
    ]
    return lines


def _token_state() -> str:
    """The ``check`` line for the bot token: set, missing or malformed (never the token)."""
    token = _bot_token()
    if not token:
        return "check.token_missing"
    return "check.token_set" if BOT_TOKEN.fullmatch(token) else "check.token_malformed"


def _bot_token() -> str:
    """The bot token from the environment, without the spaces a paste may bring."""
    return os.environ.get(TOKEN_ENV, "").strip()


def _token_problem(token: str, catalog: Catalog) -> str | None:
    """Why ``token`` cannot be a bot token (missing, or not the shape @BotFather issues)."""
    if not token:
        return catalog.plain("cli.token_missing", env=TOKEN_ENV)
    if not BOT_TOKEN.fullmatch(token):
        return catalog.plain("cli.token_malformed", env=TOKEN_ENV)
    return None


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Create the database or bring it to the newest schema."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded

    catalog = loaded[1]

    async def report(_: AsyncEngine, revisions: Revisions) -> int:
        before, after = revisions
        key = "cli.db_current" if before == after else "cli.db_upgraded"
        url = _safe_url(loaded[0].database_url)
        _out(catalog.plain(key, url=url, before=before or "—", after=after or "—"))
        return EXIT_OK

    return asyncio.run(_with_database(loaded[0], report))


def cmd_db_backup(args: argparse.Namespace) -> int:
    """Copy the SQLite database to a new file, consistently, even while the bot runs."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    url = make_url(loaded[0].database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        _out(catalog.plain("backup.not_sqlite"), sys.stderr)
        return EXIT_USAGE
    try:
        size = backup_sqlite(Path(url.database), args.file)
    except BackupError as exc:
        message = catalog.plain(
            f"backup.{exc.code}", path=args.file, source=url.database, folder=args.file.parent
        )
        _out(message, sys.stderr)
        return EXIT_USAGE
    _out(catalog.plain("backup.done", path=args.file, size=file_size(catalog, size)))
    _out(catalog.plain("backup.restore", path=args.file, source=url.database))
    return EXIT_OK


def cmd_purge(args: argparse.Namespace) -> int:
    """Remove personal data after the meeting, keeping the list and the counts: first say what
    goes, then remove it only once the office says yes (at the prompt, or with ``--yes``)."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]

    async def preview(services: Services) -> PurgeSummary:
        return await services.privacy.preview(drafts=args.drafts, force=args.force)

    async def purge(services: Services) -> PurgeSummary:
        return await services.privacy.purge(drafts=args.drafts, force=args.force)

    planned = asyncio.run(_with_services(loaded[0], preview))
    if isinstance(planned, int):  # the database cannot be used: said already
        return planned
    if planned.step is PurgeStep.NOT_OVER:
        _out(catalog.plain("purge.not_over"), sys.stderr)
        return EXIT_USAGE
    for line in _purge_preview(catalog, planned, drafts=args.drafts):
        _out(line)
    if args.dry_run:
        _out(catalog.plain("purge.dry_run"))
        return EXIT_OK
    if not args.yes:
        # Nobody to ask (a script, a cron job): nothing is removed without an explicit --yes.
        if not sys.stdin.isatty():
            _out(catalog.plain("purge.needs_yes"), sys.stderr)
            return EXIT_USAGE
        # Asked outside the event loop: Ctrl-C at the prompt leaves no thread waiting on stdin.
        if not _confirmed(catalog.plain("purge.confirm")):
            _out(catalog.plain("purge.cancelled"))
            return EXIT_FAILED
    # A running bot would record accounts and addresses again right after: it stops first.
    summary = asyncio.run(_with_services(loaded[0], purge, exclusive="purge"))
    if isinstance(summary, int):
        return summary
    _out(
        catalog.plain(
            "purge.done",
            phones=summary.phones,
            accounts=summary.accounts,
            deliveries=summary.deliveries,
            audit=summary.audit_entries,
            drafts=summary.drafts,
            comments=summary.comments,
        )
    )
    return EXIT_OK


def _purge_preview(catalog: Catalog, planned: PurgeSummary, *, drafts: bool) -> list[str]:
    """What a purge removes, kind by kind, and what it keeps."""
    lines = [
        catalog.plain("purge.preview"),
        catalog.plain("purge.preview_phones", count=planned.phones),
        catalog.plain("purge.preview_accounts", count=planned.accounts),
        catalog.plain("purge.preview_deliveries", count=planned.deliveries),
        catalog.plain("purge.preview_links", count=planned.links),
        catalog.plain("purge.preview_link_failures", count=planned.link_failures),
        catalog.plain("purge.preview_audit", count=planned.audit_entries),
    ]
    if drafts:
        lines.append(catalog.plain("purge.preview_drafts", count=planned.drafts))
        lines.append(catalog.plain("purge.preview_comments", count=planned.comments))
    else:
        lines.append(catalog.plain("purge.preview_drafts_kept"))
    lines.append(catalog.plain("purge.preview_kept"))
    return lines


# What counts as yes at a prompt: the English letter the prompt shows, and the Vietnamese word.
YES_ANSWERS = ("y", "yes", "c", "có")


def _confirmed(prompt: str) -> bool:
    """Whether the person at the terminal answers yes; anything else, or end of input, is no."""
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().casefold() in YES_ANSWERS


def cmd_delegates_import(args: argparse.Namespace) -> int:
    """Import or update delegates by code; a file with any problem imports nothing."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    groups = [FileGroup(g.key, g.label) for g in config.groups]
    parsed = parse_delegate_file(args.file, groups, sheet=args.sheet)
    if parsed.ignored_columns:
        _out(catalog.plain("import.ignored_columns", columns=", ".join(parsed.ignored_columns)))
    if parsed.warnings:
        _out(catalog.plain("import.warnings", path=args.file))
        for warning in parsed.warnings:
            _out(_problem_line(catalog, "import.warning", warning))
    if parsed.problems:
        _out(
            catalog.plain("import.rejected", path=args.file, count=len(parsed.problems)), sys.stderr
        )
        for problem in parsed.problems:
            _out(_problem_line(catalog, "import.problem", problem), sys.stderr)
        return EXIT_INVALID

    async def work(services: Services) -> int:
        summary = await services.delegates.import_rows(parsed.rows, actor="cli:import")
        _out(
            catalog.plain(
                "import.done",
                path=args.file,
                rows=len(parsed.rows),
                created=summary.created,
                updated=summary.updated,
                unchanged=summary.unchanged,
            )
        )
        if summary.absent:
            _out(
                catalog.plain(
                    "import.absent", count=len(summary.absent), codes=", ".join(summary.absent)
                )
            )
        if summary.role_kept:
            codes = ", ".join(summary.role_kept)
            _out(catalog.plain("import.role_kept", count=len(summary.role_kept), codes=codes))
        # Tasks name people by code: who answers for what may have changed with this list.
        synced = await services.tasks.sync()
        if synced.unknown_contacts:
            codes = ", ".join(synced.unknown_contacts)
            _out(catalog.plain("import.unknown_contacts", codes=codes))
        speakers = await services.drafts.sync()  # and so do the themes' speakers
        if speakers.unknown_speakers:
            codes = ", ".join(speakers.unknown_speakers)
            _out(catalog.plain("import.unknown_speakers", codes=codes))
        return EXIT_OK

    return asyncio.run(_with_services(loaded[0], work))


def _problem_line(catalog: Catalog, section: str, problem: RowProblem) -> str:
    """One problem or warning of a delegate file: where it is, then what it is."""
    return catalog.plain(
        "cli.problem_line",
        where=_where(catalog, problem.row, problem.column),
        message=catalog.plain(
            f"{section}.{problem.code}", value=problem.value or "", detail=problem.detail or ""
        ),
    )


def _print_problems(catalog: Catalog, problems: Sequence[RowProblem]) -> None:
    """One line per problem of a list, to stderr, as ``delegates import`` says them."""
    for problem in problems:
        _out(_problem_line(catalog, "import.problem", problem), sys.stderr)


def _where(catalog: Catalog, row: int | None, column: str | None) -> str:
    if row is not None and column:
        return catalog.plain("import.where_row_column", row=row, column=column)
    if row is not None:
        return catalog.plain("import.where_row", row=row)
    if column:
        return catalog.plain("import.where_column", column=column)
    return catalog.plain("import.where_file")


def cmd_invites_export(args: argparse.Namespace) -> int:
    """Write each delegate's personal link to a CSV or XLSX file."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() not in (".csv", ".xlsx"):
        _out(catalog.plain("export.bad_format", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := _target_problem(path, args.force, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE
    token = _bot_token()
    if (problem := _bot_username_problem(args.bot_username, token, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        username = await _bot_username(args.bot_username, token, services)
        labels = {g.key: g.label for g in config.groups}
        names = ("code", "name", "position", "organization", "group", "phone", "link")
        headings = [catalog.plain(f"export.heading.{name}") for name in names]
        rows: list[list[Cell]] = [
            [
                link.code,
                link.full_name,
                link.position,
                link.organization,
                labels.get(link.group_key)
                or (catalog.plain("export.contact") if link.role == "contact" else link.group_key),
                display_phone(link.phone) if link.phone else None,
                Link(telegram_link(username, link.token)),
            ]
            for link in await services.invitations.links()
        ]
        content = table_bytes(path, headings, rows)
        if (problem := _write_file(path, content, force=args.force, catalog=catalog)) is not None:
            _out(problem, sys.stderr)
            return EXIT_USAGE
        _out(catalog.plain("export.done", path=path, count=len(rows), username=username))
        return EXIT_OK

    return _run_channel(catalog, loaded[0], work)


def cmd_rehearse(args: argparse.Namespace) -> int:
    """Run the whole plan against the simulated Bot API and say whether every step happened."""
    if not args.config and not os.environ.get(CONFIG_ENV) and not DEFAULT_CONFIG.exists():
        args.config = str(EXAMPLE_CONFIG)  # a newcomer's first command needs no file of their own
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    if (problem := _target_problem(args.report, args.force, catalog)) is not None:
        _out(problem, sys.stderr)  # said now, not after the whole rehearsal
        return EXIT_USAGE
    # The example contacts are a default that may be missing (an installed copy has no
    # examples/); a contacts file the office names must exist.
    default_contacts = args.contacts == EXAMPLES / "contacts.csv"
    contacts: Path | None = args.contacts if args.contacts.exists() else None
    for path in (args.delegates, *(() if default_contacts else (args.contacts,))):
        if not path.exists():
            _out(catalog.plain("rehearsal.no_file", path=path), sys.stderr)
            return EXIT_USAGE
    groups = [FileGroup(g.key, g.label) for g in loaded[0].config.groups]
    for path in (args.delegates, contacts):
        # A list the import would refuse is refused here too, with the same reasons: played
        # with its bad rows dropped, it would look fine to an office that then cannot import it.
        problems = parse_delegate_file(path, groups).problems if path is not None else []
        if problems:
            _out(
                catalog.plain("rehearsal.list_rejected", path=path, count=len(problems)),
                sys.stderr,
            )
            _print_problems(catalog, problems)
            return EXIT_INVALID
    from rehearsal import Faults, rehearse

    _out(catalog.plain("rehearsal.title", path=loaded[0].path, delegates=args.delegates))
    with tempfile.TemporaryDirectory(prefix="hoinghi-dien-tap-") as workdir:
        result = asyncio.run(
            rehearse(
                loaded[0],
                catalog,
                delegates=args.delegates,
                contacts=contacts,
                report=args.report,
                workdir=Path(workdir),
                seed=args.seed,
                faults=Faults() if args.faults else None,
            )
        )
    for line in result.transcript:
        _out(line)
    _out("")
    _out(catalog.plain("rehearsal.summary_title"))
    _out(result.summary)
    _out("")
    for label, ok in result.checks:
        _out({True: "✓ ", False: "✗ ", None: "– "}[ok] + label)
    verdict = "passed" if result.complete else "passed_partly" if result.passed else "failed"
    _out(catalog.plain(f"rehearsal.{verdict}"))
    return EXIT_OK if result.passed else EXIT_FAILED


def cmd_invites_print(args: argparse.Namespace) -> int:
    """Write one printable slip per delegate, with a QR code of their personal link."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() != ".docx":
        _out(catalog.plain("slips.bad_format", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := _target_problem(path, args.force, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE
    token = _bot_token()
    if (problem := _bot_username_problem(args.bot_username, token, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE
    meeting = config.meeting

    async def work(services: Services) -> int:
        username = await _bot_username(args.bot_username, token, services)
        slips = [
            Slip(
                code=link.code,
                full_name=link.full_name,
                position=link.position,
                organization=link.organization,
                link=telegram_link(username, link.token),
            )
            for link in await services.invitations.links()
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
        )
        content = build_slips(slips, texts)
        if (problem := _write_file(path, content, force=args.force, catalog=catalog)) is not None:
            _out(problem, sys.stderr)
            return EXIT_USAGE
        _out(catalog.plain("slips.done", count=len(slips), path=path, username=username))
        return EXIT_OK

    return _run_channel(catalog, loaded[0], work)


def _bot_username_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bot-username",
        help="tên bot (không có @); mặc định hỏi Telegram bằng TELEGRAM_BOT_TOKEN",
    )


def _bot_username_problem(given: str | None, token: str, catalog: Catalog) -> str | None:
    """Why personal links cannot be made: no name and no usable token, or not a bot username."""
    if not given and not token:
        return catalog.plain("export.need_username", env=TOKEN_ENV)
    if not given:
        return _token_problem(token, catalog)
    if not BOT_USERNAME.fullmatch(given.lstrip("@")):
        return catalog.plain("export.bad_username", name=given)
    return None


async def _bot_username(given: str | None, token: str, services: Services) -> str:
    """``--bot-username`` without its @, else the bot's own name from Telegram's getMe."""
    if given:
        return given.lstrip("@")
    from handlers.telegram.app import fetch_bot_username

    return (await fetch_bot_username(token, services)).lstrip("@")


def cmd_report(args: argparse.Namespace) -> int:
    """Write the office's report workbook."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() != ".xlsx":
        _out(catalog.plain("report_file.bad_format", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := _target_problem(path, args.force, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        report = await services.office_report.collect()
        content = office_report_workbook(catalog, config, report)
        if (problem := _write_file(path, content, force=args.force, catalog=catalog)) is not None:
            _out(problem, sys.stderr)
            return EXIT_USAGE
        _out(
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

    return asyncio.run(_with_services(loaded[0], work))


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write every audited change (who, when, what, from, to) to CSV or XLSX."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    path: Path = args.file
    if path.suffix.lower() not in (".csv", ".xlsx"):
        _out(catalog.plain("export.bad_format", path=path), sys.stderr)
        return EXIT_USAGE
    if (problem := _target_problem(path, args.force, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        headings, rows = audit_table(catalog, config, await services.office_report.audit())
        content = table_bytes(path, headings, rows)
        if (problem := _write_file(path, content, force=args.force, catalog=catalog)) is not None:
            _out(problem, sys.stderr)
            return EXIT_USAGE
        _out(catalog.plain("audit_export.done", count=len(rows), path=path))
        return EXIT_OK

    return asyncio.run(_with_services(loaded[0], work))


DRAFTS_INDEX = "danh-muc-tham-luan.xlsx"


def cmd_drafts_export(args: argparse.Namespace) -> int:
    """Copy the latest version of every speech draft, named by unit and theme, and write an
    index spreadsheet next to them."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    directory: Path = args.directory
    if not directory.parent.is_dir():
        _out(catalog.plain("output.no_folder", folder=directory.parent, path=directory), sys.stderr)
        return EXIT_USAGE
    if directory.exists() and not directory.is_dir():
        _out(catalog.plain("drafts_export.not_a_directory", path=directory), sys.stderr)
        return EXIT_USAGE
    if directory.is_dir() and any(directory.iterdir()):
        _out(catalog.plain("drafts_export.not_empty", path=directory), sys.stderr)
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
        _out(
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
    return asyncio.run(_with_services(loaded[0], work))


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot until interrupted."""
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    log.info("plan: %s", loaded[0].path)
    for key, message in _plan_warnings(loaded[0], catalog):
        log.warning("%s: %s", key, message)
    token = _bot_token()
    if (problem := _token_problem(token, catalog)) is not None:
        _out(problem, sys.stderr)
        return EXIT_USAGE
    webhook = _webhook_settings(args, catalog) if args.webhook else None
    if isinstance(webhook, int):
        return webhook

    async def work(services: Services) -> int:
        from bot.chat import Inbox
        from handlers.telegram.app import build_application, serve, telegram_link_maker
        from handlers.telegram.channel import TelegramSender

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
                loop.add_signal_handler(signum, stop.set)
        sender = TelegramSender.build(token, services.config.telegram, catalog)
        outbox = build_outbox(services, catalog, {sender.channel: sender})
        inbox = Inbox(services, catalog)
        application = build_application(inbox, services, catalog, token)
        await serve(
            application,
            stop,
            sender=sender,
            scheduler=build_scheduler(services, outbox),
            webhook=webhook,
            on_ready=lambda username: inbox.links.append(telegram_link_maker(username)),
        )
        return EXIT_OK

    log.info("database: %s", _safe_url(loaded[0].database_url))
    return _run_channel(catalog, loaded[0], work, exclusive="run")


def _webhook_settings(args: argparse.Namespace, catalog: Catalog) -> Any:
    """The webhook from ``--listen``, ``--url`` and the secret in the environment, or an exit
    code after saying every problem."""
    from handlers.telegram.app import Webhook

    problems = []
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if not WEBHOOK_SECRET.fullmatch(secret):
        problems.append(catalog.plain("cli.webhook_secret", env=WEBHOOK_SECRET_ENV))
    host, _, port = str(args.listen).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(catalog.plain("cli.webhook_listen", value=args.listen))
    if not args.url or not str(args.url).startswith("https://"):
        problems.append(catalog.plain("cli.webhook_url", value=args.url or ""))
    if problems:
        for problem in problems:
            _out(problem, sys.stderr)
        return EXIT_USAGE
    return Webhook(listen=host, port=int(port), url=str(args.url), secret=secret)


def _run_channel(
    catalog: Catalog,
    loaded: LoadedConfig,
    work: Callable[[Services], Awaitable[int]],
    *,
    exclusive: str | None = None,
) -> int:
    """Run work that talks to the messaging platform; a refusal is an answer, not a traceback."""
    try:
        return asyncio.run(_with_services(loaded, work, exclusive=exclusive))
    except ChannelUnavailable as exc:
        _out(
            catalog.plain(f"cli.channel_{exc.reason}", env=TOKEN_ENV, detail=exc.detail), sys.stderr
        )
        return EXIT_UNAVAILABLE


def telegram_link(username: str, token: str) -> str:
    """A person's Telegram link (the adapter builds it; imported only when links are made)."""
    from handlers.telegram.app import deep_link

    return deep_link(username, token)
