"""``hoinghi delegates import`` and ``people import``: who is on the list."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    load,
    out,
    problem_line,
    with_services,
)
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.services import Services


def cmd_delegates_import(args: argparse.Namespace) -> int:
    """Import or update delegates by code; a file with any problem imports nothing."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    groups = [FileGroup(g.key, g.label) for g in config.groups]
    parsed = parse_delegate_file(args.file, groups, sheet=args.sheet)
    if parsed.ignored_columns:
        out(catalog.plain("import.ignored_columns", columns=", ".join(parsed.ignored_columns)))
    if parsed.warnings:
        out(catalog.plain("import.warnings", path=args.file))
        for warning in parsed.warnings:
            out(problem_line(catalog, "import.warning", warning))
    if parsed.problems:
        out(
            catalog.plain("import.rejected", path=args.file, count=len(parsed.problems)), sys.stderr
        )
        for problem in parsed.problems:
            out(problem_line(catalog, "import.problem", problem), sys.stderr)
        return EXIT_INVALID

    async def work(services: Services) -> int:
        summary = await services.delegates.import_rows(parsed.rows, actor="cli:import")
        out(
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
            out(
                catalog.plain(
                    "import.absent", count=len(summary.absent), codes=", ".join(summary.absent)
                )
            )
        if summary.role_kept:
            codes = ", ".join(summary.role_kept)
            out(catalog.plain("import.role_kept", count=len(summary.role_kept), codes=codes))
        # Tasks name people by code: who answers for what may have changed with this list.
        synced = await services.tasks.sync()
        if synced.unknown_contacts:
            codes = ", ".join(synced.unknown_contacts)
            out(catalog.plain("import.unknown_contacts", codes=codes))
        speakers = await services.drafts.sync()  # and so do the themes' speakers
        if speakers.unknown_speakers:
            codes = ", ".join(speakers.unknown_speakers)
            out(catalog.plain("import.unknown_speakers", codes=codes))
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work))
