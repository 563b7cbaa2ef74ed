"""``hoinghi rehearse``: the whole plan played on one machine, against a simulated Telegram."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bot.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    load,
    out,
    print_problems,
    target_problem,
)
from bot.config import CONFIG_ENV, DEFAULT_CONFIG
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file

# The example plan and lists beside the package (a checkout or an editable install).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = PROJECT_ROOT / "config.example.toml"
EXAMPLES = PROJECT_ROOT / "examples"


def cmd_rehearse(args: argparse.Namespace) -> int:
    """Run the whole plan against the simulated Bot API and say whether every step happened."""
    if not args.config and not os.environ.get(CONFIG_ENV) and not DEFAULT_CONFIG.exists():
        args.config = str(EXAMPLE_CONFIG)  # a newcomer's first command needs no file of their own
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    if (problem := target_problem(args.report, args.force, catalog)) is not None:
        out(problem, sys.stderr)  # said now, not after the whole rehearsal
        return EXIT_USAGE
    # The example contacts are a default that may be missing (an installed copy has no
    # examples/); a contacts file the office names must exist.
    default_contacts = args.contacts == EXAMPLES / "contacts.csv"
    contacts: Path | None = args.contacts if args.contacts.exists() else None
    for path in (args.delegates, *(() if default_contacts else (args.contacts,))):
        if not path.exists():
            out(catalog.plain("rehearsal.no_file", path=path), sys.stderr)
            return EXIT_USAGE
    groups = [FileGroup(g.key, g.label) for g in loaded[0].config.groups]
    max_rows = loaded[0].config.imports.max_rows
    for path in (args.delegates, contacts):
        # A list the import would refuse is refused here too, with the same reasons: played
        # with its bad rows dropped, it would look fine to an office that then cannot import it.
        problems = (
            parse_delegate_file(path, groups, max_rows=max_rows).problems
            if path is not None
            else []
        )
        if problems:
            out(
                catalog.plain("rehearsal.list_rejected", path=path, count=len(problems)),
                sys.stderr,
            )
            print_problems(catalog, problems)
            return EXIT_INVALID
    from rehearsal import Faults, rehearse
    from rehearsal.web import Watch

    async def wait() -> None:  # Enter goes on; without a terminal (EOF) at once
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    watch = Watch(args.port, out, wait) if args.web else None

    out(catalog.plain("rehearsal.title", path=loaded[0].path, delegates=args.delegates))
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
                watch=watch,
            )
        )
    for line in result.transcript:
        out(line)
    out("")
    out(catalog.plain("rehearsal.summary_title"))
    out(result.summary)
    out("")
    for label, ok in result.checks:
        out({True: "✓ ", False: "✗ ", None: "– "}[ok] + label)
    verdict = "passed" if result.complete else "passed_partly" if result.passed else "failed"
    out(catalog.plain(f"rehearsal.{verdict}"))
    return EXIT_OK if result.passed else EXIT_FAILED
