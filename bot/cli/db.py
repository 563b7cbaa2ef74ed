"""``hoinghi db upgrade``, ``db backup`` and ``purge``: the database itself."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.app import Storage
from bot.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    command_prefix,
    database_problem,
    load,
    meeting_line,
    out,
    safe_url,
    with_services,
    with_storage,
)
from bot.services import Services
from bot.services.privacy import PurgeStep, PurgeSummary
from bot.texts import Catalog
from bot.texts.formatting import file_size
from storage.backup import BackupError, backup_files, backup_sqlite, files_backup_path
from storage.copy import Copied, CopyRefused, copy_database
from storage.engine import create_engine
from storage.guard import DatabaseLock, DatabaseUnavailable, check_sqlite_file, explained
from storage.migrate import upgrade_database


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Create the database or bring it to the newest schema."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded

    catalog = loaded[1]

    async def report(storage: Storage) -> int:
        before, after = storage.revisions
        key = "cli.db_current" if before == after else "cli.db_upgraded"
        url = safe_url(loaded[0].database_url)
        out(catalog.plain(key, url=url, before=before or "—", after=after or "—"))
        return EXIT_OK

    return asyncio.run(with_storage(loaded[0], catalog, report))


def cmd_db_backup(args: argparse.Namespace) -> int:
    """Copy the SQLite database to a new file, consistently, even while the bot runs."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    url = make_url(loaded[0].database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        out(catalog.plain("backup.not_sqlite"), sys.stderr)
        return EXIT_USAGE
    # The database names the uploaded drafts and deliverables; the files themselves live in
    # the file store's folder, so a backup without them restores into a 404 for every one.
    files, files_target = loaded[0].drafts_dir, files_backup_path(args.file)
    try:
        size = backup_sqlite(Path(url.database), args.file, files_target=files_target)
        count, files_size = backup_files(files, files_target)
    except BackupError as exc:
        message = catalog.plain(
            f"backup.{exc.code}", path=args.file, source=url.database, folder=args.file.parent,
            copy=files_target,
        )  # fmt: skip
        out(message, sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a full disk, a permission: neither half is kept as a backup
        args.file.unlink(missing_ok=True)
        if files_target.is_dir():
            shutil.rmtree(files_target, ignore_errors=True)
        reason = exc.strerror or type(exc).__name__
        out(catalog.plain("backup.failed", path=args.file, copy=files_target, reason=reason),
            sys.stderr)  # fmt: skip
        return EXIT_USAGE
    out(catalog.plain("backup.done", path=args.file, size=file_size(catalog, size)))
    out(catalog.plain("backup.files_done", count=count, size=file_size(catalog, files_size),
                      files=files, copy=files_target))  # fmt: skip
    out(catalog.plain("backup.restore", path=args.file, source=url.database,
                      copy=files_target, files=files))  # fmt: skip
    return EXIT_OK


def cmd_db_copy(args: argparse.Namespace) -> int:
    """Copy every row of the plan's database into another, empty one (``--to URL``): how an
    installation moves from SQLite to PostgreSQL. The bot must be stopped meanwhile."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    source_url, target_url = loaded[0].database_url, str(args.to)
    try:
        target_is = make_url(target_url)
    except ArgumentError:
        out(catalog.plain("dbcopy.bad_url"), sys.stderr)
        return EXIT_USAGE
    if target_is == make_url(source_url):
        out(catalog.plain("dbcopy.same_database", url=safe_url(source_url)), sys.stderr)
        return EXIT_USAGE
    shown = safe_url(target_url)

    def said(copied: Copied) -> None:
        out(catalog.plain("dbcopy.table", table=copied.table, rows=copied.target_rows))

    async def work(storage: Storage) -> int:
        target = create_engine(target_url)
        lock = DatabaseLock(target_url, "copy")
        try:
            check_sqlite_file(target_url)
            with explained(target_url):
                await lock.acquire()
                await upgrade_database(target)
                copied = await copy_database(storage.engine, target, said)
        except DatabaseUnavailable as problem:
            out(database_problem(catalog, problem, "copy"), sys.stderr)
            return EXIT_UNAVAILABLE
        except CopyRefused as refused:
            out(catalog.plain(f"dbcopy.{refused.reason}", url=shown, table=refused.table),
                sys.stderr)  # fmt: skip
            return EXIT_USAGE
        except (OSError, DBAPIError) as error:
            # Which kind of failure only: the driver's message may hold the URL's password.
            out(catalog.plain("dbcopy.unreachable", url=shown, detail=type(error).__name__),
                sys.stderr)  # fmt: skip
            return EXIT_UNAVAILABLE
        finally:
            await lock.release()
            await target.dispose()
        differing = [c.table for c in copied if c.source_rows != c.target_rows]
        if differing:
            out(catalog.plain("dbcopy.differs", tables=", ".join(differing)), sys.stderr)
            return EXIT_FAILED
        rows = sum(c.target_rows for c in copied)
        out(catalog.plain("dbcopy.done", url=shown, tables=len(copied), rows=rows))
        out(catalog.plain("dbcopy.next", url=shown, files=loaded[0].drafts_dir))
        return EXIT_OK

    return asyncio.run(with_storage(loaded[0], catalog, work, exclusive="copy"))


def cmd_purge(args: argparse.Namespace) -> int:
    """Remove personal data after the meeting, keeping the list and the counts: first say what
    goes, then remove it only once the office says yes (at the prompt, or with ``--yes``)."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]

    async def preview(services: Services) -> PurgeSummary:
        return await services.privacy.preview(drafts=args.drafts, force=args.force)

    async def purge(services: Services) -> PurgeSummary:
        return await services.privacy.purge(drafts=args.drafts, force=args.force)

    planned = asyncio.run(
        with_services(loaded[0], catalog, preview, same_meeting=args.same_meeting)
    )
    if isinstance(planned, int):  # the database cannot be used: said already
        return planned
    if planned.step is PurgeStep.NOT_OVER:
        out(catalog.plain("purge.not_over"), sys.stderr)
        return EXIT_USAGE
    out(meeting_line(catalog, loaded[0].config))  # several meetings may share the database
    for line in _purge_preview(catalog, planned, drafts=args.drafts):
        out(line)
    if args.dry_run:
        out(catalog.plain("purge.dry_run"))
        return EXIT_OK
    if not args.yes:
        # Nobody to ask (a script, a cron job): nothing is removed without an explicit --yes.
        if not sys.stdin.isatty():
            out(catalog.plain("purge.needs_yes"), sys.stderr)
            return EXIT_USAGE
        # Asked outside the event loop: Ctrl-C at the prompt leaves no thread waiting on stdin.
        if not _confirmed(catalog.plain("purge.confirm", hoinghi=command_prefix(args))):
            out(catalog.plain("purge.cancelled"))
            return EXIT_FAILED
    # A running bot would record accounts and addresses again right after: it stops first.
    summary = asyncio.run(
        with_services(loaded[0], catalog, purge, exclusive="purge", same_meeting=args.same_meeting)
    )
    if isinstance(summary, int):
        return summary
    out(
        catalog.plain(
            "purge.done",
            phones=summary.phones,
            accounts=summary.accounts,
            pages=summary.pages,
            deliveries=summary.deliveries,
            audit=summary.audit_entries,
            drafts=summary.drafts,
            comments=summary.comments,
        )
    )
    for line in _checkins_kept(catalog, summary):
        out(line)
    return EXIT_OK


def _purge_preview(catalog: Catalog, planned: PurgeSummary, *, drafts: bool) -> list[str]:
    """What a purge removes, kind by kind, and what it keeps."""
    lines = [
        catalog.plain("purge.preview"),
        catalog.plain("purge.preview_phones", count=planned.phones),
        catalog.plain("purge.preview_accounts", count=planned.accounts),
        catalog.plain("purge.preview_pages", count=planned.pages),
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
    lines += _checkins_kept(catalog, planned)
    return lines


def _checkins_kept(catalog: Catalog, summary: PurgeSummary) -> list[str]:
    """The names the reception desk wrote for guests and substitutes, kept: said apart."""
    if not summary.guests and not summary.substitutes:
        return []
    return [
        catalog.plain("purge.checkins_kept", guests=summary.guests, substitutes=summary.substitutes)
    ]


# What counts as yes at a prompt: the English letter the prompt shows, and the Vietnamese word.
YES_ANSWERS = ("y", "yes", "c", "có")


def _confirmed(prompt: str) -> bool:
    """Whether the person at the terminal answers yes; anything else, or end of input, is no."""
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().casefold() in YES_ANSWERS
