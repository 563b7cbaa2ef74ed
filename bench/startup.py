"""What a ``hoinghi`` command costs before it works: each command as a fresh process, this tree
against another (``--baseline TREE``, e.g. ``git archive fd8ece4 | tar -x -C /tmp/base``), the
two in turns (A B A B …), CPU time of the process (start-up included, as the office pays it).

The commands run on a plan and its database prepared by ``bench/scale.py --work FOLDER`` (its
``before-80`` or ``this-80`` folder: ``config.toml`` and the SQLite file it names), copied first
so the runs change nothing there. Always exits 0: a measurement, not a test.

Usage (from the repository root)::

    .venv/bin/python bench/startup.py --plan /tmp/scale/this-80 --baseline /tmp/base --runs 3
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(HERE))
from bench.common import machine  # noqa: E402

BOT = "hoinghi_bot"
COMMANDS: dict[str, list[str]] = {
    "import bot.cli": [],
    "--help": ["--help"],
    "check": ["check"],
    "invites export .xlsx": ["invites", "export", "l.xlsx", "--bot-username", BOT, "--force"],
    "report": ["report", "r.xlsx", "--force"],
    "invites print": ["invites", "print", "s.docx", "--bot-username", BOT, "--force"],
}


def cpu_of(tree: Path, args: list[str], folder: Path) -> float:
    """The CPU time (user + system) of one fresh process running ``hoinghi args`` from
    ``tree`` in ``folder``."""
    run = "" if not args else "from bot.cli import main; sys.exit(main(sys.argv[1:]))"
    code = f"import sys; sys.path.insert(0, {str(tree)!r}); import bot.cli; {run}"
    config = [] if args in ([], ["--help"]) else ["--config", "config.toml"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", code, *config, *args],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def prepared(plan: Path, folder: Path) -> None:
    """A copy of ``plan``'s config and database in ``folder``, the config pointing at the copy."""
    config = (plan / "config.toml").read_text(encoding="utf-8")
    [database] = re.findall(r'url = "sqlite\+aiosqlite:///(.+?)"', config)
    shutil.copy(database, folder / Path(database).name)
    copy = config.replace(database, str(folder / Path(database).name))
    (folder / "config.toml").write_text(copy, encoding="utf-8")


def main() -> None:
    """Print the median CPU time of each command on each side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, required=True, help="a bench/scale.py work folder")
    parser.add_argument("--baseline", type=Path, help="another copy of the code (A B A B)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sides = {"this": HERE, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    times: dict[tuple[str, str], list[float]] = {(c, s): [] for c in COMMANDS for s in sides}
    with tempfile.TemporaryDirectory(prefix="hoinghi-startup-") as temp:
        prepared(args.plan, Path(temp))
        for _ in range(args.runs):
            for command, command_args in COMMANDS.items():
                for side, tree in sides.items():
                    times[command, side].append(cpu_of(tree, command_args, Path(temp)))
    print(machine())
    print(f"CPU (s), medians of {args.runs}: " + " / ".join(sides))
    for command in COMMANDS:
        figures = " / ".join(f"{statistics.median(times[command, s]):.2f}" for s in sides)
        print(f"  {command:24} {figures}")


if __name__ == "__main__":
    main()
